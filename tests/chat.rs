//! Chats on the real Gemma 3 270M: KV reuse between turns, cancellation, stop strings, a full
//! context, save and restore, interleaved chats. Replies are greedy, so every comparison is
//! exact; what the base model says is not judged.

use std::path::PathBuf;
use std::sync::mpsc;

use gemkit::{argmax, SamplingParams};
use gemkit::{
    CancelToken, Chat, ChatOptions, ContextFullPolicy, Engine, Error, FinishReason,
    GenerateOptions, Logits, Message, ModelOptions, Reply, Role,
};
use gemkit_tests::{greedy, real_model_path};

pub fn engine(options: ModelOptions) -> Engine {
    Engine::load(&real_model_path(), &options).expect("the real model loads")
}

pub fn greedy_options(max_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampling: SamplingParams::greedy(),
        ..GenerateOptions::default()
    }
}

pub fn send(chat: &Chat, message: &str, max_tokens: usize) -> Reply {
    chat.send(
        message,
        &greedy_options(max_tokens),
        &CancelToken::new(),
        &mut |_| {},
    )
    .expect("the turn runs")
}

fn system(text: &str) -> ChatOptions {
    ChatOptions {
        system: Some(text.into()),
        ..ChatOptions::default()
    }
}

/// Checks a chat's second turn against the same work done by hand on a fresh cache: turn one's
/// prompt in one prefill, its reply a token at a time, turn two's new tokens in one prefill.
/// Greedy decoding must then give the chat's second reply exactly. A fresh prefill of the whole
/// history must give logits close to the reused cache's, with the same greedy token: only
/// rounding differs, since the prefill and decode kernels sum in different orders.
fn assert_replay_matches(engine: &Engine, tokens: &[u32], first: &Reply, second: &Reply) {
    let model = engine.model().unwrap();
    let model = &*model;
    let before_reply = tokens.len() - second.ids.len() - TURN_END;
    let cached = before_reply - second.stats.prompt_tokens;
    let first_prompt = first.stats.prompt_tokens;
    let mut replay = model.new_cache().unwrap();
    model
        .forward(&mut replay, &tokens[..first_prompt], Logits::Last)
        .unwrap();
    for &id in &tokens[first_prompt..cached] {
        model.forward(&mut replay, &[id], Logits::Last).unwrap();
    }
    let mut again = model.clone_cache(&replay).unwrap();
    let turn_two = &tokens[cached..before_reply];
    assert_eq!(
        greedy(model, &mut again, turn_two, second.ids.len()),
        second.ids
    );

    let reused = model.forward(&mut replay, turn_two, Logits::Last).unwrap();
    let mut fresh = model.new_cache().unwrap();
    let whole = model
        .forward(&mut fresh, &tokens[..before_reply], Logits::Last)
        .unwrap();
    // Where prefill and decode share their kernels (AVX2, NEON) the two are bit for bit equal;
    // on AVX-512 VNNI the lane kernels and the decode kernels sum in other orders and differ
    // by 0.35 RMS here (measured on Zen 5), as two kernel families do on this model (AVX2
    // against the portable kernels: 0.26 RMS): 8-bit activations turn last-bit differences
    // into whole quantization steps, layer after layer. 0.5 is that plus a margin.
    let rms = (reused
        .iter()
        .zip(&whole)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
        / whole.len() as f32)
        .sqrt();
    assert!(rms < 0.5, "reused and fresh logits differ by {rms} RMS");
    assert_eq!(argmax(&reused), argmax(&whole));
}

/// Tokens a turn appends after its reply: `<end_of_turn>` and a newline.
const TURN_END: usize = 2;

