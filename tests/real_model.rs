//! The real Gemma 3 270M (Q4_K_M), against llama.cpp's own outputs recorded by
//! scripts/llama-reference.py: token ids on a varied corpus and greedy continuations.

use std::sync::OnceLock;

use gemkit::{Model, ModelOptions};
use gemkit_tests::{ids, read_json, real_model_path};

/// One load shared by the tests in this file.
fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let options = ModelOptions {
            context_length: Some(1024),
            ..ModelOptions::default()
        };
        Model::load(&real_model_path(), &options).expect("the real model loads")
    })
}

#[test]
fn tokenization_matches_llama_cpp_on_the_corpus() {
    let fixture = read_json("gemma3-270m/tokenize.json");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 40);
    let tok = model().tokenizer();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let add_bos = case["add_bos"].as_bool().expect("add_bos");
        let parse_special = case["parse_special"].as_bool().expect("parse_special");
        let got = tok.encode(text, add_bos, parse_special).expect("encodes");
        assert_eq!(got, ids(&case["ids"]), "text {text:?}");
    }
}
