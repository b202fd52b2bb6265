//! Threads balanced by measurement. After a warm-up, every rank's shards' busy times are
//! compared. Where evening them out would save more of the rest of the run than
//! rebuilding the shards costs (twice over: both are estimates), each rank's shards are
//! cut anew by their measured times (`Backend::rebalance`), with the same spikes as
//! without. Ranks keep their neurons: moving neurons between ranks would change what
//! each rank exchanges and writes.

use crate::backend::CutBy;
use crate::comm::{agree, Communicator};
use crate::engine::Simulation;
use crate::error::Result;
use crate::network::Description;
use std::time::{Duration, Instant};

/// Whether a run's shards are cut anew by their measured times (`--rebalance`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rebalance {
    /// Where the time saved repays the rebuild.
    #[default]
    Auto,
    Never,
    /// Once, after the warm-up, whatever it saves (to check a cut or its results).
    Always,
}

/// Biological time left unmeasured after the start or a re-cut (page faults, cold
/// caches, a network's initial transient), and then measured before a decision.
const WARMUP_MS: f64 = 200.0;
/// The busiest shard must be this much busier than the least for a re-cut: below, the
/// difference is the machine's noise as much as the cut's.
const MIN_SPREAD: f64 = 0.05;
/// The time a re-cut is estimated to save must be this many times its rebuild.
const PAYBACK: f64 = 2.0;
/// Re-cuts in one run at most, each measured after its own warm-up.
const MAX_RECUTS: usize = 16;
/// The share of the busiest shard's time a re-cut must be expected to save (`auto`;
/// `always` cuts whatever it saves).
const MIN_GAIN: f64 = 0.02;
/// Re-cuts in a row that did not narrow the spread, after which no more are made.
const MAX_FAILED_CUTS: u32 = 2;
/// A decision against a re-cut is taken again after a measurement twice as long, up to
/// this share of the run: an imbalance that grows after a network's transient (the
/// microcircuit's: 3% at 200–420 ms, 9% over 10 s) or drifts with it (spnet's weights
/// learn for minutes: 2 re-cuts in its first 4 s left the shards 41% apart over an hour)
/// is then still seen while a long run can repay it.
const MAX_WINDOW_SHARE: u64 = 16;

/// One decision on the shards, taken at a step (collective: the same on every rank).
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Biological time of the decision (ms).
    pub at_ms: f64,
    /// The busiest shard's excess over the least, on the rank where it is largest.
    pub spread: f64,
    /// The estimated time saved over the rest of the run, and what a rebuild costs
    /// (the build's time), in seconds.
    pub gain_secs: f64,
    pub cost_secs: f64,
    pub outcome: Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// Cut anew; the rebuild's time on the slowest rank.
    Recut(Duration),
    /// Not worth a rebuild (auto).
    Kept,
    /// The measured times gave every rank the cut it had.
    Unmoved,
}

pub struct Balancer {
    mode: Rebalance,
    warmup_steps: u64,
    /// The shards' times are measured from this step on (the start, or the last re-cut)
    /// after a warm-up, when they are read for the first time (`baseline`).
    since: u64,
    /// The step and the shards' times when the measurement began.
    baseline: Option<(u64, Vec<f64>)>,
    /// No decision before this step.
    next_at: u64,
    /// Steps measured for the next decision.
    window: u64,
    /// The longest measurement (a share of the run).
    max_window: u64,
    /// The spread the last re-cut was to even out, until the first measurement after it.
    recut_spread: Option<f64>,
    /// Re-cuts in a row after which the first measurement was no narrower.
    failed_cuts: u32,
    cost_secs: f64,
    /// This rank's threads.
    threads: usize,
    finished: bool,
    pub decisions: Vec<Decision>,
}

