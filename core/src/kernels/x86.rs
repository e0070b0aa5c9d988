//! x86-64 kernels for the 32-element block types, in two tiers sharing one body each:
//! AVX2 (`vpmaddubsw` + `vpmaddwd`) and AVX-512 VNNI on 256-bit vectors (`vpdpbusd`,
//! `vpmovm2b`). Every body is `#[inline(always)]` generic over [`Tier`] and the number of
//! activation rows `N`, so each `#[target_feature]` wrapper gets its own compiled copy.
//!
//! Signed weights (Q4_0, Q5_0, Q8_0) use the sign trick: `|w| · sign(y, w)` is a valid
//! unsigned × signed byte product, exact as long as `y ≠ -128`.

use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::blocks::*;

pub(super) trait Tier {
    /// `acc + Σ` of each 4 adjacent `a[i] (u8) · b[i] (i8)` per i32 lane. The AVX2 version
    /// goes through i16 pair sums, so each pair must stay within i16.
    unsafe fn dpbusd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
    /// `acc + Σ` of each 2 adjacent `a[i] · b[i]` (i16) per i32 lane.
    unsafe fn dpwssd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
    /// Byte `i` is 0xFF where bit `i` of `bits` is set, else 0.
    unsafe fn bytes_from_bits(bits: u32) -> __m256i;
}

pub(super) struct Avx2;
pub(super) struct Vnni;

impl Tier for Avx2 {
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        let pairs = _mm256_maddubs_epi16(a, b);
        _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }
    #[inline(always)]
    unsafe fn dpwssd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
    }
    #[inline(always)]
    unsafe fn bytes_from_bits(bits: u32) -> __m256i {
        // Byte i takes byte i/8 of `bits`, then tests its bit i%8.
        let spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(bits as i32),
            _mm256_setr_epi64x(
                0,
                0x0101_0101_0101_0101,
                0x0202_0202_0202_0202,
                0x0303_0303_0303_0303,
            ),
        );
        let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
        _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit)
    }
}

impl Tier for Vnni {
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, a, b)
    }
    #[inline(always)]
    unsafe fn dpwssd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        _mm256_dpwssd_epi32(acc, a, b)
    }
    #[inline(always)]
    unsafe fn bytes_from_bits(bits: u32) -> __m256i {
        _mm256_movm_epi8(bits)
    }
}

/// `$body` with the type `$to` standing for this CPU's prefetch level ([`PrefetchTo`]), chosen
/// once per call. The entry macros below bind it as `P`: a body that prefetches names `P`
/// among its kinds, the others ignore it.
macro_rules! with_prefetch_level {
    ($to:ident => $body:expr) => {
        match $crate::kernels::x86::Prefetch::for_this_cpu() {
            $crate::kernels::x86::Prefetch::L1 => {
                #[allow(dead_code)] // bodies that never prefetch ignore it
                type $to = $crate::kernels::x86::IntoL1;
                $body
            }
            $crate::kernels::x86::Prefetch::L2 => {
                #[allow(dead_code)] // bodies that never prefetch ignore it
                type $to = $crate::kernels::x86::IntoL2;
                $body
            }
        }
    };
}

/// Wraps a body generic over `<T: Tier, K, const N: usize>` into an AVX2 entry point.
macro_rules! x86_avx2_entry {
    ($avx2:ident, $body:ident :: <$($kind:ty),+>, $act:ty) => {
        /// # Safety
        /// AVX2, FMA and F16C must be available and the sizes valid per `check`.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(super) unsafe fn $avx2(w: &[u8], xs: &[&[$act]], out: &mut [f32]) {
            with_prefetch_level!(P => each_row(w, xs, out, |w, out| match xs.len() {
                1 => $body::<Avx2, $($kind),+, 1>(w, xs, out),
                2 => $body::<Avx2, $($kind),+, 2>(w, xs, out),
                3 => $body::<Avx2, $($kind),+, 3>(w, xs, out),
                _ => $body::<Avx2, $($kind),+, 4>(w, xs, out),
            }))
        }
    };
}

