//! Matrix products over quantized weights borrowed from the mapped file.
//!
//! A weight matrix is a [`QMatrix`]: rows of blocks in the file's own layout, never copied.
//! Each product runs what [`crate::runtime::dispatch`] chose for the matrix at load. On the
//! fast path the activations are quantized once per input to the weight type's partner format
//! (Q8_0 or Q8_K, as llama.cpp does) and each row is an integer dot product from
//! [`crate::kernels`]. The exact path dequantizes each weight row to f32 and keeps the
//! activations in f32: the reference that `gemkit logits` uses.

use candle_core::quantized::k_quants::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8_0, GgmlType,
};
use half::{bf16, f16};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::dtype::DType;
use crate::kernels::float::dot_f32;
#[cfg(target_arch = "x86_64")]
use crate::kernels::gemv::{self, GemvActivations};
#[cfg(target_arch = "x86_64")]
use crate::kernels::lanes::{self, ActBlock, ActSuper, LaneActivations, LaneInput, LaneType};
use crate::kernels::{self, Quantizers, RowFn, RowKernel};
use crate::runtime::budget::{Scratch, ScratchMeter};
use crate::runtime::dispatch::{Product, WeightKernels};
use crate::runtime::threads::{SharedMut, ThreadPool};

/// A row-major matrix of `rows` rows of `cols` elements in `dtype` blocks.
#[derive(Clone, Copy)]
pub struct QMatrix<'a> {
    pub dtype: DType,
    pub rows: usize,
    pub cols: usize,
    pub data: &'a [u8],
}

/// The input of one or more products: `n` rows of f32, and its quantized forms, each made on
/// first use (the rows split over the threads) and then shared by every product that needs
/// it, such as the query, key and value projections of one normalized input.
pub struct Input<'x> {
    x: &'x [f32],
    n: usize,
    quantizers: &'x Quantizers,
    meter: &'x ScratchMeter,
    /// Bytes of the forms made so far.
    made: AtomicU64,
    f16: OnceLock<Vec<f16>>,
    bf16: OnceLock<Vec<bf16>>,
    q8_0: OnceLock<Vec<kernels::BlockQ8_0>>,
    q8k: OnceLock<Vec<kernels::BlockQ8K>>,
    #[cfg(target_arch = "x86_64")]
    lanes: [OnceLock<LaneActivations<ActBlock>>; 3],
    #[cfg(target_arch = "x86_64")]
    k_lanes: OnceLock<LaneActivations<ActSuper>>,
    #[cfg(target_arch = "x86_64")]
    gemv: OnceLock<GemvActivations>,
}

