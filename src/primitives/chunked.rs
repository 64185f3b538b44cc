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

/// Chunks sealed or opened per parallel batch (1 MiB of plaintext).
const BATCH: usize = 64;

/// Streams a chunked message (header included) into `W`, sealing 1 MiB batches on all cores. `finish`
/// MUST be called: it writes the short final chunk that marks the end.
pub struct ChunkedWriter<W: std::io::Write> {
    key: ChunkKey,
    inner: W,
    buf: Vec<u8>,
    index: u64,
    written: u64,
}

impl<W: std::io::Write> std::fmt::Debug for ChunkedWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkedWriter")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl<W: std::io::Write> ChunkedWriter<W> {
    /// Starts a message under `input_key` and `context` with a fresh salt, writing the header.
    ///
    /// # Errors
    /// [`ChunkedError::Rng`]; I/O errors are reported as `std::io::Error` by the writes.
    pub fn new(input_key: &[u8; KEY_LEN], context: &[u8], mut inner: W) -> std::io::Result<Self> {
        let salt =
            rng::random_array::<SALT_LEN>().map_err(|e| std::io::Error::other(e.to_string()))?;
        let (key, commitment) = ChunkKey::derive(input_key, &salt, context);
        inner.write_all(&salt)?;
        inner.write_all(&commitment)?;
        Ok(Self {
            key,
            inner,
            buf: Vec::with_capacity(BATCH * CHUNK_SIZE + 1),
            index: 0,
            written: 0,
        })
    }

    /// Plaintext bytes accepted so far.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Seals and writes every full chunk buffered, keeping any partial chunk.
    fn flush_full(&mut self) -> std::io::Result<()> {
        use rayon::prelude::*;
        let full = self.buf.len() / CHUNK_SIZE;
        if full == 0 {
            return Ok(());
        }
        let mut out = vec![0u8; full * ENCRYPTED_CHUNK_SIZE];
        let key = &self.key;
        let base = self.index;
        out.par_chunks_mut(ENCRYPTED_CHUNK_SIZE)
            .zip(self.buf[..full * CHUNK_SIZE].par_chunks(CHUNK_SIZE))
            .enumerate()
            .try_for_each(|(i, (o, p))| {
                let (ct, tag) = o.split_at_mut(CHUNK_SIZE);
                ct.copy_from_slice(p);
                let t = key.seal_chunk(base + i as u64, ct)?;
                tag.copy_from_slice(&t);
                Ok::<(), ChunkedError>(())
            })
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.inner.write_all(&out)?;
        self.index += full as u64;
        self.buf.drain(..full * CHUNK_SIZE);
        Ok(())
    }

    /// Seals the final (short, possibly empty) chunk, flushes, and returns the inner writer.
    ///
    /// # Errors
    /// I/O errors, or a message past 2^38 chunks.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.flush_full()?;
        let mut last = std::mem::take(&mut self.buf);
        let tag = self
            .key
            .seal_chunk(self.index, &mut last)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.inner.write_all(&last)?;
        self.inner.write_all(&tag)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: std::io::Write> std::io::Write for ChunkedWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        // Keep at most one batch plus one byte buffered: a chunk is sealed as full only once a later byte
        // proves it is not the final one.
        let room = (BATCH * CHUNK_SIZE + 1).saturating_sub(self.buf.len());
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        self.written += n as u64;
        if self.buf.len() > BATCH * CHUNK_SIZE {
            // Seal all full chunks except a trailing exact-full one, which may yet be followed by EOF.
            let keep = self.buf.len() % CHUNK_SIZE;
            let keep = if keep == 0 { CHUNK_SIZE } else { keep };
            let cut = self.buf.len() - keep;
            let tail: Vec<u8> = self.buf.split_off(cut);
            self.flush_full()?;
            self.buf.extend_from_slice(&tail);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts plaintext bytes `[start, end)` of a chunked message into `out`, reading only the chunks that
/// cover the range (plus the final chunk, which authenticates the message length) from `body`, whose
/// chunk data begins at byte `chunks_at` and is `chunks_len` bytes long. Chunks are opened in parallel
/// batches, and each is authenticated before any of its bytes reach `out`. The final chunk is checked
/// first, so a truncated or extended message fails before anything is written.
///
/// # Errors
/// `InvalidData` for a truncated, extended, reordered or tampered message; `InvalidInput` for a range
/// outside the message; other I/O errors.
pub fn open_range<R: std::io::Read + std::io::Seek, W: std::io::Write + ?Sized>(
    key: &ChunkKey,
    body: &mut R,
    chunks_at: u64,
    chunks_len: u64,
    start: u64,
    end: u64,
    out: &mut W,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    use std::io::{Error, ErrorKind, SeekFrom};
    let bad = |e: ChunkedError| Error::new(ErrorKind::InvalidData, e.to_string());
    let total = plaintext_len_of_body(chunks_len).map_err(bad)?;
    if start > end || end > total {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "range outside the message",
        ));
    }
    let cs = CHUNK_SIZE as u64;
    let ecs = ENCRYPTED_CHUNK_SIZE as u64;
    let last = total / cs;
    // The final chunk proves the length before any plaintext is released.
    let last_len = chunks_len - last * ecs;
    let mut fin =
        vec![0u8; usize::try_from(last_len).map_err(|_| Error::other("chunk too large"))?];
    body.seek(SeekFrom::Start(chunks_at + last * ecs))?;
    body.read_exact(&mut fin)?;
    let split = fin
        .len()
        .checked_sub(TAG_LEN)
        .ok_or_else(|| bad(ChunkedError::Truncated))?;
    let (ct, tag) = fin.split_at_mut(split);
    let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| Error::other("tag"))?;
    key.open_chunk(last, ct, &tag).map_err(bad)?;
    let final_plain = ct.to_vec();
    if start == end {
        return Ok(());
    }
    let first = start / cs;
    let stop = (end - 1) / cs; // inclusive
    // Writes the part of `plain` (plaintext bytes `[at, at + len)`) that lies inside `[start, end)`.
    let mut emit = |plain: &[u8], at: u64| -> std::io::Result<()> {
        let (lo, hi) = (start.max(at), end.min(at + plain.len() as u64));
        if lo < hi {
            // Both offsets are within `plain`, whose length fits in usize.
            out.write_all(&plain[(lo - at) as usize..(hi - at) as usize])?;
        }
        Ok(())
    };
    let mut idx = first;
    body.seek(SeekFrom::Start(chunks_at + first * ecs))?;
    // One buffer for every batch: opened in place, then written straight from it.
    let mut buf: Vec<u8> = Vec::new();
    while idx <= stop {
        let batch_end = (idx + BATCH as u64 - 1).min(stop);
        let upto = batch_end.min(last.saturating_sub(1)); // the final chunk is already open
        if idx <= upto && idx < last {
            let n = usize::try_from(upto - idx + 1).map_err(|_| Error::other("batch"))?;
            buf.resize(n * ENCRYPTED_CHUNK_SIZE, 0);
            body.read_exact(&mut buf)?;
            buf.par_chunks_mut(ENCRYPTED_CHUNK_SIZE)
                .enumerate()
                .try_for_each(|(i, c)| {
                    let (ct, tag) = c.split_at_mut(CHUNK_SIZE);
                    let tag: [u8; TAG_LEN] =
                        (&*tag).try_into().map_err(|_| ChunkedError::Truncated)?;
                    key.open_chunk(idx + i as u64, ct, &tag)
                })
                .map_err(bad)?;
            // Every chunk of the batch is authenticated: release its plaintext.
            for (i, c) in buf.chunks(ENCRYPTED_CHUNK_SIZE).enumerate() {
                emit(&c[..CHUNK_SIZE], (idx + i as u64) * cs)?;
            }
        }
        if batch_end >= last {
            emit(&final_plain, last * cs)?;
        }
        idx = batch_end + 1;
    }
    Ok(())
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
    fn streaming_writer_and_ranged_open_agree_with_one_shot() {
        use std::io::{Cursor, Write as _};
        for len in [
            0usize,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            64 * CHUNK_SIZE,
            64 * CHUNK_SIZE + 5,
            130 * CHUNK_SIZE,
        ] {
            let m = msg(len);
            let mut w = ChunkedWriter::new(&KEY, b"ctx", Vec::new()).expect("writer");
            for part in m.chunks(7777) {
                w.write_all(part).expect("write");
            }
            let ct = w.finish().expect("finish");
            assert_eq!(open(&KEY, b"ctx", &ct).expect("open"), m, "len {len}");
            let key = open_header(&KEY, b"ctx", &ct).expect("header");
            let body_len = (ct.len() - HEADER_LEN) as u64;
            for (a, b) in [
                (0, len),
                (0, len.min(1)),
                (len / 3, len / 2),
                (len.saturating_sub(1), len),
                (CHUNK_SIZE.min(len), len),
            ] {
                let mut out = Vec::new();
                open_range(
                    &key,
                    &mut Cursor::new(&ct),
                    HEADER_LEN as u64,
                    body_len,
                    a as u64,
                    b as u64,
                    &mut out,
                )
                .expect("range");
                assert_eq!(out, m[a..b], "len {len} range {a}..{b}");
            }
            let mut t = ct.clone();
            let last = t.len() - 1;
            t[last] ^= 1;
            let mut out = Vec::new();
            assert!(
                open_range(
                    &key,
                    &mut Cursor::new(&t),
                    HEADER_LEN as u64,
                    body_len,
                    0,
                    0,
                    &mut out
                )
                .is_err()
            );
            assert!(out.is_empty());
            if len > (BATCH + 1) * CHUNK_SIZE {
                // A tampered chunk in the second batch: the first batch (authenticated) may have been
                // released, nothing of the second.
                let mut t = ct.clone();
                t[HEADER_LEN + (BATCH + 1) * ENCRYPTED_CHUNK_SIZE + 100] ^= 1;
                let mut out = Vec::new();
                assert!(
                    open_range(
                        &key,
                        &mut Cursor::new(&t),
                        HEADER_LEN as u64,
                        body_len,
                        0,
                        len as u64,
                        &mut out
                    )
                    .is_err()
                );
                assert_eq!(out, m[..BATCH * CHUNK_SIZE], "len {len}");
            }
        }
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
