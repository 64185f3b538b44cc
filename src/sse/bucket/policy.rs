//! The encryption-related part of S3 bucket policies (`FORMATS.md` §4, "Bucket-policy condition keys"):
//! parsing with S3's `MalformedPolicy` answers, and evaluation with IAM's semantics.
//!
//! # What is supported
//! - `Version` (`2012-10-17` or `2008-10-17`, optional), `Id`, `Statement` (an object or an array);
//! - per statement `Sid`, `Effect` (`Allow` | `Deny`), `Principal` (`"*"` or `{"AWS": …}` / `{"Service": …}`,
//!   a string or a list), `Action` (a string or a list: `s3:PutObject`, `s3:Get*`, `s3:*`, `*`; matched
//!   case-insensitively), `Resource` (a string or a list: `arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/*`,
//!   `arn:aws:s3:::bucket/prefix*`, with `*` and `?` wildcards after the `/`), `Condition`;
//! - condition operators `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
//!   `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`, `Bool`, each also with the `IfExists`
//!   suffix (IAM: an absent key makes an `…IfExists` condition true), and `Null` (`true`: the key is absent);
//! - condition keys (case-insensitive, as in IAM) `s3:x-amz-server-side-encryption`,
//!   `s3:x-amz-server-side-encryption-aws-kms-key-id`, `s3:x-amz-server-side-encryption-customer-algorithm`
//!   and `aws:SecureTransport`. A condition value is a string (or a JSON boolean or number, read as its text)
//!   or a list of them.
//!
//! # Refused rather than ignored
//! A policy this module cannot evaluate faithfully is refused with 400 `MalformedPolicy` instead of being
//! stored and half-enforced: a statement that would silently never match (or always match) is a security
//! hole either way. That covers unknown condition operators (including `ForAnyValue:` / `ForAllValues:` and
//! the numeric, date and ARN families), unknown condition keys, `Bool` on a key that is not boolean,
//! `NotPrincipal`, `NotAction`, `NotResource`, principal types other than `AWS` and `Service`, and resources
//! that name another bucket (as S3 does). A JSON object with a repeated key (`"Effect":"Allow","Effect":
//! "Deny"`) is refused as invalid JSON: parsers disagree on which one counts, and a policy must not mean
//! two things.
//!
//! # Messages
//! None of these texts is in `FORMATS.md`; each is marked with where it comes from.
//! - Copied by S3-compatible servers (versitygw, CORTX) from AWS: `Policies must be valid JSON and the first
//!   byte must be '{'`, `This policy contains invalid Json`, `Missing required field Statement` (and
//!   `… Resource`), `Could not parse the policy: Statement is empty!`, `The policy must contain a valid
//!   version string`, `Policy has invalid action`, `Policy has invalid resource`, `Invalid principal in
//!   policy`, `Action does not apply to any resource(s) in statement`.
//! - Recalled from AWS answers, not verified against a capture: `Missing required field Effect` /
//!   `Principal` / `Action`, `Invalid effect: …`, `Invalid Condition type : …`, `Policy has an invalid
//!   condition key`, `Policy exceeds the maximum allowed document size.`
//! - This module's own, where S3 would accept the policy or its answer is unknown: `Unknown field …`,
//!   `Policy element … is not supported by this server`, and the `Bool` / `Null` value and empty-value
//!   refusals. They name the offending field so the user can fix it.
//!
//! # Evaluation
//! A statement applies when its principal, action, resource and every condition match. Any applying
//! `Deny` wins ([`Decision::Deny`], with the first such statement's `Sid`); otherwise any applying `Allow`
//! gives [`Decision::Allow`]; otherwise [`Decision::NoOpinion`]. The engine serves the bucket owner, so it
//! treats `NoOpinion` like `Allow` ([`Decision::enforce`]); a policy can only take access away from it.

use std::borrow::Cow;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::sse::S3Error;

/// The largest bucket policy S3 accepts (20 KiB); a larger one is refused with 400 `MalformedPolicy`.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// A parsed bucket policy, bound to the bucket it was attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketPolicy {
    bucket: String,
    statements: Vec<Statement>,
}

