//! x86-64 kernels for the K-quants (AVX2 and AVX-512 VNNI tiers, see `x86.rs`).
//!
//! Every K-quant super-block is decoded to the same shape, [`Super`]: eight 32-byte vectors of
//! unsigned quants (elements `32k..32k+32` in vector `k`), a 16-bit scale per 16 elements, a
//! 16-bit coefficient per 16 elements for the activation sums (`bsums`), and two float factors.
//! Its dot with a Q8_K block is then
//! `d·dy·Σ_g scale[g]·Σ q·y − dmin·dy·Σ_g coef[g]·bsums[g]`,
//! which covers the mins of Q2_K/Q4_K/Q5_K (`coef = min`) and the offsets of Q3_K/Q6_K
//! (`coef = 4·scale` or `32·scale`, `dmin = d`). `vpmaddubsw` forms the q·y pair sums (at most
//! 2·63·127, no saturation) and `vpmaddwd`/`vpdpwssd` applies the scales.

use std::arch::x86_64::*;

use super::blocks::*;
use super::x86::{f16x8, hsum, prefetch_ahead, Avx2, PrefetchTo, Tier, Vnni};

x86_entry!(q2k_avx2, q2k_vnni, k_blocks::<Q2K, P>, BlockQ8K);
x86_entry!(q3k_avx2, q3k_vnni, k_blocks::<Q3K, P>, BlockQ8K);
x86_entry!(q4k_avx2, q4k_vnni, k_blocks::<Q4K, P>, BlockQ8K);
x86_entry!(q5k_avx2, q5k_vnni, k_blocks::<Q5K, P>, BlockQ8K);
x86_entry!(q6k_avx2, q6k_vnni, k_blocks::<Q6K, P>, BlockQ8K);

/// A K-quant type: its super-block size and decoding (a trait, not a closure, so that it is
/// compiled with the wrapper's target features).
trait KQuant {
    const BYTES: usize;
    unsafe fn decode(p: *const u8) -> Super;
}

/// A super-block decoded for [`k_blocks`].
struct Super {
    q: [__m256i; 8],
    /// i16 scale of each 16-element group.
    scale: __m256i,
    /// i16 coefficient of each group's activation sum.
    coef: __m256i,
    d: __m256,
    dmin: __m256,
}

/// Picks the scales of groups `2k` and `2k + 1` from eight broadcast i16 scales: the low lane
/// gets group `2k` eight times (elements `32k..32k+16`), the high lane group `2k + 1`.
#[inline(always)]
unsafe fn pair(scales: __m256i, k: usize) -> __m256i {
    let i = (4 * (k % 4)) as i16;
    let lo = i | ((i + 1) << 8);
    let hi = (i + 2) | ((i + 3) << 8);
    _mm256_shuffle_epi8(
        scales,
        _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo)),
    )
}

/// The loop shared by the K-quants: each super-block decoded to a [`Super`] meets each
/// activation row. Two integer accumulators per row hide `vpdpwssd` latency.
#[inline(always)]
unsafe fn k_blocks<T: Tier, K: KQuant, P: PrefetchTo, const N: usize>(
    w: &[u8],
    xs: &[&[BlockQ8K]],
    out: &mut [f32],
) {
    let nb = w.len() / K::BYTES;
    let ys: [*const BlockQ8K; N] = std::array::from_fn(|r| xs[r].as_ptr());
    let mut acc = [_mm256_setzero_ps(); N];
    for b in 0..nb {
        prefetch_ahead::<P>(w.as_ptr().add(b * K::BYTES), K::BYTES);
        let s = K::decode(w.as_ptr().add(b * K::BYTES));
        let scales = [
            _mm256_permute4x64_epi64::<0x44>(s.scale),
            _mm256_permute4x64_epi64::<0xEE>(s.scale),
        ];
        let mut isum = [[_mm256_setzero_si256(); 2]; N];
        for k in 0..8 {
            let sc = pair(scales[k / 4], k);
            for r in 0..N {
                let y = _mm256_loadu_si256((*ys[r].add(b)).qs.as_ptr().add(32 * k).cast());
                let pairs = _mm256_maddubs_epi16(s.q[k], y);
                isum[r][k % 2] = T::dpwssd(isum[r][k % 2], pairs, sc);
            }
        }
        for r in 0..N {
            let y = ys[r].add(b);
            let bsums = _mm256_loadu_si256((*y).bsums.as_ptr().cast());
            let corr = _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, s.coef));
            let total = _mm256_cvtepi32_ps(_mm256_add_epi32(isum[r][0], isum[r][1]));
            let dy = _mm256_set1_ps((*y).d);
            acc[r] = _mm256_fmadd_ps(total, _mm256_mul_ps(s.d, dy), acc[r]);
            acc[r] = _mm256_fnmadd_ps(corr, _mm256_mul_ps(s.dmin, dy), acc[r]);
        }
    }
    for r in 0..N {
        out[r] = hsum(acc[r]);
    }
}

