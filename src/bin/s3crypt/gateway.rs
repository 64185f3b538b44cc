//! `s3crypt serve --upstream URL`: the gateway in front of an existing S3-compatible cluster. Objects
//! go to the upstream as ciphertext; bucket configuration and the SSE-S3 root keys (sealed under a
//! KMS key) live in its state bucket, so several instances serve the same buckets.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use s3crypt::aws::sdk::S3ClientConfig;
use s3crypt::aws::sigv4::Credentials;
use s3crypt::kms::remote::RemoteKms;
use s3crypt::kms::retry::{RetryPolicy, RetryingKms};
use s3crypt::kms::{CreateAliasRequest, CreateKeyRequest, DescribeKeyRequest, Kms, KmsErrorKind};
use s3crypt::sse::engine::SseEngine;
use s3crypt::sse::roots::RootKeys;
use s3crypt::sse::roots::sealed::SealedRoots;
use s3crypt::store::ObjectStore;
use s3crypt::store::upstream::{DEFAULT_STATE_BUCKET, UpstreamOptions, UpstreamStore};

/// The alias of the KMS key the SSE-S3 root keys are sealed under, created on first use.
pub(crate) const ROOTS_KEY_ALIAS: &str = "alias/s3crypt-sse-s3-roots";

/// Gateway options of `s3crypt serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct GatewayArgs {
    /// Keep objects and shared state in this S3-compatible cluster (https://HOST[:PORT]) instead of the
    /// home: s3crypt becomes an encrypting gateway, and several instances can serve the same buckets.
    /// Needs --kms-endpoint.
    #[arg(long, value_name = "URL", requires = "kms_endpoint")]
    upstream: Option<String>,
    /// The upstream's region.
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    upstream_region: String,
    /// Credentials for the upstream, ID:SECRET[:SESSION_TOKEN]; default: the AWS credential chain
    /// (environment, shared files, profiles, SSO, IMDS). Prefer the environment variable: argv is visible
    /// to other local users.
    #[arg(
        long,
        value_name = "ID:SECRET",
        env = "S3CRYPT_UPSTREAM_ACCESS_KEY",
        hide_env_values = true
    )]
    upstream_access_key: Option<String>,
    /// A PEM bundle of CA certificates the upstream's certificate chains to, trusted besides the
    /// system's roots (also AWS_CA_BUNDLE).
    #[arg(long, value_name = "PEM")]
    upstream_ca_bundle: Option<std::path::PathBuf>,
    /// A PEM bundle of the CA certificates to trust for an https:// --kms-endpoint, instead of the
    /// built-in Mozilla roots.
    #[arg(long, value_name = "PEM")]
    kms_ca_bundle: Option<std::path::PathBuf>,
    /// The upstream bucket holding shared state: bucket configuration, staged parts, sealed root keys.
    #[arg(long, value_name = "BUCKET", default_value = DEFAULT_STATE_BUCKET)]
    state_bucket: String,
    /// Seconds a configuration document read from the upstream is reused: a change made through
    /// another instance is obeyed within this time.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    state_refresh: f64,
    /// The KMS (AWS KMS, `s3crypt kms serve`, …) for SSE-KMS and for sealing the SSE-S3 root keys.
    #[arg(long, value_name = "URL")]
    kms_endpoint: Option<String>,
    /// Credentials for the KMS, ID:SECRET[:SESSION_TOKEN]; default: the AWS credential chain
    /// (environment, shared files, profiles, SSO, IMDS).
    #[arg(
        long,
        value_name = "ID:SECRET",
        env = "S3CRYPT_KMS_ACCESS_KEY",
        hide_env_values = true
    )]
    kms_access_key: Option<String>,
    /// The KMS's region.
    #[arg(long, value_name = "REGION")]
    kms_region: Option<String>,
    /// The KMS key the SSE-S3 root keys are sealed under (default: alias/s3crypt-sse-s3-roots, created
    /// on first use).
    #[arg(long, value_name = "KEY")]
    roots_key_id: Option<String>,
    /// Seconds after which an upstream multipart upload that no instance completed (an instance died
    /// mid-request) is aborted by the cleanup pass, run at start and every ten minutes.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    orphan_grace: u64,
}

