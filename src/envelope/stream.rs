//! Encryptor / Decryptor and their streaming adapters.

use std::io::{self, Read, Seek, SeekFrom, Write};

use rayon::prelude::*;
use zeroize::Zeroizing;

use super::keyring::Keyring;
use super::metadata::{ContentMetadata, Format, MetadataMap};
use super::{CommitmentPolicy, EnvelopeError};
use crate::keys::{DataKey, DerivedKey};
use crate::kms::EncryptionContext;
use crate::primitives::{
    Aes256Ctr, GCM_MAX_PLAINTEXT, GcmStream, TAG_LEN, ct_eq, kdf, random_array,
};
use crate::range::ByteRange;

/// Bytes buffered per encryption or decryption step: the memory bound of the streaming paths (a step
/// this large is processed on all cores).
pub const STREAM_CHUNK: usize = 4 << 20;

const V3_SUITE: [u8; 2] = [0x00, 0x73];
const V3_IV: [u8; 12] = [0x01; 12];

/// V3 key derivation (`docs/FORMAT.md` §1): HKDF-SHA512 with the message id as salt.
fn v3_keys(
    data_key: &DataKey,
    message_id: &[u8; 28],
) -> Result<(DerivedKey, [u8; 28]), EnvelopeError> {
    let mut dek = Zeroizing::new([0u8; 32]);
    let mut commit = [0u8; 28];
    let info = |label: &[u8]| [&V3_SUITE[..], label].concat();
    kdf::hkdf_sha512(
        Some(message_id),
        data_key.expose_secret(),
        &info(b"DERIVEKEY"),
        &mut dek[..],
    )
    .map_err(|_| EnvelopeError::BadDataKey)?;
    kdf::hkdf_sha512(
        Some(message_id),
        data_key.expose_secret(),
        &info(b"COMMITKEY"),
        &mut commit,
    )
    .map_err(|_| EnvelopeError::BadDataKey)?;
    Ok((DerivedKey::from_bytes(*dek), commit))
}

/// Content key, IV and AAD of one object.
struct Content {
    key: DerivedKey,
    iv: [u8; 12],
    aad: &'static [u8],
}

impl Content {
    fn stream(&self) -> GcmStream {
        GcmStream::new(self.key.expose_secret(), &self.iv, self.aad)
    }
}

/// Encrypts one new object. Each `Encryptor` holds a fresh data key and is consumed by use, so a key and
/// IV can never encrypt two messages.
pub struct Encryptor {
    metadata: ContentMetadata,
    content: Content,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("format", &self.metadata.format)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Gets a data key from `keyring` and prepares a `format` object bound to `context`.
    ///
    /// # Errors
    /// [`EnvelopeError::CommitmentPolicy`] if `policy` forbids `format`; keyring errors.
    pub fn new(
        keyring: &dyn Keyring,
        format: Format,
        context: &EncryptionContext,
        policy: CommitmentPolicy,
    ) -> Result<Self, EnvelopeError> {
        if !policy.allows_encrypt(format) {
            return Err(EnvelopeError::CommitmentPolicy { format, policy });
        }
        let materials = keyring.on_encrypt(format, context)?;
        let (content, iv, commitment, message_id) = match format {
            Format::V3 => {
                let message_id = random_array::<28>().map_err(|_| EnvelopeError::Rng)?;
                let (key, commit) = v3_keys(&materials.data_key, &message_id)?;
                (
                    Content {
                        key,
                        iv: V3_IV,
                        aad: &V3_SUITE,
                    },
                    None,
                    Some(commit),
                    Some(message_id),
                )
            }
            Format::V2 => {
                let iv = random_array::<12>().map_err(|_| EnvelopeError::Rng)?;
                let key = DerivedKey::from_bytes(*materials.data_key.expose_secret());
                (Content { key, iv, aad: &[] }, Some(iv), None, None)
            }
            Format::V1 => {
                return Err(EnvelopeError::UnsupportedFormat(
                    "writing V1 objects".into(),
                ));
            }
        };
        let metadata = ContentMetadata {
            format,
            encrypted_key: materials.encrypted_key,
            wrap: materials.wrap,
            context: materials.context,
            iv,
            iv16: None,
            commitment,
            message_id,
        };
        Ok(Self { metadata, content })
    }

