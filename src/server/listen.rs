//! The listeners: HTTPS (rustls) and plain HTTP, one connection slot per client, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::S3Service;
use super::auth::Connection;
use super::conn::{WriteDeadline, is_per_connection_error};

/// The sockets to serve on.
#[derive(Debug)]
pub struct Listeners {
    /// HTTPS: the listener and its TLS configuration.
    pub https: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
    /// Plain HTTP.
    pub http: Option<TcpListener>,
    /// The VPC endpoint listeners (HTTPS, with the configuration of `https`), in the order of
    /// [`super::ServerOptions::vpc_endpoints`].
    pub vpc: Vec<TcpListener>,
}

/// Serves `service` on `listeners` until `shutdown` completes; then stops accepting, lets in-flight
/// requests finish for up to [`super::ServerOptions::shutdown_grace`], and returns.
///
/// # Errors
/// None in practice: accept errors are waited out.
pub async fn serve(
    service: Arc<S3Service>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let options = service.options().clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(options.max_connections));
    let graceful = Arc::new(hyper_util::server::graceful::GracefulShutdown::new());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(options.max_header_bytes.max(8192))
        .max_headers(options.max_headers);
    let http = Arc::new(http);
    let acceptor = listeners
        .https
        .as_ref()
        .map(|(_, cfg)| tokio_rustls::TlsAcceptor::from(Arc::clone(cfg)));
    let mut shutdown = std::pin::pin!(shutdown);
    // The VPC endpoint listeners accept on their own tasks and hand connections over here.
    let (vpc_tx, mut vpc_rx) = tokio::sync::mpsc::channel(16);
    let vpc_tasks: Vec<_> = listeners
        .vpc
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let tx = vpc_tx.clone();
            tokio::spawn(async move {
                loop {
                    if let Some((s, p)) = accept(Some(&l)).await
                        && tx.send((s, p, i)).await.is_err()
                    {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(vpc_tx);
    loop {
        let (stream, peer, tls, vpce) = tokio::select! {
            a = accept(listeners.https.as_ref().map(|(l, _)| l)) => match a {
                Some((s, p)) => (s, p, true, None),
                None => continue,
            },
            a = accept(listeners.http.as_ref()) => match a {
                Some((s, p)) => (s, p, false, None),
                None => continue,
            },
            Some((s, p, i)) = vpc_rx.recv() => (s, p, true, Some(i)),
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = Arc::clone(&service);
        let http = Arc::clone(&http);
        let graceful = Arc::clone(&graceful);
        let acceptor = acceptor.clone();
        let write_timeout = options.write_timeout;
        let handshake_timeout = options.header_read_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let svc = move |conn: Connection| {
                hyper::service::service_fn(move |req| {
                    let service = Arc::clone(&service);
                    async move { Ok::<_, std::convert::Infallible>(service.handle(req, conn).await) }
                })
            };
            if tls {
                let Some(acceptor) = acceptor else { return };
                let Ok(Ok(stream)) =
                    tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                else {
                    return;
                };
                let session = stream.get_ref().1;
                let conn = Connection {
                    tls: true,
                    peer,
                    tls_version: session.protocol_version().map(tls_version_name),
                    cipher_suite: session
                        .negotiated_cipher_suite()
                        .map(|s| cipher_suite_name(s.suite())),
                    vpce,
                };
                let io = TokioIo::new(WriteDeadline::new(stream, write_timeout));
                let _ = graceful.watch(http.serve_connection(io, svc(conn))).await;
            } else {
                let conn = Connection {
                    tls: false,
                    peer,
                    tls_version: None,
                    cipher_suite: None,
                    vpce: None,
                };
                let io = TokioIo::new(WriteDeadline::new(stream, write_timeout));
                let _ = graceful.watch(http.serve_connection(io, svc(conn))).await;
            }
        });
    }
    for t in vpc_tasks {
        t.abort();
    }
    drop(listeners.https);
    drop(listeners.http);
    match Arc::try_unwrap(graceful) {
        Ok(g) => {
            let _ = tokio::time::timeout(options.shutdown_grace, g.shutdown()).await;
        }
        Err(_) => {
            // Connections still hold the watcher: give them the grace period anyway.
            tokio::time::sleep(Duration::from_millis(100).min(options.shutdown_grace)).await;
        }
    }
    Ok(())
}

/// Accepts one connection; `None` on a per-connection error (or never, for an absent listener).
async fn accept(listener: Option<&TcpListener>) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    let Some(l) = listener else {
        return std::future::pending().await;
    };
    match l.accept().await {
        Ok(a) => Some(a),
        Err(e) if is_per_connection_error(&e) => None,
        Err(_) => {
            // Out of file descriptors or memory: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}

/// Answers a connection over the cap with S3's 503 `SlowDown` and closes it (plain text only: a TLS
/// client sees the connection close and retries).
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let body = crate::s3::S3Error::from_code(crate::s3::S3ErrorCode::SlowDown).to_xml();
    let out = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(out.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A TLS version as S3's access logs write it (`TLSv1.2`, `TLSv1.3`).
fn tls_version_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "TLS",
    }
}

/// A cipher suite by its OpenSSL name, as S3's access logs write it (`ECDHE-RSA-AES128-GCM-SHA256`,
/// `TLS_AES_128_GCM_SHA256`). Only the suites rustls offers are named.
fn cipher_suite_name(s: rustls::CipherSuite) -> &'static str {
    use rustls::CipherSuite as C;
    match s {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "unknown",
    }
}
