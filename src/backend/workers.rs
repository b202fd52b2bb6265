//! Persistent worker threads that run the shards of every epoch.
//!
//! An epoch of a 1000-neuron network is a few microseconds of work, and of a 100,000-
//! neuron one a few hundred. A fork-join pool whose idle threads sleep on a futex (rayon)
//! costs 5–15 µs per epoch to wake them on this machine — as much as the work itself —
//! and made two threads no faster than one (BENCHMARKS.md). So threads wait for the next
//! epoch spinning, but only briefly, and then park.
//!
//! The caller hands over a batch of *rounds* (`run_rounds`): every shard runs once in
//! each round, and a round begins only when every shard has finished the one before, as
//! NEST's threads do between their barriers. Where nothing has to leave the process
//! between epochs (one rank), a batch is many epochs, and the threads go from one to the
//! next without the caller gathering anything in between: on spnet that hand-over had
//! cost 0.9–1.7 µs of a 5.5 µs step (BENCHMARKS.md, "spnet, fourth step").
//!
//! Each shard has a thread of its own (shard s: thread s mod threads) which takes it
//! first, so that its state stays in that core's caches; but the shards are not bound
//! to threads. A shard whose thread has not joined the batch is taken at once by
//! whoever is waiting, and one whose thread has joined but not taken it a little later.
//! On a quiet machine each thread runs its own shards. On a shared one (another busy
//! process, an oversubscribed node) a worker that is not running takes nothing: the
//! caller runs its shards instead of waiting a scheduler time slice for it, and a worker
//! that keeps arriving too late is woken less and less often, so that it stops
//! competing for the core the caller needs. Results do not depend on who ran a shard:
//! each shard owns its state.

use super::contention::Contention;
use std::any::Any;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A job for every shard in each round of a batch: the shard, and the round's index in
/// the batch.
type RoundJob<'a, S> = dyn Fn(&mut S, usize) + Sync + 'a;

/// How long a thread spins for the next batch (or for the last shard of a round) before
/// it parks (or sleeps). Epochs follow each other within 1–5 µs in the 2003 network,
/// and at 10⁵ neurons the shards of one epoch (~250 µs each) finish tens of µs apart,
/// while a futex wake-up costs 5–50 µs on this machine: 200 µs of spinning covers the
/// gaps of a running simulation and bounds what an idle thread burns to that, not the
/// 2 ms of spinning and yielding before (BENCHMARKS.md, "Threads on a shared machine").
const SPIN: Duration = Duration::from_micros(200);

/// How long a thread that waited SPIN for a round to end sleeps before it looks again:
/// the shard it waits for is held by a thread that is not running, and a core given up
/// lets the scheduler run it there.
const NAP: Duration = Duration::from_micros(20);

/// Spins of waiting for a round to end between looks at the shards no thread has taken
/// yet. A look at another thread's claim costs a cache line's transfer between cores,
/// which that thread pays back when it next claims: a thread that has joined is given
/// these spins (a few µs) to take its own shard.
const LOOK_EVERY: u32 = 64;

/// Rounds between two looks of the caller at whether the threads have their cores to
/// themselves (`Contention`): its clock reading, ~25 ns in a VM, once in a round of a few
/// µs would be a cost of its own.
const CHECK_EVERY: u64 = 16;

/// How long `start_with` waits for new workers to park.
const SETTLE: Duration = Duration::from_millis(20);

/// A worker that came too late to claim anything is next woken only after this many
/// batches at most (the caller doubles the interval at each miss, from 1).
const MAX_WAKE_INTERVAL: u64 = 256;

/// A counter on a cache line of its own: the threads write it in every round.
#[repr(align(128))]
struct Padded(AtomicU64);

