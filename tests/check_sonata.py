"""Reads a volley spike file with h5py alone and checks the SONATA spike layout.

Usage: check_sonata.py SPIKES.h5 POP=SIZE [POP=SIZE ...]
Prints one line per population; exits non-zero with a message on any mismatch.
"""
import sys

import h5py
import numpy as np

path, expected = sys.argv[1], dict(a.split("=") for a in sys.argv[2:])
with h5py.File(path, "r") as f:
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
        assert np.all(np.diff(t) >= 0), "timestamps not sorted by time"
        assert i.max() < int(expected[name]), "node id outside the population"
        print(f"{name}: {len(t)} spikes, first at {t[0]} ms, sorting=by_time, units=ms")
