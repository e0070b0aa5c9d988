//! The row kernels of every weight type in every family: one weight row against up to four
//! activation rows. [`row_kernel`] hands out a family's function once, at load.

use crate::dtype::DType;
use crate::kernels::blocks::*;
use crate::kernels::isa::Isa;
use crate::kernels::scalar;
#[cfg(target_arch = "aarch64")]
use crate::kernels::{neon, neon_k};
#[cfg(target_arch = "x86_64")]
use crate::kernels::{x86, x86_512, x86_k};

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

/// The last of one or two paths: a type's i8mm kernel where it has one, else its dotprod one.
#[cfg(target_arch = "aarch64")]
macro_rules! last {
    ($a:path) => {
        $a
    };
    ($a:path, $b:path) => {
        $b
    };
}

macro_rules! kernels {
    ($($(#[$doc:meta])* $mod:ident :: $dtype:ident, $with:ident, $act:ty, $variant:ident, $bytes:expr,
       x86: $avx2:path, $vnni:path; arm: $neon:path, $dotprod:path $(, $i8mm:path)?;)*) => {
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
                        Isa::NeonDotprod => $dotprod,
                        #[cfg(target_arch = "aarch64")]
                        Isa::NeonI8mm => last!($dotprod $(, $i8mm)?),
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
        x86: x86::q4_0_avx2, x86_512::q4_0_vnni; arm: neon::q4_0_neon, neon::q4_0_dotprod, neon::q4_0_i8mm;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q4_1 weight rows and n = `xs.len()` (20-byte blocks), Q8_0 activations.
    dot_q4_1::Q4_1, dot_q4_1_with, BlockQ8_0, Blocks, Q4_1_BYTES,
        x86: x86::q4_1_avx2, x86::q4_1_vnni; arm: neon::q4_1_neon, neon::q4_1_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q5_0 weight rows and n = `xs.len()` (22-byte blocks).
    dot_q5_0::Q5_0, dot_q5_0_with, BlockQ8_0, Blocks, Q5_0_BYTES,
        x86: x86::q5_0_avx2, x86_512::q5_0_vnni; arm: neon::q5_0_neon, neon::q5_0_dotprod, neon::q5_0_i8mm;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q5_1 weight rows and n = `xs.len()` (24-byte blocks), Q8_0 activations.
    dot_q5_1::Q5_1, dot_q5_1_with, BlockQ8_0, Blocks, Q5_1_BYTES,
        x86: x86::q5_1_avx2, x86::q5_1_vnni; arm: neon::q5_1_neon, neon::q5_1_dotprod;
    /// `out[r·n + j] = dot(row r of w, xs[j])` for Q8_0 weight rows and n = `xs.len()` (34-byte blocks).
    dot_q8_0::Q8_0, dot_q8_0_with, BlockQ8_0, Blocks, Q8_0_BYTES,
        x86: x86::q8_0_avx2, x86_512::q8_0_vnni; arm: neon::q8_0_neon, neon::q8_0_dotprod, neon::q8_0_i8mm;
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
