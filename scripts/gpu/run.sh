#!/usr/bin/env bash
# run.sh OUTDIR [PHASE...]: runs on the GPU machine (no Go toolchain, no
# network needed). Presets: `decide` (the first call of a session, under
# 560 s: tests with the sanitizer runs and the CIFAR-10 pretraining beside
# them, then the PyTorch baseline and the kernel groups, the peak probes,
# Nsight Compute profiles, and the training step beside PyTorch's in the
# time left; scripts/gpu/README.md) and `quick` (tests with
# -test.short, the GEMM/attention/LayerNorm benchmarks and the PyTorch
# baseline, under 4 minutes). Phases, in this order (default: all):
#   tests      every GPU test, each top-level test in its own process (a
#              kernel fault cannot take the others down), MOCOGO_TEST_JOBS
#              (4) at a time, 390 s in all
#   sanitizer  small cases under compute-sanitizer, six runs at once of
#              MOCOGO_SAN_CAP (60) s each: memcheck and racecheck on the
#              GEMMs (direct and staged stores; memcheck also the TMA
#              store) and on attention and LayerNorm
#   peak       the tensor-core and operand-delivery ceilings:
#              TestPeakProbes, TestBulkLoadProbe and TestTileLoadProbe
#              (exact results), then `bench gpu -only peak` (mma.sync and
#              wgmma TFLOP/s, FLOP per SM per clock; TMA bulk loads from L2
#              and DRAM, and the qkv weight gradient's tile loads, GB/s
#              and bytes per SM per clock), ~25 s
#   bench      `bench gpu` kernel groups, each in its own process, ~200 s
#   torch      the PyTorch/cuBLAS kernel baseline, 75 s
#   profile    Nsight Compute (ncu --set full, clocks left alone) on one
#              launch each of the default kernels that miss their anchor:
#              the TMA-store GEMMs at the ViT-S/16 qkv and proj forward and
#              fc2 input-gradient shapes and at 4096³ (and the ping-pong
#              kernels at qkv forward), mma.sync at 4096³
#              (0.38× cuBLAS against the issue's 0.7×), the split-K TMA GEMM
#              of the qkv weight gradient, the head-resident attention
#              forward and backward and the LayerNorm backward at ViT-S/16
#              b256, then the peak probes;
#              OUTDIR/ncu/<name>.txt (details page), .raw.csv (every
#              metric; ncu_summary.py puts the stall reasons and busy
#              shares into profile.log), .sass.csv (the warp-stall
#              samples per SASS instruction; ncu_sass.py puts the
#              instructions the warps wait on into profile.log),
#              .ncu-rep when under 5 MB, .log;
#              skipped when ncu is absent; 150 s
#   train      the whole MoCo v3 step (bench gpu -only train): ViT-S/16 b256
#              fp16 (also with the ping-pong and staggered TMA GEMMs,
#              GEMMs tuned per shape, the tiled attention,
#              the cluster TMA GEMMs and the direct GEMM epilogue) and
#              fp32, ViT-B/16 b128 fp16, beside PyTorch AMP eager and
#              torch.compile (torch_train.py), ~330 s
#   pretrain   a short MoCo v3 run on CIFAR-10 (carried in .gpu) with the
#              kNN accuracy before and after, then lincls --device cuda on
#              the backbone it wrote (kNN, 10-epoch probe), ~200 s
#   jitstep    the driver's cold compile of an fp16 step's modules in one
#              process, all at once (Preload) and one after another, ~60 s
# Writes full logs into OUTDIR and prints a short table last. All phases
# take about 19 minutes, more than a session's 15 minutes of device time:
# choose, in calls of under 10 minutes each (scripts/gpu/README.md has the
# order that answers the open questions first).
# Built by scripts/gpu/build.sh into .gpu/ (this script is copied there).
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=$here
[ -e "$bin/bench" ] || [ -e "$bin/bench.xz" ] || [ -e "$bin/bench.gz" ] || bin=$(cd "$here/../.." && pwd)/.gpu
# build.sh compresses the binaries with xz (the device call carries at most
# 64 MiB; gzip, as before, is read too). Python's lzma unpacks them where
# the xz tool fails or is missing.
unpack() {
	case $1 in
	*.xz)
		# (Python writes beside the binary and renames it only whole.)
		xz -df "$1" 2>/dev/null ||
			python3 -c 'import lzma, os, shutil, sys; f = sys.argv[1]; shutil.copyfileobj(lzma.open(f), open(f[:-3] + ".part", "wb")); os.replace(f[:-3] + ".part", f[:-3])' "$1" &&
			rm -f "$1" ;;
	*.gz) gunzip -f "$1" ;;
	esac
}
for z in "$bin"/bench.?z "$bin"/pretrain.?z "$bin"/lincls.?z "$bin"/tests/*.test.?z; do
	[ -f "$z" ] || continue
	unpack "$z" && chmod +x "${z%.?z}" || echo "run.sh: could not unpack $z" >&2
done
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
# The machine's runtime: gVisor reports kernel 4.4.0, and there ncu cannot
# read the counters nor compute-sanitizer open the device (the device
# tool's KINDS.md), so those phases' failures say nothing of our kernels.
echo "kernel $(uname -r)$(case "$(uname -r)" in 4.4.0*) echo ' (gVisor: no ncu counters, no compute-sanitizer)' ;; esac)" | tee "$out/uname.txt"
# The driver keeps the machine code it compiles from our PTX in its JIT
# cache, so only the first process pays (the TMA-store module alone takes
# ptxas about 10 s). Its default size may be smaller than all our modules
# compiled: then every test process would compile them again.
export CUDA_CACHE_MAXSIZE=${CUDA_CACHE_MAXSIZE:-4294967296}
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }
step() { echo "[$(elapsed)s] $*"; }

rc=0
phases=" ${*:2} "
[ "$phases" = "  " ] && phases=" tests sanitizer peak bench torch profile train pretrain jitstep "
# quick: the whole check in under 4 minutes: the tests with -test.short
# (the ViT-sized GEMM and attention cases left to the full run), the core
# benchmark groups (GEMM, attention, LayerNorm) and the PyTorch baseline.
# decide: what decides both issues in one call of under 9.5 minutes: every
# test, with the CIFAR-10 pretraining beside them (neither is timed), then
# PyTorch's kernel baseline and our kernel groups (issue 4's numbers), then
# the peak probes, then Nsight Compute profiles (the table's first rows
# first), then the training step beside PyTorch's (GemmTune's variant times
# every GEMM candidate at the step's shapes) in the time left; each phase
# is cut to what the call has left.
short=
test_budget=390
test_jobs=${MOCOGO_TEST_JOBS:-4}
test_limit=${MOCOGO_TEST_LIMIT:-150}
bench_budget=200
profile_budget=150
bench_groups="copy gemm mp tma attn tmal tmas tmapp streamk upload ln"
san_cap=${MOCOGO_SAN_CAP:-60}
train_budget=280
train_configs="vit_small:fp16 vit_small:fp16:tmapp vit_small:fp16:tmapp192 vit_small:fp16:-:-:residual vit_small:fp16:-:-:gelugrad vit_small:fp16:-:-:stagger vit_small:fp16:-:-:prefetch vit_small:fp16:-:-:streamk vit_small:fp16:-:-:deepstore vit_small:fp16:tune vit_small:fp16:-:tiled vit_small:fp16:tmac vit_small:fp16:-:-:direct vit_base:fp16 vit_small:fp32"
beside_tests=
# The whole call's seconds (MOCOGO_RUN_BUDGET, default: none): every phase
# ends in time for the report.
run_budget=${MOCOGO_RUN_BUDGET:-100000}
if [[ "$phases" == *" quick "* ]]; then
	phases=" tests bench torch "
	short=1
	# Under 4 minutes in all, the report included: the phases below are cut
	# to what is left of 230 s.
	run_budget=${MOCOGO_RUN_BUDGET:-230}
	test_budget=120
	bench_budget=60
	bench_groups="gemm attn ln"
fi
if [[ "$phases" == *" decide "* ]]; then
	phases=" tests sanitizer pretrain jitstep train bench torch peak profile "
	run_budget=${MOCOGO_RUN_BUDGET:-560}
	# 65 tests took 533 s of test time (141 s at four at once) in the
	# fifth session; the sixth, seventh and eighth added about 350 s
	# (ping-pong, residual, GELU′, stream-K, prefetch, deep store, a
	# larger GemmTune), some 90 s at four at once.
	test_budget=280
	beside_tests="sanitizer pretrain jitstep"
	# The pretraining beside the tests ends by then (seconds into the
	# call), so that a hung run cannot hold the timed phases back.
	beside_deadline=290
	train_budget=200
	# GemmTune (tune) times every kernel kind with each schedule setting
	# (stagger, prefetch, deep store, narrow tiles, stream-K, wide boxes,
	# early release) at every product shape of the step and runs the
	# fastest: the step on the best of them, and each candidate's time per
	# shape in its tune: lines. The eleventh session measured the fused
	# epilogues and the ping-pong kernels in the step (slower); the wide
	# boxes and the early release are new.
	train_configs="vit_small:fp16 vit_small:fp16:-:-:wideboxes vit_small:fp16:-:-:early vit_small:fp16:tune"
	# The profiles come before the step: the first two (the weight
	# gradients' split-K partials with two- and three-dimensional boxes)
	# bear on the unmet weight-gradient criterion, the next two on
	# mma.sync's, the fifth and sixth (the partials with the early release,
	# with the look-ahead of 8 k-tiles) on the weight gradients' again.
	profile_budget=100
	bench_budget=110
	bench_groups="gemm streamk attn tmas ln"
fi
# MOCOGO_TRAIN_CONFIGS and MOCOGO_BENCH_GROUPS replace the preset's lists,
# and MOCOGO_SKIP_PHASES takes phases out of it (a later call of a session
# that has already measured the rest).
train_configs=${MOCOGO_TRAIN_CONFIGS:-$train_configs}
bench_groups=${MOCOGO_BENCH_GROUPS:-$bench_groups}
for p in ${MOCOGO_SKIP_PHASES:-}; do
	phases=${phases/ $p / }
done
want() { [[ "$phases" == *" $1 "* ]]; }
# Each phase has its own clock.
phase_start=$start
pelapsed() { echo $(($(date +%s) - phase_start)); }
begin() { phase_start=$(date +%s); step "phase $1"; }
# cap BUDGET MAX: the seconds a step may take: what is left of the phase's
# BUDGET, but at most MAX and no more than the call has left (20 s are kept
# for the report).
cap() {
	local left=$(($1 - $(pelapsed))) whole=$((run_budget - 20 - $(elapsed)))
	[ $whole -lt $left ] && left=$whole
	echo $((left < $2 ? left : $2))
}
# pretrain_cap MAX: the seconds a pretrain or lincls run may take: at most
# MAX, and ending by beside_deadline (decide) and by the call's end, 20 s
# kept for the report; 0 when none is left (timeout 0 would mean none).
pretrain_cap() {
	local end=$((run_budget - 20))
	[ -n "${beside_deadline:-}" ] && [ "$beside_deadline" -lt $end ] && end=$beside_deadline
	local left=$((end - $(elapsed)))
	[ $left -lt 0 ] && left=0
	echo $((left < $1 ? left : $1))
}


phase_tests() {
begin tests
# Tests: each top-level test in its own process, test_jobs of them at once
# (their time is mostly the CPU references, and the machine has 16 cores;
# each process has its own CUDA context, so a fault stays in its test).
# Each writes its own part; the parts are joined per binary in list order.
mkdir -p "$out/parts"
: >"$out/parts/index"
for t in "$bin"/tests/*.test; do
	name=$(basename "$t" .test)
	log="$out/test_$name.log"
	: >"$log"
	list=$(cd "$bin/tests" && timeout -k 5 30 "$t" -test.list '.*' 2>>"$log" | grep -E '^(Test|Example)')
	if [ -z "$list" ]; then
		echo "no tests listed (binary failed to start?)" | tee -a "$log"
		tail -n 5 "$log"
		rc=1
		continue
	fi
	for tn in $list; do
		echo "$name $tn" >>"$out/parts/index"
	done
done
# The longest tests first (ViT-sized products and their CPU references, by
# the H100 runs so far), so that four slots end close together and a
# budget cut falls on short tests; the reports keep each binary's order.
# Before them, the tests of code that has not yet passed on a GPU (the
# eleventh session's wide-box weight gradients, and the products into a C
# off its pairs' alignment in the residual, epilogue and bf16 tests, whose
# copy failed in that session's second call; the twelfth session's
# persistent mma.sync kernels; the thirteenth's early release; the
# fourteenth's look-ahead; the fifteenth's parallel module loading), so
# that no budget cut can leave them out. (Every kernel before those passed
# its tests on an H100 in the eleventh session.)
first='WideBoxes|Residual|Epilogue|GemmBF16(Staged)?$|MMATMAPersistent|MMATMAPolled|EarlyRelease|Lookahead|PreloadParallel'
heavy='TMA|Hopper|ViT|SplitK|MMA4|MMAWide|Tune|BackendGemm|Attention(Forward|Backward|Kernels)|Mixed|MoCo'
{
	grep -E " Test[A-Za-z0-9]*($first)" "$out/parts/index"
	grep -vE " Test[A-Za-z0-9]*($first)" "$out/parts/index" | grep -E " Test[A-Za-z0-9]*($heavy)"
	grep -vE " Test[A-Za-z0-9]*($first|$heavy)" "$out/parts/index"
} >"$out/parts/queue" || true
# run_test BINARY TEST LIMIT: one test in its own process; its exit status
# goes into the part's .rc file.
# Each test process may use every core (GOMAXPROCS left alone): their CPU
# references come in bursts, and a process alone at the end of the queue
# should not run them on a quarter of the machine.
run_test() {
	local part="$out/parts/$1.$2"
	(cd "$bin/tests" && timeout -k 5 "$3" "./$1.test" -test.v ${short:+-test.short} -test.run "^$2\$" -test.timeout "$(($3 + 30))s") >"$part.log" 2>&1
	local r=$?
	[ $r -ge 124 ] && echo "--- FAIL: $2 (killed after ${3}s)" >>"$part.log"
	echo $r >"$part.rc"
}
step "tests: $(wc -l <"$out/parts/index") in $test_jobs processes at a time, ${test_budget}s, from $(head -1 "$out/parts/queue" | cut -d' ' -f2)"
# In a subshell, whose jobs are only the tests (not a pretraining run
# started beside them).
(
	while read -r name tn; do
		while [ "$(jobs -rp | wc -l)" -ge "$test_jobs" ]; do wait -n; done
		lim=$(cap $test_budget $test_limit)
		if [ "$(cap $test_budget 100000)" -le 5 ]; then
			echo "--- FAIL: $tn (not run: test time budget spent)" >"$out/parts/$name.$tn.log"
			echo 1 >"$out/parts/$name.$tn.rc"
			continue
		fi
		run_test "$name" "$tn" "$lim" </dev/null &
	done <"$out/parts/queue"
	wait
)
while read -r name tn; do
	part="$out/parts/$name.$tn"
	cat "$part.log" >>"$out/test_$name.log"
	r=$(cat "$part.rc" 2>/dev/null || echo 1)
	if [ "$r" != 0 ]; then
		rc=1
		echo "  $name $tn: exit $r"
	fi
done <"$out/parts/index"
rm -rf "$out/parts"
for log in "$out"/test_*.log; do
	grep -E '^\s*--- FAIL|^panic:|CUDA_ERROR' "$log" | head -20
done
step "tests done"
}

# Memory checking: the small cases again under compute-sanitizer (memcheck
# catches out-of-bounds and misaligned accesses that results alone can hide),
# when the tool is there and time is left.
# sanitize TOOL LOG CAP PATTERN: the -test.short cases of the engine_cuda
# tests matching PATTERN under compute-sanitizer's TOOL, at most CAP
# seconds, into OUT/LOG.
sanitize() {
	(cd "$bin/tests" && timeout -k 5 "$3" "$san" --tool "$1" --error-exitcode 3 "$t" -test.short -test.v \
		-test.run "$4") >"$out/$2" 2>&1
	local r=$?
	{
		echo "$2 ($1):"
		grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|^(ok|PASS|FAIL)' "$out/$2" | tail -3
		if [ $r -eq 124 ] || [ $r -eq 137 ]; then
			echo "  $1 run cut at $3 s (partial coverage; see $2)"
		elif [ $r -ne 0 ]; then
			echo "  $1 run failed (exit $r)"
		fi
	} >"$out/$2.summary"
	cat "$out/$2.summary"
	return $r
}
phase_sanitizer() {
begin sanitizer
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
t="$bin/tests/engine_cuda.test"
if [ -n "$san" ] && [ -x "$t" ]; then
	# Four runs at once, each on a few kernels' small cases (one run over
	# all of them reached only the first seven tests in 45 s on an H100):
	# memcheck on the GEMMs (direct and staged stores, the TMA-store
	# kernels) and on attention (the default head-resident kernels and
	# the tiled ones) with LayerNorm; racecheck (shared-memory races give
	# right values by luck as often as not) on the same two groups.
	step "compute-sanitizer memcheck and racecheck (-test.short, six runs at once, ${san_cap}s each)"
	# The TMA-store cases are two that take the TMA store (rows ending on
	# 16-byte boundaries) and load both kernels TestGemmF16TMAStore checks
	# for; they stay out of racecheck, whose model of the asynchronous
	# (TMA, mbarrier) proxy is not one to trust with a failing exit code.
	local gemm='TestGemmF16Odd/.*/(nn|nt|tn|tt)_(1x1x1|7x33x129|129x197x33)(_al8)?$'
	local tmas='|TestGemmF16TMAStore/nt_128x256x256$|TestGemmF16TMAStore/layouts/nn_300x520x72_al8$'
	local attn='^TestAttention(Forward|Backward)$/B(1_N1|2_N7|1_N65|2_N197)_|^TestAttentionKernels$/tiled/(forward|backward)$/B2_N(17|197)_|TestLayerNorm'
	# The ping-pong kernels (memcheck-clean on an H100, eleventh session), the residual read
	# in their epilogue with rows and columns past M and N among them, the
	# stream-K kernels of both tile widths with their reduction, and the
	# cluster split-K partials (one where a block loads no B): a fifth run, since their
	# modules' JIT under the tool takes a while.
	local pp='TestGemmF16TMAPingpong(192)?/nt_128x256x256$|TestGemmF16Residual/fused_true/(nt_16900x200x72_al8_bias_res|nn_16900x136x48_pad8_al8_a2_b0_f16_res)$'
	pp+='|TestGemmF16TMAPingpong(192)?/layouts/(nn|tn|tt)_128x256x64_al8$'
	pp+='|TestGemmF16StreamK/(tn_600x136x30000_al8_bias_gelu_f16|tn_129x1000x20000_al8_a2_b-0.5_bias)$'
	pp+='|TestGemmF16ClusterSplitK/(tn_700x136x30000_al8_bias_gelu_f16|tn_500x40x40000_al8)$'
	# The deep-store kernels over several tiles a block, in a sixth run:
	# the fifth already compiles three modules under the tool.
	local deep='TestGemmF16TMADeepStore/tiles/(nt_40000x384x64_al8_bias_f16|tn_3000x576x700_al8_bias_gelu_f16)$'
	local pids=() p r
	sanitize memcheck sanitizer_pp.log "$san_cap" "$pp" &
	pids+=($!)
	sanitize memcheck sanitizer_deep.log "$san_cap" "$deep" &
	pids+=($!)
	sanitize memcheck sanitizer.log "$san_cap" "$gemm$tmas" &
	pids+=($!)
	sanitize memcheck sanitizer_attn.log "$san_cap" "$attn" &
	pids+=($!)
	sanitize racecheck racecheck.log "$san_cap" "$gemm" &
	pids+=($!)
	sanitize racecheck racecheck_attn.log "$san_cap" "$attn" &
	pids+=($!)
	for p in "${pids[@]}"; do
		wait "$p"
		r=$?
		[ $r -ne 0 ] && [ $r -ne 124 ] && [ $r -ne 137 ] && rc=1
	done
