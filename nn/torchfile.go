package nn

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"path"
	"slices"
	"strings"

	"github.com/mocogo/mocogo/internal/regularfile"
	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// PyTorch checkpoints (torch.save since 1.6, and so the official MoCo v3
// .pth.tar files and timm/DeiT weights) are zip archives: "<root>/data.pkl"
// is a pickle of the saved object whose tensors refer, through pickle's
// persistent ids, to raw little-endian storages "<root>/data/<key>".
//
// The pickle itself is read by github.com/nlpodyssey/gopickle. Around it
// this file checks everything that comes from the file before it costs
// memory: the pickle's opcodes are scanned first so that no length field
// can exceed the bytes there are (gopickle allocates what a length field
// says), a storage must fit in its zip entry, and a tensor in its storage.

// maxPickle bounds data.pkl: a ViT-B checkpoint's pickle (state dict and
// optimizer state, about a thousand tensors) is well under 1 MiB. Each
// opcode byte can cost the unpickler a few dozen bytes of Go values (a
// DUP pushes a reference), so the bound also bounds its memory.
const maxPickle = 16 << 20

// ErrNotTorch is wrapped by ParseTorch's error for files that are not a
// PyTorch zip checkpoint at all.
var ErrNotTorch = errors.New("not a PyTorch zip checkpoint")

// storageRef is a persistent-id storage: where its bytes are and of what.
type storageRef struct {
	dtype string // safetensors dtype name
	key   string
	numel int
}

// torchTensor is what torch._utils._rebuild_tensor_v2 returns here.
type torchTensor struct {
	storage *storageRef
	offset  int
	shape   []int
	stride  []int
}

// storageClass is torch.FloatStorage and friends.
type storageClass struct{ dtype string }

var storageDTypes = map[string]string{
	"FloatStorage": "F32", "DoubleStorage": "F64", "HalfStorage": "F16", "BFloat16Storage": "BF16",
	"LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
	"ByteStorage": "U8", "BoolStorage": "BOOL",
}

type callFunc func(args ...interface{}) (interface{}, error)

func (f callFunc) Call(args ...interface{}) (interface{}, error) { return f(args...) }

