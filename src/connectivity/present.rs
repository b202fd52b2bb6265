//! Which sources of a projection have rows in a store. Where most do (a small network,
//! or one rank of a few), every source has a row, empty or not, found by its place in
//! its population: one offset per source. Where few do (one rank of many: each holds
//! a thin share of the synapses from every source of a large network), an offset per
//! source of the whole network would outgrow the synapses themselves — 13 GB per rank
//! of a 10⁸-neuron network on 1024 ranks of 32 threads — so only present sources have
//! rows: a bit per source, and the count of present sources before each block, so that
//! a source's row is a bit test and one popcount (a rank/select bit vector, as
//! succinct indexes keep them). A block is one cache line — the counts and the bits of
//! 384 sources — so a lookup reads one line, not a word of bits and a count apart:
//! 1.33 bits per source of the network, and an offset per present row.

use crate::memory::{try_huge_vec, OutOfMemory};

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

    /// `PresentSources::row_if_present`, where every source has a row.
    #[inline(always)]
    pub fn row_if_present(&self, i: usize) -> (usize, bool) {
        match self {
            RowIndex::Every => (i, true),
            RowIndex::Present(p) => p.row_if_present(i),
        }
    }

    /// Asks for the line that `row(i)` will read, ahead of time.
    #[inline(always)]
    pub fn prefetch(&self, i: usize) {
        if let RowIndex::Present(p) = self {
            p.prefetch(i);
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            RowIndex::Every => 0,
            RowIndex::Present(p) => p.blocks.len() * std::mem::size_of::<Block>(),
        }
    }

    /// Calls `f` with every source that has a row and that row, in order.
    pub fn for_each_row(&self, sources: usize, mut f: impl FnMut(usize, usize)) {
        match self {
            RowIndex::Every => (0..sources).for_each(|i| f(i, i)),
            RowIndex::Present(p) => {
                let mut row = 0;
                for (b, block) in p.blocks.iter().enumerate() {
                    for (w, &word) in block.bits.iter().enumerate() {
                        let mut bits = word;
                        while bits != 0 {
                            f(b * PER_BLOCK + w * 64 + bits.trailing_zeros() as usize, row);
                            row += 1;
                            bits &= bits - 1;
                        }
                    }
                }
            }
        }
    }
}

/// Sources per block: six words of bits beside the counts, one cache line.
const PER_BLOCK: usize = 6 * 64;

/// The present sources before a block, before each of its words within it, and a bit
/// for each of its 384 sources: a row is the two counts and one popcount.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Block {
    before: u32,
    within: [u16; 6],
    bits: [u64; 6],
}

/// A bit per source in blocks of one cache line, each with the count of the sources
/// present before it.
#[derive(Clone, Debug)]
pub struct PresentSources {
    blocks: Vec<Block>,
}

impl PresentSources {
    /// No source present yet, of `sources`.
    pub fn new(sources: usize) -> Result<PresentSources, OutOfMemory> {
        Ok(PresentSources { blocks: try_huge_vec(sources.div_ceil(PER_BLOCK), Block::default())? })
    }

    pub fn mark(&mut self, i: usize) {
        let (block, bit) = (i / PER_BLOCK, i % PER_BLOCK);
        self.blocks[block].bits[bit / 64] |= 1 << (bit % 64);
    }

    /// Done marking: counts the rows before each block and word. Returns the number of
    /// rows (rows are numbered in 32 bits, as their offsets are).
    pub fn count(&mut self) -> Result<usize, OutOfMemory> {
        let mut sum = 0u64;
        for block in &mut self.blocks {
            block.before = u32::try_from(sum).expect("at most 2^32 rows");
            let mut within = 0u16;
            for (w, &word) in block.bits.iter().enumerate() {
                block.within[w] = within;
                within += word.count_ones() as u16;
            }
            sum += within as u64;
        }
        Ok(sum as usize)
    }

    #[inline(always)]
    pub fn row(&self, i: usize) -> Option<usize> {
        let (row, present) = self.row_if_present(i);
        present.then_some(row)
    }

    /// The row source `i` has or, if it has none, would have; and whether it has one.
    /// Without a branch on the bits: a lookup of sources present at random costs no
    /// mispredictions.
    #[inline(always)]
    pub fn row_if_present(&self, i: usize) -> (usize, bool) {
        let block = &self.blocks[i / PER_BLOCK];
        let bit = i % PER_BLOCK;
        let (word, below) = (bit / 64, 1u64 << (bit % 64));
        let bits = block.bits[word];
        let row = block.before as usize + block.within[word] as usize + (bits & (below - 1)).count_ones() as usize;
        (row, bits & below != 0)
    }

    #[inline(always)]
    pub fn prefetch(&self, i: usize) {
        if let Some(block) = self.blocks.get(i / PER_BLOCK) {
            crate::simd::prefetch(block as *const Block);
        }
    }
}

/// The bytes of a present-sources index over `sources` sources (without the offsets).
pub fn index_bytes(sources: u64) -> u64 {
    sources.div_ceil(PER_BLOCK as u64) * std::mem::size_of::<Block>() as u64
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
