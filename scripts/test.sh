#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
start=$(date +%s)
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
echo "test suite wall time: $(( $(date +%s) - start )) s"
