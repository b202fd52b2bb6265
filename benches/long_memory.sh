#!/usr/bin/env bash
# Memory stays bounded whatever the run's length (issue 10): the sparse example at 10,000
# neurons, all spikes and 100 neurons' v every 1 ms recorded, run for SHORT and LONG
# seconds of biological time; prints each run's peak RSS (/usr/bin/time -v) and the ratio.
#
#   benches/long_memory.sh [SHORT_S] [LONG_S] [THREADS]      (default 6 60 2)
set -euo pipefail
cd "$(dirname "$0")/.."
short=${1:-6} long=${2:-60} threads=${3:-2}
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model="$dir/model.toml"
cat examples/izhikevich_sparse.toml - > "$model" <<'TOML'

[[output.report]]
file = "v.h5"
variable = "v"
populations = ["exc"]
neurons = { range = [0, 100] }
interval = "1 ms"
TOML
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
peak() { # seconds -> peak RSS in kB
  /usr/bin/time -v target/release/volley run "$model" -q --threads "$threads" --out "$dir/out$1" --duration "$1 s" \
    --set population.exc.size=8000 --set population.inh.size=2000 2> "$dir/time$1" > "$dir/log$1"
  grep 'Maximum resident' "$dir/time$1" | awk '{ print $NF }'
}
a=$(peak "$short"); b=$(peak "$long")
echo "10,000 neurons, all spikes + 100 neurons' v every 1 ms, $threads threads"
echo "$short s: peak RSS $a kB; $(grep -o 'simulate [0-9.]* m\?s' "$dir/log$short"); $(du -k "$dir/out$short/v.h5" | cut -f1) kB report"
echo "$long s: peak RSS $b kB; $(grep -o 'simulate [0-9.]* m\?s' "$dir/log$long"); $(du -k "$dir/out$long/v.h5" | cut -f1) kB report"
awk -v a="$a" -v b="$b" 'BEGIN { printf "ratio %.3f\n", b / a }'
