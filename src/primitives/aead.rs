//! AES-256-GCM with 96-bit nonces and 128-bit tags (NIST SP 800-38D).

use std::fmt;

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, KeyInit};

use super::backend::{Backend, UnsupportedBackend, active_backend};
#[cfg(target_arch = "x86_64")]
use super::simd::{self, InOut};

/// AES-256 key length in bytes.
pub const KEY_LEN: usize = 32;
/// GCM nonce (IV) length in bytes. Only 96-bit nonces are supported.
pub const NONCE_LEN: usize = 12;
/// GCM tag length in bytes. Only full 128-bit tags are produced and accepted.
pub const TAG_LEN: usize = 16;
/// The largest plaintext one GCM invocation may process: 2^36 − 32 bytes (SP 800-38D §5.2.1.1).
pub const GCM_MAX_PLAINTEXT: u64 = (1 << 36) - 32;
/// The largest associated data: 2^61 − 1 bytes.
const GCM_MAX_AAD: u64 = (1 << 61) - 1;

/// Why an AEAD operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AeadError {
    /// The ciphertext, tag, nonce or associated data is not authentic, or the input is malformed (too short
    /// to hold a tag, too long for GCM). Deliberately opaque: the reason is never revealed.
    Authentication,
    /// The plaintext (or associated data) given to `seal` exceeds GCM's limit of [`GCM_MAX_PLAINTEXT`]
    /// bytes. A caller bug, not an attack.
    PlaintextTooLong,
}

impl fmt::Display for AeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Authentication => f.write_str("authentication failed"),
            Self::PlaintextTooLong => write!(
                f,
                "plaintext exceeds the AES-GCM limit of {GCM_MAX_PLAINTEXT} bytes"
            ),
        }
    }
}

impl std::error::Error for AeadError {}

/// An AES-256-GCM key schedule, ready to seal and open messages.
///
/// The expanded key is zeroized on drop. `Debug` prints no key material.
#[derive(Clone)]
pub struct Aes256Gcm {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    RustCrypto(Box<aes_gcm::Aes256Gcm>),
    #[cfg(target_arch = "x86_64")]
    Kernel(Box<Kernel>),
}

/// AES-256-GCM on s3crypt's x86-64 kernels: the expanded key and the GHASH key powers.
#[cfg(target_arch = "x86_64")]
#[derive(Clone)]
struct Kernel {
    aes: simd::AesKernel,
    hk: simd::HashKey,
}

#[cfg(target_arch = "x86_64")]
impl Kernel {
    /// `J0 = IV ‖ 1` (encrypts the tag) and the first data counter `IV ‖ 2`.
    fn counters(nonce: &[u8; NONCE_LEN]) -> ([u8; 16], [u8; 16]) {
        let mut j0 = [0u8; 16];
        j0[..NONCE_LEN].copy_from_slice(nonce);
        let mut c = j0;
        j0[15] = 1;
        c[15] = 2;
        (j0, c)
    }

    /// Runs the GCM body over `io` and returns the tag.
    fn run(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], io: InOut<'_>, encrypt: bool) -> [u8; 16] {
        let tier = self.aes.tier();
        let (mut j0, ctr) = Self::counters(nonce);
        // AES_K(J0) first: it is independent of the bulk work, so the CPU overlaps its latency.
        self.aes.encrypt_block(&mut j0);
        let mut s = [0u8; 16];
        if !aad.is_empty() {
            simd::ghash(tier, &self.hk, &mut s, aad);
        }
        let len = io.len();
        self.aes.gcm(&self.hk, &ctr, &mut s, io, encrypt);
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&(aad.len() as u64 * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(len as u64 * 8).to_be_bytes());
        simd::ghash_block(tier, &self.hk, &mut s, &lens);
        for (t, k) in s.iter_mut().zip(j0) {
            *t ^= k;
        }
        s
    }

    /// Decrypts in place, then checks the tag; on failure re-applies the keystream, so the caller gets
    /// its ciphertext back and never sees unauthenticated plaintext.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        let computed = self.run(nonce, aad, InOut::InPlace(buf), false);
        if super::ct_eq(&computed, tag) {
            return Ok(());
        }
        let (_, ctr) = Self::counters(nonce);
        self.aes.ctr32(&ctr, InOut::InPlace(buf));
        Err(AeadError::Authentication)
    }
}

