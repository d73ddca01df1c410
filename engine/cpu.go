package engine

import (
	"fmt"
	"math"

	"github.com/mocogo/mocogo/kernels"
)

// float is the element type of CPU storage.
type float interface{ ~float32 | ~float64 }

// cpuBuf is CPU storage: a Go slice of float32 or float64.
type cpuBuf[T float] struct{ d []T }

func (b *cpuBuf[T]) Len() int { return len(b.d) }

func (b *cpuBuf[T]) DType() DType {
	var z T
	if _, ok := any(z).(float64); ok {
		return F64
	}
	return F32
}

// window returns the storage from element off onwards, sharing memory.
func window(s Storage, off int) Storage {
	if h, ok := s.(*cpuHalf); ok {
		return &cpuHalf{d: h.d[off:], dt: h.dt}
	}
	if is64(s) {
		return &cpuBuf[float64]{d: f64(s)[off:]}
	}
	return &cpuBuf[float32]{d: f32(s)[off:]}
}

// CPU is the backend that computes on the host: float32 through the
// kernels package (AVX2/FMA where the processor has it), float64 through
// plain Go for gradient checks and references.
type CPU struct {
	dtype DType
	free  map[allocKey][]Storage // released buffers by type and exact length
	held  int64
	peak  int64
}

// NewCPU returns a CPU backend computing in dtype (F32 or F64).
func NewCPU(dtype DType) *CPU {
	if dtype != F32 && dtype != F64 {
		panic(fmt.Sprintf("engine.NewCPU: unsupported dtype %v", dtype))
	}
	return &CPU{dtype: dtype, free: map[allocKey][]Storage{}}
}

// allocKey is what a released buffer can be reused for.
type allocKey struct {
	dt DType
	n  int
}

func (c *CPU) Name() string     { return "cpu-" + c.dtype.String() }
func (c *CPU) DType() DType     { return c.dtype }
func (c *CPU) PeakBytes() int64 { return c.peak }

// Alloc reuses a released buffer of the same length when there is one: a
// training step asks for the same sizes every time, so after the first
// step nothing new is allocated.
func (c *CPU) Alloc(n int) Storage {
	key := allocKey{c.dtype, n}
	if l := c.free[key]; len(l) > 0 {
		s := l[len(l)-1]
		c.free[key] = l[:len(l)-1]
		return s
	}
	c.held += int64(n * c.dtype.Size())
	c.peak = max(c.peak, c.held)
	if c.dtype == F64 {
		return &cpuBuf[float64]{d: make([]float64, n)}
	}
	return &cpuBuf[float32]{d: make([]float32, n)}
}

func (c *CPU) Release(s Storage) {
	if s == nil {
		return
	}
	key := allocKey{s.DType(), s.Len()}
	c.free[key] = append(c.free[key], s)
}

// Trim drops every released buffer, returning their memory to Go's heap.
func (c *CPU) Trim() {
	for k, l := range c.free {
		c.held -= int64(k.n*k.dt.Size()) * int64(len(l))
	}
	clear(c.free)
}

func f32(s Storage) []float32 {
	if s == nil {
		return nil
	}
	return s.(*cpuBuf[float32]).d
}

func f64(s Storage) []float64 {
	if s == nil {
		return nil
	}
	return s.(*cpuBuf[float64]).d
}

func is64(s Storage) bool { _, ok := s.(*cpuBuf[float64]); return ok }

func (c *CPU) Upload(dst Storage, src []float64) {
	if h, ok := dst.(*cpuHalf); ok {
		w := make([]float32, len(src))
		convert(w, src)
		h.encode(w)
		return
	}
	if is64(dst) {
		copy(f64(dst), src)
		return
	}
	convert(f32(dst), src)
}

func (c *CPU) Upload32(dst Storage, src []float32) {
	if h, ok := dst.(*cpuHalf); ok {
		h.encode(src)
		return
	}
	if is64(dst) {
		convert(f64(dst), src)
		return
	}
	copy(f32(dst), src)
}

func (c *CPU) Download(dst []float64, src Storage) {
	if h, ok := src.(*cpuHalf); ok {
		w := make([]float32, len(dst))
		h.decode(w)
		convert(dst, w)
		return
	}
	if is64(src) {
		copy(dst, f64(src))
		return
	}
	convert(dst, f32(src))
}

func (c *CPU) Download32(dst []float32, src Storage) {
	if h, ok := src.(*cpuHalf); ok {
		h.decode(dst)
		return
	}
	if is64(src) {
		convert(dst, f64(src))
		return
	}
	copy(dst, f32(src))
}

