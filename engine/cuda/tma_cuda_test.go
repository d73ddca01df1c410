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
	defer dev.SetGemmKernel(GemmMMA)
	testGemmHopper(t)
}
