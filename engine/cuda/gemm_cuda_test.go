//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/mocogo/mocogo/kernels"
)

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	pad            int  // extra elements in every leading dimension (0: tight)
	align8         bool // leading dimensions rounded up to multiples of 8 first (the 16-byte paths)
	alpha, beta    float32
	bias, gelu     bool
	out16          bool // C in the operands' half type (fp16, or bf16 with bf16)
	bf16           bool // bf16 operands (GemmBF16) instead of fp16 (GemmF16)
	cOff           int  // C starts this many elements into its allocation (2: 4- or 8-byte aligned, not 16; 1: off its pairs' alignment)
	// residual: Epilogue.Residual, a matrix R of C's type and layout (random,
	// NaN in the padding) added last, beta 0; R must come out unchanged.
	residual bool
}

func (c gemmCase) String() string {
	l := map[bool]string{false: "n", true: "t"}
	s := fmt.Sprintf("%s%s_%dx%dx%d", l[c.transA], l[c.transB], c.m, c.n, c.k)
	if c.pad != 0 {
		s += fmt.Sprintf("_pad%d", c.pad)
	}
	if c.align8 {
		s += "_al8"
	}
	if c.alpha != 1 || c.beta != 0 {
		s += fmt.Sprintf("_a%g_b%g", c.alpha, c.beta)
	}
	if c.bias {
		s += "_bias"
	}
	if c.gelu {
		s += "_gelu"
	}
	switch {
	case c.out16 && c.bf16:
		s += "_bf16out"
	case c.out16:
		s += "_f16"
	}
	if c.cOff != 0 {
		s += fmt.Sprintf("_coff%d", c.cOff)
	}
	if c.residual {
		s += "_res"
	}
	if c.bf16 {
		s = "bf16_" + s
	}
	return s
}

// gemmStores are the two ways the mma.sync and wgmma kernels store C
// (SetGemmStaged): straight from the registers, or staged through shared
// memory.
var gemmStores = []struct {
	name   string
	staged bool
}{{"direct", false}, {"staged", true}}

// forEachStore runs f as a subtest under each store, so that every GEMM
// test covers both epilogues; the staged one falls back to the direct
// store where beta ≠ 0 or C's rows are not 16-byte aligned, which the cases
// with padding, odd n and cOff exercise.
func forEachStore(t *testing.T, f func(t *testing.T)) {
	for _, st := range gemmStores {
		t.Run(st.name, func(t *testing.T) {
			old := dev.SetGemmStaged(st.staged)
			defer dev.SetGemmStaged(old)
			f(t)
		})
	}
}

// asBF16 returns the cases with bf16 operands (and a bf16 C where out16).
func asBF16(cs []gemmCase) []gemmCase {
	out := make([]gemmCase, len(cs))
	for i, c := range cs {
		c.bf16 = true
		out[i] = c
	}
	return out
}

// halfBits and halfFloat convert between float32 and the case's half type.
func (c gemmCase) halfBits(v float32) uint16 {
	if c.bf16 {
		return kernels.F32ToBF16(v)
	}
	return kernels.F32ToF16(v)
}

func (c gemmCase) halfFloat(h uint16) float32 {
	if c.bf16 {
		return kernels.BF16ToF32(h)
	}
	return kernels.F16ToF32(h)
}