/// Wraps a body generic over `<T: Tier, K, const N: usize>` into an AVX-512 VNNI entry point.
macro_rules! x86_vnni_entry {
    ($vnni:ident, $body:ident :: <$tier:ident, $($kind:ty),+>, $act:ty) => {
        /// # Safety
        /// The [`Isa::Avx512Vnni`] features must be available and the sizes valid.
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub(super) unsafe fn $vnni(w: &[u8], xs: &[&[$act]], out: &mut [f32]) {
            with_prefetch_level!(P => each_row(w, xs, out, |w, out| match xs.len() {
                1 => $body::<$tier, $($kind),+, 1>(w, xs, out),
                2 => $body::<$tier, $($kind),+, 2>(w, xs, out),
                3 => $body::<$tier, $($kind),+, 3>(w, xs, out),
                _ => $body::<$tier, $($kind),+, 4>(w, xs, out),
            }))
        }
    };
}

/// Both entry points of a body generic over `<T: Tier, K, const N: usize>`.
macro_rules! x86_entry {
    ($avx2:ident, $vnni:ident, $body:ident :: <$($kind:ty),+>, $act:ty) => {
        x86_avx2_entry!($avx2, $body::<$($kind),+>, $act);
        x86_vnni_entry!($vnni, $body::<Vnni, $($kind),+>, $act);
    };
}

// Q4_0, Q5_0 and Q8_0 have 512-bit VNNI versions in `x86_512.rs`.
x86_avx2_entry!(q4_0_avx2, signed_blocks::<Q4_0, P>, BlockQ8_0);
x86_entry!(q4_1_avx2, q4_1_vnni, affine_blocks::<Q4_1>, BlockQ8_0);
x86_avx2_entry!(q5_0_avx2, signed_blocks::<Q5_0, P>, BlockQ8_0);
x86_entry!(q5_1_avx2, q5_1_vnni, affine_blocks::<Q5_1>, BlockQ8_0);
x86_avx2_entry!(q8_0_avx2, signed_blocks::<Q8_0, P>, BlockQ8_0);

/// How far ahead of its reads a decode kernel asks for weights: past the next row of the
/// widest matrix. The hardware prefetcher alone left one core near 20 GB/s; 16 KB ahead,
/// 2B-shaped Q4_0 decode went from 15.2 to 17.8 tok/s on one thread (a Zen 5; 8-64 KB
/// measured alike, 0.5-2 KB less). On a Xeon (model 167), 4-128 KB measured alike.
const PREFETCH_AHEAD: usize = 16 << 10;

/// Where [`prefetch_ahead`] puts weights, chosen by CPU vendor because each level was measured
/// on one vendor only. Into L2 on Intel: the L1 misses a fetch to L1 holds until its line
/// arrives capped one core of a Xeon (model 167) near 10 GB/s (2B-shaped Q4_K_M decode 5.0-5.3
/// tok/s into L1, 5.9 into L2; `NTA` halved it). Into L1 elsewhere: the 16 KB distance was tuned
/// that way on a Zen 5, and AMD documents T1 into L2 only from Zen 4 on, where a study saw some
/// T1 prefetches dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Prefetch {
    L1,
    L2,
}

impl Prefetch {
    pub(super) fn for_this_cpu() -> Prefetch {
        static CHOSEN: OnceLock<Prefetch> = OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let id = __cpuid(0);
            let vendor = [id.ebx, id.edx, id.ecx].map(u32::to_le_bytes);
            if vendor == [*b"Genu", *b"ineI", *b"ntel"] {
                Prefetch::L2
            } else {
                Prefetch::L1
            }
        })
    }
}

/// A prefetch level as a type: each kernel is compiled once per level, so its loop holds no
/// branch on it (a run-time choice inside the loop cost 2-3% of the decode kernels' GB/s).
pub(super) trait PrefetchTo {
    unsafe fn line(at: *const i8);
}

pub(super) struct IntoL1;
pub(super) struct IntoL2;

impl PrefetchTo for IntoL1 {
    #[inline(always)]
    unsafe fn line(at: *const i8) {
        _mm_prefetch::<_MM_HINT_T0>(at)
    }
}

impl PrefetchTo for IntoL2 {
    #[inline(always)]
    unsafe fn line(at: *const i8) {
        _mm_prefetch::<_MM_HINT_T1>(at)
    }
}

