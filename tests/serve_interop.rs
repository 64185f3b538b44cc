//! Real S3 clients against `s3crypt serve`: boto3 (over HTTPS verifying the local CA, and over the plain
//! HTTP listener), the AWS CLI v1 and s3cmd, driven by `tests/interop/s3_clients.py` (see
//! tests/interop/README.md). One server for the whole scenario: started once from the built binary with a
//! temporary home and `--json`, stopped (SIGTERM, then SIGKILL) by a drop guard, also on panic. A second
//! test kills a server (SIGKILL) in the middle of a PUT and checks that the restarted server on the same
//! home serves the previous object.

#[path = "support/common.rs"]
mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{python, root};

const ACCESS_KEY: &str = "AKIDS3INTEROP0000001";
const SECRET: &str = "s3-interop-secret-key/for+tests";

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
fn s3_clients_against_serve() {
    let py = python();
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let server = serve(&home, tmp.path().join("serve.log"));
    let started = Instant::now();
    let out = Command::new(&py)
        .arg(root().join("tests/interop/s3_clients.py"))
        .args(["--https", &server.https, "--http", &server.http])
        .arg("--ca")
        .arg(&server.ca)
        .args(["--access-key", ACCESS_KEY, "--secret", SECRET])
        .arg("--home")
        .arg(&home)
        .arg("--s3crypt")
        .arg(env!("CARGO_BIN_EXE_s3crypt"))
        .output()
        .expect("run s3_clients.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        eprintln!("s3_clients.py stderr:\n{stderr}");
    }
    println!(
        "s3_clients.py took {:.1} s",
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
    assert!(
        failed.is_empty(),
        "{} step(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(
        out.status.success(),
        "s3_clients.py exited with {}",
        out.status
    );
    assert!(stdout.lines().any(|l| l.starts_with("ok ")), "no step ran");
    // No secret the clients used (the root's secret key, IAM users' secret keys, SSE-C keys in base64
    // and hex) appears in the server's request log.
    let used: Vec<String> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("secrets-used "))
        .and_then(|j| serde_json::from_str(j).ok())
        .expect("the scenario lists the secrets it used");
    assert!(used.len() >= 4, "SSE-C and IAM steps ran: {}", used.len());
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
}

/// A SigV4-signed request by the interop key over a new plain-HTTP connection; `send` bytes of
/// `body` are written (all of it when `None`), and the answer read when the whole body was sent.
fn signed_http(
    addr: &str,
    method: &str,
    target: &str,
    body: &[u8],
    send: Option<usize>,
) -> (std::net::TcpStream, Vec<u8>) {
    use std::io::{Read as _, Write as _};
    let mut headers: Vec<(String, String)> = vec![("host".into(), addr.to_owned())];
    let req = s3crypt::aws::sigv4::SignableRequest {
        method,
        uri: target,
        headers: &headers,
        body,
    };
    let creds = s3crypt::aws::sigv4::Credentials::new(ACCESS_KEY, SECRET, None);
    headers.extend(
        s3crypt::aws::sigv4::sign(
            &req,
            &creds,
            "us-east-1",
            "s3",
            std::time::SystemTime::now(),
        )
        .expect("sign"),
    );
    let mut msg = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in &headers {
        msg.push_str(&format!("{n}: {v}\r\n"));
    }
    msg.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(msg.as_bytes()).expect("headers");
    let n = send.unwrap_or(body.len());
    s.write_all(&body[..n]).expect("body");
    let mut out = Vec::new();
    if send.is_none() {
        let _ = s.read_to_end(&mut out);
    }
    (s, out)
}

fn status_of(out: &[u8]) -> u16 {
    String::from_utf8_lossy(out)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn kill_9_mid_put_keeps_the_previous_object() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let mut server = serve(&home, tmp.path().join("serve.log"));
    let addr = server
        .http
        .strip_prefix("http://")
        .expect("http url")
        .to_owned();
    let (_, r) = signed_http(&addr, "PUT", "/crash-bucket", b"", None);
    assert_eq!(status_of(&r), 200, "{}", String::from_utf8_lossy(&r));
    let v1 = b"version one".to_vec();
    let (_, r) = signed_http(&addr, "PUT", "/crash-bucket/obj", &v1, None);
    assert_eq!(status_of(&r), 200, "{}", String::from_utf8_lossy(&r));
    // A 4 MiB PUT of which half has arrived when the server is killed.
    let v2 = vec![7u8; 4 << 20];
    let (conn, _) = signed_http(&addr, "PUT", "/crash-bucket/obj", &v2, Some(2 << 20));
    std::thread::sleep(Duration::from_millis(500));
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    drop(conn);
    drop(server);
    let server = serve(&home, tmp.path().join("serve2.log"));
    let addr = server
        .http
        .strip_prefix("http://")
        .expect("http url")
        .to_owned();
    let (_, r) = signed_http(&addr, "GET", "/crash-bucket/obj", b"", None);
    assert_eq!(status_of(&r), 200, "{}", String::from_utf8_lossy(&r));
    assert!(r.ends_with(&v1), "the previous object, whole");
    let (_, r) = signed_http(&addr, "GET", "/crash-bucket?list-type=2", b"", None);
    let text = String::from_utf8_lossy(&r);
    assert!(text.contains("<KeyCount>1</KeyCount>"), "{text}");
    assert!(text.contains("<Size>11</Size>"), "{text}");
}
