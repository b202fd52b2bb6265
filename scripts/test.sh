#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests (release build, once),
# MPI runs under mpirun, the job scripts under a one-node Slurm started here, and the
# documentation site (scripts/docs.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export VOLLEY_PYTHON="$PWD/target/pyvenv/bin/python"
# mpirun as root (CI containers) needs these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# lavapipe (the GPU tests' driver) wants a private runtime directory.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
  export XDG_RUNTIME_DIR="$PWD/target/xdg-runtime"
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi
# tests/slurm.rs starts a one-node Slurm; stop it however the tests end.
trap 'scripts/slurm-ci.sh stop >/dev/null 2>&1 || true' EXIT
# The build without MPI (serial HDF5, one process), held to the same spikes by tests/mpi.rs.
serial_hdf5=$(pkg-config --variable=prefix hdf5-serial 2>/dev/null || true)
[ -d /usr/lib/x86_64-linux-gnu/hdf5/serial ] && serial_hdf5=/usr/lib/x86_64-linux-gnu/hdf5/serial
HDF5_DIR=$serial_hdf5 cargo build --release --quiet --no-default-features --target-dir target/no-mpi --bin volley
export VOLLEY_NO_MPI_BIN="$PWD/target/no-mpi/release/volley"
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets --quiet -- -D warnings
# Benchmarks run once each in test mode (a smoke test), then the tests proper.
cargo test --release --benches
cargo test --release --lib --bins --tests
# The Python package: its wheel built as `pip install ./python` builds it (the same
# release build of the core), installed in the test virtualenv, and its tests run
# (python/tests: the API, and 2 ranks under mpirun).
rm -rf target/wheels
"$VOLLEY_PYTHON" -m maturin build --release --quiet -m python/Cargo.toml --out target/wheels
"$VOLLEY_PYTHON" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps target/wheels/volley-*.whl
"$VOLLEY_PYTHON" -m pytest -q python/tests
# The PyNN backend (pynn/: pyNN.volley, its own package), against pyNN.nest.
"$VOLLEY_PYTHON" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./pynn
"$VOLLEY_PYTHON" -m pytest -q pynn/tests
# The documentation site: built, its links checked, every page opened in headless
# Chromium, and the commands of README.md, the quick start and the tutorials run as written.
scripts/docs.sh
