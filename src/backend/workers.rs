//! Persistent worker threads, one per shard, woken for every epoch by spinning on an
//! atomic counter (OpenMP's "active" wait policy, which NEST runs with).
//!
//! An epoch of a 1000-neuron network is a few microseconds of work, and of a 100,000-
//! neuron one a few hundred. A fork-join pool whose idle threads sleep on a futex (rayon)
//! costs 5–15 µs per epoch to wake them on this machine — as much as the work itself —
//! and made two threads no faster than one (BENCHMARKS.md). Here the calling thread runs
//! shard 0 and each other shard has its own thread spinning for the next epoch; a thread
//! idle for more than about a millisecond falls back to short sleeps so that a long pause
//! (writing output, waiting for MPI) does not burn a core.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Job<'a, S> = dyn Fn(&mut S) + Sync + 'a;

struct Shared<S: 'static> {
    shards: Vec<Mutex<S>>,
    /// Incremented by the caller to start an epoch.
    epoch: AtomicU64,
    /// Workers that finished the current epoch.
    done: AtomicUsize,
    /// A worker's job panicked.
    failed: AtomicBool,
    stop: AtomicBool,
    /// The current epoch's job, valid while an epoch runs (see `run`).
    job: UnsafeCell<Option<&'static Job<'static, S>>>,
}

// SAFETY: `job` is written only by the caller between epochs, while no worker reads it
// (all have reported done), and published by the Release increment of `epoch`.
unsafe impl<S: Send + 'static> Sync for Shared<S> {}

pub struct ShardWorkers<S: Send + 'static> {
    shared: Arc<Shared<S>>,
    threads: Vec<JoinHandle<()>>,
}

impl<S: Send + 'static> ShardWorkers<S> {
    /// Starts one thread for each shard after the first.
    pub fn new(shards: Vec<S>) -> Self {
        let n = shards.len();
        let shared = Arc::new(Shared {
            shards: shards.into_iter().map(Mutex::new).collect(),
            epoch: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            job: UnsafeCell::new(None),
        });
        let threads = (1..n)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new().name(format!("volley-shard-{i}")).spawn(move || worker(&shared, i)).expect("spawn shard thread")
            })
            .collect();
        ShardWorkers { shared, threads }
    }

    pub fn len(&self) -> usize {
        self.shared.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.shards.is_empty()
    }

    /// Runs `job` on every shard, shard 0 on the calling thread, and returns when all
    /// are done.
    pub fn run<'a>(&mut self, job: &'a Job<'a, S>) {
        let shared = &*self.shared;
        if shared.shards.is_empty() {
            return;
        }
        // SAFETY: the reference is only used by workers until they report done below,
        // which happens before this function returns and `job` goes out of scope.
        let job_static: &'static Job<'static, S> = unsafe { std::mem::transmute::<&'a Job<'a, S>, &'static Job<'static, S>>(job) };
        unsafe { *shared.job.get() = Some(job_static) };
        shared.done.store(0, Ordering::Relaxed);
        shared.epoch.fetch_add(1, Ordering::Release);
        // Shard 0's panic is held until every worker is done with `job`.
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut shared.shards[0].lock().expect("shard 0"))));
        let workers = self.threads.len();
        let mut idle = Backoff::new();
        while shared.done.load(Ordering::Acquire) < workers {
            idle.wait();
        }
        unsafe { *shared.job.get() = None };
        if let Err(panic) = mine {
            std::panic::resume_unwind(panic);
        }
        if shared.failed.load(Ordering::Relaxed) {
            panic!("a shard thread panicked");
        }
    }

    /// The shards, for reading results between epochs.
    pub fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, S>> {
        self.shared.shards.iter().map(|s| s.lock().expect("shard"))
    }
}

impl<S: Send + 'static> Drop for ShardWorkers<S> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.epoch.fetch_add(1, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker<S: Send + 'static>(shared: &Shared<S>, index: usize) {
    let mut seen = 0u64;
    loop {
        let mut idle = Backoff::new();
        let epoch = loop {
            let e = shared.epoch.load(Ordering::Acquire);
            if e != seen {
                break e;
            }
            idle.wait();
        };
        seen = epoch;
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: published by the Release increment of `epoch` observed above.
        let job = unsafe { *shared.job.get() }.expect("job set for the epoch");
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut shared.shards[index].lock().expect("shard")))).is_ok();
        if !ok {
            shared.failed.store(true, Ordering::Relaxed);
        }
        shared.done.fetch_add(1, Ordering::Release);
    }
}

/// Spin, then yield, then sleep briefly: microsecond wake-ups while epochs follow each
/// other, no busy core during long pauses.
struct Backoff {
    spins: u32,
    since: Option<Instant>,
}

impl Backoff {
    fn new() -> Self {
        Backoff { spins: 0, since: None }
    }

    #[inline]
    fn wait(&mut self) {
        if self.spins < 4096 {
            self.spins += 1;
            std::hint::spin_loop();
            return;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() < Duration::from_millis(2) {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
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
    fn a_panicking_shard_is_reported() {
        let mut w = ShardWorkers::new(vec![0u32, 1u32]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(&|s: &mut u32| assert_eq!(*s, 0))));
        assert!(result.is_err());
    }
}
