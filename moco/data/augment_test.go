package data

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRandomResizedCropParamsBounds(t *testing.T) {
	scale, ratio := [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}
	var rng RNG
	fallbacks := 0
	for _, sz := range [][2]int{{32, 32}, {224, 160}, {500, 375}, {28, 28}, {40, 13}} {
		W, H := sz[0], sz[1]
		for i := 0; i < 2000; i++ {
			rng.SampleRNG(7, 0, uint64(i))
			c := RandomResizedCropParams(&rng, W, H, scale, ratio)
			require.True(t, c.Top >= 0 && c.Left >= 0 && c.H > 0 && c.W > 0 && c.Top+c.H <= H && c.Left+c.W <= W, "crop %+v outside %dx%d", c, W, H)
			if c.W == W && c.H == H {
				fallbacks++ // the whole image is also a legal sample
				continue
			}
			// Rounding w and h to integers moves area and ratio a little.
			area := float64(c.W*c.H) / float64(W*H)
			fw, fh := float64(c.W), float64(c.H)
			require.GreaterOrEqual(t, area*(1+1/fw)*(1+1/fh), 0.08, "crop %+v of %dx%d", c, W, H)
			r := fw / fh
			require.GreaterOrEqual(t, r*(1+1/fw)*(1+1/fh), 3.0/4, "ratio %v", r)
			require.LessOrEqual(t, r/((1+1/fw)*(1+1/fh)), 4.0/3, "ratio %v", r)
		}
	}
	require.Less(t, fallbacks, 500)
	// A 1000×1 image never fits a sampled crop: the fallback clamps the ratio.
	rng.SampleRNG(1, 2, 3)
	require.Equal(t, Crop{Top: 0, Left: 499, H: 1, W: 1}, RandomResizedCropParams(&rng, 1000, 1, scale, ratio))
	rng.SampleRNG(1, 2, 3)
	require.Equal(t, Crop{Top: 46, Left: 0, H: 8, W: 6}, RandomResizedCropParams(&rng, 6, 100, scale, ratio))
}

func TestPyRound(t *testing.T) {
	require.Equal(t, 2, pyRound(2.5))
	require.Equal(t, 4, pyRound(3.5))
	require.Equal(t, 3, pyRound(2.6))
}

func TestSolarizeFlipGrayscaleCrafted(t *testing.T) {
	// 3×2 image, channel 0 holds 0,127,128,200,255,1 (/255).
	vals := []uint8{0, 127, 128, 200, 255, 1}
	img := Image{W: 3, H: 2, C: 3, Pix: make([]uint8, 18)}
	for p, v := range vals {
		img.Pix[3*p], img.Pix[3*p+1], img.Pix[3*p+2] = v, 255-v, 10
	}
	x := exactCHW(&img)
	Solarize(x)
	want := []uint8{0, 127, 127, 55, 0, 1}
	for p, v := range want {
		require.InDelta(t, float64(v)/255, x.Data[p], 1e-6, "pixel %d", p)
	}
	x = exactCHW(&img)
	FlipH(x)
	require.Equal(t, float32(128)/255, x.Data[0])
	require.Equal(t, float32(0)/255, x.Data[2])
	require.Equal(t, float32(1)/255, x.Data[3])
	x = exactCHW(&img)
	Grayscale(x)
	for p := 0; p < 6; p++ {
		r, g, b := float32(vals[p])/255, float32(255-vals[p])/255, float32(10)/255
		l := 0.2989*r + 0.587*g + 0.114*b
		for c := 0; c < 3; c++ {
			require.InDelta(t, l, x.Data[c*6+p], 1e-6)
		}
	}
}

func TestResizeIdentityAndGray(t *testing.T) {
	m := FromImage(testRGBA(9, 6, 5))
	x := ResizedCrop(&m, Crop{0, 0, 6, 9}, 0) // degenerate size 0 → empty
	require.Empty(t, x.Data)
	var s Scratch
	d := CHW{C: 3, H: 6, W: 9, Data: make([]float32, 3*54)}
	s.resizeInto(d, &m, Crop{0, 0, 6, 9}, 9, 6, 0, 0)
	require.Equal(t, exactCHW(&m).Data, d.Data, "same-size resize is the identity")
	// A gray image is replicated to three equal channels.
	g := Image{W: 4, H: 4, C: 1, Pix: []uint8{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150}}
	y := ResizedCrop(&g, Crop{1, 1, 3, 3}, 5)
	require.Equal(t, y.plane(0), y.plane(1))
	require.Equal(t, y.plane(0), y.plane(2))
	// Constant images stay constant under resize and blur.
	c := Image{W: 7, H: 5, C: 3, Pix: make([]uint8, 105)}
	for i := range c.Pix {
		c.Pix[i] = 77
	}
	z := ResizedCrop(&c, Crop{0, 1, 5, 5}, 11)
	GaussianBlur(z, 1.7)
	for _, v := range z.Data {
		require.InDelta(t, 77.0/255, v, 1e-5)
	}
}

