package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/bmp"
)

func TestDecodeImage(t *testing.T) {
	m := testRGBA(7, 5, 4)
	img, err := DecodeImage("a.png", encodePNG(t, m))
	require.NoError(t, err)
	require.Equal(t, 7, img.W)
	require.Equal(t, 5, img.H)
	require.Equal(t, 3, img.C)
	c := m.NRGBAAt(3, 2)
	i := 3 * (2*7 + 3)
	require.Equal(t, []uint8{c.R, c.G, c.B}, img.Pix[i:i+3])

	_, err = DecodeImage("bad.jpg", []byte("not an image"))
	require.ErrorContains(t, err, "bad.jpg")
	b := encodeJPEG(t, m)
	_, err = DecodeImage("trunc.jpg", b[:len(b)/2])
	require.ErrorContains(t, err, "trunc.jpg")

	old := MaxPixels
	MaxPixels = 20
	_, err = DecodeImage("big.png", encodePNG(t, m))
	MaxPixels = old
	require.ErrorIs(t, err, ErrTooLarge)
	require.ErrorContains(t, err, "big.png")
}

func TestImageFolder(t *testing.T) {
	root := folderFixture(t)
	f, err := NewImageFolder(root)
	require.NoError(t, err)
	require.Equal(t, []string{"a_cls", "b_cls"}, f.Classes())
	require.Equal(t, 5, f.Len())
	var names []string
	for i := 0; i < f.Len(); i++ {
		rel, _ := filepath.Rel(root, f.Name(i))
		names = append(names, rel)
	}
	require.Equal(t, []string{"a_cls/x.jpg", "a_cls/sub/y.jpeg", "b_cls/1.PNG", "b_cls/10.png", "b_cls/2.png"}, names)
	s, err := f.Item(1)
	require.NoError(t, err)
	require.Equal(t, 0, s.Label)
	require.Equal(t, [3]int{9, 7, 3}, [3]int{s.Image.W, s.Image.H, s.Image.C})
	s, err = f.Item(2)
	require.NoError(t, err)
	require.Equal(t, 1, s.Label)
	require.Equal(t, 1, s.Image.C, "gray PNG stays 1-channel")

	// A corrupt file is reported by name.
	writeFile(t, filepath.Join(root, "b_cls", "3.png"), []byte("\x89PNG\r\n\x1a\ngarbage"))
	f, err = NewImageFolder(root)
	require.NoError(t, err)
	_, err = f.Item(5)
	require.ErrorContains(t, err, "3.png")
	_, err = f.Item(99)
	require.Error(t, err)

	_, err = NewImageFolder(filepath.Join(root, "missing"))
	require.Error(t, err)
	_, err = NewImageFolder(t.TempDir())
	require.ErrorContains(t, err, "no class")

	// A folder of images with no class folders: unlabelled.
	flat := t.TempDir()
	writeFile(t, filepath.Join(flat, "b.png"), encodePNG(t, testRGBA(3, 3, 1)))
	writeFile(t, filepath.Join(flat, "a.jpg"), encodeJPEG(t, testRGBA(4, 3, 2)))
	writeFile(t, filepath.Join(flat, "notes.txt"), nil)
	f, err = NewImageFolder(flat)
	require.NoError(t, err)
	require.Empty(t, f.Classes())
	require.Equal(t, 2, f.Len())
	require.Equal(t, filepath.Join(flat, "a.jpg"), f.Name(0))
	s, err = f.Item(1)
	require.NoError(t, err)
	require.Equal(t, Unlabelled, s.Label)
	_, _, err = SplitHoldout(f, 1)
	require.ErrorContains(t, err, "unlabelled")
	// Hidden folders and a zip tool's __MACOSX are no classes.
	require.NoError(t, os.Mkdir(filepath.Join(flat, ".ipynb_checkpoints"), 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(flat, "__MACOSX"), 0o755))
	writeFile(t, filepath.Join(flat, "__MACOSX", "._a.jpg"), []byte("apple double"))
	f, err = NewImageFolder(flat)
	require.NoError(t, err)
	require.Empty(t, f.Classes())
	require.Equal(t, 2, f.Len())
}

