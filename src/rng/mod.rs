//! Counter-based random numbers keyed by global ids (DESIGN.md §1).
//!
//! Every random number in a run is a pure function of (seed, purpose, ids), never the
//! next value of a shared sequential stream, so that the same numbers come out whatever
//! the split of neurons into threads, ranks or GPU workgroups.
//!
//! The core is Threefry-2x32 with 20 rounds (Salmon et al., SC'11, "Parallel random
//! numbers: as easy as 1, 2, 3"): only 32-bit add, rotate and xor, so the same function is
//! written bit for bit in WGSL for the GPU backend. Gaussians come from one Threefry word
//! each by table inversion (`gaussian`): integer operations, two table reads and one
//! multiply-add, which vectorise on the CPU and have an exact twin in WGSL.
//!
//! Connectivity is keyed the same way, down to the synapse: the j-th synapse of a row
//! draws its other end, its weight's uniforms and its delay from Threefry blocks with
//! counter (j, lane) under the row's key, so any synapse of a row can be drawn on its
//! own — by one GPU thread as well as by a CPU loop — and the structure draws are integer
//! only (`below`), the same on every device (`shaders/connectivity.wgsl` is the twin).

use crate::gaussian::{self, gaussian};
#[cfg(target_arch = "x86_64")]
mod poisson_lanes;

/// What a random number is for; part of the key so that streams never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    /// Per-neuron uniform `r` of the parameter expressions.
    NeuronParameter = 1,
    /// Per-step noise current.
    Noise = 2,
    /// Synapses of one projection onto one target.
    Connectivity = 3,
    /// Membership of a neuron in a stimulus's random fraction of a population.
    Selection = 4,
    /// Event counts of Poisson stimuli.
    Poisson = 5,
    /// The spikes a dry run draws for the ranks it does not build.
    DryRun = 6,
    /// The neurons a pick stimulus draws in each step.
    Pick = 7,
}

const SKEIN_KS_PARITY32: u32 = 0x1BD1_1BDA;
const ROTATIONS: [u32; 8] = [13, 15, 26, 6, 17, 29, 16, 24];

/// Threefry-2x32-20 block function: counter `ctr` under key `key`.
#[inline(always)]
pub fn threefry2x32(ctr: [u32; 2], key: [u32; 2]) -> [u32; 2] {
    let ks = [key[0], key[1], SKEIN_KS_PARITY32 ^ key[0] ^ key[1]];
    let mut x0 = ctr[0].wrapping_add(ks[0]);
    let mut x1 = ctr[1].wrapping_add(ks[1]);
    // Five groups of four rounds, each followed by a key injection.
    for group in 0..5u32 {
        for r in 0..4usize {
            x0 = x0.wrapping_add(x1);
            x1 = x1.rotate_left(ROTATIONS[(group as usize % 2) * 4 + r]);
            x1 ^= x0;
        }
        let i = group + 1;
        x0 = x0.wrapping_add(ks[(i % 3) as usize]);
        x1 = x1.wrapping_add(ks[((i + 1) % 3) as usize]).wrapping_add(i);
    }
    [x0, x1]
}

/// The two key words for a (seed, purpose) pair. The seed's high bits go into the
/// second word so that seeds up to 2^32 · 2^28 stay distinct per purpose.
#[inline(always)]
pub fn key_for(seed: u64, purpose: Purpose) -> [u32; 2] {
    let lo = seed as u32;
    let hi = ((seed >> 32) as u32).wrapping_mul(16) ^ (purpose as u32);
    [lo, hi]
}

/// 2⁵³: `unit_f64` is `unit_bits` over this.
const TWO_TO_53: f64 = 9_007_199_254_740_992.0;

/// The 53 random bits of `unit_f64` as an integer in [0, 2⁵³).
#[inline(always)]
pub fn unit_bits(hi: u32, lo: u32) -> i64 {
    let bits = ((hi as u64) << 21) ^ ((lo as u64) >> 11);
    (bits & ((1u64 << 53) - 1)) as i64
}

/// A uniform double in [0, 1) from 53 random bits.
#[inline(always)]
pub fn unit_f64(hi: u32, lo: u32) -> f64 {
    unit_bits(hi, lo) as f64 * (1.0 / TWO_TO_53)
}

/// ln(1 − p), the divisor of geometric skips (the gap before the next pair chosen with
/// probability `p`, `floor(ln(1 − u) / ln(1 − p))`), for 0 ≤ p < 1; None where p ≤ 0:
/// nothing is chosen (a divisor of 0 would make every gap −∞ and choose everything).
/// Where 1 − p rounds to 1 (p below 1.1e-16), ln_1p keeps it from 0; elsewhere the plain
/// form, which every network drawn so far was drawn with.
pub fn geometric_log_q(p: f64) -> Option<f64> {
    if p.is_nan() || p <= 0.0 {
        return None;
    }
    let log_q = (1.0 - p).ln();
    Some(if log_q == 0.0 { (-p).ln_1p() } else { log_q })
}

