//! Client-side envelope encryption: round trips at every size boundary through every API, tamper and
//! misuse rejection, commitment policies, ranges, and the file helpers.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use s3crypt::envelope::file::{self, INSTRUCTION_SUFFIX, METADATA_SUFFIX, with_suffix};
use s3crypt::envelope::*;
use s3crypt::keys::KeyEncryptionKey;
use s3crypt::kms::{CreateKeyRequest, EncryptionContext, Kms, MockKms};
use s3crypt::range::ByteRange;

const C: usize = STREAM_CHUNK;

fn ctx() -> EncryptionContext {
    [("tenant".to_owned(), "t1".to_owned())].into()
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + n) as u8).collect()
}

fn kms_keyring() -> KmsKeyring<MockKms> {
    let kms = MockKms::in_memory();
    let key = kms
        .create_key(&CreateKeyRequest::default())
        .expect("key")
        .key_metadata
        .arn;
    KmsKeyring::new(kms, key)
}

fn aes_keyring() -> AesKeyring {
    AesKeyring::new(KeyEncryptionKey::from_bytes([9; 32]), BTreeMap::new())
}

fn policy(format: Format) -> CommitmentPolicy {
    match format {
        Format::V2 => CommitmentPolicy::ForbidEncryptAllowDecrypt,
        _ => CommitmentPolicy::RequireEncryptRequireDecrypt,
    }
}

fn encrypt(
    kr: &dyn Keyring,
    format: Format,
    pt: &[u8],
    write_size: usize,
) -> (MetadataMap, Vec<u8>) {
    let e = Encryptor::new(kr, format, &ctx(), policy(format)).expect("encryptor");
    let md = e.metadata();
    let mut w = e.writer(Vec::new());
    for chunk in pt.chunks(write_size.max(1)) {
        w.write_all(chunk).expect("write");
    }
    (md, w.finish().expect("finish"))
}

fn decryptor(kr: &dyn Keyring, md: &MetadataMap) -> Result<Decryptor, EnvelopeError> {
    Decryptor::new(
        kr,
        md,
        CommitmentPolicy::RequireEncryptAllowDecrypt,
        Some(&ctx()),
    )
}

#[test]
fn round_trip_at_every_boundary_through_every_api() {
    let kms = kms_keyring();
    let aes = aes_keyring();
    let sizes = [
        0,
        1,
        15,
        16,
        17,
        4095,
        4096,
        4097,
        C - 1,
        C,
        C + 1,
        2 * C + 1,
    ];
    let writes = [1usize, 4095, C - 1, C, C + 1];
    for (kr, name) in [(&kms as &dyn Keyring, "kms"), (&aes, "aes")] {
        for format in [Format::V3, Format::V2] {
            for &n in &sizes {
                let pt = pattern(n);
                for &ws in writes.iter().filter(|&&w| w >= 4095 || n < 70_000) {
                    let (md, body) = encrypt(kr, format, &pt, ws);
                    assert_eq!(body.len(), n + 16, "{name} {format:?} {n}");
                    let d = decryptor(kr, &md).expect("decryptor");
                    assert_eq!(
                        d.decrypt_to_vec(&body).expect("vec"),
                        pt,
                        "{name} {format:?} {n}/{ws}"
                    );
                    let mut out = Vec::new();
                    d.reader_seekable(Cursor::new(&body))
                        .expect("seekable")
                        .read_to_end(&mut out)
                        .expect("read");
                    assert_eq!(out, pt);
                    let mut out = Vec::new();
                    d.reader_buffered(&body[..], n as u64)
                        .expect("buffered")
                        .read_to_end(&mut out)
                        .expect("read");
                    assert_eq!(out, pt);
                    let mut out = Vec::new();
                    d.reader_delayed_authentication(&body[..])
                        .read_to_end(&mut out)
                        .expect("delayed");
                    assert_eq!(out, pt);
                }
            }
        }
    }
}

#[test]
fn one_shot_and_streaming_agree() {
    let kr = aes_keyring();
    let pt = pattern(3 * C + 5);
    let e = Encryptor::new(&kr, Format::V3, &ctx(), CommitmentPolicy::default()).expect("e");
    let md = e.metadata();
    let body = e.encrypt_to_vec(&pt).expect("vec");
    let d = decryptor(&kr, &md).expect("d");
    let mut seq = Vec::new();
    d.reader_seekable(Cursor::new(&body))
        .expect("r")
        .read_to_end(&mut seq)
        .expect("read");
    assert_eq!(seq, pt);
    let e2 = Encryptor::new(&kr, Format::V3, &ctx(), CommitmentPolicy::default()).expect("e");
    let md2 = e2.metadata();
    let mut w = e2.writer(Vec::new()).sequential();
    w.write_all(&pt).expect("w");
    let body2 = w.finish().expect("f");
    assert_eq!(
        decryptor(&kr, &md2)
            .expect("d")
            .decrypt_to_vec(&body2)
            .expect("v"),
        pt
    );
}

