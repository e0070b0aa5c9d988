//! Integer dot products between one weight row in a ggml block layout and 1..=4 quantized
//! activation rows.
//!
//! The weight row is the file's own bytes (`&[u8]`, only 2-byte aligned), read in place. The
//! activations are quantized once per product with [`quantize_row_q8_0`] (for Q4_0, Q4_1, Q5_0,
//! Q5_1 and Q8_0 weights) or [`quantize_row_q8k`] (for the K-quants), bit-for-bit like ggml's
//! reference quantizers, so every integer sum matches llama.cpp's and only the order of the
//! float scale products differs.
//!
//! Q4_1 and Q5_1 take [`BlockQ8_0`] activations too (llama.cpp uses Q8_1, whose extra field is
//! `d·Σqs` rounded to f16): the kernels add the exact `m·d·Σqs` term from the Q8_0 block
//! instead, so one activation format serves every 32-element weight type.
//!
//! The kernel family is chosen once, when a model loads (`runtime::dispatch`, from
//! [`detected()`]): [`row_kernel`] hands it the function for a weight type and a family.
//! `dot_*_with` runs one family with its sizes checked, for tests and benchmarks.
//!
//! Activation quants must lie in `-127..=127`, as both quantizers produce (the x86 kernels use
//! `vpsignb`/`vpmaddubsw`, which would wrap on -128).

use std::sync::OnceLock;

use half::f16;

use crate::dtype::DType;

mod scalar;

#[cfg(target_arch = "x86_64")]
pub mod gemv;
#[cfg(target_arch = "x86_64")]
pub mod lanes;
#[cfg(target_arch = "x86_64")]
#[macro_use]
mod x86;
#[cfg(target_arch = "x86_64")]
mod x86_512;
#[cfg(target_arch = "x86_64")]
mod x86_k;

#[cfg(target_arch = "aarch64")]
#[macro_use]
mod neon;
#[cfg(target_arch = "aarch64")]
mod neon_k;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

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

/// Quantizes `x` (a multiple of 32 long) into `out` (`x.len() / 32` blocks) exactly as ggml's
/// `quantize_row_q8_0_ref`: `d = max|x| / 127` stored as f16, `qs = round(x / d)` (halves away
/// from zero) computed with the unrounded f32 `1/d`. Every family's quantizer gives these bits.
#[cfg(test)]
pub fn quantize_row_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), out.len() * QK8_0, "quantize_row_q8_0 sizes");
    quantize_q8_0(x, out)
}

/// Quantizes `x` (a multiple of 256 long) into `out` exactly as ggml's `quantize_row_q8_K_ref`:
/// the element of largest magnitude maps to -127, the others round half to even, and `bsums`
/// holds the sums of each 16 quants. Every family's quantizer gives these bits.
#[cfg(test)]
pub fn quantize_row_q8k(x: &[f32], out: &mut [BlockQ8K]) {
    assert_eq!(x.len(), out.len() * QK_K, "quantize_row_q8k sizes");
    quantize_q8k(x, out)
}

/// A family's activation quantizers (the same bits as [`quantize_row_q8_0`] and
/// [`quantize_row_q8k`], faster).
#[derive(Clone, Copy)]
pub struct Quantizers {
    q8_0: unsafe fn(&[f32], &mut [BlockQ8_0]),
    q8k: unsafe fn(&[f32], &mut [BlockQ8K]),
}

impl Quantizers {
    /// # Panics
    /// When `isa` cannot run here.
    pub fn new(isa: Isa) -> Quantizers {
        assert!(isa.is_available(), "{isa:?} is not available on this CPU");
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512Vnni => Quantizers {
                q8_0: quantize_q8_0_avx2,
                q8k: quantize_q8k_avx2,
            },
            _ => Quantizers {
                q8_0: quantize_q8_0_plain,
                q8k: quantize_q8k_plain,
            },
        }
    }

    pub fn q8_0(&self, x: &[f32], out: &mut [BlockQ8_0]) {
        assert_eq!(x.len(), out.len() * QK8_0, "quantize_row_q8_0 sizes");
        // SAFETY: `new` checked that the family runs here.
        unsafe { (self.q8_0)(x, out) }
    }

    pub fn q8k(&self, x: &[f32], out: &mut [BlockQ8K]) {
        assert_eq!(x.len(), out.len() * QK_K, "quantize_row_q8k sizes");
        // SAFETY: `new` checked that the family runs here.
        unsafe { (self.q8k)(x, out) }
    }
}

