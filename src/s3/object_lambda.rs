//! S3 Object Lambda access points on the wire: names, ARNs and aliases as S3 forms them, the
//! `ObjectLambdaConfiguration` (parsed and rendered), the stored record of an Object Lambda access
//! point (OLAP) and the S3 Control documents of Create/Get/List/Delete…ForObjectLambda,
//! Get/PutAccessPointConfigurationForObjectLambda and the policy operations. Pure: no I/O; the engine
//! keeps the records with the supporting access point's bucket ([`OBJECT_LAMBDA_CONFIG`]) and the
//! server routes the requests.
//!
//! Facts (`../shared/reference/S3-FEATURES.md` §3.1, botocore's `s3control` model): a name is 3–45
//! characters matching `^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$`; the ARN is
//! `arn:aws:s3-object-lambda:REGION:ACCOUNT:accesspoint/NAME` (the only resource type of the
//! `s3-object-lambda` IAM service: there is no `…/object/KEY` form); the alias is
//! `<name prefix>-<generated>--ol-s3` (3–63 characters); the configuration names a supporting access
//! point ARN (`arn:[^:]+:s3:[^:]*:\d{12}:accesspoint/.*`), optional `CloudWatchMetricsEnabled`,
//! `AllowedFeatures` and at least one `TransformationConfiguration` (actions and a Lambda function).

pub mod event;

use serde::{Deserialize, Serialize};

use crate::s3::access_point::{S3_CONTROL_XMLNS, is_account_id};
use crate::s3::public_access::PublicAccessBlock;
use crate::s3::xml::{self, Doc, Node};
use crate::s3::{S3Error, S3ErrorCode};

/// The bucket configuration document (of the supporting access point's bucket) holding the Object
/// Lambda access points that use one of the bucket's access points (JSON: name → record).
pub const OBJECT_LAMBDA_CONFIG: &str = "object-lambda-access-points";

/// The suffix of every Object Lambda access point alias.
pub const ALIAS_SUFFIX: &str = "--ol-s3";

/// The largest Object Lambda access point policy (as an access point policy: 20 KB).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// The longest alias (S3 Control's `ObjectLambdaAccessPointAlias/Value`).
const MAX_ALIAS: usize = 63;
/// The longest `FunctionPayload` this server keeps (the model sets no bound).
const MAX_PAYLOAD: usize = 16 * 1024;
/// The most transformation configurations (the model sets no bound; four actions exist).
const MAX_TRANSFORMATIONS: usize = 16;

/// An operation an Object Lambda access point can transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// `GetObject`.
    GetObject,
    /// `HeadObject`.
    HeadObject,
    /// `ListObjects`.
    ListObjects,
    /// `ListObjectsV2`.
    ListObjectsV2,
}

impl Action {
    /// Every action, in the model's order.
    pub const ALL: [Self; 4] = [
        Self::GetObject,
        Self::HeadObject,
        Self::ListObjects,
        Self::ListObjectsV2,
    ];

    /// The name as S3 Control writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GetObject => "GetObject",
            Self::HeadObject => "HeadObject",
            Self::ListObjects => "ListObjects",
            Self::ListObjectsV2 => "ListObjectsV2",
        }
    }

    /// The action of `name`, if it is one.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The IAM action a request for this operation through an Object Lambda access point needs:
    /// `s3-object-lambda:GetObject` (also for HeadObject) or `s3-object-lambda:ListBucket` (Service
    /// Authorization Reference, `list_amazons3objectlambda`).
    #[must_use]
    pub fn iam_action(self) -> &'static str {
        match self {
            Self::GetObject | Self::HeadObject => "s3-object-lambda:GetObject",
            Self::ListObjects | Self::ListObjectsV2 => "s3-object-lambda:ListBucket",
        }
    }
}

