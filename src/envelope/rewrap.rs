//! Re-wrapping: moving an object's data key to another KMS key or AES wrapping key without touching its
//! body, as the official Java client's `reEncryptInstructionFile` does for instruction files.
//!
//! Only the wrapping mapkeys change (`docs/FORMAT.md` §1.3, §1.4):
//!
//! | format | replaced | kept as they are |
//! |---|---|---|
//! | V3 | `x-amz-3`, `x-amz-w`, `x-amz-t` / `x-amz-m` | `x-amz-c`, `x-amz-d` (the key commitment), `x-amz-i`, every other key |
//! | V2 | `x-amz-key-v2`, `x-amz-wrap-alg`, `x-amz-matdesc` | `x-amz-cek-alg`, `x-amz-iv`, `x-amz-tag-len`, every other key |
//!
//! The data key itself does not change, so the body and the V3 key commitment (computed from the data
//! key and the message id) stay valid. Before anything is written the new metadata is opened the way a
//! decryption opens it, with the new key: the data key must unwrap and, for V3, match the stored
//! commitment in constant time. A tampered commitment or message id, a wrong old key or an unreachable
//! new key therefore fail before any file changes.
//!
//! For a local object ([`Rewrap::file`]) the sidecar and instruction file are replaced through
//! [`crate::fsutil::commit_group`]: at every instant the old metadata or the new is on disk, and the body
//! file is only read for its path, never opened.
//!
//! ```
//! use std::collections::BTreeMap;
//! use s3crypt::envelope::rewrap::{NewKey, Rewrap};
//! use s3crypt::envelope::{AesKeyring, CommitmentPolicy, Decryptor, Encryptor, Format};
//! use s3crypt::keys::KeyEncryptionKey;
//!
//! let old = KeyEncryptionKey::generate()?;
//! let new = KeyEncryptionKey::generate()?;
//! let old_ring = AesKeyring::new(KeyEncryptionKey::from_bytes(*old.expose_secret()), BTreeMap::new());
//! let enc = Encryptor::new(&old_ring, Format::V3, &BTreeMap::new(), CommitmentPolicy::default())?;
//! let metadata = enc.metadata();
//! let body = enc.encrypt_to_vec(b"audited")?;
//!
//! let rewrapped = Rewrap::new(&old_ring, NewKey::Aes(&new)).metadata(&metadata)?;
//! let new_ring = AesKeyring::new(new, BTreeMap::new());
//! let d = Decryptor::new(&new_ring, &rewrapped, CommitmentPolicy::default(), None)?;
//! assert_eq!(d.decrypt_to_vec(&body)?, b"audited");
//! assert!(Decryptor::new(&old_ring, &rewrapped, CommitmentPolicy::default(), None).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::file::{INSTRUCTION_SUFFIX, METADATA_SUFFIX, parse_map, with_suffix};
use super::keyring::{AesKeyring, Keyring, KmsKeyring, RESERVED_CEK_ALG, cek_alg};
use super::metadata::{
    ContentMetadata, Format, MetadataMap, V2_KEY, V2_MATDESC, V2_WRAP, V3_CONTEXT, V3_KEY,
    V3_MATDESC, V3_WRAP, WrapAlg, merge_instruction_file,
};
use super::stream::Decryptor;
use super::{CommitmentPolicy, EnvelopeError};
use crate::fsutil::{self, Destination, Staged};
use crate::keys::{DataKey, KeyEncryptionKey, SecretBytes};
use crate::kms::{EncryptRequest, EncryptionContext, Kms};
use crate::primitives::{Aes256Gcm, random_array};

/// The legacy V1 `kms` context key, dropped from a carried-over context like the reserved key.
const LEGACY_CMK_ID: &str = "kms_cmk_id";

/// The mapkey marking an instruction file (written by the Java client), kept as it is.
const INSTRUCTION_MARKER: &str = "x-amz-crypto-instr-file";

/// The key the data key is re-wrapped under.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum NewKey<'a> {
    /// `kms+context`: KMS `Encrypt` of the data key under `key_id` (id, ARN, alias or alias ARN), with
    /// the encryption context plus the reserved `aws:x-amz-cek-alg` the format requires.
    Kms {
        /// The KMS holding the new key.
        kms: &'a dyn Kms,
        /// The new key.
        key_id: &'a str,
    },
    /// `AES/GCM`: a raw AES-256 wrapping key (the official clients' `AesKeyring`).
    Aes(&'a KeyEncryptionKey),
}

impl std::fmt::Debug for NewKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Kms { key_id, .. } => f
                .debug_struct("Kms")
                .field("key_id", key_id)
                .finish_non_exhaustive(),
            Self::Aes(_) => f.write_str("Aes(..)"),
        }
    }
}

