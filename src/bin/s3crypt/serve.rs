//! `s3crypt serve` (the S3 endpoint) and `s3crypt presign` (presigned URLs for it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use s3crypt::aws::presign::presign_url;
use s3crypt::aws::sigv4::{Credentials, uri_encode};
use s3crypt::iam::users::{AccountStore, RootKeySpec};
use s3crypt::iam::{Caller, Principal};
use s3crypt::server::tls::{self, TlsFiles};
use s3crypt::server::vpc_endpoint::{EndpointPolicies, VpcEndpoint};
use s3crypt::server::{
    DEFAULT_HTTPS_ADDR, Identity, IdentitySource, Listeners, S3Service, ServerOptions, StaticKeys,
};
use s3crypt::sse::engine::LOCAL_ACCOUNT;

/// `s3crypt serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// HTTPS listener address (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_HTTPS_ADDR)]
    https: SocketAddr,
    /// Also serve plain HTTP on this address (SSE-C and SSE-KMS are refused there, as by S3).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Serve plain HTTP only (with --http); no HTTPS listener.
    #[arg(long, requires = "http", conflicts_with = "vpc_endpoints")]
    no_https: bool,
    /// A VPC endpoint, vpce-ID=ADDR[,vpc=VPC-ID] (repeatable): an HTTPS listener on a loopback
    /// address (e.g. 127.0.0.2:8443) whose requests carry aws:SourceVpce/aws:SourceVpc, obey the
    /// endpoint's policy (s3crypt vpc-endpoint put-policy) and alone reach access points of that
    /// VPC. The VPC defaults to vpc- and the endpoint id's suffix.
    #[arg(long = "vpc-endpoint", value_name = "vpce-ID=ADDR[,vpc=VPC-ID]", value_parser = parse_vpc_endpoint)]
    vpc_endpoints: Vec<VpcEndpoint>,
    /// An access key, ID:SECRET[:PRINCIPAL_ARN] (repeatable). The first is the account root unless it
    /// names another principal; without any, the root keys stored in the home are used (made on first
    /// start; `s3crypt iam root` shows them). Prefer S3CRYPT_ACCESS_KEY: argv is visible to other
    /// local users.
    #[arg(
        long = "access-key",
        value_name = "ID:SECRET[:ARN]",
        env = "S3CRYPT_ACCESS_KEY",
        value_delimiter = ','
    )]
    access_keys: Vec<String>,
    /// The server certificate chain (PEM), instead of the local CA's certificate.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The server private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The region of the endpoint (credential scopes must name it).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// A domain under which buckets are addressed virtual-hosted style, BUCKET.DOMAIN (repeatable).
    #[arg(long = "domain", value_name = "NAME", default_value = "localhost")]
    domains: Vec<String>,
    /// Request logs as JSON lines (on stderr).
    #[arg(long)]
    log_json: bool,
    /// Log filter (tracing's EnvFilter syntax), e.g. `info`, `warn`, `s3crypt::access=off`.
    #[arg(long, env = "S3CRYPT_LOG", default_value = "info")]
    log: String,
    /// Seconds a batch of server access log records (PutBucketLogging) stays open before it is
    /// delivered as a log object; open batches are also delivered on shutdown.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    access_log_interval: u64,
    /// The Python interpreter that runs Lambda functions (`s3crypt lambda create-function --runtime
    /// python`) for Object Lambda access points; it needs `awslambdaric` (scripts/venv.sh installs it).
    /// Default: `./.venv/bin/python`, else `python3`.
    #[arg(long, value_name = "PATH", env = "S3CRYPT_PYTHON")]
    lambda_python: Option<std::path::PathBuf>,
    #[cfg(feature = "s3-client")]
    #[command(flatten)]
    gateway: crate::gateway::GatewayArgs,
}

fn parse_vpc_endpoint(spec: &str) -> Result<VpcEndpoint, String> {
    VpcEndpoint::parse(spec).map_err(|e| e.to_string())
}

/// Parses `ID:SECRET[:ARN]`; the ARN defaults to the root of `account`.
fn parse_key(spec: &str, account: &str) -> anyhow::Result<Identity> {
    let mut parts = spec.splitn(3, ':');
    let id = parts.next().unwrap_or_default();
    let secret = parts.next().unwrap_or_default();
    if id.is_empty() || secret.is_empty() {
        crate::exit::usage!("an access key must be given as ID:SECRET or ID:SECRET:PRINCIPAL_ARN");
    }
    let principal = match parts.next() {
        None => Principal::root(account, id),
        Some(arn) => match Caller::from_arn(arn) {
            Caller::Principal(mut p) => {
                p.access_key_id = id.to_owned();
                p
            }
            _ => bail!(
                "{arn:?} is not an IAM principal ARN (arn:aws:iam::ACCOUNT:root or :user/NAME)"
            ),
        },
    };
    Ok(Identity {
        principal,
        credentials: Credentials::new(id, secret, None),
        policies: Vec::new(),
    })
}

