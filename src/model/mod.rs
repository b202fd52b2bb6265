//! Neuron models: parameters, struct-of-arrays state, the step rule and threshold/reset.
//! The engine knows none of their equations; it asks a group to step and to list spikes.
//! Each model declares itself (`declaration`), and `KINDS` lists the models a model file
//! can name: the rest of volley reads those, and names no model.

pub mod declaration;
pub mod hh;
pub mod izhikevich;
pub mod lif;

pub use declaration::{Declaration, Declared};
pub use hh::{HhGroup, HhSpec};
pub use izhikevich::{IzhikevichGroup, IzhikevichSpec};
pub use lif::{LifGroup, LifSpec};

use crate::synapse::Synaptic;

/// A neuron model a model file can name.
pub struct ModelKind {
    pub name: &'static str,
    /// Its declaration before a population's file is read (a Hodgkin–Huxley model's
    /// gates come from the file: `NeuronModel::declaration` has them).
    pub declaration: fn() -> Declaration,
    /// Whether its populations list ion channels (`[[population.channel]]`, with a rate
    /// table and an integrator).
    pub ion_channels: bool,
    /// The model of a population from its values as declared, and its ion channels.
    pub build: fn(Declared, Option<hh::IonChannels>, f64) -> NeuronModel,
    /// What the parameters must satisfy together, beyond each one's bound: the parameter
    /// to blame and what was expected.
    pub check: Option<ParameterCheck>,
}

/// A model's check of its parameters together: the parameter to blame and what was
/// expected, if they do not hold.
pub type ParameterCheck = fn(&Declared) -> Option<(&'static str, String)>;

/// Every model a model file can name.
pub const KINDS: &[ModelKind] = &[izhikevich::KIND, hh::KIND, lif::KIND];

/// The model a model file names `name`.
pub fn kind(name: &str) -> Option<&'static ModelKind> {
    KINDS.iter().find(|k| k.name == name)
}

/// A population's model with its parameter expressions.
#[derive(Clone, Debug)]
pub enum NeuronModel {
    Izhikevich(IzhikevichSpec),
    Hh(HhSpec),
    Lif(LifSpec),
}

impl NeuronModel {
    /// The instruction set its step kernel runs with: the widest, unless the model's
    /// kernel chose otherwise for this CPU.
    pub fn kernel_level(&self) -> crate::simd::Level {
        match self {
            NeuronModel::Hh(h) if h.integrator == hh::Integrator::ExponentialEuler => hh::kernel_level(),
            _ => crate::simd::level(),
        }
    }

    /// A warning when `dt_ms` is too long for the model's fastest dynamics (the gates of
    /// a Hodgkin–Huxley membrane; the other models are integrated exactly or as their
    /// definition says).
    pub fn dt_warning(&self, dt_ms: f64) -> Option<String> {
        match self {
            NeuronModel::Hh(h) => h.dt_warning(dt_ms),
            _ => None,
        }
    }

    /// Why no membrane potential a neuron of this population can reach crosses its
    /// threshold, if so: given the reversal potentials of conductance-based synapses onto
    /// it and the largest total current injected into a neuron (None: unbounded). Only a
    /// membrane bounded by its reversal potentials has such a ceiling (Hodgkin–Huxley);
    /// the integrate-and-fire models reach any threshold with enough input.
    pub fn unreachable_threshold(&self, reversals: &[f64], current: Option<f64>) -> Option<String> {
        match self {
            NeuronModel::Hh(h) => {
                let ceiling = h.v_ceiling(reversals, current)?;
                (h.threshold > ceiling).then(|| {
                    format!(
                        "a threshold of {} mV is never crossed: v stays below {ceiling:.1} mV (the highest reversal potential, or e_l + the largest injected current / g_l); expected a threshold below it",
                        h.threshold
                    )
                })
            }
            _ => None,
        }
    }

