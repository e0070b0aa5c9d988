//! Decode's products for Q4_0, Q4_K and Q6_K weights on AVX-512 VNNI: one token against many
//! rows.
//!
//! The weights stay unsigned nibbles and `vpdpbusd` multiplies them as they are; each block's
//! offset, `-8 · Σy · dy`, is prepared with the activations and meets the weight scale in a
//! small side sum. Against the one-row kernel this drops the sign trick and the per-token
//! rearranging of the activations: 2B-shaped Q4_0 decode went from 13.7 to 15.4 tok/s on one
//! thread.
//!
//! Q4_K takes the Q8_K activations as they are: a super-block's 32-byte runs of nibbles are
//! broadcast and shifted into both sub-blocks at once, so each 64 quants need one spread of
//! their two scales, where the 256-bit kernel needs two. Q6_K likewise: 64 bytes of low
//! nibbles give 64 quants in order, their top bits come from one broadcast of 32 high-bit
//! bytes shifted by a different amount in each half, and the quants stay unsigned (0..63),
//! their offset of 32 met through the activations' 16-group sums.

use std::arch::x86_64::*;

use super::blocks::{interleaved, BlockQ8K, BlockQ8_0, Q4K_BYTES, Q4_0_BYTES, Q6K_BYTES, QK8_0};
use super::x86::{hsum, prefetch_ahead, PrefetchTo};
use super::x86_k::k4_scales;

/// Whether these kernels run with the family `isa` on this CPU.
pub fn supported(isa: super::isa::Isa) -> bool {
    isa == super::isa::Isa::Avx512Vnni && isa.is_available()
}

/// Two activation blocks, ready for the kernel: 80 bytes, so that a token of 16384 columns
/// stays in L1 while the rows stream past (64-byte spread scales measured 20% slower than the
/// one-row kernel).
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Pair {
    /// Quants 0..16 of both blocks, then 16..32 of both: the order in which the weights'
    /// nibbles come out of [`rows`] without crossing 128-bit lanes.
    qs: [i8; 2 * QK8_0],
    /// `-8 · Σy · dy` of each block: the nibbles' offset, applied with the weight scale.
    offsets: [f32; 2],
    scales: [f32; 2],
}

/// The bytes of one token's activations of `cols` values, in pairs of blocks.
pub fn activation_bytes(cols: usize) -> usize {
    cols / (2 * QK8_0) * std::mem::size_of::<Pair>()
}

/// One token's activations, its blocks in pairs.
pub struct GemvActivations {
    pairs: Vec<Pair>,
}

impl GemvActivations {
    /// `x` is one row of Q8_0 blocks, an even number of them.
    pub fn new(x: &[BlockQ8_0]) -> GemvActivations {
        assert!(!x.is_empty() && x.len().is_multiple_of(2));
        let offset = |b: &BlockQ8_0| {
            -8.0 * b.qs.iter().map(|&q| q as i32).sum::<i32>() as f32 * b.d.to_f32()
        };
        let pairs = x
            .chunks_exact(2)
            .map(|b| {
                let mut pair = Pair {
                    qs: [0; 2 * QK8_0],
                    offsets: [offset(&b[0]), offset(&b[1])],
                    scales: [b[0].d.to_f32(), b[1].d.to_f32()],
                };
                for (half, run) in pair.qs.chunks_exact_mut(32).enumerate() {
                    run[..16].copy_from_slice(&b[0].qs[16 * half..16 * half + 16]);
                    run[16..].copy_from_slice(&b[1].qs[16 * half..16 * half + 16]);
                }
                pair
            })
            .collect();
        GemvActivations { pairs }
    }
}

/// `out[r]` = row `r` of `w` (Q4_0 rows as long as the activations) · the token.
///
/// # Safety
/// The CPU passes [`supported`].
pub unsafe fn q4_0(w: &[u8], x: &GemvActivations, out: &mut [f32]) {
    let row_bytes = 2 * x.pairs.len() * Q4_0_BYTES;
    assert_eq!(w.len(), out.len() * row_bytes, "rows match the activations");
    with_prefetch_level!(P => rows::<P>(w, row_bytes, x, out))
}

