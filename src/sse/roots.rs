//! SSE-S3 root keys: versioned, rotated by adding a version, all versions kept for reading old objects.
//!
//! Stored in `HOME/sse/roots.json` (mode 0600, replaced atomically): `{"versions": ["<base64 key>", …]}`,
//! version 1 first.

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
    /// # Errors
    /// 500 if the file is unreadable or corrupt (never silently replaced).
    pub fn open(dir: &Path) -> Result<Self, S3Error> {
        crate::fsutil::create_private_dir(dir).map_err(|e| S3Error::internal(e.to_string()))?;
        let path = dir.join("roots.json");
        let versions = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let doc: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|_| S3Error::internal(format!("{} is corrupt", path.display())))?;
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(S3Error::internal(e.to_string())),
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
            RootKey::generate().map_err(|_| S3Error::internal("random number generator failed"))?,
        );
        let doc = serde_json::json!({"versions": self.versions.iter().map(|k| B64.encode(k.expose_secret())).collect::<Vec<_>>()});
        let text = zeroize::Zeroizing::new(doc.to_string());
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if let Err(e) = crate::fsutil::write_atomic(dir, &self.path, text.as_bytes()) {
            self.versions.pop();
            return Err(S3Error::internal(e.to_string()));
        }
        Ok(self.current())
    }
}
