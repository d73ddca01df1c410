package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/mocogo/mocogo/internal/regularfile"
)

// FashionMNISTClasses are the Fashion-MNIST class names in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// IDXArray is an unsigned-byte IDX array (type code 0x08), the format of
// the MNIST family.
type IDXArray struct {
	Dims []int
	Data []uint8
}

// maxIDXBytes bounds the payload an IDX header may announce.
var maxIDXBytes int64 = 1 << 32

// ParseIDX parses an IDX file held in memory (gzip-compressed or not).
// name is used in error messages. The sizes in the header are checked
// against the data length before anything is allocated.
func ParseIDX(name string, b []byte) (*IDXArray, error) {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("data: idx %s: gzip: %w", name, err)
		}
		defer zr.Close()
		return readIDX(name, zr)
	}
	return readIDX(name, bytes.NewReader(b))
}

// ReadIDXFile reads an IDX file, gunzipping it when it starts with the
// gzip magic. p must be a regular file, or a link to one (ErrNotRegular).
func ReadIDXFile(p string) (*IDXArray, error) {
	f, st, err := regularfile.Open(p)
	if err != nil {
		return nil, fmt.Errorf("data: idx: %w", err)
	}
	defer f.Close()
	var magic [2]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("data: idx %s: %w", p, err)
	}
	if n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("data: idx %s: gzip: %w", p, err)
		}
		defer zr.Close()
		return readIDX(p, zr)
	}
	return readIDXSized(p, f, st.Size())
}

func readIDX(name string, r io.Reader) (*IDXArray, error) { return readIDXSized(name, r, -1) }

// readIDXSized reads an IDX stream; size is the total byte length when
// known (plain files), -1 otherwise (gzip).
func readIDXSized(name string, r io.Reader, size int64) (*IDXArray, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("data: idx %s: reading magic: %w", name, noEOF(err))
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, fmt.Errorf("data: idx %s: bad magic %#x, want 0x0000TTNN", name, binary.BigEndian.Uint32(hdr[:]))
	}
	if hdr[2] != 0x08 {
		return nil, fmt.Errorf("data: idx %s: element type %#x not supported (only unsigned byte 0x08)", name, hdr[2])
	}
	nd := int(hdr[3])
	if nd < 1 || nd > 4 {
		return nil, fmt.Errorf("data: idx %s: %d dimensions, want 1 to 4", name, nd)
	}
	dimb := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, dimb); err != nil {
		return nil, fmt.Errorf("data: idx %s: reading %d dimensions: %w", name, nd, noEOF(err))
	}
	dims := make([]int, nd)
	total := int64(1)
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(dimb[4*i:]))
		if d == 0 || d > maxIDXBytes {
			return nil, fmt.Errorf("data: idx %s: dimension %d is %d", name, i, d)
		}
		total *= d
		if total > maxIDXBytes {
			return nil, fmt.Errorf("data: idx %s: header announces more than %d bytes", name, maxIDXBytes)
		}
		dims[i] = int(d)
	}
	hdrLen := int64(4 + 4*nd)
	if size >= 0 {
		if size != hdrLen+total {
			return nil, fmt.Errorf("data: idx %s: header %v needs %d data bytes but the file has %d", name, dims, total, size-hdrLen)
		}
		data := make([]byte, total)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("data: idx %s: %w", name, noEOF(err))
		}
		return &IDXArray{Dims: dims, Data: data}, nil
	}
	// Unknown length (gzip): grow only as data actually arrives.
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, total+1))
	if err != nil {
		return nil, fmt.Errorf("data: idx %s: %w", name, noEOF(err))
	}
	if n != total {
		if n > total {
			return nil, fmt.Errorf("data: idx %s: trailing data after the %d bytes announced by header %v", name, total, dims)
		}
		return nil, fmt.Errorf("data: idx %s: header %v needs %d data bytes but only %d are present (truncated)", name, dims, total, n)
	}
	return &IDXArray{Dims: dims, Data: buf.Bytes()}, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// IDX is an image dataset from a pair of IDX files: images (N×H×W
// unsigned bytes) and labels (N unsigned bytes), e.g. MNIST or
// Fashion-MNIST. Images are 1-channel.
type IDX struct {
	name    string
	n, h, w int
	images  []uint8
	labels  []uint8
	classes []string
}

// NewIDX reads an images file and a labels file (gzipped or not).
// classes names the classes; nil gives "0"…"max label".
func NewIDX(imagesPath, labelsPath string, classes []string) (*IDX, error) {
	im, err := ReadIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	lb, err := ReadIDXFile(labelsPath)
	if err != nil {
		return nil, err
	}
	return newIDX(imagesPath, labelsPath, im, lb, classes)
}

// NewIDXBytes is NewIDX on in-memory files.
func NewIDXBytes(imagesName string, images []byte, labelsName string, labels []byte, classes []string) (*IDX, error) {
	im, err := ParseIDX(imagesName, images)
	if err != nil {
		return nil, err
	}
	lb, err := ParseIDX(labelsName, labels)
	if err != nil {
		return nil, err
	}
	return newIDX(imagesName, labelsName, im, lb, classes)
}

func newIDX(imName, lbName string, im, lb *IDXArray, classes []string) (*IDX, error) {
	if len(im.Dims) != 3 {
		return nil, fmt.Errorf("data: idx %s: images have dims %v, want N×H×W", imName, im.Dims)
	}
	if len(lb.Dims) != 1 {
		return nil, fmt.Errorf("data: idx %s: labels have dims %v, want N", lbName, lb.Dims)
	}
	if im.Dims[0] != lb.Dims[0] {
		return nil, fmt.Errorf("data: idx %s has %d images but %s has %d labels", imName, im.Dims[0], lbName, lb.Dims[0])
	}
	maxl := 0
	for _, l := range lb.Data {
		maxl = max(maxl, int(l))
	}
	if classes == nil {
		classes = numberedClasses(maxl + 1)
	} else if maxl >= len(classes) {
		return nil, fmt.Errorf("data: idx %s: label %d but only %d classes", lbName, maxl, len(classes))
	}
	return &IDX{name: imName, n: im.Dims[0], h: im.Dims[1], w: im.Dims[2], images: im.Data, labels: lb.Data, classes: classes}, nil
}

func (d *IDX) Len() int          { return d.n }
func (d *IDX) Classes() []string { return d.classes }
func (d *IDX) Label(i int) int   { return int(d.labels[i]) }
func (d *IDX) Name(i int) string { return fmt.Sprintf("%s#%d", d.name, i) }

// Item returns image i as a 1-channel Image sharing the dataset's memory.
// Sample.Name is left empty so that Item does not allocate; Name(i)
// gives it.
func (d *IDX) Item(i int) (Sample, error) {
	if i < 0 || i >= d.n {
		return Sample{}, fmt.Errorf("data: idx %s: index %d out of range [0,%d)", d.name, i, d.n)
	}
	sz := d.h * d.w
	return Sample{
		Image: Image{W: d.w, H: d.h, C: 1, Pix: d.images[i*sz : (i+1)*sz : (i+1)*sz]},
		Label: int(d.labels[i]),
	}, nil
}
