//! Procedural rows on the GPU (GeNN's PROCEDURAL): a projection's synapses are never
//! stored; each received spike's row is drawn again by `shaders/deliver_procedural.wgsl`
//! from the same counter-based generator as the CPU (`rng::row_key`, `rng::below`), so
//! the GPU's procedural rows are the synapses the CPU stores or draws for the same seed —
//! the same targets and delays, and weights within f32 rounding (the shader evaluates the
//! weight in f32, the CPU in f64). Memory: a few words per projection, whatever the
//! number of synapses.

use super::fixed::FixedScale;
use crate::network::{ConnectionRule, Description, Projection, WeightSpec};
use std::ops::Range;

/// Words of a procedural block's parameters (see the shader's header).
pub const BLOCK_WORDS: usize = 16;

/// Why the GPU cannot draw `p`'s rows, if it cannot.
pub fn unsupported(p: &Projection) -> Option<String> {
    if matches!(p.weight, WeightSpec::Normal { redraw: true, .. }) || p.delay.normal.is_some() || p.delay.spread {
        return Some(format!(
            "projection {}: procedural rows with redrawn normal weights, normal or spread delays are drawn on the CPU only (storage = \"compact\" runs on the GPU)",
            p.id
        ));
    }
    match p.rule {
        ConnectionRule::FixedOutdegree { multapses: true, .. } => None,
        ConnectionRule::FixedOutdegree { multapses: false, .. } => Some(format!(
            "projection {}: procedural rows without multapses redraw repeats one after another, which the GPU does not do \
             (multapses = true, or storage = \"compact\", runs on the GPU)",
            p.id
        )),
        _ => Some(format!("projection {}: procedural rows are drawn per source (fixed_outdegree)", p.id)),
    }
}

/// The WGSL of a projection's weight: `const WEIGHT_UNIFORMS` and `fn weight(u, u2, u3)`.
pub fn weight_source(weight: &WeightSpec) -> String {
    let (uniforms, body) = match weight {
        WeightSpec::Expr { expr, uniforms } => (*uniforms, expr.to_wgsl(&["u", "u2", "u3"])),
        // The CPU's normal (generate.rs: gaussian::gaussian of the block's first word):
        // u holds the word's top 24 bits exactly; the sign is its top bit, the tail
        // probability t its next 23 bits and the midpoint of the bit below (which u
        // lacks), Φ⁻¹ by Acklam in f32 (connectivity.wgsl's probit). The same normal to
        // ~3·10⁻⁷ where |z| < 2, to ~0.1 at the 5-SD ends of the CPU's table.
        WeightSpec::Normal { mean, std, min, max, .. } => {
            (1, format!("clamp(f32({mean:?}) + f32({std:?}) * word_normal(u), f32({min:?}), f32({max:?}))"))
        }
        // The configuration stores data projections' rows (`exact`), never draws them.
        WeightSpec::Data { .. } => unreachable!("weights given as data are stored, not drawn"),
    };
    format!(
        "const WEIGHT_UNIFORMS: u32 = {uniforms}u;\n\
         fn word_normal(u: f32) -> f32 {{\n    let bits = u32(u * 16777216.0);\n    \
         let t = f32(((bits & 0x7FFFFFu) << 1u) | 1u) * (1.0 / 33554432.0);\n    \
         let q = -probit(t);\n    return select(q, -q, (bits & 0x800000u) != 0u);\n}}\n\
         fn weight(u: f32, u2: f32, u3: f32) -> f32 {{\n    return {body};\n}}\n"
    )
}

/// The parameter words of `p`'s block on the rank holding neurons `rank` (global ids),
/// whose delay rings have `slots` slots.
pub fn block_words(desc: &Description, p: &Projection, rank: &Range<u64>, slots: u32, kind: usize, scale: FixedScale) -> Vec<u32> {
    let ConnectionRule::FixedOutdegree { k, autapses, .. } = p.rule else { unreachable!("checked by `unsupported`") };
    let sources = desc.populations[p.source].gids();
    let candidates = desc.populations[p.target].gids();
    let left_out = !autapses && p.source == p.target;
    let n_rank = (rank.end - rank.start) as u32;
    let key = crate::rng::projection_key(desc.seed, p.id);
    let words = [
        sources.start as u32,
        (sources.end - sources.start) as u32,
        p.delay.min_steps,
        p.delay.count(),
        n_rank,
        slots,
        kind as u32 * slots * n_rank,
        k as u32,
        candidates.start as u32,
        (candidates.end - candidates.start) as u32 - left_out as u32,
        left_out as u32,
        rank.start as u32,
        rank.end as u32,
        key[0],
        key[1],
        (scale.scale() as f32).to_bits(),
    ];
    debug_assert_eq!(words.len(), BLOCK_WORDS);
    words.to_vec()
}
