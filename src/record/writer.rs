//! The spike file written while the run goes: every rank buffers its own spikes and, at
//! each flush, all ranks append them to one SONATA file together (parallel HDF5 under
//! MPI, the same code on one process).
//!
//! The file is sorted by time, then id, whatever the number of ranks: at a flush each
//! rank counts its spikes per population and step; an exclusive prefix sum of those
//! counts over ranks (and their total) gives every rank the file position of each of
//! its runs of spikes — within a step, ranks hold ascending id ranges, so rank r's
//! spikes of step t come after those of ranks < r. A rank's runs of consecutive steps
//! that are adjacent in the file are written as one (on one rank: one write per flush).
//!
//! After each flush the file is flushed to disk and its root attribute `duration_ms`
//! says how much simulated time it holds, so a run killed later (Slurm's time limit)
//! leaves a valid file with every spike up to that time.

use super::sonata::{PopulationRange, Sorting, MAGIC, VERSION};
use super::Recorder;
use crate::comm::{agree, Communicator};
use crate::error::{Error, Result};
use crate::spike::Spike;
use hdf5::types::VarLenUnicode;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Elements per HDF5 chunk of the extendable datasets (512 KB of timestamps).
const CHUNK: usize = 1 << 16;

struct Datasets {
    timestamps: hdf5::Dataset,
    node_ids: hdf5::Dataset,
}

pub struct SpikeWriter {
    path: Option<PathBuf>,
    file: Option<hdf5::File>,
    datasets: Vec<Datasets>,
    populations: Vec<PopulationRange>,
    /// Spikes in the file, per population (the same on every rank).
    lengths: Vec<u64>,
    /// This rank's spikes since the last flush, sorted by step then id.
    buffer: Vec<Spike>,
    /// Steps below this are in the file.
    flushed_step: u64,
    dt_ms: f64,
    /// This rank's spikes so far, per population.
    local_counts: Vec<u64>,
}

impl SpikeWriter {
    /// Creates the spike file at `path` (collective: every rank calls it).
    pub fn create(path: &Path, populations: Vec<PopulationRange>, dt_ms: f64, comm: &dyn Communicator) -> Result<SpikeWriter> {
        let output_error = |e: hdf5::Error| Error::Output { path: path.to_path_buf(), message: e.to_string() };
        let file = agree(comm, open(path, comm).map_err(output_error))?;
        let datasets = agree(comm, layout(&file, &populations))?;
        let mut writer = SpikeWriter::counting(populations, dt_ms);
        writer.path = Some(path.to_path_buf());
        writer.file = Some(file);
        writer.datasets = datasets;
        Ok(writer)
    }

    /// A writer without a file: it only counts (runs that write no spike file).
    pub fn counting(populations: Vec<PopulationRange>, dt_ms: f64) -> SpikeWriter {
        let n = populations.len();
        SpikeWriter {
            path: None,
            file: None,
            datasets: Vec::new(),
            populations,
            lengths: vec![0; n],
            buffer: Vec::new(),
            flushed_step: 0,
            dt_ms,
            local_counts: vec![0; n],
        }
    }

    /// This rank's spike count per population in the file so far (up to the last flush).
    pub fn local_counts(&self) -> &[u64] {
        &self.local_counts
    }

    fn population_of(&self, gid: u64) -> usize {
        self.populations.partition_point(|p| p.first_gid + p.size <= gid)
    }

    /// Appends the spikes of steps below `until_step` to the file (collective).
    pub fn flush(&mut self, until_step: u64, comm: &dyn Communicator) -> Result<()> {
        // Already flushed to here (the run's last flush, then `finish`): every rank has
        // the same `flushed_step`, so all skip the collectives together.
        if until_step == self.flushed_step {
            debug_assert!(self.buffer.is_empty(), "spikes are recorded only for steps below the run's step");
            return Ok(());
        }
        if self.file.is_none() {
            for i in 0..self.buffer.len() {
                let p = self.population_of(self.buffer[i].gid as u64);
                self.local_counts[p] += 1;
            }
            self.buffer.clear();
            self.flushed_step = until_step;
            return Ok(());
        }
        let result = self.write_window(until_step, comm);
        let result = agree(comm, result);
        self.buffer.clear();
        self.flushed_step = until_step;
        result
    }

