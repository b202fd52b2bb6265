//! An in-process simulation that runs, and runs on: built once from a description, then
//! advanced any number of times, each run taking up exactly where the last one stopped
//! (the spikes in flight, the delay rings, the step), so that runs of 100 ms and 100 ms
//! give the spikes of one run of 200 ms, bit for bit. Spikes are kept in memory; what a
//! run writes to files stays `run::run`'s. The core of the Python package (issue 31),
//! which wraps this type.

use super::inputs;
use crate::backend::{Backend, BackendOptions};
use crate::comm::{agree, agree_first, Communicator};
use crate::engine::{Carried, Simulation};
use crate::error::Result;
use crate::network::Description;
use crate::record::MemoryRecorder;
use crate::spike::Spike;

/// A description built on this rank, between runs.
pub struct Session {
    desc: Description,
    backend: Box<dyn Backend>,
    comm: Box<dyn Communicator>,
    carried: Option<Carried>,
    /// This rank's spikes of every run so far, sorted by step then id.
    spikes: Vec<Spike>,
}

/// The most steps a session runs in all: a spike's step is 32 bits.
const MAX_STEPS: u64 = u32::MAX as u64;

impl Session {
    /// Builds `desc` on this rank of `comm` (collective), as `run::run` builds it.
    pub fn new(desc: Description, options: &BackendOptions, mut comm: Box<dyn Communicator>) -> Result<Session> {
        let parts = crate::partition::partition(&desc, comm.size());
        inputs::load_shared(&desc, &parts, comm.as_ref())?;
        let built = crate::backend::build(&desc, parts[comm.rank()].clone(), options, comm.rank_on_node());
        let key = built.as_ref().err().map_or(f64::INFINITY, |e| e.key);
        let (backend, _) = agree_first(comm.as_ref(), built.map_err(|e| e.error), key)?;
        let needed = if comm.size() > 1 { backend.needed_sources(desc.total_neurons()) } else { Vec::new() };
        comm.set_exchange(crate::comm::ExchangeMode::Auto, &parts, &needed);
        let mut session = Session { desc, backend, comm, carried: None, spikes: Vec::new() };
        let (backend, comm) = (session.backend.as_mut(), session.comm.as_mut());
        session.carried = Some(Simulation::new(backend, comm, session.desc.epoch_steps(), MAX_STEPS).suspend());
        Ok(session)
    }

    pub fn description(&self) -> &Description {
        &self.desc
    }

    /// The steps run so far.
    pub fn step(&self) -> u64 {
        self.carried.as_ref().map_or(0, |c| c.step())
    }

    /// Runs `steps` further steps (collective); returns this rank's spikes of them.
    pub fn run(&mut self, steps: u64) -> Result<&[Spike]> {
        if steps == 0 {
            return Ok(&[]);
        }
        // Taken only here, and put back before anything can fail.
        let Some(carried) = self.carried.take() else {
            return Err(crate::Error::Runtime("the session lost its simulation in an earlier run that did not finish".into()));
        };
        let mut sim = Simulation::resume(self.backend.as_mut(), self.comm.as_mut(), carried);
        let mut recorder = MemoryRecorder::default();
        let ran = sim.advance(steps, &mut recorder);
        self.carried = Some(sim.suspend());
        agree(self.comm.as_ref(), ran)?;
        let from = self.spikes.len();
        self.spikes.extend_from_slice(&recorder.spikes);
        Ok(&self.spikes[from..])
    }

    /// This rank's spikes of every run so far.
    pub fn spikes(&self) -> &[Spike] {
        &self.spikes
    }

    /// The backend, to read or change state between runs.
    pub fn backend_mut(&mut self) -> &mut dyn Backend {
        self.backend.as_mut()
    }
}
