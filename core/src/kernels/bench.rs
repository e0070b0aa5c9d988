//! Micro-benchmark, ignored by default. Run with
//! `cargo test --release -p gemkit kernels::bench -- --ignored --nocapture --test-threads=1`
//! (set `GEMKIT_BENCH_TYPES=q5_0,q4k` to limit the types).
//!
//! For a 2048-wide row it prints, per weight type and kernel family:
//! - `L1 ns`: one row-dot, weights in L1 (the same row again and again);
//! - `L2 ns`: one row-dot over 256 different rows (in L2);
//! - `x4 ns`: the same per activation row when four rows share the weight row (prefill);
//! - `stream GB/s`: weight bytes read per second for one activation row over a matrix far
//!   larger than the caches (single-thread decode).
//!
//! The `candle` lines time candle-core's `vec_dot` on the same bytes.

use std::hint::black_box;
use std::time::Instant;

use candle_core::quantized::k_quants as ck;
use candle_core::quantized::k_quants::GgmlType;

use super::blocks::*;
use super::isa::Isa;
use super::rows::*;
use super::tests::{dot, Act, Rng, ALL, W};

const N: usize = 2048;
/// Bytes of weights for the streaming runs: well beyond any L3.
const STREAM_BYTES: usize = 256 << 20;

/// Best of `reps` timings of `f`, in seconds per call of `f`.
fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// candle's `vec_dot` over `rows` rows of `w` (already viewed as candle blocks), as a closure.
fn candle_runner<'a>(w: W, mat: &'a [u8], x: &Act) -> Option<Runner<'a>> {
    fn mk<'a, T: GgmlType + 'a>(mat: &'a [u8], x: &Act) -> Runner<'a> {
        let ys = match x {
            Act::Q8_0(q) => copy_as::<T::VecDotType>(bytes_of(q)),
            Act::Q8K(q) => copy_as::<T::VecDotType>(bytes_of(q)),
        };
        let blocks = copy_as::<T>(mat);
        let per_row = N / T::BLCK_SIZE;
        Box::new(move |first, rows| {
            let mut s = 0f32;
            for r in first..first + rows {
                s += T::vec_dot(N, &blocks[r * per_row..(r + 1) * per_row], &ys);
            }
            s
        })
    }
    Some(match w {
        W::Q4_0 => mk::<ck::BlockQ4_0>(mat, x),
        W::Q5_0 => mk::<ck::BlockQ5_0>(mat, x),
        W::Q8_0 => mk::<ck::BlockQ8_0>(mat, x),
        W::Q2K => mk::<ck::BlockQ2K>(mat, x),
        W::Q3K => mk::<ck::BlockQ3K>(mat, x),
        W::Q4K => mk::<ck::BlockQ4K>(mat, x),
        W::Q5K => mk::<ck::BlockQ5K>(mat, x),
        W::Q6K => mk::<ck::BlockQ6K>(mat, x),
        // candle pairs these with Q8_1 activations.
        W::Q4_1 | W::Q5_1 => return None,
        W::F32 | W::F16 | W::BF16 => unreachable!("{w} has no kernels"),
    })
}

type Runner<'a> = Box<dyn Fn(usize, usize) -> f32 + 'a>;
type DotWith<A> = fn(Isa, &[u8], &[&[A]], &mut [f32]);

/// Our kernel on `isa` over rows `first..first + n` of `mat`, with one and with four activation
/// rows, as closures.
fn ours<'a>(
    isa: Isa,
    w: W,
    mat: &'a [u8],
    row_bytes: usize,
    acts: &'a [Act],
) -> (Runner<'a>, Runner<'a>) {
    fn mk<'a, A>(
        isa: Isa,
        f: DotWith<A>,
        mat: &'a [u8],
        row_bytes: usize,
        xs: Vec<&'a [A]>,
    ) -> (Runner<'a>, Runner<'a>) {
        let x1 = xs[0];
        let one: Runner<'a> = Box::new(move |first, n| {
            let mut s = 0f32;
            let mut o = [0f32];
            for r in first..first + n {
                f(isa, &mat[r * row_bytes..(r + 1) * row_bytes], &[x1], &mut o);
                s += o[0];
            }
            s
        });
        let four: Runner<'a> = Box::new(move |first, n| {
            let mut s = 0f32;
            let mut o = [0f32; 4];
            for r in first..first + n {
                f(isa, &mat[r * row_bytes..(r + 1) * row_bytes], &xs, &mut o);
                s += o[0] + o[3];
            }
            s
        });
        (one, four)
    }
    if w.is_k() {
        let xs: Vec<&[BlockQ8K]> = acts
            .iter()
            .map(|a| match a {
                Act::Q8K(q) => q.as_slice(),
                Act::Q8_0(_) => unreachable!(),
            })
            .collect();
        let f = match w {
            W::Q2K => dot_q2k_with,
            W::Q3K => dot_q3k_with,
            W::Q4K => dot_q4k_with,
            W::Q5K => dot_q5k_with,
            _ => dot_q6k_with,
        };
        mk(isa, f, mat, row_bytes, xs)
    } else {
        let xs: Vec<&[BlockQ8_0]> = acts
            .iter()
            .map(|a| match a {
                Act::Q8_0(q) => q.as_slice(),
                Act::Q8K(_) => unreachable!(),
            })
            .collect();
        let f = match w {
            W::Q4_0 => dot_q4_0_with,
            W::Q4_1 => dot_q4_1_with,
            W::Q5_0 => dot_q5_0_with,
            W::Q5_1 => dot_q5_1_with,
            _ => dot_q8_0_with,
        };
        mk(isa, f, mat, row_bytes, xs)
    }
}

