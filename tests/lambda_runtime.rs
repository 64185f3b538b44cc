//! `s3crypt::lambda`: unmodified Python handlers under the official runtime interface client
//! (awslambdaric, from the venv that `scripts/venv.sh` makes; missing, the test fails), a custom runtime
//! that speaks the Runtime API itself (the `command` kind, which also probes the API's refusals),
//! webhooks, and the Node.js runtime (skipped with a printed reason where Node.js ≥ 22 is missing).

#[path = "support/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use s3crypt::lambda::{
    EnvVar, FunctionConfig, FunctionRegistry, HostOptions, LambdaError, LambdaHost, RegistryError,
    Runtime,
};
use serde_json::{Value, json};

const REGION: &str = "eu-west-3";
const ACCOUNT: &str = "111122223333";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";

fn handlers() -> PathBuf {
    common::root().join("tests/lambda")
}

/// The venv's python, checked to have awslambdaric (the interop tests' convention: no skipping).
fn python() -> PathBuf {
    let python = common::python();
    let out = std::process::Command::new(&python)
        .args(["-c", "import awslambdaric"])
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "the venv lacks awslambdaric (scripts/python/requirements.txt pins it; run scripts/venv.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    python
}

struct Fixture {
    _dir: tempfile::TempDir,
    host: LambdaHost,
    starts: Arc<AtomicUsize>,
}

fn fixture(tune: impl FnOnce(&mut HostOptions)) -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let registry = FunctionRegistry::open(dir.path()).expect("registry");
    let starts = Arc::new(AtomicUsize::new(0));
    let mut options = HostOptions::new(REGION, ACCOUNT);
    options.python = python();
    options.idle_timeout = Duration::from_secs(60);
    let counter = Arc::clone(&starts);
    options.env_provider = Some(Arc::new(move |f: &FunctionConfig| {
        counter.fetch_add(1, Ordering::SeqCst);
        vec![
            EnvVar::public("STAGE", format!("test-{}", f.name)),
            EnvVar::secret("S3CRYPT_TEST_SECRET", SECRET),
        ]
    }));
    tune(&mut options);
    Fixture {
        _dir: dir,
        host: LambdaHost::new(registry, options),
        starts,
    }
}

fn python_fn(host: &LambdaHost, name: &str, handler: &str, timeout: u32) {
    let mut f = FunctionConfig::new(name, Runtime::Python, handler, handlers());
    f.timeout_secs = timeout;
    host.registry().create(&f).expect("create");
}

fn json_of(payload: &[u8]) -> Value {
    serde_json::from_slice(payload)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(payload)))
}

/// Whether `pid` runs (a zombie, killed but not yet reaped, does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

