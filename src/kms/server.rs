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
//! is what the tests drive; [`serve`] and [`serve_with`] put it on a TCP listener with hyper.
//!
//! # Hostile clients
//!
//! The listener bounds what a client can hold ([`ServeConfig`] has the numbers and defaults):
//!
//! - headers must arrive within a timeout, which also closes idle keep-alive connections;
//! - a body must arrive within a timeout (else 408 `RequestTimeoutException`);
//! - a response write that stalls (a client not reading) past a timeout drops the connection;
//! - connections over the cap are answered 503 `ServiceUnavailableException` (with `Retry-After`) and
//!   closed, never left hanging;
//! - before any body is read, the request must pass [`KmsServer::check_before_body`] (an
//!   `Authorization` header that parses, a current `X-Amz-Date`, the right scope, a known access key) and
//!   declare a `Content-Length` within the limit; only the signature, which covers the body, waits for
//!   the body. So unauthenticated clients never get a body buffered.
//! - An over-size body is answered HTTP 413 with `{"__type": "RequestEntityTooLargeException",
//!   "message": …}`. AWS documents no request size limit or error code for KMS's JSON API (its limits are
//!   per field, and a field over its limit is a 400 `ValidationException`); 413 with the
//!   `RequestEntityTooLargeException` type that other AWS JSON services (Lambda, API Gateway) use for
//!   the same condition is our choice, so SDKs surface a typed, non-retried error.
//!
//! Every error body is AWS JSON (`{"__type", "message"}`); none holds a secret.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{KmsError, KmsErrorKind};
use super::{Kms, MockKms};
use crate::aws::clock::{Clock, SystemClock};
use crate::aws::sigv4::{self, Credentials, SignableRequest, VerifyPolicy};
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
        match self.dispatch(method, uri, headers, body) {
            Ok(body) => json_response(200, body),
            Err(e) => error_response(e.http_status(), e.code(), e.message()),
        }
    }

    /// The checks that need no body, for a transport to run before reading one: an `Authorization`
    /// header is present and well-formed, `X-Amz-Date` is current, the required headers are signed, the
    /// credential scope names this server's region and `kms`, and the access key (and session token) is
    /// known. Only the signature itself, which covers the body, is left to [`KmsServer::handle`].
    ///
    /// Returns the error response [`KmsServer::handle`] would give (`MissingAuthenticationTokenException`,
    /// `IncompleteSignatureException`, `UnrecognizedClientException`, `InvalidSignatureException` for
    /// scope or clock), or `None` if the request may go on.
    #[must_use]
    pub fn check_before_body(
        &self,
        method: &str,
        uri: &str,
        headers: &[(String, String)],
    ) -> Option<HttpResponse> {
        let req = SignableRequest {
            method,
            uri,
            headers,
            body: &[],
        };
        let now = UNIX_EPOCH + self.clock.now();
        let lookup = |id: &str| self.keys.get(id).map(|k| k.credentials.clone());
        match sigv4::verify_with(&req, lookup, &self.policy, now) {
            // With the empty body in place of the real one, a mismatch is expected and says nothing.
            Ok(_) | Err(sigv4::SigV4Error::SignatureMismatch { .. }) => None,
            Err(e) => {
                let w = e.kms();
                Some(error_response(w.status, w.code, &w.message))
            }
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
        .map_err(|e| {
            let w = e.kms();
            KmsError::new(KmsErrorKind::Authentication(w.code), w.message)
        })?;
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

/// `{"__type": code, "message": message}`.
fn error_body(code: &str, message: &str) -> Vec<u8> {
    serde_json::json!({"__type": code, "message": message})
        .to_string()
        .into_bytes()
}

fn error_response(status: u16, code: &str, message: &str) -> HttpResponse {
    json_response(status, error_body(code, message))
}

fn json_response(status: u16, body: Vec<u8>) -> HttpResponse {
    let request_id = random_array::<16>()
        .map(|b| uuid::Builder::from_random_bytes(b).into_uuid().to_string())
        .unwrap_or_default();
    HttpResponse {
        status,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ("x-amzn-RequestId".into(), request_id),
        ],
        body,
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

/// Limits [`serve_with`] puts on every client, so idle, slow or oversized clients cannot pin the server's
/// memory or its connection slots.
///
/// The defaults suit a KMS endpoint: every valid KMS request is a few KiB (the largest are key policies,
/// at most 32 KiB, and `ReEncrypt` blobs), and AWS SDKs send a whole request at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeConfig {
    /// Time for a request's headers to arrive, counted from the connection's start or from the end of
    /// the previous response. It also bounds how long an idle keep-alive connection stays open; on
    /// expiry the connection is closed. Default 10 s.
    pub header_read_timeout: Duration,
    /// Time for a request's whole body to arrive once its headers are in; on expiry the server answers
    /// 408 `RequestTimeoutException` and closes the connection. Default 30 s.
    pub body_read_timeout: Duration,
    /// Connections served at once. Further ones are answered 503 `ServiceUnavailableException` and
    /// closed (SDKs retry a 503). Default 256.
    pub max_connections: usize,
    /// Largest request body in bytes; a larger `Content-Length` is answered 413
    /// `RequestEntityTooLargeException` before any of the body is read, and a body (chunked, say) that
    /// grows past it is cut off with the same answer. Default 256 KiB.
    pub max_body_bytes: usize,
    /// Time a response write may stall (the client not reading what it asked for, say while it
    /// pipelines more requests) before the connection is dropped. Default 30 s.
    pub write_timeout: Duration,
    /// On shutdown, time in-flight requests get to finish before their connections are dropped.
    /// Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 256,
            max_body_bytes: 256 * 1024,
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl ServeConfig {
    /// Checks that every limit is usable: timeouts (except the shutdown grace) non-zero, at least one connection and at most
    /// [`MAX_CONNECTIONS_LIMIT`], a body limit of at least 1 byte.
    ///
    /// # Errors
    /// An [`std::io::ErrorKind::InvalidInput`] error naming the first bad field.
    pub fn validate(&self) -> std::io::Result<()> {
        let bad = |m: &str| Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, m));
        if self.header_read_timeout.is_zero()
            || self.body_read_timeout.is_zero()
            || self.write_timeout.is_zero()
        {
            return bad("the read and write timeouts must be non-zero");
        }
        if self.max_connections == 0 || self.max_connections > MAX_CONNECTIONS_LIMIT {
            return bad("max_connections must be between 1 and 1048576");
        }
        if self.max_body_bytes == 0 {
            return bad("max_body_bytes must be at least 1");
        }
        Ok(())
    }
}

/// The largest [`ServeConfig::max_connections`] accepted.
pub const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;

/// Read buffer of a connection (headers must fit; hyper's default would be about 400 KiB). SigV4 requests
/// carry well under 8 KiB of headers.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// Refusals (over the connection cap) being written at once; beyond this, extra connections are closed
/// without an answer.
const MAX_PENDING_REFUSALS: usize = 64;

/// How long a refused connection is kept open for the client to read the 503.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Serves `server` on `listener` with the default [`ServeConfig`] until the future is dropped.
///
/// # Errors
/// None in practice: accept errors (for example running out of file descriptors) are waited out, not
/// returned. The `Result` is kept for callers of earlier versions.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<KmsServer>,
) -> std::io::Result<()> {
    serve_with(
        listener,
        server,
        ServeConfig::default(),
        std::future::pending(),
    )
    .await
}

