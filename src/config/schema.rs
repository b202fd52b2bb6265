//! The model file as written (TOML, serde). Unknown fields are refused everywhere so that
//! a typo is an error, not a silently ignored setting. Values that are checked after
//! parsing keep their position in the file (`Spanned`) so that their errors can point at
//! the line and column.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub simulation: Simulation,
    #[serde(rename = "population", default)]
    pub populations: Vec<Population>,
    #[serde(rename = "projection", default)]
    pub projections: Vec<Projection>,
    #[serde(rename = "stimulus", default)]
    pub stimuli: Vec<Spanned<Stimulus>>,
    #[serde(default)]
    pub output: Output,
    /// A SONATA circuit whose populations and projections come before the file's own.
    pub circuit: Option<CircuitTable>,
}

/// `[circuit]`: a SONATA circuit or simulation config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitTable {
    /// The circuit_config.json (or simulation_config.json), relative to the model file.
    pub config: Spanned<String>,
    /// "circuit" (default): the circuit's node populations are populations; "model":
    /// the model file's populations of the same names and sizes take the circuit's edges
    /// (what `volley export` writes).
    pub nodes: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Integration step: a number of milliseconds or a string with a unit ("0.1 ms").
    pub dt: Spanned<Value>,
    /// Biological time to simulate, same forms as `dt`.
    pub duration: Spanned<Value>,
    /// Any u64: an integer, or from 2^63 on a string of digits (TOML integers are i64).
    #[serde(default = "default_seed")]
    pub seed: Spanned<toml::Value>,
    /// "cpu" (default), "gpu" or "auto"; `--backend` replaces it.
    pub backend: Option<Spanned<String>>,
}

fn default_seed() -> Spanned<toml::Value> {
    Spanned::new(0..0, toml::Value::Integer(1))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub name: Spanned<String>,
    pub size: Spanned<i64>,
    pub model: Spanned<String>,
    /// Model parameters: numbers or expressions of the per-neuron uniform `r`, or lists
    /// of one number per neuron.
    #[serde(default)]
    pub parameters: BTreeMap<String, Spanned<ParameterValue>>,
    /// Initial state: numbers or expressions of `r` and the parameters.
    #[serde(default)]
    pub initial: BTreeMap<String, Spanned<Value>>,
    /// Standard deviation of the Gaussian current drawn for each neuron in each step.
    #[serde(default)]
    pub noise_std: Option<Spanned<f64>>,
    /// A constant current added in every step.
    #[serde(default)]
    pub bias_current: Option<Spanned<f64>>,
    /// hh: the ion channels (`[[population.channel]]`).
    #[serde(rename = "channel", default)]
    pub channels: Vec<Spanned<Channel>>,
    /// hh: "exponential_euler" (default, with tables) or "rk4" (exact functions, f64).
    #[serde(default)]
    pub integrator: Option<Spanned<String>>,
    /// hh: the range and step of v for the rate tables.
    #[serde(default)]
    pub table: Option<Spanned<Table>>,
    /// spike_source: the SONATA spike file whose trains it replays (relative to the model
    /// file's folder).
    #[serde(default)]
    pub spikes: Option<Spanned<String>>,
}

/// An ion channel of an hh population.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub name: String,
    /// Maximal conductance.
    pub g: f64,
    /// Reversal potential.
    pub e_rev: f64,
    pub gates: Vec<Gate>,
}

