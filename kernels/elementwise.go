package kernels

import "fmt"

// Axpy sets y[i] += a·x[i], spread over the threads for long vectors. Each
// element is rounded once where the CPU has FMA.
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
		y[i] += a * x[i]
	}
}

// sumRowsBlock is how many rows SumRows adds in float32 before it carries
// the partial sums into float64: short enough that float32 loses nothing
// that matters, long enough that the float64 adds cost little.
const sumRowsBlock = 64

// SumRows sets dst[j] = beta·dst[j] + Σ_r src[r·cols+j] for the rows×cols
// matrix src: its column sums (a bias's gradient). Blocks of sumRowsBlock
// rows are summed in float32 with vector adds and carried into float64, the
// columns spread over the threads; a column's sum does not depend on the
// thread count. When beta is 0, dst is not read.
func SumRows(dst, src []float32, rows, cols int, beta float32) {
	if rows < 0 || cols < 0 || len(dst) < cols || len(src) < rows*cols {
		panic(fmt.Sprintf("kernels.SumRows: %d×%d from %d elements into %d", rows, cols, len(src), len(dst)))
	}
	strips := (cols + 7) / 8
	grain := max(1, (1<<18)/max(1, rows*8)) // strips worth a thread: about 256K adds
	parallelFor(strips, grain, func(lo, hi int) {
		sumColumns(dst, src, rows, cols, lo*8, min(hi*8, cols), beta)
	})
}

// sumColumns is SumRows on columns [c0, c1).
func sumColumns(dst, src []float32, rows, cols, c0, c1 int, beta float32) {
	var part [256]float32
	var acc [256]float64
	for p0 := c0; p0 < c1; p0 += len(acc) {
		w := min(len(acc), c1-p0)
		a := acc[:w]
		clear(a)
		for r0 := 0; r0 < rows; r0 += sumRowsBlock {
			colSum(part[:w], src[r0*cols+p0:], cols, min(sumRowsBlock, rows-r0))
			for j, v := range part[:w] {
				a[j] += float64(v)
			}
		}
		for j, v := range a {
			if beta == 0 {
				dst[p0+j] = float32(v)
			} else {
				dst[p0+j] = float32(float64(beta)*float64(dst[p0+j]) + v)
			}
		}
	}
}

// colSum sets dst[j] to the sum over r < rows of src[r·ld+j], in row order,
// for j < len(dst); rows ≥ 1.
func colSum(dst, src []float32, ld, rows int) {
	n := len(dst)
	_ = src[(rows-1)*ld+n-1]
	n8 := 0
	if useAVX2 {
		if n8 = n &^ 7; n8 > 0 {
			colSumAVX2(&dst[0], &src[0], ld, rows, n8)
		}
	}
	for j := n8; j < n; j++ {
		var s float32
		for r := 0; r < rows; r++ {
			s += src[r*ld+j]
		}
		dst[j] = s
	}
}
