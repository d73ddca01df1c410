// Package testimg makes synthetic images for tests and benchmarks.
package testimg

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// Photo is a w×h opaque image with smooth shading, hard-edged blocks
// and mild noise, so that its JPEG has about the size and the mix of DCT
// coefficients of a photo (all noise or all flat would make decoding
// look slower or faster than it is). Seed 0 is one fixed image, the one
// the benchmarks in docs/BENCHMARKS.md decode; other seeds vary the
// shading's frequencies, the blocks' size and the noise.
func Photo(w, h int, seed uint64) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	fa, fb, fc := 6.0, 5.0, 9.0
	bw, bh := 40, 30
	r := rand.New(rand.NewPCG(1, 1))
	if seed != 0 {
		r = rand.New(rand.NewPCG(seed, 7))
		fa, fb, fc = 3+6*r.Float64(), 3+6*r.Float64(), 5+8*r.Float64()
		bw, bh = 20+r.IntN(40), 15+r.IntN(30)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			v := [3]float64{
				120 + 80*math.Sin(fa*fx+2*fy),
				100 + 60*math.Cos(fb*fy-3*fx),
				90 + 50*math.Sin(fc*fx*fy),
			}
			if (x/bw+y/bh)%3 == 0 {
				v[0], v[2] = v[2], v[0]
			}
			var px [3]uint8
			for k := range v {
				px[k] = uint8(min(max(v[k]+6*r.NormFloat64(), 0), 255))
			}
			m.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], 255})
		}
	}
	return m
}
