//! Arrivals held back from a delay ring until their slot comes near.
//!
//! A ring of many slots over many targets (the microcircuit's: 90 slots × 38,585 floats,
//! 14 MB per shard) is past every private cache, and each synapse's add into it is a
//! random read-modify-write of a line last touched dozens of steps before: ~3.4 ns on
//! machine B, against ~1.1 ns for the same add into an L2-resident array. An arrival more
//! than `near` steps ahead is appended instead to its slot's list (a sequential store),
//! and the list is added into the slot when the slot comes within `near` steps: then the
//! slot is the only region written, and stays in L2 while it is.
//!
//! Order is kept: a slot takes first its deferred arrivals, in the order they were
//! delivered, then the arrivals delivered after it came near, which were delivered later;
//! every target sums its inputs in the order a ring without lists would.
//!
//! The lists' stores are what the appends wait for, so an arrival takes 4 bytes where the
//! ring's every row holds 4-byte records (a 16-bit target and weight code, `Compact16`):
//! the record itself, with the codec of the run of records it belongs to kept once per
//! run. Elsewhere 8: the target and the weight.

use super::generate::WeightCodec;

/// Words (u32) per chunk of a list: 32 KB, taken from and returned to a pool shared by
/// the ring's slots, so that memory follows the arrivals in flight, not each slot's peak.
/// Even: an 8-byte arrival never straddles two chunks.
const CHUNK: usize = 8192;

type Chunk = Vec<u32>;

/// How a ring's lists hold an arrival.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Entry {
    /// Target, then the weight's bits: two words.
    Pair,
    /// A `Compact16` record (target in the low half, code in the high half): one word,
    /// decoded with the codec of its run.
    Coded,
}

#[derive(Clone, Debug, Default)]
struct List {
    chunks: Vec<Chunk>,
    /// Words in the list.
    len: usize,
    /// Coded lists: where each run of one codec starts (word index) and its codec.
    runs: Vec<(usize, WeightCodec)>,
}

#[derive(Clone, Debug)]
pub(super) struct Deferred {
    near: u64,
    entry: Entry,
    /// Every arrival before this step has been added into the ring; those from it on
    /// wait in `pending`.
    flushed_until: u64,
    /// Per slot, its list.
    pending: Vec<List>,
    free: Vec<Chunk>,
}

impl Deferred {
    pub fn new(slots: usize, near: u32, entry: Entry) -> Deferred {
        Deferred { near: near.max(1) as u64, entry, flushed_until: 0, pending: vec![List::default(); slots], free: Vec::new() }
    }

    pub fn entry(&self) -> Entry {
        self.entry
    }

    /// Arrivals before this step go straight into the ring.
    #[inline]
    pub fn near_end(&self) -> u64 {
        self.flushed_until
    }

    /// Before step `step`'s delivery: adds the lists of the arrivals now within `near`
    /// steps into their arrays: `data`, arrays of `neurons` floats, one per step modulo
    /// their count.
    pub fn flush_before(&mut self, step: u64, data: &mut [f32], neurons: usize) {
        let arrays = (data.len() / neurons.max(1)) as u64;
        let slots = self.pending.len() as u64;
        let end = step + self.near;
        // Arrivals lie within `slots` steps of the step delivered: older ones are all gone.
        let start = self.flushed_until.max(end.saturating_sub(slots));
        for arrival in start..end {
            let list = &mut self.pending[(arrival % slots) as usize];
            if list.len == 0 {
                continue;
            }
            let s = (arrival % arrays) as usize;
            let slot = &mut data[s * neurons..(s + 1) * neurons];
            match self.entry {
                Entry::Pair => {
                    for chunk in &list.chunks {
                        for pair in chunk.chunks_exact(2) {
                            add(slot, pair[0], f32::from_bits(pair[1]));
                        }
                    }
                }
                Entry::Coded => add_coded(slot, list),
            }
            for mut chunk in list.chunks.drain(..) {
                chunk.clear();
                self.free.push(chunk);
            }
            list.len = 0;
            list.runs.clear();
        }
        self.flushed_until = self.flushed_until.max(end);
    }

