#!/usr/bin/env bash
# Plan a scaling study before spending its allocation: one array task per rank count,
# each a dry run (`volley run --dry-run RANKS`) on one node's cores. A dry run builds
# the busiest rank's share of a RANKS-rank run (its neurons, the synapses onto them,
# its buffers) and simulates it with the other ranks' spikes drawn as Poisson trains;
# it writes that rank's line (memory by kind, peak resident memory, build, update,
# delivery, the exchange by the alpha-beta model) to a CSV per rank count. What a rank
# needs at 1024 ranks is measured on one node.
#
#   N=100000000 RANKS_LIST="64 256 1024 4096" sbatch --array=0-3 --cpus-per-task=32 jobscripts/dry_run.sh
#   N_PER_RANK=100000 RANKS_LIST="64 256 1024" sbatch --array=0-2 jobscripts/dry_run.sh   # weak scaling
#
# Model: MODEL (default examples/izhikevich_sparse.toml, sized with --set, 4:1
# excitatory:inhibitory) with N neurons, or N_PER_RANK per rank; DURATION (default
# 100 ms); RATE (default 7.5 Hz) or RATES_FROM (an earlier run's spike file); ALPHA_US
# and BETA_NS for the exchange model (defaults 1 and 2.4, BENCHMARKS.md "The exchange
# alone"); extra volley options in VOLLEY_ARGS. Output: CSV_PREFIX (default
# runs/dry_run_<array job>), one file CSV_PREFIX_<ranks>.csv per task, and the summary
# in the job log.
#SBATCH --job-name=volley-dry-run
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --array=0-3
#SBATCH --time=01:00:00
#SBATCH --output=volley-dry-run-%A_%a.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
source jobscripts/lib.sh
read -r -a list <<<"${RANKS_LIST:-64 256 1024 4096}"
task=${SLURM_ARRAY_TASK_ID:-0}
if [ "$task" -ge "${#list[@]}" ]; then
  echo "array task $task: RANKS_LIST has only ${#list[@]} entries (${list[*]})" >&2
  exit 1
fi
ranks=${list[$task]}
n=${N:-$(( ${N_PER_RANK:-100000} * ranks ))}
exc=$((n * 4 / 5))
inh=$((n - exc))
prefix=${CSV_PREFIX:-runs/dry_run_${SLURM_ARRAY_JOB_ID:-local}}
mkdir -p "$(dirname "$prefix")"
rates=(--expected-rate "${RATE:-7.5}")
[ -z "${RATES_FROM:-}" ] || rates=(--rates-from "$RATES_FROM")
echo "volley dry run: rank of $ranks, N = $n, ${SLURM_CPUS_PER_TASK:-2} threads, CSV ${prefix}_${ranks}.csv"
# shellcheck disable=SC2086 # VOLLEY_ARGS is a list of words
"$VOLLEY" run "${MODEL:-examples/izhikevich_sparse.toml}" --dry-run "$ranks" --threads "${SLURM_CPUS_PER_TASK:-2}" \
  --duration "${DURATION:-100 ms}" --set population.exc.size=$exc --set population.inh.size=$inh \
  "${rates[@]}" --exchange-alpha-us "${ALPHA_US:-1}" --exchange-beta-ns "${BETA_NS:-2.4}" \
  --ranks-csv "${prefix}_${ranks}.csv" ${VOLLEY_ARGS:-}
