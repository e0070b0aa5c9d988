//! SHA-256 for the platform downloaders: they feed each chunk as it arrives and compare the
//! digest before moving a download into place. One implementation for Kotlin and Swift.

use std::sync::Mutex;

use crate::error::{guard, GemKitError};

/// A SHA-256 being computed; thread-safe, though a download feeds it from one thread.
#[derive(uniffi::Object, Default)]
pub struct Sha256(Mutex<gemkit::Sha256>);

#[uniffi::export]
impl Sha256 {
    #[uniffi::constructor]
    pub fn new() -> Self {
        Sha256::default()
    }

    pub fn update(&self, bytes: Vec<u8>) {
        self.state().update(&bytes);
    }

    /// Feeds the first `limit` bytes of the file at `path` (all of it when null), as when a
    /// download resumes after a part already on disk; returns how many bytes it read.
    #[uniffi::method(default(limit = None))]
    pub fn update_from_file(&self, path: String, limit: Option<u64>) -> Result<u64, GemKitError> {
        guard(|| Ok(self.state().update_from_file(path.as_ref(), limit)?))
    }

    /// The digest of everything fed so far, as 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.state().hex()
    }
}

impl Sha256 {
    fn state(&self) -> std::sync::MutexGuard<'_, gemkit::Sha256> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The SHA-256 of a whole file, as 64 lowercase hex digits.
#[uniffi::export]
pub fn sha256_file(path: String) -> Result<String, GemKitError> {
    guard(|| Ok(gemkit::sha256_file(path.as_ref())?))
}
