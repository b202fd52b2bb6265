//! The rate tables: x_inf and 1 − exp(−dt/tau_x) of every gate over a grid of v, each
//! value with its rise to the next point in one word, interpolated linearly.

use super::*;

/// The distinct rate quantities (`Sharing::columns`: x_inf or exp(−dt/tau_x)) at
/// v = v_min + k·dv, k = 0..points, side by side, each value with its rise to the next
/// point (0 at the last): word `data[k · columns + c]` holds column c's value in its low
/// 32 bits and the rise in its high 32 bits (f32 bit patterns). One 64-bit read gives a
/// value and its slope: half the reads of looking up both neighbours.
#[derive(Clone, Debug)]
pub struct GateTable {
    pub v_min: f64,
    pub dv: f64,
    pub points: usize,
    pub columns: usize,
    /// Each gate's columns.
    pub gates: Vec<GateSlot>,
    pub data: Vec<u64>,
}

/// Words after the table's last row: the AVX2 interpolation reads a row's columns in
/// runs of 8 and may read 7 words past its last column.
pub(super) const TABLE_PAD: usize = 8;

/// The table bin of position `at` (in steps of dv from v_min; the last point at
/// `last`) and the fraction into it, and whether `at` lay outside: then the edge value is
/// used (NaN lands on the first point). Branch-free and without float-to-unsigned
/// conversions, so that it vectorises in the kernel.
#[inline(always)]
pub(super) fn locate(at: f32, last: f32) -> (i32, f32, bool) {
    let inside = (at >= 0.0) & (at < last);
    let at = if at >= 0.0 { at } else { 0.0 };
    let at = if at < last { at } else { last };
    // SAFETY: `at` lies in [0, last] (NaN became 0), and last < 2^23 points (checked with
    // the model), so it fits an i32.
    let k = unsafe { at.to_int_unchecked::<i32>() }.min(last as i32 - 1);
    (k, at - k as f32, !inside)
}

/// A table word: `value` in the low half, `rise` in the high half.
pub(super) fn word(value: f64, rise: f64) -> u64 {
    (value as f32).to_bits() as u64 | ((rise as f32).to_bits() as u64) << 32
}

#[inline(always)]
pub(super) fn halves(w: u64) -> (f32, f32) {
    (f32::from_bits(w as u32), f32::from_bits((w >> 32) as u32))
}

impl GateTable {
    pub(super) fn empty() -> GateTable {
        GateTable { v_min: 0.0, dv: 1.0, points: 0, columns: 0, gates: Vec::new(), data: Vec::new() }
    }

    pub(super) fn new(spec: &HhSpec, sharing: &Sharing) -> GateTable {
        let t = spec.table;
        let points = spec.table_points();
        let gates: Vec<&GateSpec> = spec.gates().collect();
        let c = sharing.columns.len();
        // Each column at each point, in f64.
        let mut exact = Vec::with_capacity(points * c);
        for k in 0..points {
            let v = t.v_min + k as f64 * t.dv;
            for &(j, quantity) in &sharing.columns {
                let (inf, tau) = gates[j].rates.inf_tau_at_point(v);
                exact.push(match quantity {
                    Quantity::Inf => inf,
                    Quantity::Decay => (-spec.dt_ms / tau).exp(),
                });
            }
        }
        let mut data = Vec::with_capacity(points * c + TABLE_PAD);
        for k in 0..points {
            for col in 0..c {
                let value = exact[k * c + col];
                let next = if k + 1 < points { exact[(k + 1) * c + col] } else { value };
                data.push(word(value, next - value));
            }
        }
        data.resize(points * c + TABLE_PAD, 0);
        GateTable { v_min: t.v_min, dv: t.dv, points, columns: c, gates: sharing.gates.clone(), data }
    }

    /// (x_inf, decay) of gate `j` at `v`, interpolated as the kernel does (for tests
    /// and the error bound).
    pub fn lookup(&self, v: f64, j: usize) -> (f64, f64) {
        let at = (v as f32 - self.v_min as f32) * (1.0 / self.dv) as f32;
        let (k, f, _) = locate(at, (self.points - 1) as f32);
        let value = |col: usize| {
            let (value, rise) = halves(self.data[k as usize * self.columns + col]);
            (value + f * rise) as f64
        };
        (value(self.gates[j].inf), value(self.gates[j].decay))
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 8
    }
}
