//! Plastic synapses: the rows of one projection whose weights a rule changes
//! (`plasticity`), on the targets' shard. They are handled when their spikes *arrive*
//! (the rule reads and changes the weight then, and the weight it leaves is what the
//! target receives), not when the spikes are received as static rows are: a weight may
//! change between the two. So a plastic block reads the spikes in flight step by step.
//!
//! Layout: the CSR rows by (source, delay) of static exact storage (u32 target, f32
//! weight), the rule's state per synapse beside them, a presynaptic trace per (source,
//! delay) group — every synapse of a group sees the same arrivals — and, per target, the
//! list of its incoming synapses, which its spikes update (Izhikevich's code does the
//! same; NEST instead keeps each neuron's spike history and updates lazily at the next
//! arrival).
//!
//! Order, for the same weights and spikes whatever the partition: in a step, the
//! arrivals first, in canonical spike order (step, then id), each group's synapses in
//! drawing order; then the targets' spikes, in id order, each updating its incoming
//! synapses in store order; then the periodic update, where the rule has one. A
//! target's plastic input is added after its static input of the step.

use super::build::csr_rows;
use super::{BuildError, Records, RowIndex, Rows};
use crate::network::{Description, Projection};
use crate::plasticity::{with_kernel, Kernel, PlasticityRule, PostTrace, PreTrace, PreTraces};
use crate::spike::Spike;
use std::collections::VecDeque;
use std::ops::Range;

/// One plastic synapse as the outputs show it: global ids, delay in steps, weight and
/// the rule's state (0 where the rule has none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlasticSynapse {
    pub source: u64,
    pub target: u64,
    pub delay: u32,
    pub weight: f32,
    pub extra: f32,
}

/// The state of a plastic projection's synapses onto a run of targets, in an order that
/// does not depend on the partition (targets ascending, each target's synapses in store
/// order): what a checkpoint holds and a re-cut moves. Each synapse carries the
/// presynaptic trace of its (source, delay) group, which every shard holding the group
/// keeps alike; each target its postsynaptic trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlasticState {
    /// The global id of the first target (the post arrays' first entry).
    pub first_target: u64,
    pub weight: Vec<f32>,
    /// The rule's state per synapse; empty where it has none.
    pub extra: Vec<f32>,
    pub pre_last: Vec<u32>,
    pub pre_value: Vec<f64>,
    pub post_last: Vec<u32>,
    pub post_after: Vec<f64>,
    pub post_before: Vec<f64>,
}

impl PlasticState {
    pub fn synapses(&self) -> usize {
        self.weight.len()
    }

    pub fn targets(&self) -> usize {
        self.post_last.len()
    }
}

/// The per-synapse arrays a rule's loops change.
struct Synapses<'a> {
    target: &'a [u32],
    weight: &'a mut [f32],
    extra: &'a mut [f32],
    first_target: u32,
}

/// The synapses `group` (one source and delay) take an arrival in step `step`, their
/// weights as the rule leaves them going into `input`. Lazily (`pending`: the targets'
/// recent spikes, the group's trace before this arrival, and the first step whose
/// spikes have not reached the group), each synapse first takes its target's spikes of
/// steps from then to `step` − 1, in order, as they would have at each spike.
#[inline(always)]
fn arrivals<K: Kernel>(
    k: &K,
    s: Synapses,
    group: Range<usize>,
    post: &[PostTrace],
    step: u64,
    input: &mut [f32],
    pending: Option<(&[VecDeque<u32>], PreTrace, u64)>,
) {
    let mut spare = 0f32;
    for i in group {
        let t = s.target[i];
        let local = (t - s.first_target) as usize;
        let extra = if K::EXTRA { &mut s.extra[i] } else { &mut spare };
        if let Some((history, pre, from)) = pending {
            catch_up(k, &mut s.weight[i], extra, &history[local], pre, from..step);
        }
        let y = post[local].at(step, k.post_decay(), K::SIMULTANEOUS);
        k.arrival(&mut s.weight[i], extra, y);
        input[t as usize] += s.weight[i];
    }
}

