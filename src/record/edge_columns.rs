//! The datasets of a SONATA edge population that do not change once written — ids,
//! type, group, delay, weight, and the index by target — laid out for ranks that write
//! blocks of it: every dataset is created first (collective: under parallel HDF5 every
//! rank must make the same calls in the same order, whatever fails later), then each
//! rank writes its own block. Edges are in target order, so a rank's block is the edges
//! onto its own neurons, after the blocks of the ranks before it. Used by weight files
//! (`weights`) and by `volley export` (`circuit`).

use super::appender::text_attr;
use std::ops::Range;

/// The created datasets.
pub struct EdgeColumns {
    source: hdf5::Dataset,
    target: hdf5::Dataset,
    type_id: hdf5::Dataset,
    group_id: hdf5::Dataset,
    group_index: hdf5::Dataset,
    delay: hdf5::Dataset,
    weight: hdf5::Dataset,
    /// `indices/target_to_source`: `node_id_to_ranges` and `range_to_edge_id`.
    index: (hdf5::Dataset, hdf5::Dataset),
}

/// One rank's block: its edges' population-local ids, their type, delays (ms) and
/// weights, and the target nodes it holds (population-local).
pub struct Block<'a> {
    pub first_edge: usize,
    pub sources: &'a [u64],
    pub targets: &'a [u64],
    pub type_id: i64,
    pub delays_ms: &'a [f64],
    pub weights: &'a [f32],
    pub local_targets: Range<u64>,
}

impl EdgeColumns {
    /// Creates the datasets of `total` edges under `group` (collective): source and
    /// target ids with their node populations `populations`, `edge_type_id`,
    /// `edge_group_id`, `edge_group_index`, group 0's `delay` and `syn_weight`, and the
    /// index by target of a target population of `target_size` nodes.
    pub fn create(group: &hdf5::Group, populations: (&str, &str), total: usize, target_size: u64) -> hdf5::Result<EdgeColumns> {
        let source = group.new_dataset::<u64>().shape(total).create("source_node_id")?;
        text_attr(&source, "node_population", populations.0)?;
        let target = group.new_dataset::<u64>().shape(total).create("target_node_id")?;
        text_attr(&target, "node_population", populations.1)?;
        let type_id = group.new_dataset::<i64>().shape(total).create("edge_type_id")?;
        let group_id = group.new_dataset::<u64>().shape(total).create("edge_group_id")?;
        let group_index = group.new_dataset::<u64>().shape(total).create("edge_group_index")?;
        let attributes = group.create_group("0")?;
        let delay = attributes.new_dataset::<f64>().shape(total).create("delay")?;
        let weight = attributes.new_dataset::<f32>().shape(total).create("syn_weight")?;
        let index = group.create_group("indices")?.create_group("target_to_source")?;
        let n = target_size as usize;
        let index = (
            index.new_dataset::<u64>().shape((n, 2)).create("node_id_to_ranges")?,
            index.new_dataset::<u64>().shape((n, 2)).create("range_to_edge_id")?,
        );
        Ok(EdgeColumns { source, target, type_id, group_id, group_index, delay, weight, index })
    }

    /// The latest weights' dataset (a weight file rewrites it with each snapshot).
    pub fn weights(&self) -> &hdf5::Dataset {
        &self.weight
    }

    /// Writes this rank's block (independent writes; nothing where it is empty).
    pub fn write(&self, b: &Block) -> hdf5::Result<()> {
        let m = b.sources.len();
        if m > 0 {
            let span = b.first_edge..b.first_edge + m;
            self.source.write_slice(b.sources, span.clone())?;
            self.target.write_slice(b.targets, span.clone())?;
            self.type_id.write_slice(&vec![b.type_id; m], span.clone())?;
            self.group_id.write_slice(&vec![0u64; m], span.clone())?;
            self.group_index.write_slice(&span.clone().map(|i| i as u64).collect::<Vec<u64>>(), span.clone())?;
            self.delay.write_slice(b.delays_ms, span.clone())?;
            self.weight.write_slice(b.weights, span)?;
        }
        self.write_index(b)
    }

    /// The rows of `indices/target_to_source` of this rank's target nodes (libsonata's
    /// `afferent_edges` reads them): each target node has one range, its edges [start,
    /// end) — empty for a node without any — and `node_id_to_ranges[i]` = [i, i + 1].
    fn write_index(&self, b: &Block) -> hdf5::Result<()> {
        let local = b.local_targets.clone();
        if local.is_empty() {
            return Ok(());
        }
        let rows = (local.end - local.start) as usize;
        let (mut ranges, mut starts) = (Vec::with_capacity(2 * rows), Vec::with_capacity(2 * rows));
        let mut k = 0;
        for node in local.clone() {
            let start = k;
            while k < b.targets.len() && b.targets[k] == node {
                k += 1;
            }
            ranges.extend([node, node + 1]);
            starts.extend([(b.first_edge + start) as u64, (b.first_edge + k) as u64]);
        }
        let block = |v: Vec<u64>| ndarray::Array2::from_shape_vec((rows, 2), v).map_err(|e| hdf5::Error::from(e.to_string().as_str()));
        let span = local.start as usize..local.end as usize;
        self.index.0.write_slice(&block(ranges)?, (span.clone(), 0..2))?;
        self.index.1.write_slice(&block(starts)?, (span, 0..2))?;
        Ok(())
    }
}
