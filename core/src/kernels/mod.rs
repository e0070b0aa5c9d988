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
//! `float` holds the f32 kernels: the exact path's dot product and attention's loops over the
//! KV cache.
//!
//! Activation quants must lie in `-127..=127`, as both quantizers produce (the x86 kernels use
//! `vpsignb`/`vpmaddubsw`, which would wrap on -128).

mod blocks;
pub mod float;
pub mod float_rows;
mod float_tiles;
mod isa;
mod quantize;
mod rows;
mod scalar;

// First of the x86 files: its macros serve the others.
#[cfg(target_arch = "x86_64")]
#[macro_use]
mod x86;
#[cfg(target_arch = "x86_64")]
mod float_x86;
#[cfg(target_arch = "x86_64")]
pub mod gemv;
#[cfg(target_arch = "x86_64")]
pub mod lanes;
#[cfg(target_arch = "x86_64")]
mod x86_512;
#[cfg(target_arch = "x86_64")]
mod x86_k;

#[cfg(target_arch = "aarch64")]
mod float_neon;
#[cfg(target_arch = "aarch64")]
#[macro_use]
mod neon;
#[cfg(target_arch = "aarch64")]
mod neon_k;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

pub use blocks::{check, BlockQ8K, BlockQ8_0, QK8_0, QK_K};
pub use isa::{detected, Isa};
pub use quantize::Quantizers;
pub use rows::{row_kernel, RowFn, RowKernel};