struct Shared<S: 'static> {
    shards: Vec<Mutex<S>>,
    /// Threads, the caller included (thread 0).
    threads: usize,
    /// Per shard, its rounds claimed so far (over all batches): a thread takes round r
    /// of a shard by moving its count from r to r + 1.
    claimed: Vec<Padded>,
    /// Shard-rounds done (over all batches): round r is open once `done` ≥ r × shards,
    /// and over once `done` ≥ (r + 1) × shards.
    done: Padded,
    /// Per thread, the `end` of the last batch it joined.
    joined: Vec<Padded>,
    /// The current batch's first round, and one past its last.
    begin: AtomicU64,
    end: AtomicU64,
    /// Incremented by the caller to start a batch.
    epoch: AtomicU64,
    /// A shard's job panicked on a worker.
    failed: AtomicBool,
    /// A shard's job panicked in this batch: the rest of the batch's jobs are not run
    /// (their shards' state is no longer whole), only counted.
    aborting: AtomicBool,
    stop: AtomicBool,
    /// Parked workers wait here; the mutex guards nothing but the wake-up.
    sleep: Mutex<()>,
    wake: Condvar,
    parked: AtomicUsize,
    /// Workers (not the caller) that ran a shard in the current batch.
    claimed_by_workers: AtomicUsize,
    /// The caller runs every shard itself: workers park without joining.
    solo: AtomicBool,
    /// The current batch's job, valid while a batch runs (see `run_rounds`).
    job: UnsafeCell<Option<&'static RoundJob<'static, S>>>,
}

// SAFETY: `job` is written only by the caller between batches, while no thread runs a
// shard (a thread reads it only after claiming a round of a shard, and every round of
// the last batch was done: each thread's read comes before its increment of `done`, all
// increments are read-modify-writes of one release sequence, and the caller reads `done`
// with Acquire before it writes `job` again), and published by the Release store of
// `end`, which a thread reads before it claims anything of the batch.
unsafe impl<S: Send + 'static> Sync for Shared<S> {}

pub struct ShardWorkers<S: Send + 'static> {
    shared: Arc<Shared<S>>,
    threads: Vec<JoinHandle<()>>,
    /// Batches to start before waking parked workers again, and the current interval.
    wake_in: u64,
    wake_interval: u64,
    contention: Contention,
    /// Rounds of the last batch after the caller's last look at `contention`.
    unlooked: u32,
}

