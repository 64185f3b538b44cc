//! `aws-chunked` bodies (`aws::chunked`):
//!
//! 1. the S3 API reference example "Signature Calculations for the Authorization Header: Transferring
//!    Payload in Multiple Chunks" (66560 bytes of `a`, 64 KiB chunks): seed signature through
//!    `verify_s3`, the three chunk signatures, the framing length 66824;
//! 2. round trips for the three modes, sizes 0, 1, C−1, C, C+1, 2C+1 against read sizes 1, 7, C+1,
//!    every checksum algorithm;
//! 3. one tamper per part: chunk data, chunk signature, size line, final chunk, trailer checksum,
//!    trailer signature, trailer name, truncation at every byte, extra bytes, decoded length, limits;
//! 4. a real botocore 1.43.11 `PutObject` (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`, CRC32 trailer);
//! 5. arbitrary bytes never panic.

use std::io::{self, Read};
use std::time::{Duration, UNIX_EPOCH};

use s3crypt::aws::chunked::{
    self, ChecksumAlgorithm, ChunkLimits, ChunkedError, ChunkedReader, StreamingAuth, StreamingMode,
};
use s3crypt::aws::presign::{self, Payload, S3Policy};
use s3crypt::aws::sigv4::{self, Credentials, Scope, SignableRequest};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20130524T000000Z";
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const DOC_CHUNK_SIGS: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];

fn creds() -> Credentials {
    Credentials::new(AKID, SECRET, None)
}

fn auth(mode: StreamingMode, len: Option<u64>) -> StreamingAuth {
    let scope = Scope::new("20130524", "us-east-1", "s3");
    let key = sigv4::signing_key(creds().secret_access_key(), &scope);
    StreamingAuth::new(mode, key, SEED, AMZ_DATE, scope, len)
}

fn decode(body: &[u8], auth: StreamingAuth, read_size: usize) -> Result<Vec<u8>, ChunkedError> {
    decode_with(body, auth, read_size, ChunkLimits::default())
}

fn decode_with(
    body: &[u8],
    auth: StreamingAuth,
    read_size: usize,
    limits: ChunkLimits,
) -> Result<Vec<u8>, ChunkedError> {
    let mut r = ChunkedReader::with_limits(body, auth, limits);
    let mut out = Vec::new();
    let mut buf = vec![0u8; read_size];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                let inner = ChunkedError::from_io(&e).cloned();
                // Errors are sticky.
                assert!(r.read(&mut buf).is_err());
                return Err(inner.unwrap_or(ChunkedError::Io { kind: e.kind() }));
            }
        }
    }
}

#[test]
fn aws_doc_example_seed_and_chunk_signatures() {
    // The seed: the request's own signature, verified as S3 header auth.
    let headers: Vec<(String, String)> = [
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", AMZ_DATE),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("Content-Length", "66824"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
             x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        ),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    let req = SignableRequest {
        method: "PUT",
        uri: "/examplebucket/chunkObject.txt",
        headers: &headers,
        body: b"",
    };
    let lookup = |id: &str| (id == AKID).then(creds);
    let now = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
    let ok = presign::verify_s3(&req, lookup, &S3Policy::new("us-east-1"), now).expect("seed");
    let Payload::Streaming(ctx) = ok.payload else {
        panic!("not streaming");
    };
    assert_eq!(ctx.seed_signature, SEED);
    assert_eq!(ctx.decoded_content_length, Some(66_560));

    // The chunks.
    let data = vec![b'a'; 66_560];
    let body = chunked::encode(&data, 65_536, &ctx, None);
    assert_eq!(body.len(), 66_824, "Content-Length of the example");
    let expected_prefix = format!("10000;chunk-signature={}\r\n", DOC_CHUNK_SIGS[0]);
    assert!(body.starts_with(expected_prefix.as_bytes()));
    let second = format!("\r\n400;chunk-signature={}\r\n", DOC_CHUNK_SIGS[1]);
    assert_eq!(
        &body[88 + 65_536..88 + 65_536 + second.len()],
        second.as_bytes()
    );
    let last = format!("0;chunk-signature={}\r\n\r\n", DOC_CHUNK_SIGS[2]);
    assert!(body.ends_with(last.as_bytes()));
    assert_eq!(decode(&body, ctx, 8192).expect("decode"), data);
}

