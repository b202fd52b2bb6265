//! The ion channels a population lists (`[[population.channel]]`): each a maximal
//! conductance, a reversal potential and gates raised to powers, each gate's kinetics
//! as (x_inf(v), tau_x(v)) or (alpha(v), beta(v)); the range and step of the rate tables
//! and the integrator. What a model built `Build::WithIonChannels` takes (the
//! Hodgkin–Huxley model, `hh/`); the model file's `config/channels.rs` makes it.

use crate::expr::Expr;

/// What a population lists beside its parameters: its ion channels, the
/// rate tables' range and step, and the integrator.
#[derive(Clone, Debug)]
pub struct IonChannels {
    pub channels: Vec<ChannelSpec>,
    pub table: TableSpec,
    pub integrator: Integrator,
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
    pub(super) fn same_inf(&self, other: &Rates) -> bool {
        match (self, other) {
            (Rates::InfTau { inf: a, .. }, Rates::InfTau { inf: b, .. }) => a == b,
            (Rates::AlphaBeta { .. }, Rates::AlphaBeta { .. }) => self.same_tau(other),
            _ => false,
        }
    }

    /// Whether tau_x is the same function of v in both.
    pub(super) fn same_tau(&self, other: &Rates) -> bool {
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
