//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mocogo/mocogo/kernels"
)

// attnElem is an element type of the flash-attention kernels: every test
// below runs the same body once per type, fp16 (AttentionForward,
// AttentionBackward) and bf16 (their BF16 twins).
type attnElem struct {
	name    string
	bits    func(float32) uint16 // rounds to nearest even
	float   func(uint16) float32
	rand    func(r *rand.Rand, n int) ([]float32, []uint16)
	nan     uint16 // a quiet NaN: the poison written into every output first
	expMask uint16 // the exponent field: all ones is ±Inf or NaN
	tol     float64
	fwd     func(d *Device, qkv, out, lse *Buffer, B, N, H, D int) error
	bwd     func(d *Device, qkv, out, dout, lse, dqkv *Buffer, B, N, H, D int) error
}

// The limits on ‖got−ref‖/‖ref‖ of out, dq, dk and dv against the float64
// reference (lse: 1e-3 for both). fp16: 1e-2 (GPU.md); the H100 measured
// 2.4e-4 to 3.9e-4 (docs/measurements/2026-11-27-h100-test_engine_cuda.log),
// about what rounding the stored result and P (or dS) to fp16 gives:
// unit roundoff 2⁻¹¹. bf16 keeps 8 significant bits against fp16's 11, so
// each of those roundings is eight times coarser (unit roundoff 2⁻⁸):
// about 2e-3 to 3e-3 is expected, and the limit is 2e-2, twice fp16's,
// about seven times the expected error, while a wrong layout, element
// type or missing tile gives errors of order one. lse, computed in fp32
// from the inputs as they are, keeps fp16's limit.
var (
	attnF16 = attnElem{"f16", kernels.F32ToF16, kernels.F16ToF32, randF16, 0x7e00, 0x7c00, 1e-2,
		(*Device).AttentionForward, (*Device).AttentionBackward}
	attnBF16 = attnElem{"bf16", kernels.F32ToBF16, kernels.BF16ToF32, randBF16, 0x7fc0, 0x7f80, 2e-2,
		(*Device).AttentionForwardBF16, (*Device).AttentionBackwardBF16}
)

// attnQKV returns random qkv [B, N, 3, H, D] rounded to e, as float32 and
// as e's bits: uniform in [-2, 2), scores of a few units as in a trained
// network. With wide (bf16 only), values past fp16's largest finite value
// 65504, which the fp16 kernels (and the old path converting bf16 through
// fp16) cannot hold: column 0 of Q is 2¹⁶·(1 + |u|/4) (65536 to 98304) and
// column 0 of K is 1, so every score q·k carries a row offset above 65504,
// which softmax cancels (the problem stays as well conditioned as the
// plain one, up to fp32's rounding of scores near 10⁵); V is 2¹⁶·u (up to
// ±131072) in its odd columns and 2¹⁶·(1.25 + u/8) (65536 to 98304) in its
// even ones, so that out, an average of V's rows, is past fp16's range too
// (with V zero-mean, out at N = 197 stayed under 65504 on an H100).
func attnQKV(r *rand.Rand, e attnElem, c attnCase, wide bool) ([]float32, []uint16) {
	n := c.B * c.N * 3 * c.H * c.D
	f := make([]float32, n)
	h := make([]uint16, n)
	for i := range f {
		v := (r.Float64()*2 - 1) * 2
		if wide {
			which, d := i/(c.H*c.D)%3, i%c.D
			switch {
			case which == 0 && d == 0:
				v = 65536 * (1 + math.Abs(v)/4)
			case which == 1 && d == 0:
				v = 1
			case which == 2 && d%2 == 0:
				v = 65536 * (1.25 + v/8)
			case which == 2:
				v *= 65536
			}
		}
		h[i] = e.bits(float32(v))
		f[i] = e.float(h[i])
	}
	return f, h
}

// pastF16 counts the values of v past fp16's largest finite value.
func pastF16(v []float32) int {
	n := 0
	for _, x := range v {
		if math.Abs(float64(x)) > 65504 {
			n++
		}
	}
	return n
}

