//! aarch64 kernels for the K-quants (baseline NEON and dotprod tiers, see `neon.rs`).
//!
//! Each super-block is decoded to [`Super`]: sixteen vectors of signed quants (vector `g` holds
//! elements `16g..16g+16`), an i32 scale per 16-group and, for the types with mins, an i16 min
//! per 16-group. Its dot with a Q8_K block is
//! `d·dy·Σ_g scale[g]·Σ q·y − dmin·dy·Σ_g min[g]·bsums[g]`. Q3_K and Q6_K subtract their
//! offsets (4 and 32) from the quants directly, so they have no min term.

use std::arch::aarch64::*;

use super::blocks::*;
use super::neon::{in_fours, lanes_of, u16_at, Dotprod, Neon, Tier};

neon_entry!(q2k_neon, q2k_dotprod, k_blocks::<Q2K>, BlockQ8K, decode: k_decode);
neon_entry!(q3k_neon, q3k_dotprod, k_blocks::<Q3K>, BlockQ8K, decode: k_decode);
neon_entry!(q4k_neon, q4k_dotprod, k_blocks::<Q4K>, BlockQ8K, decode: k_decode);
neon_entry!(q5k_neon, q5k_dotprod, k_blocks::<Q5K>, BlockQ8K, decode: k_decode);
neon_entry!(q6k_neon, q6k_dotprod, k_blocks::<Q6K>, BlockQ8K, decode: k_decode);

/// A super-block decoded for [`k_blocks`].
struct Super {
    q: [int8x16_t; 16],
    scale: [i32; 16],
    /// i16 min per 16-group (all zero when `HAS_MIN` is false).
    min: [int16x8_t; 2],
    d: f32,
    dmin: f32,
}

/// A K-quant type: super-block size, decoding, whether it has a min term, and whether the
/// 16-groups share their scale in pairs (32-element sub-blocks).
trait KQuant {
    const BYTES: usize;
    const HAS_MIN: bool;
    const PAIRED: bool;
    unsafe fn decode(p: *const u8) -> Super;
}

/// One weight row against N ≤ 4 activation rows, each in a lane (as in `neon::blocks`): the
/// rows' integer sums and min terms are reduced into one vector each, so the float work of a
/// super-block is done once for the N rows, in the same order as [`k_rows4`] does it.
#[inline(always)]
unsafe fn k_blocks<T: Tier, K: KQuant, const N: usize>(
    w: &[u8],
    xs: &[&[BlockQ8K]],
    out: &mut [f32],
) {
    let nb = w.len() / K::BYTES;
    let ys: [*const BlockQ8K; N] = std::array::from_fn(|r| xs[r].as_ptr());
    let mut acc = vdupq_n_f32(0.0);
    for b in 0..nb {
        let s = K::decode(w.as_ptr().add(b * K::BYTES));
        let (mut sums, mut mins) = ([vdupq_n_s32(0); 4], [vdupq_n_s32(0); 4]);
        let mut dy = [0f32; 4];
        for r in 0..N {
            let y = &*ys[r].add(b);
            sums[r] = scaled_dot::<T, K>(&s, y);
            if K::HAS_MIN {
                mins[r] = min_dot(&s, y);
            }
            dy[r] = y.d;
        }
        let dy = vld1q_f32(dy.as_ptr());
        acc = vfmaq_f32(acc, vcvtq_f32_s32(lanes_of(&sums)), vmulq_n_f32(dy, s.d));
        if K::HAS_MIN {
            acc = vfmsq_f32(acc, vcvtq_f32_s32(lanes_of(&mins)), vmulq_n_f32(dy, s.dmin));
        }
    }
    let mut lanes = [0f32; 4];
    vst1q_f32(lanes.as_mut_ptr(), acc);
    out[..N].copy_from_slice(&lanes[..N]);
}

