//! The Izhikevich (2003) simple model, stepped exactly as the paper's own code net.m:
//!
//! ```text
//! fired = v >= v_peak:  v <- c,  u <- u + d
//! v += dt/2 · (0.04 v² + 5 v + 140 − u + I)      (twice, with the same I)
//! u += dt · a (b v − u)
//! ```
//!
//! With dt = 1 ms every operation is the one net.m performs, in the same order, so the
//! f32 arithmetic differs from net.m's only by the width of the floats.

use super::declaration::{Declaration, Declared, Derived, Parameter as DeclaredParameter, Scope, StateVariable, Values};
use super::{Build, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, StateArrayMut, StepInput};
use crate::expr::Expr;

/// Parameter names in slot order, with their defaults (None: required).
pub const PARAMETERS: [(&str, Option<&str>); 5] = [("a", None), ("b", None), ("c", None), ("d", None), ("v_peak", Some("30"))];
/// State variables in slot order, with the default initial value (net.m: v = −65, u = b·v).
pub const STATE: [(&str, &str); 2] = [("v", "-65"), ("u", "b*v")];

/// Units of the parameters and state variables (slot order): u, I and d in mV/ms, as v′.
const PARAMETER_UNITS: [&str; 5] = ["1/ms", "", "mV", "mV/ms", "mV"];
const STATE_UNITS: [&str; 2] = ["mV", "mV/ms"];

/// a, b, c, d per neuron (expressions of r), v_peak one per population; v and u start
/// from expressions of r, the parameters and (u) v.
pub fn declaration() -> Declaration {
    Declaration {
        model: "izhikevich",
        parameters: PARAMETERS
            .iter()
            .zip(PARAMETER_UNITS)
            .map(|(&(name, default), unit)| DeclaredParameter {
                name: name.into(),
                unit,
                scope: if name == "v_peak" { Scope::Population } else { Scope::PerNeuron },
                default,
                bound: None,
            })
            .collect(),
        state: STATE.iter().zip(STATE_UNITS).map(|(&(name, initial), unit)| StateVariable::from_initial(name, unit, initial)).collect(),
        derived: vec![Derived { name: "h".into(), unit: "ms", definition: "dt/2, the half step of v".into() }],
        step: "v += h·(0.04v² + 5v + 140 − u + I), twice with the same I; u += dt·a·(b·v − u)".into(),
        threshold: "v ≥ v_peak (seen at the end of the step)".into(),
        reset: "v ← c, u ← u + d (at the start of the next step)".into(),
        integrates_conductances: false,
        extra_bytes_per_neuron: 0,
        initial_note: None,
        filters_weights: false,
        conductance_synapses: None,
    }
}

fn from_declared(declared: Declared, _dt_ms: f64) -> NeuronModel {
    let Declared { parameters, initial } = declared;
    NeuronModel::Izhikevich(IzhikevichSpec {
        parameters: parameters.try_into().expect("five parameters, as declared"),
        initial: initial.try_into().expect("two state variables, as declared"),
    })
}

/// The parameter and initial-state expressions of one population.
#[derive(Clone, Debug)]
pub struct IzhikevichSpec {
    /// a, b, c, d, v_peak: expressions of `r`, or listed per neuron.
    pub parameters: [Values; 5],
    /// v as an expression of r and the parameters; u of those and v.
    pub initial: [Expr; 2],
}

/// Struct-of-arrays state of a contiguous range of neurons of one population.
#[derive(Clone, Debug)]
pub struct IzhikevichGroup {
    pub v: Vec<f32>,
    pub u: Vec<f32>,
    /// a, b, c, d.
    pub parameters: [Parameter; 4],
    pub v_peak: f32,
}

/// Neurons are stepped in chunks of this many, so that a parameter constant over the
/// population can be read from a chunk-long array instead of one as long as the group.
const CHUNK: usize = 1024;

/// A parameter of a group: one value per neuron, or one value for all (GeNN's "params"
/// against "vars"), kept as a chunk of copies that the step reads like a per-neuron
/// array and that stays in L1. net.m's a and b of excitatory neurons, c and d of
/// inhibitory ones are constant: a third of the state, and of its memory traffic, saved.
#[derive(Clone, Debug)]
pub enum Parameter {
    PerNeuron(Vec<f32>),
    Constant(Vec<f32>),
}

