//! The `volley` commands: their arguments (`args`), one module per command, and what
//! they share (the communicator, thread counts, how an error is printed). `main.rs`
//! parses the command line and dispatches here.

mod args;
mod bench_exchange;
mod check;
mod export;
mod plan;
mod plot;
mod reference;
mod run_model;
mod stats;

use args::*;
pub use args::{Cli, Command};
use std::path::Path;
use std::process::ExitCode;
use volley::analysis::{population_rate, population_stats, welch_spectrum};
use volley::backend::cpu::CpuOptions;
use volley::backend::kind::BackendKind;
use volley::backend::BackendChoice;
use volley::comm::{Communicator, ExchangeMode};
use volley::config::{self, Overrides};
use volley::record::sonata;
use volley::run::{self, fmt_bytes, RunOptions};
use volley::{Error, Result};

/// Runs `command`; `rank` is set to this process's MPI rank once it is known.
pub fn dispatch(command: Command, rank: &mut usize) -> Result<ExitCode> {
    match command {
        Command::Run(a) => run_model::run(a, rank),
        Command::Check(a) => check::check(a),
        Command::Plan(a) => plan::plan(a),
        Command::BenchExchange(a) => bench_exchange::bench_exchange(a, rank),
        Command::Stats(a) => stats::stats(a),
        Command::Plot(a) => plot::plot(a),
        Command::Reference(a) => reference::reference(a),
        Command::Export(a) => export::export(a, rank),
    }
}

/// Prints an error once and returns `Error::Reported` with its exit code. Ranks agree on
/// every error (comm::agree): one rank holds it and prints it, the others hold OtherRank
/// and print nothing, so a failure is one line.
pub fn report(e: Error, rank: usize) -> Error {
    if !matches!(e, Error::OtherRank { .. } | Error::Reported { .. }) {
        let who = if rank > 0 { format!(" (rank {rank})") } else { String::new() };
        eprintln!("error{who}: {e}");
    }
    Error::Reported { exit_code: e.exit_code() }
}

/// Gives the GPU drivers a private runtime directory where the environment has none:
/// Wayland's client library, which Mesa's drivers (lavapipe among them) load, prints
/// "error: XDG_RUNTIME_DIR is invalid or not set" each time a GPU is looked for, though
/// nothing fails — a batch job's log would then show errors of a run that succeeded.
/// Done first thing, while the process has one thread (the environment is not
/// thread-safe to change).
#[cfg(feature = "gpu")]
pub fn ensure_runtime_dir() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let private = |d: &Path| {
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        d.is_absolute() && std::fs::metadata(d).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
    };
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| private(Path::new(&d))) {
        return;
    }
    // SAFETY: as above.
    let dir = std::env::temp_dir().join(format!("volley-runtime-{}", unsafe { libc::getuid() }));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    if private(&dir) {
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
    }
}

/// Prints what the model file holds that is valid but probably not meant.
pub fn warn(desc: &volley::network::Description) {
    for w in &desc.warnings {
        eprintln!("volley: warning: {w}");
    }
}

pub fn threads_from_env() -> Option<usize> {
    std::env::var("SLURM_CPUS_PER_TASK").ok()?.parse().ok()
}

/// More threads than any machine volley runs on has cores: beyond, a typo.
const MAX_THREADS: usize = 4096;

/// `--threads`, else SLURM_CPUS_PER_TASK, else every core, for a run on this machine:
/// a warning where that is more than its cores.
pub fn thread_count(option: Option<usize>) -> Result<usize> {
    let threads = planned_threads(option)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads > cores {
        // Oversubscribed threads take turns on the cores: slower, not wrong.
        eprintln!("volley: warning: --threads {threads} is more than the {cores} cores this process may use; the run will be slower than with {cores}");
    }
    Ok(threads)
}

/// `thread_count` for a run planned, perhaps for another machine: no warning about this
/// one's cores.
pub fn planned_threads(option: Option<usize>) -> Result<usize> {
    if option == Some(0) {
        return Err(Error::Option { option: "--threads".into(), message: "expected at least 1 thread".into() });
    }
    let threads = option.or_else(threads_from_env).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads > MAX_THREADS {
        return Err(Error::Option {
            option: "--threads".into(),
            message: format!("expected at most {MAX_THREADS} threads, got {threads}"),
        });
    }
    Ok(threads)
}

pub fn memory_limit(option: Option<String>) -> Result<Option<u64>> {
    option.map(|m| run::parse_size(&m).map_err(|message| Error::Option { option: "--max-memory".into(), message })).transpose()
}