/// A feature a client may use through the access point (`AllowedFeatures`); without it a request
/// with `Range` or `partNumber` is answered 501.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Feature {
    /// `GetObject-Range`.
    GetObjectRange,
    /// `GetObject-PartNumber`.
    GetObjectPartNumber,
    /// `HeadObject-Range`.
    HeadObjectRange,
    /// `HeadObject-PartNumber`.
    HeadObjectPartNumber,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Self; 4] = [
        Self::GetObjectRange,
        Self::GetObjectPartNumber,
        Self::HeadObjectRange,
        Self::HeadObjectPartNumber,
    ];

    /// The name as S3 Control writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GetObjectRange => "GetObject-Range",
            Self::GetObjectPartNumber => "GetObject-PartNumber",
            Self::HeadObjectRange => "HeadObject-Range",
            Self::HeadObjectPartNumber => "HeadObject-PartNumber",
        }
    }

    /// The feature of `name`, if it is one.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One `TransformationConfiguration`: the actions it transforms and the function that does it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transformation {
    /// `Actions/Action` (at least one).
    pub actions: Vec<Action>,
    /// `ContentTransformation/AwsLambda/FunctionArn`, as given (an ARN, a partial ARN or a name,
    /// optionally qualified); [`function_arn`] makes it a full ARN.
    pub function: String,
    /// `ContentTransformation/AwsLambda/FunctionPayload`, passed to the function verbatim.
    pub payload: Option<String>,
}

/// An `ObjectLambdaConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Configuration {
    /// `SupportingAccessPoint`: the ARN of the access point the data comes through.
    pub supporting_access_point: String,
    /// `CloudWatchMetricsEnabled` (kept and returned; this server has no CloudWatch).
    pub cloud_watch_metrics_enabled: bool,
    /// `AllowedFeatures`.
    pub allowed_features: Vec<Feature>,
    /// `TransformationConfigurations` (at least one).
    pub transformations: Vec<Transformation>,
}

impl Configuration {
    /// The transformation configured for `action`, if any (the first that lists it).
    #[must_use]
    pub fn transformation_for(&self, action: Action) -> Option<&Transformation> {
        self.transformations
            .iter()
            .find(|t| t.actions.contains(&action))
    }

    /// Whether `feature` is allowed.
    #[must_use]
    pub fn allows(&self, feature: Feature) -> bool {
        self.allowed_features.contains(&feature)
    }

    /// The supporting access point's region, account and name.
    ///
    /// # Errors
    /// 400 `InvalidArgument` when it is not an access point ARN.
    pub fn supporting(&self) -> Result<(&str, &str, &str), S3Error> {
        crate::s3::access_point::parse_arn(&self.supporting_access_point).ok_or_else(|| {
            S3Error::invalid_argument(
                "SupportingAccessPoint must be an access point ARN (arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME).",
            )
            .with_extra("ArgumentName", "SupportingAccessPoint")
        })
    }
}

/// An Object Lambda access point as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLambdaAccessPoint {
    /// Its name, unique among the account's Object Lambda access points.
    pub name: String,
    /// The owning account.
    pub account: String,
    /// The region it lives in.
    pub region: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Its alias (generated at creation, never changed).
    pub alias: String,
    /// Its configuration.
    pub configuration: Configuration,
    /// Its policy document, if one was put.
    #[serde(default)]
    pub policy: Option<String>,
}

impl ObjectLambdaAccessPoint {
    /// `arn:aws:s3-object-lambda:REGION:ACCOUNT:accesspoint/NAME`.
    #[must_use]
    pub fn arn(&self) -> String {
        arn(&self.region, &self.account, &self.name)
    }

    /// The transformation configured for `action`, if any.
    #[must_use]
    pub fn transformation_for(&self, action: Action) -> Option<&Transformation> {
        self.configuration.transformation_for(action)
    }
}

/// `arn:aws:s3-object-lambda:REGION:ACCOUNT:accesspoint/NAME`.
#[must_use]
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:s3-object-lambda:{region}:{account}:accesspoint/{name}")
}

/// The region, account and name in an Object Lambda access point ARN, if `s` is one.
#[must_use]
pub fn parse_arn(s: &str) -> Option<(&str, &str, &str)> {
    let rest = s.strip_prefix("arn:aws:s3-object-lambda:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, rest) = rest.split_once(':')?;
    let name = rest.strip_prefix("accesspoint/")?;
    (is_valid_name(name) && is_account_id(account)).then_some((region, account, name))
}

/// Whether `name` is a valid Object Lambda access point name (see the module documentation).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=45).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Checks an Object Lambda access point name.
///
/// # Errors
/// 400 `InvalidRequest` (S3 Control documents no error for a bad name).
pub fn check_name(name: &str) -> Result<(), S3Error> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(S3Error::invalid_request(
            "Your Object Lambda access point name is invalid: 3 to 45 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
        ))
    }
}

