//! Client-side envelope encryption throughput: one S3EC V3 object of 64 MiB encrypted through the
//! streaming writer and decrypted (authenticated) in memory, on 1 and 2 rayon threads, beside the plain
//! one-shot AES-256-GCM of the same buffer as the single-thread reference. File-level figures (1 GiB,
//! peak RSS, the official Python client) come from `scripts/bench_envelope.sh`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use s3crypt::envelope::{AesKeyring, CommitmentPolicy, Decryptor, Encryptor, Format};
use s3crypt::keys::KeyEncryptionKey;
use s3crypt::primitives::Aes256Gcm;

const SIZE: usize = 64 << 20;

fn envelope(c: &mut Criterion) {
    let kr = AesKeyring::new(KeyEncryptionKey::from_bytes([5; 32]), BTreeMap::new());
    let pt = vec![0x3c_u8; SIZE];
    let mut g = c.benchmark_group("envelope-64MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);
    let gcm = Aes256Gcm::new(&[1; 32]);
    let mut buf = pt.clone();
    g.bench_function("aes-gcm-one-shot-1-thread", |b| {
        b.iter(|| black_box(gcm.seal_in_place_detached(&[2; 12], b"", &mut buf)))
    });
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        g.bench_with_input(
            BenchmarkId::new("encrypt", format!("{threads}-threads")),
            &threads,
            |b, _| {
                b.iter(|| {
                    pool.install(|| {
                        let e = Encryptor::new(
                            &kr,
                            Format::V3,
                            &BTreeMap::new(),
                            CommitmentPolicy::default(),
                        )
                        .expect("e");
                        let mut w = e.writer(Vec::with_capacity(SIZE + 16));
                        w.write_all(&pt).expect("write");
                        black_box(w.finish().expect("finish"))
                    })
                })
            },
        );
        let e = Encryptor::new(
            &kr,
            Format::V3,
            &BTreeMap::new(),
            CommitmentPolicy::default(),
        )
        .expect("e");
        let md = e.metadata();
        let body = e.encrypt_to_vec(&pt).expect("body");
        let d = Decryptor::new(&kr, &md, CommitmentPolicy::default(), None).expect("d");
        g.bench_with_input(
            BenchmarkId::new("decrypt", format!("{threads}-threads")),
            &threads,
            |b, _| b.iter(|| pool.install(|| black_box(d.decrypt_to_vec(&body).expect("decrypt")))),
        );
    }
    g.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);
