#!/usr/bin/env bash
# Installs what volley needs to build and test on Debian/Ubuntu: system packages (when
# missing; as root or with sudo) and a Python virtualenv with h5py for the layout test.
# Idempotent; prints what it does.
#
#   scripts/setup.sh          to build and run: OpenMPI, parallel HDF5 (+ serial, for the
#                             build without MPI), clang for rsmpi's bindings, fonts
#   scripts/setup.sh --test   also what the tests use: hdf5-tools, Slurm + munge, python3-venv
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(pkg-config clang libclang-dev libopenmpi-dev openmpi-bin libhdf5-openmpi-dev libhdf5-dev fonts-dejavu-core)
testing=false
[ "${1:-}" = --test ] && testing=true
# The GPU tests run on lavapipe, mesa's software Vulkan driver.
# The documentation's test opens every page in headless Chromium (scripts/check_site.py).
$testing && packages+=(hdf5-tools python3-venv slurmctld slurmd slurm-client munge mesa-vulkan-drivers libvulkan1 chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "volley setup: missing system packages: ${missing[*]}" >&2
    echo "volley setup: install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "volley setup: installing ${missing[*]}"
  $sudo apt-get update -q -o DPkg::Lock::Timeout=600
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "volley setup: cargo not found: install Rust (rustup) first" >&2
  exit 1
fi

$testing || exit 0

# Python with h5py and libsonata (the field's reader), used by tests/h5py_layout.rs to
# read our files with no code of ours; Selenium drives Chromium for the docs site's test;
# bmtk builds a SONATA circuit and NEST runs it beside volley (tests/sonata_bmtk.py;
# NEST's wheel wants numpy below 2.4).
venv=target/pyvenv
# maturin builds the Python package's wheel and pytest runs its tests (python/tests);
# PyNN 0.13 runs the PyNN backend's tests against pyNN.nest (pynn/tests).
if ! "$venv/bin/python" -c "import h5py, libsonata, selenium, bmtk, nest, maturin, pytest, pyNN" >/dev/null 2>&1; then
  echo "volley setup: creating $venv with h5py, libsonata, selenium, bmtk, NEST, maturin, pytest and PyNN"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check h5py "numpy<2.4" libsonata selenium bmtk nest-simulator "maturin>=1.8,<2" pytest "PyNN==0.13.0"
fi
# PyNN's example scripts (in its source distribution, not its wheel), run by pynn/tests.
if [ ! -f target/pynn-examples/examples/brunel.py ]; then
  mkdir -p target/pynn-examples
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: -d target/pynn-examples "PyNN==0.13.0"
  tar xzf target/pynn-examples/pynn-0.13.0.tar.gz -C target/pynn-examples --strip-components=1 pynn-0.13.0/examples
fi
