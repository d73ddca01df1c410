package jpegdec

import (
	"bytes"
	"image/jpeg"
	"testing"

	"github.com/mocogo/mocogo/internal/testimg"
)

// BenchmarkDecode500x375 decodes a 500×375 JPEG (quality 90, 4:2:0):
// this package against image/jpeg.
func BenchmarkDecode500x375(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testimg.Photo(500, 375, 0), &jpeg.Options{Quality: 90}); err != nil {
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
