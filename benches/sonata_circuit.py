"""Writes a SONATA circuit for the read benchmark (benches/sonata_read.sh): N
nest:iaf_psc_delta nodes (one node type, driven just above rheobase by I_e), K random
inputs each (N·K edges, sorted by target as bmtk writes them), per-edge weights and
delays, with or without indices/target_to_source, and a simulation config of T ms.

usage: python sonata_circuit.py DIR N K T [--no-index]
"""

import json
import os
import sys

import h5py
import numpy as np

out, n, k, tstop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
index = "--no-index" not in sys.argv
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1)
with open(os.path.join(out, "cell.json"), "w") as f:
    json.dump({"I_e": 380.0, "t_ref": 2.0}, f)
with open(os.path.join(out, "net_node_types.csv"), "w") as f:
    f.write("node_type_id model_type model_template dynamics_params\n100 point_neuron nest:iaf_psc_delta cell.json\n")
with open(os.path.join(out, "net_net_edge_types.csv"), "w") as f:
    f.write("edge_type_id model_template\n100 static_synapse\n")
with h5py.File(os.path.join(out, "net_nodes.h5"), "w") as f:
    g = f.create_group("nodes/net")
    g["node_id"] = np.arange(n, dtype=np.uint64)
    g["node_type_id"] = np.full(n, 100, dtype=np.uint64)
    g["node_group_id"] = np.zeros(n, dtype=np.uint32)
    g["node_group_index"] = np.arange(n, dtype=np.uint64)
    g.create_group("0")
m = n * k
with h5py.File(os.path.join(out, "net_net_edges.h5"), "w") as f:
    g = f.create_group("edges/net_to_net")
    targets = np.repeat(np.arange(n, dtype=np.uint64), k)
    s = g.create_dataset("source_node_id", data=rng.integers(0, n, m, dtype=np.uint64))
    t = g.create_dataset("target_node_id", data=targets)
    s.attrs["node_population"] = "net"
    t.attrs["node_population"] = "net"
    g["edge_type_id"] = np.full(m, 100, dtype=np.uint32)
    g["edge_group_id"] = np.zeros(m, dtype=np.uint16)
    g["edge_group_index"] = np.arange(m, dtype=np.uint32)
    g["0/syn_weight"] = np.round(rng.uniform(-0.6, 0.5, m), 3)
    g["0/delay"] = np.round(rng.uniform(0.5, 5.0, m), 1)
    if index:
        starts = np.arange(n, dtype=np.uint64) * k
        g["indices/target_to_source/node_id_to_ranges"] = np.stack([np.arange(n, dtype=np.uint64), np.arange(1, n + 1, dtype=np.uint64)], axis=1)
        g["indices/target_to_source/range_to_edge_id"] = np.stack([starts, starts + k], axis=1)
config = {
    "manifest": {"$BASE": "${configdir}"},
    "run": {"dt": 0.1, "tstop": tstop},
    "networks": {
        "nodes": [{"nodes_file": "$BASE/net_nodes.h5", "node_types_file": "$BASE/net_node_types.csv"}],
        "edges": [{"edges_file": "$BASE/net_net_edges.h5", "edge_types_file": "$BASE/net_net_edge_types.csv"}],
    },
    "output": {"output_dir": "$BASE/output", "spikes_file": "spikes.h5"},
}
with open(os.path.join(out, "simulation_config.json"), "w") as f:
    json.dump(config, f, indent=1)
print(f"{n} nodes, {m} edges, index {index}")
