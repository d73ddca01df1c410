package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// gradCase is one op at one shape: build makes the output from inputs.
type gradCase struct {
	name   string
	shapes [][]int
	build  func(in []*Tensor) *Tensor
	// init fills input i (nil: uniform in [-1, 1]).
	init func(i int, r *rand.Rand, x []float64)
}

// checkGrad compares Backward with central finite differences in float64:
// loss = Σ out ⊙ w for a fixed random w, so every output element matters.
func checkGrad(t *testing.T, c gradCase) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, uint64(len(c.name))))
	e := New(NewCPU(F64))
	ins, out, wt := c.setup(e, r)
	loss := func() float64 { return Sum(Mul(c.build(ins), wt)).Item() }
	lossT := Sum(Mul(out, wt))
	f0 := lossT.Item()
	e.Backward(lossT)

	const h = 1e-6
	for i, in := range ins {
		g := in.Grad()
		require.NotNil(t, g, "%s: no gradient for input %d", c.name, i)
		analytic := g.Float64s()
		x := in.Float64s()
		num := make([]float64, len(x))
		e.NoGrad(func() {
			for j := range x {
				old := x[j]
				x[j] = old + h
				in.SetFloat64s(x)
				fp := loss()
				x[j] = old - h
				in.SetFloat64s(x)
				fm := loss()
				x[j] = old
				in.SetFloat64s(x)
				num[j] = (fp - fm) / (2 * h)
			}
		})
		var diff, ref float64
		for j := range num {
			diff += (num[j] - analytic[j]) * (num[j] - analytic[j])
			ref += num[j] * num[j]
		}
		// ‖numeric − analytic‖ ≤ 1e-6·‖numeric‖ plus the finite
		// difference's own rounding, about ε·|loss|/h per element.
		floor := 1e-9 * math.Sqrt(float64(len(num))) * (1 + math.Abs(f0))
		rel := (math.Sqrt(diff) - floor) / math.Max(math.Sqrt(ref), 1e-300)
		require.Lessf(t, rel, 1e-6, "%s: input %d %v: relative gradient error %.3g\nanalytic %v\nnumeric  %v",
			c.name, i, c.shapes[i], rel, head(analytic), head(num))
	}
}

// setup makes c's inputs on e (kept, trainable), runs the op, and draws
// the weights w of the loss Σ out ⊙ w, so every output element matters.
func (c gradCase) setup(e *Engine, r *rand.Rand) (ins []*Tensor, out, w *Tensor) {
	ins = make([]*Tensor, len(c.shapes))
	for i, s := range c.shapes {
		x := make([]float64, numel(s))
		if c.init != nil {
			c.init(i, r, x)
		} else {
			for j := range x {
				x[j] = r.Float64()*2 - 1
			}
		}
		ins[i] = e.FromFloat64(x, s...).Keep().SetRequiresGrad(true)
	}
	out = c.build(ins)
	wv := make([]float64, out.Len())
	for j := range wv {
		wv[j] = r.Float64()*2 - 1
	}
	return ins, out, e.FromFloat64(wv, out.Shape()...).Keep()
}

func head(x []float64) []float64 { return x[:min(len(x), 8)] }

// awayFromZero keeps inputs off ReLU's kink.
func awayFromZero(_ int, r *rand.Rand, x []float64) {
	for j := range x {
		v := 0.1 + 0.9*r.Float64()
		if r.IntN(2) == 0 {
			v = -v
		}
		x[j] = v
	}
}