#[inline(always)]
unsafe fn load32(p: *const u8) -> __m256i {
    _mm256_loadu_si256(p.cast())
}

#[inline(always)]
unsafe fn u32_at(p: *const u8) -> u32 {
    p.cast::<u32>().read_unaligned()
}

#[inline(always)]
unsafe fn bytes(v: i32) -> __m256i {
    _mm256_set1_epi8(v as i8)
}

/// Q2_K: `scales[16] | qs[64] | d | dmin`; quant `128h + 32s + l` is bits `2s..2s+2` of
/// `qs[32h + l]`, each 16-group has a 4-bit scale (low nibble) and min (high nibble).
struct Q2K;
impl KQuant for Q2K {
    const BYTES: usize = Q2K_BYTES;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [_mm256_setzero_si256(); 8];
        for h in 0..2 {
            let mut v = load32(p.add(16 + 32 * h));
            for s in 0..4 {
                q[4 * h + s] = _mm256_and_si256(v, bytes(3));
                v = _mm256_srli_epi16::<2>(v);
            }
        }
        let sb = _mm_loadu_si128(p.cast());
        let low = _mm_set1_epi8(0xF);
        Super {
            q,
            scale: _mm256_cvtepu8_epi16(_mm_and_si128(sb, low)),
            coef: _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16::<4>(sb), low)),
            d: f16x8(p.add(80)),
            dmin: f16x8(p.add(82)),
        }
    }
}

/// Q3_K: `hmask[32] | qs[64] | scales[12] | d`; quant `128h + 32s + l` is bits `2s..2s+2` of
/// `qs[32h + l]` plus 4 if bit `4h + s` of `hmask[l]` is set, all minus 4.
struct Q3K;
impl KQuant for Q3K {
    const BYTES: usize = Q3K_BYTES;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [_mm256_setzero_si256(); 8];
        let mut hm = load32(p);
        for h in 0..2 {
            let mut v = load32(p.add(32 + 32 * h));
            for s in 0..4 {
                let high = _mm256_and_si256(_mm256_slli_epi16::<2>(hm), bytes(4));
                q[4 * h + s] = _mm256_or_si256(_mm256_and_si256(v, bytes(3)), high);
                v = _mm256_srli_epi16::<2>(v);
                hm = _mm256_srli_epi16::<1>(hm);
            }
        }
        // Low 4 bits from the nibbles of bytes 0..8, top 2 bits from bytes 8..12.
        let (a0, a1, a2) = (u32_at(p.add(96)), u32_at(p.add(100)), u32_at(p.add(104)));
        let (m4, m2) = (0x0f0f_0f0fu32, 0x0303_0303u32);
        let s0 = (a0 & m4) | ((a2 & m2) << 4);
        let s1 = (a1 & m4) | (((a2 >> 2) & m2) << 4);
        let s2 = ((a0 >> 4) & m4) | (((a2 >> 4) & m2) << 4);
        let s3 = ((a1 >> 4) & m4) | (((a2 >> 6) & m2) << 4);
        let packed = _mm_set_epi32(s3 as i32, s2 as i32, s1 as i32, s0 as i32);
        let scale = _mm256_cvtepi8_epi16(_mm_sub_epi8(packed, _mm_set1_epi8(32)));
        let d = f16x8(p.add(108));
        Super {
            q,
            scale,
            coef: _mm256_slli_epi16::<2>(scale),
            d,
            dmin: d,
        }
    }
}

