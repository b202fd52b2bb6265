//! Spike files in the SONATA layout (DESIGN.md §4), readable by h5py, libsonata and bmtk:
//!
//! ```text
//! /                      attrs magic = 0x0A7A (u32), version = [0, 1] (u32)
//! /spikes/<population>   attr sorting = by_time (enum u8: none, by_id, by_time)
//!        /timestamps     f64, ms, attr units = "ms"
//!        /node_ids       u64, population-local ids
//! ```
//!
//! `writer` appends to such a file during a run; this module holds the layout's names
//! and the reader.

use crate::error::{Error, Result};
use crate::spike::Spike;
use hdf5::H5Type;
use std::path::Path;
use std::str::FromStr;

pub const MAGIC: u32 = 0x0A7A;
pub const VERSION: [u32; 2] = [0, 1];

/// SONATA's `sorting` attribute: an HDF5 enum over u8 with exactly these member names.
#[allow(non_camel_case_types)]
#[derive(H5Type, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Sorting {
    none = 0,
    by_id = 1,
    by_time = 2,
}

/// The spikes of one population, as stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PopulationSpikes {
    pub name: String,
    /// Number of neurons in the population (attribute `n_nodes`, volley's addition: a
    /// spike list alone cannot tell silent neurons from absent ones).
    pub size: Option<u64>,
    /// How many of them the file records (`n_recorded`; None where the file does not
    /// say, as a file of another simulator does): rates divide by this.
    pub recorded: Option<u64>,
    pub timestamps_ms: Vec<f64>,
    pub node_ids: Vec<u64>,
}

impl PopulationSpikes {
    /// Its number of neurons: `n_nodes`, or, where the file does not say, its largest id + 1.
    pub fn neurons(&self) -> u64 {
        self.size.unwrap_or_else(|| self.node_ids.iter().max().map_or(0, |m| m + 1))
    }

    /// The neurons whose spikes the file holds: those recorded, else the population.
    pub fn recorded_neurons(&self) -> Option<u64> {
        self.recorded.or(self.size)
    }
}

/// What a population contributes to a spike file: its name and global id range.
#[derive(Clone, Debug)]
pub struct PopulationRange {
    pub name: String,
    pub first_gid: u64,
    pub size: u64,
}

/// Splits spikes (sorted by step then id) into per-population lists of (time, local id),
/// keeping the time order.
pub fn split_by_population(spikes: &[Spike], populations: &[PopulationRange], dt_ms: f64) -> Vec<PopulationSpikes> {
    let mut out: Vec<PopulationSpikes> =
        populations.iter().map(|p| PopulationSpikes { name: p.name.clone(), size: Some(p.size), ..Default::default() }).collect();
    for s in spikes {
        let gid = s.gid as u64;
        if let Some(i) = populations.iter().position(|p| gid >= p.first_gid && gid < p.first_gid + p.size) {
            out[i].timestamps_ms.push(s.time_ms(dt_ms));
            out[i].node_ids.push(gid - populations[i].first_gid);
        }
    }
    out
}

/// A whole spike file: the populations and, when known, the simulated time (root
/// attribute `duration_ms`, volley's addition, so that rates count silent tails).
#[derive(Clone, Debug, Default)]
pub struct SpikeFile {
    pub duration_ms: Option<f64>,
    pub populations: Vec<PopulationSpikes>,
    /// The run that wrote it (root attributes of a volley file; empty for others).
    pub provenance: Vec<(String, String)>,
}

/// Two spike files are equal when they hold the same spikes over the same time, however
/// and whenever they were made (provenance is not compared).
impl PartialEq for SpikeFile {
    fn eq(&self, other: &Self) -> bool {
        self.duration_ms == other.duration_ms && self.populations == other.populations
    }
}

/// Root attributes that record where a volley spike file came from, in print order
/// (`record::provenance`). A list is read as one entry per element: `outputs` joined,
/// `pieces` as `piece 1`, `piece 2`, ...
pub const PROVENANCE: [&str; 13] = [
    "status",
    "volley_version",
    "git_revision",
    "seed",
    "run_id",
    "backend",
    "ranks",
    "threads",
    "start_time",
    "command_line",
    "outputs",
    "pieces",
    "model",
];

/// Reads every population of a SONATA spike file, checking the layout.
pub fn read_spike_file(path: &Path) -> Result<SpikeFile> {
    read_every(path, 1)
}

