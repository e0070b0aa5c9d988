//! Every option that sizes something is range-checked where it enters (issue 13, finding 2):
//! a typed `InvalidArgument` naming the option and its range, before anything is allocated or
//! any chat is touched. On the tiny Gemma 3 fixture; the bounds themselves are unit-tested in
//! the core (`generate::tests`).

use std::sync::mpsc;

use gemkit::{
    CancelToken, ChatOptions, ContextFullPolicy, Engine, Error, GenerateOptions, Model,
    ModelOptions, SamplingParams,
};
use gemkit_tests::fixture;

use crate::engine::{collect, Collect};

fn tiny() -> std::path::PathBuf {
    fixture("tiny/gemma3-q8_0.gguf")
}

fn invalid_argument<T>(result: gemkit::Result<T>) -> String {
    match result {
        Err(Error::InvalidArgument(m)) => m,
        Err(e) => panic!("not an InvalidArgument: {e:?}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn model_options_out_of_range_are_refused_by_name_before_loading() {
    let with = |change: fn(&mut ModelOptions)| {
        let mut o = ModelOptions::default();
        change(&mut o);
        o
    };
    let cases: [(ModelOptions, &str); 5] = [
        (
            // The case: the estimate wrapped and the rings overflowed.
            with(|o| o.prefill_chunk = usize::MAX),
            "prefill_chunk must be 1 to 65536, not 18446744073709551615",
        ),
        (
            with(|o| o.prefill_chunk = 65537),
            "prefill_chunk must be 1 to 65536, not 65537",
        ),
        (
            with(|o| o.prefill_chunk = 0),
            "prefill_chunk must be 1 to 65536, not 0",
        ),
        (
            with(|o| o.threads = Some(0)),
            "threads must be 1 to 256, not 0",
        ),
        (
            with(|o| o.context_length = Some(0)),
            "context length must be at least 1",
        ),
    ];
    for (options, message) in &cases {
        assert_eq!(
            invalid_argument(Model::estimate_memory(&tiny(), options)),
            *message
        );
        assert_eq!(invalid_argument(Model::load(&tiny(), options)), *message);
    }
    // The largest chunk loads, and its estimate is what the code allocates: no wrap.
    let widest = with(|o| o.prefill_chunk = 65536);
    let estimate = Model::estimate_memory(&tiny(), &widest).unwrap();
    let model = Model::load(&tiny(), &widest).unwrap();
    assert_eq!(model.memory_estimate(), &estimate);
    let default = Model::estimate_memory(&tiny(), &ModelOptions::default()).unwrap();
    assert!(estimate.scratch_bytes > default.scratch_bytes);
    let mut cache = model.new_cache().unwrap();
    let ids: Vec<u32> = (0..40).map(|i| 6 + i % 500).collect();
    model
        .forward(&mut cache, &ids, gemkit::Logits::Last)
        .unwrap();
}

fn greedy(max_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampling: SamplingParams::greedy(),
        ..GenerateOptions::default()
    }
}

/// Requests with one field out of range, and the message each gets.
fn bad_requests() -> Vec<(GenerateOptions, &'static str)> {
    let with = |change: fn(&mut GenerateOptions)| {
        let mut o = greedy(4);
        change(&mut o);
        o
    };
    vec![
        (
            with(|o| o.max_tokens = 0),
            "max_tokens must be at least 1, not 0",
        ),
        (
            with(|o| o.sampling.temperature = f32::NAN),
            "temperature must be a finite number, 0 (greedy) or more, not NaN",
        ),
        (
            with(|o| o.sampling.temperature = -1.0),
            "temperature must be a finite number, 0 (greedy) or more, not -1",
        ),
        (
            with(|o| o.sampling.top_p = 1.01),
            "top_p must be 0 to 1, not 1.01",
        ),
        (
            with(|o| o.sampling.min_p = -0.5),
            "min_p must be 0 to 1, not -0.5",
        ),
        (
            with(|o| o.sampling.repetition_penalty = -2.0),
            "repetition_penalty must be a finite number above 0 (1 is off), not -2",
        ),
        (
            with(|o| o.stop = vec!["\n".into(); 33]),
            "stop must be at most 32 strings, not 33",
        ),
        (
            with(|o| o.stop = vec!["a".repeat(300)]),
            "stop must be strings of at most 256 bytes, not one of 300 bytes",
        ),
    ]
}

#[test]
fn a_request_out_of_range_fails_at_once_and_leaves_the_chat_alone() {
    let engine = Engine::load(&tiny(), &ModelOptions::default()).unwrap();
    // A chat whose context is nearly full: a valid turn would drop its oldest exchange.
    let chat = engine
        .new_chat(&ChatOptions {
            context_full: ContextFullPolicy::DropOldest,
            ..ChatOptions::default()
        })
        .unwrap();
    let context = engine.model().unwrap().context_length();
    let long = "a b c d e f g h ".repeat(context / 24);
    let cancel = CancelToken::new();
    chat.send(&long, &greedy(4), &cancel, &mut |_| {}).unwrap();
    let (history, tokens) = (chat.history().unwrap(), chat.tokens().unwrap());
    for (options, message) in bad_requests() {
        let sent = chat.send(&long, &options, &cancel, &mut |_| panic!("no text"));
        assert_eq!(invalid_argument(sent), message);
        let (tx, _rx) = mpsc::channel();
        let queued = chat.send_async(&long, &options, Box::new(Collect(tx)));
        assert_eq!(invalid_argument(queued), message);
        let completed = engine.complete(None, "Hi", &options, &cancel, &mut |_| {});
        assert_eq!(invalid_argument(completed), message);
        let (tx, _rx) = mpsc::channel();
        let queued = engine.complete_async(None, "Hi", &options, Box::new(Collect(tx)));
        assert_eq!(invalid_argument(queued), message);
        assert_eq!(chat.history().unwrap(), history, "{message}: history kept");
        assert_eq!(chat.tokens().unwrap(), tokens, "{message}: tokens kept");
    }
    // The widest valid values work: any repetition window, top-k past the vocabulary.
    let wide = GenerateOptions {
        sampling: SamplingParams {
            temperature: 1.0,
            top_k: usize::MAX,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.5,
            repetition_window: usize::MAX,
            seed: 3,
        },
        stop: vec!["z".repeat(256); 32],
        ..greedy(4)
    };
    let (tx, rx) = mpsc::channel();
    let _handle = chat.send_async("Hi", &wide, Box::new(Collect(tx))).unwrap();
    assert!(collect(&rx).1.is_ok());
}

#[test]
fn a_system_prompt_longer_than_the_context_is_a_typed_error() {
    let options = ModelOptions {
        context_length: Some(32),
        ..ModelOptions::default()
    };
    let engine = Engine::load(&tiny(), &options).unwrap();
    let system = ChatOptions {
        system: Some("word ".repeat(100)),
        ..ChatOptions::default()
    };
    let chat = engine.new_chat(&system).unwrap();
    match chat.send("Hi", &greedy(2), &CancelToken::new(), &mut |_| {}) {
        Err(Error::ContextFull { limit: 32, .. }) => {}
        other => panic!("expected ContextFull, got {other:?}"),
    }
    assert!(chat.history().unwrap().is_empty());
}
