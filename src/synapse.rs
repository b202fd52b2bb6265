//! Synaptic input kinds: how the weights of arriving spikes act on their targets. A delta
//! synapse adds its weight to the target's input current in the step it arrives (net.m);
//! an exponential synapse adds it to a current or a conductance that then decays with
//! its time constant. Each kind keeps its own state, one value per target, and is fed by
//! a delay ring of its own (kind 0, delta, by the ring that is the input current itself).
//! A neuron model receives each kind's contribution as a current or, where it can use
//! one, as a conductance with its reversal potential (`SynapticInput`): a
//! Hodgkin–Huxley membrane integrates g·(E − v) with its ion channels, a current-based
//! model adds it as a current.

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SynapseModel {
    /// The weight jumps into the target's input current of the arrival step (net.m).
    Delta,
    /// A current that jumps by the weight and decays with `tau_ms`.
    ExpCurrent { tau_ms: f64 },
    /// A conductance that jumps by the weight and decays with `tau_ms`, with reversal
    /// potential `e_rev` (see `synapse`: how each model takes it).
    ExpConductance { tau_ms: f64, e_rev: f64 },
}

/// The kinds of the synapse models `used` (a projection's each), in the order of their
/// delay rings: delta first, always (the input current), then each distinct exponential
/// model in the order met.
pub fn kinds_of(used: impl IntoIterator<Item = SynapseModel>) -> Vec<SynapseModel> {
    let mut list = vec![SynapseModel::Delta];
    for s in used {
        if !list.contains(&s) {
            list.push(s);
        }
    }
    list
}

/// One step's contribution of a synaptic kind, for the neurons of a group.
#[derive(Clone, Copy, Debug)]
pub enum SynapticInput<'a> {
    /// A current (pA) per neuron: `i` with this step's arrivals, `start` as the step
    /// began (what an exact integration of the membrane takes over the step, as
    /// iaf_psc_exp's second synaptic current), decaying with `tau_ms`.
    Current { i: &'a [f32], start: &'a [f32], tau_ms: f32 },
    /// A conductance (nS) per neuron and its reversal potential (mV): `g` with this
    /// step's arrivals, `start` as the step began (before them: what NEST's conductance
    /// models integrate over the step, the arrivals added after it), decaying with
    /// `tau_ms` within the step.
    Conductance { g: &'a [f32], start: &'a [f32], e_rev: f32, tau_ms: f32 },
}

impl<'a> SynapticInput<'a> {
    /// The same contribution for neurons `range` of those it covers.
    pub fn part(self, range: std::ops::Range<usize>) -> SynapticInput<'a> {
        match self {
            SynapticInput::Current { i, start, tau_ms } => SynapticInput::Current { i: &i[range.clone()], start: &start[range], tau_ms },
            SynapticInput::Conductance { g, start, e_rev, tau_ms } => {
                SynapticInput::Conductance { g: &g[range.clone()], start: &start[range], e_rev, tau_ms }
            }
        }
    }
}

/// The exponential kinds' contributions to the neurons `range` of a shard: a view, so
/// that handing them to a group each step allocates nothing.
#[derive(Clone, Debug)]
pub struct Synaptic<'a> {
    kinds: &'a [Exponential],
    range: std::ops::Range<usize>,
}

