//! SONATA edge populations (`/edges/<population>` of an edges file): scanned once when
//! the description is made (counts, ids and delays checked, in chunks: nothing of the
//! whole population is held), and read onto a range of targets by the process that owns
//! them (`load_rows`) — through the file's `indices/target_to_source` where it has one
//! (hyperslabs of the target's edges only), else by a scan of `target_node_id` in chunks.
//!
//! Each edge's weight and delay: group 0's `syn_weight` and `delay` where it has them,
//! else its edge type's (the edge types' `syn_weight` and `delay` columns, or its
//! dynamics_params' `weight` and `delay`, which win), else NEST's defaults (1, 1 ms) —
//! NEST's order. `nsyns` is ignored, as NEST ignores it.

use crate::error::{Error, Result};
use crate::network::{EdgeSource, TargetRows};
use std::ops::Range;
use std::path::Path;

/// NEST's static_synapse defaults, where neither the edge nor its type gives a value.
pub const DEFAULT_WEIGHT: f64 = 1.0;
pub const DEFAULT_DELAY_MS: f64 = 1.0;

/// The datasets of an edge population.
pub struct EdgeDatasets {
    pub sources: hdf5::Dataset,
    pub targets: hdf5::Dataset,
    pub types: hdf5::Dataset,
    pub weights: Option<hdf5::Dataset>,
    pub delays: Option<hdf5::Dataset>,
    /// `indices/target_to_source`: `node_id_to_ranges` and `range_to_edge_id`.
    pub by_target: Option<(hdf5::Dataset, hdf5::Dataset)>,
    pub count: usize,
    /// The node populations of the sources and the targets.
    pub source_population: String,
    pub target_population: String,
}

/// Opens `/edges/<population>` of `path` and checks what NEST checks: the three id
/// datasets of one length, their `node_population` attributes, one edge group (`0`), its
/// `syn_weight` and `delay` (where present) of the same length.
pub fn open(path: &Path, population: &str) -> Result<EdgeDatasets> {
    let bad = |message: String| Error::Input { path: path.to_path_buf(), message };
    let file = hdf5::File::open(path).map_err(|e| bad(format!("not an HDF5 file of SONATA edges ({e})")))?;
    let at = format!("/edges/{population}");
    let g = file.group(&at).map_err(|_| bad(format!("expected a group {at}")))?;
    let dataset = |name: &str| g.dataset(name).map_err(|_| bad(format!("{at}: expected a dataset {name}")));
    let (sources, targets, types) = (dataset("source_node_id")?, dataset("target_node_id")?, dataset("edge_type_id")?);
    let count = targets.size();
    for (name, d) in [("source_node_id", &sources), ("edge_type_id", &types)] {
        if d.size() != count {
            return Err(bad(format!("{at}/{name}: {} entries where target_node_id has {count}", d.size())));
        }
    }
    let node_population = |d: &hdf5::Dataset, name: &str| -> Result<String> {
        let attr = d.attr("node_population").map_err(|_| bad(format!("{at}/{name}: expected an attribute node_population")))?;
        read_string(&attr).ok_or_else(|| bad(format!("{at}/{name}: expected the attribute node_population to be a string")))
    };
    let (source_population, target_population) =
        (node_population(&sources, "source_node_id")?, node_population(&targets, "target_node_id")?);
    let members = g.member_names().map_err(|e| bad(e.to_string()))?;
    let groups: Vec<&String> = members.iter().filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit())).collect();
    if groups.len() > 1 {
        let names: Vec<&str> = groups.iter().map(|s| s.as_str()).collect();
        return Err(bad(format!(
            "{at}: {} edge groups ({}): only one edge group (0) is supported, as in NEST; write the edges with one set of per-edge properties",
            groups.len(),
            names.join(", ")
        )));
    }
    let (mut weights, mut delays) = (None, None);
    if let Some(name) = groups.first() {
        let group = g.group(name).map_err(|e| bad(e.to_string()))?;
        for (column, slot) in [("syn_weight", &mut weights), ("delay", &mut delays)] {
            if let Ok(d) = group.dataset(column) {
                if d.size() != count {
                    return Err(bad(format!("{at}/{name}/{column}: {} entries where target_node_id has {count}", d.size())));
                }
                *slot = Some(d);
            }
        }
    }
    let by_target = g
        .group("indices/target_to_source")
        .ok()
        .and_then(|i| Some((i.dataset("node_id_to_ranges").ok()?, i.dataset("range_to_edge_id").ok()?)));
    Ok(EdgeDatasets { sources, targets, types, weights, delays, by_target, count, source_population, target_population })
}

