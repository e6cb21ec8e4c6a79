//! The threads an engine compiles on ([`PooledPlatform`]): started at its
//! first parallel compilation, parked between compilations, stopped and
//! joined when the engine is dropped.
//!
//! Starting a thread per compilation, as a scoped thread would, costs more
//! than the thread's creation: each new thread starts cold, with a fresh
//! stack and thread-local state, and its first allocations fault fresh
//! pages in. A kept thread finds all that ready at the next compilation,
//! the one after validation included (each module is validated and then
//! compiled in parallel).
//!
//! A batch of jobs ([`Platform::run_parallel`]) is shared, not dealt out:
//! the calling thread and the workers take the next job not yet taken
//! until none is left, so a thread that is late to start (or slowed by
//! the machine) takes fewer jobs rather than holding up the others. A
//! job that panics is abandoned (the panic is caught on whichever thread
//! ran it), and the thread goes on with the next.
//!
//! One batch runs on the pool at a time: a second thread calling
//! [`Platform::run_parallel`] meanwhile (two modules compiled at once on
//! one engine) runs its batch on threads of its own, scoped to the call.

// Without the compiler nothing runs in parallel.
#![cfg_attr(not(feature = "compiler"), allow(dead_code))]

use crate::code_memory::CodeMemory;
use crate::platform::{GuardRegions, Platform};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::thread::JoinHandle;

/// A job of a batch, with its borrows' lifetimes erased (see [`Batch`]).
type Job = &'static mut (dyn FnMut() + Send + 'static);

/// The jobs of the running batch: the slice [`Platform::run_parallel`]
/// was given.
#[derive(Clone, Copy)]
struct Batch {
    jobs: *mut [Job],
}

// SAFETY: the jobs are `Send`, and each is run by one thread only (the
// one whose claim of `Shared::next` returned its index); the pointer is
// used only while the batch runs (see `PooledPlatform::run_parallel`).
unsafe impl Send for Batch {}

/// What the workers and the calling thread share.
struct Shared {
    state: Mutex<State>,
    /// Signalled when a batch starts or the pool shuts down.
    wake: Condvar,
    /// Signalled when the last worker leaves a batch.
    idle: Condvar,
    /// The index of the next job of the running batch to take.
    next: AtomicUsize,
}

struct State {
    /// The running batch, if any.
    batch: Option<Batch>,
    /// Counts the batches started: a worker joins each at most once.
    generation: u64,
    /// How many workers are running jobs of the batch.
    running: usize,
    shutdown: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and their panics are caught, so the
        // state is consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes and runs jobs of `batch` until none is left.
    ///
    /// # Safety
    /// `batch` is the running batch, and its jobs stay alive until every
    /// thread has returned from this.
    unsafe fn run(&self, batch: Batch) {
        let len = batch.jobs.len();
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            if k >= len {
                return;
            }
            // SAFETY: `k` is in bounds and claimed by this thread alone
            // (`fetch_add` gives each index once per batch), and the job
            // is alive (this function's contract).
            let job = unsafe { &mut *batch.jobs.cast::<Job>().add(k) };
            // A panicked job leaves its result unset, which its owner
            // reports; the thread goes on with the others.
            let _ = catch_unwind(AssertUnwindSafe(job));
        }
    }
}

