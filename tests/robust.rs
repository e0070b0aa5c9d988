//! A misbehaving app never breaks a chat (issue 13): a listener that panics at any piece, one
//! that waits on its own request, a chat dropped while its request waits in the queue. After
//! each, the chat's next greedy turn equals a twin chat's that never saw the trouble. And an app
//! that sends again the moment it has its reply is not told the model is busy.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use gemkit::{CancelToken, Chat, ChatOptions, Engine, FinishReason, GenerationHandle};
use gemkit::{Listener, ModelOptions, Reply, WhenBusy};

use crate::chat::{engine, greedy_options, send};
use crate::engine::{collect, Collect};

/// A chat with one exchange, and its twin on the same engine.
fn chat_and_twin(engine: &Engine) -> (Chat, Chat) {
    let open = || {
        let chat = engine.new_chat(&ChatOptions::default()).unwrap();
        send(&chat, "Hi", 4);
        chat
    };
    (open(), open())
}

fn assert_next_turn_matches(chat: &Chat, twin: &Chat) {
    assert_eq!(chat.tokens().unwrap(), twin.tokens().unwrap());
    assert_eq!(chat.history().unwrap(), twin.history().unwrap());
    let (next, twin_next) = (send(chat, "Hello again", 8), send(twin, "Hello again", 8));
    assert_eq!(next.ids, twin_next.ids);
}

#[test]
fn a_listener_panicking_at_any_piece_leaves_the_chat_as_it_was() {
    let engine = engine(ModelOptions::default());
    for piece in [1, 2, 10] {
        let (chat, twin) = chat_and_twin(&engine);
        let mut seen = 0;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            chat.send(
                "Count from one to twenty.",
                &greedy_options(16),
                &CancelToken::new(),
                &mut |_| {
                    seen += 1;
                    if seen == piece {
                        panic!("the app's callback failed");
                    }
                },
            )
        }));
        assert!(outcome.is_err(), "the panic reaches the caller");
        assert_eq!(seen, piece);
        assert_next_turn_matches(&chat, &twin);
    }
}

/// Panics at its `piece`-th piece of text.
struct Panicking {
    piece: usize,
    seen: usize,
    results: mpsc::Sender<Result<Reply, String>>,
}

impl Listener for Panicking {
    fn on_text(&mut self, _: &str) -> bool {
        self.seen += 1;
        assert!(self.seen != self.piece, "the app's listener failed");
        true
    }

    fn on_finish(self: Box<Self>, result: gemkit::Result<Reply>) {
        let _ = self.results.send(result.map_err(|e| e.to_string()));
    }
}

#[test]
fn a_streamed_listener_panicking_fails_its_request_and_the_chat_goes_on() {
    let engine = engine(ModelOptions::default());
    let (chat, twin) = chat_and_twin(&engine);
    let (tx, rx) = mpsc::channel();
    let listener = Panicking {
        piece: 3,
        seen: 0,
        results: tx,
    };
    let _handle = chat
        .send_async(
            "Count from one to twenty.",
            &greedy_options(16),
            Box::new(listener),
        )
        .unwrap();
    let result = rx.recv_timeout(Duration::from_secs(120)).unwrap();
    assert!(result.unwrap_err().starts_with("internal error"));
    assert_next_turn_matches(&chat, &twin);
    // And a streamed turn works too.
    let (tx, rx) = mpsc::channel();
    let _handle = chat
        .send_async("One more", &greedy_options(4), Box::new(Collect(tx)))
        .unwrap();
    let (_, reply) = collect(&rx);
    assert_eq!(reply.unwrap().ids.len(), 4);
}

/// Waits on its own request's handle from its second piece.
struct WaitsOnItself {
    handle: Arc<Mutex<Option<GenerationHandle>>>,
    waited: mpsc::Sender<Result<(), String>>,
    finished: mpsc::Sender<FinishReason>,
    seen: usize,
}

impl Listener for WaitsOnItself {
    fn on_text(&mut self, _: &str) -> bool {
        self.seen += 1;
        if self.seen == 2 {
            let handle = self.handle.lock().unwrap();
            let waited = handle.as_ref().expect("set before the second piece").wait();
            let _ = self.waited.send(waited.map_err(|e| e.to_string()));
        }
        true
    }

    fn on_finish(self: Box<Self>, result: gemkit::Result<Reply>) {
        let _ = self.finished.send(result.unwrap().finish_reason);
    }
}

