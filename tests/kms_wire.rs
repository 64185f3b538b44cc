//! The KMS wire protocol against independent implementations:
//! - boto3 (the official AWS SDK for Python) drives `s3crypt kms serve`, including SigV4 refusal and
//!   throttling that botocore's own retry logic sees;
//! - s3crypt's `RemoteKms` drives moto's KMS server (an independent implementation of the protocol);
//! - `RemoteKms` drives `s3crypt kms serve`, across a server restart.
//!
//! The Python side lives in `tests/interop/`; the venv is created by `scripts/venv.sh` from PyPI.

#[path = "support/common.rs"]
mod common;

use common::{moto, python, root, s3crypt_kms as s3crypt_serve};
use s3crypt::aws::sigv4::Credentials;
use s3crypt::kms::remote::RemoteKms;
use s3crypt::kms::*;
use std::process::Command;

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn boto3_against_s3crypt_kms_serve() {
    let py = python();
    let home = tempfile::tempdir().expect("tmp");
    let server = s3crypt_serve(
        home.path(),
        &[
            "--access-key",
            "AKIDINTEROP:interop-secret-key",
            "--quota",
            "50",
            "--in-memory",
        ],
    );
    let out = Command::new(py)
        .arg(root().join("tests/interop/kms_boto3.py"))
        .args([
            "--endpoint",
            &server.url,
            "--access-key",
            "AKIDINTEROP",
            "--secret",
            "interop-secret-key",
        ])
        .args([
            "--target",
            "s3crypt",
            "--expect-throttling",
            "--quota-rps",
            "50",
        ])
        .output()
        .expect("run kms_boto3.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "boto3 scenario failed:\n{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("skip ")),
        "every step must run against s3crypt:\n{stdout}"
    );
    for step in [
        "decrypt_wrong_context",
        "disabled_key_rejected",
        "unsigned_request",
        "wrong_secret",
        "throttling_under_load",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("ok {step}"))),
            "step {step} missing:\n{stdout}"
        );
    }
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn remote_client_against_moto() {
    let server = moto();
    let kms = RemoteKms::new(
        &server.url,
        "us-east-1",
        Credentials::new("AKIDMOTO", "moto-secret", None),
    )
    .expect("client");
    let key = kms
        .create_key(&CreateKeyRequest::default())
        .expect("create")
        .key_metadata;
    assert!(key.arn.starts_with("arn:aws:kms:us-east-1:"), "{}", key.arn);
    kms.create_alias(&CreateAliasRequest::new(
        "alias/s3crypt-remote",
        &key.key_id,
    ))
    .expect("alias");
    let ctx: EncryptionContext = [("bucket".to_owned(), "b".to_owned())].into();
    let g = kms
        .generate_data_key(&GenerateDataKeyRequest::aes256(
            "alias/s3crypt-remote",
            ctx.clone(),
        ))
        .expect("gdk");
    assert_eq!(g.plaintext.len(), 32);
    let d = kms
        .decrypt(&DecryptRequest::new(g.ciphertext_blob.clone(), ctx))
        .expect("decrypt");
    assert!(d.plaintext.ct_eq(&g.plaintext));
    let wrong: EncryptionContext = [("bucket".to_owned(), "c".to_owned())].into();
    let e = kms
        .decrypt(&DecryptRequest::new(g.ciphertext_blob, wrong))
        .expect_err("wrong context");
    assert_eq!(e.code(), "InvalidCiphertextException");
    let e = kms
        .describe_key(&DescribeKeyRequest::new(
            "7f3c3b8e-0000-4000-8000-000000000000",
        ))
        .expect_err("unknown");
    assert_eq!(e.code(), "NotFoundException");
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn remote_client_against_s3crypt_across_a_restart() {
    let home = tempfile::tempdir().expect("tmp");
    let creds = || Credentials::new("AKIDRUST", "rust-secret", None);
    let ctx: EncryptionContext = [("tenant".to_owned(), "t1".to_owned())].into();
    let (arn, blob, plaintext) = {
        let server = s3crypt_serve(home.path(), &["--access-key", "AKIDRUST:rust-secret"]);
        let kms = RemoteKms::new(&server.url, "us-east-1", creds()).expect("client");
        let key = kms
            .create_key(&CreateKeyRequest::default())
            .expect("create")
            .key_metadata;
        let g = kms
            .generate_data_key(&GenerateDataKeyRequest::aes256(&key.key_id, ctx.clone()))
            .expect("gdk");
        let bad = RemoteKms::new(
            &server.url,
            "us-east-1",
            Credentials::new("AKIDRUST", "wrong", None),
        )
        .expect("client");
        let e = bad
            .list_keys(&ListKeysRequest::default())
            .expect_err("wrong secret");
        assert_eq!(e.code(), "InvalidSignatureException");
        let other_region = RemoteKms::new(&server.url, "eu-west-1", creds()).expect("client");
        assert!(
            other_region.list_keys(&ListKeysRequest::default()).is_err(),
            "scope region must match"
        );
        (key.arn, g.ciphertext_blob, g.plaintext)
    };
    let server = s3crypt_serve(home.path(), &["--access-key", "AKIDRUST:rust-secret"]);
    let kms = RemoteKms::new(&server.url, "us-east-1", creds()).expect("client");
    let d = kms
        .decrypt(&DecryptRequest::new(blob, ctx))
        .expect("decrypt after restart");
    assert_eq!(d.key_id, arn);
    assert!(
        d.plaintext.ct_eq(&plaintext),
        "restarting the server loses no key"
    );
}
