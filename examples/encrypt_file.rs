//! Encrypt a file in five lines, in the S3 Encryption Client's V3 format, with a KMS key; then decrypt it.
//!
//! Runs offline: the KMS is s3crypt's in-process `MockKms` (swap in `s3crypt::kms::remote::RemoteKms`
//! for AWS KMS or `s3crypt kms serve`). The encrypted pair (`OUT`, `OUT.metadata.json`) can be uploaded
//! as-is as an S3 object that the official clients decrypt.
//!
//! ```text
//! cargo run --example encrypt_file [INPUT]
//! ```

use std::collections::BTreeMap;
use std::fs::File;

use s3crypt::envelope::{CommitmentPolicy, Decryptor, Encryptor, Format, KmsKeyring, file};
use s3crypt::kms::{CreateKeyRequest, Kms as _, MockKms};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let input = match std::env::args_os().nth(1) {
        Some(path) => path.into(),
        None => {
            let p = dir.path().join("report.csv");
            std::fs::write(&p, "id,amount\n1,100\n2,250\n".repeat(10_000))?;
            p
        }
    };
    let output = dir.path().join("report.csv.s3ec");
    let kms = MockKms::in_memory();
    let key_id = kms
        .create_key(&CreateKeyRequest::default())?
        .key_metadata
        .key_id;
    let context: BTreeMap<String, String> = [("department".into(), "finance".into())].into();

    // The five lines: a keyring, an encryptor, and the file (body + metadata sidecar, written atomically).
    let keyring = KmsKeyring::new(&kms, key_id.as_str());
    let policy = CommitmentPolicy::RequireEncryptRequireDecrypt;
    let encryptor = Encryptor::new(&keyring, Format::V3, &context, policy)?;
    let n = file::encrypt_file(encryptor, &mut File::open(&input)?, &output, false, None)?;
    println!("encrypted {n} bytes to {}", output.display());

    // Decrypting: the metadata sidecar, the key (checked against the encryption context), then the body,
    // written only once the whole object authenticates.
    let restored = dir.path().join("restored.csv");
    let metadata = file::read_metadata(&output)?;
    let decryptor = Decryptor::new(&keyring, &metadata, policy, Some(&context))?;
    file::decrypt_file(&decryptor, &mut File::open(&output)?, &restored)?;

    assert_eq!(std::fs::read(&restored)?, std::fs::read(&input)?);
    assert_ne!(std::fs::read(&output)?, std::fs::read(&input)?);
    println!(
        "decrypted and authenticated {} bytes; metadata keys: {:?}",
        std::fs::metadata(&restored)?.len(),
        metadata.keys().collect::<Vec<_>>()
    );
    Ok(())
}
