"""Reads a volley spike file with h5py alone and checks the SONATA spike layout, then
reads it with libsonata (the field's reader) and checks that it sees the same spikes.

Usage: check_sonata.py SPIKES.h5 POP=SIZE [POP=SIZE ...]
Prints one line per population; exits non-zero with a message on any mismatch.
"""
import sys

import h5py
import libsonata
import numpy as np

path, expected = sys.argv[1], dict(a.split("=") for a in sys.argv[2:])
seen = {}
with h5py.File(path, "r") as f:
    # Provenance: what the run was, readable as plain attributes.
    assert int(f.attrs["seed"]) >= 0 and "[simulation]" in f.attrs["model"], "provenance"
    assert int(f.attrs["magic"]) == 0x0A7A, f.attrs["magic"]
    assert list(f.attrs["version"]) == [0, 1], f.attrs["version"]
    pops = sorted(f["spikes"].keys())
    assert pops == sorted(expected), (pops, expected)
    for name in pops:
        g = f["spikes"][name]
        sorting = g.attrs["sorting"]
        mapping = h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype)
        assert mapping == {"none": 0, "by_id": 1, "by_time": 2}, mapping
        assert int(sorting) == 2, sorting
        ts, ids = g["timestamps"], g["node_ids"]
        assert ts.dtype == np.float64 and ids.dtype == np.uint64, (ts.dtype, ids.dtype)
        units = ts.attrs["units"]
        units = units.decode() if isinstance(units, bytes) else units
        assert units == "ms", units
        t, i = ts[()], ids[()]
        assert len(t) == len(i) > 0
        assert np.all(t <= float(f.attrs["duration_ms"])), "spikes beyond duration_ms"
        seen[name] = (t, i)
        assert np.all(np.diff(t) >= 0), "timestamps not sorted by time"
        assert i.max() < int(expected[name]), "node id outside the population"
        print(f"{name}: {len(t)} spikes, first at {t[0]} ms, sorting=by_time, units=ms")

reader = libsonata.SpikeReader(path)
assert sorted(reader.get_population_names()) == sorted(seen), reader.get_population_names()
for name, (t, i) in seen.items():
    pop = reader[name]
    assert pop.sorting == "by_time", pop.sorting
    spikes = pop.get()
    assert [s[0] for s in spikes] == [int(x) for x in i], f"{name}: libsonata's node ids differ from h5py's"
    assert [s[1] for s in spikes] == [float(x) for x in t], f"{name}: libsonata's times differ from h5py's"
    print(f"{name}: libsonata reads the same {len(spikes)} spikes")
