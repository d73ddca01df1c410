//go:build cuda

package cuda

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProfile profiles a known sequence of launches: three products of one
// shape, one of another, and a host wait between them that must show as
// span beyond the kernels' busy time, not as kernel time.
func TestProfile(t *testing.T) {
	const m = 1024
	a, b := upload16(t, make([]uint16, m*m)), upload16(t, make([]uint16, m*m))
	c := mustAlloc(t, 4*m*m)
	old := dev.SetGemmSplitK(1) // one launch per product
	defer dev.SetGemmSplitK(old)
	_, err := dev.StopProfile()
	assert.ErrorContains(t, err, "without StartProfile")

	must(t, dev.StartProfile())
	assert.ErrorContains(t, dev.StartProfile(), "running")
	for range 3 {
		must(t, dev.GemmF16(false, true, m, m, m, 1, a, m, b, m, 0, c, m, Epilogue{}))
	}
	must(t, dev.Synchronize()) // the GPU idles while the host waits here
	must(t, dev.GemmF16(false, true, m/2, m, m, 1, a, m, b, m, 0, c, m, Epilogue{}))
	p, err := dev.StopProfile()
	require.NoError(t, err)

	launches := 0
	for _, k := range p.Kernels {
		t.Logf("%-40s grid %v: %d launches, %.3f ms", k.Kernel, k.Grid, k.Launches, k.Ms)
		assert.True(t, strings.HasPrefix(k.Kernel, "gemm_"), "kernel %s", k.Kernel)
		assert.Greater(t, k.Ms, 0.0, k.Kernel)
		launches += k.Launches
	}
	require.Equal(t, 4, launches, "one timed launch per product")
	require.Len(t, p.Kernels, 2, "two shapes, two grids")
	counts := []int{p.Kernels[0].Launches, p.Kernels[1].Launches}
	slices.Sort(counts)
	assert.Equal(t, []int{1, 3}, counts, "three launches on one grid, one on the other")
	assert.Len(t, p.ByKernel(), 1, "one kernel over both grids")
	assert.Greater(t, p.SpanMs, p.BusyMs, "the host wait is span, not kernel time")
	t.Logf("span %.3f ms, busy %.3f ms", p.SpanMs, p.BusyMs)

	// Off again: nothing is recorded.
	must(t, dev.GemmF16(false, true, m, m, m, 1, a, m, b, m, 0, c, m, Epilogue{}))
	must(t, dev.StartProfile())
	p, err = dev.StopProfile()
	require.NoError(t, err)
	assert.Empty(t, p.Kernels)
}
