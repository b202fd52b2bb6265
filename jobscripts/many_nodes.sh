#!/usr/bin/env bash
# Many nodes: one MPI rank per socket (or per node), CPU threads inside each rank.
# Ranks exchange spike ids once per epoch and write one spike file together (parallel
# HDF5); the file is identical for any number of ranks.
#
#   sbatch --nodes=16 --ntasks-per-node=2 --cpus-per-task=32 jobscripts/many_nodes.sh \
#          examples/izhikevich_sparse.toml --set population.exc.size=8000000 --set population.inh.size=2000000
#
# Ranks: SLURM_NTASKS (srun starts them; rank = SLURM_PROCID through PMIx). Threads per
# rank: SLURM_CPUS_PER_TASK. One rank per socket keeps each rank's memory on its own
# NUMA node: use --ntasks-per-socket=1 where the cluster defines sockets, or
# --ntasks-per-node=<sockets>. MPI: srun --mpi=pmix (Debian's OpenMPI), override with
# SRUN_MPI. Output: $OUT_ROOT/<job id>/ with spikes.h5, raster.png, summary.csv
# (per-phase timers of every rank: min/median/max in the log).
#SBATCH --job-name=volley-many-nodes
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=1
#SBATCH --time=01:00:00
#SBATCH --signal=USR1@120
#SBATCH --output=volley-%j.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
source jobscripts/lib.sh
model=${1:-examples/izhikevich_sparse.toml}
shift || true
out=$(job_output_dir)
echo "volley many nodes: job ${SLURM_JOB_ID:-none}, ${SLURM_NNODES:-?} nodes, ${SLURM_NTASKS:-?} ranks x ${SLURM_CPUS_PER_TASK:-?} threads, output $out"
srun --mpi="${SRUN_MPI:-pmix}" --cpu-bind=cores "$VOLLEY" run "$model" --out "$out" --report-csv "$out/summary.csv" "$@"