    /// The S3 user metadata to store with the object.
    #[must_use]
    pub fn metadata(&self) -> MetadataMap {
        self.metadata.to_map()
    }

    /// Encrypts a whole buffer: `ciphertext ‖ tag`.
    ///
    /// # Errors
    /// [`EnvelopeError::BadLength`] beyond GCM's limit.
    pub fn encrypt_to_vec(self, plaintext: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let mut s = self.content.stream();
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        s.encrypt(&mut out)
            .map_err(|_| EnvelopeError::BadLength(plaintext.len() as u64))?;
        out.extend_from_slice(&s.tag());
        Ok(out)
    }

    /// The GCM message of this object, for the file paths' read–encrypt–write pipeline
    /// ([`super::file`]). Consumes the encryptor, so its key and IV encrypt one message only.
    pub(crate) fn into_stream(self) -> GcmStream {
        self.content.stream()
    }

    /// A writer that encrypts into `inner` with at most [`STREAM_CHUNK`] bytes buffered. The body is
    /// complete only after [`EncryptWriter::finish`], which writes the tag: it MUST be called.
    pub fn writer<W: Write>(self, inner: W) -> EncryptWriter<W> {
        EncryptWriter {
            stream: self.content.stream(),
            buf: Vec::with_capacity(STREAM_CHUNK),
            inner: Some(inner),
        }
    }
}

/// Encrypts everything written to it. [`EncryptWriter::finish`] MUST be called to write the tag;
/// a body without it fails to decrypt (it is detected as truncated, never silently accepted).
pub struct EncryptWriter<W: Write> {
    stream: GcmStream,
    buf: Vec<u8>,
    inner: Option<W>,
}

impl<W: Write> std::fmt::Debug for EncryptWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptWriter")
            .field("written", &self.stream.len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> EncryptWriter<W> {
    /// Keeps all work on the calling thread (default: large steps use the rayon pool).
    #[must_use]
    pub fn sequential(mut self) -> Self {
        self.stream.set_parallel(false);
        self
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.stream
            .encrypt(&mut self.buf)
            .map_err(|_| io::Error::other("object exceeds the AES-GCM limit of 2^36 - 32 bytes"))?;
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::other("writer already finished"))?
            .write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Encrypts what is buffered, writes the tag, flushes, and returns the inner writer.
    ///
    /// # Errors
    /// I/O errors of the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_buf()?;
        let tag = self.stream.tag();
        let mut inner = self
            .inner
            .take()
            .ok_or_else(|| io::Error::other("writer already finished"))?;
        inner.write_all(&tag)?;
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = STREAM_CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == STREAM_CHUNK {
            self.flush_buf()?;
        }
        Ok(n)
    }

    /// Flushes the inner writer; buffered plaintext stays buffered until a full step or `finish`, so the
    /// step boundaries (and thus the parallelism) do not depend on how the caller flushes.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.as_mut().map_or(Ok(()), Write::flush)
    }
}