func convert[D, S float](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

// each dispatches a generic body on the storage's element type.
func (c *CPU) Fill(dst Storage, v float64) {
	if anyHalf(dst) {
		done := widen(&dst)
		c.Fill(dst, v)
		done(&dst)
		return
	}
	if is64(dst) {
		fill(f64(dst), v)
	} else {
		fill(f32(dst), v)
	}
}

func fill[T float](d []T, v float64) {
	for i := range d {
		d[i] = T(v)
	}
}

func (c *CPU) Copy(dst, src Storage) {
	if anyHalf(dst, src) {
		done := widen(&dst, &src)
		c.Copy(dst, src)
		done(&dst)
		return
	}
	if is64(dst) {
		copy(f64(dst), f64(src))
	} else {
		copy(f32(dst), f32(src))
	}
}

func (c *CPU) Axpy(dst Storage, alpha float64, x Storage) {
	if anyHalf(dst, x) {
		done := widen(&dst, &x)
		c.Axpy(dst, alpha, x)
		done(&dst)
		return
	}
	if is64(dst) {
		axpy(f64(dst), alpha, f64(x))
	} else {
		kernels.Axpy(f32(dst), float32(alpha), f32(x))
	}
}

func axpy[T float](d []T, alpha float64, x []T) {
	a := T(alpha)
	for i, v := range x {
		d[i] += a * v
	}
}

func (c *CPU) Scale(dst, src Storage, alpha float64) {
	if anyHalf(dst, src) {
		done := widen(&dst, &src)
		c.Scale(dst, src, alpha)
		done(&dst)
		return
	}
	if is64(dst) {
		scale(f64(dst), f64(src), alpha)
	} else {
		scale(f32(dst), f32(src), alpha)
	}
}

func scale[T float](d, s []T, alpha float64) {
	a := T(alpha)
	for i, v := range s {
		d[i] = a * v
	}
}

func (c *CPU) Binary(op BinaryOp, dst, a, b Storage) {
	if anyHalf(dst, a, b) {
		done := widen(&dst, &a, &b)
		c.Binary(op, dst, a, b)
		done(&dst)
		return
	}
	if is64(dst) {
		binaryOp(op, f64(dst), f64(a), f64(b))
	} else {
		binaryOp(op, f32(dst), f32(a), f32(b))
	}
}

func binaryOp[T float](op BinaryOp, d, a, b []T) {
	if len(b) == 0 {
		return
	}
	for off := 0; off < len(a); off += len(b) {
		ar, dr := a[off:off+len(b)], d[off:off+len(b)]
		switch op {
		case OpAdd:
			for i, v := range b {
				dr[i] = ar[i] + v
			}
		case OpSub:
			for i, v := range b {
				dr[i] = ar[i] - v
			}
		case OpMul:
			for i, v := range b {
				dr[i] = ar[i] * v
			}
		}
	}
}

func (c *CPU) SumRows(dst, src Storage, rows, cols int, beta float64) {
	if anyHalf(dst, src) {
		done := widen(&dst, &src)
		c.SumRows(dst, src, rows, cols, beta)
		done(&dst)
		return
	}
	if is64(dst) {
		sumRows(f64(dst), f64(src), rows, cols, beta)
	} else {
		kernels.SumRows(f32(dst), f32(src), rows, cols, beta)
	}
}

// sumRows accumulates in float64, a block of columns at a time so the
// accumulator stays small and allocation-free.
func sumRows[T float](d, s []T, rows, cols int, beta float64) {
	var acc [256]float64
	for c0 := 0; c0 < cols; c0 += len(acc) {
		w := min(len(acc), cols-c0)
		a := acc[:w]
		clear(a)
		for r := 0; r < rows; r++ {
			for j, v := range s[r*cols+c0 : r*cols+c0+w] {
				a[j] += float64(v)
			}
		}
		for j, v := range a {
			if beta == 0 {
				d[c0+j] = T(v)
			} else {
				d[c0+j] = T(beta*float64(d[c0+j]) + v)
			}
		}
	}
}

func (c *CPU) SumAll(dst, src Storage) {
	if is64(dst) {
		f64(dst)[0] = sumAll(f64(src))
	} else {
		f32(dst)[0] = float32(sumAll(f32(src)))
	}
}

func sumAll[T float](s []T) float64 {
	var acc float64
	for _, v := range s {
		acc += float64(v)
	}
	return acc
}

func (c *CPU) BroadcastScalar(dst, s Storage, alpha float64) {
	if is64(dst) {
		fill(f64(dst), alpha*f64(s)[0])
	} else {
		fill(f32(dst), alpha*float64(f32(s)[0]))
	}
}

func (c *CPU) Gemm(transA, transB bool, batch, m, n, k int, alpha float64, a Storage, strideA int, b Storage, strideB int, beta float64, cs Storage, strideC int) {
	if anyHalf(a, b, cs) {
		done := widen(&a, &b, &cs)
		c.Gemm(transA, transB, batch, m, n, k, alpha, a, strideA, b, strideB, beta, cs, strideC)
		done(&cs)
		return
	}
	if strideC == 0 && batch > 1 {
		// Accumulate the products into one C.
		for i := 0; i < batch; i++ {
			be := beta
			if i > 0 {
				be = 1
			}
			c.Gemm(transA, transB, 1, m, n, k, alpha, window(a, i*strideA), 0, window(b, i*strideB), 0, be, cs, 0)
		}
		return
	}
	if is64(cs) {
		A, B, C := f64(a), f64(b), f64(cs)
		for i := 0; i < batch; i++ {
			gemmRef(transA, transB, m, n, k, alpha, A[i*strideA:], B[i*strideB:], beta, C[i*strideC:])
		}
		return
	}
	A, B, C := f32(a), f32(b), f32(cs)
	lda, ldb := packedLd(transA, transB, m, n, k)
	if batch == 1 {
		kernels.Sgemm(transA, transB, m, n, k, float32(alpha), A, lda, B, ldb, float32(beta), C, n)
		return
	}
	kernels.SgemmBatched(batch, transA, transB, m, n, k, float32(alpha), A, lda, strideA, B, ldb, strideB, float32(beta), C, n, strideC)
}

// packedLd is the row strides of A and B, stored packed (row-major, no
// padding), for op(A)·op(B) with op(A) m×k and op(B) k×n.
func packedLd(transA, transB bool, m, n, k int) (lda, ldb int) {
	lda, ldb = k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	return lda, ldb
}

// gemmRef is the plain product on packed row-major matrices.
func gemmRef[T float](transA, transB bool, m, n, k int, alpha float64, a, b []T, beta float64, c []T) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv T
				if transA {
					av = a[p*m+i]
				} else {
					av = a[i*k+p]
				}
				if transB {
					bv = b[j*k+p]
				} else {
					bv = b[p*n+j]
				}
				s += float64(av) * float64(bv)
			}
			if beta == 0 {
				c[i*n+j] = T(alpha * s)
			} else {
				c[i*n+j] = T(alpha*s + beta*float64(c[i*n+j]))
			}
		}
	}
}

