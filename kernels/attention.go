package kernels

import (
	"fmt"
	"math"
	"sync"
)

// Fused scaled-dot-product attention for the CPU (ViT self-attention, no
// mask). qkv is the output of timm's qkv Linear, [batch, tokens, 3, heads,
// headDim]; out is [batch, tokens, heads, headDim], ready for the proj
// Linear as [batch·tokens, heads·headDim]; lse is [batch, heads, tokens].

// AttentionForward sets out = softmax(scale·Q·Kᵀ)·V for every (batch, head)
// and lse to the log-sum-exp of each row of scale·Q·Kᵀ, which
// AttentionBackward needs.
func AttentionForward(out, lse, qkv []float32, batch, tokens, heads, headDim int, scale float32) {
	checkAttention("AttentionForward", batch, tokens, heads, headDim, len(qkv), len(out), len(lse))
	if batch*tokens*heads*headDim == 0 {
		return
	}
	parallelFor(batch*heads, 1, func(lo, hi int) {
		sc := getAttnScratch(tokens, headDim)
		for bh := lo; bh < hi; bh++ {
			if bh+1 < hi {
				attnPrefetch(qkv, nil, nil, (bh+1)/heads, (bh+1)%heads, tokens, heads, headDim)
			}
			attnForwardHead(sc, out, lse, qkv, bh/heads, bh%heads, heads, scale)
		}
		attnPool.Put(sc)
	})
}

// AttentionBackward writes into dqkv (same layout as qkv) the gradient of
// the loss given dout, the gradient at out. It recomputes the attention
// probabilities from qkv and the lse AttentionForward saved:
// P = exp(scale·Q·Kᵀ − lse), Dᵢ = rowsum(dOᵢ ⊙ Oᵢ), dS = P ⊙ (dO·Vᵀ − D),
// dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO.
func AttentionBackward(dqkv, dout, qkv, out, lse []float32, batch, tokens, heads, headDim int, scale float32) {
	checkAttention("AttentionBackward", batch, tokens, heads, headDim, len(qkv), len(out), len(lse))
	checkAttention("AttentionBackward", batch, tokens, heads, headDim, len(dqkv), len(dout), len(lse))
	if batch*tokens*heads*headDim == 0 {
		return
	}
	parallelFor(batch*heads, 1, func(lo, hi int) {
		sc := getAttnScratch(tokens, headDim)
		for bh := lo; bh < hi; bh++ {
			if bh+1 < hi {
				attnPrefetch(qkv, dout, out, (bh+1)/heads, (bh+1)%heads, tokens, heads, headDim)
			}
			attnBackwardHead(sc, dqkv, dout, qkv, out, lse, bh/heads, bh%heads, heads, scale)
		}
		attnPool.Put(sc)
	})
}

func checkAttention(op string, batch, tokens, heads, headDim, lqkv, lout, llse int) {
	if batch < 0 || tokens < 0 || heads < 0 || headDim < 0 {
		panic(fmt.Sprintf("kernels.%s: negative shape %d×%d×%d×%d", op, batch, tokens, heads, headDim))
	}
	n := batch * tokens * heads * headDim
	if lqkv < 3*n || lout < n || llse < batch*heads*tokens {
		panic(fmt.Sprintf("kernels.%s: shape %d×%d×%d×%d does not fit buffers qkv %d, out %d, lse %d",
			op, batch, tokens, heads, headDim, lqkv, lout, llse))
	}
}

