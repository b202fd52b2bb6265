"""The state of a PyNN session on volley: what PyNN's common code reads (dt, t, the
recorders) and the network being described. volley builds a network whole, from one
description: the populations, projections and current sources of the script are
collected here and built into a `volley.Simulation` at the first run (`build.py`); the
runs after it go on from there, bit for bit."""

from __future__ import annotations

import numpy as np
from pyNN import common, errors

name = "volley"


def _populations_of(side):
    """The Populations a Population, PopulationView or Assembly is made of."""
    if hasattr(side, "populations"):
        return [p for part in side.populations for p in _populations_of(part)]
    return [getattr(side, "grandparent", side)]


class ID(int, common.IDMixin):
    """A cell: its value is volley's global neuron id, within its population consecutive."""

    def __init__(self, n):
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    def __init__(self):
        super().__init__()
        self.mpi_rank = 0
        self.num_processes = 1
        self.dt = 0.1
        self.min_delay = "auto"
        self.max_delay = "auto"
        self.threads = None
        self.seed = 1
        self.clear()

    # --- the network described ------------------------------------------------------------

    def scratch(self):
        """A directory of this session's files (the spike sources' trains), removed at
        the next setup and at exit."""
        import atexit
        import shutil
        import tempfile
        from pathlib import Path

        if getattr(self, "_scratch", None) is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="pynn-volley-"))
            atexit.register(shutil.rmtree, self._scratch, True)
        return self._scratch

    def clear(self):
        """Forgets the network (setup)."""
        self.close()
        if getattr(self, "_scratch", None) is not None:
            import shutil

            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        self.recorders = set()
        self.id_counter = 0
        self.segment_counter = -1
        self.populations = []
        self.projections = []
        self.trains_written = 0
        self.edges_written = 0
        self.ended = False
        self.current_sources = []
        self.reset()

    def add_population(self, population):
        if self.sim is not None:
            raise NotImplementedError("volley builds the network whole at the first run (or the first read of a projection's synapses): create Populations before it")
        self.populations.append(population)

    def add_projection(self, projection):
        if self.sim is not None:
            raise NotImplementedError("volley builds the network whole at the first run (or the first read of a projection's synapses): create Projections before it")
        for side in (projection.pre, projection.post):
            for population in _populations_of(side):
                if not any(population is p for p in self.populations):
                    raise errors.ConnectionError(f"{population.label} was created before the last setup(): create the network's populations after it")
        self.projections.append(projection)

    # --- running --------------------------------------------------------------------------

    def run(self, simtime):
        self.run_until(self.t + simtime)

    def build(self):
        """Builds the network described, if it is not yet: at the first run, or where a
        projection's synapses are read before it."""
        from .build import build

        if self.sim is None:
            self.sim = build(self)

    def run_until(self, tstop):
        from .build import draw_poisson_trains

        if self.ended:
            raise RuntimeError("pyNN.volley: the simulation ended (end()): call setup() to describe and run a new one")
        # Built first: a bad timestep is the model's error, named as such.
        self.build()
        exact = (tstop - self.t) / self.dt
        if not np.isfinite(exact):
            raise ValueError(f"pyNN.volley: run to {tstop} ms: expected a finite time")
        # As NEST: a run is a whole number of steps.
        if abs(exact - round(exact)) > 1e-6 * max(1.0, abs(exact)):
            raise ValueError(f"pyNN.volley: a run of {tstop - self.t} ms: expected a multiple of the timestep, {self.dt} ms")
        steps = round(exact)
        if steps > 0:
            draw_poisson_trains(self, self.t + steps * self.dt)
            self.sim.run(steps * self.dt)
        self.t = self.sim.t
        self.running = True

    def reset(self):
        """Back to t = 0: the network is built again from its description at the next run
        (the same network: volley's draws are keyed by the seed), initial values and
        current sources as set."""
        self.close()
        for recorder in self.recorders:
            recorder.cleared_at = 0.0
            recorder.handles = {}
        self.running = False
        self.t = 0.0
        self.t_start = 0
        self.segment_counter += 1

    def close(self):
        sim = getattr(self, "sim", None)
        if sim is not None:
            sim.close()
        self.sim = None


state = State()
