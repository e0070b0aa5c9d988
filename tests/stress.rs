//! Stress (issue 13): threads sharing one engine on the tiny Gemma 3 model send, stream, cancel
//! each other's requests, drop handles, chats and whole engines mid-generation, and use
//! listeners that panic, stop, call back into the API (and get `Busy`) or wait on their own
//! request (and get an error). A binary of its own: it installs a panic hook.
//!
//! Checked: no deadlock (the test's thread watches every worker's progress and fails with what
//! each was doing), exactly one finish per streamed request, and after every aborted turn the
//! chat is what a fresh chat replaying its committed turns greedily would be: the same tokens
//! and the same next greedy reply. The choices are seeded (`GEMKIT_STRESS_SEED`, default 13);
//! `GEMKIT_STRESS_SECONDS` (default 40) bounds the run.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use gemkit::{
    CancelToken, Chat, ChatOptions, Engine, Error, FinishReason, GenerateOptions, GenerationHandle,
    Listener, ModelOptions, Reply, SamplingParams, WhenBusy,
};
use gemkit_tests::{fixture, Rng};

const THREADS: usize = 4;
/// A worker that has not finished an operation for this long is stuck: operations on the tiny
/// model take milliseconds, so this is a deadlock even on a loaded machine.
const STALLED: Duration = Duration::from_secs(60);
/// The reply limit of every turn; small, so that chats stay far from their context.
const MAX_TOKENS: usize = 6;
/// A chat is replaced after this many committed turns, which bounds its replays.
const TURNS_PER_CHAT: usize = 3;
const DELIBERATE: &str = "stress: a deliberate panic";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load() -> Engine {
    let options = ModelOptions {
        context_length: Some(128),
        threads: Some(1),
        ..ModelOptions::default()
    };
    Engine::load(&fixture("tiny/gemma3-q8_0.gguf"), &options).unwrap()
}

fn greedy(max_tokens: usize, when_busy: WhenBusy) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampling: SamplingParams::greedy(),
        when_busy,
        ..GenerateOptions::default()
    }
}

/// What a listener does at its `at`-th piece of text.
#[derive(Debug, Clone, Copy)]
enum Trouble {
    None,
    Panic,
    Stop,
    /// Calls its own chat and the engine's model, which this request holds: each must be `Busy`.
    ReEnter,
    /// Waits on its own handle: an error, not a hang.
    WaitOnItself,
}

/// What every worker reports, for the checks and the watchdog.
#[derive(Default)]
struct Shared {
    /// Each worker's operations done, and what it is doing now.
    progress: [AtomicUsize; THREADS],
    doing: [Mutex<String>; THREADS],
    /// Streamed requests submitted, and the finishes their listeners got.
    submitted: AtomicUsize,
    finished: AtomicUsize,
    /// Requests whose listener saw a second finish, or none before it was dropped.
    broken: Mutex<Vec<String>>,
    /// Handles parked for other workers to cancel or drop.
    parked: Mutex<Vec<GenerationHandle>>,
    /// Turns checked against a replay, and aborted turns among them.
    replays: AtomicUsize,
    aborted: AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    fn fail(&self, what: String) {
        self.broken.lock().unwrap().push(what);
    }
}

/// A streamed request's listener: makes its trouble, and reports exactly one finish.
struct StressListener {
    id: usize,
    trouble: Trouble,
    at: usize,
    seen: usize,
    /// For `ReEnter`: the request's own chat, and its engine (held only then, so that the
    /// engines dropped mid-generation are not kept alive by their listeners).
    reenter: Option<(Arc<Chat>, Engine)>,
    handle: Arc<Mutex<Option<GenerationHandle>>>,
    shared: Arc<Shared>,
    finish: mpsc::Sender<Result<Reply, String>>,
    finished: bool,
}

impl Listener for StressListener {
    fn on_text(&mut self, _: &str) -> bool {
        self.seen += 1;
        if self.seen != self.at {
            return true;
        }
        match self.trouble {
            Trouble::None => true,
            Trouble::Panic => panic!("{DELIBERATE}"),
            Trouble::Stop => false,
            Trouble::ReEnter => {
                if let Some((chat, engine)) = &self.reenter {
                    expect_busy(&self.shared, "its own chat", chat.tokens());
                    let options = greedy(1, WhenBusy::Wait);
                    let call =
                        engine.complete(None, "x", &options, &CancelToken::new(), &mut |_| {});
                    expect_busy(&self.shared, "the model", call);
                }
                true
            }
            Trouble::WaitOnItself => {
                if let Some(handle) = &*self.handle.lock().unwrap() {
                    expect_busy(&self.shared, "its own handle", handle.wait());
                }
                true
            }
        }
    }

