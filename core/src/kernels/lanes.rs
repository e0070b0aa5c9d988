//! Products of sixteen weight rows at once on AVX-512 VNNI, one row per 32-bit lane, for
//! Q4_0, Q5_0 and Q8_0 weights.
//!
//! A block of sixteen rows is transposed on the fly from the file's blocks: register `g` holds
//! quants `4g..4g + 4` of every row, made unsigned by an offset (Q4_0 +8, Q5_0 +16, Q8_0 +128).
//! An activation block then meets all sixteen rows with eight `vpdpbusd` whose second operand
//! is four broadcast activation quants, and one multiply-add applies the two scales: about
//! eleven instructions per 512 multiply-adds, where a row at a time needs a horizontal sum per
//! product. The offset's share, `offset · Σy`, is where each block's integer sum starts.
//!
//! A group's blocks are transposed once per product into a per-thread scratch (the weights stay
//! in the mapped file) and every token streams past them, so this is for prefill: for a single
//! token the transposition is not repaid and the one-row kernels are faster (14.0 against
//! 11.6 tok/s on the 2B-shaped Q4_0, one thread). A token's result does not depend on the
//! tokens beside it, so prefill in chunks of any size gives the same bits.

use std::arch::x86_64::*;
use std::cell::RefCell;

use super::{BlockQ8_0, Q4_0_BYTES, Q5_0_BYTES, Q8_0_BYTES, QK8_0};

/// Weight rows per group: one per 32-bit lane of a 512-bit register.
pub const GROUP: usize = 16;

/// Tokens whose sums stay in registers while a group's blocks stream past.
const TOKEN_TILE: usize = 8;

/// Whether this CPU runs these kernels (detected once; `GEMKIT_ISA` below AVX-512 VNNI turns
/// them off with the rest).
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        super::detected() == super::Isa::Avx512Vnni && is_x86_feature_detected!("avx512bitalg")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneType {
    Q4_0,
    Q5_0,
    Q8_0,
}

impl LaneType {
    fn offset(self) -> i32 {
        match self {
            LaneType::Q4_0 => 8,
            LaneType::Q5_0 => 16,
            LaneType::Q8_0 => 128,
        }
    }
}

/// One activation block, ready for the kernels.
#[derive(Clone, Copy)]
#[repr(C)]
struct ActBlock {
    qs: [i8; QK8_0],
    /// `-offset · Σqs`: where the block's integer sum starts.
    correction: i32,
    d: f32,
}

/// Activation rows quantized to Q8_0 and prepared for one weight type.
pub struct LaneActivations {
    blocks: usize,
    data: Vec<ActBlock>,
}

impl LaneActivations {
    /// `x` holds rows of `blocks` Q8_0 blocks each.
    pub fn new(ty: LaneType, x: &[BlockQ8_0], blocks: usize) -> LaneActivations {
        assert!(blocks > 0 && x.len().is_multiple_of(blocks));
        let offset = ty.offset();
        let data = x
            .iter()
            .map(|b| ActBlock {
                qs: b.qs,
                correction: -offset * b.qs.iter().map(|&q| q as i32).sum::<i32>(),
                d: b.d.to_f32(),
            })
            .collect();
        LaneActivations { blocks, data }
    }

    pub fn rows(&self) -> usize {
        self.data.len() / self.blocks
    }
}

/// One block of a group, transposed: lane `j` of `q[g]` holds quants `4g..4g + 4` of row `j`,
/// unsigned; lane `j` of `d` its scale.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct GroupBlock {
    q: [__m512i; 8],
    d: __m512,
}

thread_local! {
    /// A group's transposed blocks during a prefill product (288 KB for 16384 columns).
    static SCRATCH: RefCell<Vec<GroupBlock>> = const { RefCell::new(Vec::new()) };
}

