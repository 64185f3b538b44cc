//! `s3crypt vault …`: the Glacier vaults of the local home (the ones `s3crypt serve` answers for on
//! `/{accountId}/vaults…`), operated as the root of the local account. Each command prints what
//! Glacier returns: a short text, or with `--json` Glacier's JSON (headers as their boto3 names).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::glacier::Glacier;
use s3crypt::iam::{Principal, RequestContext};
use s3crypt::sse::engine::LOCAL_ACCOUNT;
use serde_json::json;

/// The largest policy document read from a file (Glacier's limit is 20 KiB; the parser gives the
/// precise error).
const MAX_POLICY_FILE: u64 = 1024 * 1024;

/// `s3crypt vault`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The region vault ARNs name (as `s3crypt serve --region`).
    #[arg(long, default_value = "us-east-1", global = true)]
    region: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// CreateVault.
    Create {
        /// Vault name: 1 to 255 of a-z, A-Z, 0-9, '_', '-', '.'.
        vault: String,
    },
    /// DescribeVault.
    Describe {
        /// Vault name.
        vault: String,
    },
    /// ListVaults (one page).
    List {
        /// Vaults per page (1-1000, default 10).
        #[arg(long)]
        limit: Option<usize>,
        /// The ARN of the vault to start at (the previous page's marker).
        #[arg(long)]
        marker: Option<String>,
    },
    /// DeleteVault (only an empty vault).
    Delete {
        /// Vault name.
        vault: String,
    },
    /// UploadArchive: encrypts FILE into the vault; prints the archive ID and tree hash.
    Upload {
        /// Vault name.
        vault: String,
        /// The archive data (at most 64 MiB here).
        file: PathBuf,
        /// The archive description (printable ASCII, at most 1024 characters).
        #[arg(long)]
        description: Option<String>,
    },
    /// DeleteArchive (subject to the vault's lock and access policies).
    DeleteArchive {
        /// Vault name.
        vault: String,
        /// Archive ID.
        #[arg(allow_hyphen_values = true)]
        archive_id: String,
    },
    /// InitiateVaultLock with the policy in FILE ('-': stdin); prints the lock ID (valid 24 hours).
    LockInitiate {
        /// Vault name.
        vault: String,
        /// The vault lock policy (JSON).
        policy: PathBuf,
    },
    /// CompleteVaultLock: the policy becomes immutable.
    LockComplete {
        /// Vault name.
        vault: String,
        /// The lock ID InitiateVaultLock printed.
        #[arg(allow_hyphen_values = true)]
        lock_id: String,
    },
    /// AbortVaultLock (refused once locked).
    LockAbort {
        /// Vault name.
        vault: String,
    },
    /// GetVaultLock.
    LockGet {
        /// Vault name.
        vault: String,
    },
    /// SetVaultAccessPolicy with the policy in FILE ('-': stdin).
    PolicySet {
        /// Vault name.
        vault: String,
        /// The vault access policy (JSON).
        policy: PathBuf,
    },
    /// GetVaultAccessPolicy.
    PolicyGet {
        /// Vault name.
        vault: String,
    },
}

