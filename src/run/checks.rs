//! Checks made before anything is built: that every output can be written and fits,
//! and that the run fits in memory.

use super::{fmt_bytes, RunOptions};
use crate::backend::kind::MemoryEstimate;
use crate::error::{Error, Result};
use crate::network::Description;
use crate::plan::Plan;
use std::path::{Path, PathBuf};

/// How to get past an output directory that cannot be written.
pub const WRITE_ELSEWHERE: &str = "choose a directory this user can write: --out DIR, or output.dir in the model file";

/// Checks, before anything is built and without creating anything, that every output
/// can be written: the directory exists and is writable, or can be created (its nearest
/// existing ancestor is a writable directory), and no output name is taken by a
/// directory.
pub fn check_outputs(desc: &Description) -> Result<()> {
    let dir = &desc.output.dir;
    let fail = |path: &Path, message: String| Error::Output { path: path.to_path_buf(), message };
    let elsewhere = |message: String| Error::Output { path: dir.to_path_buf(), message: format!("{message}; {WRITE_ELSEWHERE}") };
    let writable = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
            // SAFETY: a valid C string; access only reads it.
            .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0)
    };
    let existing = nearest_existing(dir);
    let existing = existing.as_path();
    if !existing.is_dir() {
        return Err(elsewhere(format!("{} is not a directory", existing.display())));
    }
    if !writable(existing) {
        let what = if existing == dir.as_path() {
            "the directory is not writable".to_string()
        } else {
            format!("cannot create it: {} is not writable", existing.display())
        };
        return Err(elsewhere(what));
    }
    let rates = desc.output.rates.iter().map(|r| &r.0);
    let weights = desc.output.weights.iter().map(|w| &w.file);
    for name in
        desc.output.spikes.iter().chain(&desc.output.raster).chain(rates).chain(desc.output.reports.iter().map(|r| &r.file)).chain(weights)
    {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(fail(&path, "a directory has this name: choose another file name".into()));
        }
    }
    Ok(())
}

/// Checks, before anything is built, that checkpoints can be written at `path`: not a
/// directory, not one of the run's output files, in a directory that exists and is
/// writable or can be created — found now rather than at the first checkpoint, hours in.
pub fn check_checkpoint_path(desc: &Description, path: &Path) -> Result<()> {
    let fail = |message: String| Error::Option { option: "--checkpoint".into(), message };
    if path.is_dir() {
        return Err(fail(format!("{} is a directory: expected a file name", path.display())));
    }
    let rates = desc.output.rates.iter().map(|r| &r.0);
    let weights = desc.output.weights.iter().map(|w| &w.file);
    let outputs =
        desc.output.spikes.iter().chain(&desc.output.raster).chain(rates).chain(desc.output.reports.iter().map(|r| &r.file)).chain(weights);
    let same = |a: &Path, b: &Path| a == b || a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(x, y)| x == y);
    if let Some(name) = outputs.map(|n| desc.output.dir.join(n)).find(|o| same(o, path)) {
        return Err(fail(format!("{} is an output file of the run: expected another name", name.display())));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let existing = nearest_existing(parent);
    let writable = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes())
        // SAFETY: a valid C string; access only reads it.
        .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0);
    if !existing.is_dir() || !writable {
        return Err(fail(format!("cannot write {}: {} is not a writable directory", path.display(), existing.display())));
    }
    Ok(())
}

/// Checks, before anything is built, that a file the run appends to at its end (the
/// `--report-csv` line) can be opened for appending: by opening it so, and removing it
/// again if it did not exist. `option` names it in the error. A file in the output
/// directory `out`, which the run creates, is checked there once it exists.
pub fn check_appendable(path: &Path, option: &str, out: &Path) -> Result<()> {
    let fail = |message: String| Error::Option { option: option.to_string(), message };
    if path.is_dir() {
        return Err(fail(format!("{} is a directory: expected a file name", path.display())));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let plain = |p: &Path| p.components().filter(|c| *c != std::path::Component::CurDir).collect::<PathBuf>();
    if !parent.exists() && plain(parent) == plain(out) {
        return Ok(());
    }
    let existed = path.exists();
    std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// `dir`, or its nearest ancestor that exists ("." for a relative path none of whose
/// parts exist yet).
fn nearest_existing(dir: &Path) -> PathBuf {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => return PathBuf::from("."),
        }
    }
    existing.to_path_buf()
}

