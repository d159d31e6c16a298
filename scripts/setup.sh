#!/usr/bin/env bash
# Idempotent, non-interactive set-up of a fresh Debian 12 machine: installs exactly the Debian packages
# perfgraph needs, then configures and builds a Release build in build/.
#
#   scripts/setup.sh            # install + build everything
#   PERFGRAPH_SKIP_APT=1 scripts/setup.sh   # build only (packages already present)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake
  libabsl-dev libprotobuf-dev protobuf-compiler
  libonnx-dev libonnx-testdata
  libgtest-dev libgmock-dev libbenchmark-dev
  libhalide14-0-dev
  libtorch-dev
  # Gloo's headers: c10d's ProcessGroupGloo (in libtorch) for `train --distributed`.
  libgloo-dev
  nlohmann-json3-dev
  libxgboost-dev
  # GNU time: bench/startup.sh (whole-process wall time and peak memory).
  time
  # NumPy .npz archives (data/npz.h: `perfgraph dataset export|import` of TpuGraphs tile files).
  libzip-dev
  # Tests check .npy/.npz files against NumPy itself (tests/python_runner.h runs /usr/bin/python3).
  python3-numpy
  # tools/plot_tune_curves.py (the replay benchmark's curves, `perfgraph tune --replay`).
  python3-matplotlib
  # The Python module (python/, README "Python"): pybind11 and the Python headers to build it,
  # NumPy for its arrays, pytest for tests/python.
  pybind11-dev python3-dev python3-numpy python3-pytest
  # The libFuzzer targets (-DPERFGRAPH_FUZZ=ON, README "Fuzzing"): clang and its sanitizer runtimes.
  clang-14 libclang-rt-14-dev
)
# Only needed to regenerate the committed corpus (data/corpus/export_torchvision.py), not to build.
CORPUS_PACKAGES=(python3-torch python3-torchvision python3-onnx)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ "${PERFGRAPH_WITH_CORPUS_TOOLS:-0}" == 1 ]]; then
  for p in "${CORPUS_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [[ "${PERFGRAPH_SKIP_APT:-0}" != 1 && ${#missing[@]} -gt 0 ]]; then
  SUDO=""
  [[ "$(id -u)" -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

mkdir -p build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > build/configure.log 2>&1 || { cat build/configure.log; exit 1; }
cmake --build build -j"$(nproc)" > build/build.log 2>&1 || { tail -n 80 build/build.log; exit 1; }
echo "setup: build/perfgraph is ready"
