//! `s3crypt lambda …`: the functions of the home (`HOME/lambda/functions`) and synchronous invocation,
//! printing what `aws lambda` prints.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::lambda::{
    FunctionConfig, FunctionRegistry, HostOptions, LambdaError, LambdaHost, RegistryError, Runtime,
};
use s3crypt::sse::engine::LOCAL_ACCOUNT;
use serde_json::{Value, json};

/// `s3crypt lambda`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The region in function ARNs and `AWS_REGION`.
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    #[command(subcommand)]
    command: Command,
}

/// The operations, named as `aws lambda` names them.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Register a function: its runtime, handler and code directory (or webhook URL).
    CreateFunction {
        /// The function name (1-64 of A-Z a-z 0-9 _ -).
        name: String,
        /// python (awslambdaric), node (aws-lambda-ric), command (an executable speaking the Runtime API), webhook.
        #[arg(long)]
        runtime: Runtime,
        /// module.function (python), file.function (node), an executable in the code directory (command).
        #[arg(long, default_value = "")]
        handler: String,
        /// The code directory (LAMBDA_TASK_ROOT).
        #[arg(long, value_name = "DIR", default_value = "")]
        code: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
    /// Print a function's configuration (as `aws lambda get-function`).
    GetFunction {
        /// A name, NAME:$LATEST or a function ARN.
        name: String,
    },
    /// Print every function's configuration.
    ListFunctions,
    /// Change a function's configuration.
    UpdateFunctionConfiguration {
        /// A name, NAME:$LATEST or a function ARN.
        name: String,
        /// A new runtime.
        #[arg(long)]
        runtime: Option<Runtime>,
        /// A new handler.
        #[arg(long)]
        handler: Option<String>,
        /// A new code directory.
        #[arg(long, value_name = "DIR")]
        code: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Remove a function.
    DeleteFunction {
        /// A name, NAME:$LATEST or a function ARN.
        name: String,
    },
    /// Invoke a function synchronously: the status as JSON, the payload to OUTFILE (or stdout).
    Invoke {
        /// A name, NAME:$LATEST or a function ARN.
        name: String,
        /// The event: JSON text, or @FILE.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// `Tail`: add the last 4 KB of the invocation's logs, base64, as LogResult.
        #[arg(long, value_parser = ["None", "Tail"], default_value = "None")]
        log_type: String,
        /// The Python interpreter with awslambdaric (default: $S3CRYPT_PYTHON, ./.venv/bin/python, python3).
        #[arg(long, env = "S3CRYPT_PYTHON")]
        python: Option<PathBuf>,
        /// The Node.js runtime interface client (aws-lambda-ric) to run Node.js functions with.
        #[arg(long)]
        node_ric: Option<PathBuf>,
        /// Where to write the payload (default, or `-`: stdout, and the status goes to stderr).
        outfile: Option<PathBuf>,
    },
}

/// Settings shared by create and update.
#[derive(Debug, clap::Args)]
struct Settings {
    /// The execution role's permissions: an IAM identity policy (JSON file).
    #[arg(long, value_name = "FILE")]
    role_policy: Option<PathBuf>,
    /// Seconds an invocation may run (1-900; default 3).
    #[arg(long, value_name = "S")]
    timeout: Option<u32>,
    /// Memory size in MB (128-10240; default 128; not enforced).
    #[arg(long, value_name = "MB")]
    memory: Option<u32>,
    /// Webhook functions: the loopback URL the event is POSTed to.
    #[arg(long)]
    url: Option<String>,
}

impl Settings {
    fn apply(&self, f: &mut FunctionConfig) -> anyhow::Result<()> {
        if let Some(file) = &self.role_policy {
            f.role_policy = Some(
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?,
            );
        }
        if let Some(t) = self.timeout {
            f.timeout_secs = t;
        }
        if let Some(m) = self.memory {
            f.memory_mb = m;
        }
        if let Some(u) = &self.url {
            f.url = Some(u.clone());
        }
        Ok(())
    }
}

pub(crate) fn run(args: &Args, home: &Path, json_errors: bool) -> anyhow::Result<ExitCode> {
    let registry = FunctionRegistry::open(home)?;
    let region = args.region.as_str();
    let (operation, result) = match &args.command {
        Command::CreateFunction {
            name,
            runtime,
            handler,
            code,
            settings,
        } => {
            let code = if code.as_os_str().is_empty() {
                code.clone()
            } else {
                std::path::absolute(code)?
            };
            let mut f = FunctionConfig::new(name, *runtime, handler, code);
            settings.apply(&mut f)?;
            (
                "CreateFunction",
                registry
                    .create(&f)
                    .map(|()| Some(configuration(&f, region))),
            )
        }
        Command::GetFunction { name } => (
            "GetFunction",
            registry.get(name).map(|f| {
                Some(json!({
                    "Configuration": configuration(&f, region),
                    "Code": {"RepositoryType": "Local", "Location": f.code_dir},
                }))
            }),
        ),
        Command::ListFunctions => (
            "ListFunctions",
            registry.list().map(|fs| {
                let list: Vec<Value> = fs.iter().map(|f| configuration(f, region)).collect();
                Some(json!({ "Functions": list }))
            }),
        ),
        Command::UpdateFunctionConfiguration {
            name,
            runtime,
            handler,
            code,
            settings,
        } => {
            let result = registry.get(name).and_then(|mut f| {
                if let Some(r) = runtime {
                    f.runtime = *r;
                }
                if let Some(h) = handler {
                    f.handler.clone_from(h);
                }
                if let Some(c) = code {
                    f.code_dir = std::path::absolute(c).unwrap_or_else(|_| c.clone());
                }
                settings
                    .apply(&mut f)
                    .map_err(|e| RegistryError::InvalidParameter {
                        field: "role-policy",
                        reason: format!("{e:#}"),
                    })?;
                registry
                    .update(&f)
                    .map(|()| Some(configuration(&f, region)))
            });
            ("UpdateFunctionConfiguration", result)
        }
        Command::DeleteFunction { name } => {
            ("DeleteFunction", registry.delete(name).map(|()| None))
        }
        Command::Invoke {
            name,
            payload,
            log_type,
            python,
            node_ric,
            outfile,
        } => {
            let event = match payload.strip_prefix('@') {
                Some(file) => {
                    std::fs::read(file).with_context(|| format!("reading the payload {file}"))?
                }
                None => payload.clone().into_bytes(),
            };
            let mut options = HostOptions::new(region, LOCAL_ACCOUNT);
            if let Some(p) = python {
                options.python.clone_from(p);
            }
            options.node_ric.clone_from(node_ric);
            options.max_concurrency = 1;
            return invoke(
                registry,
                options,
                name,
                event,
                log_type == "Tail",
                outfile.as_deref(),
                json_errors,
            );
        }
    };
    match result {
        Ok(Some(value)) => {
            outln!("{}", serde_json::to_string_pretty(&value)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => Ok(ExitCode::SUCCESS),
        Err(e) => service_error(operation, registry_code(&e), &e.to_string(), json_errors),
    }
}

/// The configuration as `aws lambda get-function-configuration` prints it.
fn configuration(f: &FunctionConfig, region: &str) -> Value {
    let mut v = json!({
        "FunctionName": f.name,
        "FunctionArn": f.arn(region, LOCAL_ACCOUNT),
        "Runtime": f.runtime.aws_name(),
        "Handler": f.handler,
        "Timeout": f.timeout_secs,
        "MemorySize": f.memory_mb,
        "Version": "$LATEST",
        "PackageType": "Zip",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Architectures": [std::env::consts::ARCH.replace('_', "-").replace("aarch64", "arm64")],
        "CodeDirectory": f.code_dir,
    });
    if let Some(url) = &f.url {
        v["WebhookUrl"] = json!(url);
    }
    if let Some(p) = &f.role_policy {
        v["RolePolicy"] = serde_json::from_str(p).unwrap_or_else(|_| json!(p));
    }
    v
}

fn registry_code(e: &RegistryError) -> &'static str {
    match e {
        RegistryError::FunctionNotFound(_) => "ResourceNotFoundException",
        RegistryError::AlreadyExists(_) => "ResourceConflictException",
        RegistryError::InvalidName(_)
        | RegistryError::UnsupportedQualifier(_)
        | RegistryError::InvalidPolicy(_)
        | RegistryError::InvalidParameter { .. } => "InvalidParameterValueException",
        _ => "ServiceException",
    }
}

/// Prints an error as aws-cli does (stderr; exit status 254), and as JSON on stdout with `--json`.
fn service_error(
    operation: &str,
    code: &str,
    message: &str,
    json_errors: bool,
) -> anyhow::Result<ExitCode> {
    if json_errors {
        outln!("{}", json!({"Error": {"Code": code, "Message": message}}))?;
    }
    eprintln!("An error occurred ({code}) when calling the {operation} operation: {message}");
    Ok(ExitCode::from(254))
}

fn invoke(
    registry: FunctionRegistry,
    options: HostOptions,
    name: &str,
    event: Vec<u8>,
    tail: bool,
    outfile: Option<&Path>,
    json_errors: bool,
) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let host = LambdaHost::new(registry, options);
    let result = rt.block_on(async {
        let r = host.invoke(name, event).await;
        host.shutdown().await;
        r
    });
    let (payload, function_error, logs) = match result {
        Ok(inv) => (
            inv.payload,
            inv.function_error.map(|_| "Unhandled"),
            inv.logs,
        ),
        Err(
            e @ (LambdaError::Timeout { .. }
            | LambdaError::Crash { .. }
            | LambdaError::Init { .. }
            | LambdaError::RuntimeUnavailable { .. }
            | LambdaError::Spawn { .. }
            | LambdaError::Webhook { .. }),
        ) => {
            let logs = match &e {
                LambdaError::Timeout { logs, .. } | LambdaError::Crash { logs, .. } => logs.clone(),
                other => format!("{other}\n"),
            };
            (e.error_document(), Some("Unhandled"), logs)
        }
        Err(e) => {
            return service_error("Invoke", e.as_function_error(), &e.to_string(), json_errors);
        }
    };
    let mut status = json!({"StatusCode": 200, "ExecutedVersion": "$LATEST"});
    if let Some(fe) = function_error {
        status["FunctionError"] = json!(fe);
    }
    if tail {
        use base64::Engine as _;
        let start = logs.len().saturating_sub(4096);
        let start = (start..logs.len())
            .find(|&i| logs.is_char_boundary(i))
            .unwrap_or(logs.len());
        status["LogResult"] =
            json!(base64::engine::general_purpose::STANDARD.encode(&logs.as_bytes()[start..]));
    }
    let status = serde_json::to_string_pretty(&status)?;
    match outfile.filter(|p| *p != Path::new("-")) {
        Some(path) => {
            std::fs::write(path, &payload)
                .with_context(|| format!("writing {}", path.display()))?;
            outln!("{status}")?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&payload)?;
            out.write_all(b"\n")?;
            out.flush()?;
            eprintln!("{status}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
