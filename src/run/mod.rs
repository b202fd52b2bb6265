//! One run from a description to files: check the output can be written, build the
//! backend, run the epochs with progress reports, write spikes and the raster, and
//! summarise. The single runtime choice point of backend and communicator lives here.

pub mod balance;
mod checks;
pub mod dry;
mod inputs;
pub mod lock;
mod outputs;
mod progress;
pub mod session;
mod signals;
mod summary;

pub use checks::{
    check_appendable, check_checkpoint_path, check_memory, check_output_space, check_outputs, check_planned_ranks, check_store_limits,
    parse_size, suggest_output,
};
pub use summary::{append_csv, csv_line, fmt_bytes, fmt_duration, peak_memory, rank_table, summary, CSV_HEADER, RANK_CSV_HEADER};

use crate::backend::cpu::CpuOptions;
use crate::backend::kind::BackendKind;
use crate::backend::{Backend, BackendChoice, BackendOptions};
use crate::checkpoint::{self, Checkpoint, Positions, Written};
use crate::comm::{agree, agree_first, Communicator, ExchangeMode};
use crate::engine::{PhaseTimes, Simulation};
use crate::error::{Error, Result};
use crate::model::NonFinite;
use crate::network::Description;
use crate::partition;
use crate::plan::{Costs, PlanOptions};
use crate::plot;
use crate::record::writer::Provenance;
use outputs::{Finished, Outputs};
use progress::Progress;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub cpu: CpuOptions,
    /// The backend (`--backend`) and, for a GPU, the adapter (`--gpu`).
    pub backend: BackendChoice,
    pub gpu: Option<usize>,
    /// Show progress (a bar on a terminal, periodic lines otherwise).
    pub progress: bool,
    /// Seconds between plain progress lines when not on a terminal.
    pub progress_interval: f64,
    /// Refuse runs estimated to need more bytes than this.
    pub max_memory: Option<u64>,
    /// How spikes travel between ranks.
    pub exchange: ExchangeMode,
    /// Mean firing rate (Hz) assumed to size the output before the run.
    pub expected_rate_hz: f64,
    /// Refuse runs whose output is estimated to exceed this many bytes.
    pub max_output: Option<u64>,
    /// Do not compare the output's size with the free space (before the run and before
    /// each append).
    pub skip_space_check: bool,
    /// The command line, for the spike file's provenance.
    pub command_line: String,
    /// Where and how often to write checkpoints; without, none is written.
    pub checkpoint: Option<CheckpointOptions>,
    /// A checkpoint to go on from (its model is the description's, checked).
    pub resume: Option<PathBuf>,
    /// Whether the threads' shards are cut anew by their measured times.
    pub rebalance: balance::Rebalance,
}

/// Checkpoints of a run: written every `every_ms` of simulated time (if set), on a stop
/// signal, and at the end, each replacing the last.
#[derive(Clone, Debug)]
pub struct CheckpointOptions {
    pub path: PathBuf,
    pub every_ms: Option<f64>,
}

/// The steps between checkpoints: `every_ms` rounded to whole epochs (at least one), so
/// that every checkpoint lies on the epoch grid.
pub fn checkpoint_interval_steps(desc: &Description, every_ms: f64) -> u64 {
    let epoch = desc.epoch_steps() as u64;
    let steps = (every_ms / desc.dt_ms).round().max(1.0) as u64;
    steps.div_ceil(epoch).max(1) * epoch
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            cpu: CpuOptions::default(),
            backend: BackendChoice::Cpu,
            gpu: None,
            progress: true,
            progress_interval: 10.0,
            max_memory: None,
            exchange: ExchangeMode::Auto,
            expected_rate_hz: DEFAULT_EXPECTED_RATE_HZ,
            max_output: None,
            skip_space_check: false,
            command_line: String::new(),
            checkpoint: None,
            resume: None,
            rebalance: balance::Rebalance::Auto,
        }
    }
}

/// The rate guess that sizes outputs unless `--expected-rate` says otherwise: a little
/// above the cortical rates these models are tuned to.
pub const DEFAULT_EXPECTED_RATE_HZ: f64 = 10.0;

