//! How the synapses of one projection onto a store's targets are held, and which
//! projections share one block of rows, decided in one place for the store
//! (`LocalSynapses::build`) and for the memory estimate and receive work of the CPU
//! backend, so that they cannot disagree.

use super::generate::weight_bounds;
use super::present::index_bytes;
use super::{Compact, Compact16, DelayIndex, Exact};
use crate::network::{ConnectionRule, Description, Projection, Storage};
use std::ops::Range;

/// One block of a store: one projection, or several CSR projections from the same
/// sources onto different target populations, held as one set of rows so that a
/// received spike is looked up once, not once per projection. A shard holding neurons
/// of several populations (the microcircuit's layers; the rank at the border of the
/// sparse example's excitatory and inhibitory neurons) otherwise kept a row index per
/// projection over the same sources and looked every spike up in each.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockPlan {
    /// (projection index, its targets in the store), in file order.
    pub members: Vec<(usize, Range<u64>)>,
    pub layout: Layout,
}

impl BlockPlan {
    /// Synapses expected in the block, over its members.
    pub fn expected_synapses(&self, desc: &Description) -> u64 {
        self.members.iter().map(|(j, local)| expected_synapses(desc, &desc.projections[*j], local)).sum()
    }

    /// The block's source population.
    pub fn source_size(&self, desc: &Description) -> u64 {
        desc.populations[desc.projections[self.members[0].0].source].size
    }

    /// Bytes the block takes for its expected synapses: the weights of a dense matrix;
    /// the records of rows, with a u32 offset per (row, delay), or per row and a u16
    /// delay per synapse, and the index of present sources where only they have rows.
    pub fn expected_bytes(&self, desc: &Description) -> u64 {
        let (first, local) = &self.members[0];
        let p = &desc.projections[*first];
        let sources = self.source_size(desc);
        let synapses = self.expected_synapses(desc);
        let Layout::Csr { record, delays_per_synapse, present_only } = self.layout else {
            return if self.layout == Layout::Dense { sources * (local.end - local.start) * 4 } else { 0 };
        };
        let (rows, index) = if present_only { (expected_rows(sources, synapses), index_bytes(sources)) } else { (sources, 0) };
        let offsets = if delays_per_synapse { (rows + 1) * 4 + synapses * 2 } else { (rows * p.delay.count() as u64 + 1) * 4 };
        synapses * record.bytes() + offsets + index
    }
}

/// The blocks of a store onto the targets `targets`, in delivery order. A projection
/// joins an earlier block where it has the same sources, synaptic kind, delays, storage
/// and record (and, stored compact, the same weight range, so one code serves the
/// block), and where every earlier projection onto its targets lies in a block before
/// that one: each target then still sums its inputs projection by projection in file
/// order, each in spike order, so the results are the same bits as one block per
/// projection, whatever the store's cut.
pub fn store_blocks(desc: &Description, targets: &Range<u64>) -> Vec<BlockPlan> {
    let mut blocks: Vec<BlockPlan> = Vec::new();
    // The block each projection placed so far went to.
    let mut placed: Vec<(usize, usize)> = Vec::new();
    for (j, p) in desc.projections.iter().enumerate() {
        let pop = desc.populations[p.target].gids();
        let local = pop.start.max(targets.start)..pop.end.min(targets.end);
        // Plastic projections have blocks of their own (`PlasticBlock`).
        if local.is_empty() || p.plasticity.is_some() {
            continue;
        }
        let own = Layout::of(desc, p, &local, targets.start);
        let after = placed.iter().filter(|&&(i, _)| desc.projections[i].target == p.target).map(|&(_, b)| b + 1).max().unwrap_or(0);
        let joined = (after..blocks.len()).find_map(|b| {
            let mut members = blocks[b].members.clone();
            members.push((j, local.clone()));
            let merged = Layout::of_members(desc, &members, targets.start);
            let fits = merged.is_csr()
                && shares_rows(&desc.projections[members[0].0], p)
                && merged.record() == own.record()
                && merged.record() == blocks[b].layout.record();
            fits.then_some((b, members, merged))
        });
        match joined {
            Some((b, members, layout)) => {
                blocks[b] = BlockPlan { members, layout };
                placed.push((j, b));
            }
            None => {
                // Right after the last block onto its targets, not at the end: the later
                // projections onto these targets may then still join the blocks behind it
                // (one projection of another weight range otherwise pushed every later
                // one onto its targets into blocks of their own: the microcircuit's first
                // shard held 12 blocks for 7 sources).
                for (_, b) in placed.iter_mut().filter(|(_, b)| *b >= after) {
                    *b += 1;
                }
                placed.push((j, after));
                blocks.insert(after, BlockPlan { members: vec![(j, local)], layout: own });
            }
        }
    }
    blocks
}

/// Whether the synapses of `p` can lie in the rows of `q`'s block: the same sources,
/// synaptic kind (ring), delays and storage, and, stored compact, the same weight range.
fn shares_rows(q: &Projection, p: &Projection) -> bool {
    q.source == p.source
        && q.synapse == p.synapse
        && (q.delay.min_steps, q.delay.max_steps) == (p.delay.min_steps, p.delay.max_steps)
        && q.storage == p.storage
        && (p.storage != Storage::Compact || weight_bounds(&q.weight) == weight_bounds(&p.weight))
}

