//! The access decision across all the policies that apply to a request (IAM UG
//! reference_policies_evaluation-logic; <https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-s3-evaluates-access-control.html> and <https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-policies.html>).
//!
//! 1. An explicit `Deny` in any evaluated policy (identity, resource, access point, VPC endpoint) refuses.
//!    Identity policies are not evaluated for account-root credentials (S3's user context is skipped for
//!    them; the root has no identity policies).
//! 2. Each *resource gate* must open: the resource's own policy and, for a request through an access point,
//!    the access point's policy (both must allow, §2.3). A gate opens
//!    - for an anonymous caller or a service principal: when the policy allows it by name (or `*`);
//!    - for a caller of the gate owner's account: with [`ResourceModel::S3`] when the caller is the
//!      account root, or its identity policies allow, or the policy allows it by name (the same-account
//!      union of identity and resource policies); with [`ResourceModel::Kms`] when the policy allows it by
//!      name, or the policy allows its account and its identity policies allow (KMS: IAM policies count
//!      only when the key policy delegates to the account);
//!    - for a caller of another account: when its identity policies allow (an account root's always do)
//!      and the policy allows it by name or by account (cross-account: both must allow).
//!
//!    Identity policies are evaluated on each gate's own resource: the bucket's ARN for the bucket gate,
//!    the access point's (`…:accesspoint/NAME/object/KEY`) for the access point gate, so an identity
//!    policy naming only the bucket does not open an access point, and one naming only the access point
//!    does not open the bucket.
//!
//!    A Glacier vault has two resource policies, its access policy and its lock policy
//!    ([`Authorization::with_lock_policy`]): they form one gate, as if their statements were in one
//!    policy (an explicit `Deny` in either refuses, an `Allow` in either counts); with
//!    [`ResourceModel::Glacier`] the gate opens as with [`ResourceModel::S3`].
//! 3. A VPC endpoint policy, when the request came through one, must allow too (for the resource and, via
//!    an access point, for the access point's resource as well).
//!
//! Account principals are read once, in [`crate::iam::policy`] ([`Decision::DelegatedToAccount`]): an
//! `Allow` naming an account grants its root directly and its other identities only through their
//! identity policies.

use super::context::{Caller, RequestContext};
use super::policy::{ConditionKeys, Decision, Policy, Request};

/// How a resource's owner account combines identity policies with the resource policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceModel {
    /// S3 (and IAM's default): in the owner's account an Allow from either side suffices, and the owner's
    /// root may do everything not explicitly denied.
    S3,
    /// KMS: the key policy is the root of trust; identity policies count only when the key policy allows
    /// the caller's account ("delegates to IAM"), the owner's root included.
    Kms,
    /// Glacier vaults: as [`ResourceModel::S3`] (the vault owner's root may do everything not explicitly
    /// denied, in its account an Allow from either side suffices).
    Glacier,
}

/// An access point a request came through: its policy (if it has one) and the resource ARN in
/// access-point form (`arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/object/KEY`). The owner is
/// `RequestContext::access_point`'s account.
#[derive(Clone, Copy, Debug)]
pub struct AccessPointGate<'a> {
    /// The access point policy, if any.
    pub policy: Option<&'a Policy>,
    /// The resource as the access point names it.
    pub resource: &'a str,
    /// The access point owner's account.
    pub owner: &'a str,
}

/// Everything [`authorize`] weighs.
#[derive(Clone, Copy, Debug)]
pub struct Authorization<'a> {
    /// The IAM action.
    pub action: &'a str,
    /// The resource ARN.
    pub resource: &'a str,
    /// The account owning the resource (the bucket owner, the key's account).
    pub resource_owner: &'a str,
    /// Caller, transport, global condition keys.
    pub context: &'a RequestContext,
    /// Request-specific condition keys.
    pub keys: &'a ConditionKeys,
    /// The caller's identity policies (user, group and role policies); ignored for account roots and
    /// anonymous callers.
    pub identity_policies: &'a [Policy],
    /// The resource's policy (bucket policy, key policy, vault access policy), if any.
    pub resource_policy: Option<&'a Policy>,
    /// A Glacier vault's lock policy, if any: part of the resource's gate with `resource_policy`.
    pub lock_policy: Option<&'a Policy>,
    /// The access point the request came through, if any.
    pub access_point: Option<AccessPointGate<'a>>,
    /// The VPC endpoint policy, if the request came through an endpoint that has one.
    pub vpc_endpoint_policy: Option<&'a Policy>,
    /// How the owner's account combines identity and resource policies.
    pub model: ResourceModel,
}

