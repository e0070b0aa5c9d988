//! AVX-512 VNNI kernels on 512-bit vectors for the hottest signed block types (Q4_0, Q5_0,
//! Q8_0): two blocks per vector, so half the instructions of the 256-bit version per element
//! (on cores that split 512-bit operations in two, such as Zen 4, this is no slower; on
//! full-width cores it is up to twice as fast).
//!
//! The sign trick uses a mask instead of `vpsignb` (which has no 512-bit form): the
//! activation bytes are negated where the weight is negative, and `vpdpbusd` multiplies them
//! with `|w|`.

use std::arch::x86_64::*;

use super::blocks::*;
use super::x86::{
    hsum, prefetch_ahead, signed_step, Block32, PrefetchTo, Tier, Vnni, Q4_0, Q5_0, Q8_0,
};

x86_vnni_entry!(q4_0_vnni, blocks512::<Vnni, Q4_0, P>, BlockQ8_0);
x86_vnni_entry!(q5_0_vnni, blocks512::<Vnni, Q5_0, P>, BlockQ8_0);
x86_vnni_entry!(q8_0_vnni, blocks512::<Vnni, Q8_0, P>, BlockQ8_0);

/// A signed block type that can decode two consecutive blocks into one 512-bit vector.
pub(super) trait Block512: Block32 {
    /// The 64 signed weights of the blocks at `p` and `p + BYTES`.
    unsafe fn quants2(p: *const u8) -> __m512i;
}

/// Two 32-byte pieces as one 512-bit vector.
#[inline(always)]
unsafe fn join(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// The nibbles of the 16 bytes at `a` and at `b` as 64 bytes: low nibbles of `a`, high
/// nibbles of `a`, then the same for `b`.
#[inline(always)]
unsafe fn nibbles2(a: *const u8, b: *const u8) -> __m512i {
    let both = _mm256_inserti128_si256::<1>(
        _mm256_castsi128_si256(_mm_loadu_si128(a.cast())),
        _mm_loadu_si128(b.cast()),
    );
    // 128-bit lanes [a, b, a>>4, b>>4] reordered to [a, a>>4, b, b>>4].
    let z = join(both, _mm256_srli_epi16::<4>(both));
    let z = _mm512_shuffle_i64x2::<0b11_01_10_00>(z, z);
    _mm512_and_si512(z, _mm512_set1_epi8(0xF))
}

impl Block512 for Q4_0 {
    #[inline(always)]
    unsafe fn quants2(p: *const u8) -> __m512i {
        let n = nibbles2(p.add(2), p.add(2 + Q4_0_BYTES));
        _mm512_sub_epi8(n, _mm512_set1_epi8(8))
    }
}

impl Block512 for Q5_0 {
    #[inline(always)]
    unsafe fn quants2(p: *const u8) -> __m512i {
        let n = nibbles2(p.add(6), p.add(6 + Q5_0_BYTES));
        let lo = p.add(2).cast::<u32>().read_unaligned() as u64;
        let hi = p.add(2 + Q5_0_BYTES).cast::<u32>().read_unaligned() as u64;
        // (nibble | bit·16) − 16: the nibble where the bit is set, else nibble | 0xF0.
        let negative = _mm512_or_si512(n, _mm512_set1_epi8(0xF0u8 as i8));
        _mm512_mask_mov_epi8(negative, lo | (hi << 32), n)
    }
}

impl Block512 for Q8_0 {
    #[inline(always)]
    unsafe fn quants2(p: *const u8) -> __m512i {
        let a = _mm256_loadu_si256(p.add(2).cast());
        let b = _mm256_loadu_si256(p.add(2 + Q8_0_BYTES).cast());
        join(a, b)
    }
}

/// The f16 scales of two weight blocks and two activation blocks multiplied pairwise and
/// spread over a 512-bit vector: lanes 0..8 `dw0·dy0`, lanes 8..16 `dw1·dy1`.
#[inline(always)]
unsafe fn scales2(dw0: u16, dw1: u16, dy0: u16, dy1: u16) -> __m512 {
    let bits = dw0 as u64 | (dw1 as u64) << 16 | (dy0 as u64) << 32 | (dy1 as u64) << 48;
    let v = _mm_cvtph_ps(_mm_cvtsi64_si128(bits as i64));
    let prod = _mm_mul_ps(v, _mm_movehl_ps(v, v));
    let idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(prod))
}

#[inline(always)]
unsafe fn u16_at(p: *const u8) -> u16 {
    p.cast::<u16>().read_unaligned()
}

/// Two blocks `b` and `b + 1` against each row.
#[inline(always)]
unsafe fn step2<B: Block512, const N: usize>(
    w: *const u8,
    b: usize,
    ys: &[*const BlockQ8_0; N],
    acc: &mut [__m512; N],
) {
    let p = w.add(b * B::BYTES);
    let q = B::quants2(p);
    let aq = _mm512_abs_epi8(q);
    let negative = _mm512_movepi8_mask(q);
    let (dw0, dw1) = (u16_at(p), u16_at(p.add(B::BYTES)));
    for r in 0..N {
        let y = ys[r].add(b);
        let yv = join(
            _mm256_loadu_si256((*y).qs.as_ptr().cast()),
            _mm256_loadu_si256((*y.add(1)).qs.as_ptr().cast()),
        );
        let sy = _mm512_mask_sub_epi8(yv, negative, _mm512_setzero_si512(), yv);
        let dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), aq, sy);
        let d = scales2(dw0, dw1, (*y).d.to_bits(), (*y.add(1)).d.to_bits());
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, acc[r]);
    }
}

/// Pairs of blocks in 512-bit steps (two accumulators per row), an odd last block in a
/// 256-bit step.
#[inline(always)]
unsafe fn blocks512<T: Tier, B: Block512, P: PrefetchTo, const N: usize>(
    w: &[u8],
    xs: &[&[BlockQ8_0]],
    out: &mut [f32],
) {
    let nb = w.len() / B::BYTES;
    let ys: [*const BlockQ8_0; N] = std::array::from_fn(|r| xs[r].as_ptr());
    let mut a0 = [_mm512_setzero_ps(); N];
    let mut a1 = [_mm512_setzero_ps(); N];
    let mut b = 0;
    while b + 4 <= nb {
        prefetch_ahead::<P>(w.as_ptr().add(b * B::BYTES), 4 * B::BYTES);
        step2::<B, N>(w.as_ptr(), b, &ys, &mut a0);
        step2::<B, N>(w.as_ptr(), b + 2, &ys, &mut a1);
        b += 4;
    }
    if b + 2 <= nb {
        step2::<B, N>(w.as_ptr(), b, &ys, &mut a0);
        b += 2;
    }
    let mut tail = [_mm256_setzero_ps(); N];
    if b < nb {
        signed_step::<T, B, N>(w.as_ptr(), b, &ys, &mut tail);
    }
    for r in 0..N {
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r])) + hsum(tail[r]);
    }
}