func (c *CPU) Unary(op UnaryOp, dst, x Storage) {
	if anyHalf(dst, x) {
		done := widen(&dst, &x)
		c.Unary(op, dst, x)
		done(&dst)
		return
	}
	switch {
	case op == OpGELU && !is64(x):
		kernels.GeluForward(f32(dst), f32(x))
	case is64(x):
		unaryRef(op, f64(dst), f64(x))
	default:
		unaryRef(op, f32(dst), f32(x))
	}
}

func unaryRef[T float](op UnaryOp, d, x []T) {
	for i, v := range x {
		f := float64(v)
		switch op {
		case OpGELU:
			d[i] = T(0.5 * f * (1 + math.Erf(f/math.Sqrt2)))
		case OpReLU:
			d[i] = T(max(f, 0))
		}
	}
}

func (c *CPU) UnaryBackward(op UnaryOp, dx, x, dy Storage) {
	if anyHalf(dx, x, dy) {
		done := widen(&dx, &x, &dy)
		c.UnaryBackward(op, dx, x, dy)
		done(&dx)
		return
	}
	switch {
	case op == OpGELU && !is64(x):
		kernels.GeluBackward(f32(dx), f32(x), f32(dy))
	case is64(x):
		unaryBackwardRef(op, f64(dx), f64(x), f64(dy))
	default:
		unaryBackwardRef(op, f32(dx), f32(x), f32(dy))
	}
}

