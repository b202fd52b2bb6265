//! Spike sources: neurons that replay given spike trains (PyNN's `SpikeSourceArray`,
//! NEST's `spike_train_injector`, SONATA's virtual nodes) and take no input. A
//! population's trains are read for a range of its neurons (`TrainReader`: the spike
//! file, `sonata::spikes`) as (step, neuron) pairs when the groups holding them are
//! built: a process reads and keeps only its own neurons' spikes, read once for all its
//! groups (`SpikeTrains::load`); each group walks its own step by step.

use super::declaration::{Declaration, Declared, StateVariable};
use super::{Build, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, StateArrayMut, StepInput};
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// (step in which a spike is emitted, neuron), sorted by step then neuron, each once.
pub type Pairs = Vec<(u32, u32)>;

/// Where a population's trains come from.
pub trait TrainReader: std::fmt::Debug + Send + Sync {
    /// The trains of the population's neurons `ids`: pairs with neurons counted from
    /// `ids.start`, and how many repeats of a neuron in one step were dropped.
    fn read(&self, ids: Range<u64>) -> crate::error::Result<(Pairs, u64)>;

    /// The file read, for messages.
    fn file(&self) -> String;
}

/// Trains given whole (tests, and sources without a file).
#[derive(Debug)]
struct Given(Pairs);

impl TrainReader for Given {
    fn file(&self) -> String {
        "(given)".into()
    }

    fn read(&self, ids: Range<u64>) -> crate::error::Result<(Pairs, u64)> {
        let inside = |i: u32| ids.contains(&(i as u64));
        Ok((self.0.iter().filter(|&&(_, i)| inside(i)).map(|&(s, i)| (s, i - ids.start as u32)).collect(), 0))
    }
}

/// A population's spike trains: read for ranges of its neurons, and those read kept
/// for the groups built from them until let go.
#[derive(Debug)]
pub struct SpikeTrains {
    reader: Box<dyn TrainReader>,
    pub neurons: u64,
    loaded: Mutex<Vec<(Range<u64>, Arc<Pairs>)>>,
}

impl SpikeTrains {
    /// From pairs sorted and without repeats.
    pub fn new(spikes: Pairs, neurons: u64) -> SpikeTrains {
        debug_assert!(spikes.windows(2).all(|w| w[0] < w[1]));
        SpikeTrains::from_reader(Box::new(Given(spikes)), neurons)
    }

    pub fn from_reader(reader: Box<dyn TrainReader>, neurons: u64) -> SpikeTrains {
        SpikeTrains { reader, neurons, loaded: Mutex::new(Vec::new()) }
    }

    /// Reads and keeps the trains of neurons `ids` (unless kept already): returns the
    /// repeats dropped from them (0 where they were kept already).
    pub fn load(&self, ids: Range<u64>) -> crate::error::Result<u64> {
        if ids.is_empty() || self.kept(&ids).is_some() {
            return Ok(0);
        }
        let (pairs, dropped) = self.reader.read(ids.clone())?;
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).push((ids, Arc::new(pairs)));
        Ok(dropped)
    }

    /// The file the trains are read from, for messages.
    pub fn file(&self) -> String {
        self.reader.file()
    }

    /// Lets go of the trains read, once the groups are built.
    pub fn forget(&self) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Trains kept whose neurons include `ids`: (their first neuron, pairs).
    fn kept(&self, ids: &Range<u64>) -> Option<(u64, Arc<Pairs>)> {
        let loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded.iter().find(|(r, _)| r.start <= ids.start && ids.end <= r.end).map(|(r, p)| (r.start, p.clone()))
    }

    /// The trains of neurons `ids`, counted from `ids.start`: from those kept, else read
    /// (a read that fails gives none: the build loads its neurons' trains first, and
    /// reports a failure there).
    fn of(&self, ids: Range<u64>) -> Pairs {
        match self.kept(&ids) {
            Some((first, pairs)) => {
                let inside = |i: u32| ids.contains(&(first + i as u64));
                let shift = (ids.start - first) as u32;
                pairs.iter().filter(|&&(_, i)| inside(i)).map(|&(s, i)| (s, i - shift)).collect()
            }
            None => self.reader.read(ids).map(|(pairs, _)| pairs).unwrap_or_default(),
        }
    }
}

pub fn declaration() -> Declaration {
    Declaration {
        model: "spike_source",
        parameters: Vec::new(),
        state: vec![StateVariable::from_initial("spiked", "", "0")],
        derived: Vec::new(),
        step: "none: the neuron spikes in the steps its train gives (the file's times, at the end of their step)".into(),
        threshold: "a spike of the train in this step".into(),
        reset: "none".into(),
        integrates_conductances: false,
        // The position in the trains, per group.
        extra_bytes_per_neuron: 0,
        initial_note: None,
        filters_weights: false,
        conductance_synapses: None,
    }
}

