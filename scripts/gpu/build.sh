#!/usr/bin/env bash
# build.sh: builds everything the GPU machine runs into .gpu/ (git-ignored):
# every package's test binary and cmd/bench with -tags cuda, linked against
# the libcuda stub from shared/tools/cudatools, plus run.sh and the Python
# baseline and report scripts. Then, on the GPU machine: bash .gpu/run.sh OUT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tools=""
for c in "$root/../shared/tools/cudatools" "$root/shared/tools/cudatools" /work/shared/tools/cudatools; do
	[ -x "$c" ] && tools=$c && break
done
[ -n "$tools" ] || { echo "build.sh: shared/tools/cudatools not found" >&2; exit 1; }
[ -f "$HOME/.cache/cudatools/include/cuda.h" ] || "$tools" headers >/dev/null
eval "$("$tools" env)"
rm -rf .gpu
mkdir -p .gpu/tests
flags=(-tags cuda -trimpath -ldflags=-s\ -w)
# Only the package with GPU tests: the rest are CPU tests that run here
# (and read testdata by relative paths that do not exist under .gpu/).
# kernels' own tests are CPU tests and the ptxas check, which .ci/run runs
# here; left out, their binary (8 MB compressed) leaves room in the 64 MiB
# a device call carries.
for pkg in ./engine/cuda; do
	pkg=$(go list -tags cuda "$pkg")
	name=$(echo "${pkg#github.com/mocogo/mocogo/}" | tr / _)
	go test "${flags[@]}" -c -o ".gpu/tests/$name.test" "$pkg"
	echo "build.sh: .gpu/tests/$name.test"
done
go build "${flags[@]}" -o .gpu/bench ./cmd/bench
go build "${flags[@]}" -o .gpu/pretrain ./cmd/pretrain
go build "${flags[@]}" -o .gpu/lincls ./cmd/lincls
cp scripts/gpu/run.sh scripts/gpu/torch_baseline.py scripts/gpu/torch_train.py scripts/gpu/report.py scripts/gpu/ncu_summary.py scripts/gpu/ncu_sass.py scripts/gpu/pack.sh scripts/torch/mocov3.py .gpu/
# The pretrain phase's images: CIFAR-10 as one tarball (16 MB), from shared/data.
for d in "$root/../shared/data" "$root/shared/data" /work/shared/data; do
	if [ -f "$d/cifar10-train.tar.gz" ]; then
		cp "$d/cifar10-train.tar.gz" .gpu/
		break
	fi
done
chmod +x .gpu/run.sh
# The device call carries at most 64 MiB: the binaries travel compressed
# with xz and run.sh unpacks them. (Each embeds every PTX module, 44 MB of
# text: xz makes a 60 MB binary 3.4 MB where gzip -9 made it 11.3.) Two at
# a time, for the two cores here.
command -v xz >/dev/null || { echo "build.sh: no xz (apt-get install xz-utils)" >&2; exit 1; }
printf '%s\n' .gpu/bench .gpu/pretrain .gpu/lincls .gpu/tests/*.test | xargs -P 2 -n 1 xz -6 -f
{
	echo "mocogo $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +dirty) built $(date -u +%Y-%m-%dT%H:%MZ) with $(go version | cut -d' ' -f3)"
} >.gpu/BUILD_INFO
du -sh .gpu
