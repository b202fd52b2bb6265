//! Standard normal draws by table inversion: one 32-bit random word gives one normal.
//!
//! The word's top bit is the sign; the other 31 give a tail probability t in (0, ½]
//! (24 bits), and z = Φ⁻¹(1 − t) is read from a table by linear interpolation. The
//! bins are equal in log t — 128 per octave of t, from 2⁻²⁶ to ½ — so they get finer
//! towards the tail, where Φ⁻¹ bends: the interpolation error stays below 2·10⁻⁵
//! everywhere (tested against the exact quantile), 1/200,000 of a standard deviation.
//! The index is the float's exponent and top mantissa bits, the fraction its low bits:
//! a handful of integer operations, two table reads (gathers, 16 lanes at a time) and
//! one multiply-add, against Box–Muller's logarithm, square root, division, sine and
//! cosine (0.92 against 1.75 ns per draw with Threefry, `cargo bench --bench kernels --
//! noise`). Built from exact-rounding operations only (no fused multiply-add), the
//! same on every instruction set; the 25 KB table goes to a GPU as a storage buffer.

use std::sync::OnceLock;

const PER_OCTAVE: usize = 128;
/// Octaves of t: [2⁻²⁶, 2⁻²⁵), …, [2⁻², 2⁻¹).
const OCTAVES: usize = 25;
const BINS: usize = PER_OCTAVE * OCTAVES;
/// Biased float exponent of the smallest t, 2⁻²⁶.
const FIRST_EXPONENT: u32 = 127 - 26;

/// z at the start of each bin and its rise over the bin; entry `BINS` is t = ½ (z = 0).
pub struct Table {
    base: Box<[f32; BINS + 1]>,
    rise: Box<[f32; BINS + 1]>,
}

/// The table, built once per process from the quantile function in f64.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let z: Vec<f64> = (0..=BINS).map(|i| upper_quantile(bin_start(i))).collect();
        let mut base = Box::new([0f32; BINS + 1]);
        let mut rise = Box::new([0f32; BINS + 1]);
        for i in 0..BINS {
            base[i] = z[i] as f32;
            rise[i] = (z[i + 1] - z[i]) as f32;
        }
        Table { base, rise }
    })
}

impl Table {
    /// (z at the bin's start, its rise over the bin) for every bin, ½ last: the table as
    /// the GPU reads it (`shaders/noise.wgsl`).
    pub fn entries(&self) -> impl Iterator<Item = [f32; 2]> + '_ {
        self.base.iter().zip(self.rise.iter()).map(|(&b, &r)| [b, r])
    }
}

/// The tail probability where bin `i` starts: 2^(octave − 26) · (1 + m/128).
fn bin_start(i: usize) -> f64 {
    let (octave, m) = (i / PER_OCTAVE, i % PER_OCTAVE);
    (2f64).powi(octave as i32 - 26) * (1.0 + m as f64 / PER_OCTAVE as f64)
}

/// z with P(Z > z) = t, for t in (0, ½]: Acklam's rational approximation of the normal
/// quantile (relative error below 1.2·10⁻⁹, far below f32's resolution).
pub fn upper_quantile(t: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] =
        [-5.447_609_879_822_406e1, 1.615_858_368_580_409e2, -1.556_989_798_598_866e2, 6.680_131_188_771_972e1, -1.328_068_155_288_572e1];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let poly = |c: &[f64], x: f64| c.iter().fold(0.0, |acc, &k| acc * x + k);
    // Φ⁻¹(t), negative for t < ½.
    let x = if t < 0.02425 {
        let q = (-2.0 * t.ln()).sqrt();
        poly(&C, q) / (poly(&D, q) * q + 1.0)
    } else {
        let q = t - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    };
    -x
}

/// The standard normal of the random word `bits` (see the module's text).
#[inline(always)]
pub fn gaussian(bits: u32, table: &Table) -> f32 {
    // t = (k + ½)·2⁻²⁵ with k the 24 bits below the sign: never 0, at most ½.
    let k = (bits & 0x7FFF_FFFF) >> 7;
    let t = k as i32 as f32 * (1.0 / 33_554_432.0) + (1.0 / 67_108_864.0);
    let tb = t.to_bits();
    let bin = ((tb >> 16) - (FIRST_EXPONENT << 7)) as usize;
    let frac = (tb & 0xFFFF) as i32 as f32 * (1.0 / 65_536.0);
    debug_assert!(bin <= BINS);
    // SAFETY: t lies in [2⁻²⁶, ½], so its exponent and top mantissa bits give a bin in
    // 0..=BINS (½ is the last entry).
    let z = unsafe { *table.base.get_unchecked(bin) + frac * *table.rise.get_unchecked(bin) };
    f32::from_bits(z.to_bits() ^ (bits & 0x8000_0000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_error_is_below_2e_5_everywhere() {
        let table = table();
        let mut worst = (0f64, 0u32);
        // Every 97th of the 2^24 tail probabilities, and the extremes.
        for k in (0..1u32 << 24).step_by(97).chain([0, (1 << 24) - 1]) {
            let bits = k << 7;
            let t = (k as f64 + 0.5) / 33_554_432.0;
            let err = (gaussian(bits, table) as f64 - upper_quantile(t)).abs();
            if err > worst.0 {
                worst = (err, k);
            }
        }
        assert!(worst.0 < 2e-5, "worst error {} at k = {}", worst.0, worst.1);
    }

    #[test]
    fn quantiles_match_known_values_and_the_sign_bit_mirrors() {
        let table = table();
        // Exact quantiles (bisection on erfc): t = 0.025, 0.15866, 10^-3, 2^-26.
        for (t, z) in [(0.025f64, 1.959_963_985), (0.158_655_253_9, 1.0), (1e-3, 3.090_232_306), (2f64.powi(-26), 5.542_594_058)] {
            assert!((upper_quantile(t) - z).abs() < 1e-6, "t {t}: {} vs {z}", upper_quantile(t));
        }
        let k = 12_345_678u32;
        assert_eq!(gaussian(k << 7, table), -gaussian((k << 7) | 0x8000_0000, table));
        assert_eq!(gaussian(0x7FFF_FF80, table), 0.0, "t = ½");
    }
}
