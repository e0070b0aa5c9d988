//! Products of sixteen weight rows at once on AVX-512 VNNI, one row per 32-bit lane, for
//! Q4_0, Q5_0, Q8_0, Q4_K and Q6_K weights.
//!
//! A block of sixteen rows is transposed on the fly from the file's blocks: register `g` holds
//! quants `4g..4g + 4` of every row, made unsigned by an offset (Q4_0 +8, Q5_0 +16, Q8_0 +128).
//! An activation block then meets all sixteen rows with eight `vpdpbusd` whose second operand
//! is four broadcast activation quants, and one multiply-add applies the two scales: about
//! eleven instructions per 512 multiply-adds, where a row at a time needs a horizontal sum per
//! product. The offset's share, `offset · Σy`, is where each block's integer sum starts.
//!
//! K-quant super-blocks sum their sub-blocks' integer products times the sub-block scales in
//! 32-bit lanes (exact), then apply the super-block scale once, as llama.cpp does; Q4_K's mins
//! meet the activations' sums with `vpdpwssd`.
//!
//! A group's blocks are transposed once per product into a per-thread scratch (the weights stay
//! in the mapped file) and every token streams past them, so this is for prefill: for a single
//! token the transposition is not repaid and the one-row kernels are faster (14.0 against
//! 11.6 tok/s on the 2B-shaped Q4_0, one thread). A token's result does not depend on the
//! tokens beside it, so prefill in chunks of any size gives the same bits.

use std::arch::x86_64::*;
use std::cell::RefCell;

use super::blocks::{
    BlockQ8K, BlockQ8_0, Q4K_BYTES, Q4_0_BYTES, Q5_0_BYTES, Q6K_BYTES, Q8_0_BYTES, QK8_0, QK_K,
};

/// Weight rows per group: one per 32-bit lane of a 512-bit register.
pub const GROUP: usize = 16;

/// Tokens whose sums stay in registers while a group's blocks stream past.
const TOKEN_TILE: usize = 8;

/// Whether these kernels run with the family `isa` on this CPU: they need AVX-512 VNNI and
/// BITALG.
pub fn supported(isa: super::isa::Isa) -> bool {
    isa == super::isa::Isa::Avx512Vnni
        && isa.is_available()
        && is_x86_feature_detected!("avx512bitalg")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneType {
    Q4_0,
    Q5_0,
    Q8_0,
    Q4K,
    Q6K,
}

impl LaneType {
    /// Whether the activations are Q8_K super-blocks rather than Q8_0 blocks.
    pub fn is_k(self) -> bool {
        matches!(self, LaneType::Q4K | LaneType::Q6K)
    }

    fn offset(self) -> i32 {
        match self {
            LaneType::Q4_0 => 8,
            LaneType::Q5_0 => 16,
            LaneType::Q8_0 => 128,
            LaneType::Q4K | LaneType::Q6K => 0,
        }
    }
}

/// One Q8_0 activation block, ready for the kernels.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct ActBlock {
    qs: [i8; QK8_0],
    /// `-offset · Σqs`: where the block's integer sum starts.
    correction: i32,
    d: f32,
}

/// One Q8_K activation super-block, ready for the kernels.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct ActSuper {
    qs: [i8; QK_K],
    d: f32,
    /// `-32 · Σqs` of each 16: where each Q6_K sub-block's integer sum starts.
    q6_correction: [i32; 16],
    /// The sums of each 32 quants, two per 32-bit word as i16: Q4_K's mins meet them.
    sum_pairs: [i32; 4],
}

/// Activation rows quantized and prepared for one weight type: `blocks` of `A` per row.
pub struct LaneActivations<A> {
    blocks: usize,
    data: Vec<A>,
}

impl<A> LaneActivations<A> {
    pub fn rows(&self) -> usize {
        self.data.len() / self.blocks
    }
}

