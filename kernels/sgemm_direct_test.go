package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmDirectASameBits checks that reading A in place (the direct
// kernels) gives every element of C the bits the packed path gives it: at
// edge rows and columns, half-width last slivers, several k blocks with
// beta, with a row stride wider than k, on one thread and on several.
func TestSgemmDirectASameBits(t *testing.T) {
	defer func() { useDirectA = true }()
	tested := 0
	for _, g := range gemmImpls {
		if g.kernDirect != nil {
			testDirectASameBits(t, g)
			tested++
		}
	}
	if tested == 0 {
		t.Skip("no implementation with direct kernels on this CPU")
	}
}

func testDirectASameBits(t *testing.T, g *gemmImpl) {
	r := rand.New(rand.NewPCG(8, 1))
	for _, sh := range [][3]int{{12, 32, 7}, {25, 50, 130}, {100, 16, 600}, {6400 / 8, 128, 128}, {37, 300, 1100}, {11, 40, 3}} {
		m, n, k := sh[0], sh[1], sh[2]
		lda := k + 3
		a := randSlice(r, m*lda, 1)
		b := randSlice(r, k*n, 1)
		c0 := randSlice(r, m*n, 1)
		for _, threads := range []int{1, 3} {
			for _, beta := range []float32{0, 0.5} {
				run := func(direct bool) []float32 {
					useDirectA = direct
					c := append([]float32(nil), c0...)
					gemmRun(g, threads, false, false, m, n, k, 1.25, a, lda, b, n, beta, c, n, Epilogue{})
					return c
				}
				want, got := run(false), run(true)
				what := fmt.Sprintf("%s %dx%dx%d threads %d beta %g", g.name, m, n, k, threads, beta)
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
						t.Fatalf("%s: element %d: packed %g, direct %g", what, i, want[i], got[i])
					}
				}
			}
		}
	}
}

// BenchmarkSgemmDirectA times untransposed-A products (the MoCo v3 demo's
// first) with A packed and read in place: where directMaxN came from.
func BenchmarkSgemmDirectA(b *testing.B) {
	defer func() { useDirectA = true }()
	for _, g := range gemmImpls {
		if g.kernDirect != nil {
			b.Run(g.name, func(b *testing.B) { benchDirectA(b, g) })
		}
	}
}

func benchDirectA(b *testing.B, g *gemmImpl) {
	r := rand.New(rand.NewPCG(8, 1))
	for _, sh := range [][3]int{{6400, 384, 128}, {6400, 128, 128}, {6400, 512, 128}, {6400, 128, 512}, {6400, 768, 384}, {6400, 1024, 128}, {6400, 256, 1000}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, bb, c := randSlice(r, m*k, 1), randSlice(r, k*n, 1), make([]float32, m*n)
		for _, direct := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%dx%d/direct=%v", m, n, k, direct), func(b *testing.B) {
				useDirectA = direct
				if direct && (n > directMaxN || k%1024 == 0) {
					b.Skip("the driver packs this A")
				}
				for b.Loop() {
					gemmRun(g, gemmThreads(m, n, k, Threads()), false, false, m, n, k, 1, a, k, bb, n, 0, c, n, Epilogue{})
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
