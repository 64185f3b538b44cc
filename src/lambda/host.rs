//! [`LambdaHost`]: runs the functions of a [`FunctionRegistry`] in warm processes that speak the Lambda
//! Runtime API ([`super::runtime_api`]), or POSTs to webhooks.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, BufReader};
use tokio::sync::{Semaphore, mpsc};

use super::environment::{EnvProvider, EnvVar, INHERITED, Redactor};
use super::function::{FunctionConfig, FunctionRef, FunctionRegistry, RegistryError, Runtime};
use super::runtime_api::{Event, MAX_PAYLOAD_BYTES, RuntimeApi, Signal};

/// The most log text kept per invocation (the tail).
pub const MAX_LOG_BYTES: usize = 64 * 1024;
/// AWS's limit on a function's init phase.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a killed process is waited for.
const KILL_WAIT: Duration = Duration::from_secs(2);
/// The longest line of process output kept whole (longer lines are split).
const MAX_LINE: u64 = 16 * 1024;
/// Variables a provider or an extra may not override.
const PROTECTED: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
    "AWS_LAMBDA_FUNCTION_NAME",
];

/// How a [`LambdaHost`] runs functions.
#[derive(Clone)]
#[non_exhaustive]
pub struct HostOptions {
    /// The region in ARNs and `AWS_REGION`.
    pub region: String,
    /// The account in ARNs.
    pub account: String,
    /// The Python interpreter that has `awslambdaric` ([`default_python`]).
    pub python: PathBuf,
    /// The Node.js runtime interface client (`aws-lambda-ric`), run as `NODE_RIC HANDLER`; without it
    /// the host runs `npx --no-install aws-lambda-ric` if `node` is version 22 or later.
    pub node_ric: Option<PathBuf>,
    /// Directories put before the inherited `PATH`.
    pub path_extra: Vec<PathBuf>,
    /// Variables given to every function process.
    pub env_extra: Vec<EnvVar>,
    /// The most processes (and concurrent invocations) per function.
    pub max_concurrency: usize,
    /// A warm process unused this long is killed.
    pub idle_timeout: Duration,
    /// The longest a process may take to start and ask for its first event.
    pub init_timeout: Duration,
    /// Per-function variables, asked for at each process start.
    pub env_provider: Option<EnvProvider>,
}

impl HostOptions {
    /// Defaults: [`default_python`], [`default_node_ric`], 4 processes per function, 5 minutes idle,
    /// 10 s init.
    #[must_use]
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            account: account.into(),
            python: default_python(),
            node_ric: default_node_ric(),
            path_extra: Vec::new(),
            env_extra: Vec::new(),
            max_concurrency: 4,
            idle_timeout: Duration::from_secs(300),
            init_timeout: DEFAULT_INIT_TIMEOUT,
            env_provider: None,
        }
    }
}

impl std::fmt::Debug for HostOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostOptions")
            .field("region", &self.region)
            .field("account", &self.account)
            .field("python", &self.python)
            .field("node_ric", &self.node_ric)
            .field("path_extra", &self.path_extra)
            .field("env_extra", &self.env_extra)
            .field("max_concurrency", &self.max_concurrency)
            .field("idle_timeout", &self.idle_timeout)
            .field("init_timeout", &self.init_timeout)
            .field("env_provider", &self.env_provider.as_ref().map(|_| ".."))
            .finish()
    }
}

/// The interpreter of Python functions: `$S3CRYPT_PYTHON`, else `.venv/bin/python` of the working
/// directory if it exists (the venv `scripts/venv.sh` makes), else `python3` from `PATH`.
#[must_use]
pub fn default_python() -> PathBuf {
    if let Some(p) = std::env::var_os("S3CRYPT_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(".venv/bin/python");
    if venv.exists() {
        return std::path::absolute(&venv).unwrap_or(venv);
    }
    PathBuf::from("python3")
}

/// The Node.js runtime interface client: `$S3CRYPT_NODE_RIC`, else `./.node/aws-lambda-ric` (what
/// `scripts/node.sh` installs: `aws-lambda-ric` under Node.js 22) if it exists, else none (the host
/// then tries `npx aws-lambda-ric` with the `node` on `PATH`).
#[must_use]
pub fn default_node_ric() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("S3CRYPT_NODE_RIC").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(".node/aws-lambda-ric");
    local
        .exists()
        .then(|| std::path::absolute(&local).unwrap_or(local))
}

