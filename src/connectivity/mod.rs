//! The local synapse store: the synapses onto one contiguous range of target neurons,
//! laid out by source so that a spike finds its rows at once, and delivered into delay
//! rings. Synapses are drawn from keyed streams (see `generate`), so the same synapses
//! come out whatever the split of targets into shards, threads or ranks.
//!
//! Layouts, per projection (chosen in `layout.rs`, for the store and the estimate alike):
//! - dense rows (GeNN's DENSE) for all-to-all with one delay: weights only, a spike adds
//!   one contiguous row, a loop the compiler vectorises;
//! - CSR by (source, delay): u32 local target + f32 weight, or a 16-bit weight code
//!   with a u16 (4 bytes, stores of ≤ 65,536 targets) or u32 target (6 bytes); the delay is the group's, never stored; within a group the
//!   targets ascend, so a row streams through the input array;
//! - procedural (GeNN's PROCEDURAL): nothing stored, a spiking source's row is drawn
//!   again at delivery.
//!
//! Every target's input is summed in the same order whatever the layout or partition:
//! projection by projection in file order, each in canonical spike order (step, then
//! id), a row's synapses in drawing order within each delay.

mod build;
mod deferred;
pub use deferred::Entry;
pub mod generate;
mod in_flight;
mod layout;
mod lookup;
mod plastic;
mod present;
mod ring;

pub use in_flight::InFlight;
pub use layout::{delays_per_synapse, expected_rows, expected_synapses, present_only, store_blocks, BlockPlan, Layout, RecordKind};
pub use plastic::{expected_bytes as plastic_bytes, PlasticBlock, PlasticState, PlasticSynapse};
pub use present::{PresentSources, RowIndex};
pub use ring::DelayRing;

use crate::memory::OutOfMemory;
use crate::network::{Description, Projection};
use crate::spike::Spike;
use build::{csr_rows, dense_rows};
use generate::{InvalidWeight, Row, RowDrawer, WeightCodec};
use lookup::{find_rows, of_sources, runs_of_sources, DueRow};
use rayon::prelude::*;

/// Why a synapse store could not be built: a weight that is not a finite f32, or memory
/// the process could not have.
#[derive(Debug)]
pub enum BuildError {
    Weight(InvalidWeight),
    Memory(OutOfMemory),
    /// Synapses given as data could not be read.
    Input(crate::error::Error),
}

impl From<InvalidWeight> for BuildError {
    fn from(e: InvalidWeight) -> Self {
        BuildError::Weight(e)
    }
}

impl From<OutOfMemory> for BuildError {
    fn from(e: OutOfMemory) -> Self {
        BuildError::Memory(e)
    }
}
use std::ops::Range;
use std::time::{Duration, Instant};

/// A stored synapse: local target and weight, packed so that a row is one stream.
pub trait Record: Copy + Default + Send + 'static {
    fn new(target: u32, weight: f32, codec: Option<WeightCodec>) -> Self;
    fn target(&self) -> u32;
    fn weight(&self, codec: WeightCodec) -> f32;
    /// The record as one word (target in the low half, weight code in the high half),
    /// where it is one: what a ring's lists hold of it (`deferred::Entry::Coded`).
    #[inline(always)]
    fn word(&self) -> Option<u32> {
        None
    }
}

/// u32 target + f32 weight: 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct Exact {
    pub target: u32,
    pub weight: f32,
}

/// u32 target + 16-bit weight code: 6 bytes (unaligned reads cost nothing on x86).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, packed)]
pub struct Compact {
    pub target: u32,
    pub code: u16,
}

/// u16 target + 16-bit weight code: 4 bytes, for stores of at most 65,536 targets (a
/// shard of up to 65,536 neurons). Rows stream from DRAM at delivery, so bytes per
/// synapse are time: 4 instead of 6 bytes made delivery ≈ 10% faster (BENCHMARKS.md).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct Compact16 {
    pub target: u16,
    pub code: u16,
}

impl Record for Compact16 {
    fn new(target: u32, weight: f32, codec: Option<WeightCodec>) -> Self {
        let target = u16::try_from(target).expect("a 4-byte record's target fits 16 bits");
        Compact16 { target, code: codec.expect("compact storage has a codec").encode(weight) }
    }
    #[inline(always)]
    fn target(&self) -> u32 {
        self.target as u32
    }
    #[inline(always)]
    fn weight(&self, codec: WeightCodec) -> f32 {
        codec.decode(self.code)
    }
    #[inline(always)]
    fn word(&self) -> Option<u32> {
        Some(self.target as u32 | (self.code as u32) << 16)
    }
}

impl Record for Exact {
    fn new(target: u32, weight: f32, _: Option<WeightCodec>) -> Self {
        Exact { target, weight }
    }
    #[inline(always)]
    fn target(&self) -> u32 {
        self.target
    }
    #[inline(always)]
    fn weight(&self, _: WeightCodec) -> f32 {
        self.weight
    }
}

impl Record for Compact {
    fn new(target: u32, weight: f32, codec: Option<WeightCodec>) -> Self {
        Compact { target, code: codec.expect("compact storage has a codec").encode(weight) }
    }
    #[inline(always)]
    fn target(&self) -> u32 {
        self.target
    }
    #[inline(always)]
    fn weight(&self, codec: WeightCodec) -> f32 {
        codec.decode(self.code)
    }
}

