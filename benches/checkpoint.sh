#!/usr/bin/env bash
# What a checkpoint costs (issue 10): the sparse example at N neurons (10^3 synapses
# each), 2 threads, 1 s: wall time without checkpoints, with one every 250 ms (4, the last
# at the end), the checkpoint's size, and the wall time of a resume that goes 1 ms
# further (build + restore). Then the same for hh_five_current at 50,000 neurons, 100 ms.
#
#   benches/checkpoint.sh [N] [THREADS]      (default 100000 2)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000} threads=${2:-2}
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads"
wall() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
case_() { # name duration checkpoint_every resume_to model sets...
  local name=$1 duration=$2 every=$3 to=$4 model=$5
  shift 5
  local run=(target/release/volley run "$model" -q --threads "$threads" --duration "$duration" --set output.raster='""' "$@")
  local plain with resumed size
  plain=$(wall "${run[@]}" --out "$dir/plain")
  with=$(wall "${run[@]}" --out "$dir/ck" --checkpoint-every "$every" --checkpoint "$dir/ck.h5")
  size=$(stat -c %s "$dir/ck.h5")
  resumed=$(wall target/release/volley run -q --resume "$dir/ck.h5" --duration "$to" --threads "$threads" --out "$dir/ck" "$@")
  echo "$name: run ${plain} s; with checkpoints every $every ${with} s; checkpoint $((size / 1000)) kB; resume to $to (build + restore + 1 ms) ${resumed} s"
}
case_ "izhikevich_sparse $n, 1 s" 1000ms 250ms 1001ms examples/izhikevich_sparse.toml \
  --set population.exc.size=$((n * 4 / 5)) --set population.inh.size=$((n / 5))
case_ "hh_five_current 50000, 100 ms" 100ms 25ms 100.01ms examples/hh_five_current.toml
