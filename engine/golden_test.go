package engine

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoldenChain runs one transformer block, a BatchNorm head and the
// contrastive loss, and compares the loss and every gradient with PyTorch
// (vectors from scripts/golden/engine_chain.py, in float64).
func TestGoldenChain(t *testing.T) {
	raw, err := os.ReadFile("../testdata/golden/engine_chain.json")
	require.NoError(t, err)
	var g map[string]any
	require.NoError(t, json.Unmarshal(raw, &g))
	vec := func(name string) []float64 {
		v, ok := g[name].([]any)
		require.True(t, ok, "golden file lacks %s", name)
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = x.(float64)
		}
		return out
	}
	dims := g["dims"].(map[string]any)
	dim := func(n string) int { return int(dims[n].(float64)) }
	B, N, D, H, HID, OUT := dim("B"), dim("N"), dim("D"), dim("H"), dim("HID"), dim("OUT")
	T := dims["T"].(float64)

	for _, tc := range []struct {
		dt  DType
		tol float64
	}{{F64, 1e-10}, {F32, 1e-4}} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			e := New(NewCPU(tc.dt))
			p := map[string]*Tensor{}
			param := func(name string, shape ...int) *Tensor {
				p[name] = e.FromFloat64(vec(name), shape...).Keep().SetRequiresGrad(true)
				return p[name]
			}
			x := param("x", B, N, D)
			ln1w, ln1b := param("ln1.w", D), param("ln1.b", D)
			qkvw, qkvb := param("qkv.w", 3*D, D), param("qkv.b", 3*D)
			projw, projb := param("proj.w", D, D), param("proj.b", D)
			ln2w, ln2b := param("ln2.w", D), param("ln2.b", D)
			fc1w, fc1b := param("fc1.w", HID, D), param("fc1.b", HID)
			fc2w, fc2b := param("fc2.w", D, HID), param("fc2.b", D)
			headw, bnw, bnb := param("head.w", OUT, D), param("bn.w", OUT), param("bn.b", OUT)
			k := e.FromFloat64(vec("k"), B, OUT)

			linear := func(x, w, b *Tensor) *Tensor {
				y := MatMul(x, w, false, true)
				if b != nil {
					y = Add(y, b)
				}
				return y
			}
			h := LayerNorm(x, ln1w, ln1b, 1e-6)
			a := Attention(linear(h, qkvw, qkvb), H)
			y := Add(x, linear(a, projw, projb))
			h = LayerNorm(y, ln2w, ln2b, 1e-6)
			y = Add(y, linear(GELU(linear(h, fc1w, fc1b)), fc2w, fc2b))
			cls := Reshape(Slice(y, 1, 0, 1), B, D)
			z := ReLU(BatchNorm1d(linear(cls, headw, nil), bnw, bnb, nil, true, 1e-5))
			logits := Scale(MatMul(L2Normalize(z, 1e-12), L2Normalize(k, 1e-12), false, true), 1/T)
			labels := []int32{0, 1, 2, 3}
			loss := Scale(CrossEntropy(logits, labels), 2*T)
			e.Backward(loss)

			assert.InDelta(t, g["loss"].(float64), loss.Item(), tc.tol*10)
			for name, tensor := range p {
				want := vec("grad." + name)
				got := tensor.Grad().Float64s()
				// fc2.b's true gradient is zero (batch norm removes a
				// shift shared by the batch): an absolute floor.
				assert.Less(t, relErrFloor(got, want, tc.tol*1e-2), tc.tol, "gradient of %s: got %v want %v", name, head(got), head(want))
			}
		})
	}
}
