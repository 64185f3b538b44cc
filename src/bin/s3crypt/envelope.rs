//! `s3crypt encrypt`, `s3crypt decrypt`, `s3crypt gen-key`: client-side envelope encryption of files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IsTerminal as _, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use s3crypt::aws::sigv4::Credentials;
use s3crypt::envelope::file::{self, INSTRUCTION_SUFFIX, METADATA_SUFFIX, with_suffix};
use s3crypt::envelope::{
    AesKeyring, CommitmentPolicy, Decryptor, Encryptor, Format, Keyring, KmsKeyring, MetadataMap,
};
use s3crypt::fsutil::{Destination, refuse_aliases};
use s3crypt::keys::KeyEncryptionKey;
use s3crypt::kms::remote::RemoteKms;
use s3crypt::kms::retry::{RetryPolicy, RetryingKms};
use s3crypt::kms::{CreateAliasRequest, CreateKeyRequest, DescribeKeyRequest, Kms};
use s3crypt::range::ByteRange;

/// The alias of the key the built-in KMS creates on first use.
pub(crate) const DEFAULT_KEY_ALIAS: &str = "alias/s3crypt-default";

#[derive(Debug, clap::Args)]
pub(crate) struct KeyArgs {
    /// KMS key (id, ARN, alias) for the data key. Default: the built-in KMS's alias/s3crypt-default,
    /// created on first use.
    #[arg(long, value_name = "KEY", conflicts_with = "wrapping_key")]
    kms_key: Option<String>,
    /// A raw AES-256 wrapping key file (32 bytes, or 64 hex characters), as the official clients' AES keyring.
    #[arg(long, value_name = "FILE")]
    wrapping_key: Option<PathBuf>,
    /// Use a remote KMS (AWS KMS, moto, `s3crypt kms serve`) at this URL instead of the built-in one.
    /// Credentials come from --access-key-file, else --access-key, else the AWS default chain
    /// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, the shared config and
    /// credentials files with AWS_PROFILE, SSO, web identity, ECS, IMDS). Throttled and failed
    /// requests are retried with exponential backoff and jitter (--max-attempts).
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL_KMS")]
    kms_endpoint: Option<String>,
    /// Attempts per KMS request to --kms-endpoint, the first included (as AWS_MAX_ATTEMPTS for aws-cli).
    #[arg(long, value_name = "N", env = "AWS_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    max_attempts: u32,
    /// CA certificates (PEM) to trust for an https:// --kms-endpoint instead of the built-in roots.
    #[arg(long, value_name = "PEM", env = "AWS_CA_BUNDLE")]
    kms_ca_bundle: Option<PathBuf>,
    /// Credentials for --kms-endpoint as ID:SECRET. Other local users can read command lines
    /// (/proc/PID/cmdline): prefer --access-key-file or the environment.
    #[arg(long, value_name = "ID:SECRET", conflicts_with = "access_key_file")]
    access_key: Option<String>,
    /// A file holding ID:SECRET (or ID:SECRET:SESSION_TOKEN) for --kms-endpoint.
    #[arg(long, value_name = "FILE")]
    access_key_file: Option<PathBuf>,
    /// Region for --kms-endpoint (default us-east-1) and for s3:// paths (default: AWS_REGION, the
    /// profile's, else us-east-1).
    #[arg(long)]
    region: Option<String>,
}

