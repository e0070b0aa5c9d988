//! The memory estimate against what the code allocates. A binary of its own, one test, so the
//! process's resident memory is this test's alone.
//!
//! For each tiny model (each family, F32 and Q8_0) and the real 270M, on the fast and exact
//! paths: a full prefill chunk at the end of the context, decode steps and a sampled token
//! reach every maximum the estimate counts, so each kind of scratch the passes held equals its
//! estimate exactly, and the budget holds the estimate's anonymous figure with one cache alive.
//! The process's RssAnon grows by at most that figure plus a stated slack.
//!
//! And empty chats cost only the pages their caches fill (issue 13): their KV caches are
//! fresh anonymous pages that stay untouched until tokens are written.

use std::sync::Mutex;

use gemkit::{
    CancelToken, ChatOptions, Engine, GenerateOptions, Logits, ModelOptions, Precision,
    ProcessMemory, SamplingParams,
};
use gemkit_tests::{fixture, real_model_path, report, skipped};

/// The tests measure the process's memory, so they run one at a time.
static ALONE: Mutex<()> = Mutex::new(());

/// RssAnon beyond the estimate: the compute threads' and the worker's stacks, the allocator's
/// bookkeeping and the test's own vectors (ids, replies).
const RSS_SLACK: u64 = 4 << 20;

fn check(path: &std::path::Path, precision: Precision, chunk: usize, context: usize) {
    let label = format!(
        "{} {precision:?}",
        path.file_name().unwrap().to_string_lossy()
    );
    let rss_before = ProcessMemory::current().map(|m| m.rss_anon as u64);
    let options = ModelOptions {
        context_length: Some(context),
        prefill_chunk: chunk,
        threads: Some(2),
        precision,
        ..ModelOptions::default()
    };
    let engine = Engine::load(path, &options).unwrap();
    let model = engine.model().unwrap();
    let model = &*model;
    let estimate = model.memory_estimate().clone();
    assert_eq!(
        model.memory_in_use(),
        estimate.fixed_bytes + estimate.scratch_bytes,
        "{label}: the budget holds the model's share at load"
    );

    // The whole context in chunks: the last is a full chunk whose last query sees every key.
    let vocab = model.config().vocab_size as u32;
    let ids: Vec<u32> = (0..context as u32)
        .map(|i| 1 + (i * 7919) % (vocab - 1))
        .collect();
    let mut cache = model.new_cache().unwrap();
    assert_eq!(
        model.memory_in_use(),
        estimate.anonymous_bytes,
        "{label}: one cache alive"
    );
    model.forward(&mut cache, &ids, Logits::Last).unwrap();
    drop(cache);
    // Decode: one token at a time.
    let mut cache = model.new_cache().unwrap();
    for &id in &ids[..4] {
        model.forward(&mut cache, &[id], Logits::Last).unwrap();
    }
    drop(cache);
    // Sampling over the whole vocabulary.
    let options = GenerateOptions {
        max_tokens: 2,
        sampling: SamplingParams {
            temperature: 1.0,
            top_k: 0,
            seed: 7,
            ..SamplingParams::default()
        },
        ..GenerateOptions::default()
    };
    engine
        .complete(None, "Hi", &options, &CancelToken::new(), &mut |_| {})
        .unwrap();

    for kind in model.scratch_use() {
        assert_eq!(
            kind.high_water_bytes, kind.estimated_bytes,
            "{label}: {} scratch held against its estimate",
            kind.kind
        );
    }
    let total: u64 = model.scratch_use().iter().map(|k| k.estimated_bytes).sum();
    assert_eq!(total, estimate.scratch_bytes, "{label}: the kinds add up");

    if let (Some(before), Some(after)) = (rss_before, ProcessMemory::current()) {
        let grown = (after.rss_anon as u64).saturating_sub(before);
        println!(
            "{label}: RssAnon grew {:.1} MB, estimate {:.1} MB (tokenizer {:.1}, scratch {:.1}, cache {:.1})",
            grown as f64 / 1e6,
            estimate.anonymous_bytes as f64 / 1e6,
            estimate.fixed_bytes as f64 / 1e6,
            estimate.scratch_bytes as f64 / 1e6,
            estimate.kv_cache_bytes as f64 / 1e6,
        );
        assert!(
            grown <= estimate.anonymous_bytes + RSS_SLACK,
            "{label}: RssAnon grew {grown} bytes, past the estimate {} plus {RSS_SLACK}",
            estimate.anonymous_bytes
        );
    }
}

#[test]
fn the_estimate_is_what_the_passes_allocate() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    for name in [
        "gemma-f32.gguf",
        "gemma-q8_0.gguf",
        "gemma2-f32.gguf",
        "gemma2-q8_0.gguf",
        "gemma3-f32.gguf",
        "gemma3-q8_0.gguf",
    ] {
        for precision in [Precision::Fast, Precision::Exact] {
            check(&fixture(&format!("tiny/{name}")), precision, 16, 64);
        }
    }
    check(&real_model_path(), Precision::Fast, 128, 512);
}

/// What an empty chat may add to RssAnon: its cache's bookkeeping, the opening's tokens, and
/// the pages the first position's keys and values touch (18 layers × 2 × 4 KiB on the 270M).
const EMPTY_CHAT_SLACK: u64 = 1 << 20;

#[test]
fn empty_chats_cost_only_the_pages_they_fill() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    if ProcessMemory::current().is_none() {
        return skipped("no /proc/self/status: RssAnon cannot be read here");
    }
    let rss = || ProcessMemory::current().unwrap().rss_anon as u64;
    let options = ModelOptions {
        context_length: Some(512),
        ..ModelOptions::default()
    };
    let engine = Engine::load(&real_model_path(), &options).unwrap();
    let kv_cache_bytes = engine.model().unwrap().memory_estimate().kv_cache_bytes;
    let loaded = rss();
    // A first chat dropped again, so what the engine keeps after its first chat is in the base.
    drop(engine.new_chat(&ChatOptions::default()).unwrap());
    let base = rss();
    let mut chats = Vec::new();
    let mut costs = Vec::new();
    for n in [1, 8] {
        chats.resize_with(n, || engine.new_chat(&ChatOptions::default()).unwrap());
        let each = rss().saturating_sub(base) / n as u64;
        report(format_args!(
            "{n} empty chat(s) at context 512: RssAnon +{:.1} kB each ({:.1} MB after load; a cache reserves {:.1} MB)",
            each as f64 / 1e3,
            loaded as f64 / 1e6,
            kv_cache_bytes as f64 / 1e6,
        ));
        costs.push((n, each));
    }
    drop(chats);
    report(format_args!(
        "after dropping them: RssAnon {:.1} MB",
        rss() as f64 / 1e6
    ));
    for (n, each) in costs {
        assert!(
            each <= EMPTY_CHAT_SLACK,
            "{n} empty chats cost {each} bytes of RssAnon each, past {EMPTY_CHAT_SLACK}"
        );
    }
}
