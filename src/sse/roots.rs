//! SSE-S3 root keys: versioned, rotated by adding a version, all versions kept for reading old objects.
//!
//! Stored in `HOME/sse/roots.json` (mode 0600, replaced atomically): `{"versions": ["<base64 key>", …]}`,
//! version 1 first.
//!
//! A missing `roots.json` is created only in a home without buckets: once objects may exist, a new root
//! would make every SSE-S3 object unreadable, so opening is refused instead (as the KMS store refuses a
//! missing `root.key`). A `roots.json` that other users can read or write is refused too.
//!
//! Several processes may use one home at once. Rotation (and creation on first use) is a locked
//! read-modify-write: under an exclusive advisory lock on `HOME/sse/roots.lock`, `roots.json` is re-read,
//! the new version appended to what is on disk and saved, so two rotations never lose a version and two
//! first uses create one version 1. Readers take no lock: [`RootKeys::refresh`] re-reads the file when
//! its [`FileStamp`] changed (the engine calls it before choosing the version for a new object and when
//! an object names a version it does not have). A re-read file must keep every version this process
//! already has: versions are only ever added.

#[cfg(feature = "s3-client")]
pub mod sealed;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::S3Error;
use crate::fsutil::{FileStamp, LockGuard};
use crate::keys::RootKey;

/// How long a rotation waits for another process's rotation (which takes milliseconds).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The SSE-S3 root keys.
#[derive(Debug)]
pub struct RootKeys {
    path: PathBuf,
    versions: Vec<RootKey>,
    /// The version of `roots.json` that `versions` came from.
    stamp: Option<FileStamp>,
    /// Instead of `roots.json`: a document every instance shares ([`SharedRoots`]).
    shared: Option<Shared>,
}

/// A shared root-key document and the tag of its current version.
pub type TaggedDocument = (zeroize::Zeroizing<Vec<u8>>, String);

/// Where instances that share their objects keep the root keys: one document, read and replaced whole
/// and conditionally (the gateway keeps it in the upstream's state bucket, sealed under a KMS key).
/// The document is `roots.json`'s text; sealing is the vault's business.
pub trait SharedRoots: Send + Sync + std::fmt::Debug {
    /// The document and a tag that changes whenever it is replaced; `None` if there is none yet.
    ///
    /// # Errors
    /// 500 if it cannot be read or unsealed.
    fn load(&self) -> Result<Option<TaggedDocument>, S3Error>;

    /// The current tag alone (cheap), `None` if there is no document.
    ///
    /// # Errors
    /// 500 if it cannot be asked.
    fn tag(&self) -> Result<Option<String>, S3Error>;

    /// Replaces the document if its tag is still `expected` (`None`: only if there is none); `false` if
    /// another instance replaced it first.
    ///
    /// # Errors
    /// 500 if it cannot be sealed or written.
    fn store(&self, document: &[u8], expected: Option<&str>) -> Result<bool, S3Error>;
}

/// How long a shared document's tag is trusted before it is asked again.
const SHARED_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);
/// Rotations retried after losing a race with another instance's.
const SHARED_RETRIES: usize = 8;

