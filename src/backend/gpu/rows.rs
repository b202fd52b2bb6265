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
    /// Its synaptic kind (`Description::synapse_kinds`).
    pub kind: usize,
    pub sources: Range<u64>,
    pub first_delay: u32,
    pub varying_delays: bool,
    /// Row r holds synapses offsets[r]..offsets[r + 1] (u64 here: a rank may hold more
    /// than 2^32 synapses of one projection; each chunk's offsets are u32 on the GPU).
    pub offsets: Vec<u64>,
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

/// Consecutive rows of a projection whose arrays each fit one storage binding: the GPU
/// binds each chunk as a block of its own, delivered by its own dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub rows: Range<usize>,
    pub synapses: Range<usize>,
}

/// Why rows cannot be chunked: one row alone has more synapses than a binding holds.
#[derive(Debug)]
pub struct RowTooLong {
    pub source: u64,
    pub synapses: u64,
}

impl GpuRows {
    /// The rows cut into chunks of whole rows, each with at most `most` words in any of
    /// its arrays (offsets: rows + 1; targets and weights: one per synapse; delays:
    /// fewer). One chunk when everything fits.
    pub fn chunks(&self, most: u64) -> Result<Vec<Chunk>, RowTooLong> {
        let rows = self.offsets.len() - 1;
        let mut out = Vec::new();
        let mut first = 0usize;
        while first < rows || out.is_empty() {
            let start = self.offsets[first];
            let mut last = first;
            while last < rows && self.offsets[last + 1] - start <= most && ((last + 1 - first) as u64) < most {
                last += 1;
            }
            if last == first && first < rows {
                return Err(RowTooLong { source: self.sources.start + first as u64, synapses: self.offsets[first + 1] - start });
            }
            out.push(Chunk { rows: first..last, synapses: start as usize..self.offsets[last] as usize });
            first = last;
        }
        Ok(out)
    }

    /// The arrays of `chunk` as the GPU takes them: offsets from 0 (u32), targets,
    /// weights and delays of its synapses (delays repacked if it starts at an odd one).
    pub fn chunk_arrays(&self, chunk: &Chunk) -> ChunkArrays<'_> {
        let start = chunk.synapses.start as u64;
        let offsets = self.offsets[chunk.rows.start..=chunk.rows.end].iter().map(|&o| (o - start) as u32).collect();
        let (lo, hi) = (chunk.synapses.start, chunk.synapses.end);
        let delays = if !self.varying_delays {
            std::borrow::Cow::Borrowed(&self.delays[..0])
        } else if lo % 2 == 0 {
            std::borrow::Cow::Borrowed(&self.delays[lo / 2..hi.div_ceil(2)])
        } else {
            let delay = |j: usize| (self.delays[j / 2] >> (16 * (j % 2))) & 0xFFFF;
            let mut packed = vec![0u32; (hi - lo).div_ceil(2)];
            for (k, j) in (lo..hi).enumerate() {
                packed[k / 2] |= delay(j) << (16 * (k % 2));
            }
            std::borrow::Cow::Owned(packed)
        };
        ChunkArrays { offsets, targets: &self.targets[lo..hi], weights: &self.weights[lo..hi], delays }
    }
}

/// The arrays of one chunk, ready to upload.
pub struct ChunkArrays<'a> {
    pub offsets: Vec<u32>,
    pub targets: &'a [u32],
    pub weights: &'a [i32],
    pub delays: std::borrow::Cow<'a, [u32]>,
}

/// The rows of every projection onto the neurons `local` (global ids) of `desc`, with
/// weights in the fixed point of `scales` (one per synaptic kind).
pub fn build(desc: &Description, local: Range<u64>, scales: &[FixedScale]) -> Result<Vec<GpuRows>, RowsError> {
    let kinds = desc.synapse_kinds();
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
    let mut offsets = vec![0u64; rows + 1];
    for_each(&mut |r, _, _, _| offsets[r + 1] += 1).map_err(RowsError::Weight)?;
    for r in 0..rows {
        offsets[r + 1] += offsets[r];
    }
    let total = offsets[rows] as usize;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of 3, 0, 2, 4 and 1 synapses, delays varying: the delay of synapse j is j.
    fn rows() -> GpuRows {
        let offsets = vec![0, 3, 3, 5, 9, 10];
        let mut delays = vec![0u32; 5];
        for j in 0..10u32 {
            delays[j as usize / 2] |= j << (16 * (j % 2));
        }
        GpuRows {
            sources: 100..105,
            varying_delays: true,
            offsets,
            targets: (0..10).collect(),
            weights: (0..10).map(|j| -j).collect(),
            delays,
            ..GpuRows::default()
        }
    }

    #[test]
    fn chunks_hold_whole_rows_within_the_limit_and_cover_every_synapse() {
        let r = rows();
        assert_eq!(r.chunks(100).unwrap(), vec![Chunk { rows: 0..5, synapses: 0..10 }]);
        // At most 4 words per array: 4 synapses, 3 rows (4 offsets).
        let chunks = r.chunks(4).unwrap();
        let expected = [(0..2, 0..3), (2..3, 3..5), (3..4, 5..9), (4..5, 9..10)];
        assert_eq!(chunks, expected.map(|(rows, synapses)| Chunk { rows, synapses }).to_vec());
        // A row of 4 synapses cannot fit 3 words.
        let long = r.chunks(3).unwrap_err();
        assert_eq!((long.source, long.synapses), (103, 4));
        // No rows: one empty chunk.
        let empty = GpuRows { offsets: vec![0], ..GpuRows::default() };
        assert_eq!(empty.chunks(4).unwrap(), vec![Chunk { rows: 0..0, synapses: 0..0 }]);
    }

    #[test]
    fn a_chunks_arrays_start_at_its_first_row_and_synapse() {
        let r = rows();
        let delays_of = |c: &Chunk| {
            let a = r.chunk_arrays(c);
            (a.offsets, a.targets.to_vec(), a.weights.to_vec(), a.delays.into_owned())
        };
        // Starting at an odd synapse: the delays are repacked.
        let (offsets, targets, weights, delays) = delays_of(&Chunk { rows: 2..4, synapses: 3..9 });
        assert_eq!(offsets, vec![0, 2, 6]);
        assert_eq!(targets, vec![3, 4, 5, 6, 7, 8]);
        assert_eq!(weights, vec![-3, -4, -5, -6, -7, -8]);
        assert_eq!(delays, vec![3 | 4 << 16, 5 | 6 << 16, 7 | 8 << 16]);
        let (offsets, _, _, delays) = delays_of(&Chunk { rows: 4..5, synapses: 9..10 });
        assert_eq!(offsets, vec![0, 1]);
        assert_eq!(delays, vec![9]);
        // At an even one: a slice of the packed words (the last word's high half is the
        // next chunk's first delay, never read through this chunk).
        let (_, _, _, delays) = delays_of(&Chunk { rows: 0..1, synapses: 0..3 });
        assert_eq!((delays.len(), delays[0], delays[1] & 0xFFFF), (2, 1 << 16, 2));
    }
}