/// What a request looks like to the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyRequest<'a> {
    /// The IAM action, e.g. `s3:PutObject` or `s3:GetObject`.
    pub action: &'a str,
    /// The bucket the request addresses.
    pub bucket: &'a str,
    /// The object key; empty for a bucket-level request (the resource is then the bucket).
    pub key: &'a str,
    /// The caller's ARN (`arn:aws:iam::111122223333:user/alice`), or empty for an anonymous request.
    pub principal: &'a str,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// `x-amz-server-side-encryption` as sent in the request: `None` if absent, even when the bucket default
    /// will encrypt the object (`FORMATS.md` §4: the key reflects the request header).
    pub sse_header: Option<&'a str>,
    /// `x-amz-server-side-encryption-aws-kms-key-id` as sent in the request.
    pub kms_key_id_header: Option<&'a str>,
    /// `x-amz-server-side-encryption-customer-algorithm` as sent in the request.
    pub sse_c_algorithm_header: Option<&'a str>,
}

/// The policy's verdict on one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement applies and no `Deny` does.
    Allow,
    /// A `Deny` statement applies: the request is refused whatever else allows it.
    Deny {
        /// The `Sid` of the first applying `Deny` statement, if it has one (for logs; never sent to clients).
        sid: Option<String>,
    },
    /// No statement applies.
    NoOpinion,
}

impl Decision {
    /// The engine's reading of the verdict: only `Deny` refuses, because requests are made as the bucket
    /// owner, whom a missing `Allow` does not stop.
    ///
    /// # Errors
    /// 403 `AccessDenied` "Access Denied" (S3's text for a policy denial) for [`Decision::Deny`].
    pub fn enforce(&self) -> Result<(), S3Error> {
        match self {
            Self::Deny { .. } => Err(S3Error::access_denied("Access Denied")),
            Self::Allow | Self::NoOpinion => Ok(()),
        }
    }
}