impl LaneActivations<ActBlock> {
    /// `x` holds rows of `blocks` Q8_0 blocks each, for weights of type `ty`.
    pub fn new(ty: LaneType, x: &[BlockQ8_0], blocks: usize) -> Self {
        assert!(!ty.is_k() && blocks > 0 && x.len().is_multiple_of(blocks));
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
}

impl LaneActivations<ActSuper> {
    /// `x` holds rows of `blocks` Q8_K super-blocks each.
    pub fn new_k(x: &[BlockQ8K], blocks: usize) -> Self {
        assert!(blocks > 0 && x.len().is_multiple_of(blocks));
        let data = x
            .iter()
            .map(|b| {
                let sum32 = |s: usize| b.bsums[2 * s] as i32 + b.bsums[2 * s + 1] as i32;
                ActSuper {
                    qs: b.qs,
                    d: b.d,
                    q6_correction: b.bsums.map(|s| -32 * s as i32),
                    sum_pairs: std::array::from_fn(|k| {
                        (sum32(2 * k) as u16 as u32 | (sum32(2 * k + 1) as u16 as u32) << 16) as i32
                    }),
                }
            })
            .collect();
        LaneActivations { blocks, data }
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

/// One Q4_K super-block of a group, transposed as [`GroupBlock`] is, with each lane's eight
/// sub-block scales and mins.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct GroupQ4K {
    q: [__m512i; 64],
    scales: [__m512i; 8],
    /// The mins of sub-blocks `2k` and `2k + 1`, two i16 per lane.
    mins: [__m512i; 4],
    d: __m512,
    neg_dmin: __m512,
}

/// One Q6_K super-block of a group, transposed as [`GroupBlock`] is, with each lane's sixteen
/// sub-block scales.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct GroupQ6K {
    q: [__m512i; 64],
    scales: [__m512i; 16],
    d: __m512,
}

/// The bytes of the transposed blocks a group of `ty` rows of `cols` columns takes in the
/// thread's scratch during a product (the memory estimate counts one per compute thread).
pub fn scratch_bytes(ty: LaneType, cols: usize) -> u64 {
    let (len, block) = match ty {
        LaneType::Q4_0 | LaneType::Q5_0 | LaneType::Q8_0 => {
            (QK8_0, std::mem::size_of::<GroupBlock>())
        }
        LaneType::Q4K => (QK_K, std::mem::size_of::<GroupQ4K>()),
        LaneType::Q6K => (QK_K, std::mem::size_of::<GroupQ6K>()),
    };
    (cols / len * block) as u64
}

/// The bytes this thread's scratch holds: the most any product on it has needed.
pub fn thread_scratch_bytes() -> u64 {
    SCRATCH.with_borrow(|s| (s.capacity() * std::mem::size_of::<__m512i>()) as u64)
}
const _: () = assert!(std::mem::size_of::<GroupQ4K>() <= std::mem::size_of::<GroupQ6K>());
const _: () = assert!(8 * std::mem::size_of::<GroupBlock>() <= std::mem::size_of::<GroupQ6K>());

thread_local! {
    /// A group's transposed blocks during a product (295 KB for 16384 Q4_0 columns, 330 KB
    /// for Q6_K).
    static SCRATCH: RefCell<Vec<__m512i>> = const { RefCell::new(Vec::new()) };
}

/// `y[t · stride + j]` = row `r0 + j` of `w` (rows of `row_bytes`) · activation row `t`, for
/// the sixteen rows of a group and every activation row. Q4_0, Q5_0 and Q8_0 weights take
/// [`ActBlock`] activations, Q4_K and Q6_K take [`ActSuper`].
///
/// # Safety
/// The CPU passes [`supported`]; rows `r0..r0 + 16` exist in `w` with one `ty` block per
/// activation block; `y` is valid for writes at those indices.
pub unsafe fn group_product<A: LaneInput>(
    ty: LaneType,
    w: &[u8],
    row_bytes: usize,
    r0: usize,
    acts: &LaneActivations<A>,
    y: *mut f32,
    stride: usize,
) {
    debug_assert!((r0 + GROUP) * row_bytes <= w.len());
    let rows = Rows::new(w.as_ptr().add(r0 * row_bytes), row_bytes);
    A::product(ty, rows, acts, y, stride)
}

/// Activation blocks of the lane kernels: each kind runs the weight types that take it.
pub trait LaneInput: Sized {
    /// # Safety
    /// As for [`group_product`].
    unsafe fn product(
        ty: LaneType,
        rows: Rows,
        acts: &LaneActivations<Self>,
        y: *mut f32,
        stride: usize,
    );
}

impl LaneInput for ActBlock {
    unsafe fn product(
        ty: LaneType,
        rows: Rows,
        acts: &LaneActivations<Self>,
        y: *mut f32,
        stride: usize,
    ) {
        match ty {
            LaneType::Q4_0 => product::<Q4, _>(rows, acts, y, stride),
            LaneType::Q5_0 => product::<Q5, _>(rows, acts, y, stride),
            LaneType::Q8_0 => product::<Q8, _>(rows, acts, y, stride),
            LaneType::Q4K | LaneType::Q6K => unreachable!("K-quants take super-block activations"),
        }
    }
}

impl LaneInput for ActSuper {
    unsafe fn product(
        ty: LaneType,
        rows: Rows,
        acts: &LaneActivations<Self>,
        y: *mut f32,
        stride: usize,
    ) {
        match ty {
            LaneType::Q4K => product::<Q4K, _>(rows, acts, y, stride),
            LaneType::Q6K => product::<Q6K, _>(rows, acts, y, stride),
            _ => unreachable!("32-element types take block activations"),
        }
    }
}

/// Sixteen weight rows: the first one's address and the byte offset of each.
#[derive(Clone, Copy)]
pub struct Rows {
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

/// A weight type whose blocks transpose into `Block`s.
trait Lanes {
    type Block: Accumulate;
    const BYTES: usize;
    unsafe fn load(rows: &Rows, at: usize) -> Self::Block;
}

/// A transposed block that meets activation blocks of type `Act`.
trait Accumulate: Copy {
    type Act;
    /// Adds this block's share to the sums of `T` tokens, whose activation blocks are `xs`.
    unsafe fn accumulate<const T: usize>(&self, sums: &mut [__m512; T], xs: [&Self::Act; T]);
}

struct Q4;
struct Q5;
struct Q8;
struct Q4K;
struct Q6K;

/// The low nibbles of `packed` (quants 0..16 of a block) then its high nibbles (16..32).
#[inline(always)]
unsafe fn nibbles(packed: [__m512i; 4]) -> [__m512i; 8] {
    std::array::from_fn(|g| {
        if g < 4 {
            low_nibbles(packed[g])
        } else {
            high_nibbles(packed[g - 4])
        }
    })
}

#[inline(always)]
unsafe fn low_nibbles(v: __m512i) -> __m512i {
    _mm512_and_si512(v, _mm512_set1_epi8(0xF))
}

#[inline(always)]
unsafe fn high_nibbles(v: __m512i) -> __m512i {
    low_nibbles(_mm512_srli_epi16::<4>(v))
}

impl Lanes for Q4 {
    type Block = GroupBlock;
    const BYTES: usize = Q4_0_BYTES;
    #[inline(always)]
    unsafe fn load(rows: &Rows, at: usize) -> GroupBlock {
        GroupBlock {
            q: nibbles(rows.transpose16(at + 2)),
            d: rows.scales(at),
        }
    }
}

impl Lanes for Q5 {
    type Block = GroupBlock;
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

impl Lanes for Q8 {
    type Block = GroupBlock;
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

/// Each lane's 32-bit word shifted right by `n` bits.
#[inline(always)]
unsafe fn shr(v: __m512i, n: u32) -> __m512i {
    _mm512_srlv_epi32(v, _mm512_set1_epi32(n as i32))
}

#[inline(always)]
unsafe fn bits(v: __m512i, mask: i32) -> __m512i {
    _mm512_and_si512(v, _mm512_set1_epi32(mask))
}

impl Lanes for Q4K {
    type Block = GroupQ4K;
    const BYTES: usize = Q4K_BYTES;
    #[inline(always)]
    unsafe fn load(rows: &Rows, at: usize) -> GroupQ4K {
        // Quants: 32-byte runs at 16 + 32p, low nibbles sub-block 2p, high nibbles 2p + 1.
        let mut q = [_mm512_setzero_si512(); 64];
        for c in 0..8 {
            let (p, half) = (c / 2, c % 2);
            let t = rows.transpose16(at + 16 + 16 * c);
            for k in 0..4 {
                q[16 * p + 4 * half + k] = low_nibbles(t[k]);
                q[16 * p + 8 + 4 * half + k] = high_nibbles(t[k]);
            }
        }
        // Six-bit scales and mins of sub-blocks j and j + 4 from the 12 bytes at 4, as
        // `kernels::k4_scales_mins` unpacks them.
        let s = [
            rows.gather(at + 4),
            rows.gather(at + 8),
            rows.gather(at + 12),
        ];
        let mut scales = [_mm512_setzero_si512(); 8];
        let mut mins = [_mm512_setzero_si512(); 8];
        for j in 0..4 {
            let b = 8 * j as u32;
            scales[j] = bits(shr(s[0], b), 63);
            mins[j] = bits(shr(s[1], b), 63);
            let top = |v: __m512i| _mm512_slli_epi32::<4>(bits(shr(v, b + 6), 3));
            scales[j + 4] = _mm512_or_si512(bits(shr(s[2], b), 0xF), top(s[0]));
            mins[j + 4] = _mm512_or_si512(bits(shr(s[2], b + 4), 0xF), top(s[1]));
        }
        let d = rows.gather(at);
        GroupQ4K {
            q,
            scales,
            mins: std::array::from_fn(|k| {
                _mm512_or_si512(mins[2 * k], _mm512_slli_epi32::<16>(mins[2 * k + 1]))
            }),
            d: _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d)),
            neg_dmin: _mm512_sub_ps(
                _mm512_setzero_ps(),
                _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(d))),
            ),
        }
    }
}

