//! What the f32 kernels (`float.rs` and each ISA's) read: rows of the KV cache in its element
//! type, and the order in which they add eight partial sums.

use half::f16;
use half::slice::HalfFloatSliceExt;

/// `a[0] + a[1] + … + a[7]`, in that order: the order the vector kernels reproduce.
#[inline(always)]
pub(super) fn sum_lanes(a: [f32; 8]) -> f32 {
    a[1..].iter().fold(a[0], |s, &v| s + v)
}

/// `n` rows of a KV cache, `stride` values apart, each `len` values long, starting at
/// `data[0]`.
#[derive(Clone, Copy)]
pub struct Rows<'a, E> {
    pub data: &'a [E],
    pub stride: usize,
    pub n: usize,
}

/// Cached rows in the cache's element type.
#[derive(Clone, Copy)]
pub enum KvRows<'a> {
    F16(Rows<'a, f16>),
    F32(Rows<'a, f32>),
}

impl KvRows<'_> {
    pub fn n(&self) -> usize {
        match self {
            KvRows::F16(r) => r.n,
            KvRows::F32(r) => r.n,
        }
    }

    /// Panics unless `n` rows of `len` values lie inside the data.
    pub(super) fn check(&self, len: usize) {
        let (data, stride, n) = match self {
            KvRows::F16(r) => (r.data.len(), r.stride, r.n),
            KvRows::F32(r) => (r.data.len(), r.stride, r.n),
        };
        assert!(
            n == 0 || (stride >= len && (n - 1) * stride + len <= data),
            "cached rows past their data"
        );
    }
}

/// A cache element the portable kernels convert a row of at once.
pub(super) trait Elem: Copy {
    /// Whether the rows are f16 (the SIMD kernels convert them in registers).
    const F16: bool;
    fn to_f32_slice(row: &[Self], out: &mut [f32]);
}

impl Elem for f16 {
    const F16: bool = true;
    fn to_f32_slice(row: &[f16], out: &mut [f32]) {
        row.convert_to_f32_slice(out)
    }
}

impl Elem for f32 {
    const F16: bool = false;
    fn to_f32_slice(row: &[f32], out: &mut [f32]) {
        out.copy_from_slice(row)
    }
}
