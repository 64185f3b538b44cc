//! Several s3crypt processes on one home: while `s3crypt kms serve` runs on a home, CLI commands on the
//! same home (`kms create-key`, `bucket create`, `put`/`get` in every mode, `encrypt`/`decrypt` with the
//! built-in KMS, `sse rotate-root`) succeed, and the server and the commands see each other's keys.

#![cfg(unix)]

#[path = "support/common.rs"]
mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use s3crypt::aws::sigv4::Credentials;
use s3crypt::kms::remote::RemoteKms;
use s3crypt::kms::*;

const ACCESS_KEY: &str = "AKIDSHARED:shared-home-secret";

fn s3crypt(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .current_dir(home.parent().expect("parent"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("S3CRYPT_FAILPOINT")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run s3crypt")
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = s3crypt(home, args);
    assert!(
        out.status.success(),
        "s3crypt {args:?} failed while the server runs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "execs the host binary")]
fn cli_commands_share_a_home_with_a_running_kms_server() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("home");
    // Killed (and waited for) when dropped, also when an assertion below fails.
    let server = common::s3crypt_kms(&home, &["--access-key", ACCESS_KEY]);
    let (id, secret) = ACCESS_KEY.split_once(':').expect("id:secret");
    let remote = RemoteKms::new(&server.url, "us-east-1", Credentials::new(id, secret, None))
        .expect("client");

    // A key created by the CLI is used through the server at once.
    let created: serde_json::Value = serde_json::from_str(&ok(
        &home,
        &["--json", "kms", "create-key", "--alias", "app"],
    ))
    .expect("create-key prints JSON");
    let key_id = created["KeyId"].as_str().expect("KeyId").to_owned();
    let ctx: EncryptionContext = [("app".to_owned(), "shared".to_owned())].into();
    let g = remote
        .generate_data_key(&GenerateDataKeyRequest::aes256("alias/app", ctx.clone()))
        .expect("the server sees the CLI's alias");
    assert!(g.key_id.ends_with(&key_id), "{}", g.key_id);
    // A key created through the server is listed by the CLI.
    let served = remote
        .create_key(&CreateKeyRequest::default())
        .expect("create through the server")
        .key_metadata
        .key_id;
    let listed = ok(&home, &["kms", "list-keys"]);
    assert!(
        listed.contains(&key_id) && listed.contains(&served),
        "{listed}"
    );

    // The object store and the SSE-S3 roots of the same home, in every server-side mode.
    fs::write(dir.path().join("in.txt"), b"shared home body").expect("write");
    ok(&home, &["bucket", "create", "shared"]);
    ok(&home, &["put", "shared/s3", "in.txt"]);
    ok(&home, &["sse", "rotate-root"]);
    ok(
        &home,
        &[
            "put",
            "shared/kms",
            "in.txt",
            "-H",
            "x-amz-server-side-encryption: aws:kms",
            "-H",
            "x-amz-server-side-encryption-aws-kms-key-id: alias/app",
        ],
    );
    ok(&home, &["put", "shared/s3-v2", "in.txt"]);
    for key in ["s3", "kms", "s3-v2"] {
        let out = format!("out-{key}");
        ok(&home, &["get", &format!("shared/{key}"), &out]);
        assert_eq!(
            fs::read(dir.path().join(&out)).expect("read"),
            b"shared home body",
            "{key}"
        );
    }

    // Client-side encryption with the built-in KMS on the same home.
    ok(
        &home,
        &["encrypt", "in.txt", "in.s3ec", "--kms-key", "alias/app"],
    );
    ok(&home, &["decrypt", "in.s3ec", "back.txt"]);
    assert_eq!(
        fs::read(dir.path().join("back.txt")).expect("read"),
        b"shared home body"
    );

    // The server is still serving, with everything the commands saved.
    let keys = remote
        .list_keys(&ListKeysRequest::default())
        .expect("list")
        .keys;
    assert!(keys.len() >= 2, "{keys:?}");
    drop(server);
}
