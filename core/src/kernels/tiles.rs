//! Tile products for Q4_0, Q5_0 and Q8_0 weights on AVX-512 VNNI: two weight rows against up
//! to four activation rows at once, each weight block pair decoded once per tile and each
//! activation block pair loaded once per tile.
//!
//! Weights are made unsigned by an offset (Q4_0 +8, Q5_0 +16, Q8_0 +128), so `vpdpbusd`
//! multiplies them with the activations as they are; the offset's share, `offset · Σy`, is
//! subtracted by starting each product from a correction computed once per activation row.
//! A weight-activation pair then costs four instructions per 64 weights, against about
//! thirteen for the sign trick of the one-row kernels.

use std::arch::x86_64::*;

use super::{BlockQ8_0, Q4_0_BYTES, Q5_0_BYTES, Q8_0_BYTES, QK8_0};

/// Whether this CPU runs the tile kernels (detected once; `GEMKIT_ISA` below AVX-512 VNNI
/// turns them off with the rest).
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        super::detected() == super::Isa::Avx512Vnni && is_x86_feature_detected!("avx512vbmi")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileType {
    Q4_0,
    Q5_0,
    Q8_0,
}

impl TileType {
    fn offset(self) -> i32 {
        match self {
            TileType::Q4_0 => 8,
            TileType::Q5_0 => 16,
            TileType::Q8_0 => 128,
        }
    }

    fn block_bytes(self) -> usize {
        match self {
            TileType::Q4_0 => Q4_0_BYTES,
            TileType::Q5_0 => Q5_0_BYTES,
            TileType::Q8_0 => Q8_0_BYTES,
        }
    }
}

/// Two activation blocks, ready for the tile kernel.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Pair {
    qs: [i8; 64],
    /// Per 32-bit lane: `-offset ·` the sum of the lane's four quants.
    correction: [i32; 16],
    /// Lanes 0..8 the first block's scale, lanes 8..16 the second's.
    scale: [f32; 16],
}

/// Activation rows quantized to Q8_0 and laid out in block pairs for one weight type.
pub struct TileActivations {
    ty: TileType,
    pairs: usize,
    data: Vec<Pair>,
}

impl TileActivations {
    /// `x` holds rows of `blocks` Q8_0 blocks each (an even number).
    pub fn new(ty: TileType, x: &[BlockQ8_0], blocks: usize) -> TileActivations {
        assert!(blocks.is_multiple_of(2) && x.len().is_multiple_of(blocks.max(1)));
        let offset = ty.offset();
        let data = x
            .chunks_exact(2)
            .map(|b| {
                let mut pair = Pair {
                    qs: [0; 64],
                    correction: [0; 16],
                    scale: [0.0; 16],
                };
                pair.qs[..QK8_0].copy_from_slice(&b[0].qs);
                pair.qs[QK8_0..].copy_from_slice(&b[1].qs);
                for (lane, quad) in pair.qs.chunks_exact(4).enumerate() {
                    pair.correction[lane] = -offset * quad.iter().map(|&q| q as i32).sum::<i32>();
                }
                pair.scale[..8].fill(b[0].d.to_f32());
                pair.scale[8..].fill(b[1].d.to_f32());
                pair
            })
            .collect();
        TileActivations {
            ty,
            pairs: blocks / 2,
            data,
        }
    }

    pub fn rows(&self) -> usize {
        self.data.len() / self.pairs.max(1)
    }
}

