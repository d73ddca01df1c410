package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAutocastMatchesFloat64 runs every gradient case under autocast on
// the CPU's emulated half storage and compares forward and input
// gradients with the float64 reference: the errors are those of operands
// rounded to 11 (f16) or 8 (bf16) significant bits.
func TestAutocastMatchesFloat64(t *testing.T) {
	for _, dt := range []DType{F16, BF16} {
		tol := map[DType]float64{F16: 2e-2, BF16: 1e-1}[dt]
		for _, c := range gradCases() {
			t.Run(dt.String()+"/"+c.name, func(t *testing.T) {
				outs := map[bool][][]float64{}
				for _, amp := range []bool{false, true} {
					r := rand.New(rand.NewPCG(7, 7))
					be := F64
					if amp {
						be = F32
					}
					e := New(NewCPU(be))
					if amp {
						require.NoError(t, e.SetAutocast(dt))
					}
					ins, out, w := c.setup(e, r)
					e.Backward(Sum(Mul(out, w)))
					res := [][]float64{out.Float64s()}
					for _, in := range ins {
						require.Equal(t, in.DType(), in.Grad().DType(), "a gradient has its tensor's type")
						res = append(res, in.Grad().Float64s())
					}
					outs[amp] = res
				}
				for i := range outs[false] {
					t.Logf("result %d: relative error %.2g", i, relErrFloor(outs[true][i], outs[false][i], 1e-6))
					assert.Less(t, relErrFloor(outs[true][i], outs[false][i], 1e-6), tol, "%s: result %d (0 = forward, then input gradients)", c.name, i)
				}
			})
		}
	}
}

// TestAutocastTypes pins the type rules SetAutocast documents, and that
// autocast really rounds: a product of values that need more than 11
// significant bits differs from float32's.
func TestAutocastTypes(t *testing.T) {
	e := New(NewCPU(F32))
	require.NoError(t, e.SetAutocast(F16))
	assert.Equal(t, F16, e.Autocast())
	r := rand.New(rand.NewPCG(1, 2))
	rnd := func(shape ...int) []float32 {
		v := make([]float32, numel(shape))
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	x := e.FromFloat32(rnd(2, 5, 12), 2, 5, 12)
	w := e.Param("w", rnd(36, 12), 36, 12)
	bias := e.Param("b", rnd(36), 36)
	g := e.Param("g", rnd(12), 12)
	ln := LayerNorm(x, g, nil, 1e-6)
	assert.Equal(t, F16, ln.DType(), "LayerNorm feeds a GEMM")
	qkv := Linear(ln, w, bias)
	assert.Equal(t, F16, qkv.DType())
	att := Attention(qkv, 2)
	assert.Equal(t, F16, att.DType())
	act := GELU(att)
	assert.Equal(t, F16, act.DType(), "elementwise ops keep their type")
	res := Add(x, act)
	assert.Equal(t, F32, res.DType(), "half + float32 is float32")
	assert.Equal(t, F16, Reshape(act, 10, 12).DType())
	assert.Equal(t, F16, Slice(act, 1, 0, 1).DType())
	assert.Equal(t, F32, Concat(1, x, act).DType())
	sm := Softmax(act)
	assert.Equal(t, F32, sm.DType(), "softmax computes in float32")
	loss := Mean(Mul(sm, res))
	assert.Equal(t, F32, loss.DType())
	e.Backward(loss)
	for _, p := range []*Tensor{w, bias, g} {
		require.NotNil(t, p.Grad(), p.Name())
		assert.Equal(t, F32, p.Grad().DType(), "parameter gradients stay float32")
	}

	// Autocast off: the same Linear in float32 differs from the half one
	// by about the half's rounding, no more and not zero.
	y16 := Linear(x, w, bias).Data()
	require.NoError(t, e.SetAutocast(F32))
	y32 := Linear(x, w, bias).Data()
	var d, n float64
	for i := range y32 {
		d += math.Pow(float64(y16[i]-y32[i]), 2)
		n += math.Pow(float64(y32[i]), 2)
	}
	rel := math.Sqrt(d / n)
	assert.Greater(t, rel, 1e-5)
	assert.Less(t, rel, 3e-3)
}

func TestSetAutocastNeedsSupport(t *testing.T) {
	assert.Error(t, New(NewCPU(F64)).SetAutocast(F16))
	assert.NoError(t, New(NewCPU(F32)).SetAutocast(BF16))
	assert.NoError(t, New(NewCPU(F64)).SetAutocast(F32))
}

// TestHalfStorageHalvesMemory checks the allocator's accounting: the same
// activations in f16 hold half the bytes, and released half buffers are
// not handed out as float32 ones.
func TestHalfStorageHalvesMemory(t *testing.T) {
	c := NewCPU(F32)
	h := c.AllocAs(F16, 1000)
	assert.Equal(t, int64(2000), c.PeakBytes())
	c.Release(h)
	f := c.Alloc(1000)
	assert.Equal(t, F32, f.DType())
	assert.Equal(t, int64(6000), c.PeakBytes())
	assert.Same(t, h, c.AllocAs(F16, 1000), "a released f16 buffer is reused for f16")
}
