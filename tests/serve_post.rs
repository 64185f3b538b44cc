//! POST Object (browser-based uploads with a SigV4 POST policy) against `s3crypt serve`, in process,
//! with a raw HTTP/1.1 client and hand-made `multipart/form-data` bodies: the object is stored and
//! read back, S3's answers (204, 201 `PostResponse`, 303 redirect) and S3's refusals (expired
//! policy, uncovered field, failed condition, size range, signature, unknown key, anonymous, SSE-KMS
//! over plain HTTP), and one boto3 `generate_presigned_post` upload with `requests`.

#[path = "support/common.rs"]
mod common;
#[path = "support/http.rs"]
mod http;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{ID, Resp, SECRET, Server, code, object_files, send, signed, start};
use s3crypt::aws::clock::rfc3339;
use s3crypt::aws::sigv4::{self, Credentials, Scope};
use s3crypt::server::ServerOptions;

fn options() -> ServerOptions {
    ServerOptions {
        header_read_timeout: Duration::from_secs(2),
        body_idle_timeout: Duration::from_secs(5),
        ..ServerOptions::default()
    }
}

fn message(r: &Resp) -> String {
    let t = r.text();
    t.split("<Message>")
        .nth(1)
        .and_then(|s| s.split("</Message>").next())
        .unwrap_or_default()
        .replace("&quot;", "\"")
}

const BOUNDARY: &str = "----s3cryptPostBoundary7MA4YWxk";

