//! Arrivals held back from a delay ring until their slot comes near.
//!
//! A ring of many slots over many targets (the microcircuit's: 90 slots × 38,585 floats,
//! 14 MB per shard) is past every private cache, and each synapse's add into it is a
//! random read-modify-write of a line last touched dozens of steps before: ~3 ns on
//! machine B, against ~1 ns for the same add into an L2-resident array. An arrival more
//! than `near` steps ahead is appended instead to its slot's list (a sequential store),
//! and the list is added into the slot when the slot comes within `near` steps: then the
//! slot is the only region written, and stays in L2 while it is.
//!
//! Order is kept: a slot takes first its deferred arrivals, in the order they were
//! delivered, then the arrivals delivered after it came near, which were delivered later;
//! every target sums its inputs in the order a ring without lists would.

/// Arrivals per chunk of a list: 32 KB, taken from and returned to a pool shared by
/// the ring's slots, so that memory follows the arrivals in flight, not each slot's peak.
const CHUNK: usize = 4096;

type Chunk = Vec<(u32, f32)>;

#[derive(Clone, Debug)]
pub(super) struct Deferred {
    near: u64,
    /// Every arrival before this step has been added into the ring; those from it on
    /// wait in `pending`.
    flushed_until: u64,
    /// Per slot, its chunks in the order they were filled.
    pending: Vec<Vec<Chunk>>,
    free: Vec<Chunk>,
}

impl Deferred {
    pub fn new(slots: usize, near: u32) -> Deferred {
        Deferred { near: near.max(1) as u64, flushed_until: 0, pending: vec![Vec::new(); slots], free: Vec::new() }
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
            if list.is_empty() {
                continue;
            }
            let s = (arrival % arrays) as usize;
            let slot = &mut data[s * neurons..(s + 1) * neurons];
            for mut chunk in list.drain(..) {
                for &(target, weight) in &chunk {
                    debug_assert!((target as usize) < slot.len());
                    // SAFETY: targets lie below the arrays' length (`push`).
                    unsafe { *slot.get_unchecked_mut(target as usize) += weight };
                }
                chunk.clear();
                self.free.push(chunk);
            }
        }
        self.flushed_until = self.flushed_until.max(end);
    }

    /// Appends the arrivals `(target, weight)` of slot `index`, targets below the ring's
    /// neuron count (`flush_before` adds them unchecked), as the stores' targets are,
    /// checked when they were built.
    #[inline]
    pub fn push(&mut self, index: usize, mut arrivals: impl ExactSizeIterator<Item = (u32, f32)>) {
        let list = &mut self.pending[index];
        loop {
            let room = list.last().map_or(0, |c| CHUNK - c.len());
            if arrivals.len() <= room {
                list.last_mut().expect("a chunk with room").extend(arrivals);
                return;
            }
            if room > 0 {
                list.last_mut().expect("a chunk with room").extend(arrivals.by_ref().take(room));
            }
            list.push(self.free.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK)));
        }
    }

    pub fn bytes(&self) -> usize {
        let chunks = self.free.len() + self.pending.iter().map(Vec::len).sum::<usize>();
        chunks * CHUNK * std::mem::size_of::<(u32, f32)>()
    }
}
