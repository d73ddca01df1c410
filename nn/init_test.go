package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
)

func stats(x []float64) (mean, std, maxAbs float64) {
	for _, v := range x {
		mean += v
		maxAbs = max(maxAbs, math.Abs(v))
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x))), maxAbs
}

// checkUniform asserts x looks like U(−bound, bound): inside the bound,
// reaching close to it, with std bound/√3 and mean 0 (loose enough for a
// few thousand draws).
func checkUniform(t *testing.T, name string, x []float64, bound float64) {
	t.Helper()
	mean, std, maxAbs := stats(x)
	assert.LessOrEqual(t, maxAbs, bound, "%s: beyond the bound", name)
	assert.Greater(t, maxAbs, 0.98*bound, "%s: never near the bound", name)
	assert.InDelta(t, bound/math.Sqrt(3), std, 0.05*bound/math.Sqrt(3), "%s: std", name)
	assert.InDelta(t, 0, mean, 4*bound/math.Sqrt(3*float64(len(x))), "%s: mean", name)
}

func TestViTInitMatchesMoCoV3(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F64))
	cfg := Config{ImageSize: 32, PatchSize: 4, Dim: 192, Depth: 2, Heads: 3}
	v, err := NewViT(e, cfg, NewRNG(42))
	require.NoError(t, err)
	D := 192
	for _, p := range v.Parameters() {
		x := p.Tensor.Float64s()
		switch {
		case p.Name == "patch_embed.proj.weight":
			assert.Equal(t, []int{D, 3, 4, 4}, p.Tensor.Shape())
			checkUniform(t, p.Name, x, math.Sqrt(6/float64(3*4*4+D)))
		case p.Name == "cls_token":
			assert.Equal(t, []int{1, 1, D}, p.Tensor.Shape())
			mean, std, _ := stats(x)
			assert.InDelta(t, 1e-6, std, 0.2e-6, "cls_token std")
			assert.InDelta(t, 0, mean, 0.3e-6)
		case p.Name == "pos_embed":
			assert.Equal(t, []int{1, 1 + 64, D}, p.Tensor.Shape())
			assert.Equal(t, SinCosPosEmbed(8, D), x)
		case hasSuffix(p.Name, "qkv.weight"):
			assert.Equal(t, []int{3 * D, D}, p.Tensor.Shape())
			checkUniform(t, p.Name, x, math.Sqrt(6/float64(D+D))) // not √(6/(3D+D))
		case hasSuffix(p.Name, "proj.weight"):
			checkUniform(t, p.Name, x, math.Sqrt(6/float64(D+D)))
		case hasSuffix(p.Name, "fc1.weight"), hasSuffix(p.Name, "fc2.weight"):
			checkUniform(t, p.Name, x, math.Sqrt(6/float64(D+4*D)))
		case hasSuffix(p.Name, "norm1.weight"), hasSuffix(p.Name, "norm2.weight"), p.Name == "norm.weight":
			assert.Equal(t, Constant(D, 1), x, p.Name)
		case hasSuffix(p.Name, "bias"):
			assert.Equal(t, make([]float64, p.Tensor.Len()), x, "%s is zero", p.Name)
		default:
			t.Errorf("unexpected parameter %s", p.Name)
		}
	}
	assert.Equal(t, 1e-6, v.Norm.Eps)
	assert.Equal(t, 1e-6, v.Blocks[1].Norm2.Eps)
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

func TestViTParameterNamesAndOrder(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F32))
	v, err := NewViT(e, Config{ImageSize: 32, PatchSize: 8, Dim: 48, Depth: 2, Heads: 3}, NewRNG(1))
	require.NoError(t, err)
	var names []string
	for _, p := range v.Parameters() {
		names = append(names, p.Name)
		assert.Equal(t, p.Name, p.Tensor.Name(), "the tensor carries its key")
	}
	block := func(i int) []string {
		var out []string
		for _, s := range []string{"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
			"norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"} {
			out = append(out, fmt.Sprintf("blocks.%d.%s", i, s))
		}
		return out
	}
	want := append([]string{"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"}, block(0)...)
	want = append(append(want, block(1)...), "norm.weight", "norm.bias")
	assert.Equal(t, want, names)
	assert.Len(t, Trainable(v.Parameters()), len(want)-3, "pos_embed and the patch projection are frozen")
	assert.Equal(t, []int{1, 17, 48}, Lookup(v.Parameters(), "pos_embed").Shape())
	assert.Equal(t, []int{144, 48}, Lookup(v.Parameters(), "blocks.1.attn.qkv.weight").Shape())
	assert.Nil(t, Lookup(v.Parameters(), "head.weight"))
}

