//! Matrix products over quantized weights borrowed from the mapped file.
//!
//! A weight matrix is a [`QMatrix`]: rows of blocks in the file's own layout, never copied.
//! In [`Precision::Fast`] the activations are quantized once per product to the weight type's
//! partner format (Q8_0 or Q8_K, as llama.cpp does) and each row is an integer dot product from
//! [`crate::kernels`], chosen for the CPU at run time.
//! [`Precision::Exact`] dequantizes each weight row to f32 and keeps the activations in f32:
//! the reference path that `gemkit logits` uses.

use candle_core::quantized::k_quants::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8_0, GgmlType,
};
use half::{bf16, f16};

use crate::dtype::DType;
use crate::kernels;
#[cfg(target_arch = "x86_64")]
use crate::kernels::gemv::{self, GemvActivations};
#[cfg(target_arch = "x86_64")]
use crate::kernels::lanes::{self, ActBlock, ActSuper, LaneActivations, LaneInput, LaneType};
use std::sync::OnceLock;

use crate::runtime::threads::{SharedMut, ThreadPool};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Quantized activations and integer dot products: the speed path.
    Fast,
    /// f32 activations against dequantized weights: the reference path.
    Exact,
}

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
    pub fn new(x: &'x [f32], n: usize) -> Input<'x> {
        assert!(n > 0 && x.len().is_multiple_of(n), "input of whole rows");
        Input {
            x,
            n,
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

    fn q8_0(&self, pool: &ThreadPool) -> &[kernels::BlockQ8_0] {
        self.q8_0
            .get_or_init(|| quantize_rows(self, kernels::QK8_0, kernels::quantize_row_q8_0, pool))
    }

    fn q8k(&self, pool: &ThreadPool) -> &[kernels::BlockQ8K] {
        self.q8k
            .get_or_init(|| quantize_rows(self, kernels::QK_K, kernels::quantize_row_q8k, pool))
    }

    #[cfg(target_arch = "x86_64")]
    fn lanes(&self, ty: LaneType, pool: &ThreadPool) -> &LaneActivations<ActBlock> {
        debug_assert!(!ty.is_k(), "K-quants take `k_lanes`");
        self.lanes[ty as usize]
            .get_or_init(|| LaneActivations::new(ty, self.q8_0(pool), self.cols() / kernels::QK8_0))
    }

    #[cfg(target_arch = "x86_64")]
    fn gemv(&self, pool: &ThreadPool) -> &GemvActivations {
        self.gemv
            .get_or_init(|| GemvActivations::new(self.q8_0(pool)))
    }

    #[cfg(target_arch = "x86_64")]
    fn k_lanes(&self, pool: &ThreadPool) -> &LaneActivations<ActSuper> {
        self.k_lanes
            .get_or_init(|| LaneActivations::new_k(self.q8k(pool), self.cols() / kernels::QK_K))
    }
}

/// The rows of `input` quantized to blocks of `block_len` values, a task per row.
fn quantize_rows<A: Copy + Default + Send>(
    input: &Input,
    block_len: usize,
    quantize: fn(&[f32], &mut [A]),
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

    /// `y[t * rows + r] = Σ_c W[r, c] · x[t * cols + c]` for the `n` rows of the input.
    pub fn matmul(&self, input: &Input, y: &mut [f32], precision: Precision, pool: &ThreadPool) {
        let (x, n) = (input.x, input.n);
        assert_eq!(x.len(), n * self.cols, "matmul input size");
        assert_eq!(y.len(), n * self.rows, "matmul output size");
        if precision == Precision::Exact {
            return self.matmul_exact(x, n, y, pool);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(ty) = self.lane_type().filter(|_| n > 1) {
            return self.matmul_lanes(ty, input, y, pool);
        }
        // SAFETY (the kernel calls below): `gemv::available` checked the CPU.
        #[cfg(target_arch = "x86_64")]
        if n == 1 && gemv::available() {
            if self.dtype == DType::Q4_0 && (self.cols / kernels::QK8_0).is_multiple_of(2) {
                let acts = input.gemv(pool);
                return self.matmul_rows(y, pool, &|w, out| unsafe { gemv::q4_0(w, acts, out) });
            }
            if self.dtype == DType::Q4K {
                let acts = input.q8k(pool);
                return self.matmul_rows(y, pool, &|w, out| unsafe { gemv::q4k(w, acts, out) });
            }
        }
        match self.dtype {
            DType::F32 => self.matmul_float::<f32>(x, n, y, pool),
            DType::F16 => self.matmul_float::<f16>(x, n, y, pool),
            DType::BF16 => self.matmul_float::<bf16>(x, n, y, pool),
            DType::Q4_0 => self.matmul_blocks(input.q8_0(pool), n, y, pool, kernels::dot_q4_0),
            DType::Q4_1 => self.matmul_blocks(input.q8_0(pool), n, y, pool, kernels::dot_q4_1),
            DType::Q5_0 => self.matmul_blocks(input.q8_0(pool), n, y, pool, kernels::dot_q5_0),
            DType::Q5_1 => self.matmul_blocks(input.q8_0(pool), n, y, pool, kernels::dot_q5_1),
            DType::Q8_0 => self.matmul_blocks(input.q8_0(pool), n, y, pool, kernels::dot_q8_0),
            DType::Q2K => self.matmul_blocks(input.q8k(pool), n, y, pool, kernels::dot_q2k),
            DType::Q3K => self.matmul_blocks(input.q8k(pool), n, y, pool, kernels::dot_q3k),
            DType::Q4K => self.matmul_blocks(input.q8k(pool), n, y, pool, kernels::dot_q4k),
            DType::Q5K => self.matmul_blocks(input.q8k(pool), n, y, pool, kernels::dot_q5k),
            DType::Q6K => self.matmul_blocks(input.q8k(pool), n, y, pool, kernels::dot_q6k),
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

    /// Float weights: candle's dot products, activations in the weight's own type.
    fn matmul_float<T: GgmlType>(&self, x: &[f32], n: usize, y: &mut [f32], pool: &ThreadPool) {
        let w: &[T] = blocks(self.data);
        let mut xq = vec![T::VecDotType::zeros(); n * self.cols];
        for (xr, qr) in x
            .chunks_exact(self.cols)
            .zip(xq.chunks_exact_mut(self.cols))
        {
            T::VecDotType::from_float(xr, qr);
        }
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
        dot: fn(&[u8], &[&[A]], &mut [f32]),
    ) {
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
                for r in row_range.clone() {
                    let wr = &self.data[r * row_bytes..(r + 1) * row_bytes];
                    for (group_index, group) in tile.chunks(4 * act_len).enumerate() {
                        let mut xs: [&[A]; 4] = [&[]; 4];
                        let count = group.len() / act_len;
                        for (slot, xr) in xs.iter_mut().zip(group.chunks_exact(act_len)) {
                            *slot = xr;
                        }
                        let mut dots = [0f32; 4];
                        dot(wr, &xs[..count], &mut dots[..count]);
                        let t0 = tile_index * TOKEN_TILE + group_index * 4;
                        for (j, d) in dots[..count].iter().enumerate() {
                            // SAFETY: each task owns rows r of its range, for every token.
                            unsafe { out.write((t0 + j) * rows + r, *d) };
                        }
                    }
                }
            }
        });
    }

    /// The lane kernels' type for this matrix, when the CPU and the shape allow them.
    #[cfg(target_arch = "x86_64")]
    fn lane_type(&self) -> Option<LaneType> {
        let ty = match self.dtype {
            DType::Q4_0 => LaneType::Q4_0,
            DType::Q5_0 => LaneType::Q5_0,
            DType::Q8_0 => LaneType::Q8_0,
            DType::Q4K => LaneType::Q4K,
            DType::Q6K => LaneType::Q6K,
            _ => return None,
        };
        (self.rows.is_multiple_of(lanes::GROUP) && lanes::available()).then_some(ty)
    }

    /// Q4_0/Q5_0/Q8_0/Q4_K/Q6_K weights on AVX-512 VNNI: sixteen weight rows at a time, one
    /// per lane.
    #[cfg(target_arch = "x86_64")]
    fn matmul_lanes(&self, ty: LaneType, input: &Input, y: &mut [f32], pool: &ThreadPool) {
        if ty.is_k() {
            self.lane_groups(ty, input.k_lanes(pool), y, pool)
        } else {
            self.lane_groups(ty, input.lanes(ty, pool), y, pool)
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn lane_groups<A: LaneInput + Sync>(
        &self,
        ty: LaneType,
        acts: &LaneActivations<A>,
        y: &mut [f32],
        pool: &ThreadPool,
    ) {
        let row_bytes = self.row_bytes();
        let chunks = self.row_chunks(pool, lanes::GROUP);
        let out = SharedMut::new(y);
        pool.run(chunks.count(), &|task| {
            for r0 in chunks.range(task).step_by(lanes::GROUP) {
                // SAFETY: `lane_type` checked the CPU and that groups are whole; each task owns
                // its rows, for every token.
                unsafe {
                    lanes::group_product(ty, self.data, row_bytes, r0, acts, out.at(r0), self.rows)
                };
            }
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

/// An f32 dot product with eight partial sums, which the compiler vectorizes (inlined, so a
/// caller compiled for wider vectors gets them).
#[inline(always)]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() / 8 * 8);
    let (b8, b_rest) = b.split_at(a8.len());
    for (ca, cb) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantize<T: GgmlType>(values: &[f32]) -> Vec<u8> {
        let mut blocks = vec![T::zeros(); values.len() / T::BLCK_SIZE];
        T::from_float(values, &mut blocks);
        let bytes = std::mem::size_of_val(blocks.as_slice());
        // SAFETY: plain-data blocks viewed as bytes.
        unsafe { std::slice::from_raw_parts(blocks.as_ptr().cast::<u8>(), bytes) }.to_vec()
    }

    /// Both precisions against an f64 dot of the dequantized weights: Exact must agree to
    /// float rounding, Fast to the error of 8-bit activations.
    fn check<T: GgmlType>(dtype: DType) {
        let (rows, cols, n) = (5, 512, 3);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let x: Vec<f32> = (0..n * cols)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0)
            .collect();
        let bytes = quantize::<T>(&w);
        // Bytes owned by a Vec<u64> are aligned for every block type.
        let mut aligned = vec![0u64; bytes.len().div_ceil(8)];
        let data = &mut bytemuck_bytes(&mut aligned)[..bytes.len()];
        data.copy_from_slice(&bytes);
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
        for (precision, tolerance) in [(Precision::Exact, 1e-5), (Precision::Fast, 1e-2)] {
            let mut y = vec![0f32; n * rows];
            m.matmul(&Input::new(&x, n), &mut y, precision, &pool);
            for t in 0..n {
                for r in 0..rows {
                    let (wr, xr) = (&wq[r * cols..(r + 1) * cols], &x[t * cols..(t + 1) * cols]);
                    let want: f64 = wr.iter().zip(xr).map(|(a, b)| *a as f64 * *b as f64).sum();
                    let scale: f64 = wr
                        .iter()
                        .zip(xr)
                        .map(|(a, b)| (*a as f64 * *b as f64).abs())
                        .sum();
                    let got = y[t * rows + r] as f64;
                    assert!(
                        (got - want).abs() <= tolerance * scale,
                        "{dtype} {precision:?} t={t} r={r}: {got} vs {want}"
                    );
                }
            }
        }
    }

    fn bytemuck_bytes(v: &mut [u64]) -> &mut [u8] {
        // SAFETY: u64 storage viewed as bytes.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), v.len() * 8) }
    }

    #[test]
    fn matmul_matches_f32_for_every_type() {
        check::<f32>(DType::F32);
        check::<f16>(DType::F16);
        check::<bf16>(DType::BF16);
        check::<BlockQ8_0>(DType::Q8_0);
        check::<BlockQ4_0>(DType::Q4_0);
        check::<BlockQ4_1>(DType::Q4_1);
        check::<BlockQ5_0>(DType::Q5_0);
        check::<BlockQ5_1>(DType::Q5_1);
        check::<BlockQ2K>(DType::Q2K);
        check::<BlockQ3K>(DType::Q3K);
        check::<BlockQ4K>(DType::Q4K);
        check::<BlockQ5K>(DType::Q5K);
        check::<BlockQ6K>(DType::Q6K);
    }
}