#[test]
fn every_tamper_is_rejected() {
    for (kr, name) in [
        (&kms_keyring() as &dyn Keyring, "kms"),
        (&aes_keyring(), "aes"),
    ] {
        for format in [Format::V3, Format::V2] {
            let pt = pattern(40);
            let (md, body) = encrypt(kr, format, &pt, 7);
            let d = decryptor(kr, &md).expect("d");
            for bit in 0..body.len() * 8 {
                let mut t = body.clone();
                t[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    matches!(d.decrypt_to_vec(&t), Err(EnvelopeError::Authentication)),
                    "{name} {format:?} bit {bit}"
                );
                let mut out = Vec::new();
                assert!(
                    d.reader_delayed_authentication(&t[..])
                        .read_to_end(&mut out)
                        .is_err()
                );
                assert!(d.reader_seekable(Cursor::new(&t)).is_err());
            }
            for cut in [0, 1, 15, body.len() - 1] {
                assert!(
                    d.decrypt_to_vec(&body[..cut]).is_err(),
                    "truncated to {cut}"
                );
            }
            let mut longer = body.clone();
            longer.push(0);
            assert!(d.decrypt_to_vec(&longer).is_err(), "extended");
            // Every metadata value, one bit flipped (in its decoded form where it is base64).
            for key in md.keys() {
                let mut m = md.clone();
                let v = m.get_mut(key).expect("key");
                let mut bytes = v.clone().into_bytes();
                let i = bytes.len() / 2;
                bytes[i] ^= 0x01;
                *v = String::from_utf8_lossy(&bytes).into_owned();
                let ok = decryptor(kr, &m)
                    .and_then(|d| d.decrypt_to_vec(&body))
                    .is_ok();
                assert!(!ok, "{name} {format:?}: flipping {key} was not detected");
            }
        }
    }
}

#[test]
fn wrong_key_context_and_swapped_metadata() {
    let kr = kms_keyring();
    let (md1, body1) = encrypt(&kr, Format::V3, b"first object", 100);
    let (md2, body2) = encrypt(&kr, Format::V3, b"second object", 100);
    let d2 = decryptor(&kr, &md2).expect("d");
    assert!(
        matches!(
            d2.decrypt_to_vec(&body1),
            Err(EnvelopeError::Authentication)
        ),
        "swapped metadata"
    );
    assert!(
        decryptor(&kr, &md1)
            .expect("d")
            .decrypt_to_vec(&body2)
            .is_err()
    );
    let other: EncryptionContext = [("tenant".to_owned(), "t2".to_owned())].into();
    assert!(matches!(
        Decryptor::new(&kr, &md1, CommitmentPolicy::default(), Some(&other)),
        Err(EnvelopeError::ContextMismatch)
    ));
    assert!(
        Decryptor::new(&kr, &md1, CommitmentPolicy::default(), None).is_ok(),
        "context is optional on decrypt"
    );
    let reserved: EncryptionContext = [(RESERVED_CEK_ALG.to_owned(), "115".to_owned())].into();
    assert!(matches!(
        Encryptor::new(&kr, Format::V3, &reserved, CommitmentPolicy::default()),
        Err(EnvelopeError::ReservedContextKey(_))
    ));
    let other_kms = kms_keyring();
    assert!(
        matches!(decryptor(&other_kms, &md1), Err(EnvelopeError::Kms(_))),
        "another KMS key"
    );
    let aes = aes_keyring();
    let (amd, abody) = encrypt(&aes, Format::V3, b"aes object", 100);
    let wrong = AesKeyring::new(KeyEncryptionKey::from_bytes([8; 32]), BTreeMap::new());
    assert!(matches!(
        decryptor(&wrong, &amd),
        Err(EnvelopeError::WrongKey)
    ));
    assert!(matches!(
        decryptor(&kr, &amd),
        Err(EnvelopeError::WrongKeyring { .. })
    ));
    assert!(
        decryptor(&aes, &amd)
            .expect("d")
            .decrypt_to_vec(&abody)
            .is_ok()
    );
    // A V3 commitment that does not match the data key is refused before any decryption.
    let mut m = amd.clone();
    let d = m.get_mut("x-amz-d").expect("commitment");
    *d = base64_flip(d);
    assert!(matches!(
        decryptor(&aes, &m),
        Err(EnvelopeError::CommitmentMismatch)
    ));
}

