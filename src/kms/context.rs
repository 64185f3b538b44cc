//! Canonical encoding of an encryption context, used as associated data.
//!
//! `u16 count ‖ for each pair, sorted by key bytes: u16 key_len ‖ key ‖ u16 value_len ‖ value` (all
//! big-endian), the AWS Encryption SDK serialization. An empty context encodes as zero bytes.

use super::api::EncryptionContext;
use super::error::KmsError;

/// AWS limits the encryption context to 8,192 characters in total.
const MAX_CONTEXT_CHARS: usize = 8192;

pub(super) fn validate(ec: &EncryptionContext) -> Result<(), KmsError> {
    let total: usize = ec
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    if total > MAX_CONTEXT_CHARS {
        return Err(KmsError::validation(format!(
            "encryptionContext exceeds the maximum of {MAX_CONTEXT_CHARS} characters"
        )));
    }
    if ec.keys().any(String::is_empty) {
        return Err(KmsError::validation(
            "encryptionContext keys must not be empty",
        ));
    }
    Ok(())
}

pub(super) fn canonical(ec: &EncryptionContext) -> Vec<u8> {
    if ec.is_empty() {
        return Vec::new();
    }
    let mut out =
        Vec::with_capacity(2 + ec.iter().map(|(k, v)| 4 + k.len() + v.len()).sum::<usize>());
    // Lengths are bounded by validate() (8,192 characters of at most 4 bytes each fit in u16).
    out.extend_from_slice(&(ec.len() as u16).to_be_bytes());
    for (k, v) in ec {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_encryption_sdk_serialization() {
        // <https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/message-format.html>: {"purpose":"test"} -> 0001 0007 "purpose" 0004 "test".
        let ec: EncryptionContext = [("purpose".to_owned(), "test".to_owned())].into();
        assert_eq!(canonical(&ec), b"\x00\x01\x00\x07purpose\x00\x04test");
        assert!(canonical(&EncryptionContext::new()).is_empty());
        let two: EncryptionContext = [
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]
        .into();
        assert_eq!(
            canonical(&two),
            b"\x00\x02\x00\x01a\x00\x011\x00\x01b\x00\x012"
        );
    }

    #[test]
    fn limits() {
        let big: EncryptionContext = [("k".to_owned(), "v".repeat(8192))].into();
        assert!(validate(&big).is_err());
        let empty_key: EncryptionContext = [(String::new(), "v".to_owned())].into();
        assert!(validate(&empty_key).is_err());
    }
}