fn credentials(spec: &str, what: &str) -> anyhow::Result<Credentials> {
    let mut parts = spec.splitn(3, ':');
    let (id, secret) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if id.is_empty() || secret.is_empty() {
        // The message never quotes the spec: it holds a secret.
        crate::exit::usage!("{what} must be ID:SECRET or ID:SECRET:SESSION_TOKEN");
    }
    Ok(Credentials::new(
        id,
        secret,
        parts.next().map(str::to_owned),
    ))
}

/// Credentials and region from the AWS default chain, resolved once at start.
fn chain_credentials() -> anyhow::Result<(Credentials, Option<String>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let id = rt
        .block_on(s3crypt::aws::sdk::chain_identity(None))
        .context(
            "the KMS needs credentials: --kms-access-key ID:SECRET, or the AWS credential chain \
         (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, IMDS)",
        )?;
    Ok((id.credentials, id.region))
}

/// A running gateway's store, for its cleanup pass.
pub(crate) struct Gateway {
    pub(crate) store: UpstreamStore,
    pub(crate) orphan_grace: Duration,
}

/// The engine over the upstream, if `--upstream` is given.
pub(crate) fn engine(args: &GatewayArgs) -> anyhow::Result<Option<(SseEngine, Gateway)>> {
    let Some(url) = &args.upstream else {
        return Ok(None);
    };
    if !(args.state_refresh >= 0.0 && args.state_refresh <= 3600.0) {
        crate::exit::usage!("--state-refresh must be between 0 and 3600 seconds");
    }
    let mut options = UpstreamOptions::new(S3ClientConfig {
        endpoint: Some(url.clone()),
        region: Some(args.upstream_region.clone()),
        credentials: args
            .upstream_access_key
            .as_deref()
            .map(|s| credentials(s, "--upstream-access-key"))
            .transpose()?,
        ca_bundle: args.upstream_ca_bundle.clone(),
        ..S3ClientConfig::default()
    });
    options.state_bucket.clone_from(&args.state_bucket);
    options.refresh = Duration::from_secs_f64(args.state_refresh);
    let store = UpstreamStore::open(&options)
        .with_context(|| format!("the upstream {url} (state bucket {})", args.state_bucket))?;
    let kms_url = args
        .kms_endpoint
        .as_deref()
        .context("--upstream needs --kms-endpoint")?;
    let (kms_creds, chain_region) = match &args.kms_access_key {
        Some(s) => (credentials(s, "--kms-access-key")?, None),
        None => chain_credentials()?,
    };
    let region = args
        .kms_region
        .clone()
        .or(chain_region)
        .unwrap_or_else(|| args.upstream_region.clone());
    let mut remote = RemoteKms::new(kms_url, &region, kms_creds)?;
    if let Some(path) = &args.kms_ca_bundle
        && kms_url.starts_with("https://")
    {
        remote = remote.with_ca_bundle_file(path)?;
    }
    let remote: Arc<dyn Kms> = Arc::new(remote);
    // SSE-KMS requests and root unsealing ride out a throttling KMS with backoff, as the AWS SDKs do.
    let kms: Arc<dyn Kms> = Arc::new(RetryingKms::new(remote, RetryPolicy::default()));
    let roots_key = match &args.roots_key_id {
        Some(k) => k.clone(),
        None => ensure_roots_key(kms.as_ref())?,
    };
    let has_buckets = !store.list_buckets()?.is_empty();
    let vault = Arc::new(SealedRoots::new(store.clone(), Arc::clone(&kms), roots_key));
    let roots = RootKeys::open_shared(vault, has_buckets.then_some("the upstream's buckets"))?;
    let engine = SseEngine::with_roots(Arc::new(store.clone()), roots, kms);
    Ok(Some((
        engine,
        Gateway {
            store,
            orphan_grace: Duration::from_secs(args.orphan_grace),
        },
    )))
}

