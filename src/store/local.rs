//! The local directory store, the embedded default [`ObjectStore`].
//!
//! ```text
//! HOME/buckets/<bucket>/bucket.json                 configuration documents by name (JSON object;
//!                                                   `encryption` is kept as `encryption_xml`, as before)
//! HOME/buckets/<bucket>/objects/<hex(SHA-256(key))> the stored bytes of one object; any key S3 accepts fits
//! HOME/buckets/<bucket>/index/<hex(SHA-256(key))>.json
//!                                                   the `null` version's entry: key, metadata, ETag of
//!                                                   multipart bytes, order, delete marker, Object Lock
//! HOME/buckets/<bucket>/versions/<hex(SHA-256(key))>/<version id>, <version id>.json
//!                                                   every other version: its stored bytes and entry (a
//!                                                   delete marker has only the entry)
//! HOME/buckets/<bucket>/uploads/<upload id>/upload.json, part-<nnnnn>, part-<nnnnn>.md5
//!                                                   a multipart upload in progress (`.md5`: the part's
//!                                                   MD5, bound to its size and modification time)
//! HOME/buckets/<bucket>/.config.lock              locked while a process changes bucket.json
//! <any of those dirs>/.s3crypt-<what>-<random>.tmp  a writer's temporary file, locked while in use
//! ```
//!
//! Several processes may use one store at once. `bucket.json` is read, changed and written back, so
//! creating a bucket and changing a configuration document happen under an exclusive advisory lock on
//! the bucket's `.config.lock` (`fsutil::lock_exclusive`): two processes changing different documents
//! keep both changes. Objects need no such lock: each write replaces its own files atomically.
//!
//! Every write goes to a locked temporary file in the destination's directory, is fsynced and renamed
//! over the destination, and the directory is fsynced: a reader sees the old or the new bytes, whole. A
//! writer that dies leaves only its temporary file, which [`LocalStore::clean_stale_temporaries`] (run
//! by [`LocalStore::open`]) removes once no process holds its lock. The object's bytes are renamed into
//! place before its index entry; an index entry whose size disagrees with the bytes (a crash between the
//! two renames) still names the right key (the file name is the key's hash), and its multipart ETag is
//! bound to the bytes it was made for, so the index never describes bytes that are not there.
//!
//! ETags: the local store's ETag of single-part bytes is derived from their size and modification time
//! (it changes whenever they are replaced; computing an MD5 would cost a pass over every object, and
//! the SSE engine keeps the S3 ETag in its own header). Multipart objects get S3's `"<md5>-<n>"`.
//!
//! Versions: the `null` version (what a never-versioned bucket has, and what writes make while versioning
//! is suspended) keeps the layout of an unversioned store, so a bucket that never enables versioning
//! costs nothing more. Every other version has its own files under `versions/`, written bytes first,
//! entry second (an entry is what makes a version exist). A key's versions are ordered by the entry's
//! `seq` (nanoseconds at the write, strictly increasing within a process); the `null` version of a
//! never-versioned write has no `seq` and is ordered by its bytes' modification time, which is older
//! than any later write. The newest version is the current one. A delete marker is an entry without
//! bytes. The versioning state is the field `versioning_status` of `bucket.json`.
//!
//! Retention and legal hold are fields of a version's entry, rewritten atomically; the S3 layer checks
//! a version's lock before it deletes or overwrites it.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    BucketInfo, ListPage, ListRequest, MAX_KEYS, Metadata, MultipartUpload, NULL_VERSION,
    ObjectInfo, ObjectLock, ObjectStore, PartInfo, ReadSeek, Retention, RetentionMode, StoreError,
    StoredObject, StoredRange, VersionListRequest, VersionPage, Versioning, is_valid_version_id,
};
use crate::fsutil::Staged;
use crate::primitives::hash::Md5;

/// Writers' temporary files are `.s3crypt-<what>-<random>.tmp`.
pub const TEMP_PREFIX: &str = ".s3crypt-";
/// See [`TEMP_PREFIX`].
pub const TEMP_SUFFIX: &str = ".tmp";
/// Names of temporary files of earlier versions (never locked).
const LEGACY_TEMP_PREFIXES: [&str; 2] = [".put-", ".reseal-"];
/// An unlocked temporary file untouched for this long belongs to a writer that is gone.
pub const STALE_AFTER: Duration = crate::fsutil::STALE_AFTER;
/// How long a change of `bucket.json` waits for another process's change (which takes milliseconds).
const CONFIG_LOCK_WAIT: Duration = Duration::from_secs(10);
/// The most parts an upload may have.
pub const MAX_PARTS: u32 = 10_000;

/// The local directory store under `HOME/buckets`.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    removed_at_open: Vec<PathBuf>,
}

/// Which version of a key: the `null` one or another.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    Null,
    Id(String),
}

impl Slot {
    fn of(version_id: &str) -> Self {
        if version_id == NULL_VERSION {
            Self::Null
        } else {
            Self::Id(version_id.to_owned())
        }
    }

    fn id(&self) -> &str {
        match self {
            Self::Null => NULL_VERSION,
            Self::Id(id) => id,
        }
    }
}

/// A version as [`LocalStore::load`] found it.
struct Loaded {
    info: ObjectInfo,
    entry: Entry,
    /// The stored bytes, opened; `None` for a delete marker.
    file: Option<File>,
    seq: u64,
}

/// The field of `bucket.json` holding the versioning state.
const VERSIONING_FIELD: &str = "versioning_status";

/// A version's entry: the key (which file names only hash), the metadata and the version's state. The
/// `null` version's entry is rewritten only when it changes, so an overwrite of an unversioned object
/// with the same metadata costs no entry write.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Entry {
    key: String,
    metadata: Metadata,
    /// A multipart object's S3-style ETag, valid only for the bytes it was made for.
    #[serde(default)]
    multipart: Option<MultipartTag>,
    /// Order among the key's versions (see the module documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "is_false")]
    delete_marker: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retention: Option<StoredRetention>,
    #[serde(default, skip_serializing_if = "is_false")]
    legal_hold: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// Object Lock retention as an entry keeps it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct StoredRetention {
    /// `GOVERNANCE` or `COMPLIANCE`.
    mode: String,
    /// Retain-until, in nanoseconds since the epoch.
    until_ns: u64,
}

