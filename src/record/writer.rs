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
//! What the file holds is what its root attribute `duration_ms` says, always:
//! - the file is created under a temporary name and takes its real name only after its
//!   first append has fully succeeded, so a run that fails before that leaves no file
//!   and a previous run's file untouched;
//! - an append writes the spikes and flushes them to disk first, and only then moves
//!   `duration_ms` forward (and flushes again), so a run killed at any moment leaves a
//!   file whose datasets hold exactly the spikes up to `duration_ms`;
//! - before an append, the bytes it will add are compared with the free space of the
//!   file system and the process's file-size limit (`ulimit -f`): an append that cannot
//!   fit is not started, and the run stops with the file as it was;
//! - an append that fails anyway (an I/O error, or space taken by someone else) is
//!   undone: the datasets are cut back to the last good length, and the file is read
//!   back; if it cannot be made to agree with its `duration_ms` it is removed, and the
//!   error says so.

use super::atomic::partial_path;
use super::sonata::{PopulationRange, Sorting, MAGIC, VERSION};
use super::Recorder;
use crate::comm::{agree, Communicator};
use crate::error::{Error, Result};
use crate::spike::Spike;
use hdf5::types::VarLenUnicode;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Elements per HDF5 chunk: bounds for the size chosen from the expected spike count.
pub const MIN_CHUNK: usize = 1 << 10;
pub const MAX_CHUNK: usize = 1 << 16;

/// Bytes of HDF5 metadata an append may add besides whole chunks (chunk index nodes,
/// object headers): generous, so that the foresight errs on the side of stopping early.
const METADATA_MARGIN: u64 = 256 * 1024;

/// The chunk length for a dataset expected to receive `spikes_per_flush` elements per
/// append: the next power of two, within [MIN_CHUNK, MAX_CHUNK]. Small runs give small
/// files; large ones keep large chunks (fewer index entries, larger writes).
pub fn chunk_for(spikes_per_flush: f64) -> usize {
    let n = spikes_per_flush.clamp(1.0, MAX_CHUNK as f64).ceil() as usize;
    n.next_power_of_two().clamp(MIN_CHUNK, MAX_CHUNK)
}

/// What the file records about the run that wrote it (root attributes).
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    pub volley_version: String,
    pub git_revision: String,
    /// The model file's text as run, after the command line's replacements.
    pub model: String,
    pub seed: u64,
    pub command_line: String,
    pub ranks: u64,
    pub threads: u64,
    /// UTC, ISO 8601.
    pub start_time: String,
}

struct Datasets {
    timestamps: hdf5::Dataset,
    node_ids: hdf5::Dataset,
}

pub struct SpikeWriter {
    /// The file's real name, and the temporary one it has until its first append.
    path: Option<PathBuf>,
    partial: Option<PathBuf>,
    renamed: bool,
    file: Option<hdf5::File>,
    datasets: Vec<Datasets>,
    chunks: Vec<usize>,
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
    /// Reserve (or compare with the free space) each append's bytes first.
    foresight: bool,
}

/// Why writing failed, in words a user can act on, from the OS error HDF5 passes on.
fn cause(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    if m.contains("no space left") {
        "no space left on the device".into()
    } else if m.contains("quota") {
        "disk quota exceeded".into()
    } else if m.contains("file too large") {
        "the file size limit was reached (ulimit -f)".into()
    } else if m.contains("input/output error") {
        "an I/O error".into()
    } else if m.contains("permission denied") {
        "permission denied".into()
    } else {
        format!("HDF5: {}", message.lines().next().unwrap_or(message))
    }
}

/// Free bytes for this user on the file system holding `path`, and the process's
/// file-size limit (None: unlimited).
pub fn space_for(path: &Path) -> (Option<u64>, Option<u64>) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let free = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok().and_then(|c| {
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid C string and a zeroed out-parameter.
        (unsafe { libc::statvfs(c.as_ptr(), &mut s) } == 0).then(|| s.f_bavail as u64 * s.f_frsize as u64)
    });
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the out-parameter.
    let fsize = (unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit) } == 0 && limit.rlim_cur != libc::RLIM_INFINITY)
        .then_some(limit.rlim_cur);
    (free, fsize)
}

