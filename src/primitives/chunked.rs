//! Chunked authenticated encryption: C2SP chunked-encryption v1 ("Cobblestone-256") over AES-256-GCM.
//!
//! Specification: <https://c2sp.org/chunked-encryption>. A message is split into 16 KiB chunks, the last
//! one always shorter (possibly empty), which marks the end without a flag. Each chunk is sealed with
//! AES-256-GCM under a per-message key and `base_nonce XOR BE96(chunk_index)`, with empty AAD. The per-message
//! key, base nonce and a 32-byte key commitment come from HKDF-Expand-SHA512 over the input key, a random
//! 24-byte salt and an application context:
//!
//! ```text
//! ciphertext = salt(24) ‖ commitment(32) ‖ GCM(chunk 0) ‖ … ‖ GCM(final chunk)
//! key(32) ‖ base_nonce(12) ‖ commitment(32) = HKDF-Expand-SHA512(prk = input_key,
//!         info = "c2sp.org/chunked-encryption@v1+" ‖ "AEAD_AES_256_GCM" ‖ 0x00 ‖ salt ‖ context)
//! ```
//!
//! Truncation, extension, reordering and duplication of chunks are all detected: chunk `k` only opens
//! under nonce `k`, and only the final chunk may be short. Each chunk is independently authenticated, so a
//! range can be read (and verified) by opening only the chunks that cover it.
//!
//! [`ChunkKey`] is the "raw mode" of the spec (a key and base nonce supplied by a higher-level protocol);
//! [`seal`] and [`open`] are the full construction with salt and commitment.

use std::fmt;

use zeroize::Zeroize;

use super::aead::{Aes256Gcm, KEY_LEN, NONCE_LEN, TAG_LEN};
use super::{ct_eq, kdf, rng};

/// Plaintext bytes per full chunk.
pub const CHUNK_SIZE: usize = 16 * 1024;
/// Encrypted bytes per full chunk.
pub const ENCRYPTED_CHUNK_SIZE: usize = CHUNK_SIZE + TAG_LEN;
/// Salt length.
pub const SALT_LEN: usize = 24;
/// Key-commitment length.
pub const COMMITMENT_LEN: usize = 32;
/// Header length: salt ‖ commitment.
pub const HEADER_LEN: usize = SALT_LEN + COMMITMENT_LEN;
/// Chunk indices must stay below 2^38 (spec: "MUST abort").
pub const MAX_CHUNKS: u64 = 1 << 38;

const INFO_PREFIX: &[u8] = b"c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM\x00";

/// Why a chunked operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkedError {
    /// The input key is not 32 bytes.
    InvalidKeyLength,
    /// The ciphertext length is impossible for this format (missing header, a partial tag, or no short
    /// final chunk): it was truncated or extended.
    Truncated,
    /// The key commitment or a chunk tag did not verify: wrong key, wrong context, or tampered,
    /// reordered or duplicated data. Deliberately opaque.
    Authentication,
    /// The message would need 2^38 chunks or more.
    MessageTooLong,
    /// The operating system's RNG failed while drawing the salt.
    Rng,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidKeyLength => "chunked encryption needs a 32-byte input key",
            Self::Truncated => "ciphertext length is invalid: truncated or extended",
            Self::Authentication => "authentication failed",
            Self::MessageTooLong => "message exceeds 2^38 chunks",
            Self::Rng => "the operating system's random number generator failed",
        })
    }
}

impl std::error::Error for ChunkedError {}

/// A per-message chunk key and base nonce (the spec's raw mode). Zeroized on drop.
#[derive(Clone)]
pub struct ChunkKey {
    aead: Aes256Gcm,
    base_nonce: [u8; NONCE_LEN],
}

impl fmt::Debug for ChunkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChunkKey([REDACTED])")
    }
}

impl Drop for ChunkKey {
    fn drop(&mut self) {
        self.base_nonce.zeroize();
    }
}

impl ChunkKey {
    /// Raw mode: a key and base nonce supplied by a higher-level protocol. Both MUST be uniformly random and
    /// used for one message only.
    #[must_use]
    pub fn from_raw(key: &[u8; KEY_LEN], base_nonce: &[u8; NONCE_LEN]) -> Self {
        Self {
            aead: Aes256Gcm::new(key),
            base_nonce: *base_nonce,
        }
    }

