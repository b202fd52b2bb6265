//! One HDF5 file that every rank appends to together (collective), at each flush of a
//! run: the spike file and every report are written through it, so that offsets,
//! resizes, the foresight of the space an append needs, the order of what reaches the
//! disk, and what a failure leaves behind are one code path for every kind of file.
//!
//! What a file holds is what it claims (its `duration_ms`, and whatever else its kind
//! records of its extent, such as a report's time range), always:
//! - the file is created under a temporary name and takes its real name only after its
//!   first append has fully succeeded, so a run that fails before that leaves no file and
//!   a previous run's file untouched;
//! - an append writes the data and flushes it to disk first, and only then moves the
//!   claims forward (and flushes again), so a run killed at any moment leaves a file
//!   whose datasets hold exactly what it claims;
//! - before an append, the bytes it will add are reserved on the device (or compared
//!   with its free space) and compared with the process's file-size limit (`ulimit -f`):
//!   an append that cannot fit is not started, and the run stops with the file as it was;
//! - an append that fails anyway (an I/O error, or space taken by someone else) is
//!   undone: the datasets are cut back to their last good length, the claims restored,
//!   and the file read back; if it cannot be made to agree with its claims it is removed,
//!   and the error says so.

use super::atomic::partial_path;
use super::provenance::Provenance;
use crate::comm::{agree, Communicator};
use crate::error::{Error, Result};
use hdf5::types::VarLenUnicode;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Bytes of HDF5 metadata an append may add besides whole chunks: a fixed margin for
/// object headers and attributes rewritten, and per new chunk its entry in the chunk
/// index (measured: a file's metadata stays the same over 1, 100 or 10,000 appends of
/// the same rows, and grows by ~44 bytes per chunk; BENCHMARKS.md "Output"). The planner
/// sizes files by the same figures (`plan`), so that a run the pre-run check lets start
/// is not refused at an append, and the reverse.
pub const APPEND_FIXED_BYTES: u64 = 16 * 1024;
pub const CHUNK_INDEX_BYTES: u64 = 128;

/// The bytes an append adding `new_chunks` chunks of `chunk_bytes` in all may add to a
/// file, at most.
pub fn append_bytes(new_chunks: u64, chunk_bytes: u64) -> u64 {
    APPEND_FIXED_BYTES + new_chunks * CHUNK_INDEX_BYTES + chunk_bytes
}

/// A dataset that grows along its first axis.
pub struct Extendable {
    pub dataset: hdf5::Dataset,
    /// Its path in the file, to find it again when cutting back a failed append.
    pub name: String,
    /// Rows per chunk, and bytes per row (element size × the other axes' lengths).
    pub chunk_rows: u64,
    pub row_bytes: u64,
}

/// What is particular to a kind of appended file.
pub trait FileKind {
    /// Writes what the file claims to hold, for datasets of `lengths` rows up to
    /// `duration_ms`, beyond `duration_ms` itself (which the appender writes).
    fn claim(&self, file: &hdf5::File, lengths: &[u64], duration_ms: f64) -> hdf5::Result<()>;
    /// Whether the file at `path`, read back whole by a reader of its format, holds
    /// `lengths` rows, claims `duration_ms`, and its contents are valid.
    fn holds(&self, path: &Path, lengths: &[u64], duration_ms: f64) -> bool;
    /// `lengths` rows in words ("1234 spikes").
    fn describe(&self, lengths: &[u64]) -> String;
    /// What a file of this kind is called in messages ("spike file").
    fn noun(&self) -> &'static str;
    /// Checks what a checkpoint recorded of the file beyond its rows and digests (the
    /// spike file: each population's last spike time) against the file, whose datasets
    /// hold at least the recorded rows; says what differs.
    fn check_record(&self, _file: &hdf5::File, _record: &FileRecord) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// What a checkpoint keeps of an output file, so that a run resumed from it appends only
/// to the file as the checkpoint's run left it: not one changed, cut short or replaced
/// by another run's since.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileRecord {
    /// The file's name in the output directory.
    pub name: String,
    /// The run that created it (provenance `run_id`).
    pub run_id: String,
    /// Rows of each dataset, and the digest of those rows: the wrapping sum of
    /// `digest::term(position, bits)` over their values, positions row-major.
    pub lengths: Vec<u64>,
    pub digests: Vec<u64>,
    /// The spike file: each population's last spike time (ms; NaN where it has none).
    pub last_ms: Vec<f64>,
    /// The rate traces: each population's spikes in the bin in progress, all ranks
    /// together (counted on from there by rank 0).
    pub partial: Vec<u64>,
}