/// Whether `s` has the shape of an Object Lambda access point alias.
#[must_use]
pub fn is_alias(s: &str) -> bool {
    (3..=MAX_ALIAS).contains(&s.len())
        && s.ends_with(ALIAS_SUFFIX)
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// A new alias for `name`: as much of the name as fits, `-`, 34 random lowercase letters and digits,
/// `--ol-s3`.
///
/// # Errors
/// 500 if the random number generator fails.
pub fn new_alias(name: &str) -> Result<String, S3Error> {
    crate::s3::access_point::generated_alias(name, ALIAS_SUFFIX, MAX_ALIAS)
}

/// Whether `s` matches S3 Control's `FunctionArnString`:
/// `(arn:aws:lambda:)?(REGION:)?(ACCOUNT:)?(function:)?NAME(:QUALIFIER)?`.
#[must_use]
pub fn is_valid_function(s: &str) -> bool {
    function_parts(s).is_some()
}

/// The region, account, name and qualifier of a function reference, each as given.
type FunctionParts<'a> = (Option<&'a str>, Option<&'a str>, &'a str, Option<&'a str>);

/// Splits a function reference into [`FunctionParts`].
fn function_parts(s: &str) -> Option<FunctionParts<'_>> {
    let ident = |p: &str| {
        !p.is_empty()
            && p.len() <= 170
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if s.is_empty() || s.len() > 1024 {
        return None;
    }
    let mut parts: Vec<&str> = s.split(':').collect();
    if parts.first() == Some(&"arn") {
        if parts.len() < 3 || parts[1] != "aws" || parts[2] != "lambda" {
            return None;
        }
        parts.drain(..3);
    }
    let mut region = None;
    let mut account = None;
    if parts.len() > 1 && parts[0].contains('-') && !is_account_id(parts[0]) {
        let r = parts.remove(0);
        if !r
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return None;
        }
        region = Some(r);
    }
    if parts.len() > 1 && is_account_id(parts[0]) {
        account = Some(parts.remove(0));
    }
    if parts.first() == Some(&"function") && parts.len() > 1 {
        parts.remove(0);
    }
    match parts.as_slice() {
        [name] if ident(name) => Some((region, account, name, None)),
        [name, q] if ident(name) && (*q == "$LATEST" || ident(q)) => {
            Some((region, account, name, Some(q)))
        }
        _ => None,
    }
}

/// The full ARN of a function reference for IAM (`lambda:InvokeFunction`): a name or partial ARN
/// is completed with `region` and `account` (the function must be in the OLAP's account and Region);
/// a qualifier is kept (`…:function:NAME:$LATEST`). `None` for a reference that is not one.
#[must_use]
pub fn function_arn(reference: &str, region: &str, account: &str) -> Option<String> {
    let (r, a, name, q) = function_parts(reference)?;
    let r = r.unwrap_or(region);
    let a = a.unwrap_or(account);
    Some(match q {
        Some(q) => format!("arn:aws:lambda:{r}:{a}:function:{name}:{q}"),
        None => format!("arn:aws:lambda:{r}:{a}:function:{name}"),
    })
}

fn parse_bool(n: &Node) -> Result<bool, S3Error> {
    n.leaf()?;
    match n.text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(xml::malformed()),
    }
}

fn invalid(argument: &str, message: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::invalid_argument(message).with_extra("ArgumentName", argument)
}