/// The per-neuron uniform `r` in [0, 1) of neuron `gid`: the same value for every
/// parameter of that neuron (net.m uses one `re`/`ri` per neuron for all of a, b, c, d).
pub fn neuron_uniform(seed: u64, gid: u64) -> f64 {
    let [a, b] = threefry2x32([gid as u32, (gid >> 32) as u32], key_for(seed, Purpose::NeuronParameter));
    unit_f64(a, b)
}

/// The key of projection `projection`'s synapses in a run of seed `seed`: every row key
/// of the projection derives from it (one Threefry block, so projections never share rows).
pub fn projection_key(seed: u64, projection: u32) -> [u32; 2] {
    threefry2x32([projection, 0], key_for(seed, Purpose::Connectivity))
}

/// The key of the row of neuron `gid` (its inputs for per-target rules, its outputs for
/// per-source rules) in the projection keyed `projection_key`.
#[inline]
pub fn row_key(projection_key: [u32; 2], gid: u64) -> [u32; 2] {
    threefry2x32([gid as u32, (gid >> 32) as u32], projection_key)
}

/// The lanes of a synapse's blocks: block (j, lane) under the row key.
pub mod lane {
    /// The j-th draw of a row's other ends (for rules that reject, the j-th attempt).
    pub const OTHER: u32 = 0;
    /// The weight's uniforms u, u2, u3 of synapse j: lanes 1, 2, 3.
    pub const WEIGHT: u32 = 1;
    /// The delay of synapse j (a normal delay: the block's first word, table-inverted).
    pub const DELAY: u32 = 4;
    /// Draws again of a redrawn weight or delay: redraw a ≥ 0 takes the first word of
    /// lane REDRAW + 4a for a weight, of lane REDRAW + 4a + 2 for a delay.
    pub const REDRAW: u32 = 32;
}

/// A uniform integer in [0, n) from a block's 64 bits (first word high): the high word
/// of the 96-bit product, computed from two 32×32-bit products so that WGSL, which has
/// no 64-bit integers, computes the same number. Exact: floor(bits · n / 2^64).
#[inline(always)]
pub fn below(words: [u32; 2], n: u32) -> u32 {
    let high = words[0] as u64 * n as u64;
    let low = (words[1] as u64 * n as u64) >> 32;
    ((high + low) >> 32) as u32
}

crate::simd::dispatch!(
/// Blocks (first + i, lane) under `key` for i in 0..a.len(): words into `a` and `b`.
pub fn fill_blocks(key: [u32; 2], lane: u32, first: u32, a: &mut [u32], b: &mut [u32]) => fill_blocks_kernel);

#[inline(always)]
fn fill_blocks_kernel(key: [u32; 2], lane: u32, first: u32, a: &mut [u32], b: &mut [u32]) {
    debug_assert_eq!(a.len(), b.len());
    // Fixed-size chunks so that the compiler runs Threefry across SIMD lanes.
    const LANES: usize = 16;
    let whole = a.len() / LANES * LANES;
    for (c, (ca, cb)) in a[..whole].chunks_exact_mut(LANES).zip(b[..whole].chunks_exact_mut(LANES)).enumerate() {
        let base = first.wrapping_add((c * LANES) as u32);
        let mut wa = [0u32; LANES];
        let mut wb = [0u32; LANES];
        for l in 0..LANES {
            [wa[l], wb[l]] = threefry2x32([base.wrapping_add(l as u32), lane], key);
        }
        ca.copy_from_slice(&wa);
        cb.copy_from_slice(&wb);
    }
    for i in whole..a.len() {
        [a[i], b[i]] = threefry2x32([first.wrapping_add(i as u32), lane], key);
    }
}

crate::simd::dispatch!(
/// Standard normals of noise stream `stream` for neurons `first_gid .. first_gid +
/// out.len()` at time step `step`: neuron g uses lane g mod 2 of the Threefry block with
/// counter (step, g / 2), so any split of the id range gives the same numbers.
pub fn fill_stream_normals(seed: u64, stream: u32, step: u64, first_gid: u64, out: &mut [f32]) => fill_noise_normals_kernel);

/// `fill_stream_normals` of stream 0: a population's first noise.
pub fn fill_noise_normals(seed: u64, step: u64, first_gid: u64, out: &mut [f32]) {
    fill_stream_normals(seed, 0, step, first_gid, out)
}

/// The key of noise stream `stream` in the steps sharing `step`'s high 32 bits; stream 0
/// is the one every population's noise used before there were several.
#[inline(always)]
fn noise_key(seed: u64, stream: u32, step: u64) -> [u32; 2] {
    let key = key_for(seed, Purpose::Noise);
    [key[0] ^ stream.wrapping_mul(0x85EB_CA6B), key[1] ^ ((step >> 32) as u32).wrapping_mul(0x9E37_79B9)]
}

/// The number of events a Poisson stimulus (`stream`) delivers to neuron `gid` in step
/// `step`, with `lambda` events expected per step and `exp_neg_lambda` = e^−λ: one
/// Threefry block per neuron-step, inverted by summing the probabilities of 0, 1, 2, …
/// events (about λ + 1 terms; λ is at most 100, so e^−λ stays a normal f64).
pub fn poisson_count(seed: u64, stream: u32, step: u64, gid: u64, lambda: f64, exp_neg_lambda: f64) -> u32 {
    let [a, b] = threefry2x32([gid as u32, step as u32], poisson_key(seed, stream, step));
    poisson_invert(unit_f64(a, b), lambda, exp_neg_lambda)
}

