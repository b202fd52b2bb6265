//! Leaky integrate-and-fire neurons with alpha-shaped synaptic currents, NEST's
//! `iaf_psc_alpha` (the neuron of NEST's `hpc_benchmark`), integrated exactly: over a step
//! of length h the linear system
//!
//! ```text
//! τ_m v′ = −(v − E_L) + τ_m/C_m · (I_syn + I_e + I)      I_syn′ = dI − I_syn/τ_syn      dI′ = −dI/τ_syn
//! ```
//!
//! advances by its exponential propagators (Rotter & Diesmann 1999), computed once per
//! population in f64 with a = 1/τ_syn − 1/τ_m:
//!
//! ```text
//! P11 = P22 = e^(−h/τ_syn)   P21 = h·P11   P33 = e^(−h/τ_m)   P30 = τ_m/C_m · (1 − P33)
//! P32 = h·P11·φ₁(a·h)/C_m    P31 = h²·P11·φ₂(a·h)/C_m      φ₁(x) = (eˣ − 1)/x, φ₂(x) = (eˣ − 1 − x)/x²
//! ```
//!
//! (φ₁, φ₂ by their series near 0: the limit τ_syn = τ_m is the same formula). NEST's
//! order: v advances with the synaptic current and its derivative of the start of the
//! step (unless refractory: the step counter counts down instead); then I_syn takes dI,
//! dI decays and takes e/τ_syn times the weights arriving in this step (pA: a weight w
//! gives a current peaking at w, τ_syn later); v at or above V_th spikes, is set to
//! V_reset at once and held for t_ref in whole steps. Stimulus currents act through P30,
//! as NEST's current generators. The arithmetic is f32 (NEST's is f64); v − E_L is
//! propagated, as NEST propagates it. NEST's V_min (a lower bound on v, −∞ by default)
//! is not offered.
//!
//! Where tau_syn_in differs from tau_syn_ex, negative weights go to a second alpha
//! current decaying with tau_syn_in, as NEST routes them by sign (its i_syn_in): a
//! synaptic kind (`alpha_current`) whose value and rise as the step began move v by
//! P31(τ_in)·dI + P32(τ_in)·I, handed to the kernel as the current that does so through
//! P30.

use super::declaration::{Declaration, Declared, Derived, StateVariable, Values};
use super::{Build, Columns, ColumnsAt, Constants, ConstantsAt, EachNeuron, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, Same, StateArrayMut, StepInput};
use super::membrane_input::MembraneInput;
use crate::expr::Expr;
use crate::synapse::SynapseModel;

const STATE: [(&str, &str, &str); 4] = [("v", "mV", "e_l"), ("di_syn", "pA/ms", "0"), ("i_syn", "pA", "0"), ("refractory", "steps", "0")];