func gradCases() []gradCase {
	var cs []gradCase
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		ta, tb := tr[0], tr[1]
		for _, mnk := range [][3]int{{1, 1, 1}, {3, 5, 7}, {8, 4, 6}} {
			m, n, k := mnk[0], mnk[1], mnk[2]
			as, bs := []int{m, k}, []int{k, n}
			if ta {
				as = []int{k, m}
			}
			if tb {
				bs = []int{n, k}
			}
			cs = append(cs, gradCase{
				name:   fmt.Sprintf("MatMul/%v%v/%dx%dx%d", ta, tb, m, n, k),
				shapes: [][]int{as, bs},
				build:  func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], ta, tb) },
			})
			// A batch of matrices times one shared matrix, and batch × batch.
			cs = append(cs, gradCase{
				name:   fmt.Sprintf("MatMul/shared/%v%v/%dx%dx%d", ta, tb, m, n, k),
				shapes: [][]int{append([]int{3}, as...), bs},
				build:  func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], ta, tb) },
			}, gradCase{
				name:   fmt.Sprintf("MatMul/batched/%v%v/%dx%dx%d", ta, tb, m, n, k),
				shapes: [][]int{append([]int{2, 2}, as...), append([]int{2, 2}, bs...)},
				build:  func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], ta, tb) },
			})
		}
	}
	for _, s := range [][]int{{1, 1}, {4, 3}, {2, 3, 5}} {
		in, out := s[len(s)-1], 7
		cs = append(cs,
			gradCase{name: fmt.Sprintf("Linear/bias/%v", s), shapes: [][]int{s, {out, in}, {out}},
				build: func(in []*Tensor) *Tensor { return Linear(in[0], in[1], in[2]) }},
			gradCase{name: fmt.Sprintf("Linear/nobias/%v", s), shapes: [][]int{s, {out, in}},
				build: func(in []*Tensor) *Tensor { return Linear(in[0], in[1], nil) }})
		rs := append(slices.Clone(s[:len(s)-1]), out)
		cs = append(cs,
			gradCase{name: fmt.Sprintf("LinearAdd/bias/%v", s), shapes: [][]int{s, {out, in}, {out}, rs},
				build: func(in []*Tensor) *Tensor { return LinearAdd(in[0], in[1], in[2], in[3]) }},
			gradCase{name: fmt.Sprintf("LinearAdd/nobias/%v", s), shapes: [][]int{s, {out, in}, rs},
				build: func(in []*Tensor) *Tensor { return LinearAdd(in[0], in[1], nil, in[2]) }},
			gradCase{name: fmt.Sprintf("FeedForward/bias/%v", s), shapes: [][]int{s, {6, in}, {6}, {in, 6}, {in}, s},
				build: func(in []*Tensor) *Tensor { return FeedForward(in[0], in[1], in[2], in[3], in[4], in[5]) }},
			gradCase{name: fmt.Sprintf("FeedForward/nobias/%v", s), shapes: [][]int{s, {5, in}, {in, 5}, s},
				build: func(in []*Tensor) *Tensor { return FeedForward(in[0], in[1], nil, in[2], nil, in[3]) }},
		)
	}
	for _, s := range [][2][]int{{{5, 3}, {5, 3}}, {{4, 7}, {7}}, {{2, 3, 5}, {3, 5}}, {{6}, {1}}} {
		for _, op := range []struct {
			name string
			f    func(a, b *Tensor) *Tensor
		}{{"Add", Add}, {"Sub", Sub}, {"Mul", Mul}} {
			cs = append(cs, gradCase{name: fmt.Sprintf("%s/%v+%v", op.name, s[0], s[1]), shapes: [][]int{s[0], s[1]},
				build: func(in []*Tensor) *Tensor { return op.f(in[0], in[1]) }})
		}
	}
	for _, s := range [][]int{{1}, {7}, {3, 17}} {
		cs = append(cs,
			gradCase{name: fmt.Sprintf("Scale/%v", s), shapes: [][]int{s}, build: func(in []*Tensor) *Tensor { return Scale(in[0], -2.5) }},
			gradCase{name: fmt.Sprintf("GELU/%v", s), shapes: [][]int{s}, build: func(in []*Tensor) *Tensor { return GELU(Scale(in[0], 3)) }},
			gradCase{name: fmt.Sprintf("ReLU/%v", s), shapes: [][]int{s}, build: func(in []*Tensor) *Tensor { return ReLU(in[0]) }, init: awayFromZero},
			gradCase{name: fmt.Sprintf("Sum/%v", s), shapes: [][]int{s}, build: func(in []*Tensor) *Tensor { return Sum(in[0]) }},
			gradCase{name: fmt.Sprintf("Mean/%v", s), shapes: [][]int{s}, build: func(in []*Tensor) *Tensor { return Mean(in[0]) }},
		)
	}
	for _, rc := range [][2]int{{1, 2}, {3, 5}, {4, 17}} {
		rows, cols := rc[0], rc[1]
		cs = append(cs,
			gradCase{name: fmt.Sprintf("LayerNorm/affine/%dx%d", rows, cols), shapes: [][]int{{rows, cols}, {cols}, {cols}},
				build: func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-6) }},
			gradCase{name: fmt.Sprintf("LayerNorm/plain/%dx%d", rows, cols), shapes: [][]int{{rows, cols}},
				build: func(in []*Tensor) *Tensor { return LayerNorm(in[0], nil, nil, 1e-6) }},
			gradCase{name: fmt.Sprintf("Softmax/%dx%d", rows, cols), shapes: [][]int{{rows, cols}},
				build: func(in []*Tensor) *Tensor { return Softmax(Scale(in[0], 3)) }},
			gradCase{name: fmt.Sprintf("L2Normalize/%dx%d", rows, cols), shapes: [][]int{{rows, cols}},
				build: func(in []*Tensor) *Tensor { return L2Normalize(in[0], 1e-12) }},
		)
		labels := make([]int32, rows)
		for i := range labels {
			labels[i] = int32((i * 7) % cols)
		}
		cs = append(cs, gradCase{name: fmt.Sprintf("CrossEntropy/%dx%d", rows, cols), shapes: [][]int{{rows, cols}},
			build: func(in []*Tensor) *Tensor { return CrossEntropy(Scale(in[0], 2), labels) }})
	}
	for _, rc := range [][2]int{{2, 1}, {5, 3}, {9, 16}} {
		rows, cols := rc[0], rc[1]
		cs = append(cs,
			gradCase{name: fmt.Sprintf("BatchNorm1d/affine/%dx%d", rows, cols), shapes: [][]int{{rows, cols}, {cols}, {cols}},
				build: func(in []*Tensor) *Tensor { return BatchNorm1d(in[0], in[1], in[2], nil, true, 1e-5) }},
			gradCase{name: fmt.Sprintf("BatchNorm1d/plain/%dx%d", rows, cols), shapes: [][]int{{rows, cols}},
				build: func(in []*Tensor) *Tensor { return BatchNorm1d(in[0], nil, nil, nil, true, 1e-5) }},
		)
	}
	for _, s := range [][4]int{{1, 1, 1, 1}, {2, 5, 3, 4}, {1, 9, 2, 8}, {2, 3, 1, 5}} {
		b, n, h, d := s[0], s[1], s[2], s[3]
		cs = append(cs, gradCase{name: fmt.Sprintf("Attention/B%dN%dH%dD%d", b, n, h, d), shapes: [][]int{{b, n, 3 * h * d}},
			build: func(in []*Tensor) *Tensor { return Attention(Scale(in[0], 2), h) }})
	}
	cs = append(cs,
		gradCase{name: "Reshape", shapes: [][]int{{2, 3, 4}}, build: func(in []*Tensor) *Tensor { return Mul(Reshape(in[0], 4, -1), Reshape(in[0], 4, 6)) }},
		gradCase{name: "Permute/3d", shapes: [][]int{{2, 3, 4}}, build: func(in []*Tensor) *Tensor { return Permute(in[0], 2, 0, 1) }},
		gradCase{name: "Transpose", shapes: [][]int{{5, 3}}, build: func(in []*Tensor) *Tensor { return Transpose(in[0], 0, 1) }},
		gradCase{name: "Slice/axis1", shapes: [][]int{{2, 5, 3}}, build: func(in []*Tensor) *Tensor { return Slice(in[0], 1, 1, 4) }},
		gradCase{name: "Slice/first", shapes: [][]int{{4, 3}}, build: func(in []*Tensor) *Tensor { return Slice(in[0], 0, 0, 1) }},
		gradCase{name: "Concat/axis1", shapes: [][]int{{2, 1, 3}, {2, 4, 3}}, build: func(in []*Tensor) *Tensor { return Concat(1, in[0], in[1]) }},
		gradCase{name: "Concat/axis0", shapes: [][]int{{1, 3}, {2, 3}, {3, 3}}, build: func(in []*Tensor) *Tensor { return Concat(0, in[0], in[1], in[2]) }},
		gradCase{name: "Patchify", shapes: [][]int{{2, 3, 4, 6}}, build: func(in []*Tensor) *Tensor { return Patchify(in[0], 2) }},
		// A chain reusing one input in two places, exercising accumulation.
		gradCase{name: "Chain/reuse", shapes: [][]int{{3, 4}, {4, 4}}, build: func(in []*Tensor) *Tensor {
			h := MatMul(in[0], in[1], false, true)
			return Add(GELU(h), Mul(h, in[0]))
		}},
	)
	return cs
}

func TestGradients(t *testing.T) {
	for _, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, c) })
	}
}
