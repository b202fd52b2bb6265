//! What the CPU backend's shards will hold and look up, estimated from the description
//! before anything is built (the planner's and `volley check`'s figures).

use super::MemoryEstimate;
use super::{shard_ranges, shards_per_thread, CpuOptions};
use crate::connectivity::{expected_rows, store_blocks, BlockPlan, Layout};
use crate::network::Description;
use std::ops::Range;

/// What receiving a spike of a projection's sources costs the rank's shards, summed over
/// them: where a shard keeps rows for the present sources only, one lookup per block
/// (projections from the same sources may share one: `store_blocks`), and the chance
/// that the source has a row there (for the planner; rows for every source are an
/// index, counted with the synapses). `projection` is the first of a block's projections.
#[derive(Clone, Copy, Debug)]
pub struct ReceiveWork {
    pub projection: usize,
    pub lookups: f64,
    pub rows: f64,
}

pub fn receive_work(desc: &Description, neurons: Range<u64>, threads: usize) -> Vec<ReceiveWork> {
    let shards = shard_ranges(neurons, CpuOptions { threads, ..CpuOptions::default() }, shards_per_thread(desc));
    let mut work: Vec<ReceiveWork> = Vec::new();
    for_each_shard_block(desc, &shards, |block| {
        let Layout::Csr { present_only: true, .. } = block.layout else { return };
        let projection = block.members[0].0;
        let sources = block.source_size(desc).max(1);
        let rows = expected_rows(sources, block.expected_synapses(desc)) as f64 / sources as f64;
        match work.iter_mut().find(|w| w.projection == projection) {
            Some(w) => (w.lookups, w.rows) = (w.lookups + 1.0, w.rows + rows),
            None => work.push(ReceiveWork { projection, lookups: 1.0, rows }),
        }
    });
    work
}

/// Calls `f` with each block of the stores of the shards `shards`: how each shard will
/// hold the projections onto its neurons.
fn for_each_shard_block(desc: &Description, shards: &[Range<u64>], mut f: impl FnMut(&BlockPlan)) {
    for shard in shards {
        for block in store_blocks(desc, shard) {
            f(&block);
        }
    }
}

/// Bytes per stored synapse of a projection's layout (see `connectivity`): dense rows
/// keep 4 bytes per source × target pair, CSR 4 bytes of target plus 4 (exact) or 2
/// (compact) of weight, procedural nothing.
pub fn memory_estimate(desc: &Description, neurons: Range<u64>, threads: usize) -> MemoryEstimate {
    let n = neurons.end - neurons.start;
    let overlap = |a: &Range<u64>, b: &Range<u64>| a.end.min(b.end).saturating_sub(a.start.max(b.start));
    let shards = shard_ranges(neurons.clone(), CpuOptions { threads, ..CpuOptions::default() }, shards_per_thread(desc));
    // Per neuron, and per group (each shard holding neurons of a population builds its
    // own tables).
    let state = desc
        .populations
        .iter()
        .map(|p| {
            let groups = shards.iter().filter(|s| overlap(&p.gids(), s) > 0).count() as u64;
            overlap(&p.gids(), &neurons) * p.model.bytes_per_neuron() as u64 + groups * p.model.fixed_bytes() as u64
        })
        .sum();
    let mut synapses = 0u64;
    let mut largest_shard_projection = 0u64;
    // Each shard holding targets of p holds its share, laid out as its store will be.
    for_each_shard_block(desc, &shards, |block| {
        synapses += block.expected_bytes(desc);
        if matches!(block.layout, Layout::Csr { .. }) {
            largest_shard_projection = largest_shard_projection.max(block.expected_synapses(desc));
        }
    });
    // Plastic projections have blocks of their own (`PlasticBlock`).
    for shard in &shards {
        for p in desc.projections.iter().filter(|p| p.plasticity.is_some()) {
            let local = overlap(&desc.populations[p.target].gids(), shard);
            if local > 0 {
                let start = shard.start.max(desc.populations[p.target].first_gid);
                synapses += crate::connectivity::plastic_bytes(desc, p, &(start..start + local));
            }
        }
    }
    // Each shard's noise scratch: its largest group.
    let largest: u64 = shards.iter().map(|s| desc.populations.iter().map(|p| overlap(&p.gids(), s)).max().unwrap_or(0)).sum();
    let kinds = desc.synapse_kinds();
    // Rings of every kind; each stateful kind's arrays and their values at the step's start.
    let kind_arrays: u64 = kinds.iter().skip(1).map(|&k| crate::synapse::arrays_per_neuron(k) as u64).sum();
    let buffers = n * desc.ring_slots() as u64 * 4 * kinds.len() as u64 + n * 8 * kind_arrays + largest * 4;
    MemoryEstimate { state, synapses, buffers, largest_shard_projection }
}
