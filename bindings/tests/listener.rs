//! The seam in-process, on a tiny model: a listener's calls on the engine's thread, what a
//! throwing listener does, and errors delivered to `on_error`. Kotlin and Swift repeat these
//! against the real model through the generated code.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gemkit_ffi::{
    CallbackError, Engine, EngineOptions, FinishReason, GemKitError, GenerateOptions, Reply,
    Sampling, TokenListener,
};

fn tiny_engine(context_length: u32) -> Arc<Engine> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny/gemma3-q8_0.gguf");
    let options = EngineOptions {
        context_length: Some(context_length),
        ..EngineOptions::default()
    };
    Engine::load(path.to_string_lossy().into_owned(), options).unwrap()
}

fn greedy(max_tokens: u32) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampling: Sampling {
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.0,
            repetition_window: 64,
            seed: 0,
        },
        stop: Vec::new(),
        when_busy: None,
    }
}

#[derive(Debug)]
enum Call {
    Text(String, std::thread::ThreadId),
    Complete(Reply),
    Error(GemKitError),
}

/// Records every call; throws from `on_text` after `texts_before_throwing` pieces, if set.
struct Record {
    calls: Mutex<Sender<Call>>,
    texts_before_throwing: Option<usize>,
    texts: Mutex<usize>,
}

impl Record {
    fn new(texts_before_throwing: Option<usize>) -> (Arc<Record>, Receiver<Call>) {
        let (tx, rx) = channel();
        let record = Record {
            calls: Mutex::new(tx),
            texts_before_throwing,
            texts: Mutex::new(0),
        };
        (Arc::new(record), rx)
    }

    fn send(&self, call: Call) {
        self.calls.lock().unwrap().send(call).unwrap();
    }
}

impl TokenListener for Record {
    fn on_text(&self, text: String) -> Result<(), CallbackError> {
        let mut texts = self.texts.lock().unwrap();
        if Some(*texts) == self.texts_before_throwing {
            return Err(CallbackError::Failed {
                reason: "the app gave up".into(),
            });
        }
        *texts += 1;
        self.send(Call::Text(text, std::thread::current().id()));
        Ok(())
    }

    fn on_complete(&self, reply: Reply) -> Result<(), CallbackError> {
        self.send(Call::Complete(reply));
        Ok(())
    }

    fn on_error(&self, error: GemKitError) -> Result<(), CallbackError> {
        self.send(Call::Error(error));
        Ok(())
    }
}

/// The text pieces and the one last call; fails on a call after it.
fn drain(rx: &Receiver<Call>) -> (String, Vec<std::thread::ThreadId>, Call) {
    let (mut text, mut threads) = (String::new(), Vec::new());
    loop {
        match rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a last call")
        {
            Call::Text(t, thread) => {
                text.push_str(&t);
                threads.push(thread);
            }
            last => {
                assert!(
                    rx.recv_timeout(Duration::from_millis(100)).is_err(),
                    "a call after the last"
                );
                return (text, threads, last);
            }
        }
    }
}

#[test]
fn text_arrives_on_the_engines_thread_then_one_reply() {
    let engine = tiny_engine(64);
    let (listener, rx) = Record::new(None);
    let handle = engine
        .complete(None, "Once upon a time".into(), listener, greedy(8))
        .unwrap();
    let (text, threads, last) = drain(&rx);
    let Call::Complete(reply) = last else {
        panic!("{last:?}")
    };
    assert_eq!(text, reply.text);
    assert_eq!(reply.stats.generated_tokens as usize, reply.ids.len());
    assert!(threads.iter().all(|&t| t != std::thread::current().id()));
    while !handle.is_finished() {
        std::thread::yield_now();
    }
}

#[test]
fn a_listener_that_throws_cancels_its_request() {
    let engine = tiny_engine(128);
    let (listener, rx) = Record::new(Some(2));
    let _handle = engine
        .complete(None, "Once upon a time".into(), listener, greedy(100))
        .unwrap();
    let (text, _, last) = drain(&rx);
    let Call::Complete(reply) = last else {
        panic!("{last:?}")
    };
    assert_eq!(reply.finish_reason, FinishReason::Cancelled);
    assert!(reply.text.starts_with(&text), "{text:?} / {:?}", reply.text);
    assert!(reply.stats.generated_tokens < 10, "{:?}", reply.stats);
}

#[test]
fn a_failed_request_goes_to_on_error_with_the_core_message() {
    let engine = tiny_engine(8);
    let (listener, rx) = Record::new(None);
    let prompt = "one two three four five six seven eight nine ten".to_owned();
    let needed = engine.tokenize(prompt.clone(), true).unwrap().len();
    let _handle = engine.complete(None, prompt, listener, greedy(4)).unwrap();
    let (text, _, last) = drain(&rx);
    assert_eq!(text, "");
    match last {
        Call::Error(GemKitError::ContextFull(m)) => {
            assert_eq!(m, format!("context full: needs {needed} tokens, limit 8"))
        }
        other => panic!("{other:?}"),
    }
}
