//! The rules: NEST's `stdp_synapse` and `stdp_pl_synapse_hom` with NEST's parameter
//! names, and Izhikevich's 2006 rule from `poly_spnet.cpp`. Weights are f32 in the
//! store; each update is computed in f64 from them, as NEST and Izhikevich compute in
//! double.

use super::trace::{Decay, TraceKind};
use super::{Kernel, RuleDeclaration, RuleParameter};

const TIME: Option<(f64, bool, &str)> = Some((0.0, true, "a time constant"));

/// x^mu, without a call to pow for NEST's two usual exponents: pow(x, 1) is x and
/// pow(x, 0) is 1 exactly (IEEE 754), so the results are the same bits. Decided once,
/// when the rule is made: a test of mu itself beside the call, LLVM folds back into the
/// call (it knows the identities too).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Power {
    Zero,
    One,
    Other(f64),
}

impl Power {
    fn of(mu: f64) -> Power {
        match mu {
            0.0 => Power::Zero,
            1.0 => Power::One,
            mu => Power::Other(mu),
        }
    }

    #[inline(always)]
    fn apply(self, x: f64) -> f64 {
        match self {
            Power::Zero => 1.0,
            Power::One => x,
            Power::Other(mu) => power(x, mu),
        }
    }
}

/// x^mu in single precision (glibc's powf, a third of pow's time: a third of the
/// plastic path of NEST's hpc_benchmark was pow). The weight it scales is an f32 and
/// moves by a step λ·x^mu·K: powf's relative error (below 10⁻⁷) stays under the
/// weight's own rounding.
#[inline(always)]
fn power(x: f64, mu: f64) -> f64 {
    (x as f32).powf(mu as f32) as f64
}

/// NEST's `stdp_synapse`: facilitation on a postsynaptic spike by the presynaptic trace,
/// depression on an arrival by the postsynaptic one, both scaled by the weight's place
/// in [0, Wmax] to the powers mu_plus and mu_minus.
#[derive(Clone, Debug, PartialEq)]
pub struct Stdp {
    pub lambda: f64,
    pub alpha: f64,
    pub mu_plus: Power,
    pub mu_minus: Power,
    pub w_max: f64,
    pub pre: Decay,
    pub post: Decay,
}

impl Stdp {
    pub fn declaration() -> RuleDeclaration {
        RuleDeclaration {
            rule: "stdp",
            origin: "NEST's stdp_synapse (Gütig et al. 2003; Rubin et al. 2001): pair-based, all-to-all pairing",
            parameters: vec![
                RuleParameter { name: "tau_plus", unit: "ms", default: 20.0, bound: TIME },
                RuleParameter { name: "tau_minus", unit: "ms", default: 20.0, bound: TIME },
                RuleParameter { name: "lambda", unit: "", default: 0.01, bound: Some((0.0, false, "a step size")) },
                RuleParameter { name: "alpha", unit: "", default: 1.0, bound: Some((0.0, false, "a ratio")) },
                RuleParameter { name: "mu_plus", unit: "", default: 1.0, bound: Some((0.0, false, "an exponent")) },
                RuleParameter { name: "mu_minus", unit: "", default: 1.0, bound: Some((0.0, false, "an exponent")) },
                RuleParameter { name: "Wmax", unit: "", default: 100.0, bound: None },
            ],
            synapse_state: &["weight"],
            on_arrival: "w ← Wmax·max(0, w/Wmax − alpha·lambda·(w/Wmax)^mu_minus·K−), K− the target's trace \
                         (1 per spike, decaying with tau_minus) of its spikes stamped before the arrival; then K+ ← K+ + 1",
            on_post: "w ← Wmax·min(1, w/Wmax + lambda·(1 − w/Wmax)^mu_plus·K+), K+ the synapse's trace of its \
                      arrivals (1 per arrival, decaying with tau_plus)",
            periodic: None,
        }
    }

    pub fn new(v: &[f64], dt_ms: f64) -> Stdp {
        Stdp {
            pre: Decay::exponential(TraceKind::Add, v[0], dt_ms),
            post: Decay::exponential(TraceKind::Add, v[1], dt_ms),
            lambda: v[2],
            alpha: v[3],
            mu_plus: Power::of(v[4]),
            mu_minus: Power::of(v[5]),
            w_max: v[6],
        }
    }

