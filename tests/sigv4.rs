//! SigV4 against published vectors and real clients:
//!
//! 1. the AWS SigV4 test suite (`test-vectors/sigv4/v4/`, from the `aws-sigv4` 1.6.4 crate): canonical
//!    request, string to sign and signature exactly, then `verify` on the signed request, and rejection
//!    after a one-byte signature change, a body change, and 16 minutes;
//! 2. the S3 presigned-URL example of the S3 API reference (canonical request built with S3 rules);
//! 3. sign/verify round trips of a KMS request and every refusal, plus garbage `Authorization` values;
//! 4. botocore 1.44.5's own KMS requests (`test-vectors/sigv4/botocore_kms_request.json`).
//!
//! Run with `--nocapture` to see the case counts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3crypt::aws::sigv4::{
    self, AWS_MAX_SKEW, Canonicalization, Credentials, EMPTY_PAYLOAD_SHA256, Scope,
    SessionTokenPlacement, SigV4Error, SignableRequest, SigningSettings, UNSIGNED_PAYLOAD,
    UriEncoding, VerifyPolicy,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Cases whose published canonical request keeps an already-encoded path as it is (single encoding):
/// `get-space-normalized` sends `/example%20space/` and expects `/example%20space/`, where the generic
/// double-encoding rule (and botocore) gives `/example%2520space/`. smithy-rs ignores this case for the
/// same reason; here it runs with [`UriEncoding::Single`] and still checks normalisation.
const SINGLE_ENCODING_CASES: &[&str] = &["get-space-normalized"];

/// The number of case directories in the suite and how many of them run.
const SUITE_CASES: usize = 40;
const SUITE_RUN: usize = 38;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors/sigv4")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request parsed from the suite's `request.txt` format.
#[derive(Clone, Debug)]
struct HttpRequest {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn signable(&self) -> SignableRequest<'_> {
        SignableRequest {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn set_header(&mut self, name: &str, value: String) {
        let slot = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no {name} header"));
        slot.1 = value;
    }
}

/// Parses `METHOD SP target [SP HTTP/1.1]`, header lines `Name:value` (a line starting with a space or
/// tab continues the previous value: obsolete line folding, replaced by one space as RFC 9112 §5.2
/// says), an empty line, then the body. The target may contain raw spaces (`get-space-unnormalized`).
fn parse_http(text: &str) -> HttpRequest {
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h, b),
        None => (text.trim_end_matches('\n'), ""),
    };
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let (method, rest) = request_line.split_once(' ').expect("method");
    let uri = match rest.rsplit_once(' ') {
        Some((u, version)) if version.starts_with("HTTP/") => u,
        _ => rest,
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("continuation after a header");
            last.1.push(' ');
            last.1.push_str(line.trim_matches([' ', '\t']));
        } else {
            let (n, v) = line.split_once(':').expect("header line");
            headers.push((n.to_owned(), v.to_owned()));
        }
    }
    HttpRequest {
        method: method.to_owned(),
        uri: uri.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn parse_time(rfc3339: &str) -> SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 time");
    UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).expect("after 1970"))
}

fn amz_time(amz: &str) -> SystemTime {
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &amz[0..4],
        &amz[4..6],
        &amz[6..8],
        &amz[9..11],
        &amz[11..13],
        &amz[13..15]
    );
    parse_time(&iso)
}

/// The suite's `context.json`.
#[derive(serde::Deserialize)]
struct Context {
    credentials: ContextCredentials,
    normalize: bool,
    region: String,
    service: String,
    sign_body: bool,
    timestamp: String,
    #[serde(default)]
    omit_session_token: bool,
}

#[derive(serde::Deserialize)]
struct ContextCredentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

/// Replaces one hex digit of the `Signature=` value of an `Authorization` header.
fn flip_signature_byte(auth: &str) -> String {
    let at = auth.find("Signature=").expect("Signature=") + "Signature=".len() + 7;
    let mut bytes = auth.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).expect("ASCII")
}