    fn write_window(&mut self, until_step: u64, comm: &dyn Communicator) -> Result<()> {
        let (w0, steps) = (self.flushed_step, (until_step - self.flushed_step) as usize);
        let n_pops = self.populations.len();
        // Spikes per (population, step of the window), this rank's.
        let mut counts = vec![0u64; n_pops * steps];
        let pop_of: Vec<usize> = self.buffer.iter().map(|s| self.population_of(s.gid as u64)).collect();
        for (s, &p) in self.buffer.iter().zip(&pop_of) {
            counts[p * steps + (s.step as u64 - w0) as usize] += 1;
            self.local_counts[p] += 1;
        }
        let (before, total) = comm.prefix_and_total(&counts);
        let file = self.file.as_ref().expect("checked");
        for p in 0..n_pops {
            let range = p * steps..(p + 1) * steps;
            let added: u64 = total[range.clone()].iter().sum();
            let new_len = (self.lengths[p] + added) as usize;
            let d = &self.datasets[p];
            // Resizing is collective: every rank, same size, spikes or not.
            d.timestamps.resize(new_len)?;
            d.node_ids.resize(new_len)?;
            let first = self.populations[p].first_gid;
            let (mut ts, mut ids) = (Vec::new(), Vec::new());
            // Runs (file position, index into ts/ids, length), adjacent runs merged.
            let mut runs: Vec<(u64, usize, usize)> = Vec::new();
            let mut position = self.lengths[p];
            let mut spikes = self.buffer.iter().zip(&pop_of).filter(|(_, &q)| q == p).map(|(s, _)| s).peekable();
            for k in 0..steps {
                let n = counts[p * steps + k] as usize;
                if n > 0 {
                    let at = position + before[p * steps + k];
                    match runs.last_mut() {
                        Some((pos, _, len)) if *pos + *len as u64 == at => *len += n,
                        _ => runs.push((at, ts.len(), n)),
                    }
                    for _ in 0..n {
                        let s = spikes.next().expect("counted");
                        ts.push(s.time_ms(self.dt_ms));
                        ids.push(s.gid as u64 - first);
                    }
                }
                position += total[p * steps + k];
            }
            debug_assert!(spikes.peek().is_none());
            for (pos, at, len) in runs {
                let pos = pos as usize;
                d.timestamps.write_slice(&ts[at..at + len], pos..pos + len)?;
                d.node_ids.write_slice(&ids[at..at + len], pos..pos + len)?;
            }
            self.lengths[p] = new_len as u64;
        }
        file.attr("duration_ms")?.write_scalar(&(until_step as f64 * self.dt_ms))?;
        file.flush()?;
        Ok(())
    }

    /// Flushes what is left and closes the file (collective). Returns its path.
    pub fn finish(mut self, until_step: u64, comm: &dyn Communicator) -> Result<Option<PathBuf>> {
        self.flush(until_step, comm)?;
        self.datasets.clear();
        if let Some(file) = self.file.take() {
            agree(comm, file.close().map_err(Error::from))?;
        }
        Ok(self.path)
    }
}

impl Recorder for SpikeWriter {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        // Populations are counted at the flush, which sorts spikes into them anyway.
        self.buffer.extend_from_slice(spikes);
        Ok(())
    }
}

/// Opens the file: through MPI-IO when there is more than one rank.
fn open(path: &Path, comm: &dyn Communicator) -> hdf5::Result<hdf5::File> {
    #[cfg(feature = "mpi")]
    if let Some(world) = comm.mpi().filter(|_| comm.size() > 1) {
        use mpi::raw::AsRaw;
        return hdf5::File::with_options().with_fapl(|p| p.mpio(world.as_raw(), None)).create(path);
    }
    let _ = comm;
    hdf5::File::create(path)
}

