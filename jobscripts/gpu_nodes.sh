#!/usr/bin/env bash
# GPU nodes: one MPI rank per GPU, a few CPU threads per rank for building synapses and
# driving the device. Slurm gives each task its own GPU (--gpus-per-task=1 sets
# CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES per task).
#
#   sbatch --nodes=4 --ntasks-per-node=4 jobscripts/gpu_nodes.sh examples/izhikevich_sparse.toml ...
#
# Each rank runs on the GPU backend (BACKEND_ARGS, default `--backend gpu`): where Slurm
# confines each task to its GPU (ConstrainDevices) the rank sees one adapter; otherwise
# rank r of a node takes adapter r mod (the node's GPUs); `--gpu N` overrides. A node
# without a hardware GPU runs on a software driver if one is installed (lavapipe: slow,
# for tests), else stops with an error. Output: $OUT_ROOT/<job id>/.
#SBATCH --job-name=volley-gpu
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
#SBATCH --signal=USR1@120
#SBATCH --output=volley-%j.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
source jobscripts/lib.sh
model=${1:-examples/izhikevich_sparse.toml}
shift || true
out=$(job_output_dir)
echo "volley GPU nodes: job ${SLURM_JOB_ID:-none}, ${SLURM_NTASKS:-?} ranks, GPUs ${CUDA_VISIBLE_DEVICES:-${SLURM_JOB_GPUS:-none}}, output $out"
# shellcheck disable=SC2086 # BACKEND_ARGS is a list of words
srun --mpi="${SRUN_MPI:-pmix}" "$VOLLEY" run "$model" ${BACKEND_ARGS:---backend gpu} --out "$out" --report-csv "$out/summary.csv" "$@"
