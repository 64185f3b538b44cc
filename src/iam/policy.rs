//! IAM policy documents: parsing ([`Policy::parse`]) and evaluating one policy for one request
//! ([`Policy::evaluate`]). Combining several policies (identity, resource, access point, VPC endpoint)
//! into an access decision is [`crate::iam::authorize()`].
//!
//! # Grammar (IAM UG reference_policies_grammar)
//! `Version` (`2012-10-17` or `2008-10-17`; absent means `2008-10-17`, where `${…}` is literal text), `Id`,
//! `Statement` (an object or a non-empty array). Per statement: `Sid`, `Effect` (`Allow` | `Deny`),
//! `Principal` / `NotPrincipal` (`"*"`, or an object of `AWS` (`"*"`, an ARN or a 12-digit account id),
//! `Service`, `Federated`, `CanonicalUser`, each a string or a non-empty list), `Action` / `NotAction`,
//! `Resource` / `NotResource`, `Condition` ([`condition`]). The JSON is read strictly: a repeated key in any
//! object is refused (parsers disagree on which one counts; a policy must not mean two things), as is any
//! field IAM does not define. A resource policy ([`PolicyKind::Resource`]: bucket, access-point and key
//! policies) needs `Principal` or `NotPrincipal`; an identity policy must have neither.
//!
//! # Evaluation of one policy
//! A statement applies when its action, resource, principal and every condition match. Actions match
//! case-insensitively, resources case-sensitively, both with `*` and `?`. Any applying `Deny` wins
//! ([`Decision::ExplicitDeny`], with the first such statement's `Sid`); otherwise an applying `Allow` gives
//! [`Decision::Allow`]; otherwise [`Decision::NotApplicable`].
//!
//! # Account principals
//! `"AWS": "111122223333"` and `"AWS": "arn:aws:iam::111122223333:root"` mean the same: the *account*. IAM UG
//! reference_policies_elements_principal, "AWS account principals": naming an account "delegates authority
//! to the account … an administrator in that account must then grant access to an identity (IAM user or
//! role)", and "using the account ARN … does not limit permissions to only the root user". So, in this
//! crate, in one place ([`Statement`] principal matching):
//! - an `Allow` naming the caller's account grants directly only to that account's root; for the account's
//!   other identities it is [`Decision::DelegatedToAccount`]: their identity policies decide
//!   ([`crate::iam::authorize()`]). This is also how KMS key policies work ("the key policy statement that
//!   gives the AWS account full access … allows IAM policies in the account to control access");
//! - a `Deny` naming an account applies to every identity of that account;
//! - `NotPrincipal` excludes a caller only when it names the caller itself (its ARN, or the account for the
//!   account root).

pub mod condition;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

pub use condition::{Condition, ConditionKeys, Operator, SetOperator, ValueType};

use self::condition::{Lookup, expand_pattern};
use super::arn::{Arn, Token, account_principal, is_account_id, tokens_match, wildcard_tokens};
use super::context::{Caller, RequestContext};

/// The largest bucket policy (and access-point policy) S3 accepts: 20 KiB.
pub const MAX_BUCKET_POLICY_BYTES: usize = 20 * 1024;

/// The largest key policy KMS accepts: 32 KiB.
pub const MAX_KEY_POLICY_BYTES: usize = 32 * 1024;

