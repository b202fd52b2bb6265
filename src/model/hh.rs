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

use super::declaration::{Bound, Declaration, Declared, Derived, InitialScope, Parameter, Scope, StateVariable};
use super::{InvalidValue, ModelKind, NeuronModel};
use crate::expr::Expr;
use crate::simd::Level;
use crate::synapse::{Synaptic, SynapticInput};

/// The model as a model file names it.
pub const KIND: ModelKind = ModelKind { name: "hh", declaration: base_declaration, ion_channels: true, build, check: None };

/// What a population of this model lists beside its parameters: its ion channels, the
/// rate tables' range and step, and the integrator.
#[derive(Clone, Debug)]
pub struct IonChannels {
    pub channels: Vec<ChannelSpec>,
    pub table: TableSpec,
    pub integrator: Integrator,
}

/// The membrane's parameters (one per population) and v; the gates, from the file's
/// channels, join in `HhSpec::declaration`.
pub fn base_declaration() -> Declaration {
    let parameter = |name: &str, unit, default, bound| Parameter { name: name.into(), unit, scope: Scope::Population, default, bound };
    Declaration {
        model: "hh",
        parameters: vec![
            parameter("cm", "pF", None, Some(Bound { min: 0.0, strict: true, what: "a capacitance" })),
            parameter("g_l", "nS", None, Some(Bound { min: 0.0, strict: false, what: "a conductance" })),
            parameter("e_l", "mV", None, None),
            parameter("threshold", "mV", Some("-20"), None),
        ],
        state: vec![StateVariable { name: "v".into(), unit: "mV", initial: Some("-65"), scope: InitialScope::R, aliases: Vec::new() }],
        derived: vec![Derived { name: "dt/cm".into(), unit: "ms/pF", definition: "dt / cm".into() }],
        step: "exponential Euler (default): each gate x += (x_inf(v) − x)·(1 − exp(−dt/tau_x(v))) from the tables, then v relaxes \
               exactly towards (g_l·E_l + Σ g·E + I) / (g_l + Σ g) with the new gates; or RK4 on the exact functions"
            .into(),
        threshold: "v crosses the threshold upwards".into(),
        reset: "none (a crossing counts once)".into(),
        integrates_conductances: true,
        extra_bytes_per_neuron: 1,
        initial_note: Some("a gate's initial value is its `initial`"),
        filters_weights: false,
    }
}

