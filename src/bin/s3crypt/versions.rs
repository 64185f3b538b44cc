//! `s3crypt bucket versioning|list-versions|object-lock` and `s3crypt object
//! retention|legal-hold|delete`: versioning, MFA Delete and Object Lock on the local store, as the
//! operator (the local account's root, over TLS). Each prints what S3 returns: the XML document, or
//! with `--json` the fields aws-cli shows.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use s3crypt::s3::object_lock::{self, ObjectLockConfiguration};
use s3crypt::s3::versioning::VersioningConfiguration;
use s3crypt::sse::engine::SseEngine;
use s3crypt::sse::headers::Headers;
use s3crypt::store::{VersionListRequest, Versioning};
use serde_json::json;

use crate::sse::{engine, local_admin, report_error, split};

/// `s3crypt object`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ObjectCommand {
    /// GetObjectRetention, or PutObjectRetention with --mode and --retain-until.
    Retention {
        /// BUCKET/KEY.
        target: String,
        /// The version (default: the current one).
        #[arg(long, allow_hyphen_values = true)]
        version_id: Option<String>,
        /// GOVERNANCE or COMPLIANCE.
        #[arg(long, requires = "retain_until", value_parser = ["GOVERNANCE", "COMPLIANCE"])]
        mode: Option<String>,
        /// Retain-until date, ISO 8601 (2030-01-01T00:00:00Z).
        #[arg(long, requires = "mode")]
        retain_until: Option<String>,
        /// Remove the retention (GOVERNANCE only, with --bypass-governance-retention).
        #[arg(long, conflicts_with_all = ["mode", "retain_until"])]
        clear: bool,
        /// Send x-amz-bypass-governance-retention: true.
        #[arg(long)]
        bypass_governance_retention: bool,
    },
    /// GetObjectLegalHold, or PutObjectLegalHold with --status.
    LegalHold {
        /// BUCKET/KEY.
        target: String,
        /// The version (default: the current one).
        #[arg(long, allow_hyphen_values = true)]
        version_id: Option<String>,
        /// ON or OFF.
        #[arg(long, value_parser = ["ON", "OFF"])]
        status: Option<String>,
    },
    /// DeleteObject: adds a delete marker in a versioned bucket, or removes --version-id for good.
    Delete {
        /// BUCKET/KEY.
        target: String,
        /// Remove this version permanently.
        #[arg(long, allow_hyphen_values = true)]
        version_id: Option<String>,
        /// 'SERIAL CODE' of the root's MFA device (MFA Delete).
        #[arg(long, value_name = "SERIAL CODE")]
        mfa: Option<String>,
        /// Send x-amz-bypass-governance-retention: true.
        #[arg(long)]
        bypass_governance_retention: bool,
    },
}

/// The versioning and Object Lock subcommands of `s3crypt bucket`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BucketVersionCommand {
    /// GetBucketVersioning, or PutBucketVersioning with --status and/or --mfa-delete.
    Versioning {
        /// Bucket name.
        bucket: String,
        /// Enabled or Suspended.
        #[arg(long, value_parser = ["Enabled", "Suspended"])]
        status: Option<String>,
        /// Enabled or Disabled (needs --mfa).
        #[arg(long, value_parser = ["Enabled", "Disabled"])]
        mfa_delete: Option<String>,
        /// 'SERIAL CODE' of the root's MFA device.
        #[arg(long, value_name = "SERIAL CODE")]
        mfa: Option<String>,
    },
    /// ListObjectVersions (every page).
    ListVersions {
        /// Bucket name.
        bucket: String,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// GetObjectLockConfiguration, or PutObjectLockConfiguration with --enable and an optional
    /// default retention (--mode with --days or --years).
    ObjectLock {
        /// Bucket name.
        bucket: String,
        /// Enable Object Lock (versioning must be Enabled; it cannot be disabled again).
        #[arg(long)]
        enable: bool,
        /// Default retention mode: GOVERNANCE or COMPLIANCE.
        #[arg(long, requires = "enable", value_parser = ["GOVERNANCE", "COMPLIANCE"])]
        mode: Option<String>,
        /// Default retention in days.
        #[arg(long, requires = "mode", conflicts_with = "years")]
        days: Option<u32>,
        /// Default retention in years.
        #[arg(long, requires = "mode")]
        years: Option<u32>,
    },
}

fn headers(pairs: &[(&str, Option<&str>)]) -> Headers {
    Headers::new(
        pairs
            .iter()
            .filter_map(|(n, v)| v.map(|v| ((*n).to_owned(), v.to_owned()))),
    )
}

