//! The KMS HTTP protocol, driven through the sans-I/O `KmsServer::handle` with SigV4-signed requests.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use s3crypt::aws::clock::{Clock, ManualClock};
use s3crypt::aws::sigv4::{self, Credentials, SignableRequest};
use s3crypt::kms::server::{AccessKey, KmsServer};
use s3crypt::kms::*;
use serde_json::{Value, json};

const NOW: Duration = Duration::from_secs(1_790_000_000);

fn server() -> (KmsServer, ManualClock) {
    let clock = ManualClock::new(NOW);
    let kms = MockKms::builder()
        .clock(Arc::new(clock.clone()))
        .quota(quota::QuotaConfig::per_second(5))
        .build()
        .expect("kms");
    let keys = vec![
        AccessKey::parse("AKIDALICE:alice-secret", "111122223333").expect("key"),
        AccessKey::parse(
            "AKIDBOB:bob-secret:arn:aws:iam::111122223333:user/bob",
            "111122223333",
        )
        .expect("key"),
    ];
    (
        KmsServer::with_clock(kms, keys, Arc::new(clock.clone())),
        clock,
    )
}

fn request(
    s: &KmsServer,
    clock: &ManualClock,
    creds: Option<&Credentials>,
    op: &str,
    body: &Value,
) -> (u16, Value) {
    let body = body.to_string().into_bytes();
    let mut headers = vec![
        ("Host".to_owned(), "127.0.0.1:4599".to_owned()),
        (
            "Content-Type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        ("X-Amz-Target".to_owned(), format!("TrentService.{op}")),
    ];
    if let Some(c) = creds {
        let req = SignableRequest {
            method: "POST",
            uri: "/",
            headers: &headers,
            body: &body,
        };
        headers.extend(
            sigv4::sign(&req, c, "us-east-1", "kms", UNIX_EPOCH + clock.now()).expect("sign"),
        );
    }
    let r = s.handle("POST", "/", &headers, &body);
    assert!(
        r.headers
            .iter()
            .any(|(n, v)| n == "Content-Type" && v == "application/x-amz-json-1.1")
    );
    (
        r.status,
        serde_json::from_slice(&r.body).expect("json body"),
    )
}

#[test]
fn json_protocol_round_trip_and_errors() {
    let (s, clock) = server();
    let alice = Credentials::new("AKIDALICE", "alice-secret", None);
    let (st, created) = request(
        &s,
        &clock,
        Some(&alice),
        "CreateKey",
        &json!({"Description": "wire"}),
    );
    assert_eq!(st, 200, "{created}");
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("id")
        .to_owned();
    let (st, g) = request(
        &s,
        &clock,
        Some(&alice),
        "GenerateDataKey",
        &json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!(st, 200);
    assert!(
        g["KeyId"]
            .as_str()
            .expect("arn")
            .starts_with("arn:aws:kms:")
    );
    let (st, d) = request(
        &s,
        &clock,
        Some(&alice),
        "Decrypt",
        &json!({"CiphertextBlob": g["CiphertextBlob"], "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!((st, &d["Plaintext"]), (200, &g["Plaintext"]));
    let (st, e) = request(
        &s,
        &clock,
        Some(&alice),
        "Decrypt",
        &json!({"CiphertextBlob": g["CiphertextBlob"], "EncryptionContext": {"a": "c"}}),
    );
    assert_eq!(
        (st, e["__type"].as_str()),
        (400, Some("InvalidCiphertextException"))
    );
    assert!(e["message"].is_string());
    let (st, e) = request(
        &s,
        &clock,
        Some(&alice),
        "GenerateDataKey",
        &json!({"KeyId": 42}),
    );
    assert_eq!(
        (st, e["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (st, e) = request(&s, &clock, Some(&alice), "Frobnicate", &json!({}));
    assert_eq!(
        (st, e["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let (st, e) = request(
        &s,
        &clock,
        Some(&alice),
        "DescribeKey",
        &json!({"KeyId": "alias/missing"}),
    );
    assert_eq!((st, e["__type"].as_str()), (400, Some("NotFoundException")));

    // Throttling: HTTP 400 ThrottlingException with AWS's message once the quota (5/s) is spent.
    let mut codes = Vec::new();
    for _ in 0..10 {
        let (st, v) = request(
            &s,
            &clock,
            Some(&alice),
            "GenerateDataKey",
            &json!({"KeyId": key_id, "KeySpec": "AES_256"}),
        );
        codes.push((st, v["__type"].as_str().unwrap_or("ok").to_owned()));
    }
    assert!(
        codes.contains(&(400, "ThrottlingException".to_owned())),
        "{codes:?}"
    );
}

#[test]
fn sigv4_is_required_and_checked() {
    let (s, clock) = server();
    let body = json!({});
    let (st, e) = request(&s, &clock, None, "ListKeys", &body);
    assert_eq!(
        (st, e["__type"].as_str()),
        (400, Some("MissingAuthenticationTokenException"))
    );
    let (_, e) = request(
        &s,
        &clock,
        Some(&Credentials::new("AKIDALICE", "wrong", None)),
        "ListKeys",
        &body,
    );
    assert_eq!(e["__type"], "InvalidSignatureException");
    let (_, e) = request(
        &s,
        &clock,
        Some(&Credentials::new("AKIDNOBODY", "x", None)),
        "ListKeys",
        &body,
    );
    assert_eq!(e["__type"], "UnrecognizedClientException");
    assert!(!e.to_string().contains("alice-secret"));

    // A request signed 16 minutes ago is refused.
    let alice = Credentials::new("AKIDALICE", "alice-secret", None);
    let bytes = body.to_string().into_bytes();
    let mut headers = vec![
        ("Host".to_owned(), "h".to_owned()),
        (
            "X-Amz-Target".to_owned(),
            "TrentService.ListKeys".to_owned(),
        ),
        (
            "Content-Type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
    ];
    let req = SignableRequest {
        method: "POST",
        uri: "/",
        headers: &headers,
        body: &bytes,
    };
    headers.extend(sigv4::sign(&req, &alice, "us-east-1", "kms", UNIX_EPOCH + NOW).expect("sign"));
    assert_eq!(s.handle("POST", "/", &headers, &bytes).status, 200);
    clock.advance(Duration::from_secs(16 * 60));
    let r = s.handle("POST", "/", &headers, &bytes);
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["__type"], "InvalidSignatureException");
    // A target swapped after signing fails the signature.
    clock.set(NOW);
    let mut swapped = headers.clone();
    swapped[1].1 = "TrentService.CreateKey".into();
    let v: Value =
        serde_json::from_slice(&s.handle("POST", "/", &swapped, &bytes).body).expect("json");
    assert_eq!(v["__type"], "InvalidSignatureException");
}

#[test]
fn access_keys_map_to_principals_for_key_policies() {
    let (s, clock) = server();
    let alice = Credentials::new("AKIDALICE", "alice-secret", None);
    let bob = Credentials::new("AKIDBOB", "bob-secret", None);
    let policy = json!({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/AKIDALICE"}, "Action": "kms:*", "Resource": "*"}
    ]})
    .to_string();
    let (st, created) = request(
        &s,
        &clock,
        Some(&alice),
        "CreateKey",
        &json!({"Policy": policy}),
    );
    assert_eq!(st, 200, "{created}");
    let key_id = created["KeyMetadata"]["KeyId"].clone();
    let (st, _) = request(
        &s,
        &clock,
        Some(&alice),
        "DescribeKey",
        &json!({"KeyId": key_id}),
    );
    assert_eq!(st, 200);
    let (st, e) = request(
        &s,
        &clock,
        Some(&bob),
        "DescribeKey",
        &json!({"KeyId": key_id}),
    );
    assert_eq!(
        (st, e["__type"].as_str()),
        (400, Some("AccessDeniedException"))
    );
    assert!(
        e["message"]
            .as_str()
            .expect("msg")
            .contains("arn:aws:iam::111122223333:user/bob")
    );
}

#[test]
fn checks_before_the_body_refuse_what_needs_no_body() {
    let (s, clock) = server();
    let body = b"{}".to_vec();
    let mut headers = vec![
        ("Host".to_owned(), "h".to_owned()),
        (
            "X-Amz-Target".to_owned(),
            "TrentService.ListKeys".to_owned(),
        ),
        (
            "Content-Type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
    ];
    let code = |r: Option<s3crypt::kms::server::HttpResponse>| {
        r.map(|r| {
            let v: Value = serde_json::from_slice(&r.body).expect("json");
            (
                r.status,
                v["__type"].as_str().unwrap_or_default().to_owned(),
            )
        })
    };
    assert_eq!(
        code(s.check_before_body("POST", "/", &headers)),
        Some((400, "MissingAuthenticationTokenException".to_owned()))
    );
    let sign = |creds: &Credentials, headers: &[(String, String)]| {
        let req = SignableRequest {
            method: "POST",
            uri: "/",
            headers,
            body: &body,
        };
        let mut h = headers.to_vec();
        h.extend(
            sigv4::sign(&req, creds, "us-east-1", "kms", UNIX_EPOCH + clock.now()).expect("sign"),
        );
        h
    };
    let nobody = sign(
        &Credentials::new("AKIDNOBODY", "nobody-secret", None),
        &headers,
    );
    let r = code(s.check_before_body("POST", "/", &nobody));
    assert_eq!(r, Some((400, "UnrecognizedClientException".to_owned())));
    // A known key passes; so does a wrong secret, which only the body-covering signature can show.
    let alice = sign(
        &Credentials::new("AKIDALICE", "alice-secret", None),
        &headers,
    );
    assert_eq!(code(s.check_before_body("POST", "/", &alice)), None);
    let wrong = sign(&Credentials::new("AKIDALICE", "wrong", None), &headers);
    assert_eq!(code(s.check_before_body("POST", "/", &wrong)), None);
    assert_eq!(s.handle("POST", "/", &alice, &body).status, 200);
    // Malformed, or expired: refused before the body.
    headers.push((
        "Authorization".to_owned(),
        "AWS4-HMAC-SHA256 Credential=AKIDALICE".to_owned(),
    ));
    assert_eq!(
        code(s.check_before_body("POST", "/", &headers)),
        Some((400, "IncompleteSignatureException".to_owned()))
    );
    clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(
        code(s.check_before_body("POST", "/", &alice)),
        Some((400, "InvalidSignatureException".to_owned()))
    );
}
