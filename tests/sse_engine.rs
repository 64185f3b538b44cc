//! The SSE engine end to end on a temporary home: every mode, ranges at segment boundaries, S3's SSE-C
//! and policy errors, tampering of stored bytes, rotation and reseal, crashes mid-PUT, concurrency, and
//! the KMS calls saved by bucket keys.

use std::io::{self, Read};
use std::sync::Arc;

use s3crypt::iam::{Principal, RequestContext};
use s3crypt::kms::{Kms, MockKms};
use s3crypt::primitives::chunked::CHUNK_SIZE;
use s3crypt::range::ByteRange;
use s3crypt::sse::S3Error;
use s3crypt::sse::bucket::{BlockedType, BucketEncryption, DefaultSse};
use s3crypt::sse::engine::{SseEngine, object_file_name};
use s3crypt::sse::headers::{Headers, customer_key_headers};

fn setup() -> (tempfile::TempDir, SseEngine, MockKms) {
    let dir = tempfile::tempdir().expect("tmp");
    let kms = MockKms::in_memory();
    let e = SseEngine::new(dir.path(), Arc::new(kms.clone())).expect("engine");
    let mut enc = BucketEncryption::new_bucket_default();
    enc.blocked = vec![BlockedType::None];
    e.create_bucket(&tls(), "bkt", Some(enc)).expect("bucket");
    (dir, e, kms)
}

fn h(pairs: &[(&str, &str)]) -> Headers {
    Headers::new(
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned())),
    )
}

fn sse_c(key: &[u8; 32]) -> Vec<(String, String)> {
    customer_key_headers(key).to_vec()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + n) as u8).collect()
}

fn put(
    e: &SseEngine,
    key: &str,
    hs: &Headers,
    body: &[u8],
) -> Result<Vec<(String, String)>, S3Error> {
    e.put_object(&tls(), "bkt", key, hs, &mut &body[..])
        .map(|r| r.headers)
}

fn get(
    e: &SseEngine,
    key: &str,
    hs: &Headers,
    range: Option<ByteRange>,
) -> Result<Vec<u8>, S3Error> {
    let mut out = Vec::new();
    e.get_object(&tls(), "bkt", key, hs, range, &mut out)?;
    Ok(out)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn every_mode_round_trips_at_segment_boundaries() {
    let (_d, e, _) = setup();
    let ck = [7u8; 32];
    let modes: Vec<(&str, Headers)> = vec![
        ("sse-s3", h(&[("x-amz-server-side-encryption", "AES256")])),
        ("default", h(&[])),
        ("sse-kms", h(&[("x-amz-server-side-encryption", "aws:kms")])),
        (
            "sse-kms-bucket-key",
            h(&[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ]),
        ),
        (
            "dsse-kms",
            h(&[("x-amz-server-side-encryption", "aws:kms:dsse")]),
        ),
        ("sse-c", Headers::new(sse_c(&ck))),
    ];
    for (name, hs) in &modes {
        for n in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            2 * CHUNK_SIZE + 1,
            70 * CHUNK_SIZE + 3,
        ] {
            let body = data(n);
            let key = format!("{name}/{n}");
            let resp = put(&e, &key, hs, &body).unwrap_or_else(|err| panic!("{name} {n}: {err}"));
            let read_h = if *name == "sse-c" { hs.clone() } else { h(&[]) };
            assert_eq!(
                get(&e, &key, &read_h, None).expect("get"),
                body,
                "{name} {n}"
            );
            match *name {
                "sse-s3" | "default" => assert_eq!(
                    header(&resp, "x-amz-server-side-encryption"),
                    Some("AES256")
                ),
                "sse-kms" => assert_eq!(
                    header(&resp, "x-amz-server-side-encryption"),
                    Some("aws:kms")
                ),
                "sse-kms-bucket-key" => assert_eq!(
                    header(&resp, "x-amz-server-side-encryption-bucket-key-enabled"),
                    Some("true")
                ),
                "dsse-kms" => assert_eq!(
                    header(&resp, "x-amz-server-side-encryption"),
                    Some("aws:kms:dsse")
                ),
                _ => assert!(
                    header(&resp, "x-amz-server-side-encryption-customer-key-MD5").is_some()
                ),
            }
            assert!(resp.iter().all(|(n, _)| {
                !n.eq_ignore_ascii_case("x-amz-server-side-encryption-customer-key")
            }));
            if n == 70 * CHUNK_SIZE + 3 {
                let cs = CHUNK_SIZE as u64;
                for (a, b) in [
                    (0, 0),
                    (cs - 1, cs),
                    (cs, cs),
                    (cs - 1, 2 * cs),
                    (3 * cs + 5, 40 * cs),
                    (n as u64 - 1, n as u64 + 100),
                ] {
                    let got = get(&e, &key, &read_h, Some(ByteRange::FromTo(a, b))).expect("range");
                    assert_eq!(
                        got,
                        body[a as usize..(b as usize + 1).min(n)],
                        "{name} {a}-{b}"
                    );
                }
                assert_eq!(
                    get(&e, &key, &read_h, Some(ByteRange::Suffix(10))).expect("suffix"),
                    body[n - 10..]
                );
                let err = get(&e, &key, &read_h, Some(ByteRange::From(n as u64))).expect_err("416");
                assert_eq!((err.status(), err.code().as_str()), (416, "InvalidRange"));
            }
        }
    }
}

