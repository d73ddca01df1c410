package cuda

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGemmFlagsMatchKernels reads the GEMM_* flag defines from the CUDA
// header the kernels are compiled with and checks that the Go side passes
// the same bits.
func TestGemmFlagsMatchKernels(t *testing.T) {
	src, err := os.ReadFile("../../kernels/cuda/gemm_types.cuh")
	require.NoError(t, err)
	defines := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define (GEMM_[A-Z0-9_]+) (\d+)\s*$`).FindAllSubmatch(src, -1) {
		v, err := strconv.Atoi(string(m[2]))
		require.NoError(t, err)
		defines[string(m[1])] = v
	}
	want := map[string]int{"GEMM_GELU": gemmGELU, "GEMM_OUT_F16": gemmOutF16, "GEMM_STAGED": gemmStaged, "GEMM_STAGGER": gemmStagger, "GEMM_PREFETCH": gemmPrefetch, "GEMM_EARLY_RELEASE": gemmEarlyRelease, "GEMM_LOOKAHEAD_SHIFT": gemmLookaheadShift}
	for name, v := range want {
		got, ok := defines[name]
		if assert.True(t, ok, "%s is not defined in gemm_types.cuh", name) {
			assert.Equal(t, v, got, "%s: Go passes %d, the kernels test %d", name, v, got)
		}
	}
	assert.Len(t, defines, len(want), "flags in gemm_types.cuh: %v (a new one needs its Go constant here)", defines)
}

// TestLookaheadBits decodes the look-ahead bits as gemm_tma_p_body does
// (2 << ((flags >> GEMM_LOOKAHEAD_SHIFT) & 3), 0 for none) for each
// distance the setting takes, and checks that they leave every other flag
// alone.
func TestLookaheadBits(t *testing.T) {
	for _, k := range []int{0, 4, 8, 16} {
		require.True(t, lookaheadOK(k))
		bits := lookaheadBits(k)
		got := 0
		if v := (bits >> gemmLookaheadShift) & 3; v != 0 {
			got = 2 << v
		}
		assert.Equal(t, k, got, "look-ahead %d", k)
		assert.Zero(t, bits&^gemmLookaheadMask, "look-ahead %d sets bits outside its own", k)
		assert.Zero(t, gemmLookaheadMask&(gemmGELU|gemmOutF16|gemmStaged|gemmStagger|gemmPrefetch|gemmEarlyRelease))
	}
	for _, k := range []int{-4, 1, 2, 3, 12, 32} {
		assert.False(t, lookaheadOK(k), "%d", k)
	}
}
