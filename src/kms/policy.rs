//! Key policies: which principals may call which operations on a key. A thin wrapper around the IAM
//! policy engine ([`crate::iam::policy`], [`crate::iam::authorize()`]).
//!
//! ```json
//! {"Version": "2012-10-17", "Statement": [
//!   {"Sid": "admins", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
//!    "Action": "kms:*", "Resource": "*"},
//!   {"Effect": "Deny", "Principal": {"AWS": ["arn:aws:iam::111122223333:user/bob"]},
//!    "Action": ["kms:Decrypt"], "Resource": "*"}]}
//! ```
//!
//! The full engine grammar is accepted (conditions included: `kms:EncryptionContext:<k>`,
//! `kms:ViaService`, `aws:SourceIp`, …; request keys are passed to [`KeyPolicy::check_in`]); a statement
//! must name a principal and `Resource`, and actions must be `kms:` actions. Malformed documents are
//! `MalformedPolicyDocumentException`.
//!
//! # Decisions ([`crate::iam::authorize()`] with [`ResourceModel::Kms`])
//! An explicit `Deny` wins; otherwise the key policy must allow the caller by name, or allow the caller's
//! account (`arn:aws:iam::ACCOUNT:root` or `ACCOUNT`) *and* the caller's identity policies must allow: in
//! AWS the account principal delegates to IAM. This crate has no IAM: [`KeyPolicy::check`] models every
//! principal as holding an identity policy that allows everything (the mock's users are administrators
//! of their account), so a key policy naming an account admits every principal of that account, as the
//! mock always did. [`KeyPolicy::check_in`] takes the caller's real identity policies.

use crate::iam::authorize::{Authorization, PolicySource, ResourceModel, Verdict, authorize};
use crate::iam::context::{AuthType, Caller, RequestContext};
use crate::iam::policy::{ConditionKeys, ParseOptions, Policy, PolicyError};

use super::api::EncryptionContext;
use super::error::{KmsError, KmsErrorKind};

/// A parsed key policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    policy: Policy,
}

impl KeyPolicy {
    /// The default key policy: the account (its root and, through IAM, its principals) may do everything.
    #[must_use]
    pub fn default_for_account(account_id: &str) -> Self {
        let document = serde_json::json!({
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [{
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
                "Action": "kms:*",
                "Resource": "*"
            }]
        })
        .to_string();
        #[allow(clippy::expect_used)]
        Self::parse(&document).expect("the default key policy is well-formed")
    }

