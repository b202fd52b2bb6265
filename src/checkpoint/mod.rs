//! Checkpoints: the whole state of a run at an epoch boundary, in global-id order, so
//! that a run resumes from it on any number of ranks and threads and continues exactly
//! as the uninterrupted run would have (byte for byte in every output dataset).
//!
//! What a run's future depends on, and where it is kept:
//! - each neuron's state (every declared state variable, and what a model keeps beside,
//!   such as RK4's f64 copies) and each exponential synaptic kind's state, per neuron:
//!   `/state/<population>/<array>`, one value per neuron of the population;
//! - the spikes in flight: every spike of the epochs whose synapses may still arrive,
//!   `/in_flight/{step, gid}` sorted by step then id, with the epochs they were
//!   exchanged in (`epoch_start`, `epoch_end`): a resumed run empties its delay rings and
//!   delivers those spikes' later arrivals again, epoch by epoch, which sums each
//!   target's inputs in the order the interrupted run did — whatever its ring size;
//! - the step, and how far each output file had got (`/outputs`): a resumed run cuts
//!   back what was appended after the checkpoint and appends from there;
//! - each plastic projection's state (`/plastic/<projection>/`): per synapse, in the
//!   order of `Backend::plastic_synapses` (targets ascending; an order the partition
//!   does not change), its weight, the rule's state, and its (source, delay) group's
//!   presynaptic trace; per neuron of the target population its postsynaptic trace;
//! - nothing of the random streams: they are keyed by (seed, step, id), not drawn in
//!   sequence.
//!
//! The file names the model it belongs to (its text, and a hash of each part that
//! decides the run: `identity`), the volley version that wrote it, and a checksum of
//! every array that does not depend on how the values were split over ranks; one
//! digest (`digest`) covers everything else — every attribute, every count, the
//! checksums themselves — so that no byte of a checkpoint can change unnoticed. For each
//! output file it records the run that created it, the rows of each dataset and their
//! digest (and the spike file's last spike times), so that a resumed run appends only to
//! the files as the checkpoint's run left them. It is written by all ranks together under
//! a temporary name and renamed into place when complete, so a run killed while writing
//! one leaves the previous checkpoint.

mod digest;

use crate::backend::{Backend, StatePiece};
use crate::comm::{agree, Communicator};
use crate::connectivity::PlasticState;
use crate::digest::{hash, term};
use crate::engine::RecentSpikes;
use crate::error::{Error, Result};
use crate::model::StateArrayMut;
use crate::network::{Description, Projection};
use crate::record::appender::{cause, open_file, text_attr, FileRecord};
use crate::record::atomic::partial_path;
use crate::spike::Spike;
use hdf5::types::VarLenUnicode;
use std::path::{Path, PathBuf};

/// The root attribute `magic` of every checkpoint.
pub const MAGIC: &str = "volley checkpoint";
/// The layout of the file; a volley reads only its own. 2: synapses drawn from
/// per-synapse Threefry blocks (December 2026) — a format-1 checkpoint holds the state of
/// a network whose synapses this volley no longer draws. 3: the digest over the whole
/// file and the records of the output files (December 2026).
pub const FORMAT: u32 = 3;

/// The arrays a checkpoint holds for population `p`, by name, with whether each is f64:
/// its model's (`NeuronModel::checkpoint_names`), then those of each synaptic kind with
/// state (`synapse.1`, ...: the kinds of `Description::synapse_kinds` after the delta
/// kind; an alpha conductance's rate of rise as `synapse.k.rise`).
pub fn arrays(desc: &Description, p: usize) -> Vec<(String, bool)> {
    let mut names = desc.populations[p].model.checkpoint_names();
    let kinds = desc.synapse_kinds();
    names.extend(kinds.iter().enumerate().skip(1).flat_map(|(k, &kind)| crate::synapse::array_names(k, kind)).map(|name| (name, false)));
    names
}

