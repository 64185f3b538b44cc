//! Vault Lock: the state machine of a vault's lock policy (Glacier Developer Guide, "Vault Lock";
//! S3-FEATURES.md §7).
//!
//! - InitiateVaultLock installs a policy in state `InProgress` and returns a lock ID that expires 24 hours
//!   later ([`LOCK_ID_LIFETIME`]). While it is `InProgress` the policy is enforced (so it can be tested),
//!   a second InitiateVaultLock is refused (`AccessDeniedException`), AbortVaultLock removes it.
//! - CompleteVaultLock with the lock ID moves it to `Locked` (again with the same ID: nothing changes);
//!   a wrong ID is `InvalidParameterValueException` while `InProgress`, `AccessDeniedException` once
//!   `Locked`.
//! - A `Locked` policy is immutable forever: AbortVaultLock and InitiateVaultLock are
//!   `AccessDeniedException`.
//! - An `InProgress` lock whose ID expired is gone: it is neither enforced nor reported, and a new one
//!   may be initiated.
//!
//! Everything here is pure: the caller passes the time (from its injected clock) and persists the
//! result.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{GlacierError, GlacierErrorCode};

/// How long a lock ID stays valid after InitiateVaultLock: 24 hours.
pub const LOCK_ID_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// `InProgress` or `Locked`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockState {
    /// Initiated, not completed: enforced, can still be aborted, expires with its lock ID.
    InProgress,
    /// Completed: enforced and immutable.
    Locked,
}

impl LockState {
    /// The name Glacier prints.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Locked => "Locked",
        }
    }
}

/// A vault's lock policy and where it is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultLock {
    /// The policy document, as the client sent it.
    pub policy: String,
    /// The state.
    pub state: LockState,
    /// The lock ID InitiateVaultLock returned.
    pub lock_id: String,
    /// When InitiateVaultLock ran, in milliseconds since the Unix epoch.
    pub created_ms: u64,
}

impl VaultLock {
    /// When the lock ID expires (milliseconds since the epoch).
    #[must_use]
    pub fn expires_ms(&self) -> u64 {
        self.created_ms
            .saturating_add(u64::try_from(LOCK_ID_LIFETIME.as_millis()).unwrap_or(u64::MAX))
    }

    /// Whether this is an `InProgress` lock whose ID has expired at `now_ms` (then it no longer exists).
    #[must_use]
    pub fn expired(&self, now_ms: u64) -> bool {
        self.state == LockState::InProgress && now_ms >= self.expires_ms()
    }
}

/// The lock that is in force at `now_ms`: `current` unless it is an expired `InProgress` one.
#[must_use]
pub fn in_force(current: Option<&VaultLock>, now_ms: u64) -> Option<&VaultLock> {
    current.filter(|l| !l.expired(now_ms))
}

/// InitiateVaultLock: the new lock, or why not.
///
/// # Errors
/// `AccessDeniedException` while a lock is `InProgress` (and not expired) or once one is `Locked`.
pub fn initiate(
    current: Option<&VaultLock>,
    policy: String,
    lock_id: String,
    now_ms: u64,
) -> Result<VaultLock, GlacierError> {
    match in_force(current, now_ms).map(|l| l.state) {
        Some(LockState::Locked) => Err(GlacierError::new(
            GlacierErrorCode::AccessDenied,
            "The vault is locked: its vault lock policy cannot be changed",
        )),
        Some(LockState::InProgress) => Err(GlacierError::new(
            GlacierErrorCode::AccessDenied,
            "A vault lock is already in progress: abort it first",
        )),
        None => Ok(VaultLock {
            policy,
            state: LockState::InProgress,
            lock_id,
            created_ms: now_ms,
        }),
    }
}