/// Decrypts objects whose metadata has been checked: the data key is unwrapped and, for V3, the key
/// commitment verified in constant time, before any content is touched.
pub struct Decryptor {
    format: Format,
    content: Content,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Parses `metadata`, applies `policy`, unwraps the data key with `keyring` (checking `context` if
    /// given) and verifies the V3 key commitment.
    ///
    /// # Errors
    /// [`EnvelopeError`]: malformed or mixed metadata, a policy violation, a keyring or KMS failure, or
    /// [`EnvelopeError::CommitmentMismatch`].
    pub fn new(
        keyring: &dyn Keyring,
        metadata: &MetadataMap,
        policy: CommitmentPolicy,
        context: Option<&EncryptionContext>,
    ) -> Result<Self, EnvelopeError> {
        let md = ContentMetadata::parse(metadata)?;
        if md.format == Format::V1 {
            return Err(EnvelopeError::UnsupportedFormat(
                "V1 (AES/CBC, unauthenticated) objects need the explicit legacy opt-in (LegacyV1Decryptor, --allow-legacy-v1)".into(),
            ));
        }
        if !policy.allows_decrypt(md.format) {
            return Err(EnvelopeError::CommitmentPolicy {
                format: md.format,
                policy,
            });
        }
        let data_key = keyring.on_decrypt(&md, context)?;
        let content = match md.format {
            Format::V3 => {
                let (Some(message_id), Some(stored)) = (md.message_id, md.commitment) else {
                    return Err(EnvelopeError::MissingMetadata(
                        super::metadata::V3_COMMITMENT,
                    ));
                };
                let (key, commit) = v3_keys(&data_key, &message_id)?;
                // `docs/FORMAT.md` §1: compare the commitment in constant time before any decryption.
                if !ct_eq(&commit, &stored) {
                    return Err(EnvelopeError::CommitmentMismatch);
                }
                Content {
                    key,
                    iv: V3_IV,
                    aad: &V3_SUITE,
                }
            }
            Format::V2 => {
                let iv = md
                    .iv
                    .ok_or(EnvelopeError::MissingMetadata(super::metadata::V2_IV))?;
                Content {
                    key: DerivedKey::from_bytes(*data_key.expose_secret()),
                    iv,
                    aad: &[],
                }
            }
            Format::V1 => return Err(EnvelopeError::UnsupportedFormat("V1 objects".into())),
        };
        Ok(Self {
            format: md.format,
            content,
        })
    }

    /// A fresh GCM message under this object's content key, for the file paths' one-pass
    /// decrypt-while-authenticating pipeline ([`super::file`]).
    pub(crate) fn stream(&self) -> GcmStream {
        self.content.stream()
    }

    /// The object's format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The plaintext length of a body of `body_len` bytes.
    ///
    /// # Errors
    /// [`EnvelopeError::BadLength`] if no valid body has that length.
    pub fn plaintext_len(body_len: u64) -> Result<u64, EnvelopeError> {
        match body_len.checked_sub(TAG_LEN as u64) {
            Some(n) if n <= GCM_MAX_PLAINTEXT => Ok(n),
            _ => Err(EnvelopeError::BadLength(body_len)),
        }
    }

    /// Decrypts a whole body held in memory. Nothing is returned unless the tag verifies.
    ///
    /// # Errors
    /// [`EnvelopeError::Authentication`] or [`EnvelopeError::BadLength`].
    pub fn decrypt_to_vec(&self, body: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let n = usize::try_from(Self::plaintext_len(body.len() as u64)?)
            .map_err(|_| EnvelopeError::BadLength(body.len() as u64))?;
        let (ct, tag) = body.split_at(n);
        let tag: &[u8; TAG_LEN] = tag
            .try_into()
            .map_err(|_| EnvelopeError::BadLength(body.len() as u64))?;
        let mut s = self.content.stream();
        s.absorb_ciphertext(ct)
            .map_err(|_| EnvelopeError::Authentication)?;
        s.verify(tag).map_err(|_| EnvelopeError::Authentication)?;
        let mut out = ct.to_vec();
        let ctr = Aes256Ctr::new(self.content.key.expose_secret());
        let iv = self.content.iv;
        // The tag verified, so this is the plaintext: CTR in parallel 1 MiB chunks (same keystream offsets).
        out.par_chunks_mut(1 << 20)
            .enumerate()
            .try_for_each(|(i, c)| ctr.apply_gcm_keystream(&iv, (i as u64) << 20, c))
            .map_err(|_| EnvelopeError::Authentication)?;
        Ok(out)
    }

    /// Authenticates a seekable body first (one pass of GHASH over the ciphertext, on all cores), then
    /// returns a reader of the plaintext from the start (a second pass of CTR).
    ///
    /// # Errors
    /// [`EnvelopeError::Authentication`] if the tag does not verify; I/O errors.
    pub fn reader_seekable<R: Read + Seek>(
        &self,
        mut body: R,
    ) -> Result<DecryptReader<R>, EnvelopeError> {
        let body_len = body.seek(SeekFrom::End(0))?;
        let ct_len = Self::plaintext_len(body_len)?;
        body.seek(SeekFrom::Start(0))?;
        let mut s = self.content.stream();
        let mut buf = vec![0u8; STREAM_CHUNK];
        let mut left = ct_len;
        while left > 0 {
            let n = usize::try_from(left.min(STREAM_CHUNK as u64)).unwrap_or(STREAM_CHUNK);
            body.read_exact(&mut buf[..n])?;
            s.absorb_ciphertext(&buf[..n])
                .map_err(|_| EnvelopeError::Authentication)?;
            left -= n as u64;
        }
        let mut tag = [0u8; TAG_LEN];
        body.read_exact(&mut tag)?;
        s.verify(&tag).map_err(|_| EnvelopeError::Authentication)?;
        body.seek(SeekFrom::Start(0))?;
        Ok(DecryptReader {
            inner: body,
            ctr: Aes256Ctr::new(self.content.key.expose_secret()),
            iv: self.content.iv,
            offset: 0,
            left: ct_len,
        })
    }

    /// Reads a whole non-seekable body into memory (at most `limit` bytes of plaintext), authenticates it,
    /// then serves the plaintext.
    ///
    /// # Errors
    /// [`EnvelopeError::TooLargeToBuffer`] past `limit`; [`EnvelopeError::Authentication`].
    pub fn reader_buffered<R: Read>(
        &self,
        body: R,
        limit: u64,
    ) -> Result<io::Cursor<Vec<u8>>, EnvelopeError> {
        let mut all = Vec::new();
        body.take(limit.saturating_add(TAG_LEN as u64 + 1))
            .read_to_end(&mut all)?;
        if all.len() as u64 > limit.saturating_add(TAG_LEN as u64) {
            return Err(EnvelopeError::TooLargeToBuffer { limit });
        }
        Ok(io::Cursor::new(self.decrypt_to_vec(&all)?))
    }

    /// **Opt-in delayed authentication** (S3EC's `enableDelayedAuthenticationMode`): plaintext is returned
    /// as it is decrypted and the tag is checked only at the end of the stream, where a mismatch is an
    /// `InvalidData` error. Everything read before that error is unauthenticated: use only where the
    /// consumer can discard it.
    pub fn reader_delayed_authentication<R: Read>(&self, body: R) -> DelayedAuthReader<R> {
        DelayedAuthReader {
            inner: body,
            stream: self.content.stream(),
            hold: Vec::with_capacity(STREAM_CHUNK + TAG_LEN),
            out: Vec::new(),
            pos: 0,
            done: false,
            failed: false,
        }
    }

    /// Decrypts `range` of the plaintext from a seekable body of `body_len` bytes with AES-CTR at
    /// `IV ‖ BE32(2 + offset/16)` (`docs/FORMAT.md` §1). **The output is not authenticated**: GCM can only
    /// authenticate the whole object. Use [`Decryptor::decrypt_range`] when the whole body
    /// is available locally.
    ///
    /// # Errors
    /// [`EnvelopeError::Range`] for an unsatisfiable range; I/O errors.
    pub fn danger_decrypt_range_unauthenticated<R: Read + Seek>(
        &self,
        mut body: R,
        body_len: u64,
        range: ByteRange,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let (start, end) = range.resolve(Self::plaintext_len(body_len)?)?;
        let len = usize::try_from(end - start).map_err(|_| EnvelopeError::BadLength(body_len))?;
        let mut out = vec![0u8; len];
        body.seek(SeekFrom::Start(start))?;
        body.read_exact(&mut out)?;
        Aes256Ctr::new(self.content.key.expose_secret())
            .apply_gcm_keystream(&self.content.iv, start, &mut out)
            .map_err(|_| EnvelopeError::BadLength(body_len))?;
        Ok(out)
    }

    /// Verifies the whole body's tag, then returns `range` of the plaintext.
    ///
    /// # Errors
    /// [`EnvelopeError::Authentication`]; [`EnvelopeError::Range`]; I/O errors.
    pub fn decrypt_range<R: Read + Seek>(
        &self,
        body: R,
        range: ByteRange,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let mut reader = self.reader_seekable(body)?;
        let (start, end) = range.resolve(reader.left)?;
        let len = usize::try_from(end - start).map_err(|_| EnvelopeError::BadLength(end))?;
        reader.inner.seek(SeekFrom::Start(start))?;
        reader.offset = start;
        reader.left = end - start;
        let mut out = vec![0u8; len];
        reader.read_exact(&mut out)?;
        Ok(out)
    }
}

/// Decrypts legacy V1 objects (AES-256-CBC, PKCS#7): read-only and behind this explicit opt-in, as the
/// official clients gate them behind `enableLegacyUnauthenticatedModes`. **V1 has no integrity
/// protection**: a tampered body is detected only if its padding breaks.
pub struct LegacyV1Decryptor {
    key: DataKey,
    iv: [u8; 16],
}

impl std::fmt::Debug for LegacyV1Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LegacyV1Decryptor { .. }")
    }
}

