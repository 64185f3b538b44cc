//! AES-256 in counter mode, at any block offset.
//!
//! Two counter layouts are supported:
//! - [`Aes256Ctr::apply_keystream`]: the whole 16-byte counter block is one big-endian integer that wraps
//!   modulo 2^128 (NIST SP 800-38A, OpenSSL `AES-256-CTR`).
//! - [`Aes256Ctr::apply_gcm_keystream`]: GCM's layout, `IV12 ‖ BE32(c)` where only the low 32 bits count
//!   (`inc32`, SP 800-38D §6.2). Byte `o` of a GCM ciphertext is encrypted with counter `2 + o/16`, because
//!   counter 1 (J0) encrypts the tag. This is what ranged reads of GCM objects need.

use std::fmt;

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherSeek};

use super::aead::{KEY_LEN, NONCE_LEN};
use super::backend::{Backend, UnsupportedBackend, active_backend};
#[cfg(target_arch = "x86_64")]
use super::simd::{AesKernel, InOut};

const BLOCK: u64 = 16;

/// Why a CTR operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CtrError {
    /// The requested offset and length run past the end of the keystream (2^32 blocks for the GCM layout;
    /// the 128-bit layout wraps instead and never fails).
    KeystreamExhausted,
}

impl fmt::Display for CtrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeystreamExhausted => {
                f.write_str("offset and length run past the end of the CTR keystream")
            }
        }
    }
}

impl std::error::Error for CtrError {}

/// An AES-256 key schedule for counter-mode keystreams. Zeroized on drop; `Debug` prints no key.
#[derive(Clone)]
pub struct Aes256Ctr {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    RustCrypto(Box<aes::Aes256>),
    #[cfg(target_arch = "x86_64")]
    Kernel(Box<AesKernel>),
}

impl fmt::Debug for Aes256Ctr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aes256Ctr")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Aes256Ctr {
    /// Expands `key` for the active backend.
    #[must_use]
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self::with_backend(key, active_backend()).unwrap_or_else(|_| Self::rustcrypto(key))
    }

    /// Expands `key` for a specific backend.
    ///
    /// # Errors
    /// [`UnsupportedBackend`] if this CPU cannot run `backend`.
    pub fn with_backend(key: &[u8; KEY_LEN], backend: Backend) -> Result<Self, UnsupportedBackend> {
        if backend == Backend::RustCrypto {
            return Ok(Self::rustcrypto(key));
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = backend.tier().and_then(|t| AesKernel::new(t, key)) {
            return Ok(Self {
                inner: Inner::Kernel(Box::new(k)),
            });
        }
        Err(UnsupportedBackend(backend))
    }

    fn rustcrypto(key: &[u8; KEY_LEN]) -> Self {
        Self {
            inner: Inner::RustCrypto(Box::new(aes::Aes256::new(&(*key).into()))),
        }
    }

    /// The backend this key schedule runs on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::RustCrypto(_) => Backend::RustCrypto,
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => k.tier().backend(),
        }
    }

    /// XORs `buf` with the keystream that starts at `counter_block` (a 128-bit big-endian counter that wraps
    /// modulo 2^128), beginning `byte_offset` bytes into that keystream. Encryption and decryption are the
    /// same operation.
    pub fn apply_keystream(&self, counter_block: &[u8; 16], byte_offset: u64, buf: &mut [u8]) {
        match &self.inner {
            Inner::RustCrypto(aes) => {
                let mut c = ctr::Ctr128BE::<aes::Aes256>::from_core(ctr::CtrCore::inner_iv_init(
                    (**aes).clone(),
                    &(*counter_block).into(),
                ));
                // The 128-bit flavor wraps modulo 2^128 and accepts any u64 byte position.
                c.seek(byte_offset);
                c.apply_keystream(buf);
            }
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => {
                let start = u128::from_be_bytes(*counter_block)
                    .wrapping_add(u128::from(byte_offset / BLOCK));
                kernel_keystream(k, start, (byte_offset % BLOCK) as usize, buf);
            }
        }
    }

    /// XORs `buf` with the GCM keystream of nonce `iv`, beginning at byte `byte_offset` of the GCM
    /// ciphertext: the counter block is `iv ‖ BE32(2 + byte_offset/16)` and the first `byte_offset % 16`
    /// keystream bytes are skipped.
    ///
    /// This decrypts (or encrypts) any range of a GCM message without its tag. **The output is not
    /// authenticated**: the caller must verify the tag over the whole ciphertext before trusting it.
    ///
    /// # Errors
    /// [`CtrError::KeystreamExhausted`] if the range ends beyond GCM's 2^32 − 2 data blocks.
    pub fn apply_gcm_keystream(
        &self,
        iv: &[u8; NONCE_LEN],
        byte_offset: u64,
        buf: &mut [u8],
    ) -> Result<(), CtrError> {
        let end = byte_offset
            .checked_add(buf.len() as u64)
            .ok_or(CtrError::KeystreamExhausted)?;
        // Counters 2 ..= 2^32 - 1 are available to data: (2^32 - 2) blocks.
        if end > ((1u64 << 32) - 2) * BLOCK {
            return Err(CtrError::KeystreamExhausted);
        }
        let mut j = [0u8; 16];
        j[..NONCE_LEN].copy_from_slice(iv);
        j[NONCE_LEN..].copy_from_slice(&2u32.to_be_bytes());
        match &self.inner {
            Inner::RustCrypto(aes) => {
                let mut c = ctr::Ctr32BE::<aes::Aes256>::from_core(ctr::CtrCore::inner_iv_init(
                    (**aes).clone(),
                    &j.into(),
                ));
                c.try_seek(byte_offset)
                    .map_err(|_| CtrError::KeystreamExhausted)?;
                c.try_apply_keystream(buf)
                    .map_err(|_| CtrError::KeystreamExhausted)
            }
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => {
                // The range was checked to end inside the 32-bit counter space, so the 128-bit increment
                // below never carries out of the low 32 bits: it is GCM's inc32.
                let start = u128::from_be_bytes(j) + u128::from(byte_offset / BLOCK);
                kernel_keystream(k, start, (byte_offset % BLOCK) as usize, buf);
                Ok(())
            }
        }
    }
}

