//! `s3crypt serve` at the HTTP level, in process, with a raw HTTP/1.1 client: S3's errors as XML,
//! SigV4 and payload checks before anything is stored, limits against hostile clients (slow headers,
//! oversize headers, too many connections), keys as opaque bytes, and a tampered object that is never
//! released.
//!
//! The real-client tests (boto3, aws-cli, s3cmd over TLS) are in `tests/serve_interop.rs`.

#[path = "support/http.rs"]
mod http;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, SystemTime};

use http::{code, object_files, raw, send, signed, signed_as, start};
use s3crypt::aws::sigv4::{self, Credentials, SignableRequest};
use s3crypt::iam::Principal;
use s3crypt::primitives::chunked::{CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, HEADER_LEN};
use s3crypt::server::ServerOptions;
use s3crypt::sse::engine::LOCAL_ACCOUNT;

const ID: &str = http::ID;
const SECRET: &str = http::SECRET;

fn options() -> ServerOptions {
    ServerOptions {
        header_read_timeout: Duration::from_secs(1),
        body_idle_timeout: Duration::from_secs(2),
        ..ServerOptions::default()
    }
}

#[test]
fn errors_are_s3_xml_and_unknown_operations_are_not_implemented() {
    let s = start(options());
    assert_eq!(signed(s.addr, "PUT", "/bucket-one", &[], b"").status, 200);
    let r = signed(s.addr, "GET", "/bucket-one?lifecycle", &[], b"");
    assert_eq!(r.status, 501, "{}", r.text());
    assert_eq!(code(&r), "NotImplemented");
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(r.header("x-amz-request-id").is_some());
    let r = signed(s.addr, "PATCH", "/bucket-one/k", &[], b"");
    assert_eq!((r.status, code(&r).as_str()), (405, "MethodNotAllowed"));
    let r = signed(s.addr, "GET", "/bucket-one/missing", &[], b"");
    assert_eq!((r.status, code(&r).as_str()), (404, "NoSuchKey"));
    assert!(
        r.text()
            .contains("<Resource>/bucket-one/missing</Resource>")
    );
    let r = signed(s.addr, "HEAD", "/bucket-one/missing", &[], b"");
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty(), "HEAD errors have no body");
    let r = signed(s.addr, "GET", "/no-such-bucket-here/k", &[], b"");
    assert_eq!((r.status, code(&r).as_str()), (404, "NoSuchBucket"));
    // Anonymous: refused without a policy.
    let r = send(
        s.addr,
        "GET",
        "/bucket-one",
        &[("host".into(), s.addr.to_string())],
        b"",
    );
    assert_eq!((r.status, code(&r).as_str()), (403, "AccessDenied"));
    // SigV2 is refused as S3 refuses it for new buckets.
    let r = send(
        s.addr,
        "GET",
        "/bucket-one?AWSAccessKeyId=AKID&Signature=x&Expires=1",
        &[("host".into(), s.addr.to_string())],
        b"",
    );
    assert_eq!((r.status, code(&r).as_str()), (400, "InvalidRequest"));
}

