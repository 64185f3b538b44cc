//! The object store under the S3 front end: buckets, bucket configuration documents, objects as opaque
//! stored bytes with a small metadata map, listings, multipart uploads, object versions and the fields
//! where Object Lock retention and legal holds live.
//!
//! [`ObjectStore`] assumes no local filesystem: [`local::LocalStore`] keeps everything under a home
//! directory (the embedded default), and another implementation may keep it in an upstream S3 cluster.
//! The store never sees plaintext or keys: the SSE engine hands it ciphertext and a header it cannot
//! read. Errors are [`StoreError`]s; the S3 layer maps them to [`S3Error`]s (`From` below).
//!
//! | you want to…                                      | call                                        |
//! |---------------------------------------------------|---------------------------------------------|
//! | make, check, list, remove buckets                 | [`ObjectStore::create_bucket`], [`ObjectStore::head_bucket`], [`ObjectStore::list_buckets`], [`ObjectStore::delete_bucket`] |
//! | keep a bucket's encryption/policy/versioning XML  | [`ObjectStore::bucket_config`], [`ObjectStore::put_bucket_config`] |
//! | store an object atomically from a stream          | [`ObjectStore::put_object`]                 |
//! | read all of it (seekable) or a byte range         | [`ObjectStore::get_object`], [`ObjectStore::get_object_range`] |
//! | list keys a page at a time                        | [`ObjectStore::list_objects`]               |
//! | upload in parts                                   | [`ObjectStore::create_multipart_upload`] … [`ObjectStore::complete_multipart_upload`] (parts joined, then a trailer) |
//! | find uploads, read a part's stored bytes          | [`ObjectStore::multipart_upload`], [`ObjectStore::list_multipart_uploads`], [`ObjectStore::open_part`] |
//! | versioning state                                  | [`ObjectStore::bucket_versioning`], [`ObjectStore::put_bucket_versioning`] |
//! | a version (`Some(id)`) or the current one (`None`)| the `version` argument of [`ObjectStore::get_object`], [`ObjectStore::get_object_range`], [`ObjectStore::head_object`] |
//! | versions, delete markers                          | [`ObjectStore::list_object_versions`], [`ObjectStore::delete_object`] (adds a marker when versioned), [`ObjectStore::delete_object_version`] |
//! | re-seal a version's header in place               | [`ObjectStore::replace_object_bytes`]       |
//! | retention and legal hold                          | [`ObjectStore::put_object_retention`], [`ObjectStore::put_object_legal_hold`] |

pub mod local;
#[cfg(feature = "s3-client")]
pub mod upstream;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Seek};
use std::time::SystemTime;

use crate::s3::{S3Error, S3ErrorCode};

/// A stored object's metadata: a small map of names to values, kept beside the stored bytes and
/// returned with them (the SSE engine keeps its own header inside the bytes).
pub type Metadata = BTreeMap<String, String>;

/// The version id S3 gives objects written while versioning was never enabled or is suspended.
pub const NULL_VERSION: &str = "null";

/// The largest page [`ObjectStore::list_objects`] returns, as S3's `max-keys`.
pub const MAX_KEYS: usize = 1000;

/// A reader of stored bytes that can seek (the whole object).
pub trait ReadSeek: Read + Seek + Send {}

impl<T: Read + Seek + Send> ReadSeek for T {}

/// Object Lock retention mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetentionMode {
    /// Removable by callers with `s3:BypassGovernanceRetention` and the bypass header.
    Governance,
    /// Removable by nobody until it expires.
    Compliance,
}

/// An object version's Object Lock retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// The mode.
    pub mode: RetentionMode,
    /// Until when the version is protected.
    pub retain_until: SystemTime,
}

/// What a store knows about one stored object version (or delete marker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object key.
    pub key: String,
    /// The version id: [`NULL_VERSION`] for unversioned writes.
    pub version_id: String,
    /// Whether this version is the current one for its key.
    pub is_latest: bool,
    /// Whether this version is a delete marker (no bytes).
    pub is_delete_marker: bool,
    /// Length of the stored bytes.
    pub size: u64,
    /// The store's entity tag of the stored bytes (quoted, S3 style; `"<md5>-<parts>"` for multipart).
    pub etag: String,
    /// When this version was written.
    pub last_modified: SystemTime,
    /// The metadata map given at write time.
    pub metadata: Metadata,
    /// Object Lock retention, if any.
    pub retention: Option<Retention>,
    /// Object Lock legal hold.
    pub legal_hold: bool,
}