/// Refuses, before anything is built, a run whose output is expected not to fit the
/// free space of its file system, the file-size limit or `--max-output`, with a concrete
/// way to make it fit (`suggest_output`).
pub fn check_output_space(desc: &Description, options: &RunOptions, plan: &Plan) -> Result<()> {
    let expected = plan.space_needed();
    if plan.files.is_empty() {
        return Ok(());
    }
    let rate = options.expected_rate_hz;
    let names: Vec<&str> = plan.files.iter().map(|f| f.file.as_str()).filter(|f| !f.starts_with('.')).collect();
    let files = match &names[..] {
        [one] => format!("{one} is"),
        [first @ .., last] => format!("{} and {last} are", first.join(", ")),
        [] => "the outputs are".to_string(),
    };
    let seconds = desc.steps as f64 * desc.dt_ms / 1000.0;
    let what = format!("{} neurons at {rate} Hz for {seconds} s", desc.total_neurons());
    if let Some(limit) = options.max_output.filter(|&l| expected > l) {
        return Err(Error::Output {
            path: desc.output.dir.clone(),
            message: format!(
                "{files} expected to take {} ({what}) but --max-output allows {}{}",
                fmt_bytes(expected),
                fmt_bytes(limit),
                suggest_output(desc, plan, limit)
            ),
        });
    }
    if options.skip_space_check {
        return Ok(());
    }
    let (free, limit) = crate::record::writer::space_for(&nearest_existing(&desc.output.dir).join("spikes.h5"));
    let refuse = |room: String, fits: u64| Error::Output {
        path: desc.output.dir.clone(),
        message: format!(
            "{files} expected to take {} ({what}) but {room}{}; or lower --expected-rate if the network fires less, or --skip-space-check",
            fmt_bytes(expected),
            suggest_output(desc, plan, fits)
        ),
    };
    if let Some(free) = free.filter(|&f| expected > f) {
        return Err(refuse(format!("{} are free there", fmt_bytes(free)), free));
    }
    // The file-size limit holds for each file alone.
    let largest = plan.files.iter().max_by_key(|f| f.space_needed()).expect("a file");
    let largest_needs = largest.space_needed();
    if let Some(limit) = limit.filter(|&l| largest_needs > l) {
        let others = plan.output_bytes() - largest.bytes();
        return Err(Error::Output {
            path: desc.output.dir.clone(),
            message: format!(
                "{} is expected to take {} ({what}) but the file size limit (ulimit -f) is {}{}; or lower --expected-rate if the network fires less, or --skip-space-check",
                largest.file,
                fmt_bytes(largest_needs),
                fmt_bytes(limit),
                suggest_output(desc, plan, limit + others)
            ),
        });
    }
    Ok(())
}

/// A concrete change that brings the largest output file under its share of `room`:
/// for a report, a longer interval, fewer neurons or windows; for the spike file, a
/// shorter run. Empty if that file alone is not what is too large.
pub fn suggest_output(desc: &Description, plan: &Plan, room: u64) -> String {
    let Some(largest) = plan.files.iter().max_by_key(|f| f.bytes()) else { return String::new() };
    let others = plan.output_bytes() - largest.bytes();
    let share = room.saturating_sub(others).max(1);
    let factor = largest.bytes() as f64 / share as f64;
    if factor <= 1.0 {
        return String::new();
    }
    let k = factor.ceil();
    match desc.output.reports.iter().find(|r| r.file == largest.file) {
        Some(r) => {
            let interval = r.schedule.interval_steps as f64 * desc.dt_ms * k;
            let samples = r.schedule.samples_before(desc.steps) as f64;
            let window = ((samples / k).floor() * r.schedule.interval_steps as f64 * desc.dt_ms).floor();
            format!(
                "; {} alone needs {}: sample every {interval} ms (interval = \"{interval} ms\"), or 1 neuron in {k} (neurons = {{ fraction = {:.3e}, seed = 1 }}), or {window} ms in windows (windows = [...])",
                largest.file,
                fmt_bytes(largest.bytes()),
                1.0 / k
            )
        }
        None if desc.output.raster.as_ref() == Some(&largest.file) => {
            format!("; {} alone may need {}: draw it later with `volley plot` (raster = \"\")", largest.file, fmt_bytes(largest.bytes()))
        }
        None => {
            let shorter = (desc.steps as f64 * desc.dt_ms / k).floor();
            format!("; {} alone needs {}: a run of {shorter} ms (--duration {shorter}ms) fits", largest.file, fmt_bytes(largest.bytes()))
        }
    }
}

