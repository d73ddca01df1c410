package data

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The resize kernels of resize_amd64.s against the Go loops, bit for
// bit, at lengths that leave tails (not multiples of 8), with inputs in
// memory that ends at an inaccessible page (a read past the end faults)
// and outputs poisoned with NaN (an element left unwritten fails).

// simdLengths are the lengths the kernel tests run at.
var simdLengths = func() []int {
	var l []int
	for n := 1; n <= 70; n++ {
		l = append(l, n)
	}
	return append(l, 224)
}()

// poisoned is n NaNs.
func poisoned(n int) []float32 {
	p := make([]float32, n)
	poison(p)
	return p
}

func poison(p []float32) {
	for i := range p {
		p[i] = float32(math.NaN())
	}
}

// f32bits are the float32s as their bit patterns (so that require.Equal
// compares them exactly, NaN and −0 included).
func f32bits(p []float32) []uint32 {
	b := make([]uint32, len(p))
	for i, v := range p {
		b[i] = math.Float32bits(v)
	}
	return b
}

// requireSameBits fails unless got and want are the same bits and
// finite (an element poisoned with NaN and left unwritten fails even
// where both paths left it).
func requireSameBits(t *testing.T, want, got []float32, msg string, args ...any) {
	t.Helper()
	require.Equalf(t, f32bits(want), f32bits(got), msg, args...)
	for i, v := range got {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("element %d is %v: "+msg, append([]any{i, v}, args...)...)
		}
	}
}

func randBytes(r *rand.Rand, p []uint8) {
	for i := range p {
		p[i] = uint8(r.IntN(256))
	}
}

func randFloats(r *rand.Rand, p []float32) {
	for i := range p {
		p[i] = r.Float32()
	}
}

// TestLut255AVX2 checks every byte value: VDIVPS by 255 gives the
// correctly rounded quotient that lut255 holds (float32(v)/255).
func TestLut255AVX2(t *testing.T) {
	requireAVX2(t)
	src := guardedBytes(t, 3*256)
	gray := guardedBytes(t, 256)
	for v := range 256 {
		gray[v] = uint8(v)
		src[3*v], src[3*v+1], src[3*v+2] = uint8(v), uint8(255-v), uint8(v*7)
	}
	f := poisoned(256)
	grayRowAVX2(&f[0], &gray[0], 256)
	f0, f1, f2 := poisoned(256), poisoned(256), poisoned(256)
	rgbRowAVX2(&f0[0], &f1[0], &f2[0], &src[0], 256)
	for v := range 256 {
		want := float32(v) / 255
		require.Equal(t, math.Float32bits(want), math.Float32bits(lut255[v]))
		require.Equalf(t, math.Float32bits(want), math.Float32bits(f[v]), "gray %d", v)
		require.Equalf(t, math.Float32bits(want), math.Float32bits(f0[v]), "R %d", v)
		require.Equalf(t, math.Float32bits(lut255[255-v]), math.Float32bits(f1[v]), "G %d", v)
		require.Equalf(t, math.Float32bits(lut255[uint8(v*7)]), math.Float32bits(f2[v]), "B %d", v)
	}
}

// TestRowConvertAVX2 is grayRow and rgbRow, each pixel's bytes at the
// very end of readable memory.
func TestRowConvertAVX2(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range simdLengths {
		src := guardedBytes(t, 3*n)
		randBytes(r, src)
		gsrc := src[2*n:]
		// Outputs one longer than n: the last element must stay NaN.
		var want, got [4][]float32
		for i := range want {
			want[i], got[i] = poisoned(n+1), poisoned(n+1)
		}
		withGoLoops(func() {
			rgbRow(want[0][:n], want[1][:n], want[2][:n], src)
			grayRow(want[3][:n], gsrc)
		})
		rgbRow(got[0][:n], got[1][:n], got[2][:n], src)
		grayRow(got[3][:n], gsrc)
		for i := range got {
			requireSameBits(t, want[i][:n], got[i][:n], "n %d plane %d", n, i)
			require.True(t, math.IsNaN(float64(got[i][n])), "n %d plane %d: wrote past the end", n, i)
		}
	}
}

// resampleInput is a crop row as resizeInto holds it: w values in
// [0, 1] and k zeros, ending at an inaccessible page.
func resampleInput(t *testing.T, r *rand.Rand, w, k int) []float32 {
	in := guardedFloats(t, w+k)
	randFloats(r, in[:w])
	clear(in[w:])
	return in
}