/// What [`Rewrap::file`] and [`Rewrap::metadata_file`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RewrapReport {
    /// The object's format (unchanged).
    pub format: Format,
    /// The old wrapping.
    pub from: WrapAlg,
    /// The new wrapping.
    pub to: WrapAlg,
    /// The metadata files replaced.
    pub written: Vec<PathBuf>,
}

/// A re-wrap from one key to another: configure, then apply it to metadata ([`Rewrap::metadata`]) or to
/// a local object's sidecar and instruction file ([`Rewrap::file`]).
pub struct Rewrap<'a> {
    old: &'a dyn Keyring,
    new: NewKey<'a>,
    old_context: Option<&'a EncryptionContext>,
    new_context: Option<EncryptionContext>,
    policy: CommitmentPolicy,
}

impl std::fmt::Debug for Rewrap<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrap")
            .field("new", &self.new)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<'a> Rewrap<'a> {
    /// Unwraps with `old`, wraps with `new`. By default only V3 objects are accepted (as decryption's
    /// default policy), no encryption context is checked, and the stored context (KMS encryption context
    /// or material description, without the reserved keys) is carried over to the new wrapping.
    #[must_use]
    pub fn new(old: &'a dyn Keyring, new: NewKey<'a>) -> Self {
        Self {
            old,
            new,
            old_context: None,
            new_context: None,
            policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
        }
    }

    /// The context the object must have been wrapped with (checked as decryption checks it).
    #[must_use]
    pub fn old_context(mut self, context: &'a EncryptionContext) -> Self {
        self.old_context = Some(context);
        self
    }

    /// The context of the new wrapping (the KMS encryption context, or the material description of an
    /// AES key) instead of the stored one.
    #[must_use]
    pub fn new_context(mut self, context: EncryptionContext) -> Self {
        self.new_context = Some(context);
        self
    }

    /// Which formats are accepted ([`CommitmentPolicy::RequireEncryptAllowDecrypt`] to accept V2). The
    /// format of the object never changes.
    #[must_use]
    pub fn policy(mut self, policy: CommitmentPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Returns `metadata` (object metadata with any instruction file merged in) with the data key
    /// re-wrapped; every mapkey other than the wrapping ones is kept.
    ///
    /// # Errors
    /// [`EnvelopeError`]: malformed metadata, a format the policy refuses (V1 is never re-wrapped: it has
    /// no integrity protection; re-encrypt it instead), the old key or context does not match, the new
    /// KMS key refuses `Encrypt` or `Decrypt`, a reserved or non-ASCII new context, or
    /// [`EnvelopeError::CommitmentMismatch`] if the stored V3 commitment does not match the data key.
    pub fn metadata(&self, metadata: &MetadataMap) -> Result<MetadataMap, EnvelopeError> {
        self.rewrap(metadata).map(|(_, _, m)| m)
    }

    /// Re-wraps the local object whose body is `body`: its metadata sidecar (`BODY.metadata.json`), merged
    /// with its instruction file (`BODY.instruction`) if it has one, is rewritten. The wrapping mapkeys
    /// stay in the file that held the wrapped key (the instruction file, with the §1.8 split), every other
    /// mapkey where it was. The body is not opened.
    ///
    /// # Errors
    /// As [`Rewrap::metadata`]; I/O errors reading or replacing the sidecars. On any error the metadata
    /// on disk is the old one.
    pub fn file(&self, body: &Path) -> Result<RewrapReport, EnvelopeError> {
        let sidecar_path = sidecar_destination(&with_suffix(body, METADATA_SUFFIX))?;
        let instruction_path = sidecar_destination(&with_suffix(body, INSTRUCTION_SUFFIX))?;
        // Complete any interrupted replacement of this object (or of its metadata) first.
        for p in [body, sidecar_path.path(), instruction_path.path()] {
            if let Ok(Destination::Regular(p)) = Destination::of(p) {
                fsutil::recover(&p)?;
            }
        }
        let object = read_map(sidecar_path.path(), "metadata sidecar")?.ok_or_else(|| {
            EnvelopeError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "metadata sidecar {}: not found",
                    sidecar_path.path().display()
                ),
            ))
        })?;
        let instruction = read_map(instruction_path.path(), "instruction file")?;
        let merged = match &instruction {
            Some(i) => merge_instruction_file(&object, i)?,
            None => object.clone(),
        };
        let (from, to, new) = self.rewrap(&merged)?;
        let format = ContentMetadata::parse(&new)?.format;

        // Each kept mapkey stays where it was; the new wrapping mapkeys go where the wrapped key was.
        let home_is_instruction = instruction
            .as_ref()
            .is_some_and(|i| i.contains_key(V3_KEY) || i.contains_key(V2_KEY));
        let mut new_object = MetadataMap::new();
        let mut new_instruction = MetadataMap::new();
        for (k, v) in new {
            let to_instruction = if object.contains_key(&k) {
                false
            } else if instruction.as_ref().is_some_and(|i| i.contains_key(&k)) {
                true
            } else {
                home_is_instruction
            };
            if to_instruction {
                new_instruction.insert(k, v);
            } else {
                new_object.insert(k, v);
            }
        }
        let mut staged = Vec::new();
        if new_object != object {
            staged.push(staged_json(sidecar_path.path(), &new_object)?);
        }
        if let Some(old_instruction) = &instruction {
            if let Some(marker) = old_instruction.get(INSTRUCTION_MARKER) {
                new_instruction.insert(INSTRUCTION_MARKER.into(), marker.clone());
            }
            if &new_instruction != old_instruction {
                staged.push(staged_json(instruction_path.path(), &new_instruction)?);
            }
        }
        let written = staged.iter().map(|s| s.dest().to_owned()).collect();
        fsutil::commit_group(staged, &[])?;
        Ok(RewrapReport {
            format,
            from,
            to,
            written,
        })
    }

    /// Re-wraps a standalone metadata document (`decrypt --metadata FILE`), replacing it atomically.
    ///
    /// # Errors
    /// As [`Rewrap::file`].
    pub fn metadata_file(&self, path: &Path) -> Result<RewrapReport, EnvelopeError> {
        let dest = sidecar_destination(path)?;
        let old = read_map(dest.path(), "metadata file")?.ok_or_else(|| {
            EnvelopeError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("metadata file {}: not found", path.display()),
            ))
        })?;
        let (from, to, new) = self.rewrap(&old)?;
        let format = ContentMetadata::parse(&new)?.format;
        fsutil::commit_group(vec![staged_json(dest.path(), &new)?], &[])?;
        Ok(RewrapReport {
            format,
            from,
            to,
            written: vec![dest.path().to_owned()],
        })
    }

    fn rewrap(
        &self,
        metadata: &MetadataMap,
    ) -> Result<(WrapAlg, WrapAlg, MetadataMap), EnvelopeError> {
        let md = ContentMetadata::parse(metadata)?;
        if md.format == Format::V1 {
            return Err(EnvelopeError::UnsupportedFormat(
                "re-wrapping V1 (AES/CBC, unauthenticated) objects: decrypt and re-encrypt them instead"
                    .into(),
            ));
        }
        if !self.policy.allows_decrypt(md.format) {
            return Err(EnvelopeError::CommitmentPolicy {
                format: md.format,
                policy: self.policy,
            });
        }
        let data_key = self.old.on_decrypt(&md, self.old_context)?;
        let context = match &self.new_context {
            Some(c) => c.clone(),
            None => md
                .context
                .iter()
                .filter(|(k, _)| k.as_str() != RESERVED_CEK_ALG && k.as_str() != LEGACY_CMK_ID)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        check_context(&context)?;
        let (encrypted_key, wrap, stored_context) = self.wrap(md.format, &data_key, &context)?;
        drop(data_key);

        let mut new_md = md.clone();
        new_md.encrypted_key = encrypted_key;
        new_md.wrap = wrap;
        new_md.context = stored_context;
        let rendered = new_md.to_map();
        let wrapping_keys: &[&str] = match md.format {
            Format::V3 => &[V3_KEY, V3_WRAP, V3_CONTEXT, V3_MATDESC],
            _ => &[V2_KEY, V2_WRAP, V2_MATDESC],
        };
        let mut out = metadata.clone();
        for k in wrapping_keys {
            out.remove(*k);
            if let Some(v) = rendered.get(*k) {
                out.insert((*k).to_owned(), v.clone());
            }
        }

        // Open the result as a decryption would, with the new key: the data key must unwrap and match the
        // V3 commitment (`docs/FORMAT.md` §1.5) before anything is written.
        match self.new {
            NewKey::Kms { kms, key_id } => {
                let ring = KmsKeyring::new(kms, key_id);
                Decryptor::new(&ring, &out, self.policy, Some(&context))?;
            }
            NewKey::Aes(key) => {
                let ring = AesKeyring::new(
                    KeyEncryptionKey::from_bytes(*key.expose_secret()),
                    BTreeMap::new(),
                );
                Decryptor::new(&ring, &out, self.policy, Some(&context))?;
            }
        }
        Ok((md.wrap, wrap, out))
    }

    /// Wraps `data_key` under the new key: (encrypted key, wrapping, stored context).
    fn wrap(
        &self,
        format: Format,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<(Vec<u8>, WrapAlg, EncryptionContext), EnvelopeError> {
        match self.new {
            NewKey::Kms { kms, key_id } => {
                let mut ec = context.clone();
                ec.insert(RESERVED_CEK_ALG.into(), cek_alg(format).into());
                let req = EncryptRequest::new(
                    key_id,
                    SecretBytes::new(data_key.expose_secret().to_vec()),
                    ec.clone(),
                );
                let r = kms.encrypt(&req)?;
                Ok((r.ciphertext_blob, WrapAlg::KmsContext, ec))
            }
            NewKey::Aes(key) => {
                // `IV(12) ‖ AES-256-GCM(key, IV, aad = cek alg, data key) ‖ tag(16)` (`docs/FORMAT.md` §1.7).
                let iv = random_array::<12>().map_err(|_| EnvelopeError::Rng)?;
                let sealed = Aes256Gcm::new(key.expose_secret())
                    .seal(&iv, cek_alg(format).as_bytes(), data_key.expose_secret())
                    .map_err(|_| EnvelopeError::Rng)?;
                let mut encrypted_key = iv.to_vec();
                encrypted_key.extend_from_slice(&sealed);
                Ok((encrypted_key, WrapAlg::AesGcm, context.clone()))
            }
        }
    }
}

/// The new context goes into S3 user metadata (US-ASCII) and must not name the reserved key.
fn check_context(context: &EncryptionContext) -> Result<(), EnvelopeError> {
    if context.contains_key(RESERVED_CEK_ALG) {
        return Err(EnvelopeError::ReservedContextKey(RESERVED_CEK_ALG));
    }
    match context.iter().find(|(k, v)| !k.is_ascii() || !v.is_ascii()) {
        Some((k, _)) => Err(EnvelopeError::NonAsciiContext(k.clone())),
        None => Ok(()),
    }
}

/// A metadata file destination: nothing or a regular file (through a link), never a device or FIFO.
fn sidecar_destination(path: &Path) -> Result<Destination, EnvelopeError> {
    match Destination::of(path)? {
        Destination::Special(p) => Err(EnvelopeError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", p.display()),
        ))),
        d => Ok(d),
    }
}

