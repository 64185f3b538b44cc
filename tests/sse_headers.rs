//! `s3crypt::sse::headers` through the public API: random header sets never panic, every answer is an S3
//! error or a consistent request, and the customer key never shows up in `Debug` or in an error.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use s3crypt::primitives::hash;
use s3crypt::sse::headers::{
    BUCKET_KEY_ENABLED, COPY_SOURCE_CUSTOMER_ALGORITHM, COPY_SOURCE_CUSTOMER_KEY,
    COPY_SOURCE_CUSTOMER_KEY_MD5, CUSTOMER_ALGORITHM, CUSTOMER_KEY, CUSTOMER_KEY_MD5,
    ENCRYPTION_CONTEXT, KMS_KEY_ID, SERVER_SIDE_ENCRYPTION, check_read, check_upload_part,
    copy_source_customer_key_headers,
};
use s3crypt::sse::{
    Headers, S3Error, SseRequest, StoredSse, Transport, customer_key_headers, parse_copy_source,
    parse_read, parse_write, response_headers,
};

/// The secret every generated request may carry; it must never be rendered.
const SECRET: [u8; 32] = [
    0xC3, 0x5A, 0x91, 0x07, 0xEE, 0x42, 0x18, 0xB6, 0x7D, 0x29, 0xF0, 0x63, 0x8C, 0x14, 0xA5, 0x3B,
    0xD2, 0x6E, 0x01, 0x9F, 0x47, 0xB8, 0x2C, 0xE5, 0x70, 0x1A, 0x83, 0xFD, 0x36, 0xC9, 0x54, 0xAB,
];

const NAMES: [&str; 10] = [
    SERVER_SIDE_ENCRYPTION,
    KMS_KEY_ID,
    ENCRYPTION_CONTEXT,
    BUCKET_KEY_ENABLED,
    CUSTOMER_ALGORITHM,
    CUSTOMER_KEY,
    CUSTOMER_KEY_MD5,
    COPY_SOURCE_CUSTOMER_ALGORITHM,
    COPY_SOURCE_CUSTOMER_KEY,
    COPY_SOURCE_CUSTOMER_KEY_MD5,
];

fn secret_b64() -> String {
    STANDARD.encode(SECRET)
}

fn secret_renderings() -> Vec<String> {
    let b64 = secret_b64();
    vec![
        hex::encode(SECRET),
        hex::encode(&SECRET[..8]),
        hex::encode_upper(&SECRET[..8]),
        b64.clone(),
        b64[..16].to_owned(),
        format!("{:?}", &SECRET[..4])
            .trim_matches(['[', ']'])
            .to_owned(),
    ]
}

fn assert_no_secret(rendered: &str) {
    for s in secret_renderings() {
        assert!(
            !rendered.contains(&s),
            "secret rendering {s:?} in {rendered}"
        );
    }
}

/// A known header name with random letter case, or an arbitrary name.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0..NAMES.len(), proptest::collection::vec(any::<bool>(), 64)).prop_map(|(i, upper)| {
            NAMES[i]
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect()
        }),
        1 => "[a-zA-Z0-9-]{0,40}",
        1 => any::<String>(),
    ]
}

/// Values that reach every branch: the secret, its MD5, other keys, algorithm names, contexts, garbage.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(secret_b64()),
        2 => Just(STANDARD.encode(hash::md5(&SECRET))),
        1 => Just("AES256".to_owned()),
        1 => Just("aws:kms".to_owned()),
        1 => Just("aws:kms:dsse".to_owned()),
        1 => Just("TRUE".to_owned()),
        1 => Just(String::new()),
        1 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| STANDARD.encode(b)),
        1 => proptest::collection::hash_map("[a-z:]{0,12}", ".{0,12}", 0..4)
            .prop_map(|m| STANDARD.encode(serde_json::to_vec(&m).unwrap_or_default())),
        1 => ".{0,12}".prop_map(|s| STANDARD.encode(s)),
        1 => any::<String>(),
        1 => (" *", "[A-Za-z0-9+/=]{0,60}", "[ \t]*").prop_map(|(a, b, c)| format!("{a}{b}{c}")),
    ]
}

