//! Building a store's rows: dense rows of all-to-all projections, and CSR rows by
//! (source, delay) drawn in passes over the same keyed streams.

use super::generate::{weight_bounds, InvalidWeight, Row, RowDrawer, WeightCodec};
use super::{BuildError, DelayIndex, PresentSources, Record, RecordKind, Records, RowIndex, Rows};
use crate::memory::try_huge_vec;
use crate::network::{Description, Projection};
use rayon::prelude::*;
use std::ops::Range;

/// Dense rows of an all-to-all projection onto `local` targets; columns drawn per
/// target in parallel.
pub(super) fn dense_rows(desc: &Description, p: &Projection, local: Range<u64>, shard_start: u64) -> Result<Rows, BuildError> {
    let sources = desc.populations[p.source].gids();
    let (n_src, n_tgt) = ((sources.end - sources.start) as usize, (local.end - local.start) as usize);
    // Columns (one per target, indexed by source) drawn in parallel with reused
    // scratch, then written into rows.
    let columns: Vec<Result<Vec<f32>, InvalidWeight>> = local
        .clone()
        .into_par_iter()
        .map_init(
            || (RowDrawer::new(desc, p), Row::default()),
            |(drawer, row), gid| {
                drawer.draw(gid, row);
                if let Some(invalid) = drawer.invalid.take() {
                    return Err(invalid);
                }
                let mut column = vec![0f32; n_src];
                for (&source, &w) in row.other.iter().zip(&row.weight) {
                    column[(source - sources.start) as usize] = w;
                }
                Ok(column)
            },
        )
        .collect();
    // The first target's failure, whatever the order the threads ran in.
    let columns = columns.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut weights = try_huge_vec(n_src * n_tgt, 0f32)?;
    for (t, column) in columns.iter().enumerate() {
        for (row, &w) in column.iter().enumerate() {
            weights[row * n_tgt + t] = w;
        }
    }
    Ok(Rows::Dense { target_offset: (local.start - shard_start) as usize, n_targets: n_tgt, weights })
}

/// Synapse `i`'s weight, 0 where the row was drawn without weights (a counting pass).
#[inline]
fn weight_of(row: &Row, i: usize) -> f32 {
    row.weight.get(i).copied().unwrap_or(0.0)
}

