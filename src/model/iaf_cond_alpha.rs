//! Leaky integrate-and-fire neurons with alpha-shaped synaptic conductances, NEST's
//! `iaf_cond_alpha` (PyNN's `IF_cond_alpha`): `iaf_cond_exp`'s membrane, parameters,
//! threshold, reset and step, with each conductance rising after a spike to its weight τ
//! later, then decaying (`synapse = { model = "alpha_conductance", tau, e_rev }`: NEST's
//! g_ex with tau_syn_ex and E_ex, g_in with tau_syn_in and E_in):
//!
//! ```text
//! C_m v′ = −g_L (v − E_L) − Σ_k g_k(t) (v − E_k) + I_e + I     dg_k′ = −dg_k/τ_k    g_k′ = dg_k − g_k/τ_k
//! ```
//!
//! A spike of weight w adds w·e/τ to dg, after the step, as NEST's does. The step
//! integrates v with g(t) = (g + dg·t)·e^(−t/τ) from the step's start, exactly, as
//! `iaf_cond_exp` integrates its exponential conductances.

use super::declaration::{ConductanceShape, Declaration, Declared};
use super::iaf_cond_exp::{CondExpGroup, CondExpSpec};
use super::{Build, InvalidValue, Model, ModelKind, NeuronModel};

pub fn declaration() -> Declaration {
    let exp = super::iaf_cond_exp::declaration();
    Declaration {
        model: "iaf_cond_alpha",
        step: "unless refractory: v integrated over the step (RK4 in f64) from c_m·v′ = −g_l·(v − e_l) − Σ (g_k + dg_k·t)·e^(−t/τ_k)·(min(v, v_th) − e_rev_k) + i_e + I, \
               g_k and its rate of rise dg_k as the step began; then each conductance moves on exactly and its dg_k takes the weights arriving × e/τ_k (nS: g peaks at the weight τ_k later)"
            .into(),
        conductance_synapses: Some(ConductanceShape::Alpha),
        ..exp
    }
}

fn from_declared(declared: Declared, dt_ms: f64) -> NeuronModel {
    NeuronModel::CondAlpha(CondAlphaSpec(super::iaf_cond_exp::spec_of(declared, dt_ms)))
}

/// A population's parameters and initial state: `iaf_cond_exp`'s, its synapses of alpha
/// shape.
#[derive(Clone, Debug)]
pub struct CondAlphaSpec(pub CondExpSpec);

impl Model for CondAlphaSpec {
    type Group = CondExpGroup;
    /// NEST's name.
    const KIND: ModelKind = ModelKind {
        name: "iaf_cond_alpha",
        declaration,
        build: Build::Values(from_declared),
        check: CondExpSpec::KIND.check,
        shader: "",
        gpu: "refused: integrated on the CPU backend",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<CondExpGroup, InvalidValue> {
        self.0.build(r)
    }

    fn build_at(&self, first: u64, r: impl Iterator<Item = f64>) -> Result<CondExpGroup, InvalidValue> {
        self.0.build_at(first, r)
    }

    fn per_neuron_parameters(&self) -> usize {
        self.0.per_neuron_parameters()
    }

    /// `iaf_cond_exp`'s (the same step; a multiply-add more per conductance).
    fn step_cost_ns(&self) -> f64 {
        self.0.step_cost_ns()
    }

    fn gpu_unsupported(&self) -> Option<String> {
        Some("iaf_cond_alpha is integrated on the CPU backend only (use --backend cpu)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expr;
    use crate::model::{Group, StepInput};
    use crate::synapse::{Exponential, SynapseModel, Synaptic};

    /// An alpha conductance's pulse moves v as a reference integration on 10⁴ substeps
    /// of each step does (g(t) = w·(t/τ)·e^(1−t/τ) from the step after the arrival), and
    /// not as the exponential conductance of the same weight does.
    #[test]
    fn an_alpha_conductance_moves_v_as_a_fine_reference_integrates_it() {
        let e = |x: f64| Expr::parse(&x.to_string(), &[]).unwrap();
        let spec = CondAlphaSpec(CondExpSpec::uniform([250.0, 16.6667, -70.0, -55.0, -60.0, 2.0, 0.0], 0.1, [e(-70.0), e(0.0)]));
        let mut cell = spec.build(std::iter::once(0.5)).unwrap();
        let (tau, w) = (0.5f64, 20.0f64);
        let mut kinds = vec![Exponential::new(SynapseModel::AlphaConductance { tau_ms: tau, e_rev: 0.0 }, 1, 0.1)];
        let step = |cell: &mut CondExpGroup, kinds: &[Exponential]| {
            let synaptic = Synaptic::new(kinds, 0..1);
            cell.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &synaptic, dt: 0.1, step: 0 });
        };
        kinds[0].advance(&[w as f32]);
        step(&mut cell, &kinds);
        assert_eq!(cell.v[0], -70.0, "the arrival acts from the next step");
        let c = cell.constants.of(0);
        let mut reference = -70.0f64;
        for k in 0..40 {
            kinds[0].advance(&[0.0]);
            step(&mut cell, &kinds);
            let substeps = 10_000;
            let h = 0.1 / substeps as f64;
            for s in 0..substeps {
                let t = k as f64 * 0.1 + (s as f64 + 0.5) * h;
                let g = w * t / tau * (1.0 - t / tau).exp();
                reference += h * (-c.g_l * (reference - c.e_l) - g * reference) / c.c_m;
            }
            assert!((cell.v[0] as f64 - reference).abs() < 2e-5, "step {k}: {} against {reference}", cell.v[0]);
        }
        assert!(reference > -68.0, "the conductance moved v: {reference}");
    }
}
