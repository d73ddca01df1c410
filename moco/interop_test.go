package moco

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/nn"
)

// The tiny model of scripts/golden/pth_fixture.py.
var fixtureCfg = Config{ViT: nn.Config{ImageSize: 16, PatchSize: 4, Dim: 16, Depth: 2, Heads: 2}, MLPDim: 16, OutDim: 8, Temperature: 0.2}

func golden(t *testing.T, name string) []float64 {
	f, err := nn.ReadSafetensors("../testdata/golden/pth_features.safetensors")
	require.NoError(t, err)
	st, ok := f.Get(name)
	require.True(t, ok, name)
	v, err := st.Float64s()
	require.NoError(t, err)
	return v
}

func maxRelErr(t *testing.T, want, got []float64) float64 {
	require.Equal(t, len(want), len(got))
	var num, den float64
	for i := range want {
		num = math.Max(num, math.Abs(want[i]-got[i]))
		den = math.Max(den, math.Abs(want[i]))
	}
	return num / den
}

// TestImportOfficialCheckpoint loads the official-layout .pth.tar written
// by PyTorch, whole (LoadOfficial) and as a backbone (LoadBackbone, what
// lincls does), and checks the cls features against PyTorch's.
func TestImportOfficialCheckpoint(t *testing.T) {
	const path = "../testdata/golden/mocov3_tiny.pth.tar"
	e := engine.New(engine.NewCPU(engine.F32))
	m, err := New(e, fixtureCfg, nn.NewRNG(0))
	require.NoError(t, err)
	r, err := LoadOfficial(path, m)
	require.NoError(t, err)
	assert.True(t, r.OK(), r.String())
	assert.Len(t, r.Loaded, len(m.StateDict()))

	x := e.FromFloat64(golden(t, "images"), 4, 3, 16, 16)
	want := golden(t, "features")
	assert.Less(t, maxRelErr(t, want, m.Features(x).Float64s()), 1e-4)

	f, err := ReadWeights(path)
	require.NoError(t, err)
	sub, layout, err := BackboneTensors(f)
	require.NoError(t, err)
	assert.Equal(t, LayoutOfficial, layout)
	cfg, err := InferViT(sub, 0) // width 16: heads not inferable
	require.ErrorContains(t, err, "heads")
	cfg, err = InferViT(sub, 2)
	require.NoError(t, err)
	assert.Equal(t, fixtureCfg.ViT.Normalized(), cfg.Normalized())

	vit, err := nn.NewViT(e, cfg, nn.NewRNG(9))
	require.NoError(t, err)
	require.NoError(t, LoadBackbone(path, vit))
	assert.Less(t, maxRelErr(t, want, vit.Forward(x).Float64s()), 1e-4)
}

// TestImportDeiT loads a timm/DeiT state dict ({"model": …} with a
// classifier head) as a backbone.
func TestImportDeiT(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F32))
	vit, err := nn.NewViT(e, fixtureCfg.ViT, nn.NewRNG(9))
	require.NoError(t, err)
	require.NoError(t, LoadBackbone("../testdata/golden/deit_tiny.pth", vit))
	x := e.FromFloat64(golden(t, "images"), 4, 3, 16, 16)
	assert.Less(t, maxRelErr(t, golden(t, "deit_features"), vit.Forward(x).Float64s()), 1e-4)
}

// TestImportRejects: another architecture, unexpected keys and a file of
// no known layout each give an error that names the problem.
func TestImportRejects(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F32))
	// Another architecture: wider ViT.
	other := fixtureCfg
	other.ViT.Dim = 32
	m, err := New(e, other, nn.NewRNG(0))
	require.NoError(t, err)
	_, err = LoadOfficial("../testdata/golden/mocov3_tiny.pth.tar", m)
	require.ErrorIs(t, err, nn.ErrStateMismatch)
	assert.ErrorContains(t, err, "base_encoder.cls_token: shape [1 1 16] in the file, [1 1 32] in the model")

	// Deeper: the model has blocks the file lacks.
	deeper := fixtureCfg.ViT
	deeper.Depth = 3
	vit, err := nn.NewViT(e, deeper, nn.NewRNG(0))
	require.NoError(t, err)
	err = LoadBackbone("../testdata/golden/mocov3_tiny.pth.tar", vit)
	assert.ErrorContains(t, err, "missing: blocks.2.norm1.weight")

	// Unexpected keys: a state dict with a tensor the model lacks.
	f, err := ReadWeights("../testdata/golden/mocov3_tiny.pth.tar")
	require.NoError(t, err)
	extra := f.Tensors[0]
	extra.Name = "module.base_encoder.blocks.0.attn.rel_pos"
	f.Tensors = append(f.Tensors, extra)
	sub, _, err := BackboneTensors(f)
	require.NoError(t, err)
	vit, err = nn.NewViT(e, fixtureCfg.ViT, nn.NewRNG(0))
	require.NoError(t, err)
	_, err = sub.LoadInto(vit.StateDict(), true)
	assert.ErrorContains(t, err, "1 unexpected: blocks.0.attn.rel_pos")

	// A distilled DeiT (made by PyTorch): dist_token and head_dist are
	// named as unexpected.
	vit, err = nn.NewViT(e, fixtureCfg.ViT, nn.NewRNG(0))
	require.NoError(t, err)
	err = LoadBackbone("../testdata/golden/deit_distilled_tiny.pth", vit)
	require.ErrorIs(t, err, nn.ErrStateMismatch)
	assert.ErrorContains(t, err, "timm/DeiT state dict")
	assert.ErrorContains(t, err, "3 unexpected: dist_token, head_dist.weight, head_dist.bias")

	// No backbone at all.
	_, _, err = BackboneTensors(&nn.SafeFile{Tensors: []nn.STensor{nn.F32Tensor("fc.weight", []int{2, 2}, make([]float64, 4))}})
	assert.ErrorIs(t, err, ErrIncompatible)
	assert.ErrorContains(t, err, `the first keys are ["fc.weight"]`)
}

