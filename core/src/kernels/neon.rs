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
    /// Whether `sdot` runs: code built for this tier may call dotprod-only functions.
    const SDOT: bool;
}

pub(super) struct Neon;
pub(super) struct Dotprod;

impl Tier for Neon {
    const SDOT: bool = false;
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        let p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
        vpadalq_s16(acc, vmlal_high_s8(p, a, b))
    }
}

impl Tier for Dotprod {
    const SDOT: bool = true;
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

/// Wraps a body generic over `<T: Tier, K, const N: usize>` into the two entry points, one per
/// tier. A `decode` function given after the activation type takes the one-activation-row
/// products (decode's) for all the weight rows at once.
macro_rules! neon_entry {
    ($neon:ident, $dot:ident, $($rest:tt)*) => {
        neon_entry!(@tier $neon, Neon, "neon", $($rest)*);
        neon_entry!(@tier $dot, Dotprod, "neon,dotprod", $($rest)*);
    };
    (@tier $name:ident, $tier:ty, $features:literal, $body:ident :: <$kind:ty>, $act:ty
        $(, decode: $decode:ident)?) => {
        /// # Safety
        #[doc = concat!("The CPU must have `", $features, "` and the sizes be valid per `check`.")]
        #[target_feature(enable = $features)]
        pub(super) unsafe fn $name(w: &[u8], xs: &[&[$act]], out: &mut [f32]) {
            $(if xs.len() == 1 {
                return $decode::<$tier, $kind>(w, xs[0], out);
            })?
            each_row(w, xs, out, |w, out| match xs.len() {
                1 => $body::<$tier, $kind, 1>(w, xs, out),
                2 => $body::<$tier, $kind, 2>(w, xs, out),
                3 => $body::<$tier, $kind, 3>(w, xs, out),
                _ => $body::<$tier, $kind, 4>(w, xs, out),
            })
        }
    };
}

neon_entry!(q4_0_neon, q4_0_dotprod, blocks::<Q4_0>, BlockQ8_0, decode: decode);
neon_entry!(q4_1_neon, q4_1_dotprod, blocks::<Q4_1>, BlockQ8_0);
neon_entry!(q5_0_neon, q5_0_dotprod, blocks::<Q5_0>, BlockQ8_0, decode: decode);
neon_entry!(q5_1_neon, q5_1_dotprod, blocks::<Q5_1>, BlockQ8_0);
neon_entry!(q8_0_neon, q8_0_dotprod, blocks::<Q8_0>, BlockQ8_0, decode: decode);

/// The i8mm entry points: decode (one activation row) as with dotprod; with more activation
/// rows, weight rows in pairs against them with `smmla` ([`pair`]), a last odd row with sdot.
macro_rules! i8mm_entry {
    ($($name:ident: $kind:ty),*) => {$(
        /// # Safety
        /// The CPU must have `neon,dotprod,i8mm` and the sizes be valid per `check`.
        #[target_feature(enable = "neon,dotprod,i8mm")]
        pub(super) unsafe fn $name(w: &[u8], xs: &[&[BlockQ8_0]], out: &mut [f32]) {
            match xs.len() {
                1 => decode::<Dotprod, $kind>(w, xs[0], out),
                2 => pairs::<$kind, 2>(w, xs, out),
                3 => pairs::<$kind, 3>(w, xs, out),
                _ => pairs::<$kind, 4>(w, xs, out),
            }
        }
    )*};
}

i8mm_entry!(q4_0_i8mm: Q4_0, q5_0_i8mm: Q5_0, q8_0_i8mm: Q8_0);

/// The weight rows of `w` two at a time against N ≥ 2 activation rows (`out[i·N + j]`).
#[inline(always)]
unsafe fn pairs<B: Block32, const N: usize>(w: &[u8], xs: &[&[BlockQ8_0]], out: &mut [f32]) {
    let rows = out.len() / N;
    let row_bytes = w.len() / rows;
    for r in (0..rows).step_by(2) {
        let o = &mut out[r * N..];
        if r + 1 < rows {
            pair::<B, N>(w.as_ptr().add(r * row_bytes), row_bytes, xs, o);
        } else {
            blocks::<Dotprod, B, N>(&w[r * row_bytes..], xs, o);
        }
    }
}

/// Two weight rows against N ≥ 2 activation rows with `smmla`, which multiplies a 2×8 block
/// of each (weight rows by activation rows) into four i32 lanes: (w0,t0), (w0,t1), (w1,t0),
/// (w1,t1). Lane by lane the same float operations in the same order as [`blocks`], so the
/// same bits as the dotprod kernels.
#[inline(always)]
unsafe fn pair<B: Block32, const N: usize>(
    w: *const u8,
    row_bytes: usize,
    xs: &[&[BlockQ8_0]],
    out: &mut [f32],
) {
    let nb = row_bytes / B::BYTES;
    // Activation rows in pairs; a missing fourth (or third) repeats the last, its lanes unused.
    let ys: [*const BlockQ8_0; 4] = std::array::from_fn(|j| xs[j.min(N - 1)].as_ptr());
    let halves = N.div_ceil(2);
    let (mut run, mut before) = ([vdupq_n_s32(0); 2], [vdupq_n_s32(0); 2]);
    let mut acc = [vdupq_n_f32(0.0); 2];
    for b in 0..nb {
        let (p0, p1) = (w.add(b * B::BYTES), w.add(row_bytes + b * B::BYTES));
        let (a0, a1) = B::quants(p0);
        let (c0, c1) = B::quants(p1);
        let wk = [
            zip_lo(a0, c0),
            zip_hi(a0, c0),
            zip_lo(a1, c1),
            zip_hi(a1, c1),
        ];
        let dw = f16x4_at([p0, p0, p1, p1].map(|p| p.cast::<u16>()));
        for k in 0..halves {
            let (ya, yb) = (ys[2 * k].add(b), ys[2 * k + 1].add(b));
            let (ya0, ya1) = ((*ya).qs.as_ptr(), (*ya).qs.as_ptr().add(16));
            let (yb0, yb1) = ((*yb).qs.as_ptr(), (*yb).qs.as_ptr().add(16));
            let (ya0, ya1, yb0, yb1) = (vld1q_s8(ya0), vld1q_s8(ya1), vld1q_s8(yb0), vld1q_s8(yb1));
            let yk = [
                zip_lo(ya0, yb0),
                zip_hi(ya0, yb0),
                zip_lo(ya1, yb1),
                zip_hi(ya1, yb1),
            ];
            for c in 0..4 {
                run[k] = smmla(run[k], wk[c], yk[c]);
            }
            let sums = vsubq_s32(run[k], before[k]);
            before[k] = run[k];
            let (da, db) = (
                std::ptr::addr_of!((*ya).d).cast::<u16>(),
                std::ptr::addr_of!((*yb).d).cast::<u16>(),
            );
            let dy = f16x4_at([da, db, da, db]);
            acc[k] = vfmaq_f32(acc[k], vcvtq_f32_s32(sums), vmulq_f32(dw, dy));
        }
    }
    for (k, &sum) in acc.iter().enumerate().take(halves) {
        let mut lanes = [0f32; 4];
        vst1q_f32(lanes.as_mut_ptr(), sum);
        for (l, v) in lanes.into_iter().enumerate() {
            let (i, j) = (l / 2, 2 * k + l % 2);
            if j < N {
                out[i * N + j] = v;
            }
        }
    }
}

/// The low (high) 8 bytes of `a` and of `b`, side by side: one 2×8 operand of `smmla`.
#[inline(always)]
unsafe fn zip_lo(a: int8x16_t, b: int8x16_t) -> int8x16_t {
    vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)))
}

