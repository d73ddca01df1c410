package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/moco"
	"github.com/mocogo/mocogo/nn"
)

const timmDir = "../../testdata/golden/timm_compat"

// timmArgs is the run that made timmDir/backbone.safetensors: a small ViT
// (32 px, patch 8, width 48, depth 2, 3 heads) pretrained for 2 epochs.
func timmArgs(data, out string) []string {
	return []string{"--data", data, "--out", out, "--arch", "vit_small", "--img", "32", "--patch", "8",
		"--dim", "48", "--depth", "2", "--heads", "3", "--mlp-dim", "64", "--out-dim", "16",
		"--batch", "8", "--epochs", "2", "--warmup", "1", "--holdout", "2", "--lr", "5e-3",
		"--knn-k", "5", "--workers", "2", "--seed", "17"}
}

// TestWriteTimmFixture regenerates the backbone that
// scripts/golden/timm_compat.py loads into a timm-named ViT:
//
//	MOCOGO_WRITE_TIMM_FIXTURE=1 go test ./cmd/pretrain -run TestWriteTimmFixture
//	/usr/bin/python3 scripts/golden/timm_compat.py
func TestWriteTimmFixture(t *testing.T) {
	if os.Getenv("MOCOGO_WRITE_TIMM_FIXTURE") == "" {
		t.Skip("set MOCOGO_WRITE_TIMM_FIXTURE=1 to rewrite " + timmDir)
	}
	data := writeFolder(t, 3, 12, 32)
	out := t.TempDir()
	var sink bytes.Buffer
	require.NoError(t, run(timmArgs(data, out), &sink, &sink))
	b, err := os.ReadFile(filepath.Join(out, "backbone.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(timmDir, "backbone.safetensors"), b, 0o644))
}

// TestTimmCompat checks pretrain's exported backbone against what
// scripts/golden/timm_compat.py got from it in PyTorch: the file loaded
// with strict=True into a ViT with timm's module names, and its cls
// features on the same images agree with ours to 1e-4 relative error.
// It also checks that our ViT-S/16 and ViT-B/16 backbones have exactly
// timm's vit_small_patch16_224 / vit_base_patch16_224 (num_classes=0)
// state-dict keys and shapes, as the script listed them.
func TestTimmCompat(t *testing.T) {
	f, err := nn.ReadSafetensors(filepath.Join(timmDir, "features.safetensors"))
	require.NoError(t, err)
	assert.Equal(t, "strict", f.Metadata["load_state_dict"])
	get := func(name string) ([]float64, []int) {
		st, ok := f.Get(name)
		require.True(t, ok, name)
		v, err := st.Float64s()
		require.NoError(t, err)
		return v, st.Shape
	}
	images, shape := get("images")
	want, _ := get("features")

	backbone := filepath.Join(timmDir, "backbone.safetensors")
	bf, err := nn.ReadSafetensors(backbone)
	require.NoError(t, err)
	cfg, err := moco.InferViT(bf, 3)
	require.NoError(t, err)
	e := engine.New(engine.NewCPU(engine.F32))
	vit, err := nn.NewViT(e, cfg, nn.NewRNG(0))
	require.NoError(t, err)
	require.NoError(t, moco.LoadBackbone(backbone, vit))
	got := vit.Forward(e.FromFloat64(images, shape...)).Float64s()
	require.Len(t, got, len(want))
	var num, den float64
	for i := range want {
		num = math.Max(num, math.Abs(want[i]-got[i]))
		den = math.Max(den, math.Abs(want[i]))
	}
	t.Logf("max |ours − torch| / max |torch| = %.2e over %d features", num/den, len(want))
	assert.LessOrEqual(t, num/den, 1e-4)

	var keys map[string][][]any
	b, err := os.ReadFile(filepath.Join(timmDir, "timm_keys.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &keys))
	for name, cfg := range map[string]nn.Config{
		"vit_small_patch16_224": nn.ViTSmall(224, 16),
		"vit_base_patch16_224":  nn.ViTBase(224, 16),
	} {
		ref := keys[name]
		ours := cfg.StateShapes()
		require.Len(t, ours, len(ref), name)
		refMap := map[string][]int{}
		for _, kv := range ref {
			var s []int
			for _, d := range kv[1].([]any) {
				s = append(s, int(d.(float64)))
			}
			refMap[kv[0].(string)] = s
		}
		for _, ns := range ours {
			assert.Equal(t, refMap[ns.Name], ns.Shape, "%s: %s", name, ns.Name)
		}
	}
}
