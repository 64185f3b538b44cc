//! `s3crypt iam …`: the account's root credentials and its IAM users, access keys and inline policies,
//! stored in `HOME/iam/accounts.json` and read by `s3crypt serve` on its next request; the root's
//! virtual MFA devices, stored in `HOME/iam/mfa.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::iam::mfa::{AssignmentStatus, MfaError, MfaStore};
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
    /// Create a virtual MFA device for the root user; prints its serial number, its base32 seed, the
    /// otpauth:// URI and a QR code to scan with an authenticator app (the seed is shown only this once).
    #[command(name = "create-virtual-mfa-device")]
    CreateVirtualMfaDevice {
        /// Device name: 1 to 226 characters of letters, digits and +=,.@_-.
        name: String,
    },
    /// Enable a virtual MFA device for the root user with two consecutive codes from the app.
    #[command(name = "enable-mfa-device")]
    EnableMfaDevice {
        /// The device's serial number (its ARN, arn:aws:iam::ACCOUNT:mfa/NAME).
        #[arg(long, value_name = "ARN")]
        serial_number: String,
        /// A code the app shows.
        #[arg(long = "authentication-code1", value_name = "CODE")]
        authentication_code1: String,
        /// The app's next code (30 s after the first).
        #[arg(long = "authentication-code2", value_name = "CODE")]
        authentication_code2: String,
    },
    /// List the virtual MFA devices (no seeds).
    #[command(name = "list-virtual-mfa-devices")]
    ListVirtualMfaDevices {
        /// Which devices: Assigned (enabled), Unassigned or Any.
        #[arg(long, value_name = "STATUS", default_value = "Any", value_parser = ["Assigned", "Unassigned", "Any"])]
        assignment_status: String,
    },
    /// Disable an MFA device of the root user (it stays, unassigned).
    #[command(name = "deactivate-mfa-device")]
    DeactivateMfaDevice {
        /// The device's serial number.
        #[arg(long, value_name = "ARN")]
        serial_number: String,
    },
    /// Delete a virtual MFA device and its seed (deactivate it first).
    #[command(name = "delete-virtual-mfa-device")]
    DeleteVirtualMfaDevice {
        /// The device's serial number.
        #[arg(long, value_name = "ARN")]
        serial_number: String,
    },
}

