//! S3 Object Lambda's way back: `WriteGetObjectResponse` (S3-FEATURES.md §3.3). When a GetObject
//! through an Object Lambda access point invokes a function, the server opens an output route here
//! ([`OutputRoutes::open`]): a random route (`outputRoute`, the host prefix AWS would use) and a
//! single-use token (`outputToken`). The function (any identity of the same account allowed
//! `s3-object-lambda:WriteGetObjectResponse`) answers with `POST /WriteGetObjectResponse` carrying
//! `x-amz-request-route` / `x-amz-request-token`, the status for the caller (`x-amz-fwd-status`),
//! optional error code and message, `x-amz-fwd-header-*` headers and `x-amz-meta-*` metadata, and the
//! transformed object as its body, which is streamed to the waiting caller as it arrives.
//!
//! A token is taken by the first request that presents it with its route, whatever that request's
//! fate: a retry gets 400 (AWS: "a retry after a 500 may get 400"). A route no longer waited for
//! (the caller went away, the function's time ran out) is gone. Tokens are compared in constant time.
//!
//! The caller side (what waits on [`OutputSlot::response`]) belongs to the Object Lambda access point
//! handler. Refusals whose exact code AWS does not document use `InvalidRequest` / `InvalidArgument`
//! with a clear message; they are listed in `docs/S3-API.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot};

use crate::iam::{Authorization, ConditionKeys, RequestContext, ResourceModel, Verdict, authorize};
use crate::primitives::{RngError, fill_random};
use crate::s3::S3Error;
use crate::s3::object_lambda::event::is_error_code;

/// The IAM action a function needs to answer.
pub const ACTION: &str = "s3-object-lambda:WriteGetObjectResponse";

/// The statuses a function may give the caller (`x-amz-fwd-status`).
pub const FORWARDED_STATUSES: [u16; 14] = [
    200, 206, 304, 400, 401, 403, 404, 405, 409, 411, 412, 416, 500, 503,
];

/// The headers a function may forward (`x-amz-fwd-header-NAME`), by their name for the caller.
const FORWARDED_HEADERS: &[&str] = &[
    "accept-ranges",
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Range",
    "Content-Type",
    "ETag",
    "Expires",
    "Last-Modified",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-sha512",
    "x-amz-checksum-md5",
    "x-amz-checksum-xxhash64",
    "x-amz-checksum-xxhash3",
    "x-amz-checksum-xxhash128",
    "x-amz-delete-marker",
    "x-amz-expiration",
    "x-amz-missing-meta",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-legal-hold",
    "x-amz-object-lock-retain-until-date",
    "x-amz-mp-parts-count",
    "x-amz-replication-status",
    "x-amz-request-charged",
    "x-amz-restore",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key-MD5",
    "x-amz-storage-class",
    "x-amz-tagging-count",
    "x-amz-version-id",
];

/// What a function sent for the waiting caller: the status, the headers, an error code and message
/// (for error statuses), and the body as it arrives.
#[derive(Debug)]
pub struct Forwarded {
    /// The caller's status.
    pub status: u16,
    /// Headers for the caller (forwarded headers under their own names, metadata, Content-Length).
    pub headers: Vec<(String, String)>,
    /// `x-amz-fwd-error-code` / `x-amz-fwd-error-message`, for an error status.
    pub error: Option<(String, String)>,
    /// The body's pieces; an `Err` piece means the function's upload broke off (the caller's response
    /// is then cut short, as AWS truncates it).
    pub body: mpsc::Receiver<std::io::Result<Bytes>>,
}

/// A route waiting for its function's answer.
struct Pending {
    token: String,
    account: String,
    expires: Instant,
    tx: oneshot::Sender<Forwarded>,
}

/// The open output routes of this process.
#[derive(Default)]
pub struct OutputRoutes {
    pending: Mutex<HashMap<String, Pending>>,
}

impl std::fmt::Debug for OutputRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("OutputRoutes").field("open", &n).finish()
    }
}

/// One open route, held by the waiting caller; dropping it closes the route.
#[derive(Debug)]
pub struct OutputSlot {
    /// `outputRoute` of the event.
    pub route: String,
    /// `outputToken` of the event (a bearer secret: never logged).
    pub token: String,
    /// Resolves when the function's WriteGetObjectResponse arrives.
    pub response: oneshot::Receiver<Forwarded>,
    routes: Arc<OutputRoutes>,
}

impl Drop for OutputSlot {
    fn drop(&mut self) {
        self.routes
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.route);
    }
}

fn random_text(bytes: usize) -> Result<String, RngError> {
    let mut raw = vec![0u8; bytes];
    fill_random(&mut raw)?;
    Ok(hex::encode(raw))
}

