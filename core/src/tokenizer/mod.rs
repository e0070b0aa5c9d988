//! Text <-> token ids for Gemma models.
//!
//! The main path reads the SentencePiece vocabulary stored in a GGUF file
//! (`tokenizer.ggml.model = "llama"`) and reproduces llama.cpp's tokenizer id for id:
//!
//! 1. **Special-token partition** (llama.cpp `tokenizer_st_partition`). Every token of type
//!    control, unknown or user-defined is cut out of the text literally, longest token first;
//!    each token takes every leftmost non-overlapping occurrence of itself in the text that no
//!    longer token already took. With `parse_special = false` only user-defined tokens that are
//!    neither control nor unknown are cut out (Gemma 3 has 165: runs of `\n`, spaces and tabs,
//!    HTML tags...). Text around a special token is left as it is (no llama.cpp model-name
//!    lstrip/rstrip rule applies to Gemma).
//! 2. **SPM merge** (llama.cpp `llm_tokenizer_spm_session`) on each remaining text fragment:
//!    `' '` becomes `U+2581 '▁'` (and a `' '` is prepended first when `add_space_prefix` is on
//!    and the fragment starts the text or follows a special token), the fragment is split into
//!    characters, and the adjacent pair whose concatenation is a vocabulary piece with the
//!    highest score is merged repeatedly (ties: leftmost pair). Any piece of the vocabulary can
//!    be formed this way, whatever its type. Characters that end up as no piece fall back to
//!    their bytes' `<0xXX>` tokens.
//! 3. `bos` in front when `add_special && add_bos`, `eos` at the end when `add_special && add_eos`.
//!
//! Token types are also adjusted the way llama.cpp does it at load time: a token whose text is in
//! llama.cpp's end-of-generation list (`<end_of_turn>`, `<eos>`, `</s>`, `<|im_end|>`, ...) is
//! made a control token even when the file says otherwise. In Gemma 3 this turns the user-defined
//! token `</s>` (id 212) into a control token, so it is *not* split out when `parse_special` is
//! off, and it decodes to nothing.
//!
//! A second path, [`Tokenizer::from_tokenizer_json`], wraps a Hugging Face `tokenizer.json`
//! through the `tokenizers` crate.
//!
//! This file holds [`Tokenizer`] and imports the others; none of them imports it. From the
//! bottom: `error`; `vocab` (token types, their attribute bits, the end-of-generation texts);
//! `packed`; `pieces` (what each token decodes to); `spm` (the merge and the special-token
//! partition); `hf` (a `tokenizer.json` read into the parts of a `Tokenizer`); `stream`
//! ([`TextStream`], which reads any [`Detokenize`]).

mod error;
mod hf;
mod packed;
mod pieces;
mod spm;
mod stream;
mod vocab;

use std::path::Path;

use packed::Packed;
use pieces::build_pieces;
use spm::{Fragment, MergeScratch, MergeVocab, PieceIndex, SpecialMatcher};
use vocab::{A_CONTROL, A_NORMAL, A_UNKNOWN, A_USER, EOG_TEXTS};

pub use error::TokenizerError;
pub use stream::{Detokenize, TextStream};
pub use vocab::{GgufVocab, TokenType, Vocab};

/// Longest text `encode` accepts; keeps every offset of the escaped text (spaces grow to 3 bytes)
/// within 32 bits.
const MAX_TEXT: usize = 1 << 30;

/// A tokenizer; immutable once built, `Send + Sync`, share it behind an `Arc`.
pub struct Tokenizer {
    tokens: Packed,
    types: Vec<TokenType>,
    attrs: Vec<u8>,
    index: PieceIndex,
    /// Decoded bytes of each token (llama.cpp `token_to_piece` with special = false).
    pieces: Packed,
    bos: Option<u32>,
    eos: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    eog: Vec<u32>,
    engine: Engine,
}

enum Engine {
    Spm(SpmEngine),
    Hf(Box<hf::HfEngine>),
}

