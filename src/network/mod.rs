//! The description of a network (Arbor's "recipe"): populations with global id ranges,
//! their neuron models and parameter expressions, projections with connection rules,
//! weight and delay distributions, synapse models and storage. It knows nothing of
//! ranks, threads or GPUs; everything random in it is a pure function of the seed and
//! global ids (DESIGN.md §1).

pub mod edges;

pub use edges::{EdgeSource, EdgeType, TargetRows};

use crate::expr::Expr;
use crate::model::NeuronModel;
use crate::rng;
use crate::stimulus::Stimulus;
pub use crate::synapse::SynapseModel;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Description {
    pub dt_ms: f64,
    pub steps: u64,
    pub seed: u64,
    /// The backend the model file asks for (`--backend` replaces it).
    pub backend: BackendChoice,
    pub populations: Vec<Population>,
    pub projections: Vec<Projection>,
    /// Currents injected from outside the network, in the order they are added.
    pub stimuli: Vec<Stimulus>,
    /// The synapses given as data (SONATA edge populations) that `ConnectionRule::Explicit`
    /// projections take, by index.
    pub edges: Vec<Arc<EdgeSource>>,
    pub output: OutputPlan,
    /// The model file's text as run: after every command-line replacement (provenance).
    pub model_text: String,
    /// The model file's name, for errors found after validation (values at build).
    pub model_file: String,
    /// What is valid but probably not meant (a dt too long for a model's dynamics), in
    /// words, for `run` and `check` to print.
    pub warnings: Vec<String>,
}

/// Which backend integrates a rank's neurons: `--backend`, or `simulation.backend` in the
/// model file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// CPU threads (rayon shards).
    #[default]
    Cpu,
    /// A GPU through wgpu: a hardware adapter if the machine has one, else a software
    /// driver (lavapipe), else an error.
    Gpu,
    /// A hardware GPU where there is one and it runs the model, else the CPU.
    Auto,
}

