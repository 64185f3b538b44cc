//! `s3crypt verify`: checks that client-side encrypted files authenticate, writing no plaintext (as
//! rclone's `cryptcheck`).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use s3crypt::envelope::file;
use s3crypt::envelope::{CommitmentPolicy, Decryptor, EnvelopeError, Format, Keyring, MetadataMap};

use crate::envelope::{KeyArgs, keyring, optional_context, read_policy};

/// Arguments of `s3crypt verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Encrypted body files (each with its FILE.metadata.json, merged with FILE.instruction if present),
    /// or - for stdin (then --metadata is required).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// The key, as for `decrypt`.
    #[command(flatten)]
    key: KeyArgs,
    /// The encryption context (KMS) or material description (--wrapping-key) the objects must have been
    /// encrypted with.
    #[arg(long = "context", value_name = "K=V")]
    context: Vec<String>,
    /// Accept V2 (non-committing) objects.
    #[arg(long)]
    allow_v2: bool,
    /// The metadata JSON (default: FILE.metadata.json); only with a single FILE.
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
}

/// Verifies every file: unwraps its data key, checks the V3 key commitment, and runs the whole
/// authenticated decryption into a sink; nothing is written anywhere. Prints a line (or a JSON object)
/// per file; exits non-zero if any file fails.
pub(crate) fn run(a: &Args, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if a.metadata.is_some() && a.files.len() > 1 {
        crate::exit::usage!(
            "--metadata names the metadata of one file: give a single FILE with it"
        );
    }
    if a.files.iter().any(|f| f.starts_with("s3://")) {
        bail!("verify reads local files (download s3:// objects with their metadata first)");
    }
    let keyring = keyring(&a.key, home, false)?;
    let context = optional_context(&a.context)?;
    let policy = read_policy(a.allow_v2);
    let mut failed = 0usize;
    for f in &a.files {
        match verify_one(
            f,
            a.metadata.as_deref(),
            keyring.as_ref(),
            policy,
            context.as_ref(),
        ) {
            Ok((format, n)) => {
                if json {
                    outln!(
                        "{}",
                        serde_json::json!({"file": f, "ok": true, "format": format!("{format:?}"), "plaintext_bytes": n})
                    )?;
                } else {
                    outln!("OK  {f}  ({format:?}, {n} plaintext bytes authenticated)")?;
                }
            }
            Err(e) => {
                failed += 1;
                let error = crate::error_chain(&e);
                if json {
                    outln!(
                        "{}",
                        serde_json::json!({"file": f, "ok": false, "error": error})
                    )?;
                }
                eprintln!("s3crypt: verify {f}: FAILED: {error}");
            }
        }
    }
    if failed > 0 {
        if a.files.len() > 1 && !json {
            eprintln!("{failed} of {} files FAILED verification", a.files.len());
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// One file: its format and plaintext length if it authenticates.
fn verify_one(
    path: &str,
    metadata: Option<&Path>,
    keyring: &dyn Keyring,
    policy: CommitmentPolicy,
    context: Option<&s3crypt::kms::EncryptionContext>,
) -> anyhow::Result<(Format, u64)> {
    let map: MetadataMap = match (metadata, path) {
        (Some(m), _) => file::parse_map(
            &std::fs::read_to_string(m).with_context(|| format!("reading {}", m.display()))?,
            m,
        )?,
        (None, "-") => crate::exit::usage!("--metadata FILE is required when the input is stdin"),
        (None, p) => file::read_metadata(Path::new(p))?,
    };
    let d = Decryptor::new(keyring, &map, policy, context)?;
    let n = if path == "-" {
        authenticate(&d, io::stdin().lock())?
    } else {
        let f = File::open(path).with_context(|| format!("opening {path}"))?;
        authenticate(&d, io::BufReader::with_capacity(1 << 20, f))?
    };
    Ok((d.format(), n))
}

/// The whole body through the decryption, its output discarded; the tag is checked at the end.
fn authenticate(d: &Decryptor, body: impl Read) -> Result<u64, EnvelopeError> {
    let mut reader = d.reader_delayed_authentication(body);
    match io::copy(&mut reader, &mut io::sink()) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(EnvelopeError::Authentication),
        Err(e) => Err(e.into()),
    }
}