#[inline(always)]
unsafe fn zip_hi(a: int8x16_t, b: int8x16_t) -> int8x16_t {
    vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)))
}

/// `smmla acc.4s, a.16b, b.16b`: only reachable from `i8mm` entry points.
#[inline]
#[target_feature(enable = "i8mm")]
unsafe fn smmla(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    core::arch::asm!(
        "smmla {acc:v}.4s, {a:v}.16b, {b:v}.16b",
        acc = inout(vreg) acc,
        a = in(vreg) a,
        b = in(vreg) b,
        options(pure, nomem, nostack, preserves_flags)
    );
    acc
}

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
    /// Decode's four-row pass; a type may have its own for a tier.
    #[inline(always)]
    unsafe fn four_rows<T: Tier>(w: *const u8, row_bytes: usize, ys: &[BlockQ8_0]) -> float32x4_t
    where
        Self: Sized,
    {
        rows4::<T, Self>(w, row_bytes, ys)
    }
}

/// One weight row against N ≤ 4 activation rows, each in a lane: `Σ_b d·dy·Σq·y (+ m·dy·Σy)`.
///
/// The work after the dot products is done once per block for all N rows: their integer sums
/// are reduced into one vector (lane r = activation row r, see [`Running`]), converted once and
/// scaled by one vector of `d·dy`. Lane r does the same float operations in the same order
/// whatever N is, and as [`rows4`] does for a weight row, so every path gives the same bits.
#[inline(always)]
unsafe fn blocks<T: Tier, B: Block32, const N: usize>(
    w: &[u8],
    xs: &[&[BlockQ8_0]],
    out: &mut [f32],
) {
    let nb = w.len() / B::BYTES;
    let ys: [*const BlockQ8_0; N] = std::array::from_fn(|r| xs[r].as_ptr());
    let (mut dots, mut ysums) = (Running::new(), Running::new());
    let ones = vdupq_n_s8(1);
    let mut acc = vdupq_n_f32(0.0);
    for b in 0..nb {
        let p = w.as_ptr().add(b * B::BYTES);
        let (q0, q1) = B::quants(p);
        let mut dy = [p.cast::<u16>(); 4];
        for r in 0..N {
            let y = ys[r].add(b);
            let (y0, y1) = (
                vld1q_s8((*y).qs.as_ptr()),
                vld1q_s8((*y).qs.as_ptr().add(16)),
            );
            dots.run[r] = T::dot(T::dot(dots.run[r], q0, y0), q1, y1);
            if B::AFFINE {
                ysums.run[r] = T::dot(T::dot(ysums.run[r], ones, y0), ones, y1);
            }
            dy[r] = std::ptr::addr_of!((*y).d).cast::<u16>();
        }
        let dy = f16x4_at(dy);
        let dw = f16x4_to_f32(vld1_dup_u16(p.cast::<u16>()));
        acc = vfmaq_f32(acc, dots.block(), vmulq_f32(dw, dy));
        if B::AFFINE {
            let m = f16x4_to_f32(vld1_dup_u16(p.add(2).cast::<u16>()));
            acc = vfmaq_f32(acc, ysums.block(), vmulq_f32(m, dy));
        }
    }
    let mut lanes = [0f32; 4];
    vst1q_f32(lanes.as_mut_ptr(), acc);
    out[..N].copy_from_slice(&lanes[..N]);
}

