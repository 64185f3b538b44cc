//! The SSE engine: what S3 does with an object's encryption on PUT, GET, HEAD and CopyObject, over an
//! [`ObjectStore`].
//!
//! The engine keeps the key hierarchy (SSE-S3 roots, KMS data keys and bucket keys with their caches,
//! sealing) and the SSE header logic. Objects and bucket configuration live in the store: an object's
//! stored bytes are the object file of [`super::object`] (ciphertext and a header the store cannot read),
//! and a bucket's configuration is the store's `encryption` and `policy` documents. [`SseEngine::new`]
//! uses the local directory store ([`crate::store::local`]) under its home:
//!
//! ```text
//! HOME/buckets/...                                       the local store (store/local.rs)
//! HOME/sse/roots.json                                    SSE-S3 root keys (roots.rs)
//! ```
//!
//! Order of checks on a write, as S3: the request's size limits (header section, key, user metadata),
//! parse the SSE headers (exact S3 errors), evaluate the bucket policy (which sees the *request* headers,
//! so `Null` conditions also deny PUTs relying on default encryption), refuse SSE-C on buckets that block
//! it, then apply the request's SSE or the bucket default (an SSE-KMS or DSSE-KMS default over plain
//! HTTP is refused as an explicit one is). Reads check the stored mode against the request with
//! [`headers::check_read`] (SSE-KMS and DSSE-KMS objects only over TLS).
//!
//! Multipart uploads (`engine/multipart.rs`, docs/FORMAT.md §4.1): each part is encrypted under its own
//! random key(s) sealed under the source fixed at CreateMultipartUpload (SSE-S3 root, the upload's one
//! KMS data key, or the SSE-C key, which every UploadPart must repeat), with a sealed trailer; completion
//! reads only the part trailers and has the store append a manifest authenticated under a key derived
//! from the SSE-S3 root, so GET, HEAD, ranges, `?partNumber=N` and CopyObject read multipart objects
//! like others, opening only the parts a range touches.
//!
//! No plaintext is written anywhere but to the caller: a copy streams the source's authenticated
//! plaintext into the destination's encrypting writer through memory, and a DSSE read opens the outer
//! layer chunk by chunk on demand. Temporary files hold ciphertext only, live next to their destination,
//! and are removed by [`SseEngine::clean_stale_temporaries`] when their writer is gone.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::S3Error;
use super::bucket::{BucketEncryption, BucketPolicy, DefaultSse, PolicyRequest};
use super::headers::{self, CustomerKeyHeaders, Headers, SseRequest, StoredSse, Transport};
use super::object::{Header, KmsSeal, MAGIC, Mode};
use super::roots::RootKeys;
use crate::aws::clock::{Clock, SystemClock, rfc3339};
use crate::iam::{
    AccessPointGate, Authorization, Caller, RequestContext, ResourceModel, Verdict, authorize,
};
use crate::keys::{ObjectKey, SecretBytes};
use crate::kms::{
    CreateAliasRequest, CreateKeyRequest, DecryptRequest, DescribeKeyRequest, EncryptionContext,
    GenerateDataKeyRequest, Kms, KmsError, KmsErrorKind,
};
use crate::primitives::chunked::{
    self, CHUNK_SIZE, ChunkedWriter, ENCRYPTED_CHUNK_SIZE, HEADER_LEN,
};
use crate::primitives::hash::Md5;
use crate::primitives::{TAG_LEN, ct_eq, kdf, random_array};
use crate::range::ByteRange;
use crate::s3::S3ErrorCode;
use crate::s3::object_lock::WriteLock;
use crate::store::local::LocalStore;
use crate::store::{
    BucketInfo, ListPage, ListRequest, Metadata, ObjectInfo, ObjectLock, ObjectStore, ReadSeek,
    StoreError, StoredObject, VersionListRequest,
};

/// The alias standing in for the AWS managed `aws/s3` key (`alias/aws/` is reserved), created on first use.
pub const MANAGED_KEY_ALIAS: &str = "alias/s3crypt-managed-s3";
/// How long a bucket key is reused (S3 uses a short-lived key; the time is not published).
pub const BUCKET_KEY_TTL: Duration = Duration::from_secs(300);

/// A successful response: status, headers, and for GET the body written to the caller's sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// 200 or 206.
    pub status: u16,
    /// Response headers, as S3 names them.
    pub headers: Vec<(String, String)>,
}

/// The store's name of the bucket encryption document (PutBucketEncryption's XML).
pub const ENCRYPTION_CONFIG: &str = "encryption";
/// The store's name of the bucket policy document (JSON).
pub const POLICY_CONFIG: &str = "policy";
/// The store's name of the bucket owner document (the owning account's 12-digit id).
pub const OWNER_CONFIG: &str = "owner";
/// The store's name of the bucket's Block Public Access document (its XML).
pub const PUBLIC_ACCESS_BLOCK_CONFIG: &str = "public-access-block";
/// The store's name of the bucket's Object Ownership setting.
pub const OWNERSHIP_CONFIG: &str = "ownership";
/// The local account: the CLI acts as its root, and buckets created before owners were recorded belong
/// to it (defined beside the account store, which creates it).
pub use crate::iam::users::LOCAL_ACCOUNT;

/// Bucket keys by (bucket, KMS key): plaintext, blob, time fetched.
type BucketKeyCache = HashMap<(String, String), (SecretBytes, Vec<u8>, Duration)>;

mod access_points;
mod bucket_records;
mod multipart;
mod object_lambda;
mod versions;
pub use versions::{DeletedVersion, MFA_DELETE_CONFIG};

pub use multipart::{
    MANIFEST_MAGIC, MAX_PARTS, MIN_PART_SIZE, PART_MAGIC, PartInfo, UPLOAD_KEY_TTL, UploadInfo,
};

/// An object opened for reading: its stored bytes, header (for a multipart object, one made from its
/// authenticated manifest) and how to decrypt its body.
struct Opened {
    file: Box<dyn ReadSeek>,
    header: Header,
    body: OpenedBody,
    /// What the store knows of the version (its id, lock state).
    info: ObjectInfo,
}

/// The body of an opened object.
enum OpenedBody {
    /// A PutObject/CopyObject object file: one C2SP body (two layers for DSSE) and its unsealed key(s).
    Single {
        body_at: u64,
        body_len: u64,
        k1: ObjectKey,
        k2: Option<ObjectKey>,
    },
    /// A completed multipart upload: its verified manifest and the key sources its parts are sealed
    /// under (each part's keys are unsealed when it is read).
    Multipart(Box<multipart::OpenedManifest>),
}

/// Key sources (root key, KMS data keys, customer key), zeroized on drop.
type Sources = Vec<zeroize::Zeroizing<Vec<u8>>>;

/// What a write asks for once its headers, the bucket default and the policy are applied.
struct WritePlan {
    request: SseRequest,
    bucket_key_default: bool,
    user_metadata: BTreeMap<String, String>,
    content_type: Option<String>,
    system_metadata: BTreeMap<String, String>,
    /// The Object Lock state of the new version (request headers over the bucket default).
    lock: ObjectLock,
}

/// The stored headers S3 keeps besides `Content-Type` and user metadata.
pub const SYSTEM_METADATA: [&str; 5] = [
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
];

/// The system metadata of a write: [`SYSTEM_METADATA`] as sent, `Content-Encoding` without the
/// `aws-chunked` framing token (S3 does not store it).
fn system_metadata_of(h: &Headers) -> BTreeMap<String, String> {
    SYSTEM_METADATA
        .iter()
        .filter_map(|name| {
            let v = h.get(name)?.trim();
            let v = if *name == "Content-Encoding" {
                v.split(',')
                    .map(str::trim)
                    .filter(|t| !t.eq_ignore_ascii_case("aws-chunked") && !t.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                v.to_owned()
            };
            (!v.is_empty()).then(|| ((*name).to_owned(), v))
        })
        .collect()
}

/// The engine over an object store, SSE-S3 root keys and a KMS.
pub struct SseEngine {
    store: Arc<dyn ObjectStore>,
    /// The same store when it is the local one (for its temporary-file housekeeping and file paths).
    local: Option<Arc<LocalStore>>,
    kms: Arc<dyn Kms>,
    roots: Mutex<RootKeys>,
    bucket_keys: Mutex<BucketKeyCache>,
    bucket_key_plain: Mutex<HashMap<Vec<u8>, SecretBytes>>,
    /// Multipart uploads' KMS data keys by encrypted blob, with the time they were decrypted.
    upload_keys: Mutex<HashMap<Vec<u8>, (SecretBytes, Duration)>>,
    /// Held while the managed key is created (so concurrent first uses make one key).
    managed_key_lock: Mutex<()>,
    clock: Arc<dyn Clock>,
    /// The account root's virtual MFA devices (MFA Delete); `None` without a local home.
    mfa: Option<crate::iam::mfa::MfaStore>,
    /// Every access point, as last read ([`bucket_records::CACHE_TTL`]).
    access_points: bucket_records::BucketRecords<crate::s3::access_point::AccessPoint>,
    /// Every Object Lambda access point, as last read ([`bucket_records::CACHE_TTL`]).
    object_lambda_access_points:
        bucket_records::BucketRecords<crate::s3::object_lambda::ObjectLambdaAccessPoint>,
    removed_at_open: Vec<PathBuf>,
}

impl std::fmt::Debug for SseEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseEngine")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn kms_error(e: KmsError) -> S3Error {
    match e.kind() {
        KmsErrorKind::Throttling => S3Error::with_code(
            S3ErrorCode::SlowDown,
            "Please reduce your request rate for operations involving AWS KMS.",
        ),
        KmsErrorKind::AccessDenied => S3Error::access_denied(e.message().to_owned()),
        KmsErrorKind::NotFound => {
            S3Error::with_code(S3ErrorCode::KmsNotFound, e.message().to_owned())
        }
        KmsErrorKind::Disabled => {
            S3Error::with_code(S3ErrorCode::KmsDisabled, e.message().to_owned())
        }
        KmsErrorKind::KmsInvalidState => {
            S3Error::with_code(S3ErrorCode::KmsInvalidState, e.message().to_owned())
        }
        KmsErrorKind::InvalidCiphertext => {
            S3Error::with_code(S3ErrorCode::KmsInvalidCiphertext, e.message().to_owned())
        }
        _ => S3Error::internal_because("KMS call failed", e),
    }
}

pub use crate::store::local::{STALE_AFTER, object_file_name};

