//! What an exactly integrated LIF membrane (iaf_psc_exp's, iaf_psc_alpha's) takes in a
//! step besides its own synaptic current: the stimuli's currents and the synaptic kinds'
//! contributions, as the one current its kernel multiplies by P30 (P20). A kind's current
//! I (an exponential of time constant τ) moves v over the step by P21(τ)·I, I as the step
//! began, NEST's i_syn_in; an alpha current with rise dI by P31(τ)·dI + P32(τ)·I; so each
//! is that over P30, per neuron where the membranes differ. A conductance (another
//! population's synapses: none reach these models) is g·(e_rev − v).

use super::iaf_psc_alpha::AlphaPropagators;
use super::lif::Propagators;
use super::StepInput;
use crate::synapse::SynapticInput;

/// A group's membranes and the scales of each synaptic time constant met so far.
#[derive(Clone, Debug)]
pub struct MembraneInput {
    /// tau_m (ms) and c_m (pF), one pair for the group or one per neuron.
    membrane: Vec<[f64; 2]>,
    dt_ms: f64,
    /// (τ, alpha shape) → per neuron (one for all where they share the membrane): the
    /// scales of the rise and of the value (P21/P30 and 0 for an exponential current).
    scales: Vec<(f32, bool, Vec<[f32; 2]>)>,
    /// The step's currents, stimuli and kinds together.
    currents: Vec<f32>,
}

impl MembraneInput {
    pub fn new(membrane: Vec<[f64; 2]>, dt_ms: f64) -> MembraneInput {
        MembraneInput { membrane, dt_ms, scales: Vec::new(), currents: Vec::new() }
    }

    /// The current the kernel takes for neurons of potentials `v`: the stimuli's where
    /// no synaptic kind reaches the shard (as given), else theirs and the kinds' summed.
    pub fn currents<'a>(&'a mut self, step: &StepInput<'a>, v: &[f32]) -> Option<&'a [f32]> {
        if step.synaptic.is_empty() {
            return step.currents;
        }
        let mut currents = std::mem::take(&mut self.currents);
        currents.clear();
        currents.extend_from_slice(step.currents.unwrap_or(&[]));
        currents.resize(v.len(), 0.0);
        for kind in step.synaptic.iter() {
            match kind {
                SynapticInput::Current { start, rise: [], tau_ms, .. } => match self.scales(tau_ms, false) {
                    &[[s, _]] => currents.iter_mut().zip(start).for_each(|(c, i)| *c += s * *i),
                    each => currents.iter_mut().zip(start).zip(each).for_each(|((c, i), [s, _])| *c += s * *i),
                },
                SynapticInput::Current { start, rise, tau_ms, .. } => match self.scales(tau_ms, true) {
                    &[[s_rise, s_value]] => {
                        currents.iter_mut().zip(start.iter().zip(rise)).for_each(|(c, (i, di))| *c += s_rise * *di + s_value * *i)
                    }
                    each => currents
                        .iter_mut()
                        .zip(start.iter().zip(rise))
                        .zip(each)
                        .for_each(|((c, (i, di)), [s_rise, s_value])| *c += s_rise * *di + s_value * *i),
                },
                SynapticInput::Conductance { g, e_rev, .. } => {
                    currents.iter_mut().zip(g).zip(v).for_each(|((c, g), v)| *c += *g * (e_rev - *v));
                }
            }
        }
        self.currents = currents;
        Some(&self.currents)
    }

    /// The scales of a current of time constant `tau_ms` (alpha or exponential) for each
    /// membrane, computed once per time constant and shape.
    fn scales(&mut self, tau_ms: f32, alpha: bool) -> &[[f32; 2]] {
        let k = match self.scales.iter().position(|&(tau, shape, _)| tau == tau_ms && shape == alpha) {
            Some(k) => k,
            None => {
                let (dt, tau) = (self.dt_ms, tau_ms as f64);
                let scale = |&[tau_m, c_m]: &[f64; 2]| {
                    if alpha {
                        let p = AlphaPropagators::new(tau_m, c_m, tau, dt);
                        [(p.p31 / p.p30) as f32, (p.p32 / p.p30) as f32]
                    } else {
                        let p = Propagators::new(tau_m, c_m, tau, dt);
                        [(p.p21 / p.p20) as f32, 0.0]
                    }
                };
                self.scales.push((tau_ms, alpha, self.membrane.iter().map(scale).collect()));
                self.scales.len() - 1
            }
        };
        &self.scales[k].2
    }
}