impl StoredRetention {
    fn of(r: &Retention) -> Self {
        Self {
            mode: match r.mode {
                RetentionMode::Governance => "GOVERNANCE",
                RetentionMode::Compliance => "COMPLIANCE",
            }
            .to_owned(),
            until_ns: nanos64(r.retain_until),
        }
    }

    fn retention(&self) -> Result<Retention, StoreError> {
        let mode = match self.mode.as_str() {
            "GOVERNANCE" => RetentionMode::Governance,
            "COMPLIANCE" => RetentionMode::Compliance,
            other => return Err(StoreError::Corrupt(format!("retention mode {other:?}"))),
        };
        Ok(Retention {
            mode,
            retain_until: UNIX_EPOCH + Duration::from_nanos(self.until_ns),
        })
    }
}

impl Entry {
    fn new(key: &str, metadata: &Metadata, lock: &ObjectLock) -> Self {
        Self {
            key: key.to_owned(),
            metadata: metadata.clone(),
            retention: lock.retention.as_ref().map(StoredRetention::of),
            legal_hold: lock.legal_hold,
            ..Self::default()
        }
    }

    fn marker(key: &str, seq: u64) -> Self {
        Self {
            key: key.to_owned(),
            seq: Some(seq),
            delete_marker: true,
            ..Self::default()
        }
    }
}

/// A multipart ETag bound to the stored bytes it describes (their size and modification time).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct MultipartTag {
    etag: String,
    size: u64,
    modified_ns: u128,
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

/// Nanoseconds since the epoch as a `u64` (enough until 2554).
fn nanos64(t: SystemTime) -> u64 {
    u64::try_from(nanos(t)).unwrap_or(u64::MAX)
}

/// The order of a version written now: nanoseconds since the epoch, strictly increasing within this
/// process (two writes in one nanosecond, or a clock stepping back, still get increasing values).
fn next_seq() -> u64 {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = nanos64(SystemTime::now());
    let prev = LAST
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |last| Some(now.max(last.saturating_add(1))),
        )
        .unwrap_or(0);
    now.max(prev.saturating_add(1))
}

/// A new version id: 32 URL-safe characters from 24 random bytes, starting with a letter or digit.
fn new_version_id() -> Result<String, StoreError> {
    crate::primitives::random_id::<24>()
        .map_err(|e| StoreError::Corrupt(format!("random number generator: {e}")))
}

/// The ETag of stored bytes: their size and modification time (it changes whenever the bytes are
/// replaced; no read of the bytes is needed).
fn file_etag(size: u64, modified: SystemTime) -> String {
    format!("\"{:032x}\"", (nanos(modified) << 40) ^ u128::from(size))
}

/// A multipart upload's record.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct UploadRecord {
    key: String,
    metadata: Metadata,
    /// The lock state the completed object gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retention: Option<StoredRetention>,
    #[serde(default, skip_serializing_if = "is_false")]
    legal_hold: bool,
}

/// The file name of an object under `objects/`: hex of the SHA-256 of its key, so every key S3 accepts
/// (up to 1,024 bytes) fits the file system's 255-byte name limit.
#[must_use]
pub fn object_file_name(key: &str) -> String {
    hex::encode(crate::primitives::hash::sha256(key.as_bytes()))
}

impl LocalStore {
    /// The store under `home` (`home/buckets`), created if missing. Removes the stale temporary files
    /// that crashed writers left behind ([`LocalStore::stale_temporaries_removed`] lists them).
    ///
    /// # Errors
    /// I/O if `home/buckets` cannot be created.
    pub fn open(home: &Path) -> Result<Self, StoreError> {
        let root = home.join("buckets");
        let mut store = Self {
            root,
            removed_at_open: Vec::new(),
        };
        store.removed_at_open = store.clean_stale_temporaries();
        Ok(store)
    }

