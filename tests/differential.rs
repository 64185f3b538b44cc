//! Differential tests: every kernel tier this CPU supports (`Backend::available()`) against the RustCrypto
//! backend, which the published vectors in tests/vectors.rs pin down independently.
//!
//! - AES-256-GCM seal/open on every length 0..=4096 and on random lengths up to 4 MiB, with random AAD
//!   lengths, unaligned input and output buffers, in place and out of place, and tampering;
//! - AES-256-CTR at arbitrary byte offsets, including counters that cross the 32-, 64- and 128-bit wraps;
//! - GHASH fed in random pieces;
//! - `GcmStream` (the parallel single-message path) against one-shot sealing.
//!
//! On a machine without AES-NI the list holds only RustCrypto and the tests compare it with itself; CI runs
//! on a CPU with every tier.

use s3crypt::primitives::{Aes256Ctr, Aes256Gcm, Backend, GcmStream, Ghash};

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        self.bytes(N).try_into().expect("N")
    }
}

fn kernels() -> Vec<Backend> {
    let v: Vec<_> = Backend::available()
        .into_iter()
        .filter(|b| *b != Backend::RustCrypto)
        .collect();
    eprintln!("kernel tiers under test: {v:?}");
    v
}

/// Seals and opens `msg` on `backend` in every buffer arrangement and compares with the reference.
fn check_gcm(
    backend: Backend,
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    msg: &[u8],
    align: usize,
) {
    let reference = Aes256Gcm::with_backend(key, Backend::RustCrypto).expect("rustcrypto");
    let want = reference.seal(nonce, aad, msg).expect("seal");
    let (want_ct, want_tag) = want.split_at(msg.len());
    let gcm = Aes256Gcm::with_backend(key, backend).expect("available");
    let n = msg.len();

    // Out of place between two differently misaligned buffers.
    let mut a = vec![0u8; n + 64];
    a[align..align + n].copy_from_slice(msg);
    let mut b = vec![0u8; n + 64];
    let out_at = (align * 7 + 3) % 64;
    let tag = gcm
        .seal_detached(nonce, aad, &a[align..align + n], &mut b[out_at..out_at + n])
        .expect("seal");
    assert!(
        b[out_at..out_at + n] == *want_ct && tag == want_tag,
        "{backend}: seal_detached len {n} aad {} align {align}",
        aad.len()
    );
    assert!(b[..out_at].iter().all(|&x| x == 0) && b[out_at + n..].iter().all(|&x| x == 0));

    // In place, misaligned.
    let tag = gcm
        .seal_in_place_detached(nonce, aad, &mut a[align..align + n])
        .expect("seal");
    assert!(
        a[align..align + n] == *want_ct && tag == want_tag,
        "{backend}: seal in place len {n}"
    );
    let tag: [u8; 16] = want_tag.try_into().expect("tag");
    gcm.open_in_place_detached(nonce, aad, &mut a[align..align + n], &tag)
        .expect("open in place");
    assert!(
        a[align..align + n] == *msg,
        "{backend}: open in place len {n}"
    );
    let mut out = vec![0u8; n];
    gcm.open_detached(nonce, aad, want_ct, &tag, &mut out)
        .expect("open");
    assert!(out == msg, "{backend}: open_detached len {n}");
}

#[test]
fn gcm_every_length_to_4096() {
    let mut rng = Rng(1);
    for backend in kernels() {
        for n in 0..=4096usize {
            let key = rng.array();
            let nonce = rng.array();
            let aad_len = rng.below(80);
            let aad = rng.bytes(aad_len);
            let msg = rng.bytes(n);
            check_gcm(backend, &key, &nonce, &aad, &msg, n % 64);
        }
    }
}

