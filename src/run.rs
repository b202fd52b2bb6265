//! One run from a description to files: check the output can be written, build the
//! backend, run the epochs with progress reports, write spikes and the raster, and
//! summarise. The single runtime choice point of backend and communicator lives here.

use crate::backend::cpu::{memory_estimate, CpuBackend, CpuOptions, MemoryEstimate};
use crate::backend::{Backend, Probe};
use crate::comm::{agree, agree_first, Communicator, ExchangeMode};
use crate::engine::{PhaseTimes, Simulation};
use crate::error::{Error, Result};
use crate::model::NonFinite;
use crate::network::{Description, ReportPlan};
use crate::partition;
use crate::plot;
use crate::record::report::{ReportLayout, ReportWriter};
use crate::record::sonata::PopulationRange;
use crate::record::writer::{Provenance, SpikeWriter};
use std::io::IsTerminal;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub cpu: CpuOptions,
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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            cpu: CpuOptions::default(),
            progress: true,
            progress_interval: 10.0,
            max_memory: None,
            exchange: ExchangeMode::Auto,
            expected_rate_hz: DEFAULT_EXPECTED_RATE_HZ,
            max_output: None,
            skip_space_check: false,
            command_line: String::new(),
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
    pub exchange: ExchangeMode,
    /// Every rank's peak resident memory in bytes (0 where unknown).
    pub peak_memory: Vec<f64>,
    /// Mean fraction of ranks a spike goes to under the directed exchange.
    pub fan_out: f64,
    /// Steps simulated (fewer than asked if the run was stopped by a signal).
    pub steps: u64,
    /// The signal that stopped the run early (on some rank).
    pub stopped_by_signal: Option<i32>,
    pub spike_file: Option<PathBuf>,
    pub raster: Option<PathBuf>,
    /// The report files written.
    pub report_files: Vec<PathBuf>,
    pub memory_bytes: usize,
}

/// Checks, before anything is built and without creating anything, that every output
/// can be written: the directory exists and is writable, or can be created (its nearest
/// existing ancestor is a writable directory), and no output name is taken by a
/// directory.
pub fn check_outputs(desc: &Description) -> Result<()> {
    let dir = &desc.output.dir;
    let fail = |path: &Path, message: String| Error::Output { path: path.to_path_buf(), message };
    let writable = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
            // SAFETY: a valid C string; access only reads it.
            .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0)
    };
    let existing = nearest_existing(dir);
    let existing = existing.as_path();
    if !existing.is_dir() {
        return Err(fail(dir, format!("{} is not a directory", existing.display())));
    }
    if !writable(existing) {
        let what = if existing == dir.as_path() {
            "the directory is not writable".to_string()
        } else {
            format!("cannot create it: {} is not writable", existing.display())
        };
        return Err(fail(dir, what));
    }
    for name in desc.output.spikes.iter().chain(&desc.output.raster).chain(desc.output.reports.iter().map(|r| &r.file)) {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(fail(&path, "a directory has this name: choose another file name".into()));
        }
    }
    Ok(())
}

/// `dir`, or its nearest ancestor that exists ("." for a relative path none of whose
/// parts exist yet).
fn nearest_existing(dir: &Path) -> PathBuf {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => return PathBuf::from("."),
        }
    }
    existing.to_path_buf()
}

/// Bytes the outputs are expected to take: the spike file 16 per spike (time and id) at
/// `rate_hz`, plus the layout and provenance; each report 4 per sample.
pub fn expected_output_bytes(desc: &Description, rate_hz: f64) -> u64 {
    let reports: u64 = desc
        .output
        .reports
        .iter()
        .map(|r| {
            let values: u64 = r.populations.iter().map(|p| p.neurons.len() as u64).sum();
            r.samples_before(desc.steps) * values * 4 + 64 * 1024 + desc.model_text.len() as u64
        })
        .sum();
    if desc.output.spikes.is_none() && desc.output.raster.is_none() {
        return reports;
    }
    let seconds = desc.steps as f64 * desc.dt_ms / 1000.0;
    let spikes = desc.total_neurons() as f64 * rate_hz * seconds;
    (spikes * 16.0) as u64 + 64 * 1024 + desc.model_text.len() as u64 + reports
}

