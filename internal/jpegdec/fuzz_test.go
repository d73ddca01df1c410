package jpegdec

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/mocogo/mocogo/internal/testimg"
)

// FuzzDecode: no input makes Decode panic or read out of bounds, and a
// file it decodes has the frame's size in the type image/jpeg gives it.
// The seeds are every testdata/*.jpg: baseline files, progressive ones
// (cjpeg's progression and scan scripts with successive approximation,
// restart intervals), sequential files in several scans, and the
// refused ones.
func FuzzDecode(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.jpg"))
	for _, name := range names {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testimg.Photo(19, 11, 1), &jpeg.Options{Quality: 80}); err == nil {
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode(b)
		if err != nil {
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return // a header image/jpeg reads differently: nothing to compare
		}
		if r := img.Bounds(); r != image.Rect(0, 0, cfg.Width, cfg.Height) {
			t.Fatalf("decoded %v, the header says %dx%d", r, cfg.Width, cfg.Height)
		}
		if want, err := jpeg.Decode(bytes.NewReader(b)); err == nil {
			if _, same := want.(*image.Gray); same != isGray(img) {
				t.Fatalf("decoded to %T, image/jpeg to %T", img, want)
			}
		}
	})
}

func isGray(m image.Image) bool { _, ok := m.(*image.Gray); return ok }
