//! Chats: a KV cache per chat that each turn extends with only its own tokens, and the rules
//! that keep history and cache in agreement when a turn is cancelled or the context fills.
//!
//! A chat's `tokens` are the whole conversation as the model sees it; its cache always holds
//! a prefix of them, and a turn prefills the rest.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::api::conversation::{ChatOptions, ContextFullPolicy, Message, Role};
use crate::api::shared::{EngineInner, Prefix};
use crate::api::snapshot::{self, SavedChat};
use crate::api::template::Template;
use crate::api::worker::{GenerationHandle, Listener};
use crate::error::{Error, Result};
use crate::generate::{generate, FinishReason, GenerateOptions, Reply, Request};
use crate::model::KvCache;
use crate::runtime::control::{CancelToken, Exclusive, WhenBusy};
use crate::tokenizer::Tokenizer;

/// A conversation on an [`Engine`](crate::Engine). Dropping it cancels its running request.
pub struct Chat {
    shared: Arc<ChatShared>,
}

struct ChatShared {
    engine: Arc<EngineInner>,
    state: Exclusive<ChatState>,
    /// The cancel of the request running on this chat, if any.
    running: Mutex<Option<CancelToken>>,
}

struct ChatState {
    options: ChatOptions,
    messages: Vec<Message>,
    tokens: Vec<u32>,
    cache: KvCache,
    template: Template,
    /// The prefix this chat started from: where its cache returns when it must start over.
    base: Option<Prefix>,
}

impl Chat {
    pub(crate) fn new(
        engine: Arc<EngineInner>,
        options: ChatOptions,
        base: Option<Prefix>,
    ) -> Result<Chat> {
        let model = &engine.model;
        let template = Template::new(model.tokenizer())?;
        let (tokens, cache) = match &base {
            Some(p) => (p.inner.tokens.clone(), model.clone_cache(&p.inner.cache)?),
            None => (
                template.opening(model.tokenizer(), options.system.as_deref())?,
                model.new_cache()?,
            ),
        };
        let state = ChatState {
            options,
            messages: Vec::new(),
            tokens,
            cache,
            template,
            base,
        };
        Ok(Chat::from_state(engine, state))
    }

    /// Loads a chat saved by [`Chat::save`] with this engine's model.
    pub(crate) fn restore(engine: Arc<EngineInner>, path: &Path) -> Result<Chat> {
        let SavedChat {
            options,
            messages,
            tokens,
            cache,
        } = snapshot::read(&engine.model, path)?;
        let state = ChatState {
            options,
            messages,
            tokens,
            cache,
            template: Template::new(engine.model.tokenizer())?,
            base: None,
        };
        Ok(Chat::from_state(engine, state))
    }

    fn from_state(engine: Arc<EngineInner>, state: ChatState) -> Chat {
        Chat {
            shared: Arc::new(ChatShared {
                engine,
                state: Exclusive::new(state, "the chat"),
                running: Mutex::new(None),
            }),
        }
    }

