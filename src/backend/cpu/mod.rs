//! The CPU backend: the rank's neurons are cut into shards of contiguous ids, one rayon
//! task each. A shard owns its neurons' state, their delay rings and the synapses onto
//! them, so that delivery and update of one shard never touch another's memory and
//! need no atomics. Every shard receives every spike in canonical order, so each
//! target's input is summed in the same order whatever the number of shards: output is
//! bit-identical for any thread count.

mod estimate;
mod recut;
mod rounds;

pub use estimate::{memory_estimate, receive_work, ReceiveWork};

use super::build_error::{invalid_value, invalid_weight, out_of_memory, weight_outside_rule, InvalidBuild};
use super::workers::ShardWorkers;
use super::{Backend, CutBy, WorkTimes};
use super::{Probe, StatePiece};
use crate::connectivity::BuildError;
use crate::connectivity::LocalSynapses;
use crate::connectivity::{DelayRing, InFlight};
use crate::error::Error;
use crate::model::{NeuronGroup, NonFinite, StateArrayMut, StepInput};
use crate::network::Description;
use crate::spike::Spike;
use crate::stimulus::{self, GroupStimulus};
use crate::synapse::{self, Synaptic};
use rayon::prelude::*;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the CPU backend divides its work.
#[derive(Clone, Copy, Debug)]
pub struct CpuOptions {
    /// Rayon worker threads.
    pub threads: usize,
    /// A shard is not made smaller than this many neurons: below it the cost of
    /// synchronising threads every epoch outweighs the work (a 1000-neuron network runs
    /// fastest on one thread).
    pub min_shard_neurons: usize,
    /// A shard's delay ring larger than this many bytes defers its far arrivals
    /// (`DelayRing::try_deferring`); `usize::MAX`: none does. The environment's
    /// `VOLLEY_DEFER_ABOVE` sets the default, so that a benchmark can compare both ways.
    pub defer_rings_above: usize,
}

impl Default for CpuOptions {
    fn default() -> Self {
        // Not rayon's global pool: starting it where no thread can start (a tight
        // `ulimit -v`) would panic before volley could say why.
        let defer_rings_above = std::env::var("VOLLEY_DEFER_ABOVE").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFER_RING_BYTES);
        CpuOptions { threads: std::thread::available_parallelism().map_or(1, |n| n.get()), min_shard_neurons: 256, defer_rings_above }
    }
}

/// Shard boundaries are multiples of this, so that noise pairs and SIMD lanes align.
const SHARD_ALIGN: u64 = 64;

/// Neurons of one population inside a shard.
struct GroupSlot {
    state: NeuronGroup,
    /// Index of its first neuron among the shard's neurons.
    offset: usize,
    first_gid: u64,
    /// Its population's index in the description.
    population: usize,
    /// The stimuli reaching its neurons.
    stimuli: Vec<GroupStimulus>,
    /// Its model's declared flags, read once: whether it takes the synaptic kinds in its
    /// own update, and whether it takes the stimuli's currents apart from the weights
    /// arriving (and has such stimuli).
    takes_synaptic_kinds: bool,
    currents_apart: bool,
}

struct Shard {
    /// The global ids of its neurons.
    neurons: Range<u64>,
    groups: Vec<GroupSlot>,
    /// One delay ring per synaptic kind (`Description::synapse_kinds`); ring 0 takes delta synapses,
    /// straight into the input current.
    rings: Vec<DelayRing>,
    /// Received spikes whose synapses are not all in the rings yet.
    in_flight: InFlight,
    /// The state of the exponential kinds, fed by rings 1, 2, ...
    exponential: Vec<synapse::Exponential>,
    synapses: LocalSynapses,
    normals: Vec<f32>,
    /// Scratch for the stimuli's currents of a model that takes them apart from the
    /// arriving weights (empty where no group needs it).
    currents: Vec<f32>,
    spikes: Vec<Spike>,
    /// The first state seen to leave the finite numbers.
    non_finite: Option<NonFinite>,
    deliver_time: Duration,
    update_time: Duration,
    /// One per probe of the backend, in its order.
    probes: Vec<ShardProbe>,
}

/// A probe as one shard sees it: which of its groups, which neurons of that group.
struct ShardProbe {
    probe: Probe,
    group: usize,
    /// Indices into the group's state, ascending.
    indices: Vec<usize>,
    /// Where the variable is not one of the group's declared state variables: the
    /// exponential synaptic kind (`synapse.k`) it names, worked out once.
    synaptic: Option<usize>,
    /// Samples taken since they were last handed over, step after step.
    samples: Vec<f32>,
}

impl ShardProbe {
    fn new(probe: Probe, groups: &[GroupSlot]) -> ShardProbe {
        let mut at = (0, Vec::new());
        for (k, g) in groups.iter().enumerate() {
            let range = g.first_gid..g.first_gid + g.state.len() as u64;
            let indices: Vec<usize> =
                probe.gids.iter().filter(|gid| range.contains(gid)).map(|&gid| (gid - g.first_gid) as usize).collect();
            if !indices.is_empty() {
                at = (k, indices);
                break;
            }
        }
        let state = groups.get(at.0).map(|g| &g.state);
        let synaptic = state.filter(|s| s.state_variable(probe.variable).is_none()).map(|s| {
            let declared = (0..).take_while(|&k| s.state_variable(k).is_some()).count();
            probe.variable - declared
        });
        ShardProbe { probe, group: at.0, indices: at.1, synaptic, samples: Vec::new() }
    }

