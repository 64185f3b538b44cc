//! Presigned URLs and S3 header auth (`aws::presign`):
//!
//! 1. the S3 API reference example (FORMATS.md §7): `presign_url` gives the published signature and
//!    the URL botocore prints for the same inputs, and `verify_s3` accepts it;
//! 2. every refusal row 1–14 of S3-FEATURES.md §1.2 with its status, code, exact message and extras,
//!    and the order between rows;
//! 3. `X-Amz-Expires` boundaries (0, 1, 604800, 604801, -1, "abc") and generation limits;
//! 4. round trips (session token, SSE-C headers, operation parameters) and tampering with every query
//!    parameter;
//! 5. S3 header auth: `x-amz-content-sha256` rules, unsigned `x-amz-*` headers, skew.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3crypt::aws::WireError;
use s3crypt::aws::presign::{self, Payload, S3Policy};
use s3crypt::aws::sigv4::{self, AuthType, Credentials, SigV4Error, SignableRequest};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST: &str = "examplebucket.s3.amazonaws.com";
/// 2013-05-24T00:00:00Z.
const T0: u64 = 1_369_353_600;
const DOC_SIGNATURE: &str = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn creds() -> Credentials {
    Credentials::new(AKID, SECRET, None)
}

fn lookup(id: &str) -> Option<Credentials> {
    (id == AKID).then(creds)
}

fn doc_url() -> String {
    presign::presign_url(
        "GET",
        &format!("https://{HOST}/test.txt"),
        &creds(),
        "us-east-1",
        "s3",
        at(T0),
        86_400,
        &[],
    )
    .expect("presign")
}

/// The request target (path and query) of a full URL.
fn target(url: &str) -> String {
    url.split_once(HOST)
        .map(|(_, t)| t.to_owned())
        .unwrap_or_default()
}

fn host_only() -> Vec<(String, String)> {
    vec![("Host".to_owned(), HOST.to_owned())]
}

fn check(
    uri: &str,
    headers: &[(String, String)],
    now: SystemTime,
) -> Result<presign::S3Auth, SigV4Error> {
    let req = SignableRequest {
        method: "GET",
        uri,
        headers,
        body: b"",
    };
    presign::verify_s3(&req, lookup, &S3Policy::new("us-east-1"), now)
}

fn refuse(uri: &str, headers: &[(String, String)], now: SystemTime) -> WireError {
    check(uri, headers, now).expect_err("refused").s3()
}

/// The doc URL's query with parameter `name` set to `value` (`None`: removed), order kept.
fn with_param(uri: &str, name: &str, value: Option<&str>) -> String {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut pairs: Vec<String> = Vec::new();
    let mut seen = false;
    for p in query.split('&') {
        let k = p.split_once('=').map_or(p, |(k, _)| k);
        if k == name {
            seen = true;
            if let Some(v) = value {
                pairs.push(format!("{k}={v}"));
            }
        } else {
            pairs.push(p.to_owned());
        }
    }
    if !seen && let Some(v) = value {
        pairs.push(format!("{name}={v}"));
    }
    format!("{path}?{}", pairs.join("&"))
}

fn assert_wire(w: &WireError, status: u16, code: &str, message: &str) {
    assert_eq!(
        (w.status, w.code, w.message.as_str()),
        (status, code, message),
        "{w:?}"
    );
}

const AQPE: &str = "AuthorizationQueryParametersError";

#[test]
fn doc_vector_signature_and_botocore_url() {
    let url = doc_url();
    assert_eq!(
        url,
        format!(
            "https://{HOST}/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\
             AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=\
             20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=\
             {DOC_SIGNATURE}"
        )
    );
    let ok = check(&target(&url), &host_only(), at(T0 + 3600)).expect("valid");
    assert_eq!(ok.access_key_id, AKID);
    assert_eq!(ok.auth_type, AuthType::Presigned);
    assert_eq!(ok.signed_headers, ["host"]);
    assert_eq!(ok.signature_age, Duration::from_secs(3600));
    assert_eq!(ok.expires_at, Some(at(T0 + 86_400)));
    assert_eq!(ok.request_time, at(T0));
    assert!(matches!(ok.payload, Payload::Unsigned));
    assert_eq!(ok.scope.to_string(), "20130524/us-east-1/s3/aws4_request");
}

