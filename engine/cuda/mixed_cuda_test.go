//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/kernels"
)

// Mixed precision (engine.MixedPrecision, engine.BiasGemm,
// engine.SquareSummer): every method the MixedPrecision contract lists, on
// fp32, fp16 and bf16 storages in every mix, against the CPU backend
// computing in fp32 on the same inputs rounded to fp16 or bf16 where the GPU
// side holds them so. A reference bound for a half output is rounded to its
// type too, so that what is compared is the computation, not the storage;
// tolerances are those of GPU.md plus the output type's largest relative
// rounding error where an output is a half: 2⁻¹¹ for fp16, 2⁻⁸ for bf16,
// whose 8 significant bits (against fp16's 11) make every bf16 rounding
// eight times coarser. Where the GPU converts an operand to bf16 that the
// CPU holds wider (a GEMM on a bf16 and a non-bf16 operand), 2⁻⁸ more.

var dtypes = []engine.DType{engine.F32, engine.F16, engine.BF16}

// mixes returns every assignment of F32/F16/BF16 to k operands.
func mixes(k int) [][]engine.DType {
	var out [][]engine.DType
	total := 1
	for range k {
		total *= len(dtypes)
	}
	for m := 0; m < total; m++ {
		d := make([]engine.DType, k)
		for i, r := 0, m; i < k; i, r = i+1, r/len(dtypes) {
			d[i] = dtypes[r%len(dtypes)]
		}
		out = append(out, d)
	}
	return out
}

// bothHalves reports whether a mix holds fp16 and bf16 operands together
// (the mixes a costly test may leave out: each half is tested beside fp32).
func bothHalves(d []engine.DType) bool {
	return slices.Contains(d, engine.F16) && slices.Contains(d, engine.BF16)
}

// halves are the half types the backend offers.
var halves = []engine.DType{engine.F16, engine.BF16}

// bf16Tol is bf16's largest relative rounding error, 2⁻⁸ (8 significant
// bits), rounded up.
const bf16Tol = 4e-3

func mixName(d []engine.DType) string {
	s := make([]string, len(d))
	for i, t := range d {
		s[i] = t.String()
	}
	return strings.Join(s, ",")
}

// round16 returns v rounded to fp16 (nearest even), as float32.
func round16(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = kernels.F16ToF32(kernels.F32ToF16(x))
	}
	return out
}

// roundAs rounds v to t (a copy).
func roundAs(t engine.DType, v []float32) []float32 {
	switch t {
	case engine.F16:
		return round16(v)
	case engine.BF16:
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = engine.RoundTo(engine.BF16, x)
		}
		return out
	}
	return slices.Clone(v)
}

// tolAs widens tol by the output type's rounding where the output is a
// half: fp16's 2⁻¹¹, bf16's 2⁻⁸.
func tolAs(t engine.DType, tol float64) float64 {
	switch t {
	case engine.F16:
		return tol + 5e-4
	case engine.BF16:
		return tol + bf16Tol
	}
	return tol
}

// mp is the GPU side as an engine.MixedPrecision.
func (h *harness) mp() engine.MixedPrecision { return h.g }

// allocAs is alloc with the GPU side of type t.
func (h *harness) allocAs(t engine.DType, n int) pair {
	p := pair{h.mp().AllocAs(t, n), h.c.Alloc(n), n}
	h.gpu = append(h.gpu, p.g)
	return p
}

// inAs returns a pair holding v, rounded to t on both sides when t is a half.
func (h *harness) inAs(t engine.DType, v []float32) pair {
	v = roundAs(t, v)
	p := h.allocAs(t, len(v))
	h.g.Upload32(p.g, v)
	h.c.Upload32(p.c, v)
	return p
}

func (h *harness) rndAs(t engine.DType, n int, scale float64) pair {
	return h.inAs(t, randF32(h.r, n, scale))
}

// outAs returns a pair poisoned with NaN on both sides, GPU side of type t.
func (h *harness) outAs(t engine.DType, n int) pair {
	p := h.allocAs(t, n)
	h.g.Fill(p.g, math.NaN())
	h.c.Fill(p.c, math.NaN())
	return p
}

// checkAs is check with the reference rounded to the GPU side's type.
func (h *harness) checkAs(what string, p pair, tol float64) {
	h.t.Helper()
	got := make([]float32, p.n)
	want := make([]float32, p.n)
	h.g.Download32(got, p.g)
	h.c.Download32(want, p.c)
	t := p.g.DType()
	h.compare(what+" ["+t.String()+" out]", got, roundAs(t, want), tolAs(t, tol))
}

func TestMixedAlloc(t *testing.T) {
	g := NewBackend(dev)
	if ht := g.HalfTypes(); !slices.Equal(ht, []engine.DType{engine.F16, engine.BF16}) {
		t.Fatalf("HalfTypes %v, want [f16 bf16]", ht)
	}
	for _, n := range []int{1, 7, 1000, 1 << 20} {
		for _, ht := range halves {
			s0 := dev.MemStats().InUse
			s := g.AllocAs(ht, n)
			if s.Len() != n || s.DType() != ht {
				t.Errorf("AllocAs(%v, %d): Len %d DType %v", ht, n, s.Len(), s.DType())
			}
			if got, want := StorageBuffer(s).Bytes(), 2*int64(n); got != want {
				t.Errorf("AllocAs(%v, %d): %d bytes, want %d", ht, n, got, want)
			}
			if used := dev.MemStats().InUse - s0; used != sizeClass(2*int64(n)) {
				t.Errorf("AllocAs(%v, %d): %d bytes in use, want %d", ht, n, used, sizeClass(2*int64(n)))
			}
			g.Release(s)
		}
		s0 := dev.MemStats().InUse
		s := g.AllocAs(engine.F16, n)
		f := g.AllocAs(engine.F32, n)
		if f.Len() != n || f.DType() != engine.F32 || StorageBuffer(f).Bytes() != 4*int64(n) {
			t.Errorf("AllocAs(F32, %d): Len %d DType %v bytes %d", n, f.Len(), f.DType(), StorageBuffer(f).Bytes())
		}
		g.Release(s)
		g.Release(f)
		if s1 := dev.MemStats().InUse; s1 != s0 {
			t.Errorf("after Release: %d bytes in use, want %d", s1, s0)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("AllocAs(F64) did not panic")
			}
		}()
		g.AllocAs(engine.F64, 4)
	}()
	// A half storage where float32 is required is refused by name.
	for _, ht := range halves {
		func() {
			s := g.AllocAs(ht, 8)
			defer g.Release(s)
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), "Softmax") {
					t.Errorf("Softmax on an %v storage: recovered %v, want a panic naming Softmax", ht, r)
				}
			}()
			g.Softmax(s, s, 2, 4)
		}()
	}
}

