//! `volley._volley`: the volley core as a Python extension module. Nothing is computed
//! here that the CLI does not compute the same way: a model is read by `config` (the
//! same validation and messages), built and run by `run::session::Session`, and its
//! files read by `record`. This crate only turns Rust values into Python ones and
//! errors into exceptions; the Python package around it (`volley/__init__.py`) gives
//! them their documented, typed shape.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::Path;
use volley::backend::BackendChoice;
use volley::comm::Communicator;
use volley::config::{self, Overrides};
use volley::network::Description;
use volley::run::session::Session;
use volley::run::RunOptions;

create_exception!(_volley, VolleyError, PyException, "An error of volley: a model, an input file, an option or a run.");

/// A volley error as a Python exception: its message as the CLI prints it, and for a
/// model-file error the field (`population[0].size`) and the file as attributes.
fn to_py(py: Python<'_>, e: volley::Error) -> PyErr {
    let err = VolleyError::new_err(e.to_string());
    let (field, file) = match &e {
        volley::Error::Model { field, file, .. } => (Some(field.clone()), Some(file.clone())),
        // A replacement's error: the model field it reports (`set population.exc.size=-3`
        // → "population[0].size: ..."), else the path the replacement names.
        volley::Error::Option { option, message } => (Some(replacement_field(option, message)), None),
        volley::Error::Input { path, .. } => (None, Some(path.display().to_string())),
        _ => (None, None),
    };
    let value = err.value(py);
    let _ = value.setattr("field", field);
    let _ = value.setattr("file", file);
    err
}

/// The field a replacement's error is about: the model field its message starts with
/// (`population[0].size: expected ...`), else the dotted path of `set path=value`.
fn replacement_field(option: &str, message: &str) -> String {
    let named = message.split_once(": ").map(|(head, _)| head).filter(|head| {
        !head.is_empty() && head.chars().all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c)) && head.contains(['.', '['])
    });
    match named {
        Some(field) => field.to_string(),
        None => {
            let set = option.strip_prefix("set ").unwrap_or(option);
            set.split_once('=').map_or(set, |(path, _)| path).trim().to_string()
        }
    }
}

fn overrides(sets: Vec<String>) -> Overrides {
    Overrides { sets, sets_by: Some("set"), ..Overrides::default() }
}

/// A validated model: what `volley check` reads from a model file.
#[pyclass(module = "volley._volley", frozen)]
struct Model {
    desc: Description,
}

#[pymethods]
impl Model {
    /// The model text as read, with every `set` applied.
    #[getter]
    fn text(&self) -> &str {
        &self.desc.model_text
    }
    /// Where the model came from (its file, or a label).
    #[getter]
    fn file(&self) -> &str {
        &self.desc.model_file
    }
    #[getter]
    fn dt(&self) -> f64 {
        self.desc.dt_ms
    }
    #[getter]
    fn duration(&self) -> f64 {
        self.desc.steps as f64 * self.desc.dt_ms
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.desc.seed
    }
    /// (name, size, model) of each population, in gid order.
    #[getter]
    fn populations(&self) -> Vec<(String, u64, String)> {
        self.desc.populations.iter().map(|p| (p.name.clone(), p.size, p.model.declaration().model.to_string())).collect()
    }
    /// The number of `[[output.report]]` files, and the step their samples stop at
    /// (the model's duration unless a report says otherwise).
    #[getter]
    fn reports(&self) -> (usize, u64) {
        let reports = &self.desc.output.reports;
        (reports.len(), reports.iter().map(|r| r.schedule.stop_step).min().unwrap_or(u64::MAX))
    }
    #[getter]
    fn output_dir(&self) -> String {
        self.desc.output.dir.display().to_string()
    }
}

/// Reads and validates the model file at `path` with `path=value` replacements.
#[pyfunction]
fn load_model(py: Python<'_>, path: &str, sets: Vec<String>) -> PyResult<Model> {
    config::load(Path::new(path), &overrides(sets)).map(|desc| Model { desc }).map_err(|e| to_py(py, e))
}

/// Validates model text built in Python; `file` names it in errors, which name the
/// field but no line (the text is not the user's).
#[pyfunction]
fn parse_model(py: Python<'_>, text: &str, file: &str, sets: Vec<String>) -> PyResult<Model> {
    config::parse(text, file, &overrides(sets)).map(|desc| Model { desc }).map_err(|e| match e {
        volley::Error::Model { file, field, message, .. } => {
            to_py(py, volley::Error::Model { file, location: String::new(), field, message })
        }
        e => to_py(py, e),
    })
}