func tarFixture(t testing.TB) []tarFile {
	return []tarFile{
		{"./data/train/dog/2.jpg", encodeJPEG(t, testRGBA(8, 6, 2))},
		{"./data/train/cat/1.png", encodePNG(t, testRGBA(5, 5, 1))},
		{"./data/train/dog/1.jpg", encodeJPEG(t, testRGBA(6, 8, 3))},
		{"./data/train/cat/._1.png", []byte("apple double")},
		{"./data/train/cat/notes.txt", []byte("x")},
		{"./data/train/bird/a/0.png", encodePNG(t, testRGBA(4, 4, 0))},
	}
}

func checkTarFixture(t *testing.T, f *Tar) {
	require.Equal(t, "data/train", f.Root())
	require.Equal(t, []string{"bird", "cat", "dog"}, f.Classes())
	require.Equal(t, 4, f.Len())
	want := []struct {
		name    string
		label   int
		w, h, c int
	}{
		{"data/train/bird/a/0.png", 0, 4, 4, 3},
		{"data/train/cat/1.png", 1, 5, 5, 3},
		{"data/train/dog/1.jpg", 2, 6, 8, 3},
		{"data/train/dog/2.jpg", 2, 8, 6, 3},
	}
	for i, w := range want {
		s, err := f.Item(i)
		require.NoError(t, err)
		require.Contains(t, s.Name, w.name)
		require.Equal(t, w.label, s.Label)
		require.Equal(t, [3]int{w.w, w.h, w.c}, [3]int{s.Image.W, s.Image.H, s.Image.C})
	}
}

func TestTarImageFolder(t *testing.T) {
	files := tarFixture(t)
	dir := t.TempDir()
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprint("gz=", gz), func(t *testing.T) {
			b := makeTar(t, files, gz)
			// From memory.
			f, err := NewTarBytes("mem.tar", b, TarOptions{})
			require.NoError(t, err)
			checkTarFixture(t, f)
			// From disk.
			p := filepath.Join(dir, fmt.Sprint("x", gz, ".tar"))
			writeFile(t, p, b)
			f, err = NewTar([]string{p}, TarOptions{})
			require.NoError(t, err)
			checkTarFixture(t, f)
			require.NoError(t, f.Close())
			// Explicit root.
			// A root with no class folders holds unlabelled images.
			f, err = NewTarBytes("mem.tar", b, TarOptions{Root: "data/train/dog"})
			require.NoError(t, err)
			require.Empty(t, f.Classes())
			require.Equal(t, 2, f.Len())
			require.Equal(t, "mem.tar:data/train/dog/1.jpg", f.Name(0))
			require.Equal(t, Unlabelled, f.Label(1))
			_, err = NewTarBytes("mem.tar", b, TarOptions{Root: "data/none"})
			require.ErrorContains(t, err, `no image entries in class directories under "data/none", nor in it`)
			// Truncated archives fail with the name.
			_, err = NewTarBytes("cut.tar", b[:len(b)*2/3], TarOptions{})
			require.ErrorContains(t, err, "cut.tar")
		})
	}
	// A corrupt entry fails at Item time with the entry's name.
	bad := append(tarFixture(t), tarFile{"data/train/cat/2.jpg", []byte("\xff\xd8\xffnot really")})
	f, err := NewTarBytes("bad.tar", makeTar(t, bad, true), TarOptions{})
	require.NoError(t, err)
	_, err = f.Item(2)
	require.ErrorContains(t, err, "bad.tar:data/train/cat/2.jpg")
	_, err = NewTarBytes("junk.tar", []byte("definitely not a tar archive, but long enough? no"), TarOptions{})
	require.Error(t, err)
}