#[test]
fn round_trips_every_mode_size_and_read_size() {
    const C: usize = 64;
    let mut cases = 0;
    for mode in [
        StreamingMode::Signed,
        StreamingMode::SignedWithTrailer,
        StreamingMode::UnsignedWithTrailer,
    ] {
        for size in [0, 1, C - 1, C, C + 1, 2 * C + 1] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            for alg in [
                ChecksumAlgorithm::Crc32,
                ChecksumAlgorithm::Crc32c,
                ChecksumAlgorithm::Sha1,
                ChecksumAlgorithm::Sha256,
            ] {
                let checksum = (mode != StreamingMode::Signed).then_some(alg);
                let ctx = auth(mode, Some(size as u64))
                    .with_trailer(checksum.map(ChecksumAlgorithm::header_name));
                let body = chunked::encode(&data, C, &ctx, checksum);
                for read in [1, 7, C + 1] {
                    assert_eq!(
                        decode(&body, ctx.clone(), read).expect("round trip"),
                        data,
                        "{mode:?} {size} {alg:?} {read}"
                    );
                    cases += 1;
                }
                if mode == StreamingMode::Signed {
                    break;
                }
            }
        }
    }
    println!("{cases} round trips");
}

#[test]
fn published_checksum_values() {
    // CRC32/CRC32C of "123456789" (the standard check values), as big-endian base64.
    assert_eq!(ChecksumAlgorithm::Crc32.compute(b"123456789"), "y/Q5Jg==");
    assert_eq!(ChecksumAlgorithm::Crc32c.compute(b"123456789"), "4waSgw==");
    assert_eq!(ChecksumAlgorithm::Crc32.compute(b""), "AAAAAA==");
    assert_eq!(
        ChecksumAlgorithm::Sha256.compute(b""),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    assert_eq!(
        ChecksumAlgorithm::Sha1.compute(b""),
        "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
    );
}

fn signed_body(data: &[u8]) -> (Vec<u8>, StreamingAuth) {
    let ctx = auth(StreamingMode::Signed, Some(data.len() as u64));
    (chunked::encode(data, 16, &ctx, None), ctx)
}

#[test]
fn tampered_chunk_data_is_refused_before_its_bytes_are_released() {
    let data: Vec<u8> = (0..40u8).collect();
    let (body, ctx) = signed_body(&data);
    // Flip one byte of the second chunk's data (after "10;chunk-signature=<64>\r\n" + 16 + "\r\n").
    let header = 2 + 17 + 64 + 2;
    let second = header + 16 + 2 + header;
    let mut bad = body.clone();
    bad[second + 3] ^= 1;
    let mut r = ChunkedReader::new(&bad[..], ctx);
    let mut out = Vec::new();
    let mut buf = [0u8; 1];
    let err = loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("accepted"),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(
        out,
        data[..16],
        "only the first, verified chunk was released"
    );
    assert_eq!(
        ChunkedError::from_io(&err),
        Some(&ChunkedError::ChunkSignatureMismatch { index: 1 })
    );
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        ChunkedError::ChunkSignatureMismatch { index: 1 }.s3().code,
        "SignatureDoesNotMatch"
    );
}

