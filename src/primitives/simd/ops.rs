//! The vector operations the kernels are written in, once per width. Each function is a thin
//! `#[target_feature]` wrapper over one or two intrinsics, inlined into the kernels.
//!
//! Only the loads and stores (`loadu`, `storeu`, `load_partial`, `store_partial`) are `unsafe`: they take
//! raw pointers, and their callers state why the pointer is valid.

/// The partial-vector operations of the tiers without byte masks (AVX2, SSE): through a stack buffer that
/// is wiped afterwards. `$feat` is the tier's load/store feature, `$vb` its vector size in bytes.
macro_rules! buffered_partial {
    ($feat:literal, $vb:literal) => {
        /// Loads `m` bytes at `p` (all of them when `m ≥ VB`), zero-filling the rest, through a stack buffer.
        ///
        /// # Safety
        /// `p` must be readable for `min(m, VB)` bytes.
        #[inline]
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn load_partial(p: *const u8, m: usize) -> V {
            if m >= $vb {
                // SAFETY: `p` is readable for a whole vector (contract).
                return unsafe { loadu(p) };
            }
            let mut t = [0u8; $vb];
            // SAFETY: `p` is readable for `m` bytes (contract), `t` holds `m < VB` bytes, and a stack array
            // never overlaps the caller's buffer.
            unsafe { std::ptr::copy_nonoverlapping(p, t.as_mut_ptr(), m) };
            // SAFETY: `t` is a whole vector of readable bytes.
            let v = unsafe { loadu(t.as_ptr()) };
            super::super::wipe(&mut t);
            v
        }

        /// Stores the first `m` bytes of `v` at `p` (all of them when `m ≥ VB`).
        ///
        /// # Safety
        /// `p` must be writable for `min(m, VB)` bytes.
        #[inline]
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn store_partial(p: *mut u8, m: usize, v: V) {
            if m >= $vb {
                // SAFETY: `p` is writable for a whole vector (contract).
                return unsafe { storeu(p, v) };
            }
            let mut t = [0u8; $vb];
            // SAFETY: `t` is a whole vector of writable bytes; then `m` bytes go to `p`, writable by contract
            // and disjoint from the stack array.
            unsafe {
                storeu(t.as_mut_ptr(), v);
                std::ptr::copy_nonoverlapping(t.as_ptr(), p, m);
            }
            super::super::wipe(&mut t);
        }

        /// `v` with bytes `m..` zeroed.
        #[inline]
        #[target_feature(enable = $feat)]
        pub(crate) fn keep_first(v: V, m: usize) -> V {
            if m >= $vb {
                return v;
            }
            let mut t = [0u8; $vb];
            // SAFETY: `t` is a whole vector of writable, then readable, bytes.
            let r = unsafe {
                storeu(t.as_mut_ptr(), v);
                t[m..].fill(0);
                loadu(t.as_ptr())
            };
            super::super::wipe(&mut t);
            r
        }
    };
}

/// `pin`, an optimisation barrier for the tier's vector type: it leaves `v` as it is, but the compiler can
/// neither see through it nor move it past another barrier. The kernels pin each vector after each AES
/// round, which keeps the round-major, GHASH-interleaved program order that LLVM otherwise rewrites into
/// vector-major order (fewer live registers, but the AES and multiply latencies no longer overlap).
/// `$feat` is the feature the register class needs, `$class` the `asm!` register class of `V`.
macro_rules! pin {
    ($feat:literal, $class:ident) => {
        /// An optimisation barrier on `v`: see the `pin!` macro.
        #[inline]
        #[target_feature(enable = $feat)]
        pub(crate) fn pin(v: &mut V) {
            // SAFETY: the template is a comment: no instruction runs, and no memory, stack or flag is
            // touched (as the options declare); `v` stays in a register of its own type.
            unsafe {
                core::arch::asm!(
                    "/* {0} */",
                    inout($class) * v,
                    options(nomem, nostack, preserves_flags)
                )
            };
        }
    };
}

/// 512-bit vectors: four blocks per vector (AVX-512F/BW, VAES, VPCLMULQDQ).
pub(super) mod zmm {
    use std::arch::x86_64::*;

    pub(crate) type V = __m512i;

    pin!("avx512f", zmm_reg);

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn zero() -> V {
        _mm512_setzero_si512()
    }

