//! Neuron models: parameters, struct-of-arrays state, the step rule and threshold/reset.
//! The engine knows none of their equations; it asks a group to step and to list spikes.
//!
//! A model is one file (or folder) here plus its shader in `shaders/`: its spec
//! implements [`Model`] (its declaration, how it builds its neurons, what a step costs)
//! and its state implements [`Group`] (the step over a shard with one [`StepInput`], its
//! checkpoint state, its GPU bindings). The one line naming it in `register_models!`
//! below adds it to `NeuronModel`, `NeuronGroup` and `KINDS`: the rest of volley reads
//! those, and names no model.

pub mod channels;
pub mod declaration;
pub mod membrane_input;

pub use declaration::{Declaration, Declared};

use crate::simd::Level;
use crate::synapse::Synaptic;

/// A neuron model a model file can name.
#[derive(Clone)]
pub struct ModelKind {
    pub name: &'static str,
    /// Its declaration before a population's file is read (a Hodgkin–Huxley model's
    /// gates come from the file: `NeuronModel::declaration` has them). The flags it
    /// states (`integrates_conductances`, `filters_weights`) are the only source of
    /// those facts.
    pub declaration: fn() -> Declaration,
    /// The model of a population from its values as declared (and what else its
    /// population lists) and dt in ms.
    pub build: Build,
    /// What the parameters must satisfy together, beyond each one's bound: the parameter
    /// to blame and what was expected.
    pub check: Option<ParameterCheck>,
    /// Its step in WGSL: a `model_step` function over the accessors of
    /// `shaders/update.wgsl`.
    pub shader: &'static str,
    /// What the GPU backend runs of it, in words, for the model reference (the checks
    /// themselves are `Model::gpu_unsupported`).
    pub gpu: &'static str,
}

/// How a model's spec is made from what a population's table gives.
#[derive(Clone, Copy)]
pub enum Build {
    /// From its parameters and initial values alone.
    Values(fn(Declared, f64) -> NeuronModel),
    /// Also from the population's ion channels (`[[population.channel]]`, with a rate
    /// table and an integrator).
    WithIonChannels(fn(Declared, channels::IonChannels, f64) -> NeuronModel),
    /// From the spike trains its population replays (`spikes = FILE`).
    WithSpikeTrains(fn(Declared, std::sync::Arc<spike_source::SpikeTrains>) -> NeuronModel),
}

impl ModelKind {
    /// Whether its populations list ion channels.
    pub fn takes_ion_channels(&self) -> bool {
        matches!(self.build, Build::WithIonChannels(_))
    }

    /// Whether its populations replay spike trains from a file (and take no input).
    pub fn replays_spikes(&self) -> bool {
        matches!(self.build, Build::WithSpikeTrains(_))
    }
}

/// A model's check of its parameters together: the parameter to blame and what was
/// expected, if they do not hold.
pub type ParameterCheck = fn(&Declared) -> Option<(&'static str, String)>;

/// The model a model file names `name`.
pub fn kind(name: &str) -> Option<&'static ModelKind> {
    KINDS.iter().find(|k| k.name == name)
}

/// What a population's model is, from its parameter expressions: implemented by each
/// model's spec.
pub trait Model: Clone + std::fmt::Debug {
    /// The state of a contiguous range of its neurons.
    type Group: Group;
    /// How a model file names, declares and builds it.
    const KIND: ModelKind;

    /// Builds the state of neurons whose per-neuron uniforms are `r`, or names the first
    /// neuron with a parameter or initial value that is not a finite f32.
    fn build(&self, r: impl Iterator<Item = f64>) -> Result<Self::Group, InvalidValue>;

    /// Builds the state of the population's neurons from `first` (population-local), one
    /// per uniform of `r`: what a model whose neurons differ by more than their uniform
    /// (a spike source's trains) needs.
    fn build_at(&self, _first: u64, r: impl Iterator<Item = f64>) -> Result<Self::Group, InvalidValue> {
        self.build(r)
    }

    /// Measured cost of one neuron-step in ns on one core, noise excluded. Balances
    /// ranks where populations differ in model, and the planner's time.
    fn step_cost_ns(&self) -> f64;

