//! Bucket CORS through `s3crypt serve` (S3-FEATURES.md §8, `src/s3/cors.rs`):
//!
//! 1. raw HTTP against the in-process server: Put/Get/DeleteBucketCors and their refusals, unsigned
//!    `OPTIONS` preflights (allowed, and denied per origin, method and header, with S3's exact error
//!    documents), and the CORS headers on actual requests (signed, presigned, and their errors);
//! 2. a real browser: headless Chromium (`tests/interop/cors_browser.py`) runs `fetch()` from two page
//!    origins against the server and reports what each page could read.

#[path = "support/common.rs"]
mod common;
#[path = "support/http.rs"]
mod http;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{Resp, Server, code, send, signed, start};
use md5::{Digest as _, Md5};
use s3crypt::aws::presign::presign_url;
use s3crypt::aws::sigv4::Credentials;
use s3crypt::server::ServerOptions;

const SITE: &str = "http://site.example";
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";
const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";
const NOT_ENABLED: &str = "CORSResponse: CORS is not enabled for this bucket.";

/// The three-rule configuration of the raw-HTTP tests, elements in GetBucketCors's order so that the
/// answer is this document exactly.
const RULES: &str = concat!(
    "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    "<CORSRule><ID>site</ID><AllowedHeader>x-amz-*</AllowedHeader>",
    "<AllowedHeader>content-type</AllowedHeader><AllowedMethod>GET</AllowedMethod>",
    "<AllowedMethod>PUT</AllowedMethod><AllowedOrigin>http://site.example</AllowedOrigin>",
    "<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>",
    "<CORSRule><AllowedMethod>GET</AllowedMethod>",
    "<AllowedOrigin>http://*.wild.example</AllowedOrigin></CORSRule>",
    "<CORSRule><AllowedMethod>HEAD</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule>",
    "</CORSConfiguration>"
);

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

/// The in-process server, shared by the tests that run at the same time (each uses its own bucket)
/// and stopped when the last of them is done.
fn server() -> Arc<Server> {
    static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    let mut shared = SHARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = shared.upgrade() {
        return s;
    }
    let s = Arc::new(start(ServerOptions::default()));
    *shared = Arc::downgrade(&s);
    s
}

/// A new bucket, with one object `k` ("hello cors") when `object` is set.
fn bucket(addr: SocketAddr, name: &str, object: bool) {
    let r = signed(addr, "PUT", &format!("/{name}"), &[], b"");
    assert_eq!(r.status, 200, "CreateBucket {name}: {}", r.text());
    if object {
        let r = signed(addr, "PUT", &format!("/{name}/k"), &[], b"hello cors");
        assert_eq!(r.status, 200, "PutObject: {}", r.text());
    }
}

/// The base64 Content-MD5 of `body`.
fn content_md5(body: &[u8]) -> String {
    B64.encode(Md5::digest(body))
}

/// PutBucketCors with `xml`, signed, with a correct Content-MD5 when `md5` is set.
fn put_cors(addr: SocketAddr, bucket: &str, xml: &str, md5: bool) -> Resp {
    let digest = content_md5(xml.as_bytes());
    let extra: &[(&str, &str)] = if md5 {
        &[("content-md5", &digest)]
    } else {
        &[]
    };
    signed(
        addr,
        "PUT",
        &format!("/{bucket}?cors"),
        extra,
        xml.as_bytes(),
    )
}

/// Puts `xml` as the bucket's CORS configuration and asserts it was accepted.
fn configure(addr: SocketAddr, bucket: &str, xml: &str) {
    let r = put_cors(addr, bucket, xml, true);
    assert_eq!(r.status, 200, "PutBucketCors: {}", r.text());
}

/// An unsigned request with `host` and the given headers (a browser's request, minus its noise).
fn unsigned(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let mut all = vec![("host".to_owned(), addr.to_string())];
    all.extend(
        headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    send(addr, method, target, &all, b"")
}

/// An unsigned `OPTIONS` preflight with the given `Origin`, `Access-Control-Request-Method` and
/// `Access-Control-Request-Headers` (each sent only when `Some`).
fn preflight(
    addr: SocketAddr,
    target: &str,
    origin: Option<&str>,
    method: Option<&str>,
    headers: Option<&str>,
) -> Resp {
    let named = [
        ("origin", origin),
        ("access-control-request-method", method),
        ("access-control-request-headers", headers),
    ];
    let present: Vec<(&str, &str)> = named
        .iter()
        .filter_map(|(n, v)| v.map(|v| (*n, v)))
        .collect();
    unsigned(addr, "OPTIONS", target, &present)
}

/// The response's CORS headers (`Access-Control-*` and `Vary`), names lower-cased, in order.
fn cors_headers(r: &Resp) -> Vec<(String, String)> {
    r.headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| n.starts_with("access-control-") || n == "vary")
        .collect()
}