fn build(declared: Declared, channels: Option<IonChannels>, dt_ms: f64) -> NeuronModel {
    let constant = |k: usize| declared.parameters[k].constant().expect("hh parameters are constants, as declared");
    let IonChannels { channels, table, integrator } = channels.expect("hh populations list ion channels");
    NeuronModel::Hh(HhSpec {
        cm: constant(0),
        g_l: constant(1),
        e_l: constant(2),
        threshold: constant(3),
        channels,
        v_init: declared.initial[0].clone(),
        table,
        integrator,
        dt_ms,
    })
}

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

    /// Whether x_inf is the same function of v in both (the same program).
    fn same_inf(&self, other: &Rates) -> bool {
        match (self, other) {
            (Rates::InfTau { inf: a, .. }, Rates::InfTau { inf: b, .. }) => a == b,
            (Rates::AlphaBeta { .. }, Rates::AlphaBeta { .. }) => self.same_tau(other),
            _ => false,
        }
    }

    /// Whether tau_x is the same function of v in both.
    fn same_tau(&self, other: &Rates) -> bool {
        match (self, other) {
            (Rates::InfTau { tau: a, .. }, Rates::InfTau { tau: b, .. }) => a == b,
            (Rates::AlphaBeta { alpha: a, beta: b }, Rates::AlphaBeta { alpha: c, beta: d }) => a == c && b == d,
            _ => false,
        }
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

#[derive(Clone, Debug, PartialEq)]
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

/// What gates share. The exponential-Euler tables hold each distinct rate quantity once
/// (x_inf of the fast and slow sodium h gates is one column), and gates with the same
/// kinetics and the same initial value are one state (the m gates of the fast and slow
/// sodium currents): the same equation from the same start gives the same values, step
/// by step, so sharing changes no result and saves a table read and an update per step.
#[derive(Clone, Debug, PartialEq)]
pub struct Sharing {
    /// Per gate (channels in order, their gates in order): where its value and rates are.
    pub gates: Vec<GateSlot>,
    /// Per state: the first gate that has it (its rates and initial value).
    pub states: Vec<usize>,
    /// Per table column: the first gate whose rates define it, and which quantity.
    pub columns: Vec<(usize, Quantity)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateSlot {
    pub state: usize,
    /// Its x_inf column and its exp(−dt/tau_x) column in the table.
    pub inf: usize,
    pub decay: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Inf,
    Decay,
}

impl Sharing {
    fn of(spec: &HhSpec) -> Sharing {
        let gates: Vec<&GateSpec> = spec.gates().collect();
        let (mut slots, mut states, mut columns): (Vec<GateSlot>, Vec<usize>, Vec<(usize, Quantity)>) = Default::default();
        let mut column = |j: usize, q: Quantity, same: &dyn Fn(&Rates, &Rates) -> bool| {
            let found = columns.iter().position(|&(k, kq)| kq == q && same(&gates[k].rates, &gates[j].rates));
            found.unwrap_or_else(|| {
                columns.push((j, q));
                columns.len() - 1
            })
        };
        for (j, gate) in gates.iter().enumerate() {
            let inf = column(j, Quantity::Inf, &Rates::same_inf);
            let decay = column(j, Quantity::Decay, &Rates::same_tau);
            let shared = slots.iter().find(|s| s.inf == inf && s.decay == decay && gates[states[s.state]].initial == gate.initial);
            let state = match shared {
                Some(s) => s.state,
                None => {
                    states.push(j);
                    states.len() - 1
                }
            };
            slots.push(GateSlot { state, inf, decay });
        }
        Sharing { gates: slots, states, columns }
    }
}

/// dt at most the fastest gate's time constant over this (`HhSpec::dt_warning`).
const DT_PER_TAU: f64 = 4.0;

impl HhSpec {
    pub fn gate_count(&self) -> usize {
        self.channels.iter().map(|c| c.gates.len()).sum()
    }

    fn gates(&self) -> impl Iterator<Item = &GateSpec> {
        self.channels.iter().flat_map(|c| c.gates.iter())
    }

    /// The lowest and highest reversal potential of the membrane: its channels', its
    /// leak's and `others` (conductance-based synapses onto it).
    fn reversal_range(&self, others: &[f64]) -> (f64, f64) {
        let all = self.channels.iter().map(|c| c.e_rev).chain([self.e_l]).chain(others.iter().copied());
        all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), e| (lo.min(e), hi.max(e)))
    }

    /// The highest membrane potential a neuron can reach from below it, given the
    /// reversal potentials of conductance-based synapses onto it (`reversals`) and the
    /// largest total current injected into one neuron (`current`; None: unbounded, as
    /// noise or current-based synapses are). Above every reversal potential each
    /// conductance pulls v down; the leak alone then holds it below e_l + I / g_l.
    pub fn v_ceiling(&self, reversals: &[f64], current: Option<f64>) -> Option<f64> {
        let current = current?.max(0.0);
        let (_, highest) = self.reversal_range(reversals);
        let leak = match self.g_l > 0.0 {
            true => self.e_l + current / self.g_l,
            false if current > 0.0 => return None,
            false => highest,
        };
        Some(highest.max(leak))
    }

    /// A warning when `dt_ms` is too long for this membrane's fastest gate: beyond a
    /// quarter of its time constant, spike times drift from the exact ones by more than a
    /// step (measured on the five-current model against RK4 at 0.001 ms: 0.010 ms at
    /// dt = 0.01, 0.032 at 0.025, 0.084 at 0.05, 0.23 at 0.1, 59 ms and a third of the
    /// spikes lost at 1 ms; its fastest gate's tau is 0.093 ms).
    pub fn dt_warning(&self, dt_ms: f64) -> Option<String> {
        let (tau, gate, v) = self.fastest_gate()?;
        let limit = tau / DT_PER_TAU;
        if dt_ms <= limit * (1.0 + 1e-9) {
            return None;
        }
        let what = match self.integrator {
            Integrator::ExponentialEuler => "exponential Euler stays stable, but spike times drift from the exact ones by more than a step",
            Integrator::Rk4 => "RK4 loses its accuracy there, and beyond about 2.8 times that time constant its stability",
        };
        Some(format!(
            "dt = {dt_ms} ms is more than a quarter of the time constant of its fastest gate ({gate}: {tau:.3} ms at v = {v:.1} mV): {what}; dt ≤ {:.3} ms keeps them within a step (README, Hodgkin–Huxley: accuracy)",
            (limit * 1000.0).floor() / 1000.0
        ))
    }

    /// The fastest gate of the membrane where it lives: the smallest tau_x(v) of any
    /// gate for v between the lowest and highest reversal potential (every 0.1 mV), with
    /// the gate and the v (None if there is none). Exponential Euler stays stable at any
    /// dt, but a step longer than this skips the gate's dynamics.
    pub fn fastest_gate(&self) -> Option<(f64, String, f64)> {
        let (lo, hi) = self.reversal_range(&[]);
        if !(hi - lo).is_finite() {
            return None;
        }
        // Every 0.1 mV, at most 10⁴ points (a membrane spans ~150 mV).
        let points = ((hi - lo) / 0.1).ceil().clamp(1.0, 1e4) as usize;
        let mut fastest: Option<(f64, String, f64)> = None;
        for c in &self.channels {
            for g in &c.gates {
                for k in 0..=points {
                    let v = lo + (hi - lo) * k as f64 / points as f64;
                    let (_, tau) = g.rates.inf_tau_at_point(v);
                    if tau.is_finite() && fastest.as_ref().is_none_or(|f| tau < f.0) {
                        fastest = Some((tau, format!("gate {} of channel {}", g.name, c.name), v));
                    }
                }
            }
        }
        fastest
    }

    /// Which gates share table columns and state.
    pub fn sharing(&self) -> Sharing {
        Sharing::of(self)
    }

    /// The declaration with this population's gates: one state variable per distinct
    /// gate state, named channel.gate (gates that share it are its aliases), and the
    /// tables it derives.
    pub fn declaration(&self) -> Declaration {
        let mut d = base_declaration();
        let sharing = self.sharing();
        let names: Vec<String> = self.channels.iter().flat_map(|c| c.gates.iter().map(move |g| format!("{}.{}", c.name, g.name))).collect();
        for (s, &first) in sharing.states.iter().enumerate() {
            let aliases = (first + 1..names.len()).filter(|&j| sharing.gates[j].state == s).map(|j| names[j].clone()).collect();
            d.state.push(StateVariable { name: names[first].clone(), unit: "", initial: None, scope: InitialScope::R, aliases });
        }
        if self.integrator == Integrator::ExponentialEuler {
            d.derived.push(Derived {
                name: "tables".into(),
                unit: "",
                definition: format!(
                    "x_inf(v) and 1 − exp(−dt/tau_x(v)) of every gate, {} distinct columns at {} points from {} to {} mV",
                    sharing.columns.len(),
                    self.table_points(),
                    self.table.v_min,
                    self.table.v_max
                ),
            });
        }
        d.extra_bytes_per_neuron += if self.integrator == Integrator::Rk4 { 8 * (1 + sharing.states.len()) } else { 0 };
        d
    }

    /// Bytes of state per neuron: v and each distinct gate state (f32), the crossing
    /// flag; the f64 state of RK4 where chosen.
    pub fn bytes_per_neuron(&self) -> usize {
        let s = self.sharing().states.len();
        4 + 4 * s + 1 + if self.integrator == Integrator::Rk4 { 8 * (1 + s) } else { 0 }
    }

    fn table_points(&self) -> usize {
        ((self.table.v_max - self.table.v_min) / self.table.dv).round() as usize + 1
    }

    /// Bytes of the rate tables, held once per group (thread).
    pub fn table_bytes(&self) -> usize {
        if self.integrator == Integrator::Rk4 {
            return 0;
        }
        (self.table_points() * self.sharing().columns.len() + TABLE_PAD) * 8
    }

    /// The rate tables for this spec's dt.
    pub fn tables(&self) -> GateTable {
        GateTable::new(self, &self.sharing())
    }

    pub fn build(&self, r: impl Iterator<Item = f64>) -> Result<HhGroup, InvalidValue> {
        let gates: Vec<&GateSpec> = self.gates().collect();
        let sharing = self.sharing();
        let mut v = Vec::new();
        let mut x: Vec<Vec<f64>> = vec![Vec::new(); sharing.states.len()];
        for (index, r) in r.enumerate() {
            let v0 = self.v_init.eval(&[r]);
            if !(v0 as f32).is_finite() {
                return Err(InvalidValue { index, table: "initial", name: "v", r, value: v0 });
            }
            v.push(v0);
            for (s, &j) in sharing.states.iter().enumerate() {
                let gate = gates[j];
                let x0 = match gate.initial {
                    GateInitial::Steady => gate.rates.inf_tau(v0).0,
                    GateInitial::Value(x) => x,
                };
                if !(x0 as f32).is_finite() {
                    return Err(InvalidValue { index, table: "initial", name: "gate", r, value: x0 });
                }
                x[s].push(x0);
            }
        }
        let n = v.len();
        let x: Vec<f64> = x.concat();
        let rk4 = self.integrator == Integrator::Rk4;
        let mut j = 0;
        let channels = self
            .channels
            .iter()
            .map(|c| {
                let gates = c
                    .gates
                    .iter()
                    .enumerate()
                    .map(|(k, g)| {
                        let state = sharing.gates[j + k].state;
                        GateTerm { state, power: g.power, first: sharing.states[state] == j + k }
                    })
                    .collect();
                j += c.gates.len();
                ChannelTerms { g: c.g as f32, e_rev: c.e_rev as f32, gates }
            })
            .collect();
        let table = if rk4 { GateTable::empty() } else { GateTable::new(self, &sharing) };
        let state_columns = sharing.states.iter().map(|&j| (sharing.gates[j].inf, sharing.gates[j].decay)).collect();
        Ok(HhGroup {
            spec: self.clone(),
            columns: vec![0.0; table.columns * BLOCK],
            table,
            v: v.iter().map(|&v| v as f32).collect(),
            x: x.iter().map(|&x| x as f32).collect(),
            exact: rk4.then_some(Exact { v, x }),
            crossed: vec![0; n],
            clamped: 0,
            channels,
            state_columns,
            sharing,
        })
    }
}

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
const TABLE_PAD: usize = 8;

