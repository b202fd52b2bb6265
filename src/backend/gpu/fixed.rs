//! Fixed-point synaptic input for the GPU backend.
//!
//! WGSL has atomics only on 32-bit integers, and floating-point sums depend on the order
//! of the additions, which atomics leave to the scheduler (GeNN and NEST GPU add floats
//! atomically, so their results change from run to run). volley's GPU rings hold integer
//! sums instead: each weight is rounded once, at build, to a multiple of 2^−e, and the
//! sums of integers are exact whatever their order — the same bits on every run and for
//! every number of ranks.
//!
//! The exponent e is one per synaptic kind, from the model alone (every rank must use
//! the same): the largest for which no target's input in one step can leave i32. A
//! synapse adds into one arrival step at most once, so a target's sum is bounded by the
//! sum of |w| over its synapses: the in-degree (exact for all-to-all and fixed in-degree,
//! the mean plus ten standard deviations for the random ones) times the largest |w| the
//! weight can take. Stored rows are checked against the range at build, so that an
//! in-degree beyond the bound is reported, never wrapped silently.

use crate::connectivity::generate::weight_bounds;
use crate::network::{ConnectionRule, Description, Projection};

/// The fixed-point format of one synaptic kind: a weight w is held as round(w · 2^e).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedScale {
    pub exponent: i32,
}

/// The largest exponent used: 2^−30 is far below any weight's f32 resolution.
const MAX_EXPONENT: i32 = 30;

impl FixedScale {
    /// The exponent for inputs of at most `bound` in absolute value.
    pub fn for_bound(bound: f64) -> FixedScale {
        if bound.is_nan() || bound <= 0.0 || !bound.is_finite() {
            return FixedScale { exponent: MAX_EXPONENT };
        }
        let exponent = ((i32::MAX as f64) / bound).log2().floor() as i32;
        FixedScale { exponent: exponent.min(MAX_EXPONENT) }
    }

    pub fn scale(&self) -> f64 {
        (2f64).powi(self.exponent)
    }

    /// The f32 that turns a fixed-point sum back into input (exact: a power of two).
    pub fn inverse(&self) -> f32 {
        (2f64).powi(-self.exponent) as f32
    }

    /// A weight in fixed point; None where it does not fit i32 (a weight larger than the
    /// bound it was chosen for cannot happen: `bound` covers every weight).
    pub fn to_fixed(&self, w: f32) -> Option<i32> {
        let x = (w as f64 * self.scale()).round();
        (x.abs() <= i32::MAX as f64).then_some(x as i32)
    }

    /// The weight a fixed-point value stands for.
    pub fn to_weight(&self, x: i64) -> f64 {
        x as f64 / self.scale()
    }
}

/// A bound on the number of synapses of `p` onto one target.
pub fn in_degree_bound(desc: &Description, p: &Projection) -> f64 {
    let sources = desc.populations[p.source].size as f64;
    let targets = desc.populations[p.target].size.max(1) as f64;
    // A binomial count: its mean plus ten standard deviations (exceeded with probability
    // below 10^-23 per target), never more than `most`.
    let binomial = |trials: f64, q: f64, most: f64| {
        let mean = trials * q;
        (mean + 10.0 * (mean * (1.0 - q)).max(0.0).sqrt() + 10.0).ceil().min(most)
    };
    match p.rule {
        ConnectionRule::AllToAll { .. } => sources,
        ConnectionRule::FixedIndegree { k, .. } => k as f64,
        ConnectionRule::OneToOne => 1.0,
        ConnectionRule::FixedProbability { p, .. } => binomial(sources, p.clamp(0.0, 1.0), sources),
        ConnectionRule::FixedOutdegree { k, multapses, .. } => {
            if multapses {
                binomial(sources * k as f64, 1.0 / targets, sources * k as f64)
            } else {
                binomial(sources, (k as f64 / targets).min(1.0), sources)
            }
        }
        // A multinomial share of n: each target's count is Binomial(n, 1/targets).
        ConnectionRule::FixedTotalNumber { n, .. } => binomial(n as f64, 1.0 / targets, n as f64),
        // Learnt where the rows of all its targets were read (a run on one process reads
        // them all; ranks together share their most); else the count bounds it.
        ConnectionRule::Explicit { edges, count } => desc.edges[edges as usize].max_indegree().unwrap_or(count) as f64,
    }
}

/// The largest |w| projection `p` can produce.
pub fn largest_weight(p: &Projection) -> f64 {
    let (lo, hi) = weight_bounds(&p.weight);
    lo.abs().max(hi.abs())
}

/// One scale per synaptic kind (`Description::synapse_kinds` order): from the projections of that
/// kind onto each population, the population whose neurons can receive the most.
pub fn scales(desc: &Description) -> Vec<FixedScale> {
    let kinds = desc.synapse_kinds();
    kinds
        .iter()
        .map(|kind| {
            let onto = |population: usize| -> f64 {
                let feeding = desc.projections.iter().filter(|p| p.synapse == *kind && p.target == population);
                feeding.map(|p| in_degree_bound(desc, p) * largest_weight(p)).sum()
            };
            let bound = (0..desc.populations.len()).map(onto).fold(0.0, f64::max);
            FixedScale::for_bound(bound)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Overrides};

    #[test]
    fn the_2003_network_gets_2_to_the_21() {
        let desc =
            config::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/izhikevich2003.toml"), &Overrides::default())
                .unwrap();
        // 800 excitatory sources of at most 0.5 and 200 inhibitory of at most 1: |sum| ≤ 600.
        let s = scales(&desc);
        assert_eq!(s, vec![FixedScale { exponent: 21 }]);
        assert!(600.0 * s[0].scale() < i32::MAX as f64 && 600.0 * s[0].scale() * 2.0 > i32::MAX as f64);
        assert_eq!(s[0].to_fixed(0.5), Some(1 << 20));
        assert_eq!(s[0].to_weight(-(1 << 21)), -1.0);
        assert_eq!(s[0].inverse(), 1.0 / (1 << 21) as f32);
    }

    #[test]
    fn bounds_cover_the_in_degrees_drawn() {
        for (rule, most) in [("{ rule = \"fixed_probability\", p = 0.1 }", 300.0), ("{ rule = \"fixed_outdegree\", k = 20 }", 300.0)] {
            let text = format!(
                "[simulation]\ndt = 1\nduration = 10\n[[population]]\nname = \"a\"\nsize = 300\nmodel = \"izhikevich\"\n[population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
                 [[projection]]\nsource = \"a\"\ntarget = \"a\"\nconnection = {rule}\nweight = \"u\"\n"
            );
            let desc = config::parse(&text, "test.toml", &Overrides::default()).unwrap();
            let bound = in_degree_bound(&desc, &desc.projections[0]);
            // Mean 30 or 20: ten standard deviations above it, below the 300 sources.
            assert!(bound > 60.0 && bound < most, "{rule}: {bound}");
        }
    }
}