/// Each part of a description that decides what a run computes, by name, with a hash of
/// its value: the simulation's dt and seed, each population (model and parameters),
/// projection, stimulus and what is recorded. The duration is not a part (a resumed run
/// may go further), nor where the outputs go.
pub fn identity(desc: &Description) -> Vec<(String, u64)> {
    let mut parts = vec![
        ("simulation.dt".to_string(), hash(format_args!("{:?}", desc.dt_ms))),
        ("simulation.seed".to_string(), hash(format_args!("{}", desc.seed))),
    ];
    for p in &desc.populations {
        parts.push((format!("population '{}'", p.name), hash(format_args!("{} {} {:?}", p.first_gid, p.size, p.model))));
    }
    for (i, p) in desc.projections.iter().enumerate() {
        // A listed projection's synapses themselves, not only their count and ranges.
        let listed = match p.rule {
            crate::network::ConnectionRule::Explicit { edges, .. } => desc.edges[edges as usize].given_digest(),
            _ => 0,
        };
        parts.push((format!("projection {i}"), hash(format_args!("{p:?} {listed}"))));
    }
    for (i, s) in desc.stimuli.iter().enumerate() {
        parts.push((format!("stimulus {i}"), hash(format_args!("{s:?}"))));
    }
    parts.push(("output.spikes".to_string(), hash(format_args!("{:?} {:?}", desc.output.spikes, desc.output.spike_recording))));
    parts.push(("output.rates".to_string(), hash(format_args!("{:?}", desc.output.rates))));
    for r in &desc.output.reports {
        // The stop of a report is left out: by default the end of the run.
        let what = format_args!("{} {} {:?} {} {}", r.variable, r.unit, r.populations, r.schedule.start_step, r.schedule.interval_steps);
        parts.push((format!("report '{}'", r.file), hash(what)));
    }
    for w in &desc.output.weights {
        parts.push((format!("weights '{}'", w.file), hash(format_args!("{} {}", w.projection, w.interval_steps))));
    }
    parts
}

fn checksum(first_gid: u64, values: &StateArrayMut<'_>) -> u64 {
    match values {
        StateArrayMut::F32(v) => v.iter().enumerate().map(|(i, x)| term(first_gid + i as u64, x.to_bits() as u64)).sum(),
        StateArrayMut::F64(v) => v.iter().enumerate().map(|(i, x)| term(first_gid + i as u64, x.to_bits())).sum(),
    }
}

fn spike_term(position: u64, s: &Spike) -> u64 {
    term(position, (s.step as u64) << 32 | s.gid as u64)
}

/// How far each output file had got at the checkpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Positions {
    /// Every output file appended to (the spike file, each report, the rate traces):
    /// its record, by name in the output directory.
    pub files: Vec<FileRecord>,
}

impl Positions {
    /// The record of the output file `name`, or why the checkpoint has none.
    pub fn file(&self, name: &str, checkpoint: &Path) -> Result<&FileRecord> {
        self.files.iter().find(|f| f.name == name).ok_or_else(|| Error::Input {
            path: checkpoint.to_path_buf(),
            message: format!("damaged: it holds no record of the output file {name:?} its run wrote"),
        })
    }
}

/// What a checkpoint records of the run that wrote it, besides its state.
pub struct Written<'a> {
    pub desc: &'a Description,
    pub step: u64,
    pub positions: Positions,
    pub ranks: usize,
    pub threads: usize,
}

/// Writes the checkpoint of a run stopped at an epoch boundary (collective): every rank
/// its own neurons' state and its own recent spikes.
pub fn save(path: &Path, what: &Written<'_>, backend: &mut dyn Backend, recent: &RecentSpikes, comm: &dyn Communicator) -> Result<()> {
    let partial = partial_path(path);
    let failed = |message: String| Error::Write { path: path.to_path_buf(), message: format!("{message}; the checkpoint was not written") };
    if comm.rank() == 0 {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        agree(comm, dir.map_or(Ok(()), std::fs::create_dir_all).map_err(|e| failed(e.to_string())))?;
    } else {
        agree(comm, Ok(()))?;
    }
    let file = agree(comm, open_file(&partial, comm, true).map_err(|e| failed(cause(&e.to_string()))))?;
    backend.settle_plastic(what.step);
    let written = write_contents(&file, what, backend, recent, comm).and_then(|()| file.flush().map_err(Error::from));
    let written = written.and_then(|()| file.close().map_err(Error::from)).map_err(|e| failed(cause(&e.to_string())));
    // Once every rank has written and closed it, the digest of the file as written, read
    // back whole by one process.
    let sealed = agree(comm, written).and_then(|()| {
        let sealed = if comm.rank() == 0 { seal(&partial).map_err(|e| failed(cause(&e.to_string()))) } else { Ok(()) };
        agree(comm, sealed)
    });
    if let Err(e) = sealed {
        if comm.rank() == 0 {
            let _ = std::fs::remove_file(&partial);
        }
        return Err(e);
    }
    let renamed = if comm.rank() == 0 { std::fs::rename(&partial, path).map_err(|e| failed(e.to_string())) } else { Ok(()) };
    agree(comm, renamed)
}