func TestBlurRadius(t *testing.T) {
	// The cascade of three boxes must have variance σ²: for a box of
	// radius r + a the variance is (2r+1)(r(r+1)/3... checked numerically
	// by blurring a unit impulse.
	for _, sigma := range []float64{0.3, 0.8, 1.5, 2.0, 4.0} {
		n := 61
		x := CHW{C: 1, H: 1, W: n, Data: make([]float32, n)}
		x.Data[n/2] = 1
		GaussianBlur(x, sigma)
		var sum, m2 float64
		for i, v := range x.Data {
			d := float64(i - n/2)
			sum += float64(v)
			m2 += d * d * float64(v)
		}
		require.InDelta(t, 1, sum, 1e-5)
		require.InDelta(t, sigma*sigma, m2, 1e-3*sigma*sigma+1e-4, "sigma %v", sigma)
	}
}

func normBounds() (lo, hi [3]float32) {
	for c := 0; c < 3; c++ {
		lo[c] = (0 - ImageNetMean[c]) / ImageNetStd[c]
		hi[c] = (1 - ImageNetMean[c]) / ImageNetStd[c]
	}
	return
}

func TestTwoViewsShapeRangeDeterminism(t *testing.T) {
	src := FromImage(testRGBA(40, 30, 9))
	tf := NewMoCoV3(16)
	run := func(seed, epoch, idx uint64) [][]float32 {
		dst := [][]float32{make([]float32, 3*16*16), make([]float32, 3*16*16)}
		var rng RNG
		rng.SampleRNG(seed, epoch, idx)
		require.NoError(t, tf.Apply(dst, &src, &rng, &Scratch{}))
		return dst
	}
	a := run(1, 0, 5)
	lo, hi := normBounds()
	for v := 0; v < 2; v++ {
		for c := 0; c < 3; c++ {
			for _, x := range a[v][c*256 : (c+1)*256] {
				require.True(t, x >= lo[c]-1e-5 && x <= hi[c]+1e-5, "value %v outside [%v,%v]", x, lo[c], hi[c])
				require.False(t, math.IsNaN(float64(x)))
			}
		}
	}
	require.Equal(t, a, run(1, 0, 5), "same seed, same views")
	require.NotEqual(t, a[0], a[1], "the two views differ")
	require.NotEqual(t, a, run(2, 0, 5))
	require.NotEqual(t, a, run(1, 1, 5))
	require.NotEqual(t, a, run(1, 0, 6))

	// Wrong destinations are errors, not panics.
	require.Error(t, tf.Apply([][]float32{make([]float32, 3)}, &src, &RNG{}, &Scratch{}))
	require.Error(t, tf.Apply([][]float32{make([]float32, 768), make([]float32, 768)}, &Image{W: 2, H: 2, C: 3}, &RNG{}, &Scratch{}))
}

func TestTwoViewsProbabilities(t *testing.T) {
	src := FromImage(testRGBA(12, 12, 1))
	tf := NewMoCoV3(8)
	var cnt [2]struct{ jit, gray, blur, sol, flip int }
	sigmaMin, sigmaMax := 10.0, 0.0
	tf.Trace = func(v int, tr ViewTrace) {
		c := &cnt[v]
		if tr.Jitter {
			c.jit++
			require.True(t, tr.B >= 0.6 && tr.B <= 1.4 && tr.C >= 0.6 && tr.C <= 1.4 && tr.S >= 0.8 && tr.S <= 1.2 && math.Abs(tr.H) <= 0.1)
			seen := [4]bool{}
			for _, o := range tr.Order {
				seen[o] = true
			}
			require.Equal(t, [4]bool{true, true, true, true}, seen)
		}
		if tr.Gray {
			c.gray++
		}
		if tr.Blur {
			c.blur++
			sigmaMin, sigmaMax = math.Min(sigmaMin, tr.Sigma), math.Max(sigmaMax, tr.Sigma)
		}
		if tr.Solarize {
			c.sol++
		}
		if tr.Flip {
			c.flip++
		}
	}
	const n = 4000
	dst := [][]float32{make([]float32, 192), make([]float32, 192)}
	var rng RNG
	var s Scratch
	for i := 0; i < n; i++ {
		rng.SampleRNG(3, 0, uint64(i))
		require.NoError(t, tf.Apply(dst, &src, &rng, &s))
	}
	near := func(got int, p float64) {
		t.Helper()
		sd := math.Sqrt(n * p * (1 - p))
		require.InDelta(t, n*p, float64(got), 5*sd+0.5, "p=%v", p)
	}
	near(cnt[0].jit, 0.8)
	near(cnt[1].jit, 0.8)
	near(cnt[0].gray, 0.2)
	near(cnt[1].gray, 0.2)
	near(cnt[0].blur, 1.0)
	near(cnt[1].blur, 0.1)
	near(cnt[0].sol, 0)
	near(cnt[1].sol, 0.2)
	near(cnt[0].flip, 0.5)
	near(cnt[1].flip, 0.5)
	require.True(t, sigmaMin >= 0.1 && sigmaMax <= 2.0 && sigmaMin < 0.2 && sigmaMax > 1.9)
}

