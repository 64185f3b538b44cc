//! The vector operations the kernels are written in, once per width. Each function is a thin
//! `#[target_feature]` wrapper over one or two intrinsics, inlined into the kernels.
//!
//! Only `loadu`/`storeu` are `unsafe` (they take raw pointers); their callers state why the pointer is
//! valid.

/// 512-bit vectors: four blocks per vector (AVX-512F/BW, VAES, VPCLMULQDQ).
pub(super) mod zmm {
    use std::arch::x86_64::*;

    pub(crate) type V = __m512i;

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
}

/// 256-bit vectors: two blocks per vector (AVX2, VAES, VPCLMULQDQ).
pub(super) mod ymm {
    use std::arch::x86_64::*;

    pub(crate) type V = __m256i;

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
}

/// 128-bit vectors: one block per vector (AES-NI, PCLMULQDQ, SSSE3).
pub(super) mod xmm {
    use std::arch::x86_64::*;

    pub(crate) type V = __m128i;

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
}