else
	echo "compute-sanitizer: skipped (not found)" | tee "$out/sanitizer.log"
fi
}

touch "$out/bench.log"
# The tensor cores' ceilings through mma.sync and wgmma, and how fast the
# TMA unit delivers operands from L2 and DRAM: first the tests that every
# accumulator of every probe comes out exact and that every chunk the
# bulk-load probe counts arrived (a probe that did less than it claims
# cannot report a rate), then the rates.
phase_peak() {
begin peak
lim=$(cap 60 30)
if [ $lim -lt 20 ]; then
	echo "peak: skipped (time budget spent)" | tee -a "$out/bench.log"
	return
fi
t="$bin/tests/engine_cuda.test"
step "TestPeakProbes, TestBulkLoadProbe, TestTileLoadProbe (cap ${lim}s)"
(cd "$bin/tests" && timeout -k 5 "$lim" "$t" -test.v -test.run '^Test(PeakProbes|BulkLoadProbe|TileLoadProbe)$' -test.timeout 60s) >"$out/test_peak.log" 2>&1 || {
	echo "  TestPeakProbes, TestBulkLoadProbe or TestTileLoadProbe failed (exit $?)"
	rc=1
}
grep -E '^\s*--- FAIL|^panic:|CUDA_ERROR' "$out/test_peak.log" | head -10
lim=$(cap 60 40)
if [ $lim -lt 10 ]; then
	echo "bench peak: skipped (time budget spent)" | tee -a "$out/bench.log"
	return
fi
step "bench gpu -only peak (cap ${lim}s)"
timeout -k 5 "$lim" "$bin/bench" gpu -only peak >"$out/bench_peak.log" 2>&1 || {
	echo "  bench peak failed (exit $?)"
	tail -3 "$out/bench_peak.log"
	rc=1
}
grep -E '^(RESULT|peak |ERROR)' "$out/bench_peak.log"
cat "$out/bench_peak.log" >>"$out/bench.log"
rm -f "$out/bench_peak.log"
}

