//! Leaky integrate-and-fire neurons with exponentially decaying synaptic conductances,
//! NEST's `iaf_cond_exp` (the COBA network of Vogels & Abbott 2005; PyNN's
//! `IF_cond_exp`):
//!
//! ```text
//! C_m v′ = −g_L (v − E_L) − Σ_k g_k(t) (v − E_k) + I_e + I        g_k′ = −g_k / τ_k
//! ```
//!
//! Each conductance is a synaptic kind of the projections onto the population
//! (`synapse = { model = "exp_conductance", tau, e_rev }`: NEST's g_ex with E_ex and
//! tau_syn_ex, g_in with E_in and tau_syn_in, as many as the projections name). NEST's
//! order, step by step: v is integrated over the step with the conductances the step
//! began with, decaying exactly within it (NEST integrates v and g together with GSL's
//! adaptive RKF45 to 10⁻³; here v by classical Runge–Kutta in f64 on substeps of at most
//! a quarter of the fastest time constant, conductances and effective membrane time
//! constant, so its error is far below NEST's tolerance); the driving force uses
//! min(v, v_th), as NEST's does; then the step's arrivals join the conductances (so a
//! spike acts from the next step, as in NEST); while refractory v stays at v_reset and
//! the steps left count down; v at or above v_th spikes, is set to v_reset and is held
//! for t_ref in whole steps (as NEST counts them). Stimulus currents act in the step they
//! are given for, as in volley's other LIF models.

use super::declaration::{Bound, ConductanceShape, Declaration, Declared, Derived, Parameter, Scope, StateVariable, Values};
use super::{Build, Constants, EachNeuron, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, StateArrayMut, StepInput};
use crate::expr::Expr;
use crate::synapse::SynapticInput;

/// Parameters in slot order: name, default (NEST's iaf_cond_exp defaults), unit, bound.
const PARAMETERS: [(&str, &str, &str, Option<Bound>); 7] = [
    ("c_m", "250", "pF", Some(Bound { min: 0.0, strict: true, what: "a capacitance" })),
    ("g_l", "16.6667", "nS", Some(Bound { min: 0.0, strict: true, what: "a conductance" })),
    ("e_l", "-70", "mV", None),
    ("v_th", "-55", "mV", None),
    ("v_reset", "-60", "mV", None),
    ("t_ref", "2", "ms", Some(Bound { min: 0.0, strict: false, what: "a duration" })),
    ("i_e", "0", "pA", None),
];

const STATE: [(&str, &str, &str); 2] = [("v", "mV", "e_l"), ("refractory", "steps", "0")];

pub fn declaration() -> Declaration {
    Declaration {
        model: "iaf_cond_exp",
        parameters: PARAMETERS
            .iter()
            .map(|&(name, default, unit, bound)| Parameter { name: name.into(), unit, scope: Scope::PerNeuron, default: Some(default), bound })
            .collect(),
        state: STATE.iter().map(|&(name, unit, initial)| StateVariable::from_initial(name, unit, initial)).collect(),
        derived: vec![Derived {
            name: "steps_ref".into(),
            unit: "steps",
            definition: "t_ref in whole steps, as NEST counts them: rounded to tics of 0.001 ms, then up to whole steps".into(),
        }],
        step: "unless refractory: v integrated over the step (RK4 in f64) from c_m·v′ = −g_l·(v − e_l) − Σ g_k·e^(−t/τ_k)·(min(v, v_th) − e_rev_k) + i_e + I, \
               g_k the conductances the step began with; then each conductance decays and takes the weights arriving (nS)"
            .into(),
        threshold: "v ≥ v_th after the step".into(),
        reset: "v ← v_reset at once, held for steps_ref steps".into(),
        integrates_conductances: true,
        // The spike flag of the last step.
        extra_bytes_per_neuron: 1,
        initial_note: None,
        filters_weights: false,
        conductance_synapses: Some(ConductanceShape::Exponential),
    }
}

