#!/usr/bin/env bash
# selftest.sh: runs run.sh's `decide` preset here, without a GPU, on stand-in
# binaries (a test binary with passing, failing and hanging tests, a bench
# that prints RESULT lines, pretrain, lincls, the PyTorch scripts and
# nvidia-smi), and checks what it did: every phase in its order, the
# processes beside the tests, the PyTorch handshake, the time budget and the
# report. run.sh is bash that first runs on a machine we hold for minutes;
# this catches its mistakes here. .ci/run runs it (about 20 s).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/bin
mkdir -p "$bin/tests" "$tmp/path"
cp "$root/scripts/gpu/run.sh" "$root/scripts/gpu/report.py" "$root/scripts/gpu/ncu_summary.py" "$root/scripts/gpu/ncu_sass.py" "$root/scripts/gpu/pack.sh" "$bin/"

cat >"$bin/tests/engine_cuda.test" <<'EOF'
#!/usr/bin/env bash
if [ "$1" = -test.list ]; then printf 'TestA\nTestB\nTestFail\nTestHang\nTestC\nTestD\nTestGemmViT\nTestGemmF16WideBoxes\n'; exit 0; fi
for a in "$@"; do case $a in ^Test*) t=${a#^}; t=${t%\$} ;; esac; done
echo "=== RUN   $t"
case $t in
TestFail) echo "--- FAIL: $t (0.00s)"; echo FAIL; exit 1 ;;
TestHang) sleep 1000 ;;
*) sleep 1; echo "--- PASS: $t (1.00s)"; echo PASS ;;
esac
EOF
cat >"$bin/bench" <<'EOF'
#!/usr/bin/env bash
case "$*" in
*"-step-modules fp16"*) printf 'gemm_f16\nattention\n'; exit 0 ;;
*"-modules"*) printf 'gemm_f16\nattention\n'; exit 0 ;;
*"-preload "*" -together"*) [ "${CUDA_CACHE_DISABLE:-}" = 1 ] && echo "jit together 2 modules 0.60 s"; exit 0 ;;
*"-preload "*","*) [ "${CUDA_CACHE_DISABLE:-}" = 1 ] && for m in ${3//,/ }; do echo "jit $m 0.50 s"; done; exit 0 ;;
*"-preload "*) echo "jit $3 0.50 s"; exit 0 ;;
esac
echo "device: stand-in"
case "$*" in
*"-only train"*) echo "RESULT train_vits16_224_b256_fp16${MOCOGO_GEMM_KERNEL:+_gemm$MOCOGO_GEMM_KERNEL}${MOCOGO_ATTN_KERNEL:+_attn$MOCOGO_ATTN_KERNEL}${MOCOGO_GEMM_RESIDUAL:+_residual}${MOCOGO_GEMM_GELU_GRAD:+_gelugrad}${MOCOGO_GEMM_WIDE_BOXES:+_wideboxes}_img_per_s 2000 img/s 128" ;;
*) echo "RESULT ${3}_key 1 TFLOP/s 1" ;;
esac
EOF
# The stand-in pretrain fails in fp16 (the cuda default), so that run.sh's
# fallback to fp32 storage is exercised too.
cat >"$bin/pretrain" <<'EOF'
#!/usr/bin/env bash
case " $* " in *" --precision fp32 "*) ;; *) echo "cuda: a stand-in failure in fp16"; exit 3 ;; esac
prev=
for a; do [ "$prev" = --out ] && mkdir -p "$a" && touch "$a/backbone.safetensors"; prev=$a; done
sleep 2
echo "kNN top-1: 40.00% after training, 30.00% at random init (+10.00 points)."
EOF
printf '#!/usr/bin/env bash\necho "Backbone: stand-in, $*"\necho "kNN (k=200, t=0.1): top-1 41.00%%"\n' >"$bin/lincls"
cat >"$bin/torch_train.py" <<'EOF'
import os, sys, time
a = sys.argv
if "--go" in a:
    time.sleep(1)
    open(a[a.index("--ready") + 1], "w").close()
    print("torch.compile: warm after 1.0 s", flush=True)
    while not os.path.exists(a[a.index("--go") + 1]):
        time.sleep(0.2)
