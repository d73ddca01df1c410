package engine

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostOnly hides the CPU backend's SumSquares to test the fallback.
type hostOnly struct{ Backend }

func TestSumSquares(t *testing.T) {
	for _, b := range []Backend{NewCPU(F32), NewCPU(F64), hostOnly{NewCPU(F32)}} {
		e := New(b)
		x := e.FromFloat64([]float64{1, -2, 3, 0.5, -0.25}, 5)
		y := e.FromFloat64([]float64{4, 4}, 2)
		acc := e.Zeros(1).Keep()
		SumSquares(acc, x, false)
		assert.InDelta(t, 14.3125, acc.Item(), 1e-6, b.Name())
		SumSquares(acc, y, true)
		assert.InDelta(t, 46.3125, acc.Item(), 1e-5, b.Name())
		SumSquares(acc, y, false)
		assert.InDelta(t, 32, acc.Item(), 1e-6, b.Name())
		x.SetFloat64s([]float64{1, math.NaN(), 0, 0, 0})
		SumSquares(acc, x, true)
		require.True(t, math.IsNaN(acc.Item()), b.Name())
	}
	assert.Panics(t, func() {
		e := New(NewCPU(F32))
		SumSquares(e.Zeros(2), e.Zeros(3), false)
	})
}

// TestSumSquaresAll: the sum over a list (by SumSquares per tensor on the
// CPU, which has no SquareSummerAll), accumulated, and over an empty list.
func TestSumSquaresAll(t *testing.T) {
	for _, b := range []Backend{NewCPU(F32), hostOnly{NewCPU(F64)}} {
		e := New(b)
		x := e.FromFloat64([]float64{1, -2, 3, 0.5, -0.25}, 5)
		y := e.FromFloat64([]float64{4, 4}, 2)
		acc := e.Zeros(1).Keep()
		SumSquaresAll(acc, []*Tensor{x, y}, false)
		assert.InDelta(t, 46.3125, acc.Item(), 1e-5, b.Name())
		SumSquaresAll(acc, []*Tensor{y}, true)
		assert.InDelta(t, 78.3125, acc.Item(), 1e-5, b.Name())
		SumSquaresAll(acc, nil, true)
		assert.InDelta(t, 78.3125, acc.Item(), 1e-5, b.Name())
		SumSquaresAll(acc, nil, false)
		assert.Equal(t, 0.0, acc.Item(), b.Name())
	}
	assert.Panics(t, func() {
		e := New(NewCPU(F32))
		SumSquaresAll(e.Zeros(2), nil, false)
	})
}