// ReadTorch reads a PyTorch zip checkpoint (torch.save) and returns the
// tensors of its state dict as a SafeFile (see ParseTorch).
func ReadTorch(path string) (*SafeFile, error) {
	b, err := regularfile.Read(path, nil)
	if err != nil {
		return nil, err
	}
	f, err := ParseTorch(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// IsTorchZip reports whether b starts like a zip archive (a torch.save
// file) rather than a safetensors file.
func IsTorchZip(b []byte) bool { return len(b) >= 4 && string(b[:4]) == "PK\x03\x04" }

// ParseTorch reads a torch.save zip archive held in b and returns the
// tensors of the state dict it holds, converted to safetensors tensors
// (same dtype, contiguous, little-endian). The state dict is the saved
// object itself when it maps names to tensors, else its "state_dict",
// "model" or "module" entry (the official MoCo v3 checkpoints keep it
// under "state_dict", DeiT's under "model"). Scalar entries beside it
// (epoch, arch) go to Metadata as text. Anything malformed is an error;
// it never panics.
func ParseTorch(b []byte) (f *SafeFile, err error) {
	if !IsTorchZip(b) {
		return nil, fmt.Errorf("torch: %w (no zip signature)", ErrNotTorch)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("torch: %w: %v", ErrNotTorch, err)
	}
	entries := map[string]*zip.File{}
	var pkl *zip.File
	root := ""
	for _, zf := range zr.File {
		entries[zf.Name] = zf
		if path.Base(zf.Name) == "data.pkl" && strings.Count(zf.Name, "/") == 1 {
			if pkl != nil {
				return nil, errors.New("torch: two data.pkl records in the archive")
			}
			pkl, root = zf, path.Dir(zf.Name)
		}
		if path.Base(zf.Name) == "constants.pkl" {
			return nil, errors.New("torch: a TorchScript archive (torch.jit.save), not a torch.save checkpoint")
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("torch: %w (no <name>/data.pkl in the archive)", ErrNotTorch)
	}
	prog, err := readEntry(pkl, maxPickle, int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("torch: data.pkl: %w", err)
	}
	if err := scanPickle(prog); err != nil {
		return nil, fmt.Errorf("torch: data.pkl: %w", err)
	}
	obj, err := unpickle(prog)
	if err != nil {
		return nil, fmt.Errorf("torch: data.pkl: %w", err)
	}
	state, meta, err := findStateDict(obj)
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	f = &SafeFile{Metadata: meta}
	storages := map[string][]byte{}
	for _, e := range state {
		t := e.t
		size := dtypeSizes[t.storage.dtype]
		need := int64(t.storage.numel) * int64(size)
		if need/int64(size) != int64(t.storage.numel) {
			return nil, fmt.Errorf("torch: tensor %q: storage %q of %d elements is too large", e.name, t.storage.key, t.storage.numel)
		}
		raw, ok := storages[t.storage.key]
		if !ok {
			zf := entries[root+"/data/"+t.storage.key]
			if zf == nil {
				return nil, fmt.Errorf("torch: tensor %q: storage %q is not in the archive", e.name, t.storage.key)
			}
			if uint64(need) > zf.UncompressedSize64 {
				return nil, fmt.Errorf("torch: tensor %q: storage %q of %d %s elements does not fit its %d-byte record", e.name, t.storage.key, t.storage.numel, t.storage.dtype, zf.UncompressedSize64)
			}
			if raw, err = readEntry(zf, need, int64(len(b))); err != nil {
				return nil, fmt.Errorf("torch: tensor %q: storage %q: %w", e.name, t.storage.key, err)
			}
			storages[t.storage.key] = raw
		}
		if int64(len(raw)) < need {
			return nil, fmt.Errorf("torch: tensor %q: storage %q has %d bytes, its %d %s elements need %d", e.name, t.storage.key, len(raw), t.storage.numel, t.storage.dtype, need)
		}
		data, err := t.contiguous(raw)
		if err != nil {
			return nil, fmt.Errorf("torch: tensor %q: %w", e.name, err)
		}
		f.Tensors = append(f.Tensors, STensor{Name: e.name, DType: t.storage.dtype, Shape: t.shape, Data: data})
	}
	return f, nil
}

// readEntry reads a zip record of at most limit bytes. A stored record's
// size is checked against the archive's length, a compressed one's
// against what its compressed bytes can expand to, before reading.
func readEntry(zf *zip.File, limit, fileLen int64) ([]byte, error) {
	usize := zf.UncompressedSize64
	switch zf.Method {
	case zip.Store:
		if zf.CompressedSize64 != usize || usize > uint64(fileLen) {
			return nil, fmt.Errorf("record %s claims %d bytes in an archive of %d", zf.Name, usize, fileLen)
		}
	case zip.Deflate:
		if zf.CompressedSize64 > uint64(fileLen) || usize > 1100*zf.CompressedSize64+64 {
			return nil, fmt.Errorf("record %s claims %d bytes from %d compressed", zf.Name, usize, zf.CompressedSize64)
		}
	default:
		return nil, fmt.Errorf("record %s: unsupported zip method %d", zf.Name, zf.Method)
	}
	if usize > uint64(limit) {
		return nil, fmt.Errorf("record %s of %d bytes is larger than the %d expected", zf.Name, usize, limit)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", zf.Name, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(io.LimitReader(rc, int64(usize)))
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", zf.Name, err)
	}
	return out, nil
}

// contiguous copies the tensor's elements out of its storage in row-major
// order, checking that every element lies inside the storage.
func (t *torchTensor) contiguous(raw []byte) ([]byte, error) {
	size := dtypeSizes[t.storage.dtype]
	n := int64(1)
	maxOff := int64(t.offset)
	for i, d := range t.shape {
		if d < 0 || t.stride[i] < 0 {
			return nil, fmt.Errorf("negative size or stride (%v, %v)", t.shape, t.stride)
		}
		if d == 0 {
			return []byte{}, nil
		}
		if n > int64(t.storage.numel) {
			return nil, fmt.Errorf("shape %v has more elements than its storage (%d)", t.shape, t.storage.numel)
		}
		n *= int64(d)
		maxOff += int64(d-1) * int64(t.stride[i])
		if maxOff >= int64(t.storage.numel) {
			return nil, fmt.Errorf("shape %v, stride %v at offset %d reach past the storage's %d elements", t.shape, t.stride, t.offset, t.storage.numel)
		}
	}
	if n > int64(t.storage.numel) || maxOff >= int64(t.storage.numel) {
		return nil, fmt.Errorf("shape %v, stride %v at offset %d do not fit a storage of %d elements", t.shape, t.stride, t.offset, t.storage.numel)
	}
	// The usual case: row-major strides, one copy.
	want := int64(1)
	dense := true
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && int64(t.stride[i]) != want {
			dense = false
		}
		want *= int64(t.shape[i])
	}
	if dense {
		return slices.Clone(raw[int64(t.offset)*int64(size) : (int64(t.offset)+n)*int64(size)]), nil
	}
	out := make([]byte, 0, n*int64(size))
	idx := make([]int, len(t.shape))
	for range n {
		off := t.offset
		for i, v := range idx {
			off += v * t.stride[i]
		}
		out = append(out, raw[off*size:(off+1)*size]...)
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < t.shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, nil
}

// unpickle runs gopickle on a scanned program with the classes a torch
// checkpoint uses; a panic inside the library becomes an error.
func unpickle(prog []byte) (obj interface{}, err error) {
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("malformed pickle (%v)", r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(prog))
	u.FindClass = func(module, name string) (interface{}, error) {
		switch module + "." + name {
		case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
			return callFunc(rebuildTensor), nil
		case "torch._utils._rebuild_parameter":
			return callFunc(func(args ...interface{}) (interface{}, error) {
				if len(args) < 1 {
					return nil, errors.New("_rebuild_parameter without a tensor")
				}
				if _, ok := args[0].(*torchTensor); !ok {
					return nil, fmt.Errorf("_rebuild_parameter of a %T", args[0])
				}
				return args[0], nil
			}), nil
		}
		if module == "torch" {
			if dt, ok := storageDTypes[name]; ok {
				return &storageClass{dt}, nil
			}
		}
		return types.NewGenericClass(module, name), nil
	}
	u.PersistentLoad = func(id interface{}) (interface{}, error) {
		tup, ok := id.(*types.Tuple)
		if !ok || tup.Len() < 5 {
			return nil, fmt.Errorf("persistent id %T is not a storage tuple", id)
		}
		if s, _ := tup.Get(0).(string); s != "storage" {
			return nil, fmt.Errorf("persistent id of kind %v, want \"storage\"", tup.Get(0))
		}
		cls, ok1 := tup.Get(1).(*storageClass)
		key, ok2 := tup.Get(2).(string)
		numel, ok3 := tup.Get(4).(int)
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("storage tuple (%T, %T, %T) is not (storage class, key, size)", tup.Get(1), tup.Get(2), tup.Get(4))
		}
		if numel < 0 {
			return nil, fmt.Errorf("storage %q of negative size %d", key, numel)
		}
		return &storageRef{dtype: cls.dtype, key: key, numel: numel}, nil
	}
	u.GetExtension = func(int) (interface{}, error) { return nil, errors.New("pickle extensions are not supported") }
	u.NextBuffer = func() (interface{}, error) { return nil, errors.New("out-of-band buffers are not supported") }
	return u.Load()
}

// rebuildTensor is torch._utils._rebuild_tensor_v2(storage, offset, size,
// stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensor(args ...interface{}) (interface{}, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor with %d arguments, want at least 4", len(args))
	}
	st, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor of a %T, not a storage", args[0])
	}
	off, ok := args[1].(int)
	if !ok || off < 0 {
		return nil, fmt.Errorf("_rebuild_tensor: storage offset %v", args[1])
	}
	shape, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: size: %w", err)
	}
	stride, err := intTuple(args[3])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: stride: %w", err)
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor: size %v and stride %v differ in rank", shape, stride)
	}
	return &torchTensor{storage: st, offset: off, shape: shape, stride: stride}, nil
}

