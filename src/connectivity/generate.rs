//! Drawing a projection's synapses from keyed counters: per target for all_to_all,
//! fixed_probability and fixed_indegree (the owner of a target draws its inputs alone),
//! per source for fixed_outdegree (so that a row can be drawn again at delivery, on the
//! CPU or on the GPU).
//!
//! A row is keyed by (seed, projection, neuron) (`rng::row_key`); its j-th synapse takes
//! its other end from block (j, OTHER), its weight's uniforms from blocks (j, WEIGHT + m)
//! (a normal weight: one table-inverted normal from block (j, WEIGHT), `gaussian`) and its
//! delay from block (j, DELAY) (`rng::lane`). Other ends are uniform integers
//! (`rng::below`, integer arithmetic only) over the candidates, the neuron itself left out
//! of them where autapses are off — no rejection, so that synapse j of a fixed-degree row
//! with multapses is one independent draw, which the GPU's twin
//! (`shaders/connectivity.wgsl`) draws bit for bit. Without multapses a repeat is drawn
//! again (the next attempt's block); fixed_probability skips geometric gaps, the i-th gap
//! from block (i, OTHER) — both sequential, drawn on the CPU only.

use crate::gaussian;
use crate::network::{ConnectionRule, DelaySpec, Description, EdgeSource, Projection, TargetRows, WeightSpec};
use crate::rng::{self, lane};
use std::ops::Range;
use std::sync::Arc;

/// Blocks drawn at a time where the number needed is not known in advance.
const CHUNK: usize = 64;

/// The synapses of one neuron, in generation order: `other` is the source (per-target
/// rules) or the target (per-source rules), as a global id.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub other: Vec<u64>,
    pub weight: Vec<f32>,
    pub delay: Vec<u32>,
}

impl Row {
    pub fn len(&self) -> usize {
        self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.other.is_empty()
    }
}

/// A synaptic weight that is NaN, infinite or beyond f32, as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct InvalidWeight {
    pub projection: u32,
    pub source: u64,
    pub target: u64,
    /// The synapse's uniforms (u, u2, ...; for a normal weight the two it draws from).
    pub uniforms: Vec<f64>,
    pub value: f64,
}

/// Draws rows of one projection; holds scratch space so that drawing allocates once.
#[derive(Clone, Debug)]
pub struct RowDrawer {
    /// `rng::projection_key` of the run's seed and the projection.
    key: [u32; 2],
    projection: Projection,
    /// Where the other ends are drawn from.
    others: Range<u64>,
    uniforms: [Vec<f64>; 3],
    values: Vec<f64>,
    /// Scratch: the words of a run of blocks, and the sorted other ends of a row drawn
    /// without multapses.
    words: [Vec<u32>; 2],
    chosen: Vec<u64>,
    /// fixed_total_number: the targets and the in-degrees of one block of them.
    targets: Range<u64>,
    indegrees: Option<(u64, Vec<u32>)>,
    /// The first weight drawn that is not a finite f32, until taken.
    pub invalid: Option<InvalidWeight>,
    /// For synapses given as data: where they are, and the rows read last.
    data: Option<(Arc<EdgeSource>, Option<Arc<TargetRows>>)>,
}

/// Targets whose fixed_total_number in-degrees are drawn together.
const INDEGREE_BLOCK: u64 = 4096;