func TestMixedUploadDownload(t *testing.T) {
	h := newHarness(t)
	for _, n := range append(oddSizes, 1<<20+3) {
		for _, ht := range halves {
			v := randF32(h.r, n, 3)
			v[0] = 70000    // past fp16's range: +Inf (bf16: 70144)
			v[n-1] = 1.2e-7 // an fp16 subnormal
			if ht == engine.BF16 && n > 2 {
				v[1] = 3.4e38 // past bf16's largest finite value: +Inf
				v[2] = -1e-39 // a bf16 (and fp32) subnormal
			}
			want := roundAs(ht, v)
			s := h.mp().AllocAs(ht, n)
			h.gpu = append(h.gpu, s)
			h.g.Upload32(s, v)
			got := make([]float32, n)
			h.g.Download32(got, s)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("Upload32/Download32 %v n=%d: [%d] %g (from %g), want %g", ht, n, i, got[i], v[i], want[i])
				}
			}
			v64 := make([]float64, n)
			for i := range v64 {
				v64[i] = float64(v[i])
			}
			h.g.Upload(s, v64)
			got64 := make([]float64, n)
			h.g.Download(got64, s)
			for i := range got64 {
				if got64[i] != float64(want[i]) {
					t.Fatalf("Upload/Download %v n=%d: [%d] %g, want %g", ht, n, i, got64[i], want[i])
				}
			}
		}
	}
}

func TestMixedElementwise(t *testing.T) {
	h := newHarness(t)
	for _, n := range oddSizes {
		for _, d := range dtypes {
			p := h.outAs(d, n)
			h.g.Fill(p.g, 0.3)
			h.c.Fill(p.c, 0.3)
			h.checkAs(fmt.Sprintf("Fill n=%d", n), p, 0)
		}
		for _, m := range mixes(2) { // dst, src
			name := fmt.Sprintf("n=%d [%s]", n, mixName(m))
			x := h.rndAs(m[1], n, 2)
			d := h.outAs(m[0], n)
			h.g.Copy(d.g, x.g)
			h.c.Copy(d.c, x.c)
			h.checkAs("Copy "+name, d, 0)

			d = h.rndAs(m[0], n, 1)
			h.g.Axpy(d.g, -0.7, x.g)
			h.c.Axpy(d.c, -0.7, x.c)
			h.checkAs("Axpy "+name, d, tolF32)

			d = h.outAs(m[0], n)
			h.g.Scale(d.g, x.g, 1.3)
			h.c.Scale(d.c, x.c, 1.3)
			h.checkAs("Scale "+name, d, tolF32)

			for _, op := range []engine.UnaryOp{engine.OpGELU, engine.OpReLU} {
				d = h.outAs(m[0], n)
				h.g.Unary(op, d.g, x.g)
				h.c.Unary(op, d.c, x.c)
				h.checkAs(fmt.Sprintf("Unary %d %s", op, name), d, tolF32)
			}
		}
		for _, m := range mixes(3) { // dx, x, dy
			name := fmt.Sprintf("n=%d [%s]", n, mixName(m))
			x, dy := h.rndAs(m[1], n, 4), h.rndAs(m[2], n, 1)
			for _, op := range []engine.UnaryOp{engine.OpGELU, engine.OpReLU} {
				d := h.outAs(m[0], n)
				h.g.UnaryBackward(op, d.g, x.g, dy.g)
				h.c.UnaryBackward(op, d.c, x.c, dy.c)
				h.checkAs(fmt.Sprintf("UnaryBackward %d %s", op, name), d, 2*tolF32)
			}
		}
	}
	// In place on a half storage (Scale and Unary with dst = src).
	for _, ht := range halves {
		x := h.rndAs(ht, 4099, 2)
		h.g.Scale(x.g, x.g, -0.5)
		h.c.Scale(x.c, x.c, -0.5)
		h.g.Unary(engine.OpGELU, x.g, x.g)
		h.c.Unary(engine.OpGELU, x.c, x.c)
		// The CPU side rounds only at the end: allow two roundings.
		h.checkAs("Scale+Unary in place "+ht.String(), x, tolAs(ht, 0))
	}

	for _, c := range [][2]int{{1000, 1000}, {197 * 33, 33}, {197 * 384, 384}, {7, 1}, {33 * 7, 7}, {12, 4}} {
		n, nb := c[0], c[1]
		for _, m := range mixes(3) { // dst, a, b
			for _, op := range []engine.BinaryOp{engine.OpAdd, engine.OpSub, engine.OpMul} {
				a, b := h.rndAs(m[1], n, 1), h.rndAs(m[2], nb, 1)
				d := h.outAs(m[0], n)
				h.g.Binary(op, d.g, a.g, b.g)
				h.c.Binary(op, d.c, a.c, b.c)
				h.checkAs(fmt.Sprintf("Binary %d %d×%d [%s]", op, n/nb, nb, mixName(m)), d, tolF32)
			}
		}
		// In place, a bias row added to a half activation.
		for _, ht := range halves {
			a, b := h.rndAs(ht, n, 1), h.rndAs(engine.F32, nb, 1)
			h.g.Binary(engine.OpAdd, a.g, a.g, b.g)
			h.c.Binary(engine.OpAdd, a.c, a.c, b.c)
			h.checkAs(fmt.Sprintf("Binary in place %v %d×%d", ht, n/nb, nb), a, tolF32)
		}
	}
}