/// Reads a `Configuration` element.
fn configuration_from(node: &Node) -> Result<Configuration, S3Error> {
    let mut supporting = None;
    let mut metrics = None;
    let mut features: Option<Vec<Feature>> = None;
    let mut transformations: Option<Vec<Transformation>> = None;
    for c in node.children_only(&[
        "SupportingAccessPoint",
        "CloudWatchMetricsEnabled",
        "AllowedFeatures",
        "TransformationConfigurations",
    ])? {
        match c.name.as_str() {
            "SupportingAccessPoint" => {
                c.leaf()?;
                xml::set_once(&mut supporting, c.text.trim().to_owned())?;
            }
            "CloudWatchMetricsEnabled" => xml::set_once(&mut metrics, parse_bool(c)?)?,
            "AllowedFeatures" => {
                let mut list = Vec::new();
                for f in c.children_only(&["AllowedFeature"])? {
                    f.leaf()?;
                    let feature = Feature::parse(f.text.trim()).ok_or_else(|| {
                        invalid(
                            "AllowedFeature",
                            "AllowedFeature must be one of GetObject-Range, GetObject-PartNumber, HeadObject-Range, HeadObject-PartNumber.",
                        )
                    })?;
                    if !list.contains(&feature) {
                        list.push(feature);
                    }
                }
                xml::set_once(&mut features, list)?;
            }
            _ => {
                let mut list = Vec::new();
                for t in c.children_only(&["TransformationConfiguration"])? {
                    list.push(transformation_from(t)?);
                }
                xml::set_once(&mut transformations, list)?;
            }
        }
    }
    let supporting = supporting.ok_or_else(xml::malformed)?;
    if supporting.is_empty()
        || supporting.len() > 2048
        || crate::s3::access_point::parse_arn(&supporting).is_none()
    {
        return Err(invalid(
            "SupportingAccessPoint",
            "SupportingAccessPoint must be an access point ARN (arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME).",
        ));
    }
    let transformations = transformations.ok_or_else(xml::malformed)?;
    if transformations.is_empty() {
        return Err(invalid(
            "TransformationConfigurations",
            "At least one TransformationConfiguration is required.",
        ));
    }
    if transformations.len() > MAX_TRANSFORMATIONS {
        return Err(invalid(
            "TransformationConfigurations",
            "Too many TransformationConfigurations.",
        ));
    }
    for a in Action::ALL {
        if transformations
            .iter()
            .filter(|t| t.actions.contains(&a))
            .count()
            > 1
        {
            return Err(S3Error::invalid_request(format!(
                "The action {} is listed in more than one TransformationConfiguration.",
                a.as_str()
            )));
        }
    }
    Ok(Configuration {
        supporting_access_point: supporting,
        cloud_watch_metrics_enabled: metrics.unwrap_or(false),
        allowed_features: features.unwrap_or_default(),
        transformations,
    })
}

fn transformation_from(node: &Node) -> Result<Transformation, S3Error> {
    let mut actions: Option<Vec<Action>> = None;
    let mut lambda = None;
    for c in node.children_only(&["Actions", "ContentTransformation"])? {
        if c.name == "Actions" {
            let mut list = Vec::new();
            for a in c.children_only(&["Action"])? {
                a.leaf()?;
                let action = Action::parse(a.text.trim()).ok_or_else(|| {
                    invalid(
                        "Action",
                        "Action must be one of GetObject, HeadObject, ListObjects, ListObjectsV2.",
                    )
                })?;
                if !list.contains(&action) {
                    list.push(action);
                }
            }
            xml::set_once(&mut actions, list)?;
        } else {
            let [aws_lambda] = c.children_only(&["AwsLambda"])? else {
                return Err(xml::malformed());
            };
            let mut function = None;
            let mut payload = None;
            for f in aws_lambda.children_only(&["FunctionArn", "FunctionPayload"])? {
                f.leaf()?;
                if f.name == "FunctionArn" {
                    xml::set_once(&mut function, f.text.trim().to_owned())?;
                } else {
                    xml::set_once(&mut payload, f.text.clone())?;
                }
            }
            let function = function.ok_or_else(xml::malformed)?;
            if !is_valid_function(&function) {
                return Err(invalid(
                    "FunctionArn",
                    "FunctionArn must be a Lambda function ARN or name, optionally with a version or alias.",
                ));
            }
            if payload.as_ref().is_some_and(|p| p.len() > MAX_PAYLOAD) {
                return Err(invalid("FunctionPayload", "FunctionPayload is too long."));
            }
            xml::set_once(&mut lambda, (function, payload))?;
        }
    }
    let actions = actions.ok_or_else(xml::malformed)?;
    if actions.is_empty() {
        return Err(invalid(
            "Actions",
            "A TransformationConfiguration needs at least one Action.",
        ));
    }
    let (function, payload) = lambda.ok_or_else(xml::malformed)?;
    Ok(Transformation {
        actions,
        function,
        payload,
    })
}

/// Parses the body of CreateAccessPointForObjectLambda (`root` =
/// `CreateAccessPointForObjectLambdaRequest`) or PutAccessPointConfigurationForObjectLambda
/// (`PutAccessPointConfigurationForObjectLambdaRequest`): its one `Configuration`.
///
/// # Errors
/// 400 `MalformedXML` for a document that is not one; 400 `InvalidArgument` / `InvalidRequest` for
/// bad values (a supporting access point that is not an access point ARN, an unknown action or
/// feature, a bad function reference, no transformation, an action transformed twice).
pub fn parse_configuration_request(body: &[u8], root: &str) -> Result<Configuration, S3Error> {
    let tree = xml::parse_tree(body, root)?;
    let [config] = tree.children_only(&["Configuration"])? else {
        return Err(xml::malformed());
    };
    configuration_from(config)
}

