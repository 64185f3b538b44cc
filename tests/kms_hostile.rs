//! `kms serve` under hostile clients: a real listener on 127.0.0.1 with small limits, driven over raw
//! TCP. Every wait is bounded (socket read timeouts, bounded retry loops), and the limits are small
//! (a second) so the tests take seconds while timing assertions stay generous.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use s3crypt::aws::sigv4::{self, Credentials, SignableRequest};
use s3crypt::kms::server::{AccessKey, KmsServer, ServeConfig, serve_with};
use s3crypt::kms::{CreateKeyRequest, Kms as _, MockKms};
use serde_json::Value;

/// Upper bound on any single wait for the server; far above the configured limits.
const PATIENCE: Duration = Duration::from_secs(15);

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn small_config() -> ServeConfig {
    ServeConfig {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        max_connections: 4,
        max_body_bytes: 4096,
        write_timeout: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(1),
    }
}

fn start(config: ServeConfig) -> Running {
    start_with_keys(config, 0)
}

/// A server whose KMS holds `keys` KMS keys (so `ListKeys` answers are large).
fn start_with_keys(config: ServeConfig, keys: usize) -> Running {
    let kms = MockKms::builder().build().expect("kms");
    for _ in 0..keys {
        kms.create_key(&CreateKeyRequest::default()).expect("key");
    }
    let keys = vec![AccessKey::parse("AKIDALICE:alice-secret", "111122223333").expect("key")];
    let server = Arc::new(KmsServer::new(kms, keys));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send");
            serve_with(listener, server, config, async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve");
        });
    });
    let addr = addr_rx.recv_timeout(PATIENCE).expect("server address");
    Running {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, PATIENCE).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    s.set_write_timeout(Some(PATIENCE)).expect("timeout");
    s
}