/// Reads the spikes of every `stride`-th neuron of each population (node ids multiple of
/// `stride`), with `stride` chosen so that at most `max_neurons` neurons are kept, in
/// chunks: memory stays bounded by what is kept, whatever the file's size (a raster of
/// 10⁷ neurons draws no more rows than it has pixels). Returns the file and the stride.
pub fn read_spike_file_sampled(path: &Path, max_neurons: u64) -> Result<(SpikeFile, u64)> {
    let stride = sampling_stride(path, max_neurons)?;
    Ok((read_every(path, stride)?, stride))
}

/// Every how many neurons one is kept so that at most `max_neurons` are (from the
/// populations' `n_nodes`), and the file's `duration_ms`.
pub fn sampling_stride(path: &Path, max_neurons: u64) -> Result<u64> {
    let sizes = read_every_sizes(path)?;
    Ok(sizes.div_ceil(max_neurons.max(1)).max(1))
}

/// The file's `duration_ms`, if it records one.
pub fn read_duration(path: &Path) -> Result<Option<f64>> {
    let (file, _) = open_spikes(path)?;
    Ok(file.attr("duration_ms").and_then(|a| a.read_scalar::<f64>()).ok())
}

/// HDF5's signature, at offset 0 or after a user block of 512 · 2^k bytes.
const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

fn open_spikes(path: &Path) -> Result<(hdf5::File, hdf5::Group)> {
    let bad = |message: String| Error::Input { path: path.to_path_buf(), message };
    let file = open_hdf5(path, "spike file")?;
    let group = file.group("spikes").map_err(|_| {
        let name = path.display();
        // Say what the file is where it is one of volley's others, and how to show it.
        bad(if file.group("report").is_ok() {
            format!("a report of sampled state (/report), not a spike file: plot it beside its run's spikes, `volley plot SPIKES.h5 --report {name}`")
        } else if file.group("rates").is_ok() {
            format!("a file of population rates (/rates), not a spike file: draw it with `volley plot {name}`, or give the spike file of the same run")
        } else {
            "an HDF5 file without a /spikes group: not a SONATA spike file".to_string()
        })
    })?;
    Ok((file, group))
}

/// Opens an HDF5 file to read, telling a missing, unreadable, foreign and damaged
/// (truncated) file apart before HDF5 tries; `what` names what it should be.
pub fn open_hdf5(path: &Path, what: &str) -> Result<hdf5::File> {
    let bad = |message: String| Error::Input { path: path.to_path_buf(), message };
    if path.is_dir() {
        return Err(bad(format!("it is a directory, not a {what}")));
    }
    let mut head = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let len = head.metadata().map_or(0, |m| m.len());
    let signed = [0u64, 512, 1024, 2048, 4096].iter().any(|&at| {
        use std::io::{Read, Seek};
        let mut sig = [0u8; 8];
        at + 8 <= len && head.seek(std::io::SeekFrom::Start(at)).is_ok() && head.read_exact(&mut sig).is_ok() && &sig == HDF5_SIGNATURE
    });
    if !signed {
        return Err(bad(format!("not an HDF5 file ({len} bytes, without HDF5's signature)")));
    }
    let file = hdf5::File::open(path).map_err(|e| {
        let detail = e.to_string();
        let first = detail.split(':').next_back().unwrap_or(&detail).trim().to_string();
        bad(format!("an HDF5 file that cannot be opened, truncated or damaged ({first})"))
    })?;
    Ok(file)
}

/// The provenance attributes present, as text.
fn read_provenance(file: &hdf5::File) -> Vec<(String, String)> {
    use hdf5::types::VarLenUnicode;
    let mut out = Vec::new();
    for &name in &PROVENANCE {
        let Ok(attr) = file.attr(name) else { continue };
        if attr.is_scalar() {
            let text = attr
                .read_scalar::<VarLenUnicode>()
                .map(|t| t.as_str().to_string())
                .or_else(|_| attr.read_scalar::<u64>().map(|x| x.to_string()));
            if let Ok(text) = text {
                out.push((name.to_string(), text));
            }
            continue;
        }
        let list: Vec<String> =
            attr.read_raw::<VarLenUnicode>().map(|l| l.iter().map(|t| t.as_str().to_string()).collect()).unwrap_or_default();
        match name {
            "pieces" => out.extend(list.into_iter().enumerate().map(|(k, p)| (format!("piece {}", k + 1), p))),
            _ => out.push((name.to_string(), list.join(", "))),
        }
    }
    out
}

/// Neurons in all populations, from their `n_nodes` attributes (0 where absent).
fn read_every_sizes(path: &Path) -> Result<u64> {
    let (_file, group) = open_spikes(path)?;
    let mut total = 0;
    for name in group.member_names()? {
        total += group.group(&name)?.attr("n_nodes").and_then(|a| a.read_scalar::<u64>()).unwrap_or(0);
    }
    Ok(total)
}