func TestAugmentViewDeterministicPieces(t *testing.T) {
	// Full-image crop (scale 1, ratio = W/H) with nothing else but a
	// forced flip equals the flipped, normalised input.
	src := FromImage(testRGBA(10, 10, 2))
	p := ViewParams{Scale: [2]float64{1, 1}, Ratio: [2]float64{1, 1}, FlipP: 1}
	dst := make([]float32, 300)
	var rng RNG
	tr := AugmentView(dst, &src, 10, &p, ImageNetMean, ImageNetStd, &rng, &Scratch{})
	require.Equal(t, Crop{0, 0, 10, 10}, tr.Crop)
	require.True(t, tr.Flip)
	want := exactCHW(&src)
	FlipH(want)
	for c := 0; c < 3; c++ {
		for i := 0; i < 100; i++ {
			require.InDelta(t, (want.Data[c*100+i]-ImageNetMean[c])/ImageNetStd[c], dst[c*100+i], 1e-6)
		}
	}
	// Forced grayscale: un-normalised channels are equal.
	p = ViewParams{Scale: [2]float64{0.3, 1}, Ratio: [2]float64{0.75, 4.0 / 3}, JitterP: 1, Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1, GrayP: 1}
	AugmentView(dst, &src, 10, &p, [3]float32{}, [3]float32{1, 1, 1}, &rng, &Scratch{})
	require.Equal(t, dst[:100], dst[100:200])
	require.Equal(t, dst[:100], dst[200:])
}

func TestGrayInputGivesThreeChannels(t *testing.T) {
	g := Image{W: 28, H: 28, C: 1, Pix: make([]uint8, 784)}
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 7)
	}
	tf := NewMoCoV3(14)
	tf.Mean, tf.Std = [3]float32{}, [3]float32{1, 1, 1}
	dst := [][]float32{make([]float32, 3*196), make([]float32, 3*196)}
	for i := 0; i < 20; i++ {
		var rng RNG
		rng.SampleRNG(0, 0, uint64(i))
		require.NoError(t, tf.Apply(dst, &g, &rng, &Scratch{}))
		for v := 0; v < 2; v++ {
			for k := 0; k < 196; k++ {
				require.InDelta(t, dst[v][k], dst[v][196+k], 1e-6)
				require.InDelta(t, dst[v][k], dst[v][392+k], 1e-6)
			}
		}
	}
}

func TestEvalAndLinearTransforms(t *testing.T) {
	src := FromImage(testRGBA(50, 40, 3))
	e := NewEval(32)
	dst := [][]float32{make([]float32, 3*32*32)}
	require.NoError(t, e.Apply(dst, &src, nil, &Scratch{}))
	w, h := ResizeShorter(50, 40, 36)
	require.Equal(t, [2]int{45, 36}, [2]int{w, h})
	// Same as resizing the whole image, then cropping the center.
	full := CHW{C: 3, H: 36, W: 45, Data: make([]float32, 3*36*45)}
	var s Scratch
	s.resizeInto(full, &src, Crop{0, 0, 40, 50}, 45, 36, 0, 0)
	top, left := 2, pyRound(13.0/2) // (36-32)/2, (45-32)/2 = 6.5 → 6
	for c := 0; c < 3; c++ {
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				v := (full.Data[c*36*45+(y+top)*45+x+left] - ImageNetMean[c]) / ImageNetStd[c]
				require.InDelta(t, v, dst[0][c*1024+y*32+x], 1e-5)
			}
		}
	}
	// Too-small resize is an error.
	e.Resize = 20
	require.Error(t, e.Apply(dst, &src, nil, &Scratch{}))

	l := NewLinearTrain(32)
	var r1, r2 RNG
	r1.SampleRNG(5, 1, 2)
	r2.SampleRNG(5, 1, 2)
	a, b := [][]float32{make([]float32, 3072)}, [][]float32{make([]float32, 3072)}
	require.NoError(t, l.Apply(a, &src, &r1, &Scratch{}))
	require.NoError(t, l.Apply(b, &src, &r2, &Scratch{}))
	require.Equal(t, a, b)
}
