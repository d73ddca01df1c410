package engine

import "math"

// Half-precision conversions for the CPU backend's emulation of autocast.
// Rounding is to nearest, ties to even, as the GPU's conversions do.

// F16Bits returns the IEEE binary16 nearest to f (ties to even); values
// beyond the largest finite half become ±Inf and NaN stays NaN.
func F16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): shift the full significand down.
		if e < -10 {
			return sign
		}
		m := man | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(h)
}

// F16Float returns the float32 value of the binary16 h.
func F16Float(h uint16) float32 { return f16Table[h] }

var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16Decode(uint16(i))
	}
	return &t
}()

func f16Decode(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		v := float32(man) / (1 << 24) // subnormal: man·2^-24
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// BF16Bits returns the bfloat16 nearest to f (ties to even); NaN stays NaN.
func BF16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BF16Float returns the float32 value of the bfloat16 h.
func BF16Float(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundTo returns f rounded to the precision of dt (F16, BF16, or F32 and
// F64 unchanged): what storing f in a tensor of type dt keeps.
func RoundTo(dt DType, f float32) float32 {
	switch dt {
	case F16:
		return F16Float(F16Bits(f))
	case BF16:
		return BF16Float(BF16Bits(f))
	}
	return f
}

// cpuHalf is CPU storage of a 16-bit float type.
type cpuHalf struct {
	d  []uint16
	dt DType
}

func (h *cpuHalf) Len() int     { return len(h.d) }
func (h *cpuHalf) DType() DType { return h.dt }

func isHalf(s Storage) bool { _, ok := s.(*cpuHalf); return ok }

func anyHalf(ss ...Storage) bool {
	for _, s := range ss {
		if isHalf(s) {
			return true
		}
	}
	return false
}

// decode writes h's values into dst as float32.
func (h *cpuHalf) decode(dst []float32) {
	if h.dt == F16 {
		for i, v := range h.d {
			dst[i] = f16Table[v]
		}
		return
	}
	for i, v := range h.d {
		dst[i] = BF16Float(v)
	}
}

// encode rounds src into h.
func (h *cpuHalf) encode(src []float32) {
	if h.dt == F16 {
		for i, v := range src {
			h.d[i] = F16Bits(v)
		}
		return
	}
	for i, v := range src {
		h.d[i] = BF16Bits(v)
	}
}

// widen replaces each half storage among *ps with a float32 copy, so that
// a float32 method can run on them, and returns the function that rounds
// the copies named by outs back into their half storages (restoring the
// pointers). It is the CPU's emulation of mixed precision: the values are
// those a GPU kernel that computes in float32 and stores halves produces.
func widen(ps ...*Storage) (narrow func(outs ...*Storage)) {
	orig := map[*Storage]*cpuHalf{}
	for _, p := range ps {
		if h, ok := (*p).(*cpuHalf); ok {
			w := make([]float32, len(h.d))
			h.decode(w)
			orig[p] = h
			*p = &cpuBuf[float32]{d: w}
		}
	}
	return func(outs ...*Storage) {
		for _, p := range outs {
			if h, ok := orig[p]; ok {
				h.encode(f32(*p))
			}
		}
		for p, h := range orig {
			*p = h
		}
	}
}

// HalfTypes implements MixedPrecision: a float32 CPU backend emulates
// F16 and BF16 storage; a float64 one has none.
func (c *CPU) HalfTypes() []DType {
	if c.dtype != F32 {
		return nil
	}
	return []DType{F16, BF16}
}

// AllocAs implements MixedPrecision.
func (c *CPU) AllocAs(dt DType, n int) Storage {
	if dt == c.dtype {
		return c.Alloc(n)
	}
	if c.dtype != F32 || dt != F16 && dt != BF16 {
		panic("engine.CPU.AllocAs: a " + c.Name() + " backend has no " + dt.String() + " storage")
	}
	key := allocKey{dt, n}
	if l := c.free[key]; len(l) > 0 {
		s := l[len(l)-1]
		c.free[key] = l[:len(l)-1]
		return s
	}
	c.held += int64(n * dt.Size())
	c.peak = max(c.peak, c.held)
	return &cpuHalf{d: make([]uint16, n), dt: dt}
}
