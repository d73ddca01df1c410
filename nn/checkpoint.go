package nn

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// StateTensors packs named tensors for a safetensors file in dtype "F32"
// (what timm and PyTorch load) or "F64".
func StateTensors(ns []Named, dtype string) ([]STensor, error) {
	var pack func(string, []int, []float64) STensor
	switch dtype {
	case "F32":
		pack = F32Tensor
	case "F64":
		pack = F64Tensor
	default:
		return nil, fmt.Errorf("nn: cannot save tensors as %q (want F32 or F64)", dtype)
	}
	out := make([]STensor, len(ns))
	for i, n := range ns {
		out[i] = pack(n.Name, n.Tensor.Shape(), n.Tensor.Float64s())
	}
	return out, nil
}

// SaveState writes ns (a module's StateDict, keys as they are) to path as
// float32 safetensors, atomically. A timm model with the same
// architecture loads the ViT's file with load_state_dict.
func SaveState(path string, ns []Named, metadata map[string]string) error {
	ts, err := StateTensors(ns, "F32")
	if err != nil {
		return err
	}
	if metadata == nil {
		metadata = map[string]string{}
	}
	if _, ok := metadata["format"]; !ok {
		metadata["format"] = "pt"
	}
	return WriteSealed(path, ts, metadata)
}

// LoadReport says how a file's tensors matched a module's.
type LoadReport struct {
	Loaded     []string // names copied into the module
	Missing    []string // in the module, not in the file
	Unexpected []string // in the file, not in the module
	Mismatched []string // in both, with the wrong shape or dtype: "name: why"
}

// OK reports a perfect match.
func (r *LoadReport) OK() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.Mismatched) == 0
}

func (r *LoadReport) String() string {
	var parts []string
	list := func(what string, xs []string) {
		if len(xs) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s: %s", len(xs), what, strings.Join(xs, ", ")))
		}
	}
	list("missing", r.Missing)
	list("unexpected", r.Unexpected)
	list("mismatched", r.Mismatched)
	if len(parts) == 0 {
		return fmt.Sprintf("all %d tensors loaded", len(r.Loaded))
	}
	return strings.Join(parts, "; ")
}

// ErrStateMismatch is wrapped by a strict load whose file does not match.
var ErrStateMismatch = errors.New("checkpoint does not match the model")

// LoadInto copies the file's tensors into ns by name. Floating-point
// dtypes (F32, F64, F16, BF16) are converted; shapes must match exactly.
// When strict, any missing, unexpected or mismatched tensor is an error
// and nothing is loaded; otherwise the matching tensors are loaded and
// the rest reported. It never panics on a bad file.
func (f *SafeFile) LoadInto(ns []Named, strict bool) (*LoadReport, error) {
	r := &LoadReport{}
	type job struct {
		dst  Named
		vals []float64
	}
	var jobs []job
	inModel := map[string]bool{}
	for _, n := range ns {
		inModel[n.Name] = true
		t, ok := f.Get(n.Name)
		if !ok {
			r.Missing = append(r.Missing, n.Name)
			continue
		}
		if !slices.Equal(t.Shape, n.Tensor.Shape()) {
			r.Mismatched = append(r.Mismatched, fmt.Sprintf("%s: shape %v in the file, %v in the model", n.Name, t.Shape, n.Tensor.Shape()))
			continue
		}
		vals, err := t.Float64s()
		if err != nil {
			r.Mismatched = append(r.Mismatched, fmt.Sprintf("%s: dtype %s in the file, want a floating-point type", n.Name, t.DType))
			continue
		}
		if len(vals) != n.Tensor.Len() {
			r.Mismatched = append(r.Mismatched, fmt.Sprintf("%s: %d bytes of %s for shape %v", n.Name, len(t.Data), t.DType, t.Shape))
			continue
		}
		jobs = append(jobs, job{n, vals})
	}
	for _, t := range f.Tensors {
		if !inModel[t.Name] {
			r.Unexpected = append(r.Unexpected, t.Name)
		}
	}
	if strict && !r.OK() {
		return r, fmt.Errorf("nn: %w: %s", ErrStateMismatch, r)
	}
	for _, j := range jobs {
		j.dst.Tensor.SetFloat64s(j.vals)
		r.Loaded = append(r.Loaded, j.dst.Name)
	}
	return r, nil
}

// LoadState reads the safetensors file at path into ns (see LoadInto).
func LoadState(path string, ns []Named, strict bool) (*LoadReport, error) {
	f, err := ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	r, err := f.LoadInto(ns, strict)
	if err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ChecksumKey is the metadata entry that holds a file's SHA-256 checksum
// (see Checksum).
const ChecksumKey = "sha256"

// Checksum is the hex SHA-256 of everything a safetensors file says: each
// tensor's name, dtype, shape and bytes in order, then every metadata
// entry but ChecksumKey, sorted by key. A flipped bit anywhere in a file
// that still parses changes it.
func Checksum(tensors []STensor, metadata map[string]string) string {
	h := sha256.New()
	var n [8]byte
	str := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, t := range tensors {
		str(t.Name)
		str(t.DType)
		binary.LittleEndian.PutUint64(n[:], uint64(len(t.Shape)))
		h.Write(n[:])
		for _, d := range t.Shape {
			binary.LittleEndian.PutUint64(n[:], uint64(d))
			h.Write(n[:])
		}
		binary.LittleEndian.PutUint64(n[:], uint64(len(t.Data)))
		h.Write(n[:])
		h.Write(t.Data)
	}
	keys := slices.Sorted(maps.Keys(metadata))
	for _, k := range keys {
		if k != ChecksumKey {
			str(k)
			str(metadata[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrChecksum is wrapped by VerifyChecksum's error for a damaged file.
var ErrChecksum = errors.New("checksum mismatch")

// VerifyChecksum checks the file against its ChecksumKey entry. A file
// without one passes unless required (files from other tools have none).
func (f *SafeFile) VerifyChecksum(required bool) error {
	want, ok := f.Metadata[ChecksumKey]
	if !ok {
		if required {
			return fmt.Errorf("nn: no %q entry in the metadata: cannot tell whether the file is intact", ChecksumKey)
		}
		return nil
	}
	if got := Checksum(f.Tensors, f.Metadata); got != want {
		return fmt.Errorf("nn: %w: the file's contents hash to %.16s…, its metadata says %.16s… (damaged or edited file)", ErrChecksum, got, want)
	}
	return nil
}

// WriteSealed writes tensors and metadata to path atomically (see
// WriteSafetensors) with the checksum added to the metadata.
func WriteSealed(path string, tensors []STensor, metadata map[string]string) error {
	meta := maps.Clone(metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[ChecksumKey] = Checksum(tensors, meta)
	return WriteSafetensors(path, tensors, meta)
}
