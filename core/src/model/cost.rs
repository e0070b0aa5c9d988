//! What a model will cost in memory, known from the GGUF header before anything is loaded.
//! Weights stay in the mapped file (clean pages the OS can drop); everything else is
//! anonymous memory: the tokenizer, one prefill chunk of activations, and a KV cache per chat
//! or prefix.

use crate::gguf::Gguf;
use crate::model::config::Config;
use crate::model::forward::scratch_sizes;
use crate::model::kv_cache::{cache_bytes, KvType};
use crate::model::weights::Weights;
use crate::runtime::budget::Scratch;
use crate::sampling;

/// Anonymous bytes each vocabulary entry costs beyond the metadata it comes from: its decoded
/// piece, offsets, attributes and hash-map slot (about 30 on Gemma 3's 262k-token vocabulary).
const TOKENIZER_BYTES_PER_TOKEN: u64 = 32;

/// The memory a model takes, as plain numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Weights, read from the mapped file: file-backed, not counted against an app.
    pub weights_bytes: u64,
    pub context_length: usize,
    /// The KV cache of one chat at `context_length`.
    pub kv_cache_bytes: u64,
    /// The tokenizer: anonymous memory held once per loaded model.
    pub fixed_bytes: u64,
    /// Scratch of the passes: one prefill chunk's activations and its matmul inputs, attention
    /// over the whole context, the logits of one token and the sampler's candidates, and each
    /// compute thread's own (see [`Model::scratch_use`](crate::Model::scratch_use)).
    pub scratch_bytes: u64,
    /// `fixed_bytes + scratch_bytes + kv_cache_bytes`: a loaded model with one chat.
    pub anonymous_bytes: u64,
}

/// Everything the estimate depends on besides the context length.
pub(crate) struct CostModel<'a> {
    pub config: &'a Config,
    pub weights: &'a Weights,
    pub kv_type: KvType,
    pub prefill_chunk: usize,
    pub threads: usize,
    pub tokenizer_bytes: u64,
    pub weights_bytes: u64,
}

impl CostModel<'_> {
    pub fn tokenizer_bytes<B: AsRef<[u8]>>(file: &Gguf<B>, vocab_size: usize) -> u64 {
        let layout = &file.layout;
        let metadata = (layout.tensor_infos_start - layout.metadata_start) as u64;
        // vocab_size is at most 2^24 (see `Weights::locate`).
        metadata + vocab_size as u64 * TOKENIZER_BYTES_PER_TOKEN
    }

    pub fn kv_cache_bytes(&self, context: usize) -> u64 {
        cache_bytes(self.config, self.kv_type, context, self.prefill_chunk)
    }

    /// The most scratch of `kind` the passes take at `context`, for all threads together: the
    /// sizes the allocating code reports (see `model::forward::scratch_sizes`).
    pub fn scratch(&self, context: usize) -> impl Fn(Scratch) -> u64 + '_ {
        let sizes = scratch_sizes(
            self.config,
            self.weights,
            self.threads,
            self.prefill_chunk,
            context,
        );
        let vocab = self.config.vocab_size;
        let threads = self.threads as u64;
        move |kind| match kind {
            Scratch::Sampler => sampling::scratch_bytes(vocab),
            k if k.per_thread() => threads.saturating_mul(sizes(k)),
            k => sizes(k),
        }
    }

    pub fn scratch_bytes(&self, context: usize) -> u64 {
        let scratch = self.scratch(context);
        Scratch::ALL
            .into_iter()
            .map(scratch)
            .fold(0, u64::saturating_add)
    }

    pub fn estimate(&self, context: usize) -> MemoryEstimate {
        let kv_cache_bytes = self.kv_cache_bytes(context);
        let fixed_bytes = self.tokenizer_bytes;
        let scratch_bytes = self.scratch_bytes(context);
        MemoryEstimate {
            weights_bytes: self.weights_bytes,
            context_length: context,
            kv_cache_bytes,
            fixed_bytes,
            scratch_bytes,
            // Saturating: a figure past u64 is one no budget or device holds, never a small one.
            anonymous_bytes: fixed_bytes
                .saturating_add(scratch_bytes)
                .saturating_add(kv_cache_bytes),
        }
    }

    /// The largest context up to `limit` whose model-plus-one-chat cost fits `budget`.
    pub fn max_context(&self, budget: u64, limit: usize) -> Option<usize> {
        let fits = |n: usize| self.estimate(n).anonymous_bytes <= budget;
        if !fits(1) {
            return None;
        }
        // The cost grows with the context, so the largest fitting one is found by bisection.
        let (mut lo, mut hi) = (1, limit);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    }
}
