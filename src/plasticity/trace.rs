//! Spike traces, kept event by event: each holds its value just after its last spike and
//! the step of that spike, and is read at any later step through a table of its decay
//! over whole steps. No trace is touched in a step without a spike.

/// How a trace takes a spike.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TraceKind {
    /// x ← x + 1: all-to-all pairing (NEST's Kplus, Kminus).
    Add,
    /// x ← a: the last spike alone counts (Izhikevich's LTP, LTD).
    Set(f64),
}

/// A trace's decay over whole steps: `factor(k)` is what k steps leave of 1 (or, for a
/// trace set to a on a spike, of a).
#[derive(Clone, Debug, PartialEq)]
pub struct Decay {
    kind: TraceKind,
    /// values[k]: the trace k steps after a spike that left it at 1 (Add) or a (Set);
    /// for Set, iterated step by step as Izhikevich's code multiplies its arrays, so the
    /// bits are those of that loop.
    values: Vec<f64>,
    /// Per step, beyond the table.
    per_step: f64,
}

/// The table runs until a trace has decayed below `NEGLIGIBLE` of its value (beyond, it
/// is 0: under any f32 weight's resolution), or for `MAX_TABLE_STEPS` steps (beyond,
/// powers): ~1400 steps for τ = 20 ms at dt = 1 ms, ~14,000 at 0.1 ms.
const NEGLIGIBLE: f64 = 1e-30;
const MAX_TABLE_STEPS: usize = 1 << 18;

impl Decay {
    /// exp(−dt/τ) per step.
    pub fn exponential(kind: TraceKind, tau_ms: f64, dt_ms: f64) -> Decay {
        let per_step = (-dt_ms / tau_ms).exp();
        let start = match kind {
            TraceKind::Add => 1.0,
            TraceKind::Set(a) => a,
        };
        let mut values = Vec::new();
        while values.len() < MAX_TABLE_STEPS {
            let factor = (-(values.len() as f64) * dt_ms / tau_ms).exp();
            values.push(start * factor);
            if factor < NEGLIGIBLE {
                break;
            }
        }
        Decay { kind, values, per_step }
    }

    /// A factor per step, applied step after step (Izhikevich's `LTP *= 0.95`).
    pub fn iterated(kind: TraceKind, per_step: f64) -> Decay {
        let mut x = match kind {
            TraceKind::Add => 1.0,
            TraceKind::Set(a) => a,
        };
        let start = x.abs();
        let mut values = Vec::new();
        while values.len() < MAX_TABLE_STEPS {
            values.push(x);
            if x.abs() < NEGLIGIBLE * start || per_step == 0.0 {
                break;
            }
            x *= per_step;
        }
        Decay { kind, values, per_step }
    }

    /// The steps after a spike from which the trace is exactly 0, where its table ends on
    /// a negligible value; None where it never does (the table runs out first).
    pub fn horizon(&self) -> Option<u64> {
        (self.values.len() < MAX_TABLE_STEPS).then_some(self.values.len() as u64)
    }

    /// What `value` (a trace just after a spike) is `k` steps later.
    #[inline]
    pub fn after(&self, value: f64, k: u64) -> f64 {
        match self.kind {
            TraceKind::Add => value * self.table(k),
            // A set trace's value after its spike is always the same: the table holds it.
            TraceKind::Set(_) => self.table(k),
        }
    }

    #[inline]
    fn table(&self, k: u64) -> f64 {
        match self.values.get(k as usize) {
            Some(&v) => v,
            None => self.beyond(k),
        }
    }

    /// Past the table: 0 where the table ends on a negligible value, else powers.
    #[cold]
    fn beyond(&self, k: u64) -> f64 {
        let last = self.values.len() - 1;
        if self.values.len() < MAX_TABLE_STEPS {
            return 0.0;
        }
        self.values[last] * self.per_step.powf((k - last as u64) as f64)
    }

    /// The trace just after a spike, where it was `before` (decayed to the spike).
    #[inline]
    pub fn bump(&self, before: f64) -> f64 {
        match self.kind {
            TraceKind::Add => before + 1.0,
            TraceKind::Set(a) => a,
        }
    }
}

/// The trace of the spikes arriving at the synapses of one (source, delay) group: every
/// synapse of a group sees the same arrivals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PreTrace {
    /// The step of the last arrival, plus one; 0: none yet.
    pub last: u32,
    /// The trace just after it.
    pub value: f64,
}

