package engine

import (
	"fmt"
	"slices"
)

// Engine builds and differentiates graphs of ops on one backend.
//
// Ops record themselves on the engine's tape while running forward when an
// input requires a gradient and recording is on; Backward walks the tape in
// reverse. An Engine is used from one goroutine at a time: the backend's
// kernels parallelise internally.
//
// A training step is: forward, Backward, optimizer update, Reset. Reset
// clears the tape and returns every temporary's storage to the backend's
// allocator, so the next step reuses the same buffers.
type Engine struct {
	b      Backend
	tape   []*node
	noGrad int
	arena  []*Tensor
	serial uint64 // numbers temporaries in the order they are made
	// autocast is the half type GEMM-like ops compute in (F16, BF16), or
	// F32 when mixed precision is off.
	autocast DType
}

type node struct {
	out    *Tensor
	inputs []*Tensor
	// backward returns the gradient of each input (nil where that input
	// needs none) given the gradient of out.
	backward func(gout *Tensor) []*Tensor
	op       string
}

// New returns an engine computing on backend b.
func New(b Backend) *Engine { return &Engine{b: b} }

// Backend returns the engine's backend.
func (e *Engine) Backend() Backend { return e.b }

// NoGrad runs fn with recording off: ops inside it build no graph and their
// results require no gradient (the momentum encoder runs so).
func (e *Engine) NoGrad(fn func()) {
	e.noGrad++
	defer func() { e.noGrad-- }()
	fn()
}

// GradEnabled reports whether ops record themselves now.
func (e *Engine) GradEnabled() bool { return e.noGrad == 0 }

// Reset ends a step: it clears the tape and gives the storage of every
// temporary back to the allocator. Kept tensors and parameters stay.
func (e *Engine) Reset() {
	for _, t := range e.arena {
		if t.data != nil {
			e.b.Release(t.data)
			t.data = nil
		}
		t.node = nil
	}
	clear(e.arena)
	e.arena = e.arena[:0]
	clear(e.tape)
	e.tape = e.tape[:0]
}

// Empty returns a temporary of the given shape with undefined contents.
func (e *Engine) Empty(shape ...int) *Tensor { return e.EmptyAs(e.b.DType(), shape...) }

// Detached runs fn with recording off and then gives back every temporary
// fn made except the tensors it returns (and those they are views of).
// It is for work whose intermediates nothing needs afterwards, such as the
// momentum encoder's forward: its activations go back to the allocator at
// once instead of at Reset.
func (e *Engine) Detached(fn func() []*Tensor) []*Tensor {
	start := e.serial
	var out []*Tensor
	e.NoGrad(func() { out = fn() })
	keep := map[*Tensor]bool{}
	for _, t := range out {
		for ; t != nil; t = t.view {
			keep[t] = true
		}
	}
	kept := e.arena[:0]
	for _, t := range e.arena {
		if t.serial > start && !keep[t] && t.data != nil {
			e.b.Release(t.data)
			t.data = nil
			continue
		}
		kept = append(kept, t)
	}
	clear(e.arena[len(kept):])
	e.arena = kept
	return out
}

// EmptyAs is Empty for a temporary of element type dt: the backend's own
// type, or a half type its MixedPrecision extension lists.
func (e *Engine) EmptyAs(dt DType, shape ...int) *Tensor {
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("engine: negative dimension in shape %v", shape))
		}
	}
	var data Storage
	if dt == e.b.DType() {
		data = e.b.Alloc(numel(shape))
	} else if mp, ok := e.b.(MixedPrecision); ok {
		data = mp.AllocAs(dt, numel(shape))
	} else {
		panic(fmt.Sprintf("engine: %s tensor %v on backend %s, which has no mixed precision", dt, shape, e.b.Name()))
	}
	e.serial++
	t := &Tensor{eng: e, shape: slices.Clone(shape), data: data, serial: e.serial, unrecorded: e.noGrad > 0}
	e.arena = append(e.arena, t)
	return t
}