    /// Derives the message key, base nonce and commitment from `input_key`, `salt` and `context`.
    #[must_use]
    pub fn derive(
        input_key: &[u8; KEY_LEN],
        salt: &[u8; SALT_LEN],
        context: &[u8],
    ) -> (Self, [u8; COMMITMENT_LEN]) {
        let mut okm = [0u8; KEY_LEN + NONCE_LEN + COMMITMENT_LEN];
        // 76 bytes is far below HKDF-SHA512's limit of 16,320.
        if kdf::hkdf_expand_sha512(input_key, &[INFO_PREFIX, salt, context], &mut okm).is_err() {
            unreachable!("76 bytes of HKDF-SHA512 output are always available");
        }
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(&okm[..KEY_LEN]);
        let mut base_nonce = [0u8; NONCE_LEN];
        base_nonce.copy_from_slice(&okm[KEY_LEN..KEY_LEN + NONCE_LEN]);
        let mut commitment = [0u8; COMMITMENT_LEN];
        commitment.copy_from_slice(&okm[KEY_LEN + NONCE_LEN..]);
        let this = Self::from_raw(&key, &base_nonce);
        key.zeroize();
        okm.zeroize();
        (this, commitment)
    }

    /// The nonce of chunk `index`: the base nonce XOR the big-endian index.
    ///
    /// # Errors
    /// [`ChunkedError::MessageTooLong`] if `index >= 2^38`.
    pub fn nonce(&self, index: u64) -> Result<[u8; NONCE_LEN], ChunkedError> {
        if index >= MAX_CHUNKS {
            return Err(ChunkedError::MessageTooLong);
        }
        let mut n = self.base_nonce;
        for (b, i) in n[NONCE_LEN - 8..].iter_mut().zip(index.to_be_bytes()) {
            *b ^= i;
        }
        Ok(n)
    }

    /// Seals chunk `index` in place and returns its tag. The caller guarantees the chunking rule: every
    /// chunk but the last is exactly [`CHUNK_SIZE`] bytes and the last is shorter.
    ///
    /// # Errors
    /// [`ChunkedError::MessageTooLong`] for an index at or beyond 2^38.
    pub fn seal_chunk(&self, index: u64, buf: &mut [u8]) -> Result<[u8; TAG_LEN], ChunkedError> {
        let nonce = self.nonce(index)?;
        self.aead
            .seal_in_place_detached(&nonce, &[], buf)
            .map_err(|_| ChunkedError::MessageTooLong)
    }

    /// Opens chunk `index` in place; `buf` keeps the ciphertext if the tag does not verify.
    ///
    /// # Errors
    /// [`ChunkedError::Authentication`] if the chunk is not chunk `index` of this message.
    pub fn open_chunk(
        &self,
        index: u64,
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), ChunkedError> {
        let nonce = self
            .nonce(index)
            .map_err(|_| ChunkedError::Authentication)?;
        self.aead
            .open_in_place_detached(&nonce, &[], buf, tag)
            .map_err(|_| ChunkedError::Authentication)
    }

    /// Raw mode: seals a whole message into its chunk ciphertexts (no header).
    ///
    /// # Errors
    /// [`ChunkedError::MessageTooLong`] beyond 2^38 chunks.
    pub fn seal_body(&self, msg: &[u8]) -> Result<Vec<u8>, ChunkedError> {
        let len = body_len(msg.len() as u64).ok_or(ChunkedError::MessageTooLong)?;
        let mut out =
            Vec::with_capacity(usize::try_from(len).map_err(|_| ChunkedError::MessageTooLong)?);
        let full = msg.len() / CHUNK_SIZE;
        for (i, chunk) in msg
            .chunks(CHUNK_SIZE)
            .take(full)
            .chain(std::iter::once(&msg[full * CHUNK_SIZE..]))
            .enumerate()
        {
            let start = out.len();
            out.extend_from_slice(chunk);
            let tag = self.seal_chunk(i as u64, &mut out[start..])?;
            out.extend_from_slice(&tag);
        }
        Ok(out)
    }

