//! A [`Kms`] that speaks the AWS KMS JSON 1.1 protocol over HTTP(S) with SigV4: real AWS KMS, `moto` in
//! server mode, or `s3crypt kms serve`.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::Kms;
use super::api::*;
use super::error::{KmsError, KmsErrorKind};
use crate::aws::clock::{Clock, SystemClock};
use crate::aws::sigv4::{self, Credentials, SignableRequest};

/// A remote KMS endpoint.
pub struct RemoteKms {
    url: String,
    host: String,
    region: String,
    credentials: Credentials,
    agent: ureq::Agent,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RemoteKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKms")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl RemoteKms {
    /// A client for `endpoint` (`http://127.0.0.1:4566`, `https://kms.us-east-1.amazonaws.com`, …) signing
    /// for `region` with `credentials`.
    ///
    /// # Errors
    /// `ValidationException` if the endpoint is not an `http://` or `https://` URL with a host.
    pub fn new(endpoint: &str, region: &str, credentials: Credentials) -> Result<Self, KmsError> {
        let (scheme, rest) = endpoint
            .split_once("://")
            .ok_or_else(|| KmsError::validation(format!("endpoint {endpoint:?} is not a URL")))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || !(scheme == "http" || scheme == "https") {
            return Err(KmsError::validation(format!(
                "endpoint {endpoint:?} must be http:// or https:// with a host"
            )));
        }
        // The Host header omits the scheme's default port, as HTTP clients send it.
        let host = match (scheme, authority.rsplit_once(':')) {
            ("http", Some((h, "80"))) | ("https", Some((h, "443"))) => h.to_owned(),
            _ => authority.to_owned(),
        };
        Ok(Self {
            url: format!("{scheme}://{authority}/"),
            host,
            region: region.to_owned(),
            credentials,
            agent: agent(ureq::tls::RootCerts::WebPki),
            clock: Arc::new(SystemClock),
        })
    }

    /// Trusts exactly the CA certificates of the PEM `bundle` for an `https://` endpoint, instead of
    /// the built-in Mozilla roots (as aws-cli's `--ca-bundle` / `AWS_CA_BUNDLE` replace its bundle).
    ///
    /// # Errors
    /// `ValidationException` if the bundle is not PEM or holds no certificate.
    pub fn with_ca_bundle(mut self, bundle: &[u8]) -> Result<Self, KmsError> {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(bundle) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c.to_owned()),
                Ok(_) => {}
                Err(e) => {
                    return Err(KmsError::validation(format!(
                        "the CA bundle is not valid PEM: {e}"
                    )));
                }
            }
        }
        if certs.is_empty() {
            return Err(KmsError::validation(
                "the CA bundle holds no certificate".to_owned(),
            ));
        }
        self.agent = agent(ureq::tls::RootCerts::new_with_certs(&certs));
        Ok(self)
    }

    /// As [`RemoteKms::with_ca_bundle`], reading the bundle from `path`.
    ///
    /// # Errors
    /// `ValidationException` if the file cannot be read, is not PEM or holds no certificate.
    pub fn with_ca_bundle_file(self, path: &std::path::Path) -> Result<Self, KmsError> {
        let pem = std::fs::read(path).map_err(|e| {
            KmsError::validation(format!("cannot read the CA bundle {}: {e}", path.display()))
        })?;
        self.with_ca_bundle(&pem)
    }

    /// The regional AWS KMS endpoint.
    ///
    /// # Errors
    /// As [`RemoteKms::new`].
    pub fn aws(region: &str, credentials: Credentials) -> Result<Self, KmsError> {
        Self::new(
            &format!("https://kms.{region}.amazonaws.com"),
            region,
            credentials,
        )
    }

    fn call<Q: Serialize, R: DeserializeOwned>(&self, op: &str, req: &Q) -> Result<R, KmsError> {
        let body = Zeroizing::new(
            serde_json::to_vec(req).map_err(|e| KmsError::validation(e.to_string()))?,
        );
        let target = format!("TrentService.{op}");
        let mut headers = vec![
            ("host".to_owned(), self.host.clone()),
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            ("x-amz-target".to_owned(), target),
        ];
        let signable = SignableRequest {
            method: "POST",
            uri: "/",
            headers: &headers,
            body: &body,
        };
        let signed = sigv4::sign(
            &signable,
            &self.credentials,
            &self.region,
            "kms",
            UNIX_EPOCH + self.clock.now(),
        )
        .map_err(|e| KmsError::validation(e.kms().message))?;
        headers.extend(signed);
        let mut request = self.agent.post(&self.url);
        for (n, v) in headers.iter().filter(|(n, _)| n != "host") {
            request = request.header(n.as_str(), v.as_str());
        }
        let transport = |e: ureq::Error| {
            KmsError::new(
                KmsErrorKind::Transport,
                format!("KMS request to {} failed: {e}", self.url),
            )
        };
        let mut resp = request.send(body.as_slice()).map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = Zeroizing::new(resp.body_mut().read_to_vec().map_err(transport)?);
        if status == 200 {
            // Operations without output answer `{}` (AWS), an empty body or `null` (moto).
            let trimmed = bytes.trim_ascii();
            let json = if trimmed.is_empty() || trimmed == b"null" {
                b"{}".as_slice()
            } else {
                trimmed
            };
            return serde_json::from_slice(json).map_err(|e| {
                KmsError::new(
                    KmsErrorKind::Transport,
                    format!("unreadable {op} response: {e}"),
                )
            });
        }
        let err: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let code = err.get("__type").and_then(|v| v.as_str()).unwrap_or("");
        let message = ["message", "Message"]
            .iter()
            .find_map(|k| err.get(*k).and_then(|v| v.as_str()))
            .unwrap_or("");
        let kind = if code.is_empty() {
            KmsErrorKind::Other(format!("HTTP{status}"))
        } else {
            KmsErrorKind::from_code(code)
        };
        Err(KmsError::new(kind, message))
    }
}