#[test]
fn row_01_header_and_query_auth_together() {
    let mut headers = host_only();
    headers.push((
        "Authorization".into(),
        "AWS4-HMAC-SHA256 Credential=x".into(),
    ));
    let w = refuse(&target(&doc_url()), &headers, at(T0));
    assert_wire(
        &w,
        400,
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query \
         string parameter or the Authorization header should be specified",
    );
}

#[test]
fn row_02_unknown_algorithm() {
    let uri = with_param(
        &target(&doc_url()),
        "X-Amz-Algorithm",
        Some("AWS4-HMAC-SHA512"),
    );
    let w = refuse(&uri, &host_only(), at(T0));
    assert_wire(
        &w,
        400,
        AQPE,
        "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256\"",
    );
    // Row 2 comes before row 3: a bad algorithm with a parameter missing is still row 2.
    let uri = with_param(&uri, "X-Amz-Date", None);
    assert_eq!(refuse(&uri, &host_only(), at(T0)).code, AQPE);
    assert!(
        refuse(&uri, &host_only(), at(T0))
            .message
            .starts_with("X-Amz-Algorithm only supports")
    );
    // SigV4a is a valid algorithm this server does not implement.
    let uri = with_param(
        &target(&doc_url()),
        "X-Amz-Algorithm",
        Some("AWS4-ECDSA-P256-SHA256"),
    );
    assert_eq!(refuse(&uri, &host_only(), at(T0)).status, 501);
}

#[test]
fn row_03_missing_parameters() {
    let msg = "Query-string authentication version 4 requires the X-Amz-Algorithm, \
               X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
               X-Amz-Expires parameters.";
    for name in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Expires",
    ] {
        let uri = with_param(&target(&doc_url()), name, None);
        assert_wire(&refuse(&uri, &host_only(), at(T0)), 400, AQPE, msg);
        // A repeated parameter is refused the same way.
        let uri = format!("{}&{name}=1", target(&doc_url()));
        assert_wire(&refuse(&uri, &host_only(), at(T0)), 400, AQPE, msg);
    }
}

#[test]
fn row_04_bad_date() {
    for bad in [
        "2013-05-24T00:00:00Z",
        "20130524",
        "20131324T000000Z",
        "20130524T000000",
    ] {
        let uri = with_param(&target(&doc_url()), "X-Amz-Date", Some(bad));
        assert_wire(
            &refuse(&uri, &host_only(), at(T0)),
            400,
            AQPE,
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        );
    }
}

#[test]
fn rows_05_to_07_expires_boundaries() {
    let with = |v: &str| with_param(&target(&doc_url()), "X-Amz-Expires", Some(v));
    assert_wire(
        &refuse(&with("abc"), &host_only(), at(T0)),
        400,
        AQPE,
        "X-Amz-Expires should be a number",
    );
    assert_wire(
        &refuse(&with("-1"), &host_only(), at(T0)),
        400,
        AQPE,
        "X-Amz-Expires must be non-negative",
    );
    assert_wire(
        &refuse(&with("604801"), &host_only(), at(T0)),
        400,
        AQPE,
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires \
         must be less than 604800 seconds",
    );
    // In range: the parameter checks pass and the (now wrong) signature is what fails: row 14.
    for ok in ["0", "1", "604800"] {
        assert_eq!(
            refuse(&with(ok), &host_only(), at(T0)).code,
            "SignatureDoesNotMatch",
            "{ok}"
        );
    }
    // Signed with those lifetimes, they verify; 0 only at the signing second.
    for (expires, now) in [(1, T0 + 1), (604_800, T0 + 604_800)] {
        let url = presign_at(expires, &creds(), &[]);
        check(&target(&url), &host_only(), at(now)).expect("in range");
    }
    // Generation refuses 0 and 604801 (botocore does not check; S3 refuses 604801).
    for bad in [0, 604_801] {
        let e = presign::presign_url(
            "GET",
            &format!("https://{HOST}/k"),
            &creds(),
            "us-east-1",
            "s3",
            at(T0),
            bad,
            &[],
        )
        .expect_err("out of range");
        assert_eq!(e, SigV4Error::PresignExpiresOutOfRange { expires: bad });
    }
}

fn presign_at(expires: u64, creds: &Credentials, headers: &[(String, String)]) -> String {
    presign::presign_url(
        "GET",
        &format!("https://{HOST}/test.txt"),
        creds,
        "us-east-1",
        "s3",
        at(T0),
        expires,
        headers,
    )
    .expect("presign")
}

