#!/usr/bin/env bash
# The sparse example (N neurons, 1000 synapses each, 1 s) as one process with 2 threads
# against MPI ranks of one thread: 2 ranks (all-gather and directed exchange) and 4 ranks
# (oversubscribed on 2 cores). Each under /usr/bin/time -v; prints volley's two summary
# lines (totals; per-rank phase timers with the exchange per epoch) and the peak memory.
#
#   benches/mpi.sh [N] [REPEATS]     (default 100000 3)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
repeats=${2:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build --release --quiet
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); N=$n"
model=(examples/izhikevich_sparse.toml -q --set population.exc.size=$((n * 4 / 5)) --set population.inh.size=$((n / 5)))
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
show() { # label, log
  echo "## $1"
  grep -E '^(volley:|phases)' "$2" | sed 's/^/   /'
  { grep "Maximum resident" "$2" || true; } | awk '{printf "   peak RSS (/usr/bin/time): %.2f GB\n", $6 / 1e6}'
}
for r in $(seq "$repeats"); do
  log=$out/log
  /usr/bin/time -v target/release/volley run "${model[@]}" --threads 2 --out "$out/a" >"$log" 2>&1
  show "1 process x 2 threads (run $r)" "$log"
  for mode in all-gather directed; do
    mpirun -np 2 --bind-to core target/release/volley run "${model[@]}" --threads 1 --exchange $mode --out "$out/b" >"$log" 2>&1
    show "mpirun -np 2 x 1 thread, $mode (run $r)" "$log"
  done
  mpirun -np 4 --oversubscribe --bind-to none target/release/volley run "${model[@]}" --threads 1 --out "$out/c" >"$log" 2>&1
  show "mpirun -np 4 --oversubscribe x 1 thread (run $r)" "$log"
done
