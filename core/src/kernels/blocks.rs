//! The ggml block layouts the kernels read and write: activation blocks, the bytes of each
//! weight block, little-endian reads from the mapped file, scale unpacking, and the size check
//! every row kernel's caller must pass.

use half::f16;

use crate::dtype::DType;

/// Elements per K-quant super-block and per [`BlockQ8K`].
pub const QK_K: usize = 256;
/// Elements per Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 block and per [`BlockQ8_0`].
pub const QK8_0: usize = 32;

/// 32 activations as `d * qs[i]`: ggml's `block_q8_0` (34 bytes).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct BlockQ8_0 {
    pub d: f16,
    pub qs: [i8; QK8_0],
}

/// 256 activations as `d * qs[i]`, with `bsums[g]` the sum of `qs[16g..16g+16]`: ggml's
/// `block_q8_K` (292 bytes).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct BlockQ8K {
    pub d: f32,
    pub qs: [i8; QK_K],
    pub bsums: [i16; QK_K / 16],
}

const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);
const _: () = assert!(std::mem::size_of::<BlockQ8K>() == 292);

impl Default for BlockQ8_0 {
    fn default() -> Self {
        Self {
            d: f16::ZERO,
            qs: [0; QK8_0],
        }
    }
}

impl Default for BlockQ8K {
    fn default() -> Self {
        Self {
            d: 0.0,
            qs: [0; QK_K],
            bsums: [0; QK_K / 16],
        }
    }
}

/// Bytes of one weight block, per type (from the one table in [`DType::block`]).
pub const Q4_0_BYTES: usize = DType::Q4_0.block().1;
pub const Q4_1_BYTES: usize = DType::Q4_1.block().1;
pub const Q5_0_BYTES: usize = DType::Q5_0.block().1;
pub const Q5_1_BYTES: usize = DType::Q5_1.block().1;
pub const Q8_0_BYTES: usize = DType::Q8_0.block().1;
pub const Q2K_BYTES: usize = DType::Q2K.block().1;
pub const Q3K_BYTES: usize = DType::Q3K.block().1;
pub const Q4K_BYTES: usize = DType::Q4K.block().1;
pub const Q5K_BYTES: usize = DType::Q5K.block().1;
pub const Q6K_BYTES: usize = DType::Q6K.block().1;

/// Panics unless there are 1..=4 activation rows of equal length, `out` holds one result per
/// activation row for each of one or more weight rows, and `w` is those weight rows, each one
/// block per activation block.
#[inline]
pub fn check<A>(w: &[u8], block_bytes: usize, xs: &[&[A]], out: &[f32]) {
    assert!(
        (1..=4).contains(&xs.len()),
        "1..=4 activation rows, got {}",
        xs.len()
    );
    assert!(
        !out.is_empty() && out.len().is_multiple_of(xs.len()),
        "one output per activation row for each weight row"
    );
    let rows = out.len() / xs.len();
    let nb = xs[0].len();
    for x in xs {
        assert_eq!(x.len(), nb, "activation rows of one length");
    }
    assert_eq!(
        w.len(),
        rows * nb * block_bytes,
        "weight rows match the activation blocks"
    );
}

/// Runs `one` on each weight row of `w` with its `xs.len()` outputs, in [`interleaved`] order.
/// Inlined into each entry point, so the loop runs inside the CPU features of the kernel rather
/// than calling it once a row (decode's output head is 262k short rows on Gemma 3).
#[inline(always)]
pub fn each_row<A>(w: &[u8], xs: &[&[A]], out: &mut [f32], mut one: impl FnMut(&[u8], &mut [f32])) {
    let rows = out.len() / xs.len();
    let row_bytes = w.len() / rows;
    for r in interleaved(rows) {
        let o = &mut out[r * xs.len()..(r + 1) * xs.len()];
        one(&w[r * row_bytes..(r + 1) * row_bytes], o);
    }
}

/// Runs of its rows a kernel reads side by side.
const STREAMS: usize = 4;

/// The rows `0..rows` in the order the kernels take them: [`STREAMS`] runs of the range
/// advanced together, each row whole, so the hardware prefetchers follow several streams at
/// once. With one run, one core of a Xeon (model 167) read 9.3 GB/s of Q6_K rows from memory;
/// with two 12.0, with four 12.5 (`kernels::bench::decode`; 2B-shaped Q4_K_M decode 5.9 ->
/// 6.8-7.0 tok/s).
pub fn interleaved(rows: usize) -> impl Iterator<Item = usize> {
    let per = rows.div_ceil(STREAMS);
    (0..per)
        .flat_map(move |i| (0..STREAMS).map(move |s| s * per + i))
        .filter(move |&r| r < rows)
}

/// Little-endian reads from the weight bytes, which are only 2-byte aligned.
#[inline(always)]
pub(crate) fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline(always)]
pub(crate) fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// f16 bits to f32 with integer operations and one exact multiply (no F16C or FEAT_FP16):
/// exponent and mantissa move into f32 position and 2^112 rebiases them, which also
/// normalizes subnormals; infinities and NaNs get an all-ones exponent.
#[inline(always)]
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let em = (h & 0x7FFF) as u32;
    let v = f32::from_bits(em << 13) * f32::from_bits(0x7780_0000);
    let special = if em >= 0x7C00 { 0x7F80_0000 } else { 0 };
    f32::from_bits(v.to_bits() | special | (((h & 0x8000) as u32) << 16))
}

#[inline(always)]
pub(crate) fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(le_u16(b, at)).to_f32()
}

/// The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K super-block from its 12 packed bytes:
/// pairs 0..4 are the low 6 bits of bytes 0..4 and 4..8; pairs 4..8 take their low 4 bits from
/// the nibbles of bytes 8..12 and their top 2 bits from the top bits of bytes 0..8.
#[inline(always)]
pub(crate) fn k4_scales_mins(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (mut sc, mut mn) = ([0u8; 8], [0u8; 8]);
    for j in 0..4 {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0xF) | ((s[j] >> 6) << 4);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
    }
    (sc, mn)
}

/// The sixteen 6-bit scales of a Q3_K super-block, minus 32: low 4 bits from the nibbles of
/// bytes 0..8 (low nibbles first), top 2 bits from bytes 8..12, two bits per group of four.
#[inline(always)]
pub(crate) fn k3_scales(s: &[u8]) -> [i8; 16] {
    let mut out = [0i8; 16];
    for (j, o) in out.iter_mut().enumerate() {
        let low = if j < 8 { s[j] & 0xF } else { s[j - 8] >> 4 };
        let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        *o = (low | (high << 4)) as i8 - 32;
    }
    out
}
