package moco

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/nn"
)

// TestStepMatchesPyTorch loads the weights of scripts/golden/moco.py's
// model (the official MoCo_ViT on a small ViT) and checks the loss, every
// gradient, the momentum encoder after the EMA and the BN running
// statistics after the forward against PyTorch.
func TestStepMatchesPyTorch(t *testing.T) {
	f, get := readGolden(t, "moco_step.safetensors")
	weights := withPrefix(f, "w.")
	for _, tc := range []struct {
		dt  engine.DType
		tol float64
	}{{engine.F64, 1e-10}, {engine.F32, 1e-4}} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			e := engine.New(engine.NewCPU(tc.dt))
			cfg := Config{ViT: nn.Config{ImageSize: 32, PatchSize: 8, Dim: 48, Depth: 2, Heads: 3}, MLPDim: 64, OutDim: 32, Temperature: 0.2}
			m, err := New(e, cfg, nn.NewRNG(1))
			require.NoError(t, err)
			_, err = weights.LoadInto(m.StateDict(), true)
			require.NoError(t, err)

			x1 := e.FromFloat64(get("x1"), 6, 3, 32, 32)
			x2 := e.FromFloat64(get("x2"), 6, 3, 32, 32)
			loss := m.Loss(x1, x2, get("m")[0])
			e.Backward(loss)
			require.InDelta(t, get("loss")[0], loss.Item(), tc.tol*10)

			checked := 0
			for _, p := range m.Parameters() {
				if !p.Tensor.RequiresGrad() {
					require.Nil(t, p.Tensor.Grad(), "%s is frozen", p.Name)
					continue
				}
				require.NotNil(t, p.Tensor.Grad(), "no gradient for %s", p.Name)
				// The final norm's bias and the projector's first BN bias
				// shift every sample alike, which the next BN removes:
				// their true gradient is zero, hence an absolute floor.
				require.Less(t, relErrFloor(p.Tensor.Grad().Float64s(), get("grad."+p.Name), tc.tol*1e-2), tc.tol, "gradient of %s", p.Name)
				checked++
			}
			require.Equal(t, len(f.Tensors)-len(weights.Tensors)-4-countPrefix(f, "after."), checked, "every gradient in the file was compared")
			for _, p := range m.StateDict() {
				if want, ok := f.Get("after." + p.Name); ok {
					w, _ := want.Float64s()
					// The predictor's first BN sees zero-mean input (the
					// projector ends in BN, its Linear has no bias): its
					// running mean stays zero, hence the floor.
					require.Less(t, relErrFloor(p.Tensor.Float64s(), w, tc.tol*1e-2), tc.tol, "%s after the step", p.Name)
				}
			}
		})
	}
}

func countPrefix(f *nn.SafeFile, p string) int {
	n := 0
	for _, t := range f.Tensors {
		if strings.HasPrefix(t.Name, p) {
			n++
		}
	}
	return n
}

// relErrFloor is ‖got−want‖/‖want‖ after forgiving floor per element.
func relErrFloor(got, want []float64, floor float64) float64 {
	var d, n float64
	for i := range want {
		if math.IsNaN(got[i]) {
			return math.Inf(1)
		}
		d += (got[i] - want[i]) * (got[i] - want[i])
		n += want[i] * want[i]
	}
	return math.Max(math.Sqrt(d)-floor*math.Sqrt(float64(len(want))), 0) / math.Max(math.Sqrt(n), 1e-300)
}