/// Serves `server` on `listener` under `config`'s limits until `shutdown` completes; then stops
/// accepting, lets in-flight requests finish for up to [`ServeConfig::shutdown_grace`], and returns.
///
/// Before a body is read, a request must carry a well-formed, current `Authorization` header by a known
/// access key (the checks of [`KmsServer::check_before_body`]) and a `Content-Length` within
/// [`ServeConfig::max_body_bytes`]; the signature itself covers the body, so it is checked once the
/// body is in.
///
/// # Errors
/// [`std::io::ErrorKind::InvalidInput`] if `config` is invalid ([`ServeConfig::validate`]). Accept
/// errors are waited out, not returned.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    server: Arc<KmsServer>,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};

    config.validate()?;
    let config = Arc::new(config);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let refusals = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_REFUSALS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(MAX_READ_BUFFER);
    let linger = REFUSAL_LINGER.min(config.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if crate::server::conn::is_per_connection_error(&e) => continue,
            Err(_) => {
                // Out of file descriptors or memory: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                tokio::spawn(async move {
                    let _permit = permit;
                    let _ = tokio::time::timeout(linger, refuse(stream)).await;
                });
            }
            continue;
        };
        let io = TokioIo::new(crate::server::conn::WriteDeadline::new(
            stream,
            config.write_timeout,
        ));
        let (server, config) = (Arc::clone(&server), Arc::clone(&config));
        let service = hyper::service::service_fn(move |req| {
            answer(Arc::clone(&server), Arc::clone(&config), req)
        });
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _slot = slot;
            // Errors here are the client's (timeouts, resets, malformed HTTP): the connection just ends.
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(config.shutdown_grace, graceful.shutdown()).await;
    Ok(())
}

