//! An in-process simulation that runs, and runs on: built once from a description, then
//! advanced any number of times, each run taking up exactly where the last one stopped
//! (the spikes in flight, the delay rings, the step), so that runs of 100 ms and 100 ms
//! give the spikes of one run of 200 ms, bit for bit. Spikes are kept in memory, and the
//! files the description asks for (spikes, reports, rates) are written as `run::run`
//! writes them, by the same `Outputs`, appended after each run and completed by
//! `finish`. The core of the Python package, which wraps this type.

use super::inputs;
use super::outputs::{Finished, Outputs};
use super::RunOptions;
use crate::backend::{Backend, BackendOptions};
use crate::comm::{agree, agree_first, Communicator};
use crate::engine::{Carried, Simulation};
use crate::error::Result;
use crate::model::StateArrayMut;
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
    /// Whether runs keep their spikes in `spikes` (8 bytes a spike; a long run of a large
    /// network writes them to its file instead).
    keep_spikes: bool,
    /// The files being written (None once finished).
    outputs: Option<Outputs>,
    /// Samples asked for in memory (`record`), in the order asked.
    recordings: Vec<Recording>,
    /// The output directory's lock (rank 0), held until the files are finished.
    locks: Option<super::lock::RunLocks>,
    /// The projections whose weights were set (`set_weights`): given as data since, no
    /// longer as the model text draws them.
    weights_given: Vec<usize>,
    /// Why the runs stopped, once a state left the finite numbers: later runs refuse,
    /// and the files say so when finished.
    non_finite: Option<String>,
    stopped_status: Option<String>,
}

/// One state variable of chosen neurons sampled into memory: the backend's probe, the
/// population-local ids of this rank's sampled neurons (its columns), and its rows so
/// far, one per sample (at the start of steps 0, interval, 2·interval, ...).
struct Recording {
    probe: usize,
    ids: Vec<u64>,
    interval_steps: u64,
    samples: Vec<f32>,
}

/// The most steps a session runs in all: a spike's step is 32 bits.
const MAX_STEPS: u64 = u32::MAX as u64;

impl Session {
    /// Builds `desc` on this rank of `comm` (collective), as `run::run` builds it.
    pub fn new(desc: Description, options: &RunOptions, comm: Box<dyn Communicator>) -> Result<Session> {
        Session::try_new(desc, options, comm).map_err(|(e, _)| e)
    }

