//! The exponential-Euler kernel: blocks of neurons, each loop over a block one vector
//! loop, the table reads as gathers where they pay (AVX-512, AVX2), and the portable
//! loops they are held to.

use super::*;

#[derive(Default)]
pub(super) struct Scratch {
    /// The one variable of the rate functions, v, of every neuron.
    pub(super) vars: Vec<Vec<f64>>,
    pub(super) open: Vec<f64>,
    pub(super) inf: Vec<f64>,
    pub(super) tau: Vec<f64>,
}

/// Neurons per block of the kernel.
pub(super) const BLOCK: usize = 256;

/// e^x in f32 for x ≤ 0 (exp(−dt·g/C)), branch-free so that it vectorises: x = n·ln2 + r,
/// |r| ≤ ln2/2, e^r by Cephes's degree-6 polynomial, 2^n from the exponent bits. Within
/// 2 ulp of e^x; the same bits on every instruction set (no fused multiply-add).
#[inline(always)]
pub(super) fn exp_f32(x: f32) -> f32 {
    // Adding 1.5·2^23 rounds x/ln2 to the nearest integer n and leaves n in the low bits
    // of the sum: no float-to-integer conversion (scalar code on some instruction sets).
    const SHIFT: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 0.5;
    let y = p * r2 + r + 1.0;
    // 2^n: n + 127 in the exponent field.
    y * f32::from_bits(t.to_bits().wrapping_sub(SHIFT.to_bits()).wrapping_add(127) << 23)
}

/// Where φ(x) = (1 − e^−x)/x is taken from its series.
pub(super) const PHI_SERIES_MAX: f32 = 0.5;

/// φ(x) = (1 − e^−x)/x = Σ (−x)^k / (k + 1)! to k = 7, for |x| ≤ 1/2: the first term left
/// out is below x⁸/9! = 1.1·10⁻⁸, under half an f32 ulp of φ (≥ 0.78 there); Horner's
/// rule in f32, without fused multiply-adds, so the same bits on every instruction set.
#[inline(always)]
pub(super) fn phi_series(x: f32) -> f32 {
    const C: [f32; 8] = [1.0, -1.0 / 2.0, 1.0 / 6.0, -1.0 / 24.0, 1.0 / 120.0, -1.0 / 720.0, 1.0 / 5040.0, -1.0 / 40320.0];
    let mut p = C[7];
    for &c in C[..7].iter().rev() {
        p = p * x + c;
    }
    p
}

/// x^power: `P` the power where known at compile time (1 to 4), else 0 and `power`.
#[inline(always)]
pub(super) fn raised<const P: u32>(x: f32, power: u32) -> f32 {
    match P {
        1 => x,
        2 => x * x,
        3 => x * x * x,
        4 => {
            let x2 = x * x;
            x2 * x2
        }
        _ => (0..power).fold(1.0, |p, _| p * x),
    }
}

/// A gate's pass over a block, fused: where it is its state's first use (`RELAX`), the
/// state relaxes towards x_inf over the step (exactly, v held); its value to the power
/// starts the channel's open fraction (`START`, the channel's first gate) or multiplies
/// it; the channel's last gate (`FINISH`) adds the open conductance g·open and g·open·E
/// into the membrane's balance instead of storing the fraction. One loop per gate, no
/// fraction initialised to 1 nor read back: the same operations on the same values as
/// separate passes (1·x is x), so the same bits.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn gate_pass<const P: u32, const RELAX: bool, const START: bool, const FINISH: bool>(
    xs: &mut [f32],
    inf: &[f32],
    decay: &[f32],
    open: &mut [f32],
    g_total: &mut [f32],
    g_e: &mut [f32],
    g: f32,
    e_rev: f32,
    power: u32,
) {
    let len = xs.len();
    let (inf, decay, open, g_total, g_e) = (&inf[..len], &decay[..len], &mut open[..len], &mut g_total[..len], &mut g_e[..len]);
    for l in 0..len {
        let x = if RELAX {
            let x = inf[l] + (xs[l] - inf[l]) * decay[l];
            xs[l] = x;
            x
        } else {
            xs[l]
        };
        let o = if START { raised::<P>(x, power) } else { open[l] * raised::<P>(x, power) };
        if FINISH {
            let gc = g * o;
            g_total[l] += gc;
            g_e[l] += gc * e_rev;
        } else {
            open[l] = o;
        }
    }
}