impl<S: Send + 'static> ShardWorkers<S> {
    /// Starts one thread for each shard after the first, or says why the system would not
    /// start one.
    pub fn start(shards: Vec<S>) -> std::io::Result<Self> {
        let n = shards.len();
        Self::start_with(shards, n)
    }

    /// Starts `threads` − 1 threads (the caller is the last) to run `shards`, which may
    /// be more than the threads: a thread on a core that runs slower for a while has
    /// its last shards of a round taken by the others.
    pub fn start_with(shards: Vec<S>, threads: usize) -> std::io::Result<Self> {
        let n = shards.len();
        let threads = threads.clamp(1, n.max(1));
        let shared = Arc::new(Shared {
            claimed: (0..n).map(|_| Padded(AtomicU64::new(0))).collect(),
            shards: shards.into_iter().map(Mutex::new).collect(),
            threads,
            done: Padded(AtomicU64::new(0)),
            joined: (0..threads).map(|_| Padded(AtomicU64::new(0))).collect(),
            begin: AtomicU64::new(0),
            end: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            aborting: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            parked: AtomicUsize::new(0),
            claimed_by_workers: AtomicUsize::new(0),
            solo: AtomicBool::new(false),
            job: UnsafeCell::new(None),
        });
        let mut workers =
            ShardWorkers { shared, threads: Vec::new(), wake_in: 0, wake_interval: 1, contention: Contention::new(threads), unlooked: 0 };
        for i in 1..threads {
            let shared = Arc::clone(&workers.shared);
            // On failure, dropping `workers` stops the threads already started.
            workers.threads.push(std::thread::Builder::new().name(format!("volley-shard-{i}")).spawn(move || worker(&shared, i))?);
        }
        workers.settle();
        Ok(workers)
    }

    /// Waits (at most SETTLE) until every worker has parked for the first time: a thread
    /// just started competes for a core until it first sleeps, and on a machine shared with
    /// a busy process that was the caller's core in the first epochs.
    fn settle(&self) {
        let until = Instant::now() + SETTLE;
        while self.shared.parked.load(Ordering::SeqCst) < self.threads.len() && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// `start` where a thread that cannot be started is a bug (tests).
    pub fn new(shards: Vec<S>) -> Self {
        Self::start(shards).unwrap_or_else(|e| panic!("cannot start shard threads: {e}"))
    }

    pub fn len(&self) -> usize {
        self.shared.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.shards.is_empty()
    }

    /// Runs `job` on every shard, on this thread and the awake workers, and returns when
    /// all are done.
    pub fn run(&mut self, job: &(dyn Fn(&mut S) + Sync)) {
        self.run_rounds(1, &|shard: &mut S, _| job(shard));
    }

    /// Runs `rounds` rounds: in each, `job(shard, round)` on every shard, each round
    /// begun once every shard has finished the one before; on this thread and the awake
    /// workers. Returns when all are done.
    pub fn run_rounds<'a>(&mut self, rounds: usize, job: &'a RoundJob<'a, S>) {
        let shared = &*self.shared;
        let n = shared.shards.len() as u64;
        if n == 0 || rounds == 0 {
            return;
        }
        // SAFETY: the reference is only used by threads that claimed a round of this
        // batch, each done before this function returns and `job` goes out of scope.
        let job_static: &'static RoundJob<'static, S> =
            unsafe { std::mem::transmute::<&'a RoundJob<'a, S>, &'static RoundJob<'static, S>>(job) };
        unsafe { *shared.job.get() = Some(job_static) };
        // Every round before is done: `done` is a whole number of rounds.
        let begin = shared.done.0.load(Ordering::Acquire) / n;
        let end = begin + rounds as u64;
        shared.claimed_by_workers.store(0, Ordering::Relaxed);
        // The rounds begun since the caller last looked: this batch's first, and the last
        // batch's after its last look.
        let solo = !self.threads.is_empty() && self.contention.solo(Instant::now(), 1 + self.unlooked);
        shared.solo.store(solo, Ordering::Relaxed);
        shared.begin.store(begin, Ordering::Relaxed);
        shared.aborting.store(false, Ordering::Relaxed);
        // The caller is there from the start: a worker that sees the batch first does not
        // take its shards.
        shared.joined[0].0.store(end, Ordering::Relaxed);
        shared.end.store(end, Ordering::Release);
        shared.epoch.fetch_add(1, Ordering::Release);
        if !solo && shared.parked.load(Ordering::SeqCst) > 0 {
            if self.wake_in == 0 {
                let _guard = shared.sleep.lock().unwrap_or_else(|e| e.into_inner());
                shared.wake.notify_all();
                self.wake_in = self.wake_interval;
            } else {
                self.wake_in -= 1;
            }
        }
        // A panic in a shard is held until every round is done with `job`. Every
        // CHECK_EVERY rounds the caller looks whether the threads still have their cores:
        // a batch may be a thousandth of a long run.
        let (contention, threads) = (&mut self.contention, self.threads.len());
        let (mut solo_now, mut last_look) = (solo, begin);
        let mine = take_part(shared, 0, begin, end, |round| {
            // Rounds may go by without the caller (the workers take its shards while it
            // is not running): counted as they went.
            if round >= last_look + CHECK_EVERY && threads > 0 {
                let solo = contention.solo(Instant::now(), (round - last_look).min(u32::MAX as u64) as u32);
                last_look = round;
                if solo != solo_now {
                    solo_now = solo;
                    shared.solo.store(solo, Ordering::Relaxed);
                    if !solo {
                        // The parked workers join the batch where it is.
                        shared.epoch.fetch_add(1, Ordering::Release);
                        let _guard = shared.sleep.lock().unwrap_or_else(|e| e.into_inner());
                        shared.wake.notify_all();
                    }
                }
            }
            false
        });
        unsafe { *shared.job.get() = None };
        self.unlooked = (end - 1 - last_look).min(u32::MAX as u64) as u32;
        // Workers that arrive too late to help are woken less often; one that helped is
        // woken every batch again.
        if shared.claimed_by_workers.load(Ordering::Relaxed) > 0 {
            self.wake_interval = 1;
            self.wake_in = 0;
        } else if shared.parked.load(Ordering::Relaxed) > 0 && self.wake_in == self.wake_interval {
            self.wake_interval = (self.wake_interval * 2).min(MAX_WAKE_INTERVAL);
            self.wake_in = self.wake_interval;
        }
        if let Some(panic) = mine.panic {
            std::panic::resume_unwind(panic);
        }
        if shared.failed.load(Ordering::Relaxed) {
            panic!("a shard thread panicked");
        }
    }

    /// The shards, for reading results between batches.
    pub fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, S>> {
        self.shared.shards.iter().map(lock)
    }
}

