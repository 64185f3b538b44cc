//! Multipart uploads in the SSE engine: every part encrypted on its own, completion without
//! re-encryption, and reads of completed multipart objects through an authenticated manifest.
//!
//! The format is in `docs/FORMAT.md` ("Multipart objects"); in brief:
//!
//! ```text
//! upload record   store metadata of the upload: the mode, key records and SSE-C verifier fixed at
//!                 CreateMultipartUpload, a random nonce, HMAC'd under a key derived from the SSE-S3 root
//! stored part     PART_MAGIC ‖ C2SP body (two for DSSE) ‖ part trailer JSON ‖ BE32(len) ‖ PART_MAGIC
//! part trailer    bucket, key, upload id, nonce, part number, plaintext size, S3 ETag, the part's own
//!                 random key(s) sealed under the mode's source, HMAC under the root-derived key
//! object          part_1 ‖ … ‖ part_N ‖ manifest JSON ‖ BE32(len) ‖ MANIFEST_MAGIC
//! manifest        the parts (number, offset, length, plaintext size, ETag, SHA-256 of its trailer),
//!                 size, ETag, content type, user metadata, mode and key records, HMAC under a key
//!                 derived from the SSE-S3 root (version recorded), bound to bucket, key and upload id
//! ```
//!
//! The manifest's MAC key is one the server always holds, so dropped, reordered, duplicated or spliced
//! parts are detected for every mode, SSE-C included (its customer key is not sent on Complete).

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::{
    BUCKET_KEY_TTL, Opened, OpenedBody, PIPE_DEPTH, PIPE_PIECE, Piece, PipeReader, PipeWriter,
    Response, S3Error, Sources, SseEngine, check_header_section, encrypt_body, io_err,
    principal_arn, read_layers, response_headers, stored_sse, transport_of, verifier,
};
use crate::aws::clock::rfc3339;
use crate::iam::RequestContext;
use crate::keys::{ObjectKey, SecretBytes};
use crate::kms::DecryptRequest;
use crate::primitives::chunked::HEADER_LEN;
use crate::primitives::hash::{Md5, sha256};
use crate::primitives::{Aes256Gcm, ct_eq, kdf, random_array};
use crate::range::ByteRange;
use crate::s3::S3ErrorCode;
use crate::sse::bucket::PolicyRequest;
use crate::sse::headers::{self, CustomerKeyHeaders, Headers, Transport};
use crate::sse::object::{Header, KmsSeal, Mode, Seal};
use crate::store::ReadSeek;

/// The first and last 8 bytes of a stored part.
pub const PART_MAGIC: &[u8; 8] = b"S3CRPRT1";
/// The last 8 bytes of a completed multipart object.
pub const MANIFEST_MAGIC: &[u8; 8] = b"S3CRMPU1";
/// The most parts an upload may have, and the highest part number.
pub const MAX_PARTS: u32 = 10_000;
/// S3's minimum size of every part but the last: 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// How long a multipart upload's decrypted KMS data key is reused by UploadPart.
pub const UPLOAD_KEY_TTL: std::time::Duration = BUCKET_KEY_TTL;
/// The largest part trailer a reader accepts.
const MAX_PART_TRAILER: u32 = 64 * 1024;
/// The largest manifest a reader accepts (10,000 parts fit with room to spare).
const MAX_MANIFEST: u32 = 16 << 20;

const UPLOAD_META: &str = "s3crypt-upload";
const UPLOAD_META_MAC: &str = "s3crypt-upload-mac";

const LABEL_UPLOAD_MAC: &[u8] = b"s3crypt/sse/v1/mpu-upload-mac";
const LABEL_PART_MAC: &[u8] = b"s3crypt/sse/v1/mpu-part-mac";
const LABEL_MANIFEST_MAC: &[u8] = b"s3crypt/sse/v1/mpu-manifest-mac";
const LABEL_PART_KEK: &[u8] = b"s3crypt/sse/v1/mpu-part-kek";
const LABEL_PART_SEAL: &[u8] = b"s3crypt/sse/v1/mpu-part-seal";
const LABEL_PART_BODY: &[u8] = b"s3crypt/sse/v1/mpu-part-body";

const PART_NUMBER_MESSAGE: &str = "Part number must be an integer between 1 and 10000, inclusive";

/// A part of a multipart upload as ListParts reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// 1..=10,000.
    pub part_number: u32,
    /// The plaintext size.
    pub size: u64,
    /// The part's S3 ETag (quoted): the MD5 of the plaintext for SSE-S3, random-looking otherwise.
    pub etag: String,
    /// RFC 3339 time of the UploadPart.
    pub last_modified: String,
}

/// A multipart upload in progress, as ListMultipartUploads reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadInfo {
    /// The object key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When CreateMultipartUpload ran.
    pub initiated: SystemTime,
}

/// What CreateMultipartUpload fixed, kept as the upload's store metadata (MAC'd).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadRecord {
    version: u32,
    /// Random, base64; bound into every part and the manifest.
    nonce: String,
    /// The SSE-S3 root version of the record's and the parts' MAC keys.
    mac_root: u32,
    /// Mode, bucket, key, content type, user metadata, SSE-S3 root version, KMS records, SSE-C
    /// verifier; no size, ETag or seals.
    header: Header,
}

/// The trailer of one stored part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartTrailer {
    version: u32,
    mode: Mode,
    bucket: String,
    key: String,
    upload_id: String,
    nonce: String,
    part_number: u32,
    /// Plaintext size.
    size: u64,
    /// The part's S3 ETag (quoted).
    etag: String,
    last_modified: String,
    mac_root: u32,
    /// The part key sealed under the mode's source.
    seal: Option<Seal>,
    /// DSSE-KMS: the inner layer's part key sealed under the second data key.
    seal2: Option<Seal>,
    /// HMAC-SHA256 of the trailer without `mac`, hex.
    mac: Option<String>,
}