    /// Samples the state before `step`, if due: a declared state variable of the group,
    /// or beyond those, the state of an exponential synaptic kind (`synapse.k`).
    fn sample(&mut self, step: u64, groups: &[GroupSlot], exponential: &[synapse::Exponential]) {
        if self.indices.is_empty() || !self.probe.schedule.samples_at(step) {
            return;
        }
        let g = &groups[self.group];
        let values = match self.synaptic {
            None => g.state.state_variable(self.probe.variable).expect("a declared state variable (config checked)"),
            Some(k) => &exponential[k].values()[g.offset..g.offset + g.state.len()],
        };
        self.samples.extend(self.indices.iter().map(|&i| values[i]));
    }
}

pub struct CpuBackend {
    neurons: Range<u64>,
    shards: ShardWorkers<Shard>,
    seed: u64,
    dt: f32,
    threads: usize,
    /// The received epochs still in flight, one copy shared by every shard (each shard
    /// keeps its own place in them), and lists kept for reuse once every shard is done.
    /// Kept until no synapse of theirs can arrive any more (a re-cut delivers them again
    /// into new shards: `recut`).
    in_flight: VecDeque<Arc<Vec<Spike>>>,
    spare: Vec<Arc<Vec<Spike>>>,
    /// What the shards were built with, to build them again (`recut`).
    options: CpuOptions,
    ring_slots: u32,
    max_delay: u64,
    /// What shards replaced by a re-cut had counted and not yet handed over.
    carried: recut::Carried,
    /// The shards' spikes between the rounds of a batch (`run_epochs_alone`).
    round_spikes: rounds::RoundSpikes,
}

impl CpuBackend {
    /// Builds state and synapses for the neurons `neurons` (global ids) of `desc`, or
    /// fails on the first value that is not a finite f32 (see `InvalidBuild`).
    pub fn build(desc: &Description, neurons: Range<u64>, options: CpuOptions) -> Result<CpuBackend, InvalidBuild> {
        Self::build_with_ring_slots(desc, neurons, options, desc.ring_slots())
    }

    /// `build` with delay rings of `ring_slots` slots instead of the description's
    /// choice: any number gives the same results (tests, benchmarks of the window).
    pub fn build_with_ring_slots(
        desc: &Description,
        neurons: Range<u64>,
        options: CpuOptions,
        ring_slots: u32,
    ) -> Result<CpuBackend, InvalidBuild> {
        let ranges = shard_ranges(neurons.clone(), options, shards_per_thread(desc));
        let shards = build_shards(desc, ranges, options, ring_slots)?;
        Ok(CpuBackend {
            neurons,
            shards,
            seed: desc.seed,
            dt: desc.dt_ms as f32,
            threads: options.threads.max(1),
            in_flight: VecDeque::new(),
            spare: Vec::new(),
            options,
            ring_slots,
            max_delay: desc.max_delay_steps() as u64,
            carried: recut::Carried::default(),
            round_spikes: rounds::RoundSpikes::default(),
        })
    }

