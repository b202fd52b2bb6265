//! A SONATA circuit as volley's populations and projections: each node population in
//! runs of consecutive node ids that share a model and its parameters (one run where
//! all its nodes do, as NEST creates its nodes in runs of one node type), each edge
//! population one projection per pair of source and target runs, its edges scanned once
//! (ids, types, weights and delays checked, counts and ranges taken) in chunks.
//!
//! Supported, as in NEST's `SonataNetwork`: node types of model_type point_neuron or
//! point_process with a `nest:` model_template (iaf_psc_exp, iaf_psc_alpha,
//! iaf_psc_delta, izhikevich) and a dynamics_params JSON of NEST's parameter names;
//! virtual nodes, replaying the spike file an input names them in (node_set); edges with
//! one edge group, static_synapse, weights and delays per edge or per edge type.
//! Refused with the file and what was found: other model types and templates, per-node
//! dynamics_params, several edge groups, other synapse models, ids outside their node
//! population, delays below one step, virtual nodes without spikes.

use super::config::SonataConfig;
use super::edges;
use super::types::TypeTable;
use super::{survey, Sharing};
use crate::error::{Error, Result};
use crate::network::{EdgeType, SynapseModel};
use serde_json::Value;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The templates volley runs, by the name after `nest:` (NEST takes them without it too).
pub const TEMPLATES: [&str; 4] = ["iaf_psc_exp", "iaf_psc_alpha", "iaf_psc_delta", "izhikevich"];

/// PyNN's standard cells volley runs exactly, by the name after `pynn:`, and the model
/// each is.
pub const PYNN_TEMPLATES: [(&str, &str); 3] =
    [("IF_curr_exp", "iaf_psc_exp"), ("IF_curr_alpha", "iaf_psc_alpha"), ("IF_curr_delta", "iaf_psc_delta")];

/// PyNN's parameters of those cells: PyNN's name, volley's, the factor from PyNN's unit
/// to volley's (nF to pF, nA to pA), PyNN's default (pyNN/standardmodels/cells.py; the
/// synaptic time constants of IF_curr_alpha are 0.5 ms there, of IF_curr_exp 5 ms).
const PYNN_PARAMETERS: [(&str, &str, f64, f64); 9] = [
    ("cm", "c_m", 1000.0, 1.0),
    ("tau_m", "tau_m", 1.0, 20.0),
    ("tau_refrac", "t_ref", 1.0, 0.1),
    ("tau_syn_E", "tau_syn_ex", 1.0, 5.0),
    ("tau_syn_I", "tau_syn_in", 1.0, 5.0),
    ("v_rest", "e_l", 1.0, -65.0),
    ("v_reset", "v_reset", 1.0, -65.0),
    ("v_thresh", "v_th", 1.0, -50.0),
    ("i_offset", "i_e", 1000.0, 0.0),
];

/// A run of consecutive nodes of one node population with one model and its values: one
/// volley population.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRun {
    pub node_population: String,
    /// The population's name in volley: the node population's, or with several runs,
    /// `<node population>-<k>`.
    pub name: String,
    pub nodes: Range<u64>,
    /// volley's model name.
    pub model: String,
    /// Parameters and initial values (volley's names) from dynamics_params.
    pub parameters: Vec<(String, f64)>,
    pub initial: Vec<(String, f64)>,
    /// A virtual node population's spike file.
    pub spikes: Option<PathBuf>,
    /// The factor from the circuit's weights onto these nodes to volley's units: 1000
    /// for PyNN's current-based cells (nA to pA), else 1.
    pub weight_scale: f64,
    /// Where the run's model and values come from, for errors.
    pub origin: String,
}

/// The edges of one edge population between one source run and one target run.
#[derive(Clone, Debug)]
pub struct EdgeRun {
    pub file: PathBuf,
    pub population: String,
    /// Indices into `Circuit::runs`.
    pub source_run: usize,
    pub target_run: usize,
    pub types: Vec<EdgeType>,
    pub per_edge_weight: bool,
    pub per_edge_delay: bool,
    pub count: u64,
    /// The shortest and the longest delay, in steps.
    pub delay_steps: (u32, u32),
    pub weights: (f64, f64),
    /// Whether the edges file has `indices/target_to_source`.
    pub indexed: bool,
    /// The factor its weights are multiplied by (the target run's `weight_scale`).
    pub weight_scale: f64,
    /// The synaptic kind of its edge types (volley's `synapse`, `tau_syn` and `e_rev`
    /// columns, which `volley export` writes; delta where absent).
    pub synapse: SynapseModel,
}

