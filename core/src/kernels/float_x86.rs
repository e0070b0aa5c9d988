//! Attention's kernels on AVX2 + F16C: the tiles of `float_tiles.rs` on 256-bit vectors,
//! converting f16 rows with `vcvtph2ps`.

use std::arch::x86_64::*;

use super::float_rows::{Elem, Rows};
use super::float_tiles::{self, Lanes8};

impl Lanes8 for __m256 {
    #[inline(always)]
    unsafe fn zero() -> Self {
        _mm256_setzero_ps()
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        _mm256_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn load_row<E: Elem>(p: *const E) -> Self {
        if E::F16 {
            _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i))
        } else {
            _mm256_loadu_ps(p as *const f32)
        }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        _mm256_broadcast_ss(&*p)
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        _mm256_add_ps(self, other)
    }
    #[inline(always)]
    unsafe fn mul(self, other: Self) -> Self {
        _mm256_mul_ps(self, other)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self)
    }
    /// An 8×8 transpose, then seven adds.
    #[inline(always)]
    unsafe fn sum_each(v: [__m256; 8]) -> [f32; 8] {
        let a0 = _mm256_unpacklo_ps(v[0], v[1]);
        let a1 = _mm256_unpackhi_ps(v[0], v[1]);
        let a2 = _mm256_unpacklo_ps(v[2], v[3]);
        let a3 = _mm256_unpackhi_ps(v[2], v[3]);
        let a4 = _mm256_unpacklo_ps(v[4], v[5]);
        let a5 = _mm256_unpackhi_ps(v[4], v[5]);
        let a6 = _mm256_unpacklo_ps(v[6], v[7]);
        let a7 = _mm256_unpackhi_ps(v[6], v[7]);
        let b0 = _mm256_shuffle_ps::<0x44>(a0, a2);
        let b1 = _mm256_shuffle_ps::<0xEE>(a0, a2);
        let b2 = _mm256_shuffle_ps::<0x44>(a1, a3);
        let b3 = _mm256_shuffle_ps::<0xEE>(a1, a3);
        let b4 = _mm256_shuffle_ps::<0x44>(a4, a6);
        let b5 = _mm256_shuffle_ps::<0xEE>(a4, a6);
        let b6 = _mm256_shuffle_ps::<0x44>(a5, a7);
        let b7 = _mm256_shuffle_ps::<0xEE>(a5, a7);
        // Lane j of column c holds lane c of vector j.
        let col = [
            _mm256_permute2f128_ps::<0x20>(b0, b4),
            _mm256_permute2f128_ps::<0x20>(b1, b5),
            _mm256_permute2f128_ps::<0x20>(b2, b6),
            _mm256_permute2f128_ps::<0x20>(b3, b7),
            _mm256_permute2f128_ps::<0x31>(b0, b4),
            _mm256_permute2f128_ps::<0x31>(b1, b5),
            _mm256_permute2f128_ps::<0x31>(b2, b6),
            _mm256_permute2f128_ps::<0x31>(b3, b7),
        ];
        let sums = col[1..].iter().fold(col[0], |s, &c| _mm256_add_ps(s, c));
        let mut out = [0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), sums);
        out
    }
    #[inline(always)]
    unsafe fn prefetch_row(p: *const u8, bytes: usize) {
        for at in (0..bytes).step_by(64) {
            _mm_prefetch::<_MM_HINT_T0>(p.add(at) as *const i8);
        }
    }
}

/// See `float::scores`; the caller has checked the bounds.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn scores<E: Elem>(
    q: &[f32],
    hd: usize,
    keys: Rows<E>,
    out: &mut [f32],
    out_stride: usize,
) {
    float_tiles::scores::<__m256, E>(q, hd, keys, out, out_stride)
}

/// See `float::accumulate`; the caller has checked the bounds.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn accumulate<E: Elem>(
    w: &[f32],
    w_stride: usize,
    values: Rows<E>,
    hd: usize,
    out: &mut [f32],
) {
    float_tiles::accumulate::<__m256, E>(w, w_stride, values, hd, out)
}
