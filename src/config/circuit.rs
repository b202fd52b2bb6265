//! `[circuit]`: a SONATA circuit's node runs as populations (checked as a model file's
//! are, each error naming the node type and its files) and its edges as projections of
//! data; and a SONATA simulation config run as a model file of its own (`from_json`).

use super::{schema, Validator};
use crate::error::{Error, Result};
use crate::network::{ConnectionRule, DelaySpec, EdgeSource, Population, Projection, Storage, SynapseModel, WeightSpec};

/// Whose populations a circuit's nodes are (`[circuit] nodes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CircuitNodes {
    Circuit,
    Model,
}
use crate::sonata::circuit::{Circuit, EdgeRun, NodeRun};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// The model file that runs the SONATA simulation (or circuit) config `path`: its
/// `run.dt` and `run.tstop`, the circuit, its output folder and spike file. `duration`
/// stands for a missing tstop (`--duration`).
pub fn from_json(path: &Path, duration: Option<&str>) -> Result<String> {
    let config = crate::sonata::config::read(path)?;
    let missing =
        |key: &str| Error::Input { path: path.to_path_buf(), message: format!("{key}: expected a number of ms (SONATA's run section)") };
    let dt = config.dt_ms.ok_or_else(|| missing("run.dt"))?;
    let duration = match (config.tstop_ms, duration) {
        (Some(t), _) => format!("{t} ms"),
        (None, Some(d)) => d.to_string(),
        (None, None) => return Err(missing("run.tstop (or --duration)")),
    };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut text =
        format!("[simulation]\ndt = \"{dt} ms\"\nduration = {duration:?}\n\n[circuit]\nconfig = {:?}\n", absolute.display().to_string());
    let mut output = String::new();
    if let Some(dir) = &config.output_dir {
        output.push_str(&format!("dir = {:?}\n", dir.display().to_string()));
    }
    if let Some(file) = &config.spikes_file {
        output.push_str(&format!("spikes = {file:?}\n"));
    }
    if !output.is_empty() {
        text.push_str(&format!("\n[output]\n{output}"));
    }
    Ok(text)
}

