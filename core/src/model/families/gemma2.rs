//! Gemma 2: Gemma 1's block plus post-norms on both sub-blocks, attention logits soft-capped
//! before the mask, final logits soft-capped, and even layers sliding over a local window.

use crate::error::Result;
use crate::model::config::{
    invalid, read_common, Config, Keys, LayerConfig, RopeConfig, DEFAULT_ROPE_BASE,
};

/// llama.cpp applies both caps even when the keys are missing, with these values.
const DEFAULT_ATTN_SOFTCAP: f32 = 50.0;
const DEFAULT_FINAL_SOFTCAP: f32 = 30.0;
/// The 27B model scales queries by 1/sqrt(n_embd / n_head); llama.cpp knows it by depth.
const LAYERS_OF_27B: usize = 46;

pub(crate) fn config<B: AsRef<[u8]>>(keys: &Keys<B>) -> Result<Config> {
    let (mut c, n_layer) = read_common(keys)?;
    c.post_norms = true;
    c.attn_softcap = Some(
        keys.opt_f32("attn_logit_softcapping")?
            .unwrap_or(DEFAULT_ATTN_SOFTCAP),
    );
    c.final_softcap = Some(
        keys.opt_f32("final_logit_softcapping")?
            .unwrap_or(DEFAULT_FINAL_SOFTCAP),
    );
    if n_layer == LAYERS_OF_27B {
        c.attn_scale = 1.0 / ((c.n_embd / c.n_head) as f32).sqrt();
    }
    let window = keys
        .opt_size("attention.sliding_window")?
        .ok_or_else(|| invalid(&keys.key("attention.sliding_window"), "missing".into()))?;
    let base = keys.opt_f32("rope.freq_base")?.unwrap_or(DEFAULT_ROPE_BASE);
    c.ropes = vec![RopeConfig { base, scale: 1.0 }];
    c.layers = keys
        .sliding_layers(n_layer, 2)?
        .into_iter()
        .map(|slides| LayerConfig {
            window: slides.then_some(window),
            rope: 0,
        })
        .collect();
    Ok(c)
}
