//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/mocogo/mocogo/engine"
)

// Backend is engine.Backend on a GPU: fp32 storage on the device (master
// weights, activations, gradients), GEMMs on the tensor cores with
// operands cast to fp16 and fp32 accumulation and output, attention by
// the fp16 flash kernels for head dims 32 and 64 (a plain fp32 kernel
// otherwise), and every statistic (LayerNorm, BatchNorm, softmax, the loss)
// in fp32. All work goes to the device's stream in order; Download is the
// only point that waits for it.
//
// Methods panic on a driver error: the Backend interface has no error
// results, and a failed launch means the device is unusable.
type Backend struct {
	d *Device
}

// NewBackend returns a backend computing on d.
func NewBackend(d *Device) *Backend { return &Backend{d: d} }

// Device returns the backend's device.
func (b *Backend) Device() *Device { return b.d }

// storage is a device buffer of n float32 values.
type storage struct {
	buf *Buffer
	n   int
}

func (s *storage) Len() int            { return s.n }
func (s *storage) DType() engine.DType { return engine.F32 }

// Buffer returns the device buffer behind a storage made by a Backend.
func StorageBuffer(s engine.Storage) *Buffer { return buf(s) }

func buf(s engine.Storage) *Buffer {
	if s == nil {
		return nil
	}
	st, ok := s.(*storage)
	if !ok {
		panic(fmt.Sprintf("cuda.Backend: storage %T is not from a CUDA backend", s))
	}
	if st.buf == nil || st.buf.ptr == 0 {
		panic("cuda.Backend: storage used after Release")
	}
	return st.buf
}

func try(op string, err error) {
	if err != nil {
		panic(fmt.Sprintf("cuda.Backend.%s: %v", op, err))
	}
}

func (b *Backend) Name() string        { return "cuda-f32 (" + b.d.Name() + ")" }
func (b *Backend) DType() engine.DType { return engine.F32 }

func (b *Backend) Alloc(n int) engine.Storage {
	bf, err := b.d.AllocF32(n)
	try("Alloc", err)
	return &storage{buf: bf, n: n}
}

func (b *Backend) Release(s engine.Storage) {
	if s == nil {
		return
	}
	st := s.(*storage)
	if st.buf != nil {
		st.buf.Free()
		st.buf = nil
	}
}

func (b *Backend) PeakBytes() int64 { return b.d.MemStats().Peak }

func (b *Backend) Upload(dst engine.Storage, src []float64) {
	f := make([]float32, len(src))
	for i, v := range src {
		f[i] = float32(v)
	}
	b.Upload32(dst, f)
}

func (b *Backend) Upload32(dst engine.Storage, src []float32) {
	try("Upload", buf(dst).CopyFromF32(src))
}

func (b *Backend) Download(dst []float64, src engine.Storage) {
	f := make([]float32, len(dst))
	b.Download32(f, src)
	for i, v := range f {
		dst[i] = float64(v)
	}
}

func (b *Backend) Download32(dst []float32, src engine.Storage) {
	try("Download", buf(src).CopyToF32(dst))
}

// scratch returns a temporary device buffer of bytes; the caller frees it
// (the stream orders its reuse after the kernels that use it).
func (b *Backend) scratch(bytes int64) *Buffer {
	bf, err := b.d.Alloc(bytes)
	try("scratch", err)
	return bf
}

// grid1 is the grid for an element-wise kernel over n elements, four per
// thread, at most a few waves (the kernels grid-stride).
func (b *Backend) grid1(n int) Dim3 {
	g := (n/4 + 255) / 256
	if g < 1 {
		g = 1
	}
	if lim := 8 * b.d.sms; g > lim {
		g = lim
	}
	return D1(g)
}

func (b *Backend) ew(kernel string, n int, args ...any) {
	if n == 0 {
		return
	}
	try(kernel, b.d.Launch("elementwise", kernel, b.grid1(n), D1(256), 0, args...))
}

func (b *Backend) rc(kernel string, grid, block Dim3, smem int, args ...any) {
	try(kernel, b.d.Launch("rowcol", kernel, grid, block, smem, args...))
}

func (b *Backend) Fill(dst engine.Storage, v float64) {
	n := dst.Len()
	b.ew("ew_fill", n, buf(dst), float32(v), int64(n))
}

func (b *Backend) Copy(dst, src engine.Storage) {
	n := min(dst.Len(), src.Len())
	if n == 0 {
		return
	}
	try("Copy", buf(dst).CopyFrom(buf(src), 4*int64(n)))
}

