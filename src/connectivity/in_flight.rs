//! Spikes in flight: the spikes received from the exchange whose synapses have not all
//! been delivered into the delay rings yet. A ring holds a window of `window` steps of
//! arrivals; before a step is integrated, every received spike's synapses that arrive
//! inside the window are delivered, oldest epoch first. Delay memory is then
//! `window` slots per target and synaptic kind, whatever dt, plus the spikes of the
//! last (largest delay) steps, instead of one slot per step of the largest delay: at
//! dt = 0.01 ms and delays up to 20 ms, 32 slots instead of 2000.
//!
//! Order: each arrival step's inputs are summed epoch by epoch in the order the epochs
//! were received, and within an epoch as `LocalSynapses::deliver` sums them (projection
//! by projection, spikes in order): the order of delivering each epoch whole into rings
//! that hold every delay. So the window changes no result, only memory and the number
//! of passes over the spikes in flight.

use crate::spike::Spike;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

/// The spikes of one received epoch and how far their synapses have been delivered.
#[derive(Debug)]
struct Received {
    /// Shared by the shards of a rank (`receive_shared`): one copy, whatever the threads.
    spikes: Arc<Vec<Spike>>,
    /// Every synapse of these spikes arriving before this step has been delivered.
    delivered_until: u64,
    /// The first step at which a synapse of these spikes can arrive: kept here, so that
    /// finding the lists a step's arrivals come from reads no list (`arriving`, every
    /// step, over every list in flight).
    arrivals_start: u64,
    /// One past the last step at which a synapse of these spikes can arrive.
    arrivals_end: u64,
}

#[derive(Debug)]
pub struct InFlight {
    received: VecDeque<Received>,
    /// Steps of arrivals the rings hold.
    window: u64,
    /// The rings hold every delivered arrival before this step.
    horizon: u64,
    min_delay: u64,
    max_delay: u64,
    /// An epoch arrived since the last delivery.
    fresh: bool,
    /// Lists of delivered epochs, kept for reuse: no allocation per epoch. Held by no
    /// one else.
    spare: Vec<Arc<Vec<Spike>>>,
}

impl InFlight {
    /// Spikes in flight for rings of `window` slots and delays of `min_delay` to
    /// `max_delay` steps.
    pub fn new(window: u32, min_delay: u32, max_delay: u32) -> InFlight {
        InFlight {
            received: VecDeque::new(),
            window: window.max(1) as u64,
            horizon: 0,
            min_delay: min_delay.max(1) as u64,
            max_delay: max_delay.max(1) as u64,
            fresh: false,
            spare: Vec::new(),
        }
    }

    /// Takes an epoch's spikes (sorted by step, then id), to be delivered when due.
    pub fn receive(&mut self, spikes: &[Spike]) {
        self.receive_merged(std::iter::once(spikes));
    }

