//! From received spikes to the rows they reach in a store: each step's spikes of a
//! projection's sources, and for each the row its source has here, if any. This is the
//! receive work that grows with the network (every spike of it, at a bit test each) and
//! not with the rank's share, so it is timed apart (`LocalSynapses::time_lookup`).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

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
/// Sixteen spikes at a time with AVX-512, four with AVX2, where the CPU has them: a spike
/// at a time, the lookup is bound by its forty-odd instructions, not by the index's
/// memory (BENCHMARKS.md).
pub(super) fn find_rows(run: &[Spike], first_source: u64, present: &RowIndex, due: DueRow, rows: &mut Vec<DueRow>) {
    #[cfg(target_arch = "x86_64")]
    if let RowIndex::Present(p) = present {
        let vector: VectorKernel = match vector_lookup() {
            Some(Vector::Avx512) => avx512::find_rows,
            Some(Vector::Avx2) => avx2::find_rows,
            None => return find_rows_scalar(run, first_source, present, due, rows),
        };
        let start = rows.len();
        rows.reserve(run.len());
        let room = rows.spare_capacity_mut().as_mut_ptr() as *mut DueRow;
        // SAFETY: the CPU has the instructions (`vector_lookup`), the run's sources are
        // the projection's (`runs_of_sources`), whose index `p` is, and `room` has a
        // place for each spike of the run (reserved above).
        let (done, kept) = unsafe { vector(run, first_source, p, due, room) };
        // SAFETY: the first `kept` places were written.
        unsafe { rows.set_len(start + kept) };
        return find_rows_scalar(&run[done..], first_source, present, due, rows);
    }
    find_rows_scalar(run, first_source, present, due, rows)
}

// The vector lookups read spikes as pairs of 32-bit words, the id second, and write due
// rows whole: 16 bytes, the row first, then the step and the due delays.
#[cfg(target_arch = "x86_64")]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<Spike>() == 8 && offset_of!(Spike, gid) == 4);
    assert!(size_of::<DueRow>() == 16 && offset_of!(DueRow, step) == 4 && offset_of!(DueRow, first) == 8 && offset_of!(DueRow, end) == 12);
};

/// A vector lookup: the rows of a leading part of a run (`avx512::find_rows`).
#[cfg(target_arch = "x86_64")]
type VectorKernel = unsafe fn(&[Spike], u64, &super::PresentSources, DueRow, *mut DueRow) -> (usize, usize);

/// The vector lookups.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Vector {
    Avx512,
    Avx2,
}

/// The widest vector lookup this CPU has that `VOLLEY_SIMD` allows (`simd::level`):
/// AVX-512's needs its popcount in lanes (VPOPCNTDQ) besides, and both count the rows
/// kept with POPCNT (every AVX2 CPU has it, but a virtual machine may hide it).
#[cfg(target_arch = "x86_64")]
fn vector_lookup() -> Option<Vector> {
    static VECTOR: std::sync::OnceLock<Option<Vector>> = std::sync::OnceLock::new();
    *VECTOR.get_or_init(|| {
        use std::arch::is_x86_feature_detected as has;
        match crate::simd::level() {
            _ if !has!("popcnt") => None,
            crate::simd::Level::Avx512 if has!("avx512vpopcntdq") => Some(Vector::Avx512),
            crate::simd::Level::Avx512 | crate::simd::Level::Avx2 => Some(Vector::Avx2),
            crate::simd::Level::Baseline => None,
        }
    })
}

/// `find_rows` a spike at a time, with the CPU's popcount instruction where it has one:
/// x86-64's baseline lacks it, and the instructions that stand in for it made the
/// 10⁸-neuron dry run's lookup 4.7 ns per received spike instead of 3.55 (BENCHMARKS.md).
fn find_rows_scalar(run: &[Spike], first_source: u64, present: &RowIndex, due: DueRow, rows: &mut Vec<DueRow>) {
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
/// In this order (`repr(C)`): the vector lookups write due rows whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(super) struct DueRow {
    pub row: u32,
    pub step: u32,
    pub first: u32,
    pub end: u32,
}

