//! `s3crypt access-point …`: the S3 Control access point operations on the local home, as the local
//! account's root (what `aws s3control … --account-id 000000000000` does against `s3crypt serve`).
//! Each prints S3 Control's answer: the XML document, or with `--json` the fields aws-cli shows.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::s3::S3Error;
use s3crypt::s3::access_point::{self, AccessPoint, CreateRequest};
use s3crypt::s3::public_access::PublicAccessBlock;
use s3crypt::sse::engine::{LOCAL_ACCOUNT, SseEngine};
use serde_json::json;

use crate::sse::{local_admin, report_error};

/// `s3crypt access-point`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The region in access point ARNs (as `s3crypt serve --region`).
    #[arg(long, default_value = "us-east-1", global = true)]
    region: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// CreateAccessPoint NAME for BUCKET.
    Create {
        /// Access point name (3–50 lowercase letters, digits, hyphens).
        name: String,
        /// The bucket it serves.
        #[arg(long)]
        bucket: String,
        /// Reachable only through a VPC endpoint of this VPC.
        #[arg(long, value_name = "VPC-ID")]
        vpc_id: Option<String>,
        /// Turn this access point's Block Public Access settings off (all on by default).
        #[arg(long)]
        allow_public: bool,
    },
    /// GetAccessPoint.
    Get {
        /// Access point name.
        name: String,
    },
    /// ListAccessPoints (of one bucket with --bucket).
    List {
        /// Only this bucket's access points.
        #[arg(long)]
        bucket: Option<String>,
    },
    /// DeleteAccessPoint.
    Delete {
        /// Access point name.
        name: String,
    },
    /// PutAccessPointPolicy from a JSON file.
    PutPolicy {
        /// Access point name.
        name: String,
        /// The policy document.
        file: PathBuf,
    },
    /// GetAccessPointPolicy.
    GetPolicy {
        /// Access point name.
        name: String,
    },
    /// DeleteAccessPointPolicy.
    DeletePolicy {
        /// Access point name.
        name: String,
    },
    /// GetAccessPointPolicyStatus.
    PolicyStatus {
        /// Access point name.
        name: String,
    },
}

fn summary(ap: &AccessPoint) -> serde_json::Value {
    let mut v = json!({
        "Name": ap.name, "Bucket": ap.bucket, "NetworkOrigin": ap.network_origin.as_str(),
        "AccessPointArn": ap.arn(), "Alias": ap.alias, "BucketAccountId": ap.account,
    });
    if let access_point::NetworkOrigin::Vpc(id) = &ap.network_origin {
        v["VpcConfiguration"] = json!({ "VpcId": id });
    }
    v
}

pub(crate) fn run(e: &SseEngine, args: &Args, json: bool) -> anyhow::Result<ExitCode> {
    let ctx = local_admin(true);
    let (account, region) = (LOCAL_ACCOUNT, args.region.as_str());
    let result: Result<(String, serde_json::Value), S3Error> = match &args.command {
        Command::Create {
            name,
            bucket,
            vpc_id,
            allow_public,
        } => {
            let off = PublicAccessBlock {
                block_public_acls: false,
                ignore_public_acls: false,
                block_public_policy: false,
                restrict_public_buckets: false,
            };
            let request = CreateRequest {
                bucket: bucket.clone(),
                vpc_id: vpc_id.clone(),
                public_access_block: if *allow_public {
                    off
                } else {
                    PublicAccessBlock::all_on()
                },
                bucket_account_id: None,
            };
            e.create_access_point(&ctx, account, region, name, request)
                .map(|ap| {
                    let v = json!({"AccessPointArn": ap.arn(), "Alias": ap.alias});
                    (access_point::render_create(&ap), v)
                })
        }
        Command::Get { name } => e.get_access_point(&ctx, account, region, name).map(|ap| {
            let mut v = summary(&ap);
            v["CreationDate"] = ap.created.clone().into();
            v["PublicAccessBlockConfiguration"] = json!({
                "BlockPublicAcls": ap.block_public_acls, "IgnorePublicAcls": ap.ignore_public_acls,
                "BlockPublicPolicy": ap.block_public_policy,
                "RestrictPublicBuckets": ap.restrict_public_buckets,
            });
            (access_point::render_get(&ap, account), v)
        }),
        Command::List { bucket } => e
            .list_access_points(&ctx, account, bucket.as_deref(), None, usize::MAX)
            .map(|(aps, _)| {
                let v = json!({"AccessPointList": aps.iter().map(summary).collect::<Vec<_>>()});
                (access_point::render_list(&aps, None), v)
            }),
        Command::Delete { name } => e
            .delete_access_point(&ctx, account, region, name)
            .map(|()| (String::new(), json!({}))),
        Command::PutPolicy { name, file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            e.put_access_point_policy(&ctx, account, region, name, Some(&text))
                .map(|()| (String::new(), json!({})))
        }
        Command::GetPolicy { name } => e
            .get_access_point_policy(&ctx, account, region, name)
            .map(|p| (access_point::render_policy(&p), json!({ "Policy": p }))),
        Command::DeletePolicy { name } => e
            .put_access_point_policy(&ctx, account, region, name, None)
            .map(|()| (String::new(), json!({}))),
        Command::PolicyStatus { name } => e
            .access_point_policy_status(&ctx, account, region, name)
            .map(|p| {
                (
                    access_point::render_policy_status(p),
                    json!({"PolicyStatus": {"IsPublic": p}}),
                )
            }),
    };
    print_control_result(result, json)
}

/// Prints an S3 Control command's answer: its JSON with `--json`, else its XML (nothing when empty);
/// an error as [`report_error`] does.
pub(crate) fn print_control_result(
    result: Result<(String, serde_json::Value), s3crypt::s3::S3Error>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok((xml, value)) => {
            if json {
                outln!("{value}")?;
            } else if !xml.is_empty() {
                outln!("{xml}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => report_error(&err, json),
    }
}
