//! Hand-written x86-64 kernels for AES-256-GCM, AES-256-CTR and GHASH: the only module with `unsafe`.
//!
//! Three tiers share one algorithm (written once in [`kernels`] and instantiated per vector width):
//!
//! | tier | instructions | blocks per vector | blocks per loop iteration |
//! |---|---|---|---|
//! | [`Tier::Vaes512`] | VAES + VPCLMULQDQ on 512-bit vectors, AVX-512F/BW | 4 | 32 |
//! | [`Tier::Vaes256`] | VAES + VPCLMULQDQ on 256-bit vectors, AVX2 | 2 | 16 |
//! | [`Tier::AesNi`] | AES-NI + PCLMULQDQ on 128-bit vectors, SSSE3 | 1 | 8 |
//!
//! **GCM** is stitched: each loop iteration runs the AES rounds of one batch of counter blocks while the
//! previous batch's ciphertext is hashed, so the AES and carry-less-multiply units work at the same time.
//! **GHASH** runs in the POLYVAL domain (RFC 8452 appendix A): blocks are byte-reversed, the hash key is
//! `mulX(rev(H))`, and a batch of `n` blocks is multiplied by the precomputed powers `H^n … H^1`, summed
//! unreduced, and reduced once with two folds by the constant `x^63 + x^62 + x^57` (Gueron's Montgomery
//! reduction, which needs no bit shifts). Counters are kept byte-reversed so one 32-bit vector add
//! increments every lane; that add wraps modulo 2^32, which is exactly GCM's `inc32`.
//!
//! Safety model: every kernel is a `#[target_feature]` function, and the safe wrappers here only call it
//! for a [`Tier`] whose features [`Tier::supported`] confirmed at run time. Memory is touched only through
//! unaligned loads and stores at offsets checked against the slice lengths, described at each `unsafe`
//! block. Nothing here branches on or indexes by secret data, so the kernels are constant time.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_aeskeygenassist_si128,
    _mm_clmulepi64_si128, _mm_loadu_si128, _mm_set_epi8, _mm_set_epi64x, _mm_setzero_si128,
    _mm_shuffle_epi8, _mm_shuffle_epi32, _mm_slli_si128, _mm_storeu_si128, _mm_xor_si128,
};

use zeroize::{Zeroize, ZeroizeOnDrop};

#[macro_use]
mod kernels;
mod ops;

/// A hand-written kernel tier, fastest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tier {
    Vaes512,
    Vaes256,
    AesNi,
}

impl Tier {
    /// The public backend this tier implements.
    pub(crate) fn backend(self) -> super::Backend {
        match self {
            Self::Vaes512 => super::Backend::Vaes512,
            Self::Vaes256 => super::Backend::Vaes256,
            Self::AesNi => super::Backend::AesNi,
        }
    }

    /// Whether this CPU has every feature the tier's kernels are compiled for.
    pub(crate) fn supported(self) -> bool {
        use std::arch::is_x86_feature_detected as has;
        let base = has!("aes") && has!("pclmulqdq") && has!("sse2") && has!("ssse3");
        base && match self {
            Self::AesNi => true,
            Self::Vaes256 => has!("avx") && has!("avx2") && has!("vaes") && has!("vpclmulqdq"),
            Self::Vaes512 => {
                has!("avx")
                    && has!("avx2")
                    && has!("avx512f")
                    && has!("avx512bw")
                    && has!("vaes")
                    && has!("vpclmulqdq")
            }
        }
    }
}

/// The 15 round keys of AES-256. Zeroized on drop.
#[derive(Clone)]
pub(crate) struct RoundKeys([[u8; 16]; 15]);

/// Powers of the GHASH key in the POLYVAL domain, highest first: `pow[i] = H^(32 − i)` for `i < 32`,
/// then zero blocks so a partial batch can load whole vectors; `kara[i]` holds `lo ⊕ hi` of `pow[i]` in
/// both halves, the third operand of a Karatsuba multiplication. Zeroized on drop (`H` forges tags).
#[derive(Clone)]
pub(crate) struct HashKey {
    pow: [[u8; 16]; HASH_TABLE_LEN],
    kara: [[u8; 16]; HASH_TABLE_LEN],
}