    /// # Safety
    /// `p` must be valid for reading 64 bytes (no alignment needed).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn loadu(p: *const u8) -> V {
        // SAFETY: forwarded to the caller's contract.
        unsafe { _mm512_loadu_si512(p.cast()) }
    }

    /// # Safety
    /// `p` must be valid for writing 64 bytes (no alignment needed).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn storeu(p: *mut u8, v: V) {
        // SAFETY: forwarded to the caller's contract.
        unsafe { _mm512_storeu_si512(p.cast(), v) }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn xor(a: V, b: V) -> V {
        _mm512_xor_si512(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn xor3(a: V, b: V, c: V) -> V {
        _mm512_ternarylogic_epi64::<0x96>(a, b, c)
    }

    #[inline]
    #[target_feature(enable = "avx512f,vaes")]
    pub(crate) fn aesenc(a: V, k: V) -> V {
        _mm512_aesenc_epi128(a, k)
    }

    #[inline]
    #[target_feature(enable = "avx512f,vaes")]
    pub(crate) fn aesenclast(a: V, k: V) -> V {
        _mm512_aesenclast_epi128(a, k)
    }

    #[inline]
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    pub(crate) fn clmul<const I: i32>(a: V, b: V) -> V {
        _mm512_clmulepi64_epi128::<I>(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn bcast(x: __m128i) -> V {
        _mm512_broadcast_i32x4(x)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn zext(x: __m128i) -> V {
        _mm512_zextsi128_si512(x)
    }

    /// XOR of the four 128-bit lanes.
    #[inline]
    #[target_feature(enable = "avx512f,avx2")]
    pub(crate) fn fold(v: V) -> __m128i {
        let y = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v));
        _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256::<1>(y))
    }

    /// Reverses the bytes of each 128-bit lane.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(crate) fn bswap(v: V) -> V {
        let m = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        _mm512_shuffle_epi8(v, _mm512_broadcast_i32x4(m))
    }

    /// Swaps the 64-bit halves of each lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn swap(v: V) -> V {
        _mm512_shuffle_epi32::<0x4e>(v)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn add32(a: V, b: V) -> V {
        _mm512_add_epi32(a, b)
    }

    /// Lane `i` holds `i` in its low 32 bits: the counter offsets of the blocks in one vector.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn lane_index() -> V {
        _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0)
    }

    fn mask(m: usize) -> __mmask64 {
        if m >= 64 { !0 } else { (1u64 << m) - 1 }
    }

    /// Loads `m` bytes at `p` (all 64 when `m ≥ 64`), zero-filling the rest; masked-off bytes are not
    /// accessed.
    ///
    /// # Safety
    /// `p` must be readable for `min(m, 64)` bytes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(crate) unsafe fn load_partial(p: *const u8, m: usize) -> V {
        // SAFETY: only the first `min(m, 64)` bytes are read (masked load with fault suppression), and the
        // caller guarantees they are readable.
        unsafe { _mm512_maskz_loadu_epi8(mask(m), p.cast()) }
    }

    /// Stores the first `m` bytes of `v` at `p` (all 64 when `m ≥ 64`); masked-off bytes are not touched.
    ///
    /// # Safety
    /// `p` must be writable for `min(m, 64)` bytes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(crate) unsafe fn store_partial(p: *mut u8, m: usize, v: V) {
        // SAFETY: only the first `min(m, 64)` bytes are written (masked store), and the caller guarantees
        // they are writable.
        unsafe { _mm512_mask_storeu_epi8(p.cast(), mask(m), v) }
    }

    /// `v` with bytes `m..` zeroed.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(crate) fn keep_first(v: V, m: usize) -> V {
        _mm512_maskz_mov_epi8(mask(m), v)
    }
}

/// 256-bit vectors: two blocks per vector (AVX2, VAES, VPCLMULQDQ).
pub(super) mod ymm {
    use std::arch::x86_64::*;

    pub(crate) type V = __m256i;

    pin!("avx", ymm_reg);

    #[inline]
    #[target_feature(enable = "avx")]
    pub(crate) fn zero() -> V {
        _mm256_setzero_si256()
    }

    /// # Safety
    /// `p` must be valid for reading 32 bytes (no alignment needed).
    #[inline]
    #[target_feature(enable = "avx")]
    pub(crate) unsafe fn loadu(p: *const u8) -> V {
        // SAFETY: forwarded to the caller's contract.
        unsafe { _mm256_loadu_si256(p.cast()) }
    }