/// `y[t · stride + j]` = row `r0 + j` of `w` (rows of `row_bytes`) · activation row `t`, for
/// the sixteen rows of a group and every activation row.
///
/// # Safety
/// The CPU passes [`available`]; rows `r0..r0 + 16` exist in `w` with one `ty` block per
/// activation block; `y` is valid for writes at those indices.
pub unsafe fn group_product(
    ty: LaneType,
    w: &[u8],
    row_bytes: usize,
    r0: usize,
    acts: &LaneActivations,
    y: *mut f32,
    stride: usize,
) {
    debug_assert!((r0 + GROUP) * row_bytes <= w.len());
    let rows = Rows::new(w.as_ptr().add(r0 * row_bytes), row_bytes);
    match ty {
        LaneType::Q4_0 => product::<Q4>(rows, acts, y, stride),
        LaneType::Q5_0 => product::<Q5>(rows, acts, y, stride),
        LaneType::Q8_0 => product::<Q8>(rows, acts, y, stride),
    }
}

/// Sixteen weight rows: the first one's address and the byte offset of each.
#[derive(Clone, Copy)]
struct Rows {
    base: *const u8,
    row_bytes: usize,
    offsets: __m512i,
}

impl Rows {
    #[target_feature(enable = "avx512f")]
    unsafe fn new(base: *const u8, row_bytes: usize) -> Rows {
        let r = row_bytes as i32;
        let offsets = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32(r),
        );
        Rows {
            base,
            row_bytes,
            offsets,
        }
    }

    #[inline(always)]
    unsafe fn at(&self, row: usize, byte: usize) -> *const u8 {
        self.base.add(row * self.row_bytes + byte)
    }

    /// The four bytes at `byte` of every row, one row per lane.
    #[inline(always)]
    unsafe fn gather(&self, byte: usize) -> __m512i {
        _mm512_i32gather_epi32::<1>(self.offsets, self.base.add(byte).cast())
    }

    /// The f16 at `byte` of every row, as f32 lanes.
    #[inline(always)]
    unsafe fn scales(&self, byte: usize) -> __m512 {
        _mm512_cvtph_ps(_mm512_cvtepi32_epi16(self.gather(byte)))
    }

    /// The sixteen bytes at `byte` of every row, transposed: lane `j` of result `k` holds bytes
    /// `4k..4k + 4` of row `j`.
    #[inline(always)]
    unsafe fn transpose16(&self, byte: usize) -> [__m512i; 4] {
        // z[r], 128-bit lane l: row 4l + r.
        let z: [__m512i; 4] = std::array::from_fn(|r| {
            let v = _mm512_castsi128_si512(_mm_loadu_si128(self.at(r, byte).cast()));
            let v = _mm512_inserti32x4::<1>(v, _mm_loadu_si128(self.at(4 + r, byte).cast()));
            let v = _mm512_inserti32x4::<2>(v, _mm_loadu_si128(self.at(8 + r, byte).cast()));
            _mm512_inserti32x4::<3>(v, _mm_loadu_si128(self.at(12 + r, byte).cast()))
        });
        let t0 = _mm512_unpacklo_epi32(z[0], z[1]);
        let t1 = _mm512_unpackhi_epi32(z[0], z[1]);
        let t2 = _mm512_unpacklo_epi32(z[2], z[3]);
        let t3 = _mm512_unpackhi_epi32(z[2], z[3]);
        [
            _mm512_unpacklo_epi64(t0, t2),
            _mm512_unpackhi_epi64(t0, t2),
            _mm512_unpacklo_epi64(t1, t3),
            _mm512_unpackhi_epi64(t1, t3),
        ]
    }
}

/// A weight type whose block transposes into a [`GroupBlock`].
trait LaneBlock {
    const BYTES: usize;
    unsafe fn load(rows: &Rows, at: usize) -> GroupBlock;
}

struct Q4;
struct Q5;
struct Q8;

/// The low nibbles of `packed` (quants 0..16 of a block) then its high nibbles (16..32).
#[inline(always)]
unsafe fn nibbles(packed: [__m512i; 4]) -> [__m512i; 8] {
    let m = _mm512_set1_epi8(0xF);
    std::array::from_fn(|g| {
        let v = packed[g % 4];
        if g < 4 {
            _mm512_and_si512(v, m)
        } else {
            _mm512_and_si512(_mm512_srli_epi16::<4>(v), m)
        }
    })
}

impl LaneBlock for Q4 {
    const BYTES: usize = Q4_0_BYTES;
    #[inline(always)]
    unsafe fn load(rows: &Rows, at: usize) -> GroupBlock {
        GroupBlock {
            q: nibbles(rows.transpose16(at + 2)),
            d: rows.scales(at),
        }
    }
}

