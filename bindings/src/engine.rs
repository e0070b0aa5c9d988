//! A loaded model across the FFI, and the prefixes prefilled on it. Every call converts in,
//! calls the core's `Engine` and converts the result or error out.
//!
//! Lifetimes: the model's memory is freed when the engine and every chat, prefix and handle
//! made from it are gone. In Kotlin, `close()` each of them (they are `AutoCloseable`; `use {}`
//! does it) rather than waiting for the garbage collector; in Swift, releasing the last
//! reference frees at once.

use std::sync::Arc;

use crate::chat::Chat;
use crate::error::{guard, GemKitError};
use crate::generation::{CancelToken, Forward, GenerationHandle, TokenListener};
use crate::options::MemoryRelease;
use crate::options::{ChatOptions, EngineOptions, GenerateOptions};
use crate::records::{MemoryEstimate, ModelInfo, ProofreadResult, ReleasedMemory};

/// A loaded model, safe to share across threads; compute on it runs one request at a time.
#[derive(uniffi::Object)]
pub struct Engine(gemkit::Engine);

/// Tokens prefilled once (an instruction sent with every request, or a chat's opening) that
/// later requests start from without prefilling them again. It holds a KV cache.
#[derive(uniffi::Object)]
pub struct Prefix(gemkit::Prefix);

#[uniffi::export]
impl Prefix {
    pub fn token_count(&self) -> u32 {
        u32::try_from(self.0.token_count()).unwrap_or(u32::MAX)
    }
}

/// What loading `path` with `options` would cost, from the file's header alone.
#[uniffi::export(default(options))]
pub fn estimate_memory(
    path: String,
    options: EngineOptions,
) -> Result<MemoryEstimate, GemKitError> {
    guard(|| Ok(gemkit::Engine::estimate_memory(path.as_ref(), &options.into())?.into()))
}

#[uniffi::export]
impl Engine {
    /// Maps and validates a GGUF model file. Blocking (tens of milliseconds): call it off the
    /// main thread.
    #[uniffi::constructor(default(options))]
    pub fn load(path: String, options: EngineOptions) -> Result<Arc<Self>, GemKitError> {
        guard(|| {
            Ok(Arc::new(Engine(gemkit::Engine::load(
                path.as_ref(),
                &options.into(),
            )?)))
        })
    }

    /// The model's shape and costs (loading it again if `release_memory` unloaded it).
    pub fn info(&self) -> Result<ModelInfo, GemKitError> {
        guard(|| Ok(ModelInfo::of(self.0.info()?)))
    }

    /// Anonymous bytes the model and its live chats, prefixes and requests hold, as the
    /// memory budget counts them; 0 while the model is unloaded.
    pub fn memory_in_use(&self) -> u64 {
        self.0.memory_in_use()
    }

    /// Frees memory when the app is short of it: `CACHES` writes idle chats' KV caches to
    /// files in `directory` and frees them, and frees prefixes' caches (each is made again,
    /// identical, when next used); `MODEL` also cancels every request and unloads the model,
    /// which the next use loads again. Chats continue exactly where they were. Blocking: with
    /// `MODEL` it waits for the running request to stop (at most one token).
    pub fn release_memory(
        &self,
        what: MemoryRelease,
        directory: String,
        reason: String,
    ) -> Result<ReleasedMemory, GemKitError> {
        guard(|| {
            Ok(self
                .0
                .release_memory(what.into(), directory.as_ref(), &reason)?
                .into())
        })
    }

    /// Why the model is unloaded (the reason given to `release_memory`), or null while it is
    /// loaded.
    pub fn unloaded_reason(&self) -> Option<String> {
        self.0.unloaded_reason()
    }

    /// A new chat with its own KV cache, taken from the memory budget.
    #[uniffi::method(default(options))]
    pub fn new_chat(&self, options: ChatOptions) -> Result<Arc<Chat>, GemKitError> {
        guard(|| Ok(Chat::new(self.0.new_chat(&options.into())?)))
    }

    /// Prefills a chat's opening (with its system prompt) once; chats made from it with
    /// `new_chat_from` skip that prefill. Blocking.
    #[uniffi::method(default(options))]
    pub fn chat_prefix(&self, options: ChatOptions) -> Result<Arc<Prefix>, GemKitError> {
        guard(|| Ok(Arc::new(Prefix(self.0.chat_prefix(&options.into())?))))
    }

    /// A chat that starts from a prefix made by `chat_prefix`.
    pub fn new_chat_from(&self, prefix: Arc<Prefix>) -> Result<Arc<Chat>, GemKitError> {
        guard(|| Ok(Chat::new(self.0.new_chat_from(&prefix.0)?)))
    }

    /// Prefills `text` once for `complete`. Control tokens written in the text, such as
    /// `<start_of_turn>`, become those tokens. Blocking.
    pub fn prefix(&self, text: String) -> Result<Arc<Prefix>, GemKitError> {
        guard(|| Ok(Arc::new(Prefix(self.0.prefix(&text)?))))
    }

    /// Raw completion of `prompt` (no chat template), after `prefix` if given. Returns at
    /// once; `listener` receives the text on the engine's thread, then the reply.
    #[uniffi::method(default(options))]
    pub fn complete(
        &self,
        prefix: Option<Arc<Prefix>>,
        prompt: String,
        listener: Arc<dyn TokenListener>,
        options: GenerateOptions,
    ) -> Result<Arc<GenerationHandle>, GemKitError> {
        guard(|| {
            let prefix = prefix.as_ref().map(|p| &p.0);
            let handle = self.0.complete_async(
                prefix,
                &prompt,
                &options.into(),
                Box::new(Forward(listener)),
            )?;
            Ok(Arc::new(GenerationHandle(handle)))
        })
    }

    /// Corrects the spelling, grammar and punctuation of `text` and diffs the correction
    /// against it. Blocking (a generation): call it off the main thread; `cancel` stops it,
    /// and a cancelled result keeps the text unchanged.
    #[uniffi::method(default(cancel = None))]
    pub fn proofread(
        &self,
        text: String,
        cancel: Option<Arc<CancelToken>>,
    ) -> Result<ProofreadResult, GemKitError> {
        guard(|| {
            let never = gemkit::CancelToken::new();
            let cancel = cancel.as_ref().map_or(&never, |c| &c.0);
            Ok(self.0.proofread(&text, cancel)?.into())
        })
    }

    /// Loads a chat saved by `Chat.save` with this model.
    pub fn restore_chat(&self, path: String) -> Result<Arc<Chat>, GemKitError> {
        guard(|| Ok(Chat::new(self.0.restore_chat(path.as_ref())?)))
    }

    /// Text to token ids, as a completion prompt is read (and as `gemkit tokenize` prints
    /// them): control tokens written in the text, such as `<start_of_turn>`, become those
    /// tokens; `add_special` puts the model's start token first.
    pub fn tokenize(&self, text: String, add_special: bool) -> Result<Vec<u32>, GemKitError> {
        guard(|| Ok(self.0.tokenize(&text, add_special)?))
    }

    /// Token ids to text; control tokens render as nothing.
    pub fn detokenize(&self, ids: Vec<u32>) -> Result<String, GemKitError> {
        guard(|| Ok(self.0.detokenize(&ids)?))
    }
}