impl Lanes for Q6K {
    type Block = GroupQ6K;
    const BYTES: usize = Q6K_BYTES;
    #[inline(always)]
    unsafe fn load(rows: &Rows, at: usize) -> GroupQ6K {
        // Each half of 128 quants: 64 bytes of low nibbles at 64h, 32 bytes of high bit pairs
        // at 128 + 32h. Quant 32Q + l (l < 32) takes nibble Q / 2 of byte l + 32(Q % 2) and
        // bits 2Q, 2Q + 1 of high byte l.
        let mut q = [_mm512_setzero_si512(); 64];
        for h in 0..2 {
            let low: [[__m512i; 4]; 4] =
                std::array::from_fn(|c| rows.transpose16(at + 64 * h + 16 * c));
            let high: [[__m512i; 4]; 2] =
                std::array::from_fn(|c| rows.transpose16(at + 128 + 32 * h + 16 * c));
            for quarter in 0..4 {
                for group in 0..8 {
                    let (c, k) = (group / 4, group % 4);
                    let l = low[c + 2 * (quarter % 2)][k];
                    let l = if quarter < 2 {
                        low_nibbles(l)
                    } else {
                        high_nibbles(l)
                    };
                    let hb = high[c][k];
                    let hb = match quarter {
                        0 => _mm512_slli_epi16::<4>(hb),
                        1 => _mm512_slli_epi16::<2>(hb),
                        2 => hb,
                        _ => _mm512_srli_epi16::<2>(hb),
                    };
                    let hb = _mm512_and_si512(hb, _mm512_set1_epi8(0x30));
                    q[32 * h + 8 * quarter + group] = _mm512_or_si512(l, hb);
                }
            }
        }
        // Sixteen signed 8-bit scales at 192; the f16 scale is the high half of the word at 206.
        let s = [
            rows.gather(at + 192),
            rows.gather(at + 196),
            rows.gather(at + 200),
            rows.gather(at + 204),
        ];
        GroupQ6K {
            q,
            scales: std::array::from_fn(|j| {
                let up = _mm512_sllv_epi32(s[j / 4], _mm512_set1_epi32(24 - 8 * (j % 4) as i32));
                _mm512_srai_epi32::<24>(up)
            }),
            d: _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(
                rows.gather(at + 206),
            ))),
        }
    }
}

