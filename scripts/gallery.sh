#!/usr/bin/env bash
# Regenerates every figure of the documentation (README's and the gallery's) from the
# examples, with the volley built here: each is run and drawn as the gallery page says.
#
#   scripts/gallery.sh [DIR]     figures into DIR (default book/src/figures); runs under out/gallery
#
# scripts/docs.sh runs it before building the site, so the site's figures are always the
# ones this volley draws. About half a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
figures=$(realpath -m "${1:-book/src/figures}")
volley=${VOLLEY:-target/release/volley}
[ -x "$volley" ] || cargo build --release --quiet
work=out/gallery
rm -rf "$work"
mkdir -p "$work" "$figures"
run() { "$volley" run "$@" --quiet; }

# The Izhikevich (2003) network: README's figure.
run examples/izhikevich2003.toml --out "$work/izhikevich2003"
cp "$work/izhikevich2003/raster.png" "$figures/raster_izhikevich2003.png"

# An example with a report of v appended (a TOML table on stdin), run into $work/NAME.
with_report() {
  local example=$1 name=$2
  { cat "$example"; echo; cat; } >"$work/$name.toml"
  run "$work/$name.toml" --out "$work/$name"
}

# The same with three neurons' v over the first 200 ms (the quick start's report).
with_report examples/izhikevich2003.toml izhikevich2003_v <<'TOML'
[[output.report]]
file = "v.h5"
variable = "v"
neurons = { ids = [0, 3, 17] }
stop = "200 ms"
TOML
"$volley" plot "$work/izhikevich2003_v/spikes.h5" --report "$work/izhikevich2003_v/v.h5" --neurons 0,3 \
  -o "$figures/izhikevich2003_traces.png"

# Its rate file (5 ms bins) drawn alone, and the distributions of its intervals.
cp examples/izhikevich2003.toml "$work/izhikevich2003_rates.toml"
printf 'rates = "rates.h5"\nrate_bin = "5 ms"\n' >>"$work/izhikevich2003_rates.toml"
run "$work/izhikevich2003_rates.toml" --out "$work/izhikevich2003_rates"
"$volley" plot "$work/izhikevich2003_rates/rates.h5" -o "$figures/rates_izhikevich2003.png"
"$volley" stats "$work/izhikevich2003/spikes.h5" --plot "$figures/isi_izhikevich2003.png" >/dev/null

# The sparse example, 10,000 neurons with random delays of 1-20 ms.
run examples/izhikevich_sparse.toml --out "$work/izhikevich_sparse"
cp "$work/izhikevich_sparse/raster.png" "$figures/raster_izhikevich_sparse.png"

# The Potjans-Diesmann microcircuit at a tenth of its neurons and in-degrees, published
# compensation, Poisson background, 1 s.
python3 benches/peers/microcircuit_model.py --n-scaling 0.1 --k-scaling 0.1 --out "$work/microcircuit_0.1.toml"
run "$work/microcircuit_0.1.toml" --duration 1s --out "$work/microcircuit_0.1"
cp "$work/microcircuit_0.1/raster.png" "$figures/raster_microcircuit_0.1.png"

# Hodgkin-Huxley: the classic 1952 axon's v, and the E/I network with conductance synapses.
with_report examples/hh_classic.toml hh_classic <<'TOML'
[[output.report]]
file = "v.h5"
variable = "v"
neurons = { ids = [1, 5, 9] }
interval = "0.1 ms"
TOML
"$volley" plot "$work/hh_classic/spikes.h5" --report "$work/hh_classic/v.h5" -o "$figures/hh_classic_traces.png"
run examples/hh_network.toml --out "$work/hh_network"
cp "$work/hh_network/raster.png" "$figures/raster_hh_network.png"

ls -l "$figures"
