package nn

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mocogo/mocogo/engine"
)

// Named is a tensor of a module under its state-dict key.
type Named struct {
	Name   string
	Tensor *engine.Tensor
}

// Module is what every layer provides.
type Module interface {
	// Parameters lists the module's parameters (what PyTorch's
	// named_parameters lists: frozen ones included, with RequiresGrad
	// false) in a stable order.
	Parameters() []Named
	// StateDict lists everything a checkpoint holds: the parameters and
	// the buffers (BatchNorm running statistics), in PyTorch's order.
	StateDict() []Named
	// Train switches between training (true) and evaluation behaviour.
	Train(on bool)
}

// Trainable returns the entries of ps whose tensors require a gradient.
func Trainable(ps []Named) []Named {
	var out []Named
	for _, p := range ps {
		if p.Tensor.RequiresGrad() {
			out = append(out, p)
		}
	}
	return out
}

// Lookup returns the tensor named name in ps, or nil.
func Lookup(ps []Named, name string) *engine.Tensor {
	i := slices.IndexFunc(ps, func(p Named) bool { return p.Name == name })
	if i < 0 {
		return nil
	}
	return ps[i].Tensor
}

// NumParams counts the elements of ps.
func NumParams(ps []Named) int {
	n := 0
	for _, p := range ps {
		n += p.Tensor.Len()
	}
	return n
}

// NewRNG returns the seeded generator every initialiser draws from: the
// same seed gives the same weights.
func NewRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// newParam makes a kept, trainable tensor named name holding data.
func newParam(e *engine.Engine, name string, data []float64, shape ...int) *engine.Tensor {
	return e.FromFloat64(data, shape...).Keep().SetRequiresGrad(true).SetName(name)
}

// newBuffer makes a kept tensor that is saved but never trained.
func newBuffer(e *engine.Engine, name string, data []float64, shape ...int) *engine.Tensor {
	return e.FromFloat64(data, shape...).Keep().SetName(name)
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Uniform returns n draws from U(−bound, bound).
func Uniform(rng *rand.Rand, n int, bound float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = (2*rng.Float64() - 1) * bound
	}
	return out
}

// Normal returns n draws from N(0, std²).
func Normal(rng *rand.Rand, n int, std float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = rng.NormFloat64() * std
	}
	return out
}

// Constant returns n copies of v.
func Constant(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// XavierBound is the bound of torch.nn.init.xavier_uniform_ (gain 1):
// √(6/(fanIn+fanOut)).
func XavierBound(fanIn, fanOut int) float64 {
	return math.Sqrt(6 / float64(fanIn+fanOut))
}

// DefaultLinearBound is the bound of PyTorch's default nn.Linear weight
// init (kaiming_uniform_ with a=√5): 1/√fanIn.
func DefaultLinearBound(fanIn int) float64 { return 1 / math.Sqrt(float64(fanIn)) }
