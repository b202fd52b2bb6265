//! The run's reports: the backend's probes and the report writers.

use super::RunOptions;
use crate::backend::{Backend, Probe};
use crate::checkpoint::Checkpoint;
use crate::comm::Communicator;
use crate::error::Result;
use crate::network::{Description, ReportPlan};
use crate::record::appender::FileRecord;
use crate::record::report::{ReportLayout, ReportWriter};
use crate::record::writer::Provenance;
use std::ops::Range;
use std::path::PathBuf;

/// The run's reports: for each, its writer and the backend's probe of each of its
/// populations.
pub(super) struct Sampling {
    reports: Vec<(ReportPlan, ReportWriter, Vec<usize>)>,
    dt_ms: f64,
    samples: Vec<f32>,
}

impl Sampling {
    /// Creates the report files (collective) and hands the backend a probe per
    /// population of each report, for the neurons of `mine` (this rank's global ids).
    /// With `resume_at`, the reports of a checkpointed run are opened instead, to go on
    /// from that step.
    pub(super) fn create(
        desc: &Description,
        options: &RunOptions,
        provenance: &Provenance,
        comm: &dyn Communicator,
        backend: &mut dyn Backend,
        mine: Range<u64>,
        resume: Option<&Checkpoint>,
    ) -> Result<Sampling> {
        let mut reports = Vec::new();
        for plan in &desc.output.reports {
            let mut local = Vec::new();
            let mut probes = Vec::new();
            for rp in &plan.populations {
                let p = &desc.populations[rp.population];
                let (lo, hi) = (mine.start.max(p.first_gid), mine.end.min(p.first_gid + p.size));
                let range = if lo < hi { lo - p.first_gid..hi - p.first_gid } else { 0..0 };
                let gids = rp.neurons.iter().filter(|i| range.contains(i)).map(|&i| p.first_gid + i).collect();
                probes.push(backend.add_probe(Probe { gids, variable: rp.variable, schedule: plan.schedule }));
                local.push(range);
            }
            let layout = ReportLayout {
                variable: plan.variable.clone(),
                unit: plan.unit.clone(),
                populations: plan.populations.iter().map(|rp| (desc.populations[rp.population].name.clone(), rp.neurons.clone())).collect(),
                dt_ms: desc.dt_ms,
                schedule: plan.schedule,
            };
            let path = desc.output.dir.join(&plan.file);
            let writer = match resume {
                Some(c) => {
                    let record = c.positions.file(&plan.file, &c.path)?;
                    ReportWriter::reopen(&path, layout, &local, (record, c.step as f64 * desc.dt_ms), provenance, comm)?
                }
                None => ReportWriter::create(&path, layout, &local, provenance, comm)?,
            };
            let writer = if options.skip_space_check { writer.without_foresight() } else { writer };
            reports.push((plan.clone(), writer, probes));
        }
        Ok(Sampling { reports, dt_ms: desc.dt_ms, samples: Vec::new() })
    }

    /// Collects the samples taken so far and appends those of the steps below `step`
    /// (collective).
    pub(super) fn flush(&mut self, step: u64, backend: &mut dyn Backend, comm: &dyn Communicator) -> Result<()> {
        for (plan, writer, probes) in &mut self.reports {
            for (p, &probe) in probes.iter().enumerate() {
                self.samples.clear();
                backend.take_samples(probe, &mut self.samples);
                writer.record(p, &self.samples);
            }
            writer.flush(plan.schedule.samples_before(step), step as f64 * self.dt_ms, comm)?;
        }
        Ok(())
    }

    /// What a checkpoint keeps of each report file (collective; after a flush).
    pub(super) fn records(&self, comm: &dyn Communicator) -> Vec<FileRecord> {
        self.reports.iter().map(|(plan, w, _)| w.file_record(&plan.file, comm)).collect()
    }

    /// Records how the run ended in each report and closes them (collective).
    pub(super) fn finish(self, status: &str, comm: &dyn Communicator) -> Result<Vec<PathBuf>> {
        self.reports.into_iter().map(|(_, writer, _)| writer.finish(status, comm)).collect()
    }
}