    /// As `new`, handing the communicator back with the error (MPI is initialised once
    /// per process: a caller that builds again needs it).
    pub fn try_new(
        desc: Description,
        options: &RunOptions,
        mut comm: Box<dyn Communicator>,
    ) -> std::result::Result<Session, (crate::Error, Box<dyn Communicator>)> {
        if !desc.output.weights.is_empty() {
            let e = "output.weights: snapshots of plastic weights are written by `volley run`, not by an in-process simulation (read them with its synapses)";
            return Err((crate::Error::Runtime(e.into()), comm));
        }
        // The checks of `volley run`: the output directory locked (one run writes it at a
        // time), the memory and the output space by the planner's figures.
        let locks = match super::check(&desc, options, comm.as_ref()) {
            Ok((locks, _)) => locks,
            Err(e) => return Err((e, comm)),
        };
        let parts = crate::partition::partition(&desc, comm.size());
        let mine = parts[comm.rank()].clone();
        if let Err(e) = inputs::load_shared(&desc, &parts, comm.as_ref()) {
            return Err((e, comm));
        }
        let choice = BackendOptions { choice: options.backend, cpu: options.cpu, gpu: options.gpu };
        let built = crate::backend::build(&desc, mine.clone(), &choice, comm.rank_on_node());
        let key = built.as_ref().err().map_or(f64::INFINITY, |e| e.key);
        let (mut backend, runs_on) = match agree_first(comm.as_ref(), built.map_err(|e| e.error), key) {
            Ok(built) => built,
            Err(e) => return Err((e, comm)),
        };
        let needed = if comm.size() > 1 { backend.needed_sources(desc.total_neurons()) } else { Vec::new() };
        comm.set_exchange(options.exchange, &parts, &needed);
        let made_by = super::provenance(&desc, options, comm.as_ref(), &runs_on, 0);
        let outputs = match Outputs::create(&desc, options, (&made_by, comm.as_ref()), backend.as_mut(), mine, None) {
            Ok(outputs) => outputs,
            Err(e) => return Err((e, comm)),
        };
        let mut session = Session {
            desc,
            backend,
            comm,
            carried: None,
            spikes: Vec::new(),
            keep_spikes: true,
            outputs: Some(outputs),
            recordings: Vec::new(),
            locks: Some(locks),
            weights_given: Vec::new(),
            non_finite: None,
            stopped_status: None,
        };
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
        // Steps are counted in 32 bits (spikes carry theirs), as a model's duration is.
        if self.step().checked_add(steps).is_none_or(|end| end >= 1 << 32) {
            return Err(crate::Error::Runtime(format!(
                "a run of {steps} steps from step {} goes past step 2^32 - 1, the last a run can reach (as a model's duration)",
                self.step()
            )));
        }
        // A state that left the finite numbers stops the runs, as it stops the CLI's.
        if let Some(why) = &self.non_finite {
            return Err(crate::Error::NonFinite(why.clone()));
        }
        // Taken only here, and put back before anything can fail.
        let Some(carried) = self.carried.take() else {
            return Err(crate::Error::Runtime(
                "the session lost its simulation: an earlier run, or a rebuild of its synapses, did not finish".into(),
            ));
        };
        let mut sim = Simulation::resume(self.backend.as_mut(), self.comm.as_mut(), carried);
        let mut recorder = Both { memory: MemoryRecorder::default(), outputs: self.outputs.as_mut() };
        let ran = sim.advance(steps, &mut recorder);
        let step = sim.step();
        let (backend, comm) = sim.backend_and_comm();
        let ran = agree(comm, ran);
        // A state that left the finite numbers on any rank (collective: `ran` is agreed):
        // what the run keeps ends with the step it did so in, as the CLI's run.
        let local = ran.as_ref().ok().and_then(|()| backend.non_finite());
        let stopped = ran.is_ok() && comm.any(local.is_some());
        let stopped = stopped.then(|| crate::run::non_finite_message(&self.desc, local, comm));
        let kept_to = stopped.as_ref().map_or(step, |(_, last)| last + 1);
        // Each run's spikes and samples are appended to the files as it ends (a
        // collective append: only once every rank's run went through).
        let ran = ran.and_then(|()| {
            recorder.outputs.map_or(Ok(()), |o| {
                if stopped.is_some() {
                    o.stop_at(kept_to, backend, comm)
                } else {
                    o.flush(step, backend, comm)
                }
            })
        });
        for r in &mut self.recordings {
            backend.take_samples(r.probe, &mut r.samples);
            // Rows of states before step `kept_to` (row k: the state step k·interval starts from).
            if let Some(width) = std::num::NonZeroUsize::new(r.ids.len()) {
                let rows = (kept_to.saturating_sub(1) / r.interval_steps + 1) as usize;
                r.samples.truncate(rows * width.get());
            }
        }
        self.carried = Some(sim.suspend());
        agree(self.comm.as_ref(), ran)?;
        let from = self.spikes.len();
        self.spikes.extend(recorder.memory.spikes.iter().filter(|s| (s.step as u64) < kept_to));
        if let Some((why, last)) = stopped {
            self.non_finite = Some(why.clone());
            self.stopped_status = Some(format!("stopped: a state became non-finite at {} ms", (last + 1) as f64 * self.desc.dt_ms));
            if !self.keep_spikes {
                self.spikes.drain(..from);
            }
            return Err(crate::Error::NonFinite(why));
        }
        if !self.keep_spikes {
            // Handed back for this run, then let go.
            self.spikes.drain(..from);
            return Ok(&self.spikes);
        }
        Ok(&self.spikes[from..])
    }

    /// Whether later runs keep their spikes in memory (`spikes`); without, `run` hands
    /// back each run's and lets them go.
    pub fn keep_spikes(&mut self, keep: bool) {
        self.keep_spikes = keep;
        if !keep {
            self.spikes = Vec::new();
        }
    }

    pub fn keeps_spikes(&self) -> bool {
        self.keep_spikes
    }

    /// This rank's spikes of every run so far (those kept: `keep_spikes`).
    pub fn spikes(&self) -> &[Spike] {
        &self.spikes
    }

    /// The backend, to read or change state between runs.
    pub fn backend_mut(&mut self) -> &mut dyn Backend {
        self.backend.as_mut()
    }
}