/// Spikes read per chunk (a chunk of the file as volley writes it at most: 1 MB of
/// times and ids held at a time).
const READ_CHUNK: usize = 1 << 16;

fn read_every(path: &Path, stride: u64) -> Result<SpikeFile> {
    let mut populations: Vec<PopulationSpikes> = Vec::new();
    let (duration_ms, provenance) = visit_every(path, stride, |visit| match visit {
        Visit::Population(header) => populations.push(PopulationSpikes {
            name: header.name.clone(),
            size: header.size,
            recorded: header.recorded,
            timestamps_ms: Vec::new(),
            node_ids: Vec::new(),
        }),
        Visit::Spikes(_, t, i) => {
            let p = populations.last_mut().expect("a population's header comes first");
            p.timestamps_ms.extend_from_slice(t);
            p.node_ids.extend_from_slice(i);
        }
    })?;
    Ok(SpikeFile { duration_ms, populations, provenance })
}

/// What `visit_every` hands over: a population's header, then chunks of its spikes
/// (population index, times, ids).
pub enum Visit<'a> {
    Population(&'a PopulationHeader),
    Spikes(usize, &'a [f64], &'a [u64]),
}

/// A file's provenance attributes: (name, value as text).
pub type Provenance = Vec<(String, String)>;

/// A population of a spike file, before its spikes.
#[derive(Clone, Debug, Default)]
pub struct PopulationHeader {
    pub name: String,
    pub size: Option<u64>,
    /// Neurons recorded (`n_recorded`), and of those, the ones a reader keeping every
    /// `stride`-th id keeps (from `recorded_node_ids`; all kept ids where every neuron
    /// is recorded). None where the file does not say.
    pub recorded: Option<u64>,
    pub recorded_kept: Option<u64>,
}

/// The populations of a spike file in the model's order: as its `/spikes` group lists
/// them (volley's files), then any others by name.
pub(super) fn population_order(group: &hdf5::Group) -> hdf5::Result<Vec<String>> {
    let mut names = group.member_names()?;
    let listed = super::provenance::read_text_list(group, "populations").unwrap_or_default();
    names.sort_by_key(|n| listed.iter().position(|l| l == n).unwrap_or(usize::MAX));
    Ok(names)
}

/// Reads the spike file at `path` in chunks, keeping the spikes of every `stride`-th
/// neuron: `visit` is handed each population's header, then each chunk of its kept
/// spikes, so that memory stays one chunk whatever the file's size. Returns the file's
/// duration_ms and provenance.
pub fn visit_every(path: &Path, stride: u64, mut visit: impl FnMut(Visit)) -> Result<(Option<f64>, Provenance)> {
    let bad = |message: String| Error::Input { path: path.to_path_buf(), message };
    let (file, group) = open_spikes(path)?;
    for (k, name) in population_order(&group)?.into_iter().enumerate() {
        let pop = group.group(&name)?;
        let ts = pop.dataset("timestamps").map_err(|_| bad(format!("/spikes/{name}/timestamps missing")))?;
        let ids = pop.dataset("node_ids").map_err(|_| bad(format!("/spikes/{name}/node_ids missing")))?;
        let (n, m) = (ts.size(), ids.size());
        if n != m {
            return Err(bad(format!("/spikes/{name}: {n} timestamps but {m} node_ids")));
        }
        let size = pop.attr("n_nodes").and_then(|a| a.read_scalar::<u64>()).ok();
        let recorded = pop.attr("n_recorded").and_then(|a| a.read_scalar::<u64>()).ok();
        let recorded_kept = match pop.dataset("recorded_node_ids") {
            Ok(d) => {
                let ids: Vec<u64> = d.read_raw().map_err(|_| bad(format!("/spikes/{name}/recorded_node_ids not integer")))?;
                Some(ids.iter().filter(|&&i| i % stride == 0).count() as u64)
            }
            Err(_) => recorded.filter(|&r| Some(r) == size).map(|r| r.div_ceil(stride)),
        };
        visit(Visit::Population(&PopulationHeader { name: name.clone(), size, recorded, recorded_kept }));
        let (mut kept_t, mut kept_i) = (Vec::new(), Vec::new());
        for from in (0..n).step_by(READ_CHUNK) {
            let end = (from + READ_CHUNK).min(n);
            let t: Vec<f64> = ts.read_slice_1d(from..end).map_err(|_| bad(format!("/spikes/{name}/timestamps not numeric")))?.to_vec();
            let i: Vec<u64> = ids.read_slice_1d(from..end).map_err(|_| bad(format!("/spikes/{name}/node_ids not integer")))?.to_vec();
            if stride == 1 {
                visit(Visit::Spikes(k, &t, &i));
                continue;
            }
            kept_t.clear();
            kept_i.clear();
            for (t, i) in t.into_iter().zip(i) {
                if i % stride == 0 {
                    kept_t.push(t);
                    kept_i.push(i);
                }
            }
            visit(Visit::Spikes(k, &kept_t, &kept_i));
        }
    }
    let duration_ms = file.attr("duration_ms").and_then(|a| a.read_scalar::<f64>()).ok();
    Ok((duration_ms, read_provenance(&file)))
}

