"""Spike statistics of the Potjans & Diesmann microcircuit, as the model's reference-data
analysis defines them (INM-6/microcircuit-PD14-model, PyNEST/reference_data; Dasbach et
al. 2021), computed the same way for volley's SONATA spike files and for NEST's spikes:

- each neuron's time-averaged rate over the analysis window (silent neurons included);
- each neuron's coefficient of variation of its inter-spike intervals (neurons with at
  least three spikes in the window);
- spike-count correlation coefficients between all pairs of a random subsample of each
  population's neurons, counts in 2 ms bins (pairs with a silent neuron left out).

Usage:
  microcircuit_stats.py summarise SPIKES.h5 --t0 MS --t1 MS        (JSON on stdout)
  microcircuit_stats.py compare SUMMARY.json REFERENCE.json        (exit 1 on a mismatch)
  microcircuit_stats.py ensemble SUMMARY.json... -- REFERENCE.json  (the full-scale table)

`compare` judges one realization against an ensemble of the reference simulator's
realizations (REFERENCE.json, written by benches/peers/nest_microcircuit_reference.py):
per population, the mean rate and the mean ISI CV must fall inside the ensemble's 99.9 %
prediction interval for one new realization (Student's t over the seeds), and the
Kolmogorov-Smirnov distance between the per-neuron rate distributions, averaged over the
reference seeds, must not exceed the largest such average among the reference's own
seeds (each against the others) by more than the spread of those averages.
"""
import json
import math
import os
import random
import sys

import numpy as np

POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
SUBSAMPLE, BINSIZE_MS, SUBSAMPLE_SEED = 50, 2.0, 12345
# Two-sided 99.9 % quantiles of Student's t, by degrees of freedom (no scipy in the venv).
T_9995 = {2: 31.60, 3: 12.92, 4: 8.610, 5: 6.869, 6: 5.959, 7: 5.408, 8: 5.041, 9: 4.781,
          10: 4.587, 11: 4.437, 12: 4.318, 14: 4.140, 19: 3.883, 29: 3.659}


def t_quantile(dof):
    keys = sorted(k for k in T_9995 if k <= dof)
    return T_9995[keys[-1]]


def population_statistics(times, ids, size, t0, t1, rng):
    """Rates (Hz, one per neuron), ISI CVs and pairwise count correlations of one population;
    `ids` are 0-based within the population."""
    window = (times >= t0) & (times < t1)
    times, ids = times[window], ids[window].astype(np.int64)
    order = np.lexsort((times, ids))
    times, ids = times[order], ids[order]
    counts = np.bincount(ids, minlength=size)
    rates = counts / ((t1 - t0) * 1e-3)
    starts = np.concatenate(([0], np.cumsum(counts)))
    cvs = []
    for n in np.nonzero(counts >= 3)[0]:
        isi = np.diff(times[starts[n]:starts[n + 1]])
        cvs.append(isi.std() / isi.mean())
    chosen = sorted(rng.sample(range(size), min(SUBSAMPLE, size)))
    bins = np.arange(t0, t1 + BINSIZE_MS / 2, BINSIZE_MS)
    binned = np.array([np.histogram(times[starts[n]:starts[n + 1]], bins)[0] for n in chosen], dtype=float)
    binned = binned[binned.std(axis=1) > 0]
    ccs = []
    if len(binned) >= 2:
        c = np.corrcoef(binned)
        ccs = c[np.triu_indices(len(binned), 1)].tolist()
    return rates, np.array(cvs), np.array(ccs)


def summarise(spikes, sizes, t0, t1):
    """spikes: population -> (times ms, 0-based ids). One JSON-able summary per population:
    means, the per-neuron spike-count histogram (exact: the rate distribution over the
    window), ISI-CV quantiles and the correlation coefficients' mean and SD."""
    rng = random.Random(SUBSAMPLE_SEED)
    out = {"t0_ms": t0, "t1_ms": t1, "populations": {}}
    for pop in POPULATIONS:
        times, ids = spikes[pop]
        rates, cvs, ccs = population_statistics(np.asarray(times, float), np.asarray(ids), sizes[pop], t0, t1, rng)
        counts = np.rint(rates * (t1 - t0) * 1e-3).astype(np.int64)
        out["populations"][pop] = {
            "size": int(sizes[pop]),
            "mean_rate_hz": float(rates.mean()),
            "mean_cv": float(cvs.mean()) if len(cvs) else float("nan"),
            "cv_neurons": int(len(cvs)),
            "mean_cc": float(ccs.mean()) if len(ccs) else float("nan"),
            "sd_cc": float(ccs.std()) if len(ccs) else float("nan"),
            "count_histogram": np.bincount(counts).tolist(),
            "cv_quantiles": np.quantile(cvs, np.linspace(0, 1, 101)).tolist() if len(cvs) else [],
            "cc_quantiles": np.quantile(ccs, np.linspace(0, 1, 101)).tolist() if len(ccs) else [],
        }
    return out


def read_sonata(path):
    """A volley spike file: population -> (times, ids), and the sizes from the model text
    the file carries."""
    import tomllib

    import h5py

    with h5py.File(path, "r") as f:
        model = tomllib.loads(f.attrs["model"])
        sizes = {p["name"]: int(p["size"]) for p in model["population"]}
        spikes = {}
        for pop in POPULATIONS:
            g = f["spikes"].get(pop)
            spikes[pop] = (g["timestamps"][()], g["node_ids"][()]) if g is not None else (np.zeros(0), np.zeros(0, np.int64))
    return spikes, sizes