/// NEST's checks (`Parameters_::set`) beyond each bound: a reset below the threshold
/// (here where both are constants, neuron by neuron at the build otherwise).
fn check(declared: &Declared) -> Option<(&'static str, String)> {
    let (v_th, v_reset) = (declared.parameters[3].constant()?, declared.parameters[4].constant()?);
    super::lif::reset_above_threshold(v_th, v_reset).map(|expected| ("v_reset", format!("expected {expected}, got {v_reset} mV")))
}

fn from_declared(declared: Declared, dt_ms: f64) -> NeuronModel {
    NeuronModel::CondExp(spec_of(declared, dt_ms))
}

/// The spec of a population declared as this model (or as `iaf_cond_alpha`, its twin).
pub(super) fn spec_of(declared: Declared, dt_ms: f64) -> CondExpSpec {
    CondExpSpec {
        parameters: declared.parameters.try_into().expect("seven parameters, as declared"),
        dt_ms,
        initial: declared.initial.try_into().expect("two state variables, as declared"),
    }
}

/// One population's parameters (slot order) and initial-state expressions.
#[derive(Clone, Debug)]
pub struct CondExpSpec {
    /// Each parameter's values: constants, expressions of r or listed per neuron.
    pub parameters: [Values; 7],
    pub dt_ms: f64,
    /// v, refractory as expressions of r, the parameters and the earlier state.
    pub initial: [Expr; 2],
}

/// What a step reads: the same for every neuron of a group, or one set per neuron.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CondExpConstants {
    pub c_m: f64,
    pub g_l: f64,
    pub e_l: f64,
    pub v_th: f64,
    pub v_reset: f64,
    pub i_e: f64,
    pub steps_ref: f32,
    pub dt: f64,
}

impl CondExpSpec {
    /// A population whose neurons share the parameter values `parameters`.
    pub fn uniform(parameters: [f64; 7], dt_ms: f64, initial: [Expr; 2]) -> CondExpSpec {
        CondExpSpec { parameters: parameters.map(Values::of), dt_ms, initial }
    }

    /// The constants of a neuron with parameter values `p`.
    fn constants_of(&self, p: &[f64; 7]) -> CondExpConstants {
        let [c_m, g_l, e_l, v_th, v_reset, t_ref, i_e] = *p;
        CondExpConstants {
            c_m,
            g_l,
            e_l,
            v_th,
            v_reset,
            i_e,
            steps_ref: crate::units::refractory_steps(t_ref, self.dt_ms) as f32,
            dt: self.dt_ms,
        }
    }
}

