//! Leaky integrate-and-fire neurons with delta-shaped synaptic input, NEST's
//! `iaf_psc_delta`, integrated exactly: between inputs
//!
//! ```text
//! τ_m v′ = −(v − E_L) + τ_m/C_m · (I_e + I)
//! ```
//!
//! advances by P33 = e^(−h/τ_m), P30 = τ_m/C_m · (1 − P33) (NEST's `pre_run_hook`), and a
//! weight w (mV) arriving in a step moves v by w at the end of that step, after the
//! propagation — so that it can make the neuron fire in the step it arrives, as in NEST.
//! NEST's order, step by step: unless refractory, v − E_L ← P30·(I_e + I) +
//! P33·(v − E_L) + the weights arriving (+ what was kept while refractory), then held at
//! or above V_min;
//! while refractory v stays at V_reset, the steps left count down and the weights arriving
//! are dropped — or, with `refractory_input` = 1, kept decayed by e^(−r·h/τ_m), r the steps
//! left before the count (kept as k ← P33·k + w each refractory step and added as P33·k in
//! the first free one: the same product, rounded once a step); v at or above V_th spikes,
//! is set to V_reset and held for t_ref in whole steps (as NEST counts them). Stimulus
//! currents act through P30 in the step they are given for, as in volley's other LIF
//! models (NEST's current generators reach the neuron a step later). The arithmetic is f32
//! (NEST's is f64) on v − E_L, as NEST propagates it.

use super::declaration::{Bound, Declaration, Declared, Derived, Parameter, Scope, StateVariable, Values};
use super::{Build, Columns, ColumnsAt, Constants, ConstantsAt, EachNeuron, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, Same, StateArrayMut, StepInput};
use crate::expr::Expr;

/// Parameters in slot order: name, default (NEST's), unit, bound. NEST's V_min defaults
/// to −∞; −10³⁰ mV stands for it (no potential reaches it).
const PARAMETERS: [(&str, &str, &str, Option<Bound>); 9] = [
    ("tau_m", "10", "ms", Some(Bound { min: 0.0, strict: true, what: "a time constant" })),
    ("c_m", "250", "pF", Some(Bound { min: 0.0, strict: true, what: "a capacitance" })),
    ("e_l", "-70", "mV", None),
    ("v_th", "-55", "mV", None),
    ("v_reset", "-70", "mV", None),
    ("t_ref", "2", "ms", Some(Bound { min: 0.0, strict: false, what: "a duration" })),
    ("i_e", "0", "pA", None),
    ("v_min", "-1e30", "mV", None),
    ("refractory_input", "0", "", Some(Bound { min: 0.0, strict: false, what: "a switch (0 or 1)" })),
];

const STATE: [(&str, &str, &str); 3] = [("v", "mV", "e_l"), ("refractory", "steps", "0"), ("refractory_kept", "mV", "0")];


pub fn declaration() -> Declaration {
    Declaration {
        model: "iaf_psc_delta",
        parameters: PARAMETERS
            .iter()
            .map(|&(name, default, unit, bound)| Parameter { name: name.into(), unit, scope: Scope::PerNeuron, default: Some(default), bound })
            .collect(),
        state: STATE.iter().map(|&(name, unit, initial)| StateVariable::from_initial(name, unit, initial)).collect(),
        derived: vec![
            Derived { name: "P33".into(), unit: "", definition: "exp(−dt/tau_m)".into() },
            Derived { name: "P30".into(), unit: "mV/pA", definition: "tau_m/c_m·(1 − P33)".into() },
            Derived { name: "steps_ref".into(), unit: "steps", definition: "t_ref in whole steps, as NEST counts them: rounded to tics of 0.001 ms, then up to whole steps".into() },
        ],
        step: "unless refractory: v ← e_l + max(P30·(i_e + I) + P33·(v − e_l) + w + P33·refractory_kept, v_min − e_l), refractory_kept ← 0; \
               while refractory: refractory_kept ← P33·refractory_kept + refractory_input·w (w: the weights arriving, mV)"
            .into(),
        threshold: "v ≥ v_th after the step (a weight can fire the neuron in the step it arrives)".into(),
        reset: "v ← v_reset at once, held for steps_ref steps".into(),
        integrates_conductances: false,
        // The spike flag of the last step.
        extra_bytes_per_neuron: 1,
        initial_note: None,
        filters_weights: true,
        conductance_synapses: None,
    }
}

