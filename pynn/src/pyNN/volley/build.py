"""The network a script described, as one volley model, built into a `volley.Simulation`
at the first run: populations (their parameters in volley's names and units), the
projections' rules, weights and delays, the current sources as stimuli, the Poisson
sources as Poisson stimuli of their targets where they drive them one to one, as spike
sources replaying trains drawn here otherwise; then the initial values set cell by
cell and the recordings registered."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import volley
from pyNN import common, errors
from pyNN.random import RandomDistribution

from .standardmodels import ACSource, DCSource, NoisyCurrentSource, SpikeSourceArray, SpikeSourcePoisson, StaticSynapse, StepCurrentSource

# PyNN's recordables that are volley's state variables of the same name and unit.
RECORDED_AS_IS = ("v", "u")

# Initial values PyNN gives every cell type that volley's models start from themselves
# (the synaptic currents at 0).
_SYNAPTIC_INITIAL = {"isyn_exc", "isyn_inh", "gsyn_exc", "gsyn_inh"}


def group_by_population(cells):
    """[(population, local indices or None for all)] of a Population, PopulationView,
    Assembly or list of IDs."""
    if isinstance(cells, common.Population):
        return [(cells, None)]
    if isinstance(cells, common.PopulationView):
        return [(cells.grandparent, np.asarray(cells.index_in_grandparent(np.arange(cells.size))))]
    if isinstance(cells, common.Assembly):
        return [pair for p in cells.populations for pair in group_by_population(p)]
    by_population = {}
    for cell in cells:
        by_population.setdefault(id(cell.parent), (cell.parent, []))[1].append(cell.parent.id_to_index(cell))
    return [(p, np.asarray(sorted(ix))) for p, ix in by_population.values()]


def _refuse_nan(name, value):
    """NaN is no value (it would also read as differing between the cells)."""
    array = np.asarray(value, dtype=float)
    if np.isnan(array).any():
        raise errors.InvalidParameterValueError(f"pyNN.volley: {name} is NaN: expected a number")


def _parameter(population, name, value):
    """A cell parameter as volley takes it: one number where the cells share it, else one
    per cell where the model holds it per neuron (`per_cell` of the cell type)."""
    _refuse_nan(f"{population.label}.{name}", value)
    if _homogeneous(value):
        return _value(name, value)
    if name not in getattr(population.celltype, "per_cell", ()):
        raise NotImplementedError(
            f"pyNN.volley: {name} differs between the cells of {population.label!r}; volley's {population.celltype.volley_model} "
            "holds one value per population (the cell types' parameters but the synaptic ones may differ per cell)"
        )
    return [float(x) for x in np.broadcast_to(np.asarray(value, dtype=float), (population.size,))]


def _value(name, value):
    """A homogeneous parameter's value (one per population in volley)."""
    _refuse_nan(name, value)
    array = np.atleast_1d(np.asarray(value, dtype=float))
    if not np.all(array == array.flat[0]):
        raise NotImplementedError(f"pyNN.volley: {name} differs between the cells of a population; volley holds one value per population")
    return float(array.flat[0])


def _weight(value, scale, where):
    """A weight as volley takes it: a number, or a uniform or normal distribution."""
    if isinstance(value, RandomDistribution):
        p = value.parameters
        if value.name == "uniform":
            return {"distribution": "uniform", "low": p["low"] * scale, "high": p["high"] * scale}
        if value.name in ("normal", "normal_clipped"):
            table = {"distribution": "normal", "mean": p["mu"] * scale, "std": p["sigma"] * scale}
            if value.name == "normal_clipped":
                table.update(min=p["low"] * scale, max=p["high"] * scale, redraw=True)
            return table
        raise NotImplementedError(f"pyNN.volley: {where} drawn from {value.name!r} (uniform, normal and normal_clipped are supported)")
    return _value(where, value) * scale


