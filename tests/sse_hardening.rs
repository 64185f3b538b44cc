//! Hardening of the SSE engine (issue 11): S3's limits enforced at PUT so every stored object stays
//! readable, reseal that survives one unreadable object, every key and bucket name S3 accepts (and none it
//! refuses), copies and DSSE reads without plaintext staging files, stale temporary files cleaned and
//! reported, S3's transport rules for SSE-KMS, and refusal to start when the SSE-S3 root keys are lost.

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use s3crypt::iam::{Principal, RequestContext};
use s3crypt::kms::MockKms;
use s3crypt::sse::S3Error;
use s3crypt::sse::bucket::{BlockedType, BucketEncryption, DefaultSse};
use s3crypt::sse::engine::{SseEngine, object_file_name, valid_bucket_name};
use s3crypt::sse::headers::Headers;
use s3crypt::sse::object::{Header, Mode};

fn engine(home: &Path, kms: &MockKms) -> Result<SseEngine, S3Error> {
    SseEngine::new(home, Arc::new(kms.clone()))
}

fn setup() -> (tempfile::TempDir, SseEngine, MockKms) {
    let dir = tempfile::tempdir().expect("tmp");
    let kms = MockKms::in_memory();
    let e = engine(dir.path(), &kms).expect("engine");
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

fn put(e: &SseEngine, key: &str, hs: &Headers, body: &[u8]) -> Result<(), S3Error> {
    e.put_object(&tls(), "bkt", key, hs, &mut &body[..])
        .map(|_| ())
}

fn get(e: &SseEngine, key: &str) -> Result<Vec<u8>, S3Error> {
    let mut out = Vec::new();
    e.get_object(&tls(), "bkt", key, &h(&[]), None, &mut out)?;
    Ok(out)
}

fn assert_s3(r: Result<impl std::fmt::Debug, S3Error>, status: u16, code: &str, message: &str) {
    let e = r.expect_err("expected an S3 error");
    assert_eq!(
        (e.status(), e.code().as_str(), e.message()),
        (status, code, message)
    );
}

fn objects(home: &Path, bucket: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(home.join("buckets").join(bucket).join("objects"))
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

// ---- (4) limits at PUT: whatever the writer accepts, the reader accepts ----

const META_TOO_LARGE: &str = "Your metadata headers exceed the maximum allowed metadata size.";

#[test]
fn user_metadata_is_limited_to_2_kib_of_utf8() {
    let (d, e, _) = setup();
    // 2,048 bytes exactly: name "a" (1) + 2,047 bytes of value; stored and read back.
    let v = "v".repeat(2047);
    put(&e, "ok", &h(&[("x-amz-meta-a", &v)]), b"x").expect("2 KiB of metadata");
    let mut out = Vec::new();
    let r = e
        .get_object(&tls(), "bkt", "ok", &h(&[]), None, &mut out)
        .expect("get");
    assert!(
        r.headers
            .iter()
            .any(|(n, val)| n == "x-amz-meta-a" && *val == v)
    );
    // One byte more, several headers summed.
    let v2 = "v".repeat(1000);
    assert_s3(
        put(
            &e,
            "big",
            &h(&[("x-amz-meta-a", &v2), ("X-Amz-Meta-bb", &"w".repeat(1046))]),
            b"x",
        ),
        400,
        "MetadataTooLarge",
        META_TOO_LARGE,
    );
    // S3's XML names the limit.
    let err = put(
        &e,
        "big",
        &h(&[("x-amz-meta-a", &v2), ("X-Amz-Meta-bb", &"w".repeat(1046))]),
        b"x",
    )
    .expect_err("too large");
    assert!(
        err.extras()
            .iter()
            .any(|(n, v)| n == "MaxSizeAllowed" && v == "2048"),
        "{:?}",
        err.extras()
    );
    assert!(
        err.to_xml()
            .contains("<MaxSizeAllowed>2048</MaxSizeAllowed>")
    );
    // UTF-8 bytes count, not characters: 1,024 "é" are 2,048 bytes, plus the name.
    assert_s3(
        put(&e, "big", &h(&[("x-amz-meta-a", &"é".repeat(1024))]), b"x"),
        400,
        "MetadataTooLarge",
        META_TOO_LARGE,
    );
    assert_eq!(get(&e, "big").expect_err("not stored").status(), 404);
    assert_eq!(objects(d.path(), "bkt"), vec![object_file_name("ok")]);
}

#[test]
fn a_mebibyte_of_metadata_is_refused_and_nothing_is_stored() {
    let (d, e, _) = setup();
    let huge = "m".repeat(1_100_000);
    assert_s3(
        put(&e, "k", &h(&[("x-amz-meta-big", &huge)]), b"body"),
        400,
        "RequestHeaderSectionTooLarge",
        "Your request header section exceeds the maximum allowed size.",
    );
    assert_eq!(get(&e, "k").expect_err("nothing stored").status(), 404);
    assert!(objects(d.path(), "bkt").is_empty());
    // The bucket can still be resealed.
    assert_eq!(e.reseal("bkt").expect("reseal"), 0);
}

#[test]
fn request_headers_over_8_kib_are_refused() {
    let (_d, e, _) = setup();
    let ct = "t".repeat(8200);
    assert_s3(
        put(&e, "k", &h(&[("content-type", &ct)]), b"body"),
        400,
        "RequestHeaderSectionTooLarge",
        "Your request header section exceeds the maximum allowed size.",
    );
    let err = put(&e, "k", &h(&[("content-type", &ct)]), b"body").expect_err("too large");
    assert!(
        err.to_xml()
            .contains("<MaxSizeAllowed>8192</MaxSizeAllowed>"),
        "{}",
        err.to_xml()
    );
    put(&e, "k", &h(&[("content-type", &"t".repeat(8000))]), b"body").expect("under 8 KiB");
    assert_eq!(get(&e, "k").expect("get"), b"body");
}

#[test]
fn the_writer_checks_the_header_against_the_readers_limit() {
    let mut header = Header {
        version: 1,
        mode: Mode::DsseKms,
        bucket: "bkt".into(),
        key: "k".into(),
        size: 0,
        etag: String::new(),
        content_type: Some("x".repeat(1000)),
        user_metadata: Default::default(),
        system_metadata: Default::default(),
        last_modified: "2026-01-01T00:00:00Z".into(),
        root_version: None,
        kms: None,
        kms2: None,
        customer_key_md5: None,
        customer_verifier: None,
        customer_salt: None,
        seal: None,
        seal2: None,
    };
    header.check_fits().expect("small header");
    header.content_type = Some("x".repeat(1 << 20));
    let err = header.check_fits().expect_err("over 1 MiB");
    assert_eq!(err.status(), 500);
    // Right at the limit: the probe counts the seals, size and ETag that are filled in later.
    header.content_type = Some(String::new());
    let base = {
        let mut p = header.clone();
        p.size = u64::MAX;
        p.etag = format!("\"{}\"", "0".repeat(32));
        let seal = s3crypt::sse::object::Seal {
            salt: "A".repeat(44),
            sealed: "A".repeat(80),
        };
        p.seal = Some(seal.clone());
        p.seal2 = Some(seal);
        serde_json::to_vec(&p).expect("json").len()
    };
    header.content_type = Some("x".repeat((1 << 20) - base));
    header.check_fits().expect("exactly 1 MiB");
    header.content_type = Some("x".repeat((1 << 20) - base + 1));
    header.check_fits().expect_err("1 MiB + 1");
}

#[test]
fn reseal_skips_an_unreadable_object_and_reseals_the_others() {
    let (d, e, _) = setup();
    put(&e, "a", &h(&[]), b"first").expect("put");
    put(&e, "broken", &h(&[]), b"second").expect("put");
    put(&e, "c", &h(&[]), b"third").expect("put");
    e.rotate_root().expect("rotate");
    let broken = d
        .path()
        .join("buckets/bkt/objects")
        .join(object_file_name("broken"));
    std::fs::write(&broken, b"not an object file").expect("break");
    let err = e.reseal("bkt").expect_err("one object is unreadable");
    assert_eq!(err.status(), 500);
    assert!(cause(&err).starts_with("resealed 2 objects; 1 could not be read"));
    assert!(cause(&err).contains(&object_file_name("broken")));
    // The two others moved to the new root: nothing left to reseal but the broken one.
    let report = e.reseal_report("bkt").expect("report");
    assert_eq!(report.resealed, 0);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].0, broken);
    assert_eq!(get(&e, "a").expect("a"), b"first");
    assert_eq!(get(&e, "c").expect("c"), b"third");
}

