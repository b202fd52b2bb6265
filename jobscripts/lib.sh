# Shared by the job scripts (sourced, not submitted).

# The volley binary: $VOLLEY, else the release build of this checkout, else PATH.
if [ -z "${VOLLEY:-}" ]; then
  if [ -x target/release/volley ]; then VOLLEY=$PWD/target/release/volley; else VOLLEY=$(command -v volley || echo volley); fi
fi
export VOLLEY

# mpirun under root needs these; harmless otherwise (srun ignores them).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Where this job writes: $OUT_ROOT/<job id>[_<array task>].
job_output_dir() {
  local id=${SLURM_ARRAY_JOB_ID:-${SLURM_JOB_ID:-local-$$}}
  [ -n "${SLURM_ARRAY_TASK_ID:-}" ] && id=${id}_${SLURM_ARRAY_TASK_ID}
  local dir=${OUT_ROOT:-runs}/$id
  mkdir -p "$dir"
  echo "$dir"
}

# Stopping in time: the scripts ask Slurm (#SBATCH --signal=USR1@120) to send SIGUSR1
# to the job step's tasks two minutes before the time limit. volley then stops all
# ranks at the same step, completes spikes.h5 and the raster, and exits with 138
# (128 + SIGUSR1). SIGTERM works the same way when it reaches volley first, but srun,
# receiving SIGTERM itself at the limit, kills its tasks outright: rely on USR1.

# One run of a scaling study (strong_scaling.sh, weak_scaling.sh): array task i runs on
# the i-th entry of RANKS_LIST with `srun --ntasks`; the network has the size that
# `neurons_for RANKS` (a function the script defines) prints.
scaling_run() {
  local kind=$1
  local -a list
  read -r -a list <<<"${RANKS_LIST:-1 2 4 8 16 32 64}"
  local task=${SLURM_ARRAY_TASK_ID:-0}
  if [ "$task" -ge "${#list[@]}" ]; then
    echo "array task $task: RANKS_LIST has only ${#list[@]} entries (${list[*]})" >&2
    return 1
  fi
  local ranks=${list[$task]}
  local n
  n=$(neurons_for "$ranks")
  local exc=$((n * 4 / 5))
  local inh=$((n - exc))
  local csv=${CSV:-runs/${kind}_scaling_${SLURM_ARRAY_JOB_ID:-local}.csv}
  mkdir -p "$(dirname "$csv")"
  local out
  out=$(job_output_dir)
  local -a files=()
  [ "${KEEP_SPIKES:-0}" = 1 ] || files=(--set 'output.spikes=""' --set 'output.raster=""')
  # Beside the line of the study, each rank's memory and phase times: which rank sets
  # the pace, and why.
  local per_rank=${csv%.csv}_ranks_${ranks}.csv
  echo "volley $kind scaling: $ranks ranks x ${SLURM_CPUS_PER_TASK:-1} threads, N = $n, CSV $csv, per rank $per_rank"
  # shellcheck disable=SC2086 # VOLLEY_ARGS is a list of words
  srun --mpi="${SRUN_MPI:-pmix}" --ntasks="$ranks" "$VOLLEY" run "${MODEL:-examples/izhikevich_sparse.toml}" -q \
    --duration "${DURATION:-1 s}" --set population.exc.size=$exc --set population.inh.size=$inh \
    "${files[@]}" --out "$out" --report-csv "$csv" --ranks-csv "$per_rank" ${VOLLEY_ARGS:-}
  cat "$per_rank"
}
