//! Tampered saved chats (issue 13): every length field of a real chat file set to hostile
//! values, truncation at every 1/50th (and at every byte of the header), and seeded random
//! flips. Each is refused as an `InvalidChatFile`, or restores into a chat whose next turn runs
//! (or finds the context full): never a panic, never another error. On the tiny Gemma 3 model.

use std::path::{Path, PathBuf};

use gemkit::{CancelToken, ChatOptions, Engine, Error, GenerateOptions, ModelOptions};
use gemkit::{SamplingParams, WhenBusy};
use gemkit_tests::corrupt::temp_dir;
use gemkit_tests::{fixture, report, Rng};

fn greedy(max_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampling: SamplingParams::greedy(),
        when_busy: WhenBusy::Wait,
        ..GenerateOptions::default()
    }
}

/// An engine and the bytes of one of its chats with a system prompt and two turns.
fn saved_chat(dir: &Path) -> (Engine, Vec<u8>) {
    let engine = Engine::load(&fixture("tiny/gemma3-q8_0.gguf"), &ModelOptions::default()).unwrap();
    let options = ChatOptions {
        system: Some("Be brief.".into()),
        ..ChatOptions::default()
    };
    let chat = engine.new_chat(&options).unwrap();
    for message in ["Hi", "Count to three"] {
        let cancel = CancelToken::new();
        chat.send(message, &greedy(6), &cancel, &mut |_| {})
            .unwrap();
    }
    let path = dir.join("saved.gkchat");
    chat.save(&path).unwrap();
    (engine, std::fs::read(path).unwrap())
}

/// Restores `bytes`: refused as an invalid chat file, or a chat whose next turn runs. Returns
/// whether it restored.
fn restore(engine: &Engine, dir: &Path, bytes: &[u8], label: &str) -> bool {
    let path: PathBuf = dir.join("case.gkchat");
    std::fs::write(&path, bytes).unwrap();
    match engine.restore_chat(&path) {
        Err(Error::InvalidChatFile { .. }) => false,
        Err(e) => panic!("{label}: {e:?} is not an InvalidChatFile"),
        Ok(chat) => {
            let turn = chat.send("Again", &greedy(2), &CancelToken::new(), &mut |_| {});
            assert!(
                matches!(turn, Ok(_) | Err(Error::ContextFull { .. })),
                "{label}: the restored chat's turn gave {turn:?}"
            );
            true
        }
    }
}

/// Where each length and count of a chat file lies (width and offset), walking the layout
/// `api/snapshot.rs` writes: magic, version, fingerprint, KV type, layers, row bytes, system
/// prompt, policy, messages, tokens, then each layer's rows.
fn length_fields(b: &[u8]) -> Vec<(usize, usize, String)> {
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let mut fields = vec![
        (16, 1, "KV type".into()),
        (17, 4, "layers".into()),
        (21, 4, "row bytes".into()),
    ];
    let (layers, row_bytes) = (u32_at(17), u32_at(21));
    let mut pos = 25;
    if b[pos] == 1 {
        fields.push((pos + 1, 4, "system prompt length".into()));
        pos += 4 + u32_at(pos + 1);
    }
    pos += 2;
    fields.push((pos, 4, "message count".into()));
    let n_messages = u32_at(pos);
    pos += 4;
    for i in 0..n_messages {
        fields.push((pos + 1, 4, format!("length of message {i}")));
        pos += 5 + u32_at(pos + 1);
    }
    fields.push((pos, 4, "token count".into()));
    pos += 4 + 4 * u32_at(pos);
    fields.push((pos, 8, "KV length".into()));
    pos += 8;
    for il in 0..layers {
        fields.push((pos, 8, format!("first position of layer {il}")));
        fields.push((pos + 8, 4, format!("rows of layer {il}")));
        pos += 12 + 2 * row_bytes * u32_at(pos + 8);
    }
    assert_eq!(pos, b.len(), "the walk ends at the end of the file");
    fields
}

#[test]
fn every_length_field_of_a_chat_file_set_to_hostile_values_is_refused_or_restores() {
    let dir = temp_dir("chat-fields");
    let (engine, saved) = saved_chat(&dir);
    let fields = length_fields(&saved);
    let (mut cases, mut restored) = (0, 0);
    for (at, width, what) in &fields {
        let original = saved[*at..at + width]
            .iter()
            .rev()
            .fold(0u64, |v, &b| v << 8 | b as u64);
        let max = u64::MAX >> (64 - 8 * width);
        for value in [
            0,
            original + 1,
            original.wrapping_sub(1) & max,
            max,
            max / 2,
            1 << (8 * width - 1),
        ] {
            if value == original {
                continue;
            }
            let mut bytes = saved.clone();
            bytes[*at..at + width].copy_from_slice(&value.to_le_bytes()[..*width]);
            restored += usize::from(restore(&engine, &dir, &bytes, &format!("{what} = {value}")));
            cases += 1;
        }
    }
    report(format_args!(
        "chat files: {} length fields, {cases} cases, {restored} restored and ran",
        fields.len()
    ));
    assert!(restore(&engine, &dir, &saved, "the file as saved"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_chat_file_cut_anywhere_is_an_invalid_chat_file() {
    let dir = temp_dir("chat-cuts");
    let (engine, saved) = saved_chat(&dir);
    let cuts = (0..64).chain((1..50).map(|i| saved.len() * i / 50));
    for cut in cuts {
        assert!(
            !restore(&engine, &dir, &saved[..cut], &format!("cut at {cut}")),
            "cut at {cut} restored"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn random_flips_in_a_chat_file_are_refused_or_restore() {
    let dir = temp_dir("chat-flips");
    let (engine, saved) = saved_chat(&dir);
    let mut rng = Rng::new(7);
    let (cases, mut restored) = (400, 0);
    for case in 0..cases {
        let mut bytes = saved.clone();
        // Half the cases aim at the header, messages and tokens, where the lengths are.
        let span = if case % 2 == 0 {
            saved.len()
        } else {
            saved.len().min(256)
        };
        for _ in 0..1 + rng.below(4) {
            bytes[rng.below(span)] ^= 1 << rng.below(8);
        }
        restored += usize::from(restore(&engine, &dir, &bytes, &format!("case {case}")));
    }
    report(format_args!(
        "chat files: {cases} random flips, {restored} restored and ran"
    ));
    std::fs::remove_dir_all(dir).ok();
}