impl Balancer {
    /// For a run from `first_step` whose backend took `build` to build on this rank
    /// (collective: a re-cut costs the slowest rank's build).
    pub fn new(mode: Rebalance, desc: &Description, first_step: u64, build: Duration, threads: usize, comm: &dyn Communicator) -> Balancer {
        let cost_secs = comm.all_gather_f64(&[build.as_secs_f64()]).into_iter().fold(0.0, f64::max);
        let warmup_steps = (WARMUP_MS / desc.dt_ms).round().max(1.0) as u64;
        Balancer {
            mode,
            warmup_steps,
            since: first_step,
            baseline: None,
            next_at: 0,
            window: warmup_steps,
            max_window: (desc.steps / MAX_WINDOW_SHARE).max(warmup_steps),
            recut_spread: None,
            failed_cuts: 0,
            cost_secs,
            threads: threads.max(1),
            finished: mode == Rebalance::Never,
            decisions: Vec::new(),
        }
    }

    /// Has `sim` count the spikes per population where the shards are watched (not
    /// `--rebalance never`): the firing rates a re-cut estimates the neurons' costs at.
    pub fn count_rates(&self, desc: &Description, sim: &mut Simulation) {
        if !self.finished {
            sim.count_spikes(desc.populations.iter().map(|p| p.gids().start).collect());
        }
    }

    /// Between epochs (collective): once a warm-up has passed since the last cut and then
    /// as long again been measured, decides whether to cut the shards anew, and does.
    pub fn consider(&mut self, desc: &Description, sim: &mut Simulation) -> Result<()> {
        let step = sim.step();
        if self.finished {
            // No re-cut will read the rates again.
            sim.stop_counting_spikes();
            return Ok(());
        }
        if step < self.since + self.warmup_steps || sim.finished() {
            return Ok(());
        }
        let now: Vec<f64> = sim.backend().work_times().shards.iter().map(Duration::as_secs_f64).collect();
        let (from, before) = match &self.baseline {
            Some((from, before)) if step >= self.next_at => (*from, before),
            Some(_) => return Ok(()),
            None => {
                (self.baseline, self.next_at) = (Some((step, now)), step + self.window);
                return Ok(());
            }
        };
        let seconds: Vec<f64> = now.iter().zip(before).map(|(n, b)| n - b).collect();
        let lo = seconds.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = seconds.iter().cloned().fold(0.0, f64::max);
        let mean = seconds.iter().sum::<f64>() / seconds.len().max(1) as f64;
        let all = sim.comm().all_gather_f64(&[hi, mean, lo, seconds.len() as f64, self.threads as f64]);
        let Some(Estimate { spread, gain_secs }) = estimate(&all, step - from, desc.steps.saturating_sub(step)) else {
            self.finished = true;
            return Ok(());
        };
        let may_cut = self.may_cut(spread);
        let cut = match self.mode {
            Rebalance::Always => self.decisions.is_empty(),
            Rebalance::Auto => may_cut && worth_it(spread, gain_secs, self.cost_secs),
            Rebalance::Never => false,
        };
        let mut decision =
            Decision { at_ms: step as f64 * desc.dt_ms, spread, gain_secs, cost_secs: self.cost_secs, outcome: Outcome::Kept };
        if cut {
            let t = Instant::now();
            let min_gain = if self.mode == Rebalance::Always { 0.0 } else { MIN_GAIN };
            let cut_by = CutBy { rates_hz: measured_rates(desc, sim), min_gain };
            let (backend, comm) = sim.backend_and_comm();
            let moved = agree(comm, backend.rebalance(desc, step, &seconds, &cut_by).map_err(|e| e.error))?;
            let took = comm.all_gather_f64(&[t.elapsed().as_secs_f64()]).into_iter().fold(0.0, f64::max);
            let moved = comm.any(moved);
            if moved {
                decision.outcome = Outcome::Recut(Duration::from_secs_f64(took));
                self.recut_at(step, spread);
            } else {
                // The measured times give the cut the shards have (the cut moves by
                // whole blocks of neurons): watched on, as after a decision against.
                decision.outcome = Outcome::Unmoved;
                self.measure_again(step, from, now);
            }
            let recuts = self.decisions.iter().filter(|d| matches!(d.outcome, Outcome::Recut(_))).count() + moved as usize;
            self.finished = recuts >= MAX_RECUTS || self.mode == Rebalance::Always;
        } else {
            self.measure_again(step, from, now);
        }
        self.decisions.push(decision);
        Ok(())
    }

