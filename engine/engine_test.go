package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFloat32MatchesFloat64 runs every gradient case on the float32
// backend (the kernels' fast paths) and on the float64 reference, forward
// and backward, and compares them.
func TestFloat32MatchesFloat64(t *testing.T) {
	for _, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) {
			outs := map[DType][][]float64{}
			for _, dt := range []DType{F64, F32} {
				r := rand.New(rand.NewPCG(7, 7))
				e := New(NewCPU(dt))
				ins, out, w := c.setup(e, r)
				e.Backward(Sum(Mul(out, w)))
				res := [][]float64{out.Float64s()}
				for _, in := range ins {
					res = append(res, in.Grad().Float64s())
				}
				outs[dt] = res
			}
			for i := range outs[F64] {
				// Relative, with an absolute floor for results that cancel
				// to almost nothing (a norm over two values).
				assert.Less(t, relErrFloor(outs[F32][i], outs[F64][i], 1e-6), 1e-5, "%s: result %d (0 = forward, then input gradients)", c.name, i)
			}
		})
	}
}

func relErrFloor(got, want []float64, floor float64) float64 {
	var d, n float64
	for i := range want {
		if math.IsNaN(got[i]) {
			return math.Inf(1)
		}
		d += (got[i] - want[i]) * (got[i] - want[i])
		n += want[i] * want[i]
	}
	return math.Max(math.Sqrt(d)-floor*math.Sqrt(float64(len(want))), 0) / math.Max(math.Sqrt(n), 1e-30)
}

func TestFrozenParameterGetsNoGradientAndNoWork(t *testing.T) {
	e := New(NewCPU(F64))
	x := e.FromFloat64([]float64{1, 2, 3, 4}, 2, 2)
	frozen := e.Param("frozen", []float32{1, 0, 0, 1}, 2, 2).SetRequiresGrad(false)
	w := e.Param("w", []float32{1, 2, 3, 4}, 2, 2)
	h := MatMul(x, frozen, false, true)
	assert.False(t, h.RequiresGrad(), "a product of an input and a frozen weight needs no gradient")
	tapeBefore := len(e.tape)
	assert.Zero(t, tapeBefore, "nothing that needs a gradient was recorded")
	loss := Sum(MatMul(h, w, false, true))
	e.Backward(loss)
	assert.Nil(t, frozen.Grad())
	require.NotNil(t, w.Grad())
	assert.Equal(t, 2, len(e.tape), "only the product with w and the sum are taped")
}

func TestNoGradRecordsNothing(t *testing.T) {
	e := New(NewCPU(F32))
	w := e.Param("w", []float32{1, 2, 3}, 3)
	var y *Tensor
	e.NoGrad(func() { y = Mul(w, w) })
	assert.False(t, y.RequiresGrad())
	assert.Empty(t, e.tape)
	assert.True(t, e.GradEnabled())
}

func TestGradientsAccumulateUntilZeroed(t *testing.T) {
	e := New(NewCPU(F64))
	w := e.Param("w", []float32{1, 2}, 2)
	for i := 0; i < 2; i++ {
		e.Backward(Sum(Scale(w, 3)))
	}
	// Like PyTorch: a parameter's gradient sums over Backward calls until
	// ZeroGrad, which costs no memory traffic (the next write overwrites).
	assert.Equal(t, []float64{6, 6}, w.Grad().Float64s())
	w.ZeroGrad()
	assert.Nil(t, w.Grad())
}

func TestResetReusesBuffersAndInvalidatesTemporaries(t *testing.T) {
	cpu := NewCPU(F32)
	e := New(cpu)
	w := e.Param("w", make([]float32, 64), 8, 8)
	step := func() *Tensor {
		x := e.Full(1, 4, 8)
		loss := Mean(GELU(MatMul(x, w, false, true)))
		e.Backward(loss)
		return x
	}
	x := step()
	e.Reset()
	peak := cpu.PeakBytes()
	for i := 0; i < 3; i++ {
		step()
		e.Reset()
	}
	assert.Equal(t, peak, cpu.PeakBytes(), "steps after the first allocate nothing new")
	assert.PanicsWithValue(t, "engine: use of tensor[4 8] after Engine.Reset or Free (Keep it to use it across steps)", func() { x.Data() })
	assert.NotPanics(t, func() { w.Data() })
}

func TestShapeMismatchNamesOpAndShapes(t *testing.T) {
	e := New(NewCPU(F32))
	a, b := e.Zeros(2, 3), e.Zeros(4, 5)
	assert.PanicsWithValue(t, "engine.MatMul: shapes [2 3] and [4 5]: inner sizes 3 and 4 differ (transA=false transB=false)", func() { MatMul(a, b, false, false) })
	assert.PanicsWithValue(t, "engine.Add: shapes [2 3] and [4 5]: the second must equal the first, its trailing axes (a broadcast row) or be a scalar", func() { Add(a, b) })
	assert.Panics(t, func() { LayerNorm(a, e.Zeros(4), nil, 1e-6) })
	assert.Panics(t, func() { Concat(1, a, b) })
}