/// A gate: `power` and either `inf` and `tau`, or `alpha` and `beta`, expressions of v.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: String,
    #[serde(default = "one")]
    pub power: i64,
    pub inf: Option<String>,
    pub tau: Option<String>,
    pub alpha: Option<String>,
    pub beta: Option<String>,
    /// A number, or "steady" (x_inf at the initial v; the default).
    pub initial: Option<Value>,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub v_min: Option<f64>,
    pub v_max: Option<f64>,
    pub dv: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Projection {
    pub source: Spanned<String>,
    pub target: Spanned<String>,
    pub connection: Spanned<Connection>,
    /// A number, an expression of per-synapse uniforms `u`, `u2`, `u3` in [0, 1), or a
    /// table `{ distribution = "uniform" | "normal", ... }`. Required but for synapses
    /// listed in a file that holds their weights.
    #[serde(default)]
    pub weight: Option<Spanned<toml::Value>>,
    /// A time (number of ms or string with unit), or `{ distribution = "uniform", low,
    /// high }`; whole steps, at least one.
    #[serde(default)]
    pub delay: Option<Spanned<toml::Value>>,
    /// "delta", or `{ model = "exp_current" | "exp_conductance" | "alpha_conductance", tau, e_rev }`.
    #[serde(default)]
    pub synapse: Option<Spanned<toml::Value>>,
    /// "exact" (default), "compact" (16-bit weights) or "procedural".
    #[serde(default)]
    pub storage: Option<Spanned<String>>,
    /// Same as `storage = "procedural"`.
    #[serde(default)]
    pub procedural: Option<Spanned<bool>>,
    /// `{ rule = "stdp" | "stdp_pl_hom" | "izhikevich2006", <parameters> }`.
    #[serde(default)]
    pub plasticity: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub rule: String,
    /// Default true; only for rules that can connect a neuron to itself.
    pub autapses: Option<bool>,
    /// Default true; only for rules that draw a number of partners.
    pub multapses: Option<bool>,
    /// In- or out-degree of fixed_indegree / fixed_outdegree.
    pub k: Option<i64>,
    /// Probability of fixed_probability.
    pub p: Option<f64>,
    /// Synapses in all of fixed_total_number.
    pub n: Option<i64>,
    /// rule list: the synapses' sources and targets, population-local ids, pair by pair.
    pub sources: Option<Vec<i64>>,
    pub targets: Option<Vec<i64>>,
    /// rule list: or a SONATA edges file holding them (relative to the model file), and
    /// the name of its edge population where it holds several.
    pub file: Option<Spanned<String>>,
    pub edges: Option<Spanned<String>>,
}

/// A current injected into a population or part of it (`[[stimulus]]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stimulus {
    /// The population's name, or a list of names (each gets the stimulus; a pick
    /// stimulus draws from them all as one pool).
    pub population: Spanned<Names>,
    /// "noise", "constant", "step", "poisson" or "pick".
    pub kind: Spanned<String>,
    /// noise: standard deviation of the current drawn per neuron and step.
    pub std: Option<Spanned<f64>>,
    /// constant: the current.
    pub amplitude: Option<Spanned<f64>>,
    /// step: when each amplitude starts (times as for `dt`), increasing.
    pub times: Option<Spanned<Vec<Value>>>,
    /// step: the current from each time on.
    pub amplitudes: Option<Spanned<Vec<f64>>>,
    /// poisson: the rate of each independent source (Hz).
    pub rate: Option<Spanned<f64>>,
    /// poisson: independent sources per neuron (NEST's K_ext); 1 when absent.
    pub indegree: Option<Spanned<i64>>,
    /// poisson: the weight of each event, as a synapse's (a jump of the input).
    pub weight: Option<Spanned<f64>>,
    /// pick: how many neurons are drawn in each step; 1 when absent.
    pub count: Option<Spanned<i64>>,
    /// Which neurons (indices within the population); all when absent.
    pub neurons: Option<Spanned<Neurons>>,
    /// noise, sine: the first step it acts in (a time); 0 when absent.
    pub start: Option<Spanned<Value>>,
    /// noise, sine: the step it stops acting in (a time); never when absent.
    pub stop: Option<Spanned<Value>>,
    /// noise: how long each drawn value is held (a time, whole steps); one step when
    /// absent (NEST's noise_generator dt).
    pub interval: Option<Spanned<Value>>,
    /// sine: the frequency (Hz).
    pub frequency: Option<Spanned<f64>>,
    /// sine: the phase (degrees, NEST's and PyNN's); 0 when absent.
    pub phase: Option<Spanned<f64>>,
    /// sine: the current added to the sinusoid while it acts; 0 when absent.
    pub offset: Option<Spanned<f64>>,
}

/// One of: `range = [first, end)`, `ids = [...]`, `fraction = p` (with `seed`). Read
/// through `toml::Value`, so that a bare array (`neurons = [0, 3, 17]`) is refused with
/// the table to write instead, not as serde's struct-from-sequence ("expected an array,
/// got 0").
#[derive(Debug, Deserialize)]
#[serde(try_from = "toml::Value")]
pub struct Neurons {
    pub range: Option<Vec<i64>>,
    pub ids: Option<Vec<i64>>,
    pub fraction: Option<f64>,
    pub seed: Option<i64>,
}

/// `Neurons` as a table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeuronsTable {
    range: Option<Vec<i64>>,
    ids: Option<Vec<i64>>,
    fraction: Option<f64>,
    seed: Option<i64>,
}