func gelu64(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// runGemmCase runs one case on the GPU and checks it against a float64
// reference over the fp16- (or bf16-) rounded inputs, on all rows or on a
// sample of rows (always the first and last) when the full product is too
// big for the CPU.
//
// The limit on ‖out−ref‖/‖ref‖ is GPU.md's 2e-3, except for a bf16 C: the
// reference is exact over the rounded inputs, so the error is the fp32
// accumulation's plus the output's rounding, and bf16 keeps 8 significant
// bits (a rounding moves a value by up to 2⁻⁸ ≈ 3.9e-3 relative, against
// 2⁻¹¹ for fp16): 2e-3 + 4e-3.
func runGemmCase(t *testing.T, c gemmCase) {
	r := newRand(t)
	ar, ac := c.m, c.k
	if c.transA {
		ar, ac = c.k, c.m
	}
	br, bc := c.k, c.n
	if c.transB {
		br, bc = c.n, c.k
	}
	lda, ldb, ldc := ac+c.pad, bc+c.pad, c.n+c.pad
	if c.align8 {
		up := func(v int) int { return (v + 7) &^ 7 }
		lda, ldb, ldc = up(ac)+c.pad, up(bc)+c.pad, up(c.n)+c.pad
	}
	randHalf := randF16
	if c.bf16 {
		randHalf = randBF16
	}
	af, ah := randHalf(r, ar*lda)
	bf, bh := randHalf(r, br*ldb)
	da, db := upload16(t, ah), upload16(t, bh)
	var biasF []float32
	var dbias *Buffer
	if c.bias {
		biasF = randF32(r, c.n, 1)
		dbias = upload32(t, biasF)
	}
	celem := 4
	if c.out16 {
		celem = 2
	}
	clen := c.m * ldc
	dcAll := mustAlloc(t, int64((clen+c.cOff)*celem))
	dc := dcAll.View(int64(c.cOff*celem), int64(clen*celem))
	// C starts as NaN everywhere (beta = 0) or as random values (beta ≠ 0)
	// with NaN in the padding columns, which must survive untouched. A
	// residual gets those values in a buffer of its own (dr), and C NaN.
	var c0 []float32
	var dr *Buffer
	if c.residual {
		dr = mustAlloc(t, int64(clen*celem))
	}
	if c.beta != 0 || c.residual {
		c0 = make([]float32, clen)
		for i := range c0 {
			if i%ldc < c.n {
				c0[i] = c.halfFloat(c.halfBits(float32(r.Float64()*2 - 1)))
			} else {
				c0[i] = float32(math.NaN())
			}
		}
		dst := dc
		if c.residual {
			dst = dr
		}
		if c.out16 {
			h := make([]uint16, clen)
			for i, v := range c0 {
				h[i] = c.halfBits(v)
			}
			must(t, dst.CopyFromU16(h))
		} else {
			must(t, dst.CopyFromF32(c0))
		}
	}
	switch {
	case c.beta != 0: // C holds c0
	case c.out16:
		nan := uint16(0x7e00) // fp16 NaN
		if c.bf16 {
			nan = 0x7fc0 // bf16 NaN
		}
		must(t, dcAll.Fill16(nan))
	default:
		must(t, dcAll.PoisonF32())
	}
	if c.bf16 {
		must(t, dev.GemmBF16(c.transA, c.transB, c.m, c.n, c.k, c.alpha, da, lda, db, ldb, c.beta, dc, ldc,
			Epilogue{Bias: dbias, GELU: c.gelu, OutBF16: c.out16, Residual: dr}))
	} else {
		must(t, dev.GemmF16(c.transA, c.transB, c.m, c.n, c.k, c.alpha, da, lda, db, ldb, c.beta, dc, ldc,
			Epilogue{Bias: dbias, GELU: c.gelu, OutF16: c.out16, Residual: dr}))
	}
	must(t, dev.Synchronize())
	if c.residual {
		// R is read, never written: every element, padding included, as
		// uploaded (NaN compares by its bits).
		changed := 0
		if c.out16 {
			h := make([]uint16, clen)
			must(t, dr.CopyToU16(h))
			for i, v := range c0 {
				if h[i] != c.halfBits(v) {
					changed++
				}
			}
		} else {
			f := make([]float32, clen)
			must(t, dr.CopyToF32(f))
			for i, v := range c0 {
				if math.Float32bits(f[i]) != math.Float32bits(v) {
					changed++
				}
			}
		}
		if changed > 0 {
			t.Errorf("%v: %d elements of the residual changed", c, changed)
		}
	}
	got := make([]float32, clen)
	if c.out16 {
		h := make([]uint16, clen)
		must(t, dc.CopyToU16(h))
		for i, v := range h {
			got[i] = c.halfFloat(v)
		}
	} else {
		must(t, dc.CopyToF32(got))
	}

	// Rows to check.
	rows := make([]int, 0)
	if budget := 3e8 / float64(c.n*max(c.k, 1)); float64(c.m) <= budget {
		for i := 0; i < c.m; i++ {
			rows = append(rows, i)
		}
	} else {
		seen := map[int]bool{0: true, c.m - 1: true}
		rows = append(rows, 0, c.m-1)
		for len(rows) < int(budget) && len(rows) < c.m {
			i := r.IntN(c.m)
			if !seen[i] {
				seen[i] = true
				rows = append(rows, i)
			}
		}
		sort.Ints(rows)
	}
	want := make([]float64, len(rows)*c.n)
	gotS := make([]float32, len(rows)*c.n)
	parallelRows(len(rows), func(ri int) {
		i := rows[ri]
		acol := make([]float64, c.k)
		for p := 0; p < c.k; p++ {
			if c.transA {
				acol[p] = float64(af[p*lda+i])
			} else {
				acol[p] = float64(af[i*lda+p])
			}
		}
		for j := 0; j < c.n; j++ {
			var s float64
			if c.transB {
				brow := bf[j*ldb : j*ldb+c.k]
				for p, v := range brow {
					s += acol[p] * float64(v)
				}
			} else {
				for p := 0; p < c.k; p++ {
					s += acol[p] * float64(bf[p*ldb+j])
				}
			}
			v := float64(c.alpha) * s
			if c.bias {
				v += float64(biasF[j])
			}
			if c.gelu {
				v = gelu64(v)
			}
			if c.beta != 0 {
				v += float64(c.beta) * float64(c0[i*ldc+j])
			}
			if c.residual {
				v += float64(c0[i*ldc+j])
			}
			want[ri*c.n+j] = v
			gotS[ri*c.n+j] = got[i*ldc+j]
		}
	})
	rel, bad := errStats(gotS, want)
	// Padding columns must still hold NaN: nothing was written past n.
	var clobbered int
	for i := 0; i < c.m && ldc > c.n; i++ {
		for j := c.n; j < ldc; j++ {
			if !math.IsNaN(float64(got[i*ldc+j])) {
				clobbered++
			}
		}
	}
	limit := 2e-3
	if c.bf16 && c.out16 {
		limit += 4e-3 // bf16's rounding of C (see above)
	}
	t.Logf("%v: checked %d of %d rows, rel err %.3g, non-finite %d, padding written %d", c, len(rows), c.m, rel, bad, clobbered)
	if bad > 0 || clobbered > 0 || !(rel < limit) {
		t.Errorf("%v: rel err %.3g (limit %.3g), non-finite %d, padding written %d", c, rel, limit, bad, clobbered)
	}
}

func TestGemmF16Odd(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		for _, c := range oddGemmCases() {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
}

// oddGemmCases: odd sizes in every layout, tight, padded, and with leading
// dimensions rounded up to multiples of 8 (the 16-byte paths, and the
// staged store with a scalar tail where n is not a multiple of 8).
func oddGemmCases() []gemmCase {
	sizes := [][3]int{
		{1, 1, 1}, {1, 7, 33}, {7, 33, 129}, {33, 129, 7}, {129, 197, 33}, {197, 129, 1000},
		{1000, 1, 7}, {33, 1000, 197}, {128, 128, 32}, {256, 384, 64}, {200, 136, 24}, {5, 5, 0},
	}
	var cs []gemmCase
	for _, s := range sizes {
		for _, l := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, pad := range []int{0, 8} {
				cs = append(cs, gemmCase{transA: l[0], transB: l[1], m: s[0], n: s[1], k: s[2], pad: pad, alpha: 1})
			}
			cs = append(cs, gemmCase{transA: l[0], transB: l[1], m: s[0], n: s[1], k: s[2], align8: true, alpha: 1})
		}
	}
	return cs
}

func TestGemmF16Epilogue(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		for _, c := range epilogueGemmCases() {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
}

// TestGemmF16ElementAlignment: an operand or C that does not start on an
// element boundary is refused before any launch, with its name.
func TestGemmF16ElementAlignment(t *testing.T) {
	a := mustAlloc(t, 64*64*2+8)
	c := mustAlloc(t, 64*64*4+8)
	for _, tc := range []struct {
		name    string
		a, b, c *Buffer
		want    string
	}{
		{"A", a.View(1, 64*64*2), a.View(0, 64*64*2), c.View(0, 64*64*4), "A starts 1 bytes past a 2-byte element boundary"},
		{"C", a.View(0, 64*64*2), a.View(0, 64*64*2), c.View(2, 64*64*4), "C starts 2 bytes past a 4-byte element boundary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.Contains(msg, tc.want) {
					t.Fatalf("panic %q, want one containing %q", msg, tc.want)
				}
			}()
			_ = dev.GemmF16(false, true, 64, 64, 64, 1, tc.a, 64, tc.b, 64, 0, tc.c, 64, Epilogue{})
		})
	}
}

