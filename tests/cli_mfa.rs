//! `s3crypt iam …` virtual MFA devices, against pyotp (from PyPI) as the independent RFC 6238 TOTP
//! implementation: the otpauth:// URI parses to the printed seed, two consecutive pyotp codes enable
//! the device in IAM's order, and wrong, reversed or non-consecutive codes are refused with IAM's error.

#[path = "support/common.rs"]
mod common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::python;

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

/// Runs `script` with pyotp (argv[1] is `arg`), returning its stdout parsed as JSON.
fn pyotp(script: &str, arg: &str) -> serde_json::Value {
    let out = Command::new(python())
        .args(["-c", script, arg])
        .stdin(Stdio::null())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python json")
}

/// pyotp's view of the printed URI, and its codes for the previous, current and earlier steps.
const CODES: &str = r#"
import json, sys, time
import pyotp
totp = pyotp.parse_uri(sys.argv[1])
t = int(time.time())
# Stay clear of a step boundary, so the CLI runs in the same step (or the next, still in the window).
if t % 30 > 25:
    time.sleep(30 - t % 30 + 1)
    t = int(time.time())
print(json.dumps({
    "secret": totp.secret, "issuer": totp.issuer, "name": totp.name,
    "digits": totp.digits, "interval": totp.interval, "digest": totp.digest().name,
    "prev2": totp.at(t - 60), "prev": totp.at(t - 30), "now": totp.at(t),
}))
"#;

/// Borrowed arguments.
fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