    /// What the model of this population declares: its parameters, state variables,
    /// derived quantities and rule.
    fn declaration(&self) -> Declaration {
        (Self::KIND.declaration)()
    }

    /// Parameters held per neuron (those that vary across neurons).
    fn per_neuron_parameters(&self) -> usize {
        0
    }

    /// Bytes a group of this model holds whatever its size (rate tables).
    fn fixed_bytes(&self) -> usize {
        0
    }

    /// The instruction set its step kernel runs with.
    fn kernel_level(&self) -> Level {
        crate::simd::level()
    }

    /// A warning when `dt_ms` is too long for the model's fastest dynamics.
    fn dt_warning(&self, _dt_ms: f64) -> Option<String> {
        None
    }

    /// Why no membrane potential a neuron of this population can reach crosses its
    /// threshold, if so: given the reversal potentials of conductance-based synapses onto
    /// it and the largest total current injected into a neuron (None: unbounded).
    fn unreachable_threshold(&self, _reversals: &[f64], _current: Option<f64>) -> Option<String> {
        None
    }

    /// Why the GPU backend cannot step this model, if it cannot.
    fn gpu_unsupported(&self) -> Option<String> {
        None
    }

    /// The arrays a checkpoint holds for this model, by name, with whether each is f64:
    /// every declared state variable, then what its groups keep beside them
    /// (`Group::checkpoint_arrays_mut` gives them in this order).
    fn checkpoint_names(&self) -> Vec<(String, bool)> {
        state_names(&self.declaration())
    }
}

/// A group's constants (propagators, thresholds): one set for all its neurons, or one per
/// neuron where their parameters differ, held as `S`: a list of sets (the scalar models),
/// or columns, one per field (`Columns`: what a vectorised step reads).
#[derive(Clone, Debug, PartialEq)]
pub enum Constants<C, S = Vec<C>> {
    Shared(C),
    PerNeuron(S),
}

/// Where each neuron's constants are held.
pub trait EachHeld<C> {
    fn get(&self, i: usize) -> C;
}

impl<C: Copy> EachHeld<C> for Vec<C> {
    #[inline(always)]
    fn get(&self, i: usize) -> C {
        self[i]
    }
}

impl<C: Copy, S: EachHeld<C>> Constants<C, S> {
    /// Neuron i's.
    #[inline(always)]
    pub fn of(&self, i: usize) -> C {
        match self {
            Constants::Shared(c) => *c,
            Constants::PerNeuron(each) => each.get(i),
        }
    }

    /// Bytes each neuron holds of its own (none where they share one set).
    pub fn bytes_per_neuron(&self) -> usize {
        match self {
            Constants::Shared(_) => 0,
            Constants::PerNeuron(_) => std::mem::size_of::<C>(),
        }
    }
}

impl<C: Copy> Constants<C> {
    /// The same constants, each neuron's held as columns.
    pub fn into_columns<const F: usize>(self) -> Constants<C, Columns<F>>
    where
        C: Fields<F>,
    {
        match self {
            Constants::Shared(c) => Constants::Shared(c),
            Constants::PerNeuron(each) => Constants::PerNeuron(Columns::of(&each)),
        }
    }
}

/// A set of constants of `F` f32 fields, taken apart into columns and put together again.
pub trait Fields<const F: usize>: Copy {
    fn fields(&self) -> [f32; F];
    fn from_fields(fields: [f32; F]) -> Self;
}

/// Each neuron's constants as `F` columns, one per field (field k of neuron i at
/// k·n + i): a step reads each field as a contiguous stream, in vector lanes, where a
/// list of sets is read field by field with gathers.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns<const F: usize> {
    n: usize,
    data: Vec<f32>,
}

impl<const F: usize> Columns<F> {
    pub fn of<C: Fields<F>>(each: &[C]) -> Columns<F> {
        let n = each.len();
        let mut data = vec![0.0; F * n];
        for (i, c) in each.iter().enumerate() {
            for (k, x) in c.fields().into_iter().enumerate() {
                data[k * n + i] = x;
            }
        }
        Columns { n, data }
    }

    /// The columns of neurons `range`, as a step kernel reads them.
    pub fn at(&self, range: std::ops::Range<usize>) -> ColumnsAt<'_, F> {
        ColumnsAt(std::array::from_fn(|k| &self.data[k * self.n + range.start..k * self.n + range.end]))
    }
}

