package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fusingCPU is the CPU backend with the optional fused products
// (ResidualGemm, GELUGradGemm) done exactly as their definitions say,
// counting the calls: LinearAdd's and FeedForward's paths through those
// interfaces are then checked here, on any machine, against a CPU backend
// without any fused product (plainCPU).
type fusingCPU struct {
	*CPU
	residual, geluGrad int
}

func (f *fusingCPU) GemmBiasResidual(transA, transB bool, m, n, k int, a, b, bias, r, c Storage) {
	f.residual++
	f.GemmBias(transA, transB, m, n, k, a, b, bias, c, false)
	f.Axpy(c, 1, r)
}

func (f *fusingCPU) GemmGELUGrad(transA, transB bool, m, n, k int, a, b, h, c Storage) {
	f.geluGrad++
	f.Gemm(transA, transB, 1, m, n, k, 1, a, 0, b, 0, 0, c, 0)
	f.UnaryBackward(OpGELU, c, h, c)
}

// plainCPU is the CPU backend with its optional extensions hidden, the
// fused products among them: the engine then takes its unfused paths.
type plainCPU struct{ Backend }

var (
	_ BiasGemm     = (*CPU)(nil)
	_ ResidualGemm = (*CPU)(nil)
	_ GELUGradGemm = (*CPU)(nil)
)

// TestFusedProductsMatch runs LinearAdd and FeedForward, with every input
// trainable and with some frozen, on the CPU backend without fused
// products, on fusingCPU and on the CPU backend itself (whose fused
// products apply their epilogues tile by tile): outputs and gradients must
// be the same bits, and fusingCPU's fused calls must have been made where a
// gradient needs them.
func TestFusedProductsMatch(t *testing.T) {
	shapes := [][]int{{3, 4}, {5, 4}, {5}, {4, 5}, {4}, {3, 4}, {4, 4}, {4}} // x, w1, b1, w2, b2, r, then LinearAdd's w, b
	run := func(b Backend, trainable []bool) (out []float32, grads [][]float32) {
		e := New(b)
		ins := keptInputs(e, rand.New(rand.NewPCG(8, 9)), shapes, trainable)
		y := FeedForward(ins[0], ins[1], ins[2], ins[3], ins[4], ins[5])
		z := LinearAdd(y, ins[6], ins[7], ins[0])
		e.Backward(Sum(Mul(z, z)))
		out = z.Data()
		for _, in := range ins {
			if g := in.Grad(); g != nil {
				grads = append(grads, g.Data())
			} else {
				grads = append(grads, nil)
			}
		}
		return out, grads
	}
	for _, trainable := range [][]bool{
		{true, true, true, true, true, true, true, true},
		{true, false, false, false, false, false, false, false},
		{false, false, false, true, true, false, true, false}, // nothing below the hidden layer: no GELU′ product
		{false, true, false, false, false, true, false, true},
	} {
		wantOut, wantGrads := run(plainCPU{NewCPU(F32)}, trainable)
		f := &fusingCPU{CPU: NewCPU(F32)}
		for name, b := range map[string]Backend{"definitions": f, "CPU": NewCPU(F32)} {
			gotOut, gotGrads := run(b, trainable)
			assert.Equal(t, wantOut, gotOut, "%s: output, %v trainable", name, trainable)
			require.Len(t, gotGrads, len(wantGrads))
			for i := range wantGrads {
				assert.Equal(t, wantGrads[i], gotGrads[i], "%s: gradient of input %d, %v trainable", name, i, trainable)
			}
		}
		assert.Positive(t, f.residual, "no GemmBiasResidual call, %v trainable", trainable)
		if trainable[0] || trainable[1] || trainable[2] {
			assert.Positive(t, f.geluGrad, "no GemmGELUGrad call, %v trainable", trainable)
		} else {
			assert.Zero(t, f.geluGrad, "a GemmGELUGrad call with nothing below the hidden layer trainable")
		}
	}
}
