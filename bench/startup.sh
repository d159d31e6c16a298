#!/usr/bin/env bash
# Whole-process start-up and peak memory of commands that neither train nor compile kernels (issue:
# `perfgraph` must not load LibTorch or Halide for them). Each command runs REPEATS times (default 5);
# prints the median wall time and the median peak resident set (GNU time's %M) per command, and the
# number of shared libraries the executable maps (ldd).
# Usage: bench/startup.sh [BUILD_DIR] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
repeats=${2:-5}
[[ -x /usr/bin/time ]] || { echo "startup.sh: needs GNU time (Debian package 'time')" >&2; exit 2; }

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

run() {
  local label=$1; shift
  local walls=() rss=()
  for _ in $(seq "$repeats"); do
    local out
    /usr/bin/time -f "%e %M" -o "$tmp" "$@" > /dev/null 2>&1 || true
    out=$(tail -n 1 "$tmp")
    walls+=("${out%% *}")
    rss+=("${out##* }")
  done
  printf "%-44s wall %6.3f s   peak RSS %6.1f MiB\n" "$label" \
    "$(printf '%s\n' "${walls[@]}" | median)" \
    "$(printf '%s\n' "${rss[@]}" | median | awk '{print $1 / 1024}')"
}

for exe in perfgraph perfgraph-measure perfgraph-train; do
  printf "%-44s %d shared libraries\n" "$exe" "$(ldd "$build/$exe" | wc -l)"
done
run "perfgraph inspect squeezenet1_1.onnx" "$build/perfgraph" inspect data/corpus/squeezenet1_1.onnx
run "perfgraph plan resnet50.onnx (learned)" "$build/perfgraph" plan data/corpus/resnet50.onnx
run "perfgraph plan resnet50.onnx (analytical)" "$build/perfgraph" plan --cost-model analytical \
  data/corpus/resnet50.onnx
run "perfgraph help" "$build/perfgraph" help
