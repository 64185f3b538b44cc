//! Key policies: which principals may call which operations on a key.
//!
//! The accepted document is the IAM policy grammar subset that key policies use:
//!
//! ```json
//! {"Version": "2012-10-17", "Statement": [
//!   {"Sid": "admins", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
//!    "Action": "kms:*", "Resource": "*"},
//!   {"Effect": "Deny", "Principal": {"AWS": ["arn:aws:iam::111122223333:user/bob"]},
//!    "Action": ["kms:Decrypt"], "Resource": "*"}]}
//! ```
//!
//! Evaluation follows IAM: an explicit `Deny` wins, otherwise an `Allow` is needed, otherwise the call is
//! denied with `AccessDeniedException`. `Principal` may be `"*"`, an ARN, or a list of ARNs; the account
//! root ARN (`arn:aws:iam::ACCOUNT:root`) matches every principal of that account, as delegation to IAM
//! does in AWS. `Action` may be `kms:*`, `kms:Prefix*` or an exact action; `Condition` is not supported
//! and is refused as malformed rather than ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{KmsError, KmsErrorKind};

/// A parsed key policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPolicy {
    statements: Vec<Statement>,
    document: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Statement {
    allow: bool,
    principals: Vec<String>,
    actions: Vec<String>,
}

impl KeyPolicy {
    /// The default key policy: the account root (every principal of the account) may do everything.
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
        Self {
            statements: vec![Statement {
                allow: true,
                principals: vec![format!("arn:aws:iam::{account_id}:root")],
                actions: vec!["kms:*".into()],
            }],
            document,
        }
    }

    /// Parses a policy document.
    ///
    /// # Errors
    /// `MalformedPolicyDocumentException` naming what is wrong.
    pub fn parse(document: &str) -> Result<Self, KmsError> {
        let malformed = |why: &str| {
            KmsError::new(
                KmsErrorKind::MalformedPolicyDocument,
                format!("Malformed policy: {why}"),
            )
        };
        let doc: Value = serde_json::from_str(document).map_err(|_| malformed("not valid JSON"))?;
        let stmts = match doc.get("Statement") {
            Some(Value::Array(a)) => a.clone(),
            Some(o @ Value::Object(_)) => vec![o.clone()],
            _ => return Err(malformed("missing Statement")),
        };
        let strings = |v: &Value, what: &str| -> Result<Vec<String>, KmsError> {
            match v {
                Value::String(s) => Ok(vec![s.clone()]),
                Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| malformed(&format!("{what} must be strings")))
                    })
                    .collect(),
                _ => Err(malformed(&format!("{what} must be a string or a list"))),
            }
        };
        let mut statements = Vec::new();
        for s in &stmts {
            if s.get("Condition").is_some()
                || s.get("NotAction").is_some()
                || s.get("NotPrincipal").is_some()
            {
                return Err(malformed(
                    "Condition, NotAction and NotPrincipal are not supported",
                ));
            }
            let allow = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => return Err(malformed("Effect must be Allow or Deny")),
            };
            let principals = match s.get("Principal") {
                Some(Value::String(star)) if star == "*" => vec!["*".to_owned()],
                Some(Value::Object(o)) => strings(
                    o.get("AWS")
                        .ok_or_else(|| malformed("Principal needs AWS"))?,
                    "Principal",
                )?,
                _ => return Err(malformed("missing Principal")),
            };
            let actions = strings(
                s.get("Action").ok_or_else(|| malformed("missing Action"))?,
                "Action",
            )?;
            if actions.iter().any(|a| !a.starts_with("kms:")) {
                return Err(malformed("actions must start with kms:"));
            }
            statements.push(Statement {
                allow,
                principals,
                actions,
            });
        }
        if statements.is_empty() {
            return Err(malformed("no statements"));
        }
        Ok(Self {
            statements,
            document: document.to_owned(),
        })
    }

    /// The policy document as given.
    #[must_use]
    pub fn document(&self) -> &str {
        &self.document
    }

    /// Checks that `principal` may perform `action` (e.g. `kms:Decrypt`).
    ///
    /// # Errors
    /// `AccessDeniedException` with AWS's wording.
    pub fn check(&self, principal: &str, action: &str, key_arn: &str) -> Result<(), KmsError> {
        let applies = |s: &Statement| {
            s.principals.iter().any(|p| principal_matches(p, principal))
                && s.actions.iter().any(|a| action_matches(a, action))
        };
        let denied = self.statements.iter().any(|s| !s.allow && applies(s));
        let allowed = self.statements.iter().any(|s| s.allow && applies(s));
        if allowed && !denied {
            return Ok(());
        }
        let how = if denied {
            "with an explicit deny in a resource-based policy"
        } else {
            "because no resource-based policy allows the action"
        };
        Err(KmsError::new(
            KmsErrorKind::AccessDenied,
            format!(
                "User: {principal} is not authorized to perform: {action} on resource: {key_arn} {how}"
            ),
        ))
    }
}

fn principal_matches(pattern: &str, principal: &str) -> bool {
    if pattern == "*" || pattern == principal {
        return true;
    }
    // arn:aws:iam::ACCOUNT:root stands for every principal of the account.
    if let Some(account) = pattern
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
    {
        return principal_account(principal) == Some(account);
    }
    false
}

fn principal_account(principal: &str) -> Option<&str> {
    let mut parts = principal.splitn(6, ':');
    let (arn, _partition, _service, _region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn").then_some(account)
}

fn action_matches(pattern: &str, action: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => action.starts_with(prefix),
        None => pattern == action,
    }
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
}