#[test]
fn sse_c_errors_as_s3() {
    let (_d, e, _) = setup();
    let ck = [9u8; 32];
    put(&e, "c", &Headers::new(sse_c(&ck)), b"secret data").expect("put");
    let err = get(&e, "c", &h(&[]), None).expect_err("no key");
    assert_eq!((err.status(), err.code().as_str()), (400, "InvalidRequest"));
    let err = get(&e, "c", &Headers::new(sse_c(&[8u8; 32])), None).expect_err("wrong key");
    assert_eq!((err.status(), err.code().as_str()), (403, "AccessDenied"));
    assert!(!err.message().contains(&hex::encode([8u8; 32])));
    let err = e
        .head_object(&tls(), "bkt", "c", None, &Headers::new(sse_c(&[8u8; 32])))
        .expect_err("head wrong key");
    assert_eq!(err.status(), 403);
    put(&e, "plain", &h(&[]), b"x").expect("put");
    let err = get(&e, "plain", &Headers::new(sse_c(&ck)), None).expect_err("not applicable");
    assert_eq!((err.status(), err.code().as_str()), (400, "InvalidRequest"));
    let err = e
        .put_object(
            &plain(),
            "bkt",
            "insecure",
            &Headers::new(sse_c(&ck)),
            &mut &b"x"[..],
        )
        .expect_err("http");
    assert_eq!(err.status(), 400);
    // New buckets block SSE-C writes until BlockedEncryptionTypes is NONE.
    e.create_bucket(&tls(), "fresh", None).expect("bucket");
    let err = e
        .put_object(
            &tls(),
            "fresh",
            "k",
            &Headers::new(sse_c(&ck)),
            &mut &b"x"[..],
        )
        .expect_err("blocked");
    assert_eq!((err.status(), err.code().as_str()), (403, "AccessDenied"));
    // The customer key is stored nowhere under the home directory.
    let all = dir_bytes(_d.path());
    assert!(
        !contains(&all, &ck),
        "the customer key must never reach disk"
    );
}