/// Why a policy document was refused. The `Display` texts are S3's `MalformedPolicy` messages where S3 has
/// one (as copied by S3-compatible servers from AWS), otherwise a precise reason naming the field; KMS
/// renders them as `MalformedPolicyDocumentException`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document does not start with `{` (after leading whitespace).
    #[error("Policies must be valid JSON and the first byte must be '{{'")]
    NotAnObject,
    /// Not JSON, a repeated key, too deep, or a field of the wrong JSON type.
    #[error("This policy contains invalid Json")]
    InvalidJson,
    /// Larger than the policy kind allows.
    #[error("Policy exceeds the maximum allowed document size.")]
    TooLarge,
    /// A required field is missing (`Statement`, `Effect`, `Principal`, `Action`, `Resource`).
    #[error("Missing required field {0}")]
    MissingField(&'static str),
    /// `Statement` is an empty list.
    #[error("Could not parse the policy: Statement is empty!")]
    EmptyStatement,
    /// `Version` is not `2012-10-17` or `2008-10-17`.
    #[error("The policy must contain a valid version string")]
    InvalidVersion,
    /// A field IAM does not define.
    #[error("Unknown field {0}")]
    UnknownField(String),
    /// `Effect` is a string other than `Allow` / `Deny`.
    #[error("Invalid effect: {0}")]
    InvalidEffect(String),
    /// A principal that is not `*`, an ARN, an account id or a known principal type (or one the policy's
    /// service does not accept).
    #[error("Invalid principal in policy")]
    InvalidPrincipal,
    /// An identity policy names a principal.
    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,
    /// A statement has both an element and its negation (`Action` and `NotAction`, …).
    #[error("Statement cannot have both {0} and Not{0}")]
    Conflict(&'static str),
    /// An action that is not `*` or `service:Action` (or not of the policy's service).
    #[error("Policy has invalid action")]
    InvalidAction,
    /// A resource that is not `*` or an ARN (or not one the policy's service accepts).
    #[error("Policy has invalid resource")]
    InvalidResource,
    /// An action none of the statement's resources can apply to.
    #[error("Action does not apply to any resource(s) in statement")]
    ActionResourceMismatch,
    /// An unknown condition operator.
    #[error("Invalid Condition type : {0}")]
    InvalidConditionType(String),
    /// A condition key the policy's service does not know.
    #[error("Policy has an invalid condition key")]
    InvalidConditionKey,
    /// A condition value (or operator/key pairing) that can never be compared; the text names the
    /// operator and key.
    #[error("{0}")]
    ConditionValue(String),
}

/// Where a policy is attached, which decides whether it names principals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user, group or role: `Principal` is forbidden (the principal is the holder).
    Identity,
    /// Attached to a resource (bucket, access point, KMS key, VPC endpoint): `Principal` or
    /// `NotPrincipal` is required.
    Resource,
}

/// How to parse a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// Identity or resource policy.
    pub kind: PolicyKind,
    /// The largest document accepted, in bytes.
    pub max_bytes: usize,
}

impl ParseOptions {
    /// An S3 bucket policy: resource policy, at most 20 KiB.
    pub const BUCKET: Self = Self {
        kind: PolicyKind::Resource,
        max_bytes: MAX_BUCKET_POLICY_BYTES,
    };
    /// An S3 access-point policy: resource policy, at most 20 KiB (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-policies.html>).
    pub const ACCESS_POINT: Self = Self::BUCKET;
    /// A KMS key policy: resource policy, at most 32 KiB.
    pub const KEY: Self = Self {
        kind: PolicyKind::Resource,
        max_bytes: MAX_KEY_POLICY_BYTES,
    };
    /// An IAM identity policy: no principal; at most 10 KiB (IAM's inline role-policy quota).
    pub const IDENTITY: Self = Self {
        kind: PolicyKind::Identity,
        max_bytes: 10 * 1024,
    };
}

/// The policy language version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17` (also an absent `Version`): `${…}` is literal text.
    V2008_10_17,
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The statement grants.
    Allow,
    /// The statement refuses, whatever else grants.
    Deny,
}

/// The principals a `Principal` (or `NotPrincipal`) element names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principals {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Anyone,
    /// The listed principals by type.
    Listed {
        /// `AWS`: ARNs and accounts (12-digit ids or `arn:…:iam::ACCOUNT:root`).
        aws: Vec<String>,
        /// `Service`: service principals (`logging.s3.amazonaws.com`).
        service: Vec<String>,
        /// `Federated`: identity providers (only matched by role trust policies; never by this crate's
        /// callers).
        federated: Vec<String>,
        /// `CanonicalUser`: S3 canonical user ids (never matched by this crate's callers).
        canonical_user: Vec<String>,
    },
}