impl Validator<'_> {
    /// The circuit of `[circuit]`, read for steps of `dt_ms`.
    pub(super) fn read_circuit(&self, table: &schema::CircuitTable, dt_ms: f64) -> Result<Circuit> {
        let node_types = self.circuit_nodes(table)? == CircuitNodes::Circuit;
        let file = table.config.get_ref();
        let path = self.beside_model(file);
        // Absolute, so that the paths read from it (a spike input) are too.
        let path = std::path::absolute(&path).unwrap_or(path);
        let config = crate::sonata::config::read(&path)?;
        crate::sonata::circuit::read(config, dt_ms, node_types, self.sharing)
    }

    /// Whose populations the circuit's nodes are: `[circuit] nodes`.
    pub(super) fn circuit_nodes(&self, table: &schema::CircuitTable) -> Result<CircuitNodes> {
        match table.nodes.as_ref().map(|n| n.get_ref().as_str()) {
            None | Some("circuit") => Ok(CircuitNodes::Circuit),
            Some("model") => Ok(CircuitNodes::Model),
            Some(other) => {
                let span = table.nodes.as_ref().expect("given").span();
                Err(self.error(span, "circuit.nodes", format!("expected \"circuit\" (its node populations are populations) or \"model\" (this file's populations of the same names take its edges), got \"{other}\"")))
            }
        }
    }

    /// The population each run of the circuit is: the file's populations named as its
    /// node populations, of their sizes (`nodes = "model"`), or the circuit's own, first.
    pub(super) fn run_populations(
        &self,
        table: &schema::CircuitTable,
        circuit: &Circuit,
        populations: &[Population],
    ) -> Result<Vec<usize>> {
        if self.circuit_nodes(table)? == CircuitNodes::Circuit {
            return Ok((0..circuit.runs.len()).collect());
        }
        circuit
            .runs
            .iter()
            .map(|run| {
                let found = populations.iter().position(|p| p.name == run.node_population);
                match found {
                    Some(k) if populations[k].size == run.nodes.end - run.nodes.start => Ok(k),
                    Some(k) => Err(Error::Input {
                        path: PathBuf::from(&run.origin),
                        message: format!(
                            "node population '{}' has {} nodes, population '{}' of the model file {}",
                            run.node_population,
                            run.nodes.end - run.nodes.start,
                            populations[k].name,
                            populations[k].size
                        ),
                    }),
                    None => Err(Error::Input {
                        path: PathBuf::from(&run.origin),
                        message: format!(
                            "node population '{}' is not a population of the model file (nodes = \"model\")",
                            run.node_population
                        ),
                    }),
                }
            })
            .collect()
    }

    /// Run `run` of the circuit as population `i` from global id `first_gid`: validated as
    /// a model file's population, an error naming the node type and the field.
    pub(super) fn circuit_population(
        &self,
        i: usize,
        run: &NodeRun,
        first_gid: u64,
        earlier: &[Population],
        dt_ms: f64,
    ) -> Result<Population> {
        let at = |value: f64| Spanned::new(0..0, schema::Value::Number(value));
        let table = schema::Population {
            name: Spanned::new(0..0, run.name.clone()),
            size: Spanned::new(0..0, (run.nodes.end - run.nodes.start) as i64),
            model: Spanned::new(0..0, run.model.clone()),
            parameters: run
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), Spanned::new(0..0, schema::ParameterValue::One(schema::Value::Number(*v)))))
                .collect::<BTreeMap<_, _>>(),
            initial: run.initial.iter().map(|(k, v)| (k.clone(), at(*v))).collect::<BTreeMap<_, _>>(),
            noise_std: None,
            bias_current: None,
            channels: Vec::new(),
            integrator: None,
            table: None,
            spikes: run.spikes.as_ref().map(|p| Spanned::new(0..0, p.display().to_string())),
        };
        let (mut population, _) = self.population(i, &table, first_gid, earlier, dt_ms).map_err(|e| match e {
            Error::Model { field, message, .. } => {
                let field = field.split_once('.').map_or(field.clone(), |(_, rest)| rest.to_string());
                Error::Model { file: run.origin.clone(), location: String::new(), field, message }
            }
            other => other,
        })?;
        population.node_population = Some((run.node_population.clone(), first_gid - run.nodes.start));
        Ok(population)
    }

    /// The projection of `edges` (the circuit's populations first, in run order), with id
    /// `id`; its edge source goes to `sources`.
    pub(super) fn circuit_projection(
        &self,
        id: u32,
        edges: &EdgeRun,
        (circuit, runs): (&Circuit, &[usize]),
        populations: &[Population],
        sources: &mut Vec<Arc<EdgeSource>>,
        dt_ms: f64,
    ) -> Result<Projection> {
        let (source, target) = (runs[edges.source_run], runs[edges.target_run]);
        let target_population = &populations[target];
        if target_population.model.declaration().takes_no_input() {
            return Err(Error::Input {
                path: edges.file.clone(),
                message: format!("/edges/{}: {}", edges.population, super::stimulus::no_input(target_population)),
            });
        }
        let weight = WeightSpec::Data { min: edges.weights.0, max: edges.weights.1 };
        let synapse = match (edges.synapse, super::projection::routed_by_sign(target_population, &weight)) {
            (SynapseModel::Delta, Ok(Some(kind))) => kind,
            (_, Err(message)) => {
                return Err(Error::Input {
                    path: edges.file.clone(),
                    message: format!("/edges/{}: the weights {message}", edges.population),
                })
            }
            (synapse, _) => synapse,
        };
        let declaration = target_population.model.declaration();
        let refused =
            |message: String| Error::Input { path: edges.file.clone(), message: format!("/edges/{}: {message}", edges.population) };
        if let Some(shape) = declaration.conductance_synapses.filter(|shape| !shape.takes(synapse)) {
            return Err(refused(format!(
                "population '{}' ({}) takes spikes as conductances: expected edge types of synapse {} (with tau_syn and e_rev), got {}",
                target_population.name,
                declaration.model,
                shape.synapse_name(),
                crate::synapse::describe_kind(synapse)
            )));
        }
        super::projection::nonnegative_conductance(synapse, &weight).map_err(|m| refused(format!("the {m}")))?;
        if synapse != SynapseModel::Delta && declaration.filters_weights && target_population.model.inhibitory_kind() != Some(synapse) {
            return Err(Error::Input {
                path: edges.file.clone(),
                message: format!(
                    "/edges/{}: population '{}' ({}) takes the weights arriving itself (each a jump of its synaptic current, or of v): \
                     expected edges without a synapse model of their own, got {}",
                    edges.population,
                    target_population.name,
                    declaration.model,
                    crate::synapse::describe_kind(synapse)
                ),
            });
        }
        let base = |k: usize, run: usize| populations[k].first_gid - circuit.runs[run].nodes.start;
        sources.push(Arc::new(EdgeSource {
            file: edges.file.clone(),
            population: edges.population.clone(),
            source_nodes: circuit.runs[edges.source_run].nodes.clone(),
            target_nodes: circuit.runs[edges.target_run].nodes.clone(),
            source_base: base(source, edges.source_run),
            target_base: base(target, edges.target_run),
            types: edges.types.clone(),
            per_edge_weight: edges.per_edge_weight,
            per_edge_delay: edges.per_edge_delay,
            indexed: edges.indexed,
            weight_scale: edges.weight_scale,
            dt_ms,
            count: edges.count,
            loaded: Default::default(),
            max_indegree: Default::default(),
            given: false,
        }));
        Ok(Projection {
            id,
            source,
            target,
            rule: ConnectionRule::Explicit { edges: (sources.len() - 1) as u32, count: edges.count },
            weight,
            delay: DelaySpec { min_steps: edges.delay_steps.0, max_steps: edges.delay_steps.1, normal: None, spread: false },
            synapse,
            storage: Storage::Exact,
            plasticity: None,
        })
    }
}
