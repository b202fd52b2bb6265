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
/// this, the 10⁸-neuron dry run's lookup took 5.6 ns per spike instead of 4.6 (with
/// 16-byte due rows; 16 or 64 spikes ahead are no different).
const LOOKUP_AHEAD: usize = 32;

/// Appends to `rows` the row of each spike of `run` (one step's, ids ascending, from
/// sources numbered from `first_source`) that has one here, as `due` (its step and due
/// delays) with its row.
/// With the CPU's popcount instruction where it has one: x86-64's baseline lacks it, and
/// the instructions that stand in for it made the lookup 2× slower (BENCHMARKS.md).
pub(super) fn find_rows(run: &[Spike], first_source: u64, present: &RowIndex, due: DueRun, rows: &mut DueRows) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        #[target_feature(enable = "popcnt")]
        unsafe fn with_popcnt(run: &[Spike], first_source: u64, present: &RowIndex, due: DueRun, rows: &mut DueRows) {
            find_rows_kernel(run, first_source, present, due, rows)
        }
        // SAFETY: the CPU has the instruction (checked at run time).
        return unsafe { with_popcnt(run, first_source, present, due, rows) };
    }
    find_rows_kernel(run, first_source, present, due, rows)
}

#[inline(always)]
fn find_rows_kernel(run: &[Spike], first_source: u64, present: &RowIndex, due: DueRun, due_rows: &mut DueRows) {
    let source = |s: &Spike| (s.gid as u64 - first_source) as usize;
    // Every spike writes its row in the next place, which only a source with synapses
    // here keeps: one bit test, and no branch on it. Rows are 4 bytes; what the run's
    // spikes share (step, due delays) is written once (16 bytes a row made the lookup
    // half as slow again in a stand-alone copy of the loop: 3.4 against 2.2 ns).
    let rows = &mut due_rows.rows;
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
        room[kept].write(row as u32);
        kept += has as usize;
    }
    // SAFETY: the first `kept` places of the spare room were written above.
    unsafe { rows.set_len(start + kept) };
    if kept > 0 {
        due_rows.runs.push(DueRun { end: rows.len() as u32, ..due });
    }
}

/// The due rows of a block's spikes: each row, and per run of rows (one step's) the
/// step and the delays due.
#[derive(Clone, Debug, Default)]
pub(super) struct DueRows {
    rows: Vec<u32>,
    runs: Vec<DueRun>,
}

/// Rows up to `end` (an index into `DueRows::rows`, from the previous run's end) of one
/// step's spikes, with the delay groups due: `first..last`, indices from the block's
/// first delay.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DueRun {
    pub end: u32,
    pub step: u32,
    pub first: u32,
    pub last: u32,
}

impl DueRows {
    pub fn clear(&mut self) {
        self.rows.clear();
        self.runs.clear();
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn runs(&self) -> &[DueRun] {
        &self.runs
    }

    /// Row `j`, seen with the run `run` it belongs to.
    #[inline(always)]
    pub fn at(&self, j: usize, run: &DueRun) -> DueRow {
        DueRow { row: self.rows[j], step: run.step, first: run.first, end: run.last }
    }

    /// The run of row `j`, from the run `from` on (rows are walked forward).
    #[inline(always)]
    pub fn run_of(&self, j: usize, mut from: usize) -> usize {
        while self.runs[from].end as usize <= j {
            from += 1;
        }
        from
    }

    /// Every row, in order.
    pub fn iter(&self) -> impl Iterator<Item = DueRow> + '_ {
        let mut start = 0usize;
        self.runs.iter().flat_map(move |run| {
            let rows = start..run.end as usize;
            start = run.end as usize;
            rows.map(move |j| self.at(j, run))
        })
    }
}

/// A spike's CSR row and the delay groups of it that are due: `first..end`, indices from
/// the block's first delay (a view of `DueRows`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DueRow {
    pub row: u32,
    pub step: u32,
    pub first: u32,
    pub end: u32,
}