// epilogueGemmCases: alpha, beta, bias, GELU and a half C; C's rows
// 16-byte aligned with n odd (the staged store's scalar tail), with the
// operands unaligned (the _u kernels), and C itself misaligned (cOff: the
// staged store falls back; at an odd element, the product goes through an
// aligned buffer).
func epilogueGemmCases() []gemmCase {
	return []gemmCase{
		{m: 197, n: 301, k: 96, align8: true, alpha: 0.5, bias: true, gelu: true},
		{transB: true, m: 197, n: 301, k: 96, align8: true, alpha: 1, bias: true, gelu: true, out16: true},
		{transA: true, transB: true, m: 130, n: 77, k: 64, align8: true, alpha: 1, bias: true, out16: true, pad: 8},
		{m: 129, n: 136, k: 33, alpha: 1, bias: true, out16: true},
		{transB: true, m: 129, n: 200, k: 64, alpha: 1, bias: true, out16: true, cOff: 2},
		{m: 129, n: 200, k: 64, alpha: 1, bias: true, cOff: 2},
		// C off its pairs' alignment (an fp32 C 4 bytes, a half C 2
		// bytes past it): the product through an aligned buffer, C read
		// first for beta, its padding kept.
		{transB: true, m: 129, n: 200, k: 64, align8: true, alpha: 1, beta: 0.5, bias: true, cOff: 1, pad: 3},
		{m: 77, n: 136, k: 48, align8: true, alpha: 1, gelu: true, out16: true, cOff: 1},
		{m: 197, n: 300, k: 96, alpha: 0.5, bias: true},
		{m: 197, n: 300, k: 96, alpha: 1, bias: true, gelu: true},
		{m: 197, n: 300, k: 96, alpha: 1, bias: true, gelu: true, out16: true},
		{transB: true, m: 333, n: 129, k: 72, alpha: 1, beta: 1, pad: 3},
		{transA: true, m: 129, n: 77, k: 1000, alpha: 2, beta: -0.5, pad: 8},
		{transB: true, m: 100, n: 200, k: 40, alpha: 1, beta: 1, out16: true, pad: 8},
		{transB: true, m: 100, n: 201, k: 41, alpha: 1, bias: true, gelu: true, out16: true, pad: 1},
	}
}

