package engine

import "fmt"

// DType is the element type of a tensor's storage.
type DType uint8

const (
	F32  DType = iota // IEEE float32: the CPU training type
	F64               // float64: gradient checks and references on the CPU
	F16               // IEEE half: GPU GEMM and attention operands
	BF16              // bfloat16: GPU option
)

func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F64:
		return "f64"
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	}
	return "dtype?"
}

// Size reports the bytes per element.
func (d DType) Size() int {
	switch d {
	case F64:
		return 8
	case F16, BF16:
		return 2
	}
	return 4
}

// Storage is a buffer of elements owned by a Backend. Its bytes may live on
// a device the host cannot address: only the owning backend reads them.
type Storage interface {
	Len() int
	DType() DType
}

// BinaryOp names an elementwise operation of two operands.
type BinaryOp uint8

const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
)

// UnaryOp names an elementwise activation.
type UnaryOp uint8

const (
	OpGELU UnaryOp = iota // exact GELU, x·Φ(x)
	OpReLU
)

// Backend is what a device must provide. Every method works on storages the
// backend allocated; none reads device data back to the host except
// Download. A backend may run the work asynchronously (in order, on one
// stream): Download is the only synchronisation point.
//
// Sizes are passed explicitly; the engine has checked them, so a backend
// may assume they fit. Optional storages (gamma, beta) are nil when absent.
//
// Optional extensions, found by type assertion so that adding one breaks
// no backend: SquareSummer (sumsq.go), a sum of squares left on the
// device, for gradient and weight norms without a read-back per tensor.
type Backend interface {
	Name() string
	// DType is the element type of the tensors this backend computes in.
	DType() DType

	// Alloc returns a buffer of n elements with undefined contents, reusing
	// a released one when it can. Release gives a buffer back for reuse.
	Alloc(n int) Storage
	Release(s Storage)
	// PeakBytes reports the most bytes held at once since the backend began.
	PeakBytes() int64

	Upload(dst Storage, src []float64)
	Upload32(dst Storage, src []float32)
	Download(dst []float64, src Storage)
	Download32(dst []float32, src Storage)

	Fill(dst Storage, v float64)
	Copy(dst, src Storage)
	// Axpy sets dst += alpha·x.
	Axpy(dst Storage, alpha float64, x Storage)
	// Scale sets dst = alpha·src.
	Scale(dst, src Storage, alpha float64)
	// Binary sets dst[i] = a[i] op b[i mod len(b)]: b is either a's shape
	// or a trailing block of it repeated (a bias row, a scalar).
	Binary(op BinaryOp, dst, a, b Storage)
	// SumRows sets dst[c] = beta·dst[c] + Σ_r src[r·cols+c].
	SumRows(dst, src Storage, rows, cols int, beta float64)
	// SumAll sets dst[0] = Σ src.
	SumAll(dst, src Storage)
	// BroadcastScalar sets dst[i] = alpha·s[0].
	BroadcastScalar(dst, s Storage, alpha float64)

	// Gemm computes, for each of batch products, C = alpha·op(A)·op(B) +
	// beta·C with row-major matrices packed at the given strides between
	// products (stride 0 reuses one matrix for every product). strideC 0
	// with batch > 1 sums the products into one C: C = alpha·Σ_i
	// op(A_i)·op(B_i) + beta·C (the gradient of a shared matrix).
	Gemm(transA, transB bool, batch, m, n, k int, alpha float64, a Storage, strideA int, b Storage, strideB int, beta float64, c Storage, strideC int)

	Unary(op UnaryOp, dst, x Storage)
	// UnaryBackward sets dx = dy ⊙ op'(x).
	UnaryBackward(op UnaryOp, dx, x, dy Storage)

	LayerNorm(y, mean, rstd, x, gamma, beta Storage, rows, cols int, eps float64)
	// LayerNormBackward writes dx and adds into dgamma, dbeta (nil: skip).
	LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd Storage, rows, cols int)

	// BatchNorm normalises each of cols features over rows samples. In
	// training it uses the batch statistics (saved in mean and rstd) and
	// updates runMean/runVar (unbiased variance) with momentum when they
	// are non-nil; in eval it uses runMean/runVar.
	BatchNorm(y, mean, rstd, x, gamma, beta, runMean, runVar Storage, rows, cols int, training bool, momentum, eps float64)
	// BatchNormBackward is the training-mode gradient; it writes dx and
	// adds into dgamma, dbeta (nil: skip).
	BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd Storage, rows, cols int)

	Softmax(y, x Storage, rows, cols int)
	SoftmaxBackward(dx, y, dy Storage, rows, cols int)

	// Attention is softmax(scale·QKᵀ)·V per batch and head, reading q, k,
	// v from qkv laid out [batch, tokens, 3, heads, headDim] and writing
	// out as [batch, tokens, heads, headDim] and the log-sum-exp of each
	// score row as lse [batch, heads, tokens].
	Attention(out, lse, qkv Storage, batch, tokens, heads, headDim int, scale float64)
	AttentionBackward(dqkv, dout, qkv, out, lse Storage, batch, tokens, heads, headDim int, scale float64)

	// L2Normalize sets y = x/max(‖x‖, eps) per row and saves the clamped
	// norms.
	L2Normalize(y, norm, x Storage, rows, cols int, eps float64)
	L2NormalizeBackward(dx, dy, y, norm Storage, rows, cols int)

	// CrossEntropy sets loss[0] to the mean over rows of −log softmax(x)[label]
	// and dlogits to its gradient (softmax − onehot)/rows.
	CrossEntropy(loss, dlogits, logits Storage, labels []int32, rows, cols int)

	// Permute copies src, a dense array of the given shape, into dst with
	// its axes reordered: dst axis i is src axis perm[i].
	Permute(dst, src Storage, shape, perm []int)
	// CopyAxis views src as [outer, srcAxis, inner] and dst as
	// [outer, dstAxis, inner] and copies (or adds, when accumulate) count
	// slices along the middle axis, from srcOff onwards to dstOff onwards.
	CopyAxis(dst Storage, dstAxis, dstOff int, src Storage, srcAxis, srcOff int, outer, count, inner int, accumulate bool)

	// AdamW updates param in place with PyTorch's AdamW: decoupled weight
	// decay param -= lr·wd·param, then the Adam step with bias correction
	// for step t (1-based), moments m and v updated in place.
	AdamW(param, grad, m, v Storage, lr, beta1, beta2, eps, wd float64, t int)
	// SGD updates param in place with PyTorch's SGD with momentum (and
	// dampening 0, no Nesterov): buf = momentum·buf + (grad + wd·param),
	// param -= lr·buf. first marks the first step, when buf = grad + wd·param.
	SGD(param, grad, buf Storage, lr, momentum, wd float64, first bool)
	// EMA sets dst = m·dst + (1−m)·src (the momentum encoder's update).
	EMA(dst, src Storage, m float64)
}

