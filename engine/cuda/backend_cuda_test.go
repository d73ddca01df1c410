//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mocogo/mocogo/engine"
)

// The conformance test runs every engine.Backend method on the CUDA backend
// and on the CPU reference (engine.NewCPU(engine.F32)) with the same fresh
// random inputs, every output poisoned with NaN first, and compares the
// results: ‖gpu−cpu‖/‖cpu‖ under the case's tolerance, no non-finite value.

const (
	tolF32  = 1e-5 // fp32 kernels
	tolGemm = 2e-3 // fp16 operands, fp32 accumulation
	tolAttn = 1e-2 // fp16 flash attention
)

type harness struct {
	t   *testing.T
	r   *rand.Rand
	g   *Backend
	c   *engine.CPU
	gpu []engine.Storage // released at the end
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, r: newRand(t), g: NewBackend(dev), c: engine.NewCPU(engine.F32)}
	t.Cleanup(func() {
		for _, s := range h.gpu {
			h.g.Release(s)
		}
	})
	return h
}

// pair is one tensor on both backends.
type pair struct {
	g, c engine.Storage
	n    int
}

func (h *harness) alloc(n int) pair {
	p := pair{h.g.Alloc(n), h.c.Alloc(n), n}
	h.gpu = append(h.gpu, p.g)
	return p
}

// in returns a pair holding the same values.
func (h *harness) in(v []float32) pair {
	p := h.alloc(len(v))
	h.g.Upload32(p.g, v)
	h.c.Upload32(p.c, v)
	return p
}

// rnd returns a pair of n uniform values in [-scale, scale).
func (h *harness) rnd(n int, scale float64) pair { return h.in(randF32(h.r, n, scale)) }

// out returns a pair poisoned with NaN on both sides.
func (h *harness) out(n int) pair {
	p := h.alloc(n)
	nan := math.NaN()
	h.g.Fill(p.g, nan)
	h.c.Fill(p.c, nan)
	return p
}

// nilPair is an absent optional storage.
var nilPair = pair{}

func (p pair) G() engine.Storage {
	if p.g == nil {
		return nil
	}
	return p.g
}

func (p pair) C() engine.Storage {
	if p.c == nil {
		return nil
	}
	return p.c
}

// check compares the two sides of p.
func (h *harness) check(what string, p pair, tol float64) {
	h.t.Helper()
	got := make([]float32, p.n)
	want := make([]float32, p.n)
	h.g.Download32(got, p.g)
	h.c.Download32(want, p.c)
	h.compare(what, got, want, tol)
}

