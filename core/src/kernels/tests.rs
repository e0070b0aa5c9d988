//! Every kernel family against the scalar reference and against candle-core's own scalar
//! code on the same bytes; the quantizers against candle's, byte for byte.

use candle_core::quantized::k_quants as ck;
use candle_core::quantized::k_quants::GgmlType;

use half::f16;

use super::blocks::*;
use super::isa::{detected, Isa};
use super::quantize::{quantize_row_q8_0, quantize_row_q8k};
use super::rows::*;

/// xorshift64*: deterministic and dependency-free.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    pub(super) fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// The weight types are the engine's own [`DType`]s; the float ones have no kernels here.
pub(super) use crate::dtype::DType as W;

pub(super) const ALL: [W; 10] = [
    W::Q4_0,
    W::Q4_1,
    W::Q5_0,
    W::Q5_1,
    W::Q8_0,
    W::Q2K,
    W::Q3K,
    W::Q4K,
    W::Q5K,
    W::Q6K,
];

/// Test helpers on the block types: the offsets of their f16 fields and random rows.
impl W {
    pub(super) fn bytes(self) -> usize {
        self.block().1
    }
    pub(super) fn is_k(self) -> bool {
        self.block_len() == QK_K
    }
    fn f16_fields(self) -> &'static [usize] {
        match self {
            W::Q4_0 | W::Q5_0 | W::Q8_0 => &[0],
            W::Q4_1 | W::Q5_1 | W::Q4K | W::Q5K => &[0, 2],
            W::Q2K => &[80, 82],
            W::Q3K => &[108],
            W::Q6K => &[208],
            W::F32 | W::F16 | W::BF16 => unreachable!("{self} has no kernels"),
        }
    }
    /// Random bytes with finite, moderate f16 scales.
    pub(super) fn random_row(self, n: usize, rng: &mut Rng) -> Vec<u8> {
        let nb = n / self.block_len();
        let mut w: Vec<u8> = (0..nb * self.bytes()).map(|_| rng.next() as u8).collect();
        for b in w.chunks_exact_mut(self.bytes()) {
            for &at in self.f16_fields() {
                let v = f16::from_f32(rng.f32() * 0.05);
                b[at..at + 2].copy_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        w
    }
}

/// Activations quantized for a weight type: Q8_0 or Q8_K blocks of one f32 row.
pub(super) enum Act {
    Q8_0(Vec<BlockQ8_0>),
    Q8K(Vec<BlockQ8K>),
}

impl Act {
    pub(super) fn new(w: W, x: &[f32]) -> Act {
        if w.is_k() {
            let mut q = vec![BlockQ8K::default(); x.len() / QK_K];
            quantize_row_q8k(x, &mut q);
            Act::Q8K(q)
        } else {
            let mut q = vec![BlockQ8_0::default(); x.len() / QK8_0];
            quantize_row_q8_0(x, &mut q);
            Act::Q8_0(q)
        }
    }
    fn dequantize(&self) -> Vec<f32> {
        match self {
            Act::Q8_0(q) => q
                .iter()
                .flat_map(|b| b.qs.map(|v| v as f32 * b.d.to_f32()))
                .collect(),
            Act::Q8K(q) => q
                .iter()
                .flat_map(|b| b.qs.map(|v| v as f32 * b.d))
                .collect(),
        }
    }
}

/// Runs `w`'s kernel on `isa` for the activation rows `xs` (all of the same variant).
pub(super) fn dot(isa: Isa, w: W, row: &[u8], xs: &[&Act], out: &mut [f32]) {
    if w.is_k() {
        let xs: Vec<&[BlockQ8K]> = xs
            .iter()
            .map(|a| match a {
                Act::Q8K(q) => q.as_slice(),
                Act::Q8_0(_) => unreachable!(),
            })
            .collect();
        match w {
            W::Q2K => dot_q2k_with(isa, row, &xs, out),
            W::Q3K => dot_q3k_with(isa, row, &xs, out),
            W::Q4K => dot_q4k_with(isa, row, &xs, out),
            W::Q5K => dot_q5k_with(isa, row, &xs, out),
            _ => dot_q6k_with(isa, row, &xs, out),
        }
    } else {
        let xs: Vec<&[BlockQ8_0]> = xs
            .iter()
            .map(|a| match a {
                Act::Q8_0(q) => q.as_slice(),
                Act::Q8K(_) => unreachable!(),
            })
            .collect();
        match w {
            W::Q4_0 => dot_q4_0_with(isa, row, &xs, out),
            W::Q4_1 => dot_q4_1_with(isa, row, &xs, out),
            W::Q5_0 => dot_q5_0_with(isa, row, &xs, out),
            W::Q5_1 => dot_q5_1_with(isa, row, &xs, out),
            _ => dot_q8_0_with(isa, row, &xs, out),
        }
    }
}

/// Bytes copied to 8-byte aligned storage, to be viewed as candle's blocks.
struct Aligned(Vec<u64>, usize);

impl Aligned {
    fn new(bytes: &[u8]) -> Self {
        let mut v = vec![0u64; bytes.len().div_ceil(8)];
        // SAFETY: the u64 storage holds at least `bytes.len()` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr().cast(), bytes.len())
        };
        Aligned(v, bytes.len())
    }
    fn view<T>(&self) -> &[T] {
        assert_eq!(self.1 % std::mem::size_of::<T>(), 0);
        assert!(std::mem::align_of::<T>() <= 8);
        // SAFETY: aligned storage of plain-data `repr(C)` blocks of the same layout.
        unsafe {
            std::slice::from_raw_parts(self.0.as_ptr().cast(), self.1 / std::mem::size_of::<T>())
        }
    }
}

