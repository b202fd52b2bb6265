//! Delay ring buffers (NEST's ring_buffer): one input array per future step, indexed by
//! step modulo the number of slots. A spike of step s with delay d adds into slot s + d;
//! the neuron update of step t reads slot t, and its owner clears it. A ring holds every
//! delay where delays are few steps; where they are many (small dt), fewer slots, and
//! `InFlight` delivers the synapses of each spike in windows, when due.

#[derive(Clone, Debug)]
pub struct DelayRing {
    slots: usize,
    neurons: usize,
    data: Vec<f32>,
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
        Ok(DelayRing { slots, neurons, data: crate::memory::try_vec(slots * neurons, 0.0)? })
    }

    #[inline]
    pub fn slot_mut(&mut self, step: u64) -> &mut [f32] {
        let s = self.slot_index(step);
        self.slot_at(s)
    }

    /// Where step `step` lives: a 64-bit division, worth computing once per step rather
    /// than once per spike when rows are short.
    #[inline]
    pub fn slot_index(&self, step: u64) -> usize {
        (step % self.slots as u64) as usize
    }

    /// The slot `d` steps after slot `index` (a division only where d reaches past a
    /// whole turn of the ring: delays longer than the ring, delivered in windows).
    #[inline]
    pub fn later(&self, index: usize, d: usize) -> usize {
        let i = index + d;
        if i < self.slots {
            i
        } else if i < 2 * self.slots {
            i - self.slots
        } else {
            i % self.slots
        }
    }

    #[inline]
    pub fn slot_at(&mut self, index: usize) -> &mut [f32] {
        &mut self.data[index * self.neurons..(index + 1) * self.neurons]
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }
}
