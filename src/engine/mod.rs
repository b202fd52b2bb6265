//! The epoch loop (DESIGN.md §3). An epoch is as long as the smallest delay: a spike
//! emitted in an epoch cannot be due before the next one, so the backend integrates a
//! whole epoch without talking to anyone, then the epoch's spikes are exchanged once
//! and handed back to the backend for delivery at the start of the next epoch.

use crate::backend::Backend;
use crate::comm::Communicator;
use crate::error::Result;
use crate::record::Recorder;
use crate::spike::Spike;
use std::collections::VecDeque;
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

/// The most epochs one rank runs in one call of the backend: the spikes of a call are
/// held until it ends (twice: the shards' and the rank's), and a caller of `run` asks
/// for the whole run at once. At spnet's 1 ms epochs, 4 s of biological time, ~30 µs of
/// the call's own cost against ~20 ms of work.
const BATCH_EPOCHS: usize = 4096;

pub struct Simulation<'a> {
    backend: &'a mut dyn Backend,
    comm: &'a mut dyn Communicator,
    epoch_steps: u32,
    total_steps: u64,
    step: u64,
    /// Spikes of the last epoch from every rank, due for delivery.
    pending: Vec<Spike>,
    local: Vec<Spike>,
    /// With the exchange overlapped: spikes of every rank's previous epoch, exchanged
    /// while the current one runs, and this rank's spikes of the previous epoch.
    exchanged: Vec<Spike>,
    previous: Vec<Spike>,
    overlap: bool,
    /// This rank's spikes of the epochs whose synapses may still arrive, kept where a
    /// checkpoint may be written.
    recent: Option<RecentSpikes>,
    /// This rank's spikes per population, where counted (`count_spikes`).
    counts: Option<SpikeCounts>,
    pub times: PhaseTimes,
}

/// A rank's spikes per population since the first epoch counted: the firing rates the
/// balance of shards is estimated at.
#[derive(Debug, Default)]
struct SpikeCounts {
    /// The first id of each population, ascending.
    starts: Vec<u64>,
    counts: Vec<u64>,
    /// The first step counted.
    since: Option<u64>,
}

impl SpikeCounts {
    fn add(&mut self, step: u64, spikes: &[Spike]) {
        self.since.get_or_insert(step);
        for s in spikes {
            let p = self.starts.partition_point(|&start| start <= s.gid as u64).saturating_sub(1);
            self.counts[p] += 1;
        }
    }
}

/// A rank's own spikes of its last epochs, epoch by epoch, as long as their synapses
/// may still arrive: what a checkpoint saves as the spikes in flight (every rank its
/// own, so that the checkpoint holds each spike once whatever the exchange).
#[derive(Debug, Default)]
pub struct RecentSpikes {
    max_delay: u64,
    /// (first step, one past the last step, the epoch's spikes), oldest first.
    epochs: VecDeque<(u64, u64, Vec<Spike>)>,
    spare: Vec<Vec<Spike>>,
}

impl RecentSpikes {
    fn push(&mut self, first: u64, end: u64, spikes: &[Spike]) {
        let mut list = self.spare.pop().unwrap_or_default();
        list.clear();
        list.extend_from_slice(spikes);
        self.epochs.push_back((first, end, list));
        // An epoch's last synapse arrives at its last step + max_delay: once that step
        // has been integrated, the epoch is no longer in flight.
        while self.epochs.front().is_some_and(|(_, e, _)| e - 1 + self.max_delay < end) {
            let (_, _, done) = self.epochs.pop_front().expect("front");
            self.spare.push(done);
        }
    }

    /// The epochs kept: (first step, end step, spikes sorted by step then id).
    pub fn epochs(&self) -> impl Iterator<Item = (u64, u64, &[Spike])> {
        self.epochs.iter().map(|(f, e, s)| (*f, *e, s.as_slice()))
    }
}

/// What a simulation carries from one `advance` to the next besides its backend and
/// communicator (the spikes due for delivery, the step, the clocks): kept by a caller
/// that lets go of the borrows between runs — an in-process session, which runs, is
/// changed and runs on — to resume the same simulation, exactly, later.
#[derive(Debug)]
pub struct Carried {
    epoch_steps: u32,
    total_steps: u64,
    step: u64,
    pending: Vec<Spike>,
    exchanged: Vec<Spike>,
    previous: Vec<Spike>,
    overlap: bool,
    recent: Option<RecentSpikes>,
    counts: Option<SpikeCounts>,
    times: PhaseTimes,
}

impl Carried {
    /// The steps run so far.
    pub fn step(&self) -> u64 {
        self.step
    }
}

impl<'a> Simulation<'a> {
    /// Lets go of the backend and communicator, keeping what the simulation carries.
    pub fn suspend(self) -> Carried {
        let Simulation { epoch_steps, total_steps, step, pending, exchanged, previous, overlap, recent, counts, times, .. } = self;
        Carried { epoch_steps, total_steps, step, pending, exchanged, previous, overlap, recent, counts, times }
    }

