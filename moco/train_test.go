package moco

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/nn"
)

// newTestTrainer builds a trainer of the fixture model (seed 4) on its
// own CPU engine, the recipe changed by mod.
func newTestTrainer(t testing.TB, b engine.Backend, mod func(*TrainConfig)) *Trainer {
	if b == nil {
		b = engine.NewCPU(engine.F32)
	}
	e := engine.New(b)
	m, err := New(e, fixtureCfg, nn.NewRNG(4))
	require.NoError(t, err)
	tc := DefaultTrainConfig(2, 4)
	if mod != nil {
		mod(&tc)
	}
	tr, err := NewTrainer(e, m, tc, 8)
	require.NoError(t, err)
	return tr
}

// testBatches returns n batches of two views of 4 images of 16 px.
func testBatches(n int) [][2][]float32 {
	r := rand.New(rand.NewPCG(21, 22))
	out := make([][2][]float32, n)
	for i := range out {
		for v := range out[i] {
			out[i][v] = make([]float32, 4*3*16*16)
			for j := range out[i][v] {
				out[i][v][j] = float32(r.NormFloat64())
			}
		}
	}
	return out
}

func snapshot(ns []nn.Named) [][]float32 {
	out := make([][]float32, len(ns))
	for i, n := range ns {
		out[i] = n.Tensor.Data()
	}
	return out
}

