//! Attention's kernels on AVX2 + F16C (see `float.rs`): eight 8-lane sums in registers, over
//! a tile of heads × keys (scores) or heads × output chunks (value sums). Multiplies and adds
//! stay separate instructions, in the portable kernels' order, so the bits match them.

use std::arch::x86_64::*;

use super::float_rows::{sum_lanes, Elem, Rows};

/// Eight values of a cached row from `p`, as f32.
#[inline(always)]
unsafe fn load8<E: Elem>(p: *const E) -> __m256 {
    if E::F16 {
        _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i))
    } else {
        _mm256_loadu_ps(p as *const f32)
    }
}

/// Each of the eight vectors' lanes summed in lane order (as `float_rows::sum_lanes`): an 8×8
/// transpose, then seven adds.
#[inline(always)]
unsafe fn sum_lanes8(v: [__m256; 8]) -> __m256 {
    let a0 = _mm256_unpacklo_ps(v[0], v[1]);
    let a1 = _mm256_unpackhi_ps(v[0], v[1]);
    let a2 = _mm256_unpacklo_ps(v[2], v[3]);
    let a3 = _mm256_unpackhi_ps(v[2], v[3]);
    let a4 = _mm256_unpacklo_ps(v[4], v[5]);
    let a5 = _mm256_unpackhi_ps(v[4], v[5]);
    let a6 = _mm256_unpacklo_ps(v[6], v[7]);
    let a7 = _mm256_unpackhi_ps(v[6], v[7]);
    let b0 = _mm256_shuffle_ps::<0x44>(a0, a2);
    let b1 = _mm256_shuffle_ps::<0xEE>(a0, a2);
    let b2 = _mm256_shuffle_ps::<0x44>(a1, a3);
    let b3 = _mm256_shuffle_ps::<0xEE>(a1, a3);
    let b4 = _mm256_shuffle_ps::<0x44>(a4, a6);
    let b5 = _mm256_shuffle_ps::<0xEE>(a4, a6);
    let b6 = _mm256_shuffle_ps::<0x44>(a5, a7);
    let b7 = _mm256_shuffle_ps::<0xEE>(a5, a7);
    // Lane j of column c holds lane c of vector j.
    let col = [
        _mm256_permute2f128_ps::<0x20>(b0, b4),
        _mm256_permute2f128_ps::<0x20>(b1, b5),
        _mm256_permute2f128_ps::<0x20>(b2, b6),
        _mm256_permute2f128_ps::<0x20>(b3, b7),
        _mm256_permute2f128_ps::<0x31>(b0, b4),
        _mm256_permute2f128_ps::<0x31>(b1, b5),
        _mm256_permute2f128_ps::<0x31>(b2, b6),
        _mm256_permute2f128_ps::<0x31>(b3, b7),
    ];
    col[1..].iter().fold(col[0], |s, &c| _mm256_add_ps(s, c))
}

/// See `float::scores`; the caller has checked the bounds.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn scores<E: Elem>(
    q: &[f32],
    hd: usize,
    keys: Rows<E>,
    out: &mut [f32],
    out_stride: usize,
) {
    let heads = q.len() / hd;
    let mut h = 0;
    while h < heads {
        let q = q.as_ptr().add(h * hd);
        let out = out.as_mut_ptr().add(h * out_stride);
        h += match heads - h {
            8.. => scores_heads::<E, 8, 1>(q, hd, keys, out, out_stride),
            4.. => scores_heads::<E, 4, 2>(q, hd, keys, out, out_stride),
            2.. => scores_heads::<E, 2, 4>(q, hd, keys, out, out_stride),
            _ => scores_heads::<E, 1, 8>(q, hd, keys, out, out_stride),
        };
    }
}

/// The scores of `R` heads, `K` keys at a time (`R · K = 8` sums), then the last keys one at
/// a time. Returns `R`.
#[inline(always)]
unsafe fn scores_heads<E: Elem, const R: usize, const K: usize>(
    q: *const f32,
    hd: usize,
    keys: Rows<E>,
    out: *mut f32,
    out_stride: usize,
) -> usize {
    let mut i = 0;
    while i + K <= keys.n {
        scores_tile::<E, R, K>(q, hd, keys, i, out, out_stride);
        i += K;
    }
    while i < keys.n {
        scores_tile::<E, R, 1>(q, hd, keys, i, out, out_stride);
        i += 1;
    }
    R
}