/// Refuses, before anything is built, a run whose output is expected not to fit the
/// free space of its file system, the file-size limit or `--max-output`.
pub fn check_output_space(desc: &Description, options: &RunOptions) -> Result<()> {
    let expected = expected_output_bytes(desc, options.expected_rate_hz);
    if expected == 0 {
        return Ok(());
    }
    let rate = options.expected_rate_hz;
    let files = match (desc.output.spikes.is_some() || desc.output.raster.is_some(), desc.output.reports.len()) {
        (_, 0) => "the spike file is",
        (false, _) => "the reports are",
        (true, _) => "the spike file and reports are",
    };
    let seconds = desc.steps as f64 * desc.dt_ms / 1000.0;
    let what = format!("{} neurons at {rate} Hz for {seconds} s", desc.total_neurons());
    if let Some(limit) = options.max_output.filter(|&l| expected > l) {
        return Err(Error::Output {
            path: desc.output.dir.clone(),
            message: format!("{files} expected to take {} ({what}) but --max-output allows {}", fmt_bytes(expected), fmt_bytes(limit)),
        });
    }
    if options.skip_space_check {
        return Ok(());
    }
    let (free, limit) = crate::record::writer::space_for(&nearest_existing(&desc.output.dir).join("spikes.h5"));
    let refuse = |room: String| Error::Output {
        path: desc.output.dir.clone(),
        message: format!(
            "{files} expected to take {} ({what}) but {room} (lower --expected-rate if the network fires less, or --skip-space-check)",
            fmt_bytes(expected)
        ),
    };
    if let Some(free) = free.filter(|&f| expected > f) {
        return Err(refuse(format!("{} are free there", fmt_bytes(free))));
    }
    if let Some(limit) = limit.filter(|&l| expected > l) {
        return Err(refuse(format!("the file size limit (ulimit -f) is {}", fmt_bytes(limit))));
    }
    Ok(())
}

/// Memory the machine can give this run: MemAvailable from /proc/meminfo, if known.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// A size such as "8GB", "512 MB", "2GiB" or "1000000" (bytes).
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_alphabetic()).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("expected a size such as \"8GB\" or \"512MiB\", got {text:?}")),
    };
    match number.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok((x * scale) as u64),
        _ => Err(format!("expected a size such as \"8GB\" or \"512MiB\", got {text:?}")),
    }
}

/// Refuses, before anything large is allocated, a run whose estimated memory for this
/// rank's `neurons` exceeds its share of what the node has available (shared with
/// `ranks_on_node` ranks) or what `--max-memory` allows (per rank).
pub fn check_memory(
    desc: &Description,
    neurons: Range<u64>,
    threads: usize,
    max_memory: Option<u64>,
    ranks_on_node: usize,
) -> Result<MemoryEstimate> {
    let estimate = memory_estimate(desc, neurons, threads);
    let share = ranks_on_node.max(1) as u64;
    let node_what =
        if share > 1 { format!("are available to each of the {share} ranks on this node") } else { "available on this machine".into() };
    let limits = [max_memory.map(|m| (m, "--max-memory".to_string())), available_memory().map(|m| (m / share, node_what))];
    if let Some((limit, what)) = limits.into_iter().flatten().min_by_key(|l| l.0) {
        if estimate.total() > limit {
            return Err(Error::Memory(format!(
                "the run needs {} (state {}, synapses {}, buffers {}) but {} {what}: use fewer neurons, storage = \"compact\" or procedural = true, or more ranks",
                fmt_bytes(estimate.total()),
                fmt_bytes(estimate.state),
                fmt_bytes(estimate.synapses),
                fmt_bytes(estimate.buffers),
                fmt_bytes(limit),
            )));
        }
    }
    check_store_limits(&estimate)?;
    Ok(estimate)
}

/// Refuses a run whose synapse store would exceed what a thread's store indexes.
pub fn check_store_limits(estimate: &MemoryEstimate) -> Result<()> {
    if estimate.largest_shard_projection > u32::MAX as u64 {
        return Err(Error::Memory(format!(
            "one projection puts about {} synapses onto one thread's neurons, more than the 2^32 - 1 a thread's store indexes: use more threads or ranks",
            estimate.largest_shard_projection
        )));
    }
    Ok(())
}

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

