//! The spike file written while the run goes: every rank buffers its own spikes and, at
//! each flush, all ranks append them to one SONATA file together (parallel HDF5 under
//! MPI, the same code on one process), through the appender that every output file
//! shares (`appender`: what the file holds is what its `duration_ms` says, always).
//!
//! The file is sorted by time, then id, whatever the number of ranks: at a flush each
//! rank counts its spikes per population and step; an exclusive prefix sum of those
//! counts over ranks (and their total) gives every rank the file position of each of
//! its runs of spikes — within a step, ranks hold ascending id ranges, so rank r's
//! spikes of step t come after those of ranks < r. A rank's runs of consecutive steps
//! that are adjacent in the file are written as one (on one rank: one write per flush).

use super::appender::{Appender, Extendable, FileKind, FileRecord};
pub use super::provenance::Provenance;
use super::sonata::{PopulationRange, Sorting, MAGIC, VERSION};
use super::{Output, Recorder};
use crate::comm::Communicator;
use crate::digest::sum_terms;
use crate::error::Result;
use crate::spike::Spike;
use hdf5::types::VarLenUnicode;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use super::appender::space_for;

/// Elements per HDF5 chunk: bounds for the size chosen from the expected spike count.
pub const MIN_CHUNK: usize = 1 << 10;
pub const MAX_CHUNK: usize = 1 << 16;

/// The chunk length for a dataset expected to receive `spikes_per_flush` elements per
/// append: the next power of two, within [MIN_CHUNK, MAX_CHUNK]. Small runs give small
/// files; large ones keep large chunks (fewer index entries, larger writes).
pub fn chunk_for(spikes_per_flush: f64) -> usize {
    let n = spikes_per_flush.clamp(1.0, MAX_CHUNK as f64).ceil() as usize;
    n.next_power_of_two().clamp(MIN_CHUNK, MAX_CHUNK)
}

/// The spike file as the appender sees it: per population (named), `timestamps` and
/// `node_ids`, which always have the same length.
struct SpikeFile {
    populations: Vec<String>,
}

impl FileKind for SpikeFile {
    fn claim(&self, _: &hdf5::File, _: &[u64], _: f64) -> hdf5::Result<()> {
        Ok(())
    }

    fn holds(&self, path: &Path, lengths: &[u64], duration_ms: f64) -> bool {
        holds_what_it_says(path, &per_population(lengths), duration_ms)
    }

    fn describe(&self, lengths: &[u64]) -> String {
        let spikes: u64 = per_population(lengths).iter().sum();
        format!("{spikes} spikes")
    }

    fn noun(&self) -> &'static str {
        "spike file"
    }

    fn check_record(&self, file: &hdf5::File, record: &FileRecord) -> std::result::Result<(), String> {
        if record.last_ms.len() != self.populations.len() {
            return Err(format!(
                "the checkpoint records the last spikes of {} populations, not {}",
                record.last_ms.len(),
                self.populations.len()
            ));
        }
        for (k, &last) in record.last_ms.iter().enumerate() {
            let Some(&n) = record.lengths.get(2 * k).filter(|&&n| n > 0) else { continue };
            let name = self.populations.get(k).cloned().unwrap_or_default();
            let path = format!("spikes/{name}/timestamps");
            let found = file
                .dataset(&path)
                .and_then(|d| d.read_slice_1d::<f64, _>(n as usize - 1..n as usize))
                .map_err(|e| format!("{path}: {e}"))?;
            if found.first() != Some(&last) {
                return Err(format!(
                    "{path}[{}] is {} ms where the checkpoint's run wrote its last spike at {last} ms",
                    n - 1,
                    found.first().copied().unwrap_or(f64::NAN)
                ));
            }
        }
        Ok(())
    }
}

/// Spikes per population from the datasets' lengths (timestamps, node_ids, ...).
fn per_population(lengths: &[u64]) -> Vec<u64> {
    lengths.iter().step_by(2).copied().collect()
}

/// Which spikes reach the file, where not all do: every spike is counted by population
/// (for the run's summary), the selected ones are kept.
pub struct SpikeFilter {
    /// First global id of every population of the network, ascending.
    first_gids: Vec<u64>,
    /// Per population of the network: its selection, or None where it is not recorded.
    selections: Vec<Option<crate::stimulus::Selection>>,
    counts: Vec<u64>,
}

impl SpikeFilter {
    pub fn new(first_gids: Vec<u64>, selections: Vec<Option<crate::stimulus::Selection>>) -> SpikeFilter {
        let counts = vec![0; first_gids.len()];
        SpikeFilter { first_gids, selections, counts }
    }

