#![doc = include_str!("../../README.md")]

mod chat;
mod control;
mod cpu;
mod digest;
mod dtype;
mod engine;
mod error;
mod generate;
pub mod gguf;
pub mod info;
pub mod kernels;
mod memory;
mod model;
mod proofread;
mod quant;
pub mod sampling;
mod snapshot;
mod stop;
mod threads;
pub mod tokenizer;
mod vocab;
mod worker;

pub use chat::{Chat, ChatOptions, ContextFullPolicy, Message, Role};
pub use control::{CancelToken, WhenBusy};
pub use cpu::default_threads;
pub use digest::{sha256_file, Sha256};
pub use dtype::DType;
pub use engine::{Engine, Prefix};
pub use error::{Error, Result};
pub use generate::{FinishReason, GenerateOptions, Reply, Stats};
pub use memory::MemoryEstimate;
pub use model::{
    read_config, Arch, Config, KvCache, KvType, LayerConfig, Logits, Model, ModelOptions,
    RopeConfig,
};
pub use proofread::{diff, Proofread, Segment, SegmentKind};
pub use quant::Precision;
pub use tokenizer::Tokenizer;
pub use worker::{GenerationHandle, Listener};