impl LaneBlock for Q5 {
    const BYTES: usize = Q5_0_BYTES;
    #[inline(always)]
    unsafe fn load(rows: &Rows, at: usize) -> GroupBlock {
        let mut q = nibbles(rows.transpose16(at + 6));
        // Bit i of a row's 32-bit `qh` is quant i's fifth bit: byte e of lane j in q[g] takes
        // bit 4g + e of row j, each 64-bit lane holding two rows.
        let high = rows.gather(at + 2);
        for (g, v) in q.iter_mut().enumerate() {
            let b = 4 * g as i64;
            let pick = |e: i64| (b + e) << (8 * e) | (32 + b + e) << (8 * (e + 4));
            let control = _mm512_set1_epi64(pick(0) | pick(1) | pick(2) | pick(3));
            let set = _mm512_bitshuffle_epi64_mask(high, control);
            *v = _mm512_mask_add_epi8(*v, set, *v, _mm512_set1_epi8(0x10));
        }
        GroupBlock {
            q,
            d: rows.scales(at),
        }
    }
}

impl LaneBlock for Q8 {
    const BYTES: usize = Q8_0_BYTES;
    #[inline(always)]
    unsafe fn load(rows: &Rows, at: usize) -> GroupBlock {
        let [a, b] = [rows.transpose16(at + 2), rows.transpose16(at + 18)];
        let flip = _mm512_set1_epi8(0x80u8 as i8);
        GroupBlock {
            q: std::array::from_fn(|g| _mm512_xor_si512(if g < 4 { a[g] } else { b[g - 4] }, flip)),
            d: rows.scales(at),
        }
    }
}

/// Adds block `b`'s share to the sums of `T` tokens, whose activation rows start at `xs`.
#[inline(always)]
unsafe fn accumulate<const T: usize>(
    sums: &mut [__m512; T],
    block: &GroupBlock,
    xs: &[*const ActBlock; T],
    b: usize,
) {
    for t in 0..T {
        let x = &*xs[t].add(b);
        let quads = x.qs.as_ptr().cast::<i32>();
        let mut dot = _mm512_set1_epi32(x.correction);
        for g in 0..8 {
            let y = _mm512_set1_epi32(quads.add(g).read_unaligned());
            dot = _mm512_dpbusd_epi32(dot, block.q[g], y);
        }
        let scale = _mm512_mul_ps(block.d, _mm512_set1_ps(x.d));
        sums[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, sums[t]);
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512bitalg,f16c")]
unsafe fn product<B: LaneBlock>(rows: Rows, acts: &LaneActivations, y: *mut f32, stride: usize) {
    let n = acts.rows();
    let token = |t: usize| acts.data.as_ptr().add(t * acts.blocks);
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        scratch.extend((0..acts.blocks).map(|b| B::load(&rows, b * B::BYTES)));
        for t0 in (0..n).step_by(TOKEN_TILE) {
            let y = y.add(t0 * stride);
            match n - t0 {
                1 => tile::<1>(scratch, token(t0), acts.blocks, y, stride),
                2 => tile::<2>(scratch, token(t0), acts.blocks, y, stride),
                3 => tile::<3>(scratch, token(t0), acts.blocks, y, stride),
                4 => tile::<4>(scratch, token(t0), acts.blocks, y, stride),
                5 => tile::<5>(scratch, token(t0), acts.blocks, y, stride),
                6 => tile::<6>(scratch, token(t0), acts.blocks, y, stride),
                7 => tile::<7>(scratch, token(t0), acts.blocks, y, stride),
                _ => tile::<TOKEN_TILE>(scratch, token(t0), acts.blocks, y, stride),
            }
        }
    });
}

/// `T` consecutive tokens, the first at `x`, against a group's transposed blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn tile<const T: usize>(
    blocks: &[GroupBlock],
    x: *const ActBlock,
    per_token: usize,
    y: *mut f32,
    stride: usize,
) {
    let xs: [*const ActBlock; T] = std::array::from_fn(|t| x.add(t * per_token));
    let mut sums = [_mm512_setzero_ps(); T];
    for (b, block) in blocks.iter().enumerate() {
        accumulate(&mut sums, block, &xs, b);
    }
    for (t, s) in sums.iter().enumerate() {
        _mm512_storeu_ps(y.add(t * stride), *s);
    }
}