    /// Raw mode: opens a whole chunked body (no header). Nothing is returned unless every chunk
    /// authenticates and the last one is a proper short final chunk.
    ///
    /// # Errors
    /// [`ChunkedError::Truncated`] for an impossible length, [`ChunkedError::Authentication`] otherwise.
    pub fn open_body(&self, body: &[u8]) -> Result<Vec<u8>, ChunkedError> {
        let pt_len = plaintext_len_of_body(body.len() as u64)?;
        let mut out =
            Vec::with_capacity(usize::try_from(pt_len).map_err(|_| ChunkedError::Truncated)?);
        for (i, chunk) in body.chunks(ENCRYPTED_CHUNK_SIZE).enumerate() {
            let (ct, tag) = chunk.split_at(chunk.len() - TAG_LEN);
            let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| ChunkedError::Truncated)?;
            let start = out.len();
            out.extend_from_slice(ct);
            if let Err(e) = self.open_chunk(i as u64, &mut out[start..], tag) {
                out.zeroize();
                return Err(e);
            }
        }
        Ok(out)
    }
}

/// The encrypted body length (without header) of a `msg_len`-byte message, or `None` past the limit.
#[must_use]
pub fn body_len(msg_len: u64) -> Option<u64> {
    let chunks = msg_len / CHUNK_SIZE as u64 + 1;
    if chunks > MAX_CHUNKS {
        return None;
    }
    msg_len.checked_add(chunks * TAG_LEN as u64)
}

/// The full ciphertext length (header included) of a `msg_len`-byte message, or `None` past the limit.
#[must_use]
pub fn ciphertext_len(msg_len: u64) -> Option<u64> {
    body_len(msg_len)?.checked_add(HEADER_LEN as u64)
}

/// The plaintext length a chunked body of `body_len` bytes must decrypt to.
///
/// # Errors
/// [`ChunkedError::Truncated`] if no message encrypts to that length.
pub fn plaintext_len_of_body(body_len: u64) -> Result<u64, ChunkedError> {
    let full = body_len / ENCRYPTED_CHUNK_SIZE as u64;
    let rem = body_len % ENCRYPTED_CHUNK_SIZE as u64;
    // The final chunk is a tag plus 0..CHUNK_SIZE-1 bytes; a body ending on a chunk boundary lost it.
    if rem < TAG_LEN as u64 {
        return Err(ChunkedError::Truncated);
    }
    if full + 1 > MAX_CHUNKS {
        return Err(ChunkedError::Truncated);
    }
    Ok(full * CHUNK_SIZE as u64 + rem - TAG_LEN as u64)
}

