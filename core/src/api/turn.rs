//! A chat's state and its turns: the rules that keep history and KV cache in agreement when a
//! turn is cancelled, fails, panics, or the context fills, and the cache's trip to disk and back
//! when memory is short.
//!
//! A chat's `tokens` are the whole conversation as the model sees it; its cache always holds
//! a prefix of them, and a turn prefills the rest.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::api::conversation::{ChatOptions, ContextFullPolicy, Message, Role};
use crate::api::shared::{EngineInner, Prefix};
use crate::api::snapshot;
use crate::api::template::Template;
use crate::error::{Error, Result};
use crate::generate::{generate, FinishReason, Reply, Request};
use crate::model::{KvCache, Model};

pub(crate) struct ChatState {
    pub options: ChatOptions,
    pub messages: Vec<Message>,
    pub tokens: Vec<u32>,
    /// None while the cache waits on disk, at `offloaded`.
    cache: Option<KvCache>,
    offloaded: Option<PathBuf>,
    template: Template,
    /// The prefix this chat started from: where its cache returns when it must start over.
    base: Option<Prefix>,
}

impl ChatState {
    pub fn new(
        options: ChatOptions,
        messages: Vec<Message>,
        tokens: Vec<u32>,
        cache: KvCache,
        template: Template,
        base: Option<Prefix>,
    ) -> ChatState {
        ChatState {
            options,
            messages,
            tokens,
            cache: Some(cache),
            offloaded: None,
            template,
            base,
        }
    }

    /// Reads the chat's cache back from disk if it was offloaded.
    fn make_resident(&mut self, model: &Model) -> Result<()> {
        if let Some(path) = self.offloaded.take() {
            let saved = match snapshot::read(model, &path) {
                Ok(saved) if saved.tokens == self.tokens => saved,
                Ok(_) => {
                    self.offloaded = Some(path.clone());
                    return Err(Error::InvalidChatFile {
                        path,
                        reason: "it no longer holds this chat".into(),
                    });
                }
                Err(e) => {
                    self.offloaded = Some(path);
                    return Err(e);
                }
            };
            if let Err(e) = std::fs::remove_file(&path) {
                log::warn!("cannot remove {}: {e}", path.display());
            }
            self.cache = Some(saved.cache);
        }
        match self.cache {
            Some(_) => Ok(()),
            None => Err(Error::Internal(
                "a chat with neither a cache nor its file".into(),
            )),
        }
    }

    /// Writes the chat to `path` and frees its cache; returns the bytes freed (none when it
    /// already waits on disk).
    pub fn offload(&mut self, model: &Model, path: &Path) -> Result<u64> {
        let Some(cache) = self.cache.as_ref() else {
            return Ok(0);
        };
        let parts = snapshot::ChatParts {
            options: &self.options,
            messages: &self.messages,
            tokens: &self.tokens,
            cache,
        };
        snapshot::write(model, &parts, path)?;
        let freed = cache.reserved_bytes();
        self.cache = None;
        self.offloaded = Some(path.to_owned());
        Ok(freed)
    }

    /// Writes the chat to `path` (see [`crate::Chat::save`]).
    pub fn save(&mut self, model: &Model, path: &Path) -> Result<()> {
        self.make_resident(model)?;
        let cache = self.cache.as_ref().expect("made resident above");
        let parts = snapshot::ChatParts {
            options: &self.options,
            messages: &self.messages,
            tokens: &self.tokens,
            cache,
        };
        snapshot::write(model, &parts, path)
    }

    /// Removes the file of an offloaded chat that will not be used again.
    pub fn discard(&mut self) {
        if let Some(path) = self.offloaded.take() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// One user message and the model's reply. Whatever happens — an error, a cancel, a panic
    /// in `on_text` — the chat is left consistent: a turn that did not begin its reply is
    /// undone, and a reply cut short stays as far as it got only when cancelled.
    pub fn turn(
        &mut self,
        engine: &EngineInner,
        model: &Model,
        message: &str,
        request: Request,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Reply> {
        let options = request.options;
        self.make_resident(model)?;
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
                    turn = self.drop_oldest(engine, model, message, reserve, context)?
                }
            }
        }
        let before = self.tokens.len();
        self.tokens.extend(&turn);
        let cache = self.cache.as_mut().expect("made resident above");
        let done = cache.len();
        let (history, prompt) = self.tokens.split_at(done);
        // A panicking callback unwinds through here: undo the turn, then let it go on.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            generate(model, cache, history, prompt, request, on_text)
        }));
        let outcome = match outcome {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                self.roll_back(engine, model, before);
                return Err(e);
            }
            Err(panic) => {
                self.roll_back(engine, model, before);
                panic::resume_unwind(panic);
            }
        };
        if !outcome.prefilled {
            // Cancelled before the reply began: the turn never happened.
            self.roll_back(engine, model, before);
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
        engine: &EngineInner,
        model: &Model,
        message: &str,
        reserve: usize,
        context: usize,
    ) -> Result<Vec<u32>> {
        let tokenizer = model.tokenizer();
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
        self.reset_cache(engine, model);
        Ok(turn)
    }

    /// Undoes a turn whose tokens were appended at `before`.
    fn roll_back(&mut self, engine: &EngineInner, model: &Model, before: usize) {
        self.tokens.truncate(before);
        let cache = self.cache.as_mut().expect("resident during a turn");
        let keep = cache.len().min(before);
        if !cache.truncate(keep) {
            log::info!("chat cancelled past its sliding window: the next turn prefills again");
            self.reset_cache(engine, model);
        }
    }

    /// Empties the cache down to the chat's prefix, which every rendering starts with. An
    /// empty cache is consistent too (the next turn prefills everything), so a prefix that
    /// cannot be copied leaves it empty.
    fn reset_cache(&mut self, engine: &EngineInner, model: &Model) {
        let cache = self.cache.as_mut().expect("resident during a turn");
        cache.clear();
        if let Some(base) = &self.base {
            if self.tokens.starts_with(&base.inner.tokens) {
                if let Err(e) = engine.copy_prefix(model, base, cache, true) {
                    log::warn!("the chat's prefix could not be restored, prefilling instead: {e}");
                    cache.clear();
                }
            }
        }
    }
}
