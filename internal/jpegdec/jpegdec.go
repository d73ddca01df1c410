// Package jpegdec decodes JPEG files with Huffman coding and 8-bit
// samples (baseline and extended sequential DCT, SOF0 and SOF1, and
// progressive DCT, SOF2) into their component planes, with the inverse
// DCT that libjpeg uses by default (JDCT_ISLOW, jidctint.c). Its samples
// are therefore the ones libjpeg-turbo decodes, which Pillow, and so
// torchvision's ImageFolder, returns before its chroma upsampling and
// colour conversion; Go's image/jpeg uses another inverse DCT, which
// differs by a level here and there.
//
// A sequential file of one scan is decoded straight into the planes. A
// progressive file (spectral selection and successive approximation,
// T.81 Annex G), or a sequential one in several scans, is decoded scan
// by scan into the quantised coefficients of the whole image, which are
// transformed at EOI.
//
// Everything else a JPEG can be (lossless or hierarchical frames,
// arithmetic coding, 12-bit samples, four components, RGB components,
// unusual sampling factors) is reported as ErrUnsupported, and any
// damage as another error, so that a caller can hand the file to
// image/jpeg, whose verdict then stands. The decoder never reads past
// its input, and never makes an image from data that ran short (a
// progressive file must reach its EOI).
package jpegdec

import (
	"errors"
	"fmt"
	"image"
)

// ErrUnsupported is returned for a valid JPEG this decoder does not
// handle.
var ErrUnsupported = errors.New("jpegdec: unsupported JPEG")

// MaxPixels bounds the frame size Decode accepts.
const MaxPixels = 1 << 28

// Marker codes (the byte after 0xFF).
const (
	mSOF0  = 0xC0 // baseline DCT
	mSOF1  = 0xC1 // extended sequential DCT, Huffman
	mSOF2  = 0xC2 // progressive DCT, Huffman
	mDHT   = 0xC4
	mRST0  = 0xD0
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mDQT   = 0xDB
	mDNL   = 0xDC
	mDRI   = 0xDD
	mAPP0  = 0xE0
	mAPP14 = 0xEE
	mCOM   = 0xFE
)

// component is one colour component of the frame and where its samples
// go.
type component struct {
	id     uint8
	h, v   int // sampling factors
	tq     int // quantisation table
	td, ta int // Huffman tables of the scan: DC, AC
	pred   int32
	// The plane: bw×bh blocks of 8×8 samples, stride bytes a row.
	plane  []byte
	stride int
	bw, bh int

	// The coefficient path (progressive frames, and sequential frames of
	// several scans): the quantised coefficients of all bw×bh blocks, 64
	// a block in zigzag order; the quantisation table latched at the
	// component's first scan (natural order), as libjpeg does; and, per
	// coefficient, the point transform Al of its last scan (−1: none).
	coef    []int16
	nz      []uint64 // progressive: each block's nonzero AC coefficients
	qt      [64]int32
	scanned bool
	al      [64]int8
}

// scan is a scan header: the frame indices of its components, in the
// scan's order, spectral selection and successive approximation.
type scan struct {
	comps          []int
	ss, se, ah, al int
}

type decoder struct {
	data []byte
	pos  int

	width, height int
	hmax, vmax    int
	comps         []component
	quant         [4][64]int32 // natural order
	haveQuant     [4]bool
	dc, ac        [4]huffTable
	restart       int // MCUs between restart markers; 0: none
	progressive   bool
	coefPath      bool    // the frame goes through the coefficient buffers
	scans         int     // scans decoded
	eobrun        int     // blocks left in a progressive AC scan's EOB run
	nz            *uint64 // the nonzero mask of the block being decoded
	nzScratch     uint64
	// What says a three-component frame's colour space: a JFIF header
	// (YCbCr), an Adobe one's transform flag (0: RGB).
	jfif, adobe    bool
	adobeTransform byte

	br bitReader
}

// Decode decodes b. It returns an *image.YCbCr for a three-component
// frame (the chroma planes at their own resolution, as image/jpeg
// returns them) and an *image.Gray for a one-component frame.
func Decode(b []byte) (image.Image, error) {
	d := &decoder{data: b}
	return d.decode()
}

