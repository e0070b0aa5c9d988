//! Hugging Face `tokenizer.json` support through the `tokenizers` crate.

use std::path::Path;

use tokenizers::decoders::DecoderWrapper;

use super::error::TokenizerError;
use super::packed::Packed;
use super::pieces::build_pieces;
use super::spm::PieceIndex;
use super::vocab::{parse_byte_piece, TokenType, A_CONTROL, A_USER, EOG_TEXTS};

pub(super) struct HfEngine {
    /// Parses special added tokens in the text.
    with_special: tokenizers::Tokenizer,
    /// Treats special added tokens as plain text.
    plain: tokenizers::Tokenizer,
}

impl HfEngine {
    pub(super) fn encode(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let t = if parse_special {
            &self.with_special
        } else {
            &self.plain
        };
        let enc = t
            .encode(text, add_special)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    pub(super) fn token_to_id(&self, text: &str) -> Option<u32> {
        self.with_special.token_to_id(text)
    }
}

/// A `tokenizer.json` read into the parts a `Tokenizer` is made of (see its fields).
pub(super) struct HfParts {
    pub tokens: Packed,
    pub types: Vec<TokenType>,
    pub attrs: Vec<u8>,
    pub index: PieceIndex,
    pub pieces: Packed,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    pub add_space_prefix: bool,
    pub eog: Vec<u32>,
    pub engine: HfEngine,
}

/// What the decoder does to token texts.
#[derive(Default)]
struct DecoderTraits {
    byte_level: bool,
    strip_leading_space: bool,
}

fn inspect(d: &DecoderWrapper, t: &mut DecoderTraits) {
    match d {
        DecoderWrapper::ByteLevel(_) => t.byte_level = true,
        DecoderWrapper::Strip(s) if s.content == ' ' && s.start > 0 => t.strip_leading_space = true,
        DecoderWrapper::Metaspace(m)
            if m.get_prepend_scheme()
                != tokenizers::pre_tokenizers::metaspace::PrependScheme::Never =>
        {
            t.strip_leading_space = true
        }
        DecoderWrapper::Sequence(s) => {
            for d in s.get_decoders() {
                inspect(d, t);
            }
        }
        _ => {}
    }
}

/// GPT-2's byte-to-character table, inverted: index = character, value = the byte it stands for.
fn byte_level_table() -> Vec<Option<u8>> {
    let printable = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut table = vec![None; 256 + 68];
    let mut next = 256usize;
    for b in 0u32..256 {
        if printable(b) {
            table[b as usize] = Some(b as u8);
        } else {
            // Non-printable bytes are mapped, in increasing order, to U+0100, U+0101, ...
            table[next] = Some(b as u8);
            next += 1;
        }
    }
    table
}

pub(super) fn load(path: &Path) -> Result<HfParts, TokenizerError> {
    let err = |message: String| TokenizerError::Load {
        path: path.to_path_buf(),
        message,
    };
    let with_special = tokenizers::Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
    let mut plain = with_special.clone();
    plain.set_encode_special_tokens(true);

    let n = with_special.get_vocab_size(true);
    let added = with_special.get_added_tokens_decoder();
    let max_id = added
        .keys()
        .copied()
        .max()
        .map(|m| m as usize + 1)
        .unwrap_or(0);
    let n = n.max(max_id);
    if n == 0 {
        return Err(TokenizerError::EmptyVocab);
    }
    if n > u32::MAX as usize - 1 {
        return Err(TokenizerError::TooLarge(n));
    }

    let mut traits = DecoderTraits::default();
    if let Some(d) = with_special.get_decoder() {
        inspect(d, &mut traits);
    }

    let mut tokens = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    for id in 0..n as u32 {
        let text = with_special.id_to_token(id).unwrap_or_default();
        let ty = match added.get(&id) {
            Some(a) if a.special => TokenType::Control,
            Some(_) => TokenType::UserDefined,
            None if parse_byte_piece(text.as_bytes()).is_some() => TokenType::Byte,
            None if text.is_empty() => TokenType::Unused,
            None => TokenType::Normal,
        };
        tokens.push(text);
        types.push(ty);
    }
    let tokens = Packed::new(tokens.iter().map(|t: &String| t.as_bytes()))?;
    let (index, _) = PieceIndex::build(&tokens);
    let mut attrs: Vec<u8> = types.iter().map(|t| t.attr()).collect();

    let find = |cands: &[&str]| cands.iter().find_map(|c| index.get(&tokens, c.as_bytes()));
    let bos = find(&["<bos>", "<s>", "<|begin_of_text|>", "<|startoftext|>"]);
    let eos = find(&[
        "<eos>",
        "</s>",
        "<|end_of_text|>",
        "<|endoftext|>",
        "<|im_end|>",
    ]);
    let unk = find(&["<unk>", "[UNK]", "<|unk|>"]);
    let pad = find(&["<pad>", "[PAD]", "<|pad|>"]);
    let with = with_special
        .encode("", true)
        .map(|e| e.get_ids().to_vec())
        .unwrap_or_default();
    let add_bos = bos.is_some() && with.first().copied() == bos;
    let add_eos = eos.is_some() && with.last().copied() == eos;
    let mut eog: Vec<u32> = EOG_TEXTS
        .iter()
        .filter_map(|t| index.get(&tokens, t.as_bytes()))
        .collect();
    eog.extend(eos);
    eog.sort_unstable();
    eog.dedup();
    for &id in &eog {
        attrs[id as usize] |= A_CONTROL;
    }

    // Byte-level BPE vocabularies spell bytes as GPT-2 characters: decode pieces by hand.
    let pieces = if traits.byte_level {
        let table = byte_level_table();
        let mut pieces = Packed::default();
        for (i, &a) in attrs.iter().enumerate() {
            let t = tokens.get(i);
            pieces.push_with(|data| {
                if a & A_CONTROL != 0 {
                } else if a & A_USER != 0 {
                    data.extend_from_slice(t);
                } else {
                    for c in String::from_utf8_lossy(t).chars() {
                        match table.get(c as usize).copied().flatten() {
                            Some(b) => data.push(b),
                            None => {
                                let mut buf = [0u8; 4];
                                data.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            }
                        }
                    }
                }
            })?;
        }
        pieces
    } else {
        build_pieces(&tokens, &attrs)?
    };

    Ok(HfParts {
        tokens,
        types,
        attrs,
        index,
        pieces,
        bos,
        eos,
        unk,
        pad,
        add_bos,
        add_eos,
        add_space_prefix: traits.strip_leading_space,
        eog,
        engine: HfEngine {
            with_special,
            plain,
        },
    })
}
