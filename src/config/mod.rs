//! Reading and validating model files. Every mistake becomes one `Error::Model` naming
//! the file, the line and column where TOML knows them, the field's path and what was
//! expected, before anything large is allocated.

mod channels;
mod circuit;
mod plasticity;
mod projection;
mod report;
pub mod schema;
pub mod set;
mod stimulus;
mod synapse_list;
mod toml_errors;
mod weights_output;

use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::model::declaration::{InitialScope, Parameter, Scope, Values};
use crate::model::{self, Declaration, Declared};
use crate::network::{BackendChoice, Description, OutputPlan, Population, Projection, SynapseModel};
use crate::stimulus::{Selection, Stimulus, StimulusKind};
pub use report::probe_variable;
use schema::{ModelFile, ParameterValue, Value};
pub use set::Replacement;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Values given on the command line that replace the model file's.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    /// Duration as written on the command line ("5000ms", "5 s", "200").
    pub duration: Option<String>,
    pub out_dir: Option<PathBuf>,
    /// `path=value` replacements of model-file values (`--set`).
    pub sets: Vec<String>,
    /// The processes that read a SONATA circuit's edges together (`sonata::Share`).
    pub sharing: crate::sonata::Sharing,
    /// What errors call the source of `sets` (None: `--set`; Python's keyword `set`).
    pub sets_by: Option<&'static str>,
}

impl Overrides {
    /// Every command-line value as a replacement of the model file's, in the order they
    /// apply: the flags, then `--set` (a later one wins).
    pub fn replacements(&self) -> Result<Vec<Replacement>> {
        let mut out = Vec::new();
        if let Some(seed) = self.seed {
            // Seeds beyond i64 (TOML's integers) are written as strings.
            let value = i64::try_from(seed).map_or_else(|_| toml_edit::Value::from(seed.to_string()), toml_edit::Value::from);
            out.push(Replacement { label: format!("--seed {seed}"), path: "simulation.seed".into(), value });
        }
        if let Some(d) = &self.duration {
            out.push(Replacement::flag_text("--duration", "simulation.duration", d));
        }
        if let Some(dir) = &self.out_dir {
            out.push(Replacement::flag_text("--out", "output.dir", &dir.display().to_string()));
        }
        for s in &self.sets {
            out.push(Replacement::from_set_by(s, self.sets_by.unwrap_or("--set"))?);
        }
        Ok(out)
    }
}

/// Reads, parses and validates a model file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Description> {
    // A SONATA simulation (or circuit) config runs as the model file that says what it says.
    if path.extension().is_some_and(|e| e == "json") {
        let text = circuit::from_json(path, overrides.duration.as_deref())?;
        return parse(&text, &path.display().to_string(), overrides);
    }
    let bytes = std::fs::read(path).map_err(|e| Error::Input { path: path.to_path_buf(), message: e.to_string() })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: format!("not a text file: invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })?;
    parse(&text, &path.display().to_string(), overrides)
}

/// Parses and validates model-file text; `file` names it in errors.
pub fn parse(text: &str, file: &str, overrides: &Overrides) -> Result<Description> {
    let replacements = overrides.replacements()?;
    let edited = set::apply(text, file, &replacements).map_err(|e| {
        // The file's own TOML errors are reported at its lines, as without replacements
        // (read again only where the replacements could not be made).
        match text.parse::<toml::Table>() {
            Err(toml) => {
                let none = set::Edited::unchanged(text);
                Validator { text, file, edited: &none, notes: Default::default(), sharing: &overrides.sharing }.toml_error(&toml)
            }
            Ok(_) => e,
        }
    })?;
    let v = Validator { text: &edited.text, file, edited: &edited, notes: Default::default(), sharing: &overrides.sharing };
    let raw: ModelFile = toml::from_str(&edited.text).map_err(|e| v.toml_error(&e))?;
    let mut desc = v.description(raw)?;
    desc.model_text = edited.text.clone();
    desc.model_file = file.to_string();
    Ok(desc)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

struct Validator<'a> {
    text: &'a str,
    file: &'a str,
    /// The command-line replacements and where they lie in `text`.
    edited: &'a set::Edited,
    /// Warnings found while reading what the file points to (spike files).
    notes: std::cell::RefCell<Vec<String>>,
    sharing: &'a crate::sonata::Sharing,
}