/// Adds the digest of everything the file holds (`digest`) as its last attribute.
fn seal(path: &Path) -> hdf5::Result<()> {
    let file = hdf5::File::open_rw(path)?;
    let d = digest::digest(&file)?;
    file.new_attr::<u64>().create(digest::ATTRIBUTE)?.write_scalar(&d)?;
    file.close()
}

fn write_contents(
    file: &hdf5::File,
    what: &Written<'_>,
    backend: &mut dyn Backend,
    recent: &RecentSpikes,
    comm: &dyn Communicator,
) -> Result<()> {
    let desc = what.desc;
    text_attr(file, "magic", MAGIC)?;
    file.new_attr::<u32>().create("format")?.write_scalar(&FORMAT)?;
    text_attr(file, "volley_version", env!("CARGO_PKG_VERSION"))?;
    text_attr(file, "model", &desc.model_text)?;
    text_attr(file, "output_dir", &desc.output.dir.display().to_string())?;
    file.new_attr::<u64>().create("step")?.write_scalar(&what.step)?;
    file.new_attr::<f64>().create("dt_ms")?.write_scalar(&desc.dt_ms)?;
    file.new_attr::<f64>().create("time_ms")?.write_scalar(&(what.step as f64 * desc.dt_ms))?;
    file.new_attr::<u64>().create("ranks")?.write_scalar(&(what.ranks as u64))?;
    file.new_attr::<u64>().create("threads")?.write_scalar(&(what.threads as u64))?;
    text_attr(file, "created", &crate::units::utc_now())?;
    let identity = identity(desc);
    let names: Vec<VarLenUnicode> = identity.iter().map(|(n, _)| n.parse().unwrap_or_default()).collect();
    let hashes: Vec<u64> = identity.iter().map(|(_, h)| *h).collect();
    file.new_attr::<VarLenUnicode>().shape(names.len()).create("identity_parts")?.write(&names)?;
    file.new_attr::<u64>().shape(hashes.len()).create("identity_hashes")?.write(&hashes)?;

    // Every dataset is created by every rank (collective); each writes its own pieces.
    let state = file.create_group("state")?;
    let mut datasets: Vec<Vec<hdf5::Dataset>> = Vec::new();
    for (p, pop) in desc.populations.iter().enumerate() {
        let group = state.create_group(&pop.name)?;
        let mut list = Vec::new();
        for (name, double) in arrays(desc, p) {
            let builder = group.new_dataset_builder();
            let d = if double {
                builder.empty::<f64>().shape(pop.size as usize).create(name.as_str())?
            } else {
                builder.empty::<f32>().shape(pop.size as usize).create(name.as_str())?
            };
            list.push(d);
        }
        datasets.push(list);
    }
    let offsets: Vec<usize> = datasets
        .iter()
        .scan(0, |at, l| {
            let o = *at;
            *at += l.len();
            Some(o)
        })
        .collect();
    let mut sums = vec![0u64; datasets.iter().map(Vec::len).sum()];
    backend.visit_state(&mut |piece: StatePiece<'_>| {
        let d = &datasets[piece.population][piece.array];
        let lo = (piece.first_gid - desc.populations[piece.population].first_gid) as usize;
        sums[offsets[piece.population] + piece.array] =
            sums[offsets[piece.population] + piece.array].wrapping_add(checksum(piece.first_gid, &piece.values));
        match &piece.values {
            StateArrayMut::F32(v) => d.write_slice(&v[..], lo..lo + v.len())?,
            StateArrayMut::F64(v) => d.write_slice(&v[..], lo..lo + v.len())?,
        }
        Ok(())
    })?;
    let (_, totals) = comm.prefix_and_total(&sums);
    for (list, &offset) in datasets.iter().zip(&offsets) {
        for (k, d) in list.iter().enumerate() {
            d.new_attr::<u64>().create("checksum")?.write_scalar(&totals[offset + k])?;
        }
    }
    write_in_flight(file, recent, what.step, comm)?;
    write_plastic(file, desc, backend, comm)?;

    let outputs = file.create_group("outputs")?;
    for (k, record) in what.positions.files.iter().enumerate() {
        let g = outputs.create_group(&format!("file{k}"))?;
        text_attr(&g, "name", &record.name)?;
        text_attr(&g, "run_id", &record.run_id)?;
        g.new_dataset::<u64>().shape(record.lengths.len()).create("lengths")?.write_raw(&record.lengths)?;
        g.new_dataset::<u64>().shape(record.digests.len()).create("digests")?.write_raw(&record.digests)?;
        g.new_dataset::<f64>().shape(record.last_ms.len()).create("last_ms")?.write_raw(&record.last_ms)?;
        g.new_dataset::<u64>().shape(record.partial.len()).create("partial")?.write_raw(&record.partial)?;
    }
    Ok(())
}

