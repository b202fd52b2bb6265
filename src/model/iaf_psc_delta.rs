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

use super::declaration::{Bound, Declaration, Declared, Derived, Parameter, Scope, StateVariable};
use super::{Build, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, StateArrayMut, StepInput};
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
            .map(|&(name, default, unit, bound)| Parameter { name: name.into(), unit, scope: Scope::Population, default: Some(default), bound })
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
        conductance_synapses: false,
    }
}

/// NEST's checks (`Parameters_::set`) beyond each bound: a reset below the threshold;
/// and refractory_input a switch.
fn check(declared: &Declared) -> Option<(&'static str, String)> {
    let value = |k: usize| declared.parameters[k].constant().expect("constants, as declared");
    if value(4) >= value(3) {
        return Some(("v_reset", format!("expected v_reset below v_th ({} mV), got {} mV", value(3), value(4))));
    }
    if value(8) != 0.0 && value(8) != 1.0 {
        return Some(("refractory_input", format!("expected 0 (inputs while refractory are dropped) or 1 (kept, decayed), got {}", value(8))));
    }
    None
}

fn from_declared(declared: Declared, dt_ms: f64) -> NeuronModel {
    let parameters: [f64; 9] = std::array::from_fn(|k| declared.parameters[k].constant().expect("constants, as declared"));
    NeuronModel::Delta(DeltaSpec { parameters, dt_ms, initial: declared.initial.try_into().expect("three state variables, as declared") })
}

/// One population's parameters (slot order) and initial-state expressions.
#[derive(Clone, Debug)]
pub struct DeltaSpec {
    pub parameters: [f64; 9],
    pub dt_ms: f64,
    /// v, refractory, refractory_kept as expressions of r, the parameters and the
    /// earlier state.
    pub initial: [Expr; 3],
}

/// What a step reads, the same for every neuron of a group.
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

impl DeltaSpec {
    pub fn constants(&self) -> DeltaConstants {
        let [tau_m, c_m, e_l, v_th, v_reset, t_ref, i_e, v_min, keep] = self.parameters;
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
        gpu: "every population (`shaders/iaf_psc_delta.wgsl`)",
    };

    /// The group of neurons whose per-neuron uniforms are `r`, or the first neuron whose
    /// initial state is not a finite f32.
    fn build(&self, r: impl Iterator<Item = f64>) -> Result<DeltaGroup, InvalidValue> {
        let constants = self.constants();
        let state = super::initial_state(&self.initial, &self.parameters, STATE.map(|s| s.0), r)?;
        let [v, refractory, kept] = state;
        let n = v.len();
        Ok(DeltaGroup { v, refractory, kept, spiked: vec![0; n], constants })
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
    pub constants: DeltaConstants,
}

impl Group for DeltaGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, refractory, the kept input and the spike flag.
    fn bytes(&self) -> usize {
        self.len() * 13
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
            step_dispatch(state, &mut self.spiked[r.clone()], &step.input[r.clone()], currents, step.common, self.constants)
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
    /// i_e, steps_ref, v_min_rel, keep.
    fn gpu_model(&self) -> Option<GpuModel> {
        let c = &self.constants;
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
fn step_kernel(state: [&mut [f32]; 3], spiked: &mut [u8], weights: &[f32], currents: &[f32], common: f32, c: DeltaConstants) -> bool {
    let [v, refractory, kept] = state;
    let n = v.len();
    let (refractory, kept, spiked, weights, currents) = (&mut refractory[..n], &mut kept[..n], &mut spiked[..n], &weights[..n], &currents[..n]);
    let mut non_finite = false;
    let bias = c.i_e + common;
    for i in 0..n {
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

crate::simd::dispatch!(fn step_dispatch(state: [&mut [f32]; 3], spiked: &mut [u8], weights: &[f32], currents: &[f32], common: f32, c: DeltaConstants) -> bool => step_kernel);

#[cfg(test)]
mod tests {
    use super::*;

    /// NEST's defaults (E_L = V_reset = −70 mV, V_th = −55 mV, C_m = 250 pF, τ_m = 10 ms,
    /// t_ref = 2 ms: 20 steps) at dt = 0.1 ms, with I_e, V_min, refractory_input given.
    fn neuron(i_e: f64, v_min: f64, keep: f64) -> DeltaGroup {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let spec =
            DeltaSpec { parameters: [10.0, 250.0, -70.0, -55.0, -70.0, 2.0, i_e, v_min, keep], dt_ms: 0.1, initial: [e(-70.0), e(0.0), e(0.0)] };
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

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let n = 1000;
        let mut c = neuron(400.0, -80.0, 1.0).constants;
        let r = |k: usize| ((k * 7919) % 1000) as f32 / 1000.0;
        for keep in [0.0, 1.0] {
            c.keep = keep;
            let fresh = || -> [Vec<f32>; 3] { [(0..n).map(|k| -70.0 + 14.0 * r(k)).collect(), vec![0.0; n], vec![0.0; n]] };
            let (mut a, mut b) = (fresh(), fresh());
            let (mut sa, mut sb) = (vec![0u8; n], vec![0u8; n]);
            let mut fired = 0;
            for step in 0..300 {
                let weights: Vec<f32> = (0..n).map(|k| if (k + step) % 7 == 0 { 1.5 } else if (k + step) % 11 == 0 { -3.0 } else { 0.0 }).collect();
                let currents: Vec<f32> = (0..n).map(|k| 100.0 * r(k + step)).collect();
                let [a0, a1, a2] = &mut a;
                step_kernel([a0, a1, a2], &mut sa, &weights, &currents, 5.0, c);
                let [b0, b1, b2] = &mut b;
                step_dispatch([b0, b1, b2], &mut sb, &weights, &currents, 5.0, c);
                fired += sa.iter().filter(|&&s| s != 0).count();
                assert_eq!(sa, sb);
            }
            assert!(fired > n, "{fired} spikes");
            for k in 0..3 {
                assert!(a[k].iter().zip(&b[k]).all(|(x, y)| x.to_bits() == y.to_bits()), "{:?}", crate::simd::level());
            }
        }
    }
}
