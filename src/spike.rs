//! The spike record exchanged between ranks and written to files: 8 bytes, as NEST's.

/// A spike of neuron `gid` (global id) emitted at the end of step `step`.
/// Ordered by step, then id: the canonical order of delivery and of output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(C)]
pub struct Spike {
    pub step: u32,
    pub gid: u32,
}

impl Spike {
    /// The spike's time in ms: the end of its step, when v was seen at or above the peak
    /// (net.m records it with the loop index of the next iteration, 1-based).
    pub fn time_ms(&self, dt_ms: f64) -> f64 {
        (self.step as f64 + 1.0) * dt_ms
    }
}