impl Validator<'_> {
    /// An error at `span` of the text: the model file's, or the command-line value's
    /// that replaced what the file said there.
    fn error(&self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> Error {
        let (field, message) = (field.into(), message.into());
        if span.end > 0 {
            if let Some(label) = self.edited.replacement_at(span.start) {
                return Error::Option { option: label.to_string(), message: format!("{field}: {message}") };
            }
        }
        let location = if span.end > 0 {
            let (l, c) = line_col(self.text, span.start);
            format!(":{l}:{c}")
        } else {
            String::new()
        };
        Error::Model { file: self.file.to_string(), location, field, message }
    }

    /// A file the model file names: relative paths are from the model file's folder.
    fn beside_model(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_relative() {
            Path::new(self.file).parent().unwrap_or(Path::new("")).join(path)
        } else {
            path.to_path_buf()
        }
    }

    /// Where `key = ...` starts inside the table at `span` (the table's span if not found).
    fn key_span(&self, span: Range<usize>, key: &str) -> Range<usize> {
        let inner = &self.text[span.clone()];
        let found = inner.match_indices(key).find(|(i, _)| {
            let before = inner[..*i].chars().next_back();
            let after = inner[i + key.len()..].trim_start();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with('=')
        });
        match found {
            Some((i, _)) => span.start + i..span.end,
            None => span,
        }
    }

    fn toml_error(&self, e: &toml::de::Error) -> Error {
        // toml's message is the last line of its multi-line rendering.
        let span = e.span();
        let field = toml_errors::field_at(self.text, span.clone());
        let header = toml_errors::at_table_header(self.text, span.clone()).then_some(field.as_deref()).flatten();
        let mut message = toml_errors::plain_message(e.message().trim(), header);
        let field = field.unwrap_or_else(|| "model file".to_string());
        if field == "simulation.seed" && (message.contains("integer") || message.contains("too large")) {
            message.push_str(" (seeds from 2^63 to 2^64 - 1 are written as strings: seed = \"18446744073709551615\")");
        }
        self.error(span.unwrap_or(0..0), field, message)
    }

    fn description(&self, raw: ModelFile) -> Result<Description> {
        let dt_ms = self.time(&raw.simulation.dt, "simulation.dt")?;
        let duration_ms = self.time(&raw.simulation.duration, "simulation.duration")?;
        let Some(steps) = crate::units::whole_steps(duration_ms, dt_ms) else {
            let (span, field) = (raw.simulation.duration.span(), "simulation.duration");
            return Err(self.error(span, field, format!("expected a whole number of steps of dt = {dt_ms} ms, got {duration_ms} ms")));
        };
        if steps >= u32::MAX as u64 {
            return Err(self.error(raw.simulation.duration.span(), "simulation.duration", "expected fewer than 2^32 steps"));
        }
        let seed = self.seed(&raw.simulation.seed)?;
        let backend = match &raw.simulation.backend {
            None => BackendChoice::Cpu,
            Some(b) => BackendChoice::parse(b.get_ref()).ok_or_else(|| {
                self.error(b.span(), "simulation.backend", format!("expected \"cpu\", \"gpu\" or \"auto\", got {:?}", b.get_ref()))
            })?,
        };

        let circuit = raw.circuit.as_ref().map(|c| self.read_circuit(c, dt_ms)).transpose()?;
        if raw.populations.is_empty() && circuit.is_none() {
            return Err(self.error(0..0, "population", "expected at least one [[population]] table"));
        }
        let mut populations: Vec<Population> = Vec::new();
        let mut shorthands = Vec::new();
        let mut first_gid = 0u64;
        // A circuit's populations first, a run of nodes each (unless the model file's own
        // populations are its nodes).
        let own_nodes = match &raw.circuit {
            Some(table) => self.circuit_nodes(table)? == circuit::CircuitNodes::Circuit,
            None => false,
        };
        for (i, run) in circuit.iter().filter(|_| own_nodes).flat_map(|c| c.runs.iter()).enumerate() {
            let population = self.circuit_population(i, run, first_gid, &populations, dt_ms)?;
            first_gid += population.size;
            populations.push(population);
            shorthands.push((0.0, 0.0));
        }
        for (i, p) in raw.populations.iter().enumerate() {
            let (population, shorthand) = self.population(i, p, first_gid, &populations, dt_ms)?;
            first_gid += population.size;
            populations.push(population);
            shorthands.push(shorthand);
        }
        if first_gid >= u32::MAX as u64 {
            return Err(self.error(0..0, "population", format!("expected fewer than 2^32 neurons in all, got {first_gid}")));
        }

        // The synapses given as data: the file's listed projections', then the circuit's
        // edges after the file's projections (ids in that order).
        let mut edges = Vec::new();
        let mut projections = Vec::with_capacity(raw.projections.len());
        for (i, p) in raw.projections.iter().enumerate() {
            projections.push(self.projection(i, p, &populations, (dt_ms, &mut edges))?);
        }
        if let (Some(c), Some(table)) = (&circuit, &raw.circuit) {
            let runs = self.run_populations(table, c, &populations)?;
            for e in &c.edges {
                let id = projections.len() as u32;
                projections.push(self.circuit_projection(id, e, (c, &runs), &populations, &mut edges, dt_ms)?);
            }
        }

        let stimuli = self.stimuli(&shorthands, &raw.stimuli, &populations, dt_ms, seed)?;
        let mut warnings = self.notes.take();
        for (i, p) in populations.iter().enumerate() {
            if let Some(why) = self.unreachable_threshold(i, p, &projections, &stimuli) {
                let span = raw.populations[i].parameters.get("threshold").map_or(raw.populations[i].model.span(), |v| v.span());
                return Err(self.error(span, format!("population[{i}].parameters.threshold"), why));
            }
            warnings.extend(p.model.dt_warning(dt_ms).map(|w| format!("population '{}': {w}", p.name)));
        }
        let mut output = self.output(&raw.output, dt_ms, first_gid)?;
        let taken: Vec<String> = output.spikes.iter().chain(&output.raster).chain(output.rates.iter().map(|r| &r.0)).cloned().collect();
        output.spike_recording = self.spike_recording(&raw.output, &populations, seed)?;
        output.reports = self.reports(&raw.output.report, (&populations, &projections), dt_ms, steps, seed, (&taken, &mut warnings))?;
        let taken: Vec<String> = taken.into_iter().chain(output.reports.iter().map(|r| r.file.clone())).collect();
        output.weights = self.weights_outputs(&raw.output.weights, &projections, (dt_ms, steps), &taken)?;
        Ok(Description {
            dt_ms,
            steps,
            seed,
            backend,
            populations,
            projections,
            stimuli,
            edges,
            output,
            model_text: String::new(),
            model_file: String::new(),
            warnings,
        })
    }

    /// Why population `i`'s threshold can never be crossed, from what drives it: the
    /// reversal potentials of conductance-based synapses onto it, and the largest current
    /// its stimuli inject into one neuron (unbounded with noise, Poisson events or
    /// current-based synapses).
    fn unreachable_threshold(&self, i: usize, p: &Population, projections: &[Projection], stimuli: &[Stimulus]) -> Option<String> {
        let onto = projections.iter().filter(|pr| pr.target == i);
        let mut reversals = Vec::new();
        let mut bounded = true;
        for pr in onto {
            match pr.synapse {
                SynapseModel::ExpConductance { e_rev, .. } | SynapseModel::AlphaConductance { e_rev, .. } => reversals.push(e_rev),
                SynapseModel::Delta | SynapseModel::ExpCurrent { .. } | SynapseModel::AlphaCurrent { .. } => bounded = false,
            }
        }
        let mut current = 0.0;
        for s in stimuli.iter().filter(|s| s.population == i) {
            match &s.kind {
                StimulusKind::Constant { amplitude } | StimulusKind::Pick { amplitude, .. } => current += amplitude.max(0.0),
                StimulusKind::Step { amplitudes, .. } => current += amplitudes.iter().fold(0.0f64, |m, &a| m.max(a)),
                StimulusKind::Sine { amplitude, offset, .. } => current += (offset + amplitude.abs()).max(0.0),
                StimulusKind::Noise { .. } | StimulusKind::Poisson { .. } => bounded = false,
            }
        }
        p.model.unreachable_threshold(&reversals, bounded.then_some(current))
    }

    /// Any u64: a TOML integer (up to 2^63 − 1) or a string of decimal digits.
    fn seed(&self, value: &Spanned<toml::Value>) -> Result<u64> {
        let expected = "expected an integer from 0 to 18446744073709551615 (from 2^63 on, as a string: seed = \"18446744073709551615\")";
        match value.get_ref() {
            toml::Value::Integer(x) if *x >= 0 => Ok(*x as u64),
            toml::Value::String(s) if !s.trim().is_empty() && s.trim().chars().all(|c| c.is_ascii_digit()) => {
                s.trim().parse::<u64>().map_err(|_| self.error(value.span(), "simulation.seed", format!("{expected}, got {s:?}")))
            }
            other => Err(self.error(value.span(), "simulation.seed", format!("{expected}, got {other}"))),
        }
    }

    /// A positive time in ms from a number (ms) or a string with a unit.
    fn time(&self, value: &Spanned<Value>, field: &str) -> Result<f64> {
        let ms = match value.get_ref() {
            Value::Number(x) => *x,
            Value::Text(s) => parse_time(s).map_err(|m| self.error(value.span(), field, m))?,
        };
        if !(ms > 0.0 && ms.is_finite()) {
            return Err(self.error(value.span(), field, format!("expected a time greater than 0, got {}", value.get_ref().as_text())));
        }
        Ok(ms)
    }

    /// A population, and its shorthand stimuli (noise_std, bias_current).
    fn population(
        &self,
        i: usize,
        p: &schema::Population,
        first_gid: u64,
        earlier: &[Population],
        dt_ms: f64,
    ) -> Result<(Population, (f64, f64))> {
        let at = |field: &str| format!("population[{i}].{field}");
        let name = p.name.get_ref().trim().to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            return Err(self.error(
                p.name.span(),
                at("name"),
                format!("expected a non-empty name of letters, digits, '_' or '-', got {:?}", p.name.get_ref()),
            ));
        }
        if earlier.iter().any(|q| q.name == name) {
            return Err(self.error(p.name.span(), at("name"), format!("population '{name}' is defined twice")));
        }
        let size = *p.size.get_ref();
        if size <= 0 {
            return Err(self.error(p.size.span(), at("size"), format!("expected a positive number of neurons, got {size}")));
        }
        let model_name = p.model.get_ref().as_str();
        let Some(kind) = model::kind(model_name) else {
            let known: Vec<&str> = model::KINDS.iter().map(|k| k.name).collect();
            return Err(self.error(p.model.span(), at("model"), {
                let hint =
                    crate::suggest::nearest(model_name, known.iter().copied()).map_or(String::new(), |n| format!(": did you mean '{n}'?"));
                format!("unknown neuron model '{model_name}'{hint} (known: {})", known.join(", "))
            }));
        };
        if let (false, Some(spikes)) = (kind.replays_spikes(), &p.spikes) {
            let with: Vec<String> = model::KINDS.iter().filter(|k| k.replays_spikes()).map(|k| format!("model = \"{}\"", k.name)).collect();
            return Err(self.error(
                spikes.span(),
                at("spikes"),
                format!("the {model_name} model replays no spikes (only {} does)", with.join(" or ")),
            ));
        }
        if !kind.takes_ion_channels() {
            if let Some((key, span)) = channels::channel_keys(p) {
                let with: Vec<String> =
                    model::KINDS.iter().filter(|k| k.takes_ion_channels()).map(|k| format!("model = \"{}\"", k.name)).collect();
                return Err(self.error(span, at(key), format!("the {model_name} model has no '{key}' (only {} does)", with.join(" or "))));
            }
        }
        let declaration = (kind.declaration)();
        let declared = self.declared(i, p, &declaration)?;
        if let Some((name, message)) = kind.check.and_then(|check| check(&declared)) {
            let span = p.parameters.get(name).map_or(p.model.span(), |v| v.span());
            return Err(self.error(span, at(&format!("parameters.{name}")), message));
        }
        let model = match kind.build {
            model::Build::Values(build) => build(declared, dt_ms),
            model::Build::WithIonChannels(build) => {
                let e_l = declaration.parameters.iter().position(|q| q.name == "e_l").and_then(|k| declared.parameters[k].constant());
                let ion_channels = self.ion_channels(i, p, e_l.unwrap_or(0.0))?;
                build(declared, ion_channels, dt_ms)
            }
            model::Build::WithSpikeTrains(build) => build(declared, self.spike_trains(i, p, &name, size as u64, dt_ms)?),
        };
        let finite = |v: &Option<Spanned<f64>>, field: &str, non_negative: bool| -> Result<f64> {
            match v {
                None => Ok(0.0),
                Some(s) if s.get_ref().is_finite() && (!non_negative || *s.get_ref() >= 0.0) => Ok(*s.get_ref()),
                Some(s) => Err(self.error(
                    s.span(),
                    at(field),
                    format!("expected a finite{} number, got {}", if non_negative { " non-negative" } else { "" }, s.get_ref()),
                )),
            }
        };
        let shorthand = (finite(&p.noise_std, "noise_std", true)?, finite(&p.bias_current, "bias_current", false)?);
        let parameters = p.parameters.iter().map(|(k, v)| (k.clone(), v.get_ref().as_text()));
        let given = parameters.chain(p.initial.iter().map(|(k, v)| (format!("initial.{k}"), v.get_ref().as_text()))).collect();
        Ok((Population { name, first_gid, size: size as u64, model, given, node_population: None }, shorthand))
    }

    /// The spike trains a spike-source population replays, from its `spikes` file (the
    /// population's group in it, or the file's one group); what putting them on the grid
    /// changed goes to the warnings.
    fn spike_trains(
        &self,
        i: usize,
        p: &schema::Population,
        name: &str,
        size: u64,
        dt_ms: f64,
    ) -> Result<std::sync::Arc<model::SpikeTrains>> {
        let Some(file) = &p.spikes else {
            return Err(self.error(
                p.model.span(),
                format!("population[{i}].spikes"),
                "expected the SONATA spike file whose trains a spike_source replays: spikes = \"FILE.h5\"",
            ));
        };
        let path = self.beside_model(file.get_ref());
        let (trains, rounded) = crate::sonata::spikes::check_trains(&path, name, size, dt_ms, self.sharing).map_err(|e| match e {
            Error::Input { path, message } => {
                self.error(file.span(), format!("population[{i}].spikes"), format!("{}: {message}", path.display()))
            }
            other => other,
        })?;
        self.notes.borrow_mut().extend(crate::sonata::spikes::rounded_warning(&path, name, dt_ms, rounded));
        Ok(std::sync::Arc::new(model::SpikeTrains::from_reader(Box::new(trains), size)))
    }

    /// A population's parameters and initial values, checked against its model's
    /// declaration: every key known, every required parameter given, each value an
    /// expression of r (a constant where the parameter is one per population) that is a
    /// finite f32 and within its bound; each initial value an expression of what its
    /// state variable may see.
    fn declared(&self, i: usize, p: &schema::Population, d: &Declaration) -> Result<Declared> {
        self.known_keys(i, "parameters", &p.parameters, &d.parameter_names(), d.model, None)?;
        self.known_keys(i, "initial", &p.initial, &d.initial_names(), d.model, d.initial_note)?;
        let mut parameters = Vec::new();
        for parameter in &d.parameters {
            let name = parameter.name.as_str();
            let field = format!("population[{i}].parameters.{name}");
            let given = p.parameters.get(name);
            let span = given.map(|v| v.span()).unwrap_or(0..0);
            let values = match (given.map(|v| v.get_ref()), parameter.default) {
                (Some(ParameterValue::One(v)), _) => {
                    Values::Expr(self.quantity(&Spanned::new(span.clone(), v.clone()), parameter.unit, &field, &["r"])?)
                }
                (Some(ParameterValue::PerNeuron(list)), _) => {
                    self.listed(list, parameter, d.model, p.size.get_ref(), span.clone(), &field)?
                }
                (None, Some(default)) => Values::Expr(Expr::parse(default, &[]).expect("valid default")),
                (None, None) => {
                    let message = format!("missing: the {} model needs {}", d.model, d.required_parameters());
                    return Err(self.error(p.model.span(), field, message));
                }
            };
            if let Values::Expr(expr) = &values {
                if parameter.scope == Scope::Population && expr.constant().is_none() {
                    return Err(self.error(span, field, "expected a constant (one value for the whole population)"));
                }
                self.finite_constant(expr, span.clone(), &field)?;
            }
            if let (Some(bound), Some(x)) = (parameter.bound, values.constant()) {
                if !bound.holds(x) {
                    return Err(self.error(span, field, format!("expected {}, got {x}", bound.describe())));
                }
            }
            parameters.push(values);
        }
        let mut seen: Vec<&str> = std::iter::once("r").chain(d.parameters.iter().map(|q| q.name.as_str())).collect();
        let mut initial = Vec::new();
        for state in &d.state {
            let Some(default) = state.initial else { continue };
            let name = state.name.as_str();
            let field = format!("population[{i}].initial.{name}");
            let scope: &[&str] = match state.scope {
                InitialScope::R => &["r"],
                InitialScope::ParametersAndEarlierState => &seen,
            };
            let expr = match p.initial.get(name) {
                Some(v) => self.quantity(v, state.unit, &field, scope)?,
                None => Expr::parse(default, scope).expect("valid default"),
            };
            self.finite_constant(&expr, p.initial.get(name).map_or(0..0, |v| v.span()), &field)?;
            initial.push(expr);
            seen.push(name);
        }
        Ok(Declared { parameters, initial })
    }

    /// A parameter listed one value per neuron: as many values as neurons, each a finite
    /// f32 within the parameter's bound (the values shared by all, a constant).
    fn listed(&self, list: &[f64], parameter: &Parameter, model: &str, size: &i64, span: Range<usize>, field: &str) -> Result<Values> {
        if parameter.scope == Scope::Population {
            let message = format!(
                "expected one value for the whole population (the {model} model holds one {}), got a list of {}",
                parameter.name,
                list.len()
            );
            return Err(self.error(span, field, message));
        }
        if list.len() as i64 != *size {
            return Err(self.error(span, field, format!("expected one value per neuron ({size}), got a list of {}", list.len())));
        }
        for (k, &x) in list.iter().enumerate() {
            if !(x as f32).is_finite() {
                return Err(self.error(
                    span,
                    format!("{field}[{k}]"),
                    format!("expected a finite number, got {}", crate::units::describe_value(x)),
                ));
            }
            if let Some(bound) = parameter.bound.filter(|b| !b.holds(x)) {
                return Err(self.error(span, format!("{field}[{k}]"), format!("expected {}, got {x}", bound.describe())));
            }
        }
        Ok(match list.first() {
            Some(&first) if list.iter().all(|&x| x == first) => Values::of(first),
            _ => Values::Listed(list.into()),
        })
    }

    /// A constant expression must be a finite f32 (the state is f32); expressions of r
    /// are checked neuron by neuron when the network is built.
    fn finite_constant(&self, expr: &Expr, span: Range<usize>, field: &str) -> Result<()> {
        match expr.constant() {
            Some(x) if !(x as f32).is_finite() => {
                Err(self.error(span, field, format!("evaluates to {}: expected a finite number", crate::units::describe_value(x))))
            }
            _ => Ok(()),
        }
    }

    fn known_keys<V>(
        &self,
        i: usize,
        table: &str,
        map: &std::collections::BTreeMap<String, Spanned<V>>,
        known: &[&str],
        model: &str,
        note: Option<&str>,
    ) -> Result<()> {
        for (key, value) in map {
            if !known.contains(&key.as_str()) {
                let note = note.map(|n| format!("; {n}")).unwrap_or_default();
                return Err(self.error(
                    value.span(),
                    format!("population[{i}].{table}.{key}"),
                    format!("unknown name '{key}' for the {model} model (expected one of: {}{note})", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// A value with its unit (`"10 ms"`, converted to `unit`, the one its model declares:
    /// `units::in_declared_unit`), else an expression of `names` in that unit.
    fn quantity(&self, value: &Spanned<Value>, unit: &str, field: &str, names: &[&str]) -> Result<Expr> {
        if let Value::Text(text) = value.get_ref() {
            if let Some(converted) = crate::units::in_declared_unit(text, unit) {
                let x = converted.map_err(|m| self.error(value.span(), field, m))?;
                return Ok(Expr::parse(&x.to_string(), &[]).expect("a number is an expression"));
            }
        }
        self.expression(value, field, names)
    }

    fn expression(&self, value: &Spanned<Value>, field: &str, names: &[&str]) -> Result<Expr> {
        if let Value::Number(x) = value.get_ref() {
            if !x.is_finite() {
                return Err(self.error(value.span(), field, format!("expected a finite number, got {x}")));
            }
        }
        let text = value.get_ref().as_text();
        Expr::parse(&text, names).map_err(|e| {
            // Point at the character inside the quoted string.
            let span = value.span();
            let quoted = matches!(value.get_ref(), Value::Text(_)) as usize;
            let start = (span.start + quoted + e.column - 1).min(span.end.saturating_sub(1).max(span.start));
            self.error(start..span.end, field, format!("in expression {}: {}", crate::expr::quote(&text, e.column), e.message))
        })
    }

    fn output(&self, raw: &schema::Output, dt_ms: f64, neurons: u64) -> Result<OutputPlan> {
        let dir = match &raw.dir {
            Some(d) if !d.get_ref().trim().is_empty() => {
                home_relative(d.get_ref(), std::env::var_os("HOME").as_deref()).map_err(|m| self.error(d.span(), "output.dir", m))?
            }
            Some(d) => return Err(self.error(d.span(), "output.dir", "expected a directory path, got an empty string")),
            None => PathBuf::from("out"),
        };
        let name = |v: &Option<String>, default: &str| match v.as_deref() {
            None => Some(default.to_string()),
            Some("") => None,
            Some(s) => Some(s.to_string()),
        };
        let flush_every_steps = match &raw.flush_every {
            None => (default_flush_ms(neurons) / dt_ms).round().max(1.0) as u64,
            Some(v) => {
                let ms = self.time(v, "output.flush_every")?;
                crate::units::whole_steps(ms, dt_ms).filter(|&s| s >= 1).ok_or_else(|| {
                    self.error(v.span(), "output.flush_every", format!("expected a whole number of steps of dt = {dt_ms} ms, got {ms} ms"))
                })?
            }
        };
        let raster_span = raw.raster.as_ref().map_or(0..0, |r| r.span());
        let raster = name(&raw.raster.as_ref().map(|r| r.get_ref().clone()), "raster.png");
        if let Some(r) = &raster {
            let png = Path::new(r).extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
            if !png {
                return Err(self.error(
                    raster_span,
                    "output.raster",
                    format!("expected a file name ending in .png (the raster is a PNG), got {r:?}"),
                ));
            }
        }
        let spikes = name(&raw.spikes, "spikes.h5");
        if spikes.is_some() && spikes == raster {
            return Err(self.error(raster_span, "output.raster", "the raster and the spike file cannot have the same name"));
        }
        let rates = match &raw.rates {
            None => None,
            Some(name) => {
                let file = name.get_ref().trim().to_string();
                if !file.to_ascii_lowercase().ends_with(".h5") || file.contains('/') {
                    return Err(self.error(name.span(), "output.rates", format!("expected a file name ending in .h5, got {file:?}")));
                }
                if spikes.as_ref() == Some(&file) {
                    return Err(self.error(name.span(), "output.rates", "the rate traces and the spike file cannot have the same name"));
                }
                let bin = match &raw.rate_bin {
                    None => ((1.0 / dt_ms).round() as u64).max(1),
                    Some(v) => self.whole_steps(v, "output.rate_bin", dt_ms, false)?,
                };
                Some((file, bin))
            }
        };
        if raw.rates.is_none() {
            if let Some(v) = &raw.rate_bin {
                return Err(self.error(
                    v.span(),
                    "output.rate_bin",
                    "a bin for rate traces that are not written: name their file with output.rates",
                ));
            }
        }
        Ok(OutputPlan {
            dir,
            spikes,
            raster,
            flush_every_steps,
            reports: Vec::new(),
            weights: Vec::new(),
            spike_recording: Vec::new(),
            rates,
        })
    }

    /// `output.spike_populations` and `output.spike_neurons`: which spikes the spike file
    /// records.
    fn spike_recording(&self, raw: &schema::Output, populations: &[Population], seed: u64) -> Result<Vec<(usize, Selection)>> {
        let chosen: Vec<usize> = match &raw.spike_populations {
            None => (0..populations.len()).collect(),
            Some(names) => {
                let empty = "expected at least one population (or spikes = \"\" to record none)";
                let mut chosen = self.population_list(names, "output.spike_populations", populations, empty)?;
                chosen.sort_unstable();
                chosen
            }
        };
        chosen
            .into_iter()
            .map(|p| {
                let selection = match &raw.spike_neurons {
                    None => Selection::All,
                    Some(n) => self.selection(n, "output.spike_neurons", populations[p].size, seed)?,
                };
                Ok((p, selection))
            })
            .collect()
    }
}

/// Simulated time between spike-file appends unless the model file says otherwise: 1 s,
/// or, for a network too small to buffer `APPEND_SPIKES` spikes in a second at 10 Hz,
/// up to 10 s. An append costs a collective and the HDF5 library's work per dataset
/// whatever it holds: spnet (1000 neurons, 180 times real time) appended every 5.5 ms
/// of wall time, 2.3 s an hour while the other thread waited; every 10 s, 0.9 s
/// (BENCHMARKS.md, issue 29). What a killed run can lose stays under a second of wall
/// time at such speeds.
const DEFAULT_FLUSH_MS: f64 = 1000.0;
const LONGEST_DEFAULT_FLUSH_MS: f64 = 10_000.0;
const APPEND_SPIKES: f64 = 1e5;

/// The default interval between appends for a network of `neurons` (`DEFAULT_FLUSH_MS`).
fn default_flush_ms(neurons: u64) -> f64 {
    let spikes_per_second = neurons.max(1) as f64 * 10.0;
    (APPEND_SPIKES / spikes_per_second * 1000.0).clamp(DEFAULT_FLUSH_MS, LONGEST_DEFAULT_FLUSH_MS)
}

/// A time in ms from "1000", "1000ms", "1 s", "250 us", "1e-3 s" (the units of
/// `units::convert`'s table).
pub fn parse_time(text: &str) -> std::result::Result<f64, String> {
    let expected = || format!("expected a time such as \"1000 ms\", \"2 s\" or \"1e-3 s\" (units ms, s, us, min), got {text:?}");
    let (number, unit) = crate::units::split_unit(text);
    let x = match number.parse::<f64>() {
        Ok(x) if x.is_finite() && number.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => x,
        _ => return Err(expected()),
    };
    if unit.is_empty() {
        return Ok(x);
    }
    crate::units::convert(x, unit, "ms").ok_or_else(expected)
}

/// `path` with a leading `~` (alone or before `/`) as the home directory `home`, as a
/// shell would have it; other paths as written (relative ones from the directory volley
/// runs in).
fn home_relative(path: &str, home: Option<&std::ffi::OsStr>) -> std::result::Result<PathBuf, String> {
    let rest = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.trim_start_matches('/'),
        _ => return Ok(PathBuf::from(path)),
    };
    match home.filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(rest)),
        None => Err(format!("'{path}' starts with ~ but HOME is not set: write the directory in full")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_dirs_under_home_are_expanded_and_others_kept() {
        let home = Some(std::ffi::OsStr::new("/home/ada"));
        assert_eq!(home_relative("~/runs/a", home).unwrap(), std::path::PathBuf::from("/home/ada/runs/a"));
        assert_eq!(home_relative("~", home).unwrap(), std::path::PathBuf::from("/home/ada"));
        assert_eq!(home_relative("~bob/x", home).unwrap(), std::path::PathBuf::from("~bob/x"));
        assert_eq!(home_relative("out/x", home).unwrap(), std::path::PathBuf::from("out/x"));
        assert_eq!(home_relative("~/x", None).unwrap_err(), "'~/x' starts with ~ but HOME is not set: write the directory in full");
    }

    #[test]
    fn times_with_units() {
        assert_eq!(parse_time("1000ms"), Ok(1000.0));
        assert_eq!(parse_time("2 s"), Ok(2000.0));
        assert_eq!(parse_time("250 us"), Ok(0.25));
        assert_eq!(parse_time("5"), Ok(5.0));
        assert_eq!(parse_time("1e-3 s"), Ok(1.0));
        assert_eq!(parse_time("2.5e3ms"), Ok(2500.0));
        assert_eq!(parse_time("1E2"), Ok(100.0));
        assert!(parse_time("5 parsecs").is_err());
        assert!(parse_time("ms").is_err());
        assert!(parse_time("inf ms").is_err());
        assert!(parse_time("1e").is_err());
    }

    /// Unless the model file says otherwise, a network appends every second of
    /// simulated time, and one too small to buffer 10⁵ spikes in a second at 10 Hz less
    /// often, up to every 10 s: the 2003 network (1000 neurons) every 10 s, one of
    /// 5000 every 2 s, the microcircuit every second.
    #[test]
    fn small_networks_append_less_often_by_default() {
        assert_eq!([1000, 5000, 10_000, 77_169, 1].map(default_flush_ms), [10_000.0, 2000.0, 1000.0, 1000.0, 10_000.0]);
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/izhikevich2003.toml")).unwrap();
        let desc = parse(&text, "m.toml", &Overrides::default()).unwrap();
        assert_eq!(desc.output.flush_every_steps as f64 * desc.dt_ms, 10_000.0);
    }

    /// Appends come at whole epochs (never cutting one), and more often where reports
    /// would buffer more than 64 MB between them.
    #[test]
    fn appends_come_at_whole_epochs_and_bound_report_buffers() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/izhikevich2003.toml")).unwrap();
        let text = text.replace("delay = \"1 ms\"", "delay = \"3 ms\"").replace("[output]", "[output]\nflush_every = \"10 ms\"");
        let desc = parse(&text, "m.toml", &Overrides::default()).unwrap();
        assert_eq!((desc.epoch_steps(), desc.output.flush_every_steps, desc.flush_steps()), (3, 10, 12));
        // 1000 neurons' v every step: 4000 bytes a step, 64 MiB in 16,777 steps, cut to epochs.
        let text = text + "\n[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\n";
        let desc = parse(&text.replace("flush_every = \"10 ms\"", "flush_every = \"100 s\""), "m.toml", &Overrides::default()).unwrap();
        assert_eq!(desc.flush_steps(), 16_776);
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
