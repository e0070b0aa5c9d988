//! Cancellation and the locks that serialize work on a model or a chat. A lock taken again by
//! the thread that holds it (a streaming callback calling back into the API) answers
//! [`Error::Busy`] instead of deadlocking, and a caller may ask to fail rather than wait.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use crate::error::{Error, Result};

/// Stops a generation from any thread. It takes effect within one decode step or one prefill
/// chunk; clones share the same flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Whether `other` is a clone of this token (shares its flag).
    pub fn same(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What a call does when the model or chat it needs is in use by another call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenBusy {
    /// Wait for the other call to finish.
    #[default]
    Wait,
    /// Fail at once with [`Error::Busy`].
    Fail,
}

/// A small number for the current thread, unique for the life of the process (never 0).
fn thread_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static NUMBER: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
    NUMBER.with(|n| *n)
}

/// A mutex that knows which thread holds it.
pub(crate) struct Exclusive<T> {
    value: Mutex<T>,
    owner: AtomicU64,
    what: &'static str,
}

pub(crate) struct ExclusiveGuard<'a, T> {
    guard: MutexGuard<'a, T>,
    owner: &'a AtomicU64,
}

impl<T> Exclusive<T> {
    /// `what` names the resource in busy errors, e.g. "the model".
    pub fn new(value: T, what: &'static str) -> Exclusive<T> {
        Exclusive {
            value: Mutex::new(value),
            owner: AtomicU64::new(0),
            what,
        }
    }

    pub fn lock(&self, when_busy: WhenBusy) -> Result<ExclusiveGuard<'_, T>> {
        let me = thread_number();
        if self.owner.load(Ordering::Acquire) == me {
            return Err(Error::Busy(format!(
                "{} is in use by this thread (a callback called back into it)",
                self.what
            )));
        }
        // A panic while held leaves nothing half-written that later calls rely on: chat state
        // is replaced whole at the end of a turn, so the poison flag is ignored.
        let guard = match when_busy {
            WhenBusy::Wait => self.value.lock().unwrap_or_else(PoisonError::into_inner),
            WhenBusy::Fail => match self.value.try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Busy(format!(
                        "{} is in use by another call",
                        self.what
                    )))
                }
            },
        };
        self.owner.store(me, Ordering::Release);
        Ok(ExclusiveGuard {
            guard,
            owner: &self.owner,
        })
    }

    /// Whether another call holds the lock right now.
    pub fn is_locked(&self) -> bool {
        self.owner.load(Ordering::Acquire) != 0
    }

    /// The value, with no other reference to the lock left.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Drop for ExclusiveGuard<'_, T> {
    fn drop(&mut self) {
        self.owner.store(0, Ordering::Release);
    }
}

impl<T> Deref for ExclusiveGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for ExclusiveGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocking_on_the_same_thread_is_busy_not_a_deadlock() {
        let lock = Exclusive::new(0, "the model");
        let _held = lock.lock(WhenBusy::Wait).unwrap();
        let err = lock.lock(WhenBusy::Wait).err().unwrap();
        assert!(err.to_string().contains("callback"), "{err}");
    }

    #[test]
    fn fail_when_busy_does_not_wait() {
        let lock = Arc::new(Exclusive::new(0, "the model"));
        let held = lock.lock(WhenBusy::Wait).unwrap();
        let other = Arc::clone(&lock);
        let busy = std::thread::spawn(move || other.lock(WhenBusy::Fail).is_err())
            .join()
            .unwrap();
        assert!(busy);
        drop(held);
        let other = Arc::clone(&lock);
        assert!(
            std::thread::spawn(move || other.lock(WhenBusy::Fail).is_ok())
                .join()
                .unwrap()
        );
    }

    #[test]
    fn cancel_is_shared_by_clones() {
        let a = CancelToken::new();
        let b = a.clone();
        b.cancel();
        assert!(a.is_cancelled());
    }
}