    fn on_finish(mut self: Box<Self>, result: gemkit::Result<Reply>) {
        self.finished = true;
        self.shared.finished.fetch_add(1, Ordering::AcqRel);
        let _ = self.finish.send(result.map_err(|e| e.to_string()));
    }
}

impl Drop for StressListener {
    fn drop(&mut self) {
        if !self.finished {
            self.shared
                .fail(format!("request {} dropped without a finish", self.id));
        }
    }
}

fn expect_busy<T>(shared: &Shared, what: &str, result: gemkit::Result<T>) {
    if !matches!(result, Err(Error::Busy(_))) {
        let got = result.map(|_| "Ok").map_err(|e| e.to_string());
        shared.fail(format!("a listener calling {what} got {got:?}, not Busy"));
    }
}

/// A chat and the turns it committed: each user message with the reply limit that replays it
/// (its reply's length, plus one when it ended on a stop token that was then sampled).
struct Tracked {
    chat: Arc<Chat>,
    turns: Vec<(String, usize)>,
}

impl Tracked {
    fn new(engine: &Engine) -> Tracked {
        let chat = engine.new_chat(&ChatOptions::default()).unwrap();
        Tracked {
            chat: Arc::new(chat),
            turns: Vec::new(),
        }
    }

    /// Records a turn's outcome. False when the reply cannot be replayed (a cancel before its
    /// first token keeps an empty reply, which no token limit reproduces).
    fn record(&mut self, message: &str, outcome: &Result<Reply, String>) -> bool {
        let committed = self.chat.history().unwrap().len() / 2;
        if committed == self.turns.len() {
            return true;
        }
        let Ok(reply) = outcome else {
            panic!("a turn that failed ({outcome:?}) is in the history");
        };
        let limit = reply.ids.len() + usize::from(reply.finish_reason == FinishReason::StopToken);
        self.turns.push((message.to_owned(), limit));
        limit > 0
    }

    /// The chat equals a fresh chat replaying its turns: tokens, then the next greedy reply
    /// (which both then keep).
    fn check(&mut self, engine: &Engine, shared: &Shared, label: &str) {
        let mut fresh = Tracked::new(engine);
        let cancel = CancelToken::new();
        for (message, limit) in &self.turns {
            let options = greedy(*limit, WhenBusy::Wait);
            fresh
                .chat
                .send(message, &options, &cancel, &mut |_| {})
                .unwrap();
        }
        if self.chat.tokens().unwrap() != fresh.chat.tokens().unwrap() {
            shared.fail(format!(
                "{label}: tokens differ from the replay of {:?}",
                self.turns
            ));
            return;
        }
        let next = |t: &mut Tracked| {
            let (message, options) = ("And then?", greedy(MAX_TOKENS, WhenBusy::Wait));
            let reply = t.chat.send(message, &options, &cancel, &mut |_| {});
            t.record(message, &reply.map_err(|e| e.to_string()));
            t.chat.tokens().unwrap()
        };
        if next(self) != next(&mut fresh) {
            shared.fail(format!("{label}: the next reply differs from the replay's"));
        }
        shared.replays.fetch_add(1, Ordering::Relaxed);
    }
}

