//! `gemkit bench`: prefill and decode speed, time to first token, load time and memory, the
//! median of several runs. Prompts are fixed token ids, not sampled text, so every run and
//! every engine does the same work (as llama-bench does).

use std::time::Instant;

use gemkit::ProcessMemory;
use gemkit::{Logits, Model, ModelOptions};
use serde_json::json;

use crate::cli::BenchArgs;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Run {
    ttft_ms: f64,
    prefill_tok_s: f64,
    decode_tok_s: f64,
}

pub fn bench(args: &BenchArgs) -> Result<serde_json::Value, String> {
    let BenchArgs {
        prompt_tokens,
        gen_tokens,
        repeat,
        warmup,
        ..
    } = *args;
    if prompt_tokens == 0 || repeat == 0 {
        return Err("--prompt-tokens and --repeat must be at least 1".into());
    }
    let needed = prompt_tokens + gen_tokens;
    let options = ModelOptions {
        context_length: Some(args.ctx.unwrap_or(needed)),
        threads: args.threads,
        ..ModelOptions::default()
    };
    let path = &args.model;

    let load_start = Instant::now();
    let model = Model::load(path, &options).map_err(|e| e.to_string())?;
    let mut cache = model.new_cache().map_err(|e| e.to_string())?;
    let load_ms = load_start.elapsed().as_secs_f64() * 1e3;
    let after_load = ProcessMemory::current();
    let mut peak = after_load;

    // A fixed, ordinary-looking prompt: bos, then ids cycling through the common vocabulary.
    let vocab = model.config().vocab_size as u32;
    let prompt: Vec<u32> = std::iter::once(model.tokenizer().bos().unwrap_or(0))
        .chain((1..prompt_tokens as u32).map(|i| 1000 + (i * 7919) % (vocab.min(20_000) - 1000)))
        .collect();

    let mut runs = Vec::new();
    for run in 0..warmup + repeat {
        cache.clear();
        let start = Instant::now();
        let mut logits = model
            .forward(&mut cache, &prompt, Logits::Last)
            .map_err(|e| e.to_string())?;
        let prefill = start.elapsed();
        let mut next = gemkit::argmax(&logits) as u32;
        let ttft = start.elapsed();
        let decode_start = Instant::now();
        for _ in 1..gen_tokens {
            logits = model
                .forward(&mut cache, &[next], Logits::Last)
                .map_err(|e| e.to_string())?;
            next = gemkit::argmax(&logits) as u32;
        }
        let decode = decode_start.elapsed();
        if let (Some(p), Some(now)) = (peak, ProcessMemory::current()) {
            peak = Some(ProcessMemory {
                rss_anon: p.rss_anon.max(now.rss_anon),
                rss_file: p.rss_file.max(now.rss_file),
            });
        }
        if run < warmup {
            continue;
        }
        runs.push(Run {
            ttft_ms: ttft.as_secs_f64() * 1e3,
            prefill_tok_s: prompt_tokens as f64 / prefill.as_secs_f64(),
            decode_tok_s: gen_tokens.saturating_sub(1) as f64 / decode.as_secs_f64().max(1e-9),
        });
    }
    let mb = |b: usize| (b as f64 / (1 << 20) as f64 * 10.0).round() / 10.0;
    Ok(json!({
        "model": path.to_string_lossy(),
        "threads": model.threads(),
        "prompt_tokens": prompt_tokens,
        "gen_tokens": gen_tokens,
        "repeat": repeat,
        "warmup": warmup,
        "context_length": model.context_length(),
        "load_ms": load_ms,
        "ttft_ms": median(runs.iter().map(|r| r.ttft_ms).collect()),
        "prefill_tok_s": median(runs.iter().map(|r| r.prefill_tok_s).collect()),
        "decode_tok_s": median(runs.iter().map(|r| r.decode_tok_s).collect()),
        "rss_anon_mb_after_load": after_load.map(|m| mb(m.rss_anon)),
        "rss_file_mb_after_load": after_load.map(|m| mb(m.rss_file)),
        "rss_anon_mb_peak": peak.map(|m| mb(m.rss_anon)),
        "rss_file_mb_peak": peak.map(|m| mb(m.rss_file)),
    }))
}