/// The request head (through the blank line) for `op` with `body`, signed now by `creds` if given,
/// declaring `content_length` (which may differ from `body.len()` to simulate slow or lying clients).
fn head(
    addr: SocketAddr,
    creds: Option<&Credentials>,
    op: &str,
    body: &[u8],
    content_length: Option<usize>,
) -> Vec<u8> {
    let mut headers = vec![
        ("Host".to_owned(), addr.to_string()),
        (
            "Content-Type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        ("X-Amz-Target".to_owned(), format!("TrentService.{op}")),
    ];
    if let Some(c) = creds {
        let req = SignableRequest {
            method: "POST",
            uri: "/",
            headers: &headers,
            body,
        };
        headers.extend(sigv4::sign(&req, c, "us-east-1", "kms", SystemTime::now()).expect("sign"));
    }
    let mut out = "POST / HTTP/1.1\r\n".to_owned();
    for (n, v) in &headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    match content_length {
        Some(n) => out.push_str(&format!("Content-Length: {n}\r\n")),
        None => out.push_str("Transfer-Encoding: chunked\r\n"),
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Reads one response: status and JSON body (`Value::Null` if the body is not JSON). `None` if the
/// connection ends (or fails) before a whole response.
fn read_response(s: &mut TcpStream) -> Option<(u16, Value, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = &buf[head_end..head_end + len];
    Some((
        status,
        serde_json::from_slice(body).unwrap_or(Value::Null),
        head,
    ))
}

/// True once the server has closed `s` (EOF or reset), within `PATIENCE`.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut sink = [0u8; 1024];
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        match s.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
    false
}

fn alice() -> Credentials {
    Credentials::new("AKIDALICE", "alice-secret", None)
}

/// A signed `ListKeys`, retried (boundedly) while the server is still at its connection cap.
fn list_keys_ok(addr: SocketAddr) {
    let body = b"{}";
    for _ in 0..40 {
        let mut s = connect(addr);
        let mut req = head(addr, Some(&alice()), "ListKeys", body, Some(body.len()));
        req.extend_from_slice(body);
        s.write_all(&req).expect("write");
        match read_response(&mut s) {
            Some((200, v, _)) => {
                assert!(v["Keys"].is_array(), "{v}");
                return;
            }
            Some((503, _, _)) | None => std::thread::sleep(Duration::from_millis(250)),
            Some((st, v, _)) => panic!("unexpected {st} {v}"),
        }
    }
    panic!("the server never answered a valid request");
}

#[test]
fn connections_over_the_cap_get_a_503_and_idle_ones_are_closed() {
    // A 2 s header timeout: the idle connections must outlive the refusals even on a stalled machine.
    let mut config = small_config();
    config.header_read_timeout = Duration::from_secs(2);
    let srv = start(config);
    // Fill the four slots of the fresh server with idle connections (the accept loop takes them in order).
    let mut idle: Vec<TcpStream> = (0..4).map(|_| connect(srv.addr)).collect();
    let opened = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..3 {
        let mut extra = connect(srv.addr);
        let (st, v, head) = read_response(&mut extra).expect("a refusal, not a hang");
        assert_eq!(st, 503, "{v}");
        assert_eq!(v["__type"], "ServiceUnavailableException");
        assert!(v["message"].is_string());
        assert!(head.to_ascii_lowercase().contains("connection: close"));
        assert!(closed_by_server(&mut extra));
    }
    // The idle connections are closed by the header timeout (well within PATIENCE).
    for s in &mut idle {
        assert!(closed_by_server(s), "an idle connection was kept open");
    }
    assert!(opened.elapsed() < PATIENCE);
    // Their slots are free again, and the server answers valid requests.
    list_keys_ok(srv.addr);
}

#[test]
fn a_slow_body_is_cut_off_with_a_json_408() {
    let srv = start(small_config());
    let body = br#"{"Limit": 10}"#;
    let mut s = connect(srv.addr);
    s.write_all(&head(
        srv.addr,
        Some(&alice()),
        "ListKeys",
        body,
        Some(body.len()),
    ))
    .expect("write");
    s.write_all(&body[..4]).expect("write");
    let started = Instant::now();
    let (st, v, _) = read_response(&mut s).expect("an answer, not a hang");
    assert_eq!(
        (st, v["__type"].as_str()),
        (408, Some("RequestTimeoutException"))
    );
    assert!(started.elapsed() < PATIENCE);
    assert!(closed_by_server(&mut s));
    // A slow header is cut off too (the connection closes).
    let mut s = connect(srv.addr);
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    assert!(closed_by_server(&mut s));
    list_keys_ok(srv.addr);
}

#[test]
fn a_client_that_stops_reading_loses_its_connection() {
    let mut config = small_config();
    config.max_connections = 1;
    let srv = start_with_keys(config, 100);
    let body = b"{}";
    let mut one = head(srv.addr, Some(&alice()), "ListKeys", body, Some(body.len()));
    one.extend_from_slice(body);
    let mut s = connect(srv.addr);
    s.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    // Pipeline up to 5,000 requests (about 4 MB) without reading their answers (some 10 KB each, far
    // more than the socket buffers hold), stopping when the server no longer reads.
    let deadline = Instant::now() + PATIENCE;
    for _ in 0..5000 {
        if Instant::now() > deadline || s.write_all(&one).is_err() {
            break;
        }
    }
    // The server's writes stall; after the 1 s write timeout it drops the connection, and its only
    // slot serves others again.
    list_keys_ok(srv.addr);
    drop(s);
}

#[test]
fn an_over_size_body_gets_a_json_413_without_being_read() {
    let srv = start(small_config());
    // Declared too large: answered at once, though not a byte of the body is sent.
    let mut s = connect(srv.addr);
    s.write_all(&head(
        srv.addr,
        Some(&alice()),
        "ListKeys",
        b"{}",
        Some(10_000_000),
    ))
    .expect("write");
    let (st, v, _) = read_response(&mut s).expect("an answer without the body");
    assert_eq!(
        (st, v["__type"].as_str()),
        (413, Some("RequestEntityTooLargeException")),
        "{v}"
    );
    assert!(v["message"].as_str().expect("message").contains("4096"));
    // Chunked, with no length up front: cut off once it passes the limit.
    let mut s = connect(srv.addr);
    s.write_all(&head(srv.addr, Some(&alice()), "ListKeys", b"{}", None))
        .expect("write");
    let mut chunk = b"1400\r\n".to_vec();
    chunk.extend(std::iter::repeat_n(b' ', 0x1400));
    chunk.extend_from_slice(b"\r\n");
    s.write_all(&chunk).expect("write");
    let (st, v, _) = read_response(&mut s).expect("an answer");
    assert_eq!(
        (st, v["__type"].as_str()),
        (413, Some("RequestEntityTooLargeException")),
        "{v}"
    );
    list_keys_ok(srv.addr);
}

#[test]
fn unauthenticated_requests_are_refused_before_their_body() {
    let mut config = small_config();
    config.max_body_bytes = 1 << 20;
    config.body_read_timeout = Duration::from_secs(60);
    let srv = start(config);
    let big = 500_000;
    let cases: [(Option<Credentials>, Option<&str>, &str); 3] = [
        (None, None, "MissingAuthenticationTokenException"),
        (
            Some(Credentials::new("AKIDNOBODY", "nobody-secret", None)),
            None,
            "UnrecognizedClientException",
        ),
        (
            None,
            Some("AWS4-HMAC-SHA256 Credential=AKIDALICE/20250101/us-east-1/kms/aws4_request"),
            "IncompleteSignatureException",
        ),
    ];
    for (creds, raw_auth, code) in cases {
        let mut s = connect(srv.addr);
        let mut req = head(srv.addr, creds.as_ref(), "ListKeys", b"{}", Some(big));
        if let Some(a) = raw_auth {
            let text = String::from_utf8(req).expect("ascii");
            req = text
                .replacen("\r\n\r\n", &format!("\r\nAuthorization: {a}\r\n\r\n"), 1)
                .into_bytes();
        }
        // Headers only: the server must answer without waiting for the 500 kB (a 60 s body timeout).
        s.write_all(&req).expect("write");
        let started = Instant::now();
        let (st, v, _) = read_response(&mut s).expect("an answer before the body");
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!((st, v["__type"].as_str()), (400, Some(code)), "{v}");
        let text = v.to_string();
        assert!(!text.contains("secret"), "{text}");
    }
    list_keys_ok(srv.addr);
}

#[test]
fn invalid_configurations_are_refused() {
    for bad in [
        ServeConfig {
            max_connections: 0,
            ..ServeConfig::default()
        },
        ServeConfig {
            header_read_timeout: Duration::ZERO,
            ..ServeConfig::default()
        },
        ServeConfig {
            max_body_bytes: 0,
            ..ServeConfig::default()
        },
        ServeConfig {
            max_connections: usize::MAX,
            ..ServeConfig::default()
        },
    ] {
        let e = bad.validate().expect_err("invalid");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
    ServeConfig::default()
        .validate()
        .expect("defaults are valid");
}

// ---- The command line: `kms load` argument bounds, credentials from a file and the environment. ----

const BIN: &str = env!("CARGO_BIN_EXE_s3crypt");

/// Runs `s3crypt --home <tmp> args…` with the AWS credential variables cleared and then `env` set;
/// returns (exit code, stdout, stderr).
fn run_cli(
    home: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("--home").arg(home).args(args);
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run s3crypt");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "the emulated test cannot exec the emulated binary"
)]
fn kms_load_refuses_out_of_range_arguments_without_panicking() {
    let home = tempfile::tempdir().expect("tempdir");
    for (args, expected) in [
        (&["kms", "load", "--seconds", "inf"][..], "--seconds"),
        (&["kms", "load", "--seconds", "NaN"][..], "--seconds"),
        (&["kms", "load", "--seconds", "1e300"][..], "--seconds"),
        (&["kms", "load", "--seconds=-1"][..], "--seconds"),
        (&["kms", "load", "--clients", "100000"][..], "--clients"),
        (&["kms", "load", "--clients", "0"][..], "--clients"),
    ] {
        let (code, _, err) = run_cli(home.path(), args, &[]);
        // A usage error (exit code 2), like clap's own.
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "the emulated test cannot exec the emulated binary"
)]
fn secrets_in_bad_specs_never_reach_error_messages() {
    let home = tempfile::tempdir().expect("tempdir");
    let secret = "Zz9-top-secret-value";
    // A spec without an id, on the command line and in a key file.
    let (code, out, err) = run_cli(
        home.path(),
        &[
            "kms",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--in-memory",
            "--access-key",
            &format!(":{secret}"),
        ],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ID:SECRET"), "{err}");
    assert!(!err.contains(secret) && !out.contains(secret), "{err}");
    let file = home.path().join("keys");
    std::fs::write(
        &file,
        format!("# keys\nAKIDGOOD:good-{secret}\n:{secret}\n"),
    )
    .expect("write");
    let (code, out, err) = run_cli(
        home.path(),
        &[
            "kms",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--in-memory",
            "--access-key-file",
            file.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(!err.contains(secret) && !out.contains(secret), "{err}");
    // `kms load` against an endpoint that refuses connections, with the secret from the environment
    // and from the flag.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    for (args, env) in [
        (
            vec!["kms", "load", "--endpoint", &url, "--seconds", "0.1"],
            vec![
                ("AWS_ACCESS_KEY_ID", "AKIDENV"),
                ("AWS_SECRET_ACCESS_KEY", secret),
            ],
        ),
        (
            vec![
                "kms",
                "load",
                "--endpoint",
                &url,
                "--seconds",
                "0.1",
                "--access-key",
                &format!("AKIDFLAG:{secret}"),
            ],
            vec![],
        ),
    ] {
        let (code, out, err) = run_cli(home.path(), &args, &env);
        // A malformed spec is refused (1) or the request fails on the dead endpoint (5: a remote
        // failure, README "Exit codes"); never success, never a panic.
        assert!(matches!(code, Some(1 | 5)), "exit {code:?}: {err}");
        assert!(!err.contains(secret) && !out.contains(secret), "{err}");
    }
}

/// Kills the child (a server this test started) when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "the emulated test cannot exec the emulated binary"
)]
fn kms_serve_with_a_key_file_and_kms_load_with_environment_credentials() {
    use std::io::BufRead as _;

    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join("keys");
    std::fs::write(
        &file,
        "# id:secret[:arn]\n\nAKIDFILE:file-secret-1\nAKIDOTHER:other-secret:arn:aws:iam::111122223333:user/other\n",
    )
    .expect("write");
    let mut child = std::process::Command::new(BIN)
        .arg("--home")
        .arg(home.path())
        .args([
            "kms",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--in-memory",
            "--header-timeout",
            "5",
            "--body-timeout",
            "5",
            "--write-timeout",
            "5",
            "--max-connections",
            "8",
            "--max-body-bytes",
            "65536",
        ])
        .arg("--access-key-file")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn kms serve");
    let stdout = child.stdout.take().expect("stdout");
    let child = Child(child);
    let mut line = String::new();
    // Ends at the first line or when the server exits (EOF).
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let (code, out, err) = run_cli(
        home.path(),
        &[
            "--json",
            "kms",
            "load",
            "--endpoint",
            &url,
            "--seconds",
            "0.3",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDFILE"),
            ("AWS_SECRET_ACCESS_KEY", "file-secret-1"),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let report: Value = serde_json::from_str(out.trim()).expect("json report");
    assert!(
        report["accepted"].as_u64().expect("accepted") >= 1,
        "{report}"
    );
    assert_eq!(report["other_errors"], 0, "{report}");
    // A wrong secret is refused by the server, and not echoed.
    let (code, out, err) = run_cli(
        home.path(),
        &["kms", "load", "--endpoint", &url, "--seconds", "0.1"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDFILE"),
            ("AWS_SECRET_ACCESS_KEY", "wrong-secret-2"),
        ],
    );
    // Access denied (README "Exit codes").
    assert_eq!(code, Some(3), "{out}");
    assert!(
        err.contains("InvalidSignatureException") || err.contains("signature"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-secret-2") && !err.contains("file-secret-1"),
        "{err}"
    );
    drop(child);
}

#[test]
fn shutdown_stops_accepting_and_returns() {
    let mut srv = start(small_config());
    list_keys_ok(srv.addr);
    // An idle connection does not hold the shutdown up beyond the grace period.
    let _idle = connect(srv.addr);
    let stopped = Instant::now();
    drop(srv.stop.take());
    srv.thread
        .take()
        .expect("thread")
        .join()
        .expect("serve_with returned Ok");
    assert!(stopped.elapsed() < PATIENCE);
}