func (d *decoder) decode() (image.Image, error) {
	if len(d.data) < 2 || d.data[0] != 0xFF || d.data[1] != mSOI {
		return nil, errors.New("jpegdec: missing SOI marker")
	}
	d.pos = 2
	for {
		m, err := d.nextMarker()
		if err != nil {
			return nil, err
		}
		switch {
		case m == mSOF0 || m == mSOF1 || m == mSOF2:
			if d.comps != nil {
				return nil, errors.New("jpegdec: two frame headers")
			}
			d.progressive = m == mSOF2
			if err := d.readSOF(); err != nil {
				return nil, err
			}
		case m >= 0xC2 && m <= 0xCF && m != mDHT && m != 0xC8 && m != 0xCC:
			return nil, fmt.Errorf("%w: frame type 0x%02X", ErrUnsupported, m)
		case m == 0xCC: // arithmetic-coding conditioning
			return nil, fmt.Errorf("%w: arithmetic coding", ErrUnsupported)
		case m == mDHT:
			if err := d.readDHT(); err != nil {
				return nil, err
			}
		case m == mDQT:
			if err := d.readDQT(); err != nil {
				return nil, err
			}
		case m == mDRI:
			if err := d.readDRI(); err != nil {
				return nil, err
			}
		case m == mSOS:
			if d.comps == nil {
				return nil, errors.New("jpegdec: scan before the frame header")
			}
			if d.rgb() {
				return nil, fmt.Errorf("%w: RGB components", ErrUnsupported)
			}
			s, err := d.readSOS()
			if err != nil {
				return nil, err
			}
			if !d.coefPath && !d.progressive && d.oneScan(s) {
				// The common baseline file: one interleaved scan, decoded
				// straight into the planes.
				if err := d.decodeScan(); err != nil {
					return nil, err
				}
				if err := d.expectEnd(); err != nil {
					return nil, err
				}
				return d.image(), nil
			}
			if err := d.decodeCoefScan(s); err != nil {
				return nil, err
			}
		case m == mEOI:
			if d.coefPath {
				if err := d.finish(); err != nil {
					return nil, err
				}
				return d.image(), nil
			}
			return nil, errors.New("jpegdec: no scan before EOI")
		case m == mDNL:
			return nil, fmt.Errorf("%w: DNL marker", ErrUnsupported)
		case m >= mRST0 && m <= mRST0+7, m == mSOI:
			return nil, fmt.Errorf("jpegdec: marker 0x%02X outside a scan", m)
		case m == mAPP0 || m == mAPP14:
			if err := d.readAPP(m); err != nil {
				return nil, err
			}
		case m > mAPP0 && m <= 0xEF || m == mCOM: // other APPn, COM
			if err := d.skipSegment(); err != nil {
				return nil, err
			}
		default:
			// JPG, DHP, EXP, JPGn, TEM (which has no length) and the
			// reserved codes: libjpeg stops at them (JERR_UNKNOWN_MARKER)
			// and image/jpeg refuses them, so this decoder does too
			// rather than skip what may not be a segment.
			return nil, fmt.Errorf("%w: marker 0x%02X", ErrUnsupported, m)
		}
	}
}

// nextMarker skips to the next marker (fill bytes included) and returns
// its code. Bytes that are not a marker between segments are an error,
// as in libjpeg (which warns and skips them).
func (d *decoder) nextMarker() (byte, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != 0xFF {
		return 0, errors.New("jpegdec: expected a marker")
	}
	for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
		d.pos++
	}
	if d.pos >= len(d.data) {
		return 0, errors.New("jpegdec: truncated at a marker")
	}
	m := d.data[d.pos]
	d.pos++
	if m == 0 {
		return 0, errors.New("jpegdec: stuffed byte outside a scan")
	}
	return m, nil
}

// readAPP reads an APP0 or APP14 segment for its JFIF or Adobe header.
func (d *decoder) readAPP(m byte) error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	switch {
	case m == mAPP0 && len(s) >= 14 && string(s[:5]) == "JFIF\x00": // libjpeg's APP0_DATA_LEN
		d.jfif = true
	case m == mAPP14 && len(s) >= 12 && string(s[:5]) == "Adobe":
		d.adobe, d.adobeTransform = true, s[11]
	}
	return nil
}

// rgb reports a three-component frame whose components are R, G and B,
// not Y, Cb and Cr, by libjpeg's rules: never with a JFIF header; with
// an Adobe header, when its transform flag is 0; without either, when
// the component ids are 'R', 'G' and 'B'. image/jpeg decodes those.
func (d *decoder) rgb() bool {
	if len(d.comps) != 3 || d.jfif {
		return false
	}
	if d.adobe {
		return d.adobeTransform == 0
	}
	return d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B'
}

// segment returns the body of the segment at d.pos (after its length)
// and moves past it.
func (d *decoder) segment() ([]byte, error) {
	if d.pos+2 > len(d.data) {
		return nil, errors.New("jpegdec: truncated segment length")
	}
	n := int(d.data[d.pos])<<8 | int(d.data[d.pos+1])
	if n < 2 || d.pos+n > len(d.data) {
		return nil, fmt.Errorf("jpegdec: segment length %d at byte %d runs past the data", n, d.pos)
	}
	body := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return body, nil
}

func (d *decoder) skipSegment() error {
	_, err := d.segment()
	return err
}