/// How a caller matches a principal list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PrincipalMatch {
    No,
    /// The list names the caller's account, and the caller is not that account's root.
    Account,
    /// The list names the caller (or everyone).
    Caller,
}

impl Principals {
    fn matches(&self, caller: &Caller) -> PrincipalMatch {
        let Self::Listed { aws, service, .. } = self else {
            return PrincipalMatch::Caller;
        };
        match caller {
            Caller::Anonymous => PrincipalMatch::No,
            Caller::Service(name) => {
                if service.iter().any(|s| s == name) {
                    PrincipalMatch::Caller
                } else {
                    PrincipalMatch::No
                }
            }
            Caller::Principal(p) => {
                let mut best = PrincipalMatch::No;
                let role = p.role_arn();
                for pattern in aws {
                    if *pattern == p.arn || role.as_ref() == Some(pattern) {
                        return PrincipalMatch::Caller;
                    }
                    if account_principal(pattern) == Some(p.account.as_str()) {
                        if p.is_root() {
                            return PrincipalMatch::Caller;
                        }
                        best = PrincipalMatch::Account;
                    }
                }
                best
            }
        }
    }
}

/// A statement's `Principal` or `NotPrincipal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalElement {
    /// `Principal`: the statement applies to these.
    Principal(Principals),
    /// `NotPrincipal`: the statement applies to everyone but these.
    NotPrincipal(Principals),
}

/// A statement's `Action`/`NotAction` or `Resource`/`NotResource`: patterns, maybe negated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patterns {
    /// `NotAction` / `NotResource`: the statement applies to everything the patterns do not match.
    pub negated: bool,
    /// The patterns as written.
    pub patterns: Vec<String>,
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    sid: Option<String>,
    effect: Effect,
    principal: Option<PrincipalElement>,
    action: Patterns,
    resource: Patterns,
    conditions: Vec<Condition>,
}

impl Statement {
    /// The `Sid`, if any.
    #[must_use]
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The effect.
    #[must_use]
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// `Principal` / `NotPrincipal`; `None` in identity policies.
    #[must_use]
    pub fn principal(&self) -> Option<&PrincipalElement> {
        self.principal.as_ref()
    }

    /// `Action` / `NotAction`.
    #[must_use]
    pub fn actions(&self) -> &Patterns {
        &self.action
    }

    /// `Resource` / `NotResource`.
    #[must_use]
    pub fn resources(&self) -> &Patterns {
        &self.resource
    }

    /// The conditions, one per (operator, key) pair; all must hold.
    #[must_use]
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

/// What one policy is asked about.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The IAM action, e.g. `s3:GetObject` or `kms:Decrypt`.
    pub action: &'a str,
    /// The resource ARN (`arn:aws:s3:::bucket/key`, a key ARN, an access-point ARN).
    pub resource: &'a str,
    /// Caller, transport and the global condition keys.
    pub context: &'a RequestContext,
    /// The request-specific condition keys.
    pub keys: &'a ConditionKeys,
}

/// One policy's verdict on one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// An applying `Allow` names the caller (or everyone, or is in an identity policy); no `Deny` applies.
    Allow,
    /// The only applying `Allow` statements name the caller's *account*, and the caller is not its root:
    /// the account's identity policies decide (see the module documentation).
    DelegatedToAccount,
    /// An applying `Deny`: refused whatever else allows.
    ExplicitDeny {
        /// The `Sid` of the first applying `Deny` statement, if it has one (for logs, not for clients).
        sid: Option<String>,
    },
    /// No statement applies.
    NotApplicable,
}

/// A parsed policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    version: PolicyVersion,
    id: Option<String>,
    statements: Vec<Statement>,
    document: String,
}

