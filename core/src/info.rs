//! What a loaded model is and what it costs in memory: the facts `gemkit info` prints.

use std::collections::BTreeMap;

use crate::dtype::DType;
use crate::model::Model;

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

/// Resident memory of this process split as the kernel counts it (Linux and Android).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Anonymous pages: heap, stacks. What a phone's low-memory killer counts.
    pub rss_anon: usize,
    /// File-backed pages, such as the mapped weights: clean, the OS can drop them.
    pub rss_file: usize,
}

impl ProcessMemory {
    /// Reads `/proc/self/status`; None where it does not exist.
    pub fn current() -> Option<ProcessMemory> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let kib = |key: &str| -> Option<usize> {
            let line = status.lines().find(|l| l.starts_with(key))?;
            let n: usize = line[key.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(n * 1024)
        };
        Some(ProcessMemory {
            rss_anon: kib("RssAnon:")?,
            rss_file: kib("RssFile:")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let m = ProcessMemory::current().expect("linux has /proc/self/status");
        assert!(m.rss_anon > 0);
    }
}
