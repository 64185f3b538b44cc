//! `s3crypt serve` against moto's S3 server (the local S3 people run today), with the same client, in one
//! run.
//!
//! ```sh
//! cargo bench --bench serve                  # the default run, a few minutes on 2 cores
//! cargo bench --bench serve -- --quick       # shorter phases and smaller objects, for a smoke test
//! cargo bench --bench serve -- --help        # every size, duration and count can be changed
//! ```
//!
//! Per SSE mode (SSE-S3, SSE-KMS, DSSE, SSE-C), against both servers over HTTPS on loopback:
//! - 4 KiB PUT, then GET, operations per second with 16 concurrent clients (one keep-alive connection
//!   each) for 5 s each;
//! - 64 MiB PUT, then GET, MiB/s of one client, 3 objects each, median.
//!
//! Then the memory figure: a fresh `s3crypt serve` process, 4 clients each PUT one 1 GiB object at the
//! same time, then GET them back at the same time; the server's peak RSS (`VmHWM` of
//! `/proc/PID/status`, which cannot be reset, hence the fresh process; `VmRSS` is also sampled every
//! 50 ms to split the peak between the PUT and the GET phase). moto keeps objects in memory and reads
//! each request body whole, so it gets the same measurement on a smaller load (4 × 256 MiB by default).
//!
//! Then the cost of server access logging: a fresh `s3crypt serve`, its SSE-S3 small-object PUT and GET
//! phases run with logging of the bench bucket off, then on (into a second bucket), alternated
//! `--logging-rounds` times; the mean of each.
//!
//! Then the disk ceiling: with no server at all, what the filesystem under the home allows a server that
//! makes every PUT durable: `--clients` threads writing small files with fsync, rename and a directory
//! fsync, and one large file written and fsynced. Every s3crypt PUT is durable when it is answered (its
//! object file and index entry are fsynced), moto's PUTs are kept in memory, so these are the bounds of
//! the PUT ratios on the machine the bench runs on.
//!
//! And the HTTPS ceiling: a null server in this process (TLS and HTTP/1.1 only: GET answers bytes from
//! memory, PUT discards the body) on two threads of its own, driven by the same client as the large
//! phases: what any HTTPS server can reach for this client on this machine.
//!
//! Output: a table on stdout and one JSON object per figure (`{"bench":"serve",...}` lines).
//!
//! ## The client
//! One client, identical for both servers: hyper's HTTP/1.1 client connection (`hyper::client::conn`)
//! over tokio-rustls (ring, ALPN `http/1.1`, trusting the local CA of the `s3crypt serve` home), each
//! request signed by this crate's own SigV4 signer ([`s3crypt::aws::sigv4::sign`]) with
//! `x-amz-content-sha256: UNSIGNED-PAYLOAD`, so that the client is not bound by SHA-256 of the body
//! (both servers accept it over TLS). Request bodies are one shared 1 MiB buffer sent repeatedly, and
//! response bodies are counted and dropped, so the client's own memory and CPU per byte stay small.
//! The AWS SDK for Rust is deliberately not used: `aws-sdk-s3` alone would add minutes of compile time
//! to every CI run of `cargo bench --no-run`.
//!
//! ## The servers
//! - `s3crypt serve` is the `s3crypt` binary Cargo builds for this bench (`CARGO_BIN_EXE_s3crypt`, the
//!   bench profile, i.e. release settings), in a temporary home, with `--log warn`.
//! - moto is `tests/interop/moto_server.py` run by `<repo>/.venv/bin/python` (made by `scripts/venv.sh`
//!   when missing), serving HTTPS with the same home's `tls/server.pem` and `tls/server.key`, so both
//!   servers run the same transport. moto accepts the SSE headers but does not encrypt: the per-mode
//!   moto figures are the same work each time, measured anyway so every row compares like requests.
//!
//! Client and servers share the machine: on 2 cores the client's TLS and HTTP work competes with the
//! server under test. Every loop is bounded in count and in time; each request has a timeout.

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, SizeHint};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use md5::Digest as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use s3crypt::aws::sigv4::{self, Credentials, SignableRequest, UNSIGNED_PAYLOAD};
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const MIB: u64 = 1 << 20;
const ACCESS_KEY: &str = "AKIDBENCHSERVE";
const SECRET_KEY: &str = "benchserve/secret/key/not/for/anything/else";
const REGION: &str = "us-east-1";
const BUCKET: &str = "bench";
/// Upper bound on the operations of one client in one timed small-object phase.
const MAX_OPS_PER_CLIENT: u64 = 1_000_000;
/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Timeout of one small request.
const SMALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The slowest rate a large request may go at before it is abandoned (plus 60 s).
const LARGE_MIN_RATE: u64 = 2 * MIB;

// ---------------------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone)]
struct Opts {
    small_size: u64,
    small_secs: f64,
    clients: usize,
    large_mib: u64,
    large_reps: usize,
    rss_mib: u64,
    rss_clients: usize,
    moto_rss_mib: u64,
    rss_mode: Mode,
    modes: Vec<Mode>,
    moto: bool,
    /// Rounds of the access-logging phase (off, on) of s3crypt; 0 skips it.
    logging_rounds: usize,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            small_size: 4096,
            small_secs: 5.0,
            clients: 16,
            large_mib: 64,
            large_reps: 3,
            rss_mib: 1024,
            rss_clients: 4,
            moto_rss_mib: 256,
            rss_mode: Mode::SseS3,
            modes: Mode::ALL.to_vec(),
            moto: true,
            logging_rounds: 2,
        }
    }
}