impl Policy {
    /// Parses `json` (see the module documentation for the grammar). Any input returns; none panics.
    ///
    /// # Errors
    /// [`PolicyError`] naming the first problem found.
    pub fn parse(json: &str, options: &ParseOptions) -> Result<Self, PolicyError> {
        if json.len() > options.max_bytes {
            return Err(PolicyError::TooLarge);
        }
        // S3 checks the first byte; leading whitespace (a pretty-printing client's) is tolerated.
        if !json.trim_start().starts_with('{') {
            return Err(PolicyError::NotAnObject);
        }
        let StrictJson(document) =
            serde_json::from_str(json).map_err(|_| PolicyError::InvalidJson)?;
        let Value::Object(document) = document else {
            return Err(PolicyError::InvalidJson);
        };
        let (mut version, mut id, mut statements) = (PolicyVersion::V2008_10_17, None, None);
        for (field, value) in &document {
            match field.as_str() {
                "Version" => {
                    version = match value.as_str() {
                        Some("2012-10-17") => PolicyVersion::V2012_10_17,
                        Some("2008-10-17") => PolicyVersion::V2008_10_17,
                        _ => return Err(PolicyError::InvalidVersion),
                    }
                }
                "Id" => id = Some(value.as_str().ok_or(PolicyError::InvalidJson)?.to_owned()),
                "Statement" => statements = Some(value),
                other => return Err(PolicyError::UnknownField(other.to_owned())),
            }
        }
        let statements = match statements.ok_or(PolicyError::MissingField("Statement"))? {
            Value::Object(statement) => vec![Statement::parse(statement, options.kind)?],
            Value::Array(list) if list.is_empty() => return Err(PolicyError::EmptyStatement),
            Value::Array(list) => list
                .iter()
                .map(|item| match item {
                    Value::Object(statement) => Statement::parse(statement, options.kind),
                    _ => Err(PolicyError::InvalidJson),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(PolicyError::InvalidJson),
        };
        Ok(Self {
            version,
            id,
            statements,
            document: json.to_owned(),
        })
    }

    /// The policy document as given.
    #[must_use]
    pub fn document(&self) -> &str {
        &self.document
    }

    /// The language version.
    #[must_use]
    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The `Id`, if any.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    #[must_use]
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// This policy's verdict on `req` (see the module documentation).
    #[must_use]
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let lookup = Lookup {
            context: req.context,
            keys: req.keys,
        };
        let variables = self.version == PolicyVersion::V2012_10_17;
        let mut best = Decision::NotApplicable;
        for s in &self.statements {
            let principal = match &s.principal {
                None => PrincipalMatch::Caller,
                Some(PrincipalElement::Principal(p)) => p.matches(&req.context.caller),
                Some(PrincipalElement::NotPrincipal(p)) => {
                    if p.matches(&req.context.caller) == PrincipalMatch::Caller {
                        PrincipalMatch::No
                    } else {
                        PrincipalMatch::Caller
                    }
                }
            };
            if principal == PrincipalMatch::No
                || !s.action_matches(req.action)
                || !s.resource_matches(req.resource, &lookup, variables)
                || !s.conditions.iter().all(|c| c.holds(&lookup, variables))
            {
                continue;
            }
            match (s.effect, principal) {
                (Effect::Deny, _) => {
                    return Decision::ExplicitDeny { sid: s.sid.clone() };
                }
                (Effect::Allow, PrincipalMatch::Caller) => best = Decision::Allow,
                (Effect::Allow, _) => {
                    if best == Decision::NotApplicable {
                        best = Decision::DelegatedToAccount;
                    }
                }
            }
        }
        best
    }
}

impl Statement {
    fn parse(statement: &Map<String, Value>, kind: PolicyKind) -> Result<Self, PolicyError> {
        let mut sid = None;
        let mut effect = None;
        let (mut principal, mut not_principal) = (None, None);
        let (mut action, mut not_action) = (None, None);
        let (mut resource, mut not_resource) = (None, None);
        let mut condition = None;
        for (field, value) in statement {
            match field.as_str() {
                "Sid" => sid = Some(value.as_str().ok_or(PolicyError::InvalidJson)?.to_owned()),
                "Effect" => effect = Some(value),
                "Principal" => principal = Some(value),
                "NotPrincipal" => not_principal = Some(value),
                "Action" => action = Some(value),
                "NotAction" => not_action = Some(value),
                "Resource" => resource = Some(value),
                "NotResource" => not_resource = Some(value),
                "Condition" => condition = Some(value),
                other => return Err(PolicyError::UnknownField(other.to_owned())),
            }
        }
        let effect = match effect.ok_or(PolicyError::MissingField("Effect"))? {
            Value::String(s) if s == "Allow" => Effect::Allow,
            Value::String(s) if s == "Deny" => Effect::Deny,
            Value::String(s) => return Err(PolicyError::InvalidEffect(s.clone())),
            _ => return Err(PolicyError::InvalidJson),
        };
        let principal = match (principal, not_principal, kind) {
            (Some(_), Some(_), _) => return Err(PolicyError::Conflict("Principal")),
            (None, None, PolicyKind::Identity) => None,
            (_, _, PolicyKind::Identity) => return Err(PolicyError::PrincipalNotAllowed),
            (None, None, PolicyKind::Resource) => {
                return Err(PolicyError::MissingField("Principal"));
            }
            (Some(p), None, PolicyKind::Resource) => {
                Some(PrincipalElement::Principal(parse_principal(p)?))
            }
            (None, Some(p), PolicyKind::Resource) => {
                Some(PrincipalElement::NotPrincipal(parse_principal(p)?))
            }
        };
        let action = either(action, not_action, "Action")?;
        let action = Patterns {
            negated: action.0,
            patterns: string_list(action.1)?,
        };
        if action.patterns.is_empty() || !action.patterns.iter().all(|a| valid_action(a)) {
            return Err(PolicyError::InvalidAction);
        }
        let resource = either(resource, not_resource, "Resource")?;
        let resource = Patterns {
            negated: resource.0,
            patterns: string_list(resource.1)?,
        };
        let valid_resource =
            |r: &String| r == "*" || r.starts_with("arn:") && r.matches(':').count() >= 5;
        if resource.patterns.is_empty() || !resource.patterns.iter().all(valid_resource) {
            return Err(PolicyError::InvalidResource);
        }
        let conditions = match condition {
            None => Vec::new(),
            Some(Value::Object(operators)) => {
                let mut all = Vec::new();
                for (op, keys) in operators {
                    all.extend(Condition::parse_block(op, keys)?);
                }
                all
            }
            Some(_) => return Err(PolicyError::InvalidJson),
        };
        Ok(Self {
            sid,
            effect,
            principal,
            action,
            resource,
            conditions,
        })
    }

