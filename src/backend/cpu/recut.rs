//! A re-cut of a rank's shards: the shards are built again at new boundaries and the
//! state moved into them, so that the run goes on exactly as it would have (the same
//! spikes, bit for bit). Neuron and synaptic state are copied by id; the spikes in flight
//! are delivered again into the new, empty delay rings, from the step the run goes on at,
//! as a checkpoint's are (`InFlight::restore`): each slot sums them in the order the
//! shards before did. What it costs is a build of the shards (a shard owns the synapses
//! onto its neurons); whether that pays is the caller's choice (`run::balance`).

use super::{build_shards, CpuBackend};
use crate::backend::workers::ShardWorkers;
use crate::backend::{Backend, CutBy, InvalidBuild, Probe, StatePiece, WorkTimes};
use crate::model::StateArrayMut;
use crate::network::Description;
use crate::partition;
use crate::spike::Spike;
use std::ops::Range;
use std::sync::Arc;

/// What the shards replaced by a re-cut had counted and not handed over yet.
#[derive(Debug, Default)]
pub(super) struct Carried {
    /// Per probe: samples taken and not yet taken away (`take_samples`).
    pub samples: Vec<Vec<f32>>,
    /// Per population: neuron-steps clamped to the rate tables' edges.
    pub clamps: Vec<u64>,
    /// The work times so far (the totals; the shards' own times start again).
    pub times: WorkTimes,
}

/// One state array of the neurons from `first_gid` on, as saved before a re-cut.
struct SavedArray {
    population: usize,
    array: usize,
    first_gid: u64,
    values: SavedValues,
}

enum SavedValues {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl SavedArray {
    fn of(piece: &StatePiece<'_>) -> SavedArray {
        let values = match &piece.values {
            StateArrayMut::F32(v) => SavedValues::F32(v.to_vec()),
            StateArrayMut::F64(v) => SavedValues::F64(v.to_vec()),
        };
        SavedArray { population: piece.population, array: piece.array, first_gid: piece.first_gid, values }
    }

    /// Copies into `piece` the values of the ids both hold.
    fn copy_into(&self, piece: &mut StatePiece<'_>) {
        if (self.population, self.array) != (piece.population, piece.array) {
            return;
        }
        fn overlap<T: Copy>(from: &[T], from_gid: u64, to: &mut [T], to_gid: u64) {
            let (lo, hi) = (from_gid.max(to_gid), (from_gid + from.len() as u64).min(to_gid + to.len() as u64));
            if lo < hi {
                let (a, b) = ((lo - from_gid) as usize, (lo - to_gid) as usize);
                let n = (hi - lo) as usize;
                to[b..b + n].copy_from_slice(&from[a..a + n]);
            }
        }
        match (&self.values, &mut piece.values) {
            (SavedValues::F32(from), StateArrayMut::F32(to)) => overlap(from, self.first_gid, to, piece.first_gid),
            (SavedValues::F64(from), StateArrayMut::F64(to)) => overlap(from, self.first_gid, to, piece.first_gid),
            _ => unreachable!("an array keeps its type from one build to the next"),
        }
    }
}

impl CpuBackend {
    /// The global ids of each shard's neurons, in order.
    pub fn shard_ranges(&self) -> Vec<Range<u64>> {
        self.shards.shards().map(|s| s.neurons.clone()).collect()
    }

    /// Cuts the shards anew by `seconds`, each shard's busy time over a measurement (the
    /// caller's: after a warm-up, without the transient): as many shards, of equal
    /// measured time, where that pays (`partition::cut_if_it_pays`). Returns whether the cut moved (then
    /// the shards were built again: `recut`).
    pub fn rebalance_shards(&mut self, desc: &Description, step: u64, seconds: &[f64], cut_by: &CutBy) -> Result<bool, InvalidBuild> {
        let ranges = self.shard_ranges();
        if ranges.len() < 2 || seconds.len() != ranges.len() {
            return Ok(false);
        }
        let Some(cut) = partition::cut_if_it_pays(desc, &ranges, seconds, cut_by.rates_hz.as_deref(), cut_by.min_gain) else {
            return Ok(false);
        };
        self.recut(desc, cut, step)?;
        Ok(true)
    }

    /// Builds the shards again as `ranges` (contiguous, covering the backend's neurons,
    /// aligned) and moves the state into them, to go on at step `step`, the first of the
    /// next epoch. The old shards are dropped before the new are built: the memory held
    /// at once is that of one build.
    pub fn recut(&mut self, desc: &Description, ranges: Vec<Range<u64>>, step: u64) -> Result<(), InvalidBuild> {
        debug_assert!(
            ranges.first().map(|r| r.start) == Some(self.neurons.start) && ranges.last().map(|r| r.end) == Some(self.neurons.end)
        );
        let probes: Vec<Probe> =
            self.shards.shards().next().map(|s| s.probes.iter().map(|p| p.probe.clone()).collect()).unwrap_or_default();
        let mut samples = Vec::with_capacity(probes.len());
        for k in 0..probes.len() {
            let mut taken = Vec::new();
            self.take_samples(k, &mut taken);
            samples.push(taken);
        }
        let time_lookup = self.shards.shards().any(|s| s.synapses.time_lookup);
        self.carried = Carried {
            samples,
            clamps: self.table_clamps(desc.populations.len()),
            times: WorkTimes { shards: Vec::new(), ..self.work_times() },
        };
        let mut saved = Vec::new();
        self.visit_state(&mut |piece| {
            saved.push(SavedArray::of(&piece));
            Ok(())
        })
        .expect("saving never fails");

        self.settle_plastic(step);
        let plastic: Vec<(u32, crate::connectivity::PlasticState)> =
            desc.projections.iter().filter(|p| p.plasticity.is_some()).map(|p| (p.id, self.plastic_state(p.id))).collect();

        let none = ShardWorkers::start_with(Vec::new(), 1).expect("no thread to start");
        drop(std::mem::replace(&mut self.shards, none));
        // The spike sources' trains read once for all the new shards, not by each.
        desc.load_trains(&self.neurons).map_err(|error| InvalidBuild { key: -1.0, error })?;
        self.shards = build_shards(desc, ranges, self.options, self.ring_slots)?;
        // The rows of data the new stores read and the trains the new groups read, let go
        // as after the first build.
        crate::sonata::edges::forget(desc);
        desc.forget_trains();

        for probe in probes {
            self.add_probe(probe);
        }
        if time_lookup {
            self.time_lookups();
        }
        self.visit_state(&mut |mut piece| {
            for s in &saved {
                s.copy_into(&mut piece);
            }
            Ok(())
        })
        .expect("restoring never fails");
        for (projection, state) in &plastic {
            self.set_plastic_state(*projection, state).expect("the same synapses, cut anew");
        }
        let lists: Vec<Arc<Vec<Spike>>> = self.in_flight.iter().cloned().collect();
        for mut shard in self.shards.shards() {
            shard.in_flight.restore(&lists, step);
        }
        Ok(())
    }
}
