package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestF16RoundTrip(t *testing.T) {
	// Every finite half converts to float32 and back unchanged.
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f {
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, got)
		}
	}
}

func TestF32ToF16Rounding(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00}, {5.960464477539063e-08, 0x0001}, {2.98e-08, 0x0000},
		{2.99e-08, 0x0001}, {6.097555160522461e-05, 0x03ff}, {6.103515625e-05, 0x0400},
		{1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02}, {1 + 1.5/1024 + 1e-7, 0x3c02},
		{0.1, 0x2e66}, {-0.0, 0x0000},
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if F16ToF32(F32ToF16(float32(math.NaN()))) == F16ToF32(F32ToF16(float32(math.NaN()))) {
		t.Error("NaN did not stay NaN")
	}
}

// nearestHalf finds, by search over every finite value of the type, the
// one nearest to f with ties to an even bit pattern: the definition that
// F32ToF16 and F32ToBF16 implement with bit tricks.
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

func TestHalfRoundingIsNearest(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name   string
		bits   func(float32) uint16
		decode func(uint16) float32
		maxExp float64
	}{
		{"f16", F32ToF16, F16ToF32, 16},
		{"bf16", F32ToBF16, BF16ToF32, 100},
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
	assert.Equal(t, uint16(0x7c00), F32ToF16(70000))
	assert.Equal(t, uint16(0xfc00), F32ToF16(float32(math.Inf(-1))))
	assert.Equal(t, uint16(0x7bff), F32ToF16(65519))
	assert.Equal(t, uint16(0x7c00), F32ToF16(65520)) // the tie rounds to even: Inf
	assert.True(t, math.IsNaN(float64(F16ToF32(F32ToF16(float32(math.NaN()))))))
	assert.True(t, math.IsNaN(float64(BF16ToF32(F32ToBF16(float32(math.NaN()))))))
	assert.Equal(t, float32(1)/(1<<24), F16ToF32(1))
}
