//! GHASH, GCM's universal hash (SP 800-38D §6.4), for authenticate-then-decrypt over streams.

use std::fmt;

use ghash::universal_hash::UniversalHash;

use super::backend::{Backend, UnsupportedBackend, active_backend};
#[cfg(target_arch = "x86_64")]
use super::simd;

/// GHASH block length in bytes.
pub const GHASH_BLOCK_LEN: usize = 16;

/// An incremental GHASH under hash key `H`. The key and state are zeroized on drop.
///
/// Data is absorbed in 16-byte blocks; [`Ghash::update_padded`] zero-pads a final partial block, which is
/// how GCM absorbs the associated data and the ciphertext.
#[derive(Clone)]
pub struct Ghash {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    RustCrypto(Box<ghash::GHash>),
    #[cfg(target_arch = "x86_64")]
    Kernel(Box<KernelGhash>),
}

/// GHASH on s3crypt's kernels: the key powers and the running state (GCM byte order).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct KernelGhash {
    #[zeroize(skip)]
    tier: simd::Tier,
    hk: simd::HashKey,
    state: [u8; 16],
}

impl fmt::Debug for Ghash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ghash").finish_non_exhaustive()
    }
}

impl Ghash {
    /// Starts a GHASH with hash key `h` (in GCM, `H = AES_K(0^128)`).
    #[must_use]
    pub fn new(h: &[u8; GHASH_BLOCK_LEN]) -> Self {
        Self::with_backend(h, active_backend()).unwrap_or_else(|_| Self::rustcrypto(h))
    }

    /// Starts a GHASH on a specific backend.
    ///
    /// # Errors
    /// [`UnsupportedBackend`] if this CPU cannot run `backend`.
    pub fn with_backend(
        h: &[u8; GHASH_BLOCK_LEN],
        backend: Backend,
    ) -> Result<Self, UnsupportedBackend> {
        if backend == Backend::RustCrypto {
            return Ok(Self::rustcrypto(h));
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(tier) = backend.tier().filter(|t| t.supported()) {
            return Ok(Self {
                inner: Inner::Kernel(Box::new(KernelGhash {
                    tier,
                    hk: simd::hash_key(tier, h),
                    state: [0; 16],
                })),
            });
        }
        Err(UnsupportedBackend(backend))
    }

    fn rustcrypto(h: &[u8; GHASH_BLOCK_LEN]) -> Self {
        Self {
            inner: Inner::RustCrypto(Box::new(ghash::GHash::new(&(*h).into()))),
        }
    }

    /// The backend this hash runs on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::RustCrypto(_) => Backend::RustCrypto,
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => k.tier.backend(),
        }
    }

    /// Absorbs `data`, zero-padding it to a multiple of 16 bytes.
    pub fn update_padded(&mut self, data: &[u8]) {
        match &mut self.inner {
            Inner::RustCrypto(g) => g.update_padded(data),
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => {
                let KernelGhash { tier, hk, state } = &mut **k;
                simd::ghash(*tier, hk, state, data);
            }
        }
    }

    /// Returns the hash of everything absorbed so far.
    #[must_use]
    pub fn finalize(self) -> [u8; GHASH_BLOCK_LEN] {
        match self.inner {
            Inner::RustCrypto(g) => g.finalize().into(),
            #[cfg(target_arch = "x86_64")]
            Inner::Kernel(k) => k.state,
        }
    }
}

/// Multiplication in GCM's field GF(2^128) (SP 800-38D Algorithm 1), on blocks read as big-endian
/// `u128` (bit 127 is the coefficient of x^0). Constant time: every bit is processed with masks, never
/// branches. Used to combine partial GHASH values; the bulk hashing runs on the [`Ghash`] backend.
#[must_use]
pub fn gf128_mul(x: u128, y: u128) -> u128 {
    const R: u128 = 0xE1 << 120;
    let mut z = 0u128;
    let mut v = y;
    for i in 0..128 {
        let bit = (x >> (127 - i)) & 1;
        z ^= v & 0u128.wrapping_sub(bit);
        let lsb = v & 1;
        v = (v >> 1) ^ (R & 0u128.wrapping_sub(lsb));
    }
    z
}

