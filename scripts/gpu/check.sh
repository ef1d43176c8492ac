#!/usr/bin/env bash
# Builds scripts/gpu/fused_logprobs_gpu against python3's CUDA torch (or TORCH_CMAKE_PREFIX) and runs its parity
# cases, then its benchmark (also after a failed case; the exit status is the parity run's). Needs nvcc, cmake and
# ninja; no Node. `check.sh build` only builds.
#   scripts/gpu/check.sh [build | parity | bench [N C V]]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${ALIGNKIT_GPU_BUILD:-$here/../../build/gpu-check}"
prefix="${TORCH_CMAKE_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
# nvcc from CUDACXX, else the default toolkit, then PATH; its toolkit is where nvcc reports it lives (_HERE_ in
# its --dryrun plan), also when the one found is a wrapper script.
nvcc="${CUDACXX:-$( [[ -x /usr/local/cuda/bin/nvcc ]] && echo /usr/local/cuda/bin/nvcc || command -v nvcc )}"
bin="$("$nvcc" --dryrun -x cu -c /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ _HERE_=//p' | head -n 1)"
nvcc="$bin/nvcc"
toolkit="$(dirname "$bin")"
defines=(-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CUDA_COMPILER="$nvcc" -DCUDA_TOOLKIT_ROOT_DIR="$toolkit"
         -DCUDAToolkit_ROOT="$toolkit" -DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}")
# A pip torch keeps its CUDA libraries and headers in the nvidia-* wheels beside it (nvidia/cu13).
nvidia="$(ls -d "$prefix"/../../../nvidia/cu[0-9]* 2>/dev/null | sort | tail -n 1 || true)"
if [[ -n "$nvidia" ]]; then
  nvidia="$(readlink -f "$nvidia")"
  defines+=(-DALIGNKIT_NVIDIA_DIR="$nvidia")
  nvrtc="$(ls "$nvidia"/lib/libnvrtc.so.[0-9]* 2>/dev/null | head -n 1 || true)"
  if [[ -n "$nvrtc" ]]; then defines+=(-DCUDA_nvrtc_LIBRARY="$nvrtc"); fi
fi
cmake -S "$here" -B "$build" -G Ninja "${defines[@]}"
start=$(date +%s)
cmake --build "$build" -j 16
echo "built in $(( $(date +%s) - start )) s"
exe="$build/fused_logprobs_gpu"
case "${1:-all}" in
  build) ;;
  parity) "$exe" parity ;;
  bench) shift; "$exe" bench "$@" ;;
  all) status=0; "$exe" parity || status=$?; "$exe" bench; exit "$status" ;;
  *) echo "usage: $0 [build | parity | bench [N C V]]" >&2; exit 2 ;;
esac