func TestCIFAR(t *testing.T) {
	dir := t.TempDir()
	b1 := cifarBytes(3, 1, func(r int) []byte { return []byte{byte(r)} })
	b2 := cifarBytes(2, 1, func(r int) []byte { return []byte{9} })
	p1, p2 := filepath.Join(dir, "data_batch_1.bin"), filepath.Join(dir, "data_batch_2.bin")
	writeFile(t, p1, b1)
	writeFile(t, p2, b2)
	c, err := NewCIFAR10(p1, p2)
	require.NoError(t, err)
	require.Equal(t, 5, c.Len())
	require.Equal(t, CIFAR10Classes, c.Classes())
	s, err := c.Item(1)
	require.NoError(t, err)
	require.Equal(t, 1, s.Label)
	// Pixel (x=2, y=1) of record 1: p = 34, channels r+c*3+p.
	p := 1*32 + 2
	require.Equal(t, []uint8{byte(1 + p), byte(1 + 3 + p), byte(1 + 6 + p)}, s.Image.Pix[3*p:3*p+3])
	s, err = c.Item(4)
	require.NoError(t, err)
	require.Equal(t, 9, s.Label)
	require.Contains(t, s.Name, "data_batch_2.bin#1")

	// Meta names.
	writeFile(t, filepath.Join(dir, "batches.meta.txt"), []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n"))
	c, err = NewCIFAR10(p1)
	require.NoError(t, err)
	require.Equal(t, "j", c.Classes()[9])

	// CIFAR-100: coarse, fine.
	b100 := cifarBytes(4, 2, func(r int) []byte { return []byte{byte(r), byte(50 + r)} })
	p100 := filepath.Join(dir, "train.bin")
	writeFile(t, p100, b100)
	c, err = NewCIFAR100(true, p100)
	require.NoError(t, err)
	require.Len(t, c.Classes(), 100)
	require.Equal(t, 52, c.Label(2))
	c, err = NewCIFAR100(false, p100)
	require.NoError(t, err)
	require.Equal(t, 2, c.Label(2))

	// Errors.
	writeFile(t, filepath.Join(dir, "trunc.bin"), b1[:len(b1)-5])
	_, err = NewCIFAR10(filepath.Join(dir, "trunc.bin"))
	require.ErrorContains(t, err, "trunc.bin")
	require.ErrorContains(t, err, "not a multiple")
	_, err = NewCIFAR10(p100) // 3074-byte records are not CIFAR-10
	require.ErrorContains(t, err, "train.bin")
	badLabel := cifarBytes(1, 1, func(int) []byte { return []byte{10} })
	_, err = ParseCIFAR(CIFAR10Format, "lbl.bin", badLabel)
	require.ErrorContains(t, err, "label 10")
	_, err = NewCIFAR10(filepath.Join(dir, "nope.bin"))
	require.Error(t, err)
}

func TestIDX(t *testing.T) {
	n, h, w := 5, 3, 4
	px := make([]byte, n*h*w)
	for i := range px {
		px[i] = byte(i)
	}
	labels := []byte{0, 1, 2, 1, 7}
	ib, lb := idxBytes([]int{n, h, w}, px), idxBytes([]int{n}, labels)
	dir := t.TempDir()
	for _, gz := range []bool{false, true} {
		ip, lp := filepath.Join(dir, fmt.Sprint("img", gz)), filepath.Join(dir, fmt.Sprint("lbl", gz))
		if gz {
			writeFile(t, ip, gzipBytes(ib))
			writeFile(t, lp, gzipBytes(lb))
		} else {
			writeFile(t, ip, ib)
			writeFile(t, lp, lb)
		}
		d, err := NewIDX(ip, lp, nil)
		require.NoError(t, err)
		require.Equal(t, n, d.Len())
		require.Len(t, d.Classes(), 8)
		s, err := d.Item(3)
		require.NoError(t, err)
		require.Equal(t, 1, s.Label)
		require.Equal(t, Image{W: w, H: h, C: 1, Pix: px[36:48]}, s.Image)
	}
	// Errors: wrong magic, type, truncated, trailing data, mismatched counts.
	cases := map[string][]byte{
		"magic":     append([]byte{1, 2, 8, 1}, ib[4:]...),
		"type":      append([]byte{0, 0, 0x0d, 3}, ib[4:]...),
		"truncated": ib[:len(ib)-1],
		"trailing":  append(append([]byte{}, ib...), 0),
		"short":     ib[:6],
		"huge":      idxBytes([]int{1 << 20, 1 << 20, 1 << 20}, nil),
		"zero dim":  idxBytes([]int{0, 3, 4}, nil),
	}
	for name, b := range cases {
		for _, gz := range []bool{false, true} {
			bb := b
			if gz {
				bb = gzipBytes(b)
			}
			p := filepath.Join(dir, "bad-"+name)
			writeFile(t, p, bb)
			_, err := ReadIDXFile(p)
			require.Errorf(t, err, "%s gz=%v", name, gz)
			require.ErrorContains(t, err, "bad-"+name)
		}
	}
	_, err := NewIDXBytes("i", ib, "l", idxBytes([]int{4}, labels[:4]), nil)
	require.ErrorContains(t, err, "5 images")
	_, err = NewIDXBytes("i", ib, "l", lb, []string{"a", "b"})
	require.ErrorContains(t, err, "label 7")
	_, err = NewIDXBytes("i", lb, "l", lb, nil)
	require.ErrorContains(t, err, "N×H×W")
}

func TestSplitHoldout(t *testing.T) {
	labels := []byte{0, 1, 0, 2, 1, 0, 0, 1, 2}
	d, err := NewIDXBytes("i", idxBytes([]int{9, 1, 1}, make([]byte, 9)), "l", idxBytes([]int{9}, labels), nil)
	require.NoError(t, err)
	train, held, err := SplitHoldout(d, 2)
	require.NoError(t, err)
	// Class 0 at 0,2,5,6 → hold 5,6; class 1 at 1,4,7 → hold 4,7; class 2 at 3,8 → hold both.
	require.Equal(t, []int{3, 4, 5, 6, 7, 8}, held.Indices)
	require.Equal(t, []int{0, 1, 2}, train.Indices)
	require.Equal(t, 3, train.Len())
	require.Equal(t, 1, train.Label(1))
	s, err := held.Item(0)
	require.NoError(t, err)
	require.Equal(t, 2, s.Label)
	_, _, err = SplitHoldout(d, -1)
	require.Error(t, err)
}

const (
	fmnistDir = "/usr/share/datasets/fashion-mnist"
	cifarTar  = "/work/shared/data/cifar10-train.tar.gz"
)

func TestFashionMNISTReal(t *testing.T) {
	ip := filepath.Join(fmnistDir, "t10k-images-idx3-ubyte.gz")
	if _, err := os.Stat(ip); err != nil {
		t.Skipf("Fashion-MNIST not installed (%v); apt-get install dataset-fashion-mnist", err)
	}
	d, err := NewIDX(ip, filepath.Join(fmnistDir, "t10k-labels-idx1-ubyte.gz"), FashionMNISTClasses)
	require.NoError(t, err)
	require.Equal(t, 10000, d.Len())
	counts := make([]int, 10)
	for i := 0; i < d.Len(); i++ {
		counts[d.Label(i)]++
	}
	for _, c := range counts {
		require.Equal(t, 1000, c)
	}
	s, err := d.Item(0)
	require.NoError(t, err)
	require.Equal(t, 28, s.Image.W)
	require.Equal(t, "Ankle boot", d.Classes()[s.Label]) // the first t10k item
	if testing.Short() {
		return
	}
	d, err = NewIDX(filepath.Join(fmnistDir, "train-images-idx3-ubyte.gz"), filepath.Join(fmnistDir, "train-labels-idx1-ubyte.gz"), FashionMNISTClasses)
	require.NoError(t, err)
	require.Equal(t, 60000, d.Len())
}

func TestCIFARTarReal(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 50k-image CIFAR-10 tar")
	}
	if _, err := os.Stat(cifarTar); err != nil {
		t.Skipf("%s not present: %v", cifarTar, err)
	}
	f, err := NewTar([]string{cifarTar}, TarOptions{})
	require.NoError(t, err)
	require.Equal(t, 50000, f.Len())
	require.Equal(t, CIFAR10Classes, f.Classes())
	require.Equal(t, "cifar10/train", f.Root())
	for _, i := range []int{0, 4999, 5000, 49999} {
		s, err := f.Item(i)
		require.NoError(t, err)
		require.Equal(t, i/5000, s.Label)
		require.Equal(t, [3]int{32, 32, 3}, [3]int{s.Image.W, s.Image.H, s.Image.C})
	}
	train, held, err := SplitHoldout(f, 500)
	require.NoError(t, err)
	require.Equal(t, 45000, train.Len())
	require.Equal(t, 5000, held.Len())
	require.True(t, bytes.HasSuffix([]byte(held.Name(0)), []byte(".jpg")))
}