#[derive(Debug)]
struct Shared {
    vault: std::sync::Arc<dyn SharedRoots>,
    tag: Option<String>,
    checked: std::time::Instant,
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
        let mut r = Self {
            path: dir.join("roots.json"),
            versions: Vec::new(),
            stamp: None,
            shared: None,
        };
        if r.reload()? {
            return Ok(r);
        }
        if let Some(data) = stored_data {
            let (path, data) = (r.path.display(), data.display());
            return Err(S3Error::internal(format!(
                "{path} is missing, but {data} exists: the SSE-S3 objects stored there cannot be opened without their root keys; refusing to start with a new root key. Restore roots.json from a backup (or move {data} away to start over without those objects)."
            )));
        }
        // Under the lock, so that of two processes starting at once the second reads the first's.
        let locked = r.lock()?;
        if !r.reload()? {
            r.add_version(&locked)?;
        }
        Ok(r)
    }

    /// Loads the root keys from a document shared by several instances, creating version 1 on first
    /// use unless `stored_data` says objects may already depend on roots (then a missing document is
    /// refused, as a missing `roots.json` is).
    ///
    /// # Errors
    /// 500 if the document cannot be read, unsealed or written, is corrupt, or is missing while
    /// `stored_data` is `Some`.
    pub fn open_shared(
        vault: std::sync::Arc<dyn SharedRoots>,
        stored_data: Option<&str>,
    ) -> Result<Self, S3Error> {
        let mut r = Self {
            path: PathBuf::from("the shared root keys"),
            versions: Vec::new(),
            stamp: None,
            shared: Some(Shared {
                vault,
                tag: None,
                checked: std::time::Instant::now(),
            }),
        };
        if r.reload()? {
            return Ok(r);
        }
        if let Some(data) = stored_data {
            return Err(S3Error::internal(format!(
                "the shared SSE-S3 root keys are missing, but {data} exists: its SSE-S3 objects cannot be opened without them; refusing to start with a new root key"
            )));
        }
        r.add_shared_version()?;
        Ok(r)
    }

    /// The newest version number this process knows ([`RootKeys::refresh`] first to see another
    /// process's rotation).
    #[must_use]
    pub fn current(&self) -> u32 {
        u32::try_from(self.versions.len()).unwrap_or(u32::MAX)
    }

    /// The key of `version`.
    #[must_use]
    pub fn get(&self, version: u32) -> Option<&RootKey> {
        self.versions.get((version as usize).checked_sub(1)?)
    }

    /// Re-reads `roots.json` if another process replaced it (a rotation) since this one read or wrote
    /// it; one `stat` otherwise.
    ///
    /// # Errors
    /// 500 if the file cannot be read, is corrupt, or lost versions this process has.
    pub fn refresh(&mut self) -> Result<(), S3Error> {
        if let Some(sh) = &mut self.shared {
            if sh.checked.elapsed() < SHARED_RECHECK {
                return Ok(());
            }
            let tag = sh.vault.tag()?;
            sh.checked = std::time::Instant::now();
            if tag != sh.tag {
                self.reload()?;
            }
            return Ok(());
        }
        let on_disk = FileStamp::of_path(&self.path).map_err(|e| {
            S3Error::internal_because(format!("cannot read {}", self.path.display()), e)
        })?;
        if on_disk != self.stamp {
            self.reload()?;
        }
        Ok(())
    }

    /// The key of `version`, re-reading `roots.json` first if this process does not have that version
    /// (another process rotated since).
    ///
    /// # Errors
    /// 500 as [`RootKeys::refresh`].
    pub fn get_fresh(&mut self, version: u32) -> Result<Option<&RootKey>, S3Error> {
        if self.get(version).is_none() {
            if let Some(sh) = &mut self.shared {
                // An object names a version this instance has not seen: ask now.
                sh.checked = std::time::Instant::now() - SHARED_RECHECK;
            }
            self.refresh()?;
        }
        Ok(self.get(version))
    }

    /// Adds a new version and persists it; returns its number. Versions another process added first are
    /// kept (the file is re-read under the lock).
    ///
    /// # Errors
    /// 500 on RNG or I/O failure, or if another process kept the lock for too long (the old state
    /// stays).
    pub fn rotate(&mut self) -> Result<u32, S3Error> {
        if self.shared.is_some() {
            return self.add_shared_version();
        }
        let locked = self.lock()?;
        self.refresh()?;
        self.add_version(&locked)
    }

    /// Appends a version and writes the file; the caller holds the lock and has just re-read it.
    fn add_version(&mut self, _locked: &LockGuard) -> Result<u32, S3Error> {
        self.versions.push(
            RootKey::generate()
                .map_err(|e| S3Error::internal_because("random number generator failed", e))?,
        );
        let text = self.document();
        let written = crate::fsutil::write_atomic(&self.path, text.as_bytes())
            .map_err(std::io::Error::other)
            .and_then(|()| FileStamp::of_path(&self.path));
        match written {
            Ok(stamp) => {
                self.stamp = stamp;
                Ok(self.current())
            }
            Err(e) => {
                self.versions.pop();
                Err(S3Error::internal_because(
                    format!("cannot write {}", self.path.display()),
                    e,
                ))
            }
        }
    }

    /// The document of the versions this process has.
    fn document(&self) -> zeroize::Zeroizing<String> {
        let doc = serde_json::json!({"versions": self.versions.iter().map(|k| B64.encode(k.expose_secret())).collect::<Vec<_>>()});
        zeroize::Zeroizing::new(doc.to_string())
    }

    /// Adds a version to the shared document: re-read, append, replace if nobody else did meanwhile,
    /// else start over from the other instance's document.
    fn add_shared_version(&mut self) -> Result<u32, S3Error> {
        for _ in 0..SHARED_RETRIES {
            let vault = match &self.shared {
                Some(sh) => std::sync::Arc::clone(&sh.vault),
                None => return Err(S3Error::internal("the root keys are not shared")),
            };
            self.reload()?;
            let expected = self.shared.as_ref().and_then(|sh| sh.tag.clone());
            self.versions.push(
                RootKey::generate()
                    .map_err(|e| S3Error::internal_because("random number generator failed", e))?,
            );
            let text = self.document();
            match vault.store(text.as_bytes(), expected.as_deref()) {
                Ok(true) => {
                    // The new tag is read back with the document.
                    let n = self.current();
                    self.versions.pop();
                    self.reload()?;
                    if self.current() < n {
                        return Err(S3Error::internal(
                            "the shared root keys did not keep the new version",
                        ));
                    }
                    return Ok(n);
                }
                Ok(false) => {
                    self.versions.pop();
                }
                Err(e) => {
                    self.versions.pop();
                    return Err(e);
                }
            }
        }
        Err(S3Error::internal(
            "other instances kept replacing the shared root keys; try the rotation again",
        ))
    }

    /// Locks `roots.lock` beside `roots.json` for a read-modify-write.
    fn lock(&self) -> Result<LockGuard, S3Error> {
        let path = crate::fsutil::parent_dir(&self.path).join("roots.lock");
        crate::fsutil::lock_exclusive(&path, LOCK_WAIT)
            .map_err(|e| S3Error::internal_because(format!("cannot lock {}", path.display()), e))
    }

    /// Reads `roots.json`; `false` if it does not exist.
    fn reload(&mut self) -> Result<bool, S3Error> {
        use std::io::Read as _;
        if let Some(sh) = &self.shared {
            let Some((text, tag)) = sh.vault.load()? else {
                if self.versions.is_empty() {
                    return Ok(false);
                }
                return Err(S3Error::internal(
                    "the shared SSE-S3 root keys were removed while in use; restore them from a backup",
                ));
            };
            self.accept(&text)?;
            if let Some(sh) = &mut self.shared {
                sh.tag = Some(tag);
                sh.checked = std::time::Instant::now();
            }
            return Ok(true);
        }
        let path = &self.path;
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.versions.is_empty() {
                    return Ok(false);
                }
                return Err(S3Error::internal(format!(
                    "{} was removed while in use; restore it from a backup",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(S3Error::internal_because(
                    format!("cannot read {}", path.display()),
                    e,
                ));
            }
        };
        check_private(path)?;
        let read_err = |e| S3Error::internal_because(format!("cannot read {}", path.display()), e);
        // The stamp of the version read, even if another is renamed over the path meanwhile.
        let stamp = FileStamp::of_file(&file).map_err(read_err)?;
        let mut text = zeroize::Zeroizing::new(Vec::new());
        file.read_to_end(&mut text).map_err(read_err)?;
        self.accept(&text)?;
        self.stamp = Some(stamp);
        Ok(true)
    }

    /// Takes the versions of a document, which must keep every version this process has.
    fn accept(&mut self, text: &[u8]) -> Result<(), S3Error> {
        let path = &self.path;
        let corrupt = || S3Error::internal(format!("{} is corrupt", path.display()));
        let doc: serde_json::Value = serde_json::from_slice(text)
            .map_err(|e| S3Error::internal_because(format!("{} is corrupt", path.display()), e))?;
        let list = doc["versions"].as_array().ok_or_else(corrupt)?;
        let mut v = Vec::with_capacity(list.len());
        for k in list {
            let raw = zeroize::Zeroizing::new(
                B64.decode(k.as_str().unwrap_or_default())
                    .map_err(|_| corrupt())?,
            );
            v.push(RootKey::try_from_slice(&raw).map_err(|_| corrupt())?);
        }
        if v.is_empty() {
            return Err(S3Error::internal(format!(
                "{} has no root key",
                path.display()
            )));
        }
        // Versions are only added: a file without one this process uses would orphan its objects.
        let kept =
            v.len() >= self.versions.len() && self.versions.iter().zip(&v).all(|(a, b)| a.ct_eq(b));
        if !kept {
            return Err(S3Error::internal(format!(
                "{} no longer holds the root key versions this process uses; restore it from a backup",
                path.display()
            )));
        }
        self.versions = v;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_by_another_instance_is_seen() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut a = RootKeys::open(dir.path(), None).expect("a");
        let mut b = RootKeys::open(dir.path(), None).expect("b");
        assert_eq!((a.current(), b.current()), (1, 1));
        assert!(a.get(1).expect("a1").ct_eq(b.get(1).expect("b1")));
        assert_eq!(b.rotate().expect("rotate"), 2);
        // An object naming version 2: a re-reads the file for it.
        assert!(a.get(2).is_none());
        let a2 = a.get_fresh(2).expect("fresh").expect("a has v2");
        assert!(a2.ct_eq(b.get(2).expect("b2")));
        // a's rotation starts from b's version 2, not from its own earlier view.
        assert_eq!(b.rotate().expect("rotate"), 3);
        assert_eq!(a.rotate().expect("rotate"), 4);
        b.refresh().expect("refresh");
        assert_eq!(b.current(), 4);
        let reopened = RootKeys::open(dir.path(), None).expect("reopen");
        for v in 1..=4 {
            assert!(reopened.get(v).expect("v").ct_eq(a.get(v).expect("a's v")));
        }
        assert!(a.get_fresh(5).expect("fresh").is_none());
    }

    #[test]
    fn concurrent_rotations_lose_no_version() {
        const EACH: u32 = 10;
        let dir = tempfile::tempdir().expect("tmp");
        RootKeys::open(dir.path(), None).expect("create");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (path, barrier) = (dir.path().to_owned(), barrier.clone());
                std::thread::spawn(move || {
                    let mut r = RootKeys::open(&path, None).expect("open");
                    barrier.wait();
                    (0..EACH)
                        .map(|_| r.rotate().expect("rotate"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut numbers: Vec<u32> = threads
            .into_iter()
            .flat_map(|t| t.join().expect("thread"))
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (2..=2 * EACH + 1).collect::<Vec<_>>());
        let r = RootKeys::open(dir.path(), None).expect("reopen");
        assert_eq!(r.current(), 2 * EACH + 1);
    }

    #[test]
    fn instances_starting_together_create_one_first_version() {
        let dir = tempfile::tempdir().expect("tmp");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (path, barrier) = (dir.path().to_owned(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    RootKeys::open(&path, None).expect("open")
                })
            })
            .collect();
        let all: Vec<RootKeys> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        for r in &all {
            assert_eq!(r.current(), 1);
            assert!(r.get(1).expect("v1").ct_eq(all[0].get(1).expect("v1")));
        }
    }

    #[test]
    fn a_file_that_lost_versions_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut a = RootKeys::open(dir.path(), None).expect("a");
        let before = std::fs::read(dir.path().join("roots.json")).expect("read");
        a.rotate().expect("rotate");
        let mut b = RootKeys::open(dir.path(), None).expect("b");
        // An old backup restored over the file while b uses version 2.
        crate::fsutil::write_atomic(&dir.path().join("roots.json"), &before).expect("restore");
        assert!(b.refresh().is_err());
        assert_eq!(b.current(), 2, "b keeps what it had");
    }

    /// A shared document in memory, with the conditional replace of an object store.
    #[derive(Debug, Default)]
    struct MemVault {
        doc: std::sync::Mutex<Option<(Vec<u8>, u64)>>,
        /// Replaces the document once behind the next caller's back (a racing instance).
        race: std::sync::Mutex<Option<Vec<u8>>>,
    }

    impl SharedRoots for MemVault {
        fn load(&self) -> Result<Option<TaggedDocument>, S3Error> {
            let d = self.doc.lock().expect("lock");
            Ok(d.as_ref()
                .map(|(b, n)| (zeroize::Zeroizing::new(b.clone()), n.to_string())))
        }

        fn tag(&self) -> Result<Option<String>, S3Error> {
            Ok(self
                .doc
                .lock()
                .expect("lock")
                .as_ref()
                .map(|(_, n)| n.to_string()))
        }

        fn store(&self, document: &[u8], expected: Option<&str>) -> Result<bool, S3Error> {
            let mut d = self.doc.lock().expect("lock");
            if let Some(other) = self.race.lock().expect("lock").take() {
                let n = d.as_ref().map_or(0, |(_, n)| n + 1);
                *d = Some((other, n));
            }
            let current = d.as_ref().map(|(_, n)| n.to_string());
            if current.as_deref() != expected {
                return Ok(false);
            }
            let n = d.as_ref().map_or(0, |(_, n)| n + 1);
            *d = Some((document.to_vec(), n));
            Ok(true)
        }
    }

    #[test]
    fn shared_roots_are_created_once_and_rotations_by_two_instances_both_survive() {
        let vault = std::sync::Arc::new(MemVault::default());
        let mut a = RootKeys::open_shared(vault.clone(), None).expect("a");
        let mut b = RootKeys::open_shared(vault.clone(), Some("buckets")).expect("b");
        assert_eq!((a.current(), b.current()), (1, 1));
        assert!(a.get(1).expect("a1").ct_eq(b.get(1).expect("b1")));
        // b rotates; a sees version 2 as soon as an object names it.
        assert_eq!(b.rotate().expect("rotate"), 2);
        let a2 = a.get_fresh(2).expect("fresh").expect("a has v2");
        assert!(a2.ct_eq(b.get(2).expect("b2")));
        // A rotation that loses the race to another instance's starts over from theirs: both kept.
        let mut c = RootKeys::open_shared(vault.clone(), Some("buckets")).expect("c");
        assert_eq!(c.rotate().expect("rotate c"), 3);
        let theirs = c.document();
        *vault.race.lock().expect("lock") = Some(theirs.as_bytes().to_vec());
        assert_eq!(a.rotate().expect("rotate a"), 4);
        let reopened = RootKeys::open_shared(vault.clone(), Some("buckets")).expect("reopen");
        assert_eq!(reopened.current(), 4);
        for v in 1..=3 {
            assert!(reopened.get(v).expect("v").ct_eq(c.get(v).expect("c's v")));
        }
        assert!(
            reopened
                .get(4)
                .expect("v4")
                .ct_eq(a.get(4).expect("a's v4"))
        );
    }

    #[test]
    fn a_missing_shared_document_is_refused_once_objects_may_depend_on_it() {
        let vault = std::sync::Arc::new(MemVault::default());
        let err = RootKeys::open_shared(vault.clone(), Some("the upstream's buckets"))
            .expect_err("refused");
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(vault.tag().expect("tag").is_none(), "nothing was written");
    }
}
