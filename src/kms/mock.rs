//! `MockKms`: a local KMS that behaves like AWS KMS.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::Kms;
use super::api::*;
use super::audit::{AuditRecord, AuditSink};
use super::blob;
use super::context;
use super::error::{KmsError, KmsErrorKind};
use super::policy::KeyPolicy;
use super::quota::{QuotaConfig, TokenBucket};
use super::store::{FORMAT, Store, StoreError, StoredKey, StoredMaterial, StoredState};
use crate::aws::clock::{Clock, SystemClock, rfc3339};
use crate::fsutil::FileStamp;
use crate::keys::{KeyEncryptionKey, SecretBytes};
use crate::primitives::{Aes256Gcm, random_array};

const DAY: Duration = Duration::from_secs(86_400);
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
const ENCRYPT_DECRYPT: &str = "ENCRYPT_DECRYPT";
const GENERATE_VERIFY_MAC: &str = "GENERATE_VERIFY_MAC";

/// Counters of the quota, readable while the KMS serves calls.
#[derive(Debug, Default)]
pub struct QuotaCounters {
    /// Cryptographic calls admitted by the quota.
    pub admitted: AtomicU64,
    /// Cryptographic calls refused with `ThrottlingException`.
    pub throttled: AtomicU64,
}

/// Builds a [`MockKms`].
#[derive(Debug)]
pub struct MockKmsBuilder {
    account_id: String,
    region: String,
    quota: Option<QuotaConfig>,
    clock: Arc<dyn Clock>,
    audit: Option<Arc<dyn AuditSink>>,
    state_dir: Option<PathBuf>,
}

impl Default for MockKmsBuilder {
    fn default() -> Self {
        Self {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            quota: None,
            clock: Arc::new(SystemClock),
            audit: None,
            state_dir: None,
        }
    }
}

impl MockKmsBuilder {
    /// The 12-digit account id in ARNs (default `111122223333`).
    #[must_use]
    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.account_id = id.into();
        self
    }

    /// The region in ARNs (default `us-east-1`).
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Applies a shared request quota to the cryptographic operations (default: none).
    #[must_use]
    pub fn quota(mut self, quota: QuotaConfig) -> Self {
        self.quota = Some(quota);
        self
    }

    /// The clock for the quota, rotation and deletion dates (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where audit records go (default: nowhere; with a state directory, its `audit.log`).
    #[must_use]
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    /// Persists keys in `dir` (created on first use) instead of memory.
    #[must_use]
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Opens the KMS, loading the state directory if one was given.
    ///
    /// # Errors
    /// [`StoreError`] if the state directory cannot be opened or its state is corrupt.
    pub fn build(self) -> Result<MockKms, StoreError> {
        let (store, (stored, stamp)) = match &self.state_dir {
            Some(dir) => {
                let (s, loaded) = Store::open(dir)?;
                (Some(s), loaded)
            }
            None => (None, (None, None)),
        };
        let audit = match (self.audit, &store) {
            (Some(a), _) => Some(a),
            (None, Some(s)) => {
                let path = s.dir().join("audit.log");
                let sink = super::audit::FileAudit::open(&path)
                    .map_err(|source| StoreError::Io { path, source })?;
                Some(Arc::new(sink) as Arc<dyn AuditSink>)
            }
            (None, None) => None,
        };
        let state = match (&store, stored) {
            (Some(s), Some(st)) => State::load(s, st, &self.account_id, &self.region, stamp)?,
            _ => State::default(),
        };
        let root_principal = format!("arn:aws:iam::{}:root", self.account_id);
        Ok(MockKms {
            inner: Arc::new(Inner {
                account_id: self.account_id,
                region: self.region,
                quota: self.quota.map(|q| Mutex::new(TokenBucket::new(q))),
                counters: QuotaCounters::default(),
                clock: self.clock,
                audit,
                store,
                state: RwLock::new(state),
                faults: Mutex::new(VecDeque::new()),
            }),
            caller: root_principal.into(),
        })
    }
}

/// A local KMS with AWS KMS semantics: symmetric keys with versioned backing material, aliases, key
/// policies, encryption context, rotation, deletion windows, the shared request quota, and an audit log.
///
/// Clones share the same keys. [`MockKms::with_caller`] gives a handle that acts as another principal.
///
/// With a state directory, several instances (in this process or others) may use the same directory at
/// once: each change is a locked read-modify-write of the directory's state and each call first picks up
/// the changes the others saved ("Several processes on one home" in `docs/DESIGN.md`). The quota, its
/// counters and injected faults belong to one instance.
#[derive(Clone, Debug)]
pub struct MockKms {
    inner: Arc<Inner>,
    caller: Arc<str>,
}

#[derive(Debug)]
struct Inner {
    account_id: String,
    region: String,
    quota: Option<Mutex<TokenBucket>>,
    counters: QuotaCounters,
    clock: Arc<dyn Clock>,
    audit: Option<Arc<dyn AuditSink>>,
    store: Option<Store>,
    state: RwLock<State>,
    faults: Mutex<VecDeque<KmsErrorKind>>,
}

#[derive(Clone, Debug, Default)]
struct State {
    keys: BTreeMap<String, KeyRecord>,
    aliases: BTreeMap<String, String>,
    /// The version of `state.json` this state was read from or saved as (`None`: in memory, or no file
    /// yet).
    stamp: Option<FileStamp>,
}