fn io_err(e: io::Error) -> S3Error {
    if e.kind() == io::ErrorKind::InvalidData {
        return S3Error::internal("stored object failed authentication (corrupt or tampered)");
    }
    S3Error::internal(e)
}

/// The transport the SSE rules see: TLS or not, from the request context (`aws:SecureTransport`).
fn transport_of(ctx: &RequestContext) -> Transport {
    if ctx.secure_transport {
        Transport::Secure
    } else {
        Transport::Insecure
    }
}

/// The caller's ARN for the bucket policy, empty for an anonymous request.
fn principal_arn(ctx: &RequestContext) -> &str {
    ctx.caller.principal().map_or("", |p| p.arn.as_str())
}

/// S3's limit on an object key: 1,024 bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;
/// S3's limit on user-defined metadata: the UTF-8 bytes of every name (without `x-amz-meta-`) and value.
pub const MAX_USER_METADATA: usize = 2048;
/// S3's limit on the request header section (S3 reports `MaxSizeAllowed` 8192).
pub const MAX_HEADER_SECTION: usize = 8192;

/// 400 `RequestHeaderSectionTooLarge` if the headers, counted as on the wire (`name: value` CRLF),
/// exceed [`MAX_HEADER_SECTION`].
fn check_header_section(h: &Headers) -> Result<(), S3Error> {
    let total: usize = h.iter().map(|(n, v)| n.len() + 2 + v.len() + 2).sum();
    if total > MAX_HEADER_SECTION {
        return Err(
            S3Error::from_code(S3ErrorCode::RequestHeaderSectionTooLarge)
                .with_extra("MaxSizeAllowed", MAX_HEADER_SECTION.to_string()),
        );
    }
    Ok(())
}

/// 400 `MetadataTooLarge` if the `x-amz-meta-*` names (without the prefix) and values exceed
/// [`MAX_USER_METADATA`] bytes of UTF-8.
fn check_user_metadata(h: &Headers) -> Result<(), S3Error> {
    let total: usize = h
        .iter()
        .filter_map(|(n, v)| {
            n.to_ascii_lowercase()
                .strip_prefix("x-amz-meta-")
                .map(|m| m.len() + v.trim().len())
        })
        .sum();
    if total > MAX_USER_METADATA {
        return Err(S3Error::from_code(S3ErrorCode::MetadataTooLarge)
            .with_extra("Size", total.to_string())
            .with_extra("MaxSizeAllowed", MAX_USER_METADATA.to_string()));
    }
    Ok(())
}

/// S3's naming rules for general purpose buckets.
#[must_use]
pub fn valid_bucket_name(b: &str) -> bool {
    let bytes = b.as_bytes();
    let ip_like = {
        let parts: Vec<&str> = b.split('.').collect();
        parts.len() == 4
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
    };
    (3..=63).contains(&b.len())
        && bytes
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !b.contains("..")
        && !ip_like
        && !["xn--", "sthree-", "amzn-s3-demo-"]
            .iter()
            .any(|p| b.starts_with(p))
        && !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| b.ends_with(s))
}

impl SseEngine {
    /// An engine over `home` using `kms`. Removes the stale temporary files that crashed writers left
    /// behind ([`SseEngine::clean_stale_temporaries`]); [`SseEngine::stale_temporaries_removed`] lists them.
    ///
    /// # Errors
    /// 500 if the root keys cannot be opened: unreadable, corrupt, readable by other users, or missing
    /// although buckets exist (their SSE-S3 objects would be lost, so no new root is made).
    pub fn new(home: &Path, kms: Arc<dyn Kms>) -> Result<Self, S3Error> {
        let local = Arc::new(LocalStore::open(home)?);
        let buckets = home.join("buckets");
        let has_buckets = std::fs::read_dir(&buckets).is_ok_and(|mut d| d.next().is_some());
        let roots = RootKeys::open(&home.join("sse"), has_buckets.then_some(buckets.as_path()))?;
        let mut engine = Self::assemble(local.clone(), roots, kms);
        engine.removed_at_open = local.stale_temporaries_removed().to_vec();
        engine.local = Some(local);
        engine.mfa = crate::iam::mfa::MfaStore::open(home).ok();
        Ok(engine)
    }

    /// The same engine on `clock`: Object Lock retention, default retention dates, MFA codes and
    /// stored times follow it (tests move time with [`crate::aws::clock::ManualClock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// An engine over any object store, with its SSE-S3 root keys in `roots_dir` (`roots.json`) and
    /// `kms`. A missing `roots.json` is refused (500) when the store already lists buckets, as in
    /// [`SseEngine::new`].
    ///
    /// # Errors
    /// 500 if the root keys cannot be opened or the store cannot list its buckets.
    pub fn with_store(
        store: Arc<dyn ObjectStore>,
        roots_dir: &Path,
        kms: Arc<dyn Kms>,
    ) -> Result<Self, S3Error> {
        let has_buckets = !store.list_buckets()?.is_empty();
        let roots = RootKeys::open(
            roots_dir,
            has_buckets.then_some(Path::new("the object store")),
        )?;
        Ok(Self::assemble(store, roots, kms))
    }

    /// An engine over any object store with root keys opened by the caller (for example shared by
    /// several instances: [`RootKeys::open_shared`]).
    #[must_use]
    pub fn with_roots(store: Arc<dyn ObjectStore>, roots: RootKeys, kms: Arc<dyn Kms>) -> Self {
        Self::assemble(store, roots, kms)
    }

    fn assemble(store: Arc<dyn ObjectStore>, roots: RootKeys, kms: Arc<dyn Kms>) -> Self {
        Self {
            store,
            local: None,
            roots: Mutex::new(roots),
            kms,
            bucket_keys: Mutex::new(HashMap::new()),
            bucket_key_plain: Mutex::new(HashMap::new()),
            upload_keys: Mutex::new(HashMap::new()),
            managed_key_lock: Mutex::new(()),
            clock: Arc::new(SystemClock),
            mfa: None,
            access_points: bucket_records::BucketRecords::new(
                crate::s3::access_point::ACCESS_POINTS_CONFIG,
                "access points",
            ),
            object_lambda_access_points: bucket_records::BucketRecords::new(
                crate::s3::object_lambda::OBJECT_LAMBDA_CONFIG,
                "Object Lambda access points",
            ),
            removed_at_open: Vec::new(),
        }
    }

    /// The object store under this engine.
    #[must_use]
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The stale temporary files [`SseEngine::new`] removed.
    #[must_use]
    pub fn stale_temporaries_removed(&self) -> &[PathBuf] {
        &self.removed_at_open
    }

    /// Removes the temporary files of writers that are gone (a PUT, copy or reseal killed mid-way) from
    /// the local store and returns their paths ([`LocalStore::clean_stale_temporaries`]); nothing for
    /// other stores.
    #[must_use]
    pub fn clean_stale_temporaries(&self) -> Vec<PathBuf> {
        self.local
            .as_ref()
            .map(|l| l.clean_stale_temporaries())
            .unwrap_or_default()
    }

    /// Where an object's stored bytes are, for messages: the file for the local store.
    fn location(&self, bucket: &str, key: &str) -> PathBuf {
        self.local.as_ref().map_or_else(
            || PathBuf::from(format!("{bucket}/{key}")),
            |l| l.object_path(bucket, key),
        )
    }

    /// Creates a bucket with S3's defaults for new buckets (SSE-S3, SSE-C writes blocked) or `encryption`.
    ///
    /// # Errors
    /// 400 `InvalidBucketName`, 409 `BucketAlreadyOwnedByYou`.
    pub fn create_bucket(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        encryption: Option<BucketEncryption>,
    ) -> Result<(), S3Error> {
        // S3 refuses anonymous CreateBucket; the bucket belongs to the caller's account.
        let Some(owner) = ctx.caller.principal().map(|p| p.account.clone()) else {
            return Err(S3Error::access_denied("Access Denied"));
        };
        if !valid_bucket_name(bucket) {
            return Err(S3Error::from_code(S3ErrorCode::InvalidBucketName));
        }
        self.store.create_bucket(bucket)?;
        let enc = encryption.unwrap_or_else(BucketEncryption::new_bucket_default);
        self.store
            .put_bucket_config(bucket, OWNER_CONFIG, Some(&owner))?;
        self.store
            .put_bucket_config(bucket, ENCRYPTION_CONFIG, Some(&enc.to_xml()))?;
        Ok(())
    }

    /// The bucket's encryption configuration (S3's default for new buckets if none is stored, as after
    /// a crash between creating the bucket and storing it) and policy.
    fn load_bucket(
        &self,
        bucket: &str,
    ) -> Result<(BucketEncryption, Option<BucketPolicy>), S3Error> {
        let enc = match self.store.bucket_config(bucket, ENCRYPTION_CONFIG)? {
            Some(xml) => BucketEncryption::parse_xml(&xml)?,
            None => BucketEncryption::new_bucket_default(),
        };
        let policy = self
            .store
            .bucket_config(bucket, POLICY_CONFIG)?
            .map(|p| BucketPolicy::parse(&p, bucket))
            .transpose()?;
        Ok((enc, policy))
    }

    /// PutBucketEncryption.
    ///
    /// # Errors
    /// S3's errors for malformed XML; 404 `NoSuchBucket`.
    pub fn put_bucket_encryption(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        xml: &str,
    ) -> Result<(), S3Error> {
        let _ = ctx; // The caller is checked by the IAM layer; the bucket policy has no say here.
        let (current, _) = self.load_bucket(bucket)?;
        // Omitting BlockedEncryptionTypes keeps the bucket's current block, as S3 does.
        let enc = BucketEncryption::parse_xml(xml)?.applied_over(&current);
        self.store
            .put_bucket_config(bucket, ENCRYPTION_CONFIG, Some(&enc.to_xml()))?;
        Ok(())
    }

    /// PutBucketPolicy.
    ///
    /// # Errors
    /// 400 `MalformedPolicy`; 404 `NoSuchBucket`.
    pub fn put_bucket_policy(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        json: &str,
    ) -> Result<(), S3Error> {
        let _ = ctx; // The caller is checked by the IAM layer; the bucket policy has no say here.
        self.load_bucket(bucket)?;
        BucketPolicy::parse(json, bucket)?;
        self.store
            .put_bucket_config(bucket, POLICY_CONFIG, Some(json))?;
        Ok(())
    }

    /// The account owning `bucket` ([`LOCAL_ACCOUNT`] for a bucket created before owners were recorded).
    fn bucket_owner(&self, bucket: &str) -> Result<String, S3Error> {
        Ok(self
            .store
            .bucket_config(bucket, OWNER_CONFIG)?
            .map_or_else(|| LOCAL_ACCOUNT.to_owned(), |o| o.trim().to_owned()))
    }

