//! Synaptic input kinds: how the weights of arriving spikes act on their targets. A delta
//! synapse adds its weight to the target's input current in the step it arrives (net.m);
//! an exponential synapse adds it to a current or a conductance that then decays with
//! its time constant; an alpha conductance (NEST's iaf_cond_alpha) rises and decays as
//! t·e^(1−t/τ)/τ, peaking at the weight τ after the arrival, as does an alpha current
//! (NEST's iaf_psc_alpha's second current). Each kind keeps its own state, one value per
//! target (two for the alpha kinds: the value and its rate of rise), and
//! is fed by a delay ring of its own (kind 0, delta, by the ring that is the input current
//! itself).
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
    /// A current of alpha shape, NEST's iaf_psc_alpha's i_syn_in (where tau_syn_in differs
    /// from tau_syn_ex): an arrival of weight w adds w·e/τ to its rate of rise, so that
    /// it peaks at w, τ after it.
    AlphaCurrent { tau_ms: f64 },
    /// A conductance of alpha shape, NEST's iaf_cond_alpha's g_ex/g_in: an arrival of
    /// weight w adds w·e/τ to its rate of rise dg (dg′ = −dg/τ, g′ = dg − g/τ), so that g
    /// peaks at w, τ after it; reversal potential `e_rev`.
    AlphaConductance { tau_ms: f64, e_rev: f64 },
}

impl SynapseModel {
    /// The time constant of a kind with state of its own.
    pub fn tau_ms(self) -> Option<f64> {
        match self {
            SynapseModel::Delta => None,
            SynapseModel::ExpCurrent { tau_ms }
            | SynapseModel::AlphaCurrent { tau_ms }
            | SynapseModel::ExpConductance { tau_ms, .. }
            | SynapseModel::AlphaConductance { tau_ms, .. } => Some(tau_ms),
        }
    }

    /// The reversal potential of a conductance kind.
    pub fn e_rev(self) -> Option<f64> {
        match self {
            SynapseModel::ExpConductance { e_rev, .. } | SynapseModel::AlphaConductance { e_rev, .. } => Some(e_rev),
            SynapseModel::Delta | SynapseModel::ExpCurrent { .. } | SynapseModel::AlphaCurrent { .. } => None,
        }
    }

