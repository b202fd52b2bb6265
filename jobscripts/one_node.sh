#!/usr/bin/env bash
# One node, one process, CPU threads: the simplest volley batch job.
#
#   sbatch jobscripts/one_node.sh [MODEL] [volley run options...]
#   sbatch --cpus-per-task=32 --time=02:00:00 jobscripts/one_node.sh examples/izhikevich_sparse.toml \
#          --set population.exc.size=800000 --set population.inh.size=200000
#
# Threads: SLURM_CPUS_PER_TASK (volley reads it). Output: $OUT_ROOT/<job id>/ (spikes.h5,
# raster.png, summary.csv). Two minutes before the time limit Slurm sends SIGUSR1
# (--signal=USR1@120): volley stops at the next progress point, completes the spike file
# (valid, holding every spike up to then) and exits with 138. Environment: VOLLEY (the binary, default target/release/volley or
# `volley` on PATH), OUT_ROOT (default runs/).
#SBATCH --job-name=volley-one-node
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --time=00:30:00
#SBATCH --signal=USR1@120
#SBATCH --output=volley-%j.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
source jobscripts/lib.sh
model=${1:-examples/izhikevich2003.toml}
shift || true
out=$(job_output_dir)
echo "volley one node: job ${SLURM_JOB_ID:-none}, ${SLURM_CPUS_PER_TASK:-?} threads, model $model, output $out"
srun --ntasks=1 "$VOLLEY" run "$model" --out "$out" --report-csv "$out/summary.csv" "$@"