pub struct Appender {
    /// The file's real name, and the temporary one it has until its first append.
    path: PathBuf,
    partial: PathBuf,
    renamed: bool,
    file: Option<hdf5::File>,
    datasets: Vec<Extendable>,
    /// Rows of each dataset in the file (the same on every rank).
    lengths: Vec<u64>,
    /// What the file claims to hold, in ms of simulated time.
    duration_ms: f64,
    /// Reserve (or compare with the free space) each append's bytes first.
    foresight: bool,
    kind: Box<dyn FileKind>,
    /// The run that created the file.
    run_id: String,
    /// This rank's share of each dataset's digest (see `FileRecord`): the terms of the
    /// values it wrote (after a resume, rank 0 holds the digest the file was checked at).
    digests: Vec<u64>,
    /// Rank 0 gives back the space reserved beyond the file's end once it is closed.
    rank0: bool,
}

impl Appender {
    /// Creates the file for `path` under its temporary name (collective: every rank
    /// calls it), with its output directory if needed, and lays it out with `layout`,
    /// which returns its extendable datasets (empty).
    pub fn create(
        path: &Path,
        kind: Box<dyn FileKind>,
        comm: &dyn Communicator,
        provenance: &Provenance,
        layout: impl FnOnce(&hdf5::File) -> hdf5::Result<Vec<Extendable>>,
    ) -> Result<Appender> {
        let partial = partial_path(path);
        let output_error = |e: String| Error::Output { path: path.to_path_buf(), message: e };
        if comm.rank() == 0 {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            let made = dir.map_or(Ok(()), std::fs::create_dir_all).map_err(|e| output_error(e.to_string()));
            agree(comm, made)?;
        } else {
            agree(comm, Ok(()))?;
        }
        let file = match agree(comm, open_file(&partial, comm, true).map_err(|e| output_error(cause(&e.to_string())))) {
            Ok(f) => f,
            Err(e) => {
                // HDF5 may have created the file before it failed to write its header.
                if comm.rank() == 0 {
                    let _ = std::fs::remove_file(&partial);
                }
                return Err(e);
            }
        };
        let laid_out = provenance
            .write(&file)
            .and_then(|()| layout(&file))
            .and_then(|d| {
                file.new_attr::<f64>().create("duration_ms")?.write_scalar(&0.0)?;
                text_attr(&file, "status", "running")?;
                file.flush()?;
                Ok(d)
            })
            .map_err(|e| output_error(cause(&e.to_string())));
        let datasets = match agree(comm, laid_out) {
            Ok(d) => d,
            Err(e) => {
                drop(file);
                if comm.rank() == 0 {
                    let _ = std::fs::remove_file(&partial);
                }
                return Err(e);
            }
        };
        Ok(Appender {
            path: path.to_path_buf(),
            partial,
            renamed: false,
            file: Some(file),
            lengths: vec![0; datasets.len()],
            digests: vec![0; datasets.len()],
            datasets,
            duration_ms: 0.0,
            foresight: true,
            kind,
            run_id: provenance.run_id.clone(),
            rank0: comm.rank() == 0,
        })
    }