# Benchmarks: one process per group.
phase_bench() {
begin bench
# The TMA kernels on NT (tma) before attention, those on the other layouts
# (tmal) after it, then the TMA-store and cluster kernels with their
# schedule settings (tmas), LayerNorm last, in case the time runs short. mp: the ViT-S fc1 forward with fp32 against fp16 storage
# (engine.MixedPrecision, GemmBias).
for g in $bench_groups; do
	lim=$(cap $bench_budget 40)
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
}

touch "$out/torch.log"
# torch_script SCRIPT CAP MIN: python3 SCRIPT (carried in $bin) into
# torch.log, cut at CAP seconds; skipped (status 1) when CAP is under MIN
# (the time budget spent).
torch_script() {
	if [ "$2" -lt "$3" ]; then
		echo "$1: skipped (time budget spent)" | tee -a "$out/torch.log"
		return 1
	fi
	step "$1 (cap ${2}s)"
	timeout -k 5 "$2" python3 "$bin/$1" >>"$out/torch.log" 2>&1 || {
		echo "  $1 failed (exit $?)"
		tail -5 "$out/torch.log"
	}
}
phase_torch() {
begin torch
if command -v python3 >/dev/null 2>&1; then
	torch_script torch_baseline.py "$(cap 75 75)" 10
else
	echo "python3 not found: no baseline" | tee "$out/torch.log"
fi
}

