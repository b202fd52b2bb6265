//! Plasticity rules as data, as neuron models are (`model/`): each rule declares its
//! parameters with defaults and units, its state per synapse, its traces, and what
//! happens when a presynaptic spike arrives at a synapse, when the postsynaptic neuron
//! spikes, and at its periodic update. The store (`connectivity/plastic.rs`) holds the
//! state and calls the rule in the order of events; nothing outside this module matches
//! on a rule's name.
//!
//! Time is counted in steps. Delays are axonal: a spike emitted in step s (stamped
//! (s + 1)·dt) acts on the input of step s + d, and reaches the synapse then, at
//! t_arrival = (s + d)·dt, the start of the step it acts in. A postsynaptic spike of step
//! t (stamped (t + 1)·dt) reaches its synapses at once. Within a step, the arrivals come
//! first (they are that step's input), the postsynaptic spikes after (they end it): an
//! arrival in the step a neuron spikes precedes the spike by dt.

mod rules;
mod trace;

pub use rules::{Izhikevich2006, Stdp, StdpPlHom};
pub use trace::{Decay, PostTrace, PreTrace, PreTraces, TraceKind};

/// What a rule does at each event, for the store's loops: generic over it, so that each
/// rule's loop is compiled on its own, with no dispatch per synapse.
pub trait Kernel {
    /// Whether an arrival's depression counts a target's spike stamped at it.
    const SIMULTANEOUS: bool;
    /// Whether the rule holds a value per synapse beside the weight.
    const EXTRA: bool;
    fn pre_decay(&self) -> &Decay;
    fn post_decay(&self) -> &Decay;
    /// The step at which a postsynaptic spike of step `step` reads the presynaptic traces.
    fn pre_read_step(&self, step: u64) -> u64;
    /// A spike arrives at a synapse whose target's trace is `post`.
    fn arrival(&self, w: &mut f32, extra: &mut f32, post: f64);
    /// The target spikes, where the synapse's presynaptic trace is `pre`.
    fn post(&self, w: &mut f32, extra: &mut f32, pre: f64);
}

/// Calls `$body` with `$k` bound to the rule's kernel (a `Kernel`).
macro_rules! with_kernel {
    ($rule:expr, $k:ident => $body:expr) => {
        match $rule {
            $crate::plasticity::PlasticityRule::Stdp($k) => $body,
            $crate::plasticity::PlasticityRule::StdpPlHom($k) => $body,
            $crate::plasticity::PlasticityRule::Izhikevich2006($k) => $body,
        }
    };
}
pub(crate) use with_kernel;

/// A projection's plasticity rule with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum PlasticityRule {
    /// NEST's `stdp_synapse`: pair-based, all-to-all pairing, multiplicative or additive
    /// by mu_plus / mu_minus.
    Stdp(Stdp),
    /// NEST's `stdp_pl_synapse_hom`: power-law potentiation (NEST's `hpc_benchmark`).
    StdpPlHom(StdpPlHom),
    /// Izhikevich (2006), `poly_spnet.cpp`: traces set on spikes, a derivative per
    /// synapse, the weights moved by it once a second.
    Izhikevich2006(Izhikevich2006),
}

/// One parameter of a rule: its name in the model file, its unit ("" for a number,
/// "ms" for a time), its default, and the bound its value must respect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleParameter {
    pub name: &'static str,
    pub unit: &'static str,
    pub default: f64,
    /// (lowest value, whether excluded, what it is) — e.g. (0, true, "a time constant").
    pub bound: Option<(f64, bool, &'static str)>,
}

/// What a rule declares about itself: `volley check`, the reference pages and the
/// model file's validation read it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDeclaration {
    pub rule: &'static str,
    /// Who defined it, and what it reproduces.
    pub origin: &'static str,
    pub parameters: Vec<RuleParameter>,
    /// The state each synapse holds beside its target, in bytes: the f32 weight, and
    /// what the rule adds.
    pub synapse_state: &'static [&'static str],
    /// In words and formulas.
    pub on_arrival: &'static str,
    pub on_post: &'static str,
    pub periodic: Option<&'static str>,
}

impl RuleDeclaration {
    pub fn parameter_names(&self) -> Vec<&'static str> {
        self.parameters.iter().map(|p| p.name).collect()
    }
}

/// The names a model file may give `plasticity.rule`.
pub const RULES: &[&str] = &["stdp", "stdp_pl_hom", "izhikevich2006"];

impl PlasticityRule {
    /// The declaration of the rule named `rule`, or None.
    pub fn declaration_of(rule: &str) -> Option<RuleDeclaration> {
        match rule {
            "stdp" => Some(Stdp::declaration()),
            "stdp_pl_hom" => Some(StdpPlHom::declaration()),
            "izhikevich2006" => Some(Izhikevich2006::declaration()),
            _ => None,
        }
    }

    /// The rule named `rule` with `values` for the parameters of its declaration, in
    /// declaration order (times in ms), for a step of `dt_ms`.
    pub fn new(rule: &str, values: &[f64], dt_ms: f64) -> Option<PlasticityRule> {
        Some(match rule {
            "stdp" => PlasticityRule::Stdp(Stdp::new(values, dt_ms)),
            "stdp_pl_hom" => PlasticityRule::StdpPlHom(StdpPlHom::new(values, dt_ms)),
            "izhikevich2006" => PlasticityRule::Izhikevich2006(Izhikevich2006::new(values, dt_ms)),
            _ => return None,
        })
    }