// compare checks got (GPU) against want (CPU reference): ‖got−want‖/‖want‖
// under tol, no non-finite value in got, none in want.
func (h *harness) compare(what string, got, want []float32, tol float64) {
	h.t.Helper()
	var num, den float64
	bad, badRef := 0, 0
	first := -1
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		if math.IsNaN(w) || math.IsInf(w, 0) {
			badRef++
			continue
		}
		if math.IsNaN(g) || math.IsInf(g, 0) {
			if first < 0 {
				first = i
			}
			bad++
			continue
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	rel := math.Sqrt(num)
	if den > 0 {
		rel = math.Sqrt(num / den)
	}
	switch {
	case badRef > 0:
		h.t.Errorf("%s: CPU reference has %d non-finite values", what, badRef)
	case bad > 0:
		h.t.Errorf("%s: %d non-finite values on the GPU (first at %d of %d)", what, bad, first, len(got))
	case rel > tol || math.IsNaN(rel):
		h.t.Errorf("%s: relative error %.3g > %.3g (n=%d)", what, rel, tol, len(got))
	default:
		h.t.Logf("%s: relative error %.3g", what, rel)
	}
}

var oddSizes = []int{1, 7, 33, 197, 1000, 4099}

func TestBackendElementwise(t *testing.T) {
	h := newHarness(t)
	for _, n := range oddSizes {
		d := h.out(n)
		h.g.Fill(d.g, 0.375)
		h.c.Fill(d.c, 0.375)
		h.check(fmt.Sprintf("Fill n=%d", n), d, 0)

		x := h.rnd(n, 1)
		d = h.out(n)
		h.g.Copy(d.g, x.g)
		h.c.Copy(d.c, x.c)
		h.check(fmt.Sprintf("Copy n=%d", n), d, 0)

		d = h.rnd(n, 1)
		h.g.Axpy(d.g, -0.7, x.g)
		h.c.Axpy(d.c, -0.7, x.c)
		h.check(fmt.Sprintf("Axpy n=%d", n), d, tolF32)

		d = h.out(n)
		h.g.Scale(d.g, x.g, 1.3)
		h.c.Scale(d.c, x.c, 1.3)
		h.check(fmt.Sprintf("Scale n=%d", n), d, tolF32)

		s := h.rnd(1, 2)
		d = h.out(n)
		h.g.BroadcastScalar(d.g, s.g, -0.5)
		h.c.BroadcastScalar(d.c, s.c, -0.5)
		h.check(fmt.Sprintf("BroadcastScalar n=%d", n), d, tolF32)

		for _, op := range []engine.UnaryOp{engine.OpGELU, engine.OpReLU} {
			x := h.rnd(n, 4)
			d = h.out(n)
			h.g.Unary(op, d.g, x.g)
			h.c.Unary(op, d.c, x.c)
			h.check(fmt.Sprintf("Unary %d n=%d", op, n), d, tolF32)
			dy := h.rnd(n, 1)
			d = h.out(n)
			h.g.UnaryBackward(op, d.g, x.g, dy.g)
			h.c.UnaryBackward(op, d.c, x.c, dy.c)
			h.check(fmt.Sprintf("UnaryBackward %d n=%d", op, n), d, 2*tolF32)
		}
	}
	for _, c := range [][2]int{{1000, 1000}, {197 * 33, 33}, {197 * 64, 64}, {7, 1}, {1000, 1}, {33 * 7, 7}, {12, 4}} {
		n, nb := c[0], c[1]
		for _, op := range []engine.BinaryOp{engine.OpAdd, engine.OpSub, engine.OpMul} {
			a, b := h.rnd(n, 1), h.rnd(nb, 1)
			d := h.out(n)
			h.g.Binary(op, d.g, a.g, b.g)
			h.c.Binary(op, d.c, a.c, b.c)
			h.check(fmt.Sprintf("Binary %d %d×%d", op, n/nb, nb), d, tolF32)
		}
		// In place, as the engine's Linear does with its bias.
		a, b := h.rnd(n, 1), h.rnd(nb, 1)
		h.g.Binary(engine.OpAdd, a.g, a.g, b.g)
		h.c.Binary(engine.OpAdd, a.c, a.c, b.c)
		h.check(fmt.Sprintf("Binary in place %d×%d", n/nb, nb), a, tolF32)
	}
}

func TestBackendReductions(t *testing.T) {
	h := newHarness(t)
	for _, c := range [][2]int{{1, 7}, {197, 33}, {1000, 384}, {4000, 64}, {3, 1000}, {200, 132}, {50432, 384}, {50432, 1536}, {16, 1}} {
		rows, cols := c[0], c[1]
		if testing.Short() && rows*cols > 1<<18 {
			continue
		}
		for _, beta := range []float64{0, 0.5} {
			x := h.rnd(rows*cols, 1)
			d := h.out(cols)
			if beta != 0 {
				d = h.rnd(cols, 1)
			}
			h.g.SumRows(d.g, x.g, rows, cols, beta)
			h.c.SumRows(d.c, x.c, rows, cols, beta)
			h.check(fmt.Sprintf("SumRows %d×%d beta %g", rows, cols, beta), d, tolF32)
		}
	}
	for _, n := range append(oddSizes, 1<<20+3) {
		if testing.Short() && n > 1<<18 {
			continue
		}
		x := h.rnd(n, 1)
		d := h.out(1)
		h.g.SumAll(d.g, x.g)
		h.c.SumAll(d.c, x.c)
		h.check(fmt.Sprintf("SumAll n=%d", n), d, 1e-4)
	}
}

func TestBackendGemm(t *testing.T) {
	h := newHarness(t)
	type gc struct {
		batch, m, n, k int
		sa, sb, sc     bool // strided per product (false: shared, stride 0)
		beta           float64
	}
	cases := []gc{
		{1, 1, 7, 33, true, true, true, 0},
		{1, 197, 33, 64, true, true, true, 0},
		{1, 33, 197, 1000, true, true, true, 0.5},
		{1, 256, 384, 1152, true, true, true, 0},
		{3, 65, 33, 17, true, false, true, 0},
		{4, 32, 48, 64, true, true, true, 0},
		{3, 33, 7, 65, true, true, false, 0},   // strideC 0: accumulate
		{5, 16, 64, 197, true, true, false, 1}, // accumulate onto C
	}
	for _, c := range cases {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			sa, sb, sc := c.m*c.k, c.k*c.n, c.m*c.n
			if !c.sa {
				sa = 0
			}
			if !c.sb {
				sb = 0
			}
			nc := c.batch * sc
			if !c.sc {
				sc, nc = 0, c.m*c.n
			}
			a := h.rnd((c.batch-1)*sa+c.m*c.k, 1)
			b := h.rnd((c.batch-1)*sb+c.k*c.n, 1)
			d := h.out(nc)
			if c.beta != 0 {
				d = h.rnd(nc, 1)
			}
			h.g.Gemm(tr[0], tr[1], c.batch, c.m, c.n, c.k, 0.75, a.g, sa, b.g, sb, c.beta, d.g, sc)
			h.c.Gemm(tr[0], tr[1], c.batch, c.m, c.n, c.k, 0.75, a.c, sa, b.c, sb, c.beta, d.c, sc)
			h.check(fmt.Sprintf("Gemm %+v trans %v", c, tr), d, tolGemm)
		}
	}
	// Odd strides are copied to multiples of 8 in scratch buffers that come
	// from the cache: whatever those blocks held last (here halves near
	// 32768, read as fp32 about 5e33) must not enter an operand's scale.
	// Every block size from 512 B to 64 KiB is left dirty in the cache
	// first.
	var dirty []*Buffer
	for bytes := int64(512); bytes <= 64<<10; bytes += 512 {
		d, err := dev.Alloc(bytes) // freed below, into the cache
		must(t, err)
		must(t, d.Fill32(0x77ff77ff))
		dirty = append(dirty, d)
	}
	for _, d := range dirty {
		d.Free()
	}
	for _, c := range []gc{{3, 65, 33, 17, true, true, true, 0}, {3, 33, 7, 65, true, true, true, 0}} {
		a := h.rnd((c.batch-1)*c.m*c.k+c.m*c.k, 1)
		b := h.rnd((c.batch-1)*c.k*c.n+c.k*c.n, 1)
		d := h.out(c.batch * c.m * c.n)
		h.g.Gemm(false, false, c.batch, c.m, c.n, c.k, 1, a.g, c.m*c.k, b.g, c.k*c.n, 0, d.g, c.m*c.n)
		h.c.Gemm(false, false, c.batch, c.m, c.n, c.k, 1, a.c, c.m*c.k, b.c, c.k*c.n, 0, d.c, c.m*c.n)
		h.check(fmt.Sprintf("Gemm %+v after dirty cached blocks", c), d, tolGemm)
	}
	// Gradient-sized operands (1e-7, fp16 subnormals unscaled) and large
	// ones (1e5, past fp16's range): the per-tensor scales keep them exact.
	for _, mag := range [][2]float64{{1e-7, 1}, {1e-6, 1e-5}, {1e5, 1e-3}} {
		m, n, k := 197, 64, 384
		a, b := h.rnd(m*k, mag[0]), h.rnd(k*n, mag[1])
		d := h.out(m * n)
		h.g.Gemm(false, true, 1, m, n, k, 1, a.g, 0, b.g, 0, 0, d.g, 0)
		h.c.Gemm(false, true, 1, m, n, k, 1, a.c, 0, b.c, 0, 0, d.c, 0)
		h.check(fmt.Sprintf("Gemm magnitudes %g·%g", mag[0], mag[1]), d, tolGemm)
	}
}