/// A `multipart/form-data` body: the fields in order, then the `file` part.
fn multipart(fields: &[(String, String)], filename: &str, file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn post(addr: SocketAddr, bucket: &str, body: &[u8]) -> Resp {
    let headers = vec![
        ("host".to_owned(), addr.to_string()),
        (
            "content-type".to_owned(),
            format!("multipart/form-data; boundary={BOUNDARY}"),
        ),
    ];
    send(addr, "POST", &format!("/{bucket}"), &headers, body)
}

/// A signed form: the signature fields and `policy` added to `fields`, the policy made of
/// `conditions` (JSON texts) plus the ones for the signature fields, expiring at `expires`.
struct SignedForm {
    fields: Vec<(String, String)>,
}

fn amz_date(t: SystemTime) -> String {
    let text = rfc3339(t.duration_since(UNIX_EPOCH).expect("epoch"));
    let digits: String = text[..19]
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{digits}Z")
}

fn signed_form(
    key_id: &str,
    secret: &str,
    fields: &[(&str, &str)],
    conditions: &[String],
    expires: SystemTime,
) -> SignedForm {
    let now = SystemTime::now();
    let date = amz_date(now);
    let credential = format!("{key_id}/{}/us-east-1/s3/aws4_request", &date[..8]);
    let mut all: Vec<String> = conditions.to_vec();
    all.push(r#"{"x-amz-algorithm": "AWS4-HMAC-SHA256"}"#.to_owned());
    all.push(format!(r#"{{"x-amz-credential": "{credential}"}}"#));
    all.push(format!(r#"{{"x-amz-date": "{date}"}}"#));
    let policy = format!(
        r#"{{"expiration": "{}", "conditions": [{}]}}"#,
        rfc3339(expires.duration_since(UNIX_EPOCH).expect("epoch")),
        all.join(", ")
    );
    let policy = B64.encode(policy);
    let creds = Credentials::new(key_id, secret, None);
    let key = sigv4::signing_key(
        creds.secret_access_key(),
        &Scope::new(&date[..8], "us-east-1", "s3"),
    );
    let signature = sigv4::signature(&key, &policy);
    let mut out: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    out.push(("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()));
    out.push(("x-amz-credential".into(), credential));
    out.push(("x-amz-date".into(), date));
    out.push(("policy".into(), policy));
    out.push(("x-amz-signature".into(), signature));
    SignedForm { fields: out }
}

fn in_an_hour() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

fn server_with_bucket() -> Server {
    let s = start(options());
    let r = signed(s.addr, "PUT", "/pbk", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    s
}

#[test]
fn a_signed_form_stores_the_object_and_answers_as_asked() {
    let s = server_with_bucket();
    let conditions = [
        r#"{"bucket": "pbk"}"#.to_owned(),
        r#"["starts-with", "$key", "uploads/"]"#.to_owned(),
        r#"["starts-with", "$Content-Type", "text/"]"#.to_owned(),
        r#"["eq", "$x-amz-meta-color", "blue"]"#.to_owned(),
        r#"["content-length-range", 1, 1000]"#.to_owned(),
    ];
    let form = signed_form(
        ID,
        SECRET,
        &[
            ("key", "uploads/${filename}"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-color", "blue"),
        ],
        &conditions,
        in_an_hour(),
    );
    let r = post(
        s.addr,
        "pbk",
        &multipart(&form.fields, "hello.txt", b"hello, form"),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let etag = r.header("etag").expect("etag").to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("http://{}/pbk/uploads%2Fhello.txt", s.addr).as_str())
    );
    let got = signed(s.addr, "GET", "/pbk/uploads/hello.txt", &[], b"");
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, b"hello, form");
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(got.header("x-amz-meta-color"), Some("blue"));
    assert_eq!(got.header("etag"), Some(etag.as_str()));

    // 201: the PostResponse document.
    let mut conditions201 = conditions.to_vec();
    conditions201.push(r#"{"success_action_status": "201"}"#.to_owned());
    let form = signed_form(
        ID,
        SECRET,
        &[
            ("key", "uploads/x y.txt"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-color", "blue"),
            ("success_action_status", "201"),
        ],
        &conditions201,
        in_an_hour(),
    );
    let r = post(
        s.addr,
        "pbk",
        &multipart(&form.fields, "ignored", b"second"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let t = r.text();
    assert!(t.contains("<PostResponse><Location>"), "{t}");
    assert!(
        t.contains("<Bucket>pbk</Bucket><Key>uploads/x y.txt</Key><ETag>&quot;"),
        "{t}"
    );
    assert!(r.header("etag").is_some());

    // 303: the redirect with bucket, key and etag.
    let mut conditions303 = conditions.to_vec();
    conditions303.push(
        r#"["starts-with", "$success_action_redirect", "https://app.example/done"]"#.to_owned(),
    );
    let form = signed_form(
        ID,
        SECRET,
        &[
            ("key", "uploads/r.txt"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-color", "blue"),
            ("success_action_redirect", "https://app.example/done?x=1"),
        ],
        &conditions303,
        in_an_hour(),
    );
    let r = post(s.addr, "pbk", &multipart(&form.fields, "r.txt", b"third"));
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").expect("location");
    assert!(
        loc.starts_with("https://app.example/done?x=1&bucket=pbk&key=uploads%2Fr.txt&etag=%22"),
        "{loc}"
    );
    let got = signed(s.addr, "GET", "/pbk/uploads/r.txt", &[], b"");
    assert_eq!(got.body, b"third");
}

#[test]
fn the_policy_is_enforced() {
    let s = server_with_bucket();
    let base = [
        r#"{"bucket": "pbk"}"#.to_owned(),
        r#"["starts-with", "$key", "uploads/"]"#.to_owned(),
    ];
    let before = object_files(s.home.path());

    // Expired.
    let form = signed_form(
        ID,
        SECRET,
        &[("key", "uploads/a")],
        &base,
        SystemTime::now() - Duration::from_secs(60),
    );
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );
    assert_eq!(message(&r), "Invalid according to Policy: Policy expired.");

    // A field no condition covers.
    let form = signed_form(
        ID,
        SECRET,
        &[("key", "uploads/a"), ("x-amz-meta-extra", "1")],
        &base,
        in_an_hour(),
    );
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );
    assert_eq!(
        message(&r),
        "Invalid according to Policy: Extra input fields: x-amz-meta-extra"
    );
    // ... unless it is an x-ignore- field.
    let form = signed_form(
        ID,
        SECRET,
        &[("key", "uploads/ok"), ("x-ignore-submit", "Upload")],
        &base,
        in_an_hour(),
    );
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(r.status, 204, "{}", r.text());

    // starts-with violated.
    let form = signed_form(ID, SECRET, &[("key", "elsewhere/a")], &base, in_an_hour());
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );
    assert_eq!(
        message(&r),
        r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]"#
    );

    // The policy names another bucket.
    let other = [
        r#"{"bucket": "other"}"#.to_owned(),
        r#"["starts-with", "$key", ""]"#.to_owned(),
    ];
    let form = signed_form(ID, SECRET, &[("key", "uploads/a")], &other, in_an_hour());
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        message(&r),
        r#"Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "other"]"#
    );

    // content-length-range, both ends: nothing is stored.
    let mut ranged = base.to_vec();
    ranged.push(r#"["content-length-range", 5, 10]"#.to_owned());
    let form = signed_form(ID, SECRET, &[("key", "uploads/big")], &ranged, in_an_hour());
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", &[7u8; 12]));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "EntityTooLarge"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("<ProposedSize>12</ProposedSize>"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("<MaxSizeAllowed>10</MaxSizeAllowed>"),
        "{}",
        r.text()
    );
    let form = signed_form(
        ID,
        SECRET,
        &[("key", "uploads/small")],
        &ranged,
        in_an_hour(),
    );
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"1"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "EntityTooSmall"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("<MinSizeAllowed>5</MinSizeAllowed>"),
        "{}",
        r.text()
    );
    for key in ["uploads/big", "uploads/small"] {
        let got = signed(s.addr, "HEAD", &format!("/pbk/{key}"), &[], b"");
        assert_eq!(got.status, 404, "{key}");
    }
    let form = signed_form(
        ID,
        SECRET,
        &[("key", "uploads/five")],
        &ranged,
        in_an_hour(),
    );
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"12345"));
    assert_eq!(r.status, 204, "bounds are inclusive: {}", r.text());
    assert_eq!(object_files(s.home.path()), before + 2);
}

#[test]
fn signatures_and_keys_are_checked() {
    let s = server_with_bucket();
    let base = [
        r#"{"bucket": "pbk"}"#.to_owned(),
        r#"["starts-with", "$key", ""]"#.to_owned(),
    ];
    let before = object_files(s.home.path());

    let form = signed_form(ID, "not-the-secret", &[("key", "k")], &base, in_an_hour());
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "SignatureDoesNotMatch"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("not-the-secret"));

    let form = signed_form("AKIDUNKNOWN", SECRET, &[("key", "k")], &base, in_an_hour());
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "InvalidAccessKeyId"),
        "{}",
        r.text()
    );

    // A signature field without the others.
    let mut form = signed_form(ID, SECRET, &[("key", "k")], &base, in_an_hour());
    form.fields.retain(|(n, _)| n != "x-amz-signature");
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidArgument"),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains("<ArgumentName>X-Amz-Signature</ArgumentName>")
    );

    // SigV2 forms are refused like every SigV2 request.
    let fields = vec![
        ("key".to_owned(), "k".to_owned()),
        ("AWSAccessKeyId".to_owned(), ID.to_owned()),
        ("policy".to_owned(), "e30=".to_owned()),
        ("signature".to_owned(), "c2ln".to_owned()),
    ];
    let r = post(s.addr, "pbk", &multipart(&fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidRequest"),
        "{}",
        r.text()
    );

    // Anonymous: only a bucket policy could allow it.
    let fields = vec![("key".to_owned(), "anon".to_owned())];
    let r = post(s.addr, "pbk", &multipart(&fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );

    // Not a form: S3's 412.
    let headers = vec![
        ("host".to_owned(), s.addr.to_string()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ];
    let r = send(s.addr, "POST", "/pbk", &headers, b"key=k");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (412, "PreconditionFailed"),
        "{}",
        r.text()
    );
    assert!(r.text().contains(
        "<Condition>Bucket POST must be of the enclosure-type multipart/form-data</Condition>"
    ));

    // No file part.
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--{BOUNDARY}--\r\n")
            .as_bytes(),
    );
    let r = post(s.addr, "pbk", &body);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidArgument"),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains("POST requires exactly one file upload per request.")
    );

    // Fields before the file beyond 20 KiB.
    let fields = vec![("x-ignore-pad".to_owned(), "p".repeat(21 * 1024))];
    let r = post(s.addr, "pbk", &multipart(&fields, "a", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "MaxPostPreDataLengthExceeded"),
        "{}",
        r.text()
    );
    assert_eq!(object_files(s.home.path()), before);
}

#[test]
fn sse_kms_fields_are_refused_over_plain_http_as_headers_are() {
    let s = server_with_bucket();
    let put = signed(
        s.addr,
        "PUT",
        "/pbk/put",
        &[("x-amz-server-side-encryption", "aws:kms")],
        b"data",
    );
    assert_eq!(put.status, 400, "{}", put.text());
    let conditions = [
        r#"{"bucket": "pbk"}"#.to_owned(),
        r#"["starts-with", "$key", ""]"#.to_owned(),
        r#"{"x-amz-server-side-encryption": "aws:kms"}"#.to_owned(),
    ];
    let form = signed_form(
        ID,
        SECRET,
        &[("key", "kms"), ("x-amz-server-side-encryption", "aws:kms")],
        &conditions,
        in_an_hour(),
    );
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(r.status, put.status, "{}", r.text());
    assert_eq!(code(&r), code(&put));
    assert_eq!(message(&r), message(&put));

    // SSE-S3 by form field is stored encrypted and says so.
    let conditions = [
        r#"{"bucket": "pbk"}"#.to_owned(),
        r#"["starts-with", "$key", ""]"#.to_owned(),
        r#"{"x-amz-server-side-encryption": "AES256"}"#.to_owned(),
    ];
    let form = signed_form(
        ID,
        SECRET,
        &[("key", "s3"), ("x-amz-server-side-encryption", "AES256")],
        &conditions,
        in_an_hour(),
    );
    let r = post(s.addr, "pbk", &multipart(&form.fields, "a", b"data"));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("x-amz-server-side-encryption"), Some("AES256"));
}

