//! s3crypt's hot path against the fastest other implementations, in the same criterion groups so the
//! ratios are read off one run: AES-256-GCM seal and open, AES-256-CTR and GHASH at 1 KiB, 16 KiB,
//! 64 KiB and 1 MiB, then one 256 MiB GCM message on 1 and 2 threads beside a parallel copy of the same
//! buffer (the memory-bandwidth ceiling).
//!
//! | group | functions |
//! |---|---|
//! | `peers/gcm-seal/<size>`, `peers/gcm-open/<size>` | `s3crypt-<tier>`, `rustcrypto-aes-gcm`, `ring`, `aws-lc-rs` |
//! | `peers/ctr/<size>` | `s3crypt-<tier>`, `rustcrypto-ctr`, `aws-lc-rs` |
//! | `peers/ghash/<size>` | `s3crypt-<tier>`, `rustcrypto-ghash` |
//! | `peers/gcm-seal-256MiB` | `s3crypt-<tier>-1t`, `s3crypt-<tier>-2t`, `memcpy-1t`, `memcpy-2t`, `aws-lc-rs-1t` |
//!
//! `<tier>` is [`active_backend`]'s name, so runs under `S3CRYPT_BACKEND=…` keep separate results.
//! ring and aws-lc-rs are x86_64-only dev-dependencies; elsewhere only s3crypt and RustCrypto run.
//!
//! Every implementation gets the same key, nonce, empty AAD and bytes, with its key schedule built
//! outside the timed loop; the outputs are checked equal before anything is timed. Every timed open
//! authenticates and decrypts a valid message (see [`gcm`]: no copy inside the loop).
//!
//! `scripts/benchmarks.py` runs it and writes BENCHMARKS.md. By hand:
//! `cargo bench --config 'profile.bench.package.s3crypt.codegen-units=1' --bench peers -- '^peers/'`.
//! The single codegen unit matters for the RustCrypto peers: their generic code is instantiated in this
//! bench crate, and with the default 16 units the AES-CTR and GCM kernels lose about 30% to helpers
//! (`hybrid_array::from_fn`, the VAES block loads) left un-inlined in another unit.

use std::hint::black_box;

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, KeyInit};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ghash::universal_hash::UniversalHash;
use rayon::prelude::*;
use s3crypt::primitives::{Aes256Ctr, Aes256Gcm, GcmStream, Ghash, active_backend};

const SIZES: [usize; 4] = [1 << 10, 16 << 10, 64 << 10, 1 << 20];
const BIG: usize = 256 << 20;
const KEY: [u8; 32] = [0x42; 32];
const NONCE: [u8; 12] = [0x24; 12];
const COUNTER: [u8; 16] = [0x24; 16];
const H: [u8; 16] = [0x07; 16];
const AAD: &[u8] = b"";
/// The share of the 256 MiB buffer each rayon task copies in the memcpy reference.
const COPY_CHUNK: usize = 1 << 20;

fn label(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{}MiB", n >> 20)
    } else {
        format!("{}KiB", n >> 10)
    }
}