/// `Σ_g scale[g]·Σ q·y` of one super-block and its activations, spread over four lanes.
#[inline(always)]
unsafe fn scaled_dot<T: Tier, K: KQuant>(s: &Super, y: &BlockQ8K) -> int32x4_t {
    let yq = |g: usize| vld1q_s8(y.qs.as_ptr().add(16 * g));
    let mut isum = [vdupq_n_s32(0); 2];
    if K::PAIRED {
        // One dot per 32-element sub-block, one multiply by its scale.
        for j in 0..8 {
            let dot = T::dot(
                T::dot(vdupq_n_s32(0), s.q[2 * j], yq(2 * j)),
                s.q[2 * j + 1],
                yq(2 * j + 1),
            );
            isum[j % 2] = vmlaq_n_s32(isum[j % 2], dot, s.scale[2 * j]);
        }
    } else {
        for g in 0..16 {
            let dot = T::dot(vdupq_n_s32(0), s.q[g], yq(g));
            isum[g % 2] = vmlaq_n_s32(isum[g % 2], dot, s.scale[g]);
        }
    }
    vaddq_s32(isum[0], isum[1])
}

/// `Σ_g min[g]·bsums[g]`, spread over four lanes.
#[inline(always)]
unsafe fn min_dot(s: &Super, y: &BlockQ8K) -> int32x4_t {
    let (b0, b1) = (
        vld1q_s16(y.bsums.as_ptr()),
        vld1q_s16(y.bsums.as_ptr().add(8)),
    );
    let m = vmull_s16(vget_low_s16(b0), vget_low_s16(s.min[0]));
    let m = vmlal_high_s16(m, b0, s.min[0]);
    let m = vmlal_s16(m, vget_low_s16(b1), vget_low_s16(s.min[1]));
    vmlal_high_s16(m, b1, s.min[1])
}

/// Decode's product: the weight rows of `w` against one activation row, four rows a pass
/// ([`k_rows4`]).
#[inline(always)]
unsafe fn k_decode<T: Tier, K: KQuant>(w: &[u8], ys: &[BlockQ8K], out: &mut [f32]) {
    if !T::SDOT {
        // Without sdot the four rows' decoded quants and products do not fit the registers
        // (measured: 20% more instructions from spills), so one row at a time.
        return each_row(w, &[ys], out, |w, out| k_blocks::<T, K, 1>(w, &[ys], out));
    }
    in_fours(
        w,
        out,
        // SAFETY: `T::SDOT` says the CPU has dotprod.
        |w, row_bytes| k_rows4_sdot::<K>(w, row_bytes, ys),
        |w, out| k_blocks::<T, K, 1>(w, &[ys], out),
    )
}

/// [`k_rows4`] with `sdot`, compiled with dotprod: a closure does not inherit its caller's
/// target features, so in `k_decode`'s each `sdot` was a call (46 M more instructions per
/// 270M decode token under qemu).
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn k_rows4_sdot<K: KQuant>(w: *const u8, row_bytes: usize, ys: &[BlockQ8K]) -> float32x4_t {
    k_rows4::<Dotprod, K>(w, row_bytes, ys)
}

/// Four weight rows against one activation row; lane r of the result is row r's dot. The
/// rows' integer sums (and min terms) are reduced into one vector each, so the float work of a
/// super-block is done once for the four rows.
#[inline(always)]
unsafe fn k_rows4<T: Tier, K: KQuant>(
    w: *const u8,
    row_bytes: usize,
    ys: &[BlockQ8K],
) -> float32x4_t {
    let mut acc = vdupq_n_f32(0.0);
    for (b, y) in ys.iter().enumerate() {
        let mut sums = [vdupq_n_s32(0); 4];
        let mut mins = [vdupq_n_s32(0); 4];
        let (mut d, mut dmin) = ([0f32; 4], [0f32; 4]);
        for r in 0..4 {
            let s = K::decode(w.add(r * row_bytes + b * K::BYTES));
            sums[r] = scaled_dot::<T, K>(&s, y);
            d[r] = s.d;
            if K::HAS_MIN {
                mins[r] = min_dot(&s, y);
                dmin[r] = s.dmin;
            }
        }
        let dy = vdupq_n_f32(y.d);
        let sums = vcvtq_f32_s32(lanes_of(&sums));
        acc = vfmaq_f32(acc, sums, vmulq_f32(vld1q_f32(d.as_ptr()), dy));
        if K::HAS_MIN {
            let mins = vcvtq_f32_s32(lanes_of(&mins));
            acc = vfmsq_f32(acc, mins, vmulq_f32(vld1q_f32(dmin.as_ptr()), dy));
        }
    }
    acc
}

#[inline(always)]
unsafe fn ld(p: *const u8) -> uint8x16_t {
    vld1q_u8(p)
}

#[inline(always)]
unsafe fn s8(v: uint8x16_t) -> int8x16_t {
    vreinterpretq_s8_u8(v)
}

