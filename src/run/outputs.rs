//! The run's outputs, in one list: the spike file (or, where there is none, a writer
//! that only counts the spikes for the summary), each report with the backend's probes,
//! the rate traces. Created — or reopened from a checkpoint — together, fed each epoch's
//! spikes, flushed, checkpointed, stopped and finished in one place, in one order on
//! every rank (their appends are collective).

use super::RunOptions;
use crate::backend::{Backend, Probe};
use crate::checkpoint::Checkpoint;
use crate::comm::Communicator;
use crate::error::Result;
use crate::network::Description;
use crate::network::WeightsPlan;
use crate::record::appender::FileRecord;
use crate::record::rates::RateWriter;
use crate::record::report::{ReportLayout, ReportWriter};
use crate::record::sonata::PopulationRange;
use crate::record::weights::{WeightsLayout, WeightsWriter};
use crate::record::writer::{chunk_for, Provenance, SpikeDatasets, SpikeFilter, SpikeWriter};
use crate::record::{Output, Recorder};
use crate::spike::Spike;
use crate::stimulus::Selection;
use std::ops::Range;
use std::path::PathBuf;

pub(super) struct Outputs {
    /// The spike file's writer (or counter): its counts are the run's summary.
    spikes: SpikeWriter,
    /// The spike file's name in the output directory, where there is one.
    spike_name: Option<String>,
    /// The reports, then the rate traces, each with its name in the output directory.
    others: Vec<(String, Box<dyn Output>)>,
    /// The weight snapshots, each with its plan and the run's length in steps.
    weights: Vec<(WeightsPlan, WeightsWriter)>,
    steps: u64,
}

/// What the outputs left: the spike file, and the other files.
pub(super) struct Finished {
    pub spike_file: Option<PathBuf>,
    pub others: Vec<PathBuf>,
}

