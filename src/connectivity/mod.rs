//! The local synapse store: the synapses onto one contiguous range of target neurons,
//! built from the description and laid out by source so that a spike finds its row at
//! once. Synapses are generated per target from keyed streams (DESIGN.md §1), so the same
//! synapses come out whatever the split of targets into shards, threads or ranks.

use crate::engine::DelayRing;
use crate::network::{ConnectionRule, Description, Projection};
use crate::rng;
use rand_core::Rng;
use rayon::prelude::*;
use std::ops::Range;

/// The synapses of one projection onto a contiguous range of local targets.
#[derive(Clone, Debug)]
pub struct SynapseBlock {
    pub projection: u32,
    /// Global ids of the sources.
    pub sources: Range<u64>,
    /// Index of the first target among the store's local neurons.
    pub target_offset: usize,
    pub n_targets: usize,
    pub delay_steps: u32,
    /// Dense rows (GeNN's DENSE): `weights[row * n_targets + t]` is the weight from source
    /// `sources.start + row` onto local target `target_offset + t`, so that a spike adds
    /// one contiguous row, a loop the compiler vectorises. All-to-all rules use it; a
    /// left-out autapse is a zero weight.
    pub weights: Vec<f32>,
}

/// All synapses onto the local targets `targets` (global ids).
#[derive(Clone, Debug, Default)]
pub struct LocalSynapses {
    pub blocks: Vec<SynapseBlock>,
}

/// The per-synapse uniform draw `u` in [0, 1) from a connectivity stream (53 bits).
#[inline]
pub fn next_uniform(stream: &mut impl Rng) -> f64 {
    (stream.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// The weights of the synapses of projection `p` onto target `gid`, one per source in
/// source order (all-to-all): the column of net.m's S for that target.
pub fn all_to_all_column(desc: &Description, p: &Projection, gid: u64, out: &mut Vec<f64>) {
    let sources = desc.populations[p.source].gids();
    let mut stream = rng::connectivity_stream(desc.seed, p.id, gid);
    let draws: Vec<f64> = sources.clone().map(|_| next_uniform(&mut stream)).collect();
    p.weight.eval_batch(&draws, out);
    if let ConnectionRule::AllToAll { autapses: false } = p.rule {
        if sources.contains(&gid) {
            out[(gid - sources.start) as usize] = 0.0;
        }
    }
}

impl LocalSynapses {
    /// Builds the synapses onto `targets`, in parallel over target neurons.
    pub fn build(desc: &Description, targets: Range<u64>) -> LocalSynapses {
        let mut blocks = Vec::new();
        for p in &desc.projections {
            let pop = desc.populations[p.target].gids();
            let lo = pop.start.max(targets.start);
            let hi = pop.end.min(targets.end);
            if lo >= hi {
                continue;
            }
            let sources = desc.populations[p.source].gids();
            let (n_src, n_tgt) = ((sources.end - sources.start) as usize, (hi - lo) as usize);
            let mut weights = vec![0f32; n_src * n_tgt];
            match p.rule {
                ConnectionRule::AllToAll { .. } => {
                    // Columns are generated per target in parallel, then scattered into rows.
                    let columns: Vec<Vec<f32>> = (lo..hi)
                        .into_par_iter()
                        .map_init(Vec::new, |col, gid| {
                            all_to_all_column(desc, p, gid, col);
                            col.iter().map(|&w| w as f32).collect()
                        })
                        .collect();
                    for (t, column) in columns.iter().enumerate() {
                        for (row, &w) in column.iter().enumerate() {
                            weights[row * n_tgt + t] = w;
                        }
                    }
                }
            }
            blocks.push(SynapseBlock {
                projection: p.id,
                sources,
                target_offset: (lo - targets.start) as usize,
                n_targets: n_tgt,
                delay_steps: p.delay_steps,
                weights,
            });
        }
        LocalSynapses { blocks }
    }

    /// Bytes the stored synapses take.
    pub fn bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.weights.len() * 4).sum()
    }

    /// Adds the rows of source `gid`, which spiked in step `step`, into the inputs of
    /// their arrival steps. Rows are visited in projection order, so every target's sum
    /// is taken in the same order whatever the partition.
    #[inline]
    pub fn deliver(&self, gid: u64, step: u64, ring: &mut DelayRing) {
        for block in &self.blocks {
            if !block.sources.contains(&gid) {
                continue;
            }
            let row = (gid - block.sources.start) as usize;
            let weights = &block.weights[row * block.n_targets..(row + 1) * block.n_targets];
            let input = &mut ring.slot_mut(step + block.delay_steps as u64)
                [block.target_offset..block.target_offset + block.n_targets];
            for (x, w) in input.iter_mut().zip(weights) {
                *x += *w;
            }
        }
    }
}