func TestMixedLayout(t *testing.T) {
	h := newHarness(t)
	for _, m := range mixes(2) { // dst, src
		for _, c := range []struct{ shape, perm []int }{
			{[]int{2, 3, 4, 5, 6, 7}, []int{0, 2, 4, 1, 3, 5}},
			{[]int{197, 33}, []int{1, 0}},
			{[]int{2, 197, 3, 6, 64}, []int{2, 0, 3, 1, 4}},
			{[]int{7, 1, 33}, []int{2, 0, 1}},
		} {
			n := 1
			for _, d := range c.shape {
				n *= d
			}
			x, d := h.rndAs(m[1], n, 1), h.outAs(m[0], n)
			h.g.Permute(d.g, x.g, c.shape, c.perm)
			h.c.Permute(d.c, x.c, c.shape, c.perm)
			h.checkAs(fmt.Sprintf("Permute %v %v [%s]", c.shape, c.perm, mixName(m)), d, 0)
		}
		outer, inner := 2, 384
		x := h.rndAs(m[1], outer*197*inner, 1)
		d := h.outAs(m[0], outer*196*inner)
		h.g.CopyAxis(d.g, 196, 0, x.g, 197, 1, outer, 196, inner, false)
		h.c.CopyAxis(d.c, 196, 0, x.c, 197, 1, outer, 196, inner, false)
		h.checkAs(fmt.Sprintf("CopyAxis slice [%s]", mixName(m)), d, 0)
		y := h.rndAs(m[0], outer*200*inner, 1)
		h.g.CopyAxis(y.g, 200, 3, x.g, 197, 0, outer, 197, inner, false)
		h.c.CopyAxis(y.c, 200, 3, x.c, 197, 0, outer, 197, inner, false)
		h.checkAs(fmt.Sprintf("CopyAxis concat [%s]", mixName(m)), y, 0)
		z := h.rndAs(m[1], 7*33*5, 1)
		w := h.rndAs(m[0], 7*2*5, 1)
		h.g.CopyAxis(w.g, 2, 1, z.g, 33, 30, 7, 1, 5, true)
		h.c.CopyAxis(w.c, 2, 1, z.c, 33, 30, 7, 1, 5, true)
		h.checkAs(fmt.Sprintf("CopyAxis accumulate odd [%s]", mixName(m)), w, tolF32)
	}
}

func TestMixedReductions(t *testing.T) {
	h := newHarness(t)
	for _, c := range [][2]int{{1, 7}, {197, 33}, {1000, 384}, {50432, 384}, {16, 1}} {
		rows, cols := c[0], c[1]
		for _, beta := range []float64{0, 0.5} {
			for _, ht := range halves {
				x := h.rndAs(ht, rows*cols, 1)
				d := h.out(cols)
				if beta != 0 {
					d = h.rnd(cols, 1)
				}
				h.g.SumRows(d.g, x.g, rows, cols, beta)
				h.c.SumRows(d.c, x.c, rows, cols, beta)
				h.check(fmt.Sprintf("SumRows %v src %d×%d beta %g", ht, rows, cols, beta), d, tolF32)
			}
		}
	}
	ss, ok := engine.Backend(h.g).(engine.SquareSummer)
	if !ok {
		t.Fatal("the CUDA backend is not an engine.SquareSummer")
	}
	for _, n := range append(oddSizes, 0, 1<<20+3, 21_000_000) {
		if testing.Short() && n > 1<<18 {
			continue
		}
		for _, tp := range dtypes {
			x := h.rndAs(tp, n, 1)
			xs := make([]float32, n)
			h.c.Download32(xs, x.c)
			var want float64
			for _, v := range xs {
				want += float64(v) * float64(v)
			}
			d := h.out(1)
			ss.SumSquares(d.g, x.g, false)
			got := make([]float32, 1)
			h.g.Download32(got, d.g)
			if rel := math.Abs(float64(got[0])-want) / math.Max(want, 1e-30); rel > 1e-6 || math.IsNaN(float64(got[0])) {
				t.Errorf("SumSquares %v n=%d: %g, want %g (rel %.3g)", tp, n, got[0], want, rel)
			}
			ss.SumSquares(d.g, x.g, true) // accumulate: twice the sum
			again := make([]float32, 1)
			h.g.Download32(again, d.g)
			if rel := math.Abs(float64(again[0])-2*want) / math.Max(2*want, 1e-30); rel > 1e-6 {
				t.Errorf("SumSquares %v n=%d accumulate: %g, want %g", tp, n, again[0], 2*want)
			}
			// Deterministic: the same bits on a second run.
			e := h.out(1)
			ss.SumSquares(e.g, x.g, false)
			h.g.Download32(again, e.g)
			if math.Float32bits(again[0]) != math.Float32bits(got[0]) {
				t.Errorf("SumSquares %v n=%d not deterministic: %g then %g", tp, n, got[0], again[0])
			}
		}
	}
	// A non-finite value makes the sum non-finite.
	for _, ht := range halves {
		v := randF32(h.r, 1000, 1)
		v[517] = float32(math.Inf(-1))
		x := h.inAs(ht, v)
		d := h.out(1)
		ss.SumSquares(d.g, x.g, false)
		got := make([]float32, 1)
		h.g.Download32(got, d.g)
		if !math.IsInf(float64(got[0]), 1) {
			t.Errorf("SumSquares %v with -Inf: %g, want +Inf", ht, got[0])
		}
	}
}