fn base64_flip(v: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64.decode(v).expect("b64");
    raw[0] ^= 1;
    b64.encode(raw)
}

#[test]
fn formats_policies_and_mixed_metadata() {
    let kr = aes_keyring();
    let (v2md, v2body) = encrypt(&kr, Format::V2, b"legacy", 10);
    assert!(v2md.contains_key("x-amz-key-v2") && v2md.contains_key("x-amz-iv"));
    assert!(matches!(
        Decryptor::new(
            &kr,
            &v2md,
            CommitmentPolicy::RequireEncryptRequireDecrypt,
            None
        ),
        Err(EnvelopeError::CommitmentPolicy { .. })
    ));
    assert_eq!(
        decryptor(&kr, &v2md)
            .expect("allowed")
            .decrypt_to_vec(&v2body)
            .expect("v"),
        b"legacy"
    );
    assert!(
        Encryptor::new(
            &kr,
            Format::V2,
            &ctx(),
            CommitmentPolicy::RequireEncryptAllowDecrypt
        )
        .is_err()
    );
    assert!(
        Encryptor::new(
            &kr,
            Format::V3,
            &ctx(),
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        )
        .is_err()
    );
    let (v3md, _) = encrypt(&kr, Format::V3, b"new", 10);
    assert_eq!(v3md.get("x-amz-c").map(String::as_str), Some("115"));
    assert_eq!(v3md.get("x-amz-w").map(String::as_str), Some("02"));
    let mut mixed = v3md.clone();
    mixed.insert("x-amz-key-v2".into(), v2md["x-amz-key-v2"].clone());
    assert!(matches!(
        decryptor(&kr, &mixed),
        Err(EnvelopeError::MixedFormats)
    ));
    let mut v1 = BTreeMap::new();
    v1.insert("x-amz-key".to_owned(), "AAAA".to_owned());
    v1.insert("x-amz-iv".to_owned(), "AAAAAAAAAAAAAAAAAAAAAA==".to_owned());
    assert!(matches!(
        decryptor(&kr, &v1),
        Err(EnvelopeError::UnsupportedFormat(_))
    ));
    assert!(matches!(
        decryptor(&kr, &BTreeMap::new()),
        Err(EnvelopeError::NotEncrypted)
    ));
    let kms = kms_keyring();
    let (kmd, _) = encrypt(&kms, Format::V3, b"x", 1);
    let t: serde_json::Value = serde_json::from_str(&kmd["x-amz-t"]).expect("json");
    assert_eq!(t["aws:x-amz-cek-alg"], "115");
    assert_eq!(t["tenant"], "t1");
}

#[test]
fn ranges_unauthenticated_and_authenticated() {
    let kr = aes_keyring();
    let n = 100_003;
    let pt = pattern(n);
    for format in [Format::V3, Format::V2] {
        let (md, body) = encrypt(&kr, format, &pt, 4096);
        let d = decryptor(&kr, &md).expect("d");
        for (a, b) in [
            (0u64, 0u64),
            (0, 15),
            (1, 1),
            (15, 16),
            (16, 31),
            (17, 100),
            (4095, 4097),
            (n as u64 - 1, n as u64 - 1),
            (99_990, 200_000),
        ] {
            let r = ByteRange::FromTo(a, b);
            let want = &pt[a as usize..(b as usize + 1).min(n)];
            assert_eq!(
                d.danger_decrypt_range_unauthenticated(Cursor::new(&body), body.len() as u64, r)
                    .expect("range"),
                want,
                "{r}"
            );
            assert_eq!(
                d.decrypt_range(Cursor::new(&body), r).expect("auth range"),
                want
            );
        }
        let suffix = d
            .danger_decrypt_range_unauthenticated(
                Cursor::new(&body),
                body.len() as u64,
                ByteRange::Suffix(10),
            )
            .expect("suffix");
        assert_eq!(suffix, &pt[n - 10..]);
        assert!(matches!(
            d.danger_decrypt_range_unauthenticated(
                Cursor::new(&body),
                body.len() as u64,
                ByteRange::From(n as u64)
            ),
            Err(EnvelopeError::Range(_))
        ));
        let mut t = body.clone();
        t[5] ^= 1;
        assert!(matches!(
            d.decrypt_range(Cursor::new(&t), ByteRange::FromTo(50, 60)),
            Err(EnvelopeError::Authentication)
        ));
    }
}