func equalTensors(a, b [][]float32) bool {
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// maxRelDiff is the largest ‖a−b‖/‖b‖ over the tensors.
func maxRelDiff(a, b [][]float32) float64 {
	worst := 0.0
	for i := range a {
		var num, den float64
		for j := range a[i] {
			d := float64(a[i][j]) - float64(b[i][j])
			num += d * d
			den += float64(b[i][j]) * float64(b[i][j])
		}
		if den > 0 {
			worst = max(worst, math.Sqrt(num/den))
		} else if num > 0 {
			return math.Inf(1)
		}
	}
	return worst
}

// TestLossScaleOverflowSkips trains two copies of a model on the same
// batches, one with dynamic loss scaling and one without. Scaled by 2^16
// the first steps match the unscaled run. Then the scale is forced to
// 2^127, where the backward overflows float32: those steps are skipped
// (weights and optimizer untouched, the scale halved each time) while
// the momentum encoder still takes its EMA step and the BN statistics
// their update, exactly as a forward-only step of the unscaled model.
// Once the scale has come down, training carries on and both runs agree
// step by step.
func TestLossScaleOverflowSkips(t *testing.T) {
	scaled := newTestTrainer(t, nil, func(c *TrainConfig) { c.LossScale = DynamicLossScale() })
	plain := newTestTrainer(t, nil, nil)
	batches := testBatches(40)
	epoch := func(i int) float64 { return float64(i) / 25 } // within the 2 epochs: the momentum stays below 1
	i := 0
	for ; i < 3; i++ {
		a, err := scaled.TrainStep(batches[i][0], batches[i][1], 4, 16, epoch(i))
		require.NoError(t, err)
		b, err := plain.TrainStep(batches[i][0], batches[i][1], 4, 16, epoch(i))
		require.NoError(t, err)
		assert.False(t, a.Skipped)
		assert.Equal(t, 65536.0, a.LossScale)
		assert.Equal(t, 1.0, b.LossScale)
		assert.InEpsilon(t, b.Loss, a.Loss, 1e-6, "step %d", i)
		assert.InEpsilon(t, b.GradNorm, a.GradNorm, 1e-5, "step %d: the reported norm is unscaled", i)
	}
	require.NotEqual(t, snapshot(scaled.Model.baseParams()), snapshot(scaled.Model.momentumParams()), "the encoders have parted")

	require.NoError(t, scaled.Scaler.SetState(LossScaleState{Scale: 0x1p127}))
	skipped, taken, scale := 0, 0, 0x1p127
	for ; i < len(batches); i++ {
		base, mom := snapshot(scaled.Model.Parameters()), snapshot(scaled.Model.momentumParams())
		adam := scaled.Opt.Steps()
		m1, _ := scaled.Opt.Moments(5)
		moments := m1.Data()
		a, err := scaled.TrainStep(batches[i][0], batches[i][1], 4, 16, epoch(i))
		require.NoError(t, err, "step %d", i)
		assert.Equal(t, scale, a.LossScale, "step %d reports the scale it used", i)
		assert.Equal(t, i+1, scaled.Step, "a skipped step is still a step")
		if !a.Skipped {
			// A step taken: the unscaled twin takes it too.
			require.True(t, finite(a.GradNorm))
			b, err := plain.TrainStep(batches[i][0], batches[i][1], 4, 16, epoch(i))
			require.NoError(t, err)
			require.InEpsilon(t, b.Loss, a.Loss, 1e-5, "step %d", i)
			require.InEpsilon(t, b.GradNorm, a.GradNorm, 1e-4, "step %d", i)
			taken++
			continue
		}
		skipped++
		assert.Equal(t, skipped, scaled.SkippedSteps)
		assert.Equal(t, skipped, a.SkippedSteps)
		assert.False(t, finite(a.GradNorm), "step %d: gradient norm %v", i, a.GradNorm)
		assert.True(t, finite(a.Loss))
		assert.Equal(t, scale/2, scaled.Scaler.Scale(), "step %d: the scale is halved", i)
		scale = scaled.Scaler.Scale()
		// No update: weights, Adam's moments and step counts as before.
		require.True(t, equalTensors(base, snapshot(scaled.Model.Parameters())), "step %d changed a weight", i)
		require.Equal(t, adam, scaled.Opt.Steps())
		require.Equal(t, moments, m1.Data())
		// But the momentum encoder moved, as the unscaled model's does
		// when it only runs the forward (EMA, BN statistics).
		require.False(t, equalTensors(mom, snapshot(scaled.Model.momentumParams())), "step %d: the momentum encoder did not move", i)
		e := plain.E
		plain.Model.Loss(e.FromFloat32(batches[i][0], 4, 3, 16, 16), e.FromFloat32(batches[i][1], 4, 3, 16, 16), plain.Cfg.Momentum(epoch(i)))
		e.Reset()
		plain.Step++
		require.Equal(t, snapshot(plain.Model.StateDict()), snapshot(scaled.Model.StateDict()), "step %d", i)
	}
	t.Logf("%d steps skipped, %d taken; loss scale now 2^%g", skipped, taken, math.Log2(scale))
	require.GreaterOrEqual(t, skipped, 2)
	require.GreaterOrEqual(t, taken, 20, "the scale never came down far enough")
	require.Less(t, scale, 0x1p127)
	rel := maxRelDiff(snapshot(scaled.Model.StateDict()), snapshot(plain.Model.StateDict()))
	t.Logf("largest relative difference of the trained tensors: %.3g", rel)
	assert.Less(t, rel, 1e-5)
	assert.Equal(t, scaled.Opt.Steps(), plain.Opt.Steps())
}

// countingCPU is the CPU backend counting its read-backs (each one a
// device synchronisation on a GPU). Embedding *engine.CPU keeps its
// optional extensions (SquareSummer) visible.
type countingCPU struct {
	*engine.CPU
	reads int
}

func (c *countingCPU) Download(dst []float64, src engine.Storage) {
	c.reads++
	c.CPU.Download(dst, src)
}

func (c *countingCPU) Download32(dst []float32, src engine.Storage) {
	c.reads++
	c.CPU.Download32(dst, src)
}

// TestOneReadBackPerStep: a training step reads from the backend once,
// with or without loss scaling and on a skipped step too; the immediate
// weight check adds one.
func TestOneReadBackPerStep(t *testing.T) {
	batches := testBatches(4)
	for _, tc := range []struct {
		name  string
		mod   func(*TrainConfig)
		force float64 // a loss scale set before the last step
		reads int
	}{
		{"fp32", nil, 0, 1},
		{"loss scaling", func(c *TrainConfig) { c.LossScale = DynamicLossScale() }, 0, 1},
		{"skipped step", func(c *TrainConfig) { c.LossScale = DynamicLossScale() }, 0x1p127, 1},
		{"immediate weight check", func(c *TrainConfig) { c.CheckWeightsAfterUpdate = true }, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &countingCPU{CPU: engine.NewCPU(engine.F32)}
			tr := newTestTrainer(t, b, tc.mod)
			for i, bt := range batches {
				if i == len(batches)-1 && tc.force > 0 {
					require.NoError(t, tr.Scaler.SetState(LossScaleState{Scale: tc.force}))
				}
				b.reads = 0
				st, err := tr.TrainStep(bt[0], bt[1], 4, 16, float64(i)/8)
				require.NoError(t, err)
				assert.Equal(t, tc.reads, b.reads, "read-backs in step %d", i+1)
				assert.Equal(t, tc.force > 0 && i == len(batches)-1, st.Skipped)
				assert.Positive(t, st.ParamNorm)
			}
		})
	}
}