/// One exponential-Euler step of the `len` ≤ `BLOCK` neurons from `s`; returns
/// (non-finite, clamped). Each loop runs over the block's neurons without branches, so
/// that it is one vectorised loop (the table reads gathers); the block is long enough
/// that the compiler vectorises across neurons rather than unrolling them, and short
/// enough that its interpolated columns stay in L1.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn exp_euler_block(
    s: usize,
    len: usize,
    v: &mut [f32],
    x: &mut [f32],
    crossed: &mut [u8],
    input: &[f32],
    common: f32,
    table: &[u64],
    m: &Membrane,
    state_columns: &[(usize, usize)],
    channels: &[ChannelTerms],
    synaptic: &Synaptic,
    columns: &mut [f32],
) -> (bool, u64) {
    let n = v.len();
    let len = len.min(BLOCK);
    let vb = &v[s..s + len];
    // i32 offsets, so that the table reads are gathers with 32-bit indices (the table
    // holds fewer than 2^31 words: checked with the model).
    let mut base = [0i32; BLOCK];
    let mut frac = [0f32; BLOCK];
    let mut clamped = 0u32;
    for l in 0..len {
        let (k, f, out) = locate((vb[l] - m.v_min) * m.inv_dv, m.last);
        base[l] = k * m.columns as i32;
        frac[l] = f;
        clamped += out as u32;
    }
    // Every column, interpolated for every neuron: read once, whichever gates use it.
    let done = interpolate_wide(len, &base, &frac, table, columns);
    interpolate_portable(done, len, &base, &frac, table, columns);
    let mut g_total = [m.g_l; BLOCK];
    let mut g_e = [0f32; BLOCK];
    let input = &input[s..s + len];
    for l in 0..len {
        g_e[l] = m.g_l_e_l + input[l] + common;
    }
    // Each channel's open fraction, started by its first gate (never read before).
    let mut open = [0f32; BLOCK];
    for c in channels {
        let last = c.gates.len() - 1;
        for (k, gate) in c.gates.iter().enumerate() {
            let xs = &mut x[gate.state * n + s..gate.state * n + s + len];
            let (inf, decay) = state_columns[gate.state];
            let (inf, decay) = (&columns[inf * BLOCK..inf * BLOCK + len], &columns[decay * BLOCK..decay * BLOCK + len]);
            let (open, g_total, g_e) = (&mut open[..len], &mut g_total[..len], &mut g_e[..len]);
            let (start, finish) = (k == 0, k == last);
            // The power and the pass's role known per gate: one straight vector loop
            // per case.
            macro_rules! pass {
                ($p:literal) => {
                    pass!($p; (true, true, true), (true, true, false), (true, false, true), (true, false, false),
                        (false, true, true), (false, true, false), (false, false, true), (false, false, false))
                };
                ($p:literal; $(($r:literal, $b:literal, $f:literal)),*) => {
                    match (gate.first, start, finish) {
                        $(($r, $b, $f) => gate_pass::<$p, $r, $b, $f>(xs, inf, decay, open, g_total, g_e, c.g, c.e_rev, gate.power),)*
                    }
                };
            }
            match gate.power {
                1 => pass!(1),
                2 => pass!(2),
                3 => pass!(3),
                4 => pass!(4),
                _ => pass!(0),
            }
        }
    }
    // Synaptic currents join the input; conductances the membrane's balance, as a
    // channel whose open conductance is g.
    for kind in synaptic.iter() {
        match kind {
            SynapticInput::Current { i: c, .. } => {
                for (e, &c) in g_e[..len].iter_mut().zip(&c[s..s + len]) {
                    *e += c;
                }
            }
            SynapticInput::Conductance { g, e_rev, .. } => {
                for ((total, e), &g) in g_total[..len].iter_mut().zip(g_e[..len].iter_mut()).zip(&g[s..s + len]) {
                    *total += g;
                    *e += g * e_rev;
                }
            }
        }
    }
    // v relaxes towards v_inf = g_e / g_total with rate g_total / cm, written as
    // v + dt/cm · (g_e − g_total·v) · φ(x), φ(x) = (1 − e^−x)/x, x = dt·g_total/cm: the
    // same value, but finite where g_total is 0 (a membrane without leak or open channels
    // integrates its current) and without cancellation where it is small. φ is its
    // series where |x| ≤ 1/2 (nearly always: x is dt over the membrane's time constant),
    // e^−x only where a neuron of the block needs it; which one a neuron gets depends on
    // its own x alone, so the bits do not depend on the blocks.
    let mut any_large = false;
    for &g in &g_total[..len] {
        any_large |= (m.dt_over_cm * g).abs() > PHI_SERIES_MAX;
    }
    let crossed = &mut crossed[s..s + len];
    let vb = &mut v[s..s + len];
    let mut bad = 0u32;
    macro_rules! update {
        ($phi:expr) => {
            for l in 0..len {
                let x = m.dt_over_cm * g_total[l];
                let phi = $phi(x);
                let v0 = vb[l];
                let vn = v0 + m.dt_over_cm * (g_e[l] - g_total[l] * v0) * phi;
                crossed[l] = ((v0 < m.threshold) & (vn >= m.threshold)) as u8;
                bad += !vn.is_finite() as u32;
                vb[l] = vn;
            }
        };
    }
    if any_large {
        update!(|x: f32| if x.abs() > PHI_SERIES_MAX { (1.0 - exp_f32(-x)) / x } else { phi_series(x) });
    } else {
        update!(phi_series);
    }
    (bad > 0, clamped as u64)
}