/// `(name, value)` pairs as owned strings, for comparing with [`cors_headers`].
fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The headers S3 sends for rule 1 of [`RULES`] and origin [`SITE`] (`requested`: the preflight's
/// requested headers as S3 echoes them, `None` on an actual request).
fn site_headers(requested: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        ("access-control-allow-origin", SITE),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET, PUT"),
    ];
    if let Some(req) = requested {
        h.push(("access-control-allow-headers", req));
    }
    h.extend([
        ("access-control-expose-headers", "ETag"),
        ("access-control-max-age", "600"),
        ("vary", VARY),
    ]);
    pairs(&h)
}

/// The text of the first `<name>` element of the response body, XML-unescaped.
fn element(r: &Resp, name: &str) -> Option<String> {
    let t = r.text();
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let raw = t.split(&open).nth(1)?.split(&close).next()?.to_owned();
    Some(
        raw.replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Asserts an S3 error answer: status, `<Code>` and `<Message>`.
fn assert_error(r: &Resp, status: u16, error_code: &str, message: &str) {
    assert_eq!(
        (r.status, code(r).as_str(), element(r, "Message").as_deref()),
        (status, error_code, Some(message)),
        "{}",
        r.text()
    );
}

/// Asserts a preflight refusal: 403 `AccessForbidden` with `message`, `<Method>` and `<ResourceType>`,
/// and no CORS header at all.
fn assert_forbidden(r: &Resp, message: &str, method: &str, resource: &str) {
    assert_error(r, 403, "AccessForbidden", message);
    assert_eq!(
        element(r, "Method").as_deref(),
        Some(method),
        "{}",
        r.text()
    );
    assert_eq!(
        element(r, "ResourceType").as_deref(),
        Some(resource),
        "{}",
        r.text()
    );
    assert_eq!(
        cors_headers(r),
        Vec::new(),
        "a refused preflight has no CORS headers"
    );
}

/// A presigned URL (valid 5 minutes) for `method` on `http://{host}{path}`, signing `headers` too.
fn presign(method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    presign_url(
        method,
        &format!("http://{host}{path}"),
        &Credentials::new(http::ID, http::SECRET, None),
        "us-east-1",
        "s3",
        SystemTime::now(),
        300,
        &headers,
    )
    .expect("presign")
}

// ------------------------------------------------------------------------------------------------
// PutBucketCors / GetBucketCors / DeleteBucketCors
// ------------------------------------------------------------------------------------------------

#[test]
fn put_bucket_cors_round_trips_through_get_and_delete_removes_it() {
    let s = server();
    bucket(s.addr, "cors-config", false);
    let r = signed(s.addr, "GET", "/cors-config?cors", &[], b"");
    assert_error(
        &r,
        404,
        "NoSuchCORSConfiguration",
        "The CORS configuration does not exist",
    );
    assert_eq!(element(&r, "BucketName").as_deref(), Some("cors-config"));

    let r = put_cors(s.addr, "cors-config", RULES, true);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty(), "{}", r.text());
    let r = signed(s.addr, "GET", "/cors-config?cors", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert_eq!(
        r.text(),
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{RULES}")
    );

    let r = signed(s.addr, "DELETE", "/cors-config?cors", &[], b"");
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    let r = signed(s.addr, "GET", "/cors-config?cors", &[], b"");
    assert_error(
        &r,
        404,
        "NoSuchCORSConfiguration",
        "The CORS configuration does not exist",
    );
    // Deleting again is still 204.
    let r = signed(s.addr, "DELETE", "/cors-config?cors", &[], b"");
    assert_eq!(r.status, 204, "{}", r.text());
}

#[test]
fn put_bucket_cors_refuses_a_missing_md5_malformed_xml_and_two_wildcards() {
    let s = server();
    bucket(s.addr, "cors-refusals", false);
    let r = put_cors(s.addr, "cors-refusals", RULES, false);
    assert_error(
        &r,
        400,
        "InvalidRequest",
        "Missing required header for this request: Content-MD5",
    );

    let r = put_cors(
        s.addr,
        "cors-refusals",
        "<CORSConfiguration><CORSRule>",
        true,
    );
    assert_error(
        &r,
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema.",
    );
    // Well-formed, but a rule without AllowedMethod.
    let no_method = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>";
    assert_eq!(
        code(&put_cors(s.addr, "cors-refusals", no_method, true)),
        "MalformedXML"
    );

    let two = "<CORSConfiguration><CORSRule><AllowedOrigin>http://*.*.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    let r = put_cors(s.addr, "cors-refusals", two, true);
    assert_error(
        &r,
        400,
        "InvalidRequest",
        "AllowedOrigin \"http://*.*.example\" can not have more than one wildcard.",
    );
    // Nothing was stored by any of them.
    let r = signed(s.addr, "GET", "/cors-refusals?cors", &[], b"");
    assert_eq!(code(&r), "NoSuchCORSConfiguration", "{}", r.text());
}

// ------------------------------------------------------------------------------------------------
// Preflights
// ------------------------------------------------------------------------------------------------

#[test]
fn preflight_allowed_by_a_rule_answers_200_with_its_headers_without_a_signature() {
    let s = server();
    bucket(s.addr, "cors-preflight-ok", false);
    configure(s.addr, "cors-preflight-ok", RULES);
    let r = preflight(
        s.addr,
        "/cors-preflight-ok/some/key",
        Some(SITE),
        Some("PUT"),
        Some("X-Amz-Date, Content-Type"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty(), "{}", r.text());
    assert_eq!(
        cors_headers(&r),
        site_headers(Some("x-amz-date, content-type"))
    );
    // The bucket URL, without requested headers: no Allow-Headers.
    let r = preflight(s.addr, "/cors-preflight-ok", Some(SITE), Some("GET"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(cors_headers(&r), site_headers(None));
}

#[test]
fn preflight_denied_per_origin_method_and_header_is_403_access_forbidden() {
    let s = server();
    bucket(s.addr, "cors-preflight-deny", false);
    configure(s.addr, "cors-preflight-deny", RULES);
    let object = "/cors-preflight-deny/k";
    let r = preflight(
        s.addr,
        object,
        Some("http://evil.example"),
        Some("GET"),
        None,
    );
    assert_forbidden(&r, NOT_ALLOWED, "GET", "OBJECT");
    // Origins are compared byte for byte.
    let r = preflight(
        s.addr,
        object,
        Some("http://SITE.example"),
        Some("GET"),
        None,
    );
    assert_forbidden(&r, NOT_ALLOWED, "GET", "OBJECT");
    let r = preflight(s.addr, object, Some(SITE), Some("DELETE"), None);
    assert_forbidden(&r, NOT_ALLOWED, "DELETE", "OBJECT");
    let r = preflight(
        s.addr,
        object,
        Some(SITE),
        Some("PUT"),
        Some("content-type, x-custom"),
    );
    assert_forbidden(&r, NOT_ALLOWED, "PUT", "OBJECT");
    // The same refusals on the bucket URL name the bucket.
    let r = preflight(
        s.addr,
        "/cors-preflight-deny",
        Some(SITE),
        Some("DELETE"),
        None,
    );
    assert_forbidden(&r, NOT_ALLOWED, "DELETE", "BUCKET");
}

#[test]
fn preflight_wildcard_origin_matches_its_scheme_only() {
    let s = server();
    bucket(s.addr, "cors-preflight-wild", false);
    configure(s.addr, "cors-preflight-wild", RULES);
    let object = "/cors-preflight-wild/k";
    let r = preflight(
        s.addr,
        object,
        Some("http://a.wild.example"),
        Some("GET"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        cors_headers(&r),
        pairs(&[
            ("access-control-allow-origin", "http://a.wild.example"),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "GET"),
            ("vary", VARY),
        ])
    );
    let r = preflight(
        s.addr,
        object,
        Some("https://a.wild.example"),
        Some("GET"),
        None,
    );
    assert_forbidden(&r, NOT_ALLOWED, "GET", "OBJECT");
    // Rule 2 allows GET only (and rule 3, HEAD, is the only one for any origin).
    let r = preflight(
        s.addr,
        object,
        Some("http://a.wild.example"),
        Some("PUT"),
        None,
    );
    assert_forbidden(&r, NOT_ALLOWED, "PUT", "OBJECT");
}

#[test]
fn preflight_matching_a_bare_star_rule_allows_any_origin_without_credentials() {
    let s = server();
    bucket(s.addr, "cors-preflight-star", false);
    configure(s.addr, "cors-preflight-star", RULES);
    for origin in ["https://anyone.example", SITE] {
        let r = preflight(
            s.addr,
            "/cors-preflight-star/k",
            Some(origin),
            Some("HEAD"),
            None,
        );
        assert_eq!(r.status, 200, "{origin}: {}", r.text());
        assert_eq!(
            cors_headers(&r),
            pairs(&[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-methods", "HEAD"),
                ("vary", VARY),
            ]),
            "{origin}"
        );
    }
}

#[test]
fn preflight_without_origin_is_400_and_without_configuration_403_not_enabled() {
    let s = server();
    bucket(s.addr, "cors-preflight-none", false);
    let r = preflight(s.addr, "/cors-preflight-none/k", None, Some("GET"), None);
    assert_error(
        &r,
        400,
        "BadRequest",
        "Insufficient information. Origin request header needed.",
    );
    assert_eq!(cors_headers(&r), Vec::new());
    // No configuration: the resource type is BUCKET even for an object URL.
    let r = preflight(
        s.addr,
        "/cors-preflight-none/k",
        Some(SITE),
        Some("GET"),
        None,
    );
    assert_forbidden(&r, NOT_ENABLED, "GET", "BUCKET");
    // Once configured the same preflight passes, and after DeleteBucketCors it is refused again.
    configure(s.addr, "cors-preflight-none", RULES);
    let r = preflight(
        s.addr,
        "/cors-preflight-none/k",
        Some(SITE),
        Some("GET"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = signed(s.addr, "DELETE", "/cors-preflight-none?cors", &[], b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let r = preflight(
        s.addr,
        "/cors-preflight-none/k",
        Some(SITE),
        Some("GET"),
        None,
    );
    assert_forbidden(&r, NOT_ENABLED, "GET", "BUCKET");
    // Without Origin the answer is 400 whether or not the bucket exists.
    let r = preflight(s.addr, "/cors-no-such-bucket/k", None, Some("GET"), None);
    assert_eq!(code(&r), "BadRequest", "{}", r.text());
}

// ------------------------------------------------------------------------------------------------
// Actual requests carrying Origin
// ------------------------------------------------------------------------------------------------

#[test]
fn signed_get_from_an_allowed_origin_carries_the_cors_headers() {
    let s = server();
    bucket(s.addr, "cors-actual", true);
    configure(s.addr, "cors-actual", RULES);
    let r = signed(s.addr, "GET", "/cors-actual/k", &[("origin", SITE)], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"hello cors");
    assert_eq!(cors_headers(&r), site_headers(None));
    // Without Origin: not a CORS request, no CORS headers.
    let r = signed(s.addr, "GET", "/cors-actual/k", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(cors_headers(&r), Vec::new());
}

#[test]
fn error_answer_to_an_allowed_origin_carries_the_cors_headers() {
    let s = server();
    bucket(s.addr, "cors-actual-404", false);
    configure(s.addr, "cors-actual-404", RULES);
    let r = signed(
        s.addr,
        "GET",
        "/cors-actual-404/missing",
        &[("origin", SITE)],
        b"",
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (404, "NoSuchKey"),
        "{}",
        r.text()
    );
    assert_eq!(cors_headers(&r), site_headers(None));
    // An unsigned GET (anonymous, refused) from the allowed origin: the 403 carries them too.
    let r = unsigned(
        s.addr,
        "GET",
        "/cors-actual-404/missing",
        &[("origin", SITE)],
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );
    assert_eq!(cors_headers(&r), site_headers(None));
}

#[test]
fn request_from_a_non_matching_origin_gets_no_cors_headers_and_no_vary() {
    let s = server();
    bucket(s.addr, "cors-actual-other", true);
    configure(s.addr, "cors-actual-other", RULES);
    for origin in ["http://evil.example", "https://a.wild.example"] {
        let r = signed(
            s.addr,
            "GET",
            "/cors-actual-other/k",
            &[("origin", origin)],
            b"",
        );
        assert_eq!(r.status, 200, "{origin}: {}", r.text());
        assert_eq!(r.body, b"hello cors");
        assert_eq!(cors_headers(&r), Vec::new(), "{origin}");
    }
    // A method no rule allows for the origin (DELETE) proceeds, without CORS headers.
    let r = signed(
        s.addr,
        "DELETE",
        "/cors-actual-other/k",
        &[("origin", SITE)],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(cors_headers(&r), Vec::new());
}

#[test]
fn presigned_get_with_origin_carries_the_cors_headers() {
    let s = server();
    bucket(s.addr, "cors-presigned", true);
    configure(s.addr, "cors-presigned", RULES);
    let host = s.addr.to_string();
    let url = presign("GET", &host, "/cors-presigned/k", &[]);
    let target = url
        .strip_prefix(&format!("http://{host}"))
        .expect("target")
        .to_owned();
    let r = unsigned(s.addr, "GET", &target, &[("origin", SITE)]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"hello cors");
    assert_eq!(cors_headers(&r), site_headers(None));
    // A wildcard-origin match on the same URL: rule 2's headers.
    let r = unsigned(
        s.addr,
        "GET",
        &target,
        &[("origin", "http://b.wild.example")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        cors_headers(&r),
        pairs(&[
            ("access-control-allow-origin", "http://b.wild.example"),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "GET"),
            ("vary", VARY),
        ])
    );
    // An unsigned preflight to the presigned URL itself is answered like any other.
    let r = preflight(s.addr, &target, Some(SITE), Some("GET"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(cors_headers(&r), site_headers(None));
}

// ------------------------------------------------------------------------------------------------
// A real browser
// ------------------------------------------------------------------------------------------------

/// A child process stopped (and reaped) on drop: SIGTERM, so that `cors_browser.py` stops its page
/// servers and Chromium, then SIGKILL if it is still running 5 s later.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to completion within `limit` (killed otherwise); its exit success and its stdout and
/// stderr together.
fn run_bounded(mut cmd: Command, limit: Duration) -> (bool, String) {
    let out = tempfile::NamedTempFile::new().expect("tmp");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("reopen"))
        .stderr(out.reopen().expect("reopen"))
        .spawn()
        .expect("spawn");
    let mut guard = ChildGuard(child);
    let deadline = Instant::now() + limit;
    let success = loop {
        if let Some(status) = guard.0.try_wait().expect("wait") {
            break status.success();
        }
        if Instant::now() >= deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(guard);
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    (success, text)
}

/// The browser harness in two-phase mode: the page origins it printed, and its stdout lines.
struct Browser {
    child: ChildGuard,
    lines: mpsc::Receiver<String>,
    pages: serde_json::Value,
}

impl Browser {
    fn start() -> Self {
        let mut child = Command::new(common::python())
            .arg(common::root().join("tests/interop/cors_browser.py"))
            .args(["--serve-pages", "site,other", "--timeout", "15"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cors_browser.py");
        let stdout = child.stdout.take().expect("stdout");
        let child = ChildGuard(child);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut b = Self {
            child,
            lines,
            pages: serde_json::Value::Null,
        };
        let first = b.line(Duration::from_secs(30));
        b.pages = first["pages"].clone();
        b
    }

    /// The origin (`http://127.0.0.1:PORT`) of page `name`.
    fn origin(&self, name: &str) -> String {
        self.pages[name]
            .as_str()
            .unwrap_or_else(|| panic!("no page {name} in {}", self.pages))
            .to_owned()
    }

    /// The next stdout line, as JSON, within `limit`.
    fn line(&mut self, limit: Duration) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("cors_browser.py printed nothing in {limit:?} ({e})"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// Sends the cases and returns the results, by case name.
    fn run(mut self, cases: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        let stdin = self.child.0.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{}", serde_json::json!({ "cases": cases })).expect("write cases");
        stdin.flush().expect("flush");
        let out = self.line(Duration::from_secs(180));
        let results = out["results"].as_array().expect("results").clone();
        let status = (0..100).find_map(|_| {
            let s = self.child.0.try_wait().ok().flatten();
            if s.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            s
        });
        assert!(
            status.is_some_and(|s| s.success()),
            "cors_browser.py exit: {status:?}"
        );
        results
            .into_iter()
            .map(|r| (r["name"].as_str().unwrap_or_default().to_owned(), r))
            .collect()
    }
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, Chromium); they run on the x86_64 legs"
)]
fn browser_fetch_obeys_the_bucket_cors_rules() {
    let (ok, output) = run_bounded(
        {
            let mut c = Command::new("bash");
            c.arg(common::root().join("scripts/chromium.sh"));
            c
        },
        Duration::from_secs(900),
    );
    assert!(ok, "scripts/chromium.sh failed:\n{output}");
    let s = server();
    let b = "cors-browser";
    bucket(s.addr, b, true);
    let original = signed(s.addr, "HEAD", &format!("/{b}/k"), &[], b"");
    let original_etag = original.header("etag").expect("ETag").to_owned();

    let browser = Browser::start();
    let site = browser.origin("site");
    let other = browser.origin("other");
    assert!(site.starts_with("http://127.0.0.1:"), "{site}");
    assert!(
        other.starts_with("http://127.0.0.1:") && other != site,
        "{other}"
    );
    let rules = format!(
        "<CORSConfiguration><CORSRule><AllowedOrigin>{site}</AllowedOrigin>\
         <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>\
         <AllowedHeader>x-amz-meta-color</AllowedHeader><ExposeHeader>ETag</ExposeHeader>\
         </CORSRule></CORSConfiguration>"
    );
    configure(s.addr, b, &rules);

    // The page's requests are authorized by presigned URLs addressed to `localhost` (the page is on
    // 127.0.0.1, so page and endpoint differ in host and port). The PUT URLs sign the extra header
    // the page sends (`x-amz-meta-color`, or the forbidden `x-custom-forbidden`) into the URL: an
    // unsigned `x-amz-*` header on a presigned request is not covered by the signature, and signing
    // it needs no anonymous access (no bucket policy, Block Public Access left alone). Each URL is
    // thus valid for exactly the request the page makes, so a blocked one is blocked by CORS alone.
    let host = format!("localhost:{}", s.addr.port());
    let key = format!("/{b}/k");
    let get = presign("GET", &host, &key, &[]);
    let put_color = presign("PUT", &host, &key, &[("x-amz-meta-color", "blue")]);
    let put_forbidden = presign("PUT", &host, &key, &[("x-custom-forbidden", "1")]);
    let delete = presign("DELETE", &host, &key, &[]);
    let cases = serde_json::json!([
        {"name": "get from site", "page": "site", "method": "GET", "url": get},
        {"name": "put color from site", "page": "site", "method": "PUT", "url": put_color,
         "headers": {"x-amz-meta-color": "blue"}, "body": "painted blue"},
        {"name": "get from other", "page": "other", "method": "GET", "url": get},
        {"name": "put forbidden header from site", "page": "site", "method": "PUT",
         "url": put_forbidden, "headers": {"x-custom-forbidden": "1"}, "body": "must not land"},
        {"name": "delete from site", "page": "site", "method": "DELETE", "url": delete},
    ]);
    let results = browser.run(&cases);
    let case = |name: &str| {
        results
            .get(name)
            .unwrap_or_else(|| panic!("no result for {name}: {results:?}"))
            .clone()
    };

    let r = case("get from site");
    assert_eq!(
        (&r["ok"], &r["status"], &r["body"]),
        (
            &serde_json::json!(true),
            &serde_json::json!(200),
            &serde_json::json!("hello cors")
        ),
        "{r}"
    );
    assert_eq!(
        r["headers"]["etag"],
        original_etag.as_str(),
        "exposed ETag: {r}"
    );
    assert!(
        r["headers"].get("x-amz-request-id").is_none(),
        "an unexposed header reached the page: {r}"
    );

    let r = case("put color from site");
    assert_eq!(
        (&r["ok"], &r["status"]),
        (&serde_json::json!(true), &serde_json::json!(200)),
        "{r}"
    );
    let put_etag = r["headers"]["etag"]
        .as_str()
        .expect("exposed ETag")
        .to_owned();

    for blocked in [
        "get from other",
        "put forbidden header from site",
        "delete from site",
    ] {
        let r = case(blocked);
        assert_eq!(
            (&r["ok"], &r["status"], &r["error_name"]),
            (
                &serde_json::json!(false),
                &serde_json::Value::Null,
                &serde_json::json!("TypeError")
            ),
            "{blocked}: {r}"
        );
        let console = r["console"].to_string();
        assert!(console.contains("CORS policy"), "{blocked}: {console}");
    }

    // Server side: the object is the one the allowed PUT wrote (the forbidden PUT and the DELETE
    // never reached it), with its metadata.
    let r = signed(s.addr, "GET", &key, &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "painted blue");
    assert_eq!(r.header("x-amz-meta-color"), Some("blue"));
    assert_eq!(r.header("etag"), Some(put_etag.as_str()));
}
