#!/usr/bin/env python3
"""Writes the Potjans & Diesmann (2014) cortical microcircuit as a volley model file.

Every number is the published model's, from its parameter files: INM-6/microcircuit-PD14-model
(PyNEST/src/microcircuit/network_params.py, parameter_definitions.py, helpers.py) and NEST's
former examples/Potjans_2014. Derived quantities are computed here as the published code
computes them:

- synapses per projection K = ln(1 - p) / ln((N_pre N_post - 1) / (N_pre N_post)) from the
  full-scale sizes, times N_scaling * K_scaling (helpers.num_synapses_from_conn_probs);
- PSC amplitude from the 0.15 mV PSP (helpers.postsynaptic_potential_to_current): 87.81 pA;
  g = -4 for inhibitory sources, the L4E -> L2/3E weight doubled, relative SD 0.1, redrawn
  to keep the sign;
- delays normal, 1.5 +- 0.75 ms (excitatory) and 0.75 +- 0.375 ms (inhibitory), redrawn
  below the resolution;
- background: Poisson at 8 Hz times K_ext per neuron, or its DC equivalent
  (helpers.dc_input_compensating_poisson);
- with in-degrees scaled (K_scaling != 1): weights / sqrt(K_scaling) and the DC
  compensation of helpers.adjust_weights_and_input_to_synapse_scaling, from the full-scale
  mean rates;
- initial voltages normal, population-specific ("optimized" V0_type).

Usage: microcircuit_model.py [--n-scaling 1] [--k-scaling 1] [--input poisson|dc]
                             [--duration-ms 1000] [--seed 55] [--out FILE]
"""

import argparse
import math
import sys

POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
FULL_NUM_NEURONS = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]
# Full-scale mean rates (Hz), for the compensation when in-degrees are scaled.
FULL_MEAN_RATES = [0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829]
# Connection probabilities, first index the target, second the source.
CONN_PROBS = [
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
]
PSP_EXC_MEAN = 0.15  # mV
WEIGHT_REL_STD = 0.1
G = -4.0
DELAY_EXC_MEAN, DELAY_INH_MEAN, DELAY_REL_STD = 1.5, 0.75, 0.5  # ms
K_EXT = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]
BG_RATE = 8.0  # Hz
NEURON = dict(E_L=-65.0, V_th=-50.0, V_reset=-65.0, C_m=250.0, tau_m=10.0, tau_syn=0.5, t_ref=2.0)
V0_MEAN = [-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43]
V0_STD = [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48]
DT = 0.1  # ms


def psc_over_psp(c_m, tau_m, tau_syn):
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / c_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac**tau_m - frac**tau_syn))


def num_synapses(p, n_post, n_pre):
    prod = float(n_post) * float(n_pre)
    return math.log(1.0 - p) / math.log((prod - 1.0) / prod)


def derived(n_scaling=1.0, k_scaling=1.0, background="poisson"):
    """The model's numbers at a scale, as the published code derives them: population sizes,
    synapse counts [target][source], PSC amplitudes [target][source] and of the background
    (pA), the background's in-degrees and each population's DC (pA). Shared by the volley
    model file written here and the NEST script (nest_microcircuit.py)."""
    n = len(POPULATIONS)
    sizes = [int(round(x * n_scaling)) for x in FULL_NUM_NEURONS]
    full_synapses = [[num_synapses(CONN_PROBS[t][s], FULL_NUM_NEURONS[t], FULL_NUM_NEURONS[s]) for s in range(n)] for t in range(n)]
    synapses = [[int(round(full_synapses[t][s] * n_scaling * k_scaling)) for s in range(n)] for t in range(n)]
    ext_indegrees = [int(round(k * k_scaling)) for k in K_EXT]
    factor = psc_over_psp(NEURON["C_m"], NEURON["tau_m"], NEURON["tau_syn"])
    psp = [[PSP_EXC_MEAN * (G if s % 2 else 1.0) for s in range(n)] for t in range(n)]
    psp[0][2] = 2.0 * PSP_EXC_MEAN
    psc = [[x * factor for x in row] for row in psp]
    psc_ext = PSP_EXC_MEAN * factor
    dc = [BG_RATE * K_EXT[t] * psc_ext * NEURON["tau_syn"] * 0.001 if background == "dc" else 0.0 for t in range(n)]
    if k_scaling != 1.0:
        for t in range(n):
            indegrees = [full_synapses[t][s] / FULL_NUM_NEURONS[t] for s in range(n)]
            recurrent = sum(psc[t][s] * indegrees[s] * FULL_MEAN_RATES[s] for s in range(n))
            dc[t] += 0.001 * NEURON["tau_syn"] * (1.0 - math.sqrt(k_scaling)) * recurrent
            if background == "poisson":
                dc[t] += 0.001 * NEURON["tau_syn"] * (1.0 - math.sqrt(k_scaling)) * psc_ext * K_EXT[t] * BG_RATE
        psc = [[x / math.sqrt(k_scaling) for x in row] for row in psc]
        psc_ext /= math.sqrt(k_scaling)
    return dict(sizes=sizes, synapses=synapses, psc=psc, psc_ext=psc_ext, ext_indegrees=ext_indegrees, dc=dc)


