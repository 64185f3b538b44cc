//! `s3crypt iam …`: the account's root credentials and its IAM users, access keys and inline policies,
//! stored in `HOME/iam/accounts.json` and read by `s3crypt serve` on its next request.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::iam::users::AccountStore;
use serde_json::json;

/// The largest policy document read from a file (IAM's identity policies are at most 10 KiB; the
/// parser gives the precise error).
const MAX_POLICY_FILE: u64 = 1024 * 1024;

/// `s3crypt iam`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create a user with an access key; prints the secret access key (shown only this once).
    CreateUser {
        /// User name: 1 to 64 characters of letters, digits and +=,.@_-.
        name: String,
        /// An identity policy document (JSON file), attached as the inline policy "default".
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Add or replace an inline policy of a user.
    PutUserPolicy {
        /// User name.
        name: String,
        /// Policy name.
        #[arg(long, value_name = "P")]
        policy_name: String,
        /// The identity policy document (JSON file).
        #[arg(long, value_name = "FILE")]
        policy_document: PathBuf,
    },
    /// Remove an inline policy of a user.
    DeleteUserPolicy {
        /// User name.
        name: String,
        /// Policy name.
        #[arg(long, value_name = "P")]
        policy_name: String,
    },
    /// List the users (no secrets).
    ListUsers,
    /// Delete a user and its access keys (they stop authenticating at once).
    DeleteUser {
        /// User name.
        name: String,
    },
    /// Show the account's root credentials, generating them on first use (the server's root keys).
    Root {
        /// Print `export` lines for a POSIX shell instead (`eval "$(s3crypt iam root --shell)"`):
        /// the keys, the region, `AWS_ENDPOINT_URL` of `s3crypt serve`'s default listener and
        /// `AWS_CA_BUNDLE` of its local CA, so the AWS CLI and SDKs use the endpoint unchanged.
        #[arg(long)]
        shell: bool,
    },
}

/// Runs `s3crypt iam …`.
pub(crate) fn run(cmd: &Command, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let store = AccountStore::open(home)?;
    match cmd {
        Command::CreateUser { name, policy } => {
            let doc = policy.as_deref().map(read_policy).transpose()?;
            let u = store.create_user(name, doc.as_deref())?;
            let secret = u.secret_access_key.expose_secret();
            if json {
                let out = json!({
                    "UserName": u.user_name,
                    "UserId": u.user_id,
                    "Arn": u.arn,
                    "AccessKeyId": u.access_key_id,
                    "SecretAccessKey": secret,
                });
                outln!("{out}")?;
            } else {
                outln!("AccessKeyId: {}", u.access_key_id)?;
                outln!("SecretAccessKey: {secret}")?;
                outln!("Arn: {}", u.arn)?;
            }
        }
        Command::PutUserPolicy {
            name,
            policy_name,
            policy_document,
        } => {
            let doc = read_policy(policy_document)?;
            store.put_user_policy(name, policy_name, &doc)?;
            if json {
                outln!("{}", json!({"UserName": name, "PolicyName": policy_name}))?;
            }
        }
        Command::DeleteUserPolicy { name, policy_name } => {
            store.delete_user_policy(name, policy_name)?;
            if json {
                outln!("{}", json!({"UserName": name, "PolicyName": policy_name}))?;
            }
        }
        Command::ListUsers => {
            let users = store.list_users()?;
            if json {
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| {
                        json!({
                            "UserName": u.user_name,
                            "UserId": u.user_id,
                            "Arn": u.arn,
                            "CreateDate": u.create_date,
                            "PolicyNames": u.policy_names,
                        })
                    })
                    .collect();
                outln!("{}", json!({ "Users": rows }))?;
            } else {
                let width = users
                    .iter()
                    .map(|u| u.user_name.len())
                    .max()
                    .unwrap_or(0)
                    .max("USER".len());
                outln!(
                    "{:<width$}  {:<21}  {:<20}  {:<20}  POLICIES",
                    "USER",
                    "USER ID",
                    "CREATED",
                    "ACCESS KEY"
                )?;
                for u in &users {
                    outln!(
                        "{:<width$}  {:<21}  {:<20}  {:<20}  {}",
                        u.user_name,
                        u.user_id,
                        u.create_date,
                        u.access_key_ids.join(","),
                        u.policy_names.join(",")
                    )?;
                }
            }
        }
        Command::DeleteUser { name } => {
            store.delete_user(name)?;
            if json {
                outln!("{}", json!({ "UserName": name }))?;
            }
        }
        Command::Root { shell } => {
            let root = store.ensure_root(None)?;
            let secret = root.secret.expose_secret();
            if *shell {
                let ca = std::path::absolute(home.join("tls").join("ca.pem"))?;
                let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
                for (name, value) in [
                    ("AWS_ACCESS_KEY_ID", root.access_key_id.as_str()),
                    ("AWS_SECRET_ACCESS_KEY", secret),
                    ("AWS_DEFAULT_REGION", "us-east-1"),
                    (
                        "AWS_ENDPOINT_URL",
                        &format!("https://{}", s3crypt::server::DEFAULT_HTTPS_ADDR),
                    ),
                    ("AWS_CA_BUNDLE", &ca.display().to_string()),
                ] {
                    outln!("export {name}={}", quote(value))?;
                }
            } else if json {
                let out = json!({
                    "AccountId": root.account_id,
                    "AccessKeyId": root.access_key_id,
                    "SecretAccessKey": secret,
                    "Arn": root.arn,
                });
                outln!("{out}")?;
            } else {
                outln!("AccountId: {}", root.account_id)?;
                outln!("AccessKeyId: {}", root.access_key_id)?;
                outln!("SecretAccessKey: {secret}")?;
                outln!("Arn: {}", root.arn)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a policy document file (bounded).
fn read_policy(path: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path)
        .with_context(|| format!("reading the policy document {}", path.display()))?;
    let mut doc = String::new();
    f.take(MAX_POLICY_FILE + 1)
        .read_to_string(&mut doc)
        .with_context(|| format!("reading the policy document {}", path.display()))?;
    if doc.len() as u64 > MAX_POLICY_FILE {
        anyhow::bail!(
            "the policy document {} is larger than {MAX_POLICY_FILE} bytes",
            path.display()
        );
    }
    Ok(doc)
}
