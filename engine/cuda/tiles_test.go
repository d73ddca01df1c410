package cuda

import (
	"slices"
	"strings"
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
// embedded, the list follows the device and the autocast type, and its
// GEMM modules are exactly those the default routes of a MoCo v3 ViT-S/16
// step's products (moCoStepProducts) launch, on an H100 and an A100.
func TestTrainingModules(t *testing.T) {
	have := map[string]bool{}
	for _, m := range kernels.PTXModules() {
		have[m] = true
	}
	for _, r := range []gemmRouter{routerH100, routerA100} {
		for _, bf16 := range []bool{false, true} {
			mods := trainingModules(r.hopper, bf16)
			for _, m := range mods {
				assert.True(t, have[m], "module %s (hopper %v, bf16 %v) is not embedded", m, r.hopper, bf16)
			}
			assert.Equal(t, bf16, slices.Contains(mods, "attention_bf16"))
			assert.Equal(t, !bf16, slices.Contains(mods, "attention"))
			var listed, routed []string
			for _, m := range mods {
				if strings.HasPrefix(m, "gemm_") {
					listed = append(listed, m)
				}
			}
			for _, p := range moCoStepProducts(bf16) {
				rt := r.route(GemmChoice{}, p)
				routed = append(routed, rt.module)
				if rt.reduce != "" {
					routed = append(routed, typedModule("gemm_f16", bf16))
				}
				if rt.streamK {
					routed = append(routed, streamKModule)
				}
			}
			slices.Sort(listed)
			slices.Sort(routed)
			assert.Equal(t, listed, slices.Compact(routed), "the GEMM modules of a step on an H100 %v, bf16 %v", r.hopper, bf16)
		}
	}
}

// moCoStepProducts are the GEMMs of a MoCo v3 ViT-S/16 training step at
// batch 256 and 224 px (M = 256·197 token rows) with operands of type bf16
// (bf) or fp16: each Linear layer's forward (NT; proj and fc2 add the
// residual to C, read with beta 1, as LinearAdd does), input gradient (NN)
// and weight gradient (TN, into fp32) in the blocks (qkv, proj, fc1, fc2),
// the projector (384 → 4096 → 4096 → 256) and the predictor (256 → 4096 →
// 256) on 256 rows; the frozen patch projection's forward (256·196 patches
// of 768); the contrastive logits (256 × 256 × 256) and the queries'
// gradient (the keys are detached).
func moCoStepProducts(bf bool) []gemmProduct {
	const tokens = 256 * 197
	type linear struct {
		rows, in, out int
		residual      bool
	}
	layers := []linear{
		{tokens, 384, 1152, false}, {tokens, 384, 384, true}, {tokens, 384, 1536, false}, {tokens, 1536, 384, true},
		{256, 384, 4096, false}, {256, 4096, 4096, false}, {256, 4096, 256, false}, {256, 256, 4096, false}, {256, 4096, 256, false},
	}
	product := func(transA, transB bool, m, n, k int) gemmProduct {
		return gemmProduct{bf: bf, transA: transA, transB: transB, m: m, n: n, k: k,
			aligned: true, cAligned: true, ldc: n, flags: gemmOutF16, staged: gemmStaged}
	}
	var out []gemmProduct
	for _, l := range layers {
		fwd := product(false, true, l.rows, l.out, l.in)
		if l.residual {
			fwd.beta = true
		}
		dw := product(true, false, l.out, l.in, l.rows)
		dw.flags = 0 // fp32
		out = append(out, fwd, product(false, false, l.rows, l.in, l.out), dw)
	}
	return append(out, product(false, true, 256*196, 384, 768),
		product(false, true, 256, 256, 256), product(false, false, 256, 256, 256))
}
