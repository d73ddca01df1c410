package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
)

func encode(t testing.TB, ts []STensor, meta map[string]string) []byte {
	var b bytes.Buffer
	require.NoError(t, EncodeSafetensors(&b, ts, meta))
	return b.Bytes()
}

// rawFile builds a file from a header string and a data section.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestSafetensorsRoundTrip(t *testing.T) {
	ts := []STensor{
		F32Tensor("blocks.0.attn.qkv.weight", []int{3, 2}, []float64{1, -2, 3.5, 0, 1e-30, -7}),
		F64Tensor("x", []int{2}, []float64{0.1, -1e300}),
		F32Tensor("scalar", []int{}, []float64{42}),
		F32Tensor("empty", []int{0, 4}, nil),
		{Name: "steps", DType: "I64", Shape: []int{1}, Data: []byte{5, 0, 0, 0, 0, 0, 0, 0}},
	}
	meta := map[string]string{"format": "pt", "note": "ü \"quoted\""}
	b := encode(t, ts, meta)
	n := binary.LittleEndian.Uint64(b)
	assert.Zero(t, (8+n)%8, "data section aligned to 8 bytes")
	f, err := ParseSafetensors(b)
	require.NoError(t, err)
	assert.Equal(t, meta, f.Metadata)
	require.Len(t, f.Tensors, len(ts))
	for i, want := range ts {
		got := f.Tensors[i]
		assert.Equal(t, want.Name, got.Name)
		assert.Equal(t, want.DType, got.DType)
		assert.Equal(t, len(want.Shape), len(got.Shape), want.Name)
		assert.Equal(t, want.Data, append([]byte{}, got.Data...), want.Name)
	}
	v, err := f.Tensors[0].Float64s()
	require.NoError(t, err)
	assert.Equal(t, []float64{1, -2, 3.5, 0, float64(float32(1e-30)), -7}, v)
	_, err = f.Tensors[4].Float64s()
	assert.ErrorContains(t, err, "not a floating-point")

	// Half precision: 1, -2, 65504, the smallest subnormal, +Inf.
	h := STensor{Name: "h", DType: "F16", Shape: []int{5}, Data: []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x7c}}
	hv, err := h.Float64s()
	require.NoError(t, err)
	assert.Equal(t, []float64{1, -2, 65504, 5.960464477539063e-08}, hv[:4])
	assert.True(t, hv[4] > 1e308)
	bf := STensor{Name: "b", DType: "BF16", Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x40, 0xc0}}
	bv, err := bf.Float64s()
	require.NoError(t, err)
	assert.Equal(t, []float64{1, -3}, bv)

	assert.Error(t, EncodeSafetensors(&bytes.Buffer{}, []STensor{{Name: "a", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}}, nil), "data size checked")
	assert.Error(t, EncodeSafetensors(&bytes.Buffer{}, []STensor{ts[1], ts[1]}, nil), "duplicate names refused")
}

func TestSaveLoadViT(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vit.safetensors")
	cfg := Config{ImageSize: 16, PatchSize: 4, Dim: 32, Depth: 2, Heads: 2}
	e := engine.New(engine.NewCPU(engine.F32))
	a, err := NewViT(e, cfg, NewRNG(1))
	require.NoError(t, err)
	require.NoError(t, SaveState(path, a.StateDict(), map[string]string{"arch": "vit"}))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "no temporary file left behind")

	f, err := ReadSafetensors(path)
	require.NoError(t, err)
	assert.Equal(t, "pt", f.Metadata["format"])
	assert.Equal(t, "vit", f.Metadata["arch"])
	w, ok := f.Get("patch_embed.proj.weight")
	require.True(t, ok)
	assert.Equal(t, []int{32, 3, 4, 4}, w.Shape, "conv weight stored as [D, C, p, p]")
	assert.Equal(t, "F32", w.DType)
	for _, k := range []string{"cls_token", "pos_embed", "blocks.1.mlp.fc2.bias", "norm.weight", "blocks.0.attn.qkv.weight"} {
		_, ok := f.Get(k)
		assert.True(t, ok, k)
	}

	b, err := NewViT(e, cfg, NewRNG(2))
	require.NoError(t, err)
	rep, err := LoadState(path, b.StateDict(), true)
	require.NoError(t, err)
	assert.True(t, rep.OK())
	assert.Len(t, rep.Loaded, len(a.StateDict()))
	for i, p := range a.StateDict() {
		assert.Equal(t, p.Tensor.Data(), b.StateDict()[i].Tensor.Data(), p.Name)
	}
	// Overwriting is atomic and leaves one file.
	require.NoError(t, SaveState(path, b.StateDict(), nil))
	entries, _ = os.ReadDir(dir)
	assert.Len(t, entries, 1)
	assert.Error(t, SaveState(filepath.Join(dir, "no", "such", "dir.safetensors"), a.StateDict(), nil))
}

