//! The spike message of one epoch from one rank to another, in bytes: the number of
//! spikes, then (for epochs of several steps) the count of each step, then each step's
//! ids, ascending, as LEB128 variable-length integers: the first as its distance from the
//! sender's first neuron (`base`), each next one as its gap from the one before. A rank's
//! spikes of one step are a sorted subset of its own range, so a gap takes one to three
//! bytes where a fixed id takes four (NEST's and Arbor's 8-byte records also carry the
//! time in every spike; here a count per step carries it). A message with no spikes is
//! one byte.

use crate::spike::Spike;

/// Appends `x` as LEB128: seven bits per byte, low first, the high bit set on all but
/// the last.
fn put(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Reads one LEB128 integer from `bytes` at `*at`, advancing it.
fn get(bytes: &[u8], at: &mut usize) -> u64 {
    let mut x = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[*at];
        *at += 1;
        x |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return x;
        }
        shift += 7;
    }
}

/// Appends the message for the spikes of `spikes` (sorted by step then id, all within
/// the epoch of `steps` steps from `first_step`, ids at or above `base`) to `out`.
pub fn encode<'a>(first_step: u64, steps: u32, base: u64, spikes: impl Iterator<Item = &'a Spike> + Clone, out: &mut Vec<u8>) {
    let total = spikes.clone().count();
    put(total as u64, out);
    if total == 0 {
        return;
    }
    if steps > 1 {
        let mut counts = vec![0u64; steps as usize];
        for s in spikes.clone() {
            counts[(s.step as u64 - first_step) as usize] += 1;
        }
        counts.iter().for_each(|&c| put(c, out));
    }
    let mut previous: Option<(u32, u64)> = None;
    for s in spikes {
        debug_assert!((s.step as u64) >= first_step && (s.step as u64) < first_step + steps as u64);
        let gid = s.gid as u64;
        let from = match previous {
            Some((step, id)) if step == s.step => id,
            _ => base,
        };
        debug_assert!(gid >= from, "ids ascending within a step, at or above the base");
        put(gid - from, out);
        previous = Some((s.step, gid));
    }
}

/// Appends the spikes of one message from a sender whose first neuron is `base` to
/// `out`; returns the bytes it used.
pub fn decode(first_step: u64, steps: u32, base: u64, message: &[u8], out: &mut Vec<Spike>) -> usize {
    let mut at = 0;
    let total = get(message, &mut at);
    if total == 0 {
        return at;
    }
    let counts: Vec<u64> = if steps > 1 { (0..steps).map(|_| get(message, &mut at)).collect() } else { vec![total] };
    for (k, &n) in counts.iter().enumerate() {
        let step = (first_step + k as u64) as u32;
        let mut id = base;
        for i in 0..n {
            let gap = get(message, &mut at);
            id = if i == 0 { base + gap } else { id + gap };
            out.push(Spike { step, gid: id as u32 });
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let spikes = [Spike { step: 10, gid: 3 }, Spike { step: 10, gid: 9 }, Spike { step: 12, gid: 1 }];
        let mut msg = vec![];
        encode(10, 3, 0, spikes.iter(), &mut msg);
        // Three spikes; counts 2, 0, 1; step 10: 3, then a gap of 6; step 12: 1.
        assert_eq!(msg, vec![3, 2, 0, 1, 3, 6, 1]);
        encode(10, 3, 0, [].iter(), &mut msg);
        let mut back = vec![];
        let used = decode(10, 3, 0, &msg, &mut back);
        assert_eq!(used, 7);
        assert_eq!(decode(10, 3, 0, &msg[used..], &mut back), 1, "no spikes: one byte");
        assert_eq!(back, spikes);
    }

    /// Ids far apart and far from the base, one-step and many-step epochs, large gaps:
    /// what goes in comes out; gaps below 128 take one byte.
    #[test]
    fn every_id_and_gap_comes_back() {
        let base = 3_000_000_000u64;
        let ids = [base, base + 1, base + 127, base + 128, base + 16_511, base + 1_000_000, u32::MAX as u64];
        for steps in [1u32, 4] {
            let spikes: Vec<Spike> = (0..steps).flat_map(|k| ids.iter().map(move |&g| Spike { step: 50 + k, gid: g as u32 })).collect();
            let mut msg = vec![];
            encode(50, steps, base, spikes.iter(), &mut msg);
            let mut back = vec![];
            assert_eq!(decode(50, steps, base, &msg, &mut back), msg.len());
            assert_eq!(back, spikes);
        }
        let dense: Vec<Spike> = (0..1000).map(|i| Spike { step: 7, gid: 100 + 2 * i }).collect();
        let mut msg = vec![];
        encode(7, 1, 100, dense.iter(), &mut msg);
        assert_eq!(msg.len(), 2 + 1000, "a count of two bytes, then one byte per spike");
    }
}
