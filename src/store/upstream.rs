//! The upstream store: an [`ObjectStore`] kept in an existing S3-compatible cluster (AWS S3, MinIO, Ceph
//! RGW, moto), through aws-sdk-s3. This is what `s3crypt serve --upstream URL` runs on, and what lets
//! several s3crypt instances serve the same buckets.
//!
//! The cluster sees only what the SSE engine hands the store: ciphertext with a sealed header, never a
//! plaintext byte or a key. Buckets map one to one onto upstream buckets of the same name; one upstream
//! bucket, the *state bucket* (`s3crypt-state` unless configured), holds what every instance shares:
//!
//! ```text
//! STATE/config/<bucket>/<name>                      bucket configuration documents (encryption, policy,
//!                                                   CORS, logging, access points, …), one object each
//! STATE/uploads/<bucket>/<upload id>/record.json    a multipart upload in progress: key, start, metadata
//! STATE/uploads/<bucket>/<upload id>/part-<nnnnn>   its parts as the engine encrypted them
//! STATE/sse/…                                       the SSE-S3 root keys, sealed under a KMS key
//!                                                   (`sse::roots`)
//! ```
//!
//! | S3 feature | upstream mapping |
//! |---|---|
//! | PutObject | one upstream PutObject up to [`PART_SIZE`]; larger bodies stream through an upstream multipart upload of [`PART_SIZE`] parts (at most [`IN_FLIGHT`] uploading while the next is encrypted), completed only when the body ended well, aborted otherwise |
//! | GetObject, ranges | ranged GETs: a first window of [`FIRST_WINDOW`] bytes (header, listings, small objects in one round trip), then the rest from where the reader is, pinned to the version or ETag it opened. A whole-object GET fetches the last 1 MiB, then streams the rest in one GET; when this instance already has the object's last bytes (it wrote it, or opened it for a HEAD, a listing or a read: `tails.rs`), only the rest, conditional on the same upstream ETag |
//! | listings | upstream ListObjectsV2 / ListObjectVersions; the engine replaces sizes with the plaintext sizes from each object's header |
//! | multipart uploads | parts are staged as objects in the state bucket (readable, unlike upstream parts, so the engine can check their trailers); CompleteMultipartUpload makes one upstream multipart upload of server-side `UploadPartCopy`s (the data does not pass through s3crypt again) plus the engine's manifest, and removes the staged parts |
//! | versioning | the upstream bucket's versioning; version ids are the upstream's |
//! | Object Lock, in-place reseal of a version | refused (`NotImplemented`): see the module's known differences |
//!
//! Consistency: objects are as consistent as the upstream (AWS S3 is strongly read-after-write
//! consistent). Configuration documents and the versioning state are cached for at most
//! [`UpstreamOptions::refresh`] (default 1 s): a change made through one instance is obeyed by every
//! other within that time; the instance that made it obeys it at once.
//!
//! Failure: an instance that dies mid-PutObject or mid-CompleteMultipartUpload leaves an upstream
//! multipart upload that was never completed (no object is visible: S3 makes an object visible only at
//! completion). [`UpstreamStore::abort_orphaned_uploads`] aborts those older than a grace period (every
//! upstream multipart upload in a served bucket belongs to one request of one instance); `serve` runs
//! it at start and every ten minutes. A staged upload that a client abandons is an S3 multipart
//! upload in progress, listed and abortable as in S3.
//!
//! Known differences from the local store: Object Lock (retention, legal holds) and re-sealing a
//! *versioned* object in place are refused, since S3 cannot change a version's bytes; metadata the
//! engine attaches to a completed multipart upload is not carried to the object (nothing reads it).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CompletedMultipartUpload, CompletedPart,
    CreateBucketConfiguration, VersioningConfiguration,
};
use aws_smithy_types::body::SdkBody;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

use super::{
    BucketInfo, ListPage, ListRequest, MAX_KEYS, Metadata, MultipartUpload, NULL_VERSION,
    ObjectInfo, ObjectLock, ObjectStore, PartInfo, ReadSeek, Retention, StoreError, StoredObject,
    StoredRange, VersionListRequest, VersionPage, Versioning,
};
use crate::aws::sdk::{S3ClientConfig, s3_client};

mod tails;
use tails::{Tails, keep_last};

/// The size of the parts a large PutObject is streamed upstream in (and the largest single PutObject).
pub const PART_SIZE: usize = 8 << 20;
/// How many parts of one PutObject upload at once while the next is being encrypted.
pub const IN_FLIGHT: usize = 2;
/// The first GET of a read is a suffix range of this many bytes: the stored header and trailer are at
/// the end of an object (listings and HEAD read only those), and small objects come whole.
pub const FIRST_WINDOW: u64 = 64 * 1024;
/// A whole-object read first fetches this suffix: the header, the trailer and the final chunk (which
/// authenticates the length before anything is released), and objects up to this size whole.
const STREAM_SUFFIX: u64 = 1 << 20;
/// The first GET after a jump (a ranged read, a trailer at the end).
const NEXT_WINDOW: u64 = 256 * 1024;
/// Windows grow up to this length, then a sequential reader gets the rest in one GET.
const MAX_WINDOW: u64 = 64 << 20;
/// A forward seek within this many bytes of an open GET reads on instead of starting a new GET.
const SKIP_LIMIT: u64 = 256 * 1024;
/// A reader streaming a whole object fetches a forward jump into its last this-many bytes (the final
/// chunk, a manifest) with a separate GET, keeping its stream where it is.
const TAIL_LIMIT: u64 = 1 << 20;
/// The largest stretch one `UploadPartCopy` copies (S3 allows 5 GiB).
const COPY_LIMIT: u64 = 4 << 30;
/// S3's smallest part but the last.
const MIN_UPSTREAM_PART: u64 = 5 << 20;
/// The user metadata key holding the store's metadata map (base64url JSON).
const META_KEY: &str = "s3crypt-meta";
/// Upstream user metadata the store writes at most (S3 allows 2 KB in all).
const MAX_META: usize = 1800;
/// The default state bucket.
pub const DEFAULT_STATE_BUCKET: &str = "s3crypt-state";

/// How to reach the upstream and how long shared state may be cached.
#[derive(Clone, Debug)]
pub struct UpstreamOptions {
    /// The upstream's endpoint, region and credentials.
    pub client: S3ClientConfig,
    /// The bucket holding shared state (configuration, staged parts, sealed root keys).
    pub state_bucket: String,
    /// How long a configuration document or versioning state read from the upstream is reused.
    pub refresh: Duration,
}

impl UpstreamOptions {
    /// Options for `client` with the default state bucket and a refresh of one second.
    #[must_use]
    pub fn new(client: S3ClientConfig) -> Self {
        Self {
            client,
            state_bucket: DEFAULT_STATE_BUCKET.to_owned(),
            refresh: Duration::from_secs(1),
        }
    }
}

type Cached<T> = Mutex<HashMap<(String, String), (Instant, T)>>;

struct Inner {
    client: Client,
    rt: Option<tokio::runtime::Runtime>,
    state: String,
    region: String,
    refresh: Duration,
    configs: Cached<Option<String>>,
    versioning: Cached<Versioning>,
    /// The last bytes of objects recently written or opened (`tails.rs`).
    tails: Tails,
}

/// An [`ObjectStore`] in an upstream S3-compatible cluster (module docs).
#[derive(Clone)]
pub struct UpstreamStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for UpstreamStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamStore")
            .field("state_bucket", &self.inner.state)
            .field("region", &self.inner.region)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The store may be dropped on an async thread, where dropping a runtime would panic.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// What an SDK failure says: status, S3 error code, message, and the response headers S3 uses to tell
/// delete markers apart.
struct Failure {
    status: u16,
    code: String,
    text: String,
    delete_marker: bool,
    version_id: Option<String>,
    last_modified: Option<SystemTime>,
}

type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

fn failure<E>(e: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let raw = e.raw_response();
    let header = |n: &str| raw.and_then(|r| r.headers().get(n).map(str::to_owned));
    Failure {
        status: raw.map_or(0, |r| r.status().as_u16()),
        code: e.code().unwrap_or_default().to_owned(),
        text: DisplayErrorContext(e).to_string(),
        delete_marker: header("x-amz-delete-marker").as_deref() == Some("true"),
        version_id: header("x-amz-version-id"),
        last_modified: header("last-modified").and_then(|v| crate::aws::clock::parse_http_date(&v)),
    }
}