/// One part in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestPart {
    number: u32,
    /// Offset of the stored part in the object's stored bytes.
    offset: u64,
    /// Length of the stored part (magic, body, trailer).
    length: u64,
    /// Plaintext size.
    size: u64,
    etag: String,
    /// SHA-256 of the part's trailer bytes (JSON ‖ BE32 ‖ PART_MAGIC), hex.
    trailer_sha256: String,
}

/// The final trailer of a completed multipart object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Manifest {
    version: u32,
    bucket: String,
    key: String,
    upload_id: String,
    nonce: String,
    mac_root: u32,
    /// The object's header as GET reports it: mode, size, ETag `"…-N"`, content type, user metadata,
    /// time, SSE-S3 root of the parts' seals, KMS records, SSE-C verifier; no seals.
    header: Header,
    parts: Vec<ManifestPart>,
    /// HMAC-SHA256 of the manifest without `mac`, hex.
    mac: Option<String>,
}

/// A completed multipart object opened for reading.
pub(super) struct OpenedManifest {
    manifest: Manifest,
    sources: Sources,
}

impl Manifest {
    /// The opened object: this verified manifest and the key sources of its parts.
    pub(super) fn with_sources(self, sources: Sources) -> OpenedManifest {
        OpenedManifest {
            manifest: self,
            sources,
        }
    }
}

fn corrupt(what: &str) -> S3Error {
    S3Error::internal(format!(
        "stored multipart object or upload is corrupt or was tampered with ({what})"
    ))
}

fn rng(e: crate::primitives::RngError) -> S3Error {
    S3Error::internal_because("random number generator failed", e)
}

/// `label ‖ (BE32(len) ‖ field)*`: an unambiguous binding of fields.
fn bind(label: &[u8], fields: &[&[u8]]) -> Vec<u8> {
    let mut out = label.to_vec();
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn mode_label(m: Mode) -> &'static [u8] {
    match m {
        Mode::S3 => b"SSE-S3",
        Mode::Kms => b"SSE-KMS",
        Mode::DsseKms => b"DSSE-KMS",
        Mode::Customer => b"SSE-C",
    }
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, S3Error> {
    serde_json::to_vec(v).map_err(|e| S3Error::internal_because("cannot serialise", e))
}

/// `json ‖ BE32(len) ‖ magic`.
fn framed(json: &[u8], magic: &[u8; 8]) -> Vec<u8> {
    let mut t = json.to_vec();
    t.extend_from_slice(&(json.len() as u32).to_be_bytes());
    t.extend_from_slice(magic);
    t
}

/// Reads the JSON framed at the end of `[start, end)` of `f` (`json ‖ BE32(len) ‖ magic`); returns it
/// and its offset.
fn read_framed<R: Read + Seek + ?Sized>(
    f: &mut R,
    start: u64,
    end: u64,
    magic: &[u8; 8],
    max: u32,
) -> Result<(Vec<u8>, u64), S3Error> {
    if end < start.saturating_add(12) {
        return Err(corrupt("too short"));
    }
    let mut tail = [0u8; 12];
    f.seek(SeekFrom::Start(end - 12))
        .map_err(|_| corrupt("unreadable"))?;
    f.read_exact(&mut tail).map_err(|_| corrupt("unreadable"))?;
    if &tail[4..] != magic {
        return Err(corrupt("bad magic"));
    }
    let len = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if len > max || start + 12 + u64::from(len) > end {
        return Err(corrupt("bad trailer length"));
    }
    let at = end - 12 - u64::from(len);
    let mut buf = vec![0u8; len as usize];
    f.seek(SeekFrom::Start(at))
        .map_err(|_| corrupt("unreadable"))?;
    f.read_exact(&mut buf).map_err(|_| corrupt("unreadable"))?;
    Ok((buf, at))
}

/// Whether the stored bytes are a completed multipart object (they end with [`MANIFEST_MAGIC`]).
pub(super) fn is_multipart(f: &mut Box<dyn ReadSeek>) -> Result<bool, S3Error> {
    let len = f.seek(SeekFrom::End(0)).map_err(io_err)?;
    if len < 8 {
        return Ok(false);
    }
    let mut tail = [0u8; 8];
    f.seek(SeekFrom::End(-8)).map_err(io_err)?;
    f.read_exact(&mut tail).map_err(io_err)?;
    Ok(&tail == MANIFEST_MAGIC)
}

/// Seals `k` under a KEK = HKDF-SHA256(salt, source, info): `IV ‖ AES-256-GCM(KEK, IV, aad, k)`.
fn seal_key(source: &[u8], info: &[u8], aad: &[u8], k: &ObjectKey) -> Result<Seal, S3Error> {
    let salt = random_array::<32>().map_err(rng)?;
    let iv = random_array::<12>().map_err(rng)?;
    let mut kek = zeroize::Zeroizing::new([0u8; 32]);
    kdf::hkdf_sha256(Some(&salt), source, info, &mut *kek).map_err(|_| S3Error::internal("kdf"))?;
    let sealed = Aes256Gcm::new(&kek)
        .seal(&iv, aad, k.expose_secret())
        .map_err(|_| S3Error::internal("sealing failed"))?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&sealed);
    Ok(Seal {
        salt: B64.encode(salt),
        sealed: B64.encode(out),
    })
}

fn unseal_key(source: &[u8], info: &[u8], aad: &[u8], seal: &Seal) -> Option<ObjectKey> {
    let salt = B64.decode(&seal.salt).ok()?;
    let raw = B64.decode(&seal.sealed).ok()?;
    if raw.len() != 12 + 32 + 16 {
        return None;
    }
    let (iv, ct) = raw.split_at(12);
    let mut kek = zeroize::Zeroizing::new([0u8; 32]);
    kdf::hkdf_sha256(Some(&salt), source, info, &mut *kek).ok()?;
    let key = zeroize::Zeroizing::new(
        Aes256Gcm::new(&kek)
            .open(iv.try_into().ok()?, aad, ct)
            .ok()?,
    );
    ObjectKey::try_from_slice(&key).ok()
}