// MultiAdamW is an optional Backend method: AdamW over several tensors
// with the same hyperparameters and step in one go (one launch on a GPU
// instead of one per tensor). nn.AdamW uses it when the backend has it;
// the result must equal AdamW on each tensor.
type MultiAdamW interface {
	AdamWMulti(params, grads, ms, vs []Storage, lr, beta1, beta2, eps, wd float64, t int)
}

// MultiUpdater is an optional Backend extension: EMA and an in-place Scale
// over many float32 storages in one go (one launch on a GPU instead of one
// per storage). EMAAll sets each dsts[i] = m·dsts[i] + (1−m)·srcs[i];
// ScaleAll sets each xs[i] = alpha·xs[i]. The storages updated must be
// distinct and must not overlap (a backend may update them all at once).
// The results must equal EMA and Scale on each storage. EMAAll and ScaleAll
// below fall back to those.
type MultiUpdater interface {
	EMAAll(dsts, srcs []Storage, m float64)
	ScaleAll(xs []Storage, alpha float64)
}

// EMAAll runs b's EMA on every pair of dsts and srcs, at once where b is a
// MultiUpdater.
func EMAAll(b Backend, dsts, srcs []Storage, m float64) {
	if len(dsts) != len(srcs) {
		panic(fmt.Sprintf("engine: EMAAll of %d destinations and %d sources", len(dsts), len(srcs)))
	}
	if mu, ok := b.(MultiUpdater); ok {
		mu.EMAAll(dsts, srcs, m)
		return
	}
	for i := range dsts {
		b.EMA(dsts[i], srcs[i], m)
	}
}

