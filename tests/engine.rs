//! The engine around the chats: raw completion and prefixes, the memory budget, streamed
//! requests on the model's thread, busy and re-entrant calls, seeded sampling, proofreading.

use std::sync::mpsc;
use std::time::Duration;

use gemkit::SamplingParams;
use gemkit::{
    CancelToken, ChatOptions, Engine, Error, FinishReason, GenerateOptions, Listener, ModelOptions,
    Reply, SegmentKind, WhenBusy, PROOFREAD_INSTRUCTION,
};
use gemkit_tests::{fixture, greedy, real_model_path};

use crate::chat::{engine, greedy_options, send};

fn tiny(name: &str) -> Engine {
    Engine::load(
        &fixture(&format!("tiny/{name}")),
        &ModelOptions::reference(),
    )
    .unwrap()
}

#[test]
fn completion_equals_a_plain_greedy_loop_with_and_without_a_prefix() {
    for name in ["gemma-f32.gguf", "gemma2-q8_0.gguf", "gemma3-f32.gguf"] {
        let engine = tiny(name);
        let model = engine.model().unwrap();
        let model = &*model;
        let tokenizer = model.tokenizer();
        let (head, tail) = ("Once upon a time", " there lived");
        let prompt = tokenizer
            .encode(&format!("{head}{tail}"), true, true)
            .unwrap();
        let until_stop = |ids: Vec<u32>| -> Vec<u32> {
            ids.into_iter()
                .take_while(|&id| !model.is_stop_token(id))
                .collect()
        };
        let want = until_stop(greedy(model, &mut model.new_cache().unwrap(), &prompt, 12));
        let reply = engine
            .complete(
                None,
                &format!("{head}{tail}"),
                &greedy_options(12),
                &CancelToken::new(),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(reply.ids, want, "{name}");

        let prefix = engine.prefix(head).unwrap();
        let mut split = tokenizer.encode(head, true, true).unwrap();
        split.extend(tokenizer.encode(tail, false, true).unwrap());
        let want = until_stop(greedy(model, &mut model.new_cache().unwrap(), &split, 12));
        let reply = engine
            .complete(
                Some(&prefix),
                tail,
                &greedy_options(12),
                &CancelToken::new(),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(reply.ids, want, "{name} with a prefix");
        assert_eq!(
            reply.stats.prompt_tokens,
            split.len() - prefix.token_count()
        );
    }
}

#[test]
fn a_prefix_from_another_engine_or_of_the_wrong_kind_is_refused() {
    let (a, b) = (tiny("gemma-f32.gguf"), tiny("gemma-f32.gguf"));
    let prefix = a.prefix("Hello").unwrap();
    let err = b
        .complete(
            Some(&prefix),
            " world",
            &greedy_options(2),
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("another engine"), "{err}");
    let err = a.new_chat_from(&prefix).err().unwrap();
    assert!(err.to_string().contains("chat_prefix"), "{err}");
}

#[test]
fn the_budget_refuses_before_allocating_or_shrinks_the_context() {
    let path = real_model_path();
    let options = ModelOptions {
        context_length: Some(8192),
        ..ModelOptions::default()
    };
    let estimate = Engine::estimate_memory(&path, &options).unwrap();
    assert!(estimate.weights_bytes > 200 << 20, "{estimate:?}");
    assert_eq!(
        estimate.anonymous_bytes,
        estimate.fixed_bytes + estimate.scratch_bytes + estimate.kv_cache_bytes
    );
    let budget = estimate.anonymous_bytes - 1;

    let refused = Engine::load(
        &path,
        &ModelOptions {
            memory_budget: Some(budget),
            ..options.clone()
        },
    );
    match refused {
        Err(Error::MemoryBudget { needed, available }) => {
            assert_eq!((needed, available), (estimate.anonymous_bytes, budget));
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("loaded beyond the budget"),
    }

    let fitted = ModelOptions {
        memory_budget: Some(budget),
        fit_context_to_budget: true,
        ..options
    };
    let shrunk = Engine::estimate_memory(&path, &fitted).unwrap();
    assert!(
        shrunk.context_length < 8192 && shrunk.anonymous_bytes <= budget,
        "{shrunk:?}"
    );
    let engine = Engine::load(&path, &fitted).unwrap();
    assert_eq!(
        engine.model().unwrap().context_length(),
        shrunk.context_length
    );

    // The budget holds the model and one chat: a second chat is refused.
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    let err = engine.new_chat(&ChatOptions::default()).err().unwrap();
    assert!(
        err.to_string()
            .starts_with("memory budget exceeded: needs "),
        "{err}"
    );
    drop(chat);
    engine.new_chat(&ChatOptions::default()).unwrap();
}

/// Collects a streamed request's events for the test thread.
pub struct Collect(pub mpsc::Sender<Event>);

#[derive(Debug)]
pub enum Event {
    Text(String),
    Finish(Result<Reply, String>),
}

impl Listener for Collect {
    fn on_text(&mut self, text: &str) -> bool {
        let _ = self.0.send(Event::Text(text.to_owned()));
        true
    }
    fn on_finish(self: Box<Self>, result: gemkit::Result<Reply>) {
        let _ = self
            .0
            .send(Event::Finish(result.map_err(|e| e.to_string())));
    }
}

/// Waits for a streamed request's events: its text and its one result.
pub fn collect(rx: &mpsc::Receiver<Event>) -> (String, Result<Reply, String>) {
    let mut text = String::new();
    loop {
        match rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the request finishes")
        {
            Event::Text(t) => text.push_str(&t),
            Event::Finish(result) => {
                assert!(
                    rx.recv_timeout(Duration::from_millis(50)).is_err(),
                    "events after the result"
                );
                return (text, result);
            }
        }
    }
}

#[test]
fn a_streamed_request_equals_the_blocking_one_and_cancels_on_drop() {
    let engine = engine(ModelOptions::default());
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = chat
        .send_async(
            "Tell me about cats.",
            &greedy_options(20),
            Box::new(Collect(tx)),
        )
        .unwrap();
    let (text, result) = collect(&rx);
    handle.wait().unwrap();
    assert!(handle.is_finished());
    let reply = result.unwrap();
    assert_eq!(text, reply.text);
    let twin = engine.new_chat(&ChatOptions::default()).unwrap();
    assert_eq!(send(&twin, "Tell me about cats.", 20).ids, reply.ids);

    // Dropping the handle cancels the request.
    let (tx, rx) = mpsc::channel();
    drop(
        chat.send_async(
            "Tell me about dogs.",
            &greedy_options(200),
            Box::new(Collect(tx)),
        )
        .unwrap(),
    );
    let (_, result) = collect(&rx);
    assert_eq!(result.unwrap().finish_reason, FinishReason::Cancelled);

    // So does dropping the chat while its request runs, and nothing deadlocks.
    let (tx, rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    struct Signal(Collect, Option<mpsc::Sender<()>>);
    impl Listener for Signal {
        fn on_text(&mut self, text: &str) -> bool {
            if let Some(s) = self.1.take() {
                let _ = s.send(());
            }
            self.0.on_text(text)
        }
        fn on_finish(self: Box<Self>, result: gemkit::Result<Reply>) {
            let this = *self;
            Box::new(this.0).on_finish(result);
        }
    }
    let handle = chat
        .send_async(
            "Tell me about birds.",
            &greedy_options(200),
            Box::new(Signal(Collect(tx), Some(started_tx))),
        )
        .unwrap();
    started_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    drop(chat);
    let (_, result) = collect(&rx);
    assert_eq!(result.unwrap().finish_reason, FinishReason::Cancelled);
    handle.wait().unwrap();
}

#[test]
fn a_listener_that_refuses_text_cancels_the_request() {
    struct Refuse(Collect);
    impl Listener for Refuse {
        fn on_text(&mut self, text: &str) -> bool {
            self.0.on_text(text);
            false
        }
        fn on_finish(self: Box<Self>, result: gemkit::Result<Reply>) {
            Box::new(self.0).on_finish(result);
        }
    }
    let engine = engine(ModelOptions::default());
    let (tx, rx) = mpsc::channel();
    let _handle = engine
        .complete_async(
            None,
            "Once upon a time",
            &greedy_options(100),
            Box::new(Refuse(Collect(tx))),
        )
        .unwrap();
    let (text, result) = collect(&rx);
    let reply = result.unwrap();
    assert_eq!(reply.finish_reason, FinishReason::Cancelled);
    assert_eq!(reply.text, text);
    assert!(reply.stats.generated_tokens < 5, "{:?}", reply.stats);
}

#[test]
fn busy_and_reentrant_calls_fail_instead_of_waiting_or_deadlocking() {
    let engine = engine(ModelOptions::default());
    let (a, b) = (
        engine.new_chat(&ChatOptions::default()).unwrap(),
        engine.new_chat(&ChatOptions::default()).unwrap(),
    );
    let fail_fast = GenerateOptions {
        when_busy: WhenBusy::Fail,
        ..greedy_options(4)
    };
    let mut inner = Vec::new();
    let reply = a
        .send(
            "Hello there.",
            &greedy_options(6),
            &CancelToken::new(),
            &mut |_| {
                // From inside a callback: the same chat, another chat, and the model are all busy.
                inner.push(a.history().map(|_| ()).unwrap_err().to_string());
                inner.push(
                    b.send("Hi", &greedy_options(2), &CancelToken::new(), &mut |_| {})
                        .unwrap_err()
                        .to_string(),
                );
                inner.push(
                    b.send_async("Hi", &fail_fast, Box::new(Collect(mpsc::channel().0)))
                        .map(|_| ())
                        .unwrap_err()
                        .to_string(),
                );
                inner.push(engine.prefix("Once").map(|_| ()).unwrap_err().to_string());
                inner.push(
                    engine
                        .chat_prefix(&ChatOptions::default())
                        .map(|_| ())
                        .unwrap_err()
                        .to_string(),
                );
            },
        )
        .unwrap();
    assert!(reply.stats.generated_tokens > 0);
    assert_eq!(inner.len() % 5, 0, "each callback tried all five");
    for e in &inner {
        assert!(e.starts_with("busy: "), "{e}");
    }

    // Another thread asking to fail fast while a long request runs is refused at once.
    let (tx, rx) = mpsc::channel();
    let long = a
        .send_async(
            "Write a long poem.",
            &greedy_options(300),
            Box::new(Collect(tx)),
        )
        .unwrap();
    let Event::Text(mut text) = rx.recv_timeout(Duration::from_secs(60)).unwrap() else {
        panic!("the poem did not start");
    };
    let err = std::thread::scope(|s| {
        s.spawn(|| b.send("Hi", &fail_fast, &CancelToken::new(), &mut |_| {}))
            .join()
            .unwrap()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Busy(_)), "{err}");
    long.cancel();
    let (rest, result) = collect(&rx);
    text.push_str(&rest);
    assert_eq!(text, result.unwrap().text);
}

#[test]
fn the_same_seed_samples_the_same_text() {
    let engine = engine(ModelOptions::default());
    let run = |seed| {
        let options = GenerateOptions {
            max_tokens: 24,
            sampling: SamplingParams {
                temperature: 1.0,
                repetition_penalty: 1.1,
                seed,
                ..SamplingParams::default()
            },
            ..GenerateOptions::default()
        };
        engine
            .complete(
                None,
                "My favourite place is",
                &options,
                &CancelToken::new(),
                &mut |_| {},
            )
            .unwrap()
            .ids
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn proofreading_reuses_its_instruction_and_diffs_the_reply() {
    let engine = engine(ModelOptions::default());
    let model = engine.model().unwrap();
    let text = "i has two cat and they is hungry";
    let start = model.forwarded_tokens();
    let first = engine.proofread(text, &CancelToken::new()).unwrap();
    let between = model.forwarded_tokens();
    let second = engine.proofread(text, &CancelToken::new()).unwrap();
    let (first_run, second_run) = (between - start, model.forwarded_tokens() - between);
    assert_eq!(first.corrected, second.corrected);
    assert_eq!(first.stats.prompt_tokens, second.stats.prompt_tokens);
    // The same reply, so the same decode steps: the first request ran the instruction's
    // tokens once more than the second, which started from the first one's prefix.
    let instruction = ChatOptions {
        system: Some(PROOFREAD_INSTRUCTION.into()),
        ..ChatOptions::default()
    };
    let prefix_tokens = engine.chat_prefix(&instruction).unwrap().token_count();
    assert_eq!(first_run - second_run, prefix_tokens as u64);
    let spell = |skip| -> String {
        first
            .segments
            .iter()
            .filter(|s| s.kind != skip)
            .map(|s| s.text.as_str())
            .collect()
    };
    assert_eq!(spell(SegmentKind::Inserted), text);
    assert_eq!(spell(SegmentKind::Deleted), first.corrected);

    let cancelled = CancelToken::new();
    cancelled.cancel();
    let untouched = engine.proofread(text, &cancelled).unwrap();
    assert_eq!(untouched.finish_reason, FinishReason::Cancelled);
    assert_eq!(untouched.corrected, text);
}