func intTuple(v interface{}) ([]int, error) {
	tup, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	if tup.Len() > 64 {
		return nil, fmt.Errorf("rank %d", tup.Len())
	}
	out := make([]int, tup.Len())
	for i := range out {
		x, ok := tup.Get(i).(int)
		if !ok || x < 0 || x > math.MaxInt32 {
			return nil, fmt.Errorf("entry %v is not a size", tup.Get(i))
		}
		out[i] = x
	}
	return out, nil
}

type namedTensor struct {
	name string
	t    *torchTensor
}

// dictItems lists a pickled dict's entries in order.
func dictItems(v interface{}) ([][2]interface{}, bool) {
	switch d := v.(type) {
	case *types.Dict:
		out := make([][2]interface{}, 0, d.Len())
		for _, e := range *d {
			out = append(out, [2]interface{}{e.Key, e.Value})
		}
		return out, true
	case *types.OrderedDict:
		out := make([][2]interface{}, 0, d.Len())
		for e := d.List.Front(); e != nil; e = e.Next() {
			en := e.Value.(*types.OrderedDictEntry)
			out = append(out, [2]interface{}{en.Key, en.Value})
		}
		return out, true
	}
	return nil, false
}

// findStateDict picks the name → tensor mapping out of the saved object.
func findStateDict(obj interface{}) ([]namedTensor, map[string]string, error) {
	items, ok := dictItems(obj)
	if !ok {
		return nil, nil, fmt.Errorf("the pickle holds a %s, not a dict", pyType(obj))
	}
	meta := map[string]string{}
	var nested interface{}
	nestedKey := ""
	tensors := 0
	for _, kv := range items {
		k, _ := kv[0].(string)
		switch v := kv[1].(type) {
		case *torchTensor:
			tensors++
		case string:
			meta[k] = v
		case int, float64, bool:
			meta[k] = fmt.Sprint(v)
		case *big.Int:
			meta[k] = v.String()
		default:
			if _, isDict := dictItems(v); isDict && nestedKey == "" && slices.Contains([]string{"state_dict", "model", "module"}, k) {
				nested, nestedKey = v, k
			}
		}
	}
	if tensors == 0 && nested != nil {
		items, _ = dictItems(nested)
	} else if tensors == 0 {
		return nil, nil, errors.New("no tensors and no \"state_dict\", \"model\" or \"module\" entry in the saved dict")
	} else {
		meta = map[string]string{}
	}
	var out []namedTensor
	seen := map[string]bool{}
	for _, kv := range items {
		k, ok := kv[0].(string)
		if !ok {
			return nil, nil, fmt.Errorf("state dict key %v is a %s, not a string", kv[0], pyType(kv[0]))
		}
		t, ok := kv[1].(*torchTensor)
		if !ok {
			return nil, nil, fmt.Errorf("state dict entry %q is a %s, not a tensor", k, pyType(kv[1]))
		}
		if seen[k] {
			return nil, nil, fmt.Errorf("state dict entry %q repeated", k)
		}
		seen[k] = true
		out = append(out, namedTensor{k, t})
	}
	return out, meta, nil
}

