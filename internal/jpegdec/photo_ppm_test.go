package jpegdec

import (
	"fmt"
	"os"
	"testing"

	"github.com/mocogo/mocogo/internal/testimg"
)

// TestWritePhotoPPM writes testimg.Photo(500, 375, 0) as a PPM to the
// file $JPEGDEC_PHOTO_PPM, for cjpeg to make the progressive file of
// BenchmarkDecode500x375 (testdata/bench/photo_500x375_progressive.jpg):
//
//	JPEGDEC_PHOTO_PPM=/tmp/photo.ppm go test -run TestWritePhotoPPM ./internal/jpegdec
//	cjpeg -quality 90 -progressive /tmp/photo.ppm >internal/jpegdec/testdata/bench/photo_500x375_progressive.jpg
//
// Without the variable it does nothing.
func TestWritePhotoPPM(t *testing.T) {
	path := os.Getenv("JPEGDEC_PHOTO_PPM")
	if path == "" {
		t.Skip("JPEGDEC_PHOTO_PPM not set")
	}
	m := testimg.Photo(500, 375, 0)
	b := m.Bounds()
	out := fmt.Appendf(nil, "P6\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := m.At(x, y).RGBA()
			out = append(out, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