// TestBackendNonFinite runs the activations on NaN (and ReLU on ±Inf),
// in the 4-wide body and the scalar tail: NaN must stay NaN (a ReLU that
// turned it into 0 would hide a diverged projector from the finite-loss
// check), and each output must be what the CPU backend gives. (GELU at
// ±Inf is left out: 0·Inf there depends on how far each erf is clamped.)
func TestBackendNonFinite(t *testing.T) {
	h := newHarness(t)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	dyv := []float32{1, 1, 1, 1, 1, 1, nan, 1, 1, 1, 1}
	dy := h.in(dyv)
	for _, op := range []engine.UnaryOp{engine.OpGELU, engine.OpReLU} {
		v := []float32{nan, 3, -3, 1.5, -1.5, 0, nan, 2, -1, nan, 0.5}
		if op == engine.OpReLU {
			v[1], v[2], v[8] = inf, -inf, -inf
		}
		x := h.in(v)
		for _, back := range []bool{false, true} {
			d := h.out(len(v))
			if back {
				h.g.UnaryBackward(op, d.g, x.g, dy.g)
				h.c.UnaryBackward(op, d.c, x.c, dy.c)
			} else {
				h.g.Unary(op, d.g, x.g)
				h.c.Unary(op, d.c, x.c)
			}
			got, want := make([]float32, len(v)), make([]float32, len(v))
			h.g.Download32(got, d.g)
			h.c.Download32(want, d.c)
			for i := range v {
				g, w := float64(got[i]), float64(want[i])
				ok := math.IsNaN(g) == math.IsNaN(w) && (math.IsNaN(w) || g == w || math.Abs(g-w) <= 1e-5*(1+math.Abs(w)))
				assert.True(t, ok, "op %d backward %v: input %g (dy %g): got %g, want %g", op, back, v[i], dyv[i], g, w)
			}
		}
	}
}