    /// Appends the arrivals `(target, weight)` of slot `index` (`Entry::Pair`), targets
    /// below the ring's neuron count (`flush_before` adds them unchecked), as the stores'
    /// targets are, checked when they were built.
    #[inline]
    pub fn push(&mut self, index: usize, arrivals: impl ExactSizeIterator<Item = (u32, f32)>) {
        debug_assert_eq!(self.entry, Entry::Pair);
        let n = 2 * arrivals.len();
        let words = arrivals.flat_map(|(t, w)| [t, w.to_bits()]);
        Self::extend(&mut self.pending[index], &mut self.free, words, n);
    }

    /// Appends `Compact16` records of slot `index` as words, decoded with `codec`
    /// (`Entry::Coded`).
    #[inline]
    pub fn push_coded(&mut self, index: usize, codec: WeightCodec, records: impl ExactSizeIterator<Item = u32>) {
        debug_assert_eq!(self.entry, Entry::Coded);
        let list = &mut self.pending[index];
        if list.runs.last().is_none_or(|&(_, c)| c != codec) {
            list.runs.push((list.len, codec));
        }
        let n = records.len();
        Self::extend(list, &mut self.free, records, n);
    }

    #[inline]
    fn extend(list: &mut List, free: &mut Vec<Chunk>, mut words: impl Iterator<Item = u32>, n: usize) {
        list.len += n;
        let mut left = n;
        loop {
            let room = list.chunks.last().map_or(0, |c| CHUNK - c.len());
            if left <= room {
                list.chunks.last_mut().expect("a chunk with room").extend(words);
                return;
            }
            if room > 0 {
                list.chunks.last_mut().expect("a chunk with room").extend(words.by_ref().take(room));
                left -= room;
            }
            list.chunks.push(free.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK)));
        }
    }

    pub fn bytes(&self) -> usize {
        let chunks = self.free.len() + self.pending.iter().map(|l| l.chunks.len()).sum::<usize>();
        chunks * CHUNK * 4
    }
}

#[inline(always)]
fn add(slot: &mut [f32], target: u32, weight: f32) {
    debug_assert!((target as usize) < slot.len());
    // SAFETY: targets lie below the arrays' length (`push`, `push_coded`).
    unsafe { *slot.get_unchecked_mut(target as usize) += weight };
}

/// Adds a coded list into `slot`, each run of words with its codec: a loop per run (or
/// per chunk within it), with no test for a run's end at each word.
fn add_coded(slot: &mut [f32], list: &List) {
    let runs = &list.runs;
    let (mut at, mut run) = (0usize, 0usize);
    for chunk in &list.chunks {
        let mut words = &chunk[..];
        while !words.is_empty() {
            while run + 1 < runs.len() && runs[run + 1].0 <= at {
                run += 1;
            }
            let codec = runs[run].1;
            let end = runs.get(run + 1).map_or(usize::MAX, |next| next.0);
            let (these, rest) = words.split_at((end - at).min(words.len()));
            for &word in these {
                add(slot, word & 0xffff, codec.decode((word >> 16) as u16));
            }
            at += these.len();
            words = rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A coded list of runs of three codecs, runs and appends crossing the chunks'
    /// boundaries (a run of one word among them), adds into its slot what adding each
    /// arrival in order would: the same bits for every target.
    #[test]
    fn coded_lists_add_each_run_with_its_codec_across_chunks() {
        let codecs = [WeightCodec::new((0.0, 175.6)), WeightCodec::new((-702.5, 0.0)), WeightCodec::new((0.0, 351.2))];
        let neurons = 1000usize;
        let mut deferred = Deferred::new(4, 1, Entry::Coded);
        let mut expected = vec![0f32; neurons];
        let (mut x, mut k) = (12345u32, 0usize);
        for len in [5000usize, 1, 4000, 7191, 1, 2, 9000, 300] {
            let codec = codecs[k % 3];
            k += 1;
            let words: Vec<u32> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    ((x >> 8) % neurons as u32) | (x & 0xffff_0000)
                })
                .collect();
            for &w in &words {
                expected[(w & 0xffff) as usize] += codec.decode((w >> 16) as u16);
            }
            deferred.push_coded(2, codec, words.into_iter());
        }
        assert!(deferred.pending[2].chunks.len() > 2, "the list spans several chunks");
        let mut data = vec![0f32; neurons];
        deferred.flush_before(2, &mut data, neurons);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&data), bits(&expected));
    }
}
