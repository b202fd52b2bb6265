#!/usr/bin/env bash
# Threads balanced by measurement (`--rebalance`): a network whose equal-count cut leaves
# one thread most of the work, run with the first cut kept (never) and with the measured
# re-cut (auto), alternating, ROUNDS times each, so that both see the same moments of a
# shared machine. The network: the sparse Izhikevich example (8000 + 2000 neurons) with
# 3200 more excitatory inputs onto each inhibitory neuron (weight 0.001 mV), all of
# which sit in the second thread's shard. Prints each run's simulate time, the shards'
# busy times and what was decided.
#
#   benches/rebalance.sh [ROUNDS] [DURATION] [THREADS]    (default 2 rounds, 60s, 2 threads)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
duration=${2:-60s}
threads=${3:-2}
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp examples/izhikevich_sparse.toml "$dir/heavy.toml"
printf '\n[[projection]]\nsource = "exc"\ntarget = "inh"\nconnection = { rule = "fixed_indegree", k = 3200 }\nweight = 0.001\ndelay = "1 ms"\n' >>"$dir/heavy.toml"
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), volley $(git rev-parse --short HEAD), $duration on $threads threads"
for round in $(seq "$rounds"); do
  for mode in never auto; do
    line=$(target/release/volley run "$dir/heavy.toml" --threads "$threads" --duration "$duration" --rebalance "$mode" -q \
      --set 'output.spikes=""' --set 'output.raster=""' 2>&1 |
      grep -oE 'simulate [0-9.]+ m?s|shards busy [^|]*|shards (not )?re-cut[^|]*|shards kept[^|]*' | tr '\n' ' ')
    echo "round $round, $mode: $line"
  done
done
