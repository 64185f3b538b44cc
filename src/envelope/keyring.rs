//! Keyrings: where the data key of an object comes from and how it is wrapped (`docs/FORMAT.md` §1).

use std::collections::BTreeMap;

use super::EnvelopeError;
use super::metadata::{ContentMetadata, Format, WrapAlg};
use crate::keys::{DataKey, KeyEncryptionKey};
use crate::kms::{DataKeySpec, DecryptRequest, EncryptionContext, GenerateDataKeyRequest, Kms};
use crate::primitives::{Aes256Gcm, random_array};

/// The encryption-context key the official clients reserve for the content algorithm.
pub const RESERVED_CEK_ALG: &str = "aws:x-amz-cek-alg";
/// The legacy (V1 `kms`) reserved key, ignored when comparing contexts.
const LEGACY_CMK_ID: &str = "kms_cmk_id";

/// The value of `aws:x-amz-cek-alg` and the raw-AES wrap AAD for a format.
pub(super) fn cek_alg(format: Format) -> &'static str {
    match format {
        Format::V3 => "115",
        _ => "AES/GCM/NoPadding",
    }
}

/// A fresh data key and how it was wrapped.
#[derive(Debug)]
#[non_exhaustive]
pub struct Materials {
    /// The plaintext data key.
    pub data_key: DataKey,
    /// The wrapped data key, stored with the object.
    pub encrypted_key: Vec<u8>,
    /// The wrapping algorithm.
    pub wrap: WrapAlg,
    /// The KMS encryption context (reserved key included) or the material description.
    pub context: BTreeMap<String, String>,
}

/// A source of data keys.
pub trait Keyring: Send + Sync {
    /// Creates and wraps a data key for a new object of `format`, bound to the caller's `context`.
    ///
    /// # Errors
    /// [`EnvelopeError`] (a KMS error, a reserved context key, an RNG failure).
    fn on_encrypt(
        &self,
        format: Format,
        context: &EncryptionContext,
    ) -> Result<Materials, EnvelopeError>;

    /// Unwraps the data key of an object. `context`, if given, must equal the stored one (without the
    /// reserved keys).
    ///
    /// # Errors
    /// [`EnvelopeError`] (wrong keyring type, context mismatch, KMS or authentication failure).
    fn on_decrypt(
        &self,
        metadata: &ContentMetadata,
        context: Option<&EncryptionContext>,
    ) -> Result<DataKey, EnvelopeError>;
}

/// Data keys from a KMS key (`kms+context`), through any [`Kms`]: the mock, a remote endpoint or AWS.
#[derive(Debug)]
pub struct KmsKeyring<K> {
    kms: K,
    key_id: Option<String>,
}

impl<K: Kms> KmsKeyring<K> {
    /// A keyring using `key_id` (id, ARN, alias or alias ARN) of `kms`. Decryption sends it as `KeyId`, so
    /// objects of other keys fail with `IncorrectKeyException`, as with the official clients.
    pub fn new(kms: K, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            key_id: Some(key_id.into()),
        }
    }

    /// A decrypt-only keyring that lets the KMS find the key from the ciphertext blob (symmetric keys
    /// need no `KeyId`).
    pub fn discovery(kms: K) -> Self {
        Self { kms, key_id: None }
    }
}

