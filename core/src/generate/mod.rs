//! One generation over a KV cache: prefill the new tokens, then sample one token at a time,
//! streaming whole UTF-8 text, until a stop token, a stop string, the token limit, a cancel or
//! the end of the context. Chats and raw completions both run through here.

pub(crate) mod stop;

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::generate::stop::StopStrings;
use crate::model::{KvCache, Logits, Model};
use crate::runtime::budget::Scratch;
use crate::runtime::control::{CancelToken, WhenBusy};
use crate::sampling::{Sampler, SamplingParams};

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Text that ends the generation; it is not part of the reply.
    pub stop: Vec<String>,
    pub when_busy: WhenBusy,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 256,
            sampling: SamplingParams::default(),
            stop: Vec::new(),
            when_busy: WhenBusy::Wait,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-turn or end-of-sequence token (not part of the reply).
    StopToken,
    /// The reply reached one of the stop strings (not part of the reply).
    StopString,
    /// `max_tokens` were generated.
    Length,
    /// A cancel arrived; the reply holds what was generated before it.
    Cancelled,
    /// The context has no room for another token.
    ContextFull,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::StopToken => "stop_token",
            FinishReason::StopString => "stop_string",
            FinishReason::Length => "length",
            FinishReason::Cancelled => "cancelled",
            FinishReason::ContextFull => "context_full",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Tokens prefilled by this call (a chat turn prefills only its own).
    pub prompt_tokens: usize,
    /// Tokens in the sequence after the reply.
    pub context_tokens: usize,
    pub generated_tokens: usize,
    /// From the call to the first generated token, in milliseconds.
    pub ttft_ms: f64,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    /// The generated token ids, without a final stop token.
    pub ids: Vec<u32>,
    pub finish_reason: FinishReason,
    pub stats: Stats,
}

/// A reply and how far it got.
pub(crate) struct Outcome {
    /// Its last id is not yet in the cache.
    pub reply: Reply,
    /// False when a cancel stopped the prompt's prefill part way.
    pub prefilled: bool,
}

fn per_second(n: usize, d: Duration) -> f64 {
    if n == 0 || d.is_zero() {
        0.0
    } else {
        n as f64 / d.as_secs_f64()
    }
}

/// How a caller asked for a generation.
pub(crate) struct Request<'a> {
    pub options: &'a GenerateOptions,
    pub cancel: &'a CancelToken,
    /// When the caller's request began, for the time to first token.
    pub started: Instant,
}

/// Continues the sequence in `cache` (whose tokens are `history`) with `prompt`, then
/// generates.
pub(crate) fn generate(
    model: &Model,
    cache: &mut KvCache,
    history: &[u32],
    prompt: &[u32],
    request: Request,
    on_text: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    let Request {
        options,
        cancel,
        started,
    } = request;
    if prompt.is_empty() {
        return Err(Error::InvalidArgument("the prompt has no tokens".into()));
    }
    let prefill_start = Instant::now();
    let Some(mut logits) = model.forward_cancellable(cache, prompt, Logits::Last, cancel)? else {
        let stats = Stats {
            prompt_tokens: 0,
            context_tokens: cache.len(),
            generated_tokens: 0,
            ttft_ms: 0.0,
            prefill_tok_s: 0.0,
            decode_tok_s: 0.0,
        };
        return Ok(Outcome {
            reply: Reply {
                text: String::new(),
                ids: Vec::new(),
                finish_reason: FinishReason::Cancelled,
                stats,
            },
            prefilled: false,
        });
    };
    let prefill_time = prefill_start.elapsed();

    let mut sampler = Sampler::new(options.sampling.clone());
    let window = options.sampling.repetition_window;
    let mut recent: Vec<u32> = history[history.len().saturating_sub(window)..].to_vec();
    recent.extend(&prompt[prompt.len().saturating_sub(window)..]);
    let mut stream = model.tokenizer().stream();
    let mut stops = StopStrings::new(&options.stop);
    let mut ids = Vec::new();
    let mut text = String::new();
    let mut ttft = None;
    let decode_start = Instant::now();
    let mut decode_steps = 0;
    let mut emit = |piece: &str, text: &mut String| {
        if !piece.is_empty() {
            on_text(piece);
            text.push_str(piece);
        }
    };
    let finish_reason = loop {
        if ids.len() >= options.max_tokens {
            break FinishReason::Length;
        }
        if cancel.is_cancelled() {
            break FinishReason::Cancelled;
        }
        // The previous token goes through the model only when another one is wanted.
        if let Some(&last) = ids.last() {
            if cache.len() >= cache.context() {
                break FinishReason::ContextFull;
            }
            logits = model.forward(cache, &[last], Logits::Last)?;
            decode_steps += 1;
        }
        let id = sampler.sample(&mut logits, &recent);
        model.meter().record(Scratch::Sampler, sampler.held_bytes());
        ttft.get_or_insert_with(|| started.elapsed());
        if model.is_stop_token(id) {
            break FinishReason::StopToken;
        }
        ids.push(id);
        recent.push(id);
        let scan = stops.push(&stream.push(id));
        emit(&scan.emit, &mut text);
        if scan.stopped {
            break FinishReason::StopString;
        }
    };
    if finish_reason != FinishReason::StopString {
        let scan = stops.push(&stream.finish());
        emit(&scan.emit, &mut text);
        emit(&stops.finish(), &mut text);
    }
    let decode_time = decode_start.elapsed();
    let stats = Stats {
        prompt_tokens: prompt.len(),
        context_tokens: cache.len() + usize::from(!ids.is_empty()),
        generated_tokens: ids.len(),
        ttft_ms: ttft.unwrap_or_else(|| started.elapsed()).as_secs_f64() * 1e3,
        prefill_tok_s: per_second(prompt.len(), prefill_time),
        decode_tok_s: per_second(decode_steps, decode_time),
    };
    Ok(Outcome {
        reply: Reply {
            text,
            ids,
            finish_reason,
            stats,
        },
        prefilled: true,
    })
}
