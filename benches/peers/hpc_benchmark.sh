#!/usr/bin/env bash
# NEST's hpc_benchmark (the script the NEST 3.10 wheel ships, run by nest_hpc_benchmark.py)
# and examples/hpc_benchmark.toml side by side on this machine: scale 1 (11,250
# iaf_psc_alpha neurons, 126.6 million synapses, E→E stdp_pl_synapse_hom), the script's
# 50 ms presimulation and 250 ms simulation, THREADS threads each; then both again with
# static E→E synapses. Prints each one's time per biological second (NEST's sim_time
# over 250 ms; volley's simulate over 300 ms), peak memory (/usr/bin/time -v), and the
# rate of excitatory neurons 0..999 from 50 to 300 ms (the neurons NEST's script
# records).
#
#   benches/peers/hpc_benchmark.sh [THREADS]      (default 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-2}
venv=benches/peers/.venv
if ! "$venv/bin/python" -c "import nest, scipy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "numpy<2.4" nest-simulator scipy
fi
cargo build --release --quiet --bin volley
py=target/pyvenv/bin/python
[ -x "$py" ] || py="$venv/bin/python"
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $("$venv/bin/python" -c 'import nest; print("NEST", nest.__version__)' 2>/dev/null | tail -1); $threads threads"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rss() { grep "Maximum resident" "$1" | awk '{printf "%.2f GB", $NF / 1048576}'; }
for kind in plastic static; do
  (cd "$work" && /usr/bin/time -v "$OLDPWD/$venv/bin/python" "$OLDPWD/benches/peers/nest_hpc_benchmark.py" "$threads" 1 50 250 \
    $([ $kind = static ] && echo static) > "nest-$kind.log" 2> "nest-$kind.time")
  sim=$(grep "# sim_time" "$work/nest-$kind.log" | awk '{print $2}')
  build=$(grep "# build_edge_time" "$work/nest-$kind.log" | awk '{print $2}')
  dir=$(grep -o "log: [^ ]*" "$work/nest-$kind.time" | cut -d' ' -f2)
  rate=$(cat "$dir"/alpha*.dat | awk 'NR > 3 && $2 > 50 { n++ } END { printf "%.2f", n / 1000 / 0.25 }')
  echo "NEST   $kind: $(awk -v s="$sim" 'BEGIN { printf "%.1f", s / 0.25 }') s per biological second (sim_time $sim s), build $build s, peak $(rss "$work/nest-$kind.time"), E rate $rate Hz"
  model=examples/hpc_benchmark.toml
  if [ $kind = static ]; then
    sed 's/^plasticity = .*$//' "$model" > "$work/static.toml"
    model="$work/static.toml"
  fi
  /usr/bin/time -v target/release/volley run "$model" --threads "$threads" --out "$work/v-$kind" > "$work/v-$kind.log" 2> "$work/v-$kind.time"
  summary=$(grep "^volley:" "$work/v-$kind.log")
  simulate=$(echo "$summary" | grep -o 'simulate [0-9.]* [a-z]*' | awk '{ print ($3 == "ms") ? $2 / 1000 : $2 }')
  vbuild=$(echo "$summary" | grep -o 'build [0-9.]* [a-z]*')
  rate=$("$py" -c "
import h5py, sys
f = h5py.File(sys.argv[1]); t = f['spikes/E/timestamps'][()]; i = f['spikes/E/node_ids'][()]
print(f'{((t > 50) & (i < 1000)).sum() / 1000 / 0.25:.2f}')" "$work/v-$kind/spikes.h5")
  echo "volley $kind: $(awk -v s="$simulate" 'BEGIN { printf "%.2f", s / 0.3 }') s per biological second (simulate $simulate s), $vbuild, peak $(rss "$work/v-$kind.time"), E rate $rate Hz"
done
