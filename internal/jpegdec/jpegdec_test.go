package jpegdec

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/internal/testimg"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// TestMatchesLibjpeg decodes files cjpeg wrote (every chroma layout,
// restart intervals, optimised tables, qualities from 10 to 100, 16-bit
// quantisation tables, sizes from 1×1; progressive files, cjpeg's own
// progression and scan scripts that refine DC and AC coefficients in
// interleaved and single-component scans; sequential files in two
// scans) and compares the samples with
// libjpeg-turbo's own decode of each (scripts/golden/jpeg_islow.py):
// the luma plane (or the gray samples) bit for bit, and the chroma
// planes bit for bit where the file does not subsample them.
func TestMatchesLibjpeg(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "*_ref.png"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(names), 27)
	for _, refName := range names {
		base := strings.TrimSuffix(filepath.Base(refName), "_ref.png")
		t.Run(base, func(t *testing.T) {
			img, err := Decode(readFixture(t, base+".jpg"))
			require.NoError(t, err)
			refImg, err := png.Decode(bytes.NewReader(readFixture(t, base+"_ref.png")))
			require.NoError(t, err)
			b := refImg.Bounds()
			require.Equal(t, b, img.Bounds())
			switch m := img.(type) {
			case *image.Gray:
				require.True(t, strings.HasPrefix(base, "gray"), "a gray decode of a colour file")
				for y := 0; y < b.Dy(); y++ {
					for x := 0; x < b.Dx(); x++ {
						require.Equal(t, refImg.(*image.Gray).GrayAt(x, y).Y, m.GrayAt(x, y).Y, "sample %d,%d", x, y)
					}
				}
			case *image.YCbCr:
				chroma := m.SubsampleRatio == image.YCbCrSubsampleRatio444
				ref := refImg.(*image.RGBA) // Y, Cb, Cr in R, G, B
				for y := 0; y < b.Dy(); y++ {
					for x := 0; x < b.Dx(); x++ {
						want, got := ref.RGBAAt(x, y), m.YCbCrAt(x, y)
						require.Equal(t, want.R, got.Y, "Y at %d,%d", x, y)
						if chroma {
							require.Equal(t, [2]uint8{want.G, want.B}, [2]uint8{got.Cb, got.Cr}, "Cb, Cr at %d,%d", x, y)
						}
					}
				}
			default:
				t.Fatalf("decoded to %T", img)
			}
		})
	}
}

// TestRefusesWhatItDoesNotHandle: arithmetic-coded and RGB files are
// ErrUnsupported (for image/jpeg to decode), not damage: RGB
// as cjpeg -rgb writes it (an Adobe header with transform 0) and as
// component ids 'R', 'G', 'B' without a JFIF or Adobe header say it.
func TestRefusesWhatItDoesNotHandle(t *testing.T) {
	for _, name := range []string{"refuse_arithmetic.jpg", "refuse_rgb.jpg"} {
		_, err := Decode(readFixture(t, name))
		require.ErrorIs(t, err, ErrUnsupported, name)
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, testimg.Photo(16, 8, 1), nil))
	b := buf.Bytes()
	_, err := Decode(b)
	require.NoError(t, err, "image/jpeg writes ids 1, 2, 3 and no JFIF header")
	sof := bytes.Index(b, []byte{0xFF, mSOF0})
	require.Positive(t, sof)
	for i, id := range []byte("RGB") {
		b[sof+10+3*i] = id
	}
	_, err = Decode(b)
	require.ErrorIs(t, err, ErrUnsupported, "components R, G, B")
}

// maxSampleDiff is the largest difference between the samples of a and
// b, which image/jpeg decoded.
func maxSampleDiff(t *testing.T, a, b image.Image) int {
	t.Helper()
	require.Equal(t, b.Bounds(), a.Bounds())
	worst := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			var d []int
			switch m := a.(type) {
			case *image.Gray:
				d = []int{int(m.GrayAt(x, y).Y) - int(b.(*image.Gray).GrayAt(x, y).Y)}
			case *image.YCbCr:
				p, q := m.YCbCrAt(x, y), b.(*image.YCbCr).YCbCrAt(x, y)
				d = []int{int(p.Y) - int(q.Y), int(p.Cb) - int(q.Cb), int(p.Cr) - int(q.Cr)}
			}
			for _, v := range d {
				worst = max(worst, v, -v)
			}
		}
	}
	return worst
}

