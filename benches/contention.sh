#!/usr/bin/env bash
# Threads on a shared machine (issue 8, class 9): simulate time of the 2003 network and
# of the sparse network at 10,000 neurons with --threads 1 and 2, on a quiet machine and
# beside one busy process (`yes`), for one or more volley binaries, runs interleaved.
# Prints the median (and range) of the `simulate` figure of each case.
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
echo "case                                   median ms  (min - max), $runs runs each, $(lscpu | sed -n 's/^Model name: *//p')"
for f in "$out"/*.*.*.*; do
  sort -g "$f" > "$f.s"
  n=$(wc -l < "$f.s")
  printf '%-38s %9s  (%s - %s)\n' "$(basename "$f" | tr . ' ')" "$(sed -n "$(( (n + 1) / 2 ))p" "$f.s")" "$(head -1 "$f.s")" "$(tail -1 "$f.s")"
done
