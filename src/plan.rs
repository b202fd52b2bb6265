//! The planner: before anything is built, what a run will need — neurons, synapses and
//! memory of each rank by kind, the size of every output file and dataset, the spikes
//! and synaptic events to expect from a rate guess, and the wall time from per-model
//! costs (measured on a reference machine, BENCHMARKS.md "Planner", or calibrated on
//! this one: `calibrate`). `volley plan` prints it; `volley run` refuses with it when
//! memory, `--max-output` or the free space would be exceeded.

use crate::backend::kind::{BackendKind, MemoryEstimate};
use crate::connectivity::Layout;
use crate::network::{ConnectionRule, Description};
use crate::record::writer::{chunk_for, MAX_CHUNK};
use crate::stimulus::StimulusKind;
use crate::units::fmt_bytes;
use std::fmt::Write as _;
use std::ops::Range;

/// What a planned run looks like from outside.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub ranks: usize,
    pub threads: usize,
    /// Mean firing rate guessed for every neuron (Hz).
    pub rate_hz: f64,
    /// What runs the neurons: the CPU table is always planned; for a GPU, each rank's
    /// device memory and host peak too (`GpuPlan`).
    pub kind: BackendKind,
}

/// Costs of the parts of a run, in ns of one thread unless said otherwise. The defaults
/// were measured on the reference machine (BENCHMARKS.md, "Planner"); `calibrate`
/// scales them to this one.
#[derive(Clone, Debug)]
pub struct Costs {
    /// Multiplies each model's `step_cost_ns` (per neuron-step).
    pub update_factor: f64,
    /// Per neuron-step of a population with a noise current (the Gaussian draw).
    pub noise_ns: f64,
    /// Per neuron-step of each Poisson stimulus of a population (a block and a count).
    pub poisson_ns: f64,
    /// Per synaptic event of stored sparse rows, of dense rows, of procedural rows.
    pub event_ns: f64,
    pub dense_event_ns: f64,
    pub procedural_event_ns: f64,
    /// Receiving where a thread's rows exist only for the sources present
    /// (`connectivity::RowIndex::Present`, one rank of many): per received spike and
    /// thread's store, the lookup (a bit test, 16 spikes at a time with AVX-512); per row
    /// found, reaching it (its offsets and first records, a miss to DRAM each where rows
    /// are short and scattered). Measured by the dry run of 10⁸ neurons on 1024 ranks
    /// (BENCHMARKS.md, "Scale-out").
    pub lookup_ns: f64,
    pub row_ns: f64,
    /// Per stored synapse built, and per dense (all-to-all) one.
    pub build_ns: f64,
    pub dense_build_ns: f64,
    /// Per spike appended to the spike file.
    pub write_ns: f64,
    /// Per exchange between ranks (µs), for each doubling of the ranks, and per spike id
    /// a rank receives (ns): the all-gather's α and β (BENCHMARKS.md, "The exchange
    /// alone": 0.8 µs and 2.4 ns for 2 ranks on one node; more across nodes).
    pub exchange_us: f64,
    pub exchange_spike_ns: f64,
    /// Where the figures come from.
    pub source: String,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            update_factor: 1.0,
            noise_ns: 1.8,
            poisson_ns: 1.6,
            event_ns: 1.6,
            dense_event_ns: 0.1,
            procedural_event_ns: 7.3,
            lookup_ns: 1.9,
            row_ns: 26.0,
            build_ns: 60.0,
            dense_build_ns: 10.0,
            write_ns: 50.0,
            exchange_us: 1.0,
            exchange_spike_ns: 2.4,
            source: "reference machine (2-vCPU AMD EPYC Zen 4, BENCHMARKS.md \"Planner\")".into(),
        }
    }
}

/// Resident memory of the process before any network: the binary, MPI, HDF5 (peak RSS
/// of a 1000-neuron run less its estimate, on the reference machine).
pub const PROCESS_BYTES: u64 = 21 << 20;

/// What drawing the raster takes (rank 0, after the run): a 1200 × 1100 bitmap, the
/// font, the PNG encoder's buffers and a chunk of the spike file, with room to spare.
pub const FIGURE_BYTES: u64 = 8 << 20;