// TestHResampleAVX2 is the horizontal pass for random sizes, scales
// (up and down, so tap counts 1…30 and the generic Go loop) and output
// windows.
func TestHResampleAVX2(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(13, 14))
	var rc resampleCoeffs
	for _, count := range simdLengths {
		for range 4 {
			outSize := count + r.IntN(20)
			inSize := 1 + r.IntN(4*outSize)
			if r.IntN(4) == 0 {
				inSize = 1 + r.IntN(15*outSize)
			}
			o0 := r.IntN(outSize - count + 1)
			rc.compute(inSize, outSize, o0, count)
			taps := rc.maxN()
			// k zeros past the row (the gathering kernel where an
			// 8-value window would reach past in), or 8 (windows).
			for _, pad := range []int{rc.k, max(rc.k, 8)} {
				in := resampleInput(t, r, inSize, pad)
				want, got := poisoned(count), poisoned(count)
				withGoLoops(func() { hResample(want, in, &rc, taps) })
				hResample(got, in, &rc, taps)
				requireSameBits(t, want, got, "%d → %d, outputs %d+%d, taps %d, pad %d", inSize, outSize, o0, count, taps, pad)
			}
		}
	}
}

// TestVResampleAVX2 is the vertical pass for 1…9 rows of random
// weights.
func TestVResampleAVX2(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(15, 16))
	for _, W := range simdLengths {
		for n := 1; n <= 9; n++ {
			rows := guardedFloats(t, n*W)
			randFloats(r, rows)
			w := make([]float32, n)
			randFloats(r, w)
			want, got := poisoned(W+1), poisoned(W+1)
			withGoLoops(func() { vResample(want[:W], rows, w) })
			vResample(got[:W], rows, w)
			requireSameBits(t, want[:W], got[:W], "W %d, %d rows", W, n)
			require.True(t, math.IsNaN(float64(got[W])), "W %d: wrote past the end", W)
		}
	}
}

// TestResizeIntoAVX2 is resizeInto end to end on random images, crops,
// output sizes and windows, 1 and 3 channels; every other crop reaches
// the image's last row and column, with Pix exactly W·H·C bytes ending
// at an inaccessible page.
func TestResizeIntoAVX2(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(17, 18))
	var s Scratch
	for it := 0; it < 400; it++ {
		c := 1 + 2*r.IntN(2)
		w, h := 1+r.IntN(120), 1+r.IntN(120)
		if it%50 == 0 {
			w, h = 500, 375
		}
		img := randImage(r, w, h, c)
		img.Pix = append(guardedBytes(t, len(img.Pix))[:0], img.Pix...)
		cw, ch := 1+r.IntN(w), 1+r.IntN(h)
		crop := Crop{Top: r.IntN(h - ch + 1), Left: r.IntN(w - cw + 1), H: ch, W: cw}
		if it%2 == 0 {
			crop.Top, crop.Left = h-ch, w-cw // the last row and column
		}
		outW, outH := simdLengths[r.IntN(len(simdLengths))], 1+r.IntN(70)
		dw, dh := outW, outH
		if r.IntN(3) == 0 { // an output window, as the eval transform's
			dw, dh = 1+r.IntN(outW), 1+r.IntN(outH)
		}
		ox, oy := r.IntN(outW-dw+1), r.IntN(outH-dh+1)
		want := CHW{C: 3, H: dh, W: dw, Data: poisoned(3 * dw * dh)}
		got := CHW{C: 3, H: dh, W: dw, Data: poisoned(3 * dw * dh)}
		withGoLoops(func() { s.resizeInto(want, &img, crop, outW, outH, ox, oy) })
		s.resizeInto(got, &img, crop, outW, outH, ox, oy)
		requireSameBits(t, want.Data, got.Data, "%dx%dx%d crop %+v → %dx%d window %d,%d %dx%d", w, h, c, crop, outW, outH, ox, oy, dw, dh)
	}
}

// BenchmarkResizeKernels times the resize kernels and their Go loops
// on the shapes of a 224-px view of a 375-row crop: a 500-px row
// converted and resampled to 224 (about 5 taps), and 224 columns
// summed over 5 rows.
func BenchmarkResizeKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const inW, W = 500, 224
	src := make([]uint8, 3*inW)
	randBytes(r, src)
	f := make([]float32, 3*inW)
	var rc resampleCoeffs
	rc.compute(inW, W, 0, W)
	in := make([]float32, inW+rc.k)
	randFloats(r, in[:inW])
	taps := rc.maxN()
	rows := make([]float32, 5*W)
	randFloats(r, rows)
	w := []float32{0.1, 0.2, 0.4, 0.2, 0.1}
	out := make([]float32, W)
	for _, k := range []struct {
		name string
		f    func()
	}{
		{"rgbRow500", func() { rgbRow(f[:inW], f[inW:2*inW], f[2*inW:], src) }},
		{"hResample500to224", func() { hResample(out, in, &rc, taps) }},
		{"vResample224x5", func() { vResample(out, rows, w) }},
	} {
		benchPaths(b, k.name, k.f, nil)
	}
}