/// The nibbles of a block pair come from two 16-byte loads, a blend and a 64-bit shift, in
/// the order the prepared activations follow.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")]
unsafe fn rows<P: PrefetchTo>(w: &[u8], row_bytes: usize, x: &GemvActivations, out: &mut [f32]) {
    let spread = _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0);
    let shift = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
    let mask = _mm512_set1_epi8(0xF);
    for r in interleaved(out.len()) {
        let (row, o) = (&w[r * row_bytes..(r + 1) * row_bytes], &mut out[r]);
        let mut acc = [_mm512_setzero_ps(); 2];
        let mut offsets = _mm_setzero_ps();
        // Two accumulators, a pair each in turn, hide the multiply-add latency.
        for (k, two) in x.pairs.chunks(2).enumerate() {
            for (j, pair) in two.iter().enumerate() {
                let b = row.as_ptr().add((2 * k + j) * 2 * Q4_0_BYTES);
                prefetch_ahead::<P>(b, 2 * Q4_0_BYTES);
                let first = _mm512_broadcast_i32x4(_mm_loadu_si128(b.add(2).cast()));
                let second = _mm512_broadcast_i32x4(_mm_loadu_si128(b.add(2 + Q4_0_BYTES).cast()));
                let both = _mm512_mask_blend_epi64(0b1100_1100, first, second);
                let q = _mm512_and_si512(_mm512_srlv_epi64(both, shift), mask);
                let dot = _mm512_dpbusd_epi32(
                    _mm512_setzero_si512(),
                    q,
                    _mm512_loadu_si512(pair.qs.as_ptr().cast()),
                );
                let d0 = b.cast::<u16>().read_unaligned() as u32;
                let d1 = b.add(Q4_0_BYTES).cast::<u16>().read_unaligned() as u32;
                let dw = _mm_cvtph_ps(_mm_cvtsi32_si128((d0 | d1 << 16) as i32));
                let dy = _mm_castpd_ps(_mm_load_sd(pair.scales.as_ptr().cast()));
                let off = _mm_castpd_ps(_mm_load_sd(pair.offsets.as_ptr().cast()));
                offsets = _mm_fmadd_ps(dw, off, offsets);
                let d = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_mul_ps(dw, dy)));
                acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, acc[j]);
            }
        }
        let offsets = _mm_cvtss_f32(offsets) + _mm_cvtss_f32(_mm_movehdup_ps(offsets));
        *o = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) + offsets;
    }
}

/// `out[r]` = row `r` of `w` (Q4_K rows, one super-block per block of `x`) · the token `x`.
///
/// # Safety
/// The CPU passes [`supported`].
pub unsafe fn q4k(w: &[u8], x: &[BlockQ8K], out: &mut [f32]) {
    let row_bytes = x.len() * Q4K_BYTES;
    assert_eq!(w.len(), out.len() * row_bytes, "rows match the activations");
    with_prefetch_level!(P => q4k_rows::<P>(w, row_bytes, x, out))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")]
unsafe fn q4k_rows<P: PrefetchTo>(w: &[u8], row_bytes: usize, x: &[BlockQ8K], out: &mut [f32]) {
    let shift = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
    let mask = _mm512_set1_epi8(0xF);
    let spread = group_spread();
    for r in interleaved(out.len()) {
        let (row, o) = (&w[r * row_bytes..(r + 1) * row_bytes], &mut out[r]);
        let mut acc = _mm512_setzero_ps();
        let mut mins = _mm256_setzero_ps();
        for (b, y) in x.iter().enumerate() {
            let p = row.as_ptr().add(b * Q4K_BYTES);
            prefetch_ahead::<P>(p, Q4K_BYTES);
            let (scales, coefs) = k4_scales(p.add(4));
            let scales = _mm512_castsi256_si512(scales);
            let mut sum = [_mm512_setzero_si512(); 2];
            for (j, spread) in spread.iter().enumerate() {
                // Low nibbles (sub-block 2j) in the low half, high nibbles (2j + 1) above.
                let run = _mm512_broadcast_i64x4(_mm256_loadu_si256(p.add(16 + 32 * j).cast()));
                let q = _mm512_and_si512(_mm512_srlv_epi64(run, shift), mask);
                let ys = _mm512_loadu_si512(y.qs.as_ptr().add(64 * j).cast());
                let pairs = _mm512_maddubs_epi16(q, ys);
                let sc = _mm512_permutexvar_epi16(*spread, scales);
                sum[j % 2] = _mm512_dpwssd_epi32(sum[j % 2], pairs, sc);
            }
            let both = _mm_cvtph_ps(_mm_cvtsi32_si128(p.cast::<i32>().read_unaligned()));
            let d = _mm_cvtss_f32(both) * y.d;
            let dmin = _mm_cvtss_f32(_mm_movehdup_ps(both)) * y.d;
            let total = _mm512_cvtepi32_ps(_mm512_add_epi32(sum[0], sum[1]));
            acc = _mm512_fmadd_ps(total, _mm512_set1_ps(d), acc);
            let bsums = _mm256_loadu_si256(y.bsums.as_ptr().cast());
            let m = _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, coefs));
            mins = _mm256_fmadd_ps(m, _mm256_set1_ps(dmin), mins);
        }
        *o = _mm512_reduce_add_ps(acc) - hsum(mins);
    }
}

