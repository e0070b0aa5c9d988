//! Everything that can go wrong opening or reading a GGUF file. Each message names the key or
//! tensor it was reading; the crate's `Error` shows an open failure as its own `Open` variant.

use std::path::PathBuf;

/// How deep metadata arrays may nest.
pub(super) const MAX_ARRAY_NESTING: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot open {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a GGUF file (magic bytes {0:02x?}, expected \"GGUF\")")]
    BadMagic([u8; 4]),
    #[error("unsupported GGUF version {0} (supported: 2, 3)")]
    UnsupportedVersion(u32),
    #[error("file ends at byte {file_len} while reading {what}")]
    Truncated { what: String, file_len: usize },
    #[error("{what} is {count}, more than the {left} bytes left in the file can hold")]
    CountTooLarge {
        what: String,
        count: u64,
        left: usize,
    },
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 { what: String },
    #[error("metadata {key}: unknown value type {id}")]
    UnknownValueType { key: String, id: u32 },
    #[error("metadata {key}: arrays nested more than {MAX_ARRAY_NESTING} deep")]
    NestingTooDeep { key: String },
    #[error("metadata key {0} appears twice")]
    DuplicateKey(String),
    #[error("general.alignment is {0}, expected a power of two")]
    BadAlignment(u64),
    #[error("tensor {0} appears twice")]
    DuplicateTensor(String),
    #[error("tensor {tensor}: {reason}")]
    BadShape { tensor: String, reason: String },
    #[error("tensor {tensor}: unknown type id {id}")]
    UnknownTensorType { tensor: String, id: u32 },
    #[error("unsupported tensor type {dtype} for tensor {tensor} (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K)")]
    UnsupportedTensorType { tensor: String, dtype: &'static str },
    #[error("tensor {tensor}: offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        tensor: String,
        offset: u64,
        alignment: usize,
    },
    #[error("tensor {tensor}: bytes {start}..{end} lie outside the file of {file_len} bytes")]
    TensorOutOfBounds {
        tensor: String,
        start: u128,
        end: u128,
        file_len: usize,
    },
    #[error("missing metadata key {0}")]
    MissingKey(String),
    #[error("metadata {key}: expected {expected}, found {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
}
