//! Hodgkin–Huxley neurons of Traub and Miles' kinetics with exponentially decaying
//! synaptic conductances, NEST's `hh_cond_exp_traub` (PyNN's `HH_cond_exp`; the HH
//! network of Brette et al. 2007):
//!
//! ```text
//! C_m v′ = −g_Na m³h (v − E_Na) − g_K n⁴ (v − E_K) − g_L (v − E_L) − Σ_k g_k(t) (v − E_k) + I_e + I
//! x′ = α_x(V) − (α_x(V) + β_x(V))·x   for x = m, h, n,   V = v − V_T
//! ```
//!
//! with NEST's rates (α_n = 0.032(15 − V)/(e^((15 − V)/5) − 1), β_n = 0.5e^((10 − V)/40),
//! α_m = 0.32(13 − V)/(e^((13 − V)/4) − 1), β_m = 0.28(V − 40)/(e^((V − 40)/5) − 1),
//! α_h = 0.128e^((17 − V)/18), β_h = 4/(1 + e^((40 − V)/5))). Each conductance is a
//! synaptic kind of the projections onto it (`exp_conductance`: NEST's g_ex with E_ex
//! and tau_syn_ex, g_in with E_in and tau_syn_in). NEST's order, step by step: the
//! membrane and gates are integrated over the step with the conductances the step began
//! with, decaying exactly within it (NEST: GSL's adaptive RKF45 to an absolute 10⁻³;
//! here classical Runge–Kutta in f64 on substeps of at most 0.005 ms, whose error is far
//! below that); then the step's arrivals join the conductances; a neuron not refractory
//! spikes where v ≥ V_T + 30 mV and v fell over the step (the peak passed), and is then
//! refractory — it cannot spike — for t_ref in whole steps, its membrane integrated
//! throughout (no reset). Stimulus currents act in the step they are given for, as in
//! volley's other NEST models.

use super::declaration::{Bound, ConductanceShape, Declaration, Declared, Parameter, Scope, StateVariable, Values};
use super::{Build, Constants, EachNeuron, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, StateArrayMut, StepInput};
use crate::expr::Expr;
use crate::synapse::SynapticInput;

/// Parameters in slot order: name, default (NEST's), unit, bound. Each may differ
/// between neurons.
const PARAMETERS: [(&str, &str, &str, Option<Bound>); 10] = [
    ("g_na", "20000", "nS", Some(Bound { min: 0.0, strict: false, what: "a conductance" })),
    ("g_k", "6000", "nS", Some(Bound { min: 0.0, strict: false, what: "a conductance" })),
    ("g_l", "10", "nS", Some(Bound { min: 0.0, strict: false, what: "a conductance" })),
    ("c_m", "200", "pF", Some(Bound { min: 0.0, strict: true, what: "a capacitance" })),
    ("e_na", "50", "mV", None),
    ("e_k", "-90", "mV", None),
    ("e_l", "-60", "mV", None),
    ("v_t", "-63", "mV", None),
    ("t_ref", "2", "ms", Some(Bound { min: 0.0, strict: false, what: "a duration" })),
    ("i_e", "0", "pA", None),
];

/// The gates start at their steady state at the initial v (NEST starts them at the
/// steady state of its rates evaluated at E_L itself, without V_T).
const STATE: [(&str, &str, &str); 5] = [
    ("v", "mV", "e_l"),
    ("m", "", "0.32*(13 - (v - v_t))/(exp((13 - (v - v_t))/4) - 1) / (0.32*(13 - (v - v_t))/(exp((13 - (v - v_t))/4) - 1) + 0.28*((v - v_t) - 40)/(exp(((v - v_t) - 40)/5) - 1))"),
    ("h", "", "0.128*exp((17 - (v - v_t))/18) / (0.128*exp((17 - (v - v_t))/18) + 4/(1 + exp((40 - (v - v_t))/5)))"),
    ("n", "", "0.032*(15 - (v - v_t))/(exp((15 - (v - v_t))/5) - 1) / (0.032*(15 - (v - v_t))/(exp((15 - (v - v_t))/5) - 1) + 0.5*exp((10 - (v - v_t))/40))"),
    ("refractory", "steps", "0"),
];

/// The longest Runge–Kutta substep (ms).
const SUBSTEP_MS: f64 = 0.005;

