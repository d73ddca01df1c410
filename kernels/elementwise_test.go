package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSgemmEpilogue checks the fused epilogues (bias, residual, GELU,
// GELU′) on every SGEMM implementation, with tiny cache blocks too so that
// a tile passes through several k blocks and must get its epilogue after the
// last one only, one and three threads, both transposes, at odd sizes, C
// poisoned with NaN: bit for bit against the product followed by separate
// passes, and against a float64 reference.
func TestSgemmEpilogue(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := [][3]int{{1, 1, 1}, {7, 17, 33}, {13, 33, 5}, {33, 3, 65}, {65, 65, 17}, {12, 32, 8}, {25, 70, 130}, {29, 40, 0}}
	for _, g := range testImpls() {
		for _, threads := range []int{1, 3} {
			for _, sh := range shapes {
				for v := 0; v < 16; v++ {
					tc := gemmCase{transA: v&1 != 0, transB: v&2 != 0, m: sh[0], n: sh[1], k: sh[2], alpha: 1, pad: 3}
					o := newGemmOperands(rng, tc)
					var epi Epilogue
					if v&4 != 0 || tc.k == 0 {
						epi.Bias = randSlice(rng, tc.n, 1)
					}
					if v&8 != 0 {
						epi.LdR = tc.n + 1
						epi.Residual = randMat(rng, tc.m, tc.n, epi.LdR)
					}
					switch v % 3 {
					case 1:
						epi.GELU = true
					case 2:
						epi.LdH = tc.n + 2
						epi.H = randMat(rng, tc.m, tc.n, epi.LdH)
					}
					name := fmt.Sprintf("%s/t%d/%v/bias=%v,res=%v,gelu=%v,h=%v", g.name, threads, tc, epi.Bias != nil, epi.Residual != nil, epi.GELU, epi.H != nil)
					got := append([]float32(nil), o.c...)
					sgemmWith(g, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, o.a, o.lda, o.b, o.ldb, 0, got, o.ldc, epi)

					want := append([]float32(nil), o.c...)
					sgemmWith(g, threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, o.a, o.lda, o.b, o.ldb, 0, want, o.ldc, Epilogue{})
					for i := 0; i < tc.m; i++ {
						row := want[i*o.ldc : i*o.ldc+tc.n]
						if epi.Bias != nil {
							for j := range row {
								row[j] += epi.Bias[j]
							}
						}
						if epi.Residual != nil {
							for j := range row {
								row[j] += epi.Residual[i*epi.LdR+j]
							}
						}
						if epi.GELU {
							GeluForward(row, row)
						}
						if epi.H != nil {
							GeluBackward(row, epi.H[i*epi.LdH:i*epi.LdH+tc.n], row)
						}
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							require.Failf(t, "fused epilogue differs", "%s: C[%d] = %g, separate passes give %g", name, i, got[i], want[i])
						}
					}
					checkEpilogue(t, name, tc, o, epi, got)
				}
			}
		}
	}
}

// checkEpilogue compares out with op(A)·op(B) and epi computed in float64
// from the operands o.
func checkEpilogue(t *testing.T, name string, tc gemmCase, o gemmOperands, epi Epilogue, out []float32) {
	t.Helper()
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var s, abs float64
			for p := 0; p < tc.k; p++ {
				ai, bi := i*o.lda+p, p*o.ldb+j
				if tc.transA {
					ai = p*o.lda + i
				}
				if tc.transB {
					bi = j*o.ldb + p
				}
				v := float64(o.a[ai]) * float64(o.b[bi])
				s += v
				abs += math.Abs(v)
			}
			if epi.Bias != nil {
				s += float64(epi.Bias[j])
				abs += math.Abs(float64(epi.Bias[j]))
			}
			if epi.Residual != nil {
				v := float64(epi.Residual[i*epi.LdR+j])
				s += v
				abs += math.Abs(v)
			}
			tol := 2*float64(tc.k+5)*0x1p-24*abs + 1e-30
			if epi.GELU {
				s = 0.5 * s * (1 + math.Erf(s/math.Sqrt2))
				tol = 1.2*tol + 2e-7*max(1, math.Abs(s)) + 1e-6*math.Abs(s)
			}
			if epi.H != nil {
				h := float64(epi.H[i*epi.LdH+j])
				d := 0.5*(1+math.Erf(h/math.Sqrt2)) + h*math.Exp(-h*h/2)/math.Sqrt(2*math.Pi)
				s *= d
				tol = 1.2*tol + 3e-7*max(1, math.Abs(s)) + 2e-6*math.Abs(s)
			}
			got := float64(out[i*o.ldc+j])
			if !(math.Abs(got-s) <= tol) {
				require.Failf(t, "wrong value", "%s: C[%d][%d] = %g, want %g (tol %g)", name, i, j, got, s, tol)
			}
		}
		for j := tc.n; j < o.ldc && i < tc.m-1; j++ {
			require.Equal(t, o.c[i*o.ldc+j], out[i*o.ldc+j], "%s: padding C[%d][%d] written", name, i, j)
		}
	}
}

