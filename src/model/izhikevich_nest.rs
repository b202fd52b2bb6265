//! NEST's `izhikevich` (PyNN's `Izhikevich` on NEST): the 2003 simple model stepped by
//! forward Euler on the state the step begins with, NEST's default
//! (`consistent_integration = true`):
//!
//! ```text
//! v ← v + h·(0.04 v² + 5 v + 140 − u + I + I_e) + w       (w: the weights arriving, mV)
//! u ← u + h·a·(b·v − u)                                   (v, u as the step began)
//! v ← max(v, V_min);  v ≥ V_th:  v ← c, u ← u + d, spike  (in the same step)
//! ```
//!
//! volley's `izhikevich` is the paper's own stepping (net.m: two half steps of v, then u
//! from the new v, the reset at the next step's start); this one is NEST's, so that a
//! network of it runs as on NEST. The arithmetic is f64 on f32 state. Stimulus currents
//! act in the step they are given for, as in volley's other NEST models (NEST's current
//! generators reach the neuron a step later; PyNN moves them a step earlier).

use super::declaration::{Declaration, Declared, Derived, Parameter, Scope, StateVariable};
use super::{Build, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, StateArrayMut, StepInput};
use crate::expr::Expr;

/// Parameters in slot order: name, default (NEST's), unit. NEST's V_min defaults to −∞;
/// −10³⁰ mV stands for it. I_e is NEST's "pA", a current in the units of v′ (mV/ms).
const PARAMETERS: [(&str, &str, &str); 7] =
    [("a", "0.02", "1/ms"), ("b", "0.2", ""), ("c", "-65", "mV"), ("d", "8", "mV/ms"), ("i_e", "0", "pA"), ("v_th", "30", "mV"), ("v_min", "-1e30", "mV")];

/// State variables in slot order, NEST's initial values.
const STATE: [(&str, &str, &str); 2] = [("v", "mV", "-65"), ("u", "mV/ms", "0")];

pub fn declaration() -> Declaration {
    Declaration {
        model: "izhikevich_nest",
        parameters: PARAMETERS
            .iter()
            .map(|&(name, default, unit)| Parameter { name: name.into(), unit, scope: Scope::Population, default: Some(default), bound: None })
            .collect(),
        state: STATE.iter().map(|&(name, unit, initial)| StateVariable::from_initial(name, unit, initial)).collect(),
        derived: vec![Derived { name: "h".into(), unit: "ms", definition: "dt, one Euler step".into() }],
        step: "v ← v + h·(0.04v² + 5v + 140 − u + I + i_e) + w (w: the weights arriving, mV), u ← u + h·a·(b·v − u), both from the state the \
               step began with (NEST's izhikevich, consistent_integration = true); then v ← max(v, v_min)"
            .into(),
        threshold: "v ≥ v_th after the step".into(),
        reset: "v ← c, u ← u + d at once (in the step of the spike)".into(),
        integrates_conductances: false,
        // The spike flag of the last step.
        extra_bytes_per_neuron: 1,
        initial_note: None,
        // Weights jump v; the stimuli's currents are taken apart from them.
        filters_weights: true,
        conductance_synapses: None,
    }
}

fn from_declared(declared: Declared, dt_ms: f64) -> NeuronModel {
    let parameters: [f64; 7] = std::array::from_fn(|k| declared.parameters[k].constant().expect("constants, as declared"));
    NeuronModel::IzhikevichNest(IzhikevichNestSpec { parameters, dt_ms, initial: declared.initial.try_into().expect("two state variables") })
}

/// One population's parameters (slot order) and initial-state expressions.
#[derive(Clone, Debug)]
pub struct IzhikevichNestSpec {
    pub parameters: [f64; 7],
    pub dt_ms: f64,
    /// v, u as expressions of r, the parameters and the earlier state.
    pub initial: [Expr; 2],
}

impl Model for IzhikevichNestSpec {
    type Group = IzhikevichNestGroup;
    const KIND: ModelKind = ModelKind {
        name: "izhikevich_nest",
        declaration,
        build: Build::Values(from_declared),
        check: None,
        shader: "",
        gpu: "refused: stepped on the CPU backend",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<IzhikevichNestGroup, InvalidValue> {
        let [v, u] = super::initial_state(&self.initial, &self.parameters, STATE.map(|s| s.0), r)?;
        let n = v.len();
        Ok(IzhikevichNestGroup { v, u, spiked: vec![0; n], parameters: self.parameters, dt: self.dt_ms })
    }

    /// `cargo bench --bench kernels -- izhikevich_nest` on machine B: 5.6 ns (scalar f64).
    fn step_cost_ns(&self) -> f64 {
        5.6
    }

    fn gpu_unsupported(&self) -> Option<String> {
        Some("izhikevich_nest is stepped on the CPU backend only (use --backend cpu)".into())
    }
}

/// Struct-of-arrays state of a contiguous range of neurons of one population.
#[derive(Clone, Debug)]
pub struct IzhikevichNestGroup {
    pub v: Vec<f32>,
    pub u: Vec<f32>,
    pub spiked: Vec<u8>,
    /// a, b, c, d, i_e, v_th, v_min.
    parameters: [f64; 7],
    dt: f64,
}

impl Group for IzhikevichNestGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, u and the spike flag.
    fn bytes(&self) -> usize {
        self.len() * 9
    }

