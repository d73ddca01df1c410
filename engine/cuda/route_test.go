package cuda

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mocogo/mocogo/kernels"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An H100 SXM (132 SMs) and an A100 (108), with split-K automatic.
var (
	routerH100 = gemmRouter{sms: 132, hopper: true}
	routerA100 = gemmRouter{sms: 108}
)

// ptxEntry is what a test can read of a kernel in the embedded PTX: its
// count of parameters and its .maxntid (the most threads a block it was
// compiled for; 0 where it names none).
type ptxEntry struct{ params, maxThreads int }

// ptxEntries maps each kernel of the embedded PTX modules, as
// "module.kernel", to what its entry declares.
func ptxEntries(t *testing.T) map[string]ptxEntry {
	t.Helper()
	entry := regexp.MustCompile(`(?m)^\.visible \.entry (\w+)\(\n((?:\t\.param [^\n]*\n)*)\)\n(?:\.maxntid (\d+), 1, 1\n)?`)
	out := map[string]ptxEntry{}
	for _, mod := range kernels.PTXModules() {
		src, err := kernels.PTX(mod)
		require.NoError(t, err)
		for _, m := range entry.FindAllStringSubmatch(src, -1) {
			e := ptxEntry{params: strings.Count(m[2], ".param ")}
			if m[3] != "" {
				e.maxThreads, err = strconv.Atoi(m[3])
				require.NoError(t, err)
			}
			out[mod+"."+m[1]] = e
		}
	}
	require.NotEmpty(t, out)
	return out
}

// routeLaunches lists the kernels rt launches for p, as "module.kernel",
// each with the count of parameters launchRoute passes it and the threads
// a block it launches (0: not checked here).
func routeLaunches(rt gemmRoute, p gemmProduct) map[string]ptxEntry {
	out := map[string]ptxEntry{}
	switch rt.path {
	case pathDirect:
		// A, B, C, bias, M, N, K, lda, ldb, ldc, alpha, beta, flags.
		out[rt.module+"."+rt.kernel] = ptxEntry{13, rt.threads}
	case pathSplitMMA:
		// A, B, W, M, N, K, lda, ldb, kchunk, ldw, flags; the reduce:
		// W, C, bias, M, N, splits, ldc, alpha, beta, flags, ldw.
		out[rt.module+"."+rt.kernel] = ptxEntry{11, rt.threads}
		out[typedModule("gemm_f16", p.bf)+"."+rt.reduce] = ptxEntry{11, 256}
	case pathTMA:
		// Tensor maps for A, B (and C), then C, bias, M, N, K, ldc,
		// alpha, beta, flags and (but for the one-tile kernels) kchunk.
		n := 11
		if rt.store {
			n++
		}
		if tmaTakesKChunk(rt.kernel) {
			n++
		}
		out[rt.module+"."+rt.kernel] = ptxEntry{n, rt.threads}
	case pathSplitTMA:
		out[rt.module+"."+rt.kernel] = ptxEntry{12, rt.threads}
		out[typedModule("gemm_f16", p.bf)+"."+rt.reduce] = ptxEntry{11, 256}
		if rt.streamK {
			// Tensor maps for A and B, W, M, N, K, the slots a block; the
			// reduce: W, C, bias, M, N, ldc, alpha, beta, flags, BN, KT,
			// G, the slots a block.
			partial, reduce := streamKKernels(p.bf, rt.bn, rt.wide)
			threads, _ := tmaShape(streamKModule, partial, rt.bn, false, false, false, false)
			out[streamKModule+"."+partial] = ptxEntry{7, threads}
			out[streamKModule+"."+reduce] = ptxEntry{13, 256}
		}
	}
	return out
}