/// The result of a completed invocation (the function ran; it may have raised).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invocation {
    /// The request id (`Lambda-Runtime-Aws-Request-Id`), a UUID.
    pub request_id: String,
    /// The response, or the error document if `function_error` is set.
    pub payload: Vec<u8>,
    /// The `errorType` of a handler that raised (its error document is the payload).
    pub function_error: Option<String>,
    /// The process's stdout and stderr during the invocation (the last [`MAX_LOG_BYTES`]), secret
    /// values replaced by `[REDACTED]`.
    pub logs: String,
}

/// An invocation that did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LambdaError {
    /// The function does not exist or cannot be named so.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The event is larger than 6 MB (AWS: `RequestEntityTooLargeException`).
    #[error("the request payload is {size} bytes; the limit is {MAX_PAYLOAD_BYTES}")]
    RequestTooLarge {
        /// The event's size.
        size: usize,
    },
    /// The event is not JSON (AWS: `InvalidRequestContentException`).
    #[error("Could not parse request body into json")]
    InvalidRequestContent,
    /// Every process slot of the function stayed busy (AWS: `TooManyRequestsException`).
    #[error("Rate Exceeded: {function} is at its concurrency limit")]
    Throttled {
        /// The function.
        function: String,
    },
    /// The function's runtime cannot run on this machine (no interpreter, Node.js too old).
    #[error("the {runtime} runtime is unavailable: {reason}")]
    RuntimeUnavailable {
        /// The runtime.
        runtime: Runtime,
        /// Why.
        reason: String,
    },
    /// The process could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The function failed to start: it reported an init error, or exited or hung before asking for
    /// its first event.
    #[error("init error {error_type}: {message}")]
    Init {
        /// `Runtime.ImportModuleError`, `Runtime.ExitError`, `Sandbox.Timedout`, …
        error_type: String,
        /// The error message (the last lines of output if the process just exited).
        message: String,
    },
    /// The invocation ran longer than the function's timeout; its process was killed.
    #[error("Task timed out after {} seconds", timeout.as_secs())]
    Timeout {
        /// The request id.
        request_id: String,
        /// The function's timeout.
        timeout: Duration,
        /// The output of the invocation.
        logs: String,
    },
    /// The process exited during the invocation.
    #[error("Runtime exited with error: {status}")]
    Crash {
        /// The request id.
        request_id: String,
        /// The exit status (`exit status: 3`, `signal: 9 (SIGKILL)`).
        status: String,
        /// The output of the invocation.
        logs: String,
    },
    /// A webhook could not be reached or did not answer in time.
    #[error("webhook {url}: {reason}")]
    Webhook {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// [`LambdaHost::shutdown`] was called.
    #[error("the lambda host is shut down")]
    ShutDown,
    /// The host's own I/O (binding the Runtime API port, randomness).
    #[error("lambda host I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl LambdaError {
    /// The name AWS gives this failure: the `errorType` of the error document (`Sandbox.Timedout`,
    /// `Runtime.ExitError`, the init error's type) or the Invoke API's exception name.
    #[must_use]
    pub fn as_function_error(&self) -> &str {
        match self {
            Self::Registry(RegistryError::FunctionNotFound(_)) => "ResourceNotFoundException",
            Self::Registry(_) => "InvalidParameterValueException",
            Self::RequestTooLarge { .. } => "RequestEntityTooLargeException",
            Self::InvalidRequestContent => "InvalidRequestContentException",
            Self::Throttled { .. } => "TooManyRequestsException",
            Self::RuntimeUnavailable { .. } | Self::Spawn { .. } => "Runtime.InvalidEntrypoint",
            Self::Init { error_type, .. } => error_type,
            Self::Timeout { .. } => "Sandbox.Timedout",
            Self::Crash { .. } => "Runtime.ExitError",
            Self::Webhook { .. } => "Runtime.Unknown",
            Self::ShutDown | Self::Io(_) => "ServiceException",
        }
    }

    /// The error document AWS returns as the payload of a failed invocation
    /// (`{"errorType": …, "errorMessage": …}`).
    #[must_use]
    pub fn error_document(&self) -> Vec<u8> {
        let message = match self {
            Self::Timeout { request_id, .. } | Self::Crash { request_id, .. } => {
                format!("RequestId: {request_id} Error: {self}")
            }
            Self::Init { message, .. } => message.clone(),
            other => other.to_string(),
        };
        serde_json::json!({"errorType": self.as_function_error(), "errorMessage": message})
            .to_string()
            .into_bytes()
    }
}

