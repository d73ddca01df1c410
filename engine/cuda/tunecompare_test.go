package cuda

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTuneCompare: the rule GemmTune accepts a candidate's result by.
func TestTuneCompare(t *testing.T) {
	want := []float64{1, -2, 3, 0, 5}
	assert.Empty(t, tuneCompare([]float64{1, -2, 3.001, 0, 5}, want), "fp16 rounding")
	assert.Contains(t, tuneCompare([]float64{1, -2, 3, 0, 0}, want), "relative L2", "a lost tile")
	assert.Contains(t, tuneCompare([]float64{1, -2, 3, math.NaN(), 5}, want), "value 3", "a NaN")
	assert.Contains(t, tuneCompare([]float64{1, math.Inf(1), 3, 0, 5}, want), "value 1", "an Inf")
	assert.Empty(t, tuneCompare([]float64{1, 7, 3, 0, 5}, []float64{1, math.NaN(), 3, 0, 5}), "where the reference is not finite, anything")
}