/// One rank's seconds per phase, indexed by the constants of `phase`.
pub type PhaseSeconds = [f64; 6];
/// Names of the per-rank timers reported at the end of a run, in `phase` order.
pub const PHASES: [&str; 6] = ["build", "deliver", "update", "exchange", "write", "simulate"];

/// Indices into `PhaseSeconds`.
pub mod phase {
    pub const BUILD: usize = 0;
    pub const DELIVER: usize = 1;
    pub const UPDATE: usize = 2;
    pub const EXCHANGE: usize = 3;
    pub const WRITE: usize = 4;
    pub const SIMULATE: usize = 5;
}

/// What a run did and how long each part took.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Spikes of each population, all ranks together.
    pub spike_counts: Vec<u64>,
    pub neurons: u64,
    pub synapses: u64,
    pub build: Duration,
    pub simulate: Duration,
    pub write: Duration,
    pub phases: PhaseTimes,
    /// Every rank's timers, rank by rank.
    pub rank_phases: Vec<PhaseSeconds>,
    /// The least and most busy shard's time in seconds over every rank's shards, where
    /// threads run several: how evenly the work is cut (None: one shard per rank).
    pub shard_busy: Option<(f64, f64)>,
    /// The decisions on re-cutting the shards by their measured times (`balance`).
    pub rebalance: Vec<balance::Decision>,
    /// A thread's delivery time per synaptic event, in ns (`WorkTimes::events`).
    pub deliver_ns_per_event: Option<f64>,
    pub exchange: ExchangeMode,
    /// Every rank's peak resident memory in bytes (0 where unknown).
    pub peak_memory: Vec<f64>,
    /// Mean fraction of ranks a spike goes to under the directed exchange.
    pub fan_out: f64,
    /// Bytes per spike sent between ranks, over all ranks (None with one rank).
    pub wire_bytes_per_spike: Option<f64>,
    /// What each rank's backend held, by kind: state, synapses, buffers (bytes).
    pub rank_memory: Vec<[u64; 3]>,
    /// Steps simulated (fewer than asked if the run was stopped by a signal).
    pub steps: u64,
    /// The signal that stopped the run early (on some rank).
    pub stopped_by_signal: Option<i32>,
    pub spike_file: Option<PathBuf>,
    pub raster: Option<PathBuf>,
    /// The report files written.
    pub report_files: Vec<PathBuf>,
    /// The last checkpoint written, and the step it holds.
    pub checkpoint: Option<(PathBuf, u64)>,
    /// The step the run started from (a resumed run's checkpoint).
    pub first_step: u64,
    pub memory_bytes: usize,
    /// What rank 0's backend runs on: "cpu", or "gpu" and the adapter.
    pub backend: String,
}

/// What every output file of this piece of the run records of it (collective: the run
/// id is rank 0's).
fn provenance(desc: &Description, options: &RunOptions, comm: &dyn Communicator, backend: &str, first_step: u64) -> Provenance {
    let mine = if comm.rank() == 0 { new_run_id() } else { 0 };
    let run_id = comm.prefix_and_total(&[mine]).1[0];
    Provenance {
        volley_version: env!("CARGO_PKG_VERSION").to_string(),
        git_revision: option_env!("VOLLEY_GIT_REVISION").unwrap_or("unknown").to_string(),
        model: desc.model_text.clone(),
        seed: desc.seed,
        command_line: options.command_line.clone(),
        ranks: comm.size() as u64,
        threads: options.cpu.threads as u64,
        // One value on every rank: the ranks write one attribute together.
        start_time: crate::comm::broadcast_text(comm, &crate::units::utc_now()),
        run_id: format!("{run_id:016x}"),
        outputs: output_names(desc, options),
        backend: crate::comm::broadcast_text(comm, backend),
        from_ms: first_step as f64 * desc.dt_ms,
    }
}

/// The files a run writes: names in its output directory, and its checkpoint's path.
pub fn output_names(desc: &Description, options: &RunOptions) -> Vec<String> {
    let o = &desc.output;
    let mut names: Vec<String> = o.spikes.iter().chain(&o.raster).chain(o.rates.iter().map(|r| &r.0)).cloned().collect();
    names.extend(o.reports.iter().map(|r| r.file.clone()));
    names.extend(o.weights.iter().map(|w| w.file.clone()));
    names.extend(options.checkpoint.iter().map(|c| c.path.display().to_string()));
    names
}

