//! Bodies between hyper (async) and the SSE engine (blocking `Read`/`Write` on a worker thread), with
//! back-pressure both ways: a bounded channel of a few pieces, so a 5 GiB PUT or GET holds at most
//! a few hundred KiB of the object in the server at any time.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming};
use tokio::sync::mpsc;

/// Request pieces (hyper's frames, at most the connection's read buffer each) in flight.
pub(crate) const DEPTH: usize = 16;
/// Response pieces of [`PIECE`] bytes in flight.
const RESPONSE_DEPTH: usize = 4;
/// Size of a response piece.
const PIECE: usize = 256 * 1024;

/// Why reading a request body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFault {
    /// No byte arrived for the idle timeout.
    Timeout,
    /// The connection failed or the body was shorter than its `Content-Length`.
    Incomplete,
}

impl std::fmt::Display for BodyFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("the request body stopped arriving"),
            Self::Incomplete => f.write_str("the request body ended early"),
        }
    }
}

impl std::error::Error for BodyFault {}

/// The blocking end of a request body: a `Read` fed by a task that pulls hyper's frames.
#[derive(Debug)]
pub(crate) struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, BodyFault>>,
    piece: Bytes,
    done: bool,
    /// An error met after some bytes were already returned.
    pending: Option<io::Error>,
}

impl BodyReader {
    /// Starts pulling `body` on the current runtime; each frame must arrive within `idle`.
    pub(crate) fn spawn(body: Incoming, idle: Duration) -> Self {
        let (tx, rx) = mpsc::channel(DEPTH);
        tokio::spawn(pump(body, tx, idle));
        Self::from_channel(rx)
    }

    /// A reader of pieces another task sends (the `file` part of a POST Object form).
    pub(crate) fn from_channel(rx: mpsc::Receiver<Result<Bytes, BodyFault>>) -> Self {
        Self {
            rx,
            piece: Bytes::new(),
            done: false,
            pending: None,
        }
    }
}

async fn pump(mut body: Incoming, tx: mpsc::Sender<Result<Bytes, BodyFault>>, idle: Duration) {
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => Err(BodyFault::Timeout),
            Ok(None) => return,
            Ok(Some(Err(_))) => Err(BodyFault::Incomplete),
            Ok(Some(Ok(f))) => match f.into_data() {
                Ok(d) if d.is_empty() => continue,
                Ok(d) => Ok(d),
                // Trailers of HTTP chunked encoding: nothing for S3 (aws-chunked trailers are data).
                Err(_) => continue,
            },
        };
        let failed = frame.is_err();
        if tx.send(frame).await.is_err() || failed {
            return;
        }
    }
}

impl BodyReader {
    /// Takes the next piece: waiting for it when `wait`, else only one already queued. `false` when
    /// there is none (end of body, or nothing queued yet).
    fn next_piece(&mut self, wait: bool) -> io::Result<bool> {
        let next = if wait {
            self.rx.blocking_recv()
        } else {
            match self.rx.try_recv() {
                Ok(p) => Some(p),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(false),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            }
        };
        match next {
            Some(Ok(b)) => {
                self.piece = b;
                Ok(true)
            }
            Some(Err(fault)) => {
                let kind = match fault {
                    BodyFault::Timeout => io::ErrorKind::TimedOut,
                    BodyFault::Incomplete => io::ErrorKind::UnexpectedEof,
                };
                Err(io::Error::new(kind, fault))
            }
            None => {
                self.done = true;
                Ok(false)
            }
        }
    }
}

impl Read for BodyReader {
    /// Waits for the first piece, then also copies the pieces already queued, so a large `buf` is
    /// filled in one call however small hyper's frames are.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let mut n = 0;
        while n < buf.len() {
            if self.piece.is_empty() {
                if self.done {
                    break;
                }
                match self.next_piece(n == 0) {
                    Ok(true) => {}
                    Ok(false) => break,
                    // Bytes already copied are returned first; the error comes on the next call.
                    Err(e) if n == 0 => return Err(e),
                    Err(e) => {
                        self.pending = Some(e);
                        break;
                    }
                }
                continue;
            }
            let take = (buf.len() - n).min(self.piece.len());
            buf[n..n + take].copy_from_slice(&self.piece[..take]);
            let _ = self.piece.split_to(take);
            n += take;
        }
        Ok(n)
    }
}

/// A request body read whole (XML and policy documents), up to `limit` bytes within `idle` per
/// frame.
///
/// # Errors
/// [`BodyFault`], or `Ok(None)` when the body is larger than `limit`.
pub(crate) async fn collect(
    mut body: Incoming,
    limit: usize,
    idle: Duration,
) -> Result<Option<Vec<u8>>, BodyFault> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(BodyFault::Timeout),
            Ok(None) => return Ok(Some(out)),
            Ok(Some(Err(_))) => return Err(BodyFault::Incomplete),
            Ok(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    if out.len() + d.len() > limit {
                        return Ok(None);
                    }
                    out.extend_from_slice(&d);
                }
            }
        }
    }
}

/// The response body type of the endpoint: a whole buffer or a stream from a worker thread.
pub(crate) type ResponseBody = http_body_util::combinators::BoxBody<Bytes, io::Error>;

/// A complete response body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty response body.
pub(crate) fn empty() -> ResponseBody {
    full(Bytes::new())
}

/// The async end of a streamed response body.
#[derive(Debug)]
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|piece| piece.map(|r| r.map(Frame::data)))
    }
}

impl ChannelBody {
    /// A streamed body of the pieces async code sends on `rx`.
    pub(crate) fn from_receiver(rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        Self { rx }
    }
}

/// The blocking end of a streamed response: buffers [`PIECE`] bytes, then hands them to hyper.
/// [`ResponseWriter::fail`] aborts the response (hyper then closes the connection, so the client
/// sees a short body, never bytes that failed authentication).
#[derive(Debug)]
pub(crate) struct ResponseWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

/// A channel for a streamed response: the writer for the worker thread and the body for hyper.
pub(crate) fn channel() -> (ResponseWriter, ChannelBody) {
    let (tx, rx) = mpsc::channel(RESPONSE_DEPTH);
    (
        ResponseWriter {
            tx,
            buf: Vec::with_capacity(PIECE),
        },
        ChannelBody { rx },
    )
}

impl ResponseWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }

    /// Sends what is buffered and ends the body.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.send()
    }

    /// Ends the body with an error: the connection is dropped.
    pub(crate) fn fail(self, why: &str) {
        let _ = self.tx.blocking_send(Err(io::Error::other(why.to_owned())));
    }
}

impl Write for ResponseWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = PIECE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PIECE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}