// mixGemmCase is one Gemm of the mixed tests.
type mixGemmCase struct {
	batch, m, n, k int
	sa, sb, sc     int // strides; -1: packed (m·k, k·n, m·n)
	beta           float64
}

func TestMixedGemm(t *testing.T) {
	h := newHarness(t)
	cases := []mixGemmCase{
		{1, 1, 7, 33, -1, -1, -1, 0},
		{1, 197, 33, 64, -1, -1, -1, 0.5},
		{1, 394, 1536, 384, -1, -1, -1, 0}, // ViT-S fc1 forward, two images
		{1, 394, 384, 1536, -1, -1, -1, 1}, // fc2, accumulating
		{3, 65, 33, 17, -1, 0, -1, 0},      // odd strides: restrided operands, padded C
		{4, 32, 48, 64, -1, -1, -1, 0.5},
		{3, 33, 7, 65, -1, -1, 0, 0},     // strideC 0: the batch summed
		{5, 16, 64, 197, -1, -1, 0, 1},   // ... onto C
		{2, 197, 197, 64, -1, -1, -1, 0}, // attention-like scores
		{2, 17, 9, 11, 200, 101, 155, 0.25},
	}
	trs := [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}
	for ci, c := range cases {
		if testing.Short() && c.m*c.n*c.k > 1<<22 {
			continue
		}
		for mi, m := range mixes(3) { // a, b, c
			// Every mix on every case in the NT layout; the other layouts
			// on a rotating share, to keep the run short.
			for ti, tr := range trs {
				if ti != 1 && (ci+mi+ti)%3 != 0 {
					continue
				}
				sa, sb, sc := c.sa, c.sb, c.sc
				if sa < 0 {
					sa = c.m * c.k
				}
				if sb < 0 {
					sb = c.k * c.n
				}
				if sc < 0 {
					sc = c.m * c.n
				}
				nc := (c.batch-1)*sc + c.m*c.n
				a := h.rndAs(m[0], (c.batch-1)*sa+c.m*c.k, 1)
				b := h.rndAs(m[1], (c.batch-1)*sb+c.k*c.n, 1)
				d := h.outAs(m[2], nc)
				if c.beta != 0 {
					d = h.rndAs(m[2], nc, 1)
				} else if sc > c.m*c.n && c.batch > 1 {
					// Gaps between the products must survive: fill them.
					d = h.rndAs(m[2], nc, 1)
				}
				h.g.Gemm(tr[0], tr[1], c.batch, c.m, c.n, c.k, 0.75, a.g, sa, b.g, sb, c.beta, d.g, sc)
				h.c.Gemm(tr[0], tr[1], c.batch, c.m, c.n, c.k, 0.75, a.c, sa, b.c, sb, c.beta, d.c, sc)
				h.checkAs(fmt.Sprintf("Gemm %+v trans %v [%s]", c, tr, mixName(m)), d, gemmTol(m[0], m[1]))
			}
		}
	}
	// Gradient-sized fp32 operands beside half ones: the fp32 side keeps
	// its per-tensor scale (fp16), or bf16's range.
	for _, m := range mixes(2) {
		mm, n, k := 197, 64, 384
		a, b := h.rndAs(m[0], mm*k, 1), h.in(randF32(h.r, k*n, 1e-6))
		d := h.outAs(m[1], mm*n)
		h.g.Gemm(false, true, 1, mm, n, k, 1, a.g, 0, b.g, 0, 0, d.g, 0)
		h.c.Gemm(false, true, 1, mm, n, k, 1, a.c, 0, b.c, 0, 0, d.c, 0)
		h.checkAs(fmt.Sprintf("Gemm small fp32 B [%s]", mixName(m)), d, gemmTol(m[0], engine.F32))
	}
}

// gemmTol is tolGemm for a GEMM on operands of types ta and tb, plus bf16's
// rounding where the GPU converts one of them to bf16 (bf16 beside fp16 or
// fp32: Backend.Gemm runs in bf16) while the CPU reference keeps it wider.
func gemmTol(ta, tb engine.DType) float64 {
	if (ta == engine.BF16) != (tb == engine.BF16) {
		return tolGemm + bf16Tol
	}
	return tolGemm
}