/// The criterion function name of s3crypt under the tier in use (`S3CRYPT_BACKEND`, default the best).
fn s3crypt_name() -> String {
    format!("s3crypt-{}", active_backend().name())
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// One-shot AES-256-GCM implementations, each with its key schedule built once.
struct Gcms {
    s3crypt: Aes256Gcm,
    rustcrypto: aes_gcm::Aes256Gcm,
    #[cfg(target_arch = "x86_64")]
    ring: ring::aead::LessSafeKey,
    #[cfg(target_arch = "x86_64")]
    aws_lc: aws_lc_rs::aead::LessSafeKey,
}

impl Gcms {
    fn new() -> Self {
        Self {
            s3crypt: Aes256Gcm::new(&KEY),
            rustcrypto: aes_gcm::Aes256Gcm::new(&KEY.into()),
            #[cfg(target_arch = "x86_64")]
            ring: ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &KEY).expect("ring key"),
            ),
            #[cfg(target_arch = "x86_64")]
            aws_lc: aws_lc_rs::aead::LessSafeKey::new(
                aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &KEY)
                    .expect("aws-lc-rs key"),
            ),
        }
    }

    /// `(name, seal)` for every implementation; `seal` encrypts in place and returns the tag.
    #[allow(clippy::type_complexity)]
    fn sealers(&self) -> Vec<(String, Box<dyn Fn(&mut [u8]) -> [u8; 16] + '_>)> {
        #[allow(unused_mut)]
        let mut v: Vec<(String, Box<dyn Fn(&mut [u8]) -> [u8; 16] + '_>)> = vec![
            (
                s3crypt_name(),
                Box::new(|buf| {
                    self.s3crypt
                        .seal_in_place_detached(&NONCE, AAD, buf)
                        .expect("s3crypt seal")
                }),
            ),
            (
                "rustcrypto-aes-gcm".into(),
                Box::new(|buf| {
                    self.rustcrypto
                        .encrypt_inout_detached(&NONCE.into(), AAD, InOutBuf::from(buf))
                        .expect("rustcrypto seal")
                        .into()
                }),
            ),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            v.push((
                "ring".into(),
                Box::new(|buf| {
                    let tag = self
                        .ring
                        .seal_in_place_separate_tag(
                            ring::aead::Nonce::assume_unique_for_key(NONCE),
                            ring::aead::Aad::from(AAD),
                            buf,
                        )
                        .expect("ring seal");
                    tag.as_ref().try_into().expect("16-byte tag")
                }),
            ));
            v.push((
                "aws-lc-rs".into(),
                Box::new(|buf| {
                    let tag = self
                        .aws_lc
                        .seal_in_place_separate_tag(
                            aws_lc_rs::aead::Nonce::assume_unique_for_key(NONCE),
                            aws_lc_rs::aead::Aad::from(AAD),
                            buf,
                        )
                        .expect("aws-lc-rs seal");
                    tag.as_ref().try_into().expect("16-byte tag")
                }),
            ));
        }
        v
    }

    /// `(name, open)` for every implementation; `open` decrypts in place and reports whether the tag
    /// verified.
    #[allow(clippy::type_complexity)]
    fn openers(&self) -> Vec<(String, Box<dyn Fn(&mut [u8], &[u8; 16]) -> bool + '_>)> {
        #[allow(unused_mut)]
        let mut v: Vec<(String, Box<dyn Fn(&mut [u8], &[u8; 16]) -> bool + '_>)> = vec![
            (
                s3crypt_name(),
                Box::new(|buf, tag| {
                    self.s3crypt
                        .open_in_place_detached(&NONCE, AAD, buf, tag)
                        .is_ok()
                }),
            ),
            (
                "rustcrypto-aes-gcm".into(),
                Box::new(|buf, tag| {
                    self.rustcrypto
                        .decrypt_inout_detached(
                            &NONCE.into(),
                            AAD,
                            InOutBuf::from(buf),
                            &(*tag).into(),
                        )
                        .is_ok()
                }),
            ),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            v.push((
                "ring".into(),
                Box::new(|buf, tag| {
                    self.ring
                        .open_in_place_separate_tag(
                            ring::aead::Nonce::assume_unique_for_key(NONCE),
                            ring::aead::Aad::from(AAD),
                            ring::aead::Tag::from(*tag),
                            buf,
                            0..,
                        )
                        .is_ok()
                }),
            ));
            v.push((
                "aws-lc-rs".into(),
                Box::new(|buf, tag| {
                    self.aws_lc
                        .open_in_place_separate_tag(
                            aws_lc_rs::aead::Nonce::assume_unique_for_key(NONCE),
                            aws_lc_rs::aead::Aad::from(AAD),
                            tag,
                            buf,
                        )
                        .is_ok()
                }),
            ));
        }
        v
    }
}

