package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

type attnShape struct{ b, n, h, d int }

var attnShapes = []attnShape{
	{1, 1, 1, 1}, {2, 5, 3, 7}, {1, 17, 2, 16}, {1, 13, 1, 33}, {2, 65, 3, 64}, {1, 197, 2, 32}, {3, 15, 2, 8},
}

func TestAttentionFast(t *testing.T) {
	paths(t, func(t *testing.T) {
		defer SetThreads(int(maxThreads.Load()))
		for si, s := range attnShapes {
			SetThreads(1 + si%3)
			r := rand.New(rand.NewPCG(uint64(s.n), uint64(s.d)))
			std := 1.0
			if si%2 == 1 {
				std = 2.5 // peakier softmax
			}
			scale := float32(1 / math.Sqrt(float64(s.d)))
			nq, no, nl := 3*s.b*s.n*s.h*s.d, s.b*s.n*s.h*s.d, s.b*s.h*s.n
			qkv := randSlice(r, nq, std)
			dout := randSlice(r, no, 1)
			what := fmt.Sprintf("attention B=%d N=%d H=%d D=%d", s.b, s.n, s.h, s.d)

			wo, wl := make([]float32, no), make([]float32, nl)
			attentionForwardRef(wo, wl, qkv, s.b, s.n, s.h, s.d, scale)
			out, lse := nanSlice(no), nanSlice(nl)
			AttentionForward(out, lse, qkv, s.b, s.n, s.h, s.d, scale)
			requireClose(t, wo, out, 2e-6, 1e-5, what+" out")
			requireClose(t, wl, lse, 2e-6, 1e-6, what+" lse")

			wd := make([]float32, nq)
			attentionBackwardRef(wd, dout, qkv, s.b, s.n, s.h, s.d, scale)
			dqkv := nanSlice(nq)
			AttentionBackward(dqkv, dout, qkv, out, lse, s.b, s.n, s.h, s.d, scale)
			requireClose(t, wd, dqkv, 1e-5, 1e-4, what+" dqkv")

			// Same scratch again (pool reuse) gives the same answer.
			d2 := nanSlice(nq)
			AttentionBackward(d2, dout, qkv, out, lse, s.b, s.n, s.h, s.d, scale)
			require.Equal(t, dqkv, d2, what+" rerun")
		}
	})
}

// The float64 backward against central differences of the float64
// forward, and the float32 fast backward against both.
func TestAttentionFiniteDifferences(t *testing.T) {
	for _, s := range []attnShape{{1, 3, 2, 2}, {2, 4, 1, 3}} {
		r := rand.New(rand.NewPCG(3, uint64(s.n)))
		scale := 0.7
		nq, no := 3*s.b*s.n*s.h*s.d, s.b*s.n*s.h*s.d
		qkv := make([]float64, nq)
		for i := range qkv {
			qkv[i] = r.NormFloat64()
		}
		g := make([]float64, no)
		for i := range g {
			g[i] = r.NormFloat64()
		}
		loss := func(q []float64) float64 {
			out := make([]float64, no)
			attnForward64(out, make([]float64, s.b*s.h*s.n), q, s.b, s.n, s.h, s.d, scale)
			var l float64
			for i, v := range out {
				l += v * g[i]
			}
			return l
		}
		analytic := make([]float64, nq)
		attnBackward64(analytic, g, qkv, s.b, s.n, s.h, s.d, scale)
		numeric := make([]float64, nq)
		const eps = 1e-5
		for i := range qkv {
			save := qkv[i]
			qkv[i] = save + eps
			lp := loss(qkv)
			qkv[i] = save - eps
			lm := loss(qkv)
			qkv[i] = save
			numeric[i] = (lp - lm) / (2 * eps)
			require.InDelta(t, numeric[i], analytic[i], 1e-8, "float64 backward [%d]", i)
		}

		q32, g32 := make([]float32, nq), make([]float32, no)
		for i, v := range qkv {
			q32[i] = float32(v)
		}
		for i, v := range g {
			g32[i] = float32(v)
		}
		paths(t, func(t *testing.T) {
			out, lse := nanSlice(no), nanSlice(s.b*s.h*s.n)
			AttentionForward(out, lse, q32, s.b, s.n, s.h, s.d, float32(scale))
			d := nanSlice(nq)
			AttentionBackward(d, g32, q32, out, lse, s.b, s.n, s.h, s.d, float32(scale))
			for i := range d {
				require.InDelta(t, numeric[i], float64(d[i]), 2e-5*(1+math.Abs(numeric[i])), "fast backward [%d]", i)
			}
		})
	}
}

// TestAttnMatmulAVX512SameBits checks that the 6×32 AVX-512 tiles give
// each element of C the bits of the AVX2 6×16 tiles, for A and Aᵀ, with a
// last 16-wide tile left to AVX2 and with k = 0.
func TestAttnMatmulAVX512SameBits(t *testing.T) {
	if !haveAVX2Asm || !useAVX2 || !useAVX512 {
		t.Skip("this CPU has no AVX-512 (AVX512F and AVX512DQ)")
	}
	defer func() { useAVX512 = true }()
	r := rand.New(rand.NewPCG(3, 9))
	for _, sh := range [][3]int{{50, 50, 32}, {197, 197, 64}, {13, 40, 7}, {6, 16, 1}, {7, 33, 0}, {1, 80, 64}} {
		m, n, k := sh[0], sh[1], sh[2]
		mr, nr := roundUp(m, 6), roundUp(n, 16)
		for _, trans := range []bool{false, true} {
			a := randSlice(r, mr*max(k, 1), 1)
			rsa, csa := max(k, 1), 1
			if trans {
				rsa, csa = 1, mr
			}
			b := randSlice(r, max(k, 1)*nr, 1)
			run := func(wide bool) []float32 {
				useAVX512 = wide
				c := nanSlice(mr * nr)
				attnMatmul(m, n, k, 0.37, a, rsa, csa, b, nr, c, nr)
				return c
			}
			want, got := run(false), run(true)
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
					t.Fatalf("%dx%dx%d trans=%v: element %d: AVX2 %g, AVX-512 %g", m, n, k, trans, i, want[i], got[i])
				}
			}
		}
	}
}