    /// Decides `req` with the one policy engine ([`crate::iam::authorize`]): the caller and transport
    /// come from `ctx`, the bucket policy is the resource policy, the bucket's owner account its owner.
    /// The owner's root may do everything no policy explicitly denies; anyone else needs an Allow
    /// (identity policies arrive with IAM users, so today only the bucket policy can give it).
    fn check_policy(
        &self,
        ctx: &RequestContext,
        policy: Option<&BucketPolicy>,
        req: &PolicyRequest<'_>,
    ) -> Result<(), S3Error> {
        self.check_policy_keys(ctx, policy, req, None)
    }

    /// [`SseEngine::check_policy`] with `keys` instead of the request's SSE condition keys.
    fn check_policy_keys(
        &self,
        ctx: &RequestContext,
        policy: Option<&BucketPolicy>,
        req: &PolicyRequest<'_>,
        keys: Option<crate::iam::ConditionKeys>,
    ) -> Result<(), S3Error> {
        let owner = self.bucket_owner(req.bucket)?;
        let resource = match policy {
            Some(p) => p.resource_arn(req.key),
            None if req.key.is_empty() => format!("arn:aws:s3:::{}", req.bucket),
            None => format!("arn:aws:s3:::{}/{}", req.bucket, req.key),
        };
        let keys = keys.unwrap_or_else(|| req.condition_keys());
        let mut a =
            Authorization::new(req.action, &resource, &owner, ctx, &keys, ResourceModel::S3);
        a.resource_policy = policy.map(BucketPolicy::policy);
        a.identity_policies = &ctx.identity_policies;
        // Through an access point, its policy is a second gate, on the resource as it names it.
        let ap_resource = ctx.access_point.as_ref().map(|ap| {
            if req.key.is_empty() {
                ap.arn.clone()
            } else {
                format!("{}/object/{}", ap.arn, req.key)
            }
        });
        if let (Some(ap), Some(resource)) = (&ctx.access_point, &ap_resource) {
            a = a.with_access_point(AccessPointGate {
                policy: ap.policy.as_deref(),
                resource,
                owner: &ap.account,
            });
        }
        if let Some(p) = policy
            && self.restricts_public_buckets(req.bucket)?
            && crate::s3::public_access::is_public(p.policy())
        {
            // RestrictPublicBuckets: with a public policy, only service principals and principals of
            // the owner's account keep access (the policy's grants to anyone else are ignored).
            let insider = match &ctx.caller {
                Caller::Principal(p) => p.account == owner,
                Caller::Service(_) => true,
                Caller::Anonymous => false,
            };
            if !insider {
                return Err(S3Error::access_denied("Access Denied"));
            }
        }
        match authorize(&a) {
            Verdict::Allow => Ok(()),
            _ => Err(S3Error::access_denied("Access Denied")),
        }
    }

    /// Whether the bucket's Block Public Access settings include `RestrictPublicBuckets`.
    fn restricts_public_buckets(&self, bucket: &str) -> Result<bool, S3Error> {
        Ok(self
            .bucket_public_access_block(bucket)?
            .is_some_and(|p| p.restrict_public_buckets))
    }

    /// Whether the bucket's Block Public Access settings include `BlockPublicPolicy`.
    fn bucket_blocks_public_policy(&self, bucket: &str) -> Result<bool, S3Error> {
        Ok(self
            .bucket_public_access_block(bucket)?
            .is_some_and(|p| p.block_public_policy))
    }

    fn bucket_public_access_block(
        &self,
        bucket: &str,
    ) -> Result<Option<crate::s3::public_access::PublicAccessBlock>, S3Error> {
        self.store
            .bucket_config(bucket, PUBLIC_ACCESS_BLOCK_CONFIG)?
            .map(|x| crate::s3::xml::parse_public_access_block(x.as_bytes()))
            .transpose()
    }

    /// PutObject: encrypts `body` as the headers and bucket configuration say, and stores it atomically.
    ///
    /// # Errors
    /// S3's errors (header validation, policy, blocked SSE-C, KMS); nothing is stored on error. Among
    /// them: 400 `RequestHeaderSectionTooLarge` for more than 8 KiB of request headers, 400
    /// `KeyTooLongError` for a key of more than 1,024 bytes, 400 `MetadataTooLarge` for more than 2 KiB
    /// of user-defined metadata.
    pub fn put_object(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        h: &Headers,
        body: &mut dyn Read,
    ) -> Result<Response, S3Error> {
        check_header_section(h)?;
        let plan = self.write_plan(ctx, bucket, key, h)?;
        // S3 wants an integrity header on a write that locks the new version.
        if plan.lock != ObjectLock::default() && !h.has_integrity_header() {
            return Err(S3Error::invalid_request(
                "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters",
            ));
        }
        self.store(bucket, key, plan, body)
    }

    /// PutObject after the request-header size check (CopyObject checks its own request's headers).
    fn put_checked(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        h: &Headers,
        body: &mut dyn Read,
    ) -> Result<Response, S3Error> {
        let plan = self.write_plan(ctx, bucket, key, h)?;
        self.store(bucket, key, plan, body)
    }