func TestMixedGemmBias(t *testing.T) {
	h := newHarness(t)
	bg, ok := engine.Backend(h.g).(engine.BiasGemm)
	if !ok {
		t.Fatal("the CUDA backend is not an engine.BiasGemm")
	}
	for _, c := range [][3]int{{394, 1536, 384}, {394, 384, 1536}, {197, 1152, 384}, {7, 33, 17}, {1, 5, 8}, {130, 9, 0}} {
		m, n, k := c[0], c[1], c[2]
		if testing.Short() && m*n*k > 1<<22 {
			continue
		}
		for _, mx := range mixes(3) { // a, b, c
			for _, gelu := range []bool{false, true} {
				for _, withBias := range []bool{true, false} {
					if !withBias && gelu && mx[0] != mx[1] {
						continue
					}
					name := fmt.Sprintf("GemmBias %d×%d×%d gelu %v bias %v [%s]", m, n, k, gelu, withBias, mixName(mx))
					a, w := h.rndAs(mx[0], m*k, 1), h.rndAs(mx[1], n*k, 0.5)
					bias := nilPair
					if withBias {
						bias = h.rnd(n, 1)
					}
					d := h.outAs(mx[2], m*n)
					bg.GemmBias(false, true, m, n, k, a.g, w.g, bias.G(), d.g, gelu)
					// Reference: Gemm, Binary, Unary on the CPU in fp32.
					h.c.Gemm(false, true, 1, m, n, k, 1, a.c, 0, w.c, 0, 0, d.c, 0)
					if withBias {
						h.c.Binary(engine.OpAdd, d.c, d.c, bias.c)
					}
					if gelu {
						h.c.Unary(engine.OpGELU, d.c, d.c)
					}
					h.checkAs(name, d, gemmTol(mx[0], mx[1]))
				}
			}
		}
	}
	// The other layouts (A transposed, B not).
	for _, ht := range halves {
		m, n, k := 65, 96, 40
		a, w := h.rndAs(ht, k*m, 1), h.rndAs(ht, k*n, 1)
		bias := h.rnd(n, 1)
		d := h.outAs(ht, m*n)
		bg.GemmBias(true, false, m, n, k, a.g, w.g, bias.g, d.g, true)
		h.c.Gemm(true, false, 1, m, n, k, 1, a.c, 0, w.c, 0, 0, d.c, 0)
		h.c.Binary(engine.OpAdd, d.c, d.c, bias.c)
		h.c.Unary(engine.OpGELU, d.c, d.c)
		h.checkAs("GemmBias TN "+ht.String(), d, tolGemm)
	}
}

// TestMixedGemmBiasResidual checks Backend.GemmBiasResidual (C = A·Bᵀ +
// bias + R) against the CPU's GemmBias and Axpy, with SetGemmResidual on
// (on an H100 the matching products take the ping-pong kernels with the
// residual in their epilogue) and off (GemmBias, then Axpy), over the
// storage mixes LinearAdd meets (A, B of one type; C and R of one) and
// others, which take the unfused path either way.
func TestMixedGemmBiasResidual(t *testing.T) {
	h := newHarness(t)
	rg, ok := engine.Backend(h.g).(engine.ResidualGemm)
	if !ok {
		t.Fatal("the CUDA backend is not an engine.ResidualGemm")
	}
	cbg, ok := engine.Backend(h.c).(engine.BiasGemm)
	if !ok {
		t.Fatal("the CPU backend is not an engine.BiasGemm")
	}
	for _, on := range []bool{true, false} {
		old := dev.SetGemmResidual(on)
		for _, c := range [][3]int{{394, 384, 384}, {394, 384, 1536}, {197, 136, 64}, {7, 33, 17}, {130, 8, 0}} {
			m, n, k := c[0], c[1], c[2]
			if testing.Short() && m*n*k > 1<<22 {
				continue
			}
			for _, mx := range mixes(3) { // a and b, c and r, and b alone
				ta, tc, tb := mx[0], mx[1], mx[2]
				for _, withBias := range []bool{true, false} {
					name := fmt.Sprintf("GemmBiasResidual %d×%d×%d bias %v fused %v [a %v b %v c,r %v]", m, n, k, withBias, on, ta, tb, tc)
					a, w := h.rndAs(ta, m*k, 1), h.rndAs(tb, n*k, 0.5)
					r := h.rndAs(tc, m*n, 1)
					bias := nilPair
					if withBias {
						bias = h.rnd(n, 1)
					}
					d := h.outAs(tc, m*n)
					rg.GemmBiasResidual(false, true, m, n, k, a.g, w.g, bias.G(), r.g, d.g)
					cbg.GemmBias(false, true, m, n, k, a.c, w.c, bias.c, d.c, false)
					h.c.Axpy(d.c, 1, r.c)
					h.checkAs(name, d, gemmTol(ta, tb))
				}
			}
		}
		dev.SetGemmResidual(old)
	}
}

// TestMixedGemmGELUGrad checks Backend.GemmGELUGrad (C = A·B ⊙ GELU′(H),
// the NN product of a FeedForward's backward) against the CPU's Gemm and
// UnaryBackward, with SetGemmGELUGrad on (on an H100 the products with a
// tile for every SM take the ping-pong kernels with H as their epilogue
// source: checked to have run) and off, over the storage mixes a
// FeedForward meets (A, B of one type; C and H of one) and others, which
// take the unfused path either way.
func TestMixedGemmGELUGrad(t *testing.T) {
	h := newHarness(t)
	gg, ok := engine.Backend(h.g).(engine.GELUGradGemm)
	if !ok {
		t.Fatal("the CUDA backend is not an engine.GELUGradGemm")
	}
	for _, on := range []bool{true, false} {
		old := dev.SetGemmGELUGrad(on)
		// 16900 rows: a 128×128 tile for every SM (fused), with rows and
		// columns past M and N in the last tiles; the others too few.
		for _, c := range [][3]int{{16900, 136, 72}, {16900, 200, 384}, {394, 1536, 384}, {7, 33, 17}, {130, 8, 0}} {
			m, n, k := c[0], c[1], c[2]
			if testing.Short() && m*n*k > 1<<22 && m != 16900 {
				continue
			}
			for _, mx := range mixes(3) { // a and b, c and h, and b alone
				ta, tc, tb := mx[0], mx[1], mx[2]
				if testing.Short() && bothHalves(mx) {
					continue
				}
				name := fmt.Sprintf("GemmGELUGrad %d×%d×%d fused %v [a %v b %v c,h %v]", m, n, k, on, ta, tb, tc)
				a, w := h.rndAs(ta, m*k, 1), h.rndAs(tb, k*n, 0.5)
				pre := h.rndAs(tc, m*n, 2) // the GELU's input
				d := h.outAs(tc, m*n)
				gg.GemmGELUGrad(false, false, m, n, k, a.g, w.g, pre.g, d.g)
				h.c.Gemm(false, false, 1, m, n, k, 1, a.c, 0, w.c, 0, 0, d.c, 0)
				h.c.UnaryBackward(engine.OpGELU, d.c, pre.c, d.c)
				h.checkAs(name, d, gemmTol(ta, tb))
			}
		}
		dev.SetGemmGELUGrad(old)
	}
	if maj, min := dev.ComputeCapability(); maj == 9 && min == 0 {
		checkRan(t, "gemm_pingpong_sm90a", "gemm_f16_nn_tma_ppg", "gemm_bf16_nn_tma_ppg")
	}
}