# Nsight Compute profiles: one launch of each kernel, in a bench process
# that runs only the benchmark launching it (-keys) with one timed run
# (-iters 1: 3 warm-up launches and 1 timed), so --launch-skip 2 picks a
# warm launch. ncu's --launch-skip counts only launches that match -k.
# Clocks are left as the driver sets them (--clock-control none), as in
# the timings. Each: name, bench group, key regexp, kernel regexp, launches.
phase_profile() {
begin profile
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -z "$ncu" ]; then
	echo "profile: skipped (ncu not found)" | tee "$out/profile.log"
else
	mkdir -p "$out/ncu"
	: >"$out/profile.log"
	while read -r name group key kernel count; do
		lim=$(cap $profile_budget 40)
		if [ $lim -lt 15 ]; then
			echo "profile $name: skipped (time budget spent)" | tee -a "$out/profile.log"
			continue
		fi
		step "ncu $name (cap ${lim}s)"
		rep="$out/ncu/$name"
		timeout -k 5 "$lim" "$ncu" --clock-control none --set full -k "regex:$kernel" --launch-skip 2 \
			--launch-count "$count" -f -o "$rep" "$bin/bench" gpu -only "$group" -keys "$key" -iters 1 >"$rep.log" 2>&1
		r=$?
		if [ $r -ne 0 ] || [ ! -f "$rep.ncu-rep" ]; then
			echo "  ncu $name failed (exit $r)" | tee -a "$out/profile.log"
			grep -E '==(ERROR|WARNING)==' "$rep.log" | head -3 | tee -a "$out/profile.log"
			if grep -q 'ERR_NVGPUCTRPERM' "$rep.log"; then
				echo "  no access to the performance counters: profile phase stopped" | tee -a "$out/profile.log"
				break
			fi
			continue
		fi
		timeout -k 5 "$(cap $profile_budget 30)" "$ncu" --import "$rep.ncu-rep" --page details >"$rep.txt" 2>&1
		grep -E '^  [a-z_0-9]+.*\(|Duration|Compute \(SM\) Throughput|Memory Throughput' "$rep.txt" | head -8 | tee -a "$out/profile.log"
		# Every metric (a few hundred KB), and from it the stall reasons and
		# busy fractions (ncu_summary.py), so that what the reports hold
		# comes back even where the report itself does not.
		timeout -k 5 "$(cap $profile_budget 30)" "$ncu" --import "$rep.ncu-rep" --page raw --csv >"$rep.raw.csv" 2>"$rep.raw.log"
		python3 "$bin/ncu_summary.py" "$rep.raw.csv" 2>&1 | tee -a "$out/profile.log"
		# The warp-stall samples per SASS instruction (the source page), and
		# from them the instructions the warps wait on (ncu_sass.py): which
		# barrier, which load.
		lim=$(cap $profile_budget 30)
		if [ $lim -ge 5 ]; then
			timeout -k 5 "$lim" "$ncu" --import "$rep.ncu-rep" --page source --print-source sass --csv >"$rep.sass.csv" 2>"$rep.sass.log"
			python3 "$bin/ncu_sass.py" "$rep.sass.csv" 2>&1 | tee -a "$out/profile.log"
		fi
		# Reports over 5 MB stay behind (the text holds the numbers).
		[ "$(stat -c %s "$rep.ncu-rep")" -gt $((5 << 20)) ] && rm -f "$rep.ncu-rep"
	done <<'EOF'