impl Model for CondExpSpec {
    type Group = CondExpGroup;
    /// NEST's name.
    const KIND: ModelKind = ModelKind {
        name: "iaf_cond_exp",
        declaration,
        build: Build::Values(from_declared),
        check: Some(check),
        shader: "",
        gpu: "refused: integrated on the CPU backend",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<CondExpGroup, InvalidValue> {
        self.build_at(0, r)
    }

    /// The group of the neurons from population-local id `first` whose uniforms are `r`,
    /// or the first neuron with a value that cannot be simulated.
    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<CondExpGroup, InvalidValue> {
        let each = EachNeuron { values: &self.parameters, declared: &PARAMETERS, check: super::lif::check_reset, constants_of: &mut |p| self.constants_of(p) };
        let ([v, refractory], constants) = each.build(&self.initial, STATE.map(|s| s.0), first, r)?;
        let n = v.len();
        Ok(CondExpGroup { v, refractory, spiked: vec![0; n], constants, dt_ms: self.dt_ms })
    }

    /// Each neuron's constants where its parameters differ, in f32 slots.
    fn per_neuron_parameters(&self) -> usize {
        super::own_slots(&self.parameters, std::mem::size_of::<CondExpConstants>())
    }

    /// `cargo bench --bench kernels -- iaf_cond_exp` on machine B: 42 ns under two
    /// conductances (one substep of RK4, scalar f64).
    fn step_cost_ns(&self) -> f64 {
        42.0
    }

    fn gpu_unsupported(&self) -> Option<String> {
        Some("iaf_cond_exp is integrated on the CPU backend only (use --backend cpu)".into())
    }
}

/// Struct-of-arrays state of a contiguous range of neurons of one population.
#[derive(Clone, Debug)]
pub struct CondExpGroup {
    /// Membrane potential (mV).
    pub v: Vec<f32>,
    /// Steps of refractoriness left (whole numbers, exact in f32).
    pub refractory: Vec<f32>,
    pub spiked: Vec<u8>,
    pub constants: Constants<CondExpConstants>,
    /// The step (ms).
    dt_ms: f64,
}

/// One conductance of one neuron over a step: g and its rate of rise (0 for an
/// exponential conductance) at the step's start, its reversal potential and time
/// constant, and its decay over half and over a whole substep (those of a whole step,
/// computed once per group and step, where one substep does).
#[derive(Clone, Copy, Debug)]
struct Conductance {
    g: f64,
    rise: f64,
    e_rev: f64,
    tau: f64,
    half: f64,
    full: f64,
}

/// v after one step of length `c.dt` from `v`, with the input current `current` (pA,
/// i_e included) constant over it and `conductances` decaying within it.
fn integrate(v: f64, current: f64, conductances: &mut [Conductance], c: &CondExpConstants) -> f64 {
    // Substeps of at most a quarter of the fastest time constant: each conductance's and
    // the membrane's under the conductances the step begins with.
    let total: f64 = conductances.iter().map(|k| k.g).sum();
    let membrane = c.c_m / (c.g_l + total.max(0.0));
    let fastest = conductances.iter().filter(|k| k.g != 0.0 || k.rise != 0.0).map(|k| k.tau).fold(membrane, f64::min);
    let substeps = (4.0 * c.dt / fastest).ceil().clamp(1.0, 1000.0) as usize;
    let h = c.dt / substeps as f64;
    if substeps > 1 {
        for k in conductances.iter_mut() {
            (k.half, k.full) = ((-h / (2.0 * k.tau)).exp(), (-h / k.tau).exp());
        }
    }
    // v′ with each conductance `at` a point of the substep: g(t) = (g + rise·t)·e^(−t/τ)
    // from its substep-start values (the rise 0 for an exponential conductance).
    let dv = |v: f64, ks: &[Conductance], at: fn(&Conductance, f64) -> f64| {
        let driven = v.min(c.v_th);
        let synaptic: f64 = ks.iter().map(|k| at(k, h) * (driven - k.e_rev)).sum();
        (-c.g_l * (driven - c.e_l) - synaptic + current) / c.c_m
    };
    let mut v = v;
    for _ in 0..substeps {
        let k1 = dv(v, conductances, |k, _| k.g);
        let k2 = dv(v + h / 2.0 * k1, conductances, |k, h| (k.g + k.rise * (h / 2.0)) * k.half);
        let k3 = dv(v + h / 2.0 * k2, conductances, |k, h| (k.g + k.rise * (h / 2.0)) * k.half);
        let k4 = dv(v + h * k3, conductances, |k, h| (k.g + k.rise * h) * k.full);
        v += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        conductances.iter_mut().for_each(|k| {
            k.g = (k.g + k.rise * h) * k.full;
            k.rise *= k.full;
        });
    }
    v
}

impl Group for CondExpGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, refractory and the spike flag; each neuron's constants where they are its own.
    fn bytes(&self) -> usize {
        self.len() * (9 + self.constants.bytes_per_neuron())
    }

    /// One step: `input[i] + common` injected into neuron i (pA: stimuli, and the weights
    /// of current synapses), the synaptic conductances as the step began.
    fn step(&mut self, step: &StepInput) -> bool {
        let dt = self.dt_ms;
        let kinds: Vec<SynapticInput> = step.synaptic.iter().collect();
        // Each kind's decay over half and over a whole step, for every neuron.
        let decays: Vec<(f64, f64)> = kinds
            .iter()
            .map(|kind| match *kind {
                SynapticInput::Conductance { tau_ms, .. } => ((-dt / (2.0 * tau_ms as f64)).exp(), (-dt / tau_ms as f64).exp()),
                SynapticInput::Current { .. } => (1.0, 1.0),
            })
            .collect();
        let mut conductances = Vec::with_capacity(kinds.len());
        let mut non_finite = false;
        for i in 0..self.v.len() {
            let c = self.constants.of(i);
            let mut current = c.i_e + (step.input[i] + step.common) as f64;
            conductances.clear();
            for (kind, &(half, full)) in kinds.iter().zip(&decays) {
                match *kind {
                    SynapticInput::Conductance { start, rise, e_rev, tau_ms, .. } => conductances.push(Conductance {
                        g: start[i] as f64,
                        rise: rise.get(i).map_or(0.0, |&r| r as f64),
                        e_rev: e_rev as f64,
                        tau: tau_ms as f64,
                        half,
                        full,
                    }),
                    SynapticInput::Current { i: values, .. } => current += values[i] as f64,
                }
            }
            let free = self.refractory[i] == 0.0;
            let advanced = if free { integrate(self.v[i] as f64, current, &mut conductances, &c) as f32 } else { c.v_reset as f32 };
            let fired = free && advanced >= c.v_th as f32;
            self.refractory[i] = if fired { c.steps_ref } else if free { 0.0 } else { self.refractory[i] - 1.0 };
            self.v[i] = if fired { c.v_reset as f32 } else { advanced };
            self.spiked[i] = fired as u8;
            non_finite |= !self.v[i].is_finite();
        }
        non_finite
    }

