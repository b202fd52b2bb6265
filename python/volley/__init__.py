"""volley: a spiking neural network simulator, driven from Python.

The same core as the ``volley`` command runs here in-process: a model (a TOML model file,
or one built in Python with the same fields) is validated by the same code, with the same
messages, built once, and run any number of times, each run going on exactly where the
last one stopped::

    import volley
    model = volley.Model.load("examples/izhikevich2003.toml", set={"simulation.seed": 2})
    with volley.Simulation(model) as sim:
        sim.run(100)                      # ms
        sim.set("exc", "v", -70.0, ids=[0, 1, 2])
        sim.run("100 ms")
        times, ids = sim.spikes("exc")    # NumPy arrays

Under ``mpirun -np N python script.py`` the same script runs distributed: each rank builds
and integrates its share of the neurons; ``spikes`` gathers every rank's to rank 0, ``get``
gives the rank's own neurons or, with ``gather=True``, every neuron's on rank 0.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import sys
import warnings
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def _load_core():
    """Imports the compiled core. A module imported before it may have put another HDF5
    in the process's global symbols (NEST sets RTLD_GLOBAL and then imports h5py, which
    bundles its own HDF5): the core's HDF5 calls would then reach that library with this
    one's handles. Where an HDF5 is mapped already, the core is bound to its own
    libraries (RTLD_DEEPBIND: they look up their own symbols first); elsewhere nothing
    changes for tools that interpose on symbols (LD_PRELOAD allocators, MPI profilers)."""
    import os

    flags = sys.getdlopenflags()
    if hasattr(os, "RTLD_DEEPBIND") and _hdf5_mapped():
        sys.setdlopenflags((flags & ~os.RTLD_GLOBAL) | os.RTLD_DEEPBIND | os.RTLD_NOW)
    try:
        from . import _volley as core
    finally:
        sys.setdlopenflags(flags)
    return core


def _hdf5_mapped() -> bool:
    """Whether an HDF5 library is already mapped into the process (Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            return any("libhdf5" in line for line in maps)
    except OSError:
        return True


_volley = _load_core()
from ._volley import VolleyError

__all__ = ["Model", "Simulation", "VolleyError", "read_spikes", "write_spikes", "write_edges", "read_report", "Report", "__version__"]
__version__: str = _volley.__version__


def _toml_key(key: str) -> str:
    """A TOML key: bare where TOML allows (as a model file writes it, and as errors name
    the field), quoted otherwise."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any, where: str) -> str:
    """``value`` as a TOML value (inline tables for mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(value, (str, os.PathLike)):
        return json.dumps(os.fspath(value))  # a TOML basic string
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(str(k))} = {_toml_value(v, f'{where}.{k}')}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, (np.ndarray, list, tuple)):
        values = value.tolist() if isinstance(value, np.ndarray) else value
        if all(type(v) is float for v in values) and all(map(math.isfinite, values)):
            # Listed synapses and per-neuron values: hundreds of thousands of finite floats,
            # whose repr is TOML's (the shortest text that reads back the same).
            return "[" + ", ".join(map(repr, values)) + "]"
        if all(type(v) is int for v in values):
            return "[" + ", ".join(map(str, values)) + "]"
        return "[" + ", ".join(_toml_value(v, f"{where}[{i}]") for i, v in enumerate(values)) + "]"
    raise TypeError(f"{where}: a model value must be a number, string, bool, list or dict, not {type(value).__name__}")


def _sets(values: Mapping[str, Any] | None) -> list[str]:
    """``{"population.exc.size": 800}`` as the ``path=value`` replacements of ``--set``."""
    return [f"{path}={_toml_value(v, path)}" for path, v in (values or {}).items()]


def _ms(duration: float | str, what: str) -> float:
    """A duration in ms from a number (ms) or a string with a unit ("1.5 s")."""
    if isinstance(duration, str):
        return _volley.parse_time(duration, what)
    if isinstance(duration, bool) or not isinstance(duration, (int, float, np.integer, np.floating)):
        raise VolleyError(f"{what}: expected a time in ms (a number) or a string with a unit such as \"1.5 s\", got {duration!r}")
    return float(duration)


