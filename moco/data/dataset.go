package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG

	_ "golang.org/x/image/bmp"  // register BMP
	_ "golang.org/x/image/webp" // register WebP

	"github.com/mocogo/mocogo/internal/jpegdec"
)

// Image is a decoded 8-bit image stored row by row, channels interleaved
// (HWC). C is 1 (gray) or 3 (RGB). Images handed out by a Dataset may
// share memory with the dataset and must be treated as read-only.
type Image struct {
	W, H, C int
	Pix     []uint8
}

// Valid reports whether the dimensions and buffer agree.
func (m *Image) Valid() bool {
	return m.W > 0 && m.H > 0 && (m.C == 1 || m.C == 3) && len(m.Pix) == m.W*m.H*m.C
}

// Sample is one dataset item: the decoded image, its class index and a
// name (file path or archive entry). Record-based readers (IDX) leave
// Name empty to avoid an allocation per item; their Name(i) method
// (Namer) gives it.
type Sample struct {
	Image Image
	Label int
	Name  string
}

// Dataset is the common interface of the readers in this package.
// Item must be safe for concurrent use by several goroutines.
type Dataset interface {
	// Len is the number of items.
	Len() int
	// Classes are the class names; a label is an index into it. A set of
	// unlabelled images (for self-supervised training only) has no
	// classes, and every label is Unlabelled.
	Classes() []string
	// Item decodes item i. Errors name the file or entry and the problem.
	Item(i int) (Sample, error)
}

// Unlabelled is the label of an image in a set without classes.
const Unlabelled = -1

// Labeler is implemented by datasets that know an item's label without
// decoding it (all readers in this package do). Split helpers use it.
type Labeler interface {
	Label(i int) int
}

// Namer is implemented by datasets that can name an item without
// decoding it; the Loader uses it in error messages.
type Namer interface {
	Name(i int) string
}

// MaxPixels bounds the width×height accepted by DecodeImage, so that a
// corrupt or hostile header cannot make the decoder allocate gigabytes.
var MaxPixels = 1 << 26

// ErrTooLarge is wrapped by errors for images above MaxPixels.
var ErrTooLarge = errors.New("image too large")