#[test]
fn buffered_reader_refuses_over_limit() {
    let kr = aes_keyring();
    let (md, body) = encrypt(&kr, Format::V3, &pattern(1000), 100);
    let d = decryptor(&kr, &md).expect("d");
    assert!(matches!(
        d.reader_buffered(&body[..], 999),
        Err(EnvelopeError::TooLargeToBuffer { limit: 999 })
    ));
    assert!(d.reader_buffered(&body[..], 1000).is_ok());
}

#[test]
fn files_with_sidecars_and_instruction_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let kr = kms_keyring();
    let pt = pattern(C + 123);
    for instruction in [false, true] {
        let out = dir.path().join(format!("obj-{instruction}"));
        let e = Encryptor::new(&kr, Format::V3, &ctx(), CommitmentPolicy::default()).expect("e");
        assert_eq!(
            file::encrypt_file(e, &mut &pt[..], &out, instruction, None).expect("enc"),
            pt.len() as u64
        );
        let object_md = file::parse_map(
            &std::fs::read_to_string(with_suffix(&out, METADATA_SUFFIX)).expect("sidecar"),
            &out,
        )
        .expect("map");
        if instruction {
            assert_eq!(
                object_md.keys().map(String::as_str).collect::<Vec<_>>(),
                ["x-amz-c", "x-amz-d", "x-amz-i"]
            );
            assert!(with_suffix(&out, INSTRUCTION_SUFFIX).exists());
        }
        let md = file::read_metadata(&out).expect("md");
        let d = decryptor(&kr, &md).expect("d");
        let dest = dir.path().join(format!("plain-{instruction}"));
        file::decrypt_file(&d, &mut std::fs::File::open(&out).expect("open"), &dest).expect("dec");
        assert_eq!(std::fs::read(&dest).expect("read"), pt);

        // Tampered body: an error, and the existing destination is untouched; a new one is never created.
        let mut body = std::fs::read(&out).expect("body");
        body[C + 10] ^= 0x40;
        std::fs::write(&out, &body).expect("write");
        std::fs::write(&dest, b"previous good file").expect("write");
        assert!(matches!(
            file::decrypt_file(&d, &mut std::fs::File::open(&out).expect("o"), &dest),
            Err(EnvelopeError::Authentication)
        ));
        assert_eq!(std::fs::read(&dest).expect("read"), b"previous good file");
        let fresh = dir.path().join(format!("never-{instruction}"));
        assert!(file::decrypt_file(&d, &mut &body[..], &fresh).is_err());
        assert!(!fresh.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".s3crypt-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind");
        let mut sink = Vec::new();
        assert!(file::decrypt_to_stream(&d, &mut &body[..], &mut sink).is_err());
        assert!(
            sink.is_empty(),
            "no plaintext reaches a stream before authentication"
        );
    }
    assert!(file::read_metadata(&dir.path().join("missing")).is_err());
}

#[test]
fn aes_keyring_stores_the_context_as_material_description_and_checks_it() {
    let kr = aes_keyring();
    let mut c = BTreeMap::new();
    c.insert("tenant".to_owned(), "t1".to_owned());
    let e = Encryptor::new(&kr, Format::V3, &c, CommitmentPolicy::default()).expect("e");
    let md = e.metadata();
    let body = e.encrypt_to_vec(b"matdesc").expect("enc");
    assert!(
        md.get("x-amz-m").is_some_and(|m| m.contains("tenant")),
        "{md:?}"
    );
    let ok = Decryptor::new(&kr, &md, CommitmentPolicy::default(), Some(&c)).expect("same");
    assert_eq!(ok.decrypt_to_vec(&body).expect("dec"), b"matdesc");
    let mut other = c.clone();
    other.insert("tenant".into(), "t2".into());
    assert!(matches!(
        Decryptor::new(&kr, &md, CommitmentPolicy::default(), Some(&other)),
        Err(EnvelopeError::ContextMismatch)
    ));
    // Without a context to check, the stored description does not stand in the way.
    assert!(Decryptor::new(&kr, &md, CommitmentPolicy::default(), None).is_ok());
    // A keyring with its own description refuses a different context instead of dropping it.
    let fixed = AesKeyring::new(KeyEncryptionKey::from_bytes([9; 32]), other);
    assert!(matches!(
        Encryptor::new(&fixed, Format::V3, &c, CommitmentPolicy::default()),
        Err(EnvelopeError::ContextMismatch)
    ));
}
