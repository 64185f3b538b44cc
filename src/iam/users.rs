//! The account's credentials: the root access key and the IAM users with their access keys and inline
//! identity policies, persisted in the s3crypt home and shared by every process using it.
//!
//! ```text
//! HOME/iam/            created with mode 0700
//!   accounts.json      format tag, account id, root key, users (mode 0600, replaced atomically)
//!   lock               held (flock) by a process while it changes accounts.json
//! ```
//!
//! Several processes use one home at once: `s3crypt serve` authenticates requests while
//! `s3crypt iam create-user` runs in another shell. Every change is a transaction (exclusive lock on
//! `lock`, reload, apply, [`write_atomic`], unlock), and every lookup first checks whether
//! `accounts.json` was replaced (device, inode, size, modification time) and reloads it if so. A user
//! created or deleted by another process is therefore seen by the next lookup, without a restart.
//!
//! `accounts.json` holds secrets in clear text, protected by its mode: a file that its group or other
//! users may access is refused ([`IamStoreError::Permissions`]).
//!
//! ```
//! use s3crypt::iam::users::AccountStore;
//!
//! # fn main() -> Result<(), s3crypt::iam::users::IamStoreError> {
//! let home = tempfile::tempdir().map_err(|e| s3crypt::iam::users::IamStoreError::Io {
//!     path: std::env::temp_dir(),
//!     source: e,
//! })?;
//! let store = AccountStore::open(home.path())?;
//! let root = store.ensure_root(None)?; // generated and stored on first use
//! let alice = store.create_user(
//!     "alice",
//!     Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#),
//! )?;
//! // The server's SigV4 lookup: access key id -> credentials (and, after verification, the identity).
//! let who = store.authenticate(&alice.access_key_id)?.expect("alice's key");
//! assert_eq!(who.principal.arn, "arn:aws:iam::000000000000:user/alice");
//! assert_eq!(who.policies.len(), 1);
//! assert_eq!(who.credentials().access_key_id, alice.access_key_id);
//! assert!(store.authenticate(&root.access_key_id)?.expect("root").principal.is_root());
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::aws::sigv4::Credentials;
use crate::fsutil::{FileId, create_private_dir, shared_mode, write_atomic};
use crate::iam::arn::{Arn, is_account_id};
use crate::iam::context::Principal;
use crate::iam::policy::{ParseOptions, Policy, PolicyError};
use crate::primitives::{RngError, fill_random};

/// The local account: the account of a new `accounts.json`, the account the CLI acts as the root of,
/// and the owner of buckets created before owners were recorded (`sse::engine` re-exports it).
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// The format tag of `accounts.json`.
pub const FORMAT: &str = "s3crypt/iam-accounts/v1";
/// The inline policy name [`AccountStore::create_user`] gives the policy it is passed.
pub const DEFAULT_POLICY_NAME: &str = "default";
/// How long a change waits for another process's change to finish before failing with
/// [`IamStoreError::Busy`].
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The largest `accounts.json` loaded (thousands of users with their policies).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The alphabet of access key ids and user ids (as AWS: upper-case letters and digits 2–7).
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// The alphabet of secret access keys (as AWS: base64 characters).
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why an account store operation failed. No variant's `Display` or `Debug` contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IamStoreError {
    /// An I/O error on `path`.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `accounts.json` exists but is not a valid account file.
    #[error(
        "{} is corrupt ({reason}); refusing to replace it. Restore it from a backup or move it away.",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `accounts.json` may be accessed by its group or by other users.
    #[error(
        "{} has mode {mode:o}; it must be readable by its owner only (chmod 600)",
        path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Another process held the lock for longer than [`LOCK_WAIT`].
    #[error(
        "{} is held by another s3crypt process; gave up after {} s",
        path.display(),
        waited.as_secs()
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },
    /// A user of that name exists already (IAM's `EntityAlreadyExists`).
    #[error("The user with name {0} already exists.")]
    UserExists(String),
    /// No user of that name (IAM's `NoSuchEntity`).
    #[error("The user with name {0} cannot be found.")]
    NoSuchUser(String),
    /// The user has no inline policy of that name (IAM's `NoSuchEntity`).
    #[error("The user policy with name {policy} cannot be found.")]
    NoSuchUserPolicy {
        /// The user.
        user: String,
        /// The policy name.
        policy: String,
    },
    /// A user name outside IAM's rules: 1–64 characters of `A-Z a-z 0-9 + = , . @ _ -`.
    #[error(
        "invalid user name {0:?}: a user name is 1 to 64 characters of letters, digits and +=,.@_-"
    )]
    InvalidUserName(String),
    /// A policy name outside IAM's rules: 1–128 characters of `A-Z a-z 0-9 + = , . @ _ -`.
    #[error(
        "invalid policy name {0:?}: a policy name is 1 to 128 characters of letters, digits and +=,.@_-"
    )]
    InvalidPolicyName(String),
    /// The policy document was refused by the policy parser (IAM's `MalformedPolicyDocument`).
    #[error("malformed policy document: {0}")]
    MalformedPolicy(#[source] PolicyError),
    /// A root key given at run time is unusable (empty id or secret, or an ARN that is not
    /// `arn:aws:iam::ACCOUNT:root`).
    #[error("invalid root access key: {0}")]
    InvalidRootKey(String),
    /// The operating system's random number generator failed.
    #[error("cannot generate credentials: {0}")]
    Rng(#[from] RngError),
}

impl IamStoreError {
    /// The IAM error code a client would see (`EntityAlreadyExists`, `NoSuchEntity`,
    /// `ValidationError`, `MalformedPolicyDocument`, `ServiceFailure`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UserExists(_) => "EntityAlreadyExists",
            Self::NoSuchUser(_) | Self::NoSuchUserPolicy { .. } => "NoSuchEntity",
            Self::InvalidUserName(_) | Self::InvalidPolicyName(_) | Self::InvalidRootKey(_) => {
                "ValidationError"
            }
            Self::MalformedPolicy(_) => "MalformedPolicyDocument",
            Self::Io { .. }
            | Self::Corrupt { .. }
            | Self::Permissions { .. }
            | Self::Busy { .. }
            | Self::Rng(_) => "ServiceFailure",
        }
    }
}