// tinyTrainer is a trainer of a tiny model that has taken two steps.
func tinyTrainer(t testing.TB, cfg Config) *Trainer {
	e := engine.New(engine.NewCPU(engine.F32))
	m, err := New(e, cfg, nn.NewRNG(4))
	require.NoError(t, err)
	tr, err := NewTrainer(e, m, DefaultTrainConfig(2, 4), 3)
	require.NoError(t, err)
	n := 4 * 3 * 16 * 16
	v := make([]float32, 2*n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)))
	}
	for i := 0; i < 2; i++ {
		_, err := tr.TrainStep(v[:n], v[n:], 4, 16, float64(i)/3)
		require.NoError(t, err)
	}
	return tr
}

// TestCheckpointDamage: a truncated, a bit-flipped and another
// architecture's checkpoint each fail with an error naming the problem.
func TestCheckpointDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint.safetensors")
	tr := tinyTrainer(t, fixtureCfg)
	require.NoError(t, tr.SaveCheckpoint(path, RunState{Seed: 1, Data: "x", DataLen: 12}))
	f, st, err := ReadRunState(path)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Step)
	assert.Equal(t, fixtureCfg, st.Model)
	assert.NotEmpty(t, f.Metadata[nn.ChecksumKey])
	assert.Equal(t, rngScheme, st.RNG)
	assert.Equal(t, 2, st.Health.Steps)
	assert.Greater(t, st.LR, 0.0)

	// It restores into a fresh trainer.
	tr2 := tinyTrainer(t, fixtureCfg)
	require.NoError(t, tr2.RestoreCheckpoint(f, st))

	good, err := os.ReadFile(path)
	require.NoError(t, err)
	write := func(b []byte) string {
		p := filepath.Join(dir, "bad.safetensors")
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	// Truncated.
	_, _, err = ReadRunState(write(good[:len(good)-100]))
	assert.ErrorContains(t, err, "truncated file?")
	_, _, err = ReadRunState(write(good[:5]))
	assert.ErrorContains(t, err, "shorter than the 8-byte header length")
	// A bit flipped in the data, and one in the metadata's step count.
	bad := append([]byte(nil), good...)
	bad[len(bad)-3] ^= 0x10
	_, _, err = ReadRunState(write(bad))
	assert.ErrorIs(t, err, nn.ErrChecksum)
	assert.ErrorContains(t, err, "damaged or edited")
	i := indexOf(good, []byte(`\"step\":2`))
	require.Positive(t, i)
	bad = append([]byte(nil), good...)
	bad[i+len(`\"step\":`)] ^= 0x01 // "2" → "3"
	_, _, err = ReadRunState(write(bad))
	assert.ErrorIs(t, err, nn.ErrChecksum)
	// The backbone loader checks the checksum too.
	vit, err := nn.NewViT(tr.E, fixtureCfg.ViT, nn.NewRNG(0))
	require.NoError(t, err)
	assert.ErrorIs(t, LoadBackbone(write(bad), vit), nn.ErrChecksum)

	// Every single-bit flip of the header is caught without a panic.
	hlen := 8 + (int(good[0]) | int(good[1])<<8 | int(good[2])<<16)
	for j := 0; j < hlen; j += 61 {
		bad := append([]byte(nil), good...)
		bad[j] ^= 1 << (j % 8)
		require.NotPanics(t, func() {
			_, _, err := ReadRunState(write(bad))
			assert.Error(t, err, "flip at byte %d", j)
		})
	}

	// A checkpoint of the previous layout is named as such.
	old := strings.Replace(f.Metadata["mocogo"], checkpointFormat, "mocogo-mocov3-train/1", 1)
	oldMeta := map[string]string{"mocogo": old, "format": "pt"}
	require.NoError(t, nn.WriteSafetensors(filepath.Join(dir, "old.safetensors"), f.Tensors, oldMeta))
	_, _, err = ReadRunState(filepath.Join(dir, "old.safetensors"))
	assert.ErrorContains(t, err, `checkpoint format "mocogo-mocov3-train/1", this build reads "mocogo-mocov3-train/2"`)

	// Another architecture: restoring into a wider model is refused.
	wide := fixtureCfg
	wide.ViT.Dim = 32
	tr3 := tinyTrainer(t, wide)
	err = tr3.RestoreCheckpoint(f, st)
	assert.ErrorIs(t, err, ErrIncompatible)
	assert.ErrorContains(t, err, "Dim:16")
	// And a checkpoint whose metadata lies about its tensors is refused
	// before anything is built from it.
	st.Model.ViT.Dim = 1 << 20
	st.Model.ViT.Heads = 1
	meta, err := json.Marshal(st)
	require.NoError(t, err)
	f.Metadata["mocogo"] = string(meta)
	require.NoError(t, nn.WriteSealed(path, f.Tensors, f.Metadata))
	_, _, err = ReadRunState(path)
	assert.ErrorIs(t, err, ErrIncompatible)
	assert.ErrorContains(t, err, "its metadata describes ViT")
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

// TestNonFiniteStops: a NaN weight stops the step with ErrNonFinite
// naming the step, before the update.
func TestNonFiniteStops(t *testing.T) {
	tr := tinyTrainer(t, fixtureCfg)
	w := tr.Model.Base.Blocks[1].Attn.Proj.Weight
	v := w.Float64s()
	v[3] = math.Inf(1)
	w.SetFloat64s(v)
	n := 4 * 3 * 16 * 16
	x := make([]float32, n)
	st, err := tr.TrainStep(x, x, 4, 16, 1)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.ErrorContains(t, err, "step 3")
	assert.Equal(t, 2, tr.Step)
	assert.True(t, math.IsNaN(st.Loss) || math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0))
}

