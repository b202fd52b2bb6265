//! The `volley` command line: run | check | stats | plot.

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use volley::analysis::{population_rate, population_stats, welch_spectrum};
use volley::backend::cpu::CpuOptions;
use volley::backend::kind::BackendKind;
use volley::backend::BackendChoice;
use volley::comm::{Communicator, ExchangeMode, LocalComm};
use volley::config::{self, Overrides};
use volley::record::sonata;
use volley::run::{self, fmt_bytes, RunOptions};
use volley::{Error, Result};

#[derive(Parser)]
#[command(name = "volley", version, about = "Spiking neural network simulator: run model files, inspect spike files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a model file; writes the SONATA spike file and a raster PNG.
    Run {
        /// The model file (TOML); with --resume, the checkpoint's own model if left out.
        #[arg(required_unless_present = "resume")]
        model: Option<PathBuf>,
        /// Replaces simulation.seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Replaces simulation.duration, e.g. 5000ms or 5s.
        #[arg(long)]
        duration: Option<String>,
        /// CPU threads (default: all cores, or SLURM_CPUS_PER_TASK inside a Slurm job).
        #[arg(long)]
        threads: Option<usize>,
        /// Replaces output.dir.
        #[arg(long)]
        out: Option<PathBuf>,
        /// What integrates the neurons: CPU threads, a GPU (a hardware one if there is
        /// one, else a software driver such as lavapipe), or a hardware GPU where there is
        /// one that runs the model, else the CPU (auto). Default: simulation.backend, else cpu.
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// The GPU adapter to use (default: the rank's index among its node's ranks,
        /// modulo the node's GPUs).
        #[arg(long, value_name = "INDEX")]
        gpu: Option<usize>,
        /// No progress bar or progress lines.
        #[arg(long, short)]
        quiet: bool,
        /// Seconds between progress lines when stderr is not a terminal (batch logs).
        #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
        progress_every: f64,
        /// Replace a model-file value: population.exc.size=80000 (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Refuse to start if the run is estimated to need more memory, e.g. 8GB (per rank).
        #[arg(long)]
        max_memory: Option<String>,
        /// How spikes travel between MPI ranks: to every rank (all-gather), only to the
        /// ranks holding synapses from the source (directed), or chosen from the network
        /// (auto: directed when a source reaches fewer than half the ranks).
        #[arg(long, value_enum, default_value_t = Exchange::Auto)]
        exchange: Exchange,
        /// Append one line of figures (ranks, threads, sizes, per-phase times) to this CSV
        /// file, with a header if it is new (scaling studies).
        #[arg(long, value_name = "FILE")]
        report_csv: Option<PathBuf>,
        /// Mean firing rate assumed to size the spike file before the run (Hz).
        #[arg(long, value_name = "HZ", default_value_t = volley::run::DEFAULT_EXPECTED_RATE_HZ)]
        expected_rate: f64,
        /// Refuse to start if the spike file is expected to exceed this size, e.g. 10GB.
        #[arg(long, value_name = "SIZE")]
        max_output: Option<String>,
        /// Do not compare the spike file's expected size with the free space and the file
        /// size limit, before the run or before each append.
        #[arg(long)]
        skip_space_check: bool,
        /// Write a checkpoint every this much simulated time (e.g. 10s), on SIGUSR1 or
        /// SIGTERM (then exit 75), and at the end; to --checkpoint or
        /// <output.dir>/checkpoint.h5.
        #[arg(long, value_name = "TIME")]
        checkpoint_every: Option<String>,
        /// Where checkpoints go (each replaces the last); writes one on a stop signal and
        /// at the end even without --checkpoint-every.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Go on from a checkpoint, appending to the outputs its run wrote (any number of
        /// ranks and threads); --duration sets the new end. Checkpoints then go to the same
        /// file unless --checkpoint says otherwise.
        #[arg(long, value_name = "CHECKPOINT")]
        resume: Option<PathBuf>,
    },
    /// Validate a model file, print its sizes and the memory it will need; allocates
    /// nothing big, and fails like `run` would if the memory is not there.
    Check {
        model: PathBuf,
        #[arg(long)]
        duration: Option<String>,
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        #[arg(long)]
        max_memory: Option<String>,
        /// Threads the run would use (each holds its own row index).
        #[arg(long)]
        threads: Option<usize>,
        /// MPI ranks the run would use: memory is then shown for the largest rank, and
        /// checked against --max-memory (per rank) rather than this machine's memory.
        #[arg(long, default_value_t = 1)]
        ranks: usize,
        /// Also print each population's model as it declares itself: parameters, state
        /// variables, what it derives once, its step, spike and reset rule.
        #[arg(long)]
        describe: bool,
    },
    /// Plan a run before it runs: neurons, synapses and memory per rank by kind, output
    /// size by file and dataset, expected spikes and wall time; nothing is built.
    Plan {
        model: PathBuf,
        #[arg(long)]
        duration: Option<String>,
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// MPI ranks of the run.
        #[arg(long, default_value_t = 1)]
        ranks: usize,
        /// Threads per rank (default: as `volley run` would use).
        #[arg(long)]
        threads: Option<usize>,
        /// Mean firing rate guessed for every neuron (Hz): sizes spikes, events, output.
        #[arg(long, value_name = "HZ", default_value_t = volley::run::DEFAULT_EXPECTED_RATE_HZ)]
        expected_rate: f64,
        /// Measure this machine's costs on a small copy of the model first (a second or
        /// two) instead of the reference machine's.
        #[arg(long)]
        calibrate: bool,
        /// Also plan the run on GPUs, one per rank: device memory per rank and the
        /// host's peak (gpu or auto; default: simulation.backend, else cpu).
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
    },
    /// Time the spike exchange between MPI ranks (run under mpirun or srun): mean time
    /// per epoch for a given number of spikes per rank, for the scaling model.
    BenchExchange {
        /// Spikes each rank sends per epoch (a list: each is measured).
        #[arg(long, value_delimiter = ',', default_value = "0,10,100,1000,10000")]
        spikes: Vec<usize>,
        /// Steps per epoch.
        #[arg(long, default_value_t = 1)]
        steps: u32,
        /// Epochs timed per point.
        #[arg(long, default_value_t = 2000)]
        epochs: usize,
    },
    /// Provenance, rates, ISI variability and rhythm peaks of a spike file.
    Stats {
        spikes: PathBuf,
        /// Simulated time, if the file does not record it.
        #[arg(long)]
        duration: Option<String>,
        /// Print the model file the run used (as run, after the command line's
        /// replacements), to run it again.
        #[arg(long)]
        model: bool,
    },
    /// Draw the raster and population rate of a spike file, and sampled traces from a report.
    Plot {
        spikes: PathBuf,
        #[arg(short, long, default_value = "raster.png")]
        output: PathBuf,
        #[arg(long)]
        duration: Option<String>,
        /// A SONATA report (`[[output.report]]`) whose traces are drawn below the rate.
        #[arg(long)]
        report: Option<PathBuf>,
        /// The report's population (default: its first).
        #[arg(long, requires = "report")]
        population: Option<String>,
        /// Population-local ids of the neurons whose traces are drawn, e.g. 0,3,17 (default:
        /// the report's first three).
        #[arg(long, requires = "report", value_delimiter = ',')]
        neurons: Vec<u64>,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum BackendArg {
    Cpu,
    Gpu,
    Auto,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Exchange {
    Auto,
    AllGather,
    Directed,
}

fn main() -> ExitCode {
    // Output piped into `head` ends the process quietly, as for any Unix tool, instead of
    // a panic on the next print (Rust ignores SIGPIPE by default).
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // A file growing past `ulimit -f` is then a write error that volley reports and
    // recovers from, not a signal that kills it with a half-written file.
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let cli = Cli::parse();
    #[cfg(feature = "gpu")]
    if matches!(cli.command, Command::Run { .. } | Command::Check { .. } | Command::Plan { .. }) {
        ensure_runtime_dir();
    }
    let mut rank = 0;
    match dispatch(cli.command, &mut rank) {
        Ok(code) => code,
        Err(e) => ExitCode::from(report(e, rank).exit_code() as u8),
    }
}

/// Prints an error once and returns `Error::Reported` with its exit code. Ranks agree on
/// every error (comm::agree): one rank holds it and prints it, the others hold OtherRank
/// and print nothing, so a failure is one line.
fn report(e: Error, rank: usize) -> Error {
    if !matches!(e, Error::OtherRank { .. } | Error::Reported { .. }) {
        let who = if rank > 0 { format!(" (rank {rank})") } else { String::new() };
        eprintln!("error{who}: {e}");
    }
    Error::Reported { exit_code: e.exit_code() }
}

/// The communicator: MPI when a launcher (mpirun, srun) started this process, or when
/// VOLLEY_MPI=1; otherwise one process without MPI (no start-up cost). Several copies
/// started without MPI would each run the whole network into the same file: refused.
fn communicator() -> Result<Box<dyn Communicator>> {
    let var = |name: &str| std::env::var(name).ok();
    let copies = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"].iter().filter_map(|v| var(v)?.parse::<u64>().ok()).max();
    #[cfg(feature = "mpi")]
    {
        let launched = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].iter().any(|v| var(v).is_some());
        if launched || var("VOLLEY_MPI").is_some_and(|v| v == "1") {
            if let Some(comm) = volley::comm::mpi::MpiComm::init() {
                return Ok(Box::new(comm));
            }
        }
        if let Some(n) = copies.filter(|&n| n > 1) {
            return Err(Error::Option {
                option: "launch".into(),
                message: format!(
                    "started as one of {n} tasks but without an MPI launcher's environment: use `srun --mpi=pmix` or `mpirun`"
                ),
            });
        }
    }
    #[cfg(not(feature = "mpi"))]
    if let Some(n) = copies.filter(|&n| n > 1) {
        return Err(Error::Option {
            option: "launch".into(),
            message: format!("started as one of {n} tasks, but this volley was built without MPI (cargo feature `mpi`): each copy would run the whole network"),
        });
    }
    Ok(Box::new(LocalComm))
}

/// Gives the GPU drivers a private runtime directory where the environment has none:
/// Wayland's client library, which Mesa's drivers (lavapipe among them) load, prints
/// "error: XDG_RUNTIME_DIR is invalid or not set" each time a GPU is looked for, though
/// nothing fails — a batch job's log would then show errors of a run that succeeded.
/// Done first thing, while the process has one thread (the environment is not
/// thread-safe to change).
#[cfg(feature = "gpu")]
fn ensure_runtime_dir() {
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
fn warn(desc: &volley::network::Description) {
    for w in &desc.warnings {
        eprintln!("volley: warning: {w}");
    }
}

fn threads_from_env() -> Option<usize> {
    std::env::var("SLURM_CPUS_PER_TASK").ok()?.parse().ok()
}

/// More threads than any machine volley runs on has cores: beyond, a typo.
const MAX_THREADS: usize = 4096;

/// `--threads`, else SLURM_CPUS_PER_TASK, else every core.
fn thread_count(option: Option<usize>) -> Result<usize> {
    if option == Some(0) {
        return Err(Error::Option { option: "--threads".into(), message: "expected at least 1 thread".into() });
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = option.or_else(threads_from_env).unwrap_or(cores);
    if threads > MAX_THREADS {
        return Err(Error::Option {
            option: "--threads".into(),
            message: format!("expected at most {MAX_THREADS} threads, got {threads}"),
        });
    }
    if threads > cores {
        // Oversubscribed threads take turns on the cores: slower, not wrong.
        eprintln!("volley: warning: --threads {threads} is more than the {cores} cores this process may use; the run will be slower than with {cores}");
    }
    Ok(threads)
}

fn memory_limit(option: Option<String>) -> Result<Option<u64>> {
    option.map(|m| run::parse_size(&m).map_err(|message| Error::Option { option: "--max-memory".into(), message })).transpose()
}

fn dispatch(command: Command, rank: &mut usize) -> Result<ExitCode> {
    match command {
        Command::Run {
            model,
            seed,
            duration,
            threads,
            out,
            backend,
            gpu,
            quiet,
            progress_every,
            sets,
            max_memory,
            exchange,
            report_csv,
            expected_rate,
            max_output,
            skip_space_check,
            checkpoint_every,
            checkpoint,
            resume,
        } => {
            let mut comm = communicator()?;
            *rank = comm.rank();
            let outcome = (|| -> Result<ExitCode> {
                // Every rank reads the same file and options and meets the same errors: the
                // first rank reports them.
                let checked = (|| {
                    let threads = thread_count(threads)?;
                    let max_memory = memory_limit(max_memory)?;
                    if !(progress_every > 0.0 && progress_every.is_finite()) {
                        return Err(Error::Option {
                            option: "--progress-every".into(),
                            message: format!("expected a number of seconds > 0 (--quiet prints no progress), got {progress_every}"),
                        });
                    }
                    if !(expected_rate >= 0.0 && expected_rate.is_finite()) {
                        return Err(Error::Option {
                            option: "--expected-rate".into(),
                            message: format!("expected a rate in Hz ≥ 0, got {expected_rate}"),
                        });
                    }
                    let max_output = max_output
                        .map(|m| run::parse_size(&m).map_err(|message| Error::Option { option: "--max-output".into(), message }))
                        .transpose()?;

                    let every_ms = checkpoint_every
                        .as_deref()
                        .map(|t| match config::parse_time(t) {
                            Ok(ms) if ms > 0.0 => Ok(ms),
                            Ok(ms) => Err(format!("expected a simulated time > 0, got {ms} ms")),
                            Err(m) => Err(m),
                        })
                        .transpose()
                        .map_err(|message| Error::Option { option: "--checkpoint-every".into(), message })?;
                    let overrides = Overrides { seed, duration, out_dir: out, sets };
                    let desc = match (&model, &resume) {
                        (Some(model), _) => config::load(model, &overrides)?,
                        (None, Some(from)) => {
                            let text = volley::checkpoint::Checkpoint::open(from)?.model_text;
                            config::parse(&text, &format!("{} (the model it holds)", from.display()), &overrides)?
                        }
                        (None, None) => unreachable!("clap requires a model without --resume"),
                    };
                    // Every path the run writes is checked before the build, this one too.
                    if let Some(csv) = report_csv.as_deref().filter(|_| comm.rank() == 0) {
                        run::check_appendable(csv, "--report-csv", &desc.output.dir)?;
                    }
                    let path =
                        checkpoint.clone().or_else(|| resume.clone()).or_else(|| every_ms.map(|_| desc.output.dir.join("checkpoint.h5")));
                    let checkpoint = path.map(|path| run::CheckpointOptions { path, every_ms });
                    Ok((threads, max_memory, max_output, desc, checkpoint))
                })();
                let (threads, max_memory, max_output, desc, checkpoint) = volley::comm::agree(comm.as_ref(), checked)?;
                if comm.rank() == 0 {
                    warn(&desc);
                }
                let options = RunOptions {
                    cpu: CpuOptions { threads, ..CpuOptions::default() },
                    progress: !quiet,
                    progress_interval: progress_every,
                    max_memory,
                    backend: match backend {
                        Some(BackendArg::Cpu) => BackendChoice::Cpu,
                        Some(BackendArg::Gpu) => BackendChoice::Gpu,
                        Some(BackendArg::Auto) => BackendChoice::Auto,
                        None => desc.backend,
                    },
                    gpu,
                    exchange: match exchange {
                        Exchange::Auto => ExchangeMode::Auto,
                        Exchange::AllGather => ExchangeMode::AllGather,
                        Exchange::Directed => ExchangeMode::Directed,
                    },
                    expected_rate_hz: expected_rate,
                    max_output,
                    skip_space_check,
                    command_line: std::env::args().collect::<Vec<_>>().join(" "),
                    checkpoint,
                    resume,
                };
                let report = run::run(&desc, &options, comm.as_mut())?;
                if comm.rank() == 0 {
                    println!("{}", run::summary(&desc, &report));
                    for path in report.spike_file.iter().chain(&report.raster).chain(&report.report_files) {
                        println!("wrote {}", path.display());
                    }
                    if let Some(csv) = &report_csv {
                        run::append_csv(csv, &run::csv_line(&desc, &report, threads))?;
                    }
                }
                match report.stopped_by_signal {
                    // Like a shell: 128 + the signal, so that a job script sees the run was cut.
                    Some(signal) => {
                        let (ms, of) = (report.steps as f64 * desc.dt_ms, desc.steps as f64 * desc.dt_ms);
                        match &report.checkpoint {
                            // A code of its own: a job script requeues itself on it.
                            Some((path, _)) => {
                                if comm.rank() == 0 {
                                    eprintln!(
                                        "volley: stopped by signal {signal} after {ms} ms of {of} ms; checkpoint written to {}: go on with `volley run --resume {}`",
                                        path.display(),
                                        path.display()
                                    );
                                }
                                Ok(ExitCode::from(volley::error::EXIT_CHECKPOINTED as u8))
                            }
                            None => {
                                if comm.rank() == 0 {
                                    eprintln!("volley: stopped by signal {signal} after {ms} ms of {of} ms; the spike file holds every spike up to then");
                                }
                                Ok(ExitCode::from(128 + signal as u8))
                            }
                        }
                    }
                    None => Ok(ExitCode::SUCCESS),
                }
            })();
            // Printed while MPI is up: MPI_Finalize, when `comm` drops, waits for every
            // rank, so no rank can exit (and have mpirun kill the rest) before the error
            // line is out.
            outcome.map_err(|e| report(e, *rank))
        }
        Command::Plan { model, duration, sets, ranks, threads, expected_rate, calibrate, backend } => {
            // The run planned may be on another machine: no warning for more threads than here.
            if threads == Some(0) {
                return Err(Error::Option { option: "--threads".into(), message: "expected at least 1 thread".into() });
            }
            let threads = threads.or_else(threads_from_env).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if ranks == 0 {
                return Err(Error::Option { option: "--ranks".into(), message: "expected at least 1 rank".into() });
            }
            if !(expected_rate >= 0.0 && expected_rate.is_finite()) {
                return Err(Error::Option {
                    option: "--expected-rate".into(),
                    message: format!("expected a rate in Hz ≥ 0, got {expected_rate}"),
                });
            }
            let desc = config::load(&model, &Overrides { duration, sets, ..Overrides::default() })?;
            volley::plan::check_ranks(&desc, ranks).map_err(|message| Error::Option { option: "--ranks".into(), message })?;
            let costs = if calibrate { volley::plan::calibrate(&desc, threads)? } else { volley::plan::Costs::default() };
            // The run planned may be on another machine: `auto` is planned as a GPU.
            let kind = match backend {
                Some(BackendArg::Cpu) => BackendKind::Cpu,
                Some(BackendArg::Gpu | BackendArg::Auto) => BackendKind::Gpu,
                None if desc.backend == BackendChoice::Cpu => BackendKind::Cpu,
                None => BackendKind::Gpu,
            };
            if !cfg!(feature = "gpu") && kind == BackendKind::Gpu {
                return Err(Error::Option {
                    option: "--backend gpu".into(),
                    message: "this volley was built without the GPU backend (cargo feature `gpu`): plan with --backend cpu".into(),
                });
            }
            let options = volley::plan::PlanOptions { ranks, threads, rate_hz: expected_rate, kind };
            let plan = volley::plan::plan(&desc, &options, &costs);
            println!(
                "{}: {} neurons, {} synapses, {} ms in {} steps of {} ms",
                model.display(),
                desc.total_neurons(),
                desc.synapse_count(),
                desc.steps as f64 * desc.dt_ms,
                desc.steps,
                desc.dt_ms
            );
            println!("{plan}");
            println!("{}", volley::plan::machine_line(&plan));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { model, duration, sets, max_memory, threads, ranks, describe } => {
            let threads = thread_count(threads)?;
            let max_memory = memory_limit(max_memory)?;
            if ranks == 0 {
                return Err(Error::Option { option: "--ranks".into(), message: "expected at least 1 rank".into() });
            }
            let desc = config::load(&model, &Overrides { duration, sets, ..Overrides::default() })?;
            volley::plan::check_ranks(&desc, ranks).map_err(|message| Error::Option { option: "--ranks".into(), message })?;
            warn(&desc);
            let options = volley::plan::PlanOptions { ranks, threads, rate_hz: run::DEFAULT_EXPECTED_RATE_HZ, kind: BackendKind::Cpu };
            let plan = volley::plan::plan(&desc, &options, &volley::plan::Costs::default());
            let (memory, all_ranks) = if ranks == 1 {
                run::check_memory(&plan, 0, max_memory, 1)?;
                let m = plan.rank(0).memory;
                (m, m.total())
            } else {
                for shape in &plan.shapes {
                    run::check_store_limits(&shape.memory)?;
                }
                let largest = plan.shapes.iter().map(|s| s.memory).max_by_key(|m| m.total()).expect("at least one rank");
                if let Some(limit) = max_memory.filter(|&l| largest.total() > l) {
                    return Err(Error::Memory(format!(
                        "the largest of {ranks} ranks needs {} but --max-memory allows {} per rank: use more ranks",
                        fmt_bytes(largest.total()),
                        fmt_bytes(limit)
                    )));
                }
                (largest, plan.shapes.iter().map(|s| s.memory.total() * s.count).sum())
            };
            println!("{}: ok", model.display());
            for p in &desc.populations {
                let declaration = p.model.declaration();
                println!(
                    "  population {:<12} {:>12} neurons  (ids {}..{})  {}, {} bytes of state per neuron",
                    p.name,
                    p.size,
                    p.first_gid,
                    p.first_gid + p.size,
                    declaration.model,
                    p.model.bytes_per_neuron()
                );
                if describe {
                    println!("{}", declaration.describe(&p.given));
                }
            }
            println!("  neurons {}, synapses {}, projections {}", desc.total_neurons(), desc.synapse_count(), desc.projections.len());
            println!(
                "  dt {} ms, {} steps ({} ms), epoch {} step(s), delay rings of {} slot(s), seed {}",
                desc.dt_ms,
                desc.steps,
                desc.steps as f64 * desc.dt_ms,
                desc.epoch_steps(),
                desc.ring_slots(),
                desc.seed
            );
            let whose = if ranks > 1 { format!(" of the largest of {ranks} ranks, {threads} thread(s) each") } else { String::new() };
            println!(
                "  memory{whose}: state {}, synapses {}, buffers {}, total {}",
                fmt_bytes(memory.state),
                fmt_bytes(memory.synapses),
                fmt_bytes(memory.buffers),
                fmt_bytes(memory.total())
            );
            if ranks > 1 {
                println!("  memory of all {ranks} ranks: {}", fmt_bytes(all_ranks));
            }
            // What a GPU would hold for the largest rank (`--backend gpu`).
            #[cfg(feature = "gpu")]
            match BackendKind::Gpu.unsupported(&desc) {
                Some(why) => println!("  on a GPU: not run ({why})"),
                None => {
                    let gpu = plan
                        .shapes
                        .iter()
                        .map(|s| BackendKind::Gpu.memory_estimate(&desc, s.neurons.clone(), threads))
                        .max_by_key(|m| m.total())
                        .expect("at least one rank");
                    println!(
                        "  on a GPU{}: device memory state {}, synapses {}, buffers {}, total {}; the largest projection stores {} synapses on one rank ({} of targets; rows past one storage binding are cut into chunks)",
                        if ranks > 1 { format!(", the largest of {ranks} ranks") } else { String::new() },
                        fmt_bytes(gpu.state),
                        fmt_bytes(gpu.synapses),
                        fmt_bytes(gpu.buffers),
                        fmt_bytes(gpu.total()),
                        gpu.largest_shard_projection,
                        fmt_bytes(gpu.largest_shard_projection * 4)
                    );
                }
            }
            // Spikes are buffered between appends to the file: 8 bytes each.
            let flush_ms = desc.flush_steps().min(desc.steps) as f64 * desc.dt_ms;
            let at_10_hz = desc.total_neurons() as f64 * 10.0 * flush_ms / 1000.0 * 8.0;
            println!(
                "  recording: 8 bytes per spike buffered for {flush_ms} ms between appends to the file, {} at a mean rate of 10 Hz",
                fmt_bytes(at_10_hz as u64)
            );
            for r in &desc.output.reports {
                let values: u64 = r.populations.iter().map(|p| p.neurons.len() as u64).sum();
                let names: Vec<&str> = r.populations.iter().map(|p| desc.populations[p.population].name.as_str()).collect();
                let (schedule, samples) = (r.schedule, r.schedule.samples_before(desc.steps));
                println!(
                    "  report {}: {} of {values} neurons ({}) every {} ms from {} to {} ms: {samples} samples, {} (buffered: {} per rank at most)",
                    r.file,
                    r.variable,
                    names.join(", "),
                    schedule.interval_steps as f64 * desc.dt_ms,
                    schedule.start_step as f64 * desc.dt_ms,
                    schedule.stop_step as f64 * desc.dt_ms,
                    fmt_bytes(samples * values * 4),
                    fmt_bytes(desc.flush_steps().min(desc.steps).div_ceil(schedule.interval_steps) * values * 4)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchExchange { spikes, steps, epochs } => {
            let mut comm = communicator()?;
            *rank = comm.rank();
            if steps == 0 {
                return Err(Error::Option { option: "--steps".into(), message: "expected at least 1 step per epoch".into() });
            }
            if comm.rank() == 0 {
                println!("ranks,spikes_per_rank,steps_per_epoch,us_per_exchange_min,us_per_exchange_median,us_per_exchange_max");
            }
            for k in spikes {
                let mine = volley::comm::time_exchange(comm.as_mut(), k, steps, epochs);
                let mut all = comm.all_gather_f64(&[mine * 1e6]);
                all.sort_by(f64::total_cmp);
                if comm.rank() == 0 {
                    println!("{},{k},{steps},{:.2},{:.2},{:.2}", comm.size(), all[0], all[all.len() / 2], all[all.len() - 1]);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats { spikes, duration, model } => {
            let file = sonata::read_spike_file(&spikes)?;
            if model {
                print!("{}", reproducing_model(&file, &spikes)?);
                return Ok(ExitCode::SUCCESS);
            }
            let duration_ms = duration_of(&file, duration, &spikes)?;
            file.validate().map_err(|m| Error::Input { path: spikes.clone(), message: m })?;
            print!("{}", stats_report(&spikes, &file, duration_ms));
            Ok(ExitCode::SUCCESS)
        }
        Command::Plot { spikes, output, duration, report, population, neurons } => {
            let duration_ms = duration
                .map(|d| config::parse_time(&d).map_err(|m| Error::Option { option: "--duration".into(), message: m }))
                .transpose()?;
            // The picture's name is checked before the spike file is read.
            let bad = |message: String| Error::Option { option: "--output".into(), message };
            if !output.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
                return Err(bad(format!("expected a file name ending in .png, got {:?}", output.display().to_string())));
            }
            if output.is_dir() {
                return Err(bad(format!("{} is a directory", output.display())));
            }
            let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(bad(format!("{} is not a directory", parent.display())));
            }
            let traces =
                report.map(|r| volley::record::report::read_traces(&r, population.as_deref(), &neurons).map(|t| (r, t))).transpose()?;
            if let Some((r, _)) = &traces {
                volley::record::provenance::same_run(&spikes, r)?;
            }
            let traces = traces.map(|(_, t)| t);
            volley::plot::figure_png_from(&spikes, duration_ms, traces.as_ref(), &output)?;
            println!("wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The model that reproduces a spike file whole: the text its run ran (seed and
/// `--set` included), for the simulated time the file holds (every piece of a resumed
/// run), on the backend it ran on.
fn reproducing_model(file: &sonata::SpikeFile, path: &Path) -> Result<String> {
    let field = |key: &str| file.provenance.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let text = field("model").ok_or_else(|| Error::Input { path: path.to_path_buf(), message: "the file records no model".into() })?;
    let mut replacements = Vec::new();
    if let Some(ms) = file.duration_ms {
        replacements.push(config::Replacement::flag_text("--duration", "simulation.duration", &format!("{ms} ms")));
    }
    if let Some(kind) = field("backend").and_then(|b| b.split_whitespace().next()).filter(|k| ["cpu", "gpu"].contains(k)) {
        replacements.push(config::Replacement::flag_text("--backend", "simulation.backend", kind));
    }
    let edited = config::set::apply(text, &path.display().to_string(), &replacements)?;
    Ok(edited.text)
}

/// What `volley stats` prints: provenance, per-population rates and ISI variability,
/// and the rhythm peaks of the population rate, each with a clear line where the file
/// has too little for it.
fn stats_report(path: &Path, file: &sonata::SpikeFile, duration_ms: f64) -> String {
    use std::fmt::Write;
    let mut out = format!("{}: {} ms\n", path.display(), duration_ms);
    for (key, value) in &file.provenance {
        let shown =
            if key == "model" { format!("{} lines as run (volley stats --model prints it)", value.lines().count()) } else { value.clone() };
        let _ = writeln!(out, "  {key:<14} {shown}");
    }
    let total: usize = file.populations.iter().map(|p| p.timestamps_ms.len()).sum();
    for pop in &file.populations {
        let size = pop.size.unwrap_or_else(|| pop.node_ids.iter().max().map_or(0, |m| m + 1));
        let s = population_stats(pop, size, duration_ms);
        let rate = if duration_ms > 0.0 { format!("{:>7.2} Hz", s.rate_hz) } else { "n/a (the file covers 0 ms)".into() };
        let cv = s.cv_isi.map_or("n/a (no neuron with 3 spikes)".to_string(), |c| format!("{c:.2}"));
        let recorded = if s.recorded == s.size { String::new() } else { format!(" ({} recorded)", s.recorded) };
        let _ = writeln!(out, "  {:<12} {:>8} neurons{recorded} {:>10} spikes  rate {rate}  CV(ISI) {cv}", s.name, s.size, s.spikes);
    }
    let rate = population_rate(&file.populations, 1.0, duration_ms);
    let spectrum = welch_spectrum(&rate, 1.0, 1000.0);
    let mean = spectrum.mean_power();
    for (lo, hi, label) in [(1.0, 15.0, "largest peak < 15 Hz"), (30.0, 50.0, "gamma peak 30-50 Hz")] {
        let line = match spectrum.peak_in(lo, hi) {
            _ if total == 0 => "n/a (no spikes)".to_string(),
            Some((f, p)) if mean > 0.0 => format!("{f:>5.1} Hz  (power {:.1}x the mean)", p / mean),
            Some(_) => "n/a (the population rate is constant)".to_string(),
            None => "n/a (run too short)".to_string(),
        };
        let _ = writeln!(out, "  {label:<22} {line}");
    }
    out
}

fn duration_of(file: &sonata::SpikeFile, option: Option<String>, path: &Path) -> Result<f64> {
    match (option, file.duration_ms) {
        (Some(text), _) => match config::parse_time(&text) {
            Ok(d) if d >= 0.0 => Ok(d),
            Ok(d) => Err(Error::Option { option: "--duration".into(), message: format!("expected a time ≥ 0, got {d} ms") }),
            Err(m) => Err(Error::Option { option: "--duration".into(), message: m }),
        },
        (None, Some(d)) if d >= 0.0 && d.is_finite() => Ok(d),
        (None, Some(d)) => {
            Err(Error::Input { path: path.to_path_buf(), message: format!("its duration_ms is {d}: expected a time ≥ 0") })
        }
        (None, None) => {
            Err(Error::Input { path: path.to_path_buf(), message: "the file does not record its duration: give --duration".into() })
        }
    }
}