def _synapse(projection):
    """(weight as PyNN gives it, delay in ms) of a projection's StaticSynapse."""
    space = projection.synapse_type.parameter_space
    weight, delay = space["weight"].base_value, space["delay"].base_value
    if isinstance(delay, RandomDistribution):
        raise NotImplementedError("pyNN.volley: delays drawn from a distribution are not mapped yet")
    return weight, _value("delay", delay)


def _check_sign(projection, weight):
    values = [weight.parameters.get(k) for k in ("low", "mu", "high")] if isinstance(weight, RandomDistribution) else [weight]
    values = [v for v in values if v is not None]
    if projection.post.conductance_based:
        if any(v < 0 for v in values):
            raise errors.ConnectionError("conductance weights must be positive (excitatory and inhibitory alike)")
        return
    if projection.receptor_type == "inhibitory" and any(v > 0 for v in values):
        raise errors.ConnectionError("inhibitory weights of current-based synapses must be negative (PyNN's convention)")
    if projection.receptor_type == "excitatory" and any(v < 0 for v in values):
        raise errors.ConnectionError("excitatory weights must be positive")


def _stimulus_tables(source, until_ms):
    """The `[[stimulus]]` fields of a current source (nA → pA), without population."""
    # A copy evaluated: the source's own space is read again at each build (reset()).
    space = copy.deepcopy(source.parameter_space)
    space.evaluate(simplify=True)
    p = space.as_dict()
    if isinstance(source, DCSource):
        times, amplitudes = [p["start"]], [p["amplitude"] * 1000.0]
        if p["stop"] < min(until_ms, 1e9):
            times.append(p["stop"])
            amplitudes.append(0.0)
        return [{"kind": "step", "times": [f"{t} ms" for t in times], "amplitudes": amplitudes}]
    if isinstance(source, StepCurrentSource):
        times = np.asarray(getattr(p["times"], "value", p["times"]), dtype=float)
        amplitudes = np.asarray(getattr(p["amplitudes"], "value", p["amplitudes"]), dtype=float)
        return [{"kind": "step", "times": [f"{t} ms" for t in times], "amplitudes": [a * 1000.0 for a in amplitudes]}]
    # PyNN's "never" is a stop of 1e12 ms.
    window = {"start": f"{p['start']} ms", **({"stop": f"{p['stop']} ms"} if p["stop"] < min(until_ms, 1e9) else {})}
    if isinstance(source, NoisyCurrentSource):
        # NEST's noise_generator: a value per cell every dt, held, from start to stop; the
        # mean a step current over the same window.
        times, amplitudes = [p["start"]], [p["mean"] * 1000.0]
        if "stop" in window:
            times.append(p["stop"])
            amplitudes.append(0.0)
        return [
            {"kind": "noise", "std": p["stdev"] * 1000.0, "interval": f"{p['dt']} ms", **window},
            {"kind": "step", "times": [f"{t} ms" for t in times], "amplitudes": amplitudes},
        ]
    if isinstance(source, ACSource):
        # PyNN's phase is at `start`; volley's sine (NEST's ac_generator) takes it at 0.
        phase = p["phase"] - 360.0 * p["frequency"] * p["start"] / 1000.0
        return [{"kind": "sine", "amplitude": p["amplitude"] * 1000.0, "offset": p["offset"] * 1000.0, "frequency": p["frequency"],
                 "phase": phase, **window}]
    raise NotImplementedError(f"pyNN.volley does not support the current source {type(source).__name__}")


