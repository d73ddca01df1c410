#!/usr/bin/env bash
# run.sh OUTDIR: runs on the GPU machine (no Go toolchain, no network needed).
# Runs every GPU test (each top-level test in its own process, so that a
# kernel fault cannot take the others down), then `bench gpu` (each group in
# its own process), then the PyTorch baseline; writes full logs into OUTDIR
# and prints a short table last. About 2 minutes; every step has its own
# timeout and the whole stays under 4.
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
# A GPU is there when nvidia-smi lists one or, without nvidia-smi, when the
# driver's device nodes exist.
if command -v nvidia-smi >/dev/null 2>&1; then
	if ! nvidia-smi -L >"$out/nvidia-smi-L.txt" 2>&1 || ! grep -q '^GPU' "$out/nvidia-smi-L.txt"; then
		echo "run.sh: no CUDA device (nvidia-smi lists none)" >&2
		exit 1
	fi
elif ! ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
	echo "run.sh: no CUDA device (no nvidia-smi, no /dev/nvidia*)" >&2
	exit 1
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
	echo "run.sh: warning: libcuda.so.1 not in the ldconfig cache; trying anyway (LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-})"
fi
nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true
cat "$bin/BUILD_INFO" 2>/dev/null | tee "$out/build_info.txt"
head -1 "$out/nvidia-smi-L.txt" 2>/dev/null
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }
step() { echo "[$(elapsed)s] $*"; }

rc=0
# Tests: at most 120 s in all.
for t in "$bin"/tests/*.test; do
	name=$(basename "$t" .test)
	log="$out/test_$name.log"
	: >"$log"
	step "test $name"
	list=$(cd "$bin/tests" && timeout -k 5 30 "$t" -test.list '.*' 2>>"$log" | grep -E '^(Test|Example)')
	if [ -z "$list" ]; then
		echo "no tests listed (binary failed to start?)" | tee -a "$log"
		tail -n 5 "$log"
		rc=1
		continue
	fi
	for tn in $list; do
		left=$((120 - $(elapsed)))
		if [ $left -le 5 ]; then
			echo "--- FAIL: $tn (not run: test time budget spent)" | tee -a "$log"
			rc=1
			continue
		fi
		lim=$((left < 60 ? left : 60))
		# -test.v for the per-test lines report.py counts. The driver caches
		# the PTX it compiles, so only the first process pays for the JIT.
		(cd "$bin/tests" && timeout -k 5 "$lim" "$t" -test.v -test.run "^${tn}\$" -test.timeout "$((lim + 30))s") >>"$log" 2>&1
		r=$?
		if [ $r -ne 0 ]; then
			rc=1
			echo "  $tn: exit $r"
			[ $r -ge 124 ] && echo "--- FAIL: $tn (killed after ${lim}s)" >>"$log"
		fi
	done
	grep -E '^\s*--- FAIL|^panic:|CUDA_ERROR' "$log" | head -20
done

# Memory checking: the small cases again under compute-sanitizer (memcheck
# catches out-of-bounds and misaligned accesses that results alone can hide),
# when the tool is there and time is left.
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
t="$bin/tests/engine_cuda.test"
if [ -n "$san" ] && [ -x "$t" ] && [ $(elapsed) -lt 105 ]; then
	step "compute-sanitizer memcheck (-test.short)"
	(cd "$bin/tests" && timeout -k 5 45 "$san" --tool memcheck --error-exitcode 3 "$t" -test.short -test.v \
		-test.run 'GemmF16Odd|GemmF16Epilogue|GemmF16Hopper|GemmF16SplitK$|LayerNorm|Attention(Forward|Backward|Kernels)|Backend') >"$out/sanitizer.log" 2>&1
	r=$?
	grep -E 'ERROR SUMMARY|^(ok|PASS|FAIL)' "$out/sanitizer.log" | tail -3
	if [ $r -eq 124 ] || [ $r -eq 137 ]; then
		echo "  sanitizer run cut at 40 s (partial coverage; see sanitizer.log)"
	elif [ $r -ne 0 ]; then
		echo "  sanitizer run failed (exit $r)"
		rc=1
	fi
else
	echo "compute-sanitizer: skipped (not found or no time left)" | tee "$out/sanitizer.log"
fi

# Benchmarks: one process per group.
: >"$out/bench.log"
# The TMA kernels on NT (tma) before attention, those on the other layouts
# (tmal, the path not yet run on hardware) after it, LayerNorm (measured
# before) last, in case the time runs short. mp: the ViT-S fc1 forward with
# fp32 against fp16 storage (engine.MixedPrecision, GemmBias).
for g in copy gemm mp tma attn tmal ln; do
	lim=$((200 - $(elapsed)))
	[ $lim -gt 40 ] && lim=40
	if [ $lim -lt 5 ]; then
		echo "bench $g: skipped (time budget spent)" | tee -a "$out/bench.log"
		continue
	fi
	step "bench gpu -only $g"
	timeout -k 5 "$lim" "$bin/bench" gpu -only "$g" >"$out/bench_$g.log" 2>&1 || {
		echo "  bench $g failed (exit $?)"
		tail -3 "$out/bench_$g.log"
		rc=1
	}
	cat "$out/bench_$g.log" >>"$out/bench.log"
	rm -f "$out/bench_$g.log"
done

step "torch baseline"
lim=$((230 - $(elapsed)))
[ $lim -gt 60 ] && lim=60
if [ $lim -lt 10 ]; then
	echo "torch baseline: skipped (time budget spent)" | tee "$out/torch.log"
elif command -v python3 >/dev/null 2>&1; then
	timeout -k 5 "$lim" python3 "$bin/torch_baseline.py" >"$out/torch.log" 2>&1 || {
		echo "  torch baseline failed (exit $?)"
		tail -5 "$out/torch.log"
	}
else
	echo "python3 not found: no baseline" | tee "$out/torch.log"
fi
# The whole MoCo v3 step of ViT-S/16 at 224 px, batch 256, through the
# engine on the CUDA backend (images/s and allocator peak): last, capped.
lim=$((290 - $(elapsed)))
[ $lim -gt 60 ] && lim=60
if [ $lim -lt 20 ]; then
	echo "bench train: skipped (time budget spent)" | tee "$out/bench_train.log"
else
	step "bench gpu -only train (cap ${lim}s)"
	timeout -k 5 "$lim" "$bin/bench" gpu -only train >"$out/bench_train.log" 2>&1 || {
		echo "  bench train failed (exit $?)"
		tail -3 "$out/bench_train.log"
		rc=1
	}
	grep -E '^(RESULT|train:|ERROR)' "$out/bench_train.log" | tail -12
	cat "$out/bench_train.log" >>"$out/bench.log"
fi
step "done"
echo
python3 "$bin/report.py" "$out" | tee "$out/summary.txt"
exit $rc