    /// Takes an epoch's spikes in parts, each sorted by step then id and holding ids
    /// below the next's (the shards of a rank): merged into one list of this epoch, as
    /// if received whole (`spike::merge_by_step`).
    pub fn receive_merged<'a>(&mut self, parts: impl Iterator<Item = &'a [Spike]> + Clone) {
        if parts.clone().all(<[Spike]>::is_empty) {
            return;
        }
        let mut list = self.spare.pop().unwrap_or_default();
        let spikes = Arc::get_mut(&mut list).expect("a spare list is held by no one else");
        spikes.clear();
        crate::spike::merge_by_step(parts, spikes);
        self.receive_shared(list);
    }

    /// Takes an epoch's spikes held with others (the other shards of a rank, which
    /// receive the same list): no copy. Whoever shares them counts their bytes.
    pub fn receive_shared(&mut self, spikes: Arc<Vec<Spike>>) {
        let (Some(first), Some(last)) = (spikes.first(), spikes.last()) else { return };
        let (arrivals_start, arrivals_end) = (first.step as u64 + self.min_delay, last.step as u64 + self.max_delay + 1);
        self.received.push_back(Received { spikes, delivered_until: arrivals_start, arrivals_start, arrivals_end });
        self.fresh = true;
    }

    /// Takes the spikes in flight of a checkpoint at step `from_step`: each received
    /// epoch's spikes (sorted, oldest epoch first) whose synapses arriving before
    /// `from_step` were delivered before the checkpoint — the rings are empty, and the
    /// arrivals from `from_step` on are delivered again, epoch by epoch in the order they
    /// were received, so each slot sums them in the order the interrupted run did.
    pub fn restore(&mut self, epochs: &[Arc<Vec<Spike>>], from_step: u64) {
        for spikes in epochs {
            let (Some(first), Some(last)) = (spikes.first(), spikes.last()) else { continue };
            let arrivals_end = last.step as u64 + self.max_delay + 1;
            if arrivals_end <= from_step {
                continue;
            }
            let arrivals_start = first.step as u64 + self.min_delay;
            self.received.push_back(Received {
                spikes: Arc::clone(spikes),
                delivered_until: arrivals_start.max(from_step),
                arrivals_start,
                arrivals_end,
            });
        }
        self.horizon = from_step;
        self.fresh = true;
    }

    /// Before step `step` is integrated: hands `deliver` each received epoch's spikes with
    /// the arrival steps of theirs to add now, oldest epoch first, so that the rings hold
    /// every arrival of [step, step + window). Delivers only when the window is used up
    /// or an epoch has arrived (then the window slides to start at `step`).
    pub fn deliver_due(&mut self, step: u64, mut deliver: impl FnMut(&[Spike], Range<u64>)) {
        if !self.due(step) {
            return;
        }
        self.fresh = false;
        self.horizon = step + self.window;
        for r in &mut self.received {
            debug_assert!(r.delivered_until >= step || r.delivered_until >= r.arrivals_end, "a synapse arriving in the past");
            let end = self.horizon.min(r.arrivals_end);
            if r.delivered_until < end {
                deliver(&r.spikes, r.delivered_until..end);
                r.delivered_until = end;
            }
        }
        // Kept until every arrival's step has come, not only until delivered into the
        // rings: plastic synapses take their spikes at the arrival step (`arriving`).
        while self.received.front().is_some_and(|r| r.delivered_until >= r.arrivals_end && r.arrivals_end <= step) {
            let done = self.received.pop_front().expect("front");
            // A list of its own is kept for the next epoch; a shared one goes back to
            // whoever shares it.
            if Arc::strong_count(&done.spikes) == 1 {
                self.spare.push(done.spikes);
            }
        }
    }

    /// Hands `f` each received epoch's spikes (sorted by step, then id), oldest first,
    /// that may arrive in step `step`: the spikes plastic synapses take at arrival.
    pub fn arriving(&self, step: u64, mut f: impl FnMut(&[Spike])) {
        for r in &self.received {
            if r.arrivals_start <= step && step < r.arrivals_end {
                f(&r.spikes);
            }
        }
    }

    /// Whether `deliver_due(step, ..)` has anything to do.
    pub fn due(&self, step: u64) -> bool {
        self.fresh || step >= self.horizon
    }

    /// Bytes the spikes in flight take.
    /// Bytes of the spike lists held here alone (shared ones are counted by whoever
    /// shares them, once).
    pub fn bytes(&self) -> usize {
        let own = self.received.iter().filter(|r| Arc::strong_count(&r.spikes) == 1).map(|r| r.spikes.as_ref());
        own.chain(self.spare.iter().map(|l| l.as_ref())).map(|l| l.capacity() * std::mem::size_of::<Spike>()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (spike, delay) pair is handed over exactly once, before its arrival step
    /// is integrated and no further ahead than the window, for windows shorter and
    /// longer than the epoch.
    #[test]
    fn every_arrival_is_delivered_once_in_time_and_within_the_window() {
        let (min_delay, max_delay, epoch) = (4u64, 23u64, 4u64);
        for window in [1u32, 3, 4, 7, 23, 40] {
            let mut in_flight = InFlight::new(window, min_delay as u32, max_delay as u32);
            let mut delivered: Vec<(u64, u64)> = Vec::new(); // (spike step, arrival)
            for t0 in (0..200).step_by(epoch as usize) {
                if t0 >= epoch {
                    let spikes: Vec<Spike> = (t0 - epoch..t0).map(|s| Spike { step: s as u32, gid: 0 }).collect();
                    in_flight.receive(&spikes);
                }
                for step in t0..t0 + epoch {
                    in_flight.deliver_due(step, |spikes, due| {
                        assert!(due.start >= step && due.end <= step + window as u64, "window {window}: {due:?} at {step}");
                        for s in spikes {
                            for d in min_delay..=max_delay {
                                if due.contains(&(s.step as u64 + d)) {
                                    delivered.push((s.step as u64, s.step as u64 + d));
                                }
                            }
                        }
                    });
                }
            }
            // Arrivals past the run's end may wait in the rings; those within it must all
            // have come, once each.
            delivered.retain(|&(_, a)| a < 200);
            delivered.sort();
            let expected: Vec<(u64, u64)> =
                (0..196).flat_map(|s| (min_delay..=max_delay).map(move |d| (s, s + d))).filter(|&(_, a)| a < 200).collect();
            assert_eq!(delivered, expected, "window {window}");
        }
    }
}