/// A worker: runs its share of every batch until the pool shuts down.
fn work(shared: &Shared) {
    let mut seen = 0;
    let mut state = shared.lock();
    loop {
        while state.generation == seen && !state.shutdown {
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.shutdown {
            return;
        }
        seen = state.generation;
        let Some(batch) = state.batch else {
            // The batch ended before this worker woke.
            continue;
        };
        state.running += 1;
        drop(state);
        // SAFETY: the batch is running (taken under the lock), and its
        // caller waits for `running` to drop to zero before it returns.
        unsafe { shared.run(batch) };
        state = shared.lock();
        state.running -= 1;
        if state.running == 0 {
            shared.idle.notify_all();
        }
    }
}

/// The Linux services ([`super::Linux`]) with compiling threads that are
/// kept between compilations (see the module docs). Each engine owns one.
pub(crate) struct PooledPlatform {
    base: &'static dyn Platform,
    shared: Arc<Shared>,
    /// The workers once started (`None` before the first batch).
    workers: Mutex<Option<Vec<JoinHandle<()>>>>,
    /// Held while a batch runs on the pool.
    busy: Mutex<()>,
    parallelism: OnceLock<usize>,
}

impl PooledPlatform {
    /// `base`'s services, with its threads kept between batches.
    pub(crate) fn new(base: &'static dyn Platform) -> Self {
        Self {
            base,
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    batch: None,
                    generation: 0,
                    running: 0,
                    shutdown: false,
                }),
                wake: Condvar::new(),
                idle: Condvar::new(),
                next: AtomicUsize::new(0),
            }),
            workers: Mutex::new(None),
            busy: Mutex::new(()),
            parallelism: OnceLock::new(),
        }
    }

    /// How many workers have been started (0 before the first batch).
    #[cfg(test)]
    fn workers(&self) -> usize {
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, Vec::len)
    }

    /// Starts the workers if they are not yet: one fewer than the threads
    /// that run at once, the calling thread being the other. A worker the
    /// system refuses to start is done without: the calling thread runs
    /// what is left.
    fn start_workers(&self) {
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        if workers.is_some() {
            return;
        }
        let wanted = self.parallelism().saturating_sub(1);
        let started = (0..wanted)
            .map_while(|_| {
                let shared = self.shared.clone();
                std::thread::Builder::new()
                    .name("wasmkern-worker".into())
                    .spawn(move || work(&shared))
                    .ok()
            })
            .collect();
        *workers = Some(started);
    }
}

impl Drop for PooledPlatform {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_all();
        let workers = self
            .workers
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for worker in workers.take().into_iter().flatten() {
            // Workers catch their jobs' panics; there is nothing to report.
            let _ = worker.join();
        }
    }
}

impl Platform for PooledPlatform {
    fn prefault(&self, buf: &mut [MaybeUninit<u8>]) {
        self.base.prefault(buf);
    }

    fn default_code_memory(&self) -> Option<Arc<dyn CodeMemory>> {
        self.base.default_code_memory()
    }