// attnRef computes out and lse for one (batch, head) in float64.
func attnRef(q, k, v func(n, d int) float64, N, D int, out func(n, d int, x float64), lse func(n int, x float64)) {
	scale := 1 / math.Sqrt(float64(D))
	s := make([]float64, N)
	for i := 0; i < N; i++ {
		mx := math.Inf(-1)
		for j := 0; j < N; j++ {
			var dot float64
			for d := 0; d < D; d++ {
				dot += q(i, d) * k(j, d)
			}
			s[j] = dot * scale
			mx = math.Max(mx, s[j])
		}
		var sum float64
		for j := range s {
			s[j] = math.Exp(s[j] - mx)
			sum += s[j]
		}
		for d := 0; d < D; d++ {
			var acc float64
			for j := 0; j < N; j++ {
				acc += s[j] * v(j, d)
			}
			out(i, d, acc/sum)
		}
		lse(i, mx+math.Log(sum))
	}
}

// attnCase is one attention test shape; check is the number of heads
// compared with the float64 reference (0 = all).
type attnCase struct{ B, N, H, D, check int }

// attnFwdCases and attnBwdCases are the shapes of TestAttentionForward and
// TestAttentionBackward (and of their BF16 twins): odd N around the 16-row
// groups and 64-row tiles, and the ViT-S and DeiT-S shapes (B 256, N 197)
// with sampled heads.
var (
	attnFwdCases = []attnCase{
		{1, 1, 1, 32, 0}, {2, 7, 3, 32, 0}, {1, 64, 2, 64, 0}, {1, 65, 2, 32, 0}, {2, 197, 3, 32, 0},
		{2, 197, 2, 64, 0}, {1, 300, 1, 64, 0}, {1, 17, 2, 32, 0}, {1, 112, 1, 64, 0}, {2, 100, 2, 32, 0},
		{256, 197, 12, 32, 48}, {256, 197, 6, 64, 24},
	}
	attnBwdCases = []attnCase{
		{1, 1, 1, 32, 0}, {2, 7, 3, 32, 0}, {1, 64, 2, 64, 0}, {1, 65, 2, 32, 0}, {2, 197, 3, 32, 0},
		{2, 197, 2, 64, 0}, {1, 300, 1, 64, 0}, {1, 17, 2, 32, 0}, {1, 112, 1, 64, 0}, {2, 100, 2, 32, 0},
		{256, 197, 12, 32, 24}, {256, 197, 6, 64, 12},
	}
)

func TestAttentionForward(t *testing.T) { testAttentionForward(t, attnF16, false, attnFwdCases) }

// TestAttentionForwardBF16 is TestAttentionForward on the bf16 kernels.
func TestAttentionForwardBF16(t *testing.T) { testAttentionForward(t, attnBF16, false, attnFwdCases) }

