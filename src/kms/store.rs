//! Persistence of the mock KMS in a state directory.
//!
//! ```text
//! DIR/                 created with mode 0700
//!   root.key           32 random bytes, mode 0600: the local root that wraps all key material at rest
//!   state.json         keys, aliases, policies; every backing key wrapped under root.key
//!   audit.log          the audit log (JSON lines), mode 0600
//!   lock               locked (exclusive advisory lock) by a process while it changes the directory
//! ```
//!
//! `state.json` is replaced atomically (write a temporary file, fsync, rename over, fsync the directory),
//! so a crash leaves either the old or the new state, never a torn one. A state file that fails to parse
//! or to unwrap is reported as [`StoreError::Corrupt`] and is never silently replaced by an empty store.
//!
//! # Several processes
//! Any number of processes (a `kms serve` or `serve`, CLI commands) may open the directory at once; none
//! owns it. Every change is a transaction across processes ([`Store::lock`], waiting at most
//! [`LOCK_WAIT`]): lock `lock`, re-read `state.json` if another process replaced it since this one last
//! read or wrote it (its [`FileStamp`] differs), apply the change to that fresh state, save, unlock. So
//! two processes never lose each other's updates. Reads take no lock (a save is an atomic rename): they
//! compare the stamp of `state.json` (one `stat`) and re-read it when it changed, so each process sees
//! the others' changes on its next call. Creating `root.key` on first use, and removing the temporary
//! files of killed runs, also happen under the lock, so two processes starting on an empty directory
//! end with one root key. The quota, its counters and the audit sink stay per process: each process
//! has its own token bucket, and all append to the same `audit.log`.
//!
//! Wrapped material: `IV(12) ‖ AES-256-GCM(root, IV, aad = "s3crypt/mock-kms/material/v1" ‖ key id ‖
//! BE32(version), material) ‖ tag(16)`: material cannot be moved between keys or versions undetected.

use std::fmt;
use std::fs::{self, File};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{FileStamp, LockGuard, create_private_dir, write_atomic};
use crate::keys::{KeyEncryptionKey, RootKey};
use crate::primitives::{Aes256Gcm, random_array};

pub(super) const FORMAT: &str = "s3crypt/mock-kms/v1";
const MATERIAL_AAD: &[u8] = b"s3crypt/mock-kms/material/v1";
/// How long a change waits for another process to finish its own change of the state directory.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A state directory problem.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error on `path`.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file exists but is not a valid state: truncated, edited, or wrapped under another root key.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another process kept the state directory locked for longer than [`LOCK_WAIT`] (a change takes
    /// milliseconds: that process is stuck, or is not s3crypt).
    Busy {
        /// The directory.
        path: PathBuf,
    },
    /// The root key file is readable by other users.
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Corrupt { path, reason } => write!(
                f,
                "{} is corrupt ({reason}); refusing to start with an empty key store. Restore it from a backup or move it away.",
                path.display()
            ),
            Self::Busy { path } => write!(
                f,
                "{} stayed locked by another process for more than {} s",
                path.display(),
                LOCK_WAIT.as_secs()
            ),
            Self::Permissions { path, mode } => {
                write!(
                    f,
                    "{} has mode {mode:o}; it must be readable by its owner only (chmod 600)",
                    path.display()
                )
            }
        }
    }
}

