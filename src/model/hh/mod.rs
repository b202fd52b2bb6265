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
pub use super::channels::{ChannelSpec, GateInitial, GateSpec, Integrator, IonChannels, Rates, TableSpec};
use super::{Build, GpuModel, Group, InvalidValue, Model, ModelKind, NeuronModel, StateArrayMut, StepInput};
use crate::expr::Expr;
use crate::simd::Level;
use crate::synapse::{Synaptic, SynapticInput};

mod group;
mod kernel;
mod table;

pub use group::HhGroup;
use group::*;
pub use kernel::kernel_level;
use kernel::*;
pub use table::GateTable;
use table::*;

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
        conductance_synapses: None,
    }
}

fn from_declared(declared: Declared, channels: IonChannels, dt_ms: f64) -> NeuronModel {
    let constant = |k: usize| declared.parameters[k].constant().expect("hh parameters are constants, as declared");
    let IonChannels { channels, table, integrator } = channels;
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
}

impl Model for HhSpec {
    /// Boxed: its tables and kernel plan make it several times the size of the others.
    type Group = Box<HhGroup>;
    const KIND: ModelKind = ModelKind {
        name: "hh",
        declaration: base_declaration,
        build: Build::WithIonChannels(from_declared),
        check: None,
        shader: include_str!("../../../shaders/hh.wgsl"),
        gpu: "the exponential Euler integrator (`shaders/hh.wgsl`, the rate table one flat buffer); `integrator = \"rk4\"` steps in f64 and runs on CPU threads only",
    };

    fn build(&self, r: impl Iterator<Item = f64>) -> Result<Box<HhGroup>, InvalidValue> {
        let gates: Vec<&GateSpec> = self.gates().collect();
        let sharing = self.sharing();
        let mut v = Vec::new();
        let mut x: Vec<Vec<f64>> = vec![Vec::new(); sharing.states.len()];
        for (index, r) in r.enumerate() {
            let v0 = self.v_init.eval(&[r]);
            if !(v0 as f32).is_finite() {
                return Err(InvalidValue::not_finite(index, "initial", "v", r, v0));
            }
            v.push(v0);
            for (s, &j) in sharing.states.iter().enumerate() {
                let gate = gates[j];
                let x0 = match gate.initial {
                    GateInitial::Steady => gate.rates.inf_tau(v0).0,
                    GateInitial::Value(x) => x,
                };
                if !(x0 as f32).is_finite() {
                    return Err(InvalidValue::not_finite(index, "initial", "gate", r, x0));
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
        Ok(Box::new(HhGroup {
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
        }))
    }

    /// Whole runs of hh_five_current, 9 gates, on the reference machine: exponential
    /// Euler 6.4 ns, RK4 1160 ns (BENCHMARKS.md "Planner").
    fn step_cost_ns(&self) -> f64 {
        let gates = self.gate_count() as f64;
        match self.integrator {
            // Tables read by rows: per gate an interpolation and a relaxation.
            Integrator::ExponentialEuler => 1.0 + 0.6 * gates,
            // Four stages of the exact rate functions in f64.
            Integrator::Rk4 => 20.0 + 125.0 * gates,
        }
    }

    /// The declaration with this population's gates: one state variable per distinct
    /// gate state, named channel.gate (gates that share it are its aliases), and the
    /// tables it derives.
    fn declaration(&self) -> Declaration {
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

    fn fixed_bytes(&self) -> usize {
        self.table_bytes()
    }

    /// The gathers of the exponential-Euler kernel choose their own instruction set.
    fn kernel_level(&self) -> Level {
        match self.integrator {
            Integrator::ExponentialEuler => kernel_level(),
            Integrator::Rk4 => crate::simd::level(),
        }
    }

    /// A warning when `dt_ms` is too long for this membrane's fastest gate: beyond a
    /// quarter of its time constant, spike times drift from the exact ones by more than a
    /// step (measured on the five-current model against RK4 at 0.001 ms: 0.010 ms at
    /// dt = 0.01, 0.032 at 0.025, 0.084 at 0.05, 0.23 at 0.1, 59 ms and a third of the
    /// spikes lost at 1 ms; its fastest gate's tau is 0.093 ms).
    fn dt_warning(&self, dt_ms: f64) -> Option<String> {
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
            "dt = {dt_ms} ms is more than a quarter of the time constant of its fastest gate ({gate}: {tau:.3} ms at v = {v:.1} mV): {what}; dt ≤ {:.3} ms keeps them within a step (the guide, Neuron models: Hodgkin–Huxley, accuracy)",
            (limit * 1000.0).floor() / 1000.0
        ))
    }

    /// Only a membrane bounded by its reversal potentials has a ceiling; the
    /// integrate-and-fire models reach any threshold with enough input.
    fn unreachable_threshold(&self, reversals: &[f64], current: Option<f64>) -> Option<String> {
        let ceiling = self.v_ceiling(reversals, current)?;
        (self.threshold > ceiling).then(|| {
            format!(
                "a threshold of {} mV is never crossed: v stays below {ceiling:.1} mV (the highest reversal potential, or e_l + the largest injected current / g_l); expected a threshold below it",
                self.threshold
            )
        })
    }

    fn gpu_unsupported(&self) -> Option<String> {
        (self.integrator == Integrator::Rk4).then(|| {
            "integrator = \"rk4\" steps in f64, which the GPU backend does not (the exponential Euler integrator runs there)".into()
        })
    }

    /// The declared state, then under RK4 its f64 copies.
    fn checkpoint_names(&self) -> Vec<(String, bool)> {
        let mut names = super::state_names(&self.declaration());
        if self.integrator == Integrator::Rk4 {
            let f64_copies: Vec<(String, bool)> = names.iter().map(|(n, _)| (format!("{n}.f64"), true)).collect();
            names.extend(f64_copies);
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StepInput;

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
            let step = StepInput { input: &input, currents: None, common: 1.0, synaptic: &Synaptic::none(), dt: 0.01, step: 0 };
            a.step(&step);
            b.step(&step);
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
                let synaptic = Synaptic::new(&kinds, 0..1);
                group.step(&StepInput { input: &[0.0], currents: None, common: 0.0, synaptic: &synaptic, dt: 0.01, step: 0 });
            }
            let expected = (0.3 * -54.4 + 0.3 * 0.0 + 2.0) / (0.3 + 0.3);
            assert!((group.v[0] as f64 - expected).abs() < 1e-3, "{integrator:?}: v = {}, expected {expected}", group.v[0]);
        }
    }
}