    pub fn declaration(&self) -> RuleDeclaration {
        match self {
            PlasticityRule::Stdp(_) => Stdp::declaration(),
            PlasticityRule::StdpPlHom(_) => StdpPlHom::declaration(),
            PlasticityRule::Izhikevich2006(_) => Izhikevich2006::declaration(),
        }
    }

    /// Whether each synapse holds a value for the rule beside its weight (`Kernel::EXTRA`).
    pub fn holds_extra(&self) -> bool {
        fn of<K: Kernel>(_: &K) -> bool {
            K::EXTRA
        }
        with_kernel!(self, k => of(k))
    }

    /// Bytes a plastic synapse takes in the store: its u32 target and f32 weight; with
    /// updates through the index (not lazy), its place and (source, delay) group in its
    /// target's list; and the rule's value.
    pub fn bytes_per_synapse(&self) -> usize {
        8 + if self.lazy_horizon().is_some() { 0 } else { 8 } + if self.holds_extra() { 4 } else { 0 }
    }

    /// The traces' decays, per step.
    pub fn pre_decay(&self) -> &Decay {
        with_kernel!(self, k => k.pre_decay())
    }

    pub fn post_decay(&self) -> &Decay {
        with_kernel!(self, k => k.post_decay())
    }

    /// A presynaptic spike arrives at a synapse of weight `w` (and rule state `extra`),
    /// whose target's trace is `post` at the arrival (postsynaptic spikes stamped
    /// before it): the weight it is delivered with.
    #[inline]
    pub fn on_arrival(&self, w: &mut f32, extra: &mut f32, post: f64) {
        with_kernel!(self, k => k.arrival(w, extra, post))
    }

    /// The target of a synapse spikes, where the synapse's presynaptic trace is `pre`
    /// (its arrivals up to and including this step's, read at `pre_read_step`).
    #[inline]
    pub fn on_post(&self, w: &mut f32, extra: &mut f32, pre: f64) {
        with_kernel!(self, k => k.post(w, extra, pre))
    }

    /// Whether an arrival's depression counts a target's spike stamped at the arrival
    /// itself (Izhikevich's code sets LTD before delivering the step's arrivals; NEST
    /// reads the postsynaptic trace strictly before the arrival).
    pub fn post_counts_simultaneous(&self) -> bool {
        fn of<K: Kernel>(_: &K) -> bool {
            K::SIMULTANEOUS
        }
        with_kernel!(self, k => of(k))
    }

    /// The step at which a postsynaptic spike of step `step` reads its synapses'
    /// presynaptic traces (arrivals up to that step's count): NEST's rules at the spike's
    /// stamp, (step + 1)·dt; Izhikevich's at the step the threshold was crossed in, so
    /// that an arrival in that step potentiates by a_plus itself (`poly_spnet.cpp` reads
    /// `LTP[pre][t+D-D_pre-1]` at the step it sees the spike).
    #[inline]
    pub fn pre_read_step(&self, step: u64) -> u64 {
        with_kernel!(self, k => k.pre_read_step(step))
    }

    /// The periodic update's interval in steps, where the rule has one.
    /// Whether postsynaptic spikes may reach the synapses lazily, at their next arrival
    /// (NEST's way): the rule changes nothing between events but at them, and its
    /// presynaptic trace reaches exactly 0 after a horizon (the steps returned), so that
    /// a target keeps only its spikes within it. None: through the index at each spike.
    pub fn lazy_horizon(&self) -> Option<u64> {
        match self {
            PlasticityRule::Stdp(_) | PlasticityRule::StdpPlHom(_) => self.pre_decay().horizon(),
            PlasticityRule::Izhikevich2006(_) => None,
        }
    }

    pub fn period_steps(&self) -> Option<u64> {
        match self {
            PlasticityRule::Izhikevich2006(r) => Some(r.period_steps),
            PlasticityRule::Stdp(_) | PlasticityRule::StdpPlHom(_) => None,
        }
    }

    /// The periodic update of one synapse.
    #[inline]
    pub fn periodic(&self, w: &mut f32, extra: &mut f32) {
        if let PlasticityRule::Izhikevich2006(r) = self {
            r.periodic(w, extra);
        }
    }

    /// Whether a weight `w` is one the rule can hold (the sign of its bound, within it),
    /// or what was expected.
    pub fn check_weight(&self, w: f64) -> Result<(), String> {
        let (lo, hi) = match self {
            PlasticityRule::Stdp(r) if r.w_max < 0.0 => (r.w_max, 0.0),
            PlasticityRule::Stdp(r) => (0.0, r.w_max),
            PlasticityRule::StdpPlHom(_) => (0.0, f64::INFINITY),
            PlasticityRule::Izhikevich2006(r) => (0.0, r.w_max),
        };
        if (lo..=hi).contains(&w) {
            Ok(())
        } else if hi.is_finite() {
            Err(format!("a weight in [{lo}, {hi}] (the rule's bounds)"))
        } else {
            Err(format!("a weight ≥ {lo} (the rule's bound)"))
        }
    }
}

#[cfg(test)]
mod tests;
