#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests (release build, once).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export VOLLEY_PYTHON="$PWD/target/pyvenv/bin/python"
cargo fmt --all -- --check
cargo clippy --release --all-targets --quiet -- -D warnings
# Benchmarks run once each in test mode (a smoke test), then the tests proper.
cargo test --release --benches
cargo test --release --lib --bins --tests
