package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
)

const golden = "../testdata/golden/"

// goldenFile reads one of the files scripts/golden/vit.py wrote.
type goldenFile struct {
	t *testing.T
	f *SafeFile
}

func openGolden(t *testing.T, name string) goldenFile {
	f, err := ReadSafetensors(golden + name)
	require.NoError(t, err)
	return goldenFile{t, f}
}

func (g goldenFile) vec(name string) ([]float64, []int) {
	s, ok := g.f.Get(name)
	require.True(g.t, ok, "golden file lacks %s", name)
	v, err := s.Float64s()
	require.NoError(g.t, err)
	return v, s.Shape
}

// relErr is ‖got − want‖/‖want‖.
func relErr(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, n float64
	for i := range want {
		if math.IsNaN(got[i]) {
			return math.Inf(1)
		}
		d += (got[i] - want[i]) * (got[i] - want[i])
		n += want[i] * want[i]
	}
	return math.Sqrt(d) / math.Max(math.Sqrt(n), 1e-300)
}

var precisions = []struct {
	dt  engine.DType
	tol float64
}{{engine.F64, 1e-10}, {engine.F32, 1e-4}}

// TestViTGolden loads PyTorch's weights into our ViT (a strict load of a
// file another writer made), runs the same images and compares the cls
// features and the gradient of every trainable parameter of
// loss = Σ features ⊙ r.
func TestViTGolden(t *testing.T) {
	for _, tag := range []string{"p8d48", "p4d64"} {
		for _, pr := range precisions {
			t.Run(tag+"/"+pr.dt.String(), func(t *testing.T) {
				w, err := ReadSafetensors(golden + "vit_" + tag + ".safetensors")
				require.NoError(t, err)
				atoi := func(k string) int {
					var n int
					_, err := fmt.Sscan(w.Metadata[k], &n)
					require.NoError(t, err, "metadata %s", k)
					return n
				}
				cfg := Config{ImageSize: atoi("img"), PatchSize: atoi("patch"), Dim: atoi("dim"), Depth: atoi("depth"), Heads: atoi("heads"), TrainPatchEmbed: true}
				e := engine.New(engine.NewCPU(pr.dt))
				v, err := NewViT(e, cfg, NewRNG(1))
				require.NoError(t, err)
				rep, err := w.LoadInto(v.StateDict(), true)
				require.NoError(t, err)
				assert.True(t, rep.OK(), rep.String())

				g := openGolden(t, "vit_"+tag+"_out.safetensors")
				x, xs := g.vec("input")
				r, rs := g.vec("r")
				feat := v.Forward(e.FromFloat64(x, xs...))
				loss := engine.Sum(engine.Mul(feat, e.FromFloat64(r, rs...)))
				e.Backward(loss)

				want, _ := g.vec("features")
				errF := relErr(feat.Float64s(), want)
				t.Logf("features rel err %.3g", errF)
				assert.Less(t, errF, pr.tol, "features")
				worst := 0.0
				n := 0
				for _, p := range v.Parameters() {
					gw, ok := g.f.Get("grad." + p.Name)
					if !p.Tensor.RequiresGrad() {
						assert.False(t, ok, "%s is frozen here but has a torch gradient", p.Name)
						continue
					}
					require.True(t, ok, "no torch gradient for %s", p.Name)
					require.NotNil(t, p.Tensor.Grad(), "no gradient for %s", p.Name)
					wantG, _ := gw.Float64s()
					e := relErr(p.Tensor.Grad().Float64s(), wantG)
					assert.Less(t, e, pr.tol, "gradient of %s", p.Name)
					worst = max(worst, e)
					n++
				}
				t.Logf("%d parameter gradients, worst rel err %.3g", n, worst)
				assert.Equal(t, 4+12*cfg.Depth+2-1, n, "every parameter but pos_embed is compared")
			})
		}
	}
}

// TestFrozenPatchEmbedGetsNoGrad checks stop-grad-conv1: the default
// config freezes the patch projection, which then gets no gradient, while
// every other gradient is unchanged.
func TestFrozenPatchEmbedGetsNoGrad(t *testing.T) {
	w, err := ReadSafetensors(golden + "vit_p8d48.safetensors")
	require.NoError(t, err)
	g := openGolden(t, "vit_p8d48_out.safetensors")
	e := engine.New(engine.NewCPU(engine.F64))
	v, err := NewViT(e, Config{ImageSize: 32, PatchSize: 8, Dim: 48, Depth: 2, Heads: 3}, NewRNG(1))
	require.NoError(t, err)
	_, err = w.LoadInto(v.StateDict(), true)
	require.NoError(t, err)
	assert.False(t, v.PatchW.RequiresGrad())
	assert.False(t, v.PatchB.RequiresGrad())
	assert.False(t, v.PosEmbed.RequiresGrad())

	x, xs := g.vec("input")
	r, rs := g.vec("r")
	e.Backward(engine.Sum(engine.Mul(v.Forward(e.FromFloat64(x, xs...)), e.FromFloat64(r, rs...))))
	assert.Nil(t, v.PatchW.Grad())
	assert.Nil(t, v.PatchB.Grad())
	assert.Nil(t, v.PosEmbed.Grad())
	for _, p := range Trainable(v.Parameters()) {
		want, _ := g.vec("grad." + p.Name)
		assert.Less(t, relErr(p.Tensor.Grad().Float64s(), want), 1e-10, p.Name)
	}
	names := []string{}
	for _, p := range Trainable(v.Parameters()) {
		names = append(names, p.Name)
	}
	assert.NotContains(t, names, "patch_embed.proj.weight")
	assert.NotContains(t, names, "pos_embed")
}

