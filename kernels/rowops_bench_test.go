package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

var benchRowShapes = [][2]int{{8320, 192}, {50432, 384}}

// benchImpls runs fn as the dispatched fast path, the AVX2 path where the
// fast one has AVX-512 loops, the generic Go path and the plain reference.
func benchImpls(b *testing.B, bytesPerElem int, fast, ref func(rows, cols int) func()) {
	for _, sh := range benchRowShapes {
		rows, cols := sh[0], sh[1]
		for _, impl := range []string{"fast", "avx2", "generic", "ref"} {
			if impl == "fast" && !useAVX2 || impl == "avx2" && !(useAVX2 && useAVX512) {
				continue
			}
			b.Run(fmt.Sprintf("%dx%d/%s", rows, cols, impl), func(b *testing.B) {
				saved, saved512 := useAVX2, useAVX512
				defer func() { useAVX2, useAVX512 = saved, saved512 }()
				useAVX2 = useAVX2 && (impl == "fast" || impl == "avx2")
				useAVX512 = useAVX512 && impl == "fast"
				var run func()
				if impl == "ref" {
					run = ref(rows, cols)
				} else {
					run = fast(rows, cols)
				}
				b.SetBytes(int64(rows * cols * bytesPerElem))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					run()
				}
			})
		}
	}
}

func benchData(n int, k int) [][]float32 {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	out := make([][]float32, k)
	for i := range out {
		out[i] = randSlice(r, n, 1)
	}
	return out
}

func BenchmarkLayerNormForward(b *testing.B) {
	setup := func(useRef bool) func(rows, cols int) func() {
		return func(rows, cols int) func() {
			d := benchData(rows*cols, 2)
			g := benchData(cols, 2)
			mean, rstd := make([]float32, rows), make([]float32, rows)
			if useRef {
				return func() { layerNormForwardRef(d[1], d[0], g[0], g[1], mean, rstd, rows, cols, 1e-6) }
			}
			return func() { LayerNormForward(d[1], d[0], g[0], g[1], mean, rstd, rows, cols, 1e-6) }
		}
	}
	benchImpls(b, 8, setup(false), setup(true))
}

func BenchmarkLayerNormBackward(b *testing.B) {
	setup := func(useRef bool) func(rows, cols int) func() {
		return func(rows, cols int) func() {
			d := benchData(rows*cols, 3)
			g := benchData(cols, 3)
			mean, rstd := make([]float32, rows), make([]float32, rows)
			layerNormForwardRef(d[2], d[0], g[0], nil, mean, rstd, rows, cols, 1e-6)
			if useRef {
				return func() { layerNormBackwardRef(d[2], d[1], d[0], g[0], mean, rstd, g[1], g[2], rows, cols) }
			}
			return func() { LayerNormBackward(d[2], d[1], d[0], g[0], mean, rstd, g[1], g[2], rows, cols) }
		}
	}
	benchImpls(b, 12, setup(false), setup(true))
}

func BenchmarkSoftmaxForward(b *testing.B) {
	setup := func(useRef bool) func(rows, cols int) func() {
		return func(rows, cols int) func() {
			d := benchData(rows*cols, 2)
			if useRef {
				return func() { softmaxForwardRef(d[1], d[0], rows, cols) }
			}
			return func() { SoftmaxForward(d[1], d[0], rows, cols) }
		}
	}
	benchImpls(b, 8, setup(false), setup(true))
}

func BenchmarkSoftmaxBackward(b *testing.B) {
	setup := func(useRef bool) func(rows, cols int) func() {
		return func(rows, cols int) func() {
			d := benchData(rows*cols, 3)
			if useRef {
				return func() { softmaxBackwardRef(d[2], d[0], d[1], rows, cols) }
			}
			return func() { SoftmaxBackward(d[2], d[0], d[1], rows, cols) }
		}
	}
	benchImpls(b, 12, setup(false), setup(true))
}

func BenchmarkGeluForward(b *testing.B) {
	setup := func(useRef bool) func(rows, cols int) func() {
		return func(rows, cols int) func() {
			d := benchData(rows*cols, 2)
			if useRef {
				return func() { geluForwardRef(d[1], d[0]) }
			}
			return func() { GeluForward(d[1], d[0]) }
		}
	}
	benchImpls(b, 8, setup(false), setup(true))
}

func BenchmarkGeluBackward(b *testing.B) {
	setup := func(useRef bool) func(rows, cols int) func() {
		return func(rows, cols int) func() {
			d := benchData(rows*cols, 3)
			if useRef {
				return func() { geluBackwardRef(d[2], d[0], d[1]) }
			}
			return func() { GeluBackward(d[2], d[0], d[1]) }
		}
	}
	benchImpls(b, 12, setup(false), setup(true))
}