/// A secret access key: zeroized on drop, `Debug` prints `SecretAccessKey([REDACTED])`, the text only
/// through [`SecretAccessKey::expose_secret`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretAccessKey(String);

impl SecretAccessKey {
    /// Wraps a secret access key.
    #[must_use]
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// A new random 40-character secret (base64 alphabet) from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`RngError`] if the operating system cannot provide randomness.
    pub fn generate() -> Result<Self, RngError> {
        let mut bytes = Zeroizing::new([0u8; 40]);
        fill_random(bytes.as_mut())?;
        // 64 symbols: `b & 63` is uniform.
        Ok(Self(
            bytes
                .iter()
                .map(|b| char::from(SECRET_ALPHABET[usize::from(b & 63)]))
                .collect(),
        ))
    }

    /// The secret text. Every call site is a place where the secret leaves the type.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Constant-time equality (lengths are not secret).
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        crate::primitives::ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey([REDACTED])")
    }
}

impl Serialize for SecretAccessKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretAccessKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// A root access key given at run time (the server's `--access-key ID:SECRET[:ARN]`): it overrides the
/// stored root for this process only and is never written.
#[derive(Clone, Debug)]
pub struct RootKeySpec {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret: SecretAccessKey,
    /// `arn:aws:iam::ACCOUNT:root`: the account the root belongs to (default: the stored account).
    pub arn: Option<String>,
}

impl RootKeySpec {
    /// Parses `ID:SECRET` or `ID:SECRET:ARN`.
    ///
    /// # Errors
    /// [`IamStoreError::InvalidRootKey`] if the id or secret is empty (the message never contains the
    /// secret).
    pub fn parse(spec: &str) -> Result<Self, IamStoreError> {
        let mut parts = spec.splitn(3, ':');
        let id = parts.next().unwrap_or_default();
        let secret = parts.next().unwrap_or_default();
        if id.is_empty() || secret.is_empty() {
            return Err(IamStoreError::InvalidRootKey(
                "give it as ID:SECRET or ID:SECRET:arn:aws:iam::ACCOUNT:root".into(),
            ));
        }
        Ok(Self {
            access_key_id: id.to_owned(),
            secret: SecretAccessKey::new(secret.to_owned()),
            arn: parts.next().map(str::to_owned),
        })
    }
}

/// The account root's credentials.
#[derive(Clone, Debug)]
pub struct RootCredentials {
    /// The 12-digit account id.
    pub account_id: String,
    /// `arn:aws:iam::ACCOUNT:root`.
    pub arn: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret: SecretAccessKey,
}

impl RootCredentials {
    /// The SigV4 credentials (for signing or for a verifier's lookup).
    #[must_use]
    pub fn credentials(&self) -> Credentials {
        Credentials::new(&self.access_key_id, self.secret.expose_secret(), None)
    }
}

/// Who an access key authenticates as: the principal, the secret to verify the signature with, and the
/// principal's identity policies (none for the root, which is allowed everything in its own account).
#[derive(Clone, Debug)]
pub struct Identity {
    /// The root or IAM user, with the access key id.
    pub principal: Principal,
    /// The access key's secret.
    pub secret: SecretAccessKey,
    /// The user's inline identity policies, in name order; empty for the root.
    pub policies: Vec<Policy>,
}

impl Identity {
    /// The SigV4 credentials, as `aws::presign::verify_s3`'s lookup returns them:
    /// `|id| store.authenticate(id).ok().flatten().map(|i| i.credentials())`.
    #[must_use]
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.principal.access_key_id,
            self.secret.expose_secret(),
            None,
        )
    }
}

/// A user just created, with the only copy of its secret that is ever shown.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The user name.
    pub user_name: String,
    /// The user id (`AIDA…`, 21 characters).
    pub user_id: String,
    /// `arn:aws:iam::ACCOUNT:user/NAME`.
    pub arn: String,
    /// The access key id (`AKIA…`, 20 characters).
    pub access_key_id: String,
    /// The secret access key (40 characters).
    pub secret_access_key: SecretAccessKey,
}