#[derive(Clone, Debug)]
struct KeyRecord {
    id: String,
    arn: String,
    description: String,
    usage: String,
    created: Duration,
    status: Status,
    rotation_period_days: Option<u32>,
    materials: Vec<Material>,
    policy: KeyPolicy,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Status {
    Enabled,
    Disabled,
    PendingDeletion { at: Duration, window_days: u32 },
}

#[derive(Clone, Debug)]
struct Material {
    key: KeyEncryptionKey,
    gcm: Aes256Gcm,
    created: Duration,
}

impl Material {
    fn new(key: KeyEncryptionKey, created: Duration) -> Self {
        let gcm = Aes256Gcm::new(key.expose_secret());
        Self { key, gcm, created }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl State {
    fn load(
        store: &Store,
        s: StoredState,
        account: &str,
        region: &str,
        stamp: Option<FileStamp>,
    ) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: store.dir().join("state.json"),
            reason,
        };
        if s.account_id != account || s.region != region {
            return Err(corrupt(format!(
                "state belongs to account {} in {}, not {account} in {region}",
                s.account_id, s.region
            )));
        }
        let mut keys = BTreeMap::new();
        for k in s.keys {
            let status = match (k.state.as_str(), k.deletion_ms, k.window_days) {
                ("Enabled", _, _) => Status::Enabled,
                ("Disabled", _, _) => Status::Disabled,
                ("PendingDeletion", Some(at), Some(w)) => Status::PendingDeletion {
                    at: Duration::from_millis(at),
                    window_days: w,
                },
                (other, _, _) => {
                    return Err(corrupt(format!("key {} has unknown state {other:?}", k.id)));
                }
            };
            let mut materials = Vec::with_capacity(k.materials.len());
            for (i, m) in k.materials.iter().enumerate() {
                let version =
                    u32::try_from(i + 1).map_err(|_| corrupt("too many key versions".into()))?;
                materials.push(Material::new(
                    store.unwrap(&k.id, version, &m.wrapped)?,
                    Duration::from_millis(m.created_ms),
                ));
            }
            if materials.is_empty() {
                return Err(corrupt(format!("key {} has no key material", k.id)));
            }
            let policy =
                KeyPolicy::parse(&k.policy).map_err(|e| corrupt(format!("key {}: {e}", k.id)))?;
            let arn = format!("arn:aws:kms:{region}:{account}:key/{}", k.id);
            keys.insert(
                k.id.clone(),
                KeyRecord {
                    id: k.id,
                    arn,
                    description: k.description,
                    usage: k.usage,
                    created: Duration::from_millis(k.created_ms),
                    status,
                    rotation_period_days: k.rotation_period_days,
                    materials,
                    policy,
                },
            );
        }
        for (alias, target) in &s.aliases {
            if !keys.contains_key(target) {
                return Err(corrupt(format!("{alias} points at unknown key {target}")));
            }
        }
        Ok(Self {
            keys,
            aliases: s.aliases,
            stamp,
        })
    }

    fn to_stored(
        &self,
        store: &Store,
        account: &str,
        region: &str,
    ) -> Result<StoredState, StoreError> {
        let mut keys = Vec::with_capacity(self.keys.len());
        for k in self.keys.values() {
            let (state, deletion_ms, window_days) = match k.status {
                Status::Enabled => ("Enabled", None, None),
                Status::Disabled => ("Disabled", None, None),
                Status::PendingDeletion { at, window_days } => {
                    ("PendingDeletion", Some(ms(at)), Some(window_days))
                }
            };
            let mut materials = Vec::with_capacity(k.materials.len());
            for (i, m) in k.materials.iter().enumerate() {
                let version = u32::try_from(i + 1).unwrap_or(u32::MAX);
                materials.push(StoredMaterial {
                    created_ms: ms(m.created),
                    wrapped: store.wrap(&k.id, version, &m.key)?,
                });
            }
            keys.push(StoredKey {
                id: k.id.clone(),
                description: k.description.clone(),
                usage: k.usage.clone(),
                created_ms: ms(k.created),
                state: state.into(),
                deletion_ms,
                window_days,
                rotation_period_days: k.rotation_period_days,
                policy: k.policy.document().to_owned(),
                materials,
            });
        }
        Ok(StoredState {
            format: FORMAT.into(),
            account_id: account.into(),
            region: region.into(),
            keys,
            aliases: self.aliases.clone(),
        })
    }
}

/// Which quota class and policy action an operation belongs to.
#[derive(Clone, Copy)]
struct Op {
    name: &'static str,
    action: &'static str,
    crypto: bool,
}

const GDK: Op = Op {
    name: "GenerateDataKey",
    action: "kms:GenerateDataKey",
    crypto: true,
};
const GDK_NP: Op = Op {
    name: "GenerateDataKeyWithoutPlaintext",
    action: "kms:GenerateDataKeyWithoutPlaintext",
    crypto: true,
};
const ENCRYPT: Op = Op {
    name: "Encrypt",
    action: "kms:Encrypt",
    crypto: true,
};
const DECRYPT: Op = Op {
    name: "Decrypt",
    action: "kms:Decrypt",
    crypto: true,
};
const REENCRYPT: Op = Op {
    name: "ReEncrypt",
    action: "kms:ReEncryptFrom",
    crypto: true,
};
const CREATE_KEY: Op = Op {
    name: "CreateKey",
    action: "kms:CreateKey",
    crypto: false,
};
const DESCRIBE: Op = Op {
    name: "DescribeKey",
    action: "kms:DescribeKey",
    crypto: false,
};
const LIST_KEYS: Op = Op {
    name: "ListKeys",
    action: "kms:ListKeys",
    crypto: false,
};
const CREATE_ALIAS: Op = Op {
    name: "CreateAlias",
    action: "kms:CreateAlias",
    crypto: false,
};
const LIST_ALIASES: Op = Op {
    name: "ListAliases",
    action: "kms:ListAliases",
    crypto: false,
};
const ENABLE: Op = Op {
    name: "EnableKey",
    action: "kms:EnableKey",
    crypto: false,
};
const DISABLE: Op = Op {
    name: "DisableKey",
    action: "kms:DisableKey",
    crypto: false,
};
const SCHEDULE: Op = Op {
    name: "ScheduleKeyDeletion",
    action: "kms:ScheduleKeyDeletion",
    crypto: false,
};
const CANCEL: Op = Op {
    name: "CancelKeyDeletion",
    action: "kms:CancelKeyDeletion",
    crypto: false,
};
const ENABLE_ROT: Op = Op {
    name: "EnableKeyRotation",
    action: "kms:EnableKeyRotation",
    crypto: false,
};
const ROTATE: Op = Op {
    name: "RotateKeyOnDemand",
    action: "kms:RotateKeyOnDemand",
    crypto: false,
};

/// The audit facts a call accumulates.
struct Call<'a> {
    op: Op,
    key_arn: Option<String>,
    context: Option<&'a EncryptionContext>,
}

