#!/usr/bin/env bash
# Epoch time of `perfgraph train` with 1 process and with 2 data-parallel processes on this machine
# (`--distributed`, c10d / Gloo over 127.0.0.1), and the all-reduce time per step. Trains the shipped
# reference datasets for EPOCHS epochs (default 2) in three set-ups:
#   1 process, --threads 1;  1 process, --threads 2;  2 processes (ranks 0 and 1), --threads 1 each.
# Prints rank 0's median epoch time per set-up and, for 2 processes, its all-reduce seconds per epoch
# and per step (rank 0's all-reduce time includes waiting for the slower rank). Run it on an idle
# machine: every set-up uses both cores.
# Usage: bench/distributed_train.sh [BUILD_DIR] [EPOCHS] [MASTER_PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
epochs=${2:-2}
port=${3:-29531}
data=data/reference/tile.pgd,data/reference/fusion.pgd
split=data/reference/split.txt
for f in "$build/perfgraph" data/reference/tile.pgd data/reference/fusion.pgd "$split"; do
  [[ -e $f ]] || { echo "distributed_train.sh: $f is missing" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "n/a"; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Parses rank 0's progress lines, "epoch N/M  loss ...  12.3s (all-reduce 4.56s, 7.8 ms/step)  ETA ...".
report() {
  local label=$1 log=$2 wall=$3
  local seconds allreduce per_step
  if ! grep -qE '^epoch [0-9]+/' "$log"; then
    echo "distributed_train.sh: $label printed no epoch line:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  seconds=$(grep -oE '^epoch [0-9]+/[0-9]+ .* ([0-9.]+)s( \(all-reduce|  ETA)' "$log" |
            grep -oE '[0-9.]+s( \(all-reduce|  ETA)' | grep -oE '^[0-9.]+' | median)
  allreduce=$({ grep -oE 'all-reduce [0-9.]+s' "$log" || true; } | { grep -oE '[0-9.]+' || true; } | median)
  per_step=$({ grep -oE '[0-9.]+ ms/step' "$log" || true; } | { grep -oE '^[0-9.]+' || true; } |
             median)
  printf "%-34s epoch %7s s   all-reduce %6s s/epoch  %6s ms/step   whole run %5.1f s\n" \
    "$label" "$seconds" "$allreduce" "$per_step" "$wall"
}

common=(train --dataset "$data" --split "$split" --epochs "$epochs" --patience 1000)

run_single() {
  local threads=$1 log=$tmp/single_$1.log start end
  start=$(date +%s.%N)
  "$build/perfgraph" "${common[@]}" --threads "$threads" --out "$tmp/single_$threads" \
    > /dev/null 2> "$log"
  end=$(date +%s.%N)
  report "1 process, --threads $threads" "$log" "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')"
}

run_two() {
  local start end pid1
  start=$(date +%s.%N)
  RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$build/perfgraph" "${common[@]}" --threads 1 --distributed --out "$tmp/two_r1" \
    > /dev/null 2> "$tmp/two_r1.log" &
  pid1=$!
  RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$build/perfgraph" "${common[@]}" --threads 1 --distributed --out "$tmp/two_r0" \
    > /dev/null 2> "$tmp/two_r0.log"
  wait "$pid1"
  end=$(date +%s.%N)
  report "2 processes, --threads 1 each" "$tmp/two_r0.log" "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')"
}

echo "perfgraph train, $epochs epochs of $data ($(nproc) CPUs)"
run_single 1
run_single 2
run_two