impl<'x> Input<'x> {
    /// `n` rows of `x`, quantized on demand with `quantizers`; `meter` sees the forms' bytes.
    pub fn new(
        x: &'x [f32],
        n: usize,
        quantizers: &'x Quantizers,
        meter: &'x ScratchMeter,
    ) -> Input<'x> {
        assert!(n > 0 && x.len().is_multiple_of(n), "input of whole rows");
        Input {
            x,
            n,
            quantizers,
            meter,
            made: AtomicU64::new(0),
            f16: OnceLock::new(),
            bf16: OnceLock::new(),
            q8_0: OnceLock::new(),
            q8k: OnceLock::new(),
            #[cfg(target_arch = "x86_64")]
            lanes: Default::default(),
            #[cfg(target_arch = "x86_64")]
            k_lanes: OnceLock::new(),
            #[cfg(target_arch = "x86_64")]
            gemv: OnceLock::new(),
        }
    }

    fn cols(&self) -> usize {
        self.x.len() / self.n
    }

    /// Makes the form `form` with `make`, once; the meter sees the bytes of all forms so far.
    fn form<'a, T>(&self, slot: &'a OnceLock<T>, form: Form, make: impl FnOnce() -> T) -> &'a T {
        slot.get_or_init(|| {
            let bytes = form.bytes(self.cols(), self.n);
            let made = self.made.fetch_add(bytes, Ordering::Relaxed) + bytes;
            self.meter.record(Scratch::Input, made);
            make()
        })
    }

    fn f16(&self) -> &[f16] {
        self.form(&self.f16, Form::F16, || {
            self.x.iter().map(|&v| f16::from_f32(v)).collect()
        })
        .as_slice()
    }

    fn bf16(&self) -> &[bf16] {
        self.form(&self.bf16, Form::BF16, || {
            self.x.iter().map(|&v| bf16::from_f32(v)).collect()
        })
        .as_slice()
    }

    fn q8_0(&self, pool: &ThreadPool) -> &[kernels::BlockQ8_0] {
        self.form(&self.q8_0, Form::Q8_0, || {
            quantize_rows(
                self,
                kernels::QK8_0,
                |x, q| self.quantizers.q8_0(x, q),
                pool,
            )
        })
        .as_slice()
    }

    fn q8k(&self, pool: &ThreadPool) -> &[kernels::BlockQ8K] {
        self.form(&self.q8k, Form::Q8K, || {
            quantize_rows(self, kernels::QK_K, |x, q| self.quantizers.q8k(x, q), pool)
        })
        .as_slice()
    }

    #[cfg(target_arch = "x86_64")]
    fn lanes(&self, ty: LaneType, pool: &ThreadPool) -> &LaneActivations<ActBlock> {
        debug_assert!(!ty.is_k(), "K-quants take `k_lanes`");
        self.form(&self.lanes[ty as usize], Form::Lanes(ty), || {
            LaneActivations::new(ty, self.q8_0(pool), self.cols() / kernels::QK8_0)
        })
    }

    #[cfg(target_arch = "x86_64")]
    fn gemv(&self, pool: &ThreadPool) -> &GemvActivations {
        self.form(&self.gemv, Form::Gemv, || {
            GemvActivations::new(self.q8_0(pool))
        })
    }

    #[cfg(target_arch = "x86_64")]
    fn k_lanes(&self, pool: &ThreadPool) -> &LaneActivations<ActSuper> {
        self.form(&self.k_lanes, Form::KLanes, || {
            LaneActivations::new_k(self.q8k(pool), self.cols() / kernels::QK_K)
        })
    }
}

/// A form of an input that kernels read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    F16,
    BF16,
    Q8_0,
    Q8K,
    #[cfg(target_arch = "x86_64")]
    Lanes(LaneType),
    #[cfg(target_arch = "x86_64")]
    KLanes,
    #[cfg(target_arch = "x86_64")]
    Gemv,
}

impl Form {
    /// The bytes of this form of `n` rows of `cols` values, as the code above allocates it.
    fn bytes(self, cols: usize, n: usize) -> u64 {
        let per_row = match self {
            Form::F16 | Form::BF16 => 2 * cols,
            Form::Q8_0 => cols / kernels::QK8_0 * std::mem::size_of::<kernels::BlockQ8_0>(),
            Form::Q8K => cols / kernels::QK_K * std::mem::size_of::<kernels::BlockQ8K>(),
            #[cfg(target_arch = "x86_64")]
            Form::Lanes(_) => cols / kernels::QK8_0 * std::mem::size_of::<ActBlock>(),
            #[cfg(target_arch = "x86_64")]
            Form::KLanes => cols / kernels::QK_K * std::mem::size_of::<ActSuper>(),
            #[cfg(target_arch = "x86_64")]
            Form::Gemv => gemv::activation_bytes(cols),
        };
        (n * per_row) as u64
    }