/// The key of a Poisson stimulus's counts in `step`: block (gid, step) under it is the
/// uniform of neuron `gid` (so `fill_blocks` with lane = step draws a range of neurons).
pub fn poisson_key(seed: u64, stream: u32, step: u64) -> [u32; 2] {
    let key = key_for(seed, Purpose::Poisson);
    [key[0] ^ stream.wrapping_mul(0x85EB_CA6B), key[1] ^ ((step >> 32) as u32).wrapping_mul(0x9E37_79B9)]
}

/// The `draw`-th neuron a pick stimulus of stream `stream` draws in `step`, uniform in
/// `0..pool` (a 64-bit uniform scaled by multiplication: a bias below pool/2⁶⁴).
pub fn pick_index(seed: u64, stream: u32, step: u64, draw: u32, pool: u64) -> u64 {
    let key = key_for(seed, Purpose::Pick);
    let key = [key[0] ^ stream.wrapping_mul(0x85EB_CA6B), key[1] ^ draw.wrapping_mul(0x9E37_79B9)];
    let [a, b] = threefry2x32([step as u32, (step >> 32) as u32], key);
    let x = ((a as u64) << 32) | b as u64;
    ((x as u128 * pool as u128) >> 64) as u64
}

/// The Poisson CDF at 0, 1, 2, … for as long as the terms are not 0, summed as
/// `poisson_invert` sums them: counting the entries ≤ u gives its count, without a
/// division per term.
/// The table ends at the first entry above the largest uniform (`unit_f64` < 1 − 2⁻⁵³),
/// which no u reaches.
pub fn poisson_cdf(lambda: f64, exp_neg_lambda: f64) -> Vec<f64> {
    const LARGEST_U: f64 = 1.0 - 1.0 / 9_007_199_254_740_992.0;
    let (mut k, mut p, mut below) = (0u32, exp_neg_lambda, exp_neg_lambda);
    let mut cdf = Vec::new();
    while p > 0.0 {
        cdf.push(below);
        if below > LARGEST_U {
            break;
        }
        k += 1;
        p *= lambda / k as f64;
        below += p;
    }
    cdf
}

/// A `poisson_cdf` table as 53-bit integer thresholds ceil(c·2⁵³): the uniform
/// `unit_bits`·2⁻⁵³ is below c exactly when `unit_bits` is below c's threshold (c·2⁵³ is
/// exact, and an integer is below a real exactly when it is below its ceiling). So a count
/// is a number of integer compares, which run across SIMD lanes (`PoissonTable`)
/// without a branch per entry, and on the GPU (shaders/update.wgsl) without f64.
pub fn poisson_thresholds(cdf: &[f64]) -> Vec<i64> {
    cdf.iter().map(|&c| (c * TWO_TO_53).ceil() as i64).collect()
}

/// A Poisson stimulus's table for `add_poisson_events`: the CDF's thresholds, and the
/// high 32 bits of its first ones (the window), which settle almost every count with
/// 32-bit compares — twice the SIMD lanes of 64-bit ones, and no widening of the block's
/// words: `unit_bits` is the block's first word above 21 bits of its second.
#[derive(Clone, Debug)]
pub struct PoissonTable {
    thresholds: Vec<i64>,
    /// Thresholds ≫ 21, saturated to u32::MAX (a threshold ≥ 2⁵³ that no uniform
    /// reaches), with the sign bit flipped so that signed compares order them as
    /// unsigned ones (AVX2 has no unsigned compare); padded (see `counts`).
    window: Vec<i32>,
    window_len: usize,
}

impl PoissonTable {
    /// The table of λ events expected per step.
    pub fn new(lambda: f64) -> PoissonTable {
        let thresholds = poisson_thresholds(&poisson_cdf(lambda, (-lambda).exp()));
        // Enough entries that fewer than 2⁻²⁰ of the counts go on past them (λ = 1.6:
        // 10), so that the rest of the table is searched for about one neuron in a million.
        const BEYOND: i64 = 1 << 33; // 2⁵³ · 2⁻²⁰
        let len = thresholds.iter().position(|&t| t > (1i64 << 53) - BEYOND).map_or(thresholds.len(), |i| i + 1);
        let mut window: Vec<i32> = thresholds[..len].iter().map(|&t| Self::flip((t >> 21).min(u32::MAX as i64) as u32)).collect();
        window.resize(len.next_multiple_of(4), Self::flip(u32::MAX));
        PoissonTable { thresholds, window, window_len: len }
    }

    #[inline(always)]
    fn flip(x: u32) -> i32 {
        (x ^ 0x8000_0000) as i32
    }

    /// The window's entries: high words, sign-flipped, padded to a multiple of 4.
    fn window_entries(&self) -> &[i32] {
        &self.window
    }

    /// The 53-bit thresholds (`poisson_thresholds`).
    pub fn thresholds(&self) -> &[i64] {
        &self.thresholds
    }

    /// How many thresholds every uniform is compared with.
    pub fn window(&self) -> usize {
        self.window_len
    }

