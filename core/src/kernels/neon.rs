//! aarch64 kernels for the 32-element block types, in two tiers sharing one body each:
//! baseline Advanced SIMD (`smull`/`smlal2` into i16, `sadalp` into i32) and the dot-product
//! extension (`sdot`, emitted with `asm!` because `vdotq_s32` is not stable, and only ever
//! executed behind run-time detection). Bodies are `#[inline(always)]` generic over [`Tier`],
//! the block type and the row count, so each `#[target_feature]` entry point compiles its own.
//!
//! NEON multiplies signed bytes directly, so every weight is decoded to its signed value
//! (Q4_1/Q5_1 quants 0..=31 are non-negative i8) and no sign trick is needed.

use std::arch::aarch64::*;

use super::blocks::*;

pub(super) trait Tier {
    /// `acc` plus the products `a[i]·b[i]`, summed into the four i32 lanes. Lane assignment
    /// differs by tier; callers only ever reduce a whole vector. The baseline tier adds pairs
    /// in i16, so `|a[i]·b[i] + a[i+8]·b[i+8]|` must fit (true for |a| ≤ 128, |b| ≤ 127).
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t;
}

pub(super) struct Neon;
pub(super) struct Dotprod;

impl Tier for Neon {
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        let p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
        vpadalq_s16(acc, vmlal_high_s8(p, a, b))
    }
}

impl Tier for Dotprod {
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        sdot(acc, a, b)
    }
}

/// `sdot v.4s, a.16b, b.16b`: only reachable from `dotprod` entry points.
#[inline]
#[target_feature(enable = "dotprod")]
unsafe fn sdot(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    core::arch::asm!(
        "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
        acc = inout(vreg) acc,
        a = in(vreg) a,
        b = in(vreg) b,
        options(pure, nomem, nostack, preserves_flags)
    );
    acc
}

/// Wraps a body generic over `<T: Tier, K, const N: usize>` into the two entry points.
macro_rules! neon_entry {
    ($neon:ident, $dot:ident, $body:ident :: <$kind:ty>, $act:ty) => {
        /// # Safety
        /// NEON must be available and the sizes valid per `check`.
        #[target_feature(enable = "neon")]
        pub(super) unsafe fn $neon(w: &[u8], xs: &[&[$act]], out: &mut [f32]) {
            each_row(w, xs, out, |w, out| match xs.len() {
                1 => $body::<Neon, $kind, 1>(w, xs, out),
                2 => $body::<Neon, $kind, 2>(w, xs, out),
                3 => $body::<Neon, $kind, 3>(w, xs, out),
                _ => $body::<Neon, $kind, 4>(w, xs, out),
            })
        }

        /// # Safety
        /// NEON and the dot-product extension must be available and the sizes valid.
        #[target_feature(enable = "neon,dotprod")]
        pub(super) unsafe fn $dot(w: &[u8], xs: &[&[$act]], out: &mut [f32]) {
            each_row(w, xs, out, |w, out| match xs.len() {
                1 => $body::<Dotprod, $kind, 1>(w, xs, out),
                2 => $body::<Dotprod, $kind, 2>(w, xs, out),
                3 => $body::<Dotprod, $kind, 3>(w, xs, out),
                _ => $body::<Dotprod, $kind, 4>(w, xs, out),
            })
        }
    };
}

neon_entry!(q4_0_neon, q4_0_dotprod, blocks::<Q4_0>, BlockQ8_0);
neon_entry!(q4_1_neon, q4_1_dotprod, blocks::<Q4_1>, BlockQ8_0);
neon_entry!(q5_0_neon, q5_0_dotprod, blocks::<Q5_0>, BlockQ8_0);
neon_entry!(q5_1_neon, q5_1_dotprod, blocks::<Q5_1>, BlockQ8_0);
neon_entry!(q8_0_neon, q8_0_dotprod, blocks::<Q8_0>, BlockQ8_0);

#[inline(always)]
pub(super) unsafe fn u16_at(p: *const u8) -> u16 {
    p.cast::<u16>().read_unaligned()
}

/// A 32-element block type: size, decoding to two vectors of signed quants (elements 0..16
/// and 16..32), and whether it is affine (`d·q + m`, with `m` the f16 at byte 2).
pub(super) trait Block32 {
    const BYTES: usize;
    const AFFINE: bool;
    unsafe fn quants(p: *const u8) -> (int8x16_t, int8x16_t);
}

/// Each block's quants meet each activation row: `d·dy·Σq·y (+ m·dy·Σy)`. Two accumulators
/// per row hide the FMA latency.
#[inline(always)]
unsafe fn blocks<T: Tier, B: Block32, const N: usize>(
    w: &[u8],
    xs: &[&[BlockQ8_0]],
    out: &mut [f32],
) {
    let nb = w.len() / B::BYTES;
    let ys: [*const BlockQ8_0; N] = std::array::from_fn(|r| xs[r].as_ptr());
    let mut a0 = [vdupq_n_f32(0.0); N];
    let mut a1 = [vdupq_n_f32(0.0); N];
    let mut b = 0;
    while b + 1 < nb {
        step::<T, B, N>(w.as_ptr(), b, &ys, &mut a0);
        step::<T, B, N>(w.as_ptr(), b + 1, &ys, &mut a1);
        b += 2;
    }
    if b < nb {
        step::<T, B, N>(w.as_ptr(), b, &ys, &mut a0);
    }
    for r in 0..N {
        out[r] = vaddvq_f32(vaddq_f32(a0[r], a1[r]));
    }
}