#[cfg(test)]
#[cfg(target_arch = "x86_64")]
mod tests {
    use super::*;
    use crate::connectivity::PresentSources;

    /// A xorshift stream: the marks and the spikes of a test, the same every run.
    fn stream(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// The vector lookups find the rows the scalar one finds, for every density of
    /// sources present, run lengths around their widths (4 and 16, with the rest left to
    /// the scalar loop), spikes far apart and crowded into one block, sources numbered
    /// from far up in the 32-bit ids, and rows appended after others.
    #[test]
    fn vector_lookups_find_the_rows_the_scalar_one_finds() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            panic!("this test needs AVX2 (every x86-64 CI machine of this project has it)");
        }
        let avx512 = std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vpopcntdq");
        eprintln!("vector lookups tested: avx2{}", if avx512 { ", avx512" } else { " (this CPU has no AVX-512 VPOPCNTDQ)" });
        let mut next = stream(7);
        for (sources, first_source) in [(1_000usize, 0u64), (50_000, 80_000_000), (3_000_000, u32::MAX as u64 + 1 - 3_000_000)] {
            for density in [0.0, 0.03, 0.39, 0.62, 1.0] {
                let mut present = PresentSources::new(sources).unwrap();
                (0..sources).filter(|_| (next() % 1000) as f64 / 1000.0 < density).for_each(|i| present.mark(i));
                present.count().unwrap();
                let index = RowIndex::Present(present);
                let RowIndex::Present(p) = &index else { unreachable!() };
                // Random runs, and two fixed ones: sixteen spikes in blocks 0 to 15 (the
                // AVX-512 kernel reads their counts with one load, up to the last
                // block's) and in blocks 0 to 16 (too far apart: it gathers them).
                let per_block = crate::connectivity::present::PER_BLOCK as u64;
                let fixed = |last: u64| (0..16).map(|k| (k * last / 15 * per_block + k) % sources as u64).collect::<Vec<u64>>();
                let random = [(0usize, 1usize), (1, 1), (3, 1), (4, 1), (15, 1), (16, 1), (17, 1), (33, 7), (100, 1), (1000, 3)].map(
                    |(len, spread)| {
                        let span = (sources / spread).max(1);
                        (0..len).map(|_| next() % span as u64).collect::<Vec<u64>>()
                    },
                );
                for mut ids in random.into_iter().chain([fixed(15), fixed(16)]) {
                    ids.sort_unstable();
                    let len = ids.len();
                    let run: Vec<Spike> = ids.iter().map(|&i| Spike { step: 9, gid: (first_source + i) as u32 }).collect();
                    let due = DueRow { row: 0, step: 9, first: 2, end: 5 };
                    let earlier = DueRow { row: 77, step: 1, first: 0, end: 1 };
                    let mut expected = vec![earlier];
                    find_rows_scalar(&run, first_source, &index, due, &mut expected);
                    let kernels: [(&str, VectorKernel, bool); 2] = [("avx2", avx2::find_rows, true), ("avx512", avx512::find_rows, avx512)];
                    for (name, kernel, _) in kernels.into_iter().filter(|k| k.2) {
                        let mut rows = vec![earlier];
                        rows.reserve(run.len());
                        let room = rows.spare_capacity_mut().as_mut_ptr() as *mut DueRow;
                        // SAFETY: the CPU has the instructions (checked above), the run's
                        // sources are the index's, and room was reserved for the run.
                        let (done, kept) = unsafe { kernel(&run, first_source, p, due, room) };
                        unsafe { rows.set_len(1 + kept) };
                        find_rows_scalar(&run[done..], first_source, &index, due, &mut rows);
                        assert_eq!(
                            rows, expected,
                            "{name}: {sources} sources from {first_source}, density {density}, {len} spikes {ids:?}"
                        );
                    }
                    // And through `find_rows`, whichever kernel it picks here.
                    let mut rows = vec![earlier];
                    find_rows(&run, first_source, &index, due, &mut rows);
                    assert_eq!(rows, expected, "find_rows: {sources} sources from {first_source}, density {density}, {len} spikes");
                }
            }
        }
    }
}