func TestBackendNorms(t *testing.T) {
	h := newHarness(t)
	for _, c := range [][2]int{{197, 384}, {1, 64}, {33, 33}, {16, 1000}, {7, 7}, {394, 1536}} {
		rows, cols := c[0], c[1]
		for _, affine := range []bool{true, false} {
			x := h.rnd(rows*cols, 2)
			g, b := nilPair, nilPair
			if affine {
				g, b = h.rnd(cols, 1), h.rnd(cols, 1)
			}
			y, mean, rstd := h.out(rows*cols), h.out(rows), h.out(rows)
			h.g.LayerNorm(y.g, mean.g, rstd.g, x.g, g.G(), b.G(), rows, cols, 1e-6)
			h.c.LayerNorm(y.c, mean.c, rstd.c, x.c, g.C(), b.C(), rows, cols, 1e-6)
			name := fmt.Sprintf("LayerNorm %d×%d affine %v", rows, cols, affine)
			h.check(name+" y", y, tolF32)
			h.check(name+" mean", mean, tolF32)
			h.check(name+" rstd", rstd, tolF32)
			dy := h.rnd(rows*cols, 1)
			dx := h.out(rows * cols)
			dg, db := nilPair, nilPair
			if affine {
				dg, db = h.rnd(cols, 1), h.rnd(cols, 1)
			}
			h.g.LayerNormBackward(dx.g, dg.G(), db.G(), dy.g, x.g, g.G(), mean.g, rstd.g, rows, cols)
			h.c.LayerNormBackward(dx.c, dg.C(), db.C(), dy.c, x.c, g.C(), mean.c, rstd.c, rows, cols)
			h.check(name+" dx", dx, 1e-4)
			if affine {
				h.check(name+" dgamma", dg, 1e-4)
				h.check(name+" dbeta", db, 1e-4)
			}
		}
	}
	for _, c := range [][2]int{{16, 33}, {256, 256}, {256, 4096}, {2, 7}, {512, 1000}} {
		rows, cols := c[0], c[1]
		for _, affine := range []bool{true, false} {
			x := h.rnd(rows*cols, 2)
			g, b := nilPair, nilPair
			if affine {
				g, b = h.rnd(cols, 1), h.rnd(cols, 1)
			}
			rm, rv := h.rnd(cols, 0.5), h.in(randPos(h.r, cols))
			y, mean, rstd := h.out(rows*cols), h.out(cols), h.out(cols)
			name := fmt.Sprintf("BatchNorm %d×%d affine %v", rows, cols, affine)
			h.g.BatchNorm(y.g, mean.g, rstd.g, x.g, g.G(), b.G(), rm.g, rv.g, rows, cols, true, 0.1, 1e-5)
			h.c.BatchNorm(y.c, mean.c, rstd.c, x.c, g.C(), b.C(), rm.c, rv.c, rows, cols, true, 0.1, 1e-5)
			h.check(name+" y", y, tolF32)
			h.check(name+" mean", mean, tolF32)
			h.check(name+" rstd", rstd, tolF32)
			h.check(name+" running mean", rm, tolF32)
			h.check(name+" running var", rv, tolF32)
			dy := h.rnd(rows*cols, 1)
			dx := h.out(rows * cols)
			dg, db := nilPair, nilPair
			if affine {
				dg, db = h.rnd(cols, 1), h.rnd(cols, 1)
			}
			h.g.BatchNormBackward(dx.g, dg.G(), db.G(), dy.g, x.g, g.G(), mean.g, rstd.g, rows, cols)
			h.c.BatchNormBackward(dx.c, dg.C(), db.C(), dy.c, x.c, g.C(), mean.c, rstd.c, rows, cols)
			// With two samples x̂ = ±1 whatever x is, so dx is zero up to
			// eps and its relative error is rounding noise (seen: 2.6e-3 on
			// an H100); the larger batches check dx.
			if rows > 2 {
				h.check(name+" dx", dx, 1e-4)
			}
			if affine {
				h.check(name+" dgamma", dg, 1e-4)
				h.check(name+" dbeta", db, 1e-4)
			}
			// Eval mode, on the updated running statistics; without
			// running statistics in training.
			y2, m2, r2 := h.out(rows*cols), h.out(cols), h.out(cols)
			h.g.BatchNorm(y2.g, m2.g, r2.g, x.g, g.G(), b.G(), rm.g, rv.g, rows, cols, false, 0.1, 1e-5)
			h.c.BatchNorm(y2.c, m2.c, r2.c, x.c, g.C(), b.C(), rm.c, rv.c, rows, cols, false, 0.1, 1e-5)
			h.check(name+" eval y", y2, tolF32)
			y3, m3, r3 := h.out(rows*cols), h.out(cols), h.out(cols)
			h.g.BatchNorm(y3.g, m3.g, r3.g, x.g, g.G(), b.G(), nil, nil, rows, cols, true, 0, 1e-5)
			h.c.BatchNorm(y3.c, m3.c, r3.c, x.c, g.C(), b.C(), nil, nil, rows, cols, true, 0, 1e-5)
			h.check(name+" no running stats y", y3, tolF32)
		}
	}
}