#[test]
fn row_08_not_yet_valid() {
    let uri = target(&doc_url());
    // 15 minutes ahead is tolerated, 15 minutes and 1 second is not.
    check(&uri, &host_only(), at(T0 - 900)).expect("15 min ahead");
    let w = refuse(&uri, &host_only(), at(T0 - 901));
    assert_wire(&w, 403, "AccessDenied", "Request is not yet valid");
    assert_eq!(
        w.extras,
        [
            ("X-Amz-Date", "20130524T000000Z".to_owned()),
            ("Expires", "2013-05-25T00:00:00Z".to_owned()),
            ("ServerTime", "2013-05-23T23:44:59Z".to_owned()),
        ]
    );
}

#[test]
fn row_09_expired() {
    let uri = target(&doc_url());
    check(&uri, &host_only(), at(T0 + 86_400)).expect("last second");
    let w = refuse(&uri, &host_only(), at(T0 + 86_401));
    assert_wire(&w, 403, "AccessDenied", "Request has expired");
    assert_eq!(
        w.extras,
        [
            ("X-Amz-Expires", "86400".to_owned()),
            ("Expires", "2013-05-25T00:00:00Z".to_owned()),
            ("ServerTime", "2013-05-25T00:00:01Z".to_owned()),
        ]
    );
    // Expiry is checked before the credential (row 9 before row 10).
    let bad_cred = with_param(&uri, "X-Amz-Credential", Some("nonsense"));
    assert_eq!(
        refuse(&bad_cred, &host_only(), at(T0 + 86_401)).message,
        "Request has expired"
    );
}

#[test]
fn row_10_credential_malformed() {
    let prefix = "Error parsing the X-Amz-Credential parameter; ";
    let with = |v: &str| with_param(&target(&doc_url()), "X-Amz-Credential", Some(v));
    for bad in [
        "AKIAIOSFODNN7EXAMPLE",
        "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3",
        "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request%2Fx",
        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request",
    ] {
        assert_wire(
            &refuse(&with(bad), &host_only(), at(T0)),
            400,
            AQPE,
            &format!(
                "{prefix}the Credential is mal-formed; expecting \
                 \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
            ),
        );
    }
    // 10a: date format.
    assert_wire(
        &refuse(
            &with("AKIAIOSFODNN7EXAMPLE%2F2013-05-24%2Fus-east-1%2Fs3%2Faws4_request"),
            &host_only(),
            at(T0),
        ),
        400,
        AQPE,
        &format!(
            "{prefix}incorrect date format \"2013-05-24\". This date in the credential must be in \
             the format \"yyyyMMdd\"."
        ),
    );
    // 10b: region, with the expected region as <Region>.
    let w = refuse(
        &with("AKIAIOSFODNN7EXAMPLE%2F20130524%2Feu-west-1%2Fs3%2Faws4_request"),
        &host_only(),
        at(T0),
    );
    assert_wire(
        &w,
        400,
        AQPE,
        &format!("{prefix}the region 'eu-west-1' is wrong; expecting 'us-east-1'"),
    );
    assert_eq!(w.extras, [("Region", "us-east-1".to_owned())]);
    // 10c: service.
    assert_wire(
        &refuse(
            &with("AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fkms%2Faws4_request"),
            &host_only(),
            at(T0),
        ),
        400,
        AQPE,
        &format!("{prefix}incorrect service \"kms\". This endpoint belongs to \"s3\"."),
    );
    // 10d: terminator.
    assert_wire(
        &refuse(
            &with("AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws5_request"),
            &host_only(),
            at(T0),
        ),
        400,
        AQPE,
        &format!(
            "{prefix}incorrect terminal \"aws5_request\". This endpoint uses \"aws4_request\"."
        ),
    );
}

#[test]
fn row_11_credential_date_is_not_the_request_day() {
    let uri = with_param(
        &target(&doc_url()),
        "X-Amz-Credential",
        Some("AKIAIOSFODNN7EXAMPLE%2F20130523%2Fus-east-1%2Fs3%2Faws4_request"),
    );
    assert_wire(
        &refuse(&uri, &host_only(), at(T0)),
        400,
        AQPE,
        "Invalid credential date \"20130523\". This date is not the same as X-Amz-Date: \
         \"20130524\".",
    );
}

