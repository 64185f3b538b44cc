//! The kernel algorithm, written once and instantiated per vector width by [`kernels!`].
//!
//! `kernels!(features, LANES, REGS)` expands, inside a module that has imported one of the
//! [`super::ops`] modules, to `ctr32`, `ghash` and `gcm` compiled for `features`, processing
//! `BATCH = LANES · REGS` blocks per loop iteration.

/// Instantiates the kernels for the vector type `V` and operations in scope. See the module docs.
macro_rules! kernels {
    ($feat:literal, $lanes:literal, $regs:literal) => {
        use std::arch::x86_64::__m128i;

        use super::{HashKey, MAX_BATCH, RoundKeys};

        /// Blocks per vector.
        const LANES: usize = $lanes;
        /// Vectors per batch.
        const REGS: usize = $regs;
        /// Blocks per batch.
        const BATCH: usize = LANES * REGS;
        /// Bytes per vector.
        const VB: usize = 16 * LANES;
        /// Bytes per batch.
        const BB: usize = 16 * BATCH;

        /// Loads a vector from the start of `b`.
        #[inline]
        #[target_feature(enable = $feat)]
        fn ld(b: &[u8]) -> V {
            assert!(b.len() >= VB);
            // SAFETY: `b` has at least one vector's worth of readable bytes (asserted).
            unsafe { loadu(b.as_ptr()) }
        }

        /// The round keys, each broadcast to every lane.
        #[inline]
        #[target_feature(enable = $feat)]
        fn round_keys(rk: &RoundKeys) -> [V; 15] {
            let mut k = [zero(); 15];
            for (v, b) in k.iter_mut().zip(rk.0.iter()) {
                *v = bcast(super::load128(b));
            }
            k
        }

        /// The powers `H^BATCH … H^1`, `LANES` per vector, and their Karatsuba halves.
        #[inline]
        #[target_feature(enable = $feat)]
        fn batch_powers(hk: &HashKey) -> Powers {
            let (pow, kara) = (hk.pow.as_flattened(), hk.kara.as_flattened());
            let mut p = Powers {
                pow: [zero(); REGS],
                kara: [zero(); REGS],
            };
            for r in 0..REGS {
                let at = (MAX_BATCH - BATCH + r * LANES) * 16;
                p.pow[r] = ld(&pow[at..]);
                p.kara[r] = ld(&kara[at..]);
            }
            p
        }

        /// Key powers for one full batch.
        struct Powers {
            pow: [V; REGS],
            kara: [V; REGS],
        }

        /// Encrypts each vector of counter blocks in `x` (all AES-256 rounds, round by round across the
        /// vectors so the AES units pipeline).
        #[inline]
        #[target_feature(enable = $feat)]
        fn aes(k: &[V; 15], x: &mut [V]) {
            for v in x.iter_mut() {
                *v = xor(*v, k[0]);
            }
            for rk in &k[1..14] {
                for v in x.iter_mut() {
                    *v = aesenc(*v, *rk);
                }
            }
            for v in x.iter_mut() {
                *v = aesenclast(*v, k[14]);
            }
        }

        /// The running counter: `le` holds lane `i` = counter `n + i` byte-reversed (so a 32-bit add
        /// increments it, wrapping like GCM's inc32), `n` the low 32 bits of lane 0 (public data).
        struct Counter {
            le: V,
            n: u32,
        }

        /// The counter blocks of the next `x.len()` vectors (byte order restored), advancing `c`.
        ///
        /// When the counter's low byte cannot overflow within these blocks, only the first vector is
        /// byte-swapped and the rest are derived by adding to the last byte in big-endian form, which
        /// saves a shuffle per vector; otherwise every vector is swapped from the little-endian form.
        #[inline]
        #[target_feature(enable = $feat)]
        fn counters(c: &mut Counter, x: &mut [V]) {
            let blocks = x.len() * LANES;
            let inc = bcast(super::load128(&(LANES as u128).to_le_bytes()));
            if (c.n & 0xff) as usize + blocks <= 256 {
                let inc_be = bcast(super::load128(&((LANES as u128) << 120).to_le_bytes()));
                let mut v = bswap(c.le);
                for o in x.iter_mut() {
                    *o = v;
                    v = add32(v, inc_be);
                }
                c.le = add32(c.le, bcast(super::load128(&(blocks as u128).to_le_bytes())));
            } else {
                for o in x.iter_mut() {
                    *o = bswap(c.le);
                    c.le = add32(c.le, inc);
                }
            }
            c.n = c.n.wrapping_add(blocks as u32);
        }

        /// The first counter vector: lane `i` holds `ctr + i`.
        #[inline]
        #[target_feature(enable = $feat)]
        fn counter_start(ctr: &[u8; 16]) -> Counter {
            Counter {
                le: add32(bcast(super::bswap128(super::load128(ctr))), lane_index()),
                n: u32::from_be_bytes([ctr[12], ctr[13], ctr[14], ctr[15]]),
            }
        }

        /// Unreduced 256-bit products, summed lane by lane.
        #[derive(Clone, Copy)]
        struct Acc {
            lo: V,
            mid: V,
            hi: V,
        }

        /// Karatsuba: `lo = d_lo·p_lo`, `hi = d_hi·p_hi`, `mid = (d_lo ⊕ d_hi)·(p_lo ⊕ p_hi)`; the true
        /// middle term is `mid ⊕ lo ⊕ hi`, recovered once per batch in [`acc_reduce`].
        #[inline]
        #[target_feature(enable = $feat)]
        fn acc_new(d: V, p: V, k: V) -> Acc {
            Acc {
                lo: clmul::<0x00>(d, p),
                mid: clmul::<0x00>(xor(d, swap(d)), k),
                hi: clmul::<0x11>(d, p),
            }
        }

        #[inline]
        #[target_feature(enable = $feat)]
        fn acc_add(a: &mut Acc, d: V, p: V, k: V) {
            a.lo = xor(a.lo, clmul::<0x00>(d, p));
            a.mid = xor(a.mid, clmul::<0x00>(xor(d, swap(d)), k));
            a.hi = xor(a.hi, clmul::<0x11>(d, p));
        }

        /// [`acc_add`] for two vectors, with three-way XORs.
        #[inline]
        #[target_feature(enable = $feat)]
        fn acc_add2(a: &mut Acc, d: [V; 2], p: [V; 2], k: [V; 2]) {
            a.lo = xor3(a.lo, clmul::<0x00>(d[0], p[0]), clmul::<0x00>(d[1], p[1]));
            a.mid = xor3(
                a.mid,
                clmul::<0x00>(xor(d[0], swap(d[0])), k[0]),
                clmul::<0x00>(xor(d[1], swap(d[1])), k[1]),
            );
            a.hi = xor3(a.hi, clmul::<0x11>(d[0], p[0]), clmul::<0x11>(d[1], p[1]));
        }

        /// Montgomery-reduces each lane (`lo·x^−128 + mid·x^−64 + hi`, two folds by `x^63 + x^62 + x^57`)
        /// and XORs the lanes together.
        #[inline]
        #[target_feature(enable = $feat)]
        fn acc_reduce(a: Acc) -> __m128i {
            let p = bcast(super::poly128());
            let mid = xor3(a.mid, a.lo, a.hi);
            let mid = xor3(mid, swap(a.lo), clmul::<0x10>(a.lo, p));
            fold(xor3(a.hi, swap(mid), clmul::<0x10>(mid, p)))
        }

        /// One AES round on every vector of `x`, each pinned (see [`pin`]) so the rounds stay round-major.
        #[inline]
        #[target_feature(enable = $feat)]
        fn aes_round(x: &mut [V; REGS], k: V) {
            for v in x.iter_mut() {
                *v = aesenc(*v, k);
                pin(v);
            }
        }

        /// Pins the accumulator (see [`pin`]), so its multiplications stay between the rounds they were
        /// written between.
        #[inline]
        #[target_feature(enable = $feat)]
        fn acc_pin(a: &mut Acc) {
            pin(&mut a.lo);
            pin(&mut a.mid);
            pin(&mut a.hi);
        }

        /// `s` updated with one full batch `d` (byte-reversed blocks).
        #[inline]
        #[target_feature(enable = $feat)]
        fn ghash_batch(s: __m128i, d: &[V; REGS], pw: &Powers) -> __m128i {
            let mut a = acc_new(xor(d[0], zext(s)), pw.pow[0], pw.kara[0]);
            for r in 1..REGS {
                acc_add(&mut a, d[r], pw.pow[r], pw.kara[r]);
            }
            acc_reduce(a)
        }

        /// The keystream of the next `N` vectors of counter blocks into `x[..N]`.
        #[inline]
        #[target_feature(enable = $feat)]
        fn keystream<const N: usize>(k: &[V; 15], c: &mut Counter, x: &mut [V; REGS]) {
            let mut y = [zero(); N];
            counters(c, &mut y);
            aes(k, &mut y);
            x[..N].copy_from_slice(&y);
        }

        /// The last `rem` (1 ..= BB − 1) bytes of a message, vector by vector straight from memory (only a
        /// final partial vector goes through a stack buffer). With `CTR`, XORs the keystream from `c` into
        /// `dst`; with `HASH`, absorbs the ciphertext (the output when `ENC`, else the input) into `s`.
        ///
        /// # Safety
        /// `src` readable and `dst` writable (when `CTR`) for `rem` bytes, equal or disjoint.
        #[allow(clippy::too_many_arguments)]
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn tail<const CTR: bool, const HASH: bool, const ENC: bool>(
            k: &[V; 15],
            hk: &HashKey,
            c: &mut Counter,
            s: __m128i,
            src: *const u8,
            dst: *mut u8,
            rem: usize,
        ) -> __m128i {
            let nb = rem.div_ceil(16);
            let nv = nb.div_ceil(LANES);
            let mut x = [zero(); REGS];
            if CTR {
                // Fixed-size batches keep the rounds unrolled in registers (a run-time length would
                // round-trip every round through memory); the spare counter blocks are discarded.
                match nv {
                    1 => keystream::<1>(k, c, &mut x),
                    2 => keystream::<2>(k, c, &mut x),
                    3 | 4 => keystream::<4>(k, c, &mut x),
                    _ => keystream::<REGS>(k, c, &mut x),
                }
            }
            let (pow, kara) = (hk.pow.as_flattened(), hk.kara.as_flattened());
            let base = (MAX_BATCH - nb) * 16;
            let mut a = Acc {
                lo: zero(),
                mid: zero(),
                hi: zero(),
            };
            for (r, ks) in x[..nv].iter().enumerate() {
                let m = rem - r * VB;
                // SAFETY: `r·VB < rem`, and `load_partial` reads at most `rem − r·VB` bytes.
                let input = unsafe { load_partial(src.add(r * VB), m) };
                let out = xor(input, *ks);
                if HASH {
                    let hashed = if ENC { keep_first(out, m) } else { input };
                    let mut d = bswap(hashed);
                    if r == 0 {
                        d = xor(d, zext(s));
                    }
                    let at = base + r * VB;
                    acc_add(&mut a, d, ld(&pow[at..]), ld(&kara[at..]));
                }
                if CTR {
                    // SAFETY: as for the load; the vector was read before this write.
                    unsafe { store_partial(dst.add(r * VB), m, out) };
                }
            }
            if HASH { acc_reduce(a) } else { s }
        }

        /// XORs `len` bytes from `src` with the keystream `ctr, inc32(ctr), …` into `dst`.
        ///
        /// # Safety
        /// The CPU must support `$feat`; `src` readable and `dst` writable for `len` bytes, and either
        /// equal or non-overlapping.
        #[target_feature(enable = $feat)]
        pub(super) unsafe fn ctr32(
            rk: &RoundKeys,
            ctr: &[u8; 16],
            src: *const u8,
            dst: *mut u8,
            len: usize,
        ) {
            let k = round_keys(rk);
            let mut c = counter_start(ctr);
            let nfull = len / BB;
            let mut x = [zero(); REGS];
            for b in 0..nfull {
                counters(&mut c, &mut x);
                aes(&k, &mut x);
                for (r, ks) in x.iter().enumerate() {
                    let off = b * BB + r * VB;
                    // SAFETY: `off + VB ≤ nfull·BB ≤ len`, so the vector lies inside both buffers;
                    // each vector is loaded before it is stored, so `src == dst` is fine.
                    unsafe { storeu(dst.add(off), xor(loadu(src.add(off)), *ks)) };
                }
            }
            let done = nfull * BB;
            if len > done {
                // SAFETY: `src`/`dst` are valid for the `len − done` bytes after `done`.
                unsafe {
                    tail::<true, false, true>(
                        &k,
                        &super::EMPTY_HASH_KEY,
                        &mut c,
                        super::zero128(),
                        src.add(done),
                        dst.add(done),
                        len - done,
                    )
                };
            }
        }

        /// Absorbs `len` bytes at `src` into the GHASH `state`, zero-padding a final partial block.
        ///
        /// # Safety
        /// The CPU must support `$feat`; `src` readable for `len` bytes.
        #[target_feature(enable = $feat)]
        pub(super) unsafe fn ghash(hk: &HashKey, state: &mut [u8; 16], src: *const u8, len: usize) {
            let pw = batch_powers(hk);
            let mut s = super::bswap128(super::load128(state));
            let nfull = len / BB;
            let mut d = [zero(); REGS];
            for b in 0..nfull {
                for (r, v) in d.iter_mut().enumerate() {
                    // SAFETY: `b·BB + r·VB + VB ≤ len`.
                    *v = bswap(unsafe { loadu(src.add(b * BB + r * VB)) });
                }
                s = ghash_batch(s, &d, &pw);
            }
            let done = nfull * BB;
            if len > done {
                let k = [zero(); 15];
                let mut c = Counter { le: zero(), n: 0 };
                // SAFETY: `src` is readable for the `len − done` bytes after `done`; nothing is written.
                s = unsafe {
                    tail::<false, true, false>(
                        &k,
                        hk,
                        &mut c,
                        s,
                        src.add(done),
                        std::ptr::null_mut(),
                        len - done,
                    )
                };
            }
            super::store128(state, super::bswap128(s));
        }

        /// GCM's body over `len` bytes: XOR with the keystream from `ctr` (inc32) into `dst`, and absorb
        /// the ciphertext (`dst` when `ENC`, `src` otherwise) into `state`. Stitched: while one batch goes
        /// through the AES rounds, the previous batch's ciphertext is multiplied by the key powers.
        ///
        /// # Safety
        /// As [`ctr32`].
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = $feat)]
        pub(super) unsafe fn gcm<const ENC: bool>(
            rk: &RoundKeys,
            hk: &HashKey,
            ctr: &[u8; 16],
            state: &mut [u8; 16],
            src: *const u8,
            dst: *mut u8,
            len: usize,
        ) {
            let k = round_keys(rk);
            let pw = batch_powers(hk);
            let mut s = super::bswap128(super::load128(state));
            let mut c = counter_start(ctr);
            let nfull = len / BB;
            let mut x = [zero(); REGS];
            let mut d = [zero(); REGS];
            if ENC && nfull > 0 {
                // The first batch has no previous ciphertext to hash.
                counters(&mut c, &mut x);
                aes(&k, &mut x);
                for (r, (ks, h)) in x.iter().zip(d.iter_mut()).enumerate() {
                    // SAFETY: `r·VB + VB ≤ BB ≤ len`; loaded before stored, so `src == dst` is fine.
                    let ct = unsafe { xor(loadu(src.add(r * VB)), *ks) };
                    // SAFETY: as above.
                    unsafe { storeu(dst.add(r * VB), ct) };
                    *h = bswap(ct);
                }
            }
            // The stitched loop. One vector of byte-reversed ciphertext (the previous batch's, `d`, when
            // encrypting; this batch's when decrypting) is multiplied after each of the first REGS rounds and
            // the reduction runs in the last rounds. The interleaving is written out in program order
            // because the out-of-order window is too small to find the multiplications behind 100+ AES
            // instructions; it lives in this loop rather than in a helper so nothing round-trips through
            // memory (`#[inline(always)]` is not allowed with `#[target_feature]`).
            const {
                assert!(
                    REGS <= 16,
                    "the reduction needs rounds left after the multiplications"
                )
            };
            let poly = bcast(super::poly128());
            for b in usize::from(ENC)..nfull {
                counters(&mut c, &mut x);
                // The r-th vector to hash, byte-reversed. Decrypting, it is loaded where it is multiplied
                // (this batch's ciphertext, not yet overwritten even in place) rather than held in
                // registers across the rounds: the 16-register tiers would spill it.
                let hv = |r: usize| -> V {
                    if ENC {
                        d[r]
                    } else {
                        // SAFETY: `b·BB + r·VB + VB ≤ nfull·BB ≤ len`; stores to this batch come later.
                        bswap(unsafe { loadu(src.add(b * BB + r * VB)) })
                    }
                };
                for v in x.iter_mut() {
                    *v = xor(*v, k[0]);
                }
                let mut a = acc_new(xor(hv(0), zext(s)), pw.pow[0], pw.kara[0]);
                acc_pin(&mut a);
                aes_round(&mut x, k[1]);
                // Two vectors per round (three-way XORs), then an odd one out.
                let mut round = 2;
                let mut r = 1;
                while r + 1 < REGS {
                    aes_round(&mut x, k[round]);
                    acc_add2(
                        &mut a,
                        [hv(r), hv(r + 1)],
                        [pw.pow[r], pw.pow[r + 1]],
                        [pw.kara[r], pw.kara[r + 1]],
                    );
                    acc_pin(&mut a);
                    round += 1;
                    r += 2;
                }
                if r < REGS {
                    aes_round(&mut x, k[round]);
                    acc_add(&mut a, hv(r), pw.pow[r], pw.kara[r]);
                    acc_pin(&mut a);
                    round += 1;
                }
                aes_round(&mut x, k[round]);
                let mid = xor3(a.mid, a.lo, a.hi);
                let mid = xor3(mid, swap(a.lo), clmul::<0x10>(a.lo, poly));
                aes_round(&mut x, k[round + 1]);
                let folded = xor3(a.hi, swap(mid), clmul::<0x10>(mid, poly));
                for rk in &k[round + 2..14] {
                    aes_round(&mut x, *rk);
                }
                for v in x.iter_mut() {
                    *v = aesenclast(*v, k[14]);
                }
                s = fold(folded);
                if ENC {
                    for (r, (ks, h)) in x.iter().zip(d.iter_mut()).enumerate() {
                        let off = b * BB + r * VB;
                        // SAFETY: `off + VB ≤ nfull·BB ≤ len`; loaded before stored, so `src == dst`
                        // is fine.
                        let ct = unsafe { xor(loadu(src.add(off)), *ks) };
                        // SAFETY: as above.
                        unsafe { storeu(dst.add(off), ct) };
                        *h = bswap(ct);
                    }
                } else {
                    for (r, ks) in x.iter().enumerate() {
                        let off = b * BB + r * VB;
                        // SAFETY: `off + VB ≤ nfull·BB ≤ len`; every vector of this batch was hashed
                        // above, and this one is loaded before it is stored, so `src == dst` is fine.
                        unsafe { storeu(dst.add(off), xor(loadu(src.add(off)), *ks)) };
                    }
                }
            }
            if ENC && nfull > 0 {
                s = ghash_batch(s, &d, &pw);
            }
            let done = nfull * BB;
            if len > done {
                // SAFETY: `src`/`dst` are valid for the `len − done` bytes after `done`.
                s = unsafe {
                    tail::<true, true, ENC>(
                        &k,
                        hk,
                        &mut c,
                        s,
                        src.add(done),
                        dst.add(done),
                        len - done,
                    )
                };
            }
            super::store128(state, super::bswap128(s));
        }

        /// Bytes of AES-256 per [`ceiling_probe`] iteration: one batch.
        pub(super) const CEILING_BYTES: usize = BB;

        /// The arithmetic of `iters` batches of the stitched [`gcm`] loop with no memory traffic: `REGS`
        /// independent vectors through the 14 AES-256 rounds (round-major, pinned as in the kernel), and,
        /// with `GHASH`, one vector's Karatsuba multiplies (three carry-less multiplies and a shuffle)
        /// after each of the first `REGS` rounds. No loads, stores, counters or reductions, so the real
        /// kernel cannot beat it. The multiplied vector is pinned before each use, so the compiler can
        /// neither hoist the loop-invariant products out of the loop nor fold them away. `seed` is an
        /// opaque start value; the result depends on every vector, so nothing is dead code.
        #[target_feature(enable = $feat)]
        pub(super) fn ceiling_probe<const GHASH: bool>(iters: u64, seed: __m128i) -> [u8; 16] {
            let k = bcast(seed);
            let mut x = [k; REGS];
            for (i, v) in x.iter_mut().enumerate() {
                *v = add32(*v, bcast(super::load128(&(i as u128).to_le_bytes())));
            }
            let mut dv = xor(k, lane_index());
            let pk = swap(k);
            let mut a = Acc {
                lo: zero(),
                mid: zero(),
                hi: zero(),
            };
            for _ in 0..iters {
                for round in 0..14 {
                    aes_round(&mut x, k);
                    if GHASH && round < REGS {
                        pin(&mut dv);
                        acc_add(&mut a, dv, k, pk);
                        acc_pin(&mut a);
                    }
                }
            }
            let all = x.iter().fold(xor3(a.lo, a.mid, a.hi), |s, v| xor(s, *v));
            let mut out = [0u8; 16];
            super::store128(&mut out, fold(all));
            out
        }
    };
}
