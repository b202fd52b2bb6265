//! Validation of the ion channels of a population whose model has them (model::KINDS):
//! gates, the rate tables and the integrator.

use super::schema::{self, Value};
use super::Validator;
use crate::error::Result;
use crate::expr::Expr;
use crate::model::channels::{ChannelSpec, GateInitial, GateSpec, Integrator, IonChannels, Rates, TableSpec};
use toml::Spanned;

/// Default table step (mV): linear interpolation errs by at most dv²/8 · max|f''|; for a
/// Boltzmann x_inf of slope factor k, |f''| ≤ 0.1/k², so 1.6·10⁻⁵ at k = 5.9 mV (the
/// steepest gate of the five-current model), far below what exponential Euler at
/// dt = 0.01 ms itself errs (BENCHMARKS.md).
const DEFAULT_DV: f64 = 0.05;
/// Default margin (mV) of the table beyond the lowest and highest reversal potential: v
/// stays between them unless currents from outside push it further; a spike peaks below
/// E_Na (a famous NEURON model clamped its tables 30 mV below it).
const DEFAULT_MARGIN: f64 = 40.0;
/// Gates of one population.
const MAX_GATES: usize = 100;
/// Table points × gates: 16 bytes each, so at most 64 MB per table (each thread holds
/// its own copy), and 32-bit offsets in the kernel.
const MAX_TABLE_ENTRIES: usize = 1 << 22;