func (d *decoder) readSOF() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	if len(s) < 6 {
		return errors.New("jpegdec: short frame header")
	}
	if s[0] != 8 {
		return fmt.Errorf("%w: %d-bit samples", ErrUnsupported, s[0])
	}
	d.height = int(s[1])<<8 | int(s[2])
	d.width = int(s[3])<<8 | int(s[4])
	nc := int(s[5])
	if d.height == 0 {
		return fmt.Errorf("%w: height given by a DNL marker", ErrUnsupported)
	}
	if d.width == 0 {
		return errors.New("jpegdec: zero width")
	}
	if d.width*d.height > MaxPixels {
		return fmt.Errorf("jpegdec: %dx%d image: more than %d pixels", d.width, d.height, MaxPixels)
	}
	if nc != 1 && nc != 3 {
		return fmt.Errorf("%w: %d components", ErrUnsupported, nc)
	}
	if len(s) != 6+3*nc {
		return errors.New("jpegdec: frame header length does not match its components")
	}
	d.comps = make([]component, nc)
	for i := range d.comps {
		c := &d.comps[i]
		c.id = s[6+3*i]
		c.h, c.v = int(s[7+3*i]>>4), int(s[7+3*i]&15)
		c.tq = int(s[8+3*i])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return errors.New("jpegdec: bad component in the frame header")
		}
		for j := range i {
			if d.comps[j].id == c.id {
				return errors.New("jpegdec: two components with one id")
			}
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	if nc == 1 {
		// A lone component's scan is not interleaved: one block an MCU,
		// whatever its factors say.
		d.comps[0].h, d.comps[0].v = 1, 1
		d.hmax, d.vmax = 1, 1
	} else {
		// Chroma at one sample a block, luma at 1, 2 or 4 across and 1
		// or 2 down: the layouts image.YCbCr can hold.
		y, cb, cr := d.comps[0], d.comps[1], d.comps[2]
		if cb.h != 1 || cb.v != 1 || cr.h != 1 || cr.v != 1 || y.h == 3 || y.v > 2 {
			return fmt.Errorf("%w: sampling factors %dx%d, %dx%d, %dx%d", ErrUnsupported, y.h, y.v, cb.h, cb.v, cr.h, cr.v)
		}
	}
	mcuW, mcuH := 8*d.hmax, 8*d.vmax
	mx, my := (d.width+mcuW-1)/mcuW, (d.height+mcuH-1)/mcuH
	for i := range d.comps {
		c := &d.comps[i]
		c.bw, c.bh = mx*c.h, my*c.v
		c.stride = 8 * c.bw
	}
	return nil
}

func (d *decoder) readDQT() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	for len(s) > 0 {
		pq, tq := s[0]>>4, int(s[0]&15)
		if tq > 3 || pq > 1 {
			return errors.New("jpegdec: bad quantisation table header")
		}
		n := 64 << pq
		if len(s) < 1+n {
			return errors.New("jpegdec: short quantisation table")
		}
		for k := 0; k < 64; k++ {
			var q int32
			if pq == 0 {
				q = int32(s[1+k])
			} else {
				q = int32(s[1+2*k])<<8 | int32(s[2+2*k])
			}
			d.quant[tq][zigzag[k]] = q
		}
		d.haveQuant[tq] = true
		s = s[1+n:]
	}
	return nil
}

func (d *decoder) readDHT() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	for len(s) > 0 {
		if len(s) < 17 {
			return errors.New("jpegdec: short Huffman table")
		}
		tc, th := s[0]>>4, int(s[0]&15)
		if tc > 1 || th > 3 {
			return errors.New("jpegdec: bad Huffman table header")
		}
		var counts [16]int
		total := 0
		for i := range counts {
			counts[i] = int(s[1+i])
			total += counts[i]
		}
		if total > 256 || len(s) < 17+total {
			return errors.New("jpegdec: bad Huffman table size")
		}
		t := &d.dc[th]
		if tc == 1 {
			t = &d.ac[th]
		}
		if err := t.build(counts, s[17:17+total]); err != nil {
			return err
		}
		s = s[17+total:]
	}
	return nil
}

func (d *decoder) readDRI() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	if len(s) != 2 {
		return errors.New("jpegdec: bad DRI segment")
	}
	d.restart = int(s[0])<<8 | int(s[1])
	return nil
}

