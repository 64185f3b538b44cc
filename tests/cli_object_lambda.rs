//! `s3crypt object-lambda …` on a local home: create (by supporting access point name and function
//! name), get, list, configuration round trip, policies and their refusals, delete, with the JSON
//! shapes aws-cli prints for S3 Control.

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
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
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
fn object_lambda_access_points_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("home");
    ok(&home, &["bucket", "create", "shared-data"]);
    ok(
        &home,
        &[
            "access-point",
            "create",
            "finance",
            "--bucket",
            "shared-data",
        ],
    );
    let created = ok(
        &home,
        &[
            "object-lambda",
            "create-access-point",
            "redacted",
            "--supporting-access-point",
            "finance",
            "--function",
            "redact:$LATEST",
            "--actions",
            "GetObject,HeadObject",
            "--payload",
            "{\"mask\":\"*\"}",
            "--allowed-features",
            "GetObject-Range",
        ],
    );
    assert_eq!(
        created["ObjectLambdaAccessPointArn"],
        "arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/redacted"
    );
    let alias = created["Alias"]["Value"].as_str().expect("alias");
    assert!(alias.starts_with("redacted-") && alias.ends_with("--ol-s3") && alias.len() <= 63);
    let got = ok(&home, &["object-lambda", "get-access-point", "redacted"]);
    assert_eq!(got["Name"], "redacted");
    assert_eq!(got["Alias"]["Value"], alias);
    let listed = ok(&home, &["object-lambda", "list-access-points"]);
    assert_eq!(listed["ObjectLambdaAccessPointList"][0]["Name"], "redacted");
    let config = ok(&home, &["object-lambda", "get-configuration", "redacted"]);
    let c = &config["Configuration"];
    assert_eq!(
        c["SupportingAccessPoint"],
        "arn:aws:s3:us-east-1:000000000000:accesspoint/finance"
    );
    assert_eq!(c["AllowedFeatures"][0], "GetObject-Range");
    let t = &c["TransformationConfigurations"][0];
    assert_eq!(t["Actions"], serde_json::json!(["GetObject", "HeadObject"]));
    assert_eq!(
        t["ContentTransformation"]["AwsLambda"]["FunctionArn"],
        "redact:$LATEST"
    );
    assert_eq!(
        t["ContentTransformation"]["AwsLambda"]["FunctionPayload"],
        "{\"mask\":\"*\"}"
    );

    // The XML form round-trips through put-configuration.
    let xml = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .arg("--home")
        .arg(&home)
        .args(["object-lambda", "get-configuration", "redacted"])
        .output()
        .expect("xml");
    assert!(xml.status.success());
    let text = String::from_utf8(xml.stdout)
        .expect("utf-8")
        .replace("<Action>HeadObject</Action>", "");
    let file = dir.path().join("config.xml");
    fs::write(&file, text).expect("write");
    ok(
        &home,
        &[
            "object-lambda",
            "put-configuration",
            "redacted",
            file.to_str().expect("utf-8"),
        ],
    );
    let config = ok(&home, &["object-lambda", "get-configuration", "redacted"]);
    assert_eq!(
        config["Configuration"]["TransformationConfigurations"][0]["Actions"],
        serde_json::json!(["GetObject"])
    );

    // Refusals.
    let e = fails(
        &home,
        &[
            "object-lambda",
            "create-access-point",
            "redacted",
            "--supporting-access-point",
            "finance",
            "--function",
            "f",
        ],
    );
    assert!(
        e.to_string().contains("AccessPointAlreadyOwnedByYou"),
        "{e}"
    );
    let e = fails(
        &home,
        &[
            "object-lambda",
            "create-access-point",
            "orphan",
            "--supporting-access-point",
            "no-such-ap",
            "--function",
            "f",
        ],
    );
    assert!(e.to_string().contains("NoSuchAccessPoint"), "{e}");
    let e = fails(
        &home,
        &[
            "object-lambda",
            "create-access-point",
            "bad-action",
            "--supporting-access-point",
            "finance",
            "--function",
            "f",
            "--actions",
            "PutObject",
        ],
    );
    assert!(e.to_string().contains("InvalidArgument"), "{e}");

    // Policies.
    let policy = dir.path().join("policy.json");
    fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"s3-object-lambda:GetObject","Resource":"arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/redacted"}]}"#,
    )
    .expect("write");
    ok(
        &home,
        &[
            "object-lambda",
            "put-policy",
            "redacted",
            policy.to_str().expect("utf-8"),
        ],
    );
    let p = ok(&home, &["object-lambda", "get-policy", "redacted"]);
    assert!(
        p["Policy"]
            .as_str()
            .expect("policy")
            .contains("s3-object-lambda:GetObject")
    );
    let s = ok(&home, &["object-lambda", "policy-status", "redacted"]);
    assert_eq!(s["PolicyStatus"]["IsPublic"], false);
    let public = dir.path().join("public.json");
    fs::write(
        &public,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3-object-lambda:GetObject","Resource":"*"}]}"#,
    )
    .expect("write");
    let e = fails(
        &home,
        &[
            "object-lambda",
            "put-policy",
            "redacted",
            public.to_str().expect("utf-8"),
        ],
    );
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    ok(&home, &["object-lambda", "delete-policy", "redacted"]);
    let e = fails(&home, &["object-lambda", "get-policy", "redacted"]);
    assert!(e.to_string().contains("NoSuchAccessPointPolicy"), "{e}");

    ok(&home, &["object-lambda", "delete-access-point", "redacted"]);
    let e = fails(&home, &["object-lambda", "get-access-point", "redacted"]);
    assert!(e.to_string().contains("NoSuchAccessPoint"), "{e}");
    let listed = ok(&home, &["object-lambda", "list-access-points"]);
    assert_eq!(listed["ObjectLambdaAccessPointList"], serde_json::json!([]));
}
