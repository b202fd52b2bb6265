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

use super::declaration::{Bound, Declaration, Declared, Derived, Parameter, Scope, StateVariable, Values};
use super::{Build, Constants, EachNeuron, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, StateArrayMut, StepInput};
use crate::expr::Expr;

/// Parameters in slot order: name, default (NEST's), unit, bound (none). NEST's V_min
/// defaults to −∞; −10³⁰ mV stands for it. I_e is NEST's "pA", a current in the units of
/// v′ (mV/ms). Each may differ between neurons (PyNN's heterogeneous cells).
const PARAMETERS: [(&str, &str, &str, Option<Bound>); 7] = [
    ("a", "0.02", "1/ms", None),
    ("b", "0.2", "", None),
    ("c", "-65", "mV", None),
    ("d", "8", "mV/ms", None),
    ("i_e", "0", "pA", None),
    ("v_th", "30", "mV", None),
    ("v_min", "-1e30", "mV", None),
];

/// State variables in slot order, NEST's initial values.
const STATE: [(&str, &str, &str); 2] = [("v", "mV", "-65"), ("u", "mV/ms", "0")];

pub fn declaration() -> Declaration {
    Declaration {
        model: "izhikevich_nest",
        parameters: PARAMETERS
            .iter()
            .map(|&(name, default, unit, bound)| Parameter { name: name.into(), unit, scope: Scope::PerNeuron, default: Some(default), bound })
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
    let parameters = declared.parameters.try_into().expect("seven parameters, as declared");
    NeuronModel::IzhikevichNest(IzhikevichNestSpec { parameters, dt_ms, initial: declared.initial.try_into().expect("two state variables") })
}

/// One population's parameters (slot order) and initial-state expressions.
#[derive(Clone, Debug)]
pub struct IzhikevichNestSpec {
    /// Each parameter's values: constants, expressions of r or listed per neuron.
    pub parameters: [Values; 7],
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
        self.build_at(0, r)
    }

    /// The group of the neurons from population-local id `first` whose uniforms are `r`:
    /// one set of parameters where they are shared, each neuron's where they differ.
    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<IzhikevichNestGroup, InvalidValue> {
        let each = EachNeuron { values: &self.parameters, declared: &PARAMETERS, check: |_| None, constants_of: &mut |p| *p };
        let ([v, u], parameters) = each.build(&self.initial, STATE.map(|s| s.0), first, r)?;
        let n = v.len();
        Ok(IzhikevichNestGroup { v, u, spiked: vec![0; n], parameters, dt: self.dt_ms })
    }

    /// Each neuron's seven parameters (f64) where they differ.
    fn per_neuron_parameters(&self) -> usize {
        super::own_slots(&self.parameters, std::mem::size_of::<[f64; 7]>())
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
    /// a, b, c, d, i_e, v_th, v_min: one set, or each neuron's.
    parameters: Constants<[f64; 7]>,
    dt: f64,
}

impl Group for IzhikevichNestGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, u and the spike flag; each neuron's parameters where they are its own.
    fn bytes(&self) -> usize {
        self.len() * (9 + self.parameters.bytes_per_neuron())
    }

    /// One step: `input[i]`, the weights arriving onto neuron i (mV, a jump of v),
    /// `currents[i] + common` injected.
    fn step(&mut self, step: &StepInput) -> bool {
        // Synaptic kinds reach it only as other populations' (zero here): the model file
        // gives it delta synapses only.
        let h = self.dt;
        let mut non_finite = false;
        for i in 0..self.v.len() {
            let [a, b, c, d, i_e, v_th, v_min] = self.parameters.of(i);
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
        IzhikevichNestSpec { parameters: parameters.map(Values::of), dt_ms: 0.1, initial: [e(v0), e(u0)] }.build(std::iter::once(0.5)).unwrap()
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

    /// Neurons with parameters of their own (listed, and of r) step bit for bit as each
    /// would alone, through spikes.
    #[test]
    fn neurons_with_their_own_parameters_step_as_each_alone() {
        let e = |x: &str| Expr::parse(x, &["r", "a", "b", "c", "d", "i_e", "v_th", "v_min", "v"]).unwrap();
        let n = 6;
        let d: Vec<f64> = (0..n).map(|k| 2.0 + k as f64).collect();
        let mut spec = IzhikevichNestSpec {
            parameters: [0.02, 0.2, -65.0, 0.0, 0.0, 30.0, -1e30].map(Values::of),
            dt_ms: 0.1,
            initial: [e("-70"), e("b*v")],
        };
        spec.parameters[0] = Values::Expr(Expr::parse("0.02 + 0.08*r", &["r"]).unwrap());
        spec.parameters[3] = Values::Listed(d.clone().into());
        spec.parameters[4] = Values::Expr(Expr::parse("5 + 10*r", &["r"]).unwrap());
        let r = |k: usize| k as f64 / n as f64;
        assert_eq!(spec.per_neuron_parameters(), 14);
        let mut group = spec.build_at(2, (2..n).map(r)).unwrap();
        let mut alone: Vec<IzhikevichNestGroup> = (2..n)
            .map(|k| {
                let p = [0.02 + 0.08 * r(k), 0.2, -65.0, d[k], 5.0 + 10.0 * r(k), 30.0, -1e30];
                IzhikevichNestSpec { parameters: p.map(Values::of), dt_ms: 0.1, initial: [e("-70"), e("b*v")] }.build([r(k)].into_iter()).unwrap()
            })
            .collect();
        assert_eq!(group.bytes(), 4 * (9 + 56));
        let mut spikes = 0;
        for _ in 0..2000 {
            advance_all(&mut group, 3.0);
            for (k, one) in alone.iter_mut().enumerate() {
                advance(one, 0.0, 3.0);
                assert_eq!((group.v[k].to_bits(), group.u[k].to_bits(), group.spiked[k]), (one.v[0].to_bits(), one.u[0].to_bits(), one.spiked[0]));
                spikes += one.spiked[0] as usize;
            }
        }
        assert!(spikes > 20, "{spikes} spikes");
    }

    fn advance_all(g: &mut IzhikevichNestGroup, current: f32) {
        let n = g.len();
        let synaptic = crate::synapse::Synaptic::none();
        let (input, currents) = (vec![0.0f32; n], vec![current; n]);
        g.step(&StepInput { input: &input, currents: Some(&currents), common: 0.0, synaptic: &synaptic, dt: 0.1, step: 0 });
    }
}
