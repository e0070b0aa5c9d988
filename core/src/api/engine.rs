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
use crate::runtime::control::CancelToken;

/// A loaded model. Clones share it; it is freed when the last clone, chat, prefix and request
/// are gone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl Engine {
    pub fn load(path: &Path, options: &ModelOptions) -> Result<Engine> {
        let model = Model::load(path, options)?;
        Ok(Engine {
            inner: Arc::new(EngineInner::new(model)?),
        })
    }

    /// What loading `path` would cost, from its header alone (see [`Model::estimate_memory`]).
    pub fn estimate_memory(path: &Path, options: &ModelOptions) -> Result<MemoryEstimate> {
        Model::estimate_memory(path, options)
    }

    pub fn model(&self) -> &Model {
        &self.inner.model
    }

    pub fn info(&self) -> ModelInfo {
        ModelInfo::of(&self.inner.model)
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
        let tokens = self.completion_tokens(None, text)?;
        self.inner.prefill_prefix(tokens, None)
    }

    /// The token ids of a completion: `prompt` after the prefix, or after the start token
    /// where the vocabulary asks for one.
    fn completion_tokens(&self, prefix: Option<&Prefix>, prompt: &str) -> Result<Vec<u32>> {
        // After a prefix the prompt continues a sequence: no start token.
        Ok(self
            .inner
            .model
            .tokenizer()
            .encode(prompt, prefix.is_none(), true)?)
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
        if let Some(p) = prefix {
            self.inner.check_own(p)?;
        }
        let model = &self.inner.model;
        let tokens = self.completion_tokens(prefix, prompt)?;
        let history = prefix.map_or(&[][..], |p| &p.inner.tokens);
        let mut cache = match prefix {
            Some(p) => model.clone_cache(&p.inner.cache)?,
            None => model.new_cache()?,
        };
        let _compute = self.inner.compute.lock(options.when_busy)?;
        let request = Request {
            options,
            cancel,
            started,
        };
        let outcome = generate(model, &mut cache, history, &tokens, request, on_text)?;
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
        self.inner.check_idle(options.when_busy)?;
        let engine = self.clone();
        let prefix = prefix.cloned();
        let prompt = prompt.to_owned();
        let options = options.clone();
        Ok(self.inner.worker.submit(listener, move |cancel, on_text| {
            engine.complete(prefix.as_ref(), &prompt, &options, cancel, on_text)
        }))
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