impl TryFrom<toml::Value> for Neurons {
    type Error = String;

    fn try_from(value: toml::Value) -> Result<Neurons, String> {
        if let toml::Value::Array(items) = &value {
            let list: Vec<String> = items.iter().map(|v| v.to_string()).collect();
            return Err(format!(
                "expected a table, got an array: write {{ ids = [{}] }} for these neurons (or {{ range = [0, 20] }}, the end left out, or {{ fraction = 0.1, seed = 1 }})",
                list.join(", ")
            ));
        }
        let t = NeuronsTable::deserialize(value).map_err(|e| e.message().to_string())?;
        Ok(Neurons { range: t.range, ids: t.ids, fraction: t.fraction, seed: t.seed })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Directory for everything the run writes.
    pub dir: Option<Spanned<String>>,
    /// Spike file name inside `dir`; "" turns spike output off.
    pub spikes: Option<String>,
    /// Raster PNG name inside `dir`; "" turns the plot off.
    pub raster: Option<Spanned<String>>,
    /// Simulated time between appends to the spike file (a whole number of steps).
    pub flush_every: Option<Spanned<Value>>,
    /// File name of the population rate traces (spikes per bin of every population);
    /// none by default.
    pub rates: Option<Spanned<String>>,
    /// The rate traces' bin (a whole number of steps; default 1 ms).
    pub rate_bin: Option<Spanned<Value>>,
    /// The populations whose spikes the spike file records (default: every one).
    pub spike_populations: Option<Spanned<Vec<String>>>,
    /// Which of their neurons: `range`, `ids` or `fraction` (default: all).
    pub spike_neurons: Option<Spanned<Neurons>>,
    /// Sampled state variables, one SONATA report file each (`[[output.report]]`).
    #[serde(default)]
    pub report: Vec<Spanned<Report>>,
    /// Snapshots of a plastic projection's weights, one SONATA edges file each
    /// (`[[output.weights]]`).
    #[serde(default)]
    pub weights: Vec<Spanned<Weights>>,
}

/// One `[[output.weights]]` table: a plastic projection's weights at regular times.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// The file's name inside the output directory (ending in .h5).
    pub file: Spanned<String>,
    /// The projection's index in file order (0 for the first `[[projection]]`).
    pub projection: Spanned<i64>,
    /// Simulated time between snapshots (whole epochs); without, the start and the end.
    pub interval: Option<Spanned<Value>>,
}

/// One `[[output.report]]` table: a state variable sampled from some neurons.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The report's file name inside the output directory (ending in .h5).
    pub file: Spanned<String>,
    /// A state variable the populations' model declares (`volley check --describe`).
    pub variable: Spanned<String>,
    /// The populations sampled; every population whose model declares the variable when
    /// absent.
    pub populations: Option<Spanned<Vec<String>>>,
    /// Which neurons of each population; all when absent.
    pub neurons: Option<Spanned<Neurons>>,
    /// Simulated time between samples (a whole number of steps); dt when absent.
    pub interval: Option<Spanned<Value>>,
    /// The first sample's time (0 when absent) and the end of the samples (exclusive;
    /// the end of the run when absent).
    pub start: Option<Spanned<Value>>,
    pub stop: Option<Spanned<Value>>,
    /// Several [start, stop] windows instead, one file each (`<file>_w<k>.h5`).
    pub windows: Option<Spanned<Vec<Vec<Value>>>>,
}

/// One name or a list of them.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    pub fn as_slice(&self) -> &[String] {
        match self {
            Names::One(name) => std::slice::from_ref(name),
            Names::Many(names) => names,
        }
    }
}

/// A number or a string (an expression, or a time with its unit).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Text(String),
}

/// A parameter's value: one for the neurons to evaluate (a number, an expression of r, a
/// quantity), or a list of one number per neuron.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ParameterValue {
    One(Value),
    PerNeuron(Vec<f64>),
}

impl ParameterValue {
    /// As the model file gives it (a list as a TOML array).
    pub fn as_text(&self) -> String {
        match self {
            ParameterValue::One(v) => v.as_text(),
            ParameterValue::PerNeuron(values) => format!("[{}]", values.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")),
        }
    }
}

impl Value {
    pub fn as_text(&self) -> String {
        match self {
            Value::Number(x) => format!("{x}"),
            Value::Text(s) => s.clone(),
        }
    }
}
