package cuda

import (
	"slices"
	"testing"

	"github.com/mocogo/mocogo/kernels"
	"github.com/stretchr/testify/assert"
)

// TestTMATiles pins the TMA kernels' tile widths at the ViT-S/16 and
// 4096³ widths and at odd ones (192 where it wastes less of the last tile
// column than 256), the narrow setting's, and which launches the deep
// store reaches.
func TestTMATiles(t *testing.T) {
	for n, want := range map[int]int{
		384: 192, 1152: 192, 576: 192, 136: 192, 64: 192, 192: 192, // 192-wide tiles waste less
		1536: 256, 4096: 256, 256: 256, 200: 256, 1024: 256, 512: 256, // no more than 256-wide ones
	} {
		bn, kernel := tmaTile("gemm_f16_nt", n)
		assert.Equal(t, want, bn, "n = %d", n)
		assert.Equal(t, map[int]string{192: "gemm_f16_nt_tma_p192", 256: "gemm_f16_nt_tma_p"}[want], kernel, "n = %d", n)
		assert.Equal(t, want, storeTile(n, false), "n = %d", n)
		assert.Equal(t, 192, storeTile(n, true), "n = %d, narrow", n)
	}
	assert.True(t, deepStoreOK(192, 1, gemmOutF16))
	assert.True(t, deepStoreOK(192, 1, gemmOutF16|gemmGELU|gemmPrefetch))
	assert.False(t, deepStoreOK(256, 1, gemmOutF16), "no room for a third buffer beside 256-wide tiles")
	assert.False(t, deepStoreOK(192, 2, gemmOutF16), "no deep-store cluster kernels")
	assert.False(t, deepStoreOK(192, 1, gemmGELU), "a float C: six boxes a tile")
	assert.True(t, clusterKernels(false, false), "fp16 NT and NN")
	assert.False(t, clusterKernels(true, false), "no bf16 cluster kernels")
	assert.False(t, clusterKernels(false, true), "no cluster kernels with A transposed")
}

// TestTMAStoreOK: the TMA store writes C only where its rows start and end
// on 16-byte boundaries and C is not read (beta 0).
func TestTMAStoreOK(t *testing.T) {
	assert.True(t, tmaStoreOK(true, 1152, 1152, 2, false))
	assert.True(t, tmaStoreOK(true, 1160, 1152, 4, false))
	assert.False(t, tmaStoreOK(false, 1152, 1152, 2, false), "C not 16-byte aligned")
	assert.False(t, tmaStoreOK(true, 1156, 1152, 2, false), "rows start off 16 bytes")
	assert.False(t, tmaStoreOK(true, 1152, 270, 2, false), "rows end off 16 bytes")
	assert.False(t, tmaStoreOK(true, 1152, 1152, 2, true), "beta ≠ 0 reads C")
}

// TestTrainingModules: every module a training step is said to load is
// embedded, and the list follows the device and the autocast type.
func TestTrainingModules(t *testing.T) {
	have := map[string]bool{}
	for _, m := range kernels.PTXModules() {
		have[m] = true
	}
	for _, hopper := range []bool{false, true} {
		for _, bf16 := range []bool{false, true} {
			mods := trainingModules(hopper, bf16)
			for _, m := range mods {
				assert.True(t, have[m], "module %s (hopper %v, bf16 %v) is not embedded", m, hopper, bf16)
			}
			assert.Equal(t, hopper, slices.Contains(mods, "gemm_tma_store_sm90a"))
			assert.Equal(t, bf16, slices.Contains(mods, "attention_bf16"))
			assert.Equal(t, !bf16, slices.Contains(mods, "attention"))
		}
	}
}
