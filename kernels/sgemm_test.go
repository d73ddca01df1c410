package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// opDims gives the stored rows and columns of op(X) = rows×cols.
func opDims(trans bool, rows, cols int) (int, int) {
	if trans {
		return cols, rows
	}
	return rows, cols
}

// randMat returns a rows×cols matrix with row stride ld, values in [-1, 1);
// the padding past cols holds large values that must never reach a result.
func randMat(rng *rand.Rand, rows, cols, ld int) []float32 {
	if rows == 0 || cols == 0 {
		return nil
	}
	x := make([]float32, (rows-1)*ld+cols)
	for i := range x {
		if i%ld < cols {
			x[i] = rng.Float32()*2 - 1
		} else {
			x[i] = 1e30
		}
	}
	return x
}

// gemmCase is one product to check; pad is added to each leading dimension.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,%dx%dx%d,alpha=%g,beta=%g,pad=%d", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// gemmOperands makes fresh random A, B, C for tc. With beta 0, C is
// poisoned with NaN except in its padding.
type gemmOperands struct {
	a, b, c       []float32
	lda, ldb, ldc int
}

func newGemmOperands(rng *rand.Rand, tc gemmCase) gemmOperands {
	ar, ac := opDims(tc.transA, tc.m, tc.k)
	br, bc := opDims(tc.transB, tc.k, tc.n)
	o := gemmOperands{lda: ac + tc.pad, ldb: bc + tc.pad, ldc: tc.n + tc.pad}
	o.a = randMat(rng, ar, ac, o.lda)
	o.b = randMat(rng, br, bc, o.ldb)
	o.c = randMat(rng, tc.m, tc.n, o.ldc)
	if tc.beta == 0 {
		for i := range o.c {
			if i%o.ldc < tc.n {
				o.c[i] = float32(math.NaN())
			}
		}
	}
	return o
}

// checkGemm compares out against a float64 reference computed from o (the
// operands before the call): norm-wise relative error under 1e-5 and each
// element within a rounding bound proportional to k, and padding untouched.
func checkGemm(t *testing.T, tc gemmCase, o gemmOperands, out []float32) {
	t.Helper()
	at := func(i, p int) float64 {
		if tc.transA {
			return float64(o.a[p*o.lda+i])
		}
		return float64(o.a[i*o.lda+p])
	}
	bt := func(p, j int) float64 {
		if tc.transB {
			return float64(o.b[j*o.ldb+p])
		}
		return float64(o.b[p*o.ldb+j])
	}
	var errSq, refSq float64
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var s, abs float64
			for p := 0; p < tc.k; p++ {
				v := at(i, p) * bt(p, j)
				s += v
				abs += math.Abs(v)
			}
			ref := float64(tc.alpha) * s
			abs *= math.Abs(float64(tc.alpha))
			if tc.beta != 0 {
				cv := float64(tc.beta) * float64(o.c[i*o.ldc+j])
				ref += cv
				abs += math.Abs(cv)
			}
			got := float64(out[i*o.ldc+j])
			d := got - ref
			errSq += d * d
			refSq += ref * ref
			tol := 2*float64(tc.k+3)*0x1p-24*abs + 1e-30
			if !(math.Abs(d) <= tol) {
				if bad < 5 {
					t.Errorf("%v: C[%d][%d] = %g, want %g (tol %g)", tc, i, j, got, ref, tol)
				}
				bad++
			}
		}
		for j := tc.n; j < o.ldc && i < tc.m-1; j++ {
			if out[i*o.ldc+j] != o.c[i*o.ldc+j] {
				t.Fatalf("%v: padding C[%d][%d] written", tc, i, j)
			}
		}
	}
	if refSq > 0 {
		rel := math.Sqrt(errSq / refSq)
		require.Lessf(t, rel, 1e-5, "%v: relative error", tc)
	}
	require.Zerof(t, bad, "%v: elements off", tc)
}

func runGemmCase(t *testing.T, rng *rand.Rand, g *gemmImpl, threads int, tc gemmCase) {
	t.Helper()
	o := newGemmOperands(rng, tc)
	out := append([]float32(nil), o.c...)
	sgemmWith(g, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, o.a, o.lda, o.b, o.ldb, tc.beta, out, o.ldc, Epilogue{})
	checkGemm(t, tc, o, out)
}

// testImpls returns every implementation this CPU runs, each also with tiny
// cache blocks so that small products cross every block boundary.
func testImpls() []*gemmImpl {
	var gs []*gemmImpl
	for _, g := range gemmImpls {
		gs = append(gs, g)
		tiny := *g
		tiny.name += "-tinyblocks"
		tiny.kc, tiny.nb, tiny.mb = 5, 2*g.nr, 2*g.mr
		gs = append(gs, &tiny)
	}
	return gs
}

var gemmTestSizes = []int{1, 3, 7, 17, 33, 65, 129, 257}