func testAttentionForward(t *testing.T, e attnElem, wide bool, cases []attnCase) {
	for _, c := range cases {
		if (testing.Short() || attnSmallOnly) && c.B > 2 {
			continue
		}
		t.Run(fmt.Sprintf("B%d_N%d_H%d_D%d", c.B, c.N, c.H, c.D), func(t *testing.T) {
			r := newRand(t)
			qkvF, qkvH := attnQKV(r, e, c, wide)
			dqkv := upload16(t, qkvH)
			outN := c.B * c.N * c.H * c.D
			dout := mustAlloc(t, 2*int64(outN))
			dlse := mustAlloc(t, 4*int64(c.B*c.H*c.N))
			must(t, dout.Fill16(e.nan))
			must(t, dlse.PoisonF32())
			must(t, e.fwd(dev, dqkv, dout, dlse, c.B, c.N, c.H, c.D))
			must(t, dev.Synchronize())
			outH := make([]uint16, outN)
			must(t, dout.CopyToU16(outH))
			lseG := download32(t, dlse, c.B*c.H*c.N)

			heads := make([]int, 0)
			total := c.B * c.H
			step := 1
			if c.check > 0 && c.check < total {
				step = total / c.check
			}
			for bh := r.IntN(step); bh < total; bh += step {
				heads = append(heads, bh)
			}
			wantO := make([]float64, len(heads)*c.N*c.D)
			gotO := make([]float32, len(wantO))
			wantL := make([]float64, len(heads)*c.N)
			gotL := make([]float32, len(wantL))
			parallelRows(len(heads), func(hi int) {
				b, h := heads[hi]/c.H, heads[hi]%c.H
				at := func(which int) func(n, d int) float64 {
					return func(n, d int) float64 {
						return float64(qkvF[(((b*c.N+n)*3+which)*c.H+h)*c.D+d])
					}
				}
				attnRef(at(0), at(1), at(2), c.N, c.D,
					func(n, d int, x float64) {
						wantO[(hi*c.N+n)*c.D+d] = x
						gotO[(hi*c.N+n)*c.D+d] = e.float(outH[((b*c.N+n)*c.H+h)*c.D+d])
					},
					func(n int, x float64) {
						wantL[hi*c.N+n] = x
						gotL[hi*c.N+n] = lseG[(b*c.H+h)*c.N+n]
					})
			})
			relO, badO := errStats(gotO, wantO)
			relL, badL := errStats(gotL, wantL)
			t.Logf("%s, %d heads checked: out rel err %.3g, lse rel err %.3g", e.name, len(heads), relO, relL)
			if badO > 0 || badL > 0 || !(relO < e.tol) || !(relL < 1e-3) {
				t.Errorf("out rel err %.3g (limit %g) non-finite %d; lse rel err %.3g (limit 1e-3) non-finite %d", relO, e.tol, badO, relL, badL)
			}
			// Every output element was written (none still NaN), checked over
			// all heads.
			for i, v := range outH {
				if v&e.expMask == e.expMask {
					t.Fatalf("out[%d] not finite (%#04x)", i, v)
				}
			}
			if wide {
				// The case is what it claims: inputs and outputs past fp16's
				// range (every checked value compared above).
				nq, no := pastF16(qkvF), pastF16(gotO)
				t.Logf("past ±65504: %d of %d qkv values, %d of %d checked out values", nq, len(qkvF), no, len(gotO))
				if nq == 0 || no == 0 {
					t.Errorf("the wide case has %d qkv and %d out values past ±65504", nq, no)
				}
			}
		})
	}
}

// attnBwdRef computes dq, dk, dv for one (batch, head) in float64 from q, k,
// v and dout.
func attnBwdRef(q, k, v, do func(n, d int) float64, N, D int, dq, dk, dv func(n, d int, x float64)) {
	scale := 1 / math.Sqrt(float64(D))
	P := make([][]float64, N)
	dS := make([][]float64, N)
	for i := 0; i < N; i++ {
		P[i] = make([]float64, N)
		dS[i] = make([]float64, N)
		mx := math.Inf(-1)
		for j := 0; j < N; j++ {
			var dot float64
			for d := 0; d < D; d++ {
				dot += q(i, d) * k(j, d)
			}
			P[i][j] = dot * scale
			mx = math.Max(mx, P[i][j])
		}
		var sum float64
		for j := range P[i] {
			P[i][j] = math.Exp(P[i][j] - mx)
			sum += P[i][j]
		}
		var rowdot float64
		for j := range P[i] {
			P[i][j] /= sum
			var dp float64
			for d := 0; d < D; d++ {
				dp += do(i, d) * v(j, d)
			}
			dS[i][j] = dp
			rowdot += P[i][j] * dp
		}
		for j := range P[i] {
			dS[i][j] = P[i][j] * (dS[i][j] - rowdot)
		}
	}
	for i := 0; i < N; i++ {
		for d := 0; d < D; d++ {
			var a float64
			for j := 0; j < N; j++ {
				a += dS[i][j] * k(j, d)
			}
			dq(i, d, a*scale)
		}
	}
	for j := 0; j < N; j++ {
		for d := 0; d < D; d++ {
			var a, b float64
			for i := 0; i < N; i++ {
				a += dS[i][j] * q(i, d)
				b += P[i][j] * do(i, d)
			}
			dk(j, d, a*scale)
			dv(j, d, b)
		}
	}
}

