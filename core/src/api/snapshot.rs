//! Saving a chat to a file and loading it back: its options, messages, tokens and KV cache, so
//! a restored chat continues exactly where it was without prefilling again. The file names
//! the model it belongs to, and every length in it is checked before it is used.
//!
//! Layout (little-endian): magic `GKCHAT`, version u16, model fingerprint u64, KV type u8,
//! layer count u32, row bytes u32, system prompt (flag u8 + string), context policy u8,
//! messages (u32 count; role u8 + string each), tokens (u32 count; u32 each), cache length u64,
//! then for each layer its first position u64, row count u32, key rows, value rows. Strings
//! are a u32 byte length and UTF-8.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::api::conversation::{ChatOptions, ContextFullPolicy, Message, Role};
use crate::error::{Error, Result};
use crate::model::{KvCache, KvType, Model};

const MAGIC: &[u8; 6] = b"GKCHAT";
const VERSION: u16 = 1;

/// What a saved chat holds, borrowed from the chat.
pub(crate) struct ChatParts<'a> {
    pub options: &'a ChatOptions,
    pub messages: &'a [Message],
    pub tokens: &'a [u32],
    pub cache: &'a KvCache,
}

/// A chat read back from a file.
pub(crate) struct SavedChat {
    pub options: ChatOptions,
    pub messages: Vec<Message>,
    pub tokens: Vec<u32>,
    pub cache: KvCache,
}

/// Identifies a model file: its length and a hash of everything before the tensor data.
fn fingerprint(model: &Model) -> u64 {
    let file = model.gguf();
    let header = &file.bytes()[..file.layout.data_start.min(file.file_len())];
    // FNV-1a over 8-byte words: fast, and collisions do not matter against honest files.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ file.file_len() as u64;
    for word in header.chunks(8) {
        let mut w = [0u8; 8];
        w[..word.len()].copy_from_slice(word);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: usize) {
        self.0.extend((v as u32).to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend(v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len());
        self.0.extend(s.as_bytes());
    }
}

/// Writes `chat` to `path` through a temporary file, so an existing file is replaced only by a
/// complete one.
pub(crate) fn write(model: &Model, chat: &ChatParts, path: &Path) -> Result<()> {
    let bytes = encode(chat, fingerprint(model));
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(&bytes)
        .and_then(|_| file.sync_all())
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn encode(s: &ChatParts, fingerprint: u64) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(
        s.cache.bytes() + 4 * s.tokens.len() + 1024,
    ));
    w.0.extend(MAGIC);
    w.0.extend(VERSION.to_le_bytes());
    w.u64(fingerprint);
    w.u8(match s.cache.kv_type() {
        KvType::F16 => 0,
        KvType::F32 => 1,
    });
    w.u32(s.cache.layers.len());
    w.u32(s.cache.row_bytes());
    match &s.options.system {
        Some(text) => {
            w.u8(1);
            w.str(text);
        }
        None => w.u8(0),
    }
    w.u8(match s.options.context_full {
        ContextFullPolicy::DropOldest => 0,
        ContextFullPolicy::Fail => 1,
    });
    w.u32(s.messages.len());
    for m in s.messages {
        w.u8(match m.role {
            Role::User => 0,
            Role::Model => 1,
        });
        w.str(&m.text);
    }
    w.u32(s.tokens.len());
    s.tokens.iter().for_each(|&t| w.u32(t as usize));
    w.u64(s.cache.len() as u64);
    for (first_pos, k, v) in s.cache.layer_bytes() {
        w.u64(first_pos as u64);
        w.u32(k.len() / s.cache.row_bytes().max(1));
        w.0.extend(k);
        w.0.extend(v);
    }
    w.0
}

struct Reader<'a> {
    bytes: &'a [u8],
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::InvalidChatFile {
            path: self.path.to_owned(),
            reason: reason.into(),
        }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(self.bad(format!("truncated in {what}")));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    /// A count of items of at least `item_bytes` each, checked against the bytes left.
    fn count(&mut self, item_bytes: usize, what: &str) -> Result<usize> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(item_bytes) > self.bytes.len() {
            return Err(self.bad(format!("{what} count {n} exceeds the file")));
        }
        Ok(n)
    }
    fn str(&mut self, what: &str) -> Result<String> {
        let n = self.count(1, what)?;
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.bad(format!("{what} is not UTF-8")))
    }
}