#[test]
fn gcm_random_lengths_to_4_mib() {
    let mut rng = Rng(2);
    let cases = if cfg!(target_arch = "aarch64") { 4 } else { 24 };
    for backend in kernels() {
        for i in 0..cases {
            // Half the cases near batch boundaries, half anywhere up to 4 MiB.
            let n = if i % 2 == 0 {
                (rng.below(64) + 1) * 512 + rng.below(33) - 16
            } else {
                rng.below(4 << 20) + 1
            };
            let key = rng.array();
            let nonce = rng.array();
            let aad_len = rng.below(5000);
            let aad = rng.bytes(aad_len);
            let msg = rng.bytes(n);
            check_gcm(backend, &key, &nonce, &aad, &msg, rng.below(64));
        }
    }
}

#[test]
fn gcm_tampering_is_rejected_and_nothing_is_released() {
    let mut rng = Rng(3);
    for backend in kernels() {
        for n in [0usize, 1, 15, 16, 17, 255, 256, 511, 512, 513, 4096, 10_000] {
            let key = rng.array();
            let nonce = rng.array();
            let aad_len = rng.below(40);
            let aad = rng.bytes(aad_len);
            let msg = rng.bytes(n);
            let gcm = Aes256Gcm::with_backend(&key, backend).expect("available");
            let sealed = gcm.seal(&nonce, &aad, &msg).expect("seal");
            for _ in 0..16 {
                let mut bad = sealed.clone();
                let bit = rng.below(bad.len() * 8);
                bad[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    gcm.open(&nonce, &aad, &bad).is_err(),
                    "{backend}: flip {bit}"
                );
                let (ct, tag) = bad.split_at(n);
                let tag: [u8; 16] = tag.try_into().expect("tag");
                let mut work = ct.to_vec();
                assert!(
                    gcm.open_in_place_detached(&nonce, &aad, &mut work, &tag)
                        .is_err()
                );
                assert_eq!(
                    work, ct,
                    "{backend}: in-place failure must restore the ciphertext"
                );
                let mut out = vec![0xEE; n];
                assert!(gcm.open_detached(&nonce, &aad, ct, &tag, &mut out).is_err());
                assert!(out.iter().all(|&b| b == 0), "{backend}: plaintext released");
            }
            let mut wrong_aad = aad.clone();
            wrong_aad.push(0);
            assert!(gcm.open(&nonce, &wrong_aad, &sealed).is_err());
            let mut wrong_nonce = nonce;
            wrong_nonce[11] ^= 0x80;
            assert!(gcm.open(&wrong_nonce, &aad, &sealed).is_err());
        }
    }
}

#[test]
fn ctr_any_offset_and_every_wrap() {
    let mut rng = Rng(4);
    for backend in kernels() {
        let key = rng.array();
        let reference = Aes256Ctr::with_backend(&key, Backend::RustCrypto).expect("rustcrypto");
        let ctr = Aes256Ctr::with_backend(&key, backend).expect("available");
        let mut starts: Vec<[u8; 16]> = vec![
            [0xff; 16],                                   // 128-bit wrap
            u128::to_be_bytes(u128::from(u32::MAX) - 3),  // 32-bit carry into bit 32
            u128::to_be_bytes(u128::from(u64::MAX) - 40), // 64-bit carry
            u128::to_be_bytes((1u128 << 96) - 2),         // 96-bit carry
        ];
        for _ in 0..8 {
            starts.push(rng.array());
        }
        for start in starts {
            for _ in 0..40 {
                let off = rng.below(3000) as u64;
                let n = rng.below(2100);
                let msg = rng.bytes(n);
                let mut want = msg.clone();
                reference.apply_keystream(&start, off, &mut want);
                let mut got = msg.clone();
                ctr.apply_keystream(&start, off, &mut got);
                assert!(
                    got == want,
                    "{backend}: ctr start {start:02x?} off {off} len {n}"
                );
            }
        }
        // The GCM layout at random offsets, and right up to its 2^32 − 2 block limit.
        let iv = rng.array();
        let limit = ((1u64 << 32) - 2) * 16;
        for off in [0u64, 1, 15, 16, 17, 4095, 1 << 20, limit - 5000, limit - 1] {
            let n = (limit - off).min(3000) as usize;
            let msg = rng.bytes(n);
            let mut want = msg.clone();
            reference
                .apply_gcm_keystream(&iv, off, &mut want)
                .expect("in range");
            let mut got = msg.clone();
            ctr.apply_gcm_keystream(&iv, off, &mut got)
                .expect("in range");
            assert!(got == want, "{backend}: gcm keystream off {off}");
        }
        let mut one = [0u8; 1];
        assert!(ctr.apply_gcm_keystream(&iv, limit, &mut one).is_err());
    }
}