func TestAttentionBackward(t *testing.T) { testAttentionBackward(t, attnF16, false, attnBwdCases) }

// TestAttentionBackwardBF16 is TestAttentionBackward on the bf16 kernels.
func TestAttentionBackwardBF16(t *testing.T) { testAttentionBackward(t, attnBF16, false, attnBwdCases) }

func testAttentionBackward(t *testing.T, e attnElem, wide bool, cases []attnCase) {
	for _, c := range cases {
		if (testing.Short() || attnSmallOnly) && c.B > 2 {
			continue
		}
		t.Run(fmt.Sprintf("B%d_N%d_H%d_D%d", c.B, c.N, c.H, c.D), func(t *testing.T) {
			r := newRand(t)
			n := c.B * c.N * 3 * c.H * c.D
			on := c.B * c.N * c.H * c.D
			qkvF, qkvH := attnQKV(r, e, c, wide)
			doF, doH := e.rand(r, on)
			dqkv := upload16(t, qkvH)
			ddo := upload16(t, doH)
			dout := mustAlloc(t, 2*int64(on))
			dlse := mustAlloc(t, 4*int64(c.B*c.H*c.N))
			dgrad := mustAlloc(t, 2*int64(n))
			must(t, dgrad.Fill16(e.nan))
			must(t, e.fwd(dev, dqkv, dout, dlse, c.B, c.N, c.H, c.D))
			must(t, e.bwd(dev, dqkv, dout, ddo, dlse, dgrad, c.B, c.N, c.H, c.D))
			must(t, dev.Synchronize())
			gH := make([]uint16, n)
			must(t, dgrad.CopyToU16(gH))
			for i, v := range gH {
				if v&e.expMask == e.expMask {
					t.Fatalf("dqkv[%d] not finite (%#04x)", i, v)
				}
			}
			total := c.B * c.H
			step := 1
			if c.check > 0 && c.check < total {
				step = total / c.check
			}
			var heads []int
			for bh := r.IntN(step); bh < total; bh += step {
				heads = append(heads, bh)
			}
			per := c.N * c.D
			want := [3][]float64{}
			got := [3][]float32{}
			for s := range want {
				want[s] = make([]float64, len(heads)*per)
				got[s] = make([]float32, len(heads)*per)
			}
			parallelRows(len(heads), func(hi int) {
				b, h := heads[hi]/c.H, heads[hi]%c.H
				idx := func(which, n, d int) int { return (((b*c.N+n)*3+which)*c.H+h)*c.D + d }
				at := func(which int) func(n, d int) float64 {
					return func(n, d int) float64 { return float64(qkvF[idx(which, n, d)]) }
				}
				do := func(n, d int) float64 { return float64(doF[((b*c.N+n)*c.H+h)*c.D+d]) }
				put := func(which int) func(n, d int, x float64) {
					return func(n, d int, x float64) {
						want[which][hi*per+n*c.D+d] = x
						got[which][hi*per+n*c.D+d] = e.float(gH[idx(which, n, d)])
					}
				}
				attnBwdRef(at(0), at(1), at(2), do, c.N, c.D, put(0), put(1), put(2))
			})
			for s, name := range []string{"dq", "dk", "dv"} {
				rel, bad := errStats(got[s], want[s])
				t.Logf("%s, %d heads: %s rel err %.3g", e.name, len(heads), name, rel)
				if bad > 0 || !(rel < e.tol) {
					t.Errorf("%s: rel err %.3g (limit %g), non-finite %d", name, rel, e.tol, bad)
				}
			}
			if wide {
				ng := pastF16(got[1])
				t.Logf("past ±65504: %d of %d qkv values, %d of %d checked dk values", pastF16(qkvF), len(qkvF), ng, len(got[1]))
				if ng == 0 {
					t.Errorf("the wide case has no dk value past ±65504")
				}
			}
		})
	}
}

// attnSmallOnly limits the attention tests to their small cases (set by
// TestAttentionFull).
var attnSmallOnly bool