    /// Sends a user message and generates the model's reply, streaming it to `on_text`.
    pub fn send(
        &self,
        message: &str,
        options: &GenerateOptions,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply> {
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
        self.shared.engine.check_idle(options.when_busy)?;
        let shared = Arc::clone(&self.shared);
        let message = message.to_owned();
        let options = options.clone();
        let handle = self
            .shared
            .engine
            .worker
            .submit(listener, move |cancel, on_text| {
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

    /// Writes the chat to `path`, waiting for a running turn to end (see [`snapshot`] for the
    /// format). An existing file is replaced only by a complete one.
    pub fn save(&self, path: &Path) -> Result<()> {
        let state = self.shared.state.lock(WhenBusy::Wait)?;
        let saved = snapshot::ChatParts {
            options: &state.options,
            messages: &state.messages,
            tokens: &state.tokens,
            cache: &state.cache,
        };
        snapshot::write(&self.shared.engine.model, &saved, path)
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let running = self
            .shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(cancel) = running.as_ref() {
            cancel.cancel();
        }
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
        let mut state = self.state.lock(options.when_busy)?;
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(cancel.clone());
        let result = (|| {
            let _compute = self.engine.compute.lock(options.when_busy)?;
            state.turn(&self.engine, message, options, cancel, started, on_text)
        })();
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = None;
        result
    }
}

impl ChatState {
    fn turn(
        &mut self,
        engine: &EngineInner,
        message: &str,
        options: &GenerateOptions,
        cancel: &CancelToken,
        started: Instant,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply> {
        let model = &engine.model;
        let tokenizer = model.tokenizer();
        let context = model.context_length();
        let mut turn = self
            .template
            .user_turn(tokenizer, self.messages.is_empty(), message)?;
        // Room for the reply when deciding whether a turn fits: its token limit, up to a
        // quarter of the context so that a long limit does not wipe the history.
        let reserve = options.max_tokens.min(context / 4);
        let needed = self.tokens.len() + turn.len() + reserve;
        if needed > context {
            match self.options.context_full {
                ContextFullPolicy::Fail => {
                    return Err(Error::ContextFull {
                        needed,
                        limit: context,
                    })
                }
                ContextFullPolicy::DropOldest => {
                    turn = self.drop_oldest(tokenizer, message, reserve, context)?
                }
            }
        }
        let before = self.tokens.len();
        self.tokens.extend(&turn);
        let done = self.cache.len();
        let outcome = generate(
            model,
            &mut self.cache,
            &self.tokens[..done],
            &self.tokens[done..],
            Request {
                options,
                cancel,
                started,
            },
            on_text,
        );
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                self.roll_back(before);
                return Err(e);
            }
        };
        if !outcome.prefilled {
            // Cancelled before the reply began: the turn never happened.
            self.roll_back(before);
            return Ok(outcome.reply);
        }
        self.tokens.extend(&outcome.reply.ids);
        self.tokens.extend(&self.template.end);
        self.messages.push(Message {
            role: Role::User,
            text: message.to_owned(),
        });
        self.messages.push(Message {
            role: Role::Model,
            text: outcome.reply.text.clone(),
        });
        let mut reply = outcome.reply;
        if reply.finish_reason == FinishReason::ContextFull {
            log::info!("chat reply stopped at the end of the context ({context} tokens)");
        }
        reply.stats.context_tokens = self.tokens.len();
        Ok(reply)
    }

    /// Drops exchanges from the oldest until `message` and `reserve` tokens fit, then renders
    /// what is left; the next turn prefills it from the start (or from the chat's prefix).
    /// Returns the tokens of `message`'s turn after the history that is left.
    fn drop_oldest(
        &mut self,
        tokenizer: &Tokenizer,
        message: &str,
        reserve: usize,
        context: usize,
    ) -> Result<Vec<u32>> {
        let mut kept = self.messages.len();
        let (tokens, turn) = loop {
            kept = kept.saturating_sub(2);
            let rest = &self.messages[self.messages.len() - kept..];
            let tokens = self
                .template
                .render(tokenizer, self.options.system.as_deref(), rest)?;
            let turn = self
                .template
                .user_turn(tokenizer, rest.is_empty(), message)?;
            if tokens.len() + turn.len() + reserve <= context || kept == 0 {
                break (tokens, turn);
            }
        };
        let needed = tokens.len() + turn.len();
        if needed > context {
            return Err(Error::ContextFull {
                needed,
                limit: context,
            });
        }
        let dropped = self.messages.len() - kept;
        log::info!("context full: dropping the {dropped} oldest messages of the chat");
        self.messages.drain(..dropped);
        self.tokens = tokens;
        self.reset_cache();
        Ok(turn)
    }

    /// Undoes a turn whose tokens were appended at `before`.
    fn roll_back(&mut self, before: usize) {
        self.tokens.truncate(before);
        let keep = self.cache.len().min(before);
        if !self.cache.truncate(keep) {
            log::info!("chat cancelled past its sliding window: the next turn prefills again");
            self.reset_cache();
        }
    }

    /// Empties the cache down to the chat's prefix, which every rendering starts with.
    fn reset_cache(&mut self) {
        self.cache.clear();
        if let Some(base) = &self.base {
            if self.tokens.starts_with(&base.inner.tokens) {
                self.cache.copy_from(&base.inner.cache);
            }
        }
    }
}