func randPos(r *rand.Rand, n int) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(0.5 + r.Float64())
	}
	return f
}

func TestBackendRows(t *testing.T) {
	h := newHarness(t)
	for _, c := range [][2]int{{197, 197}, {7, 1000}, {33, 1}, {1, 4099}, {512, 256}} {
		rows, cols := c[0], c[1]
		name := fmt.Sprintf("%d×%d", rows, cols)
		x := h.rnd(rows*cols, 5)
		y := h.out(rows * cols)
		h.g.Softmax(y.g, x.g, rows, cols)
		h.c.Softmax(y.c, x.c, rows, cols)
		h.check("Softmax "+name, y, tolF32)
		dy, dx := h.rnd(rows*cols, 1), h.out(rows*cols)
		h.g.SoftmaxBackward(dx.g, y.g, dy.g, rows, cols)
		h.c.SoftmaxBackward(dx.c, y.c, dy.c, rows, cols)
		h.check("SoftmaxBackward "+name, dx, 1e-4)

		// L2 normalise; row 0 tiny so that its norm is clamped.
		xv := randF32(h.r, rows*cols, 1)
		for j := 0; j < cols; j++ {
			xv[j] *= 1e-14
		}
		x = h.in(xv)
		y, norm := h.out(rows*cols), h.out(rows)
		h.g.L2Normalize(y.g, norm.g, x.g, rows, cols, 1e-12)
		h.c.L2Normalize(y.c, norm.c, x.c, rows, cols, 1e-12)
		h.check("L2Normalize "+name, y, tolF32)
		h.check("L2Normalize norm "+name, norm, tolF32)
		dx = h.out(rows * cols)
		h.g.L2NormalizeBackward(dx.g, dy.g, y.g, norm.g, rows, cols)
		h.c.L2NormalizeBackward(dx.c, dy.c, y.c, norm.c, rows, cols)
		h.check("L2NormalizeBackward "+name, dx, 1e-4)

		labels := make([]int32, rows)
		for i := range labels {
			labels[i] = int32(h.r.IntN(cols))
		}
		loss, dl := h.out(1), h.out(rows*cols)
		h.g.CrossEntropy(loss.g, dl.g, x.g, labels, rows, cols)
		h.c.CrossEntropy(loss.c, dl.c, x.c, labels, rows, cols)
		h.check("CrossEntropy loss "+name, loss, tolF32)
		h.check("CrossEntropy dlogits "+name, dl, tolF32)
	}
}

