//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestGemmF16TMA runs the NT cases through the TMA + warp-specialised
// kernel (Hopper only). It sits in its own file, after the others in
// -test.list order, so that run.sh runs it last: its mbarrier waits trap
// after about 2 s rather than hang, but a fault still ends the process.
func TestGemmF16TMA(t *testing.T) {
	if !dev.SetGemmKernel(GemmTMA) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	defer dev.SetGemmKernel(GemmAuto)
	testGemmHopper(t)
	t.Run("layouts", testGemmTMALayouts)
}

// TestGemmF16TMAPersistent runs the same cases through the persistent TMA
// kernel (one block per SM walking the tiles).
func TestGemmF16TMAPersistent(t *testing.T) {
	if !dev.SetGemmKernel(GemmTMAPersistent) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	defer dev.SetGemmKernel(GemmAuto)
	testGemmHopper(t)
	t.Run("layouts", testGemmTMALayouts)
}

// TestGemmBF16TMA and TestGemmBF16TMAPersistent run the bf16 TMA kernels
// (gemm_bf16_*_tma*, tensor maps of data type BFLOAT16) on the same cases
// as their fp16 twins: the ViT-S NT forward shapes among the Hopper cases,
// ViT-sized NN and TN products (the latter split-K) among the layouts.
func TestGemmBF16TMA(t *testing.T) {
	if !dev.SetGemmKernel(GemmTMA) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	defer dev.SetGemmKernel(GemmAuto)
	testGemmBF16TMA(t)
}

func TestGemmBF16TMAPersistent(t *testing.T) {
	if !dev.SetGemmKernel(GemmTMAPersistent) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	defer dev.SetGemmKernel(GemmAuto)
	testGemmBF16TMA(t)
}

func testGemmBF16TMA(t *testing.T) {
	testGemmHopperAs(t, true)
	t.Run("layouts", func(t *testing.T) { testGemmTMALayoutsAs(t, true) })
}

// TestGemmF16MMA runs the small NT cases through the mma.sync kernel, which
// GemmAuto leaves aside on Hopper (the ViT-sized ones are timed by bench).
func TestGemmF16MMA(t *testing.T) {
	if !dev.SetGemmKernel(GemmMMA) {
		t.Fatal("SetGemmKernel(GemmMMA) refused")
	}
	defer dev.SetGemmKernel(GemmAuto)
	forEachStore(t, func(t *testing.T) {
		for _, c := range hopperCases() {
			if c.m < 256*197 {
				t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
			}
		}
	})
}

// TestGemmF16MMAWide runs the NT cases and every layout through the
// mma.sync kernel with 128×256 tiles.
func TestGemmF16MMAWide(t *testing.T) {
	testGemmMMAKind(t, GemmMMAWide, false, "gemm_wide")
}

// testGemmMMAKind runs, with kind selected and under each store, the NT
// cases below the ViT size (the ViT-sized ones are timed by bench) and
// every layout (testGemmTMALayoutsAs: odd sizes, each epilogue, forced and
// automatic split-K, larger NN and TN products), with fp16 or (bf) bf16
// operands; then checks that each of the kernels mustRun of module has run,
// so that a fallback taken everywhere cannot pass for them.
func testGemmMMAKind(t *testing.T, kind GemmKernel, bf bool, module string, mustRun ...string) {
	if !dev.SetGemmKernel(kind) {
		t.Fatalf("SetGemmKernel(%s) refused", kind)
	}
	defer dev.SetGemmKernel(GemmAuto)
	forEachStore(t, func(t *testing.T) {
		for _, c := range hopperCases() {
			if c.m < 256*197 {
				c.bf16 = bf
				t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
			}
		}
		t.Run("layouts", func(t *testing.T) { testGemmTMALayoutsAs(t, bf) })
	})
	checkRan(t, module, mustRun...)
}

// TestGemmF16TMAStore runs the Hopper NT cases and every layout through the
// persistent TMA kernels whose epilogue goes through shared memory and TMA
// stores (gemm_tma_store_sm90a), or through their fallback (the _tma_p
// kernels) where beta ≠ 0 or C's rows are not 16-byte multiples: the cases
// have both. Last in the file, after the kernels already run on hardware.
func TestGemmF16TMAStore(t *testing.T) {
	testGemmTMAKind(t, GemmTMAStore, false, "gemm_f16_nt_tma_s", "gemm_f16_nn_tma_s192")
}

func TestGemmBF16TMAStore(t *testing.T) {
	testGemmTMAKind(t, GemmTMAStore, true, "gemm_bf16_nt_tma_s", "gemm_bf16_nn_tma_s192")
}

// TestGemmF16TMACluster runs the same cases on clusters of two blocks
// sharing B by multicast (fp16 NT and NN; the other layouts use the
// TMA-store kernels). The cases include odd counts of 128-row tiles, where
// the second block of the last cluster lies wholly past M.
func TestGemmF16TMACluster(t *testing.T) {
	testGemmTMAKind(t, GemmTMACluster, false, "gemm_f16_nt_tma_c", "gemm_f16_nt_tma_c192", "gemm_f16_nn_tma_c192")
}