func unaryBackwardRef[T float](op UnaryOp, dx, x, dy []T) {
	for i, v := range x {
		f := float64(v)
		switch op {
		case OpGELU:
			cdf := 0.5 * (1 + math.Erf(f/math.Sqrt2))
			pdf := math.Exp(-0.5*f*f) / math.Sqrt(2*math.Pi)
			dx[i] = T(float64(dy[i]) * (cdf + f*pdf))
		case OpReLU:
			if f > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	}
}

func (c *CPU) LayerNorm(y, mean, rstd, x, gamma, beta Storage, rows, cols int, eps float64) {
	if anyHalf(y, x) {
		done := widen(&y, &x)
		c.LayerNorm(y, mean, rstd, x, gamma, beta, rows, cols, eps)
		done(&y)
		return
	}
	if is64(x) {
		layerNormRef(f64(y), f64(mean), f64(rstd), f64(x), f64(gamma), f64(beta), rows, cols, eps)
		return
	}
	kernels.LayerNormForward(f32(y), f32(x), f32(gamma), f32(beta), f32(mean), f32(rstd), rows, cols, float32(eps))
}

func layerNormRef[T float](y, mean, rstd, x, gamma, beta []T, rows, cols int, eps float64) {
	for r := 0; r < rows; r++ {
		xr := x[r*cols : (r+1)*cols]
		mu := sumAll(xr) / float64(cols)
		var ss float64
		for _, v := range xr {
			ss += (float64(v) - mu) * (float64(v) - mu)
		}
		rs := 1 / math.Sqrt(ss/float64(cols)+eps)
		mean[r], rstd[r] = T(mu), T(rs)
		for j, v := range xr {
			y[r*cols+j] = normAffine(v, mu, rs, gamma, beta, j)
		}
	}
}

// normAffine is feature j of a normalised value: (v−mu)·rs·gamma[j] +
// beta[j], either of gamma and beta optional.
func normAffine[T float](v T, mu, rs float64, gamma, beta []T, j int) T {
	o := (float64(v) - mu) * rs
	if gamma != nil {
		o *= float64(gamma[j])
	}
	if beta != nil {
		o += float64(beta[j])
	}
	return T(o)
}

func (c *CPU) LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd Storage, rows, cols int) {
	if anyHalf(dx, dy, x) {
		done := widen(&dx, &dy, &x)
		c.LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd, rows, cols)
		done(&dx)
		return
	}
	if is64(x) {
		normBackwardRef(f64(dx), f64(dgamma), f64(dbeta), f64(dy), f64(x), f64(gamma), f64(mean), f64(rstd), rows, cols, false)
		return
	}
	kernels.LayerNormBackward(f32(dx), f32(dy), f32(x), f32(gamma), f32(mean), f32(rstd), f32(dgamma), f32(dbeta), rows, cols)
}

// normBackwardRef is the gradient of x̂·gamma+beta with x̂ normalised over
// rows of cols elements (layer norm), or, when byColumn, over the rows of
// each column (batch norm, mean and rstd per column).
func normBackwardRef[T float](dx, dgamma, dbeta, dy, x, gamma, mean, rstd []T, rows, cols int, byColumn bool) {
	groups, size := rows, cols
	if byColumn {
		groups, size = cols, rows
	}
	at := func(g, i int) int {
		if byColumn {
			return i*cols + g
		}
		return g*cols + i
	}
	feat := func(g, i int) int {
		if byColumn {
			return g
		}
		return i
	}
	for g := 0; g < groups; g++ {
		mu, rs := float64(mean[g]), float64(rstd[g])
		var sg, sgx float64
		for i := 0; i < size; i++ {
			p, f := at(g, i), feat(g, i)
			d := float64(dy[p])
			xh := (float64(x[p]) - mu) * rs
			if dgamma != nil {
				dgamma[f] += T(d * xh)
			}
			if dbeta != nil {
				dbeta[f] += T(d)
			}
			if gamma != nil {
				d *= float64(gamma[f])
			}
			sg += d
			sgx += d * xh
		}
		sg /= float64(size)
		sgx /= float64(size)
		for i := 0; i < size; i++ {
			p, f := at(g, i), feat(g, i)
			d := float64(dy[p])
			if gamma != nil {
				d *= float64(gamma[f])
			}
			xh := (float64(x[p]) - mu) * rs
			dx[p] = T(rs * (d - sg - xh*sgx))
		}
	}
}

func (c *CPU) BatchNorm(y, mean, rstd, x, gamma, beta, runMean, runVar Storage, rows, cols int, training bool, momentum, eps float64) {
	if is64(x) {
		batchNorm(f64(y), f64(mean), f64(rstd), f64(x), f64(gamma), f64(beta), f64(runMean), f64(runVar), rows, cols, training, momentum, eps)
	} else {
		batchNorm(f32(y), f32(mean), f32(rstd), f32(x), f32(gamma), f32(beta), f32(runMean), f32(runVar), rows, cols, training, momentum, eps)
	}
}

