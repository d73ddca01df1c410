package engine

import (
	"fmt"
	"math"
	"slices"
)

// shapeMismatch panics with the op's name and both shapes: a shape
// mismatch between ops is a programmer error.
func shapeMismatch(op string, a, b []int, why string) {
	panic(fmt.Sprintf("engine.%s: shapes %v and %v: %s", op, a, b, why))
}

func sameEngine(op string, ts ...*Tensor) *Engine {
	e := ts[0].eng
	for _, t := range ts[1:] {
		if t != nil && t.eng != e {
			panic(fmt.Sprintf("engine.%s: tensors from different engines", op))
		}
	}
	for _, t := range ts {
		if t != nil {
			t.live()
		}
	}
	return e
}

// Reshape returns a view of t with a new shape of the same size, sharing
// its storage. One dimension may be -1 and is then inferred.
func Reshape(t *Tensor, shape ...int) *Tensor {
	e := sameEngine("Reshape", t)
	shape = slices.Clone(shape)
	infer, n := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				shapeMismatch("Reshape", t.shape, shape, "two -1 dimensions")
			}
			infer = i
			continue
		}
		n *= d
	}
	if infer >= 0 && n > 0 {
		shape[infer] = t.Len() / n
	}
	if numel(shape) != t.Len() {
		shapeMismatch("Reshape", t.shape, shape, "sizes differ")
	}
	v := &Tensor{eng: e, shape: shape, data: t.data, view: t}
	return e.record("Reshape", v, []*Tensor{t}, func(g *Tensor) []*Tensor {
		return []*Tensor{Reshape(g, t.shape...)}
	})
}

// MatMul returns op(a)·op(b), where op transposes the last two axes when
// asked. a is [..., M, K] (or [..., K, M] with transA); b is [K, N] (or
// [N, K] with transB), shared by every matrix of a, or has a's leading
// axes. A Linear layer is MatMul(x, w, false, true) with w [out, in].
func MatMul(a, b *Tensor, transA, transB bool) *Tensor {
	e := sameEngine("MatMul", a, b)
	if a.Rank() < 2 || b.Rank() < 2 {
		shapeMismatch("MatMul", a.shape, b.shape, "operands need two axes")
	}
	m, k := a.Dim(-2), a.Dim(-1)
	if transA {
		m, k = k, m
	}
	kb, n := b.Dim(-2), b.Dim(-1)
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		shapeMismatch("MatMul", a.shape, b.shape, fmt.Sprintf("inner sizes %d and %d differ (transA=%v transB=%v)", k, kb, transA, transB))
	}
	batch := numel(a.shape[:a.Rank()-2])
	shared := b.Rank() == 2
	if !shared && !slices.Equal(a.shape[:a.Rank()-2], b.shape[:b.Rank()-2]) {
		shapeMismatch("MatMul", a.shape, b.shape, "batch axes differ")
	}
	outShape := append(slices.Clone(a.shape[:a.Rank()-2]), m, n)
	ct := e.computeType(a, b)
	ac, bc := e.converted(a, ct), e.converted(b, ct)
	out := e.EmptyAs(ct, outShape...)
	gemm(e, transA, transB, batch, m, n, k, ac, false, bc, shared, out)
	return e.record("MatMul", out, []*Tensor{a, b}, func(g *Tensor) []*Tensor {
		var da, db *Tensor
		if a.requiresGrad {
			da = e.like(a)
			if !transA { // dA[m,k] = dC·op(B)ᵀ
				gemm(e, false, !transB, batch, m, k, n, g, false, bc, shared, da)
			} else { // dA[k,m] = op(B)·dCᵀ
				gemm(e, transB, true, batch, k, m, n, bc, shared, g, false, da)
			}
		}
		if b.requiresGrad {
			db = e.like(b)
			if !transB { // dB[k,n] = op(A)ᵀ·dC
				gemmWeightGrad(e, !transA, false, batch, k, n, m, ac, g, db, shared)
			} else { // dB[n,k] = dCᵀ·op(A)
				gemmWeightGrad(e, true, transA, batch, n, k, m, g, ac, db, shared)
			}
		}
		return []*Tensor{da, db}
	})
}