impl MockKms {
    /// A builder (account `111122223333`, region `us-east-1`, no quota, system clock, in memory).
    #[must_use]
    pub fn builder() -> MockKmsBuilder {
        MockKmsBuilder::default()
    }

    /// An in-memory KMS with the defaults.
    #[must_use]
    pub fn in_memory() -> Self {
        match Self::builder().build() {
            Ok(k) => k,
            // Without a state directory, building performs no I/O and cannot fail.
            Err(_) => unreachable!("an in-memory MockKms cannot fail to build"),
        }
    }

    /// A handle to the same KMS that calls as `principal` (an IAM ARN), for key-policy checks.
    #[must_use]
    pub fn with_caller(&self, principal: &str) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            caller: principal.into(),
        }
    }

    /// The calling principal of this handle.
    #[must_use]
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// The account id.
    #[must_use]
    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    /// The region.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Quota counters (admitted and throttled cryptographic calls).
    #[must_use]
    pub fn quota_counters(&self) -> &QuotaCounters {
        &self.inner.counters
    }

    /// Makes the next `n` cryptographic calls fail with `kind` (for example `KMSInternalException` or
    /// `KeyUnavailableException`) before doing anything, to exercise client retries.
    pub fn inject_faults(&self, kind: KmsErrorKind, n: usize) {
        if let Ok(mut f) = self.inner.faults.lock() {
            f.extend(std::iter::repeat_n(kind, n));
        }
    }

    fn now(&self) -> Duration {
        self.inner.clock.now()
    }

    /// Runs `f` as one audited call.
    fn call<T>(
        &self,
        op: Op,
        context: Option<&EncryptionContext>,
        f: impl FnOnce(&mut Call<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut call = Call {
            op,
            key_arn: None,
            context,
        };
        let result = self.admit(op).and_then(|()| f(&mut call));
        if let Some(sink) = &self.inner.audit {
            let request_id = random_array::<16>()
                .map(|b| uuid::Builder::from_random_bytes(b).into_uuid().to_string())
                .unwrap_or_default();
            sink.record(&AuditRecord {
                event_time: rfc3339(self.now()),
                event_name: op.name,
                key_arn: call.key_arn.take(),
                encryption_context: call.context.cloned().unwrap_or_default(),
                caller: self.caller.to_string(),
                request_id,
                outcome: if result.is_ok() { "Success" } else { "Failure" },
                error_code: result.as_ref().err().map(|e| e.code().to_owned()),
            });
        }
        result
    }

    /// The quota and injected faults, checked before anything else.
    fn admit(&self, op: Op) -> Result<(), KmsError> {
        if !op.crypto {
            return Ok(());
        }
        if let Some(q) = &self.inner.quota {
            let now = self.now();
            let verdict = q.lock().map_err(|_| internal())?.try_take(now);
            if let Err(wait) = verdict {
                self.inner
                    .counters
                    .throttled
                    .fetch_add(1, Ordering::Relaxed);
                return Err(KmsError::throttled(wait));
            }
        }
        self.inner.counters.admitted.fetch_add(1, Ordering::Relaxed);
        if let Some(kind) = self
            .inner
            .faults
            .lock()
            .map_err(|_| internal())?
            .pop_front()
        {
            return Err(KmsError::new(
                kind.clone(),
                format!("injected fault: {}", kind.code()),
            ));
        }
        Ok(())
    }

    /// The current state: first re-read from the state directory if another instance or process saved
    /// a new version since this one last read or wrote it (one `stat` when nothing changed).
    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, State>, KmsError> {
        let Some(store) = &self.inner.store else {
            return self.inner.state.read().map_err(|_| internal());
        };
        let on_disk = store.stamp().map_err(store_failed)?;
        {
            let guard = self.inner.state.read().map_err(|_| internal())?;
            if guard.stamp == on_disk {
                return Ok(guard);
            }
        }
        {
            let mut guard = self.inner.state.write().map_err(|_| internal())?;
            self.refresh(store, &mut guard)?;
        }
        self.inner.state.read().map_err(|_| internal())
    }

    /// Replaces `state` by the state directory's if `state.json` changed since `state` was read.
    fn refresh(&self, store: &Store, state: &mut State) -> Result<(), KmsError> {
        if store.stamp().map_err(store_failed)? == state.stamp {
            return Ok(());
        }
        let (stored, stamp) = store.load().map_err(store_failed)?;
        let Some(stored) = stored else {
            // It was there when this state was read: removing it is not a change s3crypt makes.
            return Err(store_failed(StoreError::Corrupt {
                path: store.dir().join("state.json"),
                reason: "removed while in use; restore it from a backup".into(),
            }));
        };
        *state = State::load(
            store,
            stored,
            &self.inner.account_id,
            &self.inner.region,
            stamp,
        )
        .map_err(store_failed)?;
        Ok(())
    }

    /// Applies `f` to a copy of the state, persists it, then makes it current: a failed save changes
    /// nothing. With a state directory this is a transaction across processes: under the directory's
    /// lock, the state is first re-read if another process changed it, so `f` sees every earlier change
    /// and no change is lost.
    fn mutate<T>(&self, f: impl FnOnce(&mut State) -> Result<T, KmsError>) -> Result<T, KmsError> {
        let mut guard = self.inner.state.write().map_err(|_| internal())?;
        let Some(store) = &self.inner.store else {
            let mut next = guard.clone();
            let out = f(&mut next)?;
            *guard = next;
            return Ok(out);
        };
        let locked = store.lock().map_err(store_failed)?;
        self.refresh(store, &mut guard)?;
        let mut next = guard.clone();
        let out = f(&mut next)?;
        let stored = next
            .to_stored(store, &self.inner.account_id, &self.inner.region)
            .map_err(store_failed)?;
        next.stamp = store.save(&stored, &locked).map_err(store_failed)?;
        drop(locked);
        *guard = next;
        Ok(out)
    }

    fn key_arn(&self, id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{id}",
            self.inner.region, self.inner.account_id
        )
    }

    /// Resolves a key id, key ARN, alias name or alias ARN to a key id. Keys whose deletion date has
    /// passed no longer exist.
    fn resolve(&self, state: &State, key_id: &str, allow_alias: bool) -> Result<String, KmsError> {
        if key_id.is_empty() || key_id.chars().count() > 2048 {
            return Err(KmsError::validation(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048",
            ));
        }
        let prefix = format!(
            "arn:aws:kms:{}:{}:",
            self.inner.region, self.inner.account_id
        );
        let local = key_id.strip_prefix(&prefix).unwrap_or(key_id);
        let id = if let Some(alias) = local.strip_prefix("alias/") {
            if !allow_alias {
                return Err(KmsError::not_found(&format!("Alias {key_id}")));
            }
            state
                .aliases
                .get(&format!("alias/{alias}"))
                .cloned()
                .ok_or_else(|| KmsError::not_found(&format!("Alias {prefix}alias/{alias}")))?
        } else {
            local.strip_prefix("key/").unwrap_or(local).to_owned()
        };
        if key_id.starts_with("arn:") && !key_id.starts_with(&prefix) {
            return Err(KmsError::not_found(&format!("Key '{key_id}'")));
        }
        match state.keys.get(&id) {
            Some(k) if !self.deleted(k) => Ok(id),
            _ => Err(KmsError::not_found(&format!("Key '{}'", self.key_arn(&id)))),
        }
    }

    fn deleted(&self, k: &KeyRecord) -> bool {
        matches!(k.status, Status::PendingDeletion { at, .. } if self.now() >= at)
    }

    /// The checks every cryptographic use of a key goes through, in AWS's order.
    fn usable<'s>(
        &self,
        state: &'s State,
        call: &mut Call<'_>,
        key_id: &str,
        action: &str,
    ) -> Result<&'s KeyRecord, KmsError> {
        let id = self.resolve(state, key_id, true)?;
        let k = state
            .keys
            .get(&id)
            .ok_or_else(|| KmsError::not_found(key_id))?;
        call.key_arn = Some(k.arn.clone());
        k.policy
            .check_with_context(&self.caller, action, &k.arn, call.context)?;
        match k.status {
            Status::Enabled => {}
            Status::Disabled => {
                return Err(KmsError::new(
                    KmsErrorKind::Disabled,
                    format!("{} is disabled.", k.arn),
                ));
            }
            Status::PendingDeletion { .. } => {
                return Err(KmsError::new(
                    KmsErrorKind::KmsInvalidState,
                    format!("{} is pending deletion.", k.arn),
                ));
            }
        }
        if k.usage != ENCRYPT_DECRYPT {
            return Err(KmsError::new(
                KmsErrorKind::InvalidKeyUsage,
                format!(
                    "{} key usage is {} which is not valid for {}.",
                    k.arn, k.usage, call.op.name
                ),
            ));
        }
        Ok(k)
    }

    /// Adds new material to keys whose automatic rotation is due (rotation is checked lazily on use).
    fn rotate_if_due(&self, key_id: &str) -> Result<(), KmsError> {
        let due = {
            let state = self.read()?;
            let Ok(id) = self.resolve(&state, key_id, true) else {
                return Ok(());
            };
            state.keys.get(&id).is_some_and(|k| {
                k.rotation_period_days.is_some_and(|days| {
                    let newest = k.materials.last().map_or(k.created, |m| m.created);
                    self.now() >= newest + DAY * days
                })
            })
        };
        if due {
            let now = self.now();
            self.mutate(|s| {
                let id = self.resolve(s, key_id, true)?;
                // Still due: another instance may have rotated it since it was read.
                if let Some(k) = s.keys.get_mut(&id)
                    && k.rotation_period_days.is_some_and(|days| {
                        let newest = k.materials.last().map_or(k.created, |m| m.created);
                        now >= newest + DAY * days
                    })
                {
                    k.materials.push(Material::new(new_material()?, now));
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn seal(
        &self,
        k: &KeyRecord,
        ec: &EncryptionContext,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let version = u32::try_from(k.materials.len()).map_err(|_| internal())?;
        let m = k.materials.last().ok_or_else(internal)?;
        let mut out = blob::header(&k.id, version);
        let iv = random_array::<{ blob::IV_LEN }>().map_err(|_| internal())?;
        let mut aad = out.clone();
        aad.extend_from_slice(&context::canonical(ec));
        out.extend_from_slice(&iv);
        out.extend_from_slice(&m.gcm.seal(&iv, &aad, plaintext).map_err(|_| internal())?);
        Ok(out)
    }

    /// Decrypts a blob for `call` (the checks of `Decrypt` and the source half of `ReEncrypt`).
    fn open(
        &self,
        state: &State,
        call: &mut Call<'_>,
        ciphertext: &[u8],
        ec: &EncryptionContext,
        key_id: Option<&str>,
        action: &str,
    ) -> Result<(String, SecretBytes), KmsError> {
        context::validate(ec)?;
        let b = blob::parse(ciphertext)?;
        if let Some(requested) = key_id {
            let id = self.resolve(state, requested, true)?;
            if id != b.key_id {
                return Err(KmsError::new(
                    KmsErrorKind::IncorrectKey,
                    "The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
        }
        // A blob naming a key this KMS does not have was tampered with or never came from here.
        if self.resolve(state, b.key_id, false).is_err() {
            return Err(blob::invalid());
        }
        let k = self.usable(state, call, b.key_id, action)?;
        let idx = usize::try_from(b.key_version)
            .ok()
            .and_then(|v| v.checked_sub(1))
            .ok_or_else(blob::invalid)?;
        let m = k.materials.get(idx).ok_or_else(blob::invalid)?;
        let mut aad = b.header.to_vec();
        aad.extend_from_slice(&context::canonical(ec));
        let mut buf = b.ciphertext.to_vec();
        m.gcm
            .open_in_place_detached(&b.iv, &aad, &mut buf, &b.tag)
            .map_err(|_| blob::invalid())?;
        Ok((k.arn.clone(), SecretBytes::new(buf)))
    }

    fn key_metadata(&self, k: &KeyRecord) -> KeyMetadata {
        let (state, deletion_date, window) = match k.status {
            Status::Enabled => ("Enabled", None, None),
            Status::Disabled => ("Disabled", None, None),
            Status::PendingDeletion { at, window_days } => {
                ("PendingDeletion", Some(at.as_secs_f64()), Some(window_days))
            }
        };
        KeyMetadata {
            aws_account_id: self.inner.account_id.clone(),
            key_id: k.id.clone(),
            arn: k.arn.clone(),
            creation_date: k.created.as_secs_f64(),
            enabled: k.status == Status::Enabled,
            description: k.description.clone(),
            key_usage: k.usage.clone(),
            key_state: state.into(),
            deletion_date,
            pending_deletion_window_in_days: window,
            origin: "AWS_KMS".into(),
            key_manager: "CUSTOMER".into(),
            key_spec: if k.usage == ENCRYPT_DECRYPT {
                SYMMETRIC_DEFAULT.into()
            } else {
                "HMAC_256".into()
            },
            encryption_algorithms: if k.usage == ENCRYPT_DECRYPT {
                vec![SYMMETRIC_DEFAULT.into()]
            } else {
                Vec::new()
            },
            multi_region: false,
        }
    }

    /// Admin operations on one key: resolve (no aliases, as AWS), check the policy, then mutate.
    fn admin<T>(
        &self,
        call: &mut Call<'_>,
        key_id: &str,
        f: impl FnOnce(&mut KeyRecord, Duration) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let now = self.now();
        self.mutate(|s| {
            let id = self.resolve(s, key_id, false)?;
            let k = s
                .keys
                .get_mut(&id)
                .ok_or_else(|| KmsError::not_found(key_id))?;
            call.key_arn = Some(k.arn.clone());
            k.policy.check(&self.caller, call.op.action, &k.arn)?;
            f(k, now)
        })
    }
}

fn internal() -> KmsError {
    KmsError::new(KmsErrorKind::KmsInternal, "An internal error occurred.")
}

fn store_failed(e: StoreError) -> KmsError {
    eprintln!("s3crypt: KMS state could not be saved: {e}");
    KmsError::new(
        KmsErrorKind::KmsInternal,
        "The key store could not be updated.",
    )
}

fn new_material() -> Result<KeyEncryptionKey, KmsError> {
    KeyEncryptionKey::generate().map_err(|_| internal())
}

fn check_grant_tokens(tokens: &[String]) -> Result<(), KmsError> {
    if tokens.len() > 10 {
        return Err(KmsError::validation(
            "grantTokens: Member must have length less than or equal to 10",
        ));
    }
    if tokens
        .iter()
        .any(|t| t.is_empty() || t.len() > 8192 || !t.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(KmsError::new(
            KmsErrorKind::InvalidGrantToken,
            "The grant token is not valid.",
        ));
    }
    Ok(())
}

fn check_algorithm(alg: Option<&str>) -> Result<(), KmsError> {
    match alg {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(other) => Err(KmsError::new(
            KmsErrorKind::InvalidKeyUsage,
            format!("{other} is not a valid encryption algorithm for a symmetric key."),
        )),
    }
}

fn dry_run(dry: bool) -> Result<(), KmsError> {
    if dry {
        return Err(KmsError::new(
            KmsErrorKind::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

fn data_key_len(req: &GenerateDataKeyRequest) -> Result<usize, KmsError> {
    match (req.key_spec, req.number_of_bytes) {
        (Some(DataKeySpec::Aes256), None) => Ok(32),
        (Some(DataKeySpec::Aes128), None) => Ok(16),
        (None, Some(n @ 1..=1024)) => Ok(n as usize),
        (None, Some(_)) => Err(KmsError::validation(
            "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024",
        )),
        _ => Err(KmsError::validation(
            "Please specify either number of bytes or key spec.",
        )),
    }
}

fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let bad = |why: &str| {
        KmsError::new(
            KmsErrorKind::InvalidAliasName,
            format!("Alias {name} {why}"),
        )
    };
    let rest = name
        .strip_prefix("alias/")
        .ok_or_else(|| bad("must begin with 'alias/'"))?;
    if rest.is_empty() || name.len() > 256 {
        return Err(KmsError::validation(
            "aliasName: Member must have length between 1 and 256",
        ));
    }
    if !rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
    {
        return Err(bad(
            "contains characters other than letters, digits, '/', '_' and '-'",
        ));
    }
    if rest.starts_with("aws/") {
        return Err(bad("is reserved for AWS managed keys"));
    }
    Ok(())
}

fn page<T: Clone>(
    items: &[T],
    limit: Option<u32>,
    default: u32,
    max: u32,
    marker: Option<&str>,
    key: impl Fn(&T) -> &str,
) -> Result<(Vec<T>, Option<String>), KmsError> {
    let limit = limit.unwrap_or(default);
    if limit == 0 || limit > max {
        return Err(KmsError::validation(format!(
            "limit: Member must have value between 1 and {max}"
        )));
    }
    let start = match marker {
        None => 0,
        Some(m) => items.iter().position(|i| key(i) > m).unwrap_or(items.len()),
    };
    let page: Vec<T> = items
        .iter()
        .skip(start)
        .take(limit as usize)
        .cloned()
        .collect();
    let next = (start + page.len() < items.len())
        .then(|| page.last().map(|p| key(p).to_owned()))
        .flatten();
    Ok((page, next))
}

impl Kms for MockKms {
    fn generate_data_key(
        &self,
        req: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        self.call(GDK, Some(&req.encryption_context), |call| {
            let (blob, plaintext, arn) = self.gdk(call, req, GDK.action)?;
            Ok(GenerateDataKeyResponse {
                ciphertext_blob: blob,
                plaintext,
                key_id: arn,
            })
        })
    }

    fn generate_data_key_without_plaintext(
        &self,
        req: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
        self.call(GDK_NP, Some(&req.encryption_context), |call| {
            let (blob, _, arn) = self.gdk(call, req, GDK_NP.action)?;
            Ok(GenerateDataKeyWithoutPlaintextResponse {
                ciphertext_blob: blob,
                key_id: arn,
            })
        })
    }

    fn encrypt(&self, req: &EncryptRequest) -> Result<EncryptResponse, KmsError> {
        self.call(ENCRYPT, Some(&req.encryption_context), |call| {
            if req.plaintext.is_empty() || req.plaintext.len() > 4096 {
                return Err(KmsError::validation(
                    "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096",
                ));
            }
            context::validate(&req.encryption_context)?;
            check_grant_tokens(&req.grant_tokens)?;
            check_algorithm(req.encryption_algorithm.as_deref())?;
            self.rotate_if_due(&req.key_id)?;
            let state = self.read()?;
            let k = self.usable(&state, call, &req.key_id, ENCRYPT.action)?;
            dry_run(req.dry_run)?;
            let blob = self.seal(k, &req.encryption_context, req.plaintext.expose_secret())?;
            Ok(EncryptResponse { ciphertext_blob: blob, key_id: k.arn.clone(), encryption_algorithm: SYMMETRIC_DEFAULT.into() })
        })
    }

    fn decrypt(&self, req: &DecryptRequest) -> Result<DecryptResponse, KmsError> {
        self.call(DECRYPT, Some(&req.encryption_context), |call| {
            check_grant_tokens(&req.grant_tokens)?;
            check_algorithm(req.encryption_algorithm.as_deref())?;
            let state = self.read()?;
            let (arn, plaintext) = self.open(
                &state,
                call,
                &req.ciphertext_blob,
                &req.encryption_context,
                req.key_id.as_deref(),
                DECRYPT.action,
            )?;
            dry_run(req.dry_run)?;
            Ok(DecryptResponse {
                key_id: arn,
                plaintext,
                encryption_algorithm: SYMMETRIC_DEFAULT.into(),
            })
        })
    }

    fn re_encrypt(&self, req: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        self.call(
            REENCRYPT,
            Some(&req.destination_encryption_context),
            |call| {
                check_grant_tokens(&req.grant_tokens)?;
                context::validate(&req.destination_encryption_context)?;
                self.rotate_if_due(&req.destination_key_id)?;
                let state = self.read()?;
                let (source_arn, plaintext) = self.open(
                    &state,
                    call,
                    &req.ciphertext_blob,
                    &req.source_encryption_context,
                    req.source_key_id.as_deref(),
                    "kms:ReEncryptFrom",
                )?;
                let dest = self.usable(&state, call, &req.destination_key_id, "kms:ReEncryptTo")?;
                dry_run(req.dry_run)?;
                let blob = self.seal(
                    dest,
                    &req.destination_encryption_context,
                    plaintext.expose_secret(),
                )?;
                Ok(ReEncryptResponse {
                    ciphertext_blob: blob,
                    source_key_id: source_arn,
                    key_id: dest.arn.clone(),
                    source_encryption_algorithm: SYMMETRIC_DEFAULT.into(),
                    destination_encryption_algorithm: SYMMETRIC_DEFAULT.into(),
                })
            },
        )
    }

    fn create_key(&self, req: &CreateKeyRequest) -> Result<CreateKeyResponse, KmsError> {
        self.call(CREATE_KEY, None, |call| {
            let usage = req
                .key_usage
                .clone()
                .unwrap_or_else(|| ENCRYPT_DECRYPT.into());
            match (usage.as_str(), req.key_spec.as_deref()) {
                (ENCRYPT_DECRYPT, None | Some(SYMMETRIC_DEFAULT))
                | (GENERATE_VERIFY_MAC, Some("HMAC_256")) => {}
                (ENCRYPT_DECRYPT | GENERATE_VERIFY_MAC, spec) => {
                    return Err(KmsError::new(
                        KmsErrorKind::UnsupportedOperation,
                        format!(
                            "KeySpec {} with KeyUsage {usage} is not supported by s3crypt's KMS.",
                            spec.unwrap_or("(none)")
                        ),
                    ));
                }
                _ => {
                    return Err(KmsError::validation(format!(
                        "KeyUsage {usage} is not valid."
                    )));
                }
            }
            let description = req.description.clone().unwrap_or_default();
            if description.chars().count() > 8192 {
                return Err(KmsError::validation(
                    "description: Member must have length less than or equal to 8192",
                ));
            }
            let policy = match &req.policy {
                Some(doc) => KeyPolicy::parse(doc)?,
                None => KeyPolicy::default_for_account(&self.inner.account_id),
            };
            let id = random_array::<16>()
                .map(|b| uuid::Builder::from_random_bytes(b).into_uuid().to_string())
                .map_err(|_| internal())?;
            let now = self.now();
            let record = KeyRecord {
                arn: self.key_arn(&id),
                id: id.clone(),
                description,
                usage,
                created: now,
                status: Status::Enabled,
                rotation_period_days: None,
                materials: vec![Material::new(new_material()?, now)],
                policy,
            };
            call.key_arn = Some(record.arn.clone());
            let meta = self.key_metadata(&record);
            self.mutate(|s| {
                s.keys.insert(id, record);
                Ok(())
            })?;
            Ok(CreateKeyResponse { key_metadata: meta })
        })
    }

    fn describe_key(&self, req: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError> {
        self.call(DESCRIBE, None, |call| {
            let state = self.read()?;
            let id = self.resolve(&state, &req.key_id, true)?;
            let k = state
                .keys
                .get(&id)
                .ok_or_else(|| KmsError::not_found(&req.key_id))?;
            call.key_arn = Some(k.arn.clone());
            k.policy.check(&self.caller, DESCRIBE.action, &k.arn)?;
            Ok(DescribeKeyResponse {
                key_metadata: self.key_metadata(k),
            })
        })
    }

    fn list_keys(&self, req: &ListKeysRequest) -> Result<ListKeysResponse, KmsError> {
        self.call(LIST_KEYS, None, |_| {
            let state = self.read()?;
            let all: Vec<KeyListEntry> = state
                .keys
                .values()
                .filter(|k| !self.deleted(k))
                .map(|k| KeyListEntry {
                    key_id: k.id.clone(),
                    key_arn: k.arn.clone(),
                })
                .collect();
            let (keys, next) = page(&all, req.limit, 100, 1000, req.marker.as_deref(), |e| {
                &e.key_id
            })?;
            Ok(ListKeysResponse {
                keys,
                truncated: next.is_some(),
                next_marker: next,
            })
        })
    }

    fn create_alias(&self, req: &CreateAliasRequest) -> Result<Empty, KmsError> {
        self.call(CREATE_ALIAS, None, |call| {
            check_alias_name(&req.alias_name)?;
            self.mutate(|s| {
                let id = self.resolve(s, &req.target_key_id, false)?;
                let k = s
                    .keys
                    .get(&id)
                    .ok_or_else(|| KmsError::not_found(&req.target_key_id))?;
                call.key_arn = Some(k.arn.clone());
                k.policy.check(&self.caller, CREATE_ALIAS.action, &k.arn)?;
                if matches!(k.status, Status::PendingDeletion { .. }) {
                    return Err(KmsError::new(
                        KmsErrorKind::KmsInvalidState,
                        format!("{} is pending deletion.", k.arn),
                    ));
                }
                if s.aliases.contains_key(&req.alias_name) {
                    return Err(KmsError::new(
                        KmsErrorKind::AlreadyExists,
                        format!(
                            "An alias with the name arn:aws:kms:{}:{}:{} already exists",
                            self.inner.region, self.inner.account_id, req.alias_name
                        ),
                    ));
                }
                s.aliases.insert(req.alias_name.clone(), id);
                Ok(Empty {})
            })
        })
    }

    fn list_aliases(&self, req: &ListAliasesRequest) -> Result<ListAliasesResponse, KmsError> {
        self.call(LIST_ALIASES, None, |_| {
            let state = self.read()?;
            let filter = req
                .key_id
                .as_deref()
                .map(|k| self.resolve(&state, k, false))
                .transpose()?;
            let all: Vec<AliasListEntry> = state
                .aliases
                .iter()
                .filter(|(_, target)| filter.as_ref().is_none_or(|f| f == *target))
                .filter(|(_, target)| state.keys.get(*target).is_some_and(|k| !self.deleted(k)))
                .map(|(name, target)| AliasListEntry {
                    alias_name: name.clone(),
                    alias_arn: format!(
                        "arn:aws:kms:{}:{}:{name}",
                        self.inner.region, self.inner.account_id
                    ),
                    target_key_id: target.clone(),
                })
                .collect();
            let (aliases, next) = page(&all, req.limit, 50, 100, req.marker.as_deref(), |e| {
                &e.alias_name
            })?;
            Ok(ListAliasesResponse {
                aliases,
                truncated: next.is_some(),
                next_marker: next,
            })
        })
    }

    fn enable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError> {
        self.call(ENABLE, None, |call| {
            self.admin(call, &req.key_id, |k, _| match k.status {
                Status::PendingDeletion { .. } => Err(KmsError::new(
                    KmsErrorKind::KmsInvalidState,
                    format!("{} is pending deletion.", k.arn),
                )),
                _ => {
                    k.status = Status::Enabled;
                    Ok(Empty {})
                }
            })
        })
    }

    fn disable_key(&self, req: &KeyIdRequest) -> Result<Empty, KmsError> {
        self.call(DISABLE, None, |call| {
            self.admin(call, &req.key_id, |k, _| match k.status {
                Status::PendingDeletion { .. } => Err(KmsError::new(
                    KmsErrorKind::KmsInvalidState,
                    format!("{} is pending deletion.", k.arn),
                )),
                _ => {
                    k.status = Status::Disabled;
                    Ok(Empty {})
                }
            })
        })
    }

    fn schedule_key_deletion(
        &self,
        req: &ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        self.call(SCHEDULE, None, |call| {
            let days = req.pending_window_in_days.unwrap_or(30);
            if !(7..=30).contains(&days) {
                return Err(KmsError::validation(
                    "1 validation error detected: Value at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30",
                ));
            }
            self.admin(call, &req.key_id, |k, now| {
                if matches!(k.status, Status::PendingDeletion { .. }) {
                    return Err(KmsError::new(KmsErrorKind::KmsInvalidState, format!("{} is pending deletion.", k.arn)));
                }
                let at = now + DAY * days;
                k.status = Status::PendingDeletion { at, window_days: days };
                Ok(ScheduleKeyDeletionResponse {
                    key_id: k.arn.clone(),
                    deletion_date: at.as_secs_f64(),
                    key_state: "PendingDeletion".into(),
                    pending_window_in_days: days,
                })
            })
        })
    }

    fn cancel_key_deletion(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
        self.call(CANCEL, None, |call| {
            self.admin(call, &req.key_id, |k, _| {
                if !matches!(k.status, Status::PendingDeletion { .. }) {
                    return Err(KmsError::new(
                        KmsErrorKind::KmsInvalidState,
                        format!("{} is not pending deletion.", k.arn),
                    ));
                }
                k.status = Status::Disabled;
                Ok(KeyIdResponse {
                    key_id: k.arn.clone(),
                })
            })
        })
    }

    fn enable_key_rotation(&self, req: &EnableKeyRotationRequest) -> Result<Empty, KmsError> {
        self.call(ENABLE_ROT, None, |call| {
            let days = req.rotation_period_in_days.unwrap_or(365);
            if !(90..=2560).contains(&days) {
                return Err(KmsError::validation(
                    "1 validation error detected: Value at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560",
                ));
            }
            self.admin(call, &req.key_id, |k, _| {
                state_allows_rotation(k)?;
                k.rotation_period_days = Some(days);
                Ok(Empty {})
            })
        })
    }

    fn rotate_key_on_demand(&self, req: &KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
        self.call(ROTATE, None, |call| {
            self.admin(call, &req.key_id, |k, now| {
                state_allows_rotation(k)?;
                k.materials.push(Material::new(new_material()?, now));
                Ok(KeyIdResponse {
                    key_id: k.arn.clone(),
                })
            })
        })
    }
}

fn state_allows_rotation(k: &KeyRecord) -> Result<(), KmsError> {
    match k.status {
        Status::Enabled if k.usage == ENCRYPT_DECRYPT => Ok(()),
        Status::Enabled => Err(KmsError::new(
            KmsErrorKind::UnsupportedOperation,
            format!("{} cannot be rotated.", k.arn),
        )),
        Status::Disabled => Err(KmsError::new(
            KmsErrorKind::Disabled,
            format!("{} is disabled.", k.arn),
        )),
        Status::PendingDeletion { .. } => Err(KmsError::new(
            KmsErrorKind::KmsInvalidState,
            format!("{} is pending deletion.", k.arn),
        )),
    }
}

impl MockKms {
    fn gdk(
        &self,
        call: &mut Call<'_>,
        req: &GenerateDataKeyRequest,
        action: &str,
    ) -> Result<(Vec<u8>, SecretBytes, String), KmsError> {
        let len = data_key_len(req)?;
        context::validate(&req.encryption_context)?;
        check_grant_tokens(&req.grant_tokens)?;
        self.rotate_if_due(&req.key_id)?;
        let state = self.read()?;
        let k = self.usable(&state, call, &req.key_id, action)?;
        dry_run(req.dry_run)?;
        let plaintext = SecretBytes::generate(len).map_err(|_| internal())?;
        let blob = self.seal(k, &req.encryption_context, plaintext.expose_secret())?;
        Ok((blob, plaintext, k.arn.clone()))
    }
}