// TestLossScaleStops: with loss scaling on, a non-finite loss still
// stops the run at once, and so does a gradient that keeps overflowing
// at the minimum scale (after FloorSkips skipped steps).
func TestLossScaleStops(t *testing.T) {
	batches := testBatches(4)
	tr := newTestTrainer(t, nil, func(c *TrainConfig) { c.LossScale = DynamicLossScale() })
	_, err := tr.TrainStep(batches[0][0], batches[0][1], 4, 16, 0.1)
	require.NoError(t, err)
	w := tr.Model.Base.Blocks[1].Attn.Proj.Weight
	v := w.Float64s()
	v[3] = math.NaN()
	w.SetFloat64s(v)
	st, err := tr.TrainStep(batches[1][0], batches[1][1], 4, 16, 0.2)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.ErrorContains(t, err, "step 2")
	assert.ErrorContains(t, err, "a weight is NaN as the step begins")
	assert.False(t, st.Skipped)
	assert.Equal(t, 1, tr.Step)
	assert.Equal(t, 0, tr.SkippedSteps)

	// A floor so high that every gradient overflows.
	tr = newTestTrainer(t, nil, func(c *TrainConfig) {
		c.LossScale = DynamicLossScale()
		c.LossScale.Init, c.LossScale.MinScale, c.LossScale.FloorSkips = 0x1p127, 0x1p127, 2
	})
	for i := 0; i < 2; i++ {
		st, err := tr.TrainStep(batches[i][0], batches[i][1], 4, 16, 0.1)
		require.NoError(t, err)
		require.True(t, st.Skipped)
	}
	_, err = tr.TrainStep(batches[2][0], batches[2][1], 4, 16, 0.1)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.ErrorContains(t, err, "moco: step 3 (epoch 0.100): non-finite value: the gradient stayed non-finite for 3 steps in a row at the minimum loss scale 1.7")
	assert.Equal(t, 2, tr.Step)
}

