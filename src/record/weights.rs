//! Snapshots of a plastic projection's weights in the SONATA edges layout, appended by
//! all ranks together through the shared appender.
//!
//! Layout (DESIGN.md §4), under `/edges/<source>_to_<target>`: `source_node_id` and
//! `target_node_id` (u64, population-local, each with its `node_population`),
//! `edge_type_id` (0), `edge_group_id` (0), `edge_group_index` (0 … n − 1), `0/delay`
//! (f64 ms) and `0/syn_weight` (f32: the weights of the latest snapshot, so that
//! libsonata and bmtk read the network as it is now); the snapshots themselves as
//! `snapshots/syn_weight` f32 [times × edges] with `snapshots/time` f64 ms. Edges are
//! in target order (each target's in source, delay and drawing order), an order that
//! does not depend on the partition; each rank writes the block of edges onto its own
//! neurons, which follow one another as the ranks' neurons do.

use super::appender::{text_attr, Appender, Extendable, FileKind, FileRecord};
use super::edge_columns::{Block, EdgeColumns};
use super::writer::Provenance;
use crate::comm::Communicator;
use crate::connectivity::PlasticSynapse;
use crate::error::Result;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What the writer needs to know of the projection.
#[derive(Clone, Debug)]
pub struct WeightsLayout {
    /// The edge population's name, and the node populations' (source, target) names
    /// and first global ids.
    pub name: String,
    pub source: (String, u64),
    pub target: (String, u64),
    /// The target population's size, and the population-local ids of its neurons on this
    /// rank (their rows of the target index).
    pub target_size: u64,
    pub local_targets: Range<u64>,
    pub dt_ms: f64,
}

/// Bytes per edge of a weight file beside its snapshots: source and target ids, type,
/// group and index in group (8 each), delay (f64) and the latest weight (f32).
pub const BYTES_PER_EDGE: u64 = 5 * 8 + 8 + 4;

struct WeightsFile {
    name: String,
    edges: u64,
}

impl FileKind for WeightsFile {
    fn claim(&self, _: &hdf5::File, _: &[u64], _: f64) -> hdf5::Result<()> {
        Ok(())
    }

    fn holds(&self, path: &Path, lengths: &[u64], duration_ms: f64) -> bool {
        let Ok(file) = hdf5::File::open(path) else { return false };
        let rows = lengths.first().copied().unwrap_or(0) as usize;
        let shape = file.dataset(&format!("edges/{}/snapshots/syn_weight", self.name)).map(|d| d.shape());
        let duration = file.attr("duration_ms").and_then(|a| a.read_scalar::<f64>()).ok();
        duration == Some(duration_ms) && shape.is_ok_and(|s| s == [rows, self.edges as usize])
    }

    fn describe(&self, lengths: &[u64]) -> String {
        format!("{} snapshots of {} weights", lengths.first().copied().unwrap_or(0), self.edges)
    }

    fn noun(&self) -> &'static str {
        "weight file"
    }
}

pub struct WeightsWriter {
    /// The latest snapshot's dataset (`0/syn_weight`): declared before the appender, so
    /// dropped before it closes the file (parallel HDF5 closes no file with objects open).
    current: hdf5::Dataset,
    appender: Appender,
    layout: WeightsLayout,
    /// This rank's block of edges.
    mine: Range<usize>,
    rows: u64,
}