#[test]
fn tampered_signature_size_line_and_final_chunk() {
    let data: Vec<u8> = (0..40u8).collect();
    let (body, ctx) = signed_body(&data);
    let text = String::from_utf8_lossy(&body).into_owned();
    let first_sig = &text[19..19 + 64];
    // A chunk signature changed.
    let bad = text.replacen(first_sig, &"0".repeat(64), 1);
    assert_eq!(
        decode(bad.as_bytes(), ctx.clone(), 64),
        Err(ChunkedError::ChunkSignatureMismatch { index: 0 })
    );
    // The size line says more or less than the data.
    let bad = text.replacen("10;", "11;", 1);
    assert!(decode(bad.as_bytes(), ctx.clone(), 64).is_err());
    let bad = text.replacen("10;", "f;", 1);
    assert!(decode(bad.as_bytes(), ctx.clone(), 64).is_err());
    // Malformed size lines.
    for bad_line in ["x;", "-1;", "10 ;", "0010000000000000000;"] {
        let bad = text.replacen("10;", bad_line, 1);
        assert!(
            decode(bad.as_bytes(), ctx.clone(), 64).is_err(),
            "{bad_line}"
        );
    }
    // No chunk-signature extension.
    let bad = text.replacen(&format!(";chunk-signature={first_sig}"), "", 1);
    assert_eq!(
        decode(bad.as_bytes(), ctx.clone(), 64),
        Err(ChunkedError::MalformedChunkHeader)
    );
    // The final zero-length chunk removed: truncated.
    let end = text.rfind("0;chunk-signature=").expect("final");
    assert_eq!(
        decode(&body[..end], ctx.clone(), 64),
        Err(ChunkedError::Truncated)
    );
    // Chunks reordered: the chain breaks.
    let (b2, _) = signed_body(&data[..16]);
    assert!(decode(&b2, ctx, 64).is_err());
}

#[test]
fn truncation_at_every_byte_and_extra_bytes_are_refused() {
    let data: Vec<u8> = (0..40u8).collect();
    for mode in [
        StreamingMode::Signed,
        StreamingMode::SignedWithTrailer,
        StreamingMode::UnsignedWithTrailer,
    ] {
        let checksum = (mode != StreamingMode::Signed).then_some(ChecksumAlgorithm::Crc32);
        let ctx = auth(mode, Some(40)).with_trailer(checksum.map(ChecksumAlgorithm::header_name));
        let body = chunked::encode(&data, 16, &ctx, checksum);
        for cut in 0..body.len() {
            assert!(
                decode(&body[..cut], ctx.clone(), 5).is_err(),
                "{mode:?} cut at {cut}"
            );
        }
        let mut extra = body.clone();
        extra.push(b'x');
        assert_eq!(
            decode(&extra, ctx.clone(), 5),
            Err(ChunkedError::MalformedChunkEnd)
        );
    }
}

#[test]
fn decoded_content_length_is_enforced() {
    let data = vec![7u8; 40];
    let ctx = auth(StreamingMode::Signed, Some(40));
    let body = chunked::encode(&data, 16, &ctx, None);
    for declared in [39, 41, 0] {
        let other = auth(StreamingMode::Signed, Some(declared));
        assert!(
            matches!(
                decode(&body, other, 64),
                Err(ChunkedError::DecodedLengthMismatch { .. })
            ),
            "{declared}"
        );
    }
    assert_eq!(
        decode(&body, auth(StreamingMode::Signed, None), 64).expect("no length"),
        data
    );
    assert_eq!(
        ChunkedError::DecodedLengthMismatch {
            declared: 1,
            actual: 2
        }
        .s3()
        .code,
        "IncompleteBody"
    );
}