/// The KMS key of [`ROOTS_KEY_ALIAS`], created (with the alias) if the KMS has none.
fn ensure_roots_key(kms: &dyn Kms) -> anyhow::Result<String> {
    match kms.describe_key(&DescribeKeyRequest::new(ROOTS_KEY_ALIAS)) {
        Ok(r) => return Ok(r.key_metadata.arn),
        Err(e) if e.kind() == &KmsErrorKind::NotFound => {}
        Err(e) => return Err(e).context("looking up the root keys' KMS key"),
    }
    let mut request = CreateKeyRequest::default();
    request.description = Some("s3crypt gateway: seals the SSE-S3 root keys".to_owned());
    let created = kms
        .create_key(&request)
        .context("creating the root keys' KMS key")?;
    match kms.create_alias(&CreateAliasRequest::new(
        ROOTS_KEY_ALIAS,
        &created.key_metadata.key_id,
    )) {
        Ok(_) => Ok(created.key_metadata.arn),
        // Another instance made it first: use theirs (the key made here stays unused).
        Err(e) if e.kind() == &KmsErrorKind::AlreadyExists => Ok(kms
            .describe_key(&DescribeKeyRequest::new(ROOTS_KEY_ALIAS))?
            .key_metadata
            .arn),
        Err(e) => Err(e).context("naming the root keys' KMS key"),
    }
}

/// Runs the cleanup pass now and every ten minutes (on a blocking thread; it makes upstream calls).
pub(crate) fn spawn_cleanup(g: &Gateway) {
    let (store, grace) = (g.store.clone(), g.orphan_grace);
    std::thread::spawn(move || {
        loop {
            match store.abort_orphaned_uploads(grace) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(target: "s3crypt::gateway", aborted = n, "aborted upstream multipart uploads left by interrupted requests")
                }
                Err(e) => {
                    tracing::warn!(target: "s3crypt::gateway", error = %e, "the cleanup pass failed")
                }
            }
            std::thread::sleep(Duration::from_secs(600));
        }
    });
}

/// `s3crypt gateway …`: maintenance of a gateway's shared state, run from any machine that reaches the
/// upstream and the KMS (the running instances need no restart).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Add a new version to the shared SSE-S3 root keys (sealed under the KMS key in the state
    /// bucket). New objects use it on every instance within a second; old objects stay readable.
    RotateRoot {
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Move a bucket's SSE-S3 objects to the newest root key version (headers only; the data is not
    /// re-encrypted). Objects of a versioned bucket cannot be rewritten in place (501).
    Reseal {
        /// The bucket.
        bucket: String,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Abort the upstream multipart uploads that no instance completed and that are older than
    /// --orphan-grace (what every instance does at start and every ten minutes).
    Cleanup {
        #[command(flatten)]
        gateway: GatewayArgs,
    },
}

pub(crate) fn run(a: &Args, json: bool) -> anyhow::Result<std::process::ExitCode> {
    let gateway = match &a.command {
        Command::RotateRoot { gateway }
        | Command::Reseal { gateway, .. }
        | Command::Cleanup { gateway } => gateway,
    };
    let (engine, g) = engine(gateway)?.context("--upstream URL is required")?;
    let (text, value) = match &a.command {
        Command::RotateRoot { .. } => {
            let v = engine.rotate_root()?;
            (
                format!("SSE-S3 root key version {v} is now the newest (shared by every instance)"),
                serde_json::json!({ "root_version": v }),
            )
        }
        Command::Reseal { bucket, .. } => {
            let n = engine.reseal(bucket)?;
            (
                format!("resealed {n} objects of {bucket} under the newest root key"),
                serde_json::json!({ "bucket": bucket, "resealed_objects": n }),
            )
        }
        Command::Cleanup { .. } => {
            let n = g.store.abort_orphaned_uploads(g.orphan_grace)?;
            (
                format!(
                    "aborted {n} orphaned upstream multipart uploads (older than {} s)",
                    g.orphan_grace.as_secs()
                ),
                serde_json::json!({ "aborted_uploads": n }),
            )
        }
    };
    if json {
        outln!("{value}")?;
    } else {
        outln!("{text}")?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}