fn lookup_for(creds: &Credentials) -> impl Fn(&str) -> Option<Credentials> + '_ {
    move |akid| (akid == creds.access_key_id).then(|| creds.clone())
}

/// Runs one suite case; returns a description of every mismatch.
fn run_suite_case(dir: &Path, name: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(format!("{name}: {what}"));
        }
    };
    let ctx: Context = serde_json::from_str(&read(&dir.join("context.json"))).expect("context");
    let time = parse_time(&ctx.timestamp);
    let req = parse_http(&read(&dir.join("request.txt")));
    let creds = Credentials::new(
        ctx.credentials.access_key_id.clone(),
        &ctx.credentials.secret_access_key,
        ctx.credentials.token.clone(),
    );
    let canon = Canonicalization {
        uri_encoding: if SINGLE_ENCODING_CASES.contains(&name) {
            UriEncoding::Single
        } else {
            UriEncoding::Double
        },
        normalize_path: ctx.normalize,
    };
    let settings = SigningSettings {
        canonicalization: canon,
        content_sha256_header: ctx.sign_body,
        session_token: if ctx.omit_session_token {
            SessionTokenPlacement::AfterSigning
        } else {
            SessionTokenPlacement::Signed
        },
    };

    // Signing: every intermediate value exactly.
    let out = match sigv4::sign_with(
        &req.signable(),
        &creds,
        &ctx.region,
        &ctx.service,
        time,
        &settings,
    ) {
        Ok(out) => out,
        Err(e) => {
            check(false, format!("sign failed: {e}"));
            return failures;
        }
    };
    let expected_creq = read(&dir.join("header-canonical-request.txt"));
    check(
        out.canonical_request == expected_creq,
        format!(
            "canonical request\n--- ours\n{}\n--- expected\n{expected_creq}",
            out.canonical_request
        ),
    );
    let expected_sts = read(&dir.join("header-string-to-sign.txt"));
    check(
        out.string_to_sign == expected_sts,
        format!(
            "string to sign {:?} != {expected_sts:?}",
            out.string_to_sign
        ),
    );
    let expected_sig = read(&dir.join("header-signature.txt"));
    check(
        out.signature == expected_sig,
        format!("signature {} != {expected_sig}", out.signature),
    );

    // The headers sign() adds are exactly those the signed request has beyond the request.
    let signed = parse_http(&read(&dir.join("header-signed-request.txt")));
    let lower = |h: &[(String, String)]| -> BTreeSet<(String, String)> {
        h.iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect()
    };
    let added: BTreeSet<_> = lower(&signed.headers)
        .difference(&lower(&req.headers))
        .cloned()
        .collect();
    check(
        added == lower(&out.headers),
        format!("added headers {:?} != {added:?}", out.headers),
    );

    // Verification of the published signed request.
    let policy = VerifyPolicy {
        canonicalization: canon,
        ..VerifyPolicy::new(&ctx.region, &ctx.service)
    };
    match sigv4::verify_with(&signed.signable(), lookup_for(&creds), &policy, time) {
        Ok(v) => {
            check(
                v.access_key_id == ctx.credentials.access_key_id,
                "akid".into(),
            );
            check(v.request_time == time, "request time".into());
            check(v.scope.region == ctx.region, "region".into());
            check(v.payload_signed, "payload signed".into());
        }
        Err(e) => check(false, format!("verify refused the signed request: {e}")),
    }

    let mut tampered = signed.clone();
    let auth = tampered.header("authorization").expect("Authorization");
    tampered.set_header("authorization", flip_signature_byte(auth));
    let r = sigv4::verify_with(&tampered.signable(), lookup_for(&creds), &policy, time);
    check(
        matches!(r, Err(SigV4Error::SignatureMismatch { .. })),
        format!("one-byte signature change: {r:?}"),
    );

    let mut tampered = signed.clone();
    tampered.body.push(b'!');
    let r = sigv4::verify_with(&tampered.signable(), lookup_for(&creds), &policy, time);
    check(
        matches!(r, Err(SigV4Error::SignatureMismatch { .. })),
        format!("changed body: {r:?}"),
    );

    let later = time + Duration::from_secs(16 * 60);
    let r = sigv4::verify_with(&signed.signable(), lookup_for(&creds), &policy, later);
    check(
        matches!(r, Err(SigV4Error::SignatureExpired { .. })),
        format!("16 minutes later: {r:?}"),
    );
    failures
}

