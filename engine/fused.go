package engine

import "slices"

// Fused ops for the transformer block: each replaces a chain of ops with
// one that keeps fewer activations for Backward and makes fewer passes
// over memory. Their results equal the chains' up to rounding (the
// gradient checks hold them to that).

// LinearAdd returns r + x·wᵀ + b (b may be nil), for x [..., in],
// w [out, in] and r of the result's shape: a projection onto a residual
// stream. Unlike Add(r, Linear(x, w, b)) it writes the projection into the
// result and adds r there, so the projection's own output never exists
// beside it; Backward keeps x (its operand, as Linear's would be) and
// nothing else. The result has r's type.
//
// The residual is added after the product (y = x·wᵀ + b, then y += r),
// not read by the GEMM's epilogue (y = r, then y = x·wᵀ + 1·y, then y += b):
// on an H100 the epilogue's read of C made the ViT-S/16 projections 1.7–
// 2.3× slower than the same products without it (fifth session: 0.150 and
// 0.211 ms at best with beta 1, 0.065 and 0.127 ms on the TMA-store
// kernels without), more than the add's own pass over y and r costs. A
// backend that is a ResidualGemm takes the whole of it in one call instead
// (the CUDA backend's ping-pong kernels read r beside the product, under
// SetGemmResidual, which made the eleventh session's H100 step slower; the
// CPU backend adds r to each strip of the product as it is finished).
func LinearAdd(x, w, b, r *Tensor) *Tensor {
	e := sameEngine("LinearAdd", x, w, b, r)
	in, out, rows := checkLinear("LinearAdd", x, w, b)
	outShape := append(slices.Clone(x.shape[:x.Rank()-1]), out)
	if !slices.Equal(r.shape, outShape) {
		shapeMismatch("LinearAdd", r.shape, outShape, "the residual must have the projection's shape")
	}
	ct := e.computeType(x, w)
	xc, wc := e.converted(x, ct), e.converted(w, ct)
	if b != nil {
		b = Cast(b, e.b.DType())
	}
	y := linearAddInto(e, xc, wc, b, r, rows, out, in)
	e.dropConverted(x, xc, w, wc)
	return e.record("LinearAdd", y, optional(x, w, b, r), func(g *Tensor) []*Tensor {
		// The residual's gradient is g itself; the projection's is g in
		// the compute type, as Add's backward would hand it on.
		gc := e.converted(g, ct)
		dx, dw, db := e.gradLike(x), e.gradLike(w), e.gradLike(b)
		linearBackward(e, xc, wc, gc, dx, dw, db, rows, in, out)
		if gc != g {
			e.drop(gc)
		}
		var dr *Tensor
		if r.requiresGrad {
			dr = e.converted(g, r.DType())
		}
		return []*Tensor{dx, dw, db, dr}
	})
}

// FeedForward returns r + GELU(x·w1ᵀ + b1)·w2ᵀ + b2 (biases may be nil):
// a transformer's MLP on a residual stream. It keeps x and the
// pre-activation for Backward, which recomputes the GELU from it, so the
// hidden activation, the largest tensor of a block, is never kept. The
// result has r's type.
func FeedForward(x, w1, b1, w2, b2, r *Tensor) *Tensor {
	e := sameEngine("FeedForward", x, w1, b1, w2, b2, r)
	in, hidden, rows := checkLinear("FeedForward", x, w1, b1)
	if w2.Rank() != 2 || w2.Dim(1) != hidden {
		shapeMismatch("FeedForward", w1.shape, w2.shape, "w2 must be [out, hidden]")
	}
	out := w2.Dim(0)
	if b2 != nil && (b2.Rank() != 1 || b2.Len() != out) {
		shapeMismatch("FeedForward", w2.shape, b2.shape, "b2 must be [out]")
	}
	outShape := append(slices.Clone(x.shape[:x.Rank()-1]), out)
	if !slices.Equal(r.shape, outShape) {
		shapeMismatch("FeedForward", r.shape, outShape, "the residual must have the output's shape")
	}
	ct := e.computeType(x, w1, w2)
	xc, w1c, w2c := e.converted(x, ct), e.converted(w1, ct), e.converted(w2, ct)
	if b1 != nil {
		b1 = Cast(b1, e.b.DType())
	}
	if b2 != nil {
		b2 = Cast(b2, e.b.DType())
	}
	hShape := append(slices.Clone(x.shape[:x.Rank()-1]), hidden)
	inputs := optional(x, w1, b1, w2, b2, r)
	recording := e.recording(inputs)
	var h *Tensor // the pre-activation, kept for the backward
	act := e.EmptyAs(ct, hShape...)
	if recording {
		h = e.EmptyAs(ct, hShape...)
		linearInto(e, xc, w1c, b1, h, rows, hidden, in)
		e.b.Unary(OpGELU, act.data, h.data)
	} else {
		// No backward (the momentum encoder, evaluation): GELU in the first
		// product's epilogue where the backend has one, and no
		// pre-activation kept.
		linearGELUInto(e, xc, w1c, b1, act, rows, hidden, in)
	}
	y := linearAddInto(e, act, w2c, b2, r, rows, out, hidden)
	e.drop(act)
	e.dropConverted(x, xc, w1, w1c, w2, w2c)
	if !recording {
		return y
	}
	return e.record("FeedForward", y, inputs, func(g *Tensor) []*Tensor {
		gc := e.converted(g, ct)
		dw2, db2 := e.gradLike(w2), e.gradLike(b2)
		var act *Tensor // recomputed for w2's gradient only
		if dw2 != nil {
			act = e.EmptyAs(ct, hShape...)
			e.b.Unary(OpGELU, act.data, h.data)
		}
		dx, dw1, db1 := e.gradLike(x), e.gradLike(w1), e.gradLike(b1)
		needDh := dx != nil || dw1 != nil || db1 != nil
		var dh *Tensor // the pre-activation's gradient
		if gg, ok := e.b.(GELUGradGemm); ok && needDh {
			// w2's and b2's gradients first, so that act goes before dh
			// comes; then GELU′ in the product that brings the
			// activation's gradient (gc·w2), which never exists on its own.
			linearBackward(e, act, w2c, gc, nil, dw2, db2, rows, hidden, out)
			e.drop(act)
			dh = e.EmptyAs(ct, hShape...)
			gg.GemmGELUGrad(false, false, rows, hidden, out, gc.data, w2c.data, h.data, dh.data)
		} else {
			var dact *Tensor // the hidden activation's gradient
			if needDh {
				dact = e.EmptyAs(ct, hShape...)
			}
			linearBackward(e, act, w2c, gc, dact, dw2, db2, rows, hidden, out)
			e.drop(act)
			if dact != nil {
				dh = e.EmptyAs(ct, hShape...)
				e.b.UnaryBackward(OpGELU, dh.data, h.data, dact.data)
				e.drop(dact)
			}
		}
		if dh != nil {
			linearBackward(e, xc, w1c, dh, dx, dw1, db1, rows, in, hidden)
			e.drop(dh)
		}
		if gc != g {
			e.drop(gc)
		}
		var dr *Tensor
		if r.requiresGrad {
			dr = e.converted(g, r.DType())
		}
		return []*Tensor{dx, dw1, db1, dw2, db2, dr}
	})
}