// testGemmTMAKind runs the Hopper and layout cases with kind selected and
// checks afterwards that each of the named kernels of gemm_tma_store_sm90a
// (gemm_pingpong_sm90a for the ping-pong kinds) has run, so that a fallback
// taken everywhere cannot pass for the kernels.
func testGemmTMAKind(t *testing.T, kind GemmKernel, bf bool, mustRun ...string) {
	if !dev.SetGemmKernel(kind) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	defer dev.SetGemmKernel(GemmAuto)
	testGemmHopperAs(t, bf)
	t.Run("layouts", func(t *testing.T) { testGemmTMALayoutsAs(t, bf) })
	// NT cases whose last tile column reaches at most half way into its
	// tile (n − n0 ≤ BN/2: in a cluster the second half of B lies wholly
	// past N and is not loaded): rows ending on 16-byte boundaries, which
	// the TMA-store kernels take, and two that do not (n = 1 and 270 with a
	// half C), which the persistent kernels with the direct store take (the
	// TMA store would write the padding up to the next boundary).
	t.Run("edges", func(t *testing.T) {
		for _, c := range []gemmCase{
			{transB: true, m: 256, n: 64, k: 128, align8: true, alpha: 1},
			{transB: true, m: 129, n: 8, k: 72, align8: true, alpha: 1, out16: true},
			{transB: true, m: 129, n: 1, k: 72, align8: true, alpha: 1, out16: true},
			{transB: true, m: 300, n: 264, k: 200, align8: true, alpha: 1, bias: true, out16: true},
			{transB: true, m: 300, n: 270, k: 200, align8: true, alpha: 1, bias: true, out16: true},
			{transB: true, m: 385, n: 456, k: 64, align8: true, alpha: 0.5, bias: true, gelu: true},
		} {
			c.bf16 = bf
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
	module := "gemm_tma_store_sm90a"
	if kind == GemmTMAPingpong || kind == GemmTMAPingpong192 {
		module = "gemm_pingpong_sm90a"
	}
	checkRan(t, module, mustRun...)
}

// TestGemmF16MMA4 runs the NT cases and every layout through the mma.sync
// kernels with four 64×64 warps per 128×128 tile (gemm_mma4: every
// gemm_f16_<ab>_q, and the split-K partials gemm_f16_<ab>_q_sk of the
// forced and automatic split-K cases), outputs NaN-poisoned, under both
// stores. New kernels, not yet run on hardware: last in the file.
func TestGemmF16MMA4(t *testing.T) { testGemmMMA4(t, false) }

// TestGemmBF16MMA4 runs the same cases through the bf16 twins.
func TestGemmBF16MMA4(t *testing.T) { testGemmMMA4(t, true) }

func testGemmMMA4(t *testing.T, bf bool) {
	prefix := "gemm_f16_"
	if bf {
		prefix = "gemm_bf16_"
	}
	var kernels []string
	for _, l := range []string{"nn", "nt", "tn", "tt"} {
		kernels = append(kernels, prefix+l+"_q", prefix+l+"_q_sk")
	}
	testGemmMMAKind(t, GemmMMA4, bf, "gemm_mma4", kernels...)
}

// TestGemmF16TMAStagger runs TestGemmF16TMAStore's cases with
// SetGemmStagger(true): the second consumer warpgroup of the persistent
// kernels starts two k-tiles behind the first (a change of timing only, the
// same results), through the TMA-store kernels and, where C rules the TMA
// store out, the direct-store ones; then through the cluster kernels, whose
// stage releases also wait for the peer block's warpgroups; then products
// of one k-tile a tile over several tiles a block. A wait that could not
// end would trap here (mbar_wait's bound) rather than hang.
func TestGemmF16TMAStagger(t *testing.T) {
	old := dev.SetGemmStagger(true)
	defer dev.SetGemmStagger(old)
	testGemmTMAStoreAndCluster(t)
	// One k-tile a tile (k = 64) and several tiles a block: the first
	// warpgroup's signal comes after its first tile.
	t.Run("short_k", func(t *testing.T) {
		if !dev.SetGemmKernel(GemmTMAStore) {
			t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
		}
		defer dev.SetGemmKernel(GemmAuto)
		for _, c := range []gemmCase{
			{transB: true, m: 4096, n: 2304, k: 64, align8: true, alpha: 1},
			{m: 4096, n: 2304, k: 48, align8: true, alpha: 1, bias: true, out16: true},
		} {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
}

// testGemmTMAStoreAndCluster runs TestGemmF16TMAStore's and
// TestGemmF16TMACluster's cases as subtests (under whatever schedule
// setting the caller has made).
func testGemmTMAStoreAndCluster(t *testing.T) {
	t.Run("store", func(t *testing.T) {
		testGemmTMAKind(t, GemmTMAStore, false, "gemm_f16_nt_tma_s", "gemm_f16_nn_tma_s192")
	})
	t.Run("cluster", func(t *testing.T) {
		testGemmTMAKind(t, GemmTMACluster, false, "gemm_f16_nt_tma_c", "gemm_f16_nt_tma_c192", "gemm_f16_nn_tma_c192")
	})
}

// TestGemmF16TMAPrefetch runs the TMA-store, cluster and ping-pong cases
// with SetGemmPrefetch(true): the producer asks L2 for A of its block's
// next tile as it starts each tile (a hint that must change no result,
// nor fault on the tiles past M of a cluster's second block or on MN-major
// A's chunks past M), then the ViT-S/16 K = 384 products under GemmAuto.
// Not yet run on hardware.
func TestGemmF16TMAPrefetch(t *testing.T) {
	old := dev.SetGemmPrefetch(true)
	defer dev.SetGemmPrefetch(old)
	testGemmTMAStoreAndCluster(t)
	t.Run("pingpong", func(t *testing.T) {
		testGemmTMAKind(t, GemmTMAPingpong, false, "gemm_f16_nt_tma_pp", "gemm_f16_nn_tma_pp")
	})
	t.Run("auto", func(t *testing.T) {
		for _, c := range []gemmCase{
			{transB: true, m: 256 * 197, n: 1152, k: 384, align8: true, alpha: 1, bias: true, out16: true},
			{m: 256 * 197, n: 1536, k: 384, align8: true, alpha: 1, out16: true},
			{transA: true, transB: true, m: 4100, n: 2000, k: 800, align8: true, alpha: 1, gelu: true, bias: true},
		} {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
}

// TestGemmF16TMADeepStore runs TestGemmF16TMAStore's cases with
// SetGemmDeepStore(true), where the 128×192 TMA-store kernels with a half C
// take the deep-store kernels (three staging buffers a consumer warpgroup,
// gemm_tma_store_deep_sm90a: the same results) and the others their usual
// ones; then, in every layout, products of several tiles a block with one
// k-tile a tile and with more k-tiles than stages (the buffers taken in
// turn across tiles, each box waiting for the same box of the warpgroup's
// previous tile), with bias and GELU, tiles past M and N, and the ViT-S/16
// qkv forward under GemmAuto; then with SetGemmNarrowTiles, products
// whose 256-wide tiles become 192-wide (n = 1536, 256, 512, 1024) in
// every layout, a float C and a cluster; each case must launch the kernel
// it is meant for. Not yet run on hardware.
func TestGemmF16TMADeepStore(t *testing.T) { testGemmDeepStore(t, false) }

// TestGemmBF16TMADeepStore runs the same cases through the bf16 twins.
func TestGemmBF16TMADeepStore(t *testing.T) { testGemmDeepStore(t, true) }

func testGemmDeepStore(t *testing.T, bf bool) {
	if !dev.SetGemmKernel(GemmTMAStore) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	dev.SetGemmKernel(GemmAuto)
	old := dev.SetGemmDeepStore(true)
	defer dev.SetGemmDeepStore(old)
	prefix := "gemm_f16_"
	if bf {
		prefix = "gemm_bf16_"
	}
	t.Run("store", func(t *testing.T) {
		testGemmTMAKind(t, GemmTMAStore, bf, prefix+"nt_tma_s")
	})
	deep := func(layout string) string { return "gemm_tma_store_deep_sm90a." + prefix + layout + "_tma_s192d" }
	// Each case must launch the kernel named beside it (runGemmCaseOn),
	// not merely one that an earlier case loaded.
	type launching struct {
		c      gemmCase
		kernel string
	}
	t.Run("tiles", func(t *testing.T) {
		dev.SetGemmKernel(GemmTMAStore)
		defer dev.SetGemmKernel(GemmAuto)
		for _, l := range []launching{
			// 626 tiles of one k-tile: 4–5 a block.
			{gemmCase{transB: true, m: 40000, n: 384, k: 64, align8: true, alpha: 1, bias: true, out16: true}, deep("nt")},
			// 13 k-tiles against 4 stages; 391 tiles, 127 past 2·132.
			{gemmCase{transB: true, m: 50000, n: 192, k: 800, align8: true, alpha: 0.5, out16: true}, deep("nt")},
			{gemmCase{m: 20000, n: 1152, k: 384, align8: true, alpha: 1, out16: true}, deep("nn")},
			{gemmCase{transA: true, m: 3000, n: 576, k: 700, align8: true, alpha: 1, bias: true, gelu: true, out16: true}, deep("tn")},
			// n = 136: one 192-wide tile column, its last 56 columns past N.
			{gemmCase{transA: true, transB: true, m: 30000, n: 136, k: 300, align8: true, alpha: 1, out16: true}, deep("tt")},
		} {
			l.c.bf16 = bf
			t.Run(l.c.String(), func(t *testing.T) { runGemmCaseOn(t, l.c, l.kernel) })
		}
	})
	t.Run("auto", func(t *testing.T) {
		c := gemmCase{transB: true, m: 256 * 197, n: 1152, k: 384, align8: true, alpha: 1, bias: true, out16: true, bf16: bf}
		runGemmCaseOn(t, c, deep("nt"))
	})
	// SetGemmNarrowTiles: 192-wide tiles where tmaTile picks 256-wide
	// ones, so that the deep store reaches them too; a float C takes the
	// plain 192-wide kernels, and clusters their 192-wide twins.
	t.Run("narrow", func(t *testing.T) {
		oldN := dev.SetGemmNarrowTiles(true)
		defer dev.SetGemmNarrowTiles(oldN)
		dev.SetGemmKernel(GemmTMAStore)
		defer dev.SetGemmKernel(GemmAuto)
		for _, l := range []launching{
			{gemmCase{m: 20000, n: 1536, k: 384, align8: true, alpha: 1, out16: true}, deep("nn")},
			{gemmCase{transB: true, m: 3000, n: 256, k: 200, align8: true, alpha: 1, bias: true, out16: true}, deep("nt")},
			{gemmCase{transA: true, m: 3000, n: 512, k: 300, align8: true, alpha: 1, out16: true}, deep("tn")},
			{gemmCase{transA: true, transB: true, m: 3000, n: 1024, k: 200, align8: true, alpha: 1, bias: true, gelu: true, out16: true}, deep("tt")},
			{gemmCase{transB: true, m: 3000, n: 512, k: 128, align8: true, alpha: 1}, "gemm_tma_store_sm90a." + prefix + "nt_tma_s192"},
		} {
			l.c.bf16 = bf
			t.Run(l.c.String(), func(t *testing.T) { runGemmCaseOn(t, l.c, l.kernel) })
		}
		if !bf {
			dev.SetGemmKernel(GemmTMACluster)
			c := gemmCase{transB: true, m: 3000, n: 1024, k: 256, align8: true, alpha: 1, out16: true}
			t.Run("cluster/"+c.String(), func(t *testing.T) { runGemmCaseOn(t, c, "gemm_tma_store_sm90a.gemm_f16_nt_tma_c192") })
		}
	})
	checkRan(t, "gemm_tma_store_deep_sm90a", prefix+"nt_tma_s192d", prefix+"nn_tma_s192d", prefix+"tn_tma_s192d", prefix+"tt_tma_s192d")
}

// runGemmCaseOn runs c (runGemmCase) and fails t unless kernel
// ("module.kernel") was among the launches it made: where a setting routes
// products to a kernel, a case must show that it took it, which checkRan
// (was the kernel ever loaded) cannot once an earlier case has loaded it.
// module is the kernel's source module: a bf16 kernel is looked for in the
// module of its type (typedModule).
func runGemmCaseOn(t *testing.T, c gemmCase, kernel string) {
	t.Helper()
	module, name, _ := strings.Cut(kernel, ".")
	kernel = typedModule(module, bf16Kernel(name)) + "." + name
	if err := dev.StartProfile(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			dev.StopProfile()
		}
	}()
	runGemmCase(t, c)
	p, err := dev.StopProfile()
	stopped = true
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, k := range p.ByKernel() {
		if k.Kernel == kernel {
			return
		}
		ran = append(ran, k.Kernel)
	}
	t.Errorf("%v: %s did not run; the launches were %v", c, kernel, ran)
}

// TestGemmF16TMAPingpong runs TestGemmF16TMAStore's cases through the
// ping-pong kernels (gemm_pingpong_sm90a: each consumer warpgroup owns
// whole 128×128 tiles, the two take turns), or their fallback where C rules
// the TMA store out; then products that stress the schedule: one k-tile a
// tile over several tiles a block, an odd count of tiles a block (the first
// warpgroup has one more), one tile a block (the second warpgroup idle), and
// more k-tiles a tile than the ring has stages, under each epilogue and
// layout. New kernels, not yet run on hardware: last in the file. A turn or
// stage wait that could not end would trap (mbar_wait's bound) rather than
// hang.
func TestGemmF16TMAPingpong(t *testing.T) { testGemmTMAPingpong(t, GemmTMAPingpong, false) }

// TestGemmBF16TMAPingpong runs the same cases through the bf16 twins.
func TestGemmBF16TMAPingpong(t *testing.T) { testGemmTMAPingpong(t, GemmTMAPingpong, true) }

// TestGemmF16TMAPingpong192 and TestGemmBF16TMAPingpong192 run the same
// cases through the 128×192 ping-pong kernels, whose two warpgroups also
// load the ring (no producer): each ring position is loaded by the
// warpgroup that releases the position S before it.
func TestGemmF16TMAPingpong192(t *testing.T) { testGemmTMAPingpong(t, GemmTMAPingpong192, false) }

func TestGemmBF16TMAPingpong192(t *testing.T) { testGemmTMAPingpong(t, GemmTMAPingpong192, true) }

func testGemmTMAPingpong(t *testing.T, kind GemmKernel, bf bool) {
	prefix, suffix := "gemm_f16_", "_tma_pp"
	if bf {
		prefix = "gemm_bf16_"
	}
	if kind == GemmTMAPingpong192 {
		suffix += "192"
	}
	var kernels []string
	for _, l := range []string{"nn", "nt", "tn", "tt"} {
		kernels = append(kernels, prefix+l+suffix)
	}
	testGemmTMAKind(t, kind, bf, prefix+"nt"+suffix, prefix+"nn"+suffix)
	t.Run("schedule", func(t *testing.T) {
		if !dev.SetGemmKernel(kind) {
			t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
		}
		defer dev.SetGemmKernel(GemmAuto)
		tiles := 128 * dev.sms // rows for one 128×128 tile a block at n = 128
		for _, c := range []gemmCase{
			// One k-tile a tile, 4–5 tiles a block.
			{transB: true, m: 4096, n: 2304, k: 64, align8: true, alpha: 1},
			{m: 4096, n: 2304, k: 48, align8: true, alpha: 1, bias: true, out16: true},
			// One tile a block, then one block with a second tile.
			{transB: true, m: tiles, n: 128, k: 200, align8: true, alpha: 1, bias: true},
			{transB: true, m: tiles + 1, n: 128, k: 200, align8: true, alpha: 1, bias: true, gelu: true, out16: true},
			// 13 k-tiles a tile against 6 (or 4) stages, every layout,
			// over 33 × 16 (or 11) tiles, 2–4 a block: the ring wraps
			// across tiles and turns at a position no multiple of the
			// stages, and warpgroup 0 has a second tile.
			{m: 4100, n: 2000, k: 800, align8: true, alpha: 0.5, bias: true},
			{transA: true, m: 4100, n: 2000, k: 800, align8: true, alpha: 1, out16: true},
			{transA: true, transB: true, m: 4100, n: 2000, k: 800, align8: true, alpha: 1, gelu: true, bias: true},
			// The ViT-S/16 K = 384 products this kernel is for: qkv and
			// proj forward, fc2 input gradient.
			{transB: true, m: 256 * 197, n: 1152, k: 384, align8: true, alpha: 1, bias: true, out16: true},
			{transB: true, m: 256 * 197, n: 384, k: 384, align8: true, alpha: 1, bias: true, out16: true},
			{m: 256 * 197, n: 1536, k: 384, align8: true, alpha: 1, out16: true},
		} {
			c.bf16 = bf
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
	checkRan(t, "gemm_pingpong_sm90a", kernels...)
}

// TestGemmF16Residual runs products with Epilogue.Residual (C = act(alpha·
// A·B + bias) + R, R of C's type and layout, random with NaN padding; C
// NaN-poisoned; R checked unchanged afterwards), first with
// SetGemmResidual on: on an H100 the NT and NN products with a tile for
// every SM whose C and R the TMA store admits go through the ping-pong
// kernels with the residual in their epilogue (gemm_<t>_<ab>_tma_ppr:
// checked to have run), the others (fewer tiles, TN, TT, C 4 bytes off
// alignment, rows ending off 16-byte boundaries) through the fallback, R
// copied into C and the product added with beta 1 (for the fp32 C 4 bytes
// off, through an aligned buffer: its pairs are not 8-byte aligned); then
// with it off, every case on the fallback. New kernels, not yet
// run on hardware: last in the file.
func TestGemmF16Residual(t *testing.T) {
	const M = 256 * 197
	cases := []gemmCase{
		// Fused (a 128×128 tile for every SM): rows and columns past M
		// and N in the last tiles, rows with gaps, several tiles a block,
		// GELU before the residual.
		{transB: true, m: 16900, n: 200, k: 72, align8: true, alpha: 1, bias: true},
		{m: 16900, n: 136, k: 48, align8: true, alpha: 2, out16: true, pad: 8},
		{transB: true, m: 16900, n: 200, k: 72, align8: true, alpha: 1, bias: true, gelu: true, out16: true},
		{transB: true, m: 4100, n: 1300, k: 136, align8: true, alpha: 1, bias: true},
		{m: 4100, n: 1040, k: 800, align8: true, alpha: 1, out16: true},
		// Not fused: too few tiles, A transposed, C 4 bytes off alignment,
		// fp16 rows of 270 (540 bytes, no 16-byte multiple).
		{transB: true, m: 1, n: 8, k: 8, align8: true, alpha: 1},
		{transB: true, m: 300, n: 264, k: 520, align8: true, alpha: 0.5, bias: true, out16: true},
		{m: 77, n: 136, k: 48, align8: true, alpha: 2, out16: true, pad: 8},
		{transA: true, m: 200, n: 136, k: 64, align8: true, alpha: 1, bias: true},
		{transA: true, transB: true, m: 100, n: 200, k: 48, align8: true, alpha: 1, out16: true},
		{transB: true, m: 129, n: 264, k: 72, align8: true, alpha: 1, cOff: 1},
		{transB: true, m: 300, n: 270, k: 200, alpha: 1, bias: true, out16: true},
		// The ViT-S/16 residual products: proj and fc2 forward (NT), the
		// residual stream in fp32.
		{transB: true, m: M, n: 384, k: 384, align8: true, alpha: 1, bias: true},
		{transB: true, m: M, n: 384, k: 1536, align8: true, alpha: 1, bias: true},
	}
	for _, on := range []bool{true, false} {
		old := dev.SetGemmResidual(on)
		t.Run(fmt.Sprintf("fused_%v", on), func(t *testing.T) {
			for _, bf := range []bool{false, true} {
				for _, c := range cases {
					// (-test.short keeps the three 16900-row fused cases,
					// which load every _tma_ppr kernel.)
					if testing.Short() && c.m*c.n*c.k > 1<<28 {
						continue
					}
					c.bf16, c.residual = bf, true
					t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
				}
			}
		})
		dev.SetGemmResidual(old)
	}
	if maj, min := dev.ComputeCapability(); maj == 9 && min == 0 {
		checkRan(t, "gemm_pingpong_sm90a", "gemm_f16_nt_tma_ppr", "gemm_f16_nn_tma_ppr", "gemm_bf16_nt_tma_ppr", "gemm_bf16_nn_tma_ppr")
	}
}

// TestGemmF16StreamK runs weight-gradient products (A transposed, B not)
// that GemmAuto splits over fewer blocks than the GPU has SMs, with
// SetGemmStreamK on, so that the stream-K kernels take them: tile counts of
// 5, 8, 9, 16 and 24 (split-K keeps 125, 128, 126, 128 and 120 of an
// H100's 132 SMs busy), both tile widths, M and N off the tiles, each epilogue (bias,
// GELU, beta, a half C), outputs NaN-poisoned; then checks that the
// partial-product kernels of both widths and the reduction ran.
func TestGemmF16StreamK(t *testing.T) { testGemmStreamK(t, false) }

// TestGemmBF16StreamK runs the same through the bf16 twins.
func TestGemmBF16StreamK(t *testing.T) { testGemmStreamK(t, true) }

func testGemmStreamK(t *testing.T, bf bool) {
	if !dev.SetGemmKernel(GemmTMA) {
		t.Skipf("%s is not sm_90: no stream-K kernels", dev.Name())
	}
	dev.SetGemmKernel(GemmAuto)
	old := dev.SetGemmStreamK(true)
	defer dev.SetGemmStreamK(old)
	cases := []gemmCase{
		{transA: true, m: 300, n: 520, k: 50000, align8: true, alpha: 1},                                      // 3×3 tiles of 192
		{transA: true, m: 129, n: 1000, k: 20000, align8: true, alpha: 2, beta: -0.5, bias: true},             // 2×4 of 256
		{transA: true, m: 600, n: 136, k: 30000, align8: true, alpha: 1, bias: true, gelu: true, out16: true}, // 5×1 of 192
		{transA: true, m: 900, n: 77, k: 40000, align8: true, alpha: 1, beta: 1},                              // 8×1 of 192
		{transA: true, m: 1000, n: 300, k: 33333, pad: 8, align8: true, alpha: 0.5, bias: true, out16: true},  // 8×2 of 192, padded rows
	}
	if !testing.Short() {
		cases = append(cases, gemmCase{transA: true, m: 1536, n: 384, k: 256 * 197, alpha: 1}) // the ViT-S/16 fc1 weight gradient
	}
	prefix := "gemm_f16_"
	if bf {
		prefix = "gemm_bf16_"
	}
	for _, c := range cases {
		c.bf16 = bf
		t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
	}
	reduce := "gemm_streamk_reduce"
	if bf {
		reduce += "_bf16"
	}
	checkRan(t, streamKModule, prefix+"tn_tma_sk", prefix+"tn_tma_sk192", reduce)
}

// TestGemmF16WideBoxes runs weight gradients (the TN layout, long K: split-K
// over the TMA partials, then stream-K) with SetGemmWideBoxes on, where M
// is a multiple of 128 and N of the tile width (both widths: 192 and 256),
// fp16 and bf16, each epilogue in the reduce, outputs NaN-poisoned; then
// checks that products are the same bit for bit as with two-dimensional
// boxes, and that the wide kernels of both widths and both schedules ran.
// Not yet run on hardware.
func TestGemmF16WideBoxes(t *testing.T) {
	if !dev.SetGemmKernel(GemmTMA) {
		t.Skipf("%s is not sm_90: no TMA split-K", dev.Name())
	}
	dev.SetGemmKernel(GemmAuto)
	defer dev.SetGemmWideBoxes(dev.SetGemmWideBoxes(true))
	defer dev.SetGemmStreamK(dev.SetGemmStreamK(false))
	defer dev.SetGemmClusterSplitK(dev.SetGemmClusterSplitK(false))
	defer dev.SetGemmSplitK(dev.SetGemmSplitK(0))
	cases := []gemmCase{
		{transA: true, m: 384, n: 576, k: 50000, align8: true, alpha: 1},                                     // 3×3 tiles of 192
		{transA: true, m: 256, n: 1024, k: 20000, align8: true, alpha: 2, beta: -0.5, bias: true},            // 2×4 of 256
		{transA: true, m: 1024, n: 384, k: 33333, pad: 8, align8: true, alpha: 0.5, bias: true, out16: true}, // 8×2 of 192, padded rows, K off the k-tiles
		{transA: true, m: 640, n: 192, k: 3000, align8: true, alpha: 1, bias: true, gelu: true, out16: true}, // 5×1, short chunks
	}
	for _, streamK := range []bool{false, true} {
		dev.SetGemmStreamK(streamK)
		for _, bf := range []bool{false, true} {
			for _, c := range cases {
				c.bf16 = bf
				t.Run(fmt.Sprintf("streamk_%v/%s", streamK, c), func(t *testing.T) { runGemmCase(t, c) })
			}
		}
	}
	dev.SetGemmStreamK(false)
	t.Run("same_bits", func(t *testing.T) {
		r := newRand(t)
		for _, s := range [][4]int{{1152, 384, 20000, 0}, {384, 1536, 20000, 0}, {1152, 384, 20000, 1}} { // qkv's and fc2's weight gradients, a shorter K; qkv's stream-K
			m, n, k := s[0], s[1], s[2]
			dev.SetGemmStreamK(s[3] == 1)
			_, ah := randF16(r, k*m)
			_, bh := randF16(r, k*n)
			a, b := upload16(t, ah), upload16(t, bh)
			product := func(wide bool) []float32 {
				dev.SetGemmWideBoxes(wide)
				c := mustAlloc(t, int64(4*m*n))
				must(t, c.PoisonF32())
				must(t, dev.GemmF16(true, false, m, n, k, 1, a, m, b, n, 0, c, n, Epilogue{}))
				out := make([]float32, m*n)
				must(t, c.CopyToF32(out))
				return out
			}
			want, got := product(false), product(true)
			diff := 0
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					diff++
				}
			}
			if diff != 0 {
				t.Errorf("%d×%d×%d (stream-K %v): %d of %d elements differ from the product with two-dimensional boxes", m, n, k, s[3] == 1, diff, len(want))
			}
		}
		dev.SetGemmStreamK(false)
	})
	checkRan(t, "gemm_f16_tma_sm90a", "gemm_f16_tn_tma_p192w", "gemm_f16_tn_tma_pw", "gemm_bf16_tn_tma_p192w", "gemm_bf16_tn_tma_pw")
	checkRan(t, streamKModule, "gemm_f16_tn_tma_sk192w", "gemm_f16_tn_tma_skw", "gemm_bf16_tn_tma_sk192w", "gemm_bf16_tn_tma_skw")
}

// splitPartialsKernel is the module-qualified name of the split-K partials
// that the route takes for weight gradient c (TN) with the wide boxes or
// the clusters asked for: two-dimensional boxes, or wide boxes where M and
// N fill whole tiles, or clusters where the tile rows pair up.
func splitPartialsKernel(c gemmCase, wide, clusters bool) string {
	bn, kernel := tmaTile("tn", c.n)
	module := "gemm_f16_tma_sm90a."
	switch {
	case wide && wideBoxesOK(true, false, c.m, c.n, bn):
		kernel += "w"
	case clusters && ceilDiv(c.m, 128)%2 == 0:
		module, kernel = "gemm_splitk_cluster_sm90a.", "tn_tma_pc"
		if bn == 192 {
			kernel += "192"
		}
	}
	prefix := "gemm_f16_"
	if c.bf16 {
		prefix = "gemm_bf16_"
	}
	return module + prefix + kernel
}

// TestGemmF16EarlyRelease runs products with SetGemmEarlyRelease on: a
// consumer warpgroup that finds its next k-tile not yet landed releases
// the previous one's stage first (a change of timing only). It runs
// TestGemmF16TMAStore's and TestGemmF16TMACluster's cases (their edges
// include products that fall back to the persistent kernels with the
// direct store); the weight gradients' split-K partials with
// two-dimensional boxes, with the wide boxes and on clusters (fp16 and
// bf16; K long enough that the ring wraps many times), each case asserting
// the kernel it launched; the deep-store kernels, the direct-store
// persistent ones and the stagger with it; and then checks that the
// ViT-S/16 qkv weight gradient and forward product come out the same bit
// for bit as with the setting off. A release before the wgmmas reading a
// stage are done would let the producer overwrite operands still being
// read: wrong products here, sooner or later. Whether a launch took the
// early path (its next k-tile not yet landed) is not observable from
// outside; the weight gradients' partials wait on their loads for about a
// third of their warps' time (the eleventh session's profile), so the
// ViT-sized product takes it many times. Not yet run on hardware.
func TestGemmF16EarlyRelease(t *testing.T) {
	if !dev.SetGemmKernel(GemmTMA) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	dev.SetGemmKernel(GemmAuto)
	defer dev.SetGemmEarlyRelease(dev.SetGemmEarlyRelease(true))
	defer dev.SetGemmSplitK(dev.SetGemmSplitK(0))
	defer dev.SetGemmStreamK(dev.SetGemmStreamK(false))
	defer dev.SetGemmWideBoxes(dev.SetGemmWideBoxes(false))
	defer dev.SetGemmClusterSplitK(dev.SetGemmClusterSplitK(false))
	testGemmTMAStoreAndCluster(t)
	splits := []gemmCase{
		{transA: true, m: 384, n: 576, k: 50000, align8: true, alpha: 1},                                      // 3×3 tiles of 192
		{transA: true, m: 256, n: 1024, k: 20000, align8: true, alpha: 2, beta: -0.5, bias: true},             // 2×4 of 256
		{transA: true, m: 1024, n: 384, k: 33333, pad: 8, align8: true, alpha: 0.5, bias: true, out16: true},  // 8×2 of 192, padded rows
		{transA: true, m: 700, n: 136, k: 30000, align8: true, alpha: 1, bias: true, gelu: true, out16: true}, // 6×1, 136 wide
	}
	for _, v := range []struct {
		name           string
		wide, clusters bool
	}{{"split", false, false}, {"wide", true, false}, {"clusters", false, true}} {
		t.Run(v.name, func(t *testing.T) {
			dev.SetGemmWideBoxes(v.wide)
			dev.SetGemmClusterSplitK(v.clusters)
			defer dev.SetGemmWideBoxes(false)
			defer dev.SetGemmClusterSplitK(false)
			for _, bf := range []bool{false, true} {
				for _, c := range splits {
					c.bf16 = bf
					t.Run(c.String(), func(t *testing.T) { runGemmCaseOn(t, c, splitPartialsKernel(c, v.wide, v.clusters)) })
				}
			}
		})
	}
	// The other kernels the flag reaches (GemmTMAStore, which takes them
	// for products of fewer tiles than SMs too): the deep store, the
	// persistent kernels with the direct store (a half C whose rows end off
	// 16-byte boundaries), and both settings that change the consumers'
	// schedule at once (the stagger's second warpgroup starts two k-tiles
	// behind).
	dev.SetGemmKernel(GemmTMAStore)
	defer dev.SetGemmKernel(GemmAuto)
	t.Run("deepstore", func(t *testing.T) {
		defer dev.SetGemmDeepStore(dev.SetGemmDeepStore(true))
		for _, c := range []gemmCase{
			{m: 20000, n: 1152, k: 384, align8: true, alpha: 1, out16: true},
			{transA: true, m: 3000, n: 576, k: 700, align8: true, alpha: 1, bias: true, gelu: true, out16: true},
		} {
			layout := map[bool]string{false: "nn", true: "tn"}[c.transA]
			t.Run(c.String(), func(t *testing.T) {
				runGemmCaseOn(t, c, "gemm_tma_store_deep_sm90a.gemm_f16_"+layout+"_tma_s192d")
			})
		}
	})
	t.Run("direct", func(t *testing.T) {
		c := gemmCase{transB: true, m: 3000, n: 270, k: 1000, align8: true, alpha: 1, bias: true, out16: true}
		runGemmCaseOn(t, c, "gemm_f16_tma_sm90a.gemm_f16_nt_tma_p192")
	})
	t.Run("stagger", func(t *testing.T) {
		defer dev.SetGemmStagger(dev.SetGemmStagger(true))
		for _, c := range []gemmCase{
			{transB: true, m: 4096, n: 2304, k: 64, align8: true, alpha: 1},
			{transB: true, m: 3000, n: 1024, k: 2000, align8: true, alpha: 1, bias: true, out16: true},
			{m: 20000, n: 1152, k: 384, align8: true, alpha: 1, out16: true},
		} {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
	t.Run("same_bits", func(t *testing.T) {
		checkSameBits(t, "the early release", func(on bool) { dev.SetGemmEarlyRelease(on) }, qkvSameBitsShapes...)
	})
}

// sameBitsShape is a product checkSameBits runs.
type sameBitsShape struct {
	transA, transB bool
	m, n, k        int
}

// qkvSameBitsShapes are ViT-S/16's qkv weight gradient (split-K partials)
// and forward product (the TMA-store kernel).
var qkvSameBitsShapes = []sameBitsShape{{true, false, 1152, 384, 256 * 197}, {false, true, 256 * 197, 1152, 384}}

// checkSameBits runs each product (fresh random fp16 operands, a half C
// poisoned with NaN) with a setting off and then on (set), and fails
// where any element differs or comes out NaN: a setting that changes only
// timing must give the same bits. It leaves the setting on.
func checkSameBits(t *testing.T, what string, set func(on bool), shapes ...sameBitsShape) {
	r := newRand(t)
	for _, s := range shapes {
		_, ah := randF16(r, s.m*s.k)
		_, bh := randF16(r, s.k*s.n)
		a, b := upload16(t, ah), upload16(t, bh)
		lda, ldb := s.k, s.k
		if s.transA {
			lda = s.m
		}
		if !s.transB {
			ldb = s.n
		}
		product := func(on bool) []uint16 {
			set(on)
			c := mustAlloc(t, int64(2*s.m*s.n))
			must(t, c.Fill16(0x7e00)) // fp16 NaN
			must(t, dev.GemmF16(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n, Epilogue{OutF16: true}))
			out := make([]uint16, s.m*s.n)
			must(t, c.CopyToU16(out))
			return out
		}
		want, got := product(false), product(true)
		diff, nan := 0, 0
		for i := range want {
			if got[i] != want[i] {
				diff++
			}
			if got[i]&0x7c00 == 0x7c00 && got[i]&0x3ff != 0 {
				nan++
			}
		}
		if diff != 0 || nan != 0 {
			t.Errorf("%d×%d×%d (transA %v): %d of %d elements differ from the product without %s, %d NaN", s.m, s.n, s.k, s.transA, diff, len(want), what, nan)
		}
	}
}

// TestGemmF16Lookahead runs the weight gradients' split-K partials with
// SetGemmLookahead at each distance (4, 8 and 16 k-tiles), with
// two-dimensional and wide boxes, fp16 and bf16, on TestGemmF16EarlyRelease's
// cases (tiles past M and N, bias, GELU, beta, padded rows; all of them at
// 8, the first at 4 and 16) and on three
// splits forced short: 19, 7 and 4 k-tiles a block, against a look-ahead
// that reaches S + 4, 8 or 16 k-tiles past a load (S = 5 stages), so that
// it ends at the block's last k-tile or, with 4, never starts
// (TestLookaheadWalk checks on a model that it asks for nothing past the
// last); each case asserts the kernel it launched, outputs poisoned; then
// with the early release too; and then checks that qkv's weight gradient
// comes out the same bit for bit as without it (L2 prefetches are hints).
// Whether a prefetch was made, and whether it helped, is not observable
// here: the bench's _look keys and the profile gemm_tmapl_vit_qkv_dw say.
// Not yet run on hardware.
func TestGemmF16Lookahead(t *testing.T) {
	if !dev.SetGemmKernel(GemmTMA) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	dev.SetGemmKernel(GemmAuto)
	defer dev.SetGemmLookahead(dev.SetGemmLookahead(0))
	defer dev.SetGemmSplitK(dev.SetGemmSplitK(0))
	defer dev.SetGemmStreamK(dev.SetGemmStreamK(false))
	defer dev.SetGemmWideBoxes(dev.SetGemmWideBoxes(false))
	defer dev.SetGemmClusterSplitK(dev.SetGemmClusterSplitK(false))
	defer dev.SetGemmEarlyRelease(dev.SetGemmEarlyRelease(false))
	cases := []gemmCase{
		{transA: true, m: 384, n: 576, k: 50000, align8: true, alpha: 1},                                      // 3×3 tiles of 192
		{transA: true, m: 256, n: 1024, k: 20000, align8: true, alpha: 2, beta: -0.5, bias: true},             // 2×4 of 256
		{transA: true, m: 1024, n: 384, k: 33333, pad: 8, align8: true, alpha: 0.5, bias: true, out16: true},  // 8×2 of 192, padded rows
		{transA: true, m: 700, n: 136, k: 30000, align8: true, alpha: 1, bias: true, gelu: true, out16: true}, // 6×1, 136 wide
	}
	for _, ahead := range []int{4, 8, 16} {
		for _, wide := range []bool{false, true} {
			t.Run(fmt.Sprintf("ahead%d_wide%v", ahead, wide), func(t *testing.T) {
				dev.SetGemmLookahead(ahead)
				dev.SetGemmWideBoxes(wide)
				defer dev.SetGemmLookahead(0)
				defer dev.SetGemmWideBoxes(false)
				// Every case at 8 (GemmTune's), the first at 4 and 16: the
				// CPU reference of the long ones is what costs.
				long := cases
				if ahead != 8 {
					long = cases[:1]
				}
				for _, bf := range []bool{false, true} {
					for _, c := range long {
						c.bf16 = bf
						t.Run(c.String(), func(t *testing.T) { runGemmCaseOn(t, c, splitPartialsKernel(c, wide, false)) })
					}
				}
				// Three splits of 1216, 448 or 256: 19, 7 or 4 k-tiles a
				// block (the last split fewer).
				defer dev.SetGemmSplitK(dev.SetGemmSplitK(3))
				for _, k := range []int{3600, 1200, 600} {
					c := gemmCase{transA: true, m: 384, n: 384, k: k, align8: true, alpha: 1, bias: true, out16: true}
					t.Run("short_"+c.String(), func(t *testing.T) { runGemmCaseOn(t, c, splitPartialsKernel(c, wide, false)) })
				}
			})
		}
	}
	t.Run("early", func(t *testing.T) {
		dev.SetGemmLookahead(8)
		dev.SetGemmEarlyRelease(true)
		defer dev.SetGemmLookahead(0)
		defer dev.SetGemmEarlyRelease(false)
		for _, c := range cases[:2] {
			t.Run(c.String(), func(t *testing.T) { runGemmCaseOn(t, c, splitPartialsKernel(c, false, false)) })
		}
	})
	t.Run("same_bits", func(t *testing.T) {
		checkSameBits(t, "the look-ahead", func(on bool) { dev.SetGemmLookahead(map[bool]int{false: 0, true: 8}[on]) }, qkvSameBitsShapes[0])
	})
}

// TestGemmF16ClusterSplitK runs weight gradients (the TN layout, long K)
// with SetGemmClusterSplitK on: split-K over clusters of two blocks sharing
// B (gemm_splitk_cluster_sm90a), with tile rows in pairs, B's last boxes
// past N, a last tile column of 64 columns or fewer (where the second
// block of a pair loads no B and waits on its peer's multicast alone),
// bias, GELU, beta and a half C in the reduce; outputs NaN-poisoned. Each
// case asserts that the cluster kernel of its tile width ran. Not yet run
// on hardware.
func TestGemmF16ClusterSplitK(t *testing.T) { testGemmClusterSplitK(t, false) }

// TestGemmBF16ClusterSplitK runs the same through the bf16 twins.
func TestGemmBF16ClusterSplitK(t *testing.T) { testGemmClusterSplitK(t, true) }

func testGemmClusterSplitK(t *testing.T, bf bool) {
	if !dev.SetGemmKernel(GemmTMA) {
		t.Skipf("%s is not sm_90: no cluster kernels", dev.Name())
	}
	dev.SetGemmKernel(GemmAuto)
	defer dev.SetGemmClusterSplitK(dev.SetGemmClusterSplitK(true))
	defer dev.SetGemmStreamK(dev.SetGemmStreamK(false))
	defer dev.SetGemmSplitK(dev.SetGemmSplitK(0))
	cases := []gemmCase{
		{transA: true, m: 500, n: 520, k: 50000, align8: true, alpha: 1},                                      // 4 tile rows × 3 of 192
		{transA: true, m: 129, n: 1000, k: 20000, align8: true, alpha: 2, beta: -0.5, bias: true},             // 2 × 4 of 256, the last 232 wide
		{transA: true, m: 700, n: 136, k: 30000, align8: true, alpha: 1, bias: true, gelu: true, out16: true}, // 6 × 1 of 192, 136 wide
		{transA: true, m: 900, n: 77, k: 40000, align8: true, alpha: 1, beta: 1},                              // 8 × 1: B's third box past N
		{transA: true, m: 1000, n: 300, k: 33333, pad: 8, align8: true, alpha: 0.5, bias: true, out16: true},  // 8 × 2, padded rows
		{transA: true, m: 500, n: 40, k: 40000, align8: true, alpha: 1},                                       // 4 × 1, 40 wide: one box of B
		{transA: true, m: 1000, n: 808, k: 30000, align8: true, alpha: 1, bias: true},                         // 8 × 5 of 192, the last 40 wide
	}
	if !testing.Short() && !bf {
		// The ViT-S/16 fc1 weight gradient (12 tile rows; its CPU
		// reference takes seconds: fp16 only).
		cases = append(cases, gemmCase{transA: true, m: 1536, n: 384, k: 256 * 197, alpha: 1, out16: true})
	}
	prefix := "gemm_splitk_cluster_sm90a.gemm_f16_"
	if bf {
		prefix = "gemm_splitk_cluster_sm90a.gemm_bf16_"
	}
	for _, c := range cases {
		c.bf16 = bf
		kernel := prefix + "tn_tma_pc"
		if bn, _ := tmaTile("", c.n); bn == 192 {
			kernel += "192"
		}
		t.Run(c.String(), func(t *testing.T) { runGemmCaseOn(t, c, kernel) })
	}
}

// TestGemmF16MMATMA runs the Hopper NT cases below the ViT size through
// GemmMMATMA (mma.sync fed by TMA, gemm_mma_tma_sm90a: the aligned ones take
// it, the others the element-wise loader), split-K off, with a long K (the
// ring wraps 16 times, k not a multiple of 64) and 4096³ itself (rows
// sampled), then every layout (the non-NT ones through GemmMMA, the
// split-K cases through mma.sync's partials); outputs NaN-poisoned.
// Then checks that the kernel ran. Passed on an H100 (the eleventh
// session).
func TestGemmF16MMATMA(t *testing.T) { testGemmMMATMA(t, GemmMMATMA, false) }

// TestGemmBF16MMATMA runs the same through the bf16 twin.
func TestGemmBF16MMATMA(t *testing.T) { testGemmMMATMA(t, GemmMMATMA, true) }

// TestGemmF16MMATMAPersistent runs the same cases through
// GemmMMATMAPersistent (gemm_<t>_nt_mtp: a producer warp, blocks walking
// several tiles), and one with more 128×256 tiles than the GPU has SMs
// and a K that is not a multiple of 64, so that the ring runs on from one
// tile into the next mid-way round (4096³ does so too). Not yet run on
// hardware.
func TestGemmF16MMATMAPersistent(t *testing.T) { testGemmMMATMA(t, GemmMMATMAPersistent, false) }

// TestGemmBF16MMATMAPersistent runs the same through the bf16 twin.
func TestGemmBF16MMATMAPersistent(t *testing.T) { testGemmMMATMA(t, GemmMMATMAPersistent, true) }

// TestGemmF16MMATMAPolled runs TestGemmF16MMATMAPersistent's cases through
// GemmMMATMAPolled (gemm_<t>_nt_mtl: persistent, thread 0 polling for free
// stages). Not yet run on hardware.
func TestGemmF16MMATMAPolled(t *testing.T) { testGemmMMATMA(t, GemmMMATMAPolled, false) }

// TestGemmBF16MMATMAPolled runs the same through the bf16 twin.
func TestGemmBF16MMATMAPolled(t *testing.T) { testGemmMMATMA(t, GemmMMATMAPolled, true) }

func testGemmMMATMA(t *testing.T, kind GemmKernel, bf bool) {
	if !dev.SetGemmKernel(kind) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	defer dev.SetGemmKernel(GemmAuto)
	// No split-K: the long-K cases would go to mma.sync's partial
	// products instead of this kernel.
	oldSplit := dev.SetGemmSplitK(1)
	defer dev.SetGemmSplitK(oldSplit)
	cases := []gemmCase{
		{transB: true, m: 300, n: 520, k: 4100, align8: true, alpha: 1, bias: true},
		{transB: true, m: 4096, n: 4096, k: 4096, alpha: 1, out16: true},
	}
	if kind != GemmMMATMA {
		// 21 × 12 = 252 tiles: one or two a block on an H100's 132 SMs,
		// 5 k-tiles each, so a block's second tile starts at ring
		// position 5, in the second round's parity.
		cases = append(cases, gemmCase{transB: true, m: 2600, n: 3000, k: 300, align8: true, alpha: 1, beta: 0.5, bias: true, gelu: true})
	}
	for _, c := range hopperCases() {
		if c.m < 256*197 {
			cases = append(cases, c)
		}
	}
	for _, c := range cases {
		c.bf16 = bf
		t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
	}
	dev.SetGemmSplitK(oldSplit)
	t.Run("layouts", func(t *testing.T) { testGemmTMALayoutsAs(t, bf) })
	prefix := "gemm_f16_"
	if bf {
		prefix = "gemm_bf16_"
	}
	switch kind {
	case GemmMMATMAPersistent:
		checkRan(t, "gemm_mma_tma_sm90a", prefix+"nt_mtp")
	case GemmMMATMAPolled:
		checkRan(t, "gemm_mma_tma_sm90a", prefix+"nt_mtl")
	default:
		checkRan(t, "gemm_mma_tma_sm90a", prefix+"nt_mt")
	}
}