/// Runs `s3crypt iam …`.
pub(crate) fn run(cmd: &Command, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if let Some(result) = run_mfa(cmd, home, json) {
        return result;
    }
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
        Command::CreateVirtualMfaDevice { .. }
        | Command::EnableMfaDevice { .. }
        | Command::ListVirtualMfaDevices { .. }
        | Command::DeactivateMfaDevice { .. }
        | Command::DeleteVirtualMfaDevice { .. } => unreachable!("handled by run_mfa"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the MFA device commands (`None` for the others). Errors read like the AWS CLI's:
/// `An error occurred (InvalidAuthenticationCode) when calling the EnableMFADevice operation: …`.
fn run_mfa(cmd: &Command, home: &Path, json: bool) -> Option<anyhow::Result<ExitCode>> {
    let operation = match cmd {
        Command::CreateVirtualMfaDevice { .. } => "CreateVirtualMFADevice",
        Command::EnableMfaDevice { .. } => "EnableMFADevice",
        Command::ListVirtualMfaDevices { .. } => "ListVirtualMFADevices",
        Command::DeactivateMfaDevice { .. } => "DeactivateMFADevice",
        Command::DeleteVirtualMfaDevice { .. } => "DeleteVirtualMFADevice",
        _ => return None,
    };
    let result = MfaStore::open(home)
        .map_err(anyhow::Error::from)
        .and_then(|store| mfa_command(&store, cmd, json))
        .map_err(|e| match e.downcast::<MfaError>() {
            Ok(e) => anyhow::anyhow!(
                "An error occurred ({}) when calling the {operation} operation: {e}",
                e.code()
            ),
            Err(e) => e,
        });
    Some(result.map(|()| ExitCode::SUCCESS))
}

fn mfa_command(store: &MfaStore, cmd: &Command, json: bool) -> anyhow::Result<()> {
    match cmd {
        Command::CreateVirtualMfaDevice { name } => {
            let device = store.create_virtual_mfa_device(name)?;
            let seed = device.seed.to_base32();
            let uri = device.otpauth_uri();
            if json {
                let out = zeroize::Zeroizing::new(
                    json!({
                        "VirtualMFADevice": {
                            "SerialNumber": device.serial_number,
                            "Base32StringSeed": seed.as_str(),
                            "OtpauthUri": uri.as_str(),
                        }
                    })
                    .to_string(),
                );
                outln!("{}", out.as_str())?;
            } else {
                outln!("SerialNumber: {}", device.serial_number)?;
                outln!("Base32StringSeed: {}", seed.as_str())?;
                outln!("OtpauthUri: {}", uri.as_str())?;
                outln!("{}", qr_code(&uri)?.as_str())?;
                outln!(
                    "Scan the code (or enter the seed) in an authenticator app, then run \
                     s3crypt iam enable-mfa-device --serial-number {} \
                     --authentication-code1 CODE --authentication-code2 NEXT-CODE",
                    device.serial_number
                )?;
            }
        }
        Command::EnableMfaDevice {
            serial_number,
            authentication_code1,
            authentication_code2,
        } => {
            store.enable_mfa_device(serial_number, authentication_code1, authentication_code2)?;
            if json {
                outln!("{}", json!({ "SerialNumber": serial_number }))?;
            }
        }
        Command::ListVirtualMfaDevices { assignment_status } => {
            let status = match assignment_status.as_str() {
                "Assigned" => AssignmentStatus::Assigned,
                "Unassigned" => AssignmentStatus::Unassigned,
                _ => AssignmentStatus::Any,
            };
            let devices = store.list_virtual_mfa_devices(status)?;
            if json {
                let rows: Vec<_> = devices
                    .iter()
                    .map(|d| {
                        let mut row = json!({ "SerialNumber": d.serial_number });
                        if let (Some(arn), Some(date)) = (&d.user_arn, &d.enable_date) {
                            row["User"] = json!({ "Arn": arn });
                            row["EnableDate"] = json!(date);
                        }
                        row
                    })
                    .collect();
                outln!("{}", json!({ "VirtualMFADevices": rows }))?;
            } else {
                let width = devices
                    .iter()
                    .map(|d| d.serial_number.len())
                    .max()
                    .unwrap_or(0)
                    .max("SERIAL NUMBER".len());
                outln!(
                    "{:<width$}  {:<20}  {:<20}  USER",
                    "SERIAL NUMBER",
                    "CREATED",
                    "ENABLED"
                )?;
                for d in &devices {
                    outln!(
                        "{:<width$}  {:<20}  {:<20}  {}",
                        d.serial_number,
                        d.create_date,
                        d.enable_date.as_deref().unwrap_or("-"),
                        d.user_arn.as_deref().unwrap_or("-")
                    )?;
                }
            }
        }
        Command::DeactivateMfaDevice { serial_number } => {
            store.deactivate_mfa_device(serial_number)?;
            if json {
                outln!("{}", json!({ "SerialNumber": serial_number }))?;
            }
        }
        Command::DeleteVirtualMfaDevice { serial_number } => {
            store.delete_virtual_mfa_device(serial_number)?;
            if json {
                outln!("{}", json!({ "SerialNumber": serial_number }))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `text` as a QR code of Unicode half blocks (two modules per character cell), light modules drawn,
/// so it scans on a dark terminal; the quiet zone is included.
fn qr_code(text: &str) -> anyhow::Result<zeroize::Zeroizing<String>> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes()).context("rendering the QR code")?;
    Ok(zeroize::Zeroizing::new(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .build(),
    ))
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