/// Checks one population's spikes, one after another, against the file's attributes:
/// what `SpikeFile::validate` checks, for a file read in chunks.
pub struct SpikeCheck {
    name: String,
    size: Option<u64>,
    duration_ms: Option<f64>,
    last_ms: f64,
    /// Index of the next spike in the population's datasets (for messages: with a
    /// stride, of the spikes kept).
    index: usize,
}

impl SpikeCheck {
    pub fn new(header: &PopulationHeader, duration_ms: Option<f64>) -> SpikeCheck {
        SpikeCheck { name: header.name.clone(), size: header.size, duration_ms, last_ms: f64::NEG_INFINITY, index: 0 }
    }

    pub fn check(&mut self, t: f64, id: u64) -> std::result::Result<(), String> {
        let at = |d: &str, i: usize| format!("/spikes/{}/{d}[{i}]", self.name);
        let i = self.index;
        self.index += 1;
        if let Some(n) = self.size.filter(|&n| id >= n) {
            return Err(format!("{} = {id} is not below the population's n_nodes = {n}", at("node_ids", i)));
        }
        if !(t.is_finite() && t >= 0.0) {
            return Err(format!("{} = {t} ms: expected a time ≥ 0", at("timestamps", i)));
        }
        if let Some(d) = self.duration_ms.filter(|&d| t > d) {
            return Err(format!("{} = {t} ms is beyond the file's duration_ms = {d}", at("timestamps", i)));
        }
        if t < self.last_ms {
            return Err(format!("{} = {t} ms comes after {} ms: the spikes are not sorted by time", at("timestamps", i), self.last_ms));
        }
        self.last_ms = t;
        Ok(())
    }
}

impl SpikeFile {
    /// Checks the spikes against the file's own attributes: node ids below `n_nodes`,
    /// times finite, not negative, not beyond `duration_ms` and in time order (the
    /// `sorting = by_time` volley writes). Names the first offending entry.
    pub fn validate(&self) -> std::result::Result<(), String> {
        // Spike by spike: the first offending entry is named.
        for p in &self.populations {
            let header = PopulationHeader { name: p.name.clone(), size: p.size, ..Default::default() };
            let mut check = SpikeCheck::new(&header, self.duration_ms);
            for (&t, &id) in p.timestamps_ms.iter().zip(&p.node_ids) {
                check.check(t, id)?;
            }
        }
        Ok(())
    }
}

