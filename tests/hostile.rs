//! Hostile files keep hunting (issue 13): the exact mutation that once overflowed, every length
//! field set to hostile values, truncation at every 1/50th of a file, and seeded random flips.
//! Whatever the damage, loading gives a typed error or a model that runs: never a panic. (The
//! named corruptions, each with its own error, are in malformed.rs.)

use gemkit::gguf::GgufError;
use gemkit::{Error, Logits, Model, ModelOptions};
use gemkit_tests::corrupt::{length_fields, map, temp_dir, FileImage, Map};
use gemkit_tests::{fixture, real_model_path, Rng};

/// The errors a damaged model file may give: each says what in the file is wrong (or that its
/// sizes are past any memory), none is an internal error.
fn is_file_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Gguf(_)
            | Error::UnsupportedArchitecture(_)
            | Error::MissingTensor(_)
            | Error::TensorShape { .. }
            | Error::InvalidMetadata { .. }
            | Error::Tokenizer(_)
            | Error::OutOfMemory { .. }
    )
}

/// Loads `image`; a model that loads must also run a token. Returns whether it loaded.
fn load_or_typed_error(dir: &std::path::Path, image: &FileImage, label: &str) -> bool {
    let path = image.write(dir, "case");
    match Model::load(&path, &ModelOptions::default()) {
        Ok(model) => {
            let mut cache = model.new_cache().unwrap();
            model.forward(&mut cache, &[0], Logits::Last).unwrap();
            true
        }
        Err(e) => {
            assert!(
                is_file_error(&e),
                "{label}: {e:?} is not a typed file error"
            );
            false
        }
    }
}

fn tiny_map() -> Map {
    map(&std::fs::read(fixture("tiny/gemma3-q8_0.gguf")).unwrap())
}

/// Issue 13, finding 3, byte for byte: `output_norm.weight`'s first dimension (bytes
/// 16419..=16426 of the tiny Gemma 3 Q8_0 fixture) set to 2^62 multiplied past u64 in the row
/// size ("attempt to multiply with overflow"); now the shape is refused by name.
#[test]
fn the_issue_s_2_62_dimension_is_a_typed_error() {
    let mut bytes = std::fs::read(fixture("tiny/gemma3-q8_0.gguf")).unwrap();
    assert_eq!(&bytes[16397..16415], b"output_norm.weight");
    assert_eq!(bytes[16419..16427], 96u64.to_le_bytes());
    bytes[16419..16427].copy_from_slice(&(1u64 << 62).to_le_bytes());
    let dir = temp_dir("issue-13-dim");
    let path = dir.join("dim.gguf");
    std::fs::write(&path, &bytes).unwrap();
    for result in [
        Model::load(&path, &ModelOptions::default()).map(|_| ()),
        Model::estimate_memory(&path, &ModelOptions::default()).map(|_| ()),
    ] {
        match result {
            Err(Error::Gguf(GgufError::BadShape { tensor, reason })) => {
                assert_eq!(tensor, "output_norm.weight");
                assert_eq!(reason, "a row of 4611686018427387904 elements overflows");
            }
            other => panic!("expected a BadShape error, got {other:?}"),
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Values a hostile length field takes: off by one either way, zero, and the powers of two
/// where sizes overflow.
fn hostile_values(original: u64, width: usize) -> Vec<u64> {
    let max = if width == 4 {
        u32::MAX as u64
    } else {
        u64::MAX
    };
    let mut values = vec![
        0,
        original.wrapping_add(1) & max,
        original.wrapping_sub(1) & max,
        1 << 31,
        max,
        max / 3,
    ];
    if width == 8 {
        values.extend([1 << 32, 1 << 62, 1 << 63]);
    }
    values.retain(|&v| v != original);
    values
}

#[test]
fn every_length_field_set_to_hostile_values_is_refused_or_runs() {
    let m = tiny_map();
    let dir = temp_dir("length-fields");
    let fields = length_fields(&m);
    assert!(fields.len() > 100, "{} fields", fields.len());
    let (mut cases, mut loaded) = (0, 0);
    for f in &fields {
        let intact = m.intact();
        let bytes = &intact.header[f.at..f.at + f.width];
        let original = match f.width {
            4 => u32::from_le_bytes(bytes.try_into().unwrap()) as u64,
            _ => u64::from_le_bytes(bytes.try_into().unwrap()),
        };
        for value in hostile_values(original, f.width) {
            let mut image = m.intact();
            image.put(f.at, &value.to_le_bytes()[..f.width]);
            let label = format!("{} = {value}", f.what);
            loaded += usize::from(load_or_typed_error(&dir, &image, &label));
            cases += 1;
        }
    }
    gemkit_tests::report(format_args!(
        "{} length fields, {cases} cases, {loaded} loaded and ran",
        fields.len()
    ));
    std::fs::remove_dir_all(dir).ok();
}

/// Cut at every 1/50th: in the header the read stops where the file does, past it the tensors
/// lie outside the file; either way a typed error naming it.
fn check_truncations(m: &Map, tag: &str) {
    let dir = temp_dir(tag);
    for i in 1..50 {
        let cut = m.len() * i / 50;
        let mut image = m.intact();
        image.truncate(cut);
        let path = image.write(&dir, "cut");
        let e = Model::load(&path, &ModelOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{tag}: cut at {cut} loaded"));
        let typed = if cut < m.data_start() {
            matches!(
                e,
                Error::Gguf(GgufError::Truncated { .. } | GgufError::CountTooLarge { .. })
            )
        } else {
            matches!(e, Error::Gguf(GgufError::TensorOutOfBounds { .. }))
        };
        assert!(typed, "{tag}: cut at {cut} of {}: {e:?}", m.len());
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn truncation_at_every_fiftieth_is_a_typed_error() {
    check_truncations(&tiny_map(), "fiftieths-tiny");
    let real = std::fs::read(real_model_path()).unwrap();
    check_truncations(&map(&real), "fiftieths-real");
}

/// Seeded random damage to the whole tiny file, data included: a few bits flipped, or a
/// random 8-byte window of the header overwritten.
#[test]
fn random_flips_are_refused_or_run() {
    let bytes = std::fs::read(fixture("tiny/gemma3-q8_0.gguf")).unwrap();
    let m = map(&bytes);
    let dir = temp_dir("flips");
    let mut rng = Rng::new(13);
    let (cases, mut loaded) = (600, 0);
    for case in 0..cases {
        let mut image = FileImage {
            header: bytes.clone(),
            len: bytes.len(),
        };
        let label = if case % 2 == 0 {
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                let at = rng.below(bytes.len());
                image.header[at] ^= 1 << rng.below(8);
            }
            format!("case {case}: {flips} bits flipped")
        } else {
            let at = rng.below(m.data_start() - 8);
            image.put(at, &rng.next_u64().to_le_bytes());
            format!("case {case}: 8 bytes at {at} overwritten")
        };
        loaded += usize::from(load_or_typed_error(&dir, &image, &label));
    }
    gemkit_tests::report(format_args!(
        "{cases} random damages, {loaded} loaded and ran"
    ));
    std::fs::remove_dir_all(dir).ok();
}
