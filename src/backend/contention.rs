//! Whether a run's threads have their cores to themselves: read window by window from
//! the process's involuntary context switches, the wall time per epoch and the system's
//! count of runnable tasks, so that the shard workers stand down (the caller runs every
//! shard alone) while other work competes for the cores (`workers`).

use std::time::{Duration, Instant};

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
pub(super) struct Contention {
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
    pub(super) fn new(threads: usize) -> Self {
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

    /// Whether the caller should run the next `epochs` epochs' shards alone.
    pub(super) fn solo(&mut self, now: Instant, epochs: u32) -> bool {
        let (threads, online) = (self.threads, self.online);
        self.decide(now, epochs, involuntary_switches, |ours| {
            let ours = match ours {
                Ours::CallerOnly => 1,
                Ours::Count => own_runnable_threads().unwrap_or(threads),
            };
            room_for(threads, ours, online)
        })
    }

    /// `solo` with the readings passed in: the process's involuntary switches so far, and
    /// whether the machine's other tasks leave room for our threads (None: unknown).
    fn decide(&mut self, now: Instant, epochs: u32, switches: impl FnOnce() -> i64, room: impl FnOnce(Ours) -> Option<bool>) -> bool {
        let elapsed = now - self.window_start;
        if elapsed < WINDOW || self.window_epochs == 0 {
            self.window_epochs += epochs.max(1);
            return self.solo_until.is_some();
        }
        let per_epoch = elapsed / self.window_epochs;
        self.window_start = now;
        self.window_epochs = epochs.max(1);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

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
        assert!(!c.decide(ms(0), 1, || 0, |_| panic!("no reading within a window")));
        // Four switches in one window, but room for both threads: workers stay.
        let mut asked = Vec::new();
        assert!(!c.decide(
            ms(1),
            1,
            || 4,
            |ours| {
                asked.push(ours);
                Some(true)
            }
        ));
        assert_eq!(asked, [Ours::Count]);
        // A clean window: no reading at all.
        assert!(!c.decide(ms(2), 1, || 4, |_| panic!("a clean window reads nothing")));
        // Switches and no room: alone.
        assert!(c.decide(ms(3), 1, || 10, |_| Some(false)));
        // Alone, it asks with only the caller counted; room in 4 windows is not enough...
        for k in 4..8 {
            assert!(c.decide(
                ms(k),
                1,
                || 10,
                |ours| {
                    assert_eq!(ours, Ours::CallerOnly);
                    Some(true)
                }
            ));
        }
        // ...the fifth brings the workers back.
        assert!(!c.decide(ms(8), 1, || 10, |_| Some(true)));
    }

    /// A window with the workers much slower than the last one alone stands them down only
    /// where the count shows other tasks; an unreadable count is taken as busy.
    #[test]
    fn slow_windows_stand_workers_down_only_beside_other_tasks() {
        let start = Instant::now();
        let ms = |k: u64| start + Duration::from_millis(k);
        let mut c = contention_at(start);
        c.alone = Some(Duration::from_micros(100));
        c.decide(ms(0), 1, || 0, |_| Some(true));
        // One epoch of 1 ms in the window: 10 times slower than alone, but room.
        assert!(!c.decide(ms(1), 1, || 0, |_| Some(true)));
        assert!(c.decide(ms(2), 1, || 0, |_| None));
    }
}