    fn action_matches(&self, action: &str) -> bool {
        let any = self
            .action
            .patterns
            .iter()
            .any(|p| tokens_match(&wildcard_tokens(p), action, true));
        any != self.action.negated
    }

    fn resource_matches(&self, resource: &str, lookup: &Lookup<'_>, variables: bool) -> bool {
        let any = self.resource.patterns.iter().any(|p| {
            expand_pattern(p, true, variables.then_some(lookup))
                .is_some_and(|t: Vec<Token>| tokens_match(&t, resource, false))
        });
        any != self.resource.negated
    }
}

/// Exactly one of an element and its `Not` form: `(negated, value)`.
fn either<'v>(
    plain: Option<&'v Value>,
    not: Option<&'v Value>,
    name: &'static str,
) -> Result<(bool, &'v Value), PolicyError> {
    match (plain, not) {
        (Some(_), Some(_)) => Err(PolicyError::Conflict(name)),
        (Some(v), None) => Ok((false, v)),
        (None, Some(v)) => Ok((true, v)),
        (None, None) => Err(PolicyError::MissingField(name)),
    }
}

/// `*`, or `service:Action` with the action part made of letters, digits and wildcards.
fn valid_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'?' | b'-' | b'_'))
}

fn parse_principal(value: &Value) -> Result<Principals, PolicyError> {
    let invalid = || PolicyError::InvalidPrincipal;
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(map) if !map.is_empty() => {
            let (mut aws, mut service, mut federated, mut canonical_user) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (kind, values) in map {
                let values = string_list(values).map_err(|_| invalid())?;
                if values.is_empty() {
                    return Err(invalid());
                }
                let plain = |v: &String| !v.is_empty() && !v.contains(char::is_whitespace);
                let (list, ok): (&mut Vec<String>, bool) = match kind.as_str() {
                    "AWS" => {
                        let ok = values.iter().all(|v| {
                            v == "*"
                                || is_account_id(v)
                                || Arn::parse(v).is_some_and(|a| is_account_id(a.account))
                        });
                        (&mut aws, ok)
                    }
                    "Service" => (&mut service, values.iter().all(plain)),
                    "Federated" => (&mut federated, values.iter().all(plain)),
                    "CanonicalUser" => (
                        &mut canonical_user,
                        values
                            .iter()
                            .all(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric())),
                    ),
                    _ => return Err(invalid()),
                };
                if !ok {
                    return Err(invalid());
                }
                list.extend(values);
            }
            if aws.iter().any(|p| p == "*") {
                return Ok(Principals::Anyone);
            }
            Ok(Principals::Listed {
                aws,
                service,
                federated,
                canonical_user,
            })
        }
        _ => Err(invalid()),
    }
}

