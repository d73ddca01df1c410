package data

import (
	"image"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// The JPEG colour conversion's AVX2 kernels (jpegconv_amd64.s) against
// the Go loops of jpeg.go, byte for byte.

// mulhrs is VPMULHRSW on one pair of words.
func mulhrs(a, b int16) int32 { return (int32(a)*int32(b) + 1<<14) >> 15 }

// TestJPEGAVX2Arithmetic: the kernels' 16-bit arithmetic (jpegAVX2Consts)
// gives jpegTabs' terms for every Cb and Cr, and the sums of Y and the
// terms stay where clamp8 is the plain clamp that VPACKUSWB does.
func TestJPEGAVX2Arithmetic(t *testing.T) {
	k := &jpegAVX2K
	t0 := &jpegTabs
	lo, hi := int32(0), int32(0)
	for i := range 256 {
		c := int32(i) - 128
		r := c + mulhrs(int16(c), k.rMul[0])
		require.Equal(t, t0.rCr[i], r, "rCr[%d]", i)
		b := 2*c + mulhrs(int16(c), k.bMul[0])
		require.Equal(t, t0.bCb[i], b, "bCb[%d]", i)
		lo, hi = min(lo, r, b), max(hi, r, b)
		for j := range 256 {
			cr := int32(j) - 128
			// VPMADDWD of (b, r) with gMul's pair, + half, >> 16, − r.
			g := (c*int32(k.gMul[0])+cr*int32(k.gMul[1])+k.half[0])>>16 - cr
			require.Equal(t, (t0.gCb[i]+t0.gCr[j])>>16, g, "G of Cb %d, Cr %d", i, j)
			lo, hi = min(lo, g), max(hi, g)
		}
	}
	require.Equal(t, [2]int32{-227, 225}, [2]int32{lo, hi}, "the terms' range")
	// Y + term + 256 lies in [29, 736]: clamp8 is the plain clamp there.
	for i := 0 + lo + 256; i <= 255+hi+256; i++ {
		require.Equal(t, uint8(min(max(i-256, 0), 255)), clamp8[i&1023], "clamp8[%d]", i)
	}
	for i := range 16 {
		require.Equal(t, [5]int16{13173, -7471, [2]int16{-22554, 18734}[i%2], 128}, [5]int16{k.rMul[i], k.bMul[i], k.gMul[i], k.c128[i]}, i)
	}
	for i := range 32 {
		require.Equal(t, [4]int8{[2]int8{9, 3}[i%2], [2]int8{3, 1}[i%2], [2]int8{3, 9}[i%2], [2]int8{1, 3}[i%2]},
			[4]int8{k.w93[i], k.w31[i], k.w39[i], k.w13[i]}, i)
		require.Zero(t, k.zero[i])
	}
	// The shuffles interleave 16 pixels' R, G and B bytes in each lane.
	for lane := range 2 {
		for j := range 3 {
			for i := range 16 {
				var got []int
				for c := range 3 {
					if s := k.shuf[j][c][16*lane+i]; s != 0x80 {
						got = append(got, 3*int(s)+c) // the byte RGB order puts there
					}
				}
				require.Equal(t, []int{16*j + i}, got, "lane %d, byte %d", lane, 16*j+i)
			}
		}
	}
}

// TestJPEGAVX2ConstsLayout pins the offsets jpegconv_amd64.s reads
// jpegAVX2K at.
func TestJPEGAVX2ConstsLayout(t *testing.T) {
	var k jpegAVX2Consts
	require.Equal(t,
		[]uintptr{0, 288, 320, 352, 384, 416, 448, 480, 512, 544, 576, 608},
		[]uintptr{unsafe.Offsetof(k.shuf), unsafe.Offsetof(k.rMul), unsafe.Offsetof(k.bMul),
			unsafe.Offsetof(k.gMul), unsafe.Offsetof(k.half), unsafe.Offsetof(k.c128),
			unsafe.Offsetof(k.w93), unsafe.Offsetof(k.w31), unsafe.Offsetof(k.w39), unsafe.Offsetof(k.w13),
			unsafe.Offsetof(k.zero), unsafe.Sizeof(k)})
}

// poisonBytes fills p with a pattern that seed changes at every byte.
func poisonBytes(p []uint8, seed uint8) {
	for i := range p {
		p[i] = uint8(i*7) ^ seed
	}
}

// slack is how many bytes past a row the tests watch for writes.
const slack = 200

// checkRowKernel runs row (one of the row functions on dst) with the Go
// loops and with the AVX2 kernels, into buffers of 3·w + slack bytes
// poisoned differently: the 3·w bytes must agree (a byte the kernel
// leaves unwritten keeps the poison and fails), and the slack keep its
// poison.
func checkRowKernel(t *testing.T, w int, row func(dst []uint8), msgAndArgs ...any) {
	t.Helper()
	want := make([]uint8, 3*w+slack)
	poisonBytes(want, 0x5a)
	withGoLoops(func() { row(want[:3*w]) })
	for _, seed := range []uint8{0xa5, 0x3c} {
		got := make([]uint8, 3*w+slack)
		poisonBytes(got, seed)
		row(got[:3*w])
		if string(want[:3*w]) != string(got[:3*w]) {
			for i := range 3 * w {
				if want[i] != got[i] {
					require.Failf(t, "rows differ", "byte %d of %d (pixel %d): Go %d, AVX2 %d; %v",
						i, 3*w, i/3, want[i], got[i], msgAndArgs)
				}
			}
		}
		tail := make([]uint8, 3*w+slack)
		poisonBytes(tail, seed)
		require.Equal(t, tail[3*w:], got[3*w:], "written past the row: %v", msgAndArgs)
	}
}

// rowWidths are row lengths: every one up to 70, and those around the
// kernels' steps (16 columns, 32 pixels) and their multiples.
var rowWidths = func() []int {
	var l []int
	for w := 1; w <= 70; w++ {
		l = append(l, w)
	}
	for m := 3; m <= 9; m++ {
		for d := -2; d <= 2; d++ {
			l = append(l, 16*m+d)
		}
	}
	return append(l, 224, 256+17, 500, 640)
}()

func newRandBytes(r *rand.Rand, n int) []uint8 {
	p := make([]uint8, n)
	randBytes(r, p)
	return p
}

func TestJPEGRowAVX2MatchesGo(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(31, 32))
	for _, w := range rowWidths {
		ys, cb, cr := newRandBytes(r, w), newRandBytes(r, w), newRandBytes(r, w)
		checkRowKernel(t, w, func(dst []uint8) { jpegRowToRGB(dst, ys, cb, cr) }, "width", w)
	}
}