impl SpikeWriter {
    /// Creates the spike file for `path` (collective: every rank calls it), under its
    /// temporary name, with `chunks[p]` elements per chunk for population p. Creates
    /// the output directory if needed.
    pub fn create(
        path: &Path,
        populations: Vec<PopulationRange>,
        chunks: Vec<usize>,
        dt_ms: f64,
        provenance: &Provenance,
        comm: &dyn Communicator,
    ) -> Result<SpikeWriter> {
        let partial = partial_path(path);
        let output_error = |e: String| Error::Output { path: path.to_path_buf(), message: e };
        if comm.rank() == 0 {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            let made = dir.map_or(Ok(()), std::fs::create_dir_all).map_err(|e| output_error(e.to_string()));
            agree(comm, made)?;
        } else {
            agree(comm, Ok(()))?;
        }
        let file = match agree(comm, open(&partial, comm).map_err(|e| output_error(cause(&e.to_string())))) {
            Ok(f) => f,
            Err(e) => {
                // HDF5 may have created the file before it failed to write its header.
                if comm.rank() == 0 {
                    let _ = std::fs::remove_file(&partial);
                }
                return Err(e);
            }
        };
        let layout = layout(&file, &populations, &chunks, provenance).map_err(|e| output_error(cause(&e.to_string())));
        let datasets = match agree(comm, layout) {
            Ok(d) => d,
            Err(e) => {
                drop(file);
                if comm.rank() == 0 {
                    let _ = std::fs::remove_file(&partial);
                }
                return Err(e);
            }
        };
        let mut writer = SpikeWriter::counting(populations, dt_ms);
        writer.path = Some(path.to_path_buf());
        writer.partial = Some(partial);
        writer.file = Some(file);
        writer.datasets = datasets;
        writer.chunks = chunks;
        writer.foresight = true;
        Ok(writer)
    }

    /// A writer without a file: it only counts (runs that write no spike file).
    pub fn counting(populations: Vec<PopulationRange>, dt_ms: f64) -> SpikeWriter {
        let n = populations.len();
        SpikeWriter {
            path: None,
            partial: None,
            renamed: false,
            file: None,
            datasets: Vec::new(),
            chunks: vec![MAX_CHUNK; n],
            populations,
            lengths: vec![0; n],
            buffer: Vec::new(),
            flushed_step: 0,
            dt_ms,
            local_counts: vec![0; n],
            foresight: false,
        }
    }

    /// Turns off the comparison of each append with the free space (`--skip-space-check`);
    /// the file-size limit is still respected (a write past it can only fail).
    pub fn without_foresight(mut self) -> Self {
        self.foresight = false;
        self
    }

    /// This rank's spike count per population in the file so far (up to the last flush).
    pub fn local_counts(&self) -> &[u64] {
        &self.local_counts
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
        if self.file.is_none() {
            pop_of.iter().for_each(|&p| self.local_counts[p] += 1);
            self.buffer.clear();
            self.flushed_step = until_step;
            return Ok(());
        }
        // Spikes per (population, step of the window), this rank's; their offsets.
        let n_pops = self.populations.len();
        let mut counts = vec![0u64; n_pops * steps];
        for (s, &p) in self.buffer.iter().zip(&pop_of) {
            counts[p * steps + (s.step as u64 - self.flushed_step) as usize] += 1;
        }
        let (before, total) = comm.prefix_and_total(&counts);
        {
            let room = if comm.rank() == 0 { self.room_for(&total, steps, self.foresight) } else { Ok(()) };
            if let Err(why) = agreed(comm, room) {
                return Err(self.fail(until_step, why, false, comm));
            }
        }
        let old_lengths = self.lengths.clone();
        let written = self.write_window(&counts, &before, &total, &pop_of, steps);
        if let Err(why) = agreed(comm, written.map_err(|e| cause(&e.to_string()))) {
            self.lengths = old_lengths;
            return Err(self.fail(until_step, why, true, comm));
        }
        // The spikes are on disk: now the file may say it holds them.
        let committed = self.set_attr_and_flush("duration_ms", until_step as f64 * self.dt_ms);
        if let Err(why) = agreed(comm, committed.map_err(|e| cause(&e.to_string()))) {
            self.lengths = old_lengths;
            return Err(self.fail(until_step, why, true, comm));
        }
        if !self.renamed {
            let renamed = if comm.rank() == 0 { self.rename_into_place() } else { Ok(()) };
            agree(comm, renamed)?;
            self.renamed = true;
        }
        pop_of.iter().for_each(|&p| self.local_counts[p] += 1);
        self.buffer.clear();
        self.flushed_step = until_step;
        Ok(())
    }

