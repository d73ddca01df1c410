package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or Xᵀ as transA/transB say. op(A) is m×k,
// op(B) is k×n and C is m×n; lda, ldb and ldc are the row strides of A, B
// and C as stored. When beta is 0, C is not read (it may hold NaN).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs("Sgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemmWith(gemmBest, gemmThreads(m, n, k, Threads()), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Epilogue{})
}

// Epilogue is what SgemmEpilogue does to each strip of C (an A sliver's
// rows across a block's columns, or a B sliver's columns across a panel's
// rows) once its product is complete, while the strip is still in cache,
// in this order: add Bias[j]
// to column j (Bias has n values), add Residual (an m×n matrix with row
// stride LdR), apply GELU in its erf form, and multiply by GELU′(H) (H an
// m×n matrix with row stride LdH, the input of the GELU whose gradient C
// carries). Each step is skipped when its field is nil or false.
type Epilogue struct {
	Bias     []float32
	Residual []float32
	LdR      int
	GELU     bool
	H        []float32
	LdH      int
}

func (e Epilogue) active() bool { return e.Bias != nil || e.Residual != nil || e.GELU || e.H != nil }

// apply runs the epilogue on rows [i, i+rows) and columns [j, j+cols) of C.
func (e Epilogue) apply(c []float32, ldc, i, rows, j, cols int) {
	for r := i; r < i+rows; r++ {
		row := c[r*ldc+j : r*ldc+j+cols]
		if e.Bias != nil {
			axpyVec(row, 1, e.Bias[j:j+cols])
		}
		if e.Residual != nil {
			axpyVec(row, 1, e.Residual[r*e.LdR+j:r*e.LdR+j+cols])
		}
		if e.GELU {
			geluFwdVec(row, row)
		}
		if e.H != nil {
			geluBwdVec(row, e.H[r*e.LdH+j:r*e.LdH+j+cols], row)
		}
	}
}

// SgemmEpilogue computes C = op(A)·op(B) and then epi on C, each strip of C
// taking its epilogue as soon as its product is complete rather than in
// passes over the whole of C afterwards. C is not read, and must not
// overlap epi's operands.
func SgemmEpilogue(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, epi Epilogue) {
	checkGemmArgs("SgemmEpilogue", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if epi.Bias != nil && len(epi.Bias) < n {
		panic(fmt.Sprintf("kernels.SgemmEpilogue: bias has %d elements, C has %d columns", len(epi.Bias), n))
	}
	checkOperand := func(name string, x []float32, ld int) {
		if x != nil && m > 0 && n > 0 && (ld < n || len(x) < (m-1)*ld+n) {
			panic(fmt.Sprintf("kernels.SgemmEpilogue: %s has %d elements with stride %d, C is %d×%d", name, len(x), ld, m, n))
		}
	}
	checkOperand("the residual", epi.Residual, epi.LdR)
	checkOperand("H", epi.H, epi.LdH)
	sgemmWith(gemmBest, gemmThreads(m, n, k, Threads()), transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc, epi)
}

// gemmThreads is how many of the threads are worth using on an m×n×k
// product: about a million multiply-adds each at least.
func gemmThreads(m, n, k, threads int) int {
	w := int(min(int64(m)*int64(n)*int64(k)>>20, int64(threads)))
	return max(w, 1)
}

// sgemmWith runs a checked Sgemm with implementation g over nthreads workers.
func sgemmWith(g *gemmImpl, nthreads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi Epilogue) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		if epi.active() {
			epi.apply(c, ldc, 0, m, 0, n)
		}
		return
	}
	gemmRun(g, nthreads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epi)
}

// scaleC sets C = beta·C, not reading C when beta is 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// sgemmRef is the plain triple loop every faster path is checked against.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func checkGemmArgs(op string, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.%s: negative size m=%d n=%d k=%d", op, m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need := func(name string, rows, cols, ld, have int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("kernels.%s: %s stride %d < %d columns", op, name, ld, cols))
		}
		if want := (rows-1)*ld + cols; have < want {
			panic(fmt.Sprintf("kernels.%s: %s has %d elements, %d×%d with stride %d needs %d", op, name, have, rows, cols, ld, want))
		}
	}
	need("A", ar, ac, lda, len(a))
	need("B", br, bc, ldb, len(b))
	need("C", m, n, ldc, len(c))
}

// SgemmBatched computes batch independent products
// C_i = alpha·op(A_i)·op(B_i) + beta·C_i for i in [0, batch), where A_i
// starts at a[i*strideA], B_i at b[i*strideB] and C_i at c[i*strideC], each
// laid out as in Sgemm. The products are spread over the threads, each one
// computed by a single thread, which suits many small products such as
// attention over heads. The C_i must not overlap.
func SgemmBatched(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("kernels.SgemmBatched: negative batch %d or stride (%d, %d, %d)", batch, strideA, strideB, strideC))
	}
	if batch == 0 {
		return
	}
	for i := 0; i < batch; i++ {
		ai := batchSlice("A", a, i, strideA, m*k)
		bi := batchSlice("B", b, i, strideB, k*n)
		ci := batchSlice("C", c, i, strideC, m*n)
		checkGemmArgs("SgemmBatched", transA, transB, m, n, k, ai, lda, bi, ldb, ci, ldc)
	}
	if batch == 1 {
		sgemmWith(gemmBest, gemmThreads(m, n, k, Threads()), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Epilogue{})
		return
	}
	x, _ := batchCtxPool.Get().(*batchCtx)
	if x == nil {
		x = new(batchCtx)
	}
	x.next.Store(0)
	x.batch, x.transA, x.transB, x.m, x.n, x.k = batch, transA, transB, m, n, k
	x.alpha, x.beta = alpha, beta
	x.a, x.lda, x.strideA = a, lda, strideA
	x.b, x.ldb, x.strideB = b, ldb, strideB
	x.c, x.ldc, x.strideC = c, ldc, strideC
	nw := min(Threads(), batch, max(1, batch*m*n*k>>18))
	runWorkers(x, nw, &x.join)
	x.a, x.b, x.c = nil, nil, nil
	batchCtxPool.Put(x)
}

// batchSlice is x from element i*stride on, or nil when the matrix is empty.
func batchSlice(name string, x []float32, i, stride, size int) []float32 {
	if size == 0 {
		return nil
	}
	if i*stride > len(x) {
		panic(fmt.Sprintf("kernels.SgemmBatched: %s has %d elements, product %d starts at %d", name, len(x), i, i*stride))
	}
	return x[i*stride:]
}

type batchCtx struct {
	batch          int
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda, strideA   int
	b              []float32
	ldb, strideB   int
	c              []float32
	ldc, strideC   int
	next           atomic.Int64 // next product to claim
	join           gemmJoin
}

var batchCtxPool sync.Pool

func (x *batchCtx) work(w, nw int) {
	for {
		i := int(x.next.Add(1) - 1)
		if i >= x.batch {
			return
		}
		sgemmWith(gemmBest, 1, x.transA, x.transB, x.m, x.n, x.k, x.alpha,
			batchSlice("A", x.a, i, x.strideA, x.m*x.k), x.lda,
			batchSlice("B", x.b, i, x.strideB, x.k*x.n), x.ldb, x.beta,
			batchSlice("C", x.c, i, x.strideC, x.m*x.n), x.ldc, Epilogue{})
	}
}

// SgemmImpl names the implementation Sgemm runs on this CPU: "avx512",
// "avx2" or "generic".
func SgemmImpl() string { return gemmBest.name }
