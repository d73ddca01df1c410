package jpegdec

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"
)

// photoLike is a w×h image with smooth shading, hard-edged blocks and
// mild noise: a JPEG of it has about a photo's size and mix of DCT
// coefficients.
func photoLike(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 1))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			v := [3]float64{120 + 80*math.Sin(6*fx+2*fy), 100 + 60*math.Cos(5*fy-3*fx), 90 + 50*math.Sin(9*fx*fy)}
			if (x/40+y/30)%3 == 0 {
				v[0], v[2] = v[2], v[0]
			}
			var c [3]uint8
			for k := range v {
				c[k] = uint8(min(max(v[k]+6*r.NormFloat64(), 0), 255))
			}
			m.SetRGBA(x, y, color.RGBA{c[0], c[1], c[2], 255})
		}
	}
	return m
}

// BenchmarkDecode500x375 decodes a 500×375 JPEG (quality 90, 4:2:0):
// this package against image/jpeg.
func BenchmarkDecode500x375(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, photoLike(500, 375), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("jpegdec", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for range b.N {
			if _, err := Decode(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for range b.N {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	})
}
