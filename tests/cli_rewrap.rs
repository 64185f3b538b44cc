//! `s3crypt rewrap` (issue 18, item 7): the data key moves to another KMS key or wrapping key, only the
//! metadata changes, the body stays byte for byte, the old key no longer opens the object, and a failed
//! or interrupted re-wrap leaves the old metadata as it was.

// Not on aarch64: CI runs that leg under qemu-user, where the test cannot exec the emulated binary (as
// tests/cli_bench.rs).
#![cfg(all(unix, not(target_arch = "aarch64")))]

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use s3crypt::primitives::hash::sha256;

const KEY1_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY2_HEX: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        fs::write(env.path("k1.key"), KEY1_HEX).expect("key");
        fs::write(env.path("k2.key"), KEY2_HEX).expect("key");
        fs::write(env.path("plain"), content()).expect("plain");
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_s3crypt"));
        c.current_dir(self.dir.path())
            .arg("--home")
            .arg(self.path("home"))
            .args(args)
            .env_remove("S3CRYPT_FAILPOINT")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run s3crypt")
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "s3crypt {args:?} failed: {}",
            stderr(&out)
        );
        out
    }

    fn refused(&self, args: &[&str], what: &str) {
        let out = self.run(args);
        assert!(!out.status.success(), "s3crypt {args:?} accepted it");
        assert_ne!(out.status.code(), Some(101), "panicked: {}", stderr(&out));
        assert!(
            stderr(&out).contains(what),
            "s3crypt {args:?}: expected {what:?} in: {}",
            stderr(&out)
        );
    }

    fn kms_keys(&self) {
        self.ok(&["kms", "create-key", "--alias", "a"]);
        self.ok(&["kms", "create-key", "--alias", "b"]);
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn json(&self, name: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_slice(&self.read(name)).expect("json")
    }

    /// Decrypts `obj` with `key_args` and checks the plaintext.
    fn decrypts(&self, key_args: &[&str]) {
        let _ = fs::remove_file(self.path("out"));
        let mut args = vec!["decrypt", "obj", "out"];
        args.extend_from_slice(key_args);
        self.ok(&args);
        assert_eq!(self.read("out"), content());
    }

    fn does_not_decrypt(&self, key_args: &[&str], what: &str) {
        let mut args = vec!["decrypt", "obj", "out2"];
        args.extend_from_slice(key_args);
        self.refused(&args, what);
        assert!(!self.path("out2").exists());
    }

    fn files(&self) -> BTreeSet<String> {
        fs::read_dir(self.dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn content() -> Vec<u8> {
    (0..200_000u32).map(|i| (i % 253) as u8).collect()
}

#[test]
fn kms_to_kms_keeps_the_body_and_the_commitment() {
    let env = Env::new();
    env.kms_keys();
    env.ok(&[
        "encrypt",
        "plain",
        "obj",
        "--kms-key",
        "alias/a",
        "--context",
        "tenant=t1",
    ]);
    let body = sha256(&env.read("obj"));
    let before = env.json("obj.metadata.json");
    let out = env.ok(&[
        "--json",
        "rewrap",
        "obj",
        "--kms-key",
        "alias/a",
        "--to-kms-key-id",
        "alias/b",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["format"], "V3");
    assert_eq!(report["from"], "KmsContext");
    assert_eq!(report["to"], "KmsContext");
    assert_eq!(sha256(&env.read("obj")), body, "the body changed");
    let after = env.json("obj.metadata.json");
    for k in ["x-amz-c", "x-amz-d", "x-amz-i", "x-amz-w", "x-amz-t"] {
        assert_eq!(after.get(k), before.get(k), "{k} changed");
    }
    assert_ne!(after.get("x-amz-3"), before.get("x-amz-3"));
    env.decrypts(&["--kms-key", "alias/b", "--context", "tenant=t1"]);
    env.decrypts(&[]);
    env.does_not_decrypt(&["--kms-key", "alias/a"], "KMS");
    env.ok(&["verify", "obj", "--kms-key", "alias/b"]);
    // Once more, to a new context this time.
    env.ok(&[
        "rewrap",
        "obj",
        "--kms-key",
        "alias/b",
        "--context",
        "tenant=t1",
        "--to-kms-key-id",
        "alias/a",
        "--to-context",
        "tenant=t9",
    ]);
    env.decrypts(&["--kms-key", "alias/a", "--context", "tenant=t9"]);
    env.does_not_decrypt(
        &["--kms-key", "alias/a", "--context", "tenant=t1"],
        "encryption context does not match",
    );
    assert_eq!(sha256(&env.read("obj")), body);
}

#[test]
fn aes_to_kms_with_an_instruction_file_rewrites_only_the_instruction_file() {
    let env = Env::new();
    env.kms_keys();
    env.ok(&[
        "encrypt",
        "plain",
        "obj",
        "--wrapping-key",
        "k1.key",
        "--instruction-file",
    ]);
    let body = sha256(&env.read("obj"));
    let sidecar = env.read("obj.metadata.json");
    let before = env.json("obj.instruction");
    assert_eq!(
        before.get("x-amz-w").and_then(|v| v.as_str()),
        Some("02"),
        "{before:?}"
    );
    env.ok(&[
        "rewrap",
        "obj",
        "--wrapping-key",
        "k1.key",
        "--to-kms-key-id",
        "alias/b",
    ]);
    assert_eq!(sha256(&env.read("obj")), body, "the body changed");
    assert_eq!(
        env.read("obj.metadata.json"),
        sidecar,
        "the sidecar changed"
    );
    let after = env.json("obj.instruction");
    assert_eq!(after.get("x-amz-w").and_then(|v| v.as_str()), Some("12"));
    assert!(!after.contains_key("x-amz-m"), "{after:?}");
    assert!(
        after
            .get("x-amz-t")
            .and_then(|v| v.as_str())
            .is_some_and(|t| t.contains("aws:x-amz-cek-alg")),
        "{after:?}"
    );
    env.decrypts(&["--kms-key", "alias/b"]);
    env.does_not_decrypt(&["--wrapping-key", "k1.key"], "KMS key");
}

#[test]
fn aes_to_aes_and_the_old_key_is_refused_afterwards() {
    let env = Env::new();
    env.ok(&["encrypt", "plain", "obj", "--wrapping-key", "k1.key"]);
    let body = sha256(&env.read("obj"));
    env.ok(&[
        "rewrap",
        "obj",
        "--wrapping-key",
        "k1.key",
        "--to-key-file",
        "k2.key",
    ]);
    assert_eq!(sha256(&env.read("obj")), body, "the body changed");
    env.decrypts(&["--wrapping-key", "k2.key"]);
    env.does_not_decrypt(&["--wrapping-key", "k1.key"], "wrapping key does not match");
    // A second re-wrap from the old key is refused and changes nothing.
    let sidecar = env.read("obj.metadata.json");
    env.refused(
        &[
            "rewrap",
            "obj",
            "--wrapping-key",
            "k1.key",
            "--to-key-file",
            "k2.key",
        ],
        "wrapping key does not match",
    );
    assert_eq!(env.read("obj.metadata.json"), sidecar);
}

#[test]
fn v2_objects_need_allow_v2_and_stay_v2() {
    let env = Env::new();
    env.ok(&[
        "encrypt",
        "plain",
        "obj",
        "--wrapping-key",
        "k1.key",
        "--format",
        "v2",
    ]);
    let args = [
        "rewrap",
        "obj",
        "--wrapping-key",
        "k1.key",
        "--to-key-file",
        "k2.key",
    ];
    env.refused(&args, "commitment policy");
    let mut with = args.to_vec();
    with.push("--allow-v2");
    env.ok(&with);
    let m = env.json("obj.metadata.json");
    assert!(m.contains_key("x-amz-key-v2") && m.contains_key("x-amz-iv"));
    env.decrypts(&["--wrapping-key", "k2.key", "--allow-v2"]);
}

#[test]
fn a_failed_rewrap_leaves_the_old_metadata() {
    let env = Env::new();
    env.kms_keys();
    env.ok(&["encrypt", "plain", "obj", "--wrapping-key", "k1.key"]);
    let sidecar = env.read("obj.metadata.json");
    let files = env.files();
    // The wrong current key.
    env.refused(
        &[
            "rewrap",
            "obj",
            "--wrapping-key",
            "k2.key",
            "--to-kms-key-id",
            "alias/b",
        ],
        "wrapping key does not match",
    );
    // A new KMS key that does not exist.
    env.refused(
        &[
            "rewrap",
            "obj",
            "--wrapping-key",
            "k1.key",
            "--to-kms-key-id",
            "alias/missing",
        ],
        "KMS",
    );
    // A disabled new KMS key.
    let described: serde_json::Value =
        serde_json::from_slice(&env.ok(&["--json", "kms", "describe-key", "alias/b"]).stdout)
            .expect("json");
    let key_id = described["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("KeyId")
        .to_owned();
    env.ok(&["kms", "disable", &key_id]);
    env.refused(
        &[
            "rewrap",
            "obj",
            "--wrapping-key",
            "k1.key",
            "--to-kms-key-id",
            "alias/b",
        ],
        "KMS",
    );
    // A new key file that is the sidecar itself.
    env.refused(
        &[
            "rewrap",
            "obj",
            "--wrapping-key",
            "k1.key",
            "--to-key-file",
            "obj.metadata.json",
        ],
        "same file",
    );
    assert_eq!(env.read("obj.metadata.json"), sidecar);
    assert_eq!(env.files(), files, "a failed re-wrap left files behind");
    env.decrypts(&["--wrapping-key", "k1.key"]);
}

#[test]
fn an_interrupted_rewrap_leaves_the_old_metadata() {
    let env = Env::new();
    env.ok(&["encrypt", "plain", "obj", "--wrapping-key", "k1.key"]);
    let sidecar = env.read("obj.metadata.json");
    // The process dies (abort, as kill -9) after staging the new metadata, before its commit point.
    let out = env
        .cmd(&[
            "rewrap",
            "obj",
            "--wrapping-key",
            "k1.key",
            "--to-key-file",
            "k2.key",
        ])
        .env("S3CRYPT_FAILPOINT", "commit-group-before-journal")
        .output()
        .expect("run");
    assert!(!out.status.success(), "the failpoint did not fire");
    assert_eq!(env.read("obj.metadata.json"), sidecar);
    env.decrypts(&["--wrapping-key", "k1.key"]);
    env.does_not_decrypt(&["--wrapping-key", "k2.key"], "wrapping key does not match");
    // A later run completes the re-wrap.
    env.ok(&[
        "rewrap",
        "obj",
        "--wrapping-key",
        "k1.key",
        "--to-key-file",
        "k2.key",
    ]);
    env.decrypts(&["--wrapping-key", "k2.key"]);
}

#[test]
fn an_explicit_metadata_file_is_rewritten() {
    let env = Env::new();
    env.ok(&[
        "encrypt",
        "plain",
        "obj",
        "--wrapping-key",
        "k1.key",
        "--metadata",
        "copy.json",
    ]);
    let sidecar = env.read("obj.metadata.json");
    env.ok(&[
        "rewrap",
        "obj",
        "--metadata",
        "copy.json",
        "--wrapping-key",
        "k1.key",
        "--to-key-file",
        "k2.key",
    ]);
    assert_eq!(env.read("obj.metadata.json"), sidecar);
    let _ = fs::remove_file(env.path("out"));
    env.ok(&[
        "decrypt",
        "obj",
        "out",
        "--metadata",
        "copy.json",
        "--wrapping-key",
        "k2.key",
    ]);
    assert_eq!(env.read("out"), content());
}
