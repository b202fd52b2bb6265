//! Hodgkin–Huxley-type neurons: a membrane with a leak and ion channels, each channel a
//! maximal conductance, a reversal potential and gates raised to powers; each gate's
//! kinetics is written in the model file as (x_inf(v), tau_x(v)) or (alpha(v), beta(v)).
//!
//! The default integrator is exponential Euler (NEURON's `cnexp`, Brian2's
//! `exponential_euler`): each gate relaxes exactly towards x_inf(v) over the step with v
//! held, then v relaxes exactly towards the potential at which the membrane's total
//! conductance (with the new gates) balances its currents. What it needs of the rate
//! functions, x_inf and exp(−dt/tau_x), is tabulated at start-up over a range of v and
//! interpolated linearly (NEURON's `TABLE`, GENESIS's tabchannels): all gates of one v bin
//! side by side, so one index serves every gate, in one flat array (the GPU backend binds
//! it as it is). RK4 on the exact functions in f64 is the reference, per population.
//!
//! Units: mV, ms, nS, pF, pA (then dv/dt in mV/ms = pA/pF).

use super::InvalidValue;
use crate::expr::Expr;

/// How a gate's rate functions are given.
#[derive(Clone, Debug)]
pub enum Rates {
    InfTau { inf: Expr, tau: Expr },
    AlphaBeta { alpha: Expr, beta: Expr },
}

impl Rates {
    /// (x_inf, tau_x) at a table point `v`: where the functions are 0/0 there (the
    /// classic alpha_m at −40 mV), their limit, from both sides.
    pub fn inf_tau_at_point(&self, v: f64) -> (f64, f64) {
        let (inf, tau) = self.inf_tau(v);
        if inf.is_finite() && tau.is_finite() {
            return (inf, tau);
        }
        let (a, b) = (self.inf_tau(v - 1e-6), self.inf_tau(v + 1e-6));
        ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0)
    }

    /// (x_inf, tau_x) at `v`.
    pub fn inf_tau(&self, v: f64) -> (f64, f64) {
        match self {
            Rates::InfTau { inf, tau } => (inf.eval(&[v]), tau.eval(&[v])),
            Rates::AlphaBeta { alpha, beta } => {
                let (a, b) = (alpha.eval(&[v]), beta.eval(&[v]));
                (a / (a + b), 1.0 / (a + b))
            }
        }
    }
}

#[derive(Clone, Debug)]
pub enum GateInitial {
    /// x_inf at the initial v.
    Steady,
    Value(f64),
}

#[derive(Clone, Debug)]
pub struct GateSpec {
    pub name: String,
    pub power: u32,
    pub rates: Rates,
    pub initial: GateInitial,
}

#[derive(Clone, Debug)]
pub struct ChannelSpec {
    pub name: String,
    /// Maximal conductance (nS).
    pub g: f64,
    /// Reversal potential (mV).
    pub e_rev: f64,
    pub gates: Vec<GateSpec>,
}

/// The range and step of v over which the rate functions are tabulated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TableSpec {
    pub v_min: f64,
    pub v_max: f64,
    pub dv: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integrator {
    ExponentialEuler,
    Rk4,
}

#[derive(Clone, Debug)]
pub struct HhSpec {
    /// Membrane capacitance (pF).
    pub cm: f64,
    pub g_l: f64,
    pub e_l: f64,
    /// Spike when v crosses this upwards (mV).
    pub threshold: f64,
    pub channels: Vec<ChannelSpec>,
    /// Initial v, an expression of r.
    pub v_init: Expr,
    pub table: TableSpec,
    pub integrator: Integrator,
    pub dt_ms: f64,
}

impl HhSpec {
    pub fn gate_count(&self) -> usize {
        self.channels.iter().map(|c| c.gates.len()).sum()
    }

    fn gates(&self) -> impl Iterator<Item = &GateSpec> {
        self.channels.iter().flat_map(|c| c.gates.iter())
    }

    /// Bytes of state per neuron: v and each gate (f32), the crossing flag; the f64
    /// state of RK4 where chosen.
    pub fn bytes_per_neuron(&self) -> usize {
        let g = self.gate_count();
        4 + 4 * g + 1 + if self.integrator == Integrator::Rk4 { 8 * (1 + g) } else { 0 }
    }

