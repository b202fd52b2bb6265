//! Leaky integrate-and-fire neurons with exponentially decaying synaptic currents, NEST's
//! `iaf_psc_exp` (the Potjans–Diesmann microcircuit's neuron), integrated exactly: over a
//! step of length h the linear system
//!
//! ```text
//! τ_m v′ = −(v − E_L) + τ_m/C_m · (I_syn + I_e + I)      τ_syn I_syn′ = −I_syn
//! ```
//!
//! advances by its exponential propagators (Rotter & Diesmann 1999), computed once per
//! population in f64:
//!
//! ```text
//! P22 = e^(−h/τ_m)   P11 = e^(−h/τ_syn)   P20 = τ_m/C_m · (1 − P22)
//! P21 = τ_m τ_syn / (C_m (τ_m − τ_syn)) · (P22 − P11)      (h/C_m · P22 where τ_syn = τ_m)
//! ```
//!
//! in NEST's order: v advances with the synaptic current of the start of the step (unless
//! refractory: then the step counter counts down instead); the current decays and takes
//! the weights arriving in this step (pA, the delta ring: a spike moves v from the next
//! step on, as in NEST); v at or above V_th spikes, is set to V_reset at once and is held
//! for t_ref in whole steps. Stimulus currents act through P20, as NEST's current
//! generators, constant over the step they are given for. The arithmetic is f32 (NEST's
//! is f64): v − E_L is propagated, as NEST propagates it.

use super::declaration::{Bound, Declaration, Declared, Derived, Parameter, Scope, StateVariable, Values};
use super::{Build, Columns, ColumnsAt, Constants, ConstantsAt, EachNeuron, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, Same, StateArrayMut, StepInput};
use super::membrane_input::MembraneInput;
use crate::expr::Expr;
use crate::synapse::SynapseModel;

/// Parameters in slot order: name, default (NEST's iaf_psc_exp defaults), unit, bound;
/// iaf_psc_alpha's too.
pub(super) const PARAMETERS: [(&str, &str, &str, Option<Bound>); 9] = [
    ("tau_m", "10", "ms", Some(Bound { min: 0.0, strict: true, what: "a time constant" })),
    ("c_m", "250", "pF", Some(Bound { min: 0.0, strict: true, what: "a capacitance" })),
    ("e_l", "-70", "mV", None),
    ("v_th", "-55", "mV", None),
    ("v_reset", "-70", "mV", None),
    ("t_ref", "2", "ms", Some(Bound { min: 0.0, strict: false, what: "a duration" })),
    ("tau_syn_ex", "2", "ms", Some(Bound { min: 0.0, strict: true, what: "a time constant" })),
    ("tau_syn_in", "2", "ms", Some(Bound { min: 0.0, strict: true, what: "a time constant" })),
    ("i_e", "0", "pA", None),
];

/// The synaptic time constants' slots: one value per population, since a projection's
/// current decays with one time constant.
const SYNAPTIC: [usize; 2] = [6, 7];

const STATE: [(&str, &str, &str); 3] = [("v", "mV", "e_l"), ("i_syn", "pA", "0"), ("refractory", "steps", "0")];

/// Every parameter but the synaptic time constants may differ between neurons (each
/// neuron then holds its own propagators, as NEST's nodes do); v, the synaptic current
/// and the refractory steps left start from expressions.
pub fn declaration() -> Declaration {
    Declaration {
        model: "iaf_psc_exp",
        parameters: parameters(true),
        state: STATE.iter().map(|&(name, unit, initial)| StateVariable::from_initial(name, unit, initial)).collect(),
        derived: vec![
            Derived { name: "P22".into(), unit: "", definition: "exp(−dt/tau_m)".into() },
            Derived { name: "P11".into(), unit: "", definition: "exp(−dt/tau_syn_ex)".into() },
            Derived { name: "P21".into(), unit: "mV/pA", definition: "tau_m·tau_syn/(c_m·(tau_m − tau_syn))·(P22 − P11)".into() },
            Derived { name: "P20".into(), unit: "mV/pA", definition: "tau_m/c_m·(1 − P22)".into() },
            Derived { name: "steps_ref".into(), unit: "steps", definition: "t_ref in whole steps, as NEST counts them: rounded to tics of 0.001 ms, then up to whole steps".into() },
        ],
        step: "unless refractory: v ← e_l + P22·(v − e_l) + P21·i_syn + P21_in·i_in + P20·(i_e + I); then i_syn ← P11·i_syn + the weights arriving (i_in: where tau_syn_in ≠ tau_syn_ex, the current of the projections of negative weights, a synaptic kind exp_current with tau_syn_in, as NEST routes weights by sign)"
            .into(),
        threshold: "v ≥ v_th after the step".into(),
        reset: "v ← v_reset at once, held for steps_ref steps".into(),
        integrates_conductances: false,
        // The spike flag of the last step.
        extra_bytes_per_neuron: 1,
        initial_note: None,
        filters_weights: true,
        conductance_synapses: None,
    }
}

