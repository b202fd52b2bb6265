//! One run from a description to files: check the output can be written, build the
//! backend, run the epochs with progress reports, write spikes and the raster, and
//! summarise. The single runtime choice point of backend and communicator lives here.

use crate::backend::cpu::{memory_estimate, CpuBackend, CpuOptions, MemoryEstimate};
use crate::backend::Backend;
use crate::comm::{agree, Communicator, ExchangeMode};
use crate::engine::{PhaseTimes, Simulation};
use crate::error::{Error, Result};
use crate::network::Description;
use crate::partition;
use crate::plot;
use crate::record::sonata::PopulationRange;
use crate::record::writer::SpikeWriter;
use std::io::IsTerminal;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { cpu: CpuOptions::default(), progress: true, progress_interval: 10.0, max_memory: None, exchange: ExchangeMode::Auto }
    }
}

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
    pub memory_bytes: usize,
}

/// Creates the output directory and proves it writable before any work is done.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| Error::Output { path: dir.to_path_buf(), message: e.to_string() };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".volley-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
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
    Ok(estimate)
}

/// Set by SIGUSR1 (what the job scripts ask Slurm to send two minutes before the time
/// limit: `#SBATCH --signal=USR1@120`), SIGTERM or SIGINT (Ctrl-C): the run stops at the
/// next progress point, all ranks together, and completes its spike file.
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn request_stop(signal: libc::c_int) {
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

/// Runs `desc` on this rank's CPU threads, as one of `comm`'s ranks, and writes its
/// outputs. Every rank calls it; errors are agreed on so that all ranks stop together.
pub fn run(desc: &Description, options: &RunOptions, comm: &mut dyn Communicator) -> Result<RunReport> {
    let parts = partition::partition(desc, comm.size());
    let mine = parts[comm.rank()].clone();
    agree(comm, check_memory(desc, mine.clone(), options.cpu.threads, options.max_memory, comm.ranks_on_node()))?;
    let dir = &desc.output.dir;
    let writes_files = desc.output.spikes.is_some() || desc.output.raster.is_some();
    if writes_files {
        agree(comm, if comm.rank() == 0 { prepare_output_dir(dir) } else { Ok(()) })?;
    }
    catch_stop_signals();

    let t0 = Instant::now();
    let mut backend = CpuBackend::new(desc, mine, options.cpu);
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
        (None, Some(_)) => Some(dir.join(".volley-spikes.partial.h5")),
        (None, None) => None,
    };
    let mut writer = match &spike_path {
        Some(path) => SpikeWriter::create(path, population_ranges(desc), desc.dt_ms, comm)?,
        None => SpikeWriter::counting(population_ranges(desc), desc.dt_ms),
    };

    let t1 = Instant::now();
    let memory_bytes = backend.memory_bytes();
    let mut sim = Simulation::new(&mut backend, comm, desc.min_delay_steps(), desc.steps);
    let mut progress = Progress::new(options, desc, sim.comm().rank() == 0);
    let chunk = (desc.steps / 200).max(1);
    let flush_every = desc.output.flush_every_steps.max(1);
    let mut write = Duration::ZERO;
    let mut stopped_by_signal = None;
    while !sim.finished() {
        let next_flush = (sim.step() / flush_every + 1) * flush_every;
        sim.advance(chunk.min(next_flush - sim.step()), &mut writer)?;
        progress.update(sim.step());
        if sim.step() % flush_every == 0 && !sim.finished() {
            let tw = Instant::now();
            writer.flush(sim.step(), sim.comm())?;
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
    let spike_file = writer.finish(steps, sim.comm())?;
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
    let rank_phases = comm.all_gather_f64(&mine).chunks(PHASES.len()).map(|c| c.try_into().expect("one timer per phase")).collect();
    let peak_memory = comm.all_gather_f64(&[peak_memory().unwrap_or(0) as f64]);

    // Rank 0 draws the raster from the finished file.
    let t2 = Instant::now();
    let mut raster = None;
    if comm.rank() == 0 {
        if let (Some(name), Some(path)) = (&desc.output.raster, &spike_file) {
            let out = dir.join(name);
            plot::raster_png_from(path, Some(steps as f64 * desc.dt_ms), &out)?;
            raster = Some(out);
        }
    }
    let spike_file = match (&desc.output.spikes, spike_file) {
        (None, Some(temporary)) => {
            if comm.rank() == 0 {
                let _ = std::fs::remove_file(temporary);
            }
            None
        }
        (_, file) => file,
    };
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
        memory_bytes,
    })
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
        "\nphases ({what}): {} | {} epochs, exchange {:.1} us per epoch ({mode})",
        shown.join(", "),
        epochs,
        exchange / epochs as f64 * 1e6
    ));
    out
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