/// Where s3:// objects live and how to reach them; credentials come from the AWS default chain
/// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, profiles, SSO, IMDS, ...).
#[cfg(feature = "s3-client")]
#[derive(Debug, clap::Args)]
pub(crate) struct S3Args {
    /// S3 endpoint for s3:// paths (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's, or AWS).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// AWS profile for s3:// paths (credentials, region, endpoint; default: AWS_PROFILE).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Extra trusted CA certificates (PEM) for the S3 endpoint (default: AWS_CA_BUNDLE).
    #[arg(long, value_name = "PEM")]
    ca_bundle: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct EncryptArgs {
    /// Input file, or - for stdin.
    input: String,
    /// Output body file (its metadata goes to OUT.metadata.json), - for stdout (then --metadata is
    /// required), or s3://BUCKET/KEY (metadata as the object's user metadata or instruction file).
    output: String,
    #[command(flatten)]
    key: KeyArgs,
    #[cfg(feature = "s3-client")]
    #[command(flatten)]
    s3: S3Args,
    /// For s3:// outputs: bytes of ciphertext per uploaded part (at least 5 MiB; suffixes KiB, MiB, GiB).
    /// Default: 8 MiB, more for files that would need over 10000 parts.
    #[cfg(feature = "s3-client")]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    part_size: Option<usize>,
    /// Object format: v3 (committing, the default) or v2.
    #[arg(long, value_enum, default_value = "v3")]
    format: FormatArg,
    /// Encryption context pairs. With a KMS key they are the KMS encryption context; with
    /// --wrapping-key they are stored as the material description (x-amz-m / x-amz-matdesc), which
    /// decryption with --context checks, as the official clients' AES keyring does.
    #[arg(long = "context", value_name = "K=V")]
    context: Vec<String>,
    /// Also write an instruction file (OUT.instruction, or the object KEY.instruction) with the V3 split rules.
    #[arg(long)]
    instruction_file: bool,
    /// Where to write the metadata JSON (default: OUT.metadata.json).
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DecryptArgs {
    /// Encrypted body file, - for stdin (then --metadata is required), or s3://BUCKET/KEY.
    input: String,
    /// Output file, or - for stdout. Written only after the whole object authenticates.
    output: String,
    /// Write the plaintext to stdout even when it is a terminal.
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    key: KeyArgs,
    #[cfg(feature = "s3-client")]
    #[command(flatten)]
    s3: S3Args,
    /// Decrypt only this range of the plaintext: bytes=A-B, bytes=A- or bytes=-N. From s3:// it is read
    /// with ranged GETs and is NOT authenticated (as S3EC's ranged GET).
    #[arg(long, value_name = "RANGE")]
    range: Option<ByteRange>,
    /// With --range: skip authenticating the whole object (faster, as S3EC's ranged GET; the range is
    /// then NOT authenticated).
    #[arg(long, requires = "range")]
    skip_authentication: bool,
    /// The encryption context (KMS) or material description (--wrapping-key) the object must have been
    /// encrypted with.
    #[arg(long = "context", value_name = "K=V")]
    context: Vec<String>,
    /// Accept V2 (non-committing) objects.
    #[arg(long)]
    allow_v2: bool,
    /// Accept legacy V1 (AES/CBC) objects, which have NO integrity protection (whole objects only).
    #[arg(long, conflicts_with = "range")]
    allow_legacy_v1: bool,
    /// The metadata JSON (default: IN.metadata.json, merged with IN.instruction if present).
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FormatArg {
    V3,
    V2,
}

pub(crate) fn encrypt(a: &EncryptArgs, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if is_s3(&a.input) {
        crate::exit::usage!(
            "encrypt reads a local file or - (stdin); its output may be s3://BUCKET/KEY"
        );
    }
    if is_s3(&a.output) {
        #[cfg(feature = "s3-client")]
        return s3::encrypt(a, home, json);
        #[cfg(not(feature = "s3-client"))]
        bail!("{S3_UNSUPPORTED}");
    }
    // Refuse outputs that would overwrite an input before anything is read or written.
    let mut inputs = vec![("input".to_owned(), crate::files::input_id(&a.input)?)];
    if let Some(k) = &a.key.wrapping_key {
        inputs.push(("wrapping key".into(), crate::files::regular_id(k)?));
    }
    let mut outputs = vec![("output".to_owned(), crate::files::output_id(&a.output)?)];
    if a.output != "-" {
        let out = Path::new(&a.output);
        for (role, suffix) in [
            ("output's metadata sidecar", METADATA_SUFFIX),
            ("output's instruction file", INSTRUCTION_SUFFIX),
        ] {
            outputs.push((
                role.into(),
                crate::files::regular_id(&with_suffix(out, suffix))?,
            ));
        }
    }
    if let Some(m) = &a.metadata {
        outputs.push(("--metadata file".into(), crate::files::regular_id(m)?));
    }
    refuse_aliases(&inputs, &outputs)?;
    if a.output == "-" && a.metadata.is_none() {
        crate::exit::usage!("--metadata FILE is required when the output is stdout");
    }
    let keyring = keyring(&a.key, home, true)?;
    let context = parse_context(&a.context)?;
    let (format, policy) = match a.format {
        FormatArg::V3 => (Format::V3, CommitmentPolicy::RequireEncryptRequireDecrypt),
        FormatArg::V2 => (Format::V2, CommitmentPolicy::ForbidEncryptAllowDecrypt),
    };
    let encryptor = Encryptor::new(keyring.as_ref(), format, &context, policy)?;
    let mut input = open_input(&a.input)?;
    if a.output == "-" {
        if let Some(m) = &a.metadata {
            crate::files::clean_beside(m);
            file::write_metadata(m, &encryptor.metadata())
                .with_context(|| format!("writing {}", m.display()))?;
        }
        let stdout = io::stdout();
        file::encrypt_stream(encryptor, &mut input, &mut stdout.lock())?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = Path::new(&a.output);
    crate::files::clean_beside(out);
    let md = encryptor.metadata();
    let n = file::encrypt_file(
        encryptor,
        &mut input,
        out,
        a.instruction_file,
        a.metadata.as_deref(),
    )?;
    if json {
        outln!(
            "{}",
            serde_json::json!({"output": a.output, "plaintext_bytes": n, "metadata": md})
        )?;
    } else {
        eprintln!(
            "encrypted {n} bytes to {} (metadata in {})",
            a.output,
            with_suffix(out, METADATA_SUFFIX).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn decrypt(a: &DecryptArgs, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if a.output == "-" && !a.force && io::stdout().is_terminal() {
        return Err(crate::exit::Usage(
            "refusing to write plaintext to a terminal; redirect stdout, or pass --force".into(),
        )
        .into());
    }
    if is_s3(&a.output) {
        bail!("decrypt writes a local file or - (stdout); its input may be s3://BUCKET/KEY");
    }
    if is_s3(&a.input) {
        #[cfg(feature = "s3-client")]
        return s3::decrypt(a, home, json);
        #[cfg(not(feature = "s3-client"))]
        bail!("{S3_UNSUPPORTED}");
    }
    // Refuse an output that is the input, its sidecar, its instruction file or a key, before anything
    // is read or written.
    let mut inputs = vec![("input".to_owned(), crate::files::input_id(&a.input)?)];
    match &a.metadata {
        Some(m) => inputs.push(("--metadata file".into(), crate::files::regular_id(m)?)),
        None if a.input != "-" => {
            let body = Path::new(&a.input);
            inputs.push((
                "input's metadata sidecar".into(),
                crate::files::regular_id(&with_suffix(body, METADATA_SUFFIX))?,
            ));
            inputs.push((
                "input's instruction file".into(),
                crate::files::regular_id(&with_suffix(body, INSTRUCTION_SUFFIX))?,
            ));
        }
        None => {}
    }
    if let Some(k) = &a.key.wrapping_key {
        inputs.push(("wrapping key".into(), crate::files::regular_id(k)?));
    }
    let outputs = [("output".to_owned(), crate::files::output_id(&a.output)?)];
    refuse_aliases(&inputs, &outputs)?;
    let metadata: MetadataMap = match (&a.metadata, a.input.as_str()) {
        (Some(m), _) => file::parse_map(
            &std::fs::read_to_string(m).with_context(|| format!("reading {}", m.display()))?,
            m,
        )?,
        (None, "-") => crate::exit::usage!("--metadata FILE is required when the input is stdin"),
        (None, path) => file::read_metadata(Path::new(path))?,
    };
    let keyring = keyring(&a.key, home, false)?;
    let context = optional_context(&a.context)?;
    if a.allow_legacy_v1
        && matches!(
            s3crypt::envelope::metadata::detect(&metadata),
            Ok(Format::V1)
        )
    {
        if a.input == "-" {
            crate::exit::usage!("--allow-legacy-v1 needs a file input");
        }
        let body = std::fs::read(&a.input).with_context(|| format!("reading {}", a.input))?;
        let pt = zeroize::Zeroizing::new(
            s3crypt::envelope::LegacyV1Decryptor::new(keyring.as_ref(), &metadata)?
                .decrypt_to_vec(&body)?,
        );
        crate::files::write_bytes(&a.output, &pt)?;
        eprintln!(
            "decrypted {} bytes of a legacy V1 object (AES/CBC: not authenticated)",
            pt.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let policy = read_policy(a.allow_v2);
    let d = Decryptor::new(keyring.as_ref(), &metadata, policy, context.as_ref())?;
    if let Some(range) = a.range {
        if a.input == "-" {
            crate::exit::usage!(
                "--range needs a file input (it reads only the bytes of the range)"
            );
        }
        let body = File::open(&a.input).with_context(|| format!("opening {}", a.input))?;
        let bytes = if a.skip_authentication {
            let len = body.metadata()?.len();
            d.danger_decrypt_range_unauthenticated(body, len, range)?
        } else {
            d.decrypt_range(body, range)?
        };
        let bytes = zeroize::Zeroizing::new(bytes);
        crate::files::write_bytes(&a.output, &bytes)?;
        if json {
            outln!(
                "{}",
                serde_json::json!({"output": a.output, "range": range.to_string(), "bytes": bytes.len(), "authenticated": !a.skip_authentication})
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let n = if a.output == "-" {
        to_stream(&d, &a.input, &mut io::stdout().lock())?
    } else {
        match Destination::of(Path::new(&a.output))? {
            // A device or FIFO is written through (never replaced), only after authentication.
            Destination::Special(p) => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .with_context(|| format!("opening {}", p.display()))?;
                to_stream(&d, &a.input, &mut f)?
            }
            dest => {
                crate::files::clean_beside(dest.path());
                let mut input = open_input(&a.input)?;
                file::decrypt_file(&d, &mut input, dest.path())?
            }
        }
    };
    if json {
        outln!(
            "{}",
            serde_json::json!({"output": a.output, "plaintext_bytes": n, "format": format!("{:?}", d.format())})
        )?;
    } else if a.output != "-" {
        eprintln!("decrypted and authenticated {n} bytes to {}", a.output);
    }
    Ok(ExitCode::SUCCESS)
}

/// `s3crypt gen-key FILE`: a random AES-256 wrapping key, owner-readable only.
pub(crate) fn gen_key(path: &Path) -> anyhow::Result<ExitCode> {
    let key = KeyEncryptionKey::generate()?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {} (it must not exist)", path.display()))?;
    f.write_all(hex::encode(key.expose_secret()).as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    eprintln!("wrote a new AES-256 wrapping key to {}", path.display());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn keyring(
    k: &KeyArgs,
    home: &Path,
    encrypting: bool,
) -> anyhow::Result<Box<dyn Keyring>> {
    if let Some(path) = &k.wrapping_key {
        let raw = zeroize::Zeroizing::new(
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let key = match raw.len() {
            32 => KeyEncryptionKey::try_from_slice(&raw)?,
            _ => {
                let text = std::str::from_utf8(&raw).unwrap_or_default().trim();
                let bytes = zeroize::Zeroizing::new(
                    hex::decode(text)
                        .context("a wrapping key file holds 32 raw bytes or 64 hex characters")?,
                );
                KeyEncryptionKey::try_from_slice(&bytes)
                    .context("a wrapping key must be 32 bytes")?
            }
        };
        return Ok(Box::new(AesKeyring::new(key, BTreeMap::new())));
    }
    let kms: std::sync::Arc<dyn Kms> = match &k.kms_endpoint {
        Some(url) => remote_kms(k, url)?,
        None => std::sync::Arc::new(crate::kms::open(home)?),
    };
    match (&k.kms_key, encrypting, &k.kms_endpoint) {
        (Some(key), _, _) => Ok(Box::new(KmsKeyring::new(kms, key.clone()))),
        (None, true, None) => {
            ensure_default_key(kms.as_ref())?;
            Ok(Box::new(KmsKeyring::new(kms, DEFAULT_KEY_ALIAS)))
        }
        (None, true, Some(_)) => crate::exit::usage!("--kms-key is required with --kms-endpoint"),
        (None, false, _) => Ok(Box::new(KmsKeyring::discovery(kms))),
    }
}

/// The remote KMS at `url` with `k`'s credentials, region and CA bundle, retried as the AWS SDKs do.
fn remote_kms(k: &KeyArgs, url: &str) -> anyhow::Result<std::sync::Arc<dyn Kms>> {
    let (creds, chain_region) = credentials(k)?;
    let region = k
        .region
        .clone()
        .or_else(|| env_nonempty("AWS_REGION"))
        .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
        .or(chain_region)
        .unwrap_or_else(|| "us-east-1".to_owned());
    let mut remote = RemoteKms::new(url, &region, creds)?;
    if let Some(pem) = &k.kms_ca_bundle
        && url.starts_with("https://")
    {
        remote = remote.with_ca_bundle_file(pem)?;
    }
    // AWS's standard backoff: a ceiling of 1 s doubling per retry up to 20 s, full jitter.
    let policy = RetryPolicy {
        max_attempts: k.max_attempts,
        base: std::time::Duration::from_secs(1),
        cap: std::time::Duration::from_secs(20),
    };
    Ok(std::sync::Arc::new(RetryingKms::new(remote, policy)))
}

/// The KMS that `k` names: the --kms-endpoint one, else the built-in KMS of `home` (for `rewrap`).
pub(crate) fn kms_handle(k: &KeyArgs, home: &Path) -> anyhow::Result<std::sync::Arc<dyn Kms>> {
    Ok(match &k.kms_endpoint {
        Some(url) => remote_kms(k, url)?,
        None => std::sync::Arc::new(crate::kms::open(home)?),
    })
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Credentials for a remote KMS: --access-key-file, else --access-key, else the AWS default chain (with
/// the region the chain's profile names). No error message ever contains the secret.
fn credentials(k: &KeyArgs) -> anyhow::Result<(Credentials, Option<String>)> {
    let from_spec = |spec: &str, origin: &str| -> anyhow::Result<Credentials> {
        let mut parts = spec.trim().splitn(3, ':');
        let id = parts.next().unwrap_or_default();
        let secret = parts.next().unwrap_or_default();
        if id.is_empty() || secret.is_empty() {
            bail!("{origin} must hold ID:SECRET or ID:SECRET:SESSION_TOKEN");
        }
        let token = parts.next().filter(|t| !t.is_empty()).map(str::to_owned);
        Ok(Credentials::new(id, secret, token))
    };
    if let Some(path) = &k.access_key_file {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        return Ok((from_spec(&text, &format!("{}", path.display()))?, None));
    }
    if let Some(spec) = &k.access_key {
        return Ok((from_spec(spec, "--access-key")?, None));
    }
    chain_credentials()
}

/// The AWS default credential chain (environment, shared files and profiles, SSO, web identity, ECS,
/// IMDS), resolved once for this command.
#[cfg(feature = "s3-client")]
fn chain_credentials() -> anyhow::Result<(Credentials, Option<String>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let id = rt
        .block_on(s3crypt::aws::sdk::chain_identity(None))
        .context(
            "--kms-endpoint needs credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a \
             profile (AWS_PROFILE) in ~/.aws, or --access-key-file FILE",
        )?;
    Ok((id.credentials, id.region))
}

/// Without the AWS SDK: the environment's keys only.
#[cfg(not(feature = "s3-client"))]
fn chain_credentials() -> anyhow::Result<(Credentials, Option<String>)> {
    match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => {
            let secret = zeroize::Zeroizing::new(secret);
            let token = std::env::var("AWS_SESSION_TOKEN")
                .ok()
                .filter(|t| !t.is_empty());
            Ok((Credentials::new(id, &secret, token), None))
        }
        _ => bail!(
            "--kms-endpoint needs credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the \
             environment, or --access-key-file FILE"
        ),
    }
}

/// Decrypts to a stream (stdout, a device, a FIFO), releasing nothing before the whole object
/// authenticates: a file input is authenticated first and then decrypted (two passes, nothing staged);
/// stdin goes through an anonymous temporary file.
fn to_stream(d: &Decryptor, input: &str, out: &mut dyn io::Write) -> anyhow::Result<u64> {
    if input == "-" {
        return Ok(file::decrypt_to_stream(d, &mut io::stdin().lock(), out)?);
    }
    let f = File::open(input).with_context(|| format!("opening {input}"))?;
    if f.metadata()?.is_file() {
        Ok(file::decrypt_seekable_to_stream(d, f, out)?)
    } else {
        let mut r = io::BufReader::new(f);
        Ok(file::decrypt_to_stream(d, &mut r, out)?)
    }
}

/// Creates `alias/s3crypt-default` in the built-in KMS on first use.
fn ensure_default_key(kms: &dyn Kms) -> anyhow::Result<()> {
    if kms
        .describe_key(&DescribeKeyRequest::new(DEFAULT_KEY_ALIAS))
        .is_ok()
    {
        return Ok(());
    }
    let mut req = CreateKeyRequest::default();
    req.description = Some("s3crypt default key (created on first use)".into());
    let key = kms.create_key(&req)?.key_metadata;
    kms.create_alias(&CreateAliasRequest::new(DEFAULT_KEY_ALIAS, &key.key_id))?;
    eprintln!(
        "created {DEFAULT_KEY_ALIAS} ({}) in the built-in KMS",
        key.arn
    );
    Ok(())
}

/// `--context K=V` pairs, if any were given.
pub(crate) fn optional_context(
    pairs: &[String],
) -> anyhow::Result<Option<BTreeMap<String, String>>> {
    (!pairs.is_empty())
        .then(|| parse_context(pairs))
        .transpose()
}

/// The commitment policy of a read: committing (V3) objects only, unless `allow_v2`.
pub(crate) fn read_policy(allow_v2: bool) -> CommitmentPolicy {
    if allow_v2 {
        CommitmentPolicy::RequireEncryptAllowDecrypt
    } else {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    }
}

pub(crate) fn parse_context(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--context {p:?} must be K=V"))
        })
        .collect()
}

fn open_input(path: &str) -> anyhow::Result<Box<dyn Read>> {
    if path == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    let f = File::open(path).with_context(|| format!("opening {path}"))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len >= 64 << 20 && io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(len);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        return Ok(Box::new(bar.wrap_read(f)));
    }
    Ok(Box::new(f))
}

/// Whether a path argument names an S3 object.
fn is_s3(path: &str) -> bool {
    path.starts_with("s3://")
}

#[cfg(not(feature = "s3-client"))]
const S3_UNSUPPORTED: &str =
    "s3:// paths need s3crypt built with the s3-client feature (cargo build --features s3-client)";

/// `s3crypt encrypt FILE s3://BUCKET/KEY` and `s3crypt decrypt s3://BUCKET/KEY FILE`.
#[cfg(feature = "s3-client")]
mod s3 {
    use std::fs::File;
    use std::io::{self, IsTerminal as _, Read};
    use std::path::Path;
    use std::process::ExitCode;

    use anyhow::{Context as _, bail};
    use s3crypt::aws::sdk::{S3ClientConfig, s3_client};
    use s3crypt::envelope::s3::{
        GetOptions, PutOptions, async_reader, get_decrypted, get_decrypted_to_file, put_encrypted,
    };
    use s3crypt::envelope::{CommitmentPolicy, Encryptor, Format};
    use s3crypt::fsutil::refuse_aliases;

    use super::{
        DecryptArgs, EncryptArgs, FormatArg, KeyArgs, S3Args, keyring, optional_context,
        parse_context, read_policy,
    };

    /// `s3://BUCKET/KEY` as (bucket, key).
    fn parse_url(url: &str) -> anyhow::Result<(&str, &str)> {
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        match rest.split_once('/') {
            Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b, k)),
            _ => bail!("{url:?} is not s3://BUCKET/KEY"),
        }
    }

    fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")
    }

    fn client_config(s: &S3Args, k: &KeyArgs) -> S3ClientConfig {
        S3ClientConfig {
            endpoint: s.endpoint_url.clone(),
            region: k.region.clone(),
            ca_bundle: s.ca_bundle.clone(),
            profile: s.profile.clone(),
            ..S3ClientConfig::default()
        }
    }

    pub(super) fn encrypt(a: &EncryptArgs, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
        let (bucket, key) = parse_url(&a.output)?;
        if a.metadata.is_some() {
            crate::exit::usage!(
                "--metadata is for local outputs: an s3:// object carries its metadata itself"
            );
        }
        let keyring = keyring(&a.key, home, true)?;
        let context = parse_context(&a.context)?;
        let (format, policy) = match a.format {
            FormatArg::V3 => (Format::V3, CommitmentPolicy::RequireEncryptRequireDecrypt),
            FormatArg::V2 => (Format::V2, CommitmentPolicy::ForbidEncryptAllowDecrypt),
        };
        let (input, len): (Box<dyn Read + Send>, u64) = if a.input == "-" {
            (Box::new(io::stdin()), 0)
        } else {
            let f = File::open(&a.input).with_context(|| format!("opening {}", a.input))?;
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len >= 64 << 20 && io::stderr().is_terminal() {
                let bar = indicatif::ProgressBar::new(len);
                (Box::new(bar.wrap_read(f)), len)
            } else {
                (Box::new(f), len)
            }
        };
        let opts = PutOptions::new()
            .instruction_file(a.instruction_file)
            .part_size(
                a.part_size
                    .unwrap_or_else(|| PutOptions::part_size_for(len)),
            );
        let encryptor = Encryptor::new(keyring.as_ref(), format, &context, policy)?;
        let cfg = client_config(&a.s3, &a.key);
        let report = runtime()?.block_on(async {
            let client = s3_client(&cfg).await?;
            anyhow::Ok(
                put_encrypted(&client, bucket, key, async_reader(input), encryptor, &opts).await?,
            )
        })?;
        if json {
            outln!(
                "{}",
                serde_json::json!({
                    "output": a.output, "plaintext_bytes": report.plaintext_bytes,
                    "body_bytes": report.body_bytes, "parts": report.parts,
                    "instruction_file": report.instruction_file, "metadata": report.metadata,
                })
            )?;
        } else {
            let how = match report.parts {
                0 => "one PutObject".to_owned(),
                n => format!("a multipart upload of {n} parts"),
            };
            eprintln!(
                "encrypted {} bytes to {} ({how}{})",
                report.plaintext_bytes,
                a.output,
                if report.instruction_file {
                    ", metadata in KEY.instruction"
                } else {
                    ""
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(super) fn decrypt(a: &DecryptArgs, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
        let (bucket, key) = parse_url(&a.input)?;
        if a.metadata.is_some() {
            crate::exit::usage!(
                "--metadata is for local inputs: an s3:// object carries its metadata itself"
            );
        }
        if a.allow_legacy_v1 {
            crate::exit::usage!(
                "--allow-legacy-v1 is not supported for s3:// inputs; download the object first"
            );
        }
        if let Some(k) = &a.key.wrapping_key {
            refuse_aliases(
                &[("wrapping key".into(), crate::files::regular_id(k)?)],
                &[("output".into(), crate::files::output_id(&a.output)?)],
            )?;
        }
        let keyring = keyring(&a.key, home, false)?;
        let context = optional_context(&a.context)?;
        let policy = read_policy(a.allow_v2);
        let opts = GetOptions::new(keyring.as_ref())
            .policy(policy)
            .context(context.as_ref());
        let cfg = client_config(&a.s3, &a.key);
        if a.output != "-" {
            crate::files::clean_beside(Path::new(&a.output));
        }
        let report = runtime()?.block_on(async {
            let client = s3_client(&cfg).await?;
            let report = if a.output == "-" {
                get_decrypted(&client, bucket, key, &opts, io::stdout(), a.range)
                    .await?
                    .1
            } else {
                get_decrypted_to_file(&client, bucket, key, &opts, Path::new(&a.output), a.range)
                    .await?
            };
            anyhow::Ok(report)
        })?;
        if json {
            outln!(
                "{}",
                serde_json::json!({
                    "output": a.output, "plaintext_bytes": report.plaintext_bytes,
                    "format": format!("{:?}", report.format), "authenticated": report.authenticated,
                    "range": a.range.map(|r| r.to_string()),
                    "instruction_file": report.instruction_file,
                })
            )?;
        } else if !report.authenticated {
            eprintln!(
                "decrypted {} bytes of range {} from ranged GETs: NOT authenticated (GCM authenticates whole objects only)",
                report.plaintext_bytes,
                a.range.map(|r| r.to_string()).unwrap_or_default()
            );
        } else if a.output != "-" {
            eprintln!(
                "decrypted and authenticated {} bytes to {}",
                report.plaintext_bytes, a.output
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// A byte count with an optional KiB/MiB/GiB (or K/M/G) suffix.
#[cfg(feature = "s3-client")]
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().map_err(|_| format!("{s:?} is not a size"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => return Err(format!("{s:?}: unknown unit (B, KiB, MiB, GiB)")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}
