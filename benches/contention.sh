#!/usr/bin/env bash
# Threads on a shared machine (issue 8, class 9): simulate time of the 2003 network and
# of the sparse network at 10,000 neurons with --threads 1 and 2, on a quiet machine and
# beside one busy process (`yes`), for one or more volley binaries, runs interleaved.
# Prints the median (and range) of the `simulate` figure of each case, and the median over
# rounds of the ratio of --threads 2 to the --threads 1 run just before it.
#
#   benches/contention.sh RUNS BINARY [BINARY ...]
#   benches/contention.sh 15 target/release/volley /tmp/volley-previous
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}; shift
bins=("$@"); [ ${#bins[@]} -gt 0 ] || bins=(target/release/volley)
out=$(mktemp -d)
trap 'kill $busy 2>/dev/null || true; rm -rf "$out"' EXIT
busy=""
models=("2003:examples/izhikevich2003.toml:" "sparse10k:examples/izhikevich_sparse.toml:--set population.exc.size=8000 --set population.inh.size=2000")
simulate() { # prints the simulate figure in ms
  "$@" 2>/dev/null | grep -o 'simulate [0-9.]* m\?s' | head -1 | awk '{ v = $2; if ($3 == "s") v *= 1000; print v }'
}
for load in quiet busy; do
  if [ $load = busy ]; then yes > /dev/null & busy=$!; sleep 1; fi
  for ((r = 0; r < runs; r++)); do
    for m in "${models[@]}"; do
      IFS=: read -r name file extra <<< "$m"
      for b in "${bins[@]}"; do
        for t in 1 2; do
          # shellcheck disable=SC2086
          v=$(simulate "$b" run "$file" -q --out "$out/o" --threads $t $extra)
          echo "$v" >> "$out/$load.$name.$(basename "$b").$t"
        done
      done
    done
  done
  [ -n "$busy" ] && kill $busy && busy=""
done
echo "case                                   median ms  (min - max)   t2/t1 by round: median (middle half), $runs runs each, $(lscpu | sed -n 's/^Model name: *//p')"
# The machine's speed drifts from minute to minute (a VM's steal time): each round's
# --threads 2 run is set against the --threads 1 run just before it.
at() { sed -n "$2p" "$1"; }
for f in "$out"/*.*.*.[12]; do
  sort -g "$f" > "$f.s"
  n=$(wc -l < "$f.s")
  ratio=""
  if [ "${f##*.}" = 2 ]; then
    paste "${f%.2}.1" "$f" | awk '{ print $2 / $1 }' | sort -g > "$f.q"
    ratio=$(printf '%.3f (%.3f - %.3f)' "$(at "$f.q" $(((n + 1) / 2)))" "$(at "$f.q" $((n / 4 + 1)))" "$(at "$f.q" $(((3 * n + 3) / 4)))")
  fi
  printf '%-38s %9s  (%s - %s)   %s\n' "$(basename "$f" | tr . ' ')" "$(at "$f.s" $(((n + 1) / 2)))" "$(at "$f.s" 1)" "$(at "$f.s" "$n")" "$ratio"
done
