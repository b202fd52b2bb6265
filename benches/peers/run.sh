#!/usr/bin/env bash
# Measures volley and its peers on the Izhikevich (2003) network, side by side on this
# machine: the paper's net.m in numpy, Brian2 (C++ standalone) and NEST 3, installed from
# PyPI into benches/peers/.venv. Prints the median simulate time of each over REPEATS
# runs (seeds 1..REPEATS) for 1 and 2 threads.
#
#   benches/peers/run.sh [REPEATS]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-5}
venv=benches/peers/.venv
if ! "$venv/bin/python" -c "import brian2, nest" 2>/dev/null; then
  python3 -m venv "$venv"
  # Brian2 2.9 uses ndarray.ptp, which numpy 2.4 removed.
  "$venv/bin/pip" install -q --disable-pip-version-check "numpy<2.4" brian2 nest-simulator
fi
py="$venv/bin/python"
cargo build --release --quiet
versions=$("$py" -c "import numpy, brian2, nest; print(f'numpy {numpy.__version__}, Brian2 {brian2.__version__}, NEST {nest.__version__}')" 2>/dev/null | tail -1)
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $versions"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { grep -o "$1=[0-9.]*" | cut -d= -f2; }

measure() { # name, command template with SEED
  local name=$1; shift
  local out=() line
  for seed in $(seq 1 "$repeats"); do
    line=$(eval "${*//SEED/$seed}" 2>/dev/null | grep -E "simulate_s=" | tail -1)
    out+=("$line")
  done
  local sim rate
  sim=$(printf '%s\n' "${out[@]}" | field simulate_s | median)
  rate=$(printf '%s\n' "${out[@]}" | field exc_hz | median)
  printf '| %-22s | %10.1f ms | %6s Hz | %s\n' "$name" "$(awk "BEGIN {print $sim * 1000}")" "$rate" "$(printf '%s\n' "${out[@]}" | head -1)"
}

volley_line() { # seed threads -> a line in the peers' format
  local s
  s=$(target/release/volley run examples/izhikevich2003.toml --seed "$1" --threads "$2" --out "$(mktemp -d)" -q)
  local ms exc
  ms=$(echo "$s" | grep -o 'simulate [0-9.]* ms' | grep -o '[0-9.]*')
  exc=$(echo "$s" | grep -o 'exc [0-9.]* Hz' | grep -o '[0-9.]*')
  echo "volley simulate_s=$(awk "BEGIN {print $ms / 1000}") exc_hz=$exc"
}

echo "| peer                   | simulate (median) | exc rate | first run's line"
echo "|---|---|---|---|"
for t in 1 2; do
  measure "volley $t thread(s)" volley_line SEED $t
done
measure "numpy net.m" "$py" benches/peers/net_m_numpy.py SEED
for t in 1 2; do
  measure "NEST $t thread(s)" "$py" benches/peers/nest_izhikevich.py SEED $t
  measure "Brian2 $t thread(s)" "$py" benches/peers/brian2_izhikevich.py SEED $t
done
