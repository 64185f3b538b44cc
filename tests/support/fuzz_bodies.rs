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
            let _ =
                d.danger_decrypt_range_unauthenticated(Cursor::new(data), data.len() as u64, range);
            assert!(d.decrypt_range(Cursor::new(data), range).is_err());
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

/// Differential check of every kernel tier against the RustCrypto backend: the input chooses the key, nonce,
/// AAD, message, buffer alignment and CTR offset. Unlike the other bodies this one *asserts*: a mismatch
/// between tiers is the bug the fuzzer looks for.
pub fn gcm_tiers(data: &[u8]) {
    use s3crypt::primitives::{Aes256Ctr, Aes256Gcm, Backend, Ghash};
    if data.len() < 48 {
        return;
    }
    let key: [u8; 32] = data[..32].try_into().expect("32");
    let nonce: [u8; 12] = data[32..44].try_into().expect("12");
    let (aad_len, align, ctr_off) = (usize::from(data[44]), usize::from(data[45] % 64), data[46]);
    let tamper = data[47];
    let rest = &data[48..];
    let aad = &rest[..aad_len.min(rest.len())];
    let msg = &rest[aad.len()..];

    let reference = Aes256Gcm::with_backend(&key, Backend::RustCrypto).expect("rustcrypto");
    let want = reference.seal(&nonce, aad, msg).expect("seal");
    let ref_ctr = Aes256Ctr::with_backend(&key, Backend::RustCrypto).expect("rustcrypto");
    let mut counter = [0u8; 16];
    counter[..12].copy_from_slice(&nonce);
    counter[12..].copy_from_slice(&[0xff, 0xff, 0xff, ctr_off]); // near the 32-bit wrap
    let mut want_ks = msg.to_vec();
    ref_ctr.apply_keystream(&counter, u64::from(ctr_off), &mut want_ks);
    let h: [u8; 16] = key[16..].try_into().expect("16");
    let mut rg = Ghash::with_backend(&h, Backend::RustCrypto).expect("rustcrypto");
    rg.update_padded(aad);
    rg.update_padded(msg);
    let want_hash = rg.finalize();

    for backend in Backend::available() {
        let gcm = Aes256Gcm::with_backend(&key, backend).expect("available");
        // Out of place, from and into unaligned buffers.
        let mut storage = vec![0u8; msg.len() + 64];
        let input = &mut storage[align..align + msg.len()];
        input.copy_from_slice(msg);
        let mut out_storage = vec![0u8; msg.len() + 64];
        let out = &mut out_storage[63 - align..63 - align + msg.len()];
        let tag = gcm.seal_detached(&nonce, aad, input, out).expect("seal");
        assert_eq!(out, &want[..msg.len()], "{backend}: ciphertext");
        assert_eq!(tag, want[msg.len()..], "{backend}: tag");
        // In place.
        let mut buf = storage[align..align + msg.len()].to_vec();
        let tag2 = gcm
            .seal_in_place_detached(&nonce, aad, &mut buf)
            .expect("seal");
        assert_eq!(buf, want[..msg.len()], "{backend}: in-place ciphertext");
        assert_eq!(tag2, tag);
        assert_eq!(
            gcm.open(&nonce, aad, &want).expect("open"),
            msg,
            "{backend}: open"
        );
        // A tampered tag or ciphertext byte is refused and leaves the ciphertext in place.
        let mut bad = want.clone();
        let i = usize::from(tamper) % bad.len();
        bad[i] ^= 1 << (tamper % 8);
        let (ct, t) = bad.split_at(msg.len());
        let mut work = ct.to_vec();
        let t: [u8; 16] = t.try_into().expect("tag");
        assert!(
            gcm.open_in_place_detached(&nonce, aad, &mut work, &t)
                .is_err(),
            "{backend}: tamper"
        );
        assert_eq!(
            work, ct,
            "{backend}: a failed open must give the ciphertext back"
        );
        let mut out = vec![0u8; ct.len()];
        assert!(gcm.open_detached(&nonce, aad, ct, &t, &mut out).is_err());
        assert!(
            out.iter().all(|&b| b == 0),
            "{backend}: a failed open released bytes"
        );

        let ctr = Aes256Ctr::with_backend(&key, backend).expect("available");
        let mut ks = msg.to_vec();
        ctr.apply_keystream(&counter, u64::from(ctr_off), &mut ks);
        assert_eq!(ks, want_ks, "{backend}: ctr");

        let mut g = Ghash::with_backend(&h, backend).expect("available");
        g.update_padded(aad);
        g.update_padded(msg);
        assert_eq!(g.finalize(), want_hash, "{backend}: ghash");
    }
}

/// `aws-chunked` bodies (`s3crypt::aws::chunked`) in the three streaming modes and, via `verify_s3`,
/// presigned-URL query strings: any bytes must decode or fail with a typed error, never panic.
pub fn aws_chunked(data: &[u8]) {
    use s3crypt::aws::chunked::{ChunkedReader, StreamingAuth, StreamingMode};
    use s3crypt::aws::sigv4::{self, Credentials, Scope};

    let scope = Scope::new("20130524", "us-east-1", "s3");
    let secret = Credentials::new("AKIDFUZZ", "secret", None);
    for mode in [
        StreamingMode::Signed,
        StreamingMode::SignedWithTrailer,
        StreamingMode::UnsignedWithTrailer,
    ] {
        let key = sigv4::signing_key(secret.secret_access_key(), &scope);
        let auth = StreamingAuth::new(
            mode,
            key,
            &"0".repeat(64),
            "20130524T000000Z",
            scope.clone(),
            Some(64),
        );
        let mut out = Vec::new();
        let _ = ChunkedReader::new(data, auth).read_to_end(&mut out);
        assert!(out.len() <= 64);
    }
    if let Ok(query) = std::str::from_utf8(data) {
        let uri = format!("/k?{query}");
        let headers = vec![("Host".to_owned(), "b.example".to_owned())];
        let req = sigv4::SignableRequest {
            method: "GET",
            uri: &uri,
            headers: &headers,
            body: b"",
        };
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600);
        let lookup = |id: &str| (id == "AKIDFUZZ").then(|| secret.clone());
        if let Err(e) = s3crypt::aws::presign::verify_s3(
            &req,
            lookup,
            &s3crypt::aws::presign::S3Policy::new("us-east-1"),
            now,
        ) {
            let _ = (e.s3(), e.kms());
        }
    }
}