    /// # Safety
    /// `p` must be valid for writing 32 bytes (no alignment needed).
    #[inline]
    #[target_feature(enable = "avx")]
    pub(crate) unsafe fn storeu(p: *mut u8, v: V) {
        // SAFETY: forwarded to the caller's contract.
        unsafe { _mm256_storeu_si256(p.cast(), v) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn xor(a: V, b: V) -> V {
        _mm256_xor_si256(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn xor3(a: V, b: V, c: V) -> V {
        _mm256_xor_si256(_mm256_xor_si256(a, b), c)
    }

    #[inline]
    #[target_feature(enable = "avx2,vaes")]
    pub(crate) fn aesenc(a: V, k: V) -> V {
        _mm256_aesenc_epi128(a, k)
    }

    #[inline]
    #[target_feature(enable = "avx2,vaes")]
    pub(crate) fn aesenclast(a: V, k: V) -> V {
        _mm256_aesenclast_epi128(a, k)
    }

    #[inline]
    #[target_feature(enable = "avx2,vpclmulqdq")]
    pub(crate) fn clmul<const I: i32>(a: V, b: V) -> V {
        _mm256_clmulepi64_epi128::<I>(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn bcast(x: __m128i) -> V {
        _mm256_broadcastsi128_si256(x)
    }

    #[inline]
    #[target_feature(enable = "avx")]
    pub(crate) fn zext(x: __m128i) -> V {
        _mm256_zextsi128_si256(x)
    }

    /// XOR of the two 128-bit lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn fold(v: V) -> __m128i {
        _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v))
    }

    /// Reverses the bytes of each 128-bit lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn bswap(v: V) -> V {
        let m = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        _mm256_shuffle_epi8(v, _mm256_broadcastsi128_si256(m))
    }

    /// Swaps the 64-bit halves of each lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn swap(v: V) -> V {
        _mm256_shuffle_epi32::<0x4e>(v)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn add32(a: V, b: V) -> V {
        _mm256_add_epi32(a, b)
    }

    /// Lane `i` holds `i` in its low 32 bits.
    #[inline]
    #[target_feature(enable = "avx")]
    pub(crate) fn lane_index() -> V {
        _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0)
    }

    buffered_partial!("avx", 32);
}

/// 128-bit vectors: one block per vector (AES-NI, PCLMULQDQ, SSSE3).
pub(super) mod xmm {
    use std::arch::x86_64::*;

    pub(crate) type V = __m128i;

    pin!("sse2", xmm_reg);

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn zero() -> V {
        _mm_setzero_si128()
    }

    /// # Safety
    /// `p` must be valid for reading 16 bytes (no alignment needed).
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) unsafe fn loadu(p: *const u8) -> V {
        // SAFETY: forwarded to the caller's contract.
        unsafe { _mm_loadu_si128(p.cast()) }
    }

    /// # Safety
    /// `p` must be valid for writing 16 bytes (no alignment needed).
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) unsafe fn storeu(p: *mut u8, v: V) {
        // SAFETY: forwarded to the caller's contract.
        unsafe { _mm_storeu_si128(p.cast(), v) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn xor(a: V, b: V) -> V {
        _mm_xor_si128(a, b)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn xor3(a: V, b: V, c: V) -> V {
        _mm_xor_si128(_mm_xor_si128(a, b), c)
    }

    #[inline]
    #[target_feature(enable = "aes")]
    pub(crate) fn aesenc(a: V, k: V) -> V {
        _mm_aesenc_si128(a, k)
    }

    #[inline]
    #[target_feature(enable = "aes")]
    pub(crate) fn aesenclast(a: V, k: V) -> V {
        _mm_aesenclast_si128(a, k)
    }

    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    pub(crate) fn clmul<const I: i32>(a: V, b: V) -> V {
        _mm_clmulepi64_si128::<I>(a, b)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn bcast(x: __m128i) -> V {
        x
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn zext(x: __m128i) -> V {
        x
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn fold(v: V) -> __m128i {
        v
    }

    /// Reverses the bytes of the block.
    #[inline]
    #[target_feature(enable = "ssse3")]
    pub(crate) fn bswap(v: V) -> V {
        _mm_shuffle_epi8(
            v,
            _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        )
    }

    /// Swaps the 64-bit halves.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn swap(v: V) -> V {
        _mm_shuffle_epi32::<0x4e>(v)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn add32(a: V, b: V) -> V {
        _mm_add_epi32(a, b)
    }

    /// The counter offset of the single block: zero.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn lane_index() -> V {
        _mm_setzero_si128()
    }
    buffered_partial!("sse2", 16);
}
