//! The command line's arguments (clap): one struct per command.

use std::path::PathBuf;

#[derive(clap::Parser)]
#[command(name = "volley", version, about = "Spiking neural network simulator: run model files, inspect spike files")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(clap::Subcommand)]
pub enum Command {
    /// Simulate a model file; writes the SONATA spike file and a raster PNG.
    Run(RunArgs),
    /// Validate a model file, print its sizes and the memory it will need; allocates
    /// nothing big, and fails like `run` would if the memory is not there.
    Check(CheckArgs),
    /// Plan a run before it runs: neurons, synapses and memory per rank by kind, output
    /// size by file and dataset, expected spikes and wall time; nothing is built.
    Plan(PlanArgs),
    /// Time the spike exchange between MPI ranks (run under mpirun or srun): mean time
    /// per epoch for a given number of spikes per rank, for the scaling model.
    BenchExchange(BenchExchangeArgs),
    /// Provenance, rates, ISI variability and rhythm peaks of a spike file.
    Stats(StatsArgs),
    /// Draw the raster and population rate of a spike file, and sampled traces from a report.
    Plot(PlotArgs),
    /// Print a reference page of the documentation as Markdown: every neuron model as it
    /// declares itself, or every command and option.
    Reference(ReferenceArgs),
    /// Write the network a model file draws as a SONATA circuit (nodes, edges, type
    /// tables, circuit config) and a model file that runs it with its synapses read back.
    Export(ExportArgs),
}