#[test]
fn ctr_large_buffer_crossing_the_32_bit_wrap() {
    let mut rng = Rng(5);
    let key = rng.array();
    let reference = Aes256Ctr::with_backend(&key, Backend::RustCrypto).expect("rustcrypto");
    let mut start = [0u8; 16];
    start[..12].copy_from_slice(&rng.array::<12>());
    start[12..].copy_from_slice(&(u32::MAX - 1000).to_be_bytes());
    let msg = rng.bytes(1 << 20);
    let mut want = msg.clone();
    reference.apply_keystream(&start, 3, &mut want);
    for backend in kernels() {
        let mut got = msg.clone();
        Aes256Ctr::with_backend(&key, backend)
            .expect("available")
            .apply_keystream(&start, 3, &mut got);
        assert!(got == want, "{backend}");
    }
}

#[test]
fn ghash_in_random_pieces() {
    let mut rng = Rng(6);
    for backend in kernels() {
        for _ in 0..200 {
            let h = rng.array();
            let mut reference = Ghash::with_backend(&h, Backend::RustCrypto).expect("rustcrypto");
            let mut g = Ghash::with_backend(&h, backend).expect("available");
            for _ in 0..rng.below(6) {
                let piece_len = rng.below(1500);
                let piece = rng.bytes(piece_len);
                let at = rng.below(8);
                let mut storage = vec![0u8; piece.len() + 8];
                storage[at..at + piece.len()].copy_from_slice(&piece);
                reference.update_padded(&piece);
                g.update_padded(&storage[at..at + piece.len()]);
            }
            assert_eq!(g.finalize(), reference.finalize(), "{backend}");
        }
    }
}

#[test]
fn every_backend_reports_itself() {
    let key = [7u8; 32];
    for backend in Backend::available() {
        assert_eq!(
            Aes256Gcm::with_backend(&key, backend)
                .expect("gcm")
                .backend(),
            backend
        );
        assert_eq!(
            Aes256Ctr::with_backend(&key, backend)
                .expect("ctr")
                .backend(),
            backend
        );
        assert_eq!(
            Ghash::with_backend(&[1; 16], backend)
                .expect("ghash")
                .backend(),
            backend
        );
    }
    for backend in Backend::ALL {
        if !backend.is_supported() {
            assert!(Aes256Gcm::with_backend(&key, backend).is_err());
        }
    }
}

/// The streaming, parallel GCM (which runs on the active backend) equals one-shot sealing on the reference,
/// for updates that cross the parallel threshold at misaligned offsets.
#[test]
fn stream_matches_reference() {
    let mut rng = Rng(7);
    let key = rng.array();
    let iv = rng.array();
    let aad = rng.bytes(33);
    let msg = rng.bytes(3 * (1 << 20) + 12_345);
    let want = Aes256Gcm::with_backend(&key, Backend::RustCrypto)
        .expect("rustcrypto")
        .seal(&iv, &aad, &msg)
        .expect("seal");
    let mut s = GcmStream::new(&key, &iv, &aad);
    let mut buf = msg.clone();
    let (a, rest) = buf.split_at_mut(5);
    let (b, c) = rest.split_at_mut(2 << 20);
    s.encrypt(a).expect("a");
    s.encrypt(b).expect("b");
    s.encrypt(c).expect("c");
    assert!(buf == want[..msg.len()]);
    assert_eq!(s.tag(), want[msg.len()..]);
}
