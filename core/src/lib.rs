#![doc = include_str!("../../README.md")]

mod dtype;
mod error;
pub mod generate;
pub mod gguf;
pub mod info;
pub mod kernels;
mod model;
mod quant;
pub mod sampling;
mod threads;
pub mod tokenizer;
mod vocab;

pub use dtype::DType;
pub use error::{Error, Result};
pub use model::{
    read_config, Arch, Config, KvCache, KvType, LayerConfig, Logits, Model, ModelOptions,
    RopeConfig,
};
pub use quant::Precision;
pub use tokenizer::Tokenizer;
