//! What an engine's chats, prefixes and requests share: the model, the lock that serializes
//! its forward passes, the worker thread, and prefixes (tokens prefilled once).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::api::conversation::ChatOptions;
use crate::api::template::Template;
use crate::api::worker::Worker;
use crate::error::{Error, Result};
use crate::model::{KvCache, Logits, Model};
use crate::runtime::control::{Exclusive, WhenBusy};

pub(crate) struct EngineInner {
    pub model: Model,
    /// Held for every forward pass of a request.
    pub compute: Exclusive<()>,
    pub worker: Worker,
    /// Tells prefixes of this engine from those of another.
    pub id: u64,
    /// The prefix of the proofreading instruction, made on first use.
    proofread_prefix: Mutex<Option<Prefix>>,
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
    /// Set for a chat prefix (see [`crate::Engine::chat_prefix`]).
    pub chat: Option<ChatOptions>,
}

impl Prefix {
    pub fn token_count(&self) -> usize {
        self.inner.tokens.len()
    }
}

impl EngineInner {
    pub fn new(model: Model) -> Result<EngineInner> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(EngineInner {
            model,
            compute: Exclusive::new((), "the model"),
            worker: Worker::start()?,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            proofread_prefix: Mutex::new(None),
        })
    }

    /// With [`WhenBusy::Fail`], fails when a request is running or queued.
    pub fn check_idle(&self, when_busy: WhenBusy) -> Result<()> {
        let busy = self.worker.is_busy() || self.compute.is_locked();
        if when_busy == WhenBusy::Fail && busy {
            return Err(Error::Busy("the model is running another request".into()));
        }
        Ok(())
    }

    pub fn check_own(&self, prefix: &Prefix) -> Result<()> {
        if prefix.inner.engine_id == self.id {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the prefix belongs to another engine".into(),
            ))
        }
    }

    /// Prefills `tokens` into a cache of their own.
    pub fn prefill_prefix(&self, tokens: Vec<u32>, chat: Option<ChatOptions>) -> Result<Prefix> {
        let mut cache = self.model.new_cache()?;
        {
            let _compute = self.compute.lock(WhenBusy::Wait)?;
            self.model.forward(&mut cache, &tokens, Logits::Last)?;
        }
        Ok(Prefix {
            inner: Arc::new(PrefixInner {
                engine_id: self.id,
                tokens,
                cache,
                chat,
            }),
        })
    }

    /// Prefills a chat's opening (with its system prompt) once.
    pub fn chat_prefix(&self, options: &ChatOptions) -> Result<Prefix> {
        let tokenizer = self.model.tokenizer();
        let tokens = Template::new(tokenizer)?.opening(tokenizer, options.system.as_deref())?;
        self.prefill_prefix(tokens, Some(options.clone()))
    }

    /// The chat prefix of `options`, made on first use and kept for the engine's life.
    pub fn proofread_prefix(&self, options: &ChatOptions) -> Result<Prefix> {
        let mut slot = self
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