func batchNorm[T float](y, mean, rstd, x, gamma, beta, runMean, runVar []T, rows, cols int, training bool, momentum, eps float64) {
	mu := make([]float64, cols)
	rs := make([]float64, cols)
	if training {
		for r := 0; r < rows; r++ {
			for j, v := range x[r*cols : (r+1)*cols] {
				mu[j] += float64(v)
			}
		}
		for j := range mu {
			mu[j] /= float64(rows)
		}
		vr := make([]float64, cols)
		for r := 0; r < rows; r++ {
			for j, v := range x[r*cols : (r+1)*cols] {
				d := float64(v) - mu[j]
				vr[j] += d * d
			}
		}
		for j := range vr {
			rs[j] = 1 / math.Sqrt(vr[j]/float64(rows)+eps)
			mean[j], rstd[j] = T(mu[j]), T(rs[j])
			if runMean != nil {
				runMean[j] = T((1-momentum)*float64(runMean[j]) + momentum*mu[j])
				runVar[j] = T((1-momentum)*float64(runVar[j]) + momentum*vr[j]/float64(rows-1))
			}
		}
	} else {
		for j := range mu {
			mu[j] = float64(runMean[j])
			rs[j] = 1 / math.Sqrt(float64(runVar[j])+eps)
			mean[j], rstd[j] = T(mu[j]), T(rs[j])
		}
	}
	for r := 0; r < rows; r++ {
		for j, v := range x[r*cols : (r+1)*cols] {
			y[r*cols+j] = normAffine(v, mu[j], rs[j], gamma, beta, j)
		}
	}
}

func (c *CPU) BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd Storage, rows, cols int) {
	if is64(x) {
		normBackwardRef(f64(dx), f64(dgamma), f64(dbeta), f64(dy), f64(x), f64(gamma), f64(mean), f64(rstd), rows, cols, true)
	} else {
		normBackwardRef(f32(dx), f32(dgamma), f32(dbeta), f32(dy), f32(x), f32(gamma), f32(mean), f32(rstd), rows, cols, true)
	}
}

func (c *CPU) Softmax(y, x Storage, rows, cols int) {
	if is64(x) {
		softmaxRef(f64(y), f64(x), rows, cols)
		return
	}
	kernels.SoftmaxForward(f32(y), f32(x), rows, cols)
}

func softmaxRef[T float](y, x []T, rows, cols int) {
	for r := 0; r < rows; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		mx := math.Inf(-1)
		for _, v := range xr {
			mx = max(mx, float64(v))
		}
		var s float64
		for _, v := range xr {
			s += math.Exp(float64(v) - mx)
		}
		for j, v := range xr {
			yr[j] = T(math.Exp(float64(v)-mx) / s)
		}
	}
}

func (c *CPU) SoftmaxBackward(dx, y, dy Storage, rows, cols int) {
	if is64(y) {
		softmaxBackwardRef(f64(dx), f64(y), f64(dy), rows, cols)
		return
	}
	kernels.SoftmaxBackward(f32(dx), f32(y), f32(dy), rows, cols)
}

func softmaxBackwardRef[T float](dx, y, dy []T, rows, cols int) {
	for r := 0; r < rows; r++ {
		yr, dyr := y[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols]
		var s float64
		for j := range yr {
			s += float64(yr[j]) * float64(dyr[j])
		}
		for j := range yr {
			dx[r*cols+j] = T(float64(yr[j]) * (float64(dyr[j]) - s))
		}
	}
}

func (c *CPU) Attention(out, lse, qkv Storage, batch, tokens, heads, headDim int, scale float64) {
	if anyHalf(out, qkv) {
		done := widen(&out, &qkv)
		c.Attention(out, lse, qkv, batch, tokens, heads, headDim, scale)
		done(&out)
		return
	}
	if is64(qkv) {
		attentionRef(f64(out), f64(lse), f64(qkv), batch, tokens, heads, headDim, scale)
		return
	}
	kernels.AttentionForward(f32(out), f32(lse), f32(qkv), batch, tokens, heads, headDim, float32(scale))
}

// attentionRef is the plain per-head softmax(scale·QKᵀ)·V on the qkv
// layout [B, N, 3, H, D].
func attentionRef[T float](out, lse, qkv []T, batch, tokens, heads, hd int, scale float64) {
	rowQKV := 3 * heads * hd
	p := make([]float64, tokens)
	for b := 0; b < batch; b++ {
		base := b * tokens * rowQKV
		for h := 0; h < heads; h++ {
			q := func(i, d int) float64 { return float64(qkv[base+i*rowQKV+h*hd+d]) }
			k := func(i, d int) float64 { return float64(qkv[base+i*rowQKV+(heads+h)*hd+d]) }
			v := func(i, d int) float64 { return float64(qkv[base+i*rowQKV+(2*heads+h)*hd+d]) }
			for i := 0; i < tokens; i++ {
				mx := math.Inf(-1)
				for j := 0; j < tokens; j++ {
					var s float64
					for d := 0; d < hd; d++ {
						s += q(i, d) * k(j, d)
					}
					p[j] = s * scale
					mx = max(mx, p[j])
				}
				var sum float64
				for j := range p {
					p[j] = math.Exp(p[j] - mx)
					sum += p[j]
				}
				lse[(b*heads+h)*tokens+i] = T(mx + math.Log(sum))
				for d := 0; d < hd; d++ {
					var o float64
					for j := 0; j < tokens; j++ {
						o += p[j] * v(j, d)
					}
					out[((b*tokens+i)*heads+h)*hd+d] = T(o / sum)
				}
			}
		}
	}
}

