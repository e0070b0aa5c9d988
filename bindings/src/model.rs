//! A loaded model across the FFI: load options in, facts and tokens out. Generation comes with
//! the core's chat engine.

use std::sync::Arc;

use crate::error::{guard, GemKitError};

/// How to load a model; every field left out takes the core's default.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct ModelOptions {
    /// Tokens a sequence can hold (default: the training context, at most 4096).
    #[uniffi(default = None)]
    pub context_length: Option<u32>,
    /// Compute threads (default: the number of CPUs available).
    #[uniffi(default = None)]
    pub threads: Option<u32>,
}

impl From<ModelOptions> for gemkit::ModelOptions {
    fn from(o: ModelOptions) -> Self {
        gemkit::ModelOptions {
            context_length: o.context_length.map(|n| n as usize),
            threads: o.threads.map(|n| n as usize),
            ..gemkit::ModelOptions::default()
        }
    }
}

/// What a loaded model is and the memory it takes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ModelInfo {
    /// `gemma`, `gemma2` or `gemma3`.
    pub architecture: String,
    pub layers: u32,
    pub embedding_length: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub feed_forward_length: u32,
    pub vocab_size: u32,
    /// Context the model was trained with.
    pub train_context: u32,
    /// Context this load allows per sequence.
    pub context_length: u32,
    /// Window of the sliding-window layers, if the model has any.
    pub sliding_window: Option<u32>,
    pub sliding_layers: u32,
    pub threads: u32,
    pub file_bytes: u64,
    /// Weights, mapped from the file: clean memory the OS can drop and reload.
    pub tensor_bytes: u64,
    /// KV cache of one sequence at `context_length` (the app's own memory).
    pub kv_cache_bytes: u64,
    pub load_ms: f64,
}

#[derive(uniffi::Object)]
pub struct Model(gemkit::Model);

/// Loads (maps and validates) a GGUF model file.
#[uniffi::export]
pub fn load_model(path: String, options: ModelOptions) -> Result<Arc<Model>, GemKitError> {
    guard(|| {
        let model = gemkit::Model::load(path.as_ref(), &options.into())?;
        Ok(Arc::new(Model(model)))
    })
}

#[uniffi::export]
impl Model {
    pub fn info(&self) -> ModelInfo {
        let i = gemkit::info::ModelInfo::of(&self.0);
        ModelInfo {
            architecture: i.architecture.to_owned(),
            layers: count(i.n_layer),
            embedding_length: count(i.n_embd),
            heads: count(i.n_head),
            kv_heads: count(i.n_head_kv),
            head_dim: count(i.head_dim),
            feed_forward_length: count(i.n_ff),
            vocab_size: count(i.vocab_size),
            train_context: count(i.train_context),
            context_length: count(i.context_length),
            sliding_window: i.sliding_window.map(count),
            sliding_layers: count(i.sliding_layers),
            threads: count(self.0.threads()),
            file_bytes: i.file_bytes as u64,
            tensor_bytes: i.tensor_bytes() as u64,
            kv_cache_bytes: i.kv_cache_bytes as u64,
            load_ms: i.load_ms,
        }
    }

    /// Text to token ids; `add_special` adds the model's BOS. Control tokens written in the
    /// text stay text.
    pub fn tokenize(&self, text: String, add_special: bool) -> Result<Vec<u32>, GemKitError> {
        guard(|| {
            Ok(self
                .0
                .tokenizer()
                .encode(&text, add_special, false)
                .map_err(gemkit::Error::from)?)
        })
    }

    /// Token ids to text; control tokens render as nothing.
    pub fn detokenize(&self, ids: Vec<u32>) -> Result<String, GemKitError> {
        guard(|| {
            let tokenizer = self.0.tokenizer();
            let vocab_size = tokenizer.vocab_size();
            if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab_size) {
                return Err(gemkit::Error::InvalidToken { id, vocab_size }.into());
            }
            Ok(tokenizer.decode(&ids))
        })
    }
}

/// Counts from a validated file fit in 32 bits; saturate rather than wrap if one ever does not.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
