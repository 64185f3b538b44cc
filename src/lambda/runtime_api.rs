//! The Lambda Runtime API (version 2018-06-01), served to one function process on a loopback port:
//! the process long-polls `GET /2018-06-01/runtime/invocation/next` for an event and posts its result to
//! `…/invocation/{id}/response` or `…/invocation/{id}/error`, or a failed start to `…/init/error`.
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::sync::mpsc;

/// The largest event, response or error document (AWS's 6 MB synchronous payload quota).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The longest a process may take to send one request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections one process may hold open at once (its runtime client uses one or two).
const MAX_CONNECTIONS: usize = 16;
/// The header naming the error type of `…/error` and `…/init/error`.
pub(crate) const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

const PREFIX: &str = "/2018-06-01/runtime/";

/// One invocation handed to the process by `…/invocation/next`.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) request_id: String,
    pub(crate) payload: Bytes,
    pub(crate) timeout: Duration,
    pub(crate) function_arn: String,
    pub(crate) trace_id: String,
}

/// What the process told the host.
#[derive(Debug)]
pub(crate) enum Signal {
    /// `…/next` returned the event: the invocation (and its timeout) starts.
    Delivered,
    /// `…/{id}/response`.
    Response { request_id: String, payload: Bytes },
    /// `…/{id}/error`, or a response over the payload limit.
    Error {
        request_id: String,
        error_type: String,
        payload: Bytes,
    },
    /// `…/init/error`.
    InitError { error_type: String, payload: Bytes },
}

struct State {
    events: tokio::sync::Mutex<mpsc::Receiver<Event>>,
    /// The request id delivered and not yet answered.
    current: Mutex<Option<String>>,
    /// Set by the first `…/next`: init errors are refused after it.
    initialized: Mutex<bool>,
    signals: mpsc::Sender<Signal>,
}

/// The running server of one process; stopped (with every connection) on drop.
#[derive(Debug)]
pub(crate) struct RuntimeApi {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Binds `127.0.0.1:0` and serves. Returns the server, the sender of events and the receiver of
    /// the process's signals.
    pub(crate) async fn start()
    -> std::io::Result<(Self, mpsc::Sender<Event>, mpsc::Receiver<Signal>)> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (event_tx, event_rx) = mpsc::channel(1);
        let (signal_tx, signal_rx) = mpsc::channel(16);
        let state = Arc::new(State {
            events: tokio::sync::Mutex::new(event_rx),
            current: Mutex::new(None),
            initialized: Mutex::new(false),
            signals: signal_tx,
        });
        let task = tokio::spawn(accept_loop(listener, state));
        Ok((Self { addr, task }, event_tx, signal_rx))
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, state: Arc<State>) {
    use hyper_util::rt::TokioIo;

    // Dropping the set (when the task is aborted) aborts every connection.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            drop(stream);
            continue;
        }
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(Arc::clone(&state), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Answer = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: &serde_json::Value) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Answer {
    reply(
        status,
        &json!({"errorMessage": message, "errorType": error_type}),
    )
}

fn accepted() -> Answer {
    reply(StatusCode::ACCEPTED, &json!({"status": "OK"}))
}

async fn handle(
    state: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Answer, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(route) = path.strip_prefix(PREFIX) else {
        return Ok(error(StatusCode::NOT_FOUND, "InvalidPath", "Not Found"));
    };
    let parts: Vec<&str> = route.split('/').collect();
    let method = req.method().clone();
    let answer = match parts.as_slice() {
        ["invocation", "next"] => {
            if method == Method::GET {
                next(&state).await
            } else {
                not_allowed()
            }
        }
        ["invocation", id, kind @ ("response" | "error")] => {
            if method == Method::POST {
                let error_type = header(&req, ERROR_TYPE_HEADER);
                let (id, is_error) = ((*id).to_owned(), *kind == "error");
                result(&state, &id, is_error, error_type, req.into_body()).await
            } else {
                not_allowed()
            }
        }
        ["init", "error"] => {
            if method == Method::POST {
                let error_type = header(&req, ERROR_TYPE_HEADER);
                init_error(&state, error_type, req.into_body()).await
            } else {
                not_allowed()
            }
        }
        _ => error(StatusCode::NOT_FOUND, "InvalidPath", "Not Found"),
    };
    Ok(answer)
}

fn not_allowed() -> Answer {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "Method Not Allowed",
    )
}

fn header(req: &Request<hyper::body::Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 1024)
        .map(str::to_owned)
}

