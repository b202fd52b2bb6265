"""A network built with bmtk's NetworkBuilder, run by volley and by NEST from the same
files (issue 30's acceptance).

Builds, in DIR: population `cortex` (300 nest:iaf_psc_alpha nodes of two node types, each
with its own dynamics_params), population `delta` (200 nest:iaf_psc_delta nodes), and
100 virtual nodes `thalamus` driven by a SONATA spike file; random edges with per-edge
weights and delays. Runs `volley run simulation_config.json`, then NEST 3.10 (PyPI's
wheel has no SONATA reader: the files are read with h5py, the network made with
nest.Create and nest.Connect from arrays). Checks: node and edge counts identical; each
population's spike count within 2%; the first 50 ms of spikes identical in time and id.

usage: python sonata_bmtk.py VOLLEY DIR
"""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
from bmtk.builder import NetworkBuilder
from bmtk.utils.reports.spike_trains import SpikeTrains

VOLLEY, DIR = sys.argv[1], sys.argv[2]
DT, TSTOP = 0.1, 1000.0
NET, COMP = os.path.join(DIR, "network"), os.path.join(DIR, "components")
for d in (NET, COMP, os.path.join(DIR, "inputs")):
    os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(7)

# Node types: NEST's parameter names, per type.
params = {
    "exc_a.json": {"tau_m": 10.0, "C_m": 250.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "t_ref": 2.0, "tau_syn_ex": 0.5, "tau_syn_in": 0.5, "I_e": 350.0},
    "exc_b.json": {"tau_m": 20.0, "C_m": 200.0, "E_L": -65.0, "V_th": -50.0, "V_reset": -68.0, "t_ref": 3.0, "tau_syn_ex": 1.0, "tau_syn_in": 1.0, "I_e": 120.0},
    "delta.json": {"tau_m": 15.0, "C_m": 250.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "t_ref": 2.0, "I_e": 200.0},
}
os.makedirs(os.path.join(COMP, "cell_models"), exist_ok=True)
for name, p in params.items():
    with open(os.path.join(COMP, "cell_models", name), "w") as f:
        json.dump(p, f)
os.makedirs(os.path.join(COMP, "synaptic_models"), exist_ok=True)
with open(os.path.join(COMP, "synaptic_models", "static.json"), "w") as f:
    json.dump({}, f)

cortex = NetworkBuilder("cortex")
cortex.add_nodes(N=200, model_type="point_neuron", model_template="nest:iaf_psc_alpha", dynamics_params="exc_a.json", ei="e")
cortex.add_nodes(N=100, model_type="point_neuron", model_template="nest:iaf_psc_alpha", dynamics_params="exc_b.json", ei="e2")
delta = NetworkBuilder("delta")
delta.add_nodes(N=200, model_type="point_neuron", model_template="nest:iaf_psc_delta", dynamics_params="delta.json", ei="i")
thalamus = NetworkBuilder("thalamus")
thalamus.add_nodes(N=100, model_type="virtual", ei="e")


def sometimes(p):
    return lambda source, target: int(rng.random() < p)


def weights(low, high):
    return lambda source, target: float(np.round(rng.uniform(low, high), 3))


def delays(low, high):
    # On the grid of 0.1 ms, from one step to `high`.
    return lambda source, target: float(np.round(rng.uniform(low, high), 1))


def connect(net, source, target, p, w, d):
    cm = net.add_edges(source=source.nodes(), target=target.nodes(), connection_rule=sometimes(p), model_template="static_synapse", dynamics_params="static.json")
    cm.add_properties("syn_weight", rule=weights(*w), dtypes=float)
    cm.add_properties("delay", rule=delays(*d), dtypes=float)


connect(cortex, cortex, cortex, 0.05, (20.0, 60.0), (0.5, 3.0))
connect(cortex, delta, cortex, 0.05, (-120.0, -40.0), (0.5, 2.0))
connect(delta, cortex, delta, 0.05, (0.2, 0.8), (1.0, 4.0))
connect(delta, delta, delta, 0.05, (-1.0, -0.2), (0.5, 2.0))
connect(thalamus, thalamus, cortex, 0.2, (40.0, 100.0), (1.0, 5.0))
connect(thalamus, thalamus, delta, 0.2, (0.5, 1.5), (1.0, 5.0))
for net in (cortex, delta, thalamus):
    net.build()
    net.save(output_dir=NET)

# Poisson trains of 15 Hz on the grid (bmtk's SpikeTrains writes the SONATA file).
trains = SpikeTrains(population="thalamus")
for node in range(100):
    times = np.unique(np.round(np.cumsum(rng.exponential(1000.0 / 15.0, 40)), 1))
    times = times[(times > 0) & (times < TSTOP)]
    trains.add_spikes(node_ids=node, timestamps=times)
trains.to_sonata(os.path.join(DIR, "inputs", "thalamus_spikes.h5"))

circuit = {
    "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network", "$COMPONENTS_DIR": "$BASE_DIR/components"},
    "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/cell_models", "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
    "networks": {
        "nodes": [{"nodes_file": f"$NETWORK_DIR/{n}_nodes.h5", "node_types_file": f"$NETWORK_DIR/{n}_node_types.csv"} for n in ("cortex", "delta", "thalamus")],
        "edges": [
            {"edges_file": f"$NETWORK_DIR/{s}_{t}_edges.h5", "edge_types_file": f"$NETWORK_DIR/{s}_{t}_edge_types.csv"}
            for s, t in (("cortex", "cortex"), ("cortex", "delta"), ("delta", "cortex"), ("delta", "delta"), ("thalamus", "cortex"), ("thalamus", "delta"))
        ],
    },
}
simulation = {
    "manifest": {"$BASE_DIR": "${configdir}", "$OUTPUT_DIR": "$BASE_DIR/output"},
    "network": "circuit_config.json",
    "run": {"dt": DT, "tstop": TSTOP},
    "inputs": {"thalamus_spikes": {"input_type": "spikes", "module": "sonata", "input_file": "$BASE_DIR/inputs/thalamus_spikes.h5", "node_set": "thalamus"}},
    "output": {"output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5"},
}
with open(os.path.join(DIR, "circuit_config.json"), "w") as f:
    json.dump(circuit, f, indent=2)
