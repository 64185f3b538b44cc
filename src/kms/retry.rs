//! Client-side retries, as the AWS SDKs' "standard" retry mode does them.
//!
//! A call that fails with a retryable error ([`super::KmsErrorKind::is_retryable`]: throttling, internal
//! errors, unavailable keys, timeouts, transport failures) is retried up to `max_attempts` attempts in
//! total, sleeping `random(0, min(cap, base × 2^retry))` between attempts ("full jitter", which spreads
//! clients that were throttled together). Non-retryable errors return at once. [`RetryStats`] counts calls,
//! attempts, throttles, retries and failures, so a caller can see what the quota cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Kms;
use super::api::*;
use super::error::{KmsError, KmsErrorKind};

/// How many attempts and how long to back off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first (AWS standard mode: 3).
    pub max_attempts: u32,
    /// The backoff base.
    pub base: Duration,
    /// The largest single backoff (AWS: 20 s).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0-based), given a jitter draw in `[0, 1)`.
    #[must_use]
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        ceiling.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// Sleeps between attempts (injected so tests need not wait).
pub trait Sleeper: Send + Sync + std::fmt::Debug {
    /// Waits `d`.
    fn sleep(&self, d: Duration);
}

/// `std::thread::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// What retries cost, readable while calls run.
#[derive(Debug, Default)]
pub struct RetryStats {
    /// Logical calls made by the caller.
    pub calls: AtomicU64,
    /// Attempts sent to the KMS (calls + retries).
    pub attempts: AtomicU64,
    /// Attempts refused with `ThrottlingException`.
    pub throttled: AtomicU64,
    /// Attempts that were retries.
    pub retried: AtomicU64,
    /// Calls that failed after all attempts.
    pub failed: AtomicU64,
    /// Total time slept in backoff, in microseconds.
    pub backoff_micros: AtomicU64,
}

impl RetryStats {
    /// `(calls, attempts, throttled, retried, failed)` now.
    #[must_use]
    pub fn snapshot(&self) -> (u64, u64, u64, u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.attempts.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

type Jitter = dyn Fn() -> f64 + Send + Sync;

/// A [`Kms`] that retries the calls of another.
pub struct RetryingKms<K> {
    inner: K,
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    jitter: Arc<Jitter>,
    stats: Arc<RetryStats>,
}

impl<K: std::fmt::Debug> std::fmt::Debug for RetryingKms<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryingKms")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<K: Kms> RetryingKms<K> {
    /// Wraps `inner` with `policy`, real sleeps and random jitter.
    pub fn new(inner: K, policy: RetryPolicy) -> Self {
        Self {
            inner,
            policy,
            sleeper: Arc::new(ThreadSleeper),
            jitter: Arc::new(rand::random::<f64>),
            stats: Arc::new(RetryStats::default()),
        }
    }

    /// Replaces the sleeper and the jitter source (tests).
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>, jitter: Arc<Jitter>) -> Self {
        self.sleeper = sleeper;
        self.jitter = jitter;
        self
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Arc<RetryStats> {
        Arc::clone(&self.stats)
    }

    /// The wrapped KMS.
    #[must_use]
    pub fn inner(&self) -> &K {
        &self.inner
    }

    fn run<T>(&self, mut f: impl FnMut(&K) -> Result<T, KmsError>) -> Result<T, KmsError> {
        let s = &self.stats;
        s.calls.fetch_add(1, Ordering::Relaxed);
        let mut retry = 0u32;
        loop {
            s.attempts.fetch_add(1, Ordering::Relaxed);
            match f(&self.inner) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if e.kind() == &KmsErrorKind::Throttling {
                        s.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    if !e.kind().is_retryable() || retry + 1 >= self.policy.max_attempts {
                        s.failed.fetch_add(1, Ordering::Relaxed);
                        return Err(e);
                    }
                    let d = self.policy.backoff(retry, (self.jitter)());
                    s.backoff_micros.fetch_add(
                        u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                    self.sleeper.sleep(d);
                    retry += 1;
                    s.retried.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl<K: Kms> Kms for RetryingKms<K> {
    fn generate_data_key(
        &self,
        req: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        self.run(|k| k.generate_data_key(req))
    }
    fn generate_data_key_without_plaintext(
        &self,
        req: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
        self.run(|k| k.generate_data_key_without_plaintext(req))
    }
    fn encrypt(&self, req: &EncryptRequest) -> Result<EncryptResponse, KmsError> {
        self.run(|k| k.encrypt(req))
    }
    fn decrypt(&self, req: &DecryptRequest) -> Result<DecryptResponse, KmsError> {
        self.run(|k| k.decrypt(req))
    }
    fn re_encrypt(&self, req: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        self.run(|k| k.re_encrypt(req))
    }
    fn create_key(&self, req: &CreateKeyRequest) -> Result<CreateKeyResponse, KmsError> {
        self.run(|k| k.create_key(req))
    }
    fn describe_key(&self, req: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError> {
        self.run(|k| k.describe_key(req))
    }
    fn list_keys(&self, req: &ListKeysRequest) -> Result<ListKeysResponse, KmsError> {
        self.run(|k| k.list_keys(req))
    }
    fn create_alias(&self, req: &CreateAliasRequest) -> Result<Empty, KmsError> {
        self.run(|k| k.create_alias(req))
    }
    fn list_aliases(&self, req: &ListAliasesRequest) -> Result<ListAliasesResponse, KmsError> {
        self.run(|k| k.list_aliases(req))
    }
    fn enable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError> {
        self.run(|k| k.enable_key(req))
    }
    fn disable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError> {
        self.run(|k| k.disable_key(req))
    }
    fn schedule_key_deletion(
        &self,
        req: &ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        self.run(|k| k.schedule_key_deletion(req))
    }
    fn cancel_key_deletion(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
        self.run(|k| k.cancel_key_deletion(req))
    }
    fn enable_key_rotation(&self, req: &EnableKeyRotationRequest) -> Result<Empty, KmsError> {
        self.run(|k| k.enable_key_rotation(req))
    }
    fn rotate_key_on_demand(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
        self.run(|k| k.rotate_key_on_demand(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(p.backoff(0, 1.0), Duration::from_millis(100));
        assert_eq!(p.backoff(2, 1.0), Duration::from_millis(400));
        assert_eq!(p.backoff(10, 1.0), Duration::from_secs(1), "capped");
        assert_eq!(p.backoff(3, 0.0), Duration::ZERO);
        assert_eq!(p.backoff(1, 0.5), Duration::from_millis(100));
        assert_eq!(
            p.backoff(u32::MAX, 1.0),
            Duration::from_secs(1),
            "no overflow"
        );
    }
}
