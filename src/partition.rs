//! Which rank owns which neurons: contiguous ranges of global ids, cut at multiples of
//! `BLOCK` so that noise pairs, SIMD lanes and the 64-bit words of the exchange's
//! routing bit sets never straddle two ranks, and balanced by estimated cost per step
//! rather than by count, so that populations of a dearer model or with more inputs
//! per neuron spread over more ranks.

use crate::network::Description;
use std::ops::Range;

/// Rank boundaries are multiples of this many ids.
pub const BLOCK: u64 = 64;

/// Measured costs the balance is computed from (BENCHMARKS.md, this machine).
const NOISE_NS: f64 = 0.9;
/// A Poisson stimulus's count per neuron-step (`cargo bench --bench kernels --
/// poisson_events`: 1.55 ns with AVX-512, 2.7 with AVX2; the planner's figure too).
const POISSON_NS: f64 = 1.6;
const EVENT_NS: f64 = 1.0;
/// A plastic synapse's arrival (the rule's update, its target's trace read), and its
/// update at its target's spike: spnet's profile on machine B (issue 29), ~2.2 µs a step
/// for ~300 arrivals and ~1.75 µs for ~720 postsynaptic updates.
const PLASTIC_ARRIVAL_NS: f64 = 7.0;
const PLASTIC_POST_NS: f64 = 2.5;
/// Firing rate assumed for the delivery cost before anything has run.
const ASSUMED_RATE_HZ: f64 = 10.0;

/// Estimated ns per step of one neuron of each population: its update, its noise draw,
/// its Poisson counts, and the synaptic events it receives at `ASSUMED_RATE_HZ` per source.
pub fn cost_per_neuron(desc: &Description) -> Vec<f64> {
    cost_per_neuron_at(desc, None)
}

/// `cost_per_neuron` at the populations' firing rates `rates_hz` where they have been
/// measured: the events a neuron receives follow its sources' rates, and the updates of
/// its plastic synapses at its own spikes its own rate (spnet's inhibitory neurons fire
/// eight times as often as its excitatory ones and cost about twice as much: cut by the
/// estimate at one rate for all, its shards went back and forth across a block of
/// them, 16 re-cuts in a quarter of an hour).
pub fn cost_per_neuron_at(desc: &Description, rates_hz: Option<&[f64]>) -> Vec<f64> {
    let rate = |population: usize| rates_hz.and_then(|r| r.get(population).copied()).unwrap_or(ASSUMED_RATE_HZ);
    let per_step = desc.dt_ms / 1000.0;
    desc.populations
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let per_neuron = |q: &crate::network::Projection| desc.projection_synapses(q) as f64 / p.size.max(1) as f64;
            let inputs: f64 = desc
                .projections
                .iter()
                .filter(|q| q.target == i)
                .map(|q| {
                    let arrival = if q.plasticity.is_some() { PLASTIC_ARRIVAL_NS } else { EVENT_NS };
                    let post = if q.plasticity.is_some() { rate(i) * PLASTIC_POST_NS } else { 0.0 };
                    per_neuron(q) * per_step * (rate(q.source) * arrival + post)
                })
                .sum();
            let noise = if crate::stimulus::draws_noise(&desc.stimuli, i) { NOISE_NS } else { 0.0 };
            let poisson = crate::stimulus::poisson_sources(&desc.stimuli, i) as f64 * POISSON_NS;
            p.model.step_cost_ns() + noise + poisson + inputs
        })
        .collect()
}

/// Cuts the description's ids into `ranks` contiguous ranges of about equal cost.
/// Ranges may be empty when there are fewer blocks than ranks.
pub fn partition(desc: &Description, ranks: usize) -> Vec<Range<u64>> {
    let costs = cost_per_neuron(desc);
    cut_at_equal_cost(0..desc.total_neurons(), ranks, false, |gid| estimated_cost(desc, &costs, 0..gid))
}

/// The estimated cost of the ids `ids`: piecewise linear over the populations.
fn estimated_cost(desc: &Description, costs: &[f64], ids: Range<u64>) -> f64 {
    let count = |p: &crate::network::Population| {
        let gids = p.gids();
        ids.end.min(gids.end).saturating_sub(ids.start.max(gids.start)) as f64
    };
    desc.populations.iter().zip(costs).map(|(p, c)| count(p) * c).sum()
}

