#!/usr/bin/env bash
# Installs everything d2x needs on Debian 12 (run as root, or with sudo available). Idempotent:
# packages already present are not reinstalled and apt's lists are refreshed only when a package is
# missing.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap            # Bazel 4.2.3 (builds offline with the stubs in third_party/bazel)
  g++ clang libclang-rt-14-dev   # compilers; clang + its runtime for the libFuzzer targets
  libtorch-dev               # LibTorch 1.13
  libopenblas0-pthread       # without it LibTorch falls back to reference BLAS (~50x slower)
  protobuf-compiler libprotobuf-dev
  libonnx-dev
  libabsl-dev libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev nlohmann-json3-dev
  libopencv-dev libgraphviz-dev
  python3-torch python3-torchvision   # cross-runtime checks of exported TorchScript
  nodejs npm
)

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
# nodejs may come from another repository that also provides npm.
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null; then
  missing=("${missing[@]/npm/}")
fi
if [[ " ${missing[*]} " == *" nodejs "* ]] && command -v node >/dev/null; then
  missing=("${missing[@]/nodejs/}")
fi
read -r -a missing <<< "${missing[*]}"

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all Debian packages present"
fi

# npm packages (ONNX Runtime), pinned in package-lock.json. The install script of onnxruntime-node
# would download CUDA providers; the CPU runtime is inside the tarball, so skip it.
cd "$(dirname "$0")/.."
if [[ -f package-lock.json ]]; then
  if [[ ! -f node_modules/.package-lock.json ]] || ! cmp -s package-lock.json node_modules/.d2x-lock-stamp; then
    echo "setup: npm ci"
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.d2x-lock-stamp
  fi
fi
echo "setup: done"