/// A shard's lock; a panic in an earlier job does not make its state unreadable.
fn lock<S>(shard: &Mutex<S>) -> MutexGuard<'_, S> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a thread did in a batch: shard-rounds it ran, and the first panic of its jobs.
struct TookPart {
    ran: usize,
    /// It left the batch before its end (`leave`).
    left: bool,
    panic: Option<Box<dyn Any + Send>>,
}

/// Thread `t`'s part in the batch of rounds `begin..end`: in each open round its own
/// shards, then, until the round is over, those no one else has taken. Returns once
/// every round of the batch is done, or
/// when `leave(round)` says so at the start of a round.
fn take_part<S>(shared: &Shared<S>, t: usize, begin: u64, end: u64, mut leave: impl FnMut(u64) -> bool) -> TookPart {
    let n = shared.shards.len() as u64;
    let threads = shared.threads;
    let owner = |s: usize| s % threads;
    shared.joined[t].0.store(end, Ordering::Relaxed);
    let mut took = TookPart { ran: 0, left: false, panic: None };
    let run = |s: usize, round: u64, took: &mut TookPart| {
        if shared.claimed[s].0.compare_exchange(round, round + 1, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return;
        }
        // SAFETY: a round of this batch was claimed, so the caller is inside
        // `run_rounds` with the job set (published by the Release store of `end`, which
        // this thread read before joining).
        let job = unsafe { *shared.job.get() }.expect("job set while rounds are left");
        let ran = match shared.aborting.load(Ordering::Relaxed) {
            false => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut lock(&shared.shards[s]), (round - begin) as usize))),
            true => Ok(()),
        };
        // What the caller reads once the batch is done is told before the count.
        if let Err(panic) = ran {
            shared.aborting.store(true, Ordering::Relaxed);
            if t != 0 {
                shared.failed.store(true, Ordering::Relaxed);
            }
            took.panic.get_or_insert(panic);
        }
        if t != 0 && took.ran == 0 {
            shared.claimed_by_workers.fetch_add(1, Ordering::Relaxed);
        }
        took.ran += 1;
        shared.done.0.fetch_add(1, Ordering::AcqRel);
    };
    loop {
        let round = shared.done.0.load(Ordering::Acquire) / n;
        if round >= end {
            return took;
        }
        if leave(round) {
            // Its shards are taken at once from now on.
            shared.joined[t].0.store(0, Ordering::Relaxed);
            took.left = true;
            return took;
        }
        for s in (t..n as usize).step_by(threads) {
            run(s, round, &mut took);
        }
        // Until the round is over: the shards of threads that have not joined at once,
        // the others' after LOOK_EVERY spins.
        let mut spins = 0u32;
        let mut nap_after = None;
        let over = (round + 1) * n;
        while shared.done.0.load(Ordering::Acquire) < over {
            if spins.is_multiple_of(LOOK_EVERY) {
                for s in (0..n as usize).filter(|&s| owner(s) != t) {
                    let waited = spins > 0 || shared.joined[owner(s)].0.load(Ordering::Relaxed) != end;
                    if waited && shared.claimed[s].0.load(Ordering::Relaxed) == round {
                        run(s, round, &mut took);
                    }
                }
            }
            spins += 1;
            if !spins.is_multiple_of(LOOK_EVERY) || Instant::now() < *nap_after.get_or_insert_with(|| Instant::now() + SPIN) {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(NAP);
            }
        }
    }
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

