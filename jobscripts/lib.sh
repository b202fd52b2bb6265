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

# Runs a job step in the background and waits for it, so that a signal sent to the
# batch shell (--signal=B:TERM@60) is passed on to the step at once: bash runs traps
# only between foreground commands.
run_step() {
  "$@" &
  local pid=$!
  trap 'kill -TERM $pid 2>/dev/null' TERM USR1
  local rc=0
  wait $pid || rc=$?
  # A trapped signal interrupts wait; wait again for the step's own exit code.
  if kill -0 $pid 2>/dev/null; then wait $pid || rc=$?; fi
  trap - TERM USR1
  return $rc
}