impl Failure {
    fn into_store_error(self, what: &str) -> StoreError {
        match (self.status, self.code.as_str()) {
            (_, "NoSuchBucket") => StoreError::NoSuchBucket,
            (_, "BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => StoreError::BucketExists,
            (_, "BucketNotEmpty") => StoreError::BucketNotEmpty,
            (_, "InvalidBucketName") => StoreError::InvalidBucketName,
            (_, "NoSuchVersion") => StoreError::NoSuchVersion,
            (_, "NoSuchUpload") => StoreError::NoSuchUpload,
            (_, "InvalidPartOrder") => StoreError::InvalidPartOrder,
            (416, _) | (_, "InvalidRange") => StoreError::InvalidRange,
            (404 | 405, _) if self.delete_marker => StoreError::DeleteMarker {
                version_id: self.version_id.unwrap_or_else(|| NULL_VERSION.to_owned()),
                last_modified: self.last_modified.unwrap_or(SystemTime::UNIX_EPOCH),
                requested: self.status == 405,
            },
            (_, "NoSuchKey") | (404, _) => StoreError::NoSuchKey,
            (400, "InvalidArgument") if self.text.contains("ersion") => StoreError::NoSuchVersion,
            _ => StoreError::Io {
                what: format!("upstream {what}"),
                source: io::Error::other(self.text),
            },
        }
    }
}

/// Maps an SDK failure of `what` to a store error.
fn sdk_err<E>(what: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e| failure(&e).into_store_error(what)
}

/// An S3 size (`i64`, absent when unknown) as a store size.
fn size_of(s: Option<i64>) -> u64 {
    s.and_then(|s| u64::try_from(s).ok()).unwrap_or(0)
}

/// A page size: `max_keys`, 0 meaning [`MAX_KEYS`], at most [`MAX_KEYS`].
fn page_size(max_keys: usize) -> i32 {
    let n = if max_keys == 0 {
        MAX_KEYS
    } else {
        max_keys.min(MAX_KEYS)
    };
    i32::try_from(n).unwrap_or(1000)
}

fn time_of(t: Option<&aws_smithy_types::DateTime>) -> SystemTime {
    t.and_then(|d| SystemTime::try_from(*d).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn encode_metadata(m: &Metadata) -> Result<Option<HashMap<String, String>>, StoreError> {
    if m.is_empty() {
        return Ok(None);
    }
    let json = serde_json::to_vec(m).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let v = B64URL.encode(json);
    if v.len() > MAX_META {
        return Ok(None);
    }
    Ok(Some(HashMap::from([(META_KEY.to_owned(), v)])))
}

fn decode_metadata(m: Option<&HashMap<String, String>>) -> Metadata {
    m.and_then(|m| m.get(META_KEY))
        .and_then(|v| B64URL.decode(v).ok())
        .and_then(|j| serde_json::from_slice(&j).ok())
        .unwrap_or_default()
}

/// A new upload id: 32 URL-safe characters.
fn new_upload_id() -> Result<String, StoreError> {
    let raw = crate::primitives::random_array::<24>()
        .map_err(|e| StoreError::Corrupt(format!("no randomness: {e}")))?;
    Ok(B64URL.encode(raw))
}

/// Whether `id` has the shape of an upload id this store issues (it becomes part of object keys).
fn valid_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The record of a staged multipart upload.
#[derive(serde::Serialize, serde::Deserialize)]
struct UploadRecord {
    key: String,
    initiated_ms: u64,
    metadata: Metadata,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn no_lock(lock: &ObjectLock) -> Result<(), StoreError> {
    if lock.retention.is_some() || lock.legal_hold {
        return Err(StoreError::Unsupported(
            "Object Lock on an upstream S3 store",
        ));
    }
    Ok(())
}

impl UpstreamStore {
    /// Connects to the upstream of `options` (credentials from the options or the AWS default chain)
    /// and makes sure its state bucket exists.
    ///
    /// # Errors
    /// The client cannot be configured, or the state bucket can neither be found nor created.
    pub fn open(options: &UpstreamOptions) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("s3crypt-upstream")
            .enable_all()
            .build()
            .map_err(StoreError::io("starting the upstream client's runtime"))?;
        let cfg = options.client.clone();
        let client =
            run_on(&rt, async move { s3_client(&cfg).await })?.map_err(|e| StoreError::Io {
                what: "configuring the upstream client".into(),
                source: io::Error::other(e.to_string()),
            })?;
        let region = options
            .client
            .region
            .clone()
            .or_else(|| client.config().region().map(|r| r.as_ref().to_owned()))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let store = Self {
            inner: Arc::new(Inner {
                client,
                rt: Some(rt),
                state: options.state_bucket.clone(),
                region,
                refresh: options.refresh,
                configs: Mutex::new(HashMap::new()),
                versioning: Mutex::new(HashMap::new()),
                tails: Tails::default(),
            }),
        };
        match store.head_upstream_bucket(&store.inner.state) {
            Ok(()) => {}
            Err(StoreError::NoSuchBucket) => match store.create_upstream_bucket(&store.inner.state)
            {
                Ok(()) | Err(StoreError::BucketExists) => {}
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
        Ok(store)
    }

    /// The state bucket's name.
    #[must_use]
    pub fn state_bucket(&self) -> &str {
        &self.inner.state
    }

    /// Runs `f` on the store's runtime and waits for it (callable from any thread that may block).
    fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let rt = self.inner.rt.as_ref().ok_or_else(|| StoreError::Io {
            what: "the upstream client".into(),
            source: io::Error::other("shut down"),
        })?;
        run_on(rt, f)
    }

    fn client(&self) -> Client {
        self.inner.client.clone()
    }

    /// Reads a whole (small) object of the state bucket; `None` if it does not exist.
    pub(crate) fn get_state(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        let (c, b, k) = (self.client(), self.inner.state.clone(), key.to_owned());
        self.run(async move {
            let out = match c.get_object().bucket(b).key(k).send().await {
                Ok(o) => o,
                Err(e) => {
                    return match failure(&e).into_store_error("GetObject") {
                        StoreError::NoSuchKey => Ok(None),
                        other => Err(other),
                    };
                }
            };
            let etag = out.e_tag().unwrap_or_default().to_owned();
            let bytes = out.body.collect().await.map_err(|e| StoreError::Io {
                what: "upstream GetObject body".into(),
                source: io::Error::other(e.to_string()),
            })?;
            Ok(Some((bytes.into_bytes().to_vec(), etag)))
        })?
    }

    /// Writes a (small) object of the state bucket; with `if_match`, only over that ETag (`"*"`: only
    /// if absent... as `If-None-Match: *`). Returns false when the condition failed.
    pub(crate) fn put_state(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: Option<StateCondition>,
    ) -> Result<bool, StoreError> {
        let (c, b, k) = (self.client(), self.inner.state.clone(), key.to_owned());
        self.run(async move {
            let mut req = c.put_object().bucket(b).key(k).body(ByteStream::from(body));
            match condition {
                Some(StateCondition::Absent) => req = req.if_none_match("*"),
                Some(StateCondition::Etag(e)) => req = req.if_match(e),
                None => {}
            }
            match req.send().await {
                Ok(_) => Ok(true),
                Err(e) => {
                    let f = failure(&e);
                    if f.status == 412
                        || f.code == "PreconditionFailed"
                        || f.code == "ConditionalRequestConflict"
                        || f.status == 409 && f.code.contains("Conditional")
                    {
                        Ok(false)
                    } else {
                        Err(f.into_store_error("PutObject"))
                    }
                }
            }
        })?
    }

    /// The ETag of an object of the state bucket; `None` if it does not exist.
    pub(crate) fn state_etag(&self, key: &str) -> Result<Option<String>, StoreError> {
        let state = self.inner.state.clone();
        match self.head(&state, key, None) {
            Ok(i) => Ok(Some(i.etag)),
            Err(StoreError::NoSuchKey) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn delete_state(&self, key: &str) -> Result<(), StoreError> {
        let (c, b, k) = (self.client(), self.inner.state.clone(), key.to_owned());
        self.run(async move {
            c.delete_object()
                .bucket(b)
                .key(k)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_err("DeleteObject"))
        })?
    }

    /// Every key under `prefix` in the state bucket (bounded by the listing's pages).
    fn list_state(&self, prefix: &str) -> Result<Vec<(String, u64, String)>, StoreError> {
        let (c, b, p) = (self.client(), self.inner.state.clone(), prefix.to_owned());
        self.run(async move {
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let page = c
                    .list_objects_v2()
                    .bucket(&b)
                    .prefix(&p)
                    .set_continuation_token(token)
                    .send()
                    .await
                    .map_err(sdk_err("ListObjectsV2"))?;
                for o in page.contents() {
                    out.push((
                        o.key().unwrap_or_default().to_owned(),
                        o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                        o.e_tag().unwrap_or_default().to_owned(),
                    ));
                }
                token = page.next_continuation_token().map(str::to_owned);
                if token.is_none() || page.is_truncated() != Some(true) {
                    return Ok(out);
                }
            }
        })?
    }

    fn head_upstream_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let (c, b) = (self.client(), bucket.to_owned());
        self.run(async move {
            match c.head_bucket().bucket(b).send().await {
                Ok(_) => Ok(()),
                Err(e) => match failure(&e) {
                    f if f.status == 404 => Err(StoreError::NoSuchBucket),
                    f => Err(f.into_store_error("HeadBucket")),
                },
            }
        })?
    }

    fn create_upstream_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let (c, b, region) = (self.client(), bucket.to_owned(), self.inner.region.clone());
        self.run(async move {
            let mut req = c.create_bucket().bucket(b);
            if region != "us-east-1" {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region.as_str()))
                        .build(),
                );
            }
            req.send()
                .await
                .map(|_| ())
                .map_err(sdk_err("CreateBucket"))
        })?
    }

    fn check_bucket_name(&self, bucket: &str) -> Result<(), StoreError> {
        if bucket == self.inner.state {
            // Served buckets and the shared state never mix.
            return Err(StoreError::InvalidBucketName);
        }
        Ok(())
    }

    fn cached<T: Clone>(
        &self,
        cache: &Cached<T>,
        bucket: &str,
        name: &str,
        load: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let k = (bucket.to_owned(), name.to_owned());
        if let Ok(c) = cache.lock()
            && let Some((at, v)) = c.get(&k)
            && at.elapsed() < self.inner.refresh
        {
            return Ok(v.clone());
        }
        let v = load()?;
        if let Ok(mut c) = cache.lock() {
            c.insert(k, (Instant::now(), v.clone()));
        }
        Ok(v)
    }

    fn remember<T>(cache: &Cached<T>, bucket: &str, name: &str, v: T) {
        if let Ok(mut c) = cache.lock() {
            c.insert((bucket.to_owned(), name.to_owned()), (Instant::now(), v));
        }
    }

    fn forget_bucket(&self, bucket: &str) {
        if let Ok(mut c) = self.inner.configs.lock() {
            c.retain(|(b, _), _| b != bucket);
        }
        if let Ok(mut c) = self.inner.versioning.lock() {
            c.retain(|(b, _), _| b != bucket);
        }
    }

    fn info_from_head(
        key: &str,
        out: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
        latest: bool,
    ) -> ObjectInfo {
        ObjectInfo {
            key: key.to_owned(),
            version_id: out.version_id().unwrap_or(NULL_VERSION).to_owned(),
            is_latest: latest,
            is_delete_marker: false,
            size: out
                .content_length()
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            etag: out.e_tag().unwrap_or_default().to_owned(),
            last_modified: time_of(out.last_modified()),
            metadata: decode_metadata(out.metadata()),
            retention: None,
            legal_hold: false,
        }
    }

    fn head(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectInfo, StoreError> {
        let (c, b, k) = (self.client(), bucket.to_owned(), key.to_owned());
        let v = version.map(str::to_owned);
        let latest = version.is_none();
        let r = self.run(async move {
            c.head_object()
                .bucket(b)
                .key(&k)
                .set_version_id(v)
                .send()
                .await
                .map(|o| Self::info_from_head(&k, &o, latest))
                .map_err(|e| failure(&e))
        })?;
        match r {
            Ok(i) => Ok(i),
            // HEAD has no body: a 404 may be a missing bucket.
            Err(f) if f.status == 404 && !f.delete_marker => {
                self.head_bucket(bucket)?;
                Err(if version.is_some() {
                    StoreError::NoSuchVersion
                } else {
                    StoreError::NoSuchKey
                })
            }
            Err(f) if f.status == 400 && version.is_some() => Err(StoreError::NoSuchVersion),
            Err(f) => Err(f.into_store_error("HeadObject")),
        }
    }

    /// Uploads `body` (read to its end) to `bucket/key`: one PutObject if it fits [`PART_SIZE`], else
    /// an upstream multipart upload, completed only if the whole body was read and every part stored.
    fn put_streaming(
        &self,
        bucket: &str,
        key: &str,
        body: &mut dyn Read,
        metadata: Option<HashMap<String, String>>,
    ) -> Result<Put, StoreError> {
        let first = read_chunk(body, PART_SIZE)?;
        if first.len() < PART_SIZE {
            let mut tail = Vec::new();
            keep_last(&mut tail, &first);
            let size = first.len() as u64;
            let (c, b, k) = (self.client(), bucket.to_owned(), key.to_owned());
            let (etag, version) = self.run(async move {
                c.put_object()
                    .bucket(b)
                    .key(k)
                    .set_metadata(metadata)
                    .body(ByteStream::from(first))
                    .send()
                    .await
                    .map(|o| {
                        (
                            o.e_tag().unwrap_or_default().to_owned(),
                            o.version_id()
                                .filter(|v| *v != NULL_VERSION)
                                .map(str::to_owned),
                        )
                    })
                    .map_err(sdk_err("PutObject"))
            })??;
            return Ok(Put {
                etag,
                version,
                size,
                tail,
            });
        }
        let upload_id = self.create_upstream_upload(bucket, key, metadata)?;
        let mut put = Put::default();
        let result = self.stream_parts(bucket, key, &upload_id, first, body, &mut put);
        match result {
            Ok(parts) => match self.complete_upstream_upload(bucket, key, &upload_id, parts) {
                Ok((etag, version)) => Ok(Put {
                    etag,
                    version,
                    ..put
                }),
                Err(e) => {
                    let _ = self.abort_upstream_upload(bucket, key, &upload_id);
                    Err(e)
                }
            },
            Err(e) => {
                let _ = self.abort_upstream_upload(bucket, key, &upload_id);
                Err(e)
            }
        }
    }

    fn stream_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        body: &mut dyn Read,
        put: &mut Put,
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let rt = self
            .inner
            .rt
            .as_ref()
            .ok_or(StoreError::Unsupported("a shut-down store"))?;
        let mut pending: VecDeque<tokio::task::JoinHandle<Result<CompletedPart, StoreError>>> =
            VecDeque::new();
        let mut done = Vec::new();
        let mut next = Some(first);
        let mut number = 0i32;
        let wait = |h: tokio::task::JoinHandle<Result<CompletedPart, StoreError>>| {
            run_on(rt, h)?.map_err(|e| StoreError::Io {
                what: "an upstream part upload".into(),
                source: io::Error::other(e.to_string()),
            })?
        };
        while let Some(chunk) = next.take() {
            if chunk.is_empty() && number > 0 {
                break;
            }
            number += 1;
            if number > 10_000 {
                return Err(StoreError::InvalidArgument(
                    "the object needs more than 10,000 upstream parts".into(),
                ));
            }
            let (c, b, k, u) = (
                self.client(),
                bucket.to_owned(),
                key.to_owned(),
                upload_id.to_owned(),
            );
            let n = number;
            let full = chunk.len() == PART_SIZE;
            keep_last(&mut put.tail, &chunk);
            put.size += chunk.len() as u64;
            pending.push_back(rt.spawn(async move {
                let out = c
                    .upload_part()
                    .bucket(b)
                    .key(k)
                    .upload_id(u)
                    .part_number(n)
                    .body(ByteStream::from(chunk))
                    .send()
                    .await
                    .map_err(sdk_err("UploadPart"))?;
                Ok(CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .build())
            }));
            while pending.len() >= IN_FLIGHT {
                if let Some(h) = pending.pop_front() {
                    done.push(wait(h)?);
                }
            }
            if full {
                next = Some(read_chunk(body, PART_SIZE)?);
            }
        }
        while let Some(h) = pending.pop_front() {
            done.push(wait(h)?);
        }
        Ok(done)
    }

    fn create_upstream_upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: Option<HashMap<String, String>>,
    ) -> Result<String, StoreError> {
        let (c, b, k) = (self.client(), bucket.to_owned(), key.to_owned());
        self.run(async move {
            let out = c
                .create_multipart_upload()
                .bucket(b)
                .key(k)
                .set_metadata(metadata)
                .send()
                .await
                .map_err(sdk_err("CreateMultipartUpload"))?;
            out.upload_id().map(str::to_owned).ok_or_else(|| {
                StoreError::Corrupt("CreateMultipartUpload gave no upload id".into())
            })
        })?
    }

    fn complete_upstream_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<(String, Option<String>), StoreError> {
        let (c, b, k, u) = (
            self.client(),
            bucket.to_owned(),
            key.to_owned(),
            upload_id.to_owned(),
        );
        self.run(async move {
            c.complete_multipart_upload()
                .bucket(b)
                .key(k)
                .upload_id(u)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map(|o| {
                    (
                        o.e_tag().unwrap_or_default().to_owned(),
                        o.version_id()
                            .filter(|v| *v != NULL_VERSION)
                            .map(str::to_owned),
                    )
                })
                .map_err(sdk_err("CompleteMultipartUpload"))
        })?
    }

    fn abort_upstream_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let (c, b, k, u) = (
            self.client(),
            bucket.to_owned(),
            key.to_owned(),
            upload_id.to_owned(),
        );
        self.run(async move {
            c.abort_multipart_upload()
                .bucket(b)
                .key(k)
                .upload_id(u)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_err("AbortMultipartUpload"))
        })?
    }

    /// Aborts the upstream multipart uploads in served buckets started more than `grace` ago: the
    /// leftovers of instances that died mid-PutObject or mid-CompleteMultipartUpload (every such
    /// upload belongs to one request). Returns how many were aborted.
    ///
    /// # Errors
    /// A listing or abort failed.
    pub fn abort_orphaned_uploads(&self, grace: Duration) -> Result<usize, StoreError> {
        let cutoff = SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut aborted = 0;
        for b in self.list_buckets()? {
            let (c, name) = (self.client(), b.name.clone());
            let uploads = self.run(async move {
                let mut out = Vec::new();
                let (mut km, mut um) = (None, None);
                for _ in 0..1000 {
                    let page = c
                        .list_multipart_uploads()
                        .bucket(&name)
                        .set_key_marker(km)
                        .set_upload_id_marker(um)
                        .send()
                        .await
                        .map_err(sdk_err("ListMultipartUploads"))?;
                    for u in page.uploads() {
                        out.push((
                            u.key().unwrap_or_default().to_owned(),
                            u.upload_id().unwrap_or_default().to_owned(),
                            time_of(u.initiated()),
                        ));
                    }
                    if page.is_truncated() != Some(true) {
                        break;
                    }
                    km = page.next_key_marker().map(str::to_owned);
                    um = page.next_upload_id_marker().map(str::to_owned);
                }
                Ok::<_, StoreError>(out)
            })??;
            for (key, id, initiated) in uploads {
                if initiated <= cutoff {
                    self.abort_upstream_upload(&b.name, &key, &id)?;
                    aborted += 1;
                }
            }
        }
        Ok(aborted)
    }

    fn upload_prefix(bucket: &str, upload_id: &str) -> String {
        format!("uploads/{bucket}/{upload_id}/")
    }

    fn load_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord, StoreError> {
        if !valid_upload_id(upload_id) {
            return Err(StoreError::NoSuchUpload);
        }
        let Some((bytes, _)) = self.get_state(&format!(
            "{}record.json",
            Self::upload_prefix(bucket, upload_id)
        ))?
        else {
            return Err(StoreError::NoSuchUpload);
        };
        let r: UploadRecord = serde_json::from_slice(&bytes)
            .map_err(|_| StoreError::Corrupt(format!("the record of upload {upload_id}")))?;
        if r.key != key {
            return Err(StoreError::NoSuchUpload);
        }
        Ok(r)
    }

    fn staged_parts(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Vec<(PartInfo, String)>, StoreError> {
        let prefix = Self::upload_prefix(bucket, upload_id);
        let mut parts = Vec::new();
        for (k, size, etag) in self.list_state(&prefix)? {
            let Some(n) = k
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_prefix("part-"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            parts.push((
                PartInfo {
                    part_number: n,
                    etag,
                    size,
                },
                k,
            ));
        }
        parts.sort_by_key(|p| p.0.part_number);
        Ok(parts)
    }

    /// A reader of `key`'s bytes in `bucket` (upstream or state), opened at `info`.
    fn reader(
        &self,
        bucket: &str,
        key: &str,
        info: &ObjectInfo,
        kept: (u64, bytes::Bytes),
    ) -> UpstreamReader {
        UpstreamReader {
            store: self.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version: (info.version_id != NULL_VERSION).then(|| info.version_id.clone()),
            etag: info.etag.clone(),
            size: info.size,
            pos: 0,
            kept,
            window: None,
            next_len: NEXT_WINDOW,
            streaming: false,
            tail: None,
        }
    }

    /// Opens `key` for a read through to the end: a GET of its last [`STREAM_SUFFIX`] bytes (the
    /// header, the trailer, the final chunk; small objects whole, in one request) and, for a larger
    /// object, one GET of the rest pinned to what the first opened, whose body streams while the
    /// caller reads. Two requests however large the object, one for most small ones.
    fn open_streaming(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<StoredObject, StoreError> {
        let (info, sw) = self
            .start_get(bucket, key, version, None, Span::Suffix(STREAM_SUFFIX))?
            .wait()?;
        let at = sw.at;
        let tail = sw.read_all()?;
        self.inner
            .tails
            .insert(bucket, key, version, &info.etag, info.size, &tail);
        let rest = if at > 0 {
            let pinned = (info.version_id != NULL_VERSION).then_some(info.version_id.as_str());
            let etag = pinned.is_none().then_some(info.etag.as_str());
            let (_, w) = self
                .start_get(bucket, key, pinned, etag, Span::From(0, Some(at)))?
                .wait()?;
            Some(w)
        } else {
            None
        };
        Ok(self.streaming_object(bucket, key, info, (at, tail), rest))
    }

    /// A reader opened to be read to the end: `kept` holds the last bytes, `rest` streams the others.
    fn streaming_object(
        &self,
        bucket: &str,
        key: &str,
        info: ObjectInfo,
        kept: (u64, bytes::Bytes),
        rest: Option<Window>,
    ) -> StoredObject {
        let mut r = self.reader(bucket, key, &info, kept);
        r.window = rest;
        r.streaming = true;
        // Sequential reads after the stream are open-ended too.
        r.next_len = MAX_WINDOW.saturating_mul(4);
        StoredObject {
            info,
            body: Box::new(r),
        }
    }

    /// [`Self::open_streaming`] with the last bytes already kept ([`tails`]): one GET of the rest,
    /// conditional on the ETag they came with. `None` if nothing is kept or the object changed (the
    /// entry is then dropped).
    fn open_streaming_kept(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Option<StoredObject> {
        let kept = self.inner.tails.get(bucket, key, version)?;
        let opened = self
            .start_get(
                bucket,
                key,
                version,
                Some(&kept.etag),
                Span::From(0, Some(kept.at)),
            )
            .and_then(PendingGet::wait);
        match opened {
            Ok((info, w)) if info.etag == kept.etag && info.size == kept.size => {
                Some(self.streaming_object(bucket, key, info, (kept.at, kept.bytes), Some(w)))
            }
            // Changed (412), gone, or any failure: the ordinary open decides.
            _ => {
                self.inner.tails.forget(bucket, key, version);
                None
            }
        }
    }

    /// A ranged GET pinned to a version or ETag, waited for.
    fn get_range(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        etag: Option<&str>,
        start: u64,
        end: Option<u64>,
    ) -> Result<(ObjectInfo, Window), StoreError> {
        self.start_get(bucket, key, version, etag, Span::From(start, end))?
            .wait()
    }

    /// Sends a ranged GET of `span`, pinned to a version or ETag; [`PendingGet::wait`] waits for its
    /// headers. Two started before either is waited for run concurrently.
    fn start_get(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        etag: Option<&str>,
        span: Span,
    ) -> Result<PendingGet, StoreError> {
        let (c, b, k) = (self.client(), bucket.to_owned(), key.to_owned());
        let (v, e) = (version.map(str::to_owned), etag.map(str::to_owned));
        let range = match span {
            Span::From(start, Some(end)) => format!("bytes={start}-{}", end.saturating_sub(1)),
            Span::From(start, None) => format!("bytes={start}-"),
            Span::Suffix(n) => format!("bytes=-{n}"),
        };
        let latest = version.is_none();
        let rt = self
            .inner
            .rt
            .as_ref()
            .ok_or(StoreError::Unsupported("a shut-down store"))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(8);
        let (head_tx, head_rx) = std::sync::mpsc::sync_channel::<Result<ObjectInfo, Failure>>(1);
        rt.spawn(async move {
            let out = match c
                .get_object()
                .bucket(b)
                .key(&k)
                .set_version_id(v)
                .set_if_match(e)
                .range(range)
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    let _ = head_tx.send(Err(failure(&e)));
                    return;
                }
            };
            let total = out
                .content_range()
                .and_then(|r| r.rsplit_once('/'))
                .and_then(|(_, t)| t.parse::<u64>().ok())
                .or_else(|| out.content_length().and_then(|l| u64::try_from(l).ok()))
                .unwrap_or(0);
            let info = ObjectInfo {
                key: k.clone(),
                version_id: out.version_id().unwrap_or(NULL_VERSION).to_owned(),
                is_latest: latest,
                is_delete_marker: false,
                size: total,
                etag: out.e_tag().unwrap_or_default().to_owned(),
                last_modified: time_of(out.last_modified()),
                metadata: decode_metadata(out.metadata()),
                retention: None,
                legal_hold: false,
            };
            let _ = head_tx.send(Ok(info));
            let mut body = out.body;
            loop {
                match body.try_next().await {
                    Ok(Some(chunk)) => {
                        if tx.send(Ok(chunk)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                        return;
                    }
                }
            }
        });
        Ok(PendingGet { head_rx, rx, span })
    }

    /// Opens `key` for reading: its info and its last [`FIRST_WINDOW`] bytes (where the stored header
    /// is), in one round trip.
    fn open_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(ObjectInfo, (u64, bytes::Bytes)), StoreError> {
        match self
            .start_get(bucket, key, version, None, Span::Suffix(FIRST_WINDOW))
            .and_then(PendingGet::wait)
        {
            Ok((info, w)) => {
                let at = w.at;
                let last = w.read_all()?;
                self.inner
                    .tails
                    .insert(bucket, key, version, &info.etag, info.size, &last);
                Ok((info, (at, last)))
            }
            // An empty object has no satisfiable range.
            Err(StoreError::InvalidRange) => {
                Ok((self.head(bucket, key, version)?, (0, bytes::Bytes::new())))
            }
            Err(StoreError::NoSuchKey) if version.is_some() => {
                self.head_bucket(bucket)?;
                Err(StoreError::NoSuchVersion)
            }
            Err(StoreError::NoSuchKey) => {
                self.head_bucket(bucket)?;
                Err(StoreError::NoSuchKey)
            }
            Err(e) => Err(e),
        }
    }
}

/// Which state write may happen.
#[derive(Clone, Debug)]
pub(crate) enum StateCondition {
    /// Only if the object does not exist (`If-None-Match: *`).
    Absent,
    /// Only over this ETag (`If-Match`).
    Etag(String),
}

/// Runs `f` on `rt` from a thread that may block, and waits for it.
fn run_on<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| StoreError::Io {
        what: "the upstream client".into(),
        source: io::Error::other("the request task failed"),
    })
}

