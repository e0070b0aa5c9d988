//! Portable kernels, written straight from the block formats: the reference the SIMD versions
//! are tested against. Each block's integer sum is exact; the float combination is
//! `Σ_blocks (d_w · d_x) · isum` (minus the min term for the affine types).

use super::blocks::*;

/// Applies a one-row dot to each activation row.
#[inline(always)]
fn each<A>(xs: &[&[A]], out: &mut [f32], one: impl Fn(&[A]) -> f32) {
    for (x, o) in xs.iter().zip(out.iter_mut()) {
        *o = one(x);
    }
}

/// Σ w[i]·y[i] for one block of 32 small signed weights.
#[inline(always)]
fn isum32(w: &[i32; 32], y: &[i8; 32]) -> i32 {
    w.iter().zip(y).map(|(&a, &b)| a * b as i32).sum()
}

/// Σ y[i] for one activation block.
#[inline(always)]
fn ysum(y: &[i8; 32]) -> i32 {
    y.iter().map(|&b| b as i32).sum()
}

/// The 32 4-bit quants of a Q4_0/Q4_1 block: elements 0..16 are the low nibbles of `qs`,
/// elements 16..32 the high nibbles.
#[inline(always)]
fn nibbles(qs: &[u8]) -> [i32; 32] {
    let mut q = [0i32; 32];
    for j in 0..16 {
        q[j] = (qs[j] & 0xF) as i32;
        q[j + 16] = (qs[j] >> 4) as i32;
    }
    q
}

/// The 32 5-bit quants of a Q5_0/Q5_1 block: nibbles as [`nibbles`], bit 4 of element `j`
/// is bit `j` of the little-endian `qh`.
#[inline(always)]
fn nibbles5(qh: u32, qs: &[u8]) -> [i32; 32] {
    let mut q = nibbles(qs);
    for (j, v) in q.iter_mut().enumerate() {
        *v |= (((qh >> j) & 1) << 4) as i32;
    }
    q
}

pub fn dot_q4_0(w: &[u8], xs: &[&[BlockQ8_0]], out: &mut [f32]) {
    each(xs, out, |x| {
        let mut sum = 0f32;
        for (b, y) in w.chunks_exact(Q4_0_BYTES).zip(x) {
            let q = nibbles(&b[2..18]).map(|v| v - 8);
            sum += f16_at(b, 0) * y.d.to_f32() * isum32(&q, &y.qs) as f32;
        }
        sum
    })
}

pub fn dot_q4_1(w: &[u8], xs: &[&[BlockQ8_0]], out: &mut [f32]) {
    each(xs, out, |x| {
        let mut sum = 0f32;
        for (b, y) in w.chunks_exact(Q4_1_BYTES).zip(x) {
            let q = nibbles(&b[4..20]);
            let dy = y.d.to_f32();
            sum += f16_at(b, 0) * dy * isum32(&q, &y.qs) as f32
                + f16_at(b, 2) * dy * ysum(&y.qs) as f32;
        }
        sum
    })
}

pub fn dot_q5_0(w: &[u8], xs: &[&[BlockQ8_0]], out: &mut [f32]) {
    each(xs, out, |x| {
        let mut sum = 0f32;
        for (b, y) in w.chunks_exact(Q5_0_BYTES).zip(x) {
            let q = nibbles5(le_u32(b, 2), &b[6..22]).map(|v| v - 16);
            sum += f16_at(b, 0) * y.d.to_f32() * isum32(&q, &y.qs) as f32;
        }
        sum
    })
}

pub fn dot_q5_1(w: &[u8], xs: &[&[BlockQ8_0]], out: &mut [f32]) {
    each(xs, out, |x| {
        let mut sum = 0f32;
        for (b, y) in w.chunks_exact(Q5_1_BYTES).zip(x) {
            let q = nibbles5(le_u32(b, 4), &b[8..24]);
            let dy = y.d.to_f32();
            sum += f16_at(b, 0) * dy * isum32(&q, &y.qs) as f32
                + f16_at(b, 2) * dy * ysum(&y.qs) as f32;
        }
        sum
    })
}