gemm_tmap_vit_qkv_dw       gemm  ^vit_qkv_dw_1152x384x50432$            ^gemm_f16_tn_tma_p192$             1
gemm_tmapw_vit_qkv_dw      streamk ^vit_qkv_dw_1152x384x50432_wide$     ^gemm_f16_tn_tma_p192w$            1
gemm_mmatmap_4096_nt       gemm  ^gemm_nt_4096_mmatmap$                 ^gemm_f16_nt_mtp$                  1
gemm_mmatmal_4096_nt       gemm  ^gemm_nt_4096_mmatmal$                 ^gemm_f16_nt_mtl$                  1
gemm_tmape_vit_qkv_dw      streamk ^vit_qkv_dw_1152x384x50432_early$    ^gemm_f16_tn_tma_p192$             1
gemm_tmapl_vit_qkv_dw      streamk ^vit_qkv_dw_1152x384x50432_look8$    ^gemm_f16_tn_tma_p192$             1
gemm_mma4_4096_nn          gemm  ^gemm_nn_4096_mma4_staged$             ^gemm_f16_nn_q$                    1
peak_mma_ldsm_fill_f16     peak  ^peak_mma_ldsm_fill_f16$               ^peak_mma_ldsm_fill_f16$           1
gemm_tmas_vit_fc2_dx       gemm  ^vit_fc2_dx_50432x1536x384$            ^gemm_f16_nn_tma_s$                1
gemm_tmas_vit_qkv_fwd      gemm  ^vit_qkv_fwd_50432x1152x384$           ^gemm_f16_nt_tma_s192$             1
gemm_tmas_vit_proj_fwd     gemm  ^vit_proj_fwd_50432x384x384$           ^gemm_f16_nt_tma_s192$             1
gemm_streamk_vit_qkv_dw    streamk ^vit_qkv_dw_1152x384x50432_streamk$  ^gemm_f16_tn_tma_sk192$            1
gemm_tmas_4096_nt          gemm  ^gemm_nt_4096$                         ^gemm_f16_nt_tma_s$                1
gemm_mma_4096_nt           gemm  ^gemm_nt_4096_mma_staged$              ^gemm_f16_nt$                      1
gemm_mmatma_4096_nt        gemm  ^gemm_nt_4096_mmatma$                  ^gemm_f16_nt_mt$                   1
gemm_tmasd_vit_qkv_fwd     tmas  ^vit_qkv_fwd_50432x1152x384_tmas_deepstore$ ^gemm_f16_nt_tma_s192d$       1
gemm_tmapp_vit_qkv_fwd     tmapp ^vit_qkv_fwd_50432x1152x384_tmapp$     ^gemm_f16_nt_tma_pp$               1
gemm_tmapp192_vit_qkv_fwd  tmapp ^vit_qkv_fwd_50432x1152x384_tmapp192$  ^gemm_f16_nt_tma_pp192$            1
attn_fwd_head_d32_vits     attn  ^attn_fwd_h12d32$                      ^attn_fwd_head_w4_d32$             1
attn_bwd_head_d32_vits     attn  ^attn_bwd_h12d32$                      ^attn_bwd_head_w4_d32$             1
layernorm_bwd_vits         ln    ^ln_bwd_50432x384$                     ^layernorm_bwd_3$                  1
peak_mma_f16               peak  ^peak_mma_sync_f16$                    ^peak_mma_f16$                     1
peak_wgmma_f16             peak  ^peak_wgmma_f16$                       ^peak_wgmma_f16$                   1
EOF
fi
}

