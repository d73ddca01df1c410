//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"testing"

	"github.com/mocogo/mocogo/kernels"
)

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

func TestAttentionForward(t *testing.T) {
	testAttentionForward(t, []attnCase{
		{1, 1, 1, 32, 0}, {2, 7, 3, 32, 0}, {1, 64, 2, 64, 0}, {1, 65, 2, 32, 0}, {2, 197, 3, 32, 0},
		{2, 197, 2, 64, 0}, {1, 300, 1, 64, 0}, {1, 17, 2, 32, 0}, {1, 112, 1, 64, 0}, {2, 100, 2, 32, 0},
		{256, 197, 12, 32, 48}, {256, 197, 6, 64, 24},
	})
}

func testAttentionForward(t *testing.T, cases []attnCase) {
	for _, c := range cases {
		if (testing.Short() || attnSmallOnly) && c.B > 2 {
			continue
		}
		t.Run(fmt.Sprintf("B%d_N%d_H%d_D%d", c.B, c.N, c.H, c.D), func(t *testing.T) {
			r := newRand(t)
			n := c.B * c.N * 3 * c.H * c.D
			// Scores of a few units, as in a trained network.
			qkvF := make([]float32, n)
			qkvH := make([]uint16, n)
			for i := range qkvF {
				qkvH[i] = kernels.F32ToF16(float32((r.Float64()*2 - 1) * 2))
				qkvF[i] = kernels.F16ToF32(qkvH[i])
			}
			dqkv := upload16(t, qkvH)
			outN := c.B * c.N * c.H * c.D
			dout := mustAlloc(t, 2*int64(outN))
			dlse := mustAlloc(t, 4*int64(c.B*c.H*c.N))
			must(t, dout.Fill16(0x7e00))
			must(t, dlse.PoisonF32())
			must(t, dev.AttentionForward(dqkv, dout, dlse, c.B, c.N, c.H, c.D))
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
						gotO[(hi*c.N+n)*c.D+d] = kernels.F16ToF32(outH[((b*c.N+n)*c.H+h)*c.D+d])
					},
					func(n int, x float64) {
						wantL[hi*c.N+n] = x
						gotL[hi*c.N+n] = lseG[(b*c.H+h)*c.N+n]
					})
			})
			relO, badO := errStats(gotO, wantO)
			relL, badL := errStats(gotL, wantL)
			t.Logf("%d heads checked: out rel err %.3g, lse rel err %.3g", len(heads), relO, relL)
			if badO > 0 || badL > 0 || !(relO < 1e-2) || !(relL < 1e-3) {
				t.Errorf("out rel err %.3g (limit 1e-2) non-finite %d; lse rel err %.3g (limit 1e-3) non-finite %d", relO, badO, relL, badL)
			}
			// Every output element was written (none still NaN), checked over
			// all heads.
			for i, v := range outH {
				if v&0x7c00 == 0x7c00 {
					t.Fatalf("out[%d] not finite (%#04x)", i, v)
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

func TestAttentionBackward(t *testing.T) {
	testAttentionBackward(t, []attnCase{
		{1, 1, 1, 32, 0}, {2, 7, 3, 32, 0}, {1, 64, 2, 64, 0}, {1, 65, 2, 32, 0}, {2, 197, 3, 32, 0},
		{2, 197, 2, 64, 0}, {1, 300, 1, 64, 0}, {1, 17, 2, 32, 0}, {1, 112, 1, 64, 0}, {2, 100, 2, 32, 0},
		{256, 197, 12, 32, 24}, {256, 197, 6, 64, 12},
	})
}

func testAttentionBackward(t *testing.T, cases []attnCase) {
	for _, c := range cases {
		if (testing.Short() || attnSmallOnly) && c.B > 2 {
			continue
		}
		t.Run(fmt.Sprintf("B%d_N%d_H%d_D%d", c.B, c.N, c.H, c.D), func(t *testing.T) {
			r := newRand(t)
			n := c.B * c.N * 3 * c.H * c.D
			on := c.B * c.N * c.H * c.D
			qkvF := make([]float32, n)
			qkvH := make([]uint16, n)
			for i := range qkvF {
				qkvH[i] = kernels.F32ToF16(float32((r.Float64()*2 - 1) * 2))
				qkvF[i] = kernels.F16ToF32(qkvH[i])
			}
			doF, doH := randF16(r, on)
			dqkv := upload16(t, qkvH)
			ddo := upload16(t, doH)
			dout := mustAlloc(t, 2*int64(on))
			dlse := mustAlloc(t, 4*int64(c.B*c.H*c.N))
			dgrad := mustAlloc(t, 2*int64(n))
			must(t, dgrad.Fill16(0x7e00))
			must(t, dev.AttentionForward(dqkv, dout, dlse, c.B, c.N, c.H, c.D))
			must(t, dev.AttentionBackward(dqkv, dout, ddo, dlse, dgrad, c.B, c.N, c.H, c.D))
			must(t, dev.Synchronize())
			gH := make([]uint16, n)
			must(t, dgrad.CopyToU16(gH))
			for i, v := range gH {
				if v&0x7c00 == 0x7c00 {
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
						got[which][hi*per+n*c.D+d] = kernels.F16ToF32(gH[idx(which, n, d)])
					}
				}
				attnBwdRef(at(0), at(1), at(2), do, c.N, c.D, put(0), put(1), put(2))
			})
			for s, name := range []string{"dq", "dk", "dv"} {
				rel, bad := errStats(got[s], want[s])
				t.Logf("%d heads: %s rel err %.3g", len(heads), name, rel)
				if bad > 0 || !(rel < 1e-2) {
					t.Errorf("%s: rel err %.3g (limit 1e-2), non-finite %d", name, rel, bad)
				}
			}
		})
	}
}

// attnSmallOnly limits the attention tests to their small cases (set by
// TestAttentionFull).
var attnSmallOnly bool

// TestAttentionFull runs the small attention cases with SetAttentionSkip
// (false): every tile computed in full, as the first kernels did.
func TestAttentionFull(t *testing.T) {
	old := dev.SetAttentionSkip(false)
	attnSmallOnly = true
	defer func() {
		dev.SetAttentionSkip(old)
		attnSmallOnly = false
	}()
	t.Run("forward", TestAttentionForward)
	t.Run("backward", TestAttentionBackward)
}

// TestAttentionKernels runs every non-default AttentionKernel (the
// head-resident kernels) forward and backward against the float64
// reference: N ∈ {1, 17, 64, 197, 300} at D = 32 and 64 with B = 2, H = 3,
// a head too long for shared memory (N = 1000, D = 64: the tiled fallback),
// and the ViT-S/DeiT-S shapes with sampled heads (not with -short). Outputs
// are poisoned with NaN before each run.
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
		if k == AttnTiled {
			continue
		}
		t.Run(k.String(), func(t *testing.T) {
			old := dev.SetAttentionKernel(k)
			defer dev.SetAttentionKernel(old)
			if got := dev.AttentionKernel(); got != k {
				t.Fatalf("AttentionKernel() = %v after SetAttentionKernel(%v)", got, k)
			}
			t.Run("forward", func(t *testing.T) { testAttentionForward(t, fwd) })
			t.Run("backward", func(t *testing.T) { testAttentionBackward(t, bwd) })
		})
	}
}