/// The in-degrees of targets `want` (indices among `targets` of them) under a total of
/// `n` synapses: each node [lo, hi) of a binary tree over the targets splits its count
/// between its halves by a binomial draw keyed by (lo, hi), so every part of the network
/// descends to its own targets alone and gets the counts every other part would.
pub fn total_number_indegrees(key: [u32; 2], n: u64, targets: u64, want: Range<u64>) -> Vec<u32> {
    let tree_key = rng::threefry2x32([u32::MAX, u32::MAX], key);
    let mut out = vec![0u32; (want.end - want.start) as usize];
    fn descend(key: [u32; 2], lo: u64, hi: u64, count: u64, want: &Range<u64>, out: &mut [u32]) {
        if count == 0 || hi <= want.start || lo >= want.end {
            return;
        }
        if hi - lo == 1 {
            out[(lo - want.start) as usize] = count as u32;
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let [a, b] = rng::threefry2x32([lo as u32, hi as u32], key);
        let left = rng::binomial(count, (mid - lo) as f64 / (hi - lo) as f64, rng::unit_f64(a, b));
        descend(key, lo, mid, left, want, out);
        descend(key, mid, hi, count - left, want, out);
    }
    descend(tree_key, 0, targets, n, &want, &mut out);
    out
}

impl RowDrawer {
    pub fn new(desc: &Description, p: &Projection) -> RowDrawer {
        let others = if p.rule.per_source() { desc.populations[p.target].gids() } else { desc.populations[p.source].gids() };
        RowDrawer {
            key: rng::projection_key(desc.seed, p.id),
            projection: p.clone(),
            others,
            uniforms: Default::default(),
            values: Vec::new(),
            words: Default::default(),
            chosen: Vec::new(),
            targets: desc.populations[p.target].gids(),
            indegrees: None,
            invalid: None,
            data: match p.rule {
                ConnectionRule::Explicit { edges, .. } => Some((Arc::clone(&desc.edges[edges as usize]), None)),
                _ => None,
            },
        }
    }

    /// The rule by which `gid`'s row is drawn: fixed_total_number as fixed_indegree with
    /// the target's share of the total.
    fn row_rule(&mut self, gid: u64) -> ConnectionRule {
        let ConnectionRule::FixedTotalNumber { n, autapses } = self.projection.rule else { return self.projection.rule };
        let at = gid - self.targets.start;
        let block = at / INDEGREE_BLOCK * INDEGREE_BLOCK;
        if self.indegrees.as_ref().is_none_or(|(first, _)| *first != block) {
            let size = self.targets.end - self.targets.start;
            let counts = total_number_indegrees(self.key, n, size, block..(block + INDEGREE_BLOCK).min(size));
            self.indegrees = Some((block, counts));
        }
        let k = self.indegrees.as_ref().expect("just drawn").1[(at - block) as usize] as u64;
        ConnectionRule::FixedIndegree { k, autapses, multapses: true }
    }

    /// Draws the row of `gid`: its inputs for per-target rules, its outputs for
    /// per-source rules.
    pub fn draw(&mut self, gid: u64, row: &mut Row) {
        self.draw_parts(gid, row, true);
    }

    /// Draws the row's other ends and delays only (its weights left empty): what a
    /// counting pass needs, at half the cost where weights are normal.
    pub fn draw_without_weights(&mut self, gid: u64, row: &mut Row) {
        self.draw_parts(gid, row, false);
    }

    fn draw_parts(&mut self, gid: u64, row: &mut Row, weights: bool) {
        if self.data.is_some() {
            return self.read_row(gid, row, weights);
        }
        let rule = self.row_rule(gid);
        let p = &self.projection;
        let key = rng::row_key(self.key, gid);
        row.other.clear();
        if rule == ConnectionRule::OneToOne {
            let source = self.others.start + (gid - self.targets.start);
            row.other.extend((source < self.others.end).then_some(source));
        } else {
            draw_others(key, rule, self.others.clone(), gid, &mut row.other, &mut self.words, &mut self.chosen);
        }
        let n = row.other.len();
        let per_weight = match &p.weight {
            WeightSpec::Expr { uniforms, .. } if weights => *uniforms,
            _ => 0,
        };
        let [a, b] = &mut self.words;
        a.resize(n, 0);
        b.resize(n, 0);
        for (m, u) in self.uniforms[..per_weight].iter_mut().enumerate() {
            rng::fill_blocks(key, lane::WEIGHT + m as u32, 0, a, b);
            u.clear();
            u.extend(a.iter().zip(b.iter()).map(|(&x, &y)| rng::unit_f64(x, y)));
        }
        row.delay.clear();
        let count = p.delay.count();
        if let Some(d) = p.delay.normal {
            // One normal per synapse from the first word of block (j, DELAY); the rare draw
            // outside the range is redrawn from blocks of its own.
            rng::fill_blocks(key, lane::DELAY, 0, a, b);
            row.delay.resize(n, 0);
            let steps = [p.delay.min_steps, p.delay.max_steps];
            let outside = normal_delays(a, [d.mean, d.std, d.lo, d.hi], steps, gaussian::table(), &mut row.delay);
            for (j, delay) in row.delay.iter_mut().enumerate().filter(|(_, d)| **d == u32::MAX).take(outside) {
                let mut attempt = 0u32;
                *delay = loop {
                    let steps = d.mean + d.std * redraw_normal(key, j as u32, lane::REDRAW + 2 + 4 * attempt);
                    if steps >= d.lo && steps <= d.hi {
                        break (steps + 0.5) as u32;
                    }
                    attempt += 1;
                }
                .clamp(steps[0], steps[1]);
            }
        } else if p.delay.spread {
            // Synapse j of the row's n takes the j·count/n-th delay: equal shares in
            // drawing order, nothing drawn.
            row.delay.extend((0..n as u64).map(|j| p.delay.min_steps + (j * count as u64 / n as u64) as u32));
        } else if count > 1 {
            rng::fill_blocks(key, lane::DELAY, 0, a, b);
            row.delay.extend(a.iter().zip(b.iter()).map(|(&x, &y)| p.delay.min_steps + rng::below([x, y], count)));
        } else {
            row.delay.resize(n, p.delay.min_steps);
        }
        row.weight.clear();
        if !weights {
            return;
        }
        match &p.weight {
            WeightSpec::Expr { expr, uniforms } => {
                expr.eval_batch(n, &self.uniforms[..*uniforms], &mut self.values);
                row.weight.extend(self.values.iter().map(|&w| w as f32));
            }
            WeightSpec::Data { .. } => unreachable!("read, not drawn (`RowDrawer::read_row`)"),
            WeightSpec::Normal { mean, std, min, max, redraw } => {
                // One normal per synapse from the first word of block (j, WEIGHT), by table
                // inversion (`gaussian`: no logarithm or cosine, so the loop vectorises).
                rng::fill_blocks(key, lane::WEIGHT, 0, a, b);
                row.weight.resize(n, 0.0);
                let (lo, hi) = (*min as f32, *max as f32);
                let outside = normal_weights(a, *mean, *std, [lo, hi], gaussian::table(), &mut row.weight);
                let redrawn = if outside > 0 { &mut row.weight[..] } else { &mut [] };
                for (i, w) in redrawn.iter_mut().enumerate() {
                    if *w >= lo && *w <= hi {
                        continue;
                    }
                    if !redraw {
                        *w = w.clamp(lo, hi);
                        continue;
                    }
                    // The configuration keeps the range's probability ≥ 10⁻³ (`normal_mass`).
                    let mut attempt = 0u32;
                    *w = loop {
                        let v = (mean + std * redraw_normal(key, i as u32, lane::REDRAW + 4 * attempt)) as f32;
                        if v >= lo && v <= hi {
                            break v;
                        }
                        attempt += 1;
                    };
                }
            }
        }
        // One compare per synapse: a non-finite weight is caught where it is drawn.
        if self.invalid.is_none() {
            if let Some(i) = row.weight.iter().position(|w| !w.is_finite()) {
                let value = if matches!(p.weight, WeightSpec::Expr { .. }) { self.values[i] } else { row.weight[i] as f64 };
                let (source, target) = if p.rule.per_source() { (gid, row.other[i]) } else { (row.other[i], gid) };
                let uniforms = self.uniforms[..per_weight].iter().map(|u| u[i]).collect();
                self.invalid = Some(InvalidWeight { projection: p.id, source, target, uniforms, value });
            }
        }
    }
}

impl RowDrawer {
    /// The row of `gid` given as data: from the rows read for its store's targets
    /// (`LocalSynapses::build` reads them first), or else read for `gid` alone.
    fn read_row(&mut self, gid: u64, row: &mut Row, weights: bool) {
        let (source, rows) = self.data.as_mut().expect("a projection of data");
        if !rows.as_ref().is_some_and(|r| r.targets.contains(&gid)) {
            *rows = Some(match source.rows_covering(&(gid..gid + 1)) {
                Some(r) => r,
                None => Arc::new(crate::sonata::edges::load_rows(source, gid..gid + 1).unwrap_or_else(|e| panic!("{e}"))),
            });
        }
        let (sources, w, delays) = rows.as_ref().expect("just read").row(gid);
        row.other.clear();
        row.other.extend(sources.iter().map(|&s| s as u64));
        row.delay.clear();
        row.delay.extend_from_slice(delays);
        row.weight.clear();
        if weights {
            row.weight.extend_from_slice(w);
        }
    }
}

crate::simd::dispatch!(
/// The delay in steps of each word's normal (`mean + std·z`, rounded, then clamped into
/// `steps`), or `u32::MAX` outside `[lo, hi]` (to be drawn again); `normal` is
/// `[mean, std, lo, hi]` in steps. Returns how many are to be drawn again. Compiled for
/// the widest instruction set, whose gathers read the normal's table for many words at
/// once (the build's loops over a row's delays were a third of its drawing): the same
/// bits as one word at a time.
fn normal_delays(words: &[u32], normal: [f64; 4], steps: [u32; 2], table: &gaussian::Table, out: &mut [u32]) -> usize => normal_delays_kernel);

#[inline(always)]
fn normal_delays_kernel(
    words: &[u32],
    [mean, std, lo, hi]: [f64; 4],
    [first, last]: [u32; 2],
    table: &gaussian::Table,
    out: &mut [u32],
) -> usize {
    let mut outside = 0;
    for (o, &x) in out.iter_mut().zip(words) {
        let steps = mean + std * gaussian::gaussian(x, table) as f64;
        // Positive where in range (lo ≥ 1 step): adding ½ and truncating rounds. The
        // conversion without `as`'s clamping runs across lanes.
        *o = if steps >= lo && steps <= hi {
            // SAFETY: in range, steps + ½ lies in [1.5, 65536] (the configuration keeps
            // lo ≥ 1 step and hi ≤ 65535.5), well inside i32.
            unsafe { (steps + 0.5).to_int_unchecked::<i32>() as u32 }.clamp(first, last)
        } else {
            outside += 1;
            u32::MAX
        };
    }
    outside
}

crate::simd::dispatch!(
/// `mean + std·z` as f32 for the standard normal z of each word (`normal_delays`' way);
/// returns how many fall outside `[lo, hi]`.
fn normal_weights(words: &[u32], mean: f64, std: f64, range: [f32; 2], table: &gaussian::Table, out: &mut [f32]) -> usize => normal_weights_kernel);

#[inline(always)]
fn normal_weights_kernel(words: &[u32], mean: f64, std: f64, [lo, hi]: [f32; 2], table: &gaussian::Table, out: &mut [f32]) -> usize {
    let mut outside = 0;
    for (o, &x) in out.iter_mut().zip(words) {
        let w = (mean + std * gaussian::gaussian(x, table) as f64) as f32;
        outside += !(w >= lo && w <= hi) as usize;
        *o = w;
    }
    outside
}

/// The standard normal of a redraw: the first word of block (j, lane) under the row's key.
fn redraw_normal(key: [u32; 2], j: u32, lane: u32) -> f64 {
    gaussian::gaussian(rng::threefry2x32([j, lane], key)[0], gaussian::table()) as f64
}

/// The probability that a normal of `mean` and `std` falls in [lo, hi].
pub fn normal_mass(mean: f64, std: f64, lo: f64, hi: f64) -> f64 {
    if std == 0.0 {
        return if mean >= lo && mean <= hi { 1.0 } else { 0.0 };
    }
    let cdf = |x: f64| 0.5 * erfc(-(x - mean) / (std * std::f64::consts::SQRT_2));
    cdf(hi) - cdf(lo)
}

/// The complementary error function to 1.2·10⁻⁷ (Numerical Recipes' erfcc, a Chebyshev
/// fit): enough to tell a range of probability 10⁻³ from one of 10⁻⁴.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// The candidates of a row: `others` without `me` where autapses are off and `me` is one
/// of them. Index x < `pool` is the candidate `others.start + x`, or the one after it from
/// `me` on.
#[derive(Clone, Copy)]
struct Candidates {
    start: u64,
    pool: u32,
    /// The index of `me` among `others` when it is left out; u32::MAX otherwise.
    skip: u32,
}

impl Candidates {
    fn new(others: &Range<u64>, me: u64, autapses: bool) -> Candidates {
        let n = (others.end - others.start) as u32;
        if !autapses && others.contains(&me) {
            Candidates { start: others.start, pool: n - 1, skip: (me - others.start) as u32 }
        } else {
            Candidates { start: others.start, pool: n, skip: u32::MAX }
        }
    }

    #[inline(always)]
    fn pick(&self, words: [u32; 2]) -> u64 {
        let x = rng::below(words, self.pool);
        self.start + x as u64 + (x >= self.skip) as u64
    }
}

/// The other ends of one neuron's synapses, drawn from blocks (j, OTHER) under `key`.
fn draw_others(
    key: [u32; 2],
    rule: ConnectionRule,
    others: Range<u64>,
    me: u64,
    out: &mut Vec<u64>,
    words: &mut [Vec<u32>; 2],
    chosen: &mut Vec<u64>,
) {
    let n = others.end - others.start;
    let allowed = |o: u64, autapses: bool| autapses || o != me;
    let [a, b] = words;
    match rule {
        ConnectionRule::AllToAll { autapses } => out.extend(others.filter(|&o| allowed(o, autapses))),
        ConnectionRule::FixedProbability { p, autapses } => {
            if p >= 1.0 {
                out.extend(others.filter(|&o| allowed(o, autapses)));
                return;
            }
            // Geometric skips: the gap to the next chosen pair, one draw per synapse.
            let Some(log_q) = rng::geometric_log_q(p) else { return };
            let mut i = 0u64;
            let mut draw = 0u32;
            a.resize(CHUNK, 0);
            b.resize(CHUNK, 0);
            loop {
                let k = draw as usize % CHUNK;
                if k == 0 {
                    rng::fill_blocks(key, lane::OTHER, draw, a, b);
                }
                draw += 1;
                let u = rng::unit_f64(a[k], b[k]);
                let gap = ((1.0 - u).ln() / log_q).floor();
                if gap >= (n - i) as f64 {
                    break;
                }
                i += gap as u64;
                let o = others.start + i;
                if allowed(o, autapses) {
                    out.push(o);
                }
                i += 1;
                if i >= n {
                    break;
                }
            }
        }
        ConnectionRule::FixedTotalNumber { .. } => unreachable!("drawn as fixed_indegree (`RowDrawer::row_rule`)"),
        ConnectionRule::Explicit { .. } => unreachable!("read, not drawn (`RowDrawer::read_row`)"),
        ConnectionRule::OneToOne => unreachable!("no draw: the same index (`RowDrawer::draw_parts`)"),
        ConnectionRule::FixedIndegree { k, autapses, multapses } | ConnectionRule::FixedOutdegree { k, autapses, multapses } => {
            let candidates = Candidates::new(&others, me, autapses);
            let k = k as usize;
            out.reserve(k);
            if multapses {
                a.resize(k, 0);
                b.resize(k, 0);
                rng::fill_blocks(key, lane::OTHER, 0, a, b);
                out.extend(a.iter().zip(b.iter()).map(|(&x, &y)| candidates.pick([x, y])));
                return;
            }
            // Without multapses: a repeat is drawn again from the next attempt's block;
            // a sorted copy answers "seen already?".
            chosen.clear();
            a.resize(CHUNK, 0);
            b.resize(CHUNK, 0);
            let mut attempt = 0u32;
            while out.len() < k {
                let j = attempt as usize % CHUNK;
                if j == 0 {
                    rng::fill_blocks(key, lane::OTHER, attempt, a, b);
                }
                attempt = attempt.wrapping_add(1);
                let o = candidates.pick([a[j], b[j]]);
                if let Err(at) = chosen.binary_search(&o) {
                    chosen.insert(at, o);
                    out.push(o);
                }
            }
        }
    }
}

/// The delays a projection can produce, for sizing buffers.
pub fn delay_range(d: &DelaySpec) -> Range<u32> {
    d.min_steps..d.max_steps + 1
}

/// A point of a weight expression's uniforms where it is not a finite f32, searched on
/// the grid of `weight_bounds` (the ends of [0, 1) included): catches constants such as
/// `1/0`, and ranges or ends of u where the expression fails, before any synapse is
/// drawn (procedural rows are drawn only during the run).
pub fn weight_failure(w: &WeightSpec) -> Option<([f64; 3], f64)> {
    let mut found = None;
    visit_weight_grid(w, &mut |vars, v| {
        if found.is_none() && !(v as f32).is_finite() {
            found = Some((vars, v));
        }
    });
    found
}

/// Calls `visit` with (uniforms, weight) on a grid over the expression's uniforms.
fn visit_weight_grid(w: &WeightSpec, visit: &mut dyn FnMut([f64; 3], f64)) {
    let WeightSpec::Expr { expr, uniforms } = w else { return };
    let steps = match uniforms {
        0 => 1,
        1 => 65_536,
        2 => 257,
        _ => 41,
    };
    let axis: Vec<f64> = (0..=steps).map(|i| (i as f64 / steps as f64).min(1.0 - f64::EPSILON)).collect();
    let mut at = |vars: [f64; 3]| visit(vars, expr.eval(&vars));
    match uniforms {
        0 => at([0.0; 3]),
        1 => axis.iter().for_each(|&a| at([a, 0.0, 0.0])),
        2 => axis.iter().for_each(|&a| axis.iter().for_each(|&b| at([a, b, 0.0]))),
        _ => axis.iter().for_each(|&a| axis.iter().for_each(|&b| axis.iter().for_each(|&c| at([a, b, c])))),
    }
}

/// The range of weights a projection can produce, for 16-bit codes: exact for clipped
/// normals and constants, sampled on a grid of its uniforms for expressions (the codes
/// are clamped to the range, so a non-monotonic expression loses at most its extremes
/// between grid points).
pub fn weight_bounds(w: &WeightSpec) -> (f64, f64) {
    match w {
        WeightSpec::Normal { min, max, .. } | WeightSpec::Data { min, max } => (*min, *max),
        WeightSpec::Expr { .. } => {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            visit_weight_grid(w, &mut |_, v| {
                lo = lo.min(v);
                hi = hi.max(v);
            });
            (lo, hi)
        }
    }
}

/// 16-bit weight codes spread evenly over [lo, hi]: the decoded weight is within
/// (hi − lo) / 131070 of the drawn one.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WeightCodec {
    pub lo: f32,
    pub step: f32,
}