func TestLoadReportsMismatches(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F32))
	v, err := NewViT(e, Config{ImageSize: 16, PatchSize: 8, Dim: 16, Depth: 1, Heads: 2}, NewRNG(1))
	require.NoError(t, err)
	ts, err := StateTensors(v.StateDict(), "F32")
	require.NoError(t, err)
	var edited []STensor
	for _, s := range ts {
		switch s.Name {
		case "norm.bias": // dropped: missing
		case "norm.weight": // wrong shape
			edited = append(edited, F32Tensor(s.Name, []int{17}, make([]float64, 17)))
		case "cls_token": // wrong dtype
			edited = append(edited, STensor{Name: s.Name, DType: "I32", Shape: s.Shape, Data: s.Data})
		default:
			edited = append(edited, s)
		}
	}
	edited = append(edited, F32Tensor("head.weight", []int{2, 16}, make([]float64, 32)))
	f, err := ParseSafetensors(encode(t, edited, nil))
	require.NoError(t, err)

	before := v.Blocks[0].Attn.QKV.Weight.Data()
	zero := make([]float64, v.Blocks[0].Attn.QKV.Weight.Len())
	v.Blocks[0].Attn.QKV.Weight.SetFloat64s(zero)
	rep, err := f.LoadInto(v.StateDict(), true)
	require.ErrorIs(t, err, ErrStateMismatch)
	assert.Equal(t, []string{"norm.bias"}, rep.Missing)
	assert.Equal(t, []string{"head.weight"}, rep.Unexpected)
	require.Len(t, rep.Mismatched, 2)
	assert.Contains(t, rep.Mismatched[0], "cls_token: dtype I32")
	assert.Contains(t, rep.Mismatched[1], "norm.weight: shape [17] in the file, [16] in the model")
	assert.Empty(t, rep.Loaded, "a strict load that fails loads nothing")
	assert.Equal(t, make([]float32, len(zero)), v.Blocks[0].Attn.QKV.Weight.Data())
	for _, s := range []string{"missing: norm.bias", "unexpected: head.weight", "mismatched"} {
		assert.Contains(t, err.Error(), s)
	}

	rep, err = f.LoadInto(v.StateDict(), false)
	require.NoError(t, err)
	assert.Len(t, rep.Loaded, len(v.StateDict())-3)
	assert.Equal(t, before, v.Blocks[0].Attn.QKV.Weight.Data(), "a lenient load loads what matches")
}