/// Asks for the cache lines of `bytes` bytes starting [`PREFETCH_AHEAD`] past `p`, into the
/// level `P` stands for. A prefetch never faults, so the address may lie past the weights.
#[inline(always)]
pub(super) unsafe fn prefetch_ahead<P: PrefetchTo>(p: *const u8, bytes: usize) {
    for line in (0..bytes).step_by(64) {
        P::line(p.wrapping_add(PREFETCH_AHEAD + line).cast());
    }
}

/// An f16 read from possibly unaligned bytes, broadcast to 8 f32 lanes.
#[inline(always)]
pub(super) unsafe fn f16x8(p: *const u8) -> __m256 {
    _mm256_cvtph_ps(_mm_set1_epi16(p.cast::<i16>().read_unaligned()))
}

#[inline(always)]
pub(super) unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// The 32 nibbles of 16 bytes at `p` as bytes 0..16 = low nibbles, 16..32 = high nibbles.
#[inline(always)]
unsafe fn nibbles(p: *const u8) -> __m256i {
    let q = _mm_loadu_si128(p.cast());
    let both = _mm256_set_m128i(_mm_srli_epi16::<4>(q), q);
    _mm256_and_si256(both, _mm256_set1_epi8(0xF))
}

#[inline(always)]
unsafe fn load32(p: *const i8) -> __m256i {
    _mm256_loadu_si256(p.cast())
}

/// A 32-element block type: its size and its decoding to 32 bytes of quants.
///
/// (Traits rather than closures: a closure would be compiled without the wrapper's target
/// features, and the intrinsics inside it would become calls.)
pub(super) trait Block32 {
    const BYTES: usize;
    /// The 32 weights of the block at `p`: signed for [`signed_blocks`], unsigned for
    /// [`affine_blocks`].
    unsafe fn quants<T: Tier>(p: *const u8) -> __m256i;
}

/// The loop shared by the signed block types: each block's 32 signed weights meet each
/// activation row by the sign trick. Two accumulators per row hide FMA latency.
#[inline(always)]
unsafe fn signed_blocks<T: Tier, B: Block32, P: PrefetchTo, const N: usize>(
    w: &[u8],
    xs: &[&[BlockQ8_0]],
    out: &mut [f32],
) {
    let nb = w.len() / B::BYTES;
    let ys: [*const BlockQ8_0; N] = std::array::from_fn(|r| xs[r].as_ptr());
    let mut a0 = [_mm256_setzero_ps(); N];
    let mut a1 = [_mm256_setzero_ps(); N];
    let mut b = 0;
    while b + 1 < nb {
        prefetch_ahead::<P>(w.as_ptr().add(b * B::BYTES), 2 * B::BYTES);
        signed_step::<T, B, N>(w.as_ptr(), b, &ys, &mut a0);
        signed_step::<T, B, N>(w.as_ptr(), b + 1, &ys, &mut a1);
        b += 2;
    }
    if b < nb {
        signed_step::<T, B, N>(w.as_ptr(), b, &ys, &mut a0);
    }
    for r in 0..N {
        out[r] = hsum(_mm256_add_ps(a0[r], a1[r]));
    }
}

#[inline(always)]
pub(super) unsafe fn signed_step<T: Tier, B: Block32, const N: usize>(
    w: *const u8,
    b: usize,
    ys: &[*const BlockQ8_0; N],
    acc: &mut [__m256; N],
) {
    let p = w.add(b * B::BYTES);
    let q = B::quants::<T>(p);
    let aq = _mm256_sign_epi8(q, q);
    let dw = f16x8(p);
    for r in 0..N {
        let y = ys[r].add(b);
        let sy = _mm256_sign_epi8(load32((*y).qs.as_ptr()), q);
        let dot = T::dpbusd(_mm256_setzero_si256(), aq, sy);
        let d = _mm256_mul_ps(dw, f16x8(y.cast()));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), d, acc[r]);
    }
}

