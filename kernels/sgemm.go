package kernels

import "fmt"

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or Xᵀ as transA/transB say. op(A) is m×k,
// op(B) is k×n and C is m×n; lda, ldb and ldc are the row strides of A, B
// and C as stored. When beta is 0, C is not read (it may hold NaN).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs("Sgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
