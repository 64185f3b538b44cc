//! Client-side encryption straight to and from S3 (`s3crypt::envelope::s3`, `s3crypt encrypt … s3://`,
//! `s3crypt decrypt s3://…`) against moto's S3 and KMS on loopback (one server for this file):
//! - round trips at the part-size boundaries, V3 and V2, user metadata and instruction files, whole and
//!   by ranges (ranged GETs);
//! - the official S3 Encryption Client (Python 4.0.0, `tests/interop/s3ec_s3_moto.py`) reads what
//!   `s3crypt encrypt` uploads, and `s3crypt decrypt` reads what it uploads (put_object and multipart
//!   upload_file), with moto's KMS;
//! - tampered bodies and metadata, wrong keys and missing objects are refused with nothing written; a
//!   failed upload leaves no multipart upload behind.

#[path = "support/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use common::{Server, moto, python, root};
use s3crypt::aws::sdk::{S3ClientConfig, s3_client};
use s3crypt::aws::sigv4::Credentials;
use s3crypt::envelope::s3::{
    GetOptions, PutOptions, S3EnvelopeError, async_reader, get_decrypted, get_decrypted_to_file,
    put_encrypted,
};
use s3crypt::envelope::{AesKeyring, CommitmentPolicy, Encryptor, EnvelopeError, Format};
use s3crypt::keys::KeyEncryptionKey;
use s3crypt::kms::remote::RemoteKms;
use s3crypt::kms::{CreateKeyRequest, Kms};
use s3crypt::primitives::hash::sha256;
use s3crypt::range::ByteRange;

/// The smallest part size S3 allows, used throughout to keep objects small.
const P: usize = 5 << 20;
const ACCESS: &str = "AKIDS3ENVELOPE";
const SECRET: &str = "s3-envelope-secret";

fn moto_url() -> &'static str {
    static MOTO: OnceLock<Server> = OnceLock::new();
    &MOTO.get_or_init(moto).url
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn client(rt: &tokio::runtime::Runtime) -> Client {
    rt.block_on(s3_client(&S3ClientConfig {
        endpoint: Some(moto_url().to_owned()),
        region: Some("us-east-1".into()),
        credentials: Some(Credentials::new(ACCESS, SECRET, None)),
        ..S3ClientConfig::default()
    }))
    .expect("client")
}

fn create_bucket(rt: &tokio::runtime::Runtime, c: &Client, bucket: &str) {
    rt.block_on(c.create_bucket().bucket(bucket).send())
        .expect("create bucket");
}

fn kms_key() -> (RemoteKms, String) {
    let kms = RemoteKms::new(
        moto_url(),
        "us-east-1",
        Credentials::new(ACCESS, SECRET, None),
    )
    .expect("kms client");
    let key = kms
        .create_key(&CreateKeyRequest::default())
        .expect("create key")
        .key_metadata
        .arn;
    (kms, key)
}

/// Byte i = (i*7 + size) % 256, as `plaintext_for` in the Python scripts.
fn plaintext(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 + size) as u8).collect()
}

fn aes_keyring(byte: u8) -> AesKeyring {
    AesKeyring::new(
        KeyEncryptionKey::try_from_slice(&[byte; 32]).expect("key"),
        Default::default(),
    )
}

