//! Attention's kernels on baseline Advanced SIMD: the tiles of `float_tiles.rs` on pairs of
//! 128-bit vectors, converting f16 rows with `fcvtl`/`fcvtl2` (ARMv8.0, so the Cortex-A53
//! has them; only f16 arithmetic needs FEAT_FP16).

use std::arch::aarch64::*;
use std::arch::asm;

use super::float_rows::{Elem, Rows};
use super::float_tiles::{self, Lanes8};

/// Lanes 0–3 and 4–7.
#[derive(Clone, Copy)]
pub(super) struct Pair(float32x4_t, float32x4_t);

impl Lanes8 for Pair {
    #[inline(always)]
    unsafe fn zero() -> Self {
        Pair(vdupq_n_f32(0.0), vdupq_n_f32(0.0))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Pair(vld1q_f32(p), vld1q_f32(p.add(4)))
    }
    #[inline(always)]
    unsafe fn load_row<E: Elem>(p: *const E) -> Self {
        if E::F16 {
            let halves = vld1q_u16(p as *const u16);
            let (lo, hi): (float32x4_t, float32x4_t);
            asm!(
                "fcvtl {lo:v}.4s, {h:v}.4h",
                "fcvtl2 {hi:v}.4s, {h:v}.8h",
                h = in(vreg) halves,
                lo = out(vreg) lo,
                hi = out(vreg) hi,
                options(pure, nomem, nostack, preserves_flags),
            );
            Pair(lo, hi)
        } else {
            Self::load(p as *const f32)
        }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        let v = vld1q_dup_f32(p);
        Pair(v, v)
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        Pair(vaddq_f32(self.0, other.0), vaddq_f32(self.1, other.1))
    }
    #[inline(always)]
    unsafe fn mul(self, other: Self) -> Self {
        Pair(vmulq_f32(self.0, other.0), vmulq_f32(self.1, other.1))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        vst1q_f32(p, self.0);
        vst1q_f32(p.add(4), self.1);
    }
}

/// See `float::scores`; the caller has checked the bounds.
#[target_feature(enable = "neon")]
pub(super) unsafe fn scores<E: Elem>(
    q: &[f32],
    hd: usize,
    keys: Rows<E>,
    out: &mut [f32],
    out_stride: usize,
) {
    float_tiles::scores::<Pair, E>(q, hd, keys, out, out_stride)
}

/// See `float::accumulate`; the caller has checked the bounds.
#[target_feature(enable = "neon")]
pub(super) unsafe fn accumulate<E: Elem>(
    w: &[f32],
    w_stride: usize,
    values: Rows<E>,
    hd: usize,
    out: &mut [f32],
) {
    float_tiles::accumulate::<Pair, E>(w, w_stride, values, hd, out)
}