#[test]
fn waiting_on_its_own_request_from_a_listener_fails_instead_of_hanging() {
    let engine = engine(ModelOptions::default());
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    let slot = Arc::new(Mutex::new(None));
    let (waited_tx, waited) = mpsc::channel();
    let (finished_tx, finished) = mpsc::channel();
    let listener = WaitsOnItself {
        handle: Arc::clone(&slot),
        waited: waited_tx,
        finished: finished_tx,
        seen: 0,
    };
    // Held while the handle goes into the slot, so the listener cannot look before.
    let mut guard = slot.lock().unwrap();
    *guard = Some(
        chat.send_async("Count to ten.", &greedy_options(8), Box::new(listener))
            .unwrap(),
    );
    drop(guard);
    let waited = waited.recv_timeout(Duration::from_secs(120)).unwrap();
    assert!(
        waited.unwrap_err().starts_with("busy"),
        "an error, not a hang"
    );
    assert_eq!(
        finished.recv_timeout(Duration::from_secs(120)).unwrap(),
        FinishReason::Length
    );
    // The model's thread is free: the next request runs.
    assert_eq!(send(&chat, "Again", 4).ids.len(), 4);
}

#[test]
fn dropping_a_chat_cancels_its_queued_request() {
    let engine = engine(ModelOptions::default());
    let (first, second) = (
        engine.new_chat(&ChatOptions::default()).unwrap(),
        engine.new_chat(&ChatOptions::default()).unwrap(),
    );
    // The first request holds the model's thread until its listener is let go.
    let (gate_tx, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let (first_tx, first_rx) = mpsc::channel();
    let _running = first
        .send_async(
            "Count to twenty.",
            &greedy_options(12),
            Box::new(GatedCollect {
                gate,
                inner: Collect(first_tx),
                first: true,
            }),
        )
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let _queued = second
        .send_async(
            "Tell me a story.",
            &greedy_options(32),
            Box::new(Collect(tx)),
        )
        .unwrap();
    drop(second);
    gate_tx.send(()).unwrap();
    let (_, first_reply) = collect(&first_rx);
    assert_eq!(first_reply.unwrap().ids.len(), 12);
    let (text, queued) = collect(&rx);
    let queued = queued.unwrap();
    assert_eq!(queued.finish_reason, FinishReason::Cancelled);
    assert!(
        queued.ids.is_empty() && text.is_empty(),
        "it never ran: {text:?}"
    );
}

/// [`Collect`] that holds its first piece until the gate opens.
struct GatedCollect {
    gate: Mutex<mpsc::Receiver<()>>,
    inner: Collect,
    first: bool,
}

impl Listener for GatedCollect {
    fn on_text(&mut self, text: &str) -> bool {
        if std::mem::take(&mut self.first) {
            self.gate.lock().unwrap().recv().unwrap();
        }
        self.inner.on_text(text)
    }

    fn on_finish(self: Box<Self>, result: gemkit::Result<Reply>) {
        Box::new(self.inner).on_finish(result)
    }
}

/// Hands the reply over, then takes a while to return from `on_finish`, as a wrapper does while
/// it closes its stream after resuming the app.
struct SlowToReturn(mpsc::Sender<FinishReason>);

impl Listener for SlowToReturn {
    fn on_text(&mut self, _: &str) -> bool {
        true
    }

    fn on_finish(self: Box<Self>, result: gemkit::Result<Reply>) {
        let _ = self.0.send(result.unwrap().finish_reason);
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_request_sent_the_moment_the_last_reply_arrives_is_not_busy() {
    let engine = engine(ModelOptions::default());
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    let fail_fast = gemkit::GenerateOptions {
        when_busy: WhenBusy::Fail,
        ..greedy_options(2)
    };
    let (tx, rx) = mpsc::channel();
    let _first = chat
        .send_async("Hi", &fail_fast, Box::new(SlowToReturn(tx)))
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(120)).unwrap(),
        FinishReason::Length
    );
    // The first listener is still in `on_finish`: its request is over all the same.
    let (tx, rx) = mpsc::channel();
    let _second = chat
        .send_async("Again", &fail_fast, Box::new(SlowToReturn(tx)))
        .expect("the previous request had finished");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(120)).unwrap(),
        FinishReason::Length
    );
}