func TestStepStatsAndHealth(t *testing.T) {
	cfg := fixtureCfg
	cfg.ViT.TrainPatchEmbed = true
	tr := tinyTrainer(t, cfg)
	n := 4 * 3 * 16 * 16
	x := make([]float32, 2*n)
	for i := range x {
		x[i] = float32(math.Cos(float64(i) * 0.37))
	}
	st, err := tr.TrainStep(x[:n], x[n:], 4, 16, 0.5)
	require.NoError(t, err)
	require.NotNil(t, st.GradNormPatchEmbed)
	assert.Greater(t, *st.GradNormPatchEmbed, 0.0)
	assert.Greater(t, st.GradNorm, st.GradNormBlock0)
	assert.Greater(t, st.GradNorm, *st.GradNormPatchEmbed)
	assert.Equal(t, 1.0, st.LossScale)
	assert.Greater(t, st.ParamNorm, 0.0)
	frozen := tinyTrainer(t, fixtureCfg)
	st, err = frozen.TrainStep(x[:n], x[n:], 4, 16, 0.5)
	require.NoError(t, err)
	assert.Nil(t, st.GradNormPatchEmbed)
	assert.False(t, frozen.PatchEmbedTrains())

	h := NewHealth()
	h.Warmup = 3
	for i := 0; i < 5; i++ {
		assert.Empty(t, h.Observe(2, 1))
	}
	flags := h.Observe(2, 10)
	require.Len(t, flags, 1)
	assert.Contains(t, flags[0], "gradient-norm spike")
	flags = h.Observe(5, 1)
	require.Len(t, flags, 1)
	assert.Contains(t, flags[0], "loss rise")
	s := h.State()
	h2 := NewHealth()
	h2.Warmup = 3
	h2.SetState(s)
	assert.Equal(t, h.Observe(3, 2), h2.Observe(3, 2))
}

// TestGradNormsMatchHost: the norms summed on the backend and read back
// together with the loss equal the norms of the gradients and weights
// read back one by one.
func TestGradNormsMatchHost(t *testing.T) {
	cfg := fixtureCfg
	cfg.ViT.TrainPatchEmbed = true
	tr := tinyTrainer(t, cfg)
	e := tr.E
	n := 4 * 3 * 16 * 16
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.1))
	}
	loss := tr.Model.Loss(e.FromFloat32(x, 4, 3, 16, 16), e.FromFloat32(x, 4, 3, 16, 16), 0.99)
	tr.Opt.ZeroGrad()
	e.Backward(loss)
	got := tr.readBack(loss)
	var want [3]float64
	var weights float64
	for _, p := range tr.Opt.Params {
		for _, v := range p.Tensor.Float64s() {
			weights += v * v
		}
		g := p.Tensor.Grad()
		if g == nil {
			continue
		}
		var s float64
		for _, v := range g.Float64s() {
			s += v * v
		}
		want[0] += s
		if p.Tensor == tr.Model.Base.PatchW || p.Tensor == tr.Model.Base.PatchB {
			want[1] += s
		}
		if strings.HasPrefix(p.Name, "base_encoder.blocks.0.") {
			want[2] += s
		}
	}
	for k := range want {
		require.Positive(t, want[k], k)
		assert.InEpsilon(t, want[k], got[statGradAll+k], 1e-5, k)
	}
	assert.InEpsilon(t, weights, got[statWeights], 1e-5)
	assert.Equal(t, loss.Item(), got[statLoss])
	assert.InEpsilon(t, math.Sqrt(weights), tr.WeightNorm(), 1e-5)
	e.Reset()
}
