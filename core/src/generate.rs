//! Raw completion: prefill a prompt, then sample one token at a time, streaming whole UTF-8
//! text as it is decoded, until a stop token, the token limit or the end of the context.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::model::{KvCache, Logits, Model};
use crate::sampling::{Sampler, SamplingParams};

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    pub max_tokens: usize,
    pub sampling: SamplingParams,
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            max_tokens: 256,
            sampling: SamplingParams::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-generation token (not included in the output).
    StopToken,
    /// `max_tokens` were generated.
    Length,
    /// The context has no room for another token.
    ContextFull,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::StopToken => "stop_token",
            FinishReason::Length => "length",
            FinishReason::ContextFull => "context_full",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// From the call to the first generated token.
    pub ttft: Duration,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub ids: Vec<u32>,
    pub text: String,
    pub finish_reason: FinishReason,
    pub stats: GenerationStats,
}

fn per_second(n: usize, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        n as f64 / d.as_secs_f64()
    }
}

/// Continues the sequence in `cache` with `prompt`, then generates. `on_text` receives each
/// piece of text as soon as it forms whole characters.
pub fn generate(
    model: &Model,
    cache: &mut KvCache,
    prompt: &[u32],
    params: &GenerateParams,
    mut on_text: impl FnMut(&str),
) -> Result<Generation> {
    let start = Instant::now();
    let mut logits = model.forward(cache, prompt, Logits::Last)?;
    let prefill_time = start.elapsed();

    let mut sampler = Sampler::new(params.sampling.clone());
    let mut stream = model.tokenizer().stream();
    let mut ids = Vec::new();
    let mut text = String::new();
    let mut ttft = None;
    let decode_start = Instant::now();
    let mut decode_steps = 0;
    let finish_reason = loop {
        if ids.len() >= params.max_tokens {
            break FinishReason::Length;
        }
        let id = sampler.sample(&logits);
        ttft.get_or_insert_with(|| start.elapsed());
        if model.is_stop_token(id) {
            break FinishReason::StopToken;
        }
        ids.push(id);
        let piece = stream.push(id);
        if !piece.is_empty() {
            on_text(&piece);
            text.push_str(&piece);
        }
        if ids.len() >= params.max_tokens {
            break FinishReason::Length;
        }
        if cache.len() >= cache.context() {
            break FinishReason::ContextFull;
        }
        logits = model.forward(cache, &[id], Logits::Last)?;
        decode_steps += 1;
    };
    let rest = stream.finish();
    if !rest.is_empty() {
        on_text(&rest);
        text.push_str(&rest);
    }
    let decode_time = decode_start.elapsed();
    Ok(Generation {
        stats: GenerationStats {
            prompt_tokens: prompt.len(),
            generated_tokens: ids.len(),
            ttft: ttft.unwrap_or_else(|| start.elapsed()),
            prefill_tok_s: per_second(prompt.len(), prefill_time),
            decode_tok_s: per_second(decode_steps, decode_time),
        },
        ids,
        text,
        finish_reason,
    })
}
