//! Backends integrate a rank's slice of neurons. The engine calls one per epoch; a
//! backend knows no MPI and no file formats.

mod build_error;
mod contention;
pub mod cpu;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod kind;
pub mod workers;

pub use build_error::InvalidBuild;

use crate::error::Result;
use crate::model::StateArrayMut;
use crate::network::{Description, Schedule};
use crate::spike::Spike;
use std::ops::Range;
use std::time::Duration;

/// A request to sample one declared state variable of chosen neurons at chosen steps
/// (Arbor's samplers), handed to a backend before the run: the backend takes the samples
/// inside its epochs, before each due step is integrated, and hands them over when asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// Global ids of the sampled neurons, ascending, all of one population; a backend
    /// samples those it integrates.
    pub gids: Vec<u64>,
    /// The variable's index among the population's declared state variables.
    pub variable: usize,
    pub schedule: Schedule,
}

/// A piece of a rank's state as a checkpoint holds it: array `array` of population
/// `population` (`checkpoint::arrays` names them: the model's, then the exponential
/// synaptic kinds') for its neurons from global id `first_gid` on, one value each.
pub struct StatePiece<'a> {
    pub population: usize,
    pub first_gid: u64,
    pub array: usize,
    pub values: StateArrayMut<'a>,
}

/// A backend's working time so far, per worker (thread).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkTimes {
    pub update: Duration,
    /// Delivering the received spikes' synapses into the rings, their lookup included.
    pub deliver: Duration,
    /// Of `deliver`, finding the rows of the received spikes (zero unless timed:
    /// `Backend::time_lookups`).
    pub lookup: Duration,
    /// Each shard's busy time (its delivery and update) where the backend runs shards on
    /// threads: how evenly the threads' work is cut.
    pub shards: Vec<Duration>,
    /// Delivery summed over every thread (not per thread, as `deliver`), and the
    /// synaptic events it delivered: (spike, local synapse) pairs. Zero where not counted.
    pub deliver_busy: Duration,
    pub events: u64,
}

/// How a backend's shards are cut anew by their measured times (`Backend::rebalance`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CutBy {
    /// Each population's firing rate so far, which the neurons' estimated costs are
    /// taken at; None: an assumed rate for all.
    pub rates_hz: Option<Vec<f64>>,
    /// The share of the busiest shard's time the new cut must be expected to save, or
    /// the shards keep their cut (`partition::cut_if_it_pays`; 0: any cut that moves).
    pub min_gain: f64,
}

pub trait Backend {
    /// Adds a probe (before the first epoch); returns its number for `take_samples`.
    fn add_probe(&mut self, probe: Probe) -> usize;

    /// Moves the samples of probe `probe` taken since the last call to the end of `out`:
    /// for each sampled step in order, the values of the probe's neurons this backend
    /// integrates, in id order.
    fn take_samples(&mut self, probe: usize, out: &mut Vec<f32>);

    /// Delivers `arrivals` (the previous epoch's spikes from every rank, sorted by step
    /// then id) into the delay buffers, then advances `steps` steps starting at
    /// `first_step`. The epoch's local spikes are appended to `spikes`, sorted.
    fn run_epoch(&mut self, arrivals: &[Spike], first_step: u64, steps: u32, spikes: &mut Vec<Spike>);

    /// `run_epoch`, calling `meanwhile` once while the epoch runs where the backend works
    /// beside the host (a GPU: between submitting the epoch and reading its spikes back),
    /// so that the engine exchanges the previous epoch's spikes in that time (Arbor's
    /// overlap of exchange and integration). By default, after the epoch.
    fn run_epoch_overlapped(
        &mut self,
        arrivals: &[Spike],
        first_step: u64,
        steps: u32,
        spikes: &mut Vec<Spike>,
        meanwhile: &mut dyn FnMut(),
    ) {
        self.run_epoch(arrivals, first_step, steps, spikes);
        meanwhile();
    }

    /// Runs the epochs `epochs` ((first step, steps), in order) where no spike leaves the
    /// process between them (one rank): each epoch's spikes arrive from the next epoch
    /// on. `pending` holds the spikes due from the first epoch on (what `run_epoch` takes
    /// as arrivals), and is left holding the last epoch's; every epoch's spikes are
    /// appended to `spikes` in canonical order. The same as `run_epoch` epoch after epoch,
    /// which it is by default; the CPU backend's threads go from one epoch to the next
    /// without handing anything back in between.
    fn run_epochs_alone(&mut self, epochs: &[(u64, u32)], pending: &mut Vec<Spike>, spikes: &mut Vec<Spike>) {
        let mut local = Vec::new();
        for &(first_step, steps) in epochs {
            local.clear();
            self.run_epoch(pending, first_step, steps, &mut local);
            spikes.extend_from_slice(&local);
            std::mem::swap(pending, &mut local);
        }
    }

