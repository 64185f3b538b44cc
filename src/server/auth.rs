//! Who is calling: SigV4 (header or presigned URL) by an access key the server knows, or nobody.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::aws::presign::{self, Payload, S3Policy};
use crate::aws::sigv4::{self, Credentials, SignableRequest};
use crate::iam::context::{AuthType, Caller, Principal, RequestContext};
use crate::iam::policy::Policy;
use crate::s3::S3Error;

/// An authenticated identity: the principal an access key stands for, its secret and its identity
/// policies.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The principal (account root or IAM user).
    pub principal: Principal,
    /// The access key's credentials (`Debug` redacts the secret).
    pub credentials: Credentials,
    /// The identity's policies (none for an account root).
    pub policies: Vec<Policy>,
}

/// Where the server looks up access keys. Implementations must be cheap to call once per request
/// and see keys created by other processes on the same home.
pub trait IdentitySource: Send + Sync + std::fmt::Debug {
    /// The identity of `access_key_id`, if it is known and active.
    fn identity(&self, access_key_id: &str) -> Option<Identity>;
}

/// The temporary credentials this process issued ([`crate::iam::sessions`]), then `inner`.
#[derive(Debug)]
pub(crate) struct SessionKeys {
    pub(crate) sessions: Arc<crate::iam::sessions::Sessions>,
    pub(crate) inner: Arc<dyn IdentitySource>,
}

impl IdentitySource for SessionKeys {
    fn identity(&self, access_key_id: &str) -> Option<Identity> {
        if let Some(s) = self.sessions.get(access_key_id) {
            return Some(Identity {
                credentials: s.credentials.credentials(),
                principal: s.principal,
                policies: s.policies,
            });
        }
        self.inner.identity(access_key_id)
    }
}

/// Fixed access keys (the `--access-key` flags), tried before `fallback`.
#[derive(Debug)]
pub struct StaticKeys {
    keys: Vec<Identity>,
    fallback: Option<Arc<dyn IdentitySource>>,
}

impl StaticKeys {
    /// The keys `keys`, then `fallback` for ids not among them.
    #[must_use]
    pub fn new(keys: Vec<Identity>, fallback: Option<Arc<dyn IdentitySource>>) -> Self {
        Self { keys, fallback }
    }
}

impl IdentitySource for StaticKeys {
    fn identity(&self, access_key_id: &str) -> Option<Identity> {
        self.keys
            .iter()
            .find(|k| k.credentials.access_key_id == access_key_id)
            .cloned()
            .or_else(|| self.fallback.as_ref()?.identity(access_key_id))
    }
}

impl IdentitySource for crate::iam::users::AccountStore {
    fn identity(&self, access_key_id: &str) -> Option<Identity> {
        match self.authenticate(access_key_id) {
            Ok(found) => found.map(|i| Identity {
                credentials: i.credentials(),
                principal: i.principal,
                policies: i.policies,
            }),
            Err(e) => {
                // An unreadable account file refuses every key it holds (InvalidAccessKeyId), and
                // says why in the server log.
                tracing::warn!(target: "s3crypt::server", error = %e, "the account store cannot be read");
                None
            }
        }
    }
}

/// Facts about the connection a request came on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Connection {
    /// Whether it is TLS.
    pub(crate) tls: bool,
    /// The client's address.
    pub(crate) peer: SocketAddr,
    /// The TLS version (`TLSv1.3`), for TLS connections.
    pub(crate) tls_version: Option<&'static str>,
    /// The cipher suite's OpenSSL name, for TLS connections.
    pub(crate) cipher_suite: Option<&'static str>,
    /// The VPC endpoint listener it arrived on: an index into [`super::ServerOptions::vpc_endpoints`].
    pub(crate) vpce: Option<usize>,
}

/// The outcome of authentication: the context the policies see and how the body is protected.
pub(crate) struct Authenticated {
    pub(crate) context: RequestContext,
    /// `None` for anonymous requests (the body is not authenticated).
    pub(crate) payload: Option<Payload>,
}

/// Whether the request carries any SigV4 material (header or query).
pub(crate) fn is_signed(headers: &[(String, String)], query: &[(String, String)]) -> bool {
    !sigv4::header_values(headers, "authorization").is_empty()
        || query.iter().any(|(k, _)| {
            matches!(
                k.as_str(),
                "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature"
            )
        })
}