/// The declared parameters: each one value per population, or (`per_neuron`) all but the
/// synaptic time constants per neuron.
pub(super) fn parameters(per_neuron: bool) -> Vec<Parameter> {
    PARAMETERS
        .iter()
        .enumerate()
        .map(|(k, &(name, default, unit, bound))| {
            let scope = if per_neuron && !SYNAPTIC.contains(&k) { Scope::PerNeuron } else { Scope::Population };
            Parameter { name: name.into(), unit, scope, default: Some(default), bound }
        })
        .collect()
}

/// What iaf_psc_exp's (and iaf_psc_alpha's) parameters must satisfy together: a reset
/// below the threshold (checked here where both are constants, neuron by neuron at the
/// build otherwise).
pub(super) fn check(declared: &Declared) -> Option<(&'static str, String)> {
    let (v_th, v_reset) = (declared.parameters[3].constant()?, declared.parameters[4].constant()?);
    reset_above_threshold(v_th, v_reset).map(|expected| ("v_reset", format!("expected {expected}, got {v_reset} mV")))
}

/// "v_reset below v_th (…)" where the reset is not below the threshold.
pub(super) fn reset_above_threshold(v_th: f64, v_reset: f64) -> Option<String> {
    (v_reset >= v_th).then(|| format!("v_reset below v_th ({v_th} mV)"))
}

fn from_declared(declared: Declared, dt_ms: f64) -> NeuronModel {
    NeuronModel::Lif(LifSpec {
        parameters: declared.parameters.try_into().expect("nine parameters, as declared"),
        dt_ms,
        initial: declared.initial.try_into().expect("three state variables, as declared"),
    })
}

/// The exact propagators of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Propagators {
    pub p22: f64,
    pub p11: f64,
    pub p21: f64,
    pub p20: f64,
}

impl Propagators {
    pub fn new(tau_m: f64, c_m: f64, tau_syn: f64, h: f64) -> Propagators {
        let p22 = (-h / tau_m).exp();
        let p11 = (-h / tau_syn).exp();
        // τ_syn = τ_m: the limit of the difference quotient.
        let p21 = if ((tau_m - tau_syn) / tau_m).abs() < 1e-9 {
            h / c_m * p22
        } else {
            tau_m * tau_syn / (c_m * (tau_m - tau_syn)) * (p22 - p11)
        };
        Propagators { p22, p11, p21, p20: tau_m / c_m * (1.0 - p22) }
    }
}

/// One population's parameters (slot order) and initial-state expressions.
#[derive(Clone, Debug)]
pub struct LifSpec {
    /// Each parameter's values: constants, expressions of r or listed per neuron (the
    /// synaptic time constants: constants).
    pub parameters: [Values; 9],
    pub dt_ms: f64,
    /// v, i_syn, refractory as expressions of r, the parameters and the earlier state.
    pub initial: [Expr; 3],
}

/// What a step reads: the propagators in f32, the same for every neuron of a group or
/// one set per neuron.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LifConstants {
    pub p22: f32,
    pub p11: f32,
    pub p21: f32,
    pub p20: f32,
    pub e_l: f32,
    pub v_th: f32,
    pub v_reset: f32,
    pub i_e: f32,
    pub steps_ref: f32,
}

impl super::Fields<9> for LifConstants {
    #[inline(always)]
    fn fields(&self) -> [f32; 9] {
        [self.p22, self.p11, self.p21, self.p20, self.e_l, self.v_th, self.v_reset, self.i_e, self.steps_ref]
    }