/// The parts of a block an arrival reads and changes.
struct ArrivalParts<'a> {
    offsets: &'a [u32],
    first_target: u32,
    target: &'a [u32],
    weight: &'a mut [f32],
    extra: &'a mut [f32],
    pre: &'a mut PreTraces,
    post: &'a [PostTrace],
    lazy: &'a mut Option<Lazy>,
}

/// Groups whose synapses are prefetched ahead of the one being updated: a step's
/// arrivals are a few synapses each in groups scattered over the block, so the loop
/// waits on memory unless the next groups' lines are on their way.
const ARRIVALS_AHEAD: usize = 4;

/// `PlasticBlock::take_arrivals` for one rule: the synapses of groups `arriving` (in
/// canonical spike order) take their arrival in `step`. Returns the synaptic events.
#[inline(always)]
fn arrive_groups<K: Kernel>(k: &K, b: ArrivalParts, arriving: &[u32], step: u64, input: &mut [f32]) -> u64 {
    let mut events = 0;
    for (n, &g) in arriving.iter().enumerate() {
        if let Some(&later) = arriving.get(n + ARRIVALS_AHEAD) {
            let i = b.offsets[later as usize] as usize;
            if i < b.target.len() {
                crate::simd::prefetch(&b.target[i]);
                crate::simd::prefetch(&b.weight[i]);
                if K::EXTRA {
                    crate::simd::prefetch(&b.extra[i]);
                }
            }
        }
        let g = g as usize;
        let group = b.offsets[g] as usize..b.offsets[g + 1] as usize;
        if group.is_empty() {
            continue;
        }
        events += group.len() as u64;
        let synapses = Synapses { target: b.target, weight: &mut *b.weight, extra: &mut *b.extra, first_target: b.first_target };
        let pending = b.lazy.as_mut().and_then(|l| {
            let (before, from) = (b.pre.get(g), l.settled[g] as u64);
            l.settled[g] = step as u32;
            // Before any arrival the trace is 0: the spikes change nothing.
            (before.last != 0).then(|| (&l.history[..], before, from.max(before.last as u64 - 1)))
        });
        arrivals(k, synapses, group, b.post, step, input, pending);
        b.pre.arrive(g, step, k.pre_decay());
    }
    events
}

/// One synapse takes its target's spikes of steps `steps` (from `spikes`, ascending),
/// where its group's presynaptic trace was `pre` throughout.
#[inline(always)]
fn catch_up<K: Kernel>(k: &K, w: &mut f32, extra: &mut f32, spikes: &VecDeque<u32>, pre: PreTrace, steps: Range<u64>) {
    let first = spikes.partition_point(|&q| (q as u64) < steps.start);
    for &q in spikes.range(first..) {
        if q as u64 >= steps.end {
            break;
        }
        post_update(k, w, extra, pre.at(k.pre_read_step(q as u64), k.pre_decay()));
    }
}

/// A postsynaptic spike where the presynaptic trace is `x`: none (0, before any arrival or
/// past its horizon) changes nothing.
#[inline(always)]
fn post_update<K: Kernel>(k: &K, w: &mut f32, extra: &mut f32, x: f64) {
    if x != 0.0 {
        k.post(w, extra, x);
    }
}

/// The synapses `incoming` (of groups `groups`) of a target that spiked in step `step`.
/// A target's incoming synapses lie scattered over the block (stored by source): their
/// weights are gathered first, with no other work between the loads so that many misses
/// are in flight at once, then updated, then written back from lines now in cache.
#[inline(always)]
fn spiked<K: Kernel>(k: &K, s: Synapses, incoming: &[u32], groups: &[u32], pre: &PreTraces, step: u64, scratch: &mut Vec<Gathered>) {
    let read = k.pre_read_step(step);
    if s.weight.len() <= GATHER_FROM {
        // Weights in cache: updated in place.
        let mut spare = 0f32;
        for (&i, &g) in incoming.iter().zip(groups) {
            let extra = if K::EXTRA { &mut s.extra[i as usize] } else { &mut spare };
            post_update(k, &mut s.weight[i as usize], extra, pre.at(g as usize, read, k.pre_decay()));
        }
        return;
    }
    scratch.clear();
    scratch.extend(
        incoming.iter().map(|&i| Gathered { weight: s.weight[i as usize], extra: if K::EXTRA { s.extra[i as usize] } else { 0.0 } }),
    );
    for (e, &g) in scratch.iter_mut().zip(groups) {
        post_update(k, &mut e.weight, &mut e.extra, pre.at(g as usize, read, k.pre_decay()));
    }
    for (&i, e) in incoming.iter().zip(scratch.iter()) {
        s.weight[i as usize] = e.weight;
        if K::EXTRA {
            s.extra[i as usize] = e.extra;
        }
    }
}

