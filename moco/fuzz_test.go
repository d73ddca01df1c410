package moco

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/nn"
)

// FuzzRunState feeds hostile JSON to the checkpoint metadata reader: it
// must return an error or a state whose config can build a model.
func FuzzRunState(f *testing.F) {
	path := filepath.Join(f.TempDir(), "c.safetensors")
	tr := tinyTrainer(f, fixtureCfg)
	require.NoError(f, tr.SaveCheckpoint(path, RunState{Seed: 1, Data: "d", DataLen: 12}))
	sf, err := nn.ReadSafetensors(path)
	require.NoError(f, err)
	f.Add([]byte(sf.Metadata["mocogo"]))
	f.Add([]byte(`{"format":"mocogo-mocov3-train/2","model":{"ViT":{"ImageSize":1e9}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseRunState(b)
		if err != nil {
			return
		}
		if err := st.Model.Validate(); err != nil {
			t.Fatalf("accepted an invalid model: %v", err)
		}
		if err := st.Train.Validate(); err != nil {
			t.Fatalf("accepted an invalid recipe: %v", err)
		}
	})
}

// FuzzWeights feeds hostile files to what lincls and pretrain read before
// building a model: the format sniffing, the layout detection, the shape
// inference and the checkpoint checks.
func FuzzWeights(f *testing.F) {
	for _, p := range []string{"../testdata/golden/small_state.pth", "../testdata/golden/pth_features.safetensors"} {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	path := filepath.Join(f.TempDir(), "b.safetensors")
	tr := tinyTrainer(f, fixtureCfg)
	require.NoError(f, SaveBackbone(path, tr.Model, nil))
	b, err := os.ReadFile(path)
	require.NoError(f, err)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		wf, err := ParseWeights(b)
		if err != nil {
			return
		}
		_ = wf.VerifyChecksum(false)
		sub, _, err := BackboneTensors(wf)
		if err != nil {
			return
		}
		cfg, err := InferViT(sub, 0)
		if err != nil {
			return
		}
		// What InferViT accepts is backed by the file's own tensors.
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ns := range cfg.StateShapes() {
			k := 1
			for _, d := range ns.Shape {
				k *= d
			}
			n += k
		}
		if n > len(b) { // every element takes at least a byte
			t.Fatalf("config %+v of %d elements from a %d-byte file", cfg, n, len(b))
		}
	})
}
