//! SSE-S3 root keys: versioned, rotated by adding a version, all versions kept for reading old objects.
//!
//! Stored in `HOME/sse/roots.json` (mode 0600, replaced atomically): `{"versions": ["<base64 key>", …]}`,
//! version 1 first.
//!
//! A missing `roots.json` is created only in a home without buckets: once objects may exist, a new root
//! would make every SSE-S3 object unreadable, so opening is refused instead (as the KMS store refuses a
//! missing `root.key`). A `roots.json` that other users can read or write is refused too.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::S3Error;
use crate::keys::RootKey;

/// The SSE-S3 root keys.
#[derive(Debug)]
pub struct RootKeys {
    path: PathBuf,
    versions: Vec<RootKey>,
}

impl RootKeys {
    /// Loads the root keys under `dir`, creating version 1 on first use.
    ///
    /// `stored_data` names what would depend on existing roots (the engine passes its `buckets`
    /// directory when any bucket exists): if it is `Some`, a missing `roots.json` is a lost one, and
    /// opening is refused rather than starting over with a new root under which no existing SSE-S3 object
    /// could be opened. A fresh home (`None`) gets version 1.
    ///
    /// # Errors
    /// 500 if the file is unreadable, corrupt, readable by other users, or missing while `stored_data` is
    /// `Some` (never silently replaced).
    pub fn open(dir: &Path, stored_data: Option<&Path>) -> Result<Self, S3Error> {
        crate::fsutil::create_private_dir(dir).map_err(|e| {
            S3Error::internal_because(format!("cannot create {}", dir.display()), e)
        })?;
        let path = dir.join("roots.json");
        let versions = match std::fs::read_to_string(&path) {
            Ok(text) => {
                check_private(&path)?;
                let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    S3Error::internal_because(format!("{} is corrupt", path.display()), e)
                })?;
                let list = doc["versions"]
                    .as_array()
                    .ok_or_else(|| S3Error::internal(format!("{} is corrupt", path.display())))?;
                let mut v = Vec::new();
                for k in list {
                    let raw = zeroize::Zeroizing::new(
                        B64.decode(k.as_str().unwrap_or_default()).map_err(|_| {
                            S3Error::internal(format!("{} is corrupt", path.display()))
                        })?,
                    );
                    v.push(RootKey::try_from_slice(&raw).map_err(|_| {
                        S3Error::internal(format!("{} is corrupt", path.display()))
                    })?);
                }
                if v.is_empty() {
                    return Err(S3Error::internal(format!(
                        "{} has no root key",
                        path.display()
                    )));
                }
                v
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(data) = stored_data {
                    let (path, data) = (path.display(), data.display());
                    return Err(S3Error::internal(format!(
                        "{path} is missing, but {data} exists: the SSE-S3 objects stored there cannot be opened without their root keys; refusing to start with a new root key. Restore roots.json from a backup (or move {data} away to start over without those objects)."
                    )));
                }
                Vec::new()
            }
            Err(e) => {
                return Err(S3Error::internal_because(
                    format!("cannot read {}", path.display()),
                    e,
                ));
            }
        };
        let mut r = Self { path, versions };
        if r.versions.is_empty() {
            r.rotate()?;
        }
        Ok(r)
    }

    /// The newest version number.
    #[must_use]
    pub fn current(&self) -> u32 {
        u32::try_from(self.versions.len()).unwrap_or(u32::MAX)
    }

    /// The key of `version`.
    #[must_use]
    pub fn get(&self, version: u32) -> Option<&RootKey> {
        self.versions.get((version as usize).checked_sub(1)?)
    }

    /// Adds a new version and persists it; returns its number.
    ///
    /// # Errors
    /// 500 on RNG or I/O failure (the old state stays).
    pub fn rotate(&mut self) -> Result<u32, S3Error> {
        self.versions.push(
            RootKey::generate()
                .map_err(|e| S3Error::internal_because("random number generator failed", e))?,
        );
        let doc = serde_json::json!({"versions": self.versions.iter().map(|k| B64.encode(k.expose_secret())).collect::<Vec<_>>()});
        let text = zeroize::Zeroizing::new(doc.to_string());
        if let Err(e) = crate::fsutil::write_atomic(&self.path, text.as_bytes()) {
            self.versions.pop();
            return Err(S3Error::internal_because(
                format!("cannot write {}", self.path.display()),
                e,
            ));
        }
        Ok(self.current())
    }
}

/// Refuses a root-key file that other users can read or write (as the KMS store does for `root.key`).
fn check_private(path: &Path) -> Result<(), S3Error> {
    let meta = std::fs::metadata(path)
        .map_err(|e| S3Error::internal_because(path.display().to_string(), e))?;
    match crate::fsutil::shared_mode(&meta) {
        Some(mode) => Err(S3Error::internal(format!(
            "{} has mode {mode:o}; it must be readable by its owner only (chmod 600)",
            path.display()
        ))),
        None => Ok(()),
    }
}