    /// One step: `input[i]`, the weights arriving onto neuron i (mV, a jump of v),
    /// `currents[i] + common` injected.
    fn step(&mut self, step: &StepInput) -> bool {
        // Synaptic kinds reach it only as other populations' (zero here): the model file
        // gives it delta synapses only.
        let [a, b, c, d, i_e, v_th, v_min] = self.parameters;
        let h = self.dt;
        let mut non_finite = false;
        for i in 0..self.v.len() {
            let (v, u) = (self.v[i] as f64, self.u[i] as f64);
            let current = i_e + (step.common + step.currents.map_or(0.0, |c| c[i])) as f64;
            let mut v_next = v + h * (0.04 * v * v + 5.0 * v + 140.0 - u + current) + step.input[i] as f64;
            let mut u_next = u + h * a * (b * v - u);
            v_next = v_next.max(v_min);
            let fired = v_next >= v_th;
            if fired {
                v_next = c;
                u_next += d;
            }
            self.v[i] = v_next as f32;
            self.u[i] = u_next as f32;
            self.spiked[i] = fired as u8;
            non_finite |= !(self.v[i].is_finite() && self.u[i].is_finite());
        }
        non_finite
    }

    fn collect_spikes(&self, emit: impl FnMut(usize)) {
        crate::simd::each_nonzero(&self.spiked, emit)
    }

    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        (0..self.len()).find_map(|i| [("v", self.v[i]), ("u", self.u[i])].into_iter().find(|(_, x)| !x.is_finite()).map(|(n, x)| (i, n, x)))
    }

    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        [&self.v, &self.u].get(k).map(|x| x.as_slice())
    }

    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        vec![StateArrayMut::F32(&mut self.v), StateArrayMut::F32(&mut self.u)]
    }

    fn gpu_model(&self) -> Option<GpuModel> {
        None
    }

    fn gpu_state_count(&self) -> usize {
        2
    }

    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.v, &mut self.u]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neuron(parameters: [f64; 7], v0: f64, u0: f64) -> IzhikevichNestGroup {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        IzhikevichNestSpec { parameters, dt_ms: 0.1, initial: [e(v0), e(u0)] }.build(std::iter::once(0.5)).unwrap()
    }

    fn advance(g: &mut IzhikevichNestGroup, weight: f32, current: f32) {
        let synaptic = crate::synapse::Synaptic::none();
        g.step(&StepInput { input: &[weight], currents: Some(&[current]), common: 0.0, synaptic: &synaptic, dt: 0.1, step: 0 });
    }

    /// NEST's step, written out in f64 beside it and its state rounded to f32 as the
    /// group keeps it: the same bits step after step through spikes (regular spiking under
    /// 10 pA for 100 ms), a weight jumping v in its step, the reset at once; and v_min
    /// holding v up. (Unrounded, the upswing before a spike magnifies f32's rounding to
    /// 10⁻³ mV; the spikes stay on the same steps.)
    #[test]
    fn it_steps_as_nest_s_forward_euler() {
        let p = [0.02, 0.2, -65.0, 6.0, 4.0, 30.0, -1e30];
        let mut g = neuron(p, -70.0, -14.0);
        let (mut v, mut u) = (-70.0f64, -14.0f64);
        let mut spikes = 0;
        for step in 0..1000 {
            let w = if step == 300 { 5.0 } else { 0.0 };
            advance(&mut g, w as f32, 10.0);
            let v_old = v;
            v += 0.1 * (0.04 * v * v + 5.0 * v + 140.0 - u + (4.0 + 10.0)) + w;
            u += 0.1 * 0.02 * (0.2 * v_old - u);
            if v >= 30.0 {
                v = -65.0;
                u += 6.0;
                spikes += 1;
                assert_eq!(g.spiked[0], 1, "step {step}");
            }
            (v, u) = (v as f32 as f64, u as f32 as f64);
            assert_eq!((g.v[0] as f64, g.u[0] as f64), (v, u), "step {step}");
        }
        assert!(spikes >= 3, "{spikes} spikes");
        let mut floor = neuron([0.02, 0.2, -65.0, 6.0, 0.0, 30.0, -70.0], -69.0, 0.0);
        advance(&mut floor, -20.0, 0.0);
        assert_eq!(floor.v[0], -70.0);
    }
}