/// The table columns of neurons `done..len` of a block into `columns` (column c at
/// c·BLOCK), a word per neuron and column: what `interpolate_wide` leaves, and all of
/// it below AVX2.
#[inline(always)]
pub(super) fn interpolate_portable(done: usize, len: usize, base: &[i32; BLOCK], frac: &[f32; BLOCK], table: &[u64], columns: &mut [f32]) {
    for (c, values) in columns.chunks_exact_mut(BLOCK).enumerate() {
        for l in done..len {
            let i = base[l] + c as i32;
            debug_assert!(i >= 0 && (i as usize) < table.len());
            // SAFETY: base[l] ≤ (points − 2)·columns and c < columns, so every offset lies
            // inside the table of points · columns words.
            let w = unsafe { *table.as_ptr().offset(i as isize) };
            let (value, rise) = halves(w);
            values[l] = value + frac[l] * rise;
        }
    }
}

/// The instruction set of the exponential-Euler kernel: the widest (`simd::level`),
/// except where that is AVX-512 and this CPU's hardware gathers read the table slower
/// than AVX2 code reads it by rows (`interpolate_rows_avx2`; AMD Zen 4: the whole kernel
/// took 1.3–1.5× the time with gathers than with AVX2 scalar loads, and rows are faster
/// still; Intel Xeon: gathers took 0.7× the time of scalar loads; BENCHMARKS.md),
/// measured once per process by `gathers_pay`. `VOLLEY_TABLE_READS=gathers|rows` decides
/// instead (tests, benchmarks). Every choice gives the same bits: the arithmetic is the
/// same, only the reads differ.
pub fn kernel_level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let widest = crate::simd::level();
        if widest != Level::Avx512 {
            return widest;
        }
        match std::env::var("VOLLEY_TABLE_READS").as_deref() {
            Ok("gathers") => Level::Avx512,
            Ok("rows") => Level::Avx2,
            _ if gathers_pay() => Level::Avx512,
            _ => Level::Avx2,
        }
    })
}

/// Whether, on this CPU, the AVX-512 interpolation of a table (16-lane gathers) beats
/// the AVX2 one (by rows) by the margin below: both timed on a table and block
/// shaped like the five-current model's (13 columns, 2000 points, neurons spread over
/// 20 mV), alternately, five times each; the fastest of each counts. About 2 ms.
pub(super) fn gathers_pay() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        const COLUMNS: usize = 13;
        const POINTS: usize = 2000;
        let table: Vec<u64> = (0..COLUMNS * POINTS + TABLE_PAD).map(|i| ((i as u64) << 32) | (i as u64 & 0xffff)).collect();
        let (mut base, mut frac) = ([0i32; BLOCK], [0f32; BLOCK]);
        let mut r = 0x2545_f491u32;
        for l in 0..BLOCK {
            r = r.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            base[l] = ((POINTS / 2 - 200) as u32 + (r >> 16) % 400) as i32 * COLUMNS as i32;
            frac[l] = (r & 0xffff) as f32 / 65536.0;
        }
        let mut columns = vec![0f32; COLUMNS * BLOCK];
        let mut time = |hardware: bool| {
            let start = std::time::Instant::now();
            for _ in 0..40 {
                // SAFETY: `gathers_pay` runs only where the CPU has AVX-512F (hence AVX2);
                // every offset lies inside the table (base ≤ (POINTS − 1)·COLUMNS).
                unsafe {
                    if hardware {
                        interpolate_avx512(BLOCK, &base, &frac, &table, &mut columns);
                    } else {
                        interpolate_rows_avx2(BLOCK, &base, &frac, &table, &mut columns);
                    }
                }
                std::hint::black_box(&mut columns);
            }
            start.elapsed()
        };
        let (mut hardware, mut rows) = (std::time::Duration::MAX, std::time::Duration::MAX);
        for _ in 0..5 {
            hardware = hardware.min(time(true));
            rows = rows.min(time(false));
        }
        // Rows must win clearly: AVX-512's wider arithmetic elsewhere in the kernel is
        // worth something too.
        rows.as_secs_f64() >= GATHER_MARGIN * hardware.as_secs_f64()
    }
    #[cfg(not(target_arch = "x86_64"))]
    true
}