// TestCheckpointLossScale: the loss scale, its growth count and the
// skipped-step total survive a checkpoint; a checkpoint of a scaled run
// does not restore into an unscaled one, nor the reverse; metadata that
// contradicts itself is refused; a NaN weight is never saved.
func TestCheckpointLossScale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.safetensors")
	batches := testBatches(30)
	scaling := func(c *TrainConfig) {
		c.LossScale = DynamicLossScale()
		c.LossScale.GrowthInterval = 4
	}
	tr := newTestTrainer(t, nil, scaling)
	// Steps skipped at too high a scale, then some taken at a lower one:
	// the state to restore has a scale, a growth count and a skip total.
	require.NoError(t, tr.Scaler.SetState(LossScaleState{Scale: 0x1p124}))
	i := 0
	for ; i < 20 && (tr.SkippedSteps == 0 || tr.Scaler.State().GoodSteps < 2); i++ {
		_, err := tr.TrainStep(batches[i][0], batches[i][1], 4, 16, float64(i)/16)
		require.NoError(t, err)
	}
	require.Positive(t, tr.SkippedSteps)
	require.Equal(t, 2, tr.Scaler.State().GoodSteps)
	t.Logf("saved after %d steps, %d skipped, at scale 2^%g", i, tr.SkippedSteps, math.Log2(tr.Scaler.Scale()))
	require.NoError(t, tr.SaveCheckpoint(path, RunState{Seed: 1, Data: "x", DataLen: 32}))
	f, st, err := ReadRunState(path)
	require.NoError(t, err)
	require.NotNil(t, st.LossScale)
	assert.Equal(t, tr.Scaler.State(), *st.LossScale)
	assert.Equal(t, tr.SkippedSteps, st.SkippedSteps)

	tr2 := newTestTrainer(t, nil, scaling)
	require.NoError(t, tr2.RestoreCheckpoint(f, st))
	assert.Equal(t, tr.Scaler.State(), tr2.Scaler.State())
	assert.Equal(t, tr.SkippedSteps, tr2.SkippedSteps)
	grown := false
	for j, b := range batches[i : i+4] {
		a, err := tr.TrainStep(b[0], b[1], 4, 16, float64(i+j)/16)
		require.NoError(t, err)
		c, err := tr2.TrainStep(b[0], b[1], 4, 16, float64(i+j)/16)
		require.NoError(t, err)
		a.Seconds, c.Seconds = 0, 0
		assert.Equal(t, fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", c)) // %v: NaN equals NaN
		grown = grown || c.LossScale > a.LossScale || tr.Scaler.Scale() > a.LossScale
	}
	assert.True(t, grown, "the scale grew after the restore, on the restored growth count")
	assert.Equal(t, tr.Scaler.State(), tr2.Scaler.State())
	assert.True(t, equalTensors(snapshot(tr.Model.StateDict()), snapshot(tr2.Model.StateDict())))

	plain := newTestTrainer(t, nil, nil)
	err = plain.RestoreCheckpoint(f, st)
	assert.ErrorIs(t, err, ErrIncompatible)
	assert.ErrorContains(t, err, "loss scaling")
	other := newTestTrainer(t, nil, func(c *TrainConfig) { c.LossScale = DynamicLossScale() })
	assert.ErrorIs(t, other.RestoreCheckpoint(f, st), ErrIncompatible)
	require.NoError(t, plain.SaveCheckpoint(path, RunState{Seed: 1, Data: "x", DataLen: 32}))
	f, pst, err := ReadRunState(path)
	require.NoError(t, err)
	assert.Nil(t, pst.LossScale)
	assert.NotContains(t, f.Metadata["mocogo"], "loss_scale", "an unscaled run's checkpoint reads as before")
	assert.NotContains(t, f.Metadata["mocogo"], "LossScale")
	assert.ErrorIs(t, tr2.RestoreCheckpoint(f, pst), ErrIncompatible)

	// Metadata at odds with itself.
	for name, mod := range map[string]func(*RunState){
		"scaled recipe without a state": func(s *RunState) { s.LossScale = nil },
		"state without scaling":         func(s *RunState) { s.Train.LossScale = LossScaleConfig{} },
		"scale below the floor":         func(s *RunState) { s.LossScale = &LossScaleState{Scale: 0.5} },
		"more skipped steps than steps": func(s *RunState) { s.SkippedSteps = s.Step + 1 },
	} {
		bad := st
		ls := *st.LossScale
		bad.LossScale = &ls
		mod(&bad)
		raw, err := json.Marshal(bad)
		require.NoError(t, err)
		_, err = ParseRunState(raw)
		assert.Error(t, err, name)
	}

	// A NaN weight is not written.
	w := tr.Model.Predictor.Linears[0].Weight
	v := w.Float64s()
	v[0] = math.NaN()
	w.SetFloat64s(v)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	err = tr.SaveCheckpoint(path, RunState{Seed: 1, Data: "x", DataLen: 32})
	require.ErrorIs(t, err, ErrNonFinite)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

// TestTrainStepOnMatchesTrainStep runs the same three steps from host views
// (TrainStep) and from views kept in the engine and reused (TrainStepOn):
// the losses and the final weights must be bitwise equal, and the kept views
// must survive every step's release of its temporaries.
func TestTrainStepOnMatchesTrainStep(t *testing.T) {
	batches := testBatches(3)
	host := newTestTrainer(t, nil, nil)
	dev := newTestTrainer(t, nil, nil)
	for i, b := range batches {
		x1 := dev.E.FromFloat32(b[0], 4, 3, 16, 16).Keep()
		x2 := dev.E.FromFloat32(b[1], 4, 3, 16, 16).Keep()
		want, err := host.TrainStep(b[0], b[1], 4, 16, float64(i)/4)
		require.NoError(t, err)
		got, err := dev.TrainStepOn(x1, x2, float64(i)/4)
		require.NoError(t, err)
		assert.Equal(t, want.Loss, got.Loss, "step %d", i)
		assert.Equal(t, b[0], x1.Data(), "step %d: the kept view changed", i)
		x1.Free()
		x2.Free()
	}
	assert.True(t, equalTensors(snapshot(host.Model.Parameters()), snapshot(dev.Model.Parameters())))
}

func TestTrainStepOnRejectsShapes(t *testing.T) {
	tr := newTestTrainer(t, nil, nil)
	x := tr.E.FromFloat32(make([]float32, 4*3*16*16), 4, 3, 16, 16)
	y := tr.E.FromFloat32(make([]float32, 4*3*8*8), 4, 3, 8, 8)
	_, err := tr.TrainStepOn(x, y, 0)
	assert.ErrorContains(t, err, "shapes")
}