/// The 6-bit scales and mins of Q4_K/Q5_K at `p` (12 bytes), each duplicated so that both
/// 16-groups of a 32-element sub-block get it: `(scales, mins)` as 16 i16 each.
#[inline(always)]
pub(super) unsafe fn k4_scales(p: *const u8) -> (__m256i, __m256i) {
    let (a0, a1, a2) = (u32_at(p), u32_at(p.add(4)), u32_at(p.add(8)));
    let (m6, m4, m2) = (0x3f3f_3f3fu32, 0x0f0f_0f0fu32, 0x0303_0303u32);
    let sc_lo = a0 & m6;
    let sc_hi = (a2 & m4) | (((a0 >> 6) & m2) << 4);
    let mn_lo = a1 & m6;
    let mn_hi = ((a2 >> 4) & m4) | (((a1 >> 6) & m2) << 4);
    let v = _mm_set_epi32(mn_hi as i32, mn_lo as i32, sc_hi as i32, sc_lo as i32);
    (
        _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v)),
        _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(v, v)),
    )
}

/// Q4_K: `d | dmin | scales[12] | qs[128]`; quant `64j + l` is the low nibble of
/// `qs[32j + l]`, quant `64j + 32 + l` its high nibble.
struct Q4K;
impl KQuant for Q4K {
    const BYTES: usize = Q4K_BYTES;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [_mm256_setzero_si256(); 8];
        for j in 0..4 {
            let v = load32(p.add(16 + 32 * j));
            q[2 * j] = _mm256_and_si256(v, bytes(0xF));
            q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(v), bytes(0xF));
        }
        let (scale, coef) = k4_scales(p.add(4));
        Super {
            q,
            scale,
            coef,
            d: f16x8(p),
            dmin: f16x8(p.add(2)),
        }
    }
}

/// Q5_K: `d | dmin | scales[12] | qh[32] | qs[128]`; Q4_K's nibbles plus bit 4 of quant
/// `32k + l` from bit `k` of `qh[l]`.
struct Q5K;
impl KQuant for Q5K {
    const BYTES: usize = Q5K_BYTES;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [_mm256_setzero_si256(); 8];
        let mut hb = load32(p.add(16));
        for j in 0..4 {
            let v = load32(p.add(48 + 32 * j));
            let h0 = _mm256_and_si256(_mm256_slli_epi16::<4>(hb), bytes(0x10));
            let h1 = _mm256_and_si256(_mm256_slli_epi16::<3>(hb), bytes(0x10));
            let lo = _mm256_and_si256(v, bytes(0xF));
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), bytes(0xF));
            q[2 * j] = _mm256_or_si256(lo, h0);
            q[2 * j + 1] = _mm256_or_si256(hi, h1);
            hb = _mm256_srli_epi16::<2>(hb);
        }
        let (scale, coef) = k4_scales(p.add(4));
        Super {
            q,
            scale,
            coef,
            d: f16x8(p),
            dmin: f16x8(p.add(2)),
        }
    }
}

/// Q6_K: `ql[128] | qh[64] | scales[16] (i8) | d`; quant `128h + 32t + l` has low bits from
/// `ql[64h + 32(t & 1) + l]` (low nibble for t < 2, else high) and top bits `2t..2t+2` of
/// `qh[32h + l]`, minus 32.
struct Q6K;
impl KQuant for Q6K {
    const BYTES: usize = Q6K_BYTES;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [_mm256_setzero_si256(); 8];
        let (low, top) = (bytes(0xF), bytes(0x30));
        for h in 0..2 {
            let l0 = load32(p.add(64 * h));
            let l1 = load32(p.add(64 * h + 32));
            let hv = load32(p.add(128 + 32 * h));
            let h0 = _mm256_and_si256(_mm256_slli_epi16::<4>(hv), top);
            let h1 = _mm256_and_si256(_mm256_slli_epi16::<2>(hv), top);
            let h2 = _mm256_and_si256(hv, top);
            let h3 = _mm256_and_si256(_mm256_srli_epi16::<2>(hv), top);
            q[4 * h] = _mm256_or_si256(_mm256_and_si256(l0, low), h0);
            q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, low), h1);
            q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(l0), low), h2);
            q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(l1), low), h3);
        }
        let scale = _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(192).cast()));
        let d = f16x8(p.add(208));
        Super {
            q,
            scale,
            coef: _mm256_slli_epi16::<5>(scale),
            d,
            dmin: d,
        }
    }
}