fn from_declared(_: Declared, trains: Arc<SpikeTrains>) -> NeuronModel {
    NeuronModel::SpikeSource(SpikeSourceSpec { trains })
}

#[derive(Clone, Debug)]
pub struct SpikeSourceSpec {
    pub trains: Arc<SpikeTrains>,
}

impl Model for SpikeSourceSpec {
    type Group = SpikeSourceGroup;
    const KIND: ModelKind = ModelKind {
        name: "spike_source",
        declaration,
        build: Build::WithSpikeTrains(from_declared),
        check: None,
        shader: "",
        gpu: "refused: spike trains are replayed on the CPU backend",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<SpikeSourceGroup, InvalidValue> {
        self.build_at(0, r)
    }

    /// The group of the population's neurons `first..` (as many as `r` has).
    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<SpikeSourceGroup, InvalidValue> {
        let n = r.count();
        let spikes = self.trains.of(first..first + n as u64);
        Ok(SpikeSourceGroup { spikes, at: 0, next_step: 0, spiked: vec![0.0; n], fired: Vec::new() })
    }

    fn step_cost_ns(&self) -> f64 {
        0.05
    }

    fn gpu_unsupported(&self) -> Option<String> {
        Some("spike sources replay their trains on the CPU backend only (use --backend cpu)".into())
    }
}

/// The trains of a contiguous range of a population's neurons and where the run is in them.
#[derive(Clone, Debug)]
pub struct SpikeSourceGroup {
    /// (step, neuron of the group), sorted.
    spikes: Vec<(u32, u32)>,
    /// The first spike not yet replayed.
    at: usize,
    /// The step expected next: any other (a run resumed, a group built anew) finds its
    /// place in the trains again.
    next_step: u64,
    /// 1 in the step a neuron spiked: its one state variable.
    spiked: Vec<f32>,
    /// The neurons that spiked in the last step, ascending.
    fired: Vec<u32>,
}

impl Group for SpikeSourceGroup {
    fn len(&self) -> usize {
        self.spiked.len()
    }

    fn bytes(&self) -> usize {
        self.len() * 4 + self.spikes.len() * 8
    }

    fn step(&mut self, input: &StepInput) -> bool {
        if input.step != self.next_step {
            self.at = self.spikes.partition_point(|&(s, _)| (s as u64) < input.step);
            // Flags restored from a checkpoint or a re-cut: none is this group's to clear.
            self.spiked.fill(0.0);
        }
        for &i in &self.fired {
            self.spiked[i as usize] = 0.0;
        }
        self.fired.clear();
        while let Some(&(s, i)) = self.spikes.get(self.at) {
            if s as u64 != input.step {
                break;
            }
            self.fired.push(i);
            self.spiked[i as usize] = 1.0;
            self.at += 1;
        }
        self.next_step = input.step + 1;
        false
    }

    fn collect_spikes(&self, mut emit: impl FnMut(usize)) {
        self.fired.iter().for_each(|&i| emit(i as usize));
    }

    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        None
    }

    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        (k == 0).then_some(self.spiked.as_slice())
    }

    /// Nothing but the flags: the place in the trains follows from the step.
    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        vec![StateArrayMut::F32(&mut self.spiked)]
    }

    fn gpu_model(&self) -> Option<GpuModel> {
        None
    }

    fn gpu_state_count(&self) -> usize {
        1
    }

    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.spiked]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group replays its own neurons' spikes in their steps, and finds its place again
    /// when the steps jump (a resumed run, a group built anew mid-run).
    #[test]
    fn a_group_replays_its_neurons_trains() {
        let trains = Arc::new(SpikeTrains::new(vec![(0, 3), (2, 1), (2, 4), (5, 2), (9, 4)], 6));
        let spec = SpikeSourceSpec { trains };
        let mut g = spec.build_at(1, (0..4).map(|_| 0.5)).unwrap();
        let synaptic = crate::synapse::Synaptic::none();
        let run = |g: &mut SpikeSourceGroup, steps: std::ops::Range<u64>| {
            let mut out = Vec::new();
            for step in steps {
                g.step(&StepInput { input: &[0.0; 4], currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step });
                g.collect_spikes(|i| out.push((step, i)));
            }
            out
        };
        assert_eq!(run(&mut g, 0..10), vec![(0, 2), (2, 0), (2, 3), (5, 1), (9, 3)]);
        assert_eq!(run(&mut g, 2..6), vec![(2, 0), (2, 3), (5, 1)]);
        assert_eq!(g.state_variable(0).unwrap(), &[0.0, 1.0, 0.0, 0.0]);
        assert_eq!(run(&mut g, 6..9), vec![]);
        assert_eq!(g.state_variable(0).unwrap(), &[0.0, 0.0, 0.0, 0.0]);
    }
}