func (b *Backend) Axpy(dst engine.Storage, alpha float64, x engine.Storage) {
	n := x.Len()
	b.ew("ew_axpy", n, buf(dst), float32(alpha), buf(x), int64(n))
}

func (b *Backend) Scale(dst, src engine.Storage, alpha float64) {
	n := src.Len()
	b.ew("ew_scale", n, buf(dst), buf(src), float32(alpha), int64(n))
}

func (b *Backend) Binary(op engine.BinaryOp, dst, a, bb engine.Storage) {
	n, nb := a.Len(), bb.Len()
	if nb == 0 {
		return
	}
	b.ew("ew_binary", n, int32(op), buf(dst), buf(a), buf(bb), int64(n), int64(nb))
}

func (b *Backend) SumRows(dst, src engine.Storage, rows, cols int, beta float64) {
	if cols == 0 {
		return
	}
	cb := (cols + 31) / 32
	parts := (rows + 63) / 64
	if want := (2*b.d.sms + cb - 1) / cb; parts > want {
		parts = want
	}
	parts = max(parts, 1)
	chunk := (rows + parts - 1) / parts
	chunk = max((chunk+7)&^7, 8)
	parts = max((rows+chunk-1)/chunk, 1)
	if parts == 1 {
		b.rc("sum_rows_part", Dim3{cb, 1, 1}, Dim3{32, 8, 1}, 0, buf(dst), nil, buf(src), int32(rows), int32(cols), int32(chunk), float32(beta))
		return
	}
	part := b.scratch(4 * int64(parts*cols))
	defer part.Free()
	b.rc("sum_rows_part", Dim3{cb, parts, 1}, Dim3{32, 8, 1}, 0, buf(dst), part, buf(src), int32(rows), int32(cols), int32(chunk), float32(beta))
	b.rc("sum_rows_final", D1((cols+255)/256), D1(256), 0, buf(dst), part, int32(parts), int32(cols), float32(beta))
}

// sumInto sets dst[0] = scale·Σ src[0..n) in two deterministic stages.
func (b *Backend) sumInto(dst, src *Buffer, n int, scale float32) {
	g := (n/4 + 255) / 256
	g = max(min(g, 2*b.d.sms), 1)
	part := b.scratch(4 * int64(g))
	defer part.Free()
	b.rc("sum_all_part", D1(g), D1(256), 0, part, src, int64(n))
	b.rc("sum_final", D1(1), D1(256), 0, dst, part, int32(g), scale)
}

func (b *Backend) SumAll(dst, src engine.Storage) {
	b.sumInto(buf(dst), buf(src), src.Len(), 1)
}

func (b *Backend) BroadcastScalar(dst, s engine.Storage, alpha float64) {
	n := dst.Len()
	b.ew("ew_broadcast", n, buf(dst), buf(s), float32(alpha), int64(n))
}

// toF16 returns an fp16 copy of the first n values of src (caller frees).
func (b *Backend) toF16(src *Buffer, n int) *Buffer {
	h := b.scratch(2 * int64(max(n, 1)))
	b.ew("cast_f32_f16", n, h, src, int64(n))
	return h
}

// fromF16 writes n fp16 values of src into dst as fp32.
func (b *Backend) fromF16(dst, src *Buffer, n int) {
	b.ew("cast_f16_f32", n, dst, src, int64(n))
}

// fp16 scale targets: an operand is scaled by a power of two so that its
// largest magnitude is just under 2^target before it is cast to fp16.
const (
	gemmScaleExp = 15 // GEMM operands: fp16's whole range (max 65504)
	attnScaleExp = 8  // the attention output gradient: headroom for dq, dk, dv
)

// scaledF16 returns an fp16 copy of the first n values of src multiplied by
// a power of two chosen on the device (no host round trip) and the scale
// pair [s, 1/s] (caller frees both): gradients, far below fp16's normal
// range, keep their precision (what a loss scaler does, per tensor).
func (b *Backend) scaledF16(src *Buffer, n int, target int) (h, sc *Buffer) {
	g := max(min((n/4+255)/256, 2*b.d.sms), 1)
	part := b.scratch(4 * int64(g))
	defer part.Free()
	sc = b.scratch(8)
	b.rc("amax_part", D1(g), D1(256), 0, part, src, int64(n))
	b.rc("amax_final", D1(1), D1(256), 0, sc, part, int32(g), int32(target))
	h = b.scratch(2 * int64(max(n, 1)))
	b.ew("cast_f32_f16_s", n, h, src, sc, int64(n))
	return h, sc
}

