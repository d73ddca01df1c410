package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mocogo/mocogo/internal/regularfile"
)

// CIFAR10Classes are the CIFAR-10 class names in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CIFAR reads CIFAR-10/100 binary batches: records of label byte(s)
// followed by 3072 bytes of a 32×32 image stored channel by channel
// (1024 R, 1024 G, 1024 B). CIFAR-10 records have one label byte;
// CIFAR-100 records have two (coarse, fine).
type CIFAR struct {
	names      []string // file names
	data       [][]byte // per file
	labelBytes int
	labelIdx   int
	classes    []string
	fileOf     []int32 // item → file
	recOf      []int32 // item → record in file
}

// CIFARFormat describes a record layout.
type CIFARFormat struct {
	LabelBytes int // 1 (CIFAR-10) or 2 (CIFAR-100)
	LabelIndex int // which label byte is the label (CIFAR-100: 0 coarse, 1 fine)
	Classes    []string
}

// CIFAR10Format is the CIFAR-10 binary layout.
var CIFAR10Format = CIFARFormat{LabelBytes: 1, LabelIndex: 0, Classes: CIFAR10Classes}

// CIFAR100Format returns the CIFAR-100 layout with fine (100 classes) or
// coarse (20 classes) labels; class names are "0"…"n-1".
func CIFAR100Format(fine bool) CIFARFormat {
	if fine {
		return CIFARFormat{LabelBytes: 2, LabelIndex: 1, Classes: numberedClasses(100)}
	}
	return CIFARFormat{LabelBytes: 2, LabelIndex: 0, Classes: numberedClasses(20)}
}

// numberedClasses names n classes "0" … "n−1", for formats whose labels
// are bare indices.
func numberedClasses(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}

const cifarPixels = 3 * 32 * 32

// NewCIFAR10 reads CIFAR-10 batches (data_batch_1.bin … or test_batch.bin).
// If batches.meta.txt sits beside the first file its names are used.
func NewCIFAR10(files ...string) (*CIFAR, error) {
	f := CIFAR10Format
	if len(files) > 0 {
		names, err := readNames(filepath.Join(filepath.Dir(files[0]), "batches.meta.txt"))
		if err != nil {
			return nil, err
		}
		if len(names) == 10 {
			f.Classes = names
		}
	}
	return NewCIFAR(f, files...)
}

// NewCIFAR100 reads CIFAR-100 batches (train.bin, test.bin) with fine or
// coarse labels; fine_label_names.txt / coarse_label_names.txt beside the
// first file give the class names when present.
func NewCIFAR100(fine bool, files ...string) (*CIFAR, error) {
	f := CIFAR100Format(fine)
	if len(files) > 0 {
		meta := "coarse_label_names.txt"
		if fine {
			meta = "fine_label_names.txt"
		}
		names, err := readNames(filepath.Join(filepath.Dir(files[0]), meta))
		if err != nil {
			return nil, err
		}
		if len(names) == len(f.Classes) {
			f.Classes = names
		}
	}
	return NewCIFAR(f, files...)
}

// maxNamesBytes bounds a class-names file: names are read from its first
// maxNamesBytes bytes only.
const maxNamesBytes = 1 << 20

// readNames reads the class names in the text file at p, one a line,
// blank lines skipped: none, and no error, where there is no such file.
// A file there that cannot be read, or that is not a regular file, is an
// error: a named pipe would block, and the default names would replace
// the ones meant without a word.
func readNames(p string) ([]string, error) {
	f, _, err := regularfile.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data: cifar class names: %w", err)
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(io.LimitReader(f, maxNamesBytes))
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			names = append(names, l)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("data: cifar class names %s: %w", p, err)
	}
	return names, nil
}

