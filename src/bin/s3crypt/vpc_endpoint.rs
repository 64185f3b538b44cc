//! `s3crypt vpc-endpoint …`: the endpoint policies of the VPC endpoints that `s3crypt serve
//! --vpc-endpoint` serves, kept in the home (what `aws ec2 modify-vpc-endpoint --policy-document`
//! sets on AWS). A running server obeys a change within two seconds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::server::vpc_endpoint::EndpointPolicies;
use serde_json::json;

/// `s3crypt vpc-endpoint` (named after the `aws ec2` operations' policy documents).
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum Command {
    /// Set the endpoint policy of vpce-ID from a JSON file (a resource policy with Principal).
    PutPolicy {
        /// The endpoint id (vpce-…).
        id: String,
        /// The policy document.
        file: PathBuf,
    },
    /// Print the endpoint policy of vpce-ID (none: the endpoint allows everything).
    GetPolicy {
        /// The endpoint id (vpce-…).
        id: String,
    },
    /// Remove the endpoint policy of vpce-ID (back to allowing everything).
    DeletePolicy {
        /// The endpoint id (vpce-…).
        id: String,
    },
}

pub(crate) fn run(cmd: &Command, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let policies = EndpointPolicies::new(home);
    match cmd {
        Command::PutPolicy { id, file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            policies.put(id, Some(&text))?;
            if json {
                outln!("{}", json!({"VpcEndpointId": id, "Return": true}))?;
            } else {
                outln!("{id}: endpoint policy set")?;
            }
        }
        Command::GetPolicy { id } => {
            let text = policies.get_text(id)?;
            if json {
                outln!("{}", json!({"VpcEndpointId": id, "PolicyDocument": text}))?;
            } else {
                match text {
                    Some(t) => outln!("{}", t.trim_end())?,
                    None => outln!("{id}: no endpoint policy (everything is allowed)")?,
                }
            }
        }
        Command::DeletePolicy { id } => {
            policies.put(id, None)?;
            if json {
                outln!("{}", json!({"VpcEndpointId": id, "Return": true}))?;
            } else {
                outln!("{id}: endpoint policy removed")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
