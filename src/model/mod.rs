//! Neuron models: parameters, struct-of-arrays state, the step rule and threshold/reset.
//! The engine knows none of their equations; it asks a group to step and to list spikes.

pub mod hh;
pub mod izhikevich;

pub use hh::{HhGroup, HhSpec};
pub use izhikevich::{IzhikevichGroup, IzhikevichSpec};

use crate::synapse::Synaptic;

/// A population's model with its parameter expressions.
#[derive(Clone, Debug)]
pub enum NeuronModel {
    Izhikevich(IzhikevichSpec),
    Hh(HhSpec),
}

impl NeuronModel {
    /// The model names a model file may use.
    pub const NAMES: &'static [&'static str] = &["izhikevich", "hh"];

    /// Builds the state of neurons whose per-neuron uniforms are `r`, or names the first
    /// neuron with a parameter or initial value that is not a finite f32.
    pub fn build(&self, r: impl Iterator<Item = f64>) -> Result<NeuronGroup, InvalidValue> {
        match self {
            NeuronModel::Izhikevich(spec) => spec.build(r).map(NeuronGroup::Izhikevich),
            NeuronModel::Hh(spec) => spec.build(r).map(|g| NeuronGroup::Hh(Box::new(g))),
        }
    }

    pub fn bytes_per_neuron(&self) -> usize {
        match self {
            NeuronModel::Izhikevich(spec) => spec.bytes_per_neuron(),
            NeuronModel::Hh(spec) => spec.bytes_per_neuron(),
        }
    }

    /// Bytes a group of this model holds whatever its size (HH rate tables).
    pub fn fixed_bytes(&self) -> usize {
        match self {
            NeuronModel::Izhikevich(_) => 0,
            NeuronModel::Hh(spec) => spec.table_bytes(),
        }
    }

    /// Measured cost of one neuron-step in ns on one core, noise excluded
    /// (`cargo bench --bench kernels -- update`; BENCHMARKS.md). Used to balance ranks
    /// when populations differ in model.
    pub fn step_cost_ns(&self) -> f64 {
        match self {
            NeuronModel::Izhikevich(_) => 0.5,
            // Exponential Euler with tables: per gate two interpolations and a relaxation.
            NeuronModel::Hh(spec) => 2.0 + 1.5 * spec.gate_count() as f64,
        }
    }
}

/// A per-neuron parameter or initial value that is NaN, infinite or beyond f32.
#[derive(Clone, Debug, PartialEq)]
pub struct InvalidValue {
    /// The neuron's index in the range built.
    pub index: usize,
    /// "parameters" or "initial": the model file's table.
    pub table: &'static str,
    pub name: &'static str,
    /// The neuron's uniform.
    pub r: f64,
    pub value: f64,
}

/// A state variable that left the finite numbers during a run.
#[derive(Clone, Debug, PartialEq)]
pub struct NonFinite {
    pub gid: u64,
    /// The step after which it was seen.
    pub step: u64,
    pub variable: &'static str,
    pub value: f32,
}

/// The state of a contiguous range of neurons of one population.
#[derive(Clone, Debug)]
pub enum NeuronGroup {
    Izhikevich(IzhikevichGroup),
    /// Boxed: its tables and kernel plan make it several times the size of the others.
    Hh(Box<HhGroup>),
}

impl NeuronGroup {
    pub fn len(&self) -> usize {
        match self {
            NeuronGroup::Izhikevich(g) => g.len(),
            NeuronGroup::Hh(g) => g.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of state held.
    pub fn bytes(&self) -> usize {
        match self {
            NeuronGroup::Izhikevich(g) => g.len() * g.bytes_per_neuron(),
            NeuronGroup::Hh(g) => g.len() * g.bytes_per_neuron() + g.table_bytes(),
        }
    }

    /// The first neuron whose state is not finite: (index, variable, value).
    pub fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        match self {
            NeuronGroup::Izhikevich(g) => g.first_non_finite(),
            NeuronGroup::Hh(g) => g.first_non_finite(),
        }
    }

    /// Membrane potentials, for recording and tests.
    pub fn voltages(&self) -> &[f32] {
        match self {
            NeuronGroup::Izhikevich(g) => &g.v,
            NeuronGroup::Hh(g) => &g.v,
        }
    }

    /// Whether the model integrates synaptic conductances in its own update (a
    /// Hodgkin–Huxley membrane, beside its ion channels); the others take every synaptic
    /// kind as a current, added to their input (`synapse::add_as_currents`).
    pub fn integrates_conductances(&self) -> bool {
        matches!(self, NeuronGroup::Hh(_))
    }

    /// One step with input current `input[i] + common` for neuron i and, for a model
    /// that integrates them, the synaptic kinds' contributions; true if some state left
    /// the finite numbers.
    #[inline]
    pub fn step(&mut self, input: &[f32], common: f32, synaptic: &Synaptic, dt: f32) -> bool {
        match self {
            NeuronGroup::Izhikevich(g) => {
                debug_assert!(synaptic.is_empty(), "added to the input as currents");
                g.step(input, common, dt)
            }
            NeuronGroup::Hh(g) => g.step(input, common, synaptic, dt),
        }
    }

    /// Calls `emit` with the index of each neuron that spiked in the last step.
    #[inline]
    pub fn collect_spikes(&self, emit: impl FnMut(usize)) {
        match self {
            NeuronGroup::Izhikevich(g) => g.collect_spikes(emit),
            NeuronGroup::Hh(g) => g.collect_spikes(emit),
        }
    }

    /// Neuron-steps whose v lay outside the model's rate tables (clamped to the edge).
    pub fn clamped(&self) -> u64 {
        match self {
            NeuronGroup::Izhikevich(_) => 0,
            NeuronGroup::Hh(g) => g.clamped,
        }
    }
}