def ks_counts(h1, h2):
    """Two-sample Kolmogorov-Smirnov distance between two spike-count histograms."""
    n = max(len(h1), len(h2))
    a = np.pad(np.asarray(h1, float), (0, n - len(h1)))
    b = np.pad(np.asarray(h2, float), (0, n - len(h2)))
    return float(np.abs(np.cumsum(a) / a.sum() - np.cumsum(b) / b.sum()).max())


def mean_ks(hist, others):
    return float(np.mean([ks_counts(hist, o) for o in others]))


def compare(summary, reference):
    """Lines of the judgement, and whether every population passed."""
    seeds = reference["seeds"]
    n = len(seeds)
    t = t_quantile(n - 1)
    ok, lines = True, []
    lines.append(f"reference: {reference['simulator']}, {n} seeds, window {reference['t0_ms']}-{reference['t1_ms']} ms; "
                 f"intervals: mean +- t(0.9995, {n - 1}) = {t} x SD x sqrt(1 + 1/{n})")
    for pop in POPULATIONS:
        mine = summary["populations"][pop]
        ref = [s["populations"][pop] for s in seeds]
        for key, label in (("mean_rate_hz", "rate Hz"), ("mean_cv", "ISI CV")):
            values = np.array([r[key] for r in ref])
            values = values[np.isfinite(values)]
            if len(values) < 2:
                continue
            m, sd = values.mean(), values.std(ddof=1)
            half = t_quantile(len(values) - 1) * sd * math.sqrt(1 + 1 / len(values))
            good = abs(mine[key] - m) <= half
            ok &= bool(good)
            lines.append(f"{pop:5} {label:8} {mine[key]:8.4f}  reference {m:8.4f} +- {half:.4f}  {'ok' if good else 'OUTSIDE'}")
        hists = [r["count_histogram"] for r in ref]
        within = [mean_ks(h, hists[:i] + hists[i + 1:]) for i, h in enumerate(hists)]
        bound = max(within) + np.std(within, ddof=1)
        mine_ks = mean_ks(mine["count_histogram"], hists)
        good = mine_ks <= bound
        ok &= bool(good)
        lines.append(f"{pop:5} KS rates {mine_ks:8.4f}  reference seeds among themselves {np.mean(within):.4f} "
                     f"(largest {max(within):.4f}; bound {bound:.4f})  {'ok' if good else 'OUTSIDE'}")
    return lines, ok


def ks_samples(a, b):
    """Two-sample Kolmogorov-Smirnov distance between two samples (here: quantiles)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    x = np.concatenate((a, b))
    return float(np.abs(np.searchsorted(a, x, "right") / len(a) - np.searchsorted(b, x, "right") / len(b)).max())


def ensemble(mine, theirs, published=None):
    """The reference-data distribution test over seeds (Dasbach et al. 2021): per population
    and statistic, the mean KS distance between a realization of each simulator against
    the mean among the reference simulator's own realizations (and among ours); and the
    mean rates over seeds, with the published reference rates where given."""
    lines = [f"{len(mine)} realizations against {len(theirs)}; KS distances: ours-theirs | theirs-theirs | ours-ours"]
    lines.append("| population | rate (Hz), ours | theirs | published | KS rates | KS ISI CV | KS CC |")
    lines.append("|---|---|---|---|---|---|---|")
    stats = (("count_histogram", ks_counts), ("cv_quantiles", ks_samples), ("cc_quantiles", ks_samples))
    for k, pop in enumerate(POPULATIONS):
        a = [m["populations"][pop] for m in mine]
        b = [t["populations"][pop] for t in theirs]
        ra, rb = np.array([x["mean_rate_hz"] for x in a]), np.array([x["mean_rate_hz"] for x in b])
        cells = [f"{ra.mean():.3f} ± {ra.std(ddof=1) if len(ra) > 1 else 0:.3f}",
                 f"{rb.mean():.3f} ± {rb.std(ddof=1) if len(rb) > 1 else 0:.3f}",
                 f"{published[k]:.3f}" if published else "-"]
        for key, ks in stats:
            if any(key not in x for x in a + b):
                cells.append("-")
                continue
            cross = np.nanmean([ks(x[key], y[key]) for x in a for y in b])
            within_b = np.nanmean([ks(x[key], y[key]) for i, x in enumerate(b) for y in b[i + 1:]]) if len(b) > 1 else float("nan")
            within_a = np.nanmean([ks(x[key], y[key]) for i, x in enumerate(a) for y in a[i + 1:]]) if len(a) > 1 else float("nan")
            cells.append(f"{cross:.3f} \\| {within_b:.3f} \\| {within_a:.3f}")
        lines.append(f"| {pop} | " + " | ".join(cells) + " |")
    return lines


def main(argv):
    if len(argv) >= 2 and argv[1] == "summarise":
        path = argv[2]
        opts = dict(zip(argv[3::2], argv[4::2]))
        spikes, sizes = read_sonata(path)
        json.dump(summarise(spikes, sizes, float(opts["--t0"]), float(opts["--t1"])), sys.stdout)
        return 0
    if len(argv) == 4 and argv[1] == "compare":
        with open(argv[2]) as f:
            summary = json.load(f)
        with open(argv[3]) as f:
            reference = json.load(f)
        lines, ok = compare(summary, reference)
        print("\n".join(lines))
        return 0 if ok else 1
    if len(argv) >= 4 and argv[1] == "ensemble":
        # ensemble OURS.json... -- THEIRS.json (a reference file with its seeds)
        split = argv.index("--")
        mine = [json.load(open(p)) for p in argv[2:split]]
        reference = json.load(open(argv[split + 1]))
        # The published full-scale rates, from the script that writes the model.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benches", "peers"))
        from microcircuit_model import FULL_MEAN_RATES as published
        print(f"theirs: {reference['simulator']}, {reference['command']}")
        print("\n".join(ensemble(mine, reference["seeds"], published)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