# The whole MoCo v3 step through the engine on the CUDA backend (images/s
# and allocator peak), each configuration in its own process so that each
# peak is its own, then PyTorch's official step in the same call.
# wait_torch_warm: PyTorch compiling its step beside the tests would load
# the CPU and the GPU under our timings: before the first timed phase,
# wait for it to be warm (at most 60 s), or stop it. Once warm it idles,
# holding its memory, until the train phase touches torch_go.
wait_torch_warm() {
	[ -n "$torch_pid" ] && [ ! -e "$out/torch_ready" ] || return 0
	local lim waited=0
	lim=$(cap 100000 60)
	step "waiting for torch.compile's warm-up (cap ${lim}s)"
	while [ ! -e "$out/torch_ready" ] && kill -0 "$torch_pid" 2>/dev/null && [ $waited -lt "$lim" ]; do
		sleep 1
		waited=$((waited + 1))
	done
	if [ ! -e "$out/torch_ready" ]; then
		echo "  torch_train.py not warm after ${waited}s: stopped (PyTorch's step runs after ours instead)"
		stop_torch
	fi
}

phase_train() {
begin train
# decide: the PyTorch process compiled and warmed its step beside the
# tests and has waited since; it is timed first (about 17 s), so that
# the call's end cannot cut the anchor of our step's numbers, and its
# exit frees its memory before our peaks are measured.
torch_warm=
if [ -n "$torch_pid" ]; then
	torch_warm=1
	lim=$(cap $((train_budget + 60)) 60)
	step "torch_train.py, warmed beside the tests: timing (cap ${lim}s)"
	touch "$out/torch_go"
	waited=0
	while kill -0 "$torch_pid" 2>/dev/null && [ $waited -lt "$lim" ]; do
		sleep 1
		waited=$((waited + 1))
	done
	kill -0 "$torch_pid" 2>/dev/null && echo "  torch_train.py still running after ${lim}s: stopped"
	stop_torch
	grep -E '^RESULT train_|^torch |torch.compile|torch_train' "$out/torch_train.log" | tail -10
fi
# Each configuration: architecture, precision, then optionally the GEMM and
# attention kernels (MOCOGO_GEMM_KERNEL, MOCOGO_ATTN_KERNEL; "-" for the
# default) and "direct" (MOCOGO_GEMM_STAGED=0), "stagger"
# (MOCOGO_GEMM_STAGGER=1), "residual" (MOCOGO_GEMM_RESIDUAL=1: the Linear
# layers' residual adds in the ping-pong kernels' epilogue), "gelugrad"
# (MOCOGO_GEMM_GELU_GRAD=1: the FeedForward's GELU′ in the epilogue of the
# product that brings its gradient), "fused" (both), "streamk"
# (MOCOGO_GEMM_STREAMK=1: the weight gradients stream-K), "prefetch"
# (MOCOGO_GEMM_PREFETCH=1: the TMA producers' L2 prefetch of the next
# tile's A), "deepstore" (MOCOGO_GEMM_DEEP_STORE=1: three staging
# buffers a warpgroup in the 128×192 TMA-store kernels), "wideboxes"
# (MOCOGO_GEMM_WIDE_BOXES=1: the weight gradients' split-K partials load
# each operand's tile as one three-dimensional box), "early"
# (MOCOGO_GEMM_EARLY_RELEASE=1: the persistent TMA kernels' consumers
# release a stage before they wait for the next k-tile) or "look4",
# "look8", "look16" (MOCOGO_GEMM_LOOKAHEAD: the split-K partials ask L2 for
# their share of every tile's k-tiles that far past their ring). The variants run the step on
# kernels other than the default: the ping-pong TMA GEMMs (tmapp, tmapp192) and the
# persistent TMA GEMMs with staggered consumer warpgroups (neither yet
# measured), GEMMs tuned per shape (GemmTune),
# the cluster TMA GEMMs, the tiled attention kernels (the default before
# the fifth session), the direct epilogue of the mma.sync and wgmma GEMMs
# (the default before the seventh session).
for cfg in $train_configs; do
	cfg=${cfg//:/ }
	set -- $cfg
	gk=${3:--}
	ak=${4:--}
	[ "$gk" = - ] && gk=
	[ "$ak" = - ] && ak=
	sg= st= rs= gg= sk= pf= ds= wb= er= la=
	[ "${5:-}" = direct ] && sg=0
	case "${5:-}" in look4 | look8 | look16) la=${5#look} ;; esac
	[ "${5:-}" = early ] && er=1
	[ "${5:-}" = wideboxes ] && wb=1
	[ "${5:-}" = deepstore ] && ds=1
	[ "${5:-}" = streamk ] && sk=1
	[ "${5:-}" = prefetch ] && pf=1
	[ "${5:-}" = stagger ] && st=1
	[ "${5:-}" = residual ] && rs=1
	[ "${5:-}" = gelugrad ] && gg=1
	[ "${5:-}" = fused ] && rs=1 gg=1
	tag=$1_$2${gk:+_$gk}${ak:+_$ak}${sg:+_direct}${st:+_stagger}${rs:+_residual}${gg:+_gelugrad}${sk:+_streamk}${pf:+_prefetch}${ds:+_deepstore}${wb:+_wideboxes}${er:+_early}${la:+_look$la}
	lim=$(cap $train_budget 90)
	if [ $lim -lt 20 ]; then
		echo "bench train $cfg: skipped (time budget spent)" | tee -a "$out/bench_train.log"
		continue
	fi
	step "bench gpu -only train: $cfg (cap ${lim}s)"
	MOCOGO_TRAIN_ARCH=$1 MOCOGO_TRAIN_PRECISION=$2 MOCOGO_GEMM_KERNEL=$gk MOCOGO_ATTN_KERNEL=$ak MOCOGO_GEMM_STAGED=$sg MOCOGO_GEMM_STAGGER=$st MOCOGO_GEMM_RESIDUAL=$rs MOCOGO_GEMM_GELU_GRAD=$gg MOCOGO_GEMM_STREAMK=$sk MOCOGO_GEMM_PREFETCH=$pf MOCOGO_GEMM_DEEP_STORE=$ds MOCOGO_GEMM_WIDE_BOXES=$wb MOCOGO_GEMM_EARLY_RELEASE=$er MOCOGO_GEMM_LOOKAHEAD=$la \
		timeout -k 5 "$lim" "$bin/bench" gpu -only train >"$out/bench_train_$tag.log" 2>&1 || {
		echo "  bench train $cfg failed (exit $?)"
		tail -3 "$out/bench_train_$tag.log"
		rc=1
	}
	grep -E '^(RESULT .*_(img_per_s|peak_mib) |ERROR)|projection|^profile: (one step|[a-z_]+ +[0-9.]+ ms)|^train: multi' "$out/bench_train_$tag.log" | tail -30
	# GemmTune's choice per shape (the tune variant), every candidate timed.
	grep -E '^tune: ' "$out/bench_train_$tag.log" | cut -c1-400
	cat "$out/bench_train_$tag.log" >>"$out/bench.log"
done
if [ -z "$torch_warm" ] && command -v python3 >/dev/null 2>&1; then
	torch_script torch_train.py "$(cap $((train_budget + 120)) 120)" 20 &&
		grep -E '^RESULT train_|^torch ' "$out/torch.log" | tail -8
fi
}

# A short pretraining run on real images: CIFAR-10 (the tarball build.sh
# carries), 32 px, a ViT-S-width model of depth 6, fp16 autocast with loss
# scaling (the cuda default); kNN top-1 at random init and after training,
# printed by pretrain itself.
# pretrain_phase: the run and lincls after it; prints its own summary.
pretrain_phase() {
	if [ ! -f "$bin/cifar10-train.tar.gz" ]; then
		echo "pretrain: no cifar10-train.tar.gz in $bin (build.sh copies it from shared/data)" | tee "$out/pretrain_cifar.log"
		return 1
	fi
	local r=0 rr run=pretrain_cifar prec=
	# pretrain_run NAME [PRECISION]: one run into $out/NAME, its log in
	# $out/NAME.log; kNN every 4 epochs, so that a run cut short still
	# shows one.
	pretrain_run() {
		timeout -k 5 "$(pretrain_cap 240)" "$bin/pretrain" --device cuda ${2:+--precision $2} --data "$bin/cifar10-train.tar.gz" --img 32 --patch 4 \
			--arch vit_small --dim 192 --depth 6 --heads 3 --mlp-dim 1024 --batch 256 --epochs 8 --limit 20000 \
			--holdout 100 --knn-bank 10000 --knn-every 4 --save-every 0 --lr 1e-3 --warmup 1 --workers 16 --seed 1 \
			--out "$out/$1" >"$out/$1.log" 2>&1
	}
	if [ "$(pretrain_cap 240)" -lt 30 ]; then
		echo "pretrain: skipped (time budget spent)" | tee "$out/$run.log"
		return 1
	fi
	step "pretrain --device cuda on CIFAR-10 (fp16 autocast, the cuda default; cap $(pretrain_cap 240)s)"
	pretrain_run $run
	rr=$?
	if [ $rr -ne 0 ]; then
		echo "  pretrain failed (exit $rr); the end of its log:"
		tail -5 "$out/$run.log"
		r=1
		# The fp16 path and the asynchronous uploads have not run on a GPU
		# before; fp32 storage with synchronous uploads is the path whose
		# kernels passed there (run 4): whether the run learns is then still
		# answered, and the failure above says what to mend.
		if [ "$(pretrain_cap 240)" -lt 30 ]; then
			echo "  pretrain again in fp32: skipped (time budget spent)"
		else
			run=pretrain_cifar_fp32
			prec=fp32
			step "pretrain again: --precision fp32, synchronous uploads (cap $(pretrain_cap 240)s)"
			MOCOGO_CUDA_ASYNC_UPLOAD=0 MOCOGO_CUDA_STAGING=0 pretrain_run $run $prec
			rr=$?
			[ $rr -ne 0 ] && echo "  pretrain (fp32) failed too (exit $rr)"
		fi
	fi
	tr '\r' '\n' <"$out/$run.log" | grep -E '^(Model|Data|Precision|kNN|epoch [0-9]+:|Loss scaling)|img/s' | tail -12
	# The backbone just trained through lincls on the GPU: kNN and a short
	# linear probe on cached features (the evaluation path on the device).
	if [ -f "$out/$run/backbone.safetensors" ] && [ -x "$bin/lincls" ] && [ "$(pretrain_cap 90)" -lt 20 ]; then
		echo "lincls: skipped (time budget spent)"
	elif [ -f "$out/$run/backbone.safetensors" ] && [ -x "$bin/lincls" ]; then
		step "lincls --device cuda on the CIFAR-10 backbone (cap $(pretrain_cap 90)s)"
		timeout -k 5 "$(pretrain_cap 90)" "$bin/lincls" --device cuda ${prec:+--precision $prec} --pretrained "$out/$run/backbone.safetensors" \
			--data "$bin/cifar10-train.tar.gz" --limit 20000 --holdout 100 --mode both --epochs 10 --cache-features \
			--batch 256 --workers 16 >"$out/lincls_cifar.log" 2>&1 || {
			echo "  lincls failed (exit $?)"
			r=1
		}
		tr '\r' '\n' <"$out/lincls_cifar.log" | grep -E '^(Backbone|kNN|Linear)' | tail -4
	fi
	rm -f "$out"/pretrain_cifar*/*.safetensors
	return $r
}
phase_pretrain() {
	begin pretrain
	pretrain_phase || rc=1
}

# jitstep: what a new machine's first fp16 step pays before it starts: the
# modules a ViT-S/16 fp16 step loads (bench gpu -step-modules, pretrain's
# warm-up list), compiled cold in one process (CUDA_CACHE_DISABLE=1: the
# cache warm_jit filled is neither read nor written), first all at once as
# Preload loads them, then one after another as a step loading each at
# first use would (a line each, as jit.log's), each run with the load
# average before it. Into jitstep.log. It takes cores, not the GPU: decide
# runs it beside the tests, ended by beside_deadline as the pretraining is.
phase_jitstep() {
	begin jitstep
	local mods lim how
	mods=$(timeout -k 5 30 "$bin/bench" gpu -step-modules fp16 2>/dev/null | paste -sd, -)
	if [ -z "$mods" ]; then
		echo "jitstep: bench gpu -step-modules failed" | tee -a "$out/jitstep.log"
		return 0
	fi
	for how in -together ""; do
		lim=$(pretrain_cap 150)
		if [ "$lim" -lt 10 ]; then
			echo "jitstep: skipped (time budget spent)" | tee -a "$out/jitstep.log"
			return 0
		fi
		echo "load ${how:--oneafteranother} $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" >>"$out/jitstep.log"
		CUDA_CACHE_DISABLE=1 timeout -k 5 "$lim" "$bin/bench" gpu -preload "$mods" $how >>"$out/jitstep.log" 2>&1 ||
			echo "jitstep: bench gpu -preload $how failed or ran past ${lim}s (exit $?)" | tee -a "$out/jitstep.log"
	done
	cat "$out/jitstep.log"
}

# The driver compiles our PTX when a process first loads a module and
# keeps the machine code in its JIT cache (CUDA_CACHE_MAXSIZE above), where
# every later process finds it: after the fifth session's tests, bench
# loaded all twelve modules in 0.2 s. Started cold, though, the first test
# processes, the sanitizer runs and the pretraining compile the same large
# modules side by side (ptxas takes 10-12 s on gemm_f16 and on the
# ping-pong module here), and a test that needs several compiles them one
# after another. So first each module is compiled once, all of them at
# once, one process each (bench gpu -preload), each capped at 120 s (less
# when the call has little left); their times go to jit.log. A failure only costs the time: a process that needs
# a module compiles it then.
warm_jit() {
	local mods m pids= t0 cap_s
	want tests || want sanitizer || want peak || want bench || want profile || want train || want pretrain || return 0
	t0=$(date +%s)
	# Each process at most 120 s, and never past a quarter of what the
	# call has left (20 s kept for the report).
	cap_s=$(((run_budget - 20 - $(elapsed)) / 4))
	[ $cap_s -gt 120 ] && cap_s=120
	if [ $cap_s -lt 5 ]; then
		step "JIT warm-up skipped: no time left"
		return 0
	fi
	mods=$(timeout -k 5 30 "$bin/bench" gpu -modules 2>/dev/null) || {
		step "JIT warm-up skipped: bench gpu -modules failed"
		return 0
	}
	for m in $mods; do
		timeout -k 5 $cap_s "$bin/bench" gpu -preload "$m" >"$out/jit_$m.log" 2>&1 &
		pids="$pids $!"
	done
	for m in $pids; do wait "$m"; done
	cat "$out"/jit_*.log >"$out/jit.log" 2>/dev/null
	rm -f "$out"/jit_*.log
	local missing=
	for m in $mods; do grep -q "^jit $m " "$out/jit.log" || missing="$missing $m"; done
	step "JIT cache filled: $(grep -c '^jit ' "$out/jit.log") of $(echo $mods | wc -w) modules in $(($(date +%s) - t0)) s (longest: $(sort -k3 -rn "$out/jit.log" | grep -m1 '^jit ' | cut -d' ' -f2,3) s)${missing:+; not compiled:$missing}"
	# How much machine code that is, against the driver's default cache
	# size (256 MiB in CUDA 12): whether a user's second run finds it all.
	local cache=${CUDA_CACHE_PATH:-$HOME/.nv/ComputeCache}
	[ -d "$cache" ] && step "JIT cache: $(du -sm "$cache" | cut -f1) MiB in $cache" | tee -a "$out/jit.log"
}
warm_jit

# decide: the phases that time nothing of the GPU's (the compute-sanitizer
# runs, the CIFAR-10 pretraining, judged by its kNN accuracy, the cold
# compile of a step's modules) run beside the tests, each in its own
# process; every timed phase waits for them to end.
beside_pids=
beside_names=
if [ -n "$beside_tests" ]; then
	for p in $beside_tests; do
		want "$p" || continue
		( rc=0; "phase_$p"; exit $rc ) >"$out/phase_$p.txt" 2>&1 &
		beside_pids="$beside_pids $!"
		beside_names="$beside_names $p"
		step "$p started beside the tests (pid $!)"
	done
fi
# decide: PyTorch's compiled step takes 90 s to compile on an H100; the
# process compiles and warms it beside the tests and times it (and the
# eager steps) when the train phase touches torch_go.
torch_pid=
# stop_torch ends the background PyTorch process (SIGKILL if SIGTERM does
# not end it in 5 s) and keeps its log.
stop_torch() {
	[ -n "$torch_pid" ] || return 0
	kill "$torch_pid" 2>/dev/null
	for _ in 1 2 3 4 5; do
		kill -0 "$torch_pid" 2>/dev/null || break
		sleep 1
	done
	kill -9 "$torch_pid" 2>/dev/null
	wait "$torch_pid" 2>/dev/null
	torch_pid=
	cat "$out/torch_train.log" >>"$out/torch.log"
}
if [ -n "$beside_tests" ] && want train && command -v python3 >/dev/null 2>&1; then
	rm -f "$out/torch_ready" "$out/torch_go"
	# Four inductor compile workers: the tests beside it need the cores.
	# Only the models our configurations run (ViT-B/16 only when one is).
	torch_only=vits,compile
	case " $train_configs " in *" vit_base:"*) torch_only=vits,vitb,compile ;; esac
	TORCHINDUCTOR_COMPILE_THREADS=4 python3 "$bin/torch_train.py" --only "$torch_only" --ready "$out/torch_ready" --go "$out/torch_go" --go-timeout 900 >"$out/torch_train.log" 2>&1 &
	torch_pid=$!
	step "torch_train.py compiling beside the tests (pid $torch_pid)"
fi
wait_beside() {
	local p pid
	[ -n "$beside_pids" ] || return 0
	step "waiting for:$beside_names"
	for pid in $beside_pids; do
		wait "$pid" || rc=1
	done
	for p in $beside_names; do
		cat "$out/phase_$p.txt"
		rm -f "$out/phase_$p.txt"
	done
	beside_pids=
	beside_names=
}

# The phases, in the order asked for by the preset. decide: what issue 4's
# criteria are read from first (PyTorch's kernel anchors, then ours, then
# the tensor cores' ceilings), then the profiles that explain them, then
# the whole step in the time left.
order="tests sanitizer peak bench torch profile train pretrain jitstep"
[ -n "$beside_tests" ] && order="tests torch bench peak profile train"
for phase in $order; do
	want "$phase" || continue
	# Nothing is timed while a phase beside the tests is still going.
	if [ "$phase" != tests ]; then
		wait_beside
		wait_torch_warm
	fi
	"phase_$phase"
done
wait_beside
stop_torch # when the train phase never ran
step "done"
echo
python3 "$bin/report.py" "$out" | tee "$out/summary.txt"
exit $rc