// gemmTestShapes covers every test size in each dimension against a few
// others, plus shapes around the tile sizes.
func gemmTestShapes(short bool) [][3]int {
	var s [][3]int
	for _, x := range gemmTestSizes {
		if short && x > 65 {
			continue
		}
		s = append(s, [3]int{x, x, x}, [3]int{x, 17, 33}, [3]int{7, x, 65}, [3]int{33, 3, x})
	}
	s = append(s, [3]int{12, 32, 8}, [3]int{24, 64, 400}, [3]int{13, 33, 1}, [3]int{6, 16, 16}, [3]int{5, 15, 9})
	return s
}

func TestGemmImplsAvailable(t *testing.T) {
	var names []string
	for _, g := range gemmImpls {
		names = append(names, g.name)
	}
	t.Logf("implementations: %v (default %s)", names, gemmBest.name)
	require.Equal(t, gemmGeneric, gemmImpls[len(gemmImpls)-1])
}

// TestSgemmAVX2 runs the AVX2/FMA path; it is skipped only on a CPU without
// AVX2 and FMA.
func TestSgemmAVX2(t *testing.T) {
	g := findImpl("avx2")
	if g == nil {
		t.Skip("CPU lacks AVX2/FMA")
	}
	testGemmImpl(t, g)
}

// TestSgemmAVX512 runs the AVX-512 path where the CPU has it.
func TestSgemmAVX512(t *testing.T) {
	g := findImpl("avx512")
	if g == nil {
		t.Skip("CPU lacks AVX-512")
	}
	testGemmImpl(t, g)
}

// TestSgemmGeneric runs the plain Go path, on every machine.
func TestSgemmGeneric(t *testing.T) {
	testGemmImpl(t, gemmGeneric)
}

func findImpl(name string) *gemmImpl {
	for _, g := range gemmImpls {
		if g.name == name {
			return g
		}
	}
	return nil
}

func testGemmImpl(t *testing.T, g *gemmImpl) {
	rng := rand.New(rand.NewPCG(1, uint64(len(g.name))))
	tiny := *g
	tiny.name += "-tinyblocks"
	tiny.kc, tiny.nb, tiny.mb = 5, 2*g.nr, 2*g.mr
	for _, impl := range []*gemmImpl{g, &tiny} {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", impl.name, threads), func(t *testing.T) {
				for _, sh := range gemmTestShapes(testing.Short() || impl != g) {
					for ti := 0; ti < 4; ti++ {
						for _, ab := range [][2]float32{{1, 0}, {-0.75, 0.5}} {
							tc := gemmCase{transA: ti&1 != 0, transB: ti&2 != 0, m: sh[0], n: sh[1], k: sh[2], alpha: ab[0], beta: ab[1], pad: 3 * ti}
							runGemmCase(t, rng, impl, threads, tc)
						}
					}
				}
			})
		}
	}
}

// TestSgemmBlocks crosses the real block sizes (k past kc, n past nb, m past
// mb) on the default implementation.
func TestSgemmBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	g := gemmBest
	rng := rand.New(rand.NewPCG(2, 3))
	for _, tc := range []gemmCase{
		{m: 40, n: g.nb + 37, k: g.kc + 61, alpha: 1.25, beta: 0},
		{transA: true, transB: true, m: g.mb + 5, n: 9, k: 2*g.kc + 3, alpha: 1, beta: -1, pad: 1},
		{transA: true, m: 97, n: 2*g.nb + 1, k: 40, alpha: 0.5, beta: 2},
	} {
		runGemmCase(t, rng, g, 2, tc)
	}
}

// TestSgemmPublic goes through Sgemm, SetThreads and the special cases.
func TestSgemmPublic(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(4, 5))
	for _, threads := range []int{1, 2, 4} {
		SetThreads(threads)
		require.Equal(t, threads, Threads())
		for ti := 0; ti < 4; ti++ {
			tc := gemmCase{transA: ti&1 != 0, transB: ti&2 != 0, m: 150, n: 131, k: 77, alpha: 2, beta: 0, pad: 2}
			o := newGemmOperands(rng, tc)
			out := append([]float32(nil), o.c...)
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, o.a, o.lda, o.b, o.ldb, tc.beta, out, o.ldc)
			checkGemm(t, tc, o, out)
		}
	}
	// k = 0 and alpha = 0 scale C by beta; beta = 0 clears NaN.
	c := []float32{1, 2, float32(math.NaN()), 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0, c, 2)
	require.Equal(t, []float32{0, 0, 0, 0}, c)
	c = []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 1, 0, []float32{1, 1}, 1, []float32{1, 1}, 2, 3, c, 2)
	require.Equal(t, []float32{3, 6, 9, 12}, c)
	// Empty products do nothing.
	Sgemm(false, false, 0, 5, 5, 1, nil, 5, make([]float32, 25), 5, 0, nil, 5)
	require.Panics(t, func() {
		Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
	})
	require.Panics(t, func() {
		Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
	})
}

// TestSgemmMatchesRef checks Sgemm against the plain triple loop.
func TestSgemmMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 7))
	tc := gemmCase{transA: true, m: 45, n: 70, k: 33, alpha: 1, beta: 0.25, pad: 1}
	o := newGemmOperands(rng, tc)
	want := append([]float32(nil), o.c...)
	sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, o.a, o.lda, o.b, o.ldb, tc.beta, want, o.ldc)
	got := append([]float32(nil), o.c...)
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, o.a, o.lda, o.b, o.ldb, tc.beta, got, o.ldc)
	require.InDeltaSlice(t, want, got, 1e-4)
}

func TestSgemmNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	defer SetThreads(0)
	SetThreads(2)
	a := make([]float32, 200*300)
	b := make([]float32, 300*100)
	c := make([]float32, 200*100)
	allocs := testing.AllocsPerRun(50, func() {
		Sgemm(false, true, 200, 100, 300, 1, a, 300, b, 300, 0, c, 100)
	})
	require.Zero(t, allocs)
	allocs = testing.AllocsPerRun(20, func() {
		SgemmBatched(4, false, false, 50, 50, 50, 1, a, 50, 2500, b, 50, 2500, 0, c, 50, 2500)
	})
	require.Zero(t, allocs)
}

func TestSgemmBatched(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(8, 9))
	for _, threads := range []int{1, 3} {
		SetThreads(threads)
		for _, sh := range [][4]int{{1, 1, 1, 1}, {5, 65, 65, 32}, {3, 17, 33, 7}, {7, 3, 129, 64}, {2, 197, 197, 64}} {
			for ti := 0; ti < 4; ti++ {
				for _, ab := range [][2]float32{{1, 0}, {0.5, -1}} {
					tc := gemmCase{transA: ti&1 != 0, transB: ti&2 != 0, m: sh[1], n: sh[2], k: sh[3], alpha: ab[0], beta: ab[1], pad: ti}
					batch := sh[0]
					ops := make([]gemmOperands, batch)
					var a, b, c []float32
					for i := range ops {
						ops[i] = newGemmOperands(rng, tc)
					}
					// Each product lives at a stride a little past its end.
					sa, sb, sc := len(ops[0].a)+5, len(ops[0].b)+2, len(ops[0].c)+7
					a = make([]float32, sa*batch)
					b = make([]float32, sb*batch)
					c = make([]float32, sc*batch)
					for i, o := range ops {
						copy(a[i*sa:], o.a)
						copy(b[i*sb:], o.b)
						copy(c[i*sc:], o.c)
					}
					o0 := ops[0]
					SgemmBatched(batch, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, o0.lda, sa, b, o0.ldb, sb, tc.beta, c, o0.ldc, sc)
					for i, o := range ops {
						checkGemm(t, tc, o, c[i*sc:i*sc+len(o.c)])
					}
				}
			}
		}
	}
	// The impls agree with each other on a batch too.
	require.Panics(t, func() {
		SgemmBatched(2, false, false, 2, 2, 2, 1, make([]float32, 7), 2, 4, make([]float32, 8), 2, 4, 0, make([]float32, 8), 2, 4)
	})
	SgemmBatched(0, false, false, 2, 2, 2, 1, nil, 2, 4, nil, 2, 4, 0, nil, 2, 4)
}

func benchGemm(b *testing.B, g *gemmImpl, threads, m, n, k int) {
	a := make([]float32, m*k)
	bb := make([]float32, k*n)
	c := make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%7) * 0.1
	}
	for i := range bb {
		bb[i] = float32(i%5) * 0.1
	}
	b.ResetTimer()
	for b.Loop() {
		sgemmWith(g, threads, false, false, m, n, k, 1, a, k, bb, n, 0, c, n, Epilogue{})
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm(b *testing.B) {
	for _, g := range gemmImpls {
		for _, size := range []int{256, 512, 1024} {
			if g == gemmGeneric && size > 512 {
				continue
			}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%d/threads=%d", g.name, size, threads), func(b *testing.B) {
					benchGemm(b, g, threads, size, size, size)
				})
			}
		}
	}
}

func BenchmarkSgemmBatched(b *testing.B) {
	for _, sh := range [][4]int{{3 * 128, 65, 65, 32}, {3 * 32, 197, 197, 64}} {
		batch, m, n, k := sh[0], sh[1], sh[2], sh[3]
		a := make([]float32, batch*m*k)
		bb := make([]float32, batch*k*n)
		c := make([]float32, batch*m*n)
		b.Run(fmt.Sprintf("%dx%dx%dx%d", batch, m, n, k), func(b *testing.B) {
			for b.Loop() {
				SgemmBatched(batch, false, true, m, n, k, 1, a, k, m*k, bb, k, k*n, 0, c, n, m*n)
			}
			b.ReportMetric(2*float64(batch*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmKernel times the micro-kernels alone on packed slivers that
// stay in cache: the ceiling for the whole product.
func BenchmarkSgemmKernel(b *testing.B) {
	for _, g := range gemmImpls {
		kc := g.kc
		ap := make([]float32, kc*g.mr)
		bp := make([]float32, kc*g.nr*8)
		c := make([]float32, g.mr*g.nr*8)
		b.Run(g.name, func(b *testing.B) {
			for b.Loop() {
				for t := 0; t < 8; t++ {
					g.kern(kc, ap, bp[t*kc*g.nr:], c[t*g.nr:], 8*g.nr, 1, 1)
				}
			}
			b.ReportMetric(16*float64(g.mr*g.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