func TestMixedLayerNorm(t *testing.T) {
	h := newHarness(t)
	for _, c := range [][2]int{{197, 384}, {394, 1536}, {33, 33}, {16, 1000}, {7, 7}, {64, 1024}, {5, 2048}} {
		rows, cols := c[0], c[1]
		for _, m := range mixes(2) { // y, x
			affine := (rows+len(mixName(m)))%2 == 0 || cols == 384
			name := fmt.Sprintf("LayerNorm %d×%d affine %v [%s]", rows, cols, affine, mixName(m))
			x := h.rndAs(m[1], rows*cols, 2)
			g, b := nilPair, nilPair
			if affine {
				g, b = h.rnd(cols, 1), h.rnd(cols, 1)
			}
			y, mean, rstd := h.outAs(m[0], rows*cols), h.out(rows), h.out(rows)
			h.g.LayerNorm(y.g, mean.g, rstd.g, x.g, g.G(), b.G(), rows, cols, 1e-6)
			h.c.LayerNorm(y.c, mean.c, rstd.c, x.c, g.C(), b.C(), rows, cols, 1e-6)
			h.checkAs(name+" y", y, tolF32)
			h.check(name+" mean", mean, tolF32)
			h.check(name+" rstd", rstd, tolF32)
		}
		for _, m := range mixes(3) { // dx, dy, x
			affine := (rows+len(mixName(m)))%2 == 1 || cols == 384
			name := fmt.Sprintf("LayerNormBackward %d×%d affine %v [%s]", rows, cols, affine, mixName(m))
			x := h.rndAs(m[2], rows*cols, 2)
			g, b := nilPair, nilPair
			if affine {
				g, b = h.rnd(cols, 1), h.rnd(cols, 1)
			}
			// The statistics from the CPU, the same on both sides.
			yc, mc, rc := h.c.Alloc(rows*cols), h.c.Alloc(rows), h.c.Alloc(rows)
			h.c.LayerNorm(yc, mc, rc, x.c, g.C(), b.C(), rows, cols, 1e-6)
			ms, rs := make([]float32, rows), make([]float32, rows)
			h.c.Download32(ms, mc)
			h.c.Download32(rs, rc)
			mean, rstd := h.in(ms), h.in(rs)
			dy := h.rndAs(m[1], rows*cols, 1)
			dx := h.outAs(m[0], rows*cols)
			dg, db := nilPair, nilPair
			if affine {
				dg, db = h.rnd(cols, 1), h.rnd(cols, 1)
			}
			h.g.LayerNormBackward(dx.g, dg.G(), db.G(), dy.g, x.g, g.G(), mean.g, rstd.g, rows, cols)
			h.c.LayerNormBackward(dx.c, dg.C(), db.C(), dy.c, x.c, g.C(), mean.c, rstd.c, rows, cols)
			h.checkAs(name+" dx", dx, 1e-4)
			if affine {
				h.check(name+" dgamma", dg, 1e-4)
				h.check(name+" dbeta", db, 1e-4)
			}
		}
	}
}

// attnTolAs is TestMixedAttention's tolerance for a qkv of type tq: with
// bf16 qkv the flash kernels run in bf16 (P and dS rounded to bf16 for the
// products, a wider out, dout or dqkv going through bf16), 2⁻⁸ more
// (bf16Tol); head dims other than 32 and 64 take the fp32 fallback whatever
// the types.
func attnTolAs(tq engine.DType, tol float64, D int) float64 {
	if tq == engine.BF16 && (D == 32 || D == 64) {
		return tol + bf16Tol
	}
	return tol
}

func TestMixedAttention(t *testing.T) {
	h := newHarness(t)
	type ac struct{ B, N, H, D int }
	for _, c := range []ac{{2, 197, 6, 64}, {3, 65, 2, 32}, {4, 50, 12, 32}, {2, 1, 2, 64}, {1, 7, 1, 48}} {
		B, N, H, D := c.B, c.N, c.H, c.D
		tol := tolAttn
		if D != 32 && D != 64 {
			tol = 1e-4 // the fp32 fallback (on fp16-rounded inputs)
		}
		scale := 1 / math.Sqrt(float64(D))
		elems := B * N * H * D
		for _, m := range mixes(2) { // out, qkv
			name := fmt.Sprintf("Attention B%d N%d H%d D%d [%s]", B, N, H, D, mixName(m))
			tol := attnTolAs(m[1], tol, D)
			qkv := h.rndAs(m[1], 3*elems, 1.5)
			out, lse := h.outAs(m[0], elems), h.out(B*H*N)
			h.g.Attention(out.g, lse.g, qkv.g, B, N, H, D, scale)
			h.c.Attention(out.c, lse.c, qkv.c, B, N, H, D, scale)
			h.checkAs(name+" out", out, tol)
			h.check(name+" lse", lse, max(tol/10, 1e-4))
		}
		// Backward: qkv, out and lse from the CPU forward on rounded qkv,
		// out rounded to its type; the same inputs on both sides.
		for _, m := range mixes(4) { // dqkv, dout, qkv, out
			if D != 64 && m[0] != m[1] || bothHalves(m) {
				continue // fewer mixes off the main shape; each half beside fp32
			}
			name := fmt.Sprintf("AttentionBackward B%d N%d H%d D%d [%s]", B, N, H, D, mixName(m))
			tol := attnTolAs(m[2], tol, D)
			qkv := h.rndAs(m[2], 3*elems, 1.5)
			oc, lc := h.c.Alloc(elems), h.c.Alloc(B*H*N)
			h.c.Attention(oc, lc, qkv.c, B, N, H, D, scale)
			ov, lv := make([]float32, elems), make([]float32, B*H*N)
			h.c.Download32(ov, oc)
			h.c.Download32(lv, lc)
			out, lse := h.inAs(m[3], ov), h.in(lv)
			mag := 1.0
			switch {
			case m[1] != engine.F16 && m[0] == engine.F16:
				// An fp32 or bf16 dout whose gradient lands in an fp16
				// dqkv: small, but with dqkv inside fp16's normal range
				// (at 1e-6 it was subnormal there, 2% off on an H100).
				mag = 1e-3
			case m[1] != engine.F16:
				// A gradient-sized fp32 or bf16 dout: the fp16 kernels
				// take it scaled into fp16's range, the bf16 ones as it is.
				mag = 1e-6
			}
			dout := h.rndAs(m[1], elems, mag)
			dqkv := h.outAs(m[0], 3*elems)
			h.g.AttentionBackward(dqkv.g, dout.g, qkv.g, out.g, lse.g, B, N, H, D, scale)
			h.c.AttentionBackward(dqkv.c, dout.c, qkv.c, out.c, lse.c, B, N, H, D, scale)
			h.checkAs(name+" dqkv", dqkv, tol)
		}
	}
}

