//! Stimuli: currents injected into neurons independently of the network (Arbor's event
//! generators and NEST's noise_generator / dc_generator / step_current_generator play this
//! role). Each is a model-file `[[stimulus]]` on a population or a subset of it; the
//! backend adds them into each step's input current before the neuron model steps.
//!
//! Everything here is a pure function of (seed, neuron id, step), so a stimulus gives the
//! same currents whatever the split into threads and ranks.

use crate::rng;
use std::ops::Range;

/// A stimulus of the description: what, onto which neurons of which population.
#[derive(Clone, Debug, PartialEq)]
pub struct Stimulus {
    pub population: usize,
    pub neurons: Selection,
    pub kind: StimulusKind,
}

/// Which neurons of the population, by index within it.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    All,
    /// Indices `start..end`.
    Range(Range<u64>),
    /// Sorted, distinct indices.
    List(Vec<u64>),
    /// Each neuron independently with this probability, drawn from (seed, neuron id):
    /// the same neurons whatever the split.
    Fraction {
        fraction: f64,
        seed: u64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum StimulusKind {
    /// A Gaussian current of standard deviation `std`, drawn anew for each neuron every
    /// `hold_steps` steps from the window's start (1: each step), held between, 0
    /// outside the window (NEST's noise_generator with its dt, start and stop). `stream`
    /// tells noise stimuli on the same neurons apart (0 for the first one of a
    /// population, as `noise_std` always had).
    Noise { std: f64, stream: u32, window: Window, hold_steps: u64 },
    /// The same current in every step.
    Constant { amplitude: f64 },
    /// `amplitudes[k]` from step `starts[k]` until the next start (0 before the first);
    /// `starts` increasing.
    Step { starts: Vec<u64>, amplitudes: Vec<f64> },
    /// Independent Poisson spike trains onto each neuron (NEST's poisson_generator with
    /// K_ext connections): a Poisson number of events with mean `lambda` per step, each
    /// adding `weight` to the weights arriving in that step, as a synapse's would. Drawn
    /// from (seed, stream, neuron, step), nothing stored; `stream` tells Poisson stimuli
    /// on the same neurons apart.
    Poisson { lambda: f64, weight: f64, stream: u32 },
    /// In each step `count` neurons drawn uniformly (with replacement) from a pool of
    /// `pool` neurons receive `amplitude` for that step: Izhikevich's thalamic input
    /// ("one random neuron per ms receives 20"). The pool is the populations of one
    /// `[[stimulus]]` table, one after the other; this population's neurons are pool
    /// indices `first..first + size`. Drawn from (seed, stream, step, draw): every rank
    /// draws the same indices and keeps those it holds.
    Pick { amplitude: f64, count: u32, pool: u64, first: u64, stream: u32 },
    /// offset + amplitude·sin(radians_per_step·step + phase) within the window, 0
    /// outside (NEST's ac_generator, its time the step's start).
    Sine { amplitude: f64, offset: f64, radians_per_step: f64, phase: f64, window: Window },
}

/// The steps [start, stop) a stimulus acts in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start: u64,
    pub stop: u64,
}

impl StimulusKind {
    /// Whether only the CPU backend runs it (the GPU's stimulus table has no sine, no
    /// windowed or held noise yet).
    pub fn cpu_only(&self) -> bool {
        match self {
            StimulusKind::Sine { .. } => true,
            StimulusKind::Noise { window, hold_steps, .. } => *window != Window::ALWAYS || *hold_steps != 1,
            _ => false,
        }
    }
}

impl Window {
    /// Every step.
    pub const ALWAYS: Window = Window { start: 0, stop: u64::MAX };

    pub fn contains(&self, step: u64) -> bool {
        (self.start..self.stop).contains(&step)
    }
}

impl StimulusKind {
    /// The current of a constant, step or sine stimulus at `step` (0 for noise).
    pub fn amplitude_at(&self, step: u64) -> f64 {
        match self {
            StimulusKind::Noise { .. } | StimulusKind::Poisson { .. } | StimulusKind::Pick { .. } => 0.0,
            StimulusKind::Sine { amplitude, offset, radians_per_step, phase, window } => {
                if window.contains(step) {
                    offset + amplitude * (radians_per_step * step as f64 + phase).sin()
                } else {
                    0.0
                }
            }
            StimulusKind::Constant { amplitude } => *amplitude,
            StimulusKind::Step { starts, amplitudes } => match starts.partition_point(|&s| s <= step) {
                0 => 0.0,
                k => amplitudes[k - 1],
            },
        }
    }
}