/// Four rows' integer dot products, run over a whole row and never reset: a block's sums are
/// the reduced totals after it minus those before it (exact, as i32 arithmetic wraps), one
/// subtraction where resetting the four accumulators would take four.
struct Running {
    run: [int32x4_t; 4],
    before: int32x4_t,
}

impl Running {
    #[inline(always)]
    unsafe fn new() -> Running {
        Running {
            run: [vdupq_n_s32(0); 4],
            before: vdupq_n_s32(0),
        }
    }

    /// The last block's sums as f32, lane r for row r.
    #[inline(always)]
    unsafe fn block(&mut self) -> float32x4_t {
        let after = lanes_of(&self.run);
        let sums = vsubq_s32(after, self.before);
        self.before = after;
        vcvtq_f32_s32(sums)
    }
}

/// The four rows' i32 vectors reduced to one, lane r the sum of row r's lanes.
#[inline(always)]
pub(super) unsafe fn lanes_of(v: &[int32x4_t; 4]) -> int32x4_t {
    vpaddq_s32(vpaddq_s32(v[0], v[1]), vpaddq_s32(v[2], v[3]))
}

/// The f16s at four addresses (2-byte aligned), as f32 lanes.
#[inline(always)]
unsafe fn f16x4_at(p: [*const u16; 4]) -> float32x4_t {
    let h = vld1_lane_u16::<0>(p[0], vdup_n_u16(0));
    let h = vld1_lane_u16::<1>(p[1], h);
    let h = vld1_lane_u16::<2>(p[2], h);
    f16x4_to_f32(vld1_lane_u16::<3>(p[3], h))
}

