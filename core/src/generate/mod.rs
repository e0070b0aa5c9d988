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

/// Stop strings a request may have, and the bytes each may take: each is searched for at
/// every token, so a few short ones are what a request needs (OpenAI's API allows four).
pub const MAX_STOP_STRINGS: usize = 32;
pub const MAX_STOP_BYTES: usize = 256;

impl GenerateOptions {
    /// Checks every field's range, so that a request fails before it touches a chat. The
    /// repetition window and top-k may be anything: a window or a k past the sequence or the
    /// vocabulary takes all of it.
    pub(crate) fn check(&self) -> Result<()> {
        let s = &self.sampling;
        if self.max_tokens == 0 {
            return Err(Error::out_of_range("max_tokens", "at least 1", 0));
        }
        if self.stop.len() > MAX_STOP_STRINGS {
            let allowed = format!("at most {MAX_STOP_STRINGS} strings");
            return Err(Error::out_of_range("stop", &allowed, self.stop.len()));
        }
        if let Some(long) = self.stop.iter().find(|s| s.len() > MAX_STOP_BYTES) {
            let allowed = format!("strings of at most {MAX_STOP_BYTES} bytes");
            let found = format!("one of {} bytes", long.len());
            return Err(Error::out_of_range("stop", &allowed, found));
        }
        // `!(x >= 0.0)` and `contains` are false for NaN, so NaN fails each check.
        if !(s.temperature.is_finite() && s.temperature >= 0.0) {
            let allowed = "a finite number, 0 (greedy) or more";
            return Err(Error::out_of_range("temperature", allowed, s.temperature));
        }
        for (name, p) in [("top_p", s.top_p), ("min_p", s.min_p)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::out_of_range(name, "0 to 1", p));
            }
        }
        if !(s.repetition_penalty.is_finite() && s.repetition_penalty > 0.0) {
            let allowed = "a finite number above 0 (1 is off)";
            return Err(Error::out_of_range(
                "repetition_penalty",
                allowed,
                s.repetition_penalty,
            ));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The message `options` fail with, or None when they pass.
    fn refusal(change: impl FnOnce(&mut GenerateOptions)) -> Option<String> {
        let mut options = GenerateOptions::default();
        change(&mut options);
        match options.check() {
            Ok(()) => None,
            Err(Error::InvalidArgument(m)) => Some(m),
            Err(e) => panic!("not an InvalidArgument: {e:?}"),
        }
    }

    #[test]
    fn every_bound_of_a_request_is_checked_and_named() {
        assert_eq!(refusal(|_| {}), None);
        let refused = [
            (
                refusal(|o| o.max_tokens = 0),
                "max_tokens must be at least 1, not 0",
            ),
            (
                refusal(|o| o.stop = vec!["x".into(); MAX_STOP_STRINGS + 1]),
                "stop must be at most 32 strings, not 33",
            ),
            (
                refusal(|o| o.stop = vec!["x".repeat(MAX_STOP_BYTES + 1)]),
                "stop must be strings of at most 256 bytes, not one of 257 bytes",
            ),
            (
                refusal(|o| o.sampling.temperature = f32::NAN),
                "temperature must be a finite number, 0 (greedy) or more, not NaN",
            ),
            (
                refusal(|o| o.sampling.temperature = -0.5),
                "temperature must be a finite number, 0 (greedy) or more, not -0.5",
            ),
            (
                refusal(|o| o.sampling.temperature = f32::INFINITY),
                "temperature must be a finite number, 0 (greedy) or more, not inf",
            ),
            (
                refusal(|o| o.sampling.top_p = 1.5),
                "top_p must be 0 to 1, not 1.5",
            ),
            (
                refusal(|o| o.sampling.top_p = -0.1),
                "top_p must be 0 to 1, not -0.1",
            ),
            (
                refusal(|o| o.sampling.top_p = f32::NAN),
                "top_p must be 0 to 1, not NaN",
            ),
            (
                refusal(|o| o.sampling.min_p = 2.0),
                "min_p must be 0 to 1, not 2",
            ),
            (
                refusal(|o| o.sampling.repetition_penalty = 0.0),
                "repetition_penalty must be a finite number above 0 (1 is off), not 0",
            ),
            (
                refusal(|o| o.sampling.repetition_penalty = f32::NAN),
                "repetition_penalty must be a finite number above 0 (1 is off), not NaN",
            ),
        ];
        for (got, want) in refused {
            assert_eq!(got.as_deref(), Some(want));
        }
    }

    #[test]
    fn the_edges_of_each_range_pass() {
        let passing: [fn(&mut GenerateOptions); 8] = [
            |o| o.max_tokens = usize::MAX,
            |o| o.stop = vec!["x".repeat(MAX_STOP_BYTES); MAX_STOP_STRINGS],
            |o| o.sampling.temperature = 0.0,
            |o| o.sampling.top_p = 0.0,
            |o| o.sampling.top_p = 1.0,
            |o| o.sampling.min_p = 1.0,
            |o| o.sampling.repetition_window = usize::MAX,
            |o| o.sampling.top_k = usize::MAX,
        ];
        for change in passing {
            assert_eq!(refusal(change), None);
        }
    }
}