fn bytes_of<T>(v: &[T]) -> &[u8] {
    // SAFETY: plain-data blocks viewed as bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
}

fn copy_as<T: GgmlType>(bytes: &[u8]) -> Vec<T> {
    let mut v = vec![T::zeros(); bytes.len() / std::mem::size_of::<T>()];
    // SAFETY: plain-data blocks of the same layout, copied into aligned storage.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr().cast(), bytes.len()) };
    v
}

fn bench_type(w: W) {
    let mut rng = Rng::new(3);
    let row_bytes = N / w.block_len() * w.bytes();
    let rows = STREAM_BYTES / row_bytes;
    let mut mat = Vec::with_capacity(rows * row_bytes);
    let one = w.random_row(N, &mut rng);
    for r in 0..rows {
        // Distinct rows without paying for random bytes everywhere.
        mat.extend_from_slice(&one);
        let at = r * row_bytes + 7 % row_bytes;
        mat[at] ^= r as u8;
    }
    let acts: Vec<Act> = (0..4)
        .map(|_| Act::new(w, &(0..N).map(|_| rng.f32()).collect::<Vec<_>>()))
        .collect();
    let hot_rows = 256; // a 256-row slice that stays in L2
    let mut lines = Vec::new();
    let mut run =
        |name: &str, f1: &dyn Fn(usize, usize) -> f32, f4: Option<&dyn Fn(usize, usize) -> f32>| {
            f1(0, rows); // warm up, fault pages in
            let hot = best(50, || {
                for _ in 0..64 {
                    black_box(f1(0, 1));
                }
            }) * 1e9
                / 64.0;
            let hot_many = best(20, || {
                black_box(f1(0, hot_rows));
            }) * 1e9
                / hot_rows as f64;
            let x4 = f4.map(|f| {
                best(20, || {
                    black_box(f(0, hot_rows));
                }) * 1e9
                    / hot_rows as f64
                    / 4.0
            });
            let stream = best(3, || {
                black_box(f1(0, rows));
            });
            lines.push(format!(
                "{:<6} {:<12} {:>8.1} {:>8.1} {:>8} {:>12.1}",
                format!("{w:?}"),
                name,
                hot,
                hot_many,
                x4.map_or("-".into(), |v| format!("{v:.1}")),
                (rows * row_bytes) as f64 / stream / 1e9
            ));
        };
    for isa in Isa::available() {
        let (f1, f4) = ours(isa, w, &mat, row_bytes, &acts);
        run(&format!("{isa:?}"), &*f1, Some(&*f4));
    }
    if let Some(c) = candle_runner(w, &mat, &acts[0]) {
        run("candle", &*c, None);
    }
    for l in lines {
        println!("{l}");
    }
}

#[test]
#[ignore]
fn bench() {
    let only = std::env::var("GEMKIT_BENCH_TYPES").ok();
    println!(
        "{:<6} {:<12} {:>8} {:>8} {:>8} {:>12}",
        "type", "isa", "L1 ns", "L2 ns", "x4 ns", "stream GB/s"
    );
    for w in ALL {
        let name = format!("{w:?}").to_lowercase();
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|t| t == name))
        {
            continue;
        }
        bench_type(w);
    }
}