/// Synapses of a block from which a spike's weights are gathered before they are
/// updated: beyond a core's L2 (1 MB of weights on machine B; BENCHMARKS.md, issue 29).
const GATHER_FROM: usize = 1 << 18;

/// A synapse's state, gathered for a postsynaptic spike.
#[derive(Clone, Copy, Debug, Default)]
struct Gathered {
    weight: f32,
    extra: f32,
}

/// The plastic synapses of one projection onto a store's targets.
#[derive(Clone, Debug)]
pub struct PlasticBlock {
    pub projection: u32,
    /// Global ids of the sources.
    pub sources: Range<u64>,
    /// Delays in steps: groups are (row, delay − delays.start).
    pub delays: Range<u32>,
    /// The synaptic kind (ring) the synapses feed.
    pub kind: usize,
    /// The store's first global id and the block's local targets (indices from it).
    targets: Range<u32>,
    rule: PlasticityRule,
    present: RowIndex,
    /// Synapses of group g: offsets[g] .. offsets[g + 1].
    offsets: Vec<u32>,
    target: Vec<u32>,
    pub weight: Vec<f32>,
    /// The rule's state per synapse (Izhikevich's sd); empty where it has none.
    pub extra: Vec<f32>,
    pre: PreTraces,
    /// Each target's incoming synapses, which its spikes update (None with lazy updates).
    index: Option<Incoming>,
    post: Vec<PostTrace>,
    /// Scratch for a spiking target's synapses (`spiked`).
    scratch: Vec<Gathered>,
    /// The groups the step's spikes arrive at, gathered from the lists in flight.
    arriving: Vec<u32>,
    /// Lazy updates (`PlasticityRule::lazy_horizon`): each target's spike steps within
    /// the horizon, and per group the first step whose postsynaptic spikes have not
    /// reached its synapses. None: each spike updates its synapses through the index.
    lazy: Option<Lazy>,
}

/// What lazy postsynaptic updates keep (NEST's way: a neuron's spike history, read at
/// the next arrival).
#[derive(Clone, Debug)]
struct Lazy {
    horizon: u64,
    history: Vec<VecDeque<u32>>,
    settled: Vec<u32>,
}

/// Whether lazy updates are used where the rule allows them: `VOLLEY_PLASTIC_UPDATES=index`
/// forces the index at every spike (to measure the two; BENCHMARKS.md).
fn lazy_allowed() -> bool {
    std::env::var("VOLLEY_PLASTIC_UPDATES").map_or(true, |v| v != "index")
}

/// The incoming synapses of a run of targets, in store order: per local target t (from
/// the run's first), synapses `synapse[at[t] .. at[t + 1]]`, with the (source, delay)
/// group of each, whose presynaptic trace it reads.
#[derive(Clone, Debug)]
struct Incoming {
    at: Vec<u32>,
    synapse: Vec<u32>,
    group: Vec<u32>,
}

