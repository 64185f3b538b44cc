//! Legacy primitives, for reading old S3 Encryption Client V1 objects only: AES-256-CBC with PKCS#7
//! padding (no integrity protection), AES key unwrap (RFC 3394), and the AES/ECB-wrapped keys of the
//! oldest clients. Nothing in s3crypt encrypts with these.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::common::InnerInit;
use aes::cipher::{BlockCipherDecrypt, BlockModeDecrypt, KeyInit, KeyIvInit};

/// A legacy decryption failed: wrong key, bad padding, bad length, or a failed RFC 3394 integrity check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegacyError;

impl std::fmt::Display for LegacyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("legacy decryption failed (wrong key or corrupt data)")
    }
}

impl std::error::Error for LegacyError {}

/// AES-256-CBC decryption with PKCS#7 unpadding. **Unauthenticated**: a wrong key or altered data is
/// detected only when the padding happens to be invalid.
///
/// # Errors
/// [`LegacyError`] for a length that is not a positive multiple of 16 or invalid padding.
pub fn aes256_cbc_pkcs7_decrypt(
    key: &[u8; 32],
    iv: &[u8; 16],
    ciphertext: &[u8],
) -> Result<Vec<u8>, LegacyError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(LegacyError);
    }
    cbc::Decryptor::<aes::Aes256>::new(&(*key).into(), &(*iv).into())
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map_err(|_| LegacyError)
}

/// RFC 3394 AES key unwrap of a 256-bit key under a 256-bit key-encryption key.
///
/// # Errors
/// [`LegacyError`] if the wrapped key is not 40 bytes or its integrity check fails.
pub fn aes256_key_unwrap(
    kek: &[u8; 32],
    wrapped: &[u8],
) -> Result<zeroize::Zeroizing<[u8; 32]>, LegacyError> {
    if wrapped.len() != 40 {
        return Err(LegacyError);
    }
    let kw = aes_kw::KwAes256::inner_init(aes::Aes256::new(&(*kek).into()));
    let mut buf = zeroize::Zeroizing::new([0u8; 40]);
    let out = kw
        .unwrap_key(wrapped, &mut buf[..])
        .map_err(|_| LegacyError)?;
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    key.copy_from_slice(out.get(..32).ok_or(LegacyError)?);
    Ok(key)
}

/// AES-256/ECB/PKCS#7 decryption of a wrapped 256-bit key (the oldest V1 clients, no `x-amz-wrap-alg`).
///
/// # Errors
/// [`LegacyError`] for a wrong length or invalid padding.
pub fn aes256_ecb_unwrap_key(
    kek: &[u8; 32],
    wrapped: &[u8],
) -> Result<zeroize::Zeroizing<[u8; 32]>, LegacyError> {
    if wrapped.len() != 48 {
        return Err(LegacyError);
    }
    let aes = aes::Aes256::new(&(*kek).into());
    let mut buf = zeroize::Zeroizing::new([0u8; 48]);
    buf.copy_from_slice(wrapped);
    for block in buf.chunks_exact_mut(16) {
        let b: &mut [u8; 16] = block.try_into().map_err(|_| LegacyError)?;
        aes.decrypt_block(b.into());
    }
    // A 32-byte key padded with PKCS#7 ends in a full block of 0x10.
    if buf[32..].iter().any(|&b| b != 16) {
        return Err(LegacyError);
    }
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&buf[..32]);
    Ok(key)
}