impl<C: Fields<F>, const F: usize> EachHeld<C> for Columns<F> {
    #[inline(always)]
    fn get(&self, i: usize) -> C {
        C::from_fields(std::array::from_fn(|k| self.data[k * self.n + i]))
    }
}

/// The columns of a range of neurons.
#[derive(Clone, Copy, Debug)]
pub struct ColumnsAt<'a, const F: usize>([&'a [f32]; F]);

impl<C: Fields<F>, const F: usize> ConstantsAt<C> for ColumnsAt<'_, F> {
    #[inline(always)]
    fn prefix(self, n: usize) -> Self {
        ColumnsAt(self.0.map(|column| &column[..n]))
    }

    #[inline(always)]
    fn at(&self, i: usize) -> C {
        C::from_fields(std::array::from_fn(|k| self.0[k][i]))
    }
}

/// The constants a step kernel reads for neuron i of its slice: one set for all
/// (`Same`), or each neuron's own (a slice). A kernel generic over it compiles to the
/// shared-constants loop it was for `Same`, and reads a neuron's set with it otherwise.
pub trait ConstantsAt<C>: Copy {
    /// The constants of the slice's first `n` neurons (what a kernel takes before its
    /// loop, so that the reads in it need no bounds checks).
    fn prefix(self, n: usize) -> Self;
    fn at(&self, i: usize) -> C;
}

/// One set of constants for every neuron of a kernel's slice.
#[derive(Clone, Copy, Debug)]
pub struct Same<C>(pub C);

impl<C: Copy> ConstantsAt<C> for Same<C> {
    #[inline(always)]
    fn prefix(self, _: usize) -> Self {
        self
    }

    #[inline(always)]
    fn at(&self, _: usize) -> C {
        self.0
    }
}

impl<C: Copy> ConstantsAt<C> for &[C] {
    #[inline(always)]
    fn prefix(self, n: usize) -> Self {
        &self[..n]
    }

    #[inline(always)]
    fn at(&self, i: usize) -> C {
        self[i]
    }
}

/// The values a population's neurons share, where every parameter is a constant.
pub fn shared_values<const P: usize>(values: &[declaration::Values; P]) -> Option<[f64; P]> {
    let constants = values.each_ref().map(declaration::Values::constant);
    constants.iter().all(Option::is_some).then(|| constants.map(|x| x.expect("checked")))
}

/// The f32 slots each neuron of such a population holds of its own: `bytes` where its
/// parameters differ (its constants, and what else the model keeps per neuron), none
/// where they are shared.
pub fn own_slots<const P: usize>(values: &[declaration::Values; P], bytes: usize) -> usize {
    if shared_values(values).is_some() {
        0
    } else {
        bytes / 4
    }
}

/// How a model whose parameters may differ between neurons makes its groups: its
/// parameters' values as declared (name, default, unit, bound in slot order), what they
/// must satisfy together (`check`: the slot to blame and what was expected), and its
/// constants from one neuron's values.
pub struct EachNeuron<'a, const P: usize, C> {
    pub values: &'a [declaration::Values; P],
    pub declared: &'a [(&'static str, &'static str, &'static str, Option<declaration::Bound>); P],
    pub check: fn(&[f64]) -> Option<(usize, String)>,
    pub constants_of: &'a mut dyn FnMut(&[f64; P]) -> C,
}

impl<const P: usize, C> EachNeuron<'_, P, C> {
    /// The initial state (`initial`, variables `names`) and constants of the neurons
    /// from population-local id `first` whose uniforms are `r`: one set of constants
    /// where every parameter is a constant (checked with the model file), else each
    /// neuron's, its values checked (bounds, then `check`), or the first neuron whose
    /// values cannot be simulated.
    pub fn build<const N: usize>(
        self,
        initial: &[crate::expr::Expr; N],
        names: [&'static str; N],
        first: u64,
        r: impl Iterator<Item = f64>,
    ) -> Result<([Vec<f32>; N], Constants<C>), InvalidValue> {
        let EachNeuron { values, declared, check, constants_of } = self;
        if let Some(p) = shared_values(values) {
            return Ok((initial_state(initial, &p, names, r)?, Constants::Shared(constants_of(&p))));
        }
        let mut each = Vec::new();
        let state = initial_state_each(initial, names, r, |index, r, scope| {
            let p = neuron_parameters(values, declared, index, first + index as u64, r)?;
            if let Some((k, expected)) = check(&p[..]) {
                return Err(InvalidValue { index, table: "parameters", name: declared[k].0, r, value: p[k], expected });
            }
            each.push(constants_of(&p));
            scope.extend_from_slice(&p);
            Ok(())
        })?;
        Ok((state, Constants::PerNeuron(each)))
    }
}

