//! The scan of an edge population made when the description is made, shared among the
//! processes that read the circuit (`Share`): each reads its chunks of the edges (chunk
//! `part`, `part + parts`, …), checks them and tallies them by pair of node runs; the
//! tallies are then gathered and combined, so that every process learns the same counts,
//! ranges and first error as one process reading every edge would, while none reads
//! more than its share. Only the tallies travel (a few words per pair of runs).

use super::edges::{self, delay_steps, EdgeDatasets};
use super::Sharing;
use crate::error::{Error, Result};
use crate::network::EdgeSource;
use std::path::Path;

/// What one process found for one pair (source run, target run).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tally {
    pub count: u64,
    /// The shortest and longest delay in steps; the smallest and largest weight (scaled).
    pub delays: (u32, u32),
    pub weights: (f64, f64),
    /// The pair's first edge here and its edge type id.
    pub first: (u64, i64),
    /// The first edge here of another synaptic kind than `first`'s, and its type id.
    pub other_kind: Option<(u64, i64)>,
}

/// The tallies of one edge population, by pair of runs, and its first bad edge.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    pub pairs: Vec<((usize, usize), Tally)>,
    /// (edge id, whether the edge types' table is at fault rather than the edges file,
    /// the message).
    pub error: Option<(u64, bool, String)>,
}

/// What the scan needs to place and check an edge.
pub struct Scope<'a> {
    pub path: &'a Path,
    pub population: &'a str,
    /// The names and sizes of the source and target node populations.
    pub names: (&'a str, &'a str),
    pub sizes: (u64, u64),
    /// The run of a source and of a target node.
    pub run_of: &'a dyn Fn(bool, u64) -> usize,
    /// Each run's weight factor.
    pub weight_scale: &'a dyn Fn(usize) -> f64,
    pub dt_ms: f64,
}

/// Scans this process's share of `data`'s edges (`source` gives the edge types).
pub fn scan_share(data: &EdgeDatasets, source: &EdgeSource, scope: &Scope, (part, parts, per_read): (usize, usize, usize)) -> Found {
    let mut found = Found::default();
    let at = format!("/edges/{}", scope.population);
    let chunks = data.count.div_ceil(per_read);
    for c in (part..chunks).step_by(parts.max(1)) {
        let first = c * per_read;
        // A chunk that cannot be read is this process's error, to be combined with the
        // others' (returned now, it would leave them waiting in the gather).
        let chunk = match data.chunk(first..(first + per_read).min(data.count), scope.path, scope.population) {
            Ok(chunk) => chunk,
            Err(e) => {
                let message = match e {
                    Error::Input { message, .. } => message,
                    other => other.to_string(),
                };
                found.error = Some((first as u64, false, message));
                return found;
            }
        };
        for k in 0..chunk.targets.len() {
            let edge = (chunk.first + k) as u64;
            if let Err((in_types, message)) = tally(&mut found, source, scope, &chunk, k, &at) {
                found.error = Some((edge, in_types, message));
                return found;
            }
        }
    }
    found
}

