//! A rank alone runs many epochs as one batch of rounds (`ShardWorkers::run_rounds`):
//! in round k every shard receives the spikes all shards emitted in round k − 1, merged
//! into one list in canonical order, exactly the list the caller would have handed out
//! between epochs; then it runs epoch k. No thread waits for the caller between epochs,
//! only for the other shards.

use super::{CpuBackend, Shard};
use crate::spike::{merge_by_step, Spike};
use std::cell::UnsafeCell;

/// Each shard's spikes of the last two rounds of a batch, and of the whole batch.
#[derive(Default)]
pub(super) struct RoundSpikes {
    shards: usize,
    /// Shard s's spikes of round k at (k mod 2) × shards + s.
    rounds: Vec<List>,
    /// Shard s's spikes of every round so far.
    batch: Vec<List>,
}

/// A list on cache lines of its own: the lists of two shards, written in every round by
/// two threads, shared a line, and each write took it from the other core.
#[derive(Default)]
#[repr(align(128))]
struct List(UnsafeCell<Vec<Spike>>);

// SAFETY: shard s's lists are written only in its rounds, by the thread running it, and
// a shard's rounds run one after the other; its list of round k is read only in round
// k + 1 (by every shard) and after the batch (by the caller). Round k + 1 begins once
// every shard's round k is done, round k + 2 (the next write of that list) once every
// shard's round k + 1 (the reads) is, and the batch ends once every round is: the
// Release/Acquire of `run_rounds`'s count of finished shard-rounds orders each write
// before the reads and each read before the next write.
unsafe impl Sync for RoundSpikes {}

impl RoundSpikes {
    fn for_shards(&mut self, shards: usize) {
        if self.shards != shards {
            self.shards = shards;
            self.rounds = (0..2 * shards).map(|_| List::default()).collect();
            self.batch = (0..shards).map(|_| List::default()).collect();
        }
    }

    /// Shard `shard`'s spikes of round `round`.
    ///
    /// SAFETY: only by the thread running shard `shard` in round `round`.
    unsafe fn set(&self, round: usize, shard: usize, spikes: &[Spike]) {
        let list = unsafe { &mut *self.rounds[(round % 2) * self.shards + shard].0.get() };
        list.clear();
        list.extend_from_slice(spikes);
        unsafe { &mut *self.batch[shard].0.get() }.extend_from_slice(spikes);
    }

    /// Every shard's spikes of round `round`, in shard order.
    ///
    /// SAFETY: only in round `round` + 1, or after the batch.
    unsafe fn of_round(&self, round: usize) -> impl Iterator<Item = &[Spike]> + Clone {
        let lists = &self.rounds[(round % 2) * self.shards..][..self.shards];
        lists.iter().map(|l| unsafe { &*l.0.get() }.as_slice())
    }

    /// Bytes the lists hold.
    pub(super) fn bytes(&self) -> usize {
        // SAFETY: between batches (`&self` of the backend: no batch runs).
        let lists = self.rounds.iter().chain(&self.batch).map(|l| unsafe { &*l.0.get() }.capacity());
        lists.sum::<usize>() * std::mem::size_of::<Spike>()
    }

    /// Appends every shard's spikes of the batch to `out` in canonical order, and
    /// forgets them (after the batch).
    fn take_batch(&mut self, out: &mut Vec<Spike>) {
        let lists: Vec<&[Spike]> = self.batch.iter_mut().map(|l| l.0.get_mut().as_slice()).collect();
        merge_by_step(lists.into_iter(), out);
        self.batch.iter_mut().for_each(|l| l.0.get_mut().clear());
    }
}

impl CpuBackend {
    /// `Backend::run_epochs_alone`: the epochs as rounds of one batch.
    pub(super) fn run_in_rounds(&mut self, epochs: &[(u64, u32)], pending: &mut Vec<Spike>, spikes: &mut Vec<Spike>) {
        let Some(&(last_first, last_steps)) = epochs.last() else { return };
        let (seed, dt) = (self.seed, self.dt);
        let first = self.share_arrivals(pending);
        let starts: Vec<u64> = self.shards.shards().map(|s| s.neurons.start).collect();
        self.round_spikes.for_shards(starts.len());
        let parts = &self.round_spikes;
        self.shards.run_rounds(epochs.len(), &|shard: &mut Shard, k| {
            let index = starts.partition_point(|&start| start < shard.neurons.start);
            let arrivals = match k {
                0 => first.as_ref(),
                _ => {
                    // SAFETY: in round k, the spikes of round k − 1.
                    shard.in_flight.receive_merged(unsafe { parts.of_round(k - 1) });
                    None
                }
            };
            let (first_step, steps) = epochs[k];
            shard.run_epoch(arrivals, first_step, steps, seed, dt);
            // SAFETY: this thread runs shard `index` in round k.
            unsafe { parts.set(k, index, &shard.spikes) };
        });
        drop(first);
        let from = spikes.len();
        self.round_spikes.take_batch(spikes);
        pending.clear();
        // SAFETY: after the batch.
        merge_by_step(unsafe { self.round_spikes.of_round(epochs.len() - 1) }, pending);
        // The batch's epochs whose synapses may still arrive, the last aside (pending),
        // are kept in flight as the caller keeps those it hands out (a re-cut delivers
        // them again).
        let end = last_first + last_steps as u64;
        let received = &epochs[..epochs.len() - 1];
        let in_flight = received.iter().rev().take_while(|&&(f, n)| f + n as u64 + self.max_delay > end).count();
        let batch = &spikes[from..];
        for &(f, n) in &received[received.len() - in_flight..] {
            let (lo, hi) = (batch.partition_point(|s| (s.step as u64) < f), batch.partition_point(|s| (s.step as u64) < f + n as u64));
            // Kept in a spare list, as the caller keeps those it hands out: as many come
            // back (`release_arrived`).
            self.share_arrivals(&batch[lo..hi]);
        }
        self.release_arrived(end);
    }
}
