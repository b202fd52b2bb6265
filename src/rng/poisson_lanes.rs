//! `add_poisson_events`' counts sixteen (AVX-512) or eight (AVX2) lanes at a time, with
//! intrinsics, for tables whose window holds at most 15 high words (λ up to about 3.5).
//!
//! The portable count (`PoissonTable::counts`) is what the compiler makes of a loop over
//! lanes: each pass over the window's thresholds loads and stores the lanes' counts and
//! ties again, turns every compare's mask into an integer, and tests every threshold for
//! a tie. It cost more than the Threefry block it counts (1.3 ns against 0.9 per neuron,
//! machine B). Here a lane's count stays in a register, each threshold costs a compare
//! and a masked add, and a tie is tested once, against the one entry that can equal it:
//! the first not below the lane's high word (the entry at its count). The weight a count
//! adds is looked up in the same way, from a table of `(k as f64 · weight) as f32`, the
//! portable formula's bits. Lanes that tie, or whose count reaches the window's end
//! while more thresholds follow, are settled by the full search, as in `counts`.

use super::{poisson_from_thresholds, unit_bits, PoissonTable};
use std::arch::x86_64::*;

/// `add_counts_avx512` or `add_counts_avx2`.
pub(super) type CountLanes = unsafe fn(&Lanes, &[u32], &[u32], &mut [f32]) -> usize;

/// A table's window in lanes: at most 15 entries padded to 16 with the largest high word
/// (which no lane is above, so a count never passes 15), and the weight of each count.
pub(super) struct Lanes<'a> {
    table: &'a PoissonTable,
    weight: f64,
    window: [i32; 16],
    len: usize,
    added: [f32; 16],
    /// The count at which the full search takes over: the window's length where more
    /// thresholds follow, else one no lane reaches.
    past: i32,
}

impl<'a> Lanes<'a> {
    /// The lanes of `table` adding `weight` per event, where its window fits.
    pub fn new(table: &'a PoissonTable, weight: f64) -> Option<Lanes<'a>> {
        let (window, len) = (table.window_entries(), table.window());
        if len > 15 {
            return None;
        }
        let mut padded = [PoissonTable::flip(u32::MAX); 16];
        padded[..len].copy_from_slice(&window[..len]);
        let added = std::array::from_fn(|k| (k as f64 * weight) as f32);
        let past = if len < table.thresholds().len() { len as i32 } else { i32::MAX };
        Some(Lanes { table, weight, window: padded, len, added, past })
    }

    pub fn table(&self) -> &PoissonTable {
        self.table
    }

    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// The count of the block (a, b), found by the full search, added into `out`.
    #[inline(always)]
    fn settle(&self, a: u32, b: u32, out: &mut f32) {
        let k = poisson_from_thresholds(unit_bits(a, b), self.table.thresholds());
        if k > 0 {
            *out += (k as f64 * self.weight) as f32;
        }
    }
}

/// Adds the weights of the counts of blocks `(a[l], b[l])` into `out[l]` for the leading
/// `16·⌊n/16⌋` lanes, and returns how many lanes it took.
///
/// # Safety
/// The CPU has AVX-512 F; `a`, `b` and `out` have at least `out.len()` elements.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn add_counts_avx512(lanes: &Lanes, a: &[u32], b: &[u32], out: &mut [f32]) -> usize {
    let n = out.len() / 16 * 16;
    assert!(a.len() >= n && b.len() >= n);
    let window = _mm512_loadu_si512(lanes.window.as_ptr() as *const _);
    let added = _mm512_loadu_ps(lanes.added.as_ptr());
    let (flip, past) = (_mm512_set1_epi32(i32::MIN), _mm512_set1_epi32(lanes.past));
    for l in (0..n).step_by(16) {
        let high = _mm512_xor_si512(_mm512_loadu_si512(a.as_ptr().add(l) as *const _), flip);
        // The count of entries below the high word, by a branch-free binary search of the
        // 16 (four probes of one register, against a compare per entry).
        let mut k = _mm512_setzero_si512();
        for step in [8, 4, 2, 1] {
            let probe = _mm512_permutexvar_epi32(_mm512_add_epi32(k, _mm512_set1_epi32(step - 1)), window);
            k = _mm512_mask_add_epi32(k, _mm512_cmpgt_epi32_mask(high, probe), k, _mm512_set1_epi32(step));
        }
        let tie = _mm512_cmpeq_epi32_mask(high, _mm512_permutexvar_epi32(k, window));
        let exact = tie | _mm512_cmpeq_epi32_mask(k, past);
        let some = _mm512_test_epi32_mask(k, k) & !exact;
        let at = out.as_mut_ptr().add(l);
        let sum = _mm512_mask_add_ps(_mm512_loadu_ps(at), some, _mm512_loadu_ps(at), _mm512_permutexvar_ps(k, added));
        _mm512_storeu_ps(at, sum);
        let mut rest = exact;
        while rest != 0 {
            let i = l + rest.trailing_zeros() as usize;
            lanes.settle(a[i], b[i], &mut out[i]);
            rest &= rest - 1;
        }
    }
    n
}