/// One-shot seal and open at each size. Open alternates between the ciphertext of the plaintext and the
/// ciphertext of that ciphertext, which decrypt to each other in place.
fn gcm(c: &mut Criterion) {
    eprintln!("s3crypt backend: {}", active_backend().name());
    let gcms = Gcms::new();
    let sealers = gcms.sealers();
    let openers = gcms.openers();
    for n in SIZES {
        let pt = plaintext(n);
        // Every implementation must produce the same ciphertext and tag, and open it.
        let mut ct = pt.clone();
        let tag = (sealers[0].1)(&mut ct);
        for (name, seal) in &sealers {
            let mut out = pt.clone();
            assert!(seal(&mut out) == tag && out == ct, "{name} seal differs");
        }
        // CTR is an involution, so `pt` is itself a valid ciphertext (of `ct`) under the same key and
        // nonce, with tag `back`: opens alternate ct → pt (with `tag`) and pt → ct (with `back`), each
        // a full decryption of a valid message, without copying the ciphertext back.
        let mut back_ct = ct.clone();
        let back = (sealers[0].1)(&mut back_ct);
        assert!(back_ct == pt);
        let tags = [tag, back];
        for (name, open) in &openers {
            let mut out = ct.clone();
            assert!(open(&mut out, &tag) && out == pt, "{name} open fails");
            assert!(open(&mut out, &back) && out == ct, "{name} reopen fails");
        }

        let mut g = c.benchmark_group(format!("peers/gcm-seal/{}", label(n)));
        g.throughput(Throughput::Bytes(n as u64));
        let mut buf = pt.clone();
        for (name, seal) in &sealers {
            g.bench_function(name.as_str(), |b| {
                b.iter(|| black_box(seal(black_box(&mut buf))))
            });
        }
        g.finish();

        let mut g = c.benchmark_group(format!("peers/gcm-open/{}", label(n)));
        g.throughput(Throughput::Bytes(n as u64));
        buf.copy_from_slice(&ct);
        // Which of `tags` authenticates what `buf` holds now (0: `ct`, 1: `pt`).
        let mut which = 0;
        for (name, open) in &openers {
            g.bench_function(name.as_str(), |b| {
                b.iter(|| {
                    let ok = open(black_box(&mut buf), &tags[which]);
                    assert!(ok, "open failed");
                    which ^= 1;
                })
            });
        }
        g.finish();
    }
}

fn ctr(c: &mut Criterion) {
    let s3 = Aes256Ctr::new(&KEY);
    let rc = aes::Aes256::new(&KEY.into());
    // aws-lc-rs keeps the expanded key in `EncryptingKey`; `less_safe_encrypt` takes the counter block per
    // call (a 16-byte copy), so nothing is rebuilt inside the timed loop.
    #[cfg(target_arch = "x86_64")]
    let aws_lc = aws_lc_rs::cipher::EncryptingKey::ctr(
        aws_lc_rs::cipher::UnboundCipherKey::new(&aws_lc_rs::cipher::AES_256, &KEY)
            .expect("aws-lc-rs key"),
    )
    .expect("aws-lc-rs ctr key");

    #[allow(clippy::type_complexity, unused_mut)]
    let mut imps: Vec<(String, Box<dyn Fn(&mut [u8])>)> = vec![
        (
            s3crypt_name(),
            Box::new(|buf| s3.apply_keystream(&COUNTER, 0, buf)),
        ),
        (
            "rustcrypto-ctr".into(),
            Box::new(|buf| rustcrypto_ctr(&rc, buf)),
        ),
    ];
    #[cfg(target_arch = "x86_64")]
    imps.push((
        "aws-lc-rs".into(),
        Box::new(|buf| {
            aws_lc
                .less_safe_encrypt(
                    buf,
                    aws_lc_rs::cipher::EncryptionContext::Iv128(COUNTER.into()),
                )
                .expect("aws-lc-rs ctr");
        }),
    ));

    for n in SIZES {
        let pt = plaintext(n);
        let mut want = pt.clone();
        (imps[0].1)(&mut want);
        for (name, f) in &imps {
            let mut out = pt.clone();
            f(&mut out);
            assert!(out == want, "{name} keystream differs");
        }
        let mut g = c.benchmark_group(format!("peers/ctr/{}", label(n)));
        g.throughput(Throughput::Bytes(n as u64));
        let mut buf = pt.clone();
        for (name, f) in &imps {
            g.bench_function(name.as_str(), |b| b.iter(|| f(black_box(&mut buf))));
        }
        g.finish();
    }
}

