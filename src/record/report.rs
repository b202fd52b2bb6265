//! A SONATA report: one state variable of chosen neurons sampled at regular steps,
//! appended by all ranks together at each flush through the shared appender.
//!
//! Layout (DESIGN.md §4), per population: `/report/<population>/data` f32 [times ×
//! neurons] with `units`; `mapping/node_ids` (population-local, ascending),
//! `mapping/index_pointers` (n + 1 entries: one value per neuron), `mapping/element_ids`
//! (0: a point neuron), `mapping/time` = [start, stop, step] in ms, whose stop moves with
//! each append so that the file always describes the rows it holds. Each rank writes the
//! columns of the neurons it integrates: as ranks hold ascending id ranges, those are one
//! contiguous block of columns.

use super::appender::{text_attr, Appender, Extendable, FileKind, FileRecord};
use super::writer::Provenance;
use crate::comm::Communicator;
use crate::error::{Error, Result};
use crate::network::Schedule;
use hdf5::types::VarLenUnicode;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Bytes per chunk of a report's data (rows of all its neurons).
pub const CHUNK_BYTES: u64 = 1 << 20;

/// What a report samples, as the writer needs it.
#[derive(Clone, Debug)]
pub struct ReportLayout {
    pub variable: String,
    pub unit: String,
    /// Per population: its name and the population-local ids of the sampled neurons.
    pub populations: Vec<(String, Vec<u64>)>,
    pub dt_ms: f64,
    pub schedule: Schedule,
}

impl ReportLayout {
    fn start_ms(&self) -> f64 {
        self.schedule.start_step as f64 * self.dt_ms
    }

    fn interval_ms(&self) -> f64 {
        self.schedule.interval_steps as f64 * self.dt_ms
    }
}

/// The report file as the appender sees it: one data dataset per population, all with
/// the same rows.
struct ReportFile {
    layout: ReportLayout,
}

impl FileKind for ReportFile {
    fn claim(&self, file: &hdf5::File, lengths: &[u64], _: f64) -> hdf5::Result<()> {
        let rows = lengths.first().copied().unwrap_or(0);
        let stop = self.layout.start_ms() + rows as f64 * self.layout.interval_ms();
        for (name, _) in &self.layout.populations {
            file.dataset(&format!("report/{name}/mapping/time"))?.write_slice(&[stop][..], 1..2)?;
        }
        Ok(())
    }

    fn holds(&self, path: &Path, lengths: &[u64], duration_ms: f64) -> bool {
        let Ok(file) = hdf5::File::open(path) else { return false };
        let duration = file.attr("duration_ms").and_then(|a| a.read_scalar::<f64>()).ok();
        let rows = lengths.first().copied().unwrap_or(0);
        let stop = self.layout.start_ms() + rows as f64 * self.layout.interval_ms();
        duration == Some(duration_ms)
            && self.layout.populations.iter().all(|(name, ids)| {
                let data = file.dataset(&format!("report/{name}/data")).map(|d| d.shape());
                let time = file.dataset(&format!("report/{name}/mapping/time")).and_then(|d| d.read_raw::<f64>());
                data.is_ok_and(|s| s == [rows as usize, ids.len()]) && time.is_ok_and(|t| t.get(1) == Some(&stop))
            })
    }

    fn describe(&self, lengths: &[u64]) -> String {
        let rows = lengths.first().copied().unwrap_or(0);
        format!("{rows} samples of {}", self.layout.variable)
    }

    fn noun(&self) -> &'static str {
        "report"
    }
}

/// One population of a report as this rank writes it.
struct Columns {
    /// This rank's block of columns, and all columns.
    mine: Range<usize>,
    /// Rows not yet appended, `mine.len()` values each.
    buffer: Vec<f32>,
}

pub struct ReportWriter {
    appender: Appender,
    layout: ReportLayout,
    columns: Vec<Columns>,
    /// Rows in the file.
    rows: u64,
    /// Per population, the backend's probe that samples this rank's columns, and a
    /// scratch buffer for what it hands over.
    probes: Vec<usize>,
    scratch: Vec<f32>,
}

