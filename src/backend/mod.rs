//! Backends integrate a rank's slice of neurons. The engine calls one per epoch; a
//! backend knows no MPI and no file formats.

pub mod cpu;
pub mod workers;

use crate::spike::Spike;
use std::ops::Range;
use std::time::Duration;

pub trait Backend {
    /// Delivers `arrivals` (the previous epoch's spikes from every rank, sorted by step
    /// then id) into the delay buffers, then advances `steps` steps starting at
    /// `first_step`. The epoch's local spikes are appended to `spikes`, sorted.
    fn run_epoch(&mut self, arrivals: &[Spike], first_step: u64, steps: u32, spikes: &mut Vec<Spike>);

    /// Global ids of the neurons this backend integrates.
    fn neurons(&self) -> Range<u64>;

    /// Bytes held for neuron state, synapses and buffers.
    fn memory_bytes(&self) -> usize;

    /// The first state variable (by step, then id) that left the finite numbers.
    fn non_finite(&self) -> Option<crate::model::NonFinite>;

    /// Synapses stored.
    fn synapse_count(&self) -> u64;

    /// Membrane potentials of the local neurons in id order.
    fn voltages(&self) -> Vec<f32>;

    /// A bit set over the global ids `0..total` of the sources this backend holds
    /// synapses from (the spikes it must receive).
    fn needed_sources(&self, total: u64) -> Vec<u64>;

    /// Time spent delivering spikes and updating neurons so far, averaged over the
    /// backend's workers (threads).
    fn work_times(&self) -> (Duration, Duration);

    /// For each of the description's `populations`, the neuron-steps whose v lay outside
    /// the model's rate tables (clamped to their edge) so far.
    fn table_clamps(&self, populations: usize) -> Vec<u64>;
}