// DecodeImage decodes a JPEG, PNG, WebP or BMP image held in b into
// an Image (gray images
// stay 1-channel, everything else becomes RGB; alpha is dropped as PIL's
// convert("RGB") does). name is used in error messages only.
//
// Lossy formats give the pixels Pillow gives, up to the decoders' IDCT
// rounding: a YCbCr JPEG's chroma is upsampled and converted as
// libjpeg-turbo does (fromJPEGYCbCr), lossy WebP's as libwebp does
// (fromLimitedYCbCr), not as image.YCbCr's At would.
func DecodeImage(name string, b []byte) (Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Image{}, fmt.Errorf("data: %s: decode header: %w", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Image{}, fmt.Errorf("data: %s: %s image has size %dx%d", name, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(MaxPixels) {
		return Image{}, fmt.Errorf("data: %s: %s image %dx%d: %w (limit %d pixels)", name, format, cfg.Width, cfg.Height, ErrTooLarge, MaxPixels)
	}
	img, err := decodePixels(format, b)
	if err != nil {
		return Image{}, fmt.Errorf("data: %s: decode %s: %w", name, format, err)
	}
	if m, ok := img.(*image.YCbCr); ok && format == "jpeg" {
		return fromJPEGYCbCr(m), nil
	}
	if format == "webp" {
		// Lossy WebP (VP8) planes are limited-range BT.601, which
		// image.YCbCr would read as JPEG's full range (golang/go#40173):
		// black lifted to 16, white cut to 235.
		switch m := img.(type) {
		case *image.YCbCr:
			return fromLimitedYCbCr(m), nil
		case *image.NYCbCrA:
			return fromLimitedYCbCr(&m.YCbCr), nil // alpha dropped, as for other formats
		}
	}
	return FromImage(img), nil
}

// decodePixels decodes b, whose header said format. A baseline or
// progressive JPEG goes to internal/jpegdec, whose samples are libjpeg's (the ones Pillow
// decodes) and which is faster than image/jpeg; any other
// JPEG, and one jpegdec refuses or finds damaged, goes to image/jpeg,
// whose verdict stands.
func decodePixels(format string, b []byte) (image.Image, error) {
	if format == "jpeg" {
		if img, err := jpegdec.Decode(b); err == nil {
			return img, nil
		}
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	return img, err
}

// straightRGB copies the colour of a w×h image with straight (not
// premultiplied) alpha, bpp bytes a pixel in R, G, B, A order, each
// channel's first byte its most significant; row(y) is row y's pixels.
// Alpha is dropped, as Pillow's convert("RGB") drops it.
func straightRGB(w, h, bpp int, row func(y int) []uint8) Image {
	out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	step := bpp / 4 // bytes a channel
	for y := 0; y < h; y++ {
		src, dst := row(y), out.Pix[y*w*3:(y+1)*w*3]
		for x := 0; x < w; x++ {
			p := src[bpp*x:]
			dst[3*x], dst[3*x+1], dst[3*x+2] = p[0], p[step], p[2*step]
		}
	}
	return out
}

// fromLimitedYCbCr converts limited-range ("studio swing", Y in 16–235,
// Cb and Cr in 16–240) BT.601 YCbCr to RGB: R = 255/219·(Y−16) +
// 1.402·255/224·(Cr−128), and so on, each rounded to nearest. 4:2:0
// chroma (all of lossy WebP's) is upsampled as libwebp does by default,
// which Pillow and browsers show: each pixel weighs the four nearest
// chroma samples 9:3:3:1 (edges repeated). Other layouts take the sample
// that covers the pixel, as image.YCbCr does.
func fromLimitedYCbCr(m *image.YCbCr) Image {
	// The coefficients in 16.16 fixed point.
	const (
		ky  = 76309  // 255/219
		krv = 104597 // 1.402·255/224
		kgu = 25675  // 0.344136·255/224
		kgv = 53279  // 0.714136·255/224
		kbu = 132201 // 1.772·255/224
	)
	clamp := func(v int32) uint8 {
		v = (v + 1<<15) >> 16
		return uint8(min(max(v, 0), 255))
	}
	rgb := func(px []uint8, y, cb, cr int32) {
		yy := ky * (y - 16)
		cb, cr = cb-128, cr-128
		px[0] = clamp(yy + krv*cr)
		px[1] = clamp(yy - kgu*cb - kgv*cr)
		px[2] = clamp(yy + kbu*cb)
	}
	r := m.Bounds()
	w, h := r.Dx(), r.Dy()
	out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && r.Min == (image.Point{}) {
		cw, ch := (w+1)/2, (h+1)/2
		// up is the chroma value at pixel (x, y) of plane c.
		up := func(c []uint8, x, y int) int32 {
			cx, cy := x>>1, y>>1
			nx, ny := min(max(cx+2*(x&1)-1, 0), cw-1), min(max(cy+2*(y&1)-1, 0), ch-1)
			s := m.CStride
			return (9*int32(c[cy*s+cx]) + 3*int32(c[cy*s+nx]) + 3*int32(c[ny*s+cx]) + int32(c[ny*s+nx]) + 8) >> 4
		}
		for y := 0; y < h; y++ {
			row := out.Pix[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				rgb(row[3*x:3*x+3], int32(m.Y[y*m.YStride+x]), up(m.Cb, x, y), up(m.Cr, x, y))
			}
		}
		return out
	}
	eachYCbCr(out.Pix, m, func(px []uint8, y, cb, cr uint8) { rgb(px, int32(y), int32(cb), int32(cr)) })
	return out
}

// eachYCbCr calls convert for each pixel of m in row-major order with the
// pixel's three bytes of rgb and its Y, Cb and Cr samples: the chroma
// sample that covers the pixel, as image.YCbCr's At takes.
func eachYCbCr(rgb []uint8, m *image.YCbCr, convert func(px []uint8, y, cb, cr uint8)) {
	r := m.Bounds()
	w, h := r.Dx(), r.Dy()
	for y := 0; y < h; y++ {
		row := rgb[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			yi := m.YOffset(r.Min.X+x, r.Min.Y+y)
			ci := m.COffset(r.Min.X+x, r.Min.Y+y)
			convert(row[3*x:3*x+3], m.Y[yi], m.Cb[ci], m.Cr[ci])
		}
	}
}

// FromImage converts a standard library image into an Image; gray
// images give C = 1, everything else C = 3. The colours are the image's
// own (its At): an *image.YCbCr takes the chroma sample covering each
// pixel and color.YCbCrToRGB's arithmetic, which DecodeImage does not
// use for JPEG files.
func FromImage(img image.Image) Image {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	switch m := img.(type) {
	case *image.Gray:
		out := Image{W: w, H: h, C: 1, Pix: make([]uint8, w*h)}
		for y := 0; y < h; y++ {
			off := m.PixOffset(r.Min.X, r.Min.Y+y)
			copy(out.Pix[y*w:(y+1)*w], m.Pix[off:off+w])
		}
		return out
	case *image.YCbCr:
		out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
		if ycbcrToRGB(out.Pix, m) {
			return out
		}
		eachYCbCr(out.Pix, m, func(px []uint8, y, cb, cr uint8) { px[0], px[1], px[2] = color.YCbCrToRGB(y, cb, cr) })
		return out
	case *image.RGBA:
		out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
		for y := 0; y < h; y++ {
			off := m.PixOffset(r.Min.X, r.Min.Y+y)
			src := m.Pix[off : off+4*w]
			row := out.Pix[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				// Premultiplied: un-premultiply like PIL's RGBa→RGB would.
				a := uint32(src[4*x+3])
				for c := 0; c < 3; c++ {
					v := uint32(src[4*x+c])
					if a != 0 && a != 255 {
						v = (v*255 + a/2) / a
						if v > 255 {
							v = 255
						}
					}
					row[3*x+c] = uint8(v)
				}
			}
		}
		return out
	case *image.NRGBA:
		return straightRGB(w, h, 4, func(y int) []uint8 { return m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):] })
	case *image.NRGBA64:
		// 16-bit (PNG with alpha): the high bytes, big-endian first. The
		// generic path would premultiply and lose the colour of clear pixels.
		return straightRGB(w, h, 8, func(y int) []uint8 { return m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):] })
	}
	// Generic path: gray-like models stay gray.
	gray := img.ColorModel() == color.Gray16Model
	if gray {
		out := Image{W: w, H: h, C: 1, Pix: make([]uint8, w*h)}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				g := color.GrayModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.Gray)
				out.Pix[y*w+x] = g.Y
			}
		}
		return out
	}
	out := Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
			i := 3 * (y*w + x)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = c.R, c.G, c.B
		}
	}
	return out
}