    /// The forms `product` reads from an input of weights of `dtype`.
    fn read_by(product: Product, dtype: DType) -> &'static [Form] {
        match product {
            Product::Exact => &[],
            Product::Float => match dtype {
                DType::F16 => &[Form::F16],
                DType::BF16 => &[Form::BF16],
                _ => &[],
            },
            Product::Rows(RowKernel::Blocks(_)) => &[Form::Q8_0],
            Product::Rows(RowKernel::Supers(_)) => &[Form::Q8K],
            #[cfg(target_arch = "x86_64")]
            Product::Lanes(ty) => match ty {
                LaneType::Q4_0 => &[Form::Q8_0, Form::Lanes(LaneType::Q4_0)],
                LaneType::Q5_0 => &[Form::Q8_0, Form::Lanes(LaneType::Q5_0)],
                LaneType::Q8_0 => &[Form::Q8_0, Form::Lanes(LaneType::Q8_0)],
                LaneType::Q4K | LaneType::Q6K => &[Form::Q8K, Form::KLanes],
            },
            #[cfg(target_arch = "x86_64")]
            Product::GemvQ4_0 => &[Form::Q8_0, Form::Gemv],
            #[cfg(target_arch = "x86_64")]
            Product::GemvQ4K | Product::GemvQ6K => &[Form::Q8K],
        }
    }
}