impl fmt::Debug for Aes256Gcm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aes256Gcm")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Aes256Gcm {
    /// Expands `key` for the active [`Backend`] (see [`super::active_backend`]).
    #[must_use]
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self::with_backend(key, active_backend()).unwrap_or_else(|_| Self::rustcrypto(key))
    }

    /// Expands `key` for a specific backend (differential tests and benchmarks use this to run every
    /// tier in one process).
    ///
    /// # Errors
    /// [`UnsupportedBackend`] if this CPU cannot run `backend`.
    pub fn with_backend(key: &[u8; KEY_LEN], backend: Backend) -> Result<Self, UnsupportedBackend> {
        if backend == Backend::RustCrypto {
            return Ok(Self::rustcrypto(key));
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(aes) = backend.tier().and_then(|t| simd::AesKernel::new(t, key)) {
            let hk = aes.hash_key();
            return Ok(Self {
                inner: Inner::Kernel(Box::new(Kernel { aes, hk })),
            });
        }
        Err(UnsupportedBackend(backend))
    }

    fn rustcrypto(key: &[u8; KEY_LEN]) -> Self {
        Self {
            inner: Inner::RustCrypto(Box::new(aes_gcm::Aes256Gcm::new(&(*key).into()))),
        }
    }

    /// The backend this key schedule runs on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::RustCrypto(_) => Backend::RustCrypto,
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => k.aes.tier().backend(),
        }
    }

    /// Encrypts `buf` in place and returns the detached 16-byte tag.
    ///
    /// # Errors
    /// [`AeadError::PlaintextTooLong`] if `buf` or `aad` exceed GCM's limits; `buf` is then unchanged.
    pub fn seal_in_place_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        check_lengths(buf.len(), aad.len()).map_err(|()| AeadError::PlaintextTooLong)?;
        match &self.inner {
            Inner::RustCrypto(c) => c
                .encrypt_inout_detached(&(*nonce).into(), aad, InOutBuf::from(buf))
                .map(Into::into)
                .map_err(|_| AeadError::PlaintextTooLong),
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => Ok(k.run(nonce, aad, InOut::InPlace(buf), true)),
        }
    }

    /// Decrypts `buf` in place after verifying `tag` (in constant time) over `aad` and the ciphertext.
    ///
    /// No plaintext is released unless the tag verifies: on error `buf` holds the ciphertext (the RustCrypto
    /// backend checks the tag first; the kernels decrypt and hash in one pass and re-encrypt on failure).
    ///
    /// # Errors
    /// [`AeadError::Authentication`] if the tag does not verify or the lengths exceed GCM's limits.
    pub fn open_in_place_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        check_lengths(buf.len(), aad.len()).map_err(|()| AeadError::Authentication)?;
        match &self.inner {
            Inner::RustCrypto(c) => c
                .decrypt_inout_detached(&(*nonce).into(), aad, InOutBuf::from(buf), &(*tag).into())
                .map_err(|_| AeadError::Authentication),
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => k.open_in_place(nonce, aad, buf, tag),
        }
    }

    /// Encrypts `plaintext` into `out` (which must be exactly as long) and returns the detached tag.
    ///
    /// # Errors
    /// [`AeadError::PlaintextTooLong`] if the input exceeds GCM's limits.
    ///
    /// # Panics
    /// If `out.len() != plaintext.len()` (a caller bug, never input-dependent).
    pub fn seal_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        assert_eq!(
            plaintext.len(),
            out.len(),
            "output buffer must match the plaintext length"
        );
        check_lengths(plaintext.len(), aad.len()).map_err(|()| AeadError::PlaintextTooLong)?;
        match &self.inner {
            Inner::RustCrypto(c) => {
                let io = InOutBuf::new(plaintext, out).map_err(|_| AeadError::PlaintextTooLong)?;
                c.encrypt_inout_detached(&(*nonce).into(), aad, io)
                    .map(Into::into)
                    .map_err(|_| AeadError::PlaintextTooLong)
            }
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => Ok(k.run(nonce, aad, InOut::Split(plaintext, out), true)),
        }
    }

    /// Decrypts `ciphertext` into `out` (which must be exactly as long) after verifying `tag`.
    ///
    /// On error `out` is left zeroed: no unauthenticated plaintext is released.
    ///
    /// # Errors
    /// [`AeadError::Authentication`] if the tag does not verify.
    ///
    /// # Panics
    /// If `out.len() != ciphertext.len()` (a caller bug, never input-dependent).
    pub fn open_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; TAG_LEN],
        out: &mut [u8],
    ) -> Result<(), AeadError> {
        assert_eq!(
            ciphertext.len(),
            out.len(),
            "output buffer must match the ciphertext length"
        );
        check_lengths(ciphertext.len(), aad.len()).map_err(|()| AeadError::Authentication)?;
        let res = match &self.inner {
            Inner::RustCrypto(c) => {
                let io = InOutBuf::new(ciphertext, out).map_err(|_| AeadError::Authentication)?;
                c.decrypt_inout_detached(&(*nonce).into(), aad, io, &(*tag).into())
                    .map_err(|_| AeadError::Authentication)
            }
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => {
                let computed = k.run(nonce, aad, InOut::Split(ciphertext, out), false);
                if super::ct_eq(&computed, tag) {
                    Ok(())
                } else {
                    Err(AeadError::Authentication)
                }
            }
        };
        if res.is_err() {
            out.fill(0);
        }
        res
    }

    /// Encrypts `plaintext` and returns `ciphertext ‖ tag`.
    ///
    /// # Errors
    /// [`AeadError::PlaintextTooLong`] if the input exceeds GCM's limits.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AeadError> {
        check_lengths(plaintext.len(), aad.len()).map_err(|()| AeadError::PlaintextTooLong)?;
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = self.seal_in_place_detached(nonce, aad, &mut out)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Verifies and decrypts `ciphertext ‖ tag`, returning the plaintext.
    ///
    /// # Errors
    /// [`AeadError::Authentication`] if the input is shorter than a tag or does not verify.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, AeadError> {
        let split = sealed
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(AeadError::Authentication)?;
        let (ct, tag) = sealed.split_at(split);
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| AeadError::Authentication)?;
        let mut out = ct.to_vec();
        self.open_in_place_detached(nonce, aad, &mut out, tag)?;
        Ok(out)
    }
}

