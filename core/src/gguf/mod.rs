//! GGUF files, memory-mapped and validated before any value or tensor is used.
//!
//! [`Gguf::parse`] walks the whole header once: every count is checked against the bytes that
//! remain before anything is sized by it, every tensor's range is checked against the file, and
//! large metadata arrays (the tokenizer's 262k strings) stay in the file as ranges that are
//! decoded only when asked for. Tensor bytes are borrowed from the map, never copied.
//!
//! `error` and `value` import nothing here, `parse` reads the header into values, and `file`
//! holds [`Gguf`] over the other three. This file only declares and re-exports them.

mod error;
mod file;
mod parse;
mod value;

#[cfg(test)]
mod tests;

pub use error::GgufError;
pub use file::Gguf;
pub use value::{ArrayRef, Layout, TensorInfo, Value, ValueType};