    /// The directory holding the buckets.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the stored bytes of `key` live (for tools and tests that inspect the layout).
    #[must_use]
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root
            .join(bucket)
            .join("objects")
            .join(object_file_name(key))
    }

    /// The stale temporary files [`LocalStore::open`] removed.
    #[must_use]
    pub fn stale_temporaries_removed(&self) -> &[PathBuf] {
        &self.removed_at_open
    }

    /// Removes the temporary files of writers that are gone from every bucket's `objects/`, `index/`,
    /// version and upload directories, and version bytes whose entry was never written, and returns
    /// their paths. A writer holds an advisory lock on its temporary
    /// file while it uses it, so a file is stale only if nobody holds its lock and it was last modified
    /// more than [`STALE_AFTER`] ago. Files that cannot be examined are left alone.
    #[must_use]
    pub fn clean_stale_temporaries(&self) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        let Ok(buckets) = fs::read_dir(&self.root) else {
            return removed;
        };
        for bucket in buckets.flatten() {
            let b = bucket.path();
            let mut dirs = vec![b.join("objects"), b.join("index"), b.clone()];
            for sub in ["uploads", "versions"] {
                if let Ok(ds) = fs::read_dir(b.join(sub)) {
                    dirs.extend(ds.flatten().map(|u| u.path()));
                }
            }
            // A version's bytes whose entry was never written (the writer died between the two) are
            // no version: removed once as old as a stale temporary file.
            if let Ok(ds) = fs::read_dir(b.join("versions")) {
                for d in ds.flatten() {
                    let Ok(files) = fs::read_dir(d.path()) else {
                        continue;
                    };
                    for f in files.flatten() {
                        let name = f.file_name();
                        let Some(name) = name.to_str() else { continue };
                        let orphan = is_valid_version_id(name)
                            && name != NULL_VERSION
                            && !d.path().join(format!("{name}.json")).exists();
                        let path = f.path();
                        if orphan && crate::fsutil::remove_if_unlocked(&path, STALE_AFTER).is_some()
                        {
                            removed.push(path);
                        }
                    }
                }
            }
            for dir in dirs {
                let Ok(entries) = fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    let ours = (name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX))
                        || LEGACY_TEMP_PREFIXES.iter().any(|p| name.starts_with(p));
                    let path = entry.path();
                    if ours && crate::fsutil::remove_if_unlocked(&path, STALE_AFTER).is_some() {
                        removed.push(path);
                    }
                }
            }
        }
        removed.sort();
        removed
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, StoreError> {
        let ok = !bucket.is_empty()
            && bucket != "."
            && bucket != ".."
            && !bucket.contains(['/', '\\', '\0']);
        if !ok {
            return Err(StoreError::InvalidBucketName);
        }
        Ok(self.root.join(bucket))
    }

    /// The bucket's directory if the bucket exists.
    fn existing_bucket(&self, bucket: &str) -> Result<PathBuf, StoreError> {
        let dir = self.bucket_dir(bucket)?;
        if dir.join("bucket.json").is_file() {
            Ok(dir)
        } else {
            Err(StoreError::NoSuchBucket)
        }
    }

    /// Locks the bucket's configuration for a read-modify-write of `bucket.json`.
    fn lock_config(dir: &Path) -> Result<crate::fsutil::LockGuard, StoreError> {
        crate::fsutil::lock_exclusive(&dir.join(".config.lock"), CONFIG_LOCK_WAIT).map_err(|e| {
            match e.kind() {
                io::ErrorKind::NotFound => StoreError::NoSuchBucket,
                _ => StoreError::Io {
                    what: "cannot lock the bucket configuration".into(),
                    source: e,
                },
            }
        })
    }

    fn read_configs(dir: &Path) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
        let text = fs::read(dir.join("bucket.json")).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NoSuchBucket,
            _ => StoreError::Io {
                what: "cannot read bucket.json".into(),
                source: e,
            },
        })?;
        match serde_json::from_slice(&text) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(StoreError::Corrupt(format!(
                "{} is not a JSON object",
                dir.join("bucket.json").display()
            ))),
        }
    }

    /// Where version `slot` of `key` keeps its bytes and its entry.
    fn paths(dir: &Path, key: &str, slot: &Slot) -> (PathBuf, PathBuf) {
        let name = object_file_name(key);
        match slot {
            Slot::Null => (
                dir.join("objects").join(&name),
                dir.join("index").join(format!("{name}.json")),
            ),
            Slot::Id(id) => {
                let v = dir.join("versions").join(name);
                (v.join(id), v.join(format!("{id}.json")))
            }
        }
    }

    /// The entry at `path` if it is readable and names `key`.
    fn read_entry(path: &Path, key: &str) -> Option<Entry> {
        fs::read(path)
            .ok()
            .and_then(|t| serde_json::from_slice::<Entry>(&t).ok())
            .filter(|e| e.key == key)
    }

    /// Writes `entry` to `path` atomically.
    fn write_entry(path: &Path, entry: &Entry) -> Result<(), StoreError> {
        if let Some(parent) = path.parent() {
            crate::fsutil::create_private_dir(parent).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let text =
            serde_json::to_vec(entry).map_err(|e| StoreError::Corrupt(format!("entry: {e}")))?;
        write_file_atomic(path, &text)
    }

    /// Version `slot` of `key` as it is now: its entry, its bytes opened (none for a delete marker)
    /// and its order. `None` if there is no such version (an entry without bytes that is not a delete
    /// marker is what a crash mid-delete leaves; it is no version).
    fn load(dir: &Path, key: &str, slot: &Slot) -> Result<Option<Loaded>, StoreError> {
        let (bytes, entry_path) = Self::paths(dir, key, slot);
        // The bytes first: an open file keeps the bytes it found even if they are replaced.
        let file = match File::open(&bytes) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(StoreError::Io {
                    what: format!("cannot open {}", bytes.display()),
                    source: e,
                });
            }
        };
        let entry = Self::read_entry(&entry_path, key);
        let (entry, file) = match (slot, entry, file) {
            (_, Some(e), _) if e.delete_marker => (e, None),
            (_, Some(e), Some(f)) => (e, Some(f)),
            // A `null` version written before entries existed, or whose entry was lost.
            (Slot::Null, None, Some(f)) => (
                Entry {
                    key: key.to_owned(),
                    ..Entry::default()
                },
                Some(f),
            ),
            _ => return Ok(None),
        };
        let (size, modified) = match &file {
            Some(f) => {
                let meta = f
                    .metadata()
                    .map_err(StoreError::io("cannot examine an object"))?;
                (meta.len(), meta.modified().unwrap_or(UNIX_EPOCH))
            }
            None => (0, UNIX_EPOCH + Duration::from_nanos(entry.seq.unwrap_or(0))),
        };
        let seq = entry.seq.unwrap_or_else(|| nanos64(modified));
        let etag = if entry.delete_marker {
            String::new()
        } else {
            entry
                .multipart
                .as_ref()
                .filter(|m| m.size == size && m.modified_ns == nanos(modified))
                .map_or_else(|| file_etag(size, modified), |m| m.etag.clone())
        };
        let info = ObjectInfo {
            key: key.to_owned(),
            version_id: slot.id().to_owned(),
            is_latest: false,
            is_delete_marker: entry.delete_marker,
            size,
            etag,
            last_modified: modified,
            metadata: entry.metadata.clone(),
            retention: entry
                .retention
                .as_ref()
                .map(StoredRetention::retention)
                .transpose()?,
            legal_hold: entry.legal_hold,
        };
        Ok(Some(Loaded {
            info,
            entry,
            file,
            seq,
        }))
    }

    /// Every version of `key`, newest first, with the newest marked latest.
    fn versions_of(dir: &Path, key: &str) -> Result<Vec<Loaded>, StoreError> {
        let mut out = Vec::new();
        if let Some(l) = Self::load(dir, key, &Slot::Null)? {
            out.push(l);
        }
        if let Ok(entries) = fs::read_dir(dir.join("versions").join(object_file_name(key))) {
            for e in entries.flatten() {
                let name = e.file_name();
                let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                    continue;
                };
                if id == NULL_VERSION || !is_valid_version_id(id) {
                    continue;
                }
                if let Some(l) = Self::load(dir, key, &Slot::Id(id.to_owned()))? {
                    out.push(l);
                }
            }
        }
        out.sort_by(|a, b| {
            b.seq
                .cmp(&a.seq)
                .then_with(|| b.info.version_id.cmp(&a.info.version_id))
        });
        if let Some(first) = out.first_mut() {
            first.info.is_latest = true;
        }
        Ok(out)
    }

    /// A version of `key` (`None`: the current one), refusing delete markers as
    /// [`ObjectStore::get_object`] says.
    fn open_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Loaded, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let found = match version {
            None if !dir.join("versions").join(object_file_name(key)).exists() => {
                let mut l = Self::load(&dir, key, &Slot::Null)?.ok_or(StoreError::NoSuchKey)?;
                l.info.is_latest = true;
                l
            }
            None => Self::versions_of(&dir, key)?
                .into_iter()
                .next()
                .ok_or(StoreError::NoSuchKey)?,
            Some(id) => {
                if !is_valid_version_id(id) {
                    return Err(StoreError::NoSuchVersion);
                }
                Self::versions_of(&dir, key)?
                    .into_iter()
                    .find(|l| l.info.version_id == id)
                    .ok_or(StoreError::NoSuchVersion)?
            }
        };
        if found.info.is_delete_marker {
            return Err(StoreError::DeleteMarker {
                version_id: found.info.version_id,
                last_modified: found.info.last_modified,
                requested: version.is_some(),
            });
        }
        Ok(found)
    }

    /// Streams `body` into a new version of `key` as the bucket's versioning state says, with `etag`
    /// (a multipart ETag) overriding the store's.
    fn write_version(
        &self,
        dir: &Path,
        key: &str,
        body: &mut dyn Read,
        metadata: &Metadata,
        lock: &ObjectLock,
        etag: Option<String>,
    ) -> Result<ObjectInfo, StoreError> {
        let state = Self::versioning_of(dir)?;
        let slot = match state {
            Versioning::Enabled => Slot::Id(new_version_id()?),
            Versioning::Unversioned | Versioning::Suspended => Slot::Null,
        };
        let (bytes, entry_path) = Self::paths(dir, key, &slot);
        if let Some(parent) = bytes.parent() {
            crate::fsutil::create_private_dir(parent).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let mut staged = staged(&bytes, "put")?;
        let size = copy_body(body, staged.file_mut())?;
        let modified = staged
            .file_mut()
            .metadata()
            .and_then(|m| m.modified())
            .map_err(StoreError::io("cannot examine an object"))?;
        let mut entry = Entry::new(key, metadata, lock);
        entry.multipart = etag.clone().map(|etag| MultipartTag {
            etag,
            size,
            modified_ns: nanos(modified),
        });
        // Never-versioned `null` versions are ordered by their bytes' time; every other version by a
        // sequence number taken now, after its bytes were written.
        if state != Versioning::Unversioned {
            entry.seq = Some(next_seq());
        }
        match slot {
            Slot::Null => {
                // Bytes, then the entry (only if it changed): a crash between leaves the new bytes
                // with the old entry, whose multipart ETag no longer matches them.
                commit(staged)?;
                if Self::read_entry(&entry_path, key).as_ref() != Some(&entry) {
                    Self::write_entry(&entry_path, &entry)?;
                }
            }
            Slot::Id(_) => {
                // Bytes, then the entry that makes the version exist.
                commit(staged)?;
                Self::write_entry(&entry_path, &entry)?;
            }
        }
        Ok(ObjectInfo {
            key: key.to_owned(),
            version_id: slot.id().to_owned(),
            is_latest: true,
            is_delete_marker: false,
            size,
            etag: etag.unwrap_or_else(|| file_etag(size, modified)),
            last_modified: modified,
            metadata: entry.metadata,
            retention: lock.retention.clone(),
            legal_hold: lock.legal_hold,
        })
    }

    /// The versioning state kept in `bucket.json`.
    fn versioning_of(dir: &Path) -> Result<Versioning, StoreError> {
        let m = Self::read_configs(dir)?;
        Ok(match m.get(VERSIONING_FIELD).and_then(|v| v.as_str()) {
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            _ => Versioning::Unversioned,
        })
    }

    /// Every key with at least one version, in key order.
    fn all_keys(dir: &Path) -> Vec<String> {
        let mut keys = std::collections::BTreeSet::new();
        if let Ok(entries) = fs::read_dir(dir.join("index")) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                if let Some(e) = fs::read(entry.path())
                    .ok()
                    .and_then(|t| serde_json::from_slice::<Entry>(&t).ok())
                {
                    keys.insert(e.key);
                }
            }
        }
        if let Ok(dirs) = fs::read_dir(dir.join("versions")) {
            for d in dirs.flatten() {
                let Ok(files) = fs::read_dir(d.path()) else {
                    continue;
                };
                // Any entry names the key.
                let key = files.flatten().find_map(|f| {
                    let name = f.file_name();
                    let n = name.to_string_lossy();
                    if n.starts_with('.') || !n.ends_with(".json") {
                        return None;
                    }
                    fs::read(f.path())
                        .ok()
                        .and_then(|t| serde_json::from_slice::<Entry>(&t).ok())
                        .map(|e| e.key)
                });
                if let Some(k) =
                    key.filter(|k| object_file_name(k) == d.file_name().to_string_lossy())
                {
                    keys.insert(k);
                }
            }
        }
        keys.into_iter().collect()
    }

    /// The current version of every key whose current version is an object, in key order.
    fn all_objects(&self, bucket: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let mut out = Vec::new();
        for key in Self::all_keys(&dir) {
            if let Some(l) = Self::versions_of(&dir, &key)?.into_iter().next()
                && !l.info.is_delete_marker
            {
                out.push(l.info);
            }
        }
        Ok(out)
    }

    /// The bucket's directory and version `version_id` of `key`, which must be an object (a delete
    /// marker is [`StoreError::NoSuchVersion`] here: it has no bytes or lock state to change).
    fn existing_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<(PathBuf, Loaded), StoreError> {
        let loaded = self
            .open_version(bucket, key, Some(version_id))
            .map_err(|e| match e {
                StoreError::DeleteMarker { .. } => StoreError::NoSuchVersion,
                e => e,
            })?;
        Ok((self.existing_bucket(bucket)?, loaded))
    }

    /// Rewrites a version's entry through `change` (retention, legal hold). Delete markers have no
    /// lock state.
    fn change_entry(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        change: impl FnOnce(&mut Entry),
    ) -> Result<(), StoreError> {
        let (dir, loaded) = self.existing_version(bucket, key, version_id)?;
        let slot = Slot::of(version_id);
        let mut entry = loaded.entry;
        // A `null` version ordered by its bytes' time keeps that order from now on explicitly.
        entry.seq = Some(loaded.seq);
        change(&mut entry);
        Self::write_entry(&Self::paths(&dir, key, &slot).1, &entry)
    }

    fn upload_dir(&self, bucket: &str, key: &str, upload_id: &str) -> Result<PathBuf, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        if upload_id.is_empty() || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NoSuchUpload);
        }
        let up = dir.join("uploads").join(upload_id);
        let record: UploadRecord = fs::read(up.join("upload.json"))
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok())
            .ok_or(StoreError::NoSuchUpload)?;
        if record.key != key {
            return Err(StoreError::NoSuchUpload);
        }
        Ok(up)
    }

    /// The upload whose directory is `up`, if its record is readable.
    fn upload_at(up: &Path, upload_id: &str) -> Option<MultipartUpload> {
        let path = up.join("upload.json");
        let record: UploadRecord = serde_json::from_slice(&fs::read(&path).ok()?).ok()?;
        let initiated = fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or(UNIX_EPOCH);
        Some(MultipartUpload {
            key: record.key,
            upload_id: upload_id.to_owned(),
            initiated,
            metadata: record.metadata,
        })
    }

    fn part_info(up: &Path, part_number: u32) -> Result<Option<PartInfo>, StoreError> {
        let path = up.join(part_name(part_number));
        // The MD5 recorded when the part was written, if it still describes the part's bytes.
        if let Ok(meta) = fs::metadata(&path) {
            let modified = meta.modified().unwrap_or(UNIX_EPOCH);
            let recorded: Option<MultipartTag> = fs::read(md5_name(&path))
                .ok()
                .and_then(|t| serde_json::from_slice(&t).ok())
                .filter(|m: &MultipartTag| {
                    m.size == meta.len() && m.modified_ns == nanos(modified)
                });
            if let Some(m) = recorded {
                return Ok(Some(PartInfo {
                    part_number,
                    etag: m.etag,
                    size: m.size,
                }));
            }
        }
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Io {
                    what: "cannot open a part".into(),
                    source: e,
                });
            }
        };
        let mut md5 = Md5::new();
        let size = copy_body(
            &mut f,
            &mut HashingWriter {
                inner: &mut io::sink(),
                md5: &mut md5,
            },
        )?;
        let md5 = md5.finalize();
        Ok(Some(PartInfo {
            part_number,
            etag: format!("\"{}\"", hex::encode(md5)),
            size,
        }))
    }
}

