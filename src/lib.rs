//! volley: a spiking neural network simulator.
//!
//! The house has one direction: a module imports only from the modules below it, in
//! this order (bottom first; `tests/layers.rs` reads the list between the markers and
//! fails on an import against it, naming the file and line):
//!
//! LAYERS:
//! error suggest units digest simd gaussian rng expr memory limits spike
//! synapse model stimulus plasticity
//! network
//! sonata
//! connectivity
//! config
//! partition comm
//! backend
//! record analysis plot
//! engine
//! plan checkpoint
//! run
//! cli
//! END LAYERS
//!
//! - Helpers with no knowledge of networks: errors and "did you mean" (`suggest`), formatting of sizes, times and
//!   values (`units`), split-independent checksums (`digest`), SIMD dispatch, the keyed
//!   counter-based generators (`gaussian`, `rng`), the expression language, fallible
//!   large allocations (`memory`), the process's memory limits (`limits`), the spike
//!   record.
//! - The vocabulary of dynamics: synaptic kinds, neuron models as data (their
//!   declarations, steps and WGSL twins), stimuli keyed by (seed, neuron, step).
//! - `network`: the description (Arbor's recipe) that uses them — populations,
//!   projections, stimuli, outputs, the backend asked for — and nothing of ranks,
//!   threads or devices.
//! - `sonata`: what is read from SONATA files beside a description: spike trains to
//!   replay, circuits' nodes and edges.
//! - `connectivity`: the local synapse store, with the delay rings and the spikes in
//!   flight that belong to it, and the keyed draws of synapses and weights.
//! - `config`: model files and `--set` to a description, a front end beside those to
//!   come (SONATA circuits, Python).
//! - `partition` (which rank owns which neurons) and `comm` (ranks talking).
//! - `backend`: trait `Backend`, the CPU and GPU backends and the one choice point.
//! - `record`: the output files (SONATA), and what reads them back (`analysis`,
//!   `plot`).
//! - `engine`: the epoch loop over a backend, a communicator and recorders.
//! - `plan` (what a run needs) and `checkpoint` (its state, saved and restored).
//! - `run`: one run from a description to files.
//! - `cli` (the binary's, beside `main.rs`): one module per command, above all.
//!
//! Why `config` sits just above `connectivity`: it validates a model file against the
//! vocabulary (models, synapses, stimuli, reports) and checks weight distributions with
//! the same functions that draw them (`connectivity::generate`), so that a file is
//! refused for exactly what would fail to draw; and it must know nothing of ranks,
//! backends, files or runs, which lie above it. Nothing else needs a model file, only
//! descriptions.

pub mod analysis;
pub mod backend;
pub mod checkpoint;
pub mod comm;
pub mod config;
pub mod connectivity;
pub mod digest;
pub mod engine;
pub mod error;
pub mod expr;
pub mod gaussian;
pub mod limits;
pub mod memory;
pub mod model;
pub mod network;
pub mod partition;
pub mod plan;
pub mod plasticity;
pub mod plot;
pub mod record;
pub mod rng;
pub mod run;
pub mod simd;
pub mod sonata;
pub mod spike;
pub mod stimulus;
pub mod suggest;
pub mod synapse;
pub mod units;

pub use error::{Error, Result};
