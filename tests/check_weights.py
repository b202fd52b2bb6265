"""Reads a volley weight-snapshot file (SONATA edges) with h5py and libsonata and checks
that both see the same edges: python check_weights.py FILE POPULATION SOURCE TARGET
N_EDGES SNAPSHOT_TIMES(comma-separated ms) W_MIN W_MAX. Prints "libsonata reads the same"."""
import sys

import h5py
import libsonata
import numpy as np

path, name, source, target = sys.argv[1:5]
n_edges = int(sys.argv[5])
times = [float(t) for t in sys.argv[6].split(",")]
w_min, w_max = float(sys.argv[7]), float(sys.argv[8])

with h5py.File(path, "r") as f:
    e = f["edges"][name]
    src, tgt = e["source_node_id"][()], e["target_node_id"][()]
    assert e["source_node_id"].attrs["node_population"] == source
    assert e["target_node_id"].attrs["node_population"] == target
    assert len(src) == len(tgt) == n_edges, (len(src), n_edges)
    assert np.all(np.diff(tgt.astype(np.int64)) >= 0), "edges in target order"
    snapshots = e["snapshots/syn_weight"][()]
    got_times = list(e["snapshots/time"][()])
    assert got_times == times, (got_times, times)
    assert snapshots.shape == (len(times), n_edges), snapshots.shape
    assert np.all(snapshots >= w_min) and np.all(snapshots <= w_max), "weights within the rule's bounds"
    assert np.array_equal(e["0/syn_weight"][()], snapshots[-1]), "0/syn_weight is the latest snapshot"
    delay = e["0/delay"][()]
    assert f.attrs["status"] == "complete"

storage = libsonata.EdgeStorage(path)
assert storage.population_names == {name}, storage.population_names
pop = storage.open_population(name)
assert (pop.size, pop.source, pop.target) == (n_edges, source, target)
everything = libsonata.Selection([[0, n_edges]])
assert np.array_equal(pop.source_nodes(everything), src)
assert np.array_equal(pop.target_nodes(everything), tgt)
assert np.array_equal(pop.get_attribute("syn_weight", everything), snapshots[-1])
assert np.array_equal(pop.get_attribute("delay", everything), delay)
# libsonata's own index of a target's edges.
some = pop.afferent_edges([int(tgt[0])])
assert np.all(pop.target_nodes(some) == tgt[0])
print("libsonata reads the same:", n_edges, "edges,", len(times), "snapshots")
