//! One run from a description to files: check the output can be written, build the
//! backend, run the epochs with progress reports, write spikes and the raster, and
//! summarise. The single runtime choice point of backend and communicator lives here.

use crate::analysis::population_stats;
use crate::backend::cpu::{memory_estimate, CpuBackend, CpuOptions, MemoryEstimate};
use crate::backend::Backend;
use crate::comm::LocalComm;
use crate::engine::{PhaseTimes, Simulation};
use crate::error::{Error, Result};
use crate::network::Description;
use crate::plot;
use crate::record::sonata::{self, PopulationRange, SpikeFile};
use crate::record::MemoryRecorder;
use crate::spike::Spike;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { cpu: CpuOptions::default(), progress: true, progress_interval: 10.0, max_memory: None }
    }
}

/// What a run did and how long each part took.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub spikes: Vec<Spike>,
    pub neurons: u64,
    pub synapses: u64,
    pub build: Duration,
    pub simulate: Duration,
    pub write: Duration,
    pub phases: PhaseTimes,
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

/// Refuses, before anything large is allocated, a run whose estimated memory exceeds
/// what the machine has available or what `--max-memory` allows.
pub fn check_memory(desc: &Description, threads: usize, max_memory: Option<u64>) -> Result<MemoryEstimate> {
    let estimate = memory_estimate(desc, threads);
    let limits = [max_memory.map(|m| (m, "--max-memory")), available_memory().map(|m| (m, "available on this machine"))];
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

/// Runs `desc` on this process's CPU threads and writes its outputs.
pub fn run(desc: &Description, options: &RunOptions) -> Result<RunReport> {
    check_memory(desc, options.cpu.threads, options.max_memory)?;
    let writes_files = desc.output.spikes.is_some() || desc.output.raster.is_some();
    if writes_files {
        prepare_output_dir(&desc.output.dir)?;
    }

    let t0 = Instant::now();
    let mut backend = CpuBackend::new(desc, 0..desc.total_neurons(), options.cpu);
    let build = t0.elapsed();

    let t1 = Instant::now();
    let mut comm = LocalComm;
    let mut recorder = MemoryRecorder::default();
    let memory_bytes = backend.memory_bytes();
    let mut sim = Simulation::new(&mut backend, &mut comm, desc.min_delay_steps(), desc.steps);
    let mut progress = Progress::new(options, desc);
    let chunk = (desc.steps / 200).max(1);
    while !sim.finished() {
        sim.advance(chunk, &mut recorder)?;
        progress.update(sim.step());
    }
    progress.finish();
    let phases = sim.times;
    let simulate = t1.elapsed();

    let t2 = Instant::now();
    let duration_ms = desc.steps as f64 * desc.dt_ms;
    let file = spike_file(desc, &recorder.spikes);
    let spike_file = match &desc.output.spikes {
        Some(name) => {
            let path = desc.output.dir.join(name);
            sonata::write_spike_file(&path, &file)?;
            Some(path)
        }
        None => None,
    };
    let raster = match &desc.output.raster {
        Some(name) => {
            let path = desc.output.dir.join(name);
            plot::raster_png(&file, duration_ms, &path)?;
            Some(path)
        }
        None => None,
    };
    let write = t2.elapsed();

    Ok(RunReport {
        spikes: recorder.spikes,
        neurons: desc.total_neurons(),
        synapses: desc.synapse_count(),
        build,
        simulate,
        write,
        phases,
        spike_file,
        raster,
        memory_bytes,
    })
}

/// The spikes of a run in the file layout.
pub fn spike_file(desc: &Description, spikes: &[Spike]) -> SpikeFile {
    let ranges: Vec<PopulationRange> =
        desc.populations.iter().map(|p| PopulationRange { name: p.name.clone(), first_gid: p.first_gid, size: p.size }).collect();
    SpikeFile { duration_ms: Some(desc.steps as f64 * desc.dt_ms), populations: sonata::split_by_population(spikes, &ranges, desc.dt_ms) }
}

/// The one-line summary printed at the end of every run.
pub fn summary(desc: &Description, report: &RunReport) -> String {
    let duration_ms = desc.steps as f64 * desc.dt_ms;
    let file = spike_file(desc, &report.spikes);
    let rates: Vec<String> = file
        .populations
        .iter()
        .map(|p| format!("{} {:.2} Hz", p.name, population_stats(p, p.size.unwrap_or(0), duration_ms).rate_hz))
        .collect();
    let rtf = duration_ms / 1000.0 / report.simulate.as_secs_f64().max(1e-9);
    format!(
        "volley: {} neurons, {} synapses, {} spikes ({}) in {} ms | build {}, simulate {}, write {} | {:.1}x real time | peak memory {}",
        report.neurons,
        report.synapses,
        report.spikes.len(),
        rates.join(", "),
        duration_ms,
        fmt_duration(report.build),
        fmt_duration(report.simulate),
        fmt_duration(report.write),
        rtf,
        peak_memory().map_or("unknown".to_string(), fmt_bytes),
    )
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
    fn new(options: &RunOptions, desc: &Description) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (options.progress && terminal).then(|| {
            let bar = indicatif::ProgressBar::new(desc.steps);
            bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} ETA {eta}").expect("valid template"));
            bar
        });
        Progress {
            bar,
            plain: options.progress && !terminal,
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