impl<K: Kms> Keyring for KmsKeyring<K> {
    fn on_encrypt(
        &self,
        format: Format,
        context: &EncryptionContext,
    ) -> Result<Materials, EnvelopeError> {
        if context.contains_key(RESERVED_CEK_ALG) {
            return Err(EnvelopeError::ReservedContextKey(RESERVED_CEK_ALG));
        }
        if let Some(k) = context.keys().find(|k| !k.is_ascii()) {
            return Err(EnvelopeError::NonAsciiContext(k.clone()));
        }
        if let Some((k, _)) = context.iter().find(|(_, v)| !v.is_ascii()) {
            return Err(EnvelopeError::NonAsciiContext(k.clone()));
        }
        let mut ec = context.clone();
        ec.insert(RESERVED_CEK_ALG.into(), cek_alg(format).into());
        let key_id = self.key_id.as_deref().ok_or_else(|| {
            EnvelopeError::UnsupportedFormat(
                "encrypting with a discovery keyring (no KMS key given)".into(),
            )
        })?;
        let mut req = GenerateDataKeyRequest::aes256(key_id, ec.clone());
        req.key_spec = Some(DataKeySpec::Aes256);
        let r = self.kms.generate_data_key(&req)?;
        let data_key = DataKey::try_from_slice(r.plaintext.expose_secret())
            .map_err(|_| EnvelopeError::BadDataKey)?;
        Ok(Materials {
            data_key,
            encrypted_key: r.ciphertext_blob.clone(),
            wrap: WrapAlg::KmsContext,
            context: ec,
        })
    }

    fn on_decrypt(
        &self,
        md: &ContentMetadata,
        context: Option<&EncryptionContext>,
    ) -> Result<DataKey, EnvelopeError> {
        if md.wrap == WrapAlg::KmsLegacy {
            // V1 `kms`: the stored material description ({"kms_cmk_id": …}) is the encryption context.
            let mut req = DecryptRequest::new(md.encrypted_key.clone(), md.context.clone());
            req.key_id.clone_from(&self.key_id);
            let r = self.kms.decrypt(&req)?;
            return DataKey::try_from_slice(r.plaintext.expose_secret())
                .map_err(|_| EnvelopeError::BadDataKey);
        }
        if md.wrap != WrapAlg::KmsContext {
            return Err(EnvelopeError::WrongKeyring {
                object: "AES/GCM (raw AES key)",
                keyring: "KMS",
            });
        }
        match md.context.get(RESERVED_CEK_ALG) {
            Some(v) if v == cek_alg(md.format) => {}
            _ => {
                return Err(EnvelopeError::MalformedMetadata {
                    key: RESERVED_CEK_ALG.into(),
                    reason: format!(
                        "the stored encryption context must bind {RESERVED_CEK_ALG}={}",
                        cek_alg(md.format)
                    ),
                });
            }
        }
        if let Some(given) = context {
            if given.contains_key(RESERVED_CEK_ALG) {
                return Err(EnvelopeError::ReservedContextKey(RESERVED_CEK_ALG));
            }
            let stored: EncryptionContext = md
                .context
                .iter()
                .filter(|(k, _)| k.as_str() != RESERVED_CEK_ALG && k.as_str() != LEGACY_CMK_ID)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if &stored != given {
                return Err(EnvelopeError::ContextMismatch);
            }
        }
        let mut req = DecryptRequest::new(md.encrypted_key.clone(), md.context.clone());
        req.key_id.clone_from(&self.key_id);
        let r = self.kms.decrypt(&req)?;
        DataKey::try_from_slice(r.plaintext.expose_secret()).map_err(|_| EnvelopeError::BadDataKey)
    }
}

/// Data keys wrapped with a raw AES-256 key (`AES/GCM`), as the Java/Go/.NET clients' `AesKeyring`:
/// `IV(12) ‖ AES-256-GCM(wrapping key, IV, aad = "115" | "AES/GCM/NoPadding", data key) ‖ tag(16)`.
///
/// A raw keyring has no encryption context; what plays its part is the *material description*
/// (`x-amz-m` / `x-amz-matdesc`), as in the official clients. An encryption context given to
/// [`Keyring::on_encrypt`] is stored as the material description, and one given to
/// [`Keyring::on_decrypt`] must equal the stored one ([`EnvelopeError::ContextMismatch`] otherwise).
/// Unlike a KMS encryption context the material description is a label, not an input to the key
/// wrapping (the format fixes the wrap's AAD), so it selects and checks but does not authenticate.
#[derive(Debug)]
pub struct AesKeyring {
    key: KeyEncryptionKey,
    description: BTreeMap<String, String>,
}