    /// Opens the file a checkpointed run wrote, to go on appending from the checkpoint
    /// (collective): it must be the file the checkpoint's `record` describes — the same
    /// run's, its datasets (found by `find`) holding at least the recorded rows, those
    /// rows with the recorded digests, the file at least `duration_ms`; whatever it holds
    /// beyond (appended after the checkpoint, before the run was stopped) is cut back,
    /// its claims set to the checkpoint's, and `piece` added to its provenance.
    pub fn reopen(
        path: &Path,
        kind: Box<dyn FileKind>,
        comm: &dyn Communicator,
        (record, duration_ms): (&FileRecord, f64),
        piece: &Provenance,
        find: impl Fn(&hdf5::File) -> hdf5::Result<Vec<Extendable>>,
    ) -> Result<Appender> {
        let lengths = &record.lengths[..];
        let refused = |message: String| Error::Input { path: path.to_path_buf(), message };
        let checked = if comm.rank() == 0 {
            (|| {
                let file = hdf5::File::open(path).map_err(|e| {
                    refused(format!(
                        "the {} the checkpoint's run wrote cannot be opened to append to ({})",
                        kind.noun(),
                        cause(&e.to_string())
                    ))
                })?;
                let run_id = file.attr("run_id").and_then(|a| a.read_scalar::<VarLenUnicode>()).map(|v| v.to_string()).unwrap_or_default();
                if run_id != record.run_id {
                    return Err(refused(format!(
                        "written by another run (run_id {run_id:?}) than the checkpoint's (run_id {:?}): the checkpoint's {} was replaced since",
                        record.run_id,
                        kind.noun()
                    )));
                }
                let holds = file.attr("duration_ms").and_then(|a| a.read_scalar::<f64>()).unwrap_or(-1.0);
                let datasets =
                    find(&file).map_err(|e| refused(format!("not the {} of this model ({})", kind.noun(), cause(&e.to_string()))))?;
                if record.digests.len() != datasets.len() || lengths.len() != datasets.len() {
                    return Err(refused(format!(
                        "the checkpoint records {} datasets of it where the model has {}: a damaged checkpoint",
                        record.digests.len().min(lengths.len()),
                        datasets.len()
                    )));
                }
                let rows: Vec<u64> = datasets.iter().map(|d| d.dataset.shape().first().copied().unwrap_or(0) as u64).collect();
                if holds < duration_ms || rows.len() != lengths.len() || rows.iter().zip(lengths).any(|(r, l)| r < l) {
                    return Err(refused(format!(
                        "holds {holds} ms ({}) where the checkpoint needs {duration_ms} ms ({}): not the file the checkpoint's run wrote",
                        kind.describe(&rows),
                        kind.describe(lengths)
                    )));
                }
                kind.check_record(&file, record)
                    .map_err(|m| refused(format!("{m}: the {} was changed since the checkpoint", kind.noun())))?;
                for ((d, &rows), &digest) in datasets.iter().zip(lengths).zip(&record.digests) {
                    let found = rows_digest(&d.dataset, rows)
                        .map_err(|e| refused(format!("{} cannot be read ({})", d.name, cause(&e.to_string()))))?;
                    if found != digest {
                        return Err(refused(format!(
                            "the first {rows} rows of {} are not those the checkpoint's run wrote (their digest differs): the {} was changed since the checkpoint",
                            d.name,
                            kind.noun()
                        )));
                    }
                }
                Ok(())
            })()
        } else {
            Ok(())
        };
        agree(comm, checked)?;
        let output_error = |e: hdf5::Error| Error::Output { path: path.to_path_buf(), message: cause(&e.to_string()) };
        let file = agree(comm, open_file(path, comm, false).map_err(output_error))?;
        let opened = (|| {
            let datasets = find(&file)?;
            for (d, &rows) in datasets.iter().zip(lengths) {
                let mut shape = d.dataset.shape();
                shape[0] = rows as usize;
                d.dataset.resize(shape)?;
            }
            kind.claim(&file, lengths, duration_ms)?;
            file.attr("duration_ms")?.write_scalar(&duration_ms)?;
            piece.add_piece(&file)?;
            let running = VarLenUnicode::from_str("running").expect("ascii");
            file.attr("status")?.write_scalar(&running)?;
            file.flush()?;
            Ok(datasets)
        })();
        let datasets = agree(comm, opened.map_err(output_error))?;
        // Rank 0 carries the digests the file was checked at; the ranks add their terms.
        let digests = if comm.rank() == 0 { record.digests.clone() } else { vec![0; lengths.len()] };
        Ok(Appender {
            path: path.to_path_buf(),
            partial: partial_path(path),
            renamed: true,
            file: Some(file),
            lengths: lengths.to_vec(),
            datasets,
            duration_ms,
            foresight: true,
            kind,
            run_id: record.run_id.clone(),
            digests,
            rank0: comm.rank() == 0,
        })
    }

