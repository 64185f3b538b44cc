//! `s3crypt iam …`: creating, listing and deleting users, their inline policies, the account root, the
//! JSON shapes, and refusals with a clear message.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        fs::write(env.path("policy.json"), POLICY).expect("policy");
        env
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

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "s3crypt {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("json output")
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "s3crypt {args:?} succeeded");
        String::from_utf8(out.stderr).expect("utf-8")
    }
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "execs the host binary")]
fn create_list_put_policy_delete() {
    let env = Env::new();
    let text = env.ok(&["iam", "create-user", "alice", "--policy", "policy.json"]);
    let akid = field(&text, "AccessKeyId").to_owned();
    let secret = field(&text, "SecretAccessKey").to_owned();
    assert!(akid.starts_with("AKIA") && akid.len() == 20, "{akid}");
    assert_eq!(secret.len(), 40);
    assert_eq!(field(&text, "Arn"), "arn:aws:iam::000000000000:user/alice");

    let list = env.ok(&["iam", "list-users"]);
    assert!(list.contains("alice") && list.contains("default"), "{list}");
    assert!(!list.contains(&secret), "secret in the listing");

    env.ok(&[
        "iam",
        "put-user-policy",
        "alice",
        "--policy-name",
        "read",
        "--policy-document",
        "policy.json",
    ]);
    let users = env.json(&["iam", "list-users"]);
    assert_eq!(
        users["Users"][0]["PolicyNames"],
        serde_json::json!(["default", "read"])
    );
    env.ok(&[
        "iam",
        "delete-user-policy",
        "alice",
        "--policy-name",
        "default",
    ]);
    let users = env.json(&["iam", "list-users"]);
    assert_eq!(
        users["Users"][0]["PolicyNames"],
        serde_json::json!(["read"])
    );
    let e = env.fails(&[
        "iam",
        "delete-user-policy",
        "alice",
        "--policy-name",
        "default",
    ]);
    assert!(e.contains("cannot be found"), "{e}");

    env.ok(&["iam", "delete-user", "alice"]);
    assert_eq!(
        env.json(&["iam", "list-users"]),
        serde_json::json!({"Users": []})
    );
    let e = env.fails(&["iam", "delete-user", "alice"]);
    assert!(
        e.contains("The user with name alice cannot be found."),
        "{e}"
    );

    // The state file holds the secrets: owner-only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = fs::metadata(env.path("home/iam/accounts.json")).expect("accounts.json");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "execs the host binary")]
fn json_shapes() {
    let env = Env::new();
    let u = env.json(&["iam", "create-user", "bob"]);
    let obj = u.as_object().expect("object");
    let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "AccessKeyId",
            "Arn",
            "SecretAccessKey",
            "UserId",
            "UserName"
        ]
    );
    assert_eq!(u["UserName"], "bob");
    assert_eq!(u["UserId"].as_str().expect("id").len(), 21);
    assert!(u["UserId"].as_str().expect("id").starts_with("AIDA"));

    let list = env.json(&["iam", "list-users"]);
    let row = list["Users"][0].as_object().expect("row");
    let mut keys: Vec<_> = row.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["Arn", "CreateDate", "PolicyNames", "UserId", "UserName"]
    );
    assert_eq!(row["UserId"], u["UserId"]);
    assert!(
        !list
            .to_string()
            .contains(u["SecretAccessKey"].as_str().expect("secret"))
    );

    let root = env.json(&["iam", "root"]);
    let mut keys: Vec<_> = root
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["AccessKeyId", "AccountId", "Arn", "SecretAccessKey"]);
    assert_eq!(root["AccountId"], "000000000000");
    assert_eq!(root["Arn"], "arn:aws:iam::000000000000:root");
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "execs the host binary")]
fn root_is_generated_once() {
    let env = Env::new();
    let a = env.ok(&["iam", "root"]);
    let b = env.ok(&["iam", "root"]);
    assert_eq!(a, b);
    assert_eq!(field(&a, "SecretAccessKey").len(), 40);
    let j = env.json(&["iam", "root"]);
    assert_eq!(j["AccessKeyId"], field(&a, "AccessKeyId"));
    assert_eq!(j["SecretAccessKey"], field(&a, "SecretAccessKey"));
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "execs the host binary")]
fn bad_names_policies_and_duplicates_are_refused() {
    let env = Env::new();
    let e = env.fails(&["iam", "create-user", "no/slash"]);
    assert!(e.contains("invalid user name \"no/slash\""), "{e}");
    assert!(e.contains("1 to 64 characters"), "{e}");

    fs::write(
        env.path("bad.json"),
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
    )
    .expect("write");
    let e = env.fails(&["iam", "create-user", "carol", "--policy", "bad.json"]);
    assert!(e.contains("malformed policy document"), "{e}");
    assert!(e.contains("should not specify a principal"), "{e}");
    let e = env.fails(&["iam", "create-user", "carol", "--policy", "missing.json"]);
    assert!(e.contains("missing.json"), "{e}");

    env.ok(&["iam", "create-user", "carol"]);
    let e = env.fails(&["iam", "create-user", "carol"]);
    assert!(
        e.contains("The user with name carol already exists."),
        "{e}"
    );
    let e = env.fails(&[
        "iam",
        "put-user-policy",
        "nobody",
        "--policy-name",
        "p",
        "--policy-document",
        "policy.json",
    ]);
    assert!(e.contains("nobody cannot be found"), "{e}");
}
