#!/usr/bin/env bash
# The scale runs of the sparse Izhikevich network on this machine, each under
# /usr/bin/time -v (peak memory): 10^6 neurons stored (10^9 synapses, 6 bytes each),
# 10^7 neurons procedural (10^10 synapses, none stored) for 100 ms, and 10^5 neurons both
# ways for 100 ms, to compare rates.
#
#   benches/scale.sh [THREADS]    (default 2; about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
cargo build --release --quiet
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads"
run() { # model, N, duration
  local log
  log=$(mktemp)
  /usr/bin/time -v target/release/volley run "examples/$1" -q --threads "$threads" --out "$(mktemp -d)" --duration "$3" \
    --set population.exc.size=$(($2 * 4 / 5)) --set population.inh.size=$(($2 / 5)) >"$log" 2>&1
  echo "$1 N=$2 $3: $(grep '^volley:' "$log") | /usr/bin/time: $(grep 'Maximum resident' "$log" | awk '{printf "peak %.2f GB", $6 / 1e6}'), wall $(grep 'Elapsed' "$log" | awk '{print $NF}')"
}
run izhikevich_sparse.toml 100000 100ms
run izhikevich_procedural.toml 100000 100ms
run izhikevich_sparse.toml 1000000 1000ms
run izhikevich_procedural.toml 10000000 100ms