    /// Whether `run_epoch_overlapped` runs `meanwhile` while the epoch is being computed.
    fn overlaps_exchange(&self) -> bool {
        false
    }

    /// Hands `visit` every piece of the state a checkpoint holds (neuron state and the
    /// exponential synapses' state), mutable: to save it or to restore it. Stops at the
    /// first error `visit` returns.
    fn visit_state(&mut self, visit: &mut dyn FnMut(StatePiece<'_>) -> Result<()>) -> Result<()>;

    /// Takes a checkpoint's spikes in flight (every rank's, epoch by epoch as they were
    /// exchanged, oldest first) to continue at step `from_step` with empty delay rings.
    fn restore_in_flight(&mut self, epochs: &[Vec<Spike>], from_step: u64);

    /// Builds the groups of population `population` again from `desc` (its new
    /// parameters), carrying their state on, between runs. Err: this backend cannot, or a
    /// value is not a finite number.
    fn rebuild_population(&mut self, _desc: &Description, _population: usize) -> std::result::Result<(), String> {
        Err("this backend cannot change neuron parameters between runs; use the CPU backend".into())
    }

    /// Takes the stimuli of `desc` in place of those it was built with, between runs (the
    /// rest of `desc` is the one built). Err: this backend cannot.
    fn set_stimuli(&mut self, _desc: &Description) -> std::result::Result<(), String> {
        Err("this backend cannot change its stimuli between runs; use the CPU backend".into())
    }

    /// Builds its static synapses again from `desc` (a projection's synapses now given
    /// with new weights: `Session::set_weights`), carrying the neuron and plastic state
    /// on, to go on at step `step`: every spike arriving from `step` on takes the new
    /// weights. Err: this backend cannot, or the store could not be built.
    fn rebuild_synapses(&mut self, _desc: &Description, _step: u64) -> std::result::Result<(), String> {
        Err("this backend cannot change weights between runs; use the CPU backend".into())
    }

    /// Global ids of the neurons this backend integrates.
    fn neurons(&self) -> Range<u64>;

    /// Bytes held for neuron state, synapses and buffers.
    fn memory_bytes(&self) -> usize;

    /// The bytes held by kind, as the memory estimate counts them (a backend that does
    /// not tell them apart: all under buffers).
    fn memory_held(&self) -> kind::MemoryEstimate {
        kind::MemoryEstimate { buffers: self.memory_bytes() as u64, ..Default::default() }
    }

    /// The first state variable (by step, then id) that left the finite numbers.
    fn non_finite(&self) -> Option<crate::model::NonFinite>;

    /// Synapses stored.
    fn synapse_count(&self) -> u64;

    /// The local synapses of plastic projection `projection`, targets ascending, each
    /// target's in an order that does not depend on the partition.
    fn plastic_synapses(&self, _projection: u32) -> Vec<crate::connectivity::PlasticSynapse> {
        Vec::new()
    }

    /// Brings every plastic synapse up to date with the postsynaptic spikes before step
    /// `step` (those updated lazily, at their next arrival): before their weights are
    /// read (`plastic_synapses`, `plastic_state`).
    fn settle_plastic(&mut self, _step: u64) {}

    /// The state of plastic projection `projection`'s local synapses and targets, in the
    /// order of `plastic_synapses`: what a checkpoint holds.
    fn plastic_state(&self, _projection: u32) -> crate::connectivity::PlasticState {
        crate::connectivity::PlasticState::default()
    }

    /// Where plastic projection `projection`'s local part lies, without copying it: the
    /// global id of its first target, its synapses and its targets (`plastic_state`'s
    /// `first_target` and lengths).
    fn plastic_extent(&self, _projection: u32) -> (u64, usize, usize) {
        (0, 0, 0)
    }

    /// Takes the state of plastic projection `projection`'s local synapses and targets
    /// from `state` (as `plastic_state` gives it, for the same synapses).
    fn set_plastic_state(&mut self, _projection: u32, _state: &crate::connectivity::PlasticState) -> std::result::Result<(), String> {
        Ok(())
    }

    /// Membrane potentials of the local neurons in id order.
    fn voltages(&self) -> Vec<f32>;

    /// A bit set over the global ids `0..total` of the sources this backend holds
    /// synapses from (the spikes it must receive).
    fn needed_sources(&self, total: u64) -> Vec<u64>;

    /// Time spent delivering spikes and updating neurons so far, averaged over the
    /// backend's workers (threads).
    fn work_times(&self) -> WorkTimes;

    /// From now on, times the lookup of the received spikes' rows apart from the rest of
    /// delivery (`WorkTimes::lookup`), at the cost of clock readings per projection and
    /// delivery (the dry run). Backends without such a phase ignore it.
    fn time_lookups(&mut self) {}

    /// Cuts the work between the backend's threads anew by `seconds`, the busy time each
    /// of its pieces (`WorkTimes::shards`, in order) took over the caller's measurement:
    /// builds the pieces again and moves the state into them, to go on at step `step`
    /// (the next epoch's first) exactly as it would have. Returns whether the cut moved;
    /// a backend without pieces of work to move between threads leaves it (false).
    fn rebalance(&mut self, _desc: &Description, _step: u64, _seconds: &[f64], _cut_by: &CutBy) -> std::result::Result<bool, InvalidBuild> {
        Ok(false)
    }

    /// For each of the description's `populations`, the neuron-steps whose v lay outside
    /// the model's rate tables (clamped to their edge) so far.
    fn table_clamps(&self, populations: usize) -> Vec<u64>;
}

/// The choice is part of the description (`network`); a backend kind answers for it here.
pub use crate::network::BackendChoice;

/// How a rank's backend is chosen and set up.
#[derive(Clone, Copy, Debug, Default)]
pub struct BackendOptions {
    pub choice: BackendChoice,
    pub cpu: cpu::CpuOptions,
    /// The adapter to use (`--gpu`); by default, the rank's index among the ranks of its
    /// node, modulo the node's adapters (one GPU per rank on a node of several).
    pub gpu: Option<usize>,
}

/// The backend that runs `desc`'s neurons `neurons` on this rank: the one runtime choice
/// point of the backend (DESIGN.md §2), building the kind the choice resolves to
/// (`kind::BackendKind::resolve`, which `plan`, `check` and `run` ask too). `rank_on_node` picks the adapter by default.
/// Returns it with one line saying what it runs on.
pub fn build(
    desc: &Description,
    neurons: Range<u64>,
    options: &BackendOptions,
    rank_on_node: usize,
) -> std::result::Result<(Box<dyn Backend>, String), InvalidBuild> {
    // The rows of synapses given as data onto this process's neurons, read once for all
    // its shards (and their re-cuts).
    crate::sonata::edges::load_for(desc, &neurons).map_err(|error| InvalidBuild { key: -1.0, error })?;
    // And the spike sources' trains, likewise.
    desc.load_trains(&neurons).map_err(|error| InvalidBuild { key: -1.0, error })?;
    let built = build_chosen(desc, neurons, options, rank_on_node);
    crate::sonata::edges::forget(desc);
    desc.forget_trains();
    built
}

fn build_chosen(
    desc: &Description,
    neurons: Range<u64>,
    options: &BackendOptions,
    rank_on_node: usize,
) -> std::result::Result<(Box<dyn Backend>, String), InvalidBuild> {
    let cpu = |desc: &Description| -> std::result::Result<(Box<dyn Backend>, String), InvalidBuild> {
        let backend = cpu::CpuBackend::build(desc, neurons.clone(), options.cpu)?;
        Ok((Box::new(backend), "cpu".into()))
    };
    match kind::BackendKind::resolve(options.choice, desc) {
        kind::BackendKind::Cpu => cpu(desc),
        #[cfg(feature = "gpu")]
        kind::BackendKind::Gpu => {
            let refuse = |error: crate::error::Error| InvalidBuild { key: -1.0, error };
            if let Some(why) = kind::BackendKind::Gpu.unsupported(desc) {
                return Err(refuse(crate::error::Error::Option {
                    option: "--backend gpu".into(),
                    message: format!("{why}: use --backend cpu"),
                }));
            }
            let index = options.gpu.unwrap_or(rank_on_node);
            let device = gpu::device::open(index, options.gpu.is_some(), options.choice == BackendChoice::Gpu).map_err(refuse)?;
            let backend = gpu::GpuBackend::build(desc, neurons.clone(), device)?;
            let what = format!("gpu {}", backend.adapter());
            Ok((Box::new(backend), what))
        }
        #[cfg(not(feature = "gpu"))]
        kind::BackendKind::Gpu => {
            let _ = rank_on_node;
            Err(InvalidBuild {
                key: -1.0,
                error: crate::error::Error::Option {
                    option: "--backend gpu".into(),
                    message: "this volley was built without the GPU backend (cargo feature `gpu`): use --backend cpu".into(),
                },
            })
        }
    }
}