/// Q2_K: `scales[16] | qs[64] | d | dmin`; quant `128h + 32s + l` is bits `2s..2s+2` of
/// `qs[32h + l]`; 16-group `g` has scale `scales[g] & 15` and min `scales[g] >> 4`.
struct Q2K;
impl KQuant for Q2K {
    const BYTES: usize = Q2K_BYTES;
    const HAS_MIN: bool = true;
    const PAIRED: bool = false;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [vdupq_n_s8(0); 16];
        let three = vdupq_n_u8(3);
        for h in 0..2 {
            let (mut a, mut b) = (ld(p.add(16 + 32 * h)), ld(p.add(32 + 32 * h)));
            for s in 0..4 {
                q[8 * h + 2 * s] = s8(vandq_u8(a, three));
                q[8 * h + 2 * s + 1] = s8(vandq_u8(b, three));
                a = vshrq_n_u8::<2>(a);
                b = vshrq_n_u8::<2>(b);
            }
        }
        let sc = ld(p);
        let mins = vshrq_n_u8::<4>(sc);
        Super {
            q,
            scale: std::array::from_fn(|g| (*p.add(g) & 15) as i32),
            min: [
                vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins))),
                vreinterpretq_s16_u16(vmovl_high_u8(mins)),
            ],
            d: f16_to_f32(u16_at(p.add(80))),
            dmin: f16_to_f32(u16_at(p.add(82))),
        }
    }
}

/// Q3_K: `hmask[32] | qs[64] | scales[12] | d`; quant `128h + 32s + l` is bits `2s..2s+2` of
/// `qs[32h + l]`, plus 4 if bit `4h + s` of `hmask[l]` is set, minus 4.
struct Q3K;
impl KQuant for Q3K {
    const BYTES: usize = Q3K_BYTES;
    const HAS_MIN: bool = false;
    const PAIRED: bool = false;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [vdupq_n_s8(0); 16];
        let (three, one, four) = (vdupq_n_u8(3), vdupq_n_u8(1), vdupq_n_s8(4));
        let (mut m0, mut m1) = (ld(p), ld(p.add(16)));
        for h in 0..2 {
            let (mut a, mut b) = (ld(p.add(32 + 32 * h)), ld(p.add(48 + 32 * h)));
            for s in 0..4 {
                let h0 = vshlq_n_u8::<2>(vandq_u8(m0, one));
                let h1 = vshlq_n_u8::<2>(vandq_u8(m1, one));
                q[8 * h + 2 * s] = vsubq_s8(s8(vorrq_u8(vandq_u8(a, three), h0)), four);
                q[8 * h + 2 * s + 1] = vsubq_s8(s8(vorrq_u8(vandq_u8(b, three), h1)), four);
                a = vshrq_n_u8::<2>(a);
                b = vshrq_n_u8::<2>(b);
                m0 = vshrq_n_u8::<1>(m0);
                m1 = vshrq_n_u8::<1>(m1);
            }
        }
        let sc = k3_scales(std::slice::from_raw_parts(p.add(96), 12));
        Super {
            q,
            scale: sc.map(|s| s as i32),
            min: [vdupq_n_s16(0); 2],
            d: f16_to_f32(u16_at(p.add(108))),
            dmin: 0.0,
        }
    }
}

/// The per-16-group scales and mins of Q4_K/Q5_K from the 12 bytes at `p`.
#[inline(always)]
unsafe fn k4(p: *const u8) -> ([i32; 16], [int16x8_t; 2]) {
    let (sc, mn) = k4_scales_mins(std::slice::from_raw_parts(p, 12));
    let m: [i16; 16] = std::array::from_fn(|g| mn[g / 2] as i16);
    (
        std::array::from_fn(|g| sc[g / 2] as i32),
        [vld1q_s16(m.as_ptr()), vld1q_s16(m.as_ptr().add(8))],
    )
}

