//! The one error type apps see: a few variants an app can act on, each carrying the core's
//! one-line message as `reason`, and `ContextFull` its two numbers as well, so that no wrapper
//! parses text. Swift's `GemKitError.X(reason:)` and Kotlin's `GemKitException.X.reason` hold
//! exactly that line. The field cannot be called `message`: UniFFI's Kotlin error classes
//! derive `Throwable.message` from their fields (`reason=…`), and a field of that name would
//! clash with it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use gemkit::tokenizer::TokenizerError;

use crate::records::count;

#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum GemKitError {
    /// The file cannot be read: missing, no permission, an I/O failure.
    #[error("{reason}")]
    Io { reason: String },
    /// The file is not a valid GGUF model (corrupt, truncated, inconsistent).
    #[error("{reason}")]
    InvalidModel { reason: String },
    /// A valid file that this version cannot run (architecture, tensor type).
    #[error("{reason}")]
    UnsupportedModel { reason: String },
    /// An option or input out of range: thread count, context length, token id, text size.
    #[error("{reason}")]
    InvalidArgument { reason: String },
    /// The tokens do not fit in the context the model was loaded with: `needed` tokens, and
    /// the context holds `limit`.
    #[error("{reason}")]
    ContextFull {
        reason: String,
        needed: u32,
        limit: u32,
    },
    /// The memory budget, or the device, has no room for what was asked.
    #[error("{reason}")]
    OutOfMemory { reason: String },
    /// The model or the chat is in use and the caller asked not to wait.
    #[error("{reason}")]
    Busy { reason: String },
    /// A saved chat that cannot be restored: damaged, or saved with another model.
    #[error("{reason}")]
    InvalidChatFile { reason: String },
    /// A bug in GemKit (a caught panic); the message says where.
    #[error("{reason}")]
    Internal { reason: String },
}

impl From<gemkit::Error> for GemKitError {
    fn from(e: gemkit::Error) -> Self {
        use gemkit::Error as E;
        let reason = e.to_string();
        match e {
            E::Open { .. } | E::Io { .. } => GemKitError::Io { reason },
            E::Gguf(_)
            | E::MissingTensor(_)
            | E::TensorShape { .. }
            | E::InvalidMetadata { .. } => GemKitError::InvalidModel { reason },
            E::Tokenizer(TokenizerError::TextTooLong(_)) => GemKitError::InvalidArgument { reason },
            E::Tokenizer(_) => GemKitError::InvalidModel { reason },
            E::UnsupportedArchitecture(_) => GemKitError::UnsupportedModel { reason },
            E::InvalidToken { .. } | E::InvalidArgument(_) => {
                GemKitError::InvalidArgument { reason }
            }
            E::ContextFull { needed, limit } => GemKitError::ContextFull {
                reason,
                needed: count(needed),
                limit: count(limit),
            },
            E::MemoryBudget { .. } | E::OutOfMemory { .. } => GemKitError::OutOfMemory { reason },
            E::Busy(_) => GemKitError::Busy { reason },
            E::InvalidChatFile { .. } => GemKitError::InvalidChatFile { reason },
            E::Internal(_) => GemKitError::Internal { reason },
        }
    }
}

/// What an app's callback ([`crate::TokenListener`], [`crate::Logger`]) may throw. Throwing
/// anything else counts the same; only the reason is kept, for the log. (`GemKitError` cannot
/// be the callbacks' error: it is not meant to come back from an app.)
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
        Err(GemKitError::Internal {
            reason: format!("internal error: {what}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_core_message_and_the_context_full_numbers() {
        let e = GemKitError::from(gemkit::Error::ContextFull {
            needed: 9000,
            limit: 8192,
        });
        match &e {
            GemKitError::ContextFull {
                reason,
                needed,
                limit,
            } => {
                assert_eq!(reason, "context full: needs 9000 tokens, limit 8192");
                assert_eq!((*needed, *limit), (9000, 8192));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.to_string(), "context full: needs 9000 tokens, limit 8192");
        // A count past u32 saturates rather than wrapping to a small, wrong number.
        let huge = GemKitError::from(gemkit::Error::ContextFull {
            needed: usize::MAX,
            limit: 8,
        });
        assert!(matches!(
            huge,
            GemKitError::ContextFull {
                needed: u32::MAX,
                limit: 8,
                ..
            }
        ));
    }

    #[test]
    fn a_panic_becomes_internal() {
        let r: Result<(), _> = guard(|| panic!("boom {}", 1));
        match r {
            Err(GemKitError::Internal { reason }) => assert_eq!(reason, "internal error: boom 1"),
            other => panic!("{other:?}"),
        }
    }
}