/// The parameter values of the neuron of population-local id `id` and uniform `r` (the
/// `index`-th of the range built), each a finite f32 within its declared bound
/// (`declared`: name, default, unit, bound in slot order), or the first that is not.
pub fn neuron_parameters<const P: usize>(
    values: &[declaration::Values; P],
    declared: &[(&'static str, &'static str, &'static str, Option<declaration::Bound>); P],
    index: usize,
    id: u64,
    r: f64,
) -> Result<[f64; P], InvalidValue> {
    let p: [f64; P] = std::array::from_fn(|k| values[k].at(id, r));
    for (k, &(name, .., bound)) in declared.iter().enumerate() {
        if !(p[k] as f32).is_finite() {
            return Err(InvalidValue::not_finite(index, "parameters", name, r, p[k]));
        }
        if let Some(bound) = bound.filter(|b| !b.holds(p[k])) {
            return Err(InvalidValue { index, table: "parameters", name, r, value: p[k], expected: bound.describe() });
        }
    }
    Ok(p)
}

/// Neurons the LIF models step at a time (a chunk of zeros stands for no currents).
const CHUNK: usize = 1024;

/// Calls `step(range, currents)` for the `n` neurons of a group in ranges of `CHUNK`,
/// with the stimuli's currents of each range (zeros where `currents` is None); true if
/// any call was (some state no longer finite). The LIF models' step over a group.
#[inline]
pub fn in_chunks(n: usize, currents: Option<&[f32]>, mut step: impl FnMut(std::ops::Range<usize>, &[f32]) -> bool) -> bool {
    static NONE: [f32; CHUNK] = [0.0; CHUNK];
    let mut non_finite = false;
    let mut start = 0;
    while start < n {
        let r = start..(start + CHUNK).min(n);
        let c = currents.map_or(&NONE[..r.len()], |c| &c[r.clone()]);
        non_finite |= step(r.clone(), c);
        start = r.end;
    }
    non_finite
}

/// The initial state of the neurons whose per-neuron uniforms are `r`: each variable's
/// expression evaluated on r, the population's `parameters` and the variables before it
/// (`names` for errors), or the first neuron whose value is not a finite f32. What the
/// LIF models, whose parameters are one per population, build their groups from.
pub fn initial_state<const N: usize>(
    initial: &[crate::expr::Expr; N],
    parameters: &[f64],
    names: [&'static str; N],
    r: impl Iterator<Item = f64>,
) -> Result<[Vec<f32>; N], InvalidValue> {
    initial_state_each(initial, names, r, |_, _, scope| {
        scope.extend_from_slice(parameters);
        Ok(())
    })
}

/// As `initial_state`, each neuron's parameters given by `parameters(index, r, scope)`,
/// which appends them to `scope` (or names the one that cannot be): what models whose
/// parameters may differ between neurons build from.
pub fn initial_state_each<const N: usize>(
    initial: &[crate::expr::Expr; N],
    names: [&'static str; N],
    r: impl Iterator<Item = f64>,
    mut parameters: impl FnMut(usize, f64, &mut Vec<f64>) -> Result<(), InvalidValue>,
) -> Result<[Vec<f32>; N], InvalidValue> {
    let mut state: [Vec<f32>; N] = std::array::from_fn(|_| Vec::new());
    let mut scope = Vec::with_capacity(16 + N);
    for (index, r) in r.enumerate() {
        scope.clear();
        scope.push(r);
        parameters(index, r, &mut scope)?;
        for (k, e) in initial.iter().enumerate() {
            let x = e.eval(&scope);
            if !(x as f32).is_finite() {
                return Err(InvalidValue::not_finite(index, "initial", names[k], r, x));
            }
            state[k].push(x as f32);
            scope.push(x);
        }
    }
    Ok(state)
}

/// The declared state variables' names, each an f32 array.
pub fn state_names(declaration: &Declaration) -> Vec<(String, bool)> {
    declaration.state.iter().map(|s| (s.name.to_string(), false)).collect()
}

/// What one step of a group takes: the mirror of the inputs of the shader's
/// `model_step` (`Inputs`, dt, the synaptic conductances).
#[derive(Clone, Copy)]
pub struct StepInput<'a> {
    /// Per neuron: the weights arriving and the stimuli's currents, summed; for a model
    /// that `filters_weights`, the weights arriving alone.
    pub input: &'a [f32],
    /// For a model that `filters_weights`: the stimuli's per-neuron currents (None:
    /// none).
    pub currents: Option<&'a [f32]>,
    /// The current common to the whole group.
    pub common: f32,
    /// The synaptic kinds' contributions, for a model that `integrates_conductances`
    /// (none otherwise: they were added to `input` as currents).
    pub synaptic: &'a Synaptic<'a>,
    /// The step in ms.
    pub dt: f32,
    /// The step's index from the start of the run.
    pub step: u64,
}

/// The state of a contiguous range of neurons of one model: implemented by each model's
/// group.
pub trait Group: Clone + std::fmt::Debug {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of state held.
    fn bytes(&self) -> usize;

    /// One step; true if some state left the finite numbers.
    fn step(&mut self, input: &StepInput) -> bool;

    /// Calls `emit` with the index of each neuron that spiked in the last step.
    fn collect_spikes(&self, emit: impl FnMut(usize));

    /// The first neuron whose state is not finite: (index, variable, value).
    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)>;

    /// The values of the `k`-th declared state variable (`Model::declaration`), one per
    /// neuron: what recording and checkpoints read. v is the first.
    fn state_variable(&self, k: usize) -> Option<&[f32]>;

    /// The state a checkpoint saves and restores, in `Model::checkpoint_names` order:
    /// everything the next step reads that is not derived from the parameters.
    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>>;

    /// The group as the GPU backend steps it; None for a model without a WGSL twin.
    fn gpu_model(&self) -> Option<GpuModel>;

    /// The number of state arrays of `gpu_model`: the declared state variables, first.
    fn gpu_state_count(&self) -> usize;

    /// The state arrays of `gpu_model`, in its order, to copy the GPU's state into.
    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]>;

    /// Neuron-steps whose v lay outside the model's rate tables (clamped to the edge).
    fn clamped(&self) -> u64 {
        0
    }
}

/// Generates, from one line per model (`module::Variant(Spec)`), the module, the enums
/// `NeuronModel` (a population's spec) and `NeuronGroup` (its state on a shard), their
/// methods (each asks the model's own `Model` or `Group`) and `KINDS`.
macro_rules! register_models {
    ($($module:ident :: $variant:ident($spec:ident)),+ $(,)?) => {
        $(pub mod $module;)+
        $(pub use $module::$spec;)+

        /// Every model a model file can name.
        pub const KINDS: &[ModelKind] = &[$(<$spec as Model>::KIND),+];

        /// A population's model with its parameter expressions.
        #[derive(Clone, Debug)]
        pub enum NeuronModel {
            $($variant($spec)),+
        }

        /// The state of a contiguous range of neurons of one population.
        #[derive(Clone, Debug)]
        pub enum NeuronGroup {
            $($variant(<$spec as Model>::Group)),+
        }

        impl NeuronModel {
            pub fn build(&self, r: impl Iterator<Item = f64>) -> Result<NeuronGroup, InvalidValue> {
                match self { $(NeuronModel::$variant(m) => m.build(r).map(NeuronGroup::$variant)),+ }
            }
            pub fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<NeuronGroup, InvalidValue> {
                match self { $(NeuronModel::$variant(m) => m.build_at(first, r).map(NeuronGroup::$variant)),+ }
            }
            pub fn step_cost_ns(&self) -> f64 {
                match self { $(NeuronModel::$variant(m) => m.step_cost_ns()),+ }
            }
            pub fn declaration(&self) -> Declaration {
                match self { $(NeuronModel::$variant(m) => m.declaration()),+ }
            }
            pub fn per_neuron_parameters(&self) -> usize {
                match self { $(NeuronModel::$variant(m) => m.per_neuron_parameters()),+ }
            }
            pub fn fixed_bytes(&self) -> usize {
                match self { $(NeuronModel::$variant(m) => m.fixed_bytes()),+ }
            }
            pub fn kernel_level(&self) -> Level {
                match self { $(NeuronModel::$variant(m) => m.kernel_level()),+ }
            }
            pub fn dt_warning(&self, dt_ms: f64) -> Option<String> {
                match self { $(NeuronModel::$variant(m) => m.dt_warning(dt_ms)),+ }
            }
            pub fn unreachable_threshold(&self, reversals: &[f64], current: Option<f64>) -> Option<String> {
                match self { $(NeuronModel::$variant(m) => m.unreachable_threshold(reversals, current)),+ }
            }
            pub fn gpu_unsupported(&self) -> Option<String> {
                match self { $(NeuronModel::$variant(m) => m.gpu_unsupported()),+ }
            }
            pub fn checkpoint_names(&self) -> Vec<(String, bool)> {
                match self { $(NeuronModel::$variant(m) => m.checkpoint_names()),+ }
            }
        }

        impl NeuronGroup {
            pub fn kind(&self) -> &'static ModelKind {
                match self { $(NeuronGroup::$variant(_) => &<$spec as Model>::KIND),+ }
            }
            pub fn len(&self) -> usize {
                match self { $(NeuronGroup::$variant(g) => g.len()),+ }
            }
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }
            pub fn bytes(&self) -> usize {
                match self { $(NeuronGroup::$variant(g) => g.bytes()),+ }
            }
            #[inline]
            pub fn step(&mut self, input: &StepInput) -> bool {
                match self { $(NeuronGroup::$variant(g) => g.step(input)),+ }
            }
            #[inline]
            pub fn collect_spikes(&self, emit: impl FnMut(usize)) {
                match self { $(NeuronGroup::$variant(g) => g.collect_spikes(emit)),+ }
            }
            pub fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
                match self { $(NeuronGroup::$variant(g) => g.first_non_finite()),+ }
            }
            pub fn state_variable(&self, k: usize) -> Option<&[f32]> {
                match self { $(NeuronGroup::$variant(g) => g.state_variable(k)),+ }
            }
            pub fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
                match self { $(NeuronGroup::$variant(g) => g.checkpoint_arrays_mut()),+ }
            }
            pub fn gpu_model(&self) -> Option<GpuModel> {
                match self { $(NeuronGroup::$variant(g) => g.gpu_model()),+ }
            }
            pub fn gpu_state_count(&self) -> usize {
                match self { $(NeuronGroup::$variant(g) => g.gpu_state_count()),+ }
            }
            pub fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
                match self { $(NeuronGroup::$variant(g) => g.gpu_state_mut()),+ }
            }
            pub fn clamped(&self) -> u64 {
                match self { $(NeuronGroup::$variant(g) => g.clamped()),+ }
            }
        }
    };
}

