#!/usr/bin/env bash
# Scaling tables from dry runs (issue 26): for each (network size, rank count), the dry
# run of the busiest rank (`volley run --dry-run`) on this machine's threads, 100 ms at
# 7.5 Hz, and per simulated second the rank's update and delivery (measured) and the
# exchange (alpha-beta model: ALPHA_US per exchange and doubling of the ranks, BETA_NS
# per spike received; defaults 1 and 2.4, BENCHMARKS.md "The exchange alone"). Weak
# scaling: 10^5 neurons per rank; strong scaling: 10^7 and 10^8 neurons.
#
#   benches/dry_scaling.sh [BINARY]     # prints one table row per case
set -euo pipefail
cd "$(dirname "$0")/.."
volley=${1:-target/release/volley}
threads=${THREADS:-2}
cases=${CASES:-"weak:64 weak:256 weak:1024 weak:4096 1e7:64 1e7:256 1e7:1024 1e7:4096 1e8:256 1e8:1024 1e8:4096"}
echo "| network | ranks | neurons per rank | held | peak RSS | build s | update s/s | deliver s/s | ns per received spike | of which lookup | exchange s/s (model) | total s/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in $cases; do
  kind=${c%%:*} ranks=${c##*:}
  case $kind in
    weak) n=$((100000 * ranks)) ;;
    1e7) n=10000000 ;;
    1e8) n=100000000 ;;
  esac
  exc=$((n * 4 / 5)) inh=$((n - n * 4 / 5))
  out=$(/usr/bin/time -f "rss %M" "$volley" run examples/izhikevich_sparse.toml --set population.exc.size=$exc \
    --set population.inh.size=$inh --dry-run "$ranks" --threads "$threads" --duration 100ms --expected-rate 7.5 \
    --exchange-alpha-us "${ALPHA_US:-1}" --exchange-beta-ns "${BETA_NS:-2.4}" 2>&1)
  get() { grep -o "$1" <<<"$out" | head -1 | grep -o '[0-9.]*' | head -1; }
  per_rank=$(grep -o 'neurons [0-9]*\.\.[0-9]* ([0-9]*)' <<<"$out" | grep -o '([0-9]*)' | tr -d '()')
  held=$(grep -o 'total [0-9.]* [KMG]B (planned' <<<"$out" | sed 's/ (planned//; s/total //')
  rss=$(( $(get 'rss [0-9]*') / 1000 ))
  build=$(get 'build [0-9.]* s')
  update=$(get 'update [0-9.]* s')
  deliver=$(get 'deliver [0-9.]* s')
  ns=$(get '[0-9.]* ns per received')
  # Binaries before b61d9fe did not time the lookup apart: the column is then blank.
  lookup=$(grep -o 'lookup [0-9.]* s ([0-9.]* ns' <<<"$out" | grep -o '([0-9.]*' | tr -d '(' || true)
  exchange=$(get 'exchange [0-9.]* s modelled')
  awk -v n="$n" -v r="$ranks" -v p="$per_rank" -v h="$held" -v rss="$rss" -v b="$build" -v u="$update" -v d="$deliver" -v ns="$ns" -v lk="$lookup" -v e="$exchange" \
    'BEGIN { lk = lk == "" ? "—" : sprintf("%.1f", lk); printf "| %s | %d | %d | %s | %d MB | %.1f | %.3f | %.2f | %.1f | %s | %.2f | %.2f |\n", n, r, p, h, rss, b, u * 10, d * 10, ns, lk, e * 10, (u + d + e) * 10 }'
done