impl From<crate::fsutil::AtomicWriteError> for StoreError {
    fn from(e: crate::fsutil::AtomicWriteError) -> Self {
        let (path, source) = e.into_parts();
        Self::Io { path, source }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The serialized state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct StoredState {
    pub(super) format: String,
    pub(super) account_id: String,
    pub(super) region: String,
    pub(super) keys: Vec<StoredKey>,
    pub(super) aliases: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct StoredKey {
    pub(super) id: String,
    pub(super) description: String,
    pub(super) usage: String,
    pub(super) created_ms: u64,
    pub(super) state: String,
    pub(super) deletion_ms: Option<u64>,
    pub(super) window_days: Option<u32>,
    pub(super) rotation_period_days: Option<u32>,
    pub(super) policy: String,
    /// Base64 of the wrapped material, version 1 first.
    pub(super) materials: Vec<StoredMaterial>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct StoredMaterial {
    pub(super) created_ms: u64,
    pub(super) wrapped: String,
}

/// An open state directory.
#[derive(Debug)]
pub(super) struct Store {
    dir: PathBuf,
    root: Aes256Gcm,
}

/// What [`Store::load`] read: the state (`None` if there is none yet) and the version of `state.json` it
/// came from.
pub(super) type Loaded = (Option<StoredState>, Option<FileStamp>);

impl Store {
    /// Opens (creating on first use) the state directory and loads its state, if any.
    pub(super) fn open(dir: &Path) -> Result<(Self, Loaded), StoreError> {
        create_private_dir(dir).map_err(io(dir))?;
        let guard = lock(dir)?;
        // Only temporaries no process holds locked, and old enough that their writer is not between
        // creating and locking them (the rule of every s3crypt store, `fsutil::STALE_AFTER`).
        crate::fsutil::clean_stale_older_than(dir, crate::fsutil::STALE_AFTER).map_err(io(dir))?;
        let root_path = dir.join("root.key");
        let state_path = dir.join("state.json");
        let root = match fs::read(&root_path) {
            Ok(bytes) => {
                check_private(&root_path)?;
                RootKey::try_from_slice(&bytes).map_err(|_| StoreError::Corrupt {
                    path: root_path.clone(),
                    reason: format!("{} bytes, expected 32", bytes.len()),
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if state_path.exists() {
                    return Err(StoreError::Corrupt {
                        path: root_path,
                        reason: "missing, but state.json exists: its keys cannot be unwrapped"
                            .into(),
                    });
                }
                // Under the lock: a process starting at the same moment reads this one.
                let key = RootKey::generate().map_err(|e| StoreError::Io {
                    path: root_path.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                write_atomic(&root_path, key.expose_secret())?;
                key
            }
            Err(e) => {
                return Err(StoreError::Io {
                    path: root_path,
                    source: e,
                });
            }
        };
        let store = Self {
            dir: dir.to_owned(),
            root: Aes256Gcm::new(root.expose_secret()),
        };
        let loaded = store.load()?;
        drop(guard);
        Ok((store, loaded))
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Locks the directory for a change (read, modify, [`Store::save`]), waiting at most [`LOCK_WAIT`].
    pub(super) fn lock(&self) -> Result<LockGuard, StoreError> {
        lock(&self.dir)
    }

    /// The version of `state.json` on disk now (`None` if there is none).
    pub(super) fn stamp(&self) -> Result<Option<FileStamp>, StoreError> {
        let path = self.dir.join("state.json");
        FileStamp::of_path(&path).map_err(io(&path))
    }

    /// Reads `state.json` with the stamp of the version read.
    pub(super) fn load(&self) -> Result<Loaded, StoreError> {
        let state_path = self.dir.join("state.json");
        let mut file = match File::open(&state_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, None)),
            Err(e) => {
                return Err(StoreError::Io {
                    path: state_path,
                    source: e,
                });
            }
        };
        // The stamp of the open file: the version read, even if another is renamed over it meanwhile.
        let stamp = FileStamp::of_file(&file).map_err(io(&state_path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io(&state_path))?;
        let s: StoredState = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: state_path.clone(),
            reason: e.to_string(),
        })?;
        if s.format != FORMAT {
            return Err(StoreError::Corrupt {
                path: state_path,
                reason: format!("unknown format {:?}", s.format),
            });
        }
        Ok((Some(s), Some(stamp)))
    }

    /// Atomically replaces `state.json`; the caller holds [`Store::lock`]. Returns the stamp of the
    /// version written.
    pub(super) fn save(
        &self,
        state: &StoredState,
        _locked: &LockGuard,
    ) -> Result<Option<FileStamp>, StoreError> {
        let path = self.dir.join("state.json");
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        write_atomic(&path, &bytes)?;
        // Nobody else can replace it while the lock is held.
        self.stamp()
    }

    pub(super) fn wrap(
        &self,
        key_id: &str,
        version: u32,
        material: &KeyEncryptionKey,
    ) -> Result<String, StoreError> {
        use base64::Engine as _;
        let path = self.dir.join("state.json");
        let iv = random_array::<12>().map_err(|e| StoreError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let sealed = self
            .root
            .seal(&iv, &aad(key_id, version), material.expose_secret())
            .map_err(|e| StoreError::Io {
                path,
                source: std::io::Error::other(e.to_string()),
            })?;
        let mut out = iv.to_vec();
        out.extend_from_slice(&sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub(super) fn unwrap(
        &self,
        key_id: &str,
        version: u32,
        wrapped: &str,
    ) -> Result<KeyEncryptionKey, StoreError> {
        use base64::Engine as _;
        let corrupt = |reason: &str| StoreError::Corrupt {
            path: self.dir.join("state.json"),
            reason: reason.to_owned(),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(wrapped)
            .map_err(|_| corrupt("wrapped key material is not base64"))?;
        if bytes.len() < 12 {
            return Err(corrupt("wrapped key material is truncated"));
        }
        let (iv, sealed) = bytes.split_at(12);
        let iv: [u8; 12] = iv.try_into().map_err(|_| corrupt("bad IV"))?;
        let plain =
            zeroize::Zeroizing::new(self.root.open(&iv, &aad(key_id, version), sealed).map_err(
                |_| {
                    corrupt(&format!(
                        "key material of {key_id} v{version} does not authenticate under root.key"
                    ))
                },
            )?);
        KeyEncryptionKey::try_from_slice(&plain)
            .map_err(|_| corrupt("key material has the wrong length"))
    }
}

/// Locks `DIR/lock`, waiting at most [`LOCK_WAIT`].
fn lock(dir: &Path) -> Result<LockGuard, StoreError> {
    let path = dir.join("lock");
    crate::fsutil::lock_exclusive(&path, LOCK_WAIT).map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            StoreError::Busy {
                path: dir.to_owned(),
            }
        } else {
            StoreError::Io { path, source: e }
        }
    })
}

fn aad(key_id: &str, version: u32) -> Vec<u8> {
    let mut a = MATERIAL_AAD.to_vec();
    a.extend_from_slice(key_id.as_bytes());
    a.extend_from_slice(&version.to_be_bytes());
    a
}

fn check_private(path: &Path) -> Result<(), StoreError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    match crate::fsutil::shared_mode(&meta) {
        Some(mode) => Err(StoreError::Permissions {
            path: path.to_owned(),
            mode,
        }),
        None => Ok(()),
    }
}
