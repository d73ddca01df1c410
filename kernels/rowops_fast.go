package kernels

import (
	"math"
	"sync"
	"sync/atomic"
)

// Fast row ops: each row is handled by the primitives below (AVX2 bulk and
// a scalar tail, or all scalar on the generic path), rows split over
// goroutines once a chunk holds at least rowGrainElems values.

const rowGrainElems = 1 << 14

func rowGrain(cols int) int { return max(1, rowGrainElems/max(cols, 1)) }

func rowSum(x []float32) float32 {
	n8 := 0
	var s float32
	if useAVX2 && len(x) >= 8 {
		n8 = len(x) &^ 7
		s = sumAVX2(&x[0], n8)
	} else if len(x) >= 4 {
		var s0, s1, s2, s3 float32
		for ; n8+4 <= len(x); n8 += 4 {
			s0 += x[n8]
			s1 += x[n8+1]
			s2 += x[n8+2]
			s3 += x[n8+3]
		}
		s = (s0 + s1) + (s2 + s3)
	}
	for _, v := range x[n8:] {
		s += v
	}
	return s
}

func rowSumSqDev(x []float32, mu float32) float32 {
	n8 := 0
	var s float32
	if useAVX2 && len(x) >= 8 {
		n8 = len(x) &^ 7
		s = sumSqDevAVX2(&x[0], n8, mu)
	} else if len(x) >= 4 {
		var s0, s1, s2, s3 float32
		for ; n8+4 <= len(x); n8 += 4 {
			d0, d1, d2, d3 := x[n8]-mu, x[n8+1]-mu, x[n8+2]-mu, x[n8+3]-mu
			s0 += d0 * d0
			s1 += d1 * d1
			s2 += d2 * d2
			s3 += d3 * d3
		}
		s = (s0 + s1) + (s2 + s3)
	}
	for _, v := range x[n8:] {
		d := v - mu
		s += d * d
	}
	return s
}

func rowMax(x []float32) float32 {
	n8 := 0
	m := float32(math.Inf(-1))
	if useAVX2 && len(x) >= 8 {
		n8 = len(x) &^ 7
		m = maxAVX2(&x[0], n8)
	}
	for _, v := range x[n8:] {
		if v > m {
			m = v
		}
	}
	return m
}

func rowDot(x, y []float32) float32 {
	y = y[:len(x)]
	n8 := 0
	var s float32
	if useAVX2 && len(x) >= 8 {
		n8 = len(x) &^ 7
		s = dotAVX2(&x[0], &y[0], n8)
	} else if len(x) >= 4 {
		var s0, s1, s2, s3 float32
		for ; n8+4 <= len(x); n8 += 4 {
			s0 += x[n8] * y[n8]
			s1 += x[n8+1] * y[n8+1]
			s2 += x[n8+2] * y[n8+2]
			s3 += x[n8+3] * y[n8+3]
		}
		s = (s0 + s1) + (s2 + s3)
	}
	for i := n8; i < len(x); i++ {
		s += x[i] * y[i]
	}
	return s
}

func rowScale(y []float32, s float32) {
	n8 := 0
	if useAVX2 && len(y) >= 8 {
		n8 = len(y) &^ 7
		scaleAVX2(&y[0], n8, s)
	}
	for i := n8; i < len(y); i++ {
		y[i] *= s
	}
}

// rowExpShiftSum sets y = exp(x − shift) and returns the sum of y.
func rowExpShiftSum(y, x []float32, shift float32) float32 {
	n := len(x)
	y = y[:n]
	if !useAVX2 {
		var s float32
		for i, v := range x {
			e := expf(v - shift)
			y[i] = e
			s += e
		}
		return s
	}
	if useAVX512 {
		if n == 0 {
			return 0
		}
		return expShiftSumAVX512(&y[0], &x[0], n, shift)
	}
	n8 := n &^ 7
	var s float32
	if n8 > 0 {
		s = expShiftSumAVX2(&y[0], &x[0], n8, shift)
	}
	if n8 < n {
		var buf [8]float32
		for i := range buf {
			buf[i] = float32(math.Inf(-1))
		}
		copy(buf[:], x[n8:])
		s += expShiftSumAVX2(&buf[0], &buf[0], 8, shift)
		copy(y[n8:], buf[:n-n8])
	}
	return s
}

// rowSoftmaxBwdApply sets dx = y·(dy − s); dx may alias y or dy.
func rowSoftmaxBwdApply(dx, y, dy []float32, s float32) {
	n := len(dx)
	y, dy = y[:n], dy[:n]
	n8 := 0
	if useAVX2 && n >= 8 {
		n8 = n &^ 7
		softmaxBwdApplyAVX2(&dx[0], &y[0], &dy[0], n8, s)
	}
	for i := n8; i < n; i++ {
		dx[i] = y[i] * (dy[i] - s)
	}
}

// constSlice returns n copies of v from a cache that only grows.
func constSlice(c *atomic.Pointer[[]float32], n int, v float32) []float32 {
	if p := c.Load(); p != nil && len(*p) >= n {
		return (*p)[:n]
	}
	s := make([]float32, max(n, 1024))
	for i := range s {
		s[i] = v
	}
	c.Store(&s)
	return s[:n]
}

var onesCache, zerosCache atomic.Pointer[[]float32]

