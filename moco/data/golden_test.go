package data

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

type goldenFile struct {
	H, W  int
	Input []uint8
	Color []struct {
		Op     string
		Factor float64
		Out    []float32
	}
	Resize []struct {
		Top, Left, H, W, Oh, Ow int
		Out                     []float32
		PIL                     []int `json:"pil"`
	}
	Eval []struct {
		Size int
		Out  []float32
	}
	Blur []struct {
		Sigma float64
		PIL   []int `json:"pil"`
	}
	Solarize []int
}

func loadGolden(t *testing.T) (*goldenFile, Image) {
	t.Helper()
	b, err := os.ReadFile("testdata/golden/augment_ops.json")
	require.NoError(t, err)
	var g goldenFile
	require.NoError(t, json.Unmarshal(b, &g))
	// Input is CHW uint8; build an HWC Image.
	img := Image{W: g.W, H: g.H, C: 3, Pix: make([]uint8, 3*g.W*g.H)}
	n := g.W * g.H
	for c := 0; c < 3; c++ {
		for p := 0; p < n; p++ {
			img.Pix[3*p+c] = g.Input[c*n+p]
		}
	}
	return &g, img
}

// exactCHW converts without resampling.
func exactCHW(img *Image) CHW {
	n := img.W * img.H
	t := CHW{C: 3, H: img.H, W: img.W, Data: make([]float32, 3*n)}
	for p := 0; p < n; p++ {
		for c := 0; c < 3; c++ {
			t.Data[c*n+p] = float32(img.Pix[p*img.C+c%img.C]) / 255
		}
	}
	return t
}

func maxAbsDiff(a []float32, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func TestGoldenColorOps(t *testing.T) {
	g, img := loadGolden(t)
	for _, c := range g.Color {
		x := exactCHW(&img)
		switch c.Op {
		case "brightness":
			AdjustBrightness(x, c.Factor)
		case "contrast":
			AdjustContrast(x, c.Factor)
		case "saturation":
			AdjustSaturation(x, c.Factor)
		case "hue":
			AdjustHue(x, c.Factor)
		case "grayscale":
			Grayscale(x)
		case "hflip":
			FlipH(x)
		default:
			t.Fatalf("unknown op %s", c.Op)
		}
		require.Len(t, c.Out, len(x.Data))
		d := maxAbsDiff(x.Data, c.Out)
		require.Lessf(t, d, 2e-6, "%s(%v): max |diff| %g vs torchvision", c.Op, c.Factor, d)
	}
}

func TestGoldenResize(t *testing.T) {
	g, img := loadGolden(t)
	for _, c := range g.Resize {
		var s Scratch
		dst := CHW{C: 3, H: c.Oh, W: c.Ow, Data: make([]float32, 3*c.Oh*c.Ow)}
		s.resizeInto(dst, &img, Crop{c.Top, c.Left, c.H, c.W}, c.Ow, c.Oh, 0, 0)
		d := maxAbsDiff(dst.Data, c.Out)
		require.Lessf(t, d, 2e-6, "resize %+v: max |diff| %g vs torchvision antialias", c, d)
		// PIL rounds to uint8 (and uses fixed-point weights): within one step.
		pil := make([]float32, len(c.PIL))
		for i, v := range c.PIL {
			pil[i] = float32(v) / 255
		}
		d = maxAbsDiff(dst.Data, pil)
		require.LessOrEqualf(t, d, 1.0/255+1e-6, "resize %+v: max |diff| %g vs PIL", c, d)
	}
}

func TestGoldenEval(t *testing.T) {
	g, img := loadGolden(t)
	for _, c := range g.Eval {
		tf := NewEval(c.Size)
		tf.Mean, tf.Std = [3]float32{0, 0, 0}, [3]float32{1, 1, 1}
		dst := [][]float32{make([]float32, 3*c.Size*c.Size)}
		require.NoError(t, tf.Apply(dst, &img, nil, &Scratch{}))
		d := maxAbsDiff(dst[0], c.Out)
		require.Lessf(t, d, 2e-6, "eval %d: max |diff| %g", c.Size, d)
	}
}

func TestGoldenBlurPIL(t *testing.T) {
	g, img := loadGolden(t)
	for _, c := range g.Blur {
		x := exactCHW(&img)
		GaussianBlur(x, c.Sigma)
		worst, sum := 0.0, 0.0
		for i, v := range c.PIL {
			d := math.Abs(float64(x.Data[i])*255 - float64(v))
			worst = math.Max(worst, d)
			sum += d
		}
		mean := sum / float64(len(c.PIL))
		// PIL rounds to uint8 after each of its six passes; at tiny σ a
		// pass changes pixels by less than half a step, so PIL's output
		// stays closer to the input than the exact filter does.
		require.LessOrEqualf(t, worst, 3.0, "sigma %v: worst diff %.2f/255 vs PIL", c.Sigma, worst)
		require.Lessf(t, mean, 1.25, "sigma %v: mean diff %.3f/255 vs PIL", c.Sigma, mean)
	}
}

func TestGoldenSolarize(t *testing.T) {
	g, img := loadGolden(t)
	x := exactCHW(&img)
	Solarize(x)
	for i, v := range g.Solarize {
		require.InDelta(t, float64(v)/255, float64(x.Data[i]), 1e-6, "element %d", i)
	}
}