/// A user as listed: no secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSummary {
    /// The user name.
    pub user_name: String,
    /// The user id.
    pub user_id: String,
    /// `arn:aws:iam::ACCOUNT:user/NAME`.
    pub arn: String,
    /// When the user was created (ISO 8601, UTC, `2026-01-31T12:00:00Z`).
    pub create_date: String,
    /// The user's access key ids.
    pub access_key_ids: Vec<String>,
    /// The names of the user's inline policies, sorted.
    pub policy_names: Vec<String>,
}

/// The account store of one s3crypt home. Cheap lookups, safe to share between threads; see the module
/// documentation for how several processes share it.
#[derive(Debug)]
pub struct AccountStore {
    dir: PathBuf,
    file: PathBuf,
    lock: PathBuf,
    cache: Mutex<Cache>,
    root_override: Mutex<Option<RootCredentials>>,
}

impl AccountStore {
    /// Opens the store of `home` (nothing is created until the first change) and loads
    /// `accounts.json` if it exists.
    ///
    /// # Errors
    /// [`IamStoreError::Io`], [`IamStoreError::Corrupt`] or [`IamStoreError::Permissions`] for an
    /// existing file that cannot be loaded.
    pub fn open(home: &Path) -> Result<Self, IamStoreError> {
        let dir = home.join("iam");
        let store = Self {
            file: dir.join("accounts.json"),
            lock: dir.join("lock"),
            dir,
            cache: Mutex::new(Cache::default()),
            root_override: Mutex::new(None),
        };
        drop(store.refresh()?);
        Ok(store)
    }

    /// The path of `accounts.json`.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The root credentials this process uses. With `given`, those (never written; they replace the
    /// stored root key for this store until it is dropped, and an ARN sets the root's account);
    /// otherwise the stored root, generated and stored on first use. IAM users stay in the stored
    /// account whatever account a given ARN names.
    ///
    /// # Errors
    /// [`IamStoreError::InvalidRootKey`] for a given key with an empty id or secret or an ARN that is
    /// not `arn:aws:iam::ACCOUNT:root`; the errors of loading and of a change (first use).
    pub fn ensure_root(
        &self,
        given: Option<RootKeySpec>,
    ) -> Result<RootCredentials, IamStoreError> {
        if let Some(spec) = given {
            let account_id = match &spec.arn {
                None => self.account_id()?,
                Some(arn) => root_arn_account(arn)?,
            };
            if spec.access_key_id.is_empty() || spec.secret.expose_secret().is_empty() {
                return Err(IamStoreError::InvalidRootKey(
                    "the access key id and secret must not be empty".into(),
                ));
            }
            let root = RootCredentials {
                arn: format!("arn:aws:iam::{account_id}:root"),
                account_id,
                access_key_id: spec.access_key_id,
                secret: spec.secret,
            };
            *lock(&self.root_override) = Some(root.clone());
            return Ok(root);
        }
        if let Some(root) = lock(&self.root_override).clone() {
            return Ok(root);
        }
        if let Some(state) = &self.refresh()?.state {
            return Ok(state.root_credentials());
        }
        self.transact(|state| Ok(state.root_credentials()))
    }

    /// The principal, secret and policies `access_key_id` authenticates as, or `None` for an unknown
    /// (or deleted) key. Reloads `accounts.json` first if another process replaced it.
    ///
    /// # Errors
    /// The errors of loading `accounts.json`.
    pub fn authenticate(&self, access_key_id: &str) -> Result<Option<Identity>, IamStoreError> {
        let root_override = lock(&self.root_override).clone();
        if let Some(root) = &root_override
            && root.access_key_id == access_key_id
        {
            return Ok(Some(Identity {
                principal: Principal::root(&root.account_id, access_key_id),
                secret: root.secret.clone(),
                policies: Vec::new(),
            }));
        }
        let cache = self.refresh()?;
        let found = cache.index.get(access_key_id).cloned();
        // An overridden stored root no longer authenticates.
        Ok(found.filter(|i| !(root_override.is_some() && i.principal.is_root())))
    }

