//! GemKit's Kotlin and Swift bindings: the only crate that knows UniFFI. Each file is a thin
//! layer over the core (convert in, call, convert the error out); the logic and its tests
//! live in `gemkit`.

mod error;
mod logging;
mod model;

pub use error::GemKitError;
pub use logging::{init_logging, LogLevel, LogRecord, Logger};
pub use model::{load_model, Model, ModelInfo, ModelOptions};

uniffi::setup_scaffolding!();