async fn next(state: &State) -> Answer {
    let event = {
        let mut events = state.events.lock().await;
        events.recv().await
    };
    let Some(event) = event else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.HostShutdown",
            "the host is shutting down",
        );
    };
    if let Ok(mut init) = state.initialized.lock() {
        *init = true;
    }
    if let Ok(mut current) = state.current.lock() {
        *current = Some(event.request_id.clone());
    }
    let _ = state.signals.try_send(Signal::Delivered);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(event.timeout)
        .as_millis();
    let mut r = Response::new(Full::new(event.payload));
    let h = r.headers_mut();
    let pairs = [
        ("content-type", "application/json".to_owned()),
        ("lambda-runtime-aws-request-id", event.request_id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", event.function_arn),
        ("lambda-runtime-trace-id", event.trace_id),
    ];
    for (name, value) in pairs {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    r
}

enum BodyError {
    TooLarge,
    Unreadable,
}

async fn read_body(body: hyper::body::Incoming) -> Result<Bytes, BodyError> {
    use hyper::body::Body as _;

    if body
        .size_hint()
        .exact()
        .is_some_and(|n| n > MAX_PAYLOAD_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let limited = http_body_util::Limited::new(body, MAX_PAYLOAD_BYTES);
    match tokio::time::timeout(BODY_READ_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge)
        }
        Ok(Err(_)) | Err(_) => Err(BodyError::Unreadable),
    }
}

/// `errorType` of an error document, else the header, else `Unhandled`.
fn error_type_of(body: &[u8], header: Option<String>) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned))
        .filter(|t| !t.is_empty() && t.len() <= 1024)
        .or(header)
        .unwrap_or_else(|| "Unhandled".to_owned())
}

async fn result(
    state: &State,
    id: &str,
    is_error: bool,
    header_type: Option<String>,
    body: hyper::body::Incoming,
) -> Answer {
    let is_current = state
        .current
        .lock()
        .map(|c| c.as_deref() == Some(id))
        .unwrap_or(false);
    if !is_current {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        );
    }
    let body = read_body(body).await;
    // The invocation is over whatever the body was: a second answer to it is refused.
    let still_current = state
        .current
        .lock()
        .map(|mut c| {
            let same = c.as_deref() == Some(id);
            if same {
                *c = None;
            }
            same
        })
        .unwrap_or(false);
    if !still_current {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        );
    }
    let request_id = id.to_owned();
    match body {
        Ok(payload) => {
            let signal = if is_error {
                Signal::Error {
                    request_id,
                    error_type: error_type_of(&payload, header_type),
                    payload,
                }
            } else {
                Signal::Response {
                    request_id,
                    payload,
                }
            };
            let _ = state.signals.try_send(signal);
            accepted()
        }
        Err(e) => {
            let (error_type, message) = match e {
                BodyError::TooLarge => (
                    "Function.ResponseSizeTooLarge",
                    format!(
                        "Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
                    ),
                ),
                BodyError::Unreadable => (
                    "Runtime.InvalidResponse",
                    "The runtime's response body could not be read.".to_owned(),
                ),
            };
            let doc = json!({"errorMessage": message, "errorType": error_type});
            let _ = state.signals.try_send(Signal::Error {
                request_id,
                error_type: error_type.to_owned(),
                payload: Bytes::from(doc.to_string()),
            });
            match e {
                BodyError::TooLarge => error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    &message,
                ),
                BodyError::Unreadable => error(StatusCode::BAD_REQUEST, "InvalidRequest", &message),
            }
        }
    }
}

async fn init_error(
    state: &State,
    header_type: Option<String>,
    body: hyper::body::Incoming,
) -> Answer {
    let initialized = state.initialized.lock().map(|i| *i).unwrap_or(true);
    if initialized {
        return error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition from Ready to InitError failed for runtime.",
        );
    }
    match read_body(body).await {
        Ok(payload) => {
            let _ = state.signals.try_send(Signal::InitError {
                error_type: error_type_of(&payload, header_type),
                payload,
            });
            accepted()
        }
        Err(BodyError::TooLarge) => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "the init error document is larger than 6 MB",
        ),
        Err(BodyError::Unreadable) => error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "the init error body could not be read",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_come_from_the_document_then_the_header() {
        assert_eq!(
            error_type_of(br#"{"errorType":"ValueError","errorMessage":"x"}"#, None),
            "ValueError"
        );
        assert_eq!(error_type_of(b"not json", Some("H".into())), "H");
        assert_eq!(error_type_of(b"{}", None), "Unhandled");
        assert_eq!(error_type_of(br#"{"errorType":7}"#, None), "Unhandled");
    }
}