func TestSgemmEpilogueChecksOperands(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	require.PanicsWithValue(t, "kernels.SgemmEpilogue: bias has 1 elements, C has 2 columns", func() {
		SgemmEpilogue(false, false, 2, 2, 3, a, 3, b, 2, c, 2, Epilogue{Bias: []float32{1}})
	})
	require.PanicsWithValue(t, "kernels.SgemmEpilogue: the residual has 3 elements with stride 2, C is 2×2", func() {
		SgemmEpilogue(false, false, 2, 2, 3, a, 3, b, 2, c, 2, Epilogue{Residual: make([]float32, 3), LdR: 2})
	})
	require.PanicsWithValue(t, "kernels.SgemmEpilogue: H has 4 elements with stride 1, C is 2×2", func() {
		SgemmEpilogue(false, false, 2, 2, 3, a, 3, b, 2, c, 2, Epilogue{H: make([]float32, 4), LdH: 1})
	})
}

// TestAxpy checks Axpy bit for bit against the plain loop, product and
// sum each rounded, at lengths around the vector width.
func TestAxpy(t *testing.T) {
	paths(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 64, 1000, 1 << 17} {
			r := rand.New(rand.NewPCG(uint64(n), 3))
			x, y := randSlice(r, n, 1), randSlice(r, n, 1)
			a := float32(r.NormFloat64())
			want := append([]float32(nil), y...)
			for i, v := range x {
				want[i] += float32(a * v)
			}
			Axpy(y, a, x)
			for i := range want {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
					require.Failf(t, "wrong value", "axpy n=%d: y[%d] = %g, want %g", n, i, y[i], want[i])
				}
			}
		}
	})
	require.Panics(t, func() { Axpy(make([]float32, 3), 1, make([]float32, 4)) })
}

// TestSumRows checks SumRows bit for bit against a plain float64 loop over
// the rows, at one to three threads, with beta 0 (dst poisoned) and not.
// Its columns cancel to sums far smaller than their terms, as a bias's
// gradient does, where float32 partial sums would be off.
func TestSumRows(t *testing.T) {
	defer SetThreads(int(maxThreads.Load()))
	paths(t, func(t *testing.T) {
		for _, sh := range [][2]int{{1, 1}, {3, 7}, {64, 8}, {65, 9}, {200, 33}, {130, 257}, {1000, 300}, {6400, 128}, {0, 5}} {
			rows, cols := sh[0], sh[1]
			r := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
			src := randSlice(r, rows*cols, 100)
			for _, beta := range []float64{0, 0.9} {
				prev := randSlice(r, cols, 1)
				want := make([]float32, cols)
				for j := range want {
					var s float64
					for i := 0; i < rows; i++ {
						s += float64(src[i*cols+j])
					}
					if beta != 0 {
						s = beta*float64(prev[j]) + s
					}
					want[j] = float32(s)
				}
				for _, threads := range []int{1, 2, 3} {
					SetThreads(threads)
					got := nanSlice(cols)
					if beta != 0 {
						copy(got, prev)
					}
					SumRows(got, src, rows, cols, beta)
					for j := range want {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
							require.Failf(t, "wrong sum", "%dx%d beta %g threads %d: column %d = %g, want %g", rows, cols, beta, threads, j, got[j], want[j])
						}
					}
				}
			}
		}
	})
	require.Panics(t, func() { SumRows(make([]float32, 2), make([]float32, 5), 2, 3, 0) })
}