#[derive(Clone, Debug)]
pub struct Circuit<E = EdgeRun> {
    pub config: SonataConfig,
    pub runs: Vec<NodeRun>,
    pub edges: Vec<E>,
}

fn input(path: &Path, message: impl Into<String>) -> Error {
    Error::Input { path: path.to_path_buf(), message: message.into() }
}

/// This process's part of reading the circuit: its nodes, and its share of each edge
/// population scanned (not yet combined with the others').
fn read_share(config: SonataConfig, dt_ms: f64, node_types: bool, sharing: &Sharing) -> Result<Circuit<survey::Scanned>> {
    let mut runs = Vec::new();
    for (nodes, types) in &config.nodes {
        if node_types {
            runs.extend(node_runs(&config, nodes, &TypeTable::read(types)?)?);
        } else {
            runs.extend(node_populations(nodes)?);
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for r in &runs {
        if names.contains(&r.name.as_str()) && r.nodes.start == 0 {
            return Err(input(&config.nodes[0].0, format!("node population '{}' is defined twice", r.node_population)));
        }
        names.push(&r.name);
    }
    let mut edges = Vec::new();
    for (file, types) in &config.edges {
        let share = (sharing.split().0, sharing.split().1, sharing.per_read());
        edges.extend(edge_runs(&config, file, &TypeTable::read(types)?, &runs, (dt_ms, share))?);
    }
    Ok(Circuit { config, runs, edges })
}

/// Reads the circuit of `config` for steps of `dt_ms`; with `node_types` false, each
/// node population is one run whose model is left to the model file (its types unread).
/// The processes of `sharing` read it together: each scans its share of every edge
/// population, then one collective gathers every process's tallies (or its error, so
/// that a process that failed alone leaves none waiting).
pub fn read(config: SonataConfig, dt_ms: f64, node_types: bool, sharing: &Sharing) -> Result<Circuit> {
    let local = read_share(config, dt_ms, node_types, sharing);
    let gathered = survey::gather(sharing, local.as_ref().ok().map(|c| c.edges.iter().map(|e| e.found.clone()).collect()));
    // This process's own error first; else another's (`OtherRank`).
    let Circuit { config, runs, edges: scanned } = local?;
    let mut all = gathered?;
    let mut edges = Vec::new();
    for (k, scan) in scanned.into_iter().enumerate() {
        let source = &scan.source;
        for ((source_run, target_run), tally) in survey::combine(std::mem::take(&mut all[k]), source, &scan.types_path)? {
            edges.push(EdgeRun {
                file: source.file.clone(),
                population: source.population.clone(),
                source_run,
                target_run,
                types: source.types.clone(),
                per_edge_weight: source.per_edge_weight,
                per_edge_delay: source.per_edge_delay,
                indexed: source.indexed,
                count: tally.count,
                delay_steps: tally.delays,
                weights: tally.weights,
                synapse: source.type_of(tally.first.1).map_or(SynapseModel::Delta, |t| t.synapse),
                weight_scale: runs[target_run].weight_scale,
            });
        }
    }
    Ok(Circuit { config, runs, edges })
}

/// The node populations of the nodes file `path`, in runs.
fn node_runs(config: &SonataConfig, path: &Path, types: &TypeTable) -> Result<Vec<NodeRun>> {
    let file = hdf5::File::open(path).map_err(|e| input(path, format!("not an HDF5 file of SONATA nodes ({e})")))?;
    let nodes = file.group("nodes").map_err(|_| input(path, "expected a group /nodes"))?;
    let id_column = types.column("node_type_id", "each node type's id")?;
    let model_type = types.column("model_type", "point_neuron, point_process or virtual")?;
    let mut out = Vec::new();
    for population in nodes.member_names().map_err(|e| input(path, e.to_string()))? {
        let at = format!("/nodes/{population}");
        let g = nodes.group(&population).map_err(|_| input(path, format!("{at}: expected a group")))?;
        let type_ids: Vec<i64> = g
            .dataset("node_type_id")
            .and_then(|d| d.read_raw())
            .map_err(|_| input(path, format!("{at}: expected an integer dataset node_type_id")))?;
        if let Ok(group) = g.group("0") {
            if group.group("dynamics_params").is_ok() {
                return Err(input(
                    path,
                    format!("{at}/0/dynamics_params: per-node dynamics_params are not supported (as in NEST): give each set of values a node type of its own"),
                ));
            }
        }
        let mut resolved: Vec<(i64, Resolved)> = Vec::new();
        let mut pieces: Vec<(Range<u64>, usize, i64)> = Vec::new();
        for (node, &type_id) in type_ids.iter().enumerate() {
            let k = match resolved.iter().position(|(id, _)| *id == type_id) {
                Some(k) => k,
                None => {
                    let row = types.row_of(id_column, type_id).ok_or_else(|| {
                        input(&types.path, format!("no node type {type_id} (node {node} of {at} in {} has it)", path.display()))
                    })?;
                    let kind = types.get(row, Some(model_type)).unwrap_or("");
                    let value = match kind {
                        "virtual" => virtual_type(config, &population, types, type_id)?,
                        "point_neuron" | "point_process" => neuron_type(config, types, row, type_id)?,
                        other => {
                            return Err(input(
                                &types.path,
                                format!(
                                    "node type {type_id}: model_type \"{other}\" is not supported: point_neuron, point_process or virtual"
                                ),
                            ))
                        }
                    };
                    resolved.push((type_id, value));
                    resolved.len() - 1
                }
            };
            match pieces.last_mut() {
                Some((r, last, _)) if resolved[*last].1 == resolved[k].1 => r.end = node as u64 + 1,
                _ => pieces.push((node as u64..node as u64 + 1, k, type_id)),
            }
        }
        let several = pieces.len() > 1;
        if several && pieces.iter().any(|(_, which, _)| resolved[*which].1.model == "spike_source") {
            return Err(input(
                path,
                format!("{at}: virtual and simulated nodes in one node population: a node population is virtual throughout or not at all"),
            ));
        }
        for (k, (nodes, which, type_id)) in pieces.into_iter().enumerate() {
            let Resolved { model, parameters, initial, spikes, weight_scale } = resolved[which].1.clone();
            out.push(NodeRun {
                node_population: population.clone(),
                name: if several { format!("{population}-{k}") } else { population.clone() },
                nodes,
                model,
                parameters,
                initial,
                spikes,
                weight_scale,
                origin: format!("{}: node type {type_id}", types.path.display()),
            });
        }
    }
    Ok(out)
}

/// A node type as volley runs it: model, parameters, initial values, spike file.
#[derive(Clone, Debug, PartialEq)]
struct Resolved {
    model: String,
    parameters: Vec<(String, f64)>,
    initial: Vec<(String, f64)>,
    spikes: Option<PathBuf>,
    /// What the circuit's weights onto it are multiplied by (`NodeRun::weight_scale`).
    weight_scale: f64,
}

/// The node populations of the nodes file `path`, one run each, their models unread.
fn node_populations(path: &Path) -> Result<Vec<NodeRun>> {
    let file = hdf5::File::open(path).map_err(|e| input(path, format!("not an HDF5 file of SONATA nodes ({e})")))?;
    let nodes = file.group("nodes").map_err(|_| input(path, "expected a group /nodes"))?;
    let mut out = Vec::new();
    for population in nodes.member_names().map_err(|e| input(path, e.to_string()))? {
        let size = nodes
            .dataset(&format!("{population}/node_type_id"))
            .map_err(|_| input(path, format!("/nodes/{population}: expected a dataset node_type_id")))?
            .size() as u64;
        out.push(NodeRun {
            node_population: population.clone(),
            name: population,
            nodes: 0..size,
            model: String::new(),
            parameters: Vec::new(),
            initial: Vec::new(),
            spikes: None,
            weight_scale: 1.0,
            origin: path.display().to_string(),
        });
    }
    Ok(out)
}

/// A virtual node type: a spike source replaying the input whose node_set names the
/// population.
fn virtual_type(config: &SonataConfig, population: &str, types: &TypeTable, type_id: i64) -> Result<Resolved> {
    let Some((_, file)) = config.spike_inputs.iter().find(|(set, _)| set == population) else {
        return Err(input(
            &config.files[0],
            format!(
                "node population '{population}' is virtual (node type {type_id} of {}): expected an input of input_type \"spikes\" with node_set \"{population}\"",
                types.path.display()
            ),
        ));
    };
    Ok(Resolved {
        model: "spike_source".into(),
        parameters: Vec::new(),
        initial: Vec::new(),
        spikes: Some(file.clone()),
        weight_scale: 1.0,
    })
}

/// A point neuron type: its template's volley model and its dynamics_params, with NEST's
/// names turned into volley's.
fn neuron_type(config: &SonataConfig, types: &TypeTable, row: usize, type_id: i64) -> Result<Resolved> {
    let template_column = types.column("model_template", "the NEST model of each neuron type, nest:iaf_psc_alpha for one")?;
    let template = types.get(row, Some(template_column)).unwrap_or("");
    let params_column = types.column("dynamics_params", "the JSON file of each neuron type's parameters")?;
    let values = match types.get(row, Some(params_column)) {
        Some(file) => {
            json_numbers(&config.point_neuron_models_dir.as_ref().map_or_else(|| types.path.with_file_name(file), |d| d.join(file)))?
        }
        None => Vec::new(),
    };
    if let Some(cell) = template.strip_prefix("pynn:") {
        if let Some(&(_, model)) = PYNN_TEMPLATES.iter().find(|(t, _)| *t == cell) {
            return Ok(pynn_cell(cell, model, values));
        }
    }
    let name = Some(template.strip_prefix("nest:").unwrap_or(template)).filter(|n| TEMPLATES.contains(n)).ok_or_else(|| {
        let known: Vec<String> =
            TEMPLATES.iter().map(|t| format!("nest:{t}")).chain(PYNN_TEMPLATES.iter().map(|(t, _)| format!("pynn:{t}"))).collect();
        input(
            &types.path,
            format!("node type {type_id}: model_template \"{template}\" is not one volley runs (known: {})", known.join(", ")),
        )
    })?;
    let (mut parameters, mut initial) = (Vec::new(), Vec::new());
    {
        for (key, value) in values {
            match (name, key.as_str()) {
                (_, "V_m") => initial.push(("v".into(), value)),
                ("izhikevich", "U_m") => initial.push(("u".into(), value)),
                ("izhikevich", "V_th") => parameters.push(("v_peak".into(), value)),
                _ => parameters.push((key.to_lowercase(), value)),
            }
        }
    }
    // NEST's initial state where the file gives none: its models start from V_m = −70 mV
    // (izhikevich −65 mV, U_m −13), whatever E_L (volley's own files start from e_l).
    let defaults: &[(&str, f64)] = if name == "izhikevich" { &[("v", -65.0), ("u", -13.0)] } else { &[("v", -70.0)] };
    for &(variable, value) in defaults {
        if !initial.iter().any(|(k, _)| k == variable) {
            initial.push((variable.into(), value));
        }
    }
    Ok(Resolved { model: name.to_string(), parameters, initial, spikes: None, weight_scale: 1.0 })
}

/// A PyNN cell (`pynn:<cell>`) as volley's `model`: PyNN's names and units turned into
/// volley's, PyNN's defaults where the values do not say (its initial v −65 mV), and
/// weights onto it in PyNN's units: nA for current-based cells (×1000 to pA), mV for
/// IF_curr_delta. An unknown name is kept, to be refused by the model's own check.
fn pynn_cell(cell: &str, model: &str, values: Vec<(String, f64)>) -> Resolved {
    let given = |name: &str| values.iter().find(|(k, _)| k == name).map(|&(_, v)| v);
    let alpha = cell == "IF_curr_alpha";
    let mut parameters = Vec::new();
    for &(pynn, ours, factor, default) in &PYNN_PARAMETERS {
        if model == "iaf_psc_delta" && pynn.starts_with("tau_syn") {
            continue;
        }
        let default = if alpha && pynn.starts_with("tau_syn") { 0.5 } else { default };
        parameters.push((ours.to_string(), given(pynn).unwrap_or(default) * factor));
    }
    parameters.extend(values.iter().filter(|(k, _)| k != "v" && !PYNN_PARAMETERS.iter().any(|p| p.0 == k)).cloned());
    let initial = vec![("v".to_string(), given("v").unwrap_or(-65.0))];
    let weight_scale = if model == "iaf_psc_delta" { 1.0 } else { 1000.0 };
    Resolved { model: model.into(), parameters, initial, spikes: None, weight_scale }
}

/// A flat JSON object of numbers (booleans as 0 and 1), by key.
pub fn json_numbers(path: &Path) -> Result<Vec<(String, f64)>> {
    let text = std::fs::read_to_string(path).map_err(|e| input(path, e.to_string()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| input(path, format!("not JSON: {e}")))?;
    let Value::Object(map) = value else { return Err(input(path, "expected a JSON object of parameter values")) };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::Number(x) => Ok((k, x.as_f64().unwrap_or(f64::NAN))),
            Value::Bool(b) => Ok((k, if b { 1.0 } else { 0.0 })),
            other => Err(input(path, format!("{k}: expected a number, got {other}"))),
        })
        .collect()
}

/// The edge types of a table: weight and delay from its columns, its dynamics_params
/// winning; static_synapse only.
fn edge_types(config: &SonataConfig, types: &TypeTable) -> Result<Vec<EdgeType>> {
    let id_column = types.column("edge_type_id", "each edge type's id")?;
    let template = types.column("model_template", "the synapse model of each edge type, static_synapse")?;
    let column = |name: &str| types.columns.iter().position(|c| c == name);
    let (weight, delay, params) = (column("syn_weight"), column("delay"), column("dynamics_params"));
    let mut out = Vec::new();
    for row in 0..types.rows.len() {
        let id: i64 = types.rows[row][id_column]
            .parse()
            .map_err(|_| input(&types.path, format!("row {}: edge_type_id: expected an integer", row + 1)))?;
        match types.get(row, Some(template)) {
            Some("static_synapse") | Some("nest:static_synapse") => {}
            other => {
                return Err(input(
                    &types.path,
                    format!("edge type {id}: model_template \"{}\" is not supported: static_synapse", other.unwrap_or("NULL")),
                ))
            }
        }
        let number = |c: Option<usize>, name: &str| -> Result<Option<f64>> {
            types
                .get(row, c)
                .map(|v| v.parse::<f64>().map_err(|_| input(&types.path, format!("edge type {id}: {name} \"{v}\": expected a number"))))
                .transpose()
        };
        let mut t =
            EdgeType { id, weight: number(weight, "syn_weight")?, delay_ms: number(delay, "delay")?, synapse: synapse_kind(types, row)? };
        if let Some(file) = types.get(row, params) {
            let path = config.synaptic_models_dir.as_ref().map_or_else(|| types.path.with_file_name(file), |d| d.join(file));
            for (key, value) in json_numbers(&path)? {
                match key.as_str() {
                    "weight" => t.weight = Some(value),
                    "delay" => t.delay_ms = Some(value),
                    other => return Err(input(&path, format!("{other}: static_synapse takes weight and delay only"))),
                }
            }
        }
        out.push(t);
    }
    // Sorted by id (`EdgeSource::type_of` searches them); an id given twice is refused.
    out.sort_by_key(|t| t.id);
    if let Some(w) = out.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(input(&types.path, format!("edge type {} is given twice", w[0].id)));
    }
    Ok(out)
}

