//! The mock KMS ciphertext blob: self-describing, so `Decrypt` needs no `KeyId`.
//!
//! | offset | length | field |
//! |---|---|---|
//! | 0 | 1 | format version `0x01` |
//! | 1 | 36 | key id (ASCII UUID) |
//! | 37 | 4 | backing-key version, big-endian |
//! | 41 | 12 | GCM IV (random) |
//! | 53 | n | AES-256-GCM ciphertext of the plaintext (1..=4096 bytes) |
//! | 53+n | 16 | GCM tag |
//!
//! Associated data = bytes 0..41 ‖ canonical encryption context, so the header and the context are both
//! authenticated: a wrong context, a swapped key id or version, or any flipped bit fails as
//! `InvalidCiphertextException`.

use super::error::{KmsError, KmsErrorKind};

pub(super) const VERSION: u8 = 1;
pub(super) const KEY_ID_LEN: usize = 36;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + 4;
pub(super) const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A parsed blob, borrowing from the input.
pub(super) struct Blob<'a> {
    pub(super) key_id: &'a str,
    pub(super) key_version: u32,
    pub(super) header: &'a [u8],
    pub(super) iv: [u8; IV_LEN],
    pub(super) ciphertext: &'a [u8],
    pub(super) tag: [u8; TAG_LEN],
}

pub(super) fn invalid() -> KmsError {
    KmsError::new(
        KmsErrorKind::InvalidCiphertext,
        "The ciphertext is invalid or was not produced by this KMS.",
    )
}

pub(super) fn header(key_id: &str, key_version: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.push(VERSION);
    h.extend_from_slice(key_id.as_bytes());
    h.extend_from_slice(&key_version.to_be_bytes());
    h
}

pub(super) fn parse(bytes: &[u8]) -> Result<Blob<'_>, KmsError> {
    if bytes.len() < HEADER_LEN + IV_LEN + TAG_LEN + 1 || bytes[0] != VERSION {
        return Err(invalid());
    }
    let key_id = std::str::from_utf8(&bytes[1..1 + KEY_ID_LEN]).map_err(|_| invalid())?;
    if !key_id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(invalid());
    }
    let key_version = u32::from_be_bytes(
        bytes[1 + KEY_ID_LEN..HEADER_LEN]
            .try_into()
            .map_err(|_| invalid())?,
    );
    let iv: [u8; IV_LEN] = bytes[HEADER_LEN..HEADER_LEN + IV_LEN]
        .try_into()
        .map_err(|_| invalid())?;
    let body = &bytes[HEADER_LEN + IV_LEN..];
    let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
    Ok(Blob {
        key_id,
        key_version,
        header: &bytes[..HEADER_LEN],
        iv,
        ciphertext,
        tag: tag.try_into().map_err(|_| invalid())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_garbage_blobs_are_invalid_ciphertext() {
        for len in 0..80 {
            let junk = vec![1u8; len];
            if let Err(e) = parse(&junk) {
                assert_eq!(e.kind(), &KmsErrorKind::InvalidCiphertext);
            }
        }
        assert!(parse(&[0u8; 100]).is_err(), "wrong version");
    }
}
