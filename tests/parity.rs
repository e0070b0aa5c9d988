//! Tiny random Gemma, Gemma 2 and Gemma 3 models made with transformers and converted by
//! llama.cpp's own converter (scripts/make-tiny-models.py): our logits must match
//! transformers' at every position, and greedy decoding must match for F32 and Q8_0 files.

use gemkit::{KvType, Logits, Model, ModelOptions};
use gemkit_tests::{fixture, greedy, ids, max_abs_diff, read_json, rows};

const MODELS: &[&str] = &["gemma", "gemma2", "gemma3", "gemma3-scaled"];

/// Every row of `logits` within 2e-3 of transformers' logits for the same positions.
fn assert_matches_transformers(
    name: &str,
    model: &Model,
    logits: &[f32],
    expected: &serde_json::Value,
) {
    let want = rows(&expected["logits"]);
    for (pos, (got, want)) in logits
        .chunks(model.config().vocab_size)
        .zip(&want)
        .enumerate()
    {
        let diff = max_abs_diff(got, want);
        assert!(diff < 2e-3, "{name}: position {pos} differs by {diff}");
    }
}

fn load(name: &str, quant: &str, options: ModelOptions) -> Model {
    let path = fixture(&format!("tiny/{name}-{quant}.gguf"));
    Model::load(&path, &options).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn f32_logits_match_transformers_at_every_position() {
    for name in MODELS {
        let expected = read_json(&format!("tiny/{name}.json"));
        let input = ids(&expected["input_ids"]);
        let model = load(name, "f32", ModelOptions::reference());
        let mut cache = model.new_cache().unwrap();
        let logits = model.forward(&mut cache, &input, Logits::All).unwrap();
        assert_matches_transformers(name, &model, &logits, &expected);
    }
}

#[test]
fn chunked_prefill_at_any_position_matches_one_pass() {
    for name in MODELS {
        let expected = read_json(&format!("tiny/{name}.json"));
        let input = ids(&expected["input_ids"]);
        let model = load(name, "f32", ModelOptions::reference());
        let mut cache = model.new_cache().unwrap();
        let whole = model.forward(&mut cache, &input, Logits::All).unwrap();
        let mut cache = model.new_cache().unwrap();
        let mut pieces = Vec::new();
        for part in [&input[..5], &input[5..6], &input[6..17], &input[17..]] {
            pieces.extend(model.forward(&mut cache, part, Logits::All).unwrap());
        }
        let diff = max_abs_diff(&whole, &pieces);
        assert!(diff < 1e-4, "{name}: chunked logits differ by {diff}");
    }
}

/// With 3-token prefill steps, each sliding layer's ring holds window + 2 positions, so the
/// sequence wraps it several times; logits must not notice.
#[test]
fn sliding_window_rings_wrap_without_changing_logits() {
    for name in ["gemma2", "gemma3"] {
        let expected = read_json(&format!("tiny/{name}.json"));
        let input = ids(&expected["input_ids"]);
        let options = ModelOptions {
            prefill_chunk: 3,
            ..ModelOptions::reference()
        };
        let model = load(name, "f32", options);
        let window = model.config().layers.iter().find_map(|l| l.window).unwrap();
        assert!(input.len() > 2 * (window + 2), "{name}: the ring must wrap");
        let mut cache = model.new_cache().unwrap();
        let logits = model.forward(&mut cache, &input, Logits::All).unwrap();
        assert_matches_transformers(name, &model, &logits, &expected);
    }
}

/// Attention splits its work by the thread count: with fewer tokens × KV heads than threads
/// it cuts the keys and the outputs into parts (decode, and here 2-token steps on 5 threads),
/// otherwise it gives each task whole rows. The logits keep the same bits on any thread
/// count, f16 and f32 caches, through the sliding rings' wraps and Gemma 2's soft cap.
#[test]
fn logits_do_not_depend_on_the_thread_count() {
    for name in MODELS {
        let input = ids(&read_json(&format!("tiny/{name}.json"))["input_ids"]);
        for kv_type in [KvType::F16, KvType::F32] {
            let logits = |threads: usize| {
                let options = ModelOptions {
                    threads: Some(threads),
                    kv_type,
                    prefill_chunk: 4,
                    ..ModelOptions::default()
                };
                // F32 weights: 8-bit activations would round away a change in attention's bits.
                let model = load(name, "f32", options);
                let mut cache = model.new_cache().unwrap();
                let (prompt, rest) = input.split_at(7);
                let mut all = model.forward(&mut cache, prompt, Logits::All).unwrap();
                for token in rest {
                    all.extend(model.forward(&mut cache, &[*token], Logits::All).unwrap());
                }
                for pair in rest.chunks_exact(2).take(3) {
                    all.extend(model.forward(&mut cache, pair, Logits::All).unwrap());
                }
                all
            };
            let one = logits(1);
            for threads in [2, 3, 5] {
                let differs = logits(threads)
                    .iter()
                    .zip(&one)
                    .position(|(a, b)| a.to_bits() != b.to_bits());
                assert_eq!(
                    differs, None,
                    "{name}, {kv_type:?} cache, {threads} threads"
                );
            }
        }
    }
}

/// The fast path (8-bit activations for Q8_0) with an f32 KV cache, as llama.cpp recorded its
/// own greedy ids. (An f16 cache flips the tiny Gemma 3's step 8, where the top two logits
/// are 0.09 apart: that is the cache's rounding, not the weights'.)
#[test]
fn greedy_ids_match_transformers_for_f32_and_q8_0() {
    for name in MODELS {
        let expected = read_json(&format!("tiny/{name}.json"));
        let prompt = ids(&expected["greedy"]["prompt_ids"]);
        let want = ids(&expected["greedy"]["ids"]);
        assert_eq!(
            want,
            ids(&expected["llama_cpp"]["q8_0"]["greedy_ids"]),
            "{name}: references agree"
        );
        for quant in ["f32", "q8_0"] {
            let options = ModelOptions {
                kv_type: KvType::F32,
                ..ModelOptions::default()
            };
            let model = load(name, quant, options);
            let got = greedy(&model, &mut model.new_cache().unwrap(), &prompt, want.len());
            assert_eq!(got, want, "{name} {quant}");
        }
    }
}

/// Q8_0 weights cannot match f32 logits exactly; the bar is llama.cpp's own error on the
/// same file, measured against the same transformers logits. Ours is at or below it on every
/// model (0.2858 against 0.2861 on gemma, 0.7048 against 0.7399 on gemma3, with AVX2 and the
/// portable kernels alike); 0.01 allows for other kernel families' summation orders, which on
/// these two-layer models move the worst logit by far less.
#[test]
fn q8_0_logits_are_as_close_to_transformers_as_llama_cpp() {
    for name in MODELS {
        let expected = read_json(&format!("tiny/{name}.json"));
        let input = ids(&expected["input_ids"]);
        let reference = rows(&expected["logits"]);
        let llama = rows(&expected["llama_cpp"]["q8_0"]["logits"]);
        let model = load(name, "q8_0", ModelOptions::default());
        let logits = model
            .forward(&mut model.new_cache().unwrap(), &input, Logits::All)
            .unwrap();
        let worst = |rows: &mut dyn Iterator<Item = &[f32]>| {
            rows.zip(&reference)
                .map(|(got, want)| max_abs_diff(got, want))
                .fold(0f32, f32::max)
        };
        let ours = worst(&mut logits.chunks(model.config().vocab_size));
        let theirs = worst(&mut llama.iter().map(Vec::as_slice));
        println!("{name}: Q8_0 logits off transformers' by {ours:.4} at most, llama.cpp's by {theirs:.4}");
        assert!(
            ours <= theirs + 0.01,
            "{name}: Q8_0 logits off by {ours}, llama.cpp's by {theirs}"
        );
    }
}
