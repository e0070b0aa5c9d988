//! A small pool of compute threads that split one operation (a matmul, an attention pass) into
//! tasks. The calling thread works too, so `n` threads means `n - 1` workers. Between the
//! operations of one token (tens of microseconds apart) a worker spins briefly on an atomic, as
//! a wake-up through the kernel costs about as much as the work; past that short spin it
//! sleeps on a condition variable, so an idle or busy phone loses nothing to it.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// The task function of the job in flight, with its lifetime erased. `run` does not return
/// before every worker has finished with it, which is what makes the erasure sound.
#[derive(Clone, Copy)]
struct Job {
    task: *const (dyn Fn(usize) + Sync),
    n_tasks: usize,
}

// SAFETY: the pointee is Sync and outlives every use (see `Job`).
unsafe impl Send for Job {}

struct State {
    epoch: u64,
    job: Option<Job>,
    busy_workers: usize,
    panicked: bool,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    work_ready: Condvar,
    work_done: Condvar,
    next_task: AtomicUsize,
    /// `State::epoch`, readable without the lock, for spinning workers.
    published_epoch: AtomicU64,
    /// `State::busy_workers`, readable without the lock, for the spinning caller.
    busy_workers: AtomicUsize,
}

/// Spin iterations (each a pause instruction, tens of nanoseconds) before sleeping.
const SPIN_LIMIT: u32 = 2_000;

/// Spins until `done()` or the spin limit; true if `done()` became true.
fn spin_until(done: impl Fn() -> bool) -> bool {
    for _ in 0..SPIN_LIMIT {
        if done() {
            return true;
        }
        std::hint::spin_loop();
    }
    done()
}

pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Serializes `run` calls: one job is in flight at a time.
    running: Mutex<()>,
}

impl ThreadPool {
    /// A pool where `run` uses `n_threads` threads in all (at least one: the caller).
    pub fn new(n_threads: usize) -> std::io::Result<ThreadPool> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                epoch: 0,
                job: None,
                busy_workers: 0,
                panicked: false,
                shutdown: false,
            }),
            work_ready: Condvar::new(),
            work_done: Condvar::new(),
            next_task: AtomicUsize::new(0),
            published_epoch: AtomicU64::new(0),
            busy_workers: AtomicUsize::new(0),
        });
        let mut pool = ThreadPool {
            shared,
            workers: Vec::new(),
            running: Mutex::new(()),
        };
        for i in 1..n_threads.max(1) {
            let shared = pool.shared.clone();
            // On failure, dropping `pool` stops the workers already started.
            let worker = std::thread::Builder::new()
                .name(format!("gemkit-compute-{i}"))
                .spawn(move || worker_loop(&shared))?;
            pool.workers.push(worker);
        }
        Ok(pool)
    }

    pub fn n_threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Calls `task(i)` for every `i < n_tasks`, spread over the pool; returns when all are done.
    /// A panic in a task is re-raised here after the other tasks finish.
    pub fn run(&self, n_tasks: usize, task: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() || n_tasks <= 1 {
            (0..n_tasks).for_each(task);
            return;
        }
        let _one_at_a_time = self.running.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: only the lifetime is erased; we wait below until no worker holds the pointer.
        let task: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(task) };
        let job = Job { task, n_tasks };
        {
            let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.next_task.store(0, Ordering::Relaxed);
            state.job = Some(job);
            state.epoch += 1;
            state.busy_workers = self.workers.len();
            state.panicked = false;
            self.shared
                .busy_workers
                .store(self.workers.len(), Ordering::Release);
            self.shared
                .published_epoch
                .store(state.epoch, Ordering::Release);
        }
        self.shared.work_ready.notify_all();

        let caller_result = panic::catch_unwind(AssertUnwindSafe(|| do_tasks(&self.shared, job)));

        spin_until(|| self.shared.busy_workers.load(Ordering::Acquire) == 0);
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.busy_workers > 0 {
            state = self
                .shared
                .work_done
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.job = None;
        let worker_panicked = state.panicked;
        drop(state);
        if let Err(payload) = caller_result {
            panic::resume_unwind(payload);
        }
        if worker_panicked {
            panic!("a compute task panicked");
        }
    }
}

fn do_tasks(shared: &Shared, job: Job) {
    loop {
        let i = shared.next_task.fetch_add(1, Ordering::Relaxed);
        if i >= job.n_tasks {
            return;
        }
        // SAFETY: see `Job`.
        unsafe { (*job.task)(i) };
    }
}

fn worker_loop(shared: &Shared) {
    let mut seen_epoch = 0;
    loop {
        spin_until(|| shared.published_epoch.load(Ordering::Acquire) != seen_epoch);
        let job = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            while state.epoch == seen_epoch && !state.shutdown {
                state = shared
                    .work_ready
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if state.shutdown {
                return;
            }
            seen_epoch = state.epoch;
            state.job
        };
        let ok = match job {
            Some(job) => panic::catch_unwind(AssertUnwindSafe(|| do_tasks(shared, job))).is_ok(),
            None => true,
        };
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.panicked |= !ok;
        state.busy_workers -= 1;
        shared.busy_workers.fetch_sub(1, Ordering::Release);
        if state.busy_workers == 0 {
            shared.work_done.notify_one();
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .shutdown = true;
        self.shared.work_ready.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// A raw pointer that tasks may share, for writing disjoint parts of one output buffer.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<T>(*mut T);

// SAFETY: users write only disjoint indices from different tasks.
unsafe impl<T: Send> Send for SharedMut<T> {}
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    pub fn new(slice: &mut [T]) -> Self {
        SharedMut(slice.as_mut_ptr())
    }

    /// # Safety
    /// `i` is in bounds of the slice given to `new`, which is still borrowed, and no other
    /// task touches index `i` during the job.
    pub unsafe fn write(self, i: usize, value: T) {
        unsafe { self.0.add(i).write(value) }
    }

    /// The address of index `i`, for kernels that write through raw pointers.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub fn at(self, i: usize) -> *mut T {
        self.0.wrapping_add(i)
    }

    /// # Safety
    /// As for `write`, for the whole range `start..start + len`.
    pub unsafe fn slice_mut<'a>(self, start: usize, len: usize) -> &'a mut [T] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once() {
        for threads in [1, 2, 4] {
            let pool = ThreadPool::new(threads).unwrap();
            for n in [0, 1, 2, 7, 100] {
                let sum = AtomicU64::new(0);
                let count = AtomicUsize::new(0);
                pool.run(n, &|i| {
                    sum.fetch_add(i as u64, Ordering::Relaxed);
                    count.fetch_add(1, Ordering::Relaxed);
                });
                assert_eq!(count.load(Ordering::Relaxed), n);
                assert_eq!(
                    sum.load(Ordering::Relaxed),
                    (n as u64) * (n as u64).saturating_sub(1) / 2
                );
            }
        }
    }

    #[test]
    fn a_panicking_task_is_reported_and_the_pool_still_works() {
        let pool = ThreadPool::new(2).unwrap();
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.run(8, &|i| {
                if i == 5 {
                    panic!("boom");
                }
            })
        }));
        assert!(r.is_err());
        let count = AtomicUsize::new(0);
        pool.run(8, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 8);
    }
}
