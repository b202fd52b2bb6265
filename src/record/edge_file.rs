//! A SONATA edges file of one edge population written from lists of synapses (Python's
//! `volley.write_edges`; pyNN.volley's listed projections): what a projection of
//! `connection = { rule = "list", file = ... }` reads, without its synapses passing
//! through the model file's text. The edges are written by target, each target's in
//! the order given (the order it sums them in, as a list in the model file), with
//! `indices/target_to_source`, so that libsonata and NEST's reader take the file too.

use super::atomic::write_atomically;
use super::edge_columns::{Block, EdgeColumns};
use crate::error::{Error, Result};
use std::path::Path;

/// The synapses of one edge population: population-local ids, a weight and a delay
/// (ms) each.
pub struct EdgeList<'a> {
    /// The node populations joined (the model's population names) and the number of
    /// target nodes (the index has a row for each).
    pub source_population: &'a str,
    pub target_population: &'a str,
    pub target_size: u64,
    pub sources: &'a [u64],
    pub targets: &'a [u64],
    pub weights: &'a [f32],
    pub delays_ms: &'a [f64],
}

/// Writes `list` to `path` as the edge population `/edges/<name>` (whole or not at all).
pub fn write(path: &Path, name: &str, list: &EdgeList) -> Result<()> {
    let bad = |message: String| Error::Output { path: path.to_path_buf(), message };
    let n = list.sources.len();
    for (what, len) in [("targets", list.targets.len()), ("weights", list.weights.len()), ("delays", list.delays_ms.len())] {
        if len != n {
            return Err(bad(format!("{len} {what} for {n} sources: expected one each")));
        }
    }
    if let Some(k) = list.targets.iter().position(|&t| t >= list.target_size) {
        return Err(bad(format!(
            "target {k} is {}: expected an id below the target population's size, {}",
            list.targets[k], list.target_size
        )));
    }
    if let Some(k) = list.weights.iter().position(|w| !w.is_finite()) {
        return Err(bad(format!("weight {k} is {}: expected a finite number", list.weights[k])));
    }
    if let Some(k) = list.delays_ms.iter().position(|d| !(d.is_finite() && *d > 0.0)) {
        return Err(bad(format!("delay {k} is {} ms: expected a finite time > 0", list.delays_ms[k])));
    }
    if name.is_empty() || name.contains('/') {
        return Err(bad(format!("edge population name {name:?}: expected a name without '/'")));
    }
    // By target, each target's synapses in the order given (a stable sort).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&k| list.targets[k]);
    let pick = |v: &[u64]| order.iter().map(|&k| v[k]).collect::<Vec<u64>>();
    let block = Block {
        first_edge: 0,
        sources: &pick(list.sources),
        targets: &pick(list.targets),
        type_id: 100,
        delays_ms: &order.iter().map(|&k| list.delays_ms[k]).collect::<Vec<f64>>(),
        weights: &order.iter().map(|&k| list.weights[k]).collect::<Vec<f32>>(),
        local_targets: 0..list.target_size,
    };
    write_atomically(path, |partial| {
        let written = (|| -> hdf5::Result<()> {
            let file = hdf5::File::create(partial)?;
            let group = file.create_group(&format!("edges/{name}"))?;
            EdgeColumns::create(&group, (list.source_population, list.target_population), n, list.target_size)?.write(&block)
        })();
        written.map_err(|e| bad(e.to_string()))
    })
}
