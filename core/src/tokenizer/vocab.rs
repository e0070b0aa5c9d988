//! The vocabulary as read from GGUF metadata, token types and the attribute bits they map to,
//! and the texts and piece shapes that llama.cpp gives a meaning of their own.

use super::error::TokenizerError;

// llama.cpp-style attribute bits (a token can gain CONTROL on top of its type).
pub(super) const A_NORMAL: u8 = 1;
pub(super) const A_UNKNOWN: u8 = 2;
pub(super) const A_CONTROL: u8 = 4;
pub(super) const A_USER: u8 = 8;
pub(super) const A_UNUSED: u8 = 16;
pub(super) const A_BYTE: u8 = 32;

/// Texts that llama.cpp treats as end-of-generation, and therefore as control tokens, whatever
/// their type in the file (llama.cpp `llama_vocab::impl::load`, "special_eog_ids").
pub(super) const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// Parses the byte of a `<0xXX>` piece.
pub(super) fn parse_byte_piece(b: &[u8]) -> Option<u8> {
    if b.len() == 6 && b.starts_with(b"<0x") && b[5] == b'>' {
        let hex = std::str::from_utf8(&b[3..5]).ok()?;
        u8::from_str_radix(hex, 16).ok()
    } else {
        None
    }
}

/// The kind of a vocabulary entry, as stored in GGUF's `tokenizer.ggml.token_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// 1: an ordinary piece; `▁` in it decodes to a space.
    Normal,
    /// 2: the unknown token. Treated as special: only matched in text with `parse_special`, and
    /// decodes to nothing.
    Unknown,
    /// 3: control tokens such as `<bos>`, `<start_of_turn>`. Only matched in text with
    /// `parse_special`; decode to nothing (their text is available through
    /// [`Tokenizer::token_text`](super::Tokenizer::token_text) /
    /// [`Tokenizer::decode_special`](super::Tokenizer::decode_special)).
    Control,
    /// 4: user-defined tokens. Always matched literally in text; decode to their exact text.
    UserDefined,
    /// 5: unused slots. Never matched specially; decode to nothing.
    Unused,
    /// 6: byte-fallback tokens `<0xXX>`; decode to that single byte.
    Byte,
}

impl TokenType {
    /// Maps a GGUF `token_type` value. Values outside 1..=6 (including llama.cpp's 0,
    /// "undefined") map to [`TokenType::Unused`]: llama.cpp gives them the "undefined" attribute,
    /// which behaves exactly like "unused" (not special, decodes to nothing, still reachable by
    /// the merge). Use `TokenType::try_from` to reject such values instead.
    pub fn from_gguf(value: i32) -> TokenType {
        TokenType::try_from(value).unwrap_or(TokenType::Unused)
    }

    /// The GGUF `token_type` value of this type.
    pub fn to_gguf(self) -> i32 {
        match self {
            TokenType::Normal => 1,
            TokenType::Unknown => 2,
            TokenType::Control => 3,
            TokenType::UserDefined => 4,
            TokenType::Unused => 5,
            TokenType::Byte => 6,
        }
    }

    pub(super) fn attr(self) -> u8 {
        match self {
            TokenType::Normal => A_NORMAL,
            TokenType::Unknown => A_UNKNOWN,
            TokenType::Control => A_CONTROL,
            TokenType::UserDefined => A_USER,
            TokenType::Unused => A_UNUSED,
            TokenType::Byte => A_BYTE,
        }
    }
}

impl TryFrom<i32> for TokenType {
    type Error = TokenizerError;
    fn try_from(value: i32) -> Result<TokenType, TokenizerError> {
        Ok(match value {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => return Err(TokenizerError::InvalidTokenType { value }),
        })
    }
}

/// A SentencePiece vocabulary as stored in GGUF metadata. All arrays are indexed by token id.
#[derive(Debug, Clone, Default)]
pub struct Vocab {
    pub tokens: Vec<String>,
    pub scores: Vec<f32>,
    pub types: Vec<TokenType>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    pub add_space_prefix: bool,
}

/// The raw tokenizer metadata of a GGUF file, each field `None` when its key is absent.
/// [`Vocab::from_gguf`] applies llama.cpp's defaults for the "llama" (SentencePiece) model.
#[derive(Debug, Clone, Default)]
pub struct GgufVocab {
    /// `tokenizer.ggml.tokens`
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.scores` (f32; an i32 array converted with `as f32`)
    pub scores: Option<Vec<f32>>,
    /// `tokenizer.ggml.token_type`
    pub token_type: Option<Vec<i32>>,
    /// `tokenizer.ggml.bos_token_id`
    pub bos_token_id: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`
    pub eos_token_id: Option<u32>,
    /// `tokenizer.ggml.unknown_token_id`
    pub unknown_token_id: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`
    pub padding_token_id: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`
    pub add_bos_token: Option<bool>,
    /// `tokenizer.ggml.add_eos_token`
    pub add_eos_token: Option<bool>,
    /// `tokenizer.ggml.add_space_prefix`
    pub add_space_prefix: Option<bool>,
}

impl Vocab {
    /// Builds a [`Vocab`] from GGUF metadata with llama.cpp's rules for `tokenizer.ggml.model =
    /// "llama"`: scores default to 0.0 and types to normal when absent; arrays longer than
    /// `tokens` are cut, shorter ones are an error; special ids default to bos = 1, eos = 2,
    /// unk = 0, pad = none (a default that is out of range is dropped, and an id from the file
    /// that is out of range is ignored with a warning, keeping the default); `add_bos_token`
    /// defaults to true, `add_eos_token` to false, `add_space_prefix` to true. Token type values
    /// outside 1..=6 become [`TokenType::Unused`] (see [`TokenType::from_gguf`]).
    pub fn from_gguf(m: GgufVocab) -> Result<Vocab, TokenizerError> {
        let n = m.tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        let scores = match m.scores {
            Some(mut s) => {
                if s.len() < n {
                    return Err(TokenizerError::LengthMismatch {
                        field: "scores",
                        got: s.len(),
                        expected: n,
                    });
                }
                s.truncate(n);
                s
            }
            None => vec![0.0; n],
        };
        let types = match m.token_type {
            Some(t) => {
                if t.len() < n {
                    return Err(TokenizerError::LengthMismatch {
                        field: "token_type",
                        got: t.len(),
                        expected: n,
                    });
                }
                t[..n].iter().map(|&v| TokenType::from_gguf(v)).collect()
            }
            None => vec![TokenType::Normal; n],
        };
        let pick = |key: &str, default: Option<u32>, given: Option<u32>| -> Option<u32> {
            let default = default.filter(|&d| (d as usize) < n);
            match given {
                Some(g) if (g as usize) < n => Some(g),
                Some(g) => {
                    log::warn!(
                        "tokenizer: {key} = {g} is out of range for {n} tokens; using {default:?}"
                    );
                    default
                }
                None => default,
            }
        };
        Ok(Vocab {
            bos: pick("tokenizer.ggml.bos_token_id", Some(1), m.bos_token_id),
            eos: pick("tokenizer.ggml.eos_token_id", Some(2), m.eos_token_id),
            unk: pick(
                "tokenizer.ggml.unknown_token_id",
                Some(0),
                m.unknown_token_id,
            ),
            pad: pick("tokenizer.ggml.padding_token_id", None, m.padding_token_id),
            add_bos: m.add_bos_token.unwrap_or(true),
            add_eos: m.add_eos_token.unwrap_or(false),
            add_space_prefix: m.add_space_prefix.unwrap_or(true),
            tokens: m.tokens,
            scores,
            types,
        })
    }
}
