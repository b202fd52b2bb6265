//! How the synapses of one projection onto a store's targets are held, decided in one
//! place for the store (`LocalSynapses::build`) and for the memory estimate of the CPU
//! backend, so that the two cannot disagree.

use super::present::index_bytes;
use super::{Compact, Compact16, DelayIndex, Exact};
use crate::network::{ConnectionRule, Description, Projection, Storage};
use std::ops::Range;

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

    /// Bytes the layout takes for the synapses expected onto `local` (`expected_synapses`):
    /// the weights of a dense matrix; the records of rows, with a u32 offset per
    /// (row, delay), or per row and a u16 delay per synapse, and the index of present
    /// sources where only they have rows.
    pub fn expected_bytes(&self, desc: &Description, p: &Projection, local: &Range<u64>) -> u64 {
        let sources = desc.populations[p.source].size;
        let synapses = expected_synapses(desc, p, local);
        let Layout::Csr { record, delays_per_synapse, present_only } = *self else {
            return if *self == Layout::Dense { sources * (local.end - local.start) * 4 } else { 0 };
        };
        let (rows, index) = if present_only { (expected_rows(sources, synapses), index_bytes(sources)) } else { (sources, 0) };
        let offsets = if delays_per_synapse { (rows + 1) * 4 + synapses * 2 } else { (rows * p.delay.count() as u64 + 1) * 4 };
        synapses * record.bytes() + offsets + index
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
    let sources = desc.populations[p.source].size;
    let rows = expected_rows(sources, expected_synapses(desc, p, local));
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
