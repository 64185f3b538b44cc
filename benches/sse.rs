//! SSE engine throughput: PUT and GET per mode for 1 MiB and 256 MiB objects on 1 and 2 rayon threads,
//! through the local store (temporary home; PUTs fsync as the store always does).
//!
//! `cargo bench --bench sse` (add `-- 1MiB` to skip the large objects).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use s3crypt::iam::{Principal, RequestContext};
use s3crypt::kms::MockKms;
use s3crypt::sse::bucket::{BlockedType, BucketEncryption};
use s3crypt::sse::engine::SseEngine;
use s3crypt::sse::headers::{Headers, customer_key_headers};

fn modes() -> Vec<(&'static str, Headers)> {
    let h = |p: &[(&str, &str)]| {
        Headers::new(p.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())))
    };
    vec![
        ("sse-s3", h(&[("x-amz-server-side-encryption", "AES256")])),
        ("sse-kms", h(&[("x-amz-server-side-encryption", "aws:kms")])),
        (
            "sse-kms-bucket-key",
            h(&[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ]),
        ),
        (
            "dsse-kms",
            h(&[("x-amz-server-side-encryption", "aws:kms:dsse")]),
        ),
        ("sse-c", Headers::new(customer_key_headers(&[7; 32]))),
    ]
}

fn sse(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let engine = SseEngine::new(dir.path(), Arc::new(MockKms::in_memory())).expect("engine");
    let mut enc = BucketEncryption::new_bucket_default();
    enc.blocked = vec![BlockedType::None];
    engine
        .create_bucket(&tls(), "bench", Some(enc))
        .expect("bucket");
    for (size, label) in [(1usize << 20, "1MiB"), (256 << 20, "256MiB")] {
        let body = vec![0x5a_u8; size];
        let mut g = c.benchmark_group(format!("sse-{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        g.sample_size(10);
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            for (mode, headers) in modes() {
                let key = format!("{mode}-{label}");
                let read_headers = if mode == "sse-c" {
                    headers.clone()
                } else {
                    Headers::new(Vec::new())
                };
                g.bench_with_input(
                    BenchmarkId::new(format!("put/{mode}"), format!("{threads}-threads")),
                    &threads,
                    |b, _| {
                        b.iter(|| {
                            pool.install(|| {
                                black_box(
                                    engine
                                        .put_object(&tls(), "bench", &key, &headers, &mut &body[..])
                                        .expect("put"),
                                )
                            })
                        })
                    },
                );
                // The object the GET reads, stored here (untimed) so the GET measures on its own when
                // a filter skips the PUT above.
                engine
                    .put_object(&tls(), "bench", &key, &headers, &mut &body[..])
                    .expect("put the object the GET reads");
                let mut out = Vec::with_capacity(size);
                g.bench_with_input(
                    BenchmarkId::new(format!("get/{mode}"), format!("{threads}-threads")),
                    &threads,
                    |b, _| {
                        b.iter(|| {
                            out.clear();
                            pool.install(|| {
                                black_box(
                                    engine
                                        .get_object(
                                            &tls(),
                                            "bench",
                                            &key,
                                            &read_headers,
                                            None,
                                            &mut out,
                                        )
                                        .expect("get"),
                                )
                            })
                        })
                    },
                );
            }
        }
        g.finish();
    }
}

criterion_group!(benches, sse);
criterion_main!(benches);

/// The local admin (the account root) over TLS.
fn tls() -> RequestContext {
    RequestContext::signed_by(Principal::root("000000000000", "AKIALOCALADMIN")).with_tls(true)
}
