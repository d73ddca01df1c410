package kernels

import (
	"fmt"
	"math"
)

// This file holds the row-wise primitives of a transformer step in plain Go.
// They are the reference the vectorised versions are checked against.

// GeluForward sets y[i] = x[i]·Φ(x[i]), the exact (erf) GELU.
func GeluForward(y, x []float32) {
	checkSameLen("GeluForward", len(y), len(x))
	geluForwardFast(y, x)
}

// GeluBackward sets dx[i] = dy[i]·GELU'(x[i]).
func GeluBackward(dx, x, dy []float32) {
	checkSameLen("GeluBackward", len(dx), len(x))
	checkSameLen("GeluBackward", len(dx), len(dy))
	geluBackwardFast(dx, x, dy)
}

func geluForwardRef(y, x []float32) {
	for i, v := range x {
		f := float64(v)
		y[i] = float32(0.5 * f * (1 + math.Erf(f/math.Sqrt2)))
	}
}

func geluBackwardRef(dx, x, dy []float32) {
	const invSqrt2Pi = 0.3989422804014327
	for i, v := range x {
		f := float64(v)
		cdf := 0.5 * (1 + math.Erf(f/math.Sqrt2))
		pdf := invSqrt2Pi * math.Exp(-0.5*f*f)
		dx[i] = float32(float64(dy[i]) * (cdf + f*pdf))
	}
}

// LayerNormForward normalises each of rows rows of cols values of x:
// y = (x-mean)·rstd·gamma + beta, with rstd = 1/sqrt(var+eps) and the
// biased variance. gamma and beta may be nil (no affine transform). mean and
// rstd (len rows) receive the statistics backward needs.
func LayerNormForward(y, x, gamma, beta, mean, rstd []float32, rows, cols int, eps float32) {
	checkRows("LayerNormForward", rows, cols, len(x), len(y))
	if len(mean) < rows || len(rstd) < rows {
		panic(fmt.Sprintf("kernels.LayerNormForward: mean/rstd hold %d/%d, need %d", len(mean), len(rstd), rows))
	}
	if (gamma != nil && len(gamma) != cols) || (beta != nil && len(beta) != cols) {
		panic(fmt.Sprintf("kernels.LayerNormForward: gamma/beta of %d/%d for %d columns", len(gamma), len(beta), cols))
	}
	layerNormForwardFast(y, x, gamma, beta, mean, rstd, rows, cols, eps)
}

func layerNormForwardRef(y, x, gamma, beta, mean, rstd []float32, rows, cols int, eps float32) {
	for r := 0; r < rows; r++ {
		xr := x[r*cols : (r+1)*cols]
		yr := y[r*cols : (r+1)*cols]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		mu := s / float64(cols)
		var ss float64
		for _, v := range xr {
			d := float64(v) - mu
			ss += d * d
		}
		rs := 1 / math.Sqrt(ss/float64(cols)+float64(eps))
		mean[r], rstd[r] = float32(mu), float32(rs)
		for j, v := range xr {
			n := (float64(v) - mu) * rs
			if gamma != nil {
				n *= float64(gamma[j])
			}
			if beta != nil {
				n += float64(beta[j])
			}
			yr[j] = float32(n)
		}
	}
}

// LayerNormBackward computes dx from dy and the saved statistics, and adds
// the gradients of gamma and beta into dgamma and dbeta (either may be nil).
func LayerNormBackward(dx, dy, x, gamma, mean, rstd, dgamma, dbeta []float32, rows, cols int) {
	checkRows("LayerNormBackward", rows, cols, len(x), len(dy))
	checkRows("LayerNormBackward", rows, cols, len(x), len(dx))
	if len(mean) < rows || len(rstd) < rows {
		panic(fmt.Sprintf("kernels.LayerNormBackward: mean/rstd hold %d/%d, need %d", len(mean), len(rstd), rows))
	}
	if (gamma != nil && len(gamma) != cols) || (dgamma != nil && len(dgamma) != cols) || (dbeta != nil && len(dbeta) != cols) {
		panic(fmt.Sprintf("kernels.LayerNormBackward: gamma/dgamma/dbeta of %d/%d/%d for %d columns", len(gamma), len(dgamma), len(dbeta), cols))
	}
	layerNormBackwardFast(dx, dy, x, gamma, mean, rstd, dgamma, dbeta, rows, cols)
}

func layerNormBackwardRef(dx, dy, x, gamma, mean, rstd, dgamma, dbeta []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		xr := x[r*cols : (r+1)*cols]
		dyr := dy[r*cols : (r+1)*cols]
		dxr := dx[r*cols : (r+1)*cols]
		mu, rs := float64(mean[r]), float64(rstd[r])
		// g = dy·gamma; dx = rstd·(g − mean(g) − xhat·mean(g·xhat)).
		var sg, sgx float64
		for j := range xr {
			g := float64(dyr[j])
			if gamma != nil {
				g *= float64(gamma[j])
			}
			xh := (float64(xr[j]) - mu) * rs
			sg += g
			sgx += g * xh
			if dgamma != nil {
				dgamma[j] += float32(float64(dyr[j]) * xh)
			}
			if dbeta != nil {
				dbeta[j] += dyr[j]
			}
		}
		sg /= float64(cols)
		sgx /= float64(cols)
		for j := range xr {
			g := float64(dyr[j])
			if gamma != nil {
				g *= float64(gamma[j])
			}
			xh := (float64(xr[j]) - mu) * rs
			dxr[j] = float32(rs * (g - sg - xh*sgx))
		}
	}
}

// SoftmaxForward sets each row of y to softmax of the same row of x.
func SoftmaxForward(y, x []float32, rows, cols int) {
	checkRows("SoftmaxForward", rows, cols, len(x), len(y))
	softmaxForwardFast(y, x, rows, cols)
}

func softmaxForwardRef(y, x []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		xr := x[r*cols : (r+1)*cols]
		yr := y[r*cols : (r+1)*cols]
		mx := float32(math.Inf(-1))
		for _, v := range xr {
			if v > mx {
				mx = v
			}
		}
		var s float64
		for j, v := range xr {
			e := math.Exp(float64(v - mx))
			yr[j] = float32(e)
			s += e
		}
		inv := float32(1 / s)
		for j := range yr {
			yr[j] *= inv
		}
	}
}

// SoftmaxBackward sets dx = y ⊙ (dy − rowsum(dy ⊙ y)) for each row.
func SoftmaxBackward(dx, y, dy []float32, rows, cols int) {
	checkRows("SoftmaxBackward", rows, cols, len(y), len(dy))
	checkRows("SoftmaxBackward", rows, cols, len(y), len(dx))
	softmaxBackwardFast(dx, y, dy, rows, cols)
}

func softmaxBackwardRef(dx, y, dy []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		yr := y[r*cols : (r+1)*cols]
		dyr := dy[r*cols : (r+1)*cols]
		dxr := dx[r*cols : (r+1)*cols]
		var s float64
		for j := range yr {
			s += float64(yr[j]) * float64(dyr[j])
		}
		for j := range yr {
			dxr[j] = float32(float64(yr[j]) * (float64(dyr[j]) - s))
		}
	}
}

func checkSameLen(op string, a, b int) {
	if a != b {
		panic(fmt.Sprintf("kernels.%s: lengths differ: %d and %d", op, a, b))
	}
}

func checkRows(op string, rows, cols, la, lb int) {
	if rows < 0 || cols < 0 || la < rows*cols || lb < rows*cols {
		panic(fmt.Sprintf("kernels.%s: %d×%d rows do not fit buffers of %d and %d", op, rows, cols, la, lb))
	}
}