    #[inline]
    pub fn facilitate(&self, w: f64, k_plus: f64) -> f64 {
        let norm = w / self.w_max + self.lambda * self.mu_plus.apply(1.0 - w / self.w_max) * k_plus;
        norm.min(1.0) * self.w_max
    }

    #[inline]
    pub fn depress(&self, w: f64, k_minus: f64) -> f64 {
        let norm = w / self.w_max - self.alpha * self.lambda * self.mu_minus.apply(w / self.w_max) * k_minus;
        norm.max(0.0) * self.w_max
    }
}

/// NEST's `stdp_pl_synapse_hom`: power-law facilitation, multiplicative depression, the
/// parameters shared by every synapse of the projection.
#[derive(Clone, Debug, PartialEq)]
pub struct StdpPlHom {
    pub lambda: f64,
    pub alpha: f64,
    pub mu: f64,
    pub pre: Decay,
    pub post: Decay,
}

impl StdpPlHom {
    pub fn declaration() -> RuleDeclaration {
        RuleDeclaration {
            rule: "stdp_pl_hom",
            origin: "NEST's stdp_pl_synapse_hom (Morrison et al. 2007): the plastic synapse of NEST's hpc_benchmark",
            parameters: vec![
                RuleParameter { name: "tau_plus", unit: "ms", default: 20.0, bound: TIME },
                RuleParameter { name: "tau_minus", unit: "ms", default: 20.0, bound: TIME },
                RuleParameter { name: "lambda", unit: "", default: 0.1, bound: Some((0.0, false, "a step size")) },
                RuleParameter { name: "alpha", unit: "", default: 1.0, bound: Some((0.0, false, "a ratio")) },
                RuleParameter { name: "mu", unit: "", default: 0.4, bound: Some((0.0, false, "an exponent")) },
            ],
            synapse_state: &["weight"],
            on_arrival: "w ← max(0, w − lambda·alpha·w·K−), K− the target's trace (1 per spike, decaying with \
                         tau_minus) of its spikes stamped before the arrival; then K+ ← K+ + 1",
            on_post: "w ← w + lambda·w^mu·K+, K+ the synapse's trace of its arrivals (1 per arrival, decaying with tau_plus)",
            periodic: None,
        }
    }

    pub fn new(v: &[f64], dt_ms: f64) -> StdpPlHom {
        StdpPlHom {
            pre: Decay::exponential(TraceKind::Add, v[0], dt_ms),
            post: Decay::exponential(TraceKind::Add, v[1], dt_ms),
            lambda: v[2],
            alpha: v[3],
            mu: v[4],
        }
    }

    #[inline]
    pub fn facilitate(&self, w: f64, k_plus: f64) -> f64 {
        w + self.lambda * power(w, self.mu) * k_plus
    }

    #[inline]
    pub fn depress(&self, w: f64, k_minus: f64) -> f64 {
        (w - self.lambda * self.alpha * w * k_minus).max(0.0)
    }
}

/// Izhikevich (2006), `poly_spnet.cpp`: a spike sets its neuron's traces (LTP to
/// a_plus, LTD to a_minus), which decay by `decay` per ms. A postsynaptic spike raises
/// each incoming synapse's derivative sd by the presynaptic trace at the synapse; an
/// arrival lowers it by the target's trace. Every period, each synapse's weight moves,
/// in the C++ code's order (MATLAB's `spnet.m` moves w before decaying sd):
/// sd ← sd_decay·sd, then w ← clip(w + w_increment + sd, 0, w_max).
#[derive(Clone, Debug, PartialEq)]
pub struct Izhikevich2006 {
    pub w_max: f64,
    pub w_increment: f64,
    pub sd_decay: f64,
    pub period_steps: u64,
    pub pre: Decay,
    pub post: Decay,
}

