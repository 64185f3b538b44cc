//! The fuzz targets' bodies (tests/support/fuzz_bodies.rs), run on stable over random inputs and over mutations of
//! valid inputs, so every CI run exercises them. Full coverage-guided runs: `cargo +nightly fuzz run <target>`
//! in `fuzz/`.

#[path = "support/fuzz_bodies.rs"]
mod fuzz_bodies;

use proptest::prelude::*;

fn valid_metadata_json() -> String {
    use s3crypt::envelope::{AesKeyring, CommitmentPolicy, Encryptor, Format};
    let kr = AesKeyring::new(
        s3crypt::keys::KeyEncryptionKey::from_bytes([1; 32]),
        Default::default(),
    );
    let e = Encryptor::new(
        &kr,
        Format::V3,
        &Default::default(),
        CommitmentPolicy::default(),
    )
    .expect("e");
    serde_json::to_string(&e.metadata()).expect("json")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(target_arch = "aarch64") { 64 } else { 512 }))]

    #[test]
    fn metadata_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz_bodies::metadata(&data);
    }

    #[test]
    fn mutated_valid_metadata_never_panics(pos in 0usize..2000, byte in any::<u8>(), cut in 0usize..2000) {
        let mut m = valid_metadata_json().into_bytes();
        let i = pos % m.len();
        m[i] = byte;
        m.truncate(cut.max(1).min(m.len()));
        fuzz_bodies::metadata(&m);
    }

    #[test]
    fn envelope_decrypt_rejects_random_bodies(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzz_bodies::envelope_decrypt(&data);
    }

    #[test]
    fn kms_decrypt_rejects_random_blobs(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        fuzz_bodies::kms_decrypt(&data);
    }

    #[test]
    fn aws_chunked_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        fuzz_bodies::aws_chunked(&data);
    }

    #[test]
    fn aws_chunked_framing_never_panics(s in "([0-9a-f]{1,3}(;chunk-signature=[0-9a-f]{0,64})?\r\n[a-z]{0,20}\r\n){0,3}(x-amz-checksum-crc32:[A-Za-z0-9+/=]{0,8}\r\n)?(x-amz-trailer-signature:[0-9a-f]{0,64}\r\n)?(\r\n)?") {
        fuzz_bodies::aws_chunked(s.as_bytes());
    }

    #[test]
    fn presign_queries_never_panic(s in "(X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature|Security-Token)=[A-Za-z0-9%;/_.-]{0,40}&?){0,8}") {
        fuzz_bodies::aws_chunked(s.as_bytes());
    }

    #[test]
    fn ranges_never_panic(s in "(bytes=)?-?[0-9]{0,22}-?[0-9]{0,22}(,[0-9]-[0-9])?") {
        fuzz_bodies::range(s.as_bytes());
    }

    #[test]
    fn sse_headers_never_panic(lines in proptest::collection::vec("(x-amz-server-side-encryption[a-z-]{0,30}|x-amz-copy-source-server-side-encryption-customer-(algorithm|key|key-MD5)|[A-Za-z-]{1,20}):[ -~]{0,60}", 0..6)) {
        fuzz_bodies::sse_headers(lines.join("\n").as_bytes());
    }

    #[test]
    fn object_lambda_configuration_never_panics(
        parts in proptest::collection::vec("(<[A-Za-z]{1,30}>|</[A-Za-z]{1,30}>|[ -~]{0,20})", 0..30),
        function in "[ -~]{0,80}",
    ) {
        use s3crypt::s3::object_lambda;
        let body = format!(
            "<CreateAccessPointForObjectLambdaRequest><Configuration>{}</Configuration></CreateAccessPointForObjectLambdaRequest>",
            parts.concat()
        );
        let _ = object_lambda::parse_configuration_request(body.as_bytes(), "CreateAccessPointForObjectLambdaRequest");
        let _ = object_lambda::function_arn(&function, "us-east-1", "000000000000");
        let _ = object_lambda::parse_arn(&function);
        let _ = object_lambda::is_alias(&function);
    }

    #[test]
    fn sse_bucket_config_never_panics(data in "[ -~]{0,300}") {
        fuzz_bodies::sse_bucket_config(data.as_bytes());
    }

    #[test]
    fn sse_object_reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), magic in any::<bool>()) {
        let mut d = data;
        if magic {
            d.splice(0..0, b"S3CRSSE1".iter().copied());
            d.extend_from_slice(&[0, 0, 0, 2, b'{', b'}', b'S', b'3', b'C', b'R', b'S', b'S', b'E', b'1']);
        }
        fuzz_bodies::sse_object(&d);
    }

    #[test]
    fn chunked_open_rejects_random(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        fuzz_bodies::chunked_open(&data);
    }

    #[test]
    fn kernel_tiers_agree_with_rustcrypto(data in proptest::collection::vec(any::<u8>(), 48..900)) {
        fuzz_bodies::gcm_tiers(&data);
    }
}
