package jpegdec

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/mocogo/mocogo/internal/testimg"
)

// BenchmarkDecode500x375 decodes a 500×375 JPEG (quality 90, 4:2:0):
// this package against image/jpeg, a baseline file image/jpeg wrote,
// then a progressive one cjpeg wrote of the same image (cjpeg's default
// progression, 10 scans; see TestWritePhotoPPM).
func BenchmarkDecode500x375(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testimg.Photo(500, 375, 0), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	benchDecode(b, buf.Bytes())
	prog, err := os.ReadFile(filepath.Join("testdata", "bench", "photo_500x375_progressive.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("progressive", func(b *testing.B) { benchDecode(b, prog) })
}

func benchDecode(b *testing.B, data []byte) {
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
