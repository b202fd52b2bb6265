//! Synapses as the GPU holds them: per projection, CSR rows by source of u32 local
//! targets, i32 fixed-point weights and, where delays vary, u16 delays packed two to a
//! word (WGSL has no 16-bit arrays). Drawn by the same `RowDrawer` as the CPU store, and
//! weights of compact storage pass through the same 16-bit codes, so both backends
//! simulate the same synapses.

use super::fixed::FixedScale;
use crate::connectivity::generate::{weight_bounds, InvalidWeight, Row, RowDrawer, WeightCodec};
use crate::network::{Description, Projection, Storage};
use std::ops::Range;

/// The rows of one projection onto the rank's neurons.
#[derive(Clone, Debug, Default)]
pub struct GpuRows {
    pub projection: u32,
    /// Its synaptic kind (`synapse::kinds`).
    pub kind: usize,
    pub sources: Range<u64>,
    pub first_delay: u32,
    pub varying_delays: bool,
    /// Row r holds synapses offsets[r]..offsets[r + 1].
    pub offsets: Vec<u32>,
    /// Targets as indices among the rank's neurons.
    pub targets: Vec<u32>,
    pub weights: Vec<i32>,
    /// delay − first delay, two u16 per word; empty where delays do not vary.
    pub delays: Vec<u32>,
}

/// Why rows cannot be built: a weight that is not finite (as on the CPU), or a target
/// whose input in one step could leave the fixed-point range.
#[derive(Debug)]
pub enum RowsError {
    Weight(InvalidWeight),
    Range { projection: u32, target: u64, sum: f64, limit: f64 },
}

impl GpuRows {
    pub fn bytes(&self) -> usize {
        4 * (self.offsets.len() + self.targets.len() + self.weights.len() + self.delays.len())
    }
}

/// The rows of every projection onto the neurons `local` (global ids) of `desc`, with
/// weights in the fixed point of `scales` (one per synaptic kind).
pub fn build(desc: &Description, local: Range<u64>, scales: &[FixedScale]) -> Result<Vec<GpuRows>, RowsError> {
    let kinds = crate::synapse::kinds(desc);
    let n = (local.end - local.start) as usize;
    // Per kind, per local target: the sum of |fixed weight| of its synapses.
    let mut sums: Vec<Vec<i64>> = kinds.iter().map(|_| vec![0i64; n]).collect();
    let mut out = Vec::new();
    // Procedural projections are drawn again at each spike (`procedural`), never stored.
    for p in desc.projections.iter().filter(|p| p.storage != Storage::Procedural) {
        let pop = desc.populations[p.target].gids();
        let mine = pop.start.max(local.start)..pop.end.min(local.end);
        if mine.is_empty() {
            continue;
        }
        let kind = kinds.iter().position(|k| *k == p.synapse).expect("listed");
        let rows = projection_rows(desc, p, mine, local.start, kind, scales[kind], &mut sums[kind])?;
        out.push(rows);
    }
    for (kind, sums) in sums.iter().enumerate() {
        if let Some((t, &sum)) = sums.iter().enumerate().find(|(_, &s)| s > i32::MAX as i64) {
            let target = local.start + t as u64;
            let projection = out.iter().find(|r| r.kind == kind).map_or(0, |r| r.projection);
            let scale = scales[kind];
            return Err(RowsError::Range { projection, target, sum: scale.to_weight(sum), limit: scale.to_weight(i32::MAX as i64) });
        }
    }
    Ok(out)
}

fn projection_rows(
    desc: &Description,
    p: &Projection,
    mine: Range<u64>,
    first_local: u64,
    kind: usize,
    scale: FixedScale,
    sums: &mut [i64],
) -> Result<GpuRows, RowsError> {
    let sources = desc.populations[p.source].gids();
    let rows = (sources.end - sources.start) as usize;
    let codec = (p.storage == Storage::Compact).then(|| WeightCodec::new(weight_bounds(&p.weight)));
    let mut drawer = RowDrawer::new(desc, p);
    let mut row = Row::default();
    // Every synapse onto `mine` as (row, delay index, local target, weight), in the same
    // order on both passes.
    let mut for_each = |visit: &mut dyn FnMut(usize, u32, u32, f32)| -> Result<(), InvalidWeight> {
        let mut visit_row = |drawer: &mut RowDrawer, row: &Row, me: u64| -> Result<(), InvalidWeight> {
            if let Some(bad) = drawer.invalid.take() {
                return Err(bad);
            }
            for i in 0..row.len() {
                let (source, target) = if p.rule.per_source() { (me, row.other[i]) } else { (row.other[i], me) };
                if mine.contains(&target) {
                    let w = codec.map_or(row.weight[i], |c| c.decode(c.encode(row.weight[i])));
                    visit((source - sources.start) as usize, row.delay[i] - p.delay.min_steps, (target - first_local) as u32, w);
                }
            }
            Ok(())
        };
        if p.rule.per_source() {
            for s in sources.clone() {
                drawer.draw(s, &mut row);
                visit_row(&mut drawer, &row, s)?;
            }
        } else {
            for t in mine.clone() {
                drawer.draw(t, &mut row);
                visit_row(&mut drawer, &row, t)?;
            }
        }
        Ok(())
    };
    let mut offsets = vec![0u32; rows + 1];
    for_each(&mut |r, _, _, _| offsets[r + 1] += 1).map_err(RowsError::Weight)?;
    let mut total = 0u64;
    for r in 0..rows {
        total += offsets[r + 1] as u64;
        assert!(total <= u32::MAX as u64, "more than 2^32 synapses of projection {} onto one rank", p.id);
        offsets[r + 1] += offsets[r];
    }
    let total = total as usize;
    let varying = p.delay.count() > 1;
    let mut targets = vec![0u32; total];
    let mut weights = vec![0i32; total];
    let mut delays = if varying { vec![0u32; total.div_ceil(2)] } else { Vec::new() };
    let mut cursor = offsets.clone();
    let mut too_large = None;
    for_each(&mut |r, d, t, w| {
        let at = cursor[r] as usize;
        cursor[r] += 1;
        targets[at] = t;
        let fixed = scale.to_fixed(w).unwrap_or_else(|| {
            too_large.get_or_insert((t, w));
            0
        });
        weights[at] = fixed;
        sums[t as usize] += (fixed as i64).abs();
        if varying {
            delays[at / 2] |= (d & 0xFFFF) << (16 * (at % 2));
        }
    })
    .map_err(RowsError::Weight)?;
    if let Some((t, w)) = too_large {
        let limit = scale.to_weight(i32::MAX as i64);
        return Err(RowsError::Range { projection: p.id, target: first_local + t as u64, sum: w as f64, limit });
    }
    Ok(GpuRows {
        projection: p.id,
        kind,
        sources,
        first_delay: p.delay.min_steps,
        varying_delays: varying,
        offsets,
        targets,
        weights,
        delays,
    })
}
