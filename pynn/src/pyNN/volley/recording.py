"""Recording: spikes come from the simulation's spikes in memory, sampled state from its
recordings (volley's probes), both registered at the build. Times in ms, v in mV."""

from __future__ import annotations

import numpy as np
from pyNN import recording

from . import simulator


class Recorder(recording.Recorder):
    _simulator = simulator

    def __init__(self, population, file=None):
        super().__init__(population, file=file)
        self.sampling_interval = simulator.state.dt
        # variable name -> handle of the simulation's recording, once built
        self.handles = {}
        # data before this time was cleared (get_data(clear=True))
        self.cleared_at = 0.0

    def _record(self, variable, new_ids, sampling_interval=None):
        state = simulator.state
        if state.sim is not None and (state.t > 0 or getattr(self.population, "_native_poisson", False)):
            raise NotImplementedError("pyNN.volley: record() before the first run (or after reset())")
        from .build import RECORDED_AS_IS, register_recording

        conductances = ("gsyn_exc", "gsyn_inh") if self.population.celltype.conductance_based else ()
        as_is = [n for n in RECORDED_AS_IS if n in self.population.celltype.recordable]
        if variable.name not in ("spikes", *as_is, *conductances):
            raise NotImplementedError(
                f"pyNN.volley records spikes, v, Izhikevich's u and a conductance-based cell's gsyn_exc/gsyn_inh, not {variable.name}")
        if sampling_interval is not None:
            self.sampling_interval = sampling_interval
        if state.sim is not None:
            # Built (a projection's synapses were read) but not yet run: sampled from step 0.
            register_recording(state.sim, state.model, self.population, variable)

    def _ids_in_population(self, ids):
        first = int(self.population.first_id)
        return np.asarray([int(i) for i in ids], dtype=np.int64) - first

    def _get_spiketimes(self, ids, clear=False):
        sim = simulator.state.sim
        if sim is None or len(ids) == 0:
            return np.array([], dtype=int), np.array([])
        times, local = sim.spikes(self.population._volley_name)
        wanted = np.isin(local, self._ids_in_population(ids)) & (times > self.cleared_at)
        if clear:
            self.cleared_at = simulator.state.t
        return local[wanted].astype(np.int64) + int(self.population.first_id), times[wanted]

    def _get_all_signals(self, variable, ids, clear=False):
        sim = simulator.state.sim
        recorded = self.handles.get(variable.name)
        if sim is None or recorded is None or len(ids) == 0:
            return np.array([]), None
        handle, native, scale = recorded
        now = simulator.state.t
        if handle is None:
            # A conductance no projection reaches: 0 at every sample, as NEST records it.
            times = np.arange(0.0, now + self.sampling_interval / 2, self.sampling_interval)
            kept = times >= self.cleared_at
            if clear:
                self.cleared_at = now
            return np.zeros((int(kept.sum()), len(ids))), None
        times, columns, values = sim.samples(handle)
        where = {int(c): k for k, c in enumerate(columns)}
        chosen = [where[int(i)] for i in self._ids_in_population(ids)]
        # The samples are the states steps start from; the state now (where a sample is
        # due) ends them, as NEST's recorders end at the run's time.
        interval = times[1] - times[0] if len(times) > 1 else self.sampling_interval
        if len(times) and abs(now - times[-1] - interval) < 1e-9:
            current = sim.get(self.population._volley_name, native)
            values = np.vstack([values, current[np.asarray(columns, dtype=np.int64)].astype(np.float32)])
            times = np.append(times, now)
        kept = times >= self.cleared_at
        signals = values[kept][:, chosen].astype(float) * scale
        if clear:
            self.cleared_at = now
        return signals, None

    def _local_count(self, variable, filter_ids=None):
        ids = list(self.filter_recorded(variable, filter_ids))
        counts = {int(i): 0 for i in ids}
        if variable.name != "spikes" or simulator.state.sim is None or not ids:
            return counts
        spiked, _ = self._get_spiketimes(ids)
        for i, n in zip(*np.unique(spiked, return_counts=True)):
            counts[int(i)] = int(n)
        return counts

    def _clear_simulator(self):
        self.cleared_at = simulator.state.t

    def _reset(self):
        self.handles = {}