/// The share of one rank, or of every rank of one shape: ranks whose neurons lie alike
/// in the populations (as many, with population boundaries at the same places) and
/// that buffer as much are planned once.
#[derive(Clone, Debug)]
pub struct RankPlan {
    /// The neurons of the first rank of this shape.
    pub neurons: Range<u64>,
    pub synapses: u64,
    pub memory: MemoryEstimate,
    /// Spikes and samples held between appends to the files.
    pub recording: u64,
    /// How many ranks have this shape, and the first few of them.
    pub count: u64,
    pub first_ranks: Vec<usize>,
    /// The time of a rank of this shape, by part.
    pub time: TimePlan,
}

impl RankPlan {
    /// Everything the rank's process holds at its peak.
    pub fn total(&self) -> u64 {
        self.memory.total() + self.recording + PROCESS_BYTES
    }
}

/// One dataset of an output file and the bytes it will take.
#[derive(Clone, Debug)]
pub struct DatasetPlan {
    pub name: String,
    pub shape: String,
    pub bytes: u64,
}

#[derive(Clone, Debug)]
pub struct FilePlan {
    pub file: String,
    pub datasets: Vec<DatasetPlan>,
    /// Layout, attributes, the model text.
    pub overhead: u64,
    /// Whether the run appends to it (an HDF5 file, whose appends reserve a margin),
    /// rather than writing it once (the raster).
    pub appended: bool,
}

impl FilePlan {
    pub fn bytes(&self) -> u64 {
        self.datasets.iter().map(|d| d.bytes).sum::<u64>() + self.overhead
    }

    /// The space the file needs while it is written: its size, and for a file appended
    /// to, the margin its last append reserves (`appender::append_bytes`).
    pub fn space_needed(&self) -> u64 {
        self.bytes() + if self.appended { crate::record::appender::APPEND_FIXED_BYTES } else { 0 }
    }
}

/// Seconds of the slowest rank, by part.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimePlan {
    pub build: f64,
    pub update: f64,
    pub deliver: f64,
    pub exchange: f64,
    pub write: f64,
}

impl TimePlan {
    pub fn total(&self) -> f64 {
        self.build + self.update + self.deliver + self.exchange + self.write
    }
}

/// The same run on GPUs (`volley plan --backend gpu`): per rank, the device memory of
/// `backend::gpu::estimate` and the host memory while its rows are drawn before upload;
/// or why the GPU backend would not run the model. Its wall time is not planned: no
/// costs have been measured on a hardware GPU yet (BENCHMARKS.md, "GPU backend").
#[derive(Clone, Debug)]
pub enum GpuPlan {
    Refused(String),
    Ranks(Vec<GpuRankPlan>),
}

#[derive(Clone, Debug)]
pub struct GpuRankPlan {
    pub device: MemoryEstimate,
    /// The host's peak: the state's host copy, the largest projection's rows as drawn
    /// before upload (a u32 target, an i32 weight, a u16 delay where delays vary, a u64
    /// offset per source), the recording buffers and the process.
    pub host: u64,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub options: PlanOptions,
    /// One plan per shape of rank, in the order of their first rank.
    pub shapes: Vec<RankPlan>,
    /// Each rank's shape (an index into `shapes`).
    rank_shape: Vec<u32>,
    /// For a GPU (`PlanOptions::kind`).
    pub gpu: Option<GpuPlan>,
    pub files: Vec<FilePlan>,
    pub spikes: f64,
    pub events: f64,
    pub time: TimePlan,
    pub costs_source: String,
}

impl Plan {
    pub fn output_bytes(&self) -> u64 {
        self.files.iter().map(FilePlan::bytes).sum()
    }

    /// The space the outputs need while they are written (`FilePlan::space_needed`).
    pub fn space_needed(&self) -> u64 {
        self.files.iter().map(FilePlan::space_needed).sum()
    }

    /// The rank that needs the most memory (its shape).
    pub fn largest_rank(&self) -> &RankPlan {
        self.shapes.iter().max_by_key(|r| r.total()).expect("at least one rank")
    }

    /// Rank `k`'s share.
    /// The rank with the most planned time (the first of its shape): what a dry run
    /// builds unless told otherwise.
    pub fn busiest_rank(&self) -> usize {
        let busiest = self.shapes.iter().max_by(|a, b| a.time.total().total_cmp(&b.time.total())).expect("at least one rank");
        busiest.first_ranks[0]
    }

