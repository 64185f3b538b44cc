//! `s3crypt verify` (issue 18, item 7): an encrypted file's integrity is checked without writing any
//! plaintext; every tamper, truncation and wrong key is refused with a non-zero exit.

// Not on aarch64: CI runs that leg under qemu-user, where the test cannot exec the emulated binary (as
// tests/cli_bench.rs).
#![cfg(all(unix, not(target_arch = "aarch64")))]

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_KEY_HEX: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        fs::write(env.path("wrap.key"), KEY_HEX).expect("key");
        fs::write(env.path("other.key"), OTHER_KEY_HEX).expect("key");
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

    /// Refused with a non-zero exit (not a panic), and the error names `what`.
    fn refused(&self, args: &[&str], what: &str) -> Output {
        let out = self.run(args);
        assert!(!out.status.success(), "s3crypt {args:?} accepted it");
        assert_ne!(out.status.code(), Some(101), "panicked: {}", stderr(&out));
        assert!(
            stderr(&out).contains(what),
            "s3crypt {args:?}: expected {what:?} in: {}",
            stderr(&out)
        );
        out
    }

    /// `content` encrypted with the wrapping key to `name` (and `name.metadata.json`).
    fn encrypted(&self, name: &str, content: &[u8]) {
        fs::write(self.path("plain"), content).expect("write");
        self.ok(&["encrypt", "plain", name, "--wrapping-key", "wrap.key"]);
        fs::remove_file(self.path("plain")).expect("rm");
    }

    fn files(&self) -> BTreeSet<String> {
        fs::read_dir(self.dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }

    fn metadata(&self, name: &str) -> serde_json::Map<String, serde_json::Value> {
        let text = fs::read_to_string(self.path(&format!("{name}.metadata.json"))).expect("read");
        serde_json::from_str(&text).expect("json")
    }

    fn set_metadata(&self, name: &str, key: &str, value: &str) {
        let mut m = self.metadata(name);
        m.insert(key.into(), value.into());
        fs::write(
            self.path(&format!("{name}.metadata.json")),
            serde_json::to_string(&m).expect("json"),
        )
        .expect("write");
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn content(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn a_good_file_verifies_and_nothing_is_written() {
    let env = Env::new();
    let data = content(300_000);
    env.encrypted("obj", &data);
    let before = env.files();
    let out = env.ok(&["verify", "obj", "--wrapping-key", "wrap.key"]);
    assert!(stdout(&out).starts_with("OK  obj"), "{}", stdout(&out));
    assert!(stdout(&out).contains("300000 plaintext bytes"));
    let out = env.ok(&["--json", "verify", "obj", "--wrapping-key", "wrap.key"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    assert_eq!(v["file"], "obj");
    assert_eq!(v["ok"], true);
    assert_eq!(v["plaintext_bytes"], 300_000);
    assert_eq!(v["format"], "V3");
    // No plaintext, temporary or otherwise, appeared anywhere in the directory.
    assert_eq!(env.files(), before);
    // The empty object verifies too.
    env.encrypted("empty", b"");
    env.ok(&["verify", "empty", "--wrapping-key", "wrap.key"]);
}

#[test]
fn a_flipped_body_byte_is_refused() {
    let env = Env::new();
    env.encrypted("obj", &content(100_000));
    let good = fs::read(env.path("obj")).expect("read");
    for pos in [0, 50_000, good.len() - 1] {
        let mut bad = good.clone();
        bad[pos] ^= 0x01;
        fs::write(env.path("obj"), &bad).expect("write");
        env.refused(
            &["verify", "obj", "--wrapping-key", "wrap.key"],
            "authentication failed",
        );
    }
}

#[test]
fn a_truncated_or_extended_file_is_refused() {
    let env = Env::new();
    env.encrypted("obj", &content(70_000));
    let good = fs::read(env.path("obj")).expect("read");
    for len in [good.len() - 1, good.len() - 16, 10, 0] {
        fs::write(env.path("obj"), &good[..len]).expect("write");
        env.refused(
            &["verify", "obj", "--wrapping-key", "wrap.key"],
            "authentication failed",
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    fs::write(env.path("obj"), &longer).expect("write");
    env.refused(
        &["verify", "obj", "--wrapping-key", "wrap.key"],
        "authentication failed",
    );
}

#[test]
fn flipped_metadata_is_refused() {
    let env = Env::new();
    env.encrypted("obj", &content(5_000));
    let original = fs::read(env.path("obj.metadata.json")).expect("read");
    let m = env.metadata("obj");
    let flip = |key: &str| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut raw = b64.decode(m[key].as_str().expect("string")).expect("b64");
        raw[3] ^= 0x80;
        b64.encode(raw)
    };
    // The key commitment and the message id: the commitment no longer matches the data key.
    for key in ["x-amz-d", "x-amz-i"] {
        env.set_metadata("obj", key, &flip(key));
        env.refused(
            &["verify", "obj", "--wrapping-key", "wrap.key"],
            "key commitment does not match",
        );
        fs::write(env.path("obj.metadata.json"), &original).expect("restore");
    }
    // The wrapped data key: it no longer unwraps.
    env.set_metadata("obj", "x-amz-3", &flip("x-amz-3"));
    env.refused(
        &["verify", "obj", "--wrapping-key", "wrap.key"],
        "wrapping key does not match",
    );
    fs::write(env.path("obj.metadata.json"), &original).expect("restore");
    // A V2 mapkey beside the V3 ones: a downgrade attempt.
    env.set_metadata("obj", "x-amz-key-v2", "AAAA");
    env.refused(
        &["verify", "obj", "--wrapping-key", "wrap.key"],
        "mixes format versions",
    );
    // No sidecar at all.
    fs::remove_file(env.path("obj.metadata.json")).expect("rm");
    env.refused(
        &["verify", "obj", "--wrapping-key", "wrap.key"],
        "metadata sidecar",
    );
}

#[test]
fn a_wrong_key_or_context_is_refused() {
    let env = Env::new();
    env.encrypted("obj", &content(1_000));
    env.refused(
        &["verify", "obj", "--wrapping-key", "other.key"],
        "wrapping key does not match",
    );
    env.refused(
        &[
            "verify",
            "obj",
            "--wrapping-key",
            "wrap.key",
            "--context",
            "tenant=t2",
        ],
        "encryption context does not match",
    );
    // A KMS object: the wrong KMS key and a different encryption context are refused by the KMS.
    env.ok(&["kms", "create-key", "--alias", "a"]);
    env.ok(&["kms", "create-key", "--alias", "b"]);
    fs::write(env.path("plain"), content(2_000)).expect("write");
    env.ok(&[
        "encrypt",
        "plain",
        "kobj",
        "--kms-key",
        "alias/a",
        "--context",
        "tenant=t1",
    ]);
    env.ok(&["verify", "kobj", "--context", "tenant=t1"]);
    env.ok(&["verify", "kobj", "--kms-key", "alias/a"]);
    env.refused(&["verify", "kobj", "--kms-key", "alias/b"], "KMS");
    env.set_metadata(
        "kobj",
        "x-amz-t",
        r#"{"aws:x-amz-cek-alg":"115","tenant":"t2"}"#,
    );
    env.refused(&["verify", "kobj"], "KMS");
}

#[test]
fn several_files_report_each_and_fail_if_any_fails() {
    let env = Env::new();
    env.encrypted("good", &content(10));
    env.encrypted("bad", &content(10));
    let mut body = fs::read(env.path("bad")).expect("read");
    body[0] ^= 1;
    fs::write(env.path("bad"), body).expect("write");
    let out = env.run(&[
        "--json",
        "verify",
        "good",
        "bad",
        "--wrapping-key",
        "wrap.key",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["file"], "good");
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[1]["file"], "bad");
    assert_eq!(lines[1]["ok"], false);
    assert!(
        lines[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("authentication failed")),
        "{}",
        lines[1]
    );
}

#[test]
fn stdin_with_an_explicit_metadata_file() {
    let env = Env::new();
    env.encrypted("obj", &content(4_096));
    let run = |body: &str| {
        env.cmd(&[
            "verify",
            "-",
            "--metadata",
            "obj.metadata.json",
            "--wrapping-key",
            "wrap.key",
        ])
        .stdin(fs::File::open(env.path(body)).expect("open"))
        .output()
        .expect("run")
    };
    assert!(run("obj").status.success());
    let mut body = fs::read(env.path("obj")).expect("read");
    body[100] ^= 4;
    fs::write(env.path("tampered"), body).expect("write");
    let out = run("tampered");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("authentication failed"),
        "{}",
        stderr(&out)
    );
    // Without --metadata, stdin is refused.
    env.refused(
        &["verify", "-", "--wrapping-key", "wrap.key"],
        "--metadata FILE is required",
    );
}
