"""The five-current Hodgkin-Huxley-type model of examples/hh_five_current.toml in Brian2,
C++ standalone mode: the same equations, units, initial values (v = -80*r mV, h gates 1,
m gates 0) and step current (0 pA for 50 ms, then 18 pA).

Usage: brian2_hh.py METHOD THREADS N DURATION_MS [DT_MS]
METHOD is Brian2's integration method: rk4 or exponential_euler.
Prints one line: peer, method, simulate seconds (Brian2's own main-loop timer), total
seconds including code generation and compilation, spikes, mean rate.
"""
import sys
import tempfile
import time

from brian2 import (NeuronGroup, SpikeMonitor, TimedArray, defaultclock, device, mV, ms, nS, pA, pF,
                    prefs, run, seed, set_device)

method = sys.argv[1]
threads = int(sys.argv[2])
n = int(sys.argv[3])
duration_ms = float(sys.argv[4])
dt_ms = float(sys.argv[5]) if len(sys.argv) > 5 else 0.01
t_start = time.perf_counter()
build_dir = tempfile.mkdtemp(prefix="brian2-hh-")
set_device("cpp_standalone", directory=build_dir, build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = threads
seed(1)
defaultclock.dt = dt_ms * ms

Cm = 4 * pF
g_naf, g_nas, g_kv, g_ka, g_ks, g_l = 140 * nS, 12 * nS, 6 * nS, 58.1 * nS, 8.11 * nS, 0.39 * nS
E_na, E_k, E_l = 58 * mV, -81 * mV, -65 * mV
# 0 pA for 50 ms, then 18 pA.
I_step = TimedArray([0, 18] * pA, dt=50 * ms)

equations = """
dv/dt = (I_step(t) - i_naf - i_nas - i_kv - i_ks - i_ka - g_l*(v - E_l))/Cm : volt
i_ka = g_ka*mka**3*hka*(v - E_k) : amp
i_ks = g_ks*mks**3*hks*(v - E_k) : amp
i_kv = g_kv*mkv**4*(v - E_k) : amp
i_nas = g_nas*mnas**3*hnas*(v - E_na) : amp
i_naf = g_naf*mnaf**3*hnaf*(v - E_na) : amp
dhka/dt = (1/(1+exp((v/mV+74.7)/7)) - hka)/(ms*(2.5 + ((90-2.5)/(1+exp((v/mV-52)/15)))/(1+exp((v/mV+62)/16)))) : 1
dmka/dt = (1/(1+exp((-20.1-v/mV)/16.1)) - mka)/(ms*(0.35 + ((1.65-0.35)/(1+exp((v/mV-20)/20)))/(1+exp((v/mV+20)/12)))) : 1
dhks/dt = (1/(1+exp((v/mV+74.7)/7)) - hks)/(ms*(150 + (200-150)/(1+exp((v/mV-52)/15)))) : 1
dmks/dt = (1/(1+exp((-20.1-v/mV)/16.1)) - mks)/(ms*(0.5 + (5.0-0.5)/(1+exp((v/mV-20)/20)))) : 1
dmkv/dt = (1/(1+exp((-37.6-v/mV)/27.24)) - mkv)/(ms*(1.85 + (3.53-1.85)/(1+exp((v/mV-45)/13.71)))) : 1
dhnas/dt = (1/(1+exp((v/mV+51.4)/5.9)) - hnas)/(ms*(1.9 + (12.24-1.9)/(1+exp((v/mV+32.6)/8.0)))) : 1
dmnas/dt = (1/(1+exp((-30.1-v/mV)/6.65)) - mnas)/(ms*(0.093 + (0.83-0.093)/(1+exp((v/mV+20.3)/6.45)))) : 1
dhnaf/dt = (1/(1+exp((v/mV+51.4)/5.9)) - hnaf)/(ms*(0.12 + (1.66-0.12)/(1+exp((v/mV+8.03)/8.69)))) : 1
dmnaf/dt = (1/(1+exp((-30.1-v/mV)/6.65)) - mnaf)/(ms*(0.093 + (0.83-0.093)/(1+exp((v/mV+20.3)/6.45)))) : 1
"""
# A spike is an upward crossing of -20 mV, counted once (re-armed below threshold).
G = NeuronGroup(n, equations, threshold="v > -20*mV", refractory="v > -20*mV", method=method)
G.v = "-80*rand()*mV"
G.hka = G.hks = G.hnas = G.hnaf = 1
G.mka = G.mks = G.mkv = G.mnas = G.mnaf = 0
spikes = SpikeMonitor(G)
run(duration_ms * ms)
device.build(directory=build_dir, compile=True, run=True, debug=False)
total = time.perf_counter() - t_start
# Brian2's standalone main loop timer (seconds spent in the network's run).
simulate = device._last_run_time
print(
    f"brian2 method={method} threads={threads} n={n} duration_ms={duration_ms} dt_ms={dt_ms} "
    f"simulate_s={simulate:.3f} total_s={total:.3f} spikes={spikes.num_spikes} "
    f"rate_hz={spikes.num_spikes / n / (duration_ms / 1000):.3f}"
)