    /// `build` for descriptions known to be valid (tests, benchmarks).
    pub fn new(desc: &Description, neurons: Range<u64>, options: CpuOptions) -> CpuBackend {
        Self::build(desc, neurons, options).unwrap_or_else(|e| panic!("{}", e.error))
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// One copy of an epoch's arrivals for all shards, in a list kept from an earlier
    /// epoch, and kept in flight (None where there are none).
    fn share_arrivals(&mut self, arrivals: &[Spike]) -> Option<Arc<Vec<Spike>>> {
        let list = (!arrivals.is_empty()).then(|| {
            let mut list = self.spare.pop().unwrap_or_default();
            let spikes = Arc::get_mut(&mut list).expect("a spare list is held by no shard");
            spikes.clear();
            spikes.extend_from_slice(arrivals);
            list
        });
        self.in_flight.extend(list.clone());
        list
    }

    /// Lists every shard is done with, and none of whose synapses can arrive at `end` or
    /// later (a re-cut delivers those again), come back for reuse.
    fn release_arrived(&mut self, end: u64) {
        let arrived = |l: &Arc<Vec<Spike>>| l.last().is_none_or(|s| s.step as u64 + self.max_delay < end);
        while self.in_flight.front().is_some_and(|l| Arc::strong_count(l) == 1 && arrived(l)) {
            self.spare.extend(self.in_flight.pop_front());
        }
    }
}

/// Builds the shards `ranges` in parallel (over shards and, inside, over targets: rayon)
/// and starts the persistent threads that run their epochs; fails on the first value
/// that is not a finite f32 (by its key) or where threads cannot be started.
fn build_shards(
    desc: &Description,
    ranges: Vec<Range<u64>>,
    options: CpuOptions,
    ring_slots: u32,
) -> Result<ShardWorkers<Shard>, InvalidBuild> {
    let cannot_start = |e: std::io::Error| {
        InvalidBuild {
            key: -1.0,
            error: Error::Runtime(format!(
                "cannot start {} threads ({e}): a limit on processes or memory (ulimit -u, ulimit -v) or RUST_MIN_STACK leaves no room for them; run with fewer --threads or raise the limit",
                options.threads
            )),
        }
    };
    let built: Vec<Result<Shard, InvalidBuild>> = build_in_pool(options.threads.max(1), || {
        ranges.into_par_iter().map(|r| Shard::new(desc, r, ring_slots, options.defer_rings_above)).collect()
    })
    .map_err(cannot_start)?;
    let mut shards = Vec::with_capacity(built.len());
    let mut first: Option<InvalidBuild> = None;
    for shard in built {
        match shard {
            Ok(s) => shards.push(s),
            Err(e) if first.as_ref().is_none_or(|f| e.key < f.key) => first = Some(e),
            Err(_) => {}
        }
    }
    if let Some(e) = first {
        return Err(e);
    }
    ShardWorkers::start_with(shards, options.threads.max(1)).map_err(cannot_start)
}

/// Runs `build` in a pool of `threads` rayon threads and returns once those threads have
/// exited, not merely been told to (what dropping a pool does): on a machine shared with
/// another busy process, threads of a dropped pool still waking up to exit took the
/// simulation's core in its first milliseconds (the 2003 network's `simulate` with two
/// threads beside `yes`: median 7.3 ms, 6.3 ms with the threads settled first, one
/// thread 5.9 ms; BENCHMARKS.md, "Threads on a shared machine").
fn build_in_pool<T: Send>(threads: usize, build: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    let handles = std::sync::Mutex::new(Vec::new());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .spawn_handler(|thread| {
            let handle = std::thread::Builder::new().name(format!("volley-build-{}", thread.index())).spawn(|| thread.run())?;
            handles.lock().unwrap_or_else(|e| e.into_inner()).push(handle);
            Ok(())
        })
        .build()
        .map_err(std::io::Error::other)?;
    let built = pool.install(build);
    drop(pool);
    for handle in handles.into_inner().unwrap_or_else(|e| e.into_inner()) {
        // A build thread that panicked has already had its panic carried to `install`.
        let _ = handle.join();
    }
    Ok(built)
}

/// A delay ring larger than this defers its far arrivals (`DelayRing::try_deferring`):
/// past the core's private caches, an add into it costs a miss. By default.
const DEFER_RING_BYTES: usize = 2 << 20;
/// Arrivals this many steps ahead or fewer go straight into the ring.
const DEFER_NEAR_STEPS: u32 = 1;

/// Shards per thread where neuron updates cost this much per neuron-step (ns) or more.
const HEAVY_STEP_NS: f64 = 2.5;
const HEAVY_SHARDS_PER_THREAD: usize = 4;

/// Shards per thread: one where delivery dominates (each shard keeps its own row index
/// of every projection and scans every spike), four where neuron updates do (Hodgkin–
/// Huxley): an epoch then ends when the last of many small pieces ends, not when the
/// slower of two cores finishes its half (on a shared machine cores run at different
/// speeds minute to minute: the 50,000-neuron HH job spent 9% of its time so waiting).
fn shards_per_thread(desc: &Description) -> usize {
    let neurons = desc.total_neurons().max(1) as f64;
    let cost: f64 = desc.populations.iter().map(|p| p.size as f64 * p.model.step_cost_ns()).sum::<f64>() / neurons;
    if cost >= HEAVY_STEP_NS {
        HEAVY_SHARDS_PER_THREAD
    } else {
        1
    }
}

/// Cuts `neurons` into at most `threads` × `per_thread` aligned pieces of at least
/// `min_shard_neurons`.
fn shard_ranges(neurons: Range<u64>, options: CpuOptions, per_thread: usize) -> Vec<Range<u64>> {
    let n = neurons.end - neurons.start;
    let by_size = (n / options.min_shard_neurons.max(1) as u64).max(1);
    let count = by_size.min((options.threads.max(1) * per_thread.max(1)) as u64);
    let mut cuts: Vec<u64> = (0..=count).map(|k| neurons.start + n * k / count).collect();
    for cut in &mut cuts[1..count as usize] {
        *cut = (*cut / SHARD_ALIGN * SHARD_ALIGN).clamp(neurons.start, neurons.end);
    }
    cuts.windows(2).map(|w| w[0]..w[1]).filter(|r| !r.is_empty()).collect()
}

impl Shard {
    fn new(desc: &Description, neurons: Range<u64>, ring_slots: u32, defer_rings_above: usize) -> Result<Shard, InvalidBuild> {
        // The spike sources' trains (read already for all the rank's shards: nothing read).
        desc.load_trains(&neurons).map_err(|error| InvalidBuild { key: -1.0, error })?;
        let mut groups = Vec::new();
        for (index, pop) in desc.populations.iter().enumerate() {
            let lo = pop.first_gid.max(neurons.start);
            let hi = (pop.first_gid + pop.size).min(neurons.end);
            if lo < hi {
                let state = pop
                    .model
                    .build_at(lo - pop.first_gid, (lo..hi).map(|g| desc.neuron_uniform(g)))
                    .map_err(|e| invalid_value(desc, index, lo, e))?;
                let stimuli = stimulus::for_group(&desc.stimuli, index, pop.first_gid, lo, (hi - lo) as usize);
                groups.push(GroupSlot {
                    takes_synaptic_kinds: state.takes_synaptic_kinds(),
                    currents_apart: state.takes_currents_apart() && stimuli.iter().any(|s| s.is_current()),
                    state,
                    offset: (lo - neurons.start) as usize,
                    first_gid: lo,
                    population: index,
                    stimuli,
                });
            }
        }
        let n = (neurons.end - neurons.start) as usize;
        let largest_group = groups.iter().map(|g| g.state.len()).max().unwrap_or(0);
        let apart = groups.iter().any(|g| g.currents_apart);
        let kinds = desc.synapse_kinds();
        let synapses = LocalSynapses::build(desc, neurons.clone()).map_err(|e| match e {
            BuildError::Weight(w) => invalid_weight(desc, w),
            BuildError::Input(e) => InvalidBuild { key: -1.0, error: e },
            BuildError::Memory(m) => out_of_memory(m, &format!("the synapses onto neurons {}..{}", neurons.start, neurons.end)),
        })?;
        for block in &synapses.plastic {
            if let Some((_, w, expected)) = block.invalid_weight() {
                return Err(weight_outside_rule(desc, block.projection, w, &expected));
            }
        }
        let ring = |kind: usize| match synapses.deferred_entry(kind) {
            Some(entry) if DelayRing::array_bytes(n, ring_slots) > defer_rings_above => {
                DelayRing::try_deferring(n, ring_slots, DEFER_NEAR_STEPS, entry)
            }
            _ => DelayRing::try_new(n, ring_slots),
        };
        let rings = (0..kinds.len()).map(ring).collect::<Result<Vec<_>, _>>();
        let rings = rings.map_err(|m| out_of_memory(m, &format!("the delay rings of neurons {}..{}", neurons.start, neurons.end)))?;
        let neurons = neurons.clone();
        Ok(Shard {
            neurons,
            rings,
            in_flight: InFlight::new(ring_slots, desc.min_delay_steps(), desc.max_delay_steps()),
            exponential: kinds[1..].iter().map(|&kind| synapse::Exponential::new(kind, n, desc.dt_ms)).collect(),
            synapses,
            groups,
            currents: vec![0.0; if apart { largest_group } else { 0 }],
            normals: vec![0.0; largest_group],
            spikes: Vec::new(),
            non_finite: None,
            deliver_time: Duration::ZERO,
            update_time: Duration::ZERO,
            probes: Vec::new(),
        })
    }