impl ObjectInfo {
    /// A version as a listing or a write reports it: no metadata, no Object Lock state.
    #[must_use]
    pub fn listed(
        key: impl Into<String>,
        version_id: impl Into<String>,
        size: u64,
        etag: impl Into<String>,
        last_modified: SystemTime,
        is_latest: bool,
    ) -> Self {
        Self {
            key: key.into(),
            version_id: version_id.into(),
            is_latest,
            is_delete_marker: false,
            size,
            etag: etag.into(),
            last_modified,
            metadata: Metadata::new(),
            retention: None,
            legal_hold: false,
        }
    }

    /// A delete marker.
    #[must_use]
    pub fn delete_marker(
        key: impl Into<String>,
        version_id: impl Into<String>,
        last_modified: SystemTime,
        is_latest: bool,
    ) -> Self {
        Self {
            is_delete_marker: true,
            ..Self::listed(key, version_id, 0, String::new(), last_modified, is_latest)
        }
    }
}

/// An object opened for reading: its info and its stored bytes, seekable.
pub struct StoredObject {
    /// What the store knows about it.
    pub info: ObjectInfo,
    /// The stored bytes.
    pub body: Box<dyn ReadSeek>,
}

impl fmt::Debug for StoredObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredObject")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A ranged read: the object's info and bytes `[start, end)` of its stored bytes.
pub struct StoredRange {
    /// What the store knows about the object.
    pub info: ObjectInfo,
    /// Offset of the first byte returned.
    pub start: u64,
    /// Offset one past the last byte returned.
    pub end: u64,
    /// Exactly `end - start` bytes.
    pub body: Box<dyn Read + Send>,
}

impl fmt::Debug for StoredRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRange")
            .field("info", &self.info)
            .field("start", &self.start)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

/// A bucket as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketInfo {
    /// The bucket name.
    pub name: String,
    /// When it was created, if known.
    pub created: Option<SystemTime>,
}

/// A listing request (ListObjectsV2's `prefix`, `delimiter`, `continuation-token`, `max-keys`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to the first occurrence of this after the prefix into common prefixes.
    pub delimiter: Option<String>,
    /// A [`ListPage::next_token`] from the previous page.
    pub continuation_token: Option<String>,
    /// Only keys (and common prefixes) after this one (ListObjectsV2's `start-after`, ListObjects'
    /// `marker`); with a continuation token, whichever lies further.
    pub start_after: Option<String>,
    /// The most entries (contents plus common prefixes) in the page; 0 means [`MAX_KEYS`].
    pub max_keys: usize,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Current objects, in key order.
    pub contents: Vec<ObjectInfo>,
    /// Rolled-up prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// The token for the next page; `None` if this is the last.
    pub next_token: Option<String>,
}

/// One page of ListObjectVersions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionPage {
    /// Versions and delete markers, by key then newest first.
    pub versions: Vec<ObjectInfo>,
    /// Rolled-up prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow.
    pub is_truncated: bool,
    /// When truncated: the key-marker of the next page.
    pub next_key_marker: Option<String>,
    /// When truncated after a version: the version-id-marker of the next page.
    pub next_version_id_marker: Option<String>,
}

/// A multipart upload in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartUpload {
    /// The object key it will complete to.
    pub key: String,
    /// Its id.
    pub upload_id: String,
    /// When it was created.
    pub initiated: SystemTime,
    /// The metadata map given at creation.
    pub metadata: Metadata,
}

/// An uploaded part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// 1..=10,000.
    pub part_number: u32,
    /// The part's entity tag (quoted MD5 of its bytes).
    pub etag: String,
    /// Its length.
    pub size: u64,
}

/// Why a store operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The bucket does not exist.
    NoSuchBucket,
    /// A bucket of that name exists.
    BucketExists,
    /// DeleteBucket on a bucket that holds objects or uploads.
    BucketNotEmpty,
    /// The bucket name cannot be stored.
    InvalidBucketName,
    /// The key does not exist (or its current version is a delete marker).
    NoSuchKey,
    /// The version does not exist.
    NoSuchVersion,
    /// The version asked for (`requested`), or the current version of the key, is a delete marker.
    DeleteMarker {
        /// The marker's version id.
        version_id: String,
        /// When the marker was made.
        last_modified: SystemTime,
        /// Whether the request named this version (S3: 405) or asked for the current one (404).
        requested: bool,
    },
    /// The multipart upload does not exist.
    NoSuchUpload,
    /// A completed upload names a part that is missing or whose ETag differs.
    InvalidPart {
        /// The part number.
        part_number: u32,
    },
    /// A completed upload's parts are not in ascending order (or repeat one).
    InvalidPartOrder,
    /// A range starts at or past the end of the stored bytes.
    InvalidRange,
    /// An argument the store cannot accept (part number, token, key).
    InvalidArgument(String),
    /// The body being stored could not be read; nothing was stored.
    Body(io::Error),
    /// This store does not implement the operation.
    Unsupported(&'static str),
    /// Stored state is damaged.
    Corrupt(String),
    /// An I/O failure (`what` says what was being done).
    Io {
        /// What failed.
        what: String,
        /// The cause.
        source: io::Error,
    },
}