    fn rename_into_place(&self) -> Result<()> {
        let (partial, path) = (self.partial.as_ref().expect("a file"), self.path.as_ref().expect("a file"));
        std::fs::rename(partial, path).map_err(|e| Error::Output { path: path.clone(), message: e.to_string() })
    }

    /// Makes sure an append of `total` spikes (per population and step) will fit: the
    /// bytes it can add (whole new chunks, plus a margin for HDF5's metadata) must stay
    /// under the file-size limit, and are reserved on the device beyond the end of the
    /// file (fallocate with FALLOC_FL_KEEP_SIZE), so that HDF5's writes into them cannot
    /// meet a full disk or quota. Where the file system cannot reserve, its free space
    /// is compared instead.
    fn room_for(&self, total: &[u64], steps: usize, free_space: bool) -> std::result::Result<(), String> {
        let mut needed = METADATA_MARGIN;
        for (p, &old) in self.lengths.iter().enumerate() {
            let new = old + total[p * steps..(p + 1) * steps].iter().sum::<u64>();
            let chunk = self.chunks[p] as u64;
            needed += (new.div_ceil(chunk) - old.div_ceil(chunk)) * chunk * 16;
        }
        let on_disk = self.current_path();
        let size = std::fs::metadata(on_disk).map_or(0, |m| m.len());
        let (free, limit) = space_for(on_disk);
        let fmt = crate::run::fmt_bytes;
        if let Some(limit) = limit.filter(|&l| size + needed > l) {
            return Err(format!(
                "the file size limit was reached (ulimit -f): the next append needs up to {} more, the limit is {} and the file has {}",
                fmt(needed),
                fmt(limit),
                fmt(size)
            ));
        }
        if !free_space {
            return Ok(());
        }
        let reserved = std::fs::OpenOptions::new().write(true).open(on_disk).map_err(|e| e.to_string()).and_then(|f| {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid descriptor; fallocate only allocates blocks of this file.
            let r = unsafe { libc::fallocate(f.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, size as libc::off_t, needed as libc::off_t) };
            if r == 0 {
                Ok(true)
            } else {
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL) => Ok(false),
                    Some(libc::ENOSPC) => Err(format!(
                        "no space left on the device: the next append needs up to {}{}",
                        fmt(needed),
                        free.map_or(String::new(), |f| format!(" but {} are free", fmt(f)))
                    )),
                    Some(libc::EDQUOT) => Err(format!("disk quota exceeded: the next append needs up to {}", fmt(needed))),
                    _ => Err(std::io::Error::last_os_error().to_string()),
                }
            }
        })?;
        if let Some(free) = free.filter(|&f| !reserved && needed > f) {
            return Err(format!("no space left on the device: the next append needs up to {} but {} are free", fmt(needed), fmt(free)));
        }
        Ok(())
    }

    fn current_path(&self) -> &Path {
        if self.renamed {
            self.path.as_deref().expect("a file")
        } else {
            self.partial.as_deref().expect("a file")
        }
    }

    fn write_window(&mut self, counts: &[u64], before: &[u64], total: &[u64], pop_of: &[usize], steps: usize) -> hdf5::Result<()> {
        for p in 0..self.populations.len() {
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
            let mut spikes = self.buffer.iter().zip(pop_of).filter(|(_, &q)| q == p).map(|(s, _)| s);
            for k in 0..steps {
                let n = counts[p * steps + k] as usize;
                if n > 0 {
                    let at = position + before[p * steps + k];
                    match runs.last_mut() {
                        Some((pos, _, len)) if *pos + *len as u64 == at => *len += n,
                        _ => runs.push((at, ts.len(), n)),
                    }
                    for s in spikes.by_ref().take(n) {
                        ts.push(s.time_ms(self.dt_ms));
                        ids.push(s.gid as u64 - first);
                    }
                }
                position += total[p * steps + k];
            }
            for (pos, at, len) in runs {
                let pos = pos as usize;
                d.timestamps.write_slice(&ts[at..at + len], pos..pos + len)?;
                d.node_ids.write_slice(&ids[at..at + len], pos..pos + len)?;
            }
            self.lengths[p] = new_len as u64;
        }
        // The data to disk before anything says it is there.
        self.file.as_ref().expect("open").flush()
    }

    fn set_attr_and_flush(&self, name: &str, value: f64) -> hdf5::Result<()> {
        let file = self.file.as_ref().expect("open");
        file.attr(name)?.write_scalar(&value)?;
        file.flush()
    }

    /// Undoes a failed append (collective), closes the file, and says what it holds.
    fn fail(&mut self, reached_step: u64, why: String, undo: bool, comm: &dyn Communicator) -> Error {
        let holds_ms = self.flushed_ms();
        let good: Vec<u64> = self.lengths.clone();
        self.datasets.clear();
        if let Some(file) = self.file.take() {
            let _ = file.close();
        }
        let path = self.path.clone().expect("a file");
        if undo && self.renamed && comm.rank() == 0 {
            // Best effort, from what is on disk (the library's view of a failed write is
            // not to be trusted): cut the datasets back and restore duration_ms.
            let _ = cut_back(&path, &self.populations, &good, holds_ms);
        }
        let reached_ms = reached_step as f64 * self.dt_ms;
        let mut kept = String::new();
        if comm.rank() == 0 {
            kept = if !self.renamed {
                let _ = std::fs::remove_file(self.current_path());
                "no spike file was kept (nothing had been appended yet), and a previous one is untouched".to_string()
            } else if holds_what_it_says(&path, &good, holds_ms) {
                let spikes: u64 = good.iter().sum();
                format!("the file holds the first {holds_ms} ms ({spikes} spikes), as its duration_ms says")
            } else {
                let _ = std::fs::remove_file(&path);
                "the file could not be brought back to its last good state and was removed".to_string()
            };
        }
        if comm.rank() != 0 {
            return Error::OtherRank { exit_code: crate::error::EXIT_WRITE_FAILED };
        }
        Error::Write { path, message: format!("{why}; stopped at {reached_ms} ms of simulated time; {kept}") }
    }

    /// Flushes what is left, records how the run ended (`status`: "complete", ...) and
    /// closes the file (collective). Returns its path.
    pub fn finish(mut self, until_step: u64, status: &str, comm: &dyn Communicator) -> Result<Option<PathBuf>> {
        self.flush(until_step, comm)?;
        if self.file.is_some() {
            let status = VarLenUnicode::from_str(status).unwrap_or_default();
            let file = self.file.as_ref().expect("open");
            let written = file.attr("status").and_then(|a| a.write_scalar(&status)).and_then(|()| file.flush());
            if let Err(why) = agreed(comm, written.map_err(|e| cause(&e.to_string()))) {
                return Err(self.fail(until_step, why, true, comm));
            }
        }
        self.datasets.clear();
        if let Some(file) = self.file.take() {
            agree(comm, file.close().map_err(Error::from))?;
        }
        if self.path.is_some() && !self.renamed {
            // A run of no steps: nothing appended, but a complete (empty) file.
            agree(comm, if comm.rank() == 0 { self.rename_into_place() } else { Ok(()) })?;
        }
        Ok(self.path)
    }
}