impl Izhikevich2006 {
    pub fn declaration() -> RuleDeclaration {
        RuleDeclaration {
            rule: "izhikevich2006",
            origin: "Izhikevich (2006), Polychronization: computation with spikes; the rule of poly_spnet.cpp",
            parameters: vec![
                RuleParameter { name: "a_plus", unit: "", default: 0.1, bound: Some((0.0, false, "a trace amplitude")) },
                RuleParameter { name: "a_minus", unit: "", default: 0.12, bound: Some((0.0, false, "a trace amplitude")) },
                RuleParameter { name: "decay", unit: "", default: 0.95, bound: Some((0.0, true, "a factor per ms")) },
                RuleParameter { name: "w_max", unit: "", default: 10.0, bound: Some((0.0, true, "a weight bound")) },
                RuleParameter { name: "w_increment", unit: "", default: 0.01, bound: None },
                RuleParameter { name: "sd_decay", unit: "", default: 0.9, bound: Some((0.0, false, "a factor")) },
                RuleParameter { name: "period", unit: "ms", default: 1000.0, bound: TIME },
            ],
            synapse_state: &["weight", "sd"],
            on_arrival: "sd ← sd − LTD, LTD the target's trace (set to a_minus at its spike, × decay per ms), its \
                         spike stamped at the arrival included",
            on_post: "sd ← sd + LTP, LTP the synapse's trace of its arrivals (set to a_plus, × decay per ms) at the step \
                      the threshold was crossed in, that step's arrivals included",
            periodic: Some("every period, in poly_spnet.cpp's order: sd ← sd_decay·sd; then w ← min(w_max, max(0, w + w_increment + sd))"),
        }
    }

    pub fn new(v: &[f64], dt_ms: f64) -> Izhikevich2006 {
        // A factor per ms, per step where dt is not 1 ms.
        let per_step = v[2].powf(dt_ms);
        Izhikevich2006 {
            pre: Decay::iterated(TraceKind::Set(v[0]), per_step),
            post: Decay::iterated(TraceKind::Set(v[1]), per_step),
            w_max: v[3],
            w_increment: v[4],
            sd_decay: v[5],
            period_steps: (v[6] / dt_ms).round().max(1.0) as u64,
        }
    }

    #[inline]
    pub fn periodic(&self, w: &mut f32, sd: &mut f32) {
        let decayed = self.sd_decay * *sd as f64;
        *sd = decayed as f32;
        *w = (*w as f64 + self.w_increment + decayed).clamp(0.0, self.w_max) as f32;
    }
}

/// NEST's rules: traces read at the postsynaptic spike's stamp, the arrival's depression
/// strictly before it, the weight moved at each event.
macro_rules! nest_kernel {
    ($rule:ty) => {
        impl Kernel for $rule {
            const SIMULTANEOUS: bool = false;
            const EXTRA: bool = false;
            #[inline(always)]
            fn pre_decay(&self) -> &Decay {
                &self.pre
            }
            #[inline(always)]
            fn post_decay(&self) -> &Decay {
                &self.post
            }
            #[inline(always)]
            fn pre_read_step(&self, step: u64) -> u64 {
                step + 1
            }
            #[inline(always)]
            fn arrival(&self, w: &mut f32, _: &mut f32, post: f64) {
                *w = self.depress(*w as f64, post) as f32;
            }
            #[inline(always)]
            fn post(&self, w: &mut f32, _: &mut f32, pre: f64) {
                *w = self.facilitate(*w as f64, pre) as f32;
            }
        }
    };
}

nest_kernel!(Stdp);
nest_kernel!(StdpPlHom);

impl Kernel for Izhikevich2006 {
    /// `poly_spnet.cpp` sets LTD before it delivers the step's arrivals.
    const SIMULTANEOUS: bool = true;
    const EXTRA: bool = true;
    #[inline(always)]
    fn pre_decay(&self) -> &Decay {
        &self.pre
    }
    #[inline(always)]
    fn post_decay(&self) -> &Decay {
        &self.post
    }
    /// At the step the threshold was crossed in (`LTP[pre][t+D-D_pre-1]` at the step
    /// the C++ code sees the spike).
    #[inline(always)]
    fn pre_read_step(&self, step: u64) -> u64 {
        step
    }
    #[inline(always)]
    fn arrival(&self, _: &mut f32, sd: &mut f32, post: f64) {
        *sd = (*sd as f64 - post) as f32;
    }
    #[inline(always)]
    fn post(&self, _: &mut f32, sd: &mut f32, pre: f64) {
        *sd = (*sd as f64 + pre) as f32;
    }
}