impl ReportWriter {
    /// Creates the report file for `path` (collective), for a rank whose neurons are, in
    /// each population, those population-local ids in `local[p]`.
    pub fn create(
        path: &Path,
        layout: ReportLayout,
        local: &[Range<u64>],
        provenance: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<ReportWriter> {
        let columns = columns(&layout, local);
        let kind = Box::new(ReportFile { layout: layout.clone() });
        let rank = comm.rank();
        let appender = Appender::create(path, kind, comm, provenance, |file| lay_out(file, &layout, rank == 0))?;
        Ok(ReportWriter { appender, layout, columns, rows: 0, probes: Vec::new(), scratch: Vec::new() })
    }

    /// Turns off the comparison of each append with the free space.
    /// Opens the report of a checkpointed run to go on from the checkpoint (collective):
    /// it holds `rows` samples then; samples beyond are cut back.
    pub fn reopen(
        path: &Path,
        layout: ReportLayout,
        local: &[Range<u64>],
        (record, duration_ms): (&FileRecord, f64),
        piece: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<ReportWriter> {
        let columns = columns(&layout, local);
        let find = |file: &hdf5::File| -> hdf5::Result<Vec<Extendable>> {
            layout
                .populations
                .iter()
                .map(|(name, ids)| {
                    let name = format!("report/{name}/data");
                    let dataset = file.dataset(&name)?;
                    if dataset.shape().get(1) != Some(&ids.len()) {
                        return Err(hdf5::Error::from(format!("{name} does not have {} columns", ids.len()).as_str()));
                    }
                    let chunk_rows = dataset.chunk().and_then(|c| c.first().copied()).unwrap_or(1) as u64;
                    Ok(Extendable { dataset, name, chunk_rows, row_bytes: 4 * ids.len() as u64 })
                })
                .collect()
        };
        let kind = Box::new(ReportFile { layout: layout.clone() });
        let appender = Appender::reopen(path, kind, comm, (record, duration_ms), piece, find)?;
        let rows = record.lengths.first().copied().unwrap_or(0);
        Ok(ReportWriter { appender, layout, columns, rows, probes: Vec::new(), scratch: Vec::new() })
    }

    /// Rows the file holds.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The backend's probe of each population (`Output::flush` takes their samples).
    pub fn with_probes(mut self, probes: Vec<usize>) -> Self {
        self.probes = probes;
        self
    }

    pub fn without_foresight(mut self) -> Self {
        self.appender = self.appender.without_foresight();
        self
    }

    /// Takes population `p`'s samples: whole rows of this rank's columns.
    pub fn record(&mut self, p: usize, samples: &[f32]) {
        self.columns[p].buffer.extend_from_slice(samples);
    }

    /// Appends buffered rows (collective), so that the file holds `rows` rows and claims
    /// `duration_ms`; every rank must have buffered at least the rows missing.
    pub fn flush(&mut self, rows: u64, duration_ms: f64, comm: &dyn Communicator) -> Result<()> {
        let new = rows - self.rows;
        for (c, (name, _)) in self.columns.iter().zip(&self.layout.populations) {
            if (c.buffer.len() as u64) < new * c.mine.len() as u64 {
                return Err(Error::Runtime(format!(
                    "report {}: population {name}: {} values buffered for {new} rows of {} neurons",
                    self.appender.path().display(),
                    c.buffer.len(),
                    c.mine.len()
                )));
            }
        }
        let lengths = vec![rows; self.columns.len()];
        let (columns, old) = (&self.columns, self.rows);
        self.appender.append(&lengths, duration_ms, comm, |datasets, digests| {
            for ((c, d), digest) in columns.iter().zip(datasets).zip(digests.iter_mut()) {
                if c.mine.is_empty() || new == 0 {
                    continue;
                }
                let values = &c.buffer[..new as usize * c.mine.len()];
                let block = ndarray::ArrayView2::from_shape((new as usize, c.mine.len()), values)
                    .map_err(|e| hdf5::Error::from(e.to_string().as_str()))?;
                d.dataset.write_slice(block, (old as usize..rows as usize, c.mine.clone()))?;
                // Positions row-major over all the report's columns of the population.
                let width = d.dataset.shape().get(1).copied().unwrap_or(0) as u64;
                for (r, row) in values.chunks(c.mine.len()).enumerate() {
                    *digest = digest.wrapping_add(crate::digest::sum_terms((old + r as u64) * width + c.mine.start as u64, row));
                }
            }
            Ok(())
        })?;
        // Rows sampled beyond `rows` (a run stopped inside an epoch) stay buffered.
        for c in &mut self.columns {
            c.buffer.drain(..new as usize * c.mine.len());
        }
        self.rows = rows;
        Ok(())
    }

    /// Records how the run ended and closes the file (collective).
    pub fn finish(self, status: &str, comm: &dyn Communicator) -> Result<PathBuf> {
        self.appender.finish(status, comm)
    }
}

impl super::Recorder for ReportWriter {
    fn record_spikes(&mut self, _: &[crate::spike::Spike]) -> Result<()> {
        Ok(())
    }
}

impl super::Output for ReportWriter {
    /// Takes the samples its probes took so far and appends the rows before `step`.
    fn flush(&mut self, step: u64, samples: &mut dyn FnMut(usize, &mut Vec<f32>), comm: &dyn Communicator) -> Result<()> {
        for p in 0..self.probes.len() {
            let mut buffer = std::mem::take(&mut self.scratch);
            buffer.clear();
            samples(self.probes[p], &mut buffer);
            self.record(p, &buffer);
            self.scratch = buffer;
        }
        let rows = self.layout.schedule.samples_before(step);
        ReportWriter::flush(self, rows, step as f64 * self.layout.dt_ms, comm)
    }

    fn file_record(&self, name: &str, comm: &dyn Communicator) -> Option<FileRecord> {
        Some(self.appender.record(name, comm))
    }

    fn finish(self: Box<Self>, status: &str, comm: &dyn Communicator) -> Result<Option<PathBuf>> {
        ReportWriter::finish(*self, status, comm).map(Some)
    }
}

/// The report's groups, mapping and empty data datasets (collective); the mapping's
/// values are written by one rank (`writer`).
/// The block of each population's columns this rank writes: its neurons' among the
/// report's (`local`: this rank's population-local id range of each).
fn columns(layout: &ReportLayout, local: &[Range<u64>]) -> Vec<Columns> {
    layout
        .populations
        .iter()
        .zip(local)
        .map(|((_, ids), range)| {
            let first = ids.partition_point(|&i| i < range.start);
            let end = ids.partition_point(|&i| i < range.end);
            Columns { mine: first..end, buffer: Vec::new() }
        })
        .collect()
}

fn lay_out(file: &hdf5::File, layout: &ReportLayout, writer: bool) -> hdf5::Result<Vec<Extendable>> {
    text_attr(file, "variable", &layout.variable)?;
    let ms = VarLenUnicode::from_str("ms").expect("ascii");
    let unit = VarLenUnicode::from_str(if layout.unit.is_empty() { "1" } else { &layout.unit }).unwrap_or_default();
    let report = file.create_group("report")?;
    let names: Vec<String> = layout.populations.iter().map(|(name, _)| name.clone()).collect();
    super::provenance::text_list_attr(&report, "populations", &names)?;
    let mut out = Vec::new();
    for (name, ids) in &layout.populations {
        let group = report.create_group(name)?;
        let mapping = group.create_group("mapping")?;
        let n = ids.len();
        let node_ids = mapping.new_dataset::<u64>().shape(n).create("node_ids")?;
        let pointers = mapping.new_dataset::<u64>().shape(n + 1).create("index_pointers")?;
        let elements = mapping.new_dataset::<u32>().shape(n).create("element_ids")?;
        let time = mapping.new_dataset::<f64>().shape(3).create("time")?;
        time.new_attr::<VarLenUnicode>().create("units")?.write_scalar(&ms)?;
        if writer {
            node_ids.write_raw(ids)?;
            pointers.write_raw(&(0..=n as u64).collect::<Vec<_>>())?;
            elements.write_raw(&vec![0u32; n])?;
            time.write_raw(&[layout.start_ms(), layout.start_ms(), layout.interval_ms()])?;
        }
        let chunk_rows = (CHUNK_BYTES / (4 * n.max(1) as u64)).clamp(1, 4096);
        let data = group
            .new_dataset::<f32>()
            .chunk((chunk_rows as usize, n.max(1)))
            .alloc_time(super::writer::EARLY)
            .shape((0.., n))
            .create("data")?;
        data.new_attr::<VarLenUnicode>().create("units")?.write_scalar(&unit)?;
        out.push(Extendable { dataset: data, name: format!("report/{name}/data"), chunk_rows, row_bytes: 4 * n as u64 });
    }
    Ok(out)
}

/// Sampled values of some neurons of one population of a report, for plotting.
#[derive(Clone, Debug, PartialEq)]
pub struct Traces {
    pub population: String,
    pub variable: String,
    pub unit: String,
    /// The sample times (ms).
    pub times: Vec<f64>,
    /// The report's window (ms): its start, and its stop or the end of its last sample
    /// where it holds fewer (a run stopped early), so that a figure's axis is this.
    pub window: (f64, f64),
    /// Per neuron: its population-local id and its values.
    pub series: Vec<(u64, Vec<f32>)>,
}

/// A population of a report opened for reading: its name, mapping and data.
struct Opened {
    file: hdf5::File,
    name: String,
    node_ids: Vec<u64>,
    /// The sample times (ms) and the window, as `Traces` has them.
    times: Vec<f64>,
    window: (f64, f64),
    data: hdf5::Dataset,
}

impl Opened {
    fn new(path: &Path, population: Option<&str>) -> Result<Opened> {
        let input = |message: String| Error::Input { path: path.to_path_buf(), message };
        let file = super::sonata::open_hdf5(path, "report")?;
        let report = file.group("report").map_err(|_| input("not a SONATA report (no /report group)".into()))?;
        // The model's order, as the report lists it: its first population first.
        let names = super::sonata::population_order(&report).map_err(|e| input(e.to_string()))?;
        let name = match population {
            Some(p) if names.iter().any(|n| n == p) => p.to_string(),
            Some(p) => return Err(input(format!("no population {p:?} in the report (it has: {})", names.join(", ")))),
            None => names.first().cloned().ok_or_else(|| input("the report holds no population".into()))?,
        };
        let read = || -> hdf5::Result<(Vec<u64>, Vec<f64>, hdf5::Dataset)> {
            let g = report.group(&name)?;
            Ok((g.dataset("mapping/node_ids")?.read_raw::<u64>()?, g.dataset("mapping/time")?.read_raw::<f64>()?, g.dataset("data")?))
        };
        let (node_ids, time, data) = read().map_err(|e| input(format!("population {name}: {e}")))?;
        let shape = data.shape();
        if time.len() != 3 || shape.len() != 2 || shape[1] != node_ids.len() {
            return Err(input(format!("population {name}: the mapping does not match the data ({shape:?} for {} ids)", node_ids.len())));
        }
        let rows = shape[0];
        if rows == 0 {
            return Err(input(format!("population {name}: the report holds no samples yet (its window starts at {} ms)", time[0])));
        }
        let times: Vec<f64> = (0..rows).map(|k| time[0] + k as f64 * time[2]).collect();
        let window = (time[0], time[1].min(time[0] + rows as f64 * time[2]));
        Ok(Opened { file, name, node_ids, times, window, data })
    }

    /// The report's variable and its unit.
    fn variable_and_unit(&self) -> (String, String) {
        let text =
            |a: hdf5::Result<hdf5::Attribute>| a.and_then(|a| a.read_scalar::<VarLenUnicode>()).map(|u| u.to_string()).unwrap_or_default();
        (text(self.file.attr("variable")), text(self.data.attr("units")))
    }
}

/// Every sample of one population of a report: rows are times, columns neurons.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportBlock {
    pub population: String,
    pub variable: String,
    pub unit: String,
    pub times: Vec<f64>,
    /// The population-local ids of the columns.
    pub node_ids: Vec<u64>,
    /// `times.len()` rows of `node_ids.len()` values, row after row.
    pub values: Vec<f32>,
}

/// Reads every sample of `population` (the report's first when None) of the report at
/// `path`.
pub fn read_report(path: &Path, population: Option<&str>) -> Result<ReportBlock> {
    let opened = Opened::new(path, population)?;
    let values = opened
        .data
        .read_raw::<f32>()
        .map_err(|e| Error::Input { path: path.to_path_buf(), message: format!("population {}: {e}", opened.name) })?;
    let (variable, unit) = opened.variable_and_unit();
    Ok(ReportBlock { population: opened.name, variable, unit, times: opened.times, node_ids: opened.node_ids, values })
}

/// Reads from the report at `path` the traces of the neurons `ids` (population-local) of
/// `population` (the report's first population when None); no ids: its first three.
pub fn read_traces(path: &Path, population: Option<&str>, ids: &[u64]) -> Result<Traces> {
    let input = |message: String| Error::Input { path: path.to_path_buf(), message };
    let opened = Opened::new(path, population)?;
    let Opened { name, node_ids, data, .. } = &opened;
    let wanted: Vec<u64> = if ids.is_empty() { node_ids.iter().take(3).copied().collect() } else { ids.to_vec() };
    let mut series = Vec::new();
    for id in wanted {
        let Some(column) = node_ids.iter().position(|&n| n == id) else {
            let shown: Vec<String> = node_ids.iter().take(10).map(|n| n.to_string()).collect();
            let more = if node_ids.len() > 10 { ", ..." } else { "" };
            return Err(input(format!("neuron {id} of {name} is not in the report (it has: {}{more})", shown.join(", "))));
        };
        let values: Vec<f32> = data
            .read_slice_2d::<f32, _>((.., column..column + 1))
            .map_err(|e| input(format!("population {name}: {e}")))?
            .into_iter()
            .collect();
        series.push((id, values));
    }
    let (variable, unit) = opened.variable_and_unit();
    Ok(Traces { population: name.clone(), variable, unit, times: opened.times.clone(), window: opened.window, series })
}
