"""The Python package against the CLI and its own files: every function of the API, run
continuation bit for bit, changes between runs taking effect at their step, errors as
exceptions naming the field, NumPy results equal to the SONATA files, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

import volley

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
VOLLEY = os.environ.get("VOLLEY_BIN", str(ROOT / "target" / "release" / "volley"))


def izhikevich(tmp: Path, duration: str = "300 ms", **sets) -> volley.Model:
    return volley.Model.load(EXAMPLES / "izhikevich2003.toml", set={"output.dir": str(tmp), "simulation.duration": duration, **sets})


def cli_run(model: Path, out: Path, *args: str) -> None:
    subprocess.run([VOLLEY, "run", str(model), "--out", str(out), "--threads", "1", *args], check=True, capture_output=True)


def global_spikes(times: np.ndarray, ids: np.ndarray) -> list[tuple[float, int]]:
    return sorted(zip(times.tolist(), ids.tolist()))


# --- loading and building -------------------------------------------------------------


def test_load_reads_the_model_with_its_replacements(tmp_path):
    m = izhikevich(tmp_path, **{"population.exc.size": 400})
    assert m.populations == [("exc", 400, "izhikevich"), ("inh", 200, "izhikevich")]
    assert m.dt == 1.0 and m.duration == 300.0
    assert "size = 400" in m.to_toml()
    assert "izhikevich2003.toml" in repr(m)


def test_a_bad_value_is_an_exception_naming_the_field(tmp_path):
    with pytest.raises(volley.VolleyError) as e:
        izhikevich(tmp_path, **{"population.exc.size": -3})
    assert "population.exc.size" in str(e.value) and e.value.field == "population[0].size", e.value.field
    # A path that names nothing: the path as given.
    with pytest.raises(volley.VolleyError) as e:
        izhikevich(tmp_path, **{"population.gaba.size": 5})
    assert e.value.field == "population.gaba.size", e.value.field
    with pytest.raises(volley.VolleyError, match="cannot read .*no_such.toml") as e:
        volley.Model.load(tmp_path / "no_such.toml")
    assert e.value.file == str(tmp_path / "no_such.toml"), e.value.file


def test_a_model_built_in_python_is_validated_as_a_file(tmp_path):
    m = volley.Model(dt="0.1 ms", duration="50 ms")
    m.population("cells", 10, "iaf_psc_delta", parameters={"tau_m": -1.0})
    with pytest.raises(volley.VolleyError) as e:
        m.check()
    assert e.value.field == "population[0].parameters.tau_m", e.value.field
    assert "<model built in Python>" in str(e.value) and ":1:" not in str(e.value)
    with pytest.raises(TypeError, match=r"population\[0\].parameters.x"):
        volley.Model().population("p", 1, "izhikevich", parameters={"x": object()}).to_toml()


def two_thousand_three_in_python() -> volley.Model:
    """examples/izhikevich2003.toml, written in Python."""
    m = volley.Model(dt="1 ms", duration="300 ms", seed=1)
    m.population("exc", 800, "izhikevich", noise_std=5.0,
                 parameters={"a": 0.02, "b": 0.2, "c": "-65 + 15*r^2", "d": "8 - 6*r^2", "v_peak": 30},
                 initial={"v": -65, "u": "b*v"})
    m.population("inh", 200, "izhikevich", noise_std=2.0,
                 parameters={"a": "0.02 + 0.08*r", "b": "0.25 - 0.05*r", "c": -65, "d": 2, "v_peak": 30},
                 initial={"v": -65, "u": "b*v"})
    for source, target, weight in [("exc", "exc", "0.5*u"), ("exc", "inh", "0.5*u"), ("inh", "exc", "-u"), ("inh", "inh", "-u")]:
        m.projection(source, target, connection={"rule": "all_to_all", "autapses": source == target}, weight=weight, delay="1 ms")
    return m


def test_the_2003_network_built_in_python_runs_as_the_file(tmp_path):
    with volley.Simulation(two_thousand_three_in_python(), threads=1) as built, volley.Simulation(izhikevich(tmp_path), threads=2) as loaded:
        built.run()
        loaded.run()
        for pop in ("exc", "inh"):
            a, b = built.spikes(pop), loaded.spikes(pop)
            assert len(a[0]) > 100
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])


# --- running on ---------------------------------------------------------------------


def test_runs_of_100_and_100_ms_are_one_run_of_200_ms_byte_for_byte(tmp_path):
    cli_run(EXAMPLES / "izhikevich2003.toml", tmp_path / "cli", "--duration", "200ms")
    with volley.Simulation(izhikevich(tmp_path / "py", "200 ms"), threads=2) as sim:
        sim.run(100)
        assert sim.t == 100.0 and sim.step == 100
        sim.run("100 ms")
        times, ids = sim.spikes()
        v = sim.get("exc", "v")
    whole = volley.Simulation(izhikevich(tmp_path / "whole", "200 ms"), threads=1)
    whole.run(200)
    np.testing.assert_array_equal(v, whole.get("exc", "v"))  # the state, bit for bit
    np.testing.assert_array_equal(times, whole.spikes()[0])
    whole.close()
    # The files of the two runs hold the datasets of the CLI's one run, byte for byte.
    with h5py.File(tmp_path / "cli" / "spikes.h5") as a, h5py.File(tmp_path / "py" / "spikes.h5") as b:
        for pop in ("exc", "inh"):
            for name in ("timestamps", "node_ids"):
                assert a[f"spikes/{pop}/{name}"][()].tobytes() == b[f"spikes/{pop}/{name}"][()].tobytes()
        assert b.attrs["status"] == "complete"
    # ... and the NumPy arrays are those files' spikes.
    read = volley.read_spikes(tmp_path / "py" / "spikes.h5")
    first = {"exc": 0, "inh": 800}
    from_file = [(t, first[p] + i) for p, (ts, ns) in read.items() for t, i in zip(ts.tolist(), ns.tolist())]
    assert sorted(from_file) == global_spikes(times, ids)
    assert (tmp_path / "py" / "raster.png").stat().st_size > 1000


def test_spikes_of_a_population_are_its_own_ids(tmp_path):
    with volley.Simulation(izhikevich(tmp_path, "100 ms"), threads=1) as sim:
        sim.run()
        t_all, id_all = sim.spikes()
        t_inh, id_inh = sim.spikes("inh")
        assert id_inh.max() < 200 and len(t_inh) == int((id_all >= 800).sum())
        np.testing.assert_array_equal(id_inh, id_all[id_all >= 800] - 800)
        assert np.all(np.diff(t_all) >= 0)
        with pytest.raises(volley.VolleyError, match='no population "nope" .*exc, inh'):
            sim.spikes("nope")


# --- changes between runs -------------------------------------------------------------


def lif(tmp: Path, stimulus: dict) -> volley.Model:
    m = volley.Model(dt="0.1 ms", duration="100 ms")
    m.population("cells", 4, "iaf_psc_delta", parameters={"i_e": 0.0})
    m.stimulus("cells", **stimulus)
    m.output(str(tmp))
    return m


def test_a_changed_stimulus_takes_effect_at_the_step_it_is_changed(tmp_path):
    # A step current from 40 ms against a constant current of 0 changed at 40 ms.
    with volley.Simulation(lif(tmp_path / "a", {"kind": "step", "times": ["40 ms"], "amplitudes": [500.0]})) as planned:
        planned.run(100)
        expected = planned.spikes()
    assert len(expected[0]) > 4 and expected[0].min() > 40.0
    with volley.Simulation(lif(tmp_path / "b", {"kind": "constant", "amplitude": 0.0})) as changed:
        changed.run(40)
        assert len(changed.spikes()[0]) == 0
        changed.change({"stimulus.0.amplitude": 500.0})
        changed.run(60)
        got = changed.spikes()
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_a_changed_parameter_takes_effect_at_the_step_it_is_changed(tmp_path):
    # i_e raised at 40 ms against a step current planned at 40 ms: the same current, the
    # same spikes; the state (v, refractory) carried on through the rebuild.
    with volley.Simulation(lif(tmp_path / "a", {"kind": "step", "times": ["40 ms"], "amplitudes": [500.0]})) as planned:
        planned.run(100)
        expected = planned.spikes()
    with volley.Simulation(lif(tmp_path / "b", {"kind": "constant", "amplitude": 0.0})) as changed:
        changed.run(40)
        changed.set("cells", "v", -60.0, ids=[1])
        planned_v = changed.get("cells", "v")
        changed.change({"population.cells.parameters.i_e": 500.0})
        np.testing.assert_array_equal(changed.get("cells", "v"), planned_v)
        changed.run(60)
        got = changed.spikes()
    assert len(expected[0]) > 4
    # Neuron 1 started from -60 mV at 40 ms: it fires first, the others as planned.
    others = expected[1] != 1
    np.testing.assert_array_equal(got[0][got[1] != 1], expected[0][others])
    assert got[0][got[1] == 1][0] < expected[0][expected[1] == 1][0]
    with volley.Simulation(lif(tmp_path / "c", {"kind": "constant", "amplitude": 0.0})) as sim:
        with pytest.raises(volley.VolleyError, match="tau_m"):
            sim.change({"population.cells.parameters.tau_m": -1.0})
        sim.run(1)


def test_only_stimuli_and_parameters_change_between_runs(tmp_path):
    with volley.Simulation(lif(tmp_path, {"kind": "constant", "amplitude": 0.0})) as sim:
        for path, value in [("population.cells.size", 5), ("simulation.duration", "1 s"), ("output.dir", "elsewhere")]:
            with pytest.raises(volley.VolleyError, match=f"{path} cannot change between runs: only stimuli"):
                sim.change({path: value})
        with pytest.raises(volley.VolleyError) as e:
            sim.change({"stimulus.0.amplitude": "loud"})
        assert "set stimulus.0.amplitude" in str(e.value)
        sim.run(1)  # still runs after a refused change


def test_a_state_set_between_runs_takes_effect_at_the_next_step(tmp_path):
    with volley.Simulation(lif(tmp_path, {"kind": "constant", "amplitude": 0.0})) as sim:
        assert sim.state_names("cells")[0] == "v"
        sim.run(10)
        np.testing.assert_array_equal(sim.get("cells", "v"), np.full(4, -70.0))
        sim.set("cells", "v", -54.0, ids=[2])  # above v_th = -55: fires in the next step
        np.testing.assert_array_equal(sim.get("cells", "v"), [-70.0, -70.0, -54.0, -70.0])
        sim.run(1)
        times, ids = sim.spikes()
        np.testing.assert_allclose(times, [10.1])
        np.testing.assert_array_equal(ids, [2])
        sim.set("cells", "v", [-60.0, -61.0, -62.0, -63.0])
        np.testing.assert_array_equal(sim.get("cells", "v"), [-60.0, -61.0, -62.0, -63.0])
        with pytest.raises(volley.VolleyError, match="no state variable \"w\""):
            sim.get("cells", "w")
        with pytest.raises(volley.VolleyError, match="neuron 9 is not in population"):
            sim.set("cells", "v", 0.0, ids=[9])
        with pytest.raises(volley.VolleyError, match="3 values for 4 neurons"):
            sim.set("cells", "v", [1.0, 2.0, 3.0])


def test_a_report_holds_the_state_get_reads(tmp_path):
    m = izhikevich(tmp_path, "40 ms")
    text = m.to_toml() + '\n[[output.report]]\nfile = "v.h5"\nvariable = "v"\npopulations = ["exc"]\nneurons = { range = [0, 5] }\ninterval = "1 ms"\n'
    (tmp_path / "m.toml").write_text(text)
    with volley.Simulation(volley.Model.load(tmp_path / "m.toml"), threads=1) as sim:
        sim.run(20)
        v_at_20 = sim.get("exc", "v")[:5]
        sim.run(20)
    report = volley.read_report(tmp_path / "v.h5")
    assert report.population == "exc" and report.variable == "v" and report.unit == "mV"
    assert report.values.shape == (40, 5)
    row = int(np.flatnonzero(report.times == 20.0)[0])
    np.testing.assert_array_equal(report.values[row], v_at_20.astype(np.float32))


def test_one_simulation_writes_a_directory_at_a_time(tmp_path):
    with volley.Simulation(izhikevich(tmp_path, "10 ms")) as sim:
        with pytest.raises(volley.VolleyError, match="in use by another volley run"):
            volley.Simulation(izhikevich(tmp_path, "10 ms"))
        sim.run()
    with volley.Simulation(izhikevich(tmp_path, "10 ms")) as again:  # free once closed
        again.run()


def test_reports_warn_when_a_run_goes_past_their_stop(tmp_path):
    text = izhikevich(tmp_path, "20 ms").to_toml() + '\n[[output.report]]\nfile = "v.h5"\nvariable = "v"\nneurons = { range = [0, 2] }\n'
    (tmp_path / "m.toml").write_text(text)
    with volley.Simulation(volley.Model.load(tmp_path / "m.toml")) as sim:
        sim.run(20)
        with pytest.warns(UserWarning, match="reports stop at 20.0 ms"):
            sim.run(5)
    assert volley.read_report(tmp_path / "v.h5").values.shape == (20, 2)


def test_samples_in_memory_are_the_report_s(tmp_path):
    m = izhikevich(tmp_path, "30 ms")
    text = m.to_toml() + '\n[[output.report]]\nfile = "u.h5"\nvariable = "u"\npopulations = ["inh"]\nneurons = { range = [3, 9] }\ninterval = "2 ms"\n'
    (tmp_path / "m.toml").write_text(text)
    with volley.Simulation(volley.Model.load(tmp_path / "m.toml"), threads=2) as sim:
        handle = sim.record("inh", "u", ids=[8, 3, 4, 5, 6, 7], interval="2 ms")
        sim.run(12)
        with pytest.raises(volley.VolleyError, match="before the first run"):
            sim.record("inh", "v")
        sim.run(18)
        times, ids, values = sim.samples(handle)
        with pytest.raises(volley.VolleyError, match="no state variable"):
            volley.Simulation(izhikevich(tmp_path / "x", "1 ms")).record("exc", "w")
    report = volley.read_report(tmp_path / "u.h5")
    np.testing.assert_array_equal(ids, [3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(times, report.times)
    np.testing.assert_array_equal(values, report.values)
    assert values.shape == (15, 6) and times[1] == 2.0


def test_weights_are_the_exported_circuit_s(tmp_path):
    """A projection's synapses as `volley export` writes them (the weights the run holds)."""
    model = izhikevich(tmp_path, "10 ms", **{"population.exc.size": 80, "population.inh.size": 20})
    (tmp_path / "small.toml").write_text(model.to_toml())
    subprocess.run([VOLLEY, "export", str(tmp_path / "small.toml"), "--out", str(tmp_path / "circuit")], check=True, capture_output=True)
    with volley.Simulation(model, threads=2) as sim:
        sources, targets, weights, delays = sim.weights(2)  # inh -> exc
        with pytest.raises(volley.VolleyError, match="no projection 4 .*has 4"):
            sim.weights(4)
    assert len(weights) == 20 * 80 and np.all(weights <= 0) and np.all(delays == 1.0)
    assert np.all(np.diff(targets.astype(np.int64)) >= 0) and sources.max() == 19
    with h5py.File(tmp_path / "circuit" / "edges" / "inh_to_exc.h5") as f:
        group = f["edges/inh_to_exc"]
        np.testing.assert_array_equal(group["source_node_id"][()], sources)
        np.testing.assert_array_equal(group["target_node_id"][()], targets)
        np.testing.assert_array_equal(group["0/syn_weight"][()], weights)