impl Selection {
    /// About how many of a population of `size` are selected (a fraction's expectation).
    pub fn count(&self, size: u64) -> f64 {
        match self {
            Selection::All => size as f64,
            Selection::Range(r) => (r.end.min(size).saturating_sub(r.start)) as f64,
            Selection::List(ids) => ids.len() as f64,
            Selection::Fraction { fraction, .. } => size as f64 * fraction,
        }
    }

    /// Whether population-local id `i` (global id `first_gid + i`) is selected.
    pub fn contains(&self, i: u64, first_gid: u64) -> bool {
        match self {
            Selection::All => true,
            Selection::Range(r) => r.contains(&i),
            Selection::List(ids) => ids.binary_search(&i).is_ok(),
            Selection::Fraction { fraction, seed } => in_fraction(*fraction, *seed, first_gid + i),
        }
    }

    /// The population-local ids selected in a population of `size` neurons whose first
    /// has global id `first_gid`, ascending.
    pub fn indices(&self, size: u64, first_gid: u64) -> Vec<u64> {
        match self {
            Selection::All => (0..size).collect(),
            Selection::Range(r) => r.clone().collect(),
            Selection::List(ids) => ids.clone(),
            Selection::Fraction { fraction, seed } => (0..size).filter(|&i| in_fraction(*fraction, *seed, first_gid + i)).collect(),
        }
    }
}

/// Whether neuron `gid` belongs to a fraction selection.
fn in_fraction(fraction: f64, seed: u64, gid: u64) -> bool {
    let key = rng::key_for(seed, rng::Purpose::Selection);
    let [a, b] = rng::threefry2x32([gid as u32, (gid >> 32) as u32], key);
    rng::unit_f64(a, b) < fraction
}

/// Which of a group's neurons a stimulus reaches, as indices within the group.
#[derive(Clone, Debug, PartialEq)]
pub enum Reach {
    All,
    Range(Range<usize>),
    List(Vec<u32>),
}

/// A stimulus as one group of neurons (`first_gid`, `len` neurons) sees it.
#[derive(Clone, Debug)]
pub struct GroupStimulus {
    kind: StimulusKind,
    reach: Reach,
    first_gid: u64,
    /// The group's first neuron as an index within the population.
    offset: u64,
    /// A Poisson stimulus's table, computed once.
    poisson: Option<rng::PoissonTable>,
}

impl GroupStimulus {
    pub fn kind(&self) -> &StimulusKind {
        &self.kind
    }

    /// Which of the group's neurons it reaches.
    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// A Poisson stimulus's CDF at 0, 1, 2, … as 53-bit thresholds
    /// (`rng::poisson_thresholds`); empty for the others.
    pub fn thresholds(&self) -> &[i64] {
        self.poisson.as_ref().map_or(&[], |t| t.thresholds())
    }

    /// Whether it injects a current (else it delivers events, as synapses do).
    pub fn is_current(&self) -> bool {
        !matches!(self.kind, StimulusKind::Poisson { .. })
    }
}

/// The stimuli reaching the neurons `first_gid..first_gid + len` of population `pop`
/// (whose first neuron is `pop_first_gid`), in the order of the model file; those that
/// reach none of them are left out.
pub fn for_group(stimuli: &[Stimulus], pop: usize, pop_first_gid: u64, first_gid: u64, len: usize) -> Vec<GroupStimulus> {
    let offset = first_gid - pop_first_gid;
    let group = offset..offset + len as u64;
    let mut out = Vec::new();
    for s in stimuli.iter().filter(|s| s.population == pop) {
        let reach = match &s.neurons {
            Selection::All => Reach::All,
            Selection::Range(r) => {
                let (lo, hi) = (r.start.max(group.start), r.end.min(group.end));
                if lo >= hi {
                    continue;
                }
                if lo == group.start && hi == group.end {
                    Reach::All
                } else {
                    Reach::Range((lo - offset) as usize..(hi - offset) as usize)
                }
            }
            Selection::List(ids) => {
                let local: Vec<u32> = ids.iter().filter(|i| group.contains(i)).map(|&i| (i - offset) as u32).collect();
                if local.is_empty() {
                    continue;
                }
                Reach::List(local)
            }
            Selection::Fraction { fraction, seed } => {
                let local: Vec<u32> = (0..len as u32).filter(|&i| in_fraction(*fraction, *seed, first_gid + i as u64)).collect();
                if local.is_empty() {
                    continue;
                }
                Reach::List(local)
            }
        };
        let poisson = match s.kind {
            StimulusKind::Poisson { lambda, .. } => Some(rng::PoissonTable::new(lambda)),
            _ => None,
        };
        out.push(GroupStimulus { kind: s.kind.clone(), reach, first_gid, offset, poisson });
    }
    out
}