/// A duration with its unit ("100 ms", "1.5 s") in ms; `what` names it in errors.
#[pyfunction]
fn parse_time(text: &str, what: &str) -> PyResult<f64> {
    config::parse_time(text).map_err(|e| VolleyError::new_err(format!("{what}: {e}")))
}

thread_local! {
    /// The process's communicator between simulations. MPI is initialised once per
    /// process, so each simulation borrows it and gives it back; `finalize` (called at
    /// the interpreter's exit) drops it, which finalises MPI. Thread-local: the Python
    /// objects that hold it are `unsendable`, used on the thread that made them.
    static IDLE_COMM: std::cell::RefCell<Option<Box<dyn Communicator>>> = const { std::cell::RefCell::new(None) };
    /// Whether a simulation holds an MPI communicator now.
    static COMM_TAKEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn take_comm(py: Python<'_>) -> PyResult<Box<dyn Communicator>> {
    if let Some(c) = IDLE_COMM.with(|c| c.borrow_mut().take()) {
        COMM_TAKEN.set(true);
        return Ok(c);
    }
    if COMM_TAKEN.get() {
        return Err(VolleyError::new_err(
            "under MPI one Simulation runs at a time: close() the last one (or leave its `with` block) before making another",
        ));
    }
    let comm = volley::comm::from_launcher().map_err(|e| to_py(py, e))?;
    COMM_TAKEN.set(comm.size() > 1);
    Ok(comm)
}

/// Keeps an MPI communicator for the next simulation (one process: nothing to keep).
fn give_back(comm: Box<dyn Communicator>) {
    if COMM_TAKEN.get() {
        IDLE_COMM.with(|c| *c.borrow_mut() = Some(comm));
    }
    COMM_TAKEN.set(false);
}

/// Finalises MPI, if a simulation initialised it (the package calls it at exit, after
/// closing every simulation).
#[pyfunction]
fn finalize() {
    IDLE_COMM.with(|c| drop(c.borrow_mut().take()));
}

/// Spikes as NumPy arrays: times (ms) and ids.
type SpikeArrays<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<u64>>);

/// A model built on this process (its share under MPI), run any number of times.
#[pyclass(module = "volley._volley", unsendable)]
struct Simulation {
    session: Option<Session>,
    /// Whether a run was stopped by a KeyboardInterrupt (what the files record).
    stopped: bool,
}

impl Simulation {
    fn session(&mut self) -> PyResult<&mut Session> {
        self.session.as_mut().ok_or_else(|| VolleyError::new_err("the simulation is closed"))
    }
}

/// What `Python::detach` may take although it is not `Send`: `detach` runs its closure
/// on the calling thread (it only lets the interpreter go meanwhile), where the session
/// was made and lives.
struct OnThisThread<T>(T);
// SAFETY: see above: the value never leaves the thread.
unsafe impl<T> Send for OnThisThread<T> {}

impl<T> OnThisThread<T> {
    /// The value (a method, so that a closure takes the wrapper whole, not its field).
    fn into_inner(self) -> T {
        self.0
    }
}

/// `backend` as the CLI's `--backend` takes it.
fn backend_choice(backend: &str) -> PyResult<BackendChoice> {
    BackendChoice::parse(backend)
        .ok_or_else(|| VolleyError::new_err(format!("backend: expected \"cpu\", \"gpu\" or \"auto\", got {backend:?}")))
}

#[pymethods]
impl Simulation {
    /// Builds `model` with `threads` CPU threads (collective under MPI); `command`
    /// is recorded in the files' provenance.
    #[new]
    #[pyo3(signature = (model, threads=None, backend="cpu", gpu=None, command=String::new(), keep_spikes=true))]
    fn new(
        py: Python<'_>,
        model: &Model,
        threads: Option<usize>,
        backend: &str,
        gpu: Option<usize>,
        command: String,
        keep_spikes: bool,
    ) -> PyResult<Simulation> {
        let mut options =
            RunOptions { backend: backend_choice(backend)?, gpu, progress: false, command_line: command, ..RunOptions::default() };
        match threads {
            Some(0) => return Err(VolleyError::new_err("threads: expected at least 1")),
            Some(n) => options.cpu.threads = n,
            None => {}
        }
        let comm = take_comm(py)?;
        match Session::try_new(model.desc.clone(), &options, comm) {
            Ok(mut session) => {
                session.keep_spikes(keep_spikes);
                Ok(Simulation { session: Some(session), stopped: false })
            }
            Err((e, comm)) => {
                give_back(comm);
                Err(to_py(py, e))
            }
        }
    }

