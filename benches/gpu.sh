#!/usr/bin/env bash
# The GPU backend's runs, for a machine with a GPU (the device tool's one script): the
# sparse example at 10^6 neurons x 1000 stored synapses (1 s), the five-current HH
# population at 50,000 neurons (100 ms at dt 0.01 ms), the HH network (500 ms) and the
# Potjans–Diesmann microcircuit at full scale (1 s), each
# on the GPU and, for the ratio, on the CPU threads of the same machine; each line gives
# volley's summary (real-time factor) and /usr/bin/time's peak memory and wall time.
# (10^7 x 1000 procedural waits for procedural rows on the GPU: refused today.)
#
#   benches/gpu.sh [SCALE]   SCALE divides the network sizes (CI and lavapipe: 100)
#
# Without a hardware adapter the runs go to a software driver (lavapipe) if installed:
# software-driver figures, labelled as such by the adapter named in each summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
cargo build --release --quiet
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); scale 1/$scale"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/# GPU: /'
run() { # backend, model, duration, sets...
  local backend=$1 model=$2 duration=$3 log
  shift 3
  log=$(mktemp)
  if /usr/bin/time -v target/release/volley run "examples/$model" -q --backend "$backend" --out "$(mktemp -d)" \
      --duration "$duration" "$@" >"$log" 2>&1; then
    echo "$backend $model $duration $*: $(grep '^volley:' "$log") | $(grep '^phases' "$log" | sed 's/.*| //') | peak $(grep 'Maximum resident' "$log" | awk '{printf "%.2f GB", $6 / 1e6}'), wall $(grep 'Elapsed' "$log" | awk '{print $NF}')"
  else
    echo "$backend $model $duration $*: FAILED: $(grep -v '^\s' "$log" | tail -3 | tr '\n' ' ')"
  fi
}
n=$((1000000 / scale))
for backend in gpu cpu; do
  run "$backend" izhikevich_sparse.toml 1000ms --set population.exc.size=$((n * 4 / 5)) --set population.inh.size=$((n / 5))
  run "$backend" hh_five_current.toml 100ms --set population.cells.size=$((50000 / scale))
  run "$backend" hh_network.toml 500ms
  # The Potjans–Diesmann microcircuit (LIF, Poisson background, ten epochs per ms), full
  # scale at SCALE 1 (published: GeNN 0.27, NEST GPU 0.39 real-time factor on an RTX 4090).
  run "$backend" microcircuit.toml "$((1000 / scale))ms" --set 'output.spikes=""' --set 'output.raster=""'
done