/// Adds this step's stimulus currents into `input` (the group's input current, which
/// holds the synaptic input already) and returns the current common to the whole group,
/// which the model adds last (net.m's order for its noise: 5·N(0,1) + synaptic input).
/// `normals` is scratch of at least `input.len()` values.
pub fn apply(stimuli: &[GroupStimulus], seed: u64, step: u64, input: &mut [f32], normals: &mut [f32]) -> f32 {
    let mut common = 0.0f32;
    for s in stimuli {
        match &s.kind {
            StimulusKind::Poisson { .. } => {}
            &StimulusKind::Pick { amplitude, count, pool, first, stream } => {
                let start = first + s.offset;
                for draw in 0..count {
                    let picked = rng::pick_index(seed, stream, step, draw, pool);
                    if (start..start + input.len() as u64).contains(&picked) {
                        input[(picked - start) as usize] += amplitude as f32;
                    }
                }
            }
            &StimulusKind::Noise { std, stream, window, hold_steps } => {
                if !window.contains(step) {
                    continue;
                }
                // Held: the normals of the first step of its interval.
                let step = window.start + (step - window.start) / hold_steps * hold_steps;
                let std = std as f32;
                match &s.reach {
                    Reach::All => add_noise(seed, stream, step, s.first_gid, std, input, normals),
                    Reach::Range(r) => add_noise(seed, stream, step, s.first_gid + r.start as u64, std, &mut input[r.clone()], normals),
                    Reach::List(ids) => {
                        for &i in ids {
                            let z = rng::noise_normal(seed, stream, step, s.first_gid + i as u64);
                            input[i as usize] += std * z;
                        }
                    }
                }
            }
            kind => {
                let amplitude = kind.amplitude_at(step) as f32;
                if amplitude == 0.0 {
                    continue;
                }
                match &s.reach {
                    Reach::All => common += amplitude,
                    Reach::Range(r) => input[r.clone()].iter_mut().for_each(|x| *x += amplitude),
                    Reach::List(ids) => ids.iter().for_each(|&i| input[i as usize] += amplitude),
                }
            }
        }
    }
    common
}

/// Adds this step's Poisson events into `weights` (the weights arriving in the step, the
/// delta ring's slot): after the currents, for a model that takes them together.
pub fn apply_events(stimuli: &[GroupStimulus], seed: u64, step: u64, weights: &mut [f32]) {
    for s in stimuli {
        let (StimulusKind::Poisson { weight, stream, .. }, Some(table)) = (&s.kind, &s.poisson) else { continue };
        let (weight, stream) = (*weight, *stream);
        // Every count compares the uniform of block (gid, step) with the CDF's thresholds
        // (the same counts as `rng::poisson_count`'s loop, tested there).
        let key = rng::poisson_key(seed, stream, step);
        let range = match &s.reach {
            Reach::All => 0..weights.len(),
            Reach::Range(r) => r.clone(),
            Reach::List(ids) => {
                for &i in ids {
                    let [a, b] = rng::threefry2x32([(s.first_gid + i as u64) as u32, step as u32], key);
                    let k = rng::poisson_from_thresholds(rng::unit_bits(a, b), table.thresholds());
                    weights[i as usize] += (k as f64 * weight) as f32;
                }
                continue;
            }
        };
        // A run of neurons: their counts drawn across SIMD lanes.
        let first = (s.first_gid + range.start as u64) as u32;
        rng::add_poisson_events(key, step as u32, first, table, weight, &mut weights[range]);
    }
}

/// input[i] += std · z_i, z the noise normals of neurons first_gid + i (net.m sums
/// 5·N(0,1) + synaptic input: the same value, as IEEE addition commutes).
fn add_noise(seed: u64, stream: u32, step: u64, first_gid: u64, std: f32, input: &mut [f32], normals: &mut [f32]) {
    let normals = &mut normals[..input.len()];
    rng::fill_stream_normals(seed, stream, step, first_gid, normals);
    for (x, z) in input.iter_mut().zip(normals.iter()) {
        *x += std * *z;
    }
}