    /// Turns off the comparison of each append with the free space (`--skip-space-check`);
    /// the file-size limit is still respected (a write past it can only fail).
    pub fn without_foresight(mut self) -> Self {
        self.foresight = false;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, once created or reopened.
    pub fn file(&self) -> Option<&hdf5::File> {
        self.file.as_ref()
    }

    /// Rows of each dataset in the file.
    pub fn lengths(&self) -> &[u64] {
        &self.lengths
    }

    /// What a checkpoint keeps of the file (collective: the digests are summed over
    /// ranks), under `name`, its name in the output directory.
    pub fn record(&self, name: &str, comm: &dyn Communicator) -> FileRecord {
        let (_, digests) = comm.prefix_and_total(&self.digests);
        FileRecord { name: name.to_string(), run_id: self.run_id.clone(), lengths: self.lengths.clone(), digests, ..FileRecord::default() }
    }

    /// Appends (collective): every dataset is resized to `new_lengths` rows (the same on
    /// every rank), `write` writes this rank's part of the new rows, and the file then
    /// claims `duration_ms` (the simulated time the run has reached). On failure the file is left as after the last good append (or removed,
    /// and said so) and the appender is closed.
    /// `write` adds the digest terms of what it writes to its second argument (one sum
    /// per dataset; `digest::sum_terms`), kept once the append has succeeded.
    pub fn append(
        &mut self,
        new_lengths: &[u64],
        duration_ms: f64,
        comm: &dyn Communicator,
        write: impl FnOnce(&[Extendable], &mut [u64]) -> hdf5::Result<()>,
    ) -> Result<()> {
        if self.file.is_none() {
            return Err(Error::Runtime(format!("{}: appended to after it was closed", self.path.display())));
        }
        {
            let room = if comm.rank() == 0 { self.room_for(new_lengths) } else { Ok(()) };
            if let Err(why) = agreed(comm, room) {
                return Err(self.fail(duration_ms, why, false, comm));
            }
        }
        let mut pending = vec![0u64; self.datasets.len()];
        let written = self.write_rows(new_lengths, |datasets| write(datasets, &mut pending));
        if let Err(why) = agreed(comm, written.map_err(|e| cause(&e.to_string()))) {
            return Err(self.fail(duration_ms, why, true, comm));
        }
        let claimed = self.claim(new_lengths, duration_ms);
        if let Err(why) = agreed(comm, claimed.map_err(|e| cause(&e.to_string()))) {
            return Err(self.fail(duration_ms, why, true, comm));
        }
        if !self.renamed {
            let renamed = if comm.rank() == 0 { self.rename_into_place() } else { Ok(()) };
            agree(comm, renamed)?;
            self.renamed = true;
        }
        self.lengths = new_lengths.to_vec();
        self.duration_ms = duration_ms;
        for (d, p) in self.digests.iter_mut().zip(pending) {
            *d = d.wrapping_add(p);
        }
        Ok(())
    }

    /// Resizes every dataset (collective: every rank, same size, data or not), lets
    /// `write` write this rank's rows, and flushes: the data on disk before anything
    /// says it is there.
    fn write_rows(&self, new_lengths: &[u64], write: impl FnOnce(&[Extendable]) -> hdf5::Result<()>) -> hdf5::Result<()> {
        let file = self.file.as_ref().expect("open");
        for (d, &rows) in self.datasets.iter().zip(new_lengths) {
            let mut shape = d.dataset.shape();
            shape[0] = rows as usize;
            d.dataset.resize(shape)?;
        }
        // The flush is collective under MPI: every rank takes part even where its own
        // write failed, or the others would wait for it forever.
        let written = write(&self.datasets);
        let flushed = file.flush();
        written.and(flushed)
    }

    /// Moves what the file claims forward, and flushes.
    fn claim(&self, lengths: &[u64], duration_ms: f64) -> hdf5::Result<()> {
        let file = self.file.as_ref().expect("open");
        self.kind.claim(file, lengths, duration_ms)?;
        file.attr("duration_ms")?.write_scalar(&duration_ms)?;
        file.flush()
    }

    fn rename_into_place(&self) -> Result<()> {
        std::fs::rename(&self.partial, &self.path).map_err(|e| Error::Output { path: self.path.clone(), message: e.to_string() })
    }

    fn current_path(&self) -> &Path {
        if self.renamed {
            &self.path
        } else {
            &self.partial
        }
    }

    /// Makes sure an append to `new_lengths` rows will fit: the bytes it can add (whole
    /// new chunks, plus a margin for HDF5's metadata) must stay under the file-size limit,
    /// and are reserved on the device beyond the end of the file (fallocate with
    /// FALLOC_FL_KEEP_SIZE), so that HDF5's writes into them cannot meet a full disk or
    /// quota. Where the file system cannot reserve, its free space is compared instead.
    fn room_for(&self, new_lengths: &[u64]) -> std::result::Result<(), String> {
        let (mut chunks, mut bytes) = (0, 0);
        for (d, (&old, &new)) in self.datasets.iter().zip(self.lengths.iter().zip(new_lengths)) {
            let chunk = d.chunk_rows.max(1);
            let added = new.div_ceil(chunk).saturating_sub(old.div_ceil(chunk));
            chunks += added;
            bytes += added * chunk * d.row_bytes;
        }
        let needed = append_bytes(chunks, bytes);
        let on_disk = self.current_path();
        let size = std::fs::metadata(on_disk).map_or(0, |m| m.len());
        let (free, limit) = space_for(on_disk);
        let fmt = crate::units::fmt_bytes;
        if let Some(limit) = limit.filter(|&l| size + needed > l) {
            return Err(format!(
                "the file size limit was reached (ulimit -f): the next append needs up to {} more, the limit is {} and the file has {}",
                fmt(needed),
                fmt(limit),
                fmt(size)
            ));
        }
        if !self.foresight {
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

    /// Undoes a failed append (collective), closes the file, and says what it holds.
    fn fail(&mut self, reached_ms: f64, why: String, undo: bool, comm: &dyn Communicator) -> Error {
        let holds_ms = self.duration_ms;
        let good = self.lengths.clone();
        let names: Vec<String> = self.datasets.drain(..).map(|d| d.name).collect();
        if let Some(file) = self.file.take() {
            let _ = file.close();
        }
        if comm.rank() == 0 {
            release_reservation(self.current_path());
        }
        if undo && self.renamed && comm.rank() == 0 {
            // Best effort, from what is on disk (the library's view of a failed write is
            // not to be trusted): cut the datasets back and restore the claims.
            let _ = cut_back(&self.path, &names, &good, holds_ms, &*self.kind);
        }
        if comm.rank() != 0 {
            return Error::OtherRank { exit_code: crate::error::EXIT_WRITE_FAILED };
        }
        let noun = self.kind.noun();
        let kept = if !self.renamed {
            let _ = std::fs::remove_file(self.current_path());
            format!("no {noun} was kept (nothing had been appended yet), and a previous one is untouched")
        } else if self.kind.holds(&self.path, &good, holds_ms) {
            format!("the file holds the first {holds_ms} ms ({}), as its duration_ms says", self.kind.describe(&good))
        } else {
            let _ = std::fs::remove_file(&self.path);
            "the file could not be brought back to its last good state and was removed".to_string()
        };
        Error::Write { path: self.path.clone(), message: format!("{why}; stopped at {reached_ms} ms of simulated time; {kept}") }
    }

    /// Records how the run ended (`status`: "complete", ...) and closes the file
    /// (collective); a file never appended to (a run of no steps) takes its real name
    /// empty. Returns its path.
    pub fn finish(mut self, status: &str, comm: &dyn Communicator) -> Result<PathBuf> {
        if let Some(file) = self.file.as_ref() {
            let status = VarLenUnicode::from_str(status).unwrap_or_default();
            let written = file.attr("status").and_then(|a| a.write_scalar(&status)).and_then(|()| file.flush());
            if let Err(why) = agreed(comm, written.map_err(|e| cause(&e.to_string()))) {
                let reached = self.duration_ms;
                return Err(self.fail(reached, why, true, comm));
            }
        }
        self.datasets.clear();
        if let Some(file) = self.file.take() {
            agree(comm, file.close().map_err(Error::from))?;
        }
        if comm.rank() == 0 {
            release_reservation(self.current_path());
        }
        if !self.renamed {
            agree(comm, if comm.rank() == 0 { self.rename_into_place() } else { Ok(()) })?;
        }
        Ok(self.path.clone())
    }
}

impl Drop for Appender {
    /// An appender dropped before its first append (the run failed after the file was
    /// created: another output could not be created, say) leaves no temporary file
    /// behind. Every rank drops it together, as every error is agreed on.
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let _ = file.close();
            if !self.renamed {
                let _ = std::fs::remove_file(&self.partial);
            } else if self.rank0 {
                release_reservation(&self.path);
            }
        }
    }
}

/// Gives back the blocks reserved beyond the end of a closed file (`room_for`'s
/// fallocate with FALLOC_FL_KEEP_SIZE): a truncation to its own length frees them
/// (ext4, XFS), so a finished file takes the space of what it holds.
fn release_reservation(path: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
        if let Ok(len) = f.metadata().map(|m| m.len()) {
            let _ = f.set_len(len);
        }
    }
}

