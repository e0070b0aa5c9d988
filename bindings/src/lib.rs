//! GemKit's Kotlin and Swift bindings: the only crate that knows UniFFI. Each file is a thin
//! layer over the core (convert in, call, convert the error out); the logic and its tests
//! live in `gemkit`. An app sees an [`Engine`], its [`Chat`]s and [`Prefix`]es, requests that
//! stream to a [`TokenListener`] behind a [`GenerationHandle`], plain records, and one error
//! type, [`GemKitError`].

mod chat;
mod digest;
mod engine;
mod error;
mod generation;
mod logging;
mod options;
mod records;

pub use chat::Chat;
pub use digest::{sha256_file, Sha256};
pub use engine::{estimate_memory, Engine, Prefix};
pub use error::{CallbackError, GemKitError};
pub use generation::{CancelToken, GenerationHandle, TokenListener};
pub use logging::{init_logging, LogLevel, LogRecord, Logger};
pub use options::{
    ChatOptions, ContextFullPolicy, EngineOptions, GenerateOptions, KvType, MemoryRelease,
    Precision, Sampling, WhenBusy,
};
pub use records::{
    FinishReason, MemoryEstimate, Message, ModelInfo, ProofreadResult, ReleasedMemory, Reply, Role,
    Segment, SegmentKind, Stats,
};

uniffi::setup_scaffolding!();