impl BackendChoice {
    pub fn parse(text: &str) -> Option<BackendChoice> {
        match text {
            "cpu" => Some(BackendChoice::Cpu),
            "gpu" => Some(BackendChoice::Gpu),
            "auto" => Some(BackendChoice::Auto),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Population {
    pub name: String,
    /// Global id of the first neuron; populations are numbered in file order.
    pub first_gid: u64,
    pub size: u64,
    pub model: NeuronModel,
    /// The parameters and initial values the model file sets, as written, by name
    /// (`initial.v` for an initial value): what `volley check --describe` shows beside
    /// the model's defaults.
    pub given: Vec<(String, String)>,
    /// For a population read from a SONATA circuit: its node population's name and the
    /// global id of that node population's node 0. A node population whose nodes take
    /// several models is several populations, one per run of node ids; the spike file
    /// has them as the one node population, with SONATA's node ids.
    pub node_population: Option<(String, u64)>,
}

impl Population {
    pub fn gids(&self) -> Range<u64> {
        self.first_gid..self.first_gid + self.size
    }
}

#[derive(Clone, Debug)]
pub struct Projection {
    /// Index in file order; keys the projection's random streams.
    pub id: u32,
    pub source: usize,
    pub target: usize,
    pub rule: ConnectionRule,
    pub weight: WeightSpec,
    pub delay: DelaySpec,
    pub synapse: SynapseModel,
    pub storage: Storage,
    /// The rule that changes its weights during the run; None: they stay as built.
    pub plasticity: Option<crate::plasticity::PlasticityRule>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConnectionRule {
    /// Every source onto every target (net.m's S matrix).
    AllToAll { autapses: bool },
    /// Each (source, target) pair independently with probability `p`; generated per
    /// target by geometric skips.
    FixedProbability { p: f64, autapses: bool },
    /// Each target draws `k` sources uniformly.
    FixedIndegree { k: u64, autapses: bool, multapses: bool },
    /// Each source draws `k` targets uniformly; generated per source, so every part of
    /// the network that holds targets draws every source's row.
    FixedOutdegree { k: u64, autapses: bool, multapses: bool },
    /// `n` synapses in all, each between a uniform source and a uniform target (NEST's
    /// fixed_total_number with multapses, the microcircuit's rule): the targets'
    /// in-degrees are a multinomial split of `n`, drawn down a keyed binary tree over the
    /// targets so that any part of the network draws its own targets' counts alone; each
    /// target then draws its sources as fixed_indegree does.
    FixedTotalNumber { n: u64, autapses: bool },
    /// Target i of the target population from source i of the source population, for i
    /// below both sizes (PyNN's OneToOneConnector, NEST's one_to_one).
    OneToOne,
    /// The `count` synapses of `Description::edges[edges]`, given as data: each target's
    /// row read from the file (in file order), weights and delays with it.
    Explicit { edges: u32, count: u64 },
}

impl ConnectionRule {
    pub fn autapses(&self) -> bool {
        match *self {
            ConnectionRule::AllToAll { autapses }
            | ConnectionRule::FixedProbability { autapses, .. }
            | ConnectionRule::FixedIndegree { autapses, .. }
            | ConnectionRule::FixedOutdegree { autapses, .. }
            | ConnectionRule::FixedTotalNumber { autapses, .. } => autapses,
            // What the data says: a node onto itself where an edge says so.
            ConnectionRule::Explicit { .. } => true,
            // Onto itself exactly where source and target are one population.
            ConnectionRule::OneToOne => true,
        }
    }

    /// Rows are drawn per source (and can be regenerated at delivery).
    pub fn per_source(&self) -> bool {
        matches!(self, ConnectionRule::FixedOutdegree { .. })
    }
}

/// How a synapse's weight is drawn from its stream.
#[derive(Clone, Debug)]
pub enum WeightSpec {
    /// An expression of up to three per-synapse uniforms `u`, `u2`, `u3` in [0, 1):
    /// constants, `low + (high-low)*u`, net.m's `0.5*u`.
    Expr { expr: Expr, uniforms: usize },
    /// Gaussian (one table-inverted normal, `gaussian`), clipped to [min, max], or with `redraw`
    /// drawn again until it falls in [min, max] (the Potjans–Diesmann model keeps each
    /// weight's sign so: NEST's `redraw`).
    Normal { mean: f64, std: f64, min: f64, max: f64, redraw: bool },
    /// Each synapse's own, read with it (`ConnectionRule::Explicit`), all within
    /// [min, max].
    Data { min: f64, max: f64 },
}

/// Whole-step delays in [min_steps, max_steps]: uniform, or with `normal` drawn from a
/// Gaussian (in steps), redrawn until in [lo, hi] and rounded to the nearest step (NEST's
/// delays in the microcircuit: redrawn below the resolution, then rounded).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DelaySpec {
    pub min_steps: u32,
    pub max_steps: u32,
    pub normal: Option<NormalDelay>,
    /// The synapses of each drawn row take the delays min..=max in equal shares, in
    /// drawing order (Izhikevich 2006: a source's 100 synapses, five per delay of
    /// 1–20 ms), instead of one drawn per synapse.
    pub spread: bool,
}

/// A Gaussian delay's mean, standard deviation and the range it is redrawn into, in
/// steps (not rounded).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormalDelay {
    pub mean: f64,
    pub std: f64,
    pub lo: f64,
    pub hi: f64,
}

impl DelaySpec {
    pub fn constant(steps: u32) -> DelaySpec {
        DelaySpec { min_steps: steps, max_steps: steps, normal: None, spread: false }
    }

    pub fn count(&self) -> u32 {
        self.max_steps - self.min_steps + 1
    }
}

/// How a projection's synapses are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// u32 target + f32 weight (dense rows without targets for all-to-all).
    Exact,
    /// 16-bit weight code over the weight range + target: 4 bytes per synapse for
    /// shards of up to 65,536 neurons (u16 target), 6 beyond (u32 target).
    Compact,
    /// Nothing stored: a spiking source's row is regenerated from its keyed stream
    /// (GeNN's PROCEDURAL). Rules drawn per source only.
    Procedural,
}

#[derive(Clone, Debug, Default)]
pub struct OutputPlan {
    pub dir: PathBuf,
    /// File name of the SONATA spike file in `dir`, if spikes are written.
    pub spikes: Option<String>,
    /// File name of the raster PNG in `dir`, if it is drawn.
    pub raster: Option<String>,
    /// Steps between appends to the spike file: the most simulated time a killed run
    /// loses, and the time's worth of spikes each rank buffers.
    pub flush_every_steps: u64,
    /// Sampled state, one SONATA report file each.
    pub reports: Vec<ReportPlan>,
    /// Snapshots of plastic projections' weights, one SONATA edges file each.
    pub weights: Vec<WeightsPlan>,
    /// The rate traces' file name and bin in steps.
    pub rates: Option<(String, u64)>,
    /// The populations the spike file records (indices into `Description::populations`,
    /// ascending) and which of their neurons; the spike file has those populations only.
    pub spike_recording: Vec<(usize, crate::stimulus::Selection)>,
}

/// A plastic projection's weights written at `interval_steps` (a whole number of epochs)
/// from the start, and at the end of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightsPlan {
    /// File name inside the output directory.
    pub file: String,
    pub projection: u32,
    pub interval_steps: u64,
}

