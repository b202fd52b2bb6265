//! Recorders receive the spikes of each epoch. They know no backend; the SONATA HDF5
//! reader and writer live in `sonata`.

pub mod appender;
pub mod atomic;
pub mod circuit;
mod edge_columns;
pub mod edge_file;
pub mod provenance;
pub mod rates;
pub mod report;
pub mod sonata;
pub mod weights;
pub mod writer;

use crate::comm::Communicator;
use crate::error::Result;
use crate::spike::Spike;
use appender::FileRecord;
use std::path::PathBuf;

pub trait Recorder {
    /// The local spikes of one epoch, sorted by step then id.
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()>;
}

/// One output of a run: the spike file, a report, the rate traces. The run holds a list
/// of them and records into, flushes, checkpoints and finishes them in one place
/// (`run::outputs`). Appends are collective: every rank calls each method of each
/// output in the same order.
pub trait Output: Recorder {
    /// Appends what falls before `step` (collective). `samples(probe, out)` hands over the
    /// samples a backend's probe took since the last call (what a report records).
    fn flush(&mut self, step: u64, samples: &mut dyn FnMut(usize, &mut Vec<f32>), comm: &dyn Communicator) -> Result<()>;
    /// Appends what a run stopped at `step` by a state found non-finite can vouch for
    /// (collective): by default all before `step`.
    fn stop_at(&mut self, step: u64, samples: &mut dyn FnMut(usize, &mut Vec<f32>), comm: &dyn Communicator) -> Result<()> {
        self.flush(step, samples, comm)
    }
    /// What a checkpoint keeps of it, under `name`, its name in the output directory
    /// (collective); None for an output without a file.
    fn file_record(&self, name: &str, comm: &dyn Communicator) -> Option<FileRecord>;
    /// Records how the run ended (`status`) and closes (collective): the file written.
    fn finish(self: Box<Self>, status: &str, comm: &dyn Communicator) -> Result<Option<PathBuf>>;
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
