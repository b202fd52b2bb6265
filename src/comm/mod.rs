//! Communicators move the spikes of an epoch between ranks. The engine knows only this
//! trait; the single-process implementation is `LocalComm`.

use crate::spike::Spike;

pub trait Communicator {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    /// Gathers every rank's `local` spikes (each sorted) into `global`, sorted by step
    /// then id, identical on every rank.
    fn exchange(&mut self, local: &[Spike], global: &mut Vec<Spike>);
}

/// One process: the local spikes are all the spikes.
#[derive(Debug, Default)]
pub struct LocalComm;

impl Communicator for LocalComm {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn exchange(&mut self, local: &[Spike], global: &mut Vec<Spike>) {
        global.clear();
        global.extend_from_slice(local);
    }
}
