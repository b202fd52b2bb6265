"""A notebook session as a script: load a model, run, look, change a current, run on,
and plot the raster with matplotlib. Run it cell by cell in Jupyter, or as it is:
`python examples/python/raster.py` writes raster_python.png."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import volley

here = Path(__file__).resolve().parent
model = volley.Model.load(here.parent / "izhikevich2003.toml", set={"output.spikes": "", "output.raster": ""})
sim = volley.Simulation(model)

# %% 500 ms as the paper has it.
sim.run(500)
times, ids = sim.spikes("exc")
print(f"t = {sim.t:.0f} ms: {len(times)} excitatory spikes, mean v {sim.get('exc', 'v').mean():.1f} mV")

# %% Then 20 excitatory neurons held hyperpolarised for a moment, and 500 ms more.
sim.set("exc", "v", -90.0, ids=range(20))
sim.run(500)

# %% The raster of both runs: exc below, inh above, the change at 500 ms marked.
fig, ax = plt.subplots(figsize=(8, 4))
for pop, first, colour in [("exc", 0, "tab:blue"), ("inh", 800, "tab:red")]:
    t, i = sim.spikes(pop)
    ax.plot(t, i + first, ".", ms=1, color=colour, label=pop)
ax.axvline(500, color="k", lw=0.5)
ax.set(xlabel="time (ms)", ylabel="neuron", xlim=(0, sim.t), title="Izhikevich (2003) from Python")
ax.legend(loc="upper right", markerscale=8)
out = Path.cwd() / "raster_python.png"
fig.savefig(out, dpi=100)
print(f"wrote {out}; exc rate {len(sim.spikes('exc')[0]) / 800 / (sim.t / 1000):.2f} Hz")
sim.close()
