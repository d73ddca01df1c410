package nn

import (
	"fmt"
	"math"

	"github.com/mocogo/mocogo/engine"
)

// Optimizer updates a list of named parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient;
	// parameters without one (frozen, or unused this step) are skipped.
	Step()
	// ZeroGrad forgets every parameter's gradient.
	ZeroGrad()
	// SetLR sets the learning rate of the next Step.
	SetLR(lr float64)
	LR() float64
}

func zeroGrads(ps []Named) {
	for _, p := range ps {
		p.Tensor.ZeroGrad()
	}
}

func checkUnique(ps []Named) {
	seen := map[*engine.Tensor]string{}
	for _, p := range ps {
		if prev, ok := seen[p.Tensor]; ok {
			panic(fmt.Sprintf("nn: parameter %q listed twice (also as %q)", p.Name, prev))
		}
		seen[p.Tensor] = p.Name
	}
}

// AdamW is torch.optim.AdamW (no amsgrad): decoupled weight decay
// p ← p·(1 − lr·wd), then Adam with bias correction. Each parameter
// counts its own steps, as PyTorch does, so one that had no gradient on
// some step is corrected for the steps it took.
type AdamW struct {
	Params            []Named
	Beta1, Beta2, Eps float64
	WeightDecay       float64
	lr                float64
	m, v              []*engine.Tensor // kept, lazily made
	steps             []int
}

// NewAdamW returns AdamW with PyTorch's defaults β = (0.9, 0.999) and
// eps 1e-8 over params.
func NewAdamW(params []Named, lr, weightDecay float64) *AdamW {
	checkUnique(params)
	return &AdamW{
		Params: params, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay, lr: lr,
		m: make([]*engine.Tensor, len(params)), v: make([]*engine.Tensor, len(params)), steps: make([]int, len(params)),
	}
}

func (o *AdamW) SetLR(lr float64) { o.lr = lr }
func (o *AdamW) LR() float64      { return o.lr }
func (o *AdamW) ZeroGrad()        { zeroGrads(o.Params) }

// StepCount returns how many updates parameter i has had.
func (o *AdamW) StepCount(i int) int { return o.steps[i] }

// Moments returns parameter i's first and second moments (nil before its
// first update).
func (o *AdamW) Moments(i int) (m, v *engine.Tensor) { return o.m[i], o.v[i] }

// State lists the optimizer's tensors for a checkpoint: each parameter's
// exp_avg and exp_avg_sq (made as zeros if it has not stepped yet), named
// after the parameter.
func (o *AdamW) State() []Named {
	var ns []Named
	for i, p := range o.Params {
		o.ensureMoments(i)
		ns = append(ns, Named{p.Name + ".exp_avg", o.m[i]}, Named{p.Name + ".exp_avg_sq", o.v[i]})
	}
	return ns
}

// Steps returns every parameter's step count, in Params order.
func (o *AdamW) Steps() []int { return append([]int(nil), o.steps...) }

// SetSteps restores the step counts saved with Steps.
func (o *AdamW) SetSteps(steps []int) error {
	if len(steps) != len(o.steps) {
		return fmt.Errorf("nn: AdamW.SetSteps: %d counts for %d parameters", len(steps), len(o.steps))
	}
	copy(o.steps, steps)
	return nil
}

func (o *AdamW) ensureMoments(i int) {
	if o.m[i] == nil {
		p := o.Params[i]
		e := p.Tensor.Engine()
		o.m[i] = e.Zeros(p.Tensor.Shape()...).Keep().SetName(p.Name + ".exp_avg")
		o.v[i] = e.Zeros(p.Tensor.Shape()...).Keep().SetName(p.Name + ".exp_avg_sq")
	}
}

func (o *AdamW) Step() {
	// Tensors with the same backend and step count go to the backend
	// together when it can update a list at once (engine.MultiAdamW).
	type key struct {
		b engine.Backend
		t int
	}
	var groups map[key][]int
	var order []key
	for i, p := range o.Params {
		g := p.Tensor.Grad()
		if g == nil {
			continue
		}
		b := p.Tensor.Engine().Backend()
		o.ensureMoments(i)
		o.steps[i]++
		if _, ok := b.(engine.MultiAdamW); ok {
			if groups == nil {
				groups = map[key][]int{}
			}
			k := key{b, o.steps[i]}
			if groups[k] == nil {
				order = append(order, k)
			}
			groups[k] = append(groups[k], i)
			continue
		}
		b.AdamW(p.Tensor.Storage(), g.Storage(), o.m[i].Storage(), o.v[i].Storage(),
			o.lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.steps[i])
	}
	for _, k := range order {
		idx := groups[k]
		ps, gs, ms, vs := make([]engine.Storage, len(idx)), make([]engine.Storage, len(idx)), make([]engine.Storage, len(idx)), make([]engine.Storage, len(idx))
		for j, i := range idx {
			ps[j], gs[j] = o.Params[i].Tensor.Storage(), o.Params[i].Tensor.Grad().Storage()
			ms[j], vs[j] = o.m[i].Storage(), o.v[i].Storage()
		}
		k.b.(engine.MultiAdamW).AdamWMulti(ps, gs, ms, vs, o.lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, k.t)
	}
}

// SGD is torch.optim.SGD with momentum (dampening 0, no Nesterov) and
// L2 weight decay added to the gradient.
type SGD struct {
	Params      []Named
	Momentum    float64
	WeightDecay float64
	lr          float64
	buf         []*engine.Tensor
}

// NewSGD returns SGD over params.
func NewSGD(params []Named, lr, momentum, weightDecay float64) *SGD {
	checkUnique(params)
	return &SGD{Params: params, Momentum: momentum, WeightDecay: weightDecay, lr: lr, buf: make([]*engine.Tensor, len(params))}
}

func (o *SGD) SetLR(lr float64) { o.lr = lr }
func (o *SGD) LR() float64      { return o.lr }
func (o *SGD) ZeroGrad()        { zeroGrads(o.Params) }

func (o *SGD) Step() {
	for i, p := range o.Params {
		g := p.Tensor.Grad()
		if g == nil {
			continue
		}
		e := p.Tensor.Engine()
		first := o.buf[i] == nil
		if first {
			o.buf[i] = e.Empty(p.Tensor.Shape()...).Keep().SetName(p.Name + ".momentum_buffer")
		}
		e.Backend().SGD(p.Tensor.Storage(), g.Storage(), o.buf[i].Storage(), o.lr, o.Momentum, o.WeightDecay, first)
	}
}

// CosineLR is moco-v3's adjust_learning_rate at a fractional epoch: a
// linear warmup from 0 over warmup epochs, then half a cosine down to 0 at
// total epochs.
func CosineLR(base, epoch, warmup, total float64) float64 {
	if epoch < warmup {
		return base * epoch / warmup
	}
	if total <= warmup {
		return base
	}
	return base * 0.5 * (1 + math.Cos(math.Pi*(epoch-warmup)/(total-warmup)))
}

// CosineMomentum is moco-v3's momentum schedule at a fractional epoch:
// m = 1 − ½(1 + cos(π·epoch/total))·(1 − m0), rising from m0 to 1.
func CosineMomentum(m0, epoch, total float64) float64 {
	return 1 - 0.5*(1+math.Cos(math.Pi*epoch/total))*(1-m0)
}