// The bodies are plain Rust. Compiled for AVX2 their rounding is one instruction and their
// loops vectorize; for the baseline x86-64 target rounding is a libm call per value.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_q8_0_avx2(x: &[f32], out: &mut [BlockQ8_0]) {
    quantize_q8_0(x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_q8k_avx2(x: &[f32], out: &mut [BlockQ8K]) {
    quantize_q8k(x, out)
}

unsafe fn quantize_q8_0_plain(x: &[f32], out: &mut [BlockQ8_0]) {
    quantize_q8_0(x, out)
}

unsafe fn quantize_q8k_plain(x: &[f32], out: &mut [BlockQ8K]) {
    quantize_q8k(x, out)
}

#[inline(always)]
fn quantize_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    for (xb, yb) in x.chunks_exact(QK8_0).zip(out.iter_mut()) {
        let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb.d = f16::from_f32(d);
        for (q, v) in yb.qs.iter_mut().zip(xb) {
            *q = (v * id).round() as i8;
        }
    }
}

#[inline(always)]
fn quantize_q8k(x: &[f32], out: &mut [BlockQ8K]) {
    for (xb, yb) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        // The value of largest magnitude, the first one on a tie of +a and -a as ggml picks.
        let (hi, lo) = xb
            .iter()
            .fold((0f32, 0f32), |(hi, lo), &v| (hi.max(v), lo.min(v)));
        let max = if hi > -lo {
            hi
        } else if -lo > hi {
            lo
        } else {
            *xb.iter().find(|v| v.abs() == hi).unwrap_or(&0.0)
        };
        if max == 0.0 {
            *yb = BlockQ8K::default();
            continue;
        }
        let iscale = -127.0 / max;
        for (q, v) in yb.qs.iter_mut().zip(xb) {
            *q = ((iscale * v).round_ties_even() as i32).min(127) as i8;
        }
        for (s, g) in yb.bsums.iter_mut().zip(yb.qs.chunks_exact(16)) {
            *s = g.iter().map(|&q| q as i16).sum();
        }
        yb.d = 1.0 / iscale;
    }
}

/// A family of kernels, each needing the CPU features its name says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust: the reference.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// AVX2 plus AVX-512 F/BW/VL and AVX-512 VNNI, used on 256-bit vectors
    /// (`vpdpbusd`/`vpdpwssd`, mask registers and 32 vector registers).
    Avx512Vnni,
    /// aarch64 baseline Advanced SIMD (`smull`/`sadalp`).
    Neon,
    /// aarch64 with the dot-product extension (`sdot`).
    NeonDotprod,
    /// aarch64 with dotprod and i8mm. The kernels are the `NeonDotprod` ones: `smmla` pairs two
    /// weight rows with two activation rows, which a one-weight-row kernel cannot use.
    NeonI8mm,
}

impl Isa {
    pub const ALL: [Isa; 6] = [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512Vnni,
        Isa::Neon,
        Isa::NeonDotprod,
        Isa::NeonI8mm,
    ];

    /// Whether this CPU can run the family (checked at run time).
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                Isa::Avx2.is_available()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDotprod => {
                Isa::Neon.is_available() && std::arch::is_aarch64_feature_detected!("dotprod")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::NeonI8mm => {
                Isa::NeonDotprod.is_available() && std::arch::is_aarch64_feature_detected!("i8mm")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every family this CPU can run, slowest first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
    }
}

/// The fastest family this CPU runs, detected once. `GEMKIT_ISA=scalar|avx2|avx512vnni|neon|
/// neondotprod|neoni8mm` lowers it (a family this CPU lacks is ignored).
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        let best = *Isa::available().last().expect("scalar is always available");
        let wanted = std::env::var("GEMKIT_ISA").ok().and_then(|name| {
            Isa::ALL
                .into_iter()
                .find(|i| format!("{i:?}").eq_ignore_ascii_case(name.trim()))
        });
        match wanted {
            Some(isa) if isa.is_available() => isa,
            _ => best,
        }
    })
}

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