impl PreTrace {
    /// The trace at step `step`, arrivals of that step included.
    #[inline]
    pub fn at(&self, step: u64, decay: &Decay) -> f64 {
        match self.last {
            0 => 0.0,
            last => decay.after(self.value, step - (last as u64 - 1)),
        }
    }

    /// An arrival in step `step` (no earlier than the last).
    #[inline]
    pub fn arrive(&mut self, step: u64, decay: &Decay) {
        self.value = decay.bump(self.at(step, decay));
        self.last = step as u32 + 1;
    }
}

/// The presynaptic traces of a store's (source, delay) groups, kept apart: the steps of
/// their last arrivals, which every postsynaptic spike reads for each of its synapses,
/// and, for traces that add up, their values. A set trace's value after an arrival is
/// always the same (`Decay::after` ignores it): it keeps 4 bytes a group instead of 16,
/// so that the arrays a spike's scattered reads land in stay in cache.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreTraces {
    last: Vec<u32>,
    /// Empty for a set trace.
    value: Vec<f64>,
    /// A set trace's value after an arrival.
    set_to: Option<f64>,
}

impl PreTraces {
    /// `n` traces, before any arrival, decaying as `decay`.
    pub fn new(n: usize, decay: &Decay) -> PreTraces {
        let set_to = match decay.kind {
            TraceKind::Add => None,
            TraceKind::Set(a) => Some(a),
        };
        PreTraces { last: vec![0; n], value: if set_to.is_some() { Vec::new() } else { vec![0.0; n] }, set_to }
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// Group `g`'s trace, as one value.
    #[inline]
    pub fn get(&self, g: usize) -> PreTrace {
        let last = self.last[g];
        let value = match self.set_to {
            None => self.value[g],
            Some(_) if last == 0 => 0.0,
            Some(a) => a,
        };
        PreTrace { last, value }
    }

    /// Sets group `g`'s trace (a checkpoint's; a set trace takes only its step).
    pub fn set(&mut self, g: usize, trace: PreTrace) {
        self.last[g] = trace.last;
        if self.set_to.is_none() {
            self.value[g] = trace.value;
        }
    }

    /// Group `g`'s trace at step `step` (`PreTrace::at`).
    #[inline]
    pub fn at(&self, g: usize, step: u64, decay: &Decay) -> f64 {
        self.get(g).at(step, decay)
    }

    /// An arrival at group `g` in step `step` (`PreTrace::arrive`).
    #[inline]
    pub fn arrive(&mut self, g: usize, step: u64, decay: &Decay) {
        let mut trace = self.get(g);
        trace.arrive(step, decay);
        self.set(g, trace);
    }

    /// Asks for group `g`'s lines ahead of use.
    #[inline(always)]
    pub fn prefetch(&self, g: usize) {
        crate::simd::prefetch(&self.last[g]);
        if let Some(v) = self.value.get(g) {
            crate::simd::prefetch(v);
        }
    }

    pub fn bytes(&self) -> usize {
        self.last.len() * 4 + self.value.len() * 8
    }

    /// Bytes a group's trace takes for a rule whose presynaptic trace decays as `decay`.
    pub fn bytes_per_group(decay: &Decay) -> usize {
        match decay.kind {
            TraceKind::Add => 12,
            TraceKind::Set(_) => 4,
        }
    }
}

/// The trace of a neuron's own spikes, as its incoming synapses see it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PostTrace {
    /// The step of the last spike, plus one; 0: none yet.
    pub last: u32,
    /// The trace just after it, and just before it (to read the trace strictly before
    /// a time the last spike is stamped at).
    pub after: f64,
    pub before: f64,
}

impl PostTrace {
    /// The trace at the start of step `step` (time step·dt): the spikes stamped before
    /// it, and, where `simultaneous`, the one stamped at it (the spike of step − 1).
    #[inline]
    pub fn at(&self, step: u64, decay: &Decay, simultaneous: bool) -> f64 {
        match self.last {
            0 => 0.0,
            last => {
                // Stamped (last − 1 + 1)·dt = last·dt.
                let stamped = last as u64;
                if stamped == step && !simultaneous {
                    self.before
                } else {
                    decay.after(self.after, step - stamped)
                }
            }
        }
    }

    /// A spike in step `step` (stamped (step + 1)·dt).
    #[inline]
    pub fn spike(&mut self, step: u64, decay: &Decay) {
        let stamped = step + 1;
        self.before = match self.last {
            0 => 0.0,
            last => decay.after(self.after, stamped - last as u64),
        };
        self.after = decay.bump(self.before);
        self.last = stamped as u32;
    }
}