    pub fn rank(&self, k: usize) -> &RankPlan {
        &self.shapes[self.rank_shape[k] as usize]
    }

    /// Memory of all ranks together.
    pub fn all_ranks_bytes(&self) -> u64 {
        self.shapes.iter().map(|s| s.total() * s.count).sum()
    }
}

/// Refuses a rank count the model cannot use: ranks own whole blocks of
/// `partition::BLOCK` neurons, so beyond the model's blocks a rank would have nothing
/// to do (and planning 10⁹ empty ranks would only take time).
pub fn check_ranks(desc: &Description, ranks: usize) -> Result<(), String> {
    let neurons = desc.total_neurons();
    let blocks = neurons.div_ceil(crate::partition::BLOCK).max(1);
    if ranks as u64 > blocks {
        return Err(format!(
            "expected at most {blocks} rank(s) for {neurons} neurons, got {ranks}: ranks own whole blocks of {} neurons, so {} rank(s) would have none",
            crate::partition::BLOCK,
            ranks as u64 - blocks
        ));
    }
    Ok(())
}

/// What makes two ranks' plans equal: as many neurons, the population they start in,
/// the population boundaries inside their range (relative to its start; ranks and
/// shards are cut at multiples of 64, so equal relative places give equal shards), and
/// what they buffer.
fn shape_key(desc: &Description, range: &Range<u64>, recording: u64) -> Vec<u64> {
    let first = desc.populations.partition_point(|p| p.first_gid + p.size <= range.start) as u64;
    let mut key = vec![range.end - range.start, first, recording];
    key.extend(desc.populations.iter().filter(|p| p.first_gid > range.start && p.first_gid < range.end).map(|p| p.first_gid - range.start));
    key
}

