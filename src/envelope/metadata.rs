//! S3 Encryption Client content metadata: the S3 user-metadata map of an encrypted object (`docs/FORMAT.md` §1,
//! §1.4), and the instruction-file split (§1.8).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::EnvelopeError;

/// The S3 user metadata of an object: mapkey → value, without the `x-amz-meta-` prefix.
pub type MetadataMap = BTreeMap<String, String>;

/// V1 (legacy) mapkeys.
const V1_KEY: &str = "x-amz-key";
const V1_IV: &str = "x-amz-iv";
/// V2 mapkeys.
pub(super) const V2_KEY: &str = "x-amz-key-v2";
pub(super) const V2_WRAP: &str = "x-amz-wrap-alg";
pub(super) const V2_CEK: &str = "x-amz-cek-alg";
pub(super) const V2_IV: &str = "x-amz-iv";
pub(super) const V2_TAG_LEN: &str = "x-amz-tag-len";
pub(super) const V2_MATDESC: &str = "x-amz-matdesc";
/// V3 mapkeys.
pub(super) const V3_CEK: &str = "x-amz-c";
pub(super) const V3_KEY: &str = "x-amz-3";
pub(super) const V3_WRAP: &str = "x-amz-w";
pub(super) const V3_CONTEXT: &str = "x-amz-t";
pub(super) const V3_MATDESC: &str = "x-amz-m";
pub(super) const V3_COMMITMENT: &str = "x-amz-d";
pub(super) const V3_MESSAGE_ID: &str = "x-amz-i";

/// V3 mapkeys that stay in object metadata when an instruction file is used (§1.8).
const V3_OBJECT_KEYS: [&str; 3] = [V3_CEK, V3_COMMITMENT, V3_MESSAGE_ID];

/// The object format (not the client version, §1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Legacy AES/CBC objects (`x-amz-key`): recognised, not decrypted by s3crypt.
    V1,
    /// `AES/GCM/NoPadding` under the data key, random 12-byte IV, no AAD (`x-amz-key-v2`).
    V2,
    /// Suite 115: AES-256-GCM under an HKDF-SHA512-derived key with a 28-byte key commitment (`x-amz-c`).
    V3,
}

/// How the data key is wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrapAlg {
    /// `kms+context` (V3 `12`): KMS `GenerateDataKey` with the encryption context.
    KmsContext,
    /// `AES/GCM` (V3 `02`): a raw AES-256 wrapping key.
    AesGcm,
    /// V1 `kms`: KMS `Encrypt` with the context `{"kms_cmk_id": key}` (read-only, legacy).
    KmsLegacy,
    /// V1 `AESWrap`: RFC 3394 key wrap under a raw AES key (read-only, legacy).
    AesWrap,
    /// V1 without `x-amz-wrap-alg`: the data key AES/ECB-encrypted under a raw AES key (read-only, legacy).
    AesEcb,
}

impl WrapAlg {
    fn v2_name(self) -> &'static str {
        match self {
            Self::KmsContext => "kms+context",
            Self::AesGcm => "AES/GCM",
            Self::KmsLegacy => "kms",
            Self::AesWrap => "AESWrap",
            Self::AesEcb => "AES",
        }
    }

    fn v3_code(self) -> &'static str {
        match self {
            Self::AesGcm => "02",
            _ => "12",
        }
    }
}

/// The parsed content metadata of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContentMetadata {
    /// The format.
    pub format: Format,
    /// The encrypted data key.
    pub encrypted_key: Vec<u8>,
    /// The wrapping algorithm.
    pub wrap: WrapAlg,
    /// The KMS encryption context (`kms+context`) or the material description (raw keyrings).
    pub context: BTreeMap<String, String>,
    /// V2: the 12-byte IV.
    pub iv: Option<[u8; 12]>,
    /// V1: the 16-byte CBC IV.
    pub iv16: Option<[u8; 16]>,
    /// V3: the 28-byte key commitment.
    pub commitment: Option<[u8; 28]>,
    /// V3: the 28-byte message id (HKDF salt).
    pub message_id: Option<[u8; 28]>,
}