fn part_name(n: u32) -> String {
    format!("part-{n:05}")
}

/// The file recording a part's MD5.
fn md5_name(part: &Path) -> PathBuf {
    part.with_extension("md5")
}

/// A new version of `dest`, written to a locked temporary file `.s3crypt-<what>-<random>.tmp` beside it
/// (the name this store's sweep recognises) and renamed over it by [`commit`].
fn staged(dest: &Path, what: &str) -> Result<Staged, StoreError> {
    Staged::named(dest, &format!("{TEMP_PREFIX}{what}-"), TEMP_SUFFIX).map_err(StoreError::io(
        format!("cannot create a temporary file beside {}", dest.display()),
    ))
}

/// Syncs, renames into place and syncs the directory ([`Staged::commit`]).
fn commit(staged: Staged) -> Result<(), StoreError> {
    let what = format!("cannot write {}", staged.dest().display());
    staged.commit().map_err(StoreError::io(what))
}

/// A writer that hashes what passes through it.
struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    md5: &'a mut Md5,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.md5.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `body` into `out`, returning the length. A failing `body` is [`StoreError::Body`].
fn copy_body(body: &mut dyn Read, out: &mut dyn Write) -> Result<u64, StoreError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let got = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(g) => g,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StoreError::Body(e)),
        };
        out.write_all(&buf[..got])
            .map_err(StoreError::io("cannot write stored bytes"))?;
        n += got as u64;
    }
    Ok(n)
}