impl WeightsPlan {
    /// Whether a snapshot is taken at step `step` of a run of `steps`.
    pub fn due(&self, step: u64, steps: u64) -> bool {
        step == steps || step.is_multiple_of(self.interval_steps)
    }

    /// The last step at or before `step` (short of the run's end) at which one is taken.
    pub fn last_until(&self, step: u64) -> u64 {
        step / self.interval_steps * self.interval_steps
    }

    /// The next step after `step` at which one is taken.
    pub fn next_after(&self, step: u64, steps: u64) -> u64 {
        ((step / self.interval_steps + 1) * self.interval_steps).min(steps)
    }
}

/// A state variable sampled from chosen neurons of some populations, on a schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportPlan {
    /// File name inside the output directory.
    pub file: String,
    pub variable: String,
    pub unit: String,
    pub populations: Vec<ReportedPopulation>,
    pub schedule: Schedule,
}

/// Steps at which state is sampled: every `interval_steps` steps from `start_step` up to
/// `stop_step` (exclusive). The sample at step s is the state at time s·dt, before step s
/// is integrated (the initial state at step 0, a spike's peak in the step after it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub start_step: u64,
    pub stop_step: u64,
    pub interval_steps: u64,
}

impl Schedule {
    /// The steps sampled below `until_step`.
    pub fn samples_before(&self, until_step: u64) -> u64 {
        let end = until_step.min(self.stop_step);
        if end <= self.start_step {
            0
        } else {
            (end - self.start_step).div_ceil(self.interval_steps.max(1))
        }
    }