print("RESULT train_vits16_224_b256_fp16_img_per_s 1789 img/s 143", flush=True)
EOF
printf 'print("RESULT gemm_key 2 TFLOP/s 1", flush=True)\n' >"$bin/torch_baseline.py"
printf 'x' >"$bin/cifar10-train.tar.gz"
printf '#!/usr/bin/env bash\n[ "${1:-}" = -L ] && echo "GPU 0: stand-in" || echo stand-in\n' >"$tmp/path/nvidia-smi"
printf '#!/usr/bin/env bash\necho "========= ERROR SUMMARY: 0 errors"\necho "========= RACECHECK SUMMARY: 0 hazards displayed"\n' >"$tmp/path/compute-sanitizer"
# A stand-in ncu: writes the report -o names, and prints a details page for
# --import.
cat >"$tmp/path/ncu" <<'EOF'
#!/usr/bin/env bash
prev=
for a; do [ "$prev" = -o ] && echo rep >"$a.ncu-rep"; prev=$a; done
case " $* " in
*" --page raw "*)
	printf '"ID","Kernel Name","gpu__time_duration.sum","sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_elapsed","smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio","smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio","smsp__average_warps_issue_stalled_wait_per_issue_active.ratio"\n'
	printf '"","","usecond","%%","ratio","ratio","ratio"\n'
	printf '"0","gemm_stand_in","161.2","29.5","0.5","3.5","1.0"\n' ;;
*" --page source "*)
	printf '"Kernel Name","gemm_stand_in",\n"Address","Source","Warp Stall Sampling (All Samples)","stall_long_sb","stall_wait"\n'
	printf '"0x7f0000001000","      HGMMA.64x192x16.F32 R24, gdesc[UR4], R24 ","10","0","10"\n'
	printf '"0x7f0000001e60","      @P0 SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [R197+URZ+0x30020], R166 ","30","27","3"\n' ;;
*" --import "*) printf '  gemm_stand_in (1, 1, 1)x(384, 1, 1)\n    Duration  usecond  100\n' ;;
esac
EOF
chmod +x "$bin/tests/engine_cuda.test" "$bin/bench" "$bin/pretrain" "$bin/lincls" "$tmp/path/"*
# build.sh's xz-compressed binaries, unpacked by Python's lzma where the xz
# tool fails (here a stand-in that always does).
python3 -c 'import lzma, sys; open(sys.argv[1] + ".xz", "wb").write(lzma.compress(open(sys.argv[1], "rb").read()))' "$bin/lincls"
rm "$bin/lincls"
printf '#!/usr/bin/env bash\nexit 1\n' >"$tmp/path/xz"
chmod +x "$tmp/path/xz"

# The budget leaves room for a loaded CI machine: the stand-ins take about
# 12 s alone, and under load the profile phase alone took 15 s, which at a
# budget of 60 left the step no time.
budget=120
t0=$(date +%s)
set +e
PATH="$tmp/path:$PATH" MOCOGO_RUN_BUDGET=$budget MOCOGO_TEST_LIMIT=4 bash "$bin/run.sh" "$tmp/out" decide >"$tmp/log" 2>&1
rc=$?
set -e
took=$(($(date +%s) - t0))

