#!/usr/bin/env bash
# The 10^8-synapse Izhikevich network (N = 100,000, 1 s) against the machine's own bound,
# measured in the same run: the kernels bench's scatter of random (target, weight) pairs
# into 10^5 floats (memory_system/scatter_pairs_1e5: the random read-modify-write each
# synaptic event is) alternates with volley's run, ROUNDS times, so that both see the
# same moment of a shared machine. Prints per round the bound (ns per event), volley's
# delivery per event and its whole simulation against events x bound / threads.
#
#   benches/bound.sh [ROUNDS] [THREADS]    (default 3 rounds, 2 threads)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
threads=${2:-2}
cargo build --release --quiet
cargo bench --bench kernels --no-run --quiet 2>/dev/null
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), volley $(git rev-parse --short HEAD)"
printf '%-6s %-12s %-16s %-12s %-12s %s\n' round "bound ns" "deliver ns/event" "simulate s" "bound s" "simulate/bound"
for round in $(seq "$rounds"); do
  bench=$(cargo bench --bench kernels -- 'memory_system/scatter_pairs_1e5$' --warm-up-time 1 --measurement-time 3 --noplot 2>&1)
  run=$(target/release/volley run examples/izhikevich_sparse.toml --threads "$threads" \
    --set population.exc.size=80000 --set population.inh.size=20000 \
    --set 'output.spikes=""' --set 'output.raster=""' 2>&1)
  BENCH="$bench" RUN="$run" THREADS="$threads" ROUND="$round" python3 - <<'PY'
import os, re, sys
bench, run = os.environ["BENCH"], os.environ["RUN"]
m = re.search(r"thrpt:\s+\[\S+ \S+ (\S+) (\S)elem/s", bench)
if not m:
    sys.exit(f"no throughput in the bench's output:\n{bench}")
per_s = float(m[1]) * {"K": 1e3, "M": 1e6, "G": 1e9}[m[2]]
bound_ns = 1e9 / per_s
d = re.search(r"deliver ([\d.]+) \(([\d.]+) ns per synaptic event\)", run)
s = re.search(r"simulate ([\d.]+) (ms|s)", run)
if not (d and s):
    sys.exit(f"no delivery or simulation time in volley's summary:\n{run}")
threads = int(os.environ["THREADS"])
events = float(d[1]) * threads / float(d[2]) * 1e9
simulate = float(s[1]) / (1000 if s[2] == "ms" else 1)
bound_s = events * bound_ns * 1e-9 / threads
print(f"{os.environ['ROUND']:<6} {bound_ns:<12.3f} {float(d[2]):<16.2f} {simulate:<12.3f} {bound_s:<12.3f} {simulate / bound_s:.2f}  ({events:.3g} events)")
PY
done