impl Parameter {
    /// The values for neurons `range` (a range within one chunk for constants).
    #[inline]
    fn slice(&self, range: std::ops::Range<usize>) -> &[f32] {
        match self {
            Parameter::PerNeuron(v) => &v[range],
            Parameter::Constant(v) => &v[..range.len()],
        }
    }

    fn bytes_per_neuron(&self) -> usize {
        match self {
            Parameter::PerNeuron(_) => 4,
            Parameter::Constant(_) => 0,
        }
    }
}

impl IzhikevichSpec {
    /// All values of the neuron of population-local id `id` and uniform `r` in f64:
    /// [a, b, c, d, v_peak, v0, u0].
    pub fn neuron_values(&self, id: u64, r: f64) -> [f64; 7] {
        let mut values = [0f64; 7];
        values[0..5].iter_mut().zip(&self.parameters).for_each(|(x, p)| *x = p.at(id, r));
        // Initial v sees r and the parameters; initial u also sees v.
        let mut scope = [r, values[0], values[1], values[2], values[3], values[4], 0.0];
        values[5] = self.initial[0].eval(&scope[..6]);
        scope[6] = values[5];
        values[6] = self.initial[1].eval(&scope);
        values
    }
}

impl Model for IzhikevichSpec {
    type Group = IzhikevichGroup;
    const KIND: ModelKind = ModelKind {
        name: "izhikevich",
        declaration,
        build: Build::Values(from_declared),
        check: None,
        shader: include_str!("../../shaders/izhikevich.wgsl"),
        gpu: "every population (`shaders/izhikevich.wgsl`)",
    };

    /// The group of neurons whose per-neuron uniforms are `r` (one per neuron, in order),
    /// or the first neuron with a value that is not a finite f32.
    fn build(&self, r: impl Iterator<Item = f64>) -> Result<IzhikevichGroup, InvalidValue> {
        self.build_at(0, r)
    }

    /// As `build`, for the neurons from population-local id `first` on (a parameter's
    /// listed values are by id).
    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<IzhikevichGroup, InvalidValue> {
        let mut per_neuron: [Vec<f32>; 4] = Default::default();
        let (mut v, mut u) = (Vec::new(), Vec::new());
        let mut v_peak = 0.0;
        for (index, r) in r.enumerate() {
            let x = self.neuron_values(first + index as u64, r);
            if let Some(k) = x.iter().position(|&x| !(x as f32).is_finite()) {
                let (table, name) = if k < 5 { ("parameters", PARAMETERS[k].0) } else { ("initial", STATE[k - 5].0) };
                return Err(InvalidValue::not_finite(index, table, name, r, x[k]));
            }
            per_neuron.iter_mut().zip(&x[..4]).for_each(|(values, &x)| values.push(x as f32));
            v_peak = x[4] as f32;
            v.push(x[5] as f32);
            u.push(x[6] as f32);
        }
        let mut per_neuron = per_neuron.into_iter();
        let parameters: [Parameter; 4] = std::array::from_fn(|k| {
            let values = per_neuron.next().expect("four parameters");
            match self.parameters[k].constant() {
                Some(c) => Parameter::Constant(vec![c as f32; CHUNK]),
                None => Parameter::PerNeuron(values),
            }
        });
        Ok(IzhikevichGroup { v, u, parameters, v_peak })
    }

    /// `cargo bench --bench kernels -- update` on the reference machine.
    fn step_cost_ns(&self) -> f64 {
        0.5
    }

    /// Parameters that vary across neurons, held per neuron (a, b, c, d not constant).
    fn per_neuron_parameters(&self) -> usize {
        self.parameters[..4].iter().filter(|e| e.constant().is_none()).count()
    }
}

impl Group for IzhikevichGroup {
    fn len(&self) -> usize {
        self.v.len()
    }

