#!/usr/bin/env bash
# Runs the already-built test suite (build/) several times in a row beside busy loops, the way CI's
# loaded 2-core machine runs it, and reports each run's result and wall time (README "Reliability").
#   scripts/test_under_load.sh [RUNS=3] [BUSY_LOOPS=2] [CTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
loops=${2:-2}
shift $(( $# >= 2 ? 2 : $# ))
[[ -d build ]] || { echo "test_under_load: build/ is missing; run scripts/setup.sh first" >&2; exit 2; }

pids=()
stop_loops() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_loops EXIT
for (( i = 0; i < loops; ++i )); do
  ( while :; do :; done ) &
  pids+=($!)
done

failed=0
for (( r = 1; r <= runs; ++r )); do
  start=$(date +%s)
  if ctest --test-dir build --output-on-failure -j"$(nproc)" "$@" > "build/test_under_load_$r.log" 2>&1; then
    status=passed
  else
    status=FAILED
    failed=1
  fi
  summary=$(grep -E "tests passed|tests failed" "build/test_under_load_$r.log" | tail -n 1)
  echo "run $r of $runs beside $loops busy loops: $status in $(( $(date +%s) - start )) s ($summary)"
  [[ $status == FAILED ]] && grep -E "^\s+[0-9]+ - " "build/test_under_load_$r.log" || true
done
exit $failed