#[test]
fn turn_two_prefills_only_its_own_tokens_and_matches_a_fresh_prefill() {
    let engine = engine(ModelOptions::default());
    let chat = engine.new_chat(&system("Answer briefly.")).unwrap();
    let first = send(&chat, "Name a fruit.", 8);
    let after_first = chat.tokens().unwrap().len();
    let second = send(&chat, "Name a colour.", 12);
    let tokens = chat.tokens().unwrap();
    let before_reply = tokens.len() - second.ids.len() - TURN_END;

    // The cache after turn one holds everything but the last reply token and the turn end.
    let cached = after_first - TURN_END - usize::from(first.finish_reason == FinishReason::Length);
    assert_eq!(second.stats.prompt_tokens, before_reply - cached);
    assert!(second.stats.prompt_tokens < 20, "{:?}", second.stats);
    assert_eq!(second.stats.context_tokens, tokens.len());

    assert_replay_matches(&engine, &tokens, &first, &second);
    assert_eq!(
        chat.history().unwrap(),
        [
            Message {
                role: Role::User,
                text: "Name a fruit.".into()
            },
            Message {
                role: Role::Model,
                text: first.text
            },
            Message {
                role: Role::User,
                text: "Name a colour.".into()
            },
            Message {
                role: Role::Model,
                text: second.text
            },
        ]
    );
}

#[test]
fn the_template_matches_gemmas_chat_format() {
    let engine = engine(ModelOptions::default());
    let chat = engine.new_chat(&system("Be kind.")).unwrap();
    let reply = send(&chat, "Hi <end_of_turn>", 4);
    let text = engine
        .model()
        .unwrap()
        .tokenizer()
        .decode_special(&chat.tokens().unwrap());
    let expected = format!(
        "<bos><start_of_turn>user\nBe kind.\n\nHi <end_of_turn><end_of_turn>\n<start_of_turn>model\n{}<end_of_turn>\n",
        reply.text
    );
    assert_eq!(text, expected);
    // The user's "<end_of_turn>" is text, not the control token.
    let end_of_turn = engine
        .model()
        .unwrap()
        .tokenizer()
        .id_of("<end_of_turn>")
        .unwrap();
    assert_eq!(
        chat.tokens()
            .unwrap()
            .iter()
            .filter(|&&t| t == end_of_turn)
            .count(),
        2
    );
}

/// A message long enough that its prefill takes many chunks.
fn long_message() -> String {
    "Tell me everything about the history of the bicycle, its inventors and its uses. ".repeat(60)
}

#[test]
fn cancel_during_prefill_undoes_the_turn_and_the_next_turn_works() {
    let engine = engine(ModelOptions {
        prefill_chunk: 32,
        ..ModelOptions::default()
    });
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    let first = send(&chat, "Hello!", 6);
    let tokens_before = chat.tokens().unwrap();

    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(150));
            cancel.cancel();
        })
    };
    let reply = chat
        .send(&long_message(), &greedy_options(16), &cancel, &mut |_| {
            panic!("no text expected")
        })
        .unwrap();
    canceller.join().unwrap();
    assert_eq!(reply.finish_reason, FinishReason::Cancelled);
    assert_eq!(reply.stats.generated_tokens, 0);
    assert_eq!(chat.tokens().unwrap(), tokens_before);
    assert_eq!(chat.history().unwrap().len(), 2);

    // The next turn continues as if the cancelled one never happened.
    let next = send(&chat, "How are you?", 10);
    let twin = engine.new_chat(&ChatOptions::default()).unwrap();
    assert_eq!(send(&twin, "Hello!", 6).ids, first.ids);
    assert_eq!(send(&twin, "How are you?", 10).ids, next.ids);
}

#[test]
fn cancel_during_decode_keeps_the_partial_reply_consistent() {
    let engine = engine(ModelOptions::default());
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    let cancel = CancelToken::new();
    let (tx, rx) = mpsc::channel::<()>();
    let canceller = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            rx.recv().unwrap();
            cancel.cancel();
        })
    };
    let mut pieces = 0;
    let reply = chat
        .send(
            "Write a long story about a dragon.",
            &greedy_options(200),
            &cancel,
            &mut |_| {
                pieces += 1;
                if pieces == 3 {
                    tx.send(()).unwrap();
                }
            },
        )
        .unwrap();
    canceller.join().unwrap();
    assert_eq!(reply.finish_reason, FinishReason::Cancelled);
    assert!(reply.stats.generated_tokens >= 3 && reply.stats.generated_tokens < 200);
    let history = chat.history().unwrap();
    assert_eq!(history[1].text, reply.text);

    // History and cache agree: the next reply is what the conversation gives by hand.
    let next = send(&chat, "Go on.", 10);
    assert_replay_matches(&engine, &chat.tokens().unwrap(), &reply, &next);
}

