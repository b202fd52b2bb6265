#!/usr/bin/env bash
# The scaled Izhikevich network (N neurons, 1000 synapses each, 1 s) in volley, Brian2
# (C++ standalone) and NEST 3, one after the other on this machine, each under
# /usr/bin/time -v for its peak memory. Prints one line per simulator.
#
#   benches/peers/sparse.sh [N] [THREADS]     (default 100000 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
threads=${2:-2}
venv=benches/peers/.venv
if ! "$venv/bin/python" -c "import brian2, nest" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "numpy<2.4" brian2 nest-simulator
fi
cargo build --release --quiet
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); N=$n, $threads threads"
peak() { grep "Maximum resident" | awk '{printf "peak %.2f GB", $6 / 1e6}'; }
log=$(mktemp)
/usr/bin/time -v target/release/volley run examples/izhikevich_sparse.toml -q --threads "$threads" --out "$(mktemp -d)" \
  --set population.exc.size=$((n * 4 / 5)) --set population.inh.size=$((n / 5)) >"$log" 2>&1
echo "$(grep '^volley:' "$log") | $(peak <"$log")"
/usr/bin/time -v "$venv/bin/python" benches/peers/brian2_izhikevich.py 1 "$threads" "$n" >"$log" 2>&1 || true
echo "$(grep 'simulate_s=' "$log") | $(peak <"$log")"
/usr/bin/time -v "$venv/bin/python" benches/peers/nest_izhikevich.py 1 "$threads" "$n" >"$log" 2>&1 || true
echo "$(grep 'simulate_s=' "$log") | $(peak <"$log")"