    /// `poisson_from_thresholds` of the uniforms of blocks `[a[l], b[l]]` into `k[l]`.
    /// With a = the first word, a threshold t is at or below `unit_bits` when
    /// a > t ≫ 21, or when a = t ≫ 21 and the low 21 bits decide: so lanes whose a equals
    /// a window entry's high word (about 2⁻²⁹ of them), and those past the window, are
    /// settled by the full search instead. The loops run over lanes innermost, and over
    /// more lanes than the compiler unrolls, so that it vectorizes them across lanes (with
    /// 16, it unrolled them and vectorized the loop over thresholds instead: 1.5× slower).
    #[inline(always)]
    fn counts(&self, a: &[u32], b: &[u32], k: &mut [u32]) {
        let n = k.len();
        assert!(n <= POISSON_RUN && a.len() >= n && b.len() >= n, "a chunk of at most {POISSON_RUN} lanes");
        let (a, b) = (&a[..n], &b[..n]);
        let mut high = [0i32; POISSON_RUN];
        let mut ties = [0u32; POISSON_RUN];
        let (high, ties) = (&mut high[..n], &mut ties[..n]);
        for (h, &a) in high.iter_mut().zip(a) {
            *h = Self::flip(a);
        }
        k.fill(0);
        // Four thresholds per pass over the lanes: a quarter of the loads and stores of
        // the counts. The window is padded to a multiple of 4 with the largest high word,
        // which no lane is above (and a lane equal to it is settled exactly).
        for t in self.window.chunks_exact(4) {
            for ((k, tie), &h) in k.iter_mut().zip(ties.iter_mut()).zip(high.iter()) {
                *k += (h > t[0]) as u32 + (h > t[1]) as u32 + (h > t[2]) as u32 + (h > t[3]) as u32;
                *tie |= ((h == t[0]) | (h == t[1]) | (h == t[2]) | (h == t[3])) as u32;
            }
        }
        // Past the window: k = its length, where more thresholds follow.
        let past = if self.window_len < self.thresholds.len() { self.window_len as u32 } else { u32::MAX };
        let exact = k.iter().zip(ties.iter()).fold(false, |any, (&k, &tie)| any | (tie != 0) | (k == past));
        if exact {
            for l in 0..n {
                if ties[l] != 0 || k[l] == past {
                    k[l] = poisson_from_thresholds(unit_bits(a[l], b[l]), &self.thresholds);
                }
            }
        }
    }
}

/// Neurons whose Poisson counts `add_poisson_events` draws together.
const POISSON_RUN: usize = 256;

/// `poisson_invert` of the uniform `bits`·2⁻⁵³ from `poisson_thresholds`: the number of
/// thresholds at or below `bits` (they never decrease, so that is the first one above it).
#[inline]
pub fn poisson_from_thresholds(bits: i64, thresholds: &[i64]) -> u32 {
    thresholds.partition_point(|&t| t <= bits) as u32
}

/// Adds the weight of neuron `first + i`'s Poisson count, `(k as f64 · weight) as f32`,
/// into `weights[i]`, its count k drawn from block (gid, `lane`) under `key` with
/// `table`: counted in SIMD lanes with intrinsics where the table's window fits
/// (`poisson_lanes`), else by `PoissonTable::counts`, compiled for the widest
/// instruction set. (A search per neuron ends at a data-dependent entry: its
/// mispredicted branches cost more than the block itself — 60% of the microcircuit's
/// update, BENCHMARKS.md.)
pub fn add_poisson_events(key: [u32; 2], lane: u32, first: u32, table: &PoissonTable, weight: f64, weights: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(lanes) = poisson_lanes::Lanes::new(table, weight) {
        match crate::simd::level() {
            // SAFETY: the CPU has the instruction set (checked at run time).
            crate::simd::Level::Avx512 => return unsafe { add_poisson_events_avx512(key, lane, first, &lanes, weights) },
            crate::simd::Level::Avx2 => return unsafe { add_poisson_events_avx2(key, lane, first, &lanes, weights) },
            crate::simd::Level::Baseline => {}
        }
    }
    add_poisson_events_portable(key, lane, first, table, weight, weights)
}

crate::simd::dispatch!(
/// `add_poisson_events` with the portable count.
fn add_poisson_events_portable(key: [u32; 2], lane: u32, first: u32, table: &PoissonTable, weight: f64, weights: &mut [f32]) => add_poisson_events_kernel);

#[inline(always)]
fn add_poisson_events_kernel(key: [u32; 2], lane: u32, first: u32, table: &PoissonTable, weight: f64, weights: &mut [f32]) {
    let (mut a, mut b) = ([0u32; POISSON_RUN], [0u32; POISSON_RUN]);
    for (c, out) in weights.chunks_mut(POISSON_RUN).enumerate() {
        let n = out.len();
        fill_blocks_kernel(key, lane, first.wrapping_add((c * POISSON_RUN) as u32), &mut a[..n], &mut b[..n]);
        add_counts(table, weight, &a[..n], &b[..n], out);
    }
}