impl Validator<'_> {
    /// The ion channels, rate tables and integrator of a population whose model has ion
    /// channels (its membrane parameters and v are declared: `Validator::declared`); the
    /// tables' default range reaches 40 mV beyond the channels' reversal potentials and
    /// the leak's, `e_l`.
    pub(super) fn ion_channels(&self, i: usize, p: &schema::Population, e_l: f64) -> Result<IonChannels> {
        let at = |field: &str| format!("population[{i}].{field}");
        let mut channels: Vec<ChannelSpec> = Vec::new();
        for (c, channel) in p.channels.iter().enumerate() {
            let field = at(&format!("channel[{c}]"));
            let err = |m: String| self.error(channel.span(), &field, m);
            let ch = channel.get_ref();
            if ch.name.trim().is_empty() || channels.iter().any(|o| o.name == ch.name) {
                return Err(err(format!("expected a distinct, non-empty channel name, got {:?}", ch.name)));
            }
            if !(ch.g.is_finite() && ch.g >= 0.0) {
                return Err(err(format!("g: expected a conductance ≥ 0, got {}", ch.g)));
            }
            if !ch.e_rev.is_finite() {
                return Err(err(format!("e_rev: expected a finite potential, got {}", ch.e_rev)));
            }
            if ch.gates.is_empty() {
                return Err(err(format!("channel '{}' needs at least one gate", ch.name)));
            }
            let mut gates: Vec<GateSpec> = Vec::new();
            for (k, gate) in ch.gates.iter().enumerate() {
                let gate_field = format!("{field}.gates[{k}]");
                // A gate is reported and checkpointed as channel.gate: one name, one gate.
                if gate.name.trim().is_empty() || gates.iter().any(|g| g.name == gate.name) {
                    return Err(self.error(
                        channel.span(),
                        &gate_field,
                        format!("expected a distinct, non-empty gate name in channel '{}', got {:?}", ch.name, gate.name),
                    ));
                }
                gates.push(self.gate(gate, channel.span(), &gate_field)?);
            }
            channels.push(ChannelSpec { name: ch.name.clone(), g: ch.g, e_rev: ch.e_rev, gates });
        }

        let gate_count: usize = channels.iter().map(|c| c.gates.len()).sum();
        if gate_count > MAX_GATES {
            return Err(self.error(p.model.span(), at("channel"), format!("expected at most {MAX_GATES} gates in all, got {gate_count}")));
        }
        let reversals = channels.iter().map(|c| c.e_rev).chain([e_l]);
        let (lowest, highest) = reversals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), e| (lo.min(e), hi.max(e)));
        let (t, span) = match &p.table {
            Some(t) => (Some(t.get_ref()), t.span()),
            None => (None, 0..0),
        };
        let table = TableSpec {
            v_min: t.and_then(|t| t.v_min).unwrap_or(lowest - DEFAULT_MARGIN),
            v_max: t.and_then(|t| t.v_max).unwrap_or(highest + DEFAULT_MARGIN),
            dv: t.and_then(|t| t.dv).unwrap_or(DEFAULT_DV),
        };
        let points = (table.v_max - table.v_min) / table.dv;
        let limit = (MAX_TABLE_ENTRIES / gate_count.max(1)) as f64;
        if !(table.v_min.is_finite() && table.v_max > table.v_min && table.dv > 0.0 && (2.0..=limit).contains(&points)) {
            return Err(self.error(
                span,
                at("table"),
                format!(
                    "expected v_min < v_max and 0 < dv with at most {limit} points for {gate_count} gate(s) (a table of at most 64 MB), got v_min = {}, v_max = {}, dv = {}",
                    table.v_min, table.v_max, table.dv
                ),
            ));
        }
        let integrator = match p.integrator.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("exponential_euler", _)) => Integrator::ExponentialEuler,
            Some(("rk4", _)) => Integrator::Rk4,
            Some((other, span)) => {
                return Err(self.error(span, at("integrator"), format!("unknown integrator '{other}' (known: exponential_euler, rk4)")))
            }
        };
        let ion_channels = IonChannels { channels, table, integrator };
        self.rates_on_the_table(&ion_channels, i, p)?;
        Ok(ion_channels)
    }

    fn gate(&self, gate: &schema::Gate, span: std::ops::Range<usize>, field: &str) -> Result<GateSpec> {
        let err = |m: String| self.error(span.clone(), field, m);
        if !(1..=8).contains(&gate.power) {
            return Err(err(format!("power: expected a whole number from 1 to 8, got {}", gate.power)));
        }
        let expr = |name: &str, text: &str| -> Result<Expr> {
            Expr::parse(text, &["v"])
                .map_err(|e| err(format!("{name}: in expression {}: {}", crate::expr::quote(text, e.column), e.message)))
        };
        let rates = match (&gate.inf, &gate.tau, &gate.alpha, &gate.beta) {
            (Some(inf), Some(tau), None, None) => Rates::InfTau { inf: expr("inf", inf)?, tau: expr("tau", tau)? },
            (None, None, Some(a), Some(b)) => Rates::AlphaBeta { alpha: expr("alpha", a)?, beta: expr("beta", b)? },
            _ => return Err(err(format!("gate '{}': expected either inf and tau, or alpha and beta (expressions of v)", gate.name))),
        };
        let initial = match &gate.initial {
            None => GateInitial::Steady,
            Some(Value::Text(s)) if s == "steady" => GateInitial::Steady,
            Some(Value::Number(x)) if (0.0..=1.0).contains(x) => GateInitial::Value(*x),
            Some(other) => return Err(err(format!("initial: expected a number in [0, 1] or \"steady\", got {}", other.as_text()))),
        };
        Ok(GateSpec { name: gate.name.clone(), power: gate.power as u32, rates, initial })
    }

    /// Every gate's rates on every table point: tau > 0 and x_inf in [0, 1] (or, from
    /// alpha and beta, both ≥ 0), finite, so that no neuron meets a NaN in a table. A
    /// point that is a removable singularity (0/0) is taken as its limit, as the table does.
    fn rates_on_the_table(&self, spec: &IonChannels, i: usize, p: &schema::Population) -> Result<()> {
        let t = spec.table;
        let points = ((t.v_max - t.v_min) / t.dv).round() as usize + 1;
        for (c, channel) in spec.channels.iter().enumerate() {
            for (k, gate) in channel.gates.iter().enumerate() {
                for n in 0..points {
                    let v = t.v_min + n as f64 * t.dv;
                    let (inf, tau) = gate.rates.inf_tau_at_point(v);
                    if !(tau > 0.0 && tau.is_finite() && (-1e-9..=1.0 + 1e-9).contains(&inf)) {
                        return Err(self.error(
                            p.channels[c].span(),
                            format!("population[{i}].channel[{c}].gates[{k}]"),
                            format!(
                                "gate '{}' of channel '{}' at v = {v:.3} mV: expected x_inf in [0, 1] and tau > 0, got x_inf = {inf}, tau = {tau}",
                                gate.name, channel.name
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Keys only a model with ion channels reads: an error on other models, like an unknown
/// field.
pub(super) fn channel_keys(p: &schema::Population) -> Option<(&'static str, std::ops::Range<usize>)> {
    if let Some(c) = p.channels.first() {
        return Some(("channel", c.span()));
    }
    if let Some(s) = &p.integrator {
        return Some(("integrator", s.span()));
    }
    p.table.as_ref().map(|t: &Spanned<schema::Table>| ("table", t.span()))
}