/// `s3crypt` with the AWS default chain pointed at moto's credentials only.
fn s3crypt(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3crypt"));
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_SESSION_TOKEN",
        "AWS_CA_BUNDLE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("--home")
        .arg(home);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run s3crypt");
    eprintln!(
        "{:?}: {}\n{}",
        cmd.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed");
    out
}

/// `s3ec_s3_moto.py CMD …`: the JSON line it prints, asserting it says ok.
fn py(cmd: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(root().join("tests/interop/s3ec_s3_moto.py"))
        .arg(cmd)
        .args([
            "--endpoint",
            moto_url(),
            "--access-key",
            ACCESS,
            "--secret",
            SECRET,
        ])
        .args(args)
        .output()
        .expect("run s3ec_s3_moto.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("s3ec_s3_moto.py {cmd} {args:?}: {stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert!(
        out.status.success() && v["ok"] == true,
        "s3ec_s3_moto.py {cmd} {args:?}: {v}"
    );
    v
}

fn mapkeys(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|s| (*s).to_owned()).collect()
}

fn user_metadata(
    rt: &tokio::runtime::Runtime,
    c: &Client,
    bucket: &str,
    key: &str,
) -> BTreeSet<String> {
    let head = rt
        .block_on(c.head_object().bucket(bucket).key(key).send())
        .expect("head");
    head.metadata()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn library_round_trips_at_part_boundaries() {
    let rt = runtime();
    let c = client(&rt);
    let bucket = "envelope-s3-boundaries";
    create_bucket(&rt, &c, bucket);
    let keyring = aes_keyring(7);
    let dir = tempfile::tempdir().expect("tmp");
    let mut cases = 0;
    for (format, policy) in [
        (Format::V3, CommitmentPolicy::RequireEncryptRequireDecrypt),
        (Format::V2, CommitmentPolicy::ForbidEncryptAllowDecrypt),
    ] {
        for size in [0, 1, P - 17, P - 16, P - 15, P - 1, P, P + 1, 2 * P + 1] {
            let with_instruction: &[bool] = if [0, P - 16, P + 1, 2 * P + 1].contains(&size) {
                &[false, true]
            } else {
                &[false]
            };
            for &instruction_file in with_instruction {
                let key = format!("{format:?}/{size}/{instruction_file}");
                let pt = plaintext(size);
                let e = Encryptor::new(&keyring, format, &Default::default(), policy)
                    .expect("encryptor");
                let report = rt
                    .block_on(put_encrypted(
                        &c,
                        bucket,
                        &key,
                        io::Cursor::new(pt.clone()),
                        e,
                        &PutOptions::new()
                            .part_size(P)
                            .instruction_file(instruction_file),
                    ))
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                let body = size + 16;
                let parts = if body <= P { 0 } else { body.div_ceil(P) };
                assert_eq!(report.parts, parts, "{key}");
                assert_eq!(report.plaintext_bytes, size as u64, "{key}");
                assert_eq!(report.body_bytes, body as u64, "{key}");
                let stored = user_metadata(&rt, &c, bucket, &key);
                let want = match (format, instruction_file) {
                    (Format::V3, false) => mapkeys(&[
                        "x-amz-c", "x-amz-3", "x-amz-w", "x-amz-m", "x-amz-d", "x-amz-i",
                    ]),
                    (Format::V3, true) => mapkeys(&["x-amz-c", "x-amz-d", "x-amz-i"]),
                    (_, false) => mapkeys(&[
                        "x-amz-key-v2",
                        "x-amz-wrap-alg",
                        "x-amz-cek-alg",
                        "x-amz-iv",
                        "x-amz-tag-len",
                        "x-amz-matdesc",
                    ]),
                    (_, true) => BTreeSet::new(),
                };
                assert_eq!(stored, want, "{key}");
                if instruction_file {
                    let inst = user_metadata(&rt, &c, bucket, &format!("{key}.instruction"));
                    assert_eq!(inst, mapkeys(&["x-amz-crypto-instr-file"]), "{key}");
                }
                let opts =
                    GetOptions::new(&keyring).policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
                let (got, r) = rt
                    .block_on(get_decrypted(&c, bucket, &key, &opts, Vec::new(), None))
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                assert!(got == pt, "{key}: plaintext differs");
                assert!(r.authenticated && r.instruction_file == instruction_file);
                assert_eq!(r.format, format);
                let path = dir.path().join("out");
                rt.block_on(get_decrypted_to_file(&c, bucket, &key, &opts, &path, None))
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                assert!(
                    std::fs::read(&path).expect("out") == pt,
                    "{key}: file differs"
                );
                for range in [
                    ByteRange::FromTo(0, 0),
                    ByteRange::FromTo(15, 33),
                    ByteRange::FromTo(P as u64 - 20, P as u64 + 20),
                    ByteRange::Suffix(17),
                    ByteRange::From(size as u64 / 2),
                    ByteRange::From(0),
                    ByteRange::FromTo(1, size as u64 + 100),
                ] {
                    let got = rt.block_on(get_decrypted(
                        &c,
                        bucket,
                        &key,
                        &opts,
                        Vec::new(),
                        Some(range),
                    ));
                    match range.resolve(size as u64) {
                        Ok((a, b)) => {
                            let (bytes, r) = got.unwrap_or_else(|e| panic!("{key} {range}: {e}"));
                            assert!(bytes == pt[a as usize..b as usize], "{key} {range}");
                            assert!(!r.authenticated);
                            assert_eq!(r.range, Some((a, b)));
                        }
                        Err(_) => assert!(
                            matches!(got, Err(S3EnvelopeError::Envelope(EnvelopeError::Range(_)))),
                            "{key} {range}: {got:?}"
                        ),
                    }
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 26);
    // Ranged reads into a file go through a staged file as well.
    let path = dir.path().join("range");
    let opts = GetOptions::new(&keyring);
    rt.block_on(get_decrypted_to_file(
        &c,
        bucket,
        &format!("V3/{}/false", 2 * P + 1),
        &opts,
        &path,
        Some(ByteRange::FromTo(1, 9 << 20)),
    ))
    .expect("range to file");
    assert!(std::fs::read(&path).expect("range") == plaintext(2 * P + 1)[1..=9 << 20]);
}

#[test]
fn official_client_and_s3crypt_cli_both_ways() {
    let (_kms, key_id) = kms_key();
    let rt = runtime();
    let c = client(&rt);
    let bucket = "envelope-s3-official";
    create_bucket(&rt, &c, bucket);
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work");
    let url = moto_url();
    let kms_args = [
        "--kms-endpoint",
        url,
        "--kms-key",
        &key_id,
        "--context",
        "tenant=t1",
    ];

    // s3crypt encrypt … s3:// → the official client reads it.
    for (fmt, size, instruction) in [
        ("v3", 0, false),
        ("v3", 17, false),
        ("v3", P + 1, false),
        ("v3", 2 * P + 3, true),
        ("v3", 4095, true),
        ("v2", 65536, false),
        ("v2", P + 1, false),
        ("v2", 17, true),
    ] {
        let pt = plaintext(size);
        let file = work.path().join(format!("{fmt}-{size}"));
        std::fs::write(&file, &pt).expect("write");
        let key = format!("s3crypt/{fmt}-{size}-{instruction}");
        let mut cmd = s3crypt(home.path());
        cmd.args(["--json", "encrypt"])
            .arg(&file)
            .arg(format!("s3://{bucket}/{key}"))
            .args([
                "--endpoint-url",
                url,
                "--part-size",
                "5MiB",
                "--format",
                fmt,
            ])
            .args(kms_args);
        if instruction {
            cmd.arg("--instruction-file");
        }
        let out = ok(&mut cmd);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let parts = if size + 16 <= P {
            0
        } else {
            (size + 16).div_ceil(P)
        };
        assert_eq!(report["parts"], parts, "{report}");
        let sha = hex::encode(sha256(&pt));
        let mut args = vec![
            "--bucket",
            bucket,
            "--key",
            &key,
            "--key-id",
            &key_id,
            "--expect-sha256",
            &sha,
            "--context",
            "tenant=t1",
        ];
        if fmt == "v2" {
            args.push("--allow-v2");
        }
        py("get", &args);
    }

    // The official client writes (put_object and its multipart upload_file) → s3crypt decrypt s3://.
    let size_s = (2 * P + 3).to_string();
    for (fmt, size, multipart) in [
        ("v3", 17, false),
        ("v3", 2 * P + 3, true),
        ("v2", 4095, false),
        ("v2", P + 1, true),
    ] {
        let key = format!("official/{fmt}-{size}-{multipart}");
        let size_arg = size.to_string();
        let mut args = vec![
            "--bucket",
            bucket,
            "--key",
            &key,
            "--key-id",
            &key_id,
            "--size",
            &size_arg,
            "--format",
            fmt,
            "--context",
            "tenant=t1",
        ];
        if multipart {
            args.push("--multipart");
        }
        let put = py("put", &args);
        // A multipart upload's ETag is `MD5-of-part-MD5s-N`.
        let etag = put["etag"].as_str().expect("etag");
        assert_eq!(etag.contains('-'), multipart, "{put}");
        let out = work.path().join(format!("official-{fmt}-{size}"));
        let mut cmd = s3crypt(home.path());
        cmd.arg("decrypt")
            .arg(format!("s3://{bucket}/{key}"))
            .arg(&out)
            .args(["--endpoint-url", url])
            .args(kms_args);
        if fmt == "v2" {
            cmd.arg("--allow-v2");
        }
        ok(&mut cmd);
        assert!(
            std::fs::read(&out).expect("out") == plaintext(size),
            "{key}"
        );
        // V2 needs the opt-in, as with the official client.
        if fmt == "v2" {
            let refused = run(s3crypt(home.path())
                .arg("decrypt")
                .arg(format!("s3://{bucket}/{key}"))
                .arg(work.path().join("refused-v2"))
                .args(["--endpoint-url", url])
                .args(kms_args));
            assert!(!refused.status.success());
            assert!(!work.path().join("refused-v2").exists());
        }
    }
    // A range of the official multipart object, with ranged GETs; to stdout.
    let key = format!("official/v3-{size_s}-true");
    for (a, b) in [
        (0u64, 0u64),
        (P as u64 - 5, P as u64 + 5),
        (2 * P as u64, 2 * P as u64 + 2),
    ] {
        let out = ok(s3crypt(home.path())
            .arg("decrypt")
            .arg(format!("s3://{bucket}/{key}"))
            .arg("-")
            .args(["--endpoint-url", url, "--range", &format!("bytes={a}-{b}")])
            .args(kms_args));
        assert_eq!(out.stdout, plaintext(2 * P + 3)[a as usize..=b as usize]);
    }
    // stdin → s3:// and s3:// → stdout, with the endpoint from AWS_ENDPOINT_URL_S3 instead of the flag.
    let pt = plaintext(123_457);
    let mut child = s3crypt(home.path())
        .env("AWS_ENDPOINT_URL_S3", url)
        .args(["encrypt", "-", &format!("s3://{bucket}/stdin")])
        .args(kms_args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&pt)
            .expect("feed");
    }
    assert!(child.wait().expect("wait").success());
    let out = ok(s3crypt(home.path())
        .env("AWS_ENDPOINT_URL_S3", url)
        .args(["decrypt", &format!("s3://{bucket}/stdin"), "-"])
        .args(kms_args));
    assert!(out.stdout == pt);
    let sha = hex::encode(sha256(&pt));
    py(
        "get",
        &[
            "--bucket",
            bucket,
            "--key",
            "stdin",
            "--key-id",
            &key_id,
            "--expect-sha256",
            &sha,
            "--context",
            "tenant=t1",
        ],
    );
}

/// Copies `from` to `to` raw, with `body` and `metadata` transformed.
fn copy_raw(
    rt: &tokio::runtime::Runtime,
    c: &Client,
    bucket: &str,
    from: &str,
    to: &str,
    body: impl FnOnce(&mut Vec<u8>),
    metadata: impl FnOnce(&mut std::collections::HashMap<String, String>),
) {
    rt.block_on(async {
        let r = c
            .get_object()
            .bucket(bucket)
            .key(from)
            .send()
            .await
            .expect("get");
        let mut md = r.metadata().cloned().unwrap_or_default();
        let mut b = r.body.collect().await.expect("body").to_vec();
        body(&mut b);
        metadata(&mut md);
        c.put_object()
            .bucket(bucket)
            .key(to)
            .set_metadata(Some(md))
            .body(ByteStream::from(b))
            .send()
            .await
            .expect("put");
    });
}

#[test]
fn tampered_wrong_key_and_missing_objects_are_refused_with_nothing_written() {
    let rt = runtime();
    let c = client(&rt);
    let bucket = "envelope-s3-tamper";
    create_bucket(&rt, &c, bucket);
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work");
    let url = moto_url();
    let wk = work.path().join("wk");
    let wk2 = work.path().join("wk2");
    std::fs::write(&wk, hex::encode([7u8; 32])).expect("wk");
    std::fs::write(&wk2, hex::encode([8u8; 32])).expect("wk2");
    let pt = plaintext(P + 100);
    let input = work.path().join("pt");
    std::fs::write(&input, &pt).expect("pt");
    for (key, extra) in [
        ("orig", None),
        ("inst", Some("--instruction-file")),
        ("v2", None),
    ] {
        let mut cmd = s3crypt(home.path());
        cmd.arg("encrypt")
            .arg(&input)
            .arg(format!("s3://{bucket}/{key}"))
            .args([
                "--endpoint-url",
                url,
                "--part-size",
                "5MiB",
                "--wrapping-key",
            ])
            .arg(&wk)
            .args(extra);
        if key == "v2" {
            cmd.args(["--format", "v2"]);
        }
        ok(&mut cmd);
    }
    let flip = |b: &mut Vec<u8>| b[P / 2] ^= 1;
    copy_raw(&rt, &c, bucket, "orig", "flipped", flip, |_| {});
    copy_raw(
        &rt,
        &c,
        bucket,
        "orig",
        "flipped-tag",
        |b| *b.last_mut().expect("tag") ^= 1,
        |_| {},
    );
    copy_raw(
        &rt,
        &c,
        bucket,
        "orig",
        "truncated",
        |b| {
            b.pop();
        },
        |_| {},
    );
    copy_raw(
        &rt,
        &c,
        bucket,
        "orig",
        "bad-message-id",
        |_| {},
        |m| {
            m.insert(
                "x-amz-i".into(),
                "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHA==".into(),
            );
        },
    );
    copy_raw(
        &rt,
        &c,
        bucket,
        "orig",
        "bad-commitment",
        |_| {},
        |m| {
            m.insert(
                "x-amz-d".into(),
                "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHA==".into(),
            );
        },
    );
    copy_raw(
        &rt,
        &c,
        bucket,
        "orig",
        "mixed",
        |_| {},
        |m| {
            m.insert("x-amz-key-v2".into(), "AAAA".into());
        },
    );
    copy_raw(
        &rt,
        &c,
        bucket,
        "orig",
        "garbage-key",
        |_| {},
        |m| {
            m.insert("x-amz-3".into(), "!!not base64!!".into());
        },
    );
    copy_raw(&rt, &c, bucket, "orig", "plain", |_| {}, |m| m.clear());
    // An instruction-file object without its instruction file.
    copy_raw(&rt, &c, bucket, "inst", "inst-orphan", |_| {}, |_| {});
    // Hostile instruction files: oversized, not JSON, carrying keys that belong on the object.
    for (name, body) in [
        ("inst-huge", vec![b' '; 100 << 10]),
        ("inst-notjson", b"{not json".to_vec()),
        (
            "inst-misplaced",
            br#"{"x-amz-c": "115", "x-amz-3": "AAAA", "x-amz-w": "02"}"#.to_vec(),
        ),
    ] {
        copy_raw(&rt, &c, bucket, "inst", name, |_| {}, |_| {});
        rt.block_on(
            c.put_object()
                .bucket(bucket)
                .key(format!("{name}.instruction"))
                .body(ByteStream::from(body))
                .send(),
        )
        .expect("put instruction file");
    }

    let refuse = |key: &str, wrapping: &Path, extra: &[&str], says: &str| {
        let fresh = work.path().join(format!("fresh-{key}"));
        let existing = work.path().join(format!("existing-{key}"));
        std::fs::write(&existing, b"old").expect("existing");
        for (dest, range) in [
            (&fresh, None),
            (&existing, None),
            (&fresh, Some("bytes=0-99")),
        ] {
            let mut cmd = s3crypt(home.path());
            cmd.arg("decrypt")
                .arg(format!("s3://{bucket}/{key}"))
                .arg(dest)
                .args(["--endpoint-url", url, "--wrapping-key"])
                .arg(wrapping)
                .args(extra);
            if let Some(r) = range {
                // Ranges are not authenticated: only metadata faults can be caught.
                if ["flipped", "flipped-tag", "truncated"].contains(&key) {
                    continue;
                }
                cmd.args(["--range", r]);
            }
            let out = run(&mut cmd);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{key} was accepted");
            assert!(stderr.contains(says), "{key}: {stderr}");
            // Neither wrapping key nor the S3 secret ever reaches an error message.
            for secret in [
                hex::encode([7u8; 32]),
                hex::encode([8u8; 32]),
                SECRET.to_owned(),
            ] {
                assert!(!stderr.contains(&secret), "{key}: a secret in {stderr}");
            }
            assert!(!fresh.exists(), "{key}: a file was written");
            assert_eq!(std::fs::read(&existing).expect("existing"), b"old", "{key}");
        }
        // To stdout: nothing at all.
        let out = run(s3crypt(home.path())
            .arg("decrypt")
            .arg(format!("s3://{bucket}/{key}"))
            .arg("-")
            .args(["--endpoint-url", url, "--wrapping-key"])
            .arg(wrapping)
            .args(extra));
        assert!(!out.status.success() && out.stdout.is_empty(), "{key}");
    };
    refuse("flipped", &wk, &[], "authentication failed");
    refuse("flipped-tag", &wk, &[], "authentication failed");
    refuse("truncated", &wk, &[], "authentication failed");
    refuse("bad-message-id", &wk, &[], "key commitment does not match");
    refuse("bad-commitment", &wk, &[], "key commitment does not match");
    refuse("mixed", &wk, &[], "mixes format versions");
    refuse("garbage-key", &wk, &[], "x-amz-3");
    refuse("plain", &wk, &[], "holds no S3 Encryption Client keys");
    refuse("inst-orphan", &wk, &[], "lacks x-amz-");
    refuse("inst-huge", &wk, &[], "exceeds 65536 bytes");
    refuse("inst-notjson", &wk, &[], "not a JSON object");
    refuse("inst-misplaced", &wk, &[], "must be in the object metadata");
    refuse("orig", &wk2, &[], "wrapping key does not match");
    refuse("inst", &wk2, &[], "wrapping key does not match");
    refuse("v2", &wk, &[], "does not allow V2");
    refuse("missing", &wk, &[], "does not exist");
    refuse(
        "orig",
        &wk,
        &["--context", "tenant=other"],
        "does not match the one stored",
    );

    // The originals still decrypt, and the official client refuses a tampered body as well (KMS-wrapped).
    for key in ["orig", "inst"] {
        let out = work.path().join(format!("good-{key}"));
        ok(s3crypt(home.path())
            .arg("decrypt")
            .arg(format!("s3://{bucket}/{key}"))
            .arg(&out)
            .args(["--endpoint-url", url, "--wrapping-key"])
            .arg(&wk));
        assert!(std::fs::read(&out).expect("out") == pt);
    }
    let (_kms, key_id) = kms_key();
    ok(s3crypt(home.path())
        .arg("encrypt")
        .arg(&input)
        .arg(format!("s3://{bucket}/kms"))
        .args([
            "--endpoint-url",
            url,
            "--kms-endpoint",
            url,
            "--kms-key",
            &key_id,
        ]));
    copy_raw(&rt, &c, bucket, "kms", "kms-flipped", flip, |_| {});
    py(
        "refuse",
        &[
            "--bucket",
            bucket,
            "--key",
            "kms-flipped",
            "--key-id",
            &key_id,
        ],
    );
    let out = run(s3crypt(home.path())
        .arg("decrypt")
        .arg(format!("s3://{bucket}/kms-flipped"))
        .arg(work.path().join("kms-flipped"))
        .args([
            "--endpoint-url",
            url,
            "--kms-endpoint",
            url,
            "--kms-key",
            &key_id,
        ]));
    assert!(!out.status.success() && !work.path().join("kms-flipped").exists());
}

/// A source that fails after `left` bytes.
struct Failing {
    left: usize,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("the source broke"));
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(0x5a);
        self.left -= n;
        Ok(n)
    }
}

/// A source that gives `left` bytes, then says so and never gives another.
struct Stall {
    left: usize,
    stalled: std::sync::Arc<tokio::sync::Notify>,
}

impl tokio::io::AsyncRead for Stall {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        if self.left == 0 {
            self.stalled.notify_one();
            return std::task::Poll::Pending;
        }
        let n = buf.remaining().min(self.left);
        buf.put_slice(&vec![0x33; n]);
        self.left -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[test]
fn a_dropped_upload_is_aborted() {
    let rt = runtime();
    let c = client(&rt);
    let bucket = "envelope-s3-dropped";
    create_bucket(&rt, &c, bucket);
    let keyring = aes_keyring(10);
    let e = Encryptor::new(
        &keyring,
        Format::V3,
        &Default::default(),
        CommitmentPolicy::default(),
    )
    .expect("encryptor");
    rt.block_on(async {
        let stalled = std::sync::Arc::new(tokio::sync::Notify::new());
        let source = Stall {
            left: 3 * P,
            stalled: stalled.clone(),
        };
        let opts = PutOptions::new().part_size(P);
        let mut put = Box::pin(put_encrypted(&c, bucket, "dropped", source, e, &opts));
        tokio::select! {
            r = &mut put => panic!("the upload finished: {r:?}"),
            () = stalled.notified() => {}
        }
        let uploads = c.list_multipart_uploads().bucket(bucket).send().await;
        assert_eq!(
            uploads.expect("list").uploads().len(),
            1,
            "parts were uploaded"
        );
        drop(put);
        let mut left = 1;
        for _ in 0..100 {
            let uploads = c.list_multipart_uploads().bucket(bucket).send().await;
            left = uploads.expect("list").uploads().len();
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(left, 0, "the dropped upload was not aborted");
    });
}

#[test]
fn failed_uploads_leave_no_multipart_upload_and_no_object() {
    let rt = runtime();
    let c = client(&rt);
    let bucket = "envelope-s3-abort";
    create_bucket(&rt, &c, bucket);
    let keyring = aes_keyring(9);
    let encryptor = || {
        Encryptor::new(
            &keyring,
            Format::V3,
            &Default::default(),
            CommitmentPolicy::default(),
        )
        .expect("encryptor")
    };
    // Fails after two parts were uploaded.
    let err = rt
        .block_on(put_encrypted(
            &c,
            bucket,
            "broken",
            async_reader(Failing { left: 3 * P }),
            encryptor(),
            &PutOptions::new().part_size(P),
        ))
        .expect_err("a broken source must fail the upload");
    assert!(matches!(err, S3EnvelopeError::Io(_)), "{err}");
    assert!(err.to_string().contains("the source broke"), "{err}");
    let uploads = rt
        .block_on(c.list_multipart_uploads().bucket(bucket).send())
        .expect("list uploads");
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
    assert!(
        rt.block_on(c.head_object().bucket(bucket).key("broken").send())
            .is_err()
    );
    // Part sizes outside S3's limits are refused before anything is sent.
    let err = rt
        .block_on(put_encrypted(
            &c,
            bucket,
            "small-parts",
            io::Cursor::new(vec![0u8; 10]),
            encryptor(),
            &PutOptions::new().part_size(P - 1),
        ))
        .expect_err("part size");
    assert!(matches!(err, S3EnvelopeError::PartSize(_)), "{err}");
    // A missing bucket: a typed error from the CLI, non-zero exit.
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work");
    let wk = work.path().join("wk");
    std::fs::write(&wk, hex::encode([9u8; 32])).expect("wk");
    let input = work.path().join("pt");
    std::fs::write(&input, plaintext(P + 1)).expect("pt");
    let out = run(s3crypt(home.path())
        .arg("encrypt")
        .arg(&input)
        .arg("s3://envelope-s3-no-such-bucket/x")
        .args([
            "--endpoint-url",
            moto_url(),
            "--part-size",
            "5MiB",
            "--wrapping-key",
        ])
        .arg(&wk));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let out = run(s3crypt(home.path())
        .arg("encrypt")
        .arg(&input)
        .arg("s3://just-a-bucket")
        .args(["--endpoint-url", moto_url(), "--wrapping-key"])
        .arg(&wk));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("s3://BUCKET/KEY"));
    let uploads = rt
        .block_on(c.list_multipart_uploads().bucket(bucket).send())
        .expect("list uploads");
    assert!(uploads.uploads().is_empty());
}