func TestBackendAttention(t *testing.T) {
	h := newHarness(t)
	for _, c := range [][4]int{{2, 197, 6, 64}, {3, 65, 2, 32}, {4, 50, 12, 32}, {2, 33, 3, 16}, {1, 7, 1, 48}, {2, 1, 2, 32}} {
		B, N, H, D := c[0], c[1], c[2], c[3]
		tol := tolAttn
		if D != 32 && D != 64 {
			tol = 1e-4 // the fp32 fallback
		}
		name := fmt.Sprintf("Attention B%d N%d H%d D%d", B, N, H, D)
		scale := 1 / math.Sqrt(float64(D))
		qkv := h.rnd(B*N*3*H*D, 1.5)
		out, lse := h.out(B*N*H*D), h.out(B*H*N)
		h.g.Attention(out.g, lse.g, qkv.g, B, N, H, D, scale)
		h.c.Attention(out.c, lse.c, qkv.c, B, N, H, D, scale)
		h.check(name+" out", out, tol)
		h.check(name+" lse", lse, max(tol/10, 1e-4))
		for _, mag := range []float64{1, 1e-7} { // 1e-7: a gradient-sized dout
			dout, dqkv := h.rnd(B*N*H*D, mag), h.out(B*N*3*H*D)
			h.g.AttentionBackward(dqkv.g, dout.g, qkv.g, out.g, lse.g, B, N, H, D, scale)
			h.c.AttentionBackward(dqkv.c, dout.c, qkv.c, out.c, lse.c, B, N, H, D, scale)
			h.check(fmt.Sprintf("%s dqkv (dout %g)", name, mag), dqkv, tol)
		}
	}
}