// Linear returns x·wᵀ + b for x [..., in], w [out, in] and b [out] (nil
// for none) as one op: one output buffer and, in backward, dx = g·w,
// dw = gᵀ·x and db = Σ g over rows.
func Linear(x, w, b *Tensor) *Tensor {
	e := sameEngine("Linear", x, w, b)
	in, out, rows := checkLinear("Linear", x, w, b)
	outShape := append(slices.Clone(x.shape[:x.Rank()-1]), out)
	ct := e.computeType(x, w)
	xc, wc := e.converted(x, ct), e.converted(w, ct)
	if b != nil {
		b = Cast(b, e.b.DType())
	}
	y := e.EmptyAs(ct, outShape...)
	linearInto(e, xc, wc, b, y, rows, out, in)
	return e.record("Linear", y, optional(x, w, b), func(g *Tensor) []*Tensor {
		dx, dw, db := e.gradLike(x), e.gradLike(w), e.gradLike(b)
		linearBackward(e, xc, wc, g, dx, dw, db, rows, in, out)
		return []*Tensor{dx, dw, db}
	})
}

// gemm runs batch products c_i = op(x_i)·op(y_i); a shared operand is one
// matrix used by every product. When y is shared and x is not transposed,
// the batch folds into the rows of one product.
func gemm(e *Engine, tx, ty bool, batch, m, n, k int, x *Tensor, xShared bool, y *Tensor, yShared bool, c *Tensor) {
	if yShared && !xShared && !tx {
		e.b.Gemm(false, ty, 1, batch*m, n, k, 1, x.data, 0, y.data, 0, 0, c.data, 0)
		return
	}
	sx, sy := m*k, k*n
	if xShared {
		sx = 0
	}
	if yShared {
		sy = 0
	}
	e.b.Gemm(tx, ty, batch, m, n, k, 1, x.data, sx, y.data, sy, 0, c.data, m*n)
}

// gemmWeightGrad computes the gradient of a matrix used by every product
// of a batch (the sum over the batch) or of each batched matrix.
func gemmWeightGrad(e *Engine, tx, ty bool, batch, m, n, k int, x, y, c *Tensor, shared bool) {
	if !shared {
		e.b.Gemm(tx, ty, batch, m, n, k, 1, x.data, m*k, y.data, k*n, 0, c.data, m*n)
		return
	}
	// The batched operands are [batch, K, *] along the reduction axis, so
	// when both are transposed-in-memory in the row direction the batch
	// folds into K: Σ_i X_iᵀY_i = [X_0;X_1;…]ᵀ[Y_0;Y_1;…].
	if tx && !ty {
		e.b.Gemm(true, false, 1, m, n, batch*k, 1, x.data, 0, y.data, 0, 0, c.data, 0)
		return
	}
	// Otherwise one strided batched product that accumulates into c.
	e.b.Gemm(tx, ty, batch, m, n, k, 1, x.data, m*k, y.data, k*n, 0, c.data, 0)
}

func binary(op BinaryOp, name string, a, b *Tensor) *Tensor {
	e := sameEngine(name, a, b)
	scalar := b.Len() == 1 && b.Rank() <= 1
	if !scalar && (b.Rank() > a.Rank() || !slices.Equal(a.shape[a.Rank()-b.Rank():], b.shape)) {
		shapeMismatch(name, a.shape, b.shape, "the second must equal the first, its trailing axes (a broadcast row) or be a scalar")
	}
	out := e.EmptyAs(e.promote(a, b), a.shape...)
	e.b.Binary(op, out.data, a.data, b.data)
	return e.record(name, out, []*Tensor{a, b}, func(g *Tensor) []*Tensor {
		var da, db *Tensor
		rows := a.Len() / max(b.Len(), 1)
		// reduce sums a full-shape gradient over the broadcast rows, in
		// float32, and returns it in b's type.
		reduce := func(full *Tensor, scale float64) *Tensor {
			if rows == 1 && scale == 1 {
				return e.converted(full, b.DType())
			}
			r := e.Empty(b.shape...)
			if rows == 1 {
				e.b.Scale(r.data, full.data, scale)
			} else {
				e.b.SumRows(r.data, full.data, rows, b.Len(), 0)
				if scale != 1 {
					e.b.Scale(r.data, r.data, scale)
				}
			}
			return e.converted(r, b.DType())
		}
		switch op {
		case OpAdd, OpSub:
			if a.requiresGrad {
				da = e.converted(g, a.DType())
			}
			if b.requiresGrad {
				scale := 1.0
				if op == OpSub {
					scale = -1
				}
				db = reduce(g, scale)
			}
		case OpMul:
			if a.requiresGrad {
				da = e.like(a)
				e.b.Binary(OpMul, da.data, g.data, b.data)
			}
			if b.requiresGrad {
				t := e.Empty(a.shape...)
				e.b.Binary(OpMul, t.data, g.data, a.data)
				db = reduce(t, 1)
			}
		}
		return []*Tensor{da, db}
	})
}