#[test]
fn virtual_hosted_posts_work() {
    let s = server_with_bucket();
    let conditions = [
        r#"{"bucket": "pbk"}"#.to_owned(),
        r#"["eq", "$key", "vh"]"#.to_owned(),
    ];
    let form = signed_form(ID, SECRET, &[("key", "vh")], &conditions, in_an_hour());
    let headers = vec![
        (
            "host".to_owned(),
            format!("pbk.localhost:{}", s.addr.port()),
        ),
        (
            "content-type".to_owned(),
            format!("multipart/form-data; boundary={BOUNDARY}"),
        ),
    ];
    let body = multipart(&form.fields, "a", b"virtual");
    let r = send(s.addr, "POST", "/", &headers, &body);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some(format!("http://pbk.localhost:{}/vh", s.addr.port()).as_str())
    );
    let got = signed(s.addr, "GET", "/pbk/vh", &[], b"");
    assert_eq!(got.body, b"virtual");
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "spawns host processes (the Python venv) that qemu-user cannot run"
)]
fn boto3_presigned_post_uploads_with_requests() {
    let s = server_with_bucket();
    let out = std::process::Command::new(common::python())
        .arg(common::root().join("tests/interop/post_object_boto3.py"))
        .args([&format!("http://{}", s.addr), "pbk", ID, SECRET])
        .output()
        .expect("run post_object_boto3.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && !stdout.contains("FAIL"),
        "post_object_boto3.py failed:\n{stdout}"
    );
}