impl Incoming {
    /// The lists of the block's local targets `run` (indices from `first_target`): a count
    /// per target, then each synapse in store order.
    fn of(offsets: &[u32], target: &[u32], first_target: u32, run: Range<usize>) -> Incoming {
        let mut at = vec![0u32; run.len() + 1];
        let local = |t: u32| (t - first_target) as usize;
        for &t in target {
            if run.contains(&local(t)) {
                at[local(t) - run.start + 1] += 1;
            }
        }
        for t in 0..run.len() {
            at[t + 1] += at[t];
        }
        let mut fill = at.clone();
        let n = at[run.len()] as usize;
        let (mut synapse, mut group) = (vec![0u32; n], vec![0u32; n]);
        for (g, range) in offsets.windows(2).enumerate() {
            let range = range[0] as usize..range[1] as usize;
            for (i, &to) in target[range.clone()].iter().enumerate().map(|(k, t)| (range.start + k, t)) {
                let t = local(to);
                if run.contains(&t) {
                    let k = &mut fill[t - run.start];
                    (synapse[*k as usize], group[*k as usize]) = (i as u32, g as u32);
                    *k += 1;
                }
            }
        }
        Incoming { at, synapse, group }
    }

    fn list(&self, t: usize) -> (&[u32], &[u32]) {
        let r = self.at[t] as usize..self.at[t + 1] as usize;
        (&self.synapse[r.clone()], &self.group[r])
    }

    fn bytes(&self) -> usize {
        (self.at.len() + self.synapse.len() + self.group.len()) * 4
    }
}

/// Synapses whose incoming lists are built at a time where there is no index (lazy
/// updates): the lists of a run of targets holding about this many, one run after another.
const ORDER_CHUNK: usize = 1 << 23;

/// Calls `f(t, synapses, groups)` for every local target t of a block in turn, with its
/// incoming synapses in store order: from the index, or, without one, from lists built
/// a run of targets at a time (the canonical order of outputs and checkpoints).
fn each_target_in_order(
    offsets: &[u32],
    target: &[u32],
    first_target: u32,
    n_targets: usize,
    index: Option<&Incoming>,
    mut f: impl FnMut(usize, &[u32], &[u32]),
) {
    if let Some(index) = index {
        for t in 0..n_targets {
            let (synapses, groups) = index.list(t);
            f(t, synapses, groups);
        }
        return;
    }
    let per_target = target.len().div_ceil(n_targets.max(1)).max(1);
    let run = (ORDER_CHUNK / per_target).max(1);
    for start in (0..n_targets).step_by(run) {
        let lists = Incoming::of(offsets, target, first_target, start..(start + run).min(n_targets));
        for t in 0..lists.at.len() - 1 {
            let (synapses, groups) = lists.list(t);
            f(start + t, synapses, groups);
        }
    }
}

/// Bytes a plastic projection `p`'s block onto the targets `local` will hold (the
/// planner's figure): per synapse its target, weight, place and group in its target's
/// list and the rule's state; per (source, delay) group an offset and a trace; per
/// target a list start and a trace.
pub fn expected_bytes(desc: &Description, p: &Projection, local: &Range<u64>) -> u64 {
    let per_synapse = p.plasticity.as_ref().map_or(16, |r| r.bytes_per_synapse()) as u64;
    // Lazy updates: a step per group up to which its synapses are settled, a list of
    // recent spikes per target.
    let lazy = p.plasticity.as_ref().is_some_and(|r| r.lazy_horizon().is_some());
    let (per_group, per_target) = if lazy { (4, 24 + 4 * 16) } else { (0, 0) };
    let trace = p.plasticity.as_ref().map_or(12, |r| PreTraces::bytes_per_group(r.pre_decay())) as u64;
    let synapses = super::expected_synapses(desc, p, local);
    let groups = desc.populations[p.source].size * p.delay.count() as u64;
    let targets = local.end.saturating_sub(local.start);
    synapses * per_synapse + groups * (4 + per_group + trace) + targets * (4 + per_target + std::mem::size_of::<PostTrace>() as u64)
}

