#!/usr/bin/env bash
# Gathers the seed corpora of the libFuzzer targets (fuzz/CMakeLists.txt) from the files the project
# ships, into BUILD_DIR/corpus/<target>/ (default BUILD_DIR: build-fuzz). Idempotent; libFuzzer adds
# the inputs it finds to the same directories.
#
#   fuzz/seed_corpora.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build-fuzz}/corpus"
mkdir -p "$out"/{onnx,hlo,record_file,weights,runtimes_csv,target_description}

# ONNX: the test models, the CLI's (including the malformed ones) and the small corpus models
# (graph-only exports under 32 KiB; the large ones only slow every execution down).
cp tests/testdata/onnx/*.onnx "$out/onnx/"
for f in tests/testdata/cli/*.onnx; do cp "$f" "$out/onnx/cli_$(basename "$f")"; done
find data/corpus -name '*.onnx' -size -32k -exec cp {} "$out/onnx/" \;

# HLO text: the parser's test inputs (well-formed and malformed) and the bring-your-own modules.
cp tests/testdata/hlo/*.hlo tests/testdata/byo/*.hlo "$out/hlo/"

# Record files: no small dataset is shipped, so the first 2, 8 and 32 KiB of the shipped ones (a
# complete header, some complete records, then a torn tail the reader must skip).
for f in data/outside/fusion.pgd data/outside/tile.pgd data/tune/resnet18.pgd \
         data/reference/v1/fusion.pgd data/reference/v1/tile.pgd; do
  [[ -f "$f" ]] || continue
  stem=$(echo "${f#data/}" | tr '/' '_')
  for kib in 2 8 32; do head -c $((kib * 1024)) "$f" > "$out/record_file/${stem%.pgd}_${kib}k.pgd"; done
done

# Weights: every shipped kernels/ weights file, and small synthetic ones of every architecture
# (fuzz/make_weights_seeds.cc, when built).
for f in models/*/weights.pgw; do
  cp "$f" "$out/weights/$(basename "$(dirname "$f")").pgw"
done
if [[ -x "${1:-build-fuzz}/fuzz/make_weights_seeds" ]]; then
  "${1:-build-fuzz}/fuzz/make_weights_seeds" "$out/weights"
fi

# Runtimes CSV: the bring-your-own example (its modules are in tests/testdata/byo, which the fuzzer
# passes as --hlo).
cp tests/testdata/byo/runtimes.csv "$out/runtimes_csv/"

# Target descriptions.
cp cost/targets/*.textproto "$out/target_description/"

for d in "$out"/*; do echo "$(ls "$d" | wc -l) seeds in $d"; done