impl<'a> Synaptic<'a> {
    pub fn new(kinds: &'a [Exponential], range: std::ops::Range<usize>) -> Synaptic<'a> {
        Synaptic { kinds, range }
    }

    /// No synaptic kinds.
    pub fn none() -> Synaptic<'static> {
        Synaptic { kinds: &[], range: 0..0 }
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Each kind's contribution, in kind order.
    pub fn iter(&self) -> impl Iterator<Item = SynapticInput<'a>> + '_ {
        self.kinds.iter().map(|k| k.input().part(self.range.clone()))
    }
}

/// Adds each kind's current into `input`, in order, for a model that takes currents
/// only: a conductance gives g·(e_rev − v) with v at the start of the step.
#[inline]
pub fn add_as_currents(input: &mut [f32], synaptic: &Synaptic, v: &[f32]) {
    for kind in synaptic.iter() {
        match kind {
            SynapticInput::Current { i, .. } => input.iter_mut().zip(i).for_each(|(x, i)| *x += *i),
            SynapticInput::Conductance { g, e_rev, .. } => {
                for ((x, g), v) in input.iter_mut().zip(g).zip(v) {
                    *x += *g * (e_rev - *v);
                }
            }
        }
    }
}

/// An exponential kind's state over a shard's neurons: a current or conductance that
/// jumps by the weights arriving in a step and decays by exp(−dt/τ) per step.
#[derive(Clone, Debug)]
pub struct Exponential {
    model: SynapseModel,
    /// exp(−dt/τ).
    decay: f32,
    value: Vec<f32>,
    /// The values the step began with (before its decay and arrivals), kept by `advance`.
    start: Vec<f32>,
}

impl Exponential {
    /// The state of `model` (exponential) for `n` neurons, at rest.
    pub fn new(model: SynapseModel, n: usize, dt_ms: f64) -> Exponential {
        let tau = match model {
            SynapseModel::ExpCurrent { tau_ms } | SynapseModel::ExpConductance { tau_ms, .. } => tau_ms,
            SynapseModel::Delta => panic!("a delta synapse has no state of its own"),
        };
        Exponential { model, decay: (-dt_ms / tau).exp() as f32, value: vec![0.0; n], start: vec![0.0; n] }
    }

    /// One step: decay, then this step's arrivals (the weights in its ring slot).
    #[inline]
    pub fn advance(&mut self, arrivals: &[f32]) {
        self.start.copy_from_slice(&self.value);
        let decay = self.decay;
        for (g, a) in self.value.iter_mut().zip(arrivals) {
            *g = *g * decay + *a;
        }
    }

    /// The state of every neuron.
    pub fn values(&self) -> &[f32] {
        &self.value
    }

    /// The state of every neuron (a checkpoint's saving and restoring).
    pub fn values_mut(&mut self) -> &mut [f32] {
        &mut self.value
    }

    /// What this step hands to the neurons.
    pub fn input(&self) -> SynapticInput<'_> {
        match self.model {
            SynapseModel::ExpConductance { e_rev, tau_ms } => {
                SynapticInput::Conductance { g: &self.value, start: &self.start, e_rev: e_rev as f32, tau_ms: tau_ms as f32 }
            }
            SynapseModel::ExpCurrent { tau_ms } => SynapticInput::Current { i: &self.value, start: &self.start, tau_ms: tau_ms as f32 },
            SynapseModel::Delta => unreachable!("a delta synapse has no state of its own"),
        }
    }

    pub fn bytes(&self) -> usize {
        self.value.len() * 8
    }
}

/// The name a report gives the state of exponential kind `k` (≥ 1 in `kinds`): what
/// `[[output.report]] variable` names it, and the checkpoint's array.
pub fn kind_name(k: usize) -> String {
    format!("synapse.{k}")
}

/// A kind in words, for messages and a report's `units`.
pub fn describe_kind(kind: SynapseModel) -> String {
    match kind {
        SynapseModel::Delta => "delta".into(),
        SynapseModel::ExpCurrent { tau_ms } => format!("exp_current, tau {tau_ms} ms"),
        SynapseModel::ExpConductance { tau_ms, e_rev } => format!("exp_conductance, tau {tau_ms} ms, e_rev {e_rev}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exponential_current_jumps_by_its_arrivals_and_decays() {
        let mut s = Exponential::new(SynapseModel::ExpCurrent { tau_ms: 5.0 }, 2, 0.1);
        s.advance(&[2.0, 0.0]);
        s.advance(&[0.0, 1.0]);
        let decay = (-0.1f64 / 5.0).exp() as f32;
        let SynapticInput::Current { i, .. } = s.input() else { panic!("a current") };
        assert_eq!(i, &[2.0 * decay, 1.0]);
    }

    #[test]
    fn a_current_model_takes_a_conductance_as_g_times_the_driving_force() {
        let mut s = Exponential::new(SynapseModel::ExpConductance { tau_ms: 5.0, e_rev: 0.0 }, 2, 0.1);
        s.advance(&[0.5, 0.0]);
        let mut input = [1.0f32, 1.0];
        add_as_currents(&mut input, &Synaptic::new(std::slice::from_ref(&s), 0..2), &[-60.0, -60.0]);
        assert_eq!(input, [1.0 + 0.5 * 60.0, 1.0]);
    }
}
