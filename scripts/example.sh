#!/usr/bin/env bash
# Builds volley and runs the Izhikevich (2003) network: writes
# out/izhikevich2003/spikes.h5 and out/izhikevich2003/raster.png, then prints statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet
target/release/volley run examples/izhikevich2003.toml "$@"
target/release/volley stats out/izhikevich2003/spikes.h5
