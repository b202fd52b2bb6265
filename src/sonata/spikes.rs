//! Spike trains read from a SONATA spike file, to be replayed by a spike-source
//! population (PyNN's `SpikeSourceArray`, NEST's `spike_train_injector`): the layout of
//! SONATA (`/spikes/<population>/timestamps`, `node_ids`) and the older one
//! (`/spikes/timestamps`, `gids`), each time put on the grid of steps as NEST puts it.

use super::Sharing;
use crate::error::{Error, Result};
use crate::model::{Pairs, TrainReader};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The warning for `rounded` times of the spike file `file` (population `population`)
/// between two steps' ends, moved to the end of their step (NEST's rounding up).
pub fn rounded_warning(file: &Path, population: &str, dt_ms: f64, rounded: u64) -> Option<String> {
    (rounded > 0).then(|| {
        format!(
            "spike file {} (population '{population}'): {} between steps moved to the end of their step of {dt_ms} ms",
            file.display(),
            spikes(rounded)
        )
    })
}

/// The warning for `dropped` spikes of a node in a step in which it already spiked (a
/// node spikes at most once a step), found as the trains were read.
pub fn dropped_warning(file: &str, population: &str, dropped: u64) -> Option<String> {
    (dropped > 0).then(|| {
        format!("spike file {file} (population '{population}'): {} in a step in which their node already spiked dropped", spikes(dropped))
    })
}

/// "1 spike", "2 spikes".
fn spikes(n: u64) -> String {
    if n == 1 {
        "1 spike".into()
    } else {
        format!("{n} spikes")
    }
}

/// The spike file of a population of `size` nodes (`group`: its group in the file, where
/// the file has several; with one group, or the older flat layout, that one is read),
/// checked when the description is made; it reads the trains of ranges of the nodes
/// when their groups are built. Each time t is stamped at the end of step k = ⌈t/dt⌉ (a
/// time on the grid within 10⁻⁹ of a step kept there), so emitted in step k − 1.
#[derive(Debug)]
pub struct TrainFile {
    path: PathBuf,
    group: String,
    size: u64,
    dt_ms: f64,
}

/// Checks every entry of the spike file (`TrainFile`) — shared among the processes of
/// `sharing`, each its chunks, the first bad entry of all reported by every one — and
/// counts the times off the grid. Errors name the file, the dataset and the value.
pub fn check_trains(path: &Path, group: &str, size: u64, dt_ms: f64, sharing: &Sharing) -> Result<(TrainFile, u64)> {
    let file = TrainFile { path: path.to_path_buf(), group: group.to_string(), size, dt_ms };
    let (mut rounded, mut first_bad) = (0u64, None);
    // A file that does not open is this process's first bad entry (entry 0): returned
    // now, it would leave the others waiting in the gather.
    match file.open() {
        Err(Error::Input { message, .. }) => first_bad = Some((0, message)),
        Err(other) => first_bad = Some((0, other.to_string())),
        Ok((times, ids, where_)) if ids.size() != times.size() => {
            first_bad = Some((0, format!("{where_}: {} timestamps but {} node ids", times.size(), ids.size())));
        }
        Ok((times, ids, where_)) => {
            let (n, (part, parts), per_read) = (times.size(), sharing.split(), sharing.per_read());
            'chunks: for c in (part..n.div_ceil(per_read)).step_by(parts) {
                let from = c * per_read;
                let (t, id) = match file.read_chunk(&times, &ids, &where_, from..(from + per_read).min(n)) {
                    Ok(chunk) => chunk,
                    Err(message) => {
                        first_bad = Some((from as u64, message));
                        break;
                    }
                };
                for (k, (&t, &id)) in t.iter().zip(&id).enumerate() {
                    match file.entry(t, id, from + k, &where_) {
                        Ok((_, on_grid)) => rounded += !on_grid as u64,
                        Err(message) => {
                            first_bad = Some(((from + k) as u64, message));
                            break 'chunks;
                        }
                    }
                }
            }
        }
    }
    let Some(share) = &sharing.0 else {
        return match first_bad {
            Some((_, message)) => Err(file.bad(message)),
            None => Ok((file, rounded)),
        };
    };
    let mut words = vec![rounded, first_bad.as_ref().map_or(u64::MAX, |b| b.0)];
    words.extend(first_bad.as_ref().map_or(Vec::new(), |b| super::text_words(&b.1)));
    let all = share.all_gather(&words);
    rounded = all.iter().map(|w| w[0]).sum();
    match all.iter().filter(|w| w[1] != u64::MAX).min_by_key(|w| w[1]) {
        Some(w) => Err(file.bad(super::words_text(&w[2..]))),
        None => Ok((file, rounded)),
    }
}

