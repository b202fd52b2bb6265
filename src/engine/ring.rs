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
        let s = (step % self.slots as u64) as usize;
        &mut self.data[s * self.neurons..(s + 1) * self.neurons]
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }
}