/// Rows are chosen over gathers only when the interpolation alone takes less than this
/// fraction of the time with them.
pub(super) const GATHER_MARGIN: f64 = 0.8;

/// The table columns of the first neurons of a block, 16 at a time where the CPU has
/// AVX-512, into `columns` (column c at c·BLOCK); returns how many neurons it did (the
/// rest take the portable loop). LLVM's own vectorisation of that loop works at the
/// width of the 8 gathered 64-bit words, parting each into value and rise with three
/// instructions and interpolating 8 lanes at a time; here two gathers of 8 words are
/// parted into 16 values and 16 rises by two permutes and interpolated at full width:
/// half the instructions per column. The same arithmetic (value + frac·rise, no fused
/// multiply-add), so the same bits as the portable loop.
#[inline(always)]
pub(super) fn interpolate_wide(len: usize, base: &[i32; BLOCK], frac: &[f32; BLOCK], table: &[u64], columns: &mut [f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    match kernel_level() {
        // SAFETY: the CPU has AVX-512F (`simd::level`); the offsets are those the
        // portable loop reads (inside the table, see there).
        Level::Avx512 => return unsafe { interpolate_avx512(len, base, frac, table, columns) },
        // SAFETY: the CPU has AVX2; the rows read lie inside the padded table (see there).
        Level::Avx2 => return unsafe { interpolate_rows_avx2(len, base, frac, table, columns) },
        _ => {}
    }
    let _ = (len, base, frac, table, columns);
    0
}

/// The table columns of the first neurons of a block, 8 at a time, by rows where the CPU
/// has AVX2: each neuron's words of 8 neighbouring columns are contiguous in the table
/// (one 64-byte row segment, two loads), parted into values and rises, interpolated,
/// and 8 neurons' results transposed into 8 columns in registers. The portable loop
/// instead loads one word per neuron and column, 13 scalar loads and their address
/// arithmetic per neuron: ~65% of the whole kernel's time on AMD Zen 4, whose gathers
/// are no faster. The same arithmetic (value + frac·rise, no fused multiply-add), so the
/// same bits. Reads up to 7 words past a row's last column: the table is padded
/// (`GateTable::new`). Returns how many neurons it did (a multiple of 8).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn interpolate_rows_avx2(
    len: usize,
    base: &[i32; BLOCK],
    frac: &[f32; BLOCK],
    table: &[u64],
    columns: &mut [f32],
) -> usize {
    use std::arch::x86_64::*;
    let count = columns.len() / BLOCK;
    let full = len / 8 * 8;
    let words = table.as_ptr() as *const f32;
    let out = columns.as_mut_ptr();
    let mut l = 0;
    while l < full {
        let mut c0 = 0;
        while c0 < count {
            // Neuron i's columns c0..c0 + 8, in the order c0 + [0 1 4 5 2 3 6 7].
            let mut y = [_mm256_setzero_ps(); 8];
            for (i, y) in y.iter_mut().enumerate() {
                let row = words.add(2 * (base[l + i] as usize + c0));
                let a = _mm256_loadu_ps(row);
                let b = _mm256_loadu_ps(row.add(8));
                let value = _mm256_shuffle_ps::<0x88>(a, b);
                let rise = _mm256_shuffle_ps::<0xdd>(a, b);
                *y = _mm256_add_ps(value, _mm256_mul_ps(_mm256_set1_ps(frac[l + i]), rise));
            }
            // 8×8 transpose: t[j] holds position j of every neuron's vector.
            let u0 = _mm256_unpacklo_ps(y[0], y[1]);
            let u1 = _mm256_unpackhi_ps(y[0], y[1]);
            let u2 = _mm256_unpacklo_ps(y[2], y[3]);
            let u3 = _mm256_unpackhi_ps(y[2], y[3]);
            let u4 = _mm256_unpacklo_ps(y[4], y[5]);
            let u5 = _mm256_unpackhi_ps(y[4], y[5]);
            let u6 = _mm256_unpacklo_ps(y[6], y[7]);
            let u7 = _mm256_unpackhi_ps(y[6], y[7]);
            let v0 = _mm256_shuffle_ps::<0x44>(u0, u2);
            let v1 = _mm256_shuffle_ps::<0xee>(u0, u2);
            let v2 = _mm256_shuffle_ps::<0x44>(u1, u3);
            let v3 = _mm256_shuffle_ps::<0xee>(u1, u3);
            let v4 = _mm256_shuffle_ps::<0x44>(u4, u6);
            let v5 = _mm256_shuffle_ps::<0xee>(u4, u6);
            let v6 = _mm256_shuffle_ps::<0x44>(u5, u7);
            let v7 = _mm256_shuffle_ps::<0xee>(u5, u7);
            let t = [
                _mm256_permute2f128_ps::<0x20>(v0, v4),
                _mm256_permute2f128_ps::<0x20>(v1, v5),
                _mm256_permute2f128_ps::<0x20>(v2, v6),
                _mm256_permute2f128_ps::<0x20>(v3, v7),
                _mm256_permute2f128_ps::<0x31>(v0, v4),
                _mm256_permute2f128_ps::<0x31>(v1, v5),
                _mm256_permute2f128_ps::<0x31>(v2, v6),
                _mm256_permute2f128_ps::<0x31>(v3, v7),
            ];
            // Position j of the vectors is column c0 + ORDER[j].
            const ORDER: [usize; 8] = [0, 1, 4, 5, 2, 3, 6, 7];
            for (j, t) in t.iter().enumerate() {
                let c = c0 + ORDER[j];
                if c < count {
                    _mm256_storeu_ps(out.add(c * BLOCK + l), *t);
                }
            }
            c0 += 8;
        }
        l += 8;
    }
    full
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn interpolate_avx512(len: usize, base: &[i32; BLOCK], frac: &[f32; BLOCK], table: &[u64], columns: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let full = len / 16 * 16;
    // Of two vectors of 8 words (16 f32 halves each, the second's numbered from 16): the
    // low halves (values), then the high halves (rises).
    let values = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let rises = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (c, out) in columns.chunks_exact_mut(BLOCK).enumerate() {
        let column = table.as_ptr().add(c) as *const i64;
        let mut l = 0;
        while l < full {
            let i0 = _mm256_loadu_si256(base.as_ptr().add(l) as *const __m256i);
            let i1 = _mm256_loadu_si256(base.as_ptr().add(l + 8) as *const __m256i);
            let w0 = _mm512_i32gather_epi64::<8>(i0, column);
            let w1 = _mm512_i32gather_epi64::<8>(i1, column);
            let value = _mm512_castsi512_ps(_mm512_permutex2var_epi32(w0, values, w1));
            let rise = _mm512_castsi512_ps(_mm512_permutex2var_epi32(w0, rises, w1));
            let f = _mm512_loadu_ps(frac.as_ptr().add(l));
            _mm512_storeu_ps(out.as_mut_ptr().add(l), _mm512_add_ps(value, _mm512_mul_ps(f, rise)));
            l += 16;
        }
    }
    full
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn exp_euler_kernel(
    v: &mut [f32],
    x: &mut [f32],
    crossed: &mut [u8],
    input: &[f32],
    common: f32,
    table: &[u64],
    m: &Membrane,
    state_columns: &[(usize, usize)],
    channels: &[ChannelTerms],
    synaptic: &Synaptic,
    columns: &mut [f32],
) -> (bool, u64) {
    let n = v.len();
    let (mut non_finite, mut clamped) = (false, 0);
    for s in (0..n).step_by(BLOCK) {
        let (f, c) =
            exp_euler_block(s, BLOCK.min(n - s), v, x, crossed, input, common, table, m, state_columns, channels, synaptic, columns);
        (non_finite, clamped) = (non_finite | f, clamped + c);
    }
    (non_finite, clamped)
}

crate::simd::dispatch!(pub(super) fn exp_euler_dispatch(v: &mut [f32], x: &mut [f32], crossed: &mut [u8], input: &[f32], common: f32, table: &[u64], m: &Membrane, state_columns: &[(usize, usize)], channels: &[ChannelTerms], synaptic: &Synaptic, columns: &mut [f32]) -> (bool, u64) => exp_euler_kernel; kernel_level());
