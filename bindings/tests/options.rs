//! Options out of range through the bindings' API (issue 13, finding 2): each is the typed
//! `InvalidArgument` an app can catch, naming the option and its range, never a panic or a
//! wrapped-around size. The conversions into the core's options are lossless (u32 into usize),
//! so the core's checks see exactly what the app passed.

use std::path::PathBuf;
use std::sync::Arc;

use gemkit_ffi::{
    estimate_memory, CallbackError, ChatOptions, Engine, EngineOptions, GemKitError,
    GenerateOptions, GenerationHandle, Reply, Sampling, TokenListener,
};

fn tiny() -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny/gemma3-q8_0.gguf");
    path.to_string_lossy().into_owned()
}

fn invalid_argument<T>(result: Result<T, GemKitError>) -> String {
    match result {
        Err(GemKitError::InvalidArgument { reason }) => reason,
        Err(e) => panic!("not InvalidArgument: {e:?}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn engine_options_out_of_range_are_invalid_arguments() {
    let cases = [
        (
            EngineOptions {
                prefill_chunk: Some(u32::MAX),
                ..EngineOptions::default()
            },
            "invalid argument: prefill_chunk must be 1 to 65536, not 4294967295",
        ),
        (
            EngineOptions {
                prefill_chunk: Some(0),
                ..EngineOptions::default()
            },
            "invalid argument: prefill_chunk must be 1 to 65536, not 0",
        ),
        (
            EngineOptions {
                threads: Some(257),
                ..EngineOptions::default()
            },
            "invalid argument: threads must be 1 to 256, not 257",
        ),
    ];
    for (options, message) in cases {
        assert_eq!(
            invalid_argument(estimate_memory(tiny(), options.clone())),
            message
        );
        assert_eq!(invalid_argument(Engine::load(tiny(), options)), message);
    }
}

/// Fails the test if the engine ever calls it: a refused request has no listener calls.
struct Unreachable;

impl TokenListener for Unreachable {
    fn on_text(&self, text: String) -> Result<(), CallbackError> {
        panic!("on_text({text:?}) for a refused request")
    }
    fn on_complete(&self, reply: Reply) -> Result<(), CallbackError> {
        panic!("on_complete({reply:?}) for a refused request")
    }
    fn on_error(&self, error: GemKitError) -> Result<(), CallbackError> {
        panic!("on_error({error:?}) for a refused request")
    }
}

fn sampling() -> Sampling {
    Sampling {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        min_p: 0.05,
        repetition_penalty: 1.0,
        repetition_window: 64,
        seed: 0,
    }
}

#[test]
fn generate_options_out_of_range_are_invalid_arguments() {
    let engine = Engine::load(tiny(), EngineOptions::default()).unwrap();
    let chat = engine
        .new_chat(ChatOptions {
            system: None,
            context_full: None,
        })
        .unwrap();
    let request = |max_tokens, sampling, stop| GenerateOptions {
        max_tokens,
        sampling,
        stop,
        when_busy: None,
    };
    let cases = [
        (
            request(0, sampling(), vec![]),
            "max_tokens must be at least 1, not 0",
        ),
        (
            request(
                8,
                Sampling {
                    temperature: f32::NAN,
                    ..sampling()
                },
                vec![],
            ),
            "temperature must be a finite number, 0 (greedy) or more, not NaN",
        ),
        (
            request(
                8,
                Sampling {
                    top_p: 2.0,
                    ..sampling()
                },
                vec![],
            ),
            "top_p must be 0 to 1, not 2",
        ),
        (
            request(
                8,
                Sampling {
                    min_p: f32::INFINITY,
                    ..sampling()
                },
                vec![],
            ),
            "min_p must be 0 to 1, not inf",
        ),
        (
            request(
                8,
                Sampling {
                    repetition_penalty: 0.0,
                    ..sampling()
                },
                vec![],
            ),
            "repetition_penalty must be a finite number above 0 (1 is off), not 0",
        ),
        (
            request(8, sampling(), vec!["x".into(); 40]),
            "stop must be at most 32 strings, not 40",
        ),
    ];
    for (options, message) in cases {
        let message = format!("invalid argument: {message}");
        let sent: Result<Arc<GenerationHandle>, _> =
            chat.send("Hi".into(), Arc::new(Unreachable), options.clone());
        assert_eq!(invalid_argument(sent), message);
        let completed = engine.complete(None, "Hi".into(), Arc::new(Unreachable), options);
        assert_eq!(invalid_argument(completed), message);
    }
    assert!(chat.history().unwrap().is_empty());
}
