//! `s3crypt kms …`: administer and use the built-in KMS, serve it over HTTP, or load-test it.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use s3crypt::aws::sigv4::Credentials;
use s3crypt::keys::SecretBytes;
use s3crypt::kms::quota::{QuotaConfig, QuotaPreset};
use s3crypt::kms::remote::RemoteKms;
use s3crypt::kms::retry::{RetryPolicy, RetryingKms};
use s3crypt::kms::server::{AccessKey, KmsServer, ServeConfig};
use s3crypt::kms::*;
use serde_json::json;

/// `s3crypt kms`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a symmetric key (and optionally an alias for it).
    CreateKey {
        /// Alias to create, e.g. alias/app (the `alias/` prefix is added if missing).
        #[arg(long)]
        alias: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Key policy document (JSON file).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// List keys and their aliases.
    ListKeys,
    /// Show a key's metadata.
    DescribeKey {
        /// Key id, key ARN, alias or alias ARN.
        key: String,
    },
    /// Enable a key.
    Enable {
        /// Key id or ARN.
        key: String,
    },
    /// Disable a key.
    Disable {
        /// Key id or ARN.
        key: String,
    },
    /// Rotate a key now (old material stays available for decryption).
    Rotate {
        /// Key id or ARN.
        key: String,
        /// Also enable automatic rotation with this period in days (90..=2560).
        #[arg(long, value_name = "DAYS")]
        automatic: Option<u32>,
    },
    /// Schedule a key's deletion (7..=30 days).
    ScheduleDeletion {
        /// Key id or ARN.
        key: String,
        /// Waiting period in days.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Cancel a scheduled deletion (the key comes back disabled).
    CancelDeletion {
        /// Key id or ARN.
        key: String,
    },
    /// Generate a data key; prints the plaintext and encrypted key as base64 JSON.
    GenerateDataKey {
        /// Key id, key ARN, alias or alias ARN.
        key: String,
        /// Data key length in bytes (1..=1024) instead of AES_256.
        #[arg(long)]
        bytes: Option<u32>,
        /// Encryption context pairs.
        #[arg(long = "context", value_name = "K=V")]
        context: Vec<String>,
    },
    /// Encrypt up to 4096 bytes read from stdin; prints the base64 ciphertext blob.
    Encrypt {
        /// Key id, key ARN, alias or alias ARN.
        key: String,
        /// Encryption context pairs.
        #[arg(long = "context", value_name = "K=V")]
        context: Vec<String>,
    },
    /// Decrypt a base64 ciphertext blob read from stdin; writes the plaintext to stdout.
    Decrypt {
        /// Encryption context pairs (must match the encryption).
        #[arg(long = "context", value_name = "K=V")]
        context: Vec<String>,
        /// Write the plaintext to stdout even when it is a terminal.
        #[arg(short, long)]
        force: bool,
    },
    /// Serve the KMS over HTTP (AWS JSON 1.1 with SigV4), for boto3, the AWS SDKs and `kms load`.
    Serve(ServeArgs),
    /// Drive the KMS at a request rate and report accepted, throttled and retried calls and latency.
    Load(LoadArgs),
}

#[derive(Debug, clap::Args)]
struct QuotaArgs {
    /// Shared request quota for cryptographic operations, in requests per second.
    #[arg(long, value_name = "RPS", conflicts_with = "quota_preset")]
    quota: Option<u32>,
    /// A documented quota: 2019-default|mid|top, 2022-…, current-default|mid|top.
    #[arg(long, value_name = "NAME")]
    quota_preset: Option<QuotaPreset>,
    /// Bucket capacity (default: one second of quota).
    #[arg(long, value_name = "N")]
    burst: Option<u32>,
}

impl QuotaArgs {
    fn config(&self) -> Option<QuotaConfig> {
        let q = self
            .quota
            .map(QuotaConfig::per_second)
            .or(self.quota_preset.map(QuotaPreset::config))?;
        Some(match self.burst {
            Some(b) => q.with_burst(b),
            None => q,
        })
    }
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:4599")]
    listen: SocketAddr,
    /// Accepted credentials: ID:SECRET or ID:SECRET:PRINCIPAL_ARN (repeatable). Other local users can
    /// read command lines (/proc/PID/cmdline, ps): prefer --access-key-file.
    #[arg(
        long = "access-key",
        value_name = "ID:SECRET[:ARN]",
        required_unless_present = "access_key_file"
    )]
    access_keys: Vec<String>,
    /// File of accepted credentials, one ID:SECRET or ID:SECRET:PRINCIPAL_ARN a line (blank lines and
    /// lines starting with # are skipped). Keeps the secrets out of the process list; make it readable
    /// by the server's user only.
    #[arg(long, value_name = "FILE")]
    access_key_file: Option<PathBuf>,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive connection
    /// stays open [default: 10].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: Option<u64>,
    /// Seconds a client has to send a request's body once its headers are in (else 408)
    /// [default: 30].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: Option<u64>,
    /// Seconds a response write may stall (the client not reading) before the connection is dropped
    /// [default: 30].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    write_timeout: Option<u64>,
    /// Connections served at once; more are answered 503 ServiceUnavailableException [default: 256].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=65536))]
    max_connections: Option<u64>,
    /// Largest request body in bytes; larger ones are answered 413 RequestEntityTooLargeException
    /// before being read [default: 262144].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..=67_108_864))]
    max_body_bytes: Option<u64>,
    /// Keep the keys in memory only instead of the home directory.
    #[arg(long)]
    in_memory: bool,
    #[command(flatten)]
    quota: QuotaArgs,
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// Offered requests per second over all clients (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Duration in seconds (at most 3600).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Concurrent clients (threads, 1..=1024).
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Operation to drive.
    #[arg(long, value_enum, default_value = "generate-data-key")]
    op: LoadOp,
    /// Total attempts per call (1 = no retries), with exponential backoff and full jitter.
    #[arg(long, default_value_t = 1)]
    attempts: u32,
    /// Drive a KMS server at this URL instead of an in-process mock.
    #[arg(long)]
    endpoint: Option<String>,
    /// Credentials for --endpoint: ID:SECRET. Other local users can read command lines
    /// (/proc/PID/cmdline, ps): prefer the environment variables AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, used when this flag is absent.
    #[arg(long = "access-key", value_name = "ID:SECRET", requires = "endpoint")]
    access_key: Option<String>,
    /// Region for --endpoint signatures.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[command(flatten)]
    quota: QuotaArgs,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LoadOp {
    GenerateDataKey,
    Decrypt,
}

