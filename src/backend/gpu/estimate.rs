//! What the GPU backend allocates on the device for a rank, from the description alone
//! (before anything is drawn): for `volley check` and the planner, and to say which
//! array would exceed one storage binding.

use crate::backend::kind::MemoryEstimate;
use crate::network::{ConnectionRule, Description, Storage};
use std::ops::Range;

/// Device bytes of the GPU backend for the neurons `neurons` of `desc`, laid out as
/// `GpuBackend::build` allocates them: each population's state and parameters, stored
/// rows (a u32 offset per source, a u32 target and an i32 weight per synapse, a u16
/// delay per synapse where delays vary), procedural rows nothing; the delay rings, the
/// exponential kinds' state, the spike list and the arrivals. `largest_shard_projection`
/// is the most synapses one projection stores on the rank.
pub fn memory_estimate(desc: &Description, neurons: Range<u64>) -> MemoryEstimate {
    let n = neurons.end - neurons.start;
    let overlap = |a: &Range<u64>| a.end.min(neurons.end).saturating_sub(a.start.max(neurons.start));
    let state = desc.populations.iter().map(|p| overlap(&p.gids()) * p.model.bytes_per_neuron() as u64).sum();
    let mut synapses = 0u64;
    let mut largest = 0u64;
    for p in desc.projections.iter().filter(|p| p.storage != Storage::Procedural) {
        let targets = desc.populations[p.target].gids();
        let onto =
            (desc.projection_synapses(p) as f64 * overlap(&targets) as f64 / (targets.end - targets.start).max(1) as f64).ceil() as u64;
        if onto == 0 && !matches!(p.rule, ConnectionRule::AllToAll { .. }) {
            continue;
        }
        largest = largest.max(onto);
        let delays = if p.delay.count() > 1 { onto.div_ceil(2) * 4 } else { 0 };
        synapses += (desc.populations[p.source].size + 1) * 4 + onto * 8 + delays;
    }
    let kinds = desc.synapse_kinds().len() as u64;
    let spike_entries = (n * desc.epoch_steps() as u64).max(1024);
    let buffers =
        n * desc.ring_slots() as u64 * 4 * kinds + n * 4 * (kinds - 1) + 8 + spike_entries * 8 + 2 * desc.total_neurons().max(1024) * 4;
    MemoryEstimate { state, synapses, buffers, largest_shard_projection: largest }
}