// checkLinear checks x [..., in], w [out, in] and b [out] (or nil) and
// returns in, out and the number of rows of x.
func checkLinear(op string, x, w, b *Tensor) (in, out, rows int) {
	if w.Rank() != 2 || x.Rank() < 1 || x.Dim(-1) != w.Dim(1) {
		shapeMismatch(op, x.shape, w.shape, "want x [..., in] and w [out, in]")
	}
	if b != nil && (b.Rank() != 1 || b.Len() != w.Dim(0)) {
		shapeMismatch(op, w.shape, b.shape, "bias must be [out]")
	}
	in, out = w.Dim(1), w.Dim(0)
	return in, out, x.Len() / max(in, 1)
}

// linearInto sets y = xc·wcᵀ + b, with the bias in the GEMM's epilogue
// when the backend can.
func linearInto(e *Engine, xc, wc, b, y *Tensor, rows, out, in int) {
	if bg, ok := e.b.(BiasGemm); ok && b != nil {
		bg.GemmBias(false, true, rows, out, in, xc.data, wc.data, b.data, y.data, false)
		return
	}
	e.b.Gemm(false, true, 1, rows, out, in, 1, xc.data, 0, wc.data, 0, 0, y.data, 0)
	if b != nil {
		e.b.Binary(OpAdd, y.data, y.data, b.data)
	}
}

// linearAddInto returns r + xc·wcᵀ + b in a new tensor of r's type: in one
// call where the backend is a ResidualGemm, else the product and bias first
// (linearInto), then r added (see LinearAdd).
func linearAddInto(e *Engine, xc, wc, b, r *Tensor, rows, out, in int) *Tensor {
	y := e.like(r)
	if rg, ok := e.b.(ResidualGemm); ok {
		var bias Storage
		if b != nil {
			bias = b.data
		}
		rg.GemmBiasResidual(false, true, rows, out, in, xc.data, wc.data, bias, r.data, y.data)
		return y
	}
	linearInto(e, xc, wc, b, y, rows, out, in)
	e.b.Axpy(y.data, 1, r.data)
	return y
}

// linearGELUInto sets y = GELU(xc·wcᵀ + b), bias and GELU in the GEMM's
// epilogue when the backend can.
func linearGELUInto(e *Engine, xc, wc, b, y *Tensor, rows, out, in int) {
	if bg, ok := e.b.(BiasGemm); ok && b != nil {
		bg.GemmBias(false, true, rows, out, in, xc.data, wc.data, b.data, y.data, true)
		return
	}
	linearInto(e, xc, wc, b, y, rows, out, in)
	e.b.Unary(OpGELU, y.data, y.data)
}

// linearBackward writes the gradient of y = x·wᵀ + b given g = dy, from
// the compute-type operands xc and wc, into whichever of dx, dw and db the
// caller allocated (nil: not wanted).
func linearBackward(e *Engine, xc, wc, g, dx, dw, db *Tensor, rows, in, out int) {
	if dx != nil {
		e.b.Gemm(false, false, 1, rows, in, out, 1, g.data, 0, wc.data, 0, 0, dx.data, 0)
	}
	if dw != nil {
		e.b.Gemm(true, false, 1, out, in, rows, 1, g.data, 0, xc.data, 0, 0, dw.data, 0)
	}
	if db != nil {
		e.b.SumRows(db.data, g.data, rows, out, 0)
	}
}

// gradLike is an empty buffer for t's gradient (t's shape and type), or nil
// when t is absent or needs none.
func (e *Engine) gradLike(t *Tensor) *Tensor {
	if t == nil || !t.requiresGrad {
		return nil
	}
	return e.like(t)
}

// dropConverted drops converted copies that Backward will not read: when
// nothing will ask for a gradient, the op's backward never runs.
func (e *Engine) dropConverted(pairs ...*Tensor) {
	if e.noGrad == 0 {
		return
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != pairs[i] {
			e.drop(pairs[i+1])
		}
	}
}