/// A string attribute, fixed or variable length.
pub fn read_string(attr: &hdf5::Attribute) -> Option<String> {
    use hdf5::types::{VarLenAscii, VarLenUnicode};
    attr.read_scalar::<VarLenUnicode>()
        .map(|s| s.as_str().to_string())
        .or_else(|_| attr.read_scalar::<VarLenAscii>().map(|s| s.as_str().to_string()))
        .ok()
        .or_else(|| attr.read_raw::<u8>().ok().map(|b| String::from_utf8_lossy(&b).trim_end_matches('\0').to_string()))
}

/// One chunk of edges: ids, type ids, and group 0's values where it has them.
pub struct Chunk {
    pub first: usize,
    pub sources: Vec<u64>,
    pub targets: Vec<u64>,
    pub types: Vec<i64>,
    pub weights: Option<Vec<f64>>,
    pub delays: Option<Vec<f64>>,
}

impl EdgeDatasets {
    /// Edges `range` (edge ids).
    pub fn chunk(&self, range: Range<usize>, path: &Path, population: &str) -> Result<Chunk> {
        let bad = |name: &str| Error::Input { path: path.to_path_buf(), message: format!("/edges/{population}/{name}: expected numbers") };
        let ints = |d: &hdf5::Dataset, name: &str| d.read_slice_1d::<u64, _>(range.clone()).map(|a| a.to_vec()).map_err(|_| bad(name));
        let floats = |d: &Option<hdf5::Dataset>, name: &str| {
            d.as_ref().map(|d| d.read_slice_1d::<f64, _>(range.clone()).map(|a| a.to_vec()).map_err(|_| bad(name))).transpose()
        };
        Ok(Chunk {
            first: range.start,
            sources: ints(&self.sources, "source_node_id")?,
            targets: ints(&self.targets, "target_node_id")?,
            types: self.types.read_slice_1d::<i64, _>(range.clone()).map(|a| a.to_vec()).map_err(|_| bad("edge_type_id"))?,
            weights: floats(&self.weights, "0/syn_weight")?,
            delays: floats(&self.delays, "0/delay")?,
        })
    }

    /// Calls `visit` with every chunk of edges in order.
    pub fn scan(&self, path: &Path, population: &str, mut visit: impl FnMut(&Chunk) -> Result<()>) -> Result<()> {
        let per_read = super::entries_per_read();
        for first in (0..self.count).step_by(per_read) {
            visit(&self.chunk(first..(first + per_read).min(self.count), path, population)?)?;
        }
        Ok(())
    }

    /// The edge ids onto target nodes `nodes`, as ranges, from `indices/target_to_source`.
    fn ranges_onto(&self, nodes: Range<u64>) -> Option<Vec<Range<usize>>> {
        let (node_ranges, range_edges) = self.by_target.as_ref()?;
        if nodes.is_empty() {
            return Some(Vec::new());
        }
        let rows: ndarray::Array2<u64> = node_ranges.read_slice_2d((nodes.start as usize..nodes.end as usize, ..)).ok()?;
        let (lo, hi) = rows.rows().into_iter().filter(|r| r[1] > r[0]).fold((u64::MAX, 0), |(lo, hi), r| (lo.min(r[0]), hi.max(r[1])));
        if lo >= hi {
            return Some(Vec::new());
        }
        let edges: ndarray::Array2<u64> = range_edges.read_slice_2d((lo as usize..hi as usize, ..)).ok()?;
        Some(edges.rows().into_iter().map(|r| r[0] as usize..r[1] as usize).collect())
    }
}

/// An edge's weight and delay (ms), by NEST's precedence.
pub fn values(source: &EdgeSource, chunk: &Chunk, k: usize) -> (f64, f64) {
    let of_type = source.type_of(chunk.types[k]);
    let weight = chunk.weights.as_ref().map(|w| w[k]).or(of_type.and_then(|t| t.weight)).unwrap_or(DEFAULT_WEIGHT);
    let delay = chunk.delays.as_ref().map(|d| d[k]).or(of_type.and_then(|t| t.delay_ms)).unwrap_or(DEFAULT_DELAY_MS);
    (weight, delay)
}