impl StoreError {
    /// An [`StoreError::Io`] for `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchBucket => f.write_str("no such bucket"),
            Self::BucketExists => f.write_str("the bucket exists"),
            Self::BucketNotEmpty => f.write_str("the bucket is not empty"),
            Self::InvalidBucketName => f.write_str("invalid bucket name"),
            Self::NoSuchKey => f.write_str("no such key"),
            Self::NoSuchVersion => f.write_str("no such version"),
            Self::DeleteMarker { requested, .. } => f.write_str(if *requested {
                "the version is a delete marker"
            } else {
                "the current version is a delete marker"
            }),
            Self::NoSuchUpload => f.write_str("no such multipart upload"),
            Self::InvalidPart { part_number } => write!(f, "invalid part {part_number}"),
            Self::InvalidPartOrder => f.write_str("parts are not in ascending order"),
            Self::InvalidRange => f.write_str("the range is not satisfiable"),
            Self::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Self::Body(e) => write!(f, "the body could not be read: {e}"),
            Self::Unsupported(what) => write!(f, "this store does not support {what}"),
            Self::Corrupt(m) => write!(f, "stored state is corrupt: {m}"),
            Self::Io { what, .. } => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Body(e) | Self::Io { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// The S3 answer to a store failure. Server faults become `InternalError` with the store error as the
/// cause; `BucketExists` is `BucketAlreadyOwnedByYou` (a store has one owner).
impl From<StoreError> for S3Error {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NoSuchBucket => S3ErrorCode::NoSuchBucket,
            StoreError::BucketExists => S3ErrorCode::BucketAlreadyOwnedByYou,
            StoreError::BucketNotEmpty => S3ErrorCode::BucketNotEmpty,
            StoreError::InvalidBucketName => S3ErrorCode::InvalidBucketName,
            StoreError::NoSuchKey => S3ErrorCode::NoSuchKey,
            StoreError::NoSuchVersion => S3ErrorCode::NoSuchVersion,
            StoreError::DeleteMarker {
                version_id,
                last_modified,
                requested,
            } => {
                // S3: the current version is a marker → 404 NoSuchKey; a marker asked for by its id →
                // 405 MethodNotAllowed with its Last-Modified. Both say which marker it was.
                let mut err = if *requested {
                    S3Error::from_code(S3ErrorCode::MethodNotAllowed).with_header(
                        "Last-Modified",
                        crate::aws::clock::http_date(*last_modified),
                    )
                } else {
                    S3Error::from_code(S3ErrorCode::NoSuchKey)
                };
                err = err
                    .with_header("x-amz-delete-marker", "true")
                    .with_header("x-amz-version-id", version_id.clone());
                return err;
            }
            StoreError::NoSuchUpload => S3ErrorCode::NoSuchUpload,
            StoreError::InvalidPart { .. } => S3ErrorCode::InvalidPart,
            StoreError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
            StoreError::InvalidRange => S3ErrorCode::InvalidRange,
            StoreError::InvalidArgument(m) => {
                return S3Error::invalid_argument(m.clone());
            }
            StoreError::Body(_) => S3ErrorCode::IncompleteBody,
            StoreError::Unsupported(what) => {
                return S3Error::not_implemented(format!("This server does not support {what}."));
            }
            StoreError::Corrupt(_) | StoreError::Io { .. } => {
                return S3Error::internal(e);
            }
        };
        S3Error::from_code(code).with_source(e)
    }
}

/// A bucket's versioning state, as the store keeps it. A bucket starts [`Versioning::Unversioned`] and
/// never returns there once versioning was enabled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: one `null` version per key, replaced by each write, removed by a delete.
    #[default]
    Unversioned,
    /// Every write adds a version; a delete adds a delete marker.
    Enabled,
    /// Writes replace the `null` version; a delete replaces it with a `null` delete marker. Other
    /// versions stay.
    Suspended,
}

/// The Object Lock state a new version is written with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectLock {
    /// Retention, if any.
    pub retention: Option<Retention>,
    /// Legal hold.
    pub legal_hold: bool,
}