/// The output files' records of a checkpoint.
fn read_records(file: &hdf5::File) -> hdf5::Result<Vec<FileRecord>> {
    let outputs = file.group("outputs")?;
    let mut names: Vec<String> = outputs.member_names()?.into_iter().filter(|n| n.starts_with("file")).collect();
    names.sort_by_key(|n| n[4..].parse::<usize>().unwrap_or(usize::MAX));
    names
        .iter()
        .map(|n| {
            let g = outputs.group(n)?;
            let text = |a: &str| g.attr(a).and_then(|a| a.read_scalar::<VarLenUnicode>()).map(|v| v.to_string());
            Ok(FileRecord {
                name: text("name")?,
                run_id: text("run_id")?,
                lengths: g.dataset("lengths")?.read_raw()?,
                digests: g.dataset("digests")?.read_raw()?,
                last_ms: g.dataset("last_ms")?.read_raw()?,
                partial: g.dataset("partial")?.read_raw()?,
            })
        })
        .collect()
}

/// The spikes in flight, every rank's own written at their place in the global
/// (step, id) order: within a step, ranks hold ascending id ranges.
fn write_in_flight(file: &hdf5::File, recent: &RecentSpikes, step: u64, comm: &dyn Communicator) -> Result<()> {
    let epochs: Vec<(u64, u64, &[Spike])> = recent.epochs().collect();
    let first = epochs.first().map_or(step, |e| e.0);
    let width = (step - first) as usize;
    let mut counts = vec![0u64; width];
    for (_, _, spikes) in &epochs {
        for s in spikes.iter() {
            counts[(s.step as u64 - first) as usize] += 1;
        }
    }
    let (before, total) = comm.prefix_and_total(&counts);
    let n: u64 = total.iter().sum();
    let group = file.create_group("in_flight")?;
    let starts: Vec<u64> = epochs.iter().map(|e| e.0).collect();
    let ends: Vec<u64> = epochs.iter().map(|e| e.1).collect();
    group.new_dataset::<u64>().shape(starts.len()).create("epoch_start")?.write_raw(&starts)?;
    group.new_dataset::<u64>().shape(ends.len()).create("epoch_end")?.write_raw(&ends)?;
    let steps = group.new_dataset::<u32>().shape(n as usize).create("step")?;
    let gids = group.new_dataset::<u32>().shape(n as usize).create("gid")?;
    let mut sum = 0u64;
    let mut position = 0u64;
    let mut spikes = epochs.iter().flat_map(|e| e.2.iter());
    for k in 0..width {
        let mine: Vec<Spike> = spikes.by_ref().take(counts[k] as usize).copied().collect();
        if !mine.is_empty() {
            let at = (position + before[k]) as usize;
            for (i, s) in mine.iter().enumerate() {
                sum = sum.wrapping_add(spike_term((at + i) as u64, s));
            }
            let (st, id): (Vec<u32>, Vec<u32>) = mine.iter().map(|s| (s.step, s.gid)).unzip();
            steps.write_slice(&st[..], at..at + mine.len())?;
            gids.write_slice(&id[..], at..at + mine.len())?;
        }
        position += total[k];
    }
    let (_, sums) = comm.prefix_and_total(&[sum]);
    group.new_attr::<u64>().create("checksum")?.write_scalar(&sums[0])?;
    Ok(())
}

/// The datasets of a plastic projection's state: per synapse, then per target.
const PLASTIC_PER_SYNAPSE: [&str; 4] = ["weight", "extra", "pre_last", "pre_value"];
const PLASTIC_PER_TARGET: [&str; 3] = ["post_last", "post_after", "post_before"];

/// This rank's terms of each plastic dataset's checksum (`PLASTIC_PER_SYNAPSE`, then
/// `PLASTIC_PER_TARGET`): each value's bits at its position.
fn plastic_checksums(state: &PlasticState, synapse_at: u64, target_at: u64) -> Vec<u64> {
    plastic_arrays(state, synapse_at, target_at)
        .iter()
        .map(|(_, first, bits)| bits.iter().enumerate().map(|(i, &b)| term(first + i as u64, b)).sum())
        .collect()
}