// readSOS reads a scan header and checks it against the frame: the
// scan's components, their tables, and its spectral selection and
// successive approximation, which a sequential frame must not use and a
// progressive one must use as T.81 G.1.1.1 (and libjpeg) allow.
func (d *decoder) readSOS() (*scan, error) {
	b, err := d.segment()
	if err != nil {
		return nil, err
	}
	if len(b) < 1 {
		return nil, errors.New("jpegdec: short scan header")
	}
	ns := int(b[0])
	if len(b) != 4+2*ns {
		return nil, errors.New("jpegdec: scan header length does not match its components")
	}
	if ns < 1 || ns > len(d.comps) {
		return nil, fmt.Errorf("jpegdec: a scan of %d components in a frame of %d", ns, len(d.comps))
	}
	s := &scan{comps: make([]int, ns)}
	s.ss, s.se, s.ah, s.al = int(b[1+2*ns]), int(b[2+2*ns]), int(b[3+2*ns]>>4), int(b[3+2*ns]&15)
	for i := range ns {
		id, tables := b[1+2*i], b[2+2*i]
		ci := -1
		for j := range d.comps {
			if d.comps[j].id == id {
				ci = j
			}
		}
		if ci < 0 {
			return nil, errors.New("jpegdec: scan component not in the frame")
		}
		for _, cj := range s.comps[:i] {
			if cj == ci {
				return nil, errors.New("jpegdec: a component twice in a scan")
			}
		}
		s.comps[i] = ci
		c := &d.comps[ci]
		c.td, c.ta = int(tables>>4), int(tables&15)
		if c.td > 3 || c.ta > 3 {
			return nil, errors.New("jpegdec: bad Huffman table selector")
		}
		// The tables the scan decodes with: a DC first scan's DC table,
		// an AC scan's AC table, both for a sequential scan.
		needDC := !d.progressive || s.ss == 0 && s.ah == 0
		needAC := !d.progressive || s.ss > 0
		if needDC && !d.dc[c.td].ok || needAC && !d.ac[c.ta].ok {
			return nil, errors.New("jpegdec: scan uses a missing Huffman table")
		}
		if !c.scanned && !d.haveQuant[c.tq] {
			return nil, errors.New("jpegdec: component uses a missing quantisation table")
		}
	}
	if !d.progressive {
		if s.ss != 0 || s.se != 63 || s.ah != 0 || s.al != 0 {
			return nil, fmt.Errorf("%w: spectral selection in a sequential scan", ErrUnsupported)
		}
		return s, nil
	}
	bad := s.ah != 0 && s.al != s.ah-1 || s.al > 13
	if s.ss == 0 {
		bad = bad || s.se != 0
	} else {
		bad = bad || s.se < s.ss || s.se > 63 || ns != 1
	}
	if bad {
		return nil, fmt.Errorf("jpegdec: bad progressive scan Ss=%d Se=%d Ah=%d Al=%d", s.ss, s.se, s.ah, s.al)
	}
	return s, nil
}

// oneScan reports a sequential scan of all the frame's components in
// its order: a frame that is this one scan.
func (d *decoder) oneScan(s *scan) bool {
	if len(s.comps) != len(d.comps) {
		return false
	}
	for i, ci := range s.comps {
		if ci != i {
			return false
		}
	}
	return true
}

// expectEnd checks that a one-scan frame's scan is followed by EOI,
// maybe after a restart marker some encoders leave after the last
// interval. A file that ends without EOI is refused, as Pillow ("image
// file is truncated") and image/jpeg refuse it; a second scan, after
// one of all the components, or a DNL, is not for this decoder.
func (d *decoder) expectEnd() error {
	for {
		if d.pos >= len(d.data) {
			return errors.New("jpegdec: no EOI marker after the scan")
		}
		m, err := d.nextMarker()
		if err != nil {
			return err
		}
		switch {
		case m == mEOI:
			return nil
		case m >= mRST0 && m <= mRST0+7:
			continue
		default:
			return fmt.Errorf("%w: marker 0x%02X after the scan", ErrUnsupported, m)
		}
	}
}

// image wraps the planes, cut to the frame's size.
func (d *decoder) image() image.Image {
	r := image.Rect(0, 0, d.width, d.height)
	y := &d.comps[0]
	if len(d.comps) == 1 {
		return &image.Gray{Pix: y.plane, Stride: y.stride, Rect: r}
	}
	var ratio image.YCbCrSubsampleRatio
	switch [2]int{y.h, y.v} {
	case [2]int{1, 1}:
		ratio = image.YCbCrSubsampleRatio444
	case [2]int{2, 1}:
		ratio = image.YCbCrSubsampleRatio422
	case [2]int{2, 2}:
		ratio = image.YCbCrSubsampleRatio420
	case [2]int{1, 2}:
		ratio = image.YCbCrSubsampleRatio440
	case [2]int{4, 1}:
		ratio = image.YCbCrSubsampleRatio411
	case [2]int{4, 2}:
		ratio = image.YCbCrSubsampleRatio410
	}
	return &image.YCbCr{
		Y: y.plane, Cb: d.comps[1].plane, Cr: d.comps[2].plane,
		YStride: y.stride, CStride: d.comps[1].stride,
		SubsampleRatio: ratio, Rect: r,
	}
}

// zigzag[k] is the natural-order index of the k-th coefficient in the
// zigzag order the file stores them in.
var zigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}