/// Overwrites `a` with zeros through a volatile store the compiler cannot elide. One wide store per
/// array, where `zeroize`'s byte-by-byte loop costs hundreds of cycles on the small-message path.
#[inline]
pub(crate) fn wipe<const N: usize>(a: &mut [u8; N]) {
    // SAFETY: `a` is a valid, exclusive reference to `N` initialised bytes; a volatile write of a fresh
    // array through it is an ordinary (if unelidable) store.
    unsafe { std::ptr::write_volatile(a, [0u8; N]) };
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

impl Zeroize for RoundKeys {
    fn zeroize(&mut self) {
        self.0.iter_mut().for_each(wipe);
    }
}

impl Drop for RoundKeys {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for RoundKeys {}

impl Zeroize for HashKey {
    fn zeroize(&mut self) {
        self.pow
            .iter_mut()
            .chain(self.kara.iter_mut())
            .for_each(wipe);
    }
}

impl Drop for HashKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for HashKey {}

/// A table of zeros, for kernels that take a hash key they do not use (plain CTR).
static EMPTY_HASH_KEY: HashKey = HashKey {
    pow: [[0; 16]; HASH_TABLE_LEN],
    kara: [[0; 16]; HASH_TABLE_LEN],
};

/// The largest batch (blocks per loop iteration) of any tier.
const MAX_BATCH: usize = 32;
/// Zero padding after the powers: up to one vector (four blocks) can overrun the table.
const HASH_TABLE_LEN: usize = MAX_BATCH + 4;

/// `x^127 + x^126 + x^121 + 1`: POLYVAL's reduction polynomial without `x^128`. Its high 64 bits,
/// `x^63 + x^62 + x^57`, are the folding constant.
const POLY: u128 = 0xC200_0000_0000_0000_0000_0000_0000_0001;

/// An input that is either transformed in place or read from one slice and written to another.
pub(crate) enum InOut<'a> {
    /// Read and write the same buffer.
    InPlace(&'a mut [u8]),
    /// Read `.0`, write `.1` (same length).
    Split(&'a [u8], &'a mut [u8]),
}

impl InOut<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::InPlace(b) => b.len(),
            Self::Split(i, _) => i.len(),
        }
    }

    /// Raw pointers for the kernels: `src` readable and `dst` writable for `len()` bytes, and either equal
    /// or non-overlapping (a `&[u8]` and a `&mut [u8]` never overlap).
    fn ptrs(&mut self) -> (*const u8, *mut u8) {
        match self {
            Self::InPlace(b) => (b.as_ptr(), b.as_mut_ptr()),
            Self::Split(i, o) => {
                assert_eq!(i.len(), o.len(), "input and output lengths differ");
                (i.as_ptr(), o.as_mut_ptr())
            }
        }
    }
}

/// Expands an AES-256 key with AES-NI. The caller has checked that `aes` and `sse2` are present.
#[target_feature(enable = "aes,sse2")]
fn expand_key_aesni(key: &[u8; 32]) -> RoundKeys {
    #[inline]
    #[target_feature(enable = "sse2")]
    fn spread(x: __m128i) -> __m128i {
        // w0, w0^w1, w0^w1^w2, w0^w1^w2^w3: the running XOR of the previous round key's words.
        let x = _mm_xor_si128(x, _mm_slli_si128::<4>(x));
        let x = _mm_xor_si128(x, _mm_slli_si128::<4>(x));
        _mm_xor_si128(x, _mm_slli_si128::<4>(x))
    }
    let mut out = RoundKeys([[0; 16]; 15]);
    let mut a = load128(&key[..16]);
    let mut b = load128(&key[16..]);
    store128(&mut out.0[0], a);
    store128(&mut out.0[1], b);
    macro_rules! round {
        ($i:literal, $rcon:literal) => {
            a = _mm_xor_si128(
                spread(a),
                _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(b)),
            );
            store128(&mut out.0[$i], a);
        };
        ($i:literal, $rcon:literal, odd) => {
            round!($i, $rcon);
            b = _mm_xor_si128(
                spread(b),
                _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>(a)),
            );
            store128(&mut out.0[$i + 1], b);
        };
    }
    round!(2, 0x01, odd);
    round!(4, 0x02, odd);
    round!(6, 0x04, odd);
    round!(8, 0x08, odd);
    round!(10, 0x10, odd);
    round!(12, 0x20, odd);
    round!(14, 0x40);
    out
}

