#!/usr/bin/env bash
# A long run in pieces, each within the wall-time limit: Slurm sends SIGUSR1 two minutes
# before the limit (--signal=USR1@120); volley finishes its epoch, writes a checkpoint,
# completes its outputs and exits with 75; this script then requeues the job, and the
# next piece resumes from the checkpoint, appending to the same outputs, until the
# model's duration is reached. The outputs are those of one uninterrupted run, byte for
# byte, whatever the number of pieces (and of tasks, if a later job resumes with another).
#
#   sbatch --time=04:00:00 jobscripts/long_run.sh examples/hh_five_current.toml --duration 50s
#   sbatch --ntasks=4 --time=01:00:00 jobscripts/long_run.sh MODEL [volley run options...]
#
# Output and the checkpoint: $RUN_DIR, default $OUT_ROOT/<job id>/ (the job id stays the
# same across requeues). A new job given RUN_DIR of an earlier one goes on from its
# checkpoint, on any number of tasks (e.g. to extend a finished run with a longer
# --duration). Checkpoints are also written every CHECKPOINT_EVERY of simulated time
# (default 10s): what a job killed without warning (node failure) goes on from.
# Environment: VOLLEY, OUT_ROOT as for the other scripts; SRUN_MPI (default pmix).
#SBATCH --job-name=volley-long-run
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
#SBATCH --signal=USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=volley-%j.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
source jobscripts/lib.sh
model=${1:?usage: sbatch jobscripts/long_run.sh MODEL [volley run options...]}
shift
out=${RUN_DIR:-$(job_output_dir)}
mkdir -p "$out"
checkpoint=$out/checkpoint.h5
resume=()
[ -f "$checkpoint" ] && resume=(--resume "$checkpoint")
echo "volley long run: job ${SLURM_JOB_ID:-none} piece $((${SLURM_RESTART_COUNT:-0} + 1)), ${SLURM_NTASKS:-1} tasks x ${SLURM_CPUS_PER_TASK:-?} threads, output $out${resume:+, resuming from $checkpoint}"
code=0
srun --mpi="${SRUN_MPI:-pmix}" "$VOLLEY" run "$model" --out "$out" --checkpoint "$checkpoint" \
  --checkpoint-every "${CHECKPOINT_EVERY:-10s}" --report-csv "$out/summary.csv" "${resume[@]}" "$@" || code=$?
if [ "$code" -eq 75 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  echo "volley long run: checkpoint written; requeueing job $SLURM_JOB_ID to go on from it"
  scontrol requeue "$SLURM_JOB_ID"
  exit 0
fi
[ "$code" -eq 0 ] && echo "volley long run: complete"
exit "$code"
