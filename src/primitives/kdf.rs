//! Key derivation and message authentication: HKDF (RFC 5869) over SHA-256 and SHA-512, and HMAC-SHA256
//! (RFC 2104).

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};

/// HMAC-SHA256 output length in bytes.
pub const HMAC_SHA256_LEN: usize = 32;

/// Why a key derivation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfError {
    /// HKDF can produce at most 255 hash lengths of output (8,160 bytes for SHA-256, 16,320 for SHA-512).
    OutputTooLong {
        /// The requested length.
        requested: usize,
        /// The maximum for this hash.
        max: usize,
    },
}

impl fmt::Display for KdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutputTooLong { requested, max } => {
                write!(
                    f,
                    "HKDF output of {requested} bytes requested; at most {max} are possible"
                )
            }
        }
    }
}

impl std::error::Error for KdfError {}

/// HKDF-SHA256: extract with `salt` (`None` means a string of zeros, as RFC 5869 specifies), then expand
/// `info` into `okm`.
///
/// # Errors
/// [`KdfError::OutputTooLong`] if `okm` is longer than 255 × 32 bytes.
pub fn hkdf_sha256(
    salt: Option<&[u8]>,
    ikm: &[u8],
    info: &[u8],
    okm: &mut [u8],
) -> Result<(), KdfError> {
    Hkdf::<Sha256>::new(salt, ikm)
        .expand(info, okm)
        .map_err(|_| KdfError::OutputTooLong {
            requested: okm.len(),
            max: 255 * 32,
        })
}

/// HKDF-SHA512: extract with `salt` (`None` means zeros), then expand `info` into `okm`.
///
/// # Errors
/// [`KdfError::OutputTooLong`] if `okm` is longer than 255 × 64 bytes.
pub fn hkdf_sha512(
    salt: Option<&[u8]>,
    ikm: &[u8],
    info: &[u8],
    okm: &mut [u8],
) -> Result<(), KdfError> {
    Hkdf::<Sha512>::new(salt, ikm)
        .expand(info, okm)
        .map_err(|_| KdfError::OutputTooLong {
            requested: okm.len(),
            max: 255 * 64,
        })
}

/// HKDF-Expand-SHA512 alone (RFC 5869 §2.3) with `prk` used directly as the HMAC key, over the
/// concatenation of `info_parts`.
///
/// Unlike the `hkdf` crate's `from_prk`, this accepts a PRK shorter than 64 bytes: C2SP chunked encryption
/// expands a 32-byte input key directly (NIST SP 800-108 feedback mode).
///
/// # Errors
/// [`KdfError::OutputTooLong`] if `okm` is longer than 255 × 64 bytes.
pub fn hkdf_expand_sha512(
    prk: &[u8],
    info_parts: &[&[u8]],
    okm: &mut [u8],
) -> Result<(), KdfError> {
    const HASH_LEN: usize = 64;
    if okm.len() > 255 * HASH_LEN {
        return Err(KdfError::OutputTooLong {
            requested: okm.len(),
            max: 255 * HASH_LEN,
        });
    }
    let mut prev: Option<[u8; HASH_LEN]> = None;
    for (i, block) in okm.chunks_mut(HASH_LEN).enumerate() {
        let mut mac = match <Hmac<Sha512> as KeyInit>::new_from_slice(prk) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        if let Some(p) = &prev {
            mac.update(p);
        }
        for part in info_parts {
            mac.update(part);
        }
        // `i < 255` by the length check above.
        mac.update(&[(i + 1) as u8]);
        let t: [u8; HASH_LEN] = mac.finalize().into_bytes().into();
        block.copy_from_slice(&t[..block.len()]);
        prev = Some(t);
    }
    if let Some(mut p) = prev {
        zeroize::Zeroize::zeroize(&mut p);
    }
    Ok(())
}

/// HMAC-SHA256 of the concatenation of `parts` under `key` (any length).
#[must_use]
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; HMAC_SHA256_LEN] {
    let mut mac = hmac_sha256_state(key);
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Verifies `tag` (which may be truncated, but not below 16 bytes) against HMAC-SHA256 of `parts` in
/// constant time.
#[must_use]
pub fn hmac_sha256_verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    if tag.len() < 16 || tag.len() > HMAC_SHA256_LEN {
        return false;
    }
    let full = hmac_sha256(key, parts);
    super::ct_eq(&full[..tag.len()], tag)
}

fn hmac_sha256_state(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC hashes over-long keys and pads short ones, so every key length is valid.
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_length_limits() {
        let mut ok = vec![0u8; 255 * 32];
        assert!(hkdf_sha256(None, b"k", b"", &mut ok).is_ok());
        let mut too_long = vec![0u8; 255 * 32 + 1];
        assert_eq!(
            hkdf_sha256(None, b"k", b"", &mut too_long),
            Err(KdfError::OutputTooLong {
                requested: 8161,
                max: 8160
            })
        );
        let mut ok = vec![0u8; 255 * 64];
        assert!(hkdf_sha512(Some(b"s"), b"k", b"i", &mut ok).is_ok());
        let mut too_long = vec![0u8; 255 * 64 + 1];
        assert!(hkdf_sha512(Some(b"s"), b"k", b"i", &mut too_long).is_err());
    }

    #[test]
    fn expand_only_matches_full_hkdf_when_prk_is_extracted() {
        // HKDF(salt, ikm) = Expand(Extract(salt, ikm)); with a 64-byte PRK both paths must agree.
        let prk: [u8; 64] = core::array::from_fn(|i| i as u8);
        let mut a = [0u8; 200];
        hkdf_expand_sha512(&prk, &[b"in", b"fo"], &mut a).expect("len");
        let mut b = [0u8; 200];
        Hkdf::<Sha512>::from_prk(&prk)
            .expect("prk")
            .expand(b"info", &mut b)
            .expect("len");
        assert_eq!(a, b);
        let mut too_long = vec![0u8; 255 * 64 + 1];
        assert!(hkdf_expand_sha512(&prk, &[], &mut too_long).is_err());
    }

    #[test]
    fn hmac_parts_equal_concatenation_and_verify() {
        let whole = hmac_sha256(b"key", &[b"hello world"]);
        assert_eq!(hmac_sha256(b"key", &[b"hello", b" ", b"world"]), whole);
        assert!(hmac_sha256_verify(b"key", &[b"hello world"], &whole));
        assert!(hmac_sha256_verify(b"key", &[b"hello world"], &whole[..16]));
        assert!(!hmac_sha256_verify(b"key", &[b"hello world"], &whole[..15]));
        let mut bad = whole;
        bad[31] ^= 1;
        assert!(!hmac_sha256_verify(b"key", &[b"hello world"], &bad));
    }
}