// Gemm casts A and B to fp16 once, each scaled by its own power of two,
// runs the fp16 tensor-core GEMM (fp32 accumulation and output) per
// product, and divides the scales out of the fp32 result. strideC 0 with
// batch > 1 sums the products into C (C = alpha·Σ op(A_i)·op(B_i) + beta·C).
func (b *Backend) Gemm(transA, transB bool, batch, m, n, k int, alpha float64, a engine.Storage, strideA int, bs engine.Storage, strideB int, beta float64, c engine.Storage, strideC int) {
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	cb := buf(c)
	mn := m * n
	if k == 0 { // no product: C = beta·C
		for i := 0; i < batch; i++ {
			if strideC == 0 && i > 0 {
				break
			}
			cv := cb.View(4*int64(i*strideC), 4*int64(mn))
			if beta == 0 {
				b.ew("ew_fill", mn, cv, float32(0), int64(mn))
			} else {
				b.ew("ew_scale", mn, cv, cv, float32(beta), int64(mn))
			}
		}
		return
	}
	if batch > 1 && strideC%2 != 0 {
		// The GEMM's epilogue stores pairs of floats and needs each C
		// 8-byte aligned: run on an even-strided copy of C.
		pad := strideC + 1
		tmp := b.scratch(4 * int64(batch*pad))
		defer tmp.Free()
		if beta != 0 {
			b.copyAxis(tmp, pad, cb, strideC, batch, mn)
		}
		ts := &storage{buf: tmp, n: batch * pad}
		b.Gemm(transA, transB, batch, m, n, k, alpha, a, strideA, bs, strideB, beta, ts, pad)
		b.copyAxis(cb, strideC, tmp, pad, batch, mn)
		return
	}
	sizeA, sizeB := m*k, k*n
	if batch > 1 {
		// Each product's fp16 operands must start 16-byte aligned for the
		// GEMM (the kernels load at least pairs): restride odd strides.
		var freeA, freeB func()
		a, strideA, freeA = b.restride(a, strideA, sizeA, batch)
		defer freeA()
		bs, strideB, freeB = b.restride(bs, strideB, sizeB, batch)
		defer freeB()
	}
	na := (batch-1)*strideA + sizeA
	nb := (batch-1)*strideB + sizeB
	ha, sa := b.scaledF16(buf(a), na, gemmScaleExp)
	defer ha.Free()
	defer sa.Free()
	hb, sb := b.scaledF16(buf(bs), nb, gemmScaleExp)
	defer hb.Free()
	defer sb.Free()
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	// With beta ≠ 0 the scaled product goes to a temporary first, then
	// C = product/scales + beta·C; with beta = 0 straight into C.
	var tmp *Buffer
	if beta != 0 {
		tmp = b.scratch(4 * int64(mn))
		defer tmp.Free()
	}
	for i := 0; i < batch; i++ {
		av := ha.View(2*int64(i*strideA), 2*int64(sizeA))
		bv := hb.View(2*int64(i*strideB), 2*int64(sizeB))
		cv := cb.View(4*int64(i*strideC), 4*int64(mn))
		dst := cv
		if tmp != nil {
			dst = tmp
		}
		var be float32
		if strideC == 0 && i > 0 {
			be = 1 // accumulate the batch
		}
		try("Gemm", b.d.GemmF16(transA, transB, m, n, k, float32(alpha), av, lda, bv, ldb, be, dst, n, Epilogue{}))
		if strideC != 0 || i == batch-1 {
			b.ew("unscale2", mn, cv, dst, sa, sb, float32(beta), int64(mn))
		}
	}
}

// copyAxis copies count leading elements of each of outer rows from src
// (row stride sStride) to dst (row stride dStride).
// restride returns x's batch of matrices (size elements each, stride
// apart) at a stride that is a multiple of 8, copied into a scratch buffer
// that free releases; or x itself and a no-op free when the stride already
// is one, or is 0 (one matrix shared by the batch).
func (b *Backend) restride(x engine.Storage, stride, size, batch int) (engine.Storage, int, func()) {
	if stride == 0 || stride%8 == 0 {
		return x, stride, func() {}
	}
	pad := (stride + 7) &^ 7
	tmp := b.scratch(4 * int64(batch*pad))
	b.copyAxis(tmp, pad, buf(x), stride, batch, size)
	return &storage{buf: tmp, n: batch * pad}, pad, func() { tmp.Free() }
}

