#!/usr/bin/env python3
"""The Potjans & Diesmann (2014) microcircuit in NEST, built as the published PyNEST code
(INM-6/microcircuit-PD14-model, src/microcircuit/network.py) builds it, from the same
numbers volley's model file is written from (microcircuit_model.derived):

- iaf_psc_exp neurons, initial V_m normal per population ("optimized" V0_type);
- fixed_total_number connections, autapses off, multapses on; weights normal with SD 0.1
  of the mean, redrawn to keep their sign; delays normal, redrawn below 0.05 ms (NEST
  rounds to the 0.1 ms grid, so at least one step);
- one poisson_generator per population at 8 Hz x K_ext, all_to_all, or the DC equivalent;
- a presimulation (the transient) and then the measured simulation.

Prints one line: build_s, presim_s, simulate_s (the measured part), maxrss_kb, rates.

  nest_microcircuit.py [--n-scaling 1] [--k-scaling 1] [--input poisson|dc] [--threads 4]
                       [--seed 55] [--t-presim 500] [--t-sim 1000] [--summary FILE]
                       [--seeds 1,2,3 --reference FILE]

--summary records spikes and writes tests/microcircuit_stats.py's summary of the measured
window; --seeds/--reference runs each seed in turn and writes the ensemble that
`microcircuit_stats.py compare` judges volley against (tests/data/microcircuit_nest_*.json).
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
import microcircuit_model as mm  # noqa: E402
import microcircuit_stats as stats  # noqa: E402

import nest  # noqa: E402

DELAY_POISSON = 1.5  # ms (network_params.py: delay of the Poisson generators)


def build(n_scaling, k_scaling, background, threads, seed, record):
    d = mm.derived(n_scaling, k_scaling, background)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.set(resolution=mm.DT, local_num_threads=threads, rng_seed=seed, print_time=False)
    pops, recorders = [], []
    for i, _ in enumerate(mm.POPULATIONS):
        p = nest.Create("iaf_psc_exp", d["sizes"][i])
        p.set(
            tau_m=mm.NEURON["tau_m"], C_m=mm.NEURON["C_m"], E_L=mm.NEURON["E_L"], V_th=mm.NEURON["V_th"],
            V_reset=mm.NEURON["V_reset"], t_ref=mm.NEURON["t_ref"], tau_syn_ex=mm.NEURON["tau_syn"],
            tau_syn_in=mm.NEURON["tau_syn"], I_e=d["dc"][i],
            V_m=nest.random.normal(mean=mm.V0_MEAN[i], std=mm.V0_STD[i]),
        )
        pops.append(p)
        if record:
            r = nest.Create("spike_recorder")
            nest.Connect(p, r)
            recorders.append(r)
    if background == "poisson":
        for i, p in enumerate(pops):
            g = nest.Create("poisson_generator", params={"rate": mm.BG_RATE * d["ext_indegrees"][i]})
            nest.Connect(g, p, "all_to_all", {"weight": d["psc_ext"], "delay": DELAY_POISSON})
    for t, target in enumerate(pops):
        for s, source in enumerate(pops):
            n = d["synapses"][t][s]
            if n == 0:
                continue
            mean = d["psc"][t][s]
            w_min, w_max = (0.0, np.inf) if mean > 0 else (-np.inf, 0.0)
            delay = mm.DELAY_INH_MEAN if s % 2 else mm.DELAY_EXC_MEAN
            nest.Connect(
                source, target,
                {"rule": "fixed_total_number", "N": n, "allow_autapses": False, "allow_multapses": True},
                {
                    "synapse_model": "static_synapse",
                    "weight": nest.math.redraw(nest.random.normal(mean=mean, std=abs(mean) * mm.WEIGHT_REL_STD), min=w_min, max=w_max),
                    "delay": nest.math.redraw(nest.random.normal(mean=delay, std=delay * mm.DELAY_REL_STD), min=mm.DT * 0.5, max=np.inf),
                },
            )
    return d, pops, recorders


def run(a, seed):
    record = a.summary is not None or a.reference is not None
    t = time.perf_counter()
    d, pops, recorders = build(a.n_scaling, a.k_scaling, a.input, a.threads, seed, record)
    nest.Prepare()  # NEST's own set-up of the connection tables belongs to the build
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    nest.Run(a.t_presim)
    presim_s = time.perf_counter() - t
    t = time.perf_counter()
    nest.Run(a.t_sim)
    sim_s = time.perf_counter() - t
    nest.Cleanup()
    t1 = a.t_presim + a.t_sim
    summary = None
    rates = []
    if record:
        spikes, sizes = {}, {}
        for name, p, r in zip(mm.POPULATIONS, pops, recorders):
            ev = r.get("events")
            spikes[name] = (np.asarray(ev["times"], float), np.asarray(ev["senders"], np.int64) - p[0].global_id)
            sizes[name] = len(p)
        summary = stats.summarise(spikes, sizes, a.t_presim, t1)
        rates = [f"{k}={v['mean_rate_hz']:.3f}" for k, v in summary["populations"].items()]
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    synapses = nest.num_connections
    print(f"nest seed={seed} threads={a.threads} build_s={build_s:.2f} presim_s={presim_s:.2f} simulate_s={sim_s:.2f} "
          f"bio_s={a.t_sim / 1000:g} connections={synapses} maxrss_kb={maxrss} {' '.join(rates)}", flush=True)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-scaling", type=float, default=1.0)
    ap.add_argument("--k-scaling", type=float, default=1.0)
    ap.add_argument("--input", choices=["poisson", "dc"], default="poisson")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("--t-presim", type=float, default=500.0)
    ap.add_argument("--t-sim", type=float, default=1000.0)
    ap.add_argument("--summary")
    ap.add_argument("--seeds")
    ap.add_argument("--reference")
    a = ap.parse_args()
    if a.reference:
        seeds = [int(s) for s in a.seeds.split(",")]
        ensemble = []
        for seed in seeds:
            summary = run(a, seed)
            summary["seed"] = seed
            ensemble.append(summary)
        out = {
            "simulator": f"NEST {nest.__version__} (PyPI nest-simulator)",
            "command": "benches/peers/nest_microcircuit.py " + " ".join(sys.argv[1:]),
            "n_scaling": a.n_scaling, "k_scaling": a.k_scaling, "input": a.input,
            "t0_ms": a.t_presim, "t1_ms": a.t_presim + a.t_sim,
            "seeds": ensemble,
        }
        with open(a.reference, "w") as f:
            json.dump(out, f)
    else:
        summary = run(a, a.seed)
        if a.summary:
            with open(a.summary, "w") as f:
                json.dump(summary, f)


if __name__ == "__main__":
    main()