// ScaleAll scales every storage of xs by alpha in place, at once where b
// is a MultiUpdater.
func ScaleAll(b Backend, xs []Storage, alpha float64) {
	if mu, ok := b.(MultiUpdater); ok {
		mu.ScaleAll(xs, alpha)
		return
	}
	for _, x := range xs {
		b.Scale(x, x, alpha)
	}
}

// MixedPrecision is an optional Backend extension for autocast
// (Engine.SetAutocast): storages of a half type (F16 or BF16) beside the
// backend's own float32, in any mix, as the operands and results of
//
//   - Copy (which then converts), Fill, Axpy, Scale, Binary, Unary,
//     UnaryBackward, Permute and CopyAxis;
//   - Gemm (a, b and c), and GemmBias when the backend has it;
//   - SumRows (src; dst stays float32);
//   - LayerNorm (x and y) and LayerNormBackward (dy, x and dx);
//   - Attention (qkv and out; lse stays float32) and AttentionBackward
//     (dout, qkv, out and dqkv);
//   - Upload, Upload32, Download and Download32 (converting), and
//     SquareSummer.
//
// Every other method takes float32 storages only: the engine converts
// before calling them. Arithmetic runs in float32 or wider; a half result
// is rounded to nearest even. Release takes storages of any type.
type MixedPrecision interface {
	// HalfTypes reports which of F16 and BF16 AllocAs accepts.
	HalfTypes() []DType
	// AllocAs is Alloc for a storage of element type dt: the backend's own
	// type or one that HalfTypes lists.
	AllocAs(dt DType, n int) Storage
}

// BiasGemm is an optional Backend extension: a Linear layer's forward in
// one pass, C = op(A)·op(B) + bias (bias broadcast over C's m rows, n
// float32 values), then C = GELU(C) when gelu is set. A, B and C may be of
// a half type where the backend has MixedPrecision. The result must equal
// Gemm (batch 1, alpha 1, beta 0) followed by Binary(OpAdd) and Unary,
// except for rounding.
type BiasGemm interface {
	GemmBias(transA, transB bool, m, n, k int, a, b, bias, c Storage, gelu bool)
}

// ResidualGemm is an optional Backend extension: a Linear layer's forward
// with its residual added, C = op(A)·op(B) + bias + R (bias n float32
// values or nil, R m×n of C's type, C a storage of its own), so that a
// backend can add R in the product's epilogue instead of a pass of its own.
// The result must equal GemmBias (gelu false) followed by Axpy(C, 1, R),
// except for rounding.
type ResidualGemm interface {
	GemmBiasResidual(transA, transB bool, m, n, k int, a, b, bias, r, c Storage)
}

// GELUGradGemm is an optional Backend extension: the gradient through an
// exact GELU formed in the product that brings it, C = (op(A)·op(B)) ⊙
// GELU′(H), H (the GELU's input) of C's shape and type, so that a backend
// can apply GELU′ in the product's epilogue instead of a pass of its own.
// The result must equal Gemm (batch 1, alpha 1, beta 0) followed by
// UnaryBackward(OpGELU, C, H, C), except for rounding.
type GELUGradGemm interface {
	GemmGELUGrad(transA, transB bool, m, n, k int, a, b, h, c Storage)
}

// AsyncUploader is an optional Backend extension: uploads that run beside
// the device work queued before them (a copy engine on a stream of its
// own), so that the next batch crosses the bus while this step computes.
//
// UploadAsync starts copying src into dst, a storage of the backend's own
// type, and returns once src may change (the data has been staged); it may
// be called from another goroutine than the one running ops, for a storage
// no op uses until AwaitUploads. FenceUploads orders the uploads started
// after it behind the ops enqueued before it (whose memory the allocator
// may since have handed to an upload's destination). AwaitUploads orders
// every op enqueued after it behind every upload started so far. Neither
// makes the host wait.
type AsyncUploader interface {
	UploadAsync(dst Storage, src []float32) error
	FenceUploads() error
	AwaitUploads() error
}
