#!/usr/bin/env bash
# run.sh OUTDIR: runs on the GPU machine (no Go toolchain, no network needed).
# Runs every GPU test binary, then `bench gpu`, then the PyTorch baseline,
# writes full logs into OUTDIR and prints a short table last. Whole run: about
# 2 minutes; every step has its own timeout so the total stays under 4.
# Built by scripts/gpu/build.sh into .gpu/ (this script is copied there).
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=$here
[ -x "$bin/bench" ] || bin=$(cd "$here/../.." && pwd)/.gpu
if [ ! -x "$bin/bench" ]; then
	echo "run.sh: no binaries in $bin (run scripts/gpu/build.sh first)" >&2
	exit 2
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >"$out/nvidia-smi-L.txt" 2>&1; then
	echo "run.sh: no CUDA device (nvidia-smi missing or found no GPU)" >&2
	exit 1
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
	echo "run.sh: no CUDA device (libcuda.so.1 is not installed)" >&2
	exit 1
fi
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
cat "$bin/BUILD_INFO" 2>/dev/null | tee "$out/build_info.txt"
start=$(date +%s)
step() { echo "[$(( $(date +%s) - start ))s] $*"; }

rc=0
for t in "$bin"/tests/*.test; do
	name=$(basename "$t" .test)
	step "test $name"
	# -test.v for the per-test lines report.py counts; the driver caches the
	# PTX it compiles, so only the first process pays for JIT.
	(cd "$bin/tests" && timeout -k 5 150 "$t" -test.v -test.timeout 140s) >"$out/test_$name.log" 2>&1
	r=$?
	[ $r -ne 0 ] && rc=1
	tail -n 3 "$out/test_$name.log"
	grep -E '^\s*--- FAIL' "$out/test_$name.log" | head -20
done

step "bench gpu"
timeout -k 5 60 "$bin/bench" gpu >"$out/bench.log" 2>&1 || { echo "bench failed (rc $?)"; tail -5 "$out/bench.log"; rc=1; }

step "torch baseline"
if command -v python3 >/dev/null 2>&1; then
	timeout -k 5 90 python3 "$bin/torch_baseline.py" >"$out/torch.log" 2>&1 || { echo "torch baseline failed (rc $?)"; tail -5 "$out/torch.log"; }
else
	echo "python3 not found: no baseline" | tee "$out/torch.log"
fi
step "done"
echo
python3 "$bin/report.py" "$out" | tee "$out/summary.txt"
exit $rc
