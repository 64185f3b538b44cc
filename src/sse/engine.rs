//! The SSE engine: what S3 does with an object's encryption on PUT, GET, HEAD and CopyObject, over the
//! local store (`HOME/buckets/<bucket>/`).
//!
//! Order of checks on a write, as S3: parse the SSE headers (exact S3 errors), evaluate the bucket policy
//! (which sees the *request* headers, so `Null` conditions also deny PUTs relying on default encryption),
//! refuse SSE-C on buckets that block it, then apply the request's SSE or the bucket default.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::S3Error;
use super::bucket::{BucketEncryption, BucketPolicy, Decision, DefaultSse, PolicyRequest};
use super::headers::{self, CustomerKeyHeaders, Headers, SseRequest, StoredSse, Transport};
use super::object::{Header, KmsSeal, MAGIC, Mode};
use super::roots::RootKeys;
use crate::keys::{ObjectKey, SecretBytes};
use crate::kms::clock::{Clock, SystemClock, rfc3339};
use crate::kms::{
    CreateAliasRequest, CreateKeyRequest, DecryptRequest, DescribeKeyRequest, EncryptionContext,
    GenerateDataKeyRequest, Kms, KmsError, KmsErrorKind,
};
use crate::primitives::chunked::{self, ChunkedWriter, HEADER_LEN};
use crate::primitives::hash::Md5;
use crate::primitives::{ct_eq, kdf, random_array};
use crate::range::ByteRange;

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

/// Bucket settings stored in `HOME/buckets/<bucket>/bucket.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct BucketFile {
    encryption_xml: String,
    policy: Option<String>,
}

/// Bucket keys by (bucket, KMS key): plaintext, blob, time fetched.
type BucketKeyCache = HashMap<(String, String), (SecretBytes, Vec<u8>, Duration)>;

/// An object opened for reading: its file, header, body location and unsealed key(s).
struct Opened {
    file: File,
    header: Header,
    body_at: u64,
    body_len: u64,
    k1: ObjectKey,
    k2: Option<ObjectKey>,
}

/// The engine over a home directory and a KMS.
pub struct SseEngine {
    home: PathBuf,
    kms: Arc<dyn Kms>,
    roots: Mutex<RootKeys>,
    bucket_keys: Mutex<BucketKeyCache>,
    bucket_key_plain: Mutex<HashMap<Vec<u8>, SecretBytes>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SseEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseEngine")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

fn kms_error(e: KmsError) -> S3Error {
    match e.kind() {
        KmsErrorKind::Throttling => S3Error::new(
            503,
            "SlowDown",
            "Please reduce your request rate for operations involving AWS KMS.",
        ),
        KmsErrorKind::AccessDenied => S3Error::access_denied(e.message().to_owned()),
        KmsErrorKind::NotFound
        | KmsErrorKind::Disabled
        | KmsErrorKind::KmsInvalidState
        | KmsErrorKind::InvalidCiphertext => {
            S3Error::new(400, format!("KMS.{}", e.code()), e.message().to_owned())
        }
        _ => S3Error::internal(format!("KMS: {}", e.code())),
    }
}

fn io_err(e: io::Error) -> S3Error {
    if e.kind() == io::ErrorKind::InvalidData {
        return S3Error::internal("stored object failed authentication (corrupt or tampered)");
    }
    S3Error::internal(e.to_string())
}

fn valid_bucket_name(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.as_bytes()[0].is_ascii_alphanumeric()
}

impl SseEngine {
    /// An engine over `home` using `kms`.
    ///
    /// # Errors
    /// 500 if the root keys cannot be opened.
    pub fn new(home: &Path, kms: Arc<dyn Kms>) -> Result<Self, S3Error> {
        Ok(Self {
            home: home.to_owned(),
            roots: Mutex::new(RootKeys::open(&home.join("sse"))?),
            kms,
            bucket_keys: Mutex::new(HashMap::new()),
            bucket_key_plain: Mutex::new(HashMap::new()),
            clock: Arc::new(SystemClock),
        })
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.home.join("buckets").join(bucket)
    }

    fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.bucket_dir(bucket)
            .join("objects")
            .join(hex::encode(key.as_bytes()))
    }

