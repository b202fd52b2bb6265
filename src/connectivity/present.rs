//! Which sources of a projection have rows in a store. Where most do (a small network,
//! or one rank of a few), every source has a row, empty or not, found by its place in
//! its population: one offset per source. Where few do (one rank of many: each holds
//! a thin share of the synapses from every source of a large network), an offset per
//! source of the whole network would outgrow the synapses themselves — 13 GB per rank
//! of a 10⁸-neuron network on 1024 ranks of 32 threads — so only present sources have
//! rows: a bit per source, and the count of present sources before each block, so that
//! a source's row is a bit test and one popcount (a rank/select bit vector, as
//! succinct indexes keep them). A block is one cache line — the count before it and
//! seven words, each 55 bits of sources and the count before the word in its top 9
//! bits — so a lookup reads one line, and one word of it beside the count: 385 sources
//! in 64 bytes (1.33 bits per source of the network; 1.41 with the counts again side by
//! side, `befores`), and an offset per present row.

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
            RowIndex::Present(p) => p.blocks.len() * std::mem::size_of::<Block>() + p.befores.len() * 4,
        }
    }

    /// Calls `f` with every source that has a row and that row, in order.
    pub fn for_each_row(&self, sources: usize, mut f: impl FnMut(usize, usize)) {
        match self {
            RowIndex::Every => (0..sources).for_each(|i| f(i, i)),
            RowIndex::Present(p) => {
                let mut row = 0;
                for (b, block) in p.blocks.iter().enumerate() {
                    for (w, &word) in block.words.iter().enumerate() {
                        let mut bits = word & SOURCE_BITS;
                        while bits != 0 {
                            f(b * PER_BLOCK + w * PER_WORD + bits.trailing_zeros() as usize, row);
                            row += 1;
                            bits &= bits - 1;
                        }
                    }
                }
            }
        }
    }
}

/// Sources per word: the word's top 9 bits count the sources present before it in its
/// block (at most 6 · 55 = 330).
pub(super) const PER_WORD: usize = 55;
/// The bits of a word that are sources.
pub(super) const SOURCE_BITS: u64 = (1 << PER_WORD) - 1;
/// Where a word's count begins.
pub(super) const COUNT_SHIFT: u32 = PER_WORD as u32;
/// Words per block: with the count before the block, one cache line.
const WORDS: usize = 7;
/// Sources per block.
pub(super) const PER_BLOCK: usize = WORDS * PER_WORD;

/// The present sources before a block, and its words: a row is the block's count, the
/// word's and one popcount — two loads from one line. (Vector lookups gather them:
/// two gathers per spike, where counts apart from the bits took three.)
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub(super) struct Block {
    pub(super) before: u32,
    _unused: u32,
    pub(super) words: [u64; WORDS],
}

/// Places past the last block's count in `befores`: a vector lookup reads sixteen
/// counts from any block's.
const BEFORES_PAST_END: usize = 16;

/// A bit per source in blocks of one cache line, each with the count of the sources
/// present before it.
#[derive(Clone, Debug)]
pub struct PresentSources {
    blocks: Vec<Block>,
    /// The count before each block again, side by side: sixteen blocks' counts in one
    /// line, for the vector lookup (`lookup::avx512`), which otherwise gathered them
    /// one per spike — the most costly of its gathers.
    befores: Vec<u32>,
}

impl PresentSources {
    /// No source present yet, of `sources`.
    pub fn new(sources: usize) -> Result<PresentSources, OutOfMemory> {
        Ok(PresentSources { blocks: try_huge_vec(sources.div_ceil(PER_BLOCK), Block::default())?, befores: Vec::new() })
    }

    pub fn mark(&mut self, i: usize) {
        let (block, at) = (i / PER_BLOCK, i % PER_BLOCK);
        self.blocks[block].words[at / PER_WORD] |= 1 << (at % PER_WORD);
    }

    /// Done marking: counts the rows before each block and word. Returns the number of
    /// rows (rows are numbered in 32 bits, as their offsets are).
    pub fn count(&mut self) -> Result<usize, OutOfMemory> {
        let mut sum = 0u64;
        for block in &mut self.blocks {
            block.before = u32::try_from(sum).expect("at most 2^32 rows");
            let mut within = 0u64;
            for word in &mut block.words {
                let bits = *word & SOURCE_BITS;
                *word = bits | within << COUNT_SHIFT;
                within += bits.count_ones() as u64;
            }
            sum += within;
        }
        self.befores = try_huge_vec(self.blocks.len() + BEFORES_PAST_END, u32::MAX)?;
        self.befores.iter_mut().zip(&self.blocks).for_each(|(c, b)| *c = b.before);
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
        let at = i % PER_BLOCK;
        let (w, bit) = (at / PER_WORD, at % PER_WORD);
        // SAFETY: at < PER_BLOCK = WORDS · PER_WORD, so w < WORDS.
        let word = unsafe { *block.words.get_unchecked(w) };
        // The bits below `bit` are sources only (bit < 55).
        let row = block.before as usize + (word >> COUNT_SHIFT) as usize + (word & ((1 << bit) - 1)).count_ones() as usize;
        (row, word >> bit & 1 != 0)
    }

    #[inline(always)]
    pub fn prefetch(&self, i: usize) {
        if let Some(block) = self.blocks.get(i / PER_BLOCK) {
            crate::simd::prefetch(block as *const Block);
        }
    }

    /// The blocks, for the vector lookup (`lookup::avx512`).
    pub(super) fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The count before each block, and sixteen more places (`befores`).
    pub(super) fn befores(&self) -> &[u32] {
        &self.befores
    }
}

/// The bytes of a present-sources index over `sources` sources (without the offsets):
/// its blocks and their counts again (`befores`).
pub fn index_bytes(sources: u64) -> u64 {
    let blocks = sources.div_ceil(PER_BLOCK as u64);
    blocks * std::mem::size_of::<Block>() as u64 + (blocks + BEFORES_PAST_END as u64) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_in_order_of_the_sources_present() {
        // Both sides of a word's last source (54) and of a block's (384).
        let marked = [0usize, 5, 53, 54, 55, 63, 64, 65, 200, 383, 384, 385, 386, 770, 999];
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