impl Kms for RemoteKms {
    fn generate_data_key(
        &self,
        req: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        self.call("GenerateDataKey", req)
    }
    fn generate_data_key_without_plaintext(
        &self,
        req: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
        self.call("GenerateDataKeyWithoutPlaintext", req)
    }
    fn encrypt(&self, req: &EncryptRequest) -> Result<EncryptResponse, KmsError> {
        self.call("Encrypt", req)
    }
    fn decrypt(&self, req: &DecryptRequest) -> Result<DecryptResponse, KmsError> {
        self.call("Decrypt", req)
    }
    fn re_encrypt(&self, req: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        self.call("ReEncrypt", req)
    }
    fn create_key(&self, req: &CreateKeyRequest) -> Result<CreateKeyResponse, KmsError> {
        self.call("CreateKey", req)
    }
    fn describe_key(&self, req: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError> {
        self.call("DescribeKey", req)
    }
    fn list_keys(&self, req: &ListKeysRequest) -> Result<ListKeysResponse, KmsError> {
        self.call("ListKeys", req)
    }
    fn create_alias(&self, req: &CreateAliasRequest) -> Result<Empty, KmsError> {
        self.call("CreateAlias", req)
    }
    fn list_aliases(&self, req: &ListAliasesRequest) -> Result<ListAliasesResponse, KmsError> {
        self.call("ListAliases", req)
    }
    fn enable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError> {
        self.call("EnableKey", req)
    }
    fn disable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError> {
        self.call("DisableKey", req)
    }
    fn schedule_key_deletion(
        &self,
        req: &ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        self.call("ScheduleKeyDeletion", req)
    }
    fn cancel_key_deletion(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
        self.call("CancelKeyDeletion", req)
    }
    fn enable_key_rotation(&self, req: &EnableKeyRotationRequest) -> Result<Empty, KmsError> {
        self.call("EnableKeyRotation", req)
    }
    fn rotate_key_on_demand(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
        self.call("RotateKeyOnDemand", req)
    }
}

/// The HTTP agent: statuses are answers (the KMS's JSON errors), 30 s per request, `roots` for TLS.
fn agent(roots: ureq::tls::RootCerts) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .build()
        .into()
}