// attnPrefetch hints the rows of head (b, h) in qkv (and dout and out when
// not nil) into cache while the current head computes.
func attnPrefetch(qkv, dout, out []float32, b, h, tokens, heads, headDim int) {
	if !useAVX2 {
		return
	}
	stride := 3 * heads * headDim
	base := b * tokens * stride
	for w := 0; w < 3; w++ {
		prefetchRows(&qkv[base+(w*heads+h)*headDim], tokens, stride, headDim*4)
	}
	for _, t := range [2][]float32{dout, out} {
		if t != nil {
			prefetchRows(&t[(b*tokens*heads+h)*headDim], tokens, heads*headDim, headDim*4)
		}
	}
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// attnScratch is one worker's contiguous copy of a head. Row counts are
// padded to the kernel's 6 rows, column counts to its 16 columns; the
// padding stays zero (only the first tokens rows / headDim columns are ever
// written), so padded tiles compute finite values that are never used.
type attnScratch struct {
	n, d       int // tokens, headDim
	nr         int // tokens rounded up to 6
	ls         int // row stride of token×token matrices: nr rounded up to 16
	dp         int // row stride of token×headDim matrices: headDim rounded up to 16
	q, k, v    []float32
	do         []float32 // dout of the head
	kt, vt     []float32 // headDim × ls
	s, dpm     []float32 // nr × ls: scores/P and dP/dS
	o          []float32
	dq, dk, dv []float32
}

var attnPool sync.Pool

func getAttnScratch(n, d int) *attnScratch {
	if sc, ok := attnPool.Get().(*attnScratch); ok && sc.n == n && sc.d == d {
		return sc
	}
	sc := &attnScratch{n: n, d: d, nr: roundUp(n, 6), dp: roundUp(d, 16)}
	sc.ls = roundUp(sc.nr, 16)
	mat := func(rows, cols int) []float32 { return make([]float32, rows*cols) }
	sc.q, sc.k, sc.v, sc.do = mat(sc.nr, sc.dp), mat(sc.nr, sc.dp), mat(sc.nr, sc.dp), mat(sc.nr, sc.dp)
	sc.o, sc.dq, sc.dk, sc.dv = mat(sc.nr, sc.dp), mat(sc.nr, sc.dp), mat(sc.nr, sc.dp), mat(sc.nr, sc.dp)
	sc.kt, sc.vt = mat(d, sc.ls), mat(d, sc.ls)
	sc.s, sc.dpm = mat(sc.nr, sc.ls), mat(sc.nr, sc.ls)
	return sc
}

// attnMatmul sets C = alpha·op(A)·B in 6×16 tiles (6×32 where AVX-512
// takes two at once) over m rows and n columns (both rounded up to 6 and
// 16: the buffers must hold the padded tiles), with
// A(i,p) = a[i·rsa + p·csa], B row-major (ldb), C row-major (ldc).
func attnMatmul(m, n, k int, alpha float32, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	mr, nr := roundUp(m, 6), roundUp(n, 16)
	// The assembly does not check bounds: check the far corners once.
	kk := max(k, 1)
	if (mr-1)*rsa+(kk-1)*csa >= len(a) || (kk-1)*ldb+nr-1 >= len(b) || (mr-1)*ldc+nr-1 >= len(c) {
		panic(fmt.Sprintf("kernels: attention tile %d×%d×%d out of its buffers (%d, %d, %d)", m, n, k, len(a), len(b), len(c)))
	}
	for i := 0; i < mr; i += 6 {
		for j := 0; j < nr; j += 16 {
			switch {
			case useAVX2 && useAVX512 && j+32 <= nr:
				attnKernelAVX512(&a[i*rsa], rsa, csa, &b[j], ldb, &c[i*ldc+j], ldc, k, alpha)
				j += 16
			case useAVX2:
				attnKernelAVX2(&a[i*rsa], rsa, csa, &b[j], ldb, &c[i*ldc+j], ldc, k, alpha)
			default:
				attnKernelGeneric(a[i*rsa:], rsa, csa, b[j:], ldb, c[i*ldc+j:], ldc, k, alpha)
			}
		}
	}
}

func attnKernelGeneric(a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc, k int, alpha float32) {
	var acc [6][16]float32
	for p := 0; p < k; p++ {
		br := b[p*ldb : p*ldb+16]
		for r := range acc {
			av := a[r*rsa+p*csa]
			row := &acc[r]
			for j := range row {
				row[j] += av * br[j]
			}
		}
	}
	for r := range acc {
		cr := c[r*ldc : r*ldc+16]
		for j := range cr {
			cr[j] = alpha * acc[r][j]
		}
	}
}

// gather copies head h of batch b out of qkv: Q and, as asked, K, Kᵀ, V
// and Vᵀ.
func (sc *attnScratch) gather(qkv []float32, b, h, heads int, k, v, vt bool) {
	n, d, dp, ls := sc.n, sc.d, sc.dp, sc.ls
	stride := 3 * heads * d
	for i := 0; i < n; i++ {
		row := qkv[(b*n+i)*stride : (b*n+i+1)*stride]
		copy(sc.q[i*dp:i*dp+d], row[h*d:(h+1)*d])
		kr := row[(heads+h)*d : (heads+h+1)*d]
		for p, x := range kr {
			sc.kt[p*ls+i] = x
		}
		if k {
			copy(sc.k[i*dp:i*dp+d], kr)
		}
		vr := row[(2*heads+h)*d : (2*heads+h+1)*d]
		if v {
			copy(sc.v[i*dp:i*dp+d], vr)
		}
		if vt {
			for p, x := range vr {
				sc.vt[p*ls+i] = x
			}
		}
	}
}

func attnForwardHead(sc *attnScratch, out, lse, qkv []float32, b, h, heads int, scale float32) {
	n, d, dp, ls := sc.n, sc.d, sc.dp, sc.ls
	sc.gather(qkv, b, h, heads, false, true, false)
	attnMatmul(n, n, d, scale, sc.q, dp, 1, sc.kt, ls, sc.s, ls)
	lrow := lse[(b*heads+h)*n : (b*heads+h+1)*n]
	for i := 0; i < n; i++ {
		row := sc.s[i*ls : i*ls+n]
		m := rowMax(row)
		l := rowExpShiftSum(row, row, m)
		rowScale(row, 1/l)
		lrow[i] = m + float32(math.Log(float64(l)))
	}
	attnMatmul(n, d, n, 1, sc.s, ls, 1, sc.v, dp, sc.o, dp)
	for i := 0; i < n; i++ {
		o := ((b*n+i)*heads + h) * d
		copy(out[o:o+d], sc.o[i*dp:i*dp+d])
	}
}

func attnBackwardHead(sc *attnScratch, dqkv, dout, qkv, out, lse []float32, b, h, heads int, scale float32) {
	n, d, dp, ls := sc.n, sc.d, sc.dp, sc.ls
	sc.gather(qkv, b, h, heads, true, false, true)
	for i := 0; i < n; i++ {
		o := ((b*n+i)*heads + h) * d
		copy(sc.do[i*dp:i*dp+d], dout[o:o+d])
	}
	// P = exp(scale·Q·Kᵀ − lse), row by row.
	attnMatmul(n, n, d, scale, sc.q, dp, 1, sc.kt, ls, sc.s, ls)
	lrow := lse[(b*heads+h)*n : (b*heads+h+1)*n]
	for i := 0; i < n; i++ {
		row := sc.s[i*ls : i*ls+n]
		rowExpShiftSum(row, row, lrow[i])
	}
	// dS = P ⊙ (dO·Vᵀ − D).
	attnMatmul(n, n, d, 1, sc.do, dp, 1, sc.vt, ls, sc.dpm, ls)
	for i := 0; i < n; i++ {
		o := ((b*n+i)*heads + h) * d
		di := rowDot(sc.do[i*dp:i*dp+d], out[o:o+d])
		ds := sc.dpm[i*ls : i*ls+n]
		rowSoftmaxBwdApply(ds, sc.s[i*ls:i*ls+n], ds, di)
	}
	attnMatmul(n, d, n, scale, sc.dpm, ls, 1, sc.k, dp, sc.dq, dp) // dQ = scale·dS·K
	attnMatmul(n, d, n, scale, sc.dpm, 1, ls, sc.q, dp, sc.dk, dp) // dK = scale·dSᵀ·Q
	attnMatmul(n, d, n, 1, sc.s, 1, ls, sc.do, dp, sc.dv, dp)      // dV = Pᵀ·dO
	stride := 3 * heads * d
	for i := 0; i < n; i++ {
		row := dqkv[(b*n+i)*stride : (b*n+i+1)*stride]
		copy(row[h*d:(h+1)*d], sc.dq[i*dp:i*dp+d])
		copy(row[(heads+h)*d:(heads+h+1)*d], sc.dk[i*dp:i*dp+d])
		copy(row[(2*heads+h)*d:(2*heads+h+1)*d], sc.dv[i*dp:i*dp+d])
	}
}

// attentionForwardRef and attentionBackwardRef are the naive float64
// references the fast paths are checked against.
func attentionForwardRef(out, lse, qkv []float32, batch, tokens, heads, headDim int, scale float32) {
	o64 := make([]float64, batch*tokens*heads*headDim)
	l64 := make([]float64, batch*heads*tokens)
	attnForward64(o64, l64, toF64(qkv), batch, tokens, heads, headDim, float64(scale))
	for i, v := range o64 {
		out[i] = float32(v)
	}
	for i, v := range l64 {
		lse[i] = float32(v)
	}
}

func attentionBackwardRef(dqkv, dout, qkv []float32, batch, tokens, heads, headDim int, scale float32) {
	d64 := make([]float64, 3*batch*tokens*heads*headDim)
	attnBackward64(d64, toF64(dout), toF64(qkv), batch, tokens, heads, headDim, float64(scale))
	for i, v := range d64 {
		dqkv[i] = float32(v)
	}
}

func toF64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// attnProbs64 returns P[i][j] of head (b, h) and the lse of each row.
func attnProbs64(qkv []float64, b, h, n, heads, d int, scale float64) (p [][]float64, lse []float64) {
	at := func(i, which, c int) float64 { return qkv[(((b*n+i)*3+which)*heads+h)*d+c] }
	p = make([][]float64, n)
	lse = make([]float64, n)
	for i := range p {
		p[i] = make([]float64, n)
		m := math.Inf(-1)
		for j := range p[i] {
			var s float64
			for c := 0; c < d; c++ {
				s += at(i, 0, c) * at(j, 1, c)
			}
			p[i][j] = scale * s
			m = max(m, p[i][j])
		}
		var l float64
		for j := range p[i] {
			p[i][j] = math.Exp(p[i][j] - m)
			l += p[i][j]
		}
		for j := range p[i] {
			p[i][j] /= l
		}
		lse[i] = m + math.Log(l)
	}
	return p, lse
}

func attnForward64(out, lse, qkv []float64, batch, n, heads, d int, scale float64) {
	for b := 0; b < batch; b++ {
		for h := 0; h < heads; h++ {
			p, l := attnProbs64(qkv, b, h, n, heads, d, scale)
			copy(lse[(b*heads+h)*n:], l)
			for i := 0; i < n; i++ {
				for c := 0; c < d; c++ {
					var s float64
					for j := 0; j < n; j++ {
						s += p[i][j] * qkv[(((b*n+j)*3+2)*heads+h)*d+c]
					}
					out[((b*n+i)*heads+h)*d+c] = s
				}
			}
		}
	}
}

func attnBackward64(dqkv, dout, qkv []float64, batch, n, heads, d int, scale float64) {
	for b := 0; b < batch; b++ {
		for h := 0; h < heads; h++ {
			p, _ := attnProbs64(qkv, b, h, n, heads, d, scale)
			at := func(i, which, c int) float64 { return qkv[(((b*n+i)*3+which)*heads+h)*d+c] }
			do := func(i, c int) float64 { return dout[((b*n+i)*heads+h)*d+c] }
			dq := func(i, which, c int) *float64 { return &dqkv[(((b*n+i)*3+which)*heads+h)*d+c] }
			ds := make([][]float64, n)
			for i := range ds {
				ds[i] = make([]float64, n)
				var di float64
				for j := range ds[i] {
					var dp float64
					for c := 0; c < d; c++ {
						dp += do(i, c) * at(j, 2, c)
					}
					ds[i][j] = dp
					di += p[i][j] * dp
				}
				for j := range ds[i] {
					ds[i][j] = p[i][j] * (ds[i][j] - di)
				}
			}
			for i := 0; i < n; i++ {
				for c := 0; c < d; c++ {
					var gq, gk, gv float64
					for j := 0; j < n; j++ {
						gq += ds[i][j] * at(j, 1, c)
						gk += ds[j][i] * at(j, 0, c)
						gv += p[j][i] * do(j, c)
					}
					*dq(i, 0, c) = scale * gq
					*dq(i, 1, c) = scale * gk
					*dq(i, 2, c) = gv
				}
			}
		}
	}
}