#[test]
fn trailer_checksum_signature_and_name() {
    let data = b"hello trailer world".to_vec();
    // Unsigned trailer: a wrong checksum.
    let ctx = auth(StreamingMode::UnsignedWithTrailer, Some(19))
        .with_trailer(Some("x-amz-checksum-crc32"));
    let body = chunked::encode(&data, 8, &ctx, Some(ChecksumAlgorithm::Crc32));
    let text = String::from_utf8_lossy(&body).into_owned();
    let good = ChecksumAlgorithm::Crc32.compute(&data);
    let wrong = ChecksumAlgorithm::Crc32.compute(b"other");
    let bad = text.replace(&good, &wrong);
    let e = decode(bad.as_bytes(), ctx.clone(), 64).expect_err("checksum");
    assert_eq!(
        e,
        ChunkedError::ChecksumMismatch {
            algorithm: ChecksumAlgorithm::Crc32,
            client: wrong,
            computed: good.clone(),
        }
    );
    assert_eq!(
        (e.s3().status, e.s3().code, e.s3().message.as_str()),
        (
            400,
            "BadDigest",
            "The CRC32 you specified did not match the calculated checksum."
        )
    );
    // Changed data with a matching-length chunk: checksum catches it in the unsigned mode.
    let bad = text.replacen("hello", "jello", 1);
    assert!(matches!(
        decode(bad.as_bytes(), ctx.clone(), 64),
        Err(ChunkedError::ChecksumMismatch { .. })
    ));
    // The trailer is missing, or is not the one x-amz-trailer announced.
    let no_trailer = text.replace(&format!("x-amz-checksum-crc32:{good}\r\n"), "");
    assert_eq!(
        decode(no_trailer.as_bytes(), ctx.clone(), 64),
        Err(ChunkedError::MissingChecksum)
    );
    let other = auth(StreamingMode::UnsignedWithTrailer, Some(19))
        .with_trailer(Some("x-amz-checksum-sha256"));
    assert_eq!(decode(&body, other, 64), Err(ChunkedError::MissingChecksum));
    let unknown = text.replace("x-amz-checksum-crc32:", "x-amz-checksum-crc64nvme:");
    let any = auth(StreamingMode::UnsignedWithTrailer, Some(19));
    assert!(matches!(
        decode(unknown.as_bytes(), any, 64),
        Err(ChunkedError::UnsupportedChecksum { .. })
    ));

    // Signed trailer: the checksum value and the trailer signature are both covered.
    let ctx = auth(StreamingMode::SignedWithTrailer, Some(19))
        .with_trailer(Some("x-amz-checksum-sha256"));
    let body = chunked::encode(&data, 8, &ctx, Some(ChecksumAlgorithm::Sha256));
    assert_eq!(decode(&body, ctx.clone(), 3).expect("signed trailer"), data);
    let text = String::from_utf8_lossy(&body).into_owned();
    let good = ChecksumAlgorithm::Sha256.compute(&data);
    let bad = text.replace(&good, &ChecksumAlgorithm::Sha256.compute(b"x"));
    assert_eq!(
        decode(bad.as_bytes(), ctx.clone(), 64),
        Err(ChunkedError::TrailerSignatureMismatch)
    );
    let sig_at = text.find("x-amz-trailer-signature:").expect("sig") + 24;
    let mut bad = body.clone();
    bad[sig_at] = if bad[sig_at] == b'0' { b'1' } else { b'0' };
    assert_eq!(
        decode(&bad, ctx.clone(), 64),
        Err(ChunkedError::TrailerSignatureMismatch)
    );
    let end = text.find("x-amz-trailer-signature:").expect("sig");
    let mut no_sig = body[..end].to_vec();
    no_sig.extend_from_slice(b"\r\n");
    assert_eq!(
        decode(&no_sig, ctx, 64),
        Err(ChunkedError::MissingTrailerSignature)
    );
}

#[test]
fn limits_bound_memory() {
    let data = vec![1u8; 100];
    let ctx = auth(StreamingMode::Signed, None);
    let body = chunked::encode(&data, 100, &ctx, None);
    let small = ChunkLimits {
        max_chunk: 99,
        ..ChunkLimits::default()
    };
    assert_eq!(
        decode_with(&body, ctx.clone(), 64, small),
        Err(ChunkedError::ChunkTooLarge { size: 100 })
    );
    // A huge announced size is refused before any allocation.
    let huge = format!("ffffffffffffffff;chunk-signature={}\r\n", "0".repeat(64));
    assert_eq!(
        decode(huge.as_bytes(), ctx.clone(), 64),
        Err(ChunkedError::ChunkTooLarge { size: u64::MAX })
    );
    // An endless size line.
    let long = vec![b'1'; 100_000];
    assert_eq!(
        decode(&long, ctx.clone(), 64),
        Err(ChunkedError::LineTooLong)
    );
    // A bare LF is not a line end.
    let lf = format!("10;chunk-signature={}\n", "0".repeat(64));
    assert_eq!(
        decode(lf.as_bytes(), ctx, 64),
        Err(ChunkedError::MalformedChunkHeader)
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let data: Vec<u8> = (0..50u8).collect();
    let ctx = auth(StreamingMode::SignedWithTrailer, Some(50));
    let body = chunked::encode(&data, 16, &ctx, Some(ChecksumAlgorithm::Crc32c));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut b = body.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        if b != body {
            let r = decode(&b, ctx.clone(), 1 + (next() % 20) as usize);
            assert!(r.is_err() || r.as_deref() == Ok(&data[..]));
        }
        let junk: Vec<u8> = (0..next() % 300).map(|_| next() as u8).collect();
        assert!(decode(&junk, ctx.clone(), 16).is_err());
    }
}