    /// The simulation `carried` was suspended from, on the same backend and communicator.
    pub fn resume(backend: &'a mut dyn Backend, comm: &'a mut dyn Communicator, carried: Carried) -> Self {
        let Carried { epoch_steps, total_steps, step, pending, exchanged, previous, overlap, recent, counts, times } = carried;
        Simulation {
            backend,
            comm,
            epoch_steps,
            total_steps,
            step,
            pending,
            local: Vec::new(),
            exchanged,
            previous,
            overlap,
            recent,
            counts,
            times,
        }
    }

    pub fn new(backend: &'a mut dyn Backend, comm: &'a mut dyn Communicator, epoch_steps: u32, total_steps: u64) -> Self {
        Simulation {
            backend,
            comm,
            epoch_steps: epoch_steps.max(1),
            total_steps,
            step: 0,
            pending: Vec::new(),
            local: Vec::new(),
            exchanged: Vec::new(),
            previous: Vec::new(),
            overlap: false,
            recent: None,
            counts: None,
            times: PhaseTimes::default(),
        }
    }

    /// Overlaps each epoch's exchange with the next epoch's integration: epoch e runs
    /// while the spikes of epoch e − 1 are exchanged, and receives those of e − 2. Valid
    /// where the epoch is at most half the shortest delay (a spike of epoch e − 2 arrives
    /// no earlier than epoch e starts); the caller chooses the epoch so.
    pub fn overlap_exchange(&mut self) {
        self.overlap = true;
    }

    /// Keeps this rank's spikes for as long as synapses of up to `max_delay` steps may
    /// still carry them (for checkpoints).
    pub fn keep_recent(&mut self, max_delay: u32) {
        self.recent = Some(RecentSpikes { max_delay: max_delay.max(1) as u64, ..RecentSpikes::default() });
    }

    /// Counts this rank's spikes per population, the populations starting at the ids
    /// `population_starts` (ascending), from the next epoch on.
    pub fn count_spikes(&mut self, population_starts: Vec<u64>) {
        let n = population_starts.len();
        self.counts = Some(SpikeCounts { starts: population_starts, counts: vec![0; n], since: None });
    }

    /// Counts no more spikes (`count_spikes`).
    pub fn stop_counting_spikes(&mut self) {
        self.counts = None;
    }

    /// This rank's spikes per population counted so far, and the steps they were counted
    /// over; None where nothing is counted.
    pub fn spike_counts(&self) -> Option<(&[u64], u64)> {
        let c = self.counts.as_ref()?;
        Some((&c.counts, self.step.saturating_sub(c.since?)))
    }

    /// The backend, the communicator and the spikes kept by `keep_recent`: what a
    /// checkpoint is written from.
    pub fn for_checkpoint(&mut self) -> (&mut dyn Backend, &dyn Communicator, Option<&RecentSpikes>) {
        (&mut *self.backend, &*self.comm, self.recent.as_ref())
    }