fn catch_stop_signals() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, request_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, request_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGUSR1, request_stop as *const () as libc::sighandler_t);
    }
}

/// The populations as the spike file names them.
fn population_ranges(desc: &Description) -> Vec<PopulationRange> {
    desc.populations.iter().map(|p| PopulationRange { name: p.name.clone(), first_gid: p.first_gid, size: p.size }).collect()
}

/// Per population, the chunk length of its spike datasets from the expected spikes per
/// append.
fn chunk_sizes(desc: &Description, rate_hz: f64) -> Vec<usize> {
    let flush_s = desc.output.flush_every_steps.min(desc.steps.max(1)) as f64 * desc.dt_ms / 1000.0;
    desc.populations.iter().map(|p| crate::record::writer::chunk_for(p.size as f64 * rate_hz * flush_s)).collect()
}

fn provenance(desc: &Description, options: &RunOptions, ranks: usize) -> Provenance {
    Provenance {
        volley_version: env!("CARGO_PKG_VERSION").to_string(),
        git_revision: option_env!("VOLLEY_GIT_REVISION").unwrap_or("unknown").to_string(),
        model: desc.model_text.clone(),
        seed: desc.seed,
        command_line: options.command_line.clone(),
        ranks: ranks as u64,
        threads: options.cpu.threads as u64,
        start_time: utc_now(),
    }
}

