//! What a loaded model is and what it costs in memory: the facts `gemkit info` prints.

use std::collections::BTreeMap;

use crate::dtype::DType;
use crate::model::load::Model;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub architecture: &'static str,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub vocab_size: usize,
    pub train_context: usize,
    pub context_length: usize,
    pub threads: usize,
    pub sliding_window: Option<usize>,
    pub sliding_layers: usize,
    pub file_bytes: usize,
    /// Count and bytes of the tensors of each type.
    pub tensor_types: BTreeMap<DType, (usize, usize)>,
    /// KV cache of one sequence at `context_length` (anonymous memory).
    pub kv_cache_bytes: usize,
    pub load_ms: f64,
}

impl ModelInfo {
    pub fn of(model: &Model) -> ModelInfo {
        let c = model.config();
        let mut tensor_types = BTreeMap::new();
        for t in model.gguf().tensors() {
            let e = tensor_types.entry(t.dtype).or_insert((0, 0));
            e.0 += 1;
            e.1 += t.size;
        }
        ModelInfo {
            architecture: c.arch.name(),
            n_layer: c.layers.len(),
            n_embd: c.n_embd,
            n_head: c.n_head,
            n_head_kv: c.n_head_kv,
            head_dim: c.head_dim,
            n_ff: c.n_ff,
            vocab_size: c.vocab_size,
            train_context: c.train_context,
            context_length: model.context_length(),
            threads: model.threads(),
            sliding_window: c.layers.iter().find_map(|l| l.window),
            sliding_layers: c.layers.iter().filter(|l| l.window.is_some()).count(),
            file_bytes: model.gguf().file_len(),
            tensor_types,
            kv_cache_bytes: model.memory_estimate().kv_cache_bytes as usize,
            load_ms: model.load_time().as_secs_f64() * 1e3,
        }
    }

    pub fn tensor_bytes(&self) -> usize {
        self.tensor_types.values().map(|&(_, b)| b).sum()
    }
}
