//! Delay ring buffers (NEST's ring_buffer): one input array per future step, indexed by
//! step modulo the largest delay. A spike of step s with delay d adds into slot s + d;
//! the neuron update of step t reads slot t and clears it.

#[derive(Clone, Debug)]
pub struct DelayRing {
    slots: usize,
    neurons: usize,
    data: Vec<f32>,
}

impl DelayRing {
    /// A ring for `neurons` targets and delays up to `max_delay` steps: arrivals lie at
    /// most `max_delay` steps ahead of the step being read, so that many slots suffice.
    pub fn new(neurons: usize, max_delay: u32) -> DelayRing {
        let slots = max_delay.max(1) as usize;
        DelayRing { slots, neurons, data: vec![0.0; slots * neurons] }
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

    /// The slot `d` steps after slot `index` (d < slots).
    #[inline]
    pub fn later(&self, index: usize, d: usize) -> usize {
        let i = index + d;
        if i >= self.slots {
            i - self.slots
        } else {
            i
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
