//! A conversation across the FFI: each turn streams to a listener; the history and the saved
//! file come from the core's `Chat`.

use std::sync::Arc;

use crate::error::{guard, GemKitError};
use crate::generation::{Forward, GenerationHandle, TokenListener};
use crate::options::GenerateOptions;
use crate::records::Message;

/// A conversation with its own KV cache. Closing it (or releasing it in Swift) cancels its
/// running request and gives its memory back to the engine's budget.
#[derive(uniffi::Object)]
pub struct Chat(gemkit::Chat);

impl Chat {
    pub(crate) fn new(chat: gemkit::Chat) -> Arc<Chat> {
        Arc::new(Chat(chat))
    }
}

#[uniffi::export]
impl Chat {
    /// Sends a user message. Returns at once; `listener` receives the model's reply on the
    /// engine's thread. With `WhenBusy.FAIL` it throws `Busy` at once if the model is busy.
    #[uniffi::method(default(options))]
    pub fn send(
        &self,
        message: String,
        listener: Arc<dyn TokenListener>,
        options: GenerateOptions,
    ) -> Result<Arc<GenerationHandle>, GemKitError> {
        guard(|| {
            let listener = Box::new(Forward(listener));
            let handle = self.0.send_async(&message, &options.into(), listener)?;
            Ok(Arc::new(GenerationHandle(handle)))
        })
    }

    /// The messages so far, oldest first (waits for a running turn to end).
    pub fn history(&self) -> Result<Vec<Message>, GemKitError> {
        guard(|| Ok(self.0.history()?.into_iter().map(Into::into).collect()))
    }

    /// Writes the chat, KV cache included, to `path`; `Engine.restore_chat` continues it
    /// without prefilling again.
    pub fn save(&self, path: String) -> Result<(), GemKitError> {
        guard(|| Ok(self.0.save(path.as_ref())?))
    }
}