// ---- (5) every key and bucket name S3 accepts ----

#[test]
fn keys_up_to_1024_bytes_round_trip() {
    let (d, e, _) = setup();
    let mut keys: Vec<String> = [1, 127, 128, 255, 256, 1023, 1024]
        .iter()
        .map(|&n| "k".repeat(n))
        .collect();
    keys.push("é".repeat(512)); // 1,024 bytes of two-byte UTF-8
    keys.push("😀".repeat(256)); // 1,024 bytes of four-byte UTF-8
    keys.push(format!("dir/sub/{}", "名".repeat(300))); // 908 bytes
    for (i, k) in keys.iter().enumerate() {
        let body = data(100 + i);
        put(&e, k, &h(&[]), &body).unwrap_or_else(|err| panic!("{} bytes: {err}", k.len()));
        assert_eq!(get(&e, k).expect("get"), body, "{} bytes", k.len());
        let head = e
            .head_object(&tls(), "bkt", k, None, &h(&[]))
            .expect("head");
        assert_eq!(head.status, 200);
    }
    for name in objects(d.path(), "bkt") {
        assert_eq!(name.len(), 64, "{name}");
    }
    for k in ["k".repeat(1025), "é".repeat(513)] {
        assert_s3(
            put(&e, &k, &h(&[]), b"x"),
            400,
            "KeyTooLongError",
            "Your key is too long",
        );
        let err = put(&e, &k, &h(&[]), b"x").expect_err("too long");
        assert!(
            err.to_xml()
                .contains("<MaxSizeAllowed>1024</MaxSizeAllowed>"),
            "{}",
            err.to_xml()
        );
    }
}