// ycbcrToRGB writes m as interleaved RGB into dst (3 bytes a pixel),
// pixel by pixel the same integer arithmetic as color.YCbCrToRGB, but
// walking rows instead of calling YOffset, COffset and YCbCrToRGB per
// pixel (which cost as much as a third of decoding a JPEG). It reports
// false, writing nothing, for layouts it does not handle (an unknown
// subsampling ratio, negative coordinates).
func ycbcrToRGB(dst []uint8, m *image.YCbCr) bool {
	var sh uint // chroma columns are x >> sh
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio440:
		sh = 0
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
		sh = 1
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		sh = 2
	default:
		return false
	}
	r := m.Rect
	if r.Empty() || r.Min.X < 0 || r.Min.Y < 0 {
		return false
	}
	w := r.Dx()
	mx := r.Min.X
	ncols := (r.Max.X-1)>>sh - mx>>sh + 1
	for y := r.Min.Y; y < r.Max.Y; y++ {
		yo := m.YOffset(mx, y)
		co := m.COffset(mx, y)
		ys := m.Y[yo : yo+w]
		cbs := m.Cb[co : co+ncols]
		crs := m.Cr[co : co+ncols]
		row := dst[(y-r.Min.Y)*3*w:][:3*w]
		if sh == 1 && mx&1 == 0 {
			// Two pixels share a chroma sample: its terms are computed once.
			for cx := range cbs {
				cb1 := int32(cbs[cx]) - 128
				cr1 := int32(crs[cx]) - 128
				tr, tg, tb := 91881*cr1, -22554*cb1-46802*cr1, 116130*cb1
				x := 2 * cx
				for k := 0; k < 2 && x+k < w; k++ {
					yy1 := int32(ys[x+k]) * 0x10101
					p := row[3*(x+k) : 3*(x+k)+3 : 3*(x+k)+3]
					p[0], p[1], p[2] = clampShift16(yy1+tr), clampShift16(yy1+tg), clampShift16(yy1+tb)
				}
			}
			continue
		}
		for x, yv := range ys {
			cx := (mx+x)>>sh - mx>>sh
			yy1 := int32(yv) * 0x10101
			cb1 := int32(cbs[cx]) - 128
			cr1 := int32(crs[cx]) - 128
			p := row[3*x : 3*x+3 : 3*x+3]
			p[0] = clampShift16(yy1 + 91881*cr1)
			p[1] = clampShift16(yy1 - 22554*cb1 - 46802*cr1)
			p[2] = clampShift16(yy1 + 116130*cb1)
		}
	}
	return true
}