/// Reads up to `n` bytes (fewer only at the end of `r`).
/// What [`UpstreamStore::put_streaming`] stored.
#[derive(Default)]
struct Put {
    /// The upstream ETag.
    etag: String,
    /// The upstream version id, if the bucket is versioned.
    version: Option<String>,
    /// The bytes stored.
    size: u64,
    /// The last [`tails::TAIL_BYTES`] of them.
    tail: Vec<u8>,
}

fn read_chunk(r: &mut dyn Read, n: usize) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(n.min(1 << 20));
    r.take(n as u64)
        .read_to_end(&mut buf)
        .map_err(StoreError::Body)?;
    Ok(buf)
}

/// An open ranged GET: bytes `[at, end)` arriving in chunks.
struct Window {
    at: u64,
    end: u64,
    rx: tokio::sync::mpsc::Receiver<io::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
}

/// The bytes of `kept` (`(at, bytes)`) from `pos` on, if it holds `pos`.
fn kept_at(kept: &(u64, bytes::Bytes), pos: u64) -> Option<&[u8]> {
    let off = usize::try_from(pos.checked_sub(kept.0)?).ok()?;
    kept.1.get(off..).filter(|r| !r.is_empty())
}

/// What a ranged GET asks for.
#[derive(Clone, Copy, Debug)]
enum Span {
    /// Bytes `[start, end)`, or from `start` to the end.
    From(u64, Option<u64>),
    /// The last `n` bytes (all of a shorter object).
    Suffix(u64),
}