/// `out[c][r]` = row `r0 + r` of `w` (rows of `row_bytes`) · activation row `c0 + c`, for
/// `nr` weight rows and `nc` activation rows (each 1..=4).
///
/// # Safety
/// The CPU has AVX-512 F/BW/VL/VNNI/VBMI and F16C (see [`available`]); the rows exist in `w` and in `acts`, whose
/// block count matches the rows'.
pub unsafe fn tile(
    w: &[u8],
    row_bytes: usize,
    (r0, nr): (usize, usize),
    acts: &TileActivations,
    (c0, nc): (usize, usize),
    out: &mut [[f32; 4]; 4],
) {
    debug_assert!((r0 + nr) * row_bytes <= w.len() && c0 + nc <= acts.rows());
    debug_assert_eq!(row_bytes, acts.pairs * 2 * acts.ty.block_bytes());
    // Two weight rows by up to four activation rows per kernel call: with two accumulators
    // per product (see `tile_rc`) that is 16 of the 32 vector registers.
    macro_rules! go {
        ($block:ty, $r:literal, $r0:expr, $part:expr) => {
            match nc {
                4 => tile_rc::<$block, $r, 4>(w, row_bytes, $r0, acts, c0, $part),
                3 => tile_rc::<$block, $r, 3>(w, row_bytes, $r0, acts, c0, $part),
                2 => tile_rc::<$block, $r, 2>(w, row_bytes, $r0, acts, c0, $part),
                _ => tile_rc::<$block, $r, 1>(w, row_bytes, $r0, acts, c0, $part),
            }
        };
    }
    macro_rules! rows {
        ($block:ty) => {
            for r in (0..nr).step_by(2) {
                let mut part = [[0f32; 4]; 4];
                if nr - r >= 2 {
                    go!($block, 2, r0 + r, &mut part);
                } else {
                    go!($block, 1, r0 + r, &mut part);
                }
                for c in 0..nc {
                    for i in 0..(nr - r).min(2) {
                        out[c][r + i] = part[c][i];
                    }
                }
            }
        };
    }
    match acts.ty {
        TileType::Q4_0 => rows!(Q4),
        TileType::Q5_0 => rows!(Q5),
        TileType::Q8_0 => rows!(Q8),
    }
}

/// A weight type whose two consecutive blocks decode to 64 unsigned bytes and two scales.
trait UnsignedPair {
    const BYTES: usize;
    /// The quants, and the scales spread as [`Pair::scale`] is.
    unsafe fn decode(p: *const u8) -> (__m512i, __m512);
}

struct Q4;
struct Q5;
struct Q8;

/// Bytes `from..from + 16` of `v` twice, then bytes `to..to + 16` twice: the index for
/// `vpermb` that lines up two blocks' packed nibbles for [`nibbles`].
const fn twice(from: u8, to: u8) -> [u8; 64] {
    let mut idx = [0u8; 64];
    let mut i = 0;
    while i < 16 {
        idx[i] = from + i as u8;
        idx[16 + i] = from + i as u8;
        idx[32 + i] = to + i as u8;
        idx[48 + i] = to + i as u8;
        i += 1;
    }
    idx
}

/// Low nibbles of the first 16 bytes, their high nibbles, then the same for the next 16, from
/// `v` as [`twice`] arranged it.
#[inline(always)]
unsafe fn nibbles(v: __m512i) -> __m512i {
    let shift = _mm512_set_epi64(
        4 << 48 | 4 << 32 | 4 << 16 | 4,
        4 << 48 | 4 << 32 | 4 << 16 | 4,
        0,
        0,
        4 << 48 | 4 << 32 | 4 << 16 | 4,
        4 << 48 | 4 << 32 | 4 << 16 | 4,
        0,
        0,
    );
    _mm512_and_si512(_mm512_srlv_epi16(v, shift), _mm512_set1_epi8(0xF))
}

/// Both blocks' f16 scales, the 16-bit words `first` and `second` of `v`, as f32 lanes.
#[inline(always)]
unsafe fn scales(v: __m512i, first: i16, second: i16) -> __m512 {
    let (a, b) = (first, second);
    let idx = _mm512_set_epi16(
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b, b, b, b, b, b, b, b, a, a, a, a, a, a,
        a, a,
    );
    _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(idx, v)))
}

/// The bytes of two consecutive blocks, read without touching the bytes after them.
#[inline(always)]
unsafe fn load_pair<const BYTES: usize>(p: *const u8) -> __m512i {
    _mm512_maskz_loadu_epi8((1u64 << (2 * BYTES)) - 1, p.cast())
}

