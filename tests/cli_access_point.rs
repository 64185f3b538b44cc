//! `s3crypt access-point …` on a local home: create, get, list, policies and their refusals, delete,
//! with the JSON shapes aws-cli prints for S3 Control.

use std::fs;
use std::process::{Command, Output, Stdio};

fn run(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .arg("--home")
        .arg(home)
        .arg("--json")
        .args(args)
        .env_remove("S3CRYPT_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run s3crypt")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn ok(home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = run(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    json(&out)
}

fn fails(home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = run(home, args);
    assert!(!out.status.success(), "{args:?} succeeded");
    // With --json an error is one object on stderr: {"error": {"code", "message", "exit_code", ..}}.
    let v: serde_json::Value = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    v["error"].clone()
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "CLI tests exec the host binary; they run on the x86_64 legs"
)]
fn access_points_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("home");
    ok(&home, &["bucket", "create", "shared-data"]);
    let created = ok(
        &home,
        &[
            "access-point",
            "create",
            "finance",
            "--bucket",
            "shared-data",
        ],
    );
    assert_eq!(
        created["AccessPointArn"],
        "arn:aws:s3:us-east-1:000000000000:accesspoint/finance"
    );
    let alias = created["Alias"].as_str().expect("alias");
    assert!(alias.starts_with("finance-") && alias.ends_with("-s3alias") && alias.len() <= 63);
    ok(
        &home,
        &[
            "access-point",
            "create",
            "vpc-only",
            "--bucket",
            "shared-data",
            "--vpc-id",
            "vpc-1",
        ],
    );
    let got = ok(&home, &["access-point", "get", "vpc-only"]);
    assert_eq!(got["NetworkOrigin"], "VPC");
    assert_eq!(got["VpcConfiguration"]["VpcId"], "vpc-1");
    let listed = ok(&home, &["access-point", "list", "--bucket", "shared-data"]);
    assert_eq!(listed["AccessPointList"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        fails(
            &home,
            &[
                "access-point",
                "create",
                "finance",
                "--bucket",
                "shared-data"
            ]
        )["code"],
        "AccessPointAlreadyOwnedByYou"
    );
    assert_eq!(
        fails(
            &home,
            &["access-point", "create", "Fin", "--bucket", "shared-data"]
        )["code"],
        "InvalidRequest"
    );
    assert_eq!(
        fails(
            &home,
            &[
                "access-point",
                "create",
                "other",
                "--bucket",
                "no-such-bucket"
            ]
        )["code"],
        "NoSuchBucket"
    );
    assert_eq!(
        fails(&home, &["access-point", "get-policy", "finance"])["code"],
        "NoSuchAccessPointPolicy"
    );
    let policy = dir.path().join("p.json");
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:us-east-1:000000000000:accesspoint/finance/object/*"}]}"#;
    fs::write(&policy, public).expect("write");
    let p = policy.to_str().expect("utf-8");
    assert_eq!(
        fails(&home, &["access-point", "put-policy", "finance", p])["code"],
        "AccessDenied",
        "a public policy while BlockPublicPolicy is on"
    );
    let scoped = public.replace(
        r#""Principal":"*""#,
        r#""Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"}"#,
    );
    fs::write(&policy, &scoped).expect("write");
    ok(&home, &["access-point", "put-policy", "finance", p]);
    assert_eq!(
        ok(&home, &["access-point", "get-policy", "finance"])["Policy"],
        scoped
    );
    assert_eq!(
        ok(&home, &["access-point", "policy-status", "finance"])["PolicyStatus"]["IsPublic"],
        false
    );
    ok(&home, &["access-point", "delete-policy", "finance"]);
    ok(&home, &["access-point", "delete", "finance"]);
    assert_eq!(
        fails(&home, &["access-point", "get", "finance"])["code"],
        "NoSuchAccessPoint"
    );
}
