//! `s3crypt lambda …` through the binary: create, get (by name and ARN), list, update, invoke (a Python
//! handler under awslambdaric, a handler that raises, a timeout), delete, with the JSON shapes and exit
//! statuses of `aws lambda`.

#[path = "support/common.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("S3CRYPT_HOME")
        .env_remove("AWS_REGION")
        .env("S3CRYPT_PYTHON", common::python())
        .stdin(Stdio::null())
        .output()
        .expect("run s3crypt")
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn ok(home: &Path, args: &[&str]) -> Output {
    let out = run(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "CLI tests exec the host binary; they run on the x86_64 legs"
)]
fn lambda_functions_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("home");
    let code = common::root().join("tests/lambda");
    let code = code.to_str().expect("utf-8 path");
    let policy = dir.path().join("role.json");
    std::fs::write(
        &policy,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}"#,
    )
    .expect("policy");
    let policy = policy.to_str().expect("utf-8 path");

    let created = json_of(
        &ok(
            &home,
            &[
                "lambda",
                "create-function",
                "echo",
                "--runtime",
                "python",
                "--handler",
                "handlers.echo",
                "--code",
                code,
                "--role-policy",
                policy,
                "--timeout",
                "20",
                "--memory",
                "256",
            ],
        )
        .stdout,
    );
    assert_eq!(created["FunctionName"], "echo");
    assert_eq!(
        created["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:echo"
    );
    assert_eq!(created["Handler"], "handlers.echo");
    assert_eq!(created["Timeout"], 20);
    assert_eq!(created["MemorySize"], 256);
    assert_eq!(
        created["RolePolicy"]["Statement"][0]["Action"],
        "s3:GetObject"
    );

    // Refusals: a duplicate, a bad name, an invalid policy, a timeout past 900 s.
    let dup = run(
        &home,
        &[
            "lambda",
            "create-function",
            "echo",
            "--runtime",
            "python",
            "--handler",
            "h.h",
            "--code",
            code,
        ],
    );
    assert_eq!(dup.status.code(), Some(254));
    assert!(
        String::from_utf8_lossy(&dup.stderr).contains("(ResourceConflictException)"),
        "{}",
        String::from_utf8_lossy(&dup.stderr)
    );
    let bad = run(
        &home,
        &[
            "--json",
            "lambda",
            "create-function",
            "no/slash",
            "--runtime",
            "python",
            "--handler",
            "h.h",
            "--code",
            code,
        ],
    );
    assert_eq!(bad.status.code(), Some(254));
    assert_eq!(
        json_of(&bad.stdout)["Error"]["Code"],
        "InvalidParameterValueException"
    );
    let bad_policy = dir.path().join("bad.json");
    std::fs::write(&bad_policy, r#"{"Statement": "nope"}"#).expect("write");
    let out = run(
        &home,
        &[
            "lambda",
            "create-function",
            "p",
            "--runtime",
            "python",
            "--handler",
            "h.h",
            "--code",
            code,
            "--role-policy",
            bad_policy.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(254));
    let out = run(
        &home,
        &[
            "lambda",
            "create-function",
            "t",
            "--runtime",
            "python",
            "--handler",
            "h.h",
            "--code",
            code,
            "--timeout",
            "901",
        ],
    );
    assert_eq!(out.status.code(), Some(254));

    ok(
        &home,
        &[
            "lambda",
            "create-function",
            "raises",
            "--runtime",
            "python",
            "--handler",
            "handlers.raises",
            "--code",
            code,
        ],
    );
    ok(
        &home,
        &[
            "lambda",
            "create-function",
            "sleeps",
            "--runtime",
            "python",
            "--handler",
            "handlers.sleeps",
            "--code",
            code,
            "--timeout",
            "1",
        ],
    );

    let got = json_of(
        &ok(
            &home,
            &[
                "lambda",
                "get-function",
                "arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST",
            ],
        )
        .stdout,
    );
    assert_eq!(got["Configuration"]["FunctionName"], "echo");
    assert_eq!(got["Configuration"]["Version"], "$LATEST");
    assert_eq!(got["Code"]["Location"], code);

    let listed = json_of(&ok(&home, &["lambda", "list-functions"]).stdout);
    let names: Vec<&str> = listed["Functions"]
        .as_array()
        .expect("Functions")
        .iter()
        .filter_map(|f| f["FunctionName"].as_str())
        .collect();
    assert_eq!(names, ["echo", "raises", "sleeps"]);

    let updated = json_of(
        &ok(
            &home,
            &[
                "lambda",
                "update-function-configuration",
                "echo",
                "--timeout",
                "15",
            ],
        )
        .stdout,
    );
    assert_eq!(updated["Timeout"], 15);
    assert_eq!(updated["Handler"], "handlers.echo");

    // Invoke: status on stdout, payload in OUTFILE.
    let outfile = dir.path().join("out.json");
    let outfile = outfile.to_str().expect("utf-8");
    let status = json_of(
        &ok(
            &home,
            &[
                "lambda",
                "invoke",
                "echo",
                "--payload",
                r#"{"k": "v"}"#,
                "--log-type",
                "Tail",
                outfile,
            ],
        )
        .stdout,
    );
    assert_eq!(status["StatusCode"], 200);
    assert_eq!(status["ExecutedVersion"], "$LATEST");
    assert_eq!(status.get("FunctionError"), None);
    assert!(status["LogResult"].as_str().is_some_and(|l| !l.is_empty()));
    let payload = json_of(&std::fs::read(outfile).expect("outfile"));
    assert_eq!(payload["event"], json!({"k": "v"}));
    assert_eq!(payload["env"]["AWS_LAMBDA_FUNCTION_TIMEOUT"], "15");

    // @file payload, payload on stdout.
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"from": "file"}"#).expect("event");
    let out = ok(
        &home,
        &[
            "lambda",
            "invoke",
            "echo",
            "--payload",
            &format!("@{}", event.display()),
        ],
    );
    assert_eq!(json_of(&out.stdout)["event"], json!({"from": "file"}));
    assert_eq!(json_of(&out.stderr)["StatusCode"], 200);

    let status = json_of(&ok(&home, &["lambda", "invoke", "raises", outfile]).stdout);
    assert_eq!(status["FunctionError"], "Unhandled");
    assert_eq!(
        json_of(&std::fs::read(outfile).expect("outfile"))["errorType"],
        "ValueError"
    );

    let status = json_of(
        &ok(
            &home,
            &[
                "lambda",
                "invoke",
                "sleeps",
                "--payload",
                r#"{"seconds": 30}"#,
                outfile,
            ],
        )
        .stdout,
    );
    assert_eq!(status["FunctionError"], "Unhandled");
    let doc = json_of(&std::fs::read(outfile).expect("outfile"));
    assert_eq!(doc["errorType"], "Sandbox.Timedout");
    assert!(
        doc["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Task timed out after 1 seconds")),
        "{doc}"
    );

    let missing = run(&home, &["lambda", "invoke", "nope"]);
    assert_eq!(missing.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("(ResourceNotFoundException)"));

    ok(&home, &["lambda", "delete-function", "echo"]);
    let gone = run(&home, &["lambda", "get-function", "echo"]);
    assert_eq!(gone.status.code(), Some(254));
    let out = run(&home, &["lambda", "delete-function", "echo"]);
    assert_eq!(out.status.code(), Some(254));
}