/// Writes `bytes` to `path` through a locked temporary file, fsync and rename.
fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut staged = staged(path, "write")?;
    staged
        .file_mut()
        .write_all(bytes)
        .map_err(StoreError::io(format!("cannot write {}", path.display())))?;
    commit(staged)
}

/// The configuration document `name` as stored in `bucket.json` (`encryption` keeps its old field).
fn config_field(name: &str) -> String {
    if name == "encryption" {
        "encryption_xml".to_owned()
    } else {
        name.to_owned()
    }
}

/// Continuation tokens are the hex of the last key returned.
fn decode_token(token: Option<&str>) -> Result<Option<String>, StoreError> {
    token
        .map(|t| {
            hex::decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    StoreError::InvalidArgument(
                        "The continuation token provided is incorrect".into(),
                    )
                })
        })
        .transpose()
}

/// Pages `objects` (sorted by key) as ListObjectsV2 does.
fn page(objects: Vec<ObjectInfo>, request: &ListRequest) -> Result<ListPage, StoreError> {
    let after = decode_token(request.continuation_token.as_deref())?
        .max(request.start_after.clone().filter(|s| !s.is_empty()));
    let max = match request.max_keys {
        0 => MAX_KEYS,
        n => n.min(MAX_KEYS),
    };
    let mut out = ListPage::default();
    let mut last: Option<String> = None;
    let delimiter = request.delimiter.as_deref().filter(|d| !d.is_empty());
    for o in objects {
        if !o.key.starts_with(&request.prefix) {
            continue;
        }
        // The entry this key contributes: itself, or its common prefix.
        let rolled = delimiter.and_then(|d| {
            let rest = &o.key[request.prefix.len()..];
            rest.find(d)
                .map(|i| o.key[..request.prefix.len() + i + d.len()].to_owned())
        });
        let marker = rolled.clone().unwrap_or_else(|| o.key.clone());
        if after
            .as_ref()
            .is_some_and(|a| marker.as_str() <= a.as_str())
        {
            continue;
        }
        if out.common_prefixes.last() == Some(&marker) {
            continue;
        }
        if out.contents.len() + out.common_prefixes.len() == max {
            out.next_token = last.map(|l| hex::encode(l.as_bytes()));
            return Ok(out);
        }
        match rolled {
            Some(p) => out.common_prefixes.push(p),
            None => out.contents.push(o),
        }
        last = Some(marker);
    }
    Ok(out)
}

