#!/usr/bin/env bash
# The five-current Hodgkin–Huxley model (examples/hh_five_current.toml) in volley and in
# Brian2 (C++ standalone, both of its methods), side by side on this machine: N neurons,
# DURATION_MS of biological time at dt = 0.01 ms, THREADS threads each. Brian2 is
# installed from PyPI into benches/peers/.venv.
#
#   benches/peers/hh.sh [N] [DURATION_MS] [THREADS]      (default 10000 1000 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
duration=${2:-1000}
threads=${3:-2}
venv=benches/peers/.venv
if ! "$venv/bin/python" -c "import brian2" 2>/dev/null; then
  python3 -m venv "$venv"
  # Brian2 2.9 uses ndarray.ptp, which numpy 2.4 removed.
  "$venv/bin/pip" install -q --disable-pip-version-check "numpy<2.4" brian2
fi
cargo build --release --quiet
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $("$venv/bin/python" -c 'import brian2; print("Brian2", brian2.__version__)' 2>/dev/null | tail -1)"
echo "# $n neurons, $duration ms, dt = 0.01 ms, $threads threads"
out=$(mktemp -d)
summary=$(target/release/volley run examples/hh_five_current.toml --set "population.cells.size=$n" --duration "${duration} ms" \
  --threads "$threads" --out "$out" -q 2>&1)
echo "volley: $(echo "$summary" | grep -o 'simulate [0-9.]*[a-z]*') ($(echo "$summary" | grep -o '[0-9]* spikes') | $(echo "$summary" | grep -o 'kernels [a-z0-9]*'))"
for method in exponential_euler rk4; do
  "$venv/bin/python" benches/peers/brian2_hh.py "$method" "$threads" "$n" "$duration" 2>/dev/null | tail -1
done
rm -rf "$out"