/// Checks edge `k` of `chunk` and adds it to its pair's tally.
fn tally(
    found: &mut Found,
    source: &EdgeSource,
    scope: &Scope,
    chunk: &edges::Chunk,
    k: usize,
    at: &str,
) -> std::result::Result<(), (bool, String)> {
    let edge = chunk.first + k;
    let (s, t) = (chunk.sources[k], chunk.targets[k]);
    let (n_sources, n_targets) = scope.sizes;
    for (id, n, dataset, name) in [(s, n_sources, "source_node_id", scope.names.0), (t, n_targets, "target_node_id", scope.names.1)] {
        if id >= n {
            return Err((false, format!("{at}/{dataset}: edge {edge} names node {id}, outside node population '{name}' of {n} nodes")));
        }
    }
    let Some(edge_type) = source.type_of(chunk.types[k]) else {
        return Err((true, format!("no edge type {} (edge {edge} of {at} in {} has it)", chunk.types[k], scope.path.display())));
    };
    let (weight, delay) = edges::values(source, chunk, k);
    if !(weight as f32).is_finite() {
        return Err((false, format!("{at}: edge {edge} has weight {weight}: expected a finite number")));
    }
    let steps = delay_steps(delay, scope.dt_ms);
    if !(steps >= 1.0 && steps < u32::MAX as f64) {
        return Err((false, format!("{at}: edge {edge} has delay {delay} ms: expected at least one step ({} ms)", scope.dt_ms)));
    }
    let key = ((scope.run_of)(false, s), (scope.run_of)(true, t));
    let weight = weight * (scope.weight_scale)(key.1);
    let steps = steps as u32;
    match found.pairs.iter_mut().find(|(k, _)| *k == key) {
        Some((_, tally)) => {
            tally.count += 1;
            tally.delays = (tally.delays.0.min(steps), tally.delays.1.max(steps));
            tally.weights = (tally.weights.0.min(weight), tally.weights.1.max(weight));
            let first_kind = source.type_of(tally.first.1).map(|t| t.synapse);
            if tally.other_kind.is_none() && first_kind != Some(edge_type.synapse) {
                tally.other_kind = Some((edge as u64, edge_type.id));
            }
        }
        None => found.pairs.push((
            key,
            Tally { count: 1, delays: (steps, steps), weights: (weight, weight), first: (edge as u64, edge_type.id), other_kind: None },
        )),
    }
    Ok(())
}

/// An edge population as this process scanned its share of it: what it was read as
/// (the runs it joins are set per pair once combined), and the tallies.
#[derive(Debug)]
pub struct Scanned {
    pub source: EdgeSource,
    pub types_path: std::path::PathBuf,
    pub found: Found,
}

/// Every process's tallies of every edge population, by population then process, in
/// one collective; `mine` None where this process failed before (it returns its own
/// error). Where any process failed, the others get `OtherRank`.
pub fn gather(sharing: &Sharing, mine: Option<Vec<Found>>) -> Result<Vec<Vec<Found>>> {
    let other = || Error::OtherRank { exit_code: Error::Input { path: Default::default(), message: String::new() }.exit_code() };
    let Some(share) = &sharing.0 else {
        return mine.map(|founds| founds.into_iter().map(|f| vec![f]).collect()).ok_or_else(other);
    };
    let words = match &mine {
        None => vec![1],
        Some(founds) => {
            let mut words = vec![0, founds.len() as u64];
            for f in founds {
                let encoded = encode(f);
                words.push(encoded.len() as u64);
                words.extend(encoded);
            }
            words
        }
    };
    let all = share.all_gather(&words);
    if all.iter().any(|w| w[0] == 1) {
        return Err(other());
    }
    let populations = all[0][1] as usize;
    let mut by_population: Vec<Vec<Found>> = (0..populations).map(|_| Vec::with_capacity(all.len())).collect();
    for words in &all {
        if words[1] as usize != populations {
            return Err(Error::Runtime(format!(
                "the ranks read {} and {} edge populations: do they see the same files?",
                populations, words[1]
            )));
        }
        let mut at = 2;
        for found in by_population.iter_mut() {
            let len = words[at] as usize;
            found.push(decode(&words[at + 1..at + 1 + len]));
            at += 1 + len;
        }
    }
    Ok(by_population)
}