impl PartTrailer {
    fn fields(&self, layer: u8) -> Vec<u8> {
        bind(
            b"",
            &[
                mode_label(self.mode),
                self.bucket.as_bytes(),
                self.key.as_bytes(),
                self.upload_id.as_bytes(),
                self.nonce.as_bytes(),
                &self.part_number.to_be_bytes(),
                &[layer],
            ],
        )
    }

    /// The C2SP context of the part's body (layer 1, or 2 for DSSE's inner layer).
    fn body_context(&self, layer: u8) -> Vec<u8> {
        let mut c = LABEL_PART_BODY.to_vec();
        c.extend_from_slice(&self.fields(layer));
        c
    }

    fn kek_info(&self, layer: u8) -> Vec<u8> {
        let mut c = LABEL_PART_KEK.to_vec();
        c.extend_from_slice(&self.fields(layer));
        c
    }

    /// What the seals authenticate: the trailer without seals and MAC.
    fn seal_aad(&self) -> Result<Vec<u8>, S3Error> {
        let mut t = self.clone();
        t.seal = None;
        t.seal2 = None;
        t.mac = None;
        let mut a = LABEL_PART_SEAL.to_vec();
        a.extend_from_slice(&json(&t)?);
        Ok(a)
    }

    fn mac_input(&self) -> Result<Vec<u8>, S3Error> {
        let mut t = self.clone();
        t.mac = None;
        let mut a = LABEL_PART_MAC.to_vec();
        a.extend_from_slice(&json(&t)?);
        Ok(a)
    }
}

impl Manifest {
    fn mac_input(&self) -> Result<Vec<u8>, S3Error> {
        let mut m = self.clone();
        m.mac = None;
        let mut a = LABEL_MANIFEST_MAC.to_vec();
        a.extend_from_slice(&json(&m)?);
        Ok(a)
    }
}

fn check_part_number(n: u32) -> Result<(), S3Error> {
    if (1..=MAX_PARTS).contains(&n) {
        Ok(())
    } else {
        Err(S3Error::invalid_argument(PART_NUMBER_MESSAGE)
            .with_extra("ArgumentName", "partNumber")
            .with_extra("ArgumentValue", n.to_string()))
    }
}

fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_lowercase()
}

fn verify_mac(key: &[u8; 32], input: &[u8], mac: Option<&str>) -> bool {
    let Some(mac) = mac.and_then(|m| hex::decode(m).ok()) else {
        return false;
    };
    ct_eq(&kdf::hmac_sha256(key, &[input]), &mac)
}