/// The bytes an input of `n` rows of `cols` values takes in the forms that the `readers`
/// (each a product and its weights' type) make of it: what [`Input`] allocates, for the
/// memory estimate.
pub(crate) fn input_bytes(readers: &[(Product, DType)], cols: usize, n: usize) -> u64 {
    let mut forms: Vec<Form> = Vec::new();
    for &(product, dtype) in readers {
        for &form in Form::read_by(product, dtype) {
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    forms.iter().map(|f| f.bytes(cols, n)).sum()
}

/// The scratch each compute thread keeps for a product of `product` over `cols` columns:
/// what [`QMatrix::matmul`] records, for the memory estimate.
pub(crate) fn weight_rows_bytes(product: Product, cols: usize) -> u64 {
    match product {
        Product::Exact => (cols * std::mem::size_of::<f32>()) as u64,
        #[cfg(target_arch = "x86_64")]
        Product::Lanes(ty) => lanes::scratch_bytes(ty, cols),
        _ => 0,
    }
}

/// The rows of `input` quantized to blocks of `block_len` values, a task per row.
fn quantize_rows<A: Copy + Default + Send>(
    input: &Input,
    block_len: usize,
    quantize: impl Fn(&[f32], &mut [A]) + Sync,
    pool: &ThreadPool,
) -> Vec<A> {
    let cols = input.cols();
    let per_row = cols / block_len;
    let mut out = vec![A::default(); input.n * per_row];
    let dst = SharedMut::new(&mut out);
    pool.run(input.n, &|t| {
        // SAFETY: task t alone writes row t.
        let row = unsafe { dst.slice_mut(t * per_row, per_row) };
        quantize(&input.x[t * cols..(t + 1) * cols], row);
    });
    out
}

/// Tokens per tile of a prefill product: a task's weight rows stay in cache while the tile's
/// activations stream past.
const TOKEN_TILE: usize = 32;

/// A matrix's rows split into one range per task.
#[derive(Clone, Copy)]
struct RowChunks {
    rows: usize,
    per_task: usize,
}

impl RowChunks {
    fn count(self) -> usize {
        self.rows.div_ceil(self.per_task)
    }

    fn range(self, task: usize) -> std::ops::Range<usize> {
        task * self.per_task..((task + 1) * self.per_task).min(self.rows)
    }
}

/// Reinterprets validated file bytes as blocks of `T`.
fn blocks<T: GgmlType>(data: &[u8]) -> &[T] {
    let size = std::mem::size_of::<T>();
    assert_eq!(
        data.len() % size,
        0,
        "tensor bytes are a whole number of blocks"
    );
    assert_eq!(
        data.as_ptr() as usize % std::mem::align_of::<T>(),
        0,
        "tensor data is aligned"
    );
    // SAFETY: the block types are plain `repr(C)` data valid for any bit pattern, the length
    // and alignment were checked above, and the borrow keeps the bytes alive.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<T>(), data.len() / size) }
}

impl<'a> QMatrix<'a> {
    pub fn row_bytes(&self) -> usize {
        self.data.len() / self.rows
    }

    /// Writes row `r` as f32 into `out` (`cols` values).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let row = &self.data[r * self.row_bytes()..(r + 1) * self.row_bytes()];
        fn go<T: GgmlType>(row: &[u8], out: &mut [f32]) {
            T::to_float(blocks::<T>(row), out)
        }
        match self.dtype {
            DType::F32 => go::<f32>(row, out),
            DType::F16 => go::<f16>(row, out),
            DType::BF16 => go::<bf16>(row, out),
            DType::Q4_0 => go::<BlockQ4_0>(row, out),
            DType::Q4_1 => go::<BlockQ4_1>(row, out),
            DType::Q5_0 => go::<BlockQ5_0>(row, out),
            DType::Q5_1 => go::<BlockQ5_1>(row, out),
            DType::Q8_0 => go::<BlockQ8_0>(row, out),
            DType::Q2K => go::<BlockQ2K>(row, out),
            DType::Q3K => go::<BlockQ3K>(row, out),
            DType::Q4K => go::<BlockQ4K>(row, out),
            DType::Q5K => go::<BlockQ5K>(row, out),
            DType::Q6K => go::<BlockQ6K>(row, out),
        }
    }

    /// `y[t * rows + r] = Σ_c W[r, c] · x[t * cols + c]` for the `n` rows of the input, with
    /// the products chosen for this matrix at load.
    pub fn matmul(&self, input: &Input, y: &mut [f32], kernels: WeightKernels, pool: &ThreadPool) {
        let (x, n) = (input.x, input.n);
        assert_eq!(x.len(), n * self.cols, "matmul input size");
        assert_eq!(y.len(), n * self.rows, "matmul output size");
        let product = if n == 1 {
            kernels.decode
        } else {
            kernels.prefill
        };
        match product {
            Product::Exact => {
                let bytes = weight_rows_bytes(product, self.cols);
                input.meter.record(Scratch::WeightRows, bytes);
                self.matmul_exact(x, n, y, pool)
            }
            Product::Float => match self.dtype {
                DType::F32 => self.matmul_float::<f32>(x, y, pool),
                DType::F16 => self.matmul_float::<f16>(input.f16(), y, pool),
                DType::BF16 => self.matmul_float::<bf16>(input.bf16(), y, pool),
                other => unreachable!("{other} weights have row kernels"),
            },
            Product::Rows(RowKernel::Blocks(dot)) => {
                self.matmul_blocks(input.q8_0(pool), n, y, pool, dot)
            }
            Product::Rows(RowKernel::Supers(dot)) => {
                self.matmul_blocks(input.q8k(pool), n, y, pool, dot)
            }
            #[cfg(target_arch = "x86_64")]
            Product::Lanes(ty) => self.matmul_lanes(ty, input, y, pool),
            // SAFETY (both): dispatch chose these only where `gemv::supported` holds.
            #[cfg(target_arch = "x86_64")]
            Product::GemvQ4_0 => {
                let acts = input.gemv(pool);
                self.matmul_rows(y, pool, &|w, out| unsafe { gemv::q4_0(w, acts, out) })
            }
            #[cfg(target_arch = "x86_64")]
            Product::GemvQ4K => {
                let acts = input.q8k(pool);
                self.matmul_rows(y, pool, &|w, out| unsafe { gemv::q4k(w, acts, out) })
            }
            #[cfg(target_arch = "x86_64")]
            Product::GemvQ6K => {
                let acts = input.q8k(pool);
                self.matmul_rows(y, pool, &|w, out| unsafe { gemv::q6k(w, acts, out) })
            }
        }
    }

    /// Row ranges small enough to balance threads, large enough to amortize a task, each a
    /// multiple of `multiple` rows but the last.
    fn row_chunks(&self, pool: &ThreadPool, multiple: usize) -> RowChunks {
        RowChunks {
            rows: self.rows,
            per_task: self
                .rows
                .div_ceil(pool.n_threads() * 8)
                .max(4)
                .next_multiple_of(multiple),
        }
    }

    /// Float weights: candle's dot products, with the activations `xq` in the weight's own
    /// type.
    fn matmul_float<T: GgmlType>(&self, xq: &[T::VecDotType], y: &mut [f32], pool: &ThreadPool) {
        let w: &[T] = blocks(self.data);
        let chunks = self.row_chunks(pool, 1);
        let out = SharedMut::new(y);
        let rows = self.rows;
        pool.run(chunks.count(), &|task| {
            for r in chunks.range(task) {
                let wr = &w[r * self.cols..(r + 1) * self.cols];
                for (t, xr) in xq.chunks_exact(self.cols).enumerate() {
                    // SAFETY: each task owns rows r of its range, for every t.
                    unsafe { out.write(t * rows + r, T::vec_dot(self.cols, wr, xr)) };
                }
            }
        });
    }

    /// Quantized weights against activations quantized to the kernels' 8-bit format `A`: each
    /// weight row meets up to four activation rows per load. Tokens go in tiles so a task's
    /// weight rows stay in cache while the tile's activations stream past.
    fn matmul_blocks<A: Sync>(
        &self,
        xq: &[A],
        n: usize,
        y: &mut [f32],
        pool: &ThreadPool,
        dot: RowFn<A>,
    ) {
        let block_bytes = self.dtype.block().1;
        // SAFETY (the kernel calls): dispatch chose `dot` for a family this CPU runs, and
        // `check` holds the sizes to the kernel's contract.
        let dot = |w: &[u8], xs: &[&[A]], out: &mut [f32]| {
            kernels::check(w, block_bytes, xs, out);
            unsafe { dot(w, xs, out) }
        };
        if n == 1 {
            return self.matmul_rows(y, pool, &|w, out| dot(w, &[xq], out));
        }
        // One activation block per weight block: Q8_0 for 32-element types, Q8_K for K-quants.
        let act_len = self.cols / self.dtype.block_len();
        let row_bytes = self.row_bytes();
        let chunks = self.row_chunks(pool, 1);
        let out = SharedMut::new(y);
        let rows = self.rows;
        pool.run(chunks.count(), &|task| {
            let row_range = chunks.range(task);
            for (tile_index, tile) in xq.chunks(TOKEN_TILE * act_len).enumerate() {
                // Two weight rows a call, which the i8mm kernels multiply together.
                for r in row_range.clone().step_by(2) {
                    let pair = (row_range.end - r).min(2);
                    let wr = &self.data[r * row_bytes..(r + pair) * row_bytes];
                    for (group_index, group) in tile.chunks(4 * act_len).enumerate() {
                        let mut xs: [&[A]; 4] = [&[]; 4];
                        let count = group.len() / act_len;
                        for (slot, xr) in xs.iter_mut().zip(group.chunks_exact(act_len)) {
                            *slot = xr;
                        }
                        let mut dots = [0f32; 8];
                        dot(wr, &xs[..count], &mut dots[..pair * count]);
                        let t0 = tile_index * TOKEN_TILE + group_index * 4;
                        for (k, d) in dots[..pair * count].iter().enumerate() {
                            let (i, j) = (k / count, k % count);
                            // SAFETY: each task owns rows r of its range, for every token.
                            unsafe { out.write((t0 + j) * rows + r + i, *d) };
                        }
                    }
                }
            }
        });
    }

    /// Q4_0/Q5_0/Q8_0/Q4_K/Q6_K weights on AVX-512 VNNI: sixteen weight rows at a time, one
    /// per lane.
    #[cfg(target_arch = "x86_64")]
    fn matmul_lanes(&self, ty: LaneType, input: &Input, y: &mut [f32], pool: &ThreadPool) {
        if ty.is_k() {
            self.lane_groups(ty, input.k_lanes(pool), y, input.meter, pool)
        } else {
            self.lane_groups(ty, input.lanes(ty, pool), y, input.meter, pool)
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn lane_groups<A: LaneInput + Sync>(
        &self,
        ty: LaneType,
        acts: &LaneActivations<A>,
        y: &mut [f32],
        meter: &ScratchMeter,
        pool: &ThreadPool,
    ) {
        let row_bytes = self.row_bytes();
        let chunks = self.row_chunks(pool, lanes::GROUP);
        let out = SharedMut::new(y);
        pool.run(chunks.count(), &|task| {
            for r0 in chunks.range(task).step_by(lanes::GROUP) {
                // SAFETY: dispatch chose the lanes where the CPU runs them and groups are
                // whole; each task owns its rows, for every token.
                unsafe {
                    lanes::group_product(ty, self.data, row_bytes, r0, acts, out.at(r0), self.rows)
                };
            }
            meter.record(Scratch::WeightRows, lanes::thread_scratch_bytes());
        });
    }

    /// Decode's products: each task's weight rows go to `kernel` in one call, with their outputs.
    fn matmul_rows(
        &self,
        y: &mut [f32],
        pool: &ThreadPool,
        kernel: &(dyn Fn(&[u8], &mut [f32]) + Sync),
    ) {
        let row_bytes = self.row_bytes();
        let chunks = self.row_chunks(pool, 1);
        let out = SharedMut::new(y);
        pool.run(chunks.count(), &|task| {
            let rows = chunks.range(task);
            // SAFETY: each task owns its rows.
            kernel(
                &self.data[rows.start * row_bytes..rows.end * row_bytes],
                unsafe { out.slice_mut(rows.start, rows.len()) },
            );
        });
    }

    fn matmul_exact(&self, x: &[f32], n: usize, y: &mut [f32], pool: &ThreadPool) {
        let chunks = self.row_chunks(pool, 1);
        let out = SharedMut::new(y);
        let rows = self.rows;
        pool.run(chunks.count(), &|task| {
            let mut wr = vec![0f32; self.cols];
            for r in chunks.range(task) {
                self.dequantize_row(r, &mut wr);
                for t in 0..n {
                    let dot = dot_f32(&wr, &x[t * self.cols..(t + 1) * self.cols]);
                    // SAFETY: each task owns rows r of its range, for every t.
                    unsafe { out.write(t * rows + r, dot) };
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Isa;
    use crate::runtime::dispatch::{Kernels, Precision};
    use candle_core::quantized::k_quants::{
        BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1,
        BlockQ6K, BlockQ8_0,
    };

    fn quantize<T: GgmlType>(values: &[f32]) -> Vec<u64> {
        let mut blocks = vec![T::zeros(); values.len() / T::BLCK_SIZE];
        T::from_float(values, &mut blocks);
        let bytes = std::mem::size_of_val(blocks.as_slice());
        // Bytes owned by a Vec<u64> are aligned for every block type.
        let mut aligned = vec![0u64; bytes.div_ceil(8)];
        // SAFETY: plain-data blocks copied into u64 storage of at least their size.
        unsafe {
            std::ptr::copy_nonoverlapping(
                blocks.as_ptr().cast::<u8>(),
                aligned.as_mut_ptr().cast::<u8>(),
                bytes,
            )
        };
        aligned
    }

    /// Which product ran, for the failure message and to count what was covered.
    fn name(p: Product) -> &'static str {
        match p {
            Product::Exact => "exact",
            Product::Float => "float",
            Product::Rows(_) => "rows",
            #[cfg(target_arch = "x86_64")]
            Product::Lanes(_) => "lanes",
            #[cfg(target_arch = "x86_64")]
            Product::GemvQ4_0 | Product::GemvQ4K | Product::GemvQ6K => "gemv",
        }
    }

    /// Every kernel family this CPU runs, both precisions, one token (decode's products) and
    /// eleven (prefill's: a full token tile of the lane kernels and part of another), against
    /// an f64 dot of the dequantized weights: Exact must agree to float rounding, Fast to the
    /// error of 8-bit activations. Returns the products it ran.
    fn check<T: GgmlType>(dtype: DType) -> Vec<&'static str> {
        // 32 rows: two groups of the lane kernels; 512 columns: an even number of Q4_0 blocks.
        let (rows, cols) = (32, 512);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let storage = quantize::<T>(&w);
        // SAFETY: u64 storage viewed as bytes.
        let all =
            unsafe { std::slice::from_raw_parts(storage.as_ptr().cast::<u8>(), storage.len() * 8) };
        let data = &all[..rows * cols / T::BLCK_SIZE * std::mem::size_of::<T>()];
        let m = QMatrix {
            dtype,
            rows,
            cols,
            data,
        };
        let mut wq = vec![0f32; rows * cols];
        for (r, row) in wq.chunks_exact_mut(cols).enumerate() {
            m.dequantize_row(r, row);
        }
        let pool = ThreadPool::new(2).unwrap();
        let meter = crate::runtime::budget::ScratchMeter::default();
        let mut ran = Vec::new();
        for isa in Isa::available() {
            for (precision, tolerance) in [(Precision::Exact, 1e-5), (Precision::Fast, 1e-2)] {
                let kernels = Kernels::new(isa, precision);
                let chosen = kernels.weight(dtype, rows, cols);
                for n in [1, 11] {
                    let x: Vec<f32> = (0..n * cols)
                        .map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0)
                        .collect();
                    let product = name(if n == 1 {
                        chosen.decode
                    } else {
                        chosen.prefill
                    });
                    ran.push(product);
                    let mut y = vec![f32::NAN; n * rows];
                    m.matmul(
                        &Input::new(&x, n, &kernels.quantizers, &meter),
                        &mut y,
                        chosen,
                        &pool,
                    );
                    for t in 0..n {
                        for r in 0..rows {
                            let (wr, xr) =
                                (&wq[r * cols..(r + 1) * cols], &x[t * cols..(t + 1) * cols]);
                            let want: f64 =
                                wr.iter().zip(xr).map(|(a, b)| *a as f64 * *b as f64).sum();
                            let scale: f64 = wr
                                .iter()
                                .zip(xr)
                                .map(|(a, b)| (*a as f64 * *b as f64).abs())
                                .sum();
                            let got = y[t * rows + r] as f64;
                            assert!(
                                (got - want).abs() <= tolerance * scale,
                                "{dtype} {isa:?} {product} n={n} t={t} r={r}: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
        ran
    }

    #[test]
    fn every_product_of_every_type_matches_f64() {
        let mut ran = Vec::new();
        ran.extend(check::<f32>(DType::F32));
        ran.extend(check::<f16>(DType::F16));
        ran.extend(check::<bf16>(DType::BF16));
        ran.extend(check::<BlockQ8_0>(DType::Q8_0));
        ran.extend(check::<BlockQ4_0>(DType::Q4_0));
        ran.extend(check::<BlockQ4_1>(DType::Q4_1));
        ran.extend(check::<BlockQ5_0>(DType::Q5_0));
        ran.extend(check::<BlockQ5_1>(DType::Q5_1));
        ran.extend(check::<BlockQ2K>(DType::Q2K));
        ran.extend(check::<BlockQ3K>(DType::Q3K));
        ran.extend(check::<BlockQ4K>(DType::Q4K));
        ran.extend(check::<BlockQ5K>(DType::Q5K));
        ran.extend(check::<BlockQ6K>(DType::Q6K));
        for product in ["exact", "float", "rows"] {
            assert!(ran.contains(&product), "{product} never ran");
        }
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::lanes::supported(crate::kernels::detected()) {
            // Q4_0, Q5_0, Q8_0, Q4_K, Q6_K prefill; Q4_0, Q4_K and Q6_K decode.
            assert_eq!(ran.iter().filter(|&&p| p == "lanes").count(), 5);
            assert_eq!(ran.iter().filter(|&&p| p == "gemv").count(), 3);
        } else {
            crate::test_support::skipped("the lane and decode kernels need AVX-512 VNNI");
        }
    }
}