    /// What the model of this population declares: its parameters, state variables
    /// (a Hodgkin–Huxley model's gates included), derived quantities and rule.
    pub fn declaration(&self) -> Declaration {
        match self {
            NeuronModel::Izhikevich(_) => izhikevich::declaration(),
            NeuronModel::Hh(spec) => spec.declaration(),
            NeuronModel::Lif(_) => lif::declaration(),
        }
    }

    /// Why the GPU backend cannot step this model, if it cannot.
    pub fn gpu_unsupported(&self) -> Option<String> {
        match self {
            NeuronModel::Hh(h) if h.integrator == hh::Integrator::Rk4 => Some(
                "integrator = \"rk4\" steps in f64, which the GPU backend does not (the exponential Euler integrator runs there)".into(),
            ),
            _ => None,
        }
    }

    /// Builds the state of neurons whose per-neuron uniforms are `r`, or names the first
    /// neuron with a parameter or initial value that is not a finite f32.
    pub fn build(&self, r: impl Iterator<Item = f64>) -> Result<NeuronGroup, InvalidValue> {
        match self {
            NeuronModel::Izhikevich(spec) => spec.build(r).map(NeuronGroup::Izhikevich),
            NeuronModel::Hh(spec) => spec.build(r).map(|g| NeuronGroup::Hh(Box::new(g))),
            NeuronModel::Lif(spec) => spec.build(r).map(NeuronGroup::Lif),
        }
    }

    /// Bytes of state per neuron, from the declaration: its state variables, the
    /// parameters held per neuron (those that vary across neurons), its extra bytes.
    pub fn bytes_per_neuron(&self) -> usize {
        let per_neuron_parameters = match self {
            NeuronModel::Izhikevich(spec) => spec.per_neuron_parameters(),
            NeuronModel::Hh(_) | NeuronModel::Lif(_) => 0,
        };
        self.declaration().bytes_per_neuron(per_neuron_parameters)
    }

    /// Bytes a group of this model holds whatever its size (HH rate tables).
    pub fn fixed_bytes(&self) -> usize {
        match self {
            NeuronModel::Izhikevich(_) | NeuronModel::Lif(_) => 0,
            NeuronModel::Hh(spec) => spec.table_bytes(),
        }
    }

    /// The arrays a checkpoint holds for this model, by name, with whether each is f64:
    /// every declared state variable, then what its groups keep beside them
    /// (`NeuronGroup::checkpoint_arrays_mut` gives them in this order).
    pub fn checkpoint_names(&self) -> Vec<(String, bool)> {
        let mut names: Vec<(String, bool)> = self.declaration().state.iter().map(|s| (s.name.to_string(), false)).collect();
        if let NeuronModel::Hh(spec) = self {
            if spec.integrator == hh::Integrator::Rk4 {
                let f64_copies: Vec<(String, bool)> = names.iter().map(|(n, _)| (format!("{n}.f64"), true)).collect();
                names.extend(f64_copies);
            }
        }
        names
    }

    /// Measured cost of one neuron-step in ns on one core, noise excluded (the
    /// Izhikevich kernel: `cargo bench --bench kernels -- update`; Hodgkin–Huxley: whole
    /// runs of hh_five_current, 9 gates, on the reference machine — exponential Euler
    /// 6.4 ns, RK4 1160 ns; BENCHMARKS.md "Planner"). Balances ranks where populations
    /// differ in model, and the planner's time.
    pub fn step_cost_ns(&self) -> f64 {
        match self {
            NeuronModel::Izhikevich(_) => 0.5,
            // `cargo bench --bench kernels -- iaf_psc_exp` on the reference machine: 0.41 ns.
            NeuronModel::Lif(_) => 0.4,
            NeuronModel::Hh(spec) => {
                let gates = spec.gate_count() as f64;
                match spec.integrator {
                    // Tables read by rows: per gate an interpolation and a relaxation.
                    hh::Integrator::ExponentialEuler => 1.0 + 0.6 * gates,
                    // Four stages of the exact rate functions in f64.
                    hh::Integrator::Rk4 => 20.0 + 125.0 * gates,
                }
            }
        }
    }
}

/// One array of a group's state, one value per neuron, as a checkpoint saves and
/// restores it.
pub enum StateArrayMut<'a> {
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
}