impl OutputRoutes {
    /// No routes yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a route for a GetObject of `account`'s Object Lambda access point, answerable for `ttl`
    /// (S3 gives a function 60 s to stream its whole answer).
    ///
    /// # Errors
    /// [`RngError`] if the operating system cannot provide randomness.
    pub fn open(self: &Arc<Self>, account: &str, ttl: Duration) -> Result<OutputSlot, RngError> {
        let route = format!("io-s3crypt-{}", random_text(8)?);
        let token = random_text(32)?;
        let (tx, rx) = oneshot::channel();
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        pending.retain(|_, p| p.expires > now && !p.tx.is_closed());
        pending.insert(
            route.clone(),
            Pending {
                token: token.clone(),
                account: account.to_owned(),
                expires: now + ttl,
                tx,
            },
        );
        Ok(OutputSlot {
            route,
            token,
            response: rx,
            routes: Arc::clone(self),
        })
    }

    /// Takes the route `route` if `token` is its token (single use: a wrong token also consumes
    /// nothing, a right one consumes the route).
    fn take(&self, route: &str, token: &str) -> Option<Pending> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let p = pending.get(route)?;
        if !crate::primitives::ct_eq(p.token.as_bytes(), token.as_bytes()) {
            return None;
        }
        let p = pending.remove(route)?;
        (p.expires > Instant::now()).then_some(p)
    }
}

impl Forwarded {
    /// The waiting caller's answer: the function's error as S3's error document with the forwarded
    /// code and message, or its status, headers and streamed body.
    pub(crate) fn into_reply(self, request_id: &str) -> crate::server::Reply {
        if let Some((code, message)) = &self.error {
            return error_reply(self.status, code, message, request_id);
        }
        let length = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        crate::server::Reply {
            status: self.status,
            headers: self.headers,
            body: http_body_util::BodyExt::boxed(crate::server::body::ChannelBody::from_receiver(
                self.body,
            )),
            length,
        }
    }
}

/// The caller's error answer forwarded from a function: `status` with S3's error XML of `code`
/// (`InternalError` when empty) and `message`.
pub(crate) fn error_reply(
    status: u16,
    code: &str,
    message: &str,
    request_id: &str,
) -> crate::server::Reply {
    use crate::s3::xml::escape_text;
    let code = if code.is_empty() {
        "InternalError"
    } else {
        code
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        escape_text(code),
        escape_text(message),
        escape_text(request_id)
    );
    crate::server::Reply::xml(status, xml)
}

/// The request's value of header `name`, if present once.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Checks the forwarding headers of a WriteGetObjectResponse and returns the caller's status,
/// headers and error.
///
/// # Errors
/// 400 `InvalidArgument` for a status outside [`FORWARDED_STATUSES`], an error code that is not
/// `^[A-Z][a-zA-Z]+$`, an error with a success status or with a body, or a forwarded header S3 does
/// not forward.
#[allow(clippy::type_complexity)]
pub fn parse_forwarding(
    headers: &[(String, String)],
    has_body: bool,
) -> Result<(u16, Vec<(String, String)>, Option<(String, String)>), S3Error> {
    let bad = |what: &str, value: &str, why: &str| {
        S3Error::invalid_argument(why.to_owned())
            .with_extra("ArgumentName", what.to_owned())
            .with_extra("ArgumentValue", value.to_owned())
    };
    let status = match header(headers, "x-amz-fwd-status") {
        None => 200,
        Some(v) => match v.parse::<u16>() {
            Ok(s) if FORWARDED_STATUSES.contains(&s) => s,
            _ => {
                return Err(bad(
                    "x-amz-fwd-status",
                    v,
                    "x-amz-fwd-status must be one of 200, 206, 304, 400, 401, 403, 404, 405, 409, 411, 412, 416, 500, 503",
                ));
            }
        },
    };
    let code = header(headers, "x-amz-fwd-error-code");
    let message = header(headers, "x-amz-fwd-error-message");
    let error = match (code, message) {
        (None, None) => None,
        (code, message) => {
            let code = code.unwrap_or_default();
            if !code.is_empty() && !is_error_code(code) {
                return Err(bad(
                    "x-amz-fwd-error-code",
                    code,
                    "x-amz-fwd-error-code must match ^[A-Z][a-zA-Z]+$",
                ));
            }
            if status < 400 {
                return Err(bad(
                    "x-amz-fwd-error-code",
                    code,
                    "An error code or message cannot be forwarded with a success status",
                ));
            }
            if has_body {
                return Err(bad(
                    "x-amz-fwd-error-code",
                    code,
                    "An error code or message cannot be forwarded with a body",
                ));
            }
            Some((code.to_owned(), message.unwrap_or_default().to_owned()))
        }
    };
    let mut out = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if let Some(fwd) = lower.strip_prefix("x-amz-fwd-header-") {
            let Some(canonical) = FORWARDED_HEADERS
                .iter()
                .find(|h| h.eq_ignore_ascii_case(fwd))
            else {
                return Err(bad(
                    name,
                    value,
                    "This header cannot be forwarded by WriteGetObjectResponse",
                ));
            };
            out.push(((*canonical).to_owned(), value.trim().to_owned()));
        } else if lower.starts_with("x-amz-meta-") {
            out.push((lower, value.clone()));
        }
    }
    Ok((status, out, error))
}

