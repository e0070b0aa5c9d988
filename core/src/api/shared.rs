//! What an engine's chats, prefixes and requests share: the model (loaded again on first use
//! after it was unloaded to free memory), the lock that serializes its forward passes, the
//! worker thread, the requests in flight, and prefixes (tokens prefilled once, their cache
//! made again when it was freed).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use crate::api::conversation::ChatOptions;
use crate::api::template::Template;
use crate::api::worker::Worker;
use crate::error::{Error, Result};
use crate::model::{KvCache, Logits, Model, ModelOptions};
use crate::runtime::control::{CancelToken, Exclusive, WhenBusy};

/// Locks a mutex whose data stays consistent even if a holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct EngineInner {
    path: PathBuf,
    options: ModelOptions,
    /// None after [`EngineInner::unload`], until the next use loads it again.
    model: RwLock<Option<Arc<Model>>>,
    /// Why the model was unloaded, while it is.
    unloaded: Mutex<Option<String>>,
    /// Held for every forward pass of a request.
    pub compute: Exclusive<()>,
    pub worker: Worker,
    /// Tells prefixes of this engine from those of another, and names its chats' files.
    pub id: u64,
    /// The cancels of the requests running or queued, so unloading can stop them.
    inflight: Mutex<Vec<CancelToken>>,
    /// Every prefix and chat made on this engine, to free their caches when memory is short.
    prefixes: Mutex<Vec<Weak<PrefixInner>>>,
    chats: Mutex<Vec<Weak<dyn Offload>>>,
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
    /// None once freed under memory pressure; prefilled again (the same bits) when next used.
    cache: Mutex<Option<KvCache>>,
    /// Set for a chat prefix (see [`crate::Engine::chat_prefix`]).
    pub chat: Option<ChatOptions>,
}

impl Prefix {
    pub fn token_count(&self) -> usize {
        self.inner.tokens.len()
    }
}

/// A chat as the engine sees it when memory is short.
pub(crate) trait Offload: Send + Sync {
    /// Writes the chat's KV cache into `dir` and frees it, unless a turn holds the chat;
    /// returns the bytes freed, or None when it was busy.
    fn offload(&self, model: &Model, dir: &Path) -> Result<Option<u64>>;
}

/// A request's place among the engine's requests in flight, removed when dropped.
pub(crate) struct Inflight<'a> {
    engine: &'a EngineInner,
    cancel: CancelToken,
}

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        lock(&self.engine.inflight).retain(|c| !c.same(&self.cancel));
    }
}