impl WeightCodec {
    pub fn new((lo, hi): (f64, f64)) -> WeightCodec {
        let step = ((hi - lo) / 65_535.0) as f32;
        WeightCodec { lo: lo as f32, step }
    }

    #[inline]
    pub fn encode(&self, w: f32) -> u16 {
        if self.step == 0.0 {
            return 0;
        }
        // Adding ½ and truncating rounds the non-negative quotient (f32::round is a libm
        // call on x86-64 without SSE4.1: 4 % of a build).
        ((w - self.lo) / self.step + 0.5).clamp(0.0, 65_535.0) as u16
    }

    #[inline(always)]
    pub fn decode(&self, code: u16) -> f32 {
        self.lo + code as f32 * self.step
    }

    /// The largest difference between a weight in range and its decoded code.
    pub fn max_error(&self) -> f32 {
        self.step / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Overrides};

    /// The normals' kernels compiled for the widest instruction set (gathers) give the
    /// bits of the baseline's one word at a time: delays in and out of range, weights.
    #[test]
    fn normal_delays_and_weights_are_the_same_bits_on_every_instruction_set() {
        let mut words = vec![0u32; 4099];
        let mut other = words.clone();
        rng::fill_blocks([7, 11], 3, 0, &mut words, &mut other);
        words[..4].copy_from_slice(&[0, u32::MAX, 0x8000_0000, 0x7FFF_FFFF]);
        let table = gaussian::table();
        let normal = [15.0, 7.5, 1.0, 40.0];
        let (mut widest, mut baseline) = (vec![0u32; words.len()], vec![0u32; words.len()]);
        let outside = normal_delays(&words, normal, [3, 30], table, &mut widest);
        assert_eq!(outside, normal_delays_kernel(&words, normal, [3, 30], table, &mut baseline));
        assert_eq!(widest, baseline);
        assert_eq!(outside, widest.iter().filter(|&&d| d == u32::MAX).count());
        assert!(outside > 0 && widest.iter().all(|&d| d == u32::MAX || (3..=30).contains(&d)), "draws in range, clamped, and out");
        assert!(widest.contains(&3) && widest.contains(&30), "clamped at both ends");
        let (mut widest, mut baseline) = (vec![0f32; words.len()], vec![0f32; words.len()]);
        let outside = normal_weights(&words, 87.8, 8.78, [70.0, 110.0], table, &mut widest);
        assert_eq!(outside, normal_weights_kernel(&words, 87.8, 8.78, [70.0, 110.0], table, &mut baseline));
        assert!(widest.iter().zip(&baseline).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(outside, widest.iter().filter(|w| !(70.0..=110.0).contains(*w)).count());
        assert!(outside > 0);
    }

    /// Two populations and one projection with the given connection and weight.
    fn model(connection: &str, weight: &str, extra: &str) -> Description {
        let text = format!(
            "[simulation]\ndt = 1\nduration = 10\n[[population]]\nname = \"a\"\nsize = 300\nmodel = \"izhikevich\"\n[population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
             [[population]]\nname = \"b\"\nsize = 200\nmodel = \"izhikevich\"\n[population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
             [[projection]]\nsource = \"a\"\ntarget = \"{}\"\nconnection = {connection}\nweight = {weight}\n{extra}\n",
            if extra.contains("same") { "a" } else { "b" }
        );
        config::parse(&text.replace("# same", ""), "test.toml", &Overrides::default()).unwrap()
    }

    fn rows(desc: &Description, gids: Range<u64>) -> Vec<Row> {
        let mut drawer = RowDrawer::new(desc, &desc.projections[0]);
        gids.map(|g| {
            let mut row = Row::default();
            drawer.draw(g, &mut row);
            row
        })
        .collect()
    }

    #[test]
    fn fixed_indegree_draws_k_sources_per_target() {
        let desc = model("{ rule = \"fixed_indegree\", k = 50, multapses = false }", "1.0", "");
        for row in rows(&desc, 300..500) {
            assert_eq!(row.len(), 50);
            assert!(row.other.iter().all(|s| (0..300).contains(s)));
            let mut unique = row.other.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 50, "no multapses");
        }
    }