pub(crate) fn run(args: &Args, home: &Path, json_out: bool) -> anyhow::Result<ExitCode> {
    match &args.command {
        Command::Serve(a) => return serve(a, home),
        Command::Load(a) => return load(a, json_out),
        _ => {}
    }
    if let Command::Decrypt { force: false, .. } = args.command
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
    {
        crate::exit::usage!(
            "refusing to write plaintext to a terminal; redirect stdout, or pass --force"
        );
    }
    // Read stdin before opening the state directory (opening takes its lock for a moment).
    let mut input = Vec::new();
    if matches!(
        args.command,
        Command::Encrypt { .. } | Command::Decrypt { .. }
    ) {
        std::io::stdin()
            .read_to_end(&mut input)
            .context("reading stdin")?;
    }
    let input = zeroize::Zeroizing::new(input);
    let kms = open(home)?;
    let out = match &args.command {
        Command::CreateKey {
            alias,
            description,
            policy,
        } => {
            let mut req = CreateKeyRequest::default();
            req.description = description.clone();
            if let Some(p) = policy {
                req.policy = Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                );
            }
            let meta = kms.create_key(&req)?.key_metadata;
            if let Some(a) = alias {
                let name = if a.starts_with("alias/") {
                    a.clone()
                } else {
                    format!("alias/{a}")
                };
                kms.create_alias(&CreateAliasRequest::new(name, &meta.key_id))?;
            }
            serde_json::to_value(&meta)?
        }
        Command::ListKeys => {
            let keys = kms.list_keys(&ListKeysRequest::default())?;
            let aliases = kms.list_aliases(&ListAliasesRequest::default())?.aliases;
            let mut rows = Vec::new();
            for k in keys.keys {
                let meta = kms
                    .describe_key(&DescribeKeyRequest::new(&k.key_id))?
                    .key_metadata;
                let names: Vec<&str> = aliases
                    .iter()
                    .filter(|a| a.target_key_id == k.key_id)
                    .map(|a| a.alias_name.as_str())
                    .collect();
                rows.push(json!({"KeyId": k.key_id, "Arn": k.key_arn, "KeyState": meta.key_state, "Aliases": names, "Description": meta.description}));
            }
            json!({ "Keys": rows })
        }
        Command::DescribeKey { key } => {
            serde_json::to_value(kms.describe_key(&DescribeKeyRequest::new(key))?)?
        }
        Command::Enable { key } => {
            kms.enable_key(&KeyIdRequest::new(key))?;
            serde_json::to_value(
                kms.describe_key(&DescribeKeyRequest::new(key))?
                    .key_metadata,
            )?
        }
        Command::Disable { key } => {
            kms.disable_key(&KeyIdRequest::new(key))?;
            serde_json::to_value(
                kms.describe_key(&DescribeKeyRequest::new(key))?
                    .key_metadata,
            )?
        }
        Command::Rotate { key, automatic } => {
            let r = kms.rotate_key_on_demand(&KeyIdRequest::new(key))?;
            if let Some(days) = automatic {
                kms.enable_key_rotation(&EnableKeyRotationRequest::new(key, Some(*days)))?;
            }
            serde_json::to_value(r)?
        }
        Command::ScheduleDeletion { key, days } => serde_json::to_value(
            kms.schedule_key_deletion(&ScheduleKeyDeletionRequest::new(key, Some(*days)))?,
        )?,
        Command::CancelDeletion { key } => {
            serde_json::to_value(kms.cancel_key_deletion(&KeyIdRequest::new(key))?)?
        }
        Command::GenerateDataKey {
            key,
            bytes,
            context,
        } => {
            let mut req = GenerateDataKeyRequest::aes256(key, parse_context(context)?);
            if bytes.is_some() {
                req.key_spec = None;
                req.number_of_bytes = *bytes;
            }
            serde_json::to_value(kms.generate_data_key(&req)?)?
        }
        Command::Encrypt { key, context } => {
            let r = kms.encrypt(&EncryptRequest::new(
                key,
                SecretBytes::new(input.to_vec()),
                parse_context(context)?,
            ))?;
            serde_json::to_value(r)?
        }
        Command::Decrypt { context, .. } => {
            let text =
                std::str::from_utf8(&input).context("stdin must be a base64 ciphertext blob")?;
            let blob = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .context("stdin must be a base64 ciphertext blob")?;
            let r = kms.decrypt(&DecryptRequest::new(blob, parse_context(context)?))?;
            std::io::stdout().write_all(r.plaintext.expose_secret())?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Serve(_) | Command::Load(_) => unreachable!("handled above"),
    };
    if json_out {
        outln!("{out}")?;
    } else {
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the KMS state of `home` (created on first use).
pub(crate) fn open(home: &Path) -> anyhow::Result<MockKms> {
    MockKms::builder()
        .state_dir(home.join("kms"))
        .build()
        .context("opening the KMS state directory")
}

fn parse_context(pairs: &[String]) -> anyhow::Result<EncryptionContext> {
    let mut ec = BTreeMap::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--context {p:?} must be KEY=VALUE"))?;
        ec.insert(k.to_owned(), v.to_owned());
    }
    Ok(ec)
}

fn serve(a: &ServeArgs, home: &Path) -> anyhow::Result<ExitCode> {
    let mut b = MockKms::builder();
    if !a.in_memory {
        b = b.state_dir(home.join("kms"));
    }
    if let Some(q) = a.quota.config() {
        b = b.quota(q);
    }
    let config = serve_config(a)?;
    let kms = b.build().context("opening the KMS state directory")?;
    let mut keys = a
        .access_keys
        .iter()
        .enumerate()
        .map(|(i, s)| {
            // The message never quotes the spec: it holds a secret.
            AccessKey::parse(s, kms.account_id()).map_err(|e| {
                crate::exit::Usage(format!("--access-key number {}: {e}", i + 1)).into()
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(path) = &a.access_key_file {
        keys.extend(read_access_key_file(path, kms.account_id())?);
    }
    if keys.is_empty() {
        crate::exit::usage!("no access keys: give --access-key or a non-empty --access-key-file");
    }
    let quota = a.quota.config().map_or_else(
        || "off".to_owned(),
        |q| format!("{} requests/s, burst {}", q.rate, q.burst),
    );
    let server = KmsServer::new(kms, keys);
    s3crypt::kms::server::run_with(a.listen, server, config, |addr| {
        let _ = outln!("listening on http://{addr}");
        eprintln!("s3crypt KMS: region us-east-1, quota {quota}; Ctrl-C stops");
        let _ = std::io::stdout().flush();
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The `--header-timeout`… flags over [`ServeConfig::default`].
fn serve_config(a: &ServeArgs) -> anyhow::Result<ServeConfig> {
    let mut c = ServeConfig::default();
    if let Some(s) = a.header_timeout {
        c.header_read_timeout = Duration::from_secs(s);
    }
    if let Some(s) = a.body_timeout {
        c.body_read_timeout = Duration::from_secs(s);
    }
    if let Some(s) = a.write_timeout {
        c.write_timeout = Duration::from_secs(s);
    }
    if let Some(n) = a.max_connections {
        c.max_connections = usize::try_from(n).context("--max-connections is too large")?;
    }
    if let Some(n) = a.max_body_bytes {
        c.max_body_bytes = usize::try_from(n).context("--max-body-bytes is too large")?;
    }
    c.validate()?;
    Ok(c)
}

/// The largest `--access-key-file` read (a few thousand keys).
const MAX_ACCESS_KEY_FILE: u64 = 1 << 20;

/// Reads `ID:SECRET[:ARN]` lines from `path`, skipping blank lines and `#` comments. Errors name the
/// line number, never its text (it holds a secret).
fn read_access_key_file(path: &Path, account_id: &str) -> anyhow::Result<Vec<AccessKey>> {
    let mut text = zeroize::Zeroizing::new(String::new());
    let file = std::fs::File::open(path)
        .with_context(|| format!("reading the access key file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if file
            .metadata()
            .is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
        {
            eprintln!(
                "s3crypt: warning: other users may read or change the access key file {} \
                 (chmod 600 it)",
                path.display()
            );
        }
    }
    file.take(MAX_ACCESS_KEY_FILE + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading the access key file {}", path.display()))?;
    if text.len() as u64 > MAX_ACCESS_KEY_FILE {
        bail!(
            "the access key file {} is larger than {MAX_ACCESS_KEY_FILE} bytes",
            path.display()
        );
    }
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = AccessKey::parse(line, account_id)
            .map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), i + 1))?;
        keys.push(key);
    }
    Ok(keys)
}

/// The largest `--clients`.
const MAX_LOAD_CLIENTS: usize = 1024;
/// The largest `--seconds`.
const MAX_LOAD_SECONDS: f64 = 3600.0;

/// `--access-key ID:SECRET`, else `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optional)
/// `AWS_SESSION_TOKEN`. Errors never quote a secret.
fn load_credentials(flag: Option<&str>) -> anyhow::Result<Credentials> {
    if let Some(spec) = flag {
        return match spec.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                Ok(Credentials::new(id, secret, None))
            }
            _ => crate::exit::usage!("--access-key must be ID:SECRET"),
        };
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(Credentials::new(
            id,
            zeroize::Zeroizing::new(secret).as_str(),
            var("AWS_SESSION_TOKEN"),
        )),
        _ => bail!(
            "--endpoint needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
             AWS_SESSION_TOKEN if temporary), or give --access-key ID:SECRET"
        ),
    }
}

fn load(a: &LoadArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    if !(1..=MAX_LOAD_CLIENTS).contains(&a.clients) {
        crate::exit::usage!("--clients must be between 1 and {MAX_LOAD_CLIENTS}");
    }
    // Also refuses NaN and infinity.
    if !(a.seconds > 0.0 && a.seconds <= MAX_LOAD_SECONDS) {
        crate::exit::usage!("--seconds must be positive and at most {MAX_LOAD_SECONDS}");
    }
    let target: Arc<dyn Kms> = match &a.endpoint {
        Some(url) => Arc::new(RemoteKms::new(
            url,
            &a.region,
            load_credentials(a.access_key.as_deref())?,
        )?),
        None => {
            let mut b = MockKms::builder();
            if let Some(q) = a.quota.config() {
                b = b.quota(q);
            }
            Arc::new(b.build()?)
        }
    };
    let key = target
        .create_key(&CreateKeyRequest::default())?
        .key_metadata
        .arn;
    let ctx: EncryptionContext = [("purpose".to_owned(), "load".to_owned())].into();
    let sample = target.generate_data_key(&GenerateDataKeyRequest::aes256(&key, ctx.clone()));
    let blob = match sample {
        Ok(r) => r.ciphertext_blob,
        Err(e) if e.kind() == &KmsErrorKind::Throttling => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let retrying = Arc::new(RetryingKms::new(
        Arc::clone(&target),
        RetryPolicy {
            max_attempts: a.attempts.max(1),
            ..RetryPolicy::default()
        },
    ));
    let stats = retrying.stats();
    let total = Duration::from_secs_f64(a.seconds);
    let per_client_interval =
        (a.rate > 0).then(|| Duration::from_secs_f64(a.clients as f64 / f64::from(a.rate)));
    let start = Instant::now();
    // Set if a client thread cannot be started, so the started ones stop at once.
    let abort = std::sync::atomic::AtomicBool::new(false);
    let results: std::io::Result<Vec<(Vec<Duration>, u64, u64)>> = std::thread::scope(|s| {
        let handles: std::io::Result<Vec<_>> = (0..a.clients)
            .map(|c| {
                let retrying = Arc::clone(&retrying);
                let (key, ctx, blob) = (key.clone(), ctx.clone(), blob.clone());
                let abort = &abort;
                std::thread::Builder::new().spawn_scoped(s, move || {
                    let mut lat = Vec::new();
                    let (mut throttled, mut other) = (0u64, 0u64);
                    let offset = per_client_interval
                        .map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / a.clients as f64));
                    let mut n = 0u32;
                    loop {
                        let due = per_client_interval.map_or(Duration::ZERO, |i| offset + i * n);
                        if due >= total
                            || start.elapsed() >= total
                            || abort.load(std::sync::atomic::Ordering::Relaxed)
                        {
                            break;
                        }
                        if let Some(wait) = due.checked_sub(start.elapsed()) {
                            std::thread::sleep(wait);
                        }
                        n += 1;
                        let t = Instant::now();
                        let r = match a.op {
                            LoadOp::GenerateDataKey => retrying
                                .generate_data_key(&GenerateDataKeyRequest::aes256(
                                    &key,
                                    ctx.clone(),
                                ))
                                .map(|_| ()),
                            LoadOp::Decrypt => retrying
                                .decrypt(&DecryptRequest::new(blob.clone(), ctx.clone()))
                                .map(|_| ()),
                        };
                        match r {
                            Ok(()) => lat.push(t.elapsed()),
                            Err(e) if e.kind() == &KmsErrorKind::Throttling => throttled += 1,
                            Err(_) => other += 1,
                        }
                    }
                    (lat, throttled, other)
                })
            })
            .collect();
        let handles = handles.inspect_err(|_| {
            abort.store(true, std::sync::atomic::Ordering::Relaxed);
        })?;
        Ok(handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect())
    });
    let results = results.context("starting the client threads")?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    lat.sort_unstable();
    let throttled: u64 = results.iter().map(|r| r.1).sum();
    let errors: u64 = results.iter().map(|r| r.2).sum();
    let (calls, attempts, throttled_attempts, retried, _) = stats.snapshot();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let accepted = lat.len() as u64;
    let report = json!({
        "target": a.endpoint.clone().unwrap_or_else(|| "in-process".into()),
        "op": format!("{:?}", a.op),
        "offered_rate": a.rate,
        "clients": a.clients,
        "seconds": elapsed,
        "calls": calls,
        "attempts": attempts,
        "accepted": accepted,
        "accepted_per_second": accepted as f64 / elapsed,
        "throttled": throttled,
        "throttled_attempts": throttled_attempts,
        "retried": retried,
        "other_errors": errors,
        "latency_us": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
        "quota": a.quota.config().map(|q| q.rate),
    });
    if json_out {
        outln!("{report}")?;
    } else {
        outln!(
            "{} calls in {elapsed:.2} s from {} clients: {accepted} accepted ({:.0}/s), {throttled} throttled, {retried} retried, {errors} other errors",
            calls,
            a.clients,
            accepted as f64 / elapsed
        )?;
        outln!(
            "latency of accepted calls (µs): p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
