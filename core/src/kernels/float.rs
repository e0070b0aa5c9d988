//! The f32 kernels: the eight-lane dot product (the exact matmul path's, and the reference
//! for attention), and attention's two loops over the KV cache's rows: the scores of each
//! query head against a run of keys, and the weighted sum of a run of values into each head's
//! output.
//!
//! The cache rows are f16 (or f32), read in place: the SIMD kernels (`float_tiles.rs`)
//! convert them in registers (`vcvtph2ps`, `fcvtl`) and keep 8 sums in registers, several keys
//! or several output chunks at once, so neither loop waits on one chain of additions. Every family adds in the portable code's
//! order, without fused multiply-adds, so attention is bit-identical on every ISA.

#[cfg(target_arch = "aarch64")]
use super::float_neon as simd;
use super::float_rows::{sum_lanes, Elem, KvRows, Rows};
#[cfg(target_arch = "x86_64")]
use super::float_x86 as simd;
use super::isa::Isa;

/// An f32 dot product with eight partial sums, which the compiler vectorizes (inlined, so a
/// caller compiled for wider vectors gets them). The partial sums are added in lane order.
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
    let sum = sum_lanes(acc);
    if a_rest.is_empty() {
        return sum;
    }
    sum + a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum::<f32>()
}

/// `out[h * out_stride + i] = dot(q_h, key_i)` for each query head `h` (the rows of
/// `head_dim` values of `q`) and each key `i` of `keys`.
pub fn scores(
    isa: Isa,
    q: &[f32],
    head_dim: usize,
    keys: KvRows,
    out: &mut [f32],
    out_stride: usize,
) {
    assert!(head_dim > 0 && q.len().is_multiple_of(head_dim));
    let heads = q.len() / head_dim;
    keys.check(head_dim);
    let n = keys.n();
    assert!(heads == 0 || n == 0 || (out_stride >= n && (heads - 1) * out_stride + n <= out.len()));
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if isa != Isa::Scalar {
        // SAFETY: every family past the portable one has the SIMD kernels' features; the
        // bounds are checked above.
        unsafe {
            match keys {
                KvRows::F16(k) => simd::scores(q, head_dim, k, out, out_stride),
                KvRows::F32(k) => simd::scores(q, head_dim, k, out, out_stride),
            }
        }
        return;
    }
    match keys {
        KvRows::F16(k) => portable_scores(q, head_dim, k, out, out_stride),
        KvRows::F32(k) => portable_scores(q, head_dim, k, out, out_stride),
    }
}

/// `out_h += Σ_i weights[h * weights_stride + i] · value_i` for each head `h` (the rows of
/// `head_dim` values of `out`), adding the values in order.
pub fn accumulate(
    isa: Isa,
    weights: &[f32],
    weights_stride: usize,
    values: KvRows,
    head_dim: usize,
    out: &mut [f32],
) {
    assert!(head_dim > 0 && out.len().is_multiple_of(head_dim));
    let heads = out.len() / head_dim;
    values.check(head_dim);
    let n = values.n();
    assert!(
        heads == 0
            || n == 0
            || (weights_stride >= n && (heads - 1) * weights_stride + n <= weights.len())
    );
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if isa != Isa::Scalar {
        // SAFETY: as in `scores`.
        unsafe {
            match values {
                KvRows::F16(v) => simd::accumulate(weights, weights_stride, v, head_dim, out),
                KvRows::F32(v) => simd::accumulate(weights, weights_stride, v, head_dim, out),
            }
        }
        return;
    }
    match values {
        KvRows::F16(v) => portable_accumulate(weights, weights_stride, v, head_dim, out),
        KvRows::F32(v) => portable_accumulate(weights, weights_stride, v, head_dim, out),
    }
}

fn portable_scores<E: Elem>(
    q: &[f32],
    hd: usize,
    keys: Rows<E>,
    out: &mut [f32],
    out_stride: usize,
) {
    let mut row = vec![0f32; hd];
    for i in 0..keys.n {
        E::to_f32_slice(&keys.data[i * keys.stride..][..hd], &mut row);
        for (h, qh) in q.chunks_exact(hd).enumerate() {
            out[h * out_stride + i] = dot_f32(qh, &row);
        }
    }
}