#[test]
fn aws_sigv4_test_suite() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(vectors().join("v4"))
        .expect("test-vectors/sigv4/v4")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut run, mut skipped, mut failures) = (0, Vec::new(), Vec::new());
    for dir in &dirs {
        let name = dir.file_name().and_then(|n| n.to_str()).expect("name");
        if !dir.join("context.json").exists() {
            skipped.push(format!(
                "{name}: no context.json (a legacy case added by smithy-rs; its signed request was \
                 made with other credentials, see legacy_double_url_encode)"
            ));
            continue;
        }
        run += 1;
        failures.extend(run_suite_case(dir, name));
    }
    println!(
        "AWS SigV4 test suite: {} case directories, {run} run (canonical request, string to sign, \
         signature, verify, 3 tamper checks each), {} skipped",
        dirs.len(),
        skipped.len()
    );
    for s in &skipped {
        println!("  skipped {s}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(run >= 30);
    assert_eq!((dirs.len(), run), (SUITE_CASES, SUITE_RUN));
}

/// `double-url-encode` has no `context.json` and its signed request does not carry the suite's
/// signature, but its canonical request and string to sign pin generic double encoding (`%3A` →
/// `%253A`). Its scope (20210511/us-east-2/lambda) is the one in its signed request.
#[test]
fn legacy_double_url_encode() {
    let dir = vectors().join("v4/double-url-encode");
    let req = parse_http(&read(&dir.join("request.txt")));
    let creq = sigv4::canonical_request(
        &req.signable(),
        &["host".to_owned(), "x-amz-date".to_owned()],
        EMPTY_PAYLOAD_SHA256,
        Canonicalization::GENERIC,
    )
    .expect("canonical request");
    assert_eq!(creq, read(&dir.join("header-canonical-request.txt")));
    let sts = sigv4::string_to_sign(
        "20210511T154045Z",
        &Scope::new("20210511", "us-east-2", "lambda"),
        &creq,
    );
    // This legacy file, unlike the suite's, ends with a newline.
    assert_eq!(
        sts,
        read(&dir.join("header-string-to-sign.txt")).trim_end_matches('\n')
    );
}

/// The S3 API reference's presigned-URL example (FORMATS.md §7): GET /test.txt from examplebucket,
/// 20130524T000000Z, us-east-1, expires 86400, signed header `host`, `UNSIGNED-PAYLOAD`.
#[test]
fn s3_presigned_url_example() {
    let uri = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
               &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
               &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host";
    let headers = vec![(
        "Host".to_owned(),
        "examplebucket.s3.amazonaws.com".to_owned(),
    )];
    let req = SignableRequest {
        method: "GET",
        uri,
        headers: &headers,
        body: b"",
    };
    let creq = sigv4::canonical_request(
        &req,
        &["host".to_owned()],
        UNSIGNED_PAYLOAD,
        Canonicalization::S3,
    )
    .expect("canonical request");
    assert_eq!(
        creq,
        "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F\
         20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&\
         X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
    );
    let creds = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
    );
    let scope = Scope::new("20130524", "us-east-1", "s3");
    let sts = sigv4::string_to_sign("20130524T000000Z", &scope, &creq);
    let sig = sigv4::signature(&sigv4::signing_key(creds.secret_access_key(), &scope), &sts);
    assert_eq!(
        sig,
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );

    // Query-string authentication is recognised but not accepted by the verifier.
    let signed_uri = format!("{uri}&X-Amz-Signature={sig}");
    let req = SignableRequest {
        uri: &signed_uri,
        ..req
    };
    let r = sigv4::verify(
        &req,
        lookup_for(&creds),
        "us-east-1",
        "s3",
        amz_time("20130524T000000Z"),
        AWS_MAX_SKEW,
    );
    assert!(
        matches!(&r, Err(SigV4Error::IncompleteSignature { message }) if message.contains("presigned")),
        "{r:?}"
    );
}