fn dir_bytes(p: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(p).expect("ls").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(dir_bytes(&path));
        } else if let Ok(b) = std::fs::read(&path) {
            out.extend(b);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn policy_and_default_encryption() {
    let (_d, e, kms) = setup();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"RequireKMS","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]}"#;
    e.put_bucket_policy(&tls(), "bkt", policy).expect("policy");
    let err =
        put(&e, "k", &h(&[]), b"x").expect_err("header-less PUT is denied (policy before default)");
    assert_eq!((err.status(), err.code().as_str()), (403, "AccessDenied"));
    assert!(
        put(
            &e,
            "k",
            &h(&[("x-amz-server-side-encryption", "aws:kms")]),
            b"x"
        )
        .is_ok()
    );
    assert_eq!(
        e.put_bucket_policy(&tls(), "bkt", "{not json")
            .expect_err("malformed")
            .code(),
        "MalformedPolicy"
    );
    assert_eq!(
        e.put_bucket_encryption(&tls(), "bkt", "<nope")
            .expect_err("xml")
            .code(),
        "MalformedXML"
    );
    let key = kms
        .create_key(&Default::default())
        .expect("key")
        .key_metadata
        .arn;
    e.put_bucket_encryption(&tls(), "bkt",
        &format!("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{key}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes></Rule></ServerSideEncryptionConfiguration>"),
    )
    .expect("encryption");
    let resp = put(
        &e,
        "d",
        &h(&[("x-amz-server-side-encryption", "aws:kms")]),
        b"y",
    )
    .expect("put");
    assert!(header(&resp, "x-amz-server-side-encryption-aws-kms-key-id").is_some());
    let _ = DefaultSse::S3;
}

#[test]
fn tampering_of_stored_objects_is_detected() {
    let (d, e, _) = setup();
    let body = data(3 * CHUNK_SIZE + 100);
    put(&e, "t", &h(&[]), &body).expect("put");
    let path = d
        .path()
        .join("buckets/bkt/objects")
        .join(object_file_name("t"));
    let orig = std::fs::read(&path).expect("read");
    // Every byte of a small object, and a sample of a large one.
    let small = data(100);
    put(&e, "s", &h(&[]), &small).expect("put");
    let spath = d
        .path()
        .join("buckets/bkt/objects")
        .join(object_file_name("s"));
    let sorig = std::fs::read(&spath).expect("read");
    for i in 0..sorig.len() {
        let mut t = sorig.clone();
        t[i] ^= 0x01;
        std::fs::write(&spath, &t).expect("write");
        let r = get(&e, "s", &h(&[]), None);
        assert!(
            r.is_err(),
            "flipping byte {i} of {} was not detected",
            sorig.len()
        );
    }
    std::fs::write(&spath, &sorig).expect("restore");
    for i in (0..orig.len()).step_by(997) {
        let mut t = orig.clone();
        t[i] ^= 0x80;
        std::fs::write(&path, &t).expect("write");
        assert!(get(&e, "t", &h(&[]), None).is_err(), "byte {i}");
    }
    // Segments swapped, truncated, appended.
    let mut swapped = orig.clone();
    let (a, b) = (8 + 56, 8 + 56 + CHUNK_SIZE + 16);
    let seg = CHUNK_SIZE + 16;
    let first = orig[a..a + seg].to_vec();
    swapped[a..a + seg].copy_from_slice(&orig[b..b + seg]);
    swapped[b..b + seg].copy_from_slice(&first);
    for bad in [
        swapped,
        orig[..orig.len() - 1].to_vec(),
        [orig.clone(), vec![0u8; 17]].concat(),
    ] {
        std::fs::write(&path, &bad).expect("write");
        assert!(get(&e, "t", &h(&[]), None).is_err());
    }
    // Renamed: the same file under another key name.
    std::fs::write(&path, &orig).expect("restore");
    let other = d
        .path()
        .join("buckets/bkt/objects")
        .join(object_file_name("moved"));
    std::fs::copy(&path, &other).expect("copy");
    assert!(
        get(&e, "moved", &h(&[]), None).is_err(),
        "an object moved to another name must not decrypt"
    );
    assert_eq!(
        get(&e, "t", &h(&[]), None).expect("original still fine"),
        body
    );
}

#[test]
fn rotation_and_reseal() {
    let (d, e, _) = setup();
    put(&e, "old", &h(&[]), b"written under root v1").expect("put");
    assert_eq!(e.rotate_root().expect("rotate"), 2);
    put(&e, "new", &h(&[]), b"written under root v2").expect("put");
    assert_eq!(
        get(&e, "old", &h(&[]), None).expect("old"),
        b"written under root v1"
    );
    let path = d
        .path()
        .join("buckets/bkt/objects")
        .join(object_file_name("old"));
    let before = std::fs::read(&path).expect("read");
    assert_eq!(e.reseal("bkt").expect("reseal"), 1);
    let after = std::fs::read(&path).expect("read");
    assert_eq!(
        before[..8 + 56 + 16 + 21],
        after[..8 + 56 + 16 + 21],
        "the encrypted body is not re-encrypted"
    );
    assert_ne!(before, after);
    assert_eq!(
        get(&e, "old", &h(&[]), None).expect("old after reseal"),
        b"written under root v1"
    );
    assert_eq!(e.reseal("bkt").expect("again"), 0);
}

/// Two engines on one home, each with its own KMS instance on the home's state directory, stand for the
/// server and a CLI command running at once: keys, root rotations and objects made by one are usable by
/// the other.
#[test]
fn two_engines_on_one_home_share_keys_and_root_rotations() {
    let d = tempfile::tempdir().expect("tmp");
    let open = || {
        let kms = MockKms::builder()
            .state_dir(d.path().join("kms"))
            .build()
            .expect("kms");
        let e = SseEngine::new(d.path(), Arc::new(kms.clone())).expect("engine");
        (e, kms)
    };
    let (server, _) = open();
    server.create_bucket(&tls(), "bkt", None).expect("bucket");
    let (cli, cli_kms) = open();
    put(&server, "v1", &h(&[]), b"under root v1").expect("put");

    // A rotation by the CLI: the server's next object uses the new version, the CLI reads it.
    assert_eq!(cli.rotate_root().expect("rotate"), 2);
    put(&server, "v2", &h(&[]), b"under root v2").expect("put");
    assert_eq!(
        get(&cli, "v2", &h(&[]), None).expect("cli"),
        b"under root v2"
    );
    assert_eq!(
        cli.reseal("bkt").expect("reseal"),
        1,
        "only v1's object is under an older root"
    );
    // The server's rotation follows the CLI's; an object the CLI seals under a version the server has
    // not seen yet is opened by the server after re-reading the roots.
    assert_eq!(server.rotate_root().expect("rotate"), 3);
    assert_eq!(cli.rotate_root().expect("rotate"), 4);
    put(&cli, "v4", &h(&[]), b"under root v4").expect("put");
    assert_eq!(
        get(&server, "v4", &h(&[]), None).expect("server"),
        b"under root v4"
    );

    // A KMS key created by the CLI while the server runs, used by the server and read back by the CLI.
    let key = cli_kms
        .create_key(&Default::default())
        .expect("key")
        .key_metadata
        .arn;
    put(
        &server,
        "kms",
        &h(&[
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-aws-kms-key-id", &key),
        ]),
        b"under the CLI's key",
    )
    .expect("server uses the CLI's key");
    assert_eq!(
        get(&cli, "kms", &h(&[]), None).expect("cli"),
        b"under the CLI's key"
    );
}

struct FailingReader {
    left: usize,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            ));
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(0xAB);
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn a_failed_put_leaves_the_previous_object() {
    let (d, e, _) = setup();
    put(&e, "k", &h(&[]), b"good version").expect("put");
    let err = e
        .put_object(
            &tls(),
            "bkt",
            "k",
            &h(&[]),
            &mut FailingReader { left: 5 << 20 },
        )
        .expect_err("crash");
    assert_eq!(err.status(), 400);
    assert_eq!(get(&e, "k", &h(&[]), None).expect("get"), b"good version");
    let leftovers: Vec<_> = std::fs::read_dir(d.path().join("buckets/bkt/objects"))
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn concurrent_put_and_get_never_tear() {
    let (_d, e, _) = setup();
    let e = Arc::new(e);
    let a = vec![b'a'; 200_000];
    let b = vec![b'b'; 300_000];
    put(&e, "race", &h(&[]), &a).expect("put");
    std::thread::scope(|s| {
        let writer = {
            let e = Arc::clone(&e);
            let (a, b) = (a.clone(), b.clone());
            s.spawn(move || {
                for i in 0..20 {
                    put(&e, "race", &h(&[]), if i % 2 == 0 { &b } else { &a }).expect("put");
                }
            })
        };
        for _ in 0..40 {
            let got = get(&e, "race", &h(&[]), None).expect("get");
            assert!(got == a || got == b, "torn read of {} bytes", got.len());
        }
        writer.join().expect("writer");
    });
}

#[test]
fn copy_between_modes() {
    let (_d, e, _) = setup();
    let ck = [4u8; 32];
    put(&e, "src", &Headers::new(sse_c(&ck)), b"copy me").expect("put");
    let copy_headers: Vec<(String, String)> = sse_c(&ck)
        .into_iter()
        .map(|(n, v)| (n.replacen("x-amz-", "x-amz-copy-source-", 1), v))
        .chain([(
            "x-amz-server-side-encryption".to_owned(),
            "aws:kms".to_owned(),
        )])
        .collect();
    let r = e
        .copy_object(
            &tls(),
            ("bkt", "src", None),
            ("bkt", "dst"),
            &Headers::new(copy_headers),
        )
        .expect("copy");
    assert_eq!(
        header(&r.headers, "x-amz-server-side-encryption"),
        Some("aws:kms")
    );
    assert_eq!(get(&e, "dst", &h(&[]), None).expect("get"), b"copy me");
    let err = e
        .copy_object(&tls(), ("bkt", "src", None), ("bkt", "dst2"), &h(&[]))
        .expect_err("missing source key");
    assert_eq!(err.status(), 400);
}

#[test]
fn bucket_keys_cut_kms_calls() {
    let (_d, e, kms) = setup();
    // 1,000 PUTs each way here (each PUT fsyncs); `s3crypt` measured 10,000 the same way for the README.
    let n = if cfg!(target_arch = "aarch64") {
        100
    } else {
        1_000
    };
    let count = |kms: &MockKms| {
        kms.quota_counters()
            .admitted
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = count(&kms);
    for i in 0..n {
        put(
            &e,
            &format!("nobk/{i}"),
            &h(&[("x-amz-server-side-encryption", "aws:kms")]),
            b"x",
        )
        .expect("put");
    }
    let without = count(&kms) - before;
    let before = count(&kms);
    for i in 0..n {
        put(
            &e,
            &format!("bk/{i}"),
            &h(&[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ]),
            b"x",
        )
        .expect("put");
    }
    let with = count(&kms) - before;
    let reduction = 100.0 * (1.0 - with as f64 / without as f64);
    println!(
        "KMS cryptographic calls for {n} PUTs: {without} without bucket keys, {with} with ({reduction:.2}% fewer)"
    );
    assert_eq!(without, n as u64);
    assert!(with <= 2, "{with}");
    let _ = kms.describe_key(&s3crypt::kms::DescribeKeyRequest::new(
        s3crypt::sse::engine::MANAGED_KEY_ALIAS,
    ));
}

#[test]
fn etag_is_the_md5_of_the_data_only_for_sse_s3() {
    let (_d, e, _) = setup();
    // Large enough that the PUT hashes several 1 MiB reads on one core while the other encrypts.
    let body = data(3 * (1 << 20) + 17);
    let md5 = format!("\"{}\"", hex::encode(s3crypt::primitives::hash::md5(&body)));
    let s3 = put(
        &e,
        "s3",
        &h(&[("x-amz-server-side-encryption", "AES256")]),
        &body,
    )
    .expect("put");
    assert_eq!(header(&s3, "ETag"), Some(md5.as_str()));
    let kms = put(
        &e,
        "kms",
        &h(&[("x-amz-server-side-encryption", "aws:kms")]),
        &body,
    )
    .expect("put");
    let etag = header(&kms, "ETag").expect("ETag");
    assert_ne!(
        etag, md5,
        "an SSE-KMS ETag must not reveal the MD5 of the data"
    );
    assert_eq!(etag.len(), 34, "a quoted 32-digit hex ETag: {etag}");
    let empty = put(&e, "empty", &h(&[]), b"").expect("put");
    assert_eq!(
        header(&empty, "ETag"),
        Some("\"d41d8cd98f00b204e9800998ecf8427e\"")
    );
}

/// The local admin (the account root) over TLS, as the CLI makes requests.
fn tls() -> RequestContext {
    RequestContext::signed_by(Principal::root("000000000000", "AKIALOCALADMIN")).with_tls(true)
}

/// The same caller over plain HTTP.
fn plain() -> RequestContext {
    tls().with_tls(false)
}

#[test]
fn the_policy_sees_the_caller_and_transport_from_the_request_context() {
    let (_d, e, _kms) = setup();
    put(&e, "k", &h(&[]), b"x").expect("put");
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"NoMallory","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/mallory"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"},
        {"Sid":"TlsOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
        {"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"},
        {"Sid":"AliceWrites","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;
    e.put_bucket_policy(&tls(), "bkt", policy).expect("policy");
    let mallory = RequestContext::signed_by(Principal::user("000000000000", "mallory", "AKIAMAL"))
        .with_tls(true);
    let alice = RequestContext::signed_by(Principal::user("000000000000", "alice", "AKIAALI"))
        .with_tls(true);
    let mut out = Vec::new();
    let err = e
        .get_object(&mallory, "bkt", "k", &h(&[]), None, &mut out)
        .expect_err("mallory is denied by name");
    assert_eq!((err.status(), err.code().as_str()), (403, "AccessDenied"));
    for ctx in [
        tls(),
        alice.clone(),
        RequestContext::anonymous().with_tls(true),
    ] {
        let mut out = Vec::new();
        e.get_object(&ctx, "bkt", "k", &h(&[]), None, &mut out)
            .expect("others read");
        assert_eq!(out, b"x");
    }
    // aws:SecureTransport comes from the context.
    let err = e
        .put_object(
            &alice.clone().with_tls(false),
            "bkt",
            "k2",
            &h(&[]),
            &mut &b"y"[..],
        )
        .expect_err("plain HTTP put is denied");
    assert_eq!((err.status(), err.code().as_str()), (403, "AccessDenied"));
    e.put_object(&alice, "bkt", "k2", &h(&[]), &mut &b"y"[..])
        .expect("TLS put");
    // A user whom nothing allows is implicitly denied (no identity policy, no bucket-policy grant), and
    // so is an anonymous writer; the owner's root needs no grant.
    let bob =
        RequestContext::signed_by(Principal::user("000000000000", "bob", "AKIABOB")).with_tls(true);
    for ctx in [bob, RequestContext::anonymous().with_tls(true)] {
        let err = e
            .put_object(&ctx, "bkt", "k3", &h(&[]), &mut &b"z"[..])
            .expect_err("nothing allows it");
        assert_eq!((err.status(), err.code().as_str()), (403, "AccessDenied"));
    }
    e.put_object(&tls(), "bkt", "k3", &h(&[]), &mut &b"z"[..])
        .expect("the owner's root");
}

#[test]
fn anonymous_callers_cannot_create_buckets_and_buckets_belong_to_their_creator() {
    let (_d, e, _kms) = setup();
    let err = e
        .create_bucket(&RequestContext::anonymous().with_tls(true), "anon", None)
        .expect_err("anonymous CreateBucket");
    assert_eq!((err.status(), err.code().as_str()), (403, "AccessDenied"));
    // A bucket created by another account's root is that account's: the local root is a stranger there.
    let other =
        RequestContext::signed_by(Principal::root("111122223333", "AKIAOTHER")).with_tls(true);
    e.create_bucket(&other, "theirs", None).expect("create");
    e.put_object(&other, "theirs", "k", &h(&[]), &mut &b"x"[..])
        .expect("owner writes");
    let err = e
        .put_object(&tls(), "theirs", "k", &h(&[]), &mut &b"y"[..])
        .expect_err("another account's root has no grant");
    assert_eq!((err.status(), err.code().as_str()), (403, "AccessDenied"));
}

#[test]
fn blocked_sse_c_names_the_caller() {
    let (_d, e, _kms) = setup();
    e.create_bucket(&tls(), "blocks", None)
        .expect("default bucket blocks SSE-C");
    e.put_bucket_policy(
        &tls(),
        "blocks",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::blocks/*"}]}"#,
    )
    .expect("alice may write");
    let alice = RequestContext::signed_by(Principal::user("000000000000", "alice", "AKIAALI"))
        .with_tls(true);
    let err = e
        .put_object(
            &alice,
            "blocks",
            "k",
            &h(&sse_c(&[7u8; 32])
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect::<Vec<_>>()),
            &mut &b"x"[..],
        )
        .expect_err("blocked");
    assert_eq!(err.status(), 403);
    assert!(
        err.message()
            .starts_with("User: arn:aws:iam::000000000000:user/alice is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::blocks/k\""),
        "{}",
        err.message()
    );
}