/// The current time as ISO 8601 UTC ("2026-12-01T15:23:42Z").
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// Runs `desc` on this rank's CPU threads, as one of `comm`'s ranks, and writes its
/// outputs. Every rank calls it; errors are agreed on so that all ranks stop together.
pub fn run(desc: &Description, options: &RunOptions, comm: &mut dyn Communicator) -> Result<RunReport> {
    let parts = partition::partition(desc, comm.size());
    let mine = parts[comm.rank()].clone();
    agree(comm, check_memory(desc, mine.clone(), options.cpu.threads, options.max_memory, comm.ranks_on_node()))?;
    let dir = &desc.output.dir;
    let writes_files = desc.output.spikes.is_some() || desc.output.raster.is_some() || !desc.output.reports.is_empty();
    if writes_files {
        let checked = if comm.rank() == 0 { check_outputs(desc).and_then(|()| check_output_space(desc, options)) } else { Ok(()) };
        agree(comm, checked)?;
    }
    BUILDING.store(true, Ordering::Relaxed);
    catch_stop_signals();

    let t0 = Instant::now();
    let built = CpuBackend::build(desc, mine, options.cpu);
    let key = built.as_ref().err().map_or(f64::INFINITY, |e| e.key);
    let mut backend = agree_first(comm, built.map_err(|e| e.error), key)?;
    let needed = if comm.size() > 1 && options.exchange != ExchangeMode::AllGather {
        backend.needed_sources(desc.total_neurons())
    } else {
        Vec::new()
    };
    let (exchange, fan_out) = comm.set_exchange(options.exchange, &parts, &needed);
    drop(needed);
    let build = t0.elapsed();

    // The raster is drawn from the spike file; without one, from a temporary file.
    let spike_path = match (&desc.output.spikes, &desc.output.raster) {
        (Some(name), _) => Some(dir.join(name)),
        // The same name on every rank: the file is created collectively.
        (None, Some(_)) => Some(dir.join(".volley-spikes.h5")),
        (None, None) => None,
    };
    let populations = population_ranges(desc);
    let made_by = provenance(desc, options, comm.size());
    let mut writer = match &spike_path {
        Some(path) => {
            let chunks = chunk_sizes(desc, options.expected_rate_hz);
            let w = SpikeWriter::create(path, populations, chunks, desc.dt_ms, &made_by, comm)?;
            if options.skip_space_check {
                w.without_foresight()
            } else {
                w
            }
        }
        None => SpikeWriter::counting(populations, desc.dt_ms),
    };
    let mut sampling = Sampling::create(desc, options, &made_by, comm, &mut backend, parts[comm.rank()].clone())?;
    // From here a signal stops the run at the next progress point, file completed.
    BUILDING.store(false, Ordering::Relaxed);

    let t1 = Instant::now();
    let memory_bytes = backend.memory_bytes();
    let mut sim = Simulation::new(&mut backend, comm, desc.epoch_steps(), desc.steps);
    let mut progress = Progress::new(options, desc, sim.comm().rank() == 0);
    // Progress in about 200 parts, each whole epochs.
    let epoch = desc.epoch_steps() as u64;
    let chunk = (desc.steps / 200).max(1).div_ceil(epoch) * epoch;
    let flush_every = desc.output.flush_every_steps.max(1);
    let mut write = Duration::ZERO;
    let mut stopped_by_signal = None;
    while !sim.finished() {
        let next_flush = (sim.step() / flush_every + 1) * flush_every;
        sim.advance(chunk.min(next_flush - sim.step()), &mut writer)?;
        progress.update(sim.step());
        let local = sim.backend().non_finite();
        if sim.comm().any(local.is_some()) {
            progress.finish();
            return Err(stop_on_non_finite(desc, local, writer, sampling, &spike_path, &mut sim));
        }
        if sim.step().is_multiple_of(flush_every) && !sim.finished() {
            let tw = Instant::now();
            writer.flush(sim.step(), sim.comm())?;
            let step = sim.step();
            let (backend, comm) = sim.backend_and_comm();
            sampling.flush(step, backend, comm)?;
            write += tw.elapsed();
        }
        if sim.comm().any(STOP.load(Ordering::Relaxed) != 0) {
            // The signal this rank received, or SIGTERM where only another rank did.
            stopped_by_signal = Some(match STOP.load(Ordering::Relaxed) {
                0 => libc::SIGTERM,
                signal => signal,
            });
            break;
        }
    }
    progress.finish();
    let steps = sim.step();
    let tw = Instant::now();
    writer.flush(steps, sim.comm())?;
    let local_counts = writer.local_counts().to_vec();
    let status = match stopped_by_signal {
        Some(signal) => format!("stopped by signal {signal}"),
        None => "complete".to_string(),
    };
    let spike_file = writer.finish(steps, &status, sim.comm())?;
    let (backend, comm) = sim.backend_and_comm();
    sampling.flush(steps, backend, comm)?;
    let report_files = sampling.finish(&status, comm)?;
    write += tw.elapsed();
    // Simulation time proper: the loop without the appends to the spike file.
    let simulate = t1.elapsed().saturating_sub(write);
    let phases = sim.times;
    let (deliver, update) = sim.backend().work_times();
    let comm: &dyn Communicator = sim.comm();
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
    let rank_phases = comm.all_gather_f64(&mine).chunks(PHASES.len()).map(|c| c.try_into().expect("one timer per phase")).collect();
    let peak_memory = comm.all_gather_f64(&[peak_memory().unwrap_or(0) as f64]);

    // Rank 0 draws the raster from the finished file.
    let t2 = Instant::now();
    let mut raster = None;
    if comm.rank() == 0 {
        if let (Some(name), Some(path)) = (&desc.output.raster, &spike_file) {
            let out = dir.join(name);
            let drawn = plot::raster_png_from(path, Some(steps as f64 * desc.dt_ms), &out);
            if desc.output.spikes.is_none() {
                let _ = std::fs::remove_file(path);
            }
            drawn.map_err(|e| Error::Write { path: out.clone(), message: format!("{e}; the run itself completed") })?;
            raster = Some(out);
        }
    }
    let spike_file = if desc.output.spikes.is_none() { None } else { spike_file };
    let write = write + t2.elapsed();

    Ok(RunReport {
        spike_counts,
        neurons: desc.total_neurons(),
        synapses: desc.synapse_count(),
        build,
        simulate,
        write,
        phases,
        rank_phases,
        peak_memory,
        exchange,
        fan_out,
        steps,
        stopped_by_signal,
        spike_file,
        raster,
        report_files,
        memory_bytes,
    })
}

/// The run's reports: for each, its writer and the backend's probe of each of its
/// populations.
struct Sampling {
    reports: Vec<(ReportPlan, ReportWriter, Vec<usize>)>,
    dt_ms: f64,
    samples: Vec<f32>,
}