    /// Continues from a checkpoint at `step`: the backend holds its state and spikes in
    /// flight; nothing is pending.
    pub fn resume_at(&mut self, step: u64) {
        self.step = step;
        self.pending.clear();
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

    /// Runs exactly `max_steps` further steps (or to the end), recording local spikes.
    /// Epochs lie on one grid from step 0 (multiples of the epoch length), cut short only
    /// where `max_steps` ends inside one: where epochs start decides which spikes are
    /// delivered together, and so the order in which a target's inputs of one arrival
    /// step are summed; a grid that does not depend on where a run stopped lets a run
    /// resumed from a checkpoint sum them as an uninterrupted run does.
    pub fn advance(&mut self, max_steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        if self.overlap {
            return self.advance_overlapped(max_steps, recorder);
        }
        let stop = self.step.saturating_add(max_steps.max(1)).min(self.total_steps);
        if self.comm.size() == 1 {
            return self.advance_alone(stop, recorder);
        }
        // Each epoch starts when the last one's recording ended: one clock reading fewer
        // per epoch (the 2003 network's epochs are ~5 µs; a reading ~25 ns in a VM).
        let mut t0 = Instant::now();
        while self.step < stop {
            let epoch = self.epoch_steps as u64;
            let steps = (epoch - self.step % epoch).min(stop - self.step) as u32;
            self.local.clear();
            self.backend.run_epoch(&self.pending, self.step, steps, &mut self.local);
            if let Some(counts) = self.counts.as_mut() {
                counts.add(self.step, &self.local);
            }
            let t1 = Instant::now();
            self.comm.exchange(self.step, steps, &self.local, &mut self.pending);
            let t2 = Instant::now();
            recorder.record_spikes(&self.local)?;
            if let Some(recent) = self.recent.as_mut() {
                recent.push(self.step, self.step + steps as u64, &self.local);
            }
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

    /// `advance` to `stop` on one rank: a communicator of one rank hands every spike
    /// back (one process, or MPI or drawn ranks of one), so the backend runs the epochs
    /// up to `stop` in calls of at most BATCH_EPOCHS, each epoch's spikes arriving from
    /// the next on (`Backend::run_epochs_alone`), and each call's spikes are recorded
    /// together. Ends with the last epoch's spikes pending, as `advance` does.
    fn advance_alone(&mut self, stop: u64, recorder: &mut dyn Recorder) -> Result<()> {
        while self.step < stop {
            self.advance_batch(stop, recorder)?;
        }
        Ok(())
    }

    /// One call of `advance_alone`: up to BATCH_EPOCHS epochs towards `stop`.
    fn advance_batch(&mut self, stop: u64, recorder: &mut dyn Recorder) -> Result<()> {
        let t0 = Instant::now();
        let epoch = self.epoch_steps as u64;
        let mut epochs = Vec::new();
        let mut step = self.step;
        while step < stop && epochs.len() < BATCH_EPOCHS {
            let steps = (epoch - step % epoch).min(stop - step) as u32;
            epochs.push((step, steps));
            step += steps as u64;
        }
        self.local.clear();
        self.backend.run_epochs_alone(&epochs, &mut self.pending, &mut self.local);
        if let Some(counts) = self.counts.as_mut() {
            counts.add(self.step, &self.local);
        }
        let t1 = Instant::now();
        recorder.record_spikes(&self.local)?;
        if let Some(recent) = self.recent.as_mut() {
            let mut rest = self.local.as_slice();
            for &(first, steps) in &epochs {
                let end = first + steps as u64;
                let (this, later) = rest.split_at(rest.partition_point(|s| (s.step as u64) < end));
                recent.push(first, end, this);
                rest = later;
            }
        }
        self.times.advance += t1 - t0;
        self.times.record += t1.elapsed();
        self.times.epochs += epochs.len() as u64;
        self.step = step;
        Ok(())
    }

    /// `advance` with each epoch's exchange overlapped with the next epoch
    /// (`overlap_exchange`). Ends with every epoch's spikes exchanged and pending, as
    /// `advance` does, so that checkpoints and flushes see the same state either way.
    fn advance_overlapped(&mut self, max_steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        let stop = (self.step + max_steps.max(1)).min(self.total_steps);
        // The epoch before this one, whose spikes are still to be exchanged.
        let mut unexchanged: Option<(u64, u32)> = None;
        while self.step < stop {
            let t0 = Instant::now();
            let epoch = self.epoch_steps as u64;
            let steps = (epoch - self.step % epoch).min(stop - self.step) as u32;
            self.local.clear();
            let mut exchange = Duration::ZERO;
            {
                let (comm, previous, exchanged) = (&mut *self.comm, &self.previous, &mut self.exchanged);
                exchanged.clear();
                let mut meanwhile = || {
                    if let Some((first, n)) = unexchanged {
                        let t = Instant::now();
                        comm.exchange(first, n, previous, exchanged);
                        exchange = t.elapsed();
                    }
                };
                self.backend.run_epoch_overlapped(&self.pending, self.step, steps, &mut self.local, &mut meanwhile);
            }
            if let Some(counts) = self.counts.as_mut() {
                counts.add(self.step, &self.local);
            }
            // The next epoch receives the spikes of the one before this one.
            std::mem::swap(&mut self.pending, &mut self.exchanged);
            let t1 = Instant::now();
            recorder.record_spikes(&self.local)?;
            if let Some(recent) = self.recent.as_mut() {
                recent.push(self.step, self.step + steps as u64, &self.local);
            }
            std::mem::swap(&mut self.previous, &mut self.local);
            unexchanged = Some((self.step, steps));
            let t2 = Instant::now();
            self.times.advance += (t1 - t0).saturating_sub(exchange);
            self.times.exchange += exchange;
            self.times.record += t2 - t1;
            self.times.epochs += 1;
            self.step += steps as u64;
        }
        // The last epoch's spikes join those not yet delivered (later steps: still sorted).
        if let Some((first, n)) = unexchanged {
            let t = Instant::now();
            self.comm.exchange(first, n, &self.previous, &mut self.exchanged);
            self.pending.extend_from_slice(&self.exchanged);
            self.times.exchange += t.elapsed();
        }
        Ok(())
    }

    /// Runs to the end.
    pub fn run(&mut self, recorder: &mut dyn Recorder) -> Result<()> {
        self.advance(u64::MAX, recorder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spikes are counted by the population their id falls in, from the first epoch
    /// counted.
    #[test]
    fn spikes_are_counted_per_population() {
        let mut c = SpikeCounts { starts: vec![0, 800, 900], counts: vec![0; 3], since: None };
        let spikes = |ids: &[u32]| ids.iter().map(|&gid| Spike { step: 7, gid }).collect::<Vec<_>>();
        c.add(7, &spikes(&[0, 799, 800, 950]));
        c.add(8, &spikes(&[899, 999]));
        assert_eq!((c.counts.as_slice(), c.since), (&[2, 2, 2][..], Some(7)));
    }
}
