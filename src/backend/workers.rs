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
/// before it parks. Epochs follow each other within 1–5 µs in the 2003 network, and at
/// 10⁵ neurons the shards of one epoch (~250 µs each) finish tens of µs apart, while a
/// futex wake-up costs 5–50 µs on this machine: 200 µs of spinning covers the gaps of a
/// running simulation and bounds what an idle thread burns to that, not the 2 ms of
/// spinning and yielding before (BENCHMARKS.md, "Threads on a shared machine").
const SPIN: Duration = Duration::from_micros(200);

/// How long `start_with` waits for new workers to park.
const SETTLE: Duration = Duration::from_millis(20);

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
    /// The caller runs every shard itself: workers park without claiming.
    solo: AtomicBool,
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
    contention: Contention,
}

/// How often the caller looks at the process's involuntary context switches, and how
/// many in one such window suggest that its threads share their cores with others: on
/// machine A a run of two threads saw ~0.05 per ms alone and ~3.4 per ms beside one busy
/// process; on machine B (a VM whose host is busy) ~0.35 per ms alone, so that such
/// windows come by chance several times a second, and each is checked against the count
/// of runnable tasks before the workers are stood down (BENCHMARKS.md, "Threads on a
/// shared machine").
const WINDOW: Duration = Duration::from_millis(1);
const CONTENTION_SWITCHES: i64 = 2;
/// While contended, the caller runs every shard itself ("solo") until the system's count
/// of runnable tasks (/proc/loadavg) leaves a core for each thread in ROOMY_WINDOWS
/// windows in a row (a single reading often misses a busy task), or, at the latest, for a
/// time that doubles from the first to the last of these at each contended try of the
/// workers (so that a count that misleads, such as other
/// jobs' tasks pinned to other cores, costs at most a try now and then).
const SOLO_FIRST: Duration = Duration::from_millis(100);
/// A window with the workers that takes this much longer per epoch than the last one
/// alone means they stall: a stalled epoch waits a time slice (milliseconds) and costs
/// several times an epoch, while windows on a quiet machine differ by the network's own
/// activity (the 2003 network's rhythm), by up to ~20% from one millisecond to the next.
const SLOWER: f64 = 1.3;
const SOLO_LONGEST: Duration = Duration::from_secs(2);
const ROOMY_WINDOWS: u32 = 5;

/// Whether the tasks running besides this process leave a core for each of `threads`
/// threads of ours, from the runnable count of /proc/loadavg less `ours` (this
/// process's own runnable threads), and the CPUs online (the whole machine's, as the
/// count is). None where it cannot be read. The reading costs ~6 µs (one small /proc
/// file); what the caller passes as `ours` and how often it asks are its business.
fn room_for(threads: usize, ours: usize, online: usize) -> Option<bool> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let running: usize = text.split_whitespace().nth(3)?.split('/').next()?.parse().ok()?;
    (online > 0).then(|| running.saturating_sub(ours) + threads <= online)
}

/// CPUs online, read once per run: sysconf reads /sys on each call (~10 µs here).
fn cpus_online() -> usize {
    // SAFETY: sysconf only reads.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    online.max(0) as usize
}

/// This process's threads that are running or waiting for a core (state R in
/// /proc/self/task/*/stat), the reader included. None where it cannot be read. Read once,
/// at the start (~30 µs: a file per thread): threads of ours still running then (the
/// build's pool once was, before it was joined; an MPI library's progress thread may be),
/// counted as other tasks, made a quiet machine look busy, so that the 2003 network ran a
/// third of its runs wholly alone (BENCHMARKS.md, "Threads on a shared machine"). Later
/// readings are taken while the workers are parked (solo), when the caller is the only
/// runnable thread of ours.
fn own_runnable_threads() -> Option<usize> {
    let mut runnable = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        // A thread that exits between the listing and the read is not running: skipped
        // (it used to make the whole count unreadable).
        let Some(stat) = task.ok().and_then(|t| std::fs::read_to_string(t.path().join("stat")).ok()) else { continue };
        // The state follows the thread's name, which is in parentheses and may hold
        // spaces or parentheses itself.
        let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
        runnable += (state == "R") as usize;
    }
    Some(runnable.max(1))
}

/// Involuntary context switches of this process so far (all its threads).
fn involuntary_switches() -> i64 {
    // SAFETY: getrusage writes the out-parameter, zeroed before.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_nivcsw as i64
}

/// Decides, window by window, whether the caller runs the epochs with the workers or
/// alone. Threads that keep being preempted share their cores with other work, and a
/// shard held by a preempted worker stalls the whole epoch until the scheduler runs it
/// again (a time slice: milliseconds); alone, the caller does what `--threads 1` would.
/// Once it has run alone, it knows what an epoch costs alone, and a try of the workers
/// that is clearly slower than that ends after one window, whatever the switch count says.
struct Contention {
    threads: usize,
    /// CPUs online.
    online: usize,
    window_start: Instant,
    /// Epochs begun in this window before the current one (all of them finished).
    window_epochs: u32,
    switches: i64,
    solo_until: Option<Instant>,
    solo_for: Duration,
    /// Windows in a row in which /proc/loadavg showed room.
    roomy: u32,
    /// Wall time per epoch in the last window run alone.
    alone: Option<Duration>,
}