impl<'a> Authorization<'a> {
    /// A request for `action` on `resource` owned by `resource_owner`, with no policies yet but, for
    /// [`ResourceModel::S3`], the VPC endpoint policy of the context (an S3 request through an
    /// endpoint is always subject to it).
    #[must_use]
    pub fn new(
        action: &'a str,
        resource: &'a str,
        resource_owner: &'a str,
        context: &'a RequestContext,
        keys: &'a ConditionKeys,
        model: ResourceModel,
    ) -> Self {
        Self {
            action,
            resource,
            resource_owner,
            context,
            keys,
            identity_policies: &[],
            resource_policy: None,
            lock_policy: None,
            access_point: None,
            // An S3 endpoint's policy gates S3 requests only (not the KMS calls S3 makes for them).
            vpc_endpoint_policy: match model {
                ResourceModel::S3 => context.vpc_endpoint_policy.as_deref(),
                ResourceModel::Kms | ResourceModel::Glacier => None,
            },
            model,
        }
    }

    /// The same request with the caller's identity policies.
    #[must_use]
    pub fn with_identity_policies(mut self, policies: &'a [Policy]) -> Self {
        self.identity_policies = policies;
        self
    }

    /// The same request with the resource's policy.
    #[must_use]
    pub fn with_resource_policy(mut self, policy: Option<&'a Policy>) -> Self {
        self.resource_policy = policy;
        self
    }

    /// The same request with a Glacier vault's lock policy.
    #[must_use]
    pub fn with_lock_policy(mut self, policy: Option<&'a Policy>) -> Self {
        self.lock_policy = policy;
        self
    }

    /// The same request through an access point.
    #[must_use]
    pub fn with_access_point(mut self, gate: AccessPointGate<'a>) -> Self {
        self.access_point = Some(gate);
        self
    }

    /// The same request through a VPC endpoint with a policy.
    #[must_use]
    pub fn with_vpc_endpoint_policy(mut self, policy: &'a Policy) -> Self {
        self.vpc_endpoint_policy = Some(policy);
        self
    }
}

/// Which policy refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicySource {
    /// One of the caller's identity policies.
    Identity,
    /// The resource's policy.
    Resource,
    /// A Glacier vault's lock policy.
    VaultLock,
    /// The access point's policy.
    AccessPoint,
    /// The VPC endpoint's policy.
    VpcEndpoint,
}

/// The access decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed.
    Allow,
    /// An explicit `Deny` applied.
    ExplicitDeny {
        /// The denying statement's `Sid`, if any.
        sid: Option<String>,
        /// The policy it is in.
        source: PolicySource,
    },
    /// Nothing allowed the request (the default).
    ImplicitDeny,
}

impl Verdict {
    /// Whether the request is allowed.
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        *self == Self::Allow
    }
}