func (c *CPU) AttentionBackward(dqkv, dout, qkv, out, lse Storage, batch, tokens, heads, headDim int, scale float64) {
	if anyHalf(dqkv, dout, qkv, out) {
		done := widen(&dqkv, &dout, &qkv, &out)
		c.AttentionBackward(dqkv, dout, qkv, out, lse, batch, tokens, heads, headDim, scale)
		done(&dqkv)
		return
	}
	if is64(qkv) {
		attentionBackwardRef(f64(dqkv), f64(dout), f64(qkv), f64(out), f64(lse), batch, tokens, heads, headDim, scale)
		return
	}
	kernels.AttentionBackward(f32(dqkv), f32(dout), f32(qkv), f32(out), f32(lse), batch, tokens, heads, headDim, float32(scale))
}

func attentionBackwardRef[T float](dqkv, dout, qkv, out, lse []T, batch, tokens, heads, hd int, scale float64) {
	rowQKV := 3 * heads * hd
	clear(dqkv)
	p := make([]float64, tokens)
	ds := make([]float64, tokens)
	for b := 0; b < batch; b++ {
		base := b * tokens * rowQKV
		for h := 0; h < heads; h++ {
			qi := func(i, d int) int { return base + i*rowQKV + h*hd + d }
			ki := func(i, d int) int { return base + i*rowQKV + (heads+h)*hd + d }
			vi := func(i, d int) int { return base + i*rowQKV + (2*heads+h)*hd + d }
			oi := func(i, d int) int { return ((b*tokens+i)*heads+h)*hd + d }
			for i := 0; i < tokens; i++ {
				l := float64(lse[(b*heads+h)*tokens+i])
				var di float64 // rowsum(dO ⊙ O)
				for d := 0; d < hd; d++ {
					di += float64(dout[oi(i, d)]) * float64(out[oi(i, d)])
				}
				for j := 0; j < tokens; j++ {
					var s, dp float64
					for d := 0; d < hd; d++ {
						s += float64(qkv[qi(i, d)]) * float64(qkv[ki(j, d)])
						dp += float64(dout[oi(i, d)]) * float64(qkv[vi(j, d)])
					}
					p[j] = math.Exp(s*scale - l)
					ds[j] = p[j] * (dp - di)
				}
				for j := 0; j < tokens; j++ {
					for d := 0; d < hd; d++ {
						dqkv[qi(i, d)] += T(scale * ds[j] * float64(qkv[ki(j, d)]))
						dqkv[ki(j, d)] += T(scale * ds[j] * float64(qkv[qi(i, d)]))
						dqkv[vi(j, d)] += T(p[j] * float64(dout[oi(i, d)]))
					}
				}
			}
		}
	}
}

func (c *CPU) L2Normalize(y, norm, x Storage, rows, cols int, eps float64) {
	if is64(x) {
		l2Normalize(f64(y), f64(norm), f64(x), rows, cols, eps)
	} else {
		l2Normalize(f32(y), f32(norm), f32(x), rows, cols, eps)
	}
}

func l2Normalize[T float](y, norm, x []T, rows, cols int, eps float64) {
	for r := 0; r < rows; r++ {
		xr := x[r*cols : (r+1)*cols]
		var ss float64
		for _, v := range xr {
			ss += float64(v) * float64(v)
		}
		n := max(math.Sqrt(ss), eps)
		norm[r] = T(n)
		for j, v := range xr {
			y[r*cols+j] = T(float64(v) / n)
		}
	}
}

func (c *CPU) L2NormalizeBackward(dx, dy, y, norm Storage, rows, cols int) {
	if is64(y) {
		l2NormalizeBackward(f64(dx), f64(dy), f64(y), f64(norm), rows, cols)
	} else {
		l2NormalizeBackward(f32(dx), f32(dy), f32(y), f32(norm), rows, cols)
	}
}

// l2NormalizeBackward: with y = x/n, dx = (dy − y·⟨y, dy⟩)/n when the norm
// was not clamped; a clamped norm is a constant, so then dx = dy/eps.
func l2NormalizeBackward[T float](dx, dy, y, norm []T, rows, cols int) {
	for r := 0; r < rows; r++ {
		yr, dyr := y[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols]
		n := float64(norm[r])
		var dot, ss float64
		for j := range yr {
			dot += float64(yr[j]) * float64(dyr[j])
			ss += float64(yr[j]) * float64(yr[j])
		}
		if ss < 1-1e-3 { // clamped: y = x/eps, a linear map
			dot = 0
		}
		for j := range yr {
			dx[r*cols+j] = T((float64(dyr[j]) - float64(yr[j])*dot) / n)
		}
	}
}

