//! Synapses given as data (a SONATA edge population) rather than drawn by a rule: where
//! they are, what was learnt about them when the description was made (their count, the
//! node ids they join, their delays' range), and the rows read for the targets of this
//! process — each process reads only the edges onto its own neurons
//! (`sonata::edges::load_rows`).

use std::ops::Range;
use std::path::PathBuf;
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
    /// What each weight is multiplied by (PyNN's nA to pA onto its current-based cells).
    pub weight_scale: f64,
    pub dt_ms: f64,
    /// Edges this projection takes.
    pub count: u64,
    /// Rows read for ranges of targets, kept for the stores built from them.
    pub loaded: Mutex<Vec<Arc<TargetRows>>>,
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

    /// Keeps rows read, for the stores built from them.
    pub fn keep(&self, rows: Arc<TargetRows>) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).push(rows);
    }

    /// Lets go of the rows read, once the stores are built (a store built again later,
    /// when shards are re-cut, reads its rows again).
    pub fn forget(&self) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