// Add returns a+b; b has a's shape, its trailing axes or one element
// (broadcast).
func Add(a, b *Tensor) *Tensor { return binary(OpAdd, "Add", a, b) }

// Sub returns a−b; b has a's shape or its trailing axes (broadcast).
func Sub(a, b *Tensor) *Tensor { return binary(OpSub, "Sub", a, b) }

// Mul returns a⊙b; b has a's shape or its trailing axes (broadcast).
func Mul(a, b *Tensor) *Tensor { return binary(OpMul, "Mul", a, b) }

// Scale returns s·a.
func Scale(a *Tensor, s float64) *Tensor {
	e := sameEngine("Scale", a)
	out := e.like(a)
	e.b.Scale(out.data, a.data, s)
	return e.record("Scale", out, []*Tensor{a}, func(g *Tensor) []*Tensor {
		return []*Tensor{Scale(g, s)}
	})
}

func unary(op UnaryOp, name string, x *Tensor) *Tensor {
	e := sameEngine(name, x)
	out := e.like(x)
	e.b.Unary(op, out.data, x.data)
	return e.record(name, out, []*Tensor{x}, func(g *Tensor) []*Tensor {
		dx := e.like(x)
		e.b.UnaryBackward(op, dx.data, x.data, g.data)
		return []*Tensor{dx}
	})
}

// GELU returns the exact GELU x·Φ(x).
func GELU(x *Tensor) *Tensor { return unary(OpGELU, "GELU", x) }

// ReLU returns max(x, 0).
func ReLU(x *Tensor) *Tensor { return unary(OpReLU, "ReLU", x) }

// LayerNorm normalises over the last axis with biased variance and eps,
// then applies gamma and beta when they are not nil.
func LayerNorm(x, gamma, beta *Tensor, eps float64) *Tensor {
	e := sameEngine("LayerNorm", x, gamma, beta)
	cols := x.Dim(-1)
	rows := x.Len() / max(cols, 1)
	for _, p := range []*Tensor{gamma, beta} {
		if p != nil && (p.Rank() != 1 || p.Len() != cols) {
			shapeMismatch("LayerNorm", x.shape, p.shape, "gamma/beta must be one row of the last axis")
		}
	}
	outType := x.DType()
	if h, on := e.half(); on {
		outType = h // what feeds the next GEMM
	}
	out := e.EmptyAs(outType, x.shape...)
	mean, rstd := e.Empty(rows), e.Empty(rows)
	e.b.LayerNorm(out.data, mean.data, rstd.data, x.data, storageOf(gamma), storageOf(beta), rows, cols, eps)
	return e.record("LayerNorm", out, optional(x, gamma, beta), func(g *Tensor) []*Tensor {
		dx := e.like(x)
		dgamma, dbeta := gradBuffer(e, gamma), gradBuffer(e, beta)
		e.b.LayerNormBackward(dx.data, storageOf(dgamma), storageOf(dbeta), g.data, x.data, storageOf(gamma), mean.data, rstd.data, rows, cols)
		return []*Tensor{dx, dgamma, dbeta}
	})
}

// BatchNormState is the running mean and variance of a BatchNorm1d layer.
type BatchNormState struct {
	Mean, Var *Tensor // kept tensors of one row
	Momentum  float64 // PyTorch's convention: new = (1−m)·old + m·batch
}