fn portable_accumulate<E: Elem>(
    w: &[f32],
    w_stride: usize,
    values: Rows<E>,
    hd: usize,
    out: &mut [f32],
) {
    let mut row = vec![0f32; hd];
    for i in 0..values.n {
        E::to_f32_slice(&values.data[i * values.stride..][..hd], &mut row);
        for (h, oh) in out.chunks_exact_mut(hd).enumerate() {
            let wi = w[h * w_stride + i];
            oh.iter_mut().zip(&row).for_each(|(o, v)| *o += wi * v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::Rng;
    use half::f16;
    use half::slice::HalfFloatSliceExt;

    /// Every family this CPU runs gives the portable kernels' bits, for f16 and f32 rows, any
    /// number of heads (the tiles take 8, 4, 2 and 1), keys past a tile and a cache block,
    /// head sizes with a tail, and rows further apart than their length.
    #[test]
    fn every_family_matches_the_portable_kernels_bit_for_bit() {
        let mut rng = Rng::new(7);
        for &(heads, hd, n, stride) in &[
            (1, 256, 70, 256),
            (2, 256, 9, 512),
            (3, 64, 17, 64),
            (4, 256, 130, 1024),
            (5, 24, 3, 40),
            (8, 256, 33, 256),
            (7, 20, 11, 23),
            (4, 8, 1, 8),
            (2, 16, 0, 16),
        ] {
            let q: Vec<f32> = (0..heads * hd).map(|_| rng.f32() * 4.0).collect();
            let k32: Vec<f32> = (0..n.max(1) * stride).map(|_| rng.f32()).collect();
            let v32: Vec<f32> = (0..n.max(1) * stride).map(|_| rng.f32()).collect();
            let k16: Vec<f16> = k32.iter().map(|&x| f16::from_f32(x)).collect();
            let v16: Vec<f16> = v32.iter().map(|&x| f16::from_f32(x)).collect();
            let w: Vec<f32> = (0..heads * (n + 3)).map(|_| rng.f32().abs()).collect();
            let start: Vec<f32> = (0..heads * hd).map(|_| rng.f32()).collect();
            let kinds = [
                (
                    KvRows::F16(Rows {
                        data: &k16,
                        stride,
                        n,
                    }),
                    KvRows::F16(Rows {
                        data: &v16,
                        stride,
                        n,
                    }),
                ),
                (
                    KvRows::F32(Rows {
                        data: &k32,
                        stride,
                        n,
                    }),
                    KvRows::F32(Rows {
                        data: &v32,
                        stride,
                        n,
                    }),
                ),
            ];
            for (keys, values) in kinds {
                let run = |isa: Isa| {
                    let mut s = vec![f32::NAN; heads * (n + 3)];
                    scores(isa, &q, hd, keys, &mut s, n + 3);
                    let mut o = start.clone();
                    accumulate(isa, &w, n + 3, values, hd, &mut o);
                    (s, o)
                };
                let (want_s, want_o) = run(Isa::Scalar);
                // The portable kernels are the arithmetic they claim: a dot per head and key.
                for h in 0..heads {
                    for i in 0..n {
                        let mut key = vec![0f32; hd];
                        match keys {
                            KvRows::F16(k) => {
                                k.data[i * stride..][..hd].convert_to_f32_slice(&mut key)
                            }
                            KvRows::F32(k) => key.copy_from_slice(&k.data[i * stride..][..hd]),
                        }
                        assert_eq!(want_s[h * (n + 3) + i], dot_f32(&q[h * hd..][..hd], &key));
                    }
                }
                for isa in Isa::available() {
                    let (s, o) = run(isa);
                    for (what, got, want) in [("scores", &s, &want_s), ("sums", &o, &want_o)] {
                        let differs = got
                            .iter()
                            .zip(want.iter())
                            .position(|(a, b)| a.to_bits() != b.to_bits());
                        assert_eq!(
                            differs, None,
                            "{isa:?} {what}, {heads} heads, hd {hd}, {n} keys"
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "cached rows past their data")]
    fn rows_past_the_data_are_refused() {
        let data = vec![0f32; 100];
        let mut out = vec![0f32; 8];
        let keys = KvRows::F32(Rows {
            data: &data,
            stride: 64,
            n: 2,
        });
        scores(
            Isa::available()[Isa::available().len() - 1],
            &[0.0; 64],
            64,
            keys,
            &mut out,
            4,
        );
    }
}