    #[inline(always)]
    fn from_fields([p22, p11, p21, p20, e_l, v_th, v_reset, i_e, steps_ref]: [f32; 9]) -> Self {
        LifConstants { p22, p11, p21, p20, e_l, v_th, v_reset, i_e, steps_ref }
    }
}

impl LifSpec {
    /// A population whose neurons share the parameter values `parameters`.
    pub fn uniform(parameters: [f64; 9], dt_ms: f64, initial: [Expr; 3]) -> LifSpec {
        LifSpec { parameters: parameters.map(Values::of), dt_ms, initial }
    }

    /// The kind projections of negative weights take onto this population: where
    /// tau_syn_in differs from tau_syn_ex, a current of their own decaying with tau_syn_in
    /// (NEST's i_syn_in); None where they share the input current.
    pub fn inhibitory_kind(&self) -> Option<SynapseModel> {
        let [tau_ex, tau_in] = SYNAPTIC.map(|k| self.parameters[k].constant().expect("one per population, as declared"));
        (tau_in != tau_ex).then_some(SynapseModel::ExpCurrent { tau_ms: tau_in })
    }

    /// The constants of a neuron with parameter values `p`.
    fn constants_of(&self, p: &[f64; 9]) -> LifConstants {
        let [tau_m, c_m, e_l, v_th, v_reset, t_ref, tau_syn, _, i_e] = *p;
        let propagators = Propagators::new(tau_m, c_m, tau_syn, self.dt_ms);
        LifConstants {
            p22: propagators.p22 as f32,
            p11: propagators.p11 as f32,
            p21: propagators.p21 as f32,
            p20: propagators.p20 as f32,
            e_l: e_l as f32,
            v_th: v_th as f32,
            v_reset: v_reset as f32,
            i_e: i_e as f32,
            steps_ref: crate::units::refractory_steps(t_ref, self.dt_ms) as f32,
        }
    }

    /// The neurons' constants where they share their parameters.
    pub fn constants(&self) -> Option<LifConstants> {
        super::shared_values(&self.parameters).map(|p| self.constants_of(&p))
    }
}

/// A neuron's reset below its threshold (slots 3 and 4 of iaf_psc_exp's, iaf_psc_alpha's
/// and iaf_psc_delta's parameters, and of iaf_cond_exp's).
pub(super) fn check_reset(p: &[f64]) -> Option<(usize, String)> {
    reset_above_threshold(p[3], p[4]).map(|expected| (4, expected))
}

impl Model for LifSpec {
    type Group = LifGroup;
    /// NEST's name.
    const KIND: ModelKind = ModelKind {
        name: "iaf_psc_exp",
        declaration,
        build: Build::Values(from_declared),
        check: Some(check),
        shader: include_str!("../../shaders/lif.wgsl"),
        gpu: "every population whose parameters are one value per population (`shaders/lif.wgsl`)",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<LifGroup, InvalidValue> {
        self.build_at(0, r)
    }

    /// The group of the neurons from population-local id `first` whose per-neuron
    /// uniforms are `r`, or the first neuron with a parameter or initial value that
    /// cannot be simulated.
    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<LifGroup, InvalidValue> {
        // tau_m and c_m: one pair where the neurons share them, else each neuron's.
        let mut membrane = Vec::new();
        let mut constants_of = |p: &[f64; 9]| {
            membrane.push([p[0], p[1]]);
            self.constants_of(p)
        };
        let each = EachNeuron { values: &self.parameters, declared: &PARAMETERS, check: check_reset, constants_of: &mut constants_of };
        let ([v, i_syn, refractory], constants) = each.build(&self.initial, STATE.map(|s| s.0), first, r)?;
        let n = v.len();
        let constants = constants.into_columns();
        Ok(LifGroup { v, i_syn, refractory, spiked: vec![0; n], constants, input: MembraneInput::new(membrane, self.dt_ms) })
    }

    fn gpu_unsupported(&self) -> Option<String> {
        if super::shared_values(&self.parameters).is_none() {
            return Some("iaf_psc_exp with parameters differing between neurons (shaders/lif.wgsl holds one set per population)".into());
        }
        self.inhibitory_kind().map(|_| {
            "iaf_psc_exp with tau_syn_in ≠ tau_syn_ex (its inhibitory current, a synaptic kind, is not in shaders/lif.wgsl yet)".into()
        })
    }

    /// `cargo bench --bench kernels -- iaf_psc_exp` on the reference machine: 0.41 ns.
    fn step_cost_ns(&self) -> f64 {
        0.4
    }

    /// Each neuron's constants and membrane (tau_m and c_m in f64) where its parameters
    /// differ from its neighbours', in f32 slots.
    fn per_neuron_parameters(&self) -> usize {
        super::own_slots(&self.parameters, std::mem::size_of::<LifConstants>() + std::mem::size_of::<[f64; 2]>())
    }
}

/// Struct-of-arrays state of a contiguous range of neurons of one population.
#[derive(Clone, Debug)]
pub struct LifGroup {
    /// Membrane potential (mV).
    pub v: Vec<f32>,
    pub i_syn: Vec<f32>,
    /// Steps of refractoriness left (whole numbers, exact in f32).
    pub refractory: Vec<f32>,
    pub spiked: Vec<u8>,
    pub constants: Constants<LifConstants, Columns<9>>,
    /// The membranes (tau_m, c_m) and what the stimuli and synaptic kinds inject.
    input: MembraneInput,
}

impl Group for LifGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, i_syn, refractory and the spike flag; each neuron's constants and membrane
    /// where they are its own.
    fn bytes(&self) -> usize {
        let membrane = if self.constants.bytes_per_neuron() > 0 { std::mem::size_of::<[f64; 2]>() } else { 0 };
        self.len() * (13 + self.constants.bytes_per_neuron() + membrane)
    }