/// The loop shared by the affine types: each block's 32 unsigned weights `q` stand for
/// `d·q + m`, which meets each row as `d·dy·Σq·y + m·dy·Σy`.
#[inline(always)]
unsafe fn affine_blocks<T: Tier, B: Block32, const N: usize>(
    w: &[u8],
    xs: &[&[BlockQ8_0]],
    out: &mut [f32],
) {
    let nb = w.len() / B::BYTES;
    let ys: [*const BlockQ8_0; N] = std::array::from_fn(|r| xs[r].as_ptr());
    let mut a0 = [_mm256_setzero_ps(); N];
    let mut a1 = [_mm256_setzero_ps(); N];
    let mut b = 0;
    while b + 1 < nb {
        affine_step::<T, B, N>(w.as_ptr(), b, &ys, &mut a0);
        affine_step::<T, B, N>(w.as_ptr(), b + 1, &ys, &mut a1);
        b += 2;
    }
    if b < nb {
        affine_step::<T, B, N>(w.as_ptr(), b, &ys, &mut a0);
    }
    for r in 0..N {
        out[r] = hsum(_mm256_add_ps(a0[r], a1[r]));
    }
}

#[inline(always)]
unsafe fn affine_step<T: Tier, B: Block32, const N: usize>(
    w: *const u8,
    b: usize,
    ys: &[*const BlockQ8_0; N],
    acc: &mut [__m256; N],
) {
    let p = w.add(b * B::BYTES);
    let q = B::quants::<T>(p);
    let (dw, mw) = (f16x8(p), f16x8(p.add(2)));
    for r in 0..N {
        let y = ys[r].add(b);
        let yv = load32((*y).qs.as_ptr());
        let dot = T::dpbusd(_mm256_setzero_si256(), q, yv);
        let sum = T::dpbusd(_mm256_setzero_si256(), _mm256_set1_epi8(1), yv);
        let dy = f16x8(y.cast());
        let a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(mw, dy), acc[r]);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, dy), a);
    }
}

/// Q4_0: `d | qs[16]`, weight = nibble − 8.
pub(super) struct Q4_0;
impl Block32 for Q4_0 {
    const BYTES: usize = Q4_0_BYTES;
    #[inline(always)]
    unsafe fn quants<T: Tier>(p: *const u8) -> __m256i {
        _mm256_sub_epi8(nibbles(p.add(2)), _mm256_set1_epi8(8))
    }
}

/// Q5_0: `d | qh (u32) | qs[16]`, weight = (nibble | bit·16) − 16, i.e. the nibble with its
/// top four bits set where the fifth bit is clear.
pub(super) struct Q5_0;
impl Block32 for Q5_0 {
    const BYTES: usize = Q5_0_BYTES;
    #[inline(always)]
    unsafe fn quants<T: Tier>(p: *const u8) -> __m256i {
        let bits = T::bytes_from_bits(p.add(2).cast::<u32>().read_unaligned());
        let high = _mm256_andnot_si256(bits, _mm256_set1_epi8(0xF0u8 as i8));
        _mm256_or_si256(nibbles(p.add(6)), high)
    }
}

/// Q8_0: `d | qs[32]`.
pub(super) struct Q8_0;
impl Block32 for Q8_0 {
    const BYTES: usize = Q8_0_BYTES;
    #[inline(always)]
    unsafe fn quants<T: Tier>(p: *const u8) -> __m256i {
        load32(p.add(2).cast())
    }
}

/// Q4_1: `d | m | qs[16]`, weight = d·nibble + m.
pub(super) struct Q4_1;
impl Block32 for Q4_1 {
    const BYTES: usize = Q4_1_BYTES;
    #[inline(always)]
    unsafe fn quants<T: Tier>(p: *const u8) -> __m256i {
        nibbles(p.add(4))
    }
}

/// Q5_1: `d | m | qh (u32) | qs[16]`, weight = d·(nibble | bit·16) + m.
pub(super) struct Q5_1;
impl Block32 for Q5_1 {
    const BYTES: usize = Q5_1_BYTES;
    #[inline(always)]
    unsafe fn quants<T: Tier>(p: *const u8) -> __m256i {
        let bits = T::bytes_from_bits(p.add(4).cast::<u32>().read_unaligned());
        let high = _mm256_and_si256(bits, _mm256_set1_epi8(0x10));
        _mm256_or_si256(nibbles(p.add(8)), high)
    }
}