/// The four activation quants `4g..4g + 4` of `qs`, in every lane.
#[inline(always)]
unsafe fn quad(qs: &[i8], g: usize) -> __m512i {
    _mm512_set1_epi32(qs.as_ptr().add(4 * g).cast::<i32>().read_unaligned())
}

impl Accumulate for GroupBlock {
    type Act = ActBlock;
    #[inline(always)]
    unsafe fn accumulate<const T: usize>(&self, sums: &mut [__m512; T], xs: [&ActBlock; T]) {
        for (sum, x) in sums.iter_mut().zip(xs) {
            let mut dot = _mm512_set1_epi32(x.correction);
            for g in 0..8 {
                dot = _mm512_dpbusd_epi32(dot, self.q[g], quad(&x.qs, g));
            }
            let scale = _mm512_mul_ps(self.d, _mm512_set1_ps(x.d));
            *sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, *sum);
        }
    }
}

// The K-quant blocks hold too many vectors to stay in registers, so each sub-block's quants
// meet all `T` tokens before the next sub-block's are loaded.

impl Accumulate for GroupQ4K {
    type Act = ActSuper;
    #[inline(always)]
    unsafe fn accumulate<const T: usize>(&self, sums: &mut [__m512; T], xs: [&ActSuper; T]) {
        let mut totals = [_mm512_setzero_si512(); T];
        for s in 0..8 {
            for (total, x) in totals.iter_mut().zip(xs) {
                let mut dot = _mm512_setzero_si512();
                for g in 8 * s..8 * s + 8 {
                    dot = _mm512_dpbusd_epi32(dot, self.q[g], quad(&x.qs, g));
                }
                *total = _mm512_add_epi32(*total, _mm512_mullo_epi32(dot, self.scales[s]));
            }
        }
        for ((sum, total), x) in sums.iter_mut().zip(totals).zip(xs) {
            let mut mins = _mm512_setzero_si512();
            for k in 0..4 {
                let pair = _mm512_set1_epi32(x.sum_pairs[k]);
                mins = _mm512_dpwssd_epi32(mins, self.mins[k], pair);
            }
            let dx = _mm512_set1_ps(x.d);
            *sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(self.d, dx), *sum);
            let dmin = _mm512_mul_ps(self.neg_dmin, dx);
            *sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mins), dmin, *sum);
        }
    }
}