    fn keep(&mut self, s: &Spike) -> bool {
        let gid = s.gid as u64;
        let p = self.first_gids.partition_point(|&f| f <= gid) - 1;
        self.counts[p] += 1;
        self.selections[p].as_ref().is_some_and(|sel| sel.contains(gid - self.first_gids[p], self.first_gids[p]))
    }
}

pub struct SpikeWriter {
    /// Where only some spikes are recorded.
    filter: Option<SpikeFilter>,
    /// None: the writer only counts (runs that write no spike file).
    appender: Option<Appender>,
    populations: Vec<PopulationRange>,
    /// This rank's spikes since the last flush, sorted by step then id.
    buffer: Vec<Spike>,
    /// Steps below this are in the file.
    flushed_step: u64,
    dt_ms: f64,
    /// This rank's spikes so far, per population.
    local_counts: Vec<u64>,
    /// Each population's last spike time in the file, all ranks' (NaN: none yet).
    last_ms: Vec<f64>,
}

impl SpikeWriter {
    /// Creates the spike file for `path` (collective: every rank calls it), under its
    /// temporary name, with `datasets[p].chunk` elements per chunk for population p and,
    /// where only some of its neurons are recorded, their ids. Creates the output
    /// directory if needed.
    pub fn create(
        path: &Path,
        populations: Vec<PopulationRange>,
        datasets: Vec<SpikeDatasets>,
        dt_ms: f64,
        provenance: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<SpikeWriter> {
        let kind = Box::new(SpikeFile { populations: populations.iter().map(|p| p.name.clone()).collect() });
        let writes = comm.rank() == 0;
        let appender = Appender::create(path, kind, comm, provenance, |file| layout(file, &populations, &datasets, writes))?;
        let mut writer = SpikeWriter::counting(populations, dt_ms);
        writer.appender = Some(appender);
        Ok(writer)
    }

    /// A writer without a file: it only counts (runs that write no spike file).
    /// Opens the spike file of a checkpointed run to go on from the checkpoint at
    /// `step` (collective), its populations holding `counts` spikes then; spikes it
    /// holds beyond are cut back (see `Appender::reopen`).
    pub fn reopen(
        path: &Path,
        populations: Vec<PopulationRange>,
        (record, step): (&FileRecord, u64),
        dt_ms: f64,
        piece: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<SpikeWriter> {
        let find = |file: &hdf5::File| -> hdf5::Result<Vec<Extendable>> {
            let mut out = Vec::new();
            for pop in &populations {
                for (name, row_bytes) in [("timestamps", 8), ("node_ids", 8)] {
                    let name = format!("spikes/{}/{name}", pop.name);
                    let dataset = file.dataset(&name)?;
                    let chunk_rows = dataset.chunk().and_then(|c| c.first().copied()).unwrap_or(MIN_CHUNK) as u64;
                    out.push(Extendable { dataset, name, chunk_rows, row_bytes });
                }
            }
            Ok(out)
        };
        let kind = Box::new(SpikeFile { populations: populations.iter().map(|p| p.name.clone()).collect() });
        let appender = Appender::reopen(path, kind, comm, (record, step as f64 * dt_ms), piece, find)?;
        let mut writer = SpikeWriter::counting(populations, dt_ms);
        writer.appender = Some(appender);
        writer.flushed_step = step;
        writer.last_ms = record.last_ms.clone();
        Ok(writer)
    }

    /// What a checkpoint keeps of the spike file (collective; None without a file),
    /// under `name`, its name in the output directory.
    pub fn record(&self, name: &str, comm: &dyn Communicator) -> Option<FileRecord> {
        let appender = self.appender.as_ref()?;
        Some(FileRecord { last_ms: self.last_ms.clone(), ..appender.record(name, comm) })
    }

    pub fn counting(populations: Vec<PopulationRange>, dt_ms: f64) -> SpikeWriter {
        let n = populations.len();
        SpikeWriter {
            filter: None,
            appender: None,
            populations,
            buffer: Vec::new(),
            flushed_step: 0,
            dt_ms,
            local_counts: vec![0; n],
            last_ms: vec![f64::NAN; n],
        }
    }

    /// Turns off the comparison of each append with the free space (`--skip-space-check`);
    /// the file-size limit is still respected (a write past it can only fail).
    /// Records only the spikes `filter` keeps (the writer's populations are those it
    /// records); `local_counts` then counts every population's spikes.
    pub fn with_filter(mut self, filter: SpikeFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// A writer whose first flush starts at `step` (a run resumed there).
    pub fn starting_at(mut self, step: u64) -> Self {
        self.flushed_step = step;
        self
    }

    pub fn without_foresight(mut self) -> Self {
        self.appender = self.appender.map(Appender::without_foresight);
        self
    }

    /// This rank's spike count per population in the file so far (up to the last flush);
    /// with a filter, of every population of the network, recorded or not.
    pub fn local_counts(&self) -> &[u64] {
        match &self.filter {
            Some(f) => &f.counts,
            None => &self.local_counts,
        }
    }

    /// Simulated time the file holds for certain.
    pub fn flushed_ms(&self) -> f64 {
        self.flushed_step as f64 * self.dt_ms
    }

    /// Forgets the buffered spikes of steps from `step` on (their state is not to be
    /// trusted: the run stopped on a non-finite value seen in an earlier step).
    pub fn discard_from(&mut self, step: u64) {
        self.buffer.retain(|s| (s.step as u64) < step);
    }

    fn population_of(&self, gid: u64) -> usize {
        self.populations.partition_point(|p| p.first_gid + p.size <= gid)
    }

    /// Appends the spikes of steps below `until_step` to the file (collective). On
    /// failure the file is left as after the last good append (or removed, and said so)
    /// and the writer is closed.
    pub fn flush(&mut self, until_step: u64, comm: &dyn Communicator) -> Result<()> {
        // Already flushed to here (the run's last flush, then `finish`): every rank has
        // the same `flushed_step`, so all skip the collectives together.
        if until_step == self.flushed_step {
            return Ok(());
        }
        let steps = (until_step - self.flushed_step) as usize;
        let pop_of: Vec<usize> = self.buffer.iter().map(|s| self.population_of(s.gid as u64)).collect();
        if let Some(appender) = self.appender.as_mut() {
            // Spikes per (population, step of the window), this rank's; their offsets.
            let n_pops = self.populations.len();
            let mut counts = vec![0u64; n_pops * steps];
            for (s, &p) in self.buffer.iter().zip(&pop_of) {
                counts[p * steps + (s.step as u64 - self.flushed_step) as usize] += 1;
            }
            let (before, total) = comm.prefix_and_total(&counts);
            let old: Vec<u64> = per_population(appender.lengths());
            let new_lengths: Vec<u64> = (0..n_pops)
                .flat_map(|p| {
                    let n = old[p] + total[p * steps..(p + 1) * steps].iter().sum::<u64>();
                    [n, n]
                })
                .collect();
            let window = Window { counts: &counts, before: &before, total: &total, steps, old: &old };
            let (buffer, populations, dt_ms) = (&self.buffer, &self.populations, self.dt_ms);
            appender.append(&new_lengths, until_step as f64 * dt_ms, comm, |datasets, digests| {
                window.write(datasets, digests, buffer, &pop_of, populations, dt_ms)
            })?;
            // The last step with a spike of each population, from all ranks' counts.
            for (p, last) in self.last_ms.iter_mut().enumerate() {
                if let Some(k) = total[p * steps..(p + 1) * steps].iter().rposition(|&n| n > 0) {
                    *last = Spike { step: (self.flushed_step + k as u64) as u32, gid: 0 }.time_ms(dt_ms);
                }
            }
        }
        pop_of.iter().for_each(|&p| self.local_counts[p] += 1);
        self.buffer.clear();
        self.flushed_step = until_step;
        Ok(())
    }

    /// Flushes what is left, records how the run ended (`status`: "complete", ...) and
    /// closes the file (collective). Returns its path.
    pub fn finish(mut self, until_step: u64, status: &str, comm: &dyn Communicator) -> Result<Option<PathBuf>> {
        self.flush(until_step, comm)?;
        self.appender.map(|a| a.finish(status, comm)).transpose()
    }
}

/// One flush's spikes of every rank: per (population, step), this rank's count, the
/// count of the ranks before it, and all ranks' total; the populations' lengths before.
struct Window<'a> {
    counts: &'a [u64],
    before: &'a [u64],
    total: &'a [u64],
    steps: usize,
    old: &'a [u64],
}

impl Window<'_> {
    /// Writes this rank's spikes at their file positions.
    fn write(
        &self,
        datasets: &[Extendable],
        digests: &mut [u64],
        buffer: &[Spike],
        pop_of: &[usize],
        populations: &[PopulationRange],
        dt_ms: f64,
    ) -> hdf5::Result<()> {
        let steps = self.steps;
        for (p, population) in populations.iter().enumerate() {
            let (timestamps, node_ids) = (&datasets[2 * p].dataset, &datasets[2 * p + 1].dataset);
            let (mut ts, mut ids) = (Vec::new(), Vec::new());
            // Runs (file position, index into ts/ids, length), adjacent runs merged.
            let mut runs: Vec<(u64, usize, usize)> = Vec::new();
            let mut position = self.old[p];
            let mut spikes = buffer.iter().zip(pop_of).filter(|(_, &q)| q == p).map(|(s, _)| s);
            for k in 0..steps {
                let n = self.counts[p * steps + k] as usize;
                if n > 0 {
                    let at = position + self.before[p * steps + k];
                    match runs.last_mut() {
                        Some((pos, _, len)) if *pos + *len as u64 == at => *len += n,
                        _ => runs.push((at, ts.len(), n)),
                    }
                    for s in spikes.by_ref().take(n) {
                        ts.push(s.time_ms(dt_ms));
                        ids.push(s.gid as u64 - population.first_gid);
                    }
                }
                position += self.total[p * steps + k];
            }
            for (pos, at, len) in runs {
                let pos = pos as usize;
                timestamps.write_slice(&ts[at..at + len], pos..pos + len)?;
                node_ids.write_slice(&ids[at..at + len], pos..pos + len)?;
                digests[2 * p] = digests[2 * p].wrapping_add(sum_terms(pos as u64, &ts[at..at + len]));
                digests[2 * p + 1] = digests[2 * p + 1].wrapping_add(sum_terms(pos as u64, &ids[at..at + len]));
            }
        }
        Ok(())
    }
}

/// Reads the file back whole: its `duration_ms` is `duration_ms`, its populations hold
/// `lengths` spikes, and every spike passes `SpikeFile::validate` (ids in range, times
/// sorted and within the duration) — a chunk that a failed write left unwritten reads
/// as zeros and breaks the time order.
fn holds_what_it_says(path: &Path, lengths: &[u64], duration_ms: f64) -> bool {
    let Ok(file) = super::sonata::read_spike_file(path) else { return false };
    let mut got: Vec<u64> = file.populations.iter().map(|p| p.node_ids.len() as u64).collect();
    let mut want = lengths.to_vec();
    // Populations come back in name order; the lengths are in model order.
    got.sort_unstable();
    want.sort_unstable();
    file.duration_ms == Some(duration_ms) && got == want && file.validate().is_ok()
}

impl Output for SpikeWriter {
    fn flush(&mut self, step: u64, _: &mut dyn FnMut(usize, &mut Vec<f32>), comm: &dyn Communicator) -> Result<()> {
        SpikeWriter::flush(self, step, comm)
    }

