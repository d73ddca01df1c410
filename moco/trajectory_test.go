package moco

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mocogo/mocogo/engine"
	"github.com/mocogo/mocogo/nn"
)

// TestTrainingMatchesPyTorch runs six iterations of the Trainer from the
// state scripts/golden/moco_train.py started from, on its views, and
// checks each iteration's learning rate, momentum and loss, and the whole
// state after the last update (both encoders, heads, predictor, BN running
// statistics), against main_moco.py's loop in PyTorch. TestStepMatchesPyTorch
// pins one forward and backward; this pins what runs around them: the
// schedules at the fractional epoch, the momentum update before the keys,
// AdamW's weight decay on every trainable tensor and its per-parameter
// step counts, the frozen patch projection.
func TestTrainingMatchesPyTorch(t *testing.T) {
	f, get := readGolden(t, "moco_train.safetensors")
	meta := func(key string) float64 {
		v, err := strconv.ParseFloat(f.Metadata[key], 64)
		require.NoError(t, err, "metadata %s", key)
		return v
	}
	atoi := func(key string) int { return int(meta(key)) }
	initial, final := withPrefix(f, "init."), withPrefix(f, "final.")
	require.NotEmpty(t, initial.Tensors)

	cfg := Config{
		ViT:    nn.Config{ImageSize: atoi("img"), PatchSize: atoi("patch"), Dim: atoi("dim"), Depth: atoi("depth"), Heads: atoi("heads")},
		MLPDim: atoi("mlp_dim"), OutDim: atoi("out_dim"), Temperature: meta("T"),
	}
	recipe := TrainConfig{
		Epochs: atoi("epochs"), BatchSize: atoi("batch"), BaseLR: meta("base_lr"),
		WarmupEpochs: meta("warmup_epochs"), WeightDecay: meta("weight_decay"), MomentumBase: meta("moco_m"),
	}
	iters := atoi("iters_per_epoch")
	wantLR, wantM, wantLoss := get("lr"), get("m"), get("loss")
	require.Len(t, wantLoss, recipe.Epochs*iters)
	// Adam divides each gradient by its own root mean square, so an
	// element whose true gradient is zero follows its rounding noise: the
	// final norm's bias (the projector's BN removes any shift of the
	// feature) and the key third of each qkv bias (softmax ignores a shift
	// of a query's scores), in both encoders. In float32 that noise moves
	// such an element by up to the learning rate a step, so there they are
	// held to the sum of the learning rates; in float64 eps (1e-8) keeps
	// the noise's updates far below it.
	var drift float64
	for _, lr := range wantLR {
		drift += lr
	}

	for _, tc := range []struct {
		dt engine.DType
		// tolLoss bounds each iteration's loss error, tolState the
		// relative error of each tensor after the last update, beyond
		// floor for each element. In float32 the trajectory parts from
		// float64's by about 1% of a tensor in six steps: Adam's
		// normalisation lets rounding flip the sign of small gradients'
		// updates, each worth the learning rate. That run checks the
		// fast kernels train at all; float64 checks the loop exactly.
		// tolNoGrad bounds the absolute error of the elements with no
		// true gradient (noGradientPart).
		tolLoss, tolState, floor, tolNoGrad float64
	}{{engine.F64, 1e-9, 1e-8, 1e-12, 1e-8}, {engine.F32, 5e-3, 5e-2, 1e-6, drift}} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			e := engine.New(engine.NewCPU(tc.dt))
			m, err := New(e, cfg, nn.NewRNG(1))
			require.NoError(t, err)
			_, err = initial.LoadInto(m.StateDict(), true)
			require.NoError(t, err)
			tr, err := NewTrainer(e, m, recipe, iters)
			require.NoError(t, err)

			n, size := recipe.BatchSize, cfg.ViT.ImageSize
			s := 0
			for epoch := range recipe.Epochs {
				for i := range iters {
					x1 := e.FromFloat64(get(fmt.Sprintf("x1.%d", s)), n, 3, size, size)
					x2 := e.FromFloat64(get(fmt.Sprintf("x2.%d", s)), n, 3, size, size)
					st, err := tr.TrainStepOn(x1, x2, tr.EpochAt(epoch, i))
					require.NoError(t, err)
					require.InDelta(t, wantLR[s], st.LR, 1e-15, "learning rate of iteration %d", s)
					require.InDelta(t, wantM[s], st.Momentum, 1e-15, "momentum of iteration %d", s)
					require.InDelta(t, wantLoss[s], st.Loss, tc.tolLoss, "loss of iteration %d", s)
					s++
				}
			}

			checked := 0
			for _, p := range m.StateDict() {
				want, ok := final.Get(p.Name)
				require.True(t, ok, "golden file lacks final.%s", p.Name)
				w, err := want.Float64s()
				require.NoError(t, err)
				got := p.Tensor.Float64s()
				if lo, hi, ok := noGradientPart(p.Name, cfg.ViT.Dim); ok {
					for i := lo; i < hi; i++ {
						require.InDelta(t, w[i], got[i], tc.tolNoGrad, "%s[%d] after %d iterations", p.Name, i, s)
					}
					got = append(got[:lo:lo], got[hi:]...)
					w = append(w[:lo:lo], w[hi:]...)
				}
				// The floor: the predictor's first BN sees zero-mean input
				// (the projector ends in BN), so its running mean stays
				// near zero.
				require.Less(t, relErrFloor(got, w, tc.floor), tc.tolState, "%s after %d iterations", p.Name, s)
				checked++
			}
			require.Equal(t, len(final.Tensors), checked, "every tensor of the final state was compared")
		})
	}
}

