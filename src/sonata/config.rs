//! SONATA's circuit and simulation configs (JSON): the manifest's `$VAR` / `${VAR}`
//! variables (with `${configdir}`) expanded in every string, a simulation config's
//! `network` followed to its circuit config (the simulation's keys win), paths made
//! relative to the file that names them.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The keys of a circuit (and simulation) config that volley reads.
#[derive(Clone, Debug, Default)]
pub struct SonataConfig {
    /// The config files read, the entry first.
    pub files: Vec<PathBuf>,
    /// `networks.nodes[]`: (nodes_file, node_types_file).
    pub nodes: Vec<(PathBuf, PathBuf)>,
    /// `networks.edges[]`: (edges_file, edge_types_file).
    pub edges: Vec<(PathBuf, PathBuf)>,
    /// `components.point_neuron_models_dir` and `synaptic_models_dir`.
    pub point_neuron_models_dir: Option<PathBuf>,
    pub synaptic_models_dir: Option<PathBuf>,
    /// `run.dt` and `run.tstop` (or `run.duration`), ms.
    pub dt_ms: Option<f64>,
    pub tstop_ms: Option<f64>,
    /// `inputs.*` of input_type "spikes": (node_set, input_file).
    pub spike_inputs: Vec<(String, PathBuf)>,
    /// `output.output_dir` and `output.spikes_file`.
    pub output_dir: Option<PathBuf>,
    pub spikes_file: Option<String>,
}

/// Reads the config `path` (a circuit config, or a simulation config naming its
/// circuit in `network`, or holding `networks` itself).
pub fn read(path: &Path) -> Result<SonataConfig> {
    let mut config = SonataConfig { files: vec![path.to_path_buf()], ..SonataConfig::default() };
    let root = expanded(path)?;
    if let Some(network) = root.get("network") {
        let file = string_path(path, &root, network, "network")?;
        let circuit = expanded(&file)?;
        take(&mut config, &file, &circuit)?;
        config.files.push(file);
    }
    take(&mut config, path, &root)?;
    if config.nodes.is_empty() {
        return Err(input(path, "expected networks.nodes (or a network config that has them): a list of {nodes_file, node_types_file}"));
    }
    Ok(config)
}

fn input(path: &Path, message: impl Into<String>) -> Error {
    Error::Input { path: path.to_path_buf(), message: message.into() }
}

/// What `root` (the config `path`) says, over what `config` has.
fn take(config: &mut SonataConfig, path: &Path, root: &Map<String, Value>) -> Result<()> {
    let object = |key: &str| -> Result<Option<&Map<String, Value>>> {
        match root.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(input(path, format!("{key}: expected an object"))),
        }
    };
    if let Some(networks) = object("networks")? {
        for (key, slot, names) in [
            ("nodes", &mut config.nodes, ["nodes_file", "node_types_file"]),
            ("edges", &mut config.edges, ["edges_file", "edge_types_file"]),
        ] {
            let Some(list) = networks.get(key) else { continue };
            let Value::Array(list) = list else { return Err(input(path, format!("networks.{key}: expected a list"))) };
            slot.clear();
            for (k, entry) in list.iter().enumerate() {
                let Value::Object(entry) = entry else { return Err(input(path, format!("networks.{key}[{k}]: expected an object"))) };
                let file = |name: &str| -> Result<PathBuf> {
                    let v = entry.get(name).ok_or_else(|| input(path, format!("networks.{key}[{k}]: expected {name}")))?;
                    string_path(path, entry, v, &format!("networks.{key}[{k}].{name}"))
                };
                slot.push((file(names[0])?, file(names[1])?));
            }
        }
    }
    if let Some(components) = object("components")? {
        for (key, slot) in
            [("point_neuron_models_dir", &mut config.point_neuron_models_dir), ("synaptic_models_dir", &mut config.synaptic_models_dir)]
        {
            if let Some(v) = components.get(key) {
                *slot = Some(string_path(path, components, v, &format!("components.{key}"))?);
            }
        }
    }
    if let Some(run) = object("run")? {
        let number = |key: &str| -> Result<Option<f64>> {
            match run.get(key) {
                None => Ok(None),
                Some(Value::Number(x)) => Ok(x.as_f64()),
                Some(other) => Err(input(path, format!("run.{key}: expected a number of ms, got {other}"))),
            }
        };
        config.dt_ms = number("dt")?.or(config.dt_ms);
        config.tstop_ms = number("tstop")?.or(number("duration")?).or(config.tstop_ms);
    }
    if let Some(inputs) = object("inputs")? {
        for (name, entry) in inputs {
            let Value::Object(entry) = entry else { return Err(input(path, format!("inputs.{name}: expected an object"))) };
            let kind = entry.get("input_type").and_then(Value::as_str).unwrap_or("spikes");
            if kind != "spikes" {
                return Err(input(
                    path,
                    format!("inputs.{name}.input_type: \"{kind}\" is not supported: only \"spikes\" (spike trains for virtual nodes)"),
                ));
            }
            let node_set = entry
                .get("node_set")
                .and_then(Value::as_str)
                .ok_or_else(|| input(path, format!("inputs.{name}: expected node_set, the name of a virtual node population")))?;
            let file = entry.get("input_file").ok_or_else(|| input(path, format!("inputs.{name}: expected input_file")))?;
            config.spike_inputs.push((node_set.to_string(), string_path(path, entry, file, &format!("inputs.{name}.input_file"))?));
        }
    }
    if let Some(output) = object("output")? {
        if let Some(v) = output.get("output_dir") {
            config.output_dir = Some(string_path(path, output, v, "output.output_dir")?);
        }
        if let Some(v) = output.get("spikes_file") {
            config.spikes_file = Some(v.as_str().ok_or_else(|| input(path, "output.spikes_file: expected a file name"))?.to_string());
        }
    }
    Ok(())
}

