package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// paths runs fn once on the generic Go path and, where the CPU has it, once
// on the AVX2 path.
func paths(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	useAVX2 = false
	t.Run("generic", fn)
	if haveAVX2Asm && saved {
		useAVX2 = true
		t.Run("avx2", fn)
	}
}

func nanSlice(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * scale)
	}
	return s
}

// sweep returns a dense set of float32 values over [lo, hi] plus edges.
func sweep(lo, hi float32, n int) []float32 {
	xs := make([]float32, 0, n+32)
	for i := 0; i < n; i++ {
		xs = append(xs, lo+(hi-lo)*float32(i)/float32(n-1))
	}
	inf := float32(math.Inf(1))
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-8, -1e-8,
		math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, inf, -inf,
		88.72, 88.73, 88.7228, -87.33, -87.34, -100, -103.9, -104, -110, 0.5, -0.5, 0.49999997, 0.50000006, 3.9, -3.9, 10, -10, 11, 20)
	return xs
}

func TestExpAccuracy(t *testing.T) {
	xs := sweep(-110, 90, 400001)
	paths(t, func(t *testing.T) {
		got := nanSlice(len(xs))
		Exp(got, xs)
		var maxRel float64
		for i, x := range xs {
			want := math.Exp(float64(x))
			g := float64(got[i])
			if math.IsInf(want, 0) || want > math.MaxFloat32*(1+3e-8) {
				require.True(t, math.IsInf(g, 1), "exp(%g) = %g, want +Inf", x, g)
				continue
			}
			if x < -87 { // flushed: never a subnormal
				require.Zero(t, g, "exp(%g)", x)
				continue
			}
			rel := math.Abs(g-want) / want
			maxRel = max(maxRel, rel)
		}
		t.Logf("exp max rel error %.3g", maxRel)
		require.Less(t, maxRel, 4e-7)
		nan := []float32{float32(math.NaN())}
		Exp(nan, nan)
		require.True(t, math.IsNaN(float64(nan[0])))
	})
}

func TestErfAccuracy(t *testing.T) {
	xs := sweep(-12, 12, 400001)
	paths(t, func(t *testing.T) {
		got := nanSlice(len(xs))
		Erf(got, xs)
		var maxAbs, maxRelSmall float64
		for i, x := range xs {
			want := math.Erf(float64(x))
			g := float64(got[i])
			maxAbs = max(maxAbs, math.Abs(g-want))
			if math.Abs(float64(x)) > 1e-37 && math.Abs(float64(x)) < 0.5 {
				maxRelSmall = max(maxRelSmall, math.Abs(g-want)/math.Abs(want))
			}
		}
		t.Logf("erf max abs error %.3g, max rel error for |x|<0.5 %.3g", maxAbs, maxRelSmall)
		require.Less(t, maxAbs, 3e-7)
		require.Less(t, maxRelSmall, 3e-7)
		negZero := []float32{float32(math.Copysign(0, -1))}
		Erf(negZero, negZero)
		require.True(t, math.Signbit(float64(negZero[0])), "erf(-0) keeps its sign")
		nan := []float32{float32(math.NaN())}
		Erf(nan, nan)
		require.True(t, math.IsNaN(float64(nan[0])))
	})
}

func TestExpErfOddLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	paths(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 3, 7, 8, 9, 17, 192, 385} {
			x := randSlice(r, n, 3)
			e, f := nanSlice(n), nanSlice(n)
			Exp(e, x)
			Erf(f, x)
			for i, v := range x {
				require.InEpsilon(t, math.Exp(float64(v)), float64(e[i]), 4e-7)
				require.InDelta(t, math.Erf(float64(v)), float64(f[i]), 3e-7)
			}
		}
	})
}
