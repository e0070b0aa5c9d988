//! Everything that can go wrong building or using a tokenizer.

use std::path::PathBuf;

/// Everything that can go wrong building or using a `Tokenizer`.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("the vocabulary has no tokens")]
    EmptyVocab,
    #[error("{field} has {got} entries but tokens has {expected}")]
    LengthMismatch {
        field: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("{which} token id {id} is out of range (the vocabulary has {n} tokens)")]
    IdOutOfRange {
        which: &'static str,
        id: u32,
        n: usize,
    },
    #[error("the vocabulary has {0} tokens, more than 32-bit ids can address")]
    TooLarge(usize),
    #[error("invalid token type {value} (expected 1..=6)")]
    InvalidTokenType { value: i32 },
    #[error("the vocabulary asks for a {which} token (add_{which}) but has no {which} token id")]
    MissingSpecial { which: &'static str },
    #[error("byte 0x{byte:02X} has no byte-fallback token <0x{byte:02X}> and the vocabulary has no unknown token")]
    NoByteFallback { byte: u8 },
    #[error("cannot load tokenizer {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("text of {0} bytes is too long to tokenize (the limit is 1 GiB)")]
    TextTooLong(usize),
    #[error("tokenizer.json encode failed: {0}")]
    Encode(String),
}
