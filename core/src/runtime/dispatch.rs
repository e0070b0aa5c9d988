//! Which kernels run each matrix product, chosen once when a model loads: the CPU's kernel
//! family is detected (or lowered by `GEMKIT_ISA`), and every weight matrix gets the product
//! it will run for prefill (many tokens) and for decode (one token), given its type and shape.
//! Nothing on the compute path asks the CPU again.

use crate::dtype::DType;
#[cfg(target_arch = "x86_64")]
use crate::kernels::gemv;
#[cfg(target_arch = "x86_64")]
use crate::kernels::lanes::{self, LaneType};
#[cfg(target_arch = "x86_64")]
use crate::kernels::QK8_0;
use crate::kernels::{self, Isa, Quantizers, RowKernel};

/// f32 activations against dequantized weights (the reference path), or quantized activations
/// and integer dot products (the speed path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Quantized activations and integer dot products: the speed path.
    Fast,
    /// f32 activations against dequantized weights: the reference path.
    Exact,
}

/// How one product runs.
#[derive(Clone, Copy)]
pub(crate) enum Product {
    /// Each weight row dequantized to f32 against f32 activations.
    Exact,
    /// F32, F16 and BF16 weights: candle's dot products in the weight's own type.
    Float,
    /// One weight row against up to four activation rows at a time.
    Rows(RowKernel),
    /// Sixteen weight rows per vector, one per lane (prefill on AVX-512 VNNI).
    #[cfg(target_arch = "x86_64")]
    Lanes(LaneType),
    /// Decode's Q4_0 kernel on AVX-512 VNNI, with activations prepared in pairs of blocks.
    #[cfg(target_arch = "x86_64")]
    GemvQ4_0,
    /// Decode's Q4_K kernel on AVX-512 VNNI.
    #[cfg(target_arch = "x86_64")]
    GemvQ4K,
    /// Decode's Q6_K kernel on AVX-512 VNNI.
    #[cfg(target_arch = "x86_64")]
    GemvQ6K,
}

/// The products of one weight matrix.
#[derive(Clone, Copy)]
pub(crate) struct WeightKernels {
    /// For more than one token.
    pub prefill: Product,
    /// For one token.
    pub decode: Product,
}

/// The kernel family of a loaded model and what follows from it.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    isa: Isa,
    precision: Precision,
    pub quantizers: Quantizers,
}

impl Kernels {
    /// The fastest family this CPU runs (see [`kernels::detected`]).
    pub fn for_cpu(precision: Precision) -> Kernels {
        Kernels::new(kernels::detected(), precision)
    }

    /// # Panics
    /// When `isa` cannot run here.
    pub fn new(isa: Isa, precision: Precision) -> Kernels {
        Kernels {
            isa,
            precision,
            quantizers: Quantizers::new(isa),
        }
    }

    /// The kernel family (attention's f32 kernels take it).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The products of a `rows × cols` matrix of `dtype`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    pub fn weight(&self, dtype: DType, rows: usize, cols: usize) -> WeightKernels {
        if self.precision == Precision::Exact {
            return WeightKernels {
                prefill: Product::Exact,
                decode: Product::Exact,
            };
        }
        let rows_product = match kernels::row_kernel(dtype, self.isa) {
            Some(kernel) => Product::Rows(kernel),
            None => Product::Float,
        };
        #[cfg(target_arch = "x86_64")]
        {
            let lane_type = match dtype {
                DType::Q4_0 => Some(LaneType::Q4_0),
                DType::Q5_0 => Some(LaneType::Q5_0),
                DType::Q8_0 => Some(LaneType::Q8_0),
                DType::Q4K => Some(LaneType::Q4K),
                DType::Q6K => Some(LaneType::Q6K),
                _ => None,
            };
            let prefill = match lane_type {
                Some(ty) if rows.is_multiple_of(lanes::GROUP) && lanes::supported(self.isa) => {
                    Product::Lanes(ty)
                }
                _ => rows_product,
            };
            let decode = match dtype {
                // The kernel reads blocks in pairs.
                DType::Q4_0 if gemv::supported(self.isa) && (cols / QK8_0).is_multiple_of(2) => {
                    Product::GemvQ4_0
                }
                DType::Q4K if gemv::supported(self.isa) => Product::GemvQ4K,
                DType::Q6K if gemv::supported(self.isa) => Product::GemvQ6K,
                _ => rows_product,
            };
            WeightKernels { prefill, decode }
        }
        #[cfg(not(target_arch = "x86_64"))]
        WeightKernels {
            prefill: rows_product,
            decode: rows_product,
        }
    }
}