#[test]
fn copy_and_reseal_work_with_long_keys() {
    let (_d, e, _) = setup();
    let src = "s".repeat(1024);
    let dst = "d".repeat(1000);
    put(&e, &src, &h(&[]), b"long").expect("put");
    e.copy_object(&tls(), ("bkt", &src, None), ("bkt", &dst), &h(&[]))
        .expect("copy");
    assert_eq!(get(&e, &dst).expect("get"), b"long");
    e.rotate_root().expect("rotate");
    assert_eq!(e.reseal("bkt").expect("reseal"), 2);
    assert_eq!(get(&e, &src).expect("get"), b"long");
}

#[test]
fn bucket_names_follow_s3s_rules_both_ways() {
    let accepted = [
        "abc",
        "a-b",
        "my.bucket.name",
        "1bucket",
        "bucket1",
        "a1-b2.c3",
        "192.168.5",
        "192.168.5.4.5",
        "1.2.3.a",
        "xn-a",
        "sthree",
        "s3alias",
        "x-s3alias1",
        "amzn-s3-demo",
        "ol-s3",
        "mrap",
        "b.mrap1",
        "x--s3-x",
        &"a".repeat(63),
    ];
    let refused = [
        "ab",
        &"a".repeat(64),
        "",
        "a..b",
        "abc-",
        "-abc",
        ".abc",
        "abc.",
        "Abc",
        "aBc",
        "a_b",
        "a b",
        "a/b",
        "192.168.5.4",
        "10.0.0.1",
        "xn--abc",
        "sthree-abc",
        "sthree-configurator",
        "amzn-s3-demo-bucket",
        "abc-s3alias",
        "abc--ol-s3",
        "abc.mrap",
        "abc--x-s3",
        "abc--table-s3",
        "bücket",
    ];
    let dir = tempfile::tempdir().expect("tmp");
    let e = engine(dir.path(), &MockKms::in_memory()).expect("engine");
    for name in accepted {
        assert!(valid_bucket_name(name), "{name:?} should be accepted");
        e.create_bucket(&tls(), name, None)
            .unwrap_or_else(|err| panic!("{name:?}: {err}"));
    }
    for name in refused {
        assert!(!valid_bucket_name(name), "{name:?} should be refused");
        assert_s3(
            e.create_bucket(&tls(), name, None),
            400,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        );
    }
}