/// Answers a WriteGetObjectResponse: checks the caller, the route and the forwarding headers, hands
/// the status and headers to the waiting GetObject, then streams the body to it. The function's
/// request ends (200) when the whole body was passed on.
///
/// # Errors
/// 403 `AccessDenied` for anonymous or plain-HTTP callers, callers of another account, or without
/// `s3-object-lambda:WriteGetObjectResponse`; 400 `InvalidRequest` for a missing, unknown, used or
/// expired route/token; 400 `InvalidArgument` for bad forwarding headers; 400 `InvalidRequest` when the
/// caller no longer waits.
pub(crate) async fn handle(
    routes: &OutputRoutes,
    ctx: &RequestContext,
    headers: &[(String, String)],
    incoming: Incoming,
    idle: Duration,
) -> Result<(), S3Error> {
    let Some(principal) = ctx.caller.principal() else {
        return Err(S3Error::access_denied("Access Denied"));
    };
    // The token is a bearer secret: it never travels in clear text.
    if !ctx.secure_transport {
        return Err(S3Error::access_denied(
            "WriteGetObjectResponse requires HTTPS",
        ));
    }
    let keys = ConditionKeys::new();
    let a = Authorization::new(
        ACTION,
        "*",
        &principal.account,
        ctx,
        &keys,
        ResourceModel::S3,
    )
    .with_identity_policies(&ctx.identity_policies);
    if authorize(&a) != Verdict::Allow {
        return Err(S3Error::access_denied("Access Denied"));
    }
    let (Some(route), Some(token)) = (
        header(headers, "x-amz-request-route"),
        header(headers, "x-amz-request-token"),
    ) else {
        return Err(S3Error::invalid_request(
            "WriteGetObjectResponse needs x-amz-request-route and x-amz-request-token",
        ));
    };
    let length = header(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    let has_body = length.is_some_and(|n| n > 0)
        || header(headers, "transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let (status, mut out, error) = parse_forwarding(headers, has_body)?;
    let Some(pending) = routes.take(route, token) else {
        return Err(S3Error::invalid_request(
            "The request route or token is invalid, already used or expired",
        ));
    };
    if pending.account != principal.account {
        return Err(S3Error::access_denied("Access Denied"));
    }
    if let Some(n) = length {
        out.push(("Content-Length".to_owned(), n.to_string()));
    }
    let (tx, rx) = mpsc::channel(8);
    let forwarded = Forwarded {
        status,
        headers: out,
        error,
        body: rx,
    };
    if pending.tx.send(forwarded).is_err() {
        return Err(S3Error::invalid_request(
            "The request route or token is invalid, already used or expired",
        ));
    }
    pump(incoming, &tx, idle, pending.expires).await
}

/// Passes the function's body on to the caller until it ends, the caller goes away, the body stalls
/// for `idle`, or the route's time is up.
async fn pump(
    mut incoming: Incoming,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
    idle: Duration,
    until: Instant,
) -> Result<(), S3Error> {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let frame = match tokio::time::timeout(idle.min(left), incoming.frame()).await {
            Err(_) => {
                let _ = tx
                    .send(Err(std::io::Error::other("the function stopped sending")))
                    .await;
                return Err(S3Error::with_code(
                    crate::s3::S3ErrorCode::RequestTimeout,
                    "Your socket connection to the server was not read from or written to within the timeout period.",
                ));
            }
            Ok(None) => return Ok(()),
            Ok(Some(Err(_))) => {
                let _ = tx
                    .send(Err(std::io::Error::other("the function's body broke off")))
                    .await;
                return Err(S3Error::with_code(
                    crate::s3::S3ErrorCode::IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                ));
            }
            Ok(Some(Ok(f))) => match f.into_data() {
                Ok(d) if d.is_empty() => continue,
                Ok(d) => d,
                Err(_) => continue,
            },
        };
        if tx.send(Ok(frame)).await.is_err() {
            return Err(S3Error::invalid_request(
                "The caller of this GetObject is no longer waiting",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn forwarding_headers() {
        let (s, out, e) = parse_forwarding(
            &h(&[
                ("x-amz-fwd-status", "206"),
                ("x-amz-fwd-header-content-type", "text/csv"),
                ("X-Amz-Fwd-Header-ETag", "\"abc\""),
                ("x-amz-meta-redacted", "yes"),
                ("x-amz-request-token", "t"),
            ]),
            true,
        )
        .expect("ok");
        assert_eq!(s, 206);
        assert!(e.is_none());
        assert_eq!(
            out,
            h(&[
                ("Content-Type", "text/csv"),
                ("ETag", "\"abc\""),
                ("x-amz-meta-redacted", "yes")
            ])
        );
        let (s, _, e) = parse_forwarding(
            &h(&[
                ("x-amz-fwd-status", "403"),
                ("x-amz-fwd-error-code", "AccessDenied"),
                ("x-amz-fwd-error-message", "redacted for you"),
            ]),
            false,
        )
        .expect("ok");
        assert_eq!(
            (s, e),
            (
                403,
                Some(("AccessDenied".into(), "redacted for you".into()))
            )
        );
        assert_eq!(parse_forwarding(&[], false).expect("ok").0, 200);
        for (bad, body) in [
            (h(&[("x-amz-fwd-status", "201")]), false),
            (h(&[("x-amz-fwd-status", "abc")]), false),
            (h(&[("x-amz-fwd-status", "")]), false),
            (
                h(&[
                    ("x-amz-fwd-status", "400"),
                    ("x-amz-fwd-error-code", "bad code"),
                ]),
                false,
            ),
            (
                h(&[("x-amz-fwd-status", "400"), ("x-amz-fwd-error-code", "A")]),
                false,
            ),
            (h(&[("x-amz-fwd-error-code", "NoSuchKey")]), false),
            (
                h(&[
                    ("x-amz-fwd-status", "404"),
                    ("x-amz-fwd-error-code", "NoSuchKey"),
                ]),
                true,
            ),
            (h(&[("x-amz-fwd-header-x-amz-secret", "1")]), false),
            (h(&[("x-amz-fwd-header-authorization", "1")]), false),
        ] {
            assert!(parse_forwarding(&bad, body).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn the_callers_answer() {
        use http_body_util::BodyExt as _;
        let (tx, rx) = mpsc::channel(4);
        let f = Forwarded {
            status: 206,
            headers: h(&[("Content-Type", "text/csv"), ("Content-Length", "5")]),
            error: None,
            body: rx,
        };
        tx.send(Ok(Bytes::from_static(b"a,b\n")))
            .await
            .expect("send");
        tx.send(Ok(Bytes::from_static(b"c"))).await.expect("send");
        drop(tx);
        let r = f.into_reply("REQ1");
        assert_eq!((r.status, r.length), (206, 5));
        let body = r.body.collect().await.expect("body").to_bytes();
        assert_eq!(body.as_ref(), b"a,b\nc");
        let (_tx, rx) = mpsc::channel(1);
        let f = Forwarded {
            status: 404,
            headers: Vec::new(),
            error: Some(("NoSuchKey".into(), "<gone> & away".into())),
            body: rx,
        };
        let r = f.into_reply("REQ2");
        assert_eq!(r.status, 404);
        let body = r.body.collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("<Code>NoSuchKey</Code><Message>&lt;gone&gt; &amp; away</Message><RequestId>REQ2</RequestId>"),
            "{text}"
        );
        // A broken-off upload ends the caller's body with an error (the connection is cut).
        let (tx, rx) = mpsc::channel(2);
        tx.send(Ok(Bytes::from_static(b"part")))
            .await
            .expect("send");
        tx.send(Err(std::io::Error::other("broke off")))
            .await
            .expect("send");
        drop(tx);
        let f = Forwarded {
            status: 200,
            headers: Vec::new(),
            error: None,
            body: rx,
        };
        assert!(f.into_reply("REQ3").body.collect().await.is_err());
    }

    #[test]
    fn routes_are_single_use_and_need_their_token() {
        let routes = Arc::new(OutputRoutes::new());
        let slot = routes
            .open("111122223333", Duration::from_secs(60))
            .expect("open");
        assert!(routes.take(&slot.route, "wrong").is_none());
        assert!(routes.take("io-other", &slot.token).is_none());
        assert!(
            routes.take(&slot.route, &slot.token).is_some(),
            "a wrong token does not consume the route"
        );
        assert!(
            routes.take(&slot.route, &slot.token).is_none(),
            "single use"
        );
        let expired = routes.open("111122223333", Duration::ZERO).expect("open");
        assert!(routes.take(&expired.route, &expired.token).is_none());
        let dropped = routes
            .open("111122223333", Duration::from_secs(60))
            .expect("open");
        let (route, token) = (dropped.route.clone(), dropped.token.clone());
        drop(dropped);
        assert!(
            routes.take(&route, &token).is_none(),
            "closed with its slot"
        );
        assert!(format!("{routes:?}").contains("open"));
    }
}
