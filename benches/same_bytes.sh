#!/usr/bin/env bash
# "Same bytes": runs two volley binaries on the cases a refactoring must not change and
# compares every dataset of every output file (values and shapes; provenance attributes
# such as start_time and run_id differ by nature). Cases: the 2003 example, the sparse
# example at 1000 neurons with 1-20 ms delays and exponential synapses (a report and rate
# traces), the HH network with a report, the microcircuit at neurons 0.1 (200 ms) — on 1
# and 2 threads, 1 and 2 MPI ranks, and the 2003 example and HH network on the GPU
# backend (lavapipe where there is no GPU). Exit 0 when every dataset is identical.
#
#   benches/same_bytes.sh BEFORE_BINARY AFTER_BINARY
#   git worktree add /tmp/before 7aded4f && (cd /tmp/before && cargo build --release)
#   benches/same_bytes.sh /tmp/before/target/release/volley target/release/volley
set -euo pipefail
cd "$(dirname "$0")/.."
before=$1 after=$2
python=${VOLLEY_PYTHON:-target/pyvenv/bin/python}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then export XDG_RUNTIME_DIR=$PWD/target/xdg-runtime; mkdir -p -m 700 "$XDG_RUNTIME_DIR"; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The sparse example with delays, exponential synapses, a report and rate traces.
sed -e 's/size = 8000/size = 800/; s/size = 2000/size = 200/; s/k = 800/k = 80/; s/k = 200/k = 20/' \
    -e 's/^delay = "1 ms"/delay = { distribution = "uniform", low = "1 ms", high = "20 ms" }/' \
    -e 's/^weight = "0.5\*u"/weight = "2*u"\nsynapse = { model = "exp_current", tau = "5 ms" }/' \
    -e 's/^\[output\]/[output]\nrates = "rates.h5"/' examples/izhikevich_sparse.toml > "$work/sparse.toml"
printf '\n[[output.report]]\nfile = "u.h5"\nvariable = "u"\nneurons = { fraction = 0.05, seed = 3 }\ninterval = "2 ms"\n' >> "$work/sparse.toml"
cp examples/hh_network.toml "$work/hh.toml"
printf '\n[[output.report]]\nfile = "v.h5"\nvariable = "v"\nneurons = { range = [0, 20] }\ninterval = "0.5 ms"\n' >> "$work/hh.toml"
"$python" benches/peers/microcircuit_model.py --n-scaling 0.1 --duration-ms 200 --out "$work/micro.toml" > /dev/null

cases=("2003:examples/izhikevich2003.toml:" "sparse:$work/sparse.toml:" "hh:$work/hh.toml:--duration 200ms"
       "micro:$work/micro.toml:")
failed=0
compare() { # name dirA dirB
  "$python" - "$2" "$3" <<'PY' || { echo "DIFFER: $1"; failed=1; }
import sys, os, h5py, numpy as np
a, b = sys.argv[1], sys.argv[2]
files = sorted(f for f in os.listdir(a) if f.endswith(".h5"))
assert files == sorted(f for f in os.listdir(b) if f.endswith(".h5")), (files, os.listdir(b))
def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
for name in files:
    x, y = datasets(os.path.join(a, name)), datasets(os.path.join(b, name))
    assert x.keys() == y.keys(), (name, x.keys(), y.keys())
    for k in x:
        assert x[k].shape == y[k].shape and x[k].tobytes() == y[k].tobytes(), (name, k)
print("same:", ", ".join(files))
PY
}
run_both() { # name launcher... -- args
  local name=$1; shift
  for side in before after; do
    local bin=$before; [ $side = after ] && bin=$after
    "$@" "$bin" run -q --out "$work/$name-$side" "${args[@]}" > /dev/null
  done
  echo -n "$name: "; compare "$name" "$work/$name-before" "$work/$name-after"
}
for c in "${cases[@]}"; do
  IFS=: read -r label file extra <<< "$c"
  # shellcheck disable=SC2206
  args=("$file" $extra)
  for threads in 1 2; do
    args=("$file" $extra --threads "$threads"); run_both "$label-t$threads" env
  done
  args=("$file" $extra --threads 1); run_both "$label-np2" mpirun -np 2 --oversubscribe --bind-to none
done
for label in 2003 hh; do
  file=examples/izhikevich2003.toml; extra=""
  [ $label = hh ] && file=$work/hh.toml && extra="--duration 200ms"
  # shellcheck disable=SC2206
  args=("$file" $extra --backend gpu); run_both "$label-gpu" env
done
exit $failed
