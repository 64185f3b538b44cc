//! `s3crypt serve` as a child process for the interop tests (`serve_interop`, `serve_versioning`), and
//! the run of a Python scenario against it: the scenario's `ok`/`FAIL` lines, the server log's tail on
//! failure, and the check that no secret the scenario used reached the server's request log.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{python, root};

/// `s3crypt serve` as a child process; stopped on drop.
pub struct ServeGuard {
    pub child: Child,
    pub https: String,
    pub http: String,
    pub ca: PathBuf,
    pub log: PathBuf,
    /// `(vpce-ID, https://ADDR:PORT)` of each `--vpc-endpoint` listener.
    pub vpc_endpoints: Vec<(String, String)>,
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
pub fn serve(home: &Path, log: PathBuf, access_key: &str, secret: &str) -> ServeGuard {
    serve_with(home, log, access_key, secret, &[])
}

/// [`serve`] with more `serve` arguments (`--vpc-endpoint …`).
pub fn serve_with(
    home: &Path,
    log: PathBuf,
    access_key: &str,
    secret: &str,
    extra: &[&str],
) -> ServeGuard {
    let stderr = std::fs::File::create(&log).expect("create the server log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3crypt"))
        .arg("--home")
        .arg(home)
        .args(["serve", "--https", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--access-key")
        .arg(format!("{access_key}:{secret}"))
        .arg("--json")
        // Every s3crypt log line (debug included), as JSON lines: the secret check below reads them.
        .args(["--log", "s3crypt=debug,info", "--log-json"])
        .args(extra)
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
        vpc_endpoints: v["vpc_endpoints"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, u)| (k.clone(), u.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    assert!(guard.https.starts_with("https://127.0.0.1:"), "{v}");
    assert!(guard.http.starts_with("http://127.0.0.1:"), "{v}");
    assert!(guard.ca.is_file(), "CA file {:?} missing", guard.ca);
    assert_eq!(v["access_key_id"], access_key, "{v}");
    assert_eq!(v["region"], "us-east-1", "{v}");
    guard
}

/// What a scenario printed.
pub struct Scenario {
    /// Its stdout.
    pub stdout: String,
}

impl Scenario {
    /// The names of the steps that passed.
    pub fn passed(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("ok "))
            .map(|l| l.split_whitespace().next().unwrap_or_default())
            .collect()
    }

    /// The secrets it reported using (`secrets-used [...]`).
    pub fn secrets_used(&self) -> Vec<String> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("secrets-used "))
            .and_then(|j| serde_json::from_str(j).ok())
            .expect("the scenario lists the secrets it used")
    }
}

/// Runs `tests/interop/SCRIPT` with the server's listeners, CA, the root key, the home and the CLI;
/// prints its output, then asserts that no secret it used (nor `secret`) is in the server log, that no
/// step failed and that it exited 0.
pub fn run_scenario(
    script: &str,
    server: &ServeGuard,
    home: &Path,
    access_key: &str,
    secret: &str,
) -> Scenario {
    run_scenario_env(script, server, home, access_key, secret, &[])
}

/// [`run_scenario`] with environment variables for the scenario (what its common command line does
/// not carry: other servers' URLs, process ids, …).
pub fn run_scenario_env(
    script: &str,
    server: &ServeGuard,
    home: &Path,
    access_key: &str,
    secret: &str,
    env: &[(&str, String)],
) -> Scenario {
    let started = Instant::now();
    let out = Command::new(python())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .arg(root().join("tests/interop").join(script))
        .args(["--https", &server.https, "--http", &server.http])
        .arg("--ca")
        .arg(&server.ca)
        .args(["--access-key", access_key, "--secret", secret])
        .arg("--home")
        .arg(home)
        .arg("--s3crypt")
        .arg(env!("CARGO_BIN_EXE_s3crypt"))
        .args(
            server
                .vpc_endpoints
                .iter()
                .flat_map(|(id, url)| ["--vpc-endpoint".to_owned(), format!("{id}={url}")]),
        )
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        eprintln!("{script} stderr:\n{stderr}");
    }
    println!("{script} took {:.1} s", started.elapsed().as_secs_f64());
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    if !out.status.success() || !failed.is_empty() {
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        eprintln!(
            "last server log lines:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let scenario = Scenario {
        stdout: stdout.clone(),
    };
    assert!(
        log.contains("s3crypt::access"),
        "the server logged requests"
    );
    for used in scenario
        .secrets_used()
        .iter()
        .map(String::as_str)
        .chain([secret])
    {
        assert!(
            !log.contains(used),
            "a secret reached the server log ({} bytes of it)",
            used.len()
        );
    }
    assert!(
        failed.is_empty(),
        "{} step(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(out.status.success(), "{script} exited with {}", out.status);
    assert!(!scenario.passed().is_empty(), "no step ran");
    scenario
}