/// A GET that was sent: its headers arrive on `head_rx`, its body on `rx`.
struct PendingGet {
    head_rx: std::sync::mpsc::Receiver<Result<ObjectInfo, Failure>>,
    rx: tokio::sync::mpsc::Receiver<io::Result<bytes::Bytes>>,
    span: Span,
}

impl PendingGet {
    /// Waits for the response headers: the object's info and the window its body fills.
    fn wait(self) -> Result<(ObjectInfo, Window), StoreError> {
        let info = match self.head_rx.recv() {
            Ok(Ok(i)) => i,
            Ok(Err(f)) => return Err(f.into_store_error("GetObject")),
            Err(_) => {
                return Err(StoreError::Io {
                    what: "upstream GetObject".into(),
                    source: io::Error::other("the request was dropped"),
                });
            }
        };
        let (at, end) = match self.span {
            Span::From(start, end) => (start, end.map_or(info.size, |e| e.min(info.size))),
            Span::Suffix(n) => (info.size.saturating_sub(n), info.size),
        };
        Ok((
            info,
            Window {
                at,
                end,
                rx: self.rx,
                chunk: bytes::Bytes::new(),
            },
        ))
    }
}

impl Window {
    /// Every byte of the window (at most a suffix's worth: callers bound it).
    fn read_all(mut self) -> Result<bytes::Bytes, StoreError> {
        let want = usize::try_from(self.end - self.at).map_err(|_| StoreError::Io {
            what: "upstream GetObject".into(),
            source: io::Error::other("window too large"),
        })?;
        let mut out = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match self
                .read(&mut out[got..])
                .map_err(StoreError::io("upstream GetObject body"))?
            {
                0 => {
                    return Err(StoreError::io("upstream GetObject body")(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upstream GET ended early",
                    )));
                }
                n => got += n,
            }
        }
        Ok(bytes::Bytes::from(out))
    }

    /// Reads into `buf` from the window (0 at its end).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            if self.at >= self.end {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upstream GET ended early",
                    ));
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        self.at += n as u64;
        Ok(n)
    }

    /// Skips forward to `to` (within the window).
    fn skip_to(&mut self, to: u64) -> io::Result<()> {
        let mut sink = [0u8; 16 * 1024];
        while self.at < to {
            let want = usize::try_from(to - self.at)
                .unwrap_or(usize::MAX)
                .min(sink.len());
            if self.read(&mut sink[..want])? == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// The stored bytes of one upstream object version, read with ranged GETs on demand; seeking within
/// [`SKIP_LIMIT`] ahead reads on, further starts a new GET. Every GET is pinned to the version (or, in
/// an unversioned bucket, the ETag) that was opened, so a replaced object fails the read instead of
/// mixing two objects' bytes.
struct UpstreamReader {
    store: UpstreamStore,
    bucket: String,
    key: String,
    version: Option<String>,
    etag: String,
    size: u64,
    pos: u64,
    /// Bytes `[at, at + len)` fetched when it was opened (its last bytes: the stored header, and small
    /// objects whole).
    kept: (u64, bytes::Bytes),
    window: Option<Window>,
    /// The length of the next GET: [`NEXT_WINDOW`] after a jump, four times longer for each window a
    /// reader reads to its end, open-ended past [`MAX_WINDOW`].
    next_len: u64,
    /// Opened to be read through to the end ([`ObjectStore::get_object_to_end`]): a forward jump into
    /// the last [`TAIL_LIMIT`] bytes is fetched into `tail` and the stream is kept.
    streaming: bool,
    /// Bytes `[at, size)` fetched for such a jump.
    tail: Option<(u64, bytes::Bytes)>,
}

impl UpstreamReader {
    /// Serves `buf` from the kept bytes at `pos` (those of the open, a tail), if they hold it.
    fn read_kept(&mut self, buf: &mut [u8]) -> Option<usize> {
        let rest = kept_at(&self.kept, self.pos)
            .or_else(|| self.tail.as_ref().and_then(|t| kept_at(t, self.pos)))?;
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n as u64;
        Some(n)
    }

    /// Fetches `[pos, size)` into `tail` (a streaming reader's jump to the final bytes).
    fn fetch_tail(&mut self) -> io::Result<()> {
        let (_, mut w) = self
            .store
            .get_range(
                &self.bucket,
                &self.key,
                self.version.as_deref(),
                self.version.is_none().then_some(self.etag.as_str()),
                self.pos,
                Some(self.size),
            )
            .map_err(|e| io::Error::other(e.to_string()))?;
        let want = usize::try_from(self.size - self.pos).map_err(io::Error::other)?;
        let mut t = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match w.read(&mut t[got..])? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upstream object is shorter than it said",
                    ));
                }
                n => got += n,
            }
        }
        self.tail = Some((self.pos, bytes::Bytes::from(t)));
        Ok(())
    }
}