// TestAgainstImageJPEG: on random images of random sizes (1 pixel to
// 150 a side) and qualities, in colour and gray, this package and
// image/jpeg decode the same samples up to their inverse DCTs'
// rounding: one level.
func TestAgainstImageJPEG(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for it := range 120 {
		w, h := 1+r.IntN(150), 1+r.IntN(150)
		if it < 8 {
			w, h = 1+it%3, 1+it/3
		}
		var src image.Image = testimg.Photo(w, h, 1)
		if it%4 == 3 {
			g := image.NewGray(src.Bounds())
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					g.Set(x, y, src.At(x, y))
				}
			}
			src = g
		}
		var buf bytes.Buffer
		q := 5 + r.IntN(96)
		require.NoError(t, jpeg.Encode(&buf, src, &jpeg.Options{Quality: q}))
		got, err := Decode(buf.Bytes())
		require.NoError(t, err, "%dx%d q%d", w, h, q)
		want, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
		require.NoError(t, err)
		require.LessOrEqual(t, maxSampleDiff(t, got, want), 1, "%dx%d q%d", w, h, q)
	}
}

// TestProgressiveAgainstImageJPEG: random progressive files cjpeg wrote
// (scripts/golden/jpeg_islow.py: random sizes up to 70 a side,
// qualities, chroma layouts, cjpeg's progression or scan scripts with
// successive approximation, restart intervals, optimised tables) decode
// to image/jpeg's samples up to the inverse DCTs' rounding.
//
// image/jpeg cannot decode some of them: in a scan of one component it
// counts the MCU padding's blocks, which the scan does not code, towards
// the restart interval, so a subsampled file with restart intervals
// whose luma blocks do not fill its MCUs fails with "missing 0xff00
// sequence" (libjpeg, and the fixtures c420_q85_progressive_restart_61x45
// and c420_q90_scans2_restart_43x29 in TestMatchesLibjpeg, decode them).
// Those are only decoded here.
func TestProgressiveAgainstImageJPEG(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "rand_progressive_*.jpg"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(names), 12)
	compared := 0
	for _, name := range names {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		got, err := Decode(b)
		require.NoError(t, err, name)
		want, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			require.Contains(t, err.Error(), "missing 0xff00 sequence", name)
			require.Positive(t, bytes.Count(b, []byte{0xFF, mDRI}), "%s: image/jpeg fails without restart intervals", name)
			t.Logf("%s: image/jpeg: %v", name, err)
			continue
		}
		compared++
		require.LessOrEqual(t, maxSampleDiff(t, got, want), 1, name)
	}
	require.GreaterOrEqual(t, compared, 10)
}

// TestDamage: every truncation and a few corruptions of a valid file
// give an error or an image, never a panic; an image only when the data
// were all there.
func TestDamage(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, testimg.Photo(40, 24, 1), &jpeg.Options{Quality: 90}))
	testDamage(t, buf.Bytes())
}

// TestDamageProgressive: TestDamage for progressive files, with scans
// of every kind and restart intervals; a cut between two scans leaves a
// file without EOI, whose image is not returned either.
func TestDamageProgressive(t *testing.T) {
	for _, name := range []string{"c420_q85_progressive_restart_61x45.jpg", "c420_q90_scans2_restart_43x29.jpg",
		"gray_q95_scans_restart_37x23.jpg", "c444_q90_sequential_scans_restart_21x11.jpg"} {
		t.Run(name, func(t *testing.T) { testDamage(t, readFixture(t, name)) })
	}
}

func testDamage(t *testing.T, full []byte) {
	for n := 0; n < len(full)-2; n++ { // without EOI at least
		_, err := Decode(full[:n])
		require.Error(t, err, "cut at %d of %d", n, len(full))
		require.False(t, errors.Is(err, ErrUnsupported), "cut at %d: %v", n, err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		b := bytes.Clone(full)
		for range 1 + r.IntN(3) {
			b[r.IntN(len(b))] = byte(r.IntN(256))
		}
		img, err := Decode(b)
		if err == nil {
			require.NotNil(t, img)
		}
	}
}

// TestIDCTAVX2MatchesGo: the assembly gives idctGo's samples bit for bit
// on random blocks: sparse and dense, small and at the largest
// dequantised values 8-bit data gives (and beyond, where both clamp).
func TestIDCTAVX2MatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2: idctGo is the only inverse DCT")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for it := range 20000 {
		var blk [64]int32
		scale := []int32{4, 64, 1024, 2048, 16384}[it%5]
		for i := range blk {
			if r.IntN(4) == 0 || it%3 == 0 {
				blk[i] = r.Int32N(2*scale+1) - scale
			}
		}
		const stride = 11
		got, want := make([]byte, 7*stride+8), make([]byte, 7*stride+8)
		for i := range got {
			got[i], want[i] = 0xA5, 0xA5 // what is not a sample stays as it was
		}
		b := blk
		idctAVX2(&got[0], stride, &b, &idctK)
		require.Equal(t, blk, b, "the block is left as it was")
		idctGo(want, stride, &blk)
		require.Equal(t, want, got, "block %d: %v", it, blk)
	}
}