// routeProducts are products of every layout and type at the ViT-S/16
// step's shapes, at 4096³, at the projector's and at odd sizes, with and
// without GELU, of fp32 and half C, aligned or not.
func routeProducts() []gemmProduct {
	type mnk struct{ m, n, k int }
	shapes := []mnk{
		{50432, 1152, 384}, {50432, 384, 384}, {50432, 1536, 384}, {50432, 384, 1536}, // forward, input gradients
		{1152, 384, 50432}, {384, 384, 50432}, {1536, 384, 50432}, {384, 1536, 50432}, // weight gradients
		{4096, 4096, 4096}, {256, 4096, 384}, {256, 256, 4096}, {4096, 256, 256},
		{1, 1, 1}, {127, 129, 65}, {1000, 1000, 0}, {300, 200, 9000}, {130, 70, 100000},
	}
	var out []gemmProduct
	for _, s := range shapes {
		for layout := range 4 {
			for _, bf := range []bool{false, true} {
				for variant := range 4 {
					p := gemmProduct{bf: bf, transA: layout&2 != 0, transB: layout&1 != 0, m: s.m, n: s.n, k: s.k,
						aligned: variant != 3, cAligned: true, ldc: s.n, staged: gemmStaged}
					switch variant {
					case 0:
						p.flags = gemmOutF16
					case 1:
						p.flags = gemmOutF16 | gemmGELU
					case 2:
						p.beta = true // fp32 C, read
					}
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// allChoices are every kind SetGemmKernel accepts (GemmTune aside) with
// every schedule setting, GemmTune's and the cluster split-K (alone and
// with stream-K).
func allChoices() []GemmChoice {
	settings := append(slices.Clone(tuneSettings), GemmChoice{ClusterSplit: true}, GemmChoice{ClusterSplit: true, StreamK: true},
		GemmChoice{WideBoxes: true, ClusterSplit: true}, GemmChoice{WideBoxes: true, StreamK: true})
	var out []GemmChoice
	for k := GemmAuto; !strings.HasPrefix(k.String(), "GemmKernel("); k++ {
		if k == GemmTune {
			continue
		}
		for _, s := range settings {
			s.Kernel = k
			out = append(out, s)
		}
	}
	return out
}

// maxDynamicSmem is the most dynamic shared memory a block may have on
// an H100 (227 KB).
const maxDynamicSmem = 232448

// TestRouteLaunchesExist checks every route of every choice for products
// of every layout, type and shape class on an H100 and an A100, with
// split-K automatic, off and forced: each kernel it launches is in the
// embedded PTX module it names, with as many parameters as launchRoute
// passes and the block size it was compiled for; an A100 gets no Hopper
// module; and each route keeps the rules of the kernels it picks.
func TestRouteLaunchesExist(t *testing.T) {
	entries := ptxEntries(t)
	seen := map[string]bool{}
	blockChecked := 0
	for _, r := range []gemmRouter{routerH100, routerA100, {sms: 132, hopper: true, splitMode: 1}, {sms: 132, hopper: true, splitMode: 3}, {sms: 132, hopper: true, noTMASplitDW: true}} {
		for _, p := range routeProducts() {
			for _, ch := range allChoices() {
				if !r.hopper && ch.Kernel != GemmAuto && ch.Kernel != GemmMMA && ch.Kernel != GemmMMAWide && ch.Kernel != GemmMMA4 {
					continue // SetGemmKernel refuses the Hopper kinds there
				}
				fail := func(format string, args ...any) {
					t.Helper()
					t.Fatalf("%+v %v %+v: %s", r, ch, p, fmt.Sprintf(format, args...))
				}
				rt := r.route(ch, p)
				if ch == (GemmChoice{}) {
					// The epilogue-source routes (SetGemmResidual,
					// SetGemmGELUGrad) instead, where they apply.
					for _, residual := range []bool{true, false} {
						if srt, ok := r.srcEpilogueRoute(p, residual, true); ok {
							rt = srt
						}
					}
				}
				for kernel, want := range routeLaunches(rt, p) {
					seen[kernel] = true
					got, ok := entries[kernel]
					if !ok {
						fail("no kernel %s in the PTX", kernel)
					}
					if got.params != want.params {
						fail("%s has %d parameters, launched with %d", kernel, got.params, want.params)
					}
					if got.maxThreads != 0 {
						if got.maxThreads != want.maxThreads {
							fail("%s is compiled for blocks of %d threads, launched with %d", kernel, got.maxThreads, want.maxThreads)
						}
						blockChecked++
					}
					if !r.hopper && strings.Contains(kernel, "_sm90a.") {
						fail("%s on an A100", kernel)
					}
				}
				if rt.path == pathDirect || rt.path == pathSplitMMA {
					if rt.flags&gemmStaged != p.staged {
						fail("flags %#x: the staged-store setting is %#x", rt.flags, p.staged)
					}
				} else if rt.flags&gemmStaged != 0 {
					fail("flags %#x ask a TMA kernel for the staged store", rt.flags)
				}
				if rt.smem > maxDynamicSmem {
					fail("%d bytes of shared memory", rt.smem)
				}
				if rt.reduce != "" && strings.HasSuffix(rt.reduce, "_bf16") != p.bf {
					fail("reduce %s for a C of the operands' type", rt.reduce)
				}
				if strings.HasPrefix(rt.kernel, "gemm_bf16_") != p.bf {
					fail("kernel %s", rt.kernel)
				}
				if rt.store && !tmaStoreOK(p.cAligned, p.ldc, p.n, p.celem(), p.beta && !rt.src) { // a source takes beta's place
					fail("a TMA store of a C it cannot write")
				}
				if rt.deep && !(ch.DeepStore && rt.bn == 192 && rt.cluster == 1 && p.flags&gemmOutF16 != 0) {
					fail("the deep store")
				}
				if rt.wide != (strings.HasSuffix(rt.kernel, "_tma_pw") || strings.HasSuffix(rt.kernel, "_tma_p192w")) || rt.wide && (rt.path != pathSplitTMA || rt.cluster > 1 || !ch.WideBoxes || !wideBoxesOK(p.transA, p.transB, p.m, p.n, rt.bn)) {
					fail("wide boxes on kernel %s", rt.kernel)
				}
				if rt.cluster == 2 && rt.path == pathSplitTMA && (!clusterSplitKernels(p.transA, p.transB) || rt.blocks%2 != 0) {
					fail("cluster split-K partial products on %d blocks a split", rt.blocks)
				}
				if rt.cluster == 2 && rt.path == pathTMA && !clusterKernels(p.bf, p.transA) {
					fail("a cluster kernel")
				}
				if (!p.aligned || p.k == 0) && rt.path != pathDirect {
					fail("path %d for unaligned operands or k = 0", rt.path)
				}
			}
		}
	}
	assert.Greater(t, blockChecked, 100000, "launches whose block size was checked against .maxntid")
	// Every kind of launch was among them.
	for _, want := range []string{"gemm_f16.gemm_f16_nt", "gemm_bf16.gemm_bf16_tn_u", "gemm_wide.gemm_f16_nn_w", "gemm_wide.gemm_bf16_tt_w", "gemm_f16.gemm_f16_tn_sk",
		"gemm_mma4.gemm_f16_tt_q", "gemm_mma4.gemm_bf16_tn_q_sk", "gemm_f16_sm90a.gemm_f16_nt_sm90", "gemm_bf16_sm90a.gemm_bf16_nt_sm90_n256",
		"gemm_f16_tma_sm90a.gemm_f16_nt_tma", "gemm_bf16_tma_sm90a.gemm_bf16_tn_tma_p192", "gemm_tma_store_sm90a.gemm_f16_nn_tma_c192",
		"gemm_bf16_tma_store_sm90a.gemm_bf16_tt_tma_s", "gemm_tma_store_sm90a.gemm_f16_tn_tma_s192", "gemm_tma_store_deep_sm90a.gemm_f16_nt_tma_s192d", "gemm_bf16_pingpong_sm90a.gemm_bf16_nn_tma_pp",
		"gemm_pingpong_sm90a.gemm_f16_tn_tma_pp192", "gemm_mma_tma_sm90a.gemm_f16_nt_mt", "gemm_mma_tma_sm90a.gemm_bf16_nt_mtp", "gemm_mma_tma_sm90a.gemm_f16_nt_mtl",
		"gemm_streamk_sm90a.gemm_f16_tn_tma_sk192",
		"gemm_streamk_sm90a.gemm_streamk_reduce_bf16", "gemm_bf16.gemm_splitk_reduce_bf16", "gemm_f16.gemm_splitk_reduce", "gemm_bf16_tma_sm90a.gemm_bf16_tn_tma_p192w",
		"gemm_bf16_pingpong_sm90a.gemm_bf16_nt_tma_ppr", "gemm_pingpong_sm90a.gemm_f16_nn_tma_ppg",
		"gemm_splitk_cluster_sm90a.gemm_bf16_tn_tma_pc192", "gemm_splitk_cluster_sm90a.gemm_f16_tn_tma_pc"} {
		assert.True(t, seen[want], "no route launched %s", want)
	}
}

// TestSrcEpilogueRoute checks where the ping-pong kernels with an
// epilogue source take a product: the residual adds of a ViT-S/16 block
// (NT, and NN for the rule's sake) and the GELU gradient (NN), on an
// H100, with a source that is 16-byte aligned; not elsewhere.
func TestSrcEpilogueRoute(t *testing.T) {
	proj := gemmProduct{transB: true, m: 50432, n: 384, k: 384, aligned: true, cAligned: true, ldc: 384, flags: gemmOutF16}
	got, ok := routerH100.srcEpilogueRoute(proj, true, true)
	require.True(t, ok)
	assert.Equal(t, gemmRoute{path: pathTMA, module: "gemm_pingpong_sm90a", kernel: "gemm_f16_nt_tma_ppr", flags: gemmOutF16, threads: 256,
		smem: 6*32768 + 32768 + 1152, bn: 128, store: true, pingpong: true, src: true, cluster: 1, units: 394 * 3}, got)
	dx := gemmProduct{bf: true, m: 50432, n: 1536, k: 384, aligned: true, cAligned: true, ldc: 1536}
	got, ok = routerH100.srcEpilogueRoute(dx, false, true)
	require.True(t, ok)
	assert.Equal(t, "gemm_bf16_nn_tma_ppg", got.kernel)
	assert.Equal(t, 394*12, got.units)
	for name, c := range map[string]struct {
		r                    gemmRouter
		p                    gemmProduct
		residual, srcAligned bool
	}{
		"an A100":                 {routerA100, proj, true, true},
		"a source off 16 bytes":   {routerH100, proj, true, false},
		"A transposed":            {routerH100, gemmProduct{transA: true, m: 50432, n: 384, k: 384, aligned: true, cAligned: true, ldc: 384}, true, true},
		"GELU′ with B transposed": {routerH100, proj, false, true},
		"fewer tiles than SMs":    {routerH100, gemmProduct{transB: true, m: 256, n: 4096, k: 384, aligned: true, cAligned: true, ldc: 4096}, true, true},
		"rows off 16 bytes":       {routerH100, gemmProduct{transB: true, m: 50432, n: 383, k: 384, aligned: true, cAligned: true, ldc: 383, flags: gemmOutF16}, true, true},
		"k = 0":                   {routerH100, gemmProduct{transB: true, m: 50432, n: 384, aligned: true, cAligned: true, ldc: 384}, true, true},
		"unaligned operands":      {routerH100, gemmProduct{transB: true, m: 50432, n: 384, k: 384, cAligned: true, ldc: 384}, true, true},
	} {
		_, ok := c.r.srcEpilogueRoute(c.p, c.residual, c.srcAligned)
		assert.False(t, ok, name)
	}
}

// TestRouteWhole pins whole routes, every field, of each kind at 4096³
// (NT, fp16, a half C, the stagger and prefetch on) on an H100, and of the
// three split paths.
func TestRouteWhole(t *testing.T) {
	p := gemmProduct{transB: true, m: 4096, n: 4096, k: 4096, aligned: true, cAligned: true, ldc: 4096, flags: gemmOutF16, staged: gemmStaged}
	sched := gemmStagger | gemmPrefetch
	half := gemmOutF16
	const tmaSmem256, tmaStore256 = 4*49152 + 1152, 4*49152 + 32768 + 1152
	for _, c := range []struct {
		ch   GemmChoice
		p    gemmProduct
		want gemmRoute
	}{
		{GemmChoice{Kernel: GemmMMA}, p, gemmRoute{path: pathDirect, module: "gemm_f16", kernel: "gemm_f16_nt", flags: half | gemmStaged, blocks: 1024, threads: 256, smem: gemmSmem}},
		{GemmChoice{Kernel: GemmMMA4}, p, gemmRoute{path: pathDirect, module: "gemm_mma4", kernel: "gemm_f16_nt_q", flags: half | gemmStaged, blocks: 1024, threads: 128, smem: gemmSmemMMA4}},
		{GemmChoice{Kernel: GemmMMAWide}, p, gemmRoute{path: pathDirect, module: "gemm_wide", kernel: "gemm_f16_nt_w", flags: half | gemmStaged, blocks: 512, threads: 256, smem: gemmSmemWide}},
		{GemmChoice{Kernel: GemmWGMMA128}, p, gemmRoute{path: pathDirect, module: "gemm_f16_sm90a", kernel: "gemm_f16_nt_sm90", flags: half | gemmStaged, blocks: 1024, threads: 256, smem: 3*32768 + 1024}},
		{GemmChoice{Kernel: GemmWGMMA256}, p, gemmRoute{path: pathDirect, module: "gemm_f16_sm90a", kernel: "gemm_f16_nt_sm90_n256", flags: half | gemmStaged, blocks: 512, threads: 256, smem: 4*49152 + 1024}},
		{GemmChoice{Kernel: GemmTMA, Stagger: true, Prefetch: true}, p, gemmRoute{path: pathTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_nt_tma", flags: half, blocks: 512, threads: 384, smem: tmaSmem256, bn: 256}},
		{GemmChoice{Kernel: GemmTMAPersistent, Stagger: true, Prefetch: true}, p, gemmRoute{path: pathTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_nt_tma_p", flags: half | sched, blocks: 132, threads: 384, smem: tmaSmem256, bn: 256}},
		{GemmChoice{Kernel: GemmTMAStore, Stagger: true, Prefetch: true}, p, gemmRoute{path: pathTMA, module: "gemm_tma_store_sm90a", kernel: "gemm_f16_nt_tma_s", flags: half | sched, threads: 384, smem: tmaStore256, bn: 256, store: true, cluster: 1, units: 512}},
		{GemmChoice{Kernel: GemmTMAStore, DeepStore: true, Narrow: true}, p, gemmRoute{path: pathTMA, module: "gemm_tma_store_deep_sm90a", kernel: "gemm_f16_nt_tma_s192d", flags: half, threads: 384, smem: 4*40960 + 49152 + 1152, bn: 192, store: true, deep: true, cluster: 1, units: 32 * 22}},
		{GemmChoice{Kernel: GemmTMACluster, Stagger: true, Prefetch: true}, p, gemmRoute{path: pathTMA, module: "gemm_tma_store_sm90a", kernel: "gemm_f16_nt_tma_c", flags: half | sched, threads: 384, smem: tmaStore256, bn: 256, store: true, cluster: 2, units: 256}},
		{GemmChoice{Kernel: GemmTMAPingpong, Stagger: true, Prefetch: true}, p, gemmRoute{path: pathTMA, module: "gemm_pingpong_sm90a", kernel: "gemm_f16_nt_tma_pp", flags: half | gemmPrefetch, threads: 384, smem: 6*32768 + 32768 + 1152, bn: 128, store: true, pingpong: true, cluster: 1, units: 1024}},
		{GemmChoice{Kernel: GemmTMAPingpong192, Stagger: true, Prefetch: true}, p, gemmRoute{path: pathTMA, module: "gemm_pingpong_sm90a", kernel: "gemm_f16_nt_tma_pp192", flags: half, threads: 256, smem: 4*40960 + 32768 + 1152, bn: 192, store: true, pingpong: true, cluster: 1, units: 32 * 22}},
		{GemmChoice{Kernel: GemmMMATMA, Stagger: true, Prefetch: true}, p, gemmRoute{path: pathTMA, module: "gemm_mma_tma_sm90a", kernel: "gemm_f16_nt_mt", flags: half, blocks: 512, threads: 256, smem: tmaSmem256, bn: 256}},
		{GemmChoice{Kernel: GemmMMATMAPersistent, Stagger: true}, p, gemmRoute{path: pathTMA, module: "gemm_mma_tma_sm90a", kernel: "gemm_f16_nt_mtp", flags: half, blocks: 132, threads: 288, smem: tmaSmem256, bn: 256}},
		{GemmChoice{Kernel: GemmMMATMAPolled}, p, gemmRoute{path: pathTMA, module: "gemm_mma_tma_sm90a", kernel: "gemm_f16_nt_mtl", flags: half, blocks: 132, threads: 256, smem: tmaSmem256, bn: 256}},
		// The early release reaches the kernels built on gemm_tma_p_body,
		// not the ping-pong ones, the one-tile kernel or mma.sync's.
		{GemmChoice{Kernel: GemmTMAStore, EarlyRelease: true}, p, gemmRoute{path: pathTMA, module: "gemm_tma_store_sm90a", kernel: "gemm_f16_nt_tma_s", flags: half | gemmEarlyRelease, threads: 384, smem: tmaStore256, bn: 256, store: true, cluster: 1, units: 512}},
		{GemmChoice{Kernel: GemmTMAPersistent, EarlyRelease: true}, p, gemmRoute{path: pathTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_nt_tma_p", flags: half | gemmEarlyRelease, blocks: 132, threads: 384, smem: tmaSmem256, bn: 256}},
		{GemmChoice{Kernel: GemmTMAStore, DeepStore: true, Narrow: true, EarlyRelease: true}, p, gemmRoute{path: pathTMA, module: "gemm_tma_store_deep_sm90a", kernel: "gemm_f16_nt_tma_s192d", flags: half | gemmEarlyRelease, threads: 384, smem: 4*40960 + 49152 + 1152, bn: 192, store: true, deep: true, cluster: 1, units: 32 * 22}},
		{GemmChoice{Kernel: GemmTMAPingpong, EarlyRelease: true}, p, gemmRoute{path: pathTMA, module: "gemm_pingpong_sm90a", kernel: "gemm_f16_nt_tma_pp", flags: half, threads: 384, smem: 6*32768 + 32768 + 1152, bn: 128, store: true, pingpong: true, cluster: 1, units: 1024}},
		{GemmChoice{Kernel: GemmTMA, EarlyRelease: true}, p, gemmRoute{path: pathTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_nt_tma", flags: half, blocks: 512, threads: 384, smem: tmaSmem256, bn: 256}},
		{GemmChoice{Kernel: GemmMMATMAPolled, EarlyRelease: true}, p, gemmRoute{path: pathTMA, module: "gemm_mma_tma_sm90a", kernel: "gemm_f16_nt_mtl", flags: half, blocks: 132, threads: 256, smem: tmaSmem256, bn: 256}},
		// A weight gradient: split-K over the TMA partial products, or
		// stream-K; mma.sync's split-K where K is long for few tiles.
		{GemmChoice{}, gemmProduct{transA: true, bf: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_bf16_tma_sm90a", kernel: "gemm_bf16_tn_tma_p192", blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce_bf16"}},
		{GemmChoice{StreamK: true}, gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_tn_tma_p192", blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce",
				streamK: true, plan: streamKPlan{tilesM: 9, tilesN: 2, kt: 788, blocks: 132, maxSeg: 2}}},
		// Pairs of tile rows sharing B (fc1's weight gradient: 12 rows × 2
		// columns), the blocks and splits of the plain split-K.
		{GemmChoice{ClusterSplit: true}, gemmProduct{transA: true, m: 1536, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_splitk_cluster_sm90a", kernel: "gemm_f16_tn_tma_pc192", blocks: 24, threads: 384, smem: 5*40960 + 1152, bn: 192, cluster: 2, splits: 5, kchunk: 10112, reduce: "gemm_splitk_reduce"}},
		{GemmChoice{Kernel: GemmTMAStore, ClusterSplit: true}, gemmProduct{transA: true, bf: true, m: 512, n: 1536, k: 50432, aligned: true, cAligned: true, ldc: 1536, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_splitk_cluster_sm90a", kernel: "gemm_bf16_tn_tma_pc", blocks: 24, threads: 384, smem: 4*49152 + 1152, bn: 256, cluster: 2, splits: 5, kchunk: 10112, reduce: "gemm_splitk_reduce_bf16"}},
		// The wide boxes: the split-K partials of whole tiles (qkv's 9×2
		// of 128×192, fc2's 3×6 of 128×256) and stream-K's (its split-K
		// fallback wide too), not the clusters', nor tiles past M.
		{GemmChoice{WideBoxes: true}, gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_tn_tma_p192w", blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce", wide: true}},
		{GemmChoice{WideBoxes: true}, gemmProduct{transA: true, bf: true, m: 384, n: 1536, k: 50432, aligned: true, cAligned: true, ldc: 1536, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_bf16_tma_sm90a", kernel: "gemm_bf16_tn_tma_pw", blocks: 18, threads: 384, smem: 4*49152 + 1152, bn: 256, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce_bf16", wide: true}},
		{GemmChoice{WideBoxes: true, StreamK: true}, gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_tn_tma_p192w", blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce",
				streamK: true, plan: streamKPlan{tilesM: 9, tilesN: 2, kt: 788, blocks: 132, maxSeg: 2}, wide: true}},
		{GemmChoice{WideBoxes: true, ClusterSplit: true}, gemmProduct{transA: true, m: 1536, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_splitk_cluster_sm90a", kernel: "gemm_f16_tn_tma_pc192", blocks: 24, threads: 384, smem: 5*40960 + 1152, bn: 192, cluster: 2, splits: 5, kchunk: 10112, reduce: "gemm_splitk_reduce"}},
		{GemmChoice{WideBoxes: true}, gemmProduct{transA: true, m: 1100, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			routerH100.route(GemmChoice{}, gemmProduct{transA: true, m: 1100, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged})},
		// The early release reaches the split-K partials (plain, wide and
		// the clusters'), alone of the flags: they store raw fp32
		// products. With stream-K it stays on the route for split-K's
		// fallback; stream-K's own kernels take no flags.
		{GemmChoice{EarlyRelease: true, Stagger: true, Prefetch: true}, gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half | gemmGELU, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_tn_tma_p192", flags: gemmEarlyRelease, blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce"}},
		{GemmChoice{EarlyRelease: true, WideBoxes: true}, gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_tn_tma_p192w", flags: gemmEarlyRelease, blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce", wide: true}},
		{GemmChoice{EarlyRelease: true, ClusterSplit: true}, gemmProduct{transA: true, m: 1536, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_splitk_cluster_sm90a", kernel: "gemm_f16_tn_tma_pc192", flags: gemmEarlyRelease, blocks: 24, threads: 384, smem: 5*40960 + 1152, bn: 192, cluster: 2, splits: 5, kchunk: 10112, reduce: "gemm_splitk_reduce"}},
		{GemmChoice{EarlyRelease: true, StreamK: true}, gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_tn_tma_p192", flags: gemmEarlyRelease, blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce",
				streamK: true, plan: streamKPlan{tilesM: 9, tilesN: 2, kt: 788, blocks: 132, maxSeg: 2}}},
		// The look-ahead reaches the split-K partials, plain and wide, and
		// with the early release; not the clusters, nor the forward
		// products' TMA-store kernels.
		{GemmChoice{Lookahead: 8}, gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_tn_tma_p192", flags: 2 << 6, blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce"}},
		{GemmChoice{Lookahead: 16, WideBoxes: true, EarlyRelease: true}, gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_f16_tma_sm90a", kernel: "gemm_f16_tn_tma_p192w", flags: 3<<6 | gemmEarlyRelease, blocks: 18, threads: 384, smem: 5*40960 + 1152, bn: 192, splits: 7, kchunk: 7232, reduce: "gemm_splitk_reduce", wide: true}},
		{GemmChoice{Lookahead: 4, ClusterSplit: true}, gemmProduct{transA: true, m: 1536, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitTMA, module: "gemm_splitk_cluster_sm90a", kernel: "gemm_f16_tn_tma_pc192", blocks: 24, threads: 384, smem: 5*40960 + 1152, bn: 192, cluster: 2, splits: 5, kchunk: 10112, reduce: "gemm_splitk_reduce"}},
		{GemmChoice{Kernel: GemmTMAStore, Lookahead: 8}, p, gemmRoute{path: pathTMA, module: "gemm_tma_store_sm90a", kernel: "gemm_f16_nt_tma_s", flags: half, threads: 384, smem: tmaStore256, bn: 256, store: true, cluster: 1, units: 512}},
		{GemmChoice{Kernel: GemmMMA4, EarlyRelease: true}, gemmProduct{m: 256, n: 256, k: 4096, aligned: true, cAligned: true, ldc: 256, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitMMA, module: "gemm_mma4", kernel: "gemm_f16_nn_q_sk", flags: gemmStaged, blocks: 4, threads: 128, smem: gemmSmemMMA4, splits: 8, kchunk: 512, reduce: "gemm_splitk_reduce"}},
		{GemmChoice{Kernel: GemmMMA4}, gemmProduct{m: 256, n: 256, k: 4096, aligned: true, cAligned: true, ldc: 256, flags: half, staged: gemmStaged},
			gemmRoute{path: pathSplitMMA, module: "gemm_mma4", kernel: "gemm_f16_nn_q_sk", flags: gemmStaged, blocks: 4, threads: 128, smem: gemmSmemMMA4, splits: 8, kchunk: 512, reduce: "gemm_splitk_reduce"}},
	} {
		assert.Equal(t, c.want, routerH100.route(c.ch, c.p), "%v", c.ch)
	}
}

// TestRouteViTS pins GemmAuto's routes on an H100 for the products of a
// ViT-S/16 step at batch 256 (50432 tokens, fp16, a half C): the
// TMA-store kernels with 128×192 tiles where n is 384 or 1152 and 128×256
// at 1536; the weight gradients split over the TMA partial products in
// chunks of whole 64-deep k-tiles (7 splits of 18 tiles, 22 of 6, 5 of
// 24; stream-K where those leave SMs idle); the
// projector's small NT products on the cp.async-fed wgmma kernel, or
// mma.sync's split-K where K is long.
func TestRouteViTS(t *testing.T) {
	type want struct {
		path           gemmPath
		kernel         string
		units, blocks  int
		splits, kchunk int
	}
	for _, c := range []struct {
		name               string
		transA, transB     bool
		m, n, k            int
		want               want
		streamKBlocks      int // with the stream-K setting: its blocks (0: not taken)
		streamKMaxSegments int
	}{
		{"qkv forward", false, true, 50432, 1152, 384, want{path: pathTMA, kernel: "gemm_f16_nt_tma_s192", units: 394 * 6}, 0, 0},
		{"proj forward", false, true, 50432, 384, 384, want{path: pathTMA, kernel: "gemm_f16_nt_tma_s192", units: 394 * 2}, 0, 0},
		{"fc1 forward", false, true, 50432, 1536, 384, want{path: pathTMA, kernel: "gemm_f16_nt_tma_s", units: 394 * 6}, 0, 0},
		{"fc2 forward", false, true, 50432, 384, 1536, want{path: pathTMA, kernel: "gemm_f16_nt_tma_s192", units: 394 * 2}, 0, 0},
		{"qkv input gradient", false, false, 50432, 384, 1152, want{path: pathTMA, kernel: "gemm_f16_nn_tma_s192", units: 394 * 2}, 0, 0},
		{"fc2 input gradient", false, false, 50432, 1536, 384, want{path: pathTMA, kernel: "gemm_f16_nn_tma_s", units: 394 * 6}, 0, 0},
		{"qkv weight gradient", true, false, 1152, 384, 50432, want{path: pathSplitTMA, kernel: "gemm_f16_tn_tma_p192", blocks: 18, splits: 7, kchunk: 7232}, 132, 2},
		{"proj weight gradient", true, false, 384, 384, 50432, want{path: pathSplitTMA, kernel: "gemm_f16_tn_tma_p192", blocks: 6, splits: 22, kchunk: 2304}, 0, 0},
		{"fc1 weight gradient", true, false, 1536, 384, 50432, want{path: pathSplitTMA, kernel: "gemm_f16_tn_tma_p192", blocks: 24, splits: 5, kchunk: 10112}, 132, 2},
		{"fc2 weight gradient", true, false, 384, 1536, 50432, want{path: pathSplitTMA, kernel: "gemm_f16_tn_tma_p", blocks: 18, splits: 7, kchunk: 7232}, 132, 2},
		{"projector fc1", false, true, 256, 4096, 384, want{path: pathDirect, kernel: "gemm_f16_nt_sm90", blocks: 2 * 32}, 0, 0},
		{"predictor fc2", false, true, 256, 256, 4096, want{path: pathSplitMMA, kernel: "gemm_f16_nt_sk", blocks: 4, splits: 8, kchunk: 512}, 0, 0},
	} {
		p := gemmProduct{transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, aligned: true, cAligned: true, ldc: c.n, flags: gemmOutF16, staged: gemmStaged}
		rt := routerH100.route(GemmChoice{}, p)
		got := want{path: rt.path, kernel: rt.kernel, units: rt.units, blocks: rt.blocks, splits: rt.splits, kchunk: rt.kchunk}
		if c.want.path == pathTMA {
			got.blocks = 0 // the store kernels' grid comes from the driver's occupancy
		}
		assert.Equal(t, c.want, got, c.name)
		sk := routerH100.route(GemmChoice{StreamK: true}, p)
		if c.streamKBlocks == 0 {
			assert.Equal(t, rt, sk, "%s: stream-K does not apply", c.name)
			continue
		}
		assert.True(t, sk.streamK, c.name)
		assert.Equal(t, c.streamKBlocks, sk.plan.blocks, c.name)
		assert.Equal(t, c.streamKMaxSegments, sk.plan.maxSeg, c.name)
	}
}

// TestRouteSettings checks which settings change the route, so that
// GemmTune times each distinct launch once: the stagger and the prefetch
// reach the persistent TMA kernels only (the ping-pong kernel with a
// producer, the prefetch alone), the deep store only 128×192 TMA-store
// tiles of a half C, the narrow tiles only TMA-store products whose tiles
// would be 256 wide, stream-K and the wide boxes only split weight
// gradients, the early release the persistent TMA kernels and the split-K
// partials (not the ping-pong kernels), the look-ahead only the split-K
// partials; and a kind whose kernels cannot run a product falls back to
// what can.
func TestRouteSettings(t *testing.T) {
	r := routerH100
	qkv := gemmProduct{transB: true, m: 50432, n: 1152, k: 384, aligned: true, cAligned: true, ldc: 1152, flags: gemmOutF16, staged: gemmStaged}
	fc1 := qkv
	fc1.n, fc1.ldc = 1536, 1536
	dw := gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: gemmOutF16, staged: gemmStaged}
	routes := func(p gemmProduct, kind GemmKernel) int {
		set := map[gemmRoute]bool{}
		for _, s := range tuneSettings {
			s.Kernel = kind
			set[r.route(s, p)] = true
		}
		return len(set)
	}
	for _, c := range []struct {
		p    gemmProduct
		kind GemmKernel
		want int
	}{
		{qkv, GemmMMA, 1}, {qkv, GemmWGMMA128, 1}, {qkv, GemmMMA4, 1},
		{qkv, GemmTMAPersistent, 4 + 1},  // stagger × prefetch; the early release
		{qkv, GemmTMAStore, 8 + 1},       // × deep (192-wide already: narrow changes nothing); early
		{fc1, GemmTMAStore, 4 + 4*2 + 2}, // 256-wide: 4; narrow: 4 × deep; early, early narrow
		{qkv, GemmTMACluster, 4 + 1},     // no deep cluster kernels; early
		{qkv, GemmTMAPingpong, 2},        // the prefetch (the early release does not reach it)
		{qkv, GemmTMAPingpong192, 1},
		{qkv, GemmAuto, 8 + 1},    // GemmTMAStore
		{dw, GemmAuto, 4 + 2 + 3}, // split-K or stream-K, 2-D or wide boxes; early split-K, 2-D or wide; look-ahead, 2-D, wide or early
		{dw, GemmTMAStore, 4 + 2 + 3},
		{dw, GemmMMA, 1},
	} {
		assert.Equal(t, c.want, routes(c.p, c.kind), "%v at %dx%dx%d", c.kind, c.p.m, c.p.n, c.p.k)
	}
	// Every TMA kind splits a weight gradient over the same partial
	// products.
	for _, kind := range []GemmKernel{GemmTMA, GemmTMAPersistent, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192} {
		assert.Equal(t, r.route(GemmChoice{}, dw), r.route(GemmChoice{Kernel: kind}, dw), kind.String())
	}
	// The cluster split-K: where the tile rows pair up evenly, after
	// stream-K; not for qkv's 9 rows, nor other layouts, nor mma.sync.
	fc1dw := dw
	fc1dw.m = 1536
	assert.Equal(t, "gemm_f16_tn_tma_pc192", r.route(GemmChoice{ClusterSplit: true}, fc1dw).kernel)
	assert.Equal(t, r.route(GemmChoice{StreamK: true}, fc1dw), r.route(GemmChoice{StreamK: true, ClusterSplit: true}, fc1dw))
	assert.Equal(t, r.route(GemmChoice{}, dw), r.route(GemmChoice{ClusterSplit: true}, dw), "odd tile rows")
	long := gemmProduct{transB: true, m: 512, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: gemmOutF16}
	assert.Equal(t, r.route(GemmChoice{Kernel: GemmTMAStore}, long), r.route(GemmChoice{Kernel: GemmTMAStore, ClusterSplit: true}, long), "NT")
	assert.Equal(t, r.route(GemmChoice{Kernel: GemmMMA}, fc1dw), r.route(GemmChoice{Kernel: GemmMMA, ClusterSplit: true}, fc1dw), "mma.sync")
	// C that the TMA store cannot write: the persistent kernels.
	odd := qkv
	odd.n, odd.ldc = 1151, 1151
	for _, kind := range []GemmKernel{GemmTMAStore, GemmTMACluster, GemmTMAPingpong, GemmTMAPingpong192} {
		rt := r.route(GemmChoice{Kernel: kind}, odd)
		assert.Equal(t, "gemm_f16_nt_tma_p192", rt.kernel, kind.String())
		assert.False(t, rt.store, kind.String())
	}
	// No bf16 cluster kernels: the TMA-store ones.
	bq := qkv
	bq.bf = true
	assert.Equal(t, "gemm_bf16_nt_tma_s192", r.route(GemmChoice{Kernel: GemmTMACluster}, bq).kernel)
}

// TestTuneCandidates checks that GemmTune's candidates reach every
// setting at the ViT-S/16 products it tunes on an H100 (the deep store,
// the prefetch, the stagger, the narrow tiles, stream-K and the ping-pong
// kernels: TestGemmTune on an H100 asks that each was timed), and bounds
// the launches it times a product.
func TestTuneCandidates(t *testing.T) {
	r := routerH100
	cands := r.tuneCandidates()
	require.Equal(t, GemmChoice{}, cands[0], "GemmAuto without settings first: the reference")
	reached := map[string]bool{}
	for _, shape := range [][3]int{{50432, 1152, 384}, {50432, 384, 384}, {50432, 1536, 384}, {50432, 384, 1536}, {1152, 384, 50432}, {384, 1536, 50432}} {
		for layout := range 3 { // NT, NN, TN
			p := gemmProduct{transA: layout == 2, transB: layout == 0, m: shape[0], n: shape[1], k: shape[2],
				aligned: true, cAligned: true, ldc: shape[1], flags: gemmOutF16, staged: gemmStaged}
			timed := map[gemmRoute]bool{}
			for _, ch := range cands {
				rt := r.route(ch, p)
				if timed[rt] {
					continue
				}
				timed[rt] = true
				reached["deep"] = reached["deep"] || rt.deep
				reached["prefetch"] = reached["prefetch"] || rt.flags&gemmPrefetch != 0
				reached["stagger"] = reached["stagger"] || rt.flags&gemmStagger != 0
				reached["narrow"] = reached["narrow"] || ch.Narrow && rt.store && !rt.pingpong && rt.bn == 192 && p.n == 1536
				reached["streamK"] = reached["streamK"] || rt.streamK
				reached["pingpong"] = reached["pingpong"] || rt.pingpong
				reached["early"] = reached["early"] || rt.flags&gemmEarlyRelease != 0
				reached["early split"] = reached["early split"] || rt.flags&gemmEarlyRelease != 0 && rt.path == pathSplitTMA
				reached["lookahead"] = reached["lookahead"] || rt.flags&gemmLookaheadMask != 0 && rt.path == pathSplitTMA && !rt.streamK
				reached["lookahead wide"] = reached["lookahead wide"] || rt.flags&gemmLookaheadMask != 0 && rt.wide
			}
			assert.LessOrEqual(t, len(timed), 40, "launches timed at %v", p)
		}
	}
	keys := []string{"deep", "prefetch", "stagger", "narrow", "streamK", "pingpong", "early", "early split", "lookahead", "lookahead wide"}
	for _, k := range keys {
		assert.True(t, reached[k], "no candidate reached %s", k)
	}
}

// TestRouteLookahead checks where the look-ahead's bits go: to the weight
// gradients' split-K partials (TN), whose splits' blocks all run at once;
// not to other layouts split over the TMA partials (a TMA kind), nor to
// splits forced past the SMs (SetGemmSplitK), whose blocks would ask L2
// for tiles that are not running.
func TestRouteLookahead(t *testing.T) {
	dw := gemmProduct{transA: true, m: 1152, n: 384, k: 50432, aligned: true, cAligned: true, ldc: 384, flags: gemmOutF16, staged: gemmStaged}
	rt := routerH100.route(GemmChoice{Lookahead: 16}, dw)
	require.Equal(t, pathSplitTMA, rt.path)
	assert.Equal(t, lookaheadBits(16), rt.flags&gemmLookaheadMask, "qkv's weight gradient")
	nt := gemmProduct{transB: true, m: 256, n: 256, k: 4096, aligned: true, cAligned: true, ldc: 256, flags: gemmOutF16, staged: gemmStaged}
	rt = routerH100.route(GemmChoice{Kernel: GemmTMAPersistent, Lookahead: 8}, nt)
	require.Equal(t, pathSplitTMA, rt.path, "an NT product split over the TMA partials")
	assert.Zero(t, rt.flags&gemmLookaheadMask, "NT partials")
	forced := routerH100
	forced.splitMode = 8 // 18 tiles × 8 splits > 132 SMs
	rt = forced.route(GemmChoice{Lookahead: 8}, dw)
	require.Equal(t, pathSplitTMA, rt.path)
	require.Greater(t, rt.blocks*rt.splits, forced.sms)
	assert.Zero(t, rt.flags&gemmLookaheadMask, "splits forced past the SMs")
}