/// Runs `s3crypt vault`.
pub(crate) fn run(args: &Args, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    // The engine first: it creates (or refuses to replace) the home's SSE-S3 roots, which seal archives.
    drop(crate::sse::engine(home)?);
    let g = Glacier::open(home, &args.region).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx =
        RequestContext::signed_by(Principal::root(LOCAL_ACCOUNT, "AKIALOCALADMIN")).with_tls(true);
    let a = LOCAL_ACCOUNT;
    let glacier = |e: s3crypt::glacier::GlacierError| anyhow::anyhow!("{e}");
    let (value, text) = match &args.command {
        Command::Create { vault } => {
            let location = g.create_vault(&ctx, a, vault).map_err(glacier)?;
            (json!({ "location": location }), location)
        }
        Command::Describe { vault } => {
            let d = g.describe_vault(&ctx, a, vault).map_err(glacier)?;
            let text = format!(
                "{}\t{} archives\t{} bytes\tcreated {}",
                d.vault_arn, d.number_of_archives, d.size_in_bytes, d.creation_date
            );
            (serde_json::to_value(d)?, text)
        }
        Command::List { limit, marker } => {
            let page = g
                .list_vaults(&ctx, a, marker.as_deref(), *limit)
                .map_err(glacier)?;
            let mut lines: Vec<String> = page
                .vault_list
                .iter()
                .map(|d| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        d.vault_name, d.number_of_archives, d.size_in_bytes, d.creation_date
                    )
                })
                .collect();
            if let Some(m) = &page.marker {
                lines.push(format!("(more: --marker {m})"));
            }
            (serde_json::to_value(page)?, lines.join("\n"))
        }
        Command::Delete { vault } => {
            g.delete_vault(&ctx, a, vault).map_err(glacier)?;
            (json!({}), format!("deleted vault {vault}"))
        }
        Command::Upload {
            vault,
            file,
            description,
        } => {
            let body = read_limited(file, s3crypt::glacier::MAX_ARCHIVE_BYTES as u64 + 1)?;
            let hash = s3crypt::glacier::tree_hash::tree_hash_hex(&body);
            let c = g
                .upload_archive(&ctx, a, vault, &body, Some(&hash), description.as_deref())
                .map_err(glacier)?;
            let text = format!("{}\t{}", c.archive_id, c.checksum);
            (serde_json::to_value(c)?, text)
        }
        Command::DeleteArchive { vault, archive_id } => {
            g.delete_archive(&ctx, a, vault, archive_id)
                .map_err(glacier)?;
            (json!({}), format!("deleted archive {archive_id}"))
        }
        Command::LockInitiate { vault, policy } => {
            let policy = read_policy(policy)?;
            let id = g.initiate_lock(&ctx, a, vault, &policy).map_err(glacier)?;
            (json!({ "lockId": id }), id)
        }
        Command::LockComplete { vault, lock_id } => {
            g.complete_lock(&ctx, a, vault, lock_id).map_err(glacier)?;
            (json!({}), format!("vault {vault} is locked"))
        }
        Command::LockAbort { vault } => {
            g.abort_lock(&ctx, a, vault).map_err(glacier)?;
            (json!({}), format!("no vault lock in progress on {vault}"))
        }
        Command::LockGet { vault } => {
            let l = g.lock(&ctx, a, vault).map_err(glacier)?;
            let text = format!(
                "{}\tcreated {}\texpires {}\n{}",
                l.state,
                l.creation_date,
                l.expiration_date.as_deref().unwrap_or("never"),
                l.policy
            );
            (serde_json::to_value(l)?, text)
        }
        Command::PolicySet { vault, policy } => {
            let policy = read_policy(policy)?;
            g.set_access_policy(&ctx, a, vault, &policy)
                .map_err(glacier)?;
            (json!({}), format!("vault access policy of {vault} set"))
        }
        Command::PolicyGet { vault } => {
            let p = g.access_policy(&ctx, a, vault).map_err(glacier)?;
            (json!({ "policy": { "Policy": p } }), p)
        }
    };
    if json {
        outln!("{value}")?;
    } else {
        outln!("{text}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read_policy(path: &Path) -> anyhow::Result<String> {
    let bytes = read_limited(path, MAX_POLICY_FILE)?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))
}

/// Reads `path` (`-`: stdin), refusing more than `limit` bytes.
fn read_limited(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let n = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut out)
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("opening {}", path.display()))?
            .take(limit + 1)
            .read_to_end(&mut out)
    }
    .with_context(|| format!("reading {}", path.display()))?;
    if n as u64 > limit {
        anyhow::bail!("{} is larger than {limit} bytes", path.display());
    }
    Ok(out)
}
