//! The tiles of attention's kernels (see `float.rs`), written once over [`Lanes8`], a vector
//! of eight f32 lanes that each ISA provides: eight sums in registers, over heads × keys
//! (scores) or heads × output chunks (value sums). Multiplies and adds stay separate, in the
//! portable kernels' order, so every ISA gives their bits. Each ISA's file instantiates these
//! bodies inside its `#[target_feature]` functions.

use super::float_rows::{sum_lanes, Elem, Rows};

/// Eight f32 lanes (one register or two) and what the tiles do with them.
pub(super) trait Lanes8: Copy {
    unsafe fn zero() -> Self;
    unsafe fn load(p: *const f32) -> Self;
    /// Eight values of a cached row, as f32.
    unsafe fn load_row<E: Elem>(p: *const E) -> Self;
    /// `*p` in every lane.
    unsafe fn splat(p: *const f32) -> Self;
    unsafe fn add(self, other: Self) -> Self;
    unsafe fn mul(self, other: Self) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// Each vector's lanes summed in lane order (as `float_rows::sum_lanes`).
    #[inline(always)]
    unsafe fn sum_each(v: [Self; 8]) -> [f32; 8] {
        std::array::from_fn(|x| {
            let mut lanes = [0f32; 8];
            v[x].store(lanes.as_mut_ptr());
            sum_lanes(lanes)
        })
    }
    /// A hint that the row at `p` of `bytes` is read soon.
    #[inline(always)]
    unsafe fn prefetch_row(_p: *const u8, _bytes: usize) {}
}

/// `float::scores` once the caller has checked the bounds.
#[inline(always)]
pub(super) unsafe fn scores<V: Lanes8, E: Elem>(
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
            8.. => scores_heads::<V, E, 8, 1>(q, hd, keys, out, out_stride),
            4.. => scores_heads::<V, E, 4, 2>(q, hd, keys, out, out_stride),
            2.. => scores_heads::<V, E, 2, 4>(q, hd, keys, out, out_stride),
            _ => scores_heads::<V, E, 1, 8>(q, hd, keys, out, out_stride),
        };
    }
}

/// The scores of `R` heads, `K` keys at a time (`R · K = 8` sums), then the last keys one at
/// a time. Returns `R`.
#[inline(always)]
unsafe fn scores_heads<V: Lanes8, E: Elem, const R: usize, const K: usize>(
    q: *const f32,
    hd: usize,
    keys: Rows<E>,
    out: *mut f32,
    out_stride: usize,
) -> usize {
    let mut i = 0;
    while i + K <= keys.n {
        scores_tile::<V, E, R, K>(q, hd, keys, i, out, out_stride);
        i += K;
    }
    while i < keys.n {
        scores_tile::<V, E, R, 1>(q, hd, keys, i, out, out_stride);
        i += 1;
    }
    R
}

#[inline(always)]
unsafe fn scores_tile<V: Lanes8, E: Elem, const R: usize, const K: usize>(
    q: *const f32,
    hd: usize,
    keys: Rows<E>,
    i: usize,
    out: *mut f32,
    out_stride: usize,
) {
    let key = |j: usize| keys.data.as_ptr().add((i + j) * keys.stride);
    let mut acc = [[V::zero(); K]; R];
    let whole = hd / 8 * 8;
    let mut d = 0;
    while d < whole {
        let k: [V; K] = std::array::from_fn(|j| V::load_row(key(j).add(d)));
        for (r, acc) in acc.iter_mut().enumerate() {
            let qv = V::load(q.add(r * hd + d));
            for j in 0..K {
                acc[j] = acc[j].add(qv.mul(k[j]));
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
    let sums = V::sum_each(std::array::from_fn(|x| {
        if x < R * K {
            acc[x / K][x % K]
        } else {
            V::zero()
        }
    }));
    for (x, &sum) in sums.iter().enumerate().take(R * K) {
        let (r, j) = (x / K, x % K);
        *out.add(r * out_stride + i + j) = if whole < hd { sum + tail(r, j) } else { sum };
    }
}

/// Keys per pass of [`accumulate`]: the pass reads their value rows side by side, front to
/// back (as the prefetchers expect), while each output chunk stays in registers for all of
/// them.
const KEY_GROUP: usize = 8;

/// `float::accumulate` once the caller has checked the bounds.
#[inline(always)]
pub(super) unsafe fn accumulate<V: Lanes8, E: Elem>(
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
            V::prefetch_row(
                values.data.as_ptr().add(i * values.stride) as *const u8,
                row_bytes,
            );
        }
        let mut h = 0;
        while h < heads {
            let w = w.as_ptr().add(h * w_stride + first);
            let out = out.as_mut_ptr().add(h * hd);
            let v = values.data.as_ptr().add(first * values.stride);
            let rows = (v, values.stride, n);
            h += match heads - h {
                8.. => accumulate_heads::<V, E, 8, 1>(w, w_stride, rows, hd, out),
                4.. => accumulate_heads::<V, E, 4, 2>(w, w_stride, rows, hd, out),
                2.. => accumulate_heads::<V, E, 2, 4>(w, w_stride, rows, hd, out),
                _ => accumulate_heads::<V, E, 1, 8>(w, w_stride, rows, hd, out),
            };
        }
        first += n;
    }
}

/// `R` heads' sums over `n` value rows, `C` chunks of 8 outputs at a time (`R · C = 8` sums),
/// then the last chunks one at a time, then the last outputs alone. Returns `R`.
#[inline(always)]
unsafe fn accumulate_heads<V: Lanes8, E: Elem, const R: usize, const C: usize>(
    w: *const f32,
    w_stride: usize,
    (v, stride, n): (*const E, usize, usize),
    hd: usize,
    out: *mut f32,
) -> usize {
    let whole = hd / 8 * 8;
    let mut d = 0;
    while d + 8 * C <= whole {
        accumulate_tile::<V, E, R, C>(w, w_stride, (v, stride, n), d, hd, out);
        d += 8 * C;
    }
    while d < whole {
        accumulate_tile::<V, E, R, 1>(w, w_stride, (v, stride, n), d, hd, out);
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
unsafe fn accumulate_tile<V: Lanes8, E: Elem, const R: usize, const C: usize>(
    w: *const f32,
    w_stride: usize,
    (v, stride, n): (*const E, usize, usize),
    d: usize,
    hd: usize,
    out: *mut f32,
) {
    let at = |r: usize, c: usize| out.add(r * hd + d + 8 * c);
    let mut acc: [[V; C]; R] = std::array::from_fn(|r| std::array::from_fn(|c| V::load(at(r, c))));
    for i in 0..n {
        let row = v.add(i * stride + d);
        let x: [V; C] = std::array::from_fn(|c| V::load_row(row.add(8 * c)));
        for (r, acc) in acc.iter_mut().enumerate() {
            let wi = V::splat(w.add(r * w_stride + i));
            for c in 0..C {
                acc[c] = acc[c].add(wi.mul(x[c]));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (c, &a) in acc.iter().enumerate() {
            a.store(at(r, c));
        }
    }
}
