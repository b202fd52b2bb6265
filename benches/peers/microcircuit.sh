#!/usr/bin/env bash
# The Potjans–Diesmann microcircuit at full scale, volley and NEST 3.10 side by side on
# this machine, in one run: 500 ms of transient, then BIO_S biological seconds, no
# recording. volley on THREADS threads; NEST on NEST_THREADS virtual processes (NEST 3.10
# refuses the full model on 2: "at most 134217726 connections supported per virtual
# process and synapse model"), on the same cores.
#
#   benches/peers/microcircuit.sh [BIO_S] [THREADS] [NEST_THREADS]    (default 10 2 4)
#
# volley's cost of the BIO_S seconds is its simulate time for 0.5 s + BIO_S less that
# for 0.5 s (the same seed: the same first 0.5 s); NEST's is its nest.Run of BIO_S.
# Peak memory from /usr/bin/time -v. Synaptic events per biological second are counted
# from volley's rates and the model's synapse counts.
set -euo pipefail
cd "$(dirname "$0")/../.."
bio=${1:-10}
threads=${2:-2}
nest_threads=${3:-4}
venv=benches/peers/.venv
if ! "$venv/bin/python" -c "import nest" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "numpy<2.4" nest-simulator
fi
cargo build --release --quiet
model=examples/microcircuit.toml
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $("$venv/bin/python" -c 'import nest; print("NEST", nest.__version__)' 2>/dev/null | tail -1)"

volley_run() { # duration -> the summary and /usr/bin/time's peak
  /usr/bin/time -f "maxrss_kb=%M" target/release/volley run "$model" --threads "$threads" --duration "$1" \
    --out "$(mktemp -d)" --set 'output.spikes=""' --set 'output.raster=""' -q 2>&1
}
field() { grep -o "$1 [0-9.]* m\?s" | head -1; }
seconds() { # "build 12.3 s" or "simulate 456 ms" -> seconds
  awk '{print ($3 == "ms") ? $2 / 1000 : $2}'
}
short=$(volley_run 500ms)
long=$(volley_run "$(awk "BEGIN {print $bio + 0.5}")s")
echo "$long"
build=$(echo "$long" | field build | seconds)
sim_long=$(echo "$long" | field simulate | seconds)
sim_short=$(echo "$short" | field simulate | seconds)
rss=$(echo "$long" | grep -o 'maxrss_kb=[0-9]*' | cut -d= -f2)
sim=$(awk "BEGIN {print $sim_long - $sim_short}")
# Events per biological second: each population's rate times its neurons times the
# synapses it sends (sum over the projections it is the source of, from the model file).
events=$(python3 - "$model" "$long" <<'EOF'
import re, sys, tomllib
model = tomllib.load(open(sys.argv[1], "rb"))
rates = dict((m[0], float(m[1])) for m in re.findall(r"(L\d+[EI]) ([0-9.]+) Hz", sys.argv[2]))
size = {p["name"]: p["size"] for p in model["population"]}
out = {}
for p in model["projection"]:
    out[p["source"]] = out.get(p["source"], 0) + p["connection"]["n"]
print(sum(rates[s] * out[s] for s in out))
EOF
)
echo "volley threads=$threads build_s=$build simulate_s=$sim bio_s=$bio maxrss_kb=$rss events_per_bio_s=$events"

nest=$(/usr/bin/time -f "maxrss_kb=%M" "$venv/bin/python" benches/peers/nest_microcircuit.py --threads "$nest_threads" \
  --t-presim 500 --t-sim "$((bio * 1000))" 2>&1 | grep -E "^nest|maxrss_kb=" | tr '\n' ' ')
echo "$nest"
nbuild=$(echo "$nest" | grep -o 'build_s=[0-9.]*' | cut -d= -f2)
nsim=$(echo "$nest" | grep -o 'simulate_s=[0-9.]*' | cut -d= -f2)
nrss=$(echo "$nest" | grep -o 'maxrss_kb=[0-9]*' | tail -1 | cut -d= -f2)

echo
echo "| simulator | threads | build | per biological second | real-time factor | per synaptic event | peak memory |"
echo "|---|---|---|---|---|---|---|"
row() { # name threads build sim rss
  awk -v n="$1" -v t="$2" -v b="$3" -v s="$4" -v r="$5" -v bio="$bio" -v ev="$events" 'BEGIN {
    printf "| %s | %d | %.1f s | %.2f s | %.2f | %.1f ns | %.2f GB |\n", n, t, b, s / bio, s / bio, s / bio / ev * 1e9, r / 1e6 }'
}
row volley "$threads" "$build" "$sim" "$rss"
row "NEST" "$nest_threads" "$nbuild" "$nsim" "$nrss"
awk -v a="$sim" -v b="$nsim" -v ra="$rss" -v rb="$nrss" -v ba="$build" -v bb="$nbuild" 'BEGIN {
  printf "volley/NEST: %.1fx faster per biological second, %.1fx faster build, %.1fx less peak memory\n", b / a, bb / ba, rb / ra }'