// ---- (6) no plaintext staging, temporary files cleaned ----

#[test]
fn a_copy_whose_source_fails_authentication_stores_nothing() {
    let (d, e, _) = setup();
    let body = data(3 << 20);
    put(&e, "src", &h(&[]), &body).expect("put");
    put(&e, "dst", &h(&[]), b"previous").expect("put");
    let path = d
        .path()
        .join("buckets/bkt/objects")
        .join(object_file_name("src"));
    let mut bytes = std::fs::read(&path).expect("read");
    // Flip a byte late in the body: the first megabytes are authenticated and passed on before it fails.
    let at = 8 + (5 << 19);
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    let err = e
        .copy_object(&tls(), ("bkt", "src", None), ("bkt", "dst"), &h(&[]))
        .expect_err("tampered source");
    assert_eq!(err.status(), 500);
    assert!(cause(&err).contains("authentication"), "{}", cause(&err));
    assert_eq!(get(&e, "dst").expect("previous kept"), b"previous");
    let err = e
        .copy_object(&tls(), ("bkt", "src", None), ("bkt", "new"), &h(&[]))
        .expect_err("tampered source");
    assert_eq!(err.status(), 500);
    assert_eq!(get(&e, "new").expect_err("nothing stored").status(), 404);
    let mut left = objects(d.path(), "bkt");
    left.retain(|n| n.starts_with('.'));
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn copies_stream_between_every_mode() {
    let (_d, e, _) = setup();
    let ck = [9u8; 32];
    let sse_c: Vec<(String, String)> = s3crypt::sse::headers::customer_key_headers(&ck).to_vec();
    let copy_c: Vec<(String, String)> =
        s3crypt::sse::headers::copy_source_customer_key_headers(&ck).to_vec();
    let body = data((1 << 20) * 2 + 12345);
    let modes: Vec<(&str, Vec<(String, String)>)> = vec![
        ("s3", vec![]),
        (
            "kms",
            vec![("x-amz-server-side-encryption".into(), "aws:kms".into())],
        ),
        (
            "dsse",
            vec![("x-amz-server-side-encryption".into(), "aws:kms:dsse".into())],
        ),
        ("c", sse_c.clone()),
    ];
    for (name, hs) in &modes {
        put(&e, &format!("src-{name}"), &Headers::new(hs.clone()), &body).expect("put");
    }
    for (sname, _) in &modes {
        for (dname, dhs) in &modes {
            let mut req = dhs.clone();
            if *sname == "c" {
                req.extend(copy_c.clone());
            }
            let dst = format!("dst-{sname}-{dname}");
            e.copy_object(
                &tls(),
                ("bkt", &format!("src-{sname}"), None),
                ("bkt", &dst),
                &Headers::new(req),
            )
            .unwrap_or_else(|err| panic!("{sname} -> {dname}: {err}"));
            let read = if *dname == "c" {
                Headers::new(sse_c.clone())
            } else {
                h(&[])
            };
            let mut out = Vec::new();
            e.get_object(&tls(), "bkt", &dst, &read, None, &mut out)
                .expect("get");
            assert!(out == body, "{sname} -> {dname}");
        }
    }
}

#[test]
fn dsse_ranges_read_without_staging() {
    let (_d, e, _) = setup();
    let dsse = h(&[("x-amz-server-side-encryption", "aws:kms:dsse")]);
    let chunk = s3crypt::primitives::chunked::CHUNK_SIZE;
    for len in [
        0,
        1,
        chunk - 1,
        chunk,
        chunk + 1,
        64 * chunk,
        64 * chunk + 100,
    ] {
        let body = data(len);
        put(&e, "d", &dsse, &body).expect("put");
        assert_eq!(get(&e, "d").expect("get"), body, "len {len}");
        if len > 2 {
            for (a, b) in [(1, len - 1), (len / 2, len), (0, 1)] {
                let mut out = Vec::new();
                e.get_object(
                    &tls(),
                    "bkt",
                    "d",
                    &h(&[]),
                    Some(s3crypt::range::ByteRange::FromTo(a as u64, b as u64 - 1)),
                    &mut out,
                )
                .expect("range");
                assert_eq!(out, body[a..b], "len {len} range {a}-{b}");
            }
        }
    }
}

fn set_old(path: &Path) {
    let f = File::options().write(true).open(path).expect("open");
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("mtime");
}

#[test]
fn stale_temporary_files_are_removed_and_reported_live_ones_kept() {
    let (d, e, kms) = setup();
    put(&e, "k", &h(&[]), b"object").expect("put");
    drop(e);
    let dir = d.path().join("buckets/bkt/objects");
    let stale = dir.join(".s3crypt-put-dead01.tmp");
    let legacy = dir.join(".put-AbCdEf");
    let live = dir.join(".s3crypt-put-live01.tmp");
    let young = dir.join(".s3crypt-reseal-young1.tmp");
    let other = dir.join(".unrelated");
    for p in [&stale, &legacy, &live, &young, &other] {
        std::fs::write(p, vec![0u8; 4096]).expect("write");
    }
    for p in [&stale, &legacy, &live, &other] {
        set_old(p);
    }
    // A writer that is still running holds the lock on its file.
    let held = File::open(&live).expect("open");
    held.try_lock().expect("lock");
    let e = engine(d.path(), &kms).expect("engine");
    let mut expected = vec![legacy.clone(), stale.clone()];
    expected.sort();
    assert_eq!(e.stale_temporaries_removed(), expected.as_slice());
    assert!(!stale.exists() && !legacy.exists());
    assert!(live.exists(), "a locked temporary file is in use");
    assert!(
        young.exists(),
        "a recent temporary file may be a writer's that just started"
    );
    assert!(other.exists(), "not an s3crypt temporary file");
    assert!(e.clean_stale_temporaries().is_empty());
    drop(held);
    assert_eq!(e.clean_stale_temporaries(), vec![live.clone()]);
    assert_eq!(get(&e, "k").expect("object untouched"), b"object");
}

#[test]
fn a_put_in_progress_holds_the_lock_on_its_temporary_file() {
    struct Probe<'a> {
        dir: &'a Path,
        left: usize,
        seen: bool,
    }
    impl std::io::Read for Probe<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // The store's writer runs on its own thread, started before the body is read: it
            // creates its temporary file, then locks it. Wait (bounded) for the file to appear
            // locked rather than race either step; the writer cannot get past the lock before
            // this read returns data, so a lock never seen within the deadline is a failure.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !self.seen && std::time::Instant::now() < deadline {
                for entry in std::fs::read_dir(self.dir)?.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with(".s3crypt-put-") && name.ends_with(".tmp") {
                        let f = File::open(entry.path())?;
                        if f.try_lock().is_err() {
                            self.seen = true;
                        }
                    }
                }
                if !self.seen {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            assert!(
                self.seen,
                "the writer's temporary file is locked while it writes"
            );
            let n = buf.len().min(self.left);
            buf[..n].fill(1);
            self.left -= n;
            Ok(n)
        }
    }
    let (d, e, _) = setup();
    let dir = d.path().join("buckets/bkt/objects");
    let mut probe = Probe {
        dir: &dir,
        left: 10,
        seen: false,
    };
    e.put_object(&tls(), "bkt", "k", &h(&[]), &mut probe)
        .expect("put");
    assert!(
        probe.seen,
        "the locked temporary file is in the bucket's objects directory"
    );
    assert!(e.clean_stale_temporaries().is_empty());
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "spawns the aarch64 s3crypt binary, which the host cannot exec without binfmt_misc (as \
              tests/cli_bench.rs); the library-level tests cover the same engine code"
)]
fn cli_copy_and_dsse_get_need_no_temporary_directory() {
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work");
    let input = work.path().join("in.bin");
    let body = data(300_000);
    std::fs::write(&input, &body).expect("write");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
            .arg("--home")
            .arg(home.path())
            .args(args)
            // Any staging file in the temporary directory would fail.
            .env("TMPDIR", work.path().join("no-such-dir"))
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let input = input.to_str().expect("utf-8");
    run(&["bucket", "create", "bkt"]);
    run(&["put", "bkt/src", input]);
    run(&["cp", "bkt/src", "bkt/dst"]);
    run(&[
        "put",
        "bkt/dsse",
        input,
        "-H",
        "x-amz-server-side-encryption: aws:kms:dsse",
    ]);
    for key in ["dst", "dsse"] {
        let out = work.path().join(format!("{key}.out"));
        run(&["get", &format!("bkt/{key}"), out.to_str().expect("utf-8")]);
        assert_eq!(std::fs::read(&out).expect("read"), body, "{key}");
    }
}