/// The parameters as iaf_psc_exp's (each may differ between neurons but the synaptic
/// time constants); v, the synaptic current, its derivative and the refractory steps
/// left start from expressions.
pub fn declaration() -> Declaration {
    Declaration {
        model: "iaf_psc_alpha",
        // iaf_psc_exp's names and defaults, which are NEST's for both.
        parameters: super::lif::parameters(true),
        state: STATE.iter().map(|&(name, unit, initial)| StateVariable::from_initial(name, unit, initial)).collect(),
        derived: vec![
            Derived { name: "P11".into(), unit: "", definition: "exp(−dt/tau_syn_ex), also P22".into() },
            Derived { name: "P21".into(), unit: "ms", definition: "dt·P11".into() },
            Derived { name: "P33".into(), unit: "", definition: "exp(−dt/tau_m)".into() },
            Derived { name: "P30".into(), unit: "mV/pA", definition: "tau_m/c_m·(1 − P33)".into() },
            Derived { name: "P31".into(), unit: "mV·ms/pA", definition: "dt²·P11·φ₂(a·dt)/c_m, a = 1/tau_syn − 1/tau_m".into() },
            Derived { name: "P32".into(), unit: "mV/pA", definition: "dt·P11·φ₁(a·dt)/c_m".into() },
            Derived { name: "psc_initial".into(), unit: "1/ms", definition: "e/tau_syn_ex".into() },
            Derived { name: "steps_ref".into(), unit: "steps", definition: "t_ref in whole steps, as NEST counts them: rounded to tics of 0.001 ms, then up to whole steps".into() },
        ],
        step: "unless refractory: v ← e_l + P33·(v − e_l) + P31·di_syn + P32·i_syn + P30·(i_e + I); then i_syn ← P21·di_syn + \
               P22·i_syn; di_syn ← P11·di_syn + psc_initial·(the weights arriving). Where tau_syn_in ≠ tau_syn_ex, negative weights \
               go to an alpha_current of tau_syn_in (NEST's dI_in, I_in), which adds P31(τ_in)·dI_in + P32(τ_in)·I_in to v"
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

fn from_declared(declared: Declared, dt_ms: f64) -> NeuronModel {
    NeuronModel::Alpha(AlphaSpec {
        parameters: declared.parameters.try_into().expect("nine parameters, as declared"),
        dt_ms,
        initial: declared.initial.try_into().expect("four state variables, as declared"),
    })
}

/// The exact propagators of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlphaPropagators {
    pub p11: f64,
    pub p21: f64,
    pub p33: f64,
    pub p30: f64,
    pub p31: f64,
    pub p32: f64,
}

/// (eˣ − 1)/x and (eˣ − 1 − x)/x², by their series where x is small (no cancellation,
/// and x = 0 — τ_syn = τ_m — included).
fn phi(x: f64) -> (f64, f64) {
    if x.abs() < 1e-3 {
        (1.0 + x / 2.0 + x * x / 6.0 + x * x * x / 24.0, 0.5 + x / 6.0 + x * x / 24.0 + x * x * x / 120.0)
    } else {
        (x.exp_m1() / x, (x.exp_m1() - x) / (x * x))
    }
}

impl AlphaPropagators {
    pub fn new(tau_m: f64, c_m: f64, tau_syn: f64, h: f64) -> AlphaPropagators {
        let p11 = (-h / tau_syn).exp();
        let p33 = (-h / tau_m).exp();
        let (phi1, phi2) = phi((1.0 / tau_syn - 1.0 / tau_m) * h);
        AlphaPropagators {
            p11,
            p21: h * p11,
            p33,
            p30: tau_m / c_m * -(-h / tau_m).exp_m1(),
            p31: h * h * p11 * phi2 / c_m,
            p32: h * p11 * phi1 / c_m,
        }
    }
}

/// One population's parameters (slot order) and initial-state expressions.
#[derive(Clone, Debug)]
pub struct AlphaSpec {
    /// Each parameter's values: constants, expressions of r or listed per neuron (the
    /// synaptic time constants: constants).
    pub parameters: [Values; 9],
    pub dt_ms: f64,
    /// v, di_syn, i_syn, refractory as expressions of r, the parameters and the earlier
    /// state.
    pub initial: [Expr; 4],
}

/// What a step reads: the propagators in f32, the same for every neuron of a group or one
/// set per neuron.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlphaConstants {
    pub p11: f32,
    pub p21: f32,
    pub p33: f32,
    pub p30: f32,
    pub p31: f32,
    pub p32: f32,
    pub psc_initial: f32,
    pub e_l: f32,
    pub v_th: f32,
    pub v_reset: f32,
    pub i_e: f32,
    pub steps_ref: f32,
}

impl super::Fields<12> for AlphaConstants {
    #[inline(always)]
    fn fields(&self) -> [f32; 12] {
        let c = self;
        [c.p11, c.p21, c.p33, c.p30, c.p31, c.p32, c.psc_initial, c.e_l, c.v_th, c.v_reset, c.i_e, c.steps_ref]
    }

    #[inline(always)]
    fn from_fields([p11, p21, p33, p30, p31, p32, psc_initial, e_l, v_th, v_reset, i_e, steps_ref]: [f32; 12]) -> Self {
        AlphaConstants { p11, p21, p33, p30, p31, p32, psc_initial, e_l, v_th, v_reset, i_e, steps_ref }
    }
}

impl AlphaSpec {
    /// A population whose neurons share the parameter values `parameters`.
    pub fn uniform(parameters: [f64; 9], dt_ms: f64, initial: [Expr; 4]) -> AlphaSpec {
        AlphaSpec { parameters: parameters.map(Values::of), dt_ms, initial }
    }

    /// The neurons' constants where they share their parameters.
    pub fn constants(&self) -> Option<AlphaConstants> {
        super::shared_values(&self.parameters).map(|p| self.constants_of(&p))
    }