/// CSR rows by (source, delay) of the projections `members` (one, or several sharing
/// sources, delays and storage: `store_blocks`) onto their `local` targets, in two
/// passes over the same keyed streams (count, then fill) so that no per-synapse list is
/// held; with `present_only`, a pass before them marks the sources with synapses here,
/// and only they have rows (`RowIndex::Present`). A row holds its members' synapses one
/// member after the other.
pub(super) fn csr_rows(
    desc: &Description,
    members: &[(&Projection, Range<u64>)],
    shard_start: u64,
    per_synapse: bool,
    present_only: bool,
) -> Result<Rows, BuildError> {
    let p = members[0].0;
    let sources = desc.populations[p.source].gids();
    let n_delays = p.delay.count() as usize;
    let n_sources = (sources.end - sources.start) as usize;
    let mut drawers: Vec<RowDrawer> = members.iter().map(|(p, _)| RowDrawer::new(desc, p)).collect();
    let mut row = Row::default();
    let invalid = std::cell::RefCell::new(None);
    // The (group, local target, weight) of the synapses of one drawn row onto the
    // members' targets, handed over a row at a time so that the passes can prefetch.
    let mut visits = Visits::default();
    // Visits every synapse onto the members' targets, row by row, member by member, in
    // an order that is the same in every pass: targets ascending (per-target rules) or
    // sources ascending (per-source rules), each row in drawing order. The counting
    // passes draw no weights (`weights` false; the visit then gets 0). A group is a
    // (row, delay); with delays per synapse its row is group / n_delays.
    let mut for_each = |weights: bool, visit: &mut dyn FnMut(&Visits)| {
        let draw = |drawer: &mut RowDrawer, gid: u64, row: &mut Row| {
            if weights {
                drawer.draw(gid, row)
            } else {
                drawer.draw_without_weights(gid, row)
            }
        };
        let group = |source: u64, delay: u32| (source - sources.start) as usize * n_delays + (delay - p.delay.min_steps) as usize;
        for ((member, local), drawer) in members.iter().zip(drawers.iter_mut()) {
            let per_source = member.rule.per_source();
            let gids = if per_source { sources.clone() } else { local.clone() };
            for gid in gids {
                draw(drawer, gid, &mut row);
                if let Some(bad) = drawer.invalid.take() {
                    invalid.borrow_mut().get_or_insert(bad);
                }
                visits.clear();
                for i in 0..row.len() {
                    let (other, delay, weight) = (row.other[i], row.delay[i], weight_of(&row, i));
                    if !per_source {
                        visits.push(group(other, delay), (gid - shard_start) as u32, weight);
                    } else if local.contains(&other) {
                        visits.push(group(gid, delay), (other - shard_start) as u32, weight);
                    }
                }
                visit(&visits);
            }
        }
    };
    // The sources with rows: every one, or those the first pass finds.
    let (present, rows) = if present_only {
        let mut marks = PresentSources::new(n_sources)?;
        for_each(false, &mut |v| v.groups.iter().for_each(|&g| marks.mark(g / n_delays)));
        let rows = marks.count()?;
        (RowIndex::Present(marks), rows)
    } else {
        (RowIndex::Every, n_sources)
    };
    // Offsets per (row, delay) or, with delays per synapse, per row.
    let groups = if per_synapse { rows } else { rows * n_delays };
    // u32 offsets: half of u64's, and 2^32 synapses (24 GB) outgrow a machine anyway; huge
    // pages, as the records: thin rows reached at random took a TLB miss each (BENCHMARKS).
    let mut offsets = try_huge_vec(groups + 1, 0u32)?;
    let slot = |g: usize| match &present {
        RowIndex::Every if per_synapse => g / n_delays,
        RowIndex::Every => g,
        RowIndex::Present(marks) => {
            let row = marks.row(g / n_delays).expect("marked by the first pass");
            if per_synapse {
                row
            } else {
                row * n_delays + g % n_delays
            }
        }
    };
    // Each row's synapses reach groups at random over the whole store (tens of MB of
    // offsets, a GB of records): every count and every record is a cache miss, so each
    // pass asks for the lines of a piece of the row before it touches them.
    let mut slots = Vec::new();
    let offset_at = address_of(&offsets);
    for_each(false, &mut |v| {
        slots.clear();
        slots.extend(v.groups.iter().map(|&g| slot(g) + 1));
        for_each_prefetched(&slots, &offset_at, |_, s| offsets[s] += 1);
    });
    running_sums(&mut offsets, p.id);
    let n_local = (members.iter().map(|(_, local)| local.end).max().unwrap_or(shard_start) - shard_start) as usize;
    let total = offsets[groups] as usize;
    let mut delays = if per_synapse { try_huge_vec(total, 0u16)? } else { Vec::new() };
    let mut cursor = try_huge_vec(offsets.len(), 0u32)?;
    let cursor_at = address_of(&cursor);
    let mut at = Vec::new();
    let mut fill = |records: &mut dyn FnMut(usize, u32, f32), record_at: &dyn Fn(usize) -> *const u8| {
        cursor.copy_from_slice(&offsets);
        for_each(true, &mut |v| {
            assert!(v.targets.iter().all(|&t| (t as usize) < n_local), "CSR targets inside the store");
            slots.clear();
            slots.extend(v.groups.iter().map(|&g| slot(g)));
            // Where each synapse goes, in visit order (a group met twice takes two places).
            at.clear();
            for_each_prefetched(&slots, &cursor_at, |_, s| {
                at.push(cursor[s] as usize);
                cursor[s] += 1;
            });
            for_each_prefetched(&at, record_at, |i, at| {
                if per_synapse {
                    delays[at] = (v.groups[i] % n_delays) as u16;
                }
                records(at, v.targets[i], v.weights[i]);
            });
        });
    };
    let codec = || WeightCodec::new(weight_bounds(&p.weight));
    let records = match RecordKind::of(p.storage, n_local as u64) {
        RecordKind::Compact16 => Records::Compact16 { records: placed(total, Some(codec()), &mut fill)?, codec: codec() },
        RecordKind::Compact => Records::Compact { records: placed(total, Some(codec()), &mut fill)?, codec: codec() },
        RecordKind::Exact => Records::Exact(placed(total, None, &mut fill)?),
    };
    if let Some(bad) = invalid.borrow_mut().take() {
        return Err(bad.into());
    }
    if !per_synapse {
        return Ok(Rows::Csr { offsets, records, index: DelayIndex::Grouped, present });
    }
    let mut records = records;
    sort_rows_by_delay(&offsets, &mut delays, &mut records);
    Ok(Rows::Csr { offsets, records, index: DelayIndex::PerSynapse(delays), present })
}