    /// Whether a cut may follow a measured `spread`. The first measurement after a
    /// re-cut tells whether it narrowed the spread it was to even out; after
    /// `MAX_FAILED_CUTS` in a row that did not, no more: a shard's time does not follow
    /// its neurons there (a cost per shard). One failure is let pass, as a window may be
    /// the machine's noise (spnet once read 144% just after a cut, 1% over the hour), or
    /// a cut taken on a noisy window may have made things worse (spnet again: a cut at
    /// 152 s on a 12% spread, then 92% for the rest of the hour while cuts waited for a
    /// narrower reading). A spread that grows later is the network's drift.
    fn may_cut(&mut self, spread: f64) -> bool {
        if let Some(before) = self.recut_spread.take() {
            self.failed_cuts = if spread < before { 0 } else { self.failed_cuts + 1 };
        }
        self.failed_cuts < MAX_FAILED_CUTS
    }

    /// The shards were cut anew at `step` to even out `spread`: a warm-up, then a
    /// measurement as long as the one that led to the cut, so that the measurements grow
    /// through the run, cuts or none: on a machine whose threads are preempted now and
    /// then (machine B, a VM), windows of a few hundred ms read spreads of 20% and more
    /// on shards that are even, and a cut on each (16 in spnet's first 15 minutes) gained
    /// nothing.
    fn recut_at(&mut self, step: u64, spread: f64) {
        (self.since, self.baseline, self.recut_spread) = (step, None, Some(spread));
    }

    /// No cut at `step` after a measurement from `from`: measured again, afresh (a drift
    /// shows in the latest times, not in their sum since the cut), over twice the time,
    /// up to a share of the run.
    fn measure_again(&mut self, step: u64, from: u64, now: Vec<f64>) {
        self.window = (2 * (step - from)).min(self.max_window);
        (self.baseline, self.next_at) = (Some((step, now)), step + self.window);
    }
}

/// Every population's firing rate (Hz) over the run so far, from all ranks' counts
/// (collective); None before any step was counted.
fn measured_rates(desc: &Description, sim: &Simulation) -> Option<Vec<f64>> {
    let (counts, steps) = sim.spike_counts()?;
    let (_, total) = sim.comm().prefix_and_total(counts);
    let seconds = steps as f64 * desc.dt_ms / 1000.0;
    (seconds > 0.0).then(|| desc.populations.iter().zip(&total).map(|(p, &n)| n as f64 / p.size.max(1) as f64 / seconds).collect())
}

/// What evening out the shards would bring: the largest spread between a rank's shards,
/// and the seconds saved over the rest of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Estimate {
    spread: f64,
    gain_secs: f64,
}

/// From every rank's (busiest shard's time, mean shard time, least busy shard's time,
/// shards, threads) over the last `measured` steps, with `remaining` steps to go. A
/// rank's epoch ends when its busiest shard does, or when its threads have run all its
/// shards, whichever is later (threads claim the shards one by one: several shards per
/// thread even out by themselves); once its shards are even, when the threads have run
/// them. The run goes at its slowest rank's pace. None where no rank has two shards.
fn estimate(ranks: &[f64], measured: u64, remaining: u64) -> Option<Estimate> {
    let (mut busiest, mut after, mut spread, mut cuttable) = (0.0f64, 0.0f64, 0.0f64, false);
    for rank in ranks.chunks(5) {
        let (hi, mean, lo, shards, threads) = (rank[0], rank[1], rank[2], rank[3], rank[4]);
        let shared = mean * shards / threads.min(shards).max(1.0);
        busiest = busiest.max(hi.max(shared));
        after = after.max(if shards >= 2.0 { shared } else { hi });
        if shards >= 2.0 {
            cuttable = true;
            spread = spread.max(hi / lo.max(1e-12) - 1.0);
        }
    }
    cuttable.then(|| Estimate { spread, gain_secs: (busiest - after) * remaining as f64 / measured.max(1) as f64 })
}

/// Whether a re-cut pays, where rebuilding costs `cost_secs`.
fn worth_it(spread: f64, gain_secs: f64, cost_secs: f64) -> bool {
    spread > MIN_SPREAD && gain_secs > PAYBACK * cost_secs
}