fn message(rng: &mut Rng) -> String {
    const WORDS: [&str; 8] = [
        "count", "the", "red", "fox", "and", "seven", "blue", "birds",
    ];
    (0..1 + rng.below(3))
        .map(|_| WORDS[rng.below(WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn trouble(rng: &mut Rng) -> Trouble {
    [
        Trouble::None,
        Trouble::Panic,
        Trouble::Stop,
        Trouble::ReEnter,
        Trouble::WaitOnItself,
    ][rng.below(5)]
}

/// One worker: operations chosen by `rng` until told to stop.
fn worker(me: usize, engine: Engine, shared: Arc<Shared>, mut rng: Rng) {
    let mut tracked = Tracked::new(&engine);
    while !shared.stop.load(Ordering::Acquire) {
        if tracked.turns.len() >= TURNS_PER_CHAT {
            tracked = Tracked::new(&engine);
        }
        let op = rng.below(10);
        *shared.doing[me].lock().unwrap() = format!("op {op} on chat with {:?}", tracked.turns);
        match op {
            0..=2 => sync_turn(&engine, &shared, &mut tracked, &mut rng),
            3..=6 => streamed_turn(&engine, &shared, &mut tracked, &mut rng),
            7 => {
                // Cancel or drop a request another worker parked.
                let handle = shared.parked.lock().unwrap().pop();
                if let Some(h) = handle {
                    if rng.below(2) == 0 {
                        h.cancel();
                    }
                }
            }
            8 => drop_mid_generation(&shared, &mut rng),
            _ => {
                // Drop the chat itself while one of its requests is queued or running.
                let (tx, rx) = mpsc::channel();
                let listener = new_listener(&shared, None, Trouble::None, 0, tx);
                let handle = Arc::clone(&listener.handle);
                let h = tracked.chat.send_async(
                    &message(&mut rng),
                    &greedy(MAX_TOKENS, WhenBusy::Wait),
                    Box::new(listener),
                );
                *handle.lock().unwrap() = Some(h.unwrap());
                tracked = Tracked::new(&engine);
                drop(handle);
                let _ = rx.recv();
            }
        }
        shared.progress[me].fetch_add(1, Ordering::AcqRel);
    }
}

fn new_listener(
    shared: &Arc<Shared>,
    reenter: Option<(Arc<Chat>, Engine)>,
    trouble: Trouble,
    at: usize,
    finish: mpsc::Sender<Result<Reply, String>>,
) -> StressListener {
    StressListener {
        id: shared.submitted.fetch_add(1, Ordering::AcqRel),
        trouble,
        at,
        seen: 0,
        reenter,
        handle: Arc::new(Mutex::new(None)),
        shared: Arc::clone(shared),
        finish,
        finished: false,
    }
}

/// A blocking turn whose callback may panic, cancel, or call back into its chat.
fn sync_turn(engine: &Engine, shared: &Shared, tracked: &mut Tracked, rng: &mut Rng) {
    let text = message(rng);
    let (trouble, at) = (trouble(rng), 1 + rng.below(MAX_TOKENS));
    let cancel = CancelToken::new();
    let chat = Arc::clone(&tracked.chat);
    let mut seen = 0;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        chat.send(
            &text,
            &greedy(MAX_TOKENS, WhenBusy::Wait),
            &cancel,
            &mut |_| {
                seen += 1;
                if seen != at {
                    return;
                }
                match trouble {
                    Trouble::Panic => panic!("{DELIBERATE}"),
                    Trouble::Stop => cancel.cancel(),
                    Trouble::ReEnter | Trouble::WaitOnItself => {
                        expect_busy(shared, "its own chat", chat.history())
                    }
                    Trouble::None => {}
                }
            },
        )
    }));
    let outcome = match outcome {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("panicked".to_owned()),
    };
    after_turn(engine, shared, tracked, &text, outcome, "a blocking turn");
}

/// A streamed turn with a troubled listener; its handle kept, dropped at once, or parked for
/// another worker to cancel.
fn streamed_turn(engine: &Engine, shared: &Arc<Shared>, tracked: &mut Tracked, rng: &mut Rng) {
    let text = message(rng);
    let (tx, rx) = mpsc::channel();
    let trouble = trouble(rng);
    let reenter =
        matches!(trouble, Trouble::ReEnter).then(|| (Arc::clone(&tracked.chat), engine.clone()));
    let listener = new_listener(shared, reenter, trouble, 1 + rng.below(MAX_TOKENS), tx);
    let slot = Arc::clone(&listener.handle);
    let options = greedy(MAX_TOKENS, WhenBusy::Wait);
    // Held while the handle goes into the slot, so the listener cannot look before.
    let mut guard = slot.lock().unwrap();
    let handle = tracked
        .chat
        .send_async(&text, &options, Box::new(listener))
        .unwrap();
    match rng.below(3) {
        0 => *guard = Some(handle),
        1 => drop(handle),
        _ => shared.parked.lock().unwrap().push(handle),
    }
    drop(guard);
    let outcome = rx.recv().expect("a finish");
    slot.lock().unwrap().take();
    after_turn(engine, shared, tracked, &text, outcome, "a streamed turn");
}

/// Records the turn, and replays the chat after an aborted one (and one normal turn in four).
fn after_turn(
    engine: &Engine,
    shared: &Shared,
    tracked: &mut Tracked,
    text: &str,
    outcome: Result<Reply, String>,
    label: &str,
) {
    let aborted = !matches!(&outcome, Ok(r) if r.finish_reason != FinishReason::Cancelled);
    if !tracked.record(text, &outcome) {
        // An empty reply kept by a cancel: start a new chat rather than check it.
        *tracked = Tracked::new(engine);
        return;
    }
    if aborted {
        shared.aborted.fetch_add(1, Ordering::Relaxed);
    }
    if aborted || tracked.turns.len() == 1 {
        tracked.check(engine, shared, &format!("{label} ending {outcome:?}"));
    }
}

/// An engine of its own, dropped with its chat while a request runs: the request still
/// finishes exactly once.
fn drop_mid_generation(shared: &Arc<Shared>, rng: &mut Rng) {
    let engine = load();
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    let listener = new_listener(shared, None, Trouble::None, 0, tx);
    let handle = chat.send_async(
        &message(rng),
        &greedy(MAX_TOKENS, WhenBusy::Wait),
        Box::new(listener),
    );
    let handle = handle.unwrap();
    drop(chat);
    drop(engine);
    if rng.below(2) == 0 {
        drop(handle);
        let _ = rx.recv();
    } else {
        let _ = rx.recv();
        drop(handle);
    }
}

#[test]
fn threads_sharing_an_engine_never_deadlock_or_break_a_chat() {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let deliberate = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m == DELIBERATE);
        if !deliberate {
            default_hook(info);
        }
    }));
    let seed = env_or("GEMKIT_STRESS_SEED", 13);
    let seconds = env_or("GEMKIT_STRESS_SECONDS", 40);
    let engine = load();
    let shared = Arc::new(Shared::default());
    let workers: Vec<_> = (0..THREADS)
        .map(|me| {
            let (engine, shared) = (engine.clone(), Arc::clone(&shared));
            let rng = Rng::new(seed.wrapping_mul(31).wrapping_add(me as u64));
            std::thread::Builder::new()
                .name(format!("stress-{me}"))
                .spawn(move || worker(me, engine, shared, rng))
                .unwrap()
        })
        .collect();
    let start = Instant::now();
    let mut last = (Instant::now(), [0; THREADS]);
    while workers.iter().any(|w| !w.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        if start.elapsed() > Duration::from_secs(seconds) {
            shared.stop.store(true, Ordering::Release);
        }
        let now: [usize; THREADS] =
            std::array::from_fn(|i| shared.progress[i].load(Ordering::Acquire));
        let moved = now.iter().zip(&last.1).any(|(a, b)| a != b);
        if moved || workers.iter().all(|w| w.is_finished()) {
            last = (Instant::now(), now);
        } else if last.0.elapsed() > STALLED {
            let doing: Vec<String> = shared
                .doing
                .iter()
                .map(|d| d.lock().unwrap().clone())
                .collect();
            panic!(
                "no worker progressed for {STALLED:?}: a deadlock. Workers: {doing:#?}; \
                 {} requests submitted, {} finished",
                shared.submitted.load(Ordering::Acquire),
                shared.finished.load(Ordering::Acquire)
            );
        }
    }
    for w in workers {
        w.join().expect("a worker panicked");
    }
    drop(shared.parked.lock().unwrap().drain(..));
    let (submitted, finished) = (
        shared.submitted.load(Ordering::Acquire),
        shared.finished.load(Ordering::Acquire),
    );
    let operations: usize = shared
        .progress
        .iter()
        .map(|p| p.load(Ordering::Acquire))
        .sum();
    gemkit_tests::report(format_args!(
        "stress (seed {seed}, {:.1} s, {THREADS} threads): {operations} operations, {submitted} streamed requests \
         ({finished} finishes), {} replays checked ({} after aborted turns)",
        start.elapsed().as_secs_f64(),
        shared.replays.load(Ordering::Relaxed),
        shared.aborted.load(Ordering::Relaxed),
    ));
    let broken = shared.broken.lock().unwrap();
    assert!(broken.is_empty(), "{} failures: {broken:#?}", broken.len());
    assert_eq!(
        finished, submitted,
        "exactly one finish per streamed request"
    );
}