/// For each run `j` of 64 quants of a super-block, the indices that give its 32 pair sums
/// (`vpmaddubsw`'s) the i16 scales of 16-groups `4j..4j + 4`, eight pairs each.
#[inline(always)]
unsafe fn group_spread() -> [__m512i; 4] {
    std::array::from_fn(|j| {
        let g = 4 * j as i16;
        let (a, b, c, d) = (g, g + 1, g + 2, g + 3);
        _mm512_set_epi16(
            d, d, d, d, d, d, d, d, c, c, c, c, c, c, c, c, b, b, b, b, b, b, b, b, a, a, a, a, a,
            a, a, a,
        )
    })
}

/// `out[r]` = row `r` of `w` (Q6_K rows, one super-block per block of `x`) · the token `x`.
///
/// # Safety
/// The CPU passes [`supported`].
pub unsafe fn q6k(w: &[u8], x: &[BlockQ8K], out: &mut [f32]) {
    let row_bytes = x.len() * Q6K_BYTES;
    assert_eq!(w.len(), out.len() * row_bytes, "rows match the activations");
    with_prefetch_level!(P => q6k_rows::<P>(w, row_bytes, x, out))
}

/// Q6_K: `ql[128] | qh[64] | scales[16] (i8) | d`; quant `128h + 32t + l` has low bits from
/// `ql[64h + 32(t & 1) + l]` (low nibble for t < 2, else high) and top bits `2t..2t+2` of
/// `qh[32h + l]`, minus 32.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")]
unsafe fn q6k_rows<P: PrefetchTo>(w: &[u8], row_bytes: usize, x: &[BlockQ8K], out: &mut [f32]) {
    let low = _mm512_set1_epi8(0xF);
    let top = _mm512_set1_epi8(0x30);
    // Top bits 2t..2t + 2 to bits 4..6: t = 0, 1 for the low nibbles' quants (left by 4, 2),
    // t = 2, 3 for the high nibbles' (right by 0, 2); one value per 256-bit half.
    let up = _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4);
    let down = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    let spread = group_spread();
    for r in interleaved(out.len()) {
        let (row, o) = (&w[r * row_bytes..(r + 1) * row_bytes], &mut out[r]);
        let mut acc = _mm512_setzero_ps();
        let mut offsets = _mm256_setzero_ps();
        for (b, y) in x.iter().enumerate() {
            let p = row.as_ptr().add(b * Q6K_BYTES);
            prefetch_ahead::<P>(p, Q6K_BYTES);
            let scales = _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(192).cast()));
            let wide = _mm512_castsi256_si512(scales);
            let mut sum = [_mm512_setzero_si512(); 2];
            for h in 0..2 {
                let ql = _mm512_loadu_si512(p.add(64 * h).cast());
                let qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(p.add(128 + 32 * h).cast()));
                let quants = [
                    _mm512_or_si512(
                        _mm512_and_si512(ql, low),
                        _mm512_and_si512(_mm512_sllv_epi64(qh, up), top),
                    ),
                    _mm512_or_si512(
                        _mm512_and_si512(_mm512_srli_epi16::<4>(ql), low),
                        _mm512_and_si512(_mm512_srlv_epi64(qh, down), top),
                    ),
                ];
                for (k, q) in quants.into_iter().enumerate() {
                    let j = 2 * h + k;
                    let ys = _mm512_loadu_si512(y.qs.as_ptr().add(64 * j).cast());
                    let pairs = _mm512_maddubs_epi16(q, ys);
                    let sc = _mm512_permutexvar_epi16(spread[j], wide);
                    sum[k] = _mm512_dpwssd_epi32(sum[k], pairs, sc);
                }
            }
            let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(
                p.add(208).cast::<u16>().read_unaligned() as i32,
            ))) * y.d;
            let total = _mm512_cvtepi32_ps(_mm512_add_epi32(sum[0], sum[1]));
            acc = _mm512_fmadd_ps(total, _mm512_set1_ps(d), acc);
            // The quants' offset: 32 · Σ_g scale[g] · Σ y over group g.
            let bsums = _mm256_loadu_si256(y.bsums.as_ptr().cast());
            let m = _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, scales));
            offsets = _mm256_fmadd_ps(m, _mm256_set1_ps(32.0 * d), offsets);
        }
        *o = _mm512_reduce_add_ps(acc) - hsum(offsets);
    }
}