/// Prints `xml` (text) or `value` (JSON).
fn print(xml: &str, value: serde_json::Value, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{value}")?;
    } else {
        outln!("{xml}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// DeleteObject's answer as aws-cli prints it: `DeleteMarker` and `VersionId` only when S3 sends them.
fn deleted_json(marker: bool, version_id: Option<String>) -> serde_json::Value {
    let mut v = serde_json::Map::new();
    if marker {
        v.insert("DeleteMarker".into(), true.into());
    }
    if let Some(id) = version_id {
        v.insert("VersionId".into(), id.into());
    }
    v.into()
}

fn versioning_json(xml: &str) -> serde_json::Value {
    let Ok(c) = VersioningConfiguration::parse(xml.as_bytes()) else {
        return json!({});
    };
    let mut v = serde_json::Map::new();
    match c.status {
        Some(Versioning::Enabled) => v.insert("Status".into(), "Enabled".into()),
        Some(Versioning::Suspended) => v.insert("Status".into(), "Suspended".into()),
        _ => None,
    };
    if let Some(on) = c.mfa_delete {
        v.insert(
            "MFADelete".into(),
            if on { "Enabled" } else { "Disabled" }.into(),
        );
    }
    v.into()
}

pub(crate) fn bucket(
    e: &SseEngine,
    cmd: &BucketVersionCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let ctx = local_admin(true);
    match cmd {
        BucketVersionCommand::Versioning {
            bucket,
            status,
            mfa_delete,
            mfa,
        } => {
            if status.is_none() && mfa_delete.is_none() {
                return match e.get_bucket_versioning(&ctx, bucket) {
                    Ok(xml) => print(&xml, versioning_json(&xml), json),
                    Err(err) => report_error(&err, json),
                };
            }
            let mut body = String::from("<VersioningConfiguration>");
            if let Some(s) = status {
                body.push_str(&format!("<Status>{s}</Status>"));
            }
            if let Some(m) = mfa_delete {
                body.push_str(&format!("<MfaDelete>{m}</MfaDelete>"));
            }
            body.push_str("</VersioningConfiguration>");
            let h = headers(&[("x-amz-mfa", mfa.as_deref())]);
            match e.put_bucket_versioning(&ctx, bucket, &h, body.as_bytes()) {
                Ok(()) => {
                    let xml = e.get_bucket_versioning(&ctx, bucket)?;
                    print(&xml, versioning_json(&xml), json)
                }
                Err(err) => report_error(&err, json),
            }
        }
        BucketVersionCommand::ListVersions { bucket, prefix } => {
            let mut request = VersionListRequest {
                prefix: prefix.clone(),
                ..VersionListRequest::default()
            };
            let mut rows = Vec::new();
            loop {
                let page = match e.list_object_versions(&ctx, bucket, &request) {
                    Ok(p) => p,
                    Err(err) => return report_error(&err, json),
                };
                for v in &page.versions {
                    let modified = s3crypt::s3::xml::timestamp(v.last_modified);
                    if json {
                        rows.push(json!({
                            "Key": v.key, "VersionId": v.version_id, "IsLatest": v.is_latest,
                            "DeleteMarker": v.is_delete_marker, "LastModified": modified,
                            "Size": (!v.is_delete_marker).then_some(v.size),
                            "ETag": (!v.is_delete_marker).then_some(&v.etag),
                        }));
                    } else {
                        let kind = if v.is_delete_marker {
                            "marker"
                        } else {
                            "version"
                        };
                        let latest = if v.is_latest { "latest" } else { "-" };
                        outln!(
                            "{modified}  {kind:7}  {latest:6}  {:>12}  {}  {}",
                            if v.is_delete_marker {
                                String::new()
                            } else {
                                v.size.to_string()
                            },
                            v.version_id,
                            v.key
                        )?;
                    }
                }
                if !page.is_truncated {
                    break;
                }
                request.key_marker = page.next_key_marker;
                request.version_id_marker = page.next_version_id_marker;
            }
            if json {
                outln!("{}", json!({ "Versions": rows }))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        BucketVersionCommand::ObjectLock {
            bucket,
            enable,
            mode,
            days,
            years,
        } => {
            if *enable {
                let mut body = String::from(
                    "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>",
                );
                if let Some(m) = mode {
                    let period = match (days, years) {
                        (Some(d), None) => format!("<Days>{d}</Days>"),
                        (None, Some(y)) => format!("<Years>{y}</Years>"),
                        _ => crate::exit::usage!("--mode needs --days or --years"),
                    };
                    body.push_str(&format!(
                        "<Rule><DefaultRetention><Mode>{m}</Mode>{period}</DefaultRetention></Rule>"
                    ));
                }
                body.push_str("</ObjectLockConfiguration>");
                if let Err(err) = e.put_object_lock_configuration(&ctx, bucket, body.as_bytes()) {
                    return report_error(&err, json);
                }
            }
            match e.get_object_lock_configuration(&ctx, bucket) {
                Ok(xml) => {
                    let c = ObjectLockConfiguration::parse(xml.as_bytes())
                        .context("the configuration just read")?;
                    let mut v = json!({"ObjectLockEnabled": "Enabled"});
                    if let Some((m, p)) = c.default {
                        let (unit, n) = match p {
                            object_lock::Period::Days(n) => ("Days", n),
                            object_lock::Period::Years(n) => ("Years", n),
                        };
                        let mode = match m {
                            s3crypt::store::RetentionMode::Governance => "GOVERNANCE",
                            _ => "COMPLIANCE",
                        };
                        v["Rule"] = json!({"DefaultRetention": {"Mode": mode, unit: n}});
                    }
                    print(&xml, json!({ "ObjectLockConfiguration": v }), json)
                }
                Err(err) => report_error(&err, json),
            }
        }
    }
}

pub(crate) fn object(cmd: &ObjectCommand, home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let e = engine(home)?;
    let ctx = local_admin(true);
    match cmd {
        ObjectCommand::Retention {
            target,
            version_id,
            mode,
            retain_until,
            clear,
            bypass_governance_retention,
        } => {
            let (b, k) = split(target)?;
            let v = version_id.as_deref();
            let body = match (mode, retain_until) {
                (Some(m), Some(d)) => Some(format!(
                    "<Retention><Mode>{m}</Mode><RetainUntilDate>{d}</RetainUntilDate></Retention>"
                )),
                _ if *clear => Some("<Retention/>".to_owned()),
                _ => None,
            };
            if let Some(body) = body
                && let Err(err) = e.put_object_retention(
                    &ctx,
                    b,
                    k,
                    v,
                    body.as_bytes(),
                    *bypass_governance_retention,
                )
            {
                return report_error(&err, json);
            }
            match e.get_object_retention(&ctx, b, k, v) {
                Ok(xml) => {
                    let r = object_lock::parse_retention(xml.as_bytes())
                        .ok()
                        .flatten()
                        .context("the retention just read")?;
                    let mode = match r.mode {
                        s3crypt::store::RetentionMode::Governance => "GOVERNANCE",
                        _ => "COMPLIANCE",
                    };
                    let until = object_lock::render_time(r.retain_until);
                    print(
                        &xml,
                        json!({"Retention": {"Mode": mode, "RetainUntilDate": until}}),
                        json,
                    )
                }
                Err(err) => report_error(&err, json),
            }
        }
        ObjectCommand::LegalHold {
            target,
            version_id,
            status,
        } => {
            let (b, k) = split(target)?;
            let v = version_id.as_deref();
            if let Some(s) = status {
                let body = format!("<LegalHold><Status>{s}</Status></LegalHold>");
                if let Err(err) = e.put_object_legal_hold(&ctx, b, k, v, body.as_bytes()) {
                    return report_error(&err, json);
                }
            }
            match e.get_object_legal_hold(&ctx, b, k, v) {
                Ok(xml) => {
                    let on = object_lock::parse_legal_hold(xml.as_bytes()).unwrap_or(false);
                    print(
                        &xml,
                        json!({"LegalHold": {"Status": if on { "ON" } else { "OFF" }}}),
                        json,
                    )
                }
                Err(err) => report_error(&err, json),
            }
        }
        ObjectCommand::Delete {
            target,
            version_id,
            mfa,
            bypass_governance_retention,
        } => {
            let (b, k) = split(target)?;
            let result = match version_id {
                None => e
                    .delete_object(&ctx, b, k)
                    .map(|marker| deleted_json(marker.is_some(), marker.map(|m| m.version_id))),
                Some(v) => (|| {
                    let checked = if e.mfa_delete_enabled(b)? {
                        e.check_mfa(&ctx, b, &headers(&[("x-amz-mfa", mfa.as_deref())]))?;
                        true
                    } else {
                        false
                    };
                    let gone = e.delete_object_version(
                        &ctx,
                        b,
                        k,
                        v,
                        *bypass_governance_retention,
                        checked,
                    )?;
                    Ok(deleted_json(gone.delete_marker, Some(gone.version_id)))
                })(),
            };
            match result {
                Ok(value) => {
                    if json {
                        outln!("{value}")?;
                    } else {
                        outln!("HTTP 204")?;
                        if value["DeleteMarker"] == true {
                            outln!("x-amz-delete-marker: true")?;
                        }
                        if let Some(v) = value["VersionId"].as_str() {
                            outln!("x-amz-version-id: {v}")?;
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => report_error(&err, json),
            }
        }
    }
}