/// Stored synapses of a CSR block.
#[derive(Clone, Debug)]
pub enum Records {
    Exact(Vec<Exact>),
    Compact { records: Vec<Compact>, codec: WeightCodec },
    Compact16 { records: Vec<Compact16>, codec: WeightCodec },
}

#[derive(Clone, Debug)]
pub enum Rows {
    /// `weights[row * n_targets + t]`: from source `sources.start + row` onto local target
    /// `target_offset + t`; a synapse that does not exist (a left-out autapse) weighs 0.
    Dense { target_offset: usize, n_targets: usize, weights: Vec<f32> },
    /// Rows of records; `present` says which row a source has, `index` where each
    /// delay's synapses of a row are.
    Csr { offsets: Vec<u32>, records: Records, index: DelayIndex, present: RowIndex },
    /// Rows drawn again for every spike; `targets` is the local range (global ids),
    /// `first` the global id of the store's first neuron.
    Procedural { drawer: Box<RowDrawer>, targets: Range<u64>, first: u64, row: Row },
}

/// How a CSR block finds the synapses of one delay in a row.
#[derive(Clone, Debug)]
pub enum DelayIndex {
    /// Group (row, delay) holds synapses `offsets[g] .. offsets[g + 1]`, with
    /// g = row · n_delays + (delay − min delay): no delay stored per synapse, one offset
    /// per (row, delay). For delays few in steps.
    Grouped,
    /// Row r holds synapses `offsets[r] .. offsets[r + 1]`, sorted by delay (drawing
    /// order within a delay, as in groups), and `delays[i]` is synapse i's delay − min
    /// delay in steps: 2 bytes per synapse instead of 4 per (row, delay), for delays many
    /// steps long (1–20 ms at dt = 0.01 ms are 1901 delays: 7.6 KB per row grouped).
    PerSynapse(Vec<u16>),
}

impl DelayIndex {
    /// Whether a projection's CSR rows onto `synapses` synapses from `rows` sources
    /// with `n_delays` delays index their delays per synapse (`PerSynapse`): where that
    /// takes less than half the bytes of one offset per (row, delay).
    pub fn per_synapse(rows: u64, n_delays: u64, synapses: u64) -> bool {
        n_delays > 1 && n_delays <= 1 << 16 && 2 * synapses + 4 * rows < 2 * rows * n_delays
    }
}

#[derive(Clone, Debug)]
pub struct SynapseBlock {
    /// The projections (file order) whose synapses these are: one, or several from the
    /// same sources onto different targets sharing rows (`store_blocks`).
    pub projections: Vec<u32>,
    /// Global ids of the sources.
    pub sources: Range<u64>,
    pub delays: Range<u32>,
    /// The synaptic kind the synapses feed (`Description::synapse_kinds`): the index of its ring.
    pub kind: usize,
    pub rows: Rows,
}

/// All synapses onto the local targets (a contiguous range of global ids).
#[derive(Clone, Debug, Default)]
pub struct LocalSynapses {
    pub blocks: Vec<SynapseBlock>,
    /// The plastic projections' synapses, in file order: handled as their spikes
    /// arrive (`PlasticBlock`), after the static blocks' input of the step.
    pub plastic: Vec<PlasticBlock>,
    /// Scratch for `deliver`: the due rows of one block's spiking sources, kept so that
    /// delivery allocates nothing per epoch.
    rows: Vec<DueRow>,
    /// Whether `deliver` times the lookup of the received spikes' rows apart (the dry
    /// run's receive phase), and the time it took: two clock readings per projection
    /// and delivery, left out of ordinary runs.
    pub time_lookup: bool,
    pub lookup_time: Duration,
    /// Synaptic events delivered so far: (spike, synapse onto a target here) pairs.
    pub events: u64,
}

