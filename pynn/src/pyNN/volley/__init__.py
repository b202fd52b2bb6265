"""pyNN.volley: PyNN scripts run on volley (`import pyNN.volley as sim`, or `python
script.py volley` for PyNN's examples).

The network a script describes is built whole, by volley, at the first run: connectors
become volley's connection rules (drawn from its keyed streams: the same network on any
number of threads), current sources and one-to-one Poisson inputs become stimuli (other Poisson sources
replay trains drawn before each run), and the
runs after the first go on from where the last stopped. What volley cannot run exactly
raises NotImplementedError with its name; the supported features are listed in
volley's README ("PyNN").

Options of setup() beyond PyNN's: `threads` (CPU threads; default every core or
SLURM_CPUS_PER_TASK) and `seed` (volley's seed of every draw; default 1).
"""

from __future__ import annotations

import math
import numbers

from pyNN import common, errors, random, space  # noqa: F401
from pyNN.common.control import DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.connectors import *  # noqa: F401,F403
from pyNN.network import Network  # noqa: F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import *  # noqa: F401,F403
from pyNN.recording import get_io
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType

from . import simulator
from .random import NativeRNG  # noqa: F401
from .populations import Assembly, Population, PopulationView  # noqa: F401
from .projections import Projection  # noqa: F401
from .standardmodels import *  # noqa: F401,F403


def _copies():
    """How many copies of this script a launcher started (mpirun, srun), from what the
    launchers put in the environment, as volley's core reads it."""
    import os

    sizes = [os.environ.get(v, "") for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS")]
    return max([int(s) for s in sizes if s.strip().isdigit()], default=1)


def setup(timestep=DEFAULT_TIMESTEP, min_delay=DEFAULT_MIN_DELAY, **extra_params):
    """Starts a new network: `timestep` in ms; `threads`, `seed` as volley takes them.
    pyNN.volley runs in one process: started as several (mpirun -np N), it refuses, so
    that no copy reports a part of the network as the whole."""
    copies = _copies()
    if copies > 1:
        raise NotImplementedError(
            f"pyNN.volley runs in one process, not under MPI ({copies} copies of this script were started): run it without "
            "mpirun (its threads: setup(threads=...)), or drive volley's own package (import volley), which runs under mpirun"
        )
    if isinstance(timestep, bool) or not isinstance(timestep, numbers.Real) or not (math.isfinite(timestep) and timestep > 0):
        raise ValueError(f"pyNN.volley: timestep {timestep!r}: expected a time step in ms, a number greater than 0")
    common.setup(timestep, min_delay, **extra_params)
    state = simulator.state
    state.clear()
    state.dt = timestep
    state.min_delay = min_delay
    state.max_delay = extra_params.get("max_delay", "auto")
    state.threads = extra_params.get("threads")
    state.seed = int(extra_params.get("seed", extra_params.get("rng_seed", 1)))
    return rank()


def end(compatible_output=True):
    """Writes what was asked to be written at the end, and lets the simulation go."""
    for population, variables, filename in simulator.state.write_on_end:
        population.write_data(get_io(filename), variables)
    simulator.state.write_on_end = []
    simulator.state.close()
    simulator.state.ended = True


run, run_until = common.build_run(simulator)
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize
get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = common.build_state_queries(simulator)

create = common.build_create(Population)
connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)  # noqa: F405
record = common.build_record(simulator)


def record_v(source, filename):
    return record(["v"], source, filename)


def list_standard_models():
    """The standard cell types pyNN.volley runs."""
    return [obj.__name__ for obj in globals().values() if isinstance(obj, type) and issubclass(obj, StandardCellType) and obj is not StandardCellType]