    /// Creates a bucket with S3's defaults for new buckets (SSE-S3, SSE-C writes blocked) or `encryption`.
    ///
    /// # Errors
    /// 400 `InvalidBucketName`, 409 `BucketAlreadyOwnedByYou`.
    pub fn create_bucket(
        &self,
        bucket: &str,
        encryption: Option<BucketEncryption>,
    ) -> Result<(), S3Error> {
        if !valid_bucket_name(bucket) {
            return Err(S3Error::new(
                400,
                "InvalidBucketName",
                "The specified bucket is not valid.",
            ));
        }
        let dir = self.bucket_dir(bucket);
        if dir.exists() {
            return Err(S3Error::new(
                409,
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
            ));
        }
        crate::fsutil::create_private_dir(&dir.join("objects"))
            .map_err(|e| S3Error::internal(e.to_string()))?;
        let enc = encryption.unwrap_or_else(BucketEncryption::new_bucket_default);
        self.save_bucket(
            bucket,
            &BucketFile {
                encryption_xml: enc.to_xml(),
                policy: None,
            },
        )
    }

    fn save_bucket(&self, bucket: &str, f: &BucketFile) -> Result<(), S3Error> {
        let dir = self.bucket_dir(bucket);
        let text = serde_json::to_vec_pretty(f).map_err(|e| S3Error::internal(e.to_string()))?;
        crate::fsutil::write_atomic(&dir, &dir.join("bucket.json"), &text)
            .map_err(|e| S3Error::internal(e.to_string()))
    }

    fn load_bucket(
        &self,
        bucket: &str,
    ) -> Result<(BucketFile, BucketEncryption, Option<BucketPolicy>), S3Error> {
        let path = self.bucket_dir(bucket).join("bucket.json");
        let text = std::fs::read(&path).map_err(|_| {
            S3Error::new(404, "NoSuchBucket", "The specified bucket does not exist")
        })?;
        let f: BucketFile = serde_json::from_slice(&text)
            .map_err(|_| S3Error::internal("bucket configuration is corrupt"))?;
        let enc = BucketEncryption::parse_xml(&f.encryption_xml)?;
        let policy = f
            .policy
            .as_deref()
            .map(|p| BucketPolicy::parse(p, bucket))
            .transpose()?;
        Ok((f, enc, policy))
    }

    /// PutBucketEncryption.
    ///
    /// # Errors
    /// S3's errors for malformed XML; 404 `NoSuchBucket`.
    pub fn put_bucket_encryption(&self, bucket: &str, xml: &str) -> Result<(), S3Error> {
        let (mut f, current, _) = self.load_bucket(bucket)?;
        // Omitting BlockedEncryptionTypes keeps the bucket's current block, as S3 does.
        let enc = BucketEncryption::parse_xml(xml)?.applied_over(&current);
        f.encryption_xml = enc.to_xml();
        self.save_bucket(bucket, &f)
    }

    /// PutBucketPolicy.
    ///
    /// # Errors
    /// 400 `MalformedPolicy`; 404 `NoSuchBucket`.
    pub fn put_bucket_policy(&self, bucket: &str, json: &str) -> Result<(), S3Error> {
        let (mut f, _, _) = self.load_bucket(bucket)?;
        BucketPolicy::parse(json, bucket)?;
        f.policy = Some(json.to_owned());
        self.save_bucket(bucket, &f)
    }

    fn check_policy(policy: Option<&BucketPolicy>, req: &PolicyRequest<'_>) -> Result<(), S3Error> {
        if let Some(p) = policy
            && let Decision::Deny { .. } = p.evaluate(req)
        {
            return Err(S3Error::access_denied("Access Denied"));
        }
        Ok(())
    }