    /// v, u and the parameters that vary across neurons.
    fn bytes(&self) -> usize {
        self.len() * (8 + self.parameters.iter().map(Parameter::bytes_per_neuron).sum::<usize>())
    }

    /// One step for every neuron: reset those at or above the peak (their spike was
    /// emitted at the end of the previous step), take the input current
    /// `input + common` (synaptic input and stimuli, then the current common to the whole
    /// group), integrate. Returns true if some neuron's state is no longer finite (NaN or
    /// ±inf) after the step. Synaptic kinds reach it as currents, in `input`.
    #[inline]
    fn step(&mut self, step: &StepInput) -> bool {
        debug_assert!(step.synaptic.is_empty() && step.currents.is_none(), "added to the input as currents");
        let n = self.v.len();
        let p = StepParams { bias: step.common, dt: step.dt, v_peak: self.v_peak };
        let [a, b, c, d] = &self.parameters;
        let mut start = 0;
        let mut non_finite = false;
        while start < n {
            let r = start..(start + CHUNK).min(n);
            let (v, u, input) = (&mut self.v[r.clone()], &mut self.u[r.clone()], &step.input[r.clone()]);
            non_finite |= step_dispatch(v, u, input, a.slice(r.clone()), b.slice(r.clone()), c.slice(r.clone()), d.slice(r.clone()), p);
            start = r.end;
        }
        non_finite
    }

    /// Indices of the neurons at or above the peak after this step: they spiked.
    #[inline]
    fn collect_spikes(&self, mut emit: impl FnMut(usize)) {
        // A few neurons in a thousand spike in a step: 64 quiet ones are passed over with
        // one vectorised test (one by one, the scan was a third of an idle step).
        // The run's spikes as bits, then one emit per bit: the scan of a run with a spike
        // in it, one neuron at a time, was a tenth of a shard's step loop in spnet.
        const RUN: usize = 64;
        for (k, run) in self.v.chunks(RUN).enumerate() {
            if !run.iter().fold(false, |any, &v| any | (v >= self.v_peak)) {
                continue;
            }
            let mut bits = run.iter().enumerate().fold(0u64, |bits, (i, &v)| bits | (((v >= self.v_peak) as u64) << i));
            while bits != 0 {
                emit(k * RUN + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }

    /// The first neuron whose state is not finite, with the variable's name and value.
    fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        self.v.iter().zip(&self.u).enumerate().find_map(|(i, (&v, &u))| match (v.is_finite(), u.is_finite()) {
            (false, _) => Some((i, "v", v)),
            (_, false) => Some((i, "u", u)),
            _ => None,
        })
    }

    fn state_variable(&self, k: usize) -> Option<&[f32]> {
        [&self.v, &self.u].get(k).map(|x| x.as_slice())
    }

    fn checkpoint_arrays_mut(&mut self) -> Vec<StateArrayMut<'_>> {
        vec![StateArrayMut::F32(&mut self.v), StateArrayMut::F32(&mut self.u)]
    }

    /// The group as the GPU steps it (`shaders/izhikevich.wgsl`): state v, u; parameters
    /// a, b, c, d (one value where constant); constant v_peak.
    fn gpu_model(&self) -> Option<GpuModel> {
        let parameters = self
            .parameters
            .iter()
            .map(|p| match p {
                Parameter::PerNeuron(v) => (v.clone(), true),
                Parameter::Constant(v) => (vec![v[0]], false),
            })
            .collect();
        Some(GpuModel {
            shader: IzhikevichSpec::KIND.shader,
            state: vec![self.v.clone(), self.u.clone()],
            parameters,
            constants: vec![self.v_peak],
        })
    }

    fn gpu_state_count(&self) -> usize {
        2
    }

    fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        vec![&mut self.v, &mut self.u]
    }
}

#[derive(Clone, Copy)]
struct StepParams {
    bias: f32,
    dt: f32,
    v_peak: f32,
}