with open(os.path.join(DIR, "simulation_config.json"), "w") as f:
    json.dump(simulation, f, indent=2)

# volley, from the simulation config.
run = subprocess.run([VOLLEY, "run", os.path.join(DIR, "simulation_config.json"), "--threads", "2"], capture_output=True, text=True)
assert run.returncode == 0, run.stdout + run.stderr
print(run.stdout)


def read_spikes(path, population):
    with h5py.File(path, "r") as f:
        g = f["spikes"][population]
        return np.asarray(g["timestamps"][()], dtype=float), np.asarray(g["node_ids"][()], dtype=np.int64)


volley_spikes = {p: read_spikes(os.path.join(DIR, "output", "spikes.h5"), p) for p in ("cortex", "delta")}

# NEST from the same files.
import nest  # noqa: E402

nest.set_verbosity("M_ERROR")
nest.ResetKernel()
nest.resolution = DT
nest.local_num_threads = 1
ids, sizes = {}, {}
for name in ("cortex", "delta", "thalamus"):
    with h5py.File(os.path.join(NET, f"{name}_nodes.h5"), "r") as f:
        types = f["nodes"][name]["node_type_id"][()]
    table = [line.split() for line in open(os.path.join(NET, f"{name}_node_types.csv")) if line.strip()]
    header, rows = table[0], {int(r[0]): dict(zip(table[0], r)) for r in table[1:]}
    gids = np.zeros(len(types), dtype=np.int64)
    for t in np.unique(types):
        row = rows[int(t)]
        where = np.nonzero(types == t)[0]
        if row["model_type"] == "virtual":
            with h5py.File(os.path.join(DIR, "inputs", "thalamus_spikes.h5"), "r") as f:
                ts, ns = f["spikes"]["thalamus"]["timestamps"][()], f["spikes"]["thalamus"]["node_ids"][()]
            nodes = nest.Create("spike_train_injector", len(where))
            for k, node in enumerate(where):
                nodes[k].set(spike_times=np.sort(ts[ns == node]).tolist())
        else:
            with open(os.path.join(COMP, "cell_models", row["dynamics_params"])) as f:
                nodes = nest.Create(row["model_template"].replace("nest:", ""), len(where), params=json.load(f))
        gids[where] = nodes.tolist()
    ids[name], sizes[name] = gids, len(types)

edge_count = 0
for s, t in (("cortex", "cortex"), ("cortex", "delta"), ("delta", "cortex"), ("delta", "delta"), ("thalamus", "cortex"), ("thalamus", "delta")):
    with h5py.File(os.path.join(NET, f"{s}_{t}_edges.h5"), "r") as f:
        g = f["edges"][f"{s}_to_{t}"]
        src, tgt = g["source_node_id"][()], g["target_node_id"][()]
        w, d = g["0"]["syn_weight"][()], g["0"]["delay"][()]
    edge_count += len(src)
    nest.Connect(ids[s][src], ids[t][tgt], "one_to_one", syn_spec={"weight": w, "delay": d})
recorders = {}
for name in ("cortex", "delta"):
    recorders[name] = nest.Create("spike_recorder")
    nest.Connect(nest.NodeCollection(sorted(ids[name].tolist())), recorders[name])
nest.Simulate(TSTOP)
assert nest.num_connections == edge_count + 500, (nest.num_connections, edge_count)

# volley's counts of nodes and edges, from `volley check`.
check = subprocess.run([VOLLEY, "check", os.path.join(DIR, "simulation_config.json")], capture_output=True, text=True)
assert check.returncode == 0, check.stdout + check.stderr
print(check.stdout)
assert f"neurons {sum(sizes.values())}, synapses {edge_count}," in check.stdout, (sum(sizes.values()), edge_count, check.stdout)

for name in ("cortex", "delta"):
    events = recorders[name].events
    back = {int(g): k for k, g in enumerate(ids[name])}
    nest_t, nest_i = np.asarray(events["times"], dtype=float), np.array([back[int(g)] for g in events["senders"]], dtype=np.int64)
    vt, vi = volley_spikes[name]
    print(f"{name}: volley {len(vt)} spikes, NEST {len(nest_t)}")
    assert len(nest_t) > 200, f"{name} fires in NEST: {len(nest_t)}"
    assert abs(len(vt) - len(nest_t)) <= 0.02 * len(nest_t), f"{name}: volley {len(vt)} spikes, NEST {len(nest_t)}"
    full_a, full_b = sorted(zip(np.round(vt, 6), vi)), sorted(zip(np.round(nest_t, 6), nest_i))
    first = next((k for k, (x, y) in enumerate(zip(full_a, full_b)) if x != y), min(len(full_a), len(full_b)))
    print(f"{name}: the same spikes up to {full_a[first][0] if first < len(full_a) else 'the end'} ms ({first} spikes)")
    early = lambda t, i: sorted(zip(np.round(t[t <= 50.0], 6), i[t <= 50.0]))
    a, b = early(vt, vi), early(nest_t, nest_i)
    assert len(a) > 20, f"{name}: {len(a)} spikes in the first 50 ms"
    assert a == b, f"{name}: the first 50 ms differ: volley {a[:10]}..., NEST {b[:10]}..."
print("ok")
