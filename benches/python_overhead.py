"""What driving volley from Python costs (benches/python_overhead.sh runs it).

  python benches/python_overhead.py network N    build examples/izhikevich_sparse.toml at
                                                 N neurons in Python, run 1 s (no files)
  python benches/python_overhead.py calls K      the 2003 network: K runs of 1 ms against
                                                 one run of K ms; the difference per call
  python benches/python_overhead.py pynn K       pyNN.volley: 4,000 IF_cond_exp cells, 20
                                                 drawn Poisson sources, ~330,000 synapses
                                                 listed by PyNN; K runs of 1 ms (trains
                                                 drawn ahead), then one run after a rate
                                                 change (trains drawn again: a model change)
"""
import sys
import time
from pathlib import Path

import volley

ROOT = Path(__file__).resolve().parents[1]
what, n = sys.argv[1], int(sys.argv[2])
if what == "network":
    t0 = time.perf_counter()
    sets = {"population.exc.size": n * 4 // 5, "population.inh.size": n // 5, "output.spikes": "", "output.raster": ""}
    model = volley.Model.load(ROOT / "examples" / "izhikevich_sparse.toml", set=sets)
    sim = volley.Simulation(model, threads=2)
    t1 = time.perf_counter()
    sim.run(1000)
    t2 = time.perf_counter()
    spikes = len(sim.spikes()[0])
    sim.close()
    print(f"build {t1 - t0:.3f} s, run {t2 - t1:.3f} s, {spikes} spikes")
elif what == "calls":
    model = volley.Model.load(ROOT / "examples" / "izhikevich2003.toml", set={"output.spikes": "", "output.raster": ""})
    best = {}
    for label, runs, length in (("one", 1, n), ("many", n, 1)):
        times = []
        for _ in range(5):
            with volley.Simulation(model, threads=1) as sim:
                t0 = time.perf_counter()
                for _ in range(runs):
                    sim.run(length)
                times.append(time.perf_counter() - t0)
                assert sim.t == n
        best[label] = min(times)
    per_call = (best["many"] - best["one"]) / (n - 1)
    print(f"one run of {n} ms: {best['one'] * 1e3:.2f} ms; {n} runs of 1 ms: {best['many'] * 1e3:.2f} ms; "
          f"overhead per run call: {per_call * 1e6:.1f} us (best of 5)")
elif what == "pynn":
    import pyNN.volley as sim
    from pyNN.random import NumpyRNG

    sim.setup(timestep=0.1, threads=1)
    cells = sim.Population(4000, sim.IF_cond_exp())
    sources = sim.Population(20, sim.SpikeSourcePoisson(rate=10.0))
    rng = NumpyRNG(seed=1)
    sim.Projection(cells, cells, sim.FixedProbabilityConnector(0.02, rng=rng), sim.StaticSynapse(weight=0.004, delay=0.2))
    sim.Projection(sources, cells, sim.FixedProbabilityConnector(0.1, rng=rng), sim.StaticSynapse(weight=0.004, delay=0.2))
    t0 = time.perf_counter()
    sim.run(1.0)
    t1 = time.perf_counter()
    for _ in range(n):
        sim.run(1.0)
    t2 = time.perf_counter()
    sources.set(rate=20.0)
    sim.run(1.0)
    t3 = time.perf_counter()
    sim.end()
    print(f"build and first 1 ms run {t1 - t0:.3f} s; {n} runs of 1 ms: {(t2 - t1) / n * 1e3:.2f} ms each; "
          f"a 1 ms run after a rate change (trains drawn, the model changed): {t3 - t2:.3f} s")