/// Waits (bounded) for a process to be gone.
async fn gone(pid: u32) -> bool {
    for _ in 0..100 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn python_echo_runs_warm_with_the_runtime_environment() {
    let fx = fixture(|_| {});
    python_fn(&fx.host, "echo", "handlers.echo", 30);
    // The host's own environment (cargo sets CARGO_PKG_NAME for tests) is not passed on.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
    let first = fx
        .host
        .invoke("echo", br#"{"hello": "world", "n": [1, 2]}"#.to_vec())
        .await
        .expect("invoke");
    assert_eq!(first.function_error, None, "{}", first.logs);
    let a = json_of(&first.payload);
    assert_eq!(a["event"], json!({"hello": "world", "n": [1, 2]}));
    assert_eq!(a["requestId"], first.request_id.as_str());
    assert_eq!(
        a["functionArn"],
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:echo")
    );
    assert_eq!(a["functionName"], "echo");
    let remaining = a["remainingMs"].as_i64().expect("remainingMs");
    assert!(
        (1..=30_000).contains(&remaining),
        "deadline header: {remaining}"
    );
    let env = &a["env"];
    assert_eq!(env["STAGE"], "test-echo", "the env_provider's variable");
    assert_eq!(env["AWS_REGION"], REGION);
    assert_eq!(env["AWS_DEFAULT_REGION"], REGION);
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_TIMEOUT"], "30");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/echo");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["CARGO_PKG_NAME"], Value::Null, "a cleared environment");
    assert_eq!(
        Path::new(env["LAMBDA_TASK_ROOT"].as_str().expect("task root")),
        handlers()
    );
    assert_eq!(
        a["secretLength"],
        SECRET.len(),
        "the secret reaches the process"
    );
    assert!(first.logs.contains("hello from echo"), "{}", first.logs);
    assert!(
        first.logs.contains("the secret is [REDACTED]"),
        "{}",
        first.logs
    );
    assert!(
        !first.logs.contains(SECRET),
        "the secret leaked into the logs"
    );

    // Warm: the same process answers the second invocation, by ARN with a qualifier.
    let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:echo:$LATEST");
    let second = fx.host.invoke(&arn, b"{}".to_vec()).await.expect("warm");
    let b = json_of(&second.payload);
    assert_eq!(a["pid"], b["pid"], "the warm process is reused");
    assert_ne!(first.request_id, second.request_id);
    assert!(!second.logs.contains("world"), "logs are per invocation");
    assert_eq!(fx.starts.load(Ordering::SeqCst), 1, "one process start");
    let pid = u32::try_from(b["pid"].as_u64().expect("pid")).expect("pid");
    assert_eq!(fx.host.idle_pids("echo"), vec![pid]);
    assert!(alive(pid), "the warm process runs between invocations");

    // A changed configuration starts a new process.
    let mut f = fx.host.registry().get("echo").expect("get");
    f.timeout_secs = 20;
    fx.host.registry().update(&f).expect("update");
    let third = fx
        .host
        .invoke("echo", Vec::new())
        .await
        .expect("after update");
    let c = json_of(&third.payload);
    assert_eq!(c["event"], json!({}), "an empty event is {{}}");
    assert_eq!(c["env"]["AWS_LAMBDA_FUNCTION_TIMEOUT"], "20");
    assert_ne!(c["pid"], b["pid"]);
    assert!(gone(pid).await, "the stale process is killed");

    fx.host.shutdown().await;
    let last = u32::try_from(c["pid"].as_u64().expect("pid")).expect("pid");
    assert!(gone(last).await, "shutdown kills idle processes");
    assert!(matches!(
        fx.host.invoke("echo", Vec::new()).await,
        Err(LambdaError::ShutDown)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn handler_exceptions_are_function_errors_and_keep_the_process() {
    let fx = fixture(|_| {});
    python_fn(&fx.host, "raises", "handlers.raises", 30);
    let inv = fx
        .host
        .invoke("raises", br#"{"why": "testing"}"#.to_vec())
        .await
        .expect("a handler error is an Ok invocation");
    assert_eq!(inv.function_error.as_deref(), Some("ValueError"));
    let doc = json_of(&inv.payload);
    assert_eq!(doc["errorType"], "ValueError");
    assert_eq!(doc["errorMessage"], "bad input: testing");
    assert!(inv.logs.contains("about to fail"), "{}", inv.logs);
    let again = fx
        .host
        .invoke("raises", b"{}".to_vec())
        .await
        .expect("again");
    assert_eq!(again.function_error.as_deref(), Some("ValueError"));
    assert_eq!(fx.starts.load(Ordering::SeqCst), 1, "the process survived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn a_timeout_kills_the_process_and_the_next_invocation_starts_a_new_one() {
    let fx = fixture(|_| {});
    python_fn(&fx.host, "sleeps", "handlers.sleeps", 1);
    // Warm it with a short sleep, to learn its pid.
    let warm = fx
        .host
        .invoke("sleeps", br#"{"seconds": 0}"#.to_vec())
        .await
        .expect("short sleep");
    let pid = u32::try_from(json_of(&warm.payload)["pid"].as_u64().expect("pid")).expect("pid");
    let started = Instant::now();
    let err = fx
        .host
        .invoke("sleeps", br#"{"seconds": 30}"#.to_vec())
        .await
        .expect_err("times out");
    let took = started.elapsed();
    assert!(matches!(err, LambdaError::Timeout { .. }), "{err:?}");
    assert_eq!(err.as_function_error(), "Sandbox.Timedout");
    assert_eq!(err.to_string(), "Task timed out after 1 seconds");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert!(gone(pid).await, "the timed-out process is killed");
    let after = fx
        .host
        .invoke("sleeps", br#"{"seconds": 0}"#.to_vec())
        .await
        .expect("a new process");
    assert_ne!(json_of(&after.payload)["pid"], pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn a_process_that_exits_mid_invocation_is_a_crash() {
    let fx = fixture(|_| {});
    python_fn(&fx.host, "crash", "handlers.crash", 30);
    let err = fx
        .host
        .invoke("crash", b"{}".to_vec())
        .await
        .expect_err("crash");
    let LambdaError::Crash { status, logs, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(status.contains('3'), "{status}");
    assert!(logs.contains("crashing now"), "{logs}");
    assert_eq!(err.as_function_error(), "Runtime.ExitError");
    assert!(fx.host.idle_pids("crash").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn an_import_error_is_an_init_error() {
    let fx = fixture(|_| {});
    python_fn(&fx.host, "broken", "broken.handler", 30);
    let err = fx
        .host
        .invoke("broken", b"{}".to_vec())
        .await
        .expect_err("init error");
    let LambdaError::Init {
        error_type,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(error_type, "Runtime.ImportModuleError");
    assert!(
        message.contains("s3crypt_this_module_does_not_exist"),
        "{message}"
    );
    assert_eq!(err.as_function_error(), "Runtime.ImportModuleError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn concurrent_invocations_run_in_separate_processes() {
    let fx = fixture(|o| o.max_concurrency = 2);
    python_fn(&fx.host, "sleeps", "handlers.sleeps", 30);
    let event = br#"{"seconds": 1}"#.to_vec();
    let (a, b) = tokio::join!(
        fx.host.invoke("sleeps", event.clone()),
        fx.host.invoke("sleeps", event)
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_ne!(
        json_of(&a.payload)["pid"],
        json_of(&b.payload)["pid"],
        "two processes"
    );
    assert_eq!(fx.starts.load(Ordering::SeqCst), 2);
    let mut idle = fx.host.idle_pids("sleeps");
    idle.sort_unstable();
    idle.dedup();
    assert_eq!(idle.len(), 2, "both stay warm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn idle_processes_are_stopped() {
    let fx = fixture(|o| o.idle_timeout = Duration::from_millis(300));
    python_fn(&fx.host, "echo", "handlers.echo", 30);
    let inv = fx
        .host
        .invoke("echo", b"{}".to_vec())
        .await
        .expect("invoke");
    let pid = u32::try_from(json_of(&inv.payload)["pid"].as_u64().expect("pid")).expect("pid");
    assert!(gone(pid).await, "the idle process was not stopped");
    assert!(fx.host.idle_pids("echo").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn refusals_before_any_process_starts() {
    let fx = fixture(|_| {});
    python_fn(&fx.host, "echo", "handlers.echo", 30);
    let h = &fx.host;
    assert!(matches!(
        h.invoke("nope", b"{}".to_vec()).await,
        Err(LambdaError::Registry(RegistryError::FunctionNotFound(_)))
    ));
    let other_account = "arn:aws:lambda:eu-west-3:999999999999:function:echo";
    let err = h
        .invoke(other_account, b"{}".to_vec())
        .await
        .expect_err("foreign ARN");
    assert_eq!(err.as_function_error(), "ResourceNotFoundException");
    assert!(matches!(
        h.invoke("bad name!", b"{}".to_vec()).await,
        Err(LambdaError::Registry(RegistryError::InvalidName(_)))
    ));
    assert!(matches!(
        h.invoke("echo", b"{not json".to_vec()).await,
        Err(LambdaError::InvalidRequestContent)
    ));
    let big = format!("\"{}\"", "x".repeat(6 * 1024 * 1024));
    assert!(matches!(
        h.invoke("echo", big.into_bytes()).await,
        Err(LambdaError::RequestTooLarge { .. })
    ));
    assert_eq!(fx.starts.load(Ordering::SeqCst), 0);
}

/// A `bootstrap` executable in a fresh code directory that runs `tests/lambda/raw_runtime.py`.
fn raw_runtime_dir(python: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let script = format!(
        "#!/bin/sh\nexec '{}' '{}'\n",
        python.display(),
        handlers().join("raw_runtime.py").display()
    );
    let path = dir.path().join("bootstrap");
    std::fs::write(&path, script).expect("write bootstrap");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn a_command_runtime_speaks_the_runtime_api_and_bad_requests_are_refused() {
    let fx = fixture(|_| {});
    let code = raw_runtime_dir(&python());
    let f = FunctionConfig::new("raw", Runtime::Command, "bootstrap", code.path());
    fx.host.registry().create(&f).expect("create");
    let first = fx
        .host
        .invoke("raw", br#"{"a": 1}"#.to_vec())
        .await
        .expect("invoke");
    let a = json_of(&first.payload);
    assert_eq!(a["kind"], "command");
    assert_eq!(a["event"], json!({"a": 1}));
    assert_eq!(a["requestId"], first.request_id.as_str());
    assert_eq!(
        a["functionArn"],
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:raw")
    );
    assert!(
        a["traceId"]
            .as_str()
            .is_some_and(|t| t.starts_with("Root=1-")),
        "{a}"
    );
    let deadline: u128 = a["deadlineMs"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("deadline");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    assert!(
        deadline > now && deadline <= now + 3_000,
        "{deadline} vs {now}"
    );
    assert_eq!(a["probes"]["unknown_id"], 400);
    assert_eq!(a["probes"]["unknown_path"], 404);
    assert_eq!(a["probes"]["wrong_method"], 405);

    let second = fx.host.invoke("raw", b"{}".to_vec()).await.expect("warm");
    let b = json_of(&second.payload);
    assert_eq!(a["pid"], b["pid"]);
    assert_eq!(b["probes"]["second_answer"], 400, "{b}");
    assert_eq!(b["probes"]["late_init_error"], 403, "{b}");

    let reported = fx
        .host
        .invoke("raw", br#"{"report_error": true}"#.to_vec())
        .await
        .expect("reported error");
    assert_eq!(reported.function_error.as_deref(), Some("Custom.Failure"));

    let too_large = fx
        .host
        .invoke("raw", br#"{"too_large": true}"#.to_vec())
        .await
        .expect("oversized response");
    assert_eq!(
        too_large.function_error.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    // The process is still serving.
    let after = fx.host.invoke("raw", b"{}".to_vec()).await.expect("after");
    assert_eq!(json_of(&after.payload)["pid"], a["pid"]);
}

/// A one-thread HTTP server on loopback answering `responses` in order, one per connection, and
/// recording each request.
fn webhook_server(
    responses: Vec<(u16, &'static str)>,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let thread = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, body) in responses {
            let (stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).expect("read") == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().expect("length");
                }
                head.push_str(&line);
            }
            let mut body_in = vec![0; length];
            reader.read_exact(&mut body_in).expect("body");
            seen.push(format!("{head}\n{}", String::from_utf8_lossy(&body_in)));
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .expect("write");
        }
        seen
    });
    (url, thread)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn webhooks_get_the_event_and_non_2xx_is_a_function_error() {
    let fx = fixture(|_| {});
    let (url, server) = webhook_server(vec![
        (200, r#"{"transformed": true}"#),
        (500, r#"{"errorType": "HookFailed", "errorMessage": "no"}"#),
    ]);
    let mut f = FunctionConfig::new("hook", Runtime::Webhook, "", "");
    f.url = Some(url);
    fx.host.registry().create(&f).expect("create");
    let ok = fx
        .host
        .invoke("hook", br#"{"x": 1}"#.to_vec())
        .await
        .expect("200");
    assert_eq!(ok.function_error, None);
    assert_eq!(json_of(&ok.payload), json!({"transformed": true}));
    let failed = fx
        .host
        .invoke("hook", b"{}".to_vec())
        .await
        .expect("500 is a result");
    assert_eq!(failed.function_error.as_deref(), Some("HookFailed"));
    let requests = server.join().expect("server");
    assert!(
        requests[0].starts_with("POST /hook HTTP/1.1"),
        "{}",
        requests[0]
    );
    let lower = requests[0].to_ascii_lowercase();
    assert!(lower.contains(&format!("lambda-runtime-aws-request-id: {}", ok.request_id)));
    assert!(requests[0].ends_with(r#"{"x": 1}"#), "{}", requests[0]);

    // Nothing listens there any more: a typed error, not a hang.
    let err = fx
        .host
        .invoke("hook", b"{}".to_vec())
        .await
        .expect_err("closed");
    assert!(matches!(err, LambdaError::Webhook { .. }), "{err:?}");

    let mut remote = FunctionConfig::new("remote", Runtime::Webhook, "", "");
    remote.url = Some("http://198.51.100.7/hook".into());
    assert!(matches!(
        fx.host.registry().create(&remote),
        Err(RegistryError::InvalidParameter { field: "url", .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    target_arch = "aarch64",
    ignore = "interop tests spawn host processes (Python, servers); they run on the x86_64 legs"
)]
async fn the_node_runtime_runs_an_unmodified_handler_under_aws_lambda_ric() {
    // Node.js 22 and aws-lambda-ric from the npm registry, installed by the project's script.
    let status = std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/node.sh"))
        .status()
        .expect("run scripts/node.sh");
    assert!(
        status.success(),
        "scripts/node.sh failed: the Node.js runtime needs Node.js 22 and aws-lambda-ric from npm"
    );
    let ric = Path::new(env!("CARGO_MANIFEST_DIR")).join(".node/aws-lambda-ric");
    let fx = fixture(|o| o.node_ric = Some(ric));
    let f = FunctionConfig::new(
        "node-echo",
        Runtime::Node,
        "echo.handler",
        handlers().join("node"),
    );
    fx.host.registry().create(&f).expect("create");
    let inv = fx
        .host
        .invoke("node-echo", br#"{"n": 1}"#.to_vec())
        .await
        .expect("the Node.js runtime runs");
    assert!(inv.function_error.is_none(), "{inv:?}");
    let v = json_of(&inv.payload);
    assert_eq!(v["node"], true);
    assert_eq!(v["event"], json!({"n": 1}));
    assert_eq!(v["requestId"], inv.request_id.as_str());
    // Warm: a second event goes to the same process.
    let again = fx
        .host
        .invoke("node-echo", br#"{"n": 2}"#.to_vec())
        .await
        .expect("again");
    assert_eq!(json_of(&again.payload)["event"], json!({"n": 2}));
    assert_eq!(fx.starts.load(Ordering::SeqCst), 1, "one process for both");
    fx.host.shutdown().await;
}
