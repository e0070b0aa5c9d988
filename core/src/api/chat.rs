//! A conversation an app holds: sending messages (blocking, or on the model's thread with a
//! listener), its history, saving it, and what dropping it cancels. The turn rules live with
//! the chat's state, in `turn.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use crate::api::conversation::{ChatOptions, Message};
use crate::api::shared::{lock, EngineInner, Offload, Prefix};
use crate::api::snapshot::{self, SavedChat};
use crate::api::template::Template;
use crate::api::turn::ChatState;
use crate::api::worker::{GenerationHandle, Listener};
use crate::error::Result;
use crate::generate::{GenerateOptions, Reply, Request};
use crate::model::Model;
use crate::runtime::control::{CancelToken, Exclusive, WhenBusy};

/// A conversation on an [`Engine`](crate::Engine). Dropping it cancels its requests, running
/// or queued.
pub struct Chat {
    shared: Arc<ChatShared>,
}

struct ChatShared {
    engine: Arc<EngineInner>,
    /// Names the chat's file when its cache is offloaded.
    id: u64,
    state: Exclusive<ChatState>,
    /// The cancels of this chat's requests, running or queued.
    requests: Mutex<Vec<CancelToken>>,
}

impl Chat {
    pub(crate) fn new(
        engine: Arc<EngineInner>,
        options: ChatOptions,
        base: Option<Prefix>,
    ) -> Result<Chat> {
        let model = engine.model()?;
        let template = Template::new(model.tokenizer())?;
        let mut cache = model.new_cache()?;
        let tokens = match &base {
            Some(p) => {
                engine.copy_prefix(&model, p, &mut cache, false)?;
                p.inner.tokens.clone()
            }
            None => template.opening(model.tokenizer(), options.system.as_deref())?,
        };
        let state = ChatState::new(options, Vec::new(), tokens, cache, template, base);
        Ok(Chat::from_state(engine, state))
    }

    /// Loads a chat saved by [`Chat::save`] with this engine's model.
    pub(crate) fn restore(engine: Arc<EngineInner>, path: &Path) -> Result<Chat> {
        let model = engine.model()?;
        let SavedChat {
            options,
            messages,
            tokens,
            cache,
        } = snapshot::read(&model, path)?;
        let template = Template::new(model.tokenizer())?;
        let state = ChatState::new(options, messages, tokens, cache, template, None);
        Ok(Chat::from_state(engine, state))
    }

    fn from_state(engine: Arc<EngineInner>, state: ChatState) -> Chat {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let shared = Arc::new(ChatShared {
            engine,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            state: Exclusive::new(state, "the chat"),
            requests: Mutex::new(Vec::new()),
        });
        let weak: Weak<ChatShared> = Arc::downgrade(&shared);
        shared.engine.register_chat(weak);
        Chat { shared }
    }

    /// Sends a user message and generates the model's reply, streaming it to `on_text`.
    pub fn send(
        &self,
        message: &str,
        options: &GenerateOptions,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply> {
        options.check()?;
        self.shared.send(message, options, cancel, on_text)
    }

    /// [`Chat::send`] on the model's thread: returns at once; `listener` receives the text and
    /// then the result. With [`WhenBusy::Fail`] it fails at once if the model is busy.
    pub fn send_async(
        &self,
        message: &str,
        options: &GenerateOptions,
        listener: Box<dyn Listener>,
    ) -> Result<GenerationHandle> {
        options.check()?;
        self.shared.engine.check_idle(options.when_busy)?;
        let cancel = CancelToken::new();
        // Registered before it is queued, so dropping the chat (or unloading the model)
        // cancels it even then.
        lock(&self.shared.requests).push(cancel.clone());
        self.shared.engine.track(&cancel);
        let shared = Arc::clone(&self.shared);
        let message = message.to_owned();
        let options = options.clone();
        let handle = self
            .shared
            .engine
            .worker
            .submit(cancel, listener, move |cancel, on_text| {
                shared.send(&message, &options, cancel, on_text)
            });
        Ok(handle)
    }

    /// The messages so far, oldest first.
    pub fn history(&self) -> Result<Vec<Message>> {
        Ok(self.shared.state.lock(WhenBusy::Wait)?.messages.clone())
    }

    /// The conversation as token ids: what the context holds after the next prefill.
    pub fn tokens(&self) -> Result<Vec<u32>> {
        Ok(self.shared.state.lock(WhenBusy::Wait)?.tokens.clone())
    }

    /// Writes the chat to `path`, waiting for a running turn to end (see `snapshot.rs` for
    /// the format). An existing file is replaced only by a complete one.
    pub fn save(&self, path: &Path) -> Result<()> {
        let model = self.shared.engine.model()?;
        self.shared.state.lock(WhenBusy::Wait)?.save(&model, path)
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        lock(&self.shared.requests)
            .iter()
            .for_each(CancelToken::cancel);
    }
}

impl Drop for ChatShared {
    fn drop(&mut self) {
        self.state.get_mut().discard();
    }
}

impl ChatShared {
    fn send(
        &self,
        message: &str,
        options: &GenerateOptions,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply> {
        let started = Instant::now();
        let _inflight = self.engine.inflight(cancel);
        let _registered = Registered::register(self, cancel);
        let mut state = self.state.lock(options.when_busy)?;
        let model = self.engine.model()?;
        let compute = self.engine.compute.lock(options.when_busy)?;
        let request = Request {
            options,
            cancel,
            started,
        };
        let reply = state.turn(&self.engine, &model, message, request, on_text);
        // The chat before the model: whoever takes the model next finds the chat free.
        drop(state);
        drop(compute);
        reply
    }
}

impl Offload for ChatShared {
    fn offload(&self, model: &Model, dir: &Path) -> Result<Option<u64>> {
        let Ok(mut state) = self.state.lock(WhenBusy::Fail) else {
            return Ok(None);
        };
        let file = PathBuf::from(format!(
            "gemkit-chat-{}-{}-{}.gkchat",
            std::process::id(),
            self.engine.id,
            self.id
        ));
        state.offload(model, &dir.join(file)).map(Some)
    }
}

/// A request's cancel among its chat's, while the request runs.
struct Registered<'a> {
    chat: &'a ChatShared,
    cancel: CancelToken,
}

impl<'a> Registered<'a> {
    fn register(chat: &'a ChatShared, cancel: &CancelToken) -> Registered<'a> {
        let mut all = lock(&chat.requests);
        if !all.iter().any(|c| c.same(cancel)) {
            all.push(cancel.clone());
        }
        Registered {
            chat,
            cancel: cancel.clone(),
        }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.chat.requests).retain(|c| !c.same(&self.cancel));
    }
}
