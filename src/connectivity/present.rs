//! Which sources of a projection have rows in a store. Where most do (a small network,
//! or one rank of a few), every source has a row, empty or not, found by its place in
//! its population: one offset per source. Where few do (one rank of many: each holds
//! a thin share of the synapses from every source of a large network), an offset per
//! source of the whole network would outgrow the synapses themselves — 13 GB per rank
//! of a 10⁸-neuron network on 1024 ranks of 32 threads — so only present sources have
//! rows: a bit per source, and the count of present sources before each 64, so that a
//! source's row is a bit test and one popcount (a rank/select bit vector, as succinct
//! indexes keep them). 1.5 bits per source of the network, and an offset per present
//! row.

use crate::memory::{try_vec, OutOfMemory};

/// How a store finds the row of a source (its index in its population).
#[derive(Clone, Debug)]
pub enum RowIndex {
    /// Every source has a row: its index.
    Every,
    /// Only the sources marked have rows, numbered in order.
    Present(PresentSources),
}

impl RowIndex {
    /// The row of source `i`, if it has one.
    #[inline(always)]
    pub fn row(&self, i: usize) -> Option<usize> {
        match self {
            RowIndex::Every => Some(i),
            RowIndex::Present(p) => p.row(i),
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            RowIndex::Every => 0,
            RowIndex::Present(p) => (p.bits.len() + p.before.len() / 2) * 8,
        }
    }

    /// Calls `f` with every source that has a row and that row, in order.
    pub fn for_each_row(&self, sources: usize, mut f: impl FnMut(usize, usize)) {
        match self {
            RowIndex::Every => (0..sources).for_each(|i| f(i, i)),
            RowIndex::Present(p) => {
                let mut row = 0;
                for (w, &word) in p.bits.iter().enumerate() {
                    let mut bits = word;
                    while bits != 0 {
                        f(w * 64 + bits.trailing_zeros() as usize, row);
                        row += 1;
                        bits &= bits - 1;
                    }
                }
            }
        }
    }
}

/// A bit per source and, per 64 sources, how many before them are set.
#[derive(Clone, Debug)]
pub struct PresentSources {
    bits: Vec<u64>,
    before: Vec<u32>,
}

impl PresentSources {
    /// No source present yet, of `sources`.
    pub fn new(sources: usize) -> Result<PresentSources, OutOfMemory> {
        Ok(PresentSources { bits: try_vec(sources.div_ceil(64), 0u64)?, before: Vec::new() })
    }

    pub fn mark(&mut self, i: usize) {
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// Done marking: counts the rows before each word. Returns the number of rows.
    pub fn count(&mut self) -> Result<usize, OutOfMemory> {
        let mut before = try_vec(self.bits.len(), 0u32)?;
        let mut sum = 0u32;
        for (b, &w) in before.iter_mut().zip(&self.bits) {
            *b = sum;
            sum += w.count_ones();
        }
        self.before = before;
        Ok(sum as usize)
    }

    #[inline(always)]
    pub fn row(&self, i: usize) -> Option<usize> {
        let word = self.bits[i / 64];
        let bit = 1u64 << (i % 64);
        (word & bit != 0).then(|| self.before[i / 64] as usize + (word & (bit - 1)).count_ones() as usize)
    }
}

/// The bytes of a present-sources index over `sources` sources (without the offsets).
pub fn index_bytes(sources: u64) -> u64 {
    sources.div_ceil(64) * 12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_in_order_of_the_sources_present() {
        let marked = [0usize, 5, 63, 64, 65, 200, 999];
        let mut p = PresentSources::new(1000).unwrap();
        marked.iter().for_each(|&i| p.mark(i));
        assert_eq!(p.count().unwrap(), marked.len());
        let index = RowIndex::Present(p);
        for i in 0..1000 {
            assert_eq!(index.row(i), marked.iter().position(|&m| m == i), "source {i}");
        }
        let mut seen = Vec::new();
        index.for_each_row(1000, |source, row| seen.push((source, row)));
        assert_eq!(seen, marked.iter().enumerate().map(|(row, &s)| (s, row)).collect::<Vec<_>>());
        assert_eq!(index.bytes() as u64, index_bytes(1000));
    }
}