#[test]
fn the_signing_key_never_reaches_debug() {
    let scope = Scope::new("20130524", "us-east-1", "s3");
    let key = sigv4::signing_key(creds().secret_access_key(), &scope);
    let key_hex = hex::encode(key.expose_secret());
    let ctx = auth(StreamingMode::Signed, Some(1));
    let reader = ChunkedReader::new(&b""[..], ctx.clone());
    for shown in [
        format!("{ctx:?}"),
        format!("{ctx:#?}"),
        format!("{reader:?}"),
    ] {
        assert!(!shown.contains(&key_hex), "{shown}");
        assert!(!shown.contains(SECRET), "{shown}");
    }
}

/// A `PutObject` botocore 1.43.11 built (clock pinned to 2013-05-24T00:00:00Z, sent to a `before-send`
/// hook instead of the network): `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a CRC32 trailer, as botocore
/// uploads by default. The header signature and the body both check.
#[test]
fn botocore_unsigned_trailer_put_object() {
    let headers: Vec<(String, String)> = [
        ("Host", "s3.amazonaws.com"),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ("User-Agent", "Botocore/1.43.11"),
        ("Expect", "100-continue"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Encoding", "aws-chunked"),
        ("X-Amz-Trailer", "x-amz-checksum-crc32"),
        ("X-Amz-Decoded-Content-Length", "110"),
        ("X-Amz-Date", AMZ_DATE),
        ("X-Amz-Content-SHA256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;\
             x-amz-decoded-content-length;x-amz-sdk-checksum-algorithm;x-amz-trailer, \
             Signature=3c2bac93dcaca061655a3c066689540d3eba07eed7677b4e79082271ed3cc15a",
        ),
        ("amz-sdk-request", "attempt=1"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    let data = b"hello world".repeat(10);
    let mut body = b"6e\r\n".to_vec();
    body.extend_from_slice(&data);
    body.extend_from_slice(b"\r\n0\r\nx-amz-checksum-crc32:6LiFlw==\r\n\r\n");
    let req = SignableRequest {
        method: "PUT",
        uri: "/examplebucket/k",
        headers: &headers,
        body: b"",
    };
    let lookup = |id: &str| (id == AKID).then(creds);
    let now = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
    let ok = presign::verify_s3(&req, lookup, &S3Policy::new("us-east-1"), now).expect("botocore");
    let Payload::Streaming(ctx) = ok.payload else {
        panic!("not streaming");
    };
    assert_eq!(ctx.mode, StreamingMode::UnsignedWithTrailer);
    assert_eq!(ctx.trailer.as_deref(), Some("x-amz-checksum-crc32"));
    assert_eq!(decode(&body, ctx.clone(), 13).expect("decode"), data);
    // Our encoder produces the same bytes.
    assert_eq!(
        chunked::encode(&data, 1 << 20, &ctx, Some(ChecksumAlgorithm::Crc32)),
        body
    );
    let bad = String::from_utf8_lossy(&body).replace("6LiFlw==", "6LiFlA==");
    assert!(matches!(
        decode(bad.as_bytes(), ctx, 13),
        Err(ChunkedError::ChecksumMismatch { .. })
    ));
}
