//! The network a description draws, written as a SONATA circuit (`volley export`): its
//! populations as node populations (one node type each, NEST's template and parameter
//! names where the model is NEST's), every synapse it draws as edges (by target, each
//! target's in the order they are drawn, with `indices/target_to_source`), the type
//! tables, a circuit config; and a model file that runs the same network with its
//! synapses read back from those edges (`[circuit]` with `nodes = "model"`): the same
//! spikes as the model drawn by its rules.
//!
//! Weights are written as the run holds them: 16-bit codes of `compact` projections
//! decoded, so that the edges are exactly the synapses of the run.
//!
//! Under MPI every rank draws and writes its own share, as a run partitions the network:
//! its neurons' nodes and the synapses onto them, at their place in the files (parallel
//! HDF5; edges in target order make each rank's a block after the ranks' before it), so
//! that the files hold the same datasets whatever the number of ranks and no rank holds
//! more than its targets' synapses of one projection at a time. The small files (types, config, model) are rank 0's.

use super::appender::open_file;
use super::edge_columns::{Block, EdgeColumns};
use crate::comm::{agree, Communicator};
use crate::connectivity::generate::{weight_bounds, Row, RowDrawer, WeightCodec};
use crate::error::{Error, Result};
use crate::network::{Description, Projection, Storage, SynapseModel};
use std::ops::Range;
use std::path::Path;

/// What was written: the files, and what the circuit could not say (per-neuron values).
#[derive(Debug, Default)]
pub struct Exported {
    pub files: Vec<String>,
    pub edges: u64,
    pub notes: Vec<String>,
}

/// NEST's name of a volley parameter, where they differ beyond case.
fn nest_name(model: &str, name: &str) -> String {
    match (model, name) {
        ("izhikevich", "v_peak") => "V_th".into(),
        (_, "c_m") => "C_m".into(),
        (_, "e_l") => "E_L".into(),
        (_, "v_th") => "V_th".into(),
        (_, "v_reset") => "V_reset".into(),
        (_, "i_e") => "I_e".into(),
        (_, "v_min") => "V_min".into(),
        _ => name.into(),
    }
}

/// The models whose names are NEST's (a `nest:` template); others are written
/// `volley:<name>`, which volley reads back through `nodes = "model"` only.
const NEST_MODELS: [&str; 4] = ["iaf_psc_exp", "iaf_psc_alpha", "iaf_psc_delta", "izhikevich"];

fn write_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output { path: path.to_path_buf(), message: e.to_string() }
}

/// Writes the circuit of `desc` into `dir`, and `model.toml`, which runs it (collective:
/// every rank calls it; errors are agreed on).
pub fn export(desc: &Description, dir: &Path, comm: &dyn Communicator) -> Result<Exported> {
    if let Some(p) = desc.projections.iter().find(|p| p.plasticity.is_some()) {
        return Err(Error::Option {
            option: "volley export".into(),
            message: format!("projection {} is plastic: plastic synapses are not exported yet (their rule has no SONATA form here)", p.id),
        });
    }
    // Synapses listed in the model file are exported as any drawn ones (`synapses_of`).
    if desc.edges.iter().any(|e| !e.given) {
        return Err(Error::Option {
            option: "volley export".into(),
            message: "the model takes synapses from a SONATA circuit already: export draws a model's rules".into(),
        });
    }
    agree(comm, std::fs::create_dir_all(dir.join("components")).map_err(|e| write_err(dir, e)))?;
    let parts = crate::partition::partition(desc, comm.size());
    let mine = &parts[comm.rank()];
    let mut out = Exported::default();
    write_nodes(desc, dir, (mine, comm), &mut out)?;
    let edge_files = write_edges(desc, dir, (mine, comm), &mut out)?;
    if comm.rank() > 0 {
        return agree(comm, Ok(out));
    }
    let written = write_config(desc, dir, &edge_files, &mut out);
    agree(comm, written.map(|()| out))
}