func TestBatchNormRunningStatistics(t *testing.T) {
	e := New(NewCPU(F64))
	x := e.FromFloat64([]float64{1, 10, 3, 20, 5, 30}, 3, 2)
	st := &BatchNormState{Mean: e.Zeros(2).Keep(), Var: e.Full(1, 2).Keep(), Momentum: 0.1}
	BatchNorm1d(x, nil, nil, st, true, 1e-5)
	// torch: running = 0.9·old + 0.1·batch, unbiased variance.
	assert.InDeltaSlice(t, []float64{0.3, 2}, st.Mean.Float64s(), 1e-12)
	assert.InDeltaSlice(t, []float64{0.9 + 0.1*4, 0.9 + 0.1*100}, st.Var.Float64s(), 1e-12)
	var y *Tensor
	e.NoGrad(func() { y = BatchNorm1d(x, nil, nil, st, false, 0) })
	assert.InDelta(t, (1-0.3)/math.Sqrt(1.3), y.Float64s()[0], 1e-12)
}

// keptInputs returns kept tensors of the given shapes, values uniform in
// [-1, 1) from r, input i requiring a gradient where trainable[i].
func keptInputs(e *Engine, r *rand.Rand, shapes [][]int, trainable []bool) []*Tensor {
	ins := make([]*Tensor, len(shapes))
	for i, s := range shapes {
		v := make([]float64, numel(s))
		for j := range v {
			v[j] = r.Float64()*2 - 1
		}
		ins[i] = e.FromFloat64(v, s...).Keep().SetRequiresGrad(trainable[i])
	}
	return ins
}

// TestFeedForwardPartialGradients: with some of FeedForward's inputs
// frozen, its backward skips their work (the GELU recompute when w2 is
// frozen, the hidden gradient when x, w1 and b1 are) and the gradients it
// still gives equal those of the all-trainable op.
func TestFeedForwardPartialGradients(t *testing.T) {
	shapes := [][]int{{3, 4}, {5, 4}, {5}, {4, 5}, {4}, {3, 4}} // x, w1, b1, w2, b2, r
	run := func(trainable []bool) []*Tensor {
		e := New(NewCPU(F64))
		ins := keptInputs(e, rand.New(rand.NewPCG(4, 5)), shapes, trainable)
		e.Backward(Sum(FeedForward(ins[0], ins[1], ins[2], ins[3], ins[4], ins[5])))
		return ins
	}
	all := run([]bool{true, true, true, true, true, true})
	for _, trainable := range [][]bool{
		{true, false, false, false, false, false}, // w2 frozen: no GELU recompute
		{false, false, false, true, true, false},  // nothing below the hidden layer
		{false, true, false, false, false, true},
	} {
		got := run(trainable)
		for i, on := range trainable {
			if !on {
				assert.Nil(t, got[i].Grad(), "input %d is frozen", i)
				continue
			}
			assert.InDeltaSlice(t, all[i].Grad().Float64s(), got[i].Grad().Float64s(), 1e-12, "input %d with %v trainable", i, trainable)
		}
	}
}

// TestFeedForwardNoGrad: FeedForward with no backward to record (under
// NoGrad, or with no input requiring a gradient) takes the path that puts
// GELU in the first product's epilogue and keeps no pre-activation; its
// result equals the recorded path's, with and without biases.
func TestFeedForwardNoGrad(t *testing.T) {
	for _, bias := range []bool{true, false} {
		e := New(NewCPU(F64))
		r := rand.New(rand.NewPCG(6, 7))
		mk := func(s ...int) *Tensor {
			v := make([]float64, numel(s))
			for j := range v {
				v[j] = r.Float64()*2 - 1
			}
			return e.FromFloat64(v, s...).Keep()
		}
		x, w1, b1, w2, b2, res := mk(3, 4), mk(5, 4), mk(5), mk(4, 5), mk(4), mk(3, 4)
		if !bias {
			b1, b2 = nil, nil
		}
		for _, p := range []*Tensor{x, w1, w2} {
			p.SetRequiresGrad(true)
		}
		want := FeedForward(x, w1, b1, w2, b2, res).Float64s()
		var got []float64
		e.NoGrad(func() { got = FeedForward(x, w1, b1, w2, b2, res).Float64s() })
		assert.InDeltaSlice(t, want, got, 1e-12, "under NoGrad, bias %v", bias)
		for _, p := range []*Tensor{x, w1, w2} {
			p.SetRequiresGrad(false)
		}
		y := FeedForward(x, w1, b1, w2, b2, res)
		assert.InDeltaSlice(t, want, y.Float64s(), 1e-12, "nothing trainable, bias %v", bias)
		assert.False(t, y.RequiresGrad())
	}
}
