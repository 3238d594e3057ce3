#!/usr/bin/env bash
# Sets up everything Kiln needs on a fresh Debian machine; safe to run again (it skips what is there).
#   - Debian packages: Bazel 4.2.3 (bazel-bootstrap), a C++20 compiler, Abseil, GoogleTest, Google
#     Benchmark, FlatBuffers + flatc, nlohmann-json, zlib, Boost (Boost.Math, header-only); clang 14
#     with libFuzzer and lld for the fuzz targets (tools/fuzz.sh).
#   - A Python environment with the pinned torch/torchvision (requirements.txt), shared between
#     checkouts under ~/.cache/kiln and linked as .venv, where Bazel's @libtorch rule looks for it.
#   - This checkout's Python package (pyproject.toml), installed editable into that environment, and
#     its extension module built: `torch.compile(model, backend="kiln")` then works in any interpreter
#     of the environment. The environment is shared, so the last checkout to run setup is the one used.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(bazel-bootstrap g++ libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
              libflatbuffers-dev flatbuffers-compiler nlohmann-json3-dev zlib1g-dev libboost-dev
              libeigen3-dev libopenblas-dev
              clang-14 libclang-rt-14-dev lld-14)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${KILN_PYTHON_BASE:-python3}
req_hash=$(sha256sum requirements.txt | cut -c1-12)
venv=${KILN_VENV:-$HOME/.cache/kiln/venv-$req_hash}
if [[ ! -f "$venv/.kiln-ready" ]]; then
  echo "setup: creating Python environment $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q -r requirements.txt
  "$venv/bin/python" -c "import torch, torchvision, numpy"
  touch "$venv/.kiln-ready"
fi
ln -sfn "$venv" .venv
# No build isolation: the build needs only setuptools, which the environment has (and offline works).
"$venv/bin/pip" install -q --no-build-isolation --no-deps -e .
bazel build //torch_frontend/ext:kiln_ext.so
echo "setup: ready (python: .venv -> $venv, bazel: $(bazel --version 2>/dev/null | tail -n1))"