/// A plastic state's arrays by name, each value's bits, with where its first value goes
/// (positions among the projection's synapses or the target population's neurons).
fn plastic_arrays(state: &PlasticState, synapse_at: u64, target_at: u64) -> Vec<(&'static str, u64, Vec<u64>)> {
    let f32s = |v: &[f32]| v.iter().map(|x| x.to_bits() as u64).collect();
    let f64s = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect();
    let u32s = |v: &[u32]| v.iter().map(|&x| x as u64).collect();
    vec![
        ("weight", synapse_at, f32s(&state.weight)),
        ("extra", synapse_at, f32s(&state.extra)),
        ("pre_last", synapse_at, u32s(&state.pre_last)),
        ("pre_value", synapse_at, f64s(&state.pre_value)),
        ("post_last", target_at, u32s(&state.post_last)),
        ("post_after", target_at, f64s(&state.post_after)),
        ("post_before", target_at, f64s(&state.post_before)),
    ]
}

/// Each plastic projection's state, every rank its own synapses at their place in the
/// projection's order (ranks hold ascending targets) and its own targets' traces.
fn write_plastic(file: &hdf5::File, desc: &Description, backend: &dyn Backend, comm: &dyn Communicator) -> Result<()> {
    let root = file.create_group("plastic")?;
    for p in desc.projections.iter().filter(|p| p.plasticity.is_some()) {
        let state = backend.plastic_state(p.id);
        let (before, total) = comm.prefix_and_total(&[state.synapses() as u64]);
        let (n, at) = (total[0] as usize, before[0] as usize);
        let targets = &desc.populations[p.target];
        let target_at = if state.targets() == 0 { 0 } else { (state.first_target - targets.first_gid) as usize };
        let group = root.create_group(&p.id.to_string())?;
        let extra_len = if p.plasticity.as_ref().is_some_and(|r| r.holds_extra()) { n } else { 0 };
        let weight = group.new_dataset::<f32>().shape(n).create("weight")?;
        let extra = group.new_dataset::<f32>().shape(extra_len).create("extra")?;
        let pre_last = group.new_dataset::<u32>().shape(n).create("pre_last")?;
        let pre_value = group.new_dataset::<f64>().shape(n).create("pre_value")?;
        let size = targets.size as usize;
        let post_last = group.new_dataset::<u32>().shape(size).create("post_last")?;
        let post_after = group.new_dataset::<f64>().shape(size).create("post_after")?;
        let post_before = group.new_dataset::<f64>().shape(size).create("post_before")?;
        let (m, k) = (state.synapses(), state.targets());
        if m > 0 {
            weight.write_slice(&state.weight[..], at..at + m)?;
            if extra_len > 0 {
                extra.write_slice(&state.extra[..], at..at + m)?;
            }
            pre_last.write_slice(&state.pre_last[..], at..at + m)?;
            pre_value.write_slice(&state.pre_value[..], at..at + m)?;
        }
        if k > 0 {
            post_last.write_slice(&state.post_last[..], target_at..target_at + k)?;
            post_after.write_slice(&state.post_after[..], target_at..target_at + k)?;
            post_before.write_slice(&state.post_before[..], target_at..target_at + k)?;
        }
        let sums = plastic_checksums(&state, at as u64, target_at as u64);
        let (_, totals) = comm.prefix_and_total(&sums);
        for (name, total) in PLASTIC_PER_SYNAPSE.iter().chain(&PLASTIC_PER_TARGET).zip(totals) {
            group.dataset(name)?.new_attr::<u64>().create("checksum")?.write_scalar(&total)?;
        }
    }
    Ok(())
}

/// A checkpoint opened to resume from.
pub struct Checkpoint {
    pub path: PathBuf,
    pub step: u64,
    pub dt_ms: f64,
    /// The model file's text as the checkpoint's run ran it.
    pub model_text: String,
    /// Where its run wrote its outputs.
    pub output_dir: PathBuf,
    pub positions: Positions,
    identity: Vec<(String, u64)>,
    file: hdf5::File,
}

