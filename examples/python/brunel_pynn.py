"""Brunel (2000), case C (asynchronous irregular), in PyNN, run unchanged on NEST and on
volley: `python examples/python/brunel_pynn.py nest` or `... volley`. 4·order excitatory and
order inhibitory IF_curr_alpha neurons (order 2500: 12,500), each with 10% of the others
as inputs and an independent Poisson drive, for 1 s; prints each population's rate over
every neuron, and the times.

Unlike PyNN's examples/brunel.py (downscaled 50-fold with weights 50 times larger, 100 ms,
50 neurons sampled), the rates here are a property of the model, not of a small sample:
what pynn/tests/test_pynn.py compares between simulators. Connections are drawn by each
simulator's own generator (NativeRNG), as at scale they must be."""

import time

import numpy as np
from pyNN.utility import get_simulator

sim, options = get_simulator(("--order", "NE = 4·order, NI = order", {"type": int, "default": 2500}),
                             ("--duration", "ms", {"type": float, "default": 1000.0}),
                             ("--threads", "threads", {"type": int, "default": 2}))

order, epsilon, eta, g, J, delay, dt = options.order, 0.1, 2.0, 5.0, 0.1, 1.5, 0.1
tau_m, tau_syn, cm, theta = 20.0, 0.5, 0.25, 20.0  # ms, ms, nF, mV
NE, NI = 4 * order, order
CE = int(epsilon * NE)

# The current (nA) of an alpha synapse whose PSP peaks at J mV: the PSP of a 1 nA alpha
# current, integrated finely.
t = np.arange(0.0, 10 * tau_m, 0.001)
current = np.e / tau_syn * t * np.exp(-t / tau_syn)
v = np.zeros_like(t)
for k in range(1, len(t)):
    v[k] = v[k - 1] + 0.001 * (-v[k - 1] / tau_m + current[k - 1] / cm)
JE = J / v.max()
JI = -g * JE
nu_thresh = theta / (J * CE * tau_m)  # spikes per ms from one input
p_rate = 1000.0 * eta * nu_thresh * CE  # Hz, the Poisson drive of each neuron

sim.setup(timestep=dt, min_delay=dt, max_delay=delay, threads=options.threads, spike_precision="on_grid")
cell = sim.IF_curr_alpha(tau_m=tau_m, tau_syn_E=tau_syn, tau_syn_I=tau_syn, tau_refrac=2.0, v_rest=0.0, v_reset=10.0,
                         v_thresh=theta, cm=cm, i_offset=0.0)
t0 = time.perf_counter()
E = sim.Population(NE, cell, label="E")
I = sim.Population(NI, cell, label="I")
rng = sim.NativeRNG(seed=12345) if hasattr(sim, "NativeRNG") else None
v_init = sim.RandomDistribution("uniform", low=0.0, high=theta, rng=sim.NumpyRNG(seed=42))
E.initialize(v=v_init)
I.initialize(v=v_init)
drive_E = sim.Population(NE, sim.SpikeSourcePoisson(rate=p_rate), label="drive_E")
drive_I = sim.Population(NI, sim.SpikeSourcePoisson(rate=p_rate), label="drive_I")
connect = sim.FixedProbabilityConnector(epsilon, allow_self_connections=False, rng=rng)
excitatory = sim.StaticSynapse(weight=JE, delay=delay)
inhibitory = sim.StaticSynapse(weight=JI, delay=delay)
for pre, syn, receptor in ((E, excitatory, "excitatory"), (I, inhibitory, "inhibitory")):
    for post in (E, I):
        sim.Projection(pre, post, connect, syn, receptor_type=receptor)
for drive, post in ((drive_E, E), (drive_I, I)):
    sim.Projection(drive, post, sim.OneToOneConnector(), sim.StaticSynapse(weight=JE, delay=dt), receptor_type="excitatory")
E.record("spikes")
I.record("spikes")
sim.run(options.duration)
elapsed = time.perf_counter() - t0
for population in (E, I):
    rate = population.mean_spike_count() * 1000.0 / options.duration
    print(f"{population.label} rate: {rate:.3f} Hz")
print(f"build and run: {elapsed:.2f} s")
sim.end()