/// Decode's product for the types without a min (Q4_0, Q5_0, Q8_0): the weight rows of `w`
/// against one activation row, four rows a pass ([`rows4`]).
#[inline(always)]
unsafe fn decode<T: Tier, B: Block32>(w: &[u8], ys: &[BlockQ8_0], out: &mut [f32]) {
    debug_assert!(!B::AFFINE);
    in_fours(
        w,
        out,
        |w, row_bytes| B::four_rows::<T>(w, row_bytes, ys),
        |w, out| blocks::<T, B, 1>(w, &[ys], out),
    )
}

/// Decode's loop over the weight rows of `w` (one output each): `four` takes four rows a pass
/// (their first byte and the row length) and returns their dots, `one` takes the last few.
#[inline(always)]
pub(super) unsafe fn in_fours(
    w: &[u8],
    out: &mut [f32],
    four: impl Fn(*const u8, usize) -> float32x4_t,
    mut one: impl FnMut(&[u8], &mut [f32]),
) {
    let row_bytes = w.len() / out.len();
    let whole = out.len() / 4 * 4;
    for r in (0..whole).step_by(4) {
        vst1q_f32(
            out.as_mut_ptr().add(r),
            four(w.as_ptr().add(r * row_bytes), row_bytes),
        );
    }
    for r in whole..out.len() {
        one(&w[r * row_bytes..(r + 1) * row_bytes], &mut out[r..r + 1]);
    }
}

/// Four weight rows against one activation row, each in a lane, as [`blocks`] does with
/// activation rows: each activation block is loaded once for the four weight rows.
#[inline(always)]
unsafe fn rows4<T: Tier, B: Block32>(
    w: *const u8,
    row_bytes: usize,
    ys: &[BlockQ8_0],
) -> float32x4_t {
    let mut dots = Running::new();
    let mut acc = vdupq_n_f32(0.0);
    for (b, y) in ys.iter().enumerate() {
        let p: [*const u8; 4] = std::array::from_fn(|r| w.add(r * row_bytes + b * B::BYTES));
        let (y0, y1) = (vld1q_s8(y.qs.as_ptr()), vld1q_s8(y.qs.as_ptr().add(16)));
        for (r, &row) in p.iter().enumerate() {
            let (q0, q1) = B::quants(row);
            dots.run[r] = T::dot(T::dot(dots.run[r], q0, y0), q1, y1);
        }
        // Each block starts with its f16 scale.
        let dw = f16x4_at(p.map(|p| p.cast::<u16>()));
        let dy = f16x4_to_f32(vld1_dup_u16(std::ptr::addr_of!(y.d).cast::<u16>()));
        acc = vfmaq_f32(acc, dots.block(), vmulq_f32(dw, dy));
    }
    acc
}

/// Four f16 (as bits) to f32 with `fcvtl`, which every aarch64 CPU has (FEAT_FP16 only adds
/// f16 arithmetic); `asm!` because Rust's f16 vector types are not stable.
#[inline(always)]
unsafe fn f16x4_to_f32(h: uint16x4_t) -> float32x4_t {
    let f: float32x4_t;
    core::arch::asm!(
        "fcvtl {f:v}.4s, {h:v}.4h",
        f = out(vreg) f,
        h = in(vreg) h,
        options(pure, nomem, nostack, preserves_flags)
    );
    f
}

/// The nibbles of 16 bytes: (low nibbles, high nibbles).
#[inline(always)]
unsafe fn nibbles(p: *const u8) -> (uint8x16_t, uint8x16_t) {
    let v = vld1q_u8(p);
    (vandq_u8(v, vdupq_n_u8(0xF)), vshrq_n_u8::<4>(v))
}