impl Checkpoint {
    /// Opens `path` and checks that it is a complete checkpoint this volley can read.
    pub fn open(path: &Path) -> Result<Checkpoint> {
        let bad = |message: String| Error::Input { path: path.to_path_buf(), message };
        if !path.exists() {
            return Err(bad("no such file".into()));
        }
        let file = hdf5::File::open(path)
            .map_err(|e| bad(format!("not a readable HDF5 file: truncated or damaged? ({})", cause(&e.to_string()))))?;
        let text = |name: &str| file.attr(name).and_then(|a| a.read_scalar::<VarLenUnicode>()).map(|v| v.to_string());
        if text("magic").ok().as_deref() != Some(MAGIC) {
            return Err(bad(format!("not a volley checkpoint (its root attribute 'magic' is not \"{MAGIC}\")")));
        }
        let format = file.attr("format").and_then(|a| a.read_scalar::<u32>()).unwrap_or(0);
        if format != FORMAT {
            return Err(bad(format!("a checkpoint of format {format}; this volley reads format {FORMAT}")));
        }
        let version = text("volley_version").unwrap_or_default();
        if version != env!("CARGO_PKG_VERSION") {
            return Err(bad(format!(
                "written by volley {version}; this is volley {}: a checkpoint resumes with the version that wrote it",
                env!("CARGO_PKG_VERSION")
            )));
        }
        let damaged = |what: &str, e: hdf5::Error| bad(format!("damaged: {what} cannot be read ({})", cause(&e.to_string())));
        let step = file.attr("step").and_then(|a| a.read_scalar::<u64>()).map_err(|e| damaged("the step", e))?;
        let dt_ms = file.attr("dt_ms").and_then(|a| a.read_scalar::<f64>()).map_err(|e| damaged("dt", e))?;
        let model_text = text("model").map_err(|e| damaged("the model", e))?;
        let output_dir = PathBuf::from(text("output_dir").map_err(|e| damaged("the output directory", e))?);
        let parts =
            file.attr("identity_parts").and_then(|a| a.read_raw::<VarLenUnicode>()).map_err(|e| damaged("the model's identity", e))?;
        let hashes = file.attr("identity_hashes").and_then(|a| a.read_raw::<u64>()).map_err(|e| damaged("the model's identity", e))?;
        let identity = parts.iter().map(|p| p.to_string()).zip(hashes).collect();
        let stored = file.attr(digest::ATTRIBUTE).and_then(|a| a.read_scalar::<u64>()).map_err(|e| damaged("its digest", e))?;
        let found = digest::digest(&file).map_err(|e| damaged("its contents", e))?;
        if found != stored {
            return Err(bad(
                "damaged: its contents do not match its digest (an attribute, a count or a checksum was changed after it was written)"
                    .into(),
            ));
        }
        let positions = Positions { files: read_records(&file).map_err(|e| damaged("the output files' records", e))? };
        Ok(Checkpoint { path: path.to_path_buf(), step, dt_ms, model_text, output_dir, positions, identity, file })
    }

    pub fn time_ms(&self) -> f64 {
        self.step as f64 * self.dt_ms
    }

    /// Checks that `desc` is the model this checkpoint belongs to (every part of its
    /// `identity`), that its run goes beyond the checkpoint, and that the file holds
    /// every array the model needs.
    pub fn check(&self, desc: &Description) -> Result<()> {
        let bad = |message: String| Error::Input { path: self.path.clone(), message };
        let ours = identity(desc);
        let differ: Vec<&str> = ours
            .iter()
            .filter(|(name, h)| self.identity.iter().find(|(n, _)| n == name).is_none_or(|(_, theirs)| theirs != h))
            .map(|(n, _)| n.as_str())
            .chain(self.identity.iter().filter(|(n, _)| !ours.iter().any(|(o, _)| o == n)).map(|(n, _)| n.as_str()))
            .collect();
        if !differ.is_empty() {
            return Err(bad(format!(
                "the checkpoint belongs to another model: {} differ{} from {}'s; resume with the model the checkpoint was written by (it holds its text: `volley run --resume {}`)",
                differ.join(", "),
                if differ.len() == 1 { "s" } else { "" },
                desc.model_file,
                self.path.display()
            )));
        }
        if desc.steps <= self.step {
            return Err(Error::Option {
                option: "--duration".into(),
                message: format!(
                    "the checkpoint {} is at {} ms: expected a duration beyond it, got {} ms",
                    self.path.display(),
                    self.time_ms(),
                    desc.steps as f64 * desc.dt_ms
                ),
            });
        }
        let first_output = desc.output.spikes.iter().chain(desc.output.reports.iter().map(|r| &r.file)).next();
        if let Some(name) = first_output.filter(|name| desc.output.dir != self.output_dir && !desc.output.dir.join(name).exists()) {
            return Err(bad(format!(
                "the checkpoint's run wrote its outputs to {}, and they are not in {} ({name} is missing): give --out {}",
                self.output_dir.display(),
                desc.output.dir.display(),
                self.output_dir.display()
            )));
        }
        for (p, pop) in desc.populations.iter().enumerate() {
            for (name, double) in arrays(desc, p) {
                let path = format!("state/{}/{name}", pop.name);
                let ok = self.file.dataset(&path).is_ok_and(|d| {
                    let size = if double { 8 } else { 4 };
                    d.shape() == [pop.size as usize] && d.dtype().is_ok_and(|t| t.size() == size)
                });
                if !ok {
                    return Err(bad(format!(
                        "damaged: {path} is missing or is not {} values of {}",
                        pop.size,
                        if double { "f64" } else { "f32" }
                    )));
                }
            }
        }
        for r in &desc.output.reports {
            let record = self.positions.file(&r.file, &self.path)?;
            let rows = r.schedule.samples_before(self.step);
            if record.lengths.len() != r.populations.len() || record.lengths.iter().any(|&n| n != rows) {
                return Err(bad(format!("damaged: its record of {} does not hold {rows} samples per population", r.file)));
            }
        }
        Ok(())
    }