func pyType(v interface{}) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case *types.GenericObject:
		return v.Class.Module + "." + v.Class.Name + " object"
	case *types.GenericClass:
		return "class " + v.Module + "." + v.Name
	}
	return fmt.Sprintf("%T", v)
}

// Pickle opcodes with their argument layout, for scanPickle.
const (
	argNone = iota
	argFixed
	argLine
	argTwoLines
	argLen1
	argLen4
	argLen8
)

type opArg struct {
	kind, n int
}

var pickleOps = func() [256]*opArg {
	var t [256]*opArg
	set := func(ops string, a opArg) {
		for i := 0; i < len(ops); i++ {
			a := a
			t[ops[i]] = &a
		}
	}
	// No argument.
	set("(.012NQRabd}el]ostu)\x81\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94\x97\x98", opArg{argNone, 0})
	set("FILPSVgp", opArg{argLine, 0})
	set("ci", opArg{argTwoLines, 0})
	set("Khq\x80\x82", opArg{argFixed, 1})
	set("M\x83", opArg{argFixed, 2})
	set("Jjr\x84", opArg{argFixed, 4})
	set("G\x95", opArg{argFixed, 8})
	set("U\x8a\x8cC", opArg{argLen1, 0})
	set("TX\x8bB", opArg{argLen4, 0})
	set("\x8d\x8e\x96", opArg{argLen8, 0})
	return t
}()