// TestJPEGRowAVX2AllTriples: the 4:4:4 kernel is the Go loop on all 2²⁴
// (Y, Cb, Cr): row v has Cb = i%256, Cr = i/256 and Y = (v + i)%256 at
// pixel i.
func TestJPEGRowAVX2AllTriples(t *testing.T) {
	requireAVX2(t)
	const n = 1 << 16
	ys, cb, cr := make([]uint8, n), make([]uint8, n), make([]uint8, n)
	for i := range n {
		cb[i], cr[i] = uint8(i), uint8(i>>8)
	}
	want, got := make([]uint8, 3*n), make([]uint8, 3*n)
	for v := range 256 {
		for i := range ys {
			ys[i] = uint8(v + i)
		}
		withGoLoops(func() { jpegRowToRGB(want, ys, cb, cr) })
		poisonBytes(got, uint8(v))
		jpegRowToRGB(got, ys, cb, cr)
		if string(want) != string(got) {
			for i := range want {
				require.Equal(t, want[i], got[i], "Y %d, Cb %d, Cr %d, channel %d", ys[i/3], cb[i/3], cr[i/3], i%3)
			}
		}
	}
}

// TestFancyRowAVX2MatchesGo: fancyRowToRGB with the kernel is its Go
// loop for rows starting on even and odd pixels, both filters' biases,
// 4:2:2's far row (the near one) and 4:2:0's.
func TestFancyRowAVX2MatchesGo(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(33, 34))
	for _, w := range rowWidths {
		for off := range 2 {
			n := (off + w + 1) / 2 // the columns covering the row
			if n < 2 {
				continue
			}
			ys := newRandBytes(r, w)
			cbNear, cbFar, crNear, crFar := newRandBytes(r, n), newRandBytes(r, n), newRandBytes(r, n), newRandBytes(r, n)
			for _, b := range [][2]int32{{8, 7}, {4, 8}} {
				cbf, crf := cbFar, crFar
				if b[0] == 4 {
					cbf, crf = cbNear, crNear
				}
				checkRowKernel(t, w, func(dst []uint8) {
					fancyRowToRGB(dst, ys, cbNear, cbf, crNear, crf, off, b[0], b[1])
				}, "width", w, "off", off, "biases", b)
			}
		}
	}
	// Extreme samples: all 0 and all 255 next to each other.
	for _, w := range []int{64, 99} {
		n := (w + 1) / 2
		ys, cbN, cbF, crN, crF := newRandBytes(r, w), make([]uint8, n), make([]uint8, n), make([]uint8, n), make([]uint8, n)
		for i := range n {
			cbN[i], cbF[i], crN[i], crF[i] = 255*uint8(i&1), 255*uint8(i>>1&1), 255*uint8(1-i&1), 255*uint8(i>>2&1)
		}
		checkRowKernel(t, w, func(dst []uint8) { fancyRowToRGB(dst, ys, cbN, cbF, crN, crF, 0, 8, 7) }, "extremes", w)
	}
}