impl PlasticBlock {
    /// The synapses of plastic projection `p` onto its targets `local` (global ids) in a
    /// store starting at `store_start`.
    pub fn build(desc: &Description, p: &Projection, local: Range<u64>, store_start: u64, kind: usize) -> Result<PlasticBlock, BuildError> {
        let rule = p.plasticity.clone().expect("a plastic projection");
        let present_only = super::present_only(desc, p, &local);
        let Rows::Csr { offsets, records: Records::Exact(records), present, .. } =
            csr_rows(desc, &[(p, local.clone())], store_start, false, present_only)?
        else {
            unreachable!("plastic rows are stored exact, grouped by delay")
        };
        let targets = (local.start - store_start) as u32..(local.end - store_start) as u32;
        let n_targets = (targets.end - targets.start) as usize;
        let groups = offsets.len() - 1;
        let extra = vec![0f32; if rule.holds_extra() { records.len() } else { 0 }];
        let target: Vec<u32> = records.iter().map(|r| r.target).collect();
        let lazy = rule.lazy_horizon().filter(|_| lazy_allowed());
        // The index every postsynaptic spike walks; lazy updates need none.
        let index = lazy.is_none().then(|| Incoming::of(&offsets, &target, targets.start, 0..n_targets));
        Ok(PlasticBlock {
            projection: p.id,
            sources: desc.populations[p.source].gids(),
            delays: super::generate::delay_range(&p.delay),
            kind,
            targets,
            present,
            offsets,
            target,
            weight: records.iter().map(|r| r.weight).collect(),
            extra,
            pre: PreTraces::new(groups, rule.pre_decay()),
            index,
            post: vec![PostTrace::default(); n_targets],
            scratch: Vec::new(),
            arriving: Vec::new(),
            lazy: lazy.map(|horizon| Lazy { horizon, history: vec![VecDeque::new(); n_targets], settled: vec![0; groups] }),
            rule,
        })
    }

    /// The first weight outside the rule's bounds: (synapse, weight, what was expected).
    pub fn invalid_weight(&self) -> Option<(usize, f32, String)> {
        self.weight.iter().enumerate().find_map(|(i, &w)| self.rule.check_weight(w as f64).err().map(|e| (i, w, e)))
    }

    pub fn synapses(&self) -> usize {
        self.weight.len()
    }

    /// Bytes held: rows, rule state, traces and the incoming lists.
    pub fn bytes(&self) -> usize {
        self.offsets.len() * 4
            + self.present.bytes()
            + self.target.len() * 4
            + self.weight.len() * 4
            + self.extra.len() * 4
            + self.pre.bytes()
            + self.index.as_ref().map_or(0, Incoming::bytes)
            + self.lazy.as_ref().map_or(0, |l| l.settled.len() * 4 + l.history.iter().map(|h| 24 + h.capacity() * 4).sum::<usize>())
            + self.post.len() * std::mem::size_of::<PostTrace>()
    }

    /// Every synapse, targets ascending and each target's in store order (sources
    /// ascending, then delays, then drawing order): an order that does not depend on
    /// the partition. `store_start` is the store's first global id.
    pub fn synapses_in_order(&self, store_start: u64, out: &mut Vec<PlasticSynapse>) {
        let n_delays = self.delays.len();
        let sources = (self.sources.end - self.sources.start) as usize;
        let mut source_of_row = Vec::new();
        self.present.for_each_row(sources, |source, row| {
            source_of_row.resize(source_of_row.len().max(row + 1), 0);
            source_of_row[row] = source as u64;
        });
        out.reserve(self.target.len());
        let first = self.targets.start;
        each_target_in_order(&self.offsets, &self.target, first, self.post.len(), self.index.as_ref(), |t, synapses, groups| {
            for (&i, &g) in synapses.iter().zip(groups) {
                let (i, g) = (i as usize, g as usize);
                out.push(PlasticSynapse {
                    source: self.sources.start + source_of_row[g / n_delays],
                    target: store_start + (first as usize + t) as u64,
                    delay: self.delays.start + (g % n_delays) as u32,
                    weight: self.weight[i],
                    extra: self.extra.get(i).copied().unwrap_or(0.0),
                });
            }
        });
    }