func TestImageFolderSymlinkedClass(t *testing.T) {
	root := folderFixture(t)
	require.NoError(t, os.Symlink(filepath.Join(root, "a_cls"), filepath.Join(root, "c_link")))
	f, err := NewImageFolder(root)
	require.NoError(t, err)
	require.Equal(t, []string{"a_cls", "b_cls", "c_link"}, f.Classes())
	require.Equal(t, 7, f.Len())
	s, err := f.Item(6)
	require.NoError(t, err)
	require.Equal(t, 2, s.Label)
}

func TestTarGzipCorruptCRC(t *testing.T) {
	b := makeTar(t, tarFixture(t), true)
	b[len(b)-6] ^= 0xff // CRC-32 in the gzip trailer
	_, err := NewTarBytes("crc.tar.gz", b, TarOptions{})
	require.ErrorContains(t, err, "crc.tar.gz")
}

// TestDecodeFormats: WebP (lossless exactly, lossy as Pillow decodes it)
// and BMP decode to the pixels they hold; the readers take their files.
func TestDecodeFormats(t *testing.T) {
	want := FromImage(testRGBA(13, 9, 4))
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "formats", name))
		require.NoError(t, err)
		return b
	}
	img, err := DecodeImage("pattern_lossless.webp", read("pattern_lossless.webp"))
	require.NoError(t, err)
	require.Equal(t, want, img)

	// Lossy: against Pillow's (libwebp's) decode of the same file, which
	// upsamples chroma its own way.
	// Lossy VP8 is limited-range YCbCr with 4:2:0 chroma: against Pillow's
	// (libwebp's) decode of the same file, within rounding. Read as full
	// range with the nearest chroma (image.YCbCr's own conversion), the
	// gradient was 6.2 off on average, and the pattern's colour edges up
	// to 69.
	for _, c := range []struct {
		name string
		w, h int
	}{{"gradient_lossy", 64, 48}, {"gradient_alpha_lossy", 64, 48}, {"pattern_lossy", 33, 21}} {
		img, err = DecodeImage(c.name+".webp", read(c.name+".webp"))
		require.NoError(t, err)
		pil, err := DecodeImage(c.name+"_pil.png", read(c.name+"_pil.png"))
		require.NoError(t, err)
		require.Equal(t, [3]int{c.w, c.h, 3}, [3]int{img.W, img.H, img.C}, c.name)
		require.Equal(t, [3]int{pil.W, pil.H, pil.C}, [3]int{img.W, img.H, img.C}, c.name)
		var sum, worst int
		for i := range img.Pix {
			d := max(int(img.Pix[i])-int(pil.Pix[i]), int(pil.Pix[i])-int(img.Pix[i]))
			sum, worst = sum+d, max(worst, d)
		}
		t.Logf("%s: mean |Δ| %.3f against Pillow's decode, worst %d", c.name, float64(sum)/float64(len(img.Pix)), worst)
		require.LessOrEqual(t, worst, 1, c.name)
	}
	// And the gradient near its source (q90).
	img, err = DecodeImage("gradient_lossy.webp", read("gradient_lossy.webp"))
	require.NoError(t, err)
	var fromSource int
	for i := range img.Pix {
		x, y := i/3%64, i/3/64
		src := [3]int{4 * x, 5 * y, 128}[i%3]
		fromSource += max(int(img.Pix[i])-src, src-int(img.Pix[i]))
	}
	require.Less(t, float64(fromSource)/float64(len(img.Pix)), 2.0)

	// 16-bit colour with straight alpha keeps its colour where clear.
	n64 := image.NewNRGBA64(image.Rect(0, 0, 2, 1))
	n64.SetNRGBA64(0, 0, color.NRGBA64{R: 0, G: 60000, B: 1234, A: 0})
	n64.SetNRGBA64(1, 0, color.NRGBA64{R: 65535, G: 32768, B: 256, A: 30000})
	var p16 bytes.Buffer
	require.NoError(t, png.Encode(&p16, n64))
	img, err = DecodeImage("n64.png", p16.Bytes())
	require.NoError(t, err)
	require.Equal(t, Image{W: 2, H: 1, C: 3, Pix: []uint8{0, 234, 4, 255, 128, 1}}, img)

	var b bytes.Buffer
	require.NoError(t, bmp.Encode(&b, testRGBA(13, 9, 4)))
	img, err = DecodeImage("p.bmp", b.Bytes())
	require.NoError(t, err)
	require.Equal(t, want, img)
	require.Equal(t, strings.Join(imageExtensions, "/"), imageExtensionList)
	for _, n := range []string{"a.webp", "a.WEBP", "a.bmp", "a.jpg"} {
		require.True(t, IsImageFile(n), n)
	}
	for _, n := range []string{"a.gif", "a.ppm", "a.tif", "a.tiff", "a.txt", "webp"} {
		require.False(t, IsImageFile(n), n)
	}

	// An ImageFolder and a WebDataset sample take a .webp image.
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "c", "x.webp"), read("pattern_lossless.webp"))
	f, err := NewImageFolder(root)
	require.NoError(t, err)
	s, err := f.Item(0)
	require.NoError(t, err)
	require.Equal(t, want, s.Image)
	d, err := NewTarBytes("w.tar", makeTar(t, []tarFile{{"k.webp", read("pattern_lossless.webp")}, {"k.cls", []byte("0")}}, false), TarOptions{})
	require.NoError(t, err)
	s, err = d.Item(0)
	require.NoError(t, err)
	require.Equal(t, want, s.Image)
}

