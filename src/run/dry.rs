//! A dry run (NEST's, Kunkel et al. 2012, and further): this process builds one rank's
//! share of a run of many ranks — its neurons, the synapses onto them, its buffers — on
//! this machine's threads, and simulates it with the spikes of every other rank drawn
//! as Poisson trains (`comm::drawn`) at the expected rate, or at each population's rate
//! in an earlier run's spike file. It writes nothing. What it measures is that rank's:
//! memory by kind and at its peak, build time, the time to update its neurons and to
//! look up and deliver what it receives; the exchange itself is modelled (α per
//! exchange and doubling of the ranks, β per spike received), since one process cannot
//! time a network it does not have.

use super::peak_memory;
use crate::backend::cpu::CpuOptions;
use crate::backend::kind::MemoryEstimate;
use crate::backend::{BackendChoice, BackendOptions};
use crate::comm::drawn::DrawnComm;
use crate::engine::Simulation;
use crate::error::{Error, Result};
use crate::network::Description;
use crate::plan::{Costs, PlanOptions};
use crate::record::Recorder;
use crate::spike::Spike;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct DryRunOptions {
    /// The ranks of the run this is a share of.
    pub ranks: usize,
    /// The rank to build; None: the one with the most planned time.
    pub rank: Option<usize>,
    pub cpu: CpuOptions,
    /// The rate of every neuron of the other ranks (Hz), where `rates_from` is not given.
    pub rate_hz: f64,
    /// An earlier run's spike file: each population fires at its rate there.
    pub rates_from: Option<PathBuf>,
    /// The exchange model: µs per exchange for each doubling of the ranks, ns per spike
    /// a rank receives.
    pub alpha_us: f64,
    pub beta_ns: f64,
}

/// What one rank's share did.
#[derive(Clone, Debug)]
pub struct DryRunReport {
    pub rank: usize,
    pub ranks: usize,
    pub neurons: std::ops::Range<u64>,
    pub synapses: u64,
    /// What the rank holds by kind at the end, measured in its structures, and what the
    /// planner expected of it.
    pub held: MemoryEstimate,
    pub planned: MemoryEstimate,
    /// The process's peak resident memory (bytes; 0 where unknown).
    pub peak_rss: u64,
    pub build: Duration,
    pub update: Duration,
    /// Delivery of the received spikes, their lookup included.
    pub deliver: Duration,
    /// Of `deliver`, the lookup: from a received spike to its rows (or to nothing).
    pub lookup: Duration,
    /// Drawing the other ranks' spikes: this process's cost, not the rank's.
    pub drawing: Duration,
    pub epochs: u64,
    /// Spikes of other ranks received, and spikes of its own.
    pub received: u64,
    pub own_spikes: u64,
    /// The exchange's time by the model.
    pub exchange_modelled: f64,
    /// The rates the other ranks fired at, by population (Hz).
    pub rates: Vec<(String, f64)>,
}

/// Counts the rank's own spikes: a dry run writes none.
#[derive(Default)]
struct Counter(u64);

impl Recorder for Counter {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        self.0 += spikes.len() as u64;
        Ok(())
    }
}

/// Each population's rate: `rate_hz`, or its mean rate in the spike file `from`.
fn population_rates(desc: &Description, rate_hz: f64, from: Option<&PathBuf>) -> Result<Vec<(String, f64)>> {
    let Some(path) = from else {
        return Ok(desc.populations.iter().map(|p| (p.name.clone(), rate_hz)).collect());
    };
    let file = crate::record::sonata::read_spike_file(path)?;
    let duration = file.duration_ms.filter(|d| *d > 0.0).ok_or_else(|| Error::Option {
        option: "--rates-from".into(),
        message: format!(
            "{} does not record its duration (attribute duration_ms): expected a spike file written by volley run",
            path.display()
        ),
    })?;
    desc.populations
        .iter()
        .map(|p| {
            let Some(spikes) = file.populations.iter().find(|f| f.name == p.name) else {
                return Err(Error::Option {
                    option: "--rates-from".into(),
                    message: format!("{} has no population '{}': expected a spike file of this model", path.display(), p.name),
                });
            };
            let neurons = spikes.recorded.or(spikes.size).unwrap_or(p.size).max(1) as f64;
            Ok((p.name.clone(), spikes.timestamps_ms.len() as f64 / neurons / (duration / 1000.0)))
        })
        .collect()
}