/// Row `row`'s synaptic kind: volley's columns `synapse` (delta, exp_current,
/// alpha_current, exp_conductance, alpha_conductance), `tau_syn` (ms) and `e_rev` (mV); delta without them.
fn synapse_kind(types: &TypeTable, row: usize) -> Result<SynapseModel> {
    let column = |name: &str| types.columns.iter().position(|c| c == name);
    let number = |name: &str| -> Result<f64> {
        let v = types
            .get(row, column(name))
            .ok_or_else(|| input(&types.path, format!("row {}: expected a value in column {name}", row + 1)))?;
        v.parse().map_err(|_| input(&types.path, format!("row {}: {name} \"{v}\": expected a number", row + 1)))
    };
    match types.get(row, column("synapse")).unwrap_or("delta") {
        "delta" => Ok(SynapseModel::Delta),
        "exp_current" => Ok(SynapseModel::ExpCurrent { tau_ms: number("tau_syn")? }),
        "alpha_current" => Ok(SynapseModel::AlphaCurrent { tau_ms: number("tau_syn")? }),
        "exp_conductance" => Ok(SynapseModel::ExpConductance { tau_ms: number("tau_syn")?, e_rev: number("e_rev")? }),
        "alpha_conductance" => Ok(SynapseModel::AlphaConductance { tau_ms: number("tau_syn")?, e_rev: number("e_rev")? }),
        other => Err(input(
            &types.path,
            format!(
                "row {}: synapse \"{other}\": expected delta, exp_current, alpha_current, exp_conductance or alpha_conductance",
                row + 1
            ),
        )),
    }
}

