package nn

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const officialFixture = "../testdata/golden/mocov3_tiny.pth.tar"

func TestReadTorchOfficial(t *testing.T) {
	f, err := ReadTorch(officialFixture)
	require.NoError(t, err)
	assert.Equal(t, "vit_tiny_16px", f.Metadata["arch"])
	assert.Equal(t, "3", f.Metadata["epoch"])
	cls, ok := f.Get("module.base_encoder.cls_token")
	require.True(t, ok)
	assert.Equal(t, "F32", cls.DType)
	assert.Equal(t, []int{1, 1, 16}, cls.Shape)
	nb, ok := f.Get("module.predictor.1.num_batches_tracked")
	require.True(t, ok)
	assert.Equal(t, "I64", nb.DType)
	assert.Equal(t, []byte{9, 0, 0, 0, 0, 0, 0, 0}, nb.Data) // 7, then two forwards
	qkv, ok := f.Get("module.momentum_encoder.blocks.1.attn.qkv.weight")
	require.True(t, ok)
	assert.Equal(t, []int{48, 16}, qkv.Shape)
	assert.Len(t, qkv.Data, 48*16*4)
	assert.Len(t, f.Tensors, 102)
}

func TestReadTorchDeiT(t *testing.T) {
	f, err := ReadTorch("../testdata/golden/deit_tiny.pth")
	require.NoError(t, err)
	assert.Equal(t, "299", f.Metadata["epoch"])
	h, ok := f.Get("head.weight")
	require.True(t, ok)
	assert.Equal(t, []int{10, 16}, h.Shape)
}

// rezip rewrites a torch zip with edit applied to each record's bytes.
func rezip(t require.TestingT, src []byte, edit func(name string, b []byte) []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	require.NoError(t, err)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		var b bytes.Buffer
		_, err = b.ReadFrom(rc)
		require.NoError(t, err)
		nb := edit(f.Name, b.Bytes())
		if nb == nil {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		require.NoError(t, err)
		_, err = w.Write(nb)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return out.Bytes()
}

func TestReadTorchDamaged(t *testing.T) {
	good, err := os.ReadFile(officialFixture)
	require.NoError(t, err)
	cases := map[string]struct {
		data []byte
		want string
	}{
		"truncated":  {good[:len(good)/2], "not a PyTorch zip checkpoint"},
		"safetensor": {[]byte("\x08\x00\x00\x00\x00\x00\x00\x00{}      "), "no zip signature"},
		"no pickle": {rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return nil
			}
			return b
		}), "no <name>/data.pkl"},
		"short storage": {rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "/data/0") {
				return b[:len(b)-4]
			}
			return b
		}), "does not fit its"},
		"missing storage": {rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "/data/3") {
				return nil
			}
			return b
		}), "storage \"3\" is not in the archive"},
		"pickle cut": {rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return b[:len(b)/2]
			}
			return b
		}), "data.pkl"},
		"huge string": {rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return []byte("\x80\x02X\xff\xff\xff\x7f.")
			}
			return b
		}), "needs 2147483651 bytes"},
		"huge frame": {rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return []byte("\x950000 \x00\x00\x00.") // found by FuzzPickle
			}
			return b
		}), "1 remain"},
		"not a dict": {rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return []byte("\x80\x02K\x05.")
			}
			return b
		}), "holds a int, not a dict"},
		"no tensors": {rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return []byte("\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.")
			}
			return b
		}), "no tensors"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				_, err := ParseTorch(c.data)
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.want)
			})
		})
	}
	// Flipping each byte of the pickle never panics.
	var pkl []byte
	rezip(t, good, func(n string, b []byte) []byte {
		if strings.HasSuffix(n, "data.pkl") {
			pkl = bytes.Clone(b)
		}
		return b
	})
	for i := 0; i < len(pkl); i += 29 {
		bad := rezip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				b = bytes.Clone(b)
				b[i] ^= 0x5a
			}
			return b
		})
		require.NotPanics(t, func() { ParseTorch(bad) }, "byte %d", i)
	}
}

// TestReadTorchStrided: a strided view is saved with its whole storage
// and an offset; only its own elements come out.
func TestReadTorchStrided(t *testing.T) {
	f, err := ReadTorch("../testdata/golden/small_state.pth")
	require.NoError(t, err)
	require.Len(t, f.Tensors, 3)
	w, _ := f.Get("w")
	vals, err := w.Float64s()
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 1, 2, 3, 4, 5}, vals)
	assert.Equal(t, []int{2, 3}, w.Shape)
	v, _ := f.Get("v")
	vals, err = v.Float64s()
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 4, 7}, vals)
	n, _ := f.Get("n")
	assert.Equal(t, "I64", n.DType)
	assert.Empty(t, n.Shape)
	assert.Equal(t, []byte{5, 0, 0, 0, 0, 0, 0, 0}, n.Data)
}

func TestReadTorchFile(t *testing.T) {
	_, err := ReadTorch(filepath.Join(t.TempDir(), "none.pth"))
	assert.ErrorContains(t, err, "no such file")
	_, err = ReadTorch(t.TempDir())
	assert.ErrorContains(t, err, "not a regular file")
}

// FuzzTorch fuzzes whole files; its seed is small (1.3 kB) so that
// mutations reach the zip, the pickle and the tensor checks alike.
func FuzzTorch(f *testing.F) {
	small, err := os.ReadFile("../testdata/golden/small_state.pth")
	require.NoError(f, err)
	f.Add(small)
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := ParseTorch(b)
		if err != nil {
			return
		}
		for _, tn := range sf.Tensors {
			if numel(tn.Shape)*dtypeSizes[tn.DType] != len(tn.Data) {
				t.Fatalf("tensor %q: shape %v %s with %d bytes", tn.Name, tn.Shape, tn.DType, len(tn.Data))
			}
		}
	})
}

// FuzzPickle fuzzes the pickle program alone inside a valid archive (the
// small one, so each run is cheap), so the fuzzer need not rediscover the
// zip format. The seeds are the official checkpoint's pickle (nested
// dicts, OrderedDicts, the optimizer state) and the small file's.
func FuzzPickle(f *testing.F) {
	small, err := os.ReadFile("../testdata/golden/small_state.pth")
	require.NoError(f, err)
	for _, p := range []string{officialFixture, "../testdata/golden/small_state.pth"} {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		rezip(f, b, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				f.Add(bytes.Clone(b))
			}
			return b
		})
	}
	f.Add([]byte("\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s."))
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) > 1<<20 {
			return
		}
		b := rezip(t, small, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return p
			}
			return b
		})
		sf, err := ParseTorch(b)
		if err != nil {
			return
		}
		for _, tn := range sf.Tensors {
			if numel(tn.Shape)*dtypeSizes[tn.DType] != len(tn.Data) {
				t.Fatalf("tensor %q: shape %v %s with %d bytes", tn.Name, tn.Shape, tn.DType, len(tn.Data))
			}
		}
	})
}
