//! `s3crypt put|get|head|cp` SSE flags, as aws-cli's: `--sse`, `--sse-kms-key-id`, `--sse-c-key FILE`
//! (the MD5 computed), `--sse-c-copy-source-key FILE`; and a raw `-H` that misspells an SSE header or
//! misses its colon refused, never a silent downgrade to the bucket default.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("S3CRYPT_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run s3crypt")
}

fn headers(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")["headers"].clone()
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "CLI tests exec the host binary; they run on the x86_64 legs"
)]
fn sse_flags_and_refused_headers() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("home");
    let file = dir.path().join("f");
    fs::write(&file, b"secret data").expect("write");
    let f = file.to_str().expect("utf-8");
    assert!(
        run(&home, &["bucket", "create", "flags", "--allow-sse-c"])
            .status
            .success()
    );
    let kms = headers(&run(
        &home,
        &["--json", "put", "flags/k", f, "--sse", "aws:kms"],
    ));
    assert_eq!(kms["x-amz-server-side-encryption"], "aws:kms");
    let dsse = headers(&run(
        &home,
        &["--json", "put", "flags/d", f, "--sse", "aws:kms:dsse"],
    ));
    assert_eq!(dsse["x-amz-server-side-encryption"], "aws:kms:dsse");
    // The three key forms: raw, hex, base64.
    let raw = [7u8; 32];
    let key_files = [
        ("raw", raw.to_vec()),
        ("hex", hex::encode(raw).into_bytes()),
        (
            "b64",
            b"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n".to_vec(),
        ),
    ];
    for (name, bytes) in &key_files {
        let k = dir.path().join(name);
        fs::write(&k, bytes).expect("key");
        let ks = k.to_str().expect("utf-8");
        let put = headers(&run(
            &home,
            &["--json", "put", "flags/c", f, "--sse-c-key", ks],
        ));
        assert_eq!(
            put["x-amz-server-side-encryption-customer-key-MD5"], "y4HAEFCYWuvAXWFTtA1Qpg==",
            "{name}"
        );
        let out = dir.path().join("out");
        let o = out.to_str().expect("utf-8");
        headers(&run(
            &home,
            &["--json", "get", "flags/c", o, "--sse-c-key", ks],
        ));
        assert_eq!(fs::read(&out).expect("read"), b"secret data", "{name}");
    }
    let k = dir.path().join("raw");
    let ks = k.to_str().expect("utf-8");
    let copied = headers(&run(
        &home,
        &[
            "--json",
            "cp",
            "flags/c",
            "flags/plain",
            "--sse-c-copy-source-key",
            ks,
            "--sse",
            "AES256",
        ],
    ));
    assert_eq!(copied["x-amz-server-side-encryption"], "AES256");
    // Without the key the SSE-C object stays closed.
    assert!(!run(&home, &["head", "flags/c"]).status.success());
    // Refused before any request: a misspelled SSE header, a header without its colon, a KMS key id
    // without --sse, a short key file. Nothing is stored.
    for (args, says) in [
        (
            vec![
                "put",
                "flags/x",
                f,
                "-H",
                "x-amz-server-side-encrpytion: aws:kms",
            ],
            "not an SSE header",
        ),
        (
            vec![
                "put",
                "flags/x",
                f,
                "-H",
                "x-amz-server-side-encryption aws:kms",
            ],
            "Name: value",
        ),
        (
            vec!["put", "flags/x", f, "--sse-kms-key-id", "alias/a"],
            "--sse",
        ),
    ] {
        let out = run(&home, &args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let short = dir.path().join("short");
    fs::write(&short, b"0123").expect("short");
    let out = run(
        &home,
        &[
            "put",
            "flags/x",
            f,
            "--sse-c-key",
            short.to_str().expect("utf-8"),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("32 bytes"));
    assert!(
        !run(&home, &["head", "flags/x"]).status.success(),
        "nothing stored"
    );
}