impl ObjectStore for LocalStore {
    fn create_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let dir = self.bucket_dir(bucket)?;
        if dir.join("bucket.json").exists() {
            return Err(StoreError::BucketExists);
        }
        for sub in ["objects", "index"] {
            crate::fsutil::create_private_dir(&dir.join(sub))
                .map_err(|e| StoreError::Corrupt(format!("cannot create {sub}/: {e}")))?;
        }
        // Checked again under the lock: another process may have created it (and configured it) since.
        let _locked = Self::lock_config(&dir)?;
        if dir.join("bucket.json").exists() {
            return Err(StoreError::BucketExists);
        }
        write_file_atomic(&dir.join("bucket.json"), b"{}")
    }

    fn head_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        self.existing_bucket(bucket).map(|_| ())
    }

    fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let has = |sub: &str| {
            fs::read_dir(dir.join(sub)).is_ok_and(|d| {
                d.flatten()
                    .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
            })
        };
        // Versions and delete markers count, as in S3 (a `null` delete marker has only an entry).
        let has_versions = Self::all_keys(&dir)
            .iter()
            // An unreadable key counts as a version: never delete what could not be examined.
            .any(|k| !matches!(Self::versions_of(&dir, k), Ok(v) if v.is_empty()));
        if has("objects") || has("uploads") || has_versions {
            return Err(StoreError::BucketNotEmpty);
        }
        // bucket.json first: from then on the bucket does not exist.
        fs::remove_file(dir.join("bucket.json"))
            .map_err(StoreError::io("cannot remove bucket.json"))?;
        fs::remove_dir_all(&dir).map_err(StoreError::io("cannot remove the bucket directory"))
    }

    fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            let conf = e.path().join("bucket.json");
            if let (Ok(meta), Some(name)) = (fs::metadata(&conf), e.file_name().to_str()) {
                out.push(BucketInfo {
                    name: name.to_owned(),
                    created: meta.created().ok(),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn bucket_config(&self, bucket: &str, name: &str) -> Result<Option<String>, StoreError> {
        let dir = self.bucket_dir(bucket)?;
        let m = Self::read_configs(&dir)?;
        match m.get(&config_field(name)) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(StoreError::Corrupt(format!(
                "bucket configuration {name} is not a string"
            ))),
        }
    }

    fn put_bucket_config(
        &self,
        bucket: &str,
        name: &str,
        document: Option<&str>,
    ) -> Result<(), StoreError> {
        let dir = self.existing_bucket(bucket)?;
        // Under the lock, so that a change another process makes meanwhile is not overwritten.
        let _locked = Self::lock_config(&dir)?;
        let mut m = Self::read_configs(&dir)?;
        match document {
            Some(d) => m.insert(config_field(name), d.into()),
            None => m.insert(config_field(name), serde_json::Value::Null),
        };
        let text = serde_json::to_vec_pretty(&m)
            .map_err(|e| StoreError::Corrupt(format!("bucket configuration: {e}")))?;
        write_file_atomic(&dir.join("bucket.json"), &text)
    }

    fn bucket_versioning(&self, bucket: &str) -> Result<Versioning, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        Self::versioning_of(&dir)
    }

    fn put_bucket_versioning(&self, bucket: &str, state: Versioning) -> Result<(), StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let _locked = Self::lock_config(&dir)?;
        let mut m = Self::read_configs(&dir)?;
        let value = match state {
            Versioning::Enabled => "Enabled",
            Versioning::Suspended => "Suspended",
            Versioning::Unversioned => {
                if m.get(VERSIONING_FIELD).is_some_and(|v| !v.is_null()) {
                    return Err(StoreError::InvalidArgument(
                        "a versioned bucket cannot become unversioned".into(),
                    ));
                }
                return Ok(());
            }
        };
        m.insert(VERSIONING_FIELD.to_owned(), value.into());
        let text = serde_json::to_vec_pretty(&m)
            .map_err(|e| StoreError::Corrupt(format!("bucket configuration: {e}")))?;
        write_file_atomic(&dir.join("bucket.json"), &text)
    }

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &mut dyn Read,
        metadata: &Metadata,
        lock: &ObjectLock,
    ) -> Result<ObjectInfo, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        self.write_version(&dir, key, body, metadata, lock, None)
    }

    fn replace_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        body: &mut dyn Read,
    ) -> Result<ObjectInfo, StoreError> {
        let (dir, loaded) = self.existing_version(bucket, key, version_id)?;
        let slot = Slot::of(version_id);
        let (bytes, entry_path) = Self::paths(&dir, key, &slot);
        let mut entry = loaded.entry;
        let fixed_order = entry.seq.is_none();
        // The version keeps its place among the key's versions, whatever the new bytes' time.
        entry.seq = Some(loaded.seq);
        if fixed_order {
            Self::write_entry(&entry_path, &entry)?;
        }
        let mut staged = staged(&bytes, "replace")?;
        let size = copy_body(body, staged.file_mut())?;
        let modified = staged
            .file_mut()
            .metadata()
            .and_then(|m| m.modified())
            .map_err(StoreError::io("cannot examine an object"))?;
        commit(staged)?;
        if let Some(m) = &mut entry.multipart {
            m.size = size;
            m.modified_ns = nanos(modified);
            Self::write_entry(&entry_path, &entry)?;
        }
        let mut info = loaded.info;
        info.size = size;
        info.last_modified = modified;
        if entry.multipart.is_none() {
            info.etag = file_etag(size, modified);
        }
        Ok(info)
    }

    fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<StoredObject, StoreError> {
        let l = self.open_version(bucket, key, version)?;
        let file = l
            .file
            .ok_or_else(|| StoreError::Corrupt("a version without bytes".into()))?;
        Ok(StoredObject {
            info: l.info,
            body: Box::new(file),
        })
    }

    fn get_object_range(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        start: u64,
        end: u64,
    ) -> Result<StoredRange, StoreError> {
        let StoredObject {
            info,
            body: mut file,
        } = self.get_object(bucket, key, version)?;
        let end = end.min(info.size);
        if start >= info.size || start > end {
            return Err(StoreError::InvalidRange);
        }
        file.seek(SeekFrom::Start(start))
            .map_err(StoreError::io("cannot seek an object"))?;
        Ok(StoredRange {
            info,
            start,
            end,
            body: Box::new(file.take(end - start)),
        })
    }

    fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectInfo, StoreError> {
        self.open_version(bucket, key, version).map(|l| l.info)
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let state = Self::versioning_of(&dir)?;
        let (bytes, entry_path) = Self::paths(&dir, key, &Slot::Null);
        let slot = match state {
            Versioning::Unversioned => {
                remove_if_present(&bytes)?;
                remove_if_present(&entry_path)?;
                let _ = crate::fsutil::sync_dir(&dir.join("objects"));
                return Ok(None);
            }
            Versioning::Enabled => Slot::Id(new_version_id()?),
            Versioning::Suspended => Slot::Null,
        };
        let seq = next_seq();
        let marker = Entry::marker(key, seq);
        // The marker's entry first: from then on the `null` version (suspended) is the marker.
        Self::write_entry(&Self::paths(&dir, key, &slot).1, &marker)?;
        if slot == Slot::Null {
            remove_if_present(&bytes)?;
        }
        Ok(Some(ObjectInfo {
            key: key.to_owned(),
            version_id: slot.id().to_owned(),
            is_latest: true,
            is_delete_marker: true,
            size: 0,
            etag: String::new(),
            last_modified: UNIX_EPOCH + Duration::from_nanos(seq),
            metadata: Metadata::new(),
            retention: None,
            legal_hold: false,
        }))
    }

    fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<ObjectInfo, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        if !is_valid_version_id(version_id) {
            return Err(StoreError::NoSuchVersion);
        }
        let found = Self::versions_of(&dir, key)?
            .into_iter()
            .find(|l| l.info.version_id == version_id)
            .ok_or(StoreError::NoSuchVersion)?;
        let (bytes, entry_path) = Self::paths(&dir, key, &Slot::of(version_id));
        if version_id == NULL_VERSION {
            // Bytes first: an entry without bytes is no version (unless it is a marker, removed next).
            remove_if_present(&bytes)?;
            remove_if_present(&entry_path)?;
        } else {
            // The entry first: from then on the version does not exist.
            remove_if_present(&entry_path)?;
            remove_if_present(&bytes)?;
        }
        Ok(found.info)
    }

    fn list_objects(&self, bucket: &str, request: &ListRequest) -> Result<ListPage, StoreError> {
        page(self.all_objects(bucket)?, request)
    }

    fn list_object_versions(
        &self,
        bucket: &str,
        request: &VersionListRequest,
    ) -> Result<VersionPage, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let max = match request.max_keys {
            0 => MAX_KEYS,
            n => n.min(MAX_KEYS),
        };
        let delimiter = request.delimiter.as_deref().filter(|d| !d.is_empty());
        let key_marker = request.key_marker.as_deref().filter(|k| !k.is_empty());
        let mut out = VersionPage::default();
        let mut count = 0usize;
        for key in Self::all_keys(&dir) {
            if !key.starts_with(&request.prefix) {
                continue;
            }
            let rolled = delimiter.and_then(|d| {
                let rest = &key[request.prefix.len()..];
                rest.find(d)
                    .map(|i| key[..request.prefix.len() + i + d.len()].to_owned())
            });
            if let Some(p) = rolled {
                // A common prefix counts once, and only past the key-marker.
                if key_marker.is_some_and(|m| p.as_str() <= m)
                    || out.common_prefixes.last() == Some(&p)
                {
                    continue;
                }
                if count == max {
                    out.is_truncated = true;
                    return Ok(out);
                }
                out.next_key_marker = Some(p.clone());
                out.next_version_id_marker = None;
                out.common_prefixes.push(p);
                count += 1;
                continue;
            }
            let versions = Self::versions_of(&dir, &key)?;
            // With a key-marker alone, that key is done; with a version-id-marker too, its versions
            // older than that one follow.
            let mut skip_until: Option<&str> = None;
            match key_marker {
                Some(m) if key.as_str() < m => continue,
                Some(m) if key.as_str() == m => match request.version_id_marker.as_deref() {
                    Some(v) if !v.is_empty() => skip_until = Some(v),
                    _ => continue,
                },
                _ => {}
            }
            let mut past_marker = skip_until.is_none();
            for l in versions {
                if !past_marker {
                    if Some(l.info.version_id.as_str()) == skip_until {
                        past_marker = true;
                    }
                    continue;
                }
                if count == max {
                    out.is_truncated = true;
                    return Ok(out);
                }
                out.next_key_marker = Some(l.info.key.clone());
                out.next_version_id_marker = Some(l.info.version_id.clone());
                out.versions.push(l.info);
                count += 1;
            }
        }
        out.next_key_marker = None;
        out.next_version_id_marker = None;
        Ok(out)
    }

    fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: &Metadata,
        lock: &ObjectLock,
    ) -> Result<String, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let id = hex::encode(
            crate::primitives::random_array::<16>()
                .map_err(|e| StoreError::Corrupt(format!("random number generator: {e}")))?,
        );
        let up = dir.join("uploads").join(&id);
        crate::fsutil::create_private_dir(&up)
            .map_err(|e| StoreError::Corrupt(format!("cannot create an upload: {e}")))?;
        let record = UploadRecord {
            key: key.to_owned(),
            metadata: metadata.clone(),
            retention: lock.retention.as_ref().map(StoredRetention::of),
            legal_hold: lock.legal_hold,
        };
        let text = serde_json::to_vec(&record)
            .map_err(|e| StoreError::Corrupt(format!("upload record: {e}")))?;
        write_file_atomic(&up.join("upload.json"), &text)?;
        Ok(id)
    }

    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: &mut dyn Read,
    ) -> Result<PartInfo, StoreError> {
        if !(1..=MAX_PARTS).contains(&part_number) {
            return Err(StoreError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            ));
        }
        let up = self.upload_dir(bucket, key, upload_id)?;
        let path = up.join(part_name(part_number));
        let mut staged = staged(&path, "part")?;
        let mut md5 = Md5::new();
        let size = copy_body(
            body,
            &mut HashingWriter {
                inner: staged.file_mut(),
                md5: &mut md5,
            },
        )?;
        let md5 = md5.finalize();
        let modified = staged
            .file_mut()
            .metadata()
            .and_then(|m| m.modified())
            .map_err(StoreError::io("cannot examine a part"))?;
        commit(staged)?;
        let etag = format!("\"{}\"", hex::encode(md5));
        // Completion and ListParts then need not hash the part again (a stale record is ignored).
        let tag = MultipartTag {
            etag: etag.clone(),
            size,
            modified_ns: nanos(modified),
        };
        if let Ok(text) = serde_json::to_vec(&tag) {
            write_file_atomic(&md5_name(&path), &text)?;
        }
        Ok(PartInfo {
            part_number,
            etag,
            size,
        })
    }

    fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, StoreError> {
        let up = self.upload_dir(bucket, key, upload_id)?;
        let mut numbers: Vec<u32> = fs::read_dir(&up)
            .map_err(StoreError::io("cannot list an upload"))?
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("part-")?
                    .parse::<u32>()
                    .ok()
            })
            .filter(|n| (1..=MAX_PARTS).contains(n))
            .collect();
        numbers.sort_unstable();
        let mut out = Vec::new();
        for n in numbers {
            if let Some(p) = Self::part_info(&up, n)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        trailer: &[u8],
    ) -> Result<ObjectInfo, StoreError> {
        let up = self.upload_dir(bucket, key, upload_id)?;
        if parts.is_empty() || parts.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(StoreError::InvalidPartOrder);
        }
        let mut md5s = Md5::new();
        let mut files = Vec::with_capacity(parts.len());
        for (n, etag) in parts {
            let want = etag.trim_matches('"');
            match Self::part_info(&up, *n)? {
                Some(p) if p.etag.trim_matches('"') == want => {
                    let raw = hex::decode(want)
                        .map_err(|_| StoreError::InvalidPart { part_number: *n })?;
                    md5s.update(&raw);
                    files.push(
                        File::open(up.join(part_name(*n)))
                            .map_err(StoreError::io("cannot open a part"))?,
                    );
                }
                _ => return Err(StoreError::InvalidPart { part_number: *n }),
            }
        }
        let record: UploadRecord = fs::read(up.join("upload.json"))
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok())
            .ok_or(StoreError::NoSuchUpload)?;
        let etag = format!("\"{}-{}\"", hex::encode(md5s.finalize()), parts.len());
        let mut body: Box<dyn Read> = Box::new(io::empty());
        for f in files {
            body = Box::new(body.chain(f));
        }
        let mut body = body.chain(trailer);
        let dir = self.existing_bucket(bucket)?;
        let lock = ObjectLock {
            retention: record
                .retention
                .as_ref()
                .map(StoredRetention::retention)
                .transpose()?,
            legal_hold: record.legal_hold,
        };
        let info = self.write_version(&dir, key, &mut body, &record.metadata, &lock, Some(etag))?;
        let _ = fs::remove_dir_all(&up);
        Ok(info)
    }

    fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let up = self.upload_dir(bucket, key, upload_id)?;
        // The record first: from then on the upload does not exist.
        fs::remove_file(up.join("upload.json"))
            .map_err(StoreError::io("cannot remove an upload"))?;
        fs::remove_dir_all(&up).map_err(StoreError::io("cannot remove an upload's parts"))
    }

    fn multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<MultipartUpload, StoreError> {
        let up = self.upload_dir(bucket, key, upload_id)?;
        Self::upload_at(&up, upload_id).ok_or(StoreError::NoSuchUpload)
    }

    fn list_multipart_uploads(&self, bucket: &str) -> Result<Vec<MultipartUpload>, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(dir.join("uploads")) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str() else { continue };
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            if let Some(u) = Self::upload_at(&entry.path(), id) {
                out.push(u);
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key).then(a.initiated.cmp(&b.initiated)));
        Ok(out)
    }

    fn open_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
    ) -> Result<Box<dyn ReadSeek>, StoreError> {
        if !(1..=MAX_PARTS).contains(&part_number) {
            return Err(StoreError::InvalidPart { part_number });
        }
        let up = self.upload_dir(bucket, key, upload_id)?;
        match File::open(up.join(part_name(part_number))) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::InvalidPart { part_number })
            }
            Err(e) => Err(StoreError::Io {
                what: "cannot open a part".into(),
                source: e,
            }),
        }
    }

    fn put_object_retention(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        retention: Option<&Retention>,
    ) -> Result<(), StoreError> {
        self.change_entry(bucket, key, version_id, |e| {
            e.retention = retention.map(StoredRetention::of);
        })
    }

    fn put_object_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        on: bool,
    ) -> Result<(), StoreError> {
        self.change_entry(bucket, key, version_id, |e| e.legal_hold = on)
    }
}

/// Removes `path`; a missing file is fine.
fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io {
            what: format!("cannot remove {}", path.display()),
            source: e,
        }),
    }
}