const INVALID: &str = "An error occurred (InvalidAuthenticationCode) when calling the EnableMFADevice operation: Authentication code for device is not valid.";

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "runs the binary under qemu")]
fn pyotp_codes_enable_the_device() {
    let env = Env::new();
    let created = env.json(&[
        "iam",
        "create-virtual-mfa-device",
        "root-account-mfa-device",
    ]);
    let device = &created["VirtualMFADevice"];
    let serial = device["SerialNumber"].as_str().expect("serial");
    let seed = device["Base32StringSeed"].as_str().expect("seed");
    let uri = device["OtpauthUri"].as_str().expect("uri");
    assert_eq!(
        serial,
        "arn:aws:iam::000000000000:mfa/root-account-mfa-device"
    );
    assert_eq!(seed.len(), 32, "160 bits in base32");

    let p = pyotp(CODES, uri);
    assert_eq!(
        p["secret"], seed,
        "pyotp parses the URI to the printed seed"
    );
    assert_eq!(p["issuer"], "s3crypt");
    assert_eq!(p["name"], "root-account-mfa-device@000000000000");
    assert_eq!(
        (p["digits"].as_u64(), p["interval"].as_u64()),
        (Some(6), Some(30))
    );
    assert_eq!(p["digest"], "sha1");
    let code = |k: &str| p[k].as_str().expect("code").to_owned();
    let (prev2, prev, now) = (code("prev2"), code("prev"), code("now"));

    let enable = |c1: &str, c2: &str| -> Vec<String> {
        [
            "iam",
            "enable-mfa-device",
            "--serial-number",
            serial,
            "--authentication-code1",
            c1,
            "--authentication-code2",
            c2,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let wrong = if now == "000000" { "111111" } else { "000000" };
    for (c1, c2, why) in [
        (now.as_str(), prev.as_str(), "reversed"),
        (prev2.as_str(), now.as_str(), "not consecutive"),
        (now.as_str(), now.as_str(), "the same code twice"),
        (prev.as_str(), wrong, "wrong second code"),
        (wrong, now.as_str(), "wrong first code"),
    ] {
        let e = env.fails(&args(&enable(c1, c2)));
        assert!(e.contains(INVALID), "{why}: {e}");
    }
    let e = env.fails(&args(&enable("12345", &now)));
    assert!(e.contains("(ValidationError)"), "{e}");
    let listed = env.json(&[
        "iam",
        "list-virtual-mfa-devices",
        "--assignment-status",
        "Assigned",
    ]);
    assert_eq!(
        listed["VirtualMFADevices"].as_array().map(Vec::len),
        Some(0)
    );

    // IAM's order: code1 the earlier step's, code2 the next.
    env.ok(&args(&enable(&prev, &now)));
    let listed = env.json(&["iam", "list-virtual-mfa-devices"]);
    let rows = listed["VirtualMFADevices"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["SerialNumber"], serial);
    assert_eq!(rows[0]["User"]["Arn"], "arn:aws:iam::000000000000:root");
    assert!(rows[0]["EnableDate"].is_string());
    assert!(
        !listed.to_string().contains(seed),
        "a listing never shows the seed"
    );
    let text = env.ok(&["iam", "list-virtual-mfa-devices"]);
    assert!(text.contains(serial) && !text.contains(seed), "{text}");

    // Enabled already: IAM's EntityAlreadyExists.
    let e = env.fails(&args(&enable(&prev, &now)));
    assert!(e.contains("(EntityAlreadyExists)"), "{e}");

    // An enabled device is not deleted; deactivated, it is.
    let e = env.fails(&[
        "iam",
        "delete-virtual-mfa-device",
        "--serial-number",
        serial,
    ]);
    assert!(e.contains("(DeleteConflict)"), "{e}");
    env.ok(&["iam", "deactivate-mfa-device", "--serial-number", serial]);
    let e = env.fails(&["iam", "deactivate-mfa-device", "--serial-number", serial]);
    assert!(e.contains("(NoSuchEntity)"), "{e}");
    env.ok(&[
        "iam",
        "delete-virtual-mfa-device",
        "--serial-number",
        serial,
    ]);
    let listed = env.json(&["iam", "list-virtual-mfa-devices"]);
    assert_eq!(
        listed["VirtualMFADevices"].as_array().map(Vec::len),
        Some(0)
    );
    let e = env.fails(&[
        "iam",
        "delete-virtual-mfa-device",
        "--serial-number",
        serial,
    ]);
    assert!(e.contains("(NoSuchEntity)"), "{e}");
}

#[test]
#[cfg_attr(target_arch = "aarch64", ignore = "runs the binary under qemu")]
fn text_output_has_the_uri_and_a_qr_code() {
    let env = Env::new();
    let out = env.ok(&["iam", "create-virtual-mfa-device", "phone"]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .to_owned()
    };
    let serial = field("SerialNumber");
    let seed = field("Base32StringSeed");
    let uri = field("OtpauthUri");
    assert_eq!(serial, "arn:aws:iam::000000000000:mfa/phone");
    assert_eq!(
        uri,
        format!("otpauth://totp/s3crypt:phone@000000000000?secret={seed}&issuer=s3crypt")
    );
    // The QR code: rows of Unicode half and full blocks, as wide as they are tall (in modules).
    let qr: Vec<&str> = out
        .lines()
        .filter(|l| !l.is_empty() && l.chars().all(|c| " ▀▄█".contains(c)))
        .collect();
    assert!(qr.len() >= 15, "no QR code in {out}");
    let width = qr[0].chars().count();
    assert!(qr.iter().all(|l| l.chars().count() == width));
    assert!(
        width.abs_diff(2 * qr.len()) <= 1,
        "{width} columns, {} rows",
        qr.len()
    );

    // The same name again: IAM's error.
    let e = env.fails(&["iam", "create-virtual-mfa-device", "phone"]);
    assert!(
        e.contains("An error occurred (EntityAlreadyExists) when calling the CreateVirtualMFADevice operation: MFADevice entity at the same path and name already exists."),
        "{e}"
    );
    let e = env.fails(&["iam", "create-virtual-mfa-device", "no/slash"]);
    assert!(e.contains("(ValidationError)"), "{e}");

    // The seed is stored owner-only, and pyotp agrees the URI carries it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(env.path("home/iam/mfa.json"))
            .expect("mfa.json")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let p = pyotp(CODES, &uri);
    assert_eq!(p["secret"], seed.as_str());
}