impl Accumulate for GroupQ6K {
    type Act = ActSuper;
    #[inline(always)]
    unsafe fn accumulate<const T: usize>(&self, sums: &mut [__m512; T], xs: [&ActSuper; T]) {
        let mut totals = [_mm512_setzero_si512(); T];
        for j in 0..16 {
            for (total, x) in totals.iter_mut().zip(xs) {
                let mut dot = _mm512_set1_epi32(x.q6_correction[j]);
                for g in 4 * j..4 * j + 4 {
                    dot = _mm512_dpbusd_epi32(dot, self.q[g], quad(&x.qs, g));
                }
                *total = _mm512_add_epi32(*total, _mm512_mullo_epi32(dot, self.scales[j]));
            }
        }
        for ((sum, total), x) in sums.iter_mut().zip(totals).zip(xs) {
            let scale = _mm512_mul_ps(self.d, _mm512_set1_ps(x.d));
            *sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), scale, *sum);
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512bitalg,f16c")]
unsafe fn product<L: Lanes, A>(rows: Rows, acts: &LaneActivations<A>, y: *mut f32, stride: usize)
where
    L::Block: Accumulate<Act = A>,
{
    const { assert!(std::mem::size_of::<L::Block>() % 64 == 0) };
    let per_block = std::mem::size_of::<L::Block>() / 64;
    let n = acts.rows();
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        // Exactly what is needed: the memory estimate counts `scratch_bytes`.
        scratch.reserve_exact(acts.blocks * per_block);
        let blocks = scratch.as_mut_ptr().cast::<L::Block>();
        for b in 0..acts.blocks {
            blocks.add(b).write(L::load(&rows, b * L::BYTES));
        }
        // SAFETY: the reserved room now holds `acts.blocks` blocks, 64-byte aligned as the
        // vector type is.
        let blocks = std::slice::from_raw_parts(blocks, acts.blocks);
        for t0 in (0..n).step_by(TOKEN_TILE) {
            let x = &acts.data[t0 * acts.blocks..];
            let y = y.add(t0 * stride);
            match n - t0 {
                1 => tile::<_, 1>(blocks, x, acts.blocks, y, stride),
                2 => tile::<_, 2>(blocks, x, acts.blocks, y, stride),
                3 => tile::<_, 3>(blocks, x, acts.blocks, y, stride),
                4 => tile::<_, 4>(blocks, x, acts.blocks, y, stride),
                5 => tile::<_, 5>(blocks, x, acts.blocks, y, stride),
                6 => tile::<_, 6>(blocks, x, acts.blocks, y, stride),
                7 => tile::<_, 7>(blocks, x, acts.blocks, y, stride),
                _ => tile::<_, TOKEN_TILE>(blocks, x, acts.blocks, y, stride),
            }
        }
    });
}

/// `T` consecutive tokens, the first at `x`, against a group's transposed blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn tile<B: Accumulate, const T: usize>(
    blocks: &[B],
    x: &[B::Act],
    per_token: usize,
    y: *mut f32,
    stride: usize,
) {
    let mut sums = [_mm512_setzero_ps(); T];
    for (b, block) in blocks.iter().enumerate() {
        block.accumulate(&mut sums, std::array::from_fn(|t| &x[t * per_token + b]));
    }
    for (t, s) in sums.iter().enumerate() {
        _mm512_storeu_ps(y.add(t * stride), *s);
    }
}
