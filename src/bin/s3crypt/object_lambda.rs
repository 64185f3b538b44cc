//! `s3crypt object-lambda …`: the S3 Control Object Lambda access point operations on the local home,
//! as the local account's root (what `aws s3control …-for-object-lambda --account-id 000000000000`
//! does against `s3crypt serve`). Each prints S3 Control's answer: the XML document, or with `--json`
//! the fields aws-cli shows.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::s3::S3Error;
use s3crypt::s3::access_point;
use s3crypt::s3::object_lambda::{
    self, Action, Configuration, Feature, ObjectLambdaAccessPoint, Transformation,
};
use s3crypt::sse::engine::{LOCAL_ACCOUNT, SseEngine};
use serde_json::json;

use crate::sse::local_admin;

/// `s3crypt object-lambda`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The region in ARNs (as `s3crypt serve --region`).
    #[arg(long, default_value = "us-east-1", global = true)]
    region: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// CreateAccessPointForObjectLambda NAME.
    CreateAccessPoint {
        /// Object Lambda access point name (3–45 lowercase letters, digits, hyphens).
        name: String,
        /// The supporting access point: its ARN or its name in this account.
        #[arg(long, value_name = "ARN|NAME")]
        supporting_access_point: String,
        /// The Lambda function: its ARN or name (optionally `:VERSION` or `:$LATEST`).
        #[arg(long, value_name = "ARN|NAME")]
        function: String,
        /// The transformed actions (GetObject, HeadObject, ListObjects, ListObjectsV2).
        #[arg(long, value_delimiter = ',', default_value = "GetObject")]
        actions: Vec<String>,
        /// The `FunctionPayload` passed to the function.
        #[arg(long)]
        payload: Option<String>,
        /// Allowed features (GetObject-Range, GetObject-PartNumber, HeadObject-Range,
        /// HeadObject-PartNumber).
        #[arg(long, value_delimiter = ',')]
        allowed_features: Vec<String>,
        /// Turn CloudWatch request metrics on (recorded only).
        #[arg(long)]
        cloud_watch_metrics: bool,
    },
    /// GetAccessPointForObjectLambda.
    GetAccessPoint {
        /// Object Lambda access point name.
        name: String,
    },
    /// ListAccessPointsForObjectLambda.
    ListAccessPoints,
    /// DeleteAccessPointForObjectLambda.
    DeleteAccessPoint {
        /// Object Lambda access point name.
        name: String,
    },
    /// GetAccessPointConfigurationForObjectLambda (the `Configuration` XML; `put-configuration`
    /// reads it back).
    GetConfiguration {
        /// Object Lambda access point name.
        name: String,
    },
    /// PutAccessPointConfigurationForObjectLambda from an XML file holding a `Configuration`
    /// element.
    PutConfiguration {
        /// Object Lambda access point name.
        name: String,
        /// The configuration document.
        file: PathBuf,
    },
    /// PutAccessPointPolicyForObjectLambda from a JSON file.
    PutPolicy {
        /// Object Lambda access point name.
        name: String,
        /// The policy document.
        file: PathBuf,
    },
    /// GetAccessPointPolicyForObjectLambda.
    GetPolicy {
        /// Object Lambda access point name.
        name: String,
    },
    /// DeleteAccessPointPolicyForObjectLambda.
    DeletePolicy {
        /// Object Lambda access point name.
        name: String,
    },
    /// GetAccessPointPolicyStatusForObjectLambda.
    PolicyStatus {
        /// Object Lambda access point name.
        name: String,
    },
}

fn alias_json(o: &ObjectLambdaAccessPoint) -> serde_json::Value {
    json!({"Value": o.alias, "Status": "READY"})
}

fn configuration_json(c: &Configuration) -> serde_json::Value {
    let mut v = json!({
        "SupportingAccessPoint": c.supporting_access_point,
        "CloudWatchMetricsEnabled": c.cloud_watch_metrics_enabled,
        "TransformationConfigurations": c.transformations.iter().map(|t| {
            let mut lambda = json!({"FunctionArn": t.function});
            if let Some(p) = &t.payload {
                lambda["FunctionPayload"] = p.clone().into();
            }
            json!({
                "Actions": t.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                "ContentTransformation": {"AwsLambda": lambda},
            })
        }).collect::<Vec<_>>(),
    });
    if !c.allowed_features.is_empty() {
        v["AllowedFeatures"] = c
            .allowed_features
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .into();
    }
    v
}

