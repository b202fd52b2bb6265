"""Populations: the cells of a PyNN Population are a volley population's neurons, ids
consecutive. Parameters may differ per cell where volley's model holds them per neuron
(the IF_curr_* and IF_cond_* types', but for the synaptic time constants), and are one per
population otherwise; initial values may differ per cell, and are set cell by cell at
the build."""

from __future__ import annotations

import numpy as np
from pyNN import common, errors
from pyNN.parameters import ParameterSpace, simplify

from . import simulator
from .recording import Recorder


class Assembly(common.Assembly):
    _simulator = simulator


def _is_spike_source_array(population):
    return getattr(population.celltype, "volley_model", None) == "spike_source"


def _native_parameters(population):
    if population._parameters is None:
        return {}
    return population._parameters


class PopulationView(common.PopulationView):
    _assembly_class = Assembly
    _simulator = simulator

    def _get_parameters(self, *names):
        return self.grandparent._get_parameters(*names)._subset(self)

    def _get_native_parameters(self, *names):
        values = self.grandparent._get_native_parameters(*names).as_dict()
        return ParameterSpace(values, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        if _is_spike_source_array(self.grandparent):
            return self.grandparent._set_spike_times(parameter_space, self.index_in_grandparent(np.arange(self.size)))
        if getattr(self.grandparent.celltype, "volley_model", "") is None:
            return self.grandparent._set_poisson(parameter_space, self.index_in_grandparent(np.arange(self.size)))
        self.grandparent._set_parameters(parameter_space, self.index_in_grandparent(np.arange(self.size)))

    def _set_initial_value_array(self, variable, initial_values):
        indices = self.index_in_grandparent(np.arange(self.size))
        self.grandparent._initial_values_at(variable, indices, initial_values)

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class Population(common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def _create_cells(self):
        if getattr(self.celltype, "volley_model", "") == "":
            raise NotImplementedError(f"pyNN.volley does not support the cell type {type(self.celltype).__name__}")
        first = simulator.state.id_counter
        self.all_cells = np.array([simulator.ID(i) for i in range(first, first + self.size)], dtype=simulator.ID)
        self._mask_local = np.ones(self.size, dtype=bool)
        for cell in self.all_cells:
            cell.parent = self
        simulator.state.id_counter += self.size
        space = self.celltype.native_parameters
        space.shape = (self.size,)
        space.evaluate(simplify=True)
        self._parameters = space.as_dict()
        # variable -> per-cell values (PyNN units), applied at the build.
        self._initial = {}
        simulator.state.add_population(self)

    def _initial_values_at(self, variable, indices, initial_values):
        if simulator.state.sim is not None:
            raise NotImplementedError("pyNN.volley: initial values are set before the first run (or after reset())")
        values = self._initial.get(variable)
        if values is None:
            values = np.full(self.size, np.nan)
            self._initial[variable] = values
        evaluated = initial_values.evaluate(simplify=False) if hasattr(initial_values, "evaluate") else initial_values
        given = np.broadcast_to(np.asarray(evaluated, dtype=float), (len(indices),))
        # NaN marks a cell not given a value here: a NaN or infinite value is refused.
        if not np.all(np.isfinite(given)):
            raise errors.InvalidParameterValueError(f"{self.label}: initial {variable} {given[~np.isfinite(given)][0]}: expected a finite number")
        values[indices] = given

    def _set_initial_value_array(self, variable, initial_values):
        self._initial_values_at(variable, np.arange(self.size), initial_values)

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)

    def _get_parameters(self, *names):
        native = self.celltype.get_native_names() if any(n in self.celltype.computed_parameters() for n in names) else self.celltype.get_native_names(*names)
        return self.celltype.reverse_translate(self._get_native_parameters(*native))

    def _get_native_parameters(self, *names):
        return ParameterSpace({name: simplify(self._parameters[name]) for name in names}, shape=(self.local_size,))

    def _set_spike_times(self, parameter_space, indices):
        """Spike trains of cells `indices`: before the build, written to the trains' file
        then; between runs, written to a new file that the population replays from the
        next step on (the times before it are past)."""
        parameter_space.shape = (len(indices),)
        parameter_space.evaluate(simplify=False)
        trains = self._parameters["spike_times"]
        if not isinstance(trains, np.ndarray) or trains.shape != (self.size,):
            trains = np.array([trains] * self.size, dtype=object)
        for k, value in zip(indices, parameter_space["spike_times"]):
            trains[k] = value
        self._parameters["spike_times"] = trains
        state = simulator.state
        if state.sim is not None:
            from .build import _trains_file

            state.sim.change({f"population.{self._volley_name}.spikes": _trains_file(state, self)})

    def _merged(self, parameter_space, indices):
        """{name: the population's values, those of cells `indices` replaced by the
        space's} for each parameter the space sets."""
        parameter_space.shape = (len(indices),)
        parameter_space.evaluate(simplify=False)
        values = {}
        for name, value in parameter_space.items():
            values[name] = np.broadcast_to(np.asarray(self._parameters[name], dtype=float), (self.size,)).copy()
            values[name][indices] = value
        return values

    def _set_poisson(self, parameter_space, indices):
        """The rate, start or duration of cells `indices` of a SpikeSourcePoisson: its
        trains are drawn run by run, with the values it has then; as Poisson stimuli,
        their rate changes from the next step."""
        values = self._merged(parameter_space, indices)
        state = simulator.state
        if state.sim is not None and self._native_poisson:
            from .build import _value

            if set(parameter_space.keys()) - {"rate"}:
                raise NotImplementedError(
                    "pyNN.volley: start and duration of a SpikeSourcePoisson that drives its targets as Poisson stimuli "
                    "are fixed at the build (record it, or set them before the first run, to have its trains drawn)"
                )
            rate = _value(f"{self.label}.rate", values["rate"])
            state.sim.change({f"stimulus.{i}.rate": rate for i in self._stimulus_indices})
        self._parameters.update(values)

    def _set_parameters(self, parameter_space, indices=None):
        """Sets parameters of cells `indices` (default all): the values of the others kept,
        the whole population's values given to volley."""
        if _is_spike_source_array(self):
            return self._set_spike_times(parameter_space, np.arange(self.size))
        if getattr(self.celltype, "volley_model", "") is None:
            return self._set_poisson(parameter_space, np.arange(self.size))
        if indices is None:
            parameter_space.evaluate(simplify=True)
        else:
            parameter_space = ParameterSpace(self._merged(parameter_space, indices), shape=(self.size,))
            parameter_space.evaluate(simplify=True)
        from .build import _parameter

        for name, value in parameter_space.items():
            # Values differing between cells where the model holds one: refused now.
            _parameter(self, name, value)
        synaptic = {n for pair in getattr(self.celltype, "synaptic_parameters", {}).values() for n in pair}
        if simulator.state.sim is not None and synaptic & set(parameter_space.keys()):
            raise NotImplementedError(
                f"pyNN.volley: {', '.join(sorted(synaptic & set(parameter_space.keys())))} belong to the projections' synapses, "
                "built with the network: set them before the first run (or after reset())"
            )
        taus = {"tau_syn_ex", "tau_syn_in"} & set(parameter_space.keys())
        if simulator.state.sim is not None and taus and hasattr(self.celltype, "inhibitory_current"):
            from .build import _routes_by_sign

            after = {**self._parameters, **dict(parameter_space.items())}
            if _routes_by_sign(self) or not np.all(np.asarray(after["tau_syn_ex"]) == np.asarray(after["tau_syn_in"])):
                raise NotImplementedError(
                    "pyNN.volley: tau_syn_E and tau_syn_I differing (before or after) are the time constants of two currents built with "
                    "the projections: set them before the first run (or after reset())"
                )
        if simulator.state.sim is not None:
            # Between runs: the population's neurons are built again with the new values,
            # their state carried on (volley's Simulation.change).
            from .build import _homogeneous, _parameter

            per_cell = getattr(self.celltype, "per_cell", ())
            if "i_e" in parameter_space.keys() and "i_e" not in per_cell and not _homogeneous(parameter_space["i_e"]):
                raise NotImplementedError(
                    "pyNN.volley: i_offset differing between cells is set before the first run (or after reset()); "
                    "between runs, one value for the population"
                )
            sets = {f"population.{self._volley_name}.parameters.{name}": _parameter(self, name, value)
                    for name, value in parameter_space.items()}
            if "i_e" in parameter_space.keys():
                # The cells' own offsets, constant stimuli of the build, give way to it.
                sets.update({f"stimulus.{k}.amplitude": 0.0 for k in self._offset_stimuli})
            simulator.state.sim.change(sets)
        for name, value in parameter_space.items():
            self._parameters[name] = value