/// A KMS GenerateDataKey request as boto3 builds it.
fn kms_request(body: &[u8]) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        uri: "/".into(),
        headers: vec![
            ("Host".into(), "kms.us-east-1.amazonaws.com".into()),
            ("X-Amz-Target".into(), "TrentService.GenerateDataKey".into()),
            ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ("User-Agent".into(), "s3crypt-test".into()),
        ],
        body: body.to_vec(),
    }
}

fn kms_policy() -> VerifyPolicy {
    VerifyPolicy {
        required_signed_headers: vec!["x-amz-target".into(), "content-type".into()],
        ..VerifyPolicy::new("us-east-1", "kms")
    }
}

/// Signs `req` in place at `t` and returns it.
fn signed_kms(mut req: HttpRequest, creds: &Credentials, t: SystemTime) -> HttpRequest {
    let added = sigv4::sign(&req.signable(), creds, "us-east-1", "kms", t).expect("sign");
    req.headers.extend(added);
    req
}

fn sha256_of(data: &[u8]) -> [u8; 32] {
    s3crypt::primitives::hash::sha256(data)
}

/// Every error a test produced, to check that none of them renders the secret.
fn assert_no_secret(errors: &[SigV4Error]) {
    for e in errors {
        for rendered in [format!("{e}"), format!("{e:?}"), e.kms().message] {
            assert!(!rendered.contains(SECRET), "{rendered}");
            assert!(!rendered.contains("K7MDENG"), "{rendered}");
        }
    }
}