// ---- (8) S3's transport rules for SSE-KMS ----

const SIGV4: &str = "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4.";

#[test]
fn kms_objects_need_tls_for_get_head_copy_and_default_puts() {
    let (_d, e, _) = setup();
    for (key, sse) in [("kms", "aws:kms"), ("dsse", "aws:kms:dsse")] {
        put(
            &e,
            key,
            &h(&[("x-amz-server-side-encryption", sse)]),
            b"secret",
        )
        .expect("put");
        let mut out = Vec::new();
        assert_s3(
            e.get_object(&plain(), "bkt", key, &h(&[]), None, &mut out),
            400,
            "InvalidArgument",
            SIGV4,
        );
        assert!(out.is_empty());
        assert_s3(
            e.head_object(&plain(), "bkt", key, None, &h(&[])),
            400,
            "InvalidArgument",
            SIGV4,
        );
        assert_s3(
            e.copy_object(&plain(), ("bkt", key, None), ("bkt", "copy"), &h(&[])),
            400,
            "InvalidArgument",
            SIGV4,
        );
        e.head_object(&tls(), "bkt", key, None, &h(&[]))
            .expect("over TLS");
    }
    // SSE-S3 over plain HTTP is allowed, as by S3.
    e.put_object(&plain(), "bkt", "s3", &h(&[]), &mut &b"plain"[..])
        .expect("SSE-S3 put over HTTP");
    let mut out = Vec::new();
    e.get_object(&plain(), "bkt", "s3", &h(&[]), None, &mut out)
        .expect("SSE-S3 get over HTTP");
    assert_eq!(out, b"plain");
    e.head_object(&plain(), "bkt", "s3", None, &h(&[]))
        .expect("SSE-S3 head over HTTP");
    // PUTs that rely on a KMS bucket default are KMS requests too.
    for (bucket, default) in [
        (
            "kms-default",
            DefaultSse::Kms {
                key_id: None,
                bucket_key: false,
            },
        ),
        ("dsse-default", DefaultSse::DsseKms { key_id: None }),
    ] {
        let mut enc = BucketEncryption::new_bucket_default();
        enc.default = default;
        e.create_bucket(&tls(), bucket, Some(enc)).expect("bucket");
        assert_s3(
            e.put_object(&plain(), bucket, "k", &h(&[]), &mut &b"x"[..]),
            400,
            "InvalidArgument",
            SIGV4,
        );
        assert_s3(
            e.copy_object(&plain(), ("bkt", "s3", None), (bucket, "k"), &h(&[])),
            400,
            "InvalidArgument",
            SIGV4,
        );
        e.put_object(&tls(), bucket, "k", &h(&[]), &mut &b"x"[..])
            .expect("over TLS");
    }
}