def model(n_scaling=1.0, k_scaling=1.0, background="poisson", duration_ms=1000.0, seed=55):
    n = len(POPULATIONS)
    d = derived(n_scaling, k_scaling, background)
    sizes, synapses, psc, psc_ext = d["sizes"], d["synapses"], d["psc"], d["psc_ext"]
    ext_indegrees, dc = d["ext_indegrees"], d["dc"]
    out = []
    w = out.append
    w("# The Potjans & Diesmann (2014) cortical microcircuit: 8 populations of LIF neurons")
    w("# (iaf_psc_exp) in layers 2/3, 4, 5 and 6, excitatory and inhibitory.")
    w("# Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit: relating")
    w("# structure and activity in a full-scale spiking network model. Cereb Cortex 24:785-806.")
    w("# Numbers from the published parameter files (INM-6/microcircuit-PD14-model, PyNEST;")
    w("# NEST's former examples/Potjans_2014), derived as that code derives them: written by")
    w(f"# benches/peers/microcircuit_model.py --n-scaling {n_scaling} --k-scaling {k_scaling} --input {background}")
    w(f"# --duration-ms {duration_ms:g} --seed {seed}. Regenerate rather than edit: scaling neurons and")
    w("# in-degrees changes synapse counts, weights and the DC compensation together.")
    w("")
    w("[simulation]")
    w(f'dt = "{DT} ms"')
    w(f'duration = "{duration_ms:g} ms"')
    w(f"seed = {seed}")
    w("")
    w("[output]")
    w('dir = "out/microcircuit"')
    w('raster = "raster.png"')
    for i, name in enumerate(POPULATIONS):
        w("")
        w("[[population]]")
        w(f'name = "{name}"')
        w(f"size = {sizes[i]}")
        w('model = "iaf_psc_exp"')
        w("[population.parameters]")
        w(f"tau_m = {NEURON['tau_m']}")
        w(f"c_m = {NEURON['C_m']}")
        w(f"e_l = {NEURON['E_L']}")
        w(f"v_th = {NEURON['V_th']}")
        w(f"v_reset = {NEURON['V_reset']}")
        w(f"t_ref = {NEURON['t_ref']}")
        w(f"tau_syn_ex = {NEURON['tau_syn']}")
        w(f"tau_syn_in = {NEURON['tau_syn']}")
        w(f"i_e = {dc[i]!r}")
        w("[population.initial]")
        w(f'v = "{V0_MEAN[i]} + {V0_STD[i]}*probit(r)"')
    if background == "poisson":
        for i, name in enumerate(POPULATIONS):
            w("")
            w("[[stimulus]]")
            w(f'population = "{name}"')
            w('kind = "poisson"')
            w(f"rate = {BG_RATE}")
            w(f"indegree = {ext_indegrees[i]}")
            w(f"weight = {psc_ext!r}")
    for t in range(n):
        for s in range(n):
            if synapses[t][s] == 0:
                continue
            mean = psc[t][s]
            std = abs(mean) * WEIGHT_REL_STD
            # Redrawn to keep the sign (the published `redraw` with min or max 0); the far
            # side bounded 10 SD out (reached with probability 1e-23) so that the weight
            # has the finite range its 16-bit code needs.
            bound = f"min = 0.0, max = {mean + 10 * std!r}" if mean > 0 else f"min = {mean - 10 * std!r}, max = 0.0"
            delay = DELAY_INH_MEAN if s % 2 else DELAY_EXC_MEAN
            w("")
            w("[[projection]]")
            w(f'source = "{POPULATIONS[s]}"')
            w(f'target = "{POPULATIONS[t]}"')
            w(f'connection = {{ rule = "fixed_total_number", n = {synapses[t][s]}, autapses = false }}')
            w(f'weight = {{ distribution = "normal", mean = {mean!r}, std = {std!r}, {bound}, redraw = true }}')
            w(f'delay = {{ distribution = "normal", mean = "{delay} ms", std = "{delay * DELAY_REL_STD} ms" }}')
            w('storage = "compact"')
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-scaling", type=float, default=1.0)
    ap.add_argument("--k-scaling", type=float, default=1.0)
    ap.add_argument("--input", choices=["poisson", "dc"], default="poisson")
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    text = model(a.n_scaling, a.k_scaling, a.input, a.duration_ms, a.seed)
    if a.out == "-":
        sys.stdout.write(text)
    else:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