/// NEST's checks (`Parameters_::set`) beyond each bound: a reset below the threshold;
/// and refractory_input a switch (here where they are constants, neuron by neuron at the
/// build otherwise).
fn check(declared: &Declared) -> Option<(&'static str, String)> {
    let (v_th, v_reset) = (declared.parameters[3].constant(), declared.parameters[4].constant());
    if let (Some(v_th), Some(v_reset)) = (v_th, v_reset) {
        if let Some(expected) = super::lif::reset_above_threshold(v_th, v_reset) {
            return Some(("v_reset", format!("expected {expected}, got {v_reset} mV")));
        }
    }
    let keep = declared.parameters[8].constant()?;
    switch_unset(keep).map(|expected| ("refractory_input", format!("expected {expected}, got {keep}")))
}

/// What refractory_input must be, where it is not.
fn switch_unset(keep: f64) -> Option<String> {
    (keep != 0.0 && keep != 1.0).then(|| "0 (inputs while refractory are dropped) or 1 (kept, decayed)".to_string())
}

/// A neuron's values together: `check`'s, for each neuron's own.
fn check_each(p: &[f64]) -> Option<(usize, String)> {
    super::lif::check_reset(p).or_else(|| switch_unset(p[8]).map(|expected| (8, expected)))
}

fn from_declared(declared: Declared, dt_ms: f64) -> NeuronModel {
    NeuronModel::Delta(DeltaSpec {
        parameters: declared.parameters.try_into().expect("nine parameters, as declared"),
        dt_ms,
        initial: declared.initial.try_into().expect("three state variables, as declared"),
    })
}

/// One population's parameters (slot order) and initial-state expressions.
#[derive(Clone, Debug)]
pub struct DeltaSpec {
    /// Each parameter's values: constants, expressions of r or listed per neuron.
    pub parameters: [Values; 9],
    pub dt_ms: f64,
    /// v, refractory, refractory_kept as expressions of r, the parameters and the
    /// earlier state.
    pub initial: [Expr; 3],
}

/// What a step reads: the same for every neuron of a group, or one set per neuron.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeltaConstants {
    pub p33: f32,
    pub p30: f32,
    pub e_l: f32,
    pub v_th: f32,
    pub v_reset: f32,
    pub i_e: f32,
    pub steps_ref: f32,
    /// V_min − E_L.
    pub v_min_rel: f32,
    /// 1: weights arriving while refractory are kept; 0: dropped.
    pub keep: f32,
}

impl super::Fields<9> for DeltaConstants {
    #[inline(always)]
    fn fields(&self) -> [f32; 9] {
        [self.p33, self.p30, self.e_l, self.v_th, self.v_reset, self.i_e, self.steps_ref, self.v_min_rel, self.keep]
    }

    #[inline(always)]
    fn from_fields([p33, p30, e_l, v_th, v_reset, i_e, steps_ref, v_min_rel, keep]: [f32; 9]) -> Self {
        DeltaConstants { p33, p30, e_l, v_th, v_reset, i_e, steps_ref, v_min_rel, keep }
    }
}

impl DeltaSpec {
    /// A population whose neurons share the parameter values `parameters`.
    pub fn uniform(parameters: [f64; 9], dt_ms: f64, initial: [Expr; 3]) -> DeltaSpec {
        DeltaSpec { parameters: parameters.map(Values::of), dt_ms, initial }
    }

    /// The constants of a neuron with parameter values `p`.
    fn constants_of(&self, p: &[f64; 9]) -> DeltaConstants {
        let [tau_m, c_m, e_l, v_th, v_reset, t_ref, i_e, v_min, keep] = *p;
        let p33 = (-self.dt_ms / tau_m).exp();
        DeltaConstants {
            p33: p33 as f32,
            p30: (1.0 / c_m * (1.0 - p33) * tau_m) as f32,
            e_l: e_l as f32,
            v_th: v_th as f32,
            v_reset: v_reset as f32,
            i_e: i_e as f32,
            steps_ref: crate::units::refractory_steps(t_ref, self.dt_ms) as f32,
            v_min_rel: (v_min - e_l).max(f32::MIN as f64) as f32,
            keep: keep as f32,
        }
    }
}