/// Plans `desc` on `options.ranks` ranks of `options.threads` threads.
pub fn plan(desc: &Description, options: &PlanOptions, costs: &Costs) -> Plan {
    let ranks = options.ranks.max(1);
    let threads = options.threads.max(1) as f64;
    let seconds = desc.steps as f64 * desc.dt_ms / 1000.0;
    let flush_s = desc.flush_steps().min(desc.steps.max(1)) as f64 * desc.dt_ms / 1000.0;
    let rate = options.rate_hz.max(0.0);
    let parts = crate::partition::partition(desc, ranks);
    let overlap = |a: &Range<u64>, b: &Range<u64>| a.end.min(b.end).saturating_sub(a.start.max(b.start));
    let mut shapes: Vec<RankPlan> = Vec::new();
    let mut rank_shape = Vec::with_capacity(parts.len());
    let mut known: std::collections::HashMap<Vec<u64>, u32> = std::collections::HashMap::new();
    let mut time = TimePlan::default();
    // Synaptic events of each shape's ranks: each rank's are those onto its targets.
    let mut shape_events: Vec<f64> = Vec::new();
    let spikes_of = |n: u64| n as f64 * rate * seconds;
    for (rank, range) in parts.iter().enumerate() {
        let n = range.end - range.start;
        // Spikes buffered between appends (8 bytes, a vector that may have doubled, and at
        // the append 24 bytes more: each one's population, time and id laid out for the
        // file), and each report's samples (held by the shards, then by the writer).
        let spike_buffer = (n as f64 * rate * flush_s * (8.0 * 2.0 + 24.0)) as u64;
        let report_buffer: u64 = desc
            .output
            .reports
            .iter()
            .map(|r| {
                let values: u64 = r
                    .populations
                    .iter()
                    .map(|rp| {
                        let p = &desc.populations[rp.population];
                        let local =
                            range.start.max(p.first_gid) - p.first_gid..range.end.min(p.first_gid + p.size).max(p.first_gid) - p.first_gid;
                        // The ids are sorted: two searches, whatever the report's size.
                        (rp.neurons.partition_point(|&i| i < local.end) - rp.neurons.partition_point(|&i| i < local.start)) as u64
                    })
                    .sum();
                let rows = desc.flush_steps().min(desc.steps).div_ceil(r.schedule.interval_steps.max(1));
                rows * values * 4 * 2
            })
            .sum();
        // Rank 0 draws the raster at the end: a bitmap, the font, a chunk of the file.
        let figure = if rank == 0 && desc.output.raster.is_some() { FIGURE_BYTES } else { 0 };
        let recording = spike_buffer + report_buffer + figure;
        let key = shape_key(desc, range, recording);
        if let Some(&k) = known.get(&key) {
            let shape = &mut shapes[k as usize];
            shape.count += 1;
            if shape.first_ranks.len() < 3 {
                shape.first_ranks.push(rank);
            }
            rank_shape.push(k);
            continue;
        }
        known.insert(key, shapes.len() as u32);
        rank_shape.push(shapes.len() as u32);
        let mut memory = BackendKind::Cpu.memory_estimate(desc, range.clone(), options.threads);
        memory.buffers += in_flight_bytes(desc, rate);
        let mut synapses = 0u64;
        let mut events_here = 0.0;
        let (mut update, mut deliver, mut build) = (0.0, 0.0, 0.0);
        for (index, p) in desc.populations.iter().enumerate() {
            let mine = overlap(&p.gids(), range) as f64;
            let noisy = desc.stimuli.iter().any(|s| s.population == index && matches!(s.kind, StimulusKind::Noise { .. }));
            let poisson = crate::stimulus::poisson_sources(&desc.stimuli, index) as f64 * costs.poisson_ns;
            let model_ns = BackendKind::Cpu.neuron_step_ns(&p.model).expect("the CPU's figures are measured");
            let per_step = model_ns * costs.update_factor + if noisy { costs.noise_ns } else { 0.0 } + poisson;
            update += mine * desc.steps as f64 * per_step;
        }
        for pr in &desc.projections {
            let target = &desc.populations[pr.target];
            let share = overlap(&target.gids(), range) as f64 / target.size.max(1) as f64;
            let count = desc.projection_synapses(pr) as f64 * share;
            synapses += count.round() as u64;
            let events = spikes_of(desc.populations[pr.source].size) * count / desc.populations[pr.source].size.max(1) as f64;
            let lo = range.start.max(target.first_gid);
            let local = lo..range.end.min(target.first_gid + target.size).max(lo);
            let (event, built) = match Layout::of(desc, pr, &local, range.start) {
                Layout::Procedural => (costs.procedural_event_ns, 0.0),
                Layout::Dense => (costs.dense_event_ns, costs.dense_build_ns),
                Layout::Csr { .. } => (costs.event_ns, costs.build_ns),
            };
            deliver += events * event;
            events_here += events;
            build += count * built;
        }
        // Receiving: each thread's store looks up every spike of a projection's sources
        // and reaches the rows it finds.
        for work in crate::backend::cpu::receive_work(desc, range.clone(), options.threads) {
            let received = spikes_of(desc.populations[desc.projections[work.projection].source].size);
            deliver += received * (work.lookups * costs.lookup_ns + work.rows * costs.row_ns);
        }
        let rank_time = TimePlan {
            build: build / threads * 1e-9,
            update: update / threads * 1e-9,
            deliver: deliver / threads * 1e-9,
            exchange: if ranks > 1 {
                let epochs = (desc.steps / desc.epoch_steps().max(1) as u64) as f64;
                epochs * costs.exchange_us * (ranks as f64).log2().ceil() * 1e-6
                    + spikes_of(desc.total_neurons()) * costs.exchange_spike_ns * 1e-9
            } else {
                0.0
            },
            write: spikes_of(n) * costs.write_ns * 1e-9,
        };
        if rank_time.total() > time.total() {
            time = rank_time;
        }
        shapes.push(RankPlan { neurons: range.clone(), synapses, memory, recording, count: 1, first_ranks: vec![rank], time: rank_time });
        shape_events.push(events_here);
    }
    let all_events: f64 = shapes.iter().zip(&shape_events).map(|(s, e)| e * s.count as f64).sum();
    let spikes = spikes_of(desc.total_neurons());
    let gpu = (options.kind == BackendKind::Gpu).then(|| gpu_plan(desc, &shapes, options.threads));
    Plan {
        options: options.clone(),
        shapes,
        rank_shape,
        files: files(desc, rate),
        spikes,
        events: all_events,
        time,
        costs_source: costs.source.clone(),
        gpu,
    }
}