/// A string or a list of strings.
fn string_list(value: &Value) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(list) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(PolicyError::InvalidJson)
            })
            .collect(),
        _ => Err(PolicyError::InvalidJson),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::context::Principal;

    #[test]
    fn account_principals_delegate_but_deny_applies_to_all() {
        let alice = Caller::Principal(Principal::user("111122223333", "alice", "AKIAALICE"));
        let root = Caller::Principal(Principal::root("111122223333", "AKIAROOT"));
        let list = |aws: &[&str]| Principals::Listed {
            aws: aws.iter().map(|s| (*s).to_owned()).collect(),
            service: Vec::new(),
            federated: Vec::new(),
            canonical_user: Vec::new(),
        };
        assert_eq!(
            list(&["111122223333"]).matches(&alice),
            PrincipalMatch::Account
        );
        assert_eq!(
            list(&["arn:aws:iam::111122223333:root"]).matches(&alice),
            PrincipalMatch::Account
        );
        assert_eq!(
            list(&["111122223333"]).matches(&root),
            PrincipalMatch::Caller
        );
        assert_eq!(
            list(&["arn:aws:iam::111122223333:user/alice"]).matches(&alice),
            PrincipalMatch::Caller
        );
        assert_eq!(list(&["444455556666"]).matches(&alice), PrincipalMatch::No);
        assert_eq!(
            list(&["arn:aws:iam::111122223333:user/bob"]).matches(&alice),
            PrincipalMatch::No
        );
        assert_eq!(
            list(&["111122223333"]).matches(&Caller::Anonymous),
            PrincipalMatch::No
        );
        assert_eq!(
            Principals::Anyone.matches(&Caller::Anonymous),
            PrincipalMatch::Caller
        );
    }

    #[test]
    fn actions_are_validated() {
        for ok in [
            "*",
            "s3:GetObject",
            "s3:Get*",
            "kms:ReEncrypt?rom",
            "iam:*",
            "s3-object-lambda:Get*",
        ] {
            assert!(valid_action(ok), "{ok}");
        }
        for bad in ["", "GetObject", "s3:", ":x", "s3:Get Object", "s 3:x"] {
            assert!(!valid_action(bad), "{bad}");
        }
    }
}