impl Model for DeltaSpec {
    type Group = DeltaGroup;
    /// NEST's name.
    const KIND: ModelKind = ModelKind {
        name: "iaf_psc_delta",
        declaration,
        build: Build::Values(from_declared),
        check: Some(check),
        shader: include_str!("../../shaders/iaf_psc_delta.wgsl"),
        gpu: "every population whose parameters are one value per population (`shaders/iaf_psc_delta.wgsl`)",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<DeltaGroup, InvalidValue> {
        self.build_at(0, r)
    }

    /// The group of the neurons from population-local id `first` whose uniforms are
    /// `r`, or the first neuron with a value that cannot be simulated.
    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<DeltaGroup, InvalidValue> {
        let each = EachNeuron { values: &self.parameters, declared: &PARAMETERS, check: check_each, constants_of: &mut |p| self.constants_of(p) };
        let ([v, refractory, kept], constants) = each.build(&self.initial, STATE.map(|s| s.0), first, r)?;
        let n = v.len();
        Ok(DeltaGroup { v, refractory, kept, spiked: vec![0; n], constants: constants.into_columns() })
    }

    fn gpu_unsupported(&self) -> Option<String> {
        super::shared_values(&self.parameters)
            .is_none()
            .then(|| "iaf_psc_delta with parameters differing between neurons (shaders/iaf_psc_delta.wgsl holds one set per population)".into())
    }

    /// Each neuron's constants where its parameters differ, in f32 slots.
    fn per_neuron_parameters(&self) -> usize {
        super::own_slots(&self.parameters, std::mem::size_of::<DeltaConstants>())
    }

    /// Fewer products than iaf_psc_exp's 0.41 ns.
    fn step_cost_ns(&self) -> f64 {
        0.35
    }
}

/// Struct-of-arrays state of a contiguous range of neurons of one population.
#[derive(Clone, Debug)]
pub struct DeltaGroup {
    /// Membrane potential (mV).
    pub v: Vec<f32>,
    /// Steps of refractoriness left (whole numbers, exact in f32).
    pub refractory: Vec<f32>,
    /// The weights kept while refractory, decayed (mV).
    pub kept: Vec<f32>,
    pub spiked: Vec<u8>,
    pub constants: Constants<DeltaConstants, Columns<9>>,
}

impl Group for DeltaGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, refractory, the kept input and the spike flag.
    fn bytes(&self) -> usize {
        self.len() * (13 + self.constants.bytes_per_neuron())
    }

    /// One step: `input[i]`, the weights arriving onto neuron i (mV), `currents[i] +
    /// common` injected (pA; None: no per-neuron currents). Returns true if some state is
    /// no longer finite.
    #[inline]
    fn step(&mut self, step: &StepInput) -> bool {
        // Synaptic kinds reach it only as other populations' (zero here): the model file
        // gives it delta synapses only.
        super::in_chunks(self.v.len(), step.currents, |r, currents| {
            let state = [&mut self.v[r.clone()], &mut self.refractory[r.clone()], &mut self.kept[r.clone()]];
            let (spiked, input) = (&mut self.spiked[r.clone()], &step.input[r.clone()]);
            match &self.constants {
                Constants::Shared(c) => step_dispatch(state, spiked, input, currents, step.common, Same(*c)),
                Constants::PerNeuron(c) => step_each_dispatch(state, spiked, input, currents, step.common, c.at(r.clone())),
            }
        })
    }