pub fn dot_q8_0(w: &[u8], xs: &[&[BlockQ8_0]], out: &mut [f32]) {
    each(xs, out, |x| {
        let mut sum = 0f32;
        for (b, y) in w.chunks_exact(Q8_0_BYTES).zip(x) {
            let q: [i32; 32] = std::array::from_fn(|i| b[2 + i] as i8 as i32);
            sum += f16_at(b, 0) * y.d.to_f32() * isum32(&q, &y.qs) as f32;
        }
        sum
    })
}

/// One super-block's contribution given its 256 quants `q`, a scale per 16 elements `sc`, the
/// coefficient `c` of each 16-group's activation sum, and the float factors:
/// `d·dy·Σ_g sc[g]·Σ q·y − dmin·dy·Σ_g c[g]·bsums[g]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn k_block(q: &[i32; QK_K], sc: &[i32; 16], c: &[i32; 16], d: f32, dmin: f32, y: &BlockQ8K) -> f32 {
    let mut isum = 0i32;
    for g in 0..16 {
        let part: i32 = (0..16)
            .map(|i| q[16 * g + i] * y.qs[16 * g + i] as i32)
            .sum();
        isum += sc[g] * part;
    }
    let csum: i32 = (0..16).map(|g| c[g] * y.bsums[g] as i32).sum();
    d * y.d * isum as f32 - dmin * y.d * csum as f32
}

/// Runs [`k_block`] over a row of super-blocks of `bytes` bytes, `decode` giving each one's
/// `(q, sc, c, d, dmin)`.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn k_row(
    w: &[u8],
    bytes: usize,
    xs: &[&[BlockQ8K]],
    out: &mut [f32],
    decode: impl Fn(&[u8]) -> ([i32; QK_K], [i32; 16], [i32; 16], f32, f32),
) {
    each(xs, out, |x| {
        w.chunks_exact(bytes)
            .zip(x)
            .map(|(b, y)| {
                let (q, sc, c, d, dmin) = decode(b);
                k_block(&q, &sc, &c, d, dmin, y)
            })
            .sum()
    })
}

/// Q2_K: `scales[0..16] | qs[16..80] | d | dmin`. Element `128h + 32s + l` is bits `2s..2s+2`
/// of `qs[32h + l]`; group `g = e / 16` has scale `scales[g] & 15` and min `scales[g] >> 4`.
pub fn dot_q2k(w: &[u8], xs: &[&[BlockQ8K]], out: &mut [f32]) {
    k_row(w, Q2K_BYTES, xs, out, |b| {
        let mut q = [0i32; QK_K];
        for (e, v) in q.iter_mut().enumerate() {
            let (h, s, l) = (e / 128, e % 128 / 32, e % 32);
            *v = ((b[16 + 32 * h + l] >> (2 * s)) & 3) as i32;
        }
        let sc = std::array::from_fn(|g| (b[g] & 15) as i32);
        let c = std::array::from_fn(|g| (b[g] >> 4) as i32);
        (q, sc, c, f16_at(b, 80), f16_at(b, 82))
    })
}

/// Q3_K: `hmask[0..32] | qs[32..96] | scales[96..108] | d`. Element `128h + 32s + l` is
/// bits `2s..2s+2` of `qs[32h + l]`, minus 4 unless bit `4h + s` of `hmask[l]` is set; group
/// `e / 16` has the 6-bit scale of [`k3_scales`].
pub fn dot_q3k(w: &[u8], xs: &[&[BlockQ8K]], out: &mut [f32]) {
    k_row(w, Q3K_BYTES, xs, out, |b| {
        let mut q = [0i32; QK_K];
        for (e, v) in q.iter_mut().enumerate() {
            let (h, s, l) = (e / 128, e % 128 / 32, e % 32);
            let low = ((b[32 + 32 * h + l] >> (2 * s)) & 3) as i32;
            let high = (b[l] >> (4 * h + s)) & 1;
            *v = low - if high == 1 { 0 } else { 4 };
        }
        let sc = k3_scales(&b[96..108]).map(|s| s as i32);
        (q, sc, [0; 16], f16_at(b, 108), 0.0)
    })
}