impl Read for UpstreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        if let Some(n) = self.read_kept(buf) {
            return Ok(n);
        }
        if self.streaming
            && self.size - self.pos <= TAIL_LIMIT
            && self.window.as_ref().is_some_and(|w| self.pos > w.at)
        {
            // The final chunk (or a manifest) before the body: fetched apart, the stream stays put.
            self.fetch_tail()?;
            if let Some(n) = self.read_kept(buf) {
                return Ok(n);
            }
        }
        let usable = self
            .window
            .as_ref()
            .is_some_and(|w| w.at <= self.pos && self.pos < w.end && self.pos - w.at <= SKIP_LIMIT);
        if !usable {
            // A reader that reads on where its window ended gets a longer window; one that jumped (a
            // range, a trailer) starts small again, so a range fetches little more than it needs.
            let sequential = self
                .window
                .as_ref()
                .map_or(self.pos == 0, |w| w.end == self.pos);
            self.next_len = if sequential {
                self.next_len.saturating_mul(4)
            } else {
                NEXT_WINDOW
            };
            let end = (self.next_len <= MAX_WINDOW).then(|| self.pos.saturating_add(self.next_len));
            let (_, w) = self
                .store
                .get_range(
                    &self.bucket,
                    &self.key,
                    self.version.as_deref(),
                    self.version.is_none().then_some(self.etag.as_str()),
                    self.pos,
                    end,
                )
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.window = Some(w);
        }
        let w = self
            .window
            .as_mut()
            .ok_or_else(|| io::Error::other("no window"))?;
        w.skip_to(self.pos)?;
        let n = w.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the upstream object is shorter than it said",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for UpstreamReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = target;
        Ok(target)
    }
}

