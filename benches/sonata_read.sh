#!/usr/bin/env bash
# Reading a SONATA circuit of N·K edges (default 10^7: 100,000 nest:iaf_psc_delta nodes,
# 100 inputs each; benches/sonata_circuit.py writes it) on 1, 2 and 4 MPI ranks of one
# thread: each rank reads the edges onto its own neurons (through the index; with
# --no-index the ranks split the file and send each synapse to its target's rank).
# Prints each run's summary line (its build phase is the rank's rows and its synapse
# store; the scan of the edges when the description is made, shared by the ranks, comes
# before it and is in the wall time), the wall time and each rank's peak memory, and
# checks that the spike files are the same (h5diff).
#
#   benches/sonata_read.sh [N] [K] [--no-index]     (default 100000 100)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
k=${2:-100}
index=${3:-}
python=target/pyvenv/bin/python
[ -x "$python" ] || scripts/setup.sh --test
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$python" benches/sonata_circuit.py "$dir" "$n" "$k" 100 $index
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $n nodes, $((n * k)) edges $index, 100 ms"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for ranks in 1 2 4; do
  log="$dir/log$ranks"
  mpirun -np "$ranks" --oversubscribe --bind-to none /usr/bin/time -v target/release/volley run "$dir/simulation_config.json" \
    --threads 1 --out "$dir/r$ranks" >"$log" 2>&1
  peaks=$(grep "Maximum resident" "$log" | awk '{printf "%s%.0f MB", sep, $6 / 1e3; sep=", "}')
  wall=$(grep -m1 "Elapsed (wall" "$log" | awk '{print $NF}')
  echo "$ranks rank(s): $(grep '^volley:' "$log") | wall $wall | peak per rank: $peaks"
  if [ "$ranks" != 1 ]; then
    h5diff -q "$dir/r1/spikes.h5" "$dir/r$ranks/spikes.h5" /spikes /spikes
    echo "  spikes identical to 1 rank's (h5diff)"
  fi
done