#[test]
fn signatures_and_payload_checks_run_before_anything_is_stored() {
    let s = start(options());
    assert_eq!(signed(s.addr, "PUT", "/bucket-two", &[], b"").status, 200);
    let r = signed(s.addr, "PUT", "/bucket-two/ok", &[], b"hello");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
    let stored = object_files(s.home.path());
    // A payload that does not hash to the signed x-amz-content-sha256.
    let mut headers: Vec<(String, String)> = vec![("host".into(), s.addr.to_string())];
    let req = SignableRequest {
        method: "PUT",
        uri: "/bucket-two/bad",
        headers: &headers,
        body: b"the signed body",
    };
    let added = sigv4::sign(
        &req,
        &Credentials::new(ID, SECRET, None),
        "us-east-1",
        "s3",
        SystemTime::now(),
    )
    .expect("sign");
    headers.extend(added);
    let r = send(
        s.addr,
        "PUT",
        "/bucket-two/bad",
        &headers,
        b"another body!!!",
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "XAmzContentSHA256Mismatch")
    );
    // A wrong secret.
    let mut headers: Vec<(String, String)> = vec![("host".into(), s.addr.to_string())];
    let req = SignableRequest {
        method: "PUT",
        uri: "/bucket-two/forged",
        headers: &headers,
        body: b"x",
    };
    headers.extend(
        sigv4::sign(
            &req,
            &Credentials::new(ID, "wrong-secret", None),
            "us-east-1",
            "s3",
            SystemTime::now(),
        )
        .expect("sign"),
    );
    let r = send(s.addr, "PUT", "/bucket-two/forged", &headers, b"x");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // Content-MD5 that does not match; one that is not an MD5.
    let r = signed(
        s.addr,
        "PUT",
        "/bucket-two/md5",
        &[("content-md5", "XrY7u+Ae7tCTyyK7j1rNww==")],
        b"not hello world",
    );
    assert_eq!((r.status, code(&r).as_str()), (400, "BadDigest"));
    let r = signed(
        s.addr,
        "PUT",
        "/bucket-two/md5",
        &[("content-md5", "bm90IGFuIG1kNQ==")],
        b"x",
    );
    assert_eq!((r.status, code(&r).as_str()), (400, "InvalidDigest"));
    // A wrong x-amz-checksum-crc32.
    let r = signed(
        s.addr,
        "PUT",
        "/bucket-two/crc",
        &[("x-amz-checksum-crc32", "AAAAAA==")],
        b"data",
    );
    assert_eq!((r.status, code(&r).as_str()), (400, "BadDigest"));
    assert_eq!(
        object_files(s.home.path()),
        stored,
        "nothing refused was stored"
    );
    let r = signed(s.addr, "GET", "/bucket-two/ok", &[], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
}