/// `add_counts_avx512` eight lanes at a time, with AVX2: the 16-entry tables looked up
/// as two halves of eight, chosen by the index's fourth bit.
///
/// # Safety
/// The CPU has AVX2; `a`, `b` and `out` have at least `out.len()` elements.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn add_counts_avx2(lanes: &Lanes, a: &[u32], b: &[u32], out: &mut [f32]) -> usize {
    // The window's entries compared in full, unrolled: a loop over its length cost five
    // instructions an entry for two. Entries past its length are the padding, which
    // counts for no lane.
    match lanes.len {
        0..=4 => add_counts_avx2_unrolled::<4>(lanes, a, b, out),
        5..=8 => add_counts_avx2_unrolled::<8>(lanes, a, b, out),
        9..=12 => add_counts_avx2_unrolled::<12>(lanes, a, b, out),
        _ => add_counts_avx2_unrolled::<16>(lanes, a, b, out),
    }
}

#[target_feature(enable = "avx2")]
unsafe fn add_counts_avx2_unrolled<const N: usize>(lanes: &Lanes, a: &[u32], b: &[u32], out: &mut [f32]) -> usize {
    let n = out.len() / 8 * 8;
    assert!(a.len() >= n && b.len() >= n);
    let (window_lo, window_hi) =
        (_mm256_loadu_si256(lanes.window.as_ptr() as *const _), _mm256_loadu_si256(lanes.window[8..].as_ptr() as *const _));
    let (added_lo, added_hi) = (_mm256_loadu_ps(lanes.added.as_ptr()), _mm256_loadu_ps(lanes.added[8..].as_ptr()));
    let (flip, seven, past) = (_mm256_set1_epi32(i32::MIN), _mm256_set1_epi32(7), _mm256_set1_epi32(lanes.past));
    let entries: [__m256i; N] = std::array::from_fn(|t| _mm256_set1_epi32(lanes.window[t]));
    for l in (0..n).step_by(8) {
        let high = _mm256_xor_si256(_mm256_loadu_si256(a.as_ptr().add(l) as *const _), flip);
        let mut k = _mm256_setzero_si256();
        for entry in &entries {
            // A true compare is −1: subtracting it counts one.
            k = _mm256_sub_epi32(k, _mm256_cmpgt_epi32(high, *entry));
        }
        let upper = _mm256_cmpgt_epi32(k, seven);
        let entry = _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(window_lo, k), _mm256_permutevar8x32_epi32(window_hi, k), upper);
        let exact = _mm256_or_si256(_mm256_cmpeq_epi32(high, entry), _mm256_cmpeq_epi32(k, past));
        let none = _mm256_or_si256(_mm256_cmpeq_epi32(k, _mm256_setzero_si256()), exact);
        let weight_of_k =
            _mm256_blendv_ps(_mm256_permutevar8x32_ps(added_lo, k), _mm256_permutevar8x32_ps(added_hi, k), _mm256_castsi256_ps(upper));
        let at = out.as_mut_ptr().add(l);
        let was = _mm256_loadu_ps(at);
        // Lanes that add nothing keep their value (not + 0.0, which turns −0.0 into +0.0).
        _mm256_storeu_ps(at, _mm256_blendv_ps(_mm256_add_ps(was, weight_of_k), was, _mm256_castsi256_ps(none)));
        let mut rest = _mm256_movemask_ps(_mm256_castsi256_ps(exact)) as u32;
        while rest != 0 {
            let i = l + rest.trailing_zeros() as usize;
            lanes.settle(a[i], b[i], &mut out[i]);
            rest &= rest - 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::super::{add_counts, add_poisson_events_avx2, add_poisson_events_avx512, add_poisson_events_portable, poisson_key};
    use super::*;

    /// Both kernels give the portable counts' bits: on uniforms at, just below and just
    /// above every threshold (so that each lane's high word equals a window entry: the
    /// tie is settled by the full search), past the window, at 0 and at the largest
    /// uniform, into inputs of −0.0, 0 and others, with a weight whose multiples round;
    /// and whole runs of neurons from any first one. Tables whose window is too long for
    /// the lanes are refused (the portable count takes them).
    #[test]
    fn counts_in_lanes_are_the_portable_counts_bit_for_bit() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            panic!("this test needs AVX2 (every x86-64 CI machine of this project has it)");
        }
        let avx512 = std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl");
        eprintln!("Poisson counts in lanes tested: avx2{}", if avx512 { ", avx512" } else { " (this CPU has no AVX-512)" });
        let kernels: [(&str, CountLanes, bool); 2] = [("avx2", add_counts_avx2, true), ("avx512", add_counts_avx512, avx512)];
        let weight = 87.808_493_529_208_43;
        let mut lambdas_in_lanes = 0;
        for lambda in [0.0008, 0.05, 1.6, 3.0, 4.0, 17.0] {
            let table = PoissonTable::new(lambda);
            let Some(lanes) = Lanes::new(&table, weight) else {
                assert!(table.window() > 15, "λ {lambda}: a window of {} fits the lanes", table.window());
                continue;
            };
            lambdas_in_lanes += 1;
            let mut probes = vec![0i64, (1 << 53) - 1];
            for &t in table.thresholds() {
                probes.extend([t - 1, t, t + 1].into_iter().filter(|b| (0..1 << 53).contains(b)));
            }
            // Blocks whose `unit_bits` are the probes (a = bits ≫ 21, the low 21 bits at
            // the top of b), 37 lanes: two whole vectors of 16 and a tail.
            for chunk in probes.chunks(37) {
                let a: Vec<u32> = chunk.iter().map(|&bits| (bits >> 21) as u32).collect();
                let b: Vec<u32> = chunk.iter().map(|&bits| ((bits & ((1 << 21) - 1)) as u32) << 11).collect();
                let start: Vec<f32> = (0..chunk.len()).map(|l| [-0.0, 0.0, 1.5, -351.2][l % 4]).collect();
                let mut expected = start.clone();
                add_counts(&table, weight, &a, &b, &mut expected);
                for (name, kernel, _) in kernels.iter().filter(|k| k.2) {
                    let mut out = start.clone();
                    // SAFETY: the CPU has the instructions (checked above); a, b and out
                    // have the same length.
                    let done = unsafe { kernel(&lanes, &a, &b, &mut out) };
                    add_counts(&table, weight, &a[done..], &b[done..], &mut out[done..]);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&out), bits(&expected), "{name}, λ {lambda}, probes {chunk:?}");
                }
            }
            for first in [0u32, 77, 1000] {
                let key = poisson_key(3, 2, 41);
                let mut expected = vec![-0.0f32; 301];
                add_poisson_events_portable(key, 41, first, &table, weight, &mut expected);
                let mut out = vec![-0.0f32; 301];
                // SAFETY: the CPU has AVX2 (checked above).
                unsafe { add_poisson_events_avx2(key, 41, first, &lanes, &mut out) };
                assert_eq!(out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), expected.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
                if avx512 {
                    let mut out = vec![-0.0f32; 301];
                    // SAFETY: the CPU has AVX-512 F and VL (checked above).
                    unsafe { add_poisson_events_avx512(key, 41, first, &lanes, &mut out) };
                    assert_eq!(
                        out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        expected.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    );
                }
            }
        }
        assert_eq!(lambdas_in_lanes, 4, "λ up to 3 count in lanes; 4 and 17 do not");
    }
}
