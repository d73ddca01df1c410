package moco

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/nn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAutocastTrainingTracksFloat32 trains the same small MoCo v3 model
// from the same seed and views in float32 and under autocast (f16 and
// bf16, emulated on the CPU): the losses must track within 2% relative at
// every step, and the half run must hold less memory at its peak.
func TestAutocastTrainingTracksFloat32(t *testing.T) {
	const (
		batch = 16
		size  = 32
		steps = 25
	)
	cfg := Config{
		ViT:         nn.Config{ImageSize: size, PatchSize: 8, Dim: 64, Depth: 2, Heads: 2, MLPRatio: 2},
		MLPDim:      128,
		OutDim:      32,
		Temperature: 0.2,
	}
	tc := DefaultTrainConfig(1, batch)
	tc.BaseLR = 1.5e-4 * 256 / float64(batch)
	tc.WarmupEpochs = 0.1
	for _, half := range []engine.DType{engine.F16, engine.BF16} {
		t.Run(half.String(), func(t *testing.T) {
			cpus := []*engine.CPU{engine.NewCPU(engine.F32), engine.NewCPU(engine.F32)}
			trainers := make([]*Trainer, 2)
			for i, cpu := range cpus {
				e := engine.New(cpu)
				if i == 1 {
					require.NoError(t, e.SetAutocast(half))
				}
				m, err := New(e, cfg, nn.NewRNG(7))
				require.NoError(t, err)
				trainers[i], err = NewTrainer(e, m, tc, steps)
				require.NoError(t, err)
			}
			r := rand.New(rand.NewPCG(11, 12))
			n := batch * 3 * size * size
			v1, v2 := make([]float32, n), make([]float32, n)
			worst := 0.0
			for s := range steps {
				fillViews(r, v1, v2, batch)
				epoch := float64(s) / steps
				full, err := trainers[0].TrainStep(v1, v2, batch, size, epoch)
				require.NoError(t, err)
				amp, err := trainers[1].TrainStep(v1, v2, batch, size, epoch)
				require.NoError(t, err, "step %d under autocast", s)
				rel := math.Abs(amp.Loss-full.Loss) / math.Abs(full.Loss)
				worst = max(worst, rel)
				require.Less(t, rel, 0.02, "step %d: loss %v under autocast, %v in float32", s, amp.Loss, full.Loss)
			}
			t.Logf("worst relative loss difference over %d steps: %.3g; peak %d KiB float32, %d KiB %s", steps, worst, cpus[0].PeakBytes()>>10, cpus[1].PeakBytes()>>10, half)
			assert.Greater(t, worst, 0.0, "autocast changed nothing: is it on?")
			assert.Less(t, cpus[1].PeakBytes(), cpus[0].PeakBytes())
		})
	}
}

// fillViews draws views whose channels have their own offset and contrast
// per image, so that features differ across the batch as they do for real
// images (white noise alone makes every image's features nearly equal, and
// BatchNorm then divides rounding noise by a tiny spread).
func fillViews(r *rand.Rand, v1, v2 []float32, batch int) {
	per := len(v1) / batch / 3
	for _, v := range [][]float32{v1, v2} {
		for i := range batch {
			for c := range 3 {
				off, sc := r.NormFloat64(), 0.2+r.Float64()
				for j := range per {
					v[(i*3+c)*per+j] = float32(off + sc*r.NormFloat64())
				}
			}
		}
	}
}