/// Runs `one` on each weight row of `w` with its `xs.len()` outputs. Inlined into each entry
/// point, so the loop runs inside the CPU features of the kernel rather than calling it once
/// a row (decode's output head is 262k short rows on Gemma 3).
#[inline(always)]
pub(super) fn each_row<A>(
    w: &[u8],
    xs: &[&[A]],
    out: &mut [f32],
    mut one: impl FnMut(&[u8], &mut [f32]),
) {
    let rows = out.len() / xs.len();
    let row_bytes = w.len() / rows;
    for (wr, o) in w
        .chunks_exact(row_bytes)
        .zip(out.chunks_exact_mut(xs.len()))
    {
        one(wr, o);
    }
}

/// One weight row type's kernel: `out[r·n + j] = dot(row r of w, xs[j])` for the weight rows
/// of `w` and n = `xs.len()` activation rows (1..=4), in one family.
///
/// # Safety
/// The family runs on this CPU and the sizes pass [`check`].
pub type RowFn<A> = unsafe fn(&[u8], &[&[A]], &mut [f32]);

/// A weight type's row kernel, by the activations it takes.
#[derive(Clone, Copy)]
pub enum RowKernel {
    /// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 weights: Q8_0 activation blocks.
    Blocks(RowFn<BlockQ8_0>),
    /// K-quants: Q8_K activation super-blocks.
    Supers(RowFn<BlockQ8K>),
}