#[derive(clap::Args)]
pub struct ReferenceArgs {
    /// Which page.
    #[arg(value_enum)]
    pub page: ReferencePage,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReferencePage {
    /// The neuron models: parameters, units, defaults, state variables, what the GPU runs.
    Models,
    /// The commands and their options.
    Cli,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The model file (TOML); with --resume, the checkpoint's own model if left out.
    #[arg(required_unless_present = "resume")]
    pub model: Option<PathBuf>,
    /// Replaces simulation.seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replaces simulation.duration, e.g. 5000ms or 5s.
    #[arg(long)]
    pub duration: Option<String>,
    /// CPU threads (default: all cores, or SLURM_CPUS_PER_TASK inside a Slurm job).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replaces output.dir.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// What integrates the neurons: CPU threads, a GPU (a hardware one if there is
    /// one, else a software driver such as lavapipe), or a hardware GPU where there is
    /// one that runs the model, else the CPU (auto). Default: simulation.backend, else cpu.
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// The GPU adapter to use (default: the rank's index among its node's ranks,
    /// modulo the node's GPUs).
    #[arg(long, value_name = "INDEX")]
    pub gpu: Option<usize>,
    /// No progress bar or progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Seconds between progress lines when stderr is not a terminal (batch logs).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub progress_every: f64,
    /// Replace a model-file value: population.exc.size=80000 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Refuse to start if the run is estimated to need more memory, e.g. 8GB (per rank).
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// How spikes travel between MPI ranks: to every rank (all-gather), only to the
    /// ranks holding synapses from the source (directed), or chosen from the network
    /// (auto: directed when a source reaches fewer than half the ranks).
    #[arg(long, value_enum, default_value_t = Exchange::Auto)]
    pub exchange: Exchange,
    /// Cut each rank's neurons between its threads anew by their busy times measured
    /// from 200 to 400 ms: where the time saved over the rest of the run repays
    /// rebuilding the synapses twice over (auto), never, or always once (to check a
    /// cut). The spikes are the same either way.
    #[arg(long, value_enum, default_value_t = RebalanceArg::Auto)]
    pub rebalance: RebalanceArg,
    /// Append one line of figures (ranks, threads, sizes, per-phase times) to this CSV
    /// file, with a header if it is new (scaling studies).
    #[arg(long, value_name = "FILE")]
    pub report_csv: Option<PathBuf>,
    /// Write one CSV line per rank to this file (its neurons, memory held by kind, peak
    /// resident memory, phase times), replacing it; a dry run writes its rank's line.
    #[arg(long, value_name = "FILE")]
    pub ranks_csv: Option<PathBuf>,
    /// Mean firing rate assumed to size the spike file before the run (Hz).
    #[arg(long, value_name = "HZ", default_value_t = volley::run::DEFAULT_EXPECTED_RATE_HZ)]
    pub expected_rate: f64,
    /// Refuse to start if the spike file is expected to exceed this size, e.g. 10GB.
    #[arg(long, value_name = "SIZE")]
    pub max_output: Option<String>,
    /// Do not compare the spike file's expected size with the free space and the file
    /// size limit, before the run or before each append.
    #[arg(long)]
    pub skip_space_check: bool,
    /// Write a checkpoint every this much simulated time (e.g. 10s), on SIGUSR1 or
    /// SIGTERM (then exit 75), and at the end; to --checkpoint or
    /// <output.dir>/checkpoint.h5.
    #[arg(long, value_name = "TIME")]
    pub checkpoint_every: Option<String>,
    /// Where checkpoints go (each replaces the last); writes one on a stop signal and
    /// at the end even without --checkpoint-every.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Go on from a checkpoint, appending to the outputs its run wrote (any number of
    /// ranks and threads); --duration sets the new end. Checkpoints then go to the same
    /// file unless --checkpoint says otherwise.
    #[arg(long, value_name = "CHECKPOINT")]
    pub resume: Option<PathBuf>,
    /// Build and simulate only one rank's share of a run on this many ranks, with the
    /// other ranks' spikes drawn as Poisson trains at --expected-rate (or --rates-from);
    /// writes nothing, prints that rank's memory and times.
    #[arg(long, value_name = "RANKS", conflicts_with_all = ["resume", "checkpoint", "checkpoint_every", "report_csv"])]
    pub dry_run: Option<usize>,
    /// The rank a dry run builds (default: the one with the most planned time).
    #[arg(long, value_name = "RANK", requires = "dry_run")]
    pub dry_run_rank: Option<usize>,
    /// A dry run's other ranks fire at each population's mean rate in this spike file.
    #[arg(long, value_name = "SPIKES.h5", requires = "dry_run")]
    pub rates_from: Option<PathBuf>,
    /// A dry run's exchange model: µs per exchange for each doubling of the ranks.
    #[arg(long, value_name = "US", default_value_t = 1.0, requires = "dry_run")]
    pub exchange_alpha_us: f64,
    /// A dry run's exchange model: ns per spike a rank receives.
    #[arg(long, value_name = "NS", default_value_t = 2.4, requires = "dry_run")]
    pub exchange_beta_ns: f64,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The model file (TOML).
    pub model: PathBuf,
    /// Replaces simulation.duration, e.g. 5000ms or 5s.
    #[arg(long)]
    pub duration: Option<String>,
    /// Replace a model-file value: population.exc.size=80000 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Refuse if the run is estimated to need more memory, e.g. 8GB (per rank).
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// Threads the run would use (each holds its own row index).
    #[arg(long)]
    pub threads: Option<usize>,
    /// MPI ranks the run would use: memory is then shown for the largest rank, and
    /// checked against --max-memory (per rank) rather than this machine's memory.
    #[arg(long, default_value_t = 1)]
    pub ranks: usize,
    /// Also print each population's model as it declares itself: parameters, state
    /// variables, what it derives once, its step, spike and reset rule.
    #[arg(long)]
    pub describe: bool,
}

#[derive(clap::Args)]
pub struct PlanArgs {
    /// The model file (TOML).
    pub model: PathBuf,
    /// Replaces simulation.duration, e.g. 5000ms or 5s.
    #[arg(long)]
    pub duration: Option<String>,
    /// Replace a model-file value: population.exc.size=80000 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// MPI ranks of the run.
    #[arg(long, default_value_t = 1)]
    pub ranks: usize,
    /// Threads per rank (default: as `volley run` would use).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Mean firing rate guessed for every neuron (Hz): sizes spikes, events, output.
    #[arg(long, value_name = "HZ", default_value_t = volley::run::DEFAULT_EXPECTED_RATE_HZ)]
    pub expected_rate: f64,
    /// Measure this machine's costs on a small copy of the model first (a second or
    /// two) instead of the reference machine's.
    #[arg(long)]
    pub calibrate: bool,
    /// Also plan the run on GPUs, one per rank: device memory per rank and the
    /// host's peak (gpu or auto; default: simulation.backend, else cpu).
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
}

#[derive(clap::Args)]
pub struct BenchExchangeArgs {
    /// Spikes each rank sends per epoch (a list: each is measured).
    #[arg(long, value_delimiter = ',', default_value = "0,10,100,1000,10000")]
    pub spikes: Vec<usize>,
    /// Steps per epoch.
    #[arg(long, default_value_t = 1)]
    pub steps: u32,
    /// Epochs timed per point.
    #[arg(long, default_value_t = 2000)]
    pub epochs: usize,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// The spike file (SONATA HDF5) of a run.
    pub spikes: PathBuf,
    /// Simulated time, if the file does not record it.
    #[arg(long)]
    pub duration: Option<String>,
    /// Print the model file the run used (as run, after the command line's
    /// replacements), to run it again.
    #[arg(long)]
    pub model: bool,
    /// Also draw each population's distribution of inter-spike intervals into this PNG.
    #[arg(long, value_name = "PNG")]
    pub plot: Option<PathBuf>,
    /// Also print each population's rate in each second of the run (a long plastic run's
    /// course, as poly_spnet.cpp prints it).
    #[arg(long)]
    pub per_second: bool,
}

#[derive(clap::Args)]
pub struct PlotArgs {
    /// The spike file (SONATA HDF5) of a run, or its rate file (`output.rates`), whose
    /// populations' rates are drawn against time.
    #[arg(required_unless_present = "weights")]
    pub spikes: Option<PathBuf>,
    /// The PNG to write (default: raster.png, or weights.png with --weights).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// A weight file (`[[output.weights]]`): the weights' distribution at each snapshot
    /// is drawn instead.
    #[arg(long, conflicts_with_all = ["spikes", "report", "duration"])]
    pub weights: Option<PathBuf>,
    /// Simulated time, if the file does not record it.
    #[arg(long)]
    pub duration: Option<String>,
    /// A SONATA report (`[[output.report]]`) whose traces are drawn below the rate.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The report's population (default: its first).
    #[arg(long, requires = "report")]
    pub population: Option<String>,
    /// Population-local ids of the neurons whose traces are drawn, e.g. 0,3,17 (default:
    /// the report's first three).
    #[arg(long, requires = "report", value_delimiter = ',')]
    pub neurons: Vec<u64>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BackendArg {
    Cpu,
    Gpu,
    Auto,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RebalanceArg {
    Auto,
    Never,
    Always,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Exchange {
    Auto,
    AllGather,
    Directed,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The model file (TOML) or SONATA config (JSON).
    pub model: PathBuf,
    /// The folder to write the circuit into (made if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace a model-file value: population.exc.size=80000 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}