    fn guard_regions(&self) -> Option<&'static dyn GuardRegions> {
        self.base.guard_regions()
    }

    fn parallelism(&self) -> usize {
        // Asking the system reads several files (cgroup limits): once is
        // enough for an engine.
        *self.parallelism.get_or_init(|| self.base.parallelism())
    }

    fn run_parallel(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
        if jobs.len() < 2 {
            return run_scoped(jobs, 1);
        }
        let _busy = match self.busy.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Another batch holds the pool.
            Err(TryLockError::WouldBlock) => return run_scoped(jobs, self.parallelism()),
        };
        self.start_workers();
        let jobs: *mut [&mut (dyn FnMut() + Send)] = jobs;
        // SAFETY: only the lifetimes change; the pointer is used only
        // until every thread has left the batch, below, before `jobs`'s
        // borrow ends.
        let jobs =
            unsafe { core::mem::transmute::<*mut [&mut (dyn FnMut() + Send)], *mut [Job]>(jobs) };
        let batch = Batch { jobs };
        {
            let mut state = self.shared.lock();
            self.shared.next.store(0, Ordering::Relaxed);
            state.batch = Some(batch);
            state.generation += 1;
        }
        self.shared.wake.notify_all();
        // SAFETY: the batch is running, and this thread waits below for
        // the workers to leave it before the jobs' borrow ends.
        unsafe { self.shared.run(batch) };
        let mut state = self.shared.lock();
        state.batch = None;
        while state.running > 0 {
            state = self
                .shared
                .idle
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Runs every job once, on the calling thread and on at most `threads - 1`
/// scoped threads of its own (one fewer than the jobs if that is fewer),
/// which take the jobs in order as they come free, as the pool's do.
pub(crate) fn run_scoped(jobs: &mut [&mut (dyn FnMut() + Send)], threads: usize) {
    let helpers = threads.min(jobs.len()).saturating_sub(1);
    // Each job once, to the thread whose claim took its index.
    let claims: Vec<Mutex<Option<&mut &mut (dyn FnMut() + Send)>>> =
        jobs.iter_mut().map(|job| Mutex::new(Some(job))).collect();
    let next = AtomicUsize::new(0);
    let run = || {
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(claim) = claims.get(k) else {
                return;
            };
            let job = claim.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(job) = job {
                // A panicked job left its result unset, which its owner
                // reports; the thread goes on with the others.
                let _ = catch_unwind(AssertUnwindSafe(job));
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(run);
        }
        run();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicU32;

    /// The Linux services, claiming `threads` cores.
    struct Cores(usize);

    impl Platform for Cores {
        fn parallelism(&self) -> usize {
            self.0
        }
        fn run_parallel(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
            run_scoped(jobs, self.0);
        }
    }

    static THREE: Cores = Cores(3);

    /// Runs `n` jobs on `pool`, job `k` adding `k + 1` to a sum and
    /// recording its thread; returns the sum and the distinct threads.
    fn batch(pool: &PooledPlatform, n: usize) -> (u32, usize) {
        let sum = AtomicU32::new(0);
        let threads = Mutex::new(Vec::new());
        let mut closures: Vec<_> = (0..n)
            .map(|k| {
                let (sum, threads) = (&sum, &threads);
                move || {
                    sum.fetch_add(k as u32 + 1, Ordering::Relaxed);
                    // Long enough for the workers to wake and take some.
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    let id = std::thread::current().id();
                    let mut threads = threads.lock().unwrap();
                    if !threads.contains(&id) {
                        threads.push(id);
                    }
                }
            })
            .collect();
        run_all(pool, &mut closures);
        let threads = threads.lock().unwrap().len();
        (sum.into_inner(), threads)
    }

    /// Runs `closures` as one batch on `pool`.
    fn run_all(pool: &PooledPlatform, closures: &mut [impl FnMut() + Send]) {
        let mut jobs: Vec<&mut (dyn FnMut() + Send)> = closures
            .iter_mut()
            .map(|c| c as &mut (dyn FnMut() + Send))
            .collect();
        pool.run_parallel(&mut jobs);
    }

    #[test]
    fn every_job_runs_once_on_the_kept_workers() {
        let pool = PooledPlatform::new(&THREE);
        assert_eq!(pool.workers(), 0, "no worker before the first batch");
        for n in [2, 3, 10, 1, 0, 7] {
            let (sum, threads) = batch(&pool, n);
            assert_eq!(sum as usize, n * (n + 1) / 2, "{n} jobs");
            assert!(threads <= 3, "{n} jobs ran on {threads} threads");
        }
        assert_eq!(pool.workers(), 2, "two workers beside the caller");
    }

    #[test]
    fn a_panicking_job_leaves_the_others_and_the_workers_running() {
        let pool = PooledPlatform::new(&THREE);
        for _ in 0..3 {
            let done = AtomicU32::new(0);
            let mut closures: Vec<_> = (0..6)
                .map(|k| {
                    let done = &done;
                    move || {
                        if k % 2 == 1 {
                            panic!("job {k} fails (a test of panics)");
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .collect();
            run_all(&pool, &mut closures);
            assert_eq!(done.into_inner(), 3);
        }
        assert_eq!(batch(&pool, 5).0, 15, "the workers survive the panics");
    }

    #[test]
    fn concurrent_batches_all_complete() {
        let pool = PooledPlatform::new(&THREE);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..5).map(|_| batch(&pool, 6).0).collect::<Vec<_>>()))
                .collect();
            for handle in handles {
                assert_eq!(handle.join().unwrap(), [21; 5]);
            }
        });
    }

    #[test]
    fn scoped_batches_run_every_job_once_on_at_most_their_threads() {
        for (n, threads) in [(10, 3), (7, 2), (3, 8), (4, 1), (1, 3), (0, 2)] {
            let sum = AtomicU32::new(0);
            let ids = Mutex::new(Vec::new());
            let mut closures: Vec<_> = (0..n)
                .map(|k| {
                    let (sum, ids) = (&sum, &ids);
                    move || {
                        sum.fetch_add(k as u32 + 1, Ordering::Relaxed);
                        // Long enough for every helper to start.
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        let id = std::thread::current().id();
                        let mut ids = ids.lock().unwrap();
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                })
                .collect();
            let mut jobs: Vec<&mut (dyn FnMut() + Send)> = closures
                .iter_mut()
                .map(|c| c as &mut (dyn FnMut() + Send))
                .collect();
            run_scoped(&mut jobs, threads);
            drop(jobs);
            assert_eq!(sum.into_inner() as usize, n * (n + 1) / 2, "{n} jobs");
            let used = ids.into_inner().unwrap().len();
            assert!(used <= threads.min(n.max(1)), "{n} jobs on {used} threads");
        }
    }
}