// The models a model file can name: adding one is its file, its shader and a line here.
register_models! {
    izhikevich::Izhikevich(IzhikevichSpec),
    hh::Hh(HhSpec),
    lif::Lif(LifSpec),
    iaf_psc_alpha::Alpha(AlphaSpec),
    iaf_psc_delta::Delta(DeltaSpec),
    iaf_cond_exp::CondExp(CondExpSpec),
    iaf_cond_alpha::CondAlpha(CondAlphaSpec),
    izhikevich_nest::IzhikevichNest(IzhikevichNestSpec),
    hh_cond_exp_traub::HhCondExpTraub(HhCondExpTraubSpec),
    spike_source::SpikeSource(SpikeSourceSpec),
}

pub use spike_source::{Pairs, SpikeTrains, TrainReader};

impl NeuronModel {
    /// Bytes of state per neuron, from the declaration: its state variables, the
    /// parameters held per neuron (those that vary across neurons), its extra bytes.
    pub fn bytes_per_neuron(&self) -> usize {
        self.declaration().bytes_per_neuron(self.per_neuron_parameters())
    }

    /// The spike trains its neurons replay, for a model that replays them.
    pub fn spike_trains(&self) -> Option<&std::sync::Arc<SpikeTrains>> {
        match self {
            NeuronModel::SpikeSource(spec) => Some(&spec.trains),
            _ => None,
        }
    }
}

