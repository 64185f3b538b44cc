//! Criterion benches of the crypto core at 1 KiB, 16 KiB, 64 KiB and 1 MiB, with `Throughput::Bytes` so
//! criterion reports GiB/s.
//!
//! `cargo bench --bench primitives` (add `-- gcm` to filter). The active implementation of every primitive
//! is printed first (the same report as `s3crypt cpu`).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use s3crypt::primitives::{Aes256Ctr, Aes256Gcm, BackendReport, Ghash, chunked, hash, kdf};

const SIZES: [usize; 4] = [1 << 10, 16 << 10, 64 << 10, 1 << 20];
const KEY: [u8; 32] = [0x42; 32];
const NONCE: [u8; 12] = [0x24; 12];

fn label(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{}MiB", n >> 20)
    } else {
        format!("{}KiB", n >> 10)
    }
}

fn print_backends() {
    for (name, imp) in BackendReport::current().primitives {
        eprintln!("{name:<26} {imp}");
    }
}

fn gcm(c: &mut Criterion) {
    print_backends();
    let gcm = Aes256Gcm::new(&KEY);
    let mut g = c.benchmark_group("aes-256-gcm");
    for n in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let mut buf = vec![0x5a; n];
        g.bench_with_input(BenchmarkId::new("seal", label(n)), &n, |b, _| {
            b.iter(|| black_box(gcm.seal_in_place_detached(&NONCE, b"", black_box(&mut buf))))
        });
        let mut ct = vec![0x5a; n];
        let tag = gcm
            .seal_in_place_detached(&NONCE, b"", &mut ct)
            .expect("seal");
        let mut work = ct.clone();
        g.bench_with_input(BenchmarkId::new("open", label(n)), &n, |b, _| {
            b.iter(|| {
                work.copy_from_slice(&ct);
                black_box(gcm.open_in_place_detached(&NONCE, b"", black_box(&mut work), &tag))
            })
        });
    }
    g.finish();
}

fn ctr(c: &mut Criterion) {
    let ctr = Aes256Ctr::new(&KEY);
    let mut g = c.benchmark_group("aes-256-ctr");
    for n in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let mut buf = vec![0x5a; n];
        g.bench_with_input(BenchmarkId::new("keystream", label(n)), &n, |b, _| {
            b.iter(|| ctr.apply_keystream(&[0u8; 16], 0, black_box(&mut buf)))
        });
        g.bench_with_input(BenchmarkId::new("gcm-range", label(n)), &n, |b, _| {
            b.iter(|| black_box(ctr.apply_gcm_keystream(&NONCE, 4096, black_box(&mut buf))))
        });
    }
    g.finish();
}

fn ghash(c: &mut Criterion) {
    let mut g = c.benchmark_group("ghash");
    for n in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let buf = vec![0x5a; n];
        g.bench_with_input(BenchmarkId::new("update", label(n)), &n, |b, _| {
            b.iter(|| {
                let mut h = Ghash::new(&[7u8; 16]);
                h.update_padded(black_box(&buf));
                black_box(h.finalize())
            })
        });
    }
    g.finish();
}

fn chunked_aead(c: &mut Criterion) {
    let mut g = c.benchmark_group("c2sp-chunked");
    for n in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let msg = vec![0x5a; n];
        let ct = chunked::seal_with_salt(&KEY, &[1; 24], b"", &msg).expect("seal");
        g.bench_with_input(BenchmarkId::new("seal", label(n)), &n, |b, _| {
            b.iter(|| {
                black_box(chunked::seal_with_salt(
                    &KEY,
                    &[1; 24],
                    b"",
                    black_box(&msg),
                ))
            })
        });
        g.bench_with_input(BenchmarkId::new("open", label(n)), &n, |b, _| {
            b.iter(|| black_box(chunked::open(&KEY, b"", black_box(&ct))))
        });
    }
    g.finish();
}

fn kdfs(c: &mut Criterion) {
    let mut g = c.benchmark_group("hkdf");
    for n in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let ikm = vec![0x5a; n];
        g.bench_with_input(BenchmarkId::new("sha256-ikm", label(n)), &n, |b, _| {
            b.iter(|| {
                let mut okm = [0u8; 32];
                black_box(kdf::hkdf_sha256(
                    Some(b"salt"),
                    black_box(&ikm),
                    b"info",
                    &mut okm,
                ))
            })
        });
        g.bench_with_input(BenchmarkId::new("sha512-ikm", label(n)), &n, |b, _| {
            b.iter(|| {
                let mut okm = [0u8; 32];
                black_box(kdf::hkdf_sha512(
                    Some(b"salt"),
                    black_box(&ikm),
                    b"info",
                    &mut okm,
                ))
            })
        });
    }
    g.finish();

    // The per-object cost: one 32-byte key, as the envelope and SSE layers derive them.
    let mut g = c.benchmark_group("hkdf-per-key");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sha256-32B", |b| {
        b.iter(|| {
            let mut okm = [0u8; 32];
            black_box(kdf::hkdf_sha256(
                Some(&[1; 28]),
                black_box(&KEY),
                b"DERIVEKEY",
                &mut okm,
            ))
        })
    });
    g.bench_function("sha512-32B", |b| {
        b.iter(|| {
            let mut okm = [0u8; 32];
            black_box(kdf::hkdf_sha512(
                Some(&[1; 28]),
                black_box(&KEY),
                b"DERIVEKEY",
                &mut okm,
            ))
        })
    });
    g.finish();
}

fn digests(c: &mut Criterion) {
    let mut g = c.benchmark_group("digest");
    for n in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let buf = vec![0x5a; n];
        g.bench_with_input(BenchmarkId::new("sha256", label(n)), &n, |b, _| {
            b.iter(|| black_box(hash::sha256(black_box(&buf))))
        });
        g.bench_with_input(BenchmarkId::new("md5", label(n)), &n, |b, _| {
            b.iter(|| black_box(hash::md5(black_box(&buf))))
        });
    }
    g.finish();
}

criterion_group!(benches, gcm, ctr, ghash, chunked_aead, kdfs, digests);
criterion_main!(benches);