/// Encrypts one block with AES-NI.
#[target_feature(enable = "aes,sse2")]
fn encrypt_block_aesni(rk: &RoundKeys, block: &mut [u8; 16]) {
    let mut x = _mm_xor_si128(load128(block), load128(&rk.0[0]));
    for k in &rk.0[1..14] {
        x = _mm_aesenc_si128(x, load128(k));
    }
    x = _mm_aesenclast_si128(x, load128(&rk.0[14]));
    store128(block, x);
}

/// POLYVAL's `dot(a, b) = a·b·x^−128` on single blocks (the field product the kernels aggregate).
#[target_feature(enable = "pclmulqdq,sse2")]
fn dot128(a: __m128i, b: __m128i) -> __m128i {
    let lo = _mm_clmulepi64_si128::<0x00>(a, b);
    let hi = _mm_clmulepi64_si128::<0x11>(a, b);
    let mid = _mm_xor_si128(
        _mm_clmulepi64_si128::<0x01>(a, b),
        _mm_clmulepi64_si128::<0x10>(a, b),
    );
    let p = poly128();
    let mid = _mm_xor_si128(
        mid,
        _mm_xor_si128(
            _mm_shuffle_epi32::<0x4e>(lo),
            _mm_clmulepi64_si128::<0x10>(lo, p),
        ),
    );
    _mm_xor_si128(
        hi,
        _mm_xor_si128(
            _mm_shuffle_epi32::<0x4e>(mid),
            _mm_clmulepi64_si128::<0x10>(mid, p),
        ),
    )
}

#[inline]
#[target_feature(enable = "sse2")]
fn zero128() -> __m128i {
    _mm_setzero_si128()
}

#[inline]
#[target_feature(enable = "sse2")]
fn poly128() -> __m128i {
    // Low qword 1, high qword x^63 + x^62 + x^57; the kernels only read the high qword.
    _mm_set_epi64x((POLY >> 64) as i64, 1)
}

/// Precomputes `H^32 … H^1` in the POLYVAL domain from the GCM hash key `h = AES_K(0^128)`.
#[target_feature(enable = "pclmulqdq,sse2")]
fn hash_key_clmul(h: &[u8; 16]) -> HashKey {
    // rev(H) as a little-endian integer is H read big-endian; mulX turns GHASH's key into POLYVAL's.
    let r = u128::from_be_bytes(*h);
    let mut hx = r << 1;
    hx ^= POLY & 0u128.wrapping_sub(r >> 127);
    let mut p = [load128(&hx.to_le_bytes()); MAX_BATCH + 1];
    // H^2..H^8 in a chain, then two rounds of independent products (H^(8+k) = H^8·H^k, H^(16+k) =
    // H^16·H^k), so the table costs a short dependency chain.
    for k in 2..=8 {
        p[k] = dot128(p[k - 1], p[1]);
    }
    for k in 9..=16 {
        p[k] = dot128(p[8], p[k - 8]);
    }
    for k in 17..=MAX_BATCH {
        p[k] = dot128(p[16], p[k - 16]);
    }
    let mut out = HashKey {
        pow: [[0; 16]; HASH_TABLE_LEN],
        kara: [[0; 16]; HASH_TABLE_LEN],
    };
    for (k, pk) in p.iter().enumerate().skip(1) {
        let i = MAX_BATCH - k;
        store128(&mut out.pow[i], *pk);
        let v = u128::from_le_bytes(out.pow[i]);
        let mut folded = (v ^ (v >> 64)) as u64;
        out.kara[i] = (u128::from(folded) | (u128::from(folded) << 64)).to_le_bytes();
        folded.zeroize();
    }
    p.zeroize_vectors();
    out
}

