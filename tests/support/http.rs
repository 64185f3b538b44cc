//! The in-process `s3crypt serve` of the HTTP-level tests (`serve_http`, `serve_post`) and a raw
//! HTTP/1.1 client: one request per connection, SigV4-signed by the crate's signer.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use s3crypt::aws::sigv4::{self, Credentials, SignableRequest};
use s3crypt::iam::Principal;
use s3crypt::kms::MockKms;
use s3crypt::server::{Identity, Listeners, S3Service, ServerOptions, StaticKeys};
use s3crypt::sse::engine::{LOCAL_ACCOUNT, SseEngine};

pub const ID: &str = "AKIDHTTPTEST";
pub const SECRET: &str = "http-test-secret";

/// A server on a free loopback port (plain HTTP), stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub home: tempfile::TempDir,
    /// The service (to flush its access logs).
    pub service: Arc<S3Service>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn start(options: ServerOptions) -> Server {
    start_with(options, |service, _| service)
}

/// A server whose service `customize` finishes (given the home), e.g. to add Glacier vaults.
pub fn start_with(
    options: ServerOptions,
    customize: impl FnOnce(S3Service, &Path) -> S3Service,
) -> Server {
    let home = tempfile::tempdir().expect("tmp");
    let engine =
        Arc::new(SseEngine::new(home.path(), Arc::new(MockKms::in_memory())).expect("engine"));
    let keys = StaticKeys::new(
        vec![Identity {
            principal: Principal::root(LOCAL_ACCOUNT, ID),
            credentials: Credentials::new(ID, SECRET, None),
            policies: Vec::new(),
        }],
        None,
    );
    let service = Arc::new(customize(
        S3Service::new(engine, Arc::new(keys), options),
        home.path(),
    ));
    let served = Arc::clone(&service);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx.send(l.local_addr().expect("addr")).expect("send");
            let listeners = Listeners {
                https: None,
                http: Some(l),
                vpc: Vec::new(),
            };
            let _ = s3crypt::server::serve(served, listeners, async {
                let _ = stop_rx.await;
            })
            .await;
        });
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server address");
    Server {
        addr,
        home,
        service,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the body was shorter than `Content-Length` (the server aborted it).
    pub truncated: bool,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the whole answer.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse(&out)
}

/// Parses a response; a connection closed before any byte (the server aborted it) is status 0.
pub fn parse(out: &[u8]) -> Resp {
    if out.is_empty() {
        return Resp {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            truncated: true,
        };
    }
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(out)));
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = out[split + 4..].to_vec();
    let declared = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let truncated = declared.is_some_and(|d| d > body.len());
    Resp {
        status,
        headers,
        body,
        truncated,
    }
}

/// A SigV4-signed request (payload hash of `body`), with `extra` headers signed too.
pub fn signed(
    addr: SocketAddr,
    method: &str,
    target: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    signed_as(
        &Credentials::new(ID, SECRET, None),
        addr,
        method,
        target,
        extra,
        body,
    )
}

/// [`signed`] with other credentials (temporary ones sign `x-amz-security-token` too).
pub fn signed_as(
    creds: &Credentials,
    addr: SocketAddr,
    method: &str,
    target: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut headers: Vec<(String, String)> = vec![("host".into(), addr.to_string())];
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    let req = SignableRequest {
        method,
        uri: target,
        headers: &headers,
        body,
    };
    let added = sigv4::sign(&req, creds, "us-east-1", "s3", SystemTime::now()).expect("sign");
    headers.extend(added);
    send(addr, method, target, &headers, body)
}

pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Resp {
    let mut msg = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        msg.push_str(&format!("{n}: {v}\r\n"));
    }
    msg.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = msg.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes)
}

pub fn code(r: &Resp) -> String {
    let t = r.text();
    t.split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or_default()
        .to_owned()
}

pub fn object_files(home: &Path) -> usize {
    walk(&home.join("buckets"))
}

pub fn walk(p: &Path) -> usize {
    std::fs::read_dir(p).map_or(0, |d| {
        d.flatten()
            .map(|e| {
                let path = e.path();
                if path.is_dir() {
                    walk(&path)
                } else {
                    usize::from(path.parent().and_then(Path::file_name) == Some("objects".as_ref()))
                }
            })
            .sum()
    })
}