// ---- (10) SSE-S3 root keys: lost or exposed ----

#[test]
fn a_lost_roots_file_is_refused_not_replaced() {
    let (d, e, kms) = setup();
    put(&e, "k", &h(&[]), b"sealed under root v1").expect("put");
    drop(e);
    let roots = d.path().join("sse/roots.json");
    let saved = std::fs::read(&roots).expect("read");
    std::fs::remove_file(&roots).expect("rm");
    let err = engine(d.path(), &kms).expect_err("roots.json is missing");
    assert_eq!(err.status(), 500);
    assert!(
        cause(&err).contains("roots.json is missing"),
        "{}",
        cause(&err)
    );
    assert!(cause(&err).contains("Restore roots.json from a backup"));
    assert!(cause(&err).contains("buckets exists"), "{}", cause(&err));
    assert!(!roots.exists(), "no new root was made");
    // Restored: everything reads again.
    std::fs::write(&roots, saved).expect("restore");
    set_mode(&roots, 0o600);
    let e = engine(d.path(), &kms).expect("engine");
    assert_eq!(get(&e, "k").expect("get"), b"sealed under root v1");
}

#[test]
fn a_roots_file_readable_by_others_is_refused() {
    let (d, e, kms) = setup();
    drop(e);
    let roots = d.path().join("sse/roots.json");
    for mode in [0o644, 0o640, 0o604, 0o660] {
        set_mode(&roots, mode);
        let err = engine(d.path(), &kms).expect_err("exposed roots.json");
        assert_eq!(err.status(), 500);
        assert!(
            cause(&err).ends_with(&format!(
                "has mode {mode:o}; it must be readable by its owner only (chmod 600)"
            )),
            "{}",
            cause(&err)
        );
    }
    set_mode(&roots, 0o600);
    engine(d.path(), &kms).expect("private again");
}

