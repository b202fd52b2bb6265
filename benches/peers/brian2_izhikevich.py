"""Izhikevich (2003) network in Brian2, C++ standalone mode, with net.m's update rule.

Usage: brian2_izhikevich.py SEED THREADS [N]
Without N: the paper's 1000 neurons, all-to-all. With N: N neurons (4:1) where each
source draws a fixed number of targets (800 excitatory + 200 inhibitory per
excitatory source, likewise per inhibitory one), so that each neuron receives 800 + 200
synapses on average (Brian2's connect() draws per source, not per target).
Prints one line: peer, simulate seconds (Brian2's own main-loop timer), total seconds
including code generation and compilation, spikes, rates.
"""
import sys
import tempfile
import time

from brian2 import NeuronGroup, SpikeMonitor, Synapses, defaultclock, device, ms, prefs, run, seed, set_device

rng_seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
n_total = int(sys.argv[3]) if len(sys.argv) > 3 else None
t_start = time.perf_counter()
# Generated code goes to a temporary directory, never into the repository.
build_dir = tempfile.mkdtemp(prefix="brian2-izh-")
set_device("cpp_standalone", directory=build_dir, build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = threads
seed(rng_seed)
defaultclock.dt = 1 * ms
Ne, Ni = (800, 200) if n_total is None else (n_total * 4 // 5, n_total // 5)
G = NeuronGroup(
    Ne + Ni,
    """v : 1
       u : 1
       r : 1 (constant)
       I : 1
       a : 1 (constant)
       b : 1 (constant)
       c : 1 (constant)
       d : 1 (constant)
       sigma : 1 (constant)""",
    threshold="v >= 30",
    reset="v = c; u += d",
)
# net.m's step: the same noisy I for both half steps of v, then u; I is cleared after.
G.run_regularly(
    """I_total = I + sigma*randn()
       v += 0.5*(0.04*v**2 + 5*v + 140 - u + I_total)
       v += 0.5*(0.04*v**2 + 5*v + 140 - u + I_total)
       u += a*(b*v - u)
       I = 0""",
    when="groups",
)
exc, inh = G[:Ne], G[Ne:]
G.r = "rand()"  # one r per neuron for all its parameters, as net.m's re and ri
exc.a, exc.b, exc.sigma = 0.02, 0.2, 5.0
exc.c = "-65 + 15*r**2"
exc.d = "8 - 6*r**2"
inh.a = "0.02 + 0.08*r"
inh.b = "0.25 - 0.05*r"
inh.c, inh.d, inh.sigma = -65.0, 2.0, 2.0
G.v = -65.0
G.u = "b*v"
S = Synapses(G, G, "w : 1", on_pre="I += w")
if n_total is None:
    S.connect()
else:
    # Every source draws 800 excitatory and 200 inhibitory targets, without replacement.
    S.connect(j=f"k for k in sample(0, {Ne}, size=800)")
    S.connect(j=f"k for k in sample({Ne}, {Ne + Ni}, size=200)")
S.w["i < Ne"] = "0.5*rand()"
S.w["i >= Ne"] = "-rand()"
mon = SpikeMonitor(G)
run(1000 * ms)
device.build(directory=build_dir, run=True, compile=True)
total = time.perf_counter() - t_start
counts = mon.count[:]
print(
    f"brian2-{threads}t simulate_s={device._last_run_time:.4f} total_s={total:.2f} spikes={int(counts.sum())} "
    f"exc_hz={counts[:Ne].mean():.2f} inh_hz={counts[Ne:].mean():.2f}"
)
