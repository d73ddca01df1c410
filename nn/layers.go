package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mocogo/mocogo/engine"
)

// join makes a state-dict key from a module prefix and a local name.
func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Linear is y = x·Wᵀ + b with W [out, in] (PyTorch's layout).
type Linear struct {
	Weight *engine.Tensor // [out, in]
	Bias   *engine.Tensor // [out], nil without bias
}

// NewLinear makes a Linear named prefix.weight / prefix.bias whose weight
// is drawn from U(−bound, bound) (XavierBound for the ViT,
// DefaultLinearBound for PyTorch's default) and whose bias is zero.
func NewLinear(e *engine.Engine, prefix string, in, out int, bias bool, bound float64, rng *rand.Rand) *Linear {
	l := &Linear{Weight: newParam(e, join(prefix, "weight"), Uniform(rng, out*in, bound), out, in)}
	if bias {
		l.Bias = newParam(e, join(prefix, "bias"), make([]float64, out), out)
	}
	return l
}

// In and Out are the feature sizes.
func (l *Linear) In() int  { return l.Weight.Dim(1) }
func (l *Linear) Out() int { return l.Weight.Dim(0) }

// Forward maps x [..., in] to [..., out].
func (l *Linear) Forward(x *engine.Tensor) *engine.Tensor {
	return engine.Linear(x, l.Weight, l.Bias)
}

func (l *Linear) Parameters() []Named {
	ps := []Named{{l.Weight.Name(), l.Weight}}
	if l.Bias != nil {
		ps = append(ps, Named{l.Bias.Name(), l.Bias})
	}
	return ps
}
func (l *Linear) StateDict() []Named { return l.Parameters() }
func (l *Linear) Train(bool)         {}

// LayerNorm normalises the last axis with a learned scale and shift.
type LayerNorm struct {
	Weight, Bias *engine.Tensor // [dim], ones and zeros at init
	Eps          float64
}

// NewLayerNorm makes a LayerNorm over dim features (weight 1, bias 0).
func NewLayerNorm(e *engine.Engine, prefix string, dim int, eps float64) *LayerNorm {
	return &LayerNorm{
		Weight: newParam(e, join(prefix, "weight"), Constant(dim, 1), dim),
		Bias:   newParam(e, join(prefix, "bias"), make([]float64, dim), dim),
		Eps:    eps,
	}
}

func (n *LayerNorm) Forward(x *engine.Tensor) *engine.Tensor {
	return engine.LayerNorm(x, n.Weight, n.Bias, n.Eps)
}
func (n *LayerNorm) Parameters() []Named {
	return []Named{{n.Weight.Name(), n.Weight}, {n.Bias.Name(), n.Bias}}
}
func (n *LayerNorm) StateDict() []Named { return n.Parameters() }
func (n *LayerNorm) Train(bool)         {}

// BatchNorm1d is PyTorch's BatchNorm1d on [N, C] inputs with running
// statistics (momentum 0.1, eps 1e-5 by default). In training it uses the
// batch statistics and updates the running ones; in eval it uses the
// running ones.
type BatchNorm1d struct {
	Weight, Bias *engine.Tensor // nil when not affine
	State        engine.BatchNormState
	Eps          float64
	training     bool
}

// NewBatchNorm1d makes a BatchNorm1d over dim features in training mode:
// weight 1 and bias 0 when affine, running mean 0 and variance 1.
func NewBatchNorm1d(e *engine.Engine, prefix string, dim int, affine bool) *BatchNorm1d {
	bn := &BatchNorm1d{
		State: engine.BatchNormState{
			Mean:     newBuffer(e, join(prefix, "running_mean"), make([]float64, dim), dim),
			Var:      newBuffer(e, join(prefix, "running_var"), Constant(dim, 1), dim),
			Momentum: 0.1,
		},
		Eps:      1e-5,
		training: true,
	}
	if affine {
		bn.Weight = newParam(e, join(prefix, "weight"), Constant(dim, 1), dim)
		bn.Bias = newParam(e, join(prefix, "bias"), make([]float64, dim), dim)
	}
	return bn
}

// Training reports the mode.
func (bn *BatchNorm1d) Training() bool { return bn.training }
func (bn *BatchNorm1d) Train(on bool)  { bn.training = on }

// Forward normalises x [N, C]. In eval mode with gradients wanted (a
// trainable affine, or an input that needs a gradient) it builds the
// affine map from ordinary ops, since the fused eval kernel has no
// backward.
func (bn *BatchNorm1d) Forward(x *engine.Tensor) *engine.Tensor {
	if bn.training {
		return engine.BatchNorm1d(x, bn.Weight, bn.Bias, &bn.State, true, bn.Eps)
	}
	e := x.Engine()
	needGrad := e.GradEnabled() && (x.RequiresGrad() ||
		(bn.Weight != nil && bn.Weight.RequiresGrad()) || (bn.Bias != nil && bn.Bias.RequiresGrad()))
	if !needGrad {
		return engine.BatchNorm1d(x, bn.Weight, bn.Bias, &bn.State, false, bn.Eps)
	}
	if x.Rank() != 2 || x.Dim(1) != bn.State.Mean.Len() {
		panic(fmt.Sprintf("nn.BatchNorm1d: input %v for %d features", x.Shape(), bn.State.Mean.Len()))
	}
	v := bn.State.Var.Float64s()
	rstd := make([]float64, len(v))
	for i, vi := range v {
		rstd[i] = 1 / math.Sqrt(vi+bn.Eps)
	}
	y := engine.Mul(engine.Sub(x, bn.State.Mean), e.FromFloat64(rstd, len(rstd)))
	if bn.Weight != nil {
		y = engine.Mul(y, bn.Weight)
	}
	if bn.Bias != nil {
		y = engine.Add(y, bn.Bias)
	}
	return y
}

func (bn *BatchNorm1d) Parameters() []Named {
	if bn.Weight == nil {
		return nil
	}
	return []Named{{bn.Weight.Name(), bn.Weight}, {bn.Bias.Name(), bn.Bias}}
}

func (bn *BatchNorm1d) StateDict() []Named {
	return append(bn.Parameters(),
		Named{bn.State.Mean.Name(), bn.State.Mean}, Named{bn.State.Var.Name(), bn.State.Var})
}

// MLP is moco-v3's _build_mlp(num_layers, input_dim, mlp_dim, output_dim,
// last_bn): Linear (no bias) → BN → ReLU for every layer but the last,
// then Linear (no bias) → BN(affine=False) when lastBN. Keys follow
// nn.Sequential's indices: prefix.0.weight, prefix.1.weight, …
type MLP struct {
	Linears []*Linear
	BNs     []*BatchNorm1d // after Linears[i]; the last is nil without lastBN
}

// BuildMLP makes the head with PyTorch's default Linear init (moco-v3
// builds the heads after the ViT's own init, so they keep the default).
func BuildMLP(e *engine.Engine, prefix string, numLayers, inDim, mlpDim, outDim int, lastBN bool, rng *rand.Rand) *MLP {
	if numLayers < 1 {
		panic(fmt.Sprintf("nn.BuildMLP: %d layers", numLayers))
	}
	m := &MLP{}
	idx := 0
	for l := 0; l < numLayers; l++ {
		d1, d2 := mlpDim, mlpDim
		if l == 0 {
			d1 = inDim
		}
		if l == numLayers-1 {
			d2 = outDim
		}
		m.Linears = append(m.Linears, NewLinear(e, join(prefix, fmt.Sprint(idx)), d1, d2, false, DefaultLinearBound(d1), rng))
		idx++
		var bn *BatchNorm1d
		switch {
		case l < numLayers-1:
			bn = NewBatchNorm1d(e, join(prefix, fmt.Sprint(idx)), d2, true)
			idx += 2 // BN, then ReLU
		case lastBN:
			bn = NewBatchNorm1d(e, join(prefix, fmt.Sprint(idx)), d2, false)
		}
		m.BNs = append(m.BNs, bn)
	}
	return m
}

// Forward maps x [N, inDim] to [N, outDim].
func (m *MLP) Forward(x *engine.Tensor) *engine.Tensor {
	for i, l := range m.Linears {
		x = l.Forward(x)
		if m.BNs[i] != nil {
			x = m.BNs[i].Forward(x)
		}
		if i < len(m.Linears)-1 {
			x = engine.ReLU(x)
		}
	}
	return x
}

func (m *MLP) Parameters() []Named {
	var ps []Named
	for i, l := range m.Linears {
		ps = append(ps, l.Parameters()...)
		if m.BNs[i] != nil {
			ps = append(ps, m.BNs[i].Parameters()...)
		}
	}
	return ps
}

func (m *MLP) StateDict() []Named {
	var ps []Named
	for i, l := range m.Linears {
		ps = append(ps, l.StateDict()...)
		if m.BNs[i] != nil {
			ps = append(ps, m.BNs[i].StateDict()...)
		}
	}
	return ps
}

func (m *MLP) Train(on bool) {
	for _, bn := range m.BNs {
		if bn != nil {
			bn.Train(on)
		}
	}
}
