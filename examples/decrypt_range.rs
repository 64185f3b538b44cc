//! Decrypt a byte range of a client-side encrypted object: authenticated (the whole body's tag is checked
//! first, from a seekable file) and, for comparison, the unauthenticated ranged read that S3EC's ranged
//! GET performs when only the range is at hand.
//!
//! Runs offline with a raw AES-256 wrapping key (the official clients' AES keyring).
//!
//! ```text
//! cargo run --example decrypt_range
//! ```

use std::collections::BTreeMap;
use std::fs::File;

use s3crypt::envelope::{
    AesKeyring, CommitmentPolicy, Decryptor, Encryptor, EnvelopeError, Format,
};
use s3crypt::keys::KeyEncryptionKey;
use s3crypt::range::ByteRange;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let keyring = AesKeyring::new(KeyEncryptionKey::generate()?, BTreeMap::new());
    let policy = CommitmentPolicy::RequireEncryptRequireDecrypt;

    // A 3 MiB object, encrypted to a file.
    let plaintext: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
    let encryptor = Encryptor::new(&keyring, Format::V3, &BTreeMap::new(), policy)?;
    let metadata = encryptor.metadata();
    let body_path = dir.path().join("object");
    std::fs::write(&body_path, encryptor.encrypt_to_vec(&plaintext)?)?;

    let decryptor = Decryptor::new(&keyring, &metadata, policy, None)?;
    let range: ByteRange = "bytes=1048570-1048600".parse()?;

    // Authenticated: the whole body is authenticated first, then only the range is decrypted.
    let bytes = decryptor.decrypt_range(File::open(&body_path)?, range)?;
    assert_eq!(bytes, plaintext[1_048_570..=1_048_600]);
    println!(
        "bytes=1048570-1048600: {} bytes, authenticated",
        bytes.len()
    );

    // A suffix range.
    let tail = decryptor.decrypt_range(File::open(&body_path)?, "bytes=-10".parse()?)?;
    assert_eq!(tail, plaintext[plaintext.len() - 10..]);

    // A tampered body: the authenticated read refuses it; the unauthenticated one cannot tell.
    let mut body = std::fs::read(&body_path)?;
    body[5] ^= 1;
    std::fs::write(&body_path, &body)?;
    let refused = decryptor.decrypt_range(File::open(&body_path)?, range);
    assert!(matches!(refused, Err(EnvelopeError::Authentication)));
    let len = body.len() as u64;
    let unchecked =
        decryptor.danger_decrypt_range_unauthenticated(File::open(&body_path)?, len, range)?;
    assert_eq!(unchecked, plaintext[1_048_570..=1_048_600]);
    println!(
        "tampered body: authenticated range refused; the unauthenticated range read cannot tell"
    );
    Ok(())
}
