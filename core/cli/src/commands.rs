//! One function per command; `chat` and `bench` have files of their own.

use std::path::Path;

use gemkit::{CancelToken, Engine, Logits, Model, ModelInfo, ModelOptions, ProcessMemory};
use serde_json::json;

use crate::cli::{GenerateArgs, InfoArgs, LogitsArgs, LogitsPath, TokenizeArgs};
use crate::generation::{generate_options, load_engine, stream_reply};
use crate::output::{err, out, out_json, out_report, CmdResult};

fn load(path: &Path, options: ModelOptions) -> Result<Model, String> {
    Model::load(path, &options).map_err(err)
}

pub fn info(args: &InfoArgs) -> CmdResult {
    let model = load(&args.model, ModelOptions::default())?;
    let info = ModelInfo::of(&model);
    let memory = ProcessMemory::current();
    out_report(&info_json(&info, memory), args.json)
}

fn info_json(info: &ModelInfo, memory: Option<ProcessMemory>) -> serde_json::Value {
    let types: serde_json::Map<String, serde_json::Value> = info
        .tensor_types
        .iter()
        .map(|(dtype, (count, bytes))| {
            (
                dtype.to_string(),
                json!({ "tensors": count, "bytes": bytes }),
            )
        })
        .collect();
    json!({
        "architecture": info.architecture,
        "n_layer": info.n_layer,
        "n_embd": info.n_embd,
        "n_head": info.n_head,
        "n_head_kv": info.n_head_kv,
        "head_dim": info.head_dim,
        "n_ff": info.n_ff,
        "vocab_size": info.vocab_size,
        "train_context": info.train_context,
        "context_length": info.context_length,
        "sliding_window": info.sliding_window,
        "sliding_layers": info.sliding_layers,
        "quant_types": types,
        "file_bytes": info.file_bytes,
        "tensor_bytes": info.tensor_bytes(),
        "kv_cache_bytes": info.kv_cache_bytes,
        "load_ms": info.load_ms,
        "rss_anon_bytes": memory.map(|m| m.rss_anon),
        "rss_file_bytes": memory.map(|m| m.rss_file),
    })
}

pub fn tokenize(args: &TokenizeArgs) -> CmdResult {
    // The engine's tokenize, as the bindings': control tokens written in the text are parsed.
    let engine = Engine::load(&args.model, &ModelOptions::default()).map_err(err)?;
    let ids = engine.tokenize(&args.text, !args.no_bos).map_err(err)?;
    if args.json {
        out_json(&json!({ "ids": ids }))
    } else {
        let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
        out(&format!("{}\n", ids.join(",")))
    }
}

fn parse_ids(list: &str) -> Result<Vec<u32>, String> {
    list.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| format!("--ids: {s:?} is not a token id"))
        })
        .collect()
}

pub fn logits(args: &LogitsArgs) -> CmdResult {
    let ids = parse_ids(&args.ids)?;
    let base = match args.path {
        LogitsPath::Exact => ModelOptions::reference(),
        LogitsPath::Fast | LogitsPath::Decode => ModelOptions::default(),
    };
    let options = ModelOptions {
        context_length: Some(ids.len().max(1)),
        threads: args.threads,
        ..base
    };
    let model = load(&args.model, options)?;
    let mut cache = model.new_cache().map_err(err)?;
    let logits = match args.path {
        LogitsPath::Exact | LogitsPath::Fast => {
            model.forward(&mut cache, &ids, Logits::All).map_err(err)?
        }
        LogitsPath::Decode => {
            let mut all = Vec::with_capacity(ids.len() * model.config().vocab_size);
            for &id in &ids {
                all.extend(
                    model
                        .forward(&mut cache, &[id], Logits::Last)
                        .map_err(err)?,
                );
            }
            all
        }
    };
    let rows: Vec<&[f32]> = logits.chunks(model.config().vocab_size).collect();
    if args.json {
        out_json(&json!({ "logits": rows }))
    } else {
        let mut text = String::new();
        for row in rows {
            let vals: Vec<String> = row.iter().map(f32::to_string).collect();
            text.push_str(&vals.join(" "));
            text.push('\n');
        }
        out(&text)
    }
}

pub fn generate(args: &GenerateArgs) -> CmdResult {
    let options = generate_options(&args.sampling, &[]);
    let prompt = &args.prompt;
    let json_mode = args.json;
    let (engine, load_ms) = load_engine(&args.model, &args.load)?;
    let prompt_ids = engine.tokenize(prompt, true).map_err(err)?;
    let reply = stream_reply(!json_mode, |on_text| {
        engine.complete(None, prompt, &options, &CancelToken::new(), on_text)
    })?;
    if json_mode {
        let s = &reply.stats;
        out_json(&json!({
            "prompt_ids": prompt_ids,
            "ids": reply.ids,
            "text": reply.text,
            "finish_reason": reply.finish_reason.as_str(),
            "stats": {
                "prompt_tokens": s.prompt_tokens,
                "generated_tokens": s.generated_tokens,
                "load_ms": load_ms,
                "ttft_ms": s.ttft_ms,
                "prefill_tok_s": s.prefill_tok_s,
                "decode_tok_s": s.decode_tok_s,
            }
        }))
    } else {
        out("\n")
    }
}