    /// Builds its groups of population `p` again from `desc` (as `new` builds them), each
    /// taking on the state of the group it replaces.
    fn rebuild_population(&mut self, desc: &Description, p: usize) -> std::result::Result<(), String> {
        let pop = &desc.populations[p];
        for g in self.groups.iter_mut().filter(|g| g.population == p) {
            let first = g.first_gid;
            let uniforms = (first..first + g.state.len() as u64).map(|gid| desc.neuron_uniform(gid));
            let mut fresh =
                pop.model.build_at(first - pop.first_gid, uniforms).map_err(|e| invalid_value(desc, p, first, e).error.to_string())?;
            for (new, old) in fresh.checkpoint_arrays_mut().iter_mut().zip(g.state.checkpoint_arrays_mut()) {
                new.copy_from(&old);
            }
            g.takes_synaptic_kinds = fresh.takes_synaptic_kinds();
            g.currents_apart = fresh.takes_currents_apart() && g.stimuli.iter().any(|s| s.is_current());
            g.state = fresh;
        }
        let apart = self.groups.iter().filter(|g| g.currents_apart).map(|g| g.state.len()).max().unwrap_or(0);
        if self.currents.len() < apart {
            self.currents.resize(apart, 0.0);
        }
        Ok(())
    }

    /// Rebuilds its groups' stimuli from `desc` (as `new` builds them), with the scratch
    /// of currents kept apart where a group now needs it.
    fn set_stimuli(&mut self, desc: &Description) {
        for g in &mut self.groups {
            let pop = &desc.populations[g.population];
            g.stimuli = stimulus::for_group(&desc.stimuli, g.population, pop.first_gid, g.first_gid, g.state.len());
            g.currents_apart = g.state.takes_currents_apart() && g.stimuli.iter().any(|s| s.is_current());
        }
        let apart = self.groups.iter().filter(|g| g.currents_apart).map(|g| g.state.len()).max().unwrap_or(0);
        if self.currents.len() < apart {
            self.currents.resize(apart, 0.0);
        }
    }

