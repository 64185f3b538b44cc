//! The request layer's streaming decoder: `aws-chunked` bodies (SigV4 chunk signatures, trailing
//! checksums) decoded through `ChunkedReader`, per mode, against a plain copy of the same bytes.
//!
//! `cargo bench --bench aws`

use std::hint::black_box;
use std::io::Read;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use s3crypt::aws::chunked::{self, ChecksumAlgorithm, ChunkedReader, StreamingAuth, StreamingMode};
use s3crypt::aws::sigv4::{self, Credentials, Scope};

const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const AMZ_DATE: &str = "20130524T000000Z";

fn auth(mode: StreamingMode, len: u64) -> StreamingAuth {
    let creds = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
    );
    let scope = Scope::new("20130524", "us-east-1", "s3");
    let key = sigv4::signing_key(creds.secret_access_key(), &scope);
    StreamingAuth::new(mode, key, SEED, AMZ_DATE, scope, Some(len))
}

fn drain(mut r: impl Read, buf: &mut [u8]) -> u64 {
    let mut n = 0u64;
    loop {
        match r.read(buf) {
            Ok(0) => return n,
            Ok(k) => n += k as u64,
            Err(e) => panic!("decode: {e}"),
        }
    }
}

fn chunked_decode(c: &mut Criterion) {
    let data = vec![0x5au8; 8 << 20];
    let mut g = c.benchmark_group("aws_chunked_decode_8MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    let mut buf = vec![0u8; 64 << 10];
    g.bench_function("plain_copy", |b| {
        b.iter(|| black_box(drain(&data[..], &mut buf)));
    });
    for (name, mode, chunk, alg) in [
        ("signed_64KiB", StreamingMode::Signed, 64 << 10, None),
        (
            "signed_trailer_crc32c_64KiB",
            StreamingMode::SignedWithTrailer,
            64 << 10,
            Some(ChecksumAlgorithm::Crc32c),
        ),
        (
            "unsigned_trailer_crc32_1MiB",
            StreamingMode::UnsignedWithTrailer,
            1 << 20,
            Some(ChecksumAlgorithm::Crc32),
        ),
        (
            "unsigned_trailer_sha256_1MiB",
            StreamingMode::UnsignedWithTrailer,
            1 << 20,
            Some(ChecksumAlgorithm::Sha256),
        ),
    ] {
        let a = auth(mode, data.len() as u64).with_trailer(alg.map(ChecksumAlgorithm::header_name));
        let body = chunked::encode(&data, chunk, &a, alg);
        g.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| black_box(drain(ChunkedReader::new(&body[..], a.clone()), &mut buf)));
        });
    }
    g.finish();
}

criterion_group!(benches, chunked_decode);
criterion_main!(benches);