// withoutAVX2 runs f with the Go inverse DCT.
func withoutAVX2(f func()) {
	saved := useAVX2
	useAVX2 = false
	defer func() { useAVX2 = saved }()
	f()
}

func TestMatchesLibjpegWithoutAVX2(t *testing.T) {
	if !useAVX2 {
		t.Skip("TestMatchesLibjpeg runs the Go inverse DCT already")
	}
	withoutAVX2(func() { TestMatchesLibjpeg(t) })
}

// TestRefusesReservedMarkers: a segment whose marker libjpeg does not
// know (JPG 0xC8, DHP, EXP, JPGn 0xF0–0xFD, reserved 0x02–0xBF) or TEM
// (which has no length) is an error, as it is for libjpeg (so Pillow)
// and image/jpeg, not a segment to skip: DecodeImage then leaves the
// verdict to image/jpeg. APPn and COM segments are skipped.
func TestRefusesReservedMarkers(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, testimg.Photo(16, 8, 1), nil))
	full := buf.Bytes()
	withSegment := func(m byte) []byte {
		b := append([]byte{}, full[:2]...)
		b = append(b, 0xFF, m, 0x00, 0x04, 0x00, 0x00)
		return append(b, full[2:]...)
	}
	for _, m := range []byte{0x01, 0x02, 0x4F, 0xBF, 0xC8, 0xDE, 0xDF, 0xF0, 0xF5, 0xFD} {
		_, err := Decode(withSegment(m))
		require.Error(t, err, "marker 0x%02X", m)
		_, err = jpeg.Decode(bytes.NewReader(withSegment(m)))
		require.Error(t, err, "image/jpeg, marker 0x%02X", m)
	}
	for _, m := range []byte{0xE1, 0xE5, 0xEF, 0xFE} {
		_, err := Decode(withSegment(m))
		require.NoError(t, err, "marker 0x%02X", m)
	}
}

// TestEnd: a file cut just before its EOI is refused, as Pillow and
// image/jpeg refuse it; one with a restart marker after its last
// interval is decoded, as libjpeg decodes it.
func TestEnd(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, testimg.Photo(24, 16, 1), nil))
	full := buf.Bytes()
	require.Equal(t, []byte{0xFF, mEOI}, full[len(full)-2:])
	want, err := Decode(full)
	require.NoError(t, err)
	_, err = Decode(full[:len(full)-2])
	require.ErrorContains(t, err, "no EOI")
	withRST := append(bytes.Clone(full[:len(full)-2]), 0xFF, mRST0+3, 0xFF, mEOI)
	got, err := Decode(withRST)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// TestProgressiveBounds: a progressive frame header that claims more
// blocks than the scans' bytes can code is refused before its
// coefficients are allocated (a DC first scan takes a bit a block); the
// checks of the scan order and of a sequential frame's scans hold.
func TestProgressiveBounds(t *testing.T) {
	full := readFixture(t, "c420_q90_progressive_24x16.jpg")
	sof := bytes.Index(full, []byte{0xFF, mSOF2})
	require.Positive(t, sof)
	for _, size := range [][2]int{{16000, 16000}, {4000, 3000}, {1000, 1000}} {
		b := bytes.Clone(full)
		b[sof+5], b[sof+6] = byte(size[1]>>8), byte(size[1])
		b[sof+7], b[sof+8] = byte(size[0]>>8), byte(size[0])
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Decode(b)
		runtime.ReadMemStats(&after)
		require.Error(t, err, "%v", size)
		require.False(t, errors.Is(err, ErrUnsupported), "%v: %v", size, err)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "%v: allocated", size)
	}
	// A scan refining bits no earlier scan sent: the first scan (DC, Al=1)
	// made a refinement (Ah=2).
	b := bytes.Clone(full)
	first := bytes.Index(b, []byte{0xFF, mSOS})
	require.Positive(t, first)
	ns := int(b[first+4])
	b[first+4+1+2*ns+2] = 0x21 // Ah=2, Al=1
	_, err := Decode(b)
	require.ErrorContains(t, err, "does not follow")
	// A component in two scans of a sequential frame.
	seq := readFixture(t, "c420_q90_sequential_scans_29x21.jpg")
	second := bytes.LastIndex(seq, []byte{0xFF, mSOS})
	require.Positive(t, second)
	require.Equal(t, byte(2), seq[second+4])
	b = bytes.Clone(seq)
	b[second+5] = seq[bytes.Index(seq, []byte{0xFF, mSOS})+5] // Y instead of Cb
	_, err = Decode(b)
	require.Error(t, err)
}