/// The received spikes a rank keeps until their synapses are delivered, one copy for
/// all its threads: every epoch of the longest delay and one more, and a list for reuse,
/// each of every neuron's spikes of an epoch at `rate` Hz (8 bytes each; every rank
/// receives every spike under the all-gather).
fn in_flight_bytes(desc: &Description, rate: f64) -> u64 {
    let epoch = desc.epoch_steps().max(1) as u64;
    let lists = desc.max_delay_steps() as u64 / epoch + 2;
    let per_epoch = desc.total_neurons() as f64 * rate * epoch as f64 * desc.dt_ms / 1000.0;
    lists * (per_epoch * 8.0).ceil() as u64
}

/// What a GPU would hold for each shape of rank (`GpuPlan`), or why it would not run.
pub fn gpu_plan(desc: &Description, shapes: &[RankPlan], threads: usize) -> GpuPlan {
    let gpu = BackendKind::Gpu;
    match gpu.unsupported(desc) {
        Some(why) => GpuPlan::Refused(why),
        None => GpuPlan::Ranks(
            shapes
                .iter()
                .map(|r| {
                    let device = gpu.memory_estimate(desc, r.neurons.clone(), threads);
                    GpuRankPlan { device, host: gpu.host_bytes(desc, r.neurons.clone(), threads) + r.recording + PROCESS_BYTES }
                })
                .collect(),
        ),
    }
}

impl Plan {
    /// What rank `k`'s process needs beside itself on the backend the plan is for, and
    /// the parts in words: the figure the memory check holds to every limit.
    pub fn memory_need(&self, k: usize) -> (u64, String) {
        let r = self.rank(k);
        match &self.gpu {
            Some(GpuPlan::Ranks(ranks)) => {
                let host = ranks[self.rank_shape[k] as usize].host - PROCESS_BYTES;
                let backend = host - r.recording;
                (
                    host,
                    format!(
                        "the GPU backend's host copy of the state and rows {}, recording {}",
                        fmt_bytes(backend),
                        fmt_bytes(r.recording)
                    ),
                )
            }
            _ => (
                r.memory.total() + r.recording,
                format!(
                    "state {}, synapses {}, buffers {}, recording {}",
                    fmt_bytes(r.memory.state),
                    fmt_bytes(r.memory.synapses),
                    fmt_bytes(r.memory.buffers),
                    fmt_bytes(r.recording)
                ),
            ),
        }
    }
}

/// The output files and their datasets. Chunks are allocated whole as a dataset grows
/// (`writer::EARLY`): a dataset takes its rows rounded up to whole chunks, and each
/// chunk an entry in its index (`appender::CHUNK_INDEX_BYTES`, the figure the appends
/// reserve by).
fn files(desc: &Description, rate: f64) -> Vec<FilePlan> {
    let seconds = desc.steps as f64 * desc.dt_ms / 1000.0;
    let flush_s = desc.flush_steps().min(desc.steps.max(1)) as f64 * desc.dt_ms / 1000.0;
    let overhead = FILE_OVERHEAD + desc.model_text.len() as u64;
    let chunked = |rows: u64, chunk_rows: u64, row_bytes: u64| {
        let chunks = rows.div_ceil(chunk_rows.max(1));
        chunks * (chunk_rows * row_bytes + crate::record::appender::CHUNK_INDEX_BYTES)
    };
    let mut out = Vec::new();
    // Without a spike file the raster is drawn from a hidden one, removed once drawn.
    let spike_file = desc.output.spikes.clone().or_else(|| desc.output.raster.as_ref().map(|_| ".volley-spikes.h5".to_string()));
    if let Some(name) = spike_file {
        let datasets = desc
            .output
            .spike_recording
            .iter()
            .map(|(p, selection)| {
                let (p, recorded) = (&desc.populations[*p], selection.count(desc.populations[*p].size));
                let n = (recorded * rate * seconds).round() as u64;
                let chunk = chunk_for(recorded * rate * flush_s).min(MAX_CHUNK) as u64;
                DatasetPlan {
                    name: format!("spikes/{}/{{timestamps, node_ids}}", p.name),
                    shape: format!("{n} spikes"),
                    bytes: 2 * chunked(n, chunk, 8),
                }
            })
            .collect();
        out.push(FilePlan { file: name, datasets, overhead, appended: true });
    }
    if let Some(name) = &desc.output.raster {
        out.push(FilePlan { file: name.clone(), datasets: Vec::new(), overhead: RASTER_PNG_BYTES, appended: false });
    }
    if let Some((name, bin)) = &desc.output.rates {
        let bins = desc.steps / bin.max(&1);
        let datasets = desc
            .populations
            .iter()
            .map(|p| DatasetPlan { name: format!("rates/{}/counts", p.name), shape: format!("{bins} bins"), bytes: chunked(bins, 4096, 4) })
            .collect();
        out.push(FilePlan { file: name.clone(), datasets, overhead, appended: true });
    }
    for r in &desc.output.reports {
        let rows = r.schedule.samples_before(desc.steps);
        let datasets = r
            .populations
            .iter()
            .map(|rp| {
                let n = rp.neurons.len() as u64;
                let chunk_rows = (crate::record::report::CHUNK_BYTES / (4 * n.max(1))).clamp(1, 4096);
                DatasetPlan {
                    name: format!("report/{}/data", desc.populations[rp.population].name),
                    shape: format!("{rows} × {n} f32"),
                    bytes: chunked(rows, chunk_rows, n * 4) + n * 20,
                }
            })
            .collect();
        out.push(FilePlan { file: r.file.clone(), datasets, overhead, appended: true });
    }
    out
}