const USAGE: &str = "\
cargo bench --bench serve -- [OPTIONS]

  --quick               1 s phases, 16 MiB large objects, 4 x 128 MiB (moto 4 x 32 MiB) for RSS
  --small-size BYTES    small object size (default 4096)
  --small-secs S        length of each small-object PUT and GET phase (default 5)
  --clients N           concurrent clients for small objects (default 16)
  --large-mib N         large object size in MiB (default 64)
  --large-reps N        large objects PUT and GET per mode and server; the median is quoted (default 3)
  --rss-mib N           object size per client in the s3crypt RSS phase, MiB (default 1024; 0 skips)
  --rss-clients N       clients in the RSS phases (default 4)
  --moto-rss-mib N      object size per client in moto's RSS phase, MiB (default 256; 0 skips)
  --rss-mode MODE       SSE mode of the RSS phases (default sse-s3)
  --modes M,M           modes to run: sse-s3, sse-kms, dsse, sse-c (default all)
  --no-moto             s3crypt only
  --logging-rounds N    rounds of s3crypt's small phases with access logging off, then on (default 2;
                        0 skips)
";

fn parse_opts() -> Res<Opts> {
    let mut o = Opts::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| -> Res<String> {
            args.next()
                .ok_or_else(|| format!("{name} needs a value").into())
        };
        match a.as_str() {
            // What `cargo bench` passes to every bench binary.
            "--bench" => {}
            "--quick" => {
                o.small_secs = 1.0;
                o.large_mib = 16;
                o.rss_mib = 128;
                o.moto_rss_mib = 32;
            }
            "--small-size" => o.small_size = val(&a)?.parse()?,
            "--small-secs" => o.small_secs = val(&a)?.parse()?,
            "--clients" => o.clients = val(&a)?.parse()?,
            "--large-mib" => o.large_mib = val(&a)?.parse()?,
            "--large-reps" => o.large_reps = val(&a)?.parse()?,
            "--rss-mib" => o.rss_mib = val(&a)?.parse()?,
            "--rss-clients" => o.rss_clients = val(&a)?.parse()?,
            "--moto-rss-mib" => o.moto_rss_mib = val(&a)?.parse()?,
            "--rss-mode" => o.rss_mode = Mode::parse(&val(&a)?)?,
            "--modes" => {
                o.modes = val(&a)?
                    .split(',')
                    .map(Mode::parse)
                    .collect::<Res<Vec<_>>>()?;
            }
            "--no-moto" => o.moto = false,
            "--logging-rounds" => o.logging_rounds = val(&a)?.parse()?,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    if !(o.small_secs > 0.0 && o.small_secs <= 600.0) {
        return Err("--small-secs must be in (0, 600]".into());
    }
    if o.clients == 0 || o.clients > 1024 || o.rss_clients == 0 || o.rss_clients > 64 {
        return Err("--clients must be in 1..=1024 and --rss-clients in 1..=64".into());
    }
    if o.small_size == 0 || o.large_mib == 0 || o.large_reps == 0 || o.large_reps > 100 {
        return Err("--small-size, --large-mib must be > 0 and --large-reps in 1..=100".into());
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------------
// SSE modes

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    SseS3,
    SseKms,
    Dsse,
    SseC,
}

/// The SSE-C key of every SSE-C request.
const SSE_C_KEY: [u8; 32] = [0x42; 32];

impl Mode {
    const ALL: [Self; 4] = [Self::SseS3, Self::SseKms, Self::Dsse, Self::SseC];

    fn name(self) -> &'static str {
        match self {
            Self::SseS3 => "sse-s3",
            Self::SseKms => "sse-kms",
            Self::Dsse => "dsse",
            Self::SseC => "sse-c",
        }
    }

    fn parse(s: &str) -> Res<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown mode {s:?} (sse-s3, sse-kms, dsse, sse-c)").into())
    }

    fn sse_c_headers() -> Vec<(String, String)> {
        let b64 = base64::engine::general_purpose::STANDARD;
        vec![
            (
                "x-amz-server-side-encryption-customer-algorithm".into(),
                "AES256".into(),
            ),
            (
                "x-amz-server-side-encryption-customer-key".into(),
                b64.encode(SSE_C_KEY),
            ),
            (
                "x-amz-server-side-encryption-customer-key-md5".into(),
                b64.encode(md5::Md5::digest(SSE_C_KEY)),
            ),
        ]
    }

    fn put_headers(self) -> Vec<(String, String)> {
        let sse = |v: &str| vec![("x-amz-server-side-encryption".to_owned(), v.to_owned())];
        match self {
            Self::SseS3 => sse("AES256"),
            Self::SseKms => sse("aws:kms"),
            Self::Dsse => sse("aws:kms:dsse"),
            Self::SseC => Self::sse_c_headers(),
        }
    }

    fn get_headers(self) -> Vec<(String, String)> {
        match self {
            Self::SseC => Self::sse_c_headers(),
            _ => Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Server processes

/// A server process, stopped (SIGTERM, then SIGKILL after 10 s) when dropped.
struct Server {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmHWM` (peak RSS) or `VmRSS` of the process, bytes.
    fn status_bytes(&self, field: &str) -> Option<u64> {
        proc_status_kib(self.pid(), field).map(|k| k * 1024)
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "serve bench: {} did not stop on SIGTERM, killing it",
            self.name
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd`, waits (bounded) for its first stdout line and keeps draining stdout after it.
fn spawn_server(name: &'static str, mut cmd: Command) -> Res<(Child, String)> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {name}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let _ = tx.send(r.read_line(&mut line).map(|_| line));
        let mut sink = String::new();
        while matches!(r.read_line(&mut sink), Ok(n) if n > 0) {
            sink.clear();
        }
    });
    let guard = KillOnError(Some(child));
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(line)) if !line.trim().is_empty() => Ok((guard.take(), line.trim().to_owned())),
        Ok(Ok(_)) => Err(format!("{name} exited before printing its address").into()),
        Ok(Err(e)) => Err(format!("{name}: reading stdout: {e}").into()),
        Err(_) => Err(format!("{name} printed no address within {START_TIMEOUT:?}").into()),
    }
}

