package kernels

import "fmt"

// Axpy sets y[i] += a·x[i], spread over the threads for long vectors,
// rounding as the plain loop does (the product, then the sum).
func Axpy(y []float32, a float32, x []float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("kernels.Axpy: x has %d elements, y %d", len(x), len(y)))
	}
	parallelFor(len(y), vecGrain, func(lo, hi int) { axpyVec(y[lo:hi], a, x[lo:hi]) })
}

func axpyVec(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	n8 := 0
	if useAVX2 {
		if n8 = len(y) &^ 7; n8 > 0 {
			axpyAVX2(&y[0], &x[0], n8, a)
		}
	}
	for i := n8; i < len(y); i++ {
		y[i] += float32(a * x[i]) // the conversion rounds the product: no FMA
	}
}

// SumRows sets dst[j] = beta·dst[j] + Σ_r src[r·cols+j] for the rows×cols
// matrix src: its column sums (a bias's gradient). Each column is summed
// in float64, row after row, as a plain loop would: a bias's gradient is
// often a small sum of large terms of both signs, which float32 partial
// sums would blur. The columns are spread over the threads (vector adds,
// four columns to a register); the result does not depend on the thread
// count. When beta is 0, dst is not read.
func SumRows(dst, src []float32, rows, cols int, beta float64) {
	if rows < 0 || cols < 0 || len(dst) < cols || len(src) < rows*cols {
		panic(fmt.Sprintf("kernels.SumRows: %d×%d from %d elements into %d", rows, cols, len(src), len(dst)))
	}
	strips := (cols + 3) / 4
	grain := max(1, (1<<18)/max(1, rows*4)) // strips worth a thread: about 256K adds
	parallelFor(strips, grain, func(lo, hi int) {
		sumColumns(dst, src, rows, cols, lo*4, min(hi*4, cols), beta)
	})
}

// sumColumns is SumRows on columns [c0, c1).
func sumColumns(dst, src []float32, rows, cols, c0, c1 int, beta float64) {
	var acc [256]float64
	for p0 := c0; p0 < c1; p0 += len(acc) {
		w := min(len(acc), c1-p0)
		a := acc[:w]
		clear(a)
		if rows > 0 {
			colSum64(a, src[p0:], cols, rows)
		}
		for j, v := range a {
			if beta == 0 {
				dst[p0+j] = float32(v)
			} else {
				dst[p0+j] = float32(beta*float64(dst[p0+j]) + v)
			}
		}
	}
}

// colSum64 adds src[r·ld+j] to acc[j] for r = 0, 1, …, rows−1 in turn, in
// float64, for j < len(acc); rows ≥ 1.
func colSum64(acc []float64, src []float32, ld, rows int) {
	n := len(acc)
	_ = src[(rows-1)*ld+n-1]
	n4 := 0
	if useAVX2 {
		if n4 = n &^ 3; n4 > 0 {
			colSum64AVX2(&acc[0], &src[0], ld, rows, n4)
		}
	}
	for j := n4; j < n; j++ {
		s := acc[j]
		for r := 0; r < rows; r++ {
			s += float64(src[r*ld+j])
		}
		acc[j] = s
	}
}