impl NeuronModel {
    /// The synaptic kind a projection of negative weights takes onto this model where it
    /// is not the input current (iaf_psc_exp and iaf_psc_alpha with tau_syn_in ≠
    /// tau_syn_ex: NEST routes weights by sign into two currents); None for the others.
    pub fn inhibitory_kind(&self) -> Option<crate::synapse::SynapseModel> {
        match self {
            NeuronModel::Lif(spec) => spec.inhibitory_kind(),
            NeuronModel::Alpha(spec) => spec.inhibitory_kind(),
            _ => None,
        }
    }
}

impl NeuronGroup {
    /// Membrane potentials (the first declared state variable), for recording and tests.
    pub fn voltages(&self) -> &[f32] {
        self.state_variable(0).expect("v, the first state variable of every model")
    }

    /// Whether the model integrates synaptic conductances in its own update (a
    /// Hodgkin–Huxley membrane, beside its ion channels); the others take every synaptic
    /// kind as a current, added to their input (`synapse::add_as_currents`). Read from
    /// the declaration: once per group, when a backend builds it.
    pub fn integrates_conductances(&self) -> bool {
        (self.kind().declaration)().integrates_conductances
    }

    /// Whether the model takes the synaptic kinds in its own update: it integrates
    /// conductances, or it filters the weights arriving (its input holds weights, not
    /// currents; iaf_psc_exp integrates an exponential kind's current exactly).
    pub fn takes_synaptic_kinds(&self) -> bool {
        let declaration = (self.kind().declaration)();
        declaration.integrates_conductances || declaration.filters_weights
    }