def sparse(tmp: Path, duration: str) -> volley.Model:
    """izhikevich_sparse at 400 + 100 neurons, 80 + 20 synapses each, with excitatory
    delays of 1 to 20 ms (spikes in flight over many steps) and 16-bit weights."""
    text = (EXAMPLES / "izhikevich_sparse.toml").read_text()
    head, tail = text.split("[[projection]]", 1)
    for _ in range(2):  # the excitatory projections come first
        tail = tail.replace('delay = "1 ms"', 'delay = { distribution = "uniform", low = "1 ms", high = "20 ms" }', 1)
    path = tmp.with_suffix(".toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + "[[projection]]" + tail.replace("k = 800", "k = 80").replace("k = 200", "k = 20"))
    sets = {"output.dir": str(tmp), "simulation.duration": duration, "output.raster": "",
            "population.exc.size": 400, "population.inh.size": 100}
    return volley.Model.load(path, set=sets)


def test_weights_set_to_their_own_values_change_nothing(tmp_path):
    """A static projection's synapses given again as data (its store built again, the
    spikes in flight delivered again, 16-bit weights as held) go on bit for bit."""
    with volley.Simulation(sparse(tmp_path / "whole", "300 ms"), threads=3) as whole:
        whole.run(300)
        expected = whole.spikes()
    with volley.Simulation(sparse(tmp_path / "set", "300 ms"), threads=3) as sim:
        sim.run(100)
        for projection in range(4):
            sim.set_weights(projection, sim.weights(projection)[2])
        before = sim.weights(0)
        sim.run(200)
        for held, now in zip(before, sim.weights(0)):
            np.testing.assert_array_equal(held, now)
        got = sim.spikes()
    assert len(expected[0]) > 500
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_weights_set_take_effect_for_the_spikes_arriving_after(tmp_path):
    """Inhibition set to 0 at 100 ms: the spikes to then are the unchanged run's, those
    after as a network built without it (weights set to 0 before the first run equal a
    model whose weight is 0), and weights() reads the new weights back."""
    with volley.Simulation(izhikevich(tmp_path / "a", "200 ms"), threads=2) as sim:
        sim.run(100)
        with pytest.raises(volley.VolleyError, match=r"projection 2: 3 weights given for the 160000 synapses .*one per synapse"):
            sim.set_weights(2, [0.0, 0.0, 0.0])
        with pytest.raises(volley.VolleyError, match=r"projection 2: weight 0 \(neuron 800 onto 0\) is NaN: expected a finite number"):
            sim.set_weights(2, np.full(160000, np.nan))
        sim.set_weights(2, 0.0)
        sim.set_weights(3, np.zeros(200 * 200))
        assert np.all(sim.weights(2)[2] == 0) and len(sim.weights(2)[2]) == 160000
        sim.run(100)
        changed = sim.spikes()
    with volley.Simulation(izhikevich(tmp_path / "b", "200 ms"), threads=1) as sim:
        sim.run(200)
        unchanged = sim.spikes()
    early = changed[0] < 101  # a spike at 100 ms reaches its targets at 101
    assert np.array_equal(changed[0][early], unchanged[0][unchanged[0] < 101])
    assert len(changed[0]) > len(unchanged[0])  # no inhibition: more spikes
    with volley.Simulation(izhikevich(tmp_path / "c", "100 ms"), threads=1) as sim:
        sim.set_weights(2, 0.0)
        sim.set_weights(3, 0.0)
        sim.run(100)
        set_at_0 = sim.spikes()
    no_inhibition = izhikevich(tmp_path / "d", "100 ms", **{"projection.2.weight": 0, "projection.3.weight": 0})
    with volley.Simulation(no_inhibition, threads=2) as sim:
        sim.run(100)
        np.testing.assert_array_equal(sim.spikes()[0], set_at_0[0])
        np.testing.assert_array_equal(sim.spikes()[1], set_at_0[1])


def test_plastic_weights_set_are_where_the_rule_goes_on_from(tmp_path):
    # spnet without its weight snapshots (volley run's).
    text = (EXAMPLES / "spnet.toml").read_text().split("[[output.weights]]")[0]
    (tmp_path / "spnet.toml").write_text(text)
    spnet = {"simulation.duration": "200 ms", "output.raster": ""}
    with volley.Simulation(volley.Model.load(tmp_path / "spnet.toml", set={**spnet, "output.dir": str(tmp_path / "a")}), threads=2) as whole:
        whole.run(200)
        expected = whole.spikes()
    with volley.Simulation(volley.Model.load(tmp_path / "spnet.toml", set={**spnet, "output.dir": str(tmp_path / "b")}), threads=2) as sim:
        sim.run(100)
        sim.set_weights(0, sim.weights(0)[2])
        sim.run(100)
        np.testing.assert_array_equal(sim.spikes()[0], expected[0])
        with pytest.raises(volley.VolleyError, match=r"projection 0: weight 0 .* is 11: a plastic projection's weights must lie within its rule's bounds"):
            sim.set_weights(0, 11.0)
        sim.set_weights(0, 7.5)
        assert np.all(sim.weights(0)[2] == 7.5)
        sim.run(1000)  # past the rule's next update of the weights (every second)
        assert not np.all(sim.weights(0)[2] == 7.5)


# --- Ctrl-C ---------------------------------------------------------------------------


def test_ctrl_c_stops_a_run_that_then_goes_on_exactly(tmp_path):
    model = izhikevich(tmp_path / "stopped", "100000 ms", **{"output.raster": ""})
    sim = volley.Simulation(model, threads=1)
    # Ctrl-C as a terminal sends it, while the run holds no Python thread of ours.
    threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        sim.run(100_000)
    stopped_at = sim.t
    assert 0 < stopped_at < 100_000 and stopped_at % 10 == 0, stopped_at
    sim.run(20)
    times, _ = sim.spikes()
    files = sim.close()
    with h5py.File(files[0]) as f:
        assert f.attrs["status"] == "stopped by a KeyboardInterrupt"
    whole = volley.Simulation(izhikevich(tmp_path / "whole", "100000 ms", **{"output.spikes": "", "output.raster": ""}), threads=1)
    whole.run(stopped_at + 20)
    np.testing.assert_array_equal(times, whole.spikes()[0])
    whole.close()


def test_spikes_need_not_be_kept(tmp_path):
    with volley.Simulation(izhikevich(tmp_path, "50 ms"), keep_spikes=False) as sim:
        sim.run()
        with pytest.raises(volley.VolleyError, match="keeps no spikes in memory"):
            sim.spikes()
    assert len(volley.read_spikes(tmp_path / "spikes.h5")["exc"][0]) > 50


def test_a_closed_simulation_says_so(tmp_path):
    sim = volley.Simulation(izhikevich(tmp_path))
    assert sim.close() == [str(tmp_path / "spikes.h5")]  # nothing run: an empty file, no raster
    assert sim.close() == []
    with pytest.raises(volley.VolleyError, match="closed"):
        sim.run(1)


def test_durations_must_be_whole_steps(tmp_path):
    with volley.Simulation(lif(tmp_path, {"kind": "constant", "amplitude": 0.0})) as sim:
        with pytest.raises(volley.VolleyError, match="whole number of steps of 0.1 ms"):
            sim.run(0.05)
        with pytest.raises(volley.VolleyError, match="duration"):
            sim.run("ten ms")


def test_spike_trains_written_are_replayed_by_a_spike_source(tmp_path):
    """write_spikes makes the SONATA file a spike_source population replays; h5py reads
    it as SONATA lays it out (sorted by time, units ms)."""
    trains = tmp_path / "trains.h5"
    volley.write_spikes(trains, {"input": ([3.0, 1.0, 2.0, 5.0], [1, 0, 2, 1])})
    with h5py.File(trains) as f:
        group = f["spikes/input"]
        assert group["timestamps"].attrs["units"] == "ms"
        np.testing.assert_array_equal(group["timestamps"][()], [1.0, 2.0, 3.0, 5.0])
        np.testing.assert_array_equal(group["node_ids"][()], [0, 2, 1, 1])
    model = volley.Model(dt="0.1 ms", duration="10 ms")
    model.population("input", 3, "spike_source", spikes=str(trains))
    with volley.Simulation(model, threads=1) as sim:
        sim.run()
        times, ids = sim.spikes("input")
    assert list(zip(times.tolist(), ids.tolist())) == [(1.0, 0), (2.0, 2), (3.0, 1), (5.0, 1)]
    # New trains between runs: from the next step on; the spikes before it are not replayed.
    with volley.Simulation(model, threads=2) as sim:
        sim.run(2.5)
        volley.write_spikes(tmp_path / "later.h5", {"input": ([1.0, 2.6, 4.0, 7.5], [2, 0, 0, 1])})
        sim.change({"population.input.spikes": str(tmp_path / "later.h5")})
        sim.run(7.5)
        times, ids = sim.spikes("input")
    assert list(zip(times.tolist(), ids.tolist())) == [(1.0, 0), (2.0, 2), (2.6, 0), (4.0, 0), (7.5, 1)]
    # The same file name written again is read again.
    with volley.Simulation(model, threads=1) as sim:
        sim.run(2.5)
        volley.write_spikes(tmp_path / "later.h5", {"input": ([3.0], [1])})
        sim.change({"population.input.spikes": str(tmp_path / "later.h5")})
        sim.run(2.0)
        volley.write_spikes(tmp_path / "later.h5", {"input": ([6.0], [2])})
        sim.change({"population.input.spikes": str(tmp_path / "later.h5")})
        sim.run(5.5)
        assert sim.spikes("input")[0].tolist() == [1.0, 2.0, 3.0, 6.0]
    with pytest.raises(volley.VolleyError, match="node ids: expected population-local ids from 0, got -1"):
        volley.write_spikes(tmp_path / "bad.h5", {"input": ([1.0], [-1])})
    with pytest.raises(volley.VolleyError, match=r"bad2.h5.*2 timestamps and 1 node ids: expected one id per time"):
        volley.write_spikes(tmp_path / "bad2.h5", {"input": ([1.0, 2.0], [0])})


def test_files_are_written_after_another_hdf5_took_the_global_symbols(tmp_path):
    """NEST's module sets RTLD_GLOBAL and imports h5py, whose own HDF5 then owns the
    process's global symbols: volley's core, imported after, still calls its own."""
    import sys

    script = (f"import nest, volley\nvolley.write_spikes({str(tmp_path / 'a.h5')!r}, {{'p': ([1.0], [0])}})\n"
              f"print(volley.read_spikes({str(tmp_path / 'a.h5')!r})['p'][0].tolist())")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[1.0]"


# --- synapses listed in a file, and what is refused (a battery of bad inputs) ------------


def listed_network(connection: dict, **weights) -> volley.Model:
    m = volley.Model(dt="0.1 ms", duration="200 ms", seed=3)
    m.population("a", 30, "iaf_psc_exp", parameters={"i_e": 400.0}, initial={"v": "-70 + 15*r"})
    m.population("b", 12, "iaf_psc_exp", parameters={"i_e": 370.0})
    m.projection("a", "b", connection=connection, **weights)
    return m


def test_synapses_written_with_write_edges_are_the_list_in_the_model(tmp_path):
    rng = np.random.default_rng(5)
    sources, targets = rng.integers(0, 30, 300), rng.integers(0, 12, 300)
    weights, delays = rng.uniform(20, 80, 300), rng.integers(1, 25, 300) * 0.1
    inline = listed_network({"rule": "list", "sources": sources, "targets": targets}, weight=weights, delay=delays.tolist())
    volley.write_edges(tmp_path / "listed.h5", "a", ("b", 12), sources, targets, weights, delays)
    from_file = listed_network({"rule": "list", "file": tmp_path / "listed.h5"})  # a Path will do
    with volley.Simulation(inline, threads=1) as s1, volley.Simulation(from_file, threads=2) as s2:
        s1.run()
        s2.run()
        assert len(s1.spikes("b")[0]) > 20
        for x, y in zip(s1.spikes(), s2.spikes()):
            assert np.array_equal(x, y)
        for x, y in zip(s1.weights(0), s2.weights(0)):
            assert np.array_equal(x, y)
    # libsonata's reader takes the file, each target's synapses in the order given.
    with h5py.File(tmp_path / "listed.h5") as f:
        g = f["edges/a_to_b"]
        assert g["source_node_id"].attrs["node_population"] == "a" and g["target_node_id"].attrs["node_population"] == "b"
        order = np.argsort(targets, kind="stable")
        assert np.array_equal(g["source_node_id"][:], sources[order])
    for args, message in [
        ((["a"], ("b", 12), [0, 1], [0], 1.0, 1.0), "1 targets for 2 sources"),
        ((["a"], ("b", 12), [0, -1], [0, 1], 1.0, 1.0), "sources: expected population-local ids from 0, got -1"),
        ((["a"], ("b", 12), [0, 1], [0, 12], 1.0, 1.0), "target 1 is 12: expected an id below the target population's size, 12"),
        ((["a"], ("b", 12), [0, 1], [0, 1], [1.0, 2.0, 3.0], 1.0), "3 weights for 2 synapses"),
        ((["a"], ("b", 12), [0.5], [0], 1.0, 1.0), "entry 0 is 0.5: expected a whole number"),
        ((("a", 30), ("b", 12), [0, 30], [0, 1], 1.0, 1.0), "source 1 is 30: expected an id below the source population's size, 30"),
        ((["a"], ("b", 12), [0, 1], [0, 1], [1.0, float("nan")], 1.0), "weight 1 is NaN: expected a finite number"),
        ((["a"], ("b", 12), [0, 1], [0, 1], 1.0, [1.0, 0.0]), "delay 1 is 0 ms: expected a finite time > 0"),
    ]:
        with pytest.raises(volley.VolleyError, match=message):
            volley.write_edges(tmp_path / "bad.h5", args[0] if isinstance(args[0], tuple) else args[0][0], *args[1:])
        assert not (tmp_path / "bad.h5").exists()


def test_a_state_that_leaves_the_finite_numbers_stops_the_runs(tmp_path):
    """As the CLI's run: the spikes and samples kept end with the step the state left the
    finite numbers in (neuron 2, finite, spikes on after it: none of those is kept), the
    files say how the run ended, and no later run goes on from a state of NaN."""
    m = volley.Model(dt="1 ms", duration="100 ms")
    m.population("c", 3, "izhikevich", parameters={"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0})
    m.stimulus("c", kind="constant", amplitude=10.0, neurons={"range": [0, 2]})
    m.stimulus("c", kind="constant", amplitude=10.0, neurons={"range": [2, 3]})
    m.output(str(tmp_path), spikes="spikes.h5")
    with volley.Simulation(m, threads=1) as sim:
        handle = sim.record("c", "v", ids=[2])
        sim.run(50)
        before = len(sim.spikes("c")[0])
        assert before > 0
        with pytest.raises(volley.VolleyError, match="expected finite numbers"):
            sim.set("c", "v", float("nan"), ids=[2])
        with pytest.raises(volley.VolleyError, match="expected finite numbers"):
            sim.set("c", "u", [0.0, float("inf")], ids=[0, 1])
        with pytest.raises(volley.VolleyError, match=r"value 0 is 1e39, beyond the range of f32"):
            sim.set("c", "v", 1e39, ids=[0])
        sim.change({"stimulus.0.amplitude": 1e30})
        with pytest.raises(volley.VolleyError, match=r"v of neuron 0 of 'c' became inf in the step to 51 ms \(step 50\)"):
            sim.run(30)
        times, ids = sim.spikes("c")
        assert len(times) >= before and times.max() <= 51.0, times[-5:]
        sample_times, _, values = sim.samples(handle)
        assert sample_times[-1] == 50.0 and np.isfinite(values).all()
        with pytest.raises(volley.VolleyError, match="the state left the finite numbers"):
            sim.run(10)
    spikes = volley.read_spikes(tmp_path / "spikes.h5")["c"][0]
    assert len(spikes) == len(times) and spikes.max() <= 51.0
    with h5py.File(tmp_path / "spikes.h5") as f:
        assert f.attrs["status"] == "stopped: a state became non-finite at 51 ms"


def test_arguments_out_of_their_range_are_refused_by_name(tmp_path):
    m = izhikevich(tmp_path, duration="10 ms", **{"output.spikes": "", "output.raster": ""})
    cases = [
        (lambda: volley.Simulation(m, threads=-1), "threads: expected a whole number from 1, got -1"),
        (lambda: volley.Simulation(42), "model: expected a volley.Model or the path of a model file, got int"),
    ]
    for call, message in cases:
        with pytest.raises(volley.VolleyError, match=message):
            call()
    sim = volley.Simulation(m, threads=1)
    cases = [
        (lambda: sim.weights(-1), "projection: expected a whole number from 0, got -1"),
        (lambda: sim.samples(-1), "handle: expected a whole number from 0, got -1"),
        (lambda: sim.record("exc", "v", ids=[-1]), "ids: expected population-local ids from 0, got -1"),
        (lambda: sim.record("exc", "v", interval=float("nan")), "interval: expected a whole number of steps"),
        (lambda: sim.set("exc", "v", -60.0, ids=[0.5]), r"ids: entry 0 is 0.5: expected a whole number"),
        (lambda: sim.set("exc", "v", [[1.0, 2.0], [3.0, 4.0]], ids=[0, 1]), r"values: expected one value, or one per neuron"),
        (lambda: sim.run(True), "duration: expected a time in ms"),
        (lambda: sim.run(1e30), r"goes past step 2\^32 - 1"),
        (lambda: sim.change({"population.exc.size": 5}), "change a neuron's state with Simulation.set"),
    ]
    for call, message in cases:
        with pytest.raises(volley.VolleyError, match=message):
            call()
    sim.close()
    assert repr(sim) == "<volley.Simulation, closed>"


def test_write_spikes_refuses_trains_that_cannot_be_replayed(tmp_path):
    for trains, message in [
        ({"a": ([float("nan")], [0])}, "population 'a': time 0 is nan ms: expected finite times from 0 ms"),
        ({"a": ([1.0, -2.0], [0, 1])}, "time 1 is -2.0 ms"),
        ({"a/b": ([1.0], [0])}, r"population 'a/b': expected a name \(a string without '/'\)"),
        ({"": ([1.0], [0])}, "population '': expected a name"),
        ({"a": ([1.0], [2**63])}, "is beyond any population"),
    ]:
        with pytest.raises(volley.VolleyError, match=message):
            volley.write_spikes(tmp_path / "t.h5", trains)
        assert list(tmp_path.iterdir()) == [], "nothing written"