#[test]
fn kms_round_trip_and_refusals() {
    let t = amz_time("20260301T101500Z");
    let creds = Credentials::new("AKIDEXAMPLE", SECRET, None);
    let body = br#"{"KeyId": "alias/s3crypt-test", "KeySpec": "AES_256"}"#;
    let signed = signed_kms(kms_request(body), &creds, t);
    let auth = signed.header("authorization").expect("Authorization");
    assert!(auth.starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260301/us-east-1/kms/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
    ));
    assert_eq!(signed.header("x-amz-date"), Some("20260301T101500Z"));
    assert_eq!(signed.header("x-amz-content-sha256"), None);

    let policy = kms_policy();
    let verify = |req: &HttpRequest, lookup: &dyn Fn(&str) -> Option<Credentials>, now| {
        sigv4::verify_with(&req.signable(), lookup, &policy, now)
    };
    let known = lookup_for(&creds);
    let ok = verify(&signed, &known, t).expect("verifies");
    assert_eq!(ok.access_key_id, "AKIDEXAMPLE");
    assert_eq!(ok.scope, Scope::new("20260301", "us-east-1", "kms"));
    assert_eq!(
        ok.signed_headers,
        ["content-type", "host", "x-amz-date", "x-amz-target"]
    );
    assert!(ok.is_signed("X-Amz-Target") && ok.payload_signed);
    assert_eq!(ok.request_time, t);
    // Bounds of the skew window are accepted; the plain `verify` agrees.
    assert!(verify(&signed, &known, t + AWS_MAX_SKEW).is_ok());
    assert!(verify(&signed, &known, t - AWS_MAX_SKEW).is_ok());
    assert!(
        sigv4::verify(
            &signed.signable(),
            &known,
            "us-east-1",
            "kms",
            t,
            AWS_MAX_SKEW
        )
        .is_ok()
    );

    let mut errors = Vec::new();
    let mut expect = |req: &HttpRequest,
                      lookup: &dyn Fn(&str) -> Option<Credentials>,
                      now: SystemTime,
                      code: &str,
                      what: &str|
     -> SigV4Error {
        let e = verify(req, lookup, now).expect_err(what);
        assert_eq!(e.kms().code, code, "{what}: {e:?}");
        assert_eq!(e.kms().status, 400);
        errors.push(e.clone());
        e
    };

    let wrong_secret = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ",
        None,
    );
    let e = expect(
        &signed,
        &lookup_for(&wrong_secret),
        t,
        "InvalidSignatureException",
        "wrong secret",
    );
    assert!(matches!(e, SigV4Error::SignatureMismatch { .. }), "{e:?}");

    let e = expect(
        &signed,
        &|_| None,
        t,
        "UnrecognizedClientException",
        "unknown key",
    );
    assert!(matches!(e, SigV4Error::UnrecognizedClient { .. }), "{e:?}");
    assert_eq!(
        e.kms().message,
        "The security token included in the request is invalid."
    );

    let mut r = signed.clone();
    r.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
    let e = expect(
        &r,
        &known,
        t,
        "MissingAuthenticationTokenException",
        "no Authorization",
    );
    assert_eq!(e.kms().message, "Missing Authentication Token");

    let mut r = signed.clone();
    r.set_header(
        "x-amz-target",
        "TrentService.GenerateDataKeyWithoutPlaintext".into(),
    );
    let e = expect(
        &r,
        &known,
        t,
        "InvalidSignatureException",
        "tampered X-Amz-Target",
    );
    assert!(matches!(e, SigV4Error::SignatureMismatch { .. }), "{e:?}");

    let mut r = signed.clone();
    r.body = br#"{"KeyId": "alias/other-key", "KeySpec": "AES_256"}"#.to_vec();
    assert!(matches!(
        expect(&r, &known, t, "InvalidSignatureException", "body"),
        SigV4Error::SignatureMismatch { .. }
    ));

    // The client's own body hash is never trusted: a request signed over a content hash that is not
    // the body's fails, one signed over the right hash passes, and an unsigned one changes nothing.
    let mut with_hash = kms_request(body);
    with_hash
        .headers
        .push(("x-amz-content-sha256".into(), "0".repeat(64)));
    let r = signed_kms(with_hash.clone(), &creds, t);
    assert!(matches!(
        expect(
            &r,
            &known,
            t,
            "InvalidSignatureException",
            "wrong signed content hash"
        ),
        SigV4Error::SignatureMismatch { .. }
    ));
    with_hash.set_header("x-amz-content-sha256", hex::encode(sha256_of(body)));
    let r = signed_kms(with_hash, &creds, t);
    assert!(
        verify(&r, &known, t)
            .expect("right content hash")
            .is_signed("x-amz-content-sha256")
    );
    let mut r = signed.clone();
    r.headers
        .push(("x-amz-content-sha256".into(), "0".repeat(64)));
    assert!(verify(&r, &known, t).is_ok());
    let mut r = signed.clone();
    r.headers
        .push(("X-Amz-Content-SHA256".into(), UNSIGNED_PAYLOAD.into()));
    expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "UNSIGNED-PAYLOAD to KMS",
    );

    let mut r = signed.clone();
    r.set_header("x-amz-date", "20260301T101501Z".into());
    assert!(matches!(
        expect(
            &r,
            &known,
            t,
            "InvalidSignatureException",
            "date moved by 1 s"
        ),
        SigV4Error::SignatureMismatch { .. }
    ));
    let mut r = signed.clone();
    r.set_header("x-amz-date", "20260302T101500Z".into());
    let e = expect(
        &r,
        &known,
        t + Duration::from_secs(86_400),
        "InvalidSignatureException",
        "date",
    );
    assert!(
        e.kms()
            .message
            .starts_with("Date in Credential scope does not match"),
        "{e}"
    );
    let mut r = signed.clone();
    r.set_header("x-amz-date", "2026-03-01T10:15:00Z".into());
    let e = expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "ISO-8601 extended date",
    );
    assert!(
        e.kms()
            .message
            .starts_with("Date must be in ISO-8601 'basic format'"),
        "{e}"
    );
    let mut r = signed.clone();
    r.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"));
    expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "no X-Amz-Date",
    );

    let e = expect(
        &signed,
        &known,
        t + Duration::from_secs(16 * 60),
        "InvalidSignatureException",
        "+16 min",
    );
    assert_eq!(
        e.kms().message,
        "Signature expired: 20260301T101500Z is now earlier than 20260301T101600Z \
         (20260301T103100Z - 15 min.)"
    );
    let e = expect(
        &signed,
        &known,
        t - Duration::from_secs(16 * 60),
        "InvalidSignatureException",
        "-16 min",
    );
    assert!(
        matches!(e, SigV4Error::SignatureNotYetCurrent { .. }),
        "{e:?}"
    );

    let other_region = VerifyPolicy::new("eu-west-1", "kms");
    let e = sigv4::verify_with(&signed.signable(), &known, &other_region, t).expect_err("region");
    assert!(
        matches!(&e, SigV4Error::ScopeMismatch { .. }) && e.kms().message.contains("valid region"),
        "{e:?}"
    );
    let mut scope_errors = vec![e];
    let e = sigv4::verify(
        &signed.signable(),
        &known,
        "us-east-1",
        "s3",
        t,
        AWS_MAX_SKEW,
    )
    .expect_err("service");
    assert_eq!(e.kms().code, "InvalidSignatureException");
    scope_errors.push(e);

    // Header-level refusals.
    let mut r = signed.clone();
    let unsigned_target = auth.replace("x-amz-date;x-amz-target", "x-amz-date");
    r.set_header("authorization", unsigned_target);
    let e = expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "X-Amz-Target unsigned",
    );
    assert!(
        e.kms()
            .message
            .contains("'x-amz-target' must be a 'SignedHeader'"),
        "{e}"
    );
    let mut r = signed.clone();
    r.set_header(
        "authorization",
        auth.replace("content-type;host;", "content-type;"),
    );
    let e = expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "host unsigned",
    );
    assert!(
        e.kms()
            .message
            .starts_with("'Host' or ':authority' must be a 'SignedHeader'"),
        "{e}"
    );
    let mut r = signed.clone();
    r.headers.push(("authorization".into(), auth.to_owned()));
    expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "two Authorization headers",
    );
    let mut r = signed.clone();
    r.uri = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256".into();
    expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "two auth mechanisms",
    );
    let mut r = signed.clone();
    r.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
    let e = expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "signed header absent",
    );
    assert!(e.kms().message.contains("absent"), "{e}");
    let mut r = signed.clone();
    r.set_header(
        "authorization",
        auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
    );
    expect(
        &r,
        &known,
        t,
        "IncompleteSignatureException",
        "other algorithm",
    );

    // Session tokens: must match the key's, and must be absent for a permanent key.
    let mut r = signed.clone();
    r.headers
        .push(("X-Amz-Security-Token".into(), "forged".into()));
    expect(
        &r,
        &known,
        t,
        "UnrecognizedClientException",
        "token on a permanent key",
    );
    let temp = Credentials::new("ASIATEMP", SECRET, Some("session-token-1".into()));
    let signed_temp = signed_kms(kms_request(body), &temp, t);
    assert_eq!(
        signed_temp.header("x-amz-security-token"),
        Some("session-token-1")
    );
    let ok = verify(&signed_temp, &lookup_for(&temp), t).expect("temporary credentials");
    assert!(ok.is_signed("x-amz-security-token"));
    let rotated = Credentials::new("ASIATEMP", SECRET, Some("session-token-2".into()));
    expect(
        &signed_temp,
        &lookup_for(&rotated),
        t,
        "UnrecognizedClientException",
        "stale token",
    );
    let mut r = signed_temp.clone();
    r.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-amz-security-token"));
    expect(
        &r,
        &lookup_for(&temp),
        t,
        "UnrecognizedClientException",
        "token missing",
    );

    assert_no_secret(&errors);
    assert_no_secret(&scope_errors);
}