/// Adds the weights of the counts of blocks `(a[l], b[l])` into `out[l]`.
#[inline(always)]
fn add_counts(table: &PoissonTable, weight: f64, a: &[u32], b: &[u32], out: &mut [f32]) {
    let mut k = [0u32; POISSON_RUN];
    let k = &mut k[..out.len()];
    table.counts(a, b, k);
    for (w, &k) in out.iter_mut().zip(k.iter()) {
        // No event adds nothing (not +0.0, which would turn a −0.0 into +0.0).
        let add = (k as f64 * weight) as f32;
        *w = if k > 0 { *w + add } else { *w };
    }
}

/// `add_poisson_events` with AVX-512: Threefry compiled for it, the counts in lanes.
///
/// # Safety
/// The CPU has AVX-512 F and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn add_poisson_events_avx512(key: [u32; 2], lane: u32, first: u32, lanes: &poisson_lanes::Lanes, weights: &mut [f32]) {
    add_poisson_events_in_lanes(poisson_lanes::add_counts_avx512, key, lane, first, lanes, weights)
}

/// `add_poisson_events_avx512` with AVX2.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_poisson_events_avx2(key: [u32; 2], lane: u32, first: u32, lanes: &poisson_lanes::Lanes, weights: &mut [f32]) {
    add_poisson_events_in_lanes(poisson_lanes::add_counts_avx2, key, lane, first, lanes, weights)
}

/// The blocks of `add_poisson_events`, counted by `count` in the leading lanes of each
/// run and by `add_counts` in the rest. Inlined into a caller compiled for `count`'s
/// instruction set, which the caller's CPU has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn add_poisson_events_in_lanes(
    count: poisson_lanes::CountLanes,
    key: [u32; 2],
    lane: u32,
    first: u32,
    lanes: &poisson_lanes::Lanes,
    weights: &mut [f32],
) {
    let (mut a, mut b) = ([0u32; POISSON_RUN], [0u32; POISSON_RUN]);
    for (c, out) in weights.chunks_mut(POISSON_RUN).enumerate() {
        let n = out.len();
        fill_blocks_kernel(key, lane, first.wrapping_add((c * POISSON_RUN) as u32), &mut a[..n], &mut b[..n]);
        let done = count(lanes, &a[..n], &b[..n], out);
        add_counts(lanes.table(), lanes.weight(), &a[done..n], &b[done..n], &mut out[done..]);
    }
}

/// The Poisson count whose CDF first exceeds `u`.
#[inline]
pub fn poisson_invert(u: f64, lambda: f64, exp_neg_lambda: f64) -> u32 {
    let (mut k, mut p, mut below) = (0u32, exp_neg_lambda, exp_neg_lambda);
    // Ends where the sum passes u, or where the terms underflow (u within rounding of 1).
    while u >= below && p > 0.0 {
        k += 1;
        p *= lambda / k as f64;
        below += p;
    }
    k
}

/// ln k!, exact sums below 256 and Stirling's series above (relative error < 10⁻¹⁶).
pub fn ln_factorial(k: u64) -> f64 {
    if k < 256 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let x = k as f64;
    let inv = 1.0 / x;
    x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + inv * (1.0 / 12.0 - inv * inv * (1.0 / 360.0 - inv * inv / 1260.0))
}

/// A Binomial(n, p) count from one uniform `u` in [0, 1): the outcomes taken outward from
/// the mode (m, m + 1, m − 1, m + 2, …) and `u` inverted over that order, which is exact
/// whatever the order; about √(n·p·(1 − p)) terms, the mode's probability from
/// `ln_factorial`.
pub fn binomial(n: u64, p: f64, u: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    let q = 1.0 - p;
    let m = (((n as f64 + 1.0) * p).floor() as u64).min(n);
    let pm = (ln_factorial(n) - ln_factorial(m) - ln_factorial(n - m) + m as f64 * p.ln() + (n - m) as f64 * q.ln()).exp();
    let ratio = p / q;
    let mut sum = pm;
    if u < sum {
        return m;
    }
    let (mut up, mut down, mut p_up, mut p_down) = (m, m, pm, pm);
    loop {
        if up < n {
            p_up *= (n - up) as f64 / (up + 1) as f64 * ratio;
            up += 1;
            sum += p_up;
            if u < sum {
                return up;
            }
        }
        if down > 0 {
            p_down *= down as f64 / (n - down + 1) as f64 / ratio;
            down -= 1;
            sum += p_down;
            if u < sum {
                return down;
            }
        }
        // u within rounding of 1: both tails spent.
        if (up == n || p_up < 1e-300) && (down == 0 || p_down < 1e-300) {
            return m;
        }
    }
}

/// The normal `fill_stream_normals` gives neuron `gid`, alone.
pub fn noise_normal(seed: u64, stream: u32, step: u64, gid: u64) -> f32 {
    let [a, b] = threefry2x32([step as u32, (gid / 2) as u32], noise_key(seed, stream, step));
    gaussian(if gid.is_multiple_of(2) { a } else { b }, gaussian::table())
}

