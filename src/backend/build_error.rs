//! What a backend's build reports when a value cannot be simulated or memory runs out:
//! shared by the CPU and GPU backends, so that both word it alike and order it alike.

use crate::connectivity::generate::InvalidWeight;
use crate::error::Error;
use crate::model::InvalidValue;
use crate::network::Description;
use crate::units::describe_value as describe;

/// A value that cannot be simulated, found while building, with a key that orders such
/// failures the same way whatever the split into shards and ranks (neurons by id, then
/// synapses by projection and row), so that every run reports the same first one.
#[derive(Debug)]
pub struct InvalidBuild {
    pub key: f64,
    pub error: Error,
}

pub(crate) fn invalid_value(desc: &Description, pop: usize, first: u64, e: InvalidValue) -> InvalidBuild {
    let p = &desc.populations[pop];
    let gid = first + e.index as u64;
    let message = format!(
        "evaluates to {} for neuron {} of '{}' (r = {}): expected {}",
        describe(e.value),
        gid - p.first_gid,
        p.name,
        e.r,
        e.expected
    );
    InvalidBuild {
        key: gid as f64,
        error: Error::Model {
            file: desc.model_file.clone(),
            location: String::new(),
            field: format!("population[{pop}].{}.{}", e.table, e.name),
            message,
        },
    }
}

/// An allocation of the build that failed: the memory check let the run start, so
/// either something else took the memory since or a limit applies that it could not
/// read; the error says how much and for what.
pub(crate) fn out_of_memory(e: crate::memory::OutOfMemory, what: &str) -> InvalidBuild {
    InvalidBuild {
        key: f64::NEG_INFINITY,
        error: Error::Memory(format!(
            "cannot allocate {} for {what}: this process may not have more memory (another process took it since the memory check, or a limit applies that the check could not read); use fewer neurons, or more ranks",
            crate::units::fmt_bytes(e.bytes)
        )),
    }
}

pub(crate) fn invalid_weight(desc: &Description, e: InvalidWeight) -> InvalidBuild {
    let p = &desc.projections[e.projection as usize];
    let name = |gid: u64| {
        let q = desc.populations.iter().find(|q| q.gids().contains(&gid)).expect("a neuron of the network");
        format!("{} {}", q.name, gid - q.first_gid)
    };
    let names = ["u", "u2", "u3"];
    let uniforms: Vec<String> = e.uniforms.iter().zip(names).map(|(u, n)| format!("{n} = {u}")).collect();
    let uniforms = if uniforms.is_empty() { String::new() } else { format!(" ({})", uniforms.join(", ")) };
    let message = format!(
        "evaluates to {} for the synapse from {} to {}{uniforms}: expected a finite number",
        describe(e.value),
        name(e.source),
        name(e.target)
    );
    let row = if p.rule.per_source() { e.source } else { e.target };
    InvalidBuild {
        key: (1u64 << 33) as f64 * (1.0 + e.projection as f64) + row as f64,
        error: Error::Model {
            file: desc.model_file.clone(),
            location: String::new(),
            field: format!("projection[{}].weight", e.projection),
            message,
        },
    }
}

/// A plastic synapse drawn with a weight its rule cannot hold (outside [0, w_max]).
pub(crate) fn weight_outside_rule(desc: &Description, projection: u32, weight: f32, expected: &str) -> InvalidBuild {
    InvalidBuild {
        key: (1u64 << 33) as f64 * (1.0 + projection as f64),
        error: Error::Model {
            file: desc.model_file.clone(),
            location: String::new(),
            field: format!("projection[{projection}].weight"),
            message: format!("a synapse was drawn with weight {weight}: a plastic projection's weights must lie within its rule's bounds: expected {expected}"),
        },
    }
}
