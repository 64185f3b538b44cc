//! The AWS KMS JSON 1.1 wire protocol in front of a [`MockKms`], so unmodified AWS clients (boto3, the AWS
//! SDKs, the AWS CLI with `--endpoint-url`) can use it.
//!
//! - `POST /` with `Content-Type: application/x-amz-json-1.1` and `X-Amz-Target: TrentService.<Op>`.
//! - Every request must carry a valid SigV4 signature (service `kms`, the server's region) by one of the
//!   configured access keys, with `x-amz-target` among the signed headers; unsigned or wrongly signed
//!   requests are refused with AWS's codes (`MissingAuthenticationTokenException`,
//!   `InvalidSignatureException`, `UnrecognizedClientException`, `IncompleteSignatureException`).
//! - Each access key maps to a principal ARN, which key policies see as the caller.
//! - Errors are `{"__type": "<Code>", "message": "<text>"}` with AWS's HTTP status (400 for client errors,
//!   throttling included).
//!
//! [`KmsServer::handle`] is the whole protocol as a pure function of the request bytes (sans-I/O), which
//! is what the tests drive; [`serve`] puts it on a TCP listener with hyper/axum.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::clock::{Clock, SystemClock};
use super::error::{KmsError, KmsErrorKind};
use super::sigv4::{self, Credentials, SignableRequest, VerifyPolicy};
use super::{Kms, MockKms};
use crate::primitives::random_array;

/// An access key the server accepts, and the principal it authenticates as.
#[derive(Clone, Debug)]
pub struct AccessKey {
    /// The id and secret.
    pub credentials: Credentials,
    /// The principal ARN (default `arn:aws:iam::ACCOUNT:user/<access key id>`).
    pub principal: String,
}

impl AccessKey {
    /// Parses `ID:SECRET` or `ID:SECRET:PRINCIPAL_ARN` (the CLI's `--access-key`); `account_id` fills in the
    /// default principal.
    ///
    /// # Errors
    /// A message if the id or secret is missing.
    pub fn parse(spec: &str, account_id: &str) -> Result<Self, String> {
        let mut parts = spec.splitn(3, ':');
        let id = parts.next().unwrap_or_default();
        let secret = parts.next().unwrap_or_default();
        if id.is_empty() || secret.is_empty() {
            return Err(
                "an access key must be given as ID:SECRET or ID:SECRET:PRINCIPAL_ARN".into(),
            );
        }
        let principal = parts.next().map_or_else(
            || format!("arn:aws:iam::{account_id}:user/{id}"),
            str::to_owned,
        );
        Ok(Self {
            credentials: Credentials::new(id, secret, None),
            principal,
        })
    }
}

/// An HTTP response, transport-independent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body (JSON).
    pub body: Vec<u8>,
}

/// The KMS endpoint: authentication, dispatch and error mapping.
#[derive(Debug)]
pub struct KmsServer {
    kms: MockKms,
    keys: HashMap<String, AccessKey>,
    policy: VerifyPolicy,
    clock: Arc<dyn Clock>,
}

impl KmsServer {
    /// A server for `kms` accepting `keys`, verifying signatures for `kms`'s region and the system clock.
    #[must_use]
    pub fn new(kms: MockKms, keys: Vec<AccessKey>) -> Self {
        Self::with_clock(kms, keys, Arc::new(SystemClock))
    }

    /// As [`KmsServer::new`] with an injected clock for the signature-age check.
    #[must_use]
    pub fn with_clock(kms: MockKms, keys: Vec<AccessKey>, clock: Arc<dyn Clock>) -> Self {
        let mut policy = VerifyPolicy::new(kms.region(), "kms");
        policy.required_signed_headers = vec!["x-amz-target".into(), "content-type".into()];
        let keys = keys
            .into_iter()
            .map(|k| (k.credentials.access_key_id.clone(), k))
            .collect();
        Self {
            kms,
            keys,
            policy,
            clock,
        }
    }

    /// The KMS behind the endpoint.
    #[must_use]
    pub fn kms(&self) -> &MockKms {
        &self.kms
    }

    /// Handles one request.
    #[must_use]
    pub fn handle(
        &self,
        method: &str,
        uri: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> HttpResponse {
        let request_id = random_array::<16>()
            .map(|b| uuid::Builder::from_random_bytes(b).into_uuid().to_string())
            .unwrap_or_default();
        let result = self.dispatch(method, uri, headers, body);
        let (status, body) = match result {
            Ok(body) => (200, body),
            Err(e) => {
                let body = serde_json::json!({"__type": e.code(), "message": e.message()})
                    .to_string()
                    .into_bytes();
                (e.http_status(), body)
            }
        };
        HttpResponse {
            status,
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ("x-amzn-RequestId".into(), request_id),
            ],
            body,
        }
    }