/// `h^n` in GF(2^128) (`h^0` = 1, which is `1 << 127` in this bit order), by square-and-multiply.
#[must_use]
pub fn gf128_pow(h: u128, mut n: u64) -> u128 {
    let mut result = 1u128 << 127;
    let mut base = h;
    while n > 0 {
        if n & 1 == 1 {
            result = gf128_mul(result, base);
        }
        base = gf128_mul(base, base);
        n >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{Aes256Ctr, Aes256Gcm};

    #[test]
    fn software_multiply_matches_the_backend() {
        // GHASH of one block X under H is X·H; of two blocks, X1·H^2 ⊕ X2·H.
        let h = [0x66u8; 16];
        let hx = u128::from_be_bytes(h);
        let (x1, x2) = ([0x13u8; 16], [0xA7u8; 16]);
        let mut g = Ghash::new(&h);
        g.update_padded(&x1);
        assert_eq!(
            u128::from_be_bytes(g.finalize()),
            gf128_mul(u128::from_be_bytes(x1), hx)
        );
        let mut g = Ghash::new(&h);
        g.update_padded(&[x1, x2].concat());
        let want = gf128_mul(u128::from_be_bytes(x1), gf128_pow(hx, 2))
            ^ gf128_mul(u128::from_be_bytes(x2), hx);
        assert_eq!(u128::from_be_bytes(g.finalize()), want);
        assert_eq!(gf128_pow(hx, 0), 1u128 << 127);
        assert_eq!(
            gf128_pow(hx, 5),
            (0..5).fold(1u128 << 127, |a, _| gf128_mul(a, hx))
        );
    }

    /// The carry-less field product the parallel stream uses agrees with the bitwise one.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn clmul_field_product_matches_the_bitwise_one() {
        use crate::primitives::Backend;
        let Some(tier) = Backend::best().tier() else {
            return;
        };
        let mut x = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        let mut y = 0x8000_0000_0000_0000_0000_0000_0000_0001u128;
        for _ in 0..200 {
            assert_eq!(super::super::simd::gf128_mul(tier, x, y), gf128_mul(x, y));
            (x, y) = (gf128_mul(x, y) ^ y.rotate_left(7), x.rotate_right(3) ^ 0x5a);
        }
        assert_eq!(super::super::simd::gf128_mul(tier, x, 1 << 127), x);
    }

    /// Recomputes a GCM tag from GHASH and the CTR keystream, which proves the two building blocks agree
    /// with the AEAD: tag = GHASH_H(A, C, len) XOR AES_K(J0).
    #[test]
    fn gcm_tag_from_parts() {
        let key = [0x42u8; 32];
        let iv = [0x24u8; 12];
        let aad = b"associated data that is not a multiple of 16";
        let pt = vec![0x5au8; 77];
        let sealed = Aes256Gcm::new(&key).seal(&iv, aad, &pt).expect("seal");
        let (ct, tag) = sealed.split_at(pt.len());

        let ctr = Aes256Ctr::new(&key);
        let mut h = [0u8; 16];
        ctr.apply_keystream(&[0u8; 16], 0, &mut h); // H = AES_K(0)
        let mut g = Ghash::new(&h);
        g.update_padded(aad);
        g.update_padded(ct);
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&((aad.len() as u64) * 8).to_be_bytes());
        lens[8..].copy_from_slice(&((ct.len() as u64) * 8).to_be_bytes());
        g.update_padded(&lens);
        let mut s = g.finalize();
        let mut j0 = [0u8; 16];
        j0[..12].copy_from_slice(&iv);
        j0[15] = 1;
        ctr.apply_keystream(&j0, 0, &mut s);
        assert_eq!(&s, tag);
    }
}
