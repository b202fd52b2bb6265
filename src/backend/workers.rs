//! Persistent worker threads that run the shards of every epoch.
//!
//! An epoch of a 1000-neuron network is a few microseconds of work, and of a 100,000-
//! neuron one a few hundred. A fork-join pool whose idle threads sleep on a futex (rayon)
//! costs 5–15 µs per epoch to wake them on this machine — as much as the work itself —
//! and made two threads no faster than one (BENCHMARKS.md). So threads wait for the next
//! epoch spinning, but only briefly, and then park; and the shards are not bound to
//! threads: the caller and every awake worker claim shards from a shared counter until
//! none is left. On a quiet machine each thread claims its own shard within a
//! microsecond. On a shared one (another busy process, an oversubscribed node) a worker
//! that is not running claims nothing: the caller runs its shards itself instead of
//! waiting a scheduler time slice for it, and a worker that keeps arriving too late is
//! woken less and less often, so that it stops competing for the core the caller needs.
//! Results do not depend on who ran a shard: each shard owns its state.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

type Job<'a, S> = dyn Fn(&mut S) + Sync + 'a;

/// How long a thread spins for the next epoch (or for the last shard of this one)
/// before it parks. Epochs follow each other within 1–5 µs in the 2003 network and
/// within ~20 µs at 10⁵ neurons on this machine, while a futex wake-up costs 5–50 µs:
/// 50 µs of spinning covers the gaps of a running simulation and bounds what an idle
/// thread burns (BENCHMARKS.md, "Threads on a shared machine").
const SPIN: Duration = Duration::from_micros(50);

/// A worker that came too late to claim anything is next woken only after this many
/// epochs at most (the caller doubles the interval at each miss, from 1).
const MAX_WAKE_INTERVAL: u64 = 256;

struct Shared<S: 'static> {
    shards: Vec<Mutex<S>>,
    /// Incremented by the caller to start an epoch.
    epoch: AtomicU64,
    /// The next shard to claim in this epoch.
    next: AtomicUsize,
    /// Shards finished in this epoch.
    done: AtomicUsize,
    /// A shard's job panicked.
    failed: AtomicBool,
    stop: AtomicBool,
    /// Parked workers wait here; the mutex guards nothing but the wake-up.
    sleep: Mutex<()>,
    wake: Condvar,
    parked: AtomicUsize,
    /// The caller parks while the last shards finish; the worker finishing the last
    /// one unparks it.
    caller: Mutex<Option<Thread>>,
    caller_parked: AtomicBool,
    /// Shards claimed by workers (not the caller) in the current epoch.
    claimed_by_workers: AtomicUsize,
    /// The current epoch's job, valid while an epoch runs (see `run`).
    job: UnsafeCell<Option<&'static Job<'static, S>>>,
}

// SAFETY: `job` is written only by the caller between epochs, while no worker can read
// it (a worker reads it only after claiming a shard, and no shard is left to claim), and
// published by the Release store of `next`.
unsafe impl<S: Send + 'static> Sync for Shared<S> {}

pub struct ShardWorkers<S: Send + 'static> {
    shared: Arc<Shared<S>>,
    threads: Vec<JoinHandle<()>>,
    /// Epochs to start before waking parked workers again, and the current interval.
    wake_in: u64,
    wake_interval: u64,
}