def _ids(ids: Iterable[int] | np.ndarray, what: str = "ids") -> np.ndarray:
    """Population-local ids as uint64: whole numbers from 0, refused otherwise (a
    fractional id would otherwise be cut to the id below it)."""
    array = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
    if array.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise VolleyError(f"{what}: expected population-local ids (whole numbers from 0), got {array.ravel()[:5].tolist()}")
    flat = array.ravel()
    if not np.issubdtype(flat.dtype, np.integer):
        whole = np.isfinite(flat) & (flat == np.round(flat))
        if not whole.all():
            k = int(np.argmin(whole))
            raise VolleyError(f"{what}: entry {k} is {flat[k]}: expected a whole number")
    if (flat < 0).any():
        raise VolleyError(f"{what}: expected population-local ids from 0, got {flat.min()}")
    if flat.max() >= 2**63:
        raise VolleyError(f"{what}: id {flat.max()} is beyond any population")
    return np.ascontiguousarray(flat.astype(np.uint64))


def _index(value: Any, what: str, least: int = 0) -> int:
    """A whole number from ``least`` given as an argument (a projection's number, a handle)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise VolleyError(f"{what}: expected a whole number from {least}, got {value!r}")
    return int(value)


class Model:
    """A network model: populations, projections, stimuli and outputs, as a model file says.

    Load one with :meth:`Model.load`, or build one in Python::

        m = volley.Model(dt="1 ms", duration="1000 ms", seed=1)
        m.population("exc", 800, "izhikevich", parameters={"a": 0.02, ...}, initial={...})
        m.projection("exc", "exc", connection={"rule": "all_to_all"}, weight="0.5*u", delay="1 ms")

    The keyword arguments are the model file's fields (``volley reference`` lists them);
    a model built in Python is validated as a file is, and its errors name the field
    (``VolleyError.field``). A model built in Python writes no files unless
    :meth:`output` is called.
    """

    def __init__(self, dt: str | float = "0.1 ms", duration: str | float = "1000 ms", seed: int = 1, **simulation: Any):
        self._path: str | None = None
        self._set: list[str] = []
        self._tables: dict[str, Any] = {
            "simulation": {"dt": dt, "duration": duration, "seed": seed, **simulation},
            "population": [],
            "projection": [],
            "stimulus": [],
            "output": {"spikes": "", "raster": ""},
        }
        self._checked: _volley.Model | None = None

    @classmethod
    def load(cls, path: str, set: Mapping[str, Any] | None = None) -> Model:
        """Reads and validates the model file (or SONATA config) at ``path``, with
        ``set`` replacing its values as the CLI's ``--set path=value`` does
        (``{"population.exc.size": 8000, "simulation.seed": 3}``). Raises
        :class:`VolleyError` naming the file, the field and what was expected."""
        model = cls.__new__(cls)
        model._path, model._set, model._tables = str(path), _sets(set), {}
        model._checked = _volley.load_model(model._path, model._set)
        return model

    # --- building ----------------------------------------------------------------------

    def _add(self, table: str, fields: dict[str, Any]) -> Model:
        if self._path is not None:
            raise VolleyError(f"{self._path}: a loaded model is changed with Model.load(path, set={{...}}), not by adding {table}s")
        self._tables[table].append(fields)
        self._checked = None
        return self

    def population(self, name: str, size: int, model: str, **fields: Any) -> Model:
        """Adds a ``[[population]]``: ``parameters={...}``, ``initial={...}``, ``noise_std``, ..."""
        return self._add("population", {"name": name, "size": size, "model": model, **fields})

    def projection(self, source: str, target: str, **fields: Any) -> Model:
        """Adds a ``[[projection]]``: ``connection={"rule": ...}``, ``weight``, ``delay``, ``synapse``, ..."""
        return self._add("projection", {"source": source, "target": target, **fields})

    def stimulus(self, population: str | list[str], **fields: Any) -> Model:
        """Adds a ``[[stimulus]]``: ``kind``, ``amplitude``, ``neurons``, ..."""
        return self._add("stimulus", {"population": population, **fields})

    def output(self, dir: str, spikes: str = "spikes.h5", raster: str = "", **fields: Any) -> Model:
        """Sets ``[output]``: the run's files go to ``dir`` (``report=[{...}]`` for reports)."""
        if self._path is not None:
            raise VolleyError(f"{self._path}: a loaded model's output is changed with set={{'output.dir': ...}}")
        self._tables["output"] = {"dir": dir, "spikes": spikes, "raster": raster, **fields}
        self._checked = None
        return self

    def to_toml(self) -> str:
        """The model as a model file: what ``volley run`` would run the same."""
        if self._path is not None:
            return self.checked.text
        lines = ["[simulation]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v, f'simulation.{k}')}" for k, v in self._tables["simulation"].items()]
        for table in ("population", "projection", "stimulus"):
            for i, fields in enumerate(self._tables[table]):
                lines += ["", f"[[{table}]]"]
                lines += [f"{_toml_key(k)} = {_toml_value(v, f'{table}[{i}].{k}')}" for k, v in fields.items()]
        lines += ["", "[output]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v, f'output.{k}')}" for k, v in self._tables["output"].items()]
        return "\n".join(lines) + "\n"

    @property
    def checked(self) -> _volley.Model:
        """The validated model (validated now if built in Python; raises VolleyError)."""
        if self._checked is None:
            self._checked = _volley.parse_model(self.to_toml(), "<model built in Python>", self._set)
        return self._checked

    def check(self) -> Model:
        """Validates the model; raises :class:`VolleyError` naming the field."""
        self.checked
        return self

    @property
    def populations(self) -> list[tuple[str, int, str]]:
        """(name, size, model) of each population."""
        return self.checked.populations

    @property
    def dt(self) -> float:
        """The time step in ms."""
        return self.checked.dt

    @property
    def duration(self) -> float:
        """The model's duration in ms (what ``Simulation.run()`` runs by default)."""
        return self.checked.duration

    def __repr__(self) -> str:
        where = self._path or "built in Python"
        return f"<volley.Model {where}: {len(self.populations)} populations, dt {self.dt} ms>"


