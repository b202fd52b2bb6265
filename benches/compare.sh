#!/usr/bin/env bash
# "No slower than before": the `simulate` figure of the 2003 network (1000 ms, --threads 1
# and 2), of the sparse network at 100,000 neurons (1000 ms, --threads 2) and of the
# Potjans-Diesmann microcircuit at neurons 0.1 (1000 ms, --threads 2; RUNS_100K runs) for
# two or more volley binaries, on a quiet machine, runs interleaved round by round so that the
# machine's drift falls on every binary alike. Prints per case and binary the median
# (min - max), and the median over rounds of the ratio to the first binary with the
# range of its middle half: a ratio whose middle half holds 1 is "no different within
# this machine's noise".
#
#   benches/compare.sh RUNS_2003 RUNS_100K BASE_BINARY BINARY [BINARY ...]
#   benches/compare.sh 30 8 /tmp/volley-base target/release/volley
set -euo pipefail
cd "$(dirname "$0")/.."
runs_small=$1 runs_large=$2; shift 2
bins=("$@")
[ ${#bins[@]} -ge 2 ] || { echo "usage: $0 RUNS_2003 RUNS_100K BASE_BINARY BINARY [BINARY ...]" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"${VOLLEY_PYTHON:-target/pyvenv/bin/python}" benches/peers/microcircuit_model.py --n-scaling 0.1 --duration-ms 1000 --out "$out/micro.toml" > /dev/null
simulate() { # prints the simulate figure in ms
  "$@" 2>/dev/null | grep -o 'simulate [0-9.]* m\?s' | head -1 | awk '{ v = $2; if ($3 == "s") v *= 1000; print v }'
}
cases=("2003-t1:$runs_small:examples/izhikevich2003.toml:--threads 1"
       "2003-t2:$runs_small:examples/izhikevich2003.toml:--threads 2"
       "100k-t2:$runs_large:examples/izhikevich_sparse.toml:--threads 2 --set population.exc.size=80000 --set population.inh.size=20000"
       "micro-t2:$runs_large:$out/micro.toml:--threads 2")
for c in "${cases[@]}"; do
  IFS=: read -r name runs file extra <<< "$c"
  for ((r = 0; r < runs; r++)); do
    for i in "${!bins[@]}"; do
      # shellcheck disable=SC2086
      simulate "${bins[$i]}" run "$file" -q --out "$out/o" $extra >> "$out/$name.$i"
    done
  done
done
echo "case      binary                     median ms  (min - max)   ratio to first: median (middle half), $(lscpu | sed -n 's/^Model name: *//p')"
for c in "${cases[@]}"; do
  name=${c%%:*}
  for i in "${!bins[@]}"; do
    sort -g "$out/$name.$i" > "$out/a"
    paste "$out/$name.0" "$out/$name.$i" | awk '{ print $2 / $1 }' | sort -g > "$out/q"
    n=$(wc -l < "$out/a")
    at() { sed -n "$2p" "$1"; }
    printf '%-9s %-24s %9s  (%s - %s)   %.3f (%.3f - %.3f)\n' "$name" "$(basename "${bins[$i]}")" \
      "$(at "$out/a" $(((n + 1) / 2)))" "$(at "$out/a" 1)" "$(at "$out/a" "$n")" \
      "$(at "$out/q" $(((n + 1) / 2)))" "$(at "$out/q" $((n / 4 + 1)))" "$(at "$out/q" $(((3 * n + 3) / 4)))"
  done
done