#[test]
fn stop_strings_split_across_tokens_end_the_reply_before_them() {
    let engine = engine(ModelOptions::default());
    let prompt = "The first five planets from the sun are";
    let plain = engine
        .complete(
            None,
            prompt,
            &greedy_options(24),
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
    // A stop string from the middle of one token's text to the middle of the next one's.
    let model = engine.model().unwrap();
    let tokenizer = model.tokenizer();
    let pieces: Vec<String> = plain
        .ids
        .iter()
        .map(|&id| tokenizer.decode(&[id]))
        .collect();
    let k = (3..pieces.len() - 1)
        .find(|&k| pieces[k].chars().count() >= 2 && pieces[k + 1].chars().count() >= 2)
        .expect("two neighbouring tokens of two characters or more");
    let start: usize = pieces[..k].iter().map(String::len).sum::<usize>()
        + pieces[k].char_indices().nth(1).unwrap().0;
    let end: usize = pieces[..=k].iter().map(String::len).sum::<usize>()
        + pieces[k + 1].char_indices().nth(1).unwrap().0;
    let stop = plain.text[start..end].to_owned();

    let mut streamed = String::new();
    let options = GenerateOptions {
        stop: vec!["never appears".into(), stop.clone()],
        ..greedy_options(24)
    };
    let reply = engine
        .complete(None, prompt, &options, &CancelToken::new(), &mut |t| {
            streamed.push_str(t)
        })
        .unwrap();
    assert_eq!(
        reply.finish_reason,
        FinishReason::StopString,
        "stop {stop:?}"
    );
    let expected = &plain.text[..plain.text.find(&stop).unwrap()];
    assert_eq!(reply.text, expected);
    assert_eq!(streamed, expected);
}

#[test]
fn a_full_context_drops_the_oldest_turns_or_fails_as_asked() {
    let small = ModelOptions {
        context_length: Some(160),
        ..ModelOptions::default()
    };
    let engine = engine(small);
    let message = "Please tell me one more interesting fact about the ocean and its animals.";
    let options = ChatOptions {
        system: Some("You know the sea.".into()),
        context_full: ContextFullPolicy::DropOldest,
    };
    let chat = engine.new_chat(&options).unwrap();
    for _ in 0..6 {
        let reply = send(&chat, message, 16);
        assert!(
            reply.stats.context_tokens <= 160 + TURN_END + 1,
            "{:?}",
            reply.stats
        );
    }
    let history = chat.history().unwrap();
    assert!(history.len() < 12, "no turn was dropped");
    let text = engine
        .model()
        .unwrap()
        .tokenizer()
        .decode_special(&chat.tokens().unwrap());
    assert!(
        text.starts_with("<bos><start_of_turn>user\nYou know the sea.\n\n"),
        "{text}"
    );

    let chat = engine
        .new_chat(&ChatOptions {
            context_full: ContextFullPolicy::Fail,
            ..options
        })
        .unwrap();
    let mut failed = None;
    for _ in 0..6 {
        match chat.send(
            message,
            &greedy_options(16),
            &CancelToken::new(),
            &mut |_| {},
        ) {
            Ok(_) => {}
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let err = failed.expect("the context filled");
    assert!(
        matches!(err, Error::ContextFull { limit: 160, .. }),
        "{err}"
    );
    assert!(err.to_string().starts_with("context full: needs "), "{err}");
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gemkit-test-{}-{name}", std::process::id()))
}

#[test]
fn a_saved_chat_restores_and_continues_identically() {
    let engine = engine(ModelOptions::default());
    let chat = engine.new_chat(&system("Answer briefly.")).unwrap();
    send(&chat, "What is rain?", 12);
    let path = temp_path("saved.chat");
    chat.save(&path).unwrap();

    // Restored into another load of the same file.
    let other = self::engine(ModelOptions::default());
    let restored = other.restore_chat(&path).unwrap();
    assert_eq!(restored.history().unwrap(), chat.history().unwrap());
    assert_eq!(restored.tokens().unwrap(), chat.tokens().unwrap());
    let a = send(&chat, "And snow?", 16);
    let b = send(&restored, "And snow?", 16);
    assert_eq!(a.ids, b.ids);
    assert_eq!(a.stats.prompt_tokens, b.stats.prompt_tokens);

    // A damaged file is refused with a reason.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&path, &bytes).unwrap();
    let err = engine.restore_chat(&path).err().unwrap();
    assert!(matches!(err, Error::InvalidChatFile { .. }), "{err}");
    std::fs::write(&path, b"GKCHAT\x09\x00").unwrap();
    let err = engine.restore_chat(&path).err().unwrap();
    assert!(err.to_string().contains("version 9"), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_chat_saved_with_another_model_is_refused() {
    let tiny = Engine::load(
        &gemkit_tests::fixture("tiny/gemma3-f32.gguf"),
        &ModelOptions::default(),
    )
    .unwrap();
    let engine = engine(ModelOptions::default());
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    send(&chat, "Hi", 2);
    let path = temp_path("other.chat");
    chat.save(&path).unwrap();
    let err = tiny.restore_chat(&path).err().unwrap();
    assert!(err.to_string().contains("different model"), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn interleaved_and_concurrent_chats_give_what_they_give_alone() {
    let engine = engine(ModelOptions::default());
    let alone = |messages: &[&str]| {
        let chat = engine.new_chat(&ChatOptions::default()).unwrap();
        messages
            .iter()
            .map(|m| send(&chat, m, 10).ids)
            .collect::<Vec<_>>()
    };
    let (a, b) = (["Hi, who are you?", "Why?"], ["Count to five.", "Again."]);
    let want = (alone(&a), alone(&b));

    let (x, y) = (
        engine.new_chat(&ChatOptions::default()).unwrap(),
        engine.new_chat(&ChatOptions::default()).unwrap(),
    );
    let mut got = (Vec::new(), Vec::new());
    for i in 0..2 {
        got.0.push(send(&x, a[i], 10).ids);
        got.1.push(send(&y, b[i], 10).ids);
    }
    assert_eq!(got, want);

    // Two threads at once: compute is serialized, each chat keeps its own state.
    let (x, y) = (
        engine.new_chat(&ChatOptions::default()).unwrap(),
        engine.new_chat(&ChatOptions::default()).unwrap(),
    );
    let got = std::thread::scope(|s| {
        let tx = s.spawn(|| a.iter().map(|m| send(&x, m, 10).ids).collect::<Vec<_>>());
        let ty = s.spawn(|| b.iter().map(|m| send(&y, m, 10).ids).collect::<Vec<_>>());
        (tx.join().unwrap(), ty.join().unwrap())
    });
    assert_eq!(got, want);
}

#[test]
fn a_chat_prefix_skips_the_system_prompt_prefill_and_changes_nothing() {
    let engine = engine(ModelOptions::default());
    let options = system(&"You correct grammar. Keep the meaning and the style. ".repeat(12));
    let prefix = engine.chat_prefix(&options).unwrap();
    let with = engine.new_chat_from(&prefix).unwrap();
    let without = engine.new_chat(&options).unwrap();
    let a = send(&with, "i has two cat", 12);
    let b = send(&without, "i has two cat", 12);
    assert_eq!(a.ids, b.ids);
    assert_eq!(
        a.stats.prompt_tokens + prefix.token_count(),
        b.stats.prompt_tokens
    );
    eprintln!(
        "time to first token: {:.1} ms with the prefix, {:.1} ms without ({} vs {} tokens prefilled)",
        a.stats.ttft_ms, b.stats.ttft_ms, a.stats.prompt_tokens, b.stats.prompt_tokens
    );
}