/// This process's share of each edge population of the edges file `path` scanned: what
/// is combined into one projection per pair of runs that its edges join.
fn edge_runs(
    config: &SonataConfig,
    path: &Path,
    types: &TypeTable,
    runs: &[NodeRun],
    (dt_ms, share): (f64, (usize, usize, usize)),
) -> Result<Vec<survey::Scanned>> {
    let edge_types = edge_types(config, types)?;
    let file = hdf5::File::open(path).map_err(|e| input(path, format!("not an HDF5 file of SONATA edges ({e})")))?;
    let group = file.group("edges").map_err(|_| input(path, "expected a group /edges"))?;
    let mut out = Vec::new();
    for population in group.member_names().map_err(|e| input(path, e.to_string()))? {
        let data = edges::open(path, &population)?;
        let at = format!("/edges/{population}");
        let runs_of = |node_population: &str, dataset: &str| -> Result<Vec<usize>> {
            let found: Vec<usize> = (0..runs.len()).filter(|&k| runs[k].node_population == node_population).collect();
            if found.is_empty() {
                let mut known: Vec<&str> = runs.iter().map(|r| r.node_population.as_str()).collect();
                known.dedup();
                return Err(input(
                    path,
                    format!(
                        "{at}/{dataset}: node_population '{node_population}' is not a node population of the circuit (known: {})",
                        known.join(", ")
                    ),
                ));
            }
            Ok(found)
        };
        let (sources, targets) = (runs_of(&data.source_population, "source_node_id")?, runs_of(&data.target_population, "target_node_id")?);
        let size = |found: &[usize]| runs[*found.last().expect("one run at least")].nodes.end;
        let (n_sources, n_targets) = (size(&sources), size(&targets));
        if let Some((node_ranges, _)) = &data.by_target {
            let rows = node_ranges.shape().first().copied().unwrap_or(0) as u64;
            if rows != n_targets || node_ranges.shape().get(1) != Some(&2) {
                return Err(input(
                    path,
                    format!("{at}/indices/target_to_source/node_id_to_ranges: {:?} where node population '{}' has {n_targets} nodes: expected [{n_targets}, 2]", node_ranges.shape(), data.target_population),
                ));
            }
        }
        let run_of = |found: &[usize], node: u64| found[found.partition_point(|&k| runs[k].nodes.end <= node)];
        let source = crate::network::EdgeSource {
            file: path.to_path_buf(),
            population: population.clone(),
            source_nodes: 0..0,
            target_nodes: 0..0,
            source_base: 0,
            target_base: 0,
            types: edge_types.clone(),
            per_edge_weight: data.weights.is_some(),
            per_edge_delay: data.delays.is_some(),
            indexed: data.by_target.is_some(),
            weight_scale: 1.0,
            dt_ms,
            count: 0,
            loaded: Default::default(),
            max_indegree: Default::default(),
            given: false,
        };
        let scope = survey::Scope {
            path,
            population: &population,
            names: (&data.source_population, &data.target_population),
            sizes: (n_sources, n_targets),
            run_of: &|target, node| if target { run_of(&targets, node) } else { run_of(&sources, node) },
            weight_scale: &|run| runs[run].weight_scale,
            dt_ms,
        };
        let found = survey::scan_share(&data, &source, &scope, share);
        out.push(survey::Scanned { source, types_path: types.path.clone(), found });
    }
    Ok(out)
}