func (c *CPU) CrossEntropy(loss, dlogits, logits Storage, labels []int32, rows, cols int) {
	if is64(logits) {
		f64(loss)[0] = crossEntropy(f64(dlogits), f64(logits), labels, rows, cols)
	} else {
		f32(loss)[0] = float32(crossEntropy(f32(dlogits), f32(logits), labels, rows, cols))
	}
}

func crossEntropy[T float](dl, x []T, labels []int32, rows, cols int) float64 {
	var total float64
	inv := 1 / float64(rows)
	for r := 0; r < rows; r++ {
		xr := x[r*cols : (r+1)*cols]
		mx := math.Inf(-1)
		for _, v := range xr {
			mx = max(mx, float64(v))
		}
		var s float64
		for _, v := range xr {
			s += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(s)
		total += lse - float64(xr[labels[r]])
		for j, v := range xr {
			g := math.Exp(float64(v) - lse)
			if j == int(labels[r]) {
				g--
			}
			dl[r*cols+j] = T(g * inv)
		}
	}
	return total * inv
}

func (c *CPU) Permute(dst, src Storage, shape, perm []int) {
	if anyHalf(dst, src) {
		done := widen(&dst, &src)
		c.Permute(dst, src, shape, perm)
		done(&dst)
		return
	}
	if is64(dst) {
		permute(f64(dst), f64(src), shape, perm)
	} else {
		permute(f32(dst), f32(src), shape, perm)
	}
}

// permute walks the destination in order, stepping a source offset with
// the permuted strides (an odometer over the destination's index).
func permute[T float](d, s []T, shape, perm []int) {
	r := len(shape)
	if r == 0 {
		copy(d, s)
		return
	}
	srcStride := make([]int, r)
	st := 1
	for i := r - 1; i >= 0; i-- {
		srcStride[i] = st
		st *= shape[i]
	}
	dims := make([]int, r)
	steps := make([]int, r)
	for i, p := range perm {
		dims[i], steps[i] = shape[p], srcStride[p]
	}
	idx := make([]int, r)
	off := 0
	last := r - 1
	for o := 0; o < len(d); {
		// Innermost axis as a tight loop.
		step := steps[last]
		for j := 0; j < dims[last]; j++ {
			d[o] = s[off+j*step]
			o++
		}
		for a := last - 1; a >= 0; a-- {
			idx[a]++
			off += steps[a]
			if idx[a] < dims[a] {
				break
			}
			off -= steps[a] * dims[a]
			idx[a] = 0
		}
	}
}

func (c *CPU) CopyAxis(dst Storage, dstAxis, dstOff int, src Storage, srcAxis, srcOff int, outer, count, inner int, accumulate bool) {
	if anyHalf(dst, src) {
		done := widen(&dst, &src)
		c.CopyAxis(dst, dstAxis, dstOff, src, srcAxis, srcOff, outer, count, inner, accumulate)
		done(&dst)
		return
	}
	if is64(dst) {
		copyAxis(f64(dst), dstAxis, dstOff, f64(src), srcAxis, srcOff, outer, count, inner, accumulate)
	} else {
		copyAxis(f32(dst), dstAxis, dstOff, f32(src), srcAxis, srcOff, outer, count, inner, accumulate)
	}
}

func copyAxis[T float](d []T, dAxis, dOff int, s []T, sAxis, sOff int, outer, count, inner int, accumulate bool) {
	n := count * inner
	for o := 0; o < outer; o++ {
		dr := d[(o*dAxis+dOff)*inner:][:n]
		sr := s[(o*sAxis+sOff)*inner:][:n]
		if accumulate {
			for i, v := range sr {
				dr[i] += v
			}
		} else {
			copy(dr, sr)
		}
	}
}

func (c *CPU) AdamW(param, grad, m, v Storage, lr, beta1, beta2, eps, wd float64, t int) {
	if is64(param) {
		adamW(f64(param), f64(grad), f64(m), f64(v), lr, beta1, beta2, eps, wd, t)
	} else {
		adamW(f32(param), f32(grad), f32(m), f32(v), lr, beta1, beta2, eps, wd, t)
	}
}

// adamW follows torch.optim.AdamW (single-tensor, non-amsgrad): the step
// size lr/(1−β1ᵗ) and the denominator √v/√(1−β2ᵗ) + eps.
func adamW[T float](p, g, m, v []T, lr, beta1, beta2, eps, wd float64, t int) {
	bc1 := 1 - math.Pow(beta1, float64(t))
	bc2 := math.Sqrt(1 - math.Pow(beta2, float64(t)))
	decay := T(1 - lr*wd)
	stepSize := T(lr / bc1)
	b1, b2 := T(beta1), T(beta2)
	invBC2, e := T(1/bc2), T(eps)
	for i := range p {
		gi := g[i]
		p[i] *= decay
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		p[i] -= stepSize * m[i] / (T(math.Sqrt(float64(v[i])))*invBC2 + e)
	}
}

func (c *CPU) SGD(param, grad, buf Storage, lr, momentum, wd float64, first bool) {
	if is64(param) {
		sgd(f64(param), f64(grad), f64(buf), lr, momentum, wd, first)
	} else {
		sgd(f32(param), f32(grad), f32(buf), lr, momentum, wd, first)
	}
}

func sgd[T float](p, g, buf []T, lr, momentum, wd float64, first bool) {
	for i := range p {
		d := g[i] + T(wd)*p[i]
		if momentum != 0 {
			if first {
				buf[i] = d
			} else {
				buf[i] = T(momentum)*buf[i] + d
			}
			d = buf[i]
		}
		p[i] -= T(lr) * d
	}
}

func (c *CPU) EMA(dst, src Storage, m float64) {
	if is64(dst) {
		ema(f64(dst), f64(src), m)
	} else {
		ema(f32(dst), f32(src), m)
	}
}

func ema[T float](d, s []T, m float64) {
	a, b := T(m), T(1-m)
	for i := range d {
		d[i] = a*d[i] + b*s[i]
	}
}

// GemmBias implements BiasGemm: the product, the bias and GELU in float32,
// then one rounding to C's type, as a fused GPU epilogue does. On float32
// storages the bias and GELU are applied inside the SGEMM, to each strip
// of C as soon as its product is complete (kernels.SgemmEpilogue), with the
// same bits as the separate passes.
func (c *CPU) GemmBias(transA, transB bool, m, n, k int, a, b, bias, cs Storage, gelu bool) {
	if allF32(a, b, bias, cs) {
		c.gemmEpilogue(transA, transB, m, n, k, a, b, cs, kernels.Epilogue{Bias: f32(bias), GELU: gelu})
		return
	}
	done := widen(&a, &b, &cs)
	c.Gemm(transA, transB, 1, m, n, k, 1, a, 0, b, 0, 0, cs, 0)
	if bias != nil {
		c.Binary(OpAdd, cs, cs, bias)
	}
	if gelu {
		c.Unary(OpGELU, cs, cs)
	}
	done(&cs)
}

// GemmBiasResidual implements ResidualGemm: on float32 storages the bias
// and R are added inside the SGEMM, to each strip of C as soon as its
// product is complete.
func (c *CPU) GemmBiasResidual(transA, transB bool, m, n, k int, a, b, bias, r, cs Storage) {
	if allF32(a, b, bias, r, cs) {
		c.gemmEpilogue(transA, transB, m, n, k, a, b, cs, kernels.Epilogue{Bias: f32(bias), Residual: f32(r), LdR: n})
		return
	}
	c.GemmBias(transA, transB, m, n, k, a, b, bias, cs, false)
	c.Axpy(cs, 1, r)
}

// GemmGELUGrad implements GELUGradGemm: on float32 storages each strip of
// C is multiplied by GELU′(H) inside the SGEMM, as soon as its product is
// complete.
func (c *CPU) GemmGELUGrad(transA, transB bool, m, n, k int, a, b, h, cs Storage) {
	if allF32(a, b, h, cs) {
		c.gemmEpilogue(transA, transB, m, n, k, a, b, cs, kernels.Epilogue{H: f32(h), LdH: n})
		return
	}
	c.Gemm(transA, transB, 1, m, n, k, 1, a, 0, b, 0, 0, cs, 0)
	c.UnaryBackward(OpGELU, cs, h, cs)
}

// gemmEpilogue is C = op(A)·op(B) and then epi, on packed float32 matrices.
func (c *CPU) gemmEpilogue(transA, transB bool, m, n, k int, a, b, cs Storage, epi kernels.Epilogue) {
	lda, ldb := packedLd(transA, transB, m, n, k)
	kernels.SgemmEpilogue(transA, transB, m, n, k, f32(a), lda, f32(b), ldb, f32(cs), n, epi)
}

// allF32 reports whether every storage given is float32; nil ones are
// skipped.
func allF32(xs ...Storage) bool {
	for _, x := range xs {
		if x != nil && x.DType() != F32 {
			return false
		}
	}
	return true
}