/// The SONATA groups, attributes and empty extendable datasets (collective).
fn layout(file: &hdf5::File, populations: &[PopulationRange]) -> Result<Vec<Datasets>> {
    file.new_attr::<u32>().create("magic")?.write_scalar(&MAGIC)?;
    file.new_attr::<u32>().shape(2).create("version")?.write(&VERSION)?;
    file.new_attr::<f64>().create("duration_ms")?.write_scalar(&0.0)?;
    let spikes = file.create_group("spikes")?;
    let units = VarLenUnicode::from_str("ms").expect("ascii");
    let mut out = Vec::new();
    for pop in populations {
        let group = spikes.create_group(&pop.name)?;
        group.new_attr::<Sorting>().create("sorting")?.write_scalar(&Sorting::by_time)?;
        group.new_attr::<u64>().create("n_nodes")?.write_scalar(&pop.size)?;
        let timestamps = group.new_dataset::<f64>().chunk(CHUNK).shape(hdf5::Extent::resizable(0)).create("timestamps")?;
        timestamps.new_attr::<VarLenUnicode>().create("units")?.write_scalar(&units)?;
        let node_ids = group.new_dataset::<u64>().chunk(CHUNK).shape(hdf5::Extent::resizable(0)).create("node_ids")?;
        out.push(Datasets { timestamps, node_ids });
    }
    file.flush()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::LocalComm;
    use crate::record::sonata::read_spike_file;

    #[test]
    fn flushes_append_sorted_spikes_and_record_the_time_covered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.h5");
        let pops =
            vec![PopulationRange { name: "a".into(), first_gid: 0, size: 4 }, PopulationRange { name: "b".into(), first_gid: 4, size: 2 }];
        let comm = LocalComm;
        let mut w = SpikeWriter::create(&path, pops, 0.5, &comm).unwrap();
        w.record_spikes(&[Spike { step: 0, gid: 1 }, Spike { step: 0, gid: 5 }, Spike { step: 2, gid: 0 }]).unwrap();
        w.flush(3, &comm).unwrap();
        // After a flush the file is readable as it stands, before the writer is closed.
        let mid = read_spike_file(&path).unwrap();
        assert_eq!(mid.duration_ms, Some(1.5));
        assert_eq!(mid.populations[0].node_ids, vec![1, 0]);
        w.record_spikes(&[Spike { step: 3, gid: 4 }, Spike { step: 4, gid: 3 }]).unwrap();
        assert_eq!(w.local_counts(), &[2, 1], "counted at the flush");
        w.flush(6, &comm).unwrap();
        assert_eq!(w.local_counts(), &[3, 2]);
        w.finish(6, &comm).unwrap();
        let f = read_spike_file(&path).unwrap();
        assert_eq!(f.duration_ms, Some(3.0));
        assert_eq!(f.populations[0].timestamps_ms, vec![0.5, 1.5, 2.5]);
        assert_eq!(f.populations[0].node_ids, vec![1, 0, 3]);
        assert_eq!(f.populations[1].timestamps_ms, vec![0.5, 2.0]);
        assert_eq!(f.populations[1].node_ids, vec![1, 0]);
        assert_eq!(f.populations[1].size, Some(2));
        let h5 = hdf5::File::open(&path).unwrap();
        assert_eq!(h5.attr("magic").unwrap().read_scalar::<u32>().unwrap(), MAGIC);
        assert_eq!(h5.attr("version").unwrap().read_raw::<u32>().unwrap(), VERSION);
        assert_eq!(h5.group("spikes/a").unwrap().attr("sorting").unwrap().read_scalar::<Sorting>().unwrap(), Sorting::by_time);
    }

    #[test]
    fn unwritable_destination_is_an_output_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("s.h5");
        let err = SpikeWriter::create(&path, vec![], 1.0, &LocalComm).err().expect("cannot create");
        assert!(matches!(err, Error::Output { .. }), "{err}");
        assert!(!path.exists());
    }
}
