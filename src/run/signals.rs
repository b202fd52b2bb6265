//! Signals: SIGUSR1, SIGTERM and SIGINT stop a run at its next progress point, all ranks
//! together, with its outputs completed; during the build they end the process at once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set by SIGUSR1 (what the job scripts ask Slurm to send two minutes before the time
/// limit: `#SBATCH --signal=USR1@120`), SIGTERM or SIGINT (Ctrl-C): the run stops at the
/// next progress point, all ranks together, and completes its spike file.
static STOP: AtomicI32 = AtomicI32::new(0);

/// True while the network is being built: nothing has been written yet, so a signal
/// ends the process at once (a build of 10⁹ synapses takes minutes and polls nothing),
/// leaving the previous outputs untouched.
static BUILDING: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(signal: libc::c_int) {
    if BUILDING.load(Ordering::Relaxed) {
        const MESSAGE: &[u8] = b"volley: stopped by a signal while building the network; nothing was written\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, MESSAGE.as_ptr() as *const libc::c_void, MESSAGE.len());
            libc::_exit(128 + signal);
        }
    }
    STOP.store(signal, Ordering::Relaxed);
}

pub(super) fn catch_stop_signals() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, request_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, request_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGUSR1, request_stop as *const () as libc::sighandler_t);
    }
}

/// The signal received since the run started, if any.
pub(super) fn received() -> Option<i32> {
    match STOP.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

/// Marks the build (a signal then ends the process at once) or its end.
pub(super) fn building(now: bool) {
    BUILDING.store(now, Ordering::Relaxed);
}
