#!/usr/bin/env bash
# The out-of-tree consumer test (ctest: consumer_test): install the main build into a temporary
# prefix, configure and build tests/consumer against it with find_package(perfgraph), install the
# consumer into the same prefix, run it from an unrelated directory and check that
#  - it plans a real model with the shipped learned model and with the analytical model,
#  - it found the shipped files in the prefix (PREFIX/share/perfgraph), not in the source tree,
#  - it links no LibTorch and no Halide,
#  - the installed `perfgraph` finds its helpers and data as well.
# Usage: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build_dir" --prefix "$prefix" > "$work/install.log"
cmake -S "$source_dir/tests/consumer" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$prefix" > "$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j2 > "$work/build.log" 2>&1 || { tail -n 60 "$work/build.log"; exit 1; }
cmake --install "$work/build" > /dev/null

model=$source_dir/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx
cd "$work"
out=$(env -u PERFGRAPH_DATA_DIR "$prefix/bin/plan_pass" "$model" input=1,3,16,16)
echo "$out"
fail() { echo "consumer_test: $*" >&2; exit 1; }
grep -q "^data_dir $prefix/share/perfgraph (executable)$" <<< "$out" \
  || fail "the consumer did not find the shipped files in $prefix/share/perfgraph"
grep -q "^planned " <<< "$out" || fail "no planned kernel"
grep -q "^total .* (learned)$" <<< "$out" || fail "no learned total"
grep -q "^analytical " <<< "$out" || fail "no analytical kernel"
if ldd "$prefix/bin/plan_pass" | grep -E "libtorch|libc10|libHalide|libLLVM"; then
  fail "the consumer links LibTorch or Halide"
fi

# The installed command line: perfgraph finds its helpers in libexec and its models in share.
"$prefix/bin/perfgraph" plan --json --cost-model learned --input-shape input=1,3,16,16 "$model" \
  > "$work/plan.json" || fail "installed perfgraph plan failed"
grep -q '"cost_model": "learned"' "$work/plan.json" || fail "installed plan did not use the learned model"
"$prefix/bin/perfgraph" calibrate --help | grep -q "^usage: perfgraph calibrate" \
  || fail "installed perfgraph calibrate --help"
"$prefix/bin/perfgraph" dataset repeat /nonexistent.pgd > "$work/repeat.log" 2>&1 && fail "repeat of a missing file succeeded"
grep -q "/nonexistent.pgd" "$work/repeat.log" || { cat "$work/repeat.log"; fail "dataset repeat did not run in perfgraph-measure"; }
echo "consumer_test: ok"