/// The layout of a projection's synapses onto the targets `local` of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Rows drawn again for every spike: nothing stored.
    Procedural,
    /// An exact all-to-all projection with one delay: a matrix of weights, one per
    /// (source, target).
    Dense,
    /// Rows of records by source, their delays indexed per (row, delay) or per synapse
    /// (`DelayIndex`); a row for every source, or only for the sources present
    /// (`RowIndex`).
    Csr { record: RecordKind, delays_per_synapse: bool, present_only: bool },
}

/// The record of one stored synapse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// `Exact`: u32 target, f32 weight.
    Exact,
    /// `Compact`: u32 target, 16-bit weight code.
    Compact,
    /// `Compact16`: u16 target, 16-bit weight code, for stores of at most 65,536
    /// targets.
    Compact16,
}

impl RecordKind {
    /// The record of storage `storage` in a store whose targets reach `targets_reach`
    /// local indices.
    pub fn of(storage: Storage, targets_reach: u64) -> RecordKind {
        match storage {
            Storage::Compact if targets_reach <= 1 << 16 => RecordKind::Compact16,
            Storage::Compact => RecordKind::Compact,
            _ => RecordKind::Exact,
        }
    }

    pub fn bytes(self) -> u64 {
        (match self {
            RecordKind::Exact => std::mem::size_of::<Exact>(),
            RecordKind::Compact => std::mem::size_of::<Compact>(),
            RecordKind::Compact16 => std::mem::size_of::<Compact16>(),
        }) as u64
    }
}

impl Layout {
    /// How projection `p` is held onto `local`, the targets of a store whose first
    /// neuron is `store_start`.
    pub fn of(desc: &Description, p: &Projection, local: &Range<u64>, store_start: u64) -> Layout {
        match p.storage {
            Storage::Procedural => Layout::Procedural,
            Storage::Exact if matches!(p.rule, ConnectionRule::AllToAll { .. }) && p.delay.count() == 1 => Layout::Dense,
            storage => Layout::Csr {
                record: RecordKind::of(storage, local.end - store_start),
                delays_per_synapse: delays_per_synapse(desc, p, local),
                present_only: present_only(desc, p, local),
            },
        }
    }

    /// The CSR layout of the projections `members` (sharing sources, delays and
    /// storage) held as one block of a store whose first neuron is `store_start`: the
    /// record that reaches the furthest target, and the choices of `present_only` and
    /// `delays_per_synapse` made for their synapses together. One member: `Layout::of`.
    pub fn of_members(desc: &Description, members: &[(usize, Range<u64>)], store_start: u64) -> Layout {
        let (first, local) = &members[0];
        let p = &desc.projections[*first];
        if members.len() == 1 {
            return Layout::of(desc, p, local, store_start);
        }
        let reach = members.iter().map(|(_, l)| l.end).max().unwrap_or(store_start) - store_start;
        let synapses = members.iter().map(|(j, l)| expected_synapses(desc, &desc.projections[*j], l)).sum();
        let sources = desc.populations[p.source].size;
        let present_only = present_only_for(sources, synapses);
        let rows = if present_only { expected_rows(sources, synapses) } else { sources };
        Layout::Csr {
            record: RecordKind::of(p.storage, reach),
            delays_per_synapse: DelayIndex::per_synapse(rows, p.delay.count() as u64, synapses),
            present_only,
        }
    }

    fn is_csr(&self) -> bool {
        matches!(self, Layout::Csr { .. })
    }

    fn record(&self) -> Option<RecordKind> {
        match self {
            Layout::Csr { record, .. } => Some(*record),
            _ => None,
        }
    }
}

/// The sources expected to have at least one of `synapses` synapses drawn at random
/// from `sources`: each misses them all with probability (1 − 1/sources)^synapses.
pub fn expected_rows(sources: u64, synapses: u64) -> u64 {
    let s = sources.max(1) as f64;
    (s * -(-(synapses as f64) / s).exp_m1()).round().min(s) as u64
}

/// Whether the CSR rows of projection `p` onto `local` exist only for the sources with
/// synapses there (`RowIndex::Present`): where its bit index and an offset per present
/// source take under 90% of an offset per source.
pub fn present_only(desc: &Description, p: &Projection, local: &Range<u64>) -> bool {
    present_only_for(desc.populations[p.source].size, expected_synapses(desc, p, local))
}

/// `present_only` for `synapses` synapses from `sources` sources.
fn present_only_for(sources: u64, synapses: u64) -> bool {
    let rows = expected_rows(sources, synapses);
    (index_bytes(sources) + 4 * rows) * 10 < 4 * sources * 9
}

/// The synapses of projection `p` expected onto the targets `local`: its share of the
/// projection's expected count.
pub fn expected_synapses(desc: &Description, p: &Projection, local: &Range<u64>) -> u64 {
    let targets = desc.populations[p.target].size.max(1);
    (desc.projection_synapses(p) as f64 * (local.end - local.start) as f64 / targets as f64).round() as u64
}

/// Whether the CSR rows of projection `p` onto the targets `local` index delays per
/// synapse (`DelayIndex::PerSynapse`), from the expected number of synapses.
pub fn delays_per_synapse(desc: &Description, p: &Projection, local: &Range<u64>) -> bool {
    let (sources, synapses) = (desc.populations[p.source].size, expected_synapses(desc, p, local));
    let rows = if present_only(desc, p, local) { expected_rows(sources, synapses) } else { sources };
    DelayIndex::per_synapse(rows, p.delay.count() as u64, synapses)
}
