#!/usr/bin/env bash
# Weak scaling: N_PER_RANK neurons per rank (default 100,000), 1000 synapses each, on
# 1, 2, 4, ... ranks: one job-array task per rank count, each appending one line of
# figures to one CSV. Constant time per run means perfect weak scaling.
#
#   sbatch --ntasks=64 --array=0-6 jobscripts/weak_scaling.sh
#   N_PER_RANK=1000000 RANKS_LIST="64 256 1024" sbatch --ntasks=1024 --array=0-2 jobscripts/weak_scaling.sh
#
# Array task i runs on the i-th entry of RANKS_LIST (default "1 2 4 8 16 32 64") with
# srun --ntasks=<that many>: every task of the array is granted --ntasks (the largest
# count), and uses part of it.
#
# Model: MODEL (default examples/izhikevich_sparse.toml, sized with --set, 4:1
# excitatory:inhibitory), DURATION (default 1 s), THREADS per rank (SLURM_CPUS_PER_TASK),
# extra volley options in VOLLEY_ARGS. CSV: CSV (default runs/weak_scaling_<array job>.csv),
# columns as `volley run --report-csv` writes them (ranks, threads, neurons, build_s,
# simulate_s, per-phase maxima over ranks, exchange per epoch, peak memory ...).
# Spike files are not written (the study is about time); set KEEP_SPIKES=1 to keep them.
#SBATCH --job-name=volley-weak
#SBATCH --ntasks=8
#SBATCH --cpus-per-task=1
#SBATCH --array=0-3
#SBATCH --time=01:00:00
#SBATCH --signal=USR1@120
#SBATCH --output=volley-weak-%A_%a.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
source jobscripts/lib.sh
neurons_for() { echo $(( ${N_PER_RANK:-100000} * $1 )); }
scaling_run weak