/// A run's identity: this host, process and moment, mixed into 64 bits.
fn new_run_id() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut z = nanos ^ (std::process::id() as u64) << 40;
    for b in lock::host_name().bytes() {
        z = (z ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs `desc` on this rank's CPU threads, as one of `comm`'s ranks, and writes its
/// outputs. Every rank calls it; errors are agreed on so that all ranks stop together.
pub fn run(desc: &Description, options: &RunOptions, comm: &mut dyn Communicator) -> Result<RunReport> {
    let parts = partition::partition(desc, comm.size());
    let mine = parts[comm.rank()].clone();
    let (_locks, resume) = check(desc, options, comm)?;
    let first_step = resume.as_ref().map_or(0, |c| c.step);
    signals::building(true);
    signals::catch_stop_signals();

    let t0 = Instant::now();
    let choice = BackendOptions { choice: options.backend, cpu: options.cpu, gpu: options.gpu };
    inputs::load_shared(desc, &parts, comm)?; // (read by the ranks together: the build finds them read)
    let built = crate::backend::build(desc, mine, &choice, comm.rank_on_node());
    let key = built.as_ref().err().map_or(f64::INFINITY, |e| e.key);
    let (mut network, runs_on) = agree_first(comm, built.map_err(|e| e.error), key)?;
    let backend = network.as_mut();
    let directed = comm.size() > 1 && options.exchange != ExchangeMode::AllGather;
    let needed = if directed { backend.needed_sources(desc.total_neurons()) } else { Vec::new() };
    let (exchange, fan_out) = comm.set_exchange(options.exchange, &parts, &needed);
    drop(needed);
    if let Some(c) = &resume {
        c.restore(desc, backend, comm)?;
    }
    let build = t0.elapsed();

    let dir = &desc.output.dir;
    let backend_line = if runs_on == "cpu" { format!("cpu ({})", crate::simd::level().name()) } else { runs_on.clone() };
    let made_by = provenance(desc, options, comm, &backend_line, first_step);
    let mut outputs = Outputs::create(desc, options, (&made_by, comm), backend, parts[comm.rank()].clone(), resume.as_ref())?;
    drop(resume);
    // From here a signal stops the run at the next progress point, file completed.
    signals::building(false);

    let t1 = Instant::now();
    let memory_bytes = backend.memory_bytes();
    // Each epoch's exchange overlaps the next epoch's integration where every rank's
    // backend works beside the host (a GPU), there is an exchange to hide, and the
    // shortest delay holds two epochs: the epoch is then half the shortest delay.
    let overlap = comm.size() > 1 && !comm.any(!backend.overlaps_exchange()) && !desc.projections.is_empty() && desc.min_delay_steps() >= 2;
    let epoch_steps = if overlap { desc.min_delay_steps() / 2 } else { desc.epoch_steps() };
    let mut sim = Simulation::new(backend, comm, epoch_steps, desc.steps);
    if overlap {
        sim.overlap_exchange();
    }
    sim.resume_at(first_step);
    if options.checkpoint.is_some() {
        sim.keep_recent(desc.max_delay_steps());
    }
    let mut balancer = balance::Balancer::new(options.rebalance, desc, first_step, build, options.cpu.threads, sim.comm());
    balancer.count_rates(desc, &mut sim);
    let ran = epochs(desc, options, &mut sim, &mut outputs, &mut balancer)?;
    if let Some(local) = ran.non_finite {
        return Err(stop_on_non_finite(desc, local, outputs, &mut sim));
    }
    let Ran { stopped_by_signal, mut last_checkpoint, mut write, .. } = ran;
    let steps = sim.step();
    let tw = Instant::now();
    let (backend, comm) = sim.backend_and_comm();
    outputs.flush(steps, backend, comm)?;
    let local_counts = outputs.local_counts();
    let status = match stopped_by_signal {
        Some(signal) => format!("stopped by signal {signal}"),
        None => "complete".to_string(),
    };
    if options.checkpoint.is_some() && last_checkpoint.as_ref().is_none_or(|(_, at)| *at != steps) {
        // At the end, or where a signal stopped the run: the run can go on from here.
        last_checkpoint = Some(save_checkpoint(desc, options, &outputs, &mut sim)?);
    }
    let comm: &dyn Communicator = sim.comm();
    let Finished { spike_file, others: report_files } = outputs.finish(&status, comm)?;
    write += tw.elapsed();
    // Simulation time proper: the loop without the appends to the spike file.
    let simulate = t1.elapsed().saturating_sub(write);
    let phases = sim.times;
    let crate::backend::WorkTimes { deliver, update, shards, deliver_busy, events, .. } = sim.backend().work_times();
    let (_, spike_counts) = comm.prefix_and_total(&local_counts);
    let mine: PhaseSeconds = [
        build.as_secs_f64(),
        deliver.as_secs_f64(),
        update.as_secs_f64(),
        phases.exchange.as_secs_f64(),
        write.as_secs_f64(),
        simulate.as_secs_f64(),
    ];
    let (_, clamps) = comm.prefix_and_total(&sim.backend().table_clamps(desc.populations.len()));
    if comm.rank() == 0 {
        for (p, &n) in desc.populations.iter().zip(&clamps).filter(|(_, &n)| n > 0) {
            eprintln!(
                "warning: population '{}': v left the rate tables in {n} neuron-step(s) and took their edge values; widen population.{}.table (v_min, v_max)",
                p.name, p.name
            );
        }
    }
    let RankFigures { rank_phases, peak_memory, rank_memory, wire_bytes_per_spike } = rank_figures(&mine, sim.backend(), comm);
    let shard_busy = shard_spread(&shards, comm);
    let deliver_ns_per_event = per_event(deliver_busy, events, comm);

    // The network's memory goes back before the raster is drawn (a run sized to its
    // memory limit has no room for both).
    let rank = comm.rank();
    drop(sim);
    drop(network);

    // Rank 0 draws the raster from the finished file.
    let t2 = Instant::now();
    let mut raster = None;
    if rank == 0 {
        if let (Some(name), Some(path)) = (&desc.output.raster, &spike_file) {
            let out = dir.join(name);
            let drawn = plot::raster_png_from(path, Some(steps as f64 * desc.dt_ms), &out);
            // A checkpointed run keeps its hidden spike file: a resumed run appends to it.
            if desc.output.spikes.is_none() && last_checkpoint.is_none() {
                let _ = std::fs::remove_file(path);
            }
            drawn.map_err(|e| Error::Write { path: out.clone(), message: format!("{e}; the run itself completed") })?;
            raster = Some(out);
        }
    }
    let spike_file = if desc.output.spikes.is_none() { None } else { spike_file };
    let write = write + t2.elapsed();

    Ok(RunReport {
        backend: runs_on,
        spike_counts,
        neurons: desc.total_neurons(),
        synapses: desc.synapse_count(),
        build,
        simulate,
        write,
        phases,
        rank_phases,
        shard_busy,
        rebalance: balancer.decisions,
        deliver_ns_per_event,
        peak_memory,
        exchange,
        fan_out,
        wire_bytes_per_spike,
        rank_memory,
        steps,
        stopped_by_signal,
        spike_file,
        raster,
        report_files,
        memory_bytes,
        checkpoint: last_checkpoint,
        first_step,
    })
}

/// What every rank measured, gathered (collective).
struct RankFigures {
    rank_phases: Vec<PhaseSeconds>,
    peak_memory: Vec<f64>,
    rank_memory: Vec<[u64; 3]>,
    wire_bytes_per_spike: Option<f64>,
}

fn rank_figures(phases: &PhaseSeconds, backend: &dyn Backend, comm: &dyn Communicator) -> RankFigures {
    let rank_phases = comm.all_gather_f64(phases).chunks(PHASES.len()).map(|c| c.try_into().expect("one timer per phase")).collect();
    let peak_memory = comm.all_gather_f64(&[peak_memory().unwrap_or(0) as f64]);
    let held = backend.memory_held();
    let rank_memory = comm
        .all_gather_f64(&[held.state as f64, held.synapses as f64, held.buffers as f64])
        .chunks(3)
        .map(|c| [c[0] as u64, c[1] as u64, c[2] as u64])
        .collect();
    let (bytes, spikes_sent) = comm.wire_traffic();
    let traffic = comm.prefix_and_total(&[bytes, spikes_sent]).1;
    let wire_bytes_per_spike = (comm.size() > 1 && traffic[1] > 0).then(|| traffic[0] as f64 / traffic[1] as f64);
    RankFigures { rank_phases, peak_memory, rank_memory, wire_bytes_per_spike }
}

/// Nanoseconds of a thread's delivery per synaptic event, over every rank (collective):
/// None where no event was counted (a GPU backend counts none).
fn per_event(deliver_busy: Duration, events: u64, comm: &dyn Communicator) -> Option<f64> {
    let all = comm.all_gather_f64(&[deliver_busy.as_secs_f64(), events as f64]);
    let (busy, events) = all.chunks(2).fold((0.0, 0.0), |(b, e), c| (b + c[0], e + c[1]));
    (events > 0.0).then(|| busy / events * 1e9)
}

/// The least and most busy shard's time (s) over every rank's shards (collective); None
/// where the whole run has one shard. A rank of one thread is one shard: under mpirun
/// the spread is that of the ranks' busy times as well as of the threads', which the
/// per-phase minima and maxima over ranks do not show (one rank may deliver most and
/// another update most).
fn shard_spread(shards: &[Duration], comm: &dyn Communicator) -> Option<(f64, f64)> {
    let secs: Vec<f64> = shards.iter().map(Duration::as_secs_f64).collect();
    let lo = secs.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = secs.iter().cloned().fold(0.0, f64::max);
    let all = comm.all_gather_f64(&[if secs.is_empty() { f64::NAN } else { lo }, hi, secs.len() as f64]);
    let (mut lo, mut hi, mut count) = (f64::INFINITY, 0.0f64, 0.0);
    for c in all.chunks(3) {
        count += c[2];
        if !c[0].is_nan() {
            (lo, hi) = (lo.min(c[0]), hi.max(c[1]));
        }
    }
    (count > 1.0).then_some((lo, hi))
}

/// Takes the locks of a run's output directory and checkpoints (rank 0, for all ranks),
/// after checking that the directory can be made.
fn lock_outputs(desc: &Description, options: &RunOptions, writes_files: bool) -> Result<lock::RunLocks> {
    if writes_files {
        check_outputs(desc)?;
    }
    if let Some(c) = &options.checkpoint {
        check_checkpoint_path(desc, &c.path)?;
    }
    let holder = lock::Holder::this_process(&options.command_line);
    let checkpoints: Vec<&std::path::Path> = options.checkpoint.iter().map(|c| c.path.as_path()).chain(options.resume.as_deref()).collect();
    lock::RunLocks::take(writes_files.then_some(desc.output.dir.as_path()), &checkpoints, &holder)
}

/// How the epochs of a run ended: stopped by a signal (which), the last checkpoint
/// written, the time spent appending to the outputs, and where a state left the finite
/// numbers, this rank's first such state (None on the ranks that found none).
struct Ran {
    stopped_by_signal: Option<i32>,
    last_checkpoint: Option<(PathBuf, u64)>,
    write: Duration,
    non_finite: Option<Option<NonFinite>>,
}

/// Runs the epochs (collective): in parts of about a 200th of the run, each whole epochs,
/// stopping at every append and checkpoint, until the end, a signal, or a state that
/// left the finite numbers on any rank.
fn epochs(
    desc: &Description,
    options: &RunOptions,
    sim: &mut Simulation,
    outputs: &mut Outputs,
    balancer: &mut balance::Balancer,
) -> Result<Ran> {
    let mut progress = Progress::new(options, desc, sim.comm().rank() == 0);
    // Progress in about 200 parts, each whole epochs, at multiples of their length:
    // every stop of the loop lies on the epoch grid or at a flush.
    let epoch = desc.epoch_steps() as u64;
    let chunk = (desc.steps / 200).max(1).div_ceil(epoch) * epoch;
    let flush_every = desc.flush_steps().max(1);
    let checkpoint_every = options.checkpoint.as_ref().and_then(|c| c.every_ms).map(|ms| checkpoint_interval_steps(desc, ms));
    let next = |step: u64, every: u64| (step / every + 1) * every;
    let mut write = Duration::ZERO;
    let mut stopped_by_signal = None;
    let mut last_checkpoint = None;
    while !sim.finished() {
        let step = sim.step();
        let stop = next(step, chunk).min(next(step, flush_every)).min(checkpoint_every.map_or(u64::MAX, |e| next(step, e)));
        let stop = stop.min(outputs.next_snapshot_after(step).unwrap_or(u64::MAX));
        sim.advance(stop - step, outputs)?;
        progress.update(sim.step());
        let local = sim.backend().non_finite();
        if sim.comm().any(local.is_some()) {
            progress.finish();
            return Ok(Ran { stopped_by_signal, last_checkpoint, write, non_finite: Some(local) });
        }
        {
            let step = sim.step();
            let (backend, comm) = sim.backend_and_comm();
            outputs.snapshot_weights(step, backend, comm)?;
        }
        balancer.consider(desc, sim)?;
        let checkpoint_due = checkpoint_every.is_some_and(|e| sim.step().is_multiple_of(e)) && !sim.finished();
        if (sim.step().is_multiple_of(flush_every) || checkpoint_due) && !sim.finished() {
            let tw = Instant::now();
            let step = sim.step();
            let (backend, comm) = sim.backend_and_comm();
            outputs.flush(step, backend, comm)?;
            if checkpoint_due {
                last_checkpoint = Some(save_checkpoint(desc, options, outputs, sim)?);
            }
            write += tw.elapsed();
        }
        if sim.comm().any(signals::received().is_some()) {
            // The signal this rank received, or SIGTERM where only another rank did.
            stopped_by_signal = Some(signals::received().unwrap_or(libc::SIGTERM));
            break;
        }
    }
    progress.finish();
    Ok(Ran { stopped_by_signal, last_checkpoint, write, non_finite: None })
}

/// Everything checked before anything is built (collective): the rank count, the locks
/// of the output directory and checkpoints (held from here to the end of the run), the
/// memory and the output space by the planner's figures, and the checkpoint resumed
/// from.
fn check(desc: &Description, options: &RunOptions, comm: &dyn Communicator) -> Result<(lock::RunLocks, Option<Checkpoint>)> {
    if let Err(why) = crate::plan::check_ranks(desc, comm.size()).or_else(|e| if comm.rank() == 0 { Err(e) } else { Ok(()) }) {
        // The ranks are started: a run on too many is slower, not wrong.
        eprintln!("volley: warning: {why}");
    }
    // The planner's figures decide what is refused; a refusal shows them.
    // The kind the run's choice resolves to answers for itself (support, memory): the
    // plan asks it once, and the checks hold the plan's figures.
    let kind = BackendKind::resolve(options.backend, desc);
    let plan_options = PlanOptions { ranks: comm.size(), threads: options.cpu.threads, rate_hz: options.expected_rate_hz, kind };
    let plan = crate::plan::plan(desc, &plan_options, &Costs::default());
    let with_plan = |e: Error| match e {
        Error::Memory(_) | Error::Output { .. } if comm.rank() == 0 => Error::Planned { error: Box::new(e), plan: plan.to_string() },
        e => e,
    };
    let o = &desc.output;
    let writes_files = o.spikes.is_some() || o.raster.is_some() || o.rates.is_some() || !o.reports.is_empty() || !o.weights.is_empty();
    // One run per output directory and checkpoint, from before the first check to the
    // end of the run: rank 0 holds the locks for all ranks.
    let locks = if comm.rank() == 0 { lock_outputs(desc, options, writes_files) } else { Ok(lock::RunLocks::default()) };
    let locks = agree(comm, locks)?;
    agree(comm, check_memory(&plan, comm.rank(), options.max_memory, comm.ranks_on_node()).map_err(with_plan))?;
    if writes_files {
        let checked = if comm.rank() == 0 { check_output_space(desc, options, &plan).map_err(with_plan) } else { Ok(()) };
        agree(comm, checked)?;
    }
    let resume = options.resume.as_ref().map(|path| Checkpoint::open(path).and_then(|c| c.check(desc).map(|()| c))).transpose();
    let resume = agree(comm, resume)?;
    Ok((locks, resume))
}

/// Writes a checkpoint at the simulation's step (collective), the outputs having been
/// flushed to it; returns where and at which step.
fn save_checkpoint(desc: &Description, options: &RunOptions, outputs: &Outputs, sim: &mut Simulation) -> Result<(PathBuf, u64)> {
    let path = options.checkpoint.as_ref().expect("checkpointing").path.clone();
    let step = sim.step();
    let positions = Positions { files: outputs.records(sim.comm()) };
    let (backend, comm, recent) = sim.for_checkpoint();
    let what = Written { desc, step, positions, ranks: comm.size(), threads: options.cpu.threads };
    checkpoint::save(&path, &what, backend, recent.expect("recent spikes are kept where checkpoints are written"), comm)?;
    Ok((path, step))
}

/// Ends a run whose state left the finite numbers (collective): the first such state
/// over all ranks (by step, then id) is named; the spike file keeps every spike up to
/// and including that step — spikes do not carry NaN, so those are what a finite run
/// would have given — and says how it ended.
fn stop_on_non_finite(desc: &Description, local: Option<NonFinite>, mut outputs: Outputs, sim: &mut Simulation) -> Error {
    let (backend, comm) = sim.backend_and_comm();
    let (first, step) = first_non_finite(local.as_ref(), comm);
    let until = step + 1;
    let ms = until as f64 * desc.dt_ms;
    let status = format!("stopped: a state became non-finite at {ms} ms");
    // The spikes up to `until` (spikes carry no NaN); the samples of the states before
    // each step up to it, all finite; the rate traces as after their last append.
    let kept = outputs.stop_at(until, backend, comm).and_then(|()| outputs.finish(&status, comm));
    let spike_file = match kept {
        Ok(finished) => finished.spike_file,
        Err(e) => return e,
    };
    if comm.rank() != first {
        return Error::OtherRank { exit_code: crate::error::EXIT_NON_FINITE };
    }
    let n = local.expect("this rank holds the first non-finite state");
    let file = match (&desc.output.spikes, spike_file) {
        (Some(_), Some(path)) => format!("; {} holds every spike up to then", path.display()),
        _ => String::new(),
    };
    Error::NonFinite(describe_non_finite(desc, &n, &file))
}

/// What left the finite numbers, and where: `file` says what the spike file holds.
fn describe_non_finite(desc: &Description, n: &NonFinite, file: &str) -> String {
    let p = desc.populations.iter().find(|p| p.gids().contains(&n.gid)).expect("a neuron of the network");
    let ms = (n.step + 1) as f64 * desc.dt_ms;
    format!(
        "the state left the finite numbers: {} of neuron {} of '{}' became {} in the step to {ms} ms (step {}){file}; \
         smaller weights, inputs or dt keep it finite",
        n.variable,
        n.gid - p.first_gid,
        p.name,
        n.value,
        n.step
    )
}

/// The message of the first state over all ranks (by step, then id) that left the finite
/// numbers, on every rank (collective): the rank that holds it names it, the others
/// point to it; and the step it did so in.
pub fn non_finite_message(desc: &Description, local: Option<NonFinite>, comm: &dyn Communicator) -> (String, u64) {
    let (first, step) = first_non_finite(local.as_ref(), comm);
    let why = match local {
        Some(n) if comm.rank() == first => describe_non_finite(desc, &n, ""),
        _ => format!("the state left the finite numbers on rank {first}, in the step to {} ms", (step + 1) as f64 * desc.dt_ms),
    };
    (why, step)
}

/// The rank holding the first non-finite state over all ranks (by step, then id) and
/// its step (collective).
fn first_non_finite(local: Option<&NonFinite>, comm: &dyn Communicator) -> (usize, u64) {
    let mine = local.map_or([f64::INFINITY; 2], |n| [n.step as f64, n.gid as f64]);
    let all = comm.all_gather_f64(&mine);
    let first = all.chunks(2).enumerate().min_by(|a, b| a.1[0].total_cmp(&b.1[0]).then(a.1[1].total_cmp(&b.1[1]))).map_or(0, |(r, _)| r);
    (first, all[2 * first] as u64)
}
