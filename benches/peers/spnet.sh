#!/usr/bin/env bash
# Izhikevich's polychronization network: his own C++ code (poly_spnet.cpp, from
# izhikevich.org or the INM-6/reproducing-polychronization repository,
# code/original_model/; not part of volley) on one core against examples/spnet.toml on
# THREADS threads, SECONDS of biological time each, in one run on this machine. The
# C++ is compiled with g++ -O2 as published but for the run's length (its 5-hour loop
# cut to SECONDS) and, after the loop, a count of its weights in place of its save and
# without its polychronous-group search. Prints each one's wall time and peak memory (/usr/bin/time -v), the
# excitatory and inhibitory rates from 600 s on (or the whole run if shorter), and the
# share of excitatory-to-excitatory weights above 0.9·w_max at the end.
#
#   benches/peers/spnet.sh POLY_SPNET_CPP [SECONDS] [THREADS] [SEED]   (default 3600 2 1)
set -euo pipefail
cd "$(dirname "$0")/../.."
source=${1:?the path of poly_spnet.cpp (izhikevich.org, or INM-6/reproducing-polychronization code/original_model/)}
seconds=${2:-3600}
threads=${3:-2}
seed=${4:-1}
cargo build --release --quiet --bin volley
py=target/pyvenv/bin/python
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(g++ --version | head -1); $seconds s, volley on $threads threads"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/cpp/exec"
# The run's length, and the end of main without the group search (its output files go
# to ../ of the working directory, as the code writes them).
sed -e "s/for (sec=0; sec<5\*60\*60; sec++)/for (sec=0; sec<$seconds; sec++)/" \
    -e 's#^\(\s*\)save_all("..//all.dat");#\1{ int n = 0, above = 0, zero = 0, top = 0; for (int i = 0; i < Ne; i++) for (int j = 0; j < M; j++) if (post[i][j] < Ne) { n++; above += s[i][j] > 0.9 * C_max; zero += s[i][j] == 0; top += s[i][j] == C_max; } printf("exc->exc above 9: %.1f%%, at 0: %.1f%%, at 10: %.1f%%\\n", 100.0 * above / n, 100.0 * zero / n, 100.0 * top / n); }#' \
    -e 's#^\(\s*\)all_polychronous(); k=N_polychronous;#\1// not timed: the group search#' \
    -e "s/srand(0);/srand($seed);/" "$source" > "$work/cpp/poly.cpp"
grep -q "sec<$seconds;" "$work/cpp/poly.cpp" || { echo "poly_spnet.cpp: its main loop is not the published one" >&2; exit 1; }
g++ -O2 -o "$work/cpp/exec/poly" "$work/cpp/poly.cpp"
(cd "$work/cpp/exec" && /usr/bin/time -v ./poly > run.log 2> time.log)
from=$(( seconds > 600 ? 600 : 0 ))
awk -v from=$from '$1 >= from { e += $2; i += $4; n++ } END { printf "C++:    exc %.2f Hz, inh %.2f Hz (seconds %d on), ", e / n, i / n, from }' "$work/cpp/dat.dat"
printf "%s, " "$(grep 'exc->exc above' "$work/cpp/exec/run.log" | tr -d '\n')"
echo "wall $(grep Elapsed "$work/cpp/exec/time.log" | awk '{print $NF}'), peak $(grep 'Maximum resident' "$work/cpp/exec/time.log" | awk '{printf "%.0f MB", $NF / 1024}')"
/usr/bin/time -v target/release/volley run examples/spnet.toml --threads "$threads" --out "$work/v" -q --seed "$seed" \
  --set "simulation.duration=\"$seconds s\"" --set 'output.weights.0.interval="60 s"' 2> "$work/v.time"
"$py" - "$work/v" "$from" <<'PY'
import sys, h5py, numpy as np
out, start = sys.argv[1], float(sys.argv[2]) * 1000
f = h5py.File(f"{out}/spikes.h5")
rates = []
for pop, n in [("exc", 800), ("inh", 200)]:
    t = f[f"spikes/{pop}/timestamps"][()]
    rates.append((t >= start).sum() / n / ((f.attrs["duration_ms"] - start) / 1000))
w = h5py.File(f"{out}/weights.h5")["edges/exc_to_exc/snapshots/syn_weight"][-1]
print(f"volley: exc {rates[0]:.2f} Hz, inh {rates[1]:.2f} Hz (from {start / 1000:g} s), exc->exc above 9: {np.mean(w > 9) * 100:.1f}%, "
      f"at 0: {np.mean(w == 0) * 100:.1f}%, at 10: {np.mean(w == 10) * 100:.1f}%, ", end="")
PY
echo "wall $(grep Elapsed "$work/v.time" | awk '{print $NF}'), peak $(grep 'Maximum resident' "$work/v.time" | awk '{printf "%.0f MB", $NF / 1024}')"