impl ObjectStore for UpstreamStore {
    fn supports_object_lock(&self) -> bool {
        false
    }

    fn create_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        self.check_bucket_name(bucket)?;
        self.create_upstream_bucket(bucket)?;
        self.forget_bucket(bucket);
        Ok(())
    }

    fn head_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        self.head_upstream_bucket(bucket)
    }

    fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        self.head_bucket(bucket)?;
        if !self.list_state(&format!("uploads/{bucket}/"))?.is_empty() {
            return Err(StoreError::BucketNotEmpty);
        }
        let (c, b) = (self.client(), bucket.to_owned());
        self.run(async move {
            c.delete_bucket()
                .bucket(b)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_err("DeleteBucket"))
        })??;
        for (k, _, _) in self.list_state(&format!("config/{bucket}/"))? {
            self.delete_state(&k)?;
        }
        self.forget_bucket(bucket);
        Ok(())
    }

    fn list_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        let c = self.client();
        let state = self.inner.state.clone();
        self.run(async move {
            let out = c
                .list_buckets()
                .send()
                .await
                .map_err(sdk_err("ListBuckets"))?;
            let mut v: Vec<BucketInfo> = out
                .buckets()
                .iter()
                .filter_map(|b| {
                    let name = b.name()?;
                    (name != state).then(|| BucketInfo {
                        name: name.to_owned(),
                        created: b.creation_date().map(|d| time_of(Some(d))),
                    })
                })
                .collect();
            v.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(v)
        })?
    }

    fn bucket_config(&self, bucket: &str, name: &str) -> Result<Option<String>, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        self.cached(&self.inner.configs, bucket, name, || {
            match self.get_state(&format!("config/{bucket}/{name}"))? {
                Some((bytes, _)) => String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| StoreError::Corrupt(format!("configuration {name} of {bucket}"))),
                None => {
                    // A missing document of a missing bucket is a missing bucket.
                    self.head_upstream_bucket(bucket)?;
                    Ok(None)
                }
            }
        })
    }

    fn put_bucket_config(
        &self,
        bucket: &str,
        name: &str,
        document: Option<&str>,
    ) -> Result<(), StoreError> {
        self.head_bucket(bucket)?;
        let key = format!("config/{bucket}/{name}");
        match document {
            Some(d) => {
                self.put_state(&key, d.as_bytes().to_vec(), None)?;
            }
            None => self.delete_state(&key)?,
        }
        Self::remember(
            &self.inner.configs,
            bucket,
            name,
            document.map(str::to_owned),
        );
        Ok(())
    }

    fn bucket_versioning(&self, bucket: &str) -> Result<Versioning, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        self.cached(&self.inner.versioning, bucket, "", || {
            let (c, b) = (self.client(), bucket.to_owned());
            self.run(async move {
                let out = c
                    .get_bucket_versioning()
                    .bucket(b)
                    .send()
                    .await
                    .map_err(sdk_err("GetBucketVersioning"))?;
                Ok(match out.status() {
                    Some(BucketVersioningStatus::Enabled) => Versioning::Enabled,
                    Some(BucketVersioningStatus::Suspended) => Versioning::Suspended,
                    _ => Versioning::Unversioned,
                })
            })?
        })
    }

    fn put_bucket_versioning(&self, bucket: &str, state: Versioning) -> Result<(), StoreError> {
        let status = match state {
            Versioning::Enabled => BucketVersioningStatus::Enabled,
            Versioning::Suspended => BucketVersioningStatus::Suspended,
            Versioning::Unversioned => {
                if self.bucket_versioning(bucket)? == Versioning::Unversioned {
                    return Ok(());
                }
                return Err(StoreError::InvalidArgument(
                    "a versioned bucket cannot become unversioned".into(),
                ));
            }
        };
        self.head_bucket(bucket)?;
        let (c, b) = (self.client(), bucket.to_owned());
        self.run(async move {
            c.put_bucket_versioning()
                .bucket(b)
                .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_err("PutBucketVersioning"))
        })??;
        Self::remember(&self.inner.versioning, bucket, "", state);
        Ok(())
    }

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &mut dyn Read,
        metadata: &Metadata,
        lock: &ObjectLock,
    ) -> Result<ObjectInfo, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        no_lock(lock)?;
        let Put {
            etag,
            version,
            size,
            tail,
        } = self.put_streaming(bucket, key, body, encode_metadata(metadata)?)?;
        match self.head(bucket, key, version.as_deref()) {
            Ok(info) => {
                if info.etag == etag && info.size == size {
                    // A GET of what this instance just wrote needs one upstream request.
                    self.inner
                        .tails
                        .insert(bucket, key, None, &etag, size, &tail);
                }
                Ok(info)
            }
            // Overwritten meanwhile by another writer: what this write stored is still known.
            Err(_) => Ok(ObjectInfo {
                key: key.to_owned(),
                version_id: version.unwrap_or_else(|| NULL_VERSION.to_owned()),
                is_latest: true,
                is_delete_marker: false,
                size: 0,
                etag,
                last_modified: SystemTime::now(),
                metadata: metadata.clone(),
                retention: None,
                legal_hold: false,
            }),
        }
    }

    fn replace_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        body: &mut dyn Read,
    ) -> Result<ObjectInfo, StoreError> {
        let old = self.head(bucket, key, Some(version_id).filter(|v| *v != NULL_VERSION))?;
        if version_id != NULL_VERSION || self.bucket_versioning(bucket)? != Versioning::Unversioned
        {
            return Err(StoreError::Unsupported(
                "replacing a version's bytes in place on an upstream S3 store",
            ));
        }
        // Unversioned: a new PutObject replaces the object, keeping its metadata.
        self.put_streaming(bucket, key, body, encode_metadata(&old.metadata)?)?;
        self.head(bucket, key, None)
    }

    fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<StoredObject, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        let (info, first) = self.open_object(bucket, key, version)?;
        let body = self.reader(bucket, key, &info, first);
        Ok(StoredObject {
            info,
            body: Box::new(body),
        })
    }

    fn get_object_to_end(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<StoredObject, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        if let Some(o) = self.open_streaming_kept(bucket, key, version) {
            return Ok(o);
        }
        match self.open_streaming(bucket, key, version) {
            Ok(o) => Ok(o),
            // An empty object (no satisfiable range), a missing version or bucket: the ordinary open
            // maps each to its error.
            Err(_) => self.get_object(bucket, key, version),
        }
    }

    fn get_object_range(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        start: u64,
        end: u64,
    ) -> Result<StoredRange, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        if start > end {
            return Err(StoreError::InvalidRange);
        }
        let (info, first) = self.open_object(bucket, key, version)?;
        if start >= info.size {
            return Err(StoreError::InvalidRange);
        }
        let end = end.min(info.size);
        let mut reader = self.reader(bucket, key, &info, first);
        reader.pos = start;
        Ok(StoredRange {
            info,
            start,
            end,
            body: Box::new(reader.take(end - start)),
        })
    }

    fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectInfo, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        self.head(bucket, key, version)
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        self.head_bucket(bucket)?;
        let (c, b, k) = (self.client(), bucket.to_owned(), key.to_owned());
        let out = self.run(async move {
            c.delete_object()
                .bucket(b)
                .key(k)
                .send()
                .await
                .map_err(sdk_err("DeleteObject"))
        })??;
        Ok((out.delete_marker() == Some(true)).then(|| {
            ObjectInfo::delete_marker(
                key,
                out.version_id().unwrap_or(NULL_VERSION),
                SystemTime::now(),
                true,
            )
        }))
    }

    fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<ObjectInfo, StoreError> {
        self.head_bucket(bucket)?;
        // What is being removed: a version (HEAD) or a delete marker (HEAD says so).
        let info = match self.head(bucket, key, Some(version_id)) {
            Ok(i) => i,
            Err(StoreError::DeleteMarker {
                version_id,
                last_modified,
                ..
            }) => ObjectInfo::delete_marker(key, version_id, last_modified, false),
            Err(StoreError::NoSuchKey) => return Err(StoreError::NoSuchVersion),
            Err(e) => return Err(e),
        };
        let (c, b, k, v) = (
            self.client(),
            bucket.to_owned(),
            key.to_owned(),
            version_id.to_owned(),
        );
        self.run(async move {
            c.delete_object()
                .bucket(b)
                .key(k)
                .version_id(v)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_err("DeleteObject"))
        })??;
        Ok(info)
    }

    fn list_objects(&self, bucket: &str, request: &ListRequest) -> Result<ListPage, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        let (c, b, r) = (self.client(), bucket.to_owned(), request.clone());
        let max = page_size(r.max_keys);
        self.run(async move {
            let out = c
                .list_objects_v2()
                .bucket(b)
                .prefix(r.prefix)
                .set_delimiter(r.delimiter)
                .set_continuation_token(r.continuation_token)
                .set_start_after(r.start_after)
                .max_keys(max)
                .send()
                .await
                .map_err(|e| match failure(&e) {
                    f if f.code == "InvalidArgument" => StoreError::InvalidArgument(
                        "The continuation token provided is incorrect".into(),
                    ),
                    f => f.into_store_error("ListObjectsV2"),
                })?;
            Ok(ListPage {
                contents: out
                    .contents()
                    .iter()
                    .map(|o| {
                        ObjectInfo::listed(
                            o.key().unwrap_or_default(),
                            NULL_VERSION,
                            size_of(o.size()),
                            o.e_tag().unwrap_or_default(),
                            time_of(o.last_modified()),
                            true,
                        )
                    })
                    .collect(),
                common_prefixes: out
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned))
                    .collect(),
                next_token: if out.is_truncated() == Some(true) {
                    out.next_continuation_token().map(str::to_owned)
                } else {
                    None
                },
            })
        })?
    }

    fn list_object_versions(
        &self,
        bucket: &str,
        request: &VersionListRequest,
    ) -> Result<VersionPage, StoreError> {
        self.check_bucket_name(bucket)
            .map_err(|_| StoreError::NoSuchBucket)?;
        let (c, b, r) = (self.client(), bucket.to_owned(), request.clone());
        let max = page_size(r.max_keys);
        self.run(async move {
            let out = c
                .list_object_versions()
                .bucket(b)
                .prefix(r.prefix)
                .set_delimiter(r.delimiter)
                .set_key_marker(r.key_marker)
                .set_version_id_marker(r.version_id_marker)
                .max_keys(max)
                .send()
                .await
                .map_err(sdk_err("ListObjectVersions"))?;
            let mut versions: Vec<ObjectInfo> = out
                .versions()
                .iter()
                .map(|v| {
                    ObjectInfo::listed(
                        v.key().unwrap_or_default(),
                        v.version_id().unwrap_or(NULL_VERSION),
                        size_of(v.size()),
                        v.e_tag().unwrap_or_default(),
                        time_of(v.last_modified()),
                        v.is_latest() == Some(true),
                    )
                })
                .chain(out.delete_markers().iter().map(|m| {
                    ObjectInfo::delete_marker(
                        m.key().unwrap_or_default(),
                        m.version_id().unwrap_or(NULL_VERSION),
                        time_of(m.last_modified()),
                        m.is_latest() == Some(true),
                    )
                }))
                .collect();
            // By key, then newest first (the current version leads).
            versions.sort_by(|a, b| {
                a.key
                    .cmp(&b.key)
                    .then(b.is_latest.cmp(&a.is_latest))
                    .then(b.last_modified.cmp(&a.last_modified))
            });
            Ok(VersionPage {
                versions,
                common_prefixes: out
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned))
                    .collect(),
                is_truncated: out.is_truncated() == Some(true),
                next_key_marker: out.next_key_marker().map(str::to_owned),
                next_version_id_marker: out.next_version_id_marker().map(str::to_owned),
            })
        })?
    }

    fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: &Metadata,
        lock: &ObjectLock,
    ) -> Result<String, StoreError> {
        self.head_bucket(bucket)?;
        no_lock(lock)?;
        let id = new_upload_id()?;
        let record = UploadRecord {
            key: key.to_owned(),
            initiated_ms: millis(SystemTime::now()),
            metadata: metadata.clone(),
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.put_state(
            &format!("{}record.json", Self::upload_prefix(bucket, &id)),
            bytes,
            None,
        )?;
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
        if !(1..=10_000).contains(&part_number) {
            return Err(StoreError::InvalidArgument(format!(
                "Part number must be an integer between 1 and 10000, inclusive (got {part_number})"
            )));
        }
        self.load_upload(bucket, key, upload_id)?;
        let part_key = format!(
            "{}part-{part_number:05}",
            Self::upload_prefix(bucket, upload_id)
        );
        let state = self.inner.state.clone();
        let etag = self.put_streaming(&state, &part_key, body, None)?.etag;
        let info = self.head(&state, &part_key, None)?;
        Ok(PartInfo {
            part_number,
            etag: if info.etag.is_empty() {
                etag
            } else {
                info.etag
            },
            size: info.size,
        })
    }

    fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, StoreError> {
        self.load_upload(bucket, key, upload_id)?;
        Ok(self
            .staged_parts(bucket, upload_id)?
            .into_iter()
            .map(|(p, _)| p)
            .collect())
    }

    fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        trailer: &[u8],
    ) -> Result<ObjectInfo, StoreError> {
        self.load_upload(bucket, key, upload_id)?;
        if parts.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(StoreError::InvalidPartOrder);
        }
        let staged: HashMap<u32, (PartInfo, String)> = self
            .staged_parts(bucket, upload_id)?
            .into_iter()
            .map(|p| (p.0.part_number, p))
            .collect();
        let mut chosen = Vec::with_capacity(parts.len());
        for (n, etag) in parts {
            match staged.get(n) {
                Some(p) if p.0.etag.trim_matches('"') == etag.trim_matches('"') => {
                    chosen.push(p.clone())
                }
                _ => return Err(StoreError::InvalidPart { part_number: *n }),
            }
        }
        let upstream_id = self.create_upstream_upload(bucket, key, None)?;
        let result = self.assemble(bucket, key, &upstream_id, &chosen, trailer);
        let (_, version) = match result
            .and_then(|p| self.complete_upstream_upload(bucket, key, &upstream_id, p))
        {
            Ok(done) => done,
            Err(e) => {
                let _ = self.abort_upstream_upload(bucket, key, &upstream_id);
                return Err(e);
            }
        };
        // The object exists: the staged upload is over.
        let _ = self.remove_staged(bucket, upload_id);
        self.head(bucket, key, version.as_deref())
    }

    fn multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<MultipartUpload, StoreError> {
        self.head_bucket(bucket)?;
        let r = self.load_upload(bucket, key, upload_id)?;
        Ok(MultipartUpload {
            key: r.key,
            upload_id: upload_id.to_owned(),
            initiated: SystemTime::UNIX_EPOCH + Duration::from_millis(r.initiated_ms),
            metadata: r.metadata,
        })
    }

    fn list_multipart_uploads(&self, bucket: &str) -> Result<Vec<MultipartUpload>, StoreError> {
        self.head_bucket(bucket)?;
        let prefix = format!("uploads/{bucket}/");
        let mut out = Vec::new();
        for (k, _, _) in self.list_state(&prefix)? {
            let Some(id) = k
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix("/record.json"))
            else {
                continue;
            };
            let Some((bytes, _)) = self.get_state(&k)? else {
                continue;
            };
            let Ok(r) = serde_json::from_slice::<UploadRecord>(&bytes) else {
                continue;
            };
            out.push(MultipartUpload {
                key: r.key,
                upload_id: id.to_owned(),
                initiated: SystemTime::UNIX_EPOCH + Duration::from_millis(r.initiated_ms),
                metadata: r.metadata,
            });
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
        self.load_upload(bucket, key, upload_id)?;
        let part_key = format!(
            "{}part-{part_number:05}",
            Self::upload_prefix(bucket, upload_id)
        );
        let state = self.inner.state.clone();
        let (info, first) = match self.open_object(&state, &part_key, None) {
            Ok(o) => o,
            Err(StoreError::NoSuchKey) => return Err(StoreError::InvalidPart { part_number }),
            Err(e) => return Err(e),
        };
        Ok(Box::new(self.reader(&state, &part_key, &info, first)))
    }

    fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        self.load_upload(bucket, key, upload_id)?;
        self.remove_staged(bucket, upload_id)
    }

    fn put_object_retention(
        &self,
        _bucket: &str,
        _key: &str,
        _version_id: &str,
        _retention: Option<&Retention>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unsupported(
            "Object Lock on an upstream S3 store",
        ))
    }

    fn put_object_legal_hold(
        &self,
        _bucket: &str,
        _key: &str,
        _version_id: &str,
        _on: bool,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unsupported(
            "Object Lock on an upstream S3 store",
        ))
    }
}

