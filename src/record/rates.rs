//! Population rate traces: spikes of each population per bin of `bin_steps` steps, of
//! every neuron (not only those whose spikes are recorded) — a cheap record of a
//! network's activity, 4 bytes per population and bin. Each rank counts its own spikes;
//! at each flush the completed bins are summed over ranks and appended by rank 0 through
//! the shared appender.
//!
//! Layout: `/rates/<population>/counts` u32 [bins] (attributes `bin_ms`, `n_nodes`,
//! `units` = "spikes per bin"); bin k counts the spikes of steps [k·B, (k+1)·B), whose
//! times (the end of their step, as in the spike file) lie in (k·bin_ms, (k+1)·bin_ms].
//! A bin is written
//! once complete: a run ending inside a bin leaves it out (a resumed run completes it).

use super::appender::{Appender, Extendable, FileKind, FileRecord};
use super::sonata::PopulationRange;
use super::writer::Provenance;
use super::{Output, Recorder};
use crate::comm::Communicator;
use crate::error::Result;
use crate::spike::Spike;
use hdf5::types::VarLenUnicode;
use std::path::{Path, PathBuf};
use std::str::FromStr;

const CHUNK_BINS: usize = 4096;

struct RateFile {
    populations: usize,
}

impl FileKind for RateFile {
    fn claim(&self, _: &hdf5::File, _: &[u64], _: f64) -> hdf5::Result<()> {
        Ok(())
    }

    fn holds(&self, path: &Path, lengths: &[u64], duration_ms: f64) -> bool {
        let Ok(file) = hdf5::File::open(path) else { return false };
        let duration = file.attr("duration_ms").and_then(|a| a.read_scalar::<f64>()).ok();
        let Ok(group) = file.group("rates") else { return false };
        let names = group.member_names().unwrap_or_default();
        duration == Some(duration_ms)
            && names.len() == self.populations
            && names.iter().all(|n| group.dataset(&format!("{n}/counts")).is_ok_and(|d| Some(&(d.size() as u64)) == lengths.first()))
    }

    fn describe(&self, lengths: &[u64]) -> String {
        format!("{} bins", lengths.first().copied().unwrap_or(0))
    }

    fn noun(&self) -> &'static str {
        "rate file"
    }
}

pub struct RateWriter {
    appender: Appender,
    populations: Vec<PopulationRange>,
    bin_steps: u64,
    dt_ms: f64,
    /// Bins in the file.
    written: u64,
    /// This rank's counts of the bins from `written` on: population-major, grown as
    /// spikes come.
    counts: Vec<Vec<u64>>,
}