/// XORs `buf` with the keystream of the 128-bit big-endian counter `start` (wrapping modulo 2^128), skipping
/// the first `skip` (< 16) keystream bytes. The kernels count in the low 32 bits only, so the buffer is
/// cut where those wrap and the upper 96 bits are carried here.
#[cfg(target_arch = "x86_64")]
fn kernel_keystream(k: &AesKernel, mut ctr: u128, skip: usize, mut buf: &mut [u8]) {
    use zeroize::Zeroize;
    if skip != 0 && !buf.is_empty() {
        let mut ks = ctr.to_be_bytes();
        k.encrypt_block(&mut ks);
        let take = (16 - skip).min(buf.len());
        let (head, rest) = buf.split_at_mut(take);
        for (b, s) in head.iter_mut().zip(&ks[skip..]) {
            *b ^= s;
        }
        ks.zeroize();
        buf = rest;
        ctr = ctr.wrapping_add(1);
    }
    while !buf.is_empty() {
        let until_wrap = (1u64 << 32) - u64::from(ctr as u32); // blocks before the low 32 bits wrap
        let n = usize::try_from(until_wrap * BLOCK).map_or(buf.len(), |m| m.min(buf.len()));
        let (now, rest) = buf.split_at_mut(n);
        k.ctr32(&ctr.to_be_bytes(), InOut::InPlace(now));
        buf = rest;
        ctr = ctr.wrapping_add(u128::from(until_wrap));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Aes256Gcm;

    #[test]
    fn offsets_compose() {
        let key = [7u8; 32];
        let ctr = Aes256Ctr::new(&key);
        let cb = [0xffu8; 16]; // wraps to zero after the first block
        let mut whole = vec![0u8; 200];
        ctr.apply_keystream(&cb, 0, &mut whole);
        for off in [0usize, 1, 15, 16, 17, 100, 199] {
            let mut part = vec![0u8; 200 - off];
            ctr.apply_keystream(&cb, off as u64, &mut part);
            assert_eq!(part, whole[off..], "offset {off}");
        }
    }

    #[test]
    fn gcm_keystream_decrypts_any_range_of_a_gcm_ciphertext() {
        let key = [9u8; 32];
        let iv = [3u8; 12];
        let pt: Vec<u8> = (0..1000u32).map(|i| (i * 13 % 251) as u8).collect();
        let sealed = Aes256Gcm::new(&key).seal(&iv, b"", &pt).expect("seal");
        let ctr = Aes256Ctr::new(&key);
        for (off, len) in [
            (0usize, 1000usize),
            (0, 1),
            (1, 1),
            (15, 2),
            (16, 16),
            (17, 100),
            (999, 1),
            (500, 0),
        ] {
            let mut buf = sealed[off..off + len].to_vec();
            ctr.apply_gcm_keystream(&iv, off as u64, &mut buf)
                .expect("in range");
            assert_eq!(buf, pt[off..off + len], "range {off}+{len}");
        }
    }

    #[test]
    fn gcm_keystream_refuses_past_the_limit() {
        let ctr = Aes256Ctr::new(&[0u8; 32]);
        let limit = ((1u64 << 32) - 2) * 16;
        let mut one = [0u8; 1];
        assert_eq!(
            ctr.apply_gcm_keystream(&[0; 12], limit, &mut one),
            Err(CtrError::KeystreamExhausted)
        );
        assert_eq!(
            ctr.apply_gcm_keystream(&[0; 12], u64::MAX, &mut one),
            Err(CtrError::KeystreamExhausted)
        );
        assert_eq!(
            ctr.apply_gcm_keystream(&[0; 12], limit - 1, &mut one),
            Ok(())
        );
    }
}