impl AesKeyring {
    /// A keyring with `key` and an optional material description stored with each object.
    #[must_use]
    pub fn new(key: KeyEncryptionKey, description: BTreeMap<String, String>) -> Self {
        Self { key, description }
    }
}

impl Keyring for AesKeyring {
    fn on_encrypt(
        &self,
        format: Format,
        context: &EncryptionContext,
    ) -> Result<Materials, EnvelopeError> {
        let description = match (context.is_empty(), self.description.is_empty()) {
            (true, _) => self.description.clone(),
            (false, true) => context.clone(),
            (false, false) if context == &self.description => context.clone(),
            (false, false) => return Err(EnvelopeError::ContextMismatch),
        };
        // Stored in S3 user metadata, which is US-ASCII.
        if let Some((k, _)) = description
            .iter()
            .find(|(k, v)| !k.is_ascii() || !v.is_ascii())
        {
            return Err(EnvelopeError::NonAsciiContext(k.clone()));
        }
        let data_key = DataKey::generate().map_err(|_| EnvelopeError::Rng)?;
        let iv = random_array::<12>().map_err(|_| EnvelopeError::Rng)?;
        let sealed = Aes256Gcm::new(self.key.expose_secret())
            .seal(&iv, cek_alg(format).as_bytes(), data_key.expose_secret())
            .map_err(|_| EnvelopeError::Rng)?;
        let mut encrypted_key = iv.to_vec();
        encrypted_key.extend_from_slice(&sealed);
        Ok(Materials {
            data_key,
            encrypted_key,
            wrap: WrapAlg::AesGcm,
            context: description,
        })
    }

    fn on_decrypt(
        &self,
        md: &ContentMetadata,
        context: Option<&EncryptionContext>,
    ) -> Result<DataKey, EnvelopeError> {
        if let Some(given) = context
            && given != &md.context
        {
            return Err(EnvelopeError::ContextMismatch);
        }
        match md.wrap {
            WrapAlg::AesWrap | WrapAlg::AesEcb => {
                let legacy = if md.wrap == WrapAlg::AesWrap {
                    crate::primitives::legacy::aes256_key_unwrap(
                        self.key.expose_secret(),
                        &md.encrypted_key,
                    )
                } else {
                    crate::primitives::legacy::aes256_ecb_unwrap_key(
                        self.key.expose_secret(),
                        &md.encrypted_key,
                    )
                };
                let key = legacy.map_err(|_| EnvelopeError::WrongKey)?;
                return Ok(DataKey::from_bytes(*key));
            }
            WrapAlg::KmsLegacy => {
                return Err(EnvelopeError::WrongKeyring {
                    object: "kms (KMS key)",
                    keyring: "raw AES",
                });
            }
            _ => {}
        }
        if md.wrap != WrapAlg::AesGcm {
            return Err(EnvelopeError::WrongKeyring {
                object: "kms+context (KMS key)",
                keyring: "raw AES",
            });
        }
        if md.encrypted_key.len() != 12 + 32 + 16 {
            return Err(EnvelopeError::MalformedMetadata {
                key: "encrypted data key".into(),
                reason: format!(
                    "AES/GCM wrapped keys are 60 bytes, got {}",
                    md.encrypted_key.len()
                ),
            });
        }
        let (iv, sealed) = md.encrypted_key.split_at(12);
        let iv: [u8; 12] = iv.try_into().map_err(|_| EnvelopeError::Authentication)?;
        let plain = zeroize::Zeroizing::new(
            Aes256Gcm::new(self.key.expose_secret())
                .open(&iv, cek_alg(md.format).as_bytes(), sealed)
                .map_err(|_| EnvelopeError::WrongKey)?,
        );
        DataKey::try_from_slice(&plain).map_err(|_| EnvelopeError::BadDataKey)
    }
}