impl UpstreamStore {
    /// Removes a staged upload: parts first, the record last (a record without parts is still an
    /// upload that can be aborted again).
    fn remove_staged(&self, bucket: &str, upload_id: &str) -> Result<(), StoreError> {
        let prefix = Self::upload_prefix(bucket, upload_id);
        let record = format!("{prefix}record.json");
        for (k, _, _) in self.list_state(&prefix)? {
            if k != record {
                self.delete_state(&k)?;
            }
        }
        self.delete_state(&record)
    }

    /// Fills the upstream upload `upstream_id` with the staged parts, by server-side copy, and the
    /// engine's `trailer`. The trailer goes in its own part when the last staged part is large enough
    /// to be a non-last part; otherwise the last part is re-sent with the trailer appended (it is then
    /// smaller than 5 MiB).
    fn assemble(
        &self,
        bucket: &str,
        key: &str,
        upstream_id: &str,
        parts: &[(PartInfo, String)],
        trailer: &[u8],
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let mut done = Vec::new();
        let mut number = 0i32;
        let last = parts.len().saturating_sub(1);
        for (i, (p, staged_key)) in parts.iter().enumerate() {
            let resend = i == last && !trailer.is_empty() && p.size < MIN_UPSTREAM_PART;
            if resend {
                let state = self.inner.state.clone();
                let (info, first) = self.open_object(&state, staged_key, None)?;
                let mut bytes =
                    Vec::with_capacity(usize::try_from(info.size).unwrap_or(0) + trailer.len());
                self.reader(&state, staged_key, &info, first)
                    .read_to_end(&mut bytes)
                    .map_err(StoreError::io("reading a staged part"))?;
                bytes.extend_from_slice(trailer);
                number += 1;
                done.push(self.upload_bytes(bucket, key, upstream_id, number, bytes)?);
                return Ok(done);
            }
            let mut at = 0;
            while at < p.size || (p.size == 0 && at == 0) {
                let end = (at + COPY_LIMIT).min(p.size);
                number += 1;
                done.push(self.copy_part(bucket, key, upstream_id, number, staged_key, at, end)?);
                if p.size == 0 {
                    break;
                }
                at = end;
            }
        }
        if !trailer.is_empty() {
            number += 1;
            done.push(self.upload_bytes(bucket, key, upstream_id, number, trailer.to_vec())?);
        }
        Ok(done)
    }