fn act_bytes(a: &Act) -> &[u8] {
    // SAFETY: plain-data blocks viewed as bytes.
    unsafe {
        match a {
            Act::Q8_0(q) => {
                std::slice::from_raw_parts(q.as_ptr().cast(), std::mem::size_of_val(q.as_slice()))
            }
            Act::Q8K(q) => {
                std::slice::from_raw_parts(q.as_ptr().cast(), std::mem::size_of_val(q.as_slice()))
            }
        }
    }
}

/// candle's scalar `vec_dot_unopt` on the same bytes (None for Q4_1/Q5_1, which candle pairs
/// with Q8_1), and candle's dequantized weights.
fn candle_ref(w: W, row: &[u8], x: &Act, n: usize) -> (Option<f32>, Vec<f32>) {
    fn go<T: GgmlType>(row: &[u8], x: &Act, n: usize, dot: bool) -> (Option<f32>, Vec<f32>) {
        let (wa, xa) = (Aligned::new(row), Aligned::new(act_bytes(x)));
        let blocks: &[T] = wa.view();
        let mut deq = vec![0f32; n];
        T::to_float(blocks, &mut deq);
        let d = dot.then(|| {
            let ys: &[T::VecDotType] = xa.view();
            T::vec_dot_unopt(n, blocks, ys)
        });
        (d, deq)
    }
    match w {
        W::Q4_0 => go::<ck::BlockQ4_0>(row, x, n, true),
        W::Q4_1 => go::<ck::BlockQ4_1>(row, x, n, false),
        W::Q5_0 => go::<ck::BlockQ5_0>(row, x, n, true),
        W::Q5_1 => go::<ck::BlockQ5_1>(row, x, n, false),
        W::Q8_0 => go::<ck::BlockQ8_0>(row, x, n, true),
        W::Q2K => go::<ck::BlockQ2K>(row, x, n, true),
        W::Q3K => go::<ck::BlockQ3K>(row, x, n, true),
        W::Q4K => go::<ck::BlockQ4K>(row, x, n, true),
        W::Q5K => go::<ck::BlockQ5K>(row, x, n, true),
        W::Q6K => go::<ck::BlockQ6K>(row, x, n, true),
        W::F32 | W::F16 | W::BF16 => unreachable!("{w} has no kernels"),
    }
}

fn random_x(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let v = rng.f32();
            // A few outliers, as real activations have.
            if i % 97 == 5 {
                v * 20.0
            } else {
                v
            }
        })
        .collect()
}

fn close(got: f32, want: f64, scale: f64, what: &str) {
    let tol = 1e-5 * scale + 1e-30;
    assert!(
        (got as f64 - want).abs() <= tol,
        "{what}: got {got}, want {want} (|diff| {} > {tol})",
        (got as f64 - want).abs()
    );
}

