package kernels

import (
	"math"

	"github.com/klauspost/cpuid/v2"
)

// useAVX2 selects the AVX2/FMA assembly paths. It is decided once at start;
// tests flip it to run the generic Go paths on the same machine.
var useAVX2 = haveAVX2Asm && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)

// useAVX512 selects the AVX-512 forms of the GELU, softmax-row and
// attention-tile loops, which give the AVX2 loops' bits twice as wide (and
// read row tails under a mask: AVX512VL). It is only consulted where
// useAVX2 is set.
var useAVX512 = haveAVX2Asm && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3, cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512VL)

// HasAVX2 reports whether the kernels run their AVX2/FMA assembly.
func HasAVX2() bool { return useAVX2 }

// elementwise ops are split over goroutines only past this many elements.
const vecGrain = 1 << 15

// Exp sets dst[i] = exp(src[i]) to within a few float32 ulps. Results
// above MaxFloat32 give +Inf; src < −87 (results below 1.65e-38, −Inf
// included) gives 0, never a subnormal; NaN gives NaN. dst and src may be the same slice.
func Exp(dst, src []float32) {
	checkSameLen("Exp", len(dst), len(src))
	parallelFor(len(src), vecGrain, func(lo, hi int) { expVec(dst[lo:hi], src[lo:hi]) })
}

// Erf sets dst[i] = erf(src[i]) with an absolute error below 2e-7 (and a
// relative error of a few ulps for |x| < 0.5). dst and src may alias.
func Erf(dst, src []float32) {
	checkSameLen("Erf", len(dst), len(src))
	parallelFor(len(src), vecGrain, func(lo, hi int) { erfVec(dst[lo:hi], src[lo:hi]) })
}

func expVec(dst, src []float32) {
	n := len(src)
	if !useAVX2 {
		for i, v := range src {
			dst[i] = expf(v)
		}
		return
	}
	n8 := n &^ 7
	if n8 > 0 {
		expAVX2(&dst[0], &src[0], n8)
	}
	if n8 < n {
		var buf [8]float32
		copy(buf[:], src[n8:])
		expAVX2(&buf[0], &buf[0], 8)
		copy(dst[n8:], buf[:n-n8])
	}
}

func erfVec(dst, src []float32) {
	n := len(src)
	if !useAVX2 {
		for i, v := range src {
			dst[i] = erff(v)
		}
		return
	}
	n8 := n &^ 7
	if n8 > 0 {
		erfAVX2(&dst[0], &src[0], n8)
	}
	if n8 < n {
		var buf [8]float32
		copy(buf[:], src[n8:])
		erfAVX2(&buf[0], &buf[0], 8)
		copy(dst[n8:], buf[:n-n8])
	}
}

func geluFwdVec(y, x []float32) {
	n := len(x)
	if !useAVX2 {
		for i, v := range x {
			y[i] = v * phif(v)
		}
		return
	}
	if n32 := n &^ 31; useAVX512 && n32 > 0 {
		geluFwdAVX512(&y[0], &x[0], n32)
		y, x, n = y[n32:], x[n32:], n-n32
	}
	n8 := n &^ 7
	if n8 > 0 {
		geluFwdAVX2(&y[0], &x[0], n8)
	}
	if n8 < n {
		var buf [8]float32
		copy(buf[:], x[n8:])
		geluFwdAVX2(&buf[0], &buf[0], 8)
		copy(y[n8:], buf[:n-n8])
	}
}

func geluBwdVec(dx, x, dy []float32) {
	n := len(x)
	if !useAVX2 {
		for i, v := range x {
			dx[i] = dy[i] * geluGradf(v)
		}
		return
	}
	if n32 := n &^ 31; useAVX512 && n32 > 0 {
		geluBwdAVX512(&dx[0], &x[0], &dy[0], n32)
		dx, x, dy, n = dx[n32:], x[n32:], dy[n32:], n-n32
	}
	n8 := n &^ 7
	if n8 > 0 {
		geluBwdAVX2(&dx[0], &x[0], &dy[0], n8)
	}
	if n8 < n {
		var bx, bdy [8]float32
		copy(bx[:], x[n8:])
		copy(bdy[:], dy[n8:])
		geluBwdAVX2(&bx[0], &bx[0], &bdy[0], 8)
		copy(dx[n8:], bx[:n-n8])
	}
}

// The scalar functions below follow the assembly step by step (without
// fused multiply-adds), so both paths agree to an ulp or two.

const (
	expHi    = 88.8
	expLo    = -87
	log2e    = 1.44269504088896341
	ln2Hi    = 0.693359375
	ln2Lo    = -2.12194440e-4
	erfClamp = 10.5
)

// expf is exp for float32: Cody–Waite reduction and the Cephes expf
// polynomial; see EXP in vecmath_amd64.h.
func expf(x float32) float32 {
	if x != x {
		return x
	}
	if x < expLo {
		return 0
	}
	x = min(x, expHi)
	n := float32(math.RoundToEven(float64(x * log2e)))
	r := x - n*ln2Hi
	r -= n * ln2Lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*(r*r) + r
	p += 1
	ni := int32(n)
	n1 := ni >> 1
	n2 := ni - n1
	p *= math.Float32frombits(uint32(n1+127) << 23)
	return p * math.Float32frombits(uint32(n2+127)<<23)
}

// erfcPos is erfc(a) for a >= 0 (clamped by the caller): Numerical
// Recipes' Chebyshev fit, fractional error < 1.2e-7.
func erfcPos(a float32) float32 {
	t := 1 / (1 + 0.5*a)
	p := float32(0.17087277)
	p = p*t - 0.82215223
	p = p*t + 1.48851587
	p = p*t - 1.13520398
	p = p*t + 0.27886807
	p = p*t - 0.18628806
	p = p*t + 0.09678418
	p = p*t + 0.37409196
	p = p*t + 1.00002368
	p = p*t - 1.26551223
	return t * expf(p-a*a)
}

// erfTaylor holds 2/√π·(−1)ⁿ/(n!(2n+1)), the odd series of erf.
var erfTaylor = [7]float32{
	1.1283791670955126, -0.37612638903183754, 0.11283791670955126, -0.026866170645131252,
	0.005223977625442188, -0.0008548327023450852, 0.00012055332981789664,
}

func erff(x float32) float32 {
	if x != x {
		return x
	}
	a := min(float32(math.Abs(float64(x))), erfClamp)
	var r float32
	if a < 0.5 {
		a2 := a * a
		p := erfTaylor[6]
		for i := 5; i >= 0; i-- {
			p = p*a2 + erfTaylor[i]
		}
		r = p * a
	} else {
		r = 1 - erfcPos(a)
	}
	if math.Signbit(float64(x)) {
		r = -r
	}
	return r
}

// phif is the standard normal CDF Φ(x) = erfc(−x/√2)/2.
func phif(x float32) float32 {
	a := x * (1 / math.Sqrt2)
	if a != a {
		return a
	}
	a = min(float32(math.Abs(float64(a))), erfClamp)
	h := 0.5 * erfcPos(a)
	if math.Signbit(float64(x)) {
		return h
	}
	return 1 - h
}

// geluGradf is GELU'(x) = Φ(x) + x·φ(x).
func geluGradf(x float32) float32 {
	a := x * (1 / math.Sqrt2)
	if a != a {
		return a
	}
	a = min(float32(math.Abs(float64(a))), erfClamp)
	pdf := float32(0.3989422804014327) * expf(-(a * a))
	return phif(x) + x*pdf
}