    /// The checks of a write (PutObject, CopyObject's destination, CreateMultipartUpload) in S3's order,
    /// and the encryption it gets: key length, user metadata, SSE headers, bucket policy
    /// (`s3:PutObject`), SSE-C block, bucket default, KMS over plain HTTP.
    fn write_plan(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        h: &Headers,
    ) -> Result<WritePlan, S3Error> {
        let (enc, policy) = self.load_bucket(bucket)?;
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(S3Error::from_code(S3ErrorCode::KeyTooLongError)
                .with_extra("Size", key.len().to_string())
                .with_extra("MaxSizeAllowed", MAX_KEY_LEN.to_string()));
        }
        check_user_metadata(h)?;
        let transport = transport_of(ctx);
        let request = headers::parse_write(h, transport)?;
        let now = SystemTime::UNIX_EPOCH + self.clock.now();
        let write_lock = WriteLock::from_headers(h, now)?;
        self.check_policy(
            ctx,
            policy.as_ref(),
            &PolicyRequest {
                action: "s3:PutObject",
                bucket,
                key,
                principal: principal_arn(ctx),
                secure_transport: ctx.secure_transport,
                sse_header: h.get("x-amz-server-side-encryption"),
                kms_key_id_header: h.get("x-amz-server-side-encryption-aws-kms-key-id"),
                sse_c_algorithm_header: h.get("x-amz-server-side-encryption-customer-algorithm"),
            },
        )?;
        if matches!(request, SseRequest::Customer(_)) && enc.blocks_sse_c() {
            return Err(S3Error::sse_c_blocked(
                ctx.caller
                    .principal()
                    .map_or("anonymous", |p| p.arn.as_str()),
                "s3:PutObject",
                &format!("arn:aws:s3:::{bucket}/{key}"),
            ));
        }
        let bucket_key_default = matches!(
            enc.default,
            DefaultSse::Kms {
                bucket_key: true,
                ..
            }
        );
        let request = match request {
            SseRequest::None => match enc.default {
                DefaultSse::S3 => SseRequest::S3,
                DefaultSse::Kms { key_id, bucket_key } => SseRequest::Kms {
                    key_id,
                    context: EncryptionContext::new(),
                    bucket_key: Some(bucket_key),
                },
                DefaultSse::DsseKms { key_id } => SseRequest::DsseKms {
                    key_id,
                    context: EncryptionContext::new(),
                },
            },
            other => other,
        };
        // S3 refuses SSE-KMS and DSSE-KMS requests that are not made over TLS (with SigV4), also when the
        // KMS encryption comes from the bucket default.
        if transport == Transport::Insecure
            && matches!(request, SseRequest::Kms { .. } | SseRequest::DsseKms { .. })
        {
            return Err(S3Error::kms_requires_sigv4());
        }
        let user_metadata: BTreeMap<String, String> = h
            .iter()
            .filter_map(|(n, v)| {
                n.to_ascii_lowercase()
                    .strip_prefix("x-amz-meta-")
                    .map(|m| (m.to_owned(), v.trim().to_owned()))
            })
            .collect();
        // Locking a version on write needs the permissions of locking it afterwards.
        if write_lock.retention.is_some() {
            self.authorize_action(ctx, bucket, key, "s3:PutObjectRetention")?;
        }
        if write_lock.legal_hold.is_some() {
            self.authorize_action(ctx, bucket, key, "s3:PutObjectLegalHold")?;
        }
        let lock = write_lock.resolve(self.object_lock_configuration(bucket)?.as_ref(), now)?;
        Ok(WritePlan {
            lock,
            request,
            bucket_key_default,
            user_metadata,
            content_type: h.get("content-type").map(str::to_owned),
            system_metadata: system_metadata_of(h),
        })
    }

    fn store(
        &self,
        bucket: &str,
        key: &str,
        plan: WritePlan,
        body: &mut dyn Read,
    ) -> Result<Response, S3Error> {
        let rng = |e| S3Error::internal_because("random number generator failed", e);
        let object_key = ObjectKey::generate().map_err(rng)?;
        let WritePlan {
            request,
            bucket_key_default,
            user_metadata,
            content_type,
            system_metadata,
            lock,
        } = plan;
        let mut header = self.new_header(bucket, key, content_type, user_metadata);
        header.system_metadata = system_metadata;
        // The source key that seals the object key (and, for DSSE, a second one).
        let sources = self.key_sources(bucket, key, &request, bucket_key_default, &mut header)?;
        let second_key = if sources.len() > 1 {
            Some(ObjectKey::generate().map_err(rng)?)
        } else {
            None
        };
        // Refuse now, before any body byte is read, a header the reader would not accept.
        header.check_fits()?;
        // Body: stream through C2SP (twice for DSSE) into the store through an in-memory pipe: the
        // store reads the object file (MAGIC, body, header) on another thread while this one encrypts.
        // The store sees the end of its input only after the whole header, so a failure on this side
        // (client body, KMS, sealing) leaves it with a broken stream and nothing is stored.
        let store = &self.store;
        let info = self.piped(
            |reader| store.put_object(bucket, key, reader, &Metadata::new(), &lock),
            |w| {
                self.encrypt_into(
                    w,
                    &mut header,
                    &object_key,
                    second_key.as_ref(),
                    &sources,
                    body,
                )
            },
        )?;
        let mut resp = vec![("ETag".to_owned(), header.etag.clone())];
        resp.extend(headers::response_headers(&stored_sse(&header)));
        resp.extend(version_header(&info));
        Ok(Response {
            status: 200,
            headers: resp,
        })
    }

    /// A header for a new object: SSE-S3 until [`SseEngine::key_sources`] says otherwise.
    fn new_header(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<String>,
        user_metadata: BTreeMap<String, String>,
    ) -> Header {
        Header {
            version: 1,
            mode: Mode::S3,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: 0,
            etag: String::new(),
            content_type,
            user_metadata,
            system_metadata: BTreeMap::new(),
            last_modified: rfc3339(self.clock.now()),
            root_version: None,
            kms: None,
            kms2: None,
            customer_key_md5: None,
            customer_verifier: None,
            customer_salt: None,
            seal: None,
            seal2: None,
        }
    }

    /// Fills in `header`'s mode and key records for `request` and returns the source key(s) sealing
    /// the object key (two for DSSE-KMS): the current SSE-S3 root, KMS data keys (GenerateDataKey, or
    /// the bucket key), or the customer key with its salted verifier.
    fn key_sources(
        &self,
        bucket: &str,
        key: &str,
        request: &SseRequest,
        bucket_key_default: bool,
        header: &mut Header,
    ) -> Result<Sources, S3Error> {
        let rng = |e| S3Error::internal_because("random number generator failed", e);
        let mut sources: Sources = Vec::new();
        match request {
            SseRequest::S3 | SseRequest::None => {
                let mut roots = self.roots.lock().map_err(|_| S3Error::internal("lock"))?;
                // The newest version, including one another process added since.
                roots.refresh()?;
                let v = roots.current();
                header.root_version = Some(v);
                sources.push(zeroize::Zeroizing::new(
                    roots
                        .get(v)
                        .map(|k| k.expose_secret().to_vec())
                        .unwrap_or_default(),
                ));
            }
            SseRequest::Kms {
                key_id,
                context,
                bucket_key,
            } => {
                header.mode = Mode::Kms;
                let use_bucket_key = bucket_key.unwrap_or(bucket_key_default);
                let (seal, source) =
                    self.kms_source(bucket, key, key_id.as_deref(), context, use_bucket_key)?;
                header.kms = Some(seal);
                sources.push(source);
            }
            SseRequest::DsseKms { key_id, context } => {
                header.mode = Mode::DsseKms;
                let (s1, k1) = self.kms_source(bucket, key, key_id.as_deref(), context, false)?;
                let mut ctx2 = context.clone();
                ctx2.insert("aws:s3:dsse-layer".into(), "2".into());
                let (s2, k2) = self.kms_source(bucket, key, key_id.as_deref(), &ctx2, false)?;
                header.kms = Some(s1);
                header.kms2 = Some(s2);
                sources.push(k1);
                sources.push(k2);
            }
            SseRequest::Customer(c) => {
                header.mode = Mode::Customer;
                let salt = random_array::<32>().map_err(rng)?;
                header.customer_key_md5 = Some(B64.encode(c.key_md5));
                header.customer_verifier = Some(B64.encode(verifier(c, &salt)));
                header.customer_salt = Some(B64.encode(salt));
                sources.push(zeroize::Zeroizing::new(c.key.expose_secret().to_vec()));
            }
        }
        Ok(sources)
    }

    /// Runs `produce` on this thread, writing into an in-memory pipe that `sink` (a store write) reads on
    /// another. The sink sees the end of its input only if `produce` succeeded; otherwise its stream
    /// breaks and it stores nothing.
    fn piped<T: Send>(
        &self,
        sink: impl FnOnce(&mut dyn Read) -> Result<T, StoreError> + Send,
        produce: impl FnOnce(&mut io::BufWriter<PipeWriter>) -> Result<(), S3Error>,
    ) -> Result<T, S3Error> {
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Piece>(PIPE_DEPTH);
            let done = tx.clone();
            let stored = scope.spawn(move || {
                let mut reader = PipeReader {
                    rx,
                    piece: Vec::new(),
                    at: 0,
                    done: false,
                    broken: false,
                };
                sink(&mut reader)
            });
            let mut w = io::BufWriter::with_capacity(PIPE_PIECE, PipeWriter(tx));
            let written = produce(&mut w).and_then(|()| w.flush().map_err(io_err));
            drop(w);
            if written.is_ok() {
                // Only now may the store see the end of its input.
                let _ = done.send(Piece::Done);
            }
            drop(done);
            let stored = stored
                .join()
                .unwrap_or_else(|_| Err(StoreError::Corrupt("the store's writer panicked".into())));
            match (written, stored) {
                (Ok(()), Ok(v)) => Ok(v),
                (Ok(()), Err(e)) => Err(S3Error::from(e)),
                // A pipe broken by the store's own failure: the store's error says why.
                (Err(e), Err(se)) if e.code() == S3ErrorCode::InternalError => {
                    Err(S3Error::from(se))
                }
                (Err(e), _) => Err(e),
            }
        })
    }

    /// Writes the object file (MAGIC, the encrypted `body`, the sealed header) to `out`, filling in the
    /// header's size, ETag and seals.
    fn encrypt_into<W: Write + Send>(
        &self,
        mut out: W,
        header: &mut Header,
        object_key: &ObjectKey,
        second_key: Option<&ObjectKey>,
        sources: &[zeroize::Zeroizing<Vec<u8>>],
        body: &mut dyn Read,
    ) -> Result<(), S3Error> {
        let rng = |e| S3Error::internal_because("random number generator failed", e);
        out.write_all(MAGIC).map_err(io_err)?;
        // Only SSE-S3's ETag is the MD5 of the data; the other modes' ETags are random, so they skip it.
        let ctx2 = header.body_context(2);
        let (size, md5) = encrypt_body(
            &mut out,
            object_key,
            &header.body_context(1),
            second_key.map(|k| (k, ctx2.as_slice())),
            header.mode == Mode::S3,
            body,
        )?;
        header.size = size;
        header.etag = match header.mode {
            // S3: the ETag of SSE-S3 objects is the MD5 of the data; of SSE-KMS/SSE-C objects it is not.
            Mode::S3 => {
                let m = md5.ok_or_else(|| S3Error::internal("the ETag's MD5 was not computed"))?;
                format!("\"{}\"", hex::encode(m))
            }
            _ => format!("\"{}\"", hex::encode(random_array::<16>().map_err(rng)?)),
        };
        let first = sources
            .first()
            .ok_or_else(|| S3Error::internal("no key source to seal the object key"))?;
        header.seal = Some(header.seal(first, object_key)?);
        if let (Some(k2), Some(src2)) = (second_key, sources.get(1)) {
            header.seal2 = Some(header.seal(src2, k2)?);
        }
        header.check_fits()?;
        out.write_all(&header.trailer()).map_err(io_err)?;
        out.flush().map_err(io_err)
    }

    /// A KMS data key (or a bucket-key-derived key) as the seal source.
    fn kms_source(
        &self,
        bucket: &str,
        key: &str,
        key_id: Option<&str>,
        user_ctx: &EncryptionContext,
        bucket_key: bool,
    ) -> Result<(KmsSeal, zeroize::Zeroizing<Vec<u8>>), S3Error> {
        let key_id = match key_id {
            Some(k) => k.to_owned(),
            None => self.managed_key()?,
        };
        if bucket_key {
            let now = self.clock.now();
            let cache_key = (bucket.to_owned(), key_id.clone());
            let mut cache = self
                .bucket_keys
                .lock()
                .map_err(|_| S3Error::internal("lock"))?;
            let fresh = cache
                .get(&cache_key)
                .filter(|(_, _, t)| now.saturating_sub(*t) < BUCKET_KEY_TTL);
            let (plain, blob) = match fresh {
                Some((p, b, _)) => (p.clone(), b.clone()),
                None => {
                    let ctx: EncryptionContext =
                        [("aws:s3:arn".to_owned(), format!("arn:aws:s3:::{bucket}"))].into();
                    let r = self
                        .kms
                        .generate_data_key(&GenerateDataKeyRequest::aes256(&key_id, ctx))
                        .map_err(kms_error)?;
                    cache.insert(
                        cache_key,
                        (r.plaintext.clone(), r.ciphertext_blob.clone(), now),
                    );
                    (r.plaintext, r.ciphertext_blob)
                }
            };
            let arn = self
                .kms
                .describe_key(&DescribeKeyRequest::new(&key_id))
                .map_err(kms_error)?
                .key_metadata
                .arn;
            let ctx: EncryptionContext =
                [("aws:s3:arn".to_owned(), format!("arn:aws:s3:::{bucket}"))].into();
            return Ok((
                KmsSeal {
                    key_arn: arn,
                    blob: B64.encode(&blob),
                    context: ctx,
                    bucket_key: true,
                },
                zeroize::Zeroizing::new(plain.expose_secret().to_vec()),
            ));
        }
        let mut ctx = user_ctx.clone();
        ctx.insert("aws:s3:arn".into(), format!("arn:aws:s3:::{bucket}/{key}"));
        let r = self
            .kms
            .generate_data_key(&GenerateDataKeyRequest::aes256(&key_id, ctx.clone()))
            .map_err(kms_error)?;
        Ok((
            KmsSeal {
                key_arn: r.key_id.clone(),
                blob: B64.encode(&r.ciphertext_blob),
                context: ctx,
                bucket_key: false,
            },
            zeroize::Zeroizing::new(r.plaintext.expose_secret().to_vec()),
        ))
    }

    fn managed_key(&self) -> Result<String, S3Error> {
        let exists = || {
            self.kms
                .describe_key(&DescribeKeyRequest::new(MANAGED_KEY_ALIAS))
                .is_ok()
        };
        if exists() {
            return Ok(MANAGED_KEY_ALIAS.to_owned());
        }
        // One creator at a time in this process; another process may still win the alias, which
        // then is the managed key (and this process's new key is scheduled for deletion).
        let _creating = self
            .managed_key_lock
            .lock()
            .map_err(|_| S3Error::internal("lock"))?;
        if exists() {
            return Ok(MANAGED_KEY_ALIAS.to_owned());
        }
        let req = CreateKeyRequest {
            description: Some(
                "Default key for SSE-KMS without a key id (stands in for aws/s3)".into(),
            ),
            ..CreateKeyRequest::default()
        };
        let k = self.kms.create_key(&req).map_err(kms_error)?.key_metadata;
        if let Err(e) = self
            .kms
            .create_alias(&CreateAliasRequest::new(MANAGED_KEY_ALIAS, &k.key_id))
        {
            if !exists() {
                return Err(kms_error(e));
            }
            let _ = self
                .kms
                .schedule_key_deletion(&crate::kms::ScheduleKeyDeletionRequest::new(
                    &k.key_id,
                    Some(7),
                ));
        }
        Ok(MANAGED_KEY_ALIAS.to_owned())
    }

    fn kms_plain(&self, seal: &KmsSeal) -> Result<zeroize::Zeroizing<Vec<u8>>, S3Error> {
        let blob = B64
            .decode(&seal.blob)
            .map_err(|_| S3Error::internal("stored object is corrupt"))?;
        if seal.bucket_key
            && let Some(p) = self
                .bucket_key_plain
                .lock()
                .map_err(|_| S3Error::internal("lock"))?
                .get(&blob)
        {
            return Ok(zeroize::Zeroizing::new(p.expose_secret().to_vec()));
        }
        let r = self
            .kms
            .decrypt(&DecryptRequest::new(blob.clone(), seal.context.clone()))
            .map_err(kms_error)?;
        if seal.bucket_key {
            self.bucket_key_plain
                .lock()
                .map_err(|_| S3Error::internal("lock"))?
                .insert(blob, r.plaintext.clone());
        }
        Ok(zeroize::Zeroizing::new(
            r.plaintext.expose_secret().to_vec(),
        ))
    }

    /// Opens an object for reading: checks the read headers against its mode and unseals its key(s).
    fn open(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        h: &Headers,
        copy_source: bool,
    ) -> Result<Opened, S3Error> {
        self.open_for(ctx, bucket, key, version, h, copy_source, false)
    }

    /// As [`SseEngine::open`]; `to_end`: the caller reads the whole body (a GET without a range, a
    /// copy), so the store may stream it in one request ([`ObjectStore::get_object_to_end`]).
    #[allow(clippy::too_many_arguments)]
    fn open_for(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        h: &Headers,
        copy_source: bool,
        to_end: bool,
    ) -> Result<Opened, S3Error> {
        crate::s3::versioning::parse_version_id(version)?;
        let (_, policy) = self.load_bucket(bucket)?;
        let transport = transport_of(ctx);
        let customer = if copy_source {
            headers::parse_copy_source(h, transport)?
        } else {
            headers::parse_read(h, transport)?
        };
        self.check_policy(
            ctx,
            policy.as_ref(),
            &PolicyRequest {
                action: if version.is_some() {
                    "s3:GetObjectVersion"
                } else {
                    "s3:GetObject"
                },
                bucket,
                key,
                principal: principal_arn(ctx),
                secure_transport: ctx.secure_transport,
                sse_header: None,
                kms_key_id_header: None,
                sse_c_algorithm_header: customer.as_ref().map(|_| "AES256"),
            },
        )?;
        let opened = if to_end {
            self.store.get_object_to_end(bucket, key, version)
        } else {
            self.store.get_object(bucket, key, version)
        };
        let StoredObject { info, body: mut f } = opened.map_err(|e| match e {
                // S3 answers 400 for a copy source naming a delete marker (405 is for GET/HEAD).
                StoreError::DeleteMarker {
                    requested: true, ..
                } if copy_source => S3Error::invalid_request(
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                ),
                e => e.into(),
            })?;
        if multipart::is_multipart(&mut f)? {
            let (header, manifest) = self.open_manifest(&mut f, bucket, key)?;
            headers::check_read(&stored_sse(&header), customer.as_ref(), transport)?;
            let sources = self.read_sources(&header, customer)?;
            return Ok(Opened {
                file: f,
                header,
                body: OpenedBody::Multipart(Box::new(manifest.with_sources(sources))),
                info,
            });
        }
        let (header, body_at, body_len) = Header::read(&mut f)?;
        if header.bucket != bucket || header.key != key {
            return Err(S3Error::internal(
                "stored object is corrupt or was tampered with (name)",
            ));
        }
        // S3's answers for the stored mode: SSE-KMS/DSSE-KMS only over TLS, SSE-C only with its key.
        headers::check_read(&stored_sse(&header), customer.as_ref(), transport)?;
        let corrupt = || S3Error::internal("stored object is corrupt or was tampered with (seal)");
        let seal = header.seal.clone().ok_or_else(corrupt)?;
        let sources = self.read_sources(&header, customer)?;
        let first = sources.first().ok_or_else(corrupt)?;
        let k1 = header.unseal(&seal, first).ok_or_else(corrupt)?;
        let k2 = match (&header.seal2, sources.get(1)) {
            (Some(seal2), Some(src2)) => Some(header.unseal(seal2, src2).ok_or_else(corrupt)?),
            _ => None,
        };
        Ok(Opened {
            file: f,
            header,
            body: OpenedBody::Single {
                body_at,
                body_len,
                k1,
                k2,
            },
            info,
        })
    }

    /// The source key(s) an object's key(s) are sealed under, after S3's checks of the request's SSE-C
    /// key: the SSE-S3 root of `header.root_version`, the KMS data key(s) (Decrypt), or the customer key
    /// once it matches the salted verifier.
    fn read_sources(
        &self,
        header: &Header,
        customer: Option<CustomerKeyHeaders>,
    ) -> Result<Sources, S3Error> {
        let corrupt = || S3Error::internal("stored object is corrupt or was tampered with (seal)");
        match header.mode {
            Mode::Customer => {
                let Some(c) = customer else {
                    return Err(S3Error::invalid_request(
                        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
                    ));
                };
                let salt = B64
                    .decode(header.customer_salt.as_deref().unwrap_or_default())
                    .map_err(|_| corrupt())?;
                let stored = B64
                    .decode(header.customer_verifier.as_deref().unwrap_or_default())
                    .map_err(|_| corrupt())?;
                if !ct_eq(&verifier(&c, &salt), &stored) {
                    return Err(S3Error::access_denied(
                        "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.",
                    ));
                }
                Ok(vec![zeroize::Zeroizing::new(
                    c.key.expose_secret().to_vec(),
                )])
            }
            mode => {
                if customer.is_some() {
                    return Err(S3Error::invalid_request(
                        "The encryption parameters are not applicable to this object.",
                    ));
                }
                if mode == Mode::S3 {
                    let mut roots = self.roots.lock().map_err(|_| S3Error::internal("lock"))?;
                    let root = roots
                        .get_fresh(header.root_version.unwrap_or(0))?
                        .ok_or_else(corrupt)?;
                    return Ok(vec![zeroize::Zeroizing::new(root.expose_secret().to_vec())]);
                }
                let mut sources = vec![self.kms_plain(header.kms.as_ref().ok_or_else(corrupt)?)?];
                if let Some(s2) = &header.kms2 {
                    sources.push(self.kms_plain(s2)?);
                }
                Ok(sources)
            }
        }
    }

    /// GetObject: writes the (range of the) plaintext to `out`. Every byte written is authenticated.
    ///
    /// # Errors
    /// S3's errors: 404, 400/403 for SSE-C, 416 `InvalidRange`, 500 for a corrupt object.
    pub fn get_object(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        h: &Headers,
        range: Option<ByteRange>,
        out: &mut dyn Write,
    ) -> Result<Response, S3Error> {
        let (resp, body) = self.get_object_start(ctx, bucket, key, None, h, range)?;
        body.write_to(out)?;
        Ok(resp)
    }

    /// GetObject in two steps, for a server that sends the status and headers before the body: every
    /// check, the key unsealing and the response headers now, the (authenticated) body from
    /// [`ObjectBody::write_to`].
    ///
    /// # Errors
    /// As [`SseEngine::get_object`], except failures while reading the body, which
    /// [`ObjectBody::write_to`] returns.
    pub fn get_object_start(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        h: &Headers,
        range: Option<ByteRange>,
    ) -> Result<(Response, ObjectBody<'_>), S3Error> {
        let o = self.open_for(ctx, bucket, key, version, h, false, range.is_none())?;
        let size = o.header.size;
        let (start, end) = match range {
            None => (0, size),
            Some(r) => r.resolve(size).map_err(|_| S3Error::invalid_range())?,
        };
        let mut hs = response_headers(&o.header);
        hs.extend(self.version_headers(ctx, bucket, key, &o.info, version.is_some()));
        hs.push(("Content-Length".into(), (end - start).to_string()));
        let status = if range.is_some() {
            hs.push((
                "Content-Range".into(),
                format!("bytes {}-{}/{}", start, end.saturating_sub(1), size),
            ));
            206
        } else {
            200
        };
        Ok((
            Response {
                status,
                headers: hs,
            },
            ObjectBody {
                engine: self,
                opened: o,
                start,
                end,
            },
        ))
    }

    /// Writes plaintext bytes `[start, end)` of an opened object to `out`.
    fn read_body(
        &self,
        o: &mut Opened,
        start: u64,
        end: u64,
        out: &mut dyn Write,
    ) -> Result<(), S3Error> {
        let Opened {
            file, header, body, ..
        } = o;
        match body {
            OpenedBody::Single {
                body_at,
                body_len,
                k1,
                k2,
            } => {
                let ctx2 = header.body_context(2);
                read_layers(
                    file,
                    *body_at,
                    *body_len,
                    k1,
                    &header.body_context(1),
                    k2.as_ref().map(|k| (k, ctx2.as_slice())),
                    header.size,
                    start,
                    end,
                    out,
                )
            }
            OpenedBody::Multipart(m) => self.read_multipart(file, header, m, start, end, out),
        }
    }

    /// HeadObject: the checks and headers of GET without the body.
    ///
    /// # Errors
    /// As [`SseEngine::get_object`].
    pub fn head_object(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        h: &Headers,
    ) -> Result<Response, S3Error> {
        let o = self.open(ctx, bucket, key, version, h, false)?;
        let mut hs = response_headers(&o.header);
        hs.extend(self.version_headers(ctx, bucket, key, &o.info, version.is_some()));
        hs.push(("Content-Length".into(), o.header.size.to_string()));
        Ok(Response {
            status: 200,
            headers: hs,
        })
    }

    /// CopyObject: decrypts the source (with the copy-source SSE-C headers if it is SSE-C) and stores it
    /// re-encrypted as the destination headers and bucket say (any mode to any mode).
    ///
    /// The plaintext is never staged: the source is decrypted chunk by chunk (each chunk authenticated
    /// before it is passed on) on one thread and encrypted into the destination's temporary file on
    /// another, through a small in-memory channel. The destination is renamed into place only once the
    /// whole source was read and authenticated, so a source that fails authentication leaves nothing.
    ///
    /// # Errors
    /// The errors of GET on the source and PUT on the destination.
    pub fn copy_object(
        &self,
        ctx: &RequestContext,
        src: (&str, &str, Option<&str>),
        dst: (&str, &str),
        h: &Headers,
    ) -> Result<Response, S3Error> {
        self.copy_object_as(ctx, ctx, src, dst, h)
    }

    /// CopyObject whose source is read as `src_ctx` (the caller through the source's access point) and
    /// whose destination is written as `ctx`.
    ///
    /// # Errors
    /// As [`SseEngine::copy_object`].
    pub fn copy_object_as(
        &self,
        src_ctx: &RequestContext,
        ctx: &RequestContext,
        src: (&str, &str, Option<&str>),
        dst: (&str, &str),
        h: &Headers,
    ) -> Result<Response, S3Error> {
        check_header_section(h)?;
        let mut o = self.open_for(src_ctx, src.0, src.1, src.2, h, true, true)?;
        let source_version = (o.info.version_id != crate::store::NULL_VERSION || src.2.is_some())
            .then(|| o.info.version_id.clone());
        let size = o.header.size;
        // The destination sees only the non-copy-source headers.
        let dest_headers = Headers::new(
            h.iter()
                .filter(|(n, _)| !n.to_ascii_lowercase().starts_with("x-amz-copy-source"))
                .map(|(n, v)| (n.to_owned(), v.to_owned())),
        );
        // x-amz-metadata-directive: COPY (the default) keeps the source's Content-Type, system and user
        // metadata and ignores the request's; REPLACE takes the request's only.
        let replace = h
            .get("x-amz-metadata-directive")
            .is_some_and(|d| d.trim().eq_ignore_ascii_case("REPLACE"));
        let dh = if replace {
            dest_headers
        } else {
            let is_metadata = |n: &str| {
                let n = n.to_ascii_lowercase();
                n.starts_with("x-amz-meta-")
                    || n == "content-type"
                    || SYSTEM_METADATA.iter().any(|s| s.eq_ignore_ascii_case(&n))
            };
            let source = &o.header;
            Headers::new(
                dest_headers
                    .iter()
                    .filter(|(n, _)| !is_metadata(n))
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .chain(
                        source
                            .content_type
                            .iter()
                            .map(|ct| ("Content-Type".to_owned(), ct.clone())),
                    )
                    .chain(source.system_metadata.clone())
                    .chain(
                        source
                            .user_metadata
                            .iter()
                            .map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone())),
                    ),
            )
        };
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Piece>(PIPE_DEPTH);
            let source = s.spawn(move || {
                let done = tx.clone();
                let mut w = io::BufWriter::with_capacity(PIPE_PIECE, PipeWriter(tx));
                let r = self.read_body(&mut o, 0, size, &mut w);
                let r = r.and_then(|()| w.flush().map_err(io_err));
                drop(w);
                if r.is_ok() {
                    // Only now may the destination see the end of its body.
                    let _ = done.send(Piece::Done);
                }
                r
            });
            let mut reader = PipeReader {
                rx,
                piece: Vec::new(),
                at: 0,
                done: false,
                broken: false,
            };
            let put = self.put_checked(ctx, dst.0, dst.1, &dh, &mut reader);
            let source_failed = reader.broken;
            // Unblocks the source thread if the destination stopped early.
            drop(reader);
            let read = source
                .join()
                .unwrap_or_else(|_| Err(S3Error::internal("the copy source reader failed")));
            match (put, read) {
                (Err(_), Err(e)) if source_failed => Err(e),
                (put, _) => put,
            }
        })
        .map(|mut r| {
            if let Some(v) = source_version {
                r.headers
                    .push(("x-amz-copy-source-version-id".to_owned(), v));
            }
            r
        })
    }

    /// Decides a request for `action` on `bucket` (and `key`, empty for the bucket itself) without
    /// SSE condition keys: the caller and transport from `ctx`, the caller's identity policies, the
    /// bucket policy, the bucket's owner.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 403 `AccessDenied`.
    pub fn authorize_action(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        action: &str,
    ) -> Result<(), S3Error> {
        self.authorize_with_keys(ctx, bucket, key, action, None)
    }

    /// Decides `action` with request-specific condition keys (`s3:prefix`, `s3:max-keys`, …), or none.
    fn authorize_with_keys(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        action: &str,
        keys: Option<crate::iam::ConditionKeys>,
    ) -> Result<(), S3Error> {
        let (_, policy) = self.load_bucket(bucket)?;
        self.check_policy_keys(
            ctx,
            policy.as_ref(),
            &PolicyRequest {
                action,
                bucket,
                key,
                principal: principal_arn(ctx),
                secure_transport: ctx.secure_transport,
                sse_header: None,
                kms_key_id_header: None,
                sse_c_algorithm_header: None,
            },
            keys,
        )
    }

    /// Whether `bucket`'s default encryption is SSE-KMS or DSSE-KMS.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; S3's errors for a damaged configuration.
    pub fn bucket_default_is_kms(&self, bucket: &str) -> Result<bool, S3Error> {
        Ok(!matches!(
            self.load_bucket(bucket)?.0.default,
            DefaultSse::S3
        ))
    }

    /// Decides whether the server-access-logging service may write the log object `key` of `source`
    /// (owned by `source_account`) into `target`: `s3:PutObject` by the service principal
    /// `logging.s3.amazonaws.com` under `target`'s bucket policy, with `aws:SourceArn` and
    /// `aws:SourceAccount` set as S3 sets them.
    ///
    /// # Errors
    /// 403 `AccessDenied` when the policy does not allow it; 404 `NoSuchBucket`.
    pub fn authorize_log_delivery(
        &self,
        source: &str,
        source_account: &str,
        target: &str,
        key: &str,
    ) -> Result<(), S3Error> {
        let ctx = RequestContext::new(
            Caller::Service(crate::s3::access_log::LOGGING_SERVICE.to_owned()),
            crate::iam::AuthType::None,
            std::time::SystemTime::now(),
        )
        .with_tls(true);
        let keys = crate::iam::ConditionKeys::new()
            .with("aws:SourceArn", format!("arn:aws:s3:::{source}"))
            .with("aws:SourceAccount", source_account);
        self.authorize_with_keys(&ctx, target, key, "s3:PutObject", Some(keys))
    }

    /// Delivers a server access log object: checks [`SseEngine::authorize_log_delivery`], then stores
    /// `body` as `target/key` on behalf of the target's owner, under the target's default encryption.
    ///
    /// # Errors
    /// 403 `AccessDenied` when the target's policy does not allow the delivery; the errors of
    /// [`SseEngine::put_object`].
    pub fn deliver_log_object(
        &self,
        source: &str,
        source_account: &str,
        target: &str,
        key: &str,
        body: &[u8],
    ) -> Result<(), S3Error> {
        self.authorize_log_delivery(source, source_account, target, key)?;
        let owner = self.owner_of(target)?;
        let ctx = RequestContext::new(
            Caller::Principal(crate::iam::Principal::root(&owner, "-")),
            crate::iam::AuthType::Header,
            std::time::SystemTime::now(),
        )
        .with_tls(true);
        let h = Headers::new([("content-type".to_owned(), "text/plain".to_owned())]);
        self.put_object(&ctx, target, key, &h, &mut &body[..])
            .map(drop)
    }

    /// The account owning `bucket`.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 on I/O failure.
    pub fn owner_of(&self, bucket: &str) -> Result<String, S3Error> {
        self.store.head_bucket(bucket)?;
        self.bucket_owner(bucket)
    }

    /// DeleteObject without a version id: removes the object (unversioned bucket) or adds a delete
    /// marker (versioned), which is returned; deleting a key that does not exist succeeds, as in S3.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 403 `AccessDenied` without `s3:DeleteObject`.
    pub fn delete_object(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectInfo>, S3Error> {
        self.authorize_action(ctx, bucket, key, "s3:DeleteObject")?;
        Ok(self.store.delete_object(bucket, key)?)
    }

    /// One page of ListObjects/ListObjectsV2, with each object's plaintext size, S3 ETag and
    /// Last-Modified read from its stored header (the header is authenticated only when the object
    /// is read; a listing shows what the store holds).
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 403 without `s3:ListBucket`; 400 for a bad continuation token.
    pub fn list_objects(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        request: &ListRequest,
    ) -> Result<ListPage, S3Error> {
        let max_keys = request.max_keys.to_string();
        let keys = crate::iam::ConditionKeys::new()
            .with("s3:prefix", request.prefix.clone())
            .with_opt("s3:delimiter", request.delimiter.as_deref())
            .with("s3:max-keys", max_keys);
        self.authorize_with_keys(ctx, bucket, "", "s3:ListBucket", Some(keys))?;
        let mut page = self.store.list_objects(bucket, request)?;
        for info in &mut page.contents {
            // An object removed since the listing was taken keeps the store's view.
            if let Ok(Some(stat)) = self.stat_object(bucket, &info.key, None) {
                info.size = stat.size;
                info.etag = stat.etag;
                info.last_modified = stat.last_modified;
            }
        }
        Ok(page)
    }

    /// What the stored header of an object says (plaintext size, S3 ETag, Last-Modified, content
    /// type), without authorization or decryption: for listings and the preconditions of conditional
    /// writes. `None` if there is no such object. The header is authenticated only when the object is
    /// read.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 when the stored header cannot be read.
    pub fn stat_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectStat>, S3Error> {
        let mut stored = match self.store.get_object(bucket, key, version) {
            Ok(s) => s,
            Err(
                StoreError::NoSuchKey | StoreError::NoSuchVersion | StoreError::DeleteMarker { .. },
            ) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // A multipart object's header is the one its authenticated manifest makes (plaintext size,
        // ETag "…-N"); the bytes at its start are its first part's.
        let header = if multipart::is_multipart(&mut stored.body)? {
            self.open_manifest(&mut stored.body, bucket, key)?.0
        } else {
            Header::read(&mut stored.body)?.0
        };
        let last_modified = time::OffsetDateTime::parse(
            &header.last_modified,
            &time::format_description::well_known::Rfc3339,
        )
        .map_or(stored.info.last_modified, Into::into);
        Ok(Some(ObjectStat {
            size: header.size,
            etag: header.etag,
            last_modified,
            content_type: header.content_type,
        }))
    }

    /// The buckets owned by the caller's account (ListBuckets). Anonymous callers are refused.
    ///
    /// # Errors
    /// 403 `AccessDenied` for anonymous callers and for IAM users whose policies do not allow
    /// `s3:ListAllMyBuckets`.
    pub fn list_buckets(&self, ctx: &RequestContext) -> Result<Vec<BucketInfo>, S3Error> {
        let Some(p) = ctx.caller.principal() else {
            return Err(S3Error::access_denied("Access Denied"));
        };
        let keys = crate::iam::ConditionKeys::new();
        let a = Authorization::new(
            "s3:ListAllMyBuckets",
            "*",
            &p.account,
            ctx,
            &keys,
            ResourceModel::S3,
        )
        .with_identity_policies(&ctx.identity_policies);
        if authorize(&a) != Verdict::Allow {
            return Err(S3Error::access_denied("Access Denied"));
        }
        let mut out = Vec::new();
        for b in self.store.list_buckets()? {
            if self.bucket_owner(&b.name)? == p.account {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// DeleteBucket: the bucket must hold no objects and no multipart uploads.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 403; 409 `BucketNotEmpty`.
    pub fn delete_bucket(&self, ctx: &RequestContext, bucket: &str) -> Result<(), S3Error> {
        self.authorize_action(ctx, bucket, "", "s3:DeleteBucket")?;
        self.store.delete_bucket(bucket)?;
        Ok(())
    }

    /// GetBucketEncryption: the configuration as S3's XML (the new-bucket default when none is
    /// stored).
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 403 without `s3:GetEncryptionConfiguration`.
    pub fn get_bucket_encryption(
        &self,
        ctx: &RequestContext,
        bucket: &str,
    ) -> Result<String, S3Error> {
        self.authorize_action(ctx, bucket, "", "s3:GetEncryptionConfiguration")?;
        Ok(self.load_bucket(bucket)?.0.to_xml())
    }

    /// DeleteBucketEncryption: back to SSE-S3, the default of every bucket; the SSE-C block stays.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 403 without `s3:PutEncryptionConfiguration`.
    pub fn delete_bucket_encryption(
        &self,
        ctx: &RequestContext,
        bucket: &str,
    ) -> Result<(), S3Error> {
        self.authorize_action(ctx, bucket, "", "s3:PutEncryptionConfiguration")?;
        let (mut enc, _) = self.load_bucket(bucket)?;
        enc.default = DefaultSse::S3;
        self.store
            .put_bucket_config(bucket, ENCRYPTION_CONFIG, Some(&enc.to_xml()))?;
        Ok(())
    }

    /// The bucket policy document as stored, if any (GetBucketPolicy; the caller decides access).
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 on I/O failure.
    pub fn bucket_policy(&self, bucket: &str) -> Result<Option<String>, S3Error> {
        self.store.head_bucket(bucket)?;
        Ok(self.store.bucket_config(bucket, POLICY_CONFIG)?)
    }

    /// Removes the bucket policy (DeleteBucketPolicy; the caller decides access).
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 on I/O failure.
    pub fn delete_bucket_policy(&self, bucket: &str) -> Result<(), S3Error> {
        self.store.head_bucket(bucket)?;
        self.store.put_bucket_config(bucket, POLICY_CONFIG, None)?;
        Ok(())
    }

    /// Adds an SSE-S3 root key version (new objects use it; old ones stay readable).
    ///
    /// # Errors
    /// 500 on I/O failure.
    pub fn rotate_root(&self) -> Result<u32, S3Error> {
        self.roots
            .lock()
            .map_err(|_| S3Error::internal("lock"))?
            .rotate()
    }

    /// Moves every SSE-S3 object of `bucket` whose key is sealed under an older root to the newest root,
    /// rewriting only the header (the encrypted body bytes are copied, not re-encrypted). Returns how many
    /// objects were resealed.
    ///
    /// An object that cannot be read or unsealed does not stop the others: all of them are resealed
    /// first, then the error names the files that were skipped ([`SseEngine::reseal_report`] returns the
    /// same as a value).
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 if any object was skipped (after resealing the others) or on a write
    /// failure.
    pub fn reseal(&self, bucket: &str) -> Result<usize, S3Error> {
        let report = self.reseal_report(bucket)?;
        if report.skipped.is_empty() {
            return Ok(report.resealed);
        }
        let names: Vec<String> = report
            .skipped
            .iter()
            .map(|(p, e)| format!("{} ({})", p.display(), e.detail()))
            .collect();
        Err(S3Error::internal(format!(
            "resealed {} objects; {} could not be read and were left as they are: {}",
            report.resealed,
            report.skipped.len(),
            names.join("; ")
        )))
    }

    /// As [`SseEngine::reseal`], returning which objects were skipped instead of failing.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 500 if the bucket cannot be listed or a resealed object cannot be written.
    pub fn reseal_report(&self, bucket: &str) -> Result<ResealReport, S3Error> {
        self.load_bucket(bucket)?;
        // Every version (delete markers have no key to reseal).
        let mut versions = Vec::new();
        let mut request = VersionListRequest::default();
        loop {
            let page = self.store.list_object_versions(bucket, &request)?;
            versions.extend(
                page.versions
                    .into_iter()
                    .filter(|v| !v.is_delete_marker)
                    .map(|v| (v.key, v.version_id)),
            );
            if !page.is_truncated {
                break;
            }
            request.key_marker = page.next_key_marker;
            request.version_id_marker = page.next_version_id_marker;
        }
        let mut report = ResealReport::default();
        for (key, version) in versions {
            match self.reseal_one(bucket, &key, &version) {
                Ok(true) => report.resealed += 1,
                Ok(false) => {}
                Err(ResealFailure::Skip(e)) => {
                    report.skipped.push((self.location(bucket, &key), e))
                }
                Err(ResealFailure::Abort(e)) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Reseals one version's object file; `Ok(false)` if it needs nothing.
    fn reseal_one(&self, bucket: &str, key: &str, version: &str) -> Result<bool, ResealFailure> {
        use ResealFailure::{Abort, Skip};
        let StoredObject { body: mut f, .. } = self
            .store
            .get_object(bucket, key, Some(version))
            .map_err(|e| Skip(e.into()))?;
        // A multipart object's parts are sealed under the root recorded in its manifest, which stays
        // readable; they are not resealed.
        if multipart::is_multipart(&mut f).map_err(Skip)? {
            return Ok(false);
        }
        let (mut header, body_at, body_len) = Header::read(&mut f).map_err(Skip)?;
        if header.bucket != bucket || header.key != key {
            return Err(Skip(S3Error::internal(
                "stored object is corrupt or was tampered with (name)",
            )));
        }
        let mut roots = self
            .roots
            .lock()
            .map_err(|_| Abort(S3Error::internal("lock")))?;
        roots.refresh().map_err(Abort)?;
        let current = roots.current();
        if header.mode != Mode::S3 || header.root_version == Some(current) {
            return Ok(false);
        }
        let old = roots
            .get(header.root_version.unwrap_or(0))
            .ok_or_else(|| Skip(S3Error::internal("unknown root version")))?;
        let seal = header
            .seal
            .clone()
            .ok_or_else(|| Skip(S3Error::internal("no seal")))?;
        let object_key = header
            .unseal(&seal, old.expose_secret())
            .ok_or_else(|| Skip(S3Error::internal("cannot unseal")))?;
        header.root_version = Some(current);
        header.seal = None;
        let new_root = roots
            .get(current)
            .ok_or_else(|| Abort(S3Error::internal("no root")))?;
        header.seal =
            Some(Header::seal(&header, new_root.expose_secret(), &object_key).map_err(Abort)?);
        drop(roots);
        f.seek(SeekFrom::Start(0)).map_err(|e| Abort(io_err(e)))?;
        // The same body bytes, then the resealed header, replacing the object atomically.
        let mut resealed = (&mut f)
            .take(body_at + body_len)
            .chain(io::Cursor::new(header.trailer()));
        self.store
            .replace_object_bytes(bucket, key, version, &mut resealed)
            .map_err(|e| Abort(e.into()))?;
        Ok(true)
    }
}

/// What [`SseEngine::reseal_report`] did.
#[derive(Debug, Default)]
pub struct ResealReport {
    /// Objects moved to the newest root.
    pub resealed: usize,
    /// Object files that could not be read or unsealed, left as they are, with why.
    pub skipped: Vec<(PathBuf, S3Error)>,
}

enum ResealFailure {
    /// This object is unreadable: report it and go on.
    Skip(S3Error),
    /// Writing failed: stop.
    Abort(S3Error),
}

/// Chunks of a [`LayerReader`] opened per batch (1 MiB of plaintext).
const LAYER_BATCH: u64 = 64;

/// The plaintext of one C2SP layer as a seekable reader: chunks are opened on demand, a batch at a time
/// (in parallel), and every byte it yields belongs to a chunk authenticated at its position. The final
/// chunk (which proves the length) is checked when the reader is made.
struct LayerReader<'a> {
    key: &'a chunked::ChunkKey,
    file: &'a mut Box<dyn ReadSeek>,
    chunks_at: u64,
    chunks_len: u64,
    /// The layer's plaintext length.
    total: u64,
    pos: u64,
    window_at: u64,
    window: Vec<u8>,
}

impl<'a> LayerReader<'a> {
    fn new(
        key: &'a chunked::ChunkKey,
        file: &'a mut Box<dyn ReadSeek>,
        chunks_at: u64,
        chunks_len: u64,
    ) -> Result<Self, S3Error> {
        let total = chunked::plaintext_len_of_body(chunks_len)
            .map_err(|_| S3Error::internal("stored object is truncated or extended"))?;
        let mut r = Self {
            key,
            file,
            chunks_at,
            chunks_len,
            total,
            pos: 0,
            window_at: 0,
            window: Vec::new(),
        };
        r.fill(total / CHUNK_SIZE as u64).map_err(io_err)?;
        Ok(r)
    }

    /// Opens the batch of chunks starting at chunk `first` into the window.
    fn fill(&mut self, first: u64) -> io::Result<()> {
        use rayon::prelude::*;
        let (cs, ecs) = (CHUNK_SIZE as u64, ENCRYPTED_CHUNK_SIZE as u64);
        let last = self.total / cs;
        let n = (last - first + 1).min(LAYER_BATCH);
        let from = first * ecs;
        let len = (n * ecs).min(self.chunks_len - from);
        let mut buf = vec![0u8; usize::try_from(len).map_err(|_| io::Error::other("batch"))?];
        self.file.seek(SeekFrom::Start(self.chunks_at + from))?;
        self.file.read_exact(&mut buf)?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "chunk failed authentication");
        buf.par_chunks_mut(ENCRYPTED_CHUNK_SIZE)
            .enumerate()
            .try_for_each(|(i, c)| {
                let split = c.len().checked_sub(TAG_LEN).ok_or_else(bad)?;
                let (ct, tag) = c.split_at_mut(split);
                let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| bad())?;
                self.key
                    .open_chunk(first + i as u64, ct, &tag)
                    .map_err(|_| bad())
            })?;
        self.window.clear();
        for c in buf.chunks(ENCRYPTED_CHUNK_SIZE) {
            self.window.extend_from_slice(&c[..c.len() - TAG_LEN]);
        }
        self.window_at = first * cs;
        Ok(())
    }
}

impl Read for LayerReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.total || out.is_empty() {
            return Ok(0);
        }
        let end = self.window_at + self.window.len() as u64;
        if self.pos < self.window_at || self.pos >= end {
            self.fill(self.pos / CHUNK_SIZE as u64)?;
        }
        let at = usize::try_from(self.pos - self.window_at).map_err(|_| io::Error::other("pos"))?;
        let n = out.len().min(self.window.len() - at);
        out[..n].copy_from_slice(&self.window[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for LayerReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.total.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// How many pieces the copy pipe holds, and their size.
const PIPE_DEPTH: usize = 4;
const PIPE_PIECE: usize = 256 * 1024;

/// An object's stored description ([`SseEngine::stat_object`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStat {
    /// Plaintext size.
    pub size: u64,
    /// S3's ETag (quoted).
    pub etag: String,
    /// When it was written.
    pub last_modified: std::time::SystemTime,
    /// `Content-Type` given at write time.
    pub content_type: Option<String>,
}

/// The body of a GetObject started with [`SseEngine::get_object_start`]: the opened object and the
/// byte range to send.
pub struct ObjectBody<'a> {
    engine: &'a SseEngine,
    opened: Opened,
    start: u64,
    end: u64,
}

impl std::fmt::Debug for ObjectBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBody")
            .field("start", &self.start)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl ObjectBody<'_> {
    /// Writes the range's plaintext to `out`, each chunk only once it authenticated.
    ///
    /// # Errors
    /// 500 when the stored object fails authentication or cannot be read; the I/O error of `out`
    /// (a client that went away) as a 500 too.
    pub fn write_to(mut self, out: &mut dyn Write) -> Result<(), S3Error> {
        self.engine
            .read_body(&mut self.opened, self.start, self.end, out)
    }
}

/// A piece of authenticated plaintext passed from a copy's source to its destination.
enum Piece {
    Data(Vec<u8>),
    /// The source was read to its end and every byte authenticated.
    Done,
}

/// The source end of the copy pipe.
struct PipeWriter(std::sync::mpsc::SyncSender<Piece>);

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(Piece::Data(buf.to_vec())).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the copy destination stopped reading",
            )
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The destination end of the copy pipe: ends cleanly only after [`Piece::Done`]; a source that stops
/// without it (failed authentication, panic) is an error, so the destination is never stored.
struct PipeReader {
    rx: std::sync::mpsc::Receiver<Piece>,
    piece: Vec<u8>,
    at: usize,
    done: bool,
    broken: bool,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.piece.len() {
                let n = buf.len().min(self.piece.len() - self.at);
                buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Piece::Data(d)) => {
                    self.piece = d;
                    self.at = 0;
                }
                Ok(Piece::Done) => self.done = true,
                Err(_) => {
                    self.broken = true;
                    return Err(io::Error::other("the copy source could not be read"));
                }
            }
        }
    }
}