/// The step rule over slices. Slices as arguments (not struct fields) tell the compiler
/// that they do not overlap, so the branch-free body vectorises. Only +, −, × and
/// compare-select: no fused multiply-add, so every instruction set gives the same bits.
/// Returns true if a state left the finite numbers: two compares per lane, so that
/// divergence is seen in the step it happens, without a second pass over the state.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_kernel(v: &mut [f32], u: &mut [f32], input: &[f32], a: &[f32], b: &[f32], c: &[f32], d: &[f32], p: StepParams) -> bool {
    let half = 0.5 * p.dt;
    let n = v.len();
    let (u, input, a, b, c, d) = (&mut u[..n], &input[..n], &a[..n], &b[..n], &c[..n], &d[..n]);
    let mut non_finite = false;
    for i in 0..n {
        let fired = v[i] >= p.v_peak;
        let mut vi = if fired { c[i] } else { v[i] };
        let mut ui = if fired { u[i] + d[i] } else { u[i] };
        let current = input[i] + p.bias;
        vi += half * (0.04 * (vi * vi) + 5.0 * vi + 140.0 - ui + current);
        vi += half * (0.04 * (vi * vi) + 5.0 * vi + 140.0 - ui + current);
        ui += p.dt * (a[i] * (b[i] * vi - ui));
        v[i] = vi;
        u[i] = ui;
        non_finite |= !(vi.is_finite() && ui.is_finite());
    }
    non_finite
}

crate::simd::dispatch!(fn step_dispatch(v: &mut [f32], u: &mut [f32], input: &[f32], a: &[f32], b: &[f32], c: &[f32], d: &[f32], p: StepParams) -> bool => step_kernel);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let n = 1000;
        let r = |k: usize| ((k * 7919) % 1000) as f32 / 1000.0;
        let make = |k: usize| (-70.0 + 110.0 * r(k), -14.0 + 4.0 * r(k + 1));
        let (mut v1, mut u1): (Vec<f32>, Vec<f32>) = (0..n).map(make).unzip();
        let (mut v2, mut u2) = (v1.clone(), u1.clone());
        let a: Vec<f32> = (0..n).map(|k| 0.02 + 0.08 * r(k + 2)).collect();
        let b: Vec<f32> = (0..n).map(|k| 0.25 - 0.05 * r(k + 3)).collect();
        let c: Vec<f32> = (0..n).map(|k| -65.0 + 15.0 * r(k + 4)).collect();
        let d: Vec<f32> = (0..n).map(|k| 8.0 - 6.0 * r(k + 5)).collect();
        let input: Vec<f32> = (0..n).map(|k| 1.5 + 15.0 * (r(k + 6) - 0.5)).collect();
        let p = StepParams { bias: 0.5, dt: 1.0, v_peak: 30.0 };
        for _ in 0..50 {
            assert!(!step_kernel(&mut v1, &mut u1, &input, &a, &b, &c, &d, p));
            assert!(!step_dispatch(&mut v2, &mut u2, &input, &a, &b, &c, &d, p));
        }
        assert!(v1.iter().any(|&v| v >= 30.0) || v1.iter().any(|&v| v < 0.0));
        assert!(v1.iter().zip(&v2).all(|(x, y)| x.to_bits() == y.to_bits()), "{:?}", crate::simd::level());
        assert!(u1.iter().zip(&u2).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn a_state_leaving_the_finite_numbers_is_seen_in_its_step() {
        let n = 100;
        let (a, b, c, d) = (vec![0.02f32; n], vec![0.2f32; n], vec![-65f32; n], vec![8f32; n]);
        let (mut v, mut u) = (vec![-65f32; n], vec![-13f32; n]);
        let p = StepParams { bias: 0.0, dt: 1.0, v_peak: 30.0 };
        let mut input = vec![0f32; n];
        assert!(!step_dispatch(&mut v, &mut u, &input, &a, &b, &c, &d, p));
        input[37] = 1e30; // v² overflows f32 in this step
        assert!(step_dispatch(&mut v, &mut u, &input, &a, &b, &c, &d, p));
        let group = IzhikevichGroup { v, u, parameters: std::array::from_fn(|_| Parameter::Constant(vec![0.0; CHUNK])), v_peak: 30.0 };
        assert_eq!(group.first_non_finite().map(|(i, name, _)| (i, name)), Some((37, "v")));
    }
}