// TestYCbCrFallback: YCbCr images that the fast paths do not take (4:2:2
// chroma, an origin off (0, 0)) convert pixel by pixel from the chroma
// sample that covers each pixel: FromImage with the standard library's
// full-range conversion, fromLimitedYCbCr with limited-range BT.601
// (against the formula in floating point, within one level).
func TestYCbCrFallback(t *testing.T) {
	full := image.NewYCbCr(image.Rect(0, 0, 7, 5), image.YCbCrSubsampleRatio422)
	for i := range full.Y {
		full.Y[i] = uint8(16 + 37*i%220)
	}
	for i := range full.Cb {
		full.Cb[i], full.Cr[i] = uint8(16+53*i%225), uint8(240-29*i%225)
	}
	m := full.SubImage(image.Rect(1, 1, 6, 5)).(*image.YCbCr)
	got, limited := FromImage(m), fromLimitedYCbCr(m)
	require.Equal(t, 5, got.W)
	require.Equal(t, 4, got.H)
	clamp := func(v float64) float64 { return min(max(v, 0), 255) }
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			yy := m.Y[m.YOffset(1+x, 1+y)]
			cb, cr := m.Cb[m.COffset(1+x, 1+y)], m.Cr[m.COffset(1+x, 1+y)]
			r, g, b := color.YCbCrToRGB(yy, cb, cr)
			i := 3 * (y*5 + x)
			require.Equal(t, []uint8{r, g, b}, got.Pix[i:i+3], "FromImage at (%d, %d)", x, y)
			ly, lb, lr := 255.0/219*(float64(yy)-16), float64(cb)-128, float64(cr)-128
			want := []float64{clamp(ly + 1.402*255/224*lr), clamp(ly - (0.344136*lb+0.714136*lr)*255/224), clamp(ly + 1.772*255/224*lb)}
			for c := range 3 {
				require.InDelta(t, want[c], float64(limited.Pix[i+c]), 1, "fromLimitedYCbCr at (%d, %d), channel %d", x, y, c)
			}
		}
	}
}
