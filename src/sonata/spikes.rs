//! Spike trains read from a SONATA spike file, to be replayed by a spike-source
//! population (PyNN's `SpikeSourceArray`, NEST's `spike_train_injector`): the layout of
//! SONATA (`/spikes/<population>/timestamps`, `node_ids`) and the older one
//! (`/spikes/timestamps`, `gids`), each time put on the grid of steps as NEST puts it.

use crate::error::{Error, Result};
use crate::model::SpikeTrains;
use std::path::Path;

/// Spikes read from the file at a time: what reading holds beside the trains.
const CHUNK: usize = 1 << 20;

/// What putting a file's times on the grid changed, for a warning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GridChanges {
    /// Times between two steps' ends, moved to the end of their step (NEST's rounding up).
    pub rounded: u64,
    /// Spikes of a node in a step in which it already spiked once, dropped: a node spikes
    /// at most once a step.
    pub merged: u64,
}

impl GridChanges {
    /// The warning, if anything changed.
    pub fn warning(&self, file: &Path, population: &str, dt_ms: f64) -> Option<String> {
        let mut parts = Vec::new();
        if self.rounded > 0 {
            parts.push(format!("{} between steps moved to the end of their step of {dt_ms} ms", spikes(self.rounded)));
        }
        if self.merged > 0 {
            parts.push(format!("{} in a step in which their node already spiked dropped", spikes(self.merged)));
        }
        (!parts.is_empty()).then(|| format!("spike file {} (population '{population}'): {}", file.display(), parts.join("; ")))
    }
}

/// "1 spike", "2 spikes".
fn spikes(n: u64) -> String {
    if n == 1 {
        "1 spike".into()
    } else {
        format!("{n} spikes")
    }
}

/// The spike trains of `population` (`size` nodes) in the SONATA spike file `path`, each
/// time t stamped at the end of step k = ⌈t/dt⌉ (a time on the grid within 10⁻⁹ of a step
/// kept there), so emitted in step k − 1. `group`: the population's group in the file
/// (where the file has several); with one group, or the older flat layout, that one is
/// read. Errors name the file, the dataset and the offending value.
pub fn read_trains(path: &Path, group: &str, size: u64, dt_ms: f64) -> Result<(SpikeTrains, GridChanges)> {
    let bad = |message: String| Error::Input { path: path.to_path_buf(), message };
    let file = hdf5::File::open(path).map_err(|e| bad(format!("not an HDF5 file a spike train can be read from ({e})")))?;
    let spikes = file.group("spikes").map_err(|_| bad("expected a SONATA spike file with a group /spikes".into()))?;
    let (times, ids, where_) = locate(&spikes, group).map_err(bad)?;
    let n = times.size();
    if ids.size() != n {
        return Err(bad(format!("{where_}: {n} timestamps but {} node ids", ids.size())));
    }
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut changes = GridChanges::default();
    for from in (0..n).step_by(CHUNK) {
        let end = (from + CHUNK).min(n);
        let t: Vec<f64> = times.read_slice_1d(from..end).map_err(|_| bad(format!("{where_}/timestamps: expected numbers")))?.to_vec();
        let id: Vec<i64> = ids.read_slice_1d(from..end).map_err(|_| bad(format!("{where_}: expected integer node ids")))?.to_vec();
        for (k, (&t, &id)) in t.iter().zip(&id).enumerate() {
            let at = from + k;
            if id < 0 || id as u64 >= size {
                return Err(bad(format!(
                    "{where_}: node id {id} (entry {at}) is outside population '{group}' of {size} nodes (ids 0 to {})",
                    size - 1
                )));
            }
            let step = end_step(t, dt_ms).ok_or_else(|| {
                bad(format!("{where_}/timestamps: {t} ms (entry {at}, node {id}): expected a finite time after 0 ms (a spike is stamped at the end of its step)"))
            })?;
            let Ok(step) = u32::try_from(step) else {
                return Err(bad(format!("{where_}/timestamps: {t} ms (entry {at}) is beyond 2^32 steps of {dt_ms} ms")));
            };
            changes.rounded += !on_grid(t, dt_ms) as u64;
            pairs.push((step - 1, id as u32));
        }
    }
    pairs.sort_unstable();
    let before = pairs.len();
    pairs.dedup();
    changes.merged = (before - pairs.len()) as u64;
    Ok((SpikeTrains::new(pairs, size), changes))
}

/// The step at whose end a spike at `t` ms is stamped: ⌈t/dt⌉, times within 10⁻⁹ of a
/// step's end kept at it; None for a time that is not after 0.
fn end_step(t: f64, dt_ms: f64) -> Option<u64> {
    if !(t.is_finite() && t > 0.0) {
        return None;
    }
    let x = t / dt_ms;
    let k = if on_grid(t, dt_ms) { x.round() } else { x.ceil() };
    Some((k as u64).max(1))
}

fn on_grid(t: f64, dt_ms: f64) -> bool {
    let x = t / dt_ms;
    (x - x.round()).abs() <= 1e-9 * x.abs().max(1.0)
}

/// The timestamps and ids datasets of `group`, and where they are (for messages).
fn locate(spikes: &hdf5::Group, group: &str) -> std::result::Result<(hdf5::Dataset, hdf5::Dataset, String), String> {
    let ids_of = |g: &hdf5::Group, at: &str| {
        g.dataset("node_ids").or_else(|_| g.dataset("gids")).map_err(|_| format!("{at}: expected a dataset node_ids (or gids)"))
    };
    if let Ok(times) = spikes.dataset("timestamps") {
        return Ok((times, ids_of(spikes, "/spikes")?, "/spikes".to_string()));
    }
    let groups = spikes.member_names().map_err(|e| e.to_string())?;
    let name = if groups.iter().any(|g| g == group) {
        group.to_string()
    } else if let [only] = groups.as_slice() {
        only.clone()
    } else {
        return Err(format!("expected a group /spikes/{group} (the file has: {})", groups.join(", ")));
    };
    let g = spikes.group(&name).map_err(|_| format!("/spikes/{name}: expected a group of timestamps and node_ids"))?;
    let at = format!("/spikes/{name}");
    let times = g.dataset("timestamps").map_err(|_| format!("{at}: expected a dataset timestamps"))?;
    Ok((times, ids_of(&g, &at)?, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_go_to_the_end_of_their_step_as_nest_puts_them() {
        assert_eq!(end_step(0.1, 0.1), Some(1));
        assert_eq!(end_step(0.3, 0.1), Some(3), "0.3/0.1 = 2.9999999999999996 is on the grid");
        assert_eq!(end_step(0.25, 0.1), Some(3));
        assert_eq!(end_step(0.01, 0.1), Some(1));
        assert_eq!(end_step(0.0, 0.1), None);
        assert_eq!(end_step(-1.0, 0.1), None);
        assert_eq!(end_step(f64::NAN, 0.1), None);
        assert!(on_grid(1000.1, 0.1) && !on_grid(1000.15, 0.1));
    }
}
