//! Byte compatibility with the official Amazon S3 Encryption Client for Python 4.0.0 (PyPI), both ways:
//! - objects the official client writes (V3 and V2, single and multipart, sizes 0 … 5 MiB + 1) decrypt
//!   with s3crypt, whole and by range;
//! - objects s3crypt writes decrypt with the official client;
//!
//! with the official client's KMS calls going to `s3crypt kms serve` (s3crypt reads them through
//! `RemoteKms`), and again with both sides using moto's KMS on loopback. S3 is moto's. The Python side is
//! `tests/interop/s3ec_interop.py`; the venv comes from `scripts/venv.sh`.

#[path = "support/common.rs"]
mod common;

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use common::{moto, python, root};
use s3crypt::aws::sigv4::Credentials;
use s3crypt::envelope::file::{METADATA_SUFFIX, parse_map, with_suffix};
use s3crypt::envelope::{CommitmentPolicy, Decryptor, Encryptor, Format, KmsKeyring};
use s3crypt::kms::remote::RemoteKms;
use s3crypt::kms::{CreateKeyRequest, EncryptionContext, Kms};
use s3crypt::primitives::hash::sha256;
use s3crypt::range::ByteRange;

fn s3crypt_kms(home: &Path) -> common::Server {
    common::s3crypt_kms(
        home,
        &["--in-memory", "--access-key", "AKIDS3EC:s3ec-secret"],
    )
}

fn ctx() -> EncryptionContext {
    [
        ("tenant".to_owned(), "t1".to_owned()),
        ("purpose".to_owned(), "interop".to_owned()),
    ]
    .into()
}

fn run_py(args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(root().join("tests/interop/s3ec_interop.py"))
        .args(args)
        .output()
        .expect("run s3ec_interop.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && !stdout.contains("\nFAIL"),
        "s3ec_interop.py {} failed:\n{stdout}",
        args[0]
    );
    stdout
}

/// Decrypts every object the official client wrote into `dir`, whole and by range, with `kms`.
fn read_official(dir: &Path, kms: &dyn Kms, key: &str) -> usize {
    let manifest: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    let keyring = KmsKeyring::new(kms, key);
    let mut n = 0;
    for entry in &manifest {
        let name = entry["name"].as_str().expect("name");
        let body = std::fs::read(dir.join(format!("{name}.body"))).expect("body");
        let path = dir.join(format!("{name}.metadata.json"));
        let md = parse_map(&std::fs::read_to_string(&path).expect("metadata"), &path).expect("map");
        let d = Decryptor::new(
            &keyring,
            &md,
            CommitmentPolicy::RequireEncryptAllowDecrypt,
            Some(&ctx()),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let pt = d
            .decrypt_to_vec(&body)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            hex::encode(sha256(&pt)),
            entry["plaintext_sha256"].as_str().expect("sha"),
            "{name}"
        );
        for r in [
            ByteRange::FromTo(0, 0),
            ByteRange::FromTo(15, 33),
            ByteRange::Suffix(17),
            ByteRange::From(4095),
        ] {
            match r.resolve(pt.len() as u64) {
                Ok((a, b)) => {
                    let got = d
                        .danger_decrypt_range_unauthenticated(
                            Cursor::new(&body),
                            body.len() as u64,
                            r,
                        )
                        .expect("range");
                    assert_eq!(got, &pt[a as usize..b as usize], "{name} {r}");
                }
                Err(_) => assert!(
                    d.danger_decrypt_range_unauthenticated(
                        Cursor::new(&body),
                        body.len() as u64,
                        r
                    )
                    .is_err()
                ),
            }
        }
        println!(
            "s3crypt decrypted official object {name} ({} bytes, {:?})",
            pt.len(),
            d.format()
        );
        n += 1;
    }
    n
}