    /// Creates user `name` with a new access key and, if `policy_json` is given, that identity policy
    /// as its inline policy [`DEFAULT_POLICY_NAME`].
    ///
    /// # Errors
    /// [`IamStoreError::InvalidUserName`], [`IamStoreError::MalformedPolicy`],
    /// [`IamStoreError::UserExists`]; the errors of a change.
    pub fn create_user(
        &self,
        name: &str,
        policy_json: Option<&str>,
    ) -> Result<NewUser, IamStoreError> {
        check_user_name(name)?;
        if let Some(json) = policy_json {
            Policy::parse(json, &ParseOptions::IDENTITY).map_err(IamStoreError::MalformedPolicy)?;
        }
        let create_date = now_iso8601();
        self.transact(|state| {
            if state.user(name).is_some() {
                return Err(IamStoreError::UserExists(name.to_owned()));
            }
            let user_id = loop {
                let id = random_id("AIDA", 17)?;
                if state.users.iter().all(|u| u.user_id != id) {
                    break id;
                }
            };
            let key = StoredKey {
                access_key_id: state.new_access_key_id()?,
                secret_access_key: SecretAccessKey::generate()?,
            };
            let arn = format!("arn:aws:iam::{}:user/{name}", state.account_id);
            let mut policies = BTreeMap::new();
            if let Some(json) = policy_json {
                policies.insert(DEFAULT_POLICY_NAME.to_owned(), json.to_owned());
            }
            let new = NewUser {
                user_name: name.to_owned(),
                user_id: user_id.clone(),
                arn: arn.clone(),
                access_key_id: key.access_key_id.clone(),
                secret_access_key: key.secret_access_key.clone(),
            };
            state.users.push(StoredUser {
                name: name.to_owned(),
                user_id,
                arn,
                create_date: create_date.clone(),
                access_keys: vec![key],
                policies,
            });
            Ok(new)
        })
    }

    /// Adds or replaces user `name`'s inline policy `policy_name`.
    ///
    /// # Errors
    /// [`IamStoreError::InvalidPolicyName`], [`IamStoreError::MalformedPolicy`],
    /// [`IamStoreError::NoSuchUser`]; the errors of a change.
    pub fn put_user_policy(
        &self,
        name: &str,
        policy_name: &str,
        policy_json: &str,
    ) -> Result<(), IamStoreError> {
        check_policy_name(policy_name)?;
        Policy::parse(policy_json, &ParseOptions::IDENTITY)
            .map_err(IamStoreError::MalformedPolicy)?;
        self.transact(|state| {
            let user = state
                .user_mut(name)
                .ok_or_else(|| IamStoreError::NoSuchUser(name.to_owned()))?;
            user.policies
                .insert(policy_name.to_owned(), policy_json.to_owned());
            Ok(())
        })
    }

    /// Removes user `name`'s inline policy `policy_name`.
    ///
    /// # Errors
    /// [`IamStoreError::NoSuchUser`], [`IamStoreError::NoSuchUserPolicy`]; the errors of a change.
    pub fn delete_user_policy(&self, name: &str, policy_name: &str) -> Result<(), IamStoreError> {
        self.transact(|state| {
            let user = state
                .user_mut(name)
                .ok_or_else(|| IamStoreError::NoSuchUser(name.to_owned()))?;
            user.policies.remove(policy_name).map(drop).ok_or_else(|| {
                IamStoreError::NoSuchUserPolicy {
                    user: name.to_owned(),
                    policy: policy_name.to_owned(),
                }
            })
        })
    }

    /// Deletes user `name` with its access keys and policies: its keys stop authenticating in every
    /// process at its next lookup.
    ///
    /// # Errors
    /// [`IamStoreError::NoSuchUser`]; the errors of a change.
    pub fn delete_user(&self, name: &str) -> Result<(), IamStoreError> {
        self.transact(|state| {
            let before = state.users.len();
            state.users.retain(|u| u.name != name);
            if state.users.len() == before {
                return Err(IamStoreError::NoSuchUser(name.to_owned()));
            }
            Ok(())
        })
    }

    /// The users, by name.
    ///
    /// # Errors
    /// The errors of loading `accounts.json`.
    pub fn list_users(&self) -> Result<Vec<UserSummary>, IamStoreError> {
        let cache = self.refresh()?;
        let mut out: Vec<UserSummary> = cache
            .state
            .iter()
            .flat_map(|s| &s.users)
            .map(|u| UserSummary {
                user_name: u.name.clone(),
                user_id: u.user_id.clone(),
                arn: u.arn.clone(),
                create_date: u.create_date.clone(),
                access_key_ids: u
                    .access_keys
                    .iter()
                    .map(|k| k.access_key_id.clone())
                    .collect(),
                policy_names: u.policies.keys().cloned().collect(),
            })
            .collect();
        out.sort_by(|a, b| a.user_name.cmp(&b.user_name));
        Ok(out)
    }

    /// The stored account id ([`LOCAL_ACCOUNT`] before anything is stored).
    fn account_id(&self) -> Result<String, IamStoreError> {
        Ok(self
            .refresh()?
            .state
            .as_ref()
            .map_or_else(|| LOCAL_ACCOUNT.to_owned(), |s| s.account_id.clone()))
    }