    fn collect_spikes(&self, emit: impl FnMut(usize)) {
        crate::simd::each_nonzero(&self.spiked, emit)
    }

    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        self.v.iter().position(|v| !v.is_finite()).map(|i| (i, "v", self.v[i]))
    }

    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        [&self.v, &self.refractory].get(k).map(|x| x.as_slice())
    }

    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        vec![StateArrayMut::F32(&mut self.v), StateArrayMut::F32(&mut self.refractory)]
    }

    fn gpu_model(&self) -> Option<GpuModel> {
        None
    }

    fn gpu_state_count(&self) -> usize {
        2
    }

    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.v, &mut self.refractory]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synapse::{Exponential, SynapseModel, Synaptic};

    fn neuron(i_e: f64, v0: f64) -> CondExpGroup {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let spec = CondExpSpec::uniform([250.0, 16.6667, -70.0, -55.0, -60.0, 2.0, i_e], 0.1, [e(v0), e(0.0)]);
        spec.build(std::iter::once(0.5)).unwrap()
    }

    fn step(group: &mut CondExpGroup, kinds: &[Exponential]) {
        let input = vec![0.0f32; group.len()];
        let synaptic = Synaptic::new(kinds, 0..group.len());
        group.step(&StepInput { input: &input, currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step: 0 });
    }

    /// Without synapses the membrane is linear: v relaxes to e_l + i_e/g_l as the exact
    /// exponential, and a current above rheobase fires at the exact solution's period on
    /// the grid (the crossing, then t_ref held).
    #[test]
    fn a_constant_current_follows_the_exact_solution_and_fires_on_its_period() {
        let (c_m, g_l, e_l) = (250.0, 16.6667, -70.0);
        let mut cell = neuron(300.0, -70.0);
        let exact = |t: f64| e_l + 300.0 / g_l * (1.0 - (-t * g_l / c_m).exp());
        let mut first = None;
        for k in 1..=2000 {
            step(&mut cell, &[]);
            if cell.spiked[0] == 1 && first.is_none() {
                first = Some(k);
            }
            if first.is_none() {
                // v held in f32: a rounding per step.
                assert!((cell.v[0] as f64 - exact(k as f64 * 0.1)).abs() < 1e-4, "step {k}: {} against {}", cell.v[0], exact(k as f64 * 0.1));
            }
        }
        // The first step whose end is past the crossing of v_th.
        let crossing = -(c_m / g_l) * (1.0 - (-55.0 - e_l) * g_l / 300.0).ln();
        assert_eq!(first, Some((crossing / 0.1).ceil() as usize));
    }

    /// A conductance jump acts from the next step, decays with its tau, and pulls v
    /// towards its reversal potential as a reference integration on 10⁴ substeps does.
    #[test]
    fn a_conductance_acts_from_the_next_step_as_a_fine_reference_integrates_it() {
        let mut kinds = vec![Exponential::new(SynapseModel::ExpConductance { tau_ms: 0.2, e_rev: 0.0 }, 1, 0.1)];
        let mut cell = neuron(0.0, -70.0);
        kinds[0].advance(&[50.0]); // 50 nS arriving in step 0
        step(&mut cell, &kinds);
        assert_eq!(cell.v[0], -70.0, "the arrival acts from the next step");
        let c = cell.constants.of(0);
        let mut reference = -70.0f64;
        let fine = |v: &mut f64, g0: f64| {
            let h = 0.1 / 10_000.0;
            for s in 0..10_000 {
                let g = g0 * (-(s as f64 + 0.5) * h / 0.2).exp();
                *v += h * (-c.g_l * (*v - c.e_l) - g * (*v - 0.0)) / c.c_m;
            }
        };
        let mut g = 50.0f64;
        for _ in 0..20 {
            kinds[0].advance(&[0.0]);
            step(&mut cell, &kinds);
            fine(&mut reference, g);
            g *= (-0.1f64 / 0.2).exp();
            assert!((cell.v[0] as f64 - reference).abs() < 2e-5, "{} against {reference}", cell.v[0]);
        }
        assert!(reference > -69.0, "the conductance moved v: {reference}");
    }

    /// Neurons with parameters of their own (listed, and of r) step bit for bit as each
    /// would alone, under a conductance; one whose reset is not below its threshold is
    /// named.
    #[test]
    fn neurons_with_their_own_parameters_step_as_each_alone() {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let n = 5;
        let g_l: Vec<f64> = (0..n).map(|k| 10.0 + 3.0 * k as f64).collect();
        let mut spec = CondExpSpec::uniform([250.0, 0.0, -70.0, -55.0, -60.0, 2.0, 0.0], 0.1, [e(-65.0), e(0.0)]);
        spec.parameters[1] = Values::Listed(g_l.clone().into());
        spec.parameters[6] = Values::Expr(Expr::parse("400 + 100*r", &["r"]).unwrap());
        let r = |k: usize| k as f64 / n as f64;
        let mut group = spec.build_at(1, (1..n).map(r)).unwrap();
        let mut alone: Vec<CondExpGroup> = (1..n)
            .map(|k| CondExpSpec::uniform([250.0, g_l[k], -70.0, -55.0, -60.0, 2.0, 400.0 + 100.0 * r(k)], 0.1, [e(-65.0), e(0.0)]).build([r(k)].into_iter()).unwrap())
            .collect();
        let m = n - 1;
        let mut kinds = vec![Exponential::new(SynapseModel::ExpConductance { tau_ms: 0.2, e_rev: -80.0 }, m, 0.1)];
        let mut fired = 0;
        for s in 0..500usize {
            kinds[0].advance(&(0..m).map(|k| if (k + s).is_multiple_of(17) { 5.0 } else { 0.0 }).collect::<Vec<f32>>());
            step(&mut group, &kinds);
            for (k, one) in alone.iter_mut().enumerate() {
                let input = [0.0f32];
                let synaptic = Synaptic::new(&kinds, k..k + 1);
                one.step(&StepInput { input: &input, currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step: 0 });
                assert_eq!((group.v[k].to_bits(), group.spiked[k]), (one.v[0].to_bits(), one.spiked[0]), "step {s}, neuron {k}");
                fired += one.spiked[0] as usize;
            }
        }
        assert!(fired > 10, "{fired} spikes");
        spec.parameters[3] = Values::Listed(vec![-55.0, -50.0, -60.0, -55.0, -55.0].into());
        let err = spec.build_at(0, (0..n).map(r)).unwrap_err();
        assert_eq!((err.index, err.name, err.expected.as_str()), (2, "v_reset", "v_reset below v_th (-60 mV)"));
    }

    #[test]
    fn refractory_steps_hold_v_at_reset() {
        let mut cell = neuron(0.0, -54.0);
        cell.v[0] = -50.0;
        step(&mut cell, &[]);
        assert_eq!((cell.spiked[0], cell.v[0], cell.refractory[0]), (1, -60.0, 20.0));
        for left in (0..20).rev() {
            step(&mut cell, &[]);
            assert_eq!((cell.spiked[0], cell.v[0], cell.refractory[0]), (0, -60.0, left as f32));
        }
        step(&mut cell, &[]);
        assert!(cell.v[0] < -60.0, "free again: relaxing to e_l");
    }
}