func TestSafetensorsCorruptFiles(t *testing.T) {
	good := encode(t, []STensor{
		F32Tensor("a", []int{2, 2}, []float64{1, 2, 3, 4}),
		F64Tensor("b", []int{3}, []float64{5, 6, 7}),
	}, map[string]string{"k": "v"})
	hugeLen := append([]byte{}, good...)
	binary.LittleEndian.PutUint64(hugeLen, 1<<62)
	pastLen := append([]byte{}, good...)
	binary.LittleEndian.PutUint64(pastLen, uint64(len(good)))

	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "shorter than the 8-byte header length"},
		{"short", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"truncated in data", good[:len(good)-5], "tensor \"b\""},
		{"truncated in header", good[:30], "exceeds the 22 bytes after it"},
		{"zero header length", rawFile("", nil), "header length is 0"},
		{"huge header length", hugeLen, "exceeds the 104857600-byte limit"},
		{"header length past the end", pastLen, "truncated file"},
		{"not json", rawFile("{not json}", nil), "header"},
		{"not an object", rawFile("[1,2]   ", nil), "does not start with '{'"},
		{"offsets past the end", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}`, make([]byte, 8)), `tensor "a": data_offsets [0, 16] outside the 8-byte data section`},
		{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, make([]byte, 8)), `tensor "a": data_offsets`},
		{"reversed offsets", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8)), `tensor "a": data_offsets [8, 0]`},
		{"wrong dtype", rawFile(`{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "a": unknown dtype "F33"`},
		{"dtype not a string", rawFile(`{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "a": bad header entry`},
		{"size mismatch", rawFile(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "a": F64 shape [2] needs 16 bytes but data_offsets [0, 8] hold 8`},
		{"huge shape", rawFile(`{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,4],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "a"`},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "a": negative dimension`},
		{"missing field", rawFile(`{"a":{"dtype":"F32","shape":[2]}}`, make([]byte, 8)), `tensor "a": header entry needs dtype, shape and data_offsets`},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, make([]byte, 8)), `tensor "a": data_offsets has 3 values`},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `tensor "b": data [4, 8] overlaps`},
		{"hole", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `tensor "a": data starts at 4, leaving a hole`},
		{"trailing data bytes", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), "cover 4 of the 8 bytes"},
		{"duplicate name", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `tensor "a": listed twice`},
		{"bad metadata", rawFile(`{"__metadata__":{"k":1}}`, nil), "__metadata__ must map strings to strings"},
		{"trailing json", rawFile(`{} {}`, nil), "trailing data"},
		{"bad utf8", rawFile("{\"\xff\":1}", nil), "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, err = ParseSafetensors(tc.file) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	f, err := ParseSafetensors(rawFile(`{}      `, nil))
	require.NoError(t, err, "an empty file with padding is valid")
	assert.Empty(t, f.Tensors)

	// A file on disk: the path is named, and a wrong file never panics
	// a load.
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.safetensors")
	require.NoError(t, os.WriteFile(p, good[:len(good)-1], 0o644))
	e := engine.New(engine.NewCPU(engine.F32))
	v, err := NewViT(e, Config{ImageSize: 16, PatchSize: 8, Dim: 16, Depth: 1, Heads: 2}, NewRNG(1))
	require.NoError(t, err)
	_, err = LoadState(p, v.StateDict(), true)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), p), err.Error())
	_, err = LoadState(filepath.Join(dir, "none"), v.StateDict(), true)
	assert.True(t, errors.Is(err, os.ErrNotExist))
	require.NoError(t, os.WriteFile(p, good, 0o644))
	rep, err := LoadState(p, v.StateDict(), true)
	require.Error(t, err, "a file of other tensors")
	assert.Len(t, rep.Unexpected, 2)
}

// FuzzSafetensors: no input makes the parser panic, and whatever it
// accepts re-encodes to a file it parses to the same tensors.
func FuzzSafetensors(f *testing.F) {
	f.Add(encode(f, []STensor{F32Tensor("a", []int{2}, []float64{1, 2})}, map[string]string{"format": "pt"}))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := ParseSafetensors(b)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := EncodeSafetensors(&buf, sf.Tensors, sf.Metadata); err != nil {
			t.Fatalf("re-encoding an accepted file: %v", err)
		}
		sf2, err := ParseSafetensors(buf.Bytes())
		if err != nil {
			t.Fatalf("re-parsing: %v", err)
		}
		if len(sf2.Tensors) != len(sf.Tensors) {
			t.Fatalf("%d tensors became %d", len(sf.Tensors), len(sf2.Tensors))
		}
		for i := range sf.Tensors {
			a, c := sf.Tensors[i], sf2.Tensors[i]
			if a.Name != c.Name || a.DType != c.DType || !bytes.Equal(a.Data, c.Data) || len(a.Shape) != len(c.Shape) {
				t.Fatalf("tensor %q changed in a round trip", a.Name)
			}
		}
	})
}