fn check_type(w: W) {
    let mut rng = Rng::new(w as u64 + 1);
    for n in [w.block_len(), 3 * w.block_len(), 2048] {
        // Weight bytes at an offset of 2 from an 8-aligned base: only 2-byte aligned.
        let row = w.random_row(n, &mut rng);
        let mut store = vec![0u8; row.len() + 8];
        let base = store.as_ptr().align_offset(8) + 2;
        store[base..base + row.len()].copy_from_slice(&row);
        let wrow = &store[base..base + row.len()];
        let acts: Vec<Act> = (0..4)
            .map(|_| Act::new(w, &random_x(n, &mut rng)))
            .collect();
        for (t, x) in acts.iter().enumerate() {
            let (cdot, deq) = candle_ref(w, &row, x, n);
            let xf = x.dequantize();
            let exact: f64 = deq
                .iter()
                .zip(&xf)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            let scale: f64 = deq
                .iter()
                .zip(&xf)
                .map(|(a, b)| (*a as f64 * *b as f64).abs())
                .sum();
            let mut s = [0f32];
            dot(Isa::Scalar, w, wrow, &[x], &mut s);
            close(
                s[0],
                exact,
                scale,
                &format!("{w:?} n={n} t={t} scalar vs f64 of to_float"),
            );
            if let Some(c) = cdot {
                close(
                    s[0],
                    c as f64,
                    scale,
                    &format!("{w:?} n={n} t={t} scalar vs candle"),
                );
            }
            for isa in Isa::available() {
                let mut o = [0f32];
                dot(isa, w, wrow, &[x], &mut o);
                close(
                    o[0],
                    s[0] as f64,
                    scale,
                    &format!("{w:?} n={n} t={t} {isa:?} vs scalar"),
                );
                close(
                    o[0],
                    exact,
                    scale,
                    &format!("{w:?} n={n} t={t} {isa:?} vs f64"),
                );
            }
        }
        for isa in Isa::available() {
            let single: Vec<f32> = acts
                .iter()
                .map(|x| {
                    let mut o = [0f32];
                    dot(isa, w, wrow, &[x], &mut o);
                    o[0]
                })
                .collect();
            for rows in 2..=4 {
                let xs: Vec<&Act> = acts[..rows].iter().collect();
                let mut o = [f32::NAN; 4];
                dot(isa, w, wrow, &xs, &mut o[..rows]);
                assert_eq!(
                    &o[..rows],
                    &single[..rows],
                    "{w:?} n={n} {isa:?} {rows} rows"
                );
            }
        }
    }
}

#[test]
fn q4_0() {
    check_type(W::Q4_0)
}
#[test]
fn q4_1() {
    check_type(W::Q4_1)
}
#[test]
fn q5_0() {
    check_type(W::Q5_0)
}
#[test]
fn q5_1() {
    check_type(W::Q5_1)
}
#[test]
fn q8_0() {
    check_type(W::Q8_0)
}
#[test]
fn q2k() {
    check_type(W::Q2K)
}
#[test]
fn q3k() {
    check_type(W::Q3K)
}
#[test]
fn q4k() {
    check_type(W::Q4K)
}
#[test]
fn q5k() {
    check_type(W::Q5K)
}
#[test]
fn q6k() {
    check_type(W::Q6K)
}

/// Weights quantized by candle from smooth data (realistic scales and patterns), not random.
#[test]
fn quantized_weights_match_candle() {
    fn go<T: GgmlType>(w: W) {
        let n = 1024;
        let mut rng = Rng::new(77);
        let wf: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.37).sin() + 0.3 * rng.f32())
            .collect();
        let mut blocks = vec![T::zeros(); n / T::BLCK_SIZE];
        T::from_float(&wf, &mut blocks);
        // SAFETY: plain-data blocks viewed as bytes.
        let row = unsafe {
            std::slice::from_raw_parts(
                blocks.as_ptr().cast::<u8>(),
                std::mem::size_of_val(blocks.as_slice()),
            )
        };
        let x = Act::new(w, &random_x(n, &mut rng));
        let (cdot, deq) = candle_ref(w, row, &x, n);
        let xf = x.dequantize();
        let exact: f64 = deq
            .iter()
            .zip(&xf)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum();
        let scale: f64 = deq
            .iter()
            .zip(&xf)
            .map(|(a, b)| (*a as f64 * *b as f64).abs())
            .sum();
        for isa in Isa::available() {
            let mut o = [0f32];
            dot(isa, w, row, &[&x], &mut o);
            close(o[0], exact, scale, &format!("{w:?} {isa:?} vs f64"));
            if let Some(c) = cdot {
                close(o[0], c as f64, scale, &format!("{w:?} {isa:?} vs candle"));
            }
        }
    }
    go::<ck::BlockQ4_0>(W::Q4_0);
    go::<ck::BlockQ4_1>(W::Q4_1);
    go::<ck::BlockQ5_0>(W::Q5_0);
    go::<ck::BlockQ5_1>(W::Q5_1);
    go::<ck::BlockQ8_0>(W::Q8_0);
    go::<ck::BlockQ2K>(W::Q2K);
    go::<ck::BlockQ3K>(W::Q3K);
    go::<ck::BlockQ4K>(W::Q4K);
    go::<ck::BlockQ5K>(W::Q5K);
    go::<ck::BlockQ6K>(W::Q6K);
}