    /// one_to_one: target i from source i, while both have an i (b's 200 targets from
    /// a's first 200 sources; onto a itself, every neuron from itself).
    #[test]
    fn one_to_one_connects_the_same_index() {
        let desc = model("{ rule = \"one_to_one\" }", "\"2*u\"", "");
        assert_eq!(desc.synapse_count(), 200);
        for (i, row) in rows(&desc, 300..500).iter().enumerate() {
            assert_eq!(row.other, vec![i as u64]);
            assert!((0.0..2.0).contains(&row.weight[0]));
        }
        let onto_itself = model("{ rule = \"one_to_one\" }", "1.0", "# same");
        assert!(rows(&onto_itself, 0..300).iter().enumerate().all(|(i, r)| r.other == vec![i as u64]));
    }

    #[test]
    fn fixed_outdegree_without_autapses_never_targets_itself() {
        let desc = model("{ rule = \"fixed_outdegree\", k = 299, autapses = false, multapses = false }", "1.0", "# same");
        for (s, row) in (0..300).zip(rows(&desc, 0..300)) {
            assert_eq!(row.len(), 299);
            assert!(!row.other.contains(&s));
        }
    }

    /// fixed_total_number: exactly n synapses; any block of targets gets the counts the
    /// whole draw gives it (so ranks and threads agree); the in-degrees spread as a
    /// multinomial's (Binomial(n, 1/N) each: mean and variance within 4 standard errors);
    /// rows as fixed_indegree's, without autapses where they are off.
    #[test]
    fn fixed_total_number_draws_exactly_n_whatever_the_split() {
        let key = [12345, 678];
        let (n, targets) = (1_000_003u64, 10_007u64);
        let whole = total_number_indegrees(key, n, targets, 0..targets);
        assert_eq!(whole.iter().map(|&k| k as u64).sum::<u64>(), n);
        for cut in [0..1, 17..4113, 5000..10_007, 9999..10_007] {
            assert_eq!(
                total_number_indegrees(key, n, targets, cut.clone()),
                whole[cut.start as usize..cut.end as usize].to_vec(),
                "{cut:?}"
            );
        }
        let mean = n as f64 / targets as f64;
        let var = whole.iter().map(|&k| (k as f64 - mean).powi(2)).sum::<f64>() / targets as f64;
        let expected = mean * (1.0 - 1.0 / targets as f64);
        // The sample variance's standard error: about var·√(2/N).
        assert!((var - expected).abs() < 4.0 * expected * (2.0 / targets as f64).sqrt(), "variance {var}, expected {expected}");
        assert_ne!(total_number_indegrees([1, 2], n, targets, 0..targets), whole, "another key, other counts");

        let desc = model("{ rule = \"fixed_total_number\", n = 5000, autapses = false }", "1.0", "# same");
        let all = rows(&desc, 0..300);
        assert_eq!(all.iter().map(Row::len).sum::<usize>(), 5000);
        for (g, row) in (0..300u64).zip(&all) {
            assert!(!row.other.contains(&g) && row.other.iter().all(|o| (0..300).contains(o)));
        }
    }