    /// Runs `steps` further steps, in slices of `slice` steps between which Ctrl-C is
    /// seen: a KeyboardInterrupt stops the run after the slice, the state consistent.
    /// Returns the steps run.
    fn run_steps(&mut self, py: Python<'_>, steps: u64, slice: u64) -> PyResult<u64> {
        let session = OnThisThread(self.session()?);
        // The run lets other Python threads go (a notebook's, a timer's); between slices
        // it takes the interpreter back to see a Ctrl-C.
        let (ran, interrupt) = py
            .detach(move || {
                let session = session.into_inner();
                let mut interrupt = None;
                let ran = session.run_in_slices(steps, slice, &mut || {
                    Python::attach(|py| match py.check_signals() {
                        Ok(()) => true,
                        Err(e) => {
                            interrupt = Some(e);
                            false
                        }
                    })
                });
                OnThisThread((ran, interrupt))
            })
            .0;
        let ran = ran.map_err(|e| to_py(py, e))?;
        self.stopped |= ran.stopped;
        match interrupt {
            Some(e) if ran.stopped => Err(e),
            _ if ran.stopped => Err(PyKeyboardInterrupt::new_err("stopped on another rank")),
            _ => Ok(ran.steps),
        }
    }

    /// Steps run so far.
    #[getter]
    fn step(&mut self) -> PyResult<u64> {
        Ok(self.session()?.step())
    }
    #[getter]
    fn rank(&mut self) -> PyResult<usize> {
        Ok(self.session()?.comm().rank())
    }
    #[getter]
    fn ranks(&mut self) -> PyResult<usize> {
        Ok(self.session()?.comm().size())
    }