/// The spikes of a run kept in memory and handed to the files.
struct Both<'a> {
    memory: MemoryRecorder,
    outputs: Option<&'a mut Outputs>,
}

impl crate::record::Recorder for Both<'_> {
    fn record_spikes(&mut self, spikes: &[Spike]) -> Result<()> {
        self.memory.record_spikes(spikes)?;
        self.outputs.as_mut().map_or(Ok(()), |o| o.record_spikes(spikes))
    }
}

/// How a run that may be stopped between its slices ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ran {
    /// Steps run (all asked for, unless stopped).
    pub steps: u64,
    /// Whether a rank asked to stop after a slice.
    pub stopped: bool,
}

impl Session {
    /// Runs `steps` further steps in slices of `slice` steps (rounded up to whole epochs),
    /// asking `keep_going` after each whether to go on; the ranks agree after every slice
    /// (the last included) and stop together when any says no (collective). What was run
    /// stays run: the state is that after the last whole slice, so a run stopped by
    /// Ctrl-C goes on from there exactly.
    pub fn run_in_slices(&mut self, steps: u64, slice: u64, keep_going: &mut dyn FnMut() -> bool) -> Result<Ran> {
        let epoch = self.desc.epoch_steps() as u64;
        let slice = slice.div_ceil(epoch).max(1) * epoch;
        let mut done = 0;
        while done < steps {
            let now = slice.min(steps - done);
            self.run(now)?;
            done += now;
            // After the last slice too: a Ctrl-C there stops every rank alike.
            if self.comm.any(!keep_going()) {
                return Ok(Ran { steps: done, stopped: true });
            }
        }
        Ok(Ran { steps: done, stopped: false })
    }

    /// The index of population `name`, or an error listing them.
    pub fn population(&self, name: &str) -> Result<usize> {
        let pops = &self.desc.populations;
        pops.iter().position(|p| p.name == name).ok_or_else(|| {
            let names: Vec<&str> = pops.iter().map(|p| p.name.as_str()).collect();
            crate::Error::Runtime(format!("no population {name:?} (the model has: {})", names.join(", ")))
        })
    }

    /// The names of the state variables of population `p` that `state` reads: its
    /// model's, then one per exponential synaptic kind (`synapse.1`, ...).
    pub fn state_names(&self, p: usize) -> Vec<String> {
        crate::checkpoint::arrays(&self.desc, p).into_iter().map(|(name, _)| name).collect()
    }

    fn state_index(&self, p: usize, variable: &str) -> Result<usize> {
        let names = self.state_names(p);
        names.iter().position(|n| n == variable).ok_or_else(|| {
            let pop = &self.desc.populations[p].name;
            crate::Error::Runtime(format!("population {pop:?} has no state variable {variable:?} (it has: {})", names.join(", ")))
        })
    }

    /// The population-local ids of population `p`'s neurons on this rank.
    pub fn local_ids(&self, p: usize) -> std::ops::Range<u64> {
        let pop = &self.desc.populations[p];
        let (mine, all) = (self.backend.neurons(), pop.first_gid..pop.first_gid + pop.size);
        let both = crate::network::overlap(&mine, &all);
        if both.is_empty() {
            return 0..0;
        }
        both.start - pop.first_gid..both.end - pop.first_gid
    }

