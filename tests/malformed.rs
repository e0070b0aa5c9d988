//! Hostile and broken files: every corruption of a real GGUF file must give its own typed
//! error (the `gemkit::Error` variant and a fragment of the message), never a crash, while
//! the same file uncorrupted, written the same way, loads. (The CLI's side is in
//! core/cli/tests/cli.rs; random and exhaustive damage is in hostile.rs.)

use std::path::Path;

use gemkit::{Model, ModelOptions};
use gemkit_tests::corrupt::{corruptions, map, temp_dir};
use gemkit_tests::{fixture, real_model_path};

/// Each corruption of `source` fails as it names; the intact image loads.
fn check_library(source: &Path, tag: &str) {
    let m = map(&std::fs::read(source).expect("model file"));
    let dir = temp_dir(tag);
    let intact = m.intact().write(&dir, "intact");
    if let Err(e) = Model::load(&intact, &ModelOptions::default()) {
        panic!("{tag}: the uncorrupted image (header, data as a hole) fails to load: {e}");
    }
    let cases = corruptions(&m);
    assert!(cases.len() >= 25);
    for case in &cases {
        let path = case.image.write(&dir, &case.name);
        match Model::load(&path, &ModelOptions::default()) {
            Ok(_) => panic!("{tag}: {}: loaded a corrupt file", case.name),
            Err(e) => assert!(
                case.expect.matches(&e),
                "{tag}: {}: {e:?} is not {} mentioning {:?}",
                case.name,
                case.expect.variant,
                case.expect.fragment
            ),
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn corrupt_tiny_model_gives_typed_errors() {
    check_library(&fixture("tiny/gemma3-q8_0.gguf"), "tiny");
}

/// The real 270M model: its 5 MB header (the tokenizer is most of it) is written, and its
/// 250 MB of tensor data is a hole, so that each copy costs only the header.
#[test]
fn corrupt_real_model_header_gives_typed_errors() {
    check_library(&real_model_path(), "real");
}

#[test]
fn a_missing_or_broken_tokenizer_json_is_a_typed_error() {
    let dir = temp_dir("tokenizer-json");
    let broken = dir.join("tokenizer.json");
    std::fs::write(&broken, b"{ not json").unwrap();
    for json in [dir.join("absent.json"), broken] {
        let options = ModelOptions {
            tokenizer_json: Some(json.clone()),
            ..ModelOptions::default()
        };
        let err = Model::load(&fixture("tiny/gemma-f32.gguf"), &options)
            .err()
            .expect("a broken tokenizer.json does not load");
        assert!(
            matches!(err, gemkit::Error::Tokenizer(_)),
            "{err:?} is not a tokenizer error"
        );
        assert!(err.to_string().contains("cannot load tokenizer"), "{err}");
    }
    std::fs::remove_dir_all(dir).ok();
}
