//go:build cuda

package cuda

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGemmTune runs products under GemmTune against the float64 reference
// (outputs NaN-poisoned first): shapes it tunes (aligned) in every layout,
// fp16 and bf16, with and without the half store, bias and GELU, with beta
// ≠ 0 (the candidates on copies of C), rows not ending on a 16-byte
// boundary (where the TMA store would write past them), a C not starting
// on one (the candidates' scratch outputs placed alike), and one it
// leaves to GemmAuto (unaligned). Each tuned shape must be listed once
// with a chosen kind among those it timed, and no candidate may be
// refused for its result (each is compared with GemmAuto's, so this
// checks every kind and setting GemmTune tries on every shape); on an
// H100 the candidates must include the L2 prefetch, the deep store, the
// ping-pong kernels and, on a weight gradient whose split-K leaves SMs
// idle, stream-K. A
// second pass over the same shapes must tune nothing new.
func TestGemmTune(t *testing.T) {
	require.True(t, dev.SetGemmKernel(GemmTune))
	defer dev.SetGemmKernel(GemmAuto)
	var cases []gemmCase
	for _, tr := range [][2]bool{{false, true}, {false, false}, {true, false}, {true, true}} {
		for _, sz := range [][3]int{{256, 384, 64}, {200, 136, 24}, {520, 1152, 384}, {384, 256, 4096}} {
			cases = append(cases, gemmCase{transA: tr[0], transB: tr[1], m: sz[0], n: sz[1], k: sz[2], align8: true, alpha: 1})
		}
	}
	cases = append(cases,
		gemmCase{transB: true, m: 520, n: 1536, k: 384, align8: true, alpha: 1, bias: true, gelu: true, out16: true},
		gemmCase{transB: true, m: 520, n: 1152, k: 384, align8: true, alpha: 1, out16: true, bf16: true},
		gemmCase{transA: true, m: 384, n: 384, k: 2048, align8: true, alpha: 1, bf16: true},
		gemmCase{transB: true, m: 129, n: 197, k: 72, align8: true, alpha: 0.5, beta: 0.25},          // beta ≠ 0, on copies of C
		gemmCase{transB: true, m: 300, n: 270, k: 200, align8: true, alpha: 1, out16: true},          // rows end off 16 bytes
		gemmCase{transB: true, m: 300, n: 256, k: 200, align8: true, alpha: 1, out16: true, cOff: 2}, // C 4 bytes past a 16-byte boundary
		gemmCase{transB: true, m: 33, n: 129, k: 7, alpha: 1},                                        // unaligned: GemmAuto
		// Split-K: 5 tiles × 25 splits leave 7 of 132 SMs idle; 2115
		// k-tiles give stream-K at least 16 a block.
		gemmCase{transA: true, m: 640, n: 192, k: 27072, align8: true, alpha: 1},
	)
	first := 0
	for pass := range 2 {
		for _, c := range cases {
			t.Run(fmt.Sprintf("pass%d/%v", pass, c), func(t *testing.T) { runGemmCase(t, c) })
		}
		tunings := dev.GemmTunings()
		if pass == 0 {
			require.NotEmpty(t, tunings)
			for _, g := range tunings {
				ms, ok := g.Ms[g.Chose]
				assert.True(t, ok && ms > 0, "%s: chose %v, which it did not time (%v)", g.Shape, g.Chose, g.Ms)
				for k, v := range g.Ms {
					assert.GreaterOrEqual(t, v, ms, "%s: %v (%.3f ms) is faster than the chosen %v (%.3f ms)", g.Shape, k, v, g.Chose, ms)
				}
				for ch, why := range g.Rejected {
					assert.False(t, strings.HasPrefix(why, tuneWrongResult), "%s: %v: %s", g.Shape, ch, why)
				}
				t.Logf("%-28s chose %-14v %v rejected %v", g.Shape, g.Chose, g.Ms, g.Rejected)
			}
			if dev.sm90() {
				timed := func(on func(GemmChoice) bool) bool {
					return slices.ContainsFunc(tunings, func(g GemmTuning) bool { return slices.ContainsFunc(g.Timed, on) })
				}
				assert.True(t, timed(func(c GemmChoice) bool { return c.Prefetch }), "no shape timed the L2 prefetch")
				assert.True(t, timed(func(c GemmChoice) bool { return c.StreamK }), "no shape timed stream-K")
				assert.True(t, timed(func(c GemmChoice) bool { return c.DeepStore }), "no shape timed the deep store")
				assert.True(t, timed(func(c GemmChoice) bool { return c.EarlyRelease }), "no shape timed the early release")
				assert.True(t, timed(func(c GemmChoice) bool { return c.Kernel == GemmTMAPingpong }), "no shape timed the ping-pong kernels")
			}
			assert.True(t, slices.ContainsFunc(tunings, func(g GemmTuning) bool { return len(g.Ms) >= 3 }),
				"no shape had three or more kinds timed: the candidates were not tried")
			assert.True(t, slices.ContainsFunc(tunings, func(g GemmTuning) bool { return strings.HasSuffix(g.Shape, "+βC") }),
				"the beta ≠ 0 product was not tuned")
			first = len(tunings)
			continue
		}
		assert.Equal(t, first, len(tunings), "the second pass tuned again")
	}
}
