//! Softmax attention over the KV cache, spread over the compute threads in one of two ways
//! ([`Split`]) that give the same bits: the kernels (`kernels::float`) compute every score and
//! every output value the same way whichever task holds it, and each row's softmax adds in key
//! order.

use std::ops::Range;

use crate::kernels::float;
use crate::kernels::Isa;
use crate::model::config::Config;
use crate::model::kv_cache::LayerCache;
use crate::runtime::budget::{Scratch, ScratchMeter};
use crate::runtime::threads::{SharedMut, ThreadPool};

/// How attention spreads a chunk of `n` tokens over the threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// Tasks of up to `block` query tokens and the query heads that share one KV head (GQA),
    /// so the kernels read each cached key and value row once per token for all of them.
    Blocks { block: usize },
    /// Too few tokens and KV heads for the threads (decode): the keys are cut into `parts` for
    /// the scores, each head's outputs into `parts` for the weighted sums, with each row's
    /// softmax between, so every thread reads a part of the cached rows instead of all of them.
    Parts { parts: usize },
}

fn split(c: &Config, threads: usize, n: usize) -> Split {
    // Enough blocks for about four tasks per thread, at most 16 tokens each.
    let blocks_wanted = (4 * threads).div_ceil(c.n_head_kv);
    let block = (n / blocks_wanted).clamp(1, 16);
    if n.div_ceil(block) * c.n_head_kv < threads {
        Split::Parts {
            parts: threads.div_ceil(c.n_head_kv),
        }
    } else {
        Split::Blocks { block }
    }
}

/// Where [`Split::Parts`] keeps its scores and sums (one scratch, shared by the tasks): a
/// region per KV head and part, so each task writes a slice of its own.
struct PartsLayout {
    n: usize,
    n_kv: usize,
    group: usize,
    parts: usize,
    /// Keys the chunk sees.
    keys: usize,
    /// Keys per part (the last part may hold fewer).
    part_keys: usize,
    /// Outputs per part of a head (a multiple of 8, the kernels' width; the last may be less).
    width: usize,
    head_dim: usize,
}

impl PartsLayout {
    fn new(c: &Config, n: usize, parts: usize, keys: usize) -> PartsLayout {
        PartsLayout {
            n,
            n_kv: c.n_head_kv,
            group: c.n_head / c.n_head_kv,
            parts,
            keys,
            part_keys: keys.div_ceil(parts),
            width: c.head_dim.div_ceil(parts).next_multiple_of(8),
            head_dim: c.head_dim,
        }
    }

    /// Scores of KV head `g`'s query rows (token-major, then head) over key part `j`, rows
    /// `self.part_keys` apart.
    fn scores(&self, g: usize, j: usize) -> Range<usize> {
        let len = self.n * self.group * self.part_keys;
        let at = (g * self.parts + j) * len;
        at..at + len
    }

    /// The keys of part `j`.
    fn key_part(&self, j: usize) -> Range<usize> {
        (j * self.part_keys).min(self.keys)..((j + 1) * self.part_keys).min(self.keys)
    }

    /// Parts of a head's outputs.
    fn output_parts(&self) -> usize {
        self.head_dim.div_ceil(self.width)
    }

    /// The outputs of part `p` of a head.
    fn output_part(&self, p: usize) -> Range<usize> {
        p * self.width..((p + 1) * self.width).min(self.head_dim)
    }

    /// Sums of KV head `g`'s query rows for output part `p`, rows `self.width` apart, after
    /// the scores.
    fn sums(&self, g: usize, p: usize) -> Range<usize> {
        let len = self.n * self.group * self.width;
        let at = (g * self.output_parts() + p) * len;
        at..at + len
    }

    /// The values of all the scores.
    fn scores_len(&self) -> usize {
        self.scores(self.n_kv - 1, self.parts - 1).end
    }

    /// The values of the whole scratch: the scores, then the sums.
    fn len(&self) -> usize {
        self.scores_len() + self.sums(self.n_kv - 1, self.output_parts() - 1).end
    }
}

/// The values a [`Split::Blocks`] task's scratch holds: the scores of its `tokens` tokens' query
/// heads of one KV head against `keys` keys.
fn block_scratch_len(c: &Config, tokens: usize, keys: usize) -> usize {
    tokens * (c.n_head / c.n_head_kv) * keys
}

/// The values an attention task's scratch holds when a chunk of `n` tokens sees `keys` keys:
/// a block's scores, or in [`Split::Parts`] the shared scores and sums (on the calling thread).
fn scratch_len(c: &Config, threads: usize, n: usize, keys: usize) -> usize {
    match split(c, threads, n) {
        Split::Blocks { block } => block_scratch_len(c, block.min(n), keys),
        Split::Parts { parts } => PartsLayout::new(c, n, parts, keys).len(),
    }
}

