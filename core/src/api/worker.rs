//! The model's own thread for streamed requests: `*_async` calls return at once with a
//! [`GenerationHandle`] and the work runs here, one request after another, while a
//! [`Listener`] receives the text and then exactly one result.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::ThreadId;

use crate::error::{Error, Result};
use crate::generate::Reply;
use crate::runtime::control::CancelToken;

/// Receives a streamed request's text on the model's thread.
pub trait Listener: Send {
    /// A piece of the reply: whole UTF-8 characters, never part of a stop string. Returning
    /// false cancels the request (as a listener whose app callback failed must).
    fn on_text(&mut self, text: &str) -> bool;
    /// Called once, last: the reply (also when cancelled) or the error.
    fn on_finish(self: Box<Self>, result: Result<Reply>);
}

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct Worker {
    jobs: Sender<Job>,
    /// Requests submitted whose result does not exist yet.
    queued: Arc<AtomicUsize>,
    /// The worker thread's id, so a handle can refuse to be waited on from it.
    thread: ThreadId,
}

impl Worker {
    pub fn start() -> Result<Worker> {
        let (jobs, receiver) = channel::<Job>();
        let queued = Arc::new(AtomicUsize::new(0));
        // The thread owns only the receiver: when the engine (and its sender) is dropped, the
        // loop ends after the jobs already queued.
        let thread = std::thread::Builder::new()
            .name("gemkit-worker".into())
            .spawn(move || {
                for job in receiver {
                    job();
                }
            })
            .map_err(|e| Error::InvalidArgument(format!("cannot start the model's thread: {e}")))?
            .thread()
            .id();
        Ok(Worker {
            jobs,
            queued,
            thread,
        })
    }

    /// Whether a request is running or waiting.
    pub fn is_busy(&self) -> bool {
        self.queued.load(Ordering::Acquire) > 0
    }

    /// Runs `work` on the worker thread and hands its result to `listener`; `cancel` stops it,
    /// and so do the returned handle's `cancel` and its drop.
    pub fn submit(
        &self,
        cancel: CancelToken,
        listener: Box<dyn Listener>,
        work: impl FnOnce(&CancelToken, &mut dyn FnMut(&str)) -> Result<Reply> + Send + 'static,
    ) -> GenerationHandle {
        let handle = GenerationHandle {
            cancel,
            done: Arc::new((Mutex::new(false), Condvar::new())),
            worker: self.thread,
        };
        let cancel = handle.cancel.clone();
        let done = Arc::clone(&handle.done);
        let queued = Arc::clone(&self.queued);
        queued.fetch_add(1, Ordering::AcqRel);
        let job: Job = Box::new(move || {
            let mut listener = listener;
            // A panic (a bug, or a listener that panics) must not take the thread down with the
            // requests queued behind it.
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                work(&cancel, &mut |text| {
                    if !listener.on_text(text) {
                        cancel.cancel();
                    }
                })
            }))
            .unwrap_or_else(|_| Err(Error::Internal("the request panicked".into())));
            // The request is over once its result exists: an app that sends again from
            // `on_finish`, or the moment it has the reply, must not be told the model is busy.
            queued.fetch_sub(1, Ordering::AcqRel);
            if panic::catch_unwind(AssertUnwindSafe(|| listener.on_finish(result))).is_err() {
                log::error!("a listener panicked in on_finish");
            }
            let (finished, signal) = &*done;
            *finished.lock().unwrap_or_else(PoisonError::into_inner) = true;
            signal.notify_all();
        });
        if let Err(unsent) = self.jobs.send(job) {
            // The thread is gone (it cannot be while the engine lives); run here rather than lose it.
            (unsent.0)();
        }
        handle
    }
}

/// A streamed request in flight. Cancel it from any thread; dropping it cancels too.
pub struct GenerationHandle {
    cancel: CancelToken,
    done: Arc<(Mutex<bool>, Condvar)>,
    worker: ThreadId,
}

impl GenerationHandle {
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether the listener has had its result.
    pub fn is_finished(&self) -> bool {
        *self.done.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until the listener has had its result. Fails with [`Error::Busy`] when called
    /// on the model's own thread (from a listener), where the wait could never end.
    pub fn wait(&self) -> Result<()> {
        if std::thread::current().id() == self.worker {
            return Err(Error::Busy(
                "a listener cannot wait for a request on the model's thread, which it is blocking"
                    .into(),
            ));
        }
        let (finished, signal) = &*self.done;
        let mut done = finished.lock().unwrap_or_else(PoisonError::into_inner);
        while !*done {
            done = signal.wait(done).unwrap_or_else(PoisonError::into_inner);
        }
        Ok(())
    }
}

impl Drop for GenerationHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