/// How to count this process's own runnable threads in a reading of the machine's.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ours {
    /// The workers are parked: the caller is the only one.
    CallerOnly,
    /// Workers may be running or waiting for a core: count them.
    Count,
}

impl Contention {
    fn new(threads: usize) -> Self {
        let now = Instant::now();
        let online = cpus_online();
        // A machine already busy at the start: alone from the first epoch.
        let busy = threads > 1 && room_for(threads, own_runnable_threads().unwrap_or(1), online) == Some(false);
        Contention {
            threads,
            online,
            window_start: now,
            window_epochs: 0,
            switches: involuntary_switches(),
            solo_until: busy.then_some(now + SOLO_FIRST),
            solo_for: SOLO_FIRST,
            roomy: 0,
            alone: None,
        }
    }

    /// Whether the caller should run the next epoch's shards alone.
    fn solo(&mut self, now: Instant) -> bool {
        let (threads, online) = (self.threads, self.online);
        self.decide(now, involuntary_switches, |ours| {
            let ours = match ours {
                Ours::CallerOnly => 1,
                Ours::Count => own_runnable_threads().unwrap_or(threads),
            };
            room_for(threads, ours, online)
        })
    }

    /// `solo` with the readings passed in: the process's involuntary switches so far, and
    /// whether the machine's other tasks leave room for our threads (None: unknown).
    fn decide(&mut self, now: Instant, switches: impl FnOnce() -> i64, room: impl FnOnce(Ours) -> Option<bool>) -> bool {
        let elapsed = now - self.window_start;
        if elapsed < WINDOW || self.window_epochs == 0 {
            self.window_epochs += 1;
            return self.solo_until.is_some();
        }
        let per_epoch = elapsed / self.window_epochs;
        self.window_start = now;
        self.window_epochs = 1;
        let switches = switches();
        // Per WINDOW of wall time: a window lasts at least one epoch, and the epochs of a
        // large or finely stepped network last tens of milliseconds, in which the kernel's
        // own housekeeping preempts a thread a few times even on a quiet machine.
        let windows = elapsed.as_secs_f64() / WINDOW.as_secs_f64();
        let preempted = (switches - self.switches) as f64 >= CONTENTION_SWITCHES as f64 * windows.max(1.0);
        self.switches = switches;
        match self.solo_until {
            Some(until) => {
                self.alone = Some(per_epoch);
                // Solo: the workers are parked, the caller is our one runnable thread.
                self.roomy = if room(Ours::CallerOnly) == Some(true) { self.roomy + 1 } else { 0 };
                // Room again, or solo time over: the workers take part, and the next
                // window decides.
                if now >= until || self.roomy >= ROOMY_WINDOWS {
                    self.solo_until = None;
                    self.roomy = 0;
                }
                self.solo_until.is_some()
            }
            // Preemptions and slow windows also happen on a quiet machine (a VM's host
            // preempts its vCPUs, and the network's activity varies from epoch to epoch:
            // the 100,000-neuron network ran 11–24% of its epochs alone for nothing, and was
            // ~6% slower for it), so either must be confirmed by other tasks competing for
            // the cores, counted once such a window is seen (~40 µs).
            None if (preempted || self.alone.is_some_and(|alone| per_epoch.as_secs_f64() > SLOWER * alone.as_secs_f64()))
                && room(Ours::Count) != Some(true) =>
            {
                self.solo_until = Some(now + self.solo_for);
                self.solo_for = (self.solo_for * 2).min(SOLO_LONGEST);
                true
            }
            None => {
                // A clean window with the workers: back to the shortest solo time.
                self.solo_for = SOLO_FIRST;
                false
            }
        }
    }
}

