//! Gemma 1 (2B, 7B): pre-norm blocks, GELU-tanh gated MLP, one RoPE base, no window, no caps.
//! Its GGUF `ffn_norm` is the pre-FFN norm (HF's `post_attention_layernorm`).

use crate::error::Result;
use crate::model::config::{read_common, Config, Keys, LayerConfig, RopeConfig, DEFAULT_ROPE_BASE};

pub(crate) fn config<B: AsRef<[u8]>>(keys: &Keys<B>) -> Result<Config> {
    let (mut c, n_layer) = read_common(keys)?;
    let base = keys.opt_f32("rope.freq_base")?.unwrap_or(DEFAULT_ROPE_BASE);
    c.ropes = vec![RopeConfig { base, scale: 1.0 }];
    c.layers = vec![
        LayerConfig {
            window: None,
            rope: 0
        };
        n_layer
    ];
    Ok(c)
}
