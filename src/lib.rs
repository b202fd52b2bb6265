//! volley: a spiking neural network simulator.
//!
//! Layers (DESIGN.md §2): `config` (model files) → `network` (the description) →
//! `connectivity` (local synapse store) → `engine` (epoch loop) → `backend` (CPU threads)
//! → `record` (SONATA HDF5). `run` wires them together for the CLI.

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
pub mod plot;
pub mod record;
pub mod rng;
pub mod run;
pub mod simd;
pub mod spike;
pub mod stimulus;
pub mod synapse;
pub mod units;

pub use error::{Error, Result};