/// The headers of a well-formed request of each kind: SSE-C, SSE-C copy source, SSE-KMS, DSSE-KMS, SSE-S3.
fn well_formed(kind: usize) -> Vec<(String, String)> {
    let context = STANDARD.encode(br#"{"department":"finance"}"#);
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    };
    match kind {
        0 => customer_key_headers(&SECRET).to_vec(),
        1 => copy_source_customer_key_headers(&SECRET).to_vec(),
        2 => pairs(&[
            (SERVER_SIDE_ENCRYPTION, "aws:kms"),
            (KMS_KEY_ID, "alias/x"),
            (ENCRYPTION_CONTEXT, &context),
            (BUCKET_KEY_ENABLED, "true"),
        ]),
        3 => pairs(&[
            (SERVER_SIDE_ENCRYPTION, "aws:kms:dsse"),
            (KMS_KEY_ID, "alias/x"),
            (ENCRYPTION_CONTEXT, &context),
        ]),
        _ => pairs(&[(SERVER_SIDE_ENCRYPTION, "AES256")]),
    }
}

/// Most of a well-formed request of one or two kinds, plus random headers, in random order.
fn header_set() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        0..5usize,
        proptest::option::weighted(0.2, 0..5usize),
        proptest::collection::vec(proptest::bool::weighted(0.85), 8),
        proptest::collection::vec((name(), value()), 0..4),
        any::<proptest::sample::Index>(),
    )
        .prop_map(|(kind, other, keep, random, at)| {
            let mut pairs: Vec<(String, String)> = well_formed(kind)
                .into_iter()
                .chain(other.map(well_formed).unwrap_or_default())
                .zip(keep.into_iter().cycle())
                .filter(|(_, k)| *k)
                .map(|(p, _)| p)
                .collect();
            let mid = at.index(pairs.len() + 1);
            pairs.splice(
                mid..mid,
                random.into_iter().filter(secret_only_in_key_header),
            );
            pairs
        })
}

/// The secret may travel only as the value of a customer-key header: anywhere else it is not a key to the
/// parser (a KMS key id, a metadata value…) and may legitimately be echoed.
fn secret_only_in_key_header((name, value): &(String, String)) -> bool {
    let name = name.to_ascii_lowercase();
    !value.contains(&secret_b64()) || (name.contains("customer-key") && !name.contains("-md5"))
}

fn check_error(e: &S3Error) {
    assert!(matches!(e.status(), 400 | 403), "{e:?}");
    assert!(
        !e.code().as_str().is_empty() && !e.message().is_empty(),
        "{e:?}"
    );
    for r in [format!("{e:?}"), e.to_string(), e.to_xml()] {
        assert_no_secret(&r);
    }
}

fn check_request(r: &SseRequest) {
    assert_no_secret(&format!("{r:?}"));
    assert_no_secret(&format!("{r:#?}"));
    if let SseRequest::Customer(k) = r {
        assert_eq!(hash::md5(k.key.expose_secret()), k.key_md5);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(target_arch = "aarch64") { 64 } else { 512 }))]

    /// Arbitrary header sets: no panic, errors are S3 errors without the key, requests are consistent.
    #[test]
    fn random_header_sets_never_panic(pairs in header_set()) {
        let h = Headers::new(pairs);
        for t in [Transport::Secure, Transport::Insecure] {
            match parse_write(&h, t) {
                Ok(r) => {
                    check_request(&r);
                    // A request that carries SSE-C or KMS headers over plain HTTP is never accepted.
                    if t == Transport::Insecure {
                        prop_assert!(matches!(r, SseRequest::None | SseRequest::S3));
                    }
                }
                Err(e) => check_error(&e),
            }
            for result in [parse_read(&h, t), parse_copy_source(&h, t)] {
                match result {
                    Ok(Some(k)) => {
                        prop_assert_eq!(t, Transport::Secure);
                        prop_assert_eq!(hash::md5(k.key.expose_secret()), k.key_md5);
                        assert_no_secret(&format!("{k:?}"));
                        for stored in [StoredSse::S3, StoredSse::Customer { key_md5: [0; 16] }] {
                            if let Err(e) = check_read(&stored, Some(&k), t) {
                                check_error(&e);
                            }
                        }
                        if let Err(e) = check_upload_part(Some(&[0; 16]), Some(&k)) {
                            check_error(&e);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => check_error(&e),
                }
            }
        }
    }

    /// Whatever else is in the request, `Debug` of the headers never shows a customer key value.
    #[test]
    fn headers_debug_redacts_the_key(pairs in header_set(), copy in any::<bool>(), upper in any::<bool>()) {
        let mut name = if copy { COPY_SOURCE_CUSTOMER_KEY } else { CUSTOMER_KEY }.to_owned();
        if upper {
            name = name.to_uppercase();
        }
        let mut all = pairs;
        all.push((name, format!(" {} ", secret_b64())));
        let h = Headers::new(all);
        assert_no_secret(&format!("{h:?}"));
        assert_no_secret(&format!("{h:#?}"));
    }

    /// A valid trio under any letter case of its names parses to the same key.
    #[test]
    fn valid_trio_parses_in_any_case(key in any::<[u8; 32]>(), mask in proptest::collection::vec(any::<bool>(), 64)) {
        let flip = |s: String| -> String {
            s.chars().zip(mask.iter().cycle()).map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c }).collect()
        };
        let h = Headers::new(customer_key_headers(&key).map(|(n, v)| (flip(n), v)));
        match parse_write(&h, Transport::Secure) {
            Ok(SseRequest::Customer(k)) => prop_assert_eq!(k.key.expose_secret(), &key),
            other => prop_assert!(false, "{:?}", other),
        }
        let h = Headers::new(copy_source_customer_key_headers(&key).map(|(n, v)| (flip(n), v)));
        let k = parse_copy_source(&h, Transport::Secure).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(k.map(|k| *k.key.expose_secret()), Some(key));
    }
}

