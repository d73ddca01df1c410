//go:build cuda

package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mocogo/mocogo/engine/cuda"
	"github.com/mocogo/mocogo/internal/cli"
	"github.com/mocogo/mocogo/kernels"
)

// gpuGroupRuns are the benchmarks of each of gpuGroupNames.
var gpuGroupRuns = map[string]func(*gpuBench) error{
	"peak": (*gpuBench).peakBench, "copy": (*gpuBench).copyBench, "gemm": (*gpuBench).gemmBench,
	"mp": (*gpuBench).mixedBench, "ln": (*gpuBench).layerNormBench, "attn": (*gpuBench).attentionBench,
	"tma": (*gpuBench).tmaBench, "tmas": (*gpuBench).tmaStoreBench, "tmal": (*gpuBench).tmaLayoutBench,
	"tmapp": (*gpuBench).tmaPingpongBench, "streamk": (*gpuBench).streamKBench, "upload": (*gpuBench).uploadBench,
	"train": (*gpuBench).trainBench,
}

// runGPU times the CUDA kernels with CUDA events: a few warm-up runs, then
// the median of many. Every line that starts with RESULT is
//
//	RESULT <key> <value> <unit>
//
// with the same keys as scripts/gpu/torch_baseline.py prints, so that
// scripts/gpu/report.py can set the two side by side.
func runGPU(args []string) error {
	fs := flag.NewFlagSet("bench gpu", flag.ContinueOnError)
	iters := fs.Int("iters", 20, "timed runs per kernel (the median is reported)")
	only := fs.String("only", "", "comma-separated groups to run: "+strings.Join(gpuGroupNames, ",")+" (default all but train)")
	keys := fs.String("keys", "", "run only the benchmarks whose result key matches this regular expression, e.g. to profile one kernel (train ignores it)")
	listModules := fs.Bool("modules", false, "print the PTX modules this device loads, one per line, and exit")
	preload := fs.String("preload", "", "load these comma-separated PTX modules, print each one's load time (the driver's JIT, or its cache) and exit: run.sh fills the JIT cache with them, one process each, before the tests")
	together := fs.Bool("together", false, "with -preload: load the modules in one Preload call, several at once as pretrain's warm-up does, and print the time of the whole")
	stepModules := fs.String("step-modules", "", "fp16 or bf16: print the PTX modules a training step under that autocast type loads on this device (what pretrain's warm-up compiles), one per line, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cli.CheckArgs(fs, args); err != nil {
		return fmt.Errorf("bench gpu: %w", err)
	}
	if *stepModules != "" && *stepModules != "fp16" && *stepModules != "bf16" {
		return fmt.Errorf("bench gpu -step-modules %q: want fp16 or bf16", *stepModules)
	}
	if *together && *preload == "" {
		return fmt.Errorf("bench gpu -together: needs -preload")
	}
	if *iters < 1 {
		return fmt.Errorf("bench gpu -iters %d: want at least 1", *iters)
	}
	if err := checkGPUGroups(*only); err != nil {
		return err
	}
	for _, g := range gpuGroupNames {
		if gpuGroupRuns[g] == nil {
			return fmt.Errorf("bench gpu: group %q has no benchmarks in this build", g)
		}
	}
	var keyRE *regexp.Regexp
	if *keys != "" {
		var err error
		if keyRE, err = regexp.Compile(*keys); err != nil {
			return fmt.Errorf("bench gpu -keys: %w", err)
		}
	}

	d, err := cuda.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	mods := kernels.PTXModules()
	if maj, _ := d.ComputeCapability(); maj != 9 {
		// The *_sm90a modules load only on Hopper.
		var keep []string
		for _, m := range mods {
			if !strings.HasSuffix(m, "_sm90a") {
				keep = append(keep, m)
			}
		}
		mods = keep
	}
	if *listModules {
		fmt.Println(strings.Join(mods, "\n"))
		return nil
	}
	if *stepModules != "" {
		fmt.Println(strings.Join(d.TrainingModules(*stepModules == "bf16"), "\n"))
		return nil
	}
	if *preload != "" && *together {
		ms := strings.Split(*preload, ",")
		t := time.Now()
		if err := d.Preload(ms...); err != nil {
			return err
		}
		fmt.Printf("jit together %d modules %.2f s\n", len(ms), time.Since(t).Seconds())
		return nil
	}
	if *preload != "" {
		for _, m := range strings.Split(*preload, ",") {
			t := time.Now()
			if err := d.Preload(m); err != nil {
				return err
			}
			fmt.Printf("jit %s %.2f s\n", m, time.Since(t).Seconds())
		}
		return nil
	}
	fmt.Println("device:", d)
	t0 := time.Now()
	// Preload loads every module it can and names those the driver
	// refuses (a new kernel file): such a module costs the groups that use
	// it, not the whole run. The training step alone loads what it uses as
	// it goes (its warm-up steps keep the JIT out of the timing): on a
	// machine whose driver cache is cold that saves compiling every other
	// kernel.
	if *only == "train" {
		mods = nil
	}
	if err := d.Preload(mods...); err != nil {
		fmt.Printf("ERROR preload: %v\n", err)
	}
	fmt.Printf("loaded %d PTX modules in %.2f s (driver JIT, or its cache)\n", len(mods), time.Since(t0).Seconds())
	b := &gpuBench{d: d, iters: *iters, keys: keyRE}
	want := func(g string) bool {
		if *only == "" {
			return g != "train" // a whole ViT-S training step: only when asked
		}
		for _, s := range strings.Split(*only, ",") {
			if s == g {
				return true
			}
		}
		return false
	}
	var failed []string
	for _, g := range gpuGroupNames {
		if !want(g) {
			continue
		}
		if err := gpuGroupRuns[g](b); err != nil {
			fmt.Printf("ERROR %s: %v\n", g, err)
			failed = append(failed, g)
		}
	}
	fmt.Printf("allocator: %+v\n", d.MemStats())
	if len(failed) > 0 {
		return fmt.Errorf("benchmark groups failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

type gpuBench struct {
	d     *cuda.Device
	iters int
	keys  *regexp.Regexp // -keys: the result keys to run (nil: all)
	// kindSuffix follows the kind in gemmShapes' keys (<shape>_<kind>
	// <kindSuffix>): a setting the kinds ran under, e.g. _stagger.
	kindSuffix string
}

// wants reports whether the benchmark with the given result key is to run
// (-keys). A benchmark that prints several keys is asked by its first.
func (b *gpuBench) wants(key string) bool { return b.keys == nil || b.keys.MatchString(key) }

// time returns the median milliseconds of fn over b.iters runs after three
// warm-up runs, each run timed by its own pair of events.
func (b *gpuBench) time(fn func() error) (float64, error) {
	for i := 0; i < 3; i++ {
		if err := fn(); err != nil {
			return 0, err
		}
	}
	if err := b.d.Synchronize(); err != nil {
		return 0, err
	}
	return b.d.MedianMs(b.iters, fn)
}

func result(key string, value float64, unit string, ms float64) {
	fmt.Printf("RESULT %s %.4g %s\t(%.4f ms)\n", key, value, unit, ms)
}

// randHalf returns n fp16 values uniform in [-1,1): a block of 1<<20
// random values (prime-length, so rows do not repeat in step) tiled over the
// buffer, which keeps the host side quick for the 10⁸-element operands.
func (b *gpuBench) randHalf(n int) (*cuda.Buffer, error) { return b.rand16(n, kernels.F32ToF16) }

// randBF16 is randHalf for bf16.
func (b *gpuBench) randBF16(n int) (*cuda.Buffer, error) { return b.rand16(n, kernels.F32ToBF16) }

// rand16 returns n uniform values in [-1, 1) as 16-bit words made by bits.
func (b *gpuBench) rand16(n int, bits func(float32) uint16) (*cuda.Buffer, error) {
	h := make([]uint16, n)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	const block = 1<<20 - 3
	for i := 0; i < n && i < block; i++ {
		h[i] = bits(float32(r.Float64()*2 - 1))
	}
	for i := block; i < n; i += block {
		copy(h[i:], h[:block])
	}
	buf, err := b.d.AllocF16(n)
	if err != nil {
		return nil, err
	}
	return buf, buf.CopyFromU16(h)
}

func (b *gpuBench) randF32(n int) (*cuda.Buffer, error) {
	f := make([]float32, n)
	r := rand.New(rand.NewPCG(uint64(n), 2))
	const block = 1<<20 - 3
	for i := 0; i < n && i < block; i++ {
		f[i] = float32(r.Float64()*2 - 1)
	}
	for i := block; i < n; i += block {
		copy(f[i:], f[:block])
	}
	buf, err := b.d.AllocF32(n)
	if err != nil {
		return nil, err
	}
	return buf, buf.CopyFromF32(f)
}

func (b *gpuBench) copyBench() error {
	const n = 256 << 20
	if !b.wants("copy_256MiB") {
		return nil
	}
	src, err := b.d.Alloc(n)
	if err != nil {
		return err
	}
	defer src.Free()
	dst, err := b.d.Alloc(n)
	if err != nil {
		return err
	}
	defer dst.Free()
	ms, err := b.time(func() error { return dst.CopyFrom(src, n) })
	if err != nil {
		return err
	}
	result("copy_256MiB", 2*n/ms/1e6, "GB/s", ms)
	return nil
}

// gemmBench: square 4096³ in the three layouts, then the Linear layers of a
// ViT-S/16 step at batch 256 (M = 256·197). All operands exceed the 50 MB L2
// of an H100 except the weights, as in training. fp16 output, like torch's
// fp16 matmul.
func (b *gpuBench) gemmBench() error {
	// wgmma256 (0.3–0.8× wgmma128 on 2026-11-27) is left out to save time.
	// A kernel fault is sticky (the process's context is lost), so the
	// kernels that have run on an H100 come first, then their bf16 twins,
	// then mma4 and the staged store (the default since the seventh
	// session): a fault there costs only the keys after it.
	proven := []cuda.GemmKernel{cuda.GemmMMA, cuda.GemmMMAWide, cuda.GemmWGMMA128}
	for _, pass := range []func() error{
		func() error { return b.gemmShapes(true, layoutsAll, proven, storeDirect) },
		func() error { return b.gemmBF16(storeDirect) },
		func() error { return b.gemmShapes(false, layoutsAll, []cuda.GemmKernel{cuda.GemmMMA4}, storeDirect) },
		func() error {
			return b.gemmShapes(true, layoutsAll, append(proven, cuda.GemmMMA4), storeStaged)
		},
		func() error { return b.gemmBF16(storeStaged) },
		// mma.sync fed by TMA: NT only, last; its two persistent forms
		// (not yet run on hardware) after it, each in a pass of its own.
		func() error { return b.gemmShapes(false, layoutsNT, []cuda.GemmKernel{cuda.GemmMMATMA}, storeDirect) },
		func() error {
			return b.gemmShapes(false, layoutsNT, []cuda.GemmKernel{cuda.GemmMMATMAPersistent}, storeDirect)
		},
		func() error {
			return b.gemmShapes(false, layoutsNT, []cuda.GemmKernel{cuda.GemmMMATMAPolled}, storeDirect)
		},
	} {
		if err := pass(); err != nil {
			return err
		}
	}
	return nil
}

// storePass says which of gemmStores a gemmShapes or gemmBF16 pass times.
type storePass int

const (
	storeBoth storePass = iota
	storeDirect
	storeStaged
)

// times reports whether pass p times the store st.
func (p storePass) times(staged bool) bool {
	return p == storeBoth || (p == storeStaged) == staged
}

// gpuGemmShape is one GEMM bench gpu times.
type gpuGemmShape struct {
	key            string
	transA, transB bool
	m, n, k        int
	bias, gelu     bool
}

// gemmOperands holds the device buffers of one timed GEMM and its
// operands' row strides.
type gemmOperands struct {
	a, b, c, bias *cuda.Buffer
	lda, ldb      int
}

// operands allocates s's A and B, filled by rnd (fp16 or bf16 words), a
// 16-bit C and, when s has one, an fp32 bias.
func (b *gpuBench) operands(s gpuGemmShape, rnd func(int) (*cuda.Buffer, error)) (*gemmOperands, error) {
	ar, ac := s.m, s.k
	if s.transA {
		ar, ac = s.k, s.m
	}
	br, bc := s.k, s.n
	if s.transB {
		br, bc = s.n, s.k
	}
	o := &gemmOperands{lda: ac, ldb: bc}
	var err error
	if o.a, err = rnd(ar * ac); err != nil {
		return nil, err
	}
	if o.b, err = rnd(br * bc); err != nil {
		return nil, err
	}
	if o.c, err = b.d.AllocF16(s.m * s.n); err != nil { // 2 bytes an element: fp16 or bf16
		return nil, err
	}
	if s.bias {
		if o.bias, err = b.randF32(s.n); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *gemmOperands) free() {
	o.a.Free()
	o.b.Free()
	o.c.Free()
	o.bias.Free()
}

// gpuGemmShapes: square 4096³ in three layouts, then the GEMMs of a ViT-S/16
// step at batch 256 (M = 256·197).
func gpuGemmShapes() []gpuGemmShape {
	const M = 256 * 197
	return []gpuGemmShape{
		{"gemm_nn_4096", false, false, 4096, 4096, 4096, false, false},
		{"gemm_nt_4096", false, true, 4096, 4096, 4096, false, false},
		{"gemm_tn_4096", true, false, 4096, 4096, 4096, false, false},
		{"vit_qkv_fwd_50432x1152x384", false, true, M, 1152, 384, true, false},
		{"vit_proj_fwd_50432x384x384", false, true, M, 384, 384, true, false},
		{"vit_fc1_fwd_50432x1536x384", false, true, M, 1536, 384, true, true},
		{"vit_fc2_fwd_50432x384x1536", false, true, M, 384, 1536, true, false},
		{"vit_fc2_dx_50432x1536x384", false, false, M, 1536, 384, false, false},
		{"vit_fc1_dw_1536x384x50432", true, false, 1536, 384, M, false, false},
		{"vit_qkv_dw_1152x384x50432", true, false, 1152, 384, M, false, false},
		{"vit_fc2_dw_384x1536x50432", true, false, 384, 1536, M, false, false},
	}
}

// gemmBF16 times GemmBF16 (bf16 operands and C, fp32 accumulation) with the
// default kernel choice on 4096³ NT and the ViT-S shapes, keyed
// <shape>_bf16 (torch_baseline.py times torch's bf16 under the same keys),
// and again with the staged store, keyed <shape>_bf16_staged.
func (b *gpuBench) gemmBF16(pass storePass) error {
	for _, s := range gpuGemmShapes() {
		if s.key != "gemm_nt_4096" && !strings.HasPrefix(s.key, "vit_") {
			continue
		}
		if !slices.ContainsFunc(gemmStores, func(st gemmStore) bool { return pass.times(st.staged) && b.wants(s.key+"_bf16"+st.suffix) }) {
			continue
		}
		o, err := b.operands(s, b.randBF16)
		if err != nil {
			return err
		}
		ep := cuda.Epilogue{Bias: o.bias, GELU: s.gelu, OutBF16: true}
		for _, st := range gemmStores {
			if !pass.times(st.staged) || !b.wants(s.key+"_bf16"+st.suffix) {
				continue
			}
			old := b.d.SetGemmStaged(st.staged)
			ms, err := b.time(func() error {
				return b.d.GemmBF16(s.transA, s.transB, s.m, s.n, s.k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, s.n, ep)
			})
			b.d.SetGemmStaged(old)
			if err != nil {
				return err
			}
			result(s.key+"_bf16"+st.suffix, 2*float64(s.m)*float64(s.n)*float64(s.k)/ms/1e9, "TFLOP/s", ms)
		}
		o.free()
	}
	return nil
}

// Which layouts gemmShapes times.
const (
	layoutsAll = iota
	layoutsNT
	layoutsOther
)

// tmaBench times only the TMA kernels on the NT layout (their own group and
// process, so that a fault there costs no other numbers).
func (b *gpuBench) tmaBench() error {
	if !b.d.SetGemmKernel(cuda.GemmTMA) {
		fmt.Println("tma: not an sm_90 GPU, skipped")
		return nil
	}
	b.d.SetGemmKernel(cuda.GemmAuto)
	return b.gemmShapes(false, layoutsNT, []cuda.GemmKernel{cuda.GemmTMA, cuda.GemmTMAPersistent}, storeBoth)
}

// tmaStoreBench times the persistent TMA kernels with the TMA-store
// epilogue, alone (_tmas) and on clusters of two sharing B by multicast
// (_tmac), on every layout (weight gradients: split-K over the _tma_p
// kernels, as for GemmTMAPersistent), in a group and process of their own;
// then _tmas again with the producer's L2 prefetch of the next tile's A
// (SetGemmPrefetch: _tmas_prefetch), with three staging buffers a
// warpgroup in the 128×192 kernels (SetGemmDeepStore: _tmas_deepstore),
// with that in 128×192 tiles wherever they would be 128×256
// (SetGemmNarrowTiles: _tmas_narrow_deepstore), with the consumer
// warpgroups staggered (SetGemmStagger: _tmas_stagger) and with their
// early release of a stage (SetGemmEarlyRelease: _tmas_early, not yet run
// on hardware).
func (b *gpuBench) tmaStoreBench() error {
	if !b.d.SetGemmKernel(cuda.GemmTMAStore) {
		fmt.Println("tmas: not an sm_90 GPU, skipped")
		return nil
	}
	b.d.SetGemmKernel(cuda.GemmAuto)
	// One kind at a time, the TMA store first: a cluster kernel that
	// faults (sticky) then costs only the _tmac keys.
	if err := b.gemmShapes(false, layoutsAll, []cuda.GemmKernel{cuda.GemmTMAStore}, storeBoth); err != nil {
		return err
	}
	if err := b.gemmShapes(false, layoutsAll, []cuda.GemmKernel{cuda.GemmTMACluster}, storeBoth); err != nil {
		return err
	}
	for _, pass := range []struct {
		suffix string
		set    []func(bool) bool
	}{
		{"_prefetch", []func(bool) bool{b.d.SetGemmPrefetch}},
		{"_deepstore", []func(bool) bool{b.d.SetGemmDeepStore}},
		{"_narrow_deepstore", []func(bool) bool{b.d.SetGemmNarrowTiles, b.d.SetGemmDeepStore}},
		{"_stagger", []func(bool) bool{b.d.SetGemmStagger}},
		{"_early", []func(bool) bool{b.d.SetGemmEarlyRelease}},
	} {
		old := make([]bool, len(pass.set))
		for i, set := range pass.set {
			old[i] = set(true)
		}
		b.kindSuffix = pass.suffix
		err := b.gemmShapes(false, layoutsAll, []cuda.GemmKernel{cuda.GemmTMAStore}, storeBoth)
		for i, set := range pass.set {
			set(old[i])
		}
		b.kindSuffix = ""
		if err != nil {
			return err
		}
	}
	return nil
}

// tmaPingpongBench times the ping-pong TMA kernels (_tmapp: each consumer
// warpgroup owns whole 128×128 tiles and the two take turns at the tensor
// cores; _tmapp192: 128×192 tiles, the warpgroups loading the ring
// themselves) on every layout, in a group and process of their own; one
// kind at a time, so that a fault in the second costs only its keys. (On
// an H100, the eleventh session, both passed their tests and were slower
// than the default kernels at most shapes.)
func (b *gpuBench) tmaPingpongBench() error {
	if !b.d.SetGemmKernel(cuda.GemmTMAPingpong) {
		fmt.Println("tmapp: not an sm_90 GPU, skipped")
		return nil
	}
	b.d.SetGemmKernel(cuda.GemmAuto)
	if err := b.gemmShapes(false, layoutsAll, []cuda.GemmKernel{cuda.GemmTMAPingpong}, storeBoth); err != nil {
		return err
	}
	return b.gemmShapes(false, layoutsAll, []cuda.GemmKernel{cuda.GemmTMAPingpong192}, storeBoth)
}

// streamKBench times the weight gradients of the ViT-S/16 step under
// GemmAuto with SetGemmStreamK on (<shape>[_bf16]_streamk: the k-tiles
// dealt out evenly over one block per SM, kernels/cuda/gemm_streamk_sm90a.cu)
// and, in the same process, off (<shape>[_bf16]_splitk: the default, split-K
// over the TMA partials), then with SetGemmClusterSplitK on
// (<shape>[_bf16]_clustersplit: split-K over pairs of blocks sharing B by
// multicast, gemm_splitk_cluster_sm90a.cu, where the tile rows pair up
// evenly: fc1's; the others time the default again), then with
// SetGemmWideBoxes on (<shape>[_bf16]_wide: each operand's tile one
// three-dimensional TMA box; _streamk_wide: with stream-K; not yet run on
// hardware), then with SetGemmEarlyRelease on (_early, and _wide_early
// with the wide boxes; not yet run on hardware), then with SetGemmLookahead
// at 4, 8 and 16 k-tiles (_look4, _look8, _look16; _wide_look8 with the
// wide boxes, _early_look8 with the early release; not yet run on
// hardware), in fp16 and bf16, in a group and process of their own.
func (b *gpuBench) streamKBench() error {
	if !b.d.SetGemmKernel(cuda.GemmTMA) {
		fmt.Println("streamk: not an sm_90 GPU, skipped")
		return nil
	}
	b.d.SetGemmKernel(cuda.GemmAuto)
	// The cluster kernels, then the wide boxes and the early release (not
	// yet run), each in a pass of its own after the others over every
	// shape: a fault is sticky, and a refused launch ends the group, so
	// either would cost only the keys after it.
	for _, pass := range [][]splitVariant{
		{{suffix: "_splitk"}, {suffix: "_streamk", streamK: true}},
		{{suffix: "_clustersplit", clusterSplitK: true}},
		{{suffix: "_wide", wideBoxes: true}, {suffix: "_streamk_wide", streamK: true, wideBoxes: true}},
		{{suffix: "_early", early: true}, {suffix: "_wide_early", wideBoxes: true, early: true}},
		{{suffix: "_look4", lookahead: 4}, {suffix: "_look8", lookahead: 8}, {suffix: "_look16", lookahead: 16},
			{suffix: "_wide_look8", wideBoxes: true, lookahead: 8}, {suffix: "_early_look8", early: true, lookahead: 8}},
	} {
		if err := b.weightGradients(pass...); err != nil {
			return err
		}
	}
	return nil
}

// splitVariant is a way streamKBench times the weight gradients: the
// stream-K, cluster split-K, wide-box, early-release and look-ahead
// settings, and the key suffix.
type splitVariant struct {
	suffix                                   string
	streamK, clusterSplitK, wideBoxes, early bool
	lookahead                                int
}

// weightGradients times the weight gradients of the ViT-S/16 step (fp16
// and bf16, a half C) under GemmAuto with each variant's settings, as
// <shape>[_bf16]<suffix>.
func (b *gpuBench) weightGradients(variants ...splitVariant) error {
	for _, s := range gpuGemmShapes() {
		if !s.transA || s.k <= 8*s.n {
			continue // not a weight gradient
		}
		for _, bf := range []bool{false, true} {
			key, rnd := s.key, b.randHalf
			if bf {
				key, rnd = key+"_bf16", b.randBF16
			}
			wanted := false
			for _, v := range variants {
				wanted = wanted || b.wants(key+v.suffix)
			}
			if !wanted {
				continue
			}
			o, err := b.operands(s, rnd)
			if err != nil {
				return err
			}
			run := func() error {
				if bf {
					return b.d.GemmBF16(s.transA, s.transB, s.m, s.n, s.k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, s.n, cuda.Epilogue{OutBF16: true})
				}
				return b.d.GemmF16(s.transA, s.transB, s.m, s.n, s.k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, s.n, cuda.Epilogue{OutF16: true})
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			for _, v := range variants {
				k := key + v.suffix
				if !b.wants(k) {
					continue
				}
				oldSK := b.d.SetGemmStreamK(v.streamK)
				oldCS := b.d.SetGemmClusterSplitK(v.clusterSplitK)
				oldWB := b.d.SetGemmWideBoxes(v.wideBoxes)
				oldER := b.d.SetGemmEarlyRelease(v.early)
				oldLA := b.d.SetGemmLookahead(v.lookahead)
				ms, err := b.time(run)
				b.d.SetGemmLookahead(oldLA)
				b.d.SetGemmEarlyRelease(oldER)
				b.d.SetGemmWideBoxes(oldWB)
				b.d.SetGemmClusterSplitK(oldCS)
				b.d.SetGemmStreamK(oldSK)
				if err != nil {
					o.free()
					return err
				}
				result(k, flops/ms/1e9, "TFLOP/s", ms)
			}
			o.free()
		}
	}
	return nil
}

// tmaLayoutBench times the TMA kernels on the NN and TN layouts (the
// MN-major operand path) and the weight gradients (split-K over TMA), in a
// group and process of their own.
func (b *gpuBench) tmaLayoutBench() error {
	if !b.d.SetGemmKernel(cuda.GemmTMA) {
		fmt.Println("tmal: not an sm_90 GPU, skipped")
		return nil
	}
	b.d.SetGemmKernel(cuda.GemmAuto)
	return b.gemmShapes(false, layoutsOther, []cuda.GemmKernel{cuda.GemmTMA, cuda.GemmTMAPersistent}, storeBoth)
}

// gemmStores are the two ways the mma.sync and wgmma kernels store C
// (SetGemmStaged), with the suffix of their bench keys: the direct store
// keeps the plain keys and the staged store adds _staged, as they were
// named while the direct store was the default (before the seventh
// session). At the shapes of the gemm group GemmAuto takes the TMA-store
// kernels on an H100, which have their own epilogue: there the plain keys
// are the default.
type gemmStore struct {
	staged bool
	suffix string
}

var gemmStores = []gemmStore{{false, ""}, {true, "_staged"}}

// hasStaged reports whether kind k's kernels have the staged store
// (SetGemmStaged): mma.sync and the cp.async-fed wgmma kernels, not the
// TMA ones.
func hasStaged(k cuda.GemmKernel) bool { return !k.UsesTMA() }

// gemmShapes times each shape with the default choice, GemmAuto (when base),
// and with each of kinds where it applies (the NT layout), keyed
// <shape>_<kind>; each of these with the stores of gemmStores that pass
// times where the kernel has both (not the TMA kinds), keyed <key>_staged
// for the staged one. A kind whose launch is refused (an error that leaves
// the context usable) is reported as ERROR and dropped; a fault ends the
// group.
func (b *gpuBench) gemmShapes(base bool, layouts int, kinds []cuda.GemmKernel, pass storePass) error {
	type shape = gpuGemmShape
	shapes := gpuGemmShapes()
	dropped := map[cuda.GemmKernel]bool{}
	// applies says whether kind k serves shape s: the TMA kernels and
	// GemmMMA4 every layout (the weight gradients with split-K over their
	// own partials), GemmMMAWide every layout but the weight gradients
	// (which go to gemm_f16's split-K), the others the NT layout.
	applies := func(k cuda.GemmKernel, s shape) bool {
		if k.UsesTMA() || k == cuda.GemmMMA4 {
			return true
		}
		if k == cuda.GemmMMAWide {
			return s.k <= 8*s.n // the weight gradients go to split-K
		}
		return !s.transA && s.transB
	}
	for _, s := range shapes {
		if nt := !s.transA && s.transB; (layouts == layoutsNT && !nt) || (layouts == layoutsOther && nt) {
			continue
		}
		if b.kindSuffix != "" && s.transA && s.k > 8*s.n {
			continue // weight gradients: streamKBench times them under each setting that reaches their partials
		}
		// The keys this shape prints: the base key (under each store) and
		// its _nosplit twin (GemmAuto), then one per kind that serves the
		// shape (under each store where the kind has the staged one). A
		// shape with none that -keys wants is skipped whole.
		// wantsStores says whether the pass times some store of key that
		// -keys wants (only the direct one where a kind has no other).
		wantsStores := func(key string, both bool) bool {
			return slices.ContainsFunc(gemmStores, func(st gemmStore) bool {
				return pass.times(st.staged) && (both || !st.staged) && b.wants(key+st.suffix)
			})
		}
		var keys []string
		if base {
			if wantsStores(s.key, true) {
				keys = append(keys, s.key)
			}
			if pass.times(false) && s.transA && s.k > 8*s.n && b.wants(s.key+"_nosplit") {
				keys = append(keys, s.key+"_nosplit")
			}
		}
		var use []cuda.GemmKernel
		for _, k := range kinds {
			if dropped[k] || !applies(k, s) {
				continue
			}
			if key := s.key + "_" + k.String() + b.kindSuffix; wantsStores(key, hasStaged(k)) {
				use = append(use, k)
				keys = append(keys, key)
			}
		}
		if len(keys) == 0 {
			continue
		}
		o, err := b.operands(s, b.randHalf)
		if err != nil {
			return err
		}
		ep := cuda.Epilogue{Bias: o.bias, GELU: s.gelu, OutF16: true}
		run := func() error {
			return b.d.GemmF16(s.transA, s.transB, s.m, s.n, s.k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, s.n, ep)
		}
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		// timeStores times run under each store that -keys wants, or
		// only the direct one when the kernel kind has no other.
		timeStores := func(key string, both bool) error {
			for _, st := range gemmStores {
				if st.staged && !both || !pass.times(st.staged) || !b.wants(key+st.suffix) {
					continue
				}
				old := b.d.SetGemmStaged(st.staged)
				ms, err := b.time(run)
				b.d.SetGemmStaged(old)
				if err != nil {
					return err
				}
				result(key+st.suffix, flops/ms/1e9, "TFLOP/s", ms)
			}
			return nil
		}
		if base {
			if err := timeStores(s.key, true); err != nil {
				return err
			}
			if pass.times(false) && s.transA && s.k > 8*s.n && b.wants(s.key+"_nosplit") {
				// The weight gradient without split-K, as before it.
				old := b.d.SetGemmSplitK(1)
				ms, err := b.time(run)
				b.d.SetGemmSplitK(old)
				if err != nil {
					return err
				}
				result(s.key+"_nosplit", flops/ms/1e9, "TFLOP/s", ms)
			}
		}
		for _, k := range use {
			if !b.d.SetGemmKernel(k) {
				continue
			}
			err := timeStores(s.key+"_"+k.String()+b.kindSuffix, hasStaged(k))
			b.d.SetGemmKernel(cuda.GemmAuto)
			if err != nil {
				if serr := b.d.Synchronize(); serr != nil {
					return err // a fault: the context is gone
				}
				fmt.Printf("ERROR %s_%s%s: %v (kind dropped from this group)\n", s.key, k, b.kindSuffix, err)
				dropped[k] = true
			}
		}
		o.free()
	}
	return nil
}

// layerNormBench: fp32 LayerNorm over ViT-S and ViT-B activations; GB/s
// counts the bytes that must move (x read, y written; backward: x and dy
// read, dx written).
func (b *gpuBench) layerNormBench() error {
	const rows = 256 * 197
	for _, cols := range []int{384, 768} {
		fwdKey, bwdKey := fmt.Sprintf("ln_fwd_%dx%d", rows, cols), fmt.Sprintf("ln_bwd_%dx%d", rows, cols)
		if !b.wants(fwdKey) && !b.wants(bwdKey) {
			continue
		}
		n := rows * cols
		x, err := b.randF32(n)
		if err != nil {
			return err
		}
		dy, err := b.randF32(n)
		if err != nil {
			return err
		}
		gamma, err := b.randF32(cols)
		if err != nil {
			return err
		}
		beta, err := b.randF32(cols)
		if err != nil {
			return err
		}
		y, _ := b.d.AllocF32(n)
		dx, _ := b.d.AllocF32(n)
		mean, _ := b.d.AllocF32(rows)
		rstd, _ := b.d.AllocF32(rows)
		dg, _ := b.d.AllocF32(cols)
		db, _ := b.d.AllocF32(cols)
		if b.wants(fwdKey) {
			ms, err := b.time(func() error { return b.d.LayerNormForward(y, x, gamma, beta, mean, rstd, rows, cols, 1e-6) })
			if err != nil {
				return err
			}
			result(fwdKey, 2*4*float64(n)/ms/1e6, "GB/s", ms)
		}
		if b.wants(bwdKey) {
			// The statistics the backward reads, from one forward.
			if err := b.d.LayerNormForward(y, x, gamma, beta, mean, rstd, rows, cols, 1e-6); err != nil {
				return err
			}
			ms, err := b.time(func() error { return b.d.LayerNormBackward(dx, dy, x, gamma, mean, rstd, dg, db, rows, cols) })
			if err != nil {
				return err
			}
			result(bwdKey, 3*4*float64(n)/ms/1e6, "GB/s", ms)
		}
		for _, buf := range []*cuda.Buffer{x, dy, gamma, beta, y, dx, mean, rstd, dg, db} {
			buf.Free()
		}
	}
	return nil
}
