//! What a neuron model declares about itself, after GeNN's neuron models: its parameters
//! (per neuron or one for the population, with defaults and bounds), its state variables
//! (units, initial values), the quantities it derives once from parameters and dt, and
//! its step, threshold and reset rule. The model file's validation, the memory estimate,
//! the state a run can read back (recording, checkpoints) and `volley check`'s
//! description read the declaration; none of them names a model.

use std::fmt::Write;

/// How many values a parameter has in a population.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One per neuron: an expression of the neuron's uniform r (a constant expression is
    /// held once, not per neuron).
    PerNeuron,
    /// One for the population: a constant.
    Population,
}

/// A lower bound a parameter's value must respect, with what it is in words.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    pub min: f64,
    /// Whether the bound itself is excluded (cm > 0) or allowed (g_l ≥ 0).
    pub strict: bool,
    /// What the value is ("a capacitance"), for the message.
    pub what: &'static str,
}

impl Bound {
    pub fn holds(&self, x: f64) -> bool {
        if self.strict {
            x > self.min
        } else {
            x >= self.min
        }
    }

    /// "a capacitance > 0".
    pub fn describe(&self) -> String {
        format!("{} {} {}", self.what, if self.strict { ">" } else { "≥" }, self.min)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub unit: &'static str,
    pub scope: Scope,
    /// The value where the model file gives none (an expression); None: required.
    pub default: Option<&'static str>,
    pub bound: Option<Bound>,
}

/// What a state variable's initial expression may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialScope {
    /// The neuron's uniform r.
    R,
    /// r, the parameters (declaration order) and the state variables before it.
    ParametersAndEarlierState,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StateVariable {
    pub name: String,
    pub unit: &'static str,
    /// Set by the model file's `[initial]` table, from this default expression; None:
    /// set elsewhere (a Hodgkin–Huxley gate's `initial`).
    pub initial: Option<&'static str>,
    pub scope: InitialScope,
    /// Other names of the same values (gates that share one state).
    pub aliases: Vec<String>,
}

/// A quantity computed once from parameters and dt (GeNN's derived parameters).
#[derive(Clone, Debug, PartialEq)]
pub struct Derived {
    pub name: String,
    pub unit: &'static str,
    pub definition: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Declaration {
    /// The name a model file gives it.
    pub model: &'static str,
    pub parameters: Vec<Parameter>,
    pub state: Vec<StateVariable>,
    pub derived: Vec<Derived>,
    /// The step rule, the spike condition and the reset, in words and formulas.
    pub step: String,
    pub threshold: String,
    pub reset: String,
    /// Whether it integrates synaptic conductances with its own membrane (else every
    /// synaptic kind reaches it as a current).
    pub integrates_conductances: bool,
    /// Bytes per neuron it holds beside its f32 state variables and per-neuron
    /// parameters (flags, f64 copies for a reference integrator).
    pub extra_bytes_per_neuron: usize,
    /// Where the state variables not set by `[initial]` are set, for the message on an
    /// unknown `[initial]` key.
    pub initial_note: Option<&'static str>,
    /// Whether it filters the weights arriving with a synaptic current of its own (so
    /// projections onto it take the delta synapse only).
    pub filters_weights: bool,
    /// The conductance shape spikes reach it through, where they reach it as
    /// conductances only (NEST's conductance-based models): projections onto it name an
    /// `exp_conductance` or `alpha_conductance` synapse.
    pub conductance_synapses: Option<ConductanceShape>,
}

/// How a conductance-based model's conductances move after a spike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConductanceShape {
    /// A jump by the weight, then exponential decay (NEST's iaf_cond_exp).
    Exponential,
    /// A rise to the weight τ after the spike, then decay (NEST's iaf_cond_alpha).
    Alpha,
}

impl ConductanceShape {
    /// The synapse model of this shape, as a projection names it.
    pub fn synapse_name(self) -> &'static str {
        match self {
            ConductanceShape::Exponential => "exp_conductance",
            ConductanceShape::Alpha => "alpha_conductance",
        }
    }

    /// Whether synapses of `model` are of this shape.
    pub fn takes(self, model: crate::synapse::SynapseModel) -> bool {
        use crate::synapse::SynapseModel;
        matches!(
            (self, model),
            (ConductanceShape::Exponential, SynapseModel::ExpConductance { .. })
                | (ConductanceShape::Alpha, SynapseModel::AlphaConductance { .. })
        )
    }
}

impl StateVariable {
    /// A state variable the model file's `[initial]` sets, from `default` where it does
    /// not: an expression of r, the parameters and the variables before it.
    pub fn from_initial(name: &str, unit: &'static str, default: &'static str) -> StateVariable {
        StateVariable {
            name: name.into(),
            unit,
            initial: Some(default),
            scope: InitialScope::ParametersAndEarlierState,
            aliases: Vec::new(),
        }
    }
}

impl Declaration {
    /// Whether its neurons take no input (a spike source: no step rule to feed).
    pub fn takes_no_input(&self) -> bool {
        self.model == "spike_source"
    }

    pub fn parameter_names(&self) -> Vec<&str> {
        self.parameters.iter().map(|p| p.name.as_str()).collect()
    }