/// The body encryption of one object: one C2SP layer, or two for DSSE-KMS.
enum BodyWriter<W: Write> {
    Single(ChunkedWriter<W>),
    Double(ChunkedWriter<ChunkedWriter<W>>),
}

impl<W: Write> BodyWriter<W> {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Single(w) => w.write_all(data),
            Self::Double(w) => w.write_all(data),
        }
    }

    fn finish(self) -> io::Result<()> {
        let mut inner = match self {
            Self::Single(w) => w.finish()?,
            Self::Double(w) => w.finish()?.finish()?,
        };
        inner.flush()
    }
}

/// Encrypts `body` into `out` as one C2SP body under `k1` (context `ctx1`), or for DSSE two nested
/// ones (`k2` inner); returns the plaintext length and, if `md5`, its MD5.
fn encrypt_body<W: Write + Send>(
    out: &mut W,
    k1: &ObjectKey,
    ctx1: &[u8],
    k2: Option<(&ObjectKey, &[u8])>,
    md5: bool,
    body: &mut dyn Read,
) -> Result<(u64, Option<[u8; 16]>), S3Error> {
    let mut md5 = md5.then(Md5::new);
    let mut buf = vec![0u8; 1 << 20];
    let outer = ChunkedWriter::new(k1.expose_secret(), ctx1, out).map_err(io_err)?;
    let mut writer = match k2 {
        // DSSE: plaintext -> layer 2 (inner) -> layer 1 (outer) -> store.
        Some((k2, ctx2)) => {
            BodyWriter::Double(ChunkedWriter::new(k2.expose_secret(), ctx2, outer).map_err(io_err)?)
        }
        None => BodyWriter::Single(outer),
    };
    let mut n = 0u64;
    loop {
        let got = body.read(&mut buf).map_err(|e| {
            S3Error::with_code(S3ErrorCode::IncompleteBody, e.to_string()).with_source(e)
        })?;
        if got == 0 {
            break;
        }
        let data = &buf[..got];
        match md5.as_mut() {
            // MD5 is serial and slower than the encryption: hash on one core while the other
            // encrypts and writes the same bytes.
            Some(m) => rayon::join(|| m.update(data), || writer.write_all(data)).1,
            None => writer.write_all(data),
        }
        .map_err(io_err)?;
        n += got as u64;
    }
    writer.finish().map_err(io_err)?;
    Ok((n, md5.map(Md5::finalize)))
}

