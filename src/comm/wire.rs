//! The spike message of one epoch between two ranks: the number of spikes of each step
//! of the epoch, then their global ids, 4 bytes per spike (NEST's and Arbor's 8-byte
//! records carry the time in every spike; here a step count per step carries it).

use crate::spike::Spike;

/// Appends the message for the spikes of `spikes` (sorted by step, all within the epoch
/// of `steps` steps from `first_step`) to `out`.
pub fn encode<'a>(first_step: u64, steps: u32, spikes: impl Iterator<Item = &'a Spike>, out: &mut Vec<u32>) {
    let header = out.len();
    out.resize(header + steps as usize, 0);
    for s in spikes {
        debug_assert!((s.step as u64) >= first_step && (s.step as u64) < first_step + steps as u64);
        out[header + (s.step as u64 - first_step) as usize] += 1;
        out.push(s.gid);
    }
}

/// Appends the spikes of one message to `out`; returns the words it used.
pub fn decode(first_step: u64, steps: u32, message: &[u32], out: &mut Vec<Spike>) -> usize {
    let (counts, ids) = message.split_at(steps as usize);
    let mut at = 0usize;
    for (k, &n) in counts.iter().enumerate() {
        let step = (first_step + k as u64) as u32;
        out.extend(ids[at..at + n as usize].iter().map(|&gid| Spike { step, gid }));
        at += n as usize;
    }
    steps as usize + at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let spikes = [Spike { step: 10, gid: 3 }, Spike { step: 10, gid: 9 }, Spike { step: 12, gid: 1 }];
        let mut msg = vec![];
        encode(10, 3, spikes.iter(), &mut msg);
        assert_eq!(msg, vec![2, 0, 1, 3, 9, 1]);
        encode(10, 3, [].iter(), &mut msg);
        let mut back = vec![];
        let used = decode(10, 3, &msg, &mut back);
        assert_eq!(used, 6);
        assert_eq!(decode(10, 3, &msg[used..], &mut back), 3);
        assert_eq!(back, spikes);
    }
}