/// Clears key-dependent vectors kept in a stack array.
trait ZeroizeVectors {
    fn zeroize_vectors(&mut self);
}

impl<const N: usize> ZeroizeVectors for [__m128i; N] {
    fn zeroize_vectors(&mut self) {
        for v in self.iter_mut() {
            // SAFETY: `__m128i` is plain data; writing a zero vector through a valid `&mut` is sound, and
            // `write_volatile` keeps the compiler from eliding the wipe.
            unsafe { std::ptr::write_volatile(v, std::mem::zeroed()) };
        }
    }
}

#[inline]
#[target_feature(enable = "sse2")]
fn load128(b: &[u8]) -> __m128i {
    assert!(b.len() >= 16);
    // SAFETY: `b` has at least 16 readable bytes (asserted); the load is unaligned.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn store128(b: &mut [u8; 16], v: __m128i) {
    // SAFETY: `b` is exactly 16 writable bytes; the store is unaligned.
    unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) }
}

/// Byte-reverses a block (GCM's big-endian view <-> the little-endian lane the kernels compute on).
#[inline]
#[target_feature(enable = "ssse3")]
fn bswap128(v: __m128i) -> __m128i {
    _mm_shuffle_epi8(
        v,
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    )
}

/// The expanded key of one AES-256 instance bound to a supported tier.
#[derive(Clone)]
pub(crate) struct AesKernel {
    tier: Tier,
    rk: RoundKeys,
}

impl AesKernel {
    /// Expands `key` for `tier`, or `None` if this CPU lacks the tier's features.
    pub(crate) fn new(tier: Tier, key: &[u8; 32]) -> Option<Self> {
        if !tier.supported() {
            return None;
        }
        // SAFETY: every tier includes AES-NI and SSE2, checked just above.
        let rk = unsafe { expand_key_aesni(key) };
        Some(Self { tier, rk })
    }

    pub(crate) fn tier(&self) -> Tier {
        self.tier
    }

    /// `AES_K(block)`.
    pub(crate) fn encrypt_block(&self, block: &mut [u8; 16]) {
        // SAFETY: `self.tier` was checked to be supported in `new`, and every tier includes AES-NI.
        unsafe { encrypt_block_aesni(&self.rk, block) }
    }

    /// The GHASH power table for `H = AES_K(0)`.
    pub(crate) fn hash_key(&self) -> HashKey {
        let mut h = [0u8; 16];
        self.encrypt_block(&mut h);
        let t = hash_key(self.tier, &h);
        wipe(&mut h);
        t
    }

    /// XORs `io` with the keystream of counter blocks `ctr, inc32(ctr), …` (only the low 32 bits, read
    /// big-endian, count; they wrap modulo 2^32). The keystream starts at a block boundary.
    pub(crate) fn ctr32(&self, ctr: &[u8; 16], mut io: InOut<'_>) {
        let len = io.len();
        let (src, dst) = io.ptrs();
        // SAFETY: the tier's features were verified in `new`; `src`/`dst` come from `InOut::ptrs`, valid
        // for `len` bytes and equal or disjoint, which is the kernels' contract.
        unsafe {
            match self.tier {
                Tier::Vaes512 => zmm::ctr32(&self.rk, ctr, src, dst, len),
                Tier::Vaes256 => ymm::ctr32(&self.rk, ctr, src, dst, len),
                Tier::AesNi => xmm::ctr32(&self.rk, ctr, src, dst, len),
            }
        }
    }