fail=0
check() { # check WHAT PATTERN FILE
	if ! grep -qE "$2" "$3"; then
		echo "selftest: $1: no line matching /$2/ in $(basename "$3")"
		fail=1
	fi
}
refute() { # refute WHAT PATTERN FILE: WHAT went wrong if a line matches
	if grep -qE "$2" "$3"; then
		echo "selftest: $1"
		fail=1
	fi
}
[ $rc -eq 1 ] || { echo "selftest: run.sh exit $rc, want 1 (a test fails)"; fail=1; }
[ $took -le $budget ] || { echo "selftest: run.sh took ${took}s of a $budget s budget"; fail=1; }
check "phases in decide's order" 'phase tests' "$tmp/log"
check "the JIT cache filled before the tests" 'JIT cache filled: 2 of 2 modules in [0-9]+ s \(longest: (gemm_f16|attention) 0.50 s\)' "$tmp/log"
jit_line=$(grep -n 'JIT cache filled' "$tmp/log" | head -1 | cut -d: -f1)
first_start=$(grep -nE 'phase tests|started beside the tests|compiling beside the tests' "$tmp/log" | head -1 | cut -d: -f1)
[ -n "$jit_line" ] && [ -n "$first_start" ] && [ "$jit_line" -lt "$first_start" ] || { echo "selftest: the JIT warm-up (line ${jit_line:-none}) does not come before the first process it serves (line ${first_start:-none})"; fail=1; }
order=$(grep -oE 'phase (tests|train|bench|torch|peak|profile)' "$tmp/log" | cut -d' ' -f2 | tr '\n' ' ')
[ "$order" = "tests torch bench peak profile train " ] || { echo "selftest: phase order '$order'"; fail=1; }
check "sanitizer beside the tests" 'sanitizer started beside the tests' "$tmp/log"
check "pretrain beside the tests" 'pretrain started beside the tests' "$tmp/log"
check "torch.compile beside the tests" 'torch_train.py compiling beside the tests' "$tmp/log"
check "a hanging test killed" 'TestHang \(killed after' "$tmp/out/test_engine_cuda.log"
check "every train configuration" '_wideboxes_img_per_s' "$tmp/out/bench.log"
check "PyTorch timed after the handshake" '^RESULT train_vits16_224_b256_fp16_img_per_s 1789' "$tmp/out/torch.log"
check "PyTorch's warm step timed, not run again" 'warmed beside the tests: timing' "$tmp/log"
refute "the warm PyTorch process was stopped or its step run again" 'not warm after|torch_train.py \(cap' "$tmp/log"
check "the pretraining's kNN" 'after training' "$tmp/log"
check "pretrain's failure shown" 'a stand-in failure in fp16' "$tmp/log"
check "pretrain's fallback to fp32" 'pretrain again: --precision fp32' "$tmp/log"
check "lincls on the fallback's backbone" 'Backbone: stand-in, .*--precision fp32 .*pretrain_cifar_fp32/backbone' "$tmp/log"
check "report: tests" '^engine_cuda +6 +2 ' "$tmp/out/summary.txt"
check "report: the machine's kernel (gVisor or not)" '^kernel [0-9]' "$tmp/out/summary.txt"
check "the never-run kernels' tests, then the heavy ones, queued first" 'tests: 8 in 4 processes at a time, 280s, from TestGemmF16WideBoxes' "$tmp/log"
check "report: failed tests named" 'failed: TestFail, TestHang' "$tmp/out/summary.txt"
check "report: racecheck" 'racecheck \(racecheck_attn.log\): 0 hazards' "$tmp/out/summary.txt"
check "report: the JIT times" 'driver JIT of the PTX modules \(jit.log; .*\): 1.0 s in all' "$tmp/out/summary.txt"
check "a step's modules compiled cold beside the tests" 'jitstep started beside the tests' "$tmp/log"
check "report: a step's modules cold, all at once" 'all at once \(Preload, as pretrain.s warm-up\): 0.6 s for 2 modules' "$tmp/out/summary.txt"
check "report: a step's modules cold, one after another" 'one after another: 1.0 s for 2 modules, the longest ' "$tmp/out/summary.txt"
check "report: a step's modules cold, the ratio" 'at once / one after another: 0.60' "$tmp/out/summary.txt"
check "report: the load beside the compiles" 'load average before: [0-9.]+ ' "$tmp/out/summary.txt"
check "an Nsight Compute profile in the time left" 'ncu gemm_tmap_vit_qkv_dw \(cap' "$tmp/log"
check "the profile's details kept" 'Duration' "$tmp/out/profile.log"
check "the profile's stall reasons summed up" 'stalls: long_scoreboard 70%, wait 20%, barrier 10%' "$tmp/out/profile.log"
check "the profile's tensor-pipe share" 'tensor \(wgmma\) busy % +29.5 %' "$tmp/out/profile.log"
check "report: the profile digests" 'stalls: long_scoreboard 70%' "$tmp/out/summary.txt"
check "the profile's stalls per instruction" '75\.0% +0x0e60 +@P0 SYNCS\.PHASECHK\.TRANS64\.TRYWAIT .* long_sb 90%, wait 10%' "$tmp/out/profile.log"
check "report: our step beside PyTorch's" '^train_vits16_224_b256_fp16_gemmtune_img_per_s +2000.0 +1789.0 +1.12' "$tmp/out/summary.txt"
# report.py: issue 4's criteria, each with its ratio and verdict.
mkdir -p "$tmp/crit"
printf '%s\n' 'device: NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)' 'RESULT gemm_nt_4096 700 TFLOP/s 1' 'RESULT gemm_nt_4096_mma 300 TFLOP/s 1' \
	'RESULT gemm_nn_4096_mma4_staged 280 TFLOP/s 1' 'RESULT vit_qkv_fwd_50432x1152x384 400 TFLOP/s 1' 'RESULT ln_fwd_50432x384 2400 GB/s 1' \
	'RESULT attn_fwdbwd_h12d32 100 TFLOP/s 1' >"$tmp/crit/bench.log"