/// `circuit_config.json` and `model.toml`.
fn write_config(desc: &Description, dir: &Path, edge_files: &[String], out: &mut Exported) -> Result<()> {
    // One edges file per projection, listed in the projections' order: the order the
    // reader makes them projections in (an HDF5 file lists its groups by name).
    let edges: Vec<serde_json::Value> = edge_files
        .iter()
        .map(|f| serde_json::json!({"edges_file": format!("$BASE_DIR/{f}"), "edge_types_file": "$BASE_DIR/edge_types.csv"}))
        .collect();
    let config = serde_json::json!({
        "manifest": {"$BASE_DIR": "${configdir}"},
        "components": {"point_neuron_models_dir": "$BASE_DIR/components"},
        "networks": {
            "nodes": [{"nodes_file": "$BASE_DIR/nodes.h5", "node_types_file": "$BASE_DIR/node_types.csv"}],
            "edges": edges,
        },
        "run": {"dt": desc.dt_ms, "tstop": desc.steps as f64 * desc.dt_ms},
    });
    let path = dir.join("circuit_config.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).expect("JSON")).map_err(|e| write_err(&path, e))?;
    out.files.push("circuit_config.json".into());
    let path = dir.join("model.toml");
    std::fs::write(&path, model_reading_edges(&desc.model_text, Path::new(&desc.model_file))?).map_err(|e| write_err(&path, e))?;
    out.files.push("model.toml".into());
    Ok(())
}

/// The model file's text without its projections, with the circuit's edges in their
/// place (the populations, stimuli and outputs as they were; a spike source's file named
/// by its absolute path, the model file `model` being elsewhere).
fn model_reading_edges(text: &str, model: &Path) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| Error::Runtime(format!("the model text does not parse again: {e}")))?;
    let folder = std::path::absolute(model.parent().unwrap_or(Path::new(""))).unwrap_or_default();
    if let Some(populations) = doc.get_mut("population").and_then(|p| p.as_array_of_tables_mut()) {
        for table in populations.iter_mut() {
            if let Some(spikes) = table.get("spikes").and_then(|s| s.as_str()).filter(|s| Path::new(s).is_relative()) {
                let absolute = folder.join(spikes).display().to_string();
                table.insert("spikes", toml_edit::value(absolute));
            }
        }
    }
    doc.remove("projection");
    doc.remove("circuit");
    let mut circuit = toml_edit::Table::new();
    circuit.insert("config", toml_edit::value("circuit_config.json"));
    circuit.insert("nodes", toml_edit::value("model"));
    doc.insert("circuit", toml_edit::Item::Table(circuit));
    Ok(format!("# Written by `volley export`: the model's synapses read from the circuit beside it.\n{doc}"))
}

