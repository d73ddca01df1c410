package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	testCols = []int{1, 3, 7, 8, 9, 17, 192, 384, 385}
	testRows = []int{1, 5, 33}
)

// requireClose checks |got−want| <= atol + rtol·|want| element by element,
// with atol scaled by the largest |want|.
func requireClose(t *testing.T, want, got []float32, atol, rtol float64, what string) {
	t.Helper()
	require.Equal(t, len(want), len(got), what)
	var scale float64
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		if math.IsNaN(w) {
			require.True(t, math.IsNaN(g), "%s[%d]: got %g, want NaN", what, i, g)
			continue
		}
		if math.IsInf(w, 0) {
			require.Equal(t, w, g, "%s[%d]", what, i)
			continue
		}
		if math.Abs(g-w) > atol*max(scale, 1)+rtol*math.Abs(w) || math.IsNaN(g) {
			require.Failf(t, "mismatch", "%s[%d]: got %g, want %g (|diff| %.3g, scale %.3g)", what, i, g, w, math.Abs(g-w), scale)
		}
	}
}

// forShapes runs fn over the odd test shapes with a fresh generator each.
func forShapes(t *testing.T, fn func(t *testing.T, r *rand.Rand, rows, cols int)) {
	for _, rows := range testRows {
		for _, cols := range testCols {
			r := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
			fn(t, r, rows, cols)
		}
	}
	// Large enough to split over goroutines, with more workers than cores.
	defer SetThreads(int(maxThreads.Load()))
	SetThreads(3)
	fn(t, rand.New(rand.NewPCG(7, 7)), 301, 385)
}

func TestGeluFast(t *testing.T) {
	paths(t, func(t *testing.T) {
		forShapes(t, func(t *testing.T, r *rand.Rand, rows, cols int) {
			n := rows * cols
			x := randSlice(r, n, 3)
			dy := randSlice(r, n, 1)
			want, got := make([]float32, n), nanSlice(n)
			geluForwardRef(want, x)
			GeluForward(got, x)
			requireClose(t, want, got, 2e-7, 1e-6, fmt.Sprintf("gelu %dx%d", rows, cols))
			geluBackwardRef(want, x, dy)
			got = nanSlice(n)
			GeluBackward(got, x, dy)
			requireClose(t, want, got, 3e-7, 2e-6, fmt.Sprintf("gelu' %dx%d", rows, cols))
		})
		// A dense sweep, edges included (±Inf and NaN follow the reference).
		x := sweep(-30, 30, 100001)
		dy := make([]float32, len(x))
		for i := range dy {
			dy[i] = 1
		}
		want, got := make([]float32, len(x)), nanSlice(len(x))
		geluForwardRef(want, x)
		GeluForward(got, x)
		requireClose(t, want[:100001], got[:100001], 2e-8, 1e-6, "gelu sweep")
		geluBackwardRef(want, x, dy)
		GeluBackward(got, x, dy)
		requireClose(t, want[:100001], got[:100001], 2e-7, 1e-6, "gelu' sweep")
	})
}

func TestLayerNormFast(t *testing.T) {
	paths(t, func(t *testing.T) {
		forShapes(t, func(t *testing.T, r *rand.Rand, rows, cols int) {
			n := rows * cols
			x := randSlice(r, n, 2)
			for i := range x { // a row offset, so the mean matters
				x[i] += float32(i/cols%3) - 1
			}
			for _, affine := range []bool{true, false} {
				var gamma, beta []float32
				if affine {
					gamma, beta = randSlice(r, cols, 1), randSlice(r, cols, 1)
				}
				what := fmt.Sprintf("layernorm %dx%d affine=%v", rows, cols, affine)
				want, wm, wr := make([]float32, n), make([]float32, rows), make([]float32, rows)
				got, gm, gr := nanSlice(n), nanSlice(rows), nanSlice(rows)
				layerNormForwardRef(want, x, gamma, beta, wm, wr, rows, cols, 1e-5)
				LayerNormForward(got, x, gamma, beta, gm, gr, rows, cols, 1e-5)
				requireClose(t, wm, gm, 1e-6, 1e-6, what+" mean")
				requireClose(t, wr, gr, 1e-6, 2e-6, what+" rstd")
				requireClose(t, want, got, 2e-6, 2e-6, what+" y")

				dy := randSlice(r, n, 1)
				dg0, db0 := randSlice(r, cols, 1), randSlice(r, cols, 1)
				wdx, gdx := make([]float32, n), nanSlice(n)
				wdg, wdb := append([]float32(nil), dg0...), append([]float32(nil), db0...)
				gdg, gdb := append([]float32(nil), dg0...), append([]float32(nil), db0...)
				layerNormBackwardRef(wdx, dy, x, gamma, wm, wr, wdg, wdb, rows, cols)
				LayerNormBackward(gdx, dy, x, gamma, wm, wr, gdg, gdb, rows, cols)
				requireClose(t, wdx, gdx, 3e-6, 3e-6, what+" dx")
				requireClose(t, wdg, gdg, 2e-6, 1e-5, what+" dgamma")
				requireClose(t, wdb, gdb, 2e-6, 1e-5, what+" dbeta")
				// nil dgamma/dbeta: dx alone.
				gdx = nanSlice(n)
				LayerNormBackward(gdx, dy, x, gamma, wm, wr, nil, nil, rows, cols)
				requireClose(t, wdx, gdx, 3e-6, 3e-6, what+" dx (nil grads)")
			}
		})
	})
}

func TestSoftmaxFast(t *testing.T) {
	paths(t, func(t *testing.T) {
		forShapes(t, func(t *testing.T, r *rand.Rand, rows, cols int) {
			n := rows * cols
			x := randSlice(r, n, 4)
			if n > 2 {
				x[1] = float32(math.Inf(-1)) // a masked entry
			}
			what := fmt.Sprintf("softmax %dx%d", rows, cols)
			want, got := make([]float32, n), nanSlice(n)
			softmaxForwardRef(want, x, rows, cols)
			SoftmaxForward(got, x, rows, cols)
			requireClose(t, want, got, 1e-7, 2e-6, what)
			dy := randSlice(r, n, 1)
			wdx, gdx := make([]float32, n), nanSlice(n)
			softmaxBackwardRef(wdx, want, dy, rows, cols)
			SoftmaxBackward(gdx, want, dy, rows, cols)
			requireClose(t, wdx, gdx, 1e-6, 1e-5, what+" backward")
		})
	})
}