    /// The kind projections of negative weights take onto this population: where
    /// tau_syn_in differs from tau_syn_ex, an alpha current of their own decaying with
    /// tau_syn_in (NEST's i_syn_in); None where they share the synaptic current.
    pub fn inhibitory_kind(&self) -> Option<SynapseModel> {
        let [tau_ex, tau_in] = [6, 7].map(|k| self.parameters[k].constant().expect("one per population, as declared"));
        (tau_in != tau_ex).then_some(SynapseModel::AlphaCurrent { tau_ms: tau_in })
    }

    /// The constants of a neuron with parameter values `p`.
    fn constants_of(&self, p: &[f64; 9]) -> AlphaConstants {
        let [tau_m, c_m, e_l, v_th, v_reset, t_ref, tau_syn, _, i_e] = *p;
        let p = AlphaPropagators::new(tau_m, c_m, tau_syn, self.dt_ms);
        AlphaConstants {
            p11: p.p11 as f32,
            p21: p.p21 as f32,
            p33: p.p33 as f32,
            p30: p.p30 as f32,
            p31: p.p31 as f32,
            p32: p.p32 as f32,
            psc_initial: (std::f64::consts::E / tau_syn) as f32,
            e_l: e_l as f32,
            v_th: v_th as f32,
            v_reset: v_reset as f32,
            i_e: i_e as f32,
            steps_ref: crate::units::refractory_steps(t_ref, self.dt_ms) as f32,
        }
    }
}

impl Model for AlphaSpec {
    type Group = AlphaGroup;
    /// NEST's name.
    const KIND: ModelKind = ModelKind {
        name: "iaf_psc_alpha",
        declaration,
        build: Build::Values(from_declared),
        check: Some(super::lif::check),
        shader: include_str!("../../shaders/iaf_psc_alpha.wgsl"),
        gpu: "every population whose parameters are one value per population (`shaders/iaf_psc_alpha.wgsl`)",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<AlphaGroup, InvalidValue> {
        self.build_at(0, r)
    }

    /// The group of the neurons from population-local id `first` whose uniforms are
    /// `r`, or the first neuron with a value that cannot be simulated.
    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<AlphaGroup, InvalidValue> {
        // tau_m and c_m: one pair where the neurons share them, else each neuron's.
        let mut membrane = Vec::new();
        let mut constants_of = |p: &[f64; 9]| {
            membrane.push([p[0], p[1]]);
            self.constants_of(p)
        };
        let each = EachNeuron { values: &self.parameters, declared: &super::lif::PARAMETERS, check: super::lif::check_reset, constants_of: &mut constants_of };
        let ([v, di_syn, i_syn, refractory], constants) = each.build(&self.initial, STATE.map(|s| s.0), first, r)?;
        let n = v.len();
        let constants = constants.into_columns();
        Ok(AlphaGroup { v, di_syn, i_syn, refractory, spiked: vec![0; n], constants, input: MembraneInput::new(membrane, self.dt_ms) })
    }

    fn gpu_unsupported(&self) -> Option<String> {
        if super::shared_values(&self.parameters).is_none() {
            return Some("iaf_psc_alpha with parameters differing between neurons (shaders/iaf_psc_alpha.wgsl holds one set per population)".into());
        }
        self.inhibitory_kind().map(|_| {
            "iaf_psc_alpha with tau_syn_in ≠ tau_syn_ex (its inhibitory current, a synaptic kind, is not in shaders/iaf_psc_alpha.wgsl yet)".into()
        })
    }

    /// Each neuron's constants and membrane (tau_m and c_m in f64) where its parameters
    /// differ, in f32 slots.
    fn per_neuron_parameters(&self) -> usize {
        super::own_slots(&self.parameters, std::mem::size_of::<AlphaConstants>() + std::mem::size_of::<[f64; 2]>())
    }

    /// iaf_psc_exp's figure and a third: one more state variable and two more products.
    fn step_cost_ns(&self) -> f64 {
        0.55
    }
}

/// Struct-of-arrays state of a contiguous range of neurons of one population.
#[derive(Clone, Debug)]
pub struct AlphaGroup {
    /// Membrane potential (mV).
    pub v: Vec<f32>,
    pub di_syn: Vec<f32>,
    pub i_syn: Vec<f32>,
    /// Steps of refractoriness left (whole numbers, exact in f32).
    pub refractory: Vec<f32>,
    pub spiked: Vec<u8>,
    pub constants: Constants<AlphaConstants, Columns<12>>,
    /// The membranes (tau_m, c_m) and what the stimuli and synaptic kinds inject.
    input: MembraneInput,
}

impl Group for AlphaGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, di_syn, i_syn, refractory and the spike flag; each neuron's constants and
    /// membrane where they are its own.
    fn bytes(&self) -> usize {
        let membrane = if self.constants.bytes_per_neuron() > 0 { std::mem::size_of::<[f64; 2]>() } else { 0 };
        self.len() * (17 + self.constants.bytes_per_neuron() + membrane)
    }