    /// One step: `input[i]`, the weights arriving onto neuron i (pA, a jump of its
    /// synaptic current), `currents[i] + common` injected (pA; None: no per-neuron
    /// currents). Returns true if some state is no longer finite.
    #[inline]
    fn step(&mut self, step: &StepInput) -> bool {
        let currents = self.input.currents(step, &self.v);
        super::in_chunks(self.v.len(), currents, |r, currents| {
            let (v, i_syn, refractory, spiked) =
                (&mut self.v[r.clone()], &mut self.i_syn[r.clone()], &mut self.refractory[r.clone()], &mut self.spiked[r.clone()]);
            match &self.constants {
                Constants::Shared(c) => step_dispatch(v, i_syn, refractory, spiked, &step.input[r.clone()], currents, step.common, Same(*c)),
                Constants::PerNeuron(c) => {
                    step_each_dispatch(v, i_syn, refractory, spiked, &step.input[r.clone()], currents, step.common, c.at(r.clone()))
                }
            }
        })
    }

    #[inline]
    fn collect_spikes(&self, emit: impl FnMut(usize)) {
        crate::simd::each_nonzero(&self.spiked, emit)
    }

    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        (0..self.len()).find_map(|i| match (self.v[i].is_finite(), self.i_syn[i].is_finite()) {
            (false, _) => Some((i, "v", self.v[i])),
            (_, false) => Some((i, "i_syn", self.i_syn[i])),
            _ => None,
        })
    }

    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        [&self.v, &self.i_syn, &self.refractory].get(k).map(|x| x.as_slice())
    }

    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        vec![StateArrayMut::F32(&mut self.v), StateArrayMut::F32(&mut self.i_syn), StateArrayMut::F32(&mut self.refractory)]
    }

    /// The group as the GPU steps it (`shaders/lif.wgsl`): state v, i_syn, refractory;
    /// no parameters; constants p11, p21, p22, p20, e_l, v_th, v_reset, steps_ref, i_e.
    /// None where each neuron has its own (the spec refuses those).
    fn gpu_model(&self) -> Option<GpuModel> {
        let Constants::Shared(c) = &self.constants else { return None };
        Some(GpuModel {
            shader: LifSpec::KIND.shader,
            state: vec![self.v.clone(), self.i_syn.clone(), self.refractory.clone()],
            parameters: Vec::new(),
            constants: vec![c.p11, c.p21, c.p22, c.p20, c.e_l, c.v_th, c.v_reset, c.steps_ref, c.i_e],
        })
    }

    fn gpu_state_count(&self) -> usize {
        3
    }

    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.v, &mut self.i_syn, &mut self.refractory]
    }
}

