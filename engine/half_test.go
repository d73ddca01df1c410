package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nearestHalf finds, by search over every finite value of the type, the
// one nearest to f with ties to an even bit pattern: the definition that
// F16Bits and BF16Bits implement with bit tricks.
func nearestHalf(f float32, decode func(uint16) float32) uint16 {
	best, bestD := uint16(0), math.Inf(1)
	for h := 0; h < 1<<16; h++ {
		v := decode(uint16(h))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		if math.Signbit(float64(v)) != math.Signbit(float64(f)) {
			continue
		}
		d := math.Abs(float64(v) - float64(f))
		if d < bestD || d == bestD && h&1 == 0 {
			best, bestD = uint16(h), d
		}
	}
	return best
}

func TestHalfRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name   string
		bits   func(float32) uint16
		decode func(uint16) float32
		maxExp float64
	}{
		{"f16", F16Bits, F16Float, 16},
		{"bf16", BF16Bits, BF16Float, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Every finite half converts to float32 and back unchanged.
			for h := 0; h < 1<<16; h++ {
				v := c.decode(uint16(h))
				if math.IsNaN(float64(v)) {
					assert.True(t, math.IsNaN(float64(c.decode(c.bits(v)))), "NaN %#04x", h)
					continue
				}
				require.Equal(t, uint16(h), c.bits(v), "%s %#04x = %g", c.name, h, v)
			}
			// Random values, midpoints (ties) and subnormals round to the
			// nearest, ties to even.
			var vals []float32
			for range 300 {
				vals = append(vals, float32(math.Ldexp(r.Float64()*2-1, r.IntN(int(2*c.maxExp))-int(c.maxExp))))
				h := uint16(r.IntN(0x7bff))
				mid := (float64(c.decode(h)) + float64(c.decode(h+1))) / 2
				vals = append(vals, float32(mid), -float32(mid))
			}
			for _, f := range vals {
				if math.Abs(float64(f)) > float64(c.decode(0x7bff)) && c.name == "f16" {
					continue
				}
				assert.Equal(t, nearestHalf(f, c.decode), c.bits(f), "%s(%g)", c.name, f)
			}
		})
	}
	// Past the largest half, and the special values.
	assert.Equal(t, uint16(0x7c00), F16Bits(70000))
	assert.Equal(t, uint16(0xfc00), F16Bits(float32(math.Inf(-1))))
	assert.Equal(t, uint16(0x7bff), F16Bits(65519))
	assert.Equal(t, uint16(0x7c00), F16Bits(65520)) // the tie rounds to even: Inf
	assert.True(t, math.IsNaN(float64(F16Float(F16Bits(float32(math.NaN()))))))
	assert.True(t, math.IsNaN(float64(BF16Float(BF16Bits(float32(math.NaN()))))))
	assert.Equal(t, float32(1)/(1<<24), F16Float(1))
}

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
