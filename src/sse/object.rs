//! The object file at rest, and sealing of per-object keys.
//!
//! ```text
//! file   = MAGIC(8) ‖ body ‖ header JSON ‖ BE32(header length) ‖ MAGIC(8)        MAGIC = "S3CRSSE1"
//! body   = C2SP chunked encryption (primitives::chunked) of the plaintext under the object key, context
//!          "s3crypt/sse/v1/body" ‖ 0 ‖ mode ‖ 0 ‖ bucket "/" key          (DSSE-KMS: two such layers)
//! header = mode, bucket, key, size, ETag, user metadata, and how the object key is sealed
//! sealed = IV(12) ‖ AES-256-GCM(KEK, IV, aad = "s3crypt/sse/v1/seal" ‖ header without its seals, object key) ‖ tag
//! KEK    = HKDF-SHA256(ikm = source key, salt = random 32 bytes, info = "s3crypt/sse/v1/kek" ‖ 0 ‖ mode ‖ 0 ‖ bucket "/" key)
//! ```
//!
//! The source key is the SSE-S3 root key (by version), the KMS data key, a key derived from the bucket
//! key, or the SSE-C customer key. Because the mode, bucket and key name are in both the KEK derivation
//! and the body context, and every header field is associated data of the seal, an object renamed,
//! moved to another bucket, relabelled with another mode, or with any header byte edited does not
//! decrypt. The header sits at the end so the body can be streamed without knowing its length first.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::S3Error;
use crate::keys::ObjectKey;
use crate::primitives::{Aes256Gcm, kdf, random_array};

pub(crate) const MAGIC: &[u8; 8] = b"S3CRSSE1";
/// The largest header JSON [`Header::read`] accepts; the writer refuses to store an object whose header
/// would be larger ([`Header::check_fits`]), so every stored object stays readable.
pub const MAX_HEADER: u32 = 1 << 20;

/// The server-side encryption mode of a stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// SSE-S3.
    #[serde(rename = "SSE-S3")]
    S3,
    /// SSE-KMS.
    #[serde(rename = "SSE-KMS")]
    Kms,
    /// DSSE-KMS (two layers).
    #[serde(rename = "DSSE-KMS")]
    DsseKms,
    /// SSE-C.
    #[serde(rename = "SSE-C")]
    Customer,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Self::S3 => "SSE-S3",
            Self::Kms => "SSE-KMS",
            Self::DsseKms => "DSSE-KMS",
            Self::Customer => "SSE-C",
        }
    }
}

/// An object key sealed under a KEK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// HKDF salt, base64.
    pub salt: String,
    /// `IV ‖ ciphertext ‖ tag`, base64.
    pub sealed: String,
}

/// How a KMS data key was obtained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsSeal {
    /// The KMS key ARN.
    pub key_arn: String,
    /// The encrypted data key (or bucket key), base64.
    pub blob: String,
    /// The full encryption context sent to KMS.
    pub context: BTreeMap<String, String>,
    /// Whether `blob` is a bucket key.
    pub bucket_key: bool,
}

/// The object header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Format version, 1.
    pub version: u32,
    /// The mode.
    pub mode: Mode,
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// Plaintext length.
    pub size: u64,
    /// The ETag (quoted).
    pub etag: String,
    /// Content-Type, if given.
    pub content_type: Option<String>,
    /// `x-amz-meta-*` headers (names lowercase, without the prefix).
    pub user_metadata: BTreeMap<String, String>,
    /// S3's other stored headers given at write time (`Cache-Control`, `Content-Disposition`,
    /// `Content-Encoding`, `Content-Language`, `Expires`), by header name. Absent from headers
    /// written without any, so those stay byte for byte as before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub system_metadata: BTreeMap<String, String>,
    /// RFC 3339 time of the PUT.
    pub last_modified: String,
    /// SSE-S3: the root key version.
    pub root_version: Option<u32>,
    /// SSE-KMS / DSSE-KMS: the (first) KMS data key.
    pub kms: Option<KmsSeal>,
    /// DSSE-KMS: the second layer's data key.
    pub kms2: Option<KmsSeal>,
    /// SSE-C: base64 MD5 of the customer key (what S3 echoes).
    pub customer_key_md5: Option<String>,
    /// SSE-C: salted HMAC of the customer key, base64 (validates later requests; S3 stores the same).
    pub customer_verifier: Option<String>,
    /// SSE-C: the verifier's salt, base64.
    pub customer_salt: Option<String>,
    /// The sealed object key.
    pub seal: Option<Seal>,
    /// DSSE-KMS: the sealed second-layer key.
    pub seal2: Option<Seal>,
}

fn corrupt(what: &str) -> S3Error {
    S3Error::internal(format!(
        "stored object is corrupt or was tampered with ({what})"
    ))
}

impl Header {
    /// The bytes the seals authenticate: the header with its seals removed.
    fn aad(&self) -> Vec<u8> {
        let mut h = self.clone();
        h.seal = None;
        h.seal2 = None;
        let mut a = b"s3crypt/sse/v1/seal".to_vec();
        a.extend_from_slice(&serde_json::to_vec(&h).unwrap_or_default());
        a
    }

    fn info(&self, label: &[u8]) -> Vec<u8> {
        let mut i = label.to_vec();
        i.push(0);
        i.extend_from_slice(self.mode.label().as_bytes());
        i.push(0);
        i.extend_from_slice(self.bucket.as_bytes());
        i.push(b'/');
        i.extend_from_slice(self.key.as_bytes());
        i
    }