    fn run_epoch(&mut self, arrivals: Option<&Arc<Vec<Spike>>>, first_step: u64, steps: u32, seed: u64, dt: f32) {
        // Clock readings cost ~25 ns each under a hypervisor, against ~3 µs for a shard's
        // step of the 2003 network: a step takes one or two, not one per received list.
        // Receiving the arrivals is counted as delivery, with the first step's.
        let t0 = Instant::now();
        if let Some(list) = arrivals {
            self.in_flight.receive_shared(Arc::clone(list));
        }
        self.spikes.clear();
        let mut delivering = Duration::ZERO;
        for step in first_step..first_step + steps as u64 {
            for probe in &mut self.probes {
                probe.sample(step, &self.groups, &self.exponential);
            }
            for ring in &mut self.rings {
                ring.begin_step(step);
            }
            let first_of_epoch = step == first_step;
            let plastic = !self.synapses.plastic.is_empty();
            let due = first_of_epoch || self.in_flight.due(step);
            // Delivery and plastic arrivals timed as one: two clock readings a step fewer.
            if due || plastic {
                let start = if first_of_epoch { t0 } else { Instant::now() };
                if due {
                    let (synapses, rings) = (&mut self.synapses, &mut self.rings);
                    self.in_flight.deliver_due(step, |spikes, due| synapses.deliver(spikes, due, rings));
                }
                if plastic {
                    self.arrive_plastic(step);
                }
                delivering += start.elapsed();
            }
            let spikes_before = self.spikes.len();
            let (direct, kind_rings) = self.rings.split_first_mut().expect("ring 0");
            // Exponential kinds: decay, then this step's arrivals.
            for (kind, ring) in self.exponential.iter_mut().zip(kind_rings.iter_mut()) {
                kind.advance(ring.slot_mut(step));
            }
            let input = direct.slot_mut(step);
            for g in &mut self.groups {
                let n = g.state.len();
                let range = g.offset..g.offset + n;
                let synaptic = Synaptic::new(&self.exponential, range.clone());
                let input = &mut input[range];
                // A model that does not take the kinds itself takes every kind as a
                // current, added before the stimuli (the order of the sum is part of
                // the result: the same as before synaptic kinds had a module).
                let synaptic = if g.takes_synaptic_kinds {
                    synaptic
                } else {
                    synapse::add_as_currents(input, &synaptic, g.state.voltages());
                    Synaptic::none()
                };
                // A model that filters arriving weights takes the stimuli's currents apart.
                let apart = g.currents_apart;
                let common = if apart {
                    let currents = &mut self.currents[..n];
                    currents.fill(0.0);
                    stimulus::apply(&g.stimuli, seed, step, currents, &mut self.normals[..n])
                } else {
                    stimulus::apply(&g.stimuli, seed, step, input, &mut self.normals[..n])
                };
                stimulus::apply_events(&g.stimuli, seed, step, input);
                let currents = if apart { Some(&self.currents[..n]) } else { None };
                let state = &mut g.state;
                if state.step(&StepInput { input, currents, common, synaptic: &synaptic, dt, step }) && self.non_finite.is_none() {
                    if let Some((i, variable, value)) = state.first_non_finite() {
                        self.non_finite = Some(NonFinite { gid: g.first_gid + i as u64, step, variable, value });
                    }
                }
                let (spikes, first) = (&mut self.spikes, g.first_gid);
                state.collect_spikes(|i| spikes.push(Spike { step: step as u32, gid: (first + i as u64) as u32 }));
            }
            if !self.synapses.plastic.is_empty() {
                let first = self.neurons.start;
                for block in &mut self.synapses.plastic {
                    block.post_spikes(self.spikes[spikes_before..].iter().map(|s| (s.gid as u64 - first) as u32), step);
                    block.end_step(step);
                }
            }
            // The slots were this step's inputs; cleared here, by the rings' owner, they
            // take the arrivals of a later step.
            for ring in &mut self.rings {
                ring.slot_mut(step).fill(0.0);
            }
        }
        self.deliver_time += delivering;
        self.update_time += t0.elapsed() - delivering;
    }

    /// The spikes in flight that arrive in step `step` reach the plastic synapses, which
    /// add their weights, as the rule leaves them, into the step's slots.
    fn arrive_plastic(&mut self, step: u64) {
        let LocalSynapses { plastic, events, .. } = &mut self.synapses;
        for block in plastic {
            let input = self.rings[block.kind].slot_mut(step);
            self.in_flight.arriving(step, |spikes| block.gather_arrivals(spikes, step));
            *events += block.take_arrivals(step, input);
        }
    }

    /// Bytes held, by the kinds of the memory estimate: state, synapses, buffers (delay
    /// rings, spikes in flight, the exponential kinds' state, scratch).
    fn memory_held(&self) -> MemoryEstimate {
        let state: usize = self.groups.iter().map(|g| g.state.bytes()).sum();
        let rings: usize = self.rings.iter().map(DelayRing::bytes).sum::<usize>() + self.in_flight.bytes();
        let kinds: usize = self.exponential.iter().map(synapse::Exponential::bytes).sum();
        let buffers = rings + kinds + (self.normals.len() + self.currents.len()) * 4;
        MemoryEstimate { state: state as u64, synapses: self.synapses.bytes() as u64, buffers: buffers as u64, largest_shard_projection: 0 }
    }
}

impl Backend for CpuBackend {
    fn add_probe(&mut self, probe: Probe) -> usize {
        let mut shards: Vec<_> = self.shards.shards().collect();
        for shard in &mut shards {
            let mine = ShardProbe::new(probe.clone(), &shard.groups);
            shard.probes.push(mine);
        }
        shards.first().map_or(0, |s| s.probes.len() - 1)
    }