    fn upload_bytes(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        bytes: Vec<u8>,
    ) -> Result<CompletedPart, StoreError> {
        let (c, b, k, u) = (
            self.client(),
            bucket.to_owned(),
            key.to_owned(),
            upload_id.to_owned(),
        );
        self.run(async move {
            let out = c
                .upload_part()
                .bucket(b)
                .key(k)
                .upload_id(u)
                .part_number(number)
                .body(ByteStream::new(SdkBody::from(bytes)))
                .send()
                .await
                .map_err(sdk_err("UploadPart"))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build())
        })?
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        source_key: &str,
        start: u64,
        end: u64,
    ) -> Result<CompletedPart, StoreError> {
        let (c, b, k, u) = (
            self.client(),
            bucket.to_owned(),
            key.to_owned(),
            upload_id.to_owned(),
        );
        // The state bucket's keys are URL-safe ASCII: no encoding needed.
        let source = format!("{}/{source_key}", self.inner.state);
        let range = (end > start).then(|| format!("bytes={start}-{}", end - 1));
        self.run(async move {
            let out = c
                .upload_part_copy()
                .bucket(b)
                .key(k)
                .upload_id(u)
                .part_number(number)
                .copy_source(source)
                .set_copy_source_range(range)
                .send()
                .await
                .map_err(sdk_err("UploadPartCopy"))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(
                    out.copy_part_result()
                        .and_then(|r| r.e_tag())
                        .map(str::to_owned),
                )
                .build())
        })?
    }
}