pub fn declaration() -> Declaration {
    Declaration {
        model: "hh_cond_exp_traub",
        parameters: PARAMETERS
            .iter()
            .map(|&(name, default, unit, bound)| Parameter { name: name.into(), unit, scope: Scope::PerNeuron, default: Some(default), bound })
            .collect(),
        state: STATE.iter().map(|&(name, unit, initial)| StateVariable::from_initial(name, unit, initial)).collect(),
        derived: Vec::new(),
        step: "v, m, h, n integrated over the step (RK4 in f64, substeps ≤ 0.005 ms) from c_m·v′ = −g_na·m³h·(v − e_na) − g_k·n⁴·(v − e_k) − g_l·(v − e_l) \
               − Σ g_k·e^(−t/τ_k)·(v − e_rev_k) + i_e + I and Traub's gates of v − v_t (NEST's hh_cond_exp_traub), g_k the conductances the step began \
               with; then each conductance decays and takes the weights arriving (nS)"
            .into(),
        threshold: "v ≥ v_t + 30 mV and v below its value at the step's start (the peak passed), unless refractory".into(),
        reset: "none: refractory (no spike) for t_ref in whole steps, the membrane integrated throughout".into(),
        integrates_conductances: true,
        // The spike flag of the last step.
        extra_bytes_per_neuron: 1,
        initial_note: None,
        filters_weights: false,
        conductance_synapses: Some(ConductanceShape::Exponential),
    }
}

fn from_declared(declared: Declared, dt_ms: f64) -> NeuronModel {
    let parameters = declared.parameters.try_into().expect("ten parameters, as declared");
    NeuronModel::HhCondExpTraub(HhCondExpTraubSpec { parameters, dt_ms, initial: declared.initial.try_into().expect("five state variables") })
}

/// One population's parameters (slot order) and initial-state expressions.
#[derive(Clone, Debug)]
pub struct HhCondExpTraubSpec {
    /// Each parameter's values: constants, expressions of r or listed per neuron.
    pub parameters: [Values; 10],
    pub dt_ms: f64,
    /// v, m, h, n, refractory as expressions of r, the parameters and the earlier state.
    pub initial: [Expr; 5],
}

impl Model for HhCondExpTraubSpec {
    type Group = HhCondExpTraubGroup;
    /// NEST's name.
    const KIND: ModelKind = ModelKind {
        name: "hh_cond_exp_traub",
        declaration,
        build: Build::Values(from_declared),
        check: None,
        shader: "",
        gpu: "refused: integrated on the CPU backend",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<HhCondExpTraubGroup, InvalidValue> {
        self.build_at(0, r)
    }

    /// The group of the neurons from population-local id `first` whose uniforms are `r`:
    /// one set of parameters where they are shared, each neuron's where they differ.
    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<HhCondExpTraubGroup, InvalidValue> {
        let dt = self.dt_ms;
        let constants_of = &mut |p: &[f64; 10]| HhConstants { p: *p, steps_ref: crate::units::refractory_steps(p[8], dt) as f32 };
        let each = EachNeuron { values: &self.parameters, declared: &PARAMETERS, check: |_| None, constants_of };
        let ([v, m, h, n, refractory], constants) = each.build(&self.initial, STATE.map(|s| s.0), first, r)?;
        let len = v.len();
        Ok(HhCondExpTraubGroup { v, m, h, n, refractory, spiked: vec![0; len], constants, dt })
    }

    /// Each neuron's parameters and refractory steps where they differ.
    fn per_neuron_parameters(&self) -> usize {
        super::own_slots(&self.parameters, std::mem::size_of::<HhConstants>())
    }

    /// `cargo bench --bench kernels -- hh_cond_exp_traub` on machine B: 3.9 µs under two
    /// conductances (twenty RK4 substeps of a 0.1 ms step, seven exponentials an
    /// evaluation).
    fn step_cost_ns(&self) -> f64 {
        3900.0
    }

    fn gpu_unsupported(&self) -> Option<String> {
        Some("hh_cond_exp_traub is integrated on the CPU backend only (use --backend cpu)".into())
    }
}

/// Struct-of-arrays state of a contiguous range of neurons of one population.
#[derive(Clone, Debug)]
pub struct HhCondExpTraubGroup {
    pub v: Vec<f32>,
    pub m: Vec<f32>,
    pub h: Vec<f32>,
    pub n: Vec<f32>,
    /// Steps of refractoriness left (whole numbers, exact in f32).
    pub refractory: Vec<f32>,
    pub spiked: Vec<u8>,
    /// One set of constants, or each neuron's.
    constants: Constants<HhConstants>,
    dt: f64,
}

/// What a neuron's step reads: g_na, g_k, g_l, c_m, e_na, e_k, e_l, v_t, t_ref, i_e, and
/// t_ref in whole steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HhConstants {
    p: [f64; 10],
    steps_ref: f32,
}