    #[inline]
    fn collect_spikes(&self, emit: impl FnMut(usize)) {
        crate::simd::each_nonzero(&self.spiked, emit)
    }

    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        (0..self.len()).find_map(|i| [("v", self.v[i]), ("refractory_kept", self.kept[i])].into_iter().find(|(_, x)| !x.is_finite()).map(|(n, x)| (i, n, x)))
    }

    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        [&self.v, &self.refractory, &self.kept].get(k).map(|x| x.as_slice())
    }

    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        vec![StateArrayMut::F32(&mut self.v), StateArrayMut::F32(&mut self.refractory), StateArrayMut::F32(&mut self.kept)]
    }

    /// The group as the GPU steps it (`shaders/iaf_psc_delta.wgsl`): state v,
    /// refractory, refractory_kept; no parameters; constants p33, p30, e_l, v_th, v_reset,
    /// i_e, steps_ref, v_min_rel, keep. None where each neuron has its own (the spec
    /// refuses those).
    fn gpu_model(&self) -> Option<GpuModel> {
        let Constants::Shared(c) = &self.constants else { return None };
        Some(GpuModel {
            shader: DeltaSpec::KIND.shader,
            state: vec![self.v.clone(), self.refractory.clone(), self.kept.clone()],
            parameters: Vec::new(),
            constants: vec![c.p33, c.p30, c.e_l, c.v_th, c.v_reset, c.i_e, c.steps_ref, c.v_min_rel, c.keep],
        })
    }

    fn gpu_state_count(&self) -> usize {
        3
    }

    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.v, &mut self.refractory, &mut self.kept]
    }
}

/// The step over slices (v, refractory, kept), branch-free so that it vectorises; only
/// +, − and × and max (no fused multiply-add), so every instruction set gives the same
/// bits.
#[inline(always)]
fn step_kernel(
    state: [&mut [f32]; 3],
    spiked: &mut [u8],
    weights: &[f32],
    currents: &[f32],
    common: f32,
    constants: impl ConstantsAt<DeltaConstants>,
) -> bool {
    let [v, refractory, kept] = state;
    let n = v.len();
    let (refractory, kept, spiked, weights, currents) = (&mut refractory[..n], &mut kept[..n], &mut spiked[..n], &weights[..n], &currents[..n]);
    let constants = constants.prefix(n);
    let mut non_finite = false;
    for i in 0..n {
        let c = constants.at(i);
        let bias = c.i_e + common;
        let free = refractory[i] == 0.0;
        // NEST's sum: P30·(y0 + I_e) + P33·y3 + the ring's weights, then the kept input.
        let rel = c.p30 * (bias + currents[i]) + c.p33 * (v[i] - c.e_l) + weights[i] + c.p33 * kept[i];
        let advanced = c.e_l + rel.max(c.v_min_rel);
        let mut vi = if free { advanced } else { v[i] };
        let mut ri = if free { 0.0 } else { refractory[i] - 1.0 };
        let ki = if free { 0.0 } else { c.p33 * kept[i] + c.keep * weights[i] };
        let fired = vi >= c.v_th;
        vi = if fired { c.v_reset } else { vi };
        ri = if fired { c.steps_ref } else { ri };
        v[i] = vi;
        refractory[i] = ri;
        kept[i] = ki;
        spiked[i] = fired as u8;
        non_finite |= !(vi.is_finite() && ki.is_finite());
    }
    non_finite
}