macro_rules! kernels {
    ($($(#[$doc:meta])* $mod:ident :: $dtype:ident, $with:ident, $act:ty, $variant:ident, $bytes:expr,
       x86: $avx2:path, $vnni:path; arm: $neon:path, $dotprod:path;)*) => {
        $(
            mod $mod {
                use super::*;

                /// The kernel of `isa` (which must run on this CPU).
                pub fn kernel(isa: Isa) -> RowFn<$act> {
                    match isa {
                        #[cfg(target_arch = "x86_64")]
                        Isa::Avx2 => $avx2,
                        #[cfg(target_arch = "x86_64")]
                        Isa::Avx512Vnni => $vnni,
                        #[cfg(target_arch = "aarch64")]
                        Isa::Neon => $neon,
                        #[cfg(target_arch = "aarch64")]
                        Isa::NeonDotprod | Isa::NeonI8mm => $dotprod,
                        _ => portable,
                    }
                }

                unsafe fn portable(w: &[u8], xs: &[&[$act]], out: &mut [f32]) {
                    each_row(w, xs, out, |w, out| scalar::$mod(w, xs, out))
                }

                $(#[$doc])*
                #[cfg(test)]
                pub fn $with(isa: Isa, w: &[u8], xs: &[&[$act]], out: &mut [f32]) {
                    assert!(isa.is_available(), "{isa:?} is not available on this CPU");
                    check(w, $bytes, xs, out);
                    // SAFETY: availability and sizes checked above.
                    unsafe { kernel(isa)(w, xs, out) }
                }
            }
            #[cfg(test)]
            pub use $mod::$with;
        )*

        /// The row kernel of `isa` for `dtype`; None for float types, which have none.
        pub fn row_kernel(dtype: DType, isa: Isa) -> Option<RowKernel> {
            match dtype {
                $(DType::$dtype => Some(RowKernel::$variant($mod::kernel(isa))),)*
                DType::F32 | DType::F16 | DType::BF16 => None,
            }
        }
    };
}

kernels! {
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q4_0 weight rows and n = `xs.len()` (18-byte blocks).
    dot_q4_0::Q4_0, dot_q4_0_with, BlockQ8_0, Blocks, Q4_0_BYTES,
        x86: x86::q4_0_avx2, x86_512::q4_0_vnni; arm: neon::q4_0_neon, neon::q4_0_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q4_1 weight rows and n = `xs.len()` (20-byte blocks), Q8_0 activations.
    dot_q4_1::Q4_1, dot_q4_1_with, BlockQ8_0, Blocks, Q4_1_BYTES,
        x86: x86::q4_1_avx2, x86::q4_1_vnni; arm: neon::q4_1_neon, neon::q4_1_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q5_0 weight rows and n = `xs.len()` (22-byte blocks).
    dot_q5_0::Q5_0, dot_q5_0_with, BlockQ8_0, Blocks, Q5_0_BYTES,
        x86: x86::q5_0_avx2, x86_512::q5_0_vnni; arm: neon::q5_0_neon, neon::q5_0_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q5_1 weight rows and n = `xs.len()` (24-byte blocks), Q8_0 activations.
    dot_q5_1::Q5_1, dot_q5_1_with, BlockQ8_0, Blocks, Q5_1_BYTES,
        x86: x86::q5_1_avx2, x86::q5_1_vnni; arm: neon::q5_1_neon, neon::q5_1_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q8_0 weight rows and n = `xs.len()` (34-byte blocks).
    dot_q8_0::Q8_0, dot_q8_0_with, BlockQ8_0, Blocks, Q8_0_BYTES,
        x86: x86::q8_0_avx2, x86_512::q8_0_vnni; arm: neon::q8_0_neon, neon::q8_0_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q2_K weight rows and n = `xs.len()` (84-byte super-blocks).
    dot_q2k::Q2K, dot_q2k_with, BlockQ8K, Supers, Q2K_BYTES,
        x86: x86_k::q2k_avx2, x86_k::q2k_vnni; arm: neon_k::q2k_neon, neon_k::q2k_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q3_K weight rows and n = `xs.len()` (110-byte super-blocks).
    dot_q3k::Q3K, dot_q3k_with, BlockQ8K, Supers, Q3K_BYTES,
        x86: x86_k::q3k_avx2, x86_k::q3k_vnni; arm: neon_k::q3k_neon, neon_k::q3k_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q4_K weight rows and n = `xs.len()` (144-byte super-blocks).
    dot_q4k::Q4K, dot_q4k_with, BlockQ8K, Supers, Q4K_BYTES,
        x86: x86_k::q4k_avx2, x86_k::q4k_vnni; arm: neon_k::q4k_neon, neon_k::q4k_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q5_K weight rows and n = `xs.len()` (176-byte super-blocks).
    dot_q5k::Q5K, dot_q5k_with, BlockQ8K, Supers, Q5K_BYTES,
        x86: x86_k::q5k_avx2, x86_k::q5k_vnni; arm: neon_k::q5k_neon, neon_k::q5k_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q6_K weight rows and n = `xs.len()` (210-byte super-blocks).
    dot_q6k::Q6K, dot_q6k_with, BlockQ8K, Supers, Q6K_BYTES,
        x86: x86_k::q6k_avx2, x86_k::q6k_vnni; arm: neon_k::q6k_neon, neon_k::q6k_dotprod;
}

/// Little-endian reads from the weight bytes, which are only 2-byte aligned.
#[inline(always)]
fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline(always)]
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// f16 bits to f32 with integer operations and one exact multiply (no F16C or FEAT_FP16):
/// exponent and mantissa move into f32 position and 2^112 rebiases them, which also
/// normalizes subnormals; infinities and NaNs get an all-ones exponent.
#[inline(always)]
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
fn f16_to_f32(h: u16) -> f32 {
    let em = (h & 0x7FFF) as u32;
    let v = f32::from_bits(em << 13) * f32::from_bits(0x7780_0000);
    let special = if em >= 0x7C00 { 0x7F80_0000 } else { 0 };
    f32::from_bits(v.to_bits() | special | (((h & 0x8000) as u32) << 16))
}

#[inline(always)]
fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(le_u16(b, at)).to_f32()
}

/// The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K super-block from its 12 packed bytes:
/// pairs 0..4 are the low 6 bits of bytes 0..4 and 4..8; pairs 4..8 take their low 4 bits from
/// the nibbles of bytes 8..12 and their top 2 bits from the top bits of bytes 0..8.
#[inline(always)]
fn k4_scales_mins(s: &[u8]) -> ([u8; 8], [u8; 8]) {
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
fn k3_scales(s: &[u8]) -> [i8; 16] {
    let mut out = [0i8; 16];
    for (j, o) in out.iter_mut().enumerate() {
        let low = if j < 8 { s[j] & 0xF } else { s[j - 8] >> 4 };
        let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        *o = (low | (high << 4)) as i8 - 32;
    }
    out
}
