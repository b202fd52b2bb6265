//! Delay ring buffers (NEST's ring_buffer): one input array per future step, indexed by
//! step modulo the number of slots. A spike of step s with delay d adds into slot s + d;
//! the neuron update of step t reads slot t, and its owner clears it. A ring holds every
//! delay where delays are few steps; where they are many (small dt), fewer slots, and
//! `InFlight` delivers the synapses of each spike in windows, when due.
//!
//! A ring may hold its far arrivals in lists instead (`Deferred`): then only its
//! near slots are arrays, and the others are lists added into an array when they come
//! near.

use super::deferred::{Deferred, Entry};
use super::generate::WeightCodec;

#[derive(Clone, Debug)]
pub struct DelayRing {
    /// Steps of arrivals the ring holds (the window of `InFlight`).
    slots: usize,
    /// Slots held as arrays: `slots`, or, where far arrivals are deferred, the near ones.
    arrays: usize,
    neurons: usize,
    data: Vec<f32>,
    /// Arrivals held back until their slot comes near (`try_deferring`).
    deferred: Option<Deferred>,
}

impl DelayRing {
    /// A ring for `neurons` targets holding arrivals up to `slots` steps ahead of the
    /// step being read (the largest delay, where every spike is delivered at once).
    pub fn new(neurons: usize, slots: u32) -> DelayRing {
        Self::try_new(neurons, slots).unwrap_or_else(|e| panic!("cannot allocate a delay ring of {} bytes", e.bytes))
    }

    /// `new`, or the bytes that could not be had.
    pub fn try_new(neurons: usize, slots: u32) -> Result<DelayRing, crate::memory::OutOfMemory> {
        let slots = slots.max(1) as usize;
        Ok(DelayRing { slots, arrays: slots, neurons, data: crate::memory::try_vec(slots * neurons, 0.0)?, deferred: None })
    }

    /// A ring of `slots` steps whose arrivals more than `near` steps ahead of the step
    /// being delivered wait in lists (`Deferred`): arrays for the `near` slots only.
    /// `begin_step` must be called before each step's delivery, steps in order.
    pub fn try_deferring(neurons: usize, slots: u32, near: u32, entry: Entry) -> Result<DelayRing, crate::memory::OutOfMemory> {
        let slots = slots.max(1) as usize;
        let arrays = (near.max(1) as usize).min(slots);
        let data = crate::memory::try_vec(arrays * neurons, 0.0)?;
        Ok(DelayRing { slots, arrays, neurons, data, deferred: Some(Deferred::new(slots, arrays as u32, entry)) })
    }

    /// The bytes of a ring (arrays only: the lists follow the arrivals in flight).
    pub fn array_bytes(neurons: usize, slots: u32) -> usize {
        neurons * slots.max(1) as usize * 4
    }

    /// Before step `step`'s delivery: adds the deferred arrivals of the slots now near.
    pub fn begin_step(&mut self, step: u64) {
        if let Some(deferred) = &mut self.deferred {
            deferred.flush_before(step, &mut self.data, self.neurons);
        }
    }

    /// Arrivals before this step go into the arrays; later ones into lists (`defer`).
    #[inline]
    pub fn near_end(&self) -> u64 {
        self.deferred.as_ref().map_or(u64::MAX, Deferred::near_end)
    }

    /// How the lists hold an arrival; None where the ring defers none.
    #[inline]
    pub fn entry(&self) -> Option<Entry> {
        self.deferred.as_ref().map(Deferred::entry)
    }

    /// Defers `Compact16` records as words (`Record::word`) arriving at step `arrival`,
    /// at or past `near_end`, their weights coded with `codec`.
    #[inline]
    pub fn defer_coded(&mut self, arrival: u64, codec: WeightCodec, words: impl ExactSizeIterator<Item = u32>) {
        let index = self.list_index(arrival);
        self.deferred.as_mut().expect("a deferring ring").push_coded(index, codec, words);
    }

    /// Defers the arrivals `(target, weight)` at step `arrival`, at or past `near_end`.
    /// Targets must lie below the ring's neuron count.
    #[inline]
    pub fn defer(&mut self, arrival: u64, arrivals: impl ExactSizeIterator<Item = (u32, f32)>) {
        let index = self.list_index(arrival);
        self.deferred.as_mut().expect("a deferring ring").push(index, arrivals);
    }

    /// The list of step `arrival`: one per step of the ring's window.
    #[inline]
    fn list_index(&self, arrival: u64) -> usize {
        (arrival % self.slots as u64) as usize
    }

    #[inline]
    pub fn slot_mut(&mut self, step: u64) -> &mut [f32] {
        let s = self.slot_index(step);
        self.slot_at(s)
    }

    /// Which array holds step `step`: a 64-bit division, worth computing once per step
    /// rather than once per spike when rows are short.
    #[inline]
    pub fn slot_index(&self, step: u64) -> usize {
        (step % self.arrays as u64) as usize
    }

    /// The array `d` steps after array `index` (a division only where d reaches past a
    /// whole turn of the arrays: delays longer than the ring, delivered in windows).
    #[inline]
    pub fn later(&self, index: usize, d: usize) -> usize {
        let i = index + d;
        if i < self.arrays {
            i
        } else if i < 2 * self.arrays {
            i - self.arrays
        } else {
            i % self.arrays
        }
    }

    #[inline]
    pub fn slot_at(&mut self, index: usize) -> &mut [f32] {
        &mut self.data[index * self.neurons..(index + 1) * self.neurons]
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 4 + self.deferred.as_ref().map_or(0, Deferred::bytes)
    }
}