impl RateWriter {
    pub fn create(
        path: &Path,
        populations: Vec<PopulationRange>,
        bin_steps: u64,
        dt_ms: f64,
        provenance: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<RateWriter> {
        let kind = Box::new(RateFile { populations: populations.len() });
        let bin_ms = bin_steps as f64 * dt_ms;
        let appender = Appender::create(path, kind, comm, provenance, |file| {
            let rates = file.create_group("rates")?;
            let names: Vec<String> = populations.iter().map(|p| p.name.clone()).collect();
            super::provenance::text_list_attr(&rates, "populations", &names)?;
            let units = VarLenUnicode::from_str("spikes per bin").expect("ascii");
            populations
                .iter()
                .map(|p| {
                    let group = rates.create_group(&p.name)?;
                    let counts = group
                        .new_dataset::<u32>()
                        .chunk(CHUNK_BINS)
                        .alloc_time(super::writer::EARLY)
                        .shape(hdf5::Extent::resizable(0))
                        .create("counts")?;
                    counts.new_attr::<f64>().create("bin_ms")?.write_scalar(&bin_ms)?;
                    counts.new_attr::<u64>().create("n_nodes")?.write_scalar(&p.size)?;
                    counts.new_attr::<VarLenUnicode>().create("units")?.write_scalar(&units)?;
                    Ok(Extendable {
                        dataset: counts,
                        name: format!("rates/{}/counts", p.name),
                        chunk_rows: CHUNK_BINS as u64,
                        row_bytes: 4,
                    })
                })
                .collect()
        })?;
        let counts = vec![Vec::new(); populations.len()];
        Ok(RateWriter { appender, populations, bin_steps: bin_steps.max(1), dt_ms, written: 0, counts })
    }

    /// Opens the rate file of a checkpointed run at `step` (collective): it holds the
    /// bins completed by then; the bin in progress (`record.partial`, all ranks' counts)
    /// goes on being counted from rank 0.
    pub fn reopen(
        path: &Path,
        populations: Vec<PopulationRange>,
        (bin_steps, step, dt_ms): (u64, u64, f64),
        record: &FileRecord,
        piece: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<RateWriter> {
        let partial = if comm.rank() == 0 { record.partial.clone() } else { vec![0; populations.len()] };
        let written = step / bin_steps.max(1);
        let kind = Box::new(RateFile { populations: populations.len() });
        let find = |file: &hdf5::File| -> hdf5::Result<Vec<Extendable>> {
            populations
                .iter()
                .map(|p| {
                    let name = format!("rates/{}/counts", p.name);
                    Ok(Extendable { dataset: file.dataset(&name)?, name, chunk_rows: CHUNK_BINS as u64, row_bytes: 4 })
                })
                .collect()
        };
        if record.lengths.iter().any(|&n| n != written) {
            return Err(crate::error::Error::Input {
                path: path.to_path_buf(),
                message: format!("the checkpoint records {:?} bins where its step gives {written}: a damaged checkpoint", record.lengths),
            });
        }
        let appender = Appender::reopen(path, kind, comm, (record, step as f64 * dt_ms), piece, find)?;
        if partial.len() != populations.len() {
            return Err(crate::error::Error::Input {
                path: path.to_path_buf(),
                message: format!("the checkpoint records the bin in progress of {} populations, not {}", partial.len(), populations.len()),
            });
        }
        let counts = partial.iter().map(|&n| if n > 0 { vec![n] } else { Vec::new() }).collect();
        Ok(RateWriter { appender, populations, bin_steps: bin_steps.max(1), dt_ms, written, counts })
    }

    pub fn without_foresight(mut self) -> Self {
        self.appender = self.appender.without_foresight();
        self
    }

    /// Appends the bins completed before `until_step` (collective).
    pub fn flush(&mut self, until_step: u64, comm: &dyn Communicator) -> Result<()> {
        let complete = until_step / self.bin_steps;
        let new = (complete - self.written) as usize;
        let mut local = vec![0u64; self.populations.len() * new];
        for (p, counts) in self.counts.iter().enumerate() {
            for (k, &n) in counts.iter().take(new).enumerate() {
                local[p * new + k] = n;
            }
        }
        let (_, total) = comm.prefix_and_total(&local);
        let (old, rank) = (self.written as usize, comm.rank());
        let lengths = vec![complete; self.populations.len()];
        let duration_ms = until_step as f64 * self.dt_ms;
        self.appender.append(&lengths, duration_ms, comm, |datasets, digests| {
            if rank == 0 && new > 0 {
                for (p, d) in datasets.iter().enumerate() {
                    let values: Vec<u32> = total[p * new..(p + 1) * new].iter().map(|&n| n as u32).collect();
                    d.dataset.write_slice(&values[..], old..old + new)?;
                    digests[p] = digests[p].wrapping_add(crate::digest::sum_terms(old as u64, &values));
                }
            }
            Ok(())
        })?;
        for counts in &mut self.counts {
            counts.drain(..new.min(counts.len()));
        }
        self.written = complete;
        Ok(())
    }

    /// This rank's counts of the bin in progress, per population (what a checkpoint
    /// keeps; call after `flush`).
    pub fn partial(&self) -> Vec<u64> {
        self.counts.iter().map(|c| c.first().copied().unwrap_or(0)).collect()
    }

    pub fn finish(self, status: &str, comm: &dyn Communicator) -> Result<PathBuf> {
        self.appender.finish(status, comm)
    }
}

impl Output for RateWriter {
    fn flush(&mut self, step: u64, _: &mut dyn FnMut(usize, &mut Vec<f32>), comm: &dyn Communicator) -> Result<()> {
        RateWriter::flush(self, step, comm)
    }

    /// Nothing more: the bins of the last append hold only spikes before it, and those
    /// counted since include spikes of steps after the non-finite one.
    fn stop_at(&mut self, _: u64, _: &mut dyn FnMut(usize, &mut Vec<f32>), _: &dyn Communicator) -> Result<()> {
        Ok(())
    }

    fn file_record(&self, name: &str, comm: &dyn Communicator) -> Option<FileRecord> {
        let partial = comm.prefix_and_total(&self.partial()).1;
        Some(FileRecord { partial, ..self.appender.record(name, comm) })
    }

    fn finish(self: Box<Self>, status: &str, comm: &dyn Communicator) -> Result<Option<PathBuf>> {
        RateWriter::finish(*self, status, comm).map(Some)
    }
}

impl Recorder for RateWriter {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        for s in spikes {
            let gid = s.gid as u64;
            let p = self.populations.partition_point(|q| q.first_gid + q.size <= gid);
            let bin = (s.step as u64 / self.bin_steps - self.written) as usize;
            let counts = &mut self.counts[p];
            if counts.len() <= bin {
                counts.resize(bin + 1, 0);
            }
            counts[bin] += 1;
        }
        Ok(())
    }
}

/// A rate file read back: per population (in the model's order) its name, its number
/// of neurons and its counts per bin.
pub struct RateTraces {
    pub bin_ms: f64,
    pub populations: Vec<(String, u64, Vec<u32>)>,
}

/// Whether the HDF5 file at `path` is a rate file (a /rates group and no /spikes).
pub fn is_rate_file(path: &Path) -> bool {
    hdf5::File::open(path).is_ok_and(|f| f.group("rates").is_ok() && f.group("spikes").is_err())
}

/// Reads the rate file at `path`.
pub fn read_rates(path: &Path) -> Result<RateTraces> {
    let input = |message: String| crate::error::Error::Input { path: path.to_path_buf(), message };
    let file = super::sonata::open_hdf5(path, "rate file")?;
    let rates = file.group("rates").map_err(|_| input("not a rate file (no /rates group)".into()))?;
    let names = super::sonata::population_order(&rates).map_err(|e| input(e.to_string()))?;
    let mut bin = None;
    let mut populations = Vec::new();
    for name in names {
        let read = || -> hdf5::Result<(f64, u64, Vec<u32>)> {
            let counts = rates.dataset(&format!("{name}/counts"))?;
            Ok((counts.attr("bin_ms")?.read_scalar()?, counts.attr("n_nodes")?.read_scalar()?, counts.read_raw()?))
        };
        let (bin_ms, n_nodes, counts) = read().map_err(|e| input(format!("population {name}: {e}")))?;
        if !(bin_ms > 0.0 && bin_ms.is_finite()) || bin.is_some_and(|b| b != bin_ms) {
            return Err(input(format!("population {name}: bin_ms is {bin_ms}, expected one positive bin for every population")));
        }
        bin = Some(bin_ms);
        populations.push((name, n_nodes, counts));
    }
    let bin_ms = bin.ok_or_else(|| input("the rate file holds no population".into()))?;
    Ok(RateTraces { bin_ms, populations })
}