// TestGemmF16ViT runs the shapes of a ViT-S/16 step at batch 256 (197
// tokens, width 384, MLP 1536): the forward Linear layers (NT), the input
// gradient (NN) and the weight gradient (TN, K = 50432).
func TestGemmF16ViT(t *testing.T) {
	if testing.Short() {
		t.Skip("ViT-sized shapes skipped with -short")
	}
	forEachStore(t, func(t *testing.T) {
		for _, c := range vitGemmCases() {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
}

// vitGemmCases: the GEMMs of a ViT-S/16 step at batch 256.
func vitGemmCases() []gemmCase {
	const M = 256 * 197
	return []gemmCase{
		{transB: true, m: M, n: 1152, k: 384, alpha: 1, bias: true},
		{transB: true, m: M, n: 384, k: 384, alpha: 1, bias: true},
		{transB: true, m: M, n: 1536, k: 384, alpha: 1, bias: true, gelu: true, out16: true},
		{transB: true, m: M, n: 384, k: 1536, alpha: 1, bias: true},
		{m: M, n: 384, k: 1152, alpha: 1},
		{transA: true, m: 1152, n: 384, k: M, alpha: 1, beta: 1},
	}
}

// TestGemmBF16 runs the bf16 kernels (GemmBF16) through each kernel kind
// SetGemmKernel offers but the TMA ones (TestGemmBF16TMA*, tma_cuda_test.go):
// odd sizes in all four layouts, the epilogues, the NT cases every NT
// kernel must pass, forced split-K, and the ViT-S shapes. The wgmma kinds
// serve the NT layout; the other layouts go to mma.sync under them.
func TestGemmBF16(t *testing.T) {
	testGemmBF16Kinds(t, false, GemmAuto, GemmMMA, GemmMMAWide, GemmWGMMA128, GemmWGMMA256)
}

// TestGemmBF16Staged runs the same with the staged store (SetGemmStaged),
// under GemmAuto (on Hopper the TMA-store kernels for outputs with a tile
// per SM, wgmma128 for other NT products) and GemmMMA; the other kinds'
// staged stores are the same templates, run on fp16 by TestGemmF16Hopper
// and TestGemmF16MMAWide. A test of its own rather than a subtest: run.sh
// gives each top-level test its own time limit.
func TestGemmBF16Staged(t *testing.T) {
	testGemmBF16Kinds(t, true, GemmAuto, GemmMMA)
}

// testGemmBF16Kinds runs testGemmBF16 under each kind, with the staged or
// the direct store.
func testGemmBF16Kinds(t *testing.T, staged bool, kinds ...GemmKernel) {
	old := dev.SetGemmStaged(staged)
	defer dev.SetGemmStaged(old)
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			if !dev.SetGemmKernel(k) {
				t.Skipf("%s is not sm_90: no %s kernel", dev.Name(), k)
			}
			defer dev.SetGemmKernel(GemmAuto)
			testGemmBF16(t, k)
		})
	}
}