// TestTrainingGoldenMoves checks that the golden trajectory is worth
// matching: the learning rate starts at 0, peaks and falls, the momentum
// rises, and the trained weights end far from where they began (a recipe
// too gentle to move them would let a broken update pass).
func TestTrainingGoldenMoves(t *testing.T) {
	_, vals := readGolden(t, "moco_train.safetensors")
	lr, m := vals("lr"), vals("m")
	require.Zero(t, lr[0])
	require.Greater(t, lr[3], lr[2])
	require.Less(t, lr[5], lr[4])
	for i := 1; i < len(m); i++ {
		require.Greater(t, m[i], m[i-1])
	}
	name := "base_encoder.blocks.0.attn.qkv.weight"
	a, b := vals("init."+name), vals("final."+name)
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += a[i] * a[i]
	}
	require.Greater(t, math.Sqrt(d/n), 1e-2, "%s moved too little to tell a right update from a wrong one", name)
	patch := "base_encoder.patch_embed.proj.weight"
	require.Equal(t, vals("init."+patch), vals("final."+patch), "the patch projection is frozen (stop-grad-conv1)")
}

// noGradientPart returns the elements [lo, hi) of a MoCo v3 tensor whose
// true gradient is zero: all of each encoder's final norm bias, and the key
// third of every qkv bias.
func noGradientPart(name string, dim int) (lo, hi int, ok bool) {
	switch {
	case strings.HasSuffix(name, "_encoder.norm.bias"):
		return 0, dim, true
	case strings.HasSuffix(name, ".attn.qkv.bias"):
		return dim, 2 * dim, true
	}
	return 0, 0, false
}

// readGolden reads testdata/golden/name and returns it with a getter of
// its tensors as float64 that fails the test for a missing one.
func readGolden(t *testing.T, name string) (*nn.SafeFile, func(tensor string) []float64) {
	t.Helper()
	f, err := nn.ReadSafetensors("../testdata/golden/" + name)
	require.NoError(t, err)
	return f, func(tensor string) []float64 {
		st, ok := f.Get(tensor)
		require.True(t, ok, "%s lacks %s", name, tensor)
		v, err := st.Float64s()
		require.NoError(t, err)
		return v
	}
}

// withPrefix returns the tensors of f whose names start with p, under
// their names without it.
func withPrefix(f *nn.SafeFile, p string) *nn.SafeFile {
	out := &nn.SafeFile{Metadata: f.Metadata}
	for _, st := range f.Tensors {
		if name, ok := strings.CutPrefix(st.Name, p); ok {
			st.Name = name
			out.Tensors = append(out.Tensors, st)
		}
	}
	return out
}
