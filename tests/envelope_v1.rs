//! Legacy V1 objects (AES/CBC), read-only behind the explicit opt-in. The vectors were produced by an
//! independent implementation (Python `cryptography`, test-vectors/s3ec-v1/generate.py): AESWrap (RFC 3394)
//! and ECB-wrapped data keys; a KMS-wrapped (`kms`) variant is built here with the mock KMS.

use std::collections::BTreeMap;

use base64::Engine as _;
use s3crypt::envelope::{
    AesKeyring, CommitmentPolicy, Decryptor, EnvelopeError, KmsKeyring, LegacyV1Decryptor,
    MetadataMap,
};
use s3crypt::keys::{KeyEncryptionKey, SecretBytes};
use s3crypt::kms::{CreateKeyRequest, EncryptRequest, Kms, MockKms};
use s3crypt::primitives::hash::sha256;

fn vectors() -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-vectors/s3ec-v1/v1_vectors.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("vectors")).expect("json")
}

fn md(case: &serde_json::Value) -> MetadataMap {
    serde_json::from_value(case["metadata"].clone()).expect("metadata")
}

#[test]
fn v1_vectors_decrypt_only_with_the_opt_in() {
    let doc = vectors();
    let kek: [u8; 32] = hex::decode(doc["wrapping_key"].as_str().expect("kek"))
        .expect("hex")
        .try_into()
        .expect("32");
    let kr = AesKeyring::new(KeyEncryptionKey::from_bytes(kek), BTreeMap::new());
    let wrong = AesKeyring::new(KeyEncryptionKey::from_bytes([0; 32]), BTreeMap::new());
    let cases = doc["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 16);
    for c in cases {
        let m = md(c);
        let body = hex::decode(c["body"].as_str().expect("body")).expect("hex");
        assert!(matches!(
            Decryptor::new(&kr, &m, CommitmentPolicy::RequireEncryptAllowDecrypt, None),
            Err(EnvelopeError::UnsupportedFormat(_))
        ));
        let pt = LegacyV1Decryptor::new(&kr, &m)
            .expect("legacy")
            .decrypt_to_vec(&body)
            .expect("decrypt");
        assert_eq!(
            hex::encode(sha256(&pt)),
            c["plaintext_sha256"].as_str().expect("sha"),
            "{} {}",
            c["wrap"],
            c["size"]
        );
        assert!(
            LegacyV1Decryptor::new(&wrong, &m).is_err(),
            "a wrong wrapping key fails the unwrap"
        );
        assert!(
            LegacyV1Decryptor::new(&kr, &m)
                .expect("d")
                .decrypt_to_vec(&body[..body.len() - 1])
                .is_err(),
            "truncated"
        );
    }
    println!("{} V1 vectors decrypted", cases.len());
}

#[test]
fn v1_kms_wrapped_objects() {
    let doc = vectors();
    let c = &doc["cases"][5];
    let cek = hex::decode(c["cek"].as_str().expect("cek")).expect("hex");
    let kms = MockKms::in_memory();
    let key = kms
        .create_key(&CreateKeyRequest::default())
        .expect("key")
        .key_metadata
        .arn;
    let ctx: BTreeMap<String, String> = [("kms_cmk_id".to_owned(), key.clone())].into();
    let blob = kms
        .encrypt(&EncryptRequest::new(
            &key,
            SecretBytes::new(cek),
            ctx.clone(),
        ))
        .expect("encrypt")
        .ciphertext_blob;
    let mut m = md(c);
    m.insert(
        "x-amz-key".into(),
        base64::engine::general_purpose::STANDARD.encode(blob),
    );
    m.insert("x-amz-wrap-alg".into(), "kms".into());
    m.insert(
        "x-amz-matdesc".into(),
        serde_json::to_string(&ctx).expect("json"),
    );
    let body = hex::decode(c["body"].as_str().expect("body")).expect("hex");
    let pt = LegacyV1Decryptor::new(&KmsKeyring::new(kms.clone(), &key), &m)
        .expect("legacy")
        .decrypt_to_vec(&body)
        .expect("decrypt");
    assert_eq!(
        hex::encode(sha256(&pt)),
        c["plaintext_sha256"].as_str().expect("sha")
    );
    m.insert("x-amz-matdesc".into(), "{\"kms_cmk_id\":\"other\"}".into());
    assert!(
        LegacyV1Decryptor::new(&KmsKeyring::new(kms, &key), &m).is_err(),
        "the context is bound by KMS"
    );
}