// SetAutocast turns mixed precision on for the ops that follow, in the
// manner of PyTorch's autocast: with dt F16 or BF16, MatMul, Linear and
// Attention compute on operands of type dt (converting float32 inputs, the
// weights included, for the op) with float32 accumulation and return dt;
// LayerNorm returns dt, being what feeds them; BatchNorm1d, Softmax,
// L2Normalize, CrossEntropy, Sum and Mean compute in float32, converting
// half inputs; elementwise ops keep their input's type, and an op on a
// half and a float32 tensor returns float32. Gradients have the type of
// the tensor they belong to: parameters stay float32 throughout.
//
// With dt F32 autocast is off. It needs a float32 backend whose
// MixedPrecision extension lists dt.
func (e *Engine) SetAutocast(dt DType) error {
	if dt == F32 {
		e.autocast = F32
		return nil
	}
	if e.b.DType() != F32 {
		return fmt.Errorf("engine: autocast to %s needs a float32 backend, not %s", dt, e.b.Name())
	}
	mp, ok := e.b.(MixedPrecision)
	if !ok || !slices.Contains(mp.HalfTypes(), dt) {
		return fmt.Errorf("engine: backend %s has no %s storage for autocast", e.b.Name(), dt)
	}
	e.autocast = dt
	return nil
}

// Autocast returns the half type set by SetAutocast, or F32 when
// mixed precision is off.
func (e *Engine) Autocast() DType { return e.autocast }

// half reports the autocast type and whether autocast is on.
func (e *Engine) half() (DType, bool) { return e.autocast, e.autocast != F32 }

// like returns an empty temporary of t's shape and element type.
func (e *Engine) like(t *Tensor) *Tensor { return e.EmptyAs(t.DType(), t.shape...) }

// converted returns t's values as type dt: t itself when it has that type,
// else a new temporary (not recorded for autodiff).
func (e *Engine) converted(t *Tensor, dt DType) *Tensor {
	if t.DType() == dt {
		return t
	}
	c := e.EmptyAs(dt, t.shape...)
	e.b.Copy(c.data, t.data)
	return c
}

// Discard gives a temporary's storage back to the allocator now, before
// Reset, for a caller that knows nothing will read it again. It only acts
// on a temporary made with recording off (one made while recording may be
// saved for Backward), and does nothing to kept tensors and views.
func (e *Engine) Discard(t *Tensor) {
	if t.unrecorded {
		e.drop(t)
	}
}

// drop gives a temporary's storage back to the allocator at once (an op's
// internal temporary, a spent gradient); kept tensors and views stay.
func (e *Engine) drop(t *Tensor) {
	if t == nil || t.data == nil || t.kept || t.view != nil {
		return
	}
	e.unarena(t)
	e.b.Release(t.data)
	t.data = nil
}

// Zeros returns a temporary of the given shape filled with zeros.
func (e *Engine) Zeros(shape ...int) *Tensor {
	t := e.Empty(shape...)
	e.b.Fill(t.data, 0)
	return t
}

// Full returns a temporary filled with v.
func (e *Engine) Full(v float64, shape ...int) *Tensor {
	t := e.Empty(shape...)
	e.b.Fill(t.data, v)
	return t
}

// FromFloat32 returns a temporary holding data in the given shape.
func (e *Engine) FromFloat32(data []float32, shape ...int) *Tensor {
	t := e.Empty(shape...)
	t.SetData(data)
	return t
}

// FromFloat64 returns a temporary holding data in the given shape.
func (e *Engine) FromFloat64(data []float64, shape ...int) *Tensor {
	t := e.Empty(shape...)
	t.SetFloat64s(data)
	return t
}

// Param returns a trainable parameter holding data (copied), kept across
// steps. Freeze it with SetRequiresGrad(false).
func (e *Engine) Param(name string, data []float32, shape ...int) *Tensor {
	t := e.FromFloat32(data, shape...).Keep()
	t.name = name
	t.requiresGrad = true
	return t
}

func (e *Engine) unarena(t *Tensor) {
	if i := slices.Index(e.arena, t); i >= 0 {
		e.arena = slices.Delete(e.arena, i, i+1)
	}
}

// record makes out the result of op over inputs, taping the node when a
// gradient will be needed.
func (e *Engine) record(op string, out *Tensor, inputs []*Tensor, backward func(g *Tensor) []*Tensor) *Tensor {
	if !e.recording(inputs) {
		return out
	}
	out.requiresGrad = true
	out.node = &node{out: out, inputs: inputs, backward: backward, op: op}
	e.tape = append(e.tape, out.node)
	return out
}

// recording reports whether record would put an op on these inputs on the
// tape (gradients are on and one of them requires a gradient): an op that
// would not may skip keeping what only its backward needs.
func (e *Engine) recording(inputs []*Tensor) bool {
	if e.noGrad > 0 {
		return false
	}
	for _, in := range inputs {
		if in.requiresGrad {
			return true
		}
	}
	return false
}