impl TrainFile {
    fn bad(&self, message: String) -> Error {
        Error::Input { path: self.path.clone(), message }
    }

    /// The timestamps and ids datasets, and where they are (for messages).
    fn open(&self) -> Result<(hdf5::Dataset, hdf5::Dataset, String)> {
        let file = hdf5::File::open(&self.path).map_err(|e| self.bad(format!("not an HDF5 file a spike train can be read from ({e})")))?;
        let spikes = file.group("spikes").map_err(|_| self.bad("expected a SONATA spike file with a group /spikes".into()))?;
        locate(&spikes, &self.group).map_err(|m| self.bad(m))
    }

    /// Entries `range`: their times and ids.
    fn read_chunk(
        &self,
        times: &hdf5::Dataset,
        ids: &hdf5::Dataset,
        where_: &str,
        range: Range<usize>,
    ) -> std::result::Result<(Vec<f64>, Vec<i64>), String> {
        let t = times.read_slice_1d(range.clone()).map_err(|_| format!("{where_}/timestamps: expected numbers"))?.to_vec();
        let id = ids.read_slice_1d(range).map_err(|_| format!("{where_}: expected integer node ids"))?.to_vec();
        Ok((t, id))
    }

    /// Entry `at` (time `t`, node `id`) checked: the step it is emitted in, and whether
    /// its time was on the grid.
    fn entry(&self, t: f64, id: i64, at: usize, where_: &str) -> std::result::Result<(u32, bool), String> {
        let (size, dt_ms, group) = (self.size, self.dt_ms, &self.group);
        if id < 0 || id as u64 >= size {
            return Err(format!(
                "{where_}: node id {id} (entry {at}) is outside population '{group}' of {size} nodes (ids 0 to {})",
                size - 1
            ));
        }
        let step = end_step(t, dt_ms).ok_or_else(|| {
            format!("{where_}/timestamps: {t} ms (entry {at}, node {id}): expected a finite time after 0 ms (a spike is stamped at the end of its step)")
        })?;
        let Ok(step) = u32::try_from(step) else {
            return Err(format!("{where_}/timestamps: {t} ms (entry {at}) is beyond 2^32 steps of {dt_ms} ms"));
        };
        Ok((step - 1, on_grid(t, dt_ms)))
    }
}

impl TrainReader for TrainFile {
    fn file(&self) -> String {
        self.path.display().to_string()
    }

    /// The trains of nodes `nodes`, read in chunks: only theirs are kept.
    fn read(&self, nodes: Range<u64>) -> Result<(Pairs, u64)> {
        let (times, ids, where_) = self.open()?;
        let n = times.size().min(ids.size());
        let mut pairs: Pairs = Vec::new();
        let per_read = super::entries_per_read();
        for from in (0..n).step_by(per_read) {
            let (t, id) = self.read_chunk(&times, &ids, &where_, from..(from + per_read).min(n)).map_err(|m| self.bad(m))?;
            for (k, (&t, &id)) in t.iter().zip(&id).enumerate() {
                if id >= 0 && nodes.contains(&(id as u64)) {
                    let (step, _) = self.entry(t, id, from + k, &where_).map_err(|m| self.bad(m))?;
                    pairs.push((step, (id as u64 - nodes.start) as u32));
                }
            }
        }
        pairs.sort_unstable();
        let before = pairs.len();
        pairs.dedup();
        let dropped = (before - pairs.len()) as u64;
        Ok((pairs, dropped))
    }
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
