//! Gemma 3 text: Gemma 2's block without the attention cap, plus RMS norms on each query and
//! key head. Five local layers (window, RoPE base 1e4) alternate with one global layer (base
//! 1e6, linearly scaled positions on the 4B+ models). The final cap applies only when present.

use crate::error::Result;
use crate::model::config::{
    invalid, read_common, Config, Keys, LayerConfig, RopeConfig, DEFAULT_ROPE_BASE,
};

const LOCAL_ROPE_BASE: f32 = 10_000.0;
/// The 27B model scales queries by 1/sqrt(n_embd / n_head); llama.cpp knows it by depth.
const LAYERS_OF_27B: usize = 62;

pub(crate) fn config<B: AsRef<[u8]>>(keys: &Keys<B>) -> Result<Config> {
    let (mut c, n_layer) = read_common(keys)?;
    c.post_norms = true;
    c.qk_norm = true;
    c.final_softcap = keys.opt_f32("final_logit_softcapping")?;
    if n_layer == LAYERS_OF_27B {
        c.attn_scale = 1.0 / ((c.n_embd / c.n_head) as f32).sqrt();
    }

    let global = RopeConfig {
        base: keys.opt_f32("rope.freq_base")?.unwrap_or(DEFAULT_ROPE_BASE),
        scale: global_rope_scale(keys)?,
    };
    let window = keys.opt_size("attention.sliding_window")?;
    let Some(window) = window else {
        // No window: every layer is global, with one RoPE base.
        c.ropes = vec![global];
        c.layers = vec![
            LayerConfig {
                window: None,
                rope: 0
            };
            n_layer
        ];
        return Ok(c);
    };
    let local = RopeConfig {
        base: keys
            .opt_f32("rope.freq_base_swa")?
            .unwrap_or(LOCAL_ROPE_BASE),
        scale: 1.0,
    };
    c.ropes = vec![global, local];
    c.layers = keys
        .sliding_layers(n_layer, 6)?
        .into_iter()
        .map(|slides| LayerConfig {
            window: slides.then_some(window),
            rope: if slides { 1 } else { 0 },
        })
        .collect();
    Ok(c)
}

/// Positions are divided by `rope.scaling.factor` on global layers when the type is linear.
fn global_rope_scale<B: AsRef<[u8]>>(keys: &Keys<B>) -> Result<f32> {
    let type_key = keys.key("rope.scaling.type");
    match keys.gguf.opt_str(&type_key)? {
        None | Some("none") => Ok(1.0),
        Some("linear") => {
            let factor = keys.opt_f32("rope.scaling.factor")?.unwrap_or(1.0);
            Ok(1.0 / factor)
        }
        Some(other) => Err(invalid(
            &type_key,
            format!("unsupported RoPE scaling {other:?}"),
        )),
    }
}
