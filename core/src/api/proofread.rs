//! Proofreading for keyboards: the model corrects a text, and a word-level diff tells the app
//! what changed, ready to underline. The instruction is prefilled once (a prefix), so each
//! request prefills only the user's text.

use std::sync::Arc;

use crate::api::chat::Chat;
use crate::api::conversation::ChatOptions;
use crate::api::shared::EngineInner;
use crate::error::Result;
use crate::generate::{FinishReason, GenerateOptions, Stats};
use crate::runtime::control::CancelToken;
use crate::sampling::SamplingParams;

/// What the proofreader asks the model, prefilled once per engine as a chat prefix.
pub const PROOFREAD_INSTRUCTION: &str =
    "You are a proofreader. Correct the spelling, grammar and punctuation \
of the text the user sends. Keep its meaning, words and style otherwise. Reply with the \
corrected text only, without quotes or comments.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    Unchanged,
    Inserted,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub kind: SegmentKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Proofread {
    pub corrected: String,
    /// Unchanged and deleted segments spell the original; unchanged and inserted ones spell
    /// the correction.
    pub segments: Vec<Segment>,
    pub finish_reason: FinishReason,
    pub stats: Stats,
}

/// Corrects `text` in a chat that starts from the instruction's prefix, made once per engine.
/// When the reply does not finish (cancelled, cut off), the correction is the original text.
pub(crate) fn proofread(
    engine: &Arc<EngineInner>,
    text: &str,
    cancel: &CancelToken,
) -> Result<Proofread> {
    let options = ChatOptions {
        system: Some(PROOFREAD_INSTRUCTION.to_owned()),
        ..ChatOptions::default()
    };
    let prefix = engine.proofread_prefix(&options)?;
    let chat = Chat::new(Arc::clone(engine), options, Some(prefix))?;
    let text_tokens = engine
        .model()?
        .tokenizer()
        .encode(text, false, false)?
        .len();
    let options = GenerateOptions {
        // A correction is about as long as the text.
        max_tokens: 2 * text_tokens + 16,
        sampling: SamplingParams::greedy(),
        ..GenerateOptions::default()
    };
    let reply = chat.send(text, &options, cancel, &mut |_| {})?;
    let corrected = match reply.finish_reason {
        FinishReason::StopToken => reply.text.trim().to_owned(),
        _ => text.to_owned(),
    };
    Ok(Proofread {
        segments: diff(text, &corrected),
        corrected,
        finish_reason: reply.finish_reason,
        stats: reply.stats,
    })
}

/// Words (letters and digits), single other characters and runs of whitespace: the units a
/// correction changes.
fn units(text: &str) -> Vec<&str> {
    let class = |c: char| {
        if c.is_alphanumeric() || c == '\'' || c == '’' {
            0
        } else if c.is_whitespace() {
            1
        } else {
            2
        }
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev = None;
    for (i, c) in text.char_indices() {
        let k = class(c);
        if i > start && (prev != Some(k) || k == 2) {
            out.push(&text[start..i]);
            start = i;
        }
        prev = Some(k);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Above this many cells the longest-common-subsequence table is not built, and the changed
/// middle becomes one deletion and one insertion.
const MAX_TABLE: usize = 4 << 20;

/// The word-level difference from `old` to `new`, adjacent segments of a kind merged.
pub fn diff(old: &str, new: &str) -> Vec<Segment> {
    let (a, b) = (units(old), units(new));
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops: Vec<(SegmentKind, &str)> = a[..prefix]
        .iter()
        .map(|u| (SegmentKind::Unchanged, *u))
        .collect();
    if (ma.len() + 1) * (mb.len() + 1) <= MAX_TABLE {
        ops.extend(lcs_ops(ma, mb));
    } else {
        ops.extend(ma.iter().map(|u| (SegmentKind::Deleted, *u)));
        ops.extend(mb.iter().map(|u| (SegmentKind::Inserted, *u)));
    }
    ops.extend(
        a[a.len() - suffix..]
            .iter()
            .map(|u| (SegmentKind::Unchanged, *u)),
    );

    let mut out: Vec<Segment> = Vec::new();
    for (kind, text) in ops {
        match out.last_mut() {
            Some(last) if last.kind == kind => last.text.push_str(text),
            _ => out.push(Segment {
                kind,
                text: text.to_owned(),
            }),
        }
    }
    out
}

/// Edit operations along a longest common subsequence; deletions come before insertions.
fn lcs_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(SegmentKind, &'a str)> {
    let w = b.len() + 1;
    // table[i * w + j]: LCS length of a[i..] and b[j..].
    let mut table = vec![0u32; (a.len() + 1) * w];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            table[i * w + j] = if a[i] == b[j] {
                table[(i + 1) * w + j + 1] + 1
            } else {
                table[(i + 1) * w + j].max(table[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((SegmentKind::Unchanged, a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || table[(i + 1) * w + j] >= table[i * w + j + 1]) {
            ops.push((SegmentKind::Deleted, a[i]));
            i += 1;
        } else {
            ops.push((SegmentKind::Inserted, b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spell(segments: &[Segment], skip: SegmentKind) -> String {
        segments
            .iter()
            .filter(|s| s.kind != skip)
            .map(|s| s.text.as_str())
            .collect()
    }

    #[test]
    fn segments_spell_both_texts() {
        let cases = [
            ("i has a apple , it are red", "I have an apple, it is red."),
            ("", "Hello."),
            ("Hello.", ""),
            ("same text", "same text"),
            ("naïve café  goes", "naive café goes"),
        ];
        for (old, new) in cases {
            let d = diff(old, new);
            assert_eq!(spell(&d, SegmentKind::Inserted), old);
            assert_eq!(spell(&d, SegmentKind::Deleted), new);
            assert!(d.windows(2).all(|w| w[0].kind != w[1].kind), "{d:?}");
        }
    }

    #[test]
    fn a_corrected_word_is_one_deletion_and_one_insertion() {
        let d = diff("I has a cat.", "I have a cat.");
        let kinds: Vec<_> = d.iter().map(|s| (s.kind, s.text.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (SegmentKind::Unchanged, "I "),
                (SegmentKind::Deleted, "has"),
                (SegmentKind::Inserted, "have"),
                (SegmentKind::Unchanged, " a cat."),
            ]
        );
    }

    #[test]
    fn units_split_words_punctuation_and_spaces() {
        assert_eq!(
            units("Don't stop,  now!"),
            ["Don't", " ", "stop", ",", "  ", "now", "!"]
        );
    }
}
