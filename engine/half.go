package engine

import "github.com/mocogo/mocogo/kernels"

// Half-precision storage for the CPU backend's emulation of autocast, with
// the conversions of package kernels (round to nearest, ties to even, as
// the GPU's conversions do).

// f16Table holds the float32 value of every binary16 bit pattern: the
// emulation decodes with one load per element.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = kernels.F16ToF32(uint16(i))
	}
	return &t
}()

// RoundTo returns f rounded to the precision of dt (F16, BF16, or F32 and
// F64 unchanged): what storing f in a tensor of type dt keeps.
func RoundTo(dt DType, f float32) float32 {
	switch dt {
	case F16:
		return kernels.RoundF16(f)
	case BF16:
		return kernels.BF16ToF32(kernels.F32ToBF16(f))
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
		dst[i] = kernels.BF16ToF32(v)
	}
}

// encode rounds src into h.
func (h *cpuHalf) encode(src []float32) {
	if h.dt == F16 {
		for i, v := range src {
			h.d[i] = kernels.F32ToF16(v)
		}
		return
	}
	for i, v := range src {
		h.d[i] = kernels.F32ToBF16(v)
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