impl<S: Send + 'static> ShardWorkers<S> {
    /// Starts one thread for each shard after the first.
    pub fn new(shards: Vec<S>) -> Self {
        let n = shards.len();
        let shared = Arc::new(Shared {
            shards: shards.into_iter().map(Mutex::new).collect(),
            epoch: AtomicU64::new(0),
            next: AtomicUsize::new(usize::MAX / 2),
            done: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            parked: AtomicUsize::new(0),
            caller: Mutex::new(None),
            caller_parked: AtomicBool::new(false),
            claimed_by_workers: AtomicUsize::new(0),
            job: UnsafeCell::new(None),
        });
        let threads = (1..n)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new().name(format!("volley-shard-{i}")).spawn(move || worker(&shared)).expect("spawn shard thread")
            })
            .collect();
        ShardWorkers { shared, threads, wake_in: 0, wake_interval: 1 }
    }

    pub fn len(&self) -> usize {
        self.shared.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.shards.is_empty()
    }

    /// Runs `job` on every shard, on this thread and the awake workers, and returns when
    /// all are done.
    pub fn run<'a>(&mut self, job: &'a Job<'a, S>) {
        let shared = &*self.shared;
        let n = shared.shards.len();
        if n == 0 {
            return;
        }
        // SAFETY: the reference is only used by workers until they report done below,
        // which happens before this function returns and `job` goes out of scope.
        let job_static: &'static Job<'static, S> = unsafe { std::mem::transmute::<&'a Job<'a, S>, &'static Job<'static, S>>(job) };
        unsafe { *shared.job.get() = Some(job_static) };
        shared.done.store(0, Ordering::Relaxed);
        shared.claimed_by_workers.store(0, Ordering::Relaxed);
        shared.next.store(0, Ordering::Release);
        shared.epoch.fetch_add(1, Ordering::Release);
        if shared.parked.load(Ordering::SeqCst) > 0 {
            if self.wake_in == 0 {
                let _guard = shared.sleep.lock().unwrap_or_else(|e| e.into_inner());
                shared.wake.notify_all();
                self.wake_in = self.wake_interval;
            } else {
                self.wake_in -= 1;
            }
        }
        // A panic in a shard is held until every shard is done with `job`.
        let mut mine = Ok(());
        loop {
            let i = shared.next.fetch_add(1, Ordering::AcqRel);
            if i >= n {
                break;
            }
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut lock(&shared.shards[i]))));
            if ran.is_err() && mine.is_ok() {
                mine = ran;
            }
            shared.done.fetch_add(1, Ordering::AcqRel);
        }
        let spin_until = Instant::now() + SPIN;
        let mut spins = 0u32;
        while shared.done.load(Ordering::Acquire) < n {
            spins += 1;
            if spins % 64 != 0 || Instant::now() < spin_until {
                std::hint::spin_loop();
                continue;
            }
            // A worker holds a shard but is not running: park, so that the scheduler
            // can give it this core.
            *shared.caller.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::thread::current());
            shared.caller_parked.store(true, Ordering::SeqCst);
            if shared.done.load(Ordering::SeqCst) < n {
                std::thread::park_timeout(Duration::from_millis(1));
            }
            shared.caller_parked.store(false, Ordering::SeqCst);
        }
        unsafe { *shared.job.get() = None };
        // Workers that arrive too late to help are woken less often; one that helped is
        // woken every epoch again.
        if shared.claimed_by_workers.load(Ordering::Relaxed) > 0 {
            self.wake_interval = 1;
            self.wake_in = 0;
        } else if shared.parked.load(Ordering::Relaxed) > 0 && self.wake_in == self.wake_interval {
            self.wake_interval = (self.wake_interval * 2).min(MAX_WAKE_INTERVAL);
            self.wake_in = self.wake_interval;
        }
        if let Err(panic) = mine {
            std::panic::resume_unwind(panic);
        }
        if shared.failed.load(Ordering::Relaxed) {
            panic!("a shard thread panicked");
        }
    }

    /// The shards, for reading results between epochs.
    pub fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, S>> {
        self.shared.shards.iter().map(lock)
    }
}

/// A shard's lock; a panic in an earlier job does not make its state unreadable.
fn lock<S>(shard: &Mutex<S>) -> MutexGuard<'_, S> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: Send + 'static> Drop for ShardWorkers<S> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        {
            let _guard = self.shared.sleep.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker<S: Send + 'static>(shared: &Shared<S>) {
    let mut seen = 0u64;
    loop {
        // Wait for the next epoch: spin for SPIN, then park until woken.
        let spin_until = Instant::now() + SPIN;
        let mut spins = 0u32;
        loop {
            if shared.epoch.load(Ordering::Acquire) != seen {
                break;
            }
            spins += 1;
            if spins % 64 != 0 || Instant::now() < spin_until {
                std::hint::spin_loop();
                continue;
            }
            let guard = shared.sleep.lock().unwrap_or_else(|e| e.into_inner());
            shared.parked.fetch_add(1, Ordering::SeqCst);
            if shared.epoch.load(Ordering::SeqCst) == seen {
                // Bounded, so that a worker never sleeps through the end of the run.
                let _unused = shared.wake.wait_timeout(guard, Duration::from_millis(100)).unwrap_or_else(|e| e.into_inner());
            }
            shared.parked.fetch_sub(1, Ordering::SeqCst);
        }
        seen = shared.epoch.load(Ordering::Acquire);
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let n = shared.shards.len();
        loop {
            let i = shared.next.fetch_add(1, Ordering::AcqRel);
            if i >= n {
                break;
            }
            // SAFETY: a shard was claimed, so the caller is inside `run` with the job set
            // (published by the Release store of `next` this claim read).
            let job = unsafe { *shared.job.get() }.expect("job set while shards are left");
            shared.claimed_by_workers.fetch_add(1, Ordering::Relaxed);
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut lock(&shared.shards[i])))).is_ok();
            if !ok {
                shared.failed.store(true, Ordering::Relaxed);
            }
            if shared.done.fetch_add(1, Ordering::SeqCst) + 1 == n && shared.caller_parked.load(Ordering::SeqCst) {
                if let Some(caller) = shared.caller.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    caller.unpark();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_runs_every_epoch() {
        let mut w = ShardWorkers::new(vec![0u64; 3]);
        for epoch in 1..=1000u64 {
            w.run(&|s: &mut u64| *s += epoch);
        }
        assert!(w.shards().all(|s| *s == 1000 * 1001 / 2));
    }

    #[test]
    fn shards_are_run_whoever_claims_them() {
        // More shards than cores, run many times: every shard once per epoch.
        let mut w = ShardWorkers::new(vec![0u64; 6]);
        for _ in 0..20_000 {
            w.run(&|s: &mut u64| *s += 1);
        }
        assert!(w.shards().all(|s| *s == 20_000));
        // After a pause long enough for the workers to park, they are woken again.
        std::thread::sleep(Duration::from_millis(5));
        w.run(&|s: &mut u64| *s += 1);
        assert!(w.shards().all(|s| *s == 20_001));
    }

    #[test]
    fn a_panicking_shard_is_reported() {
        let mut w = ShardWorkers::new(vec![0u32, 1u32]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(&|s: &mut u32| assert_eq!(*s, 0))));
        assert!(result.is_err());
    }
}
