//! Archives at rest: every archive is sealed with AES-256-GCM under a key of its own, derived from the
//! home's SSE-S3 root key (the same [`RootKeys`] the SSE engine uses for SSE-S3 objects), so no
//! plaintext archive byte reaches the disk and a root rotation keeps old archives readable.
//!
//! # Format (one file per archive, `archives/ARCHIVE_ID`)
//! | bytes | field                                                              |
//! |-------|--------------------------------------------------------------------|
//! | 8     | magic `s3cGLA01`                                                   |
//! | 4     | root-key version, big-endian                                       |
//! | 32    | random salt                                                        |
//! | 12    | random nonce                                                       |
//! | n+16  | AES-256-GCM ciphertext of the archive, then the tag                |
//!
//! The key is HKDF-SHA256(salt, root key, `INFO` ‖ `ACCOUNT/VAULT/ARCHIVE_ID`); the associated data is
//! the 56-byte header followed by the same binding, so a file moved to another vault or archive id does
//! not open.

use crate::keys::RootKey;
use crate::primitives::Aes256Gcm;
use crate::primitives::kdf::hkdf_sha256;
use crate::primitives::random_array;
use crate::sse::roots::RootKeys;

use super::GlacierError;

const MAGIC: &[u8; 8] = b"s3cGLA01";
const INFO: &[u8] = b"s3crypt glacier archive v1\0";
const HEADER_LEN: usize = 8 + 4 + 32 + 12;

/// Seals `plaintext` as archive `binding` (`ACCOUNT/VAULT/ARCHIVE_ID`) under root `version`.
///
/// # Errors
/// `ServiceUnavailableException` (500) if the RNG or the cipher fails.
pub(crate) fn seal(
    root: &RootKey,
    version: u32,
    binding: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, GlacierError> {
    let salt = random_array::<32>().map_err(|_| GlacierError::internal("RNG failure"))?;
    let nonce = random_array::<12>().map_err(|_| GlacierError::internal("RNG failure"))?;
    let mut header = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&version.to_be_bytes());
    header.extend_from_slice(&salt);
    header.extend_from_slice(&nonce);
    let cipher = cipher(root, &salt, binding)?;
    let aad = [header.as_slice(), binding.as_bytes()].concat();
    let sealed = cipher
        .seal(&nonce, &aad, plaintext)
        .map_err(|_| GlacierError::internal("the archive is too large to seal"))?;
    header.extend_from_slice(&sealed);
    Ok(header)
}

/// Opens a sealed archive `binding` with the home's root keys.
///
/// # Errors
/// `ServiceUnavailableException` (500) if the file is damaged, names an unknown root version or does
/// not authenticate (one message: no oracle on why).
pub(crate) fn open(
    roots: &mut RootKeys,
    binding: &str,
    stored: &[u8],
) -> Result<Vec<u8>, GlacierError> {
    let damaged = || GlacierError::internal("a stored archive is damaged");
    let header = stored.get(..HEADER_LEN).ok_or_else(damaged)?;
    if &header[..8] != MAGIC {
        return Err(damaged());
    }
    let version = u32::from_be_bytes(header[8..12].try_into().map_err(|_| damaged())?);
    let salt: [u8; 32] = header[12..44].try_into().map_err(|_| damaged())?;
    let nonce: [u8; 12] = header[44..56].try_into().map_err(|_| damaged())?;
    let root = roots
        .get_fresh(version)
        .map_err(|_| GlacierError::internal("the SSE-S3 root keys cannot be read"))?
        .ok_or_else(damaged)?;
    let aad = [header, binding.as_bytes()].concat();
    cipher(root, &salt, binding)?
        .open(&nonce, &aad, &stored[HEADER_LEN..])
        .map_err(|_| damaged())
}

fn cipher(root: &RootKey, salt: &[u8; 32], binding: &str) -> Result<Aes256Gcm, GlacierError> {
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    hkdf_sha256(
        Some(salt),
        root.expose_secret(),
        &[INFO, binding.as_bytes()].concat(),
        key.as_mut(),
    )
    .map_err(|_| GlacierError::internal("key derivation failed"))?;
    Ok(Aes256Gcm::new(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glacier_archive_round_trip_and_binding() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut roots = RootKeys::open(dir.path(), None).expect("roots");
        let version = roots.current();
        let root = roots.get(version).expect("root").clone();
        let sealed = seal(&root, version, "111122223333/v/a1", b"archive bytes").expect("seal");
        assert!(!sealed.windows(13).any(|w| w == b"archive bytes"));
        assert_eq!(
            open(&mut roots, "111122223333/v/a1", &sealed).expect("open"),
            b"archive bytes"
        );
        assert!(open(&mut roots, "111122223333/v/a2", &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(open(&mut roots, "111122223333/v/a1", &tampered).is_err());
        assert!(open(&mut roots, "111122223333/v/a1", &sealed[..20]).is_err());
    }
}