/// Parses a bare `Configuration` element (the CLI's `put-configuration` file).
///
/// # Errors
/// As [`parse_configuration_request`].
pub fn parse_configuration(body: &[u8]) -> Result<Configuration, S3Error> {
    configuration_from(&xml::parse_tree(body, "Configuration")?)
}

fn write_configuration(d: &mut Doc, c: &Configuration) {
    d.open("Configuration");
    write_configuration_children(d, c);
    d.close("Configuration");
}

fn write_configuration_children(d: &mut Doc, c: &Configuration) {
    d.text("SupportingAccessPoint", &c.supporting_access_point);
    d.num("CloudWatchMetricsEnabled", c.cloud_watch_metrics_enabled);
    if !c.allowed_features.is_empty() {
        d.open("AllowedFeatures");
        for f in &c.allowed_features {
            d.text("AllowedFeature", f.as_str());
        }
        d.close("AllowedFeatures");
    }
    d.open("TransformationConfigurations");
    for t in &c.transformations {
        d.open("TransformationConfiguration");
        d.open("Actions");
        for a in &t.actions {
            d.text("Action", a.as_str());
        }
        d.close("Actions");
        d.open("ContentTransformation");
        d.open("AwsLambda");
        d.text("FunctionArn", &t.function);
        d.opt("FunctionPayload", t.payload.as_deref());
        d.close("AwsLambda");
        d.close("ContentTransformation");
        d.close("TransformationConfiguration");
    }
    d.close("TransformationConfigurations");
}

/// A bare `Configuration` document (what [`parse_configuration`] reads).
#[must_use]
pub fn render_configuration(c: &Configuration) -> String {
    let mut d = Doc::with_namespace("Configuration", S3_CONTROL_XMLNS);
    write_configuration_children(&mut d, c);
    d.finish("Configuration")
}

fn write_alias(d: &mut Doc, olap: &ObjectLambdaAccessPoint) {
    d.open("Alias");
    d.text("Value", &olap.alias);
    d.text("Status", "READY");
    d.close("Alias");
}

/// CreateAccessPointForObjectLambda's `CreateAccessPointForObjectLambdaResult`.
#[must_use]
pub fn render_create(olap: &ObjectLambdaAccessPoint) -> String {
    let root = "CreateAccessPointForObjectLambdaResult";
    let mut d = Doc::with_namespace(root, S3_CONTROL_XMLNS);
    d.text("ObjectLambdaAccessPointArn", &olap.arn());
    write_alias(&mut d, olap);
    d.finish(root)
}

/// GetAccessPointForObjectLambda's `GetAccessPointForObjectLambdaResult`: `Name`,
/// `PublicAccessBlockConfiguration` (always all on: Object Lambda access points are never public),
/// `CreationDate`, `Alias`.
#[must_use]
pub fn render_get(olap: &ObjectLambdaAccessPoint) -> String {
    let root = "GetAccessPointForObjectLambdaResult";
    let mut d = Doc::with_namespace(root, S3_CONTROL_XMLNS);
    d.text("Name", &olap.name);
    let pab = PublicAccessBlock::all_on();
    d.open("PublicAccessBlockConfiguration");
    d.num("BlockPublicAcls", pab.block_public_acls);
    d.num("IgnorePublicAcls", pab.ignore_public_acls);
    d.num("BlockPublicPolicy", pab.block_public_policy);
    d.num("RestrictPublicBuckets", pab.restrict_public_buckets);
    d.close("PublicAccessBlockConfiguration");
    d.text("CreationDate", &olap.created);
    write_alias(&mut d, olap);
    d.finish(root)
}

/// ListAccessPointsForObjectLambda's `ListAccessPointsForObjectLambdaResult`.
#[must_use]
pub fn render_list(olaps: &[ObjectLambdaAccessPoint], next_token: Option<&str>) -> String {
    let root = "ListAccessPointsForObjectLambdaResult";
    let mut d = Doc::with_namespace(root, S3_CONTROL_XMLNS);
    d.open("ObjectLambdaAccessPointList");
    for o in olaps {
        d.open("ObjectLambdaAccessPoint");
        d.text("Name", &o.name);
        d.text("ObjectLambdaAccessPointArn", &o.arn());
        write_alias(&mut d, o);
        d.close("ObjectLambdaAccessPoint");
    }
    d.close("ObjectLambdaAccessPointList");
    d.opt("NextToken", next_token);
    d.finish(root)
}