// clampShift16 is color.YCbCrToRGB's rounding of one channel: v>>16
// clamped to [0, 255], by table (v>>16 lies in [-256, 767] for every
// input byte triple).
func clampShift16(v int32) uint8 { return clamp8[(v>>16+256)&1023] }

var clamp8 = func() (t [1024]uint8) {
	for i := range t {
		t[i] = uint8(min(max(i-256, 0), 255))
	}
	return
}()

// Subset is a view of a dataset restricted to some of its indices.
type Subset struct {
	Base    Dataset
	Indices []int
}

func (s *Subset) Len() int          { return len(s.Indices) }
func (s *Subset) Classes() []string { return s.Base.Classes() }
func (s *Subset) Item(i int) (Sample, error) {
	if i < 0 || i >= len(s.Indices) {
		return Sample{}, fmt.Errorf("data: subset index %d out of range [0,%d)", i, len(s.Indices))
	}
	return s.Base.Item(s.Indices[i])
}

// Label implements Labeler when the base dataset does (it panics
// otherwise, which SplitHoldout rules out before building a Subset).
func (s *Subset) Label(i int) int { return s.Base.(Labeler).Label(s.Indices[i]) }

// Name implements Namer.
func (s *Subset) Name(i int) string { return itemName(s.Base, s.Indices[i]) }

func itemName(d Dataset, i int) string {
	if n, ok := d.(Namer); ok {
		return n.Name(i)
	}
	return fmt.Sprintf("item %d", i)
}

// SplitHoldout splits d deterministically into a training part and a
// held-out part: for every class, the last perClass items of that class
// (in dataset order) are held out and the rest are kept for training.
// A class with perClass items or fewer is held out entirely. d must
// implement Labeler.
func SplitHoldout(d Dataset, perClass int) (train, held *Subset, err error) {
	lab, ok := d.(Labeler)
	if !ok {
		return nil, nil, errors.New("data: SplitHoldout: dataset does not implement Labeler")
	}
	if perClass < 0 {
		return nil, nil, fmt.Errorf("data: SplitHoldout: negative perClass %d", perClass)
	}
	n := d.Len()
	nc := len(d.Classes())
	if nc == 0 {
		return nil, nil, errors.New("data: SplitHoldout: the images are unlabelled: no class to hold images of out")
	}
	counts := make([]int, nc)
	for i := 0; i < n; i++ {
		l := lab.Label(i)
		if l < 0 || l >= nc {
			return nil, nil, fmt.Errorf("data: SplitHoldout: item %s has label %d outside [0,%d)", itemName(d, i), l, nc)
		}
		counts[l]++
	}
	seen := make([]int, nc)
	train = &Subset{Base: d}
	held = &Subset{Base: d}
	for i := 0; i < n; i++ {
		l := lab.Label(i)
		if seen[l] >= counts[l]-perClass {
			held.Indices = append(held.Indices, i)
		} else {
			train.Indices = append(train.Indices, i)
		}
		seen[l]++
	}
	return train, held, nil
}
