package data

import (
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecodeJPEGLikePillow: JPEGs decode to the pixels Pillow (libjpeg-
// turbo with its defaults) gives. Fixtures and Pillow's decodes are from
// scripts/golden/image_formats.py.
//
// A baseline or progressive JPEG gives Pillow's pixels exactly:
// internal/jpegdec's samples are libjpeg's (its inverse DCT), and
// fromJPEGYCbCr is libjpeg's chroma upsampling and colour conversion.
// (The progressive fixture went to image/jpeg until jpegdec decoded
// progressive files; image/jpeg's inverse DCT differs from libjpeg's by a
// level in about 2% of samples, which made it 0.024 off on average and
// up to 2.)
//
// Before (the covering chroma sample and color.YCbCrToRGB's arithmetic)
// the 33×21 colour edges were 13.8 (4:2:0), 9.3 (4:2:2) and 6.3 (4:4:0)
// off on average and up to 101; the 64×48 gradient 1.27 and 6; 4:4:4,
// where only the arithmetic differs, 0.21 and 2; the 4×3 image (chroma
// upsampled by repetition in libjpeg too) 0.14 and 1, the 5×3 one 12.4
// and 95.
func TestDecodeJPEGLikePillow(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "formats", name))
		require.NoError(t, err)
		return b
	}
	for _, c := range []struct {
		name    string
		w, h, c int
	}{
		{"edges_420", 33, 21, 3},
		{"edges_422", 33, 21, 3},
		{"edges_440", 33, 21, 3},
		{"edges_444", 33, 21, 3},
		{"edges_gray", 33, 21, 1},
		{"gradient_420", 64, 48, 3},
		{"gradient_420_progressive", 64, 48, 3},
		{"tiny_420_4x3", 4, 3, 3},
		{"tiny_420_5x3", 5, 3, 3},
		{"wide_420_227x37", 227, 37, 3},
		{"wide_422_203x19", 203, 19, 3},
		{"wide_444_150x9", 150, 9, 3},
	} {
		img, err := DecodeImage(c.name+".jpg", read(c.name+".jpg"))
		require.NoError(t, err)
		pil, err := DecodeImage(c.name+"_pil.png", read(c.name+"_pil.png"))
		require.NoError(t, err)
		require.Equal(t, [3]int{c.w, c.h, c.c}, [3]int{img.W, img.H, img.C}, c.name)
		require.Equal(t, [3]int{pil.W, pil.H, pil.C}, [3]int{img.W, img.H, img.C}, c.name)
		var sum, worst int
		for i := range img.Pix {
			d := max(int(img.Pix[i])-int(pil.Pix[i]), int(pil.Pix[i])-int(img.Pix[i]))
			sum, worst = sum+d, max(worst, d)
		}
		mean := float64(sum) / float64(len(img.Pix))
		t.Logf("%s: mean |Δ| %.3f against Pillow's decode, worst %d", c.name, mean, worst)
		require.Equal(t, pil.Pix, img.Pix, "%s: decodes to Pillow's pixels", c.name)
	}
}

// plainJPEGRGB is fromJPEGYCbCr written out pixel by pixel from the rules
// in its comment, for images at non-negative coordinates: the chroma
// sample covering pixel (x, y) is (x>>hs, y>>vs), the samples covering
// the image make up the plane, the neighbour past its edge is the edge
// sample; libjpeg's filter and colour conversion.
func plainJPEGRGB(m *image.YCbCr) Image {
	// Chroma is subsampled 1<<hs : 1 across and 1<<vs : 1 down.
	hs, vs := 0, 0
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	}
	r := m.Rect
	cx0, cx1 := r.Min.X>>hs, (r.Max.X-1)>>hs
	cy0, cy1 := r.Min.Y>>vs, (r.Max.Y-1)>>vs
	across := hs == 1 && cx1-cx0+1 > 2     // the filter across
	down := vs == 1 && (hs == 0 || across) // the filter down
	clampInt := func(v, lo, hi int) int { return min(max(v, lo), hi) }
	sample := func(p []uint8, cx, cy int) int { return int(p[(cy-cy0)*m.CStride+cx-cx0]) }
	// chroma is plane p's value at pixel (x, y).
	chroma := func(p []uint8, x, y int) int {
		cx, cy := x>>hs, y>>vs
		// The next nearest sample: left of an even pixel, right of an odd.
		nx := clampInt(cx+2*(x&1)-1, cx0, cx1)
		ny := clampInt(cy+2*(y&1)-1, cy0, cy1)
		switch {
		case across && down:
			colsum := func(c int) int { return 3*sample(p, c, cy) + sample(p, c, ny) }
			return (3*colsum(cx) + colsum(nx) + 8 - x&1) >> 4
		case across:
			return (3*sample(p, cx, cy) + sample(p, nx, cy) + 1 + x&1) >> 2
		case down:
			return (3*sample(p, cx, cy) + sample(p, cx, ny) + 1 + y&1) >> 2
		}
		return sample(p, cx, cy)
	}
	w, h := r.Dx(), r.Dy()
	out := Image{W: w, H: h, C: 3, Pix: make([]uint8, 0, 3*w*h)}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			yy := int(m.Y[m.YOffset(x, y)])
			cb, cr := chroma(m.Cb, x, y)-128, chroma(m.Cr, x, y)-128
			// libjpeg's jdcolor.c: coefficients in 16.16, rounded.
			rv := yy + (91881*cr+32768)>>16
			gv := yy + (-22554*cb-46802*cr+32768)>>16
			bv := yy + (116130*cb+32768)>>16
			out.Pix = append(out.Pix, uint8(clampInt(rv, 0, 255)), uint8(clampInt(gv, 0, 255)), uint8(clampInt(bv, 0, 255)))
		}
	}
	return out
}