// TestMixedAttentionBF16Range: Attention and AttentionBackward on bf16
// storages holding values past fp16's range (attnQKV's wide case: q·k
// scores, q, v, out and dk past ±65504), against the CPU backend on the
// same values, outputs NaN-poisoned first. The bf16 kernels keep bf16's
// range; before them, bf16 attention went through fp16 copies and these
// values became ±Inf.
func TestMixedAttentionBF16Range(t *testing.T) {
	h := newHarness(t)
	bf := engine.BF16
	for _, c := range []attnCase{{2, 197, 3, 32, 0}, {2, 65, 2, 64, 0}} {
		B, N, H, D := c.B, c.N, c.H, c.D
		name := fmt.Sprintf("B%d N%d H%d D%d [bf16, wide]", B, N, H, D)
		scale := 1 / math.Sqrt(float64(D))
		elems := B * N * H * D
		tol := attnTolAs(bf, tolAttn, D)
		qv, _ := attnQKV(h.r, attnBF16, c, true)
		qkv := h.inAs(bf, qv)
		out, lse := h.outAs(bf, elems), h.out(B*H*N)
		h.g.Attention(out.g, lse.g, qkv.g, B, N, H, D, scale)
		h.c.Attention(out.c, lse.c, qkv.c, B, N, H, D, scale)
		h.checkAs("Attention "+name+" out", out, tol)
		h.check("Attention "+name+" lse", lse, tol/10)
		got := make([]float32, elems)
		h.g.Download32(got, out.g)
		if pastF16(got) == 0 {
			t.Errorf("Attention %s: no out value past ±65504", name)
		}
		// Backward on the same inputs on both sides: out and lse from the
		// CPU forward, out rounded to bf16.
		ov, lv := make([]float32, elems), make([]float32, B*H*N)
		h.c.Download32(ov, out.c)
		h.c.Download32(lv, lse.c)
		bo, bl := h.inAs(bf, ov), h.in(lv)
		dout := h.rndAs(bf, elems, 1)
		dqkv := h.outAs(bf, 3*elems)
		h.g.AttentionBackward(dqkv.g, dout.g, qkv.g, bo.g, bl.g, B, N, H, D, scale)
		h.c.AttentionBackward(dqkv.c, dout.c, qkv.c, bo.c, bl.c, B, N, H, D, scale)
		h.checkAs("AttentionBackward "+name+" dqkv", dqkv, tol)
	}
}

// TestMixedMemory: a ViT-S fc1 forward (x [64·197, 384], W [1536, 384],
// y = GELU(x·Wᵀ + b)) holds less device memory at its peak with fp16 or
// bf16 storage through GemmBias than with fp32 storage through Gemm, Binary
// and Unary (which also casts both operands to fp16 scratch copies).
func TestMixedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a 12608×1536 forward; skipped with -short")
	}
	g := NewBackend(dev)
	rows, in, hid := 64*197, 384, 1536
	x := randF32(newRand(t), rows*in, 1)
	w := randF32(newRand(t), hid*in, 0.05)
	run := func(dt engine.DType) (int64, []float32) {
		must(t, dev.Synchronize())
		base := dev.MemStats().InUse
		xs, ws := g.AllocAs(dt, rows*in), g.AllocAs(dt, hid*in)
		bias, ys := g.Alloc(hid), g.AllocAs(dt, rows*hid)
		g.Upload32(xs, x)
		g.Upload32(ws, w)
		g.Fill(bias, 0.1)
		// The peak of the forward alone: the tensors and what the GEMM
		// path allocates (not the staging buffers of Upload32/Download32).
		dev.ResetPeak()
		if dt != engine.F32 {
			g.GemmBias(false, true, rows, hid, in, xs, ws, bias, ys, true)
		} else {
			g.Gemm(false, true, 1, rows, hid, in, 1, xs, 0, ws, 0, 0, ys, 0)
			g.Binary(engine.OpAdd, ys, ys, bias)
			g.Unary(engine.OpGELU, ys, ys)
		}
		peak := dev.MemStats().Peak - base
		out := make([]float32, rows*hid)
		g.Download32(out, ys)
		for _, s := range []engine.Storage{xs, ws, bias, ys} {
			g.Release(s)
		}
		return peak, out
	}
	p32, y32 := run(engine.F32)
	h := &harness{t: t}
	for _, ht := range halves {
		p16, y16 := run(ht)
		t.Logf("fc1 forward peak: f32 storage %.1f MiB, %v storage %.1f MiB (%.2f×)", float64(p32)/(1<<20), ht, float64(p16)/(1<<20), float64(p16)/float64(p32))
		if p16 >= p32*6/10 {
			t.Errorf("%v storage peak %d bytes, not under 60%% of f32's %d", ht, p16, p32)
		}
		// Against the fp32-storage run (whose operands the GEMM casts to
		// fp16): for bf16, bf16's rounding of x and W and of the output.
		tol := tolGemm
		if ht == engine.BF16 {
			tol += 2 * bf16Tol
		}
		h.compare(fmt.Sprintf("fc1 %v against f32 storage", ht), y16, roundAs(ht, y32), tol)
	}
	if pb := g.PeakBytes(); pb < dev.MemStats().InUse {
		t.Errorf("PeakBytes %d below the bytes in use", pb)
	}
}