    /// The spikes of population `population` (all when None) so far: (times in ms,
    /// population-local ids), by time then id. `gather`: every rank's, on rank 0
    /// (collective); else this rank's.
    #[pyo3(signature = (population=None, gather=true))]
    fn spikes<'py>(&mut self, py: Python<'py>, population: Option<&str>, gather: bool) -> PyResult<SpikeArrays<'py>> {
        let session = self.session()?;
        if !session.keeps_spikes() {
            return Err(VolleyError::new_err(
                "this simulation keeps no spikes in memory (Simulation(keep_spikes=False)): read them from its spike file",
            ));
        }
        let range = match population {
            Some(name) => {
                let p = session.population(name).map_err(|e| to_py(py, e))?;
                let pop = &session.description().populations[p];
                pop.first_gid..pop.first_gid + pop.size
            }
            None => 0..session.description().total_neurons(),
        };
        let gathered;
        let spikes = if gather {
            gathered = session.gather_spikes();
            &gathered[..]
        } else {
            session.spikes()
        };
        let dt = session.description().dt_ms;
        let kept = spikes.iter().filter(|s| range.contains(&(s.gid as u64)));
        let times: Vec<f64> = kept.clone().map(|s| s.time_ms(dt)).collect();
        let ids: Vec<u64> = kept.map(|s| s.gid as u64 - range.start).collect();
        Ok((times.into_pyarray(py), ids.into_pyarray(py)))
    }

    /// The names of the state variables of `population`.
    fn state_names(&mut self, py: Python<'_>, population: &str) -> PyResult<Vec<String>> {
        let session = self.session()?;
        let p = session.population(population).map_err(|e| to_py(py, e))?;
        Ok(session.state_names(p))
    }

    /// The population-local ids of `population`'s neurons on this rank (start, end).
    fn local_ids(&mut self, py: Python<'_>, population: &str) -> PyResult<(u64, u64)> {
        let session = self.session()?;
        let p = session.population(population).map_err(|e| to_py(py, e))?;
        let r = session.local_ids(p);
        Ok((r.start, r.end))
    }

    /// State variable `variable` of this rank's neurons of `population` (`local_ids`);
    /// `gather`: every rank's, in id order, on rank 0 (collective; none on the others).
    #[pyo3(signature = (population, variable, gather=false))]
    fn get<'py>(&mut self, py: Python<'py>, population: &str, variable: &str, gather: bool) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let session = self.session()?;
        let p = session.population(population).map_err(|e| to_py(py, e))?;
        let values = session.state(p, variable).map_err(|e| to_py(py, e))?;
        let comm = session.comm();
        if !gather || comm.size() == 1 {
            return Ok(values.into_pyarray(py));
        }
        // The ranks hold ascending runs of ids: rank order is id order.
        let mut sends = vec![Vec::new(); comm.size()];
        sends[0] = values.iter().map(|v| v.to_bits()).collect();
        let all: Vec<f64> = comm.all_to_all_u64(&sends).into_iter().map(f64::from_bits).collect();
        Ok(all.into_pyarray(py))
    }

    /// Sets `variable` of neurons `ids` of `population` to `values` (one, or one each).
    fn set(
        &mut self,
        py: Python<'_>,
        population: &str,
        variable: &str,
        ids: PyReadonlyArray1<'_, u64>,
        values: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<()> {
        let session = self.session()?;
        let p = session.population(population).map_err(|e| to_py(py, e))?;
        let (ids, values) = (ids.as_slice()?, values.as_slice()?);
        session.set_state(p, variable, ids, values).map_err(|e| to_py(py, e))
    }

    /// Samples `variable` of neurons `ids` of `population` into memory every
    /// `interval_steps` (before the first run); returns its number for `samples`.
    fn record(
        &mut self,
        py: Python<'_>,
        population: &str,
        variable: &str,
        ids: PyReadonlyArray1<'_, u64>,
        interval_steps: u64,
    ) -> PyResult<usize> {
        let session = self.session()?;
        let p = session.population(population).map_err(|e| to_py(py, e))?;
        session.record(p, variable, ids.as_slice()?, interval_steps).map_err(|e| to_py(py, e))
    }

    /// Recording `r`'s samples on this rank: (columns' ids, interval in steps, rows ×
    /// columns values).
    #[allow(clippy::type_complexity)]
    fn samples<'py>(&mut self, py: Python<'py>, r: usize) -> PyResult<(Bound<'py, PyArray1<u64>>, u64, Bound<'py, PyArray2<f32>>)> {
        let session = self.session()?;
        let (ids, interval, values) = session.samples(r).ok_or_else(|| VolleyError::new_err(format!("no recording {r}")))?;
        let rows = if ids.is_empty() { 0 } else { values.len() / ids.len() };
        let values = numpy::ndarray::Array2::from_shape_vec((rows, ids.len()), values.to_vec())
            .map_err(|e| VolleyError::new_err(e.to_string()))?
            .into_pyarray(py);
        Ok((ids.to_vec().into_pyarray(py), interval, values))
    }

    /// The synapses of projection `projection` onto this rank's neurons: (sources,
    /// targets, weights, delays in steps), population-local ids, by target.
    #[allow(clippy::type_complexity)]
    fn synapses<'py>(
        &mut self,
        py: Python<'py>,
        projection: usize,
    ) -> PyResult<(Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<u32>>)> {
        let session = self.session()?;
        let held = session.synapses(projection).map_err(|e| to_py(py, e))?;
        let desc = session.description();
        let p = &desc.projections[projection];
        let (first_source, first_target) = (desc.populations[p.source].first_gid, desc.populations[p.target].first_gid);
        let sources: Vec<u64> = held.iter().map(|s| s.1 - first_source).collect();
        let targets: Vec<u64> = held.iter().map(|s| s.0 - first_target).collect();
        let weights: Vec<f32> = held.iter().map(|s| s.2).collect();
        let delays: Vec<u32> = held.iter().map(|s| s.3).collect();
        Ok((sources.into_pyarray(py), targets.into_pyarray(py), weights.into_pyarray(py), delays.into_pyarray(py)))
    }

    /// Sets the weights of projection `projection`'s synapses onto this rank's neurons,
    /// in the order `synapses` gives them (collective).
    fn set_weights(&mut self, py: Python<'_>, projection: usize, weights: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        let weights = weights.as_slice()?.to_vec();
        self.session()?.set_weights(projection, &weights).map_err(|e| to_py(py, e))
    }

    /// Applies `path=value` replacements to the stimuli between runs.
    fn change(&mut self, py: Python<'_>, sets: Vec<String>) -> PyResult<()> {
        self.session()?.change(&overrides(sets)).map_err(|e| to_py(py, e))
    }

    /// Completes the model's files (collective), recording how the runs ended; returns
    /// their paths. Later runs write no files.
    fn finish(&mut self, py: Python<'_>, status: &str) -> PyResult<Vec<String>> {
        let files = self.session()?.finish(status).map_err(|e| to_py(py, e))?;
        Ok(files.iter().map(|f| f.display().to_string()).collect())
    }

    /// Lets the simulation go (its memory, and under MPI the communicator for the next),
    /// its files completed first.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some(mut session) = self.session.take() else { return Ok(()) };
        let finished = session.finish("complete");
        give_back(session.into_comm());
        finished.map(drop).map_err(|e| to_py(py, e))
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        let Some(mut session) = self.session.take() else { return };
        if session.comm().size() > 1 {
            // Completing the files is collective, and the ranks' collectors need not drop
            // their objects at the same point: under MPI only close() completes them.
            eprintln!("volley: a Simulation was not closed: its files are left incomplete (under MPI, call close() on every rank)");
        } else {
            // Not closed by the script: its files are still completed.
            let status = if self.stopped { "stopped by a KeyboardInterrupt" } else { "complete" };
            let _ = session.finish(status);
        }
        give_back(session.into_comm());
    }
}

