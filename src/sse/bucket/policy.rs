//! S3 bucket policies (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html>): a thin wrapper around the IAM
//! policy engine ([`crate::iam::policy`]) that adds S3's own refusals and answers in S3's words.
//!
//! # What is supported
//! Everything the engine parses and evaluates (module documentation of [`crate::iam::policy`] and
//! [`crate::iam::policy::condition`]): `Version`, `Id`, `Statement` (an object or an array), `Sid`,
//! `Effect`, `Principal` / `NotPrincipal`, `Action` / `NotAction`, `Resource` / `NotResource`, every
//! condition operator with `…IfExists`, `ForAnyValue:` / `ForAllValues:`, and policy variables.
//!
//! # Refused rather than ignored (400 `MalformedPolicy`)
//! On top of the engine's refusals (invalid JSON, repeated keys, unknown fields, bad `Effect`, principal,
//! action or resource, unknown operators, values an operator cannot compare):
//! - actions of other services (only `*` and `s3:…`);
//! - resources other than this bucket and its objects, in the `aws`, `aws-cn` or `aws-us-gov` partition
//!   (as S3 does);
//! - an action none of the statement's resources can apply to (an object action with only the bucket ARN,
//!   or a bucket action with only object ARNs);
//! - `Federated` principals (S3 grants to accounts, users, roles, services and canonical users; federated
//!   users reach S3 through a role);
//! - condition keys S3 does not know (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html> and the global `aws:` keys): "Policy has an
//!   invalid condition key";
//! - an operator of the wrong type for the key (`Bool` on a string key, `NumericLessThan` on
//!   `s3:prefix`, …): such a condition would silently never match.
//!
//! # Evaluation
//! [`BucketPolicy::evaluate`] gives the policy's own verdict: any applying `Deny` wins
//! ([`Decision::Deny`], with the first such statement's `Sid`); otherwise an `Allow` naming the caller (or
//! everyone) gives [`Decision::Allow`]; otherwise [`Decision::NoOpinion`]. An `Allow` that names only the
//! caller's *account* is [`Decision::NoOpinion`] here: it delegates to the account's identity policies
//! (see [`crate::iam::policy`], "Account principals"), which [`crate::iam::authorize()`] weighs. The engine
//! serves the bucket owner, so it treats `NoOpinion` like `Allow` ([`Decision::enforce`]); a policy can only
//! take access away from it.

use crate::iam::arn::Arn;
use crate::iam::context::{AuthType, Caller, RequestContext};
use crate::iam::policy::condition::{key_type, operator_applies};
use crate::iam::policy::{
    self as engine, ConditionKeys, ParseOptions, Policy, PolicyError, PrincipalElement, Principals,
    Request,
};
use crate::sse::S3Error;

/// The largest bucket policy S3 accepts (20 KiB); a larger one is refused with 400 `MalformedPolicy`.
pub const MAX_POLICY_BYTES: usize = engine::MAX_BUCKET_POLICY_BYTES;

/// A parsed bucket policy, bound to the bucket it was attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketPolicy {
    bucket: String,
    /// The partition the policy's resources name (`aws` unless they all say otherwise).
    partition: String,
    policy: Policy,
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
    /// The caller's ARN (`arn:aws:iam::111122223333:user/alice`), or empty (or `*`) for an anonymous
    /// request; a string that is not an ARN is a service principal. Read with [`Caller::from_arn`].
    pub principal: &'a str,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// `x-amz-server-side-encryption` as sent in the request: `None` if absent, even when the bucket default
    /// will encrypt the object (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>: the key reflects the request header).
    pub sse_header: Option<&'a str>,
    /// `x-amz-server-side-encryption-aws-kms-key-id` as sent in the request.
    pub kms_key_id_header: Option<&'a str>,
    /// `x-amz-server-side-encryption-customer-algorithm` as sent in the request.
    pub sse_c_algorithm_header: Option<&'a str>,
}