struct KillOnError(Option<Child>);

impl KillOnError {
    fn take(mut self) -> Child {
        self.0.take().expect("child present until taken")
    }
}

impl Drop for KillOnError {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn addr_of(url: &str) -> Res<SocketAddr> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("{url:?} is not an https:// URL"))?;
    Ok(rest.trim_end_matches('/').parse()?)
}

fn start_s3crypt(home: &Path) -> Res<Server> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3crypt"));
    cmd.arg("--home")
        .arg(home)
        .args(["serve", "--https", "127.0.0.1:0", "--log", "warn", "--json"])
        .arg("--access-key")
        .arg(format!("{ACCESS_KEY}:{SECRET_KEY}"));
    let (child, line) = spawn_server("s3crypt", cmd)?;
    let guard = KillOnError(Some(child));
    let v: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("s3crypt printed {line:?}: {e}"))?;
    let url = v["https"].as_str().ok_or("s3crypt printed no https URL")?;
    Ok(Server {
        name: "s3crypt",
        addr: addr_of(url)?,
        child: guard.take(),
    })
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ensure_venv() -> Res<PathBuf> {
    let python = repo().join(".venv/bin/python");
    if !python.exists() {
        eprintln!("serve bench: no .venv, running scripts/venv.sh");
        let ok = Command::new(repo().join("scripts/venv.sh"))
            .status()?
            .success();
        if !ok || !python.exists() {
            return Err("scripts/venv.sh failed; run it by hand, or pass --no-moto".into());
        }
    }
    Ok(python)
}

fn start_moto(python: &Path, home: &Path) -> Res<Server> {
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/interop/moto_server.py"))
        .arg("--cert")
        .arg(home.join("tls/server.pem"))
        .arg("--key")
        .arg(home.join("tls/server.key"));
    let (child, line) = spawn_server("moto", cmd)?;
    let guard = KillOnError(Some(child));
    let url = line
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("moto printed {line:?}"))?;
    Ok(Server {
        name: "moto",
        addr: addr_of(url)?,
        child: guard.take(),
    })
}

// ---------------------------------------------------------------------------------------------------
// The client

/// A request body: `len` bytes made of one shared piece sent again and again.
#[derive(Clone)]
struct Repeat {
    piece: Bytes,
    left: u64,
}

impl Repeat {
    fn new(piece: &Bytes, len: u64) -> Self {
        Self {
            piece: piece.clone(),
            left: len,
        }
    }

    fn empty() -> Self {
        Self {
            piece: Bytes::new(),
            left: 0,
        }
    }
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.left == 0 || this.piece.is_empty() {
            return Poll::Ready(None);
        }
        let n = usize::try_from(this.left).map_or(this.piece.len(), |l| l.min(this.piece.len()));
        this.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(this.piece.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// One server as the client sees it.
struct Endpoint {
    server: &'static str,
    addr: SocketAddr,
    host: String,
    tls: TlsConnector,
    creds: Credentials,
}

impl Endpoint {
    fn new(server: &Server, ca: &Path) -> Res<Self> {
        Self::at(server.name, server.addr, ca)
    }

    fn at(name: &'static str, addr: SocketAddr, ca: &Path) -> Res<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca)? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            server: name,
            addr,
            host: addr.to_string(),
            tls: TlsConnector::from(Arc::new(cfg)),
            creds: Credentials::new(ACCESS_KEY, SECRET_KEY, None),
        })
    }

    /// A new keep-alive connection (TCP, TLS handshake, HTTP/1.1).
    async fn open(&self) -> Res<http1::SendRequest<Repeat>> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let tls = self
            .tls
            .connect(ServerName::IpAddress(self.addr.ip().into()), tcp)
            .await?;
        let (tx, conn) = http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(tx)
    }

    async fn connect(&self) -> Res<Conn> {
        Ok(Conn {
            tx: Some(self.open().await?),
            reconnects: 0,
        })
    }
}

/// One keep-alive HTTP/1.1 connection, opened again whenever the server closed it (moto's server
/// answers every request with `Connection: close`, so each moto request pays a TCP and TLS handshake, as
/// it does for any client).
struct Conn {
    tx: Option<http1::SendRequest<Repeat>>,
    /// Connections opened after the first.
    reconnects: u64,
}

/// Whether `e` says the connection was gone before the request could be answered.
fn connection_gone(e: &BoxError) -> bool {
    e.downcast_ref::<hyper::Error>()
        .is_some_and(|h| h.is_closed() || h.is_canceled() || h.is_incomplete_message())
}

impl Conn {
    /// Sends one signed request and reads the whole response; fails on a non-2xx status. Returns the
    /// number of body bytes received. A request that meets a connection the server has closed is sent
    /// once more on a new connection (both are idempotent: PUT of the same bytes, GET).
    async fn call(
        &mut self,
        ep: &Endpoint,
        method: &str,
        uri: &str,
        extra: &[(String, String)],
        body: Repeat,
        timeout: Duration,
    ) -> Res<u64> {
        let fut = async {
            let mut last = None;
            for _attempt in 0..2 {
                let usable = match &mut self.tx {
                    Some(tx) => !tx.is_closed() && tx.ready().await.is_ok(),
                    None => false,
                };
                if !usable {
                    self.tx = Some(ep.open().await?);
                    self.reconnects += 1;
                }
                match self.call_inner(ep, method, uri, extra, body.clone()).await {
                    Err(e) if connection_gone(&e) => {
                        self.tx = None;
                        last = Some(e);
                    }
                    r => return r,
                }
            }
            Err(last.unwrap_or_else(|| "connection lost".into()))
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| format!("{} {method} {uri}: no answer within {timeout:?}", ep.server))?
    }