/// The signing name of S3 Object Lambda.
pub(crate) const OBJECT_LAMBDA_SERVICE: &str = "s3-object-lambda";

/// The service named in a request's credential scope (`Credential=ID/DATE/REGION/SERVICE/aws4_request`
/// in the `Authorization` header, or `X-Amz-Credential`), if it has one.
pub(crate) fn signing_service<'a>(
    headers: &'a [(String, String)],
    query: &'a [(String, String)],
) -> Option<&'a str> {
    let scope = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or_default())
        .or_else(|| {
            query
                .iter()
                .find(|(k, _)| k == "X-Amz-Credential")
                .map(|(_, v)| v.as_str())
        })?;
    scope.split('/').nth(3)
}

/// Authenticates a request: anonymous when it carries no SigV4 material, otherwise the signature
/// must verify ([`presign::verify_s3`]). `body` is the whole body when it was read before
/// authentication; for streamed bodies pass `None` and check [`Payload::Sha256`] while streaming.
/// `object_lambda`: an S3 Object Lambda request, which may be signed for `s3-object-lambda`.
///
/// # Errors
/// S3's authentication errors (`SignatureDoesNotMatch`, `InvalidAccessKeyId`, `AccessDenied`
/// "Request has expired", `RequestTimeTooSkewed`, `AuthorizationQueryParametersError`, …).
#[allow(clippy::too_many_arguments)]
pub(crate) fn authenticate(
    req: &SignableRequest<'_>,
    query: &[(String, String)],
    body_read: bool,
    identities: &dyn IdentitySource,
    region: &str,
    conn: Connection,
    now: SystemTime,
    object_lambda: bool,
) -> Result<Authenticated, S3Error> {
    let base = |caller, auth| {
        RequestContext::new(caller, auth, now)
            .with_tls(conn.tls)
            .with_source_ip(conn.peer.ip())
    };
    let sigv2_header = sigv4::header_values(req.headers, "authorization")
        .iter()
        .any(|v| v.trim_start().starts_with("AWS "));
    let sigv2_query = query
        .iter()
        .any(|(k, _)| k == "AWSAccessKeyId" || k == "Signature");
    if sigv2_header || (sigv2_query && !is_signed(req.headers, query)) {
        // Signature Version 2: S3 refuses it for buckets created since June 2020 and in every
        // region opened since 2014.
        return Err(S3Error::invalid_request(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    if !is_signed(req.headers, query) {
        return Ok(Authenticated {
            context: base(Caller::Anonymous, AuthType::None),
            payload: None,
        });
    }
    let mut policy = S3Policy::new(region);
    // S3 Object Lambda's requests are signed for `s3-object-lambda` (an alias of an Object Lambda
    // access point is also accepted signed for `s3`, as clients that take it for a bucket sign);
    // other requests signed so fail the scope check.
    if object_lambda && signing_service(req.headers, query) == Some(OBJECT_LAMBDA_SERVICE) {
        policy.service = OBJECT_LAMBDA_SERVICE.to_owned();
    }
    policy.defer_body_hash = !body_read;
    let mut found: Option<Identity> = None;
    let lookup = |id: &str| {
        let identity = identities.identity(id)?;
        let creds = identity.credentials.clone();
        Some(creds)
    };
    let auth = presign::verify_s3(req, lookup, &policy, now).map_err(|e| S3Error::from(e.s3()))?;
    if let Some(identity) = identities.identity(&auth.access_key_id) {
        found = Some(identity);
    }
    let Some(identity) = found else {
        // Deleted between the two lookups.
        return Err(S3Error::from(
            sigv4::SigV4Error::UnrecognizedClient {
                access_key_id: auth.access_key_id.clone(),
            }
            .s3(),
        ));
    };
    let kind = match auth.auth_type {
        sigv4::AuthType::Presigned => AuthType::Presigned,
        _ => AuthType::Header,
    };
    let mut context = base(Caller::Principal(identity.principal), kind);
    context.signature_age = Some(auth.signature_age);
    context.identity_policies = Arc::from(identity.policies);
    Ok(Authenticated {
        context,
        payload: Some(auth.payload),
    })
}
