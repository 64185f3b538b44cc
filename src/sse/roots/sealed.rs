//! The SSE-S3 root keys of a gateway, shared by every instance: one object in the upstream's state
//! bucket (`sse/roots.sealed`), sealed under a KMS key so that the cluster never holds a usable key.
//!
//! The object is JSON: `{"version": 1, "key_id": …, "blob": …, "iv": …, "ct": …}`. `blob` is a data key
//! from `GenerateDataKey` on the configured KMS key with the encryption context
//! `{"s3crypt:purpose": "sse-s3-root-keys"}`; `ct` is the root-key document (`roots.json`'s text)
//! under AES-256-GCM with that data key, the `iv` and the AAD `s3crypt sse-s3 root keys v1`. Reading it
//! takes one KMS `Decrypt`, and only when the object's ETag changed. A rotation replaces the object with
//! `If-Match` on the ETag it read, so two instances rotating at once both keep their version.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use super::{SharedRoots, TaggedDocument};
use crate::kms::{DecryptRequest, EncryptionContext, GenerateDataKeyRequest, Kms};
use crate::primitives::{Aes256Gcm, random_array};
use crate::s3::S3Error;
use crate::store::upstream::{StateCondition, UpstreamStore};

/// The state bucket object holding the sealed root keys.
pub const SEALED_ROOTS_KEY: &str = "sse/roots.sealed";
const AAD: &[u8] = b"s3crypt sse-s3 root keys v1";

/// The root keys sealed under `key_id` in `store`'s state bucket.
pub struct SealedRoots {
    store: UpstreamStore,
    kms: Arc<dyn Kms>,
    key_id: String,
}

impl std::fmt::Debug for SealedRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRoots")
            .field("store", &self.store)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    version: u32,
    key_id: String,
    blob: String,
    iv: String,
    ct: String,
}

fn context() -> EncryptionContext {
    EncryptionContext::from([("s3crypt:purpose".to_owned(), "sse-s3-root-keys".to_owned())])
}

fn corrupt(what: &str) -> S3Error {
    S3Error::internal(format!(
        "the sealed SSE-S3 root keys ({SEALED_ROOTS_KEY} in the state bucket) are corrupt: {what}"
    ))
}

impl SealedRoots {
    /// Root keys in `store`'s state bucket, sealed under the KMS key `key_id` of `kms`.
    #[must_use]
    pub fn new(store: UpstreamStore, kms: Arc<dyn Kms>, key_id: impl Into<String>) -> Self {
        Self {
            store,
            kms,
            key_id: key_id.into(),
        }
    }
}

impl SharedRoots for SealedRoots {
    fn load(&self) -> Result<Option<TaggedDocument>, S3Error> {
        let Some((bytes, etag)) = self.store.get_state(SEALED_ROOTS_KEY)? else {
            return Ok(None);
        };
        let s: Sealed = serde_json::from_slice(&bytes).map_err(|_| corrupt("not JSON"))?;
        if s.version != 1 {
            return Err(corrupt("unknown version"));
        }
        let blob = B64.decode(&s.blob).map_err(|_| corrupt("blob"))?;
        let iv: [u8; 12] = B64
            .decode(&s.iv)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| corrupt("iv"))?;
        let ct = B64.decode(&s.ct).map_err(|_| corrupt("ciphertext"))?;
        let mut req = DecryptRequest::new(blob, context());
        req.key_id = Some(s.key_id);
        let dk = self.kms.decrypt(&req).map_err(|e| {
            S3Error::internal(format!("the KMS cannot unseal the SSE-S3 root keys: {e}"))
        })?;
        let key: &[u8; 32] = dk
            .plaintext
            .expose_secret()
            .try_into()
            .map_err(|_| corrupt("data key length"))?;
        let doc = Aes256Gcm::new(key)
            .open(&iv, AAD, &ct)
            .map_err(|_| corrupt("authentication failed"))?;
        Ok(Some((Zeroizing::new(doc), etag)))
    }

    fn tag(&self) -> Result<Option<String>, S3Error> {
        Ok(self.store.state_etag(SEALED_ROOTS_KEY)?)
    }

    fn store(&self, document: &[u8], expected: Option<&str>) -> Result<bool, S3Error> {
        let dk = self
            .kms
            .generate_data_key(&GenerateDataKeyRequest::aes256(&self.key_id, context()))
            .map_err(|e| {
                S3Error::internal(format!(
                    "the KMS cannot seal the SSE-S3 root keys under {}: {e}",
                    self.key_id
                ))
            })?;
        let key: &[u8; 32] =
            dk.plaintext.expose_secret().try_into().map_err(|_| {
                S3Error::internal("the KMS returned a data key of the wrong length")
            })?;
        let iv = random_array::<12>()
            .map_err(|e| S3Error::internal_because("random number generator failed", e))?;
        let ct = Aes256Gcm::new(key)
            .seal(&iv, AAD, document)
            .map_err(|e| S3Error::internal_because("sealing the root keys", e))?;
        let sealed = Sealed {
            version: 1,
            key_id: dk.key_id,
            blob: B64.encode(&dk.ciphertext_blob),
            iv: B64.encode(iv),
            ct: B64.encode(ct),
        };
        let body = serde_json::to_vec(&sealed).map_err(|e| S3Error::internal_because("JSON", e))?;
        let condition = match expected {
            Some(tag) => StateCondition::Etag(tag.to_owned()),
            None => StateCondition::Absent,
        };
        Ok(self
            .store
            .put_state(SEALED_ROOTS_KEY, body, Some(condition))?)
    }
}