/// GetAccessPointConfigurationForObjectLambda's `GetAccessPointConfigurationForObjectLambdaResult`.
#[must_use]
pub fn render_get_configuration(c: &Configuration) -> String {
    let root = "GetAccessPointConfigurationForObjectLambdaResult";
    let mut d = Doc::with_namespace(root, S3_CONTROL_XMLNS);
    write_configuration(&mut d, c);
    d.finish(root)
}

/// Parses a `PutAccessPointPolicyForObjectLambdaRequest`: the policy document's text.
///
/// # Errors
/// 400 `MalformedXML` for anything else.
pub fn parse_put_policy(body: &[u8]) -> Result<String, S3Error> {
    let root = xml::parse_tree(body, "PutAccessPointPolicyForObjectLambdaRequest")?;
    let [policy] = root.children_only(&["Policy"])? else {
        return Err(xml::malformed());
    };
    policy.leaf()?;
    Ok(policy.text.clone())
}

/// GetAccessPointPolicyForObjectLambda's `GetAccessPointPolicyForObjectLambdaResult`.
#[must_use]
pub fn render_policy(policy: &str) -> String {
    let root = "GetAccessPointPolicyForObjectLambdaResult";
    let mut d = Doc::with_namespace(root, S3_CONTROL_XMLNS);
    d.text("Policy", policy);
    d.finish(root)
}

/// GetAccessPointPolicyStatusForObjectLambda's `GetAccessPointPolicyStatusForObjectLambdaResult`.
#[must_use]
pub fn render_policy_status(is_public: bool) -> String {
    let root = "GetAccessPointPolicyStatusForObjectLambdaResult";
    let mut d = Doc::with_namespace(root, S3_CONTROL_XMLNS);
    d.open("PolicyStatus");
    d.num("IsPublic", is_public);
    d.close("PolicyStatus");
    d.finish(root)
}

/// 404 `NoSuchAccessPoint` "The specified accesspoint does not exist" (moto's code for S3 Control;
/// the model lists no errors).
#[must_use]
pub fn no_such_access_point() -> S3Error {
    S3Error::from_code(S3ErrorCode::NoSuchAccessPoint)
}