impl WeightsWriter {
    /// Creates the file (collective) for the edges `synapses` onto this rank's neurons.
    pub fn create(
        path: &Path,
        layout: WeightsLayout,
        synapses: &[PlasticSynapse],
        provenance: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<WeightsWriter> {
        let (mine, total) = this_ranks_edges(synapses.len(), comm);
        let kind = Box::new(WeightsFile { name: layout.name.clone(), edges: total as u64 });
        let mut current = None;
        let appender = Appender::create(path, kind, comm, provenance, |file| {
            let (datasets, now) = lay_out(file, &layout, total, (&mine, synapses))?;
            current = Some(now);
            Ok(datasets)
        })?;
        let current = current.expect("laid out");
        Ok(WeightsWriter { current, appender, layout, mine, rows: 0 })
    }

    /// Opens the weight file of a checkpointed run to go on from the checkpoint
    /// (collective): snapshots appended after it are cut back (`Appender::reopen`).
    pub fn reopen(
        path: &Path,
        layout: WeightsLayout,
        synapses: &[PlasticSynapse],
        (record, duration_ms): (&FileRecord, f64),
        provenance: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<WeightsWriter> {
        let (mine, total) = this_ranks_edges(synapses.len(), comm);
        let kind = Box::new(WeightsFile { name: layout.name.clone(), edges: total as u64 });
        let find = |file: &hdf5::File| -> hdf5::Result<Vec<Extendable>> {
            let group = file.group(&format!("edges/{}", layout.name))?;
            let weights = group.dataset("snapshots/syn_weight")?;
            if weights.shape().get(1) != Some(&total) {
                return Err(hdf5::Error::from(
                    format!("edges/{}/snapshots/syn_weight does not have {total} columns", layout.name).as_str(),
                ));
            }
            let chunk_rows = weights.chunk().and_then(|c| c.first().copied()).unwrap_or(1) as u64;
            let time = group.dataset("snapshots/time")?;
            group.dataset("0/syn_weight")?;
            Ok(extendables(&layout.name, (weights, chunk_rows), time, total))
        };
        let appender = Appender::reopen(path, kind, comm, (record, duration_ms), provenance, find)?;
        let output_error = |e: hdf5::Error| crate::Error::Output { path: path.to_path_buf(), message: e.to_string() };
        let file = appender.file().expect("a reopened file is open");
        let current = file.dataset(&format!("edges/{}/0/syn_weight", layout.name)).map_err(output_error)?;
        let rows = record.lengths.first().copied().unwrap_or(0);
        Ok(WeightsWriter { current, appender, layout, mine, rows })
    }

    /// What a checkpoint keeps of the file (collective).
    pub fn record(&self, name: &str, comm: &dyn Communicator) -> FileRecord {
        self.appender.record(name, comm)
    }

    /// Appends the weights `synapses` (this rank's, in the order of `create`) as they
    /// are at step `step` (collective).
    pub fn snapshot(&mut self, step: u64, synapses: &[PlasticSynapse], comm: &dyn Communicator) -> Result<()> {
        let rows = self.rows + 1;
        let weights: Vec<f32> = synapses.iter().map(|s| s.weight).collect();
        let (mine, current, row, ms) = (self.mine.clone(), &self.current, self.rows as usize, step as f64 * self.layout.dt_ms);
        let rank0 = comm.rank() == 0;
        self.appender.append(&[rows, rows], ms, comm, |datasets, digests| {
            if !mine.is_empty() {
                let block =
                    ndarray::ArrayView2::from_shape((1, mine.len()), &weights).map_err(|e| hdf5::Error::from(e.to_string().as_str()))?;
                datasets[0].dataset.write_slice(block, (row..row + 1, mine.clone()))?;
                current.write_slice(&weights, mine.clone())?;
                let width = datasets[0].dataset.shape().get(1).copied().unwrap_or(0) as u64;
                digests[0] = digests[0].wrapping_add(crate::digest::sum_terms(row as u64 * width + mine.start as u64, &weights));
            }
            if rank0 {
                datasets[1].dataset.write_slice(&[ms][..], row..row + 1)?;
                digests[1] = digests[1].wrapping_add(crate::digest::sum_terms(row as u64, &[ms]));
            }
            Ok(())
        })?;
        self.rows = rows;
        Ok(())
    }

    /// Records how the run ended and closes the file (collective).
    pub fn finish(self, status: &str, comm: &dyn Communicator) -> Result<PathBuf> {
        let WeightsWriter { current, appender, .. } = self;
        drop(current);
        appender.finish(status, comm)
    }
}

/// This rank's block of the `n` edges onto its neurons among all ranks' (collective), and
/// the number of edges in all.
fn this_ranks_edges(n: usize, comm: &dyn Communicator) -> (Range<usize>, usize) {
    let counts = comm.all_gather_f64(&[n as f64]);
    let before: usize = counts[..comm.rank()].iter().map(|&c| c as usize).sum();
    (before..before + n, counts.iter().map(|&c| c as usize).sum())
}

/// The edge population's datasets (collective), this rank's block of the static ones
/// written; returns the snapshots' extendable datasets and the current weights'.
fn lay_out(
    file: &hdf5::File,
    layout: &WeightsLayout,
    total: usize,
    (mine, synapses): (&Range<usize>, &[PlasticSynapse]),
) -> hdf5::Result<(Vec<Extendable>, hdf5::Dataset)> {
    let group = file.create_group("edges")?.create_group(&layout.name)?;
    let columns = EdgeColumns::create(&group, (&layout.source.0, &layout.target.0), total, layout.target_size)?;
    let snapshots = group.create_group("snapshots")?;
    let chunk_rows = (super::report::CHUNK_BYTES / (4 * total.max(1) as u64)).clamp(1, 64);
    let weights = snapshots
        .new_dataset::<f32>()
        .chunk((chunk_rows as usize, total.max(1)))
        .alloc_time(super::writer::EARLY)
        .shape((0.., total))
        .create("syn_weight")?;
    let time = snapshots.new_dataset::<f64>().chunk(64).alloc_time(super::writer::EARLY).shape(0..).create("time")?;
    text_attr(&time, "units", "ms")?;
    // Every dataset created (collective); now this rank's block.
    let ids = |first: u64, of: fn(&PlasticSynapse) -> u64| synapses.iter().map(|s| of(s) - first).collect::<Vec<u64>>();
    columns.write(&Block {
        first_edge: mine.start,
        sources: &ids(layout.source.1, |s| s.source),
        targets: &ids(layout.target.1, |s| s.target),
        type_id: 0,
        delays_ms: &synapses.iter().map(|s| s.delay as f64 * layout.dt_ms).collect::<Vec<f64>>(),
        weights: &synapses.iter().map(|s| s.weight).collect::<Vec<f32>>(),
        local_targets: layout.local_targets.clone(),
    })?;
    Ok((extendables(&layout.name, (weights, chunk_rows), time, total), columns.weights().clone()))
}

/// The datasets the snapshots are appended to: the weights (rows of `total`) and times.
fn extendables(name: &str, (weights, chunk_rows): (hdf5::Dataset, u64), time: hdf5::Dataset, total: usize) -> Vec<Extendable> {
    vec![
        Extendable { dataset: weights, name: format!("edges/{name}/snapshots/syn_weight"), chunk_rows, row_bytes: 4 * total as u64 },
        Extendable { dataset: time, name: format!("edges/{name}/snapshots/time"), chunk_rows: 64, row_bytes: 8 },
    ]
}

/// The snapshots of a weight file's edge population, for plotting.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightSnapshots {
    pub population: String,
    pub times_ms: Vec<f64>,
    /// One row of every edge's weight per snapshot.
    pub weights: Vec<Vec<f32>>,
}

/// Reads the snapshots of the first edge population of the weight file at `path`.
pub fn read_snapshots(path: &Path) -> Result<WeightSnapshots> {
    let fail = |m: String| crate::error::Error::Input { path: path.to_path_buf(), message: m };
    let file =
        hdf5::File::open(path).map_err(|e| fail(format!("not a readable HDF5 file ({})", super::appender::cause(&e.to_string()))))?;
    let expected = "expected a weight file of [[output.weights]] (/edges/<population>/snapshots/syn_weight and time)";
    let edges = file.group("edges").map_err(|_| fail(format!("has no /edges group: {expected}")))?;
    let names = edges.member_names().map_err(|e| fail(e.to_string()))?;
    let Some(population) = names.into_iter().find(|n| edges.dataset(&format!("{n}/snapshots/syn_weight")).is_ok()) else {
        return Err(fail(format!("has no weight snapshots: {expected}")));
    };
    let read = || -> hdf5::Result<(Vec<f64>, ndarray::Array2<f32>)> {
        let times = edges.dataset(&format!("{population}/snapshots/time"))?.read_raw::<f64>()?;
        let weights = edges.dataset(&format!("{population}/snapshots/syn_weight"))?.read_2d::<f32>()?;
        Ok((times, weights))
    };
    let (times_ms, weights) = read().map_err(|e| fail(format!("{population}: {}", super::appender::cause(&e.to_string()))))?;
    if weights.nrows() != times_ms.len() {
        return Err(fail(format!("{population}: {} snapshot times for {} rows of weights", times_ms.len(), weights.nrows())));
    }
    let weights = weights.outer_iter().map(|row| row.to_vec()).collect();
    Ok(WeightSnapshots { population, times_ms, weights })
}
