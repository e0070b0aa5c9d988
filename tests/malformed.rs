//! Hostile and broken files: every corruption of a real GGUF file must give a typed error
//! naming what is wrong, never a crash. (The CLI's side is in core/cli/tests/cli.rs.)

use std::path::Path;

use gemkit::gguf::Gguf;
use gemkit::{Model, ModelOptions};
use gemkit_tests::corrupt::{corruptions, map, map_prefix, mentions, temp_dir, write_temp};
use gemkit_tests::{fixture, real_model_path};

fn check_library(source: &Path, tag: &str) {
    let m = map(std::fs::read(source).expect("fixture"));
    let dir = temp_dir(tag);
    let cases = corruptions(&m);
    assert!(cases.len() >= 25);
    for (name, bytes, expect) in &cases {
        let path = write_temp(&dir, name, bytes);
        match Model::load(&path, &ModelOptions::default()) {
            Ok(_) => panic!("{tag}: {name}: loaded a corrupt file"),
            Err(e) => assert!(
                mentions(&e.to_string(), expect),
                "{tag}: {name}: error {e:?} does not mention {expect:?}"
            ),
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn corrupt_tiny_model_gives_typed_errors() {
    check_library(&fixture("tiny/gemma3-q8_0.gguf"), "tiny");
}

/// The real 270M model: only its header is copied (corruptions past it truncate there).
#[test]
fn corrupt_real_model_header_gives_typed_errors() {
    let real = std::fs::read(real_model_path()).expect("real model");
    let data_start = Gguf::parse(&real[..]).expect("valid").layout.data_start;
    // Corruptions of the header plus the first page of data: every case must still fail.
    let dir = temp_dir("real");
    let m = map_prefix(&real, data_start + 4096);
    for (name, bytes, _) in corruptions(&m) {
        let path = write_temp(&dir, &name, &bytes);
        assert!(
            Model::load(&path, &ModelOptions::default()).is_err(),
            "real: {name}: loaded"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_missing_or_broken_tokenizer_json_is_a_typed_error() {
    let dir = temp_dir("tokenizer-json");
    let broken = write_temp(&dir, "tokenizer", b"{ not json");
    for json in [dir.join("absent.json"), broken] {
        let options = ModelOptions {
            tokenizer_json: Some(json.clone()),
            ..ModelOptions::default()
        };
        let err = Model::load(&fixture("tiny/gemma-f32.gguf"), &options)
            .err()
            .expect("a broken tokenizer.json does not load");
        assert!(err.to_string().contains("cannot load tokenizer"), "{err}");
    }
    std::fs::remove_dir_all(dir).ok();
}