/// Temporary credentials issued by the endpoint (an execution role's session): accepted with their
/// session token only, bounded by the role's policy, matched by the role's ARN in a bucket policy,
/// and refused once revoked or expired.
#[test]
fn temporary_credentials_need_their_token_and_their_policy() {
    use s3crypt::iam::policy::{ParseOptions, Policy};
    let s = start(options());
    assert_eq!(signed(s.addr, "PUT", "/bucket-t", &[], b"").status, 200);
    assert_eq!(signed(s.addr, "PUT", "/bucket-t/k", &[], b"v").status, 200);
    let role_policy = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-t/*"}}"#,
        &ParseOptions::IDENTITY,
    )
    .expect("policy");
    let role = Principal::assumed_role(LOCAL_ACCOUNT, "fn-role", "fn", "");
    let tmp = s
        .service
        .sessions()
        .issue(role.clone(), vec![role_policy], Duration::from_secs(300))
        .expect("issue");
    let creds = tmp.credentials();
    let r = signed_as(&creds, s.addr, "GET", "/bucket-t/k", &[], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, b"v".as_slice()));
    // The role's policy bounds the session.
    let r = signed_as(&creds, s.addr, "PUT", "/bucket-t/w", &[], b"w");
    assert_eq!((r.status, code(&r).as_str()), (403, "AccessDenied"));
    // Without the token, or with another one: refused.
    let no_token = Credentials::new(
        tmp.access_key_id.clone(),
        tmp.secret_access_key.expose_secret(),
        None,
    );
    // S3: 400 InvalidToken "The provided token is malformed or otherwise invalid."
    let r = signed_as(&no_token, s.addr, "GET", "/bucket-t/k", &[], b"");
    assert_eq!((r.status, code(&r).as_str()), (400, "InvalidToken"));
    let forged = Credentials::new(
        tmp.access_key_id.clone(),
        tmp.secret_access_key.expose_secret(),
        Some("0".repeat(96)),
    );
    let r = signed_as(&forged, s.addr, "GET", "/bucket-t/k", &[], b"");
    assert_eq!((r.status, code(&r).as_str()), (400, "InvalidToken"));
    // A bucket policy naming the role's ARN grants its sessions.
    let bucket_policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/fn-role"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::bucket-t/*"}}"#;
    let r = signed(
        s.addr,
        "PUT",
        "/bucket-t?policy",
        &[],
        bucket_policy.as_bytes(),
    );
    assert!(r.status == 204 || r.status == 200, "{}", r.text());
    let r = signed_as(&creds, s.addr, "PUT", "/bucket-t/w", &[], b"w");
    assert_eq!(r.status, 200, "{}", r.text());
    // Revoked, and expired: unknown keys.
    s.service.sessions().revoke(&tmp.access_key_id);
    let r = signed_as(&creds, s.addr, "GET", "/bucket-t/k", &[], b"");
    assert_eq!((r.status, code(&r).as_str()), (403, "InvalidAccessKeyId"));
    let gone = s
        .service
        .sessions()
        .issue(role, Vec::new(), Duration::ZERO)
        .expect("issue");
    let r = signed_as(&gone.credentials(), s.addr, "GET", "/bucket-t/k", &[], b"");
    assert_eq!((r.status, code(&r).as_str()), (403, "InvalidAccessKeyId"));
}

/// `POST /WriteGetObjectResponse` is recognized with its route header, may be signed for
/// `s3-object-lambda` (other requests may not), and is refused anonymously and over plain HTTP
/// before any route is looked at; without the route header the path is an ordinary bucket request.
#[test]
fn write_get_object_response_is_refused_anonymously_and_in_clear_text() {
    let s = start(options());
    let slot = s
        .service
        .output_routes()
        .open(LOCAL_ACCOUNT, Duration::from_secs(60))
        .expect("open");
    let route = slot.route.clone();
    let token = slot.token.clone();
    let wgor_headers = [
        ("x-amz-request-route", route.as_str()),
        ("x-amz-request-token", token.as_str()),
        ("x-amz-fwd-status", "200"),
    ];
    // Anonymous.
    let mut headers: Vec<(String, String)> = vec![("host".into(), s.addr.to_string())];
    headers.extend(wgor_headers.iter().map(|(n, v)| ((*n).into(), (*v).into())));
    let r = send(s.addr, "POST", "/WriteGetObjectResponse", &headers, b"body");
    assert_eq!((r.status, code(&r).as_str()), (403, "AccessDenied"));
    // Signed for s3-object-lambda, over plain HTTP: refused (the token never travels in clear).
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), s.addr.to_string()),
        ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
    ];
    headers.extend(wgor_headers.iter().map(|(n, v)| ((*n).into(), (*v).into())));
    let req = SignableRequest {
        method: "POST",
        uri: "/WriteGetObjectResponse",
        headers: &headers,
        body: b"body",
    };
    let added = sigv4::sign(
        &req,
        &Credentials::new(http::ID, http::SECRET, None),
        "us-east-1",
        "s3-object-lambda",
        SystemTime::now(),
    )
    .expect("sign");
    headers.extend(added);
    let r = send(s.addr, "POST", "/WriteGetObjectResponse", &headers, b"body");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("HTTPS"), "{}", r.text());
    // The route is still open: nothing consumed it.
    assert!(slot.response.is_empty());
    // Another request signed for s3-object-lambda fails the scope check.
    let mut headers: Vec<(String, String)> = vec![("host".into(), s.addr.to_string())];
    let req = SignableRequest {
        method: "PUT",
        uri: "/bucket-olx",
        headers: &headers,
        body: b"",
    };
    headers.extend(
        sigv4::sign(
            &req,
            &Credentials::new(http::ID, http::SECRET, None),
            "us-east-1",
            "s3-object-lambda",
            SystemTime::now(),
        )
        .expect("sign"),
    );
    let r = send(s.addr, "PUT", "/bucket-olx", &headers, b"");
    assert_ne!(
        r.status, 200,
        "a bucket created with an s3-object-lambda signature"
    );
    assert!(r.status == 400 || r.status == 403, "{}", r.text());
}

#[test]
fn keys_are_opaque_and_stay_in_their_bucket() {
    let s = start(options());
    assert_eq!(signed(s.addr, "PUT", "/bucket-three", &[], b"").status, 200);
    for (target, key) in [
        (
            "/bucket-three/..%2F..%2F..%2Fetc%2Fpasswd",
            "../../../etc/passwd",
        ),
        ("/bucket-three/%2Fabsolute", "/absolute"),
        ("/bucket-three/%E2%9C%93%20unicode%20%2B%25", "✓ unicode +%"),
    ] {
        let r = signed(s.addr, "PUT", target, &[], key.as_bytes());
        assert_eq!(r.status, 200, "{key}: {}", r.text());
        let r = signed(s.addr, "GET", target, &[], b"");
        assert_eq!(r.body, key.as_bytes(), "{key}");
    }
    let long = "k".repeat(1025);
    let r = signed(s.addr, "PUT", &format!("/bucket-three/{long}"), &[], b"x");
    assert_eq!((r.status, code(&r).as_str()), (400, "KeyTooLongError"));
    let r = signed(s.addr, "PUT", "/bucket-three/a%00b", &[], b"x");
    assert_eq!((r.status, code(&r).as_str()), (400, "InvalidURI"));
    // Nothing was written outside the home.
    assert!(!s.home.path().join("etc").exists());
    let r = signed(s.addr, "GET", "/bucket-three?list-type=2", &[], b"");
    assert!(r.text().contains("<KeyCount>3</KeyCount>"), "{}", r.text());
}

#[test]
fn hostile_clients_are_bounded() {
    let s = start(options());
    // Headers that never finish: the connection is closed after the header timeout.
    let mut slow = TcpStream::connect(s.addr).expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = std::time::Instant::now();
    let mut sink = Vec::new();
    let _ = slow.read_to_end(&mut sink);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a slow client must be cut off"
    );
    drop(slow);
    // A header section over S3's 8 KiB: S3's error; one beyond the connection's buffer: 431.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nx-big: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(9 * 1024)
    );
    let r = raw(s.addr, big.as_bytes());
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "RequestHeaderSectionTooLarge")
    );
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nx-big: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let mut c = TcpStream::connect(s.addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // The server may stop reading (and reset) before the whole request is written.
    let _ = c.write_all(huge.as_bytes());
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    assert!(
        out.is_empty() || out.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&out[..out.len().min(200)])
    );
    drop(s);
    // More connections than slots: the extra one gets S3's 503 SlowDown. (A server of its own, whose
    // idle connections stay open long enough on a loaded machine.)
    let s = start(ServerOptions {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(30),
        ..options()
    });
    let a = TcpStream::connect(s.addr).expect("a");
    let b = TcpStream::connect(s.addr).expect("b");
    std::thread::sleep(Duration::from_millis(300));
    let r = raw(s.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, code(&r).as_str()), (503, "SlowDown"));
    drop((a, b));
}

#[test]
fn a_tampered_object_is_never_released() {
    let s = start(options());
    assert_eq!(signed(s.addr, "PUT", "/bucket-four", &[], b"").status, 200);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        signed(s.addr, "PUT", "/bucket-four/obj", &[], &data).status,
        200
    );
    // Flip a byte in the third chunk of the stored body (MAGIC, C2SP header, chunks).
    let mut files = Vec::new();
    collect_files(&s.home.path().join("buckets"), &mut files);
    let file = files
        .iter()
        .find(|p| p.parent().and_then(Path::file_name) == Some("objects".as_ref()))
        .expect("object file");
    let mut bytes = std::fs::read(file).expect("read");
    bytes[8 + HEADER_LEN + 2 * ENCRYPTED_CHUNK_SIZE + 100] ^= 1;
    std::fs::write(file, &bytes).expect("write");
    let r = signed(s.addr, "GET", "/bucket-four/obj", &[], b"");
    assert!(
        r.status != 200 || r.truncated,
        "the tampered chunk must not be sent: status {} with {} bytes",
        r.status,
        r.body.len()
    );
    assert!(r.body.len() <= 2 * CHUNK_SIZE, "nothing past the bad chunk");
    assert_eq!(&r.body[..], &data[..r.body.len()]);
}

fn collect_files(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(d) = std::fs::read_dir(p) {
        for e in d.flatten() {
            let path = e.path();
            if path.is_dir() {
                collect_files(&path, out);
            } else {
                out.push(path);
            }
        }
    }
}