/// Every process's tallies of one edge population (`all`, in process order) combined, in
/// the order of the pairs' keys; the first bad edge of all as the error, with its file
/// (the edges file, or the edge types' table `types_path`).
pub fn combine(all: Vec<Found>, source: &EdgeSource, types_path: &Path) -> Result<Vec<((usize, usize), Tally)>> {
    let mut pairs: Vec<((usize, usize), Tally)> = Vec::new();
    for (key, t) in all.iter().flat_map(|f| f.pairs.iter()) {
        match pairs.iter_mut().find(|(k, _)| k == key) {
            Some((_, sum)) => {
                sum.count += t.count;
                sum.delays = (sum.delays.0.min(t.delays.0), sum.delays.1.max(t.delays.1));
                sum.weights = (sum.weights.0.min(t.weights.0), sum.weights.1.max(t.weights.1));
                sum.first = sum.first.min(t.first);
            }
            None => pairs.push((*key, *t)),
        }
    }
    // The first edge of each pair whose kind is not the pair's first edge's: on each
    // process, its own first edge if of another kind, else the first it found differing.
    let kind = |type_id: i64| source.type_of(type_id).map(|t| t.synapse);
    let mut errors: Vec<(u64, bool, String)> = all.iter().filter_map(|f| f.error.clone()).collect();
    for (key, whole) in &pairs {
        for (_, t) in all.iter().flat_map(|f| f.pairs.iter()).filter(|(k, _)| k == key) {
            let differing = if kind(t.first.1) != kind(whole.first.1) { Some(t.first) } else { t.other_kind };
            if let Some((edge, type_id)) = differing {
                let message = format!("/edges/{}: edge {edge} is of edge type {type_id}, of another synaptic kind than the edges before it: one projection takes one kind", source.population);
                errors.push((edge, false, message));
            }
        }
    }
    if let Some((_, in_types, message)) = errors.into_iter().min_by_key(|e| e.0) {
        let path = if in_types { types_path } else { &source.file };
        return Err(Error::Input { path: path.to_path_buf(), message });
    }
    pairs.sort_by_key(|(k, _)| *k);
    Ok(pairs)
}

/// A process's tallies as words: the pairs' count, each pair's eleven words, then the
/// error (a flag, its edge, its file, its message as `text_words`).
fn encode(found: &Found) -> Vec<u64> {
    let mut words = vec![found.pairs.len() as u64];
    for ((s, t), tally) in &found.pairs {
        let (other, other_type) = tally.other_kind.map_or((u64::MAX, 0), |(e, ty)| (e, ty as u64));
        words.extend([*s as u64, *t as u64, tally.count, tally.delays.0 as u64, tally.delays.1 as u64]);
        words.extend([tally.weights.0.to_bits(), tally.weights.1.to_bits(), tally.first.0, tally.first.1 as u64, other, other_type]);
    }
    match &found.error {
        None => words.push(0),
        Some((edge, in_types, message)) => {
            words.extend([1, *edge, *in_types as u64]);
            words.extend(super::text_words(message));
        }
    }
    words
}

