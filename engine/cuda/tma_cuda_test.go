//go:build cuda

package cuda

import "testing"

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
	if !dev.SetGemmKernel(GemmMMAWide) {
		t.Fatal("SetGemmKernel(GemmMMAWide) refused")
	}
	defer dev.SetGemmKernel(GemmAuto)
	forEachStore(t, func(t *testing.T) {
		for _, c := range hopperCases() {
			if c.m < 256*197 { // the ViT-sized ones are timed by bench
				t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
			}
		}
		t.Run("layouts", testGemmTMALayouts)
	})
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
// has run, so that a fallback taken everywhere cannot pass for the kernels.
func testGemmTMAKind(t *testing.T, kind GemmKernel, bf bool, mustRun ...string) {
	if !dev.SetGemmKernel(kind) {
		t.Skipf("%s is not sm_90: no TMA kernel", dev.Name())
	}
	defer dev.SetGemmKernel(GemmAuto)
	testGemmHopperAs(t, bf)
	t.Run("layouts", func(t *testing.T) { testGemmTMALayoutsAs(t, bf) })
	// NT cases whose last tile column reaches at most half way into its
	// tile (n − n0 ≤ BN/2: in a cluster the second half of B lies wholly
	// past N and is not loaded), with rows 16-byte multiples so that the
	// TMA-store kernels, not the fallback, take them.
	t.Run("edges", func(t *testing.T) {
		for _, c := range []gemmCase{
			{transB: true, m: 256, n: 64, k: 128, align8: true, alpha: 1},
			{transB: true, m: 129, n: 1, k: 72, align8: true, alpha: 1, out16: true},
			{transB: true, m: 300, n: 270, k: 200, align8: true, alpha: 1, bias: true, out16: true},
			{transB: true, m: 385, n: 456, k: 64, align8: true, alpha: 0.5, bias: true, gelu: true},
		} {
			c.bf16 = bf
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
	for _, k := range mustRun {
		if !dev.loaded("gemm_tma_store_sm90a", k) {
			t.Errorf("kernel %s never ran", k)
		}
	}
}
