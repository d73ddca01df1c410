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