impl Sampling {
    /// Creates the report files (collective) and hands the backend a probe per
    /// population of each report, for the neurons of `mine` (this rank's global ids).
    fn create(
        desc: &Description,
        options: &RunOptions,
        provenance: &Provenance,
        comm: &dyn Communicator,
        backend: &mut dyn Backend,
        mine: Range<u64>,
    ) -> Result<Sampling> {
        let mut reports = Vec::new();
        for plan in &desc.output.reports {
            let mut local = Vec::new();
            let mut probes = Vec::new();
            for rp in &plan.populations {
                let p = &desc.populations[rp.population];
                let (lo, hi) = (mine.start.max(p.first_gid), mine.end.min(p.first_gid + p.size));
                let range = if lo < hi { lo - p.first_gid..hi - p.first_gid } else { 0..0 };
                let gids = rp.neurons.iter().filter(|i| range.contains(i)).map(|&i| p.first_gid + i).collect();
                probes.push(backend.add_probe(Probe {
                    gids,
                    variable: rp.variable,
                    start_step: plan.start_step,
                    stop_step: plan.stop_step,
                    interval_steps: plan.interval_steps,
                }));
                local.push(range);
            }
            let layout = ReportLayout {
                variable: plan.variable.clone(),
                unit: plan.unit.clone(),
                populations: plan.populations.iter().map(|rp| (desc.populations[rp.population].name.clone(), rp.neurons.clone())).collect(),
                dt_ms: desc.dt_ms,
                start_step: plan.start_step,
                interval_steps: plan.interval_steps,
            };
            let writer = ReportWriter::create(&desc.output.dir.join(&plan.file), layout, &local, provenance, comm)?;
            let writer = if options.skip_space_check { writer.without_foresight() } else { writer };
            reports.push((plan.clone(), writer, probes));
        }
        Ok(Sampling { reports, dt_ms: desc.dt_ms, samples: Vec::new() })
    }

    /// Collects the samples taken so far and appends those of the steps below `step`
    /// (collective).
    fn flush(&mut self, step: u64, backend: &mut dyn Backend, comm: &dyn Communicator) -> Result<()> {
        for (plan, writer, probes) in &mut self.reports {
            for (p, &probe) in probes.iter().enumerate() {
                self.samples.clear();
                backend.take_samples(probe, &mut self.samples);
                writer.record(p, &self.samples);
            }
            writer.flush(plan.samples_before(step), step as f64 * self.dt_ms, comm)?;
        }
        Ok(())
    }

    /// Records how the run ended in each report and closes them (collective).
    fn finish(self, status: &str, comm: &dyn Communicator) -> Result<Vec<PathBuf>> {
        self.reports.into_iter().map(|(_, writer, _)| writer.finish(status, comm)).collect()
    }
}

/// Ends a run whose state left the finite numbers (collective): the first such state
/// over all ranks (by step, then id) is named; the spike file keeps every spike up to
/// and including that step — spikes do not carry NaN, so those are what a finite run
/// would have given — and says how it ended.
fn stop_on_non_finite(
    desc: &Description,
    local: Option<NonFinite>,
    mut writer: SpikeWriter,
    mut sampling: Sampling,
    spike_path: &Option<PathBuf>,
    sim: &mut Simulation,
) -> Error {
    let (backend, comm) = sim.backend_and_comm();
    let mine = local.as_ref().map_or([f64::INFINITY; 2], |n| [n.step as f64, n.gid as f64]);
    let all = comm.all_gather_f64(&mine);
    let first = all.chunks(2).enumerate().min_by(|a, b| a.1[0].total_cmp(&b.1[0]).then(a.1[1].total_cmp(&b.1[1]))).map_or(0, |(r, _)| r);
    let step = all[2 * first] as u64;
    let until = step + 1;
    writer.discard_from(until);
    let ms = until as f64 * desc.dt_ms;
    let status = format!("stopped: a state became non-finite at {ms} ms");
    let kept = writer.finish(until, &status, comm);
    if let Err(e) = kept {
        return e;
    }
    // Samples are of the state before each step: those up to `until` are finite.
    if let Err(e) = sampling.flush(until, backend, comm).and_then(|()| sampling.finish(&status, comm).map(|_| ())) {
        return e;
    }
    if comm.rank() != first {
        return Error::OtherRank { exit_code: crate::error::EXIT_NON_FINITE };
    }
    let n = local.expect("this rank holds the first non-finite state");
    let p = desc.populations.iter().find(|p| p.gids().contains(&n.gid)).expect("a neuron of the network");
    let file = match (&desc.output.spikes, spike_path) {
        (Some(_), Some(path)) => format!("; {} holds every spike up to then", path.display()),
        _ => String::new(),
    };
    Error::NonFinite(format!(
        "the state left the finite numbers: {} of neuron {} of '{}' became {} in the step to {ms} ms (step {step}){file}; \
         smaller weights, inputs or dt keep it finite",
        n.variable,
        n.gid - p.first_gid,
        p.name,
        n.value
    ))
}

