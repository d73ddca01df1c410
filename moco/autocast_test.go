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
	const steps = 25
	cfg, tc := trackingSetup(1.5e-4)
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
			n := trackBatch * 3 * trackSize * trackSize
			v1, v2 := make([]float32, n), make([]float32, n)
			worst := 0.0
			for s := range steps {
				fillViews(r, v1, v2, trackBatch)
				epoch := float64(s) / steps
				full, err := trainers[0].TrainStep(v1, v2, trackBatch, trackSize, epoch)
				require.NoError(t, err)
				amp, err := trainers[1].TrainStep(v1, v2, trackBatch, trackSize, epoch)
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

// TestAutocast200StepsTracksFloat32 is the CPU twin of the GPU's 200-step
// check (engine/cuda TestMoCoTrain200MatchesCPU), at its settings: fp16
// autocast (emulated) with dynamic loss scaling against float32, lr 2e-5,
// image-like views, the loss compared at every 10th step and the last. It
// also shows the check has power: a run that barely learns (lr 1e-12, as
// if the update were lost) must part from float32 by more than the bound.
func TestAutocast200StepsTracksFloat32(t *testing.T) {
	if testing.Short() {
		t.Skip("200 steps of two runs")
	}
	const (
		steps = 200
		bound = 0.01
	)
	cfg, tc := trackingSetup(2e-5)
	worst := map[string]float64{}
	for _, mode := range []string{"f16", "no-learning"} {
		var tr [2]*Trainer
		for i := range tr {
			e := engine.New(engine.NewCPU(engine.F32))
			rc := tc
			if i == 1 {
				switch mode {
				case "f16":
					require.NoError(t, e.SetAutocast(engine.F16))
					rc.LossScale = DynamicLossScale()
				case "no-learning":
					rc.BaseLR = 1e-12
				}
			}
			m, err := New(e, cfg, nn.NewRNG(7))
			require.NoError(t, err)
			tr[i], err = NewTrainer(e, m, rc, steps)
			require.NoError(t, err)
		}
		r := rand.New(rand.NewPCG(11, 12))
		n := trackBatch * 3 * trackSize * trackSize
		v1, v2 := make([]float32, n), make([]float32, n)
		for s := range steps {
			fillViews(r, v1, v2, trackBatch)
			epoch := float64(s) / steps
			ref, err := tr[0].TrainStep(v1, v2, trackBatch, trackSize, epoch)
			require.NoError(t, err)
			got, err := tr[1].TrainStep(v1, v2, trackBatch, trackSize, epoch)
			require.NoError(t, err)
			if s%10 == 0 || s == steps-1 {
				worst[mode] = max(worst[mode], math.Abs(got.Loss-ref.Loss)/math.Abs(ref.Loss))
			}
		}
	}
	t.Logf("worst relative loss difference at the checked steps: fp16 autocast %.4f, a run that does not learn %.4f (bound %g)", worst["f16"], worst["no-learning"], bound)
	assert.Less(t, worst["f16"], bound)
	assert.Greater(t, worst["no-learning"], bound, "the check cannot tell a run that does not learn")
}

// The tracking tests' model and batch: the small MoCo v3 of engine/cuda's
// GPU-against-CPU checks, so that the CPU results here predict those.
const (
	trackBatch = 16
	trackSize  = 32
)

// trackingSetup returns that model's config and a one-epoch recipe at
// learning rate lr (at batch 256, scaled to the batch as the recipe does).
func trackingSetup(lr float64) (Config, TrainConfig) {
	cfg := Config{
		ViT:         nn.Config{ImageSize: trackSize, PatchSize: 8, Dim: 64, Depth: 2, Heads: 2, MLPRatio: 2},
		MLPDim:      128,
		OutDim:      32,
		Temperature: 0.2,
	}
	tc := DefaultTrainConfig(1, trackBatch)
	tc.BaseLR = lr * 256 / float64(trackBatch)
	tc.WarmupEpochs = 0.1
	return cfg, tc
}