printf '%s\n' 'RESULT gemm_nt_4096 700 TFLOP/s 1' 'RESULT gemm_nn_4096 800 TFLOP/s 1' 'RESULT vit_qkv_fwd_50432x1152x384 440 TFLOP/s 1' \
	'RESULT copy_256MiB 2900 GB/s 1' 'RESULT attn_fwdbwd_h12d32 70 TFLOP/s 1' \
	'KERNELS vit_qkv_fwd_50432x1152x384 sm90_xmma_gemm_f16f16_f16f32_f32_tn_n_tilesize128x256x64_cluster2x1x1 | vectorized_elementwise_kernel' >"$tmp/crit/torch.log"
python3 "$bin/report.py" "$tmp/crit" >"$tmp/crit/summary.txt"
check "report: the mma.sync criterion, its best kernel" '^  FAIL  GEMM 4096³, mma.sync +0\.429  \(need 0\.70; gemm_nt_4096_mma: ' "$tmp/crit/summary.txt"
check "report: the Hopper criterion" '^  PASS  GEMM 4096³ NT, default \(Hopper\) +1\.000' "$tmp/crit/summary.txt"
check "report: a shape not timed" '^  -     GEMM 4096³ NN, default \(Hopper\) +no number  \(need 0\.90; gemm_nn_4096: ours not timed\)' "$tmp/crit/summary.txt"
check "report: a ViT-S/16 shape" '^  PASS  ViT-S/16 qkv fwd +0\.909' "$tmp/crit/summary.txt"
check "report: attention" '^  PASS  attention fwd\+bwd, 12×32 +1\.429' "$tmp/crit/summary.txt"
check "report: LayerNorm against the copy" '^  PASS  LayerNorm fwd_50432x384 +0\.828' "$tmp/crit/summary.txt"
check "report: cuBLAS's kernel at an anchor" '^  vit_qkv_fwd_50432x1152x384 +sm90_xmma_gemm_.*tilesize128x256x64_cluster2x1x1 \| vectorized' "$tmp/crit/summary.txt"
refute "report: an H100 taken for another GPU" 'NOT AN H100' "$tmp/crit/summary.txt"
sed -i 's/H100 80GB HBM3/H200/' "$tmp/crit/bench.log"
python3 "$bin/report.py" "$tmp/crit" >"$tmp/crit/summary.txt"
check "report: an H200's numbers named as such" "^issue 4's criteria \(ratios of this run\): on an H200; the issue names an H100" "$tmp/crit/summary.txt"
sed -i 's/H200/A100-SXM4-80GB/' "$tmp/crit/bench.log"
python3 "$bin/report.py" "$tmp/crit" >"$tmp/crit/summary.txt"
check "report: another GPU's numbers marked" "^issue 4's criteria \(ratios of this run\): NOT AN H100" "$tmp/crit/summary.txt"
# report.py: the tile-load reading against this run's own profile of the
# partials (113 k-tiles a block) where it ran.
mkdir -p "$tmp/crit/ncu"
printf '%s\n' '"ID","gpc__cycles_elapsed.max"' '"","cycle"' '"0","169500"' >"$tmp/crit/ncu/gemm_tmap_vit_qkv_dw.raw.csv"
echo 'RESULT peak_tileload_qkvdw_2d_clk_per_ktile 1510 clk 1' >>"$tmp/crit/bench.log"
python3 "$bin/report.py" "$tmp/crit" >"$tmp/crit/summary.txt"
check "report: the tile-load reading from this run's profile" '^  reading: 2d at 1510 against 1200 \(latency, all stages loading\) and 1500 \(the partials\): the loads. rate limits' "$tmp/crit/summary.txt"
echo 'RESULT peak_tileload_qkvdw_2d_look8_clk_per_ktile 1100 clk 1' >>"$tmp/crit/bench.log"
python3 "$bin/report.py" "$tmp/crit" >"$tmp/crit/summary.txt"
check "report: the tile-load probe with the look-ahead" '^  reading: 2d with the look-ahead of 8 at 1100 against 1510 without: the look-ahead speeds the loads alone' "$tmp/crit/summary.txt"
# pack.sh: the call's few files, each under its limit (here 100 kB), the
# largest left out and named, the run folder gone from the call's OUT.
mkdir -p "$tmp/call"
cp -r "$tmp/out" "$tmp/call/r"
rm -f "$tmp/call/r/summary.txt" # as when run.sh is cut off: pack.sh writes it
head -c 300000 /dev/urandom >"$tmp/call/r/ncu/big.ncu-rep"
head -c 300000 /dev/urandom >"$tmp/call/r/big.log"
PACK_LIMIT=100000 bash "$bin/pack.sh" "$tmp/call" "$tmp/call/r" >"$tmp/logp" 2>&1
for f in r.tgz ncu.tgz summary.txt; do
	[ -s "$tmp/call/$f" ] || { echo "selftest: pack.sh wrote no $f"; fail=1; }