/// `agree` for a step of an append: every rank learns whether any failed; the failing
/// rank keeps its cause, the others say that another rank's write failed.
fn agreed(comm: &dyn Communicator, step: std::result::Result<(), String>) -> std::result::Result<(), String> {
    match agree(comm, step.map_err(Error::Runtime)) {
        Ok(()) => Ok(()),
        Err(Error::Runtime(why)) => Err(why),
        Err(_) => Err("another rank's write failed".into()),
    }
}

fn cut_back(path: &Path, populations: &[PopulationRange], lengths: &[u64], duration_ms: f64) -> hdf5::Result<()> {
    let file = match hdf5::File::open_rw(path) {
        Ok(f) => f,
        Err(e) => {
            // A failed write can leave the superblock's end of allocation beyond the end
            // of the file, which HDF5 refuses to open ("truncated file ... stored_eof =
            // N"). The missing tail held only what the failed append added: extending
            // the file to N (a hole, which takes no space) lets it open, and the cut
            // below drops that tail from the datasets.
            let message = e.to_string();
            let stored =
                message.split("stored_eof = ").nth(1).and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok());
            let Some(eof) = stored else { return Err(e) };
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(eof))
                .map_err(|io| hdf5::Error::from(io.to_string().as_str()))?;
            hdf5::File::open_rw(path)?
        }
    };
    for (p, &len) in populations.iter().zip(lengths) {
        for d in ["timestamps", "node_ids"] {
            file.dataset(&format!("spikes/{}/{d}", p.name))?.resize(len as usize)?;
        }
    }
    file.attr("duration_ms")?.write_scalar(&duration_ms)?;
    file.close()
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