/// Encrypts `msg` under `input_key` and `context` with a fresh random salt.
///
/// # Errors
/// [`ChunkedError::Rng`] if no salt can be drawn, [`ChunkedError::MessageTooLong`] past 2^38 chunks.
pub fn seal(
    input_key: &[u8; KEY_LEN],
    context: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, ChunkedError> {
    let salt = rng::random_array::<SALT_LEN>().map_err(|_| ChunkedError::Rng)?;
    seal_with_salt(input_key, &salt, context, msg)
}

/// Encrypts `msg` with an explicit salt. The salt MUST NOT repeat for an input key; use [`seal`] unless a
/// test needs determinism.
///
/// # Errors
/// [`ChunkedError::MessageTooLong`] past 2^38 chunks.
pub fn seal_with_salt(
    input_key: &[u8; KEY_LEN],
    salt: &[u8; SALT_LEN],
    context: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, ChunkedError> {
    let (key, commitment) = ChunkKey::derive(input_key, salt, context);
    let body = key.seal_body(msg)?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(salt);
    out.extend_from_slice(&commitment);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decrypts a whole chunked ciphertext. The commitment is checked (in constant time) before any chunk is
/// decrypted, and nothing is returned unless every chunk authenticates.
///
/// # Errors
/// [`ChunkedError::InvalidKeyLength`] unless `input_key` is 32 bytes; [`ChunkedError::Truncated`] for an
/// impossible length; [`ChunkedError::Authentication`] for a wrong key or context or tampered data.
pub fn open(input_key: &[u8], context: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, ChunkedError> {
    let input_key: &[u8; KEY_LEN] = input_key
        .try_into()
        .map_err(|_| ChunkedError::InvalidKeyLength)?;
    let key = open_header(input_key, context, ciphertext)?;
    key.open_body(&ciphertext[HEADER_LEN..])
}

/// Checks the header of `ciphertext` and returns the chunk key, for callers that open chunks themselves
/// (streaming or ranged reads).
///
/// # Errors
/// [`ChunkedError::Truncated`] if the header is incomplete, [`ChunkedError::Authentication`] if the
/// commitment does not match this key and context.
pub fn open_header(
    input_key: &[u8; KEY_LEN],
    context: &[u8],
    ciphertext: &[u8],
) -> Result<ChunkKey, ChunkedError> {
    let header = ciphertext
        .get(..HEADER_LEN)
        .ok_or(ChunkedError::Truncated)?;
    let (salt, commitment) = header.split_at(SALT_LEN);
    let salt: &[u8; SALT_LEN] = salt.try_into().map_err(|_| ChunkedError::Truncated)?;
    let (key, expected) = ChunkKey::derive(input_key, salt, context);
    if !ct_eq(&expected, commitment) {
        return Err(ChunkedError::Authentication);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [0x11; 32];
    const SALT: [u8; 24] = [0x22; 24];

    fn msg(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 256) as u8).collect()
    }

    #[test]
    fn round_trip_at_chunk_boundaries() {
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            2 * CHUNK_SIZE + 1,
        ] {
            let m = msg(len);
            let ct = seal_with_salt(&KEY, &SALT, b"ctx", &m).expect("seal");
            assert_eq!(
                ct.len() as u64,
                ciphertext_len(len as u64).expect("len"),
                "len {len}"
            );
            assert_eq!(open(&KEY, b"ctx", &ct).expect("open"), m, "len {len}");
            assert_eq!(open(&KEY, b"ctX", &ct), Err(ChunkedError::Authentication));
        }
    }

    #[test]
    fn truncation_extension_and_reordering_are_rejected() {
        let m = msg(3 * CHUNK_SIZE + 5);
        let ct = seal_with_salt(&KEY, &SALT, b"", &m).expect("seal");
        // Dropping the short final chunk leaves a body that ends on a chunk boundary.
        let no_final = &ct[..HEADER_LEN + 3 * ENCRYPTED_CHUNK_SIZE];
        assert_eq!(open(&KEY, b"", no_final), Err(ChunkedError::Truncated));
        for cut in [
            0,
            1,
            HEADER_LEN - 1,
            HEADER_LEN,
            HEADER_LEN + 15,
            ct.len() - 1,
        ] {
            assert!(open(&KEY, b"", &ct[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = ct.clone();
        longer.extend_from_slice(&[0u8; TAG_LEN]);
        assert!(open(&KEY, b"", &longer).is_err());
        let mut swapped = ct.clone();
        let (a, b) = (HEADER_LEN, HEADER_LEN + ENCRYPTED_CHUNK_SIZE);
        swapped[a..b].copy_from_slice(&ct[b..b + ENCRYPTED_CHUNK_SIZE]);
        swapped[b..b + ENCRYPTED_CHUNK_SIZE].copy_from_slice(&ct[a..b]);
        assert_eq!(open(&KEY, b"", &swapped), Err(ChunkedError::Authentication));
        assert_eq!(
            open(&KEY[..31], b"", &ct),
            Err(ChunkedError::InvalidKeyLength)
        );
    }

    #[test]
    fn length_arithmetic() {
        assert_eq!(body_len(0), Some(16));
        assert_eq!(body_len(CHUNK_SIZE as u64), Some(CHUNK_SIZE as u64 + 32));
        assert_eq!(plaintext_len_of_body(16), Ok(0));
        assert_eq!(plaintext_len_of_body(15), Err(ChunkedError::Truncated));
        assert_eq!(
            plaintext_len_of_body(ENCRYPTED_CHUNK_SIZE as u64),
            Err(ChunkedError::Truncated)
        );
        assert!(plaintext_len_of_body(u64::MAX).is_err());
        for len in [0u64, 1, 16383, 16384, 16385, 1 << 30] {
            assert_eq!(plaintext_len_of_body(body_len(len).expect("len")), Ok(len));
        }
    }
}
