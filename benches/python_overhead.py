"""What driving volley from Python costs (benches/python_overhead.sh runs it).

  python benches/python_overhead.py network N    build examples/izhikevich_sparse.toml at
                                                 N neurons in Python, run 1 s (no files)
  python benches/python_overhead.py calls K      the 2003 network: K runs of 1 ms against
                                                 one run of K ms; the difference per call
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