    #[test]
    fn fixed_probability_has_the_expected_count() {
        let desc = model("{ rule = \"fixed_probability\", p = 0.1 }", "1.0", "");
        let total: usize = rows(&desc, 300..500).iter().map(Row::len).sum();
        // Binomial(300·200, 0.1): mean 6000, sd 73.
        assert!((total as f64 - 6000.0).abs() < 4.0 * 73.5, "{total}");
    }

    /// p = 0 makes no synapse (its geometric gaps are infinite, not −∞: every pair was
    /// chosen once), nor does a p so small that 1 − p rounds to 1.
    #[test]
    fn fixed_probability_0_and_tiny_make_no_synapse() {
        for p in ["0.0", "0", "1e-18"] {
            let desc = model(&format!("{{ rule = \"fixed_probability\", p = {p} }}"), "1.0", "");
            let total: usize = rows(&desc, 300..500).iter().map(Row::len).sum();
            assert_eq!(total, 0, "p = {p}");
        }
    }

    /// The microcircuit's excitatory delays: normal, mean 1.5 ms, std 0.75 ms, redrawn
    /// below dt = 0.1 ms, rounded to steps (NEST's). The share of 1-step delays is
    /// P(0.1 ≤ d < 0.15)/P(d ≥ 0.1) and the mean is that of the truncated normal on the
    /// grid, both computed here by quadrature; weights redrawn into [0, ∞) keep their sign
    /// with the truncated normal's mean (1 + φ(−1)/(1 − Φ(−1)) = 1.2876 for mean 1, std 1).
    #[test]
    fn normal_delays_and_weights_are_redrawn_into_their_range() {
        let desc = model(
            "{ rule = \"fixed_indegree\", k = 200 }",
            "{ distribution = \"normal\", mean = 1.0, std = 1.0, min = 0.0, redraw = true }",
            "delay = { distribution = \"normal\", mean = \"1.5 ms\", std = \"0.75 ms\" }",
        );
        let at_1_ms = desc.projections[0].delay;
        assert_eq!((at_1_ms.min_steps, at_1_ms.max_steps), (1, 9), "dt = 1 ms in the helper: from dt to mean + 10 std");
        let all = rows(&desc, 300..500);
        let w: Vec<f64> = all.iter().flat_map(|r| r.weight.iter().map(|&w| w as f64)).collect();
        assert!(w.iter().all(|&x| x >= 0.0), "redrawn, not clipped: no weight below 0");
        assert!(w.iter().filter(|&&x| x == 0.0).count() < 3, "no pile at the bound");
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        let sd = (w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
        assert!((mean - 1.287_600).abs() < 4.0 * sd / (w.len() as f64).sqrt(), "mean {mean}");

        // Delays at dt = 0.1 ms: parsed again with that dt.
        let text = "[simulation]\ndt = 0.1\nduration = 10\n[[population]]\nname = \"a\"\nsize = 300\nmodel = \"izhikevich\"\n[population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
             [[projection]]\nsource = \"a\"\ntarget = \"a\"\nconnection = { rule = \"fixed_indegree\", k = 400 }\nweight = 1\n\
             delay = { distribution = \"normal\", mean = \"1.5 ms\", std = \"0.75 ms\" }\n";
        let desc = config::parse(text, "test.toml", &Overrides::default()).unwrap();
        let spec = desc.projections[0].delay;
        assert_eq!((spec.min_steps, spec.max_steps), (1, 90), "from dt to mean + 10 std");
        let d: Vec<u32> = rows(&desc, 0..300).iter().flat_map(|r| r.delay.clone()).collect();
        assert_eq!(*d.iter().min().unwrap(), 1);
        // Quadrature of the normal density over each step's rounding interval, above 0.1 ms.
        let density = |x: f64| (-0.5 * ((x - 15.0) / 7.5).powi(2)).exp();
        let integral = |a: f64, b: f64| (0..2000).map(|i| density(a + (b - a) * (i as f64 + 0.5) / 2000.0)).sum::<f64>() * (b - a) / 2000.0;
        let above = integral(1.0, 90.0);
        let one_step = integral(1.0, 1.5) / above;
        let mean_steps = (1..=90).map(|k| k as f64 * integral((k as f64 - 0.5).max(1.0), k as f64 + 0.5)).sum::<f64>() / above;
        let n = d.len() as f64;
        let share = d.iter().filter(|&&x| x == 1).count() as f64 / n;
        assert!((share - one_step).abs() < 4.0 * (one_step / n).sqrt(), "1-step share {share}, expected {one_step}");
        let mean_d = d.iter().map(|&x| x as f64).sum::<f64>() / n;
        assert!((mean_d - mean_steps).abs() < 4.0 * 7.5 / n.sqrt(), "mean {mean_d} steps, expected {mean_steps}");
    }

    #[test]
    fn weights_and_delays_follow_their_distributions() {
        let desc = model(
            "{ rule = \"fixed_indegree\", k = 200 }",
            "{ distribution = \"normal\", mean = 1.0, std = 0.5, min = 0.0, max = 2.0 }",
            "delay = { distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }",
        );
        let all = rows(&desc, 300..500);
        let w: Vec<f64> = all.iter().flat_map(|r| r.weight.iter().map(|&w| w as f64)).collect();
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        assert!(w.iter().all(|&x| (0.0..=2.0).contains(&x)));
        let d: Vec<u32> = all.iter().flat_map(|r| r.delay.clone()).collect();
        assert_eq!((*d.iter().min().unwrap(), *d.iter().max().unwrap()), (1, 20));
        let mean_d = d.iter().map(|&x| x as f64).sum::<f64>() / d.len() as f64;
        // 40,000 draws: standard error 0.029; allow five of them.
        assert!((mean_d - 10.5).abs() < 0.145, "mean delay {mean_d}");
    }

    #[test]
    fn compact_codes_are_within_half_a_step() {
        let codec = WeightCodec::new((-1.0, 0.5));
        assert!(codec.max_error() <= 1.5 / 131_070.0 * 1.0001);
        for k in 0..=10_000 {
            let w = -1.0 + 1.5 * k as f32 / 10_000.0;
            assert!((codec.decode(codec.encode(w)) - w).abs() <= codec.max_error() * 1.01, "{w}");
        }
        let desc = model("{ rule = \"all_to_all\" }", "\"0.5*u - u2\"", "");
        let (lo, hi) = weight_bounds(&desc.projections[0].weight);
        assert!(lo < -0.999 && hi > 0.499, "{lo} {hi}");
    }

    /// Spread delays (Izhikevich 2006): each source's 100 synapses, onto distinct
    /// targets, take the 20 delays of 1–20 ms five each, in drawing order.
    #[test]
    fn spread_delays_give_each_row_equal_shares_in_drawing_order() {
        let desc = model(
            "{ rule = \"fixed_outdegree\", k = 100, autapses = false, multapses = false }",
            "6",
            "delay = { distribution = \"spread\", low = \"1 ms\", high = \"20 ms\" }",
        );
        for row in rows(&desc, 0..300) {
            let expected: Vec<u32> = (0..100).map(|j| 1 + j / 5).collect();
            assert_eq!(row.delay, expected);
            let mut targets = row.other.clone();
            targets.sort();
            targets.dedup();
            assert_eq!(targets.len(), 100, "no duplicate targets");
        }
    }

    #[test]
    fn rows_depend_only_on_seed_projection_and_neuron() {
        let desc = model("{ rule = \"fixed_indegree\", k = 20 }", "\"u\"", "");
        let a = rows(&desc, 300..500);
        let b = rows(&desc, 450..500);
        assert_eq!(a[150].other, b[0].other);
        assert_eq!(a[150].weight, b[0].weight);
    }
}
