//! The KV cache of one sequence: preallocated, bounded by the context limit, and for sliding
//! layers a ring that holds only the window (plus one prefill chunk, so a chunk's first query
//! still sees its whole window while the chunk's own keys are written).

use half::f16;

use std::ops::Range;

use super::config::Config;
use crate::error::{Error, Result};
use crate::kernels::float_rows::{KvRows, Rows};
use crate::runtime::budget::{Reservation, Zeroed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvType {
    F16,
    F32,
}

impl KvType {
    pub fn name(self) -> &'static str {
        match self {
            KvType::F16 => "f16",
            KvType::F32 => "f32",
        }
    }

    pub(crate) fn elem_bytes(self) -> usize {
        match self {
            KvType::F16 => 2,
            KvType::F32 => 4,
        }
    }
}

enum Buf {
    F32(Zeroed<f32>),
    F16(Zeroed<f16>),
}

impl Buf {
    fn new(kind: KvType, len: usize) -> Result<Buf> {
        Ok(match kind {
            KvType::F32 => Buf::F32(Zeroed::new(len, "the KV cache")?),
            KvType::F16 => Buf::F16(Zeroed::new(len, "the KV cache")?),
        })
    }

    /// The raw little-endian bytes of `len` values from `at`.
    fn bytes_at(&self, at: usize, len: usize) -> Vec<u8> {
        match self {
            Buf::F32(b) => b[at..at + len]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            Buf::F16(b) => b[at..at + len]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        }
    }

    /// Overwrites values from `at` with raw little-endian bytes (whole values).
    fn set_bytes(&mut self, at: usize, bytes: &[u8]) {
        match self {
            Buf::F32(b) => {
                for (d, s) in b[at..].iter_mut().zip(bytes.chunks_exact(4)) {
                    *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                }
            }
            Buf::F16(b) => {
                for (d, s) in b[at..].iter_mut().zip(bytes.chunks_exact(2)) {
                    *d = f16::from_le_bytes([s[0], s[1]]);
                }
            }
        }
    }

    /// Copies `len` values at `at` from `other`, which has the same type.
    fn copy_from(&mut self, other: &Buf, at: usize, len: usize) {
        match (self, other) {
            (Buf::F32(d), Buf::F32(s)) => d[at..at + len].copy_from_slice(&s[at..at + len]),
            (Buf::F16(d), Buf::F16(s)) => d[at..at + len].copy_from_slice(&s[at..at + len]),
            _ => unreachable!("caches of one model share their KV type"),
        }
    }

    fn write(&mut self, at: usize, values: &[f32]) {
        match self {
            Buf::F32(b) => b[at..at + values.len()].copy_from_slice(values),
            Buf::F16(b) => {
                for (d, s) in b[at..at + values.len()].iter_mut().zip(values) {
                    *d = f16::from_f32(*s);
                }
            }
        }
    }

    /// Positions `positions` of a ring of `slots` rows of `row` values, from `offset` in each
    /// row: at most two runs of consecutive slots, each with its first position's offset into
    /// `positions` (an empty second run when the first holds them all).
    fn runs(
        &self,
        positions: Range<usize>,
        slots: usize,
        row: usize,
        offset: usize,
    ) -> [(usize, KvRows<'_>); 2] {
        let count = positions.len();
        assert!(count <= slots);
        let first_slot = positions.start % slots;
        let head = count.min(slots - first_slot);
        let run = |slot: usize, n: usize| {
            let at = slot * row + offset;
            match self {
                Buf::F32(b) => KvRows::F32(Rows {
                    data: &b[at.min(b.len())..],
                    stride: row,
                    n,
                }),
                Buf::F16(b) => KvRows::F16(Rows {
                    data: &b[at.min(b.len())..],
                    stride: row,
                    n,
                }),
            }
        };
        [(0, run(first_slot, head)), (head, run(0, count - head))]
    }

    fn bytes(&self) -> usize {
        match self {
            Buf::F32(b) => b.len() * 4,
            Buf::F16(b) => b.len() * 2,
        }
    }
}

pub(crate) struct LayerCache {
    k: Buf,
    v: Buf,
    slots: usize,
    row: usize,
    pub window: Option<usize>,
}

impl LayerCache {
    /// Writes the key and value rows (all KV heads) of the token at `pos`.
    pub fn write(&mut self, pos: usize, k: &[f32], v: &[f32]) {
        let at = (pos % self.slots) * self.row;
        self.k.write(at, k);
        self.v.write(at, v);
    }