/// Reads a metadata JSON document; `None` if it does not exist.
fn read_map(path: &Path, what: &str) -> Result<Option<MetadataMap>, EnvelopeError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_map(&text, path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EnvelopeError::Io(io::Error::new(
            e.kind(),
            format!("{what} {}: {e}", path.display()),
        ))),
    }
}

/// A new version of a metadata document, in the sidecar format of [`super::file`].
fn staged_json(dest: &Path, map: &MetadataMap) -> Result<Staged, EnvelopeError> {
    let mut tmp = Staged::new_private(dest)?;
    serde_json::to_writer_pretty(tmp.file_mut(), map).map_err(io::Error::other)?;
    tmp.file_mut().write_all(b"\n")?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Encryptor;
    use crate::kms::{CreateKeyRequest, MockKms};

    fn aes_ring(key: &KeyEncryptionKey) -> AesKeyring {
        AesKeyring::new(
            KeyEncryptionKey::from_bytes(*key.expose_secret()),
            BTreeMap::new(),
        )
    }

    fn new_kms_key(kms: &MockKms) -> String {
        kms.create_key(&CreateKeyRequest::default())
            .expect("create key")
            .key_metadata
            .key_id
    }

    fn encrypt(
        ring: &dyn Keyring,
        format: Format,
        ctx: &EncryptionContext,
    ) -> (MetadataMap, Vec<u8>) {
        let policy = match format {
            Format::V2 => CommitmentPolicy::ForbidEncryptAllowDecrypt,
            _ => CommitmentPolicy::RequireEncryptRequireDecrypt,
        };
        let e = Encryptor::new(ring, format, ctx, policy).expect("encryptor");
        let m = e.metadata();
        (m, e.encrypt_to_vec(b"rewrap me").expect("encrypt"))
    }

    #[test]
    fn kms_to_kms_keeps_commitment_and_context() {
        let kms = MockKms::in_memory();
        let (k1, k2) = (new_kms_key(&kms), new_kms_key(&kms));
        let ctx: EncryptionContext = [("tenant".to_owned(), "t1".to_owned())].into();
        let old = KmsKeyring::new(&kms, k1.as_str());
        let (m, body) = encrypt(&old, Format::V3, &ctx);
        let out = Rewrap::new(
            &old,
            NewKey::Kms {
                kms: &kms,
                key_id: &k2,
            },
        )
        .metadata(&m)
        .expect("rewrap");
        for k in ["x-amz-c", "x-amz-d", "x-amz-i", "x-amz-w", "x-amz-t"] {
            assert_eq!(out.get(k), m.get(k), "{k}");
        }
        assert_ne!(out.get("x-amz-3"), m.get("x-amz-3"));
        let new = KmsKeyring::new(&kms, k2.as_str());
        let d = Decryptor::new(&new, &out, CommitmentPolicy::default(), Some(&ctx)).expect("new");
        assert_eq!(d.decrypt_to_vec(&body).expect("decrypt"), b"rewrap me");
        assert!(matches!(
            Decryptor::new(&old, &out, CommitmentPolicy::default(), None),
            Err(EnvelopeError::Kms(_))
        ));
    }

    #[test]
    fn kms_to_aes_moves_the_context_to_the_material_description() {
        let kms = MockKms::in_memory();
        let k1 = new_kms_key(&kms);
        let ctx: EncryptionContext = [("dept".to_owned(), "audit".to_owned())].into();
        let old = KmsKeyring::new(&kms, k1.as_str());
        let (m, body) = encrypt(&old, Format::V3, &ctx);
        let key = KeyEncryptionKey::generate().expect("key");
        let out = Rewrap::new(&old, NewKey::Aes(&key))
            .metadata(&m)
            .expect("rewrap");
        assert_eq!(out.get("x-amz-w").map(String::as_str), Some("02"));
        assert!(!out.contains_key("x-amz-t"));
        assert_eq!(
            out.get("x-amz-m").map(String::as_str),
            Some(r#"{"dept":"audit"}"#)
        );
        let d = Decryptor::new(
            &aes_ring(&key),
            &out,
            CommitmentPolicy::default(),
            Some(&ctx),
        )
        .expect("new");
        assert_eq!(d.decrypt_to_vec(&body).expect("decrypt"), b"rewrap me");
    }

    #[test]
    fn v2_aes_to_aes_with_the_v2_policy_only() {
        let (k1, k2) = (
            KeyEncryptionKey::generate().expect("key"),
            KeyEncryptionKey::generate().expect("key"),
        );
        let (m, body) = encrypt(&aes_ring(&k1), Format::V2, &BTreeMap::new());
        let old = aes_ring(&k1);
        assert!(matches!(
            Rewrap::new(&old, NewKey::Aes(&k2)).metadata(&m),
            Err(EnvelopeError::CommitmentPolicy { .. })
        ));
        let out = Rewrap::new(&old, NewKey::Aes(&k2))
            .policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
            .metadata(&m)
            .expect("rewrap");
        assert_eq!(out.get("x-amz-iv"), m.get("x-amz-iv"));
        let d = Decryptor::new(
            &aes_ring(&k2),
            &out,
            CommitmentPolicy::RequireEncryptAllowDecrypt,
            None,
        )
        .expect("new");
        assert_eq!(d.decrypt_to_vec(&body).expect("decrypt"), b"rewrap me");
        assert!(matches!(
            Decryptor::new(
                &old,
                &out,
                CommitmentPolicy::RequireEncryptAllowDecrypt,
                None
            ),
            Err(EnvelopeError::WrongKey)
        ));
    }

    #[test]
    fn refuses_a_tampered_commitment_a_wrong_key_and_reserved_context() {
        let (k1, k2) = (
            KeyEncryptionKey::generate().expect("key"),
            KeyEncryptionKey::generate().expect("key"),
        );
        let (mut m, _) = encrypt(&aes_ring(&k1), Format::V3, &BTreeMap::new());
        let old = aes_ring(&k1);
        assert!(matches!(
            Rewrap::new(&aes_ring(&k2), NewKey::Aes(&k2)).metadata(&m),
            Err(EnvelopeError::WrongKey)
        ));
        let reserved: EncryptionContext = [(RESERVED_CEK_ALG.to_owned(), "115".to_owned())].into();
        assert!(matches!(
            Rewrap::new(&old, NewKey::Aes(&k2))
                .new_context(reserved)
                .metadata(&m),
            Err(EnvelopeError::ReservedContextKey(_))
        ));
        // Another message id: the stored commitment no longer matches the data key.
        m.insert(
            "x-amz-i".into(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 28]),
        );
        assert!(matches!(
            Rewrap::new(&old, NewKey::Aes(&k2)).metadata(&m),
            Err(EnvelopeError::CommitmentMismatch)
        ));
    }
}