impl Outputs {
    /// Creates every output file of the run (collective), or with `resume`, opens those
    /// of the checkpoint's run to go on from it; hands the backend a probe per population
    /// of each report, for this rank's neurons `mine`.
    pub(super) fn create(
        desc: &Description,
        options: &RunOptions,
        (made_by, comm): (&Provenance, &dyn Communicator),
        backend: &mut dyn Backend,
        mine: Range<u64>,
        resume: Option<&Checkpoint>,
    ) -> Result<Outputs> {
        let dir = &desc.output.dir;
        let all =
            || desc.populations.iter().map(|p| PopulationRange { name: p.name.clone(), first_gid: p.first_gid, size: p.size }).collect();
        let spike_name = spike_file_name(desc);
        let spikes = match &spike_name {
            Some(name) => {
                let path = dir.join(name);
                let populations = population_ranges(desc);
                let w = match resume {
                    Some(c) => {
                        SpikeWriter::reopen(&path, populations, (c.positions.file(name, &c.path)?, c.step), desc.dt_ms, made_by, comm)?
                    }
                    None => {
                        SpikeWriter::create(&path, populations, spike_datasets(desc, options.expected_rate_hz), desc.dt_ms, made_by, comm)?
                    }
                };
                let w = if options.skip_space_check { w.without_foresight() } else { w };
                match spike_filter(desc) {
                    Some(filter) => w.with_filter(filter),
                    None => w,
                }
            }
            None => SpikeWriter::counting(all(), desc.dt_ms).starting_at(resume.map_or(0, |c| c.step)),
        };
        let mut others: Vec<(String, Box<dyn Output>)> = Vec::new();
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
            let path = dir.join(&plan.file);
            let writer = match resume {
                Some(c) => {
                    let record = c.positions.file(&plan.file, &c.path)?;
                    ReportWriter::reopen(&path, layout, &local, (record, c.step as f64 * desc.dt_ms), made_by, comm)?
                }
                None => ReportWriter::create(&path, layout, &local, made_by, comm)?,
            };
            let writer = if options.skip_space_check { writer.without_foresight() } else { writer };
            others.push((plan.file.clone(), Box::new(writer.with_probes(probes))));
        }
        if let Some((name, bin)) = &desc.output.rates {
            let path = dir.join(name);
            let r = match resume {
                Some(c) => RateWriter::reopen(&path, all(), (*bin, c.step, desc.dt_ms), c.positions.file(name, &c.path)?, made_by, comm)?,
                None => RateWriter::create(&path, all(), *bin, desc.dt_ms, made_by, comm)?,
            };
            others.push((name.clone(), Box::new(if options.skip_space_check { r.without_foresight() } else { r })));
        }
        let mut weights = Vec::new();
        for plan in &desc.output.weights {
            let p = &desc.projections[plan.projection as usize];
            let (source, target) = (&desc.populations[p.source], &desc.populations[p.target]);
            let layout = WeightsLayout {
                name: format!("{}_to_{}", source.name, target.name),
                source: (source.name.clone(), source.first_gid),
                target: (target.name.clone(), target.first_gid),
                target_size: target.size,
                local_targets: {
                    let (lo, hi) = (mine.start.max(target.first_gid), mine.end.min(target.first_gid + target.size));
                    if lo < hi {
                        lo - target.first_gid..hi - target.first_gid
                    } else {
                        0..0
                    }
                },
                dt_ms: desc.dt_ms,
            };
            let synapses = backend.plastic_synapses(plan.projection);
            let path = dir.join(&plan.file);
            let writer = match resume {
                Some(c) => {
                    let record = c.positions.file(&plan.file, &c.path)?;
                    let held_ms = plan.last_until(c.step) as f64 * desc.dt_ms;
                    WeightsWriter::reopen(&path, layout, &synapses, (record, held_ms), made_by, comm)?
                }
                None => WeightsWriter::create(&path, layout, &synapses, made_by, comm)?,
            };
            weights.push((plan.clone(), writer));
        }
        let mut outputs = Outputs { spikes, spike_name, others, weights, steps: desc.steps };
        // A resumed run's file holds the snapshot of the checkpoint's step already (the
        // run writes the step's snapshots before its checkpoint).
        if resume.is_none() {
            outputs.snapshot_weights(0, backend, comm)?;
        }
        Ok(outputs)
    }

    /// The first step after `step` at which a weight snapshot is due, if any.
    pub(super) fn next_snapshot_after(&self, step: u64) -> Option<u64> {
        self.weights.iter().map(|(plan, _)| plan.next_after(step, self.steps)).min()
    }

    /// Writes the weight snapshots due at `step` (collective).
    pub(super) fn snapshot_weights(&mut self, step: u64, backend: &mut dyn Backend, comm: &dyn Communicator) -> Result<()> {
        if self.weights.iter().any(|(plan, _)| plan.due(step, self.steps)) {
            backend.settle_plastic(step);
        }
        for (plan, writer) in &mut self.weights {
            if plan.due(step, self.steps) {
                writer.snapshot(step, &backend.plastic_synapses(plan.projection), comm)?;
            }
        }
        Ok(())
    }

    /// Every output, the spike file first.
    fn each(&mut self) -> impl Iterator<Item = &mut dyn Output> {
        std::iter::once(&mut self.spikes as &mut dyn Output).chain(self.others.iter_mut().map(|(_, o)| o.as_mut() as &mut dyn Output))
    }

    /// Appends what falls before `step` to every output (collective), with the samples
    /// the backend's probes took.
    pub(super) fn flush(&mut self, step: u64, backend: &mut dyn Backend, comm: &dyn Communicator) -> Result<()> {
        let mut samples = |probe: usize, out: &mut Vec<f32>| backend.take_samples(probe, out);
        self.each().try_for_each(|o| o.flush(step, &mut samples, comm))
    }

    /// Appends what a run stopped at `step` by a non-finite state can vouch for
    /// (collective).
    pub(super) fn stop_at(&mut self, step: u64, backend: &mut dyn Backend, comm: &dyn Communicator) -> Result<()> {
        let mut samples = |probe: usize, out: &mut Vec<f32>| backend.take_samples(probe, out);
        self.each().try_for_each(|o| o.stop_at(step, &mut samples, comm))
    }

    /// What a checkpoint keeps of every output file (collective).
    pub(super) fn records(&self, comm: &dyn Communicator) -> Vec<FileRecord> {
        let spikes = self.spike_name.as_ref().and_then(|name| self.spikes.file_record(name, comm));
        let weights = self.weights.iter().map(|(plan, w)| w.record(&plan.file, comm));
        spikes.into_iter().chain(self.others.iter().filter_map(|(name, o)| o.file_record(name, comm))).chain(weights).collect()
    }

    /// This rank's spikes per population of the network (after the last flush).
    pub(super) fn local_counts(&self) -> Vec<u64> {
        self.spikes.local_counts().to_vec()
    }

    /// Records how the run ended in every output and closes them (collective).
    pub(super) fn finish(self, status: &str, comm: &dyn Communicator) -> Result<Finished> {
        let spike_file = Box::new(self.spikes).finish(status, comm)?;
        let mut others = Vec::new();
        for (_, o) in self.others {
            others.extend(o.finish(status, comm)?);
        }
        for (_, w) in self.weights {
            others.push(w.finish(status, comm)?);
        }
        Ok(Finished { spike_file, others })
    }
}