    fn dispatch(
        &self,
        method: &str,
        uri: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let req = SignableRequest {
            method,
            uri,
            headers,
            body,
        };
        let now = UNIX_EPOCH + self.clock.now();
        let verified = sigv4::verify_with(
            &req,
            |id| self.keys.get(id).map(|k| k.credentials.clone()),
            &self.policy,
            now,
        )
        .map_err(|e| KmsError::new(KmsErrorKind::Authentication(e.code()), e.message()))?;
        let principal = self
            .keys
            .get(&verified.access_key_id)
            .map(|k| k.principal.clone())
            .unwrap_or_default();
        if method != "POST" || !(uri == "/" || uri.starts_with("/?")) {
            return Err(KmsError::new(
                KmsErrorKind::UnknownOperation,
                "KMS accepts POST / only.",
            ));
        }
        let target = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-target"))
            .map(|(_, v)| v.trim())
            .ok_or_else(|| {
                KmsError::new(KmsErrorKind::UnknownOperation, "Missing X-Amz-Target.")
            })?;
        let op = target.strip_prefix("TrentService.").ok_or_else(|| {
            KmsError::new(
                KmsErrorKind::UnknownOperation,
                format!("Unknown target {target}."),
            )
        })?;
        let kms = self.kms.with_caller(&principal);
        match op {
            "GenerateDataKey" => call(body, |r| kms.generate_data_key(r)),
            "GenerateDataKeyWithoutPlaintext" => {
                call(body, |r| kms.generate_data_key_without_plaintext(r))
            }
            "Encrypt" => call(body, |r| kms.encrypt(r)),
            "Decrypt" => call(body, |r| kms.decrypt(r)),
            "ReEncrypt" => call(body, |r| kms.re_encrypt(r)),
            "CreateKey" => call(body, |r| kms.create_key(r)),
            "DescribeKey" => call(body, |r| kms.describe_key(r)),
            "ListKeys" => call(body, |r| kms.list_keys(r)),
            "CreateAlias" => call(body, |r| kms.create_alias(r)),
            "ListAliases" => call(body, |r| kms.list_aliases(r)),
            "EnableKey" => call(body, |r| kms.enable_key(r)),
            "DisableKey" => call(body, |r| kms.disable_key(r)),
            "ScheduleKeyDeletion" => call(body, |r| kms.schedule_key_deletion(r)),
            "CancelKeyDeletion" => call(body, |r| kms.cancel_key_deletion(r)),
            "EnableKeyRotation" => call(body, |r| kms.enable_key_rotation(r)),
            "RotateKeyOnDemand" => call(body, |r| kms.rotate_key_on_demand(r)),
            other => Err(KmsError::new(
                KmsErrorKind::UnknownOperation,
                format!("Operation {other} is not supported."),
            )),
        }
    }
}

fn call<Q: DeserializeOwned, R: Serialize>(
    body: &[u8],
    f: impl FnOnce(&Q) -> Result<R, KmsError>,
) -> Result<Vec<u8>, KmsError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    let req: Q = serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field and type, never a value.
        KmsError::new(
            KmsErrorKind::Serialization,
            format!("Could not parse the request body: {e}"),
        )
    })?;
    let resp = f(&req)?;
    let out = zeroize::Zeroizing::new(
        serde_json::to_vec(&resp)
            .map_err(|_| KmsError::new(KmsErrorKind::KmsInternal, "response encoding failed"))?,
    );
    Ok(out.to_vec())
}

/// Serves `server` on `listener` until the process ends (or the future is dropped).
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<KmsServer>,
) -> std::io::Result<()> {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::IntoResponse;

    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let server = Arc::clone(&server);
            async move {
                let hs: Vec<(String, String)> = headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
                let resp = tokio::task::block_in_place(|| {
                    server.handle(method.as_str(), &target, &hs, &body)
                });
                let mut out = axum::response::Response::builder().status(
                    StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                );
                for (n, v) in &resp.headers {
                    out = out.header(n.as_str(), v.as_str());
                }
                out.body(axum::body::Body::from(resp.body))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
        },
    );
    axum::serve(listener, app).await
}

/// Binds `addr`, calls `ready` with the bound address, and serves until the process is interrupted
/// (Ctrl-C / SIGTERM-free shutdown via Ctrl-C).
///
/// # Errors
/// Binding or I/O errors.
pub fn run(
    addr: SocketAddr,
    server: KmsServer,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        let server = Arc::new(server);
        tokio::select! {
            r = serve(listener, server) => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

/// Signature age limit (AWS: 15 minutes), re-exported for documentation.
pub const MAX_SKEW: Duration = sigv4::AWS_MAX_SKEW;