    /// The parameters without a default, as a model file's error lists them: "a, b, c and d".
    pub fn required_parameters(&self) -> String {
        let names: Vec<&str> = self.parameters.iter().filter(|p| p.default.is_none()).map(|p| p.name.as_str()).collect();
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// The state variables the model file's `[initial]` table sets, in order.
    pub fn initial_names(&self) -> Vec<&str> {
        self.state.iter().filter(|s| s.initial.is_some()).map(|s| s.name.as_str()).collect()
    }

    /// Bytes per neuron: 4 per state variable and per parameter held per neuron
    /// (`per_neuron_parameters` of them), and the extra bytes.
    pub fn bytes_per_neuron(&self, per_neuron_parameters: usize) -> usize {
        4 * (self.state.len() + per_neuron_parameters) + self.extra_bytes_per_neuron
    }

    /// A few lines for `volley check`: the model's parameters, state and rule, each
    /// value as the model file sets it (`given`: by name, `initial.v` for an initial
    /// value) beside the model's default.
    pub fn describe(&self, given: &[(String, String)]) -> String {
        let unit = |u: &str| if u.is_empty() { String::new() } else { format!(" [{u}]") };
        let value = |name: &str, default: Option<&str>| {
            let set = given.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            match (set, default) {
                (Some(v), Some(d)) if v != d => format!(" = {v} (default {d})"),
                (Some(v), _) => format!(" = {v}"),
                (None, Some(d)) => format!(" = {d} (default)"),
                (None, None) => String::new(),
            }
        };
        let mut s = String::new();
        let parameters: Vec<String> = self
            .parameters
            .iter()
            .map(|p| {
                let scope = if p.scope == Scope::Population { ", per population" } else { "" };
                format!("{}{}{}{scope}", p.name, unit(p.unit), value(&p.name, p.default))
            })
            .collect();
        let state: Vec<String> = self
            .state
            .iter()
            .map(|v| {
                let aliases = if v.aliases.is_empty() { String::new() } else { format!(" (= {})", v.aliases.join(", ")) };
                let initial = if v.initial.is_some() { value(&format!("initial.{}", v.name), v.initial) } else { String::new() };
                format!("{}{}{aliases}{initial}", v.name, unit(v.unit))
            })
            .collect();
        let _ = writeln!(s, "    parameters: {}", parameters.join("; "));
        let _ = writeln!(s, "    state: {}", state.join(", "));
        if !self.derived.is_empty() {
            let derived: Vec<String> = self.derived.iter().map(|d| format!("{} = {}", d.name, d.definition)).collect();
            let _ = writeln!(s, "    derived once: {}", derived.join("; "));
        }
        let _ = writeln!(s, "    step: {}", self.step);
        let _ = write!(s, "    spike: {}; reset: {}", self.threshold, self.reset);
        s
    }
}

/// A population's parameters and initial values as the model file gives them, checked
/// against the declaration: the values of each declared parameter (an expression of r, a
/// constant, or listed one per neuron), one expression per state variable that
/// `[initial]` sets, in declaration order.
#[derive(Clone, Debug)]
pub struct Declared {
    pub parameters: Vec<Values>,
    pub initial: Vec<crate::expr::Expr>,
}

/// The values of one parameter over a population's neurons.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// An expression of the neuron's uniform r (a constant one: one value for all).
    Expr(crate::expr::Expr),
    /// One value per neuron, by population-local id, as the model file lists them (data,
    /// or values a Python script drew): held once per rank, as the model file is.
    Listed(std::sync::Arc<[f64]>),
}

impl Values {
    /// The value every neuron has, if they share one.
    pub fn constant(&self) -> Option<f64> {
        match self {
            Values::Expr(e) => e.constant(),
            Values::Listed(_) => None,
        }
    }

    /// The value of the neuron of population-local id `id` and uniform `r`.
    #[inline]
    pub fn at(&self, id: u64, r: f64) -> f64 {
        match self {
            Values::Expr(e) => e.eval(&[r]),
            Values::Listed(values) => values[id as usize],
        }
    }

    /// A constant (what tests and models of one value per population build from).
    pub fn of(x: f64) -> Values {
        Values::Expr(crate::expr::Expr::number(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_parameters_read_as_a_list() {
        let p = |name: &str, default: Option<&'static str>| Parameter {
            name: name.into(),
            unit: "",
            scope: Scope::PerNeuron,
            default,
            bound: None,
        };
        let mut d = Declaration {
            model: "m",
            parameters: vec![p("a", None), p("b", None), p("c", Some("1")), p("d", None)],
            state: Vec::new(),
            derived: Vec::new(),
            step: String::new(),
            threshold: String::new(),
            reset: String::new(),
            integrates_conductances: false,
            extra_bytes_per_neuron: 0,
            initial_note: None,
            filters_weights: false,
            conductance_synapses: None,
        };
        assert_eq!(d.required_parameters(), "a, b and d");
        d.parameters.truncate(1);
        assert_eq!(d.required_parameters(), "a");
        assert!(Bound { min: 0.0, strict: true, what: "a capacitance" }.describe() == "a capacitance > 0");
    }
}