/// Worker thread `t`.
fn worker<S: Send + 'static>(shared: &Shared<S>, t: usize) {
    let mut seen = 0u64;
    // Whether to spin for the next batch before parking: after a batch in which this
    // worker ran a shard, or after a wake-up from parking (it was wanted, and a futex
    // wake-up takes longer than a small network's epoch, so coming too late then says
    // nothing about the machine). One that came too late while spinning (the others had
    // taken every shard) parks at once instead, as it is evidently not getting a core of
    // its own. A new worker parks at once too, until the first batch that wants it wakes
    // it: spinning from its start, on a busy machine, it took the caller's core for its
    // whole spin before the first epoch.
    let mut spin = false;
    loop {
        // Wait for the next batch: spin for SPIN, then park until woken.
        let spin_until = if spin { Instant::now() + SPIN } else { Instant::now() };
        let mut spins = 0u32;
        let mut parked = false;
        loop {
            if shared.epoch.load(Ordering::Acquire) != seen {
                break;
            }
            spins += 1;
            if spin && (!spins.is_multiple_of(64) || Instant::now() < spin_until) {
                std::hint::spin_loop();
                continue;
            }
            let guard = shared.sleep.lock().unwrap_or_else(|e| e.into_inner());
            shared.parked.fetch_add(1, Ordering::SeqCst);
            if shared.epoch.load(Ordering::SeqCst) == seen {
                // Bounded, so that a worker never sleeps through the end of the run.
                let _unused = shared.wake.wait_timeout(guard, Duration::from_millis(100)).unwrap_or_else(|e| e.into_inner());
                parked = true;
            }
            shared.parked.fetch_sub(1, Ordering::SeqCst);
        }
        seen = shared.epoch.load(Ordering::Acquire);
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        if shared.solo.load(Ordering::Relaxed) {
            spin = false;
            continue;
        }
        let end = shared.end.load(Ordering::Acquire);
        let begin = shared.begin.load(Ordering::Relaxed);
        // Leaves when the caller goes on alone (other work wants the cores).
        let took = take_part(shared, t, begin, end, |_| shared.solo.load(Ordering::Relaxed));
        // One that left gives its core up at once.
        spin = !took.left && (parked || took.ran > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// New workers are parked when `start_with` returns (unless the scheduler did not run
    /// one within SETTLE): none competes for a core before an epoch wants it.
    #[test]
    fn new_workers_are_parked() {
        for _ in 0..20 {
            let start = Instant::now();
            let w = ShardWorkers::start_with(vec![0u8; 6], 3).unwrap();
            let parked = w.shared.parked.load(Ordering::SeqCst);
            assert!(parked == 2 || start.elapsed() >= SETTLE, "{parked} of 2 workers parked after {:?}", start.elapsed());
        }
    }

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

    /// Every shard runs every round of a batch once, in order, and no round begins
    /// before every shard has finished the one before: each shard, in round k, finds
    /// every shard's count at k (the counts are read through their own locks).
    #[test]
    fn rounds_run_in_order_with_every_shard_between_them() {
        let counts: Vec<AtomicU64> = (0..5).map(|_| AtomicU64::new(0)).collect();
        let mut w = ShardWorkers::start_with((0..5usize).collect::<Vec<_>>(), 3).unwrap();
        let mut begun = 0;
        for rounds in [1usize, 7, 300, 2, 1000] {
            let early = AtomicU64::new(0);
            w.run_rounds(rounds, &|&mut s: &mut usize, round| {
                let want = (begun + round) as u64;
                if counts.iter().any(|c| c.load(Ordering::SeqCst) < want) {
                    early.fetch_add(1, Ordering::SeqCst);
                }
                assert_eq!(counts[s].fetch_add(1, Ordering::SeqCst), want, "shard {s} round {round}");
            });
            begun += rounds;
            assert_eq!(early.load(Ordering::SeqCst), 0, "a round began before the one before ended");
            assert!(counts.iter().all(|c| c.load(Ordering::SeqCst) == begun as u64));
        }
    }

    #[test]
    fn a_panicking_shard_is_reported() {
        let mut w = ShardWorkers::new(vec![0u32, 1u32]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(&|s: &mut u32| assert_eq!(*s, 0))));
        assert!(result.is_err());
    }

    /// A panic in any round of a batch is reported once the batch has ended, and no job
    /// of a later round runs.
    #[test]
    fn a_panic_in_a_later_round_is_reported() {
        let mut w = ShardWorkers::new(vec![0u32, 1u32]);
        let calls = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.run_rounds(50, &|s: &mut u32, round| {
                calls.fetch_add(1, Ordering::SeqCst);
                assert!(!(*s == 1 && round == 30), "round 30")
            })
        }));
        assert!(result.is_err());
        // Round 30's other shard runs unless it begins after the panic.
        let calls = calls.load(Ordering::SeqCst);
        assert!(calls == 31 * 2 || calls == 31 * 2 - 1, "rounds 0 to 30 of both shards, none after: {calls} calls");
    }
}