func (b *Backend) copyAxis(dst *Buffer, dStride int, src *Buffer, sStride int, outer, count int) {
	n := outer * count
	g := max(min((n+255)/256, 8*b.d.sms), 1)
	try("Gemm", b.d.Launch("elementwise", "copy_axis", D1(g), D1(256), 0, dst, int64(dStride), int64(0),
		src, int64(sStride), int64(0), int64(outer), int64(count), int64(1), false))
}

func (b *Backend) Unary(op engine.UnaryOp, dst, x engine.Storage) {
	n := x.Len()
	b.ew("ew_unary", n, int32(op), buf(dst), buf(x), int64(n))
}

func (b *Backend) UnaryBackward(op engine.UnaryOp, dx, x, dy engine.Storage) {
	n := x.Len()
	b.ew("ew_unary_bwd", n, int32(op), buf(dx), buf(x), buf(dy), int64(n))
}

// fastLN reports whether layernorm.cu's register kernels take the width.
func fastLN(cols int) bool { return cols > 0 && cols%4 == 0 && cols <= 1024 }

func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta engine.Storage, rows, cols int, eps float64) {
	if rows == 0 || cols == 0 {
		return
	}
	if fastLN(cols) {
		try("LayerNorm", b.d.LayerNormForward(buf(y), buf(x), buf(gamma), buf(beta), buf(mean), buf(rstd), rows, cols, float32(eps)))
		return
	}
	b.rc("ln_fwd_any", D1(rows), D1(256), 0, buf(y), buf(mean), buf(rstd), buf(x), buf(gamma), buf(beta), int32(cols), float32(eps))
}

func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd engine.Storage, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	if fastLN(cols) {
		try("LayerNormBackward", b.d.LayerNormBackward(buf(dx), buf(dy), buf(x), buf(gamma), buf(mean), buf(rstd), buf(dgamma), buf(dbeta), rows, cols))
		return
	}
	b.rc("ln_bwd_any", D1(rows), D1(256), 0, buf(dx), buf(dy), buf(x), buf(gamma), buf(mean), buf(rstd), int32(cols))
	if dgamma != nil || dbeta != nil {
		b.rc("ln_bwd_cols", D1((cols+31)/32), Dim3{32, 8, 1}, 0, buf(dgamma), buf(dbeta), buf(dy), buf(x), buf(mean), buf(rstd), int32(rows), int32(cols))
	}
}

func (b *Backend) BatchNorm(y, mean, rstd, x, gamma, beta, runMean, runVar engine.Storage, rows, cols int, training bool, momentum, eps float64) {
	if cols == 0 {
		return
	}
	b.rc("bn_fwd", D1((cols+31)/32), Dim3{32, 8, 1}, 0, buf(y), buf(mean), buf(rstd), buf(x), buf(gamma), buf(beta),
		buf(runMean), buf(runVar), int32(rows), int32(cols), training, float32(momentum), float32(eps))
}

func (b *Backend) BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd engine.Storage, rows, cols int) {
	if cols == 0 {
		return
	}
	b.rc("bn_bwd", D1((cols+31)/32), Dim3{32, 8, 1}, 0, buf(dx), buf(dgamma), buf(dbeta), buf(dy), buf(x), buf(gamma),
		buf(mean), buf(rstd), int32(rows), int32(cols))
}

func (b *Backend) Softmax(y, x engine.Storage, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	b.rc("softmax_fwd", D1(rows), D1(256), 0, buf(y), buf(x), int32(cols))
}

func (b *Backend) SoftmaxBackward(dx, y, dy engine.Storage, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	b.rc("softmax_bwd", D1(rows), D1(256), 0, buf(dx), buf(y), buf(dy), int32(cols))
}

// flashOK reports whether the fp16 flash kernels take the shape: head dim
// 32 or 64 with the standard 1/√D scale they hard-wire.
func flashOK(headDim int, scale float64) bool {
	return (headDim == 32 || headDim == 64) && math.Abs(scale*math.Sqrt(float64(headDim))-1) < 1e-6
}

