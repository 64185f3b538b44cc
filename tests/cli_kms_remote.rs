//! `s3crypt encrypt|decrypt --kms-endpoint URL` against a remote KMS (`s3crypt kms serve`), as a user
//! scripting against AWS would run it (issue 18 item 3): credentials from the AWS default chain (a
//! shared credentials file and profile here), the region from the profile, and retries with backoff
//! when the KMS throttles, so back-to-back commands against a KMS with a quota of 1 request/s succeed
//! where a single attempt fails.

#[path = "support/common.rs"]
mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use s3crypt::aws::sigv4::Credentials;
use s3crypt::kms::remote::RemoteKms;
use s3crypt::kms::{CreateKeyRequest, Kms};

const KEY_ID: &str = "AKIDCLIKMSREMOTE";
const SECRET: &str = "cli-kms-remote/secret+01";

/// The CLI with an environment that holds no AWS settings of the machine's: no keys, no profile, no
/// IMDS, and shared files only where a test puts them.
fn cli(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_s3crypt"));
    c.current_dir(dir)
        .arg("--home")
        .arg(dir.join("home"))
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .stdin(Stdio::null());
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_MAX_ATTEMPTS",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_CA_BUNDLE",
    ] {
        c.env_remove(v);
    }
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn kms_key(url: &str) -> String {
    let kms =
        RemoteKms::new(url, "us-east-1", Credentials::new(KEY_ID, SECRET, None)).expect("kms");
    kms.create_key(&CreateKeyRequest::default())
        .expect("create key")
        .key_metadata
        .arn
}

#[test]
// One attribute: two `ignore`s on one test are an unused-attribute error when both apply (the aarch64 leg).
#[cfg_attr(
    any(target_arch = "aarch64", not(feature = "s3-client")),
    ignore = "spawns `s3crypt kms serve` on the host (x86_64 legs), and credentials from a profile need the \
              AWS credential chain (feature s3-client)"
)]
fn profile_credentials_and_retries_against_a_throttling_kms() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let access = format!("{KEY_ID}:{SECRET}");
    // One request per second, bucket of one: back-to-back commands are throttled.
    let server = common::s3crypt_kms(
        &d.join("kms-home"),
        &["--in-memory", "--access-key", &access, "--quota", "1"],
    );
    let key = kms_key(&server.url);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // Credentials and region only in a shared credentials file and config, under a named profile.
    fs::write(
        d.join("credentials"),
        format!("[team]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"),
    )
    .expect("w");
    fs::write(d.join("config"), "[profile team]\nregion = us-east-1\n").expect("w");
    fs::write(d.join("plain"), b"scripted against a throttled KMS").expect("w");
    let with_profile = |args: &[&str], attempts: &str| {
        cli(d, args)
            .env("AWS_SHARED_CREDENTIALS_FILE", d.join("credentials"))
            .env("AWS_CONFIG_FILE", d.join("config"))
            .env("AWS_PROFILE", "team")
            .env("AWS_MAX_ATTEMPTS", attempts)
            .output()
            .expect("run")
    };

    // Three back-to-back encrypts with the default retries: all succeed.
    for i in 0..3 {
        let out = format!("c{i}.s3ec");
        let o = with_profile(
            &[
                "encrypt",
                "plain",
                &out,
                "--kms-endpoint",
                &server.url,
                "--kms-key",
                &key,
            ],
            "5",
        );
        assert!(o.status.success(), "encrypt {i}: {}", stderr(&o));
        assert!(!stderr(&o).contains(SECRET));
    }
    // And each decrypts (discovery: the key id comes from the object), again back to back.
    for i in 0..3 {
        let (inp, out) = (format!("c{i}.s3ec"), format!("p{i}"));
        let o = with_profile(&["decrypt", &inp, &out, "--kms-endpoint", &server.url], "5");
        assert!(o.status.success(), "decrypt {i}: {}", stderr(&o));
        assert_eq!(
            fs::read(d.join(&out)).expect("r"),
            b"scripted against a throttled KMS"
        );
    }
    // With a single attempt, back-to-back commands are throttled: the retries above did the work.
    let mut throttled = 0;
    for i in 0..3 {
        let out = format!("t{i}.s3ec");
        let o = with_profile(
            &[
                "encrypt",
                "plain",
                &out,
                "--kms-endpoint",
                &server.url,
                "--kms-key",
                &key,
            ],
            "1",
        );
        if !o.status.success() {
            throttled += 1;
            assert!(stderr(&o).contains("Throttling"), "{}", stderr(&o));
            assert!(!d.join(&out).exists(), "a failed encrypt left {out}");
        }
    }
    assert!(throttled >= 1, "no command was throttled at 1 request/s");
}

#[test]
fn no_credentials_anywhere_is_a_clear_error_without_a_request() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    fs::write(d.join("plain"), b"x").expect("w");
    let o = cli(
        d,
        &[
            "encrypt",
            "plain",
            "p.s3ec",
            "--kms-endpoint",
            "http://127.0.0.1:9",
            "--kms-key",
            "alias/k",
        ],
    )
    .output()
    .expect("run");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("AWS_ACCESS_KEY_ID"), "{}", stderr(&o));
    assert!(!d.join("p.s3ec").exists());
}

#[test]
fn a_bad_ca_bundle_is_refused_for_an_https_kms() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    fs::write(d.join("plain"), b"x").expect("w");
    fs::write(d.join("bundle.pem"), "not a certificate\n").expect("w");
    let o = cli(
        d,
        &[
            "encrypt",
            "plain",
            "p.s3ec",
            "--kms-endpoint",
            "https://127.0.0.1:9",
            "--kms-key",
            "alias/k",
            "--access-key",
            "AKID:secret",
            "--kms-ca-bundle",
            "bundle.pem",
        ],
    )
    .output()
    .expect("run");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("CA bundle"), "{}", stderr(&o));
    assert!(!d.join("p.s3ec").exists());
}