/// The configuration the `create-access-point` flags describe.
fn configuration_of(
    region: &str,
    supporting: &str,
    function: &str,
    actions: &[String],
    payload: Option<&String>,
    features: &[String],
    metrics: bool,
) -> Result<Configuration, S3Error> {
    let supporting_access_point = if supporting.starts_with("arn:") {
        supporting.to_owned()
    } else {
        access_point::arn(region, LOCAL_ACCOUNT, supporting)
    };
    let actions = actions
        .iter()
        .map(|a| {
            Action::parse(a.trim()).ok_or_else(|| {
                S3Error::invalid_argument(format!(
                    "unknown action {a:?} (GetObject, HeadObject, ListObjects, ListObjectsV2)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let allowed_features = features
        .iter()
        .map(|f| {
            Feature::parse(f.trim()).ok_or_else(|| {
                S3Error::invalid_argument(format!(
                    "unknown feature {f:?} (GetObject-Range, GetObject-PartNumber, HeadObject-Range, HeadObject-PartNumber)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let configuration = Configuration {
        supporting_access_point,
        cloud_watch_metrics_enabled: metrics,
        allowed_features,
        transformations: vec![Transformation {
            actions,
            function: function.to_owned(),
            payload: payload.cloned(),
        }],
    };
    // The same checks as a configuration received over S3 Control.
    object_lambda::parse_configuration(
        object_lambda::render_configuration(&configuration).as_bytes(),
    )
}

pub(crate) fn run(e: &SseEngine, args: &Args, json: bool) -> anyhow::Result<ExitCode> {
    let ctx = local_admin(true);
    let (account, region) = (LOCAL_ACCOUNT, args.region.as_str());
    let result: Result<(String, serde_json::Value), S3Error> = match &args.command {
        Command::CreateAccessPoint {
            name,
            supporting_access_point,
            function,
            actions,
            payload,
            allowed_features,
            cloud_watch_metrics,
        } => configuration_of(
            region,
            supporting_access_point,
            function,
            actions,
            payload.as_ref(),
            allowed_features,
            *cloud_watch_metrics,
        )
        .and_then(|c| e.create_object_lambda_access_point(&ctx, account, region, name, c))
        .map(|o| {
            let v = json!({"ObjectLambdaAccessPointArn": o.arn(), "Alias": alias_json(&o)});
            (object_lambda::render_create(&o), v)
        }),
        Command::GetAccessPoint { name } => e
            .read_object_lambda_access_point(
                &ctx,
                account,
                region,
                name,
                "s3:GetAccessPointForObjectLambda",
            )
            .map(|o| {
                let v = json!({
                    "Name": o.name, "CreationDate": o.created, "Alias": alias_json(&o),
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": true, "IgnorePublicAcls": true,
                        "BlockPublicPolicy": true, "RestrictPublicBuckets": true,
                    },
                });
                (object_lambda::render_get(&o), v)
            }),
        Command::ListAccessPoints => e
            .list_object_lambda_access_points(&ctx, account, None, usize::MAX)
            .map(|(all, _)| {
                let list: Vec<_> = all
                    .iter()
                    .map(|o| {
                        json!({"Name": o.name, "ObjectLambdaAccessPointArn": o.arn(), "Alias": alias_json(o)})
                    })
                    .collect();
                (
                    object_lambda::render_list(&all, None),
                    json!({ "ObjectLambdaAccessPointList": list }),
                )
            }),
        Command::DeleteAccessPoint { name } => e
            .delete_object_lambda_access_point(&ctx, account, region, name)
            .map(|()| (String::new(), json!({}))),
        Command::GetConfiguration { name } => e
            .read_object_lambda_access_point(
                &ctx,
                account,
                region,
                name,
                "s3:GetAccessPointConfigurationForObjectLambda",
            )
            .map(|o| {
                (
                    object_lambda::render_configuration(&o.configuration),
                    json!({ "Configuration": configuration_json(&o.configuration) }),
                )
            }),
        Command::PutConfiguration { name, file } => {
            let text =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            object_lambda::parse_configuration(&text)
                .and_then(|c| e.put_object_lambda_configuration(&ctx, account, region, name, c))
                .map(|()| (String::new(), json!({})))
        }
        Command::PutPolicy { name, file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            e.put_object_lambda_policy(&ctx, account, region, name, Some(&text))
                .map(|()| (String::new(), json!({})))
        }
        Command::GetPolicy { name } => e
            .get_object_lambda_policy(&ctx, account, region, name)
            .map(|p| (object_lambda::render_policy(&p), json!({ "Policy": p }))),
        Command::DeletePolicy { name } => e
            .put_object_lambda_policy(&ctx, account, region, name, None)
            .map(|()| (String::new(), json!({}))),
        Command::PolicyStatus { name } => e
            .object_lambda_policy_status(&ctx, account, region, name)
            .map(|p| {
                (
                    object_lambda::render_policy_status(p),
                    json!({"PolicyStatus": {"IsPublic": p}}),
                )
            }),
    };
    crate::access_point::print_control_result(result, json)
}