#[test]
fn huge_values_are_refused_without_panic() {
    let huge_key = STANDARD.encode(vec![0x41u8; 3 << 20]);
    let h = Headers::from([
        (CUSTOMER_ALGORITHM, "AES256"),
        (CUSTOMER_KEY, huge_key.as_str()),
        (CUSTOMER_KEY_MD5, "AAAAAAAAAAAAAAAAAAAAAA=="),
    ]);
    let e = parse_write(&h, Transport::Secure).expect_err("huge key");
    assert_eq!(
        (e.status(), e.code().as_str(), e.message()),
        (
            400,
            "InvalidArgument",
            "The calculated MD5 hash of the key did not match the hash that was provided."
        )
    );
    let huge_context = STANDARD.encode("{".repeat(1 << 20));
    let h = Headers::from([
        (SERVER_SIDE_ENCRYPTION, "aws:kms"),
        (ENCRYPTION_CONTEXT, huge_context.as_str()),
    ]);
    assert_eq!(
        parse_write(&h, Transport::Secure)
            .expect_err("huge context")
            .status(),
        400
    );
}

#[test]
fn non_ascii_names_and_values_are_handled() {
    let h = Headers::from([
        ("x-amz-server-side-encryption-customer-kéy", "ключ"),
        ("\u{0}", "\u{0}"),
        ("X-AMZ-SERVER-SIDE-ENCRYPTİON", "AES256"), // dotted capital I: not an ASCII case variant
        (CUSTOMER_ALGORITHM, "AES256\u{a0}"),       // NBSP is not HTTP whitespace: not AES256
        (CUSTOMER_KEY, "\u{1F511}"),
        (CUSTOMER_KEY_MD5, "\u{1F511}"),
    ]);
    let e = parse_write(&h, Transport::Secure).expect_err("algorithm");
    assert_eq!(e.code(), "InvalidEncryptionAlgorithmError");
    assert!(format!("{h:?}").contains("[REDACTED]"));
}

#[test]
fn request_round_trips_into_response_headers() {
    let h = Headers::new(customer_key_headers(&SECRET));
    let Ok(SseRequest::Customer(k)) = parse_write(&h, Transport::Secure) else {
        panic!("expected SSE-C");
    };
    let stored = StoredSse::Customer { key_md5: k.key_md5 };
    let resp = response_headers(&stored);
    assert_eq!(
        resp,
        vec![
            (
                "x-amz-server-side-encryption-customer-algorithm".to_owned(),
                "AES256".to_owned()
            ),
            (
                "x-amz-server-side-encryption-customer-key-MD5".to_owned(),
                STANDARD.encode(hash::md5(&SECRET))
            ),
        ]
    );
    assert_no_secret(&format!("{resp:?}"));
    let read = parse_read(&h, Transport::Secure)
        .expect("read")
        .expect("key");
    assert_eq!(check_read(&stored, Some(&read), Transport::Secure), Ok(()));
}