/// The step over slices, branch-free so that it vectorises; only +, − and × (no fused
/// multiply-add), so every instruction set gives the same bits.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_kernel(
    v: &mut [f32],
    i_syn: &mut [f32],
    refractory: &mut [f32],
    spiked: &mut [u8],
    weights: &[f32],
    currents: &[f32],
    common: f32,
    constants: impl ConstantsAt<LifConstants>,
) -> bool {
    let n = v.len();
    let (i_syn, refractory, spiked, weights, currents) =
        (&mut i_syn[..n], &mut refractory[..n], &mut spiked[..n], &weights[..n], &currents[..n]);
    let constants = constants.prefix(n);
    let mut non_finite = false;
    for i in 0..n {
        let c = constants.at(i);
        let bias = c.i_e + common;
        let free = refractory[i] == 0.0;
        let advanced = c.e_l + (c.p22 * (v[i] - c.e_l) + c.p21 * i_syn[i] + c.p20 * (bias + currents[i]));
        let mut vi = if free { advanced } else { v[i] };
        let mut ri = if free { 0.0 } else { refractory[i] - 1.0 };
        let si = c.p11 * i_syn[i] + weights[i];
        let fired = vi >= c.v_th;
        vi = if fired { c.v_reset } else { vi };
        ri = if fired { c.steps_ref } else { ri };
        v[i] = vi;
        i_syn[i] = si;
        refractory[i] = ri;
        spiked[i] = fired as u8;
        non_finite |= !(vi.is_finite() && si.is_finite());
    }
    non_finite
}