impl LocalSynapses {
    /// Builds the synapses of `desc` onto the targets `targets`, or names the first
    /// synapse whose weight is not a finite f32.
    pub fn build(desc: &Description, targets: Range<u64>) -> Result<LocalSynapses, BuildError> {
        crate::sonata::edges::load_for(desc, &targets).map_err(BuildError::Input)?;
        let kinds = desc.synapse_kinds();
        // Block by block in parallel (rayon, inside the pool the shards are built in): the
        // blocks of every shard are then the pieces the threads share, and a thread whose
        // shard is done takes blocks of the other (the microcircuit's build ran at 180%
        // of 2 cores, a shard at a time).
        let plans = store_blocks(desc, &targets);
        let blocks: Vec<Result<SynapseBlock, BuildError>> = plans
            .into_par_iter()
            .map(|plan| {
                let (first, local) = plan.members[0].clone();
                let p = &desc.projections[first];
                let kind = kinds.iter().position(|m| *m == p.synapse).expect("listed");
                let rows = match plan.layout {
                    Layout::Procedural => Rows::Procedural {
                        drawer: Box::new(RowDrawer::new(desc, p)),
                        targets: local,
                        first: targets.start,
                        row: Row::default(),
                    },
                    Layout::Dense => dense_rows(desc, p, local, targets.start)?,
                    Layout::Csr { delays_per_synapse, present_only, .. } => {
                        let members: Vec<(&Projection, Range<u64>)> =
                            plan.members.iter().map(|(j, local)| (&desc.projections[*j], local.clone())).collect();
                        csr_rows(desc, &members, targets.start, delays_per_synapse, present_only)?
                    }
                };
                Ok(SynapseBlock {
                    projections: plan.members.iter().map(|(j, _)| desc.projections[*j].id).collect(),
                    sources: desc.populations[p.source].gids(),
                    delays: generate::delay_range(&p.delay),
                    kind,
                    rows,
                })
            })
            .collect();
        // The first block's error in block order, whichever thread found it first.
        let blocks = blocks.into_iter().collect::<Result<Vec<_>, _>>()?;
        let plastic = desc
            .projections
            .iter()
            .filter(|p| p.plasticity.is_some())
            .filter_map(|p| {
                let pop = desc.populations[p.target].gids();
                let local = pop.start.max(targets.start)..pop.end.min(targets.end);
                let kind = kinds.iter().position(|m| *m == p.synapse).expect("listed");
                (!local.is_empty()).then(|| PlasticBlock::build(desc, p, local, targets.start, kind))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LocalSynapses { blocks, plastic, ..LocalSynapses::default() })
    }

    /// Whether a ring of synaptic kind `kind` may defer its far arrivals
    /// (`DelayRing::try_deferring`), and how its lists then hold them. Only where every
    /// block feeding it stores CSR rows: dense and drawn rows add into the slots as they
    /// are delivered, and deferring some blocks' arrivals and not others' would change the
    /// order in which a target sums them. As the records themselves where every block
    /// stores 4-byte `Compact16` records.
    pub fn deferred_entry(&self, kind: usize) -> Option<Entry> {
        let mut blocks = self.blocks.iter().filter(|b| b.kind == kind);
        if !blocks.clone().all(|b| matches!(b.rows, Rows::Csr { .. })) {
            return None;
        }
        let coded = blocks.all(|b| matches!(b.rows, Rows::Csr { records: Records::Compact16 { .. }, .. }));
        Some(if coded { Entry::Coded } else { Entry::Pair })
    }

    /// Bytes the stored synapses take.
    pub fn bytes(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| match &b.rows {
                Rows::Dense { weights, .. } => weights.len() * 4,
                Rows::Csr { offsets, records, index, present } => {
                    offsets.len() * 4
                        + present.bytes()
                        + match index {
                            DelayIndex::Grouped => 0,
                            DelayIndex::PerSynapse(delays) => delays.len() * 2,
                        }
                        + match records {
                            Records::Exact(r) => r.len() * std::mem::size_of::<Exact>(),
                            Records::Compact { records, .. } => records.len() * std::mem::size_of::<Compact>(),
                            Records::Compact16 { records, .. } => records.len() * std::mem::size_of::<Compact16>(),
                        }
                }
                Rows::Procedural { .. } => 0,
            })
            .sum::<usize>()
            + self.plastic.iter().map(PlasticBlock::bytes).sum::<usize>()
    }

    /// Marks in `needed` (a bit set over global ids) every source that has a synapse
    /// here: the sources whose spikes this store must receive. Dense and procedural
    /// rows mark their whole source population (a procedural row is only known once
    /// drawn).
    pub fn mark_sources(&self, needed: &mut [u64]) {
        let mut mark = |gid: u64| needed[(gid / 64) as usize] |= 1 << (gid % 64);
        for b in &self.blocks {
            match &b.rows {
                Rows::Csr { offsets, index, present, .. } => {
                    let n_delays = if matches!(index, DelayIndex::Grouped) { b.delays.len() } else { 1 };
                    let sources = (b.sources.end - b.sources.start) as usize;
                    present.for_each_row(sources, |source, row| {
                        if offsets[(row + 1) * n_delays] > offsets[row * n_delays] {
                            mark(b.sources.start + source as u64);
                        }
                    });
                }
                Rows::Dense { .. } | Rows::Procedural { .. } => b.sources.clone().for_each(&mut mark),
            }
        }
        for b in &self.plastic {
            b.mark_sources(needed);
        }
    }

    /// Synapses stored (procedural ones are not).
    pub fn stored(&self) -> u64 {
        self.blocks
            .iter()
            .map(|b| match &b.rows {
                Rows::Dense { weights, .. } => weights.len() as u64,
                Rows::Csr { records: Records::Exact(r), .. } => r.len() as u64,
                Rows::Csr { records: Records::Compact { records, .. }, .. } => records.len() as u64,
                Rows::Csr { records: Records::Compact16 { records, .. }, .. } => records.len() as u64,
                Rows::Procedural { .. } => 0,
            })
            .sum::<u64>()
            + self.plastic.iter().map(|b| b.synapses() as u64).sum::<u64>()
    }

    /// Adds the synapses of every spike in `spikes` (sorted by step, then id) into the
    /// rings at their arrival steps (the rings hold every delay).
    pub fn deliver_all(&mut self, spikes: &[Spike], rings: &mut [DelayRing]) {
        self.deliver(spikes, 0..u64::MAX, rings);
    }