    /// GCM's body: XORs `io` with the keystream from `ctr` (inc32) and absorbs the ciphertext (the output
    /// when `encrypt`, the input otherwise) into the GHASH `state`, zero-padding a final partial block.
    pub(crate) fn gcm(
        &self,
        hk: &HashKey,
        ctr: &[u8; 16],
        state: &mut [u8; 16],
        mut io: InOut<'_>,
        encrypt: bool,
    ) {
        let len = io.len();
        let (src, dst) = io.ptrs();
        // SAFETY: as in `ctr32`.
        unsafe {
            match (self.tier, encrypt) {
                (Tier::Vaes512, true) => zmm::gcm::<true>(&self.rk, hk, ctr, state, src, dst, len),
                (Tier::Vaes512, false) => {
                    zmm::gcm::<false>(&self.rk, hk, ctr, state, src, dst, len);
                }
                (Tier::Vaes256, true) => ymm::gcm::<true>(&self.rk, hk, ctr, state, src, dst, len),
                (Tier::Vaes256, false) => {
                    ymm::gcm::<false>(&self.rk, hk, ctr, state, src, dst, len);
                }
                (Tier::AesNi, true) => xmm::gcm::<true>(&self.rk, hk, ctr, state, src, dst, len),
                (Tier::AesNi, false) => xmm::gcm::<false>(&self.rk, hk, ctr, state, src, dst, len),
            }
        }
    }
}

/// Builds the GHASH power table for hash key `h` (any tier: all have PCLMULQDQ).
pub(crate) fn hash_key(tier: Tier, h: &[u8; 16]) -> HashKey {
    assert!(tier.supported(), "hash_key called for an unsupported tier");
    // SAFETY: every tier requires PCLMULQDQ and SSE2, and the tier is supported (asserted).
    unsafe { hash_key_clmul(h) }
}

/// GCM's field product of two blocks read as big-endian `u128` (the convention of
/// [`super::gf128_mul`]), with carry-less multiplication: `x·y = dot(x, mulX(y))` in the POLYVAL domain,
/// where a block's byte-reversed value is the same integer.
pub(crate) fn gf128_mul(tier: Tier, x: u128, y: u128) -> u128 {
    assert!(tier.supported(), "gf128_mul called for an unsupported tier");
    // SAFETY: every tier requires PCLMULQDQ and SSE2, and the tier is supported (asserted).
    unsafe { gf128_mul_clmul(x, y) }
}

#[target_feature(enable = "pclmulqdq,sse2")]
fn gf128_mul_clmul(x: u128, y: u128) -> u128 {
    let mut yx = y << 1;
    yx ^= POLY & 0u128.wrapping_sub(y >> 127);
    let r = dot128(load128(&x.to_le_bytes()), load128(&yx.to_le_bytes()));
    let mut out = [0u8; 16];
    store128(&mut out, r);
    u128::from_le_bytes(out)
}

/// Absorbs one 16-byte block into the GHASH `state` with a single multiplication (GCM's length block).
pub(crate) fn ghash_block(tier: Tier, hk: &HashKey, state: &mut [u8; 16], block: &[u8; 16]) {
    assert!(
        tier.supported(),
        "ghash_block called for an unsupported tier"
    );
    // SAFETY: every tier requires PCLMULQDQ, SSSE3 and SSE2, and the tier is supported (asserted).
    unsafe { ghash_block_clmul(hk, state, block) }
}

#[target_feature(enable = "pclmulqdq,ssse3,sse2")]
fn ghash_block_clmul(hk: &HashKey, state: &mut [u8; 16], block: &[u8; 16]) {
    let x = _mm_xor_si128(bswap128(load128(state)), bswap128(load128(block)));
    let y = dot128(x, load128(&hk.pow[MAX_BATCH - 1]));
    store128(state, bswap128(y));
}

/// Absorbs `data` into the GHASH `state` (GCM's byte order), zero-padding a final partial block.
pub(crate) fn ghash(tier: Tier, hk: &HashKey, state: &mut [u8; 16], data: &[u8]) {
    assert!(tier.supported(), "ghash called for an unsupported tier");
    // SAFETY: the tier's features are present (asserted); `data` is a valid slice for its length.
    unsafe {
        match tier {
            Tier::Vaes512 => zmm::ghash(hk, state, data.as_ptr(), data.len()),
            Tier::Vaes256 => ymm::ghash(hk, state, data.as_ptr(), data.len()),
            Tier::AesNi => xmm::ghash(hk, state, data.as_ptr(), data.len()),
        }
    }
}

