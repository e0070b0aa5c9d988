//! Freeing memory when the app is short of it, on the real 270M: idle chats' caches go to disk
//! and come back, prefixes are prefilled again, the model unloads and reloads, and every chat
//! then continues with exactly the greedy ids of a twin that was never touched.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use gemkit::{
    CancelToken, Chat, ChatOptions, Engine, FinishReason, GenerateOptions, Listener, ModelOptions,
    Release, Reply,
};

use crate::chat::{engine, greedy_options, send};

fn options() -> ModelOptions {
    ModelOptions {
        context_length: Some(512),
        ..ModelOptions::default()
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gemkit-release-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// Two turns on a chat of `engine`, with `release` between them, against the same two turns
/// on an untouched twin engine.
fn continues_like_its_twin(what: Release, prefix: bool) {
    let dir = scratch_dir(&format!("{what:?}-{prefix}"));
    let (touched, twin) = (engine(options()), engine(options()));
    let chat_options = ChatOptions {
        system: Some("Answer briefly.".into()),
        ..ChatOptions::default()
    };
    let open = |e: &Engine| -> Chat {
        match prefix {
            true => e
                .new_chat_from(&e.chat_prefix(&chat_options).unwrap())
                .unwrap(),
            false => e.new_chat(&chat_options).unwrap(),
        }
    };
    let (chat, twin_chat) = (open(&touched), open(&twin));
    let first = send(&chat, "Name three colours.", 12);
    assert_eq!(first.ids, send(&twin_chat, "Name three colours.", 12).ids);

    let before = touched.memory_in_use();
    let released = touched.release_memory(what, &dir, "test").unwrap();
    assert_eq!(released.chats_offloaded, 1, "{released:?}");
    assert_eq!(released.chats_busy, 0);
    assert_eq!(released.prefixes_freed, usize::from(prefix));
    assert_eq!(files_in(&dir), 1, "the chat's cache waits on disk");
    match what {
        Release::Caches => {
            assert!(released.bytes > 0);
            assert_eq!(touched.memory_in_use(), before - released.bytes);
            assert_eq!(touched.unloaded_reason(), None);
        }
        Release::Model => {
            assert_eq!(released.bytes, before, "everything the budget counted");
            assert_eq!(touched.memory_in_use(), 0);
            assert_eq!(touched.unloaded_reason().as_deref(), Some("test"));
        }
    }

    let second = send(&chat, "And three animals?", 16);
    assert_eq!(second.ids, send(&twin_chat, "And three animals?", 16).ids);
    assert_eq!(chat.history().unwrap(), twin_chat.history().unwrap());
    assert_eq!(files_in(&dir), 0, "read back and removed");
    assert_eq!(touched.unloaded_reason(), None, "loaded again by the turn");
    if prefix {
        // A chat made from the freed prefix after the release: the prefix is prefilled again.
        let late = touched.new_chat_from(&touched.chat_prefix(&chat_options).unwrap());
        let reply = send(&late.unwrap(), "Name three colours.", 12);
        assert_eq!(reply.ids, first.ids);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_chat_whose_cache_was_freed_continues_exactly_where_it_was() {
    continues_like_its_twin(Release::Caches, false);
    continues_like_its_twin(Release::Caches, true);
}

#[test]
fn a_chat_continues_exactly_after_the_model_was_unloaded() {
    continues_like_its_twin(Release::Model, false);
    continues_like_its_twin(Release::Model, true);
}

#[test]
fn an_offloaded_chat_that_is_dropped_leaves_no_file() {
    let dir = scratch_dir("dropped");
    let engine = engine(options());
    let chat = engine.new_chat(&ChatOptions::default()).unwrap();
    send(&chat, "Hello", 4);
    engine
        .release_memory(Release::Caches, &dir, "test")
        .unwrap();
    assert_eq!(files_in(&dir), 1);
    drop(chat);
    assert_eq!(files_in(&dir), 0);
}

/// Forwards a streamed request's events; blocks in its first `on_text` until told to go on.
struct Gate {
    started: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
    finished: mpsc::Sender<Reply>,
    first: bool,
}

impl Listener for Gate {
    fn on_text(&mut self, _: &str) -> bool {
        if self.first {
            self.first = false;
            self.started.send(()).unwrap();
            self.go.recv().unwrap();
        }
        true
    }

    fn on_finish(self: Box<Self>, result: gemkit::Result<Reply>) {
        self.finished
            .send(result.expect("the request runs"))
            .unwrap();
    }
}

fn gated(
    chat: &Chat,
    max_tokens: usize,
) -> (
    gemkit::GenerationHandle,
    mpsc::Receiver<()>,
    mpsc::Sender<()>,
    mpsc::Receiver<Reply>,
) {
    let (started, started_rx) = mpsc::channel();
    let (go_tx, go) = mpsc::channel();
    let (finished, finished_rx) = mpsc::channel();
    let gate = Gate {
        started,
        go,
        finished,
        first: true,
    };
    let handle = chat
        .send_async(
            "Count to twenty.",
            &greedy_options(max_tokens),
            Box::new(gate),
        )
        .unwrap();
    (handle, started_rx, go_tx, finished_rx)
}

#[test]
fn freeing_caches_never_touches_a_running_generation() {
    let dir = scratch_dir("running");
    let engine = engine(options());
    let (running, idle) = (
        engine.new_chat(&ChatOptions::default()).unwrap(),
        engine.new_chat(&ChatOptions::default()).unwrap(),
    );
    send(&idle, "Hello", 4);
    let (_handle, started, go, finished) = gated(&running, 12);
    started.recv_timeout(Duration::from_secs(60)).unwrap();
    let released = engine
        .release_memory(Release::Caches, &dir, "test")
        .unwrap();
    assert_eq!((released.chats_offloaded, released.chats_busy), (1, 1));
    go.send(()).unwrap();
    let reply = finished.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(
        reply.finish_reason,
        FinishReason::Length,
        "it ran to its limit"
    );
    assert_eq!(reply.ids.len(), 12);
}

#[test]
fn unloading_cancels_running_and_queued_requests() {
    let dir = scratch_dir("unload");
    let engine = engine(options());
    let (first, second) = (
        engine.new_chat(&ChatOptions::default()).unwrap(),
        engine.new_chat(&ChatOptions::default()).unwrap(),
    );
    let (_running, started, go, finished) = gated(&first, 64);
    started.recv_timeout(Duration::from_secs(60)).unwrap();
    let (queued_tx, queued_rx) = mpsc::channel();
    let _queued = engine
        .complete_async(
            None,
            "Once upon a time",
            &GenerateOptions {
                max_tokens: 64,
                ..greedy_options(64)
            },
            Box::new(crate::engine::Collect(queued_tx)),
        )
        .unwrap();
    // Unloading waits for the running request, which the gate holds until it is cancelled.
    let releaser = {
        let engine = engine.clone();
        let dir = dir.clone();
        std::thread::spawn(move || engine.release_memory(Release::Model, &dir, "trim").unwrap())
    };
    std::thread::sleep(Duration::from_millis(200));
    go.send(()).unwrap();
    let released = releaser.join().unwrap();
    let reply = finished.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(reply.finish_reason, FinishReason::Cancelled);
    assert!(
        reply.ids.len() <= 2,
        "stopped within a token: {} tokens",
        reply.ids.len()
    );
    let (_, queued) = crate::engine::collect(&queued_rx);
    let queued = queued.expect("the queued completion finishes");
    assert_eq!(queued.finish_reason, FinishReason::Cancelled);
    assert!(queued.ids.is_empty(), "a queued request never starts");
    assert_eq!(released.chats_offloaded, 2);
    // The next request loads the model again.
    let reply = second
        .send(
            "Hello",
            &greedy_options(4),
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(reply.ids.len(), 4);
    assert_eq!(engine.unloaded_reason(), None);
}