// maxLong bounds LONG4 integers: gopickle decodes them in quadratic time.
const maxLong = 1 << 10

// scanPickle walks the opcodes of a pickle program up to STOP, checking
// that every length field fits in the bytes that follow, so that the
// unpickler never allocates more than the file holds.
func scanPickle(p []byte) error {
	for i := 0; i < len(p); {
		op := p[i]
		a := pickleOps[op]
		if a == nil {
			return fmt.Errorf("unknown pickle opcode 0x%02x at byte %d", op, i)
		}
		i++
		rest := len(p) - i
		var n uint64
		switch a.kind {
		case argNone:
			if op == '.' {
				return nil
			}
			continue
		case argFixed:
			n = uint64(a.n)
		case argLine, argTwoLines:
			lines := 1
			if a.kind == argTwoLines {
				lines = 2
			}
			j := i
			for l := 0; l < lines; l++ {
				k := bytes.IndexByte(p[j:], '\n')
				if k < 0 {
					return fmt.Errorf("pickle opcode %q at byte %d: unterminated line", op, i-1)
				}
				j += k + 1
			}
			i = j
			continue
		case argLen1:
			if rest < 1 {
				return fmt.Errorf("pickle truncated at byte %d", i)
			}
			n = 1 + uint64(p[i])
		case argLen4:
			if rest < 4 {
				return fmt.Errorf("pickle truncated at byte %d", i)
			}
			n = 4 + uint64(binary.LittleEndian.Uint32(p[i:]))
			if op == '\x8b' && n-4 > maxLong {
				return fmt.Errorf("pickle integer of %d bytes at byte %d", n-4, i-1)
			}
		case argLen8:
			if rest < 8 {
				return fmt.Errorf("pickle truncated at byte %d", i)
			}
			n = 8 + binary.LittleEndian.Uint64(p[i:])
			if n < 8 { // overflow
				n = math.MaxUint64
			}
		}
		if n > uint64(rest) {
			return fmt.Errorf("pickle opcode %q at byte %d needs %d bytes, %d remain", op, i-1, n, rest)
		}
		if op == '\x95' { // FRAME: its contents are opcodes, scanned inline
			if size := binary.LittleEndian.Uint64(p[i:]); size > uint64(rest-8) {
				return fmt.Errorf("pickle frame of %d bytes at byte %d, %d remain", size, i-1, rest-8)
			}
			i += 8
			continue
		}
		if op == 'T' && int32(binary.LittleEndian.Uint32(p[i:])) < 0 {
			return fmt.Errorf("pickle string of negative length at byte %d", i-1)
		}
		i += int(n)
	}
	return errors.New("pickle ends without STOP")
}