    /// PutObject: encrypts `body` as the headers and bucket configuration say, and stores it atomically.
    ///
    /// # Errors
    /// S3's errors (header validation, policy, blocked SSE-C, KMS); nothing is stored on error.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        h: &Headers,
        transport: Transport,
        body: &mut dyn Read,
    ) -> Result<Response, S3Error> {
        let (_, enc, policy) = self.load_bucket(bucket)?;
        if key.is_empty() || key.len() > 1024 {
            return Err(S3Error::new(400, "KeyTooLongError", "Your key is too long"));
        }
        let request = headers::parse_write(h, transport)?;
        Self::check_policy(
            policy.as_ref(),
            &PolicyRequest {
                action: "s3:PutObject",
                bucket,
                key,
                principal: "*",
                secure_transport: matches!(transport, Transport::Secure),
                sse_header: h.get("x-amz-server-side-encryption"),
                kms_key_id_header: h.get("x-amz-server-side-encryption-aws-kms-key-id"),
                sse_c_algorithm_header: h.get("x-amz-server-side-encryption-customer-algorithm"),
            },
        )?;
        if matches!(request, SseRequest::Customer(_)) && enc.blocks_sse_c() {
            return Err(S3Error::sse_c_blocked(
                "arn:aws:iam::111122223333:root",
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
        let user_metadata: BTreeMap<String, String> = h
            .iter()
            .filter_map(|(n, v)| {
                n.to_ascii_lowercase()
                    .strip_prefix("x-amz-meta-")
                    .map(|m| (m.to_owned(), v.trim().to_owned()))
            })
            .collect();
        self.store(
            bucket,
            key,
            request,
            bucket_key_default,
            user_metadata,
            h.get("content-type").map(str::to_owned),
            body,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        bucket: &str,
        key: &str,
        request: SseRequest,
        bucket_key_default: bool,
        user_metadata: BTreeMap<String, String>,
        content_type: Option<String>,
        body: &mut dyn Read,
    ) -> Result<Response, S3Error> {
        let rng = |_| S3Error::internal("random number generator failed");
        let object_key = ObjectKey::generate().map_err(rng)?;
        let mut header = Header {
            version: 1,
            mode: Mode::S3,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: 0,
            etag: String::new(),
            content_type,
            user_metadata,
            last_modified: rfc3339(self.clock.now()),
            root_version: None,
            kms: None,
            kms2: None,
            customer_key_md5: None,
            customer_verifier: None,
            customer_salt: None,
            seal: None,
            seal2: None,
        };
        // The source key that seals the object key (and, for DSSE, a second one).
        let mut sources: Vec<zeroize::Zeroizing<Vec<u8>>> = Vec::new();
        let mut second_key: Option<ObjectKey> = None;
        match &request {
            SseRequest::S3 | SseRequest::None => {
                let roots = self.roots.lock().map_err(|_| S3Error::internal("lock"))?;
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
                second_key = Some(ObjectKey::generate().map_err(rng)?);
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
        // Body: stream through C2SP (twice for DSSE) into a temporary file next to the destination.
        let dest = self.object_path(bucket, key);
        let dir = dest.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".put-")
            .tempfile_in(dir)
            .map_err(|e| S3Error::internal(e.to_string()))?;
        tmp.write_all(MAGIC).map_err(io_err)?;
        // Only SSE-S3's ETag is the MD5 of the data; the other modes' ETags are random, so they skip it.
        let mut md5 = (header.mode == Mode::S3).then(Md5::new);
        let mut buf = vec![0u8; 1 << 20];
        let size;
        {
            let file = io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
            let outer =
                ChunkedWriter::new(object_key.expose_secret(), &header.body_context(1), file)
                    .map_err(io_err)?;
            let mut writer = match &second_key {
                // DSSE: plaintext -> layer 2 (inner) -> layer 1 (outer) -> file.
                Some(k2) => BodyWriter::Double(
                    ChunkedWriter::new(k2.expose_secret(), &header.body_context(2), outer)
                        .map_err(io_err)?,
                ),
                None => BodyWriter::Single(outer),
            };
            let mut n = 0u64;
            loop {
                let got = body
                    .read(&mut buf)
                    .map_err(|e| S3Error::new(400, "IncompleteBody", e.to_string()))?;
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
            size = n;
            writer.finish().map_err(io_err)?;
        }
        header.size = size;
        header.etag = match header.mode {
            // S3: the ETag of SSE-S3 objects is the MD5 of the data; of SSE-KMS/SSE-C objects it is not.
            Mode::S3 => {
                let m = md5.ok_or_else(|| S3Error::internal("the ETag's MD5 was not computed"))?;
                format!("\"{}\"", hex::encode(m.finalize()))
            }
            _ => format!("\"{}\"", hex::encode(random_array::<16>().map_err(rng)?)),
        };
        header.seal = Some(header.seal(&sources[0], &object_key)?);
        if let (Some(k2), Some(src2)) = (&second_key, sources.get(1)) {
            header.seal2 = Some(header.seal(src2, k2)?);
        }
        tmp.write_all(&header.trailer()).map_err(io_err)?;
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(&dest)
            .map_err(|e| S3Error::internal(e.error.to_string()))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        let mut resp = vec![("ETag".to_owned(), header.etag.clone())];
        resp.extend(headers::response_headers(&stored_sse(&header)));
        Ok(Response {
            status: 200,
            headers: resp,
        })
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
        if self
            .kms
            .describe_key(&DescribeKeyRequest::new(MANAGED_KEY_ALIAS))
            .is_err()
        {
            let req = CreateKeyRequest {
                description: Some(
                    "Default key for SSE-KMS without a key id (stands in for aws/s3)".into(),
                ),
                ..CreateKeyRequest::default()
            };
            let k = self.kms.create_key(&req).map_err(kms_error)?.key_metadata;
            self.kms
                .create_alias(&CreateAliasRequest::new(MANAGED_KEY_ALIAS, &k.key_id))
                .map_err(kms_error)?;
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
        bucket: &str,
        key: &str,
        h: &Headers,
        transport: Transport,
        copy_source: bool,
    ) -> Result<Opened, S3Error> {
        let (_, _, policy) = self.load_bucket(bucket)?;
        let customer = if copy_source {
            headers::parse_copy_source(h, transport)?
        } else {
            headers::parse_read(h, transport)?
        };
        Self::check_policy(
            policy.as_ref(),
            &PolicyRequest {
                action: "s3:GetObject",
                bucket,
                key,
                principal: "*",
                secure_transport: matches!(transport, Transport::Secure),
                sse_header: None,
                kms_key_id_header: None,
                sse_c_algorithm_header: customer.as_ref().map(|_| "AES256"),
            },
        )?;
        let path = self.object_path(bucket, key);
        let mut f = File::open(&path)
            .map_err(|_| S3Error::new(404, "NoSuchKey", "The specified key does not exist."))?;
        let (header, body_at, body_len) = Header::read(&mut f)?;
        if header.bucket != bucket || header.key != key {
            return Err(S3Error::internal(
                "stored object is corrupt or was tampered with (name)",
            ));
        }
        let corrupt = || S3Error::internal("stored object is corrupt or was tampered with (seal)");
        let seal = header.seal.clone().ok_or_else(corrupt)?;
        let (k1, k2) = match header.mode {
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
                (
                    header
                        .unseal(&seal, c.key.expose_secret())
                        .ok_or_else(corrupt)?,
                    None,
                )
            }
            mode => {
                if customer.is_some() {
                    return Err(S3Error::invalid_request(
                        "The encryption parameters are not applicable to this object.",
                    ));
                }
                match mode {
                    Mode::S3 => {
                        let roots = self.roots.lock().map_err(|_| S3Error::internal("lock"))?;
                        let root = roots
                            .get(header.root_version.unwrap_or(0))
                            .ok_or_else(corrupt)?;
                        (
                            header
                                .unseal(&seal, root.expose_secret())
                                .ok_or_else(corrupt)?,
                            None,
                        )
                    }
                    _ => {
                        let src = self.kms_plain(header.kms.as_ref().ok_or_else(corrupt)?)?;
                        let k1 = header.unseal(&seal, &src).ok_or_else(corrupt)?;
                        let k2 = match (&header.kms2, &header.seal2) {
                            (Some(s2), Some(seal2)) => Some(
                                header
                                    .unseal(seal2, &self.kms_plain(s2)?)
                                    .ok_or_else(corrupt)?,
                            ),
                            _ => None,
                        };
                        (k1, k2)
                    }
                }
            }
        };
        Ok(Opened {
            file: f,
            header,
            body_at,
            body_len,
            k1,
            k2,
        })
    }

    /// GetObject: writes the (range of the) plaintext to `out`. Every byte written is authenticated.
    ///
    /// # Errors
    /// S3's errors: 404, 400/403 for SSE-C, 416 `InvalidRange`, 500 for a corrupt object.
    pub fn get_object(
        &self,
        bucket: &str,
        key: &str,
        h: &Headers,
        transport: Transport,
        range: Option<ByteRange>,
        out: &mut dyn Write,
    ) -> Result<Response, S3Error> {
        let mut o = self.open(bucket, key, h, transport, false)?;
        let size = o.header.size;
        let (start, end) = match range {
            None => (0, size),
            Some(r) => r.resolve(size).map_err(|_| {
                S3Error::new(
                    416,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                )
            })?,
        };
        self.read_body(&mut o, start, end, out)?;
        let mut hs = response_headers(&o.header);
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
        Ok(Response {
            status,
            headers: hs,
        })
    }

    /// Writes plaintext bytes `[start, end)` of an opened object to `out`.
    fn read_body(
        &self,
        o: &mut Opened,
        start: u64,
        end: u64,
        out: &mut dyn Write,
    ) -> Result<(), S3Error> {
        let (f, header, body_at, body_len, k1, k2) = (
            &mut o.file,
            &o.header,
            o.body_at,
            o.body_len,
            &o.k1,
            o.k2.as_ref(),
        );
        let mut hdr = [0u8; HEADER_LEN];
        f.seek(SeekFrom::Start(body_at)).map_err(io_err)?;
        f.read_exact(&mut hdr)
            .map_err(|_| S3Error::internal("stored object is truncated"))?;
        let outer = chunked::open_header(k1.expose_secret(), &header.body_context(1), &hdr)
            .map_err(|_| {
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
                if total != header.size {
                    return Err(S3Error::internal(
                        "stored object length does not match its header",
                    ));
                }
                chunked::open_range(&outer, f, chunks_at, chunks_len, start, end, out)
                    .map_err(io_err)
            }
            Some(k2) => {
                // DSSE: the outer layer's plaintext is the inner layer's ciphertext; unwrap it into an
                // anonymous temporary file (bounded memory), then read the range of the inner layer.
                let mut inner = tempfile::tempfile().map_err(io_err)?;
                let inner_len = chunked::plaintext_len_of_body(chunks_len)
                    .map_err(|_| S3Error::internal("stored object is truncated"))?;
                chunked::open_range(
                    &outer,
                    f,
                    chunks_at,
                    chunks_len,
                    0,
                    inner_len,
                    &mut io::BufWriter::new(&mut inner),
                )
                .map_err(io_err)?;
                let mut hdr2 = [0u8; HEADER_LEN];
                inner.seek(SeekFrom::Start(0)).map_err(io_err)?;
                inner
                    .read_exact(&mut hdr2)
                    .map_err(|_| S3Error::internal("stored object is truncated"))?;
                let k = chunked::open_header(k2.expose_secret(), &header.body_context(2), &hdr2)
                    .map_err(|_| {
                        S3Error::internal(
                            "stored object failed authentication (corrupt or tampered)",
                        )
                    })?;
                let len2 = inner_len - HEADER_LEN as u64;
                if chunked::plaintext_len_of_body(len2).ok() != Some(header.size) {
                    return Err(S3Error::internal(
                        "stored object length does not match its header",
                    ));
                }
                chunked::open_range(
                    &k,
                    &mut BufReader::new(inner),
                    HEADER_LEN as u64,
                    len2,
                    start,
                    end,
                    out,
                )
                .map_err(io_err)
            }
        }
    }

    /// HeadObject: the checks and headers of GET without the body.
    ///
    /// # Errors
    /// As [`SseEngine::get_object`].
    pub fn head_object(
        &self,
        bucket: &str,
        key: &str,
        h: &Headers,
        transport: Transport,
    ) -> Result<Response, S3Error> {
        let header = self.open(bucket, key, h, transport, false)?.header;
        let mut hs = response_headers(&header);
        hs.push(("Content-Length".into(), header.size.to_string()));
        Ok(Response {
            status: 200,
            headers: hs,
        })
    }

    /// CopyObject: decrypts the source (with the copy-source SSE-C headers if it is SSE-C) and stores it
    /// re-encrypted as the destination headers and bucket say (any mode to any mode).
    ///
    /// # Errors
    /// The errors of GET on the source and PUT on the destination.
    pub fn copy_object(
        &self,
        src: (&str, &str),
        dst: (&str, &str),
        h: &Headers,
        transport: Transport,
    ) -> Result<Response, S3Error> {
        let mut plain = tempfile::tempfile().map_err(io_err)?;
        let mut o = self.open(src.0, src.1, h, transport, true)?;
        let size = o.header.size;
        self.read_body(&mut o, 0, size, &mut io::BufWriter::new(&mut plain))?;
        plain.seek(SeekFrom::Start(0)).map_err(io_err)?;
        // The destination sees only the non-copy-source headers.
        let dest_headers = Headers::new(
            h.iter()
                .filter(|(n, _)| !n.to_ascii_lowercase().starts_with("x-amz-copy-source"))
                .map(|(n, v)| (n.to_owned(), v.to_owned())),
        );
        let mut dh = dest_headers;
        if !dh
            .iter()
            .any(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-meta-"))
        {
            dh = Headers::new(
                dh.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).chain(
                    o.header
                        .user_metadata
                        .iter()
                        .map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone())),
                ),
            );
        }
        self.put_object(dst.0, dst.1, &dh, transport, &mut BufReader::new(plain))
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
    /// # Errors
    /// 500 if an object cannot be unsealed or rewritten (the others are unaffected).
    pub fn reseal(&self, bucket: &str) -> Result<usize, S3Error> {
        self.load_bucket(bucket)?;
        let dir = self.bucket_dir(bucket).join("objects");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).map_err(io_err)? {
            let path = entry.map_err(io_err)?.path();
            if path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let mut f = File::open(&path).map_err(io_err)?;
            let (mut header, body_at, body_len) = Header::read(&mut f)?;
            let roots = self.roots.lock().map_err(|_| S3Error::internal("lock"))?;
            let current = roots.current();
            if header.mode != Mode::S3 || header.root_version == Some(current) {
                continue;
            }
            let old = roots
                .get(header.root_version.unwrap_or(0))
                .ok_or_else(|| S3Error::internal("unknown root version"))?;
            let seal = header
                .seal
                .clone()
                .ok_or_else(|| S3Error::internal("no seal"))?;
            let object_key = header
                .unseal(&seal, old.expose_secret())
                .ok_or_else(|| S3Error::internal("cannot unseal"))?;
            header.root_version = Some(current);
            header.seal = None;
            let new_root = roots
                .get(current)
                .ok_or_else(|| S3Error::internal("no root"))?;
            header.seal = Some(Header::seal(
                &header,
                new_root.expose_secret(),
                &object_key,
            )?);
            drop(roots);
            let mut tmp = tempfile::Builder::new()
                .prefix(".reseal-")
                .tempfile_in(&dir)
                .map_err(io_err)?;
            f.seek(SeekFrom::Start(0)).map_err(io_err)?;
            io::copy(&mut (&mut f).take(body_at + body_len), tmp.as_file_mut()).map_err(io_err)?;
            tmp.write_all(&header.trailer()).map_err(io_err)?;
            tmp.as_file().sync_all().map_err(io_err)?;
            tmp.persist(&path)
                .map_err(|e| S3Error::internal(e.error.to_string()))?;
            n += 1;
        }
        Ok(n)
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

fn response_headers(h: &Header) -> Vec<(String, String)> {
    let mut hs = vec![
        ("ETag".to_owned(), h.etag.clone()),
        ("Last-Modified".to_owned(), h.last_modified.clone()),
    ];
    if let Some(ct) = &h.content_type {
        hs.push(("Content-Type".into(), ct.clone()));
    }
    for (k, v) in &h.user_metadata {
        hs.push((format!("x-amz-meta-{k}"), v.clone()));
    }
    hs.extend(headers::response_headers(&stored_sse(h)));
    hs
}