/// Bytes 0xFF where bit `i` of the u32 `qh` at `p` is set, else 0, for i in 0..16 and 16..32.
/// Reads 16 bytes at `p` (the block's quants follow `qh`).
#[inline(always)]
unsafe fn fifth_bits(p: *const u8) -> (uint8x16_t, uint8x16_t) {
    // Byte i takes byte i/8 of `qh` and tests its bit i%8; the lookup is also the broadcast.
    let v = vld1q_u8(p);
    let idx_lo = vcombine_u8(vdup_n_u8(0), vdup_n_u8(1));
    let idx_hi = vcombine_u8(vdup_n_u8(2), vdup_n_u8(3));
    let bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040_2010_0804_0201));
    (
        vtstq_u8(vqtbl1q_u8(v, idx_lo), bit),
        vtstq_u8(vqtbl1q_u8(v, idx_hi), bit),
    )
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
        let (b0, b1) = fifth_bits(p.add(2));
        // (nibble | bit·16) − 16 = nibble + (bit ? 0 : −16): two operations, not three.
        let minus16 = vdupq_n_u8(0xF0);
        (
            vreinterpretq_s8_u8(vaddq_u8(lo, vbicq_u8(minus16, b0))),
            vreinterpretq_s8_u8(vaddq_u8(hi, vbicq_u8(minus16, b1))),
        )
    }
    #[inline(always)]
    unsafe fn four_rows<T: Tier>(w: *const u8, row_bytes: usize, ys: &[BlockQ8_0]) -> float32x4_t {
        if T::SDOT {
            q5_0_rows4_sdot(w, row_bytes, ys)
        } else {
            rows4::<T, Self>(w, row_bytes, ys)
        }
    }
}

/// One Q5_0 row's block in [`q5_0_rows4_sdot`]: its scale into lane `$lane` of `dw`, `qh`
/// broadcast for the lookup, the quants decoded as `Q5_0::quants` does, two sdots into `$r`.
macro_rules! q5_0_row {
    ($p:literal, $lane:literal, $r:literal) => {
        concat!(
            "ld1 {{{dw:v}.h}}[",
            $lane,
            "], [{",
            $p,
            "}], #2\n",
            "ld1r {{{h:v}.4s}}, [{",
            $p,
            "}], #4\n",
            "ldr {q:q}, [{",
            $p,
            "}], #16\n",
            "and {lo:v}.16b, {q:v}.16b, {low:v}.16b\n",
            "ushr {hi:v}.16b, {q:v}.16b, #4\n",
            "tbl {t0:v}.16b, {{{h:v}.16b}}, {idx_lo:v}.16b\n",
            "tbl {t1:v}.16b, {{{h:v}.16b}}, {idx_hi:v}.16b\n",
            "cmtst {t0:v}.16b, {t0:v}.16b, {bit:v}.16b\n",
            "cmtst {t1:v}.16b, {t1:v}.16b, {bit:v}.16b\n",
            "bic {t0:v}.16b, {minus16:v}.16b, {t0:v}.16b\n",
            "bic {t1:v}.16b, {minus16:v}.16b, {t1:v}.16b\n",
            "add {lo:v}.16b, {lo:v}.16b, {t0:v}.16b\n",
            "add {hi:v}.16b, {hi:v}.16b, {t1:v}.16b\n",
            "sdot {",
            $r,
            ":v}.4s, {lo:v}.16b, {y0:v}.16b\n",
            "sdot {",
            $r,
            ":v}.4s, {hi:v}.16b, {y1:v}.16b\n",
        )
    };
}

