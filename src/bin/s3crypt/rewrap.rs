//! `s3crypt rewrap`: moves a client-side encrypted file's data key to another KMS key or wrapping key,
//! rewriting only its metadata (sidecar or instruction file); the body is not touched.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use s3crypt::envelope::file::{INSTRUCTION_SUFFIX, METADATA_SUFFIX, with_suffix};
use s3crypt::envelope::rewrap::{NewKey, Rewrap};
use s3crypt::fsutil::refuse_aliases;
use s3crypt::keys::KeyEncryptionKey;

use crate::envelope::{KeyArgs, keyring, kms_handle, optional_context, read_policy};

/// Arguments of `s3crypt rewrap`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The encrypted body file. Its FILE.metadata.json (or, if it has one, FILE.instruction) is rewritten
    /// atomically; the body is never opened.
    file: PathBuf,
    /// The current key, as for `decrypt` (--kms-key or --wrapping-key; default: the KMS finds the key).
    #[command(flatten)]
    key: KeyArgs,
    /// Re-wrap under this KMS key (id, ARN or alias) of the same KMS (the built-in one, or --kms-endpoint).
    #[arg(
        long,
        value_name = "KEY",
        conflicts_with = "to_key_file",
        required_unless_present = "to_key_file"
    )]
    to_kms_key_id: Option<String>,
    /// Re-wrap under this raw AES-256 wrapping key file (32 bytes, or 64 hex characters; see `gen-key`).
    #[arg(long, value_name = "FILE")]
    to_key_file: Option<PathBuf>,
    /// The encryption context (KMS) or material description (--wrapping-key) the object must have now.
    #[arg(long = "context", value_name = "K=V")]
    context: Vec<String>,
    /// The context of the new wrapping (default: the current one, carried over).
    #[arg(long = "to-context", value_name = "K=V")]
    to_context: Vec<String>,
    /// Accept V2 (non-committing) objects (they stay V2: the body is not re-encrypted).
    #[arg(long)]
    allow_v2: bool,
    /// Rewrite this metadata JSON (as given to `decrypt --metadata`) instead of FILE's sidecar.
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
}

pub(crate) fn run(a: &Args, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if a.file.to_string_lossy().starts_with("s3://") {
        bail!("rewrap works on local files and their sidecars");
    }
    // A key file must not be one of the files this rewrites.
    if let Some(k) = &a.to_key_file {
        let outputs: Vec<PathBuf> = match &a.metadata {
            Some(m) => vec![m.clone()],
            None => vec![
                with_suffix(&a.file, METADATA_SUFFIX),
                with_suffix(&a.file, INSTRUCTION_SUFFIX),
            ],
        };
        let outputs = outputs
            .iter()
            .map(|p| -> anyhow::Result<_> {
                Ok((
                    format!("metadata file {}", p.display()),
                    crate::files::regular_id(p)?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        refuse_aliases(
            &[("--to-key-file".into(), crate::files::regular_id(k)?)],
            &outputs,
        )?;
    }
    let old = keyring(&a.key, home, false)?;
    let context = optional_context(&a.context)?;
    let to_context = optional_context(&a.to_context)?;
    let aes_key;
    let kms;
    let new = match (&a.to_kms_key_id, &a.to_key_file) {
        (Some(id), _) => {
            kms = kms_handle(&a.key, home)?;
            NewKey::Kms {
                kms: kms.as_ref(),
                key_id: id,
            }
        }
        (None, Some(path)) => {
            aes_key = read_wrapping_key(path)?;
            NewKey::Aes(&aes_key)
        }
        (None, None) => crate::exit::usage!("give --to-kms-key-id KEY or --to-key-file FILE"),
    };
    let mut op = Rewrap::new(old.as_ref(), new).policy(read_policy(a.allow_v2));
    if let Some(c) = &context {
        op = op.old_context(c);
    }
    if let Some(c) = to_context {
        op = op.new_context(c);
    }
    let report = match &a.metadata {
        Some(m) => op.metadata_file(m)?,
        None => op.file(&a.file)?,
    };
    let written: Vec<String> = report
        .written
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "file": a.file.display().to_string(),
                "format": format!("{:?}", report.format),
                "from": format!("{:?}", report.from),
                "to": format!("{:?}", report.to),
                "written": written,
            })
        )?;
    } else {
        eprintln!(
            "re-wrapped the data key of {} ({:?}, {:?} -> {:?}); rewrote {}; the body is unchanged",
            a.file.display(),
            report.format,
            report.from,
            report.to,
            written.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A wrapping key file: 32 raw bytes or 64 hex characters (as `gen-key` writes).
fn read_wrapping_key(path: &Path) -> anyhow::Result<KeyEncryptionKey> {
    let raw = zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    );
    if raw.len() == 32 {
        return Ok(KeyEncryptionKey::try_from_slice(&raw)?);
    }
    let text = std::str::from_utf8(&raw).unwrap_or_default().trim();
    let bytes = zeroize::Zeroizing::new(
        hex::decode(text).context("a wrapping key file holds 32 raw bytes or 64 hex characters")?,
    );
    KeyEncryptionKey::try_from_slice(&bytes).context("a wrapping key must be 32 bytes")
}