/// `nodes.h5` (a node population per population; each rank writes its neurons' rows),
/// `node_types.csv` and a dynamics_params JSON per population of the parameters and
/// initial values it gives as numbers (rank 0's).
fn write_nodes(desc: &Description, dir: &Path, (mine, comm): (&Range<u64>, &dyn Communicator), out: &mut Exported) -> Result<()> {
    let path = dir.join("nodes.h5");
    let file = agree(comm, open_file(&path, comm, true).map_err(|e| write_err(&path, e)))?;
    // Every population's datasets created by every rank (collective), then each rank's
    // rows; the file closed by every rank whatever failed, then the failure agreed on.
    let created: hdf5::Result<Vec<[hdf5::Dataset; 4]>> = desc
        .populations
        .iter()
        .map(|p| {
            let g = file.create_group(&format!("nodes/{}", p.name))?;
            let n = p.size as usize;
            g.create_group("0")?;
            Ok([
                g.new_dataset::<u64>().shape(n).create("node_id")?,
                g.new_dataset::<u64>().shape(n).create("node_type_id")?,
                g.new_dataset::<u64>().shape(n).create("node_group_index")?,
                g.new_dataset::<u32>().shape(n).create("node_group_id")?,
            ])
        })
        .collect();
    let written = created.and_then(|datasets| {
        for (k, (p, [ids, types, index, group])) in desc.populations.iter().zip(datasets).enumerate() {
            let local = crate::network::overlap(&p.gids(), mine);
            if local.is_empty() {
                continue;
            }
            let span = (local.start - p.first_gid) as usize..(local.end - p.first_gid) as usize;
            let node_ids: Vec<u64> = span.clone().map(|i| i as u64).collect();
            ids.write_slice(&node_ids, span.clone())?;
            types.write_slice(&vec![100 + k as u64; node_ids.len()], span.clone())?;
            index.write_slice(&node_ids, span.clone())?;
            group.write_slice(&vec![0u32; node_ids.len()], span)?;
        }
        Ok(())
    });
    let closed = file.close();
    agree(comm, written.and(closed).map_err(|e| write_err(&path, e)))?;
    let mut table = String::from("node_type_id pop_name model_type model_template dynamics_params\n");
    let mut written = Ok(());
    for (k, p) in desc.populations.iter().enumerate() {
        let model = p.model.declaration().model;
        let (model_type, template) = match model {
            "spike_source" => ("virtual", "NULL".to_string()),
            m if NEST_MODELS.contains(&m) => ("point_neuron", format!("nest:{m}")),
            m => ("point_neuron", format!("volley:{m}")),
        };
        let mut params = serde_json::Map::new();
        for (name, value) in &p.given {
            let Ok(x) = value.trim().parse::<f64>() else {
                out.notes.push(format!("population '{}': {name} = {value} is not one number: left out of {}.json", p.name, p.name));
                continue;
            };
            let key = match name.strip_prefix("initial.") {
                Some("v") => "V_m".to_string(),
                Some("u") => "U_m".to_string(),
                Some(other) => other.to_string(),
                None => nest_name(model, name),
            };
            params.insert(key, serde_json::json!(x));
        }
        let json = dir.join("components").join(format!("{}.json", p.name));
        if comm.rank() == 0 && written.is_ok() {
            written = std::fs::write(&json, serde_json::to_string_pretty(&params).expect("JSON")).map_err(|e| write_err(&json, e));
        }
        table.push_str(&format!("{} {} {model_type} {template} {}.json\n", 100 + k, p.name, p.name));
    }
    let csv = dir.join("node_types.csv");
    if comm.rank() == 0 && written.is_ok() {
        written = std::fs::write(&csv, table).map_err(|e| write_err(&csv, e));
    }
    agree(comm, written)?;
    out.files.extend(["nodes.h5".to_string(), "node_types.csv".to_string()]);
    Ok(())
}

/// The synapses of `p` onto the targets `mine` (global ids) as (target, source, weight,
/// delay steps), by target, each target's in drawing order; weights as the run holds them.
/// Rows drawn per source are drawn for every source, their synapses onto `mine` kept.
pub fn synapses_of(desc: &Description, p: &Projection, mine: &Range<u64>) -> Result<Vec<(u64, u64, f32, u32)>> {
    let mut drawer = RowDrawer::new(desc, p);
    let mut row = Row::default();
    let codec = (p.storage == Storage::Compact).then(|| WeightCodec::new(weight_bounds(&p.weight)));
    let held = |w: f32| codec.map_or(w, |c| c.decode(c.encode(w)));
    let per_source = p.rule.per_source();
    let (sources, targets) = (desc.populations[p.source].gids(), desc.populations[p.target].gids());
    let local = crate::network::overlap(&targets, mine);
    let mut out = Vec::new();
    if local.is_empty() {
        return Ok(out);
    }
    for gid in if per_source { sources } else { local.clone() } {
        drawer.draw(gid, &mut row);
        if let Some(bad) = drawer.invalid.take() {
            return Err(Error::Runtime(format!(
                "projection {}: the weight of the synapse from neuron {} onto {} is {}: expected a finite number",
                bad.projection, bad.source, bad.target, bad.value
            )));
        }
        for i in 0..row.len() {
            let (source, target) = if per_source { (gid, row.other[i]) } else { (row.other[i], gid) };
            if local.contains(&target) {
                out.push((target, source, held(row.weight[i]), row.delay[i]));
            }
        }
    }
    // Rows drawn per source: by target, each target's in the order drawn (stable).
    if per_source {
        out.sort_by_key(|s| s.0);
    }
    Ok(out)
}