/// CompleteVaultLock with `lock_id`: the locked lock.
///
/// # Errors
/// `InvalidParameterValueException` for a wrong lock ID while `InProgress`, or when no lock is in
/// progress (none initiated, or its ID expired); `AccessDeniedException` for a wrong ID once `Locked`.
pub fn complete(
    current: Option<&VaultLock>,
    lock_id: &str,
    now_ms: u64,
) -> Result<VaultLock, GlacierError> {
    let Some(lock) = in_force(current, now_ms) else {
        return Err(GlacierError::new(
            GlacierErrorCode::InvalidParameterValue,
            "The lock ID is not valid: no vault lock is in progress",
        ));
    };
    let same = crate::primitives::ct_eq(lock.lock_id.as_bytes(), lock_id.as_bytes());
    match (lock.state, same) {
        (_, true) => Ok(VaultLock {
            state: LockState::Locked,
            ..lock.clone()
        }),
        (LockState::InProgress, false) => Err(GlacierError::new(
            GlacierErrorCode::InvalidParameterValue,
            "The lock ID is not valid",
        )),
        (LockState::Locked, false) => Err(GlacierError::new(
            GlacierErrorCode::AccessDenied,
            "The vault is locked: the lock ID is not valid",
        )),
    }
}

/// AbortVaultLock: `Ok(())` when nothing is (or remains) in progress, so it is idempotent.
///
/// # Errors
/// `AccessDeniedException` once `Locked`.
pub fn abort(current: Option<&VaultLock>, now_ms: u64) -> Result<(), GlacierError> {
    match in_force(current, now_ms).map(|l| l.state) {
        Some(LockState::Locked) => Err(GlacierError::new(
            GlacierErrorCode::AccessDenied,
            "The vault is locked: its vault lock policy cannot be removed",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: u64 = 24 * 60 * 60 * 1000;

    fn code(r: Result<impl std::fmt::Debug, GlacierError>) -> GlacierErrorCode {
        r.expect_err("refused").code()
    }

    #[test]
    fn glacier_lock_life_cycle() {
        let l = initiate(None, "p".into(), "id1".into(), 1000).expect("initiate");
        assert_eq!(l.state, LockState::InProgress);
        assert_eq!(l.expires_ms(), 1000 + DAY_MS);
        assert_eq!(
            code(initiate(Some(&l), "q".into(), "id2".into(), 2000)),
            GlacierErrorCode::AccessDenied
        );
        assert_eq!(
            code(complete(Some(&l), "nope", 2000)),
            GlacierErrorCode::InvalidParameterValue
        );
        let locked = complete(Some(&l), "id1", 2000).expect("complete");
        assert_eq!(locked.state, LockState::Locked);
        // Idempotent with the right ID, even long after.
        assert_eq!(
            complete(Some(&locked), "id1", 400 * DAY_MS).expect("again"),
            locked
        );
        assert_eq!(
            code(complete(Some(&locked), "nope", 2000)),
            GlacierErrorCode::AccessDenied
        );
        assert_eq!(
            code(abort(Some(&locked), 2000)),
            GlacierErrorCode::AccessDenied
        );
        assert_eq!(
            code(initiate(
                Some(&locked),
                "q".into(),
                "id2".into(),
                900 * DAY_MS
            )),
            GlacierErrorCode::AccessDenied
        );
        // Locked never expires.
        assert!(in_force(Some(&locked), 10_000 * DAY_MS).is_some());
    }

    #[test]
    fn glacier_lock_in_progress_expires_after_24_hours() {
        let l = initiate(None, "p".into(), "id1".into(), 0).expect("initiate");
        assert!(in_force(Some(&l), DAY_MS - 1).is_some());
        assert!(in_force(Some(&l), DAY_MS).is_none());
        assert_eq!(
            code(complete(Some(&l), "id1", DAY_MS)),
            GlacierErrorCode::InvalidParameterValue
        );
        abort(Some(&l), DAY_MS).expect("abort of an expired lock is a no-op");
        abort(None, 0).expect("abort without a lock is a no-op");
        let again = initiate(Some(&l), "q".into(), "id2".into(), DAY_MS).expect("new lock");
        assert_eq!(again.lock_id, "id2");
    }
}
