//! The local directory store, the embedded default [`ObjectStore`].
//!
//! ```text
//! HOME/buckets/<bucket>/bucket.json                 configuration documents by name (JSON object;
//!                                                   `encryption` is kept as `encryption_xml`, as before)
//! HOME/buckets/<bucket>/objects/<hex(SHA-256(key))> the stored bytes of one object; any key S3 accepts fits
//! HOME/buckets/<bucket>/index/<hex(SHA-256(key))>.json
//!                                                   key, metadata, size, ETag, time of the stored bytes
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
//! Versions: this store keeps one version per key, the `null` version (what S3 keeps for a bucket whose
//! versioning was never enabled). Delete markers, retention and legal holds are
//! [`StoreError::Unsupported`].

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    BucketInfo, ListPage, ListRequest, MAX_KEYS, Metadata, MultipartUpload, NULL_VERSION,
    ObjectInfo, ObjectStore, PartInfo, ReadSeek, Retention, StoreError, StoredObject, StoredRange,
    VersionPage,
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

/// An index entry: the key (which the file name only hashes) and the metadata of an object. It is
/// rewritten only when it changes, so an overwrite with the same metadata costs no index write.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct IndexEntry {
    key: String,
    metadata: Metadata,
    /// A multipart object's S3-style ETag, valid only for the bytes it was made for.
    #[serde(default)]
    multipart: Option<MultipartTag>,
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

    /// Removes the temporary files of writers that are gone from every bucket's `objects/`, `index/`
    /// and upload directories and returns their paths. A writer holds an advisory lock on its temporary
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
            if let Ok(ups) = fs::read_dir(b.join("uploads")) {
                dirs.extend(ups.flatten().map(|u| u.path()));
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

    fn index_path(dir: &Path, key: &str) -> PathBuf {
        dir.join("index")
            .join(format!("{}.json", object_file_name(key)))
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

    /// The info of the object whose bytes are `file` (opened at `path`), from the index when it agrees.
    fn info(dir: &Path, key: &str, file: &File) -> Result<ObjectInfo, StoreError> {
        let meta = file
            .metadata()
            .map_err(StoreError::io("cannot examine an object"))?;
        let entry: Option<IndexEntry> = fs::read(Self::index_path(dir, key))
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok())
            .filter(|e: &IndexEntry| e.key == key);
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let (etag, metadata) = match entry {
            Some(e) => (
                e.multipart
                    .filter(|m| m.size == meta.len() && m.modified_ns == nanos(modified))
                    .map_or_else(|| file_etag(meta.len(), modified), |m| m.etag),
                e.metadata,
            ),
            None => (file_etag(meta.len(), modified), Metadata::new()),
        };
        Ok(ObjectInfo {
            key: key.to_owned(),
            version_id: NULL_VERSION.to_owned(),
            is_latest: true,
            is_delete_marker: false,
            size: meta.len(),
            etag,
            last_modified: modified,
            metadata,
            retention: None,
            legal_hold: false,
        })
    }

    fn open_object(&self, bucket: &str, key: &str) -> Result<(File, ObjectInfo), StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let path = dir.join("objects").join(object_file_name(key));
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NoSuchKey,
            _ => StoreError::Io {
                what: format!("cannot open {}", path.display()),
                source: e,
            },
        })?;
        let info = Self::info(&dir, key, &file)?;
        Ok((file, info))
    }

    /// Streams `body` into the object `key`, with `etag` overriding the MD5 of the bytes.
    fn put_inner(
        &self,
        dir: &Path,
        key: &str,
        body: &mut dyn Read,
        metadata: &Metadata,
        etag: Option<String>,
    ) -> Result<ObjectInfo, StoreError> {
        let objects = dir.join("objects");
        let dest = objects.join(object_file_name(key));
        let mut staged = staged(&dest, "put")?;
        let size = copy_body(body, staged.file_mut())?;
        let modified = staged
            .file_mut()
            .metadata()
            .and_then(|m| m.modified())
            .map_err(StoreError::io("cannot examine an object"))?;
        commit(staged)?;
        let entry = IndexEntry {
            key: key.to_owned(),
            metadata: metadata.clone(),
            multipart: etag.clone().map(|etag| MultipartTag {
                etag,
                size,
                modified_ns: nanos(modified),
            }),
        };
        let index_path = Self::index_path(dir, key);
        let current: Option<IndexEntry> = fs::read(&index_path)
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok());
        if current.as_ref() != Some(&entry) {
            let index = dir.join("index");
            crate::fsutil::create_private_dir(&index)
                .map_err(|e| StoreError::Corrupt(format!("cannot create the index: {e}")))?;
            let text = serde_json::to_vec(&entry)
                .map_err(|e| StoreError::Corrupt(format!("index entry: {e}")))?;
            write_file_atomic(&index_path, &text)?;
        }
        Ok(ObjectInfo {
            key: key.to_owned(),
            version_id: NULL_VERSION.to_owned(),
            is_latest: true,
            is_delete_marker: false,
            size,
            etag: etag.unwrap_or_else(|| file_etag(size, modified)),
            last_modified: modified,
            metadata: entry.metadata,
            retention: None,
            legal_hold: false,
        })
    }

    /// Every current object of a bucket, in key order.
    fn all_objects(&self, bucket: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(dir.join("index")) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let Some(e) = fs::read(entry.path())
                .ok()
                .and_then(|t| serde_json::from_slice::<IndexEntry>(&t).ok())
            else {
                continue;
            };
            // Only keys whose bytes are there.
            if let Ok(file) = File::open(dir.join("objects").join(object_file_name(&e.key))) {
                out.push(Self::info(&dir, &e.key, &file)?);
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
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
        if has("objects") || has("uploads") {
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

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &mut dyn Read,
        metadata: &Metadata,
    ) -> Result<ObjectInfo, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        self.put_inner(&dir, key, body, metadata, None)
    }

    fn get_object(&self, bucket: &str, key: &str) -> Result<StoredObject, StoreError> {
        let (file, info) = self.open_object(bucket, key)?;
        Ok(StoredObject {
            info,
            body: Box::new(file),
        })
    }

    fn get_object_range(
        &self,
        bucket: &str,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<StoredRange, StoreError> {
        let (mut file, info) = self.open_object(bucket, key)?;
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

    fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        self.open_object(bucket, key).map(|(_, info)| info)
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
        let dir = self.existing_bucket(bucket)?;
        let path = dir.join("objects").join(object_file_name(key));
        let existed = match fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                return Err(StoreError::Io {
                    what: format!("cannot remove {}", path.display()),
                    source: e,
                });
            }
        };
        let _ = fs::remove_file(Self::index_path(&dir, key));
        let _ = crate::fsutil::sync_dir(&dir.join("objects"));
        Ok(existed)
    }

    fn list_objects(&self, bucket: &str, request: &ListRequest) -> Result<ListPage, StoreError> {
        page(self.all_objects(bucket)?, request)
    }

    fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: &Metadata,
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
        let info = self.put_inner(&dir, key, &mut body, &record.metadata, Some(etag))?;
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

    fn list_object_versions(
        &self,
        bucket: &str,
        request: &ListRequest,
    ) -> Result<VersionPage, StoreError> {
        // One `null` version per key: the versions page is the objects page.
        let p = page(self.all_objects(bucket)?, request)?;
        Ok(VersionPage {
            versions: p.contents,
            common_prefixes: p.common_prefixes,
            next_token: p.next_token,
        })
    }

    fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<StoredObject, StoreError> {
        if version_id != NULL_VERSION {
            self.existing_bucket(bucket)?;
            return Err(StoreError::NoSuchVersion);
        }
        self.get_object(bucket, key).map_err(|e| match e {
            StoreError::NoSuchKey => StoreError::NoSuchVersion,
            e => e,
        })
    }

    fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<ObjectInfo, StoreError> {
        if version_id != NULL_VERSION {
            self.existing_bucket(bucket)?;
            return Err(StoreError::NoSuchVersion);
        }
        let info = self.head_object(bucket, key).map_err(|e| match e {
            StoreError::NoSuchKey => StoreError::NoSuchVersion,
            e => e,
        })?;
        self.delete_object(bucket, key)?;
        Ok(info)
    }

    fn put_delete_marker(&self, _bucket: &str, _key: &str) -> Result<ObjectInfo, StoreError> {
        Err(StoreError::Unsupported("delete markers"))
    }

    fn put_object_retention(
        &self,
        _bucket: &str,
        _key: &str,
        _version_id: &str,
        _retention: Option<&Retention>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unsupported("Object Lock retention"))
    }

    fn put_object_legal_hold(
        &self,
        _bucket: &str,
        _key: &str,
        _version_id: &str,
        _on: bool,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unsupported("Object Lock legal holds"))
    }
}