func TestBackendLayout(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ shape, perm []int }{
		{[]int{2, 3, 4, 5, 6, 7}, []int{0, 2, 4, 1, 3, 5}},
		{[]int{197, 33}, []int{1, 0}},
		{[]int{2, 197, 3, 6, 32}, []int{2, 0, 3, 1, 4}},
		{[]int{1000}, []int{0}},
		{[]int{7, 1, 33}, []int{2, 0, 1}},
	} {
		n := 1
		for _, d := range c.shape {
			n *= d
		}
		x, d := h.rnd(n, 1), h.out(n)
		h.g.Permute(d.g, x.g, c.shape, c.perm)
		h.c.Permute(d.c, x.c, c.shape, c.perm)
		h.check(fmt.Sprintf("Permute %v %v", c.shape, c.perm), d, 0)
	}
	// Slice [2, 197, 64] → tokens 1..197; concat back; accumulate.
	outer, inner := 2, 64
	x := h.rnd(outer*197*inner, 1)
	d := h.out(outer * 196 * inner)
	h.g.CopyAxis(d.g, 196, 0, x.g, 197, 1, outer, 196, inner, false)
	h.c.CopyAxis(d.c, 196, 0, x.c, 197, 1, outer, 196, inner, false)
	h.check("CopyAxis slice", d, 0)
	y := h.rnd(outer*200*inner, 1)
	h.g.CopyAxis(y.g, 200, 3, x.g, 197, 0, outer, 197, inner, false)
	h.c.CopyAxis(y.c, 200, 3, x.c, 197, 0, outer, 197, inner, false)
	h.check("CopyAxis concat", y, 0)
	h.g.CopyAxis(y.g, 200, 1, d.g, 196, 0, outer, 196, inner, true)
	h.c.CopyAxis(y.c, 200, 1, d.c, 196, 0, outer, 196, inner, true)
	h.check("CopyAxis accumulate", y, tolF32)
	z := h.rnd(7*33*5, 1)
	w := h.rnd(7*2*5, 1)
	h.g.CopyAxis(w.g, 2, 1, z.g, 33, 30, 7, 1, 5, true)
	h.c.CopyAxis(w.c, 2, 1, z.c, 33, 30, 7, 1, 5, true)
	h.check("CopyAxis odd", w, tolF32)
}

func TestBackendOptim(t *testing.T) {
	h := newHarness(t)
	for _, n := range []int{1, 7, 1003, 384 * 1536} {
		if testing.Short() && n > 1<<18 {
			continue
		}
		p, m, v := h.rnd(n, 1), h.in(make([]float32, n)), h.in(make([]float32, n))
		for step := 1; step <= 5; step++ {
			g := h.rnd(n, 0.1)
			h.g.AdamW(p.g, g.g, m.g, v.g, 1e-3, 0.9, 0.999, 1e-8, 0.1, step)
			h.c.AdamW(p.c, g.c, m.c, v.c, 1e-3, 0.9, 0.999, 1e-8, 0.1, step)
		}
		h.check(fmt.Sprintf("AdamW n=%d param", n), p, tolF32)
		h.check(fmt.Sprintf("AdamW n=%d m", n), m, tolF32)
		h.check(fmt.Sprintf("AdamW n=%d v", n), v, tolF32)

		// The same updates through AdamWMulti, several tensors in one
		// launch (chunk boundaries inside tensors for the large n).
		var ps, gs, mvs []pair
		var pg, gg, mg, vg []engine.Storage
		for j := 0; j < 3; j++ {
			p, g := h.rnd(n+j, 1), h.rnd(n+j, 0.1)
			m, v := h.in(make([]float32, n+j)), h.in(make([]float32, n+j))
			ps, gs, mvs = append(ps, p), append(gs, g), append(mvs, m, v)
			pg, gg, mg, vg = append(pg, p.g), append(gg, g.g), append(mg, m.g), append(vg, v.g)
		}
		for step := 1; step <= 2; step++ {
			h.g.AdamWMulti(pg, gg, mg, vg, 1e-3, 0.9, 0.999, 1e-8, 0.1, step)
			for j := range ps {
				h.c.AdamW(ps[j].c, gs[j].c, mvs[2*j].c, mvs[2*j+1].c, 1e-3, 0.9, 0.999, 1e-8, 0.1, step)
			}
		}
		for j := range ps {
			h.check(fmt.Sprintf("AdamWMulti n=%d tensor %d param", n+j, j), ps[j], tolF32)
			h.check(fmt.Sprintf("AdamWMulti n=%d tensor %d v", n+j, j), mvs[2*j+1], tolF32)
		}

		for _, mom := range []float64{0.9, 0} {
			p, buf := h.rnd(n, 1), h.out(n)
			for step := 0; step < 3; step++ {
				g := h.rnd(n, 0.1)
				h.g.SGD(p.g, g.g, buf.g, 0.1, mom, 1e-4, step == 0)
				h.c.SGD(p.c, g.c, buf.c, 0.1, mom, 1e-4, step == 0)
			}
			h.check(fmt.Sprintf("SGD n=%d momentum %g", n, mom), p, tolF32)
		}

		d, s := h.rnd(n, 1), h.rnd(n, 1)
		h.g.EMA(d.g, s.g, 0.99)
		h.c.EMA(d.c, s.c, 0.99)
		h.check(fmt.Sprintf("EMA n=%d", n), d, tolF32)
	}
}

