//! Clients of the AWS SDK for Rust (`aws-sdk-s3`), configured the way aws-cli is: an endpoint
//! (`--endpoint-url` or `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`), a region (`AWS_REGION`, the
//! profile), credentials from the AWS default chain (environment, shared config and credentials files,
//! profiles, session tokens, SSO, web identity, ECS and IMDS) unless given explicitly, and a CA bundle
//! (`--ca-bundle` or `AWS_CA_BUNDLE`) added to the system's roots. TLS is rustls on ring.
//!
//! One function builds every S3 client in the crate: the gateway's upstream store
//! ([`crate::store::upstream`]) and the client-side encryption of `s3://` objects use it.

use std::path::PathBuf;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials as SdkCredentials, Region};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use crate::aws::sigv4::Credentials;

/// How to reach an S3 endpoint.
#[derive(Clone, Debug, Default)]
pub struct S3ClientConfig {
    /// The endpoint URL (`http://127.0.0.1:9000`, `https://s3.eu-west-1.amazonaws.com`); `None`: the
    /// SDK's (environment, profile, or AWS's regional endpoint).
    pub endpoint: Option<String>,
    /// The region requests are signed for; `None`: the chain's (`AWS_REGION`, the profile), else
    /// `us-east-1`.
    pub region: Option<String>,
    /// Explicit credentials (tests, `--upstream-access-key`); `None`: the AWS default credential chain.
    pub credentials: Option<Credentials>,
    /// A PEM bundle of extra trusted CA certificates; `None`: `AWS_CA_BUNDLE` if set.
    pub ca_bundle: Option<PathBuf>,
    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`), which S3-compatible servers on one host need.
    /// Defaults to on whenever an endpoint is given.
    pub virtual_hosted: bool,
    /// The AWS profile to read (`AWS_PROFILE` otherwise).
    pub profile: Option<String>,
}

/// Why a client could not be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SdkConfigError {
    /// The CA bundle could not be read.
    #[error("cannot read the CA bundle {path}: {source}")]
    CaBundle {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The endpoint is not an http(s) URL.
    #[error("the endpoint {0:?} must be an http:// or https:// URL")]
    Endpoint(String),
    /// The AWS default credential chain found no credentials (or a provider in it failed).
    #[error("no AWS credentials: {0}")]
    NoCredentials(String),
}

/// What the AWS default chain resolves for a client that signs its own requests (the KMS client).
#[derive(Debug)]
pub struct ChainIdentity {
    /// The credentials (an access key, its secret, and a session token for temporary credentials).
    pub credentials: Credentials,
    /// The region of the environment or profile, if one is set.
    pub region: Option<String>,
}

/// Resolves credentials and region the way aws-cli does: the environment, the shared config and
/// credentials files (`profile`, else `AWS_PROFILE`, else `default`), SSO, web identity, ECS and IMDS.
/// Temporary credentials are resolved once; the caller uses them for one command's requests.
///
/// # Errors
/// [`SdkConfigError::NoCredentials`] when no provider in the chain has credentials (the message is the
/// chain's, which never contains a secret).
pub async fn chain_identity(profile: Option<&str>) -> Result<ChainIdentity, SdkConfigError> {
    use aws_sdk_s3::config::ProvideCredentials as _;
    // The chain's own requests (IMDS, SSO, STS) go through the same rustls client as S3's.
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(https_client(None)?);
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    let shared = loader.load().await;
    let provider = shared
        .credentials_provider()
        .ok_or_else(|| SdkConfigError::NoCredentials("no credential provider".to_owned()))?;
    let c = provider
        .provide_credentials()
        .await
        .map_err(|e| SdkConfigError::NoCredentials(error_text(&e)))?;
    let secret = zeroize::Zeroizing::new(c.secret_access_key().to_owned());
    Ok(ChainIdentity {
        credentials: Credentials::new(
            c.access_key_id(),
            &secret,
            c.session_token().map(str::to_owned),
        ),
        region: shared.region().map(ToString::to_string),
    })
}

/// An error and its sources on one line.
fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        cur = s.source();
    }
    text
}

/// An S3 client for `cfg`. Must be called inside a tokio runtime (the credential chain may read
/// files and call local endpoints).
///
/// # Errors
/// [`SdkConfigError`] for an unreadable CA bundle or a malformed endpoint.
pub async fn s3_client(cfg: &S3ClientConfig) -> Result<aws_sdk_s3::Client, SdkConfigError> {
    if let Some(e) = &cfg.endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        return Err(SdkConfigError::Endpoint(e.clone()));
    }
    let http = https_client(cfg.ca_bundle.as_ref())?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(p) = &cfg.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &cfg.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &cfg.endpoint {
        loader = loader.endpoint_url(e.trim_end_matches('/'));
    }
    if let Some(c) = &cfg.credentials {
        loader = loader.credentials_provider(sdk_credentials(c));
    }
    let shared = loader.load().await;
    let mut b = aws_sdk_s3::config::Builder::from(&shared);
    if shared.region().is_none() {
        b = b.region(Region::new("us-east-1"));
    }
    let has_endpoint = cfg.endpoint.is_some() || shared.endpoint_url().is_some();
    b = b.force_path_style(has_endpoint && !cfg.virtual_hosted);
    Ok(aws_sdk_s3::Client::from_conf(b.build()))
}

/// The SDK's HTTPS client: rustls on ring, the system's roots plus `ca_bundle` (or `AWS_CA_BUNDLE`).
fn https_client(
    ca_bundle: Option<&PathBuf>,
) -> Result<aws_sdk_s3::config::SharedHttpClient, SdkConfigError> {
    let mut trust = TrustStore::default();
    let bundle = ca_bundle
        .cloned()
        .or_else(|| std::env::var_os("AWS_CA_BUNDLE").map(PathBuf::from));
    if let Some(path) = bundle {
        let pem = std::fs::read(&path).map_err(|source| SdkConfigError::CaBundle {
            path: path.clone(),
            source,
        })?;
        trust = trust.with_pem_certificate(pem);
    }
    let tls_context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| SdkConfigError::CaBundle {
            path: PathBuf::from("AWS_CA_BUNDLE"),
            source: std::io::Error::other(e.to_string()),
        })?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context)
        .build_https();
    Ok(http)
}

/// The SDK's form of `c` (the secret is copied into the SDK's own zeroizing type).
#[must_use]
pub fn sdk_credentials(c: &Credentials) -> SdkCredentials {
    let secret = String::from_utf8_lossy(c.secret_access_key().expose_secret()).into_owned();
    SdkCredentials::new(
        c.access_key_id.clone(),
        secret,
        c.session_token.clone(),
        None,
        "s3crypt",
    )
}