/// Q4_K: `d | dmin | scales[12] | qs[128]`; quant `64j + l` is the low nibble of
/// `qs[32j + l]`, quant `64j + 32 + l` its high nibble.
struct Q4K;
impl KQuant for Q4K {
    const BYTES: usize = Q4K_BYTES;
    const HAS_MIN: bool = true;
    const PAIRED: bool = true;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [vdupq_n_s8(0); 16];
        let low = vdupq_n_u8(0xF);
        for j in 0..4 {
            let (a, b) = (ld(p.add(16 + 32 * j)), ld(p.add(32 + 32 * j)));
            q[4 * j] = s8(vandq_u8(a, low));
            q[4 * j + 1] = s8(vandq_u8(b, low));
            q[4 * j + 2] = s8(vshrq_n_u8::<4>(a));
            q[4 * j + 3] = s8(vshrq_n_u8::<4>(b));
        }
        let (scale, min) = k4(p.add(4));
        Super {
            q,
            scale,
            min,
            d: f16_to_f32(u16_at(p)),
            dmin: f16_to_f32(u16_at(p.add(2))),
        }
    }
}

/// Q5_K: `d | dmin | scales[12] | qh[32] | qs[128]`; Q4_K's nibbles plus bit 4 of quant
/// `32k + l` from bit `k` of `qh[l]`.
struct Q5K;
impl KQuant for Q5K {
    const BYTES: usize = Q5K_BYTES;
    const HAS_MIN: bool = true;
    const PAIRED: bool = true;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [vdupq_n_s8(0); 16];
        let (low, one) = (vdupq_n_u8(0xF), vdupq_n_u8(1));
        let (mut h0, mut h1) = (ld(p.add(16)), ld(p.add(32)));
        for j in 0..4 {
            let (a, b) = (ld(p.add(48 + 32 * j)), ld(p.add(64 + 32 * j)));
            // Bit 2j of qh for the low nibbles, bit 2j + 1 for the high ones.
            let (b0, b1) = (vandq_u8(h0, one), vandq_u8(h1, one));
            let (c0, c1) = (
                vandq_u8(vshrq_n_u8::<1>(h0), one),
                vandq_u8(vshrq_n_u8::<1>(h1), one),
            );
            q[4 * j] = s8(vorrq_u8(vandq_u8(a, low), vshlq_n_u8::<4>(b0)));
            q[4 * j + 1] = s8(vorrq_u8(vandq_u8(b, low), vshlq_n_u8::<4>(b1)));
            q[4 * j + 2] = s8(vorrq_u8(vshrq_n_u8::<4>(a), vshlq_n_u8::<4>(c0)));
            q[4 * j + 3] = s8(vorrq_u8(vshrq_n_u8::<4>(b), vshlq_n_u8::<4>(c1)));
            h0 = vshrq_n_u8::<2>(h0);
            h1 = vshrq_n_u8::<2>(h1);
        }
        let (scale, min) = k4(p.add(4));
        Super {
            q,
            scale,
            min,
            d: f16_to_f32(u16_at(p)),
            dmin: f16_to_f32(u16_at(p.add(2))),
        }
    }
}

/// Q6_K: `ql[128] | qh[64] | scales[16] (i8) | d`; quant `128h + 32t + l` has low bits from
/// `ql[64h + 32(t & 1) + l]` (low nibble for t < 2, else high) and top bits `2t..2t+2` of
/// `qh[32h + l]`, minus 32.
struct Q6K;
impl KQuant for Q6K {
    const BYTES: usize = Q6K_BYTES;
    const HAS_MIN: bool = false;
    const PAIRED: bool = false;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> Super {
        let mut q = [vdupq_n_s8(0); 16];
        let (low, three, off) = (vdupq_n_u8(0xF), vdupq_n_u8(3), vdupq_n_s8(32));
        for h in 0..2 {
            let l: [uint8x16_t; 4] = std::array::from_fn(|i| ld(p.add(64 * h + 16 * i)));
            let mut hb = [ld(p.add(128 + 32 * h)), ld(p.add(144 + 32 * h))];
            for t in 0..4 {
                for half in 0..2 {
                    let src = l[2 * (t & 1) + half];
                    let nib = if t < 2 {
                        vandq_u8(src, low)
                    } else {
                        vshrq_n_u8::<4>(src)
                    };
                    let top = vshlq_n_u8::<4>(vandq_u8(hb[half], three));
                    q[8 * h + 2 * t + half] = vsubq_s8(s8(vorrq_u8(nib, top)), off);
                    hb[half] = vshrq_n_u8::<2>(hb[half]);
                }
            }
        }
        Super {
            q,
            scale: std::array::from_fn(|g| *p.add(192 + g) as i8 as i32),
            min: [vdupq_n_s16(0); 2],
            d: f16_to_f32(u16_at(p.add(208))),
            dmin: 0.0,
        }
    }
}