// TestAttentionFull runs the small attention cases on the tiled kernels
// with SetAttentionSkip(false): every tile computed in full, as the first
// kernels did; fp16, then bf16. (The skip applies to the tiled kernels
// only, which are no longer the default.)
func TestAttentionFull(t *testing.T) {
	oldK := dev.SetAttentionKernel(AttnTiled)
	old := dev.SetAttentionSkip(false)
	attnSmallOnly = true
	defer func() {
		dev.SetAttentionSkip(old)
		dev.SetAttentionKernel(oldK)
		attnSmallOnly = false
	}()
	t.Run("forward", TestAttentionForward)
	t.Run("backward", TestAttentionBackward)
	t.Run("forward_bf16", TestAttentionForwardBF16)
	t.Run("backward_bf16", TestAttentionBackwardBF16)
}

// TestAttentionKernels runs every non-default AttentionKernel (the tiled
// and the head-resident kernels) forward and backward against the float64
// reference, fp16 then bf16: N ∈ {1, 17, 64, 197, 300} at D = 32 and 64
// with B = 2, H = 3, a head too long for shared memory (N = 1000, D = 64:
// the tiled fallback), and the ViT-S/DeiT-S shapes with sampled heads (not
// with -short). Outputs are poisoned with NaN before each run.
func TestAttentionKernels(t *testing.T) {
	var fwd, bwd []attnCase
	for _, D := range []int{32, 64} {
		for _, N := range []int{1, 17, 64, 197, 300} {
			fwd = append(fwd, attnCase{2, N, 3, D, 0})
			bwd = append(bwd, attnCase{2, N, 3, D, 0})
		}
	}
	fwd = append(fwd, attnCase{1, 1000, 1, 64, 0}, attnCase{256, 197, 12, 32, 48}, attnCase{256, 197, 6, 64, 24})
	bwd = append(bwd, attnCase{1, 1000, 1, 64, 0}, attnCase{256, 197, 12, 32, 24}, attnCase{256, 197, 6, 64, 12})
	for _, k := range AttentionKernels {
		if k == AttnAuto {
			continue // TestAttentionForward and TestAttentionBackward
		}
		t.Run(k.String(), func(t *testing.T) {
			old := dev.SetAttentionKernel(k)
			defer dev.SetAttentionKernel(old)
			if got := dev.AttentionKernel(); got != k {
				t.Fatalf("AttentionKernel() = %v after SetAttentionKernel(%v)", got, k)
			}
			t.Run("forward", func(t *testing.T) { testAttentionForward(t, attnF16, false, fwd) })
			t.Run("backward", func(t *testing.T) { testAttentionBackward(t, attnF16, false, bwd) })
			t.Run("forward_bf16", func(t *testing.T) { testAttentionForward(t, attnBF16, false, fwd) })
			t.Run("backward_bf16", func(t *testing.T) { testAttentionBackward(t, attnBF16, false, bwd) })
		})
	}
}

// TestAttentionBF16Range runs the bf16 kernels, forward and backward, on
// every AttentionKernel against the float64 reference with values past
// fp16's range (attnQKV's wide case: q·k scores, q, v, out and dk past
// ±65504; outputs NaN-poisoned first). Through fp16, as bf16 attention ran
// before it had kernels of its own, those values were ±Inf.
func TestAttentionBF16Range(t *testing.T) {
	cases := []attnCase{{2, 7, 3, 32, 0}, {1, 65, 2, 64, 0}, {2, 197, 3, 32, 0}, {2, 100, 2, 64, 0}, {2, 197, 2, 64, 0}}
	for _, k := range AttentionKernels {
		t.Run(k.String(), func(t *testing.T) {
			old := dev.SetAttentionKernel(k)
			defer dev.SetAttentionKernel(old)
			t.Run("forward", func(t *testing.T) { testAttentionForward(t, attnBF16, true, cases) })
			t.Run("backward", func(t *testing.T) { testAttentionBackward(t, attnBF16, true, cases) })
		})
	}
}