    /// Whether the model takes the weights arriving in a step apart from the stimulus
    /// currents (a current-based LIF filters the weights with its synaptic time
    /// constant); the others take one input current, weights and stimuli summed. Read
    /// from the declaration: once per group, when a backend builds it.
    pub fn takes_currents_apart(&self) -> bool {
        (self.kind().declaration)().filters_weights
    }
}

/// A group kept behind a pointer (one several times the size of the others, so that
/// `NeuronGroup` stays small) is a group.
impl<G: Group> Group for Box<G> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn bytes(&self) -> usize {
        (**self).bytes()
    }
    #[inline]
    fn step(&mut self, input: &StepInput) -> bool {
        (**self).step(input)
    }
    #[inline]
    fn collect_spikes(&self, emit: impl FnMut(usize)) {
        (**self).collect_spikes(emit)
    }
    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        (**self).first_non_finite()
    }
    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        (**self).state_variable(k)
    }
    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        (**self).checkpoint_arrays_mut()
    }
    fn gpu_model(&self) -> Option<GpuModel> {
        (**self).gpu_model()
    }
    fn gpu_state_count(&self) -> usize {
        (**self).gpu_state_count()
    }
    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        (**self).gpu_state_mut()
    }
    fn clamped(&self) -> u64 {
        (**self).clamped()
    }
}

/// One array of a group's state, one value per neuron, as a checkpoint saves and
/// restores it.
pub enum StateArrayMut<'a> {
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
}

impl StateArrayMut<'_> {
    /// Takes `other`'s values (the same length and kind: the state a group rebuilt with
    /// new parameters carries on from).
    pub fn copy_from(&mut self, other: &StateArrayMut<'_>) {
        match (self, other) {
            (StateArrayMut::F32(a), StateArrayMut::F32(b)) => a.copy_from_slice(b),
            (StateArrayMut::F64(a), StateArrayMut::F64(b)) => a.copy_from_slice(b),
            _ => unreachable!("a state array of one model changed its kind"),
        }
    }

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
    /// What it must be ("a finite number", "a time constant > 0").
    pub expected: String,
}

impl InvalidValue {
    /// A value that is not a finite f32.
    pub fn not_finite(index: usize, table: &'static str, name: &'static str, r: f64, value: f64) -> InvalidValue {
        InvalidValue { index, table, name, r, value, expected: "a finite number".into() }
    }
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