    /// Every spike up to `step`: spikes carry no NaN, so those are what a finite run would
    /// have given; what was buffered beyond is forgotten.
    fn stop_at(&mut self, step: u64, _: &mut dyn FnMut(usize, &mut Vec<f32>), comm: &dyn Communicator) -> Result<()> {
        self.discard_from(step);
        SpikeWriter::flush(self, step, comm)
    }

    fn file_record(&self, name: &str, comm: &dyn Communicator) -> Option<FileRecord> {
        self.record(name, comm)
    }

    fn finish(self: Box<Self>, status: &str, comm: &dyn Communicator) -> Result<Option<PathBuf>> {
        self.appender.map(|a| a.finish(status, comm)).transpose()
    }
}

impl Recorder for SpikeWriter {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        // Populations are counted at the flush, which sorts spikes into them anyway.
        match self.filter.as_mut() {
            Some(filter) => self.buffer.extend(spikes.iter().filter(|s| filter.keep(s))),
            None => self.buffer.extend_from_slice(spikes),
        }
        Ok(())
    }
}

/// Chunks are allocated when a dataset grows, by every rank together: what parallel
/// HDF5 does with datasets it creates, set here for one process too, so that a file
/// created by one process can be appended to by many (a run resumed on more ranks; with
/// incremental allocation their independent writes overran the file's end).
pub const EARLY: Option<hdf5::plist::dataset_create::AllocTime> = Some(hdf5::plist::dataset_create::AllocTime::Early);

