#!/usr/bin/env bash
# The planner against reality (issue 10): for three sizes of two models, `volley plan`'s
# memory, output size and wall time against the run's peak RSS (/usr/bin/time -v), the
# bytes of its output files and its wall time. The rate guess is measured once per model
# on its smallest size (the planner sizes output from a rate the user gives; the check
# is that, given the rate, the rest follows). Acceptance: memory within 20%, output
# within 5%, wall time within a factor of 2.
#
#   benches/plan_vs_reality.sh [THREADS] [--calibrate]      (default 2, reference costs)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
calibrate=${2:-}
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
hh="$dir/hh.toml"
cat examples/hh_five_current.toml - > "$hh" <<'TOML'

[[output.report]]
file = "v.h5"
variable = "v"
neurons = { fraction = 0.01, seed = 1 }
interval = "0.1 ms"
TOML
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads ${calibrate:-(reference costs)}"
printf '%-34s %10s %10s %7s %10s %10s %7s %8s %8s %7s\n' case plan_MB peak_MB ratio plan_out out_bytes ratio plan_s wall_s ratio
one() { # name model duration rate sets...
  local name=$1 model=$2 duration=$3 rate=$4
  shift 4
  local line
  line=$(target/release/volley plan "$model" --duration "$duration" --threads "$threads" --expected-rate "$rate" $calibrate "$@" | grep '^plan:')
  local mem out wall
  mem=$(sed 's/.*memory_bytes=\([0-9]*\).*/\1/' <<<"$line")
  out=$(sed 's/.*output_bytes=\([0-9]*\).*/\1/' <<<"$line")
  wall=$(sed 's/.*wall_s=\([0-9.]*\).*/\1/' <<<"$line")
  rm -rf "$dir/out"
  /usr/bin/time -v target/release/volley run "$model" -q --duration "$duration" --threads "$threads" --out "$dir/out" --expected-rate "$rate" --set output.raster='""' "$@" \
    >"$dir/log" 2>"$dir/time"
  local peak wall_real bytes
  peak=$(grep 'Maximum resident' "$dir/time" | awk '{ print $NF * 1024 }')
  wall_real=$(grep 'Elapsed (wall' "$dir/time" | awk '{ n = split($NF, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }')
  bytes=$(cat "$dir"/out/*.h5 | wc -c)
  awk -v n="$name" -v m="$mem" -v p="$peak" -v o="$out" -v b="$bytes" -v w="$wall" -v r="$wall_real" 'BEGIN {
    printf "%-34s %10.1f %10.1f %7.3f %10d %10d %7.3f %8.2f %8.2f %7.2f\n", n, m / 1e6, p / 1e6, m / p, o, b, o / b, w, r, w / r }'
}
rate_of() { # model duration sets... -> mean rate (Hz) of a pilot run
  local model=$1 duration=$2
  shift 2
  target/release/volley run "$model" -q --duration "$duration" --threads "$threads" --out "$dir/pilot" --set output.raster='""' "$@" \
    | sed -n 's/^volley: \([0-9]*\) neurons, [0-9]* synapses, \([0-9]*\) spikes.* in \([0-9.]*\) ms.*/\2 \1 \3/p' \
    | awk '{ printf "%.4f", $1 / $2 / ($3 / 1000) }'
}
izh=examples/izhikevich_sparse.toml
r=$(rate_of "$izh" "1000ms" --set population.exc.size=8000 --set population.inh.size=2000)
for n in 10000 50000 100000; do
  one "izhikevich_sparse $n, 1 s" "$izh" 1000ms "$r" --set population.exc.size=$((n * 4 / 5)) --set population.inh.size=$((n / 5))
done
r=$(rate_of "$hh" "200ms" --set population.cells.size=2000)
for n in 2000 10000 20000; do
  one "hh_five_current $n, 200 ms, v report" "$hh" 200ms "$r" --set population.cells.size=$n
done