    /// Appends the block's state to `out` (whose `first_target` the caller sets), in
    /// the order of `synapses_in_order`.
    pub fn save_state(&self, out: &mut PlasticState) {
        let first = self.targets.start;
        each_target_in_order(&self.offsets, &self.target, first, self.post.len(), self.index.as_ref(), |t, synapses, groups| {
            for (&i, &g) in synapses.iter().zip(groups) {
                out.weight.push(self.weight[i as usize]);
                if !self.extra.is_empty() {
                    out.extra.push(self.extra[i as usize]);
                }
                let pre = self.pre.get(g as usize);
                out.pre_last.push(pre.last);
                out.pre_value.push(pre.value);
            }
            let post = &self.post[t];
            out.post_last.push(post.last);
            out.post_after.push(post.after);
            out.post_before.push(post.before);
        });
    }

    /// Takes the block's state from `from`: its synapses from position `synapse_at`, its
    /// targets from `target_at` (the block's places in `from`'s order). Fails where the
    /// synapses of one (source, delay) group carry different presynaptic traces.
    pub fn load_state(&mut self, from: &PlasticState, synapse_at: usize, target_at: usize) -> Result<(), String> {
        let PlasticBlock { offsets, target, targets, index, weight, extra, pre, post, .. } = self;
        let mut set = vec![false; pre.len()];
        let mut at = synapse_at;
        let mut differs = None;
        each_target_in_order(offsets, target, targets.start, post.len(), index.as_ref(), |t, synapses, groups| {
            for (&i, &g) in synapses.iter().zip(groups) {
                weight[i as usize] = from.weight[at];
                if !extra.is_empty() {
                    extra[i as usize] = from.extra[at];
                }
                let trace = PreTrace { last: from.pre_last[at], value: from.pre_value[at] };
                let g = g as usize;
                if set[g] && pre.get(g) != trace {
                    differs.get_or_insert(at);
                }
                pre.set(g, trace);
                set[g] = true;
                at += 1;
            }
            let k = target_at + t;
            post[t] = PostTrace { last: from.post_last[k], after: from.post_after[k], before: from.post_before[k] };
        });
        match differs {
            Some(at) => Err(format!("synapse {at}'s presynaptic trace differs from its group's")),
            None => Ok(()),
        }
    }

    /// The block's targets, as indices from the store's first global id.
    pub fn local_targets(&self) -> Range<u32> {
        self.targets.clone()
    }

    /// Marks the sources with a synapse here in `needed` (a bit set over global ids).
    pub fn mark_sources(&self, needed: &mut [u64]) {
        let n_delays = self.delays.len();
        let sources = (self.sources.end - self.sources.start) as usize;
        self.present.for_each_row(sources, |source, row| {
            if self.offsets[(row + 1) * n_delays] > self.offsets[row * n_delays] {
                let gid = self.sources.start + source as u64;
                needed[(gid / 64) as usize] |= 1 << (gid % 64);
            }
        });
    }

    /// Of `spikes` (one received list, sorted by step, then id; lists are handed over
    /// oldest first), the groups (source, delay) that arrive in step `step` join the
    /// step's arrivals, which `take_arrivals` then delivers: one pass over the synapses a
    /// step, whatever the number of lists in flight (one per step of the largest delay
    /// where epochs are one step long).
    pub fn gather_arrivals(&mut self, spikes: &[Spike], step: u64) {
        let (first, n_delays) = (self.delays.start as u64, self.delays.len());
        // Spikes of steps step − max delay ..= step − min delay.
        let oldest = step.saturating_sub(self.delays.end as u64 - 1);
        let Some(newest) = step.checked_sub(first) else { return };
        let from = spikes.partition_point(|s| (s.step as u64) < oldest);
        let spikes = &spikes[from..];
        let mut at = 0;
        while let Some(s) = spikes.get(at) {
            if s.step as u64 > newest {
                break;
            }
            if !self.sources.contains(&(s.gid as u64)) {
                // Spikes are sorted by step, then id, and the sources are a run of ids:
                // skip to the step's first source, or past the step.
                let (step_of, gid, start) = (s.step, s.gid as u64, self.sources.start);
                at += if gid < start {
                    spikes[at..].partition_point(|x| x.step == step_of && (x.gid as u64) < start)
                } else {
                    spikes[at..].partition_point(|x| x.step == step_of)
                };
                continue;
            }
            at += 1;
            let Some(row) = self.present.row((s.gid as u64 - self.sources.start) as usize) else { continue };
            let g = row * n_delays + (step - s.step as u64 - first) as usize;
            // The group's offsets and trace are on their way while the rest is gathered.
            crate::simd::prefetch(&self.offsets[g]);
            self.pre.prefetch(g);
            self.arriving.push(g as u32);
        }
    }

