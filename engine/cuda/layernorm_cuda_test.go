//go:build cuda

package cuda

import (
	"fmt"
	"testing"

	"github.com/mocogo/mocogo/kernels"
)

func f64(x []float32) []float64 {
	o := make([]float64, len(x))
	for i, v := range x {
		o[i] = float64(v)
	}
	return o
}

func checkClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	rel, bad := errStats(got, f64(want))
	if bad > 0 || !(rel < tol) {
		t.Errorf("%s: rel err %.3g (limit %g), non-finite %d", what, rel, tol, bad)
	} else {
		t.Logf("%s: rel err %.3g", what, rel)
	}
}

func TestLayerNorm(t *testing.T) {
	type lnCase struct {
		rows, cols int
		affine     bool
	}
	cases := []lnCase{
		{1, 4, true}, {7, 132, true}, {1000, 192, true}, {1000, 384, false}, {257, 640, true},
		{1000, 768, true}, {33, 1000, true}, {100, 1024, true}, {256 * 197, 384, true}, {256 * 197, 768, true},
	}
	for _, c := range cases {
		if testing.Short() && c.rows > 1000 {
			continue
		}
		t.Run(fmt.Sprintf("%dx%d_affine%v", c.rows, c.cols, c.affine), func(t *testing.T) {
			r := newRand(t)
			n := c.rows * c.cols
			x := randF32(r, n, 3)
			for i := range x { // a per-row offset makes the mean matter
				x[i] += float32(i/c.cols%17) - 8
			}
			dy := randF32(r, n, 1)
			var gamma, beta []float32
			var dgamma, dbeta *Buffer
			var dg0, db0 []float32
			if c.affine {
				gamma, beta = randF32(r, c.cols, 1), randF32(r, c.cols, 1)
				dg0, db0 = randF32(r, c.cols, 1), randF32(r, c.cols, 1)
				dgamma, dbeta = upload32(t, dg0), upload32(t, db0)
			}
			const eps = 1e-6
			y, mean, rstd := make([]float32, n), make([]float32, c.rows), make([]float32, c.rows)
			kernels.LayerNormForward(y, x, gamma, beta, mean, rstd, c.rows, c.cols, eps)
			dx := make([]float32, n)
			dgW, dbW := append([]float32(nil), dg0...), append([]float32(nil), db0...)
			if !c.affine {
				dgW, dbW = nil, nil
			}
			kernels.LayerNormBackward(dx, dy, x, gamma, mean, rstd, dgW, dbW, c.rows, c.cols)

			dX, dDY := upload32(t, x), upload32(t, dy)
			var dGamma, dBeta *Buffer
			if c.affine {
				dGamma, dBeta = upload32(t, gamma), upload32(t, beta)
			}
			dY, dMean, dRstd, dDX := mustAlloc(t, 4*int64(n)), mustAlloc(t, 4*int64(c.rows)), mustAlloc(t, 4*int64(c.rows)), mustAlloc(t, 4*int64(n))
			for _, b := range []*Buffer{dY, dMean, dRstd, dDX} {
				must(t, b.PoisonF32())
			}
			must(t, dev.LayerNormForward(dY, dX, dGamma, dBeta, dMean, dRstd, c.rows, c.cols, eps))
			// Backward from the CPU's statistics, so both passes are checked
			// on their own.
			cMean, cRstd := upload32(t, mean), upload32(t, rstd)
			must(t, dev.LayerNormBackward(dDX, dDY, dX, dGamma, cMean, cRstd, dgamma, dbeta, c.rows, c.cols))
			must(t, dev.Synchronize())
			checkClose(t, "y", download32(t, dY, n), y, 1e-4)
			checkClose(t, "mean", download32(t, dMean, c.rows), mean, 1e-4)
			checkClose(t, "rstd", download32(t, dRstd, c.rows), rstd, 1e-4)
			checkClose(t, "dx", download32(t, dDX, n), dx, 1e-4)
			if c.affine {
				checkClose(t, "dgamma", download32(t, dgamma, c.cols), dgW, 1e-4)
				checkClose(t, "dbeta", download32(t, dbeta, c.cols), dbW, 1e-4)
			}
		})
	}
}

func TestAllocatorReuse(t *testing.T) {
	s0 := dev.MemStats()
	a, err := dev.Alloc(1000)
	must(t, err)
	p := a.Ptr()
	a.Free()
	b, err := dev.Alloc(900) // same 1024-byte class
	must(t, err)
	if b.Ptr() != p {
		t.Errorf("freed block not reused: %#x then %#x", p, b.Ptr())
	}
	s1 := dev.MemStats()
	if s1.Hits != s0.Hits+1 || s1.InUse != s0.InUse+1024 {
		t.Errorf("stats %+v after %+v", s1, s0)
	}
	b.Free()
	if s2 := dev.MemStats(); s2.InUse != s0.InUse || s2.Peak < s0.InUse+1024 {
		t.Errorf("stats %+v", s2)
	}
}