// NewCIFAR reads batch files in the given format.
func NewCIFAR(format CIFARFormat, files ...string) (*CIFAR, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("data: cifar: no files")
	}
	c, err := newCIFAR(format)
	if err != nil {
		return nil, err
	}
	for _, p := range files {
		var sizeErr error
		b, err := regularfile.Read(p, func(size int64) error {
			sizeErr = c.checkSize(p, size)
			return sizeErr
		})
		switch {
		case sizeErr != nil:
			return nil, sizeErr
		case err != nil:
			return nil, fmt.Errorf("data: cifar: %w", err)
		}
		if err := c.add(p, b); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ParseCIFAR reads one batch held in memory; name is used in errors.
func ParseCIFAR(format CIFARFormat, name string, b []byte) (*CIFAR, error) {
	c, err := newCIFAR(format)
	if err != nil {
		return nil, err
	}
	if err := c.checkSize(name, int64(len(b))); err != nil {
		return nil, err
	}
	if err := c.add(name, b); err != nil {
		return nil, err
	}
	return c, nil
}

func newCIFAR(f CIFARFormat) (*CIFAR, error) {
	if f.LabelBytes < 1 || f.LabelIndex < 0 || f.LabelIndex >= f.LabelBytes || len(f.Classes) == 0 || len(f.Classes) > 256 {
		return nil, fmt.Errorf("data: cifar: bad format %+v", f)
	}
	return &CIFAR{labelBytes: f.LabelBytes, labelIdx: f.LabelIndex, classes: f.Classes}, nil
}

func (c *CIFAR) recSize() int { return c.labelBytes + cifarPixels }

func (c *CIFAR) checkSize(name string, size int64) error {
	rs := int64(c.recSize())
	if size == 0 {
		return fmt.Errorf("data: cifar %s: empty file", name)
	}
	if size%rs != 0 {
		return fmt.Errorf("data: cifar %s: size %d is not a multiple of the %d-byte record (%d label byte(s) + 3072); truncated or wrong format", name, size, rs, c.labelBytes)
	}
	if size/rs > 1<<30 {
		return fmt.Errorf("data: cifar %s: too many records", name)
	}
	return nil
}

func (c *CIFAR) add(name string, b []byte) error {
	rs := c.recSize()
	n := len(b) / rs
	for r := 0; r < n; r++ {
		if l := int(b[r*rs+c.labelIdx]); l >= len(c.classes) {
			return fmt.Errorf("data: cifar %s: record %d has label %d, want < %d", name, r, l, len(c.classes))
		}
	}
	fi := int32(len(c.data))
	c.names = append(c.names, name)
	c.data = append(c.data, b)
	for r := 0; r < n; r++ {
		c.fileOf = append(c.fileOf, fi)
		c.recOf = append(c.recOf, int32(r))
	}
	return nil
}

func (c *CIFAR) Len() int          { return len(c.fileOf) }
func (c *CIFAR) Classes() []string { return c.classes }
func (c *CIFAR) Label(i int) int {
	return int(c.data[c.fileOf[i]][int(c.recOf[i])*c.recSize()+c.labelIdx])
}
func (c *CIFAR) Name(i int) string {
	return fmt.Sprintf("%s#%d", c.names[c.fileOf[i]], c.recOf[i])
}

// Item converts record i to a 32×32 RGB image.
func (c *CIFAR) Item(i int) (Sample, error) {
	if i < 0 || i >= len(c.fileOf) {
		return Sample{}, fmt.Errorf("data: cifar: index %d out of range [0,%d)", i, len(c.fileOf))
	}
	off := int(c.recOf[i]) * c.recSize()
	rec := c.data[c.fileOf[i]][off : off+c.recSize()]
	px := rec[c.labelBytes:]
	img := Image{W: 32, H: 32, C: 3, Pix: make([]uint8, cifarPixels)}
	for p := 0; p < 1024; p++ {
		img.Pix[3*p] = px[p]
		img.Pix[3*p+1] = px[1024+p]
		img.Pix[3*p+2] = px[2048+p]
	}
	return Sample{Image: img, Label: int(rec[c.labelIdx]), Name: c.Name(i)}, nil
}