#[test]
fn quantizers_match_candle_bytes() {
    let mut rng = Rng::new(5);
    for trial in 0..20 {
        let n = 1024;
        let mut x: Vec<f32> = random_x(n, &mut rng)
            .iter()
            .map(|v| v * (trial as f32 + 0.5))
            .collect();
        if trial == 0 {
            x[..256].fill(0.0); // an all-zero block of each kind
        }
        let ours = Act::new(W::Q8_0, &x);
        let mut theirs = vec![ck::BlockQ8_0::zeros(); n / 32];
        ck::BlockQ8_0::from_float(&x, &mut theirs);
        // SAFETY: plain-data blocks viewed as bytes.
        let tb = unsafe { std::slice::from_raw_parts(theirs.as_ptr().cast::<u8>(), n / 32 * 34) };
        assert_eq!(act_bytes(&ours), tb, "q8_0 trial {trial}");

        let ours = Act::new(W::Q4K, &x);
        let mut theirs = vec![ck::BlockQ8K::zeros(); n / 256];
        ck::BlockQ8K::from_float(&x, &mut theirs);
        // SAFETY: as above.
        let tb = unsafe { std::slice::from_raw_parts(theirs.as_ptr().cast::<u8>(), n / 256 * 292) };
        assert_eq!(act_bytes(&ours), tb, "q8k trial {trial}");
    }
}

#[test]
fn quantizer_edge_cases() {
    // ggml's q8_K: the largest magnitude maps to -127 and halves round to even.
    let mut x = vec![0f32; 256];
    x[0] = 127.0;
    x[1] = -2.5;
    x[2] = 3.5;
    let mut q = [BlockQ8K::default()];
    quantize_row_q8k(&x, &mut q);
    assert_eq!(q[0].d, -1.0);
    assert_eq!(&q[0].qs[..3], &[-127, 2, -4]);
    assert_eq!(q[0].bsums[0], -129);
    // ggml's q8_0: halves round away from zero.
    let mut x = vec![0f32; 32];
    x[0] = 127.0;
    x[1] = -2.5;
    let mut q = [BlockQ8_0::default()];
    quantize_row_q8_0(&x, &mut q);
    assert_eq!(q[0].d.to_f32(), 1.0);
    assert_eq!(&q[0].qs[..2], &[127, -3]);
}

#[test]
fn f16_conversion_is_exact() {
    for h in 0..=u16::MAX {
        let (ours, theirs) = (f16_to_f32(h), f16::from_bits(h).to_f32());
        assert!(
            ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()),
            "{h:#06x}: {ours} vs {theirs}"
        );
    }
}

#[test]
fn detected_is_the_best_available() {
    let best = *Isa::available().last().unwrap();
    if std::env::var("GEMKIT_ISA").is_err() {
        assert_eq!(detected(), best);
    }
    assert!(Isa::available().contains(&Isa::Scalar));
    eprintln!(
        "kernels: available {:?}, detected {:?}",
        Isa::available(),
        detected()
    );
}

/// Every row once, in runs that advance together: 10 rows are 0, 3, 6, 9, 1, 4, 7, 2, 5, 8.
#[test]
fn interleaved_takes_every_row_once() {
    assert_eq!(
        interleaved(10).collect::<Vec<_>>(),
        [0, 3, 6, 9, 1, 4, 7, 2, 5, 8]
    );
    for rows in 0..40 {
        let mut seen: Vec<usize> = interleaved(rows).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..rows).collect::<Vec<_>>(), "{rows} rows");
    }
}