    async fn call_inner(
        &mut self,
        ep: &Endpoint,
        method: &str,
        uri: &str,
        extra: &[(String, String)],
        body: Repeat,
    ) -> Res<u64> {
        let mut headers = Vec::with_capacity(extra.len() + 6);
        headers.push(("host".to_owned(), ep.host.clone()));
        headers.push((
            "x-amz-content-sha256".to_owned(),
            UNSIGNED_PAYLOAD.to_owned(),
        ));
        headers.extend_from_slice(extra);
        let req = SignableRequest {
            method,
            uri,
            headers: &headers,
            body: &[],
        };
        let auth = sigv4::sign(&req, &ep.creds, REGION, "s3", SystemTime::now())?;
        headers.extend(auth);
        let mut b = hyper::Request::builder().method(method).uri(uri);
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        if method == "PUT" || method == "POST" {
            b = b.header("content-length", body.left.to_string());
        }
        let req = b.body(body)?;
        let tx = self.tx.as_mut().ok_or("not connected")?;
        let resp = tx.send_request(req).await?;
        let status = resp.status();
        let mut body = resp.into_body();
        let mut n = 0u64;
        let mut head = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(d) = frame?.into_data() {
                n += d.len() as u64;
                if !status.is_success() && head.len() < 2048 {
                    head.extend_from_slice(&d[..d.len().min(2048 - head.len())]);
                }
            }
        }
        if !status.is_success() {
            return Err(format!(
                "{} {method} {uri}: {status}: {}",
                ep.server,
                String::from_utf8_lossy(&head)
            )
            .into());
        }
        Ok(n)
    }
}

fn large_timeout(len: u64) -> Duration {
    Duration::from_secs(60 + len / LARGE_MIN_RATE)
}

/// A 1 MiB piece of non-repeating bytes (xorshift), the source of every request body.
fn piece() -> Bytes {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut v = Vec::with_capacity(MIB as usize);
    while v.len() < MIB as usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    Bytes::from(v)
}

