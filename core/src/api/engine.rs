//! The API an app uses: a loaded model shared across threads, its chats, raw completions and
//! prefixes prefilled once. Compute on one model is serialized (one lock, one worker thread for
//! streamed requests), so no two forward passes race and nothing else needs to be.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::api::chat::Chat;
use crate::api::conversation::ChatOptions;
use crate::api::proofread::{self, Proofread};
use crate::api::shared::{EngineInner, Prefix};
use crate::api::worker::{GenerationHandle, Listener};
use crate::error::{Error, Result};
use crate::generate::{generate, GenerateOptions, Reply, Request};
use crate::model::{MemoryEstimate, Model, ModelInfo, ModelOptions};
use crate::runtime::control::{CancelToken, WhenBusy};

/// A loaded model. Clones share it; it is freed when the last clone, chat, prefix and request
/// are gone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

/// What [`Engine::release_memory`] frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Idle chats' KV caches are written to disk and freed, and prefixes' caches are freed
    /// (prefilled again, to the same bits, when next used). A running generation goes on, and
    /// its chat keeps its cache.
    Caches,
    /// Also cancels every request, running or queued (each stops within one token), and
    /// unloads the model: tokenizer, compute threads and the file's map. The next use loads it
    /// again; every chat continues exactly where it was.
    Model,
}

/// What [`Engine::release_memory`] freed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    /// Anonymous bytes given back, as the memory budget counts them.
    pub bytes: u64,
    pub chats_offloaded: usize,
    pub prefixes_freed: usize,
    /// Chats left as they were because a turn held them.
    pub chats_busy: usize,
}

impl Engine {
    pub fn load(path: &Path, options: &ModelOptions) -> Result<Engine> {
        Ok(Engine {
            inner: Arc::new(EngineInner::load(path.to_owned(), options.clone())?),
        })
    }

    /// What loading `path` would cost, from its header alone (see [`Model::estimate_memory`]).
    pub fn estimate_memory(path: &Path, options: &ModelOptions) -> Result<MemoryEstimate> {
        Model::estimate_memory(path, options)
    }

    /// The model, loaded again if [`Engine::release_memory`] unloaded it.
    pub fn model(&self) -> Result<Arc<Model>> {
        self.inner.model()
    }

    pub fn info(&self) -> Result<ModelInfo> {
        Ok(ModelInfo::of(&*self.inner.model()?))
    }

    /// Anonymous bytes the model and its live chats, prefixes and requests hold, as the memory
    /// budget counts them; none while the model is unloaded.
    pub fn memory_in_use(&self) -> u64 {
        self.inner.loaded().map_or(0, |m| m.memory_in_use())
    }

    /// Why the model is unloaded (the reason given to [`Engine::release_memory`]), while it
    /// is; None while it is loaded.
    pub fn unloaded_reason(&self) -> Option<String> {
        self.inner.unloaded_reason()
    }

    /// Frees memory when the app is short of it (see [`Release`]). Offloaded chats' caches go
    /// to files in `dir`, read back (and removed) when the chat is next used. Never frees
    /// what a running generation uses. `reason` is what [`Engine::unloaded_reason`] reports.
    pub fn release_memory(&self, what: Release, dir: &Path, reason: &str) -> Result<Released> {
        let Some(model) = self.inner.loaded() else {
            return Ok(Released::default());
        };
        let before = model.memory_in_use();
        let _compute = match what {
            Release::Caches => None,
            Release::Model => {
                self.inner.cancel_all();
                Some(self.inner.compute.lock(WhenBusy::Wait)?)
            }
        };
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut released = Released::default();
        for chat in self.inner.chats() {
            match chat.offload(&model, dir)? {
                Some(0) => {}
                Some(_) => released.chats_offloaded += 1,
                None => released.chats_busy += 1,
            }
        }
        released.prefixes_freed = self.inner.free_prefixes();
        released.bytes = before.saturating_sub(model.memory_in_use());
        if what == Release::Model {
            // What the model held itself (tokenizer and scratch) goes with it.
            released.bytes += model.memory_in_use();
            drop(model);
            self.inner.unload(reason);
        }
        log::info!("released memory ({what:?}, {reason}): {released:?}");
        Ok(released)
    }

    /// A new chat with its own KV cache, taken from the memory budget.
    pub fn new_chat(&self, options: &ChatOptions) -> Result<Chat> {
        Chat::new(Arc::clone(&self.inner), options.clone(), None)
    }

