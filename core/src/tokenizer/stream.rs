//! Incremental detokenization.

use std::ops::Deref;

/// What a [`TextStream`] reads from its tokenizer (`Tokenizer` implements it).
pub trait Detokenize {
    /// The bytes token `id` decodes to; `None` for an id out of range.
    fn token_bytes(&self, id: u32) -> Option<&[u8]>;
    /// Whether decoding drops one leading space from the first token (SentencePiece's space
    /// prefix).
    fn strips_leading_space(&self) -> bool;
}

/// Incremental detokenizer: push ids one at a time and get back only complete UTF-8 text, never
/// half a character. Works with `&Tokenizer` or `Arc<Tokenizer>`. Pushing ids one by one and
/// then calling `finish` yields exactly `decode` of all the ids.
pub struct TextStream<T: Deref<Target: Detokenize>> {
    tok: T,
    pending: Vec<u8>,
    first: bool,
}

impl<T: Deref<Target: Detokenize>> TextStream<T> {
    pub fn new(tok: T) -> Self {
        TextStream {
            tok,
            pending: Vec::new(),
            first: true,
        }
    }

    /// Appends a token; returns the text that became complete (possibly empty). Invalid byte
    /// sequences come out as U+FFFD; ids out of range add nothing.
    pub fn push(&mut self, id: u32) -> String {
        let mut piece = self.tok.token_bytes(id).unwrap_or(&[]);
        if self.first && self.tok.strips_leading_space() {
            piece = piece.strip_prefix(b" ").unwrap_or(piece);
        }
        self.first = false;
        self.pending.extend_from_slice(piece);
        self.drain(false)
    }

    /// Bytes received but not yet returned (an incomplete UTF-8 sequence, at most 3 bytes).
    pub fn pending_bytes(&self) -> &[u8] {
        &self.pending
    }

    /// Returns whatever is left, an incomplete character becoming U+FFFD.
    pub fn finish(mut self) -> String {
        self.drain(true)
    }

    fn drain(&mut self, flush: bool) -> String {
        let mut out = String::new();
        let mut at = 0;
        while at < self.pending.len() {
            match std::str::from_utf8(&self.pending[at..]) {
                Ok(s) => {
                    out.push_str(s);
                    at = self.pending.len();
                }
                Err(e) => {
                    let good = e.valid_up_to();
                    // The prefix was just validated, so this never falls back to "".
                    out.push_str(
                        std::str::from_utf8(&self.pending[at..at + good]).unwrap_or_default(),
                    );
                    match e.error_len() {
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            at += good + bad;
                        }
                        None => {
                            at += good;
                            if flush {
                                out.push('\u{FFFD}');
                                at = self.pending.len();
                            }
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..at);
        out
    }
}