    fn take_samples(&mut self, probe: usize, out: &mut Vec<f32>) {
        // Each shard holds its neurons' values step after step; the rank's row of a step
        // is the shards' values of that step in shard (id) order.
        if let Some(carried) = self.carried.samples.get_mut(probe) {
            out.append(carried);
        }
        let mut shards: Vec<_> = self.shards.shards().collect();
        let rows = shards.iter().map(|s| &s.probes[probe]).find(|p| !p.indices.is_empty()).map_or(0, |p| p.samples.len() / p.indices.len());
        for r in 0..rows {
            for shard in &shards {
                let p = &shard.probes[probe];
                let n = p.indices.len();
                out.extend_from_slice(&p.samples[r * n..(r + 1) * n]);
            }
        }
        for shard in &mut shards {
            shard.probes[probe].samples.clear();
        }
    }

    fn run_epoch(&mut self, arrivals: &[Spike], first_step: u64, steps: u32, spikes: &mut Vec<Spike>) {
        let (seed, dt) = (self.seed, self.dt);
        let list = self.share_arrivals(arrivals);
        self.shards.run(&|s: &mut Shard| s.run_epoch(list.as_ref(), first_step, steps, seed, dt));
        drop(list);
        self.release_arrived(first_step + steps as u64);
        let shards: Vec<_> = self.shards.shards().collect();
        crate::spike::merge_by_step(shards.iter().map(|s| s.spikes.as_slice()), spikes);
    }

    fn run_epochs_alone(&mut self, epochs: &[(u64, u32)], pending: &mut Vec<Spike>, spikes: &mut Vec<Spike>) {
        self.run_in_rounds(epochs, pending, spikes);
    }