impl BucketPolicy {
    /// Parses a `PutBucketPolicy` body for `bucket`. The module documentation lists what is supported and
    /// what is refused; any input returns, none panics.
    ///
    /// # Errors
    /// 400 `MalformedPolicy` ([`S3Error::malformed_policy`]) with an S3-like message for a policy that is not
    /// JSON, lacks a required field, has a bad `Effect`, principal, action or resource (including one naming
    /// another bucket), or uses a condition operator or key this module does not support.
    pub fn parse(json: &str, bucket: &str) -> Result<Self, S3Error> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(S3Error::malformed_policy(
                "Policy exceeds the maximum allowed document size.",
            ));
        }
        // S3 checks the first byte; leading whitespace (a pretty-printing client's) is tolerated here.
        if !json.trim_start().starts_with('{') {
            return Err(S3Error::malformed_policy(
                "Policies must be valid JSON and the first byte must be '{'",
            ));
        }
        let StrictJson(document) = serde_json::from_str(json).map_err(|_| invalid_json())?;
        let Value::Object(document) = document else {
            return Err(invalid_json());
        };
        let mut statements = None;
        for (field, value) in &document {
            match field.as_str() {
                "Version" => match value.as_str() {
                    Some("2012-10-17" | "2008-10-17") => {}
                    _ => {
                        return Err(S3Error::malformed_policy(
                            "The policy must contain a valid version string",
                        ));
                    }
                },
                "Id" => {
                    value.as_str().ok_or_else(invalid_json)?;
                }
                "Statement" => statements = Some(value),
                other => return Err(unknown_field(other)),
            }
        }
        let statements = match statements.ok_or_else(|| missing_field("Statement"))? {
            Value::Object(statement) => vec![Statement::parse(statement, bucket)?],
            Value::Array(list) if list.is_empty() => {
                return Err(S3Error::malformed_policy(
                    "Could not parse the policy: Statement is empty!",
                ));
            }
            Value::Array(list) => list
                .iter()
                .map(|item| match item {
                    Value::Object(statement) => Statement::parse(statement, bucket),
                    _ => Err(invalid_json()),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(invalid_json()),
        };
        Ok(Self {
            bucket: bucket.to_owned(),
            statements,
        })
    }

    /// The bucket this policy is attached to.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Evaluates the policy for `req` (see the module documentation). A request for another bucket gets
    /// [`Decision::NoOpinion`].
    #[must_use]
    pub fn evaluate(&self, req: &PolicyRequest<'_>) -> Decision {
        if req.bucket != self.bucket {
            return Decision::NoOpinion;
        }
        let resource: Cow<'_, str> = if req.key.is_empty() {
            Cow::Borrowed(req.bucket)
        } else {
            Cow::Owned(format!("{}/{}", req.bucket, req.key))
        };
        let action = req.action.to_ascii_lowercase();
        let mut allowed = false;
        for statement in &self.statements {
            if statement.applies(req, &action, &resource) {
                match statement.effect {
                    Effect::Deny => {
                        return Decision::Deny {
                            sid: statement.sid.clone(),
                        };
                    }
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NoOpinion
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Principals {
    /// `"Principal": "*"` or `{"AWS": "*"}`: everyone, anonymous included.
    Anyone,
    /// The listed `AWS` principals (ARNs or 12-digit account ids) and `Service` principals.
    Listed {
        aws: Vec<String>,
        service: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    principals: Principals,
    /// Lower-case action patterns (`s3:putobject`, `s3:*`, `*`).
    actions: Vec<String>,
    /// Resource patterns relative to `arn:<partition>:s3:::`: `bucket` or `bucket/<pattern>`.
    resources: Vec<String>,
    conditions: Vec<Condition>,
}

impl Statement {
    fn parse(statement: &Map<String, Value>, bucket: &str) -> Result<Self, S3Error> {
        let (mut sid, mut effect, mut principal, mut action, mut resource, mut condition) =
            (None, None, None, None, None, None);
        for (field, value) in statement {
            match field.as_str() {
                "Sid" => sid = Some(value.as_str().ok_or_else(invalid_json)?.to_owned()),
                "Effect" => effect = Some(value),
                "Principal" => principal = Some(value),
                "Action" => action = Some(value),
                "Resource" => resource = Some(value),
                "Condition" => condition = Some(value),
                "NotPrincipal" | "NotAction" | "NotResource" => {
                    return Err(S3Error::malformed_policy(format!(
                        "Policy element {field} is not supported by this server"
                    )));
                }
                other => return Err(unknown_field(other)),
            }
        }
        let effect = match effect.ok_or_else(|| missing_field("Effect"))? {
            Value::String(s) if s == "Allow" => Effect::Allow,
            Value::String(s) if s == "Deny" => Effect::Deny,
            Value::String(s) => {
                return Err(S3Error::malformed_policy(format!("Invalid effect: {s}")));
            }
            _ => return Err(invalid_json()),
        };
        let principals = parse_principal(principal.ok_or_else(|| missing_field("Principal"))?)?;
        let actions = string_list(action.ok_or_else(|| missing_field("Action"))?)?
            .into_iter()
            .map(parse_action)
            .collect::<Result<Vec<_>, _>>()?;
        if actions.is_empty() {
            return Err(S3Error::malformed_policy("Policy has invalid action"));
        }
        let resources = string_list(resource.ok_or_else(|| missing_field("Resource"))?)?
            .into_iter()
            .map(|r| parse_resource(r, bucket))
            .collect::<Result<Vec<_>, _>>()?;
        if resources.is_empty() {
            return Err(S3Error::malformed_policy("Policy has invalid resource"));
        }
        check_actions_apply(&actions, &resources)?;
        let conditions = match condition {
            None => Vec::new(),
            Some(Value::Object(operators)) => parse_conditions(operators)?,
            Some(_) => return Err(invalid_json()),
        };
        Ok(Self {
            sid,
            effect,
            principals,
            actions,
            resources,
            conditions,
        })
    }

    fn applies(&self, req: &PolicyRequest<'_>, action: &str, resource: &str) -> bool {
        self.principals.matches(req.principal)
            && self
                .actions
                .iter()
                .any(|pattern| wildcard_match(pattern, action))
            && self
                .resources
                .iter()
                .any(|pattern| wildcard_match(pattern, resource))
            && self.conditions.iter().all(|condition| condition.holds(req))
    }
}

impl Principals {
    fn matches(&self, principal: &str) -> bool {
        match self {
            Self::Anyone => true,
            Self::Listed { aws, service } => {
                !principal.is_empty()
                    && (service.iter().any(|s| s == principal)
                        || aws.iter().any(|p| aws_principal_matches(p, principal)))
            }
        }
    }
}

/// An `AWS` principal names one ARN, or a whole account (`111122223333` or `arn:…:iam::111122223333:root`),
/// which covers every principal of that account: the account delegates to its users through IAM.
fn aws_principal_matches(pattern: &str, principal: &str) -> bool {
    if pattern == "*" || pattern == principal {
        return true;
    }
    let account = if is_account_id(pattern) {
        Some(pattern)
    } else {
        arn_account(pattern).filter(|_| pattern.ends_with(":root"))
    };
    account.is_some_and(|account| arn_account(principal) == Some(account) || principal == account)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account field of an ARN (`arn:partition:service:region:account:resource`).
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next() == Some("arn")).then_some(())?;
    let account = parts.nth(3)?;
    parts.next()?;
    is_account_id(account).then_some(account)
}

fn parse_principal(value: &Value) -> Result<Principals, S3Error> {
    let invalid = || S3Error::malformed_policy("Invalid principal in policy");
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(map) if !map.is_empty() => {
            let (mut aws, mut service) = (Vec::new(), Vec::new());
            for (kind, values) in map {
                let values = string_list(values).map_err(|_| invalid())?;
                if values.is_empty() {
                    return Err(invalid());
                }
                match kind.as_str() {
                    "AWS" => {
                        for v in values {
                            if !(v == "*" || is_account_id(v) || arn_account(v).is_some()) {
                                return Err(invalid());
                            }
                            aws.push(v.to_owned());
                        }
                    }
                    "Service" => {
                        for v in values {
                            if v.is_empty() || v.contains(char::is_whitespace) {
                                return Err(invalid());
                            }
                            service.push(v.to_owned());
                        }
                    }
                    _ => return Err(invalid()),
                }
            }
            if aws.iter().any(|p| p == "*") {
                return Ok(Principals::Anyone);
            }
            Ok(Principals::Listed { aws, service })
        }
        _ => Err(invalid()),
    }
}

/// `"*"` or `s3:` followed by letters, digits and wildcards; stored lower-case (IAM actions are
/// case-insensitive).
fn parse_action(action: &str) -> Result<String, S3Error> {
    let valid = action == "*"
        || action
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("s3:"))
            && action.len() > 3
            && action[3..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?');
    if valid {
        Ok(action.to_ascii_lowercase())
    } else {
        Err(S3Error::malformed_policy("Policy has invalid action"))
    }
}

/// An S3 ARN of this bucket or of objects in it, returned relative to `arn:<partition>:s3:::`.
fn parse_resource(resource: &str, bucket: &str) -> Result<String, S3Error> {
    let invalid = || S3Error::malformed_policy("Policy has invalid resource");
    let relative = ["arn:aws:s3:::", "arn:aws-cn:s3:::", "arn:aws-us-gov:s3:::"]
        .iter()
        .find_map(|prefix| resource.strip_prefix(prefix))
        .ok_or_else(invalid)?;
    let named_bucket = relative.split_once('/').map_or(relative, |(b, _)| b);
    if bucket.is_empty() || named_bucket != bucket {
        return Err(invalid());
    }
    Ok(relative.to_owned())
}

/// S3 refuses a statement with an action that none of its resources can apply to (an object action with
/// only the bucket ARN, or a bucket action with only object ARNs). Only the actions listed here are checked;
/// wildcard actions apply to both kinds.
fn check_actions_apply(actions: &[String], resources: &[String]) -> Result<(), S3Error> {
    const OBJECT_ACTIONS: &[&str] = &[
        "s3:getobject",
        "s3:putobject",
        "s3:deleteobject",
        "s3:getobjectversion",
        "s3:deleteobjectversion",
        "s3:getobjectacl",
        "s3:putobjectacl",
        "s3:getobjectattributes",
        "s3:getobjecttagging",
        "s3:putobjecttagging",
        "s3:deleteobjecttagging",
        "s3:abortmultipartupload",
        "s3:listmultipartuploadparts",
        "s3:restoreobject",
    ];
    const BUCKET_ACTIONS: &[&str] = &[
        "s3:listbucket",
        "s3:listbucketversions",
        "s3:listbucketmultipartuploads",
        "s3:getbucketlocation",
        "s3:getbucketpolicy",
        "s3:putbucketpolicy",
        "s3:deletebucketpolicy",
        "s3:getencryptionconfiguration",
        "s3:putencryptionconfiguration",
        "s3:deletebucket",
    ];
    let has_object = resources.iter().any(|r| r.contains('/'));
    let has_bucket = resources.iter().any(|r| !r.contains('/'));
    for action in actions {
        let unusable = (OBJECT_ACTIONS.contains(&action.as_str()) && !has_object)
            || (BUCKET_ACTIONS.contains(&action.as_str()) && !has_bucket);
        if unusable {
            return Err(S3Error::malformed_policy(
                "Action does not apply to any resource(s) in statement",
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    Bool,
    Null,
}

impl Operator {
    /// The operator and whether it has the `IfExists` suffix.
    fn parse(name: &str) -> Option<(Self, bool)> {
        let (base, if_exists) = match name.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let op = match base {
            "StringEquals" => Self::StringEquals,
            "StringNotEquals" => Self::StringNotEquals,
            "StringEqualsIgnoreCase" => Self::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Self::StringNotEqualsIgnoreCase,
            "StringLike" => Self::StringLike,
            "StringNotLike" => Self::StringNotLike,
            "Bool" => Self::Bool,
            "Null" if !if_exists => Self::Null,
            _ => return None,
        };
        Some((op, if_exists))
    }

    /// Negated operators are true when the key is absent (IAM: "not equal to any of the values").
    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals | Self::StringNotEqualsIgnoreCase | Self::StringNotLike
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Sse,
    KmsKeyId,
    SseCustomerAlgorithm,
    SecureTransport,
}

impl Key {
    fn parse(name: &str) -> Option<Self> {
        [
            ("s3:x-amz-server-side-encryption", Self::Sse),
            (
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
                Self::KmsKeyId,
            ),
            (
                "s3:x-amz-server-side-encryption-customer-algorithm",
                Self::SseCustomerAlgorithm,
            ),
            ("aws:SecureTransport", Self::SecureTransport),
        ]
        .into_iter()
        .find_map(|(known, key)| known.eq_ignore_ascii_case(name).then_some(key))
    }

    /// The key's value for `req`, `None` when the request does not carry it.
    fn value<'a>(self, req: &PolicyRequest<'a>) -> Option<&'a str> {
        match self {
            Self::Sse => req.sse_header,
            Self::KmsKeyId => req.kms_key_id_header,
            Self::SseCustomerAlgorithm => req.sse_c_algorithm_header,
            Self::SecureTransport => Some(if req.secure_transport {
                "true"
            } else {
                "false"
            }),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    op: Operator,
    if_exists: bool,
    key: Key,
    /// Any-of values; lower-case `true`/`false` for `Bool` and `Null`.
    values: Vec<String>,
}

fn parse_conditions(operators: &Map<String, Value>) -> Result<Vec<Condition>, S3Error> {
    let mut conditions = Vec::new();
    for (op_name, keys) in operators {
        let (op, if_exists) = Operator::parse(op_name).ok_or_else(|| {
            S3Error::malformed_policy(format!("Invalid Condition type : {op_name}"))
        })?;
        let Value::Object(keys) = keys else {
            return Err(invalid_json());
        };
        for (key_name, values) in keys {
            let key = Key::parse(key_name)
                .ok_or_else(|| S3Error::malformed_policy("Policy has an invalid condition key"))?;
            if op == Operator::Bool && key != Key::SecureTransport {
                return Err(S3Error::malformed_policy(format!(
                    "Condition operator Bool does not apply to the string key {key_name}"
                )));
            }
            let mut parsed = condition_values(values)?;
            if parsed.is_empty() {
                return Err(S3Error::malformed_policy(format!(
                    "Condition {op_name} has no value for {key_name}"
                )));
            }
            if matches!(op, Operator::Bool | Operator::Null) {
                for value in &mut parsed {
                    value.make_ascii_lowercase();
                    if value != "true" && value != "false" {
                        return Err(S3Error::malformed_policy(format!(
                            "Condition {op_name} on {key_name} takes true or false"
                        )));
                    }
                }
            }
            conditions.push(Condition {
                op,
                if_exists,
                key,
                values: parsed,
            });
        }
    }
    Ok(conditions)
}

/// A condition value: a string, boolean or number (read as its JSON text), or a list of them.
fn condition_values(value: &Value) -> Result<Vec<String>, S3Error> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(invalid_json()),
    };
    match value {
        Value::Array(list) => list.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

impl Condition {
    fn holds(&self, req: &PolicyRequest<'_>) -> bool {
        let actual = self.key.value(req);
        if self.op == Operator::Null {
            // `Null: true` ⇔ the key is absent.
            let absent = actual.is_none();
            return self.values.iter().any(|v| (v == "true") == absent);
        }
        let Some(actual) = actual else {
            return self.if_exists || self.op.negated();
        };
        let any = |eq: &dyn Fn(&str) -> bool| self.values.iter().any(|v| eq(v));
        match self.op {
            Operator::StringEquals => any(&|v| v == actual),
            Operator::StringNotEquals => !any(&|v| v == actual),
            Operator::StringEqualsIgnoreCase => any(&|v| v.eq_ignore_ascii_case(actual)),
            Operator::StringNotEqualsIgnoreCase => !any(&|v| v.eq_ignore_ascii_case(actual)),
            Operator::StringLike => any(&|v| wildcard_match(v, actual)),
            Operator::StringNotLike => !any(&|v| wildcard_match(v, actual)),
            Operator::Bool => any(&|v| v.eq_ignore_ascii_case(actual)),
            Operator::Null => false,
        }
    }
}

/// A string or a list of strings.
fn string_list(value: &Value) -> Result<Vec<&str>, S3Error> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(list) => list
            .iter()
            .map(|v| v.as_str().ok_or_else(invalid_json))
            .collect(),
        _ => Err(invalid_json()),
    }
}

/// IAM wildcard matching: `*` any run of characters (including none), `?` exactly one character. Linear
/// backtracking over the last `*` only, so no input is exponential.
fn wildcard_match(pattern: &str, input: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let input: Vec<char> = input.chars().collect();
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < input.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == '?' || c == input[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((star_p, star_i)) => {
                    p = star_p + 1;
                    i = star_i + 1;
                    star = Some((star_p, star_i + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// A JSON value whose objects have no repeated key (`serde_json::Value` would keep the last one silently).
/// serde_json's nesting limit still applies, so no document recurses deeply.
struct StrictJson(Value);

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut list = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            list.push(item);
        }
        Ok(Value::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictJson(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(de::Error::custom("repeated key"));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn invalid_json() -> S3Error {
    S3Error::malformed_policy("This policy contains invalid Json")
}

fn missing_field(field: &str) -> S3Error {
    S3Error::malformed_policy(format!("Missing required field {field}"))
}

fn unknown_field(field: &str) -> S3Error {
    S3Error::malformed_policy(format!("Unknown field {field}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (pattern, input, expected) in [
            ("*", "", true),
            ("*", "anything/at/all", true),
            ("s3:*", "s3:putobject", true),
            ("s3:get*", "s3:putobject", false),
            ("b/*", "b/k", true),
            ("b/*", "b", false),
            ("b/pre*", "b/prefix/x", true),
            ("b/pre*", "b/pr", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("é?", "éü", true),
            ("**", "x", true),
        ] {
            assert_eq!(
                wildcard_match(pattern, input),
                expected,
                "{pattern} vs {input}"
            );
        }
    }

    #[test]
    fn account_principals() {
        let alice = "arn:aws:iam::111122223333:user/alice";
        assert!(aws_principal_matches("111122223333", alice));
        assert!(aws_principal_matches(
            "arn:aws:iam::111122223333:root",
            alice
        ));
        assert!(aws_principal_matches(alice, alice));
        assert!(!aws_principal_matches("444455556666", alice));
        assert!(!aws_principal_matches(
            "arn:aws:iam::111122223333:user/bob",
            alice
        ));
        assert_eq!(arn_account("arn:aws:iam::111122223333"), None);
        assert_eq!(arn_account("not an arn"), None);
    }
}