/// An HDF5 output file's layout, attributes and provenance besides the model's text
/// (measured: 13 KB for the 2003 network's spike file; BENCHMARKS.md "Output").
pub const FILE_OVERHEAD: u64 = 16 * 1024;
/// A raster PNG, at most (measured: 0.16 MB for 100 neurons over 1 s, 0.85 MB for
/// 1000 neurons over 10 s, 1200 × 800 pixels).
pub const RASTER_PNG_BYTES: u64 = 1_000_000;

/// "1.2 s", "3.4 min", "5.6 h".
pub fn fmt_seconds(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.options;
        let ranks = self.rank_shape.len();
        let by_shape =
            if self.shapes.len() < ranks { "; one row per shape of rank: its first rank, and how many ranks have it" } else { "" };
        writeln!(f, "  per rank ({ranks} rank(s) × {} thread(s){by_shape}):", o.threads)?;
        writeln!(
            f,
            "    {:>8} {:>8} {:>12} {:>14} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "rank", "ranks", "neurons", "synapses", "state", "synapses", "buffers", "recording", "total"
        )?;
        // At most 8 rows: beyond, the first rank's shape and those needing the most memory.
        let mut shown: Vec<usize> = (0..self.shapes.len()).collect();
        if shown.len() > 8 {
            shown.sort_by_key(|&k| (k != 0, std::cmp::Reverse(self.shapes[k].total())));
            shown.truncate(8);
            shown.sort_unstable();
        }
        for &k in &shown {
            let r = &self.shapes[k];
            writeln!(
                f,
                "    {:>8} {:>8} {:>12} {:>14} {:>10} {:>10} {:>10} {:>10} {:>10}",
                r.first_ranks[0],
                r.count,
                r.neurons.end - r.neurons.start,
                r.synapses,
                fmt_bytes(r.memory.state),
                fmt_bytes(r.memory.synapses),
                fmt_bytes(r.memory.buffers),
                fmt_bytes(r.recording),
                fmt_bytes(r.total())
            )?;
        }
        if shown.len() < self.shapes.len() {
            writeln!(f, "    ... and {} more shapes of rank", self.shapes.len() - shown.len())?;
        }
        writeln!(f, "    (total includes {} for the process itself: binary, MPI, HDF5)", fmt_bytes(PROCESS_BYTES))?;
        match &self.gpu {
            None => {}
            Some(GpuPlan::Refused(why)) => writeln!(f, "  on GPUs (--backend gpu): not run ({why})")?,
            Some(GpuPlan::Ranks(ranks)) => {
                writeln!(f, "  on GPUs (--backend gpu), one per rank: device memory, and the host's peak while rows are drawn:")?;
                writeln!(
                    f,
                    "    {:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
                    "rank", "ranks", "state", "synapses", "buffers", "device", "host"
                )?;
                for &k in &shown {
                    let r = &ranks[k];
                    writeln!(
                        f,
                        "    {:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
                        self.shapes[k].first_ranks[0],
                        self.shapes[k].count,
                        fmt_bytes(r.device.state),
                        fmt_bytes(r.device.synapses),
                        fmt_bytes(r.device.buffers),
                        fmt_bytes(r.device.total()),
                        fmt_bytes(r.host)
                    )?;
                }
                writeln!(
                    f,
                    "    (wall time on a GPU is not planned: no costs measured on one yet; the CPU's below. BENCHMARKS.md \"GPU backend\" bounds it by bytes moved)"
                )?;
            }
        }
        writeln!(f, "  output at {} Hz (--expected-rate):", o.rate_hz)?;
        for file in &self.files {
            writeln!(f, "    {:<28} {:>10}", file.file, fmt_bytes(file.bytes()))?;
            for d in &file.datasets {
                writeln!(f, "      {:<36} {:>24} {:>10}", d.name, d.shape, fmt_bytes(d.bytes))?;
            }
        }
        writeln!(f, "    total {}", fmt_bytes(self.output_bytes()))?;
        writeln!(f, "  expected: {:.0} spikes, {:.3e} synaptic events", self.spikes, self.events)?;
        let t = &self.time;
        write!(
            f,
            "  wall time (slowest rank): build {}, update {}, delivery {}, exchange {}, write {}: about {} (costs: {})",
            fmt_seconds(t.build),
            fmt_seconds(t.update),
            fmt_seconds(t.deliver),
            fmt_seconds(t.exchange),
            fmt_seconds(t.write),
            fmt_seconds(t.total()),
            self.costs_source
        )
    }
}

