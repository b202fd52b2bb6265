"""The network of Izhikevich (2003) in Python: the model of examples/izhikevich2003.toml,
built field by field, run for 1 s, its spikes as NumPy arrays."""
import volley

m = volley.Model(dt="1 ms", duration="1000 ms", seed=1)
m.population("exc", 800, "izhikevich", noise_std=5.0, initial={"v": -65, "u": "b*v"},
             parameters={"a": 0.02, "b": 0.2, "c": "-65 + 15*r^2", "d": "8 - 6*r^2", "v_peak": 30})
m.population("inh", 200, "izhikevich", noise_std=2.0, initial={"v": -65, "u": "b*v"},
             parameters={"a": "0.02 + 0.08*r", "b": "0.25 - 0.05*r", "c": -65, "d": 2, "v_peak": 30})
for source, target, weight in [("exc", "exc", "0.5*u"), ("exc", "inh", "0.5*u"), ("inh", "exc", "-u"), ("inh", "inh", "-u")]:
    m.projection(source, target, connection={"rule": "all_to_all", "autapses": source == target}, weight=weight, delay="1 ms")

with volley.Simulation(m) as sim:
    sim.run()
    for pop, size in [("exc", 800), ("inh", 200)]:
        times, ids = sim.spikes(pop)
        print(f"{pop}: {len(times)} spikes, {len(times) / size / 1.0:.2f} Hz")