    /// The values of state variable `variable` of population `p` for this rank's
    /// neurons (`local_ids`), in id order.
    pub fn state(&mut self, p: usize, variable: &str) -> Result<Vec<f64>> {
        let array = self.state_index(p, variable)?;
        let ids = self.local_ids(p);
        let first = self.desc.populations[p].first_gid + ids.start;
        let mut out = vec![0.0; (ids.end - ids.start) as usize];
        self.backend.visit_state(&mut |piece| {
            if piece.population == p && piece.array == array {
                let at = (piece.first_gid - first) as usize;
                match piece.values {
                    StateArrayMut::F32(v) => out[at..at + v.len()].iter_mut().zip(v.iter()).for_each(|(o, &x)| *o = x as f64),
                    StateArrayMut::F64(v) => out[at..at + v.len()].copy_from_slice(v),
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Sets state variable `variable` of the neurons `ids` (population-local, any order)
    /// of population `p` to `values` (one each, or one for all); ids on other ranks are
    /// left to those ranks. f32 variables take the nearest f32.
    pub fn set_state(&mut self, p: usize, variable: &str, ids: &[u64], values: &[f64]) -> Result<()> {
        let array = self.state_index(p, variable)?;
        let pop = &self.desc.populations[p];
        let (first_gid, size, name) = (pop.first_gid, pop.size, pop.name.clone());
        if values.len() != ids.len() && values.len() != 1 {
            return Err(crate::Error::Runtime(format!(
                "{} values for {} neurons: give one value, or one per neuron",
                values.len(),
                ids.len()
            )));
        }
        if let Some(bad) = ids.iter().find(|&&i| i >= size) {
            return Err(crate::Error::Runtime(format!("neuron {bad} is not in population {name:?} (ids 0..{size})")));
        }
        // A state the step could not have made: the run would carry it on silently.
        if let Some(k) = values.iter().position(|&v| !(v as f32).is_finite()) {
            let value = crate::units::describe_value(values[k]);
            return Err(crate::Error::Runtime(format!("{name}.{variable}: value {k} is {value}: expected finite numbers")));
        }
        let value = |k: usize| values[if values.len() == 1 { 0 } else { k }];
        self.backend.visit_state(&mut |mut piece| {
            if piece.population == p && piece.array == array {
                let held = piece.first_gid - first_gid..piece.first_gid - first_gid + piece.values.len() as u64;
                for (k, &id) in ids.iter().enumerate().filter(|(_, id)| held.contains(id)) {
                    let at = (id - held.start) as usize;
                    match &mut piece.values {
                        StateArrayMut::F32(v) => v[at] = value(k) as f32,
                        StateArrayMut::F64(v) => v[at] = value(k),
                    }
                }
            }
            Ok(())
        })
    }

    /// Applies `path=value` replacements to the model between runs (as `--set`), with the
    /// model file's validation: the stimuli (amplitudes, schedules, neurons, stimuli
    /// added) and the populations' parameters (`population.NAME.parameters.FIELD`, the
    /// population's groups built again with their state carried on). Anything else is
    /// refused, naming the part.
    pub fn change(&mut self, overrides: &crate::config::Overrides) -> Result<()> {
        // Paths outside those (some, as the duration or where outputs go, are not parts of
        // what a run computes) are refused before anything is read.
        for set in &overrides.sets {
            let path = set.split_once('=').map_or(set.as_str(), |(p, _)| p).trim();
            let part = path.starts_with("population.").then(|| path.split('.').nth(2)).flatten();
            if !path.starts_with("stimulus.") && !matches!(part, Some("parameters" | "spikes")) {
                return Err(crate::Error::Runtime(format!(
                    "{path} cannot change between runs: only stimuli (stimulus.N.field), neuron parameters \
                     (population.NAME.parameters.field) and a spike source's trains (population.NAME.spikes) can; \
                     change a neuron's state with Simulation.set"
                )));
            }
        }
        let changed = crate::config::parse(&self.desc.model_text, &self.desc.model_file, overrides)?;
        let (before, after) = (crate::checkpoint::identity(&self.desc), crate::checkpoint::identity(&changed));
        // Projections whose weights were set differ from the text's draw on purpose.
        let given: Vec<String> = self.weights_given.iter().map(|j| format!("projection {j}")).collect();
        let fixed = |part: &str| !part.starts_with("stimulus ") && !part.starts_with("population ") && !given.iter().any(|g| g == part);
        let kept = |parts: &[(String, u64)]| parts.iter().filter(|(n, _)| fixed(n)).cloned().collect::<Vec<_>>();
        if kept(&before) != kept(&after) || before.len() != after.len() {
            return Err(crate::Error::Runtime("only stimuli and neuron parameters can change between runs".into()));
        }
        // Populations whose parameters changed, and spike sources given trains (a file of
        // the same name may hold new ones).
        let named: Vec<String> = overrides.sets.iter().filter_map(|set| set.split_once('=').map(|(p, _)| p.trim().to_string())).collect();
        let rebuilt: Vec<usize> = (0..self.desc.populations.len())
            .filter(|&p| {
                let trains = format!("population.{}.spikes", changed.populations[p].name);
                format!("{:?}", self.desc.populations[p].model) != format!("{:?}", changed.populations[p].model) || named.contains(&trains)
            })
            .collect();
        // A spike source's new trains, this rank's neurons' (the groups built again find
        // their place in them at the next step: the spikes before it are not replayed).
        // Every rank reads its trains before any rebuilds.
        agree(self.comm.as_ref(), changed.load_trains(&self.backend.neurons()).map(|_| ()))?;
        let backend = self.backend.as_mut();
        let done = rebuilt.iter().try_for_each(|&p| backend.rebuild_population(&changed, p)).and_then(|()| backend.set_stimuli(&changed));
        changed.forget_trains();
        // Every rank changes, or none goes on as if it had.
        agree(self.comm.as_ref(), done.map_err(crate::Error::Runtime))?;
        for p in rebuilt {
            self.desc.populations[p] = changed.populations[p].clone();
        }
        self.desc.stimuli = changed.stimuli;
        self.desc.model_text = changed.model_text;
        Ok(())
    }

    /// Every rank's spikes of every run so far on rank 0, sorted by step then id (other
    /// ranks: none). Collective.
    pub fn gather_spikes(&self) -> Vec<Spike> {
        let size = self.comm.size();
        if size == 1 {
            return self.spikes.clone();
        }
        let mut sends = vec![Vec::new(); size];
        sends[0] = self.spikes.iter().flat_map(|s| [s.step as u64, s.gid as u64]).collect();
        let all = self.comm.all_to_all_u64(&sends);
        let mut spikes: Vec<Spike> = all.chunks_exact(2).map(|w| Spike { step: w[0] as u32, gid: w[1] as u32 }).collect();
        spikes.sort_unstable_by_key(|s| (s.step, s.gid));
        spikes
    }

    /// Samples state variable `variable` of neurons `ids` (population-local) of population
    /// `p` into memory every `interval_steps` steps from step 0 (the state each step
    /// starts from: the first row is the initial state); before the first run. Returns
    /// its number for `samples`.
    pub fn record(&mut self, p: usize, variable: &str, ids: &[u64], interval_steps: u64) -> Result<usize> {
        let pop = &self.desc.populations[p];
        if self.step() > 0 {
            return Err(crate::Error::Runtime(format!(
                "record {}.{variable} before the first run (the simulation is at step {})",
                pop.name,
                self.step()
            )));
        }
        // A report's variables: the same probe a `[[output.report]]` would take.
        let Some(variable_index) = crate::config::probe_variable(&self.desc.populations, &self.desc.projections, p, variable) else {
            return Err(crate::Error::Runtime(format!(
                "population {:?} has no state variable {variable:?} to record (a report's: its model's, or a synaptic kind onto it)",
                pop.name
            )));
        };
        if let Some(bad) = ids.iter().find(|&&i| i >= pop.size) {
            return Err(crate::Error::Runtime(format!("neuron {bad} is not in population {:?} (ids 0..{})", pop.name, pop.size)));
        }
        let mine = self.local_ids(p);
        let mut local: Vec<u64> = ids.iter().copied().filter(|i| mine.contains(i)).collect();
        local.sort_unstable();
        local.dedup();
        let interval_steps = interval_steps.max(1);
        let schedule = crate::network::Schedule { start_step: 0, stop_step: u64::MAX, interval_steps };
        let gids = local.iter().map(|&i| pop.first_gid + i).collect();
        let probe = self.backend.add_probe(crate::backend::Probe { gids, variable: variable_index, schedule });
        self.recordings.push(Recording { probe, ids: local, interval_steps, samples: Vec::new() });
        Ok(self.recordings.len() - 1)
    }

    /// Recording `r`'s samples so far on this rank: its columns (population-local ids),
    /// its interval in steps, and its rows one after the other.
    pub fn samples(&self, r: usize) -> Option<(&[u64], u64, &[f32])> {
        self.recordings.get(r).map(|r| (r.ids.as_slice(), r.interval_steps, r.samples.as_slice()))
    }

    /// The synapses of projection `projection` onto this rank's neurons as (target,
    /// source, weight, delay in steps), global ids, by target: a static projection's as
    /// the run holds them (drawn again from the same keys, 16-bit weights decoded as
    /// stored), a plastic one's as they are now.
    pub fn synapses(&mut self, projection: usize) -> Result<Vec<(u64, u64, f32, u32)>> {
        let Some(p) = self.desc.projections.get(projection) else {
            let n = self.desc.projections.len();
            return Err(crate::Error::Runtime(format!("no projection {projection} (the model has {n}, numbered from 0)")));
        };
        if p.plasticity.is_some() {
            self.backend.settle_plastic(self.step());
            let held = self.backend.plastic_synapses(p.id);
            return Ok(held.iter().map(|s| (s.target, s.source, s.weight, s.delay)).collect());
        }
        // A SONATA projection's rows, read once for all its targets here (let go after
        // the build), not once per target.
        let neurons = self.backend.neurons();
        crate::sonata::edges::load_for(&self.desc, &neurons)?;
        let synapses = crate::record::circuit::synapses_of(&self.desc, p, &neurons);
        crate::sonata::edges::forget(&self.desc);
        synapses
    }

    /// Sets the weights of projection `projection`'s synapses onto this rank's neurons to
    /// `weights`, one per synapse in the order `synapses` gives them (or one for all), between runs
    /// (collective: each rank its own). A plastic projection's rule goes on from them. A
    /// static projection's synapses are from then on given as data (f32 weights, whatever
    /// its storage was), and the synapse store is built again with the state carried on:
    /// every spike arriving from the next step on takes the new weights, those already
    /// emitted included. The CPU backend only.
    pub fn set_weights(&mut self, projection: usize, weights: &[f32]) -> Result<()> {
        let checked = self.synapses(projection).and_then(|held| {
            // One weight for all: as many as this rank's synapses.
            let weights = if weights.len() == 1 { vec![weights[0]; held.len()] } else { weights.to_vec() };
            let p = &self.desc.projections[projection];
            // Where the target routes weights by sign, each projection keeps its sign.
            let sign = match self.desc.populations[p.target].model.inhibitory_kind() {
                // A conductance synapse's weights are conductances, none below zero.
                _ if p.synapse.e_rev().is_some() => Some(Sign { negative: false, feeds: "a conductance (nS)" }),
                Some(kind) if kind == p.synapse => {
                    Some(Sign { negative: true, feeds: "its target's inhibitory (tau_syn_in) current (the target routes weights by sign)" })
                }
                Some(_) => Some(Sign {
                    negative: false,
                    feeds: "its target's excitatory (tau_syn_ex) current (the target routes weights by sign)",
                }),
                None => None,
            };
            check_weights(projection, p.plasticity.as_ref(), sign, &held, &weights).map(|()| (held, weights))
        });
        let (held, weights) = agree(self.comm.as_ref(), checked)?;
        let p = self.desc.projections[projection].clone();
        if p.plasticity.is_some() {
            let mut state = self.backend.plastic_state(p.id);
            state.weight.copy_from_slice(&weights);
            let done = self.backend.set_plastic_state(p.id, &state);
            return agree(self.comm.as_ref(), done.map_err(crate::Error::Runtime));
        }
        // The rows onto this rank's targets, each in the order its target sums them.
        let found: Vec<(u32, u32, f32, u32)> = held.iter().zip(&weights).map(|(s, &w)| (s.0 as u32, s.1 as u32, w, s.3)).collect();
        let local = crate::network::overlap(&self.desc.populations[p.target].gids(), &self.backend.neurons());
        let rows = crate::network::TargetRows::from_found(local, &found);
        let most = self.comm.all_gather_f64(&[rows.max_row() as f64]).into_iter().fold(0f64, f64::max) as u64;
        let (_, count) = self.comm.prefix_and_total(&[held.len() as u64]);
        // The weights' range over every rank: what a data projection's weights span.
        let (lo, hi) = weights.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &w| (lo.min(w as f64), hi.max(w as f64)));
        let all = self.comm.all_gather_f64(&[lo, hi]);
        let (lo, hi) = all.chunks(2).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| (lo.min(r[0]), hi.max(r[1])));
        let (min, max) = if lo <= hi { (lo, hi) } else { (0.0, 0.0) };
        let mut changed = self.desc.clone();
        let given = std::sync::Arc::new(crate::network::EdgeSource::given(rows, count[0], most, self.desc.dt_ms));
        // Synapses given before (set earlier, or listed) are replaced, not kept beside.
        let edges = match p.rule {
            crate::network::ConnectionRule::Explicit { edges, .. } if changed.edges[edges as usize].given => {
                changed.edges[edges as usize] = given;
                edges
            }
            _ => {
                changed.edges.push(given);
                (changed.edges.len() - 1) as u32
            }
        };
        changed.projections[projection] = crate::network::Projection {
            rule: crate::network::ConnectionRule::Explicit { edges, count: count[0] },
            weight: crate::network::WeightSpec::Data { min, max },
            storage: crate::network::Storage::Exact,
            ..p
        };
        let step = self.step();
        let done = self.backend.rebuild_synapses(&changed, step);
        if let Err(e) = agree(self.comm.as_ref(), done.map_err(crate::Error::Runtime)) {
            // The shards were let go before the failed build: no run can go on from here.
            self.carried = None;
            return Err(e);
        }
        self.desc = changed;
        self.weights_given.push(projection);
        Ok(())
    }

    /// Completes the files (collective): every run's spikes and samples, recorded as
    /// `status` says the runs ended ("complete", "stopped by a KeyboardInterrupt"), and
    /// the raster drawn where the model asks for one. Returns the files written; no more
    /// are written after (the session may still run).
    pub fn finish(&mut self, status: &str) -> Result<Vec<std::path::PathBuf>> {
        let Some(outputs) = self.outputs.take() else { return Ok(Vec::new()) };
        // A run stopped by a non-finite state says so, whatever the caller's status.
        let status = self.stopped_status.as_deref().unwrap_or(status);
        let Finished { spike_file, mut others } = outputs.finish(status, self.comm.as_ref())?;
        let out = &self.desc.output;
        // A raster of nothing run is no figure (and the plot refuses a file of 0 ms).
        let ran = self.step() > 0;
        if let (Some(name), Some(path), 0) = (&out.raster, &spike_file, self.comm.rank()) {
            let raster = out.dir.join(name);
            let drawn = if ran {
                crate::plot::raster_png_from(path, Some(self.step() as f64 * self.desc.dt_ms), &raster).map(|()| true)
            } else {
                Ok(false)
            };
            // The hidden spike file a raster alone is drawn from goes, drawn or not.
            if out.spikes.is_none() {
                let _ = std::fs::remove_file(path);
            }
            if drawn? {
                others.push(raster);
            }
        }
        self.locks = None;
        Ok(spike_file.filter(|_| out.spikes.is_some()).into_iter().chain(others).collect())
    }

    /// Ends the session, handing back its communicator (MPI is initialised once per
    /// process: the next session takes it).
    pub fn into_comm(self) -> Box<dyn Communicator> {
        self.comm
    }

    pub fn comm(&self) -> &dyn Communicator {
        self.comm.as_ref()
    }
}

/// Whether `weights` may replace the weights of `held`, projection `projection`'s
/// synapses onto this rank: one each, finite, within a plastic rule's bounds.
/// The sign a projection's weights keep: negative or not, and what they feed.
struct Sign {
    negative: bool,
    feeds: &'static str,
}

fn check_weights(
    projection: usize,
    rule: Option<&crate::plasticity::PlasticityRule>,
    sign: Option<Sign>,
    held: &[(u64, u64, f32, u32)],
    weights: &[f32],
) -> Result<()> {
    let err = |m: String| Err(crate::Error::Runtime(format!("projection {projection}: {m}")));
    if weights.len() != held.len() {
        return err(format!(
            "{} weights given for the {} synapses onto this rank's neurons: expected one per synapse, in the order weights() gives them",
            weights.len(),
            held.len()
        ));
    }
    for (k, &w) in weights.iter().enumerate() {
        let (target, source) = (held[k].0, held[k].1);
        if !w.is_finite() {
            return err(format!("weight {k} (neuron {source} onto {target}) is {w}: expected a finite number"));
        }
        if let Some(s) = sign.as_ref().filter(|s| if s.negative { w > 0.0 } else { w < 0.0 }) {
            let expected = if s.negative { "≤ 0" } else { "≥ 0" };
            return err(format!(
                "weight {k} (neuron {source} onto {target}) is {w}: this projection feeds {}: expected a weight {expected}",
                s.feeds
            ));
        }
        if let Some(Err(expected)) = rule.map(|r| r.check_weight(w as f64)) {
            return err(format!("weight {k} (neuron {source} onto {target}) is {w}: a plastic projection's weights must lie within its rule's bounds: expected {expected}"));
        }
    }
    Ok(())
}
