//! The KV cache of one sequence: preallocated, bounded by the context limit, and for sliding
//! layers a ring that holds only the window (plus one prefill chunk, so a chunk's first query
//! still sees its whole window while the chunk's own keys are written).

use half::f16;
use half::slice::HalfFloatSliceExt;

use super::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvType {
    F16,
    F32,
}

enum Buf {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

impl Buf {
    fn new(kind: KvType, len: usize) -> Buf {
        match kind {
            KvType::F32 => Buf::F32(vec![0.0; len]),
            KvType::F16 => Buf::F16(vec![f16::ZERO; len]),
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

    /// Copies `out.len()` values from `at` into `out` as f32.
    fn read(&self, at: usize, out: &mut [f32]) {
        let n = out.len();
        match self {
            Buf::F32(b) => out.copy_from_slice(&b[at..at + n]),
            Buf::F16(b) => b[at..at + n].convert_to_f32_slice(out),
        }
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

    /// The key of the token at `pos` for the KV head at `head_offset`, as f32 in `out`.
    pub fn read_key(&self, pos: usize, head_offset: usize, out: &mut [f32]) {
        self.k
            .read((pos % self.slots) * self.row + head_offset, out)
    }

    /// The value of the token at `pos` for the KV head at `head_offset`, as f32 in `out`.
    pub fn read_value(&self, pos: usize, head_offset: usize, out: &mut [f32]) {
        self.v
            .read((pos % self.slots) * self.row + head_offset, out)
    }
}

pub struct KvCache {
    pub(crate) layers: Vec<LayerCache>,
    /// Tokens in the cache; the next token goes at this position.
    pub(crate) len: usize,
    context: usize,
}

impl KvCache {
    pub(crate) fn new(config: &Config, kind: KvType, context: usize, chunk: usize) -> KvCache {
        let row = config.n_head_kv * config.head_dim;
        let layers = config
            .layers
            .iter()
            .map(|l| {
                let slots = match l.window {
                    Some(w) => context.min(w + chunk - 1),
                    None => context,
                };
                LayerCache {
                    k: Buf::new(kind, slots * row),
                    v: Buf::new(kind, slots * row),
                    slots,
                    row,
                    window: l.window,
                }
            })
            .collect();
        KvCache {
            layers,
            len: 0,
            context,
        }
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

    /// Bytes a cache would take, without allocating it.
    pub(crate) fn bytes_for(config: &Config, kind: KvType, context: usize, chunk: usize) -> usize {
        let row = config.n_head_kv * config.head_dim;
        let elem = match kind {
            KvType::F16 => 2,
            KvType::F32 => 4,
        };
        config
            .layers
            .iter()
            .map(|l| {
                let slots = l.window.map_or(context, |w| context.min(w + chunk - 1));
                2 * slots * row * elem
            })
            .sum()
    }
}