/// AVX-512 + VAES + VPCLMULQDQ: four blocks per vector, eight vectors per batch.
mod zmm {
    use super::ops::zmm::*;
    kernels!(
        "avx512f,avx512bw,avx2,avx,vaes,vpclmulqdq,aes,pclmulqdq,ssse3,sse2",
        4,
        8
    );
}

/// AVX2 + VAES + VPCLMULQDQ: two blocks per vector, eight vectors per batch.
mod ymm {
    use super::ops::ymm::*;
    kernels!("avx2,avx,vaes,vpclmulqdq,aes,pclmulqdq,ssse3,sse2", 2, 8);
}

/// AES-NI + PCLMULQDQ: one block per vector, eight per batch.
mod xmm {
    use super::ops::xmm::*;
    kernels!("aes,pclmulqdq,ssse3,sse2", 1, 8);
}

/// Measures what this CPU's vector units allow for AES-256-GCM in `tier`'s kernels, with no memory
/// traffic: returns bytes per second for `(AES only, AES + GHASH multiplies)`, each timed for about
/// `seconds`, or `None` if this CPU lacks the tier's features.
///
/// One iteration is the arithmetic of one batch of the stitched loop (see `ceiling_probe` in
/// [`kernels`]): `REGS` independent vectors through 14 AES rounds, and, in the second figure, the
/// batch's carry-less multiplies and Karatsuba shuffles interleaved with them, as the stitched kernel does.
/// No loads, stores, counters or reductions: a ceiling the real kernels cannot exceed, so ratios against
/// it show how close they come.
/// The bytes of AES-256 one iteration of `tier`'s ceiling probe covers (its batch).
pub(crate) fn ceiling_batch_bytes(tier: Tier) -> usize {
    match tier {
        Tier::Vaes512 => zmm::CEILING_BYTES,
        Tier::Vaes256 => ymm::CEILING_BYTES,
        Tier::AesNi => xmm::CEILING_BYTES,
    }
}

pub(crate) fn ceiling(tier: Tier, seconds: f64) -> Option<(f64, f64)> {
    if !tier.supported() {
        return None;
    }
    let bytes = ceiling_batch_bytes(tier) as f64;
    let measure = |ghash: bool| {
        let seed =
            std::hint::black_box(0x0123_4567_89ab_cdef_0011_2233_4455_6677u128.to_le_bytes());
        let mut iters = 1u64 << 10;
        loop {
            let start = std::time::Instant::now();
            // SAFETY: `tier.supported()` confirmed every feature the tier's probe is compiled for; the
            // probe only computes on registers (plus `load128` of the 16-byte `seed`).
            let out = unsafe {
                let s = load128(&seed);
                match (tier, ghash) {
                    (Tier::Vaes512, false) => zmm::ceiling_probe::<false>(iters, s),
                    (Tier::Vaes512, true) => zmm::ceiling_probe::<true>(iters, s),
                    (Tier::Vaes256, false) => ymm::ceiling_probe::<false>(iters, s),
                    (Tier::Vaes256, true) => ymm::ceiling_probe::<true>(iters, s),
                    (Tier::AesNi, false) => xmm::ceiling_probe::<false>(iters, s),
                    (Tier::AesNi, true) => xmm::ceiling_probe::<true>(iters, s),
                }
            };
            std::hint::black_box(out);
            let t = start.elapsed().as_secs_f64();
            if (t >= seconds && t > 0.0) || iters >= 1 << 40 {
                return iters as f64 * bytes / t;
            }
            iters = iters.saturating_mul(if t < seconds / 16.0 { 16 } else { 2 });
        }
    };
    Some((measure(false), measure(true)))
}