    /// Bytes of the rate tables, held once per group (thread).
    pub fn table_bytes(&self) -> usize {
        if self.integrator == Integrator::Rk4 {
            return 0;
        }
        let points = ((self.table.v_max - self.table.v_min) / self.table.dv).round() as usize + 1;
        points * self.gate_count() * 16
    }

    /// The rate tables for this spec's dt.
    pub fn tables(&self) -> GateTable {
        GateTable::new(self)
    }

    pub fn build(&self, r: impl Iterator<Item = f64>) -> Result<HhGroup, InvalidValue> {
        let gates: Vec<&GateSpec> = self.gates().collect();
        let mut v = Vec::new();
        let mut x: Vec<Vec<f64>> = vec![Vec::new(); gates.len()];
        for (index, r) in r.enumerate() {
            let v0 = self.v_init.eval(&[r]);
            if !(v0 as f32).is_finite() {
                return Err(InvalidValue { index, table: "initial", name: "v", r, value: v0 });
            }
            v.push(v0);
            for (k, gate) in gates.iter().enumerate() {
                let x0 = match gate.initial {
                    GateInitial::Steady => gate.rates.inf_tau(v0).0,
                    GateInitial::Value(x) => x,
                };
                if !(x0 as f32).is_finite() {
                    return Err(InvalidValue { index, table: "initial", name: "gate", r, value: x0 });
                }
                x[k].push(x0);
            }
        }
        let n = v.len();
        let x: Vec<f64> = x.concat();
        let rk4 = self.integrator == Integrator::Rk4;
        Ok(HhGroup {
            spec: self.clone(),
            table: if rk4 { GateTable { v_min: 0.0, dv: 1.0, points: 0, gates: 0, data: Vec::new() } } else { self.tables() },
            v: v.iter().map(|&v| v as f32).collect(),
            x: x.iter().map(|&x| x as f32).collect(),
            exact: rk4.then_some(Exact { v, x }),
            crossed: vec![false; n],
            clamped: 0,
        })
    }
}

/// x_inf and exp(−dt/tau_x) of every gate at v = v_min + k·dv, k = 0..points, gates
/// side by side, each value with its rise to the next point (0 at the last): word
/// `data[(k · gates + j) · 2]` holds x_inf of gate j in its low 32 bits and the rise in
/// its high 32 bits (f32 bit patterns), `+ 1` the decay likewise. One 64-bit read gives
/// a value and its slope: half the reads of looking up both neighbours.
#[derive(Clone, Debug)]
pub struct GateTable {
    pub v_min: f64,
    pub dv: f64,
    pub points: usize,
    pub gates: usize,
    pub data: Vec<u64>,
}

/// The table bin of position `at` (in steps of dv from v_min; the last point at
/// `last`) and the fraction into it, and whether `at` lay outside: then the edge value is
/// used (NaN lands on the first point). Branch-free, so that it vectorises in the kernel.
#[inline(always)]
fn locate(at: f32, last: f32) -> (usize, f32, bool) {
    let inside = at >= 0.0 && at < last;
    let at = if inside {
        at
    } else if at >= last {
        last
    } else {
        0.0
    };
    let k = (at as usize).min(last as usize - 1);
    (k, at - k as f32, !inside)
}

/// A table word: `value` in the low half, `rise` in the high half.
fn word(value: f64, rise: f64) -> u64 {
    (value as f32).to_bits() as u64 | ((rise as f32).to_bits() as u64) << 32
}

#[inline(always)]
fn halves(w: u64) -> (f32, f32) {
    (f32::from_bits(w as u32), f32::from_bits((w >> 32) as u32))
}

impl GateTable {
    fn new(spec: &HhSpec) -> GateTable {
        let t = spec.table;
        let points = ((t.v_max - t.v_min) / t.dv).round() as usize + 1;
        let gates: Vec<&GateSpec> = spec.gates().collect();
        // (x_inf, decay) of each gate at each point, in f64.
        let mut exact = Vec::with_capacity(points * gates.len());
        for k in 0..points {
            let v = t.v_min + k as f64 * t.dv;
            for gate in &gates {
                let (inf, tau) = gate.rates.inf_tau_at_point(v);
                exact.push((inf, (-spec.dt_ms / tau).exp()));
            }
        }
        let g = gates.len();
        let mut data = Vec::with_capacity(points * g * 2);
        for k in 0..points {
            for j in 0..g {
                let (inf, decay) = exact[k * g + j];
                let (inf_next, decay_next) = if k + 1 < points { exact[(k + 1) * g + j] } else { (inf, decay) };
                data.push(word(inf, inf_next - inf));
                data.push(word(decay, decay_next - decay));
            }
        }
        GateTable { v_min: t.v_min, dv: t.dv, points, gates: g, data }
    }