/// One conductance of one neuron: its value at the step's start, reversal potential and
/// time constant.
#[derive(Clone, Copy, Debug)]
struct Conductance {
    g: f64,
    e_rev: f64,
    tau: f64,
}

/// (v, m, h, n)′ at `y` under the synaptic conductances summed as Σg (`synaptic_g`) and
/// Σg·e_rev (`synaptic_ge`), `current` injected, for parameters `p`.
fn derivative(y: [f64; 4], synaptic_g: f64, synaptic_ge: f64, current: f64, p: &[f64; 10]) -> [f64; 4] {
    let [g_na, g_k, g_l, c_m, e_na, e_k, e_l, v_t, _, _] = *p;
    let [v, m, h, n] = y;
    let i_na = g_na * m * m * m * h * (v - e_na);
    let i_k = g_k * n * n * n * n * (v - e_k);
    let i_l = g_l * (v - e_l);
    let i_syn = synaptic_g * v - synaptic_ge;
    let dv = (-i_na - i_k - i_l - i_syn + current) / c_m;
    let u = v - v_t;
    let alpha_n = 0.032 * (15.0 - u) / (((15.0 - u) / 5.0).exp() - 1.0);
    let beta_n = 0.5 * ((10.0 - u) / 40.0).exp();
    let alpha_m = 0.32 * (13.0 - u) / (((13.0 - u) / 4.0).exp() - 1.0);
    let beta_m = 0.28 * (u - 40.0) / (((u - 40.0) / 5.0).exp() - 1.0);
    let alpha_h = 0.128 * ((17.0 - u) / 18.0).exp();
    let beta_h = 4.0 / (1.0 + ((40.0 - u) / 5.0).exp());
    [dv, alpha_m - (alpha_m + beta_m) * m, alpha_h - (alpha_h + beta_h) * h, alpha_n - (alpha_n + beta_n) * n]
}

/// The state after `dt` from `y` by RK4 on `substeps` substeps, with `current` constant
/// and the conductances decaying exactly from their start values.
fn integrate(mut y: [f64; 4], current: f64, conductances: &[Conductance], p: &[f64; 10], dt: f64, substeps: usize) -> [f64; 4] {
    let h = dt / substeps as f64;
    // Σ g(t) and Σ g(t)·e_rev at time t into the step.
    let summed = |t: f64| {
        conductances.iter().fold((0.0, 0.0), |(g, ge), k| {
            let value = k.g * (-t / k.tau).exp();
            (g + value, ge + value * k.e_rev)
        })
    };
    let add = |y: [f64; 4], k: [f64; 4], s: f64| std::array::from_fn::<f64, 4, _>(|i| y[i] + s * k[i]);
    for step in 0..substeps {
        let t = step as f64 * h;
        let (g0, ge0) = summed(t);
        let (g1, ge1) = summed(t + h / 2.0);
        let (g2, ge2) = summed(t + h);
        let k1 = derivative(y, g0, ge0, current, p);
        let k2 = derivative(add(y, k1, h / 2.0), g1, ge1, current, p);
        let k3 = derivative(add(y, k2, h / 2.0), g1, ge1, current, p);
        let k4 = derivative(add(y, k3, h), g2, ge2, current, p);
        y = std::array::from_fn(|i| y[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]));
    }
    y
}

