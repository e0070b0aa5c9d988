//! The seam in-process, on a tiny model: a listener's calls on the engine's thread, what a
//! throwing listener does, and errors delivered to `on_error`. Kotlin and Swift repeat these
//! against the real model through the generated code.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use gemkit_ffi::{
    CallbackError, Engine, EngineOptions, FinishReason, GemKitError, GenerateOptions,
    GenerationHandle, Reply, Sampling, TokenListener,
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

/// Greedy decoding: the other sampling fields do not matter.
fn greedy(max_tokens: u32) -> GenerateOptions {
    let sampling = Sampling {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        repetition_penalty: 1.0,
        repetition_window: 0,
        seed: 0,
    };
    GenerateOptions {
        max_tokens,
        sampling,
        stop: Vec::new(),
        when_busy: None,
    }
}

#[derive(Debug)]
enum Call {
    Text(String, ThreadId),
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

/// What a completion sent its listener.
struct Streamed {
    text: String,
    threads: Vec<ThreadId>,
    /// The one last call.
    last: Call,
    handle: Arc<GenerationHandle>,
}

impl Streamed {
    fn reply(&self) -> &Reply {
        match &self.last {
            Call::Complete(reply) => reply,
            other => panic!("{other:?}"),
        }
    }
}

/// Streams a greedy completion to a [`Record`] and waits for its last call; fails on a call
/// after it.
fn stream(engine: &Engine, prompt: &str, max_tokens: u32, throw_after: Option<usize>) -> Streamed {
    let (listener, rx) = Record::new(throw_after);
    let handle = engine
        .complete(None, prompt.into(), listener, greedy(max_tokens))
        .unwrap();
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
                return Streamed {
                    text,
                    threads,
                    last,
                    handle,
                };
            }
        }
    }
}

#[test]
fn text_arrives_on_the_engines_thread_then_one_reply() {
    let s = stream(&tiny_engine(64), "Once upon a time", 8, None);
    let reply = s.reply();
    assert_eq!(s.text, reply.text);
    assert_eq!(reply.stats.generated_tokens as usize, reply.ids.len());
    assert!(s.threads.iter().all(|&t| t != std::thread::current().id()));
    while !s.handle.is_finished() {
        std::thread::yield_now();
    }
}

#[test]
fn a_listener_that_throws_cancels_its_request() {
    let s = stream(&tiny_engine(128), "Once upon a time", 100, Some(2));
    let reply = s.reply();
    assert_eq!(reply.finish_reason, FinishReason::Cancelled);
    assert!(
        reply.text.starts_with(&s.text),
        "{:?} / {:?}",
        s.text,
        reply.text
    );
    assert!(reply.stats.generated_tokens < 10, "{:?}", reply.stats);
}

#[test]
fn a_failed_request_goes_to_on_error_with_the_core_message() {
    let engine = tiny_engine(8);
    let prompt = "one two three four five six seven eight nine ten";
    let needed = engine.tokenize(prompt.into(), true).unwrap().len();
    let s = stream(&engine, prompt, 4, None);
    assert_eq!(s.text, "");
    match s.last {
        Call::Error(GemKitError::ContextFull {
            reason,
            needed: n,
            limit,
        }) => {
            assert_eq!(
                reason,
                format!("context full: needs {needed} tokens, limit 8")
            );
            assert_eq!((n as usize, limit), (needed, 8));
        }
        other => panic!("{other:?}"),
    }
}