#[test]
fn a_fresh_home_creates_its_roots() {
    let kms = MockKms::in_memory();
    // No home directory at all, and a home whose sse directory exists but holds no roots and no buckets.
    let d = tempfile::tempdir().expect("tmp");
    let home = d.path().join("new-home");
    let e = engine(&home, &kms).expect("fresh home");
    e.create_bucket(&tls(), "bkt", None).expect("bucket");
    e.put_object(&tls(), "bkt", "k", &h(&[]), &mut &b"x"[..])
        .expect("put");
    let d2 = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(d2.path().join("sse")).expect("mkdir");
    engine(d2.path(), &kms).expect("no bucket yet: fresh");
    assert!(d2.path().join("sse/roots.json").exists());
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "spawns the aarch64 s3crypt binary, which the host cannot exec without binfmt_misc (as \
              tests/cli_bench.rs); the library-level tests cover the same engine code"
)]
fn cli_the_temporary_file_of_a_killed_put_is_removed_by_the_next_run() {
    use std::io::Write as _;
    use std::process::Stdio;
    let home = tempfile::tempdir().expect("home");
    let cli = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_s3crypt"));
        c.arg("--home").arg(home.path());
        c
    };
    assert!(
        cli()
            .args(["bucket", "create", "bkt"])
            .output()
            .expect("run")
            .status
            .success()
    );
    // A PUT that reads its body from a pipe that never ends, then is killed mid-way.
    let mut put = cli()
        .args(["put", "bkt/k", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = put.stdin.take().expect("stdin");
    stdin.write_all(&vec![7u8; 3 << 20]).expect("feed");
    let dir = home.path().join("buckets/bkt/objects");
    let temp = || {
        std::fs::read_dir(&dir)
            .expect("ls")
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let n = p.file_name().unwrap_or_default().to_string_lossy();
                n.starts_with(".s3crypt-put-") && n.ends_with(".tmp")
            })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let path = loop {
        if let Some(p) = temp() {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no temporary file");
        std::thread::sleep(Duration::from_millis(20));
    };
    put.kill().expect("kill");
    put.wait().expect("wait");
    drop(stdin);
    assert!(path.exists(), "the killed PUT left its temporary file");
    // Older than STALE_AFTER, as after a crash some time ago; no process holds its lock any more.
    set_old(&path);
    let out = cli().args(["head", "bkt/k"]).output().expect("run");
    assert!(!out.status.success(), "the killed PUT stored nothing");
    assert!(
        !path.exists(),
        "the next run removed the stale temporary file"
    );
}

#[test]
fn dsse_reads_without_staging_still_detect_tampering() {
    let (d, e, _) = setup();
    let dsse = h(&[("x-amz-server-side-encryption", "aws:kms:dsse")]);
    let chunk = s3crypt::primitives::chunked::CHUNK_SIZE;
    for (key, len, step) in [("small", 100, 1), ("large", 3 * chunk + 100, 509)] {
        let body = data(len);
        put(&e, key, &dsse, &body).expect("put");
        let path = d
            .path()
            .join("buckets/bkt/objects")
            .join(object_file_name(key));
        let orig = std::fs::read(&path).expect("read");
        for i in (0..orig.len()).step_by(step) {
            let mut t = orig.clone();
            t[i] ^= 0x01;
            std::fs::write(&path, &t).expect("write");
            let mut out = Vec::new();
            let r = e.get_object(&tls(), "bkt", key, &h(&[]), None, &mut out);
            assert!(r.is_err(), "{key}: flipping byte {i} was not detected");
            assert!(
                out.len() < len,
                "{key}: byte {i}: the whole body was released"
            );
        }
        // Outer chunks swapped, truncated, extended.
        let seg = chunk + 16;
        let a = 8 + 56;
        let mut swapped = orig.clone();
        if orig.len() > a + 2 * seg + 100 {
            let first = orig[a..a + seg].to_vec();
            swapped[a..a + seg].copy_from_slice(&orig[a + seg..a + 2 * seg]);
            swapped[a + seg..a + 2 * seg].copy_from_slice(&first);
        } else {
            swapped[a] ^= 0x80;
        }
        for bad in [
            swapped,
            orig[..orig.len() - 1].to_vec(),
            [orig.clone(), vec![0u8; 17]].concat(),
        ] {
            std::fs::write(&path, &bad).expect("write");
            assert!(get(&e, key).is_err(), "{key}");
        }
        std::fs::write(&path, &orig).expect("restore");
        assert_eq!(get(&e, key).expect("restored"), body);
    }
}

/// The cause of a 500 `InternalError`, which carries the detail for the operator (logs, CLI); the client
/// sees S3's generic message only, as this asserts.
fn cause(err: &S3Error) -> String {
    assert_eq!(
        (err.code(), err.message()),
        (
            s3crypt::s3::S3ErrorCode::InternalError,
            "We encountered an internal error. Please try again."
        )
    );
    std::error::Error::source(err)
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The local admin (the account root) over TLS, as the CLI makes requests.
fn tls() -> RequestContext {
    RequestContext::signed_by(Principal::root("000000000000", "AKIALOCALADMIN")).with_tls(true)
}

/// The same caller over plain HTTP.
fn plain() -> RequestContext {
    tls().with_tls(false)
}