#[inline(always)]
unsafe fn scores_tile<E: Elem, const R: usize, const K: usize>(
    q: *const f32,
    hd: usize,
    keys: Rows<E>,
    i: usize,
    out: *mut f32,
    out_stride: usize,
) {
    let key = |j: usize| keys.data.as_ptr().add((i + j) * keys.stride);
    let mut acc = [[_mm256_setzero_ps(); K]; R];
    let whole = hd / 8 * 8;
    let mut d = 0;
    while d < whole {
        let k: [__m256; K] = std::array::from_fn(|j| load8(key(j).add(d)));
        for (r, acc) in acc.iter_mut().enumerate() {
            let qv = _mm256_loadu_ps(q.add(r * hd + d));
            for j in 0..K {
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(qv, k[j]));
            }
        }
        d += 8;
    }
    let tail = |r: usize, j: usize| {
        let mut row = [0f32; 8];
        E::to_f32_slice(
            std::slice::from_raw_parts(key(j).add(whole), hd - whole),
            &mut row[..hd - whole],
        );
        (whole..hd)
            .map(|e| *q.add(r * hd + e) * row[e - whole])
            .sum::<f32>()
    };
    // Sum x is head x / K against key x % K (R · K ≤ 8).
    let mut sums = [0f32; 8];
    if R * K == 8 {
        let flat: [__m256; 8] = std::array::from_fn(|x| acc[x / K][x % K]);
        _mm256_storeu_ps(sums.as_mut_ptr(), sum_lanes8(flat));
    } else {
        for (x, sum) in sums.iter_mut().enumerate().take(R * K) {
            let mut lanes = [0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc[x / K][x % K]);
            *sum = sum_lanes(lanes);
        }
    }
    for (x, &sum) in sums.iter().enumerate().take(R * K) {
        let (r, j) = (x / K, x % K);
        *out.add(r * out_stride + i + j) = if whole < hd { sum + tail(r, j) } else { sum };
    }
}

/// Keys per pass of [`accumulate`]: the pass reads their value rows side by side, front to
/// back (as the prefetchers expect), while each output chunk stays in registers for all of
/// them.
const KEY_GROUP: usize = 8;

/// See `float::accumulate`; the caller has checked the bounds.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn accumulate<E: Elem>(
    w: &[f32],
    w_stride: usize,
    values: Rows<E>,
    hd: usize,
    out: &mut [f32],
) {
    let heads = out.len() / hd;
    let row_bytes = hd * std::mem::size_of::<E>();
    let mut first = 0;
    while first < values.n {
        let n = KEY_GROUP.min(values.n - first);
        // The passes cross the rows, which the prefetchers do not follow: fetch the next
        // group's rows now.
        for i in first + n..(first + 2 * n).min(values.n) {
            let row = values.data.as_ptr().add(i * values.stride) as *const i8;
            for at in (0..row_bytes).step_by(64) {
                _mm_prefetch::<_MM_HINT_T0>(row.add(at));
            }
        }
        let mut h = 0;
        while h < heads {
            let w = w.as_ptr().add(h * w_stride + first);
            let out = out.as_mut_ptr().add(h * hd);
            let v = values.data.as_ptr().add(first * values.stride);
            let rows = (v, values.stride, n);
            h += match heads - h {
                8.. => accumulate_heads::<E, 8, 1>(w, w_stride, rows, hd, out),
                4.. => accumulate_heads::<E, 4, 2>(w, w_stride, rows, hd, out),
                2.. => accumulate_heads::<E, 2, 4>(w, w_stride, rows, hd, out),
                _ => accumulate_heads::<E, 1, 8>(w, w_stride, rows, hd, out),
            };
        }
        first += n;
    }
}

/// `R` heads' sums over `n` value rows, `C` chunks of 8 outputs at a time (`R · C = 8` sums),
/// then the last chunks one at a time, then the last outputs alone. Returns `R`.
#[inline(always)]
unsafe fn accumulate_heads<E: Elem, const R: usize, const C: usize>(
    w: *const f32,
    w_stride: usize,
    (v, stride, n): (*const E, usize, usize),
    hd: usize,
    out: *mut f32,
) -> usize {
    let whole = hd / 8 * 8;
    let mut d = 0;
    while d + 8 * C <= whole {
        accumulate_tile::<E, R, C>(w, w_stride, (v, stride, n), d, hd, out);
        d += 8 * C;
    }
    while d < whole {
        accumulate_tile::<E, R, 1>(w, w_stride, (v, stride, n), d, hd, out);
        d += 8;
    }
    if whole < hd {
        let mut row = [0f32; 8];
        for i in 0..n {
            let vi = std::slice::from_raw_parts(v.add(i * stride + whole), hd - whole);
            E::to_f32_slice(vi, &mut row[..hd - whole]);
            for r in 0..R {
                let wi = *w.add(r * w_stride + i);
                for e in whole..hd {
                    *out.add(r * hd + e) += wi * row[e - whole];
                }
            }
        }
    }
    R
}

#[inline(always)]
unsafe fn accumulate_tile<E: Elem, const R: usize, const C: usize>(
    w: *const f32,
    w_stride: usize,
    (v, stride, n): (*const E, usize, usize),
    d: usize,
    hd: usize,
    out: *mut f32,
) {
    let at = |r: usize, c: usize| out.add(r * hd + d + 8 * c);
    let mut acc: [[__m256; C]; R] =
        std::array::from_fn(|r| std::array::from_fn(|c| _mm256_loadu_ps(at(r, c))));
    for i in 0..n {
        let row = v.add(i * stride + d);
        let x: [__m256; C] = std::array::from_fn(|c| load8(row.add(8 * c)));
        for (r, acc) in acc.iter_mut().enumerate() {
            let wi = _mm256_broadcast_ss(&*w.add(r * w_stride + i));
            for c in 0..C {
                acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(wi, x[c]));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (c, &a) in acc.iter().enumerate() {
            _mm256_storeu_ps(at(r, c), a);
        }
    }
}