#[test]
fn row_12_headers_not_signed() {
    let uri = target(&doc_url());
    let mut headers = host_only();
    headers.push((
        "x-amz-server-side-encryption-customer-algorithm".into(),
        "AES256".into(),
    ));
    headers.push(("Content-MD5".into(), "1B2M2Y8AsgTpgAmY7PhCfg==".into()));
    // Accepted unsigned: content-type, range, if-*, cache-control, x-amz-content-sha256.
    headers.push(("Range".into(), "bytes=0-1".into()));
    headers.push(("Content-Type".into(), "text/plain".into()));
    headers.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
    let w = refuse(&uri, &headers, at(T0));
    assert_wire(
        &w,
        403,
        "AccessDenied",
        "There were headers present in the request which were not signed",
    );
    assert_eq!(
        w.extras,
        [(
            "HeadersNotSigned",
            "content-md5, x-amz-server-side-encryption-customer-algorithm".to_owned()
        )]
    );
    // Without them the request passes: Range and Content-Type may stay unsigned.
    headers.retain(|(n, _)| {
        !n.eq_ignore_ascii_case("content-md5") && !n.starts_with("x-amz-server-side")
    });
    check(&uri, &headers, at(T0)).expect("unsigned range and content-type are fine");
}

#[test]
fn row_13_unknown_access_key() {
    let other = Credentials::new("AKIDUNKNOWN", SECRET, None);
    let url = presign_at(3600, &other, &[]);
    let w = refuse(&target(&url), &host_only(), at(T0));
    assert_wire(
        &w,
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    );
    assert_eq!(w.extras, [("AWSAccessKeyId", "AKIDUNKNOWN".to_owned())]);
}

#[test]
fn row_14_signature_mismatch_carries_string_to_sign_and_canonical_request() {
    let uri = with_param(
        &target(&doc_url()),
        "X-Amz-Signature",
        Some(&"0".repeat(64)),
    );
    let w = refuse(&uri, &host_only(), at(T0));
    assert_wire(
        &w,
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check \
         your key and signing method.",
    );
    let names: Vec<&str> = w.extras.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "AWSAccessKeyId",
            "StringToSign",
            "SignatureProvided",
            "StringToSignBytes",
            "CanonicalRequest",
            "CanonicalRequestBytes"
        ]
    );
    // The canonical request of the S3 documentation example.
    assert_eq!(
        w.extra("CanonicalRequest"),
        Some(
            "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F\
             20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400\
             &X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
        )
    );
    assert_eq!(
        w.extra("StringToSign"),
        Some(
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
        )
    );
    assert_eq!(w.extra("SignatureProvided"), Some("0".repeat(64).as_str()));
    assert!(
        w.extra("StringToSignBytes")
            .is_some_and(|b| b.starts_with("41 57 53 34"))
    );
    // The wrong secret also ends at row 14.
    let wrong = Credentials::new(AKID, "not-the-secret", None);
    let url = presign_at(3600, &wrong, &[]);
    assert_eq!(
        refuse(&target(&url), &host_only(), at(T0)).code,
        "SignatureDoesNotMatch"
    );
}