/// The spikes of a SONATA spike file: {population: (times in ms, node ids)}.
#[pyfunction]
fn read_spikes<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyDict>> {
    let file = volley::record::sonata::read_spike_file(Path::new(path)).map_err(|e| to_py(py, e))?;
    let out = PyDict::new(py);
    for p in file.populations {
        out.set_item(p.name, (p.timestamps_ms.into_pyarray(py), p.node_ids.into_pyarray(py)))?;
    }
    Ok(out)
}

/// Writes spike trains to a SONATA spike file: [(population, times in ms, node ids)].
#[pyfunction]
fn write_spikes(py: Python<'_>, path: &str, trains: Vec<(String, Vec<f64>, Vec<u64>)>) -> PyResult<()> {
    volley::record::sonata::write_trains(Path::new(path), &trains).map_err(|e| to_py(py, e))
}

/// Writes synapses to a SONATA edges file of one edge population `name`: (source and
/// target node populations, the target population's size), population-local ids, a
/// weight and a delay (ms) each.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn write_edges(
    py: Python<'_>,
    path: &str,
    name: &str,
    populations: (String, String, u64),
    sources: PyReadonlyArray1<'_, u64>,
    targets: PyReadonlyArray1<'_, u64>,
    weights: PyReadonlyArray1<'_, f32>,
    delays_ms: PyReadonlyArray1<'_, f64>,
) -> PyResult<()> {
    let (source_population, target_population, target_size) = populations;
    let list = volley::record::edge_file::EdgeList {
        source_population: &source_population,
        target_population: &target_population,
        target_size,
        sources: sources.as_slice()?,
        targets: targets.as_slice()?,
        weights: weights.as_slice()?,
        delays_ms: delays_ms.as_slice()?,
    };
    volley::record::edge_file::write(Path::new(path), name, &list).map_err(|e| to_py(py, e))
}

/// Every sample of one population of a SONATA report: (times, node ids, values as a
/// times × neurons array, variable, unit, population).
#[pyfunction]
#[pyo3(signature = (path, population=None))]
#[allow(clippy::type_complexity)]
fn read_report<'py>(
    py: Python<'py>,
    path: &str,
    population: Option<&str>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<u64>>, Bound<'py, PyArray2<f32>>, String, String, String)> {
    let block = volley::record::report::read_report(Path::new(path), population).map_err(|e| to_py(py, e))?;
    let (rows, cols) = (block.times.len(), block.node_ids.len());
    let values = numpy::ndarray::Array2::from_shape_vec((rows, cols), block.values)
        .map_err(|e| VolleyError::new_err(format!("{path}: {e}")))?
        .into_pyarray(py);
    Ok((block.times.into_pyarray(py), block.node_ids.into_pyarray(py), values, block.variable, block.unit, block.population))
}

#[pymodule]
fn _volley(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("VolleyError", m.py().get_type::<VolleyError>())?;
    m.add_class::<Model>()?;
    m.add_class::<Simulation>()?;
    m.add_function(wrap_pyfunction!(load_model, m)?)?;
    m.add_function(wrap_pyfunction!(parse_model, m)?)?;
    m.add_function(wrap_pyfunction!(read_spikes, m)?)?;
    m.add_function(wrap_pyfunction!(write_spikes, m)?)?;
    m.add_function(wrap_pyfunction!(write_edges, m)?)?;
    m.add_function(wrap_pyfunction!(read_report, m)?)?;
    m.add_function(wrap_pyfunction!(finalize, m)?)?;
    m.add_function(wrap_pyfunction!(parse_time, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