func (b *Backend) attn32Smem(tokens, headDim int) int {
	smem := 4 * (2*tokens + 2*headDim)
	if smem > b.d.smem {
		panic(fmt.Sprintf("cuda.Backend.Attention: %d tokens × head dim %d needs %d bytes of shared memory in the fp32 fallback", tokens, headDim, smem))
	}
	return smem
}

func (b *Backend) Attention(out, lse, qkv engine.Storage, batch, tokens, heads, headDim int, scale float64) {
	if batch == 0 || tokens == 0 {
		return
	}
	elems := batch * tokens * heads * headDim
	if flashOK(headDim, scale) {
		hq := b.toF16(buf(qkv), 3*elems)
		defer hq.Free()
		ho := b.scratch(2 * int64(elems))
		defer ho.Free()
		try("Attention", b.d.AttentionForward(hq, ho, buf(lse), batch, tokens, heads, headDim))
		b.fromF16(buf(out), ho, elems)
		return
	}
	b.rc("attn32_fwd", Dim3{tokens, batch * heads, 1}, D1(256), b.attn32Smem(tokens, headDim),
		buf(out), buf(lse), buf(qkv), int32(tokens), int32(heads), int32(headDim), float32(scale))
}

func (b *Backend) AttentionBackward(dqkv, dout, qkv, out, lse engine.Storage, batch, tokens, heads, headDim int, scale float64) {
	if batch == 0 || tokens == 0 {
		return
	}
	elems := batch * tokens * heads * headDim
	if flashOK(headDim, scale) {
		hq := b.toF16(buf(qkv), 3*elems)
		defer hq.Free()
		ho := b.toF16(buf(out), elems)
		defer ho.Free()
		// The gradient is linear in dout: scale it into fp16's range and
		// divide the scale out of dqkv.
		hdo, sd := b.scaledF16(buf(dout), elems, attnScaleExp)
		defer hdo.Free()
		defer sd.Free()
		hdq := b.scratch(6 * int64(elems))
		defer hdq.Free()
		try("AttentionBackward", b.d.AttentionBackward(hq, ho, hdo, buf(lse), hdq, batch, tokens, heads, headDim))
		b.ew("cast_f16_f32_s", 3*elems, buf(dqkv), hdq, sd, int64(3*elems))
		return
	}
	smem := b.attn32Smem(tokens, headDim)
	dvec := b.scratch(4 * int64(batch*heads*tokens))
	defer dvec.Free()
	grid := Dim3{tokens, batch * heads, 1}
	b.rc("attn32_bwd_dq", grid, D1(256), smem, buf(dqkv), dvec, buf(dout), buf(qkv), buf(out), buf(lse),
		int32(tokens), int32(heads), int32(headDim), float32(scale))
	b.rc("attn32_bwd_dkdv", grid, D1(256), smem, buf(dqkv), dvec, buf(dout), buf(qkv), buf(lse),
		int32(tokens), int32(heads), int32(headDim), float32(scale))
}

func (b *Backend) L2Normalize(y, norm, x engine.Storage, rows, cols int, eps float64) {
	if rows == 0 {
		return
	}
	b.rc("l2n_fwd", D1(rows), D1(256), 0, buf(y), buf(norm), buf(x), int32(cols), float32(eps))
}

func (b *Backend) L2NormalizeBackward(dx, dy, y, norm engine.Storage, rows, cols int) {
	if rows == 0 {
		return
	}
	b.rc("l2n_bwd", D1(rows), D1(256), 0, buf(dx), buf(dy), buf(y), buf(norm), int32(cols))
}

// CrossEntropy uploads the labels (a small synchronous copy), computes each
// row's loss and dlogits, then the mean of the row losses.
func (b *Backend) CrossEntropy(loss, dlogits, logits engine.Storage, labels []int32, rows, cols int) {
	if rows == 0 {
		b.Fill(loss, 0)
		return
	}
	lab := b.scratch(4 * int64(rows))
	defer lab.Free()
	try("CrossEntropy", lab.copyIn(unsafe.Pointer(&labels[0]), 4*int64(rows), "CrossEntropy labels"))
	runtime.KeepAlive(labels)
	rl := b.scratch(4 * int64(rows))
	defer rl.Free()
	b.rc("ce_fwd", D1(rows), D1(256), 0, rl, buf(dlogits), buf(logits), lab, int32(cols), float32(1/float64(rows)))
	b.rc("sum_final", D1(1), D1(256), 0, buf(loss), rl, int32(rows), float32(1/float64(rows)))
}