/// The table bin of position `at` (in steps of dv from v_min; the last point at
/// `last`) and the fraction into it, and whether `at` lay outside: then the edge value is
/// used (NaN lands on the first point). Branch-free and without float-to-unsigned
/// conversions, so that it vectorises in the kernel.
#[inline(always)]
fn locate(at: f32, last: f32) -> (i32, f32, bool) {
    let inside = (at >= 0.0) & (at < last);
    let at = if at >= 0.0 { at } else { 0.0 };
    let at = if at < last { at } else { last };
    // SAFETY: `at` lies in [0, last] (NaN became 0), and last < 2^23 points (checked with
    // the model), so it fits an i32.
    let k = unsafe { at.to_int_unchecked::<i32>() }.min(last as i32 - 1);
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
    fn empty() -> GateTable {
        GateTable { v_min: 0.0, dv: 1.0, points: 0, columns: 0, gates: Vec::new(), data: Vec::new() }
    }

    fn new(spec: &HhSpec, sharing: &Sharing) -> GateTable {
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

/// The f64 state RK4 integrates: v, then state s of neuron i at `x[s · n + i]`.
#[derive(Clone, Debug)]
struct Exact {
    v: Vec<f64>,
    x: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct HhGroup {
    spec: HhSpec,
    sharing: Sharing,
    table: GateTable,
    pub v: Vec<f32>,
    /// Gate states (`Sharing::states`): state s of neuron i at `x[s · n + i]`, so that
    /// each state's values of a block of neurons are contiguous.
    x: Vec<f32>,
    exact: Option<Exact>,
    /// 1 where v crossed the threshold upwards in the last step (bytes, so that the scan
    /// for spikes reads eight neurons at a time).
    crossed: Vec<u8>,
    /// Neuron-steps whose v lay outside the table.
    pub clamped: u64,
    /// What the kernel needs, worked out once: the channels' terms, each state's table
    /// columns, and room for every column's interpolated values of one block.
    channels: Vec<ChannelTerms>,
    state_columns: Vec<(usize, usize)>,
    columns: Vec<f32>,
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
    /// Words per table point.
    columns: usize,
}

/// One channel's terms: maximal conductance, reversal, its gates.
#[derive(Clone, Debug)]
struct ChannelTerms {
    g: f32,
    e_rev: f32,
    gates: Vec<GateTerm>,
}

#[derive(Clone, Copy, Debug)]
struct GateTerm {
    state: usize,
    power: u32,
    /// The first gate (channels in order) with this state: it updates the state.
    first: bool,
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

    /// One step of every neuron with input current `input[i] + common` (pA) and the
    /// synaptic currents and conductances `synaptic` (a conductance joins the ion
    /// channels: g and g·E in the membrane's balance). Returns true if some state is no
    /// longer finite.
    pub fn step(&mut self, input: &[f32], common: f32, synaptic: &Synaptic, dt: f32) -> bool {
        match self.spec.integrator {
            Integrator::ExponentialEuler => self.step_exponential_euler(input, common, synaptic, dt),
            Integrator::Rk4 => self.step_rk4(input, common, synaptic, dt as f64),
        }
    }

    fn step_exponential_euler(&mut self, input: &[f32], common: f32, synaptic: &Synaptic, dt: f32) -> bool {
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
            columns: table.columns,
        };
        let (non_finite, clamped) = exp_euler_dispatch(
            &mut self.v,
            &mut self.x,
            &mut self.crossed,
            input,
            common,
            &table.data,
            &membrane,
            &self.state_columns,
            &self.channels,
            synaptic,
            &mut self.columns,
        );
        self.clamped += clamped;
        non_finite
    }

    /// dv/dt of neurons `v` with gate states `x` (state s of neuron i at x[s·n + i]) and
    /// input current `i_app`, and each state's dx/dt into `dx`.
    #[allow(clippy::too_many_arguments)]
    fn derivatives(
        spec: &HhSpec,
        sharing: &Sharing,
        v: &[f64],
        x: &[f64],
        i_app: &[f64],
        conductances: &[(f64, &[f32])],
        dv: &mut [f64],
        dx: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let n = v.len();
        for i in 0..n {
            dv[i] = i_app[i] - spec.g_l * (v[i] - spec.e_l);
        }
        for &(e_rev, g) in conductances {
            for i in 0..n {
                dv[i] += g[i] as f64 * (e_rev - v[i]);
            }
        }
        scratch.vars.resize(1, Vec::new());
        scratch.vars[0].clear();
        scratch.vars[0].extend_from_slice(v);
        let vars = &scratch.vars[..];
        let gates: Vec<&GateSpec> = spec.gates().collect();
        for (s, &j) in sharing.states.iter().enumerate() {
            // The rate functions of all neurons at once: one pass of each program.
            match &gates[j].rates {
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
                dx[s * n + i] = (scratch.inf[i] - x[s * n + i]) / scratch.tau[i];
            }
        }
        let mut j = 0;
        for c in &spec.channels {
            scratch.open.clear();
            scratch.open.resize(n, 1.0);
            for g in &c.gates {
                let s = sharing.gates[j].state;
                for (o, &xv) in scratch.open.iter_mut().zip(&x[s * n..(s + 1) * n]) {
                    *o *= xv.powi(g.power as i32);
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
    fn step_rk4(&mut self, input: &[f32], common: f32, synaptic: &Synaptic, dt: f64) -> bool {
        let spec = &self.spec;
        let exact = self.exact.as_mut().expect("RK4 keeps f64 state");
        let n = exact.v.len();
        let g = self.sharing.states.len();
        let mut i_app: Vec<f64> = input[..n].iter().map(|&x| x as f64 + common as f64).collect();
        // Synaptic currents, and conductances with their reversal potentials, held over
        // the step (they change by their own dynamics, step by step).
        let mut conductances: Vec<(f64, &[f32])> = Vec::new();
        for kind in synaptic.iter() {
            match kind {
                SynapticInput::Current(c) => i_app.iter_mut().zip(c).for_each(|(i, &c)| *i += c as f64),
                SynapticInput::Conductance { g, e_rev } => conductances.push((e_rev as f64, g)),
            }
        }
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
            Self::derivatives(spec, &self.sharing, &v_mid, &x_mid, &i_app, &conductances, dv, dx, &mut scratch);
        }
        let mut non_finite = false;
        for i in 0..n {
            let v0 = exact.v[i];
            let v = v0 + dt / 6.0 * (kv[0][i] + 2.0 * kv[1][i] + 2.0 * kv[2][i] + kv[3][i]);
            exact.v[i] = v;
            self.crossed[i] = (v0 < spec.threshold && v >= spec.threshold) as u8;
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
        // Spikes are rare: skip eight quiet neurons with one comparison.
        let words = self.crossed.chunks_exact(8);
        let tail = words.remainder();
        for (w, word) in words.enumerate() {
            if u64::from_ne_bytes(word.try_into().expect("8 bytes")) != 0 {
                word.iter().enumerate().filter(|(_, &c)| c != 0).for_each(|(k, _)| emit(w * 8 + k));
            }
        }
        let start = self.crossed.len() - tail.len();
        tail.iter().enumerate().filter(|(_, &c)| c != 0).for_each(|(k, _)| emit(start + k));
    }

    /// The `k`-th state variable of the declaration: v, then each distinct gate state.
    pub fn state_variable(&self, k: usize) -> Option<&[f32]> {
        let n = self.v.len();
        match k {
            0 => Some(&self.v),
            k if k <= self.sharing.states.len() => Some(&self.x[(k - 1) * n..k * n]),
            _ => None,
        }
    }

    /// Every array of state a step reads that a checkpoint must restore, in the order
    /// of `HhSpec::checkpoint_names`: v and each shared gate state (f32), then, under
    /// RK4, their f64 copies. (`crossed` is rewritten by every step before it is read.)
    pub fn checkpoint_arrays_mut(&mut self) -> Vec<super::StateArrayMut<'_>> {
        let n = self.v.len();
        let mut out: Vec<super::StateArrayMut<'_>> = vec![super::StateArrayMut::F32(&mut self.v)];
        if n > 0 {
            out.extend(self.x.chunks_exact_mut(n).map(super::StateArrayMut::F32));
        } else {
            out.extend((0..self.sharing.states.len()).map(|_| super::StateArrayMut::F32(&mut [])));
        }
        if let Some(exact) = self.exact.as_mut() {
            out.push(super::StateArrayMut::F64(&mut exact.v));
            if n > 0 {
                out.extend(exact.x.chunks_exact_mut(n).map(super::StateArrayMut::F64));
            } else {
                out.extend((0..self.sharing.states.len()).map(|_| super::StateArrayMut::F64(&mut [])));
            }
        }
        out
    }

    /// Distinct gate states.
    pub fn state_count(&self) -> usize {
        self.sharing.states.len()
    }

    /// The model's exponential-Euler step in WGSL.
    pub fn gpu_shader() -> &'static str {
        include_str!("../../shaders/hh.wgsl")
    }

    /// The group as the GPU steps it (`shaders/hh.wgsl`): state v and the gate states;
    /// the rate table as one flat parameter; the membrane and the channels' structure as
    /// constants. None under RK4 (f64, which not every GPU has).
    pub fn gpu_model(&self) -> Option<super::GpuModel> {
        if self.spec.integrator != Integrator::ExponentialEuler {
            return None;
        }
        let (spec, t) = (&self.spec, &self.table);
        let word = |u: usize| f32::from_bits(u as u32);
        let mut constants = vec![
            spec.g_l as f32,
            (spec.g_l * spec.e_l) as f32,
            spec.threshold as f32,
            spec.dt_ms as f32 / spec.cm as f32,
            t.v_min as f32,
            (1.0 / t.dv) as f32,
            (t.points - 1) as f32,
            word(t.columns),
            word(self.state_columns.len()),
            word(self.channels.len()),
        ];
        for &(inf, decay) in &self.state_columns {
            constants.extend([word(inf), word(decay)]);
        }
        for c in &self.channels {
            constants.extend([c.g, c.e_rev, word(c.gates.len())]);
            for g in &c.gates {
                constants.extend([word(g.state), word(g.power as usize)]);
            }
        }
        let table: Vec<f32> =
            t.data[..t.points * t.columns].iter().flat_map(|&w| [f32::from_bits(w as u32), f32::from_bits((w >> 32) as u32)]).collect();
        let n = self.v.len();
        let mut state = vec![self.v.clone()];
        state.extend((0..self.sharing.states.len()).map(|s| self.x[s * n..(s + 1) * n].to_vec()));
        Some(super::GpuModel { shader: Self::gpu_shader(), state, parameters: vec![(table, false)], constants })
    }

    /// The state arrays of `gpu_model`: v, then each gate state.
    pub fn gpu_state_mut(&mut self) -> Vec<&mut [f32]> {
        let n = self.v.len();
        let mut out: Vec<&mut [f32]> = vec![&mut self.v];
        if n > 0 {
            out.extend(self.x.chunks_exact_mut(n));
        }
        out
    }

    /// The value of gate `j` (channels in order, their gates in order) of every neuron.
    pub fn gate(&self, j: usize) -> &[f32] {
        let (n, s) = (self.v.len(), self.sharing.gates[j].state);
        &self.x[s * n..(s + 1) * n]
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

/// Neurons per block of the kernel.
const BLOCK: usize = 256;

/// e^x in f32 for x ≤ 0 (exp(−dt·g/C)), branch-free so that it vectorises: x = n·ln2 + r,
/// |r| ≤ ln2/2, e^r by Cephes's degree-6 polynomial, 2^n from the exponent bits. Within
/// 2 ulp of e^x; the same bits on every instruction set (no fused multiply-add).
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
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
const PHI_SERIES_MAX: f32 = 0.5;

/// φ(x) = (1 − e^−x)/x = Σ (−x)^k / (k + 1)! to k = 7, for |x| ≤ 1/2: the first term left
/// out is below x⁸/9! = 1.1·10⁻⁸, under half an f32 ulp of φ (≥ 0.78 there); Horner's
/// rule in f32, without fused multiply-adds, so the same bits on every instruction set.
#[inline(always)]
fn phi_series(x: f32) -> f32 {
    const C: [f32; 8] = [1.0, -1.0 / 2.0, 1.0 / 6.0, -1.0 / 24.0, 1.0 / 120.0, -1.0 / 720.0, 1.0 / 5040.0, -1.0 / 40320.0];
    let mut p = C[7];
    for &c in C[..7].iter().rev() {
        p = p * x + c;
    }
    p
}

/// x^power: `P` the power where known at compile time (1 to 4), else 0 and `power`.
#[inline(always)]
fn raised<const P: u32>(x: f32, power: u32) -> f32 {
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
fn gate_pass<const P: u32, const RELAX: bool, const START: bool, const FINISH: bool>(
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
fn exp_euler_block(
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
            SynapticInput::Current(c) => {
                for (e, &c) in g_e[..len].iter_mut().zip(&c[s..s + len]) {
                    *e += c;
                }
            }
            SynapticInput::Conductance { g, e_rev } => {
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
fn interpolate_portable(done: usize, len: usize, base: &[i32; BLOCK], frac: &[f32; BLOCK], table: &[u64], columns: &mut [f32]) {
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
fn gathers_pay() -> bool {
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
const GATHER_MARGIN: f64 = 0.8;

/// The table columns of the first neurons of a block, 16 at a time where the CPU has
/// AVX-512, into `columns` (column c at c·BLOCK); returns how many neurons it did (the
/// rest take the portable loop). LLVM's own vectorisation of that loop works at the
/// width of the 8 gathered 64-bit words, parting each into value and rise with three
/// instructions and interpolating 8 lanes at a time; here two gathers of 8 words are
/// parted into 16 values and 16 rises by two permutes and interpolated at full width:
/// half the instructions per column. The same arithmetic (value + frac·rise, no fused
/// multiply-add), so the same bits as the portable loop.
#[inline(always)]
fn interpolate_wide(len: usize, base: &[i32; BLOCK], frac: &[f32; BLOCK], table: &[u64], columns: &mut [f32]) -> usize {
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
unsafe fn interpolate_rows_avx2(len: usize, base: &[i32; BLOCK], frac: &[f32; BLOCK], table: &[u64], columns: &mut [f32]) -> usize {
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
unsafe fn interpolate_avx512(len: usize, base: &[i32; BLOCK], frac: &[f32; BLOCK], table: &[u64], columns: &mut [f32]) -> usize {
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
fn exp_euler_kernel(
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

crate::simd::dispatch!(fn exp_euler_dispatch(v: &mut [f32], x: &mut [f32], crossed: &mut [u8], input: &[f32], common: f32, table: &[u64], m: &Membrane, state_columns: &[(usize, usize)], channels: &[ChannelTerms], synaptic: &Synaptic, columns: &mut [f32]) -> (bool, u64) => exp_euler_kernel; kernel_level());

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

    /// φ's series agrees with (1 − e^−x)/x in f64 to within 2 f32 ulps over its range,
    /// and meets the exact form at the switch.
    /// The AVX2 interpolation by rows gives the portable loop's bits for every column
    /// count (runs of 8 columns, with a partial last run) and block length (neurons in
    /// eights, the rest left to the portable loop), at the table's last bin too.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn rows_interpolate_as_the_portable_loop_does() {
        if !is_x86_feature_detected!("avx2") {
            panic!("this test needs AVX2 (every x86-64 CI machine of this project has it)");
        }
        const POINTS: usize = 50;
        for count in [1usize, 2, 7, 8, 9, 13, 16, 17] {
            let table: Vec<u64> = (0..POINTS * count)
                .map(|i| word((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos() * 1e-2))
                .chain(std::iter::repeat_n(0, TABLE_PAD))
                .collect();
            let mut base = [0i32; BLOCK];
            let mut frac = [0f32; BLOCK];
            for l in 0..BLOCK {
                // Every bin, the last ((POINTS − 2)·count) included.
                base[l] = ((l * 7) % (POINTS - 1)) as i32 * count as i32;
                frac[l] = (l as f32 * 0.618).fract();
            }
            for len in [0usize, 5, 8, 61, BLOCK] {
                let mut expected = vec![f32::NAN; count * BLOCK];
                interpolate_portable(0, len, &base, &frac, &table, &mut expected);
                let mut got = vec![f32::NAN; count * BLOCK];
                // SAFETY: AVX2 checked above; the table is padded.
                let done = unsafe { interpolate_rows_avx2(len, &base, &frac, &table, &mut got) };
                assert_eq!(done, len / 8 * 8);
                interpolate_portable(done, len, &base, &frac, &table, &mut got);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&expected), "{count} columns, {len} neurons");
            }
        }
    }

    #[test]
    fn phi_series_matches_the_closed_form() {
        let mut worst = 0f64;
        for k in -5000..=5000 {
            let x = k as f64 * (PHI_SERIES_MAX as f64 / 5000.0);
            let exact = if x == 0.0 { 1.0 } else { -(-x).exp_m1() / x };
            worst = worst.max((phi_series(x as f32) as f64 - exact).abs() / exact);
        }
        assert!(worst < 1.2e-7, "relative error {worst}");
        let at = PHI_SERIES_MAX;
        assert!(((1.0 - exp_f32(-at)) / at - phi_series(at)).abs() < 3e-7);
    }

    /// Two channels with the same m gate: shared (one state, one pair of columns) it
    /// gives the same bits as written apart (a different program for the same function).
    #[test]
    fn shared_gates_give_the_same_values_as_separate_ones() {
        let table = TableSpec { v_min: -120.0, v_max: 80.0, dv: 0.05 };
        let mut shared = spec_with(classic_sodium_m(), table);
        let mut second = shared.channels[0].clone();
        second.g = 30.0;
        shared.channels.push(second.clone());
        let mut apart = shared.clone();
        if let Rates::AlphaBeta { alpha, .. } = &mut apart.channels[1].gates[0].rates {
            *alpha = Expr::parse("0.1*(v+40)/(1-exp(-(v+40)/10)) + 0", &["v"]).unwrap();
        }
        let sharing = shared.sharing();
        assert_eq!((sharing.states.len(), sharing.columns.len()), (1, 2));
        assert_eq!(sharing.gates[0], sharing.gates[1]);
        assert_eq!((apart.sharing().states.len(), apart.sharing().columns.len()), (2, 4));
        assert!(shared.bytes_per_neuron() < apart.bytes_per_neuron());
        let r = (0..37).map(|i| i as f64 / 37.0);
        let (mut a, mut b) = (shared.build(r.clone()).unwrap(), apart.build(r).unwrap());
        let input: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        for _ in 0..3000 {
            a.step(&input, 1.0, &Synaptic::none(), 0.01);
            b.step(&input, 1.0, &Synaptic::none(), 0.01);
        }
        assert!(a.v.iter().zip(&b.v).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert!(a.v.iter().any(|&v| v != a.v[0]), "the neurons moved apart");
        assert_eq!(a.gate(1), b.gate(1));
    }

    /// A synaptic conductance joins the membrane's balance: with the ion channel shut
    /// (g = 0), v settles where leak and synapse balance, (g_l·E_l + g·E)/(g_l + g), with
    /// either integrator; a synaptic current adds to the input as a current does.
    #[test]
    fn synaptic_conductances_and_currents_join_the_membrane() {
        let table = TableSpec { v_min: -120.0, v_max: 80.0, dv: 0.05 };
        for integrator in [Integrator::ExponentialEuler, Integrator::Rk4] {
            let mut spec = spec_with(classic_sodium_m(), table);
            spec.channels[0].g = 0.0;
            spec.integrator = integrator;
            let mut group = spec.build([0.5].into_iter()).unwrap();
            // τ so long that exp(−dt/τ) is 1 in f32: constant after their first arrival.
            use crate::network::SynapseModel;
            use crate::synapse::Exponential;
            let mut kinds = [
                Exponential::new(SynapseModel::ExpConductance { tau_ms: 1e30, e_rev: 0.0 }, 1, 0.01),
                Exponential::new(SynapseModel::ExpCurrent { tau_ms: 1e30 }, 1, 0.01),
            ];
            kinds[0].advance(&[0.3]);
            kinds[1].advance(&[2.0]);
            for _ in 0..5000 {
                group.step(&[0.0], 0.0, &Synaptic::new(&kinds, 0..1), 0.01);
            }
            let expected = (0.3 * -54.4 + 0.3 * 0.0 + 2.0) / (0.3 + 0.3);
            assert!((group.v[0] as f64 - expected).abs() < 1e-3, "{integrator:?}: v = {}, expected {expected}", group.v[0]);
        }
    }
}
