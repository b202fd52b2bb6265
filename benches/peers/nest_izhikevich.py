"""Izhikevich (2003) network in NEST 3 with net.m's update rule
(izhikevich model, consistent_integration = False), 1 ms resolution.

Usage: nest_izhikevich.py SEED THREADS [N]
Without N: the paper's 1000 neurons, all-to-all. With N: N neurons (4:1), each receiving
a fixed 800 excitatory and 200 inhibitory synapses (volley's examples/izhikevich_sparse.toml).
Prints one line: peer, simulate seconds (nest.Simulate), build seconds, spikes, rates.
"""
import sys
import time

import nest
import numpy as np

rng_seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
n_total = int(sys.argv[3]) if len(sys.argv) > 3 else None
t0 = time.perf_counter()
nest.verbosity = nest.VerbosityLevel.ERROR
nest.ResetKernel()
nest.resolution = 1.0
nest.local_num_threads = threads
nest.rng_seed = rng_seed
Ne, Ni = (800, 200) if n_total is None else (n_total * 4 // 5, n_total // 5)
rng = np.random.default_rng(rng_seed)
re, ri = rng.random(Ne), rng.random(Ni)
common = {"V_th": 30.0, "V_m": -65.0, "consistent_integration": False}
exc = nest.Create("izhikevich", Ne, params=common)
inh = nest.Create("izhikevich", Ni, params=common)
exc.set({"a": [0.02] * Ne, "b": [0.2] * Ne, "c": list(-65 + 15 * re**2), "d": list(8 - 6 * re**2), "U_m": [0.2 * -65.0] * Ne})
b_inh = 0.25 - 0.05 * ri
inh.set({"a": list(0.02 + 0.08 * ri), "b": list(b_inh), "c": [-65.0] * Ni, "d": [2.0] * Ni, "U_m": list(b_inh * -65.0)})
everyone = exc + inh
# Independent Gaussian current per neuron, redrawn every 1 ms step.
noise_exc = nest.Create("noise_generator", params={"mean": 0.0, "std": 5.0, "dt": 1.0})
noise_inh = nest.Create("noise_generator", params={"mean": 0.0, "std": 2.0, "dt": 1.0})
nest.Connect(noise_exc, exc)
nest.Connect(noise_inh, inh)
if n_total is None:
    exc_rule, inh_rule = "all_to_all", "all_to_all"
else:
    exc_rule = {"rule": "fixed_indegree", "indegree": 800}
    inh_rule = {"rule": "fixed_indegree", "indegree": 200}
nest.Connect(exc, everyone, exc_rule, {"weight": nest.random.uniform(0.0, 0.5), "delay": 1.0})
nest.Connect(inh, everyone, inh_rule, {"weight": nest.random.uniform(-1.0, 0.0), "delay": 1.0})
rec = nest.Create("spike_recorder")
nest.Connect(everyone, rec)
build = time.perf_counter() - t0
t1 = time.perf_counter()
nest.Simulate(1000.0)
simulate = time.perf_counter() - t1
senders = rec.get("events")["senders"]
first = everyone[0].global_id
counts = np.bincount(np.asarray(senders) - first, minlength=Ne + Ni)
print(f"nest-{threads}t simulate_s={simulate:.4f} build_s={build:.2f} spikes={int(counts.sum())} exc_hz={counts[:Ne].mean():.2f} inh_hz={counts[Ne:].mean():.2f}")