    /// (x_inf, decay) of gate `j` at `v`, interpolated as the kernel does (for tests
    /// and the error bound).
    pub fn lookup(&self, v: f64, j: usize) -> (f64, f64) {
        let at = (v as f32 - self.v_min as f32) * (1.0 / self.dv) as f32;
        let (k, f, _) = locate(at, (self.points - 1) as f32);
        let (inf, rise) = halves(self.data[(k * self.gates + j) * 2]);
        let (decay, fall) = halves(self.data[(k * self.gates + j) * 2 + 1]);
        ((inf + f * rise) as f64, (decay + f * fall) as f64)
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 8
    }
}

/// The f64 state RK4 integrates: v, then gate j of neuron i at `x[j · n + i]`.
#[derive(Clone, Debug)]
struct Exact {
    v: Vec<f64>,
    x: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct HhGroup {
    spec: HhSpec,
    table: GateTable,
    pub v: Vec<f32>,
    /// Gate values: gate j (channels in order, their gates in order) of neuron i at
    /// `x[j · n + i]`, so that each gate's values of a block of neurons are contiguous.
    x: Vec<f32>,
    exact: Option<Exact>,
    /// v crossed the threshold upwards in the last step.
    crossed: Vec<bool>,
    /// Neuron-steps whose v lay outside the table.
    pub clamped: u64,
}

/// What the exponential-Euler kernel needs of a population, in f32.
#[derive(Clone, Copy)]
struct Membrane {
    g_l: f32,
    g_l_e_l: f32,
    threshold: f32,
    dt_over_cm: f32,
    v_min: f32,
    inv_dv: f32,
    /// Last table point index, as f32.
    last: f32,
    /// Words per table point (2 per gate).
    stride: usize,
}

/// One channel's terms: maximal conductance, reversal, its gates' indices and powers.
#[derive(Clone, Debug)]
struct ChannelTerms {
    g: f32,
    e_rev: f32,
    gates: Vec<(usize, u32)>,
}

impl HhGroup {
    pub fn len(&self) -> usize {
        self.v.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    pub fn bytes_per_neuron(&self) -> usize {
        self.spec.bytes_per_neuron()
    }

    /// Bytes of the rate tables this group holds.
    pub fn table_bytes(&self) -> usize {
        self.table.bytes()
    }

    /// One step of every neuron with input current `input[i] + common` (pA). Returns true
    /// if some state is no longer finite.
    pub fn step(&mut self, input: &[f32], common: f32, dt: f32) -> bool {
        match self.spec.integrator {
            Integrator::ExponentialEuler => self.step_exponential_euler(input, common, dt),
            Integrator::Rk4 => self.step_rk4(input, common, dt as f64),
        }
    }

    fn step_exponential_euler(&mut self, input: &[f32], common: f32, dt: f32) -> bool {
        let spec = &self.spec;
        let table = &self.table;
        let membrane = Membrane {
            g_l: spec.g_l as f32,
            g_l_e_l: (spec.g_l * spec.e_l) as f32,
            threshold: spec.threshold as f32,
            dt_over_cm: dt / spec.cm as f32,
            v_min: table.v_min as f32,
            inv_dv: (1.0 / table.dv) as f32,
            last: (table.points - 1) as f32,
            stride: table.gates * 2,
        };
        let mut j = 0;
        let channels: Vec<ChannelTerms> = spec
            .channels
            .iter()
            .map(|c| {
                let gates = c.gates.iter().enumerate().map(|(k, g)| (j + k, g.power)).collect();
                j += c.gates.len();
                ChannelTerms { g: c.g as f32, e_rev: c.e_rev as f32, gates }
            })
            .collect();
        let (non_finite, clamped) =
            exp_euler_dispatch(&mut self.v, &mut self.x, &mut self.crossed, input, common, &table.data, &membrane, &channels);
        self.clamped += clamped;
        non_finite
    }

    /// dv/dt of neurons `v` with gates `x` (gate j of neuron i at x[j·n + i]) and input
    /// current `i_app`, and each gate's dx/dt into `dx`; `inf`, `tau` are scratch.
    fn derivatives(spec: &HhSpec, v: &[f64], x: &[f64], i_app: &[f64], dv: &mut [f64], dx: &mut [f64], scratch: &mut Scratch) {
        let n = v.len();
        for i in 0..n {
            dv[i] = i_app[i] - spec.g_l * (v[i] - spec.e_l);
        }
        let mut j = 0;
        scratch.vars.resize(1, Vec::new());
        scratch.vars[0].clear();
        scratch.vars[0].extend_from_slice(v);
        let vars = &scratch.vars[..];
        for c in &spec.channels {
            scratch.open.clear();
            scratch.open.resize(n, 1.0);
            for g in &c.gates {
                let xj = &x[j * n..(j + 1) * n];
                for (o, &xv) in scratch.open.iter_mut().zip(xj) {
                    *o *= xv.powi(g.power as i32);
                }
                // The rate functions of all neurons at once: one pass of each program.
                match &g.rates {
                    Rates::InfTau { inf, tau } => {
                        inf.eval_batch(n, vars, &mut scratch.inf);
                        tau.eval_batch(n, vars, &mut scratch.tau);
                    }
                    Rates::AlphaBeta { alpha, beta } => {
                        alpha.eval_batch(n, vars, &mut scratch.inf);
                        beta.eval_batch(n, vars, &mut scratch.tau);
                        for (a, b) in scratch.inf.iter_mut().zip(scratch.tau.iter_mut()) {
                            let sum = *a + *b;
                            (*a, *b) = (*a / sum, 1.0 / sum);
                        }
                    }
                }
                for i in 0..n {
                    dx[j * n + i] = (scratch.inf[i] - xj[i]) / scratch.tau[i];
                }
                j += 1;
            }
            for i in 0..n {
                dv[i] -= c.g * scratch.open[i] * (v[i] - c.e_rev);
            }
        }
        dv.iter_mut().for_each(|d| *d /= spec.cm);
    }

    /// Classic RK4 in f64 on the exact rate functions: the reference.
    #[allow(clippy::needless_range_loop)] // stages and state in lockstep, by index
    fn step_rk4(&mut self, input: &[f32], common: f32, dt: f64) -> bool {
        let spec = &self.spec;
        let exact = self.exact.as_mut().expect("RK4 keeps f64 state");
        let n = exact.v.len();
        let g = spec.gate_count();
        let i_app: Vec<f64> = input[..n].iter().map(|&x| x as f64 + common as f64).collect();
        let mut scratch = Scratch::default();
        let (mut kv, mut kx): (Vec<Vec<f64>>, Vec<Vec<f64>>) =
            ((0..4).map(|_| vec![0.0; n]).collect(), (0..4).map(|_| vec![0.0; g * n]).collect());
        let (mut v_mid, mut x_mid) = (vec![0.0; n], vec![0.0; g * n]);
        for stage in 0..4 {
            let h = [0.0, 0.5, 0.5, 1.0][stage] * dt;
            if stage == 0 {
                v_mid.copy_from_slice(&exact.v);
                x_mid.copy_from_slice(&exact.x);
            } else {
                for i in 0..n {
                    v_mid[i] = exact.v[i] + h * kv[stage - 1][i];
                }
                for k in 0..g * n {
                    x_mid[k] = exact.x[k] + h * kx[stage - 1][k];
                }
            }
            let (dv, dx) = (&mut kv[stage], &mut kx[stage]);
            Self::derivatives(spec, &v_mid, &x_mid, &i_app, dv, dx, &mut scratch);
        }
        let mut non_finite = false;
        for i in 0..n {
            let v0 = exact.v[i];
            let v = v0 + dt / 6.0 * (kv[0][i] + 2.0 * kv[1][i] + 2.0 * kv[2][i] + kv[3][i]);
            exact.v[i] = v;
            self.crossed[i] = v0 < spec.threshold && v >= spec.threshold;
            self.v[i] = v as f32;
            non_finite |= !v.is_finite();
        }
        for k in 0..g * n {
            exact.x[k] += dt / 6.0 * (kx[0][k] + 2.0 * kx[1][k] + 2.0 * kx[2][k] + kx[3][k]);
            self.x[k] = exact.x[k] as f32;
        }
        non_finite
    }

    pub fn first_non_finite(&self) -> Option<(usize, &'static str, f32)> {
        self.v.iter().position(|v| !v.is_finite()).map(|i| (i, "v", self.v[i]))
    }

    #[inline]
    pub fn collect_spikes(&self, mut emit: impl FnMut(usize)) {
        for (i, &c) in self.crossed.iter().enumerate() {
            if c {
                emit(i);
            }
        }
    }

    /// The value of gate `j` (channels in order, their gates in order) of every neuron.
    pub fn gate(&self, j: usize) -> &[f32] {
        let n = self.v.len();
        &self.x[j * n..(j + 1) * n]
    }
}

#[derive(Default)]
struct Scratch {
    /// The one variable of the rate functions, v, of every neuron.
    vars: Vec<Vec<f64>>,
    open: Vec<f64>,
    inf: Vec<f64>,
    tau: Vec<f64>,
}

/// Neurons per block of the kernel: a vector of 16 f32 lanes with AVX-512.
const LANES: usize = 16;

/// e^x in f32 for x ≤ 0 (exp(−dt·g/C)), branch-free so that it vectorises: x = n·ln2 + r,
/// |r| ≤ ln2/2, e^r by Cephes's degree-6 polynomial, 2^n from the exponent bits. Within
/// 2 ulp of e^x; the same bits on every instruction set (no fused multiply-add).
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 0.5;
    let y = p * r2 + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// One exponential-Euler step of `L` neurons from `s`; returns (non-finite, clamped).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn exp_euler_block<const L: usize>(
    s: usize,
    v: &mut [f32],
    x: &mut [f32],
    crossed: &mut [bool],
    input: &[f32],
    common: f32,
    table: &[u64],
    m: &Membrane,
    channels: &[ChannelTerms],
) -> (bool, u64) {
    let n = v.len();
    let mut vb = [0f32; L];
    // i32 offsets, so that the table reads are gathers with 32-bit indices (the table
    // holds fewer than 2^31 words: checked with the model).
    let mut base = [0i32; L];
    let mut frac = [0f32; L];
    let mut clamped = 0u64;
    for l in 0..L {
        vb[l] = v[s + l];
        let (k, f, outside) = locate((vb[l] - m.v_min) * m.inv_dv, m.last);
        clamped += outside as u64;
        base[l] = (k * m.stride) as i32;
        frac[l] = f;
    }
    let mut g_total = [m.g_l; L];
    let mut g_e = [0f32; L];
    for l in 0..L {
        g_e[l] = m.g_l_e_l + input[s + l] + common;
    }
    for c in channels {
        let mut open = [1f32; L];
        for &(j, power) in &c.gates {
            let xs = &mut x[j * n + s..j * n + s + L];
            // Lane by lane without branches or inner loops, so that each loop is one
            // vector operation (the table reads gathers).
            let mut xv = [0f32; L];
            for l in 0..L {
                let i0 = base[l] + 2 * j as i32;
                debug_assert!(i0 >= 0 && ((i0 + 1) as usize) < table.len());
                // SAFETY: base[l] ≤ (points − 2)·stride and 2j + 1 < stride, so every
                // offset lies inside the table of points · stride words.
                let (w_inf, w_decay) = unsafe {
                    let t = table.as_ptr();
                    (*t.offset(i0 as isize), *t.offset((i0 + 1) as isize))
                };
                let ((inf, rise), (decay, fall)) = (halves(w_inf), halves(w_decay));
                let (inf, decay) = (inf + frac[l] * rise, decay + frac[l] * fall);
                xv[l] = inf + (xs[l] - inf) * decay;
            }
            xs.copy_from_slice(&xv);
            // x^power, the power known per gate: one straight vector loop per case.
            match power {
                1 => (0..L).for_each(|l| open[l] *= xv[l]),
                2 => (0..L).for_each(|l| open[l] *= xv[l] * xv[l]),
                3 => (0..L).for_each(|l| open[l] *= xv[l] * xv[l] * xv[l]),
                4 => (0..L).for_each(|l| {
                    let x2 = xv[l] * xv[l];
                    open[l] *= x2 * x2
                }),
                _ => {
                    let mut p = xv;
                    for _ in 1..power {
                        (0..L).for_each(|l| p[l] *= xv[l]);
                    }
                    (0..L).for_each(|l| open[l] *= p[l]);
                }
            }
        }
        for l in 0..L {
            let gc = c.g * open[l];
            g_total[l] += gc;
            g_e[l] += gc * c.e_rev;
        }
    }
    let mut vn = [0f32; L];
    for l in 0..L {
        // v relaxes towards v_inf = g_e / g_total with rate g_total / cm, written as
        // v + dt/cm · (g_e − g_total·v) · φ(x), φ(x) = (1 − e^−x)/x, x = dt·g_total/cm:
        // the same value, but finite where g_total is 0 (a membrane without leak or
        // open channels integrates its current) and without cancellation where it is small.
        let x = m.dt_over_cm * g_total[l];
        let phi = if x > 1e-3 { (1.0 - exp_f32(-x)) / x } else { 1.0 - 0.5 * x };
        vn[l] = vb[l] + m.dt_over_cm * (g_e[l] - g_total[l] * vb[l]) * phi;
    }
    let mut bad = 0u32;
    for l in 0..L {
        crossed[s + l] = (vb[l] < m.threshold) & (vn[l] >= m.threshold);
        bad += !vn[l].is_finite() as u32;
    }
    v[s..s + L].copy_from_slice(&vn);
    (bad > 0, clamped)
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn exp_euler_kernel(
    v: &mut [f32],
    x: &mut [f32],
    crossed: &mut [bool],
    input: &[f32],
    common: f32,
    table: &[u64],
    m: &Membrane,
    channels: &[ChannelTerms],
) -> (bool, u64) {
    let n = v.len();
    let (mut non_finite, mut clamped) = (false, 0);
    let mut s = 0;
    while s + LANES <= n {
        let (f, c) = exp_euler_block::<LANES>(s, v, x, crossed, input, common, table, m, channels);
        (non_finite, clamped) = (non_finite | f, clamped + c);
        s += LANES;
    }
    while s < n {
        let (f, c) = exp_euler_block::<1>(s, v, x, crossed, input, common, table, m, channels);
        (non_finite, clamped) = (non_finite | f, clamped + c);
        s += 1;
    }
    (non_finite, clamped)
}

crate::simd::dispatch!(fn exp_euler_dispatch(v: &mut [f32], x: &mut [f32], crossed: &mut [bool], input: &[f32], common: f32, table: &[u64], m: &Membrane, channels: &[ChannelTerms]) -> (bool, u64) => exp_euler_kernel);

#[cfg(test)]
mod tests {
    use super::*;

    fn classic_sodium_m() -> GateSpec {
        let e = |s: &str| Expr::parse(s, &["v"]).unwrap();
        GateSpec {
            name: "m".into(),
            power: 3,
            rates: Rates::AlphaBeta { alpha: e("0.1*(v+40)/(1-exp(-(v+40)/10))"), beta: e("4*exp(-(v+65)/18)") },
            initial: GateInitial::Steady,
        }
    }

    fn spec_with(gate: GateSpec, table: TableSpec) -> HhSpec {
        HhSpec {
            cm: 1.0,
            g_l: 0.3,
            e_l: -54.4,
            threshold: -20.0,
            channels: vec![ChannelSpec { name: "na".into(), g: 120.0, e_rev: 50.0, gates: vec![gate] }],
            v_init: Expr::parse("-65", &["r"]).unwrap(),
            table,
            integrator: Integrator::ExponentialEuler,
            dt_ms: 0.01,
        }
    }

    /// Linear interpolation between table points is within dv²/8 · max|f''| of the exact
    /// function; checked between the points, where it is largest.
    #[test]
    fn tables_are_within_the_interpolation_bound_of_the_exact_functions() {
        let table = TableSpec { v_min: -120.0, v_max: 80.0, dv: 0.1 };
        let spec = spec_with(classic_sodium_m(), table);
        let t = spec.tables();
        let gate = &spec.channels[0].gates[0];
        let mut worst: f64 = 0.0;
        for k in 0..20_000 {
            let v = -119.99 + k as f64 * 0.00995;
            let (inf, tau) = gate.rates.inf_tau(v);
            let (inf_t, decay_t) = t.lookup(v, 0);
            worst = worst.max((inf - inf_t).abs()).max(((-0.01 / tau).exp() - decay_t).abs());
        }
        assert!(worst < 2e-5, "table error {worst}");
    }
}