// Backward computes the gradient of loss, a one-element tensor, with
// respect to every tensor on its graph that requires one, and adds it to
// their gradients (see Tensor.Grad and ZeroGrad). Only leaves (parameters
// and inputs) keep a gradient: an intermediate result's gradient goes back
// to the allocator as soon as its op's backward has used it.
func (e *Engine) Backward(loss *Tensor) {
	if loss.Len() != 1 {
		panic(fmt.Sprintf("engine: Backward of %s: the loss must have one element", loss.describe()))
	}
	seed := e.Full(1, loss.shape...)
	e.BackwardWith(loss, seed)
}

// BackwardWith is Backward with the output gradient given (any shape).
func (e *Engine) BackwardWith(out, gout *Tensor) {
	if !slices.Equal(out.shape, gout.shape) {
		panic(fmt.Sprintf("engine: BackwardWith: gradient %v for output %v", gout.shape, out.shape))
	}
	if !out.requiresGrad {
		panic(fmt.Sprintf("engine: Backward of %s, which depends on no tensor that requires a gradient", out.describe()))
	}
	if out.node == nil {
		e.accumulate(out, gout)
		return
	}
	end := slices.Index(e.tape, out.node)
	if end < 0 {
		panic(fmt.Sprintf("engine: Backward of %s, whose graph was cleared by Reset", out.describe()))
	}
	// Intermediate gradients live only for this call; a fresh round.
	for _, n := range e.tape[:end+1] {
		n.out.gradLive = false
	}
	// The caller keeps gout: accumulate into a copy of our own.
	seed := e.like(out)
	e.b.Copy(seed.data, gout.data)
	e.accumulate(out, seed)
	for i := end; i >= 0; i-- {
		n := e.tape[i]
		g := n.out.Grad()
		if g == nil {
			continue // does not lead to the output
		}
		grads := n.backward(g)
		moved := false
		for j, in := range n.inputs {
			if j < len(grads) && grads[j] != nil && in.requiresGrad {
				if !slices.Equal(grads[j].shape, in.shape) {
					panic(fmt.Sprintf("engine: %s backward gave gradient %v for input %v", n.op, grads[j].shape, in.shape))
				}
				if grads[j] == g && !moved && e.move(n.out, in) {
					moved = true // a pass-through (Add, a residual): no copy
					continue
				}
				e.accumulate(in, grads[j])
			}
		}
		if !n.out.kept {
			e.releaseGrad(n.out)
		}
	}
}

// move hands out's gradient on to in as its first gradient, when out is
// done with it (out is not kept) and in has none yet, saving the copy that
// accumulate would make. It reports whether it did.
func (e *Engine) move(out, in *Tensor) bool {
	g := out.grad
	if out.kept || in.kept || in.gradLive || g == nil || g.view != nil || g.DType() != in.DType() {
		return false
	}
	in.grad, in.gradLive = g, true
	out.grad, out.gradLive = nil, false
	return true
}

// dropSpent gives back a gradient an op's backward made once its values
// have been added where they belong; one that is another tensor's
// gradient, or shares storage, stays.
func (e *Engine) dropSpent(g *Tensor) {
	if !g.ownsGrad && g.view == nil && !g.kept {
		e.drop(g)
	}
}

// releaseGrad gives t's gradient buffer back now that nothing needs it.
func (e *Engine) releaseGrad(t *Tensor) {
	if g := t.grad; g != nil && g.data != nil && g.view == nil {
		e.b.Release(g.data)
		g.data = nil
	}
	t.grad, t.gradLive = nil, false
}

// accumulate adds g into t's gradient, taking g itself when t has none yet
// and both are temporaries.
func (e *Engine) accumulate(t, g *Tensor) {
	switch {
	case t.gradLive:
		e.b.Axpy(t.grad.data, 1, g.data)
		e.dropSpent(g)
	case t.kept:
		// Parameters keep one gradient buffer for their whole life.
		if t.grad == nil || t.grad.data == nil {
			g := e.like(t).Keep()
			t.grad = g
		}
		e.b.Copy(t.grad.data, g.data)
		e.dropSpent(g)
	case g.ownsGrad || g.view != nil || g.kept:
		// g is already another tensor's gradient (an op passed its
		// output gradient through) or shares another's storage: never
		// alias two gradients, so each can be released on its own.
		t.grad = e.like(t)
		t.grad.ownsGrad = true
		e.b.Copy(t.grad.data, g.data)
	case g.DType() != t.DType():
		t.grad = e.converted(g, t.DType())
		t.grad.ownsGrad = true
	default:
		t.grad = g
		g.ownsGrad = true
	}
	t.gradLive = true
}