struct SpmEngine {
    scores: Vec<f32>,
    specials: SpecialMatcher,
    byte_tokens: Box<[Option<u32>; 256]>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tokenizer>();
};

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field(
                "kind",
                &match self.engine {
                    Engine::Spm(_) => "spm",
                    Engine::Hf(_) => "tokenizer.json",
                },
            )
            .field("vocab_size", &self.tokens.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("add_bos", &self.add_bos)
            .field("add_eos", &self.add_eos)
            .finish()
    }
}

fn check_id(which: &'static str, id: Option<u32>, n: usize) -> Result<(), TokenizerError> {
    match id {
        Some(id) if id as usize >= n => Err(TokenizerError::IdOutOfRange { which, id, n }),
        _ => Ok(()),
    }
}

impl Tokenizer {
    /// Builds the SentencePiece tokenizer. Fails when the vocabulary is empty, when `scores` or
    /// `types` does not have one entry per token, or when a special id is out of range. Empty
    /// token texts are renamed `[EMPTY_<id>]` as llama.cpp does; NaN scores count as -infinity.
    pub fn from_vocab(v: Vocab) -> Result<Tokenizer, TokenizerError> {
        let n = v.tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if n > u32::MAX as usize - 1 {
            return Err(TokenizerError::TooLarge(n));
        }
        if v.scores.len() != n {
            return Err(TokenizerError::LengthMismatch {
                field: "scores",
                got: v.scores.len(),
                expected: n,
            });
        }
        if v.types.len() != n {
            return Err(TokenizerError::LengthMismatch {
                field: "token_type",
                got: v.types.len(),
                expected: n,
            });
        }
        check_id("bos", v.bos, n)?;
        check_id("eos", v.eos, n)?;
        check_id("unk", v.unk, n)?;
        check_id("pad", v.pad, n)?;

        let mut texts = v.tokens;
        for (i, t) in texts.iter_mut().enumerate() {
            if t.is_empty() {
                log::warn!("tokenizer: empty token at index {i}");
                *t = format!("[EMPTY_{i}]");
            }
        }
        let tokens = Packed::new(texts.iter().map(|t| t.as_bytes()))?;
        drop(texts);
        let mut scores = v.scores;
        for s in &mut scores {
            if s.is_nan() {
                *s = f32::NEG_INFINITY;
            }
        }
        let (index, dups) = PieceIndex::build(&tokens);
        if dups > 0 {
            log::warn!("tokenizer: {dups} token texts appear more than once; the highest id wins");
        }
        let mut attrs: Vec<u8> = v.types.iter().map(|t| t.attr()).collect();

        // End-of-generation texts become control tokens (llama.cpp load-time fixups).
        let mut eog: Vec<u32> = Vec::new();
        for text in EOG_TEXTS {
            if let Some(id) = index.get(&tokens, text.as_bytes()) {
                if attrs[id as usize] & A_CONTROL == 0 {
                    log::debug!("tokenizer: token {id} {text:?} is end-of-generation; treating it as control");
                    attrs[id as usize] |= A_CONTROL;
                }
                eog.push(id);
            }
        }
        if let Some(e) = v.eos {
            eog.push(e);
        }
        // "</s>" is an ordinary token where "<|tool_response>" or "<|plamo:eos|>" ends generation.
        let has_marker = eog.iter().any(|&id| {
            let t = tokens.get(id as usize);
            t == b"<|tool_response>" || t == b"<|plamo:eos|>"
        });
        if has_marker {
            if let Some(s) = eog
                .iter()
                .copied()
                .find(|&id| tokens.get(id as usize) == b"</s>")
            {
                eog.retain(|&id| id != s);
                attrs[s as usize] = A_NORMAL;
            }
        }
        eog.sort_unstable();
        eog.dedup();

        // Special tokens, longest first (ties: ascending id).
        let mut special_ids: Vec<u32> = (0..n as u32)
            .filter(|&i| attrs[i as usize] & (A_CONTROL | A_USER | A_UNKNOWN) != 0)
            .collect();
        special_ids.sort_by(|&a, &b| {
            tokens
                .get(b as usize)
                .len()
                .cmp(&tokens.get(a as usize).len())
                .then(a.cmp(&b))
        });
        let specials: Vec<(u32, &[u8], bool)> = special_ids
            .iter()
            .map(|&id| {
                let a = attrs[id as usize];
                (
                    id,
                    tokens.get(id as usize),
                    a & (A_CONTROL | A_UNKNOWN) == 0,
                )
            })
            .collect();
        let specials = SpecialMatcher::build(&specials);

        let mut byte_tokens = Box::new([None; 256]);
        for (b, slot) in byte_tokens.iter_mut().enumerate() {
            let hex = format!("<0x{b:02X}>");
            *slot = index
                .get(&tokens, hex.as_bytes())
                .or_else(|| index.get(&tokens, &[b as u8]));
        }

        let pieces = build_pieces(&tokens, &attrs)?;
        Ok(Tokenizer {
            types: v.types,
            attrs,
            index,
            pieces,
            bos: v.bos,
            eos: v.eos,
            unk: v.unk,
            pad: v.pad,
            add_bos: v.add_bos,
            add_eos: v.add_eos,
            add_space_prefix: v.add_space_prefix,
            eog,
            engine: Engine::Spm(SpmEngine {
                scores,
                specials,
                byte_tokens,
            }),
            tokens,
        })
    }

