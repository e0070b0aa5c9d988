//! The API an app uses: a loaded model shared across threads, its chats, raw completions and
//! prefixes prefilled once. Compute on one model is serialized (one lock, one worker thread for
//! streamed requests), so no two forward passes race and nothing else needs to be.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::chat::{Chat, ChatOptions, Template};
use crate::control::{CancelToken, Exclusive, WhenBusy};
use crate::error::{Error, Result};
use crate::generate::{generate, GenerateOptions, Reply, Request};
use crate::info::ModelInfo;
use crate::memory::MemoryEstimate;
use crate::model::{KvCache, Logits, Model, ModelOptions};
use crate::worker::{GenerationHandle, Listener, Worker};

/// A loaded model. Clones share it; it is freed when the last clone, chat, prefix and request
/// are gone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub model: Model,
    /// Held for every forward pass of a request.
    pub compute: Exclusive<()>,
    pub worker: Worker,
    /// Tells prefixes of this engine from those of another.
    pub id: u64,
    /// The prefix of the proofreading instruction, made on first use.
    pub proofread_prefix: Mutex<Option<Prefix>>,
}

impl EngineInner {
    /// With [`WhenBusy::Fail`], fails when a request is running or queued.
    pub(crate) fn check_idle(&self, when_busy: WhenBusy) -> Result<()> {
        let busy = self.worker.is_busy() || self.compute.is_locked();
        if when_busy == WhenBusy::Fail && busy {
            return Err(Error::Busy("the model is running another request".into()));
        }
        Ok(())
    }
}

/// Tokens prefilled once — an instruction sent with every request, or a chat's system prompt
/// — that chats and completions start from without prefilling them again.
#[derive(Clone)]
pub struct Prefix {
    pub(crate) inner: Arc<PrefixInner>,
}

pub(crate) struct PrefixInner {
    pub engine_id: u64,
    pub tokens: Vec<u32>,
    pub cache: KvCache,
    /// Set for a chat prefix (see [`Engine::chat_prefix`]).
    pub chat: Option<ChatOptions>,
}

impl Prefix {
    pub fn token_count(&self) -> usize {
        self.inner.tokens.len()
    }
}

impl Engine {
    pub fn load(path: &Path, options: &ModelOptions) -> Result<Engine> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let model = Model::load(path, options)?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                model,
                compute: Exclusive::new((), "the model"),
                worker: Worker::start()?,
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                proofread_prefix: Mutex::new(None),
            }),
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
        self.check_own(prefix)?;
        let options = prefix.inner.chat.clone().ok_or_else(|| {
            Error::InvalidArgument(
                "this prefix is for completions; make one with chat_prefix".into(),
            )
        })?;
        Chat::new(Arc::clone(&self.inner), options, Some(prefix.clone()))
    }

    /// Prefills a chat's opening (with its system prompt) once, for [`Engine::new_chat_from`].
    pub fn chat_prefix(&self, options: &ChatOptions) -> Result<Prefix> {
        let template = Template::new(self.inner.model.tokenizer())?;
        let tokens = template.opening(self.inner.model.tokenizer(), options.system.as_deref())?;
        self.prefill_prefix(tokens, Some(options.clone()))
    }

    /// Prefills `text` (after the start-of-sequence token) once, for [`Engine::complete`].
    /// Control tokens written in the text, such as `<start_of_turn>`, become those tokens.
    pub fn prefix(&self, text: &str) -> Result<Prefix> {
        let tokens = self.completion_tokens(None, text)?;
        self.prefill_prefix(tokens, None)
    }

    fn prefill_prefix(&self, tokens: Vec<u32>, chat: Option<ChatOptions>) -> Result<Prefix> {
        let model = &self.inner.model;
        let mut cache = model.new_cache()?;
        {
            let _compute = self.inner.compute.lock(WhenBusy::Wait)?;
            model.forward(&mut cache, &tokens, Logits::Last)?;
        }
        Ok(Prefix {
            inner: Arc::new(PrefixInner {
                engine_id: self.inner.id,
                tokens,
                cache,
                chat,
            }),
        })
    }

    fn check_own(&self, prefix: &Prefix) -> Result<()> {
        if prefix.inner.engine_id == self.inner.id {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the prefix belongs to another engine".into(),
            ))
        }
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
            self.check_own(p)?;
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

    /// The proofreading prefix, made once.
    pub(crate) fn proofread_prefix(&self, options: &ChatOptions) -> Result<Prefix> {
        let mut slot = self
            .inner
            .proofread_prefix
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let prefix = self.chat_prefix(options)?;
        *slot = Some(prefix.clone());
        Ok(prefix)
    }
}
