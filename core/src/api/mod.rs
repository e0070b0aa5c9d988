//! The API an app uses: a loaded model shared across threads ([`Engine`]), its chats, raw
//! completions, prefixes prefilled once, proofreading, saved chats, and streamed requests on
//! the model's own thread. Each file imports only files listed before it in the order: conversation,
//! template, worker, shared, snapshot, turn, chat, proofread, engine.

pub(crate) mod chat;
pub(crate) mod conversation;
pub(crate) mod engine;
pub(crate) mod proofread;
pub(crate) mod shared;
pub(crate) mod snapshot;
pub(crate) mod template;
pub(crate) mod turn;
pub(crate) mod worker;