#[test]
fn an_anonymous_post_needs_a_bucket_policy_that_allows_it() {
    let s = server_with_bucket();
    let pab = "<PublicAccessBlockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><BlockPublicAcls>false</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>";
    let r = signed(s.addr, "PUT", "/pbk?publicAccessBlock", &[], pab.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::pbk/public/*"}]}"#;
    let r = signed(s.addr, "PUT", "/pbk?policy", &[], policy.as_bytes());
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    let fields = vec![("key".to_owned(), "public/${filename}".to_owned())];
    let r = post(
        s.addr,
        "pbk",
        &multipart(&fields, "anon.txt", b"from anyone"),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let got = signed(s.addr, "GET", "/pbk/public/anon.txt", &[], b"");
    assert_eq!(got.body, b"from anyone");
    let fields = vec![("key".to_owned(), "private/x".to_owned())];
    let r = post(s.addr, "pbk", &multipart(&fields, "x", b"data"));
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );
}

#[test]
fn fields_after_the_file_are_ignored_and_a_cut_file_is_not_stored() {
    let s = server_with_bucket();
    let conditions = [
        r#"{"bucket": "pbk"}"#.to_owned(),
        r#"["starts-with", "$key", "f/"]"#.to_owned(),
    ];
    let before = object_files(s.home.path());
    let form = signed_form(ID, SECRET, &[("key", "f/after")], &conditions, in_an_hour());
    let mut body = multipart(&form.fields, "a", b"kept");
    // A field after the file: not covered by the policy, yet ignored as S3 ignores it.
    let end = format!("--{BOUNDARY}--\r\n");
    body.truncate(body.len() - end.len());
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x-amz-meta-late\"\r\n\r\nv\r\n{end}"
        )
        .as_bytes(),
    );
    let r = post(s.addr, "pbk", &body);
    assert_eq!(r.status, 204, "{}", r.text());
    let got = signed(s.addr, "HEAD", "/pbk/f/after", &[], b"");
    assert_eq!(got.status, 200);
    assert_eq!(got.header("x-amz-meta-late"), None);

    // The body ends inside the file part: nothing is stored.
    let form = signed_form(ID, SECRET, &[("key", "f/cut")], &conditions, in_an_hour());
    let mut body = multipart(&form.fields, "a", &[1u8; 4096]);
    body.truncate(body.len() - 100);
    let r = post(s.addr, "pbk", &body);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "IncompleteBody"),
        "{}",
        r.text()
    );
    let got = signed(s.addr, "HEAD", "/pbk/f/cut", &[], b"");
    assert_eq!(got.status, 404);
    assert_eq!(object_files(s.home.path()), before + 1);
}
