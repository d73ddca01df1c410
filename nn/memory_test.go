package nn

import (
	"testing"

	"github.com/mocogo/mocogo/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoGradForwardHoldsOneBlock checks that a ViT forward without a graph
// gives each block's activations back as it goes: its peak memory is far
// below the same forward while recording (which must keep them all for
// Backward), and its output is the same.
func TestNoGradForwardHoldsOneBlock(t *testing.T) {
	cfg := Config{ImageSize: 32, PatchSize: 4, Dim: 64, Depth: 8, Heads: 4}
	run := func(grad bool) ([]float32, int64) {
		cpu := engine.NewCPU(engine.F32)
		e := engine.New(cpu)
		v, err := NewViT(e, cfg, NewRNG(5))
		require.NoError(t, err)
		images := Uniform(NewRNG(6), 4*3*32*32, 1)
		base := cpu.PeakBytes()
		var out []float32
		if grad {
			v.ClsToken.SetRequiresGrad(true)
			x := e.FromFloat64(images, 4, 3, 32, 32)
			out = v.Forward(x).Data()
		} else {
			e.NoGrad(func() {
				x := e.FromFloat64(images, 4, 3, 32, 32)
				out = v.Forward(x).Data()
			})
		}
		return out, cpu.PeakBytes() - base
	}
	withGraph, graphPeak := run(true)
	without, peak := run(false)
	assert.Equal(t, withGraph, without)
	t.Logf("activation peak: %d KiB recording, %d KiB without", graphPeak>>10, peak>>10)
	assert.Less(t, peak, graphPeak/3, "a no-grad forward of 8 blocks should hold about one")
}
