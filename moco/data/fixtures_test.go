package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// testRGBA is a w×h image whose pixels depend on (x, y, seed).
func testRGBA(w, h, seed int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x*37 + seed*11), uint8(y*53 + seed*7), uint8((x + y) * 19), 255})
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, m))
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}))
	return b.Bytes()
}

type tarFile struct {
	name string
	data []byte
}

func makeTar(t testing.TB, files []tarFile, gz bool) []byte {
	var b bytes.Buffer
	var zw *gzip.Writer
	var w *tar.Writer
	if gz {
		zw = gzip.NewWriter(&b)
		w = tar.NewWriter(zw)
	} else {
		w = tar.NewWriter(&b)
	}
	for _, f := range files {
		require.NoError(t, w.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}))
		_, err := w.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	if gz {
		require.NoError(t, zw.Close())
	}
	return b.Bytes()
}

func idxBytes(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// cifarBytes makes n CIFAR records; pixel (c, p) of record r is r+c*3+p.
func cifarBytes(n, labelBytes int, label func(r int) []byte) []byte {
	var b bytes.Buffer
	for r := 0; r < n; r++ {
		b.Write(label(r)[:labelBytes])
		for c := 0; c < 3; c++ {
			for p := 0; p < 1024; p++ {
				b.WriteByte(byte(r + c*3 + p))
			}
		}
	}
	return b.Bytes()
}

func writeFile(t testing.TB, p string, b []byte) {
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
}

// folderFixture writes root/<class>/<file> images and returns root.
// Classes "b_cls" (3 PNG), "a_cls" (2 JPEG + a .txt ignored, 1 in a sub-dir).
func folderFixture(t testing.TB) string {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "b_cls", "2.png"), encodePNG(t, testRGBA(6, 5, 2)))
	writeFile(t, filepath.Join(root, "b_cls", "10.png"), encodePNG(t, testRGBA(6, 5, 10)))
	writeFile(t, filepath.Join(root, "b_cls", "1.PNG"), encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 3))))
	writeFile(t, filepath.Join(root, "a_cls", "x.jpg"), encodeJPEG(t, testRGBA(8, 8, 1)))
	writeFile(t, filepath.Join(root, "a_cls", "notes.txt"), []byte("hello"))
	writeFile(t, filepath.Join(root, "a_cls", "sub", "y.jpeg"), encodeJPEG(t, testRGBA(9, 7, 3)))
	writeFile(t, filepath.Join(root, "readme.md"), []byte("top-level file, not a class"))
	return root
}
