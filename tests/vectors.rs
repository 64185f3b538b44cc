//! Published test vectors: every suite must load exactly the expected number of cases, and every case must
//! pass (valid ones match, invalid ones are rejected). Counts are printed; run with `--nocapture` to see
//! them.

use s3crypt::selftest::{self, Tally};

/// Runs the suite for `file` and checks `(cases, valid, rejected)`.
fn check(file: &str, cases: usize, valid: usize, rejected: usize) -> Tally {
    let suite = selftest::suite(file).unwrap_or_else(|| panic!("no suite for {file}"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors");
    let t = suite.run(&dir).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{}: {} cases checked ({} valid matched, {} invalid rejected, {} out of scope)",
        suite.name, t.cases, t.valid, t.rejected, t.skipped
    );
    assert_eq!(
        (t.cases, t.valid, t.rejected),
        (cases, valid, rejected),
        "{}: unexpected counts {t:?}",
        suite.name
    );
    t
}

#[test]
fn nist_cavp_gcm256_encrypt() {
    check("nist/gcmEncryptExtIV256.rsp", 375, 375, 0);
}

#[test]
fn nist_cavp_gcm256_decrypt_including_fail_cases() {
    check("nist/gcmDecrypt256.rsp", 375, 184, 191);
}

#[test]
fn wycheproof_aes_gcm() {
    // 66 AES-256 / IV96 / Tag128 cases; the 250 others (AES-128/192, other IV and tag sizes) are out of
    // scope for an AES-256-only API and counted as skipped.
    let t = check("wycheproof/aes_gcm_test.json", 66, 39, 27);
    assert_eq!(t.skipped, 250);
}

#[test]
fn wycheproof_hkdf_sha256() {
    check("wycheproof/hkdf_sha256_test.json", 86, 83, 3);
}

#[test]
fn wycheproof_hmac_sha256() {
    check("wycheproof/hmac_sha256_test.json", 174, 66, 108);
}

#[test]
fn wycheproof_c2sp_chunked_aes256_gcm() {
    check(
        "wycheproof/c2sp_chunked_encryption_aes_256_gcm_test.json",
        35,
        10,
        25,
    );
}

#[test]
fn rfc5869_hkdf_sha256() {
    check("rfc/rfc5869-hkdf-sha256.txt", 3, 3, 0);
}

#[test]
fn rfc1321_md5() {
    check("rfc/rfc1321-md5.txt", 7, 7, 0);
}

#[test]
fn sp800_38a_ctr_aes256() {
    check("rfc/sp800-38a-ctr-aes256.txt", 2, 2, 0);
}

#[test]
fn rfc3686_aes256_ctr() {
    check("rfc/rfc3686-aes256-ctr.txt", 3, 3, 0);
}

#[test]
fn openssl_cross_check() {
    // 104 GCM + 167 CTR + 32 GCM->CTR ranges + 40 HKDF.
    check("openssl/openssl_kat.json", 343, 343, 0);
}

#[test]
fn every_suite_is_covered_by_a_test_above() {
    assert_eq!(selftest::SUITES.len(), 11);
}

#[test]
fn an_empty_vector_file_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    for s in selftest::SUITES {
        let p = dir.path().join(s.file);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let empty = if s.file.ends_with(".json") {
            r#"{"testGroups": [], "gcm": [], "ctr": [], "gcm_ctr_range": [], "hkdf": []}"#
        } else {
            "# nothing here\n"
        };
        std::fs::write(&p, empty).expect("write");
        assert!(
            s.run(dir.path()).is_err(),
            "{} accepted an empty file",
            s.name
        );
    }
}

#[test]
fn a_corrupted_vector_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test-vectors/nist/gcmEncryptExtIV256.rsp"),
    )
    .expect("read");
    // Flip one hex digit of the first tag: the suite must fail on that case.
    let pos = src.find("Tag = ").expect("tag") + 6;
    let mut bytes = src.into_bytes();
    bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
    std::fs::create_dir_all(dir.path().join("nist")).expect("mkdir");
    std::fs::write(dir.path().join("nist/gcmEncryptExtIV256.rsp"), bytes).expect("write");
    let err = selftest::suite("nist/gcmEncryptExtIV256.rsp")
        .expect("suite")
        .run(dir.path())
        .expect_err("must fail");
    assert!(err.to_string().contains("FAILED"), "{err}");
}