// TestStagedUploads: large uploads go through the page-locked staging
// buffers and return before the copy runs. The host slice is overwritten
// at once after each upload, three uploads in a row reuse the two buffers,
// and a kernel runs on the data in stream order: every buffer must hold
// exactly what was uploaded into it.
func TestStagedUploads(t *testing.T) {
	const n = 3 << 20 / 4 // 3 MiB of float32: the staging buffers grow
	host := make([]float32, n)
	var bufs []*Buffer
	var want [][]float32
	for round := range 3 {
		for i := range host {
			host[i] = float32(round*n + i)
		}
		want = append(want, append([]float32(nil), host...))
		b, err := dev.AllocF32(n)
		must(t, err)
		defer b.Free()
		must(t, b.CopyFromF32(host))
		clear(host) // the upload must not read the slice after returning
		bufs = append(bufs, b)
	}
	// A kernel after the uploads sees their data: scale the last by 2.
	gb := NewBackend(dev)
	last := &storage{buf: bufs[2], n: n, dt: engine.F32}
	gb.Scale(last, last, 2)
	for i := range want[2] {
		want[2][i] *= 2
	}
	for r, b := range bufs {
		got := make([]float32, n)
		must(t, b.CopyToF32(got))
		for i := range got {
			if got[i] != want[r][i] {
				t.Fatalf("upload %d: element %d is %v, want %v", r, i, got[i], want[r][i])
			}
		}
	}
}

// TestSumSquaresAll: Backend.SumSquaresAll over a list of fp32, fp16 and
// bf16 buffers of odd sizes (one empty, one over three segments long) and an
// fp16 view 8 bytes into its buffer (not 16-byte aligned: summed by
// SumSquares after the rest), against the float64 sum of the same values:
// alone, accumulated, repeated (its table then reused: the same bits), over
// an empty list (0, or dst kept when accumulating), and over the view alone.
func TestSumSquaresAll(t *testing.T) {
	h := newHarness(t)
	var srcs []engine.Storage
	sumSq := func(p pair, n, from int) float64 {
		v := make([]float32, n)
		h.c.Download32(v, p.c)
		var s float64
		for _, x := range v[from:] {
			s += float64(x) * float64(x)
		}
		return s
	}
	var want float64
	for i, n := range []int{1, 7, 33, 1000, 4099, 3*sumsqSegElems + 5, 0} {
		x := h.rndAs(dtypes[i%len(dtypes)], n, 1)
		want += sumSq(x, n, 0)
		srcs = append(srcs, x.g)
	}
	base := h.rndAs(engine.F16, 104, 1)
	viewWant := sumSq(base, 104, 4)
	view := &storage{buf: buf(base.g).View(8, 200), n: 100, dt: engine.F16}
	srcs = append(srcs, view)
	want += viewWant
	get := func(d pair) float32 {
		g := make([]float32, 1)
		h.g.Download32(g, d.g)
		return g[0]
	}
	near := func(what string, got float32, want float64) {
		if rel := math.Abs(float64(got)-want) / math.Max(want, 1e-30); !(rel <= 1e-6) {
			t.Errorf("%s: %g, want %g (rel %.3g)", what, got, want, rel)
		}
	}
	d := h.out(1)
	h.g.SumSquaresAll(d.g, srcs, false)
	got := get(d)
	near("SumSquaresAll", got, want)
	before := h.g.TableStats()
	e := h.out(1)
	h.g.SumSquaresAll(e.g, srcs, false)
	if again := get(e); math.Float32bits(again) != math.Float32bits(got) {
		t.Errorf("SumSquaresAll not deterministic: %g then %g", got, again)
	}
	if after := h.g.TableStats(); after.Hits != before.Hits+1 || after.Uploads != before.Uploads {
		t.Errorf("SumSquaresAll again over the same list: table stats %+v, then %+v (want one more hit, no upload)", before, after)
	}
	h.g.SumSquaresAll(d.g, srcs, true)
	twice := get(d)
	near("SumSquaresAll accumulated", twice, 2*want)
	h.g.SumSquaresAll(d.g, nil, true)
	if kept := get(d); math.Float32bits(kept) != math.Float32bits(twice) {
		t.Errorf("SumSquaresAll of nothing, accumulating: dst %g, was %g", kept, twice)
	}
	z := h.out(1)
	h.g.SumSquaresAll(z.g, nil, false)
	if got := get(z); got != 0 {
		t.Errorf("SumSquaresAll of nothing: %g, want 0", got)
	}
	v := h.out(1)
	h.g.SumSquaresAll(v.g, []engine.Storage{view}, false)
	near("SumSquaresAll of the unaligned view", get(v), viewWant)
}