// TestFromJPEGYCbCrPlain: the row-at-a-time conversion is the plain one
// for every chroma layout on edge sizes (1×1, 1×N, N×1, chroma planes 1,
// 2 and 3 samples wide, odd sizes) and on sub-images whose corners fall
// on odd and even pixels; at negative coordinates it takes the covering
// sample as COffset finds it.
func TestFromJPEGYCbCrPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	fill := func(m *image.YCbCr) {
		for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = uint8(rng.IntN(256))
			}
		}
	}
	sizes := [][2]int{{1, 1}, {1, 7}, {7, 1}, {2, 2}, {3, 3}, {4, 3}, {5, 3}, {6, 5}, {9, 2}, {33, 21}, {16, 16}}
	for _, ratio := range ratios {
		for _, sz := range sizes {
			m := image.NewYCbCr(image.Rect(0, 0, sz[0], sz[1]), ratio)
			fill(m)
			require.Equal(t, plainJPEGRGB(m), fromJPEGYCbCr(m), "%v %v", ratio, sz)
		}
		// Sub-images of a 23×17 image at every corner parity, down to 1×1.
		m := image.NewYCbCr(image.Rect(0, 0, 23, 17), ratio)
		fill(m)
		for it := 0; it < 200; it++ {
			x0, y0 := rng.IntN(23), rng.IntN(17)
			x1, y1 := x0+1+rng.IntN(23-x0), y0+1+rng.IntN(17-y0)
			sub := m.SubImage(image.Rect(x0, y0, x1, y1)).(*image.YCbCr)
			require.Equal(t, plainJPEGRGB(sub), fromJPEGYCbCr(sub), "%v %v", ratio, sub.Rect)
		}
		// An image whose own origin is off (0, 0).
		off := image.NewYCbCr(image.Rect(3, 5, 14, 12), ratio)
		fill(off)
		require.Equal(t, plainJPEGRGB(off), fromJPEGYCbCr(off), "%v %v", ratio, off.Rect)

		neg := image.NewYCbCr(image.Rect(-5, -3, 4, 2), ratio)
		fill(neg)
		got := fromJPEGYCbCr(neg)
		require.Equal(t, [3]int{9, 5, 3}, [3]int{got.W, got.H, got.C})
		for y := -3; y < 2; y++ {
			for x := -5; x < 4; x++ {
				one := image.NewYCbCr(image.Rect(0, 0, 1, 1), image.YCbCrSubsampleRatio444)
				ci := neg.COffset(x, y)
				one.Y[0], one.Cb[0], one.Cr[0] = neg.Y[neg.YOffset(x, y)], neg.Cb[ci], neg.Cr[ci]
				i := 3 * ((y+3)*9 + x + 5)
				require.Equal(t, plainJPEGRGB(one).Pix, got.Pix[i:i+3], "%v at (%d, %d)", ratio, x, y)
			}
		}
	}
}

// FuzzJPEGYCbCr: fromJPEGYCbCr is plainJPEGRGB on any chroma layout, size
// and sub-image (the image up to 48×48, its sub-image's corners chosen
// by x0, y0, x1, y1), and does not panic.
func FuzzJPEGYCbCr(f *testing.F) {
	f.Add(uint8(2), uint8(33), uint8(21), uint8(0), uint8(0), uint8(33), uint8(21), uint64(1))
	f.Add(uint8(2), uint8(1), uint8(1), uint8(0), uint8(0), uint8(1), uint8(1), uint64(2))
	f.Add(uint8(1), uint8(9), uint8(4), uint8(3), uint8(1), uint8(8), uint8(3), uint64(3))
	f.Add(uint8(3), uint8(5), uint8(7), uint8(1), uint8(1), uint8(5), uint8(7), uint64(4))
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	f.Fuzz(func(t *testing.T, ratio, w, h, x0, y0, x1, y1 uint8, seed uint64) {
		W, H := 1+int(w)%48, 1+int(h)%48
		m := image.NewYCbCr(image.Rect(0, 0, W, H), ratios[int(ratio)%len(ratios)])
		rng := rand.New(rand.NewPCG(seed, 5))
		for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = uint8(rng.IntN(256))
			}
		}
		X0, Y0 := int(x0)%W, int(y0)%H
		X1, Y1 := X0+1+int(x1)%(W-X0), Y0+1+int(y1)%(H-Y0)
		sub := m.SubImage(image.Rect(X0, Y0, X1, Y1)).(*image.YCbCr)
		require.Equal(t, plainJPEGRGB(sub), fromJPEGYCbCr(sub), "%v %v", m.SubsampleRatio, sub.Rect)
	})
}

// TestDecodeJPEGLikePillowWithoutAVX2: the Go conversion loops give
// Pillow's pixels too.
func TestDecodeJPEGLikePillowWithoutAVX2(t *testing.T) {
	requireAVX2(t)
	withGoLoops(func() { TestDecodeJPEGLikePillow(t) })
}