/// The digest of the first `rows` rows of a dataset (see `FileRecord`), read in blocks
/// of about 1 MB.
pub fn rows_digest(d: &hdf5::Dataset, rows: u64) -> hdf5::Result<u64> {
    use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
    fn blocks<T: hdf5::H5Type + crate::digest::Bits>(d: &hdf5::Dataset, rows: usize) -> hdf5::Result<u64> {
        let shape = d.shape();
        let width = shape.get(1).copied().unwrap_or(1).max(1);
        let step = ((1 << 20) / (width * std::mem::size_of::<T>())).max(1);
        let mut sum = 0u64;
        for from in (0..rows).step_by(step) {
            let to = (from + step).min(rows);
            let values: Vec<T> = if shape.len() == 2 {
                d.read_slice_2d::<T, _>((from..to, ..))?.iter().copied().collect()
            } else {
                d.read_slice_1d::<T, _>(from..to)?.to_vec()
            };
            sum = sum.wrapping_add(crate::digest::sum_terms((from * width) as u64, &values));
        }
        Ok(sum)
    }
    let rows = rows as usize;
    match d.dtype()?.to_descriptor()? {
        TypeDescriptor::Float(FloatSize::U8) => blocks::<f64>(d, rows),
        TypeDescriptor::Float(FloatSize::U4) => blocks::<f32>(d, rows),
        TypeDescriptor::Unsigned(IntSize::U8) => blocks::<u64>(d, rows),
        TypeDescriptor::Unsigned(IntSize::U4) => blocks::<u32>(d, rows),
        other => Err(hdf5::Error::from(format!("a dataset of {other:?}, not one volley appends").as_str())),
    }
}

