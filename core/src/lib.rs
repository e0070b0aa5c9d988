#![doc = include_str!("../../README.md")]
//!
//! The crate is layered (see ARCHITECTURE.md): `api` over `generate` over `model` over
//! `runtime` over `kernels`, with `gguf`, `tokenizer` and `dtype` as leaves. Every `use`
//! points down; `scripts/check-layers.py` checks it in `make test`.

mod api;
mod digest;
mod dtype;
mod error;
mod generate;
pub mod gguf;
mod kernels;
mod model;
mod runtime;
mod sampling;
pub mod tokenizer;

#[cfg(test)]
mod test_support;

pub use api::chat::Chat;
pub use api::conversation::{ChatOptions, ContextFullPolicy, Message, Role};
pub use api::engine::{Engine, Release, Released};
pub use api::proofread::{diff, Proofread, Segment, SegmentKind, PROOFREAD_INSTRUCTION};
pub use api::shared::Prefix;
pub use api::worker::{GenerationHandle, Listener};
pub use digest::{sha256_file, Sha256};
pub use dtype::DType;
pub use error::{Error, Result};
pub use generate::{FinishReason, GenerateOptions, Reply, Stats};
pub use model::{
    read_config, Arch, Config, KvCache, KvType, LayerConfig, Logits, MemoryEstimate, Model,
    ModelInfo, ModelOptions, RopeConfig, ScratchUse,
};
pub use runtime::control::{CancelToken, WhenBusy};
pub use runtime::cpu::default_threads;
pub use runtime::dispatch::Precision;
pub use runtime::process::ProcessMemory;
pub use sampling::{argmax, SamplingParams};
pub use tokenizer::Tokenizer;
