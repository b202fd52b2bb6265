#!/usr/bin/env bash
# The microcircuit's activity at full scale, judged as the model's reference data
# recommends (INM-6/microcircuit-PD14-model, PyNEST/reference_data; Dasbach et al. 2021):
# per-neuron rates, ISI CVs and pairwise spike-count correlations over 1 s after 500 ms
# of transient, for several seeds of volley and of NEST 3.10 running the same model; the
# Kolmogorov–Smirnov distances between the simulators' distributions against those among
# each simulator's own seeds, and the mean rates against the published reference.
#
#   benches/peers/microcircuit_stats.sh OUT_DIR [VOLLEY_SEEDS] [NEST_SEEDS]   (default 1,2,3,4,5 and 1,2,3)
#
# NEST at full scale takes ~14.7 GB and, on 2 cores, several minutes per seed; its
# ensemble is kept in OUT_DIR/nest_full.json and reused when present.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "$1")
vseeds=${2:-1,2,3,4,5}
nseeds=${3:-1,2,3}
mkdir -p "$out"
venv=benches/peers/.venv
py=target/pyvenv/bin/python
[ -x "$py" ] || py=python3
cargo build --release --quiet
summaries=()
for seed in ${vseeds//,/ }; do
  target/release/volley run examples/microcircuit.toml --seed "$seed" --duration 1500ms --threads 2 -q \
    --out "$out/volley$seed" --set 'output.raster=""'
  "$py" tests/microcircuit_stats.py summarise "$out/volley$seed/spikes.h5" --t0 500 --t1 1500 > "$out/volley$seed.json"
  rm -f "$out/volley$seed/spikes.h5"
  summaries+=("$out/volley$seed.json")
done
if [ ! -f "$out/nest_full.json" ]; then
  "$venv/bin/python" benches/peers/nest_microcircuit.py --threads 4 --t-presim 500 --t-sim 1000 \
    --seeds "$nseeds" --reference "$out/nest_full.json"
fi
"$venv/bin/python" tests/microcircuit_stats.py ensemble "${summaries[@]}" -- "$out/nest_full.json"
