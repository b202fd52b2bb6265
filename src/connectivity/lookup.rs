//! From received spikes to the rows they reach in a store: each step's spikes of a
//! projection's sources, and for each the row its source has here, if any. This is the
//! receive work that grows with the network (every spike of it, at a bit test each) and
//! not with the rank's share, so it is timed apart (`LocalSynapses::time_lookup`).

use super::RowIndex;
use crate::spike::Spike;
use std::ops::Range;

/// The spikes of `spikes` (sorted by step, then id) from the sources `sources`, in that
/// order: each step's run cut to the sources by two binary searches, instead of a test of
/// every spike of the network for every projection.
pub(super) fn of_sources<'a>(spikes: &'a [Spike], sources: &Range<u64>) -> impl Iterator<Item = &'a Spike> + Clone {
    runs_of_sources(spikes, sources).flatten()
}

/// `of_sources` step by step: each step's spikes from `sources`, a run sorted by id
/// (none empty).
pub(super) fn runs_of_sources<'a>(spikes: &'a [Spike], sources: &Range<u64>) -> impl Iterator<Item = &'a [Spike]> + Clone {
    let (lo, hi) = (sources.start, sources.end);
    let mut rest = spikes;
    std::iter::from_fn(move || {
        let step = rest.first()?.step;
        let end = rest.partition_point(|s| s.step <= step);
        let (run, after) = rest.split_at(end);
        rest = after;
        let from = run.partition_point(|s| (s.gid as u64) < lo);
        let to = run.partition_point(|s| (s.gid as u64) < hi);
        Some(&run[from..to])
    })
    .filter(|run| !run.is_empty())
}

/// How many spikes ahead the lookup asks for the index line of a spike: enough to cover
/// a miss to DRAM (~100 ns) at a few ns per spike. Alone on a core the hardware's stream
/// prefetch would do, but beside the other threads' delivery it falls behind: without
/// this, the 10⁸-neuron dry run's lookup took 5.6 ns per spike instead of 4.6 (16 or
/// 64 spikes ahead are no different).
const LOOKUP_AHEAD: usize = 32;

/// Appends to `rows` the row of each spike of `run` (one step's, ids ascending, from
/// sources numbered from `first_source`) that has one here, as `due` with its row.
/// With the CPU's popcount instruction where it has one: x86-64's baseline lacks it, and
/// the instructions that stand in for it made the 10⁸-neuron dry run's lookup 4.7 ns per
/// received spike instead of 3.55 (BENCHMARKS.md).
pub(super) fn find_rows(run: &[Spike], first_source: u64, present: &RowIndex, due: DueRow, rows: &mut Vec<DueRow>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        #[target_feature(enable = "popcnt")]
        unsafe fn with_popcnt(run: &[Spike], first_source: u64, present: &RowIndex, due: DueRow, rows: &mut Vec<DueRow>) {
            find_rows_kernel(run, first_source, present, due, rows)
        }
        // SAFETY: the CPU has the instruction (checked at run time).
        return unsafe { with_popcnt(run, first_source, present, due, rows) };
    }
    find_rows_kernel(run, first_source, present, due, rows)
}

#[inline(always)]
fn find_rows_kernel(run: &[Spike], first_source: u64, present: &RowIndex, due: DueRow, rows: &mut Vec<DueRow>) {
    let source = |s: &Spike| (s.gid as u64 - first_source) as usize;
    // Every spike writes its row in the next place, which only a source with synapses
    // here keeps: one bit test, and no branch on it.
    let start = rows.len();
    rows.reserve(run.len());
    let room = &mut rows.spare_capacity_mut()[..run.len()];
    let mut kept = 0;
    for (k, s) in run.iter().enumerate() {
        // Ids ascend, so the index is read in order; its line is asked for a few spikes
        // ahead, not waited for.
        if let Some(later) = run.get(k + LOOKUP_AHEAD) {
            present.prefetch(source(later));
        }
        let (row, has) = present.row_if_present(source(s));
        room[kept].write(DueRow { row: row as u32, ..due });
        kept += has as usize;
    }
    // SAFETY: the first `kept` places of the spare room were written above.
    unsafe { rows.set_len(start + kept) };
}

/// A spike's CSR row and the delay groups of it that are due: `first..end`, indices from
/// the block's first delay.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DueRow {
    pub row: u32,
    pub step: u32,
    pub first: u32,
    pub end: u32,
}