crate::simd::dispatch!(fn step_dispatch(v: &mut [f32], i_syn: &mut [f32], refractory: &mut [f32], spiked: &mut [u8], weights: &[f32], currents: &[f32], common: f32, c: Same<LifConstants>) -> bool => step_kernel);
crate::simd::dispatch!(fn step_each_dispatch(v: &mut [f32], i_syn: &mut [f32], refractory: &mut [f32], spiked: &mut [u8], weights: &[f32], currents: &[f32], common: f32, c: ColumnsAt<'_, 9>) -> bool => step_kernel);

#[cfg(test)]
mod tests {
    use super::*;

    /// The microcircuit's neuron: E_L = V_reset = −65 mV, V_th = −50 mV, C_m = 250 pF,
    /// τ_m = 10 ms, τ_syn = 0.5 ms, t_ref = 2 ms; dt = 0.1 ms.
    fn microcircuit_neuron(i_e: f64) -> LifSpec {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        LifSpec::uniform([10.0, 250.0, -65.0, -50.0, -65.0, 2.0, 0.5, 0.5, i_e], 0.1, [e(-65.0), e(0.0), e(0.0)])
    }

    /// The published conversion of the model (PSC_over_PSP in its helpers): the current
    /// amplitude J whose PSP peaks at 1 mV, from the peak time of v = i * h.
    fn advance(g: &mut LifGroup, weights: &[f32], currents: Option<&[f32]>) -> bool {
        g.step(&StepInput { input: weights, currents, common: 0.0, synaptic: &crate::synapse::Synaptic::none(), dt: 0.1, step: 0 })
    }

    fn psc_over_psp(c_m: f64, tau_m: f64, tau_syn: f64) -> f64 {
        let sub = 1.0 / (tau_syn - tau_m);
        let pre = tau_m * tau_syn / c_m * sub;
        let frac = (tau_m / tau_syn).powf(sub);
        1.0 / (pre * (frac.powf(tau_m) - frac.powf(tau_syn)))
    }

    /// A weight of 0.15 mV's current (87.8 pA, the microcircuit's J) arriving at rest
    /// raises v by 0.15 mV at its peak, sampled every 0.1 ms (the peak falls between
    /// steps: 1.58 ms after the jump), starting in the step after it arrives.
    #[test]
    fn a_weight_of_the_published_psc_gives_the_published_psp() {
        let j = 0.15 * psc_over_psp(250.0, 10.0, 0.5);
        assert!((j - 87.81).abs() < 0.01, "J = {j} pA");
        let mut g = microcircuit_neuron(0.0).build([0.5].into_iter()).unwrap();
        let mut trace = Vec::new();
        for step in 0..100 {
            advance(&mut g, &[if step == 0 { j as f32 } else { 0.0 }], None);
            trace.push(g.v[0] + 65.0);
        }
        assert_eq!(trace[0], 0.0, "the weight moves v from the next step on");
        assert!(trace[1] > 0.0);
        let (peak_step, peak) = trace.iter().enumerate().fold((0, 0f32), |m, (k, &x)| if x > m.1 { (k, x) } else { m });
        assert!((peak - 0.15).abs() < 1e-3, "PSP {peak} mV at step {peak_step}");
        // Peak 1.577 ms after the jump at the end of step 0: in step 16.
        assert_eq!(peak_step, 16);
    }

    /// A constant current above rheobase (375 pA here) fires regularly with the period
    /// of the exact solution on the grid: t_ref (20 steps) plus the first step at which
    /// v = R·I·(1 − e^(−t/τ_m)) reaches V_th − E_L, t = τ_m·ln(RI/(RI − θ)) = 13.86 ms
    /// for 500 pA: 139 steps.
    #[test]
    fn a_constant_current_fires_with_the_exact_period_on_the_grid() {
        let mut g = microcircuit_neuron(500.0).build([0.5].into_iter()).unwrap();
        let mut spikes = Vec::new();
        for step in 0..2000u32 {
            advance(&mut g, &[0.0], None);
            g.collect_spikes(|_| spikes.push(step));
            if g.refractory[0] > 0.0 && g.spiked[0] == 0 {
                assert_eq!(g.v[0], -65.0, "held at V_reset while refractory");
            }
        }
        let crossing = (10.0f64 * (20.0f64 / 5.0).ln() / 0.1).ceil() as u32;
        assert_eq!(crossing, 139);
        assert_eq!(spikes[0], crossing - 1, "the first spike: in the step that reaches V_th");
        assert!(spikes.windows(2).all(|w| w[1] - w[0] == 20 + crossing), "{spikes:?}");
        // Below rheobase: silent. A stimulus current adds to i_e.
        let mut quiet = microcircuit_neuron(370.0).build([0.5].into_iter()).unwrap();
        let mut pushed = microcircuit_neuron(370.0).build([0.5].into_iter()).unwrap();
        let (mut a, mut b) = (0, 0);
        for _ in 0..2000 {
            advance(&mut quiet, &[0.0], None);
            advance(&mut pushed, &[0.0], Some(&[130.0]));
            quiet.collect_spikes(|_| a += 1);
            pushed.collect_spikes(|_| b += 1);
        }
        assert_eq!((a, b), (0, spikes.len()));
    }

    /// With tau_syn_in ≠ tau_syn_ex a negative weight reaches v through its own current,
    /// decaying with tau_syn_in (the synaptic kind of the projection's synapses, as NEST's
    /// i_syn_in): the PSP is the exact one of that time constant, w·τ_m·τ_in/(C_m·(τ_m −
    /// τ_in))·(e^(−t/τ_m) − e^(−t/τ_in)) from the step after the arrival, while the
    /// excitatory current (tau_syn_ex) is untouched (to 10⁻⁴ mV: v is f32 near −65 mV); a
    /// refractory neuron's v is held.
    #[test]
    fn an_inhibitory_current_of_its_own_time_constant_gives_the_exact_psp() {
        use crate::synapse::{Exponential, Synaptic};
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let spec = LifSpec::uniform([10.0, 250.0, -65.0, -50.0, -65.0, 2.0, 0.5, 3.0, 0.0], 0.1, [e(-65.0), e(0.0), e(0.0)]);
        assert_eq!(spec.inhibitory_kind(), Some(SynapseModel::ExpCurrent { tau_ms: 3.0 }));
        let mut g = spec.build([0.5].into_iter()).unwrap();
        let mut inhibitory = Exponential::new(spec.inhibitory_kind().unwrap(), 1, 0.1);
        let w = -500.0f64;
        for step in 0..200 {
            inhibitory.advance(&[if step == 0 { w as f32 } else { 0.0 }]);
            let kinds = std::slice::from_ref(&inhibitory);
            let synaptic = Synaptic::new(kinds, 0..1);
            g.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step });
            // v after step `step`: the current arrived at the end of step 0, t = step·0.1 ms.
            let t = step as f64 * 0.1;
            let exact = w * 10.0 * 3.0 / (250.0 * (10.0 - 3.0)) * ((-t / 10.0).exp() - (-t / 3.0).exp());
            assert!((g.v[0] as f64 + 65.0 - exact).abs() < 1e-4, "step {step}: {} against {exact}", g.v[0] + 65.0);
            assert_eq!(g.i_syn[0], 0.0);
        }
        // Refractory: held where it is whatever the current.
        g.refractory[0] = 5.0;
        let held = g.v[0];
        inhibitory.advance(&[-1000.0]);
        inhibitory.advance(&[0.0]);
        let kinds = std::slice::from_ref(&inhibitory);
        g.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &Synaptic::new(kinds, 0..1), dt: 0.1, step: 0 });
        assert_eq!(g.v[0], held);
    }

    /// Neurons of one group with parameters of their own (listed, and an expression of
    /// r) step bit for bit as each would alone in a group of its values, an inhibitory
    /// current of tau_syn_in included (its scale from each neuron's membrane).
    #[test]
    fn neurons_with_their_own_parameters_step_as_each_alone() {
        use crate::synapse::{Exponential, Synaptic};
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let n = 6;
        let tau_m: Vec<f64> = (0..n).map(|k| 8.0 + k as f64).collect();
        let v_th: Vec<f64> = (0..n).map(|k| -52.0 + 0.5 * k as f64).collect();
        let mut spec = LifSpec::uniform([0.0, 250.0, -65.0, 0.0, -65.0, 2.0, 0.5, 3.0, 0.0], 0.1, [e(-60.0), e(0.0), e(0.0)]);
        spec.parameters[0] = Values::Listed(tau_m.clone().into());
        spec.parameters[3] = Values::Listed(v_th.clone().into());
        spec.parameters[8] = Values::Expr(Expr::parse("450 + 200*r", &["r"]).unwrap());
        spec.initial[0] = Expr::parse("e_l + 10*r", &["r", "tau_m", "c_m", "e_l"]).unwrap();
        let r = |k: usize| k as f64 / n as f64;
        // The last four neurons of the population, as a shard from id 2 builds them.
        let mut group = spec.build_at(2, (2..n).map(r)).unwrap();
        assert!(matches!(group.constants, Constants::PerNeuron(_)));
        assert_eq!(group.bytes(), 4 * (4 * (3 + spec.per_neuron_parameters()) + 1), "four neurons, as declared");
        assert_eq!(spec.per_neuron_parameters(), 13);
        let mut alone: Vec<LifGroup> = (2..n)
            .map(|k| {
                let i_e = 450.0 + 200.0 * r(k);
                LifSpec::uniform([tau_m[k], 250.0, -65.0, v_th[k], -65.0, 2.0, 0.5, 3.0, i_e], 0.1, [e(-65.0 + 10.0 * r(k)), e(0.0), e(0.0)])
                    .build([r(k)].into_iter())
                    .unwrap()
            })
            .collect();
        let m = n - 2;
        let mut inhibitory = Exponential::new(SynapseModel::ExpCurrent { tau_ms: 3.0 }, m, 0.1);
        let mut fired = 0;
        for step in 0..400u64 {
            let weights: Vec<f32> = (0..m).map(|k| if (k as u64 + step).is_multiple_of(9) { 120.0 } else { 0.0 }).collect();
            inhibitory.advance(&(0..m).map(|k| if (k as u64 + step).is_multiple_of(13) { -40.0 } else { 0.0 }).collect::<Vec<f32>>());
            let kinds = std::slice::from_ref(&inhibitory);
            group.step(&StepInput { input: &weights, currents: None, common: 0.0, synaptic: &Synaptic::new(kinds, 0..m), dt: 0.1, step });
            for (k, one) in alone.iter_mut().enumerate() {
                let synaptic = Synaptic::new(kinds, k..k + 1);
                one.step(&StepInput { input: &weights[k..k + 1], currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step });
                assert_eq!((group.v[k].to_bits(), group.i_syn[k].to_bits(), group.spiked[k]), (one.v[0].to_bits(), one.i_syn[0].to_bits(), one.spiked[0]));
                fired += one.spiked[0] as usize;
            }
        }
        assert!(fired > 10, "{fired} spikes");
    }

    /// A neuron's values that cannot be simulated are named with the neuron: a reset not
    /// below its own threshold, a time constant of r below its bound.
    #[test]
    fn a_neuron_s_invalid_values_are_named() {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let mut spec = LifSpec::uniform([10.0, 250.0, -65.0, -50.0, -65.0, 2.0, 0.5, 0.5, 0.0], 0.1, [e(-65.0), e(0.0), e(0.0)]);
        spec.parameters[3] = Values::Listed(vec![-50.0, -55.0, -70.0].into());
        let err = spec.build_at(0, [0.1, 0.2, 0.3].into_iter()).unwrap_err();
        assert_eq!((err.index, err.name, err.value, err.expected.as_str()), (2, "v_reset", -65.0, "v_reset below v_th (-70 mV)"));
        spec.parameters[3] = Values::of(-50.0);
        spec.parameters[0] = Values::Expr(Expr::parse("10 - 20*r", &["r"]).unwrap());
        let err = spec.build_at(0, [0.1, 0.7].into_iter()).unwrap_err();
        assert_eq!((err.index, err.name, err.expected.as_str()), (1, "tau_m", "a time constant > 0"));
    }

    #[test]
    fn the_propagators_are_the_exact_solution() {
        // τ_syn = τ_m: the limit, continuous with the general formula.
        let equal = Propagators::new(10.0, 250.0, 10.0, 0.1);
        let near = Propagators::new(10.0, 250.0, 10.0 * (1.0 + 1e-6), 0.1);
        assert!((equal.p21 - near.p21).abs() < 1e-9 * equal.p21, "{equal:?} {near:?}");
        // Against the solution of v′ = −v/τ_m + i/C_m, i′ = −i/τ_s by fine Euler steps.
        let p = Propagators::new(10.0, 250.0, 0.5, 0.1);
        let (mut v, mut i) = (0.0f64, 100.0f64);
        let n = 100_000;
        for _ in 0..n {
            let h = 0.1 / n as f64;
            v += h * (-v / 10.0 + i / 250.0);
            i -= h * i / 0.5;
        }
        assert!((v - p.p21 * 100.0).abs() < 1e-6, "{v} against {}", p.p21 * 100.0);
        // Euler's own error here: i·t·h/(2τ_syn²) = 2·10⁻⁵ pA.
        assert!((i - p.p11 * 100.0).abs() < 1e-4, "{i} against {}", p.p11 * 100.0);
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let n = 1000;
        let c = microcircuit_neuron(500.0).constants().expect("shared");
        let r = |k: usize| ((k * 7919) % 1000) as f32 / 1000.0;
        let mut a: (Vec<f32>, Vec<f32>, Vec<f32>, Vec<u8>) =
            ((0..n).map(|k| -70.0 + 25.0 * r(k)).collect(), (0..n).map(|k| 400.0 * r(k + 1)).collect(), vec![0.0; n], vec![0u8; n]);
        let mut b = a.clone();
        let (mut each, own) = (a.clone(), Columns::<9>::of(&vec![c; n]));
        let mut fired = 0;
        for step in 0..300 {
            let weights: Vec<f32> = (0..n)
                .map(|k| {
                    if (k + step) % 7 == 0 {
                        87.8
                    } else if (k + step) % 11 == 0 {
                        -351.2
                    } else {
                        0.0
                    }
                })
                .collect();
            let currents: Vec<f32> = (0..n).map(|k| 100.0 * r(k + step)).collect();
            step_kernel(&mut a.0, &mut a.1, &mut a.2, &mut a.3, &weights, &currents, 5.0, Same(c));
            step_dispatch(&mut b.0, &mut b.1, &mut b.2, &mut b.3, &weights, &currents, 5.0, Same(c));
            // Each neuron's own constants, here the same: the same bits.
            step_each_dispatch(&mut each.0, &mut each.1, &mut each.2, &mut each.3, &weights, &currents, 5.0, own.at(0..n));
            fired += a.3.iter().filter(|&&s| s != 0).count();
            assert_eq!(a.3, b.3);
            assert_eq!(a.3, each.3);
        }
        assert!(fired > n, "{fired} spikes");
        for other in [&b, &each] {
            assert!(a.0.iter().zip(&other.0).all(|(x, y)| x.to_bits() == y.to_bits()), "{:?}", crate::simd::level());
            assert!(a.1.iter().zip(&other.1).all(|(x, y)| x.to_bits() == y.to_bits()));
            assert_eq!(a.2, other.2);
        }
    }
}
