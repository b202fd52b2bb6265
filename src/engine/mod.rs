//! The epoch loop (DESIGN.md §3). An epoch is as long as the smallest delay: a spike
//! emitted in an epoch cannot be due before the next one, so the backend integrates a
//! whole epoch without talking to anyone, then the epoch's spikes are exchanged once
//! and handed back to the backend for delivery at the start of the next epoch.

mod in_flight;
mod ring;

pub use in_flight::InFlight;
pub use ring::DelayRing;

use crate::backend::Backend;
use crate::comm::Communicator;
use crate::error::Result;
use crate::record::Recorder;
use crate::spike::Spike;
use std::time::{Duration, Instant};

/// Wall time spent in each phase, summed over the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct PhaseTimes {
    /// Delivery and neuron update (the backend's epoch), waiting for its threads
    /// included.
    pub advance: Duration,
    /// Exchange of spikes between ranks, waiting for the slowest rank included.
    pub exchange: Duration,
    /// Handing spikes to the recorder.
    pub record: Duration,
    /// Epochs run.
    pub epochs: u64,
}

pub struct Simulation<'a> {
    backend: &'a mut dyn Backend,
    comm: &'a mut dyn Communicator,
    epoch_steps: u32,
    total_steps: u64,
    step: u64,
    /// Spikes of the last epoch from every rank, due for delivery.
    pending: Vec<Spike>,
    local: Vec<Spike>,
    pub times: PhaseTimes,
}

impl<'a> Simulation<'a> {
    pub fn new(backend: &'a mut dyn Backend, comm: &'a mut dyn Communicator, epoch_steps: u32, total_steps: u64) -> Self {
        Simulation {
            backend,
            comm,
            epoch_steps: epoch_steps.max(1),
            total_steps,
            step: 0,
            pending: Vec::new(),
            local: Vec::new(),
            times: PhaseTimes::default(),
        }
    }

    /// The communicator, for collectives between epochs (file flushes).
    pub fn comm(&self) -> &dyn Communicator {
        &*self.comm
    }

    /// The backend, for its timers.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// The backend and the communicator, for collecting samples and writing them.
    pub fn backend_and_comm(&mut self) -> (&mut dyn Backend, &dyn Communicator) {
        (&mut *self.backend, &*self.comm)
    }

    /// Steps done so far.
    pub fn step(&self) -> u64 {
        self.step
    }

    pub fn finished(&self) -> bool {
        self.step >= self.total_steps
    }

    /// Runs exactly `max_steps` further steps (or to the end), recording local spikes. The
    /// last epoch is cut short where `max_steps` ends inside one: an epoch may be shorter
    /// than the smallest delay, never longer, and the spikes of each epoch are still
    /// delivered in (step, id) order, so where epochs are cut changes no result.
    pub fn advance(&mut self, max_steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        let stop = (self.step + max_steps.max(1)).min(self.total_steps);
        // Each epoch starts when the last one's recording ended: one clock reading fewer
        // per epoch (the 2003 network's epochs are ~5 µs; a reading ~25 ns in a VM).
        let mut t0 = Instant::now();
        while self.step < stop {
            let steps = (self.epoch_steps as u64).min(stop - self.step) as u32;
            self.local.clear();
            self.backend.run_epoch(&self.pending, self.step, steps, &mut self.local);
            let t1 = Instant::now();
            self.comm.exchange(self.step, steps, &self.local, &mut self.pending);
            let t2 = Instant::now();
            recorder.record_spikes(&self.local)?;
            let t3 = Instant::now();
            self.times.advance += t1 - t0;
            self.times.exchange += t2 - t1;
            self.times.record += t3 - t2;
            self.times.epochs += 1;
            self.step += steps as u64;
            t0 = t3;
        }
        Ok(())
    }

    /// Runs to the end.
    pub fn run(&mut self, recorder: &mut dyn Recorder) -> Result<()> {
        self.advance(u64::MAX, recorder)
    }
}