    /// Whether the state before `step` is sampled.
    pub fn samples_at(&self, step: u64) -> bool {
        step >= self.start_step && step < self.stop_step && (step - self.start_step).is_multiple_of(self.interval_steps.max(1))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReportedPopulation {
    /// Index into `Description::populations`.
    pub population: usize,
    /// The variable's index among the model's declared state variables.
    pub variable: usize,
    /// Population-local ids of the sampled neurons, ascending.
    pub neurons: Vec<u64>,
}

/// The most slots a delay ring holds where delays are long in steps (see
/// `Description::ring_slots`): 32 slots of 4 bytes, 128 bytes per neuron and synaptic kind.
pub const RING_WINDOW: u32 = 32;

/// Rings of every delay are kept where they take at most this for the whole network.
pub const RING_BYTES: u64 = 32 << 20;

/// The most bytes of samples the reports buffer between appends, all ranks together
/// (`Description::flush_steps`).
pub const REPORT_BUFFER_BYTES: u64 = 64 << 20;

/// The ids in both `a` and `b` (empty, at the later start, where they do not meet).
pub fn overlap(a: &Range<u64>, b: &Range<u64>) -> Range<u64> {
    let start = a.start.max(b.start);
    start..a.end.min(b.end).max(start)
}

impl Description {
    /// Reads and keeps the spike trains of the spike sources among `neurons` (global
    /// ids), for the groups built from them; returns, per population, the repeats in a
    /// step dropped from what was read. Trains kept already are not read again.
    pub fn load_trains(&self, neurons: &Range<u64>) -> crate::error::Result<Vec<u64>> {
        let mut dropped = vec![0; self.populations.len()];
        for (k, p) in self.populations.iter().enumerate() {
            if let Some(trains) = p.model.spike_trains() {
                let local = overlap(&p.gids(), neurons);
                dropped[k] = trains.load(local.start - p.first_gid..local.end - p.first_gid)?;
            }
        }
        Ok(dropped)
    }

    /// Lets go of the spike trains read (`load_trains`), once the groups are built.
    pub fn forget_trains(&self) {
        for p in &self.populations {
            if let Some(trains) = p.model.spike_trains() {
                trains.forget();
            }
        }
    }

    /// The synaptic kinds the projections use, in the order of their delay rings
    /// (`synapse::kinds_of`).
    pub fn synapse_kinds(&self) -> Vec<SynapseModel> {
        crate::synapse::kinds_of(self.projections.iter().map(|p| p.synapse))
    }

    pub fn total_neurons(&self) -> u64 {
        self.populations.iter().map(|p| p.size).sum()
    }

    /// The length of an epoch between exchanges, in steps: the smallest delay, or, where
    /// no synapse connects anything, the steps of 1 ms (nothing needs exchanging sooner;
    /// one step at dt = 0.01 ms would mean 100 synchronisations per millisecond).
    pub fn epoch_steps(&self) -> u32 {
        if self.projections.is_empty() {
            ((1.0 / self.dt_ms).round() as u32).max(1)
        } else {
            self.min_delay_steps()
        }
    }

    /// Steps between appends to the output files: `output.flush_every` rounded up to
    /// whole epochs (an append then never cuts an epoch, so runs that stop at different
    /// places share one grid of epochs: `engine::Simulation::advance`), shortened where
    /// the reports would otherwise buffer more than `REPORT_BUFFER_BYTES` of samples (all
    /// ranks together) between appends — memory stays bounded whatever is sampled. The
    /// same for any number of ranks.
    pub fn flush_steps(&self) -> u64 {
        let per_step: f64 = self
            .output
            .reports
            .iter()
            .map(|r| r.populations.iter().map(|p| p.neurons.len() as f64).sum::<f64>() * 4.0 / r.schedule.interval_steps.max(1) as f64)
            .sum();
        let epoch = self.epoch_steps().max(1) as u64;
        let every = self.output.flush_every_steps.max(1).div_ceil(epoch) * epoch;
        if per_step <= 0.0 {
            return every;
        }
        let cap = ((REPORT_BUFFER_BYTES as f64 / per_step) as u64 / epoch * epoch).max(epoch);
        every.min(cap)
    }

    /// The smallest delay in steps.
    pub fn min_delay_steps(&self) -> u32 {
        self.projections.iter().map(|p| p.delay.min_steps).min().unwrap_or(1).max(1)
    }

    pub fn max_delay_steps(&self) -> u32 {
        self.projections.iter().map(|p| p.delay.max_steps).max().unwrap_or(1).max(1)
    }

    /// Slots of each delay ring (steps of arrivals it holds ahead): every delay where
    /// the largest is at most `RING_WINDOW` steps, else `RING_WINDOW`, the synapses of
    /// spikes in flight delivered in windows when due (`connectivity::InFlight`), so that delay
    /// memory does not grow with 1/dt. Procedural rows with several delays are drawn
    /// again at every delivery: where there are such, the rings hold every delay, so
    /// that each row is drawn once per spike. So do rings of every delay that take at
    /// most `RING_BYTES` for the whole network: windows make a spike's row be scanned
    /// once per window (the microcircuit's 0.1–9 ms delays at dt = 0.1 ms: 3 scans, where
    /// 90 slots of its 77,169 neurons take 28 MB). The slots do not change the result.
    pub fn ring_slots(&self) -> u32 {
        let redrawn = self.projections.iter().any(|p| p.storage == Storage::Procedural && p.delay.count() > 1);
        let kinds = self.synapse_kinds().len() as u64;
        let whole = 4 * self.total_neurons() * self.max_delay_steps() as u64 * kinds;
        if redrawn || whole <= RING_BYTES {
            self.max_delay_steps()
        } else {
            self.max_delay_steps().min(RING_WINDOW)
        }
    }

    /// Number of synapses of projection `p` (expected value for fixed_probability).
    pub fn projection_synapses(&self, p: &Projection) -> u64 {
        let (s, t) = (&self.populations[p.source], &self.populations[p.target]);
        let self_pairs = if p.source == p.target && !p.rule.autapses() { s.size } else { 0 };
        match p.rule {
            ConnectionRule::AllToAll { .. } => s.size * t.size - self_pairs,
            ConnectionRule::FixedProbability { p, .. } => ((s.size * t.size - self_pairs) as f64 * p).round() as u64,
            ConnectionRule::FixedIndegree { k, .. } => k * t.size,
            ConnectionRule::FixedOutdegree { k, .. } => k * s.size,
            ConnectionRule::FixedTotalNumber { n, .. } => n,
            ConnectionRule::Explicit { count, .. } => count,
            ConnectionRule::OneToOne => s.size.min(t.size),
        }
    }

    /// Number of synapses the description creates (before any storage choice).
    pub fn synapse_count(&self) -> u64 {
        self.projections.iter().map(|p| self.projection_synapses(p)).sum()
    }

    /// The per-neuron uniform `r` of neuron `gid`.
    pub fn neuron_uniform(&self, gid: u64) -> f64 {
        rng::neuron_uniform(self.seed, gid)
    }
}