/// The prefetch level follows the vendor the kernel reads from CPUID, checked against the
/// kernel's own report of it in /proc/cpuinfo (a register order mixed up would read neither).
#[cfg(target_arch = "x86_64")]
#[test]
fn prefetch_level_follows_the_cpu_vendor() {
    use super::x86::Prefetch;
    let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") else {
        eprintln!("SKIPPED: prefetch_level_follows_the_cpu_vendor: no /proc/cpuinfo here");
        return;
    };
    let vendor = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("vendor_id"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .expect("/proc/cpuinfo names the vendor");
    let expected = if vendor == "GenuineIntel" {
        Prefetch::L2
    } else {
        Prefetch::L1
    };
    assert_eq!(Prefetch::for_this_cpu(), expected, "vendor {vendor}");
}

/// Every activation row against `rows` weight rows through the lane kernels, in the layout
/// a matmul writes (token-major).
#[cfg(target_arch = "x86_64")]
fn lane_products<A: super::lanes::LaneInput>(
    ty: super::lanes::LaneType,
    weights: &[u8],
    rows: usize,
    x: &super::lanes::LaneActivations<A>,
) -> Vec<f32> {
    use super::lanes::{group_product, GROUP};
    let row_bytes = weights.len() / rows;
    let mut y = vec![f32::NAN; x.rows() * rows];
    for r0 in (0..rows).step_by(GROUP) {
        // SAFETY: the caller checked the CPU; the rows and outputs exist.
        unsafe { group_product(ty, weights, row_bytes, r0, x, y[r0..].as_mut_ptr(), rows) };
    }
    y
}