/// Cuts `ids` (starting at a multiple of `BLOCK`) into `parts` contiguous ranges of about
/// equal cost, at multiples of `BLOCK`: `cost_below(gid)` is the cost of the ids of
/// `ids` below `gid`, non-decreasing. Each cut falls on the first block boundary whose
/// cost below reaches its share, or, `keep_parts`, on the one before where that would
/// leave nothing above it. Ranges may be empty when there are fewer blocks than parts.
fn cut_at_equal_cost(ids: Range<u64>, parts: usize, keep_parts: bool, cost_below: impl Fn(u64) -> f64) -> Vec<Range<u64>> {
    let total = cost_below(ids.end);
    let mut cuts = vec![ids.start];
    let (first_block, blocks) = (ids.start / BLOCK, ids.end.div_ceil(BLOCK));
    for k in 1..parts {
        let target = total * k as f64 / parts as f64;
        // The first block boundary whose cost below reaches the target.
        let (mut lo, mut hi) = (first_block, blocks);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cost_below((mid * BLOCK).min(ids.end)) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let previous = *cuts.last().expect("non-empty");
        let at = |block: u64| (block * BLOCK).clamp(ids.start, ids.end).max(previous);
        // A cost concentrated in a few blocks (a population of dear neurons) may put the
        // share inside the last block: rounded up, all of it would stay on one side.
        let below = at(lo.saturating_sub(1).max(first_block));
        let empty_above = keep_parts && at(lo) == ids.end && below > previous;
        cuts.push(if empty_above { below } else { at(lo) });
    }
    cuts.push(ids.end);
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Cuts the ids of `pieces` (contiguous ranges in order, each starting at a multiple of
/// `BLOCK`) into `parts` ranges of equal measured cost, where piece i took `seconds[i]`:
/// the measurement sets each piece's total and the estimate (`cost_per_neuron`) only
/// how it spreads over the piece's neurons, so that a piece holding a cheap population
/// and a dear one gives up the dear one's neurons first; the estimate is taken at the
/// populations' measured firing rates `rates_hz` where given. Empty ranges are left out.
pub fn cut_by_measured(
    desc: &Description,
    pieces: &[Range<u64>],
    seconds: &[f64],
    parts: usize,
    rates_hz: Option<&[f64]>,
) -> Vec<Range<u64>> {
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else { return Vec::new() };
    let cost_below = measured_cost_below(desc, pieces, seconds, rates_hz);
    cut_at_equal_cost(first.start..last.end, parts, true, cost_below).into_iter().filter(|r| !r.is_empty()).collect()
}

/// `cut_by_measured`, where the new cut is expected to take at least `min_gain` of the
/// busiest piece's measured time off the busiest range (0: any cut that moves); None
/// where it does not, or does not move. Cuts fall on whole blocks of neurons: where the
/// best lies between two, the one above may be no better than the cut the pieces have
/// (spnet's shards went back and forth across a block of inhibitory neurons).
pub fn cut_if_it_pays(
    desc: &Description,
    pieces: &[Range<u64>],
    seconds: &[f64],
    rates_hz: Option<&[f64]>,
    min_gain: f64,
) -> Option<Vec<Range<u64>>> {
    let cut = cut_by_measured(desc, pieces, seconds, pieces.len(), rates_hz);
    let busiest = |s: &[f64]| s.iter().cloned().fold(0.0, f64::max);
    let predicted = predicted_seconds(desc, pieces, seconds, rates_hz, &cut);
    (cut != pieces && busiest(&predicted) <= (1.0 - min_gain) * busiest(seconds)).then_some(cut)
}

/// The seconds each range of `cut` would take by the measurement `cut_by_measured` cuts
/// by: what a new cut is expected to even out, to be held against the times measured.
fn predicted_seconds(desc: &Description, pieces: &[Range<u64>], seconds: &[f64], rates_hz: Option<&[f64]>, cut: &[Range<u64>]) -> Vec<f64> {
    let cost_below = measured_cost_below(desc, pieces, seconds, rates_hz);
    cut.iter().map(|r| cost_below(r.end) - cost_below(r.start)).collect()
}

/// The measured seconds of the ids of `pieces` below a gid: each piece's time spread
/// over its neurons by the estimate.
fn measured_cost_below<'a>(
    desc: &'a Description,
    pieces: &'a [Range<u64>],
    seconds: &'a [f64],
    rates_hz: Option<&[f64]>,
) -> impl Fn(u64) -> f64 + 'a {
    let costs = cost_per_neuron_at(desc, rates_hz);
    move |gid: u64| -> f64 {
        pieces
            .iter()
            .zip(seconds)
            .map(|(piece, &secs)| {
                if gid >= piece.end {
                    return secs;
                }
                let whole = estimated_cost(desc, &costs, piece.clone());
                let below = estimated_cost(desc, &costs, piece.start..gid.max(piece.start));
                if whole > 0.0 {
                    secs * below / whole
                } else {
                    secs * gid.saturating_sub(piece.start) as f64 / (piece.end - piece.start).max(1) as f64
                }
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn desc(text: &str) -> Description {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(&path, text).unwrap();
        config::load(&path, &Default::default()).unwrap()
    }

    const TWO_POPS: &str = r#"
[simulation]
dt = "1 ms"
duration = "10 ms"
[[population]]
name = "a"
size = 1000
model = "izhikevich"
noise_std = 5.0
parameters = { a = 0.02, b = 0.2, c = -65, d = 8 }
[[population]]
name = "b"
size = 1000
model = "izhikevich"
parameters = { a = 0.02, b = 0.2, c = -65, d = 8 }
[[projection]]
source = "a"
target = "a"
connection = { rule = "fixed_indegree", k = 100 }
weight = 0.1
delay = "1 ms"
"#;

    #[test]
    fn ranges_cover_everything_aligned_and_balance_cost() {
        let d = desc(TWO_POPS);
        for ranks in [1, 2, 3, 4, 7] {
            let parts = partition(&d, ranks);
            assert_eq!(parts.len(), ranks);
            assert_eq!(parts[0].start, 0);
            assert_eq!(parts[ranks - 1].end, 2000);
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start && w[0].end % BLOCK == 0));
        }
        // Population a costs 0.5 + 0.9 + 100·0.01 = 2.4 ns per neuron-step, b 0.5 ns:
        // two ranks split the cost, not the count, so the first rank ends inside a.
        let costs = cost_per_neuron(&d);
        assert!((costs[0] - 2.4).abs() < 1e-9 && (costs[1] - 0.5).abs() < 1e-9, "{costs:?}");
        let parts = partition(&d, 2);
        assert_eq!(parts[0].end, 640, "2400 + 500 ns split at 1450 ns: 604.2 neurons of a, rounded up to a block");
    }

    /// A Poisson stimulus costs a count per neuron-step: on population b it moves the
    /// cut towards b's end.
    #[test]
    fn poisson_inputs_count_in_the_balance() {
        let text = format!("{TWO_POPS}\n[[stimulus]]\npopulation = \"b\"\nkind = \"poisson\"\nrate = 8.0\nindegree = 100\nweight = 1.0\n");
        let d = desc(&text);
        let costs = cost_per_neuron(&d);
        assert!((costs[0] - 2.4).abs() < 1e-9 && (costs[1] - 0.5 - POISSON_NS).abs() < 1e-9, "{costs:?}");
        let parts = partition(&d, 2);
        assert_eq!(parts[0].end, 960, "2400 + 2100 ns split at 2250 ns: 937.5 neurons of a, rounded up to a block");
    }

    /// Measured times move the cut away from the slower piece, inside it by the estimated
    /// costs: the first piece's time sits in population a's neurons (2.4 ns each against
    /// b's 0.5), so it gives up a's neurons first.
    #[test]
    fn a_measured_cut_evens_the_pieces_out_by_their_times() {
        let d = desc(TWO_POPS);
        let pieces = [0..1024, 1024..2000];
        // Equal times: the cut stays where it is.
        assert_eq!(cut_by_measured(&d, &pieces, &[1.0, 1.0], 2, None), vec![0..1024, 1024..2000]);
        // The first piece took 3 s, the second 1 s: 2 s below the cut. The first piece's
        // estimate is 1000 · 2.4 + 24 · 0.5 = 2412, so 2 s lie below 1000 · 2412 / 3 / 2.4
        // = 670 of a's neurons: the next block boundary is 704.
        assert_eq!(cut_by_measured(&d, &pieces, &[3.0, 1.0], 2, None), vec![0..704, 704..2000]);
        // The second piece slower: its neurons all cost b's, spread evenly.
        let cut = cut_by_measured(&d, &pieces, &[1.0, 3.0], 2, None);
        assert_eq!(cut, vec![0..1408, 1408..2000], "1 s of 3 over 976 neurons: 325.3 past 1024, the next block boundary");
        // The time of the second piece all in its last 88 neurons (tests/common's driven
        // sink): the share falls inside the last block, and the cut is the boundary
        // before it, not the end (one shard holding everything).
        let cost_below = |gid: u64| if gid <= 1256 { 0.0 } else { (gid.min(1344) - 1256) as f64 / 88.0 };
        assert_eq!(cut_at_equal_cost(0..1344, 2, true, cost_below), vec![0..1280, 1280..1344]);
        assert_eq!(cut_at_equal_cost(0..1344, 2, false, cost_below), vec![0..1344, 1344..1344], "rounded up");
        // Four parts over four pieces, all covering the ids in order, aligned.
        let four = cut_by_measured(&d, &[0..512, 512..1024, 1024..1536, 1536..2000], &[0.5, 2.0, 1.0, 1.0], 4, None);
        assert_eq!(four.len(), 4);
        assert_eq!((four[0].start, four[3].end), (0, 2000));
        assert!(four.windows(2).all(|w| w[0].end == w[1].start && w[0].end % BLOCK == 0), "{four:?}");
        // A range that does not start at 0 (a rank's), cut inside itself.
        let rank = cut_by_measured(&d, &[1024..1536, 1536..2000], &[1.0, 1.0], 2, None);
        assert_eq!(rank, vec![1024..1536, 1536..2000]);
    }

    /// At measured rates, a neuron's received events follow its sources' rates, and its
    /// plastic synapses' updates at its own spikes its own rate: spnet's inhibitory
    /// neurons (27 Hz, 80 plastic inputs) cost twice its excitatory ones (3.4 Hz), which
    /// the estimate at one assumed rate for all cannot see.
    #[test]
    fn measured_rates_weigh_the_plastic_updates_by_the_targets_own_spikes() {
        let d = desc(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/spnet.toml")).unwrap());
        let update = d.populations[0].model.step_cost_ns();
        let assumed = cost_per_neuron(&d);
        assert!((assumed[0] - assumed[1]).abs() < 0.3, "80 plastic inputs each, at one rate: {assumed:?}");
        let costs = cost_per_neuron_at(&d, Some(&[3.4, 27.0]));
        // exc: 80 plastic inputs at 3.4 Hz (arrivals and own spikes) and 25 static at 27 Hz.
        let exc = update + 80.0 * 1e-3 * (3.4 * PLASTIC_ARRIVAL_NS + 3.4 * PLASTIC_POST_NS) + 25.0 * 1e-3 * 27.0 * EVENT_NS;
        let inh = update + 80.0 * 1e-3 * (3.4 * PLASTIC_ARRIVAL_NS + 27.0 * PLASTIC_POST_NS);
        assert!((costs[0] - exc).abs() < 1e-9 && (costs[1] - inh).abs() < 1e-9, "{costs:?} against {exc}, {inh}");
        assert!(costs[1] > 2.0 * costs[0], "{costs:?}");
        // Two shards measured equal, cut at 512: the predicted times of a cut are the
        // measured ones where it does not move, and follow the neurons' costs where it does.
        let pieces = [0..512, 512..1000];
        let same = predicted_seconds(&d, &pieces, &[1.0, 1.0], Some(&[3.4, 27.0]), &pieces);
        assert!((same[0] - 1.0).abs() < 1e-12 && (same[1] - 1.0).abs() < 1e-12, "{same:?}");
        let moved = predicted_seconds(&d, &pieces, &[1.0, 1.0], Some(&[3.4, 27.0]), &[0..576, 576..1000]);
        assert!((moved[0] + moved[1] - 2.0).abs() < 1e-12 && moved[0] > 1.0, "{moved:?}");
    }

    /// A cut is made where it is expected to take the share asked for off the busiest
    /// piece: pieces of 1.0 and 1.08 s can only move a block of 64 of b's neurons
    /// (0.071 s), which leaves the busiest at 1.071 s, 0.85% less.
    #[test]
    fn a_cut_is_made_where_it_is_expected_to_pay() {
        let d = desc(TWO_POPS);
        let pieces = [0..1024, 1024..2000];
        assert_eq!(cut_if_it_pays(&d, &pieces, &[1.0, 1.0], None, 0.0), None, "it does not move");
        assert_eq!(cut_if_it_pays(&d, &pieces, &[3.0, 1.0], None, 0.02), Some(vec![0..704, 704..2000]), "30% off");
        assert_eq!(cut_if_it_pays(&d, &pieces, &[1.0, 1.08], None, 0.02), None, "0.85% off");
        assert_eq!(cut_if_it_pays(&d, &pieces, &[1.0, 1.08], None, 0.0), Some(vec![0..1088, 1088..2000]), "any cut that moves");
    }

    #[test]
    fn more_ranks_than_blocks_leaves_some_empty() {
        let d = desc(&TWO_POPS.replace("size = 1000", "size = 50"));
        let parts = partition(&d, 4);
        assert_eq!(parts.iter().map(|r| r.end - r.start).sum::<u64>(), 100);
        assert!(parts.iter().any(|r| r.is_empty()));
    }
}