#[inline(always)]
unsafe fn step<T: Tier, B: Block32, const N: usize>(
    w: *const u8,
    b: usize,
    ys: &[*const BlockQ8_0; N],
    acc: &mut [float32x4_t; N],
) {
    let p = w.add(b * B::BYTES);
    let (q0, q1) = B::quants(p);
    let dw = f16_to_f32(u16_at(p));
    for r in 0..N {
        let y = ys[r].add(b);
        let (y0, y1) = (
            vld1q_s8((*y).qs.as_ptr()),
            vld1q_s8((*y).qs.as_ptr().add(16)),
        );
        let dy = f16_to_f32((*y).d.to_bits());
        let dot = T::dot(T::dot(vdupq_n_s32(0), q0, y0), q1, y1);
        acc[r] = vfmaq_n_f32(acc[r], vcvtq_f32_s32(dot), dw * dy);
        if B::AFFINE {
            let ones = vdupq_n_s8(1);
            let sum = T::dot(T::dot(vdupq_n_s32(0), ones, y0), ones, y1);
            let m = f16_to_f32(u16_at(p.add(2)));
            acc[r] = vfmaq_n_f32(acc[r], vcvtq_f32_s32(sum), m * dy);
        }
    }
}

/// The nibbles of 16 bytes: (low nibbles, high nibbles).
#[inline(always)]
unsafe fn nibbles(p: *const u8) -> (uint8x16_t, uint8x16_t) {
    let v = vld1q_u8(p);
    (vandq_u8(v, vdupq_n_u8(0xF)), vshrq_n_u8::<4>(v))
}

/// Bytes 0x10 where bit `i` of `qh` is set, for i in 0..16 and 16..32.
#[inline(always)]
unsafe fn fifth_bits(qh: u32) -> (uint8x16_t, uint8x16_t) {
    // Byte i takes byte i/8 of `qh` and keeps its bit i%8, moved to bit 4.
    let v = vreinterpretq_u8_u32(vdupq_n_u32(qh));
    let idx_lo = vcombine_u8(vdup_n_u8(0), vdup_n_u8(1));
    let idx_hi = vcombine_u8(vdup_n_u8(2), vdup_n_u8(3));
    let bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040_2010_0804_0201));
    let lo = vtstq_u8(vqtbl1q_u8(v, idx_lo), bit);
    let hi = vtstq_u8(vqtbl1q_u8(v, idx_hi), bit);
    let sixteen = vdupq_n_u8(0x10);
    (vandq_u8(lo, sixteen), vandq_u8(hi, sixteen))
}

/// Q4_0: `d | qs[16]`, weight = nibble − 8.
pub(super) struct Q4_0;
impl Block32 for Q4_0 {
    const BYTES: usize = Q4_0_BYTES;
    const AFFINE: bool = false;
    #[inline(always)]
    unsafe fn quants(p: *const u8) -> (int8x16_t, int8x16_t) {
        let (lo, hi) = nibbles(p.add(2));
        let eight = vdupq_n_s8(8);
        (
            vsubq_s8(vreinterpretq_s8_u8(lo), eight),
            vsubq_s8(vreinterpretq_s8_u8(hi), eight),
        )
    }
}

/// Q4_1: `d | m | qs[16]`, weight = d·nibble + m.
pub(super) struct Q4_1;
impl Block32 for Q4_1 {
    const BYTES: usize = Q4_1_BYTES;
    const AFFINE: bool = true;
    #[inline(always)]
    unsafe fn quants(p: *const u8) -> (int8x16_t, int8x16_t) {
        let (lo, hi) = nibbles(p.add(4));
        (vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi))
    }
}

/// Q5_0: `d | qh (u32) | qs[16]`, weight = (nibble | bit·16) − 16.
pub(super) struct Q5_0;
impl Block32 for Q5_0 {
    const BYTES: usize = Q5_0_BYTES;
    const AFFINE: bool = false;
    #[inline(always)]
    unsafe fn quants(p: *const u8) -> (int8x16_t, int8x16_t) {
        let (lo, hi) = nibbles(p.add(6));
        let (b0, b1) = fifth_bits(p.add(2).cast::<u32>().read_unaligned());
        let sixteen = vdupq_n_s8(16);
        (
            vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, b0)), sixteen),
            vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, b1)), sixteen),
        )
    }
}

/// Q5_1: `d | m | qh (u32) | qs[16]`, weight = d·(nibble | bit·16) + m.
pub(super) struct Q5_1;
impl Block32 for Q5_1 {
    const BYTES: usize = Q5_1_BYTES;
    const AFFINE: bool = true;
    #[inline(always)]
    unsafe fn quants(p: *const u8) -> (int8x16_t, int8x16_t) {
        let (lo, hi) = nibbles(p.add(8));
        let (b0, b1) = fifth_bits(p.add(4).cast::<u32>().read_unaligned());
        (
            vreinterpretq_s8_u8(vorrq_u8(lo, b0)),
            vreinterpretq_s8_u8(vorrq_u8(hi, b1)),
        )
    }
}

/// Q8_0: `d | qs[32]`.
pub(super) struct Q8_0;
impl Block32 for Q8_0 {
    const BYTES: usize = Q8_0_BYTES;
    const AFFINE: bool = false;
    #[inline(always)]
    unsafe fn quants(p: *const u8) -> (int8x16_t, int8x16_t) {
        let q = p.add(2).cast::<i8>();
        (vld1q_s8(q), vld1q_s8(q.add(16)))
    }
}