impl StateArrayMut<'_> {
    pub fn len(&self) -> usize {
        match self {
            StateArrayMut::F32(a) => a.len(),
            StateArrayMut::F64(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A group's model as the GPU backend steps it: the WGSL twin of its step rule (a
/// `model_step` function over the accessors of `shaders/update.wgsl`) and its arrays.
pub struct GpuModel {
    pub shader: &'static str,
    /// State variables in the shader's order (`NeuronGroup::gpu_state_mut`'s).
    pub state: Vec<Vec<f32>>,
    /// Parameters in the shader's order: values, and whether one per neuron (else one).
    pub parameters: Vec<(Vec<f32>, bool)>,
    pub constants: Vec<f32>,
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
    Lif(LifGroup),
}

impl NeuronGroup {
    pub fn len(&self) -> usize {
        match self {
            NeuronGroup::Izhikevich(g) => g.len(),
            NeuronGroup::Hh(g) => g.len(),
            NeuronGroup::Lif(g) => g.len(),
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
            NeuronGroup::Lif(g) => g.len() * g.bytes_per_neuron(),
        }
    }

    /// The first neuron whose state is not finite: (index, variable, value).
    pub fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        match self {
            NeuronGroup::Izhikevich(g) => g.first_non_finite(),
            NeuronGroup::Hh(g) => g.first_non_finite(),
            NeuronGroup::Lif(g) => g.first_non_finite(),
        }
    }

    /// The values of the `k`-th declared state variable (`NeuronModel::declaration`),
    /// one per neuron: what recording and checkpoints read.
    pub fn state_variable(&self, k: usize) -> Option<&[f32]> {
        match self {
            NeuronGroup::Izhikevich(g) => [&g.v, &g.u].get(k).map(|x| x.as_slice()),
            NeuronGroup::Hh(g) => g.state_variable(k),
            NeuronGroup::Lif(g) => [&g.v, &g.i_syn, &g.refractory].get(k).map(|x| x.as_slice()),
        }
    }

    /// The state a checkpoint saves and restores, in `NeuronModel::checkpoint_names`
    /// order: everything the next step reads that is not derived from the parameters.
    pub fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        match self {
            NeuronGroup::Izhikevich(g) => vec![StateArrayMut::F32(&mut g.v), StateArrayMut::F32(&mut g.u)],
            NeuronGroup::Hh(g) => g.checkpoint_arrays_mut(),
            NeuronGroup::Lif(g) => {
                vec![StateArrayMut::F32(&mut g.v), StateArrayMut::F32(&mut g.i_syn), StateArrayMut::F32(&mut g.refractory)]
            }
        }
    }

    /// The group as the GPU backend steps it; None for a model without a WGSL twin.
    pub fn gpu_model(&self) -> Option<GpuModel> {
        match self {
            NeuronGroup::Izhikevich(g) => Some(g.gpu_model()),
            NeuronGroup::Hh(g) => g.gpu_model(),
            NeuronGroup::Lif(g) => Some(g.gpu_model()),
        }
    }

    /// The number of state arrays of `gpu_model`: the declared state variables, first.
    pub fn gpu_state_count(&self) -> usize {
        match self {
            NeuronGroup::Izhikevich(_) => 2,
            NeuronGroup::Hh(g) => 1 + g.state_count(),
            NeuronGroup::Lif(_) => 3,
        }
    }

    /// The state arrays of `gpu_model`, in its order, to copy the GPU's state into.
    pub fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        match self {
            NeuronGroup::Izhikevich(g) => vec![&mut g.v, &mut g.u],
            NeuronGroup::Hh(g) => g.gpu_state_mut(),
            NeuronGroup::Lif(g) => vec![&mut g.v, &mut g.i_syn, &mut g.refractory],
        }
    }

    /// Membrane potentials, for recording and tests.
    pub fn voltages(&self) -> &[f32] {
        match self {
            NeuronGroup::Izhikevich(g) => &g.v,
            NeuronGroup::Hh(g) => &g.v,
            NeuronGroup::Lif(g) => &g.v,
        }
    }

    /// Whether the model integrates synaptic conductances in its own update (a
    /// Hodgkin–Huxley membrane, beside its ion channels); the others take every synaptic
    /// kind as a current, added to their input (`synapse::add_as_currents`).
    pub fn integrates_conductances(&self) -> bool {
        matches!(self, NeuronGroup::Hh(_))
    }

    /// Whether the model takes the weights arriving in a step apart from the stimulus
    /// currents (a current-based LIF filters the weights with its synaptic time
    /// constant); the others take one input current, weights and stimuli summed.
    pub fn takes_currents_apart(&self) -> bool {
        matches!(self, NeuronGroup::Lif(_))
    }

    /// One step with input current `input[i] + common` for neuron i and, for a model
    /// that integrates them, the synaptic kinds' contributions; true if some state left
    /// the finite numbers. For a model that `takes_currents_apart`, `input` holds the
    /// weights arriving and `currents` the stimuli's per-neuron currents (None: none).
    #[inline]
    pub fn step(&mut self, input: &[f32], currents: Option<&[f32]>, common: f32, synaptic: &Synaptic, dt: f32) -> bool {
        match self {
            NeuronGroup::Izhikevich(g) => {
                debug_assert!(synaptic.is_empty() && currents.is_none(), "added to the input as currents");
                g.step(input, common, dt)
            }
            NeuronGroup::Hh(g) => g.step(input, common, synaptic, dt),
            NeuronGroup::Lif(g) => {
                debug_assert!(synaptic.is_empty(), "refused at the model file: delta synapses only");
                g.step(input, currents, common)
            }
        }
    }

    /// Calls `emit` with the index of each neuron that spiked in the last step.
    #[inline]
    pub fn collect_spikes(&self, emit: impl FnMut(usize)) {
        match self {
            NeuronGroup::Izhikevich(g) => g.collect_spikes(emit),
            NeuronGroup::Hh(g) => g.collect_spikes(emit),
            NeuronGroup::Lif(g) => g.collect_spikes(emit),
        }
    }

    /// Neuron-steps whose v lay outside the model's rate tables (clamped to the edge).
    pub fn clamped(&self) -> u64 {
        match self {
            NeuronGroup::Izhikevich(_) | NeuronGroup::Lif(_) => 0,
            NeuronGroup::Hh(g) => g.clamped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Overrides};

    /// Each model's declaration matches what its groups hold: every declared state
    /// variable can be read, one value per neuron, v first; the bytes per neuron it
    /// implies are those held; it says whether the model takes conductances.
    #[test]
    fn declarations_describe_the_groups() {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        for k in KINDS {
            assert_eq!((k.declaration)().model, k.name);
            assert_eq!(names.iter().filter(|&&n| n == k.name).count(), 1, "{} named once", k.name);
        }
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for file in ["izhikevich2003.toml", "hh_five_current.toml", "hh_network.toml", "hh_classic.toml", "microcircuit.toml"] {
            let desc = config::load(&examples.join(file), &Overrides::default()).unwrap();
            for p in &desc.populations {
                let d = p.model.declaration();
                let n = 100;
                let group = p.model.build((0..n).map(|i| i as f64 / n as f64)).unwrap();
                for k in 0..d.state.len() {
                    let values = group.state_variable(k).unwrap_or_else(|| panic!("{file}: {} readable", d.state[k].name));
                    assert_eq!(values.len(), n, "{file}: {}", d.state[k].name);
                }
                assert!(group.state_variable(d.state.len()).is_none(), "{file}: no undeclared state");
                assert_eq!(d.state[0].name, "v");
                assert_eq!(group.state_variable(0).unwrap(), group.voltages());
                assert_eq!(d.integrates_conductances, group.integrates_conductances(), "{file}");
                assert_eq!(d.filters_weights, group.takes_currents_apart(), "{file}");
                assert_eq!(group.bytes(), n * p.model.bytes_per_neuron() + p.model.fixed_bytes(), "{file}: bytes");
            }
        }
    }
}
