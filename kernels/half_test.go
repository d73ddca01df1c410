package kernels

import (
	"math"
	"testing"
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
