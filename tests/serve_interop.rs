//! Real S3 clients against `s3crypt serve`: boto3 (over HTTPS verifying the local CA, and over the plain
//! HTTP listener), the AWS CLI v1 and s3cmd, driven by `tests/interop/s3_clients.py` (see
//! tests/interop/README.md). One server for the whole scenario: started once from the built binary with a
//! temporary home and `--json`, stopped (SIGTERM, then SIGKILL) by a drop guard, also on panic. A second
//! test kills a server (SIGKILL) in the middle of a PUT and checks that the restarted server on the same
//! home serves the previous object.

#[path = "support/common.rs"]
mod common;
#[path = "support/scenario.rs"]
mod scenario;

use std::path::{Path, PathBuf};
use std::time::Duration;

use scenario::ServeGuard;

const ACCESS_KEY: &str = "AKIDS3INTEROP0000001";
const SECRET: &str = "s3-interop-secret-key/for+tests";

fn serve(home: &Path, log: PathBuf) -> ServeGuard {
    scenario::serve(home, log, ACCESS_KEY, SECRET)
}

#[test]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
fn s3_clients_against_serve() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let server = serve(&home, tmp.path().join("serve.log"));
    // Also checks that no secret the clients used (the root's secret key, IAM users' secret keys,
    // SSE-C keys in base64 and hex) appears in the server's request log.
    let run = scenario::run_scenario("s3_clients.py", &server, &home, ACCESS_KEY, SECRET);
    let used = run.secrets_used();
    assert!(used.len() >= 4, "SSE-C and IAM steps ran: {}", used.len());
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
