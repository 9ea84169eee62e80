#!/usr/bin/env bash
# Many more seeds of every Raft scenario than CI runs (tests/sim/raft_sim_test.cc):
#   simulations/raft_sweep.sh [SEEDS_PER_SCENARIO=500] [JOBS=2]
# Prints failing seeds with the command that reproduces each, and a line per scenario with
# how many seeds passed and how long the sweep took. Exit status 1 if any seed failed.
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-500}
jobs=${2:-2}
bin=${SHOAL_SIM:-build/simulations/shoal-sim}
[[ -x $bin ]] || { echo "no $bin: build first (scripts/build.sh)" >&2; exit 2; }
status=0
for sc in simulations/scenarios/raft_*.toml; do
  start=$(date +%s)
  out=$("$bin" sim sweep "$sc" --seeds "1..$seeds" --jobs "$jobs")
  rc=$?
  grep -v ': PASS' <<<"$out" | grep -v ' seeds passed$' || true
  echo "$(basename "$sc"): $(tail -1 <<<"$out") in $(( $(date +%s) - start ))s"
  [[ $rc -eq 0 ]] || status=1
done
exit $status