    /// Loads a Hugging Face `tokenizer.json` through the `tokenizers` crate. `encode` then
    /// follows that file's own pipeline (its post-processor decides what `add_special` adds);
    /// `parse_special = false` makes special added tokens plain text.
    pub fn from_tokenizer_json(path: &Path) -> Result<Tokenizer, TokenizerError> {
        let hf = hf::load(path)?;
        Ok(Tokenizer {
            tokens: hf.tokens,
            types: hf.types,
            attrs: hf.attrs,
            index: hf.index,
            pieces: hf.pieces,
            bos: hf.bos,
            eos: hf.eos,
            unk: hf.unk,
            pad: hf.pad,
            add_bos: hf.add_bos,
            add_eos: hf.add_eos,
            add_space_prefix: hf.add_space_prefix,
            eog: hf.eog,
            engine: Engine::Hf(Box::new(hf.engine)),
        })
    }

    /// Text to token ids. `add_special` adds `bos` / `eos` as the vocabulary asks
    /// (`add_bos` / `add_eos`); `parse_special` lets control tokens written in the text (e.g.
    /// `<start_of_turn>`) become those tokens instead of being spelled out.
    pub fn encode(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let spm = match &self.engine {
            Engine::Spm(s) => s,
            Engine::Hf(h) => return h.encode(text, add_special, parse_special),
        };
        if text.len() > MAX_TEXT {
            return Err(TokenizerError::TextTooLong(text.len()));
        }
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special && self.add_bos {
            out.push(
                self.bos
                    .ok_or(TokenizerError::MissingSpecial { which: "bos" })?,
            );
        }
        let frags = spm.specials.partition(text.as_bytes(), parse_special);
        let mv = MergeVocab {
            tokens: &self.tokens,
            scores: &spm.scores,
            index: &self.index,
            byte_tokens: &spm.byte_tokens,
        };
        let mut scratch = MergeScratch::default();
        let mut escaped = String::new();
        let mut prev_special = true;
        for f in frags {
            match f {
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
                Fragment::Text(a, b) => {
                    escaped.clear();
                    if self.add_space_prefix && prev_special {
                        escaped.push('\u{2581}');
                    }
                    for ch in text[a..b].chars() {
                        escaped.push(if ch == ' ' { '\u{2581}' } else { ch });
                    }
                    spm::spm_tokenize(&mv, &escaped, self.unk, &mut scratch, &mut out)
                        .map_err(|byte| TokenizerError::NoByteFallback { byte })?;
                    prev_special = false;
                }
            }
        }
        if add_special && self.add_bos && out.len() >= 2 && Some(out[1]) == self.bos {
            log::warn!("tokenizer: the prompt starts with a BOS token and another was added; it now starts with two");
        }
        if add_special && self.add_eos {
            out.push(
                self.eos
                    .ok_or(TokenizerError::MissingSpecial { which: "eos" })?,
            );
        }
        Ok(out)
    }