impl EngineInner {
    pub fn load(path: PathBuf, options: ModelOptions) -> Result<EngineInner> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let model = Model::load(&path, &options)?;
        Ok(EngineInner {
            path,
            options,
            model: RwLock::new(Some(Arc::new(model))),
            unloaded: Mutex::new(None),
            compute: Exclusive::new((), "the model"),
            worker: Worker::start()?,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            inflight: Mutex::new(Vec::new()),
            prefixes: Mutex::new(Vec::new()),
            chats: Mutex::new(Vec::new()),
            proofread_prefix: Mutex::new(None),
        })
    }

    /// The model, loaded again if it was unloaded.
    pub fn model(&self) -> Result<Arc<Model>> {
        if let Some(m) = self.loaded() {
            return Ok(m);
        }
        let mut slot = self.model.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = slot.as_ref() {
            return Ok(Arc::clone(m));
        }
        let reason = lock(&self.unloaded).take();
        log::info!(
            "loading {} again (unloaded: {})",
            self.path.display(),
            reason.as_deref().unwrap_or("?")
        );
        let model = Arc::new(Model::load(&self.path, &self.options)?);
        *slot = Some(Arc::clone(&model));
        Ok(model)
    }

    /// The model if it is loaded now; never loads it.
    pub fn loaded(&self) -> Option<Arc<Model>> {
        self.model
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Why the model is unloaded, while it is.
    pub fn unloaded_reason(&self) -> Option<String> {
        lock(&self.unloaded).clone()
    }

    /// Drops the model (tokenizer, compute threads, the file's map); the next use loads it
    /// again. The caller holds the compute lock, so no pass is running.
    pub fn unload(&self, reason: &str) {
        let mut slot = self.model.write().unwrap_or_else(PoisonError::into_inner);
        if slot.take().is_some() {
            *lock(&self.unloaded) = Some(reason.to_owned());
            log::info!("unloaded {}: {reason}", self.path.display());
        }
    }

    /// Registers a queued request's cancel (until it runs and [`EngineInner::inflight`]'s
    /// guard removes it).
    pub fn track(&self, cancel: &CancelToken) {
        let mut all = lock(&self.inflight);
        if !all.iter().any(|c| c.same(cancel)) {
            all.push(cancel.clone());
        }
    }

    /// Registers a request's cancel while it runs.
    pub fn inflight(&self, cancel: &CancelToken) -> Inflight<'_> {
        self.track(cancel);
        Inflight {
            engine: self,
            cancel: cancel.clone(),
        }
    }

    /// Cancels every request running or queued.
    pub fn cancel_all(&self) {
        lock(&self.inflight).iter().for_each(CancelToken::cancel);
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

    /// Runs `tokens` into a new cache, under the compute lock (which a turn that needs it
    /// already holds: `in_turn`). A caller's own callback that calls back in gets `Busy`.
    fn prefill(&self, model: &Model, tokens: &[u32], in_turn: bool) -> Result<KvCache> {
        let mut cache = model.new_cache()?;
        let _compute = match in_turn {
            true => None,
            false => Some(self.compute.lock(WhenBusy::Wait)?),
        };
        model.forward(&mut cache, tokens, Logits::Last)?;
        Ok(cache)
    }

    /// Prefills `tokens` into a cache of their own.
    pub fn prefill_prefix(&self, tokens: Vec<u32>, chat: Option<ChatOptions>) -> Result<Prefix> {
        let model = self.model()?;
        let cache = self.prefill(&model, &tokens, false)?;
        let inner = Arc::new(PrefixInner {
            engine_id: self.id,
            tokens,
            cache: Mutex::new(Some(cache)),
            chat,
        });
        let mut all = lock(&self.prefixes);
        all.retain(|p| p.strong_count() > 0);
        all.push(Arc::downgrade(&inner));
        Ok(Prefix { inner })
    }

    /// Prefills a chat's opening (with its system prompt) once.
    pub fn chat_prefix(&self, options: &ChatOptions) -> Result<Prefix> {
        let model = self.model()?;
        let tokenizer = model.tokenizer();
        let tokens = Template::new(tokenizer)?.opening(tokenizer, options.system.as_deref())?;
        self.prefill_prefix(tokens, Some(options.clone()))
    }

    /// The chat prefix of `options`, made on first use and kept for the engine's life.
    pub fn proofread_prefix(&self, options: &ChatOptions) -> Result<Prefix> {
        let mut slot = lock(&self.proofread_prefix);
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let prefix = self.chat_prefix(options)?;
        *slot = Some(prefix.clone());
        Ok(prefix)
    }

    /// Copies `prefix`'s cache into `dst` (an empty cache of `model`), prefilling the prefix
    /// again first if its cache was freed (`in_turn`: the caller holds the compute lock).
    pub fn copy_prefix(
        &self,
        model: &Model,
        prefix: &Prefix,
        dst: &mut KvCache,
        in_turn: bool,
    ) -> Result<()> {
        let mut cache = lock(&prefix.inner.cache);
        if cache.is_none() {
            *cache = Some(self.prefill(model, &prefix.inner.tokens, in_turn)?);
        }
        dst.copy_from(cache.as_ref().expect("just made"));
        Ok(())
    }

    pub fn register_chat(&self, chat: Weak<dyn Offload>) {
        let mut all = lock(&self.chats);
        all.retain(|c| c.strong_count() > 0);
        all.push(chat);
    }

    /// The chats alive now.
    pub fn chats(&self) -> Vec<Arc<dyn Offload>> {
        lock(&self.chats).iter().filter_map(Weak::upgrade).collect()
    }

    /// Frees every prefix's cache; returns how many were freed.
    pub fn free_prefixes(&self) -> usize {
        let mut all = lock(&self.prefixes);
        all.retain(|p| p.strong_count() > 0);
        all.iter()
            .filter_map(Weak::upgrade)
            .filter(|prefix| lock(&prefix.cache).take().is_some())
            .count()
    }
}