impl PolicyRequest<'_> {
    /// The request-specific condition keys this request carries.
    #[must_use]
    pub fn condition_keys(&self) -> ConditionKeys {
        ConditionKeys::new()
            .with_opt("s3:x-amz-server-side-encryption", self.sse_header)
            .with_opt(
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
                self.kms_key_id_header,
            )
            .with_opt(
                "s3:x-amz-server-side-encryption-customer-algorithm",
                self.sse_c_algorithm_header,
            )
    }

    /// The request context: the caller named by `principal`, signed in the header unless anonymous, at
    /// the current time, with `aws:SecureTransport` set.
    #[must_use]
    pub fn request_context(&self) -> RequestContext {
        let caller = Caller::from_arn(self.principal);
        let auth = match caller {
            Caller::Anonymous => AuthType::None,
            _ => AuthType::Header,
        };
        RequestContext::new(caller, auth, std::time::SystemTime::now())
            .with_tls(self.secure_transport)
    }
}

/// The policy's verdict on one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement naming the caller (or everyone) applies and no `Deny` does.
    Allow,
    /// A `Deny` statement applies: the request is refused whatever else allows it.
    Deny {
        /// The `Sid` of the first applying `Deny` statement, if it has one (for logs; never sent to clients).
        sid: Option<String>,
    },
    /// No statement applies (or only an `Allow` delegating to the caller's account).
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

impl From<engine::Decision> for Decision {
    fn from(d: engine::Decision) -> Self {
        match d {
            engine::Decision::Allow => Self::Allow,
            engine::Decision::ExplicitDeny { sid } => Self::Deny { sid },
            engine::Decision::DelegatedToAccount | engine::Decision::NotApplicable => {
                Self::NoOpinion
            }
        }
    }
}

/// 400 `MalformedPolicy` with the engine's reason.
impl From<PolicyError> for S3Error {
    fn from(e: PolicyError) -> Self {
        S3Error::malformed_policy(e.to_string())
    }
}

impl BucketPolicy {
    /// Parses a `PutBucketPolicy` body for `bucket`. The module documentation lists what is refused; any
    /// input returns, none panics.
    ///
    /// # Errors
    /// 400 `MalformedPolicy` ([`S3Error::malformed_policy`]) with an S3-like message for a policy that is not
    /// JSON, lacks a required field, has a bad `Effect`, principal, action or resource (including one naming
    /// another bucket), or uses a condition operator or key S3 does not support.
    pub fn parse(json: &str, bucket: &str) -> Result<Self, S3Error> {
        let policy = Policy::parse(json, &ParseOptions::BUCKET)?;
        let mut partition = None;
        for statement in policy.statements() {
            check_statement(statement, bucket, &mut partition)?;
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            partition: partition.unwrap_or("aws").to_owned(),
            policy,
        })
    }

    /// The bucket this policy is attached to.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The engine's policy (for [`crate::iam::authorize()`]).
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The ARN of `key` in this bucket (the bucket's ARN for an empty key), in the policy's partition.
    #[must_use]
    pub fn resource_arn(&self, key: &str) -> String {
        if key.is_empty() {
            format!("arn:{}:s3:::{}", self.partition, self.bucket)
        } else {
            format!("arn:{}:s3:::{}/{key}", self.partition, self.bucket)
        }
    }

    /// Evaluates the policy for `req` (see the module documentation). A request for another bucket gets
    /// [`Decision::NoOpinion`].
    #[must_use]
    pub fn evaluate(&self, req: &PolicyRequest<'_>) -> Decision {
        if req.bucket != self.bucket {
            return Decision::NoOpinion;
        }
        let context = req.request_context();
        let keys = req.condition_keys();
        self.evaluate_in(&Request {
            action: req.action,
            resource: &self.resource_arn(req.key),
            context: &context,
            keys: &keys,
        })
    }

    /// Evaluates the policy for a request described by the engine's types.
    #[must_use]
    pub fn evaluate_in(&self, req: &Request<'_>) -> Decision {
        self.policy.evaluate(req).into()
    }
}

