//! The communicator of a dry run: this process is one rank of a larger run, and the
//! spikes of every other rank are drawn instead of received — a Poisson train per
//! neuron at a given rate, from the keyed generator (seed, step, range), so that a dry
//! run is as repeatable as a run. A rank's receive work (the spikes to look up and
//! deliver) is then that of the real run at those rates; the exchange itself is not
//! timed but modelled by the caller.
//!
//! Drawing is O(spikes): within a range of neurons firing at one rate, the gap to the
//! next spiking neuron of a step is geometric (Devroye's skip method).

use super::{Communicator, LocalComm};
use crate::rng::{key_for, threefry2x32, unit_f64, Purpose};
use crate::spike::Spike;
use std::ops::Range;
use std::time::{Duration, Instant};

pub struct DrawnComm {
    rank: usize,
    size: usize,
    /// This rank's neurons: their spikes are the backend's, not drawn.
    mine: Range<u64>,
    /// The other neurons by range, each with its probability of a spike in one step.
    drawn: Vec<(Range<u64>, f64)>,
    seed: u64,
    /// Spikes drawn and handed over so far, and the time drawing took (not the rank's).
    pub received: u64,
    pub drawing: Duration,
}

impl DrawnComm {
    /// Rank `rank` of `size`, holding `mine`; every other neuron of `rates` (ranges of
    /// global ids with a rate in Hz) fires as a Poisson process, sampled every `dt_ms`.
    pub fn new(rank: usize, size: usize, mine: Range<u64>, rates: &[(Range<u64>, f64)], dt_ms: f64, seed: u64) -> DrawnComm {
        let mut drawn = Vec::new();
        for (range, hz) in rates {
            let p = (hz * dt_ms / 1000.0).clamp(0.0, 1.0);
            for part in [range.start..range.end.min(mine.start), range.start.max(mine.end)..range.end] {
                if !part.is_empty() && p > 0.0 {
                    drawn.push((part, p));
                }
            }
        }
        drawn.sort_by_key(|(r, _)| r.start);
        DrawnComm { rank, size, mine, drawn, seed, received: 0, drawing: Duration::ZERO }
    }

    /// The drawn spikes of `step` in neurons `range` firing with probability `p`,
    /// ascending, appended to `out`.
    fn draw(&self, k: usize, step: u64, range: &Range<u64>, p: f64, out: &mut Vec<Spike>) {
        let key = key_for(self.seed, Purpose::DryRun);
        let key = threefry2x32([k as u32, (step >> 32) as u32], key);
        let mut counter = 0u32;
        let mut uniform = || {
            let [a, b] = threefry2x32([step as u32, counter], key);
            counter += 1;
            unit_f64(a, b)
        };
        if p >= 1.0 {
            out.extend(range.clone().map(|gid| Spike { step: step as u32, gid: gid as u32 }));
            return;
        }
        // The number of silent neurons before the next spiking one is geometric.
        let Some(log_q) = crate::rng::geometric_log_q(p) else { return };
        let mut gid = range.start;
        loop {
            // NaN (a uniform of exactly 1 cannot occur: 1 − u > 0) or past the range: done.
            let skip = ((1.0 - uniform()).ln() / log_q).floor();
            if skip.is_nan() || skip >= (range.end - gid) as f64 {
                return;
            }
            gid += skip as u64;
            out.push(Spike { step: step as u32, gid: gid as u32 });
            gid += 1;
        }
    }
}

impl Communicator for DrawnComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    /// The epoch's spikes, step by step in id order: those drawn below this rank's
    /// neurons, this rank's own, those drawn above.
    fn exchange(&mut self, first_step: u64, steps: u32, local: &[Spike], global: &mut Vec<Spike>) {
        let t = Instant::now();
        global.clear();
        let mut own = local.iter().peekable();
        for step in first_step..first_step + steps as u64 {
            let before = global.len();
            let mut placed = false;
            for (k, (range, p)) in self.drawn.iter().enumerate() {
                if !placed && range.start >= self.mine.end {
                    while let Some(s) = own.next_if(|s| s.step as u64 == step) {
                        global.push(*s);
                    }
                    placed = true;
                }
                self.draw(k, step, range, *p, global);
            }
            if !placed {
                while let Some(s) = own.next_if(|s| s.step as u64 == step) {
                    global.push(*s);
                }
            }
            self.received += (global.len() - before) as u64;
        }
        self.received -= local.len() as u64;
        self.drawing += t.elapsed();
    }

    // The collectives of one process alone: this rank's values are the totals.
    fn prefix_and_total(&self, values: &[u64]) -> (Vec<u64>, Vec<u64>) {
        LocalComm.prefix_and_total(values)
    }

    fn all_gather_f64(&self, values: &[f64]) -> Vec<f64> {
        LocalComm.all_gather_f64(values)
    }

    fn any(&self, flag: bool) -> bool {
        LocalComm.any(flag)
    }

    /// What this rank sends itself (the others are not there).
    fn all_to_all_u64(&self, sends: &[Vec<u64>]) -> Vec<u64> {
        sends.get(self.rank).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drawn spikes come in (step, id) order around the rank's own, at the rate
    /// asked (within the binomial's spread), the same for the same seed.
    #[test]
    fn drawn_spikes_are_sorted_at_their_rate_and_repeatable() {
        let rates = [(0..40_000u64, 20.0), (40_000..100_000, 5.0)];
        let mut comm = DrawnComm::new(1, 4, 25_000..50_000, &rates, 0.1, 7);
        let own = [Spike { step: 3, gid: 25_000 }, Spike { step: 4, gid: 49_999 }];
        let mut global = Vec::new();
        let mut all = Vec::new();
        for epoch in 0..100u64 {
            let local: Vec<Spike> = own.iter().map(|s| Spike { step: s.step + 10 * epoch as u32, gid: s.gid }).collect();
            comm.exchange(10 * epoch, 10, &local, &mut global);
            assert!(global.is_sorted(), "canonical order");
            assert!(local.iter().all(|s| global.contains(s)), "the rank's own spikes are in");
            all.extend_from_slice(&global);
        }
        let steps = 1000.0;
        let expect = |n: f64, hz: f64| n * hz * 0.1 / 1000.0 * steps;
        let low = all.iter().filter(|s| s.gid < 25_000).count() as f64;
        let high = all.iter().filter(|s| s.gid >= 50_000).count() as f64;
        let mid = all.iter().filter(|s| (40_000..50_000).contains(&s.gid)).count() as f64;
        assert_eq!(mid, 100.0, "none drawn in the rank's own neurons: only its 100 spikes at 49,999");
        for (got, want) in [(low, expect(25_000.0, 20.0)), (high, expect(50_000.0, 5.0))] {
            assert!((got - want).abs() < 5.0 * want.sqrt(), "{got} spikes, expected {want}");
        }
        assert_eq!(comm.received, (low + high) as u64 + all.iter().filter(|s| (25_000..40_000).contains(&s.gid)).count() as u64 - 100);
        let mut again = DrawnComm::new(1, 4, 25_000..50_000, &rates, 0.1, 7);
        let mut first = Vec::new();
        again.exchange(0, 10, &[Spike { step: 3, gid: 25_000 }, Spike { step: 4, gid: 49_999 }], &mut first);
        assert_eq!(first, all[..first.len()], "the same seed draws the same spikes");
    }
}
