"""Reads a volley SONATA report with h5py alone and checks its layout, then with
libsonata (the field's reader) and checks that it sees the same values; with a spike
file and a peak, checks that the samples show each recorded spike: the sample at a
spike's time (the state before the next step) is at or above the peak, and no other.

Usage: check_report.py REPORT.h5 POPULATION START STOP STEP IDS [SPIKES.h5 PEAK]
IDS: population-local ids, comma-separated. Prints a line; exits non-zero on mismatch.
"""
import sys

import h5py
import libsonata
import numpy as np

path, pop, start, stop, step, ids = sys.argv[1:7]
start, stop, step = float(start), float(stop), float(step)
ids = [int(i) for i in ids.split(",")]
rows = int(round((stop - start) / step))

with h5py.File(path, "r") as f:
    assert "[simulation]" in f.attrs["model"], "provenance"
    g = f["report"][pop]
    data = g["data"][()]
    assert data.dtype == np.float32, data.dtype
    assert data.shape == (rows, len(ids)), (data.shape, rows, len(ids))
    assert isinstance(g["data"].attrs["units"], str) and g["data"].attrs["units"], g["data"].attrs["units"]
    m = g["mapping"]
    assert list(m["node_ids"][()]) == ids, (list(m["node_ids"][()]), ids)
    assert m["node_ids"].dtype == np.uint64
    assert list(m["index_pointers"][()]) == list(range(len(ids) + 1)), list(m["index_pointers"][()])
    assert not m["element_ids"][()].any()
    assert list(m["time"][()]) == [start, stop, step], (list(m["time"][()]), [start, stop, step])
    assert m["time"].attrs["units"] == "ms"
    assert float(f.attrs["duration_ms"]) >= stop, f.attrs["duration_ms"]

reader = libsonata.ElementReportReader(path)
assert reader.get_population_names() == [pop] or pop in reader.get_population_names()
population = reader[pop]
assert tuple(population.times) == (start, stop, step), population.times
assert sorted(population.get_node_ids()) == ids, population.get_node_ids()
frame = population.get()
got = np.array(frame.data)
assert got.shape == data.shape, (got.shape, data.shape)
assert np.array_equal(got, data), "libsonata and h5py disagree"
assert [i for i, _ in frame.ids] == ids, frame.ids
assert np.allclose(frame.times, start + step * np.arange(rows)), frame.times[:5]

if len(sys.argv) > 7:
    spikes, peak = sys.argv[7], float(sys.argv[8])
    with h5py.File(spikes, "r") as f:
        s = f["spikes"][pop]
        ts, nodes = s["timestamps"][()], s["node_ids"][()]
    times = start + step * np.arange(rows)
    shown = 0
    for column, node in enumerate(ids):
        spike_times = ts[nodes == node]
        for t in spike_times:
            k = (t - start) / step
            if 0 <= k < rows and abs(k - round(k)) < 1e-9:
                assert data[int(round(k)), column] >= peak, (node, t, data[int(round(k)), column])
                shown += 1
        at_peak = times[data[:, column] >= peak]
        for t in at_peak:
            assert np.any(np.abs(spike_times - t) < 1e-9), (node, t, "a peak without a spike")
    assert shown > 0, "no recorded spike fell on a sample"
    print(f"{pop}: libsonata reads the same {rows} x {len(ids)} samples; {shown} spikes shown at their peak")
else:
    print(f"{pop}: libsonata reads the same {rows} x {len(ids)} samples")