// BatchNorm1d normalises each feature of x [N, C] over the batch. In
// training (training true) it uses the batch statistics, updating state's
// running statistics when state is non-nil; in eval it uses them and is
// not differentiable with respect to x. gamma and beta may be nil.
func BatchNorm1d(x, gamma, beta *Tensor, state *BatchNormState, training bool, eps float64) *Tensor {
	e := sameEngine("BatchNorm1d", x, gamma, beta)
	if x.Rank() != 2 {
		shapeMismatch("BatchNorm1d", x.shape, nil, "input must be [N, C]")
	}
	x = Cast(x, e.b.DType())
	rows, cols := x.Dim(0), x.Dim(1)
	for _, p := range []*Tensor{gamma, beta} {
		if p != nil && p.Len() != cols {
			shapeMismatch("BatchNorm1d", x.shape, p.shape, "gamma/beta must have C elements")
		}
	}
	var rm, rv Storage
	momentum := 0.0
	if state != nil {
		rm, rv, momentum = state.Mean.data, state.Var.data, state.Momentum
	}
	if !training && state == nil {
		panic("engine.BatchNorm1d: eval mode needs running statistics")
	}
	if training && rows < 2 {
		panic(fmt.Sprintf("engine.BatchNorm1d: training needs more than one sample, got input %v", x.shape))
	}
	out := e.Empty(x.shape...)
	mean, rstd := e.Empty(cols), e.Empty(cols)
	e.b.BatchNorm(out.data, mean.data, rstd.data, x.data, storageOf(gamma), storageOf(beta), rm, rv, rows, cols, training, momentum, eps)
	if !training {
		for _, in := range []*Tensor{x, gamma, beta} {
			if in != nil && in.requiresGrad && e.GradEnabled() {
				panic("engine.BatchNorm1d: eval mode is not differentiable; run it under NoGrad")
			}
		}
		return out
	}
	return e.record("BatchNorm1d", out, optional(x, gamma, beta), func(g *Tensor) []*Tensor {
		dx := e.Empty(x.shape...)
		dgamma, dbeta := gradBuffer(e, gamma), gradBuffer(e, beta)
		e.b.BatchNormBackward(dx.data, storageOf(dgamma), storageOf(dbeta), g.data, x.data, storageOf(gamma), mean.data, rstd.data, rows, cols)
		return []*Tensor{dx, dgamma, dbeta}
	})
}

// Softmax over the last axis.
func Softmax(x *Tensor) *Tensor {
	e := sameEngine("Softmax", x)
	x = Cast(x, e.b.DType())
	cols := x.Dim(-1)
	rows := x.Len() / max(cols, 1)
	out := e.Empty(x.shape...)
	e.b.Softmax(out.data, x.data, rows, cols)
	return e.record("Softmax", out, []*Tensor{x}, func(g *Tensor) []*Tensor {
		dx := e.Empty(x.shape...)
		e.b.SoftmaxBackward(dx.data, out.data, g.data, rows, cols)
		return []*Tensor{dx}
	})
}

// Attention is fused multi-head self-attention without a mask: qkv is the
// output of a qkv projection, [B, N, 3·D] laid out as timm's
// reshape(B, N, 3, heads, D/heads); the result is [B, N, D], heads
// concatenated, ready for the output projection. The N×N scores are never
// kept: backward recomputes them from the saved log-sum-exp.
func Attention(qkv *Tensor, heads int) *Tensor {
	e := sameEngine("Attention", qkv)
	if qkv.Rank() != 3 || heads <= 0 || qkv.Dim(2)%(3*heads) != 0 {
		shapeMismatch("Attention", qkv.shape, []int{heads}, "qkv must be [B, N, 3·heads·headDim]")
	}
	b, n := qkv.Dim(0), qkv.Dim(1)
	d := qkv.Dim(2) / 3
	hd := d / heads
	scale := 1 / math.Sqrt(float64(hd))
	ct := e.computeType(qkv)
	qc := e.converted(qkv, ct)
	out := e.EmptyAs(ct, b, n, d)
	lse := e.Empty(b, heads, n)
	e.b.Attention(out.data, lse.data, qc.data, b, n, heads, hd, scale)
	return e.record("Attention", out, []*Tensor{qkv}, func(g *Tensor) []*Tensor {
		dqkv := e.like(qkv)
		e.b.AttentionBackward(dqkv.data, g.data, qc.data, out.data, lse.data, b, n, heads, hd, scale)
		return []*Tensor{dqkv}
	})
}

// L2Normalize divides each row of the last axis by max(its norm, eps), as
// torch.nn.functional.normalize does.
func L2Normalize(x *Tensor, eps float64) *Tensor {
	e := sameEngine("L2Normalize", x)
	x = Cast(x, e.b.DType())
	cols := x.Dim(-1)
	rows := x.Len() / max(cols, 1)
	out := e.Empty(x.shape...)
	norm := e.Empty(rows)
	e.b.L2Normalize(out.data, norm.data, x.data, rows, cols, eps)
	return e.record("L2Normalize", out, []*Tensor{x}, func(g *Tensor) []*Tensor {
		dx := e.Empty(x.shape...)
		e.b.L2NormalizeBackward(dx.data, g.data, out.data, norm.data, rows, cols)
		return []*Tensor{dx}
	})
}