/// How one population's spikes are laid out in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikeDatasets {
    /// Elements per HDF5 chunk.
    pub chunk: usize,
    /// The population-local ids of the neurons whose spikes are recorded, where not all.
    pub recorded: Option<Vec<u64>>,
}

/// The SONATA groups, attributes and empty extendable datasets (collective), and what
/// volley adds for its readers: `/spikes` lists its populations in the model's order
/// (`populations`), and each population says how many of its neurons are recorded
/// (`n_recorded`) and, where not all, which (`recorded_node_ids`, written by `writer`).
fn layout(file: &hdf5::File, populations: &[PopulationRange], datasets: &[SpikeDatasets], writer: bool) -> hdf5::Result<Vec<Extendable>> {
    file.new_attr::<u32>().create("magic")?.write_scalar(&MAGIC)?;
    file.new_attr::<u32>().shape(2).create("version")?.write(&VERSION)?;
    let spikes = file.create_group("spikes")?;
    let names: Vec<String> = populations.iter().map(|p| p.name.clone()).collect();
    super::provenance::text_list_attr(&spikes, "populations", &names)?;
    let units = VarLenUnicode::from_str("ms").expect("ascii");
    let mut out = Vec::new();
    for (pop, layout) in populations.iter().zip(datasets) {
        let chunk = layout.chunk;
        let group = spikes.create_group(&pop.name)?;
        group.new_attr::<Sorting>().create("sorting")?.write_scalar(&Sorting::by_time)?;
        group.new_attr::<u64>().create("n_nodes")?.write_scalar(&pop.size)?;
        let recorded = layout.recorded.as_ref().map_or(pop.size, |ids| ids.len() as u64);
        group.new_attr::<u64>().create("n_recorded")?.write_scalar(&recorded)?;
        if let Some(ids) = &layout.recorded {
            let d = group.new_dataset::<u64>().shape(ids.len()).create("recorded_node_ids")?;
            if writer {
                d.write_raw(ids)?;
            }
        }
        let timestamps =
            group.new_dataset::<f64>().chunk(chunk).alloc_time(EARLY).shape(hdf5::Extent::resizable(0)).create("timestamps")?;
        timestamps.new_attr::<VarLenUnicode>().create("units")?.write_scalar(&units)?;
        let node_ids = group.new_dataset::<u64>().chunk(chunk).alloc_time(EARLY).shape(hdf5::Extent::resizable(0)).create("node_ids")?;
        let chunk_rows = chunk as u64;
        out.push(Extendable { dataset: timestamps, name: format!("spikes/{}/timestamps", pop.name), chunk_rows, row_bytes: 8 });
        out.push(Extendable { dataset: node_ids, name: format!("spikes/{}/node_ids", pop.name), chunk_rows, row_bytes: 8 });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::LocalComm;
    use crate::error::Error;
    use crate::record::atomic::partial_path;
    use crate::record::sonata::read_spike_file;

    #[test]
    fn flushes_append_sorted_spikes_and_record_the_time_covered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.h5");
        let pops =
            vec![PopulationRange { name: "a".into(), first_gid: 0, size: 4 }, PopulationRange { name: "b".into(), first_gid: 4, size: 2 }];
        let comm = LocalComm;
        let layout = SpikeDatasets { chunk: MIN_CHUNK, recorded: None };
        let mut w = SpikeWriter::create(&path, pops, vec![layout; 2], 0.5, &Provenance::default(), &comm).unwrap();
        assert!(!path.exists() && partial_path(&path).exists(), "under its temporary name until the first append");
        w.record_spikes(&[Spike { step: 0, gid: 1 }, Spike { step: 0, gid: 5 }, Spike { step: 2, gid: 0 }]).unwrap();
        w.flush(3, &comm).unwrap();
        assert!(path.exists() && !partial_path(&path).exists());
        // After a flush the file is readable as it stands, before the writer is closed.
        let mid = read_spike_file(&path).unwrap();
        assert_eq!(mid.duration_ms, Some(1.5));
        assert_eq!(mid.populations[0].node_ids, vec![1, 0]);
        w.record_spikes(&[Spike { step: 3, gid: 4 }, Spike { step: 4, gid: 3 }]).unwrap();
        assert_eq!(w.local_counts(), &[2, 1], "counted at the flush");
        w.flush(6, &comm).unwrap();
        assert_eq!(w.local_counts(), &[3, 2]);
        w.finish(6, "complete", &comm).unwrap();
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
    fn chunks_fit_the_expected_counts() {
        assert_eq!(chunk_for(0.0), MIN_CHUNK);
        assert_eq!(chunk_for(5000.0), 8192);
        assert_eq!(chunk_for(1e9), MAX_CHUNK);
    }

    #[test]
    fn unwritable_destination_is_an_output_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("s.h5");
        std::fs::write(dir.path().join("missing-dir"), b"a file").unwrap();
        let err = SpikeWriter::create(&path, vec![], vec![], 1.0, &Provenance::default(), &LocalComm).err().expect("cannot create");
        assert!(matches!(err, Error::Output { .. }), "{err}");
        assert!(!path.exists());
    }
}