    /// Puts the checkpoint's state into `backend` (this rank's neurons) and its spikes in
    /// flight, checking every array against its checksum (collective).
    pub fn restore(&self, desc: &Description, backend: &mut dyn Backend, comm: &dyn Communicator) -> Result<()> {
        let bad = |message: String| Error::Input { path: self.path.clone(), message };
        let offsets: Vec<usize> = (0..desc.populations.len())
            .scan(0, |at, p| {
                let o = *at;
                *at += arrays(desc, p).len();
                Some(o)
            })
            .collect();
        let names: Vec<String> = (0..desc.populations.len())
            .flat_map(|p| arrays(desc, p).into_iter().map(move |(n, _)| (p, n)))
            .map(|(p, n)| format!("state/{}/{n}", desc.populations[p].name))
            .collect();
        let mut sums = vec![0u64; names.len()];
        let read = backend.visit_state(&mut |mut piece: StatePiece<'_>| {
            let index = offsets[piece.population] + piece.array;
            let d = self.file.dataset(&names[index])?;
            let lo = (piece.first_gid - desc.populations[piece.population].first_gid) as usize;
            match &mut piece.values {
                StateArrayMut::F32(v) => {
                    let n = v.len();
                    v.copy_from_slice(&d.read_slice_1d::<f32, _>(lo..lo + n)?.to_vec());
                }
                StateArrayMut::F64(v) => {
                    let n = v.len();
                    v.copy_from_slice(&d.read_slice_1d::<f64, _>(lo..lo + n)?.to_vec());
                }
            }
            sums[index] = sums[index].wrapping_add(checksum(piece.first_gid, &piece.values));
            Ok(())
        });
        agree(comm, read.map_err(|e| bad(format!("damaged: its state cannot be read ({e})"))))?;
        let (_, totals) = comm.prefix_and_total(&sums);
        let mismatch = names.iter().zip(&totals).find(|(name, &total)| {
            self.file.dataset(name).and_then(|d| d.attr("checksum")).and_then(|a| a.read_scalar::<u64>()).map_or(true, |c| c != total)
        });
        if let Some((name, _)) = mismatch {
            return agree(comm, Err(bad(format!("damaged: the values of {name} do not match their checksum"))));
        }
        let epochs = agree(comm, self.in_flight().map_err(bad))?;
        backend.restore_in_flight(&epochs, self.step);
        for p in desc.projections.iter().filter(|p| p.plasticity.is_some()) {
            self.plastic(desc, p, backend, comm)?;
        }
        Ok(())
    }

    /// Reads this rank's part of plastic projection `p`'s state into `backend` (built
    /// anew: it holds the synapses, in the same order), checked against the checksums.
    fn plastic(&self, desc: &Description, p: &Projection, backend: &mut dyn Backend, comm: &dyn Communicator) -> Result<()> {
        let bad = |m: String| Error::Input {
            path: self.path.clone(),
            message: format!("damaged: the plastic state of projection {}: {m}", p.id),
        };
        // Where this rank's synapses and targets go: counted, not copied.
        let (first_target, m, k) = backend.plastic_extent(p.id);
        let (before, total) = comm.prefix_and_total(&[m as u64]);
        let at = before[0] as usize;
        let targets = &desc.populations[p.target];
        let target_at = if k == 0 { 0 } else { (first_target - targets.first_gid) as usize };
        let group = self.file.group(&format!("plastic/{}", p.id)).map_err(|e| bad(format!("missing ({})", cause(&e.to_string()))))?;
        let extra_len = if p.plasticity.as_ref().is_some_and(|r| r.holds_extra()) { total[0] as usize } else { 0 };
        let expected = |name: &str| match name {
            "extra" => extra_len,
            n if PLASTIC_PER_SYNAPSE.contains(&n) => total[0] as usize,
            _ => targets.size as usize,
        };
        for name in PLASTIC_PER_SYNAPSE.iter().chain(&PLASTIC_PER_TARGET) {
            let shape =
                group.dataset(name).map(|d| d.shape()).map_err(|e| bad(format!("{name} cannot be read ({})", cause(&e.to_string()))))?;
            if shape != [expected(name)] {
                return Err(bad(format!("{name} holds {shape:?} values, expected {} (the synapses this model builds)", expected(name))));
            }
        }
        let io = |e: hdf5::Error| cause(&e.to_string());
        // Read by every rank, then checked together: a rank that fails to read still
        // takes part in the sums.
        let read = || -> std::result::Result<PlasticState, String> {
            let mut state = PlasticState { first_target, ..PlasticState::default() };
            if m > 0 {
                state.weight = group.dataset("weight").and_then(|d| d.read_slice_1d::<f32, _>(at..at + m)).map_err(io)?.to_vec();
                if extra_len > 0 {
                    state.extra = group.dataset("extra").and_then(|d| d.read_slice_1d::<f32, _>(at..at + m)).map_err(io)?.to_vec();
                }
                state.pre_last = group.dataset("pre_last").and_then(|d| d.read_slice_1d::<u32, _>(at..at + m)).map_err(io)?.to_vec();
                state.pre_value = group.dataset("pre_value").and_then(|d| d.read_slice_1d::<f64, _>(at..at + m)).map_err(io)?.to_vec();
            }
            if k > 0 {
                let r = target_at..target_at + k;
                state.post_last = group.dataset("post_last").and_then(|d| d.read_slice_1d::<u32, _>(r.clone())).map_err(io)?.to_vec();
                state.post_after = group.dataset("post_after").and_then(|d| d.read_slice_1d::<f64, _>(r.clone())).map_err(io)?.to_vec();
                state.post_before = group.dataset("post_before").and_then(|d| d.read_slice_1d::<f64, _>(r)).map_err(io)?.to_vec();
            }
            Ok(state)
        };
        let state = agree(comm, read().map_err(bad))?;
        let sums = plastic_checksums(&state, at as u64, target_at as u64);
        let (_, totals) = comm.prefix_and_total(&sums);
        for (name, total) in PLASTIC_PER_SYNAPSE.iter().chain(&PLASTIC_PER_TARGET).zip(totals) {
            let stored = group.dataset(name).and_then(|d| d.attr("checksum")).and_then(|a| a.read_scalar::<u64>()).ok();
            if stored != Some(total) {
                return Err(bad(format!("the values of {name} do not match their checksum")));
            }
        }
        agree(comm, backend.set_plastic_state(p.id, &state).map_err(bad))
    }

    /// The spikes in flight, epoch by epoch, checked against their checksum.
    fn in_flight(&self) -> std::result::Result<Vec<Vec<Spike>>, String> {
        let read = |name: &str| self.file.dataset(&format!("in_flight/{name}"));
        let damaged = |e: hdf5::Error| format!("damaged: its spikes in flight cannot be read ({})", cause(&e.to_string()));
        let steps = read("step").and_then(|d| d.read_raw::<u32>()).map_err(damaged)?;
        let gids = read("gid").and_then(|d| d.read_raw::<u32>()).map_err(damaged)?;
        let starts = read("epoch_start").and_then(|d| d.read_raw::<u64>()).map_err(damaged)?;
        let ends = read("epoch_end").and_then(|d| d.read_raw::<u64>()).map_err(damaged)?;
        let stored = self.file.group("in_flight").and_then(|g| g.attr("checksum")).and_then(|a| a.read_scalar::<u64>()).map_err(damaged)?;
        let spikes: Vec<Spike> = steps.iter().zip(&gids).map(|(&step, &gid)| Spike { step, gid }).collect();
        let sum = spikes.iter().enumerate().fold(0u64, |acc, (i, s)| acc.wrapping_add(spike_term(i as u64, s)));
        if sum != stored || steps.len() != gids.len() || starts.len() != ends.len() || !spikes.is_sorted() {
            return Err("damaged: its spikes in flight do not match their checksum".into());
        }
        let mut epochs = Vec::with_capacity(starts.len());
        let mut rest = spikes.as_slice();
        for (&start, &end) in starts.iter().zip(&ends) {
            let skip = rest.partition_point(|s| (s.step as u64) < start);
            let take = rest[skip..].partition_point(|s| (s.step as u64) < end);
            epochs.push(rest[skip..skip + take].to_vec());
            rest = &rest[skip + take..];
        }
        Ok(epochs)
    }
}