impl Recorder for Outputs {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        self.each().try_for_each(|o| o.record_spikes(spikes))
    }
}

/// The spike file's name in the output directory: the model's, or where only a raster
/// is asked for, a hidden one the raster is drawn from.
pub(super) fn spike_file_name(desc: &Description) -> Option<String> {
    match (&desc.output.spikes, &desc.output.raster) {
        (Some(name), _) => Some(name.clone()),
        // The same name on every rank: the file is created collectively.
        (None, Some(_)) => Some(".volley-spikes.h5".to_string()),
        (None, None) => None,
    }
}

/// The populations of the spike file: those it records; the runs of one SONATA node
/// population as that node population, with its node ids.
fn population_ranges(desc: &Description) -> Vec<PopulationRange> {
    let mut out: Vec<PopulationRange> = Vec::new();
    for (p, _) in &desc.output.spike_recording {
        let p = &desc.populations[*p];
        match (&p.node_population, out.last_mut()) {
            (Some((name, _)), Some(last)) if last.name == *name => last.size = p.first_gid + p.size - last.first_gid,
            (Some((name, node_0)), _) => {
                out.push(PopulationRange { name: name.clone(), first_gid: *node_0, size: p.first_gid + p.size - node_0 })
            }
            (None, _) => out.push(PopulationRange { name: p.name.clone(), first_gid: p.first_gid, size: p.size }),
        }
    }
    out
}

/// Which spikes the spike file keeps, unless it keeps all.
fn spike_filter(desc: &Description) -> Option<SpikeFilter> {
    let recording = &desc.output.spike_recording;
    let all = recording.len() == desc.populations.len() && recording.iter().all(|(_, s)| *s == Selection::All);
    if all {
        return None;
    }
    let mut selections = vec![None; desc.populations.len()];
    for (p, s) in recording {
        selections[*p] = Some(s.clone());
    }
    Some(SpikeFilter::new(desc.populations.iter().map(|p| p.first_gid).collect(), selections))
}

/// Per recorded population, the layout of its spike datasets: the chunk length from the
/// expected spikes per append, and which neurons are recorded where not all.
fn spike_datasets(desc: &Description, rate_hz: f64) -> Vec<SpikeDatasets> {
    let flush_s = desc.flush_steps().min(desc.steps.max(1)) as f64 * desc.dt_ms / 1000.0;
    let layout = |p: usize, s: &Selection| {
        let pop = &desc.populations[p];
        SpikeDatasets {
            chunk: chunk_for(s.count(pop.size) * rate_hz * flush_s),
            recorded: (*s != Selection::All).then(|| s.indices(pop.size, pop.first_gid)),
        }
    };
    desc.output.spike_recording.iter().map(|(p, s)| layout(*p, s)).collect()
}