/// Reads a chat written by [`write`] for `model`, checking every length and id.
pub(crate) fn read(model: &Model, path: &Path) -> Result<SavedChat> {
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    decode(
        model,
        &mut Reader {
            bytes: &bytes,
            path,
        },
    )
}

fn decode(model: &Model, r: &mut Reader) -> Result<SavedChat> {
    if r.take(6, "the header")? != MAGIC {
        return Err(r.bad("not a GemKit chat file"));
    }
    let version = u16::from_le_bytes(r.take(2, "the header")?.try_into().unwrap());
    if version != VERSION {
        return Err(r.bad(format!(
            "version {version}; this GemKit reads version {VERSION}"
        )));
    }
    if r.u64("the header")? != fingerprint(model) {
        return Err(r.bad("it was saved with a different model"));
    }
    let mut cache = model.new_cache()?;
    let kv_type = match r.u8("the header")? {
        0 => KvType::F16,
        1 => KvType::F32,
        other => return Err(r.bad(format!("unknown KV type {other}"))),
    };
    if kv_type != cache.kv_type() {
        return Err(r.bad(format!(
            "it has a {} KV cache; this model was loaded with {}",
            kv_type.name(),
            cache.kv_type().name()
        )));
    }
    let (layers, row_bytes) = (r.u32("the header")? as usize, r.u32("the header")? as usize);
    if layers != cache.layers.len() || row_bytes != cache.row_bytes() {
        return Err(r.bad("its KV cache does not have this model's shape"));
    }
    let system = match r.u8("the system prompt")? {
        0 => None,
        1 => Some(r.str("the system prompt")?),
        other => return Err(r.bad(format!("invalid system prompt flag {other}"))),
    };
    let context_full = match r.u8("the options")? {
        0 => ContextFullPolicy::DropOldest,
        1 => ContextFullPolicy::Fail,
        other => return Err(r.bad(format!("unknown context policy {other}"))),
    };
    let n_messages = r.count(5, "messages")?;
    let mut messages = Vec::with_capacity(n_messages);
    for _ in 0..n_messages {
        let role = match r.u8("a message")? {
            0 => Role::User,
            1 => Role::Model,
            other => return Err(r.bad(format!("unknown message role {other}"))),
        };
        messages.push(Message {
            role,
            text: r.str("a message")?,
        });
    }
    let alternating = messages
        .iter()
        .enumerate()
        .all(|(i, m)| m.role == if i % 2 == 0 { Role::User } else { Role::Model });
    if !alternating || messages.len() % 2 != 0 {
        return Err(r.bad("its messages are not user and model turns in pairs"));
    }
    let n_tokens = r.count(4, "tokens")?;
    let vocab = model.config().vocab_size;
    let mut tokens = Vec::with_capacity(n_tokens);
    for _ in 0..n_tokens {
        let id = r.u32("tokens")?;
        if id as usize >= vocab {
            return Err(r.bad(format!("token {id} is outside the vocabulary")));
        }
        tokens.push(id);
    }
    let len = r.u64("the KV cache")?;
    if len > tokens.len() as u64 || len > cache.context() as u64 {
        return Err(r.bad(format!(
            "its KV cache holds {len} tokens, more than its {} tokens or the {} context",
            tokens.len(),
            cache.context()
        )));
    }
    let len = len as usize;
    for il in 0..layers {
        let first_pos = r.u64("the KV cache")?;
        let rows = r.u32("the KV cache")? as usize;
        let window = model.config().layers[il].window.unwrap_or(len);
        if first_pos.checked_add(rows as u64) != Some(len as u64) || rows < len.min(window) {
            return Err(r.bad(format!("layer {il} of its KV cache is inconsistent")));
        }
        let k = r.take(rows.saturating_mul(row_bytes), "the KV cache")?;
        let v = r.take(rows * row_bytes, "the KV cache")?;
        // A smaller ring here keeps the newest rows, which hold the window.
        let keep = rows.min(cache.layer_slots(il));
        let skip = (rows - keep) * row_bytes;
        cache.set_layer_bytes(il, len - keep, &k[skip..], &v[skip..]);
    }
    if !r.bytes.is_empty() {
        return Err(r.bad("it has trailing bytes"));
    }
    cache.set_len(len);
    Ok(SavedChat {
        options: ChatOptions {
            system,
            context_full,
        },
        messages,
        tokens,
        cache,
    })
}