impl<S: Send + 'static> ShardWorkers<S> {
    /// Starts one thread for each shard after the first, or says why the system would not
    /// start one.
    pub fn start(shards: Vec<S>) -> std::io::Result<Self> {
        let n = shards.len();
        Self::start_with(shards, n)
    }

    /// Starts `threads` − 1 threads (the caller is the last) to run `shards`, which may
    /// be more than the threads: each thread claims the next shard from the counter, so
    /// a thread on a core that runs slower for a while takes fewer of them.
    pub fn start_with(shards: Vec<S>, threads: usize) -> std::io::Result<Self> {
        let n = shards.len();
        let threads = threads.clamp(1, n.max(1));
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
            solo: AtomicBool::new(false),
            job: UnsafeCell::new(None),
        });
        let mut workers = ShardWorkers { shared, threads: Vec::new(), wake_in: 0, wake_interval: 1, contention: Contention::new(threads) };
        for i in 1..threads {
            let shared = Arc::clone(&workers.shared);
            // On failure, dropping `workers` stops the threads already started.
            workers.threads.push(std::thread::Builder::new().name(format!("volley-shard-{i}")).spawn(move || worker(&shared))?);
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
        let solo = !self.threads.is_empty() && self.contention.solo(Instant::now());
        shared.solo.store(solo, Ordering::Relaxed);
        shared.next.store(0, Ordering::Release);
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
        // Read the clock only if the workers' shards are not done yet (alone, they are).
        let mut spin_until = None;
        let mut spins = 0u32;
        while shared.done.load(Ordering::Acquire) < n {
            spins += 1;
            if !spins.is_multiple_of(64) || Instant::now() < *spin_until.get_or_insert_with(|| Instant::now() + SPIN) {
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
    // Whether to spin for the next epoch before parking: after an epoch in which this
    // worker claimed a shard, or after a wake-up from parking (it was wanted, and a
    // futex wake-up takes longer than a small network's epoch, so coming too late then
    // says nothing about the machine). One that came too late while spinning (the others
    // had taken every shard) parks at once instead, as it is evidently not getting a core
    // of its own. A new worker parks at once too, until the first epoch that wants it wakes
    // it: spinning from its start, on a busy machine, it took the caller's core for its
    // whole spin before the first epoch.
    let mut spin = false;
    loop {
        // Wait for the next epoch: spin for SPIN, then park until woken.
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
        let n = shared.shards.len();
        if shared.solo.load(Ordering::Relaxed) {
            spin = false;
            continue;
        }
        spin = parked;
        loop {
            let i = shared.next.fetch_add(1, Ordering::AcqRel);
            if i >= n {
                break;
            }
            spin = true;
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

    /// A thread of ours that spins is counted as ours (and so not as another task's).
    #[test]
    fn own_spinning_threads_are_counted_as_runnable() {
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        let counted = own_runnable_threads();
        stop.store(true, Ordering::Relaxed);
        spinning.join().unwrap();
        assert!(counted >= Some(2), "the reader and the spinning thread: {counted:?}");
    }

    fn contention_at(start: Instant) -> Contention {
        Contention {
            threads: 2,
            online: 2,
            window_start: start,
            window_epochs: 0,
            switches: 0,
            solo_until: None,
            solo_for: SOLO_FIRST,
            roomy: 0,
            alone: None,
        }
    }

    /// Preempted windows alone do not stand the workers down: the count of runnable tasks
    /// must show another task competing for the cores; then they do, until the count shows
    /// room for ROOMY_WINDOWS windows in a row.
    #[test]
    fn preemptions_stand_workers_down_only_beside_other_tasks() {
        let start = Instant::now();
        let ms = |k: u64| start + Duration::from_millis(k);
        let mut c = contention_at(start);
        assert!(!c.decide(ms(0), || 0, |_| panic!("no reading within a window")));
        // Four switches in one window, but room for both threads: workers stay.
        let mut asked = Vec::new();
        assert!(!c.decide(
            ms(1),
            || 4,
            |ours| {
                asked.push(ours);
                Some(true)
            }
        ));
        assert_eq!(asked, [Ours::Count]);
        // A clean window: no reading at all.
        assert!(!c.decide(ms(2), || 4, |_| panic!("a clean window reads nothing")));
        // Switches and no room: alone.
        assert!(c.decide(ms(3), || 10, |_| Some(false)));
        // Alone, it asks with only the caller counted; room in 4 windows is not enough...
        for k in 4..8 {
            assert!(c.decide(
                ms(k),
                || 10,
                |ours| {
                    assert_eq!(ours, Ours::CallerOnly);
                    Some(true)
                }
            ));
        }
        // ...the fifth brings the workers back.
        assert!(!c.decide(ms(8), || 10, |_| Some(true)));
    }

    /// A window with the workers much slower than the last one alone stands them down only
    /// where the count shows other tasks; an unreadable count is taken as busy.
    #[test]
    fn slow_windows_stand_workers_down_only_beside_other_tasks() {
        let start = Instant::now();
        let ms = |k: u64| start + Duration::from_millis(k);
        let mut c = contention_at(start);
        c.alone = Some(Duration::from_micros(100));
        c.decide(ms(0), || 0, |_| Some(true));
        // One epoch of 1 ms in the window: 10 times slower than alone, but room.
        assert!(!c.decide(ms(1), || 0, |_| Some(true)));
        assert!(c.decide(ms(2), || 0, |_| None));
    }

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

    #[test]
    fn a_panicking_shard_is_reported() {
        let mut w = ShardWorkers::new(vec![0u32, 1u32]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(&|s: &mut u32| assert_eq!(*s, 0))));
        assert!(result.is_err());
    }
}