impl Group for HhCondExpTraubGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, m, h, n, refractory and the spike flag; each neuron's constants where they are
    /// its own.
    fn bytes(&self) -> usize {
        self.len() * (21 + self.constants.bytes_per_neuron())
    }

    /// One step: `input[i] + common` injected into neuron i (pA), the synaptic
    /// conductances as the step began.
    fn step(&mut self, step: &StepInput) -> bool {
        let substeps = (self.dt / SUBSTEP_MS - 1e-9).ceil().max(1.0) as usize;
        let kinds: Vec<SynapticInput> = step.synaptic.iter().collect();
        let mut conductances = Vec::with_capacity(kinds.len());
        let mut non_finite = false;
        for i in 0..self.v.len() {
            let HhConstants { p, steps_ref } = self.constants.of(i);
            let (v_t, i_e) = (p[7], p[9]);
            let mut current = i_e + (step.input[i] + step.common) as f64;
            conductances.clear();
            for kind in &kinds {
                match *kind {
                    SynapticInput::Conductance { start, e_rev, tau_ms, .. } => {
                        conductances.push(Conductance { g: start[i] as f64, e_rev: e_rev as f64, tau: tau_ms as f64 })
                    }
                    SynapticInput::Current { i: values, .. } => current += values[i] as f64,
                }
            }
            let before = self.v[i];
            let y = [before as f64, self.m[i] as f64, self.h[i] as f64, self.n[i] as f64];
            let [v, m, h, n] = integrate(y, current, &conductances, &p, self.dt, substeps).map(|x| x as f32);
            let free = self.refractory[i] == 0.0;
            let fired = free && v as f64 >= v_t + 30.0 && before > v;
            self.refractory[i] = if fired { steps_ref } else if free { 0.0 } else { self.refractory[i] - 1.0 };
            (self.v[i], self.m[i], self.h[i], self.n[i]) = (v, m, h, n);
            self.spiked[i] = fired as u8;
            non_finite |= !(v.is_finite() && m.is_finite() && h.is_finite() && n.is_finite());
        }
        non_finite
    }

    fn collect_spikes(&self, emit: impl FnMut(usize)) {
        crate::simd::each_nonzero(&self.spiked, emit)
    }

    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        (0..self.len()).find_map(|i| {
            [("v", self.v[i]), ("m", self.m[i]), ("h", self.h[i]), ("n", self.n[i])].into_iter().find(|(_, x)| !x.is_finite()).map(|(n, x)| (i, n, x))
        })
    }

    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        [&self.v, &self.m, &self.h, &self.n, &self.refractory].get(k).map(|x| x.as_slice())
    }

    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        vec![
            StateArrayMut::F32(&mut self.v),
            StateArrayMut::F32(&mut self.m),
            StateArrayMut::F32(&mut self.h),
            StateArrayMut::F32(&mut self.n),
            StateArrayMut::F32(&mut self.refractory),
        ]
    }

    fn gpu_model(&self) -> Option<GpuModel> {
        None
    }

    fn gpu_state_count(&self) -> usize {
        5
    }

    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.v, &mut self.m, &mut self.h, &mut self.n, &mut self.refractory]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synapse::{Exponential, SynapseModel, Synaptic};

    fn neuron(i_e: f64) -> HhCondExpTraubGroup {
        let spec = HhCondExpTraubSpec {
            parameters: [20000.0, 6000.0, 10.0, 200.0, 50.0, -90.0, -60.0, -63.0, 2.0, i_e].map(Values::of),
            dt_ms: 0.1,
            initial: STATE.map(|(_, _, e)| Expr::parse(e, &["r", "g_na", "g_k", "g_l", "c_m", "e_na", "e_k", "e_l", "v_t", "t_ref", "i_e", "v", "m", "h", "n"]).unwrap()),
        };
        spec.build(std::iter::once(0.5)).unwrap()
    }

    /// Held down it settles; under a current
    /// it fires regularly, each spike once (at the peak, above v_t + 30 mV); RK4 on
    /// 0.005 ms substeps is within 10⁻⁴ mV of 10 times finer substeps over a whole spike
    /// (NEST's own tolerance is 10⁻³ absolute); an excitatory conductance pulse fires it.
    #[test]
    fn it_rests_fires_at_peaks_and_converges() {
        // Held below threshold by a current it settles, unspiking (without one, NEST's
        // default neuron fires now and then: its rest is not e_l).
        let mut rest = neuron(-100.0);
        let none = Synaptic::none();
        let mut settled = 0.0;
        for step in 0..2000 {
            rest.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &none, dt: 0.1, step: 0 });
            assert_eq!(rest.spiked[0], 0, "step {step}: v {}", rest.v[0]);
            if step == 1899 {
                settled = rest.v[0];
            }
        }
        assert!((rest.v[0] - settled).abs() < 1e-3 && rest.v[0] < -50.0, "{} then {}", settled, rest.v[0]);
        let mut driven = neuron(500.0);
        let mut spikes = Vec::new();
        for step in 0..2000u32 {
            driven.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &none, dt: 0.1, step: 0 });
            driven.collect_spikes(|_| spikes.push(step));
        }
        assert!(spikes.len() >= 5, "{spikes:?}");
        let gaps: Vec<u32> = spikes.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|&g| g > 20) && gaps[1..].iter().all(|&g| g.abs_diff(gaps[gaps.len() - 1]) <= 1), "{gaps:?}");
        let p = driven.constants.of(0).p;
        let mut coarse = [-60.0, 0.05, 0.6, 0.3];
        let mut fine = coarse;
        let mut peak: f64 = -100.0;
        for _ in 0..150 {
            coarse = integrate(coarse, 500.0, &[], &p, 0.1, 20);
            fine = integrate(fine, 500.0, &[], &p, 0.1, 200);
            peak = peak.max(fine[0]);
            assert!((coarse[0] - fine[0]).abs() < 1e-4, "{coarse:?} {fine:?}");
        }
        assert!(peak > 0.0, "a spike was integrated: peak {peak} mV");
        let mut pulsed = neuron(0.0);
        let mut g = Exponential::new(SynapseModel::ExpConductance { tau_ms: 5.0, e_rev: 0.0 }, 1, 0.1);
        let mut fired = false;
        for step in 0..300 {
            g.advance(&[if step == 0 { 200.0 } else { 0.0 }]);
            let kinds = std::slice::from_ref(&g);
            pulsed.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &Synaptic::new(kinds, 0..1), dt: 0.1, step });
            fired |= pulsed.spiked[0] == 1;
        }
        assert!(fired);
    }

    /// Neurons with parameters of their own (listed, and of r) step bit for bit as each
    /// would alone, under a conductance, through spikes and refractoriness.
    #[test]
    fn neurons_with_their_own_parameters_step_as_each_alone() {
        let names = ["r", "g_na", "g_k", "g_l", "c_m", "e_na", "e_k", "e_l", "v_t", "t_ref", "i_e", "v", "m", "h", "n"];
        let initial = || STATE.map(|(_, _, e)| Expr::parse(e, &names).unwrap());
        let n = 5;
        let g_k: Vec<f64> = (0..n).map(|k| 5000.0 + 500.0 * k as f64).collect();
        let uniform = |i_e: f64, g_k: f64, t_ref: f64| [20000.0, g_k, 10.0, 200.0, 50.0, -90.0, -60.0, -63.0, t_ref, i_e].map(Values::of);
        let mut spec = HhCondExpTraubSpec { parameters: uniform(0.0, 0.0, 0.0), dt_ms: 0.1, initial: initial() };
        spec.parameters[1] = Values::Listed(g_k.clone().into());
        spec.parameters[8] = Values::Expr(Expr::parse("1 + 3*r", &["r"]).unwrap());
        spec.parameters[9] = Values::Expr(Expr::parse("300 + 400*r", &["r"]).unwrap());
        let r = |k: usize| k as f64 / n as f64;
        let mut group = spec.build_at(1, (1..n).map(r)).unwrap();
        let mut alone: Vec<HhCondExpTraubGroup> = (1..n)
            .map(|k| {
                let one = HhCondExpTraubSpec { parameters: uniform(300.0 + 400.0 * r(k), g_k[k], 1.0 + 3.0 * r(k)), dt_ms: 0.1, initial: initial() };
                one.build([r(k)].into_iter()).unwrap()
            })
            .collect();
        let m = n - 1;
        let mut kinds = vec![Exponential::new(SynapseModel::ExpConductance { tau_ms: 2.0, e_rev: -80.0 }, m, 0.1)];
        let mut fired = 0;
        for s in 0..600usize {
            kinds[0].advance(&(0..m).map(|k| if (k + s).is_multiple_of(23) { 3.0 } else { 0.0 }).collect::<Vec<f32>>());
            let input = vec![0.0f32; m];
            group.step(&StepInput { input: &input, currents: None, common: 0.0, synaptic: &Synaptic::new(&kinds, 0..m), dt: 0.1, step: 0 });
            for (k, one) in alone.iter_mut().enumerate() {
                let synaptic = Synaptic::new(&kinds, k..k + 1);
                one.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step: 0 });
                let bits = |g: &HhCondExpTraubGroup, i: usize| (g.v[i].to_bits(), g.n[i].to_bits(), g.refractory[i].to_bits(), g.spiked[i]);
                assert_eq!(bits(&group, k), bits(one, 0), "step {s}, neuron {k}");
                fired += one.spiked[0] as usize;
            }
        }
        assert!(fired > 10, "{fired} spikes");
    }
}