/// Writes s3crypt objects (V3 and V2, several sizes) in the exchange layout the Python `read` expects.
fn write_s3crypt(dir: &Path, kms: &dyn Kms, key: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let keyring = KmsKeyring::new(kms, key);
    let mut manifest = Vec::new();
    for (format, policy, tag) in [
        (
            Format::V3,
            CommitmentPolicy::RequireEncryptRequireDecrypt,
            "v3",
        ),
        (
            Format::V2,
            CommitmentPolicy::ForbidEncryptAllowDecrypt,
            "v2",
        ),
    ] {
        for size in [0usize, 1, 15, 16, 17, 4095, 65536, 5 * 1024 * 1024 + 1] {
            let pt: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
            let e = Encryptor::new(&keyring, format, &ctx(), policy).expect("encryptor");
            let md = e.metadata();
            let body = e.encrypt_to_vec(&pt).expect("encrypt");
            let name = format!("s3crypt-{tag}-{size}");
            std::fs::write(dir.join(format!("{name}.body")), &body).expect("body");
            std::fs::write(
                with_suffix(&dir.join(&name), METADATA_SUFFIX),
                serde_json::to_vec(&md).expect("md"),
            )
            .expect("md");
            manifest.push(serde_json::json!({
                "name": name, "format": tag, "size": size, "multipart": false,
                "plaintext_sha256": hex::encode(sha256(&pt)), "context": ctx(), "key_id": key,
            }));
        }
    }
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).expect("manifest"),
    )
    .expect("manifest");
}

/// `s3ec_interop.py CMD` arguments: the endpoints and credentials, `extra`, and the context.
fn py_args(cmd: &str, common: &[&str], extra: Vec<String>) -> Vec<String> {
    let mut args = vec![cmd.to_owned()];
    args.extend(common.iter().map(|s| (*s).to_owned()));
    args.extend(extra);
    args.extend(context_args());
    args
}

fn context_args() -> Vec<String> {
    ctx()
        .iter()
        .flat_map(|(k, v)| ["--context".to_owned(), format!("{k}={v}")])
        .collect()
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn official_client_with_s3crypt_kms_both_ways() {
    let home = tempfile::tempdir().expect("tmp");
    let kms_server = s3crypt_kms(home.path());
    let s3 = moto();
    let kms = RemoteKms::new(
        &kms_server.url,
        "us-east-1",
        Credentials::new("AKIDS3EC", "s3ec-secret", None),
    )
    .expect("client");
    let key = kms
        .create_key(&CreateKeyRequest::default())
        .expect("key")
        .key_metadata
        .arn;
    let work = tempfile::tempdir().expect("tmp");
    let official = work.path().join("official");
    let common = [
        "--s3-endpoint",
        &s3.url,
        "--kms-endpoint",
        &kms_server.url,
        "--access-key",
        "AKIDS3EC",
        "--secret",
        "s3ec-secret",
    ];
    let args = py_args(
        "write",
        &common,
        vec![
            "--key-id".into(),
            key.clone(),
            "--out".into(),
            official.display().to_string(),
        ],
    );
    run_py(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let n = read_official(&official, &kms, &key);
    assert!(n >= 18, "expected V3 and V2 objects of 9 sizes, got {n}");

    let ours = work.path().join("s3crypt");
    write_s3crypt(&ours, &kms, &key);
    let args = py_args(
        "read",
        &common,
        vec![
            "--key-id".into(),
            key,
            "--in".into(),
            ours.display().to_string(),
        ],
    );
    let out = run_py(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.lines().filter(|l| l.starts_with("ok read ")).count() >= 16,
        "{out}"
    );
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn official_client_and_s3crypt_with_moto_kms() {
    let moto = moto();
    let kms = RemoteKms::new(
        &moto.url,
        "us-east-1",
        Credentials::new("AKIDMOTO", "moto-secret", None),
    )
    .expect("client");
    let key = kms
        .create_key(&CreateKeyRequest::default())
        .expect("key")
        .key_metadata
        .arn;
    let work = tempfile::tempdir().expect("tmp");
    let common = [
        "--s3-endpoint",
        &moto.url,
        "--kms-endpoint",
        &moto.url,
        "--access-key",
        "AKIDMOTO",
        "--secret",
        "moto-secret",
    ];
    let official = work.path().join("official");
    let args = py_args(
        "write",
        &common,
        vec![
            "--key-id".into(),
            key.clone(),
            "--out".into(),
            official.display().to_string(),
            "--sizes".into(),
            "0,17,65536".into(),
        ],
    );
    run_py(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(read_official(&official, &kms, &key) >= 6);
    let ours = work.path().join("s3crypt");
    write_s3crypt(&ours, &kms, &key);
    let args = py_args(
        "read",
        &common,
        vec![
            "--key-id".into(),
            key,
            "--in".into(),
            ours.display().to_string(),
        ],
    );
    run_py(&args.iter().map(String::as_str).collect::<Vec<_>>());
}