/// [`rows4`] for Q5_0 with `sdot`, written out as [`q8_0_rows4_sdot`] is (Q5_0 holds most of
/// the 270M's layers): about 18.5 instructions a row and block instead of 19.5, all loads
/// post-indexed, the same operations in the same order as `rows4`.
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn q5_0_rows4_sdot(w: *const u8, row_bytes: usize, ys: &[BlockQ8_0]) -> float32x4_t {
    let mut acc = vdupq_n_f32(0.0);
    if ys.is_empty() {
        return acc;
    }
    let zero = vdupq_n_s32(0);
    core::arch::asm!(
        "2:",
        "ld1r {{{dy:v}.4h}}, [{y}], #2",
        "ldp {y0:q}, {y1:q}, [{y}], #32",
        q5_0_row!("p0", "0", "r0"),
        q5_0_row!("p1", "1", "r1"),
        q5_0_row!("p2", "2", "r2"),
        q5_0_row!("p3", "3", "r3"),
        "addp {lo:v}.4s, {r0:v}.4s, {r1:v}.4s",
        "addp {hi:v}.4s, {r2:v}.4s, {r3:v}.4s",
        "addp {lo:v}.4s, {lo:v}.4s, {hi:v}.4s",
        "sub {hi:v}.4s, {lo:v}.4s, {before:v}.4s",
        "mov {before:v}.16b, {lo:v}.16b",
        "scvtf {hi:v}.4s, {hi:v}.4s",
        "fcvtl {dw:v}.4s, {dw:v}.4h",
        "fcvtl {dy:v}.4s, {dy:v}.4h",
        "fmul {dw:v}.4s, {dw:v}.4s, {dy:v}.4s",
        "fmla {acc:v}.4s, {hi:v}.4s, {dw:v}.4s",
        "subs {n}, {n}, #1",
        "b.ne 2b",
        y = inout(reg) ys.as_ptr() => _,
        p0 = inout(reg) w => _,
        p1 = inout(reg) w.add(row_bytes) => _,
        p2 = inout(reg) w.add(2 * row_bytes) => _,
        p3 = inout(reg) w.add(3 * row_bytes) => _,
        n = inout(reg) ys.len() => _,
        acc = inout(vreg) acc,
        before = inout(vreg) zero => _,
        r0 = inout(vreg) zero => _,
        r1 = inout(vreg) zero => _,
        r2 = inout(vreg) zero => _,
        r3 = inout(vreg) zero => _,
        low = in(vreg) vdupq_n_u8(0x0F),
        minus16 = in(vreg) vdupq_n_u8(0xF0),
        idx_lo = in(vreg) vcombine_u8(vdup_n_u8(0), vdup_n_u8(1)),
        idx_hi = in(vreg) vcombine_u8(vdup_n_u8(2), vdup_n_u8(3)),
        bit = in(vreg) vdupq_n_u64(0x8040_2010_0804_0201),
        dy = out(vreg) _,
        dw = out(vreg) _,
        y0 = out(vreg) _,
        y1 = out(vreg) _,
        h = out(vreg) _,
        q = out(vreg) _,
        lo = out(vreg) _,
        hi = out(vreg) _,
        t0 = out(vreg) _,
        t1 = out(vreg) _,
        options(nostack, readonly)
    );
    acc
}

