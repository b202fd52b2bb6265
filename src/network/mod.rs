//! The description of a network (Arbor's "recipe"): populations with global id ranges,
//! their neuron models and parameter expressions, projections with connection rules.
//! It knows nothing of ranks, threads or GPUs; everything random in it is a pure
//! function of the seed and global ids (DESIGN.md §1).

use crate::expr::Expr;
use crate::model::NeuronModel;
use crate::rng;
use std::ops::Range;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Description {
    pub dt_ms: f64,
    pub steps: u64,
    pub seed: u64,
    pub populations: Vec<Population>,
    pub projections: Vec<Projection>,
    pub output: OutputPlan,
}

#[derive(Clone, Debug)]
pub struct Population {
    pub name: String,
    /// Global id of the first neuron; populations are numbered in file order.
    pub first_gid: u64,
    pub size: u64,
    pub model: NeuronModel,
    pub noise_std: f64,
    pub bias_current: f64,
}

impl Population {
    pub fn gids(&self) -> Range<u64> {
        self.first_gid..self.first_gid + self.size
    }
}

#[derive(Clone, Debug)]
pub struct Projection {
    /// Index in file order; keys the projection's random streams.
    pub id: u32,
    pub source: usize,
    pub target: usize,
    pub rule: ConnectionRule,
    /// Weight as an expression of a per-synapse uniform `u` in [0, 1).
    pub weight: Expr,
    pub delay_steps: u32,
    pub synapse: SynapseModel,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConnectionRule {
    /// Every source onto every target (net.m's S matrix); `autapses = false` leaves out
    /// a neuron's synapse onto itself.
    AllToAll { autapses: bool },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SynapseModel {
    /// The weight jumps into the target's input current of the arrival step (net.m).
    Delta,
}

#[derive(Clone, Debug, Default)]
pub struct OutputPlan {
    pub dir: PathBuf,
    /// File name of the SONATA spike file in `dir`, if spikes are written.
    pub spikes: Option<String>,
    /// File name of the raster PNG in `dir`, if it is drawn.
    pub raster: Option<String>,
}

impl Description {
    pub fn total_neurons(&self) -> u64 {
        self.populations.iter().map(|p| p.size).sum()
    }

    /// The smallest delay in steps: the length of an epoch between exchanges.
    pub fn min_delay_steps(&self) -> u32 {
        self.projections
            .iter()
            .map(|p| p.delay_steps)
            .min()
            .unwrap_or(1)
            .max(1)
    }

    pub fn max_delay_steps(&self) -> u32 {
        self.projections
            .iter()
            .map(|p| p.delay_steps)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// The population that holds global id `gid`.
    pub fn population_of(&self, gid: u64) -> usize {
        self.populations
            .iter()
            .position(|p| p.gids().contains(&gid))
            .expect("gid inside the network")
    }

    /// Number of synapses the description creates (before any storage choice).
    pub fn synapse_count(&self) -> u64 {
        self.projections
            .iter()
            .map(|p| {
                let (s, t) = (&self.populations[p.source], &self.populations[p.target]);
                match p.rule {
                    ConnectionRule::AllToAll { autapses } => {
                        let overlap = if !autapses && p.source == p.target {
                            s.size
                        } else {
                            0
                        };
                        s.size * t.size - overlap
                    }
                }
            })
            .sum()
    }

    /// The per-neuron uniform `r` of neuron `gid`.
    pub fn neuron_uniform(&self, gid: u64) -> f64 {
        rng::neuron_uniform(self.seed, gid)
    }
}