/// Answers a connection over the cap with 503 `ServiceUnavailableException`, then reads (and drops)
/// what the client sends until it closes, so the answer is not lost to a TCP reset. The caller bounds
/// the time.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let body = error_body(
        "ServiceUnavailableException",
        "The server is at its connection limit; retry later.",
    );
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\n\
         Content-Length: {}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    if stream.write_all(&out).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

type ResponseBody = http_body_util::Full<hyper::body::Bytes>;

/// One request: the pre-body checks, the body under its size and time limits, then
/// [`KmsServer::handle`].
async fn answer(
    server: Arc<KmsServer>,
    config: Arc<ServeConfig>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<ResponseBody>, std::convert::Infallible> {
    use http_body_util::BodyExt as _;
    use hyper::body::Body as _;

    let (parts, body) = req.into_parts();
    let method = parts.method.as_str();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if let Some(refused) = server.check_before_body(method, target, &headers) {
        return Ok(to_hyper(refused, true));
    }
    let limit = config.max_body_bytes;
    // The lower bound is the Content-Length when there is one (hyper has already refused a malformed
    // or conflicting one), so an over-size declaration is refused before a byte of the body is read.
    if body.size_hint().lower() > limit as u64 {
        return Ok(to_hyper(too_large(limit), true));
    }
    let collected = tokio::time::timeout(
        config.body_read_timeout,
        http_body_util::Limited::new(body, limit).collect(),
    )
    .await;
    let body = match collected {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Ok(to_hyper(too_large(limit), true));
        }
        Ok(Err(_)) => {
            let r = error_response(
                400,
                "SerializationException",
                "The request body could not be read.",
            );
            return Ok(to_hyper(r, true));
        }
        Err(_) => {
            let r = error_response(
                408,
                "RequestTimeoutException",
                &format!(
                    "The request body did not arrive within {} s.",
                    config.body_read_timeout.as_secs_f64()
                ),
            );
            return Ok(to_hyper(r, true));
        }
    };
    let handle = || server.handle(method, target, &headers, &body);
    let resp = match tokio::runtime::Handle::current().runtime_flavor() {
        // `handle` may touch the state directory: keep it off the other connections' worker thread.
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(handle),
        _ => handle(),
    };
    Ok(to_hyper(resp, false))
}

fn too_large(limit: usize) -> HttpResponse {
    error_response(
        413,
        "RequestEntityTooLargeException",
        &format!("The request body is larger than the limit of {limit} bytes."),
    )
}

fn to_hyper(resp: HttpResponse, close: bool) -> hyper::Response<ResponseBody> {
    use hyper::header::{HeaderName, HeaderValue};

    let mut out = hyper::Response::new(ResponseBody::from(resp.body));
    *out.status_mut() = hyper::StatusCode::from_u16(resp.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let close = close.then(|| ("connection".to_owned(), "close".to_owned()));
    for (n, v) in resp.headers.into_iter().chain(close) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            out.headers_mut().append(n, v);
        }
    }
    out
}

/// Binds `addr`, calls `ready` with the bound address, and serves with the default [`ServeConfig`]
/// until Ctrl-C.
///
/// # Errors
/// Binding or I/O errors.
pub fn run(
    addr: SocketAddr,
    server: KmsServer,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    run_with(addr, server, ServeConfig::default(), ready)
}

/// As [`run`] under `config`'s limits. On Ctrl-C the server stops accepting and lets in-flight requests
/// finish for up to [`ServeConfig::shutdown_grace`].
///
/// # Errors
/// Binding or I/O errors, or an invalid `config` ([`ServeConfig::validate`]).
pub fn run_with(
    addr: SocketAddr,
    server: KmsServer,
    config: ServeConfig,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    config.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        let shutdown = async {
            // If the signal handler cannot be installed, serve until the process is killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        serve_with(listener, Arc::new(server), config, shutdown).await
    })
}

/// Signature age limit (AWS: 15 minutes), re-exported for documentation.
pub const MAX_SKEW: Duration = sigv4::AWS_MAX_SKEW;