/// A delay in ms as whole steps (NEST's rounding to the nearest step).
pub fn delay_steps(delay_ms: f64, dt_ms: f64) -> f64 {
    (delay_ms / dt_ms).round()
}

/// Edge `k` of `chunk` as a synapse of `source` (global target and source ids, weight
/// scaled, delay in steps); None where it joins nodes of other runs than `source`'s.
pub fn synapse_of(source: &EdgeSource, chunk: &Chunk, k: usize) -> Option<(u32, u32, f32, u32)> {
    let (t, s) = (chunk.targets[k], chunk.sources[k]);
    if !(source.target_nodes.contains(&t) && source.source_nodes.contains(&s)) {
        return None;
    }
    let (w, d) = values(source, chunk, k);
    let w = w * source.weight_scale;
    Some(((source.target_base + t) as u32, (source.source_base + s) as u32, w as f32, delay_steps(d, source.dt_ms) as u32))
}

/// Reads the synapses of `source` onto the targets `targets` (global ids), by target,
/// each target's in file order. The file was checked when the description was made;
/// what fails here (a file changed since) is an input error.
pub fn load_rows(source: &EdgeSource, targets: Range<u64>) -> Result<TargetRows> {
    let path = &source.file;
    let data = open(path, &source.population)?;
    let nodes = source.target_nodes.start.max(targets.start.saturating_sub(source.target_base))
        ..source.target_nodes.end.min(targets.end.saturating_sub(source.target_base));
    // (target, source, weight, delay steps) of each synapse here, in edge id order
    // (chunks and index ranges are read in ascending order of edge ids).
    let mut found: Vec<(u32, u32, f32, u32)> = Vec::new();
    let mut last_edge = None;
    let mut ascending = true;
    let mut take = |chunk: &Chunk, k: usize| {
        if !nodes.contains(&chunk.targets[k]) {
            return;
        }
        if let Some(synapse) = synapse_of(source, chunk, k) {
            let edge = chunk.first + k;
            ascending &= last_edge.is_none_or(|e| e < edge);
            last_edge = Some(edge);
            found.push(synapse);
        }
    };
    match data.ranges_onto(nodes.clone()) {
        Some(mut ranges) => {
            // Adjacent ranges read as one (a file sorted by target: one read per chunk
            // of the process's edges, not one per target).
            ranges.sort_by_key(|r| r.start);
            let mut merged: Vec<Range<usize>> = Vec::new();
            for r in ranges.into_iter().filter(|r| !r.is_empty()) {
                match merged.last_mut() {
                    Some(last) if r.start == last.end => last.end = r.end,
                    _ => merged.push(r),
                }
            }
            for r in merged {
                let per_read = super::entries_per_read();
                for first in (r.start..r.end).step_by(per_read) {
                    let chunk = data.chunk(first..(first + per_read).min(r.end), path, &source.population)?;
                    (0..chunk.targets.len()).for_each(|k| take(&chunk, k));
                }
            }
        }
        None => data.scan(path, &source.population, |chunk| {
            (0..chunk.targets.len()).for_each(|k| take(chunk, k));
            Ok(())
        })?,
    }
    if !ascending {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: format!("/edges/{}/indices/target_to_source: ranges of edges overlap", source.population),
        });
    }
    // Placed by target (counted, then filled in edge order): each row in file order.
    Ok(TargetRows::from_found(targets, &found))
}

/// Reads, for each data projection of `desc` onto the targets `targets`, the rows of
/// the targets it has there, once, and keeps them for the stores built from them.
pub fn load_for(desc: &crate::network::Description, targets: &Range<u64>) -> Result<()> {
    for p in &desc.projections {
        let crate::network::ConnectionRule::Explicit { edges, .. } = p.rule else { continue };
        let pop = desc.populations[p.target].gids();
        let local = crate::network::overlap(&pop, targets);
        let source = &desc.edges[edges as usize];
        if local.is_empty() || source.given || source.rows_covering(&local).is_some() {
            continue;
        }
        let rows = load_rows(source, local.clone())?;
        if local == pop {
            source.learn_max_indegree(rows.max_row());
        }
        source.keep(std::sync::Arc::new(rows));
    }
    Ok(())
}

/// Lets go of every data projection's rows read (`load_for`), once the stores are built.
pub fn forget(desc: &crate::network::Description) {
    desc.edges.iter().for_each(|e| e.forget());
}