/// The most values one thread's attention scratch holds over chunks of up to `chunk` tokens
/// in a context of `context`: the size the code below allocates, for the memory estimate.
pub(crate) fn most_scratch(c: &Config, threads: usize, chunk: usize, context: usize) -> usize {
    (1..=chunk.min(context))
        .map(|n| scratch_len(c, threads, n, context))
        .max()
        .unwrap_or(0)
}

/// Everything a pass of attention reads and writes for one layer.
pub(crate) struct Attention<'a> {
    pub config: &'a Config,
    pub layer: &'a LayerCache,
    /// Position of the chunk's first token.
    pub pos0: usize,
    pub n: usize,
    /// The chunk's queries, token-major, then head.
    pub q: &'a [f32],
    pub isa: Isa,
    pub meter: &'a ScratchMeter,
}

impl Attention<'_> {
    /// Softmax attention of each query head over the keys it may see, into `out` (laid out as
    /// `q`).
    pub fn run(&self, pool: &ThreadPool, out: &mut [f32]) {
        match split(self.config, pool.n_threads(), self.n) {
            Split::Blocks { block } => self.in_blocks(pool, block, out),
            Split::Parts { parts } => self.in_parts(pool, parts, out),
        }
    }

    /// The first position the chunk sees, and the keys from there to its last token.
    fn seen(&self) -> (usize, usize) {
        let lo = self.layer.first_visible(self.pos0);
        (lo, self.pos0 + self.n - lo)
    }

    /// The keys token `t` of the chunk sees, from the chunk's first seen position.
    fn visible(&self, t: usize, lo: usize) -> Range<usize> {
        let pos = self.pos0 + t;
        self.layer.first_visible(pos) - lo..pos + 1 - lo
    }

    /// The queries of KV head `g`'s group of heads at token `t`.
    fn queries(&self, t: usize, g: usize) -> &[f32] {
        let c = self.config;
        let group = c.n_head / c.n_head_kv;
        &self.q[(t * c.n_head + g * group) * c.head_dim..][..group * c.head_dim]
    }

    fn in_blocks(&self, pool: &ThreadPool, block: usize, out: &mut [f32]) {
        let n_kv = self.config.n_head_kv;
        let out = SharedMut::new(out);
        pool.run(self.n.div_ceil(block) * n_kv, &|task| {
            let (b, g) = (task / n_kv, task % n_kv);
            self.block(b * block..((b + 1) * block).min(self.n), g, out)
        });
    }

    /// Tokens `tokens` of the chunk, the group of KV head `g`.
    fn block(&self, tokens: Range<usize>, g: usize, out: SharedMut<f32>) {
        let c = self.config;
        let (hd, group) = (c.head_dim, c.n_head / c.n_head_kv);
        let t0 = tokens.start;
        let lo = self.layer.first_visible(self.pos0 + t0);
        let len = self.pos0 + tokens.end - lo;
        // Row (t, h) of the scores: token t0 + t, head h of the group; the keys it sees are one
        // contiguous range of the columns lo..lo + len.
        let visible = |t: usize| self.visible(t0 + t, lo);
        let mut scores = SCRATCH.take();
        scores.clear();
        let needed = block_scratch_len(c, tokens.len(), len);
        // Exactly what is needed: the memory estimate counts the largest task's.
        scores.reserve_exact(needed);
        scores.resize(needed, 0.0);
        self.meter.record(
            Scratch::Attention,
            std::mem::size_of_val(scores.as_slice()) as u64,
        );
        let rows = |t: usize| t * group * len..(t + 1) * group * len;
        for t in 0..tokens.len() {
            let seen = visible(t);
            let row = &mut scores[rows(t)];
            for (at, keys) in self.layer.keys(lo + seen.start..lo + seen.end, g * hd) {
                let out = &mut row[seen.start + at..];
                float::scores(self.isa, self.queries(t0 + t, g), hd, keys, out, len);
            }
        }
        for (r, s) in scores.chunks_exact_mut(len).enumerate() {
            softmax(&mut [&mut s[visible(r / group)]], c.attn_softcap);
        }
        for t in 0..tokens.len() {
            let seen = visible(t);
            // SAFETY: this task alone writes these heads of token t.
            let o = unsafe { out.slice_mut(((t0 + t) * c.n_head + g * group) * hd, group * hd) };
            o.fill(0.0);
            let weights = &scores[rows(t)];
            for (at, values) in self.layer.values(lo + seen.start..lo + seen.end, g * hd) {
                float::accumulate(self.isa, &weights[seen.start + at..], len, values, hd, o);
            }
        }
        SCRATCH.set(scores);
    }

    /// Three runs of the pool: the scores of each group over each part of the keys, the
    /// softmax of each row, the sums of each part of each group's outputs over all the keys.
    fn in_parts(&self, pool: &ThreadPool, parts: usize, out: &mut [f32]) {
        let c = self.config;
        let (hd, n_kv, n) = (c.head_dim, c.n_head_kv, self.n);
        let group = c.n_head / n_kv;
        let (lo, len) = self.seen();
        let at = PartsLayout::new(c, n, parts, len);
        let mut scratch = SCRATCH.take();
        scratch.clear();
        // The tasks below do not touch their thread's scratch: this one is the caller's.
        scratch.reserve_exact(at.len());
        scratch.resize(at.len(), 0.0);
        self.meter.record(
            Scratch::Attention,
            std::mem::size_of_val(scratch.as_slice()) as u64,
        );
        let (scores, sums) = scratch.split_at_mut(at.scores_len());
        let (shared, sums) = (SharedMut::new(scores), SharedMut::new(sums));
        // The keys of `part` token t sees, if any.
        let seen_in = |part: &Range<usize>, t: usize| {
            let v = self.visible(t, lo);
            let seen = v.start.max(part.start)..v.end.min(part.end);
            (!seen.is_empty()).then_some(seen)
        };
        pool.run(n_kv * parts, &|task| {
            let (g, j) = (task / parts, task % parts);
            let part = at.key_part(j);
            let region = at.scores(g, j);
            // SAFETY: task (g, j) alone writes region (g, j).
            let region = unsafe { shared.slice_mut(region.start, region.len()) };
            for t in 0..n {
                let Some(seen) = seen_in(&part, t) else {
                    continue;
                };
                let row = &mut region[t * group * at.part_keys..];
                for (i, keys) in self.layer.keys(lo + seen.start..lo + seen.end, g * hd) {
                    let out = &mut row[seen.start - part.start + i..];
                    float::scores(self.isa, self.queries(t, g), hd, keys, out, at.part_keys);
                }
            }
        });
        pool.run(n * c.n_head, &|row| {
            let (t, h) = (row / c.n_head, row % c.n_head);
            let (g, r) = (h / group, t * group + h % group);
            let mut pieces: Vec<&mut [f32]> = (0..parts)
                .filter_map(|j| {
                    let part = at.key_part(j);
                    let seen = seen_in(&part, t)?;
                    let start = at.scores(g, j).start + r * at.part_keys + seen.start - part.start;
                    // SAFETY: row (t, h) of each region is this task's alone.
                    Some(unsafe { shared.slice_mut(start, seen.len()) })
                })
                .collect();
            softmax(&mut pieces, c.attn_softcap);
        });
        // The scores are only read from here on.
        let scores = &*scores;
        pool.run(n_kv * at.output_parts(), &|task| {
            let (g, p) = (task / at.output_parts(), task % at.output_parts());
            let outputs = at.output_part(p);
            let region = at.sums(g, p);
            // SAFETY: task (g, p) alone writes region (g, p).
            let region = unsafe { sums.slice_mut(region.start, region.len()) };
            for t in 0..n {
                let o = &mut region[t * group * at.width..][..group * outputs.len()];
                o.fill(0.0);
                for j in 0..parts {
                    let part = at.key_part(j);
                    let Some(seen) = seen_in(&part, t) else {
                        continue;
                    };
                    let weights = &scores[at.scores(g, j)][t * group * at.part_keys..];
                    let range = lo + seen.start..lo + seen.end;
                    for (i, values) in self.layer.values(range, g * hd + outputs.start) {
                        let w = &weights[seen.start - part.start + i..];
                        float::accumulate(self.isa, w, at.part_keys, values, outputs.len(), o);
                    }
                }
            }
        });
        let sums = &scratch[at.scores_len()..];
        for g in 0..n_kv {
            for p in 0..at.output_parts() {
                let outputs = at.output_part(p);
                let region = &sums[at.sums(g, p)];
                for t in 0..n {
                    // Token t's rows of the region, one per head of the group.
                    let rows = &region[t * group * at.width..][..group * outputs.len()];
                    for (h, from) in rows.chunks_exact(outputs.len()).enumerate() {
                        let to = (t * c.n_head + g * group + h) * hd + outputs.start;
                        out[to..to + outputs.len()].copy_from_slice(from);
                    }
                }
            }
        }
        SCRATCH.set(scratch);
    }
}

thread_local! {
    /// Each compute thread's attention scratch, kept between calls so that long contexts do
    /// not allocate (and fault in) megabytes per task.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Softmax of one row of scores (soft-capped first when the model caps them), held in pieces,
/// in order: any cut of a row into pieces gives the same bits.
fn softmax(pieces: &mut [&mut [f32]], cap: Option<f32>) {
    if let Some(cap) = cap {
        pieces.iter_mut().for_each(|p| softcap(p, cap));
    }
    let max = pieces
        .iter()
        .flat_map(|p| p.iter())
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0f32;
    for v in pieces.iter_mut().flat_map(|p| p.iter_mut()) {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in pieces.iter_mut().flat_map(|p| p.iter_mut()) {
        *v /= sum;
    }
}

/// `cap · tanh(v / cap)`: Gemma 2's soft cap on attention scores and final logits.
pub(crate) fn softcap(values: &mut [f32], cap: f32) {
    values.iter_mut().for_each(|v| *v = cap * (*v / cap).tanh());
}