/// How many Poisson stimuli population `pop` receives (each a count per neuron-step:
/// the cost model of the partition counts them).
pub fn poisson_sources(stimuli: &[Stimulus], pop: usize) -> usize {
    stimuli.iter().filter(|s| s.population == pop && matches!(s.kind, StimulusKind::Poisson { .. })).count()
}

/// Whether population `pop` receives noise (which costs a normal per neuron-step: the
/// cost model of the partition counts it).
pub fn draws_noise(stimuli: &[Stimulus], pop: usize) -> bool {
    stimuli.iter().any(|s| s.population == pop && matches!(s.kind, StimulusKind::Noise { std, .. } if std != 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_schedule_holds_each_amplitude_until_the_next_start() {
        let k = StimulusKind::Step { starts: vec![5, 10], amplitudes: vec![2.0, -1.0] };
        let at: Vec<f64> = [0, 4, 5, 9, 10, 1000].iter().map(|&s| k.amplitude_at(s)).collect();
        assert_eq!(at, vec![0.0, 0.0, 2.0, 2.0, -1.0, -1.0]);
    }

    /// A sine acts within its window only, as offset + amplitude·sin(ω·step + phase): at
    /// 10 Hz and dt = 0.1 ms a period is 1000 steps.
    #[test]
    fn a_sine_follows_its_phase_within_its_window() {
        let k = StimulusKind::Sine {
            amplitude: 2.0,
            offset: 0.5,
            radians_per_step: 2.0 * std::f64::consts::PI * 10.0 * 0.1 / 1000.0,
            phase: 90f64.to_radians(),
            window: Window { start: 100, stop: 2000 },
        };
        assert_eq!(k.amplitude_at(99), 0.0);
        assert_eq!(k.amplitude_at(2000), 0.0);
        assert!((k.amplitude_at(1000) - 2.5).abs() < 1e-12, "cos(2π) = 1: {}", k.amplitude_at(1000));
        assert!((k.amplitude_at(500) - (0.5 - 2.0)).abs() < 1e-12);
        assert!((k.amplitude_at(250) - 0.5).abs() < 1e-12);
    }

    /// Noise held over an interval: one value per neuron for `hold_steps` steps from the
    /// window's start (the normal of the interval's first step), none outside the window.
    #[test]
    fn held_noise_keeps_each_value_for_its_interval_within_its_window() {
        let kind = StimulusKind::Noise { std: 3.0, stream: 0, window: Window { start: 10, stop: 40 }, hold_steps: 10 };
        let stimuli = vec![Stimulus { population: 0, neurons: Selection::All, kind }];
        let group = for_group(&stimuli, 0, 0, 0, 4);
        let at = |step: u64| {
            let (mut input, mut normals) = (vec![0.0f32; 4], vec![0.0; 4]);
            apply(&group, 7, step, &mut input, &mut normals);
            input
        };
        assert_eq!(at(9), vec![0.0; 4]);
        assert_eq!(at(40), vec![0.0; 4]);
        for interval in [10, 20, 30] {
            let first = at(interval);
            assert!(first.iter().all(|&x| x != 0.0));
            assert_eq!(first, (0..4).map(|gid| 3.0 * rng::noise_normal(7, 0, interval, gid)).collect::<Vec<_>>());
            assert!((interval..interval + 10).all(|step| at(step) == first));
        }
        assert_ne!(at(10), at(20));
    }

    /// Poisson events: the same counts for a neuron whether its group is whole or cut,
    /// and whether it is reached as part of a run (blocks drawn across SIMD lanes) or
    /// listed (drawn alone), and the counts of `rng::poisson_count`'s loop.
    #[test]
    fn poisson_events_are_the_same_whatever_the_split_and_reach() {
        let poisson = StimulusKind::Poisson { lambda: 2.3, weight: 1.5, stream: 0 };
        let all = vec![Stimulus { population: 0, neurons: Selection::All, kind: poisson.clone() }];
        let listed = vec![Stimulus { population: 0, neurons: Selection::List((0..600).collect()), kind: poisson }];
        let weights = |stimuli: &[Stimulus], cuts: &[usize]| -> Vec<f32> {
            let mut out = Vec::new();
            for w in cuts.windows(2) {
                let group = for_group(stimuli, 0, 100, 100 + w[0] as u64, w[1] - w[0]);
                let mut weights = vec![0f32; w[1] - w[0]];
                apply_events(&group, 42, 9, &mut weights);
                out.extend(weights);
            }
            out
        };
        let whole = weights(&all, &[0, 600]);
        assert_eq!(whole, weights(&all, &[0, 7, 300, 600]));
        assert_eq!(whole, weights(&listed, &[0, 600]));
        // The CDF's search gives the counts of the loop that sums the terms as it goes.
        let looped: Vec<f32> =
            (0..600).map(|i| (crate::rng::poisson_count(42, 0, 9, 100 + i, 2.3, (-2.3f64).exp()) as f64 * 1.5) as f32).collect();
        assert_eq!(whole, looped);
        let mean = whole.iter().sum::<f32>() / 600.0 / 1.5;
        assert!((mean - 2.3).abs() < 4.0 * (2.3f32 / 600.0).sqrt(), "{mean} events per neuron");
    }

    /// A pick stimulus over two populations: in each step exactly `count` draws land,
    /// on the same neurons whatever the split of either population into groups, and
    /// every neuron of the pool is drawn about equally often.
    #[test]
    fn a_pick_stimulus_lands_count_draws_per_step_whatever_the_split() {
        let pick = |population, first| Stimulus {
            population,
            neurons: Selection::All,
            kind: StimulusKind::Pick { amplitude: 20.0, count: 2, pool: 50, first, stream: 3 },
        };
        let stimuli = vec![pick(0, 0), pick(1, 40)];
        // Population 0: 40 neurons from gid 0; population 1: 10 from gid 40.
        let currents = |step: u64, cuts0: &[usize], cuts1: &[usize]| -> Vec<f32> {
            let mut out = Vec::new();
            for (pop, first_gid, cuts) in [(0, 0u64, cuts0), (1, 40, cuts1)] {
                for w in cuts.windows(2) {
                    let group = for_group(&stimuli, pop, first_gid, first_gid + w[0] as u64, w[1] - w[0]);
                    let (mut input, mut normals) = (vec![0f32; w[1] - w[0]], vec![0f32; w[1] - w[0]]);
                    let common = apply(&group, 7, step, &mut input, &mut normals);
                    assert_eq!(common, 0.0);
                    out.extend(input);
                }
            }
            out
        };
        let mut hits = [0u32; 50];
        for step in 0..5000 {
            let whole = currents(step, &[0, 40], &[0, 10]);
            assert_eq!(whole, currents(step, &[0, 13, 29, 40], &[0, 1, 10]), "step {step}");
            assert_eq!(whole.iter().sum::<f32>(), 40.0, "two draws of 20 in step {step}");
            for (h, x) in hits.iter_mut().zip(&whole) {
                *h += (*x / 20.0) as u32;
            }
        }
        // 200 hits expected per neuron (10,000 draws over 50): all within 5 sigma.
        assert!(hits.iter().all(|&h| (130..=270).contains(&h)), "{hits:?}");
    }

    #[test]
    fn a_subset_gets_the_same_currents_whatever_the_split() {
        let stimuli = vec![
            Stimulus {
                population: 0,
                neurons: Selection::Range(3..17),
                kind: StimulusKind::Noise { std: 2.0, stream: 1, window: Window::ALWAYS, hold_steps: 1 },
            },
            Stimulus { population: 0, neurons: Selection::List(vec![1, 8, 19]), kind: StimulusKind::Constant { amplitude: 1.5 } },
            Stimulus {
                population: 0,
                neurons: Selection::Fraction { fraction: 0.5, seed: 9 },
                kind: StimulusKind::Noise { std: 1.0, stream: 2, window: Window::ALWAYS, hold_steps: 1 },
            },
            Stimulus { population: 0, neurons: Selection::All, kind: StimulusKind::Constant { amplitude: 0.25 } },
        ];
        // 20 neurons from gid 100, whole and cut at 7 and 13.
        let currents = |cuts: &[usize]| -> Vec<f32> {
            let mut out = Vec::new();
            for w in cuts.windows(2) {
                let len = w[1] - w[0];
                let group = for_group(&stimuli, 0, 100, 100 + w[0] as u64, len);
                let (mut input, mut normals) = (vec![0.5f32; len], vec![0.0; len]);
                let common = apply(&group, 42, 7, &mut input, &mut normals);
                out.extend(input.iter().map(|x| x + common));
            }
            out
        };
        let whole = currents(&[0, 20]);
        assert_eq!(whole, currents(&[0, 7, 13, 20]));
        assert_eq!(whole[0], 0.5 + 0.25, "neuron 0 gets only the common current");
        assert_ne!(whole[5], 0.75, "neuron 5 gets noise");
        let picked = (0..20).filter(|&i| in_fraction(0.5, 9, 100 + i)).count();
        assert!((4..=16).contains(&picked), "about half of 20: {picked}");
    }
}