func TestSameSeedSameWeights(t *testing.T) {
	cfg := Config{ImageSize: 16, PatchSize: 4, Dim: 32, Depth: 2, Heads: 4}
	build := func(seed uint64) []Named {
		v, err := NewViT(engine.New(engine.NewCPU(engine.F32)), cfg, NewRNG(seed))
		require.NoError(t, err)
		return v.Parameters()
	}
	a, b, c := build(3), build(3), build(4)
	for i := range a {
		assert.Equal(t, a[i].Tensor.Data(), b[i].Tensor.Data(), a[i].Name)
	}
	assert.Equal(t, "blocks.0.attn.qkv.weight", a[6].Name)
	assert.NotEqual(t, a[6].Tensor.Data(), c[6].Tensor.Data(), "another seed, other weights")
}

func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		name              string
		dim, depth, heads int
	}{{"vit_tiny", 192, 12, 3}, {"vit_small", 384, 12, 12}, {"vit_base", 768, 12, 12}} {
		c, err := Preset(tc.name, 224, 16)
		require.NoError(t, err)
		assert.Equal(t, []int{tc.dim, tc.depth, tc.heads, 224, 16}, []int{c.Dim, c.Depth, c.Heads, c.ImageSize, c.PatchSize}, tc.name)
		require.NoError(t, c.Validate())
	}
	_, err := Preset("vit_huge", 224, 14)
	assert.ErrorContains(t, err, "vit_huge")

	// ViT-S/16 at 224 has 21,665,664 parameters (timm's 22,050,664 less
	// the 1000-class head), pos_embed included.
	e := engine.New(engine.NewCPU(engine.F32))
	v, err := NewViT(e, ViTSmall(224, 16), NewRNG(0))
	require.NoError(t, err)
	assert.Equal(t, 21665664, NumParams(v.Parameters()))
	assert.Equal(t, 21665664-384*3*256-384-197*384, NumParams(Trainable(v.Parameters())))
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{ImageSize: 30, PatchSize: 4, Dim: 48, Depth: 1, Heads: 3}, "not a multiple of patch size"},
		{Config{ImageSize: 32, PatchSize: 4, Dim: 48, Depth: 1, Heads: 5}, "not a multiple of heads"},
		{Config{ImageSize: 32, PatchSize: 4, Dim: 42, Depth: 1, Heads: 3}, "multiple of 4"},
		{Config{ImageSize: 32, PatchSize: 0, Dim: 48, Depth: 1, Heads: 3}, "positive"},
	} {
		_, err := NewViT(engine.New(engine.NewCPU(engine.F32)), tc.cfg, NewRNG(0))
		assert.ErrorContains(t, err, tc.want)
	}
}

func TestMLPInitAndModes(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F64))
	m := BuildMLP(e, "head", 3, 384, 512, 256, true, NewRNG(9))
	var names []string
	for _, p := range m.Parameters() {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"head.0.weight", "head.1.weight", "head.1.bias", "head.3.weight", "head.4.weight", "head.4.bias", "head.6.weight"}, names)
	checkUniform(t, "head.0.weight", m.Linears[0].Weight.Float64s(), 1/math.Sqrt(384))
	checkUniform(t, "head.3.weight", m.Linears[1].Weight.Float64s(), 1/math.Sqrt(512))
	for _, l := range m.Linears {
		assert.Nil(t, l.Bias)
	}
	assert.Nil(t, m.BNs[2].Weight, "the last BN has no affine")
	assert.Equal(t, Constant(512, 1), m.BNs[0].Weight.Float64s())
	assert.Equal(t, Constant(256, 1), m.BNs[2].State.Var.Float64s())

	pred := BuildMLP(e, "predictor", 2, 256, 512, 256, false, NewRNG(9))
	assert.Nil(t, pred.BNs[1], "last_bn=False ends on the Linear")
	assert.Len(t, pred.StateDict(), 2+2+2)

	assert.True(t, m.BNs[0].Training())
	m.Train(false)
	for _, bn := range m.BNs {
		assert.False(t, bn.Training())
	}
	// Eval mode without gradients leaves the running statistics alone.
	before := m.BNs[0].State.Mean.Float64s()
	e.NoGrad(func() { m.Forward(e.FromFloat64(Uniform(NewRNG(1), 4*384, 1), 4, 384)) })
	assert.Equal(t, before, m.BNs[0].State.Mean.Float64s())
}

func TestStateShapesMatchViT(t *testing.T) {
	e := engine.New(engine.NewCPU(engine.F32))
	cfg := Config{ImageSize: 16, PatchSize: 4, Dim: 16, Depth: 2, Heads: 2}
	v, err := NewViT(e, cfg, NewRNG(1))
	require.NoError(t, err)
	sd := v.StateDict()
	shapes := cfg.StateShapes()
	require.Len(t, shapes, len(sd))
	for i, n := range sd {
		assert.Equal(t, n.Name, shapes[i].Name)
		assert.Equal(t, n.Tensor.Shape(), shapes[i].Shape, n.Name)
	}
}
