package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var benchAttnShapes = []attnShape{{128, 65, 3, 64}, {32, 197, 12, 32}}

func benchAttention(b *testing.B, backward bool) {
	for _, s := range benchAttnShapes {
		for _, impl := range []string{"fast", "avx2", "generic"} {
			if impl == "fast" && !useAVX2 || impl == "avx2" && !(useAVX2 && useAVX512) {
				continue
			}
			b.Run(fmt.Sprintf("B%d_N%d_H%d_D%d/%s", s.b, s.n, s.h, s.d, impl), func(b *testing.B) {
				saved, saved512 := useAVX2, useAVX512
				defer func() { useAVX2, useAVX512 = saved, saved512 }()
				useAVX2 = useAVX2 && (impl == "fast" || impl == "avx2")
				useAVX512 = useAVX512 && impl == "fast"
				r := rand.New(rand.NewPCG(1, 2))
				nq, no, nl := 3*s.b*s.n*s.h*s.d, s.b*s.n*s.h*s.d, s.b*s.h*s.n
				qkv, dout := randSlice(r, nq, 1), randSlice(r, no, 1)
				out, lse, dqkv := make([]float32, no), make([]float32, nl), make([]float32, nq)
				scale := float32(1 / math.Sqrt(float64(s.d)))
				AttentionForward(out, lse, qkv, s.b, s.n, s.h, s.d, scale)
				// Matmul flops: forward Q·Kᵀ and P·V; backward recomputes
				// Q·Kᵀ and adds dO·Vᵀ, dS·K, dSᵀ·Q, Pᵀ·dO.
				flops := 4.0 * float64(s.b*s.h*s.n*s.n*s.d)
				if backward {
					flops *= 2.5
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if backward {
						AttentionBackward(dqkv, dout, qkv, out, lse, s.b, s.n, s.h, s.d, scale)
					} else {
						AttentionForward(out, lse, qkv, s.b, s.n, s.h, s.d, scale)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkAttentionForward(b *testing.B)  { benchAttention(b, false) }
func BenchmarkAttentionBackward(b *testing.B) { benchAttention(b, true) }