/// `edges/<name>.h5` for each projection: its edge population (`<source>_to_<target>`,
/// numbered where two join the same populations) with its index by target, each rank
/// writing the block of its targets' synapses; and `edge_types.csv`. Returns the edges
/// files in projection order.
fn write_edges(desc: &Description, dir: &Path, (mine, comm): (&Range<u64>, &dyn Communicator), out: &mut Exported) -> Result<Vec<String>> {
    agree(comm, std::fs::create_dir_all(dir.join("edges")).map_err(|e| write_err(dir, e)))?;
    // volley's synapse columns beside NEST's static_synapse: what reads the kind back.
    let mut table = String::from("edge_type_id model_template synapse tau_syn e_rev\n");
    let mut names: Vec<String> = Vec::new();
    for (j, p) in desc.projections.iter().enumerate() {
        let (source, target) = (&desc.populations[p.source], &desc.populations[p.target]);
        let base = format!("{}_to_{}", source.name, target.name);
        let name = if names.contains(&base) { format!("{base}_{j}") } else { base };
        names.push(name.clone());
        let synapses = agree(comm, synapses_of(desc, p, mine))?;
        let (before, total) = comm.prefix_and_total(&[synapses.len() as u64]);
        out.edges += total[0];
        let path = dir.join("edges").join(format!("{name}.h5"));
        let file = agree(comm, open_file(&path, comm, true).map_err(|e| write_err(&path, e)))?;
        let block = Block {
            first_edge: before[0] as usize,
            sources: &synapses.iter().map(|s| s.1 - source.first_gid).collect::<Vec<u64>>(),
            targets: &synapses.iter().map(|s| s.0 - target.first_gid).collect::<Vec<u64>>(),
            type_id: 100 + j as i64,
            delays_ms: &synapses.iter().map(|s| s.3 as f64 * desc.dt_ms).collect::<Vec<f64>>(),
            weights: &synapses.iter().map(|s| s.2).collect::<Vec<f32>>(),
            local_targets: {
                let local = crate::network::overlap(&target.gids(), mine);
                local.start - target.first_gid..local.end - target.first_gid
            },
        };
        drop(synapses);
        // Every dataset created by every rank (collective), then each rank's block; the
        // file closed by every rank whatever failed, then the failure agreed on.
        let written = file
            .create_group(&format!("edges/{name}"))
            .and_then(|g| EdgeColumns::create(&g, (&source.name, &target.name), total[0] as usize, target.size))
            .and_then(|columns| columns.write(&block));
        let closed = file.close();
        agree(comm, written.and(closed).map_err(|e| write_err(&path, e)))?;
        let kind = match p.synapse {
            SynapseModel::Delta => "delta NULL NULL".to_string(),
            SynapseModel::ExpCurrent { tau_ms } => format!("exp_current {tau_ms} NULL"),
            SynapseModel::AlphaCurrent { tau_ms } => format!("alpha_current {tau_ms} NULL"),
            SynapseModel::ExpConductance { tau_ms, e_rev } => format!("exp_conductance {tau_ms} {e_rev}"),
            SynapseModel::AlphaConductance { tau_ms, e_rev } => format!("alpha_conductance {tau_ms} {e_rev}"),
        };
        table.push_str(&format!("{} static_synapse {kind}\n", 100 + j));
    }
    let csv = dir.join("edge_types.csv");
    agree(comm, if comm.rank() == 0 { std::fs::write(&csv, table).map_err(|e| write_err(&csv, e)) } else { Ok(()) })?;
    let files: Vec<String> = names.iter().map(|n| format!("edges/{n}.h5")).collect();
    out.files.extend(files.iter().cloned());
    out.files.push("edge_types.csv".into());
    Ok(files)
}