/// The decisions as the summary's phase line shows them: every re-cut and the last
/// decision; empty where none was taken.
pub fn describe(decisions: &[Decision]) -> String {
    let percent = |spread: f64| format!("{:.0}%", spread * 100.0);
    // Decisions fall on the epoch grid: whole microseconds, without the sums' last bits.
    let ms = |at: f64| (at * 1e3).round() / 1e3;
    let last = decisions.len().saturating_sub(1);
    // The first re-cut, the last, and the last decision: a long run may re-cut many times.
    let recuts: Vec<usize> = (0..decisions.len()).filter(|&k| matches!(decisions[k].outcome, Outcome::Recut(_))).collect();
    let (first_recut, last_recut) = (recuts.first().copied(), recuts.last().copied());
    let between = recuts.len().saturating_sub(2);
    decisions
        .iter()
        .enumerate()
        .filter(|&(k, _)| k == last || Some(k) == first_recut || Some(k) == last_recut)
        .map(|(k, d)| match d.outcome {
            Outcome::Recut(took) if Some(k) == last_recut && between > 0 => format!(
                " | {between} more re-cut{}, the last at {} ms (the busiest {} over the least before; rebuilt in {})",
                if between == 1 { "" } else { "s" },
                ms(d.at_ms),
                percent(d.spread),
                super::fmt_duration(took)
            ),
            Outcome::Recut(took) => format!(
                " | shards re-cut at {} ms by their busy times (the busiest {} over the least before; rebuilt in {})",
                ms(d.at_ms),
                percent(d.spread),
                super::fmt_duration(took)
            ),
            Outcome::Unmoved => format!(
                " | shards kept at {} ms: their measured times (the busiest {} over the least) give the cut they have",
                ms(d.at_ms),
                percent(d.spread)
            ),
            Outcome::Kept => format!(
                " | shards not re-cut at {} ms: the busiest {} over the least would save ~{} of the rest, a rebuild costs ~{}",
                ms(d.at_ms),
                percent(d.spread),
                super::fmt_duration(Duration::from_secs_f64(d.gain_secs.max(0.0))),
                super::fmt_duration(Duration::from_secs_f64(d.cost_secs.max(0.0)))
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimate: the run's epochs wait for the busiest shard of any rank, or for its
    /// threads to run all its shards; evened out, a rank's shards take their share of
    /// the threads, and a rank of one shard keeps its time.
    #[test]
    fn the_gain_is_the_busiest_shards_excess_over_the_rest_of_the_run() {
        // One rank, shards of 1.2 s and 0.8 s over 1000 steps, 9000 to go: 0.2 s per
        // 1000 steps saved, 1.8 s in all.
        let one = estimate(&[1.2, 1.0, 0.8, 2.0, 2.0], 1000, 9000).unwrap();
        assert!((one.spread - 0.5).abs() < 1e-12 && (one.gain_secs - 1.8).abs() < 1e-9, "{one:?}");
        // A second rank of one shard at 1.1 s: evening the first out gains only 0.1 s
        // per 1000 steps.
        let two = estimate(&[1.2, 1.0, 0.8, 2.0, 2.0, 1.1, 1.1, 1.1, 1.0, 1.0], 1000, 9000).unwrap();
        assert!((two.gain_secs - 0.9).abs() < 1e-9, "{two:?}");
        // Eight shards on two threads, the busiest 1.2 s against a mean of 1.0 s: the
        // threads share 8 s, 4 s each, and the busiest shard fits in that. Nothing to gain.
        let shared = estimate(&[1.2, 1.0, 0.8, 8.0, 2.0], 1000, 9000).unwrap();
        assert_eq!(shared.gain_secs, 0.0, "{shared:?}");
        // Three shards on two threads, one of 3 s and two of 0.5 s: the epoch waits for
        // the 3 s shard, against 2 s once even.
        let lumpy = estimate(&[3.0, 4.0 / 3.0, 0.5, 3.0, 2.0], 1000, 1000).unwrap();
        assert!((lumpy.gain_secs - 1.0).abs() < 1e-9, "{lumpy:?}");
        // No rank with two shards: nothing to cut.
        assert_eq!(estimate(&[1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0], 1000, 9000), None);
    }

    /// A balancer at the start of a run of `steps` steps, with a warm-up of 200.
    fn balancer(steps: u64) -> Balancer {
        Balancer {
            mode: Rebalance::Auto,
            warmup_steps: 200,
            since: 0,
            baseline: None,
            next_at: 0,
            window: 200,
            max_window: steps / MAX_WINDOW_SHARE,
            recut_spread: None,
            failed_cuts: 0,
            cost_secs: 0.01,
            threads: 2,
            finished: false,
            decisions: Vec::new(),
        }
    }

    /// A re-cut whose first measurement is no narrower is let pass once (noise, or a
    /// cut on a noisy window); two in a row end the re-cuts. A narrower one resets the
    /// count, and a later spread (drift) may be cut.
    #[test]
    fn two_re_cuts_in_a_row_that_did_not_narrow_the_spread_end_the_re_cuts() {
        let mut b = balancer(3_600_000);
        assert!(b.may_cut(0.56), "the first cut is free");
        b.recut_at(2000, 0.56);
        assert_eq!((b.since, b.window, b.baseline.is_none()), (2000, 200, true), "a warm-up and a measurement afresh");
        b.measure_again(3000, 2400, vec![]);
        b.recut_at(3000, 0.7);
        assert_eq!(b.window, 1200, "as long as the one that led to the cut");
        assert!(b.may_cut(1.44), "one failure: a noisy window just after the cut");
        assert!(b.may_cut(0.9), "later readings are not compared");
        b.recut_at(5000, 0.9);
        assert!(b.may_cut(0.02), "this cut narrowed the spread");
        assert!(b.may_cut(0.41), "drift later may be cut");
        b.recut_at(9000, 0.41);
        assert!(b.may_cut(0.5));
        b.recut_at(12000, 0.5);
        assert!(!b.may_cut(0.5), "a second cut in a row that did not narrow");
        assert!(!b.may_cut(0.01), "and none after");
    }

    /// A decision against a cut measures again over twice the time, from then on, up to
    /// a sixteenth of the run.
    #[test]
    fn measurements_double_up_to_a_share_of_the_run() {
        let mut b = balancer(3_600_000);
        b.measure_again(400, 200, vec![1.0, 2.0]);
        assert_eq!((b.window, b.next_at, b.baseline.clone()), (400, 800, Some((400, vec![1.0, 2.0]))));
        let mut step = 800;
        for _ in 0..20 {
            let from = b.baseline.as_ref().unwrap().0;
            b.measure_again(step, from, vec![]);
            step = b.next_at;
        }
        assert_eq!(b.window, 3_600_000 / 16, "capped");
    }

    fn decision(at_ms: f64, spread: f64, outcome: Outcome) -> Decision {
        Decision { at_ms, spread, gain_secs: 1.0, cost_secs: 0.01, outcome }
    }

    /// The summary names the first re-cut, counts those between, and names the last and
    /// the last decision.
    #[test]
    fn many_re_cuts_are_summed_up_in_one_line() {
        let cut = Outcome::Recut(Duration::from_millis(10));
        let d =
            [decision(2000.0, 0.56, cut), decision(4000.0, 0.3, cut), decision(6000.0, 0.19, cut), decision(10000.0, 0.18, Outcome::Kept)];
        let said = describe(&d);
        assert!(said.starts_with(" | shards re-cut at 2000 ms by their busy times (the busiest 56% over the least before"), "{said}");
        assert!(said.contains(" | 1 more re-cut, the last at 6000 ms (the busiest 19% over the least before; rebuilt in "), "{said}");
        assert!(!said.contains("4000 ms"), "{said}");
        assert!(
            said.ends_with(
                " | shards not re-cut at 10000 ms: the busiest 18% over the least would save ~1.00 s of the rest, a rebuild costs ~10.0 ms"
            ),
            "{said}"
        );
        assert_eq!(describe(&d[..2]).matches("shards re-cut at").count(), 2, "two re-cuts are both named");
    }

    #[test]
    fn a_re_cut_must_repay_its_rebuild_twice_and_the_spread_exceed_the_noise() {
        assert!(worth_it(0.10, 20.1, 10.0));
        assert!(!worth_it(0.10, 19.9, 10.0), "saves less than two rebuilds");
        assert!(!worth_it(0.04, 1000.0, 10.0), "a spread within the noise");
    }
}