    /// Oldest position a query at `pos` may attend to.
    pub fn first_visible(&self, pos: usize) -> usize {
        match self.window {
            Some(w) => (pos + 1).saturating_sub(w),
            None => 0,
        }
    }

    /// The positions this layer holds when the cache has `len` tokens: the first and the count.
    fn held_positions(&self, len: usize) -> (usize, usize) {
        let n = len.min(self.slots);
        (len - n, n)
    }

    /// The slot of the oldest held position and the count, for a cache of `len` tokens.
    fn live_slots(&self, len: usize) -> (usize, usize) {
        let (first, n) = self.held_positions(len);
        (first % self.slots, n)
    }

    /// The keys of positions `positions` for the KV head at `head_offset`, in at most two runs
    /// of consecutive slots (a ring wraps once): each with its first position's offset into
    /// `positions`.
    pub fn keys(&self, positions: Range<usize>, head_offset: usize) -> [(usize, KvRows<'_>); 2] {
        self.k.runs(positions, self.slots, self.row, head_offset)
    }

    /// The values of positions `positions`, as [`LayerCache::keys`] gives the keys.
    pub fn values(&self, positions: Range<usize>, head_offset: usize) -> [(usize, KvRows<'_>); 2] {
        self.v.runs(positions, self.slots, self.row, head_offset)
    }
}

pub struct KvCache {
    pub(crate) layers: Vec<LayerCache>,
    /// Tokens in the cache; the next token goes at this position.
    pub(crate) len: usize,
    context: usize,
    kind: KvType,
    reservation: Reservation,
}

/// Positions a layer's KV cache keeps: all of them, or for a sliding layer its window plus
/// one prefill chunk (so a chunk's first query still sees its whole window).
fn ring_slots(window: Option<usize>, context: usize, prefill_chunk: usize) -> usize {
    match window {
        Some(w) => context.min(w.saturating_add(prefill_chunk.saturating_sub(1))),
        None => context,
    }
}

/// The bytes [`KvCache::new`] allocates for these arguments: the memory estimate's figure,
/// saturating (a cache past u64 is one nothing can hold; its allocation fails).
pub(crate) fn cache_bytes(config: &Config, kind: KvType, context: usize, chunk: usize) -> u64 {
    let row_bytes =
        (config.n_head_kv as u64).saturating_mul((config.head_dim * kind.elem_bytes()) as u64);
    config
        .layers
        .iter()
        .map(|l| (2 * ring_slots(l.window, context, chunk) as u64).saturating_mul(row_bytes))
        .fold(0, u64::saturating_add)
}

impl KvCache {
    /// An empty cache; `reservation` has taken its bytes from the model's memory budget.
    pub(crate) fn new(
        config: &Config,
        kind: KvType,
        context: usize,
        chunk: usize,
        reservation: Reservation,
    ) -> Result<KvCache> {
        let row = config.n_head_kv * config.head_dim;
        let layers = config
            .layers
            .iter()
            .map(|l| {
                let slots = ring_slots(l.window, context, chunk);
                let len = slots.checked_mul(row).ok_or(Error::OutOfMemory {
                    what: "the KV cache",
                    bytes: u64::MAX,
                })?;
                Ok(LayerCache {
                    k: Buf::new(kind, len)?,
                    v: Buf::new(kind, len)?,
                    slots,
                    row,
                    window: l.window,
                })
            })
            .collect::<Result<_>>()?;
        Ok(KvCache {
            layers,
            len: 0,
            context,
            kind,
            reservation,
        })
    }

    /// The bytes this cache holds from the memory budget.
    pub(crate) fn reserved_bytes(&self) -> u64 {
        self.reservation.bytes()
    }

    pub fn kv_type(&self) -> KvType {
        self.kind
    }

    /// Copies the live positions of `other` (a cache of the same model) into this empty one.
    pub(crate) fn copy_from(&mut self, other: &KvCache) {
        for (d, s) in self.layers.iter_mut().zip(&other.layers) {
            let (first, n) = s.live_slots(other.len);
            // Live slots form one ring range; copy it in at most two pieces.
            let head = n.min(d.slots - first);
            for (at, len) in [(first, head), (0, n - head)] {
                d.k.copy_from(&s.k, at * d.row, len * d.row);
                d.v.copy_from(&s.v, at * d.row, len * d.row);
            }
        }
        self.len = other.len;
    }

    /// Drops the tokens from position `len` on, if every sliding layer still holds the window
    /// that the next token at `len` needs. Returns false (changing nothing) when a ring has
    /// already overwritten part of it.
    pub(crate) fn truncate(&mut self, len: usize) -> bool {
        if len >= self.len {
            return len == self.len;
        }
        let keeps_window = self.layers.iter().all(|l| {
            let needed_from = l.first_visible(len);
            self.len <= needed_from + l.slots
        });
        if keeps_window {
            self.len = len;
        }
        keeps_window
    }

    /// For each layer, the raw bytes of the keys and then the values of the positions it
    /// holds, oldest first (what a saved chat stores).
    pub(crate) fn layer_bytes(&self) -> impl Iterator<Item = (usize, Vec<u8>, Vec<u8>)> + '_ {
        self.layers.iter().map(|l| {
            let (first_pos, n) = l.held_positions(self.len);
            let mut k = Vec::with_capacity(n * l.row * self.kind.elem_bytes());
            let mut v = Vec::with_capacity(k.capacity());
            for pos in first_pos..first_pos + n {
                let at = (pos % l.slots) * l.row;
                k.extend(l.k.bytes_at(at, l.row));
                v.extend(l.v.bytes_at(at, l.row));
            }
            (first_pos, k, v)
        })
    }

    /// Bytes one position takes in one layer's keys (the same for values).
    pub(crate) fn row_bytes(&self) -> usize {
        self.layers
            .first()
            .map_or(0, |l| l.row * self.kind.elem_bytes())
    }

    /// How many positions ending at `len` layer `il` can hold.
    pub(crate) fn layer_slots(&self, il: usize) -> usize {
        self.layers[il].slots
    }

    /// Fills layer `il` with positions `first_pos..` from raw key and value bytes (whole rows,
    /// as many as `layer_bytes` gave), after which the cache holds `len` tokens.
    pub(crate) fn set_layer_bytes(&mut self, il: usize, first_pos: usize, k: &[u8], v: &[u8]) {
        let l = &mut self.layers[il];
        let row_bytes = l.row * self.kind.elem_bytes();
        for (i, (kr, vr)) in k
            .chunks_exact(row_bytes)
            .zip(v.chunks_exact(row_bytes))
            .enumerate()
        {
            let at = ((first_pos + i) % l.slots) * l.row;
            l.k.set_bytes(at, kr);
            l.v.set_bytes(at, vr);
        }
    }

    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len;
    }

    /// Tokens held (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn context(&self) -> usize {
        self.context
    }

    /// Forgets every token; the memory stays allocated for reuse.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn bytes(&self) -> usize {
        self.layers.iter().map(|l| l.k.bytes() + l.v.bytes()).sum()
    }
}