/// Turns counts (from index 1) into offsets: each entry the sum of those before it.
fn running_sums(offsets: &mut [u32], projection: u32) {
    let mut total = 0u64;
    for g in 1..offsets.len() {
        total += offsets[g] as u64;
        assert!(total <= u32::MAX as u64, "more than 2^32 synapses onto the targets of projection {projection} in one store");
        offsets[g] += offsets[g - 1];
    }
}

/// The synapses of one drawn row as a store's passes visit them (`csr_rows`).
#[derive(Default)]
struct Visits {
    /// (row, delay) groups.
    groups: Vec<usize>,
    /// Local targets.
    targets: Vec<u32>,
    weights: Vec<f32>,
}

impl Visits {
    fn clear(&mut self) {
        self.groups.clear();
        self.targets.clear();
        self.weights.clear();
    }

    fn push(&mut self, group: usize, target: u32, weight: f32) {
        self.groups.push(group);
        self.targets.push(target);
        self.weights.push(weight);
    }
}

/// Where element `i` of `v` lies, for a prefetch (no reference is made: the closure
/// may outlive a borrow of `v` that writes it).
/// `total` records of one kind (weights coded with `codec` where it has one), each
/// written where `fill`'s visits of the rows place it.
fn placed<R: Record>(
    total: usize,
    codec: Option<WeightCodec>,
    fill: &mut impl FnMut(&mut dyn FnMut(usize, u32, f32), &dyn Fn(usize) -> *const u8),
) -> Result<Vec<R>, crate::memory::OutOfMemory> {
    let mut records = try_huge_vec(total, R::default())?;
    let place = address_of(&records);
    fill(&mut |at, t, w| records[at] = R::new(t, w, codec), &place);
    Ok(records)
}

fn address_of<T>(v: &[T]) -> impl Fn(usize) -> *const u8 {
    let (base, size) = (v.as_ptr() as usize, std::mem::size_of::<T>());
    move |i| (base + i * size) as *const u8
}

/// Calls `f(i, items[i])` in order, with the line of `address(items[i + AHEAD])` asked
/// for `AHEAD` items before: items that each reach a random line of a large store.
#[inline]
fn for_each_prefetched(items: &[usize], address: impl Fn(usize) -> *const u8, mut f: impl FnMut(usize, usize)) {
    const AHEAD: usize = 40;
    for &item in items.iter().take(AHEAD) {
        crate::simd::prefetch(address(item));
    }
    for (i, &item) in items.iter().enumerate() {
        if let Some(&later) = items.get(i + AHEAD) {
            crate::simd::prefetch(address(later));
        }
        f(i, item);
    }
}

/// Sorts each row (`offsets`) of `records` and their `delays` by delay, stably: within a
/// delay, drawing order, as in groups.
fn sort_rows_by_delay(offsets: &[u32], delays: &mut [u16], records: &mut Records) {
    fn by_delay<R: Copy>(offsets: &[u32], delays: &mut [u16], records: &mut [R]) {
        let mut pairs: Vec<(u16, R)> = Vec::new();
        for w in offsets.windows(2) {
            let (lo, hi) = (w[0] as usize, w[1] as usize);
            pairs.clear();
            pairs.extend(delays[lo..hi].iter().copied().zip(records[lo..hi].iter().copied()));
            pairs.sort_by_key(|&(d, _)| d);
            for (k, &(d, r)) in pairs.iter().enumerate() {
                (delays[lo + k], records[lo + k]) = (d, r);
            }
        }
    }
    match records {
        Records::Exact(r) => by_delay(offsets, delays, r),
        Records::Compact { records, .. } => by_delay(offsets, delays, records),
        Records::Compact16 { records, .. } => by_delay(offsets, delays, records),
    }
}