impl SseEngine {
    /// The MAC key for `label` bound to bucket, key and upload id, derived from SSE-S3 root `version`.
    fn mac_key(
        &self,
        version: u32,
        label: &[u8],
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<zeroize::Zeroizing<[u8; 32]>, S3Error> {
        let mut roots = self.roots.lock().map_err(|_| S3Error::internal("lock"))?;
        let root = roots
            .get_fresh(version)?
            .ok_or_else(|| corrupt("unknown root key version"))?;
        let mut k = zeroize::Zeroizing::new([0u8; 32]);
        kdf::hkdf_sha256(
            None,
            root.expose_secret(),
            &bind(
                label,
                &[bucket.as_bytes(), key.as_bytes(), upload_id.as_bytes()],
            ),
            &mut *k,
        )
        .map_err(|_| S3Error::internal("kdf"))?;
        Ok(k)
    }

    fn current_root(&self) -> Result<u32, S3Error> {
        let mut roots = self.roots.lock().map_err(|_| S3Error::internal("lock"))?;
        // The newest version, including one another process added since.
        roots.refresh()?;
        Ok(roots.current())
    }

    /// The bucket policy's verdict on `action` for `key` (empty: the bucket).
    fn allow(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        action: &str,
        h: Option<&Headers>,
    ) -> Result<(), S3Error> {
        let (_, policy) = self.load_bucket(bucket)?;
        self.check_policy(
            ctx,
            policy.as_ref(),
            &PolicyRequest {
                action,
                bucket,
                key,
                principal: principal_arn(ctx),
                secure_transport: ctx.secure_transport,
                sse_header: h.and_then(|h| h.get("x-amz-server-side-encryption")),
                kms_key_id_header: h
                    .and_then(|h| h.get("x-amz-server-side-encryption-aws-kms-key-id")),
                sse_c_algorithm_header: h
                    .and_then(|h| h.get("x-amz-server-side-encryption-customer-algorithm")),
            },
        )
    }

    /// CreateMultipartUpload: fixes the mode, KMS key and data key (GenerateDataKey once), bucket-key
    /// choice and SSE-C key (its salted verifier) from the headers or the bucket default, with the
    /// checks of PutObject (header sizes, SSE headers, policy `s3:PutObject`, SSE-C block, KMS over
    /// plain HTTP). Returns the upload id and the SSE response headers.
    ///
    /// # Errors
    /// PutObject's errors; 404 `NoSuchBucket`; 500 on a store failure.
    pub fn create_multipart_upload(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        h: &Headers,
    ) -> Result<(String, Response), S3Error> {
        check_header_section(h)?;
        let plan = self.write_plan(ctx, bucket, key, h)?;
        let mut header = self.new_header(bucket, key, plan.content_type, plan.user_metadata);
        header.system_metadata = plan.system_metadata;
        let sources = self.key_sources(
            bucket,
            key,
            &plan.request,
            plan.bucket_key_default,
            &mut header,
        )?;
        header.check_fits()?;
        // UploadPart reuses the data key(s) GenerateDataKey just returned, until the cache's TTL.
        if matches!(header.mode, Mode::Kms | Mode::DsseKms) {
            let now = self.clock.now();
            let mut cache = self
                .upload_keys
                .lock()
                .map_err(|_| S3Error::internal("lock"))?;
            for (seal, src) in [&header.kms, &header.kms2].into_iter().zip(&sources) {
                if let Some(blob) = seal.as_ref().and_then(|s| B64.decode(&s.blob).ok()) {
                    cache.insert(blob, (SecretBytes::new(src.to_vec()), now));
                }
            }
        }
        drop(sources);
        let record = UploadRecord {
            version: 1,
            nonce: B64.encode(random_array::<16>().map_err(rng)?),
            mac_root: self.current_root()?,
            header,
        };
        let text = json(&record)?;
        let mac_key = self.mac_key(record.mac_root, LABEL_UPLOAD_MAC, bucket, key, "")?;
        let mac = kdf::hmac_sha256(&*mac_key, &[LABEL_UPLOAD_MAC, &text]);
        let metadata = [
            (
                UPLOAD_META.to_owned(),
                String::from_utf8(text).map_err(|e| S3Error::internal_because("record", e))?,
            ),
            (UPLOAD_META_MAC.to_owned(), hex::encode(mac)),
        ]
        .into();
        let id = self
            .store
            .create_multipart_upload(bucket, key, &metadata, &plan.lock)?;
        Ok((
            id,
            Response {
                status: 200,
                headers: headers::response_headers(&stored_sse(&record.header)),
            },
        ))
    }

    /// The upload's record, its MAC verified.
    fn load_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord, S3Error> {
        let up = self.store.multipart_upload(bucket, key, upload_id)?;
        let text = up
            .metadata
            .get(UPLOAD_META)
            .ok_or_else(|| corrupt("no upload record"))?;
        let record: UploadRecord =
            serde_json::from_str(text).map_err(|_| corrupt("upload record"))?;
        let mac_key = self.mac_key(record.mac_root, LABEL_UPLOAD_MAC, bucket, key, "")?;
        let ok = up
            .metadata
            .get(UPLOAD_META_MAC)
            .and_then(|m| hex::decode(m).ok())
            .is_some_and(|m| {
                ct_eq(
                    &kdf::hmac_sha256(&*mac_key, &[LABEL_UPLOAD_MAC, text.as_bytes()]),
                    &m,
                )
            });
        if !ok || record.version != 1 || record.header.bucket != bucket || record.header.key != key
        {
            return Err(corrupt("upload record"));
        }
        Ok(record)
    }

    /// A KMS data key of an upload: from the cache if decrypted less than [`UPLOAD_KEY_TTL`] ago, else
    /// through KMS Decrypt (as S3 needs `kms:Decrypt` for UploadPart).
    fn upload_kms_plain(&self, seal: &KmsSeal) -> Result<zeroize::Zeroizing<Vec<u8>>, S3Error> {
        let blob = B64
            .decode(&seal.blob)
            .map_err(|_| corrupt("upload record"))?;
        let now = self.clock.now();
        {
            let mut cache = self
                .upload_keys
                .lock()
                .map_err(|_| S3Error::internal("lock"))?;
            cache.retain(|_, (_, t)| now.saturating_sub(*t) < UPLOAD_KEY_TTL);
            if let Some((p, _)) = cache.get(&blob) {
                return Ok(zeroize::Zeroizing::new(p.expose_secret().to_vec()));
            }
        }
        let r = self
            .kms
            .decrypt(&DecryptRequest::new(blob.clone(), seal.context.clone()))
            .map_err(super::kms_error)?;
        let plain = zeroize::Zeroizing::new(r.plaintext.expose_secret().to_vec());
        self.upload_keys
            .lock()
            .map_err(|_| S3Error::internal("lock"))?
            .insert(blob, (r.plaintext, now));
        Ok(plain)
    }

    /// The checks of an UploadPart (or UploadPartCopy's destination) and the upload's key source(s):
    /// policy `s3:PutObject`, only SSE-C headers allowed, the SSE-C key the one CreateMultipartUpload
    /// was given, KMS uploads only over TLS.
    fn part_sources(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        record: &UploadRecord,
        h: &Headers,
    ) -> Result<Sources, S3Error> {
        self.allow(ctx, bucket, key, "s3:PutObject", Some(h))?;
        let transport = transport_of(ctx);
        let given: Option<CustomerKeyHeaders> = headers::parse_read(h, transport)?;
        let hdr = &record.header;
        let initiated: Option<[u8; 16]> = match hdr.mode {
            Mode::Customer => Some(
                B64.decode(hdr.customer_key_md5.as_deref().unwrap_or_default())
                    .ok()
                    .and_then(|m| m.try_into().ok())
                    .ok_or_else(|| corrupt("upload record"))?,
            ),
            _ => None,
        };
        headers::check_upload_part(initiated.as_ref(), given.as_ref())?;
        match hdr.mode {
            Mode::Customer => {
                let c = given.ok_or_else(|| corrupt("upload record"))?;
                let salt = B64
                    .decode(hdr.customer_salt.as_deref().unwrap_or_default())
                    .map_err(|_| corrupt("upload record"))?;
                let stored = B64
                    .decode(hdr.customer_verifier.as_deref().unwrap_or_default())
                    .map_err(|_| corrupt("upload record"))?;
                if !ct_eq(&verifier(&c, &salt), &stored) {
                    return Err(S3Error::invalid_request(
                        "The provided encryption parameters did not match the ones used originally.",
                    ));
                }
                Ok(vec![zeroize::Zeroizing::new(
                    c.key.expose_secret().to_vec(),
                )])
            }
            Mode::S3 => {
                let mut roots = self.roots.lock().map_err(|_| S3Error::internal("lock"))?;
                let root = roots
                    .get_fresh(hdr.root_version.unwrap_or(0))?
                    .ok_or_else(|| corrupt("unknown root key version"))?;
                Ok(vec![zeroize::Zeroizing::new(root.expose_secret().to_vec())])
            }
            Mode::Kms | Mode::DsseKms => {
                if transport == Transport::Insecure {
                    return Err(S3Error::kms_requires_sigv4());
                }
                let mut out =
                    vec![self.upload_kms_plain(
                        hdr.kms.as_ref().ok_or_else(|| corrupt("no KMS key"))?,
                    )?];
                if let Some(s2) = &hdr.kms2 {
                    out.push(self.upload_kms_plain(s2)?);
                }
                Ok(out)
            }
        }
    }

    /// Encrypts `body` as part `part_number` under fresh part key(s) and stores it with its trailer.
    fn write_part(
        &self,
        record: &UploadRecord,
        upload_id: &str,
        part_number: u32,
        sources: &Sources,
        body: &mut dyn Read,
    ) -> Result<PartTrailer, S3Error> {
        let hdr = &record.header;
        let (bucket, key) = (hdr.bucket.as_str(), hdr.key.as_str());
        let k1 = ObjectKey::generate().map_err(rng)?;
        let k2 = if sources.len() > 1 {
            Some(ObjectKey::generate().map_err(rng)?)
        } else {
            None
        };
        let mut t = PartTrailer {
            version: 1,
            mode: hdr.mode,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            nonce: record.nonce.clone(),
            part_number,
            size: 0,
            etag: String::new(),
            last_modified: rfc3339(self.clock.now()),
            mac_root: record.mac_root,
            seal: None,
            seal2: None,
            mac: None,
        };
        let mac_key = self.mac_key(record.mac_root, LABEL_PART_MAC, bucket, key, upload_id)?;
        let store = &self.store;
        let trailer = &mut t;
        self.piped(
            |r| store.upload_part(bucket, key, upload_id, part_number, r),
            |w| {
                w.write_all(PART_MAGIC).map_err(io_err)?;
                let ctx2 = trailer.body_context(2);
                let (size, md5) = encrypt_body(
                    &mut *w,
                    &k1,
                    &trailer.body_context(1),
                    k2.as_ref().map(|k| (k, ctx2.as_slice())),
                    trailer.mode == Mode::S3,
                    body,
                )?;
                trailer.size = size;
                // S3: a part's ETag is the MD5 of its data for SSE-S3 only.
                trailer.etag = match md5 {
                    Some(m) => format!("\"{}\"", hex::encode(m)),
                    None => format!("\"{}\"", hex::encode(random_array::<16>().map_err(rng)?)),
                };
                let aad = trailer.seal_aad()?;
                let first = sources
                    .first()
                    .ok_or_else(|| S3Error::internal("no key source"))?;
                trailer.seal = Some(seal_key(first, &trailer.kek_info(1), &aad, &k1)?);
                if let (Some(k2), Some(src2)) = (&k2, sources.get(1)) {
                    trailer.seal2 = Some(seal_key(src2, &trailer.kek_info(2), &aad, k2)?);
                }
                let mac = kdf::hmac_sha256(&*mac_key, &[&trailer.mac_input()?]);
                trailer.mac = Some(hex::encode(mac));
                w.write_all(&framed(&json(&*trailer)?, PART_MAGIC))
                    .map_err(io_err)
            },
        )?;
        Ok(t)
    }

    /// UploadPart: encrypts `body` under the part's own random key(s), sealed under the upload's source
    /// (SSE-S3 root, KMS data key(s), or the SSE-C key, which must be the one CreateMultipartUpload was
    /// given), and stores it with its sealed trailer. Returns the part's ETag and the SSE headers.
    ///
    /// # Errors
    /// 400 `InvalidArgument` for a part number outside 1..=10,000; 404 `NoSuchUpload`; 400
    /// `InvalidRequest` for a missing, extra or different SSE-C key; the SSE-C header errors; 403 for
    /// the policy; KMS errors; 500 for a corrupt upload record.
    #[allow(clippy::too_many_arguments)]
    pub fn upload_part(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        h: &Headers,
        body: &mut dyn Read,
    ) -> Result<Response, S3Error> {
        check_header_section(h)?;
        check_part_number(part_number)?;
        let record = self.load_upload(bucket, key, upload_id)?;
        let sources = self.part_sources(ctx, bucket, key, &record, h)?;
        let t = self.write_part(&record, upload_id, part_number, &sources, body)?;
        let mut hs = vec![("ETag".to_owned(), t.etag)];
        hs.extend(headers::response_headers(&stored_sse(&record.header)));
        Ok(Response {
            status: 200,
            headers: hs,
        })
    }

    /// UploadPartCopy: the (range of the) source object, decrypted chunk by chunk (each authenticated
    /// before it is passed on, never staged) and encrypted as part `part_number` of the upload. The
    /// copy-source SSE-C headers open the source; the target SSE-C headers must match the upload.
    /// Returns the part's ETag and Last-Modified and the SSE headers.
    ///
    /// # Errors
    /// UploadPart's errors; GetObject's errors on the source; 416 `InvalidRange`.
    #[allow(clippy::too_many_arguments)]
    pub fn upload_part_copy(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        src: (&str, &str, Option<&str>),
        range: Option<ByteRange>,
        h: &Headers,
    ) -> Result<Response, S3Error> {
        check_header_section(h)?;
        check_part_number(part_number)?;
        let record = self.load_upload(bucket, key, upload_id)?;
        let sources = self.part_sources(ctx, bucket, key, &record, h)?;
        let mut o = self.open(ctx, src.0, src.1, src.2, h, true)?;
        let size = o.header.size;
        let (start, end) = match range {
            None => (0, size),
            Some(r) => r.resolve(size).map_err(|_| S3Error::invalid_range())?,
        };
        let t = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Piece>(PIPE_DEPTH);
            let source = s.spawn(move || {
                let done = tx.clone();
                let mut w = io::BufWriter::with_capacity(PIPE_PIECE, PipeWriter(tx));
                let r = self.read_body(&mut o, start, end, &mut w);
                let r = r.and_then(|()| w.flush().map_err(io_err));
                drop(w);
                if r.is_ok() {
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
            let written = self.write_part(&record, upload_id, part_number, &sources, &mut reader);
            let source_failed = reader.broken;
            drop(reader);
            let read = source
                .join()
                .unwrap_or_else(|_| Err(S3Error::internal("the copy source reader failed")));
            match (written, read) {
                (Err(_), Err(e)) if source_failed => Err(e),
                (w, _) => w,
            }
        })?;
        let mut hs = vec![
            ("ETag".to_owned(), t.etag),
            ("Last-Modified".to_owned(), t.last_modified),
        ];
        hs.extend(headers::response_headers(&stored_sse(&record.header)));
        Ok(Response {
            status: 200,
            headers: hs,
        })
    }

    /// Reads and checks the trailer of an uploaded part (MAC, upload binding); returns it with its
    /// bytes and the stored part's length.
    fn uploaded_part_trailer(
        &self,
        record: &UploadRecord,
        upload_id: &str,
        part_number: u32,
    ) -> Result<(PartTrailer, Vec<u8>, u64), S3Error> {
        let hdr = &record.header;
        let mut f = self
            .store
            .open_part(&hdr.bucket, &hdr.key, upload_id, part_number)?;
        let len = f.seek(SeekFrom::End(0)).map_err(io_err)?;
        let (text, _) = read_framed(&mut f, 0, len, PART_MAGIC, MAX_PART_TRAILER)?;
        let t: PartTrailer = serde_json::from_slice(&text).map_err(|_| corrupt("part trailer"))?;
        let mac_key = self.mac_key(t.mac_root, LABEL_PART_MAC, &hdr.bucket, &hdr.key, upload_id)?;
        if !verify_mac(&mac_key, &t.mac_input()?, t.mac.as_deref())
            || t.version != 1
            || t.mode != hdr.mode
            || t.bucket != hdr.bucket
            || t.key != hdr.key
            || t.upload_id != upload_id
            || t.nonce != record.nonce
            || t.part_number != part_number
        {
            return Err(corrupt(&format!("part {part_number} trailer")));
        }
        Ok((t, framed(&text, PART_MAGIC), len))
    }

    /// CompleteMultipartUpload: checks the client's list against the parts' trailers (no part body is
    /// read or re-encrypted) and has the store join the parts followed by the object's manifest,
    /// authenticated under a key derived from the current SSE-S3 root. Returns the ETag `"<md5>-N"`
    /// (the MD5 of the parts' binary ETags) and the SSE headers.
    ///
    /// # Errors
    /// 400 `MalformedXML` for an empty list; 400 `InvalidPartOrder` if it is not ascending; 400
    /// `InvalidPart` for an unknown part or an ETag that differs; 400 `EntityTooSmall` for a part but
    /// the last below 5 MiB; 404 `NoSuchUpload`; 500 for a corrupt part trailer or upload record.
    pub fn complete_multipart_upload(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        h: &Headers,
    ) -> Result<Response, S3Error> {
        check_header_section(h)?;
        let record = self.load_upload(bucket, key, upload_id)?;
        self.allow(ctx, bucket, key, "s3:PutObject", None)?;
        if parts.is_empty() {
            return Err(S3Error::malformed_xml());
        }
        if parts.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(
                S3Error::from_code(S3ErrorCode::InvalidPartOrder).with_extra("UploadId", upload_id)
            );
        }
        let invalid_part = |n: u32, etag: &str| {
            S3Error::from_code(S3ErrorCode::InvalidPart)
                .with_extra("UploadId", upload_id)
                .with_extra("PartNumber", n.to_string())
                .with_extra("ETag", etag)
        };
        let stored: HashMap<u32, crate::store::PartInfo> = self
            .store
            .list_parts(bucket, key, upload_id)?
            .into_iter()
            .map(|p| (p.part_number, p))
            .collect();
        let mut md5s = Md5::new();
        let mut manifest_parts = Vec::with_capacity(parts.len());
        let mut store_parts = Vec::with_capacity(parts.len());
        let (mut offset, mut size) = (0u64, 0u64);
        for (i, (n, etag)) in parts.iter().enumerate() {
            if !(1..=MAX_PARTS).contains(n) {
                return Err(invalid_part(*n, etag));
            }
            let Some(sp) = stored.get(n) else {
                return Err(invalid_part(*n, etag));
            };
            let (t, trailer, len) = self.uploaded_part_trailer(&record, upload_id, *n)?;
            if unquote(&t.etag) != unquote(etag) || len != sp.size {
                return Err(invalid_part(*n, etag));
            }
            if i + 1 < parts.len() && t.size < MIN_PART_SIZE {
                return Err(S3Error::from_code(S3ErrorCode::EntityTooSmall)
                    .with_extra("ProposedSize", t.size.to_string())
                    .with_extra("MinSizeAllowed", MIN_PART_SIZE.to_string())
                    .with_extra("PartNumber", n.to_string())
                    .with_extra("ETag", etag));
            }
            let raw = hex::decode(unquote(&t.etag)).map_err(|_| corrupt("part ETag"))?;
            md5s.update(&raw);
            manifest_parts.push(ManifestPart {
                number: *n,
                offset,
                length: len,
                size: t.size,
                etag: t.etag.clone(),
                trailer_sha256: hex::encode(sha256(&trailer)),
            });
            store_parts.push((*n, sp.etag.clone()));
            offset += len;
            size += t.size;
        }
        let mut header = record.header.clone();
        header.size = size;
        header.etag = format!("\"{}-{}\"", hex::encode(md5s.finalize()), parts.len());
        header.last_modified = rfc3339(self.clock.now());
        let mut manifest = Manifest {
            version: 1,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            nonce: record.nonce.clone(),
            mac_root: self.current_root()?,
            header,
            parts: manifest_parts,
            mac: None,
        };
        let mac_key = self.mac_key(
            manifest.mac_root,
            LABEL_MANIFEST_MAC,
            bucket,
            key,
            upload_id,
        )?;
        manifest.mac = Some(hex::encode(kdf::hmac_sha256(
            &*mac_key,
            &[&manifest.mac_input()?],
        )));
        let text = json(&manifest)?;
        if text.len() > MAX_MANIFEST as usize {
            return Err(S3Error::internal("the manifest would be too large"));
        }
        let info = self.store.complete_multipart_upload(
            bucket,
            key,
            upload_id,
            &store_parts,
            &framed(&text, MANIFEST_MAGIC),
        )?;
        let mut hs = vec![("ETag".to_owned(), manifest.header.etag.clone())];
        hs.extend(headers::response_headers(&stored_sse(&manifest.header)));
        hs.extend(super::version_header(&info));
        Ok(Response {
            status: 200,
            headers: hs,
        })
    }

    /// AbortMultipartUpload: ends the upload and removes its parts.
    ///
    /// # Errors
    /// 404 `NoSuchUpload`; 403 for the policy (`s3:AbortMultipartUpload`); 500 on a store failure.
    pub fn abort_multipart_upload(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), S3Error> {
        self.store.multipart_upload(bucket, key, upload_id)?;
        self.allow(ctx, bucket, key, "s3:AbortMultipartUpload", None)?;
        self.store.abort_multipart_upload(bucket, key, upload_id)?;
        Ok(())
    }

    /// ListParts: the parts uploaded so far with their plaintext sizes and S3 ETags (from their
    /// authenticated trailers).
    ///
    /// # Errors
    /// 404 `NoSuchUpload`; 403 for the policy (`s3:ListMultipartUploadParts`); 500 for a corrupt part.
    pub fn list_parts(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, S3Error> {
        let record = self.load_upload(bucket, key, upload_id)?;
        self.allow(ctx, bucket, key, "s3:ListMultipartUploadParts", None)?;
        let mut out = Vec::new();
        for p in self.store.list_parts(bucket, key, upload_id)? {
            let (t, _, _) = self.uploaded_part_trailer(&record, upload_id, p.part_number)?;
            out.push(PartInfo {
                part_number: t.part_number,
                size: t.size,
                etag: t.etag,
                last_modified: t.last_modified,
            });
        }
        Ok(out)
    }

    /// ListMultipartUploads: the uploads in progress in `bucket`, by key then start time.
    ///
    /// # Errors
    /// 404 `NoSuchBucket`; 403 for the policy (`s3:ListBucketMultipartUploads`).
    pub fn list_multipart_uploads(
        &self,
        ctx: &RequestContext,
        bucket: &str,
    ) -> Result<Vec<UploadInfo>, S3Error> {
        self.allow(ctx, bucket, "", "s3:ListBucketMultipartUploads", None)?;
        Ok(self
            .store
            .list_multipart_uploads(bucket)?
            .into_iter()
            .map(|u| UploadInfo {
                key: u.key,
                upload_id: u.upload_id,
                initiated: u.initiated,
            })
            .collect())
    }

    /// GetObject with `?partNumber=N`: part N's plaintext (N counts the object's parts from 1; an
    /// object that was not uploaded in parts has one), 206 with its Content-Range, and
    /// `x-amz-mp-parts-count` for a multipart object.
    ///
    /// # Errors
    /// 400 `InvalidArgument` for N outside 1..=10,000; 416 `InvalidPartNumber` past the last part;
    /// GetObject's errors.
    pub fn get_object_part(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        h: &Headers,
        part_number: u32,
        out: &mut dyn Write,
    ) -> Result<Response, S3Error> {
        check_part_number(part_number)?;
        let mut o = self.open(ctx, bucket, key, None, h, false)?;
        let (start, end, count) = part_range(&o, part_number)?;
        self.read_body(&mut o, start, end, out)?;
        Ok(part_response(&o.header, start, end, count))
    }

    /// HeadObject with `?partNumber=N`: the headers of [`SseEngine::get_object_part`] without the body.
    ///
    /// # Errors
    /// As [`SseEngine::get_object_part`].
    pub fn head_object_part(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        h: &Headers,
        part_number: u32,
    ) -> Result<Response, S3Error> {
        check_part_number(part_number)?;
        let o = self.open(ctx, bucket, key, None, h, false)?;
        let (start, end, count) = part_range(&o, part_number)?;
        Ok(part_response(&o.header, start, end, count))
    }

    /// Reads and verifies the manifest of a completed multipart object: its MAC (root-derived key bound
    /// to bucket, key and upload id) and that its parts tile the stored bytes exactly.
    pub(super) fn open_manifest(
        &self,
        f: &mut Box<dyn ReadSeek>,
        bucket: &str,
        key: &str,
    ) -> Result<(Header, Manifest), S3Error> {
        let len = f.seek(SeekFrom::End(0)).map_err(io_err)?;
        let (text, at) = read_framed(f, 0, len, MANIFEST_MAGIC, MAX_MANIFEST)?;
        let m: Manifest = serde_json::from_slice(&text).map_err(|_| corrupt("manifest"))?;
        if m.version != 1
            || m.bucket != bucket
            || m.key != key
            || m.header.bucket != bucket
            || m.header.key != key
        {
            return Err(corrupt("manifest names another object"));
        }
        let mac_key = self.mac_key(m.mac_root, LABEL_MANIFEST_MAC, bucket, key, &m.upload_id)?;
        if !verify_mac(&mac_key, &m.mac_input()?, m.mac.as_deref()) {
            return Err(corrupt("manifest failed authentication"));
        }
        // The parts tile [0, at) in ascending order and their sizes add up.
        let min_len = (PART_MAGIC.len() + HEADER_LEN + 12) as u64;
        let (mut offset, mut size, mut last) = (0u64, 0u64, 0u32);
        for p in &m.parts {
            if p.number <= last || p.offset != offset || p.length < min_len {
                return Err(corrupt("manifest parts"));
            }
            last = p.number;
            offset = offset
                .checked_add(p.length)
                .ok_or_else(|| corrupt("manifest parts"))?;
            size = size
                .checked_add(p.size)
                .ok_or_else(|| corrupt("manifest parts"))?;
        }
        if m.parts.is_empty() || offset != at || size != m.header.size {
            return Err(corrupt("manifest parts"));
        }
        Ok((m.header.clone(), m))
    }

    /// Writes plaintext bytes `[start, end)` of a completed multipart object to `out`: only the parts the
    /// range touches are opened (found through the manifest's offsets), each part's trailer checked
    /// against the manifest and its key(s) unsealed, and every byte authenticated before release.
    pub(super) fn read_multipart(
        &self,
        f: &mut Box<dyn ReadSeek>,
        header: &Header,
        m: &OpenedManifest,
        start: u64,
        end: u64,
        out: &mut dyn Write,
    ) -> Result<(), S3Error> {
        let mf = &m.manifest;
        let mut at = 0u64;
        for p in &mf.parts {
            let (ps, pe) = (at, at + p.size);
            at = pe;
            if ps >= end {
                break;
            }
            if pe <= start {
                continue;
            }
            let fail = |e: S3Error| {
                S3Error::internal(format!(
                    "multipart object {}/{}: part {} failed: {}",
                    mf.bucket,
                    mf.key,
                    p.number,
                    e.detail()
                ))
            };
            let part_end = p.offset + p.length;
            let (text, t_at) =
                read_framed(f, p.offset, part_end, PART_MAGIC, MAX_PART_TRAILER).map_err(fail)?;
            let digest = sha256(&framed(&text, PART_MAGIC));
            if hex::encode(digest) != p.trailer_sha256 {
                return Err(fail(corrupt("part trailer does not match the manifest")));
            }
            let t: PartTrailer =
                serde_json::from_slice(&text).map_err(|_| fail(corrupt("part trailer")))?;
            if t.version != 1
                || t.mode != header.mode
                || t.bucket != mf.bucket
                || t.key != mf.key
                || t.upload_id != mf.upload_id
                || t.nonce != mf.nonce
                || t.part_number != p.number
                || t.size != p.size
                || t.etag != p.etag
            {
                return Err(fail(corrupt("part trailer does not match the manifest")));
            }
            let aad = t.seal_aad()?;
            let unseal = |seal: Option<&Seal>, src: Option<&zeroize::Zeroizing<Vec<u8>>>, l| {
                let (seal, src) = seal.zip(src)?;
                unseal_key(src, &t.kek_info(l), &aad, seal)
            };
            let k1 = unseal(t.seal.as_ref(), m.sources.first(), 1)
                .ok_or_else(|| fail(corrupt("part key seal")))?;
            let k2 = if m.sources.len() > 1 {
                Some(
                    unseal(t.seal2.as_ref(), m.sources.get(1), 2)
                        .ok_or_else(|| fail(corrupt("part key seal")))?,
                )
            } else {
                None
            };
            let ctx2 = t.body_context(2);
            let body_at = p.offset + PART_MAGIC.len() as u64;
            let body_len = t_at
                .checked_sub(body_at)
                .ok_or_else(|| fail(corrupt("part too short")))?;
            read_layers(
                f,
                body_at,
                body_len,
                &k1,
                &t.body_context(1),
                k2.as_ref().map(|k| (k, ctx2.as_slice())),
                p.size,
                start.max(ps) - ps,
                end.min(pe) - ps,
                out,
            )
            .map_err(fail)?;
        }
        Ok(())
    }
}

/// Plaintext `[start, end)` of part `n` of an opened object and the object's part count (`None` for an
/// object not uploaded in parts, whose only part is the whole object).
fn part_range(o: &Opened, n: u32) -> Result<(u64, u64, Option<usize>), S3Error> {
    let not_satisfiable = || S3Error::from_code(S3ErrorCode::InvalidPartNumber);
    match &o.body {
        OpenedBody::Single { .. } => {
            if n == 1 {
                Ok((0, o.header.size, None))
            } else {
                Err(not_satisfiable())
            }
        }
        OpenedBody::Multipart(m) => {
            let parts = &m.manifest.parts;
            let i = usize::try_from(n - 1).map_err(|_| not_satisfiable())?;
            let p = parts.get(i).ok_or_else(not_satisfiable)?;
            let start: u64 = parts[..i].iter().map(|q| q.size).sum();
            Ok((start, start + p.size, Some(parts.len())))
        }
    }
}

fn part_response(header: &Header, start: u64, end: u64, count: Option<usize>) -> Response {
    let mut hs = response_headers(header);
    hs.push(("Content-Length".into(), (end - start).to_string()));
    let range = if end > start {
        format!("bytes {}-{}/{}", start, end - 1, header.size)
    } else {
        format!("bytes */{}", header.size)
    };
    hs.push(("Content-Range".into(), range));
    if let Some(c) = count {
        hs.push(("x-amz-mp-parts-count".into(), c.to_string()));
    }
    Response {
        status: 206,
        headers: hs,
    }
}