fn decode(words: &[u64]) -> Found {
    let mut found = Found::default();
    let pairs = words[0] as usize;
    for p in words[1..1 + 11 * pairs].chunks(11) {
        let tally = Tally {
            count: p[2],
            delays: (p[3] as u32, p[4] as u32),
            weights: (f64::from_bits(p[5]), f64::from_bits(p[6])),
            first: (p[7], p[8] as i64),
            other_kind: (p[9] != u64::MAX).then_some((p[9], p[10] as i64)),
        };
        found.pairs.push(((p[0] as usize, p[1] as usize), tally));
    }
    let rest = &words[1 + 11 * pairs..];
    if rest[0] == 1 {
        found.error = Some((rest[1], rest[2] == 1, super::words_text(&rest[3..])));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_travel_as_words_unchanged() {
        let tally = Tally { count: 7, delays: (2, 9), weights: (-1.5, 3.25), first: (11, -4), other_kind: Some((40, 3)) };
        let found = Found {
            pairs: vec![((0, 2), tally), ((1, 0), Tally { other_kind: None, ..tally })],
            error: Some((99, true, "no edge type 5 (edge 99 …)".into())),
        };
        assert_eq!(decode(&encode(&found)), found);
        assert_eq!(decode(&encode(&Found::default())), Found::default());
    }

    /// Processes whose tallies of one edge population are given (None: a process that
    /// failed): `all_gather` returns what each would send.
    struct Given(Vec<Option<Found>>);

    impl super::super::Share for Given {
        fn part(&self) -> usize {
            0
        }
        fn parts(&self) -> usize {
            self.0.len()
        }
        fn per_read(&self) -> usize {
            1
        }
        fn all_gather(&self, _: &[u64]) -> Vec<Vec<u64>> {
            let words = |f: &Found| [vec![0, 1, encode(f).len() as u64], encode(f)].concat();
            self.0.iter().map(|f| f.as_ref().map_or(vec![1], words)).collect()
        }
    }

    /// The processes' tallies come back by population then process; one process's
    /// failure is every other's `OtherRank`.
    #[test]
    fn tallies_are_gathered_by_population() {
        let tally = Tally { count: 1, delays: (1, 1), weights: (0.0, 0.0), first: (0, 1), other_kind: None };
        let parts = vec![Found { pairs: vec![((0, 0), tally)], error: None }, Found::default()];
        let sharing = Sharing(Some(std::rc::Rc::new(Given(parts.iter().cloned().map(Some).collect()))));
        assert_eq!(gather(&sharing, Some(vec![Found::default()])).unwrap(), vec![parts.clone()]);
        let failed = Sharing(Some(std::rc::Rc::new(Given(vec![Some(parts[0].clone()), None]))));
        assert!(matches!(gather(&failed, Some(vec![Found::default()])), Err(Error::OtherRank { .. })));
        assert_eq!(gather(&Sharing(None), Some(parts.clone())).unwrap(), vec![vec![parts[0].clone()], vec![parts[1].clone()]]);
    }

    fn source() -> EdgeSource {
        use crate::network::{EdgeType, SynapseModel};
        let kind = |id, synapse| EdgeType { id, weight: None, delay_ms: None, synapse };
        EdgeSource {
            file: "e.h5".into(),
            population: "p".into(),
            source_nodes: 0..10,
            target_nodes: 0..10,
            source_base: 0,
            target_base: 0,
            types: vec![kind(1, SynapseModel::Delta), kind(2, SynapseModel::ExpCurrent { tau_ms: 2.0 }), kind(3, SynapseModel::Delta)],
            per_edge_weight: true,
            per_edge_delay: true,
            indexed: false,
            weight_scale: 1.0,
            dt_ms: 0.1,
            count: 0,
            loaded: Default::default(),
            max_indegree: Default::default(),
            given: false,
        }
    }

    /// Parts' tallies combine to what one process reading every edge finds: counts
    /// summed, ranges widened, the first edge the earliest; the first edge of another
    /// kind than the pair's first found wherever it lies; the earliest error wins.
    #[test]
    fn parts_combine_as_one_reading() {
        let (source, types) = (source(), Path::new("t.csv"));
        let tally = |count, first: (u64, i64), other_kind| Tally {
            count,
            delays: (count as u32, 9),
            weights: (-(count as f64), 1.0),
            first,
            other_kind,
        };
        // Part 1 holds the pair's first edge (2, of type 1); part 0's first (7) is of type 3, the same kind.
        let parts = vec![
            Found { pairs: vec![((0, 0), tally(3, (7, 3), None))], error: None },
            Found { pairs: vec![((0, 0), tally(2, (2, 1), None)), ((1, 0), tally(1, (4, 1), None))], error: None },
        ];
        let pairs = combine(parts.clone(), &source, types).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].1, Tally { count: 5, delays: (2, 9), weights: (-3.0, 1.0), first: (2, 1), other_kind: None });
        // A part whose own first edge is of another kind than the pair's first: that
        // edge is the conflict, though the part saw no change of kind itself.
        let mut conflicting = parts.clone();
        conflicting[0].pairs[0].1.first = (7, 2);
        conflicting[1].pairs[0].1.other_kind = Some((9, 2));
        let err = combine(conflicting, &source, types).unwrap_err().to_string();
        assert!(err.contains("edge 7 is of edge type 2, of another synaptic kind"), "{err}");
        // An earlier error of another part wins over the conflict.
        let mut errors = parts;
        errors[0].pairs[0].1.first = (7, 2);
        errors[1].error = Some((5, true, "no edge type 8".into()));
        let err = combine(errors, &source, types).unwrap_err();
        assert!(matches!(&err, Error::Input { path, message } if path == Path::new("t.csv") && message == "no edge type 8"), "{err}");
    }
}