/// Runs functions: warm process pools per function, the Runtime API per process, webhooks.
/// Processes are killed by [`shutdown`](Self::shutdown), when idle too long, and when the host is
/// dropped.
#[derive(Clone, Debug)]
pub struct LambdaHost {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: FunctionRegistry,
    options: HostOptions,
    pools: Mutex<HashMap<String, Pool>>,
    closed: AtomicBool,
    reaper: AtomicBool,
}

#[derive(Debug)]
struct Pool {
    idle: Vec<Worker>,
    slots: Arc<Semaphore>,
}

impl LambdaHost {
    /// A host for the functions of `registry`.
    #[must_use]
    pub fn new(registry: FunctionRegistry, options: HostOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                options,
                pools: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
                reaper: AtomicBool::new(false),
            }),
        }
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &FunctionRegistry {
        &self.inner.registry
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &HostOptions {
        &self.inner.options
    }

    /// Invokes `function` (a name, `NAME:$LATEST`, or an ARN of this host's region and account)
    /// synchronously with `event` (JSON; empty means `{}`), in a warm process if one is idle.
    ///
    /// Every wait is bounded: by the host's init timeout until the process asks for the event, then by
    /// the function's timeout.
    ///
    /// # Errors
    /// [`LambdaError`]: the function cannot be found or started, timed out, or its process exited. A
    /// handler that raised is not an error: see [`Invocation::function_error`].
    pub async fn invoke(&self, function: &str, event: Vec<u8>) -> Result<Invocation, LambdaError> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(LambdaError::ShutDown);
        }
        if event.len() > MAX_PAYLOAD_BYTES {
            return Err(LambdaError::RequestTooLarge { size: event.len() });
        }
        let event = if event.iter().all(u8::is_ascii_whitespace) {
            b"{}".to_vec()
        } else {
            event
        };
        if serde_json::from_slice::<serde::de::IgnoredAny>(&event).is_err() {
            return Err(LambdaError::InvalidRequestContent);
        }
        let r = FunctionRef::parse(function)?;
        let foreign = r
            .region
            .as_ref()
            .is_some_and(|x| *x != inner.options.region)
            || r.account
                .as_ref()
                .is_some_and(|x| *x != inner.options.account);
        if foreign {
            return Err(RegistryError::FunctionNotFound(function.to_owned()).into());
        }
        let config = inner.registry.get(&r.name)?;
        let request_id = new_request_id()?;
        let arn = config.arn(&inner.options.region, &inner.options.account);
        if config.runtime == Runtime::Webhook {
            return super::webhook::invoke(&config, &arn, request_id, event).await;
        }
        self.start_reaper();
        let slots = inner.slots(&config.name);
        let wait = config.timeout().saturating_add(inner.options.init_timeout);
        let _permit = match tokio::time::timeout(wait, slots.acquire_owned()).await {
            Ok(Ok(p)) => p,
            _ => {
                return Err(LambdaError::Throttled {
                    function: config.name.clone(),
                });
            }
        };
        let worker = match inner.take_idle(&config) {
            Some(w) => w,
            None => inner.spawn(&config).await?,
        };
        let mut worker = worker;
        let event = Event {
            request_id: request_id.clone(),
            payload: Bytes::from(event),
            timeout: config.timeout(),
            function_arn: arn,
            trace_id: new_trace_id()?,
        };
        let result = worker.run(event, &config, inner.options.init_timeout).await;
        if result.is_ok() {
            worker.last_used = Instant::now();
            inner.put_idle(worker);
        } else {
            worker.kill().await;
        }
        result
    }

    /// Stops every idle process (waiting a bounded time for each) and refuses further invocations.
    /// Processes of invocations still running are killed when those end.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let workers: Vec<Worker> = match self.inner.pools.lock() {
            Ok(mut pools) => pools
                .values_mut()
                .flat_map(|p| std::mem::take(&mut p.idle))
                .collect(),
            Err(_) => Vec::new(),
        };
        for w in workers {
            w.kill().await;
        }
    }

    /// The process ids of the idle warm processes of `function` (for tests and diagnostics).
    #[must_use]
    pub fn idle_pids(&self, function: &str) -> Vec<u32> {
        self.inner
            .pools
            .lock()
            .map(|pools| {
                pools
                    .get(function)
                    .map(|p| p.idle.iter().filter_map(|w| w.pid).collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    fn start_reaper(&self) {
        if self.inner.reaper.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let period = (self.inner.options.idle_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(5));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.closed.load(Ordering::Acquire) {
                    break;
                }
                inner.reap();
            }
        });
    }
}

