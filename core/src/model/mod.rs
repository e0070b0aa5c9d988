//! A Gemma model loaded from one mapped GGUF file: its config (one family's keys read into
//! data), where its weights lie, the forward pass, the KV cache, RoPE, and what it all costs
//! in memory, known before loading.

mod attention;
mod config;
mod cost;
mod families;
mod forward;
mod info;
mod kv_cache;
mod load;
mod rope;
mod tokenizer;
mod weights;

pub use config::{Arch, Config, LayerConfig, RopeConfig};
pub use cost::MemoryEstimate;
pub use families::read_config;
pub use info::ModelInfo;
pub use kv_cache::{KvCache, KvType};
pub use load::{Logits, Model, ModelOptions, ScratchUse};