/// Q4_K: `d | dmin | scales[4..16] | qs[16..144]`. Element `64j + l` is the low nibble of
/// `qs[32j + l]` and element `64j + 32 + l` its high nibble; 32-element sub-block `k` has the
/// 6-bit scale and min `k` of [`k4_scales_mins`].
pub fn dot_q4k(w: &[u8], xs: &[&[BlockQ8K]], out: &mut [f32]) {
    k_row(w, Q4K_BYTES, xs, out, |b| {
        let mut q = [0i32; QK_K];
        for (e, v) in q.iter_mut().enumerate() {
            let (j, hi, l) = (e / 64, e % 64 / 32, e % 32);
            *v = ((b[16 + 32 * j + l] >> (4 * hi)) & 15) as i32;
        }
        let (sc, mn) = k4_scales_mins(&b[4..16]);
        let sc16 = std::array::from_fn(|g| sc[g / 2] as i32);
        let c16 = std::array::from_fn(|g| mn[g / 2] as i32);
        (q, sc16, c16, f16_at(b, 0), f16_at(b, 2))
    })
}

/// Q5_K: `d | dmin | scales[4..16] | qh[16..48] | qs[48..176]`: Q4_K's nibbles plus bit 4
/// of element `32k + l` from bit `k` of `qh[l]`.
pub fn dot_q5k(w: &[u8], xs: &[&[BlockQ8K]], out: &mut [f32]) {
    k_row(w, Q5K_BYTES, xs, out, |b| {
        let mut q = [0i32; QK_K];
        for (e, v) in q.iter_mut().enumerate() {
            let (j, hi, l) = (e / 64, e % 64 / 32, e % 32);
            let low = ((b[48 + 32 * j + l] >> (4 * hi)) & 15) as i32;
            let high = ((b[16 + l] >> (e / 32)) & 1) as i32;
            *v = low | (high << 4);
        }
        let (sc, mn) = k4_scales_mins(&b[4..16]);
        let sc16 = std::array::from_fn(|g| sc[g / 2] as i32);
        let c16 = std::array::from_fn(|g| mn[g / 2] as i32);
        (q, sc16, c16, f16_at(b, 0), f16_at(b, 2))
    })
}

/// Q6_K: `ql[0..128] | qh[128..192] | scales[192..208] (i8) | d`. Element `128h + 32t + l`
/// takes its low 4 bits from `ql[64h + 32(t & 1) + l]` (low nibble for t < 2, high for t ≥ 2)
/// and its top 2 bits from bits `2t..2t+2` of `qh[32h + l]`, minus 32; group `e / 16` has
/// scale `scales[e / 16]`.
pub fn dot_q6k(w: &[u8], xs: &[&[BlockQ8K]], out: &mut [f32]) {
    k_row(w, Q6K_BYTES, xs, out, |b| {
        let mut q = [0i32; QK_K];
        for (e, v) in q.iter_mut().enumerate() {
            let (h, t, l) = (e / 128, e % 128 / 32, e % 32);
            let low = (b[64 * h + 32 * (t & 1) + l] >> (4 * (t / 2))) & 15;
            let high = (b[128 + 32 * h + l] >> (2 * t)) & 3;
            *v = (low | (high << 4)) as i32 - 32;
        }
        let sc = std::array::from_fn(|g| b[192 + g] as i8 as i32);
        (q, sc, [0; 16], f16_at(b, 208), 0.0)
    })
}
