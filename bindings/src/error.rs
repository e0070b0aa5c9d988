//! The one error type apps see: a few variants an app can act on, each carrying the core's
//! one-line message. It is a flat error, so Kotlin's `GemKitException.X.message` and Swift's
//! `GemKitError.X(message:)` hold exactly that line, never a dump of fields.

use std::panic::{catch_unwind, AssertUnwindSafe};

use gemkit::tokenizer::TokenizerError;

#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum GemKitError {
    /// The file cannot be read: missing, no permission, an I/O failure.
    #[error("{0}")]
    Io(String),
    /// The file is not a valid GGUF model (corrupt, truncated, inconsistent).
    #[error("{0}")]
    InvalidModel(String),
    /// A valid file that this version cannot run (architecture, tensor type).
    #[error("{0}")]
    UnsupportedModel(String),
    /// An option or input out of range: thread count, context length, token id, text size.
    #[error("{0}")]
    InvalidArgument(String),
    /// The tokens do not fit in the context the model was loaded with.
    #[error("{0}")]
    ContextFull(String),
    /// The memory budget, or the device, has no room for what was asked.
    #[error("{0}")]
    OutOfMemory(String),
    /// The model or the chat is in use and the caller asked not to wait.
    #[error("{0}")]
    Busy(String),
    /// A saved chat that cannot be restored: damaged, or saved with another model.
    #[error("{0}")]
    InvalidChatFile(String),
    /// A bug in GemKit (a caught panic); the message says where.
    #[error("{0}")]
    Internal(String),
}

impl From<gemkit::Error> for GemKitError {
    fn from(e: gemkit::Error) -> Self {
        use gemkit::Error as E;
        let message = e.to_string();
        match e {
            E::Open { .. } => GemKitError::Io(message),
            E::Gguf(_)
            | E::MissingTensor(_)
            | E::TensorShape { .. }
            | E::InvalidMetadata { .. } => GemKitError::InvalidModel(message),
            E::Tokenizer(TokenizerError::TextTooLong(_)) => GemKitError::InvalidArgument(message),
            E::Tokenizer(_) => GemKitError::InvalidModel(message),
            E::UnsupportedArchitecture(_) => GemKitError::UnsupportedModel(message),
            E::InvalidToken { .. } | E::InvalidArgument(_) => GemKitError::InvalidArgument(message),
            E::ContextFull { .. } => GemKitError::ContextFull(message),
            E::MemoryBudget { .. } | E::OutOfMemory { .. } => GemKitError::OutOfMemory(message),
            E::Busy(_) => GemKitError::Busy(message),
            E::Io { .. } => GemKitError::Io(message),
            E::InvalidChatFile { .. } => GemKitError::InvalidChatFile(message),
            E::Internal(_) => GemKitError::Internal(message),
        }
    }
}

/// What an app's callback ([`crate::TokenListener`], [`crate::Logger`]) may throw. Throwing
/// anything else counts the same; only the reason is kept, for the log. (`GemKitError` cannot
/// be the callbacks' error: UniFFI cannot lift a flat error back into Rust.)
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed { reason: e.reason }
    }
}

/// Runs `f`, turning a panic into [`GemKitError::Internal`]. UniFFI catches panics too, but
/// Swift's bindings answer them with `try!` (a crash) in functions that do not throw, and
/// Kotlin's with an `InternalException` that apps would not expect; this keeps one error type.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, GemKitError>) -> Result<T, GemKitError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown panic");
        Err(GemKitError::Internal(format!("internal error: {what}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_core_message() {
        let e = GemKitError::from(gemkit::Error::ContextFull {
            needed: 9000,
            limit: 8192,
        });
        assert!(matches!(e, GemKitError::ContextFull(_)));
        assert_eq!(e.to_string(), "context full: needs 9000 tokens, limit 8192");
    }

    #[test]
    fn a_panic_becomes_internal() {
        let r: Result<(), _> = guard(|| panic!("boom {}", 1));
        match r {
            Err(GemKitError::Internal(m)) => assert_eq!(m, "internal error: boom 1"),
            other => panic!("{other:?}"),
        }
    }
}