#[test]
fn tampering_with_any_query_parameter_or_the_path_fails() {
    let uri = target(&doc_url());
    let tampered = [
        with_param(&uri, "X-Amz-Expires", Some("86401")),
        with_param(&uri, "X-Amz-Date", Some("20130524T000001Z")),
        with_param(&uri, "X-Amz-SignedHeaders", Some("host%3Brange")),
        with_param(
            &uri,
            "X-Amz-Signature",
            Some(&DOC_SIGNATURE.replace('a', "b")),
        ),
        with_param(&uri, "versionId", Some("1")),
        uri.replace("/test.txt", "/test.txu"),
        uri.replace("/test.txt", "/Test.txt"),
    ];
    let mut headers = host_only();
    headers.push(("Range".into(), "bytes=0-1".into()));
    for t in &tampered {
        let e = check(t, &headers, at(T0 + 1)).expect_err(t);
        assert!(
            matches!(e, SigV4Error::SignatureMismatch { .. }),
            "{t}: {e:?}"
        );
    }
    // Another host.
    let other = vec![("Host".to_owned(), "otherbucket.s3.amazonaws.com".to_owned())];
    assert!(matches!(
        check(&uri, &other, at(T0)),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
    // Another method.
    let req = SignableRequest {
        method: "PUT",
        uri: &uri,
        headers: &host_only(),
        body: b"",
    };
    assert!(matches!(
        presign::verify_s3(&req, lookup, &S3Policy::new("us-east-1"), at(T0)),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

#[test]
fn session_token_and_operation_parameters_round_trip() {
    let temp = Credentials::new("ASIATEMP", SECRET, Some("token/with+chars=".to_owned()));
    let url = presign::presign_url(
        "GET",
        &format!("https://{HOST}/dir/a%20b.txt?versionId=v1&response-content-type=text/plain"),
        &temp,
        "us-east-1",
        "s3",
        at(T0),
        3600,
        &[],
    )
    .expect("presign");
    assert!(
        url.contains(
            "/dir/a%20b.txt?versionId=v1&response-content-type=text%2Fplain&X-Amz-Algorithm="
        ),
        "{url}"
    );
    assert!(
        url.contains("&X-Amz-Security-Token=token%2Fwith%2Bchars%3D&X-Amz-Signature="),
        "{url}"
    );
    let lookup_temp = |id: &str| (id == "ASIATEMP").then(|| temp.clone());
    let req_uri = target(&url);
    let req = SignableRequest {
        method: "GET",
        uri: &req_uri,
        headers: &host_only(),
        body: b"",
    };
    let ok =
        presign::verify_s3(&req, lookup_temp, &S3Policy::new("us-east-1"), at(T0)).expect("valid");
    assert_eq!(ok.access_key_id, "ASIATEMP");
    // A changed or missing token is refused.
    for uri in [
        with_param(&req_uri, "X-Amz-Security-Token", Some("other")),
        with_param(&req_uri, "X-Amz-Security-Token", None),
    ] {
        let req = SignableRequest {
            method: "GET",
            uri: &uri,
            headers: &host_only(),
            body: b"",
        };
        let e = presign::verify_s3(&req, lookup_temp, &S3Policy::new("us-east-1"), at(T0))
            .expect_err("token");
        assert!(
            matches!(e, SigV4Error::InvalidSecurityToken { .. }),
            "{e:?}"
        );
        assert_eq!(e.s3().code, "InvalidToken");
    }
}

#[test]
fn sse_c_headers_are_signed_like_botocore() {
    let ssec = vec![
        (
            "x-amz-server-side-encryption-customer-algorithm".to_owned(),
            "AES256".to_owned(),
        ),
        (
            "x-amz-server-side-encryption-customer-key".to_owned(),
            "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=".to_owned(),
        ),
        (
            "x-amz-server-side-encryption-customer-key-MD5".to_owned(),
            "7aZbQW1PkBdXfdjMrGQMXA==".to_owned(),
        ),
    ];
    let url = presign_at(3600, &creds(), &ssec);
    assert!(
        url.contains(
            "X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption-customer-algorithm%3B\
             x-amz-server-side-encryption-customer-key%3Bx-amz-server-side-encryption-customer-key-md5"
        ),
        "{url}"
    );
    assert!(!url.contains("MDEyMzQ1"), "the key stays out of the URL");
    let mut headers = host_only();
    headers.extend(ssec.iter().cloned());
    let ok = check(&target(&url), &headers, at(T0)).expect("with the three headers");
    assert!(ok.is_signed("x-amz-server-side-encryption-customer-key"));
    // Without the headers the signed header list names absent headers: the signature cannot match.
    assert!(matches!(
        check(&target(&url), &host_only(), at(T0)),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

#[test]
fn default_port_is_dropped_from_the_signed_host_and_others_kept() {
    let a = presign::presign_url(
        "GET",
        &format!("https://{HOST}:443/test.txt"),
        &creds(),
        "us-east-1",
        "s3",
        at(T0),
        86_400,
        &[],
    )
    .expect("presign");
    assert!(a.ends_with(DOC_SIGNATURE), "{a}");
    let b = presign::presign_url(
        "GET",
        "http://127.0.0.1:9000/b/k",
        &creds(),
        "us-east-1",
        "s3",
        at(T0),
        60,
        &[],
    )
    .expect("presign");
    let headers = vec![("Host".to_owned(), "127.0.0.1:9000".to_owned())];
    let uri = b.strip_prefix("http://127.0.0.1:9000").unwrap_or_default();
    check(uri, &headers, at(T0)).expect("host with port");
}

// ---- S3 header auth ----

fn header_signed(extra: &[(&str, &str)], body: &[u8]) -> Vec<(String, String)> {
    let mut headers = host_only();
    for (n, v) in extra {
        headers.push(((*n).to_owned(), (*v).to_owned()));
    }
    let req = SignableRequest {
        method: "PUT",
        uri: "/test.txt",
        headers: &headers,
        body,
    };
    let added = sigv4::sign(&req, &creds(), "us-east-1", "s3", at(T0)).expect("sign");
    headers.extend(added);
    headers
}

fn check_put(
    headers: &[(String, String)],
    body: &[u8],
    now: u64,
) -> Result<presign::S3Auth, SigV4Error> {
    let req = SignableRequest {
        method: "PUT",
        uri: "/test.txt",
        headers,
        body,
    };
    presign::verify_s3(&req, lookup, &S3Policy::new("us-east-1"), at(now))
}

#[test]
fn header_auth_content_sha256_rules() {
    let body = b"hello";
    let headers = header_signed(&[], body);
    let ok = check_put(&headers, body, T0 + 60).expect("signed body");
    assert_eq!(ok.auth_type, AuthType::Header);
    assert!(matches!(ok.payload, Payload::Signed));
    assert_eq!(ok.signature_age, Duration::from_secs(60));

    // The body does not match the signed hash.
    let w = check_put(&headers, b"hellO", T0).expect_err("body").s3();
    assert_wire(
        &w,
        400,
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
    assert_eq!(w.extras.len(), 2);

    // UNSIGNED-PAYLOAD is accepted for S3.
    let headers = header_signed(&[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], body);
    let ok = check_put(&headers, b"anything", T0).expect("unsigned");
    assert!(matches!(ok.payload, Payload::Unsigned));

    // Missing header.
    let mut headers = header_signed(&[], body);
    headers.retain(|(n, _)| n != "x-amz-content-sha256");
    assert_wire(
        &check_put(&headers, body, T0).expect_err("missing").s3(),
        400,
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
    );

    // Garbage value.
    let headers = header_signed(&[("x-amz-content-sha256", "nope")], body);
    let w = check_put(&headers, body, T0).expect_err("garbage").s3();
    assert_eq!((w.status, w.code), (400, "InvalidArgument"));
    assert_eq!(w.extra("ArgumentValue"), Some("nope"));

    // STREAMING-* hands over to the chunked decoder.
    let headers = header_signed(
        &[
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-decoded-content-length", "5"),
        ],
        b"",
    );
    let ok = check_put(&headers, b"", T0).expect("streaming");
    let Payload::Streaming(s) = ok.payload else {
        panic!("not streaming");
    };
    assert_eq!(s.decoded_content_length, Some(5));
    assert_eq!(s.amz_date, "20130524T000000Z");
}

#[test]
fn header_auth_refusals_render_s3_codes() {
    let body = b"x";
    let headers = header_signed(&[], body);
    // An unsigned x-amz-* header.
    let mut h = headers.clone();
    h.push(("x-amz-meta-color".into(), "red".into()));
    let w = check_put(&h, body, T0).expect_err("unsigned meta").s3();
    assert_eq!(w.extra("HeadersNotSigned"), Some("x-amz-meta-color"));
    // Clock skew: 403 RequestTimeTooSkewed.
    let w = check_put(&headers, body, T0 + 901).expect_err("skew").s3();
    assert_wire(
        &w,
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    );
    assert_eq!(
        w.extras,
        [
            ("RequestTime", "20130524T000000Z".to_owned()),
            ("ServerTime", "2013-05-24T00:15:01Z".to_owned()),
            ("MaxAllowedSkewMilliseconds", "900000".to_owned()),
        ]
    );
    // Wrong secret.
    let w = check_put(&headers, b"x", T0).map(|_| ());
    assert!(w.is_ok());
    let mut h = headers.clone();
    for (n, v) in &mut h {
        if n == "Authorization" {
            *v = v.replace("Signature=", "Signature=0");
            v.pop();
        }
    }
    assert_eq!(
        check_put(&h, body, T0).expect_err("sig").s3().code,
        "SignatureDoesNotMatch"
    );
    // Region in the header scope.
    let mut h = headers.clone();
    for (n, v) in &mut h {
        if n == "Authorization" {
            *v = v.replace("/us-east-1/", "/eu-west-1/");
        }
    }
    let w = check_put(&h, body, T0).expect_err("region").s3();
    assert_wire(
        &w,
        400,
        "AuthorizationHeaderMalformed",
        "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting \
         'us-east-1'",
    );
    // Unknown key.
    let mut h = headers.clone();
    for (n, v) in &mut h {
        if n == "Authorization" {
            *v = v.replace(AKID, "AKIDNOBODY");
        }
    }
    let w = check_put(&h, body, T0).expect_err("unknown").s3();
    assert_eq!(w.code, "InvalidAccessKeyId");
    assert_eq!(w.extra("AWSAccessKeyId"), Some("AKIDNOBODY"));
    // No auth at all.
    let w = check_put(&host_only(), body, T0)
        .expect_err("anonymous")
        .s3();
    assert_eq!((w.status, w.code), (403, "AccessDenied"));
}

#[test]
fn kms_rendering_of_the_same_failures_stays_json_400() {
    let w = refuse(&target(&doc_url()), &host_only(), at(T0 + 86_401));
    assert_eq!(w.status, 403);
    let e = check(&target(&doc_url()), &host_only(), at(T0 + 86_401)).expect_err("expired");
    let k = e.kms();
    assert_eq!(k.status, 400);
    assert!(k.extras.is_empty());
}

// ---- botocore ----

/// botocore 1.43.11's `generate_presigned_url` for the cases of `tests/interop/presign_botocore.py`.
const BOTOCORE_URLS: [&str; 4] = [
    "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    "https://examplebucket.s3.amazonaws.com/dir/a%20b%2Bc~.txt?versionId=v1&response-content-type=text%2Fplain&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=098737157c8e7ffac21c8753167543313231c7ba060540cb51b32bad1b49e621",
    "https://examplebucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption-customer-algorithm%3Bx-amz-server-side-encryption-customer-key%3Bx-amz-server-side-encryption-customer-key-md5&X-Amz-Signature=d83c1953f151b9371df43b4e320f7869c5655c73838d7010de041fe2a477e2d4",
    "http://127.0.0.1:9000/b/x/y.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIATEMPEXAMPLE%2F20130524%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2Ftoken%2B%3D&X-Amz-Signature=17c1d42364ceb20a2ce251c1066b0191a80ddb27324a9538c121988d0a5c13fd",
];

fn ours() -> Vec<String> {
    let ssec = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        (
            "x-amz-server-side-encryption-customer-key",
            "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MGE=",
        ),
        (
            "x-amz-server-side-encryption-customer-key-MD5",
            "0XjfRl8/IUdgMRxJg7+0tg==",
        ),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    let temp = Credentials::new(
        "ASIATEMPEXAMPLE",
        SECRET,
        Some("FQoGZXIvYXdzEXAMPLE/token+=".to_owned()),
    );
    let p = |method: &str,
             url: &str,
             creds: &Credentials,
             region: &str,
             exp: u64,
             h: &[(String, String)]| {
        presign::presign_url(method, url, creds, region, "s3", at(T0), exp, h).expect("presign")
    };
    vec![
        p(
            "GET",
            &format!("https://{HOST}/test.txt"),
            &creds(),
            "us-east-1",
            86_400,
            &[],
        ),
        p(
            "GET",
            &format!(
                "https://{HOST}/dir/a%20b%2Bc~.txt?versionId=v1&response-content-type=text/plain"
            ),
            &creds(),
            "us-east-1",
            3600,
            &[],
        ),
        p(
            "GET",
            &format!("https://{HOST}/k"),
            &creds(),
            "us-east-1",
            60,
            &ssec,
        ),
        p(
            "PUT",
            "http://127.0.0.1:9000/b/x/y.bin",
            &temp,
            "eu-west-1",
            604_800,
            &[],
        ),
    ]
}

#[test]
fn matches_botocore_golden_urls() {
    assert_eq!(ours(), BOTOCORE_URLS);
}

/// The same cases against the botocore installed here, when there is one (the repo venv, else
/// `python3`); skipped with a message otherwise.
#[test]
fn matches_live_botocore_when_available() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join(".venv/bin/python");
    let py = if venv.exists() {
        venv.into_os_string()
    } else {
        "python3".into()
    };
    let out = std::process::Command::new(&py)
        .arg(root.join("tests/interop/presign_botocore.py"))
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!(
                "skip: botocore not usable: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return;
        }
        Err(e) => {
            println!("skip: no Python ({e})");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let theirs: Vec<&str> = stdout.lines().collect();
    assert_eq!(ours(), theirs);
}