// TestMultiUpdater: EMAAll and ScaleAll over lists of fp32 buffers of odd
// sizes (one over three chunks long, one empty), and ScaleAll with an fp16
// buffer among them (left to the per-storage kernel): the same bits as EMA
// and Scale on each (the same arithmetic), and the CPU's values; twice, so
// that the second call reuses the uploaded table.
func TestMultiUpdater(t *testing.T) {
	h := newHarness(t)
	sizes := []int{1, 7, 33, 1000, 4099, 3*multiChunk + 5, 0}
	type set struct{ multi, single, src []pair }
	mk := func() set {
		var s set
		for _, n := range sizes {
			v, w := randF32(h.r, n, 1), randF32(h.r, n, 1)
			s.multi, s.single, s.src = append(s.multi, h.in(v)), append(s.single, h.in(v)), append(s.src, h.in(w))
		}
		return s
	}
	same := func(what string, a, b pair) {
		x, y := make([]float32, a.n), make([]float32, b.n)
		h.g.Download32(x, a.g)
		h.g.Download32(y, b.g)
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Errorf("%s: element %d of %d: %g, per storage %g", what, i, a.n, x[i], y[i])
				return
			}
		}
	}
	s := mk()
	for round := range 2 {
		var dsts, srcs []engine.Storage
		for i := range s.multi {
			dsts, srcs = append(dsts, s.multi[i].g), append(srcs, s.src[i].g)
			h.g.EMA(s.single[i].g, s.src[i].g, 0.99)
			h.c.EMA(s.single[i].c, s.src[i].c, 0.99)
		}
		h.g.EMAAll(dsts, srcs, 0.99)
		for i := range s.multi {
			same(fmt.Sprintf("EMAAll round %d, n=%d", round, s.multi[i].n), s.multi[i], s.single[i])
			h.check(fmt.Sprintf("EMA n=%d", s.single[i].n), s.single[i], tolF32)
		}
	}
	s = mk()
	half := h.rndAs(engine.F16, 333, 1)
	halfRef := h.rndAs(engine.F16, 333, 1)
	h.g.Copy(halfRef.g, half.g)
	for round := range 2 {
		xs := []engine.Storage{half.g}
		for i := range s.multi {
			xs = append(xs, s.multi[i].g)
			h.g.Scale(s.single[i].g, s.single[i].g, 0.125)
		}
		h.g.Scale(halfRef.g, halfRef.g, 0.125)
		h.g.ScaleAll(xs, 0.125)
		for i := range s.multi {
			same(fmt.Sprintf("ScaleAll round %d, n=%d", round, s.multi[i].n), s.multi[i], s.single[i])
		}
		same(fmt.Sprintf("ScaleAll round %d, fp16", round), half, halfRef)
	}
}