func (b *Backend) Permute(dst, src engine.Storage, shape, perm []int) {
	r := len(shape)
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n == 0 {
		return
	}
	if r > 6 {
		panic(fmt.Sprintf("cuda.Backend.Permute: %d axes (at most 6)", r))
	}
	srcStride := make([]int, r)
	st := 1
	for i := r - 1; i >= 0; i-- {
		srcStride[i] = st
		st *= shape[i]
	}
	var dims, steps [6]int64
	for i := range dims {
		dims[i] = 1
	}
	for i, p := range perm {
		dims[6-r+i], steps[6-r+i] = int64(shape[p]), int64(srcStride[p])
	}
	g := max(min((n+255)/256, 8*b.d.sms), 1)
	try("Permute", b.d.Launch("elementwise", "permute6", D1(g), D1(256), 0, buf(dst), buf(src), int64(n),
		dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], steps[0], steps[1], steps[2], steps[3], steps[4], steps[5]))
}

func (b *Backend) CopyAxis(dst engine.Storage, dstAxis, dstOff int, src engine.Storage, srcAxis, srcOff int, outer, count, inner int, accumulate bool) {
	n := outer * count * inner
	if n == 0 {
		return
	}
	g := max(min((n+255)/256, 8*b.d.sms), 1)
	try("CopyAxis", b.d.Launch("elementwise", "copy_axis", D1(g), D1(256), 0, buf(dst), int64(dstAxis), int64(dstOff),
		buf(src), int64(srcAxis), int64(srcOff), int64(outer), int64(count), int64(inner), accumulate))
}

func (b *Backend) AdamW(param, grad, m, v engine.Storage, lr, beta1, beta2, eps, wd float64, t int) {
	n := param.Len()
	bc1 := 1 - math.Pow(beta1, float64(t))
	bc2 := math.Sqrt(1 - math.Pow(beta2, float64(t)))
	b.ew("opt_adamw", n, buf(param), buf(grad), buf(m), buf(v), float32(1-lr*wd), float32(lr/bc1),
		float32(beta1), float32(beta2), float32(1/bc2), float32(eps), int64(n))
}

// adamChunk is the number of elements one block of opt_adamw_multi updates.
const adamChunk = 16384

// AdamWMulti is AdamW over every tensor of the lists in one launch
// (engine.MultiAdamW): a table of chunks is uploaded, one block per chunk.
func (b *Backend) AdamWMulti(params, grads, ms, vs []engine.Storage, lr, beta1, beta2, eps, wd float64, t int) {
	var tab []int64
	for i, p := range params {
		n := p.Len()
		pp, gp, mp, vp := buf(p).ptr, buf(grads[i]).ptr, buf(ms[i]).ptr, buf(vs[i]).ptr
		for off := 0; off < n; off += adamChunk {
			o := 4 * int64(off)
			tab = append(tab, int64(pp)+o, int64(gp)+o, int64(mp)+o, int64(vp)+o, int64(min(adamChunk, n-off)))
		}
	}
	chunks := len(tab) / 5
	if chunks == 0 {
		return
	}
	tb := b.scratch(8 * int64(len(tab)))
	defer tb.Free()
	try("AdamWMulti", tb.copyIn(unsafe.Pointer(&tab[0]), 8*int64(len(tab)), "AdamWMulti table"))
	runtime.KeepAlive(tab)
	bc1 := 1 - math.Pow(beta1, float64(t))
	bc2 := math.Sqrt(1 - math.Pow(beta2, float64(t)))
	try("AdamWMulti", b.d.Launch("elementwise", "opt_adamw_multi", D1(chunks), D1(256), 0, tb, float32(1-lr*wd), float32(lr/bc1),
		float32(beta1), float32(beta2), float32(1/bc2), float32(eps)))
}

func (b *Backend) SGD(param, grad, bufm engine.Storage, lr, momentum, wd float64, first bool) {
	n := param.Len()
	var mb *Buffer
	if momentum != 0 {
		mb = buf(bufm)
	}
	b.ew("opt_sgd", n, buf(param), buf(grad), mb, float32(lr), float32(momentum), float32(wd), first, int64(n))
}

func (b *Backend) EMA(dst, src engine.Storage, m float64) {
	n := dst.Len()
	b.ew("opt_ema", n, buf(dst), buf(src), float32(m), float32(1-m), int64(n))
}

var (
	_ engine.Backend    = (*Backend)(nil)
	_ engine.MultiAdamW = (*Backend)(nil)
)