done
for f in r.tgz ncu.tgz; do
	[ "$(stat -c %s "$tmp/call/$f" 2>/dev/null || echo 0)" -le 100000 ] || { echo "selftest: pack.sh's $f is over its limit"; fail=1; }
done
[ ! -e "$tmp/call/r" ] || { echo "selftest: pack.sh left the run folder in OUT"; fail=1; }
check "pack.sh: the report made when run.sh wrote none" '^engine_cuda +6 +2 ' "$tmp/call/summary.txt"
tar xzf "$tmp/call/r.tgz" -C "$tmp/call"
tar xzf "$tmp/call/ncu.tgz" -C "$tmp/call"
check "pack.sh: the large report left out and named" 'left out of ncu.tgz .*: r/ncu/big.ncu-rep' "$tmp/call/r/PACKING.txt"
check "pack.sh: the large log left out and named" 'left out of r.tgz .*: r/big.log' "$tmp/call/r/PACKING.txt"
[ -f "$tmp/call/r/bench.log" ] && [ -f "$tmp/call/r/ncu/gemm_tmas_vit_qkv_fwd.ncu-rep" ] || { echo "selftest: pack.sh lost the logs or the reports"; fail=1; }
# quick: the short check, its tests with -test.short, within its budget
# (230 s on the GPU; 30 here).
t0=$(date +%s)
set +e
PATH="$tmp/path:$PATH" MOCOGO_RUN_BUDGET=30 MOCOGO_TEST_LIMIT=4 bash "$bin/run.sh" "$tmp/outq" quick >"$tmp/logq" 2>&1
set -e
tookq=$(($(date +%s) - t0))
[ $tookq -le 30 ] || { echo "selftest: run.sh quick took ${tookq}s of a 30 s budget"; fail=1; }
order=$(grep -oE 'phase [a-z]+' "$tmp/logq" | cut -d' ' -f2 | tr '\n' ' ')
[ "$order" = "tests bench torch " ] || { echo "selftest: quick's phase order '$order'"; fail=1; }
check "quick: the report" '^engine_cuda +6 +2 ' "$tmp/outq/summary.txt"
if grep -qs "$tmp/bin/torch_train.py" /proc/[0-9]*/cmdline; then
	echo "selftest: the PyTorch process outlived run.sh"
	fail=1
fi
if [ $fail -ne 0 ]; then
	echo "--- run.sh output:"
	cat "$tmp/log"
	echo "--- run.sh quick output:"
	cat "$tmp/logq" 2>/dev/null
	exit 1
fi
echo "selftest: run.sh decide: phases, processes beside the tests, handshake, budget (${took}s of $budget) and report as expected; quick likewise (${tookq}s of 30)"