impl LegacyV1Decryptor {
    /// Parses V1 `metadata` and unwraps its data key with `keyring` (`kms`, `AESWrap` or ECB-wrapped).
    ///
    /// # Errors
    /// [`EnvelopeError`]: not a V1 object, malformed metadata, or a keyring/KMS failure.
    pub fn new(keyring: &dyn Keyring, metadata: &MetadataMap) -> Result<Self, EnvelopeError> {
        let md = ContentMetadata::parse(metadata)?;
        if md.format != Format::V1 {
            return Err(EnvelopeError::UnsupportedFormat(
                "the legacy decryptor reads V1 objects only".into(),
            ));
        }
        let iv = md.iv16.ok_or(EnvelopeError::MissingMetadata("x-amz-iv"))?;
        let key = keyring.on_decrypt(&md, None)?;
        Ok(Self { key, iv })
    }

    /// Decrypts a whole V1 body.
    ///
    /// # Errors
    /// [`EnvelopeError::Authentication`] for a wrong key or corrupt body (when the padding reveals it).
    pub fn decrypt_to_vec(&self, body: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        crate::primitives::legacy::aes256_cbc_pkcs7_decrypt(
            self.key.expose_secret(),
            &self.iv,
            body,
        )
        .map_err(|_| EnvelopeError::Authentication)
    }
}

