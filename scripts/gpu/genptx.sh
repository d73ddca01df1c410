#!/usr/bin/env bash
# genptx.sh regenerates kernels/ptx/*.ptx from kernels/cuda/*.cu with nvcc.
# Files named *_sm90a.cu target sm_90a (Hopper-only instructions); the rest
# target sm_80 (mma.sync, cp.async, ldmatrix), which the driver JIT-compiles
# for any later GPU. Needs nvcc (../shared/tools/cudatools ptxas provides it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v nvcc >/dev/null; then
	for d in "$HOME"/.cache/cudatools/bin "$HOME"/.cache/cudatools/*/bin; do
		[ -x "$d/nvcc" ] && PATH="$d:$PATH" && break
	done
fi
command -v nvcc >/dev/null || { echo "genptx: nvcc not found (run shared/tools/cudatools ptxas)" >&2; exit 1; }
mkdir -p "$root/kernels/ptx"
for src in "$root"/kernels/cuda/*.cu; do
	name=$(basename "$src" .cu)
	arch=sm_80
	case "$name" in *_sm90a) arch=sm_90a ;; esac
	nvcc -allow-unsupported-compiler -ptx -O3 -arch="$arch" -o "$root/kernels/ptx/$name.ptx" "$src"
	echo "genptx: $name.ptx ($arch)"
done