    /// Reloads `accounts.json` if it was replaced since the last load; returns the cache.
    fn refresh(&self) -> Result<MutexGuard<'_, Cache>, IamStoreError> {
        let mut cache = lock(&self.cache);
        let mut f = match File::open(&self.file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                *cache = Cache::default();
                return Ok(cache);
            }
            Err(e) => return Err(self.io(&self.file)(e)),
        };
        let meta = f.metadata().map_err(self.io(&self.file))?;
        let stamp = Stamp {
            id: FileId::of_file(&f).map_err(self.io(&self.file))?,
            len: meta.len(),
            modified: meta.modified().ok(),
        };
        // Checked on every lookup: a chmod changes neither the inode nor the modification time.
        if let Some(mode) = shared_mode(&meta) {
            return Err(IamStoreError::Permissions {
                path: self.file.clone(),
                mode,
            });
        }
        if cache.stamp == Some(stamp) {
            return Ok(cache);
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(self.corrupt(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        // Sized up front so that reading never reallocates and leaves an unzeroized copy behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(
            usize::try_from(meta.len()).unwrap_or(0).saturating_add(1),
        ));
        f.read_to_end(&mut bytes).map_err(self.io(&self.file))?;
        let state: StoredAccounts =
            serde_json::from_slice(&bytes).map_err(|e| self.corrupt(e.to_string()))?;
        let index = state.index().map_err(|reason| self.corrupt(reason))?;
        *cache = Cache {
            stamp: Some(stamp),
            state: Some(state),
            index,
        };
        Ok(cache)
    }

    /// Runs one change: lock, reload, apply `change` to the state (a new account with a generated
    /// root if there is none), write, unlock. Nothing is written if `change` fails.
    fn transact<T>(
        &self,
        change: impl FnOnce(&mut StoredAccounts) -> Result<T, IamStoreError>,
    ) -> Result<T, IamStoreError> {
        create_private_dir(&self.dir).map_err(self.io(&self.dir))?;
        let _held = self.lock_exclusive()?;
        let mut state = match &self.refresh()?.state {
            Some(s) => s.clone(),
            None => StoredAccounts::generate()?,
        };
        let out = change(&mut state)?;
        let index = state.index().map_err(|reason| self.corrupt(reason))?;
        let bytes = Zeroizing::new(
            serde_json::to_vec_pretty(&state).map_err(|e| self.corrupt(e.to_string()))?,
        );
        write_atomic(&self.file, &bytes).map_err(|e| {
            let (path, source) = e.into_parts();
            IamStoreError::Io { path, source }
        })?;
        // Holding the lock, nobody else has replaced the file since: record what was written.
        let mut cache = lock(&self.cache);
        cache.stamp = None;
        if let Ok(f) = File::open(&self.file)
            && let (Ok(meta), Ok(id)) = (f.metadata(), FileId::of_file(&f))
        {
            cache.stamp = Some(Stamp {
                id,
                len: meta.len(),
                modified: meta.modified().ok(),
            });
        }
        cache.state = Some(state);
        cache.index = index;
        Ok(out)
    }

    /// Takes the exclusive lock on `HOME/iam/lock`, waiting at most [`LOCK_WAIT`].
    fn lock_exclusive(&self) -> Result<File, IamStoreError> {
        let mut opts = OpenOptions::new();
        opts.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let f = opts.open(&self.lock).map_err(self.io(&self.lock))?;
        let start = Instant::now();
        loop {
            match f.try_lock() {
                Ok(()) => return Ok(f),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(IamStoreError::Busy {
                        path: self.lock.clone(),
                        waited: start.elapsed(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(self.io(&self.lock)(e)),
            }
        }
    }

    fn io<'a>(&self, path: &'a Path) -> impl FnOnce(std::io::Error) -> IamStoreError + 'a {
        move |source| IamStoreError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn corrupt(&self, reason: String) -> IamStoreError {
        IamStoreError::Corrupt {
            path: self.file.clone(),
            reason,
        }
    }
}

/// The identity of the loaded `accounts.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    id: FileId,
    len: u64,
    modified: Option<SystemTime>,
}

/// The last loaded state and its access key index.
#[derive(Debug, Default)]
struct Cache {
    stamp: Option<Stamp>,
    state: Option<StoredAccounts>,
    index: HashMap<String, Identity>,
}

/// `accounts.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredAccounts {
    format: String,
    account_id: String,
    root: StoredKey,
    users: Vec<StoredUser>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    access_key_id: String,
    secret_access_key: SecretAccessKey,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredUser {
    name: String,
    user_id: String,
    arn: String,
    create_date: String,
    access_keys: Vec<StoredKey>,
    /// Inline policies by name: the JSON text as given.
    policies: BTreeMap<String, String>,
}

impl StoredAccounts {
    /// A new local account with a generated root key.
    fn generate() -> Result<Self, IamStoreError> {
        Ok(Self {
            format: FORMAT.to_owned(),
            account_id: LOCAL_ACCOUNT.to_owned(),
            root: StoredKey {
                access_key_id: random_id("AKIA", 16)?,
                secret_access_key: SecretAccessKey::generate()?,
            },
            users: Vec::new(),
        })
    }

    fn root_credentials(&self) -> RootCredentials {
        RootCredentials {
            account_id: self.account_id.clone(),
            arn: format!("arn:aws:iam::{}:root", self.account_id),
            access_key_id: self.root.access_key_id.clone(),
            secret: self.root.secret_access_key.clone(),
        }
    }

    fn user(&self, name: &str) -> Option<&StoredUser> {
        self.users.iter().find(|u| u.name == name)
    }

