package data

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// The colour ops' AVX2 kernels against their Go loops, bit for bit.

// TestHueTablesLayout pins the offsets color_amd64.s reads hueTables at.
func TestHueTablesLayout(t *testing.T) {
	var h hueTables
	for _, c := range []struct {
		name string
		off  uintptr
		want uintptr
	}{
		{"sign", unsafe.Offsetof(h.sign), 0}, {"base", unsafe.Offsetof(h.base), 32},
		{"w", unsafe.Offsetof(h.w), 64}, {"bit1", unsafe.Offsetof(h.bit1), 256},
		{"bit2", unsafe.Offsetof(h.bit2), 288}, {"bit4", unsafe.Offsetof(h.bit4), 320},
		{"five", unsafe.Offsetof(h.five), 352}, {"six", unsafe.Offsetof(h.six), 384},
	} {
		require.Equal(t, c.want, c.off, c.name)
	}
}

// colorLengths are plane lengths: every tail of an 8-value kernel, and
// a 224-px row.
var colorLengths = func() []int {
	l := []int{224, 224 * 3, 256 + 5}
	for n := 1; n <= 41; n++ {
		l = append(l, n)
	}
	return l
}()

func TestColorKernelsMatchGo(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(21, 22))
	type op struct {
		name string
		run  func(x CHW)
	}
	for it := 0; it < 4; it++ {
		for _, n := range colorLengths {
			x := randCHW(r, n, 1)
			f := float32(2 * r.Float64())
			if it == 0 {
				f = []float32{0, 1, 2}[n%3] // factors at the ends of the ranges
			}
			mean := r.Float32()
			hf := float32(r.Float64() - 0.5)
			if it == 1 {
				hf = []float32{-0.5, 0.5, 0, 1e-7, -1.0 / 6, 1.0 / 3}[n%6]
			}
			for _, o := range []op{
				{"brightness", func(x CHW) { brightness(x.plane(0), x.plane(1), x.plane(2), f) }},
				{"contrast", func(x CHW) { contrast(x.plane(0), x.plane(1), x.plane(2), f, mean) }},
				{"saturation", func(x CHW) { saturation(x.plane(0), x.plane(1), x.plane(2), f) }},
				{"grayscale", func(x CHW) { grayscale(x.plane(0), x.plane(1), x.plane(2)) }},
				{"hue", func(x CHW) { hue(x.plane(0), x.plane(1), x.plane(2), hf) }},
				{"solarize", func(x CHW) { solarize(x.Data) }},
			} {
				a, b := cloneCHW(x), cloneCHW(x)
				o.run(a)
				withGoLoops(func() { o.run(b) })
				requireSameBits(t, b.Data, a.Data, "%s n %d f %v hue %v", o.name, n, f, hf)
			}
		}
	}
}

// TestHueKernelSectors runs every sector and tie: all 8-bit colours on
// a coarse grid, every hue shift in sixths and between them.
func TestHueKernelSectors(t *testing.T) {
	requireAVX2(t)
	var x CHW
	for rv := 0; rv < 256; rv += 17 {
		for gv := 0; gv < 256; gv += 17 {
			for bv := 0; bv < 256; bv += 17 {
				x.Data = append(x.Data, float32(rv)/255, float32(gv)/255, float32(bv)/255)
			}
		}
	}
	n := len(x.Data) / 3
	// Planes from the interleaved list.
	y := CHW{C: 3, H: 1, W: n, Data: make([]float32, 3*n)}
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			y.Data[c*n+i] = x.Data[3*i+c]
		}
	}
	for k := -6; k <= 6; k++ {
		for _, d := range []float32{0, 1e-3, 0.37, -0.021} {
			hf := min(max(float32(k)/12+d, -0.5), 0.5)
			a, b := cloneCHW(y), cloneCHW(y)
			hue(a.plane(0), a.plane(1), a.plane(2), hf)
			withGoLoops(func() { hue(b.plane(0), b.plane(1), b.plane(2), hf) })
			requireSameBits(t, b.Data, a.Data, "hue %v", hf)
		}
	}
}

func TestNormalizeKernelsMatchGo(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(23, 24))
	for _, W := range []int{1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 224} {
		for _, H := range []int{1, 2, 5} {
			src := make([]float32, W*H)
			for i := range src {
				src[i] = r.Float32()
			}
			for _, flip := range []bool{false, true} {
				got, want := make([]float32, W*H), make([]float32, W*H)
				for i := range got {
					got[i] = float32(math.NaN()) // an unwritten element fails
				}
				m, sd := ImageNetMean[W%3], ImageNetStd[H%3]
				normalizeRows(got, src, W, m, sd, flip)
				withGoLoops(func() { normalizeRows(want, src, W, m, sd, flip) })
				requireSameBits(t, want, got, "normalize %dx%d flip %v", W, H, flip)
			}
		}
	}
}