/// The summary printed at the end of every run: one line of totals, then one line of
/// per-rank timers (min / median / max over ranks) that shows load imbalance.
pub fn summary(desc: &Description, report: &RunReport) -> String {
    let duration_ms = report.steps as f64 * desc.dt_ms;
    let rates: Vec<String> = desc
        .populations
        .iter()
        .zip(&report.spike_counts)
        .map(|(p, &n)| format!("{} {:.2} Hz", p.name, n as f64 / p.size.max(1) as f64 / (duration_ms / 1000.0).max(1e-12)))
        .collect();
    let rtf = duration_ms / 1000.0 / report.simulate.as_secs_f64().max(1e-9);
    let ranks = report.rank_phases.len();
    let peak = match (report.peak_memory.iter().cloned().fold(0.0, f64::max), ranks) {
        (p, _) if p <= 0.0 => "unknown".to_string(),
        (p, 1) => fmt_bytes(p as u64),
        (p, _) => format!("{} per rank (max), {} in all", fmt_bytes(p as u64), fmt_bytes(report.peak_memory.iter().sum::<f64>() as u64)),
    };
    let stopped = if report.stopped_by_signal.is_some() { " (stopped by a signal)" } else { "" };
    let mut out = format!(
        "volley: {} neurons, {} synapses, {} spikes ({}) in {} ms{stopped} | build {}, simulate {}, write {} | {:.1}x real time | peak memory {peak}",
        report.neurons,
        report.synapses,
        report.spike_counts.iter().sum::<u64>(),
        rates.join(", "),
        duration_ms,
        fmt_duration(report.build),
        fmt_duration(report.simulate),
        fmt_duration(report.write),
        rtf,
    );
    let stat = |k: usize| {
        let mut v: Vec<f64> = report.rank_phases.iter().map(|p| p[k]).collect();
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2], v[v.len() - 1])
    };
    let shown: Vec<String> = [phase::DELIVER, phase::UPDATE, phase::EXCHANGE, phase::WRITE]
        .iter()
        .map(|&k| {
            let (lo, mid, hi) = stat(k);
            if ranks == 1 {
                format!("{} {:.3}", PHASES[k], mid)
            } else {
                format!("{} {:.3}/{:.3}/{:.3}", PHASES[k], lo, mid, hi)
            }
        })
        .collect();
    let (_, exchange, _) = stat(phase::EXCHANGE);
    let epochs = report.phases.epochs.max(1);
    let mode = match report.exchange {
        ExchangeMode::Directed => format!("directed, a spike to {:.0}% of ranks", report.fan_out * 100.0),
        _ => "all-gather".to_string(),
    };
    let what = if ranks == 1 { "s".to_string() } else { format!("s, min/median/max over {ranks} ranks") };
    out.push_str(&format!(
        "\nphases ({what}): {} | {} epochs, exchange {:.1} us per epoch ({mode}) | kernels {}{}",
        shown.join(", "),
        epochs,
        exchange / epochs as f64 * 1e6,
        crate::simd::level().name(),
        kernel_exceptions(desc)
    ));
    out
}

/// The populations whose kernels run with another instruction set than the widest, as
/// " (name: level, ...)" (empty where none does).
fn kernel_exceptions(desc: &Description) -> String {
    let widest = crate::simd::level();
    let other: Vec<String> = desc
        .populations
        .iter()
        .filter_map(|p| Some(p.model.kernel_level()).filter(|&level| level != widest).map(|level| format!("{}: {}", p.name, level.name())))
        .collect();
    if other.is_empty() {
        String::new()
    } else {
        format!(" ({})", other.join(", "))
    }
}