crate::simd::dispatch!(fn step_dispatch(state: [&mut [f32]; 3], spiked: &mut [u8], weights: &[f32], currents: &[f32], common: f32, c: Same<DeltaConstants>) -> bool => step_kernel);
crate::simd::dispatch!(fn step_each_dispatch(state: [&mut [f32]; 3], spiked: &mut [u8], weights: &[f32], currents: &[f32], common: f32, c: ColumnsAt<'_, 9>) -> bool => step_kernel);

#[cfg(test)]
mod tests {
    use super::*;

    /// NEST's defaults (E_L = V_reset = −70 mV, V_th = −55 mV, C_m = 250 pF, τ_m = 10 ms,
    /// t_ref = 2 ms: 20 steps) at dt = 0.1 ms, with I_e, V_min, refractory_input given.
    fn neuron(i_e: f64, v_min: f64, keep: f64) -> DeltaGroup {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let spec =
            DeltaSpec::uniform([10.0, 250.0, -70.0, -55.0, -70.0, 2.0, i_e, v_min, keep], 0.1, [e(-70.0), e(0.0), e(0.0)]);
        spec.build([0.5].into_iter()).unwrap()
    }

    fn advance(g: &mut DeltaGroup, w: f32) -> bool {
        g.step(&StepInput { input: &[w], currents: None, common: 0.0, synaptic: &crate::synapse::Synaptic::none(), dt: 0.1, step: 0 });
        g.spiked[0] != 0
    }

    const P33: f64 = 0.990_049_833_749_168_1;

    /// A weight moves v by itself at the end of the step it arrives in, then decays by P33
    /// a step; 15 mV (V_th − E_L exactly) fires in that same step, 14.5 does not.
    #[test]
    fn a_weight_jumps_v_in_its_step_and_can_fire_it_there() {
        let mut g = neuron(0.0, -1e30, 0.0);
        advance(&mut g, 0.0);
        assert_eq!(g.v[0], -70.0);
        advance(&mut g, 0.5);
        assert_eq!(g.v[0], -69.5);
        for _ in 0..5 {
            advance(&mut g, 0.0);
        }
        assert!(((g.v[0] + 70.0) as f64 - 0.5 * P33.powi(5)).abs() < 1e-5, "{}", g.v[0]);
        let mut g = neuron(0.0, -1e30, 0.0);
        assert!(!advance(&mut g, 14.5));
        let mut g = neuron(0.0, -1e30, 0.0);
        assert!(advance(&mut g, 15.0), "v = V_th fires");
        assert_eq!((g.v[0], g.refractory[0]), (-70.0, 20.0));
    }

    /// After a spike v stays at V_reset for 20 steps, the inputs then dropped; the 21st
    /// step integrates again. With refractory_input the inputs are kept, decayed by
    /// e^(−r·dt/τ_m) (r the steps left before the count), and added in the first free
    /// step: NEST's figures 0.40936538 (the first refractory step), 0.44791707 (the tenth)
    /// and 0.49502492 mV (the last), summed (within f32's spacing near 70 mV, 7.6·10⁻⁶).
    #[test]
    fn inputs_while_refractory_are_dropped_or_kept_decayed() {
        for keep in [0.0, 1.0] {
            let mut g = neuron(0.0, -1e30, keep);
            assert!(advance(&mut g, 20.0));
            for j in 1..=20 {
                let w = if [1, 10, 20].contains(&j) { 0.5 } else { 0.0 };
                assert!(!advance(&mut g, w));
                assert_eq!(g.v[0], -70.0, "held at V_reset, step {j}");
            }
            advance(&mut g, 0.0);
            let expected = if keep == 1.0 { 0.409_365_38 + 0.447_917_07 + 0.495_024_92 } else { 0.0 };
            assert!(((g.v[0] + 70.0) as f64 - expected).abs() < 1e-5, "keep {keep}: {}", g.v[0]);
        }
    }

    /// I_e = 600 pA (R·I = 24 mV against 15 mV): the first spike in the 99th step
    /// (ceil(τ_m·ln(24/9)/dt)), then every 99 + 20 steps; V_min holds v in free steps.
    #[test]
    fn a_constant_current_fires_with_nests_period_and_v_min_bounds_v() {
        let mut g = neuron(600.0, -1e30, 0.0);
        let spikes: Vec<u32> = (0..1000).filter(|_| advance(&mut g, 0.0)).collect();
        assert_eq!((10.0f64 * (24.0f64 / 9.0).ln() / 0.1).ceil(), 99.0);
        assert_eq!(spikes[0], 98);
        assert!(spikes.windows(2).all(|w| w[1] - w[0] == 119), "{spikes:?}");
        let mut g = neuron(0.0, -75.0, 0.0);
        advance(&mut g, -20.0);
        assert_eq!(g.v[0], -75.0);
        let mut g = neuron(0.0, -1e30, 0.0);
        advance(&mut g, -20.0);
        assert_eq!(g.v[0], -90.0);
    }

    /// Neurons with parameters of their own: each with its own propagator and threshold
    /// (here tau_m and v_th listed), and one whose refractory_input is no switch named.
    #[test]
    fn neurons_with_their_own_parameters_step_as_each_alone() {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let mut spec = DeltaSpec::uniform([10.0, 250.0, -70.0, -55.0, -70.0, 2.0, 450.0, -1e30, 0.0], 0.1, [e(-70.0), e(0.0), e(0.0)]);
        spec.parameters[0] = Values::Listed(vec![8.0, 10.0, 12.0].into());
        spec.parameters[3] = Values::Listed(vec![-56.0, -55.0, -54.0].into());
        let mut group = spec.build_at(0, [0.1, 0.2, 0.3].into_iter()).unwrap();
        let mut alone: Vec<DeltaGroup> = [(8.0, -56.0), (10.0, -55.0), (12.0, -54.0)]
            .iter()
            .map(|&(tau_m, v_th)| {
                DeltaSpec::uniform([tau_m, 250.0, -70.0, v_th, -70.0, 2.0, 450.0, -1e30, 0.0], 0.1, [e(-70.0), e(0.0), e(0.0)]).build([0.5].into_iter()).unwrap()
            })
            .collect();
        let mut fired = 0;
        for step in 0..1000usize {
            let weights: Vec<f32> = (0..3).map(|k| if (k + step).is_multiple_of(9) { 0.8 } else { 0.0 }).collect();
            group.step(&StepInput { input: &weights, currents: None, common: 0.0, synaptic: &crate::synapse::Synaptic::none(), dt: 0.1, step: 0 });
            for (k, one) in alone.iter_mut().enumerate() {
                one.step(&StepInput { input: &weights[k..k + 1], currents: None, common: 0.0, synaptic: &crate::synapse::Synaptic::none(), dt: 0.1, step: 0 });
                assert_eq!((group.v[k].to_bits(), group.spiked[k]), (one.v[0].to_bits(), one.spiked[0]), "step {step}, neuron {k}");
                fired += one.spiked[0] as usize;
            }
        }
        assert!(fired > 10, "{fired} spikes");
        spec.parameters[8] = Values::Listed(vec![0.0, 0.5, 1.0].into());
        let err = spec.build_at(0, [0.1, 0.2, 0.3].into_iter()).unwrap_err();
        assert_eq!((err.index, err.name, err.value), (1, "refractory_input", 0.5));
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let n = 1000;
        let mut c = neuron(400.0, -80.0, 1.0).constants.of(0);
        let r = |k: usize| ((k * 7919) % 1000) as f32 / 1000.0;
        for keep in [0.0, 1.0] {
            c.keep = keep;
            let fresh = || -> [Vec<f32>; 3] { [(0..n).map(|k| -70.0 + 14.0 * r(k)).collect(), vec![0.0; n], vec![0.0; n]] };
            let (mut a, mut b, mut each) = (fresh(), fresh(), fresh());
            let (mut sa, mut sb, mut se) = (vec![0u8; n], vec![0u8; n], vec![0u8; n]);
            let own = Columns::<9>::of(&vec![c; n]);
            let mut fired = 0;
            for step in 0..300 {
                let weights: Vec<f32> = (0..n).map(|k| if (k + step) % 7 == 0 { 1.5 } else if (k + step) % 11 == 0 { -3.0 } else { 0.0 }).collect();
                let currents: Vec<f32> = (0..n).map(|k| 100.0 * r(k + step)).collect();
                let [a0, a1, a2] = &mut a;
                step_kernel([a0, a1, a2], &mut sa, &weights, &currents, 5.0, Same(c));
                let [b0, b1, b2] = &mut b;
                step_dispatch([b0, b1, b2], &mut sb, &weights, &currents, 5.0, Same(c));
                // Each neuron's own constants, here the same: the same bits.
                let [e0, e1, e2] = &mut each;
                step_each_dispatch([e0, e1, e2], &mut se, &weights, &currents, 5.0, own.at(0..n));
                fired += sa.iter().filter(|&&s| s != 0).count();
                assert_eq!(sa, sb);
                assert_eq!(sa, se);
            }
            assert!(fired > n, "{fired} spikes");
            for k in 0..3 {
                assert!(a[k].iter().zip(&b[k]).all(|(x, y)| x.to_bits() == y.to_bits()), "{:?}", crate::simd::level());
                assert!(a[k].iter().zip(&each[k]).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
        }
    }
}
