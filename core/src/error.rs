//! One error type for the engine. Every failure that an outside input can cause (a file, a prompt,
//! an option) is a variant with a message that names what was wrong; nothing here panics.

use std::path::PathBuf;

use crate::gguf::GgufError;
use crate::tokenizer::TokenizerError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Never holds [`GgufError::Io`]: that one becomes [`Error::Open`] (see the `From` below).
    #[error("invalid GGUF file: {0}")]
    Gguf(#[source] GgufError),

    #[error("unsupported architecture {0:?} (supported: gemma, gemma2, gemma3)")]
    UnsupportedArchitecture(String),

    #[error("missing tensor {0}")]
    MissingTensor(String),

    #[error("tensor {tensor} has shape {found:?}, expected {expected:?}")]
    TensorShape {
        tensor: String,
        expected: Vec<u64>,
        found: Vec<u64>,
    },

    #[error("invalid metadata {key}: {reason}")]
    InvalidMetadata { key: String, reason: String },

    #[error("tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),

    #[error("token id {id} is outside the vocabulary of {vocab_size} tokens")]
    InvalidToken { id: u32, vocab_size: usize },

    #[error("context full: needs {needed} tokens, limit {limit}")]
    ContextFull { needed: usize, limit: usize },

    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("memory budget exceeded: needs {needed} bytes, {available} available")]
    MemoryBudget { needed: u64, available: u64 },

    #[error("out of memory allocating {bytes} bytes for {what}")]
    OutOfMemory { what: &'static str, bytes: u64 },

    #[error("busy: {0}")]
    Busy(String),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("internal error: {0}")]
    Internal(String),

    #[error("invalid chat file {path}: {reason}")]
    InvalidChatFile { path: PathBuf, reason: String },
}

impl Error {
    /// An option outside its range, named as the caller wrote it, with the range it may take:
    /// "`prefill_chunk` must be 1 to 65536, not 0".
    pub(crate) fn out_of_range(
        option: &str,
        allowed: &str,
        value: impl std::fmt::Display,
    ) -> Error {
        Error::InvalidArgument(format!("{option} must be {allowed}, not {value}"))
    }
}

/// A file that cannot be opened is an [`Error::Open`], whichever layer opened it; every other
/// GGUF failure is an invalid file.
impl From<GgufError> for Error {
    fn from(e: GgufError) -> Error {
        match e {
            GgufError::Io { path, source } => Error::Open { path, source },
            e => Error::Gguf(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gguf_open_failure_reads_as_before() {
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let path = PathBuf::from("/no/such.gguf");
        let from_gguf = Error::from(GgufError::Io {
            path: path.clone(),
            source: io(),
        });
        assert!(matches!(from_gguf, Error::Open { .. }));
        let direct = Error::Open { path, source: io() };
        assert_eq!(from_gguf.to_string(), direct.to_string());
        let bad = Error::from(GgufError::MissingKey("k".into()));
        assert_eq!(bad.to_string(), "invalid GGUF file: missing metadata key k");
    }
}