// TestMLPGolden compares moco-v3's 3-layer projector (Linear → BN → ReLU
// twice, Linear → BN without affine) with PyTorch in training mode
// (output, gradients, running statistics after the step) and in eval
// mode (output, gradients through the running statistics).
func TestMLPGolden(t *testing.T) {
	g := openGolden(t, "mlp_head.safetensors")
	for _, pr := range precisions {
		t.Run(pr.dt.String(), func(t *testing.T) {
			e := engine.New(engine.NewCPU(pr.dt))
			m := BuildMLP(e, "", 3, 48, 64, 32, true, NewRNG(2))
			names := []string{}
			for _, p := range m.StateDict() {
				names = append(names, p.Name)
				want, shape := g.vec("w." + p.Name)
				require.Equal(t, shape, p.Tensor.Shape(), p.Name)
				p.Tensor.SetFloat64s(want)
			}
			assert.Equal(t, []string{"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
				"3.weight", "4.weight", "4.bias", "4.running_mean", "4.running_var",
				"6.weight", "7.running_mean", "7.running_var"}, names)
			x, xs := g.vec("input")
			r, rs := g.vec("r")
			y := m.Forward(e.FromFloat64(x, xs...))
			e.Backward(engine.Sum(engine.Mul(y, e.FromFloat64(r, rs...))))
			check := func(what string, got []float64, key string) {
				want, _ := g.vec(key)
				err := relErr(got, want)
				assert.Less(t, err, pr.tol, what)
			}
			check("train output", y.Float64s(), "train.output")
			for _, p := range m.Parameters() {
				check("train grad "+p.Name, p.Tensor.Grad().Float64s(), "train.grad."+p.Name)
			}
			for _, p := range m.StateDict() {
				if !p.Tensor.RequiresGrad() {
					check("running stat "+p.Name, p.Tensor.Float64s(), "train.after."+p.Name)
				}
			}
			e.Reset()
			for _, p := range m.Parameters() {
				p.Tensor.ZeroGrad()
			}

			m.Train(false)
			x2, x2s := g.vec("eval.input")
			xin := e.FromFloat64(x2, x2s...).SetRequiresGrad(true)
			y2 := m.Forward(xin)
			e.Backward(engine.Sum(engine.Mul(y2, e.FromFloat64(r[:5*32], 5, 32))))
			check("eval output", y2.Float64s(), "eval.output")
			check("eval input grad", xin.Grad().Float64s(), "eval.grad.input")
			for _, p := range m.Parameters() {
				check("eval grad "+p.Name, p.Tensor.Grad().Float64s(), "eval.grad."+p.Name)
			}
			// Without gradients eval mode takes the fused kernel.
			e.NoGrad(func() {
				check("eval output (no grad)", m.Forward(e.FromFloat64(x2, x2s...)).Float64s(), "eval.output")
			})
		})
	}
}

// TestSinCosPosEmbedMatchesTorch compares with mocov3.sincos_pos_embed,
// computed by torch in float32.
func TestSinCosPosEmbedMatchesTorch(t *testing.T) {
	g := openGolden(t, "pos_embed.safetensors")
	for _, gd := range [][2]int{{4, 48}, {8, 64}, {14, 384}} {
		want, shape := g.vec(fmt.Sprintf("%dx%d", gd[0], gd[1]))
		require.Equal(t, []int{1, 1 + gd[0]*gd[0], gd[1]}, shape)
		got := SinCosPosEmbed(gd[0], gd[1])
		exact, worst := 0, 0.0
		for i := range want {
			if float32(got[i]) == float32(want[i]) {
				exact++
			}
			worst = max(worst, math.Abs(got[i]-want[i]))
		}
		t.Logf("grid %d dim %d: %d of %d values bit-identical, worst abs diff %.3g", gd[0], gd[1], exact, len(want), worst)
		assert.LessOrEqual(t, worst, 2.5e-7, "within about an ulp of float32 at 1")
		for j := 0; j < gd[1]; j++ {
			assert.Zero(t, got[j], "cls slot is zero")
		}
	}
}
