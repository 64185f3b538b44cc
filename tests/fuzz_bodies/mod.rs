//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly), shared with `tests/fuzz_smoke.rs`,
//! which runs them on stable over random and mutated inputs in every CI run. Each takes attacker-controlled
//! bytes and must return (any error is fine) without panicking.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::sync::OnceLock;

use s3crypt::envelope::{
    AesKeyring, CommitmentPolicy, ContentMetadata, Decryptor, Encryptor, Format, MetadataMap,
};
use s3crypt::keys::KeyEncryptionKey;
use s3crypt::kms::{CreateKeyRequest, DecryptRequest, Kms, MockKms};
use s3crypt::primitives::chunked;
use s3crypt::range::ByteRange;

/// Object metadata parsing: any JSON object (or any bytes) must parse or fail cleanly.
pub fn metadata(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(map) = serde_json::from_str::<MetadataMap>(text) {
        if let Ok(md) = ContentMetadata::parse(&map) {
            let _ = ContentMetadata::parse(&md.to_map());
        }
        let (object, inst) = s3crypt::envelope::metadata::split_for_instruction_file(&map);
        let _ = s3crypt::envelope::metadata::merge_instruction_file(&object, &inst);
    }
    // Also as a map built from lines "k=v", so the values themselves get fuzzed without JSON escaping.
    let map: MetadataMap = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let _ = ContentMetadata::parse(&map);
}

fn fixture() -> &'static (AesKeyring, MetadataMap, MetadataMap) {
    static F: OnceLock<(AesKeyring, MetadataMap, MetadataMap)> = OnceLock::new();
    F.get_or_init(|| {
        let kr = AesKeyring::new(KeyEncryptionKey::from_bytes([7; 32]), BTreeMap::new());
        let v3 = Encryptor::new(
            &kr,
            Format::V3,
            &BTreeMap::new(),
            CommitmentPolicy::default(),
        )
        .expect("v3")
        .metadata();
        let v2 = Encryptor::new(
            &kr,
            Format::V2,
            &BTreeMap::new(),
            CommitmentPolicy::ForbidEncryptAllowDecrypt,
        )
        .expect("v2")
        .metadata();
        (kr, v3, v2)
    })
}

/// Decryption of arbitrary bodies under valid metadata: every path must reject them (a random body
/// authenticates with probability 2^-128) and never panic.
pub fn envelope_decrypt(data: &[u8]) {
    let (kr, v3, v2) = fixture();
    for md in [v3, v2] {
        let d = Decryptor::new(kr, md, CommitmentPolicy::RequireEncryptAllowDecrypt, None)
            .expect("fixture");
        assert!(d.decrypt_to_vec(data).is_err());
        let mut out = Vec::new();
        assert!(
            d.reader_delayed_authentication(data)
                .read_to_end(&mut out)
                .is_err()
        );
        assert!(d.reader_seekable(Cursor::new(data)).is_err());
        if let Some((&b, rest)) = data.split_first() {
            let range = ByteRange::FromTo(u64::from(b), u64::from(b) + rest.len() as u64 % 64);
            let _ = d.decrypt_range(Cursor::new(data), data.len() as u64, range);
            assert!(
                d.decrypt_range_authenticated(Cursor::new(data), range)
                    .is_err()
            );
        }
    }
}

fn kms() -> &'static (MockKms, String) {
    static K: OnceLock<(MockKms, String)> = OnceLock::new();
    K.get_or_init(|| {
        let kms = MockKms::in_memory();
        let key = kms
            .create_key(&CreateKeyRequest::default())
            .expect("key")
            .key_metadata
            .key_id;
        (kms, key)
    })
}

/// The mock KMS's blob parser and Decrypt.
pub fn kms_decrypt(data: &[u8]) {
    let (kms, key) = kms();
    let mut blob = data.to_vec();
    // Give half the inputs a valid header so the parser gets past the key lookup.
    if data.first().is_some_and(|b| b & 1 == 1) {
        let mut h = vec![1u8];
        h.extend_from_slice(key.as_bytes());
        h.extend_from_slice(&1u32.to_be_bytes());
        h.extend_from_slice(data);
        blob = h;
    }
    let e = kms
        .decrypt(&DecryptRequest::new(blob, BTreeMap::new()))
        .expect_err("random blobs never decrypt");
    assert!(matches!(e.code(), "InvalidCiphertextException"), "{e}");
}

/// Byte-range headers.
pub fn range(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(r) = s.parse::<ByteRange>()
    {
        for len in [0u64, 1, 16, u64::MAX] {
            if let Ok((a, b)) = r.resolve(len) {
                assert!(a < b && b <= len);
            }
        }
    }
}

/// C2SP chunked decryption.
pub fn chunked_open(data: &[u8]) {
    assert!(chunked::open(&[3u8; 32], b"ctx", data).is_err());
}

/// SSE request headers: arbitrary header lines through every parser.
pub fn sse_headers(data: &[u8]) {
    use s3crypt::sse::headers::{Headers, Transport, parse_copy_source, parse_read, parse_write};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let h = Headers::new(
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_owned(), v.to_owned())),
    );
    for t in [Transport::Secure, Transport::Insecure] {
        let _ = parse_write(&h, t);
        let _ = parse_read(&h, t);
        let _ = parse_copy_source(&h, t);
    }
}

/// Bucket policies and PutBucketEncryption XML.
pub fn sse_bucket_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = s3crypt::sse::bucket::BucketPolicy::parse(text, "bkt");
    if let Ok(enc) = s3crypt::sse::bucket::BucketEncryption::parse_xml(text) {
        assert!(s3crypt::sse::bucket::BucketEncryption::parse_xml(&enc.to_xml()).is_ok());
    }
}

/// The SSE object-file reader.
pub fn sse_object(data: &[u8]) {
    let _ = s3crypt::sse::object::Header::read(&mut Cursor::new(data));
}
