//! `s3crypt bucket versioning|list-versions|object-lock`, `s3crypt object retention|legal-hold|delete`
//! and `get`/`head --version-id` on a local home: the JSON shapes aws-cli prints, a version's life
//! cycle, and Object Lock refusals with S3's codes and a failing exit status.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_s3crypt"))
            .current_dir(self.dir.path())
            .arg("--home")
            .arg(self.path("home"))
            .args(args)
            .env_remove("S3CRYPT_HOME")
            .stdin(Stdio::null())
            .output()
            .expect("run s3crypt")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "s3crypt {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("one JSON document")
    }

    fn fails(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(!out.status.success(), "s3crypt {args:?} succeeded");
        // With --json an error is one object on stderr: {"error": {"code", "message", ..}}.
        let v: serde_json::Value = serde_json::from_slice(&out.stderr).expect("the error as JSON");
        v["error"].clone()
    }
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "CLI tests exec the host binary; they run on the x86_64 legs"
)]
fn versions_from_the_command_line() {
    let env = Env::new();
    env.json(&["bucket", "create", "vers"]);
    assert_eq!(
        env.json(&["bucket", "versioning", "vers"]),
        serde_json::json!({})
    );
    assert_eq!(
        env.json(&["bucket", "versioning", "vers", "--status", "Enabled"]),
        serde_json::json!({"Status": "Enabled"})
    );
    for (i, text) in ["one", "two"].iter().enumerate() {
        let f = env.path(&format!("f{i}"));
        fs::write(&f, text).expect("write");
        let put = env.json(&["put", "vers/k", f.to_str().expect("utf-8")]);
        assert!(put["headers"]["x-amz-version-id"].is_string(), "{put}");
    }
    let listed = env.json(&["bucket", "list-versions", "vers"]);
    let versions = listed["Versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["IsLatest"], true);
    let old = versions[1]["VersionId"].as_str().expect("id").to_owned();
    let out = env.path("out");
    env.json(&[
        "get",
        "vers/k",
        out.to_str().expect("utf-8"),
        "--version-id",
        &old,
    ]);
    assert_eq!(fs::read(&out).expect("read"), b"one");
    let marker = env.json(&["object", "delete", "vers/k"]);
    assert_eq!(marker["DeleteMarker"], true);
    let e = env.fails(&["head", "vers/k"]);
    assert_eq!(e["code"], "NoSuchKey");
    let gone = env.json(&["object", "delete", "vers/k", "--version-id", &old]);
    assert_eq!(gone, serde_json::json!({"VersionId": old}));
    assert_eq!(
        env.fails(&["head", "vers/k", "--version-id", "no/such"])["code"],
        "InvalidArgument"
    );
    // An id may begin with `-` as far as the CLI is concerned (ours never do; S3's could).
    assert_eq!(
        env.fails(&["head", "vers/k", "--version-id", "-abc"])["code"],
        "NoSuchVersion"
    );
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "CLI tests exec the host binary; they run on the x86_64 legs"
)]
fn object_lock_from_the_command_line() {
    let env = Env::new();
    env.json(&["bucket", "create", "lock"]);
    assert_eq!(
        env.fails(&["bucket", "object-lock", "lock", "--enable"])["code"],
        "InvalidBucketState"
    );
    env.json(&["bucket", "versioning", "lock", "--status", "Enabled"]);
    let config = env.json(&[
        "bucket",
        "object-lock",
        "lock",
        "--enable",
        "--mode",
        "GOVERNANCE",
        "--days",
        "2",
    ]);
    assert_eq!(
        config["ObjectLockConfiguration"]["Rule"]["DefaultRetention"],
        serde_json::json!({"Mode": "GOVERNANCE", "Days": 2})
    );
    let f = env.path("f");
    fs::write(&f, b"locked").expect("write");
    env.json(&[
        "put",
        "lock/k",
        f.to_str().expect("utf-8"),
        "-H",
        "Content-MD5: x",
    ]);
    let r = env.json(&["object", "retention", "lock/k"]);
    assert_eq!(r["Retention"]["Mode"], "GOVERNANCE");
    let extended = env.json(&[
        "object",
        "retention",
        "lock/k",
        "--mode",
        "COMPLIANCE",
        "--retain-until",
        "2099-01-01T00:00:00Z",
        "--bypass-governance-retention",
    ]);
    assert_eq!(extended["Retention"]["Mode"], "COMPLIANCE");
    let hold = env.json(&["object", "legal-hold", "lock/k", "--status", "ON"]);
    assert_eq!(hold, serde_json::json!({"LegalHold": {"Status": "ON"}}));
    let listed = env.json(&["bucket", "list-versions", "lock"]);
    let id = listed["Versions"][0]["VersionId"]
        .as_str()
        .expect("id")
        .to_owned();
    let e = env.fails(&[
        "object",
        "delete",
        "lock/k",
        "--version-id",
        &id,
        "--bypass-governance-retention",
    ]);
    assert_eq!(e["code"], "AccessDenied");
    assert_eq!(
        e["message"],
        "Access Denied because object protected by object lock."
    );
    // Shortening COMPLIANCE is refused too; a plain delete adds a marker.
    let e = env.fails(&[
        "object",
        "retention",
        "lock/k",
        "--version-id",
        &id,
        "--mode",
        "COMPLIANCE",
        "--retain-until",
        "2098-01-01T00:00:00Z",
    ]);
    assert_eq!(e["code"], "AccessDenied");
    assert_eq!(
        env.json(&["object", "delete", "lock/k"])["DeleteMarker"],
        true
    );
}
