//! The crypto core: the only module that imports cipher crates.
//!
//! Everything above this module (SSE engines, KMS, envelope formats) calls the types defined here, never a
//! cipher crate directly. That is the seam for the hot path: [`Aes256Gcm`], [`Aes256Ctr`] and [`Ghash`]
//! dispatch to a [`Backend`] chosen once at run time, so a faster backend can replace the RustCrypto one
//! without touching any caller.
//!
//! | primitive | type / function | notes |
//! |---|---|---|
//! | AES-256-GCM (96-bit nonce, 128-bit tag) | [`Aes256Gcm`] | in place with detached tag, or combined `ct ‖ tag`; one opaque [`AeadError::Authentication`] |
//! | AES-256-CTR | [`Aes256Ctr`] | any block offset; full 128-bit counter (SP 800-38A) or GCM's `inc32` layout |
//! | GHASH | [`Ghash`], [`gf128_mul`] | the universal hash of GCM, and the field product that combines partial hashes |
//! | AES-256-GCM in pieces, parallel | [`GcmStream`] | one GCM message fed incrementally (S3EC objects), chunks hashed on all cores |
//! | HKDF-SHA256/512, HMAC-SHA256 | [`kdf`] | |
//! | SHA-256, MD5 | [`hash`] | MD5 only for the SSE-C key digest header |
//! | random bytes | [`fill_random`], [`random_array`] | operating-system RNG |
//! | constant-time equality | [`ct_eq`] | for tags, MACs and digests |

mod aead;
mod backend;
pub mod chunked;
mod ctr;
mod gcm_stream;
mod ghash;
pub mod hash;
pub mod kdf;
pub mod legacy;
mod rng;
#[cfg(target_arch = "x86_64")]
mod simd;

pub use aead::{AeadError, Aes256Gcm, GCM_MAX_PLAINTEXT, KEY_LEN, NONCE_LEN, TAG_LEN};
pub use backend::{
    BACKEND_ENV, Backend, BackendChoice, BackendReport, CpuFeatures, KernelCeiling,
    UnsupportedBackend, active_backend, backend_choice, kernel_ceiling,
};
pub use ctr::{Aes256Ctr, CtrError};
pub use gcm_stream::{GcmStream, PARALLEL_THRESHOLD};
pub use ghash::{GHASH_BLOCK_LEN, Ghash, gf128_mul, gf128_pow};
pub use rng::{RngError, fill_random, random_array, random_id};

/// Compares two byte strings in constant time (in the length of the inputs).
///
/// Returns `false` when the lengths differ; the length itself is not secret. Use this for tags, MACs,
/// key digests and key commitments, never `==`.
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_matches_eq() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"", b"a"));
    }
}