/// Columns of `--report-csv`: one line per run, for scaling studies.
pub const CSV_HEADER: &str = "ranks,threads,neurons,synapses,steps,dt_ms,spikes,build_s,simulate_s,\
deliver_max_s,update_max_s,exchange_median_s,exchange_max_s,write_max_s,epochs,exchange_us_per_epoch,exchange_mode,fan_out,peak_rss_max_mb,peak_rss_total_mb";

/// The run as one CSV line (see `CSV_HEADER`): maxima over ranks show the slowest rank,
/// which sets the pace.
pub fn csv_line(desc: &Description, report: &RunReport, threads: usize) -> String {
    let column = |k: usize| report.rank_phases.iter().map(|p| p[k]).collect::<Vec<f64>>();
    let max = |k: usize| column(k).into_iter().fold(0.0, f64::max);
    let median = |k: usize| {
        let mut v = column(k);
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let epochs = report.phases.epochs.max(1);
    let mode = if report.exchange == ExchangeMode::Directed { "directed" } else { "all-gather" };
    format!(
        "{},{threads},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{epochs},{:.2},{mode},{:.3},{:.1},{:.1}",
        report.rank_phases.len(),
        report.neurons,
        report.synapses,
        report.steps,
        desc.dt_ms,
        report.spike_counts.iter().sum::<u64>(),
        max(phase::BUILD),
        max(phase::SIMULATE),
        max(phase::DELIVER),
        max(phase::UPDATE),
        median(phase::EXCHANGE),
        max(phase::EXCHANGE),
        max(phase::WRITE),
        median(phase::EXCHANGE) / epochs as f64 * 1e6,
        report.fan_out,
        report.peak_memory.iter().cloned().fold(0.0, f64::max) / 1e6,
        report.peak_memory.iter().sum::<f64>() / 1e6,
    )
}

/// Appends `line` to the CSV file at `path`, writing the header first if the file is
/// new. One `write` of the whole line on a file opened for appending, so that the array
/// tasks of a scaling study can share one file.
pub fn append_csv(path: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    let fail = |e: std::io::Error| Error::Output { path: path.to_path_buf(), message: e.to_string() };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(fail)?;
    let header = if file.metadata().map_err(fail)?.len() == 0 { format!("{CSV_HEADER}\n") } else { String::new() };
    file.write_all(format!("{header}{line}\n").as_bytes()).map_err(fail)
}

pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

pub fn fmt_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut x = b as f64;
    let mut i = 0;
    while x >= 1000.0 && i + 1 < UNITS.len() {
        x /= 1000.0;
        i += 1;
    }
    format!("{x:.1} {}", UNITS[i])
}

/// Peak resident memory of this process (VmHWM), where the OS reports it.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A progress bar with ETA on a terminal; plain periodic lines when stderr is a file
/// (Slurm logs), so that a log shows how far a batch job got.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    interval: f64,
    last: Instant,
    start: Instant,
    total: u64,
    dt_ms: f64,
}

impl Progress {
    fn new(options: &RunOptions, desc: &Description, shown: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (shown && options.progress && terminal).then(|| {
            let bar = indicatif::ProgressBar::new(desc.steps);
            bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} ETA {eta}").expect("valid template"));
            bar
        });
        Progress {
            bar,
            plain: shown && options.progress && !terminal,
            interval: options.progress_interval,
            last: Instant::now(),
            start: Instant::now(),
            total: desc.steps,
            dt_ms: desc.dt_ms,
        }
    }

    fn update(&mut self, step: u64) {
        let bio_ms = step as f64 * self.dt_ms;
        if let Some(bar) = &self.bar {
            bar.set_position(step);
            bar.set_message(format!("{bio_ms:.0} ms"));
        } else if self.plain && self.last.elapsed().as_secs_f64() >= self.interval {
            self.last = Instant::now();
            let elapsed = self.start.elapsed().as_secs_f64();
            let eta = elapsed * (self.total - step) as f64 / step.max(1) as f64;
            eprintln!(
                "volley: {bio_ms:.0} ms of {:.0} ms simulated ({:.0}%), {:.1}x real time, ETA {eta:.0} s",
                self.total as f64 * self.dt_ms,
                100.0 * step as f64 / self.total.max(1) as f64,
                bio_ms / 1000.0 / elapsed.max(1e-9)
            );
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