def model_of(state):
    """The volley model of the network described in `state`."""
    # About 1 ms in whole steps (each run says how far it goes).
    m = volley.Model(dt=f"{state.dt} ms", duration=f"{math.ceil(1.0 / state.dt - 1e-9) * state.dt!r} ms", seed=state.seed)
    poisson = [p for p in state.populations if isinstance(p.celltype, SpikeSourcePoisson)]
    for k, population in enumerate(poisson):
        _check_poisson(population)
        population._poisson_key = k
        # The trains the new network replays: none yet (draw_poisson_trains).
        population._poisson_drawn = None
        population._stimulus_indices = []
        population._native_poisson = _drives_as_stimuli(state, population)
    cells = [p for p in state.populations if not getattr(p, "_native_poisson", False)]
    for k, population in enumerate(cells):
        population._volley_name = f"p{k}"
        population._offset_stimuli = []
        if isinstance(population.celltype, SpikeSourceArray):
            m.population(population._volley_name, population.size, "spike_source", spikes=_trains_file(state, population))
            continue
        if isinstance(population.celltype, SpikeSourcePoisson):
            # Its trains are drawn run by run (`draw_poisson_trains`): none yet.
            empty = _write_trains(state, population, [np.array([])] * population.size)
            m.population(population._volley_name, population.size, "spike_source", spikes=empty)
            continue
        synaptic = {n for pair in getattr(population.celltype, "synaptic_parameters", {}).values() for n in pair}
        given = {name: v for name, v in population._parameters.items() if name not in synaptic}
        # i_offset per cell, where the model holds i_e per population: a constant stimulus.
        per_cell = getattr(population.celltype, "per_cell", ())
        offsets = given.pop("i_e", None) if "i_e" in given and "i_e" not in per_cell and not _homogeneous(given["i_e"]) else None
        parameters = {name: _parameter(population, name, v) for name, v in given.items()}
        m.population(population._volley_name, population.size, population.celltype.volley_model, parameters=parameters)
        if offsets is not None:
            _offset_currents(m, population, offsets)
    for projection in state.projections:
        projection._parts = []
        projection._native_poisson = False
        if projection._listed is not None:
            _listed_projections(m, projection)
            continue
        weight, delay = _synapse(projection)
        _check_sign(projection, weight)
        post = projection.post
        if getattr(projection.pre, "_native_poisson", False):
            _poisson_input(m, projection, weight)
            continue
        if isinstance(post.celltype, SpikeSourcePoisson):
            raise NotImplementedError("pyNN.volley: a SpikeSourcePoisson receives no projection")
        projection._parts = [(len(m._tables["projection"]), projection.pre, post)]
        m.projection(projection.pre._volley_name, post._volley_name, connection=projection.connection,
                     weight=_weight(weight, post.celltype.weight_scale, "weight"), delay=f"{delay} ms", **_synapse_kind(projection, post),
                     **_plasticity(projection))
    for source in state.current_sources:
        source.stimulus_indices = []
        source.built_with_stop = False
        for population, indices in source.injections:
            for table in _stimulus_tables(source, float("inf")):
                source.built_with_stop |= table["kind"] in ("noise", "sine") and "stop" in table
                if indices is not None:
                    table["neurons"] = {"ids": [int(i) for i in indices]}
                source.stimulus_indices.append(len(m._tables["stimulus"]))
                m.stimulus(population._volley_name, **table)
    return m


def _offset_currents(m, population, offsets):
    """i_offset differing between cells: a constant stimulus of each value onto the cells
    that have it (volley's i_e is one per population; a constant current is the same
    term of the membrane equation)."""
    offsets = np.broadcast_to(np.asarray(offsets, dtype=float), (population.size,))
    population._offset_stimuli = []
    for value in np.unique(offsets):
        if value != 0.0:
            population._offset_stimuli.append(len(m._tables["stimulus"]))
            m.stimulus(population._volley_name, kind="constant", amplitude=float(value),
                       neurons={"ids": [int(i) for i in np.flatnonzero(offsets == value)]})


def _homogeneous(value):
    array = np.atleast_1d(np.asarray(value, dtype=float))
    return bool(np.all(array == array.flat[0]))


