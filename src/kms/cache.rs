//! A data-key cache, modelled on the AWS Encryption SDK's caching cryptographic materials manager.
//!
//! Reusing a data key for several objects trades isolation for fewer KMS calls, bounded by three limits,
//! as in the Encryption SDK: an entry is used for at most `max_age`, at most `max_messages` encryptions, and
//! at most `max_bytes` bytes encrypted in total. An encryption that would exceed a limit evicts the entry
//! and asks KMS for a new key. Entries are keyed by KMS key id, the canonical encryption context and the
//! key size, so a key is never reused across contexts. Decryptions are cached by (ciphertext blob,
//! context) under `max_age` only. Plaintext keys in the cache are zeroized when evicted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Kms;
use super::api::*;
use super::error::{KmsError, KmsErrorKind};
use crate::aws::clock::{Clock, SystemClock};
use crate::keys::SecretBytes;

/// The bounds on reuse of one cached data key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    /// Longest time an entry is used.
    pub max_age: Duration,
    /// Most encryptions per data key.
    pub max_messages: u64,
    /// Most bytes encrypted per data key.
    pub max_bytes: u64,
    /// Most entries held; the oldest is evicted beyond this.
    pub capacity: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_messages: 1 << 32,
            max_bytes: u64::MAX,
            capacity: 1000,
        }
    }
}

/// A data key handed out for one encryption.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CachedDataKey {
    /// The plaintext data key.
    pub plaintext: SecretBytes,
    /// The encrypted data key to store with the object.
    pub ciphertext_blob: Vec<u8>,
    /// The KMS key ARN.
    pub key_id: String,
    /// Whether it came from the cache (no KMS call).
    pub from_cache: bool,
}

/// Cache counters.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Served from the cache.
    pub hits: AtomicU64,
    /// Needed a KMS call.
    pub misses: AtomicU64,
    /// Entries dropped for age, use count, bytes or capacity.
    pub evictions: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    key: CachedDataKey,
    created: Duration,
    messages: u64,
    bytes: u64,
}

type CacheKey = (String, Vec<(String, String)>, usize);
type DecryptKey = (Vec<u8>, Vec<(String, String)>);

/// A data-key cache in front of a [`Kms`].
#[derive(Debug)]
pub struct DataKeyCache<K> {
    kms: K,
    limits: CacheLimits,
    clock: Arc<dyn Clock>,
    encrypt: Mutex<HashMap<CacheKey, Entry>>,
    decrypt: Mutex<HashMap<DecryptKey, (DecryptResponse, Duration)>>,
    stats: CacheStats,
}

impl<K: Kms> DataKeyCache<K> {
    /// A cache over `kms` with `limits` and the system clock.
    pub fn new(kms: K, limits: CacheLimits) -> Self {
        Self::with_clock(kms, limits, Arc::new(SystemClock))
    }

    /// A cache with an injected clock.
    pub fn with_clock(kms: K, limits: CacheLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            kms,
            limits,
            clock,
            encrypt: Mutex::new(HashMap::new()),
            decrypt: Mutex::new(HashMap::new()),
            stats: CacheStats::default(),
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The wrapped KMS.
    #[must_use]
    pub fn kms(&self) -> &K {
        &self.kms
    }

    /// A data key for encrypting `bytes` bytes under `req`'s key and context: from the cache if an entry
    /// is within all limits after this use, otherwise from `GenerateDataKey`.
    ///
    /// # Errors
    /// The KMS error of a `GenerateDataKey` call on a miss.
    pub fn data_key_for_encrypt(
        &self,
        req: &GenerateDataKeyRequest,
        bytes: u64,
    ) -> Result<CachedDataKey, KmsError> {
        let len = match (req.key_spec, req.number_of_bytes) {
            (Some(DataKeySpec::Aes128), _) => 16,
            (_, Some(n)) => n as usize,
            _ => 32,
        };
        let cache_key: CacheKey = (req.key_id.clone(), sorted(&req.encryption_context), len);
        let now = self.clock.now();
        {
            let mut map = self.encrypt.lock().map_err(|_| poisoned())?;
            if let Some(e) = map.get_mut(&cache_key) {
                let fresh = now.saturating_sub(e.created) < self.limits.max_age;
                let within = e.messages < self.limits.max_messages
                    && e.bytes
                        .checked_add(bytes)
                        .is_some_and(|b| b <= self.limits.max_bytes);
                if fresh && within {
                    e.messages += 1;
                    e.bytes += bytes;
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                    let mut k = e.key.clone();
                    k.from_cache = true;
                    return Ok(k);
                }
                map.remove(&cache_key);
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let resp = self.kms.generate_data_key(req)?;
        let key = CachedDataKey {
            plaintext: resp.plaintext,
            ciphertext_blob: resp.ciphertext_blob,
            key_id: resp.key_id,
            from_cache: false,
        };
        // A single use that already exceeds the byte limit is served but not cached.
        if bytes <= self.limits.max_bytes && self.limits.max_messages > 1 {
            let mut map = self.encrypt.lock().map_err(|_| poisoned())?;
            if map.len() >= self.limits.capacity
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, e)| e.created)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
            }
            map.insert(
                cache_key,
                Entry {
                    key: key.clone(),
                    created: now,
                    messages: 1,
                    bytes,
                },
            );
        }
        Ok(key)
    }

    /// `Decrypt` through the cache (entries live for `max_age`).
    ///
    /// # Errors
    /// The KMS error of the `Decrypt` call on a miss.
    pub fn decrypt(&self, req: &DecryptRequest) -> Result<DecryptResponse, KmsError> {
        let k = (req.ciphertext_blob.clone(), sorted(&req.encryption_context));
        let now = self.clock.now();
        {
            let mut map = self.decrypt.lock().map_err(|_| poisoned())?;
            match map.get(&k) {
                Some((resp, t)) if now.saturating_sub(*t) < self.limits.max_age => {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(resp.clone());
                }
                Some(_) => {
                    map.remove(&k);
                    self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                }
                None => {}
            }
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let resp = self.kms.decrypt(req)?;
        let mut map = self.decrypt.lock().map_err(|_| poisoned())?;
        if map.len() >= self.limits.capacity
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(k, (resp.clone(), now));
        Ok(resp)
    }
}

fn sorted(ec: &EncryptionContext) -> Vec<(String, String)> {
    ec.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn poisoned() -> KmsError {
    KmsError::new(KmsErrorKind::KmsInternal, "data-key cache lock poisoned")
}