/// S3's checks on top of the engine's (module documentation, "Refused rather than ignored").
fn check_statement<'p>(
    statement: &'p engine::Statement,
    bucket: &str,
    partition: &mut Option<&'p str>,
) -> Result<(), PolicyError> {
    if let Some(PrincipalElement::Principal(p) | PrincipalElement::NotPrincipal(p)) =
        statement.principal()
        && let Principals::Listed { federated, .. } = p
        && !federated.is_empty()
    {
        return Err(PolicyError::InvalidPrincipal);
    }
    let actions = statement.actions();
    if !actions.patterns.iter().all(|a| valid_s3_action(a)) {
        return Err(PolicyError::InvalidAction);
    }
    let resources = statement.resources();
    let mut relative = Vec::with_capacity(resources.patterns.len());
    for r in &resources.patterns {
        let arn = Arn::parse(r).ok_or(PolicyError::InvalidResource)?;
        let named_bucket = arn
            .resource
            .split_once('/')
            .map_or(arn.resource, |(b, _)| b);
        let known_partition = ["aws", "aws-cn", "aws-us-gov"].contains(&arn.partition);
        if !known_partition
            || arn.service != "s3"
            || !arn.region.is_empty()
            || !arn.account.is_empty()
            || bucket.is_empty()
            || named_bucket != bucket
            || partition.is_some_and(|p| p != arn.partition)
        {
            return Err(PolicyError::InvalidResource);
        }
        *partition = Some(arn.partition);
        relative.push(arn.resource);
    }
    if !actions.negated && !resources.negated {
        check_actions_apply(&actions.patterns, &relative)?;
    }
    for condition in statement.conditions() {
        let key = condition.key();
        let lower = key.to_ascii_lowercase();
        let Some(ty) =
            key_type(key).filter(|_| lower.starts_with("s3:") || lower.starts_with("aws:"))
        else {
            return Err(PolicyError::InvalidConditionKey);
        };
        if !operator_applies(condition.operator(), key, ty) {
            return Err(PolicyError::ConditionValue(format!(
                "Condition operator {} does not apply to the {} key {key}",
                condition.operator().name(),
                ty.name()
            )));
        }
    }
    Ok(())
}

/// `"*"` or `s3:` followed by letters, digits and wildcards (IAM actions are case-insensitive).
fn valid_s3_action(action: &str) -> bool {
    action == "*"
        || action
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("s3:"))
            && action.len() > 3
            && action[3..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
}

/// S3 refuses a statement with an action that none of its resources can apply to (an object action with
/// only the bucket ARN, or a bucket action with only object ARNs). Only the actions listed here are checked;
/// wildcard actions apply to both kinds. `resources` are relative to `arn:<partition>:s3:::`.
fn check_actions_apply(actions: &[String], resources: &[&str]) -> Result<(), PolicyError> {
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
        let action = action.to_ascii_lowercase();
        let unusable = (OBJECT_ACTIONS.contains(&action.as_str()) && !has_object)
            || (BUCKET_ACTIONS.contains(&action.as_str()) && !has_bucket);
        if unusable {
            return Err(PolicyError::ActionResourceMismatch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::Principal;

    /// Moved from the old evaluator's `account_principals` test: an account principal covers every
    /// principal of the account for `Deny`; for `Allow` it delegates to the account (NoOpinion here).
    #[test]
    fn account_principals() {
        let p = BucketPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"D","Effect":"Deny","Principal":{"AWS":["111122223333"]},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"},
                {"Sid":"A","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
                {"Sid":"U","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}"#,
            "b",
        )
        .expect("policy");
        let req = |action, principal| PolicyRequest {
            action,
            bucket: "b",
            key: "k",
            principal,
            secure_transport: true,
            sse_header: None,
            kms_key_id_header: None,
            sse_c_algorithm_header: None,
        };
        let alice = "arn:aws:iam::111122223333:user/alice";
        let root = "arn:aws:iam::111122223333:root";
        assert_eq!(
            p.evaluate(&req("s3:DeleteObject", alice)),
            Decision::Deny {
                sid: Some("D".into())
            }
        );
        assert_eq!(p.evaluate(&req("s3:GetObject", alice)), Decision::NoOpinion);
        assert_eq!(p.evaluate(&req("s3:GetObject", root)), Decision::Allow);
        assert_eq!(p.evaluate(&req("s3:PutObject", alice)), Decision::Allow);
        assert_eq!(
            p.evaluate(&req("s3:PutObject", "arn:aws:iam::111122223333:user/bob")),
            Decision::NoOpinion
        );
        assert_eq!(
            p.evaluate(&req(
                "s3:DeleteObject",
                "arn:aws:iam::444455556666:user/eve"
            )),
            Decision::NoOpinion
        );
        assert_eq!(
            Caller::from_arn(alice),
            Caller::Principal(Principal {
                account: "111122223333".into(),
                arn: alice.into(),
                user_name: Some("alice".into()),
                access_key_id: String::new(),
            })
        );
    }
}
