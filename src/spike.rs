//! The spike record exchanged between ranks and written to files: 8 bytes, as NEST's.

/// A spike of neuron `gid` (global id) emitted at the end of step `step`.
/// Ordered by step, then id: the canonical order of delivery and of output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(C)]
pub struct Spike {
    pub step: u32,
    pub gid: u32,
}

impl Spike {
    /// The spike's time in ms: the end of its step, when v was seen at or above the peak
    /// (net.m records it with the loop index of the next iteration, 1-based).
    pub fn time_ms(&self, dt_ms: f64) -> f64 {
        (self.step as f64 + 1.0) * dt_ms
    }
}

/// Appends to `out` the spikes of `parts` in canonical order (by step, then id), where
/// each part is in that order and holds only ids below the next part's (the shards of a
/// rank, in order): merged step by step, not sorted. Where the parts meet in order (an
/// epoch of one step) they are simply joined.
pub fn merge_by_step<'a>(parts: impl Iterator<Item = &'a [Spike]> + Clone, out: &mut Vec<Spike>) {
    debug_assert!(parts.clone().all(<[Spike]>::is_sorted), "a part out of canonical order");
    let mut last: Option<&Spike> = None;
    let joined = parts.clone().filter(|p| !p.is_empty()).all(|p| {
        let in_order = last.is_none_or(|l| l <= &p[0]);
        last = p.last();
        in_order
    });
    if joined {
        parts.for_each(|p| out.extend_from_slice(p));
        return;
    }
    let mut rest: Vec<&[Spike]> = parts.collect();
    while let Some(step) = rest.iter().filter_map(|p| p.first()).map(|s| s.step).min() {
        for part in &mut rest {
            let run = part.iter().take_while(|s| s.step == step).count();
            out.extend_from_slice(&part[..run]);
            *part = &part[run..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts of interleaved steps are merged into canonical order; parts already in
    /// order, empty ones among them, are joined.
    #[test]
    fn parts_merge_into_canonical_order() {
        let s = |step, gid| Spike { step, gid };
        let parts = [vec![s(0, 1), s(2, 3), s(2, 4), s(5, 0)], vec![], vec![s(0, 10), s(1, 12), s(5, 11)], vec![s(3, 20)]];
        let mut out = vec![s(9, 9)];
        merge_by_step(parts.iter().map(Vec::as_slice), &mut out);
        let mut expected: Vec<Spike> = parts.concat();
        expected.sort();
        assert_eq!(out[1..], expected[..]);
        assert_eq!(out[0], s(9, 9), "appended");
        let one_step = [vec![s(4, 1), s(4, 2)], vec![], vec![s(4, 7)]];
        out.clear();
        merge_by_step(one_step.iter().map(Vec::as_slice), &mut out);
        assert_eq!(out, one_step.concat());
    }
}