/// The figures a script reads: one line of key=value.
pub fn machine_line(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "plan: memory_bytes={} output_bytes={} spikes={:.0} events={:.0} wall_s={:.3}",
        plan.largest_rank().total(),
        plan.output_bytes(),
        plan.spikes,
        plan.events,
        plan.time.total()
    );
    if let Some(GpuPlan::Ranks(ranks)) = &plan.gpu {
        let device = ranks.iter().map(|r| r.device.total()).max().unwrap_or(0);
        let host = ranks.iter().map(|r| r.host).max().unwrap_or(0);
        let _ = write!(s, " gpu_device_bytes={device} gpu_host_bytes={host}");
    }
    s
}

/// This machine's costs for `desc`, measured on a small copy of it (every population
/// at most `CALIBRATION_NEURONS` neurons, in-degrees capped to fit) run for up to 200 ms
/// of simulated time: the update and delivery times against what the reference costs
/// predict for that copy scale the reference costs. Delivery is only ever scaled up: the
/// copy's synapses sit in cache, a large network's do not.
pub fn calibrate(desc: &Description, threads: usize) -> crate::Result<Costs> {
    let mut small = desc.clone();
    let largest = desc.populations.iter().map(|p| p.size).max().unwrap_or(1);
    let scale = (CALIBRATION_NEURONS as f64 / largest as f64).min(1.0);
    let mut first = 0;
    for p in &mut small.populations {
        p.size = ((p.size as f64 * scale).round() as u64).max(1);
        p.first_gid = first;
        first += p.size;
    }
    let sizes: Vec<u64> = small.populations.iter().map(|p| p.size).collect();
    for pr in &mut small.projections {
        match &mut pr.rule {
            ConnectionRule::FixedIndegree { k, multapses, .. } if !*multapses => *k = (*k).min(sizes[pr.source].saturating_sub(1).max(1)),
            ConnectionRule::FixedOutdegree { k, multapses, .. } if !*multapses => *k = (*k).min(sizes[pr.target].saturating_sub(1).max(1)),
            // The same in-degrees onto the smaller targets.
            ConnectionRule::FixedTotalNumber { n, .. } => {
                *n = (*n as f64 * sizes[pr.target] as f64 / desc.populations[pr.target].size.max(1) as f64).round() as u64
            }
            _ => {}
        }
    }
    small.steps = small.steps.min((200.0 / small.dt_ms).round() as u64).max(1);
    small.output.reports.clear();
    let options = crate::backend::cpu::CpuOptions { threads, ..Default::default() };
    let t0 = std::time::Instant::now();
    // The reference costs are the CPU's: measured on the CPU backend, through the choice point.
    let choice = crate::backend::BackendOptions { choice: crate::backend::BackendChoice::Cpu, cpu: options, gpu: None };
    let (mut backend, _) = crate::backend::build(&small, 0..small.total_neurons(), &choice, 0).map_err(|e| e.error)?;
    let build_s = t0.elapsed().as_secs_f64();
    let mut recorder = crate::record::MemoryRecorder::default();
    crate::engine::Simulation::new(backend.as_mut(), &mut crate::comm::LocalComm, small.epoch_steps(), small.steps).run(&mut recorder)?;
    let crate::backend::WorkTimes { deliver, update, .. } = backend.work_times();
    let seconds = small.steps as f64 * small.dt_ms / 1000.0;
    let rate = recorder.spikes.len() as f64 / small.total_neurons().max(1) as f64 / seconds.max(1e-9);
    let reference = Costs::default();
    let predicted = plan(&small, &PlanOptions { ranks: 1, threads, rate_hz: rate, kind: BackendKind::Cpu }, &reference).time;
    let factor = |measured: f64, predicted: f64| if predicted > 1e-4 { (measured / predicted).clamp(0.05, 50.0) } else { 1.0 };
    let update_factor = factor(update.as_secs_f64(), predicted.update);
    let (deliver_measured, build_measured) = (factor(deliver.as_secs_f64(), predicted.deliver), factor(build_s, predicted.build));
    let (deliver_factor, build_factor) = (deliver_measured.max(1.0), build_measured.max(1.0));

    Ok(Costs {
        update_factor,
        noise_ns: reference.noise_ns * update_factor,
        poisson_ns: reference.poisson_ns * update_factor,
        event_ns: reference.event_ns * deliver_factor,
        dense_event_ns: reference.dense_event_ns * deliver_factor,
        procedural_event_ns: reference.procedural_event_ns * deliver_factor,
        lookup_ns: reference.lookup_ns * deliver_factor,
        row_ns: reference.row_ns * deliver_factor,
        build_ns: reference.build_ns * build_factor,
        dense_build_ns: reference.dense_build_ns * build_factor,
        write_ns: reference.write_ns,
        exchange_us: reference.exchange_us,
        exchange_spike_ns: reference.exchange_spike_ns,
        source: format!(
            "calibrated here on {} neurons for {} ms: update ×{update_factor:.2}, delivery ×{deliver_factor:.2}{}, build ×{build_factor:.2}{} of the reference",
            small.total_neurons(),
            small.steps as f64 * small.dt_ms,
            floored(deliver_factor, deliver_measured),
            floored(build_factor, build_measured),
        ),
    })
}