// CrossEntropy returns the mean over rows of −log softmax(logits)[label]
// for logits [N, C] and one label per row, a one-element tensor.
func CrossEntropy(logits *Tensor, labels []int32) *Tensor {
	e := sameEngine("CrossEntropy", logits)
	if logits.Rank() != 2 || logits.Dim(0) != len(labels) {
		shapeMismatch("CrossEntropy", logits.shape, []int{len(labels)}, "logits must be [N, C] with N labels")
	}
	logits = Cast(logits, e.b.DType())
	rows, cols := logits.Dim(0), logits.Dim(1)
	for i, l := range labels {
		if l < 0 || int(l) >= cols {
			panic(fmt.Sprintf("engine.CrossEntropy: label %d of row %d outside [0, %d)", l, i, cols))
		}
	}
	loss := e.Empty()
	dlogits := e.Empty(logits.shape...)
	e.b.CrossEntropy(loss.data, dlogits.data, logits.data, labels, rows, cols)
	return e.record("CrossEntropy", loss, []*Tensor{logits}, func(g *Tensor) []*Tensor {
		// d loss/d logits scaled by the incoming scalar gradient.
		s := e.Empty(logits.shape...)
		e.b.BroadcastScalar(s.data, g.data, 1)
		dx := e.Empty(logits.shape...)
		e.b.Binary(OpMul, dx.data, dlogits.data, s.data)
		return []*Tensor{dx}
	})
}

// Sum returns the sum of all elements as a one-element tensor.
func Sum(x *Tensor) *Tensor { return sumScaled("Sum", x, 1) }

// Mean returns the mean of all elements as a one-element tensor.
func Mean(x *Tensor) *Tensor { return sumScaled("Mean", x, 1/float64(max(x.Len(), 1))) }

func sumScaled(name string, x *Tensor, s float64) *Tensor {
	e := sameEngine(name, x)
	x = Cast(x, e.b.DType())
	out := e.Empty()
	e.b.SumAll(out.data, x.data)
	if s != 1 {
		e.b.Scale(out.data, out.data, s)
	}
	return e.record(name, out, []*Tensor{x}, func(g *Tensor) []*Tensor {
		dx := e.Empty(x.shape...)
		e.b.BroadcastScalar(dx.data, g.data, s)
		return []*Tensor{dx}
	})
}

// Permute reorders the axes: result axis i is t's axis perm[i]. It copies.
func Permute(t *Tensor, perm ...int) *Tensor {
	e := sameEngine("Permute", t)
	if len(perm) != t.Rank() {
		shapeMismatch("Permute", t.shape, perm, "perm must name every axis once")
	}
	seen := make([]bool, len(perm))
	outShape := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			shapeMismatch("Permute", t.shape, perm, "perm must name every axis once")
		}
		seen[p] = true
		outShape[i] = t.shape[p]
	}
	out := e.EmptyAs(t.DType(), outShape...)
	e.b.Permute(out.data, t.data, t.shape, perm)
	return e.record("Permute", out, []*Tensor{t}, func(g *Tensor) []*Tensor {
		inv := make([]int, len(perm))
		for i, p := range perm {
			inv[p] = i
		}
		return []*Tensor{Permute(g, inv...)}
	})
}

// Transpose swaps axes i and j (copying).
func Transpose(t *Tensor, i, j int) *Tensor {
	perm := make([]int, t.Rank())
	for k := range perm {
		perm[k] = k
	}
	perm[i], perm[j] = perm[j], perm[i]
	return Permute(t, perm...)
}

// Slice returns the elements with index in [start, end) along axis.
func Slice(t *Tensor, axis, start, end int) *Tensor {
	e := sameEngine("Slice", t)
	if axis < 0 {
		axis += t.Rank()
	}
	if axis < 0 || axis >= t.Rank() || start < 0 || end > t.shape[axis] || start > end {
		shapeMismatch("Slice", t.shape, []int{axis, start, end}, "axis or range out of bounds")
	}
	outer, inner := numel(t.shape[:axis]), numel(t.shape[axis+1:])
	outShape := slices.Clone(t.shape)
	outShape[axis] = end - start
	out := e.EmptyAs(t.DType(), outShape...)
	e.b.CopyAxis(out.data, end-start, 0, t.data, t.shape[axis], start, outer, end-start, inner, false)
	return e.record("Slice", out, []*Tensor{t}, func(g *Tensor) []*Tensor {
		dt := e.like(t)
		e.b.Fill(dt.data, 0)
		e.b.CopyAxis(dt.data, t.shape[axis], start, g.data, end-start, 0, outer, end-start, inner, false)
		return []*Tensor{dt}
	})
}