def _drives_as_stimuli(state, population):
    """Whether a SpikeSourcePoisson can be volley's Poisson stimuli of its targets: it
    drives whole current-based populations of its size one to one through static
    synapses left as made, from 0 to the end at one rate, and is not recorded. Its spikes
    are then drawn inside the targets, as NEST's poisson_generator and parrot neurons
    give them, at no cost per spike; otherwise (several projections, from views, onto
    iaf_psc_exp's own inhibitory current, ...) its trains are drawn here."""
    p = population._parameters
    projections = [pr for pr in state.projections if any(q is population for q, _ in group_by_population(pr.pre))]
    # One projection from the whole population: a stimulus draws the train of each
    # target apart, where NEST's parrots share one between targets.
    return (
        len(projections) == 1
        and projections[0].pre is population
        and not population.recorder.recorded
        and all(_homogeneous(p[name]) for name in ("rate", "start", "duration"))
        and float(np.atleast_1d(p["start"])[0]) == 0.0
        and float(np.atleast_1d(p["duration"])[0]) >= 1e9
        and all(
            pr._listed is None and pr.connection["rule"] == "one_to_one" and pr.post.size == population.size
            and not pr.post.conductance_based and type(pr.synapse_type) is StaticSynapse and not pr._pending_weights
            and not (pr.receptor_type == "inhibitory" and _routes_by_sign(pr.post))
            for pr in projections
        )
    )


# Steps per block of a drawn Poisson train: each block's spikes are drawn from a stream
# of its own (the seed, the source population, the block), so that the trains do not
# depend on how the runs split the time.
_POISSON_BLOCK = 1000