    fn visit_state(&mut self, visit: &mut dyn FnMut(StatePiece<'_>) -> crate::error::Result<()>) -> crate::error::Result<()> {
        for mut shard in self.shards.shards() {
            let Shard { groups, exponential, .. } = &mut *shard;
            for g in groups.iter_mut() {
                let (population, first_gid, n, offset) = (g.population, g.first_gid, g.state.len(), g.offset);
                let arrays = g.state.checkpoint_arrays_mut();
                let model_arrays = arrays.len();
                for (array, values) in arrays.into_iter().enumerate() {
                    visit(StatePiece { population, first_gid, array, values })?;
                }
                let kind_arrays = exponential.iter_mut().flat_map(|kind| kind.arrays_mut());
                for (k, values) in kind_arrays.enumerate() {
                    let values = StateArrayMut::F32(&mut values[offset..offset + n]);
                    visit(StatePiece { population, first_gid, array: model_arrays + k, values })?;
                }
            }
        }
        Ok(())
    }

    fn restore_in_flight(&mut self, epochs: &[Vec<Spike>], from_step: u64) {
        let lists: Vec<Arc<Vec<Spike>>> = epochs.iter().map(|e| Arc::new(e.clone())).collect();
        for mut shard in self.shards.shards() {
            shard.in_flight.restore(&lists, from_step);
        }
        self.in_flight.extend(lists);
    }

    fn set_stimuli(&mut self, desc: &Description) -> std::result::Result<(), String> {
        for mut shard in self.shards.shards() {
            shard.set_stimuli(desc);
        }
        Ok(())
    }

    fn rebuild_population(&mut self, desc: &Description, population: usize) -> std::result::Result<(), String> {
        self.shards.shards().try_for_each(|mut shard| shard.rebuild_population(desc, population))
    }

    fn rebuild_synapses(&mut self, desc: &Description, step: u64) -> std::result::Result<(), String> {
        // A re-cut at the same boundaries: the shards built again from `desc`, the state
        // and the spikes in flight carried over.
        let ranges = self.shard_ranges();
        self.recut(desc, ranges, step).map_err(|e| e.error.to_string())
    }

    fn neurons(&self) -> Range<u64> {
        self.neurons.clone()
    }

    fn memory_bytes(&self) -> usize {
        self.memory_held().total() as usize
    }

    fn memory_held(&self) -> MemoryEstimate {
        let shards = self.shards.shards().map(|s| s.memory_held()).fold(MemoryEstimate::default(), |a, b| MemoryEstimate {
            state: a.state + b.state,
            synapses: a.synapses + b.synapses,
            buffers: a.buffers + b.buffers,
            largest_shard_projection: 0,
        });
        let lists = self.in_flight.iter().chain(&self.spare).map(|l| l.as_ref());
        let in_flight: usize = lists.map(|l| l.capacity() * std::mem::size_of::<Spike>()).sum::<usize>() + self.round_spikes.bytes();
        MemoryEstimate { buffers: shards.buffers + in_flight as u64, ..shards }
    }

    fn synapse_count(&self) -> u64 {
        self.shards.shards().map(|s| s.synapses.stored()).sum()
    }

    fn plastic_synapses(&self, projection: u32) -> Vec<crate::connectivity::PlasticSynapse> {
        // Shards hold ascending ranges of targets, so their lists follow one another.
        let mut out = Vec::new();
        for shard in self.shards.shards() {
            for block in shard.synapses.plastic.iter().filter(|b| b.projection == projection) {
                block.synapses_in_order(shard.neurons.start, &mut out);
            }
        }
        out
    }

    fn settle_plastic(&mut self, step: u64) {
        for mut shard in self.shards.shards() {
            shard.synapses.plastic.iter_mut().for_each(|b| b.settle(step));
        }
    }

    fn plastic_state(&self, projection: u32) -> crate::connectivity::PlasticState {
        let mut out = crate::connectivity::PlasticState::default();
        let mut first = None;
        for shard in self.shards.shards() {
            for block in shard.synapses.plastic.iter().filter(|b| b.projection == projection) {
                first.get_or_insert(shard.neurons.start + block.local_targets().start as u64);
                block.save_state(&mut out);
            }
        }
        out.first_target = first.unwrap_or(0);
        out
    }

    fn plastic_extent(&self, projection: u32) -> (u64, usize, usize) {
        let (mut first, mut synapses, mut targets) = (None, 0, 0);
        for shard in self.shards.shards() {
            for block in shard.synapses.plastic.iter().filter(|b| b.projection == projection) {
                first.get_or_insert(shard.neurons.start + block.local_targets().start as u64);
                synapses += block.synapses();
                targets += block.local_targets().len();
            }
        }
        (first.unwrap_or(0), synapses, targets)
    }

    fn set_plastic_state(&mut self, projection: u32, state: &crate::connectivity::PlasticState) -> Result<(), String> {
        let (mut synapse_at, mut target_at) = (0, 0);
        for mut shard in self.shards.shards() {
            let start = shard.neurons.start;
            for block in shard.synapses.plastic.iter_mut().filter(|b| b.projection == projection) {
                let targets = block.local_targets();
                if start + targets.start as u64 != state.first_target + target_at as u64
                    || target_at + targets.len() > state.targets()
                    || synapse_at + block.synapses() > state.synapses()
                {
                    return Err(format!("projection {projection}: the plastic state does not cover the synapses built here"));
                }
                block.load_state(state, synapse_at, target_at)?;
                synapse_at += block.synapses();
                target_at += targets.len();
            }
        }
        if synapse_at != state.synapses() || target_at != state.targets() {
            return Err(format!("projection {projection}: the plastic state holds other synapses than those built here"));
        }
        Ok(())
    }

    fn non_finite(&self) -> Option<NonFinite> {
        self.shards.shards().filter_map(|s| s.non_finite.clone()).min_by_key(|n| (n.step, n.gid))
    }

    fn needed_sources(&self, total: u64) -> Vec<u64> {
        let mut needed = vec![0u64; total.div_ceil(64) as usize];
        for shard in self.shards.shards() {
            shard.synapses.mark_sources(&mut needed);
        }
        needed
    }

    fn work_times(&self) -> WorkTimes {
        // Per thread: the shards' times over the threads that ran them.
        // Shards replaced by a re-cut count in the totals, not in the shards' times: those
        // say how evenly the present cut divides the work.
        let n = self.threads.min(self.shards.len()).max(1) as u32;
        let sum = |f: fn(&Shard) -> Duration| self.shards.shards().map(|s| f(&s)).sum::<Duration>() / n;
        let before = &self.carried.times;
        WorkTimes {
            update: before.update + sum(|s| s.update_time),
            deliver: before.deliver + sum(|s| s.deliver_time),
            lookup: before.lookup + sum(|s| s.synapses.lookup_time),
            shards: self.shards.shards().map(|s| s.update_time + s.deliver_time).collect(),
            deliver_busy: before.deliver_busy + self.shards.shards().map(|s| s.deliver_time).sum::<Duration>(),
            events: before.events + self.shards.shards().map(|s| s.synapses.events).sum::<u64>(),
        }
    }

    fn rebalance(&mut self, desc: &Description, step: u64, seconds: &[f64], cut_by: &CutBy) -> Result<bool, InvalidBuild> {
        self.rebalance_shards(desc, step, seconds, cut_by)
    }

    fn time_lookups(&mut self) {
        for mut shard in self.shards.shards() {
            shard.synapses.time_lookup = true;
        }
    }

    fn table_clamps(&self, populations: usize) -> Vec<u64> {
        let mut out = vec![0; populations];
        for (o, &c) in out.iter_mut().zip(&self.carried.clamps) {
            *o += c;
        }
        for shard in self.shards.shards() {
            for g in &shard.groups {
                out[g.population] += g.state.clamped();
            }
        }
        out
    }

    fn voltages(&self) -> Vec<f32> {
        self.shards.shards().flat_map(|s| s.groups.iter().flat_map(|g| g.state.voltages().to_vec()).collect::<Vec<_>>()).collect()
    }
}

pub use super::kind::MemoryEstimate;

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts, when dropped at its thread's exit, one thread of the build that has exited.
    struct ExitCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Drop for ExitCounter {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    thread_local! {
        static AT_EXIT: std::cell::RefCell<Option<ExitCounter>> = const { std::cell::RefCell::new(None) };
    }