/// The plaintext of an already authenticated body.
pub struct DecryptReader<R> {
    inner: R,
    ctr: Aes256Ctr,
    iv: [u8; 12],
    offset: u64,
    left: u64,
}

impl<R> std::fmt::Debug for DecryptReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptReader")
            .field("offset", &self.offset)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl<R> DecryptReader<R> {
    /// Plaintext bytes not yet read.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        self.left
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.left.min(buf.len() as u64)).unwrap_or(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the body changed after it was authenticated",
            ));
        }
        self.ctr
            .apply_gcm_keystream(&self.iv, self.offset, &mut buf[..n])
            .map_err(io::Error::other)?;
        self.offset += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

/// The opt-in delayed-authentication reader: see [`Decryptor::reader_delayed_authentication`].
pub struct DelayedAuthReader<R> {
    inner: R,
    stream: GcmStream,
    /// Ciphertext read but not yet decrypted; the last 16 bytes seen may be the tag.
    hold: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
    failed: bool,
}

impl<R> std::fmt::Debug for DelayedAuthReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayedAuthReader")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Read for DelayedAuthReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "authentication failed",
            ));
        }
        while self.pos == self.out.len() && !self.done {
            let start = self.hold.len();
            self.hold.resize(STREAM_CHUNK + TAG_LEN, 0);
            let n = self.inner.read(&mut self.hold[start..])?;
            self.hold.truncate(start + n);
            if n == 0 {
                self.done = true;
                let ok = self.hold.len() == TAG_LEN && {
                    let tag: [u8; TAG_LEN] = self.hold[..].try_into().unwrap_or([0; TAG_LEN]);
                    self.stream.verify(&tag).is_ok()
                };
                if !ok {
                    self.failed = true;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "authentication failed: the data already returned is not authentic",
                    ));
                }
                break;
            }
            if self.hold.len() > TAG_LEN {
                // The two buffers trade places: everything but the last TAG_LEN bytes becomes the output
                // (decrypted in place), and those bytes start the next `hold`. No allocation, no copy of
                // the bulk.
                let ready = self.hold.len() - TAG_LEN;
                let mut tail = [0u8; TAG_LEN];
                tail.copy_from_slice(&self.hold[ready..]);
                std::mem::swap(&mut self.out, &mut self.hold);
                self.out.truncate(ready);
                self.hold.clear();
                self.hold.extend_from_slice(&tail);
                self.pos = 0;
                if self.stream.decrypt_unauthenticated(&mut self.out).is_err() {
                    self.failed = true;
                    self.out.clear();
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "object exceeds the AES-GCM limit",
                    ));
                }
            }
        }
        let n = (self.out.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