// TestFromJPEGYCbCrAVX2MatchesGo: whole images of every chroma layout
// and many sizes, and their sub-images (odd and even corners), convert
// to the same bytes with the AVX2 kernels as with the Go loops.
func TestFromJPEGYCbCrAVX2MatchesGo(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(35, 36))
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	check := func(m *image.YCbCr) {
		t.Helper()
		var want Image
		withGoLoops(func() { want = fromJPEGYCbCr(m) })
		require.Equal(t, want, fromJPEGYCbCr(m), "%v %v", m.SubsampleRatio, m.Rect)
	}
	for _, ratio := range ratios {
		var sizes [][2]int
		for _, w := range rowWidths {
			sizes = append(sizes, [2]int{w, 1 + w%5})
		}
		for s := 1; s <= 70; s += 3 {
			sizes = append(sizes, [2]int{s, s})
		}
		sizes = append(sizes, [2]int{70, 70}, [2]int{500, 375})
		for _, sz := range sizes {
			m := image.NewYCbCr(image.Rect(0, 0, sz[0], sz[1]), ratio)
			for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
				copy(p, newRandBytes(r, len(p)))
			}
			check(m)
			if sz[0] >= 100 && sz[0]%7 < 2 || sz[0] == 500 {
				// Also the pixel-by-pixel rules, apart from the Go loops.
				require.Equal(t, plainJPEGRGB(m), fromJPEGYCbCr(m), "%v %v", ratio, m.Rect)
			}
		}
		m := image.NewYCbCr(image.Rect(0, 0, 101, 9), ratio)
		for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
			copy(p, newRandBytes(r, len(p)))
		}
		for it := 0; it < 150; it++ {
			x0 := r.IntN(60)
			if it%2 == 1 {
				x0 |= 1 // the row starts on a column's odd pixel
			}
			y0 := r.IntN(9)
			sub := m.SubImage(image.Rect(x0, y0, x0+1+r.IntN(101-x0), y0+1+r.IntN(9-y0))).(*image.YCbCr)
			check(sub)
		}
	}
}

// FuzzJPEGYCbCrAVX2: with the AVX2 kernels fromJPEGYCbCr gives the Go
// loops' bytes on any chroma layout and sub-image of images up to
// 300×4 (wide enough for several of the kernels' steps and their
// overlapping last ones).
func FuzzJPEGYCbCrAVX2(f *testing.F) {
	f.Add(uint8(2), uint16(500), uint8(3), uint16(1), uint8(0), uint16(499), uint8(3), uint64(1))
	f.Add(uint8(1), uint16(99), uint8(2), uint16(3), uint8(1), uint16(70), uint8(1), uint64(2))
	f.Add(uint8(0), uint16(64), uint8(1), uint16(0), uint8(0), uint16(64), uint8(1), uint64(3))
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	f.Fuzz(func(t *testing.T, ratio uint8, w uint16, h uint8, x0 uint16, y0 uint8, x1 uint16, y1 uint8, seed uint64) {
		requireAVX2(t)
		W, H := 1+int(w)%300, 1+int(h)%4
		m := image.NewYCbCr(image.Rect(0, 0, W, H), ratios[int(ratio)%len(ratios)])
		rng := rand.New(rand.NewPCG(seed, 6))
		for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
			copy(p, newRandBytes(rng, len(p)))
		}
		X0, Y0 := int(x0)%W, int(y0)%H
		X1, Y1 := X0+1+int(x1)%(W-X0), Y0+1+int(y1)%(H-Y0)
		sub := m.SubImage(image.Rect(X0, Y0, X1, Y1)).(*image.YCbCr)
		var want Image
		withGoLoops(func() { want = fromJPEGYCbCr(sub) })
		require.Equal(t, want, fromJPEGYCbCr(sub), "%v %v", m.SubsampleRatio, sub.Rect)
	})
}

// BenchmarkJPEGRowsToRGB is the row conversion alone (no allocation) of
// a 500×375 image, 4:2:0 (fancyRowToRGB on 4:2:0's rows) and 4:4:4
// (jpegRowToRGB), with the AVX2 kernels and with the Go loops.
func BenchmarkJPEGRowsToRGB(b *testing.B) {
	const w, h = 500, 375
	r := rand.New(rand.NewPCG(39, 40))
	ys, cbN, cbF, crN, crF := newRandBytes(r, w*h), newRandBytes(r, w/2), newRandBytes(r, w/2), newRandBytes(r, w/2), newRandBytes(r, w/2)
	cb, cr := newRandBytes(r, w), newRandBytes(r, w)
	dst := make([]uint8, 3*w*h)
	for _, kind := range []string{"420", "444"} {
		rows := func() {
			for y := range h {
				row, yr := dst[3*w*y:3*w*(y+1)], ys[w*y:w*(y+1)]
				if kind == "420" {
					fancyRowToRGB(row, yr, cbN, cbF, crN, crF, 0, 8, 7)
				} else {
					jpegRowToRGB(row, yr, cb, cr)
				}
			}
		}
		benchPaths(b, kind, rows, func(b *testing.B) {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(w*h), "ns/pixel")
		})
	}
}
