"""NEST's own hpc_benchmark (pynest/examples/hpc_benchmark.py, as the NEST wheel ships
it), run unchanged but for its params: threads, scale and times from the command line,
spikes of the first 1000 excitatory neurons to a scratch directory. Prints the
script's build, presimulation and simulation times and its average rate.

    python nest_hpc_benchmark.py THREADS SCALE PRESIMTIME_MS SIMTIME_MS [static]

With `static`, the E→E synapses are the script's static ones (syn_ex) instead of
stdp_pl_synapse_hom_hpc: the network without plasticity, to compare the neurons and
the static network alone.
"""

import importlib.util
import os
import sys
import tempfile

import nest

threads, scale, presim, sim = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
path = os.path.join(os.path.dirname(nest.__file__), "doc", "examples", "pynest", "hpc_benchmark.py")
spec = importlib.util.spec_from_file_location("hpc_benchmark", path)
hpc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hpc)
if len(sys.argv) > 5 and sys.argv[5] == "static":
    connect = nest.Connect

    def static_connect(pre, post, conn_spec=None, syn_spec=None, **kw):
        if isinstance(syn_spec, dict) and syn_spec.get("synapse_model") == "stdp_pl_synapse_hom_hpc":
            syn_spec = {"synapse_model": "syn_ex"}
        return connect(pre, post, conn_spec, syn_spec, **kw)

    class StaticNest:
        """The nest module as the script sees it, but for Connect."""

        Connect = staticmethod(static_connect)

        def __getattr__(self, name):
            return getattr(nest, name)

        def __setattr__(self, name, value):
            setattr(nest, name, value)

    hpc.nest = StaticNest()
scratch = tempfile.mkdtemp()
hpc.params.update(num_threads=threads, scale=scale, presimtime=presim, simtime=sim, path_name=scratch, log_file=os.path.join(scratch, "log"))
hpc.brunel_params.update(NE=int(9000 * scale), NI=int(2250 * scale), filestem=scratch)
hpc.run_simulation()
print("NEST", nest.__version__, "log:", scratch, file=sys.stderr)
