//! Activation quantizers: f32 rows to ggml's Q8_0 blocks and Q8_K super-blocks, bit for bit
//! like ggml's reference quantizers, so every integer sum matches llama.cpp's.

use half::f16;

use crate::kernels::blocks::{BlockQ8K, BlockQ8_0, QK8_0, QK_K};
use crate::kernels::isa::Isa;

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
