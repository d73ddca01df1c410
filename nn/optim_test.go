package nn

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
)

type optimGolden struct {
	Shapes map[string][]int
	Init   map[string][]float64
	Grads  []map[string][]float64
	LRs    []float64
	Skip   struct {
		Step  int
		Param string
	}
	AdamW struct {
		Betas [2]float64
		Eps   float64
		WD    float64
		After []map[string][]float64
	}
	SGD struct {
		Momentum float64
		WD       float64
		After    []map[string][]float64
	}
}

// TestOptimizersMatchTorch feeds the same gradients as
// scripts/golden/optim.py to AdamW and SGD with momentum, changing the
// learning rate each step and leaving one parameter without a gradient
// on step 2, and compares the parameters after every step with
// torch.optim's.
func TestOptimizersMatchTorch(t *testing.T) {
	raw, err := os.ReadFile(golden + "optim.json")
	require.NoError(t, err)
	var g optimGolden
	require.NoError(t, json.Unmarshal(raw, &g))
	names := []string{"a", "b", "c"}

	for _, pr := range []struct {
		dt  engine.DType
		tol float64
	}{{engine.F64, 1e-12}, {engine.F32, 2e-6}} {
		for _, kind := range []string{"adamw", "sgd"} {
			t.Run(kind+"/"+pr.dt.String(), func(t *testing.T) {
				e := engine.New(engine.NewCPU(pr.dt))
				var ps []Named
				for _, n := range names {
					ps = append(ps, Named{n, newParam(e, n, g.Init[n], g.Shapes[n]...)})
				}
				var opt Optimizer
				after := g.SGD.After
				if kind == "adamw" {
					a := NewAdamW(ps, g.LRs[0], g.AdamW.WD)
					assert.Equal(t, [2]float64{a.Beta1, a.Beta2}, g.AdamW.Betas)
					assert.Equal(t, a.Eps, g.AdamW.Eps)
					opt, after = a, g.AdamW.After
				} else {
					opt = NewSGD(ps, g.LRs[0], g.SGD.Momentum, g.SGD.WD)
				}
				worst := 0.0
				for s, lr := range g.LRs {
					opt.SetLR(lr)
					// A gradient made by Backward: loss = Σ p ⊙ g.
					var loss *engine.Tensor
					for _, p := range ps {
						if s == g.Skip.Step && p.Name == g.Skip.Param {
							continue
						}
						term := engine.Sum(engine.Mul(p.Tensor, e.FromFloat64(g.Grads[s][p.Name], p.Tensor.Shape()...)))
						if loss == nil {
							loss = term
						} else {
							loss = engine.Add(loss, term)
						}
					}
					e.Backward(loss)
					opt.Step()
					opt.ZeroGrad()
					e.Reset()
					for _, p := range ps {
						err := relErr(p.Tensor.Float64s(), after[s][p.Name])
						worst = max(worst, err)
						assert.Less(t, err, pr.tol, "step %d %s", s+1, p.Name)
					}
				}
				t.Logf("worst rel err over 5 steps: %.3g", worst)
				if a, ok := opt.(*AdamW); ok {
					assert.Equal(t, []int{5, 5, 4}, []int{a.StepCount(0), a.StepCount(1), a.StepCount(2)}, "c skipped a step")
				}
			})
		}
	}
}

func TestOptimizerSkipsFrozen(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F32))
	v, err := NewViT(e, Config{ImageSize: 16, PatchSize: 8, Dim: 16, Depth: 1, Heads: 2}, NewRNG(1))
	require.NoError(t, err)
	opt := NewAdamW(v.Parameters(), 1e-2, 0.1) // every parameter, frozen ones too
	patch := v.PatchW.Data()
	pos := v.PosEmbed.Data()
	qkv := v.Blocks[0].Attn.QKV.Weight.Data()
	for range 2 {
		x := e.FromFloat64(Uniform(NewRNG(2), 2*3*16*16, 1), 2, 3, 16, 16)
		e.Backward(engine.Mean(engine.Mul(v.Forward(x), v.Forward(x))))
		opt.Step()
		opt.ZeroGrad()
		e.Reset()
	}
	assert.Equal(t, patch, v.PatchW.Data(), "frozen patch projection unchanged (no weight decay either)")
	assert.Equal(t, pos, v.PosEmbed.Data())
	assert.NotEqual(t, qkv, v.Blocks[0].Attn.QKV.Weight.Data())
	assert.Equal(t, 0, opt.StepCount(2))
	m, _ := opt.Moments(2)
	assert.Nil(t, m, "no state for a frozen parameter")
}

func TestCosineLR(t *testing.T) {
	base, warm, total := 2.4e-3, 40.0, 300.0
	assert.Equal(t, 0.0, CosineLR(base, 0, warm, total))
	assert.InDelta(t, base/4, CosineLR(base, 10, warm, total), 1e-18)
	assert.InDelta(t, base*0.5/40, CosineLR(base, 0.5, warm, total), 1e-18, "fractional epoch in warmup")
	assert.InDelta(t, base, CosineLR(base, 40, warm, total), 1e-18)
	assert.InDelta(t, base/2, CosineLR(base, 170, warm, total), 1e-15)
	assert.InDelta(t, 0, CosineLR(base, 300, warm, total), 1e-18)
	for _, ep := range []float64{41.25, 99.9, 250.5} {
		want := base * 0.5 * (1 + math.Cos(math.Pi*(ep-warm)/(total-warm)))
		assert.InDelta(t, want, CosineLR(base, ep, warm, total), 1e-18)
	}
	// Monotone down after warmup.
	prev := CosineLR(base, warm, warm, total)
	for ep := warm + 0.5; ep <= total; ep += 0.5 {
		lr := CosineLR(base, ep, warm, total)
		assert.LessOrEqual(t, lr, prev)
		prev = lr
	}
	assert.Equal(t, 1.0, CosineLR(1, 5, 0, 0), "no cosine phase: stays at base")
}

func TestCosineMomentum(t *testing.T) {
	assert.InDelta(t, 0.99, CosineMomentum(0.99, 0, 300), 1e-15)
	assert.InDelta(t, 0.995, CosineMomentum(0.99, 150, 300), 1e-15)
	assert.InDelta(t, 1.0, CosineMomentum(0.99, 300, 300), 1e-15)
	e := 37.25
	assert.InDelta(t, 1-0.5*(1+math.Cos(math.Pi*e/300))*0.01, CosineMomentum(0.99, e, 300), 1e-15)
}