#[cfg(target_arch = "x86_64")]
#[test]
fn lane_groups_match_the_scalar_kernels_whatever_tokens_share_a_product() {
    use super::lanes::{supported, LaneActivations, LaneType, GROUP};
    if !supported(detected()) {
        return crate::test_support::skipped("the lane kernels need AVX-512 VNNI and BITALG");
    }
    // Two groups; 11 tokens make a full token tile and a partial one.
    let (cols, rows, n) = (512, 2 * GROUP, 11);
    for (w, ty) in [
        (W::Q4_0, LaneType::Q4_0),
        (W::Q5_0, LaneType::Q5_0),
        (W::Q8_0, LaneType::Q8_0),
        (W::Q4K, LaneType::Q4K),
        (W::Q6K, LaneType::Q6K),
    ] {
        let mut rng = Rng::new(w as u64 + 100);
        let weights: Vec<u8> = (0..rows)
            .flat_map(|_| w.random_row(cols, &mut rng))
            .collect();
        let acts: Vec<Act> = (0..n)
            .map(|_| Act::new(w, &random_x(cols, &mut rng)))
            .collect();
        let nb = cols / w.block_len();
        let row_bytes = nb * w.bytes();
        // The products of tokens `ts` with every row, through the lane kernels.
        let lanes = |ts: &[usize]| match &acts[0] {
            Act::Q8_0(_) => {
                let x: Vec<BlockQ8_0> = ts
                    .iter()
                    .flat_map(|&t| match &acts[t] {
                        Act::Q8_0(q) => q.clone(),
                        Act::Q8K(_) => unreachable!(),
                    })
                    .collect();
                lane_products(ty, &weights, rows, &LaneActivations::new(ty, &x, nb))
            }
            Act::Q8K(_) => {
                let x: Vec<BlockQ8K> = ts
                    .iter()
                    .flat_map(|&t| match &acts[t] {
                        Act::Q8K(q) => q.clone(),
                        Act::Q8_0(_) => unreachable!(),
                    })
                    .collect();
                lane_products(ty, &weights, rows, &LaneActivations::new_k(&x, nb))
            }
        };
        let together = lanes(&(0..n).collect::<Vec<_>>());
        for t in 0..n {
            let alone = lanes(&[t]);
            for r in 0..rows {
                let row = &weights[r * row_bytes..(r + 1) * row_bytes];
                let mut scalar = [0f32];
                dot(Isa::Scalar, w, row, &[&acts[t]], &mut scalar);
                let got = together[t * rows + r];
                assert!(
                    (got - scalar[0]).abs() <= 1e-5 * (1.0 + scalar[0].abs()),
                    "{w} row {r} token {t}: {got} vs {}",
                    scalar[0]
                );
                // Bit for bit what the token gives alone: prefill chunks do not matter.
                assert_eq!(got.to_bits(), alone[r].to_bits(), "{w} row {r} token {t}");
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn decode_kernels_match_the_scalar_kernels() {
    use super::gemv::{q4_0, q4k, q6k, supported, GemvActivations};
    if !supported(detected()) {
        return crate::test_support::skipped("the decode kernels need AVX-512 VNNI");
    }
    let (cols, rows) = (768, 7);
    for w in [W::Q4_0, W::Q4K, W::Q6K] {
        let mut rng = Rng::new(300 + w as u64);
        let weights: Vec<u8> = (0..rows)
            .flat_map(|_| w.random_row(cols, &mut rng))
            .collect();
        let act = Act::new(w, &random_x(cols, &mut rng));
        let mut out = [f32::NAN; 7];
        // SAFETY: the CPU passed `supported`.
        match &act {
            Act::Q8_0(x) => unsafe { q4_0(&weights, &GemvActivations::new(x), &mut out) },
            Act::Q8K(x) if w == W::Q4K => unsafe { q4k(&weights, x, &mut out) },
            Act::Q8K(x) => unsafe { q6k(&weights, x, &mut out) },
        }
        let row_bytes = weights.len() / rows;
        for (r, got) in out.iter().enumerate() {
            let mut scalar = [0f32];
            let row = &weights[r * row_bytes..(r + 1) * row_bytes];
            dot(Isa::Scalar, w, row, &[&act], &mut scalar);
            assert!(
                (got - scalar[0]).abs() <= 1e-5 * (1.0 + scalar[0].abs()),
                "{w} row {r}: {got} vs {}",
                scalar[0]
            );
        }
    }
}

#[test]
fn several_weight_rows_in_one_call_equal_one_row_at_a_time() {
    for w in ALL {
        let mut rng = Rng::new(w as u64 + 200);
        let n = 2 * w.block_len();
        let rows: Vec<Vec<u8>> = (0..5).map(|_| w.random_row(n, &mut rng)).collect();
        let all: Vec<u8> = rows.concat();
        let acts: Vec<Act> = (0..4)
            .map(|_| Act::new(w, &random_x(n, &mut rng)))
            .collect();
        // Two to four activation rows: prefill's shapes, which i8mm takes two weight rows at a
        // time (so five rows are two pairs and a last row alone).
        for count in 2..=4 {
            let xs: Vec<&Act> = acts[..count].iter().collect();
            for isa in Isa::available() {
                let mut together = [f32::NAN; 20];
                dot(isa, w, &all, &xs, &mut together[..5 * count]);
                for (r, row) in rows.iter().enumerate() {
                    let mut one = [f32::NAN; 4];
                    dot(isa, w, row, &xs, &mut one[..count]);
                    assert_eq!(
                        together[count * r..count * (r + 1)],
                        one[..count],
                        "{w:?} {isa:?} row {r}, {count} activation rows"
                    );
                }
            }
        }
    }
}

/// Decode's shape: one activation row against many weight rows in one call, which the NEON
/// kernels take four rows a pass (so 4k + 3 rows run both that path and the leftover one),
/// against the scalar kernel row by row, on rows of one block, a few and many.
#[test]
fn one_activation_row_against_many_weight_rows_matches_scalar() {
    let rows = 7;
    for w in ALL {
        let mut rng = Rng::new(w as u64 + 400);
        for n in [w.block_len(), 3 * w.block_len(), 2048] {
            let weights: Vec<Vec<u8>> = (0..rows).map(|_| w.random_row(n, &mut rng)).collect();
            let all = weights.concat();
            let act = Act::new(w, &random_x(n, &mut rng));
            for isa in Isa::available() {
                let mut got = [f32::NAN; 7];
                dot(isa, w, &all, &[&act], &mut got);
                for (r, row) in weights.iter().enumerate() {
                    let mut want = [0f32];
                    dot(Isa::Scalar, w, row, &[&act], &mut want);
                    let (deq, xf) = (candle_ref(w, row, &act, n).1, act.dequantize());
                    let scale: f64 = deq
                        .iter()
                        .zip(&xf)
                        .map(|(a, b)| (*a as f64 * *b as f64).abs())
                        .sum();
                    close(
                        got[r],
                        want[0] as f64,
                        scale,
                        &format!("{w:?} n={n} {isa:?} row {r} of {rows}"),
                    );
                }
            }
        }
    }
}
