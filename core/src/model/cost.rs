//! What a model will cost in memory, known from the GGUF header before anything is loaded.
//! Weights stay in the mapped file (clean pages the OS can drop); everything else is
//! anonymous memory: the tokenizer, one prefill chunk of activations, and a KV cache per chat
//! or prefix.

use super::config::Config;
use super::kv_cache::{cache_bytes, KvType};
use crate::gguf::Gguf;

/// Anonymous bytes each vocabulary entry costs beyond the metadata it comes from: its decoded
/// piece, offsets, attributes and hash-map slot (about 30 on Gemma 3's 262k-token vocabulary).
const TOKENIZER_BYTES_PER_TOKEN: u64 = 32;

/// Per weight column, the transposed row group each compute thread keeps for prefill (the
/// lane kernels run on x86 only).
#[cfg(target_arch = "x86_64")]
const LANE_SCRATCH_PER_COLUMN: u64 = crate::kernels::lanes::SCRATCH_BYTES_PER_COLUMN;
#[cfg(not(target_arch = "x86_64"))]
const LANE_SCRATCH_PER_COLUMN: u64 = 0;

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
    /// Activations of one prefill chunk and the logits of one token.
    pub scratch_bytes: u64,
    /// `fixed_bytes + scratch_bytes + kv_cache_bytes`: a loaded model with one chat.
    pub anonymous_bytes: u64,
}

/// Everything the estimate depends on besides the context length.
pub(crate) struct CostModel<'a> {
    pub config: &'a Config,
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
        metadata + vocab_size as u64 * TOKENIZER_BYTES_PER_TOKEN
    }

    pub fn kv_cache_bytes(&self, context: usize) -> u64 {
        cache_bytes(self.config, self.kv_type, context, self.prefill_chunk)
    }

    pub fn scratch_bytes(&self) -> u64 {
        let c = self.config;
        let n = self.prefill_chunk as u64;
        let q = (c.n_head * c.head_dim) as u64;
        let kv = (c.n_head_kv * c.head_dim) as u64;
        // Activations, and the RoPE angles of each base.
        let per_token = 3 * c.n_embd as u64
            + 2 * q
            + 2 * kv
            + 2 * c.n_ff as u64
            + (c.ropes.len() * c.head_dim) as u64;
        // The widest matmul input quantized, in both families a file may mix: Q8_0 blocks and
        // the lane kernels' form of them (34 and 40 bytes per 32 values), Q8_K super-blocks
        // and theirs (292 and 340 bytes per 256).
        let widest = c.n_ff.max(c.n_embd) as u64;
        let quantized = (widest * ((34 + 40) * 8 + 292 + 340)).div_ceil(256);
        // Logits of one token, plus the sampler's candidates (id and probability) over them.
        let logits = c.vocab_size as u64 * (4 + 16);
        // Each compute thread keeps the lane kernels' transposed weights of one row group.
        let lanes = self.threads as u64 * widest * LANE_SCRATCH_PER_COLUMN;
        n * (per_token * 4 + quantized) + logits + lanes
    }

    pub fn estimate(&self, context: usize) -> MemoryEstimate {
        let kv_cache_bytes = self.kv_cache_bytes(context);
        let fixed_bytes = self.tokenizer_bytes;
        let scratch_bytes = self.scratch_bytes();
        MemoryEstimate {
            weights_bytes: self.weights_bytes,
            context_length: context,
            kv_cache_bytes,
            fixed_bytes,
            scratch_bytes,
            anonymous_bytes: fixed_bytes + scratch_bytes + kv_cache_bytes,
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