    /// Whether it rises after an arrival (alpha shape: a rate of rise kept beside it).
    pub fn is_alpha(self) -> bool {
        matches!(self, SynapseModel::AlphaCurrent { .. } | SynapseModel::AlphaConductance { .. })
    }
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
    /// iaf_psc_exp's second synaptic current), decaying with `tau_ms`; `rise` its rate of
    /// rise as the step began (pA/ms) for an alpha current, empty for an exponential one.
    Current { i: &'a [f32], start: &'a [f32], rise: &'a [f32], tau_ms: f32 },
    /// A conductance (nS) per neuron and its reversal potential (mV): `g` with this
    /// step's arrivals, `start` as the step began (before them: what NEST's conductance
    /// models integrate over the step, the arrivals added after it), and `rise` its rate
    /// of rise as the step began (nS/ms; empty for an exponential conductance): within
    /// the step, g(t) = (start + rise·t)·e^(−t/τ).
    Conductance { g: &'a [f32], start: &'a [f32], rise: &'a [f32], e_rev: f32, tau_ms: f32 },
}

impl<'a> SynapticInput<'a> {
    /// The same contribution for neurons `range` of those it covers.
    pub fn part(self, range: std::ops::Range<usize>) -> SynapticInput<'a> {
        match self {
            SynapticInput::Current { i, start, rise, tau_ms } => SynapticInput::Current {
                i: &i[range.clone()],
                start: &start[range.clone()],
                rise: if rise.is_empty() { rise } else { &rise[range] },
                tau_ms,
            },
            SynapticInput::Conductance { g, start, rise, e_rev, tau_ms } => SynapticInput::Conductance {
                g: &g[range.clone()],
                start: &start[range.clone()],
                rise: if rise.is_empty() { rise } else { &rise[range] },
                e_rev,
                tau_ms,
            },
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

/// A kind's state over a shard's neurons: a current or conductance that jumps by the
/// weights arriving in a step and decays by exp(−dt/τ) per step, or an alpha current or
/// conductance whose rate of rise jumps by them.
#[derive(Clone, Debug)]
pub struct Exponential {
    model: SynapseModel,
    /// exp(−dt/τ).
    decay: f32,
    /// dt, and e/τ: an alpha kind's rise per unit weight.
    dt: f32,
    alpha_scale: f32,
    value: Vec<f32>,
    /// The values the step began with (before its decay and arrivals), kept by `advance`.
    start: Vec<f32>,
    /// An alpha kind's rate of rise (nS/ms or pA/ms) and its value as the step began; empty
    /// for the other kinds.
    rise: Vec<f32>,
    rise_start: Vec<f32>,
}

impl Exponential {
    /// The state of `model` (not delta) for `n` neurons, at rest.
    pub fn new(model: SynapseModel, n: usize, dt_ms: f64) -> Exponential {
        let tau = model.tau_ms().expect("a delta synapse has no state of its own");
        let alpha = model.is_alpha();
        Exponential {
            model,
            decay: (-dt_ms / tau).exp() as f32,
            dt: dt_ms as f32,
            alpha_scale: (std::f64::consts::E / tau) as f32,
            value: vec![0.0; n],
            start: vec![0.0; n],
            rise: vec![0.0; if alpha { n } else { 0 }],
            rise_start: vec![0.0; if alpha { n } else { 0 }],
        }
    }

    /// One step: decay, then this step's arrivals (the weights in its ring slot). An
    /// alpha kind moves exactly over the step, g ← (g + dg·dt)·e^(−dt/τ) and
    /// dg ← dg·e^(−dt/τ), then its rise takes the arrivals (×e/τ), as NEST's does.
    #[inline]
    pub fn advance(&mut self, arrivals: &[f32]) {
        self.start.copy_from_slice(&self.value);
        let decay = self.decay;
        if self.rise.is_empty() {
            for (g, a) in self.value.iter_mut().zip(arrivals) {
                *g = *g * decay + *a;
            }
            return;
        }
        self.rise_start.copy_from_slice(&self.rise);
        let (dt, scale) = (self.dt, self.alpha_scale);
        for ((g, dg), a) in self.value.iter_mut().zip(self.rise.iter_mut()).zip(arrivals) {
            *g = (*g + *dg * dt) * decay;
            *dg = *dg * decay + *a * scale;
        }
    }

    /// The state of every neuron.
    pub fn values(&self) -> &[f32] {
        &self.value
    }

    /// Its state arrays (a checkpoint's saving and restoring): the values, then an alpha
    /// conductance's rate of rise.
    pub fn arrays_mut(&mut self) -> Vec<&mut [f32]> {
        let mut arrays = vec![self.value.as_mut_slice()];
        if !self.rise.is_empty() {
            arrays.push(self.rise.as_mut_slice());
        }
        arrays
    }

    /// What this step hands to the neurons.
    pub fn input(&self) -> SynapticInput<'_> {
        match self.model {
            SynapseModel::ExpConductance { e_rev, tau_ms } | SynapseModel::AlphaConductance { e_rev, tau_ms } => {
                SynapticInput::Conductance {
                    g: &self.value,
                    start: &self.start,
                    rise: &self.rise_start,
                    e_rev: e_rev as f32,
                    tau_ms: tau_ms as f32,
                }
            }
            SynapseModel::ExpCurrent { tau_ms } | SynapseModel::AlphaCurrent { tau_ms } => {
                SynapticInput::Current { i: &self.value, start: &self.start, rise: &self.rise_start, tau_ms: tau_ms as f32 }
            }
            SynapseModel::Delta => unreachable!("a delta synapse has no state of its own"),
        }
    }

    pub fn bytes(&self) -> usize {
        (self.value.len() + self.rise.len()) * 8
    }
}

/// The state arrays a kind keeps per neuron: an alpha kind's value and rate of rise, the
/// other kinds' one value.
pub fn arrays_per_neuron(kind: SynapseModel) -> usize {
    if kind.is_alpha() {
        2
    } else {
        1
    }
}

/// The name a report gives the state of exponential kind `k` (≥ 1 in `kinds`): what
/// `[[output.report]] variable` names it, and the checkpoint's array.
pub fn kind_name(k: usize) -> String {
    format!("synapse.{k}")
}

/// The checkpoint's names of kind `k`'s arrays (`arrays_mut`'s order).
pub fn array_names(k: usize, kind: SynapseModel) -> Vec<String> {
    let mut names = vec![kind_name(k)];
    if arrays_per_neuron(kind) == 2 {
        names.push(format!("{}.rise", kind_name(k)));
    }
    names
}

/// A kind in words, for messages and a report's `units`.
pub fn describe_kind(kind: SynapseModel) -> String {
    match kind {
        SynapseModel::Delta => "delta".into(),
        SynapseModel::ExpCurrent { tau_ms } => format!("exp_current, tau {tau_ms} ms"),
        SynapseModel::AlphaCurrent { tau_ms } => format!("alpha_current, tau {tau_ms} ms"),
        SynapseModel::ExpConductance { tau_ms, e_rev } => format!("exp_conductance, tau {tau_ms} ms, e_rev {e_rev}"),
        SynapseModel::AlphaConductance { tau_ms, e_rev } => format!("alpha_conductance, tau {tau_ms} ms, e_rev {e_rev}"),
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

    /// w·(t/τ)·e^(1−t/τ) on the grid, from the step after the arrival: the peak, the
    /// weight, τ after it; the rise the ODE's dg = w·e/τ·e^(−t/τ); g handed to the step
    /// as it began.
    #[test]
    fn an_alpha_conductance_peaks_at_its_weight_tau_after_the_arrival() {
        let (tau, dt, w) = (0.5f64, 0.1f64, 2.0f64);
        let mut s = Exponential::new(SynapseModel::AlphaConductance { tau_ms: tau, e_rev: -80.0 }, 1, dt);
        s.advance(&[w as f32]);
        assert_eq!(s.values(), &[0.0], "the arrival moves the rise, not g, in its step");
        let mut trace = Vec::new();
        for k in 1..=30 {
            let before = s.values()[0];
            s.advance(&[0.0]);
            let SynapticInput::Conductance { g, start, rise, e_rev, .. } = s.input() else { panic!("a conductance") };
            assert_eq!((start[0], e_rev), (before, -80.0));
            let t = k as f64 * dt;
            let exact = w * t / tau * (1.0 - t / tau).exp();
            assert!((g[0] as f64 - exact).abs() < 1e-5 * w, "step {k}: {} against {exact}", g[0]);
            let dg = w * std::f64::consts::E / tau * (-(t - dt) / tau).exp();
            assert!((rise[0] as f64 - dg).abs() < 1e-5 * dg, "step {k}: rise {} against {dg}", rise[0]);
            trace.push(g[0]);
        }
        let peak = trace.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 + 1;
        assert_eq!(peak, 5, "the peak τ after the arrival");
        assert_eq!(s.arrays_mut().len(), 2, "g and its rise are its state");
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