    fn user_mut(&mut self, name: &str) -> Option<&mut StoredUser> {
        self.users.iter_mut().find(|u| u.name == name)
    }

    /// A random access key id used by no key of the account.
    fn new_access_key_id(&self) -> Result<String, IamStoreError> {
        loop {
            let id = random_id("AKIA", 16)?;
            let taken = self.root.access_key_id == id
                || self
                    .users
                    .iter()
                    .flat_map(|u| &u.access_keys)
                    .any(|k| k.access_key_id == id);
            if !taken {
                return Ok(id);
            }
        }
    }

    /// Validates the state and indexes it by access key id.
    fn index(&self) -> Result<HashMap<String, Identity>, String> {
        if self.format != FORMAT {
            return Err(format!("unknown format {:?}", self.format));
        }
        if !is_account_id(&self.account_id) {
            return Err(format!("invalid account id {:?}", self.account_id));
        }
        let mut index = HashMap::new();
        let mut add = |key: &StoredKey, identity: Identity| {
            if key.access_key_id.is_empty() || key.secret_access_key.expose_secret().is_empty() {
                return Err("an access key with an empty id or secret".to_owned());
            }
            match index.insert(key.access_key_id.clone(), identity) {
                Some(_) => Err(format!("access key {} appears twice", key.access_key_id)),
                None => Ok(()),
            }
        };
        add(
            &self.root,
            Identity {
                principal: Principal::root(&self.account_id, &self.root.access_key_id),
                secret: self.root.secret_access_key.clone(),
                policies: Vec::new(),
            },
        )?;
        let mut names = std::collections::HashSet::new();
        for u in &self.users {
            if check_user_name(&u.name).is_err() || !names.insert(u.name.as_str()) {
                return Err(format!("invalid or repeated user name {:?}", u.name));
            }
            let policies = u
                .policies
                .iter()
                .map(|(name, json)| {
                    Policy::parse(json, &ParseOptions::IDENTITY)
                        .map_err(|e| format!("policy {name:?} of user {}: {e}", u.name))
                })
                .collect::<Result<Vec<_>, _>>()?;
            for k in &u.access_keys {
                add(
                    k,
                    Identity {
                        principal: Principal::user(&self.account_id, &u.name, &k.access_key_id),
                        secret: k.secret_access_key.clone(),
                        policies: policies.clone(),
                    },
                )?;
            }
        }
        Ok(index)
    }
}

/// Locks a mutex, recovering the data if a thread panicked holding it (the data is a cache that every
/// change rewrites whole, so it is never left half-updated).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// IAM's name characters: letters, digits and `+=,.@_-`.
fn is_iam_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

fn check_user_name(name: &str) -> Result<(), IamStoreError> {
    if is_iam_name(name, 64) {
        Ok(())
    } else {
        Err(IamStoreError::InvalidUserName(truncated(name)))
    }
}

fn check_policy_name(name: &str) -> Result<(), IamStoreError> {
    if is_iam_name(name, 128) {
        Ok(())
    } else {
        Err(IamStoreError::InvalidPolicyName(truncated(name)))
    }
}

/// A refused name as echoed in an error: at most 80 characters.
fn truncated(name: &str) -> String {
    match name.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &name[..i]),
        None => name.to_owned(),
    }
}

/// The account an `arn:aws:iam::ACCOUNT:root` names.
fn root_arn_account(arn: &str) -> Result<String, IamStoreError> {
    match Arn::parse(arn) {
        Some(a)
            if a.service == "iam"
                && a.region.is_empty()
                && a.resource == "root"
                && is_account_id(a.account) =>
        {
            Ok(a.account.to_owned())
        }
        _ => Err(IamStoreError::InvalidRootKey(format!(
            "{arn:?} is not an account root ARN (arn:aws:iam::ACCOUNT:root)"
        ))),
    }
}

/// `prefix` followed by `len` random characters of [`ID_ALPHABET`].
pub(crate) fn random_id(prefix: &str, len: usize) -> Result<String, RngError> {
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes)?;
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    // 32 symbols: `b & 31` is uniform.
    id.extend(
        bytes
            .iter()
            .map(|b| char::from(ID_ALPHABET[usize::from(b & 31)])),
    );
    Ok(id)
}