fn init_logging(args: &ServeArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .with_context(|| format!("--log {:?}", args.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true);
    let done = if args.log_json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
    done.map_err(|e| anyhow::anyhow!("logging: {e}"))
}

/// The identities the server accepts: the `--access-key` flags, then the home's account store.
fn identities(args: &ServeArgs, home: &Path) -> anyhow::Result<(Arc<dyn IdentitySource>, String)> {
    let mut keys = Vec::new();
    for spec in &args.access_keys {
        keys.push(parse_key(spec, LOCAL_ACCOUNT)?);
    }
    let store = AccountStore::open(home)?;
    // The first --access-key is the account root for this run (not stored); without one, the root
    // stored in the home (made on first start).
    let given = match args.access_keys.first() {
        Some(spec) if parse_key(spec, LOCAL_ACCOUNT)?.principal.is_root() => {
            keys.remove(0);
            Some(RootKeySpec::parse(spec)?)
        }
        _ => None,
    };
    let root = store.ensure_root(given)?;
    let root_id = root.access_key_id.clone();
    let fallback: Arc<dyn IdentitySource> = Arc::new(store);
    Ok((Arc::new(StaticKeys::new(keys, Some(fallback))), root_id))
}

/// `s3crypt serve`.
pub(crate) fn serve(args: &ServeArgs, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    init_logging(args)?;
    #[cfg(feature = "s3-client")]
    let (engine, gateway) = match crate::gateway::engine(&args.gateway)? {
        Some((e, g)) => (Arc::new(e), Some(g)),
        None => (Arc::new(crate::sse::engine(home)?), None),
    };
    #[cfg(not(feature = "s3-client"))]
    let engine = Arc::new(crate::sse::engine(home)?);
    let mut seen = std::collections::HashSet::new();
    for e in &args.vpc_endpoints {
        if !seen.insert(&e.id) {
            crate::exit::usage!("--vpc-endpoint {} is given twice", e.id);
        }
    }
    let vpc_names: Vec<String> = args
        .vpc_endpoints
        .iter()
        .map(|e| e.addr.ip().to_string())
        .collect();
    let files = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: None,
        },
        _ => tls::ensure_local_ca(home, &vpc_names)?,
    };
    let tls_config = if args.no_https {
        None
    } else {
        Some(tls::server_config(&files)?)
    };
    let (identities, root_id) = identities(args, home)?;
    let options = ServerOptions {
        region: args.region.clone(),
        domains: args
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
        access_logs: s3crypt::server::DeliveryOptions {
            interval: std::time::Duration::from_secs(args.access_log_interval),
        },
        vpc_endpoints: args.vpc_endpoints.clone(),
        ..ServerOptions::default()
    };
    let vaults = s3crypt::glacier::Glacier::open(home, &options.region)
        .map_err(|e| anyhow::anyhow!("the Glacier vaults: {e}"))?;
    let service = Arc::new(
        S3Service::new(engine, identities, options)
            .with_glacier(Arc::new(vaults))
            .with_vpc_endpoint_policies(Arc::new(EndpointPolicies::new(home))),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    #[cfg(feature = "s3-client")]
    if let Some(g) = &gateway {
        crate::gateway::spawn_cleanup(g);
    }
    rt.block_on(async move {
        let https = match tls_config {
            Some(cfg) => Some((
                tokio::net::TcpListener::bind(args.https)
                    .await
                    .with_context(|| format!("binding {}", args.https))?,
                cfg,
            )),
            None => None,
        };
        let http = match args.http {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("binding {a}"))?,
            ),
            None => None,
        };
        let mut vpc = Vec::new();
        let mut vpc_urls = serde_json::Map::new();
        for e in &args.vpc_endpoints {
            let l = tokio::net::TcpListener::bind(e.addr)
                .await
                .with_context(|| format!("binding {} for {}", e.addr, e.id))?;
            vpc_urls.insert(
                e.id.clone(),
                serde_json::Value::String(format!("https://{}", l.local_addr()?)),
            );
            vpc.push(l);
        }
        let https_url = match &https {
            Some((l, _)) => Some(format!("https://{}", l.local_addr()?)),
            None => None,
        };
        let http_url = match &http {
            Some(l) => Some(format!("http://{}", l.local_addr()?)),
            None => None,
        };
        let ca = files.ca.as_ref().map(|p| p.display().to_string());
        // Object Lambda: functions reach this server at https://localhost:PORT (in the certificate),
        // with credentials of their execution role issued by it.
        if let Some((l, _)) = &https {
            let endpoint = format!("https://localhost:{}", l.local_addr()?.port());
            let registry = s3crypt::lambda::FunctionRegistry::open(home)
                .map_err(|e| anyhow::anyhow!("the Lambda functions: {e}"))?;
            let mut options = s3crypt::lambda::HostOptions::new(&args.region, LOCAL_ACCOUNT);
            if let Some(python) = &args.lambda_python {
                options.python.clone_from(python);
            }
            options.env_provider = Some(s3crypt::server::object_lambda_environment(
                Arc::clone(service.sessions()),
                LOCAL_ACCOUNT.to_owned(),
                endpoint.clone(),
                ca.clone(),
            ));
            service.set_object_lambda_runtime(s3crypt::server::ObjectLambdaRuntime {
                host: Arc::new(s3crypt::lambda::LambdaHost::new(registry, options)),
                endpoint,
                accounts: s3crypt::iam::users::AccountStore::open(home).ok(),
            });
        }
        if json {
            outln!(
                "{}",
                serde_json::json!({
                    "https": https_url,
                    "http": http_url,
                    "ca": ca,
                    "region": args.region,
                    "access_key_id": root_id,
                    "vpc_endpoints": vpc_urls,
                })
            )?;
        } else {
            for url in [&https_url, &http_url].into_iter().flatten() {
                outln!("listening on {url}")?;
            }
            for (id, url) in &vpc_urls {
                outln!("VPC endpoint {id} on {}", url.as_str().unwrap_or_default())?;
            }
            if let Some(ca) = &ca {
                outln!("CA certificate: {ca} (AWS_CA_BUNDLE={ca})")?;
            }
            outln!("access key id: {root_id} (secret: s3crypt iam root)")?;
        }
        let shutdown = async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        s3crypt::server::serve(
            Arc::clone(&service),
            Listeners { https, http, vpc },
            shutdown,
        )
        .await?;
        // The listeners are closed: stop the functions' processes.
        if let Some(rt) = service.object_lambda_runtime() {
            rt.host.shutdown().await;
        }
        // The listeners are closed: deliver the open batches of access logs.
        tokio::task::spawn_blocking(move || service.close_access_logs()).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `s3crypt presign`.
#[derive(Debug, clap::Args)]
pub(crate) struct PresignArgs {
    /// BUCKET/KEY.
    target: String,
    /// Seconds the URL is valid (1..604800).
    #[arg(long, default_value_t = 3600)]
    expires_in: u64,
    /// The HTTP method the URL allows.
    #[arg(long, default_value = "GET", value_parser = ["GET", "PUT", "HEAD", "DELETE"])]
    method: String,
    /// The endpoint the URL points at.
    #[arg(
        long,
        value_name = "URL",
        env = "AWS_ENDPOINT_URL_S3",
        default_value = "https://127.0.0.1:9443"
    )]
    endpoint_url: String,
    /// The region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Sign with this access key, ID:SECRET, instead of the home's root key.
    #[arg(
        long = "access-key",
        value_name = "ID:SECRET",
        env = "S3CRYPT_ACCESS_KEY"
    )]
    access_key: Option<String>,
}

/// `s3crypt presign`: a URL like `aws s3 presign` prints (path-style).
pub(crate) fn presign(args: &PresignArgs, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (bucket, key) = args
        .target
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .with_context(|| format!("{:?} must be BUCKET/KEY", args.target))?;
    let creds = match &args.access_key {
        Some(spec) => parse_key(spec, LOCAL_ACCOUNT)?.credentials,
        None => AccountStore::open(home)?.ensure_root(None)?.credentials(),
    };
    let url = format!(
        "{}/{}/{}",
        args.endpoint_url.trim_end_matches('/'),
        uri_encode(bucket, false),
        uri_encode(key, true)
    );
    let signed = presign_url(
        &args.method,
        &url,
        &creds,
        &args.region,
        "s3",
        SystemTime::now(),
        args.expires_in,
        &[],
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if json {
        outln!(
            "{}",
            serde_json::json!({ "url": signed, "method": args.method, "expires_in": args.expires_in })
        )?;
    } else {
        outln!("{signed}")?;
    }
    Ok(ExitCode::SUCCESS)
}