#[test]
fn sign_refuses_requests_it_cannot_sign() {
    let t = amz_time("20260301T101500Z");
    let creds = Credentials::new("AKIDEXAMPLE", SECRET, Some("tok".into()));
    let mut errors = Vec::new();
    let mut refuse = |mutate: &dyn Fn(&mut HttpRequest), what: &str| {
        let mut req = kms_request(b"{}");
        mutate(&mut req);
        let e = sigv4::sign(&req.signable(), &creds, "us-east-1", "kms", t).expect_err(what);
        assert!(
            matches!(e, SigV4Error::InvalidSigningInput { .. }),
            "{what}: {e:?}"
        );
        errors.push(e);
    };
    refuse(&|r| r.headers.retain(|(n, _)| n != "Host"), "no Host");
    refuse(
        &|r| r.headers.push(("X-Amz-Date".into(), "x".into())),
        "X-Amz-Date present",
    );
    refuse(
        &|r| r.headers.push(("Authorization".into(), "x".into())),
        "Authorization present",
    );
    refuse(
        &|r| r.headers.push(("x-amz-security-token".into(), "x".into())),
        "token present",
    );
    refuse(
        &|r| {
            r.headers
                .push(("X-Evil".into(), "a\r\nx-amz-target: b".into()))
        },
        "CRLF in value",
    );
    refuse(
        &|r| r.headers.push(("Bad Name".into(), "v".into())),
        "space in name",
    );
    refuse(
        &|r| r.uri = "kms.us-east-1.amazonaws.com/".into(),
        "no leading slash",
    );
    refuse(&|r| r.method = "PO ST".into(), "bad method");
    let req = kms_request(b"{}");
    for (region, service) in [("", "kms"), ("us/east", "kms"), ("us-east-1", "k ms")] {
        let e = sigv4::sign(&req.signable(), &creds, region, service, t).expect_err("scope part");
        errors.push(e);
    }
    let e = sigv4::sign(
        &req.signable(),
        &creds,
        "us-east-1",
        "kms",
        UNIX_EPOCH - Duration::from_secs(1 << 40),
    )
    .expect_err("year before 0");
    errors.push(e);
    assert_no_secret(&errors);
}

