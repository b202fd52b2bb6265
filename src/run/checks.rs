//! Checks made before anything is built: that every output can be written and fits,
//! and that the run fits in memory.

use super::{fmt_bytes, RunOptions};
use crate::backend::cpu::{memory_estimate, MemoryEstimate};
use crate::error::{Error, Result};
use crate::network::Description;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Checks, before anything is built and without creating anything, that every output
/// can be written: the directory exists and is writable, or can be created (its nearest
/// existing ancestor is a writable directory), and no output name is taken by a
/// directory.
pub fn check_outputs(desc: &Description) -> Result<()> {
    let dir = &desc.output.dir;
    let fail = |path: &Path, message: String| Error::Output { path: path.to_path_buf(), message };
    let writable = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
            // SAFETY: a valid C string; access only reads it.
            .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0)
    };
    let existing = nearest_existing(dir);
    let existing = existing.as_path();
    if !existing.is_dir() {
        return Err(fail(dir, format!("{} is not a directory", existing.display())));
    }
    if !writable(existing) {
        let what = if existing == dir.as_path() {
            "the directory is not writable".to_string()
        } else {
            format!("cannot create it: {} is not writable", existing.display())
        };
        return Err(fail(dir, what));
    }
    for name in desc.output.spikes.iter().chain(&desc.output.raster).chain(desc.output.reports.iter().map(|r| &r.file)) {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(fail(&path, "a directory has this name: choose another file name".into()));
        }
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

/// Bytes the outputs are expected to take: the spike file 16 per spike (time and id) at
/// `rate_hz`, plus the layout and provenance; each report 4 per sample.
pub fn expected_output_bytes(desc: &Description, rate_hz: f64) -> u64 {
    let reports: u64 = desc
        .output
        .reports
        .iter()
        .map(|r| {
            let values: u64 = r.populations.iter().map(|p| p.neurons.len() as u64).sum();
            r.schedule.samples_before(desc.steps) * values * 4 + 64 * 1024 + desc.model_text.len() as u64
        })
        .sum();
    if desc.output.spikes.is_none() && desc.output.raster.is_none() {
        return reports;
    }
    let seconds = desc.steps as f64 * desc.dt_ms / 1000.0;
    let spikes = desc.total_neurons() as f64 * rate_hz * seconds;
    (spikes * 16.0) as u64 + 64 * 1024 + desc.model_text.len() as u64 + reports
}

/// Refuses, before anything is built, a run whose output is expected not to fit the
/// free space of its file system, the file-size limit or `--max-output`.
pub fn check_output_space(desc: &Description, options: &RunOptions) -> Result<()> {
    let expected = expected_output_bytes(desc, options.expected_rate_hz);
    if expected == 0 {
        return Ok(());
    }
    let rate = options.expected_rate_hz;
    let files = match (desc.output.spikes.is_some() || desc.output.raster.is_some(), desc.output.reports.len()) {
        (_, 0) => "the spike file is",
        (false, _) => "the reports are",
        (true, _) => "the spike file and reports are",
    };
    let seconds = desc.steps as f64 * desc.dt_ms / 1000.0;
    let what = format!("{} neurons at {rate} Hz for {seconds} s", desc.total_neurons());
    if let Some(limit) = options.max_output.filter(|&l| expected > l) {
        return Err(Error::Output {
            path: desc.output.dir.clone(),
            message: format!("{files} expected to take {} ({what}) but --max-output allows {}", fmt_bytes(expected), fmt_bytes(limit)),
        });
    }
    if options.skip_space_check {
        return Ok(());
    }
    let (free, limit) = crate::record::writer::space_for(&nearest_existing(&desc.output.dir).join("spikes.h5"));
    let refuse = |room: String| Error::Output {
        path: desc.output.dir.clone(),
        message: format!(
            "{files} expected to take {} ({what}) but {room} (lower --expected-rate if the network fires less, or --skip-space-check)",
            fmt_bytes(expected)
        ),
    };
    if let Some(free) = free.filter(|&f| expected > f) {
        return Err(refuse(format!("{} are free there", fmt_bytes(free))));
    }
    if let Some(limit) = limit.filter(|&l| expected > l) {
        return Err(refuse(format!("the file size limit (ulimit -f) is {}", fmt_bytes(limit))));
    }
    Ok(())
}

/// Memory the machine can give this run: MemAvailable from /proc/meminfo, if known.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// A size such as "8GB", "512 MB", "2GiB" or "1000000" (bytes).
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_alphabetic()).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
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

/// Refuses, before anything large is allocated, a run whose estimated memory for this
/// rank's `neurons` exceeds its share of what the node has available (shared with
/// `ranks_on_node` ranks) or what `--max-memory` allows (per rank).
pub fn check_memory(
    desc: &Description,
    neurons: Range<u64>,
    threads: usize,
    max_memory: Option<u64>,
    ranks_on_node: usize,
) -> Result<MemoryEstimate> {
    let estimate = memory_estimate(desc, neurons, threads);
    let share = ranks_on_node.max(1) as u64;
    let node_what =
        if share > 1 { format!("are available to each of the {share} ranks on this node") } else { "available on this machine".into() };
    let limits = [max_memory.map(|m| (m, "--max-memory".to_string())), available_memory().map(|m| (m / share, node_what))];
    if let Some((limit, what)) = limits.into_iter().flatten().min_by_key(|l| l.0) {
        if estimate.total() > limit {
            return Err(Error::Memory(format!(
                "the run needs {} (state {}, synapses {}, buffers {}) but {} {what}: use fewer neurons, storage = \"compact\" or procedural = true, or more ranks",
                fmt_bytes(estimate.total()),
                fmt_bytes(estimate.state),
                fmt_bytes(estimate.synapses),
                fmt_bytes(estimate.buffers),
                fmt_bytes(limit),
            )));
        }
    }
    check_store_limits(&estimate)?;
    Ok(estimate)
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
