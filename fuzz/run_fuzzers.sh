#!/usr/bin/env bash
# Runs the libFuzzer targets one after another (never two at once), each for SECONDS, niced, on the
# corpora fuzz/seed_corpora.sh gathered; new inputs are added to BUILD_DIR/corpus/<corpus>/, crashes
# go to BUILD_DIR/artifacts/<target>/, the log to BUILD_DIR/logs/<target>.log (its last `cov:` line and
# the final stats are what README "Fuzzing" reports).
#
# Fork mode with one job (-fork=1 -ignore_crashes=1 ...): a crash, OOM or timeout is saved and the run
# goes on, so one run finds every failure it can.
#
#   fuzz/run_fuzzers.sh [SECONDS=600] [BUILD_DIR=build-fuzz] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
build="${2:-build-fuzz}"
shift 2 2>/dev/null || shift $#
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(hlo_parser onnx_import record_file weights runtimes_csv target_description)
# Inputs longer than this are cut (the shipped weights file is 400 KB; the small synthetic seeds of
# fuzz/make_weights_seeds.cc are ~7 KB).
declare -A max_len=([hlo_parser]=16384 [onnx_import]=32768 [record_file]=32768 [weights]=16384
                    [runtimes_csv]=4096 [target_description]=8192)
declare -A corpus=([hlo_parser]=hlo [onnx_import]=onnx [record_file]=record_file [weights]=weights
                   [runtimes_csv]=runtimes_csv [target_description]=target_description)
mkdir -p "$build/logs"
for t in "${targets[@]}"; do
  mkdir -p "$build/artifacts/$t"
  echo "== ${t}_fuzzer for ${seconds}s"
  nice -n 15 "$build/fuzz/${t}_fuzzer" "$build/corpus/${corpus[$t]}" \
    -max_total_time="$seconds" -max_len="${max_len[$t]}" -rss_limit_mb=2048 -timeout=10 \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t/" > "$build/logs/$t.log" 2>&1
  echo "exit $?; $(grep -E '^#[0-9]+.*cov:' "$build/logs/$t.log" | tail -n 1)"
  grep -E 'SUMMARY' "$build/logs/$t.log" | sort | uniq -c | head -n 10
  ls "$build/artifacts/$t"
done