/// A deterministic xorshift generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("fits")
    }
}

#[test]
fn garbage_authorization_values_are_refused_without_panicking() {
    let t = amz_time("20260301T101500Z");
    let creds = Credentials::new("AKIDEXAMPLE", SECRET, None);
    let signed = signed_kms(kms_request(b"{}"), &creds, t);
    let auth = signed
        .header("authorization")
        .expect("Authorization")
        .to_owned();
    let policy = kms_policy();
    let try_auth = |value: &str| {
        let mut r = signed.clone();
        r.set_header("authorization", value.to_owned());
        sigv4::verify_with(&r.signable(), lookup_for(&creds), &policy, t)
    };
    assert!(try_auth(&auth).is_ok());

    let alphabet: Vec<char> =
        "AWS4-HMAC-SHA256 Credential=/;,=SignedHeaders Signature0123456789abcdef\
                               \t\n\r\0é€😀%\"'"
            .chars()
            .collect();
    let squash = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '\t' | ','))
            .collect::<String>()
    };
    let mut rng = XorShift(0x5EED_5167_4ABC_0001);
    let mut tried = 0;
    let mut codes = BTreeSet::new();

    // Every proper prefix.
    let chars: Vec<char> = auth.chars().collect();
    for len in 0..chars.len() {
        let prefix: String = chars[..len].iter().collect();
        let e = try_auth(&prefix).expect_err("a truncated Authorization header must fail");
        codes.insert(e.kms().code);
        tried += 1;
    }
    // Random edits (replace, insert, delete one to three characters). An edit that only moves
    // separators or whitespace around may still be valid; anything else must fail.
    for _ in 0..300 {
        let mut s: Vec<char> = chars.clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(s.len());
            match rng.below(3) {
                0 => s[at] = alphabet[rng.below(alphabet.len())],
                1 => s.insert(at, alphabet[rng.below(alphabet.len())]),
                _ => {
                    s.remove(at);
                }
            }
        }
        let s: String = s.into_iter().collect();
        match try_auth(&s) {
            Ok(_) => assert_eq!(squash(&s), squash(&auth), "accepted edit {s:?}"),
            Err(e) => {
                codes.insert(e.kms().code);
            }
        }
        tried += 1;
    }
    // Random strings, half of them behind the right algorithm name.
    for i in 0..200 {
        let len = rng.below(120);
        let mut s: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        if i % 2 == 0 {
            s.insert_str(0, "AWS4-HMAC-SHA256 ");
        }
        let e = try_auth(&s).expect_err("random Authorization header");
        codes.insert(e.kms().code);
        tried += 1;
    }
    println!("garbage Authorization values: {tried} tried, codes seen: {codes:?}");
    assert!(tried >= 500);
    assert!(
        codes.contains("IncompleteSignatureException")
            && codes.contains("InvalidSignatureException")
    );
}