fn check_lengths(data: usize, aad: usize) -> Result<(), ()> {
    if data as u64 > GCM_MAX_PLAINTEXT || aad as u64 > GCM_MAX_AAD {
        return Err(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // NIST GCM test case 16 (AES-256, 96-bit IV, AAD), from the GCM specification.
    const KEY: [u8; 32] =
        hex_literal::hex!("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    const IV: [u8; 12] = hex_literal::hex!("cafebabefacedbaddecaf888");
    const AAD: [u8; 20] = hex_literal::hex!("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const PT: [u8; 60] = hex_literal::hex!(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    );
    const CT: [u8; 60] = hex_literal::hex!(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    );
    const TAG: [u8; 16] = hex_literal::hex!("76fc6ece0f4e1768cddf8853bb2d551b");

    #[test]
    fn known_answer_in_place_and_out_of_place() {
        let gcm = Aes256Gcm::new(&KEY);
        let mut buf = PT;
        assert_eq!(gcm.seal_in_place_detached(&IV, &AAD, &mut buf), Ok(TAG));
        assert_eq!(buf, CT);
        assert_eq!(
            gcm.open_in_place_detached(&IV, &AAD, &mut buf, &TAG),
            Ok(())
        );
        assert_eq!(buf, PT);

        let mut out = [0u8; 60];
        assert_eq!(gcm.seal_detached(&IV, &AAD, &PT, &mut out), Ok(TAG));
        assert_eq!(out, CT);
        let mut back = [0u8; 60];
        assert_eq!(gcm.open_detached(&IV, &AAD, &CT, &TAG, &mut back), Ok(()));
        assert_eq!(back, PT);

        let sealed = gcm.seal(&IV, &AAD, &PT).expect("seal");
        assert_eq!(&sealed[..60], &CT);
        assert_eq!(&sealed[60..], &TAG);
        assert_eq!(gcm.open(&IV, &AAD, &sealed).expect("open"), PT);
    }

    #[test]
    fn failed_open_releases_nothing() {
        let gcm = Aes256Gcm::new(&KEY);
        let mut bad = TAG;
        bad[15] ^= 0x80;
        let mut buf = CT;
        assert_eq!(
            gcm.open_in_place_detached(&IV, &AAD, &mut buf, &bad),
            Err(AeadError::Authentication)
        );
        assert_eq!(
            buf, CT,
            "in-place open must leave the ciphertext on failure"
        );
        let mut out = [0xAAu8; 60];
        assert_eq!(
            gcm.open_detached(&IV, &AAD, &CT, &bad, &mut out),
            Err(AeadError::Authentication)
        );
        assert_eq!(
            out, [0u8; 60],
            "out-of-place open must zero the output on failure"
        );
        assert_eq!(
            gcm.open(&IV, &AAD, &TAG[..15]),
            Err(AeadError::Authentication)
        );
        assert_eq!(gcm.open(&IV, &AAD, &[]), Err(AeadError::Authentication));
    }

    #[test]
    fn every_tamper_is_rejected() {
        let gcm = Aes256Gcm::new(&KEY);
        let sealed = gcm.seal(&IV, &AAD, &PT).expect("seal");
        for i in 0..sealed.len() * 8 {
            let mut t = sealed.clone();
            t[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                gcm.open(&IV, &AAD, &t),
                Err(AeadError::Authentication),
                "bit {i}"
            );
        }
        for i in 0..AAD.len() * 8 {
            let mut a = AAD;
            a[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                gcm.open(&IV, &a, &sealed),
                Err(AeadError::Authentication),
                "aad bit {i}"
            );
        }
        for i in 0..IV.len() * 8 {
            let mut n = IV;
            n[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                gcm.open(&n, &AAD, &sealed),
                Err(AeadError::Authentication),
                "nonce bit {i}"
            );
        }
        assert_eq!(
            gcm.open(&IV, &AAD, &sealed[..sealed.len() - 1]),
            Err(AeadError::Authentication)
        );
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(gcm.open(&IV, &AAD, &longer), Err(AeadError::Authentication));
    }

    #[test]
    fn debug_prints_no_key() {
        let s = format!("{:?}", Aes256Gcm::new(&KEY));
        assert!(s.starts_with("Aes256Gcm"));
        assert!(!s.to_lowercase().contains("feffe992"));
    }
}
