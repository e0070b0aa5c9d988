//! Builds the tokenizer from a GGUF file's `tokenizer.ggml.*` metadata, so one file is all a
//! user ships.

use crate::error::{Error, Result};
use crate::gguf::Gguf;
use crate::tokenizer::{GgufVocab, Tokenizer, Vocab};

pub(crate) fn tokenizer_from_gguf<B: AsRef<[u8]>>(g: &Gguf<B>) -> Result<Tokenizer> {
    let model = g.opt_str("tokenizer.ggml.model")?.unwrap_or("llama");
    if model != "llama" {
        return Err(Error::InvalidMetadata {
            key: "tokenizer.ggml.model".into(),
            reason: format!(
                "{model:?} is not supported (only the SentencePiece \"llama\" vocabulary)"
            ),
        });
    }
    let id = |key: &str| -> Result<Option<u32>> {
        Ok(g.opt_u64(key)?
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX)))
    };
    let scores = match g.get("tokenizer.ggml.scores") {
        None => None,
        Some(_) => Some(match g.f32_array("tokenizer.ggml.scores") {
            Ok(s) => s,
            Err(_) => g
                .i32_array("tokenizer.ggml.scores")?
                .into_iter()
                .map(|x| x as f32)
                .collect(),
        }),
    };
    let token_type = match g.get("tokenizer.ggml.token_type") {
        None => None,
        Some(_) => Some(g.i32_array("tokenizer.ggml.token_type")?),
    };
    let meta = GgufVocab {
        tokens: g.string_array("tokenizer.ggml.tokens")?,
        scores,
        token_type,
        bos_token_id: id("tokenizer.ggml.bos_token_id")?,
        eos_token_id: id("tokenizer.ggml.eos_token_id")?,
        unknown_token_id: id("tokenizer.ggml.unknown_token_id")?,
        padding_token_id: id("tokenizer.ggml.padding_token_id")?,
        add_bos_token: g.opt_bool("tokenizer.ggml.add_bos_token")?,
        add_eos_token: g.opt_bool("tokenizer.ggml.add_eos_token")?,
        add_space_prefix: g.opt_bool("tokenizer.ggml.add_space_prefix")?,
    };
    Ok(Tokenizer::from_vocab(Vocab::from_gguf(meta)?)?)
}
