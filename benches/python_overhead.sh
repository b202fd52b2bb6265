#!/usr/bin/env bash
# The Python package against the CLI on the same model (BENCHMARKS.md, "Python"):
# examples/izhikevich_sparse.toml at N neurons (default 100,000; 10^8 synapses), built and
# run for 1 s on 2 threads, no files, by `volley run` and by a Python script, alternately,
# each with /usr/bin/time -v (wall and peak memory); then the cost of one `Simulation.run`
# call (the 2003 network, 1 ms runs). Needs the package installed in target/pyvenv
# (scripts/test.sh does it) and target/release/volley.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
python=${VOLLEY_PYTHON:-target/pyvenv/bin/python}
lscpu | grep -m1 "Model name"
for round in 1 2 3 4 5; do
  /usr/bin/time -v target/release/volley run examples/izhikevich_sparse.toml -q --threads 2 \
    --set population.exc.size=$((n * 4 / 5)) --set population.inh.size=$((n / 5)) \
    --set output.spikes='""' --set output.raster='""' 2>/tmp/volley_cli.time >/tmp/volley_cli.out
  echo "cli    round $round: $(grep -E 'Elapsed' /tmp/volley_cli.time | awk '{print $NF}') wall, $(grep Maximum /tmp/volley_cli.time | awk '{print $NF}') kB peak"
  /usr/bin/time -v "$python" benches/python_overhead.py network "$n" 2>/tmp/volley_py.time >/tmp/volley_py.out
  echo "python round $round: $(grep -E 'Elapsed' /tmp/volley_py.time | awk '{print $NF}') wall, $(grep Maximum /tmp/volley_py.time | awk '{print $NF}') kB peak ($(cat /tmp/volley_py.out))"
done
"$python" benches/python_overhead.py calls 1000