/// 404 `NoSuchAccessPointPolicy`.
#[must_use]
pub fn no_such_policy() -> S3Error {
    S3Error::from_code(S3ErrorCode::NoSuchAccessPointPolicy)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &[u8] = br#"<CreateAccessPointForObjectLambdaRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Configuration><SupportingAccessPoint>arn:aws:s3:us-east-1:000000000000:accesspoint/myap</SupportingAccessPoint><TransformationConfigurations><TransformationConfiguration><Actions><Action>GetObject</Action><Action>HeadObject</Action></Actions><ContentTransformation><AwsLambda><FunctionArn>arn:aws:lambda:us-east-1:000000000000:function:f</FunctionArn><FunctionPayload>p &amp; q</FunctionPayload></AwsLambda></ContentTransformation></TransformationConfiguration></TransformationConfigurations><AllowedFeatures><AllowedFeature>GetObject-Range</AllowedFeature></AllowedFeatures><CloudWatchMetricsEnabled>true</CloudWatchMetricsEnabled></Configuration></CreateAccessPointForObjectLambdaRequest>"#;

    fn olap(c: Configuration) -> ObjectLambdaAccessPoint {
        ObjectLambdaAccessPoint {
            name: "my-olap".into(),
            account: "000000000000".into(),
            region: "us-east-1".into(),
            created: "2026-12-03T00:00:00.000Z".into(),
            alias: "my-olap-abc--ol-s3".into(),
            configuration: c,
            policy: None,
        }
    }

    #[test]
    fn names_arns_aliases() {
        for ok in ["abc", "a1b", "my-olap", &"a".repeat(45), "1ab"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["ab", "Abc", "a_b", "-ab", "ab-", "a.b", &"a".repeat(46), ""] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert_eq!(
            arn("us-east-1", "000000000000", "my-olap"),
            "arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/my-olap"
        );
        assert_eq!(
            parse_arn("arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/my-olap"),
            Some(("us-east-1", "000000000000", "my-olap"))
        );
        for bad in [
            "arn:aws:s3:us-east-1:000000000000:accesspoint/my-olap",
            "arn:aws:s3-object-lambda:us-east-1:0000:accesspoint/my-olap",
            "arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/x/object/k",
            "arn:aws:s3-object-lambda:",
        ] {
            assert_eq!(parse_arn(bad), None, "{bad}");
        }
        for name in ["my-olap", "a-".repeat(22).trim_end_matches('-'), "abc"] {
            let a = new_alias(name).expect("alias");
            assert!(is_alias(&a), "{a}");
            assert!(a.len() <= 63 && a.ends_with("--ol-s3"), "{a}");
            assert!(!crate::s3::access_point::is_alias(&a));
            assert_ne!(a, new_alias(name).expect("again"));
        }
        assert!(!is_alias("bucket"));
        assert!(!crate::sse::engine::valid_bucket_name(
            &new_alias("x-y").expect("a")
        ));
    }

    #[test]
    fn function_references() {
        for (r, full) in [
            ("f", "arn:aws:lambda:us-east-1:000000000000:function:f"),
            (
                "f:$LATEST",
                "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
            ),
            ("f:2", "arn:aws:lambda:us-east-1:000000000000:function:f:2"),
            (
                "111122223333:function:g",
                "arn:aws:lambda:us-east-1:111122223333:function:g",
            ),
            (
                "arn:aws:lambda:eu-west-1:111122223333:function:g:live",
                "arn:aws:lambda:eu-west-1:111122223333:function:g:live",
            ),
            (
                "arn:aws:lambda:us-east-1:000000000000:function:my_fn-1",
                "arn:aws:lambda:us-east-1:000000000000:function:my_fn-1",
            ),
        ] {
            assert_eq!(
                function_arn(r, "us-east-1", "000000000000").as_deref(),
                Some(full),
                "{r}"
            );
        }
        for bad in [
            "",
            "f:g:h:i:j:k:l",
            "arn:aws:s3:::b",
            "f g",
            "f:",
            ":f",
            "f:$NOPE",
            "a/b",
        ] {
            assert!(!is_valid_function(bad), "{bad}");
        }
    }

    #[test]
    fn configuration_round_trip() {
        let c = parse_configuration_request(CREATE, "CreateAccessPointForObjectLambdaRequest")
            .expect("parse");
        assert_eq!(
            c.supporting().expect("supporting"),
            ("us-east-1", "000000000000", "myap")
        );
        assert!(c.cloud_watch_metrics_enabled);
        assert!(c.allows(Feature::GetObjectRange));
        assert!(!c.allows(Feature::HeadObjectRange));
        let t = c.transformation_for(Action::HeadObject).expect("head");
        assert_eq!(t.payload.as_deref(), Some("p & q"));
        assert!(c.transformation_for(Action::ListObjectsV2).is_none());
        let o = olap(c.clone());
        let got = render_get_configuration(&o.configuration);
        assert!(
            got.contains("<Configuration><SupportingAccessPoint>"),
            "{got}"
        );
        let back = parse_configuration(render_configuration(&c).as_bytes()).expect("again");
        assert_eq!(back, c);
        let created = render_create(&o);
        assert!(created.contains("<ObjectLambdaAccessPointArn>arn:aws:s3-object-lambda:us-east-1:000000000000:accesspoint/my-olap</ObjectLambdaAccessPointArn><Alias><Value>my-olap-abc--ol-s3</Value><Status>READY</Status></Alias>"), "{created}");
        let listed = render_list(std::slice::from_ref(&o), Some("t"));
        assert!(listed.contains(
            "<ObjectLambdaAccessPointList><ObjectLambdaAccessPoint><Name>my-olap</Name>"
        ));
        assert!(listed.contains("<NextToken>t</NextToken>"));
        assert!(render_get(&o).contains("<Name>my-olap</Name><PublicAccessBlockConfiguration>"));
        assert!(render_policy_status(false).contains("<IsPublic>false</IsPublic>"));
        assert_eq!(
            parse_put_policy(b"<PutAccessPointPolicyForObjectLambdaRequest><Policy>{}</Policy></PutAccessPointPolicyForObjectLambdaRequest>").expect("p"),
            "{}"
        );
    }

    #[test]
    fn bad_configurations() {
        let wrap = |inner: &str| {
            format!(
                "<PutAccessPointConfigurationForObjectLambdaRequest><Configuration>{inner}</Configuration></PutAccessPointConfigurationForObjectLambdaRequest>"
            )
        };
        let sap = "<SupportingAccessPoint>arn:aws:s3:us-east-1:000000000000:accesspoint/myap</SupportingAccessPoint>";
        let tc = |actions: &str, f: &str| {
            format!(
                "<TransformationConfigurations><TransformationConfiguration><Actions>{actions}</Actions><ContentTransformation><AwsLambda><FunctionArn>{f}</FunctionArn></AwsLambda></ContentTransformation></TransformationConfiguration></TransformationConfigurations>"
            )
        };
        let get = "<Action>GetObject</Action>";
        let cases: Vec<(String, S3ErrorCode)> = vec![
            (wrap(&tc(get, "f")), S3ErrorCode::MalformedXML),
            (wrap(sap), S3ErrorCode::MalformedXML),
            (
                wrap(&format!("{sap}{}", tc("<Action>PutObject</Action>", "f"))),
                S3ErrorCode::InvalidArgument,
            ),
            (
                wrap(&format!("{sap}{}", tc("", "f"))),
                S3ErrorCode::InvalidArgument,
            ),
            (
                wrap(&format!("{sap}{}", tc(get, "not a function"))),
                S3ErrorCode::InvalidArgument,
            ),
            (
                wrap(&format!(
                    "<SupportingAccessPoint>arn:aws:s3:::bucket</SupportingAccessPoint>{}",
                    tc(get, "f")
                )),
                S3ErrorCode::InvalidArgument,
            ),
            (
                wrap(&format!(
                    "{sap}<AllowedFeatures><AllowedFeature>PutObject-Range</AllowedFeature></AllowedFeatures>{}",
                    tc(get, "f")
                )),
                S3ErrorCode::InvalidArgument,
            ),
            (
                wrap(&format!(
                    "{sap}<CloudWatchMetricsEnabled>yes</CloudWatchMetricsEnabled>{}",
                    tc(get, "f")
                )),
                S3ErrorCode::MalformedXML,
            ),
            (
                wrap(&format!("{sap}<TransformationConfigurations/>")),
                S3ErrorCode::InvalidArgument,
            ),
            (
                wrap(&format!(
                    "{sap}<TransformationConfigurations><TransformationConfiguration><Actions>{get}</Actions><ContentTransformation><AwsLambda><FunctionArn>f</FunctionArn></AwsLambda></ContentTransformation></TransformationConfiguration><TransformationConfiguration><Actions>{get}</Actions><ContentTransformation><AwsLambda><FunctionArn>g</FunctionArn></AwsLambda></ContentTransformation></TransformationConfiguration></TransformationConfigurations>"
                )),
                S3ErrorCode::InvalidRequest,
            ),
            (
                wrap(&format!("{sap}{sap}{}", tc(get, "f"))),
                S3ErrorCode::MalformedXML,
            ),
            (
                wrap(&format!("{sap}<Other/>{}", tc(get, "f"))),
                S3ErrorCode::MalformedXML,
            ),
        ];
        for (body, code) in cases {
            let e = parse_configuration_request(
                body.as_bytes(),
                "PutAccessPointConfigurationForObjectLambdaRequest",
            )
            .expect_err(&body);
            assert_eq!(e.code(), code, "{body}");
        }
    }

    #[test]
    fn hostile_xml_never_panics() {
        let mut inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"<".to_vec(),
            b"\xff\xfe<a/>".to_vec(),
            b"<CreateAccessPointForObjectLambdaRequest><Configuration>".to_vec(),
            b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><CreateAccessPointForObjectLambdaRequest>&a;</CreateAccessPointForObjectLambdaRequest>".to_vec(),
            "<CreateAccessPointForObjectLambdaRequest><Configuration>".repeat(500).into_bytes(),
        ];
        for cut in 0..CREATE.len() {
            inputs.push(CREATE[..cut].to_vec());
        }
        for i in (0..CREATE.len()).step_by(7) {
            let mut v = CREATE.to_vec();
            v[i] ^= 0x5a;
            inputs.push(v);
        }
        for input in inputs {
            let _ = parse_configuration_request(&input, "CreateAccessPointForObjectLambdaRequest");
            let _ = parse_configuration(&input);
            let _ = parse_put_policy(&input);
        }
    }
}