/// Why writing failed, in words a user can act on, from the OS error HDF5 passes on.
pub fn cause(message: &str) -> String {
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
    } else if m.contains("unable to lock file") {
        "another program has the file open (HDF5 locks it); close it and run again, or set \
         HDF5_USE_FILE_LOCKING=FALSE where the file system does not support locks"
            .into()
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

/// `agree` for a step of an append: every rank learns whether any failed; the failing
/// rank keeps its cause, the others say that another rank's write failed.
fn agreed(comm: &dyn Communicator, step: std::result::Result<(), String>) -> std::result::Result<(), String> {
    match agree(comm, step.map_err(Error::Runtime)) {
        Ok(()) => Ok(()),
        Err(Error::Runtime(why)) => Err(why),
        Err(_) => Err("another rank's write failed".into()),
    }
}

fn cut_back(path: &Path, names: &[String], lengths: &[u64], duration_ms: f64, kind: &dyn FileKind) -> hdf5::Result<()> {
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
    for (name, &rows) in names.iter().zip(lengths) {
        let d = file.dataset(name)?;
        let mut shape = d.shape();
        shape[0] = rows as usize;
        d.resize(shape)?;
    }
    kind.claim(&file, lengths, duration_ms)?;
    file.attr("duration_ms")?.write_scalar(&duration_ms)?;
    file.close()
}

/// Creates (or, with `create` false, opens for writing) an HDF5 file: through MPI-IO
/// when there is more than one rank. The format is that of HDF5 1.8 and later, so that
/// attributes (the model text) may exceed 64 KB.
pub fn open_file(path: &Path, comm: &dyn Communicator, create: bool) -> hdf5::Result<hdf5::File> {
    let mut builder = hdf5::File::with_options();
    #[cfg(feature = "mpi")]
    if let Some(world) = comm.mpi().filter(|_| comm.size() > 1) {
        use mpi::raw::AsRaw;
        builder.with_fapl(|p| p.mpio(world.as_raw(), None).libver_v18());
        return if create { builder.create(path) } else { builder.open_rw(path) };
    }
    let _ = comm;
    builder.with_fapl(|p| p.libver_v18());
    if create {
        builder.create(path)
    } else {
        builder.open_rw(path)
    }
}

/// A text attribute; text that is not valid for one (a NUL byte) is recorded without it.
pub fn text_attr(location: &hdf5::Location, name: &str, value: &str) -> hdf5::Result<()> {
    let text = VarLenUnicode::from_str(value).or_else(|_| VarLenUnicode::from_str(&value.replace('\0', ""))).unwrap_or_default();
    location.new_attr::<VarLenUnicode>().create(name)?.write_scalar(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::LocalComm;

    struct Plain;

    impl FileKind for Plain {
        fn claim(&self, _: &hdf5::File, _: &[u64], _: f64) -> hdf5::Result<()> {
            Ok(())
        }
        fn holds(&self, _: &Path, _: &[u64], _: f64) -> bool {
            true
        }
        fn describe(&self, lengths: &[u64]) -> String {
            format!("{lengths:?}")
        }
        fn noun(&self) -> &'static str {
            "file"
        }
    }

    fn create(path: &Path) -> Appender {
        Appender::create(path, Box::new(Plain), &LocalComm, &Provenance::default(), |file| {
            let d = file.new_dataset::<u32>().chunk(16).shape(hdf5::Extent::resizable(0)).create("x")?;
            Ok(vec![Extendable { dataset: d, name: "x".into(), chunk_rows: 16, row_bytes: 4 }])
        })
        .unwrap()
    }

    /// Dropped before its first append, an appender leaves nothing; after it, the file
    /// under its real name with what was appended.
    #[test]
    fn a_dropped_appender_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.h5");
        let a = create(&path);
        assert!(partial_path(&path).exists());
        drop(a);
        assert!(!partial_path(&path).exists() && !path.exists());
        let mut a = create(&path);
        a.append(&[3], 1.5, &LocalComm, |d, _| d[0].dataset.write_slice(&[7u32, 8, 9][..], 0..3)).unwrap();
        drop(a);
        let file = hdf5::File::open(&path).unwrap();
        assert_eq!(file.dataset("x").unwrap().read_raw::<u32>().unwrap(), vec![7, 8, 9]);
        assert_eq!(file.attr("duration_ms").unwrap().read_scalar::<f64>().unwrap(), 1.5);
        assert!(!partial_path(&path).exists());
    }
}
