//! What the three Gemma families share in their GGUF metadata, read once into a [`Config`] that
//! describes every layer. The family files (`gemma.rs`, `gemma2.rs`, `gemma3.rs`) fill in
//! what differs: soft-capping, which layers slide, and RoPE bases.

use crate::error::{Error, Result};
use crate::gguf::Gguf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Gemma,
    Gemma2,
    Gemma3,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Gemma => "gemma",
            Arch::Gemma2 => "gemma2",
            Arch::Gemma3 => "gemma3",
        }
    }
}

/// One RoPE table: NEOX pairs `(i, i + d/2)` at angle `pos · scale · base^(-2i/d)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RopeConfig {
    pub base: f32,
    pub scale: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerConfig {
    /// A query at position i sees keys j with `i - j < window`; None for global layers.
    pub window: Option<usize>,
    /// Index into [`Config::ropes`].
    pub rope: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub arch: Arch,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub vocab_size: usize,
    /// The context length the model was trained with.
    pub train_context: usize,
    pub rms_eps: f32,
    pub attn_scale: f32,
    pub attn_softcap: Option<f32>,
    pub final_softcap: Option<f32>,
    /// Gemma 2/3: norms on each sub-block's output before the residual add.
    pub post_norms: bool,
    /// Gemma 3: RMS norm of each query and key head.
    pub qk_norm: bool,
    pub ropes: Vec<RopeConfig>,
    pub layers: Vec<LayerConfig>,
}

pub const DEFAULT_ROPE_BASE: f32 = 10_000.0;

/// The largest size a key may give, and the largest product of the head count and the head
/// size: then a prefill chunk's activations, a context's attention scores and a KV cache's
/// ring are all products that fit in 64 bits.
const MAX_SIZE: usize = 1 << 24;

/// Reads `<arch>.<name>` keys and turns their failures into errors naming the key.
pub(crate) struct Keys<'a, B: AsRef<[u8]>> {
    pub gguf: &'a Gguf<B>,
    pub arch: Arch,
}

impl<B: AsRef<[u8]>> Keys<'_, B> {
    pub fn key(&self, name: &str) -> String {
        format!("{}.{name}", self.arch.name())
    }

    /// A positive size, bounded so products of sizes cannot overflow.
    pub fn size(&self, name: &str) -> Result<usize> {
        let key = self.key(name);
        let v = self.gguf.u64(&key)?;
        if v == 0 || v > MAX_SIZE as u64 {
            return Err(invalid(&key, format!("{v} is out of range 1..={MAX_SIZE}")));
        }
        Ok(v as usize)
    }

    pub fn opt_size(&self, name: &str) -> Result<Option<usize>> {
        match self.gguf.opt_u64(&self.key(name))? {
            None | Some(0) => Ok(None),
            Some(_) => self.size(name).map(Some),
        }
    }

    pub fn opt_f32(&self, name: &str) -> Result<Option<f32>> {
        let key = self.key(name);
        match self.gguf.opt_f32(&key)? {
            Some(v) if !v.is_finite() || v <= 0.0 => {
                Err(invalid(&key, format!("{v} is not a positive number")))
            }
            v => Ok(v),
        }
    }

    /// Which layers slide: `<arch>.attention.sliding_window_pattern` when the file has it
    /// (a period, or one bool per layer), else llama.cpp's rule for the family: layer `il`
    /// slides iff `il % period < period - 1`.
    pub fn sliding_layers(&self, n_layer: usize, default_period: usize) -> Result<Vec<bool>> {
        let key = self.key("attention.sliding_window_pattern");
        let period = match self.gguf.get(&key) {
            None => default_period,
            Some(v) => match v.as_u64() {
                Some(p) if p >= 1 => p as usize,
                Some(p) => return Err(invalid(&key, format!("period {p} must be at least 1"))),
                None => {
                    let flags = self.gguf.i32_array(&key).map_err(|_| {
                        invalid(&key, "expected a period or one flag per layer".into())
                    })?;
                    if flags.len() != n_layer {
                        return Err(invalid(
                            &key,
                            format!("{} flags for {n_layer} layers", flags.len()),
                        ));
                    }
                    return Ok(flags.iter().map(|&f| f != 0).collect());
                }
            },
        };
        Ok((0..n_layer).map(|il| il % period < period - 1).collect())
    }
}

pub(crate) fn invalid(key: &str, reason: String) -> Error {
    Error::InvalidMetadata {
        key: key.to_owned(),
        reason,
    }
}

/// The keys every family has. Families then set the fields that differ.
pub(crate) fn read_common<B: AsRef<[u8]>>(keys: &Keys<B>) -> Result<(Config, usize)> {
    let n_layer = keys.size("block_count")?;
    // Each layer has several tensors: a count past the file's would size the layers' configs
    // (up to 2^24 of them) before a missing tensor is noticed.
    let n_tensors = keys.gguf.tensors().len();
    if n_layer > n_tensors {
        return Err(invalid(
            &keys.key("block_count"),
            format!("{n_layer} layers, but the file has {n_tensors} tensors"),
        ));
    }
    let n_embd = keys.size("embedding_length")?;
    let n_head = keys.size("attention.head_count")?;
    let n_head_kv = keys.size("attention.head_count_kv")?;
    if n_head % n_head_kv != 0 {
        return Err(invalid(
            &keys.key("attention.head_count_kv"),
            format!("{n_head_kv} does not divide the {n_head} query heads"),
        ));
    }
    // head_dim is its own key in Gemma files; n_embd / n_head is wrong for several models.
    let head_dim = match keys.opt_size("attention.key_length")? {
        Some(d) => d,
        None => n_embd / n_head,
    };
    if let Some(v) = keys.opt_size("attention.value_length")? {
        if v != head_dim {
            return Err(invalid(
                &keys.key("attention.value_length"),
                format!("{v} differs from key_length {head_dim}"),
            ));
        }
    }
    if n_head * head_dim > MAX_SIZE {
        return Err(invalid(
            &keys.key("attention.head_count"),
            format!("{n_head} heads of {head_dim} exceed {MAX_SIZE} values"),
        ));
    }
    if head_dim % 2 != 0 {
        return Err(invalid(
            &keys.key("attention.key_length"),
            format!("{head_dim} is odd; RoPE needs pairs"),
        ));
    }
    let rms_eps = keys
        .opt_f32("attention.layer_norm_rms_epsilon")?
        .unwrap_or(1e-6);
    let config = Config {
        arch: keys.arch,
        n_embd,
        n_head,
        n_head_kv,
        head_dim,
        n_ff: keys.size("feed_forward_length")?,
        vocab_size: 0,
        train_context: keys.size("context_length")?,
        rms_eps,
        attn_scale: 1.0 / (head_dim as f32).sqrt(),
        attn_softcap: None,
        final_softcap: None,
        post_norms: false,
        qk_norm: false,
        ropes: Vec::new(),
        layers: Vec::new(),
    };
    Ok((config, n_layer))
}