impl Inner {
    fn slots(&self, name: &str) -> Arc<Semaphore> {
        let Ok(mut pools) = self.pools.lock() else {
            return Arc::new(Semaphore::new(self.options.max_concurrency.max(1)));
        };
        let pool = pools.entry(name.to_owned()).or_insert_with(|| Pool {
            idle: Vec::new(),
            slots: Arc::new(Semaphore::new(self.options.max_concurrency.max(1))),
        });
        Arc::clone(&pool.slots)
    }

    /// A live idle process started with `config` (stale or dead ones are dropped, which kills them).
    fn take_idle(&self, config: &FunctionConfig) -> Option<Worker> {
        let mut pools = self.pools.lock().ok()?;
        let pool = pools.get_mut(&config.name)?;
        while let Some(mut w) = pool.idle.pop() {
            let alive = matches!(w.child.try_wait(), Ok(None));
            if alive && w.config == *config && w.last_used.elapsed() < self.options.idle_timeout {
                return Some(w);
            }
        }
        None
    }

    fn put_idle(&self, worker: Worker) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut pools) = self.pools.lock()
            && let Some(pool) = pools.get_mut(&worker.config.name)
        {
            pool.idle.push(worker);
        }
    }

    fn reap(&self) {
        let idle = self.options.idle_timeout;
        let dropped: Vec<Worker> = match self.pools.lock() {
            Ok(mut pools) => {
                let mut out = Vec::new();
                for pool in pools.values_mut() {
                    let (keep, old): (Vec<_>, Vec<_>) = std::mem::take(&mut pool.idle)
                        .into_iter()
                        .partition(|w| w.last_used.elapsed() < idle);
                    pool.idle = keep;
                    out.extend(old);
                }
                out
            }
            Err(_) => Vec::new(),
        };
        for w in &dropped {
            tracing::debug!(function = %w.config.name, pid = ?w.pid, "lambda: idle process stopped");
        }
        // Dropping kills them (kill_on_drop); tokio reaps them in the background.
        drop(dropped);
    }

    async fn spawn(&self, config: &FunctionConfig) -> Result<Worker, LambdaError> {
        let opts = &self.options;
        if !config.code_dir.is_dir() {
            return Err(LambdaError::Spawn {
                program: config.code_dir.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the code directory does not exist",
                ),
            });
        }
        let (api, events, signals) = RuntimeApi::start().await?;
        let (mut cmd, program) = match config.runtime {
            Runtime::Python => {
                let mut c = tokio::process::Command::new(&opts.python);
                c.args(["-m", "awslambdaric", &config.handler]);
                (c, opts.python.clone())
            }
            Runtime::Node => node_command(opts, config).await?,
            Runtime::Command => {
                let p = config.code_dir.join(&config.handler);
                (tokio::process::Command::new(&p), p)
            }
            Runtime::Webhook => {
                return Err(LambdaError::RuntimeUnavailable {
                    runtime: Runtime::Webhook,
                    reason: "webhooks have no process".into(),
                });
            }
        };
        let vars = self.environment(config, &api);
        let redactor = Redactor::new(&vars);
        cmd.current_dir(&config.code_dir)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for v in &vars {
            cmd.env(v.name(), v.expose_value());
        }
        let mut child = cmd.spawn().map_err(|source| {
            if config.runtime == Runtime::Python && source.kind() == std::io::ErrorKind::NotFound {
                LambdaError::RuntimeUnavailable {
                    runtime: Runtime::Python,
                    reason: format!(
                        "no Python interpreter at {} (set HostOptions::python or S3CRYPT_PYTHON; \
                         `bash scripts/venv.sh` makes .venv with awslambdaric)",
                        opts.python.display()
                    ),
                }
            } else {
                LambdaError::Spawn {
                    program: program.clone(),
                    source,
                }
            }
        })?;
        let output = Arc::new(Output::new(redactor, config.name.clone()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(read_output(out, Arc::clone(&output))));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(read_output(err, Arc::clone(&output))));
        }
        let pid = child.id();
        tracing::debug!(function = %config.name, ?pid, runtime = %config.runtime, "lambda: process started");
        Ok(Worker {
            config: config.clone(),
            child,
            pid,
            _api: api,
            events,
            signals,
            output,
            readers,
            last_used: Instant::now(),
        })
    }

    /// The process environment: inherited `PATH`/`HOME`/`LANG`, AWS's reserved variables, then the
    /// extras and the provider's (which may not replace the runtime's own).
    fn environment(&self, config: &FunctionConfig, api: &RuntimeApi) -> Vec<EnvVar> {
        let opts = &self.options;
        let mut vars: Vec<EnvVar> = Vec::new();
        for name in INHERITED {
            let value = std::env::var_os(name);
            if name == "PATH" {
                let mut dirs: Vec<PathBuf> = opts.path_extra.clone();
                if let Some(v) = &value {
                    dirs.extend(std::env::split_paths(v));
                }
                if let Ok(p) = std::env::join_paths(dirs)
                    && let Some(p) = p.to_str().filter(|p| !p.is_empty())
                {
                    vars.push(EnvVar::public("PATH", p));
                }
            } else if let Some(v) = value.as_ref().and_then(|v| v.to_str()) {
                vars.push(EnvVar::public(name, v));
            }
        }
        let task_root = std::path::absolute(&config.code_dir)
            .unwrap_or_else(|_| config.code_dir.clone())
            .to_string_lossy()
            .into_owned();
        let name = &config.name;
        let reserved = [
            ("AWS_LAMBDA_RUNTIME_API", api.addr().to_string()),
            ("_HANDLER", config.handler.clone()),
            ("LAMBDA_TASK_ROOT", task_root.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                config.memory_mb.to_string(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_TIMEOUT",
                config.timeout_secs.to_string(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "s3crypt/[$LATEST]local".to_owned(),
            ),
            ("AWS_REGION", opts.region.clone()),
            ("AWS_DEFAULT_REGION", opts.region.clone()),
            ("AWS_EXECUTION_ENV", format!("s3crypt_{}", config.runtime)),
            ("TZ", ":UTC".to_owned()),
        ];
        for (k, v) in reserved {
            vars.push(EnvVar::public(k, v));
        }
        if config.runtime == Runtime::Python {
            vars.push(EnvVar::public("PYTHONPATH", task_root));
            vars.push(EnvVar::public("PYTHONUNBUFFERED", "1"));
        }
        let provided = opts
            .env_provider
            .as_ref()
            .map(|p| p(config))
            .unwrap_or_default();
        for v in opts.env_extra.iter().cloned().chain(provided) {
            if !v.is_valid() || PROTECTED.contains(&v.name()) {
                tracing::warn!(function = %name, variable = %v.name(), "lambda: variable refused");
                continue;
            }
            vars.retain(|x| x.name() != v.name());
            vars.push(v);
        }
        vars
    }
}

async fn node_command(
    opts: &HostOptions,
    config: &FunctionConfig,
) -> Result<(tokio::process::Command, PathBuf), LambdaError> {
    if let Some(ric) = &opts.node_ric {
        let mut c = tokio::process::Command::new(ric);
        c.arg(&config.handler);
        return Ok((c, ric.clone()));
    }
    let unavailable = |reason: String| LambdaError::RuntimeUnavailable {
        runtime: Runtime::Node,
        reason,
    };
    let probe = tokio::process::Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let version = match tokio::time::timeout(Duration::from_secs(10), probe).await {
        Ok(Ok(out)) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        }
        Ok(Ok(_)) | Ok(Err(_)) => return Err(unavailable("no `node` on PATH".into())),
        Err(_) => return Err(unavailable("`node --version` did not answer".into())),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 22 {
        return Err(unavailable(format!(
            "aws-lambda-ric needs Node.js 22 or later and `node --version` is {version}; \
             install a newer Node.js or set HostOptions::node_ric"
        )));
    }
    let mut c = tokio::process::Command::new("npx");
    c.args(["--no-install", "aws-lambda-ric", &config.handler]);
    Ok((c, PathBuf::from("npx")))
}

/// One function process and its Runtime API.
#[derive(Debug)]
struct Worker {
    config: FunctionConfig,
    child: tokio::process::Child,
    pid: Option<u32>,
    _api: RuntimeApi,
    events: mpsc::Sender<Event>,
    signals: mpsc::Receiver<Signal>,
    output: Arc<Output>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    last_used: Instant,
}

impl Drop for Worker {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

enum Phase {
    Init,
    Running,
}

impl Worker {
    async fn run(
        &mut self,
        event: Event,
        config: &FunctionConfig,
        init_timeout: Duration,
    ) -> Result<Invocation, LambdaError> {
        let request_id = event.request_id.clone();
        self.output.begin(&request_id);
        // Drop anything a previous invocation left behind (a late error, a stray delivery).
        while self.signals.try_recv().is_ok() {}
        if self.events.try_send(event).is_err() {
            return Err(self
                .crashed(&request_id, "the process stopped listening")
                .await);
        }
        let mut phase = Phase::Init;
        let mut deadline = tokio::time::Instant::now() + init_timeout;
        loop {
            tokio::select! {
                biased;
                signal = self.signals.recv() => match signal {
                    Some(Signal::Delivered) => {
                        if matches!(phase, Phase::Init) {
                            phase = Phase::Running;
                            deadline = tokio::time::Instant::now() + config.timeout();
                        }
                    }
                    Some(Signal::InitError { error_type, payload }) => {
                        let message = message_of(&payload);
                        return Err(LambdaError::Init { error_type, message });
                    }
                    Some(Signal::Response { request_id: id, payload }) if id == request_id => {
                        let logs = self.output.settle_and_take().await;
                        return Ok(Invocation { request_id, payload: payload.to_vec(), function_error: None, logs });
                    }
                    Some(Signal::Error { request_id: id, error_type, payload }) if id == request_id => {
                        let logs = self.output.settle_and_take().await;
                        return Ok(Invocation { request_id, payload: payload.to_vec(), function_error: Some(error_type), logs });
                    }
                    Some(_) => {}
                    None => return Err(self.crashed(&request_id, "the Runtime API stopped").await),
                },
                status = self.child.wait() => {
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    // A result or init error posted just before the exit wins.
                    while let Ok(signal) = self.signals.try_recv() {
                        match signal {
                            Signal::InitError { error_type, payload } => {
                                return Err(LambdaError::Init { error_type, message: message_of(&payload) });
                            }
                            Signal::Response { request_id: id, payload } if id == request_id => {
                                let logs = self.output.settle_and_take().await;
                                return Ok(Invocation { request_id, payload: payload.to_vec(), function_error: None, logs });
                            }
                            Signal::Error { request_id: id, error_type, payload } if id == request_id => {
                                let logs = self.output.settle_and_take().await;
                                return Ok(Invocation { request_id, payload: payload.to_vec(), function_error: Some(error_type), logs });
                            }
                            _ => {}
                        }
                    }
                    let logs = self.output.settle_and_take().await;
                    return Err(match phase {
                        Phase::Init => LambdaError::Init {
                            error_type: "Runtime.ExitError".into(),
                            message: format!("Runtime exited with error: {status}\n{}", tail_lines(&logs, 20)),
                        },
                        Phase::Running => LambdaError::Crash { request_id, status, logs },
                    });
                }
                () = tokio::time::sleep_until(deadline) => {
                    self.kill_in_place().await;
                    let logs = self.output.settle_and_take().await;
                    return Err(match phase {
                        Phase::Init => LambdaError::Init {
                            error_type: "Sandbox.Timedout".into(),
                            message: format!("the function did not start within {} s\n{}", init_timeout.as_secs(), tail_lines(&logs, 20)),
                        },
                        Phase::Running => LambdaError::Timeout { request_id, timeout: config.timeout(), logs },
                    });
                }
            }
        }
    }

    async fn crashed(&mut self, request_id: &str, why: &str) -> LambdaError {
        let status = match tokio::time::timeout(KILL_WAIT, self.child.wait()).await {
            Ok(Ok(s)) => s.to_string(),
            _ => why.to_owned(),
        };
        LambdaError::Crash {
            request_id: request_id.to_owned(),
            status,
            logs: self.output.settle_and_take().await,
        }
    }

    async fn kill_in_place(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(KILL_WAIT, self.child.wait()).await;
    }

    async fn kill(mut self) {
        self.kill_in_place().await;
        tracing::debug!(function = %self.config.name, pid = ?self.pid, "lambda: process stopped");
    }
}

fn message_of(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&payload[..payload.len().min(4096)]).into_owned()
        })
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The captured output of one process: the current invocation's tail, redacted.
struct Output {
    state: Mutex<OutputState>,
    redactor: Redactor,
    function: String,
    seen: AtomicU64,
}