    /// Adds the synapses of the spikes in `spikes` (sorted by step, then id) that arrive
    /// at a step in `due` into the rings (one per synaptic kind). Blocks are the outer
    /// loop: each block takes the spikes of its sources in order, with one tight loop per
    /// layout. Every target's input is therefore summed projection by projection, each
    /// in spike order: the same order whatever the partition into shards, and, for one
    /// arrival step, whatever the windows its synapses were delivered in.
    pub fn deliver(&mut self, spikes: &[Spike], due: Range<u64>, rings: &mut [DelayRing]) {
        for block in &mut self.blocks {
            let ring = &mut rings[block.kind];
            let mine = of_sources(spikes, &block.sources);
            let first_delay = block.delays.start as u64;
            let n_delays = block.delays.len() as u64;
            // The delays of a spike of step `step` that arrive in `due`, as indices from
            // the block's first delay.
            let due_delays = |step: u64| {
                let lo = due.start.saturating_sub(step + first_delay).min(n_delays);
                let hi = due.end.saturating_sub(step + first_delay).min(n_delays);
                (lo as u32, hi as u32)
            };
            match &mut block.rows {
                Rows::Dense { target_offset, n_targets, weights } => {
                    for spike in mine.filter(|s| due.contains(&(s.step as u64 + first_delay))) {
                        let row = (spike.gid as u64 - block.sources.start) as usize;
                        let weights = &weights[row * *n_targets..(row + 1) * *n_targets];
                        let input = &mut ring.slot_mut(spike.step as u64 + first_delay)[*target_offset..*target_offset + *n_targets];
                        for (x, w) in input.iter_mut().zip(weights) {
                            *x += *w;
                        }
                        self.events += *n_targets as u64;
                    }
                }
                Rows::Csr { offsets, records, index, present } => {
                    let (offsets, records, index) = (&*offsets, &*records, &*index);
                    let events = &mut self.events;
                    let mut deliver = |rows: &[DueRow], ring: &mut DelayRing| {
                        *events += match index {
                            DelayIndex::Grouped => {
                                deliver_records(rows, &Grouped { offsets, n_delays: n_delays as usize }, records, first_delay, ring)
                            }
                            DelayIndex::PerSynapse(delays) => {
                                deliver_records(rows, &PerSynapse { offsets, delays }, records, first_delay, ring)
                            }
                        }
                    };
                    let rows = &mut self.rows;
                    rows.clear();
                    for run in runs_of_sources(spikes, &block.sources) {
                        let step = run[0].step;
                        let (first, end) = due_delays(step as u64);
                        if first >= end {
                            continue;
                        }
                        for piece in run.chunks(ROWS_AT_ONCE) {
                            let started = self.time_lookup.then(Instant::now);
                            find_rows(piece, block.sources.start, present, DueRow { row: 0, step, first, end }, rows);
                            if let Some(started) = started {
                                self.lookup_time += started.elapsed();
                            }
                            if rows.len() >= ROWS_AT_ONCE {
                                deliver(rows, ring);
                                rows.clear();
                            }
                        }
                    }
                    deliver(rows, ring);
                }
                Rows::Procedural { drawer, targets, first, row: drawn } => {
                    for spike in mine {
                        let step = spike.step as u64;
                        let (lo, hi) = due_delays(step);
                        if lo >= hi {
                            continue;
                        }
                        drawer.draw(spike.gid as u64, drawn);
                        if n_delays == 1 {
                            self.events += add_local(ring.slot_mut(step + first_delay), targets, *first, &drawn.other, &drawn.weight);
                        } else {
                            for i in 0..drawn.len() {
                                let (t, arrival) = (drawn.other[i], step + drawn.delay[i] as u64);
                                if targets.contains(&t) && due.contains(&arrival) {
                                    ring.slot_mut(arrival)[(t - *first) as usize] += drawn.weight[i];
                                    self.events += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How many spikes are looked up before the rows found are delivered: the rows wait
/// in L2 (16 bytes each) instead of going to memory and coming back.
const ROWS_AT_ONCE: usize = 4096;

/// Where the due delays of a CSR row lie in the records.
trait DelayLookup {
    /// The records of the row's due delays, first to last (for the prefetch).
    fn span(&self, r: &DueRow) -> (usize, usize);
    /// An address to prefetch before the row is read (its index).
    fn index_of(&self, r: &DueRow) -> *const u8;
    /// Each due delay with synapses: (delay index, its records).
    fn for_each_delay(&self, r: &DueRow, f: impl FnMut(usize, usize, usize));
}

/// `DelayIndex::Grouped`.
struct Grouped<'a> {
    offsets: &'a [u32],
    n_delays: usize,
}

impl DelayLookup for Grouped<'_> {
    #[inline(always)]
    fn span(&self, r: &DueRow) -> (usize, usize) {
        let g = r.row as usize * self.n_delays;
        (self.offsets[g + r.first as usize] as usize, self.offsets[g + r.end as usize] as usize)
    }
    #[inline(always)]
    fn index_of(&self, r: &DueRow) -> *const u8 {
        self.offsets[r.row as usize * self.n_delays + r.first as usize..].as_ptr() as *const u8
    }
    #[inline(always)]
    fn for_each_delay(&self, r: &DueRow, mut f: impl FnMut(usize, usize, usize)) {
        for d in r.first..r.end {
            let g = r.row as usize * self.n_delays + d as usize;
            let (lo, hi) = (self.offsets[g] as usize, self.offsets[g + 1] as usize);
            if lo < hi {
                f(d as usize, lo, hi);
            }
        }
    }
}

/// `DelayIndex::PerSynapse`.
struct PerSynapse<'a> {
    offsets: &'a [u32],
    delays: &'a [u16],
}

impl DelayLookup for PerSynapse<'_> {
    /// The row's records of delays `first..end`: where the row's delays all lie inside
    /// (every delay due at once, as with rings of every delay), the whole row without a
    /// search; else two binary searches. The same bounds either way.
    #[inline(always)]
    fn span(&self, r: &DueRow) -> (usize, usize) {
        let (lo, hi) = (self.offsets[r.row as usize] as usize, self.offsets[r.row as usize + 1] as usize);
        let delays = &self.delays[lo..hi];
        let start = match delays.first() {
            Some(&d) if (d as u32) < r.first => delays.partition_point(|&d| (d as u32) < r.first),
            _ => 0,
        };
        let stop = match delays.last() {
            Some(&d) if (d as u32) >= r.end => delays.partition_point(|&d| (d as u32) < r.end),
            _ => delays.len(),
        };
        (lo + start, lo + stop)
    }
    #[inline(always)]
    fn index_of(&self, r: &DueRow) -> *const u8 {
        self.offsets[r.row as usize..].as_ptr() as *const u8
    }
    /// Each run of one delay, found by a linear scan: rows stored per synapse are the
    /// short ones (offsets per delay would take more), whose runs are a synapse or a few,
    /// where a binary search per run costs more than the run's adds. (The microcircuit in
    /// four shards: the one holding L2/3's inhibitory targets, whose blocks store delays
    /// per synapse, took 1.38–1.44× its neighbours' time per event, 1.31–1.34× with the
    /// scan; BENCHMARKS.md.)
    #[inline(always)]
    fn for_each_delay(&self, r: &DueRow, mut f: impl FnMut(usize, usize, usize)) {
        let (mut lo, end) = self.span(r);
        while lo < end {
            let d = self.delays[lo];
            let mut hi = lo + 1;
            while hi < end && self.delays[hi] == d {
                hi += 1;
            }
            f(d as usize, lo, hi);
            lo = hi;
        }
    }
}

/// Delivers `rows` (`deliver_csr`); returns the synapses delivered.
fn deliver_records<L: DelayLookup>(rows: &[DueRow], layout: &L, records: &Records, first_delay: u64, ring: &mut DelayRing) -> u64 {
    match records {
        Records::Exact(r) => deliver_csr(rows, layout, r, WeightCodec::default(), first_delay, ring),
        Records::Compact { records, codec } => deliver_csr(rows, layout, records, *codec, first_delay, ring),
        Records::Compact16 { records, codec } => deliver_csr(rows, layout, records, *codec, first_delay, ring),
    }
}

/// Delivers the CSR rows of `rows` (row index, spike step). The rows of the spikes to
/// come are one stream of records in DRAM, read ahead by a prefetch cursor that runs
/// 2 KB of records ahead of the scatter and issues one prefetch per cache line
/// consumed — paced, not a burst per row, which would stall on the CPU's few line-fill
/// buffers. The row index is prefetched a few spikes further ahead still.
#[inline(always)]
fn deliver_csr<R: Record, L: DelayLookup>(
    rows: &[DueRow],
    layout: &L,
    records: &[R],
    codec: WeightCodec,
    first_delay: u64,
    ring: &mut DelayRing,
) -> u64 {
    let per_line = (64 / std::mem::size_of::<R>()).max(1);
    let lookahead = 2048 / std::mem::size_of::<R>();
    let span = |j: usize| layout.span(&rows[j]);
    // The prefetch cursor: row `pf_row`, next record `pf_at`, row end `pf_end`; it stays
    // `lookahead` records ahead of the scatter.
    let (mut pf_row, mut pf_at, mut pf_end) = (0usize, 0usize, 0usize);
    let mut ahead = 0usize;
    let mut advance = |budget: usize, ahead: &mut usize| {
        let mut issued = 0;
        while issued < budget {
            if pf_at >= pf_end {
                if pf_row >= rows.len() {
                    return;
                }
                if let Some(later) = rows.get(pf_row + 8) {
                    crate::simd::prefetch(layout.index_of(later));
                }
                (pf_at, pf_end) = span(pf_row);
                pf_row += 1;
                continue;
            }
            crate::simd::prefetch(records[pf_at..].as_ptr());
            let step = per_line.min(pf_end - pf_at);
            pf_at += step;
            *ahead += step;
            issued += step;
        }
    };
    advance(lookahead, &mut ahead);
    let (mut slot_step, mut slot) = (u32::MAX, 0usize);
    // Arrivals from this step on wait in lists (`DelayRing::try_deferring`).
    let near_end = ring.near_end();
    // Only a ring all of whose rows hold `Compact16` records keeps them as words.
    let coded = ring.entry() == Some(Entry::Coded);
    let mut events = 0;
    for r in rows {
        if r.step != slot_step {
            (slot_step, slot) = (r.step, ring.slot_index(r.step as u64 + first_delay));
        }
        let first_arrival = r.step as u64 + first_delay;
        layout.for_each_delay(r, |d, lo, hi| {
            events += (hi - lo) as u64;
            let arrival = first_arrival + d as u64;
            // The prefetch cursor keeps `lookahead` records ahead of those consumed.
            let mut consumed = |n: usize| {
                ahead = ahead.saturating_sub(n);
                if ahead < lookahead {
                    advance(n, &mut ahead);
                }
            };
            if arrival >= near_end {
                if coded {
                    ring.defer_coded(arrival, codec, records[lo..hi].iter().map(|r| r.word().expect("a coded ring's records are words")));
                } else {
                    ring.defer(arrival, records[lo..hi].iter().map(|r| (r.target(), r.weight(codec))));
                }
                consumed(hi - lo);
                return;
            }
            let input = ring.slot_at(ring.later(slot, d));
            for chunk in records[lo..hi].chunks(per_line) {
                scatter(input, chunk, codec);
                consumed(chunk.len());
            }
        });
    }
    events
}

/// Adds the weights of the synapses of a drawn row whose targets (global ids) lie in
/// `targets` into `input` (indexed from global id `first`). Whether a target is local is
/// a coin toss for a row drawn over a population split between shards, so the choice is
/// made without a branch: the weight goes either to its target or to a sink. Returns the
/// synapses added.
#[inline]
fn add_local(input: &mut [f32], targets: &std::ops::Range<u64>, first: u64, other: &[u64], weights: &[f32]) -> u64 {
    let mut sink = 0f32;
    let mut local = 0u64;
    let (lo, len) = (targets.start, targets.end - targets.start);
    let offset = (lo - first) as usize;
    for (&t, &w) in other.iter().zip(weights) {
        let k = t.wrapping_sub(lo);
        let slot = if k < len { &mut input[offset + k as usize] } else { &mut sink };
        *slot += w;
        local += (k < len) as u64;
    }
    std::hint::black_box(sink);
    local
}

/// `input[targets[k]] += weight(values[k])`: the random read-modify-write that costs the
/// most in a simulation of sparse networks.
#[inline(always)]
fn scatter<R: Record>(input: &mut [f32], records: &[R], codec: WeightCodec) {
    debug_assert!(records.iter().all(|r| (r.target() as usize) < input.len()));
    for r in records {
        // SAFETY: targets are local indices below the store's neuron count, checked when
        // the store was built (`csr_rows`); `input` is a ring slot of that length.
        unsafe { *input.get_unchecked_mut(r.target() as usize) += r.weight(codec) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Overrides};

    /// One population of `n` neurons onto itself, 5 random inputs each, weights `u`.
    fn model(n: u64, storage: &str) -> Description {
        model_with(n, storage, "fixed_indegree")
    }

    /// `model` with another connection rule (with k = 5).
    fn model_with(n: u64, storage: &str, rule: &str) -> Description {
        let text = format!(
            "[simulation]\ndt = 1\nduration = 1\n[[population]]\nname = \"p\"\nsize = {n}\nmodel = \"izhikevich\"\n\
             [population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
             [[projection]]\nsource = \"p\"\ntarget = \"p\"\nconnection = {{ rule = \"{rule}\", k = 5 }}\nweight = \"2*u - 1\"\nstorage = \"{storage}\"\n"
        );
        config::parse(&text, "test.toml", &Overrides::default()).unwrap()
    }

    /// 300 Izhikevich neurons, 7 synapses onto each from random sources, delays of 1–20
    /// steps; every neuron spiking at step 0 and some again at step 3, sorted.
    fn delayed_network() -> (Description, Vec<Spike>) {
        let text = "[simulation]\ndt = 1\nduration = 1\n[[population]]\nname = \"p\"\nsize = 300\nmodel = \"izhikevich\"\n\
             [population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n\
             [[projection]]\nsource = \"p\"\ntarget = \"p\"\nconnection = { rule = \"fixed_indegree\", k = 7 }\nweight = \"2*u - 1\"\n\
             delay = { distribution = \"uniform\", low = 1, high = 20 }\n";
        let desc = config::parse(text, "test.toml", &Overrides::default()).unwrap();
        let mut spikes: Vec<Spike> =
            (0..300u32).flat_map(|gid| [Spike { step: 0, gid }, Spike { step: 3, gid: (gid * 7) % 300 }]).collect();
        spikes.sort();
        (desc, spikes)
    }

    /// The two delay indexes of CSR rows, delivered at once or in windows of arrival
    /// steps, give the same inputs bit for bit (rows sorted by delay keep drawing order
    /// within a delay), and delays per synapse are what the rule picks for few synapses
    /// per row over many delays.
    #[test]
    fn delays_per_synapse_deliver_as_delay_groups() {
        let (desc, spikes) = delayed_network();
        let p = &desc.projections[0];
        assert!(delays_per_synapse(&desc, p, &(0..300)));
        let deliver = |per_synapse: bool, windows: &[Range<u64>]| deliver_rows(&desc, &spikes, 0..300, per_synapse, false, windows);
        // No windows: every arrival at once.
        let reference = deliver(false, &[]);
        assert!(reference.iter().filter(|&&b| b != 0).count() > 1000);
        let windows = [0..2, 2..6, 6..13, 13..u64::MAX];
        assert_eq!(deliver(true, &[]), reference, "per synapse, at once");
        assert_eq!(deliver(true, &windows), reference, "per synapse, in windows");
        assert_eq!(deliver(false, &windows), reference, "groups, in windows");
    }

    /// The inputs of the targets `local` (a store starting there) after the spikes
    /// `spikes`, delivered in `windows` (none: at once), bit for bit.
    fn deliver_rows(
        desc: &Description,
        spikes: &[Spike],
        local: Range<u64>,
        per_synapse: bool,
        present_only: bool,
        windows: &[Range<u64>],
    ) -> Vec<u32> {
        let p = &desc.projections[0];
        let n = (local.end - local.start) as usize;
        let rows = csr_rows(desc, &[(p, local.clone())], local.start, per_synapse, present_only).unwrap();
        assert_eq!(matches!(rows, Rows::Csr { present: RowIndex::Present(_), .. }), present_only);
        let block = SynapseBlock { projections: vec![0], sources: 0..300, delays: generate::delay_range(&p.delay), kind: 0, rows };
        let mut store = LocalSynapses { blocks: vec![block], ..Default::default() };
        let mut rings = vec![DelayRing::new(n, 24)];
        if windows.is_empty() {
            store.deliver_all(spikes, &mut rings);
        }
        for w in windows {
            store.deliver(spikes, w.clone(), &mut rings);
        }
        (1..24u64).flat_map(|t| rings[0].slot_mut(t).to_vec()).map(f32::to_bits).collect()
    }

    /// Rows for the present sources only (one rank of many): the same inputs bit for bit
    /// as a row for every source, with either delay index, at once or in windows, onto
    /// all targets or onto a few (where most sources have no synapse); the same sources
    /// marked as needed; and the choice falls on it where few sources are present.
    #[test]
    fn rows_of_present_sources_only_deliver_as_rows_of_every_source() {
        let (desc, spikes) = delayed_network();
        let windows = [0..2, 2..6, 6..13, 13..u64::MAX];
        for local in [0..300u64, 40..52] {
            let reference = deliver_rows(&desc, &spikes, local.clone(), false, false, &[]);
            for per_synapse in [false, true] {
                for w in [&[][..], &windows[..]] {
                    assert_eq!(
                        deliver_rows(&desc, &spikes, local.clone(), per_synapse, true, w),
                        reference,
                        "{local:?}, per synapse {per_synapse}"
                    );
                }
            }
        }
        let p = &desc.projections[0];
        let needed = |present_only: bool| {
            let rows = csr_rows(&desc, &[(p, 40..52)], 40, false, present_only).unwrap();
            let block = SynapseBlock { projections: vec![0], sources: 0..300, delays: generate::delay_range(&p.delay), kind: 0, rows };
            let store = LocalSynapses { blocks: vec![block], ..Default::default() };
            let mut bits = vec![0u64; 5];
            store.mark_sources(&mut bits);
            (bits, store.bytes())
        };
        let ((every, every_bytes), (present, present_bytes)) = (needed(false), needed(true));
        assert_eq!(every, present, "the same sources needed");
        assert!(present_bytes < every_bytes, "{present_bytes} bytes against {every_bytes}");
        assert!(present_only(&desc, p, &(40..52)), "84 synapses from 300 sources: rows for present sources only");
        assert!(!present_only(&desc, p, &(0..300)), "2100 synapses from 300 sources: a row for every source");
    }

    fn sharing_model(projections: &[(&str, &str, &str, &str)]) -> Description {
        let population = |name: &str, size: u32| {
            format!(
                "[[population]]\nname = \"{name}\"\nsize = {size}\nmodel = \"izhikevich\"\n\
                 [population.parameters]\na = 0.02\nb = 0.2\nc = -65\nd = 8\n"
            )
        };
        let projection = |&(source, target, weight, delay): &(&str, &str, &str, &str)| {
            format!(
                "[[projection]]\nsource = \"{source}\"\ntarget = \"{target}\"\nconnection = {{ rule = \"fixed_indegree\", k = 30 }}\n\
                 weight = \"{weight}\"\nstorage = \"compact\"\ndelay = {delay}\n"
            )
        };
        let mut text = ["[simulation]\ndt = 1\nduration = 1\n".to_string(), population("a", 300), population("b", 100)].concat();
        text.extend(projections.iter().map(projection));
        config::parse(&text, "test.toml", &Overrides::default()).unwrap()
    }

    /// The members of each block of a store onto every neuron of `desc`.
    fn block_members(desc: &Description) -> Vec<Vec<usize>> {
        store_blocks(desc, &(0..desc.total_neurons())).iter().map(|b| b.members.iter().map(|m| m.0).collect()).collect()
    }

    /// Asserts that a store of shared blocks gives every target of `desc` (400 neurons)
    /// the input bits of one block per projection.
    fn assert_inputs_of_one_block_each(desc: &Description) {
        let mut spikes: Vec<Spike> =
            (0..400u32).flat_map(|gid| [Spike { step: 0, gid }, Spike { step: 2, gid: (gid * 7) % 400 }]).collect();
        spikes.sort();
        // One block per projection, as before blocks were shared.
        let one_each = || {
            let blocks = desc.projections.iter().map(|p| {
                let local = desc.populations[p.target].gids();
                let Layout::Csr { delays_per_synapse, present_only, .. } = Layout::of(desc, p, &local, 0) else { panic!("CSR") };
                let rows = csr_rows(desc, &[(p, local)], 0, delays_per_synapse, present_only).unwrap();
                let (sources, delays) = (desc.populations[p.source].gids(), generate::delay_range(&p.delay));
                SynapseBlock { projections: vec![p.id], sources, delays, kind: 0, rows }
            });
            LocalSynapses { blocks: blocks.collect(), ..Default::default() }
        };
        let inputs = |mut store: LocalSynapses| {
            let mut rings = vec![DelayRing::new(400, 16)];
            store.deliver_all(&spikes, &mut rings);
            (1..5u64).map(|t| rings[0].slot_mut(t).iter().map(|x| x.to_bits()).collect::<Vec<_>>()).collect::<Vec<_>>()
        };
        let (shared, reference) = (inputs(LocalSynapses::build(desc, 0..400).unwrap()), inputs(one_each()));
        for (t, slot) in shared.iter().enumerate() {
            assert!(slot.iter().all(|&x| x != 0), "step {}: every target has input", t + 1);
            let differ = slot.iter().zip(&reference[t]).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "step {}: the inputs of {differ} targets differ from one block per projection", t + 1);
        }
    }

    const DELAYS: &str = "{ distribution = \"uniform\", low = 1, high = 2 }";

    /// Projections from the same sources onto different populations share one block of
    /// rows (one lookup per spike), and a store so built gives every target the same
    /// input bits as stores that each hold one population (one block per projection):
    /// a projection joins no block past an earlier projection onto its targets, nor one
    /// of another weight range or delay range.
    #[test]
    fn projections_sharing_rows_give_the_inputs_of_one_block_each() {
        let desc = sharing_model(&[
            ("a", "a", "u", DELAYS),
            ("a", "b", "u", DELAYS),
            ("b", "a", "-u", DELAYS),
            ("b", "b", "-u", DELAYS),
            // Onto b again: after the block holding a → b, so not in it.
            ("a", "b", "u", DELAYS),
            // Another weight range, another delay range: blocks of their own, each right
            // after the last block onto its targets.
            ("a", "b", "3*u", DELAYS),
            ("b", "a", "-u", "2"),
        ]);
        assert_eq!(block_members(&desc), vec![vec![0, 1], vec![2, 3], vec![6], vec![4], vec![5]]);
        assert_inputs_of_one_block_each(&desc);
    }

    /// A projection that cannot join its sources' block (another weight range) takes a
    /// block right after the last one onto its targets: the later projections onto those
    /// targets still join the blocks behind it. Placed at the end, it pushed every one of
    /// them into a block of its own (the microcircuit's first shard: 12 blocks for 7
    /// sources, against 8 for 8 in the second).
    #[test]
    fn a_projection_of_another_weight_range_leaves_the_later_ones_their_blocks() {
        let desc = sharing_model(&[("a", "a", "u", DELAYS), ("b", "a", "-u", DELAYS), ("a", "b", "3*u", DELAYS), ("b", "b", "-u", DELAYS)]);
        assert_eq!(block_members(&desc), vec![vec![2], vec![0], vec![1, 3]]);
        assert_inputs_of_one_block_each(&desc);
    }

    /// The spikes of a source range, cut from each step's run by binary search, are those
    /// a filter over every spike finds, in the same order.
    #[test]
    fn the_spikes_of_a_source_range_are_found_by_step() {
        let mut spikes: Vec<Spike> = (0..2000u32).map(|k| Spike { step: 7 + (k * 31) % 5, gid: (k * 7919) % 1000 }).collect();
        spikes.sort();
        spikes.dedup();
        for sources in [0..1000u64, 0..1, 250..600, 999..1000, 400..400, 1000..2000] {
            let filtered: Vec<&Spike> = spikes.iter().filter(|s| sources.contains(&(s.gid as u64))).collect();
            assert_eq!(of_sources(&spikes, &sources).collect::<Vec<_>>(), filtered, "{sources:?}");
        }
        assert_eq!(of_sources(&[], &(0..10)).count(), 0);
    }

    /// Every neuron spikes once; the inputs each target receives.
    fn inputs(desc: &Description) -> (Vec<f32>, LocalSynapses) {
        let n = desc.total_neurons();
        let mut store = LocalSynapses::build(desc, 0..n).unwrap();
        let mut rings = vec![DelayRing::new(n as usize, 1)];
        let spikes: Vec<Spike> = (0..n as u32).map(|gid| Spike { step: 0, gid }).collect();
        store.deliver_all(&spikes, &mut rings);
        (rings[0].slot_mut(1).to_vec(), store)
    }

    /// Every source spiking once delivers every synapse once: the events counted are the
    /// synapses, stored (exact, compact) or drawn, and half the sources count their own.
    #[test]
    fn delivered_events_are_counted_per_synapse_on_every_layout() {
        for (storage, rule) in [("exact", "fixed_indegree"), ("compact", "fixed_outdegree"), ("procedural", "fixed_outdegree")] {
            let desc = model_with(3000, storage, rule);
            let (_, store) = inputs(&desc);
            assert_eq!(store.events, desc.synapse_count(), "{storage}");
            let mut store = LocalSynapses::build(&desc, 0..1500).unwrap();
            let mut rings = vec![DelayRing::new(1500, 1)];
            store.deliver_all(&(0..1500u32).map(|gid| Spike { step: 0, gid }).collect::<Vec<_>>(), &mut rings);
            let local_from_first_half = store.events;
            assert!(local_from_first_half > 0 && local_from_first_half < desc.synapse_count() / 2, "{storage}: {local_from_first_half}");
            if storage != "procedural" {
                // Stored rows: what the store holds from those sources.
                assert!(store.stored() > local_from_first_half, "{storage}");
            }
        }
    }

    #[test]
    fn compact_records_are_4_bytes_up_to_65536_targets_and_6_beyond_within_the_code_error() {
        for (n, bytes) in [(60_000u64, 4usize), (70_000, 6)] {
            let (exact, store) = inputs(&model(n, "exact"));
            let (compact, compact_store) = inputs(&model(n, "compact"));
            assert_eq!(store.stored(), 5 * n);
            assert_eq!(compact_store.bytes() - (n as usize + 1) * 4, 5 * n as usize * bytes, "{n} targets");
            // Five additions per target, each within half a code step of (1 - (-1)) / 65535.
            let bound = 5.0 * 2.0 / 131_070.0 * 1.01;
            let worst = exact.iter().zip(&compact).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst <= bound, "{n} targets: worst error {worst} > {bound}");
            assert!(worst > 0.0, "the codes do round");
        }
    }
}