/// A size such as "8GB", "512 MB", "2GiB" or "1000000" (bytes).
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_alphabetic()).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
    let scale = match unit.as_str() {
        // A bare number is refused rather than read as bytes: "--max-memory 10" meant
        // 10 GB, not 10 bytes.
        "" if number.parse::<f64>().is_ok() => {
            return Err(format!("{number} what? a size needs its unit, e.g. \"{number}GB\", \"{number}MiB\" or \"{number}B\""))
        }
        "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("expected a size such as \"8GB\" or \"512MiB\", got {text:?}")),
    };
    match number.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok((x * scale) as u64),
        _ => Err(format!("expected a size such as \"8GB\" or \"512MiB\", got {text:?}")),
    }
}

/// Refuses, before anything large is allocated, a run whose planned memory for rank
/// `rank` (`Plan::memory_need`: on the backend the plan is for, with what it buffers
/// between appends) exceeds what `--max-memory` allows (per rank) or the room under any
/// limit that applies (`limits::rooms`: the machine's available memory and a memory
/// cgroup's, shared with the `ranks_on_node` ranks of this node; the process's address
/// space and data limits, its own). The plan's figure is the run's one estimate.
pub fn check_memory(plan: &Plan, rank: usize, max_memory: Option<u64>, ranks_on_node: usize) -> Result<()> {
    let (needed, parts) = plan.memory_need(rank);
    let share = ranks_on_node.max(1) as u64;
    let mut limits: Vec<(u64, String)> = max_memory.map(|m| (m, "--max-memory allows {bytes}".to_string())).into_iter().collect();
    for room in crate::limits::rooms(plan.options.threads) {
        let (bytes, what) = match room.shared {
            true if share > 1 => {
                (room.bytes / share, room.what.replace("{bytes}", &format!("{{bytes}} for each of the {share} ranks on this node")))
            }
            _ => (room.bytes, room.what),
        };
        limits.push((bytes, what));
    }
    if let Some((limit, what)) = limits.into_iter().min_by_key(|l| l.0) {
        if needed > limit {
            // A process's own limit is raised, not shared out over ranks.
            let ranks = needed.div_ceil(limit.max(1)).max(2);
            let advice = if what.contains("ulimit") {
                "raise that limit, or use fewer neurons".to_string()
            } else {
                format!("use fewer neurons, storage = \"compact\" or procedural = true, fewer sampled neurons, or about {ranks} ranks (`volley plan --ranks {ranks}`)")
            };
            return Err(Error::Memory(format!(
                "the run needs {} ({parts}) but {}: {advice}",
                fmt_bytes(needed),
                what.replace("{bytes}", &fmt_bytes(limit)),
            )));
        }
    }
    check_store_limits(&plan.rank(rank).memory)
}

/// Refuses a plan of several ranks, to run elsewhere (`volley check --ranks`), whose
/// largest rank exceeds `max_memory` or a thread's store; the machine's own limits are
/// those of the nodes it will run on, checked by each rank when it starts
/// (`check_memory`). Returns the largest rank's estimate.
pub fn check_planned_ranks(plan: &Plan, max_memory: Option<u64>) -> Result<MemoryEstimate> {
    for shape in &plan.shapes {
        check_store_limits(&shape.memory)?;
    }
    let largest = plan.shapes.iter().map(|s| s.memory).max_by_key(|m| m.total()).expect("at least one rank");
    if let Some(limit) = max_memory.filter(|&l| largest.total() > l) {
        return Err(Error::Memory(format!(
            "the largest of {} ranks needs {} but --max-memory allows {} per rank: use more ranks",
            plan.options.ranks,
            fmt_bytes(largest.total()),
            fmt_bytes(limit)
        )));
    }
    Ok(largest)
}

/// Refuses a run whose synapse store would exceed what a thread's store indexes.
pub fn check_store_limits(estimate: &MemoryEstimate) -> Result<()> {
    if estimate.largest_shard_projection > u32::MAX as u64 {
        return Err(Error::Memory(format!(
            "one projection puts about {} synapses onto one thread's neurons, more than the 2^32 - 1 a thread's store indexes: use more threads or ranks",
            estimate.largest_shard_projection
        )));
    }
    Ok(())
}