#[inline(always)]
fn fill_noise_normals_kernel(seed: u64, stream: u32, step: u64, first_gid: u64, out: &mut [f32]) {
    if out.is_empty() {
        return;
    }
    let key = noise_key(seed, stream, step);
    let step_lo = step as u32;
    let mut i = 0usize;
    let mut gid = first_gid;
    let table = gaussian::table();
    if gid % 2 == 1 {
        let [_, b] = threefry2x32([step_lo, (gid / 2) as u32], key);
        out[0] = gaussian(b, table);
        i = 1;
        gid += 1;
    }
    // Blocks of pairs, written so that the compiler vectorises across lanes: first the
    // Threefry blocks, then the table inversions (gathers), then the interleaving store.
    const LANES: usize = 16;
    while i + 2 * LANES <= out.len() {
        let pair0 = (gid / 2) as u32;
        let mut a = [0u32; LANES];
        let mut b = [0u32; LANES];
        for l in 0..LANES {
            [a[l], b[l]] = threefry2x32([step_lo, pair0.wrapping_add(l as u32)], key);
        }
        let mut z0 = [0f32; LANES];
        let mut z1 = [0f32; LANES];
        for l in 0..LANES {
            z0[l] = gaussian(a[l], table);
            z1[l] = gaussian(b[l], table);
        }
        let block = &mut out[i..i + 2 * LANES];
        for l in 0..LANES {
            block[2 * l] = z0[l];
            block[2 * l + 1] = z1[l];
        }
        i += 2 * LANES;
        gid += 2 * LANES as u64;
    }
    while i < out.len() {
        let [a, b] = threefry2x32([step_lo, (gid / 2) as u32], key);
        out[i] = gaussian(a, table);
        if i + 1 < out.len() {
            out[i + 1] = gaussian(b, table);
        }
        i += 2;
        gid += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_skips_choose_nothing_at_p_0_and_something_at_tiny_p() {
        assert_eq!(geometric_log_q(0.0), None);
        assert_eq!(geometric_log_q(-0.5), None);
        assert_eq!(geometric_log_q(0.5), Some(0.5f64.ln()));
        let tiny = geometric_log_q(1e-20).unwrap();
        assert!(tiny < 0.0 && (tiny + 1e-20).abs() < 1e-30, "{tiny}");
        // A gap at tiny p is enormous, not −∞.
        assert!((0.5f64.ln() / tiny).floor() > 1e19);
    }

    /// Binomial counts by inversion from the mode: small and huge n, p near 0, ½ and 1;
    /// mean and variance within 4 standard errors over 20,000 uniforms, every count within
    /// [0, n]; ln k! continuous across its switch to Stirling's series.
    #[test]
    fn binomial_counts_have_the_binomial_moments() {
        assert!((ln_factorial(256) - (ln_factorial(255) + 256f64.ln())).abs() < 1e-10);
        assert!((ln_factorial(10) - 3_628_800f64.ln()).abs() < 1e-12);
        for (n, p) in [(1u64, 0.5), (10, 0.3), (1000, 0.5), (1000, 0.001), (123_457, 0.999), (300_000_000, 0.5), (300_000_000, 1e-7)] {
            let draws = 20_000u32;
            let counts: Vec<f64> = (0..draws)
                .map(|i| {
                    let [a, b] = threefry2x32([i, 7], [3, 4]);
                    let k = binomial(n, p, unit_f64(a, b));
                    assert!(k <= n);
                    k as f64
                })
                .collect();
            let mean = counts.iter().sum::<f64>() / draws as f64;
            let var = counts.iter().map(|k| (k - mean).powi(2)).sum::<f64>() / draws as f64;
            let (m, v) = (n as f64 * p, n as f64 * p * (1.0 - p));
            assert!((mean - m).abs() <= 4.0 * (v / draws as f64).sqrt() + 1e-9, "n {n} p {p}: mean {mean}, expected {m}");
            assert!((var - v).abs() <= 4.0 * v * (2.0 / draws as f64).sqrt() + 0.05, "n {n} p {p}: variance {var}, expected {v}");
        }
        assert_eq!((binomial(0, 0.5, 0.3), binomial(7, 0.0, 0.3), binomial(7, 1.0, 0.3)), (0, 0, 7));
    }

    /// Poisson counts over 200,000 neuron-steps: for λ from 0.05 to 60, the frequency of
    /// each count against the Poisson probabilities (χ² over the counts expected ≥ 20
    /// times, below its 0.1% quantile), and the mean within 4 standard errors.
    #[test]
    fn poisson_counts_have_the_poisson_distribution() {
        for lambda in [0.05, 1.28, 2.32, 17.0, 60.0] {
            let exp_neg = f64::exp(-lambda);
            let n = 200_000u64;
            let mut hist = vec![0u64; 400];
            let mut sum = 0u64;
            for i in 0..n {
                let k = poisson_count(7, 1, i / 1000, i % 1000, lambda, exp_neg);
                hist[k as usize] += 1;
                sum += k as u64;
            }
            let mean = sum as f64 / n as f64;
            assert!((mean - lambda).abs() < 4.0 * (lambda / n as f64).sqrt(), "λ {lambda}: mean {mean}");
            let (mut chi2, mut cells, mut p) = (0.0, 0, exp_neg);
            for (k, &seen) in hist.iter().enumerate() {
                if k > 0 {
                    p *= lambda / k as f64;
                }
                let expected = p * n as f64;
                if expected >= 20.0 {
                    chi2 += (seen as f64 - expected).powi(2) / expected;
                    cells += 1;
                }
            }
            // The 0.1% quantile of χ² with ν degrees of freedom, ν + 3.1·√(2ν) + 6 bounds it.
            let nu = (cells - 1) as f64;
            assert!(chi2 < nu + 3.1 * (2.0 * nu).sqrt() + 6.0, "λ {lambda}: χ² {chi2} over {cells} cells");
        }
        // Other streams and steps give other counts.
        let a: Vec<u32> = (0..100).map(|g| poisson_count(7, 0, 5, g, 2.0, (-2.0f64).exp())).collect();
        let b: Vec<u32> = (0..100).map(|g| poisson_count(7, 1, 5, g, 2.0, (-2.0f64).exp())).collect();
        let c: Vec<u32> = (0..100).map(|g| poisson_count(7, 0, 6, g, 2.0, (-2.0f64).exp())).collect();
        assert!(a != b && a != c);
    }

    /// The thresholds' counts are `poisson_invert`'s: at every threshold, one below it
    /// and one above (where the f64 CDF and the integer compare could part), at 0 and at
    /// the largest uniform; and `add_poisson_events` (window and search beyond it, SIMD
    /// lanes, any start) gives `poisson_count`'s loop for every neuron, also with a
    /// window so short that most counts go past it.
    #[test]
    fn threshold_counts_are_the_cdf_loops_counts() {
        for lambda in [0.0008, 0.05, 1.6, 17.0, 60.0, 100.0] {
            let e = f64::exp(-lambda);
            let table = PoissonTable::new(lambda);
            let thresholds = table.thresholds();
            assert_eq!(thresholds, poisson_thresholds(&poisson_cdf(lambda, e)));
            assert!(table.window() >= 1 && table.window() <= thresholds.len());
            let mut probes = vec![0i64, (1 << 53) - 1];
            for &t in thresholds {
                probes.extend([t - 1, t, t + 1].into_iter().filter(|b| (0..1 << 53).contains(b)));
            }
            for &bits in &probes {
                let u = bits as f64 / TWO_TO_53;
                assert_eq!(poisson_from_thresholds(bits, thresholds), poisson_invert(u, lambda, e), "λ {lambda}, bits {bits}");
            }
            // The SIMD count of the same uniforms, as blocks' words (a = bits ≫ 21, the
            // low 21 bits at the top of b): every probe's high word equals a threshold's,
            // so the ties' exact path is taken too.
            for chunk in probes.chunks(16) {
                let mut a = [0u32; 16];
                let mut b = [0u32; 16];
                for (l, &bits) in chunk.iter().enumerate() {
                    a[l] = (bits >> 21) as u32;
                    b[l] = ((bits & ((1 << 21) - 1)) as u32) << 11;
                    assert_eq!(unit_bits(a[l], b[l]), bits);
                }
                let mut k = [0u32; 16];
                table.counts(&a[..chunk.len()], &b[..chunk.len()], &mut k[..chunk.len()]);
                for (l, &bits) in chunk.iter().enumerate() {
                    assert_eq!(k[l], poisson_from_thresholds(bits, thresholds), "λ {lambda}, bits {bits}");
                }
            }
            // Whole steps of neurons, from any first neuron, against `poisson_count`; a
            // weight of 1 and whole counts: the weights are the counts.
            for first in [0u32, 77, 1000] {
                let key = poisson_key(3, 2, 41);
                let mut weights = vec![0f32; 301];
                add_poisson_events(key, 41, first, &table, 1.0, &mut weights);
                for (i, &k) in weights.iter().enumerate() {
                    assert_eq!(
                        k,
                        poisson_count(3, 2, 41, first as u64 + i as u64, lambda, e) as f32,
                        "λ {lambda}, neuron {}",
                        first as usize + i
                    );
                }
            }
        }
        // The window of λ = 1.6 (the microcircuit's inputs): its entries hold all but
        // fewer than 2⁻²⁰ of the counts, and one fewer would not.
        let table = PoissonTable::new(1.6);
        let (window, thresholds) = (table.window(), table.thresholds());
        assert!(window < thresholds.len() && thresholds[window - 1] as f64 / TWO_TO_53 > 1.0 - 1.0 / 1048576.0, "{window}");
        assert!(thresholds[window - 2] as f64 / TWO_TO_53 <= 1.0 - 1.0 / 1048576.0);
    }

    /// Known-answer vectors of Random123 (kat_vectors, threefry2x32 with 20 rounds):
    /// counter, key, expected output.
    #[test]
    fn threefry_matches_random123_known_answers() {
        let cases = [
            ([0u32, 0], [0u32, 0], [0x6b20_0159u32, 0x99ba_4efe]),
            ([u32::MAX, u32::MAX], [u32::MAX, u32::MAX], [0x1cb9_96fc, 0xbb00_2be7]),
            ([0x243f_6a88, 0x85a3_08d3], [0x1319_8a2e, 0x0370_7344], [0xc492_3a9c, 0x483d_f7a0]),
        ];
        for (ctr, key, want) in cases {
            assert_eq!(threefry2x32(ctr, key), want, "ctr {ctr:x?} key {key:x?}");
        }
    }

    #[test]
    fn normals_have_unit_moments_and_do_not_depend_on_the_split() {
        let n = 200_001usize;
        let mut whole = vec![0f32; n];
        fill_noise_normals(7, 3, 5, &mut whole);
        let mean = whole.iter().map(|&z| z as f64).sum::<f64>() / n as f64;
        let var = whole.iter().map(|&z| (z as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let kurt = whole.iter().map(|&z| (z as f64 - mean).powi(4)).sum::<f64>() / n as f64 / var / var;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        assert!((kurt - 3.0).abs() < 0.05, "kurtosis {kurt}");
        // Any split of the id range gives the same numbers bit for bit.
        for cut in [1usize, 2, 17, 1000, 99_999] {
            let mut left = vec![0f32; cut];
            let mut right = vec![0f32; n - cut];
            fill_noise_normals(7, 3, 5, &mut left);
            fill_noise_normals(7, 3, 5 + cut as u64, &mut right);
            left.extend_from_slice(&right);
            assert!(left.iter().zip(&whole).all(|(a, b)| a.to_bits() == b.to_bits()), "cut at {cut}");
        }
        // The baseline build of the kernel gives the bits of the widest one dispatched.
        let mut baseline = vec![0f32; n];
        fill_noise_normals_kernel(7, 0, 3, 5, &mut baseline);
        assert!(baseline.iter().zip(&whole).all(|(a, b)| a.to_bits() == b.to_bits()), "{:?}", crate::simd::level());
        // Another step or seed gives other numbers.
        let mut other = vec![0f32; 16];
        fill_noise_normals(7, 4, 5, &mut other);
        assert_ne!(&other[..], &whole[..16]);
    }

    #[test]
    fn streams_differ_and_one_neuron_alone_gets_its_lane() {
        let mut first = vec![0f32; 101];
        let mut second = vec![0f32; 101];
        fill_stream_normals(7, 0, 9, 40, &mut first);
        fill_stream_normals(7, 1, 9, 40, &mut second);
        assert!(first.iter().zip(&second).all(|(a, b)| a != b), "streams 0 and 1 share no value");
        let mut plain = vec![0f32; 101];
        fill_noise_normals(7, 9, 40, &mut plain);
        assert_eq!(plain, first, "stream 0 is the population noise");
        for (i, z) in second.iter().enumerate() {
            assert_eq!(noise_normal(7, 1, 9, 40 + i as u64).to_bits(), z.to_bits(), "neuron {}", 40 + i);
        }
    }

    #[test]
    fn below_is_the_high_word_of_the_product_and_uniform() {
        for (words, n) in [([0u32, 0], 7u32), ([u32::MAX, u32::MAX], 7), ([0x8000_0000, 0], 10), ([0x1234_5678, 0x9abc_def0], 999_983)] {
            let bits = ((words[0] as u128) << 32) | words[1] as u128;
            assert_eq!(below(words, n) as u128, (bits * n as u128) >> 64, "{words:x?} {n}");
        }
        assert_eq!(below([u32::MAX, u32::MAX], u32::MAX), u32::MAX - 1);
        // Counts of 0..10 over 100,000 blocks: each within 5 sd of 10,000.
        let key = row_key(projection_key(3, 1), 42);
        let (mut a, mut b) = (vec![0u32; 100_000], vec![0u32; 100_000]);
        fill_blocks(key, lane::OTHER, 0, &mut a, &mut b);
        let mut counts = [0u32; 10];
        for (&x, &y) in a.iter().zip(&b) {
            counts[below([x, y], 10) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (c as f64 - 10_000.0).abs() < 5.0 * 94.9), "{counts:?}");
    }

    #[test]
    fn filled_blocks_are_the_blocks_one_by_one() {
        let key = row_key(projection_key(9, 2), 1 << 33);
        for (first, n) in [(0u32, 0usize), (5, 1), (u32::MAX - 20, 40), (100, 333)] {
            let (mut a, mut b) = (vec![0u32; n], vec![0u32; n]);
            fill_blocks(key, lane::DELAY, first, &mut a, &mut b);
            let (mut a0, mut b0) = (vec![0u32; n], vec![0u32; n]);
            fill_blocks_kernel(key, lane::DELAY, first, &mut a0, &mut b0);
            for i in 0..n {
                assert_eq!([a[i], b[i]], threefry2x32([first.wrapping_add(i as u32), lane::DELAY], key));
            }
            assert_eq!((a, b), (a0, b0), "the baseline build gives the dispatched bits");
        }
        assert_ne!(projection_key(9, 2), projection_key(9, 3));
        assert_ne!(row_key(projection_key(9, 2), 0), row_key(projection_key(9, 2), 1 << 32));
    }

    #[test]
    fn neuron_uniforms_are_uniform_and_seeded() {
        let n = 100_000u64;
        let mean = (0..n).map(|g| neuron_uniform(1, g)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005);
        assert!((0..n).all(|g| (0.0..1.0).contains(&neuron_uniform(1, g))));
        assert_ne!(neuron_uniform(1, 0), neuron_uniform(2, 0));
    }
}