/// The nibbles of two blocks of `BYTES` whose packed quants start `QS_AT` bytes into each
/// block, and the raw bytes of both blocks.
#[inline(always)]
unsafe fn pair_nibbles<const BYTES: usize, const QS_AT: u8>(p: *const u8) -> (__m512i, __m512i) {
    let idx = const { twice(QS_AT, QS_AT + BYTES as u8) };
    let v = load_pair::<BYTES>(p);
    let q = nibbles(_mm512_permutexvar_epi8(
        _mm512_loadu_si512(idx.as_ptr().cast()),
        v,
    ));
    (q, v)
}

impl UnsignedPair for Q4 {
    const BYTES: usize = Q4_0_BYTES;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> (__m512i, __m512) {
        let (q, v) = pair_nibbles::<Q4_0_BYTES, 2>(p);
        (q, scales(v, 0, Q4_0_BYTES as i16 / 2))
    }
}

impl UnsignedPair for Q5 {
    const BYTES: usize = Q5_0_BYTES;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> (__m512i, __m512) {
        let (n, v) = pair_nibbles::<Q5_0_BYTES, 6>(p);
        let lo = p.add(2).cast::<u32>().read_unaligned() as u64;
        let hi = p.add(2 + Q5_0_BYTES).cast::<u32>().read_unaligned() as u64;
        let q = _mm512_mask_add_epi8(n, lo | (hi << 32), n, _mm512_set1_epi8(0x10));
        (q, scales(v, 0, Q5_0_BYTES as i16 / 2))
    }
}

impl UnsignedPair for Q8 {
    const BYTES: usize = Q8_0_BYTES;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> (__m512i, __m512) {
        let a = _mm256_loadu_si256(p.add(2).cast());
        let b = _mm256_loadu_si256(p.add(2 + Q8_0_BYTES).cast());
        let signed = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(a), b);
        let q = _mm512_xor_si512(signed, _mm512_set1_epi8(0x80u8 as i8));
        // The two scales are 34 bytes apart: words 0 and 17 of the 64 bytes from `p`.
        let d = _mm512_maskz_loadu_epi8(0b11 | 0b11 << Q8_0_BYTES, p.cast());
        (q, scales(d, 0, Q8_0_BYTES as i16 / 2))
    }
}

/// Sums in the order of the one-row kernel (`x86_512::blocks512`): even block pairs into one
/// accumulator, odd ones into another, added before the final reduction. A product is then
/// bit-identical whichever kernel computes it, so prefill and decode agree exactly.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,f16c")]
unsafe fn tile_rc<B: UnsignedPair, const R: usize, const C: usize>(
    w: &[u8],
    row_bytes: usize,
    r0: usize,
    acts: &TileActivations,
    c0: usize,
    out: &mut [[f32; 4]; 4],
) {
    let rows: [*const u8; R] = std::array::from_fn(|r| w.as_ptr().add((r0 + r) * row_bytes));
    let cols: [*const Pair; C] =
        std::array::from_fn(|c| acts.data.as_ptr().add((c0 + c) * acts.pairs));
    let mut acc = [[[_mm512_setzero_ps(); C]; R]; 2];
    for p in 0..acts.pairs {
        let mut wq = [_mm512_setzero_si512(); R];
        let mut wd = [_mm512_setzero_ps(); R];
        for r in 0..R {
            (wq[r], wd[r]) = B::decode(rows[r].add(2 * p * B::BYTES));
        }
        let acc = &mut acc[p % 2];
        for c in 0..C {
            let pair = &*cols[c].add(p);
            let y = _mm512_load_si512(pair.qs.as_ptr().cast());
            let correction = _mm512_load_si512(pair.correction.as_ptr().cast());
            let dy = _mm512_load_ps(pair.scale.as_ptr());
            for r in 0..R {
                let dot = _mm512_dpbusd_epi32(correction, wq[r], y);
                let d = _mm512_mul_ps(wd[r], dy);
                acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, acc[r][c]);
            }
        }
    }
    for r in 0..R {
        for c in 0..C {
            out[c][r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[0][r][c], acc[1][r][c]));
        }
    }
}