/// Builds and simulates rank `options.rank` of an `options.ranks`-rank run of `desc`.
pub fn dry_run(desc: &Description, options: &DryRunOptions) -> Result<DryRunReport> {
    let option = |name: &str, message: String| Error::Option { option: name.into(), message };
    if options.ranks == 0 {
        return Err(option("--dry-run", "expected at least 1 rank".into()));
    }
    crate::plan::check_ranks(desc, options.ranks).map_err(|m| option("--dry-run", m))?;
    if !(options.rate_hz >= 0.0 && options.rate_hz.is_finite()) {
        return Err(option("--expected-rate", format!("expected a rate in Hz ≥ 0, got {}", options.rate_hz)));
    }
    let rates = population_rates(desc, options.rate_hz, options.rates_from.as_ref())?;
    let plan_options = PlanOptions {
        ranks: options.ranks,
        threads: options.cpu.threads,
        rate_hz: options.rate_hz,
        kind: crate::backend::kind::BackendKind::Cpu,
    };
    let plan = crate::plan::plan(desc, &plan_options, &Costs::default());
    let rank = options.rank.unwrap_or_else(|| plan.busiest_rank());
    if rank >= options.ranks {
        return Err(option("--dry-run-rank", format!("expected a rank below {} (the ranks of the dry run), got {rank}", options.ranks)));
    }
    let parts = crate::partition::partition(desc, options.ranks);
    let mine = parts[rank].clone();

    let t0 = Instant::now();
    let choice = BackendOptions { choice: BackendChoice::Cpu, cpu: options.cpu, gpu: None };
    let (mut backend, _) = crate::backend::build(desc, mine.clone(), &choice, 0).map_err(|e| e.error)?;
    let build = t0.elapsed();
    let synapses = backend.synapse_count();
    backend.time_lookups();

    let ranges: Vec<_> = desc.populations.iter().zip(&rates).map(|(p, (_, hz))| (p.gids(), *hz)).collect();
    let mut comm = DrawnComm::new(rank, options.ranks, mine.clone(), &ranges, desc.dt_ms, desc.seed);
    let mut counter = Counter::default();
    let (epochs, times) = {
        let mut sim = Simulation::new(backend.as_mut(), &mut comm, desc.epoch_steps(), desc.steps);
        sim.run(&mut counter)?;
        (sim.times.epochs, sim.backend().work_times())
    };
    // At the end, as a run measures it: the buffers of spikes in flight have grown.
    let held = backend.memory_held();
    let exchanges = (options.ranks as f64).log2().ceil();
    let exchange_modelled = epochs as f64 * options.alpha_us * 1e-6 * exchanges + comm.received as f64 * options.beta_ns * 1e-9;
    Ok(DryRunReport {
        rank,
        ranks: options.ranks,
        neurons: mine,
        synapses,
        held,
        planned: plan.rank(rank).memory,
        peak_rss: peak_memory().unwrap_or(0),
        build,
        update: times.update,
        deliver: times.deliver,
        lookup: times.lookup,
        drawing: comm.drawing,
        epochs,
        received: comm.received,
        own_spikes: counter.0,
        exchange_modelled,
        rates,
    })
}

impl DryRunReport {
    /// The rank as a table of `--ranks-csv` has it (`RANK_CSV_HEADER`): the exchange as
    /// modelled, nothing written, simulation as update and delivery.
    pub fn rank_table(&self) -> String {
        let s = |d: Duration| d.as_secs_f64();
        format!(
            "{}\n{},{},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},0,{:.6}\n",
            super::RANK_CSV_HEADER,
            self.rank,
            self.neurons.start,
            self.neurons.end,
            self.held.state,
            self.held.synapses,
            self.held.buffers,
            self.peak_rss,
            s(self.build),
            s(self.deliver),
            s(self.update),
            self.exchange_modelled,
            s(self.deliver) + s(self.update) + self.exchange_modelled
        )
    }

    /// The summary a dry run prints.
    pub fn summary(&self, desc: &Description) -> String {
        let bytes = |b: u64| crate::units::fmt_bytes(b);
        let seconds = desc.steps as f64 * desc.dt_ms / 1000.0;
        let per_spike = |d: Duration| if self.received > 0 { d.as_secs_f64() * 1e9 / self.received as f64 } else { 0.0 };
        let rates: Vec<String> = self.rates.iter().map(|(n, hz)| format!("{n} {hz:.2} Hz")).collect();
        let mut out = format!(
            "dry run of rank {} of {}: neurons {}..{} ({}), {} synapses, {} ms simulated\n",
            self.rank,
            self.ranks,
            self.neurons.start,
            self.neurons.end,
            self.neurons.end - self.neurons.start,
            self.synapses,
            seconds * 1000.0
        );
        out += &format!(
            "  memory held: state {}, synapses {}, buffers {}, total {} (planned: state {}, synapses {}, buffers {}, total {}); peak resident {}\n",
            bytes(self.held.state),
            bytes(self.held.synapses),
            bytes(self.held.buffers),
            bytes(self.held.total()),
            bytes(self.planned.state),
            bytes(self.planned.synapses),
            bytes(self.planned.buffers),
            bytes(self.planned.total()),
            bytes(self.peak_rss)
        );
        out += &format!("  other ranks drawn as Poisson trains: {}\n", rates.join(", "));
        out += &format!(
            "  time: build {:.3} s, update {:.3} s, deliver {:.3} s ({:.2} ns per received spike), of which receive/lookup {:.3} s ({:.2} ns per received spike), exchange {:.3} s modelled; {} epochs\n",
            self.build.as_secs_f64(),
            self.update.as_secs_f64(),
            self.deliver.as_secs_f64(),
            per_spike(self.deliver),
            self.lookup.as_secs_f64(),
            per_spike(self.lookup),
            self.exchange_modelled,
            self.epochs
        );
        out += &format!(
            "  spikes: {} received ({:.0} per epoch), {} of its own; drawing them took {:.3} s of this process (not counted)",
            self.received,
            self.received as f64 / self.epochs.max(1) as f64,
            self.own_spikes,
            self.drawing.as_secs_f64()
        );
        out
    }
}