    /// One step: `input[i]`, the weights arriving onto neuron i (pA), `currents[i] +
    /// common` injected (pA; None: no per-neuron currents). Returns true if some state is
    /// no longer finite.
    #[inline]
    fn step(&mut self, step: &StepInput) -> bool {
        // Synaptic kinds: its inhibitory current where tau_syn_in ≠ tau_syn_ex, and other
        // populations' (zero here).
        let currents = self.input.currents(step, &self.v);
        super::in_chunks(self.v.len(), currents, |r, currents| {
            let state = [&mut self.v[r.clone()], &mut self.di_syn[r.clone()], &mut self.i_syn[r.clone()], &mut self.refractory[r.clone()]];
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
        (0..self.len()).find_map(|i| {
            [("v", self.v[i]), ("di_syn", self.di_syn[i]), ("i_syn", self.i_syn[i])].into_iter().find(|(_, x)| !x.is_finite()).map(|(n, x)| (i, n, x))
        })
    }

    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        [&self.v, &self.di_syn, &self.i_syn, &self.refractory].get(k).map(|x| x.as_slice())
    }

    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        vec![
            StateArrayMut::F32(&mut self.v),
            StateArrayMut::F32(&mut self.di_syn),
            StateArrayMut::F32(&mut self.i_syn),
            StateArrayMut::F32(&mut self.refractory),
        ]
    }

    /// The group as the GPU steps it (`shaders/iaf_psc_alpha.wgsl`): state v, di_syn,
    /// i_syn, refractory; no parameters; constants p11, p21, p33, p30, p31, p32,
    /// psc_initial, e_l, v_th, v_reset, steps_ref, i_e. None where each neuron has its
    /// own (the spec refuses those).
    fn gpu_model(&self) -> Option<GpuModel> {
        let Constants::Shared(c) = &self.constants else { return None };
        Some(GpuModel {
            shader: AlphaSpec::KIND.shader,
            state: vec![self.v.clone(), self.di_syn.clone(), self.i_syn.clone(), self.refractory.clone()],
            parameters: Vec::new(),
            constants: vec![c.p11, c.p21, c.p33, c.p30, c.p31, c.p32, c.psc_initial, c.e_l, c.v_th, c.v_reset, c.steps_ref, c.i_e],
        })
    }

    fn gpu_state_count(&self) -> usize {
        4
    }

    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.v, &mut self.di_syn, &mut self.i_syn, &mut self.refractory]
    }
}

/// The step over slices (v, di_syn, i_syn, refractory), branch-free so that it
/// vectorises; only +, − and × (no fused multiply-add), so every instruction set gives
/// the same bits.
#[inline(always)]
fn step_kernel(
    state: [&mut [f32]; 4],
    spiked: &mut [u8],
    weights: &[f32],
    currents: &[f32],
    common: f32,
    constants: impl ConstantsAt<AlphaConstants>,
) -> bool {
    let [v, di, i_syn, refractory] = state;
    let n = v.len();
    let (di, i_syn, refractory, spiked, weights, currents) =
        (&mut di[..n], &mut i_syn[..n], &mut refractory[..n], &mut spiked[..n], &weights[..n], &currents[..n]);
    let constants = constants.prefix(n);
    let mut non_finite = false;
    for i in 0..n {
        let c = constants.at(i);
        let bias = c.i_e + common;
        let free = refractory[i] == 0.0;
        let advanced = c.e_l + (c.p33 * (v[i] - c.e_l) + c.p31 * di[i] + c.p32 * i_syn[i] + c.p30 * (bias + currents[i]));
        let mut vi = if free { advanced } else { v[i] };
        let mut ri = if free { 0.0 } else { refractory[i] - 1.0 };
        let si = c.p21 * di[i] + c.p11 * i_syn[i];
        let dii = c.p11 * di[i] + c.psc_initial * weights[i];
        let fired = vi >= c.v_th;
        vi = if fired { c.v_reset } else { vi };
        ri = if fired { c.steps_ref } else { ri };
        v[i] = vi;
        di[i] = dii;
        i_syn[i] = si;
        refractory[i] = ri;
        spiked[i] = fired as u8;
        non_finite |= !(vi.is_finite() && si.is_finite() && dii.is_finite());
    }
    non_finite
}