    /// Parses a policy document.
    ///
    /// # Errors
    /// `MalformedPolicyDocumentException` naming what is wrong.
    pub fn parse(document: &str) -> Result<Self, KmsError> {
        let malformed = |e: PolicyError| {
            KmsError::new(
                KmsErrorKind::MalformedPolicyDocument,
                format!("Malformed policy: {e}"),
            )
        };
        let policy = Policy::parse(document, &ParseOptions::KEY).map_err(malformed)?;
        let kms_action = |a: &String| a.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("kms:"));
        for s in policy.statements() {
            if !s.actions().patterns.iter().all(kms_action) {
                return Err(malformed(PolicyError::InvalidAction));
            }
        }
        Ok(Self { policy })
    }

    /// The policy document as given.
    #[must_use]
    pub fn document(&self) -> &str {
        self.policy.document()
    }

    /// The engine's policy.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Checks that `principal` (an ARN) may perform `action` (e.g. `kms:Decrypt`) on `key_arn`, with no
    /// request-specific condition keys and the mock's model of identity policies (allow everything; see
    /// the module documentation).
    ///
    /// # Errors
    /// `AccessDeniedException` with AWS's wording.
    pub fn check(&self, principal: &str, action: &str, key_arn: &str) -> Result<(), KmsError> {
        let context = RequestContext::new(
            Caller::from_arn(principal),
            AuthType::Header,
            std::time::SystemTime::now(),
        );
        let admin = admin_identity_policy();
        self.check_in(
            &context,
            &ConditionKeys::new(),
            std::slice::from_ref(&admin),
            action,
            key_arn,
        )
    }

    /// [`KeyPolicy::check`] with the request's encryption context as condition keys
    /// (`kms:EncryptionContext:<k>`, `kms:EncryptionContextKeys`) and `kms:CallerAccount`.
    ///
    /// # Errors
    /// `AccessDeniedException` with AWS's wording.
    pub fn check_with_context(
        &self,
        principal: &str,
        action: &str,
        key_arn: &str,
        encryption_context: Option<&EncryptionContext>,
    ) -> Result<(), KmsError> {
        let caller = Caller::from_arn(principal);
        let mut keys = ConditionKeys::new();
        if let Some(ctx) = encryption_context {
            keys = keys.with_encryption_context(ctx.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        if let Some(p) = caller.principal() {
            keys.insert("kms:CallerAccount", p.account.clone());
        }
        let context = RequestContext::new(caller, AuthType::Header, std::time::SystemTime::now());
        let admin = admin_identity_policy();
        self.check_in(
            &context,
            &keys,
            std::slice::from_ref(&admin),
            action,
            key_arn,
        )
    }

    /// Checks a request described by its context, condition keys (`kms:EncryptionContext:…`,
    /// `kms:ViaService`, …) and the caller's identity policies.
    ///
    /// # Errors
    /// `AccessDeniedException` with AWS's wording.
    pub fn check_in(
        &self,
        context: &RequestContext,
        keys: &ConditionKeys,
        identity_policies: &[Policy],
        action: &str,
        key_arn: &str,
    ) -> Result<(), KmsError> {
        let owner = crate::iam::arn::Arn::parse(key_arn).map_or("", |a| a.account);
        let verdict = authorize(
            &Authorization::new(action, key_arn, owner, context, keys, ResourceModel::Kms)
                .with_identity_policies(identity_policies)
                .with_resource_policy(Some(&self.policy)),
        );
        let how = match verdict {
            Verdict::Allow => return Ok(()),
            Verdict::ExplicitDeny {
                source: PolicySource::Identity,
                ..
            } => "with an explicit deny in an identity-based policy",
            Verdict::ExplicitDeny { .. } => "with an explicit deny in a resource-based policy",
            Verdict::ImplicitDeny => "because no resource-based policy allows the action",
        };
        let who = match &context.caller {
            Caller::Principal(p) => p.arn.as_str(),
            Caller::Service(s) => s.as_str(),
            Caller::Anonymous => "anonymous",
        };
        Err(KmsError::new(
            KmsErrorKind::AccessDenied,
            format!(
                "User: {who} is not authorized to perform: {action} on resource: {key_arn} {how}"
            ),
        ))
    }
}

/// The identity policy the mock gives every principal: allow everything.
fn admin_identity_policy() -> Policy {
    #[allow(clippy::expect_used)]
    Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        &ParseOptions::IDENTITY,
    )
    .expect("the administrator policy is well-formed")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const EVE: &str = "arn:aws:iam::999999999999:user/eve";

    #[test]
    fn default_policy_admits_the_account_only() {
        let p = KeyPolicy::default_for_account("111122223333");
        assert!(p.check(ALICE, "kms:Decrypt", "k").is_ok());
        let e = p.check(EVE, "kms:Decrypt", "k").expect_err("other account");
        assert_eq!(e.code(), "AccessDeniedException");
        assert!(KeyPolicy::parse(p.document()).is_ok());
    }

    #[test]
    fn explicit_deny_wins_and_actions_match() {
        let p = KeyPolicy::parse(&format!(
            r#"{{"Statement":[
              {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"kms:*","Resource":"*"}},
              {{"Effect":"Deny","Principal":{{"AWS":["{BOB}"]}},"Action":["kms:Decrypt","kms:ReEncrypt*"],"Resource":"*"}}]}}"#
        ))
        .expect("policy");
        assert!(p.check(ALICE, "kms:Decrypt", "k").is_ok());
        assert!(p.check(BOB, "kms:GenerateDataKey", "k").is_ok());
        assert!(p.check(BOB, "kms:Decrypt", "k").is_err());
        assert!(p.check(BOB, "kms:ReEncryptFrom", "k").is_err());
    }

    #[test]
    fn malformed_documents() {
        for doc in [
            "",
            "{}",
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{}}]}"#,
        ] {
            let e = KeyPolicy::parse(doc).expect_err(doc);
            assert_eq!(e.code(), "MalformedPolicyDocumentException");
        }
    }

    #[test]
    fn with_real_identity_policies_the_account_principal_delegates() {
        let key = "arn:aws:kms:us-east-1:111122223333:key/k";
        let p = KeyPolicy::default_for_account("111122223333");
        let alice = RequestContext::signed_by(crate::iam::Principal::user(
            "111122223333",
            "alice",
            "AKIAALICE",
        ));
        let none: &[Policy] = &[];
        // No identity policy: the account principal alone grants nothing to alice.
        assert!(
            p.check_in(&alice, &ConditionKeys::new(), none, "kms:Decrypt", key)
                .is_err()
        );
        let decrypt = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}"#,
            &ParseOptions::IDENTITY,
        )
        .expect("identity policy");
        let ids = std::slice::from_ref(&decrypt);
        assert!(
            p.check_in(&alice, &ConditionKeys::new(), ids, "kms:Decrypt", key)
                .is_ok()
        );
        assert!(
            p.check_in(&alice, &ConditionKeys::new(), ids, "kms:Encrypt", key)
                .is_err()
        );
        // The key's own account root is admitted by the default policy without identity policies.
        let root =
            RequestContext::signed_by(crate::iam::Principal::root("111122223333", "AKIAROOT"));
        assert!(
            p.check_in(
                &root,
                &ConditionKeys::new(),
                none,
                "kms:ScheduleKeyDeletion",
                key
            )
            .is_ok()
        );
    }
}
