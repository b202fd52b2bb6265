"""The paper's own code (Izhikevich 2003, net.m) line by line in numpy.

Usage: net_m_numpy.py SEED
Prints one line: peer, simulate seconds (the 1000-step loop only), spikes, rates.
"""
import sys
import time

import numpy as np

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
rng = np.random.default_rng(seed)
Ne, Ni = 800, 200
N = Ne + Ni
re, ri = rng.random(Ne), rng.random(Ni)
a = np.r_[0.02 * np.ones(Ne), 0.02 + 0.08 * ri]
b = np.r_[0.2 * np.ones(Ne), 0.25 - 0.05 * ri]
c = np.r_[-65 + 15 * re**2, -65 * np.ones(Ni)]
d = np.r_[8 - 6 * re**2, 2 * np.ones(Ni)]
S = np.hstack([0.5 * rng.random((N, Ne)), -rng.random((N, Ni))])
v = -65.0 * np.ones(N)
u = b * v
count = np.zeros(N)

t0 = time.perf_counter()
for t in range(1000):
    I = np.r_[5 * rng.standard_normal(Ne), 2 * rng.standard_normal(Ni)]
    fired = np.flatnonzero(v >= 30)
    count[fired] += 1
    v[fired] = c[fired]
    u[fired] = u[fired] + d[fired]
    I = I + S[:, fired].sum(axis=1)
    v = v + 0.5 * (0.04 * v**2 + 5 * v + 140 - u + I)
    v = v + 0.5 * (0.04 * v**2 + 5 * v + 140 - u + I)
    u = u + a * (b * v - u)
elapsed = time.perf_counter() - t0
print(f"numpy-net.m simulate_s={elapsed:.4f} spikes={int(count.sum())} exc_hz={count[:Ne].mean():.2f} inh_hz={count[Ne:].mean():.2f}")