/// A ListObjectVersions request (`prefix`, `delimiter`, `key-marker`, `version-id-marker`,
/// `max-keys`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionListRequest {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to the first occurrence of this after the prefix into common prefixes.
    pub delimiter: Option<String>,
    /// Start after this key (alone), or after this key's version `version_id_marker`.
    pub key_marker: Option<String>,
    /// With `key_marker`: start after this version of that key (its older versions follow).
    pub version_id_marker: Option<String>,
    /// The most entries (versions, delete markers and common prefixes) in the page; 0 means
    /// [`MAX_KEYS`].
    pub max_keys: usize,
}

/// Whether `id` has the shape of a version id a store issues: `null`, or 1..=64 characters of
/// `[A-Za-z0-9._-]` not starting with `.` (S3 answers any other id with 400 `InvalidArgument`).
#[must_use]
pub fn is_valid_version_id(id: &str) -> bool {
    id == NULL_VERSION
        || ((1..=64).contains(&id.len())
            && !id.starts_with('.')
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
}

/// Where objects and bucket configuration live. Every write is atomic: a reader sees the old object or
/// the new one, whole, and a write that fails (or a process that dies mid-write) leaves the old one.
///
/// Keys are S3 keys (1..=1,024 bytes of UTF-8); bucket names are S3 bucket names (checked by the caller).
/// Object reads take a version: `None` is the current version of the key.
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Whether this store keeps Object Lock retention and legal holds. Without it, every Object Lock
    /// request (a lock-enabled bucket, a lock configuration, retention, legal holds) is refused with
    /// `501 NotImplemented` before anything changes.
    fn supports_object_lock(&self) -> bool {
        true
    }

    /// Creates an empty bucket.
    ///
    /// # Errors
    /// [`StoreError::BucketExists`]; I/O.
    fn create_bucket(&self, bucket: &str) -> Result<(), StoreError>;

    /// Whether `bucket` exists.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; I/O.
    fn head_bucket(&self, bucket: &str) -> Result<(), StoreError>;

    /// Removes an empty bucket (no versions, delete markers or uploads) and its configuration.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::BucketNotEmpty`]; I/O.
    fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError>;

    /// Every bucket, by name.
    ///
    /// # Errors
    /// I/O.
    fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError>;

    /// The bucket configuration document `name` (`encryption`, `policy`, `cors`, `logging`,
    /// `object-lock`, …), or `None` if it is not set.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; I/O; corrupt configuration.
    fn bucket_config(&self, bucket: &str, name: &str) -> Result<Option<String>, StoreError>;

    /// Sets (`Some`) or removes (`None`) the bucket configuration document `name`, atomically.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; I/O.
    fn put_bucket_config(
        &self,
        bucket: &str,
        name: &str,
        document: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The bucket's versioning state, which decides what writes and deletes do.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; I/O.
    fn bucket_versioning(&self, bucket: &str) -> Result<Versioning, StoreError>;

    /// Sets the versioning state.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; [`StoreError::InvalidArgument`] for `Unversioned` on a bucket that
    /// was versioned; [`StoreError::Unsupported`] for a store without versions; I/O.
    fn put_bucket_versioning(&self, bucket: &str, state: Versioning) -> Result<(), StoreError>;

    /// Stores `body` (read to its end) as the new current version of `key` with `metadata` and
    /// `lock`, atomically, and returns its info: a new version id when versioning is enabled,
    /// otherwise [`NULL_VERSION`], replacing the `null` version.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; [`StoreError::Body`] if `body` fails (nothing stored); I/O.
    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &mut dyn Read,
        metadata: &Metadata,
        lock: &ObjectLock,
    ) -> Result<ObjectInfo, StoreError>;

    /// Replaces the stored bytes of one existing version in place (version id, metadata, lock state
    /// and order unchanged), atomically: for re-sealing a header.
    ///
    /// # Errors
    /// [`StoreError::NoSuchVersion`]; [`StoreError::Body`]; I/O.
    fn replace_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        body: &mut dyn Read,
    ) -> Result<ObjectInfo, StoreError>;

    /// Opens a version of `key` (`None`: the current one): info and seekable stored bytes. The reader
    /// keeps seeing the bytes it opened even if the object is replaced meanwhile.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; [`StoreError::NoSuchKey`] (no current version);
    /// [`StoreError::NoSuchVersion`]; [`StoreError::DeleteMarker`] when the version asked for, or the
    /// current one, is a delete marker; I/O.
    fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<StoredObject, StoreError>;

    /// As [`ObjectStore::get_object`], for a caller that reads the stored bytes through to the end
    /// (a whole-object GET, a copy) after at most short reads elsewhere (its header, its final chunk):
    /// a remote store streams them in one request instead of a request per window. The default is
    /// [`ObjectStore::get_object`].
    ///
    /// # Errors
    /// As [`ObjectStore::get_object`].
    fn get_object_to_end(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<StoredObject, StoreError> {
        self.get_object(bucket, key, version)
    }

    /// Bytes `[start, min(end, size))` of a version's stored bytes.
    ///
    /// # Errors
    /// [`StoreError::InvalidRange`] if `start >= size` (or `start > end`); as [`ObjectStore::get_object`].
    fn get_object_range(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        start: u64,
        end: u64,
    ) -> Result<StoredRange, StoreError>;

    /// A version's info.
    ///
    /// # Errors
    /// As [`ObjectStore::get_object`].
    fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectInfo, StoreError>;

    /// Deletes `key` without a version id, as the versioning state says: removes the `null` version
    /// (unversioned), adds a delete marker (enabled), or replaces the `null` version with a `null`
    /// delete marker (suspended). Returns the delete marker made, if any. Deleting a missing key
    /// succeeds, as in S3.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; I/O.
    fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError>;

    /// Removes version `version_id` of `key` permanently (object or delete marker); returns its info.
    /// The next newest version, if any, becomes current.
    ///
    /// # Errors
    /// [`StoreError::NoSuchVersion`]; I/O.
    fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<ObjectInfo, StoreError>;

    /// One page of the keys whose current version is an object (not a delete marker) and that start
    /// with the prefix, in key order.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; [`StoreError::InvalidArgument`] for a token this store did not
    /// issue; I/O.
    fn list_objects(&self, bucket: &str, request: &ListRequest) -> Result<ListPage, StoreError>;

    /// One page of versions and delete markers, by key, newest first.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; I/O.
    fn list_object_versions(
        &self,
        bucket: &str,
        request: &VersionListRequest,
    ) -> Result<VersionPage, StoreError>;

    /// Starts a multipart upload of `key` with `metadata` and the lock state the object will get;
    /// returns its upload id.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; I/O.
    fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: &Metadata,
        lock: &ObjectLock,
    ) -> Result<String, StoreError>;

    /// Stores part `part_number` (1..=10,000) of an upload, replacing an earlier one of that number.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`]; [`StoreError::InvalidArgument`] for a part number out of range;
    /// [`StoreError::Body`]; I/O.
    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: &mut dyn Read,
    ) -> Result<PartInfo, StoreError>;

    /// The parts uploaded so far, by part number.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`]; I/O.
    fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, StoreError>;

    /// Joins the listed parts (number, ETag; ascending) into the object's new version (as
    /// [`ObjectStore::put_object`] with the upload's metadata and lock state), followed by `trailer` (the
    /// SSE engine's manifest; may be empty), atomically (the old object stays until the new one
    /// replaces it), and ends the upload. The part bodies are copied, never interpreted. The ETag is S3's
    /// multipart ETag of the stored parts (`"<md5 of the parts' md5s>-<n>"`).
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`], [`StoreError::InvalidPart`], [`StoreError::InvalidPartOrder`]; I/O.
    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        trailer: &[u8],
    ) -> Result<ObjectInfo, StoreError>;

    /// The upload `upload_id` of `key`: when it started and the metadata it was created with.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`]; I/O.
    fn multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<MultipartUpload, StoreError>;

    /// Every upload in progress in `bucket`, by key then start time.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`]; I/O.
    fn list_multipart_uploads(&self, bucket: &str) -> Result<Vec<MultipartUpload>, StoreError>;

    /// Opens the stored bytes of part `part_number` of an upload, seekable.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`]; [`StoreError::InvalidPart`] if that part was not uploaded; I/O.
    fn open_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
    ) -> Result<Box<dyn ReadSeek>, StoreError>;

    /// Ends an upload and removes its parts.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`]; I/O.
    fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError>;

    /// Sets (`Some`) or clears the retention of a version.
    ///
    /// # Errors
    /// [`StoreError::NoSuchVersion`] (also for a delete marker); [`StoreError::Unsupported`] for a
    /// store without Object Lock.
    fn put_object_retention(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        retention: Option<&Retention>,
    ) -> Result<(), StoreError>;

    /// Sets or clears the legal hold of a version.
    ///
    /// # Errors
    /// [`StoreError::NoSuchVersion`] (also for a delete marker); [`StoreError::Unsupported`] for a
    /// store without Object Lock.
    fn put_object_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        on: bool,
    ) -> Result<(), StoreError>;
}