/// What a calibration measured where it applied more, so that the plan does not show a
/// bare ×1.00: " (measured ×0.59, kept at 1: the copy sits in cache)".
fn floored(applied: f64, measured: f64) -> String {
    if measured < applied {
        format!(" (measured ×{measured:.2}, kept at 1: the copy sits in cache)")
    } else {
        String::new()
    }
}

/// The largest population of a calibration copy.
pub const CALIBRATION_NEURONS: u64 = 4000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_factor_kept_at_one_says_what_was_measured() {
        assert_eq!(floored(1.0, 0.59), " (measured ×0.59, kept at 1: the copy sits in cache)");
        assert_eq!(floored(1.3, 1.3), "");
    }

    /// A Poisson stimulus adds its count per neuron-step to the update: 1000 neurons ×
    /// 100 steps × the cost of a count on one thread.
    #[test]
    fn poisson_inputs_count_in_the_update() {
        let model = |stimulus: &str| {
            let text = format!(
                "[simulation]\ndt = \"0.1 ms\"\nduration = \"10 ms\"\n[[population]]\nname = \"a\"\nsize = 1000\nmodel = \"iaf_psc_exp\"\n{stimulus}"
            );
            crate::config::parse(&text, "m.toml", &Default::default()).unwrap()
        };
        let options = PlanOptions { ranks: 1, threads: 1, rate_hz: 0.0, kind: BackendKind::Cpu };
        let without = plan(&model(""), &options, &Costs::default()).time.update;
        let with = plan(
            &model("[[stimulus]]\npopulation = \"a\"\nkind = \"poisson\"\nrate = 8.0\nindegree = 100\nweight = 1.0\n"),
            &options,
            &Costs::default(),
        )
        .time
        .update;
        assert!((with - without - 1000.0 * 100.0 * Costs::default().poisson_ns * 1e-9).abs() < 1e-12, "{without} {with}");
    }
}