    /// The bytes token `id` decodes to, like llama.cpp's `token_to_piece(special = false)`:
    /// normal tokens with `▁` turned into spaces, byte tokens as their byte, user-defined tokens
    /// verbatim, control / unknown / unused tokens empty. `None` for an id out of range.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.pieces.try_get(id as usize)
    }

    /// The vocabulary text of a token, as stored (`▁` not replaced), e.g. `"<end_of_turn>"`.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        let bytes = self.tokens.try_get(id as usize)?;
        // Built from `String`s, so always UTF-8.
        std::str::from_utf8(bytes).ok()
    }

    /// The type of a token as given by the vocabulary.
    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// Whether a token is treated as control (its type, or an end-of-generation text).
    pub fn is_control(&self, id: u32) -> bool {
        self.attrs
            .get(id as usize)
            .is_some_and(|a| a & A_CONTROL != 0)
    }

    /// Ids of tokens that end generation: `eos` plus every token whose text is in llama.cpp's
    /// end-of-generation list (for Gemma: `<eos>`, `<end_of_turn>`, `</s>`). Sorted.
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }

    /// Whether generation should stop at this token (see [`Tokenizer::eog_ids`]).
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.binary_search(&id).is_ok()
    }

    /// Token ids to text, like llama.cpp's detokenize without special rendering; invalid UTF-8
    /// becomes U+FFFD and ids out of range are skipped.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.decode_inner(ids, false)
    }

    /// Like [`Tokenizer::decode`], but control and unknown tokens render as their text
    /// (llama.cpp `unparse_special = true`), e.g. `"<start_of_turn>user\n"`.
    pub fn decode_special(&self, ids: &[u32]) -> String {
        self.decode_inner(ids, true)
    }

    fn decode_inner(&self, ids: &[u32], special: bool) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for (i, &id) in ids.iter().enumerate() {
            let piece = if special {
                self.piece_special(id)
            } else {
                self.token_bytes(id)
            };
            let mut piece = piece.unwrap_or(&[]);
            if i == 0 && self.add_space_prefix {
                piece = piece.strip_prefix(b" ").unwrap_or(piece);
            }
            bytes.extend_from_slice(piece);
        }
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    fn piece_special(&self, id: u32) -> Option<&[u8]> {
        let a = *self.attrs.get(id as usize)?;
        if a & (A_CONTROL | A_UNKNOWN) != 0 {
            Some(self.tokens.get(id as usize))
        } else {
            self.token_bytes(id)
        }
    }

    /// The id of the token whose text is exactly `text` (e.g. `"<end_of_turn>"`, `"▁the"`).
    pub fn id_of(&self, text: &str) -> Option<u32> {
        if text.is_empty() {
            return None;
        }
        match &self.engine {
            Engine::Spm(_) => self.index.get(&self.tokens, text.as_bytes()),
            Engine::Hf(h) => h
                .token_to_id(text)
                .or_else(|| self.index.get(&self.tokens, text.as_bytes())),
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }
    pub fn unk(&self) -> Option<u32> {
        self.unk
    }
    pub fn pad(&self) -> Option<u32> {
        self.pad
    }
    /// Whether `encode(.., add_special = true, ..)` puts `bos` first.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }
    /// Whether `encode(.., add_special = true, ..)` puts `eos` last.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// An incremental detokenizer borrowing this tokenizer.
    pub fn stream(&self) -> TextStream<&Tokenizer> {
        TextStream::new(self)
    }
}

impl Detokenize for Tokenizer {
    fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        Tokenizer::token_bytes(self, id)
    }

    fn strips_leading_space(&self) -> bool {
        self.add_space_prefix
    }
}

#[cfg(test)]
mod tests;