// Concat joins tensors along axis; all other axes must agree.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("engine.Concat: no tensors")
	}
	e := sameEngine("Concat", ts...)
	r := ts[0].Rank()
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		shapeMismatch("Concat", ts[0].shape, []int{axis}, "axis out of range")
	}
	outShape := slices.Clone(ts[0].shape)
	outShape[axis] = 0
	for _, t := range ts {
		if t.Rank() != r || !slices.Equal(t.shape[:axis], ts[0].shape[:axis]) || !slices.Equal(t.shape[axis+1:], ts[0].shape[axis+1:]) {
			shapeMismatch("Concat", ts[0].shape, t.shape, fmt.Sprintf("all axes but %d must agree", axis))
		}
		outShape[axis] += t.shape[axis]
	}
	outer, inner := numel(outShape[:axis]), numel(outShape[axis+1:])
	out := e.EmptyAs(e.promote(ts...), outShape...)
	off := 0
	for _, t := range ts {
		e.b.CopyAxis(out.data, outShape[axis], off, t.data, t.shape[axis], 0, outer, t.shape[axis], inner, false)
		off += t.shape[axis]
	}
	return e.record("Concat", out, ts, func(g *Tensor) []*Tensor {
		grads := make([]*Tensor, len(ts))
		off := 0
		for i, t := range ts {
			if t.requiresGrad {
				dt := e.like(t)
				e.b.CopyAxis(dt.data, t.shape[axis], 0, g.data, outShape[axis], off, outer, t.shape[axis], inner, false)
				grads[i] = dt
			}
			off += t.shape[axis]
		}
		return grads
	})
}

// Patchify turns images [B, C, H, W] into rows of patches
// [B, (H/p)·(W/p), C·p·p], each patch flattened in (c, y, x) order: a
// convolution with kernel = stride = p is then one MatMul with its weight
// reshaped to [out, C·p·p].
func Patchify(images *Tensor, p int) *Tensor {
	if images.Rank() != 4 || p <= 0 || images.Dim(2)%p != 0 || images.Dim(3)%p != 0 {
		shapeMismatch("Patchify", images.shape, []int{p}, "images must be [B, C, H, W] with H and W multiples of the patch size")
	}
	b, c, h, w := images.Dim(0), images.Dim(1), images.Dim(2), images.Dim(3)
	x := Reshape(images, b, c, h/p, p, w/p, p)
	x = Permute(x, 0, 2, 4, 1, 3, 5)
	return Reshape(x, b, (h/p)*(w/p), c*p*p)
}

func storageOf(t *Tensor) Storage {
	if t == nil {
		return nil
	}
	return t.data
}

// gradBuffer returns a zeroed buffer for a parameter gradient that a
// backend accumulates into, or nil when p needs none.
func gradBuffer(e *Engine, p *Tensor) *Tensor {
	if p == nil || !p.requiresGrad {
		return nil
	}
	return e.Zeros(p.shape...)
}

// optional lists inputs, keeping nil placeholders out of the graph.
func optional(ts ...*Tensor) []*Tensor {
	out := make([]*Tensor, len(ts))
	for i, t := range ts {
		if t == nil {
			t = &Tensor{}
		}
		out[i] = t
	}
	return out
}

// Cast returns t converted to element type dt (t itself when it has that
// type); its gradient is converted back to t's type.
func Cast(t *Tensor, dt DType) *Tensor {
	e := sameEngine("Cast", t)
	from := t.DType()
	if from == dt {
		return t
	}
	out := e.converted(t, dt)
	return e.record("Cast", out, []*Tensor{t}, func(g *Tensor) []*Tensor {
		return []*Tensor{Cast(g, from)}
	})
}

// computeType is the type a GEMM-like op computes in and returns: the
// autocast type when autocast is on, else its inputs' common type (the
// backend's own when they differ).
func (e *Engine) computeType(ts ...*Tensor) DType {
	if h, on := e.half(); on {
		return h
	}
	return e.promote(ts...)
}

// promote is the result type of an op mixing ts: their type when they
// agree, else the backend's own (a half and a float32 make a float32).
func (e *Engine) promote(ts ...*Tensor) DType {
	dt := ts[0].DType()
	for _, t := range ts[1:] {
		if t.DType() != dt {
			return e.b.DType()
		}
	}
	return dt
}
