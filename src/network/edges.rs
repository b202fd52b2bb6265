//! Synapses given as data (a SONATA edge population) rather than drawn by a rule: where
//! they are, what was learnt about them when the description was made (their count, the
//! node ids they join, their delays' range), and the rows read for the targets of this
//! process — each process reads only the edges onto its own neurons
//! (`sonata::edges::load_rows`).

use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// An edge population (or the part of it between one run of source nodes and one of
/// target nodes) that a projection takes its synapses from.
#[derive(Debug)]
pub struct EdgeSource {
    pub file: PathBuf,
    /// The group `/edges/<population>`.
    pub population: String,
    /// The node ids of the sources and targets this projection takes (SONATA's ids in
    /// their node populations); edges from or onto other nodes belong to other
    /// projections.
    pub source_nodes: Range<u64>,
    pub target_nodes: Range<u64>,
    /// The global ids of node 0 of the source and the target node populations.
    pub source_base: u64,
    pub target_base: u64,
    /// Per edge type id: its weight and delay (ms) where the edge types give them; sorted
    /// by id.
    pub types: Vec<EdgeType>,
    /// Whether group 0 holds per-edge `syn_weight` and `delay`, which win over the types'.
    pub per_edge_weight: bool,
    pub per_edge_delay: bool,
    /// Whether the file has `indices/target_to_source` (else rows are found by a scan).
    pub indexed: bool,
    /// What each weight is multiplied by (PyNN's nA to pA onto its current-based cells).
    pub weight_scale: f64,
    pub dt_ms: f64,
    /// Edges this projection takes.
    pub count: u64,
    /// Rows read for ranges of targets, kept for the stores built from them.
    pub loaded: Mutex<Vec<Arc<TargetRows>>>,
    /// The most synapses onto one target, once known (0 before): learnt where the rows
    /// of all its targets are read, by one process or by all ranks together.
    pub max_indegree: AtomicU64,
    /// Whether the rows were given in memory (a projection's weights set between runs:
    /// `EdgeSource::given`) rather than read from `file`: kept, never read again.
    pub given: bool,
}

/// An edge type's values: each None where neither the edge types' CSV nor its
/// dynamics_params give one (NEST's defaults, weight 1 and delay 1 ms, then apply).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdgeType {
    pub id: i64,
    pub weight: Option<f64>,
    pub delay_ms: Option<f64>,
    /// Its synaptic kind (volley's columns; delta, NEST's static_synapse onto a
    /// current-based model, without them).
    pub synapse: crate::synapse::SynapseModel,
}

/// The synapses onto a range of targets, by target (global ids), each row in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetRows {
    pub targets: Range<u64>,
    /// Row of target `targets.start + k`: `offsets[k]..offsets[k + 1]`.
    pub offsets: Vec<u64>,
    /// Global id of each synapse's source (global ids are below 2³²).
    pub sources: Vec<u32>,
    pub weights: Vec<f32>,
    /// In steps, at least 1.
    pub delays: Vec<u32>,
}

impl TargetRows {
    /// The rows of `targets` from `found` synapses (target, source, weight, delay steps),
    /// given in file order: each row keeps that order.
    pub fn from_found(targets: Range<u64>, found: &[(u32, u32, f32, u32)]) -> TargetRows {
        let n = (targets.end - targets.start) as usize;
        let mut offsets = vec![0u64; n + 1];
        for &(t, ..) in found {
            offsets[(t as u64 - targets.start) as usize + 1] += 1;
        }
        for k in 1..offsets.len() {
            offsets[k] += offsets[k - 1];
        }
        let mut at = offsets.clone();
        let total = found.len();
        let (mut sources, mut weights, mut delays) = (vec![0; total], vec![0.0; total], vec![0; total]);
        for &(t, s, w, d) in found {
            let slot = &mut at[(t as u64 - targets.start) as usize];
            let i = *slot as usize;
            *slot += 1;
            (sources[i], weights[i], delays[i]) = (s, w, d);
        }
        TargetRows { targets, offsets, sources, weights, delays }
    }

    /// The most synapses onto one of its targets.
    pub fn max_row(&self) -> u64 {
        self.offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
    }

    /// The synapses onto target `gid` (inside `targets`): sources, weights, delays.
    pub fn row(&self, gid: u64) -> (&[u32], &[f32], &[u32]) {
        let k = (gid - self.targets.start) as usize;
        let r = self.offsets[k] as usize..self.offsets[k + 1] as usize;
        (&self.sources[r.clone()], &self.weights[r.clone()], &self.delays[r])
    }
}

impl EdgeSource {
    /// The weight and delay of an edge of type `type_id`, where its type gives them.
    pub fn type_of(&self, type_id: i64) -> Option<&EdgeType> {
        self.types.binary_search_by_key(&type_id, |t| t.id).ok().map(|k| &self.types[k])
    }

    /// Rows read before whose targets include `targets`.
    pub fn rows_covering(&self, targets: &Range<u64>) -> Option<Arc<TargetRows>> {
        let loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded.iter().find(|r| r.targets.start <= targets.start && targets.end <= r.targets.end).cloned()
    }

    /// The most synapses onto one target, where known.
    pub fn max_indegree(&self) -> Option<u64> {
        Some(self.max_indegree.load(Ordering::Relaxed)).filter(|&m| m > 0)
    }

    /// Records the most synapses onto one target, as learnt.
    pub fn learn_max_indegree(&self, most: u64) {
        self.max_indegree.store(most, Ordering::Relaxed);
    }

    /// Keeps rows read, for the stores built from them.
    pub fn keep(&self, rows: Arc<TargetRows>) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).push(rows);
    }

    /// Lets go of the rows read, once the stores are built (a store built again later,
    /// when shards are re-cut, reads its rows again).
    pub fn forget(&self) {
        if !self.given {
            self.loaded.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// A digest of the rows given in memory (what a checkpoint's identity holds of a
    /// listed projection); 0 for rows read from a file.
    pub fn given_digest(&self) -> u64 {
        if !self.given {
            return 0;
        }
        let loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        crate::digest::hash(format_args!("{:?}", *loaded))
    }

    /// Synapses given in memory: `rows`, this process's targets' (each row in the order
    /// its target sums them), of `count` synapses in all and at most `max_indegree` onto
    /// one target over every process. Built where a projection's weights are set between
    /// runs; its store is built from them as from rows read from a file.
    pub fn given(rows: TargetRows, count: u64, max_indegree: u64, dt_ms: f64) -> EdgeSource {
        EdgeSource {
            file: PathBuf::from("(weights set between runs)"),
            population: String::new(),
            source_nodes: 0..0,
            target_nodes: 0..0,
            source_base: 0,
            target_base: 0,
            types: Vec::new(),
            per_edge_weight: true,
            per_edge_delay: true,
            indexed: true,
            weight_scale: 1.0,
            dt_ms,
            count,
            loaded: Mutex::new(vec![Arc::new(rows)]),
            max_indegree: AtomicU64::new(max_indegree),
            given: true,
        }
    }
}