/// CreateBucket, then PutBucketEncryption with the SSE-S3 default and SSE-C allowed (S3's
/// `BlockedEncryptionTypes` `NONE`); moto's answer to the latter is not required to be a success.
async fn setup_bucket(ep: &Endpoint, bucket: &str) -> Res<()> {
    let mut c = ep.connect().await?;
    // The memory phase's fresh `s3crypt serve` reuses the home, where the bucket already exists.
    let uri = format!("/{bucket}");
    let created = c
        .call(ep, "PUT", &uri, &[], Repeat::empty(), SMALL_TIMEOUT)
        .await;
    if let Err(e) = created
        && !e.to_string().contains("BucketAlreadyOwnedByYou")
    {
        return Err(e);
    }
    let xml = "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
        <Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
        </ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType>\
        </BlockedEncryptionTypes></Rule></ServerSideEncryptionConfiguration>";
    let b64 = base64::engine::general_purpose::STANDARD;
    let md5 = b64.encode(md5::Md5::digest(xml.as_bytes()));
    let body = Bytes::from_static(xml.as_bytes());
    let r = c
        .call(
            ep,
            "PUT",
            &format!("/{bucket}?encryption"),
            &[("content-md5".to_owned(), md5)],
            Repeat::new(&body, body.len() as u64),
            SMALL_TIMEOUT,
        )
        .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if ep.server == "moto" => {
            eprintln!("serve bench: moto PutBucketEncryption (not needed by moto): {e}");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Sends one small configuration request (an XML or JSON body with its Content-MD5).
async fn configure(ep: &Endpoint, method: &str, uri: &str, body: String) -> Res<()> {
    let mut c = ep.connect().await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let md5 = b64.encode(md5::Md5::digest(body.as_bytes()));
    let body = Bytes::from(body);
    c.call(
        ep,
        method,
        uri,
        &[("content-md5".to_owned(), md5)],
        Repeat::new(&body, body.len() as u64),
        SMALL_TIMEOUT,
    )
    .await
    .map(drop)
}

/// Turns server access logging of [`BUCKET`] on (into a bucket `bench-logs` whose policy lets the
/// logging service write) or off.
async fn set_logging(ep: &Endpoint, on: bool) -> Res<()> {
    const TARGET: &str = "bench-logs";
    if on {
        setup_bucket(ep, TARGET).await?;
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"logging.s3.amazonaws.com"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{TARGET}/*","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:s3:::{BUCKET}"}}}}}}]}}"#
        );
        configure(ep, "PUT", &format!("/{TARGET}?policy"), policy).await?;
    }
    let status = if on {
        format!(
            r#"<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LoggingEnabled><TargetBucket>{TARGET}</TargetBucket><TargetPrefix>{BUCKET}/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"#
        )
    } else {
        r#"<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#.to_owned()
    };
    configure(ep, "PUT", &format!("/{BUCKET}?logging"), status).await
}

// ---------------------------------------------------------------------------------------------------
// Workloads

/// One PUT in `mode` before anything is timed. `s3crypt serve` needs it: the first SSE-KMS or DSSE
/// requests without a key id create the home's managed KMS key (`SseEngine::managed_key` in
/// src/sse/engine.rs), and concurrent first requests race there (DescribeKey fails for all of them,
/// each creates a key, all but one then fail CreateAlias with AlreadyExistsException: 500
/// InternalError). Done for both servers alike.
async fn warm_up(ep: &Endpoint, mode: Mode) -> Res<()> {
    let mut c = ep.connect().await?;
    let piece = Bytes::from_static(&[0x5a; 4096]);
    c.call(
        ep,
        "PUT",
        &format!("/{BUCKET}/warm-up/{}", mode.name()),
        &mode.put_headers(),
        Repeat::new(&piece, 4096),
        SMALL_TIMEOUT,
    )
    .await?;
    Ok(())
}

/// `clients` connections doing `op` on small objects for `secs`; returns operations per second, the
/// operations of each client and the connections opened again after the server closed them.
async fn small_phase(
    ep: &Arc<Endpoint>,
    mode: Mode,
    opts: &Opts,
    put: bool,
    written: &[u64],
) -> Res<(f64, Vec<u64>, u64)> {
    let mut conns = Vec::with_capacity(opts.clients);
    for _ in 0..opts.clients {
        conns.push(ep.connect().await?);
    }
    let piece = piece().slice(..usize::try_from(opts.small_size.min(MIB))?);
    let len = opts.small_size.min(MIB);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(opts.small_secs);
    let mut tasks = Vec::with_capacity(opts.clients);
    for (i, mut conn) in conns.into_iter().enumerate() {
        let ep = Arc::clone(ep);
        let stop = Arc::clone(&stop);
        let piece = piece.clone();
        let have = written.get(i).copied().unwrap_or(0);
        let (hdrs, verb) = if put {
            (mode.put_headers(), "PUT")
        } else {
            (mode.get_headers(), "GET")
        };
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while n < MAX_OPS_PER_CLIENT
                && !stop.load(Ordering::Relaxed)
                && Instant::now() < deadline
            {
                let k = if put { n } else { n % have.max(1) };
                let uri = format!("/{BUCKET}/small/{}/{i}/{k}", mode.name());
                let body = if put {
                    Repeat::new(&piece, len)
                } else {
                    Repeat::empty()
                };
                match conn.call(&ep, verb, &uri, &hdrs, body, SMALL_TIMEOUT).await {
                    Ok(got) if !put && got != len => {
                        stop.store(true, Ordering::Relaxed);
                        return Err::<(u64, u64), BoxError>(
                            format!("{}: GET {uri}: {got} bytes, expected {len}", ep.server).into(),
                        );
                    }
                    Ok(_) => n += 1,
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
            Ok((n, conn.reconnects))
        }));
    }
    let mut counts = Vec::with_capacity(tasks.len());
    let mut reconnects = 0;
    let mut first_err = None;
    for t in tasks {
        match t.await? {
            Ok((n, r)) => {
                counts.push(n);
                reconnects += r;
            }
            Err(e) => {
                counts.push(0);
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let secs = start.elapsed().as_secs_f64();
    if !put && written.is_empty() {
        return Err("GET phase without objects".into());
    }
    let total: u64 = counts.iter().sum();
    Ok((total as f64 / secs, counts, reconnects))
}

/// PUT then GET of `reps` objects of `mib` MiB, one client; the medians in MiB/s and the reconnections.
async fn large_phase(ep: &Endpoint, mode: Mode, opts: &Opts) -> Res<(f64, f64, u64)> {
    let piece = piece();
    let len = opts.large_mib * MIB;
    let mut conn = ep.connect().await?;
    let (mut puts, mut gets) = (Vec::new(), Vec::new());
    for r in 0..opts.large_reps {
        let uri = format!("/{BUCKET}/large/{}/{r}", mode.name());
        let t = Instant::now();
        conn.call(
            ep,
            "PUT",
            &uri,
            &mode.put_headers(),
            Repeat::new(&piece, len),
            large_timeout(len),
        )
        .await?;
        puts.push(len as f64 / MIB as f64 / t.elapsed().as_secs_f64());
    }
    for r in 0..opts.large_reps {
        let uri = format!("/{BUCKET}/large/{}/{r}", mode.name());
        let t = Instant::now();
        let got = conn
            .call(
                ep,
                "GET",
                &uri,
                &mode.get_headers(),
                Repeat::empty(),
                large_timeout(len),
            )
            .await?;
        if got != len {
            return Err(format!("{}: GET {uri}: {got} bytes, expected {len}", ep.server).into());
        }
        gets.push(len as f64 / MIB as f64 / t.elapsed().as_secs_f64());
    }
    Ok((median(&mut puts), median(&mut gets), conn.reconnects))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => f64::midpoint(v[n / 2 - 1], v[n / 2]),
    }
}

/// Samples `VmRSS` of `pid` every 50 ms until stopped; returns the largest value seen, bytes.
struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut max = 0;
            // Bounded: at most one hour of samples.
            for _ in 0..72_000 {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                max = max.max(proc_status_kib(pid, "VmRSS").unwrap_or(0) * 1024);
                std::thread::sleep(Duration::from_millis(50));
            }
            max
        });
        Self { stop, handle }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

struct RssResult {
    idle: u64,
    put_peak: u64,
    get_peak: u64,
    hwm: u64,
    put_mibps: f64,
    get_mibps: f64,
    per_client_mib: u64,
    clients: usize,
}

/// `clients` connections PUT one object each at the same time, then GET them at the same time.
async fn rss_phase(
    server: &Server,
    ep: &Arc<Endpoint>,
    mode: Mode,
    mib: u64,
    clients: usize,
) -> Res<RssResult> {
    setup_bucket(ep, BUCKET).await?;
    warm_up(ep, mode).await?;
    let idle = server.status_bytes("VmRSS").unwrap_or(0);
    let len = mib * MIB;
    let piece = piece();
    let mut out = [0.0f64; 2];
    let mut peaks = [0u64; 2];
    for (phase, put) in [true, false].into_iter().enumerate() {
        let mut conns = Vec::with_capacity(clients);
        for _ in 0..clients {
            conns.push(ep.connect().await?);
        }
        let sampler = RssSampler::start(server.pid());
        let t = Instant::now();
        let mut tasks = Vec::new();
        for (i, mut c) in conns.into_iter().enumerate() {
            let ep = Arc::clone(ep);
            let piece = piece.clone();
            tasks.push(tokio::spawn(async move {
                let uri = format!("/{BUCKET}/rss/{i}");
                let (verb, hdrs, body) = if put {
                    ("PUT", mode.put_headers(), Repeat::new(&piece, len))
                } else {
                    ("GET", mode.get_headers(), Repeat::empty())
                };
                let got = c
                    .call(&ep, verb, &uri, &hdrs, body, large_timeout(len * 4))
                    .await?;
                if !put && got != len {
                    return Err::<(), BoxError>(format!("GET {uri}: {got} bytes").into());
                }
                Ok(())
            }));
        }
        let mut first_err = None;
        for task in tasks {
            if let Err(e) = task.await? {
                first_err.get_or_insert(e);
            }
        }
        let secs = t.elapsed().as_secs_f64();
        peaks[phase] = sampler.finish();
        if let Some(e) = first_err {
            return Err(e);
        }
        out[phase] = (len * clients as u64) as f64 / MIB as f64 / secs;
    }
    Ok(RssResult {
        idle,
        put_peak: peaks[0],
        get_peak: peaks[1],
        hwm: server.status_bytes("VmHWM").unwrap_or(0),
        put_mibps: out[0],
        get_mibps: out[1],
        per_client_mib: mib,
        clients,
    })
}

// ---------------------------------------------------------------------------------------------------
// Report

/// One measured figure.
struct Figure {
    server: &'static str,
    mode: Mode,
    what: &'static str,
    value: f64,
    unit: &'static str,
    /// Connections the client had to open again during the figure's phase.
    reconnects: u64,
}

fn emit(fig: &Figure, size: u64, clients: usize) {
    let v = serde_json::json!({
        "bench": "serve",
        "server": fig.server,
        "mode": fig.mode.name(),
        "figure": fig.what,
        "size": size,
        "clients": clients,
        "value": (fig.value * 100.0).round() / 100.0,
        "unit": fig.unit,
        "reconnects": fig.reconnects,
    });
    println!("{v}");
}

fn mib(b: u64) -> f64 {
    b as f64 / MIB as f64
}

fn main() -> Res<()> {
    let opts = parse_opts()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(opts))
}

async fn run(opts: Opts) -> Res<()> {
    let python = if opts.moto {
        Some(ensure_venv()?)
    } else {
        None
    };
    let home = tempfile::Builder::new()
        .prefix("s3crypt-serve-bench")
        .tempdir()?;
    let ca = home.path().join("tls/ca.pem");
    let mut figures: Vec<Figure> = Vec::new();

    // Throughput: both servers up at once, modes interleaved server by server.
    {
        let s3c = start_s3crypt(home.path())?;
        let moto = match &python {
            Some(py) => Some(start_moto(py, home.path())?),
            None => None,
        };
        let mut eps = vec![Arc::new(Endpoint::new(&s3c, &ca)?)];
        if let Some(m) = &moto {
            eps.push(Arc::new(Endpoint::new(m, &ca)?));
        }
        for ep in &eps {
            setup_bucket(ep, BUCKET).await?;
        }
        eprintln!(
            "serve bench: s3crypt pid {} at {}{}",
            s3c.pid(),
            s3c.addr,
            moto.as_ref()
                .map(|m| format!(", moto pid {} at {}", m.pid(), m.addr))
                .unwrap_or_default()
        );
        for &mode in &opts.modes {
            for ep in &eps {
                eprintln!("serve bench: {} {} small objects", ep.server, mode.name());
                warm_up(ep, mode).await?;
                let (put, written, put_re) = small_phase(ep, mode, &opts, true, &[]).await?;
                let (get, _, get_re) = small_phase(ep, mode, &opts, false, &written).await?;
                for (what, value, reconnects) in
                    [("small PUT", put, put_re), ("small GET", get, get_re)]
                {
                    let f = Figure {
                        server: ep.server,
                        mode,
                        what,
                        value,
                        unit: "ops/s",
                        reconnects,
                    };
                    emit(&f, opts.small_size, opts.clients);
                    figures.push(f);
                }
                eprintln!("serve bench: {} {} large objects", ep.server, mode.name());
                let (put, get, reconnects) = large_phase(ep, mode, &opts).await?;
                for (what, value) in [("large PUT", put), ("large GET", get)] {
                    let f = Figure {
                        server: ep.server,
                        mode,
                        what,
                        value,
                        unit: "MiB/s",
                        reconnects,
                    };
                    emit(&f, opts.large_mib * MIB, 1);
                    figures.push(f);
                }
            }
        }
    }

    // The cost of server access logging: s3crypt's small-object phases with logging off and on,
    // alternated (off, on, off, on) in one process so that both see the same machine.
    let mut logging: Vec<(bool, f64, f64)> = Vec::new();
    if opts.logging_rounds > 0 {
        let s3c = start_s3crypt(home.path())?;
        let ep = Arc::new(Endpoint::new(&s3c, &ca)?);
        setup_bucket(&ep, BUCKET).await?;
        warm_up(&ep, Mode::SseS3).await?;
        for round in 0..opts.logging_rounds {
            for on in [false, true] {
                eprintln!(
                    "serve bench: s3crypt access logging {}, round {}",
                    if on { "on" } else { "off" },
                    round + 1
                );
                set_logging(&ep, on).await?;
                let (put, written, _) = small_phase(&ep, Mode::SseS3, &opts, true, &[]).await?;
                let (get, _, _) = small_phase(&ep, Mode::SseS3, &opts, false, &written).await?;
                println!(
                    "{}",
                    serde_json::json!({
                        "bench": "serve",
                        "server": "s3crypt",
                        "mode": "sse-s3",
                        "figure": "access logging",
                        "logging": on,
                        "round": round + 1,
                        "size": opts.small_size,
                        "clients": opts.clients,
                        "put_ops": (put * 10.0).round() / 10.0,
                        "get_ops": (get * 10.0).round() / 10.0,
                    })
                );
                logging.push((on, put, get));
            }
        }
        set_logging(&ep, false).await?;
    }

    // What the disk under the home allows a server that makes every PUT durable, measured without any
    // server: the bound of every PUT figure (moto keeps objects in memory and never syncs).
    eprintln!("serve bench: disk ceiling of the home's filesystem");
    let disk = disk_ceiling(home.path(), &opts)?;
    for (what, value, unit, size, clients) in [
        (
            "small PUT",
            disk.small_ops,
            "ops/s",
            opts.small_size,
            opts.clients,
        ),
        (
            "large PUT",
            disk.large_mibps,
            "MiB/s",
            opts.large_mib * MIB,
            1,
        ),
    ] {
        println!(
            "{}",
            serde_json::json!({
                "bench": "serve",
                "server": "disk",
                "figure": what,
                "size": size,
                "clients": clients,
                "value": (value * 100.0).round() / 100.0,
                "unit": unit,
            })
        );
    }

    // What HTTPS alone allows on this machine: a server that does nothing but TLS and HTTP (GET answers
    // bytes from memory, PUT discards the body), driven by the same client, on the same cores.
    eprintln!("serve bench: TLS ceiling (a null HTTPS server in this process)");
    let null = NullServer::start(home.path(), opts.large_mib * MIB)?;
    let ep = Endpoint::at("null", null.addr, &ca)?;
    let (null_put, null_get, _) = large_phase(&ep, Mode::SseS3, &opts).await?;
    drop(null);
    for (what, value) in [("large PUT", null_put), ("large GET", null_get)] {
        println!(
            "{}",
            serde_json::json!({
                "bench": "serve",
                "server": "null-https",
                "figure": what,
                "size": opts.large_mib * MIB,
                "clients": 1,
                "value": (value * 100.0).round() / 100.0,
                "unit": "MiB/s",
            })
        );
    }

    // Memory: a fresh process per server.
    let mut rss: Vec<(&'static str, RssResult)> = Vec::new();
    if opts.rss_mib > 0 {
        let s3c = start_s3crypt(home.path())?;
        let ep = Arc::new(Endpoint::new(&s3c, &ca)?);
        eprintln!(
            "serve bench: s3crypt RSS, {} x {} MiB",
            opts.rss_clients, opts.rss_mib
        );
        let r = rss_phase(&s3c, &ep, opts.rss_mode, opts.rss_mib, opts.rss_clients).await?;
        rss.push(("s3crypt", r));
    }
    if let (Some(py), true) = (&python, opts.moto_rss_mib > 0) {
        let moto = start_moto(py, home.path())?;
        let ep = Arc::new(Endpoint::new(&moto, &ca)?);
        eprintln!(
            "serve bench: moto RSS, {} x {} MiB",
            opts.rss_clients, opts.moto_rss_mib
        );
        let r = rss_phase(
            &moto,
            &ep,
            opts.rss_mode,
            opts.moto_rss_mib,
            opts.rss_clients,
        )
        .await?;
        rss.push(("moto", r));
    }
    for (server, r) in &rss {
        println!(
            "{}",
            serde_json::json!({
                "bench": "serve",
                "server": server,
                "mode": opts.rss_mode.name(),
                "figure": "rss",
                "clients": r.clients,
                "object_mib": r.per_client_mib,
                "idle_rss_mib": (mib(r.idle) * 10.0).round() / 10.0,
                "put_peak_rss_mib": (mib(r.put_peak) * 10.0).round() / 10.0,
                "get_peak_rss_mib": (mib(r.get_peak) * 10.0).round() / 10.0,
                "vm_hwm_mib": (mib(r.hwm) * 10.0).round() / 10.0,
                "put_mibps": (r.put_mibps * 10.0).round() / 10.0,
                "get_mibps": (r.get_mibps * 10.0).round() / 10.0,
            })
        );
    }

    print_table(&opts, &figures, &rss);
    println!();
    println!(
        "| disk ceiling (home's filesystem, no server) | value | 10× moto needs |\n|---|---:|---:|"
    );
    let best_moto = |what: &str| {
        figures
            .iter()
            .filter(|f| f.server == "moto" && f.what == what)
            .map(|f| f.value)
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))))
    };
    let need = |what: &str, unit: &str| {
        best_moto(what).map_or("–".to_owned(), |m| format!("{:.0} {unit}", 10.0 * m))
    };
    println!(
        "| {} B durable writes (write, fsync, rename, fsync dir), {} threads | {:.0} ops/s | {} |",
        opts.small_size,
        opts.clients,
        disk.small_ops,
        need("small PUT", "ops/s")
    );
    println!(
        "| {} MiB durable write (write, fsync), 1 thread, median of {} | {:.0} MiB/s | {} |",
        opts.large_mib,
        opts.large_reps,
        disk.large_mibps,
        need("large PUT", "MiB/s")
    );
    if !logging.is_empty() {
        let mean = |on: bool, get: bool| -> f64 {
            logging
                .iter()
                .filter(|l| l.0 == on)
                .map(|l| if get { l.2 } else { l.1 })
                .sum::<f64>()
                / opts.logging_rounds as f64
        };
        println!();
        println!(
            "| s3crypt sse-s3, {} B, {} clients, mean of {} alternated rounds | logging off | logging on | on / off |\n|---|---:|---:|---:|",
            opts.small_size, opts.clients, opts.logging_rounds
        );
        for (label, get) in [("PUT", false), ("GET", true)] {
            let (off, on) = (mean(false, get), mean(true, get));
            println!(
                "| {label} | {off:.0} ops/s | {on:.0} ops/s | {:.3} |",
                on / off
            );
        }
    }
    println!();
    println!(
        "| HTTPS ceiling (null server: TLS + HTTP only, same client) | value | 10× moto needs |\n|---|---:|---:|"
    );
    println!(
        "| {} MiB PUT, 1 client | {null_put:.0} MiB/s | {} |",
        opts.large_mib,
        need("large PUT", "MiB/s")
    );
    println!(
        "| {} MiB GET, 1 client | {null_get:.0} MiB/s | {} |",
        opts.large_mib,
        need("large GET", "MiB/s")
    );
    Ok(())
}

/// An HTTPS server that does nothing but TLS and HTTP/1.1, on a runtime of its own (two worker threads,
/// as `s3crypt serve` has on 2 cores) with the home's server certificate and the same rustls provider:
/// GET answers `len` bytes from one 1 MiB piece in memory, anything else reads and discards the body.
/// The bound of what any HTTPS server can do for this client on this machine.
struct NullServer {
    addr: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
}

impl NullServer {
    fn start(home: &Path, len: u64) -> Res<Self> {
        use rustls::pki_types::PrivateKeyDer;
        let certs = CertificateDer::pem_file_iter(home.join("tls/server.pem"))?
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_file(home.join("tls/server.key"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        // Bound here, not with `block_on`: this is called from the bench's own runtime.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let piece = piece();
        rt.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                return;
            };
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, piece) = (acceptor.clone(), piece.clone());
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let piece = piece.clone();
                            async move {
                                let body = if req.method() == hyper::Method::GET {
                                    Repeat::new(&piece, len)
                                } else {
                                    let mut b = req.into_body();
                                    while let Some(f) = b.frame().await {
                                        f?;
                                    }
                                    Repeat::empty()
                                };
                                Ok::<_, hyper::Error>(hyper::Response::new(body))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, rt: Some(rt) })
    }
}

impl Drop for NullServer {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The durable-write throughput of the filesystem under `dir`, with no server, no TLS and no crypto.
struct DiskCeiling {
    small_ops: f64,
    large_mibps: f64,
}

/// Small: `opts.clients` threads each write a `small_size` file, fsync it, rename it into place and
/// fsync the directory (one durable object write, the least a durable PUT does), for `small_secs`.
/// Large: one `large_mib` file written in 1 MiB pieces and fsynced, `large_reps` times; the median.
fn disk_ceiling(dir: &Path, opts: &Opts) -> Res<DiskCeiling> {
    use std::io::Write as _;
    let root = tempfile::Builder::new()
        .prefix("disk-ceiling")
        .tempdir_in(dir)?;
    let deadline = Instant::now() + Duration::from_secs_f64(opts.small_secs);
    let started = Instant::now();
    let threads: Vec<_> = (0..opts.clients)
        .map(|t| {
            let d = root.path().to_owned();
            let body = vec![0x5a; opts.small_size as usize];
            std::thread::spawn(move || -> std::io::Result<u64> {
                let mut n = 0u64;
                while Instant::now() < deadline && n < MAX_OPS_PER_CLIENT {
                    let tmp = d.join(format!(".t{t}-{n}"));
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(&body)?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, d.join(format!("o{t}-{n}")))?;
                    std::fs::File::open(&d)?.sync_all()?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut ops = 0u64;
    for t in threads {
        ops += t.join().map_err(|_| "a disk-ceiling thread panicked")??;
    }
    let small_ops = ops as f64 / started.elapsed().as_secs_f64();
    let piece = vec![0xa5u8; MIB as usize];
    let mut rates = Vec::new();
    for r in 0..opts.large_reps {
        let path = root.path().join(format!("large-{r}"));
        let t0 = Instant::now();
        let mut f = std::fs::File::create(&path)?;
        for _ in 0..opts.large_mib {
            f.write_all(&piece)?;
        }
        f.sync_all()?;
        rates.push(opts.large_mib as f64 / t0.elapsed().as_secs_f64());
        std::fs::remove_file(&path)?;
    }
    Ok(DiskCeiling {
        small_ops,
        large_mibps: median(&mut rates),
    })
}

fn print_table(opts: &Opts, figures: &[Figure], rss: &[(&'static str, RssResult)]) {
    let find = |server: &str, mode: Mode, what: &str| {
        figures
            .iter()
            .find(|f| f.server == server && f.mode == mode && f.what == what)
            .map(|f| f.value)
    };
    println!();
    println!("| mode | figure | s3crypt | moto | s3crypt / moto |\n|---|---|---:|---:|---:|");
    for &mode in &opts.modes {
        for (what, label, unit) in [
            (
                "small PUT",
                format!("{} B PUT, {} clients", opts.small_size, opts.clients),
                "ops/s",
            ),
            (
                "small GET",
                format!("{} B GET, {} clients", opts.small_size, opts.clients),
                "ops/s",
            ),
            (
                "large PUT",
                format!("{} MiB PUT, 1 client", opts.large_mib),
                "MiB/s",
            ),
            (
                "large GET",
                format!("{} MiB GET, 1 client", opts.large_mib),
                "MiB/s",
            ),
        ] {
            let s = find("s3crypt", mode, what);
            let m = find("moto", mode, what);
            let fmt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.0} {unit}"));
            let ratio = match (s, m) {
                (Some(s), Some(m)) if m > 0.0 => format!("{:.1}×", s / m),
                _ => "–".to_owned(),
            };
            println!(
                "| {} | {label} | {} | {} | {ratio} |",
                mode.name(),
                fmt(s),
                fmt(m)
            );
        }
    }
    if rss.is_empty() {
        return;
    }
    println!();
    println!(
        "| server ({}) | load | idle RSS | peak RSS, PUT phase | peak RSS, GET phase | VmHWM | PUT | GET |\n|---|---|---:|---:|---:|---:|---:|---:|",
        opts.rss_mode.name()
    );
    for (server, r) in rss {
        println!(
            "| {server} | {} clients × {} MiB PUT, then GET | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.0} MiB/s | {:.0} MiB/s |",
            r.clients,
            r.per_client_mib,
            mib(r.idle),
            mib(r.put_peak),
            mib(r.get_peak),
            mib(r.hwm),
            r.put_mibps,
            r.get_mibps,
        );
    }
}
