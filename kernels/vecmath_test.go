package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// paths runs fn once on the generic Go path and, where the CPU has them,
// once on the AVX2 path and once with the AVX-512 loops too.
func paths(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	saved, saved512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512 = saved, saved512 }()
	useAVX2 = false
	t.Run("generic", fn)
	if haveAVX2Asm && saved {
		useAVX2, useAVX512 = true, false
		t.Run("avx2", fn)
	}
	if haveAVX2Asm && saved && saved512 {
		useAVX2, useAVX512 = true, true
		t.Run("avx512", fn)
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

// TestGeluAVX512SameBits checks that the AVX-512 GELU loops give the AVX2
// loops' results bit for bit (NaNs included), at every length around their
// 32-element steps, in place too, on random values and a dense sweep with
// the edges: switching a machine to them must not move a training run.
func TestGeluAVX512SameBits(t *testing.T) {
	if !haveAVX2Asm || !useAVX2 || !useAVX512 {
		t.Skip("this CPU has no AVX-512 (AVX512F and AVX512DQ)")
	}
	defer func() { useAVX512 = true }()
	r := rand.New(rand.NewPCG(5, 12))
	sameBits := func(what string, want, got []float32) {
		t.Helper()
		for i := range want {
			w, g := want[i], got[i]
			if math.Float32bits(w) != math.Float32bits(g) {
				t.Fatalf("%s: element %d: AVX2 gives %g (%#08x), AVX-512 %g (%#08x)",
					what, i, w, math.Float32bits(w), g, math.Float32bits(g))
			}
		}
	}
	// NaNs of both signs and several payloads, quiet and signalling: the
	// result must carry the same NaN bits too.
	nans := []float32{math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00000),
		math.Float32frombits(0x7fa00001), math.Float32frombits(0xff800123), math.Float32frombits(0x7fc0beef)}
	inputs := [][]float32{append(sweep(-30, 30, 100001), nans...)}
	for _, n := range []int{1, 7, 31, 32, 33, 63, 64, 65, 95, 200, 1000} {
		inputs = append(inputs, randSlice(r, n, 4))
	}
	for _, x := range inputs {
		n := len(x)
		dy := randSlice(r, n, 1)
		what := fmt.Sprintf("n=%d", n)
		run := func(wide bool) (fwd, bwd, fwdInPlace []float32) {
			useAVX512 = wide
			fwd, bwd = nanSlice(n), nanSlice(n)
			geluFwdVec(fwd, x)
			geluBwdVec(bwd, x, dy)
			fwdInPlace = append([]float32(nil), x...)
			geluFwdVec(fwdInPlace, fwdInPlace)
			return fwd, bwd, fwdInPlace
		}
		f2, b2, p2 := run(false)
		f5, b5, p5 := run(true)
		sameBits("gelu "+what, f2, f5)
		sameBits("gelu' "+what, b2, b5)
		sameBits("gelu in place "+what, p2, p5)
	}
}

// TestExpShiftSumAVX512SameBits checks that the AVX-512 exponentials of
// the softmax rows give the AVX2 loop's values and sum bit for bit, at
// every length around the 32-element step, with −Inf (masked scores) and
// NaN among the inputs.
func TestExpShiftSumAVX512SameBits(t *testing.T) {
	if !haveAVX2Asm || !useAVX2 || !useAVX512 {
		t.Skip("this CPU has no AVX-512 (AVX512F and AVX512DQ)")
	}
	defer func() { useAVX512 = true }()
	r := rand.New(rand.NewPCG(4, 4))
	for n := 0; n <= 200; n++ {
		x := randSlice(r, n, 3)
		if n > 5 {
			x[3] = float32(math.Inf(-1))
		}
		if n == 77 {
			x[40] = float32(math.NaN())
		}
		shift := float32(2.5)
		run := func(wide bool) ([]float32, float32) {
			useAVX512 = wide
			y := nanSlice(n)
			return y, rowExpShiftSum(y, x, shift)
		}
		y2, s2 := run(false)
		y5, s5 := run(true)
		if math.Float32bits(s2) != math.Float32bits(s5) {
			t.Fatalf("n=%d: sum %g (AVX2) against %g (AVX-512)", n, s2, s5)
		}
		for i := range y2 {
			if math.Float32bits(y2[i]) != math.Float32bits(y5[i]) {
				t.Fatalf("n=%d: element %d: %g (AVX2) against %g (AVX-512)", n, i, y2[i], y5[i])
			}
		}
	}
}