_open_simulations: "weakref.WeakSet[Simulation]" = weakref.WeakSet()


class Simulation:
    """A model built in this process (its share, under MPI), run any number of times.

    ``threads``: CPU threads (default: ``SLURM_CPUS_PER_TASK``, else every core);
    ``backend``: ``"cpu"``, ``"gpu"`` or ``"auto"`` as the CLI's ``--backend``.
    The files the model asks for (spikes, reports, raster) are appended after each run
    and completed by :meth:`close` (or at the end of a ``with`` block, or at exit).
    ``keep_spikes``: keep every spike in memory for :meth:`spikes` (8 bytes a spike on
    the rank that holds its neuron); a long run of a large network writes them to its
    spike file instead.
    """

    def __init__(
        self, model: Model | str, threads: int | None = None, backend: str = "cpu", gpu: int | None = None, keep_spikes: bool = True
    ):
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            model = Model.load(model)
        if not isinstance(model, Model):
            raise VolleyError(f"model: expected a volley.Model or the path of a model file, got {type(model).__name__}")
        if threads is None:
            threads = _default_threads()
        threads = None if threads is None else _index(threads, "threads", least=1)
        gpu = None if gpu is None else _index(gpu, "gpu")
        self.model = model
        self._sim = _volley.Simulation(model.checked, threads, backend, gpu, " ".join(sys.argv), keep_spikes)
        self._dt = model.dt
        self._stopped = False
        self._closed = False
        self._warned_reports = False
        _open_simulations.add(self)

    # --- running ------------------------------------------------------------------------

    def run(self, duration: float | str | None = None) -> None:
        """Runs ``duration`` further (ms, or a string with a unit; default: the model's
        duration), going on exactly from where the last run stopped: runs of 100 ms and
        100 ms give the spikes of one run of 200 ms, bit for bit.

        Ctrl-C (KeyboardInterrupt) stops the run at the next slice of about 10 ms of
        simulated time; what ran stays run, the state is consistent, and the files are
        valid when closed."""
        ms = self.model.duration if duration is None else _ms(duration, "duration")
        steps = ms / self._dt
        if not math.isfinite(steps) or steps < 0 or abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise VolleyError(f"duration: expected a whole number of steps of {self._dt} ms, got {ms} ms")
        if self._sim.step + round(steps) >= 2**32:
            raise VolleyError(f"duration: {ms} ms from {self.t} ms goes past step 2^32 - 1 (at dt = {self._dt} ms), the last a run can reach")
        reports, stop = self.model.checked.reports
        if reports and self._sim.step + round(steps) > stop and not self._warned_reports:
            self._warned_reports = True
            warnings.warn(f"the model's reports stop at {stop * self._dt} ms (its duration unless they say otherwise): "
                          "later samples are not written; use Simulation.record for samples in memory", stacklevel=2)
        slice_steps = max(1, round(10.0 / self._dt))
        try:
            self._sim.run_steps(round(steps), slice_steps)
        except KeyboardInterrupt:
            self._stopped = True
            raise

    @property
    def t(self) -> float:
        """Simulated time so far, in ms."""
        return self._sim.step * self._dt

    @property
    def step(self) -> int:
        """Steps run so far."""
        return self._sim.step

    @property
    def rank(self) -> int:
        """This process's MPI rank (0 without MPI)."""
        return self._sim.rank

    @property
    def ranks(self) -> int:
        """The number of MPI ranks (1 without MPI)."""
        return self._sim.ranks

    # --- results ------------------------------------------------------------------------

    def spikes(self, population: str | None = None, gather: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The spikes of every run so far: (times in ms, population-local ids), by time then
        id; every population's (ids then global) when ``population`` is None. Under MPI,
        ``gather=True`` (collective) gives every rank's spikes on rank 0 and none on the
        others; ``gather=False`` this rank's."""
        return self._sim.spikes(population, gather)

    def get(self, population: str, variable: str, gather: bool = False) -> np.ndarray:
        """State variable ``variable`` (``"v"``, ``"u"``, ...; :meth:`state_names`) of the
        population's neurons on this rank (all of them without MPI), in id order: a copy.
        Under MPI, ``gather=True`` (collective) gives every neuron's on rank 0 and none on
        the others."""
        return self._sim.get(population, variable, gather)

    def local_ids(self, population: str) -> range:
        """The ids of the population's neurons this rank holds (all without MPI)."""
        return range(*self._sim.local_ids(population))

    def state_names(self, population: str) -> list[str]:
        """The state variables :meth:`get` and :meth:`set` know for ``population``."""
        return self._sim.state_names(population)

    def record(self, population: str, variable: str, ids: Iterable[int] | None = None, interval: float | str | None = None) -> int:
        """Samples ``variable`` of neurons ``ids`` (default all) into memory every
        ``interval`` (default one step), from the state the first step starts from;
        before the first run. Returns a handle for :meth:`samples`."""
        sizes = {name: size for name, size, _ in self.model.populations}
        ids_array = np.arange(sizes.get(population, 0), dtype=np.uint64) if ids is None else _ids(ids)
        steps = 1 if interval is None else _ms(interval, "interval") / self._dt
        if not math.isfinite(steps) or abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or round(steps) < 1:
            raise VolleyError(f"interval: expected a whole number of steps of {self._dt} ms, got {steps * self._dt} ms")
        return self._sim.record(population, variable, np.ascontiguousarray(ids_array), round(steps))

    def samples(self, handle: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A recording's samples so far on this rank: (times in ms, population-local ids,
        values as a times × neurons array). Row k is the state at ``k·interval``."""
        ids, interval, values = self._sim.samples(_index(handle, "handle"))
        times = np.arange(values.shape[0]) * interval * self._dt
        return times, ids, values

    def weights(self, projection: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The synapses of projection ``projection`` (its number in the model, from 0) onto
        this rank's neurons (all without MPI): (sources, targets, weights, delays in ms),
        population-local ids, by target. A static projection's weights are those the
        run holds (as stored: 16-bit codes of a compact projection decoded), a plastic
        one's as they are now. A copy."""
        sources, targets, weights, delays = self._sim.synapses(_index(projection, "projection"))
        return sources, targets, weights, delays * self._dt

    # --- changes between runs -----------------------------------------------------------

    def set(self, population: str, variable: str, values: float | Iterable[float], ids: Iterable[int] | None = None) -> None:
        """Sets state variable ``variable`` of neurons ``ids`` (population-local; default
        all) to ``values`` (one for all, or one each), taking effect at the next step. Under
        MPI every rank calls it with the same arguments and sets the neurons it holds."""
        if ids is None:
            sizes = {name: size for name, size, _ in self.model.populations}
            ids_array = np.arange(sizes.get(population, 0), dtype=np.uint64)
        else:
            ids_array = _ids(ids)
        values_array = np.asarray(values, dtype=np.float64)
        if values_array.ndim > 1:
            raise VolleyError(f"values: expected one value, or one per neuron (a flat array), got an array of shape {values_array.shape}")
        values_array = np.atleast_1d(values_array)
        self._sim.set(population, variable, np.ascontiguousarray(ids_array), np.ascontiguousarray(values_array))

    def set_weights(self, projection: int, weights: float | Iterable[float]) -> None:
        """Sets the weights of projection ``projection``'s synapses onto this rank's
        neurons: one for all, or one per synapse in the order ``weights()`` gives them
        (same units). A plastic projection's rule goes on from the new weights; a static
        one's every spike arriving from the next step on takes them, those already
        emitted included. Under MPI every rank calls it with its own synapses' weights.
        The CPU backend only."""
        # One value for all is one value: the core gives it to every synapse.
        array = np.atleast_1d(np.asarray(weights, dtype=np.float32)).ravel()
        self._sim.set_weights(_index(projection, "projection"), np.ascontiguousarray(array))

    def change(self, set: Mapping[str, Any]) -> None:
        """Changes the model's stimuli and its populations' parameters from the next step
        on, as ``Model.load(set=...)`` would have them: ``{"stimulus.0.amplitude": 7.5}``,
        a step current's ``times``/``amplitudes``, the neurons it reaches;
        ``{"population.exc.parameters.d": 6}`` (the population's neurons built again
        with the new values, their state carried on; the CPU backend). Anything else of
        the model is fixed once built (change neuron state with :meth:`set`)."""
        self._sim.change(_sets(set))

    # --- files --------------------------------------------------------------------------

    def close(self) -> list[str]:
        """Completes the model's files and lets the simulation go; returns the files
        written. Under MPI, collective."""
        if self._closed:
            return []
        self._closed = True
        _open_simulations.discard(self)
        status = "stopped by a KeyboardInterrupt" if self._stopped else "complete"
        try:
            return self._sim.finish(status)
        finally:
            self._sim.close()

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            return "<volley.Simulation, closed>"
        return f"<volley.Simulation at {self.t} ms, rank {self.rank} of {self.ranks}>"


def _default_threads() -> int | None:
    import os

    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    return int(cpus) if cpus and cpus.isdigit() else None


class Report:
    """One population of a SONATA report: ``values[k, j]`` is neuron ``node_ids[j]`` at ``times[k]``."""

    def __init__(self, times: np.ndarray, node_ids: np.ndarray, values: np.ndarray, variable: str, unit: str, population: str):
        self.times, self.node_ids, self.values = times, node_ids, values
        self.variable, self.unit, self.population = variable, unit, population

    def __repr__(self) -> str:
        return f"<volley.Report {self.population}.{self.variable} ({self.unit}): {self.values.shape[0]} samples of {self.values.shape[1]} neurons>"


def read_spikes(path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The spikes of a SONATA spike file (volley's or another simulator's):
    ``{population: (times in ms, node ids)}``."""
    return _volley.read_spikes(str(path))


def write_spikes(path: str, trains: Mapping[str, tuple[Iterable[float], Iterable[int]]]) -> None:
    """Writes spike trains to a new SONATA spike file (replacing one at ``path``):
    ``{population: (times in ms, population-local node ids)}``, sorted by time as volley
    writes them. What a ``spike_source`` population replays (``spikes = "FILE.h5"``)."""
    rows = []
    for name, (times, ids) in trains.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise VolleyError(f"{path}: population {name!r}: expected a name (a string without '/')")
        t = np.asarray(times, dtype=np.float64).ravel()
        n = _ids(ids, f"{path}: population {name!r}: node ids")
        bad = ~(np.isfinite(t) & (t >= 0))
        if bad.any():
            k = int(np.argmax(bad))
            raise VolleyError(f"{path}: population {name!r}: time {k} is {t[k]} ms: expected finite times from 0 ms")
        rows.append((name, t.tolist(), n.tolist()))
    _volley.write_spikes(str(path), rows)


def write_edges(
    path: str,
    source: tuple[str, int] | str,
    target: tuple[str, int],
    sources: Iterable[int],
    targets: Iterable[int],
    weights: float | Iterable[float],
    delays: float | Iterable[float],
    name: str | None = None,
) -> None:
    """Writes synapses to a new SONATA edges file (replacing one at ``path``): one edge
    population ``name`` (default ``"<source>_to_<target>"``) from population ``source``
    onto ``target`` (``(name, size)``; the source's name alone will do, its size checks the
    sources), each synapse's
    population-local ``sources`` and ``targets``, its weight (the target model's unit) and
    delay (ms), one for all or one each. A projection takes them with
    ``connection={"rule": "list", "file": path}`` and no weight or delay of its own: the
    synapses of a list in the model file, without their passing through its text. Each
    target sums its synapses in the order given."""
    source_name, source_size = (source, None) if isinstance(source, str) else source
    target_name, target_size = target
    s, t = _ids(sources, f"{path}: sources"), _ids(targets, f"{path}: targets")
    if len(s) != len(t):
        raise VolleyError(f"{path}: {len(t)} targets for {len(s)} sources: expected one target per source")

    def each(values: Any, what: str, dtype: type) -> np.ndarray:
        array = np.asarray(values, dtype=dtype).ravel()
        if array.size == 1:
            return np.full(len(s), array[0], dtype=dtype)
        if array.size != len(s):
            raise VolleyError(f"{path}: {array.size} {what} for {len(s)} synapses: expected one for all, or one each")
        return np.ascontiguousarray(array)

    if source_size is not None and len(s) and s.max() >= source_size:
        k = int(np.argmax(s >= source_size))
        raise VolleyError(f"{path}: source {k} is {s[k]}: expected an id below the source population's size, {source_size}")
    _volley.write_edges(str(path), name or f"{source_name}_to_{target_name}", (str(source_name), str(target_name), int(target_size)),
                        s, t,
                        each(weights, "weights", np.float32), each(delays, "delays", np.float64))


def read_report(path: str, population: str | None = None) -> Report:
    """Every sample of ``population`` (the first when None) of a SONATA report file."""
    return Report(*_volley.read_report(str(path), population))


@atexit.register
def _close_all() -> None:
    # Files completed and MPI finalised before the interpreter goes.
    for sim in list(_open_simulations):
        try:
            sim.close()
        except Exception as e:  # noqa: BLE001 - at exit, say it and go on
            print(f"volley: closing a simulation at exit: {e}", file=sys.stderr)
    _volley.finalize()