/// The current time as IAM prints `CreateDate`.
fn now_iso8601() -> String {
    iso8601(
        SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// A time since the epoch as IAM prints dates (`CreateDate`, `EnableDate`): ISO 8601 UTC, whole seconds.
pub(crate) fn iso8601(since_epoch: Duration) -> String {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn root_is_generated_once_with_an_owner_only_file() {
        let h = home();
        let store = AccountStore::open(h.path()).expect("open");
        assert!(!store.path().exists(), "open creates nothing");
        let a = store.ensure_root(None).expect("root");
        let b = AccountStore::open(h.path())
            .expect("open")
            .ensure_root(None)
            .expect("root");
        assert_eq!(a.access_key_id, b.access_key_id);
        assert!(a.secret.ct_eq(&b.secret));
        assert_eq!(a.account_id, LOCAL_ACCOUNT);
        assert_eq!(a.arn, "arn:aws:iam::000000000000:root");
        assert_eq!(a.access_key_id.len(), 20);
        assert!(a.access_key_id.starts_with("AKIA"));
        assert_eq!(a.secret.expose_secret().len(), 40);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(store.path()), 0o600);
            assert_eq!(mode(&h.path().join("iam")), 0o700);
        }
        let id = store
            .authenticate(&a.access_key_id)
            .expect("auth")
            .expect("root key");
        assert!(id.principal.is_root());
        assert!(id.policies.is_empty());
        assert!(id.secret.ct_eq(&a.secret));
    }

    #[test]
    fn a_given_root_is_used_but_not_stored() {
        let h = home();
        let store = AccountStore::open(h.path()).expect("open");
        let stored = store.ensure_root(None).expect("root");
        let spec = RootKeySpec::parse("AKIAGIVEN:given-secret:arn:aws:iam::111122223333:root")
            .expect("spec");
        let given = store.ensure_root(Some(spec)).expect("given");
        assert_eq!(given.account_id, "111122223333");
        let who = store
            .authenticate("AKIAGIVEN")
            .expect("auth")
            .expect("given");
        assert_eq!(who.principal.arn, "arn:aws:iam::111122223333:root");
        assert!(
            store
                .authenticate(&stored.access_key_id)
                .expect("auth")
                .is_none()
        );
        let text = std::fs::read_to_string(store.path()).expect("read");
        assert!(!text.contains("given-secret") && !text.contains("AKIAGIVEN"));
        let other = AccountStore::open(h.path()).expect("open");
        assert!(other.authenticate("AKIAGIVEN").expect("auth").is_none());
        assert!(
            RootKeySpec::parse("AKIA:s:arn:aws:iam::111122223333:user/x")
                .and_then(|s| store.ensure_root(Some(s)))
                .is_err()
        );
        assert!(RootKeySpec::parse("AKIAONLY").is_err());
    }

    #[test]
    fn users_created_and_deleted_in_one_store_are_seen_by_another() {
        let h = home();
        let a = AccountStore::open(h.path()).expect("open a");
        let b = AccountStore::open(h.path()).expect("open b");
        let alice = a.create_user("alice", Some(POLICY)).expect("create");
        assert!(alice.user_id.starts_with("AIDA") && alice.user_id.len() == 21);
        assert_eq!(alice.arn, "arn:aws:iam::000000000000:user/alice");
        let who = b
            .authenticate(&alice.access_key_id)
            .expect("auth")
            .expect("alice in b");
        assert_eq!(who.principal.user_name.as_deref(), Some("alice"));
        assert_eq!(who.principal.access_key_id, alice.access_key_id);
        assert!(who.secret.ct_eq(&alice.secret_access_key));
        assert_eq!(who.policies.len(), 1);
        let creds = who.credentials();
        assert_eq!(creds.access_key_id, alice.access_key_id);
        assert_eq!(
            creds.secret_access_key().expose_secret(),
            alice.secret_access_key.expose_secret().as_bytes()
        );

        b.put_user_policy("alice", "second", POLICY).expect("put");
        let who = a
            .authenticate(&alice.access_key_id)
            .expect("auth")
            .expect("alice");
        assert_eq!(who.policies.len(), 2);
        assert_eq!(
            a.list_users().expect("list")[0].policy_names,
            vec!["default".to_owned(), "second".to_owned()]
        );
        a.delete_user_policy("alice", "default")
            .expect("delete policy");
        assert!(matches!(
            b.delete_user_policy("alice", "default"),
            Err(IamStoreError::NoSuchUserPolicy { .. })
        ));

        b.delete_user("alice").expect("delete");
        assert!(
            a.authenticate(&alice.access_key_id)
                .expect("auth")
                .is_none()
        );
        assert!(a.list_users().expect("list").is_empty());
        let e = a.delete_user("alice").expect_err("gone");
        assert!(matches!(e, IamStoreError::NoSuchUser(_)));
        assert_eq!(e.code(), "NoSuchEntity");
    }

    #[test]
    fn concurrent_creates_from_two_stores_lose_nothing() {
        let h = home();
        let stores = [
            AccountStore::open(h.path()).expect("open"),
            AccountStore::open(h.path()).expect("open"),
        ];
        std::thread::scope(|s| {
            for (i, store) in stores.iter().enumerate() {
                for t in 0..2 {
                    s.spawn(move || {
                        for n in 0..10 {
                            store
                                .create_user(&format!("u{i}-{t}-{n}"), None)
                                .expect("create");
                        }
                    });
                }
            }
        });
        let fresh = AccountStore::open(h.path()).expect("open");
        let users = fresh.list_users().expect("list");
        assert_eq!(users.len(), 40);
        for store in &stores {
            assert_eq!(store.list_users().expect("list"), users);
        }
        // One root, created by whichever change came first.
        let root = stores[0].ensure_root(None).expect("root");
        assert_eq!(
            stores[1].ensure_root(None).expect("root").access_key_id,
            root.access_key_id
        );
    }

    #[test]
    fn duplicate_and_invalid_names_and_policies_are_refused() {
        let h = home();
        let store = AccountStore::open(h.path()).expect("open");
        store
            .create_user("bob+ops=1,x.y@z_w-v", None)
            .expect("all allowed characters");
        let e = store
            .create_user("bob+ops=1,x.y@z_w-v", None)
            .expect_err("dup");
        assert!(matches!(e, IamStoreError::UserExists(_)));
        assert_eq!(e.code(), "EntityAlreadyExists");
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            let e = store.create_user(bad, None).expect_err(bad);
            assert!(matches!(e, IamStoreError::InvalidUserName(_)), "{bad}");
        }
        store
            .create_user(&"x".repeat(64), None)
            .expect("64 characters");
        let e = store
            .create_user("carol", Some("{not json"))
            .expect_err("bad json");
        assert!(matches!(e, IamStoreError::MalformedPolicy(_)));
        assert_eq!(e.code(), "MalformedPolicyDocument");
        let with_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
        let e = store
            .create_user("carol", Some(with_principal))
            .expect_err("identity policies name no principal");
        assert!(
            e.to_string().contains("should not specify a principal"),
            "{e}"
        );
        assert!(
            store
                .list_users()
                .expect("list")
                .iter()
                .all(|u| u.user_name != "carol")
        );
        assert!(matches!(
            store.put_user_policy("nobody", "p", POLICY),
            Err(IamStoreError::NoSuchUser(_))
        ));
        assert!(matches!(
            store.put_user_policy(&"x".repeat(64), "p/q", POLICY),
            Err(IamStoreError::InvalidPolicyName(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_group_readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let h = home();
        let store = AccountStore::open(h.path()).expect("open");
        let root = store.ensure_root(None).expect("root");
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o640))
            .expect("chmod");
        let e = AccountStore::open(h.path()).expect_err("group-readable");
        assert!(
            matches!(e, IamStoreError::Permissions { mode: 0o640, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"));
        // A store that had loaded it refuses too once the file changes.
        store
            .create_user("x", None)
            .expect_err("refused while shared");
        assert!(!format!("{e:?}").contains(root.secret.expose_secret()));
    }

    #[test]
    fn a_corrupt_file_is_reported_not_replaced() {
        let h = home();
        let store = AccountStore::open(h.path()).expect("open");
        store.ensure_root(None).expect("root");
        write_atomic(store.path(), b"{\"format\":\"other\"}").expect("write");
        let e = AccountStore::open(h.path()).expect_err("corrupt");
        assert!(matches!(e, IamStoreError::Corrupt { .. }), "{e}");
        assert!(store.create_user("x", None).is_err());
        assert_eq!(
            std::fs::read(store.path()).expect("read"),
            b"{\"format\":\"other\"}"
        );
    }

    #[test]
    fn no_secret_reaches_debug() {
        let h = home();
        let store = AccountStore::open(h.path()).expect("open");
        let root = store.ensure_root(None).expect("root");
        let user = store.create_user("dave", Some(POLICY)).expect("create");
        let who = store
            .authenticate(&user.access_key_id)
            .expect("auth")
            .expect("dave");
        let spec = RootKeySpec::parse("AKIAGIVEN:given-secret-text").expect("spec");
        let secrets = [
            root.secret.expose_secret().to_owned(),
            user.secret_access_key.expose_secret().to_owned(),
            "given-secret-text".to_owned(),
        ];
        let renders = [
            format!("{root:?}"),
            format!("{root:#?}"),
            format!("{user:?}"),
            format!("{who:?}"),
            format!("{:?}", who.credentials()),
            format!("{:?}", root.credentials()),
            format!("{spec:?}"),
            format!("{:?}", root.secret),
            format!("{store:?}"),
            format!("{:?}", store.list_users().expect("list")),
        ];
        for r in &renders {
            for s in &secrets {
                assert!(!r.contains(s.as_str()), "secret in {r}");
            }
        }
        assert!(renders[0].contains("SecretAccessKey([REDACTED])"));
        assert!(
            !format!("{:?}", RootKeySpec::parse("AKIA").expect_err("no secret")).contains("AKIA:")
        );
    }

    #[test]
    fn generated_ids_and_secrets_have_the_aws_shapes() {
        for _ in 0..50 {
            let id = random_id("AKIA", 16).expect("rng");
            assert_eq!(id.len(), 20);
            assert!(id.bytes().all(|b| ID_ALPHABET.contains(&b)));
            let s = SecretAccessKey::generate().expect("rng");
            assert_eq!(s.expose_secret().len(), 40);
            assert!(
                s.expose_secret()
                    .bytes()
                    .all(|b| SECRET_ALPHABET.contains(&b))
            );
        }
        let a = SecretAccessKey::new("x".into());
        assert!(a.ct_eq(&SecretAccessKey::new("x".into())));
        assert!(!a.ct_eq(&SecretAccessKey::new("y".into())));
    }
}