fn rustcrypto_ctr(aes: &aes::Aes256, buf: &mut [u8]) {
    use aes::cipher::{InnerIvInit, StreamCipher};
    // The expanded key is cloned (a copy), as s3crypt's RustCrypto backend does.
    let mut c = ctr::Ctr128BE::<aes::Aes256>::from_core(ctr::CtrCore::inner_iv_init(
        aes.clone(),
        &COUNTER.into(),
    ));
    c.apply_keystream(buf);
}

fn ghash(c: &mut Criterion) {
    // Both hash keys are set up once (RustCrypto precomputes powers of H); each iteration clones the
    // fresh state, absorbs the buffer and finalizes.
    let s3 = Ghash::new(&H);
    let rc = ghash::GHash::new(&H.into());
    for n in SIZES {
        let data = plaintext(n);
        let mut s = s3.clone();
        s.update_padded(&data);
        let mut r = rc.clone();
        r.update_padded(&data);
        assert!(
            s.finalize() == <[u8; 16]>::from(r.finalize()),
            "GHASH differs"
        );

        let mut g = c.benchmark_group(format!("peers/ghash/{}", label(n)));
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(s3crypt_name(), |b| {
            b.iter(|| {
                let mut h = s3.clone();
                h.update_padded(black_box(&data));
                black_box(h.finalize())
            })
        });
        g.bench_function("rustcrypto-ghash", |b| {
            b.iter(|| {
                let mut h = rc.clone();
                h.update_padded(black_box(&data));
                black_box(h.finalize())
            })
        });
        g.finish();
    }
}

/// One 256 MiB GCM message through [`GcmStream`] (which splits updates of 1 MiB or more over the rayon
/// pool it runs in) on 1 and 2 threads, and the same buffer copied in parallel into a second one.
fn multicore(c: &mut Criterion) {
    let mut buf = plaintext(BIG);
    let mut dst = vec![0u8; BIG];
    let mut g = c.benchmark_group("peers/gcm-seal-256MiB");
    g.throughput(Throughput::Bytes(BIG as u64));
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("rayon pool");
        g.bench_function(format!("{}-{threads}t", s3crypt_name()), |b| {
            b.iter(|| {
                pool.install(|| {
                    let mut s = GcmStream::new(&KEY, &NONCE, AAD);
                    s.encrypt(black_box(&mut buf)).expect("encrypt");
                    black_box(s.tag())
                })
            })
        });
        g.bench_function(format!("memcpy-{threads}t"), |b| {
            b.iter(|| {
                pool.install(|| {
                    dst.par_chunks_mut(COPY_CHUNK)
                        .zip(buf.par_chunks(COPY_CHUNK))
                        .for_each(|(d, s)| d.copy_from_slice(s));
                });
                black_box(&mut dst);
            })
        });
    }
    #[cfg(target_arch = "x86_64")]
    {
        let key = aws_lc_rs::aead::LessSafeKey::new(
            aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &KEY)
                .expect("aws-lc-rs key"),
        );
        g.bench_function("aws-lc-rs-1t", |b| {
            b.iter(|| {
                black_box(
                    key.seal_in_place_separate_tag(
                        aws_lc_rs::aead::Nonce::assume_unique_for_key(NONCE),
                        aws_lc_rs::aead::Aad::from(AAD),
                        black_box(&mut buf),
                    )
                    .expect("aws-lc-rs seal"),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, gcm, ctr, ghash, multicore);
criterion_main!(benches);