struct OutputState {
    request_id: String,
    tail: VecDeque<u8>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl Output {
    fn new(redactor: Redactor, function: String) -> Self {
        Self {
            state: Mutex::new(OutputState {
                request_id: String::new(),
                tail: VecDeque::new(),
            }),
            redactor,
            function,
            seen: AtomicU64::new(0),
        }
    }

    fn begin(&self, request_id: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.request_id = request_id.to_owned();
            s.tail.clear();
        }
    }

    fn push(&self, raw: &[u8]) {
        let text = self.redactor.scrub(&String::from_utf8_lossy(raw));
        self.seen.fetch_add(1, Ordering::AcqRel);
        let Ok(mut s) = self.state.lock() else { return };
        tracing::debug!(
            function = %self.function,
            request_id = %s.request_id,
            "lambda: {}",
            text.trim_end()
        );
        s.tail.extend(text.as_bytes());
        let excess = s.tail.len().saturating_sub(MAX_LOG_BYTES);
        s.tail.drain(..excess);
    }

    /// Waits (at most 200 ms) until the readers have been quiet for 10 ms, then takes the tail.
    async fn settle_and_take(&self) -> String {
        let start = Instant::now();
        let mut last = self.seen.load(Ordering::Acquire);
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let now = self.seen.load(Ordering::Acquire);
            if now == last || start.elapsed() > Duration::from_millis(200) {
                break;
            }
            last = now;
        }
        let Ok(mut s) = self.state.lock() else {
            return String::new();
        };
        let bytes: Vec<u8> = std::mem::take(&mut s.tail).into();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

async fn read_output(stream: impl AsyncRead + Unpin, output: Arc<Output>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => output.push(&line),
        }
    }
}

