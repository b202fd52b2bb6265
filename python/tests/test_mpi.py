"""The same script under `mpirun -np 2`: each rank builds and runs its share, and the
spikes gathered to rank 0 (and the spike file the ranks write together) are those of one
process, with state and weights set between runs. Needs OpenMPI's mpirun: a missing mpirun fails the test, it is not skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import volley

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, numpy as np, volley
out = sys.argv[1]
model = volley.Model.load(sys.argv[2], set={"output.dir": out, "simulation.duration": "200 ms", "output.raster": ""})
with volley.Simulation(model, threads=1) as sim:
    sim.run(120)
    sim.set("exc", "v", -70.0, ids=[0, 1, 799])
    # Each rank its own synapses' weights, by synapse: the same network on any ranks.
    sources, targets, w, _ = sim.weights(2)
    sim.set_weights(2, np.where(sources % 2 == 0, w * 0.5, w))
    sim.run(80)
    times, ids = sim.spikes()
    mine = sim.local_ids("exc")
    v = sim.get("exc", "v")
    assert len(v) == len(mine)
    v_all = sim.get("exc", "v", gather=True)
    local_times, _ = sim.spikes(gather=False)
    np.savez(f"{out}/rank{sim.rank}.npz", times=times, ids=ids, ranks=sim.ranks, first=mine.start, end=mine.stop, local=len(local_times), v_all=v_all)
"""


def test_two_ranks_give_the_spikes_of_one_process(tmp_path):
    mpirun = shutil.which("mpirun")
    assert mpirun, "mpirun not found: install openmpi-bin (scripts/setup.sh does)"
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    model = ROOT / "examples" / "izhikevich2003.toml"
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    run = subprocess.run([mpirun, "-np", "2", "--oversubscribe", sys.executable, str(script), str(tmp_path / "two"), str(model)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "one"), str(model)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    one, rank0, rank1 = (np.load(tmp_path / p) for p in ("one/rank0.npz", "two/rank0.npz", "two/rank1.npz"))
    assert int(rank0["ranks"]) == 2 and int(one["ranks"]) == 1
    # Each rank holds a share of the neurons; together, the population.
    assert int(rank0["first"]) == 0 and int(rank0["end"]) == int(rank1["first"]) and int(rank1["end"]) == 800
    assert int(rank0["local"]) > 0 and int(rank1["local"]) > 0
    # Gathered on rank 0: one process's spikes, bit for bit; none on rank 1.
    assert len(one["times"]) > 1000
    np.testing.assert_array_equal(rank0["times"], one["times"])
    np.testing.assert_array_equal(rank0["ids"], one["ids"])
    assert len(rank1["times"]) == 0
    # State gathered on rank 0: every neuron's, in id order, as one process has it.
    assert len(one["v_all"]) == 800
    np.testing.assert_array_equal(rank0["v_all"], one["v_all"])
    assert len(rank1["v_all"]) == 0
    # The spike file the two ranks wrote together holds the same spikes.
    a, b = volley.read_spikes(tmp_path / "one" / "spikes.h5"), volley.read_spikes(tmp_path / "two" / "spikes.h5")
    for pop in ("exc", "inh"):
        np.testing.assert_array_equal(a[pop][0], b[pop][0])
        np.testing.assert_array_equal(a[pop][1], b[pop][1])