/// The botocore 1.44.5 recording: one case with permanent credentials, one with a session token.
#[derive(serde::Deserialize)]
struct BotocoreRecording {
    botocore_version: String,
    cases: Vec<BotocoreCase>,
}

#[derive(serde::Deserialize)]
struct BotocoreCase {
    name: String,
    region: String,
    service: String,
    timestamp: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    method: String,
    uri: String,
    host: String,
    headers_at_signing: Vec<(String, String)>,
    headers_as_sent: Vec<(String, String)>,
    body: String,
    canonical_request: String,
    string_to_sign: String,
    authorization: String,
}

#[test]
fn botocore_kms_requests() {
    let rec: BotocoreRecording =
        serde_json::from_str(&read(&vectors().join("botocore_kms_request.json")))
            .expect("recording");
    assert_eq!(rec.botocore_version, "1.44.5");
    for case in &rec.cases {
        let t = amz_time(&case.timestamp);
        let creds = Credentials::new(
            case.access_key_id.clone(),
            &case.secret_access_key,
            case.session_token.clone(),
        );

        // (a) The request exactly as botocore sent it verifies, with KMS's required headers.
        let sent = HttpRequest {
            method: case.method.clone(),
            uri: case.uri.clone(),
            headers: case.headers_as_sent.clone(),
            body: case.body.as_bytes().to_vec(),
        };
        assert_eq!(
            sent.header("authorization"),
            Some(case.authorization.as_str())
        );
        assert_eq!(
            sent.header("x-amz-content-sha256"),
            None,
            "botocore sends none to KMS"
        );
        let ok = sigv4::verify_with(&sent.signable(), lookup_for(&creds), &kms_policy(), t)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(ok.request_time, t);
        assert_eq!(
            ok.is_signed("x-amz-security-token"),
            case.session_token.is_some()
        );
        let mut tampered = sent.clone();
        tampered.body.push(b' ');
        assert!(matches!(
            sigv4::verify_with(&tampered.signable(), lookup_for(&creds), &kms_policy(), t),
            Err(SigV4Error::SignatureMismatch { .. })
        ));

        // (b) Signing what botocore signed reproduces its Authorization header byte for byte.
        let mut to_sign = HttpRequest {
            headers: case.headers_at_signing.clone(),
            ..sent.clone()
        };
        to_sign.headers.push(("Host".into(), case.host.clone()));
        let out = sigv4::sign_with(
            &to_sign.signable(),
            &creds,
            &case.region,
            &case.service,
            t,
            &SigningSettings::for_service("kms"),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(
            out.canonical_request, case.canonical_request,
            "{}",
            case.name
        );
        assert_eq!(out.string_to_sign, case.string_to_sign, "{}", case.name);
        let added: Vec<(String, String)> = out.headers;
        let sent_value = |name: &str| sent.header(name).map(str::to_owned);
        for (name, value) in &added {
            assert_eq!(
                Some(value.clone()),
                sent_value(name),
                "{}: {name}",
                case.name
            );
        }
        let authorization = added
            .iter()
            .find(|(n, _)| n == "Authorization")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            authorization,
            Some(case.authorization.as_str()),
            "{}",
            case.name
        );
        assert_eq!(
            sigv4::sign(&to_sign.signable(), &creds, &case.region, &case.service, t)
                .expect("sign")
                .len(),
            added.len()
        );
    }
    println!(
        "botocore {}: {} KMS requests verified and re-signed byte for byte",
        rec.botocore_version,
        rec.cases.len()
    );
    assert_eq!(rec.cases.len(), 2);
}
