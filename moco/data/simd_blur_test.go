package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The blur kernels of blur_amd64.s against the Go loops, bit for bit
// (helpers in simd_resize_test.go).

// blurWeights are ww, fw of radius r (as boxParams gives them for some
// σ, or arbitrary ones: the kernels take any).
func blurWeights(r *rand.Rand, radius int) (float32, float32) {
	if r.IntN(2) == 0 {
		rho := float64(radius) + r.Float64()
		ww := float32(1 / (2*rho + 1))
		return ww, (1 - float32(float32(2*radius+1)*ww)) / 2
	}
	return r.Float32(), r.Float32()
}

// TestHBoxRowAVX2 is one horizontal box pass, radius 0…5, the padded
// input ending at an inaccessible page.
func TestHBoxRowAVX2(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(21, 22))
	for _, W := range simdLengths {
		for radius := 0; radius <= 5; radius++ {
			in := guardedFloats(t, W+2*radius+2)
			randFloats(r, in)
			ww, fw := blurWeights(r, radius)
			want, got := poisoned(W+1), poisoned(W+1)
			withGoLoops(func() { hBoxRow(want[:W], in, radius, ww, fw) })
			hBoxRow(got[:W], in, radius, ww, fw)
			requireSameBits(t, want[:W], got[:W], "W %d r %d", W, radius)
			require.True(t, math.IsNaN(float64(got[W])), "W %d: wrote past the end", W)
		}
	}
}

// TestVBoxPassAVX2 is one vertical box pass over W×H planes, radius
// 0…5 (so radii past the height, every row an edge row).
func TestVBoxPassAVX2(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(23, 24))
	heights := []int{1, 2, 3, 5, 8, 13}
	for _, W := range simdLengths {
		for _, H := range heights {
			radius := r.IntN(6)
			in := guardedFloats(t, W*H)
			randFloats(r, in)
			ww, fw := blurWeights(r, radius)
			want, got := poisoned(W*H+1), poisoned(W*H+1)
			withGoLoops(func() { vBoxPass(want[:W*H], in, W, H, radius, ww, fw) })
			vBoxPass(got[:W*H], in, W, H, radius, ww, fw)
			requireSameBits(t, want[:W*H], got[:W*H], "%dx%d r %d", W, H, radius)
			require.True(t, math.IsNaN(float64(got[W*H])), "%dx%d: wrote past the end", W, H)
		}
	}
}

// TestBlurAVX2 is blur (3 planes) and blurPlane (the one plane blurred
// after grayscale) end to end, σ in the augmentation's range and
// beyond (radii 0…9).
func TestBlurAVX2(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(25, 26))
	var s Scratch
	for it := 0; it < 300; it++ {
		W, H := simdLengths[r.IntN(len(simdLengths))], simdLengths[r.IntN(len(simdLengths))]
		if it%60 == 0 {
			W, H = 224, 224
		}
		sigma := 0.1 + 1.9*r.Float64()
		if it%4 == 0 {
			sigma = 0.1 + 10*r.Float64()
		}
		x := randCHW(r, W, H)
		want, got := cloneCHW(x), cloneCHW(x)
		if it%3 == 0 {
			withGoLoops(func() { s.blurPlane(want.plane(0), W, H, sigma) })
			s.blurPlane(got.plane(0), W, H, sigma)
		} else {
			withGoLoops(func() { s.blur(want, sigma) })
			s.blur(got, sigma)
		}
		requireSameBits(t, want.Data, got.Data, "%dx%d σ %v", W, H, sigma)
	}
}

// BenchmarkBlurKernels times the blur kernels and their Go loops on
// 224- and 32-px planes, radius 1 (σ about 1.5), one pass.
func BenchmarkBlurKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const radius = 1
	ww, fw := blurWeights(r, radius)
	for _, W := range []int{224, 32} {
		H := W
		in := make([]float32, W*H)
		randFloats(r, in)
		out := make([]float32, W*H)
		for _, k := range []struct {
			name string
			f    func()
		}{
			{"hBoxRow", func() {
				for y := 0; y+W+2*radius+2 <= len(in); y += W {
					hBoxRow(out[y:y+W], in[y:], radius, ww, fw)
				}
			}},
			{"vBoxPass", func() { vBoxPass(out, in, W, H, radius, ww, fw) }},
		} {
			benchPaths(b, fmt.Sprintf("%s%dx%d", k.name, W, H), k.f, nil)
		}
	}
}