crate::simd::dispatch!(fn step_dispatch(state: [&mut [f32]; 4], spiked: &mut [u8], weights: &[f32], currents: &[f32], common: f32, c: Same<AlphaConstants>) -> bool => step_kernel);
crate::simd::dispatch!(fn step_each_dispatch(state: [&mut [f32]; 4], spiked: &mut [u8], weights: &[f32], currents: &[f32], common: f32, c: ColumnsAt<'_, 12>) -> bool => step_kernel);

#[cfg(test)]
mod tests {
    use super::*;

    /// hpc_benchmark's neuron: E_L = V_reset = 0 mV, V_th = 20 mV, C_m = 250 pF,
    /// τ_m = 10 ms, τ_syn = 0.326 ms, t_ref = 0.5 ms; dt = 0.1 ms.
    fn hpc_neuron(i_e: f64) -> AlphaSpec {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        AlphaSpec::uniform(
            [10.0, 250.0, 0.0, 20.0, 0.0, 0.5, 0.325_827_224_037_228_4, 0.325_827_224_037_228_4, i_e],
            0.1,
            [e(0.0), e(0.0), e(0.0), e(0.0)],
        )
    }

    fn advance(g: &mut AlphaGroup, weights: &[f32], currents: Option<&[f32]>) -> bool {
        g.step(&StepInput { input: weights, currents, common: 0.0, synaptic: &crate::synapse::Synaptic::none(), dt: 0.1, step: 0 })
    }

    /// A weight w: the current peaks at w pA τ_syn after it arrives (sampled every step,
    /// the peak between samples: within 1%), and the PSP of hpc_benchmark's J = 45.61 pA
    /// peaks at its 0.14 mV (the benchmark's own conversion), from the next step on.
    #[test]
    fn a_weight_gives_a_current_peaking_at_the_weight_and_the_published_psp() {
        let mut g = hpc_neuron(0.0).build([0.5].into_iter()).unwrap();
        let j = 45.6096_f32;
        let (mut currents, mut trace) = (Vec::new(), Vec::new());
        for step in 0..300 {
            advance(&mut g, &[if step == 0 { j } else { 0.0 }], None);
            currents.push(g.i_syn[0]);
            trace.push(g.v[0]);
        }
        assert_eq!((currents[0], trace[0]), (0.0, 0.0), "the weight moves di_syn only in the step it arrives");
        assert!(currents[1] > 0.0 && trace[1] > 0.0, "and i_syn and v (through P31) from the next step on");
        let peak = currents.iter().cloned().fold(0f32, f32::max);
        assert!((peak - j).abs() < 0.01 * j, "PSC peak {peak} pA");
        let psp = trace.iter().cloned().fold(0f32, f32::max);
        assert!((psp - 0.14).abs() < 2e-3, "PSP peak {psp} mV");
    }

    /// Against the solution of the system by fine RK4 steps, τ_syn ≠ τ_m and = τ_m
    /// (the series of φ₁, φ₂ continuous with the closed form).
    #[test]
    fn the_propagators_are_the_exact_solution() {
        for tau_syn in [0.5, 10.0, 10.0 * (1.0 + 1e-5)] {
            let p = AlphaPropagators::new(10.0, 250.0, tau_syn, 0.1);
            for (di0, i0) in [(100.0f64, 0.0f64), (0.0, 100.0)] {
                let f = |[v, i, di]: [f64; 3]| [-v / 10.0 + i / 250.0, di - i / tau_syn, -di / tau_syn];
                let mut y = [0.0f64, i0, di0];
                let n = 1000;
                let h = 0.1 / n as f64;
                let add = |y: [f64; 3], k: [f64; 3], c: f64| [y[0] + c * k[0], y[1] + c * k[1], y[2] + c * k[2]];
                for _ in 0..n {
                    let k1 = f(y);
                    let k2 = f(add(y, k1, h / 2.0));
                    let k3 = f(add(y, k2, h / 2.0));
                    let k4 = f(add(y, k3, h));
                    y = std::array::from_fn(|j| y[j] + h / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]));
                }
                let [v, i, _] = y;
                let exact = p.p31 * di0 + p.p32 * i0;
                assert!((v - exact).abs() < 1e-9 * exact.abs(), "τ_syn {tau_syn}: {v} against {exact}");
                assert!((i - (p.p21 * di0 + p.p11 * i0)).abs() < 1e-9 * i.abs(), "τ_syn {tau_syn}: i {i}");
            }
        }
    }

    /// A constant current above rheobase fires regularly: t_ref (5 steps) plus the first
    /// step at which v = R·I·(1 − e^(−t/τ_m)) reaches V_th, t = τ_m·ln(RI/(RI − θ)) =
    /// 17.9 ms for 600 pA (RI = 24 mV, θ = 20 mV): 180 steps.
    #[test]
    fn a_constant_current_fires_with_the_exact_period_on_the_grid() {
        let mut g = hpc_neuron(600.0).build([0.5].into_iter()).unwrap();
        let mut spikes = Vec::new();
        for step in 0..2000u32 {
            advance(&mut g, &[0.0], None);
            g.collect_spikes(|_| spikes.push(step));
        }
        let crossing = (10.0f64 * (24.0f64 / 4.0).ln() / 0.1).ceil() as u32;
        assert_eq!(crossing, 180);
        assert_eq!(spikes[0], crossing - 1);
        assert!(spikes.windows(2).all(|w| w[1] - w[0] == 5 + crossing), "{spikes:?}");
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let n = 1000;
        let c = hpc_neuron(600.0).constants().expect("shared");
        let r = |k: usize| ((k * 7919) % 1000) as f32 / 1000.0;
        let fresh = || -> [Vec<f32>; 4] {
            [(0..n).map(|k| 25.0 * r(k)).collect(), (0..n).map(|k| 100.0 * r(k + 3)).collect(), (0..n).map(|k| 40.0 * r(k + 1)).collect(), vec![0.0; n]]
        };
        let (mut a, mut b, mut each) = (fresh(), fresh(), fresh());
        let (mut sa, mut sb, mut se) = (vec![0u8; n], vec![0u8; n], vec![0u8; n]);
        let own = Columns::<12>::of(&vec![c; n]);
        let mut fired = 0;
        for step in 0..300 {
            let weights: Vec<f32> = (0..n).map(|k| if (k + step) % 7 == 0 { 45.6 } else if (k + step) % 11 == 0 { -228.0 } else { 0.0 }).collect();
            let currents: Vec<f32> = (0..n).map(|k| 100.0 * r(k + step)).collect();
            let [a0, a1, a2, a3] = &mut a;
            step_kernel([a0, a1, a2, a3], &mut sa, &weights, &currents, 5.0, Same(c));
            let [b0, b1, b2, b3] = &mut b;
            step_dispatch([b0, b1, b2, b3], &mut sb, &weights, &currents, 5.0, Same(c));
            // Each neuron's own constants, here the same: the same bits.
            let [e0, e1, e2, e3] = &mut each;
            step_each_dispatch([e0, e1, e2, e3], &mut se, &weights, &currents, 5.0, own.at(0..n));
            fired += sa.iter().filter(|&&s| s != 0).count();
            assert_eq!(sa, sb);
            assert_eq!(sa, se);
        }
        assert!(fired > n, "{fired} spikes");
        for k in 0..4 {
            assert!(a[k].iter().zip(&b[k]).all(|(x, y)| x.to_bits() == y.to_bits()), "{:?}", crate::simd::level());
            assert!(a[k].iter().zip(&each[k]).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }

    /// Neurons with parameters of their own (listed, and of r) step bit for bit as each
    /// would alone; one whose reset is not below its threshold is named.
    #[test]
    fn neurons_with_their_own_parameters_step_as_each_alone() {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let n = 5;
        let tau_m: Vec<f64> = (0..n).map(|k| 8.0 + 1.5 * k as f64).collect();
        let mut spec = hpc_neuron(0.0);
        spec.parameters[0] = Values::Listed(tau_m.clone().into());
        spec.parameters[8] = Values::Expr(Expr::parse("600 + 200*r", &["r"]).unwrap());
        let r = |k: usize| k as f64 / n as f64;
        let mut group = spec.build_at(1, (1..n).map(r)).unwrap();
        assert!(matches!(group.constants, Constants::PerNeuron(_)));
        let mut alone: Vec<AlphaGroup> = (1..n)
            .map(|k| {
                let tau_syn = 0.325_827_224_037_228_4;
                AlphaSpec::uniform([tau_m[k], 250.0, 0.0, 20.0, 0.0, 0.5, tau_syn, tau_syn, 600.0 + 200.0 * r(k)], 0.1, [e(0.0), e(0.0), e(0.0), e(0.0)])
                    .build([r(k)].into_iter())
                    .unwrap()
            })
            .collect();
        let mut fired = 0;
        for step in 0..1000usize {
            let weights: Vec<f32> = (0..n - 1).map(|k| if (k + step).is_multiple_of(7) { 45.6 } else { 0.0 }).collect();
            advance(&mut group, &weights, None);
            for (k, one) in alone.iter_mut().enumerate() {
                advance(one, &weights[k..k + 1], None);
                assert_eq!((group.v[k].to_bits(), group.i_syn[k].to_bits(), group.spiked[k]), (one.v[0].to_bits(), one.i_syn[0].to_bits(), one.spiked[0]));
                fired += one.spiked[0] as usize;
            }
        }
        assert!(fired > 10, "{fired} spikes");
        spec.parameters[3] = Values::Listed(vec![20.0, 20.0, -1.0, 20.0, 20.0].into());
        let err = spec.build_at(0, (0..n).map(r)).unwrap_err();
        assert_eq!((err.index, err.name, err.expected.as_str()), (2, "v_reset", "v_reset below v_th (-1 mV)"));
    }

    /// With tau_syn_in ≠ tau_syn_ex a negative weight reaches v through an alpha current
    /// of its own (the synaptic kind of the projection's synapses, NEST's i_syn_in): v
    /// moves as a neuron whose one current has tau_syn_in moves under the same weight
    /// (to f32's rounding), its own current untouched; a refractory neuron's v is held.
    #[test]
    fn an_inhibitory_alpha_current_of_its_own_time_constant_moves_v_as_its_own_would() {
        use crate::synapse::{Exponential, Synaptic};
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let initial = || [e(-65.0), e(0.0), e(0.0), e(0.0)];
        let spec = AlphaSpec::uniform([10.0, 250.0, -65.0, -50.0, -65.0, 2.0, 0.5, 3.0, 0.0], 0.1, initial());
        assert_eq!(spec.inhibitory_kind(), Some(SynapseModel::AlphaCurrent { tau_ms: 3.0 }));
        let mut g = spec.build([0.5].into_iter()).unwrap();
        let mut reference = AlphaSpec::uniform([10.0, 250.0, -65.0, -50.0, -65.0, 2.0, 3.0, 3.0, 0.0], 0.1, initial()).build([0.5].into_iter()).unwrap();
        let mut inhibitory = Exponential::new(spec.inhibitory_kind().unwrap(), 1, 0.1);
        let w = -500.0f32;
        let mut deepest = 0.0f32;
        for step in 0..300 {
            let arriving = if step == 0 { w } else { 0.0 };
            inhibitory.advance(&[arriving]);
            let kinds = std::slice::from_ref(&inhibitory);
            g.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &Synaptic::new(kinds, 0..1), dt: 0.1, step });
            advance(&mut reference, &[arriving], None);
            assert!((g.v[0] - reference.v[0]).abs() < 2e-5, "step {step}: {} against {}", g.v[0], reference.v[0]);
            assert_eq!((g.i_syn[0], g.di_syn[0]), (0.0, 0.0), "its own current untouched");
            deepest = deepest.min(g.v[0] + 65.0);
        }
        assert!(deepest < -1.0, "the PSP: {deepest} mV");
        g.refractory[0] = 5.0;
        let held = g.v[0];
        inhibitory.advance(&[-1000.0]);
        inhibitory.advance(&[0.0]);
        let kinds = std::slice::from_ref(&inhibitory);
        g.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &Synaptic::new(kinds, 0..1), dt: 0.1, step: 0 });
        assert_eq!(g.v[0], held);
    }
}
