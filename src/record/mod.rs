//! Recorders receive the spikes of each epoch. They know no backend; the SONATA HDF5
//! reader and writer live in `sonata`.

pub mod appender;
pub mod atomic;
pub mod provenance;
pub mod rates;
pub mod report;
pub mod sonata;
pub mod writer;

use crate::error::Result;
use crate::spike::Spike;

pub trait Recorder {
    /// The local spikes of one epoch, sorted by step then id.
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()>;
}

/// Keeps every spike in memory (tests, and the single-file write at the end of a run).
#[derive(Debug, Default)]
pub struct MemoryRecorder {
    pub spikes: Vec<Spike>,
}

impl Recorder for MemoryRecorder {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        self.spikes.extend_from_slice(spikes);
        Ok(())
    }
}

/// Two recorders fed the same spikes (the spike file and the rate traces).
pub struct Both<'a>(pub &'a mut dyn Recorder, pub &'a mut dyn Recorder);

impl Recorder for Both<'_> {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        self.0.record_spikes(spikes)?;
        self.1.record_spikes(spikes)
    }
}
