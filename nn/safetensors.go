package nn

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/mocogo/mocogo/internal/regularfile"
)

// The safetensors format (huggingface/safetensors): an 8-byte
// little-endian header length n, n bytes of a JSON object mapping each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section) plus an optional "__metadata__" object of
// strings, then the data section of little-endian elements. The tensors
// must cover the data section exactly, without holes or overlaps.

// maxHeader bounds the JSON header, as the reference implementation does.
const maxHeader = 100 << 20

// dtypeSizes are the element sizes of the safetensors dtypes.
var dtypeSizes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"U16": 2, "I16": 2, "F16": 2, "BF16": 2,
	"U32": 4, "I32": 4, "F32": 4,
	"U64": 8, "I64": 8, "F64": 8,
}

// STensor is one tensor of a safetensors file: its dtype name ("F32",
// "F64", "BF16", …), shape and raw little-endian bytes.
type STensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// SafeFile is a parsed safetensors file.
type SafeFile struct {
	Tensors  []STensor // in the order of their data
	Metadata map[string]string
}

// Get returns the tensor named name.
func (f *SafeFile) Get(name string) (STensor, bool) {
	i := slices.IndexFunc(f.Tensors, func(t STensor) bool { return t.Name == name })
	if i < 0 {
		return STensor{}, false
	}
	return f.Tensors[i], true
}

// Float64s converts a floating-point tensor (F64, F32, F16, BF16) to
// float64 values.
func (t STensor) Float64s() ([]float64, error) {
	size, ok := dtypeSizes[t.DType]
	if !ok {
		return nil, fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n := len(t.Data) / size
	out := make([]float64, n)
	d := t.Data
	switch t.DType {
	case "F64":
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:]))
		}
	case "F32":
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:])))
		}
	case "BF16":
		for i := range out {
			out[i] = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[2*i:])) << 16))
		}
	case "F16":
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(d[2*i:]))
		}
	default:
		return nil, fmt.Errorf("tensor %q: dtype %s is not a floating-point type", t.Name, t.DType)
	}
	return out, nil
}

func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * frac * math.Ldexp(1, -24)
	case 0x1f:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * (1 + frac/1024) * math.Ldexp(1, exp-15)
}

// F32Tensor packs values as an F32 tensor.
func F32Tensor(name string, shape []int, values []float64) STensor {
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
	}
	return STensor{Name: name, DType: "F32", Shape: slices.Clone(shape), Data: b}
}

// F64Tensor packs values as an F64 tensor.
func F64Tensor(name string, shape []int, values []float64) STensor {
	b := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return STensor{Name: name, DType: "F64", Shape: slices.Clone(shape), Data: b}
}

type headerEntry struct {
	DType   *string  `json:"dtype"`
	Shape   *[]int64 `json:"shape"`
	Offsets *[]int64 `json:"data_offsets"`
}