/// Writes plaintext bytes `[start, end)` of one stored C2SP body (`body_len` bytes at `body_at`; two
/// layers for DSSE) whose plaintext is `size` bytes to `out`, every byte authenticated first.
#[allow(clippy::too_many_arguments)]
fn read_layers(
    f: &mut Box<dyn ReadSeek>,
    body_at: u64,
    body_len: u64,
    k1: &ObjectKey,
    ctx1: &[u8],
    k2: Option<(&ObjectKey, &[u8])>,
    size: u64,
    start: u64,
    end: u64,
    out: &mut dyn Write,
) -> Result<(), S3Error> {
    let mut hdr = [0u8; HEADER_LEN];
    f.seek(SeekFrom::Start(body_at)).map_err(io_err)?;
    f.read_exact(&mut hdr)
        .map_err(|_| S3Error::internal("stored object is truncated"))?;
    let outer = chunked::open_header(k1.expose_secret(), ctx1, &hdr).map_err(|_| {
        S3Error::internal("stored object failed authentication (corrupt or tampered)")
    })?;
    let chunks_at = body_at + HEADER_LEN as u64;
    let chunks_len = body_len
        .checked_sub(HEADER_LEN as u64)
        .ok_or_else(|| S3Error::internal("stored object is truncated"))?;
    match k2 {
        None => {
            let total = chunked::plaintext_len_of_body(chunks_len)
                .map_err(|_| S3Error::internal("stored object is truncated or extended"))?;
            if total != size {
                return Err(S3Error::internal(
                    "stored object length does not match its header",
                ));
            }
            chunked::open_range(&outer, f, chunks_at, chunks_len, start, end, out).map_err(io_err)
        }
        Some((k2, ctx2)) => {
            // DSSE: the outer layer's plaintext is the inner layer's ciphertext. It is decrypted on
            // demand, a batch of authenticated chunks at a time, never staged in a file.
            let mut inner = LayerReader::new(&outer, f, chunks_at, chunks_len)?;
            let inner_len = inner.total;
            let mut hdr2 = [0u8; HEADER_LEN];
            inner
                .read_exact(&mut hdr2)
                .map_err(|_| S3Error::internal("stored object is truncated"))?;
            let k = chunked::open_header(k2.expose_secret(), ctx2, &hdr2).map_err(|_| {
                S3Error::internal("stored object failed authentication (corrupt or tampered)")
            })?;
            let len2 = inner_len
                .checked_sub(HEADER_LEN as u64)
                .ok_or_else(|| S3Error::internal("stored object is truncated"))?;
            if chunked::plaintext_len_of_body(len2).ok() != Some(size) {
                return Err(S3Error::internal(
                    "stored object length does not match its header",
                ));
            }
            chunked::open_range(&k, &mut inner, HEADER_LEN as u64, len2, start, end, out)
                .map_err(io_err)
        }
    }
}