/// A string value as a path, relative to the folder of the config `path`.
fn string_path(path: &Path, _: &Map<String, Value>, value: &Value, key: &str) -> Result<PathBuf> {
    let text = value.as_str().ok_or_else(|| input(path, format!("{key}: expected a path, got {value}")))?;
    let p = Path::new(text);
    Ok(if p.is_relative() { path.parent().unwrap_or(Path::new("")).join(p) } else { p.to_path_buf() })
}

/// The config `path` as JSON, with its manifest's variables expanded in every string.
fn expanded(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| input(path, e.to_string()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| input(path, format!("not JSON: {e}")))?;
    let Value::Object(mut root) = value else { return Err(input(path, "expected a JSON object")) };
    let configdir = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }).unwrap_or(Path::new("."));
    let mut vars: Vec<(String, String)> = vec![("configdir".into(), configdir.display().to_string())];
    if let Some(Value::Object(manifest)) = root.remove("manifest") {
        let mut pending: Vec<(String, String)> = Vec::new();
        for (k, v) in manifest {
            let v = v.as_str().ok_or_else(|| input(path, format!("manifest.{k}: expected a string")))?.to_string();
            pending.push((k.trim_start_matches('$').to_string(), v));
        }
        // Entries may name each other: expanded until none is left (a cycle is an error).
        for _ in 0..=pending.len() {
            let (done, rest): (Vec<_>, Vec<_>) =
                pending.into_iter().map(|(k, v)| (k, substitute(&v, &vars))).partition(|(_, v)| !v.contains('$'));
            vars.extend(done);
            pending = rest;
            if pending.is_empty() {
                break;
            }
        }
        if let Some((k, v)) = pending.first() {
            return Err(input(path, format!("manifest.${k}: \"{v}\" names a variable the manifest does not define (or a cycle)")));
        }
    }
    fn walk(v: &mut Value, vars: &[(String, String)]) {
        match v {
            Value::String(s) => *s = substitute(s, vars),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, vars)),
            Value::Object(m) => m.values_mut().for_each(|x| walk(x, vars)),
            _ => {}
        }
    }
    root.values_mut().for_each(|v| walk(v, &vars));
    Ok(root)
}

/// `text` with each `${NAME}` and `$NAME` of `vars` replaced (longest names first, so
/// that `$BASE_DIR` is not taken for `$BASE`).
fn substitute(text: &str, vars: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = vars.iter().collect();
    sorted.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut out = text.to_string();
    for (k, v) in sorted {
        out = out.replace(&format!("${{{k}}}"), v).replace(&format!("${k}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_variables_expand_in_both_forms_and_in_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("circuit_config.json");
        std::fs::write(
            &path,
            r#"{"manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network", "$COMPONENTS": "${BASE_DIR}/components"},
                "components": {"point_neuron_models_dir": "$COMPONENTS/cell_models"},
                "networks": {"nodes": [{"nodes_file": "$NETWORK_DIR/a_nodes.h5", "node_types_file": "${NETWORK_DIR}/a_node_types.csv"}]},
                "run": {"dt": 0.1, "tstop": 100.0}}"#,
        )
        .unwrap();
        let c = read(&path).unwrap();
        let d = dir.path().display();
        assert_eq!(c.nodes, vec![(format!("{d}/network/a_nodes.h5").into(), format!("{d}/network/a_node_types.csv").into())]);
        assert_eq!(c.point_neuron_models_dir, Some(format!("{d}/components/cell_models").into()));
        assert_eq!((c.dt_ms, c.tstop_ms), (Some(0.1), Some(100.0)));
        std::fs::write(&path, r#"{"manifest": {"$A": "$B/x", "$B": "$A/y"}, "networks": {"nodes": []}}"#).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("names a variable the manifest does not define (or a cycle)"));
    }
}