    /// The build's thread pool has exited, not only been told to, when `build_in_pool`
    /// returns: every thread that ran the build has run its thread-local destructors
    /// (which a thread does on its way out, before a join returns).
    #[test]
    fn build_threads_have_exited_when_the_build_returns() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for _ in 0..20 {
            let (ran, exited) = (std::sync::Arc::new(AtomicUsize::new(0)), std::sync::Arc::new(AtomicUsize::new(0)));
            build_in_pool(3, || {
                (0..64).into_par_iter().for_each(|_| {
                    AT_EXIT.with(|slot| {
                        slot.borrow_mut().get_or_insert_with(|| {
                            ran.fetch_add(1, Ordering::SeqCst);
                            ExitCounter(exited.clone())
                        });
                    });
                    std::thread::sleep(Duration::from_micros(100));
                })
            })
            .unwrap();
            let ran = ran.load(Ordering::SeqCst);
            assert!(ran >= 1);
            assert_eq!(exited.load(Ordering::SeqCst), ran, "build threads that had not exited when the build returned");
        }
    }

    /// The planner's receive work is what the built stores do: a lookup per received
    /// spike in each shard keeping rows for the present sources only, and the chance of a
    /// row there; none where every source has a row.
    #[test]
    fn receive_work_counts_the_shards_that_look_spikes_up() {
        let text = "[simulation]\ndt = 1\nduration = 1\n[[population]]\nname = \"p\"\nsize = 20000\nmodel = \"izhikevich\"\n\
             [population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
             [[projection]]\nsource = \"p\"\ntarget = \"p\"\nconnection = { rule = \"fixed_indegree\", k = 5 }\nweight = \"u\"\n";
        let desc = crate::config::parse(text, "test.toml", &crate::config::Overrides::default()).unwrap();
        // One rank of ten on two threads: 5000 synapses per shard from 20,000 sources.
        let work = receive_work(&desc, 0..2000, 2);
        let backend = CpuBackend::new(&desc, 0..2000, CpuOptions { threads: 2, ..CpuOptions::default() });
        let present = backend
            .shards
            .shards()
            .filter(|s| {
                s.synapses
                    .blocks
                    .iter()
                    .any(|b| matches!(b.rows, crate::connectivity::Rows::Csr { present: crate::connectivity::RowIndex::Present(_), .. }))
            })
            .count();
        assert_eq!(present, 2);
        assert_eq!(work.len(), 1);
        assert_eq!(work[0].lookups, present as f64);
        // Each shard: 1 − e^(−5000/20000) of the sources have a row.
        let expected = 2.0 * -(-0.25f64).exp_m1();
        assert!((work[0].rows - expected).abs() < 1e-3, "{} rows per spike, expected {expected}", work[0].rows);
        // The whole network on one thread: a row for every source, nothing to look up.
        assert!(receive_work(&desc, 0..20000, 1).is_empty());
    }

    /// Projections from one population onto two, held by one shard, share a block: the
    /// planner counts one lookup per spike, and the store holds one block of rows.
    #[test]
    fn receive_work_counts_a_block_shared_by_projections_once() {
        let population = |name: &str| {
            format!("[[population]]\nname = \"{name}\"\nsize = 10000\nmodel = \"izhikevich\"\n[population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n")
        };
        let projection = |target: &str| {
            format!("[[projection]]\nsource = \"a\"\ntarget = \"{target}\"\nconnection = {{ rule = \"fixed_indegree\", k = 5 }}\nweight = \"u\"\n")
        };
        let text = ["[simulation]\ndt = 1\nduration = 1\n".to_string(), population("a"), population("b"), projection("a"), projection("b")]
            .concat();
        let desc = crate::config::parse(&text, "test.toml", &crate::config::Overrides::default()).unwrap();
        // One rank's share across the border of a and b, on one thread.
        let (neurons, threads) = (9000..11000, 1);
        let work = receive_work(&desc, neurons.clone(), threads);
        assert_eq!((work.len(), work[0].lookups), (1, 1.0));
        let backend = CpuBackend::new(&desc, neurons, CpuOptions { threads, ..CpuOptions::default() });
        let shard = backend.shards.shards().next().unwrap();
        let blocks: Vec<&Vec<u32>> = shard.synapses.blocks.iter().map(|b| &b.projections).collect();
        assert_eq!(blocks, vec![&vec![0, 1]]);
        assert!(matches!(
            shard.synapses.blocks[0].rows,
            crate::connectivity::Rows::Csr { present: crate::connectivity::RowIndex::Present(_), .. }
        ));
    }

    #[test]
    fn shards_cover_the_range_aligned() {
        let opts = CpuOptions { threads: 3, min_shard_neurons: 100, ..CpuOptions::default() };
        let r = shard_ranges(0..1000, opts, 1);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].start, 0);
        assert_eq!(r[2].end, 1000);
        assert!(r.windows(2).all(|w| w[0].end == w[1].start && w[0].end % SHARD_ALIGN == 0));
        assert_eq!(shard_ranges(0..1000, CpuOptions { threads: 8, min_shard_neurons: 4096, ..CpuOptions::default() }, 1), vec![0..1000]);
        assert_eq!(shard_ranges(0..100_000, CpuOptions { threads: 2, min_shard_neurons: 256, ..CpuOptions::default() }, 4).len(), 8);
    }
}