    /// The groups gathered for step `step` (`gather_arrivals`) take their arrivals, in
    /// canonical spike order: the rule updates each synapse, and its weight goes into
    /// `input` (the step's slot of the ring, indexed by the store's local ids). Returns
    /// the synaptic events delivered.
    pub fn take_arrivals(&mut self, step: u64, input: &mut [f32]) -> u64 {
        let PlasticBlock { rule, offsets, targets, target, weight, extra, pre, post, lazy, arriving, .. } = self;
        let block = ArrivalParts { offsets, first_target: targets.start, target, weight, extra, pre, post, lazy };
        // One dispatch on the rule per step: the loop is compiled per rule.
        let events = with_kernel!(&*rule, k => arrive_groups(k, block, arriving, step, input));
        arriving.clear();
        events
    }

    /// The store's neurons `spiking` (local ids, ascending) spiked in step `step`: each
    /// of their incoming synapses is updated, then their traces.
    pub fn post_spikes(&mut self, spiking: impl Iterator<Item = u32>, step: u64) {
        let PlasticBlock { rule, targets, target, weight, extra, pre, post, index, scratch, lazy, .. } = self;
        for local in spiking {
            if !targets.contains(&local) {
                continue;
            }
            let t = (local - targets.start) as usize;
            if let Some(l) = lazy.as_mut() {
                // Kept for the next arrivals (`end_step` settles all once a horizon).
                l.history[t].push_back(step as u32);
            } else if let Some(index) = index {
                let (incoming, groups) = index.list(t);
                let synapses = Synapses { target, weight, extra, first_target: targets.start };
                with_kernel!(&*rule, k => spiked(k, synapses, incoming, groups, pre, step, scratch));
            }
            post[t].spike(step, rule.post_decay());
        }
    }

    /// Brings every synapse up to date with its target's spikes before step `step` (lazy
    /// updates; nothing otherwise), and forgets those spikes: before its weights are read,
    /// saved or moved, and once a horizon so that no history grows without bound. The
    /// same operations as at the next arrivals, in the same order, so nothing changes
    /// but when.
    pub fn settle(&mut self, step: u64) {
        let PlasticBlock { rule, offsets, target, weight, extra, pre, lazy, targets, .. } = self;
        let Some(l) = lazy.as_mut() else { return };
        let mut spare = 0f32;
        for (g, group) in offsets.windows(2).enumerate() {
            let (before, from) = (pre.get(g), l.settled[g] as u64);
            l.settled[g] = step as u32;
            if before.last == 0 {
                continue;
            }
            let from = from.max(before.last as u64 - 1);
            for i in group[0] as usize..group[1] as usize {
                let local = (target[i] - targets.start) as usize;
                let e = if extra.is_empty() { &mut spare } else { &mut extra[i] };
                with_kernel!(&*rule, k => catch_up(k, &mut weight[i], e, &l.history[local], before, from..step));
            }
        }
        l.history.iter_mut().for_each(VecDeque::clear);
    }

    /// After step `step`: the rule's periodic update, where one falls due.
    pub fn end_step(&mut self, step: u64) {
        if let Some(horizon) = self.lazy.as_ref().map(|l| l.horizon) {
            if (step + 1).is_multiple_of(horizon) {
                self.settle(step + 1);
            }
        }
        let Some(period) = self.rule.period_steps() else { return };
        if !(step + 1).is_multiple_of(period) {
            return;
        }
        if self.extra.is_empty() {
            let mut spare = 0f32;
            for w in &mut self.weight {
                self.rule.periodic(w, &mut spare);
            }
        } else {
            for (w, e) in self.weight.iter_mut().zip(&mut self.extra) {
                self.rule.periodic(w, e);
            }
        }
    }
}