func layerNormForwardFast(y, x, gamma, beta, mean, rstd []float32, rows, cols int, eps float32) {
	if rows == 0 {
		return
	}
	if cols == 0 {
		layerNormForwardRef(y, x, gamma, beta, mean, rstd, rows, cols, eps)
		return
	}
	if gamma == nil {
		gamma = constSlice(&onesCache, cols, 1)
	}
	if beta == nil {
		beta = constSlice(&zerosCache, cols, 0)
	}
	parallelFor(rows, rowGrain(cols), func(lo, hi int) {
		inv := 1 / float32(cols)
		for r := lo; r < hi; r++ {
			xr := x[r*cols : (r+1)*cols]
			yr := y[r*cols : (r+1)*cols]
			mu := rowSum(xr) * inv
			v := rowSumSqDev(xr, mu) * inv
			rs := float32(1 / math.Sqrt(float64(v)+float64(eps)))
			mean[r], rstd[r] = mu, rs
			if useAVX2 && cols >= 8 {
				n8 := cols &^ 7
				lnApplyAVX2(&yr[0], &xr[0], &gamma[0], &beta[0], n8, mu, rs)
				lnApplyTail(yr, xr, gamma, beta, mu, rs, n8)
			} else {
				lnApplyTail(yr, xr, gamma, beta, mu, rs, 0)
			}
		}
	})
}

func lnApplyTail(y, x, gamma, beta []float32, mu, rs float32, from int) {
	for j := from; j < len(x); j++ {
		y[j] = (x[j]-mu)*rs*gamma[j] + beta[j]
	}
}

// lnPartials holds per-chunk dgamma/dbeta partial sums for reuse.
var lnPartials sync.Pool

func layerNormBackwardFast(dx, dy, x, gamma, mean, rstd, dgamma, dbeta []float32, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	if gamma == nil {
		gamma = constSlice(&onesCache, cols, 1)
	}
	chunks := min(Threads(), (rows+rowGrain(cols)-1)/rowGrain(cols))
	need := chunks * 2 * cols
	var bufp *[]float32
	if p, ok := lnPartials.Get().(*[]float32); ok && cap(*p) >= need {
		bufp = p
	} else {
		s := make([]float32, need)
		bufp = &s
	}
	buf := (*bufp)[:need]
	parallelFor(chunks, 1, func(clo, chi int) {
		inv := 1 / float32(cols)
		for c := clo; c < chi; c++ {
			part := buf[c*2*cols : (c+1)*2*cols]
			clear(part)
			dg, db := part[:cols], part[cols:]
			for r := c * rows / chunks; r < (c+1)*rows/chunks; r++ {
				lnBackwardRow(dx[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols],
					gamma, dg, db, mean[r], rstd[r], inv)
			}
		}
	})
	for c := 0; c < chunks; c++ {
		part := buf[c*2*cols : (c+1)*2*cols]
		if dgamma != nil {
			for j, v := range part[:cols] {
				dgamma[j] += v
			}
		}
		if dbeta != nil {
			for j, v := range part[cols:] {
				dbeta[j] += v
			}
		}
	}
	lnPartials.Put(bufp)
}

func lnBackwardRow(dx, dy, x, gamma, dg, db []float32, mu, rs, inv float32) {
	n := len(x)
	dy, dx, gamma, dg, db = dy[:n], dx[:n], gamma[:n], dg[:n], db[:n]
	n8 := 0
	var sg, sgx float32
	if useAVX2 && n >= 8 {
		n8 = n &^ 7
		sg, sgx = lnBwdReduceAVX2(&dy[0], &x[0], &gamma[0], &dg[0], &db[0], n8, mu, rs)
	}
	for j := n8; j < n; j++ {
		xh := (x[j] - mu) * rs
		g := dy[j] * gamma[j]
		sg += g
		sgx += g * xh
		dg[j] += dy[j] * xh
		db[j] += dy[j]
	}
	a, b := sg*inv, sgx*inv
	if useAVX2 && n >= 8 {
		lnBwdApplyAVX2(&dx[0], &dy[0], &x[0], &gamma[0], n8, mu, rs, a, b)
	}
	for j := n8; j < n; j++ {
		xh := (x[j] - mu) * rs
		dx[j] = rs * (dy[j]*gamma[j] - a - xh*b)
	}
}

func softmaxForwardFast(y, x []float32, rows, cols int) {
	if cols == 0 {
		return
	}
	parallelFor(rows, rowGrain(cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*cols : (r+1)*cols]
			yr := y[r*cols : (r+1)*cols]
			m := rowMax(xr)
			s := rowExpShiftSum(yr, xr, m)
			rowScale(yr, 1/s)
		}
	})
}

func softmaxBackwardFast(dx, y, dy []float32, rows, cols int) {
	if cols == 0 {
		return
	}
	parallelFor(rows, rowGrain(cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr := y[r*cols : (r+1)*cols]
			dyr := dy[r*cols : (r+1)*cols]
			rowSoftmaxBwdApply(dx[r*cols:(r+1)*cols], yr, dyr, rowDot(yr, dyr))
		}
	})
}

func geluForwardFast(y, x []float32) {
	parallelFor(len(x), vecGrain, func(lo, hi int) { geluFwdVec(y[lo:hi], x[lo:hi]) })
}

func geluBackwardFast(dx, x, dy []float32) {
	parallelFor(len(x), vecGrain, func(lo, hi int) { geluBwdVec(dx[lo:hi], x[lo:hi], dy[lo:hi]) })
}