impl Recorder for SpikeWriter {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        // Populations are counted at the flush, which sorts spikes into them anyway.
        self.buffer.extend_from_slice(spikes);
        Ok(())
    }
}

/// Opens the file: through MPI-IO when there is more than one rank. The format is that
/// of HDF5 1.8 and later, so that attributes (the model text) may exceed 64 KB.
fn open(path: &Path, comm: &dyn Communicator) -> hdf5::Result<hdf5::File> {
    #[cfg(feature = "mpi")]
    if let Some(world) = comm.mpi().filter(|_| comm.size() > 1) {
        use mpi::raw::AsRaw;
        return hdf5::File::with_options().with_fapl(|p| p.mpio(world.as_raw(), None).libver_v18()).create(path);
    }
    let _ = comm;
    hdf5::File::with_options().with_fapl(|p| p.libver_v18()).create(path)
}

fn text_attr(location: &hdf5::Location, name: &str, value: &str) -> hdf5::Result<()> {
    // Text that is not valid for the attribute (a NUL byte) is recorded without it.
    let text = VarLenUnicode::from_str(value).or_else(|_| VarLenUnicode::from_str(&value.replace('\0', ""))).unwrap_or_default();
    location.new_attr::<VarLenUnicode>().create(name)?.write_scalar(&text)
}

/// The SONATA groups, attributes and empty extendable datasets, and the provenance
/// (collective).
fn layout(file: &hdf5::File, populations: &[PopulationRange], chunks: &[usize], provenance: &Provenance) -> hdf5::Result<Vec<Datasets>> {
    file.new_attr::<u32>().create("magic")?.write_scalar(&MAGIC)?;
    file.new_attr::<u32>().shape(2).create("version")?.write(&VERSION)?;
    file.new_attr::<f64>().create("duration_ms")?.write_scalar(&0.0)?;
    text_attr(file, "status", "running")?;
    text_attr(file, "volley_version", &provenance.volley_version)?;
    text_attr(file, "git_revision", &provenance.git_revision)?;
    text_attr(file, "model", &provenance.model)?;
    file.new_attr::<u64>().create("seed")?.write_scalar(&provenance.seed)?;
    text_attr(file, "command_line", &provenance.command_line)?;
    file.new_attr::<u64>().create("ranks")?.write_scalar(&provenance.ranks)?;
    file.new_attr::<u64>().create("threads")?.write_scalar(&provenance.threads)?;
    text_attr(file, "start_time", &provenance.start_time)?;
    let spikes = file.create_group("spikes")?;
    let units = VarLenUnicode::from_str("ms").expect("ascii");
    let mut out = Vec::new();
    for (pop, &chunk) in populations.iter().zip(chunks) {
        let group = spikes.create_group(&pop.name)?;
        group.new_attr::<Sorting>().create("sorting")?.write_scalar(&Sorting::by_time)?;
        group.new_attr::<u64>().create("n_nodes")?.write_scalar(&pop.size)?;
        let timestamps = group.new_dataset::<f64>().chunk(chunk).shape(hdf5::Extent::resizable(0)).create("timestamps")?;
        timestamps.new_attr::<VarLenUnicode>().create("units")?.write_scalar(&units)?;
        let node_ids = group.new_dataset::<u64>().chunk(chunk).shape(hdf5::Extent::resizable(0)).create("node_ids")?;
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
        let mut w = SpikeWriter::create(&path, pops, vec![MIN_CHUNK; 2], 0.5, &Provenance::default(), &comm).unwrap();
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
