//! Versioning, MFA Delete and Object Lock against `s3crypt serve` with an unmodified boto3 client
//! (HTTPS verifying the local CA; the plain HTTP listener for the MFA-over-HTTP refusal), driven by
//! `tests/interop/versioning_boto3.py` (S3-FEATURES.md §4, §5, §6). One server for the whole scenario:
//! started once from the built binary with a temporary home and `--json`, stopped (SIGTERM, then
//! SIGKILL) by a drop guard, also on panic. The scenario also runs `s3crypt --home HOME` CLI commands
//! (IAM users, MFA devices, SSE-S3 root rotation and reseal) on the server's home while it runs.

#[path = "support/common.rs"]
mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{python, root};

const ACCESS_KEY: &str = "AKIDS3VERSIONING0001";
const SECRET: &str = "s3-versioning-secret/for+tests";

/// `s3crypt serve` as a child process; stopped on drop.
struct ServeGuard {
    child: Child,
    https: String,
    http: String,
    ca: PathBuf,
    log: PathBuf,
}

impl Drop for ServeGuard {
    fn drop(&mut self) {
        // SIGTERM first (the server shuts down gracefully), SIGKILL if it is still there after 5 s.
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `s3crypt --home HOME serve --https 127.0.0.1:0 --http 127.0.0.1:0 --access-key .. --json`
/// and reads the one JSON line it prints. Its request log (stderr) goes to `HOME/../serve.log`.
fn serve(home: &Path, log: PathBuf) -> ServeGuard {
    let stderr = std::fs::File::create(&log).expect("create the server log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .arg("--home")
        .arg(home)
        .args(["serve", "--https", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--access-key")
        .arg(format!("{ACCESS_KEY}:{SECRET}"))
        .arg("--json")
        // Every s3crypt log line (debug included), as JSON lines: the secret check below reads them.
        .args(["--log", "s3crypt=debug,info", "--log-json"])
        .env_remove("S3CRYPT_ACCESS_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("spawn s3crypt serve");
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    let parsed = read
        .ok()
        .and_then(|_| serde_json::from_str::<serde_json::Value>(line.trim()).ok());
    let Some(v) = parsed else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "s3crypt serve printed {line:?}; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    };
    let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let guard = ServeGuard {
        https: field("https"),
        http: field("http"),
        ca: PathBuf::from(field("ca")),
        log,
        child,
    };
    assert!(guard.https.starts_with("https://127.0.0.1:"), "{v}");
    assert!(guard.http.starts_with("http://127.0.0.1:"), "{v}");
    assert!(guard.ca.is_file(), "CA file {:?} missing", guard.ca);
    assert_eq!(v["access_key_id"], ACCESS_KEY, "{v}");
    assert_eq!(v["region"], "us-east-1", "{v}");
    guard
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn versioning_mfa_delete_object_lock_with_boto3() {
    let py = python();
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let server = serve(&home, tmp.path().join("serve.log"));
    let started = Instant::now();
    let out = Command::new(&py)
        .arg(root().join("tests/interop/versioning_boto3.py"))
        .args(["--https", &server.https, "--http", &server.http])
        .arg("--ca")
        .arg(&server.ca)
        .args(["--access-key", ACCESS_KEY, "--secret", SECRET])
        .arg("--home")
        .arg(&home)
        .arg("--s3crypt")
        .arg(env!("CARGO_BIN_EXE_s3crypt"))
        .output()
        .expect("run versioning_boto3.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        eprintln!("versioning_boto3.py stderr:\n{stderr}");
    }
    println!(
        "versioning_boto3.py took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    if !out.status.success() || !failed.is_empty() {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        eprintln!(
            "last server log lines:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    // No secret the scenario used (the root's secret, IAM users' secrets, SSE-C keys, MFA seeds)
    // appears in the server's request log.
    let used: Vec<String> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("secrets-used "))
        .and_then(|j| serde_json::from_str(j).ok())
        .expect("the scenario lists the secrets it used");
    let log = std::fs::read_to_string(&server.log).expect("server log");
    assert!(
        log.contains("s3crypt::access"),
        "the server logged requests"
    );
    for secret in used.iter().map(String::as_str).chain([SECRET]) {
        assert!(
            !log.contains(secret),
            "a secret reached the server log ({} bytes of it)",
            secret.len()
        );
    }
    assert!(
        failed.is_empty(),
        "{} step(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(
        out.status.success(),
        "versioning_boto3.py exited with {}",
        out.status
    );
    let ran: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    // Each of the four areas ran at least one step.
    for area in ["versioning_", "encryption_", "mfa_delete_", "object_lock_"] {
        assert!(
            ran.iter().any(|s| s.starts_with(area)),
            "no {area}* step ran: {ran:?}"
        );
    }
}
