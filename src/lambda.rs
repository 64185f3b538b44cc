//! Functions that run unmodified AWS Lambda handlers (feature `server`).
//!
//! - [`FunctionRegistry`] keeps function configurations in `HOME/lambda/functions/NAME.json`
//!   (owner-only, replaced atomically); [`FunctionConfig`] is one of them.
//! - [`LambdaHost`] invokes them. Python handlers run under the official runtime interface client
//!   (`python -m awslambdaric module.handler`), Node.js handlers under `aws-lambda-ric`, and any
//!   executable that speaks the Runtime API as a custom runtime (`Command`). Each process gets the
//!   real **Lambda Runtime API** (2018-06-01) on its own loopback port (`AWS_LAMBDA_RUNTIME_API`), so the
//!   handler code and the client are the ones that run on AWS. `Webhook` functions have no process: the
//!   event is POSTed to a loopback URL.
//! - [`EnvVar`] and [`EnvProvider`] give processes extra variables (credentials of the role, say);
//!   secret values are zeroized, redacted in `Debug`, never logged and scrubbed from captured output.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use s3crypt::lambda::{FunctionConfig, FunctionRegistry, HostOptions, LambdaHost, Runtime};
//!
//! let registry = FunctionRegistry::open(std::path::Path::new(".s3crypt"))?;
//! registry.create(&FunctionConfig::new("echo", Runtime::Python, "echo.handler", "handlers/"))?;
//! let host = LambdaHost::new(registry, HostOptions::new("us-east-1", "000000000000"));
//! let result = host.invoke("echo", br#"{"hello": "world"}"#.to_vec()).await?;
//! assert!(result.function_error.is_none());
//! host.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Differences from AWS Lambda
//!
//! - **No isolation.** A function runs as a plain child process of the host with the host's user,
//!   file system and network; there is no microVM, no read-only root, no `/tmp` of its own, and the
//!   memory size is passed to the function (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`) but not enforced. CPU
//!   is not scaled with memory. Run only trusted code.
//! - **No deployment packages, versions or aliases.** The code is a directory used in place (changes
//!   take effect at the next cold start); there are no zip files, layers or container images. Every
//!   function is `$LATEST`: a numeric qualifier (`:7`) resolves to it as well, aliases are refused
//!   ([`RegistryError::UnsupportedQualifier`]); `ExecutedVersion` is always `$LATEST`.
//! - **The execution role is not assumed.** `role_policy` is validated and stored (an IAM identity
//!   policy); no credentials are issued unless the integrator's [`EnvProvider`] supplies them.
//! - **Synchronous invocation only** (`RequestResponse`): no `Event` (async) or `DryRun` invocation
//!   types, no destinations, retries, dead-letter queues, event source mappings, response streaming,
//!   function URLs, SnapStart, provisioned or reserved concurrency, or resource policies
//!   (`lambda:InvokeFunction` is for the integrator to check).
//! - **Concurrency** is per function and per host ([`HostOptions::max_concurrency`]); an invocation
//!   waits up to the function's timeout plus the init timeout for a slot before
//!   [`LambdaError::Throttled`] (AWS throttles at once, account-wide).
//! - **Timeouts**: the init phase is bounded by [`HostOptions::init_timeout`] (AWS: 10 s) and is not
//!   retried within the invocation as AWS does; a timed-out or crashed process is killed and replaced
//!   (AWS also resets the sandbox). Child processes that a function starts itself are not killed with it.
//! - **Logs** are the process's stdout and stderr during the invocation (the last 64 KiB, as
//!   [`Invocation::logs`], and `tracing` at debug level); there is no CloudWatch, no `START`/`END`/`REPORT`
//!   lines, no telemetry API and no Extensions API (`/2020-01-01/extension`). Output written after the
//!   response is posted may land in the next invocation's logs.
//! - **Runtime API**: `invocation/next`, `invocation/{id}/response`, `invocation/{id}/error` and
//!   `init/error` are served; `restore/*`, client context and Cognito identity headers are not; the trace
//!   id is random and never sampled. Environment: AWS's reserved variables are set, but there are no
//!   `AWS_ACCESS_KEY_ID`/`AWS_SESSION_TOKEN` of the role, no `LAMBDA_RUNTIME_DIR`, and `AWS_EXECUTION_ENV`
//!   is `s3crypt_<runtime>`; the process inherits `PATH`, `HOME` and `LANG` from the host.
//! - **Runtimes**: Python uses the configured interpreter (the project's venv) and its version, not a
//!   managed `python3.x`; Node.js needs Node ≥ 22 with `aws-lambda-ric` (`scripts/node.sh` installs
//!   both from the npm registry into `.node`, found by [`default_node_ric`]), else
//!   [`LambdaError::RuntimeUnavailable`]. `Runtime` in `get-function`
//!   output is the closest AWS identifier (`python3`, `nodejs22.x`, `provided.al2023`) or `webhook`.
//! - **Function errors**: [`Invocation::function_error`] holds the handler's `errorType` (AWS's
//!   `X-Amz-Function-Error` header says `Unhandled`; the CLI prints that). A process that exits or times
//!   out is a [`LambdaError`] rather than an `Unhandled` result; [`LambdaError::error_document`] gives
//!   the payload AWS would return.
//! - **Webhooks** are an s3crypt extension (loopback `http(s)` URLs only; HTTPS uses the system roots).

mod environment;
mod function;
mod host;
mod runtime_api;
mod webhook;

pub use environment::{EnvProvider, EnvVar, INHERITED};
pub use function::{
    DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_SECS, FunctionConfig, FunctionRef, FunctionRegistry,
    MAX_HANDLER_LEN, MAX_MEMORY_MB, MAX_TIMEOUT_SECS, MIN_MEMORY_MB, RegistryError, Runtime,
    validate_name, validate_webhook_url,
};
pub use host::{
    DEFAULT_INIT_TIMEOUT, HostOptions, Invocation, LambdaError, LambdaHost, MAX_LOG_BYTES,
    default_node_ric, default_python,
};
pub use runtime_api::MAX_PAYLOAD_BYTES;