/// Decides a request (see the module documentation).
#[must_use]
pub fn authorize(a: &Authorization<'_>) -> Verdict {
    let eval = |policy: &Policy, resource: &str| {
        policy.evaluate(&Request {
            action: a.action,
            resource,
            context: a.context,
            keys: a.keys,
        })
    };
    let caller = &a.context.caller;
    let root = caller.principal().is_some_and(|p| p.is_root());

    // Identity policies: only for non-root principals, evaluated on each resource the request names
    // (the bucket's, and the access point's when it came through one): each gate needs its own Allow.
    let identity = |resource: &str| -> Result<bool, Verdict> {
        let mut allows = root;
        if let (Caller::Principal(_), false) = (caller, root) {
            for p in a.identity_policies {
                match eval(p, resource) {
                    Decision::ExplicitDeny { sid } => {
                        return Err(Verdict::ExplicitDeny {
                            sid,
                            source: PolicySource::Identity,
                        });
                    }
                    Decision::Allow | Decision::DelegatedToAccount => allows = true,
                    Decision::NotApplicable => {}
                }
            }
        }
        Ok(allows)
    };
    let identity_allows = match identity(a.resource) {
        Ok(allows) => allows,
        Err(deny) => return deny,
    };
    let identity_allows_ap = match a.access_point.as_ref().map(|ap| identity(ap.resource)) {
        None => identity_allows,
        Some(Ok(allows)) => allows,
        Some(Err(deny)) => return deny,
    };

    // A vault's lock policy: its Deny is reported as such; otherwise it joins the resource gate.
    let lock = a.lock_policy.map(|p| eval(p, a.resource));
    if let Some(Decision::ExplicitDeny { sid }) = &lock {
        return Verdict::ExplicitDeny {
            sid: sid.clone(),
            source: PolicySource::VaultLock,
        };
    }
    let resource = match (a.resource_policy.map(|p| eval(p, a.resource)), lock) {
        (Some(deny @ Decision::ExplicitDeny { .. }), _) => Some(deny),
        (Some(Decision::Allow), _) | (_, Some(Decision::Allow)) => Some(Decision::Allow),
        (Some(Decision::NotApplicable) | None, Some(l)) => Some(l),
        (r, _) => r,
    };
    let mut gates = vec![(
        resource,
        a.resource_owner,
        PolicySource::Resource,
        identity_allows,
    )];
    if let Some(ap) = &a.access_point {
        gates.push((
            ap.policy.map(|p| eval(p, ap.resource)),
            ap.owner,
            PolicySource::AccessPoint,
            identity_allows_ap,
        ));
    }
    let mut vpce = Vec::new();
    if let Some(p) = a.vpc_endpoint_policy {
        vpce.push(eval(p, a.resource));
        if let Some(ap) = &a.access_point {
            vpce.push(eval(p, ap.resource));
        }
    }

    // Explicit denies anywhere win.
    for (decision, _, source, _) in &gates {
        if let Some(Decision::ExplicitDeny { sid }) = decision {
            return Verdict::ExplicitDeny {
                sid: sid.clone(),
                source: *source,
            };
        }
    }
    for decision in &vpce {
        if let Decision::ExplicitDeny { sid } = decision {
            return Verdict::ExplicitDeny {
                sid: sid.clone(),
                source: PolicySource::VpcEndpoint,
            };
        }
    }

    let gate_open = |decision: &Option<Decision>, owner: &str, identity_allows: bool| {
        let by_name = matches!(decision, Some(Decision::Allow));
        let by_account = matches!(decision, Some(Decision::DelegatedToAccount));
        match caller {
            Caller::Anonymous | Caller::Service(_) => by_name,
            Caller::Principal(p) if p.account == owner => match a.model {
                ResourceModel::S3 | ResourceModel::Glacier => root || identity_allows || by_name,
                ResourceModel::Kms => by_name || (by_account && identity_allows),
            },
            Caller::Principal(_) => identity_allows && (by_name || by_account),
        }
    };
    let gates_open = gates
        .iter()
        .all(|(decision, owner, _, identity)| gate_open(decision, owner, *identity));
    let vpce_allows = vpce.iter().all(|d| match d {
        Decision::Allow => true,
        Decision::DelegatedToAccount => identity_allows,
        _ => false,
    });
    if gates_open && vpce_allows {
        Verdict::Allow
    } else {
        Verdict::ImplicitDeny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::context::Principal;
    use crate::iam::policy::ParseOptions;

    const VAULT: &str = "arn:aws:glacier:us-east-1:111122223333:vaults/v";

    fn resource_policy(json: &str) -> Policy {
        Policy::parse(json, &ParseOptions::BUCKET).expect("policy")
    }

    fn verdict(
        ctx: &RequestContext,
        action: &str,
        keys: &ConditionKeys,
        access: Option<&Policy>,
        lock: Option<&Policy>,
    ) -> Verdict {
        authorize(
            &Authorization::new(
                action,
                VAULT,
                "111122223333",
                ctx,
                keys,
                ResourceModel::Glacier,
            )
            .with_resource_policy(access)
            .with_lock_policy(lock),
        )
    }

    fn young_archives_locked() -> Policy {
        resource_policy(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"keep","Effect":"Deny","Principal":"*",
                "Action":"glacier:DeleteArchive","Resource":"arn:aws:glacier:us-east-1:111122223333:vaults/v",
                "Condition":{"NumericLessThan":{"glacier:ArchiveAgeInDays":"365"}}}]}"#,
        )
    }

    #[test]
    fn glacier_lock_policy_deny_wins_even_for_root() {
        let root = RequestContext::signed_by(Principal::root("111122223333", "AKROOT"));
        let lock = young_archives_locked();
        let young = ConditionKeys::new().with("glacier:ArchiveAgeInDays", "3");
        let old = ConditionKeys::new().with("glacier:ArchiveAgeInDays", "365");
        assert_eq!(
            verdict(&root, "glacier:DeleteArchive", &young, None, Some(&lock)),
            Verdict::ExplicitDeny {
                sid: Some("keep".to_owned()),
                source: PolicySource::VaultLock
            }
        );
        assert!(verdict(&root, "glacier:DeleteArchive", &old, None, Some(&lock)).is_allowed());
        // No age key (no such archive): the condition does not hold, nothing is denied.
        let none = ConditionKeys::new();
        assert!(verdict(&root, "glacier:DeleteArchive", &none, None, Some(&lock)).is_allowed());
        assert!(verdict(&root, "glacier:UploadArchive", &young, None, Some(&lock)).is_allowed());
    }

    #[test]
    fn glacier_access_and_lock_policies_form_one_gate() {
        let bob = RequestContext::signed_by(Principal::user("444455556666", "bob", "AKBOB"));
        let keys = ConditionKeys::new();
        let allow_bob = resource_policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::444455556666:user/bob"},
                "Action":"glacier:*","Resource":"*"}}"#,
        );
        let deny_bob = resource_policy(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"no","Effect":"Deny",
                "Principal":{"AWS":"444455556666"},"Action":"glacier:DescribeVault","Resource":"*"}}"#,
        );
        // Cross-account: the resource gate allows, but bob's own identity policies must too.
        assert!(
            !verdict(&bob, "glacier:DescribeVault", &keys, Some(&allow_bob), None).is_allowed()
        );
        let mine = [Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"glacier:*","Resource":"*"}}"#,
            &ParseOptions::IDENTITY,
        )
        .expect("identity policy")];
        let with_ids = |access, lock| {
            authorize(
                &Authorization::new(
                    "glacier:DescribeVault",
                    VAULT,
                    "111122223333",
                    &bob,
                    &keys,
                    ResourceModel::Glacier,
                )
                .with_identity_policies(&mine)
                .with_resource_policy(access)
                .with_lock_policy(lock),
            )
        };
        assert!(with_ids(Some(&allow_bob), None).is_allowed());
        // An Allow in the lock policy opens the gate as one in the access policy does.
        assert!(with_ids(None, Some(&allow_bob)).is_allowed());
        assert_eq!(with_ids(None, None), Verdict::ImplicitDeny);
        // A Deny in either wins over an Allow in the other.
        assert_eq!(
            with_ids(Some(&allow_bob), Some(&deny_bob)),
            Verdict::ExplicitDeny {
                sid: Some("no".to_owned()),
                source: PolicySource::VaultLock
            }
        );
        assert_eq!(
            with_ids(Some(&deny_bob), Some(&allow_bob)),
            Verdict::ExplicitDeny {
                sid: Some("no".to_owned()),
                source: PolicySource::Resource
            }
        );
    }
}