    /// A chat that starts from `prefix`, made by [`Engine::chat_prefix`].
    pub fn new_chat_from(&self, prefix: &Prefix) -> Result<Chat> {
        self.inner.check_own(prefix)?;
        let options = prefix.inner.chat.clone().ok_or_else(|| {
            Error::InvalidArgument(
                "this prefix is for completions; make one with chat_prefix".into(),
            )
        })?;
        Chat::new(Arc::clone(&self.inner), options, Some(prefix.clone()))
    }

    /// Prefills a chat's opening (with its system prompt) once, for [`Engine::new_chat_from`].
    pub fn chat_prefix(&self, options: &ChatOptions) -> Result<Prefix> {
        self.inner.chat_prefix(options)
    }

    /// Prefills `text` (after the start-of-sequence token) once, for [`Engine::complete`].
    /// Control tokens written in the text, such as `<start_of_turn>`, become those tokens.
    pub fn prefix(&self, text: &str) -> Result<Prefix> {
        let tokens = Engine::completion_tokens(&*self.inner.model()?, None, text)?;
        self.inner.prefill_prefix(tokens, None)
    }

    /// The token ids of a completion: `prompt` after the prefix, or after the start token
    /// where the vocabulary asks for one.
    fn completion_tokens(model: &Model, prefix: Option<&Prefix>, prompt: &str) -> Result<Vec<u32>> {
        // After a prefix the prompt continues a sequence: no start token.
        Ok(model.tokenizer().encode(prompt, prefix.is_none(), true)?)
    }

    /// Raw completion of `prompt`, optionally after `prefix`: no chat template. Each call has
    /// its own KV cache, taken from the memory budget for the call's duration.
    pub fn complete(
        &self,
        prefix: Option<&Prefix>,
        prompt: &str,
        options: &GenerateOptions,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply> {
        let started = Instant::now();
        options.check()?;
        if let Some(p) = prefix {
            self.inner.check_own(p)?;
        }
        let _inflight = self.inner.inflight(cancel);
        let model = self.inner.model()?;
        let tokens = Engine::completion_tokens(&model, prefix, prompt)?;
        let history = prefix.map_or(&[][..], |p| &p.inner.tokens);
        let mut cache = model.new_cache()?;
        if let Some(p) = prefix {
            self.inner.copy_prefix(&model, p, &mut cache, false)?;
        }
        let _compute = self.inner.compute.lock(options.when_busy)?;
        let request = Request {
            options,
            cancel,
            started,
        };
        let outcome = generate(&model, &mut cache, history, &tokens, request, on_text)?;
        Ok(outcome.reply)
    }

    /// [`Engine::complete`] on the model's thread; see [`Chat::send_async`].
    pub fn complete_async(
        &self,
        prefix: Option<&Prefix>,
        prompt: &str,
        options: &GenerateOptions,
        listener: Box<dyn Listener>,
    ) -> Result<GenerationHandle> {
        options.check()?;
        self.inner.check_idle(options.when_busy)?;
        let engine = self.clone();
        let prefix = prefix.cloned();
        let prompt = prompt.to_owned();
        let options = options.clone();
        let cancel = CancelToken::new();
        // Registered while queued, so that unloading cancels it before it starts.
        self.inner.track(&cancel);
        Ok(self
            .inner
            .worker
            .submit(cancel, listener, move |cancel, on_text| {
                engine.complete(prefix.as_ref(), &prompt, &options, cancel, on_text)
            }))
    }

    /// Text to token ids as a completion prompt is read: control tokens written in the text,
    /// such as `<start_of_turn>`, become those tokens (as llama.cpp's tokenizer does), and
    /// `add_bos` puts the start token first where the vocabulary has one. The CLI's
    /// `tokenize` and the bindings' use this.
    pub fn tokenize(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .model()?
            .tokenizer()
            .encode(text, add_bos, true)?)
    }

    /// Token ids to text; control tokens render as nothing. An id outside the vocabulary is
    /// [`Error::InvalidToken`].
    pub fn detokenize(&self, ids: &[u32]) -> Result<String> {
        let model = self.inner.model()?;
        let tokenizer = model.tokenizer();
        let vocab_size = tokenizer.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(Error::InvalidToken { id, vocab_size });
        }
        Ok(tokenizer.decode(ids))
    }

    /// Corrects the spelling, grammar and punctuation of `text` and diffs the correction
    /// against it (see [`Proofread`]). When the reply does not finish (cancelled, cut off), the
    /// correction is the original text, unchanged.
    pub fn proofread(&self, text: &str, cancel: &CancelToken) -> Result<Proofread> {
        proofread::proofread(&self.inner, text, cancel)
    }

    /// Loads a chat saved by [`Chat::save`] with this model.
    pub fn restore_chat(&self, path: &Path) -> Result<Chat> {
        Chat::restore(Arc::clone(&self.inner), path)
    }
}