/// Attention's kernels for one decode step of a 256-wide head group: ns per key for the
/// scores and the value sums, per number of heads, with 2048 cached rows (in L2) and with
/// rows cycling through 64 MiB (from L3 or memory, as a long context's are).
/// `cargo test --release -p gemkit kernels::bench::attention -- --ignored --nocapture`
#[test]
#[ignore]
fn attention() {
    use super::float::{accumulate, scores};
    use super::float_rows::{KvRows, Rows};
    use half::f16;
    let (hd, keys) = (256, 2048);
    let mut rng = Rng::new(3);
    let rows = (64 << 20) / (2 * hd);
    let cache: Vec<f16> = (0..rows * hd).map(|_| f16::from_f32(rng.f32())).collect();
    for heads in [1, 2, 4, 8] {
        let q: Vec<f32> = (0..heads * hd).map(|_| rng.f32()).collect();
        let mut s = vec![0f32; heads * keys];
        let mut o = vec![0f32; heads * hd];
        for isa in Isa::available() {
            let mut line = format!("{heads} heads {isa:?}:");
            for (place, spans) in [("L2", 1), ("far", rows / keys)] {
                let mut next = 0;
                let mut run = |f: &mut dyn FnMut(KvRows)| {
                    let at = (next % spans) * keys * hd;
                    next += 1;
                    f(KvRows::F16(Rows {
                        data: &cache[at..at + keys * hd],
                        stride: hd,
                        n: keys,
                    }))
                };
                let per_key = |t: f64| t * 1e9 / keys as f64;
                let t_s = best(50, || run(&mut |k| scores(isa, &q, hd, k, &mut s, keys)));
                let t_v = best(50, || {
                    run(&mut |v| accumulate(isa, &s, keys, v, hd, &mut o))
                });
                line += &format!(
                    "  {place}: scores {:.1} ns, sums {:.1} ns",
                    per_key(t_s),
                    per_key(t_v)
                );
            }
            println!("{line}");
            black_box((&s, &o));
        }
    }
}

/// A decode product: every row of a matrix against one token.
type DecodeRun<'a> = Box<dyn Fn(&[u8], &mut [f32]) + 'a>;

/// Decode's products as decode calls them (one token against every row of a matrix), in
/// weight bytes read per second: from L2 (256 rows of 2048 columns, again and again: what the
/// kernel computes at most) and streaming 1 GiB (what one core reads from memory with it).
/// `cargo test --release -p gemkit kernels::bench::decode -- --ignored --nocapture`
#[test]
#[ignore]
fn decode() {
    let stream_bytes = 1 << 30;
    for w in [W::Q4_0, W::Q4K, W::Q6K, W::Q8_0, W::Q5_0] {
        let mut rng = Rng::new(5);
        let row_bytes = N / w.block_len() * w.bytes();
        let rows = stream_bytes / row_bytes;
        let one = w.random_row(N, &mut rng);
        let mat: Vec<u8> = (0..rows).flat_map(|_| one.iter().copied()).collect();
        let act = Act::new(w, &(0..N).map(|_| rng.f32()).collect::<Vec<_>>());
        let mut out = vec![0f32; rows];
        let mut runners: Vec<(String, DecodeRun<'_>)> = Vec::new();
        for isa in Isa::available().into_iter().filter(|&i| i != Isa::Scalar) {
            let act = &act;
            runners.push((
                format!("{isa:?} rows"),
                Box::new(move |m, o| dot(isa, w, m, &[act], o)),
            ));
        }
        #[cfg(target_arch = "x86_64")]
        if super::gemv::supported(super::detected()) {
            // SAFETY (all three): the CPU passed `supported`.
            match &act {
                Act::Q8_0(x) if w == W::Q4_0 => {
                    let pairs = super::gemv::GemvActivations::new(x);
                    runners.push((
                        "gemv".into(),
                        Box::new(move |m, o| unsafe { super::gemv::q4_0(m, &pairs, o) }),
                    ));
                }
                Act::Q8K(x) if matches!(w, W::Q4K | W::Q6K) => {
                    let kernel: unsafe fn(&[u8], &[BlockQ8K], &mut [f32]) = if w == W::Q4K {
                        super::gemv::q4k
                    } else {
                        super::gemv::q6k
                    };
                    let x = x.clone();
                    runners.push((
                        "gemv".into(),
                        Box::new(move |m, o| unsafe { kernel(m, &x, o) }),
                    ));
                }
                _ => {}
            }
        }
        for (name, run) in &runners {
            let hot = 256;
            let l2 = best(20, || run(&mat[..hot * row_bytes], &mut out[..hot]));
            run(&mat, &mut out); // fault the pages in
            let far = best(3, || run(&mat, &mut out));
            println!(
                "{w:<5} {name:<18} L2 {:6.1} GB/s  stream {:5.1} GB/s",
                (hot * row_bytes) as f64 / l2 / 1e9,
                (rows * row_bytes) as f64 / far / 1e9
            );
            black_box(&out);
        }
    }
}
