//! Temporary credentials issued by this process, as STS issues them: an `ASIA…` access key id, a
//! secret access key, a session token that every request signed with them must carry
//! (`X-Amz-Security-Token`), an expiry, and the policies that bound what the session may do.
//!
//! Two kinds are issued: sessions of an execution role (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/NAME`,
//! bounded by the role's policy; what a Lambda function's process receives), and short sessions that
//! act for an authenticated caller with the caller's own policies (what S3 Object Lambda signs an
//! `inputS3Url` with, so that the URL carries a token instead of the caller's long-term key).
//!
//! Sessions live in the memory of the process that issued them and end with it (or at their expiry);
//! nothing is written to disk. Secrets are zeroized when a session is dropped.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use crate::aws::sigv4::Credentials;
use crate::iam::context::Principal;
use crate::iam::policy::Policy;
use crate::iam::users::{SecretAccessKey, random_id};
use crate::primitives::{RngError, fill_random};

/// The longest session (12 hours, STS's maximum role session).
pub const MAX_DURATION: Duration = Duration::from_secs(12 * 3600);

/// Temporary credentials as handed to their holder.
#[derive(Clone, Debug)]
pub struct TemporaryCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key (`Debug` redacts it).
    pub secret_access_key: SecretAccessKey,
    /// The session token (`Debug` redacts it).
    pub session_token: SessionToken,
    /// When they stop working.
    pub expiration: SystemTime,
}

impl TemporaryCredentials {
    /// The credentials for signing with them.
    #[must_use]
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose_secret(),
            Some(self.session_token.expose_secret().to_owned()),
        )
    }
}

/// A session token: zeroized on drop, redacted in `Debug`.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct SessionToken(String);

impl SessionToken {
    /// The token's text.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([REDACTED])")
    }
}

/// What a session authenticates as.
#[derive(Clone, Debug)]
pub struct Session {
    /// The session's principal (a role session, or the caller it acts for).
    pub principal: Principal,
    /// Its credentials.
    pub credentials: TemporaryCredentials,
    /// The policies that bound it (the role's policy; the caller's identity policies).
    pub policies: Vec<Policy>,
}

/// The sessions issued by this process.
#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// No sessions yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Issues temporary credentials for `principal` (its `access_key_id` is replaced by the new
    /// `ASIA…` id), bounded by `policies`, valid for `duration` (at most [`MAX_DURATION`]).
    ///
    /// # Errors
    /// [`RngError`] if the operating system cannot provide randomness.
    pub fn issue(
        &self,
        mut principal: Principal,
        policies: Vec<Policy>,
        duration: Duration,
    ) -> Result<TemporaryCredentials, RngError> {
        let access_key_id = random_id("ASIA", 16)?;
        let mut raw = Zeroizing::new([0u8; 48]);
        fill_random(raw.as_mut())?;
        let token = SessionToken(hex::encode(raw.as_ref()));
        let credentials = TemporaryCredentials {
            access_key_id: access_key_id.clone(),
            secret_access_key: SecretAccessKey::generate()?,
            session_token: token,
            expiration: SystemTime::now() + duration.min(MAX_DURATION),
        };
        principal.access_key_id.clone_from(&access_key_id);
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let now = SystemTime::now();
        live.retain(|_, s| s.credentials.expiration > now);
        live.insert(
            access_key_id,
            Session {
                principal,
                credentials: credentials.clone(),
                policies,
            },
        );
        Ok(credentials)
    }

    /// The live session of `access_key_id`, if it exists and has not expired.
    #[must_use]
    pub fn get(&self, access_key_id: &str) -> Option<Session> {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.get(access_key_id)
            .filter(|s| s.credentials.expiration > SystemTime::now())
            .cloned()
    }

    /// Ends the session of `access_key_id` at once.
    pub fn revoke(&self, access_key_id: &str) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(access_key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_look_up_expire_revoke() {
        let s = Sessions::new();
        let role = Principal::assumed_role("111122223333", "fn-role", "fn", "");
        let c = s
            .issue(role.clone(), Vec::new(), Duration::from_secs(60))
            .expect("issue");
        assert!(c.access_key_id.starts_with("ASIA") && c.access_key_id.len() == 20);
        let got = s.get(&c.access_key_id).expect("live");
        assert_eq!(got.principal.access_key_id, c.access_key_id);
        assert_eq!(
            got.principal.role_arn().as_deref(),
            Some("arn:aws:iam::111122223333:role/fn-role")
        );
        let creds = got.credentials.credentials();
        assert_eq!(
            creds.session_token.as_deref(),
            Some(c.session_token.expose_secret())
        );
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(c.session_token.expose_secret()));
        assert!(!dbg.contains(c.secret_access_key.expose_secret()));
        let short = s
            .issue(role, Vec::new(), Duration::from_secs(0))
            .expect("issue");
        assert!(s.get(&short.access_key_id).is_none(), "expired at once");
        s.revoke(&c.access_key_id);
        assert!(s.get(&c.access_key_id).is_none());
        assert!(s.get("AKIAUNKNOWN").is_none());
    }
}
