#!/usr/bin/env bash
# End-to-end cost of the Izhikevich (2003) example: whole-process wall time (hyperfine:
# start, build, 1000 ms of simulation, HDF5 + PNG write) and peak memory (/usr/bin/time -v).
#
#   benches/e2e.sh [RUNS]    (default 30; needs hyperfine and /usr/bin/time: apt-get install hyperfine time)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
cargo build --release --quiet
out=$(mktemp -d)
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
hyperfine --warmup 3 --runs "$runs" -N \
  "target/release/volley run examples/izhikevich2003.toml --out $out -q" \
  "target/release/volley run examples/izhikevich2003.toml --out $out -q --threads 1"
/usr/bin/time -v target/release/volley run examples/izhikevich2003.toml --out "$out" -q 2>&1 |
  grep -E "^volley:|Maximum resident|Elapsed \(wall"