/// The salted verifier of an SSE-C key: HMAC-SHA256(customer key, label ‖ salt).
fn verifier(c: &CustomerKeyHeaders, salt: &[u8]) -> [u8; 32] {
    kdf::hmac_sha256(
        c.key.expose_secret(),
        &[b"s3crypt/sse/v1/sse-c-verifier", salt],
    )
}

fn stored_sse(h: &Header) -> StoredSse {
    match h.mode {
        Mode::S3 => StoredSse::S3,
        Mode::Kms => StoredSse::Kms {
            key_arn: h
                .kms
                .as_ref()
                .map(|k| k.key_arn.clone())
                .unwrap_or_default(),
            bucket_key: h.kms.as_ref().is_some_and(|k| k.bucket_key),
        },
        Mode::DsseKms => StoredSse::DsseKms {
            key_arn: h
                .kms
                .as_ref()
                .map(|k| k.key_arn.clone())
                .unwrap_or_default(),
        },
        Mode::Customer => {
            let md5 = B64
                .decode(h.customer_key_md5.as_deref().unwrap_or_default())
                .unwrap_or_default();
            StoredSse::Customer {
                key_md5: md5.try_into().unwrap_or([0; 16]),
            }
        }
    }
}

/// `x-amz-version-id` of a version written or deleted: absent for the `null` version.
fn version_header(info: &ObjectInfo) -> Option<(String, String)> {
    (info.version_id != crate::store::NULL_VERSION)
        .then(|| ("x-amz-version-id".to_owned(), info.version_id.clone()))
}

fn response_headers(h: &Header) -> Vec<(String, String)> {
    let mut hs = vec![
        ("ETag".to_owned(), h.etag.clone()),
        ("Last-Modified".to_owned(), h.last_modified.clone()),
    ];
    if let Some(ct) = &h.content_type {
        hs.push(("Content-Type".into(), ct.clone()));
    }
    for (k, v) in &h.system_metadata {
        hs.push((k.clone(), v.clone()));
    }
    for (k, v) in &h.user_metadata {
        hs.push((format!("x-amz-meta-{k}"), v.clone()));
    }
    hs.extend(headers::response_headers(&stored_sse(h)));
    hs
}