fn malformed(key: &str, reason: impl Into<String>) -> EnvelopeError {
    EnvelopeError::MalformedMetadata {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn get<'a>(m: &'a MetadataMap, key: &'static str) -> Result<&'a str, EnvelopeError> {
    m.get(key)
        .map(String::as_str)
        .ok_or(EnvelopeError::MissingMetadata(key))
}

fn b64(m: &MetadataMap, key: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    B64.decode(get(m, key)?.trim())
        .map_err(|_| malformed(key, "not base64"))
}

fn fixed<const N: usize>(m: &MetadataMap, key: &'static str) -> Result<[u8; N], EnvelopeError> {
    let v = b64(m, key)?;
    v.as_slice()
        .try_into()
        .map_err(|_| malformed(key, format!("must be {N} bytes, is {}", v.len())))
}

fn json_map(m: &MetadataMap, key: &'static str) -> Result<BTreeMap<String, String>, EnvelopeError> {
    match m.get(key) {
        None => Ok(BTreeMap::new()),
        Some(s) if s.trim().is_empty() => Ok(BTreeMap::new()),
        // S3EC JSON is not canonical (Python writes spaces, Java does not): parse, never compare text.
        Some(s) => {
            serde_json::from_str(s).map_err(|_| malformed(key, "not a JSON object of strings"))
        }
    }
}

/// Detects the format of `m` (§1.1). Mapkeys of two versions are a downgrade attempt and are rejected.
///
/// # Errors
/// [`EnvelopeError::MixedFormats`], or [`EnvelopeError::NotEncrypted`] if no format's keys are present.
pub fn detect(m: &MetadataMap) -> Result<Format, EnvelopeError> {
    let v1 = m.contains_key(V1_KEY);
    let v2 = m.contains_key(V2_KEY) || m.contains_key(V2_TAG_LEN);
    // x-amz-iv, x-amz-wrap-alg, x-amz-cek-alg and x-amz-matdesc are shared by V1 and V2.
    let shared = [V2_WRAP, V2_CEK, V2_IV, V2_MATDESC]
        .iter()
        .any(|k| m.contains_key(*k));
    let v3 = [
        V3_CEK,
        V3_KEY,
        V3_WRAP,
        V3_CONTEXT,
        V3_MATDESC,
        V3_COMMITMENT,
        V3_MESSAGE_ID,
    ]
    .iter()
    .any(|k| m.contains_key(*k));
    match (v1, v2, v3) {
        (true, false, false) => Ok(Format::V1),
        (false, true, false) => Ok(Format::V2),
        (false, false, true) if !shared => Ok(Format::V3),
        (false, false, false) if shared => Err(EnvelopeError::MissingMetadata(V2_KEY)),
        (false, false, false) => Err(EnvelopeError::NotEncrypted),
        _ => Err(EnvelopeError::MixedFormats),
    }
}

impl ContentMetadata {
    /// Parses object metadata (with an instruction file already merged in, if one is used).
    ///
    /// # Errors
    /// [`EnvelopeError`] naming the missing or malformed mapkey.
    pub fn parse(m: &MetadataMap) -> Result<Self, EnvelopeError> {
        match detect(m)? {
            Format::V1 => {
                if let Some(cek) = m.get(V2_CEK)
                    && cek != "AES/CBC/PKCS5Padding"
                {
                    return Err(EnvelopeError::UnsupportedFormat(format!(
                        "V1 content algorithm {cek:?}"
                    )));
                }
                let wrap = match m.get(V2_WRAP).map(String::as_str) {
                    Some("kms") => WrapAlg::KmsLegacy,
                    Some("AESWrap") => WrapAlg::AesWrap,
                    None | Some("AES") => WrapAlg::AesEcb,
                    Some(other) => {
                        return Err(EnvelopeError::UnsupportedFormat(format!(
                            "V1 wrapping algorithm {other:?}"
                        )));
                    }
                };
                Ok(Self {
                    format: Format::V1,
                    encrypted_key: b64(m, V1_KEY)?,
                    wrap,
                    context: json_map(m, V2_MATDESC)?,
                    iv: None,
                    iv16: Some(fixed::<16>(m, V1_IV)?),
                    commitment: None,
                    message_id: None,
                })
            }
            Format::V2 => {
                let cek = get(m, V2_CEK)?;
                if cek != "AES/GCM/NoPadding" {
                    return Err(EnvelopeError::UnsupportedFormat(format!(
                        "content algorithm {cek:?}"
                    )));
                }
                if let Some(t) = m.get(V2_TAG_LEN)
                    && t != "128"
                {
                    return Err(malformed(V2_TAG_LEN, "must be 128"));
                }
                let wrap = match get(m, V2_WRAP)? {
                    "kms+context" => WrapAlg::KmsContext,
                    "AES/GCM" => WrapAlg::AesGcm,
                    other => {
                        return Err(EnvelopeError::UnsupportedFormat(format!(
                            "wrapping algorithm {other:?}"
                        )));
                    }
                };
                Ok(Self {
                    format: Format::V2,
                    encrypted_key: b64(m, V2_KEY)?,
                    wrap,
                    context: json_map(m, V2_MATDESC)?,
                    iv: Some(fixed::<12>(m, V2_IV)?),
                    iv16: None,
                    commitment: None,
                    message_id: None,
                })
            }
            Format::V3 => {
                let cek = get(m, V3_CEK)?;
                if cek != "115" {
                    return Err(EnvelopeError::UnsupportedFormat(format!(
                        "content algorithm suite {cek:?}"
                    )));
                }
                let (wrap, context) = match get(m, V3_WRAP)? {
                    "12" => {
                        if m.contains_key(V3_MATDESC) {
                            return Err(malformed(V3_MATDESC, "not allowed with kms+context"));
                        }
                        (WrapAlg::KmsContext, json_map(m, V3_CONTEXT)?)
                    }
                    "02" => {
                        if m.contains_key(V3_CONTEXT) {
                            return Err(malformed(V3_CONTEXT, "not allowed with AES/GCM"));
                        }
                        (WrapAlg::AesGcm, json_map(m, V3_MATDESC)?)
                    }
                    other => {
                        return Err(EnvelopeError::UnsupportedFormat(format!(
                            "wrapping algorithm code {other:?}"
                        )));
                    }
                };
                let message_id = fixed::<28>(m, V3_MESSAGE_ID)?;
                if message_id == [0u8; 28] {
                    return Err(malformed(V3_MESSAGE_ID, "all-zero message id"));
                }
                Ok(Self {
                    format: Format::V3,
                    encrypted_key: b64(m, V3_KEY)?,
                    wrap,
                    context,
                    iv: None,
                    iv16: None,
                    commitment: Some(fixed::<28>(m, V3_COMMITMENT)?),
                    message_id: Some(message_id),
                })
            }
        }
    }

    /// Renders the metadata map the official clients write.
    #[must_use]
    pub fn to_map(&self) -> MetadataMap {
        let mut m = MetadataMap::new();
        let context = serde_json::to_string(&self.context).unwrap_or_else(|_| "{}".into());
        match self.format {
            Format::V1 => {}
            Format::V2 => {
                m.insert(V2_KEY.into(), B64.encode(&self.encrypted_key));
                m.insert(V2_WRAP.into(), self.wrap.v2_name().into());
                m.insert(V2_CEK.into(), "AES/GCM/NoPadding".into());
                m.insert(V2_IV.into(), B64.encode(self.iv.unwrap_or_default()));
                m.insert(V2_TAG_LEN.into(), "128".into());
                m.insert(V2_MATDESC.into(), context);
            }
            Format::V3 => {
                m.insert(V3_CEK.into(), "115".into());
                m.insert(V3_KEY.into(), B64.encode(&self.encrypted_key));
                m.insert(V3_WRAP.into(), self.wrap.v3_code().into());
                let ctx_key = if self.wrap == WrapAlg::KmsContext {
                    V3_CONTEXT
                } else {
                    V3_MATDESC
                };
                m.insert(ctx_key.into(), context);
                m.insert(
                    V3_COMMITMENT.into(),
                    B64.encode(self.commitment.unwrap_or_default()),
                );
                m.insert(
                    V3_MESSAGE_ID.into(),
                    B64.encode(self.message_id.unwrap_or_default()),
                );
            }
        }
        m
    }
}

/// Splits rendered metadata into (object metadata, instruction-file JSON) by the §1.8 rules: V1/V2 move
/// everything to the instruction file; V3 keeps `x-amz-c`, `x-amz-d` and `x-amz-i` on the object.
#[must_use]
pub fn split_for_instruction_file(m: &MetadataMap) -> (MetadataMap, MetadataMap) {
    let v3 = m.contains_key(V3_CEK);
    m.iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| v3 && V3_OBJECT_KEYS.contains(&k.as_str()))
}

/// Merges an instruction file into object metadata. A V3 instruction file must not carry the keys that
/// belong on the object, and no key may appear in both places.
///
/// # Errors
/// [`EnvelopeError::MalformedMetadata`] on overlaps or misplaced V3 keys.
pub fn merge_instruction_file(
    object: &MetadataMap,
    instruction: &MetadataMap,
) -> Result<MetadataMap, EnvelopeError> {
    let mut out = object.clone();
    for (k, v) in instruction {
        if k == "x-amz-crypto-instr-file" {
            continue;
        }
        if V3_OBJECT_KEYS.contains(&k.as_str()) {
            return Err(malformed(
                k,
                "must be in the object metadata, not the instruction file",
            ));
        }
        if out.insert(k.clone(), v.clone()).is_some() {
            return Err(malformed(
                k,
                "present in both the object metadata and the instruction file",
            ));
        }
    }
    Ok(out)
}