/// A random UUID (version 4), as Lambda's request ids are.
fn new_request_id() -> Result<String, LambdaError> {
    let mut b = crate::primitives::random_array::<16>().map_err(std::io::Error::other)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// An X-Ray trace header: `Root=1-{epoch seconds, hex}-{96 random bits};Parent=…;Sampled=0`.
fn new_trace_id() -> Result<String, LambdaError> {
    let r = crate::primitives::random_array::<20>().map_err(std::io::Error::other)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Ok(format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        secs & 0xffff_ffff,
        hex::encode(&r[..12]),
        hex::encode(&r[12..])
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuid_v4() {
        let id = new_request_id().expect("id");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, new_request_id().expect("id"));
        assert!(new_trace_id().expect("trace").starts_with("Root=1-"));
    }

    #[tokio::test]
    async fn output_keeps_a_redacted_bounded_tail() {
        let r = Redactor::new(&[EnvVar::secret("K", "topsecret")]);
        let out = Output::new(r, "f".into());
        out.begin("req");
        out.push(b"key is topsecret\n");
        for _ in 0..2000 {
            out.push(&[b'x'; 100]);
        }
        out.push(b"end\n");
        let logs = out.settle_and_take().await;
        assert!(logs.len() <= MAX_LOG_BYTES);
        assert!(logs.ends_with("end\n"));
        out.begin("req2");
        out.push(b"key is topsecret\n");
        let logs = out.settle_and_take().await;
        assert_eq!(logs, "key is [REDACTED]\n");
    }

    #[test]
    fn aws_names_of_failures() {
        let t = LambdaError::Timeout {
            request_id: "r".into(),
            timeout: Duration::from_secs(3),
            logs: String::new(),
        };
        assert_eq!(t.as_function_error(), "Sandbox.Timedout");
        assert_eq!(t.to_string(), "Task timed out after 3 seconds");
        let doc: serde_json::Value = serde_json::from_slice(&t.error_document()).expect("json");
        assert_eq!(doc["errorType"], "Sandbox.Timedout");
        let c = LambdaError::Crash {
            request_id: "r".into(),
            status: "exit status: 3".into(),
            logs: String::new(),
        };
        assert_eq!(c.as_function_error(), "Runtime.ExitError");
        let i = LambdaError::Init {
            error_type: "Runtime.ImportModuleError".into(),
            message: "m".into(),
        };
        assert_eq!(i.as_function_error(), "Runtime.ImportModuleError");
    }
}