/// Q5_1: `d | m | qh (u32) | qs[16]`, weight = d·(nibble | bit·16) + m.
pub(super) struct Q5_1;
impl Block32 for Q5_1 {
    const BYTES: usize = Q5_1_BYTES;
    const AFFINE: bool = true;
    #[inline(always)]
    unsafe fn quants(p: *const u8) -> (int8x16_t, int8x16_t) {
        let (lo, hi) = nibbles(p.add(8));
        let (b0, b1) = fifth_bits(p.add(4));
        let sixteen = vdupq_n_u8(0x10);
        (
            vreinterpretq_s8_u8(vorrq_u8(lo, vandq_u8(b0, sixteen))),
            vreinterpretq_s8_u8(vorrq_u8(hi, vandq_u8(b1, sixteen))),
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
    #[inline(always)]
    unsafe fn four_rows<T: Tier>(w: *const u8, row_bytes: usize, ys: &[BlockQ8_0]) -> float32x4_t {
        if T::SDOT {
            q8_0_rows4_sdot(w, row_bytes, ys)
        } else {
            rows4::<T, Self>(w, row_bytes, ys)
        }
    }
}

/// [`rows4`] for Q8_0 with `sdot`, written out because it is decode's hot spot (the output
/// projection, a vocabulary of rows): the compiler's version spends 11 instructions a row and
/// block, mostly copying and offsetting addresses; post-indexed loads make it 7. The same
/// operations in the same order as `rows4`, so the same bits.
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn q8_0_rows4_sdot(w: *const u8, row_bytes: usize, ys: &[BlockQ8_0]) -> float32x4_t {
    let mut acc = vdupq_n_f32(0.0);
    if ys.is_empty() {
        return acc;
    }
    let (p0, p1, p2, p3) = (
        w,
        w.add(row_bytes),
        w.add(2 * row_bytes),
        w.add(3 * row_bytes),
    );
    let y = ys.as_ptr().cast::<u8>();
    let n = ys.len();
    let zero = vdupq_n_s32(0);
    // Per block: dy and the activation quants, then per row its scale into lane r of `dw`
    // and its two sdots; the running sums reduce to lanes, minus the totals before.
    core::arch::asm!(
        "2:",
        "ld1r {{{dy:v}.4h}}, [{y}], #2",
        "ldp {y0:q}, {y1:q}, [{y}], #32",
        "ld1 {{{dw:v}.h}}[0], [{p0}], #2",
        "ldp {a0:q}, {b0:q}, [{p0}], #32",
        "ld1 {{{dw:v}.h}}[1], [{p1}], #2",
        "ldp {a1:q}, {b1:q}, [{p1}], #32",
        "ld1 {{{dw:v}.h}}[2], [{p2}], #2",
        "ldp {a2:q}, {b2:q}, [{p2}], #32",
        "ld1 {{{dw:v}.h}}[3], [{p3}], #2",
        "ldp {a3:q}, {b3:q}, [{p3}], #32",
        "sdot {r0:v}.4s, {a0:v}.16b, {y0:v}.16b",
        "sdot {r1:v}.4s, {a1:v}.16b, {y0:v}.16b",
        "sdot {r2:v}.4s, {a2:v}.16b, {y0:v}.16b",
        "sdot {r3:v}.4s, {a3:v}.16b, {y0:v}.16b",
        "sdot {r0:v}.4s, {b0:v}.16b, {y1:v}.16b",
        "sdot {r1:v}.4s, {b1:v}.16b, {y1:v}.16b",
        "sdot {r2:v}.4s, {b2:v}.16b, {y1:v}.16b",
        "sdot {r3:v}.4s, {b3:v}.16b, {y1:v}.16b",
        "addp {a0:v}.4s, {r0:v}.4s, {r1:v}.4s",
        "addp {a1:v}.4s, {r2:v}.4s, {r3:v}.4s",
        "addp {a0:v}.4s, {a0:v}.4s, {a1:v}.4s",
        "sub {a1:v}.4s, {a0:v}.4s, {before:v}.4s",
        "mov {before:v}.16b, {a0:v}.16b",
        "scvtf {a1:v}.4s, {a1:v}.4s",
        "fcvtl {dw:v}.4s, {dw:v}.4h",
        "fcvtl {dy:v}.4s, {dy:v}.4h",
        "fmul {dw:v}.4s, {dw:v}.4s, {dy:v}.4s",
        "fmla {acc:v}.4s, {a1:v}.4s, {dw:v}.4s",
        "subs {n}, {n}, #1",
        "b.ne 2b",
        y = inout(reg) y => _,
        p0 = inout(reg) p0 => _,
        p1 = inout(reg) p1 => _,
        p2 = inout(reg) p2 => _,
        p3 = inout(reg) p3 => _,
        n = inout(reg) n => _,
        acc = inout(vreg) acc,
        before = inout(vreg) zero => _,
        r0 = inout(vreg) zero => _,
        r1 = inout(vreg) zero => _,
        r2 = inout(vreg) zero => _,
        r3 = inout(vreg) zero => _,
        dy = out(vreg) _,
        dw = out(vreg) _,
        y0 = out(vreg) _,
        y1 = out(vreg) _,
        a0 = out(vreg) _,
        a1 = out(vreg) _,
        a2 = out(vreg) _,
        a3 = out(vreg) _,
        b0 = out(vreg) _,
        b1 = out(vreg) _,
        b2 = out(vreg) _,
        b3 = out(vreg) _,
        options(nostack, readonly)
    );
    acc
}