// ParseSafetensors parses a whole file held in b. Every header field is
// checked against the file's length before anything is allocated from
// it; the tensors' Data alias b.
func ParseSafetensors(b []byte) (*SafeFile, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("safetensors: file of %d bytes is shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	rest := uint64(len(b) - 8)
	switch {
	case n == 0:
		return nil, errors.New("safetensors: header length is 0")
	case n > maxHeader:
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, maxHeader)
	case n > rest:
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after it (truncated file?)", n, rest)
	}
	header := b[8 : 8+n]
	data := b[8+n:]
	if !utf8.Valid(header) {
		return nil, errors.New("safetensors: header is not valid UTF-8")
	}
	if header[0] != '{' {
		return nil, fmt.Errorf("safetensors: header does not start with '{' (got %q)", header[:min(len(header), 8)])
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	f := &SafeFile{}
	seen := map[string]bool{}
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors: header: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("safetensors: header: key %v is not a string", tok)
		}
		if seen[name] {
			return nil, fmt.Errorf("safetensors: tensor %q: listed twice in the header", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("safetensors: header entry %q: %w", name, err)
		}
		if name == "__metadata__" {
			if err := json.Unmarshal(raw, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		h, err := parseEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %w", name, err)
		}
		if h.DType == nil || h.Shape == nil || h.Offsets == nil {
			return nil, fmt.Errorf("safetensors: tensor %q: header entry needs dtype, shape and data_offsets", name)
		}
		size, ok := dtypeSizes[*h.DType]
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, *h.DType)
		}
		if len(*h.Offsets) != 2 {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets has %d values, want 2", name, len(*h.Offsets))
		}
		begin, end := (*h.Offsets)[0], (*h.Offsets)[1]
		if begin < 0 || end < begin || uint64(end) > uint64(len(data)) {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] outside the %d-byte data section (truncated file?)", name, begin, end, len(data))
		}
		// The element count, bounded by the bytes there are.
		count := int64(1)
		shape := make([]int, len(*h.Shape))
		for i, d := range *h.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", name, *h.Shape)
			}
			if d != 0 && count > int64(len(data))/d {
				count = -1 // larger than the file: cannot match
			} else if count >= 0 {
				count *= d
			}
			shape[i] = int(d)
		}
		if count < 0 || count*int64(size) != end-begin {
			return nil, fmt.Errorf("safetensors: tensor %q: %s shape %v needs %s bytes but data_offsets [%d, %d] hold %d",
				name, *h.DType, *h.Shape, byteCount(count, size), begin, end, end-begin)
		}
		f.Tensors = append(f.Tensors, STensor{Name: name, DType: *h.DType, Shape: shape, Data: data[begin:end:end]})
		spans = append(spans, span{name, begin, end})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	// Only padding may follow the object.
	if tail := bytes.TrimRight(header[dec.InputOffset():], " \t\r\n"); len(tail) > 0 {
		return nil, fmt.Errorf("safetensors: header: %d bytes of trailing data after the JSON object", len(tail))
	}
	// The tensors must tile the data section.
	order := make([]int, len(spans))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(spans[a].begin, spans[b].begin), cmp.Compare(spans[a].end, spans[b].end))
	})
	pos := int64(0)
	sorted := make([]STensor, len(order))
	for i, j := range order {
		s := spans[j]
		if s.begin != pos {
			if s.begin < pos {
				return nil, fmt.Errorf("safetensors: tensor %q: data [%d, %d] overlaps the tensor before it", s.name, s.begin, s.end)
			}
			return nil, fmt.Errorf("safetensors: tensor %q: data starts at %d, leaving a hole after %d", s.name, s.begin, pos)
		}
		pos = s.end
		sorted[i] = f.Tensors[j]
	}
	if pos != int64(len(data)) {
		return nil, fmt.Errorf("safetensors: the tensors cover %d of the %d bytes of data (trailing bytes)", pos, len(data))
	}
	f.Tensors = sorted
	return f, nil
}

// parseEntry decodes a tensor's header entry with exact, case-sensitive
// field names (encoding/json alone would take "DType" for "dtype") and no
// unknown fields.
func parseEntry(raw []byte) (headerEntry, error) {
	var h headerEntry
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return h, err
	}
	for k, v := range fields {
		var dst any
		switch k {
		case "dtype":
			h.DType = new(string)
			dst = h.DType
		case "shape":
			h.Shape = new([]int64)
			dst = h.Shape
		case "data_offsets":
			h.Offsets = new([]int64)
			dst = h.Offsets
		default:
			return h, fmt.Errorf("unknown field %q", k)
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return h, fmt.Errorf("%s: %w", k, err)
		}
	}
	return h, nil
}

func byteCount(count int64, size int) string {
	if count < 0 {
		return "more"
	}
	return strconv.FormatInt(count*int64(size), 10)
}

// ReadSafetensors reads and parses the file at path.
func ReadSafetensors(path string) (*SafeFile, error) {
	b, err := regularfile.Read(path, nil)
	if err != nil {
		return nil, err
	}
	f, err := ParseSafetensors(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// EncodeSafetensors writes tensors (in the given order) and metadata to w.
func EncodeSafetensors(w io.Writer, tensors []STensor, metadata map[string]string) error {
	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata)
		if err != nil {
			return err
		}
		h.WriteString(`"__metadata__":`)
		h.Write(m)
	}
	seen := map[string]bool{}
	off := 0
	for i, t := range tensors {
		size, ok := dtypeSizes[t.DType]
		if !ok {
			return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		if t.Name == "__metadata__" || seen[t.Name] {
			return fmt.Errorf("safetensors: tensor name %q repeated or reserved", t.Name)
		}
		seen[t.Name] = true
		if numel(t.Shape)*size != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, have %d", t.Name, t.Shape, t.DType, numel(t.Shape)*size, len(t.Data))
		}
		if i > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sh, _ := json.Marshal(shape)
		fmt.Fprintf(&h, `%s:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, t.DType, sh, off, off+len(t.Data))
		off += len(t.Data)
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 { // align the data section
		h.WriteByte(' ')
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(h.Len()))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// WriteSafetensors writes a safetensors file atomically: to a temporary
// file in the same directory, synced, renamed over path, and the
// directory synced, so path holds either the old file or the whole new
// one.
func WriteSafetensors(path string, tensors []STensor, metadata map[string]string) error {
	return writeAtomic(path, func(w io.Writer) error { return EncodeSafetensors(w, tensors, metadata) })
}

func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil { // CreateTemp makes it 0600
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
