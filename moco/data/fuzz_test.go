package data

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/image/bmp"
)

// The seed corpora live in testdata/fuzz/Fuzz*; TestWriteFuzzSeeds
// regenerates them (MOCOGO_WRITE_FUZZ_SEEDS=1 go test -run WriteFuzzSeeds).

func FuzzIDX(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseIDX("fuzz.idx", b)
		if err != nil {
			return
		}
		n := 1
		for _, d := range a.Dims {
			n *= d
		}
		if n != len(a.Data) {
			t.Fatalf("dims %v but %d bytes", a.Dims, len(a.Data))
		}
		if len(a.Dims) == 3 {
			lb := idxBytes([]int{a.Dims[0]}, make([]byte, a.Dims[0]))
			d, err := NewIDXBytes("i", b, "l", lb, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Item(d.Len() - 1); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzCIFAR(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, kind byte) {
		format := CIFAR10Format
		if kind%2 == 1 {
			format = CIFAR100Format(kind%4 == 1)
		}
		c, err := ParseCIFAR(format, "fuzz.bin", b)
		if err != nil {
			return
		}
		for i := 0; i < c.Len(); i++ {
			s, err := c.Item(i)
			if err != nil {
				t.Fatal(err)
			}
			if s.Label >= len(c.Classes()) || !s.Image.Valid() {
				t.Fatalf("item %d: label %d, image valid %v", i, s.Label, s.Image.Valid())
			}
		}
	})
}

func FuzzTar(f *testing.F) {
	old := MaxPixels
	MaxPixels = 1 << 20
	defer func() { MaxPixels = old }()
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := NewTarBytes("fuzz.tar", b, TarOptions{})
		if err != nil {
			return
		}
		for i := 0; i < d.Len() && i < 16; i++ {
			s, err := d.Item(i)
			labelOK := s.Label >= 0 && s.Label < len(d.Classes()) || len(d.Classes()) == 0 && s.Label == Unlabelled
			if err == nil && (!s.Image.Valid() || !labelOK) {
				t.Fatalf("item %d invalid", i)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	old := MaxPixels
	MaxPixels = 1 << 20
	defer func() { MaxPixels = old }()
	tf := NewMoCoV3(8)
	ev := NewEval(8)
	dst := [][]float32{make([]float32, 192), make([]float32, 192)}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeImage("fuzz.img", b)
		if err != nil {
			return
		}
		if !img.Valid() {
			t.Fatalf("invalid image %dx%dx%d", img.W, img.H, img.C)
		}
		var rng RNG
		var s Scratch
		if err := tf.Apply(dst, &img, &rng, &s); err != nil {
			t.Fatal(err)
		}
		if err := ev.Apply(dst[:1], &img, &rng, &s); err != nil {
			t.Fatal(err)
		}
	})
}

func writeSeed(t *testing.T, fuzz string, args ...any) {
	body := "go test fuzz v1\n"
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			body += "[]byte(" + strconv.Quote(string(v)) + ")\n"
		case byte:
			body += fmt.Sprintf("byte(%s)\n", strconv.QuoteRune(rune(v)))
		}
	}
	h := sha256.Sum256([]byte(body))
	p := filepath.Join("testdata", "fuzz", fuzz, fmt.Sprintf("seed-%x", h[:8]))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MOCOGO_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set MOCOGO_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	px := make([]byte, 2*3*4)
	for i := range px {
		px[i] = byte(i * 9)
	}
	img := idxBytes([]int{2, 3, 4}, px)
	writeSeed(t, "FuzzIDX", img)
	writeSeed(t, "FuzzIDX", gzipBytes(img))
	writeSeed(t, "FuzzIDX", idxBytes([]int{3}, []byte{1, 2, 3}))
	writeSeed(t, "FuzzIDX", img[:10])

	rec := cifarBytes(1, 1, func(int) []byte { return []byte{3} })
	writeSeed(t, "FuzzCIFAR", rec, byte(0))
	writeSeed(t, "FuzzCIFAR", cifarBytes(1, 2, func(int) []byte { return []byte{3, 77} }), byte(1))
	writeSeed(t, "FuzzCIFAR", rec[:100], byte(0))

	small := []tarFile{
		{"r/a/1.png", encodePNG(t, testRGBA(3, 2, 1))},
		{"r/b/2.jpg", encodeJPEG(t, testRGBA(4, 4, 2))},
	}
	writeSeed(t, "FuzzTar", makeTar(t, small, false))
	writeSeed(t, "FuzzTar", makeTar(t, small, true))
	wds := []tarFile{
		{"k1.png", encodePNG(t, testRGBA(3, 2, 1))},
		{"k1.cls", []byte("2")},
		{"d/k2.cls", []byte("0")},
		{"d/k2.jpg", encodeJPEG(t, testRGBA(4, 4, 2))},
	}
	writeSeed(t, "FuzzTar", makeTar(t, wds, false))
	writeSeed(t, "FuzzTar", makeTar(t, wds, true))

	writeSeed(t, "FuzzDecode", encodePNG(t, testRGBA(5, 3, 1)))
	writeSeed(t, "FuzzDecode", encodePNG(t, image.NewGray(image.Rect(0, 0, 2, 7))))
	writeSeed(t, "FuzzDecode", encodeJPEG(t, testRGBA(9, 4, 2)))
	writeSeed(t, "FuzzDecode", encodeJPEG(t, image.NewGray(image.Rect(0, 0, 1, 1))))
	for _, name := range []string{"pattern_lossless.webp", "gradient_alpha_lossy.webp",
		"edges_422.jpg", "edges_440.jpg", "gradient_420_progressive.jpg", "tiny_420_5x3.jpg"} {
		b, err := os.ReadFile(filepath.Join("testdata", "formats", name))
		if err != nil {
			t.Fatal(err)
		}
		writeSeed(t, "FuzzDecode", b)
	}
	var bm bytes.Buffer
	if err := bmp.Encode(&bm, testRGBA(3, 2, 1)); err != nil {
		t.Fatal(err)
	}
	writeSeed(t, "FuzzDecode", bm.Bytes())
}