    /// The C2SP context of the body (layer 1 or 2).
    #[must_use]
    pub fn body_context(&self, layer: u8) -> Vec<u8> {
        let mut c = self.info(b"s3crypt/sse/v1/body");
        if layer > 1 {
            c.extend_from_slice(&[0, layer]);
        }
        c
    }

    /// Seals `object_key` under a KEK derived from `source`; all other header fields must be final.
    ///
    /// # Errors
    /// 500 if the RNG fails.
    pub fn seal(&self, source: &[u8], object_key: &ObjectKey) -> Result<Seal, S3Error> {
        let salt = random_array::<32>()
            .map_err(|e| S3Error::internal_because("random number generator failed", e))?;
        let iv = random_array::<12>()
            .map_err(|e| S3Error::internal_because("random number generator failed", e))?;
        let kek = self.kek(source, &salt)?;
        let sealed = Aes256Gcm::new(&kek)
            .seal(&iv, &self.aad(), object_key.expose_secret())
            .map_err(|_| S3Error::internal("sealing failed"))?;
        let mut out = iv.to_vec();
        out.extend_from_slice(&sealed);
        Ok(Seal {
            salt: B64.encode(salt),
            sealed: B64.encode(out),
        })
    }

    /// Unseals an object key; `None` if `source` is the wrong key or anything bound to the seal changed.
    #[must_use]
    pub fn unseal(&self, seal: &Seal, source: &[u8]) -> Option<ObjectKey> {
        let salt = B64.decode(&seal.salt).ok()?;
        let raw = B64.decode(&seal.sealed).ok()?;
        if raw.len() != 12 + 32 + 16 {
            return None;
        }
        let (iv, ct) = raw.split_at(12);
        let kek = self.kek(source, &salt).ok()?;
        let key = zeroize::Zeroizing::new(
            Aes256Gcm::new(&kek)
                .open(iv.try_into().ok()?, &self.aad(), ct)
                .ok()?,
        );
        ObjectKey::try_from_slice(&key).ok()
    }

    fn kek(&self, source: &[u8], salt: &[u8]) -> Result<[u8; 32], S3Error> {
        let mut k = [0u8; 32];
        kdf::hkdf_sha256(
            Some(salt),
            source,
            &self.info(b"s3crypt/sse/v1/kek"),
            &mut k,
        )
        .map_err(|_| S3Error::internal("kdf"))?;
        Ok(k)
    }

    /// Serialises the trailer: header JSON ‖ BE32(len) ‖ MAGIC.
    #[must_use]
    pub fn trailer(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut t = json.clone();
        t.extend_from_slice(&(json.len() as u32).to_be_bytes());
        t.extend_from_slice(MAGIC);
        t
    }

    /// Checks that this header, once its size, ETag and seals are filled in, stays within [`MAX_HEADER`].
    /// Call it before the body is written (it assumes the largest values those fields can take) and
    /// again on the final header.
    ///
    /// # Errors
    /// 500 `InternalError` if the header could not be read back.
    pub fn check_fits(&self) -> Result<(), S3Error> {
        let mut probe = self.clone();
        probe.size = u64::MAX;
        probe.etag = format!("\"{}\"", "0".repeat(32));
        let seal = Seal {
            salt: B64.encode([0u8; 32]),
            sealed: B64.encode([0u8; 12 + 32 + 16]),
        };
        probe.seal = Some(seal.clone());
        if probe.mode == Mode::DsseKms || self.seal2.is_some() {
            probe.seal2 = Some(seal);
        }
        let len = serde_json::to_vec(&probe)
            .map_err(|e| S3Error::internal_because("the object header cannot be serialised", e))?
            .len();
        if len > MAX_HEADER as usize {
            return Err(S3Error::internal(format!(
                "the object header would be {len} bytes, more than the {MAX_HEADER} the reader accepts; nothing was stored"
            )));
        }
        Ok(())
    }

    /// Reads the header of an object file; returns it with the body's offset and length.
    ///
    /// # Errors
    /// 500 `InternalError` if the file is not a valid object file.
    pub fn read<R: Read + Seek>(f: &mut R) -> Result<(Self, u64, u64), S3Error> {
        let len = f
            .seek(SeekFrom::End(0))
            .map_err(|_| corrupt("unreadable"))?;
        if len < 8 + 4 + 8 {
            return Err(corrupt("too short"));
        }
        let mut start = [0u8; 8];
        f.seek(SeekFrom::Start(0))
            .map_err(|_| corrupt("unreadable"))?;
        f.read_exact(&mut start)
            .map_err(|_| corrupt("unreadable"))?;
        let mut tail = [0u8; 12];
        f.seek(SeekFrom::End(-12))
            .map_err(|_| corrupt("unreadable"))?;
        f.read_exact(&mut tail).map_err(|_| corrupt("unreadable"))?;
        if &start != MAGIC || &tail[4..] != MAGIC {
            return Err(corrupt("bad magic"));
        }
        let hlen = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
        if hlen > MAX_HEADER || u64::from(hlen) + 20 > len {
            return Err(corrupt("bad header length"));
        }
        let body_len = len - 20 - u64::from(hlen);
        let mut json = vec![0u8; hlen as usize];
        f.seek(SeekFrom::Start(8 + body_len))
            .map_err(|_| corrupt("unreadable"))?;
        f.read_exact(&mut json).map_err(|_| corrupt("unreadable"))?;
        let h: Self = serde_json::from_slice(&json).map_err(|_| corrupt("bad header"))?;
        if h.version != 1 {
            return Err(corrupt("unknown version"));
        }
        Ok((h, 8, body_len))
    }
}