def _drawn_poisson(state, population, first_step, end_step):
    """A SpikeSourcePoisson's spike times (ms) per cell in steps [first_step, end_step):
    a Poisson process at each cell's rate while it is on (from start, for duration), at
    most one spike a step, each at the middle of its step (replayed at the step's end, as
    NEST's parrot neurons emit them)."""
    n, dt = population.size, state.dt
    p = population._parameters
    rate, start, duration = (np.broadcast_to(np.asarray(p[k], dtype=float), (n,)) for k in ("rate", "start", "duration"))
    on = np.round(start / dt)
    off = np.where(duration >= 1e9, np.inf, np.round((start + duration) / dt))
    if np.max(rate, initial=0.0) * dt / 1000.0 > 0.05:
        warnings.warn(f"pyNN.volley: {population.label} fires at up to {np.max(rate)} Hz, a spike a step at most: "
                      "spikes drawn in the same step of a cell are one", stacklevel=3)
    cells, steps = [], []
    for block in range(first_step // _POISSON_BLOCK, (end_step - 1) // _POISSON_BLOCK + 1):
        rng = np.random.default_rng([state.seed, 0x706F6973, population._poisson_key, block])
        counts = rng.poisson(rate * _POISSON_BLOCK * dt / 1000.0)
        cell = np.repeat(np.arange(n), counts)
        step = block * _POISSON_BLOCK + rng.integers(0, _POISSON_BLOCK, size=len(cell))
        kept = (step >= first_step) & (step < end_step) & (step >= on[cell]) & (step < off[cell])
        cells.append(cell[kept])
        steps.append(step[kept])
    key = np.unique(np.concatenate(cells) * (1 << 40) + np.concatenate(steps))
    cell, step = key >> 40, key & ((1 << 40) - 1)
    times = (step + 0.5) * dt
    return [times[cell == c] for c in range(n)]


# Blocks drawn ahead of a run: trains replaced between runs are a change of the model
# (volley reads its text again, a second per 300,000 listed synapses), so runs cut short
# (PyNN's callbacks) take trains drawn for the next blocks too, and draw again only when
# the parameters change or the runs pass them. The spikes are the same however far
# ahead they are drawn: each block's are keyed by the block.
_POISSON_AHEAD = 10


def _check_poisson(population):
    """A SpikeSourcePoisson's rate (Hz), start and duration (ms) as a Poisson process
    takes them: finite rates and starts from 0, durations from 0 (inf: to the end)."""
    p = population._parameters
    checks = (("rate", lambda x: np.isfinite(x) & (x >= 0)), ("start", lambda x: np.isfinite(x) & (x >= 0)), ("duration", lambda x: x >= 0))
    for name, valid in checks:
        values = np.atleast_1d(np.asarray(p[name], dtype=float))
        if not valid(values).all():
            bad = values[~valid(values)][0]
            raise errors.InvalidParameterValueError(f"{population.label}: SpikeSourcePoisson {name} {bad}: expected a finite number from 0"
                                                    if name != "duration" else f"{population.label}: SpikeSourcePoisson duration {bad}: expected a number from 0 (ms)")


def draw_poisson_trains(state, end_ms):
    """Before a run to `end_ms`: each SpikeSourcePoisson that is a spike source replays
    trains drawn with the parameters it has now, for that run and the blocks after it,
    unless those it replays already cover the run with these parameters."""
    first = round(state.t / state.dt)
    end = round(end_ms / state.dt)
    if end <= first:
        return
    sets = {}
    for population in state.populations:
        if isinstance(population.celltype, SpikeSourcePoisson) and not population._native_poisson:
            _check_poisson(population)
            p = population._parameters
            key = tuple(np.asarray(p[k], dtype=float).tobytes() for k in ("rate", "start", "duration"))
            drawn = population._poisson_drawn
            if drawn is not None and drawn[0] == key and drawn[1] <= first and end <= drawn[2]:
                continue
            ahead = ((end - 1) // _POISSON_BLOCK + _POISSON_AHEAD) * _POISSON_BLOCK
            trains = _drawn_poisson(state, population, first, ahead)
            sets[f"population.{population._volley_name}.spikes"] = _write_trains(state, population, trains)
            population._poisson_drawn = (key, first, ahead)
    if sets:
        state.sim.change(sets)


def _trains_file(state, population):
    """The SONATA spike file of a SpikeSourceArray population's trains, written in the
    session's scratch directory."""
    from pyNN.parameters import Sequence

    value = population._parameters["spike_times"]
    trains = [value] * population.size if isinstance(value, Sequence) else list(np.atleast_1d(value))
    times = [np.asarray(getattr(t, "value", t), dtype=float).ravel() for t in trains]
    for cell, train in enumerate(times):
        if len(train) and (np.any(np.diff(train) < 0) or train[0] <= 0):
            raise errors.InvalidParameterValueError(
                f"{population.label}: the spike times of cell {cell} must increase, each after 0 ms (got {train[:5].tolist()}...)")
    return _write_trains(state, population, times)


def _write_trains(state, population, times):
    """A new SONATA spike file of trains `times` (one array per cell) in the session's
    scratch directory: a new file each time, as trains replaced between runs are a new
    model part."""
    ids = np.concatenate([np.full(len(t), cell, dtype=np.int64) for cell, t in enumerate(times)]) if times else np.array([], np.int64)
    state.trains_written += 1
    path = state.scratch() / f"{population._volley_name}_spike_times_{state.trains_written}.h5"
    volley.write_spikes(path, {population._volley_name: (np.concatenate(times) if times else [], ids)})
    return str(path)


def _listed_projections(m, projection):
    """A projection whose synapses PyNN's connector listed: one volley projection of
    listed synapses per pair of populations its cells belong to, its synapses in a SONATA
    edges file of the session's (not the model's text, which a change reads again)."""
    from .simulator import state

    for pre, post, sources, targets, weights, delays in projection.listed_parts():
        if isinstance(post.celltype, SpikeSourcePoisson):
            raise NotImplementedError("pyNN.volley: a SpikeSourcePoisson receives no projection")
        weights = np.asarray(weights, dtype=float)
        for w in (weights.min(), weights.max()) if weights.size else ():
            _check_sign(projection, w)
        projection._parts.append((len(m._tables["projection"]), pre, post))
        # On the grid of steps as NEST rounds delays (ms × steps per ms, half up: steps
        # per ms exact from the step's microseconds); one that rounds to no step (below
        # half the timestep, negative, NaN) refused, as NEST refuses it.
        delays = np.asarray(delays, dtype=float)
        steps = np.floor(delays * (1000.0 / max(1, round(state.dt * 1000.0))) + 0.5)
        short = ~(steps >= 1)
        if short.any():
            raise errors.ConnectionError(f"delay {delays[short][0]} ms: expected a delay that rounds to at least one timestep of {state.dt} ms")
        if not np.isfinite(weights).all():
            raise errors.ConnectionError(f"weight {weights[~np.isfinite(weights)][0]}: expected a finite number")
        delays = steps * state.dt
        state.edges_written += 1
        path = state.scratch() / f"listed_{state.edges_written}.h5"
        volley.write_edges(path, pre._volley_name, (post._volley_name, post.size), sources, targets, weights * post.celltype.weight_scale, delays)
        m.projection(pre._volley_name, post._volley_name, connection={"rule": "list", "file": str(path)}, **_synapse_kind(projection, post))


def _plasticity(projection):
    """The `plasticity` field of a projection of an STDPMechanism (weights stored exact,
    as a plastic projection's are)."""
    mechanism = projection.synapse_type
    if not hasattr(mechanism, "plasticity"):
        return {}
    sign = -1.0 if (projection.receptor_type == "inhibitory" and not projection.post.conductance_based) else 1.0
    return {"plasticity": mechanism.plasticity(projection.post.celltype.weight_scale, sign), "storage": "exact"}


def _synapse_kind(projection, post):
    """The `synapse` field of a projection onto conductance-based cells (`post`, a
    population): its receptor's time constant and reversal potential, from the cells'
    parameters."""
    names = getattr(post.celltype, "synaptic_parameters", None)
    if names is None:
        if projection.receptor_type == "inhibitory" and _routes_by_sign(post):
            # iaf_psc_exp's or iaf_psc_alpha's inhibitory current (NEST's i_syn_in), named:
            # the weights may be 0 at the build and set later.
            tau = _value("tau_syn_in", post._parameters["tau_syn_in"])
            return {"synapse": {"model": post.celltype.inhibitory_current, "tau": f"{tau} ms"}}
        return {}
    if projection.receptor_type not in names:
        raise errors.ConnectionError(f"{type(post.celltype).__name__} receives on 'excitatory' or 'inhibitory', not {projection.receptor_type!r}")
    tau, e_rev = (_value(f"{post.label}.{n}", post._parameters[n]) for n in names[projection.receptor_type])
    return {"synapse": {"model": post.celltype.synapse_model, "tau": f"{tau} ms", "e_rev": e_rev}}


def _routes_by_sign(population):
    """Whether volley's model of `population` takes inhibitory weights in a current of
    their own (iaf_psc_exp and iaf_psc_alpha with tau_syn_in ≠ tau_syn_ex, as NEST's)."""
    p = population._parameters
    return hasattr(population.celltype, "inhibitory_current") and not np.all(np.asarray(p["tau_syn_ex"]) == np.asarray(p["tau_syn_in"]))


def _poisson_input(m, projection, weight):
    """A SpikeSourcePoisson onto its targets one to one: a Poisson stimulus of each."""
    projection._native_poisson = True
    p = projection.pre._parameters
    projection.pre._stimulus_indices.append(len(m._tables["stimulus"]))
    m.stimulus(projection.post._volley_name, kind="poisson", rate=_value("rate", p["rate"]), indegree=1,
               weight=_weight(weight, projection.post.celltype.weight_scale, "weight"))


def build(state):
    """The volley.Simulation of the network in `state`, initial values set and
    recordings registered."""
    model = model_of(state)
    sim = volley.Simulation(model, threads=state.threads)
    for population in state.populations:
        if getattr(population, "_native_poisson", False):
            continue
        for variable, values in population._initial.items():
            if variable in _SYNAPTIC_INITIAL:
                if np.any(values[~np.isnan(values)] != 0):
                    raise NotImplementedError(f"pyNN.volley: {variable} starts at 0")
                continue
            given = ~np.isnan(values)
            if given.any():
                sim.set(population._volley_name, variable, values[given], ids=np.flatnonzero(given))
        for variable in population.recorder.recorded:
            register_recording(sim, model, population, variable)
    for projection in state.projections:
        for parameter_space in projection._pending_weights:
            projection._apply_weights(parameter_space, sim)
    state.model = model
    return sim


def register_recording(sim, model, population, variable):
    """Samples PyNN's recordable `variable` of the population's recorded cells into the
    simulation from step 0 (before the first run: at the build, or where record() comes
    after a build that reading synapses started); a variable recorded again, of more
    cells, is registered again for all of them (nothing was sampled yet)."""
    recorder = population.recorder
    ids = recorder.recorded[variable]
    if variable.name == "spikes" or not ids:
        return
    local = sorted(population.id_to_index(i) for i in ids)
    native, scale = _recorded_variable(model, population, variable.name)
    handle = None if native is None else sim.record(population._volley_name, native, ids=local, interval=recorder.sampling_interval)
    recorder.handles[variable.name] = (handle, native, scale)


def _recorded_variable(model, population, name):
    """(volley's state variable, its scale to PyNN's unit) of PyNN's recordable `name`:
    v (and Izhikevich's u); a conductance-based cell's gsyn_exc/gsyn_inh, the value of
    the synaptic kind of its excitatory/inhibitory projections (nS → µS), None where no
    projection of that kind reaches it (then 0 throughout)."""
    if name in RECORDED_AS_IS:
        return name, 1.0
    receptors = getattr(population.celltype, "synaptic_parameters", None)
    if name not in ("gsyn_exc", "gsyn_inh") or receptors is None:
        raise NotImplementedError(f"pyNN.volley records spikes, v, Izhikevich's u and a conductance-based cell's gsyn_exc/gsyn_inh, not {name}")
    def kind_of(receptor):
        tau, e_rev = (_value(n, population._parameters[n]) for n in receptors[receptor])
        return {"model": population.celltype.synapse_model, "tau": f"{tau} ms", "e_rev": e_rev}

    kind = kind_of("excitatory" if name == "gsyn_exc" else "inhibitory")
    if kind_of("excitatory") == kind_of("inhibitory"):
        raise NotImplementedError(
            f"pyNN.volley: {name} of cells whose excitatory and inhibitory synapses have the same tau_syn and e_rev "
            "(volley sums them in one conductance)"
        )
    # volley's kinds: delta first, then each distinct synapse in projection order.
    kinds = []
    for table in model._tables["projection"]:
        if isinstance(table.get("synapse"), dict) and table["synapse"] not in kinds:
            kinds.append(table["synapse"])
    onto = any(t.get("synapse") == kind and t["target"] == population._volley_name for t in model._tables["projection"])
    return (f"synapse.{kinds.index(kind) + 1}" if onto else None), 0.001


def change_current_source(state, source):
    """A current source's new parameters, from the next step on."""
    sets = {}
    tables = [t for _ in source.injections for t in _stimulus_tables(source, float("inf"))]
    if source.built_with_stop and any(t["kind"] in ("noise", "sine") and "stop" not in t for t in tables):
        raise NotImplementedError(
            f"pyNN.volley: a {type(source).__name__}'s stop made 'never' between runs (built with a stop: give a time)"
        )
    for index, table in zip(source.stimulus_indices, tables):
        for key, value in table.items():
            if key != "kind":
                sets[f"stimulus.{index}.{key}"] = value
    state.sim.change(sets)