// testGemmBF16 runs the bf16 cases under kind k. The ViT-S shapes (about
// 1.5 s each on an H100, most of it the host's inputs and reference) run in
// full under GemmAuto, what training uses; under the other kinds only the
// two NT forward shapes (bias; bias, GELU and a bf16 C) and, where the kind
// serves every layout, the NN input gradient.
func testGemmBF16(t *testing.T, k GemmKernel) {
	const M = 256 * 197
	for _, c := range asBF16(append(oddGemmCases(), epilogueGemmCases()...)) {
		t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
	}
	for _, c := range asBF16(hopperCases()) {
		if c.m < M {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	}
	t.Run("splitk3", func(t *testing.T) {
		old := dev.SetGemmSplitK(3)
		defer dev.SetGemmSplitK(old)
		for _, c := range asBF16([]gemmCase{
			{m: 7, n: 33, k: 129, alpha: 1},
			{transB: true, m: 129, n: 197, k: 1000, alpha: 1, pad: 8},
			{transA: true, m: 197, n: 300, k: 960, alpha: 1, bias: true, gelu: true, out16: true},
			{transA: true, transB: true, m: 100, n: 200, k: 400, alpha: 1, beta: 1, out16: true, pad: 8},
		}) {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
	if testing.Short() {
		return
	}
	for i, c := range asBF16(vitGemmCases()) {
		nn := !c.transA && !c.transB
		if k == GemmAuto || i == 0 || i == 2 || nn && (k == GemmMMA || k == GemmMMAWide) {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	}
}

// TestGemmF16Hopper runs the NT cases through each sm_90a wgmma kernel (on
// Hopper GPUs only). TestGemmF16Odd and the others run whatever GemmAuto
// picks (on an H100 the TMA or wgmma128 kernel for the aligned NT layout).
func TestGemmF16Hopper(t *testing.T) {
	for _, k := range []GemmKernel{GemmWGMMA128, GemmWGMMA256} {
		t.Run(k.String(), func(t *testing.T) {
			if !dev.SetGemmKernel(k) {
				t.Skipf("%s is not sm_90: no wgmma kernel", dev.Name())
			}
			defer dev.SetGemmKernel(GemmAuto)
			forEachStore(t, testGemmHopper)
		})
	}
}

func testGemmHopper(t *testing.T) {
	testGemmHopperAs(t, false)
}

// testGemmHopperAs runs hopperCases with fp16 or (bf) bf16 operands.
func testGemmHopperAs(t *testing.T, bf bool) {
	cs := hopperCases()
	if bf {
		cs = asBF16(cs)
	}
	for _, c := range cs {
		if testing.Short() && c.m == 256*197 {
			continue
		}
		t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
	}
}

// hopperCases are the NT cases every NT kernel must pass.
func hopperCases() []gemmCase {
	const M = 256 * 197
	return []gemmCase{
		{transB: true, m: 128, n: 128, k: 64, alpha: 1},
		{transB: true, m: 128, n: 256, k: 256, alpha: 1},
		{transB: true, m: 1, n: 1, k: 8, alpha: 1},
		{transB: true, m: 7, n: 33, k: 129, alpha: 1, pad: 8},
		{transB: true, m: 129, n: 197, k: 33, alpha: 1, pad: 7},
		{transB: true, m: 197, n: 129, k: 1000, alpha: 1},
		{transB: true, m: 1000, n: 1, k: 7, alpha: 1, pad: 1},
		{transB: true, m: 33, n: 1000, k: 197, alpha: 1, pad: 3},
		{transB: true, m: 300, n: 260, k: 520, alpha: 0.5, beta: 1, bias: true},
		{transB: true, m: 333, n: 129, k: 72, alpha: 1, beta: 1, pad: 3},
		{transB: true, m: 100, n: 201, k: 48, alpha: 1, bias: true, gelu: true, out16: true, pad: 8},
		{transB: true, m: 129, n: 197, k: 72, align8: true, alpha: 1, bias: true, gelu: true, out16: true},
		{transB: true, m: 200, n: 130, k: 64, align8: true, alpha: 2, bias: true},
		// More tiles than SMs: the persistent kernel's blocks take two.
		{transB: true, m: 4100, n: 1300, k: 136, alpha: 1, bias: true, pad: 8},
		{transB: true, m: 4096, n: 2304, k: 72, alpha: 1, beta: 1, out16: true},
		{transB: true, m: M, n: 1152, k: 384, alpha: 1, bias: true},
		{transB: true, m: M, n: 1536, k: 384, alpha: 1, bias: true, gelu: true, out16: true},
		{transB: true, m: M, n: 384, k: 1536, alpha: 1, bias: true},
	}
}

// TestGemmF16SplitK forces the split-K path (partial products in an fp32
// workspace, then the fixed-order reduce with the epilogue) on every layout,
// odd sizes and each epilogue, and runs the weight-gradient shapes of a
// ViT-S/16 step with the automatic choice.
func TestGemmF16SplitK(t *testing.T) {
	splitCounts := []int{2, 7}
	if testing.Short() {
		splitCounts = []int{3} // with -short (and under compute-sanitizer) one count
	}
	forEachStore(t, func(t *testing.T) { testGemmSplitK(t, splitCounts) })
}

// testGemmSplitK is TestGemmF16SplitK under one store setting: forced
// splits into each of splitCounts, then the automatic choice.
func testGemmSplitK(t *testing.T, splitCounts []int) {
	for _, splits := range splitCounts {
		t.Run(fmt.Sprintf("splits%d", splits), func(t *testing.T) {
			old := dev.SetGemmSplitK(splits)
			defer dev.SetGemmSplitK(old)
			sizes := [][3]int{{1, 1, 40}, {7, 33, 129}, {129, 197, 1000}, {33, 129, 65}, {200, 136, 96}, {5, 5, 0}, {3, 9, 31}}
			// Tight leading dimensions of odd sizes are not aligned for
			// the 16-byte loads, and such products do not split; align8
			// makes them split (N not a multiple of 4: the reduce's
			// element-wise path).
			for _, s := range sizes {
				for _, l := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					for _, pad := range []int{0, 8} {
						for _, al := range []bool{false, true} {
							c := gemmCase{transA: l[0], transB: l[1], m: s[0], n: s[1], k: s[2], pad: pad, align8: al, alpha: 1}
							t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
						}
					}
				}
			}
			for _, c := range []gemmCase{
				{transA: true, m: 129, n: 77, k: 1000, alpha: 2, beta: -0.5, pad: 8},
				{transA: true, m: 197, n: 300, k: 960, alpha: 0.5, bias: true},
				{transA: true, m: 197, n: 300, k: 960, alpha: 1, bias: true, gelu: true, out16: true},
				{transB: true, m: 100, n: 200, k: 400, alpha: 1, beta: 1, out16: true, pad: 8},
				{m: 100, n: 201, k: 410, alpha: 1, bias: true, gelu: true, pad: 8},
				// The reduce's epilogue (operands aligned, as split-K
				// needs): C of either type off its quads' alignment
				// (element by element, beta·C read); padded rows and a
				// half C 8 bytes past a 16-byte boundary (whole quads).
				{transA: true, m: 129, n: 200, k: 1000, align8: true, alpha: 1, bias: true, gelu: true, out16: true, cOff: 2},
				{m: 100, n: 200, k: 400, alpha: 0.5, beta: 1, bias: true, cOff: 2},
				{transA: true, m: 33, n: 136, k: 500, align8: true, alpha: 1, beta: -1, out16: true, pad: 8},
				{transA: true, m: 65, n: 200, k: 700, align8: true, alpha: 1, beta: 0.5, bias: true, out16: true, cOff: 4},
			} {
				t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
			}
		})
	}
	t.Run("auto", func(t *testing.T) {
		const M = 256 * 197
		old := dev.SetGemmSplitK(0)
		defer dev.SetGemmSplitK(old)
		for _, c := range []gemmCase{
			{transA: true, m: 1536, n: 384, k: 4000, alpha: 1},
			{transA: true, m: 384, n: 384, k: 4000, alpha: 1, beta: 1, out16: true},
		} {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
		if testing.Short() {
			return
		}
		for _, c := range []gemmCase{
			{transA: true, m: 1536, n: 384, k: M, alpha: 1},
			{transA: true, m: 384, n: 1536, k: M, alpha: 1, beta: 1},
			{transA: true, m: 384, n: 384, k: M, alpha: 1},
		} {
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
		}
	})
}

// TestGemmF16SplitKDeterministic runs one split-K product twice: the fixed
// reduction order must give the same bits; then the same product with an
// epilogue into C aligned for the reduce's whole-quad stores and into C
// that is not, which must agree bit for bit.
func TestGemmF16SplitKDeterministic(t *testing.T) {
	old := dev.SetGemmSplitK(0)
	defer dev.SetGemmSplitK(old)
	defer dev.SetGemmStreamK(dev.SetGemmStreamK(false)) // split-K's reduce, whatever MOCOGO_GEMM_STREAMK says
	r := newRand(t)
	const m, n, k = 384, 384, 8192
	_, ah := randF16(r, k*m)
	_, bh := randF16(r, k*n)
	da, db := upload16(t, ah), upload16(t, bh)
	var runs [2][]float32
	for i := range runs {
		dc := mustAlloc(t, int64(4*m*n))
		must(t, dc.PoisonF32())
		must(t, dev.GemmF16(true, false, m, n, k, 1, da, m, db, n, 0, dc, n, Epilogue{}))
		must(t, dev.Synchronize())
		runs[i] = make([]float32, m*n)
		must(t, dc.CopyToF32(runs[i]))
	}
	for i := range runs[0] {
		if math.Float32bits(runs[0][i]) != math.Float32bits(runs[1][i]) || math.IsNaN(float64(runs[0][i])) {
			t.Fatalf("element %d: %v then %v", i, runs[0][i], runs[1][i])
		}
	}
	// The reduce's two epilogues, whole quads (C 16-byte aligned) and
	// element by element (C two elements further on), give the same bits,
	// with the bias, GELU and beta·C, into fp16 and fp32.
	bias := upload32(t, randF32(r, n, 1))
	oldF, oldH := randF16(r, m*n)
	for _, out16 := range []bool{false, true} {
		elem := 4
		if out16 {
			elem = 2
		}
		var got [2][]uint32 // the bits of each element
		for i, off := range []int{0, 2} {
			all := mustAlloc(t, int64((m*n+off)*elem))
			dc := all.View(int64(off*elem), int64(m*n*elem))
			if out16 {
				must(t, dc.CopyFromU16(oldH))
			} else {
				must(t, dc.CopyFromF32(oldF))
			}
			must(t, dev.GemmF16(true, false, m, n, k, 0.5, da, m, db, n, 0.25, dc, n, Epilogue{Bias: bias, GELU: true, OutF16: out16}))
			got[i] = make([]uint32, m*n)
			if out16 {
				h := make([]uint16, m*n)
				must(t, dc.CopyToU16(h))
				for e, v := range h {
					got[i][e] = uint32(v)
				}
			} else {
				f := make([]float32, m*n)
				must(t, dc.CopyToF32(f))
				for e, v := range f {
					got[i][e] = math.Float32bits(v)
				}
			}
		}
		for e := range got[0] {
			if got[0][e] != got[1][e] {
				t.Fatalf("out16 %v, element %d: bits %#x with C aligned, %#x with C two elements on", out16, e, got[0][e], got[1][e])
			}
		}
	}
}

// testGemmTMALayouts runs every storage layout through the kernel selected
// (the TMA kernels serve all four), with 16-byte-aligned leading dimensions
// so that the TMA path is taken, at odd sizes, with each epilogue, and with
// more tiles than SMs.
func testGemmTMALayouts(t *testing.T) { testGemmTMALayoutsAs(t, false) }

// testGemmTMALayoutsAs is testGemmTMALayouts with fp16 or (bf) bf16 operands.
func testGemmTMALayoutsAs(t *testing.T, bf bool) {
	run := func(t *testing.T, c gemmCase) {
		c.bf16 = bf
		t.Run(c.String(), func(t *testing.T) { runGemmCase(t, c) })
	}
	sizes := [][3]int{{1, 1, 8}, {7, 33, 129}, {129, 197, 33}, {197, 129, 1000}, {33, 1000, 197}, {128, 256, 64}, {300, 520, 72}, {4100, 1300, 136}}
	for _, s := range sizes {
		for _, l := range [][2]bool{{false, false}, {true, false}, {true, true}} {
			c := gemmCase{transA: l[0], transB: l[1], m: s[0], n: s[1], k: s[2], align8: true, alpha: 1}
			run(t, c)
		}
	}
	for _, c := range []gemmCase{
		{m: 300, n: 260, k: 520, align8: true, alpha: 0.5, beta: 1, bias: true, pad: 8},
		{transA: true, m: 333, n: 129, k: 72, align8: true, alpha: 1, beta: 1},
		{m: 100, n: 201, k: 48, align8: true, alpha: 1, bias: true, gelu: true, out16: true, pad: 8},
		{transA: true, transB: true, m: 100, n: 201, k: 48, align8: true, alpha: 1, bias: true, gelu: true, out16: true},
		{transA: true, m: 200, n: 136, k: 24, align8: true, alpha: 2, beta: -0.5, out16: true},
	} {
		run(t, c)
	}
	// Split-K through the TMA kernels: forced, on every layout.
	t.Run("splitk3", func(t *testing.T) {
		old := dev.SetGemmSplitK(3)
		defer dev.SetGemmSplitK(old)
		for _, c := range []gemmCase{
			{transA: true, m: 300, n: 200, k: 1000, align8: true, alpha: 1},
			{transA: true, m: 129, n: 520, k: 700, align8: true, alpha: 2, beta: -0.5, bias: true},
			{m: 129, n: 384, k: 300, align8: true, alpha: 1, gelu: true, bias: true, out16: true},
			{transB: true, m: 77, n: 1000, k: 1300, align8: true, alpha: 1, beta: 1},
			{transA: true, transB: true, m: 100, n: 201, k: 130, align8: true, alpha: 1},
		} {
			run(t, c)
		}
	})
	if testing.Short() {
		return
	}
	// Larger: an input gradient (NN) with more tiles than SMs, a long-K
	// TN product without split, and a ViT-S weight gradient with the
	// automatic split (TMA partials).
	for _, c := range []gemmCase{
		{m: 12345, n: 384, k: 1152, alpha: 1, bias: true},
		{transA: true, m: 1536, n: 384, k: 20000, alpha: 1, beta: 1},
	} {
		old := dev.SetGemmSplitK(1) // the TMA kernel itself, not split-K
		run(t, c)
		dev.SetGemmSplitK(old)
	}
	c := gemmCase{transA: true, m: 1536, n: 384, k: 256 * 197, alpha: 1}
	c.bf16 = bf
	t.Run("autosplit_"+c.String(), func(t *testing.T) { runGemmCase(t, c) })
}