/// Writes spike trains to a new SONATA spike file at `path` (replacing one there): per
/// population its spikes sorted by time then id, as volley writes its own, to be replayed
/// by a `spike_source` population or read by any SONATA reader. Each of `trains` is
/// (population, timestamps in ms, population-local node ids), of equal lengths.
pub fn write_trains(path: &Path, trains: &[(String, Vec<f64>, Vec<u64>)]) -> Result<()> {
    let bad = |message: String| Error::Output { path: path.to_path_buf(), message };
    if let Some((name, times, ids)) = trains.iter().find(|(_, t, i)| t.len() != i.len()) {
        return Err(bad(format!("population {name:?}: {} timestamps and {} node ids: expected one id per time", times.len(), ids.len())));
    }
    if let Some((name, ..)) = trains.iter().find(|(name, ..)| name.is_empty() || name.contains('/')) {
        return Err(bad(format!("population {name:?}: expected a name (not empty, without '/')")));
    }
    if let Some((name, times, _)) = trains.iter().find(|(_, t, _)| t.iter().any(|x| !(x.is_finite() && *x >= 0.0))) {
        let k = times.iter().position(|x| !(x.is_finite() && *x >= 0.0)).unwrap_or(0);
        return Err(bad(format!("population {name:?}: timestamp {k} is {} ms: expected finite times from 0 ms", times[k])));
    }
    let write = |path: &Path| -> hdf5::Result<()> {
        let file = hdf5::File::create(path)?;
        file.new_attr::<u32>().create("magic")?.write_scalar(&MAGIC)?;
        file.new_attr::<u32>().shape(2).create("version")?.write(&VERSION)?;
        let spikes = file.create_group("spikes")?;
        let names: Vec<String> = trains.iter().map(|t| t.0.clone()).collect();
        super::provenance::text_list_attr(&spikes, "populations", &names)?;
        let units = hdf5::types::VarLenUnicode::from_str("ms").expect("ascii");
        for (name, times, ids) in trains {
            let mut order: Vec<usize> = (0..times.len()).collect();
            order.sort_by(|&a, &b| times[a].total_cmp(&times[b]).then(ids[a].cmp(&ids[b])));
            let group = spikes.create_group(name)?;
            group.new_attr::<Sorting>().create("sorting")?.write_scalar(&Sorting::by_time)?;
            let sorted: Vec<f64> = order.iter().map(|&k| times[k]).collect();
            let timestamps = group.new_dataset_builder().with_data(&sorted).create("timestamps")?;
            timestamps.new_attr::<hdf5::types::VarLenUnicode>().create("units")?.write_scalar(&units)?;
            let sorted: Vec<u64> = order.iter().map(|&k| ids[k]).collect();
            group.new_dataset_builder().with_data(&sorted).create("node_ids")?;
        }
        Ok(())
    };
    // Whole or not at all: a failure leaves no file behind.
    super::atomic::write_atomically(path, |partial| write(partial).map_err(|e| bad(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trains a spike source could not replay, or a name that is no group, are refused
    /// before anything is written; a refused file leaves nothing behind.
    #[test]
    fn trains_that_cannot_be_replayed_are_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.h5");
        let train = |name: &str, times: Vec<f64>| vec![(name.to_string(), times.clone(), vec![0; times.len()])];
        for (trains, expected) in [
            (train("a", vec![f64::NAN]), "population \"a\": timestamp 0 is NaN ms: expected finite times from 0 ms"),
            (train("a", vec![1.0, -1.0]), "population \"a\": timestamp 1 is -1 ms: expected finite times from 0 ms"),
            (train("a/b", vec![1.0]), "population \"a/b\": expected a name (not empty, without '/')"),
            (train("", vec![1.0]), "population \"\": expected a name (not empty, without '/')"),
        ] {
            let err = write_trains(&path, &trains).unwrap_err().to_string();
            assert!(err.ends_with(expected), "{err}");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left: {expected}");
        }
        write_trains(&path, &train("a", vec![1.0, 0.0])).unwrap();
        assert_eq!(read_spike_file(&path).unwrap().populations[0].timestamps_ms, vec![0.0, 1.0]);
    }

    #[test]
    fn sampled_reading_keeps_every_kth_neuron() {
        use crate::comm::LocalComm;
        use crate::record::writer::SpikeWriter;
        use crate::record::Recorder;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.h5");
        let pops = vec![PopulationRange { name: "a".into(), first_gid: 0, size: 10 }];
        let layout = crate::record::writer::SpikeDatasets { chunk: 1024, recorded: None };
        let mut w = SpikeWriter::create(&path, pops, vec![layout], 1.0, &Default::default(), &LocalComm).unwrap();
        w.record_spikes(&(0..10).map(|gid| Spike { step: gid, gid }).collect::<Vec<_>>()).unwrap();
        w.finish(10, "complete", &LocalComm).unwrap();
        let (file, stride) = read_spike_file_sampled(&path, 4).unwrap();
        assert_eq!(stride, 3);
        assert_eq!(file.populations[0].node_ids, vec![0, 3, 6, 9]);
        assert_eq!(file.populations[0].timestamps_ms, vec![1.0, 4.0, 7.0, 10.0]);
        assert_eq!(read_spike_file_sampled(&path, 100).unwrap().0, read_spike_file(&path).unwrap());
    }

    #[test]
    fn splits_spikes_by_population_with_local_ids() {
        let pops =
            [PopulationRange { name: "a".into(), first_gid: 0, size: 2 }, PopulationRange { name: "b".into(), first_gid: 2, size: 3 }];
        let spikes = [Spike { step: 0, gid: 1 }, Spike { step: 0, gid: 3 }, Spike { step: 4, gid: 0 }];
        let out = split_by_population(&spikes, &pops, 0.5);
        assert_eq!(out[0].timestamps_ms, vec![0.5, 2.5]);
        assert_eq!(out[0].node_ids, vec![1, 0]);
        assert_eq!(out[1].node_ids, vec![1]);
    }
}
