//! SONATA files read as input: circuits (configs, node and edge populations, their type
//! tables) to be simulated, and spike trains for spike sources to replay. (The outputs
//! volley writes in SONATA's layout are `record`'s.)

pub mod circuit;
pub mod config;
pub mod edges;
pub mod spikes;
pub mod types;
