package engine

import (
	"fmt"
	"slices"
)

// Tensor is a dense row-major array on one backend, and a vertex of the
// autodiff graph. Reshape shares storage; Permute, Slice and Concat copy.
//
// A tensor made during a step is a temporary: Engine.Reset gives its
// storage back to the allocator, after which using it panics. Parameters
// and tensors marked with Keep outlive Reset.
type Tensor struct {
	eng   *Engine
	shape []int
	data  Storage

	// requiresGrad marks a tensor whose gradient Backward computes: a
	// trainable parameter, or a result of an op with such an input.
	requiresGrad bool
	node         *node // the op that made it, nil for a leaf
	grad         *Tensor
	gradLive     bool // grad holds this round's gradient (else stale)
	kept         bool
	ownsGrad     bool // this tensor is some tensor's gradient
	name         string
	view         *Tensor // the tensor whose storage a Reshape shares
	serial       uint64  // creation order of temporaries (Engine.Detached)
	unrecorded   bool    // made with recording off (Engine.Discard)
}

// Shape returns the tensor's dimensions (a copy).
func (t *Tensor) Shape() []int { return slices.Clone(t.live().shape) }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.live().shape[i]
}

// Rank is the number of axes.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len is the number of elements.
func (t *Tensor) Len() int { return numel(t.shape) }

// DType is the element type of the tensor's storage.
func (t *Tensor) DType() DType { return t.live().data.DType() }

// Storage returns the backend buffer holding the elements.
func (t *Tensor) Storage() Storage { return t.live().data }

// Engine returns the engine the tensor belongs to.
func (t *Tensor) Engine() *Engine { return t.eng }

// RequiresGrad reports whether Backward computes this tensor's gradient.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// SetRequiresGrad marks a leaf tensor as trainable (true) or frozen.
// A frozen parameter gets no gradient and costs no backward work.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	if t.node != nil {
		panic(fmt.Sprintf("engine: SetRequiresGrad on %s, the result of an op", t.describe()))
	}
	t.requiresGrad = on
	return t
}

// Name returns the name given with SetName, or "".
func (t *Tensor) Name() string { return t.name }

// SetName names the tensor for error messages and checkpoints.
func (t *Tensor) SetName(n string) *Tensor { t.name = n; return t }

// Grad returns the gradient from the last Backward, or nil when none was
// computed since the gradients were last zeroed.
func (t *Tensor) Grad() *Tensor {
	if t.grad == nil || !t.gradLive {
		return nil
	}
	return t.grad
}

// ZeroGrad forgets the tensor's gradient; the next Backward writes a fresh
// one (without touching memory now).
func (t *Tensor) ZeroGrad() { t.gradLive = false }

// Keep exempts a temporary from Engine.Reset: it stays valid across steps
// until Free.
func (t *Tensor) Keep() *Tensor {
	if !t.kept {
		t.kept = true
		t.eng.unarena(t)
	}
	return t
}

// Free gives the storage of a kept tensor back to the allocator now.
func (t *Tensor) Free() {
	if t.data == nil || t.view != nil {
		return
	}
	t.eng.b.Release(t.data)
	t.data = nil
	if t.grad != nil {
		t.grad.Free()
	}
}

// Data copies the elements to the host as float32 (a synchronisation point
// on a device backend).
func (t *Tensor) Data() []float32 {
	out := make([]float32, t.Len())
	t.eng.b.Download32(out, t.live().data)
	return out
}

// Float64s copies the elements to the host as float64.
func (t *Tensor) Float64s() []float64 {
	out := make([]float64, t.Len())
	t.eng.b.Download(out, t.live().data)
	return out
}

// Item returns the only element of a one-element tensor.
func (t *Tensor) Item() float64 {
	if t.Len() != 1 {
		panic(fmt.Sprintf("engine: Item of %s with %d elements", t.describe(), t.Len()))
	}
	return t.Float64s()[0]
}

// SetData overwrites the elements from the host. It is not recorded for
// autodiff: use it for inputs and parameter loading.
func (t *Tensor) SetData(src []float32) {
	if len(src) != t.Len() {
		panic(fmt.Sprintf("engine: SetData of %d values into %s", len(src), t.describe()))
	}
	t.eng.b.Upload32(t.live().data, src)
}

// SetFloat64s is SetData from float64 values.
func (t *Tensor) SetFloat64s(src []float64) {
	if len(src) != t.Len() {
		panic(fmt.Sprintf("engine: SetFloat64s of %d values into %s", len(src), t.describe()))
	}
	t.eng.b.Upload(t.live().data, src)
}

func (t *Tensor) String() string { return t.describe() }

func (t *Tensor) describe() string {
	if t.name != "" {
		return fmt.Sprintf("%s%v", t.name, t.shape)
	}
	return fmt.Sprintf("tensor%v", t.shape)
}

func (t *Tensor) live() *Tensor {
	if t.view != nil {
		t.view.live()
	}
	if t.data == nil {
		panic(fmt.Sprintf("engine: use of %s after Engine.Reset or Free (Keep it to use it across steps)", t.describe()))
	}
	return t
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
